/*
 * err: the error record every fallible function fills in.
 *
 * A function that can fail returns 0 on success and -1 on failure, and on failure
 * fills a caller-owned struct err with where the problem is (file, line, column:
 * a YAML file, a template, a CSV row) and a message a person can act on.
 * Positions are 1-based; 0 means "not known" and is left out when printed.
 */
#ifndef ANKETA_ERR_H
#define ANKETA_ERR_H

#include <stddef.h>

struct err {
    char file[256];
    int line;
    int col;
    char msg[512];
};

/* Fills e (when e is not NULL) and returns -1, so callers write `return err_set(...)`. */
int err_set(struct err *e, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Writes "FILE:LINE:COL: message" (the parts that are known) into out. */
void err_format(const struct err *e, char *out, size_t size);

/*
 * A list of errors, for commands that report every problem of a file in one run (an import,
 * `anketa check`). Adding never fails loudly: past max, or when out of memory, further
 * errors are only counted in dropped.
 */
struct err_list {
    struct err *items;
    size_t n;
    size_t cap;
    size_t max;     /* 0: 100 */
    size_t dropped; /* errors counted but not kept */
};

/* Appends a copy of e. */
void err_list_add(struct err_list *l, const struct err *e);

/* Formats and appends, like err_set. Returns -1. */
int err_list_set(struct err_list *l, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

size_t err_list_count(const struct err_list *l);
void err_list_free(struct err_list *l);

#endif
