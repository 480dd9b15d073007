/*
 * indicator: a region's efficiency indicators, written in Lua by its methodologists
 * (docs/indicators.md). A region is a directory, lua/regions/<code>/: one indicator per
 * *.lua file, region.lua (the root organisation and the parameters scripts read as
 * ctx.params), targets files, and *_test.lua tests; lua/lib/ is the library they require.
 *
 * The set of files is loaded once and kept current by indicator_reload_if_changed(): a file
 * that no longer loads keeps its last good version active and reports why. A run computes
 * every indicator of the set for the organisations of a subtree and a period, each
 * indicator in a fresh sandboxed Lua state (lua_sandbox.h), rolls the values up the
 * hierarchy (sums of numerators and denominators, weighted means of scores), compares them
 * with the targets of the period's school year, and stores them with a record of the run.
 * indicator_job_start() does the same in a child process bounded by RLIMIT_CPU and
 * RLIMIT_AS, so that not even a stall inside C can hang the caller.
 */
#ifndef ANKETA_INDICATOR_H
#define ANKETA_INDICATOR_H

#include "lua_sandbox.h"

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

struct err;
struct err_list;
struct store;

enum indicator_unit {
    INDICATOR_PERCENT, /* num / den * 100 */
    INDICATOR_RATIO,   /* num / den */
    INDICATOR_COUNT,   /* value; rolls up as a sum */
    INDICATOR_SCORE,   /* value of n; rolls up as the mean weighted by n */
};

enum indicator_rollup {
    INDICATOR_ROLLUP_SUM,       /* computed per organisation, summed up the tree */
    INDICATOR_ROLLUP_RECOMPUTE, /* computed at every level over its subtree */
};

struct indicator_target {
    int year; /* the school year starting then: 2020 is 2020/21 */
    double value;
};

/* An indicator as its file last loaded successfully. Valid until the next reload. */
struct indicator_def {
    char *id;
    char *title_ru;
    char *title_en; /* NULL when not given */
    enum indicator_unit unit;
    char period; /* the periods it is computed for: 'Y' year, 'H' half, 'Q' quarter */
    enum indicator_rollup rollup;
    struct indicator_target *targets; /* by year */
    size_t ntargets;
    char *path;
    char hash[65]; /* SHA-256 of the file */
    char *source;
    size_t len;
};

struct indicator_set;

/*
 * Loads the region in region_dir with the library in lib_dir. Fails only when a directory
 * cannot be read: problems of single files are kept in the set (indicator_set_problems).
 */
int indicator_set_load(const char *region_dir, const char *lib_dir, struct indicator_set **out,
                       struct err *e);
void indicator_set_free(struct indicator_set *set);

/*
 * Re-reads the files that changed since the last load (by mtime, size and inode, then by
 * content hash), adds new ones and drops deleted ones. *changed counts the files whose
 * content changed. A file that fails to load keeps its last good version active.
 */
int indicator_reload_if_changed(struct indicator_set *set, int *changed, struct err *e);

/* Appends every current problem of the set's files (FILE:LINE: message) to out. */
size_t indicator_set_problems(const struct indicator_set *set, struct err_list *out);

/* The active indicators, ordered by file name. */
size_t indicator_set_count(const struct indicator_set *set);
const struct indicator_def *indicator_set_get(const struct indicator_set *set, size_t i);

const char *indicator_set_region(const struct indicator_set *set); /* the directory's name */
const char *indicator_set_root(const struct indicator_set *set);   /* region.lua's org */
const char *indicator_set_hash(const struct indicator_set *set);   /* over every active file */

/* The target of the year, if the indicator has one. */
int indicator_target(const struct indicator_def *d, int year, double *out);

struct indicator_run_options {
    const char *period;           /* 2026/27, 2026/27-H1, 2026/27-Q3 */
    const char *org;              /* the root of the run; NULL: the region's */
    int explain;                  /* keep what every accessor returned, per organisation */
    struct sandbox_limits limits; /* per indicator; zero fields: the sandbox defaults */
};

