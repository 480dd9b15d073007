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

/* Runs a trivial query: whether the database answers (for health checks). */
int store_ping(struct store *s, struct err *e);

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
    int consent; /* the participant's consent to processing is recorded */
    int closed;  /* its campaign is closed, or past its closing date */
    int not_yet; /* its campaign opens on a later date */
};

/* Looks a token up; strings are copied into a. */
int store_invitation_by_token(struct store *s, struct arena *a, const char *token,
                              struct invitation *out, struct err *e);

/*
 * Writes a response, all its answers and its scale scores in one transaction, stamped with
 * the survey id, version and hash, and removes the invitation's draft. STORE_DUPLICATE when the
 * invitation already has one (a unique constraint of the schema decides, not a prior read); nothing
 * is written then.
 */
int store_put_response(struct store *s, const struct invitation *inv, const struct response *r,
                       struct err *e);

/*
 * Drafts: the answers of a multi-page questionnaire in progress (JSON text chosen by the
 * caller) and the page reached, one per invitation. store_put_response removes the draft
 * in the same transaction as it stores the response.
 */
int store_draft_get(struct store *s, struct arena *a, int64_t invitation_id, const char **json,
                    int *page, struct err *e);
int store_draft_put(struct store *s, int64_t invitation_id, const char *json, int page,
                    struct err *e);

/*
 * The survey definitions this database has seen, by id and version: responses given under
 * an older version stay readable, and an incompatible edit that keeps the version can be
 * refused by comparing with what was stored. get: STORE_NOT_FOUND when never seen; the
 * strings are copied into a. put: inserts or replaces the hash and definition.
 */
int store_survey_version_get(struct store *s, struct arena *a, const char *survey_id, long version,
                             const char **hash, const char **definition_json, struct err *e);
int store_survey_version_put(struct store *s, const char *survey_id, long version, const char *hash,
                             const char *definition_json, struct err *e);

/*
 * The distinct stored values of one question under one survey version (a multiple answer
 * is stored as a JSON array of strings and comes back as such): *values is an array of *n
 * strings in a.
 */
int store_answer_values(struct store *s, struct arena *a, const char *survey_id, long version,
                        const char *question_id, const char ***values, size_t *n, struct err *e);

/*
 * The registry: organisations, programmes, participants, pairs, reference figures,
 * campaigns and their invitations (core/store_registry.c). Each put is an upsert keyed by
 * code: it returns STORE_OK and sets *changed (when not NULL) to whether anything differed
 * from what was stored, or STORE_NOT_FOUND naming the referenced code that is unknown.
 * Values are checked by the registry module before they get here.
 */
struct org_rec {
    const char *code;
    const char *parent_code; /* NULL for a region */
    const char *level;       /* region, municipality, organisation */
    const char *kind;        /* organisations: school, college, centre, enterprise, other */
    const char *name;
    int max_mentees; /* regions: mentees a mentor may have at once; 0 = inherit (default 3) */
};
int store_put_org(struct store *s, const struct org_rec *o, int *changed, struct err *e);

int store_put_programme(struct store *s, const char *org_code, const char *code, const char *form,
                        const char *title, int year, int *changed, struct err *e);

struct participant_rec {
    const char *code;
    const char *org_code;
    const char *programme_code; /* NULL: none */
    const char *role;           /* mentor, mentee, curator */
    const char *kind;           /* pupil, student, teacher, employer */
    const char *name;           /* NULL unless the deployment stores names */
    int birth_year;             /* pupils and students; 0 = unknown */
    int experience_years;       /* teachers; -1 = unknown */
    const char *consent_date;   /* YYYY-MM-DD; NULL: no consent recorded */
    const char *consent_scope;
    const char *consent_by;
};
int store_put_participant(struct store *s, const struct participant_rec *p, int *changed,
                          struct err *e);

struct pair_rec {
    const char *programme_code;
    const char *mentor_code;
    const char *mentee_code;
    const char *starts; /* YYYY-MM-DD */
    const char *ends;   /* NULL: open */
    const char *status; /* active, finished, broken */
};
int store_put_pair(struct store *s, const struct pair_rec *p, int *changed, struct err *e);

/*
 * The mentees a mentor has in active pairs (any programme), other than except_code, as
 * codes in a; and how many the mentor may have (the nearest max_mentees up the mentor's
 * organisation tree, 3 when none is set).
 */
int store_mentor_load(struct store *s, struct arena *a, const char *mentor_code,
                      const char *except_code, const char ***mentees, size_t *n, int *max,
                      struct err *e);

struct figure_rec {
    const char *org_code;
    const char *period; /* a period code such as 2026/27 */
    const char *name;   /* pupils_10_18, pupils_15_18, teachers_0_3, partner_orgs, ... */
    double value;
};
int store_put_figure(struct store *s, const struct figure_rec *f, int *changed, struct err *e);

/* Issues a new invitation (fresh random token, written to token_out) for a participant. */
int store_put_invitation(struct store *s, const char *participant_code, const char *survey_id,
                         char token_out[23], struct err *e);

/* Whether an organisation with this code exists (STORE_OK) or not (STORE_NOT_FOUND). */
int store_org_exists(struct store *s, const char *code, struct err *e);

/* The level of an organisation (copied into out), or STORE_NOT_FOUND. */
int store_org_level(struct store *s, const char *code, char out[16], struct err *e);

/* The role of a participant (copied into out), or STORE_NOT_FOUND. */
int store_participant_role(struct store *s, const char *code, char out[16], struct err *e);

/*
 * Campaigns (core/store_campaign.c): a survey sent to the participants of an organisation
 * subtree for a period and a wave, between two dates.
 */
