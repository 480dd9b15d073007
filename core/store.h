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

/*
 * A counter that triggers raise on every change of what indicators are computed from:
 * responses, participants, pairs, reference figures, organisations, programmes. Tells a
 * watcher that there is something new to compute.
 */
int store_data_serial(struct store *s, long long *out, struct err *e);

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

/* An organisation with its parent and grandparent (for breadcrumbs). */
struct org_info {
    int64_t id;
    const char *code;
    const char *name;
    const char *level;
    const char *kind;
    const char *parent_code; /* NULL for a region */
    const char *parent_name;
    const char *grandparent_code;
    const char *grandparent_name;
};
int store_org_get(struct store *s, struct arena *a, const char *code, struct org_info *out,
                  struct err *e);

/* The organisations directly below code, by name (parents are not filled in). */
int store_org_children(struct store *s, struct arena *a, const char *code, struct org_info **out,
                       size_t *n, struct err *e);

/* The code of the first region (where an administrator's dashboard opens). */
int store_org_first_region(struct store *s, char *out, size_t size, struct err *e);

/* Counts of an organisation's subtree. */
struct org_stats {
    long mentors;
    long mentees;
    long no_consent;
    long active_pairs;
    long programmes;
};
int store_org_stats(struct store *s, const char *code, struct org_stats *out, struct err *e);

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

/*
 * Every campaign, newest first (array and strings in a); with org_code, only those that
 * reach that organisation (sent from it, above it or below it), their counts limited to it.
 */
int store_campaign_list(struct store *s, struct arena *a, const char *org_code,
                        struct campaign_info **out, size_t *n, struct err *e);

/*
 * Opens a campaign and invites, with a fresh token each, every targeted participant who has
 * none yet and whose consent is recorded (so opening again only invites newcomers). Targeted:
 * in the campaign's subtree, of its role and form, and, for the participants of a programme,
 * in a programme (or a pair of one) of the campaign's school year.
 * *invited counts new invitations, *no_consent the targeted participants left out.
 */
int store_campaign_open(struct store *s, const char *code, long *invited, long *no_consent,
                        struct err *e);
int store_campaign_close(struct store *s, const char *code, struct err *e);

/* Response rates per organisation of the campaign's subtree (array and strings in a); with
 * org_code, only the organisations below that one. */
struct rate_row {
    const char *org_code;
    const char *org_name;
    long invited;
    long started;
    long completed;
};
int store_campaign_rates(struct store *s, struct arena *a, const char *code, const char *org_code,
                         struct rate_row **out, size_t *n, struct err *e);

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

/* A page of the log, newest first: entries older than before (0: the newest), of one action
 * ("login") or family of actions ("export" matches "export.responses"; NULL: all). */
struct audit_query {
    int limit;
    int64_t before;
    const char *action;
};
int store_audit_query(struct store *s, struct arena *a, const struct audit_query *q,
                      struct audit_row **out, size_t *n, struct err *e);

/* Participants of programmes of one school year, by form, role and age (federal statistics). */
struct federal_count {
    const char *form;
    const char *role; /* "mentor" or "mentee" */
    int age;          /* reached in the calendar year the school year starts; -1: unknown */
    long count;
};
/* The counts of the subtree of org_code for the school year starting in year (rows in a). */
int store_federal_counts(struct store *s, struct arena *a, const char *org_code, int year,
                         struct federal_count **out, size_t *n, struct err *e);

/* A programme of mentoring with the counts of its people and pairs. */
struct programme_row {
    const char *code, *title, *form;
    const char *org_code, *org_name;
    int64_t org_id;
    int year;
    long mentors, mentees;
    long active_pairs, finished_pairs, broken_pairs;
};
/* The programmes of the subtree of org_code in the school year starting in year (rows in a). */
int store_programme_list(struct store *s, struct arena *a, const char *org_code, int year,
                         struct programme_row **out, size_t *n, struct err *e);
/* One programme by code, or STORE_NOT_FOUND. */
int store_programme_get(struct store *s, struct arena *a, const char *code,
                        struct programme_row *out, struct err *e);

/* A pair of a programme: codes (names only where the deployment stores them). */
struct programme_pair {
    const char *mentor_code, *mentor_name;
    const char *mentee_code, *mentee_name;
    const char *starts, *ends; /* ends NULL while it runs */
    const char *status;        /* active, finished, broken */
};
int store_programme_pairs(struct store *s, struct arena *a, const char *code,
                          struct programme_pair **out, size_t *n, struct err *e);

/* The first (by id) invitation of survey_id that is answered or not, for printing links. */
int store_first_invitation(struct store *s, struct arena *a, const char *survey_id, int answered,
                           struct invitation *out, struct err *e);

/* How many responses a survey has (all surveys when survey_id is NULL). */
int store_count_responses(struct store *s, const char *survey_id, long *out, struct err *e);

/*
 * Copies the whole database into a new file at path with SQLite's online backup API: a
 * consistent snapshot, taken while the server keeps serving. path must not exist.
 */
int store_backup(struct store *s, const char *path, struct err *e);

