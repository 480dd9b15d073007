/*
 * store_int: what the files of the store module share. Nothing outside core/store*.c
 * includes this header; the rest of the engine sees only store.h.
 *
 * Each store file keeps its own table of SQL and prepares its statements into its own
 * range of slots of struct store (STORE_*_BASE), so files can be added without a shared
 * list of every statement.
 */
#ifndef ANKETA_STORE_INT_H
#define ANKETA_STORE_INT_H

#include "store.h"

#include <sqlite3.h>
#include <stdint.h>

#define STORE_STMTS_PER_FILE 64
#define STORE_CORE_BASE      0
#define STORE_REGISTRY_BASE  64
#define STORE_CAMPAIGN_BASE  128
#define STORE_INDICATOR_BASE 192
#define STORE_ACCOUNT_BASE   256
#define STORE_EXPORT_BASE    320
#define STORE_REPORT_BASE    384
#define STORE_STMTS          448

#define STORE_NOW "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"

struct store {
    sqlite3 *db;
    char *path;
    int version;
    sqlite3_stmt *stmt[STORE_STMTS];
};

/* The statement of slot, prepared from sql on first use and kept until store_close. */
sqlite3_stmt *store_prep(struct store *s, int slot, const char *sql, const char *what,
                         struct err *e);

/*
 * The key a participant's link is looked up by: the SHA-256 of its token, in hex. A lookup by
 * the token itself would compare it with stored tokens byte by byte in the index, in a time
 * that depends on how much of it matches; the hash of a guess tells nothing of the tokens.
 */
void store_token_hash(const char *token, char out[65]);

/* Fills e with what was being done and SQLite's own words; returns STORE_ERROR. */
int store_fail(struct store *s, const char *what, struct err *e);

/* Resets a statement and clears its bindings. */
void store_done(sqlite3_stmt *st);

/* Steps a bound statement expecting no rows, then resets it. */
int store_step_done(struct store *s, sqlite3_stmt *st, const char *what, struct err *e);

/* Resets a statement whose binding failed, keeping SQLite's message. */
int store_bind_failed(struct store *s, sqlite3_stmt *st, const char *what, struct err *e);

/* Binds text, or NULL when v is NULL. */
int store_bind_text(sqlite3_stmt *st, int i, const char *v);

/*
 * Binds parameters 1.. from fmt: 's' text (NULL binds NULL), 'i' int64_t, 'n' int64_t with
 * 0 bound as NULL, 'd' double. Integer arguments must be passed as int64_t. Returns SQLITE_OK
 * or the first failing code.
 */
int store_bind(sqlite3_stmt *st, const char *fmt, ...);

/*
 * Steps st (bound by the caller) to its end, reading each row with read() into a growing
 * array in a, of elements of size bytes: the shape of every store function that returns a
 * list. On success *out and *n hold the rows; st is reset either way. read returns -1 when
 * out of memory.
 */
int store_collect(struct store *s, sqlite3_stmt *st, struct arena *a, size_t size,
                  int (*read)(sqlite3_stmt *st, struct arena *a, void *row), void **out, size_t *n,
                  const char *what, struct err *e);

/*
 * The unit of work of one write call: its own transaction, or a savepoint when the caller
 * already holds one (store_begin), so that a failure undoes only this call's writes.
 */
int store_write_begin(struct store *s, int *nested, const char *what, struct err *e);
int store_write_commit(struct store *s, int nested, const char *what, struct err *e);
void store_write_rollback(struct store *s, int nested);

#endif