struct campaign_rec {
    const char *code;
    const char *survey_id;
    const char *org_code; /* the root of the subtree it targets */
    const char *period;   /* e.g. 2026/27 */
    const char *wave;     /* entry, final, none */
    const char *role;     /* NULL: every role */
    const char *form;     /* NULL: every form of mentoring */
    const char *opens;    /* YYYY-MM-DD */
    const char *closes;   /* YYYY-MM-DD */
};

/* Creates a campaign (status draft), or updates one that is still a draft. */
int store_put_campaign(struct store *s, const struct campaign_rec *c, struct err *e);

struct campaign_info {
    struct campaign_rec rec;
    const char *status; /* draft, open, closed */
    long invited;
    long started; /* with a draft and no response */
    long completed;
};

/* One campaign by code (strings in a), or STORE_NOT_FOUND. */
int store_campaign_get(struct store *s, struct arena *a, const char *code,
                       struct campaign_info *out, struct err *e);

/* Every campaign, newest first (array and strings in a). */
int store_campaign_list(struct store *s, struct arena *a, struct campaign_info **out, size_t *n,
                        struct err *e);

/*
 * Opens a campaign and invites, with a fresh token each, every targeted participant who has
 * none yet and whose consent is recorded (so opening again only invites newcomers).
 * *invited counts new invitations, *no_consent the targeted participants left out.
 */
int store_campaign_open(struct store *s, const char *code, long *invited, long *no_consent,
                        struct err *e);
int store_campaign_close(struct store *s, const char *code, struct err *e);

/* Response rates per organisation of the campaign's subtree (array and strings in a). */
struct rate_row {
    const char *org_code;
    const char *org_name;
    long invited;
    long started;
    long completed;
};
int store_campaign_rates(struct store *s, struct arena *a, const char *code, struct rate_row **out,
                         size_t *n, struct err *e);

/* One invitation of a campaign, for links and the list of who has not answered. */
struct link_row {
    const char *participant_code;
    const char *participant_name; /* NULL unless names are stored */
    const char *org_code;
    const char *org_name;
    const char *token;
    int answered;
    int started;
    int revoked;
};

/*
 * Calls fn for every invitation of the campaign in organisation and participant order (only
 * those below org_code when it is not NULL); fn returning non-zero stops the walk. Rows are
 * valid during the call only: nothing is kept, so a region-wide list is streamed.
 */
int store_campaign_links(struct store *s, const char *code, const char *org_code,
                         int (*fn)(void *ctx, const struct link_row *row), void *ctx,
                         struct err *e);

/* Revokes an invitation: its link stops working. STORE_NOT_FOUND for an unknown token. */
int store_revoke_invitation(struct store *s, const char *token, struct err *e);

/*
 * Erases a participant (152-FZ): their answers, scores, drafts, invitations, pairs and
 * the registry row, in one transaction. *responses counts the responses removed.
 */
int store_erase_participant(struct store *s, const char *code, long *responses, struct err *e);

/*
 * Accounts (core/store_account.c): users who sign in, their sessions (kept by the SHA-256
 * of the token), the organisation-subtree check access rests on, and the audit log. Times of
 * sessions are Unix seconds; the caller decides them (and the idle limit).
 */
struct user_rec {
    const char *login;
    const char *name;
    const char *role;     /* curator, coordinator, methodologist, admin */
    const char *org_code; /* NULL for an administrator */
    const char *password_hash;
};
/* STORE_DUPLICATE when the login exists; STORE_NOT_FOUND for an unknown organisation. */
int store_user_put(struct store *s, const struct user_rec *u, struct err *e);

struct user_row {
    int64_t id;
    const char *login;
    const char *name;
    const char *role;
    const char *org_code;
    int64_t org_id;
    const char *password_hash;
    int disabled;
    long failed_logins;
    int64_t locked_until; /* Unix seconds; 0 = not locked */
};
int store_user_get(struct store *s, struct arena *a, const char *login, struct user_row *out,
                   struct err *e);
int store_user_list(struct store *s, struct arena *a, struct user_row **out, size_t *n,
                    struct err *e);
int store_user_set_password(struct store *s, const char *login, const char *hash, struct err *e);
int store_user_disable(struct store *s, const char *login, struct err *e);

/* After a sign-in: ok resets the failures; otherwise counts one more and locks until then. */
int store_user_login_result(struct store *s, int64_t user_id, int ok, int64_t locked_until,
                            struct err *e);

/* Opens a session (and drops expired ones). */
int store_session_put(struct store *s, const char *token_hash, int64_t user_id, int64_t now,
                      int64_t expires, int64_t idle_s, struct err *e);

/* The enabled user of a session valid at now and used within idle_s; marks it used. */
int store_session_get(struct store *s, struct arena *a, const char *token_hash, int64_t now,
                      int64_t idle_s, struct user_row *out, struct err *e);
int store_session_delete(struct store *s, const char *token_hash, struct err *e);

/* Whether organisation org_id is root_id or below it (STORE_OK) or not (STORE_NOT_FOUND). */
int store_org_in_subtree(struct store *s, int64_t root_id, int64_t org_id, struct err *e);

/* Appends to the audit log (user_id 0: the command line). No personal data in detail. */
int store_audit(struct store *s, int64_t user_id, const char *action, const char *object,
                const char *detail, struct err *e);

struct audit_row {
    int64_t id;
    const char *at;
    const char *login; /* NULL: the command line */
    const char *action;
    const char *object;
    const char *detail;
};
/* The newest entries first. */
int store_audit_list(struct store *s, struct arena *a, int limit, struct audit_row **out, size_t *n,
                     struct err *e);

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