/*
 * Replaces the content of the database with the backup at path (checked first: it must be
 * an anketa database this build can read). Meant for a stopped server.
 */
int store_restore(struct store *s, const char *path, struct err *e);

/* PRAGMA integrity_check: STORE_OK when "ok", otherwise e holds SQLite's first finding. */
int store_integrity(struct store *s, struct err *e);

/*
 * ---- Indicators (core/store_indicator.c) ----
 *
 * What the accessors of indicator scripts read, always scoped to an organisation's subtree
 * and a period, and the values and runs the indicators produce. Reads return with every
 * statement reset; a row callback must not call the store, and returning non-zero from it
 * stops the walk (STORE_OK is returned then).
 */

/*
 * While fn is set, a long indicator query asks fn(ctx) every few thousand steps and stops
 * (failing with "interrupted") when it returns non-zero: scripts' deadlines cover their SQL.
 * NULL removes it.
 */
void store_ind_interrupt(struct store *s, int (*fn)(void *ctx), void *ctx);

/*
 * Gives the connection a page cache of 64 MB for a run of indicators, which reads the
 * period's scores and registry several times. For the connection of the process that
 * computes them (the child of indicator_job_start), not the server's.
 */
int store_ind_prepare_reads(struct store *s, struct err *e);

/* An organisation of the tree an indicator run covers. */
struct ind_node {
    int64_t id;
    int64_t parent_id; /* 0 for the root of the subtree */
    const char *code;
    const char *name;
    const char *level; /* region, municipality, organisation */
    const char *kind;  /* NULL unless set */
};

/* The subtree of root_code, parents before children (array and strings in a). */
int store_ind_tree(struct store *s, struct arena *a, const char *root_code, struct ind_node **out,
                   size_t *n, struct err *e);

#define IND_PERIODS 7

/* What an accessor is scoped to: a subtree and a period. */
struct ind_scope {
    int64_t org_id;
    const char *period; /* its code: reference figures are kept by it */
    const char *starts; /* its first day, YYYY-MM-DD */
    const char *ends;   /* its last day */
    int start_year;     /* the year of starts: a pupil's age is start_year - birth_year */
    const char *campaigns[IND_PERIODS]; /* the period codes of campaigns that fall inside it
                                           (a year: itself, its halves and quarters); NULL-padded */
    int own_only; /* only the organisation itself, not the organisations below it */
};

/* Which participants to count; NULL or -1: no condition. */
struct ind_people {
    const char *role;
    const char *kind;
    const char *form;
    int age_from, age_to; /* inclusive */
    int exp_min, exp_max; /* years of experience, inclusive */
    int in_pairs;         /* only those in a pair (in their role) that overlaps the period */
};
int store_ind_count_participants(struct store *s, const struct ind_scope *sc,
                                 const struct ind_people *f, long *out, struct err *e);

/* Pairs of the subtree's programmes that overlap the period (with ended: that ended in it). */
struct ind_pair_filter {
    const char *status; /* NULL: any */
    const char *form;
    int ended;
};
int store_ind_count_pairs(struct store *s, const struct ind_scope *sc,
                          const struct ind_pair_filter *f, long *out, struct err *e);

/*
 * A reference figure of the period: the subtree root's own value, or else the sum over its
 * children of theirs (the same rule below). *found is 0 when no organisation has it.
 */
int store_ind_figure(struct store *s, const struct ind_scope *sc, const char *name, double *out,
                     int *found, struct err *e);

/* Enterprises of the subtree with an employer mentor in a pair that overlaps the period. */
int store_ind_partner_orgs(struct store *s, const struct ind_scope *sc, long *out, struct err *e);

/* Scores of responses given in campaigns of the period: a scale's, or one numeric item's. */
struct ind_measure {
    const char *survey; /* required */
    const char *scale;  /* exactly one of scale and item */
    const char *item;
    const char *wave; /* NULL: any */
    const char *form; /* the respondent's programme's form; NULL: any */
    double min;       /* the threshold counted in ind_summary.at_least */
};
struct ind_summary {
    long n;
    double sum, sumsq, min, max;
    long at_least; /* scores >= min */
};
int store_ind_summary(struct store *s, const struct ind_scope *sc, const struct ind_measure *m,
                      struct ind_summary *out, struct err *e);
int store_ind_scores(struct store *s, const struct ind_scope *sc, const struct ind_measure *m,
                     int (*fn)(void *ctx, double value), void *ctx, struct err *e);

/* Responses to a survey in campaigns of the period (m->scale and m->item are ignored). */
int store_ind_count_responses(struct store *s, const struct ind_scope *sc,
                              const struct ind_measure *m, long *out, struct err *e);

/*
 * The entry and final score of each participant who answered both surveys in the period (the
 * latest response of each when there are several), in participant order, with the form of
 * their programme (NULL when none). Participants are paired in C, not by a join in SQL.
 */
struct ind_paired_filter {
    const char *scale; /* exactly one of scale and item */
    const char *item;
    const char *entry_survey;
    const char *final_survey;
    const char *form; /* NULL: any */
};
int store_ind_paired(struct store *s, const struct ind_scope *sc, const struct ind_paired_filter *f,
                     int (*fn)(void *ctx, double entry, double final, const char *form), void *ctx,
                     struct err *e);