enum indicator_state {
    INDICATOR_NONE,    /* no data: compute returned nil, or nothing below had data */
    INDICATOR_OK,      /* computed */
    INDICATOR_FAILED,  /* error holds why */
    INDICATOR_SKIPPED, /* the indicator is not computed for this kind of period */
};

/* One part of a breakdown (a form of mentoring, an age band...). */
struct indicator_part {
    char *key;
    int has_num;
    double num, den;
    int has_value;
    double value;
    int has_n;
    double n;
};

/* An indicator's value at one organisation. */
struct indicator_value {
    enum indicator_state state;
    int has_num;
    double num, den;
    int has_value; /* a percent or ratio with den 0 has num and den, and no value */
    double value;
    int has_n;
    double n;
    char *error;
    struct indicator_part *parts;
    size_t nparts;
    char *explain; /* with explain: one line per accessor call, print() output, roll-ups */
};

struct ind_node;

struct indicator_report {
    char *region;
    char *period;
    int year;               /* the school year of the period, for targets */
    struct ind_node *nodes; /* the subtree, parents before children */
    size_t nnodes;
    const struct indicator_def **defs; /* valid until the set is reloaded */
    size_t ndefs;
    struct indicator_value *values; /* values[d * nnodes + k] */
    long duration_ms;
    size_t memory_peak; /* the largest Lua heap of an indicator, bytes */
    long failures;      /* indicators with at least one failed organisation */
    char hash[65];
    char started_at[24];
    struct arena *arena;
};

/* Computes every indicator of the set (computing nothing stored: see indicator_report_store). */
int indicator_run(struct indicator_set *set, struct store *st,
                  const struct indicator_run_options *opt, struct indicator_report **out,
                  struct err *e);

/* Stores the values and a record of the run, in one transaction. */
int indicator_report_store(struct store *st, const struct indicator_report *r, struct err *e);

/* Prints a table per indicator: num, den, value and target for each organisation. */
void indicator_report_print(FILE *f, const struct indicator_report *r, int explain);

void indicator_report_free(struct indicator_report *r);

/* A run in a child process: computed, stored and (when print is set) printed there. */
struct indicator_job {
    const char *db; /* the child opens its own connection */
    struct indicator_run_options run;
    FILE *print;        /* NULL: print nothing */
    long cpu_seconds;   /* RLIMIT_CPU of the child; 0: 60 */
    size_t max_address; /* RLIMIT_AS of the child, bytes; 0: 2 GB */
};

struct indicator_child {
    pid_t pid;
    int fd; /* readable at EOF when the child has finished: poll it, then indicator_job_wait */
};

int indicator_job_start(struct indicator_set *set, const struct indicator_job *job,
                        struct indicator_child *child, struct err *e);

/*
 * Waits for the child and tells how it ended: 0 every indicator computed, 1 computed and
 * stored with failing indicators (their errors are stored), -1 with e filled (it could not
 * run, or was stopped by a signal, such as SIGXCPU at its CPU limit).
 */
int indicator_job_wait(struct indicator_child *child, struct err *e);

/* indicator_job_start and indicator_job_wait together. */
int indicator_run_isolated(struct indicator_set *set, const struct indicator_job *job,
                           struct err *e);

/* The outcome of running the *_test.lua files of a directory. */
struct indicator_test_result {
    long files;
    long passed;
    long failed; /* failed expectations and test files that raised an error */
};

/*
 * Runs the test files of dir (docs/indicators.md, Testing) against the region of the set,
 * each with its fixture in a temporary database under tmp_dir. Prints every failure as
 * FILE:LINE: message, and a line per file, to out.
 */
int indicator_test_dir(struct indicator_set *set, const char *dir, const char *tmp_dir, FILE *out,
                       struct indicator_test_result *res, struct err *e);

#endif
