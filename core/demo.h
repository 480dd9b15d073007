/*
 * demo: the demonstration data `make run` starts with: a region with municipalities,
 * schools, programmes, participants with invitations, some of them answered. The data is
 * described in docs/samples/demo.json; answers are drawn from a fixed seed, so every
 * run of a fresh demo looks the same.
 */
#ifndef ANKETA_DEMO_H
#define ANKETA_DEMO_H

struct err;
struct store;
struct survey_set;

/*
 * Fills the database from the description file unless its region is already there
 * (so a second run adds nothing). Sets *created to whether anything was written.
 */
int demo_seed(struct store *st, const struct survey_set *surveys, const char *path, int *created,
              struct err *e);

#endif