/* One stored value of an indicator for an organisation and period. */
struct ind_value_rec {
    const char *region;
    const char *indicator;
    const char *period;
    int64_t org_id;
    const char *org_code; /* filled when read */
    int has_num;          /* num and den are set */
    double num, den;
    int has_value;
    double value;
    int has_n; /* scores: how many values the mean is of */
    double n;
    int has_target;
    double target;
    const char *breakdown; /* JSON array, or NULL */
    const char *script_hash;
    const char *error; /* NULL when computed */
    const char *computed_at;
};

/* Inserts or replaces the value (computed_at is set to now). */
int store_ind_put_value(struct store *s, const struct ind_value_rec *v, struct err *e);

/* The stored values of a region and period for root_code's subtree, by indicator and code. */
int store_ind_get_values(struct store *s, struct arena *a, const char *region, const char *period,
                         const char *root_code, struct ind_value_rec **out, size_t *n,
                         struct err *e);

/* A run of a region's indicators: when, how long, how much memory, how many failed. */
struct ind_run_rec {
    const char *region;
    const char *period;
    int64_t org_id; /* the root of the run */
    const char *started_at;
    long duration_ms;
    long memory_kb; /* the largest Lua heap of an indicator */
    long indicators;
    long failures;
    const char *script_hash;
};
int store_ind_put_run(struct store *s, const struct ind_run_rec *r, int64_t *id, struct err *e);

/* The latest run of a region (strings in a), or STORE_NOT_FOUND. */
int store_ind_last_run(struct store *s, struct arena *a, const char *region,
                       struct ind_run_rec *out, struct err *e);

/*
 * Fixtures for tests and `anketa indicators test`: a response of a participant to a survey in
 * the campaign of (survey, period, wave), made on first use, with the given scale scores and
 * answers (numbers stored as the questionnaire would store them).
 */
struct ind_fixture_value {
    const char *id;
    double value;
};
int store_ind_fixture_response(struct store *s, const char *participant_code, const char *survey,
                               const char *period, const char *wave,
                               const struct ind_fixture_value *scores, size_t nscores,
                               const struct ind_fixture_value *answers, size_t nanswers,
                               struct err *e);

/* Runs a transaction around several writes (the demo, imports). */
int store_begin(struct store *s, struct err *e);
int store_commit(struct store *s, struct err *e);
void store_rollback(struct store *s);

/*
 * ---- Exports (core/store_export.c) ----
 *
 * The row walks of the exports (core/export.c): one prepared statement stepped one row at a
 * time, so a region's million responses are never held in memory. Rows are valid during the
 * call only; fn must not call the store, and returning non-zero from it stops the walk
 * (STORE_OK is returned then). Every walk is limited to the subtree of org_code.
 */
struct store_export_scope {
    const char *org_code;  /* the root of the subtree */
    const char *survey_id; /* NULL: every survey */
    const char *starts;    /* NULL: any time; else the period's first and last day, YYYY-MM-DD */
    const char *ends;
    int year; /* the school year the period is in (2026 for 2026/27); 0 without a period */
};

struct store_export_item {
    const char *id;
    const char *value;
};

struct store_export_score {
    const char *id;
    double value;
};

struct store_export_response {
    int64_t id;
    const char *participant_code;
    const char *org_code;
    const char *org_name;
    const char *municipality; /* the name of the municipality it is in; NULL: none */
    const char *form;         /* the form of the participant's programme; NULL: none */
    const char *survey_id;
    long survey_version;
    const char *survey_hash;
    const char *submitted_at;
    const struct store_export_item *answers; /* by question id, values as stored */
    size_t nanswers;
    const struct store_export_score *scores; /* by scale id */
    size_t nscores;
};

/* The responses given in the scope (submitted in the period), in the order they came. */
int store_export_responses(struct store *s, const struct store_export_scope *sc,
                           int (*fn)(void *ctx, const struct store_export_response *row), void *ctx,
                           struct err *e);

/* The ids of the surveys that have responses in the scope, sorted (array and strings in a). */
int store_export_surveys(struct store *s, struct arena *a, const struct store_export_scope *sc,
                         const char ***ids, size_t *n, struct err *e);

struct store_export_participant {
    const char *code;
    const char *name; /* NULL unless names are stored */
    const char *org_code;
    const char *org_name;
    const char *municipality;
    const char *programme_code; /* NULL: none */
    const char *form;
    const char *role;
    const char *kind;
    int birth_year;       /* 0: unknown */
    int experience_years; /* -1: unknown */
    const char *consent_date;
    const char *consent_scope;
    const char *consent_by;
    long responses; /* given in the scope's survey and period */
};

/*
 * The participants of the scope by organisation and code: with a survey, those invited to it;
 * with a period, those in a programme of its school year or in a pair that overlaps it.
 */
int store_export_participants(struct store *s, const struct store_export_scope *sc,
                              int (*fn)(void *ctx, const struct store_export_participant *row),
                              void *ctx, struct err *e);

#endif
