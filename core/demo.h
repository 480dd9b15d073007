/*
 * demo: the demonstration data `make run` starts with, built the way a region would build
 * its own: the sample CSV files of docs/samples imported (organisations, programmes,
 * participants, pairs, reference figures), then generated cohorts of every programme for
 * the sample year and the years before it (demo.json), each year's campaigns opened, answered
 * by most participants and, for past years, closed, so that trends, growth and every staff
 * page have something to show. Drawn from a fixed seed: every fresh demo looks the same.
 */
#ifndef ANKETA_DEMO_H
#define ANKETA_DEMO_H

#include <stddef.h>

struct arena;
struct err;
struct err_list;
struct store;
struct survey_set;

/*
 * Builds the demo from dir (docs/samples) unless its campaigns exist already, so a second
 * run adds nothing. Sets *created to whether anything was written. Import problems are
 * listed in errs.
 */
int demo_seed(struct store *st, const struct survey_set *surveys, const char *dir, int *created,
              struct err_list *errs);

/* A staff account of the demo and its password (shown once, to whoever runs the demo). */
struct demo_login {
    const char *login;
    const char *password;
    const char *role;
    const char *org_code; /* NULL for the administrator */
};

/*
 * Creates the demo's staff accounts (demo.json "staff"), or gives those that exist a new
 * password: fresh random ones at every run, so a demo left reachable has no known password.
 * The list and its strings are in a.
 */
int demo_staff(struct store *st, const char *dir, struct arena *a, struct demo_login **out,
               size_t *n, struct err_list *errs);

/* The school years the demo has data for, oldest first ("2023/24" ... "2026/27"), at most
 * max of them. */
int demo_periods(const char *dir, char codes[][8], size_t max, size_t *n, struct err_list *errs);

#endif
