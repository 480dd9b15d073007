/*
 * store: the only module that talks to the database. Every SQL statement of the engine is
 * here, prepared once per connection and reused; every value is bound, never spliced.
 *
 * The schema is built by a numbered list of migrations recorded in PRAGMA user_version.
 * A connection runs in WAL mode with foreign keys on and a busy timeout. A PostgreSQL
 * backend is expected later: callers see only these functions and plain C structs.
 *
 * Return codes: STORE_OK, STORE_NOT_FOUND, STORE_DUPLICATE, or STORE_ERROR with e filled.
 */
#ifndef ANKETA_STORE_H
#define ANKETA_STORE_H

#include <stddef.h>
#include <stdint.h>

struct arena;
struct err;
struct response;
struct survey;

enum {
    STORE_OK = 0,
    STORE_ERROR = -1,
    STORE_NOT_FOUND = 1,
    STORE_DUPLICATE = 2,
};

struct store;

struct store_options {
    /* "FULL" (default: an acknowledged response survives power loss) or "NORMAL"
     * (survives a crash of the process, not of the machine). */
    const char *synchronous;
    int busy_timeout_ms; /* default 5000 */
    int migrate;         /* create or upgrade the schema; otherwise require it current */
};

/* Opens (creating the file when migrate is set). The caller owns *out. */
int store_open(const char *path, const struct store_options *opt, struct store **out,
               struct err *e);
void store_close(struct store *s);

/* The schema version this build writes, and the one of the open database. */
int store_schema_latest(void);
int store_schema_version(struct store *s);

/* The connection's settings as SQLite reports them: for diagnostics and tests. */
struct store_settings {
    char journal_mode[16]; /* "wal" */
    int synchronous;       /* 2 = FULL, 1 = NORMAL */
    int foreign_keys;      /* 1 = enforced */
    int busy_timeout_ms;
};
int store_settings(struct store *s, struct store_settings *out, struct err *e);

/* The deployment's secret key (made at the first migration): keys CSRF values. */
int store_secret(struct store *s, unsigned char key[32], struct err *e);

struct invitation {
    int64_t id;
    const char *token;
    const char *survey_id;
    int64_t participant_id;
    int answered; /* a response exists */
    int revoked;
};

/* Looks a token up; strings are copied into a. */
int store_invitation_by_token(struct store *s, struct arena *a, const char *token,
                              struct invitation *out, struct err *e);

/*
 * Writes a response and all its answers in one transaction, stamped with the survey id,
 * version and hash. STORE_DUPLICATE when the invitation already has one (a unique
 * constraint of the schema decides, not a prior read); nothing is written then.
 */
int store_put_response(struct store *s, const struct invitation *inv, const struct response *r,
                       struct err *e);

/* Registry writes used by the demo and tests; each is an upsert keyed by code. */
int store_put_org(struct store *s, const char *parent_code, const char *level, const char *code,
                  const char *name, struct err *e);
int store_put_programme(struct store *s, const char *org_code, const char *code, const char *form,
                        const char *title, int year, struct err *e);
int store_put_participant(struct store *s, const char *code, const char *org_code,
                          const char *programme_code, const char *role, const char *kind,
                          int birth_year, struct err *e);

/* Issues a new invitation (fresh random token, written to token_out) for a participant. */
int store_put_invitation(struct store *s, const char *participant_code, const char *survey_id,
                         char token_out[23], struct err *e);

/* Whether an organisation with this code exists (STORE_OK) or not (STORE_NOT_FOUND). */
int store_org_exists(struct store *s, const char *code, struct err *e);

/* The first (by id) invitation of survey_id that is answered or not, for printing links. */
int store_first_invitation(struct store *s, struct arena *a, const char *survey_id, int answered,
                           struct invitation *out, struct err *e);

/* How many responses a survey has (all surveys when survey_id is NULL). */
int store_count_responses(struct store *s, const char *survey_id, long *out, struct err *e);

/* Runs a transaction around several writes (the demo, imports). */
int store_begin(struct store *s, struct err *e);
int store_commit(struct store *s, struct err *e);
void store_rollback(struct store *s);

#endif
