/*
 * cmd_db: `anketa init` (create or migrate the database) and `anketa demo` (the
 * demonstration region and its links).
 */
#include "arena.h"
#include "cli.h"
#include "demo.h"
#include "err.h"
#include "store.h"
#include "survey.h"

#include <getopt.h>
#include <stdio.h>

static const char init_usage[] = "usage: anketa init [--db PATH]\n"
                                 "Creates the database, or brings its schema up to date.\n";

int cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = "var/anketa.db";
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'h': fputs(init_usage, stdout); return 0;
        default: fputs(init_usage, stderr); return 2;
        }
    }
    struct err e = {0};
    struct store *st;
    struct store_options opt = {.migrate = 1};
    if (store_open(db, &opt, &st, &e) < 0) {
        cli_print_err("init", &e);
        return 1;
    }
    printf("anketa init: %s is at schema version %d\n", db, store_schema_version(st));
    store_close(st);
    return 0;
}

static const char demo_usage[] =
    "usage: anketa demo [--db PATH] [--surveys DIR] [--samples DIR]\n"
    "Adds the demonstration region (once) and prints, per questionnaire, the token of an\n"
    "unanswered and of an answered invitation:  <survey> unanswered|answered <token>\n"
    "Then gives each demo staff account a new random password and prints it:\n"
    "  staff <login> <password> <role> <organisation or ->\n"
    "and the school years it has data for:  period <code>\n"
    "  --samples DIR  the sample CSV files and demo.json (default docs/samples)\n";

static int db_print_links(struct store *st, const struct survey_set *set, struct err *e)
{
    for (size_t i = 0; i < set->n; i++) {
        for (int answered = 0; answered <= 1; answered++) {
            struct invitation inv;
            struct arena *a = arena_new();
            if (!a)
                return err_set(e, "", 0, 0, "out of memory");
            int rc = store_first_invitation(st, a, set->items[i]->id, answered, &inv, e);
            if (rc == STORE_OK)
                printf("%s %s %s\n", set->items[i]->id, answered ? "answered" : "unanswered",
                       inv.token);
            arena_free(a);
            if (rc == STORE_ERROR)
                return -1;
        }
    }
    return 0;
}

static int db_demo_and_links(struct store *st, const struct survey_set *set, const char *samples,
                             int *created, struct err_list *errs, struct err *e)
{
    if (demo_seed(st, set, samples, created, errs) < 0)
        return err_set(e, samples, 0, 0, "the demo data could not be built");
    if (db_print_links(st, set, e) < 0)
        return -1;
    struct arena *a = arena_new();
    struct demo_login *logins;
    size_t n;
    if (!a || demo_staff(st, samples, a, &logins, &n, errs) < 0) {
        arena_free(a);
        return err_set(e, samples, 0, 0, "the demo's staff accounts could not be made");
    }
    for (size_t i = 0; i < n; i++)
        printf("staff %s %s %s %s\n", logins[i].login, logins[i].password, logins[i].role,
               logins[i].org_code ? logins[i].org_code : "-");
    arena_free(a);
    char periods[16][8];
    if (demo_periods(samples, periods, 16, &n, errs) < 0)
        return err_set(e, samples, 0, 0, "demo.json names no school year");
    for (size_t i = 0; i < n; i++)
        printf("period %s\n", periods[i]);
    return 0;
}

int cmd_demo(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"surveys", required_argument, NULL, 'S'},
        {"samples", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = "var/anketa.db", *surveys = "surveys", *samples = "docs/samples";
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'S': surveys = optarg; break;
        case 'D': samples = optarg; break;
        case 'h': fputs(demo_usage, stdout); return 0;
        default: fputs(demo_usage, stderr); return 2;
        }
    }
    struct err e = {0};
    struct err_list errs = {0};
    struct survey_set set;
    struct store *st = NULL;
    struct store_options opt = {.migrate = 1};
    int created = 0;
    if (survey_set_load_dir(surveys, &set, &e) < 0) {
        cli_print_err("demo", &e);
        return 1;
    }
    int rc = 0;
    if (store_open(db, &opt, &st, &e) < 0 ||
        db_demo_and_links(st, &set, samples, &created, &errs, &e) < 0) {
        rc = 1;
        cli_print_err("demo", &e);
    }
    for (size_t i = 0; i < errs.n; i++)
        cli_print_err("demo", &errs.items[i]);
    if (!rc)
        fprintf(stderr, "anketa demo: %s\n",
                created ? "demo data created" : "demo data already present");
    err_list_free(&errs);
    store_close(st);
    survey_set_free(&set);
    return rc;
}
