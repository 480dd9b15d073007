/*
 * import: loading the registry from the CSV files curators keep (organisations,
 * programmes, participants, pairs, reference figures).
 *
 * An import is all or nothing: every row is checked, every problem (up to the error
 * list's limit) is reported as FILE:LINE: message, and if there is any, nothing of the
 * file is kept. Rows are matched by code, so importing the same file again changes nothing.
 */
#ifndef ANKETA_IMPORT_H
#define ANKETA_IMPORT_H

#include <sys/types.h>

struct err_list;
struct store;

enum import_kind {
    IMPORT_ORGS,
    IMPORT_PROGRAMMES,
    IMPORT_PARTICIPANTS,
    IMPORT_PAIRS,
    IMPORT_FIGURES,
};

/* "orgs", "programmes", "participants", "pairs", "figures"; -1 when unknown. */
int import_kind_parse(const char *word, enum import_kind *out);

struct import_options {
    int store_names; /* keep participants' names (otherwise only codes are stored) */
    int year;        /* the current year, for checking birth years; 0 = from the clock */
    void (*progress)(void *ctx, off_t done, off_t total);
    void *progress_ctx;
};

struct import_result {
    long rows;      /* records read */
    long changed;   /* rows added or updated */
    long unchanged; /* rows identical to what was stored */
    const char *encoding;
    char delimiter;
    int names_ignored; /* the file has names but the deployment does not store them */
};

/* Returns 0 when the file was imported, -1 when not (errs says why; nothing was kept). */
int import_file(struct store *st, enum import_kind kind, const char *path,
                const struct import_options *opt, struct import_result *res, struct err_list *errs);

#endif
