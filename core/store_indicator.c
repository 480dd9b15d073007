/*
 * store_indicator: the SQL of indicators: the aggregates the accessors of indicator scripts
 * read (counts of participants and pairs, reference figures, scores of responses, paired
 * entry/final scores), scoped to an organisation's subtree and a period; the stored values
 * and runs; and the fixtures of indicator tests. Part of the store module; see store.h.
 *
 * Scale scores are read from indicator_scores, which triggers keep (schema, migration 1), so
 * an organisation's scores are one range of the index indicator_scores_org. Items are read
 * from answers through the respondent's invitation; they are slower (docs/indicators.md).
 */
#include "store_int.h"

#include "arena.h"
#include "crypto.h"
#include "err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum store_ind_stmt {
    SI_TREE,
    SI_COUNT_PEOPLE,
    SI_COUNT_PAIRS,
    SI_FIGURE,
    SI_PARTNER_ORGS,
    SI_SUMMARY_SCALE,
    SI_SUMMARY_ITEM,
    SI_SCORES_SCALE,
    SI_SCORES_ITEM,
    SI_COUNT_RESPONSES,
    SI_PAIRED_SCALE_ENTRY,
    SI_PAIRED_SCALE_FINAL,
    SI_PAIRED_ITEM_ENTRY,
    SI_PAIRED_ITEM_FINAL,
    SI_VALUE_PUT,
    SI_VALUES_GET,
    SI_RUN_PUT,
    SI_RUN_LAST,
    SI_FX_CAMPAIGN,
    SI_FX_INVITE,
    SI_FX_RESPONSE,
    SI_FX_SCORE,
    SI_FX_ANSWER,
    SI_COUNT
};

_Static_assert(SI_COUNT <= STORE_STMTS_PER_FILE, "too many statements for one store file");

/*
 * The organisation ?1 and the ?15 levels below it: 16 for its subtree (a cycle of parents
 * cannot loop), 0 for itself only (ind_scope.own_only).
 */
#define SI_SUB                                                                                     \
    "WITH RECURSIVE sub(id, d) AS (SELECT ?1, 0 UNION ALL SELECT o.id, sub.d + 1 FROM orgs o "     \
    "JOIN sub ON o.parent_id = sub.id WHERE sub.d < ?15) "

#define SI_IN_SUB "IN (SELECT id FROM sub)"

/* The campaigns of survey ?S whose period is one of ?3..?9 (and whose wave is ?W, if given). */
#define SI_CAMP(name, s, w)                                                                        \
    ", " name "(id) AS (SELECT id FROM campaigns WHERE survey_id = ?" #s                           \
    " AND period IN (?3, ?4, ?5, ?6, ?7, ?8, ?9) AND (?" #w " IS NULL OR wave = ?" #w ")) "

/* A stored answer that is a number (scale and number questions store decimals). */
#define SI_NUMERIC(col) "(" col " GLOB '[0-9-]*' AND " col " NOT GLOB '*[^0-9.-]*')"

/*
 * The responses of the subtree to survey ?S, with the respondent p and the invitation i.
 * CROSS JOIN keeps this order: without statistics SQLite would start from every invitation
 * of the survey in the database (invitations_survey) rather than the subtree's participants.
 */
#define SI_RESPONSES(s)                                                                            \
    "FROM participants p CROSS JOIN invitations i ON i.participant_id = p.id "                     \
    "AND i.survey_id = ?" #s " CROSS JOIN responses r ON r.invitation_id = i.id "

/* Numeric answers a to item ?11 of those responses. */
#define SI_ANSWERS "CROSS JOIN answers a ON a.response_id = r.id AND a.question_id = ?11 "

/* ... given in campaigns c, by respondents whose programme has form ?12 if given. */
#define SI_WHERE(c)                                                                                \
    "WHERE p.org_id " SI_IN_SUB " AND i.campaign_id IN " c " "                                     \
    "AND (?12 IS NULL OR p.programme_id IN (SELECT id FROM programmes WHERE form = ?12)) "

/* A participant's pair in their role that overlaps the period ?11..?12, of form ?9 if given. */
#define SI_PAIR_OF(side)                                                                           \
    "EXISTS (SELECT 1 FROM pairs x WHERE x." side " = p.id AND x.starts <= ?12 "                   \
    "AND (x.ends IS NULL OR x.ends >= ?11) "                                                       \
    "AND (?9 IS NULL OR x.programme_id IN (SELECT id FROM programmes WHERE form = ?9)))"

static const char *const store_ind_sql[SI_COUNT] = {
    [SI_TREE] = "WITH RECURSIVE sub(id, d) AS (SELECT id, 0 FROM orgs WHERE code = ?1 "
                "UNION ALL SELECT o.id, sub.d + 1 FROM orgs o JOIN sub ON o.parent_id = sub.id "
                "WHERE sub.d < 16) SELECT o.id, CASE WHEN sub.d = 0 THEN 0 ELSE o.parent_id END, "
                "o.code, o.name, o.level, o.kind FROM sub JOIN orgs o ON o.id = sub.id "
                "ORDER BY sub.d, o.code",
    [SI_COUNT_PEOPLE] =
        SI_SUB "SELECT count(*) FROM participants p WHERE p.org_id " SI_IN_SUB " "
               "AND (?2 IS NULL OR p.role = ?2) AND (?3 IS NULL OR p.kind = ?3) "
               "AND (?4 IS NULL OR ?8 - p.birth_year >= ?4) "
               "AND (?5 IS NULL OR ?8 - p.birth_year <= ?5) "
               "AND (?6 IS NULL OR p.experience_years >= ?6) "
               "AND (?7 IS NULL OR p.experience_years <= ?7) "
               "AND (?9 IS NULL OR ?10 OR p.programme_id IN "
               "(SELECT id FROM programmes WHERE form = ?9) OR EXISTS (SELECT 1 FROM pairs x "
               "JOIN programmes g ON g.id = x.programme_id WHERE g.form = ?9 "
               "AND (x.mentor_id = p.id OR x.mentee_id = p.id))) "
               "AND (NOT ?10 OR (p.role <> 'mentee' AND " SI_PAIR_OF(
                   "mentor_id") ") "
                                "OR (p.role <> 'mentor' AND " SI_PAIR_OF("mentee_id") "))",
    [SI_COUNT_PAIRS] = SI_SUB "SELECT count(*) FROM programmes g JOIN pairs x "
                              "ON x.programme_id = g.id WHERE g.org_id " SI_IN_SUB " "
                              "AND (?2 IS NULL OR x.status = ?2) AND (?3 IS NULL OR g.form = ?3) "
                              "AND CASE WHEN ?4 THEN x.ends BETWEEN ?5 AND ?6 "
                              "ELSE x.starts <= ?6 AND (x.ends IS NULL OR x.ends >= ?5) END",
    /* Walks down from ?1 and stops below every organisation that has the figure itself. */
    [SI_FIGURE] = "WITH RECURSIVE walk(id, d) AS (SELECT ?1, 0 UNION ALL SELECT o.id, w.d + 1 "
                  "FROM orgs o JOIN walk w ON o.parent_id = w.id WHERE w.d < ?4 AND NOT EXISTS "
                  "(SELECT 1 FROM figures f WHERE f.org_id = w.id AND f.period = ?2 "
                  "AND f.name = ?3)) SELECT total(f.value), count(f.value) FROM walk "
                  "JOIN figures f ON f.org_id = walk.id AND f.period = ?2 AND f.name = ?3",
    [SI_PARTNER_ORGS] =
        SI_SUB "SELECT count(*) FROM orgs o WHERE o.id " SI_IN_SUB " AND o.kind = 'enterprise' "
               "AND EXISTS (SELECT 1 FROM participants p JOIN pairs x ON x.mentor_id = p.id "
               "WHERE p.org_id = o.id AND p.role = 'mentor' AND p.kind = 'employer' "
               "AND x.starts <= ?3 AND (x.ends IS NULL OR x.ends >= ?2))",
    [SI_SUMMARY_SCALE] = SI_SUB SI_CAMP("camp", 2, 10) "SELECT count(*), total(value), "
                                                       "total(value * value), min(value), "
                                                       "max(value), count(*) FILTER (WHERE value "
                                                       ">= ?13) FROM indicator_scores "
                                                       "WHERE scale_id = ?11 AND org_id " SI_IN_SUB
                                                       " AND campaign_id IN camp "
                                                       "AND (?12 IS NULL OR form = ?12)",
    [SI_SUMMARY_ITEM] = SI_SUB SI_CAMP(
        "camp", 2, 10) "SELECT count(*), total(v), total(v * v), "
                       "min(v), max(v), count(*) FILTER (WHERE v >= ?13) "
                       "FROM (SELECT CAST(a.value AS REAL) v " SI_RESPONSES(2)
                           SI_ANSWERS SI_WHERE("camp") "AND " SI_NUMERIC("a.value") ")",
    [SI_SCORES_SCALE] = SI_SUB SI_CAMP("camp", 2, 10) "SELECT value FROM indicator_scores "
                                                      "WHERE scale_id = ?11 AND org_id " SI_IN_SUB
                                                      " AND campaign_id IN camp "
                                                      "AND (?12 IS NULL OR form = ?12) "
                                                      "ORDER BY participant_id, response_id",
    [SI_SCORES_ITEM] = SI_SUB SI_CAMP("camp", 2, 10) "SELECT CAST(a.value AS REAL) " SI_RESPONSES(2)
        SI_ANSWERS SI_WHERE("camp") "AND " SI_NUMERIC("a.value") "ORDER BY p.id, r.id",
    [SI_COUNT_RESPONSES] =
        SI_SUB SI_CAMP("camp", 2, 10) "SELECT count(*) " SI_RESPONSES(2) SI_WHERE("camp"),
    /* Entry rows (survey ?2), then final rows (survey ?10), unordered: store_ind_paired pairs
     * them by participant in C, which costs less than SQL's join and sort. */
    [SI_PAIRED_SCALE_ENTRY] = SI_SUB SI_CAMP("camp", 2, 13) "SELECT participant_id, response_id, "
                                                            "value, NULL FROM indicator_scores "
                                                            "WHERE scale_id = ?11 AND campaign_id "
                                                            "IN camp AND org_id " SI_IN_SUB
                                                            " AND (?12 IS NULL OR form = ?12)",
    [SI_PAIRED_SCALE_FINAL] =
        SI_SUB SI_CAMP("camp", 10, 13) "SELECT participant_id, response_id, "
                                       "value, form FROM indicator_scores "
                                       "WHERE scale_id = ?11 AND "
                                       "campaign_id IN camp AND "
                                       "org_id " SI_IN_SUB " AND (?12 IS NULL OR form = ?12)",
    [SI_PAIRED_ITEM_ENTRY] = SI_SUB SI_CAMP(
        "camp", 2, 13) "SELECT p.id, r.id, CAST(a.value AS REAL), NULL " SI_RESPONSES(2)
        SI_ANSWERS SI_WHERE("camp") "AND " SI_NUMERIC("a.value"),
    [SI_PAIRED_ITEM_FINAL] = SI_SUB SI_CAMP(
        "camp", 10, 13) "SELECT p.id, r.id, CAST(a.value AS REAL), "
                        "(SELECT form FROM programmes WHERE id = p.programme_id) " SI_RESPONSES(10)
                            SI_ANSWERS SI_WHERE("camp") "AND " SI_NUMERIC("a.value"),
    [SI_VALUE_PUT] = "INSERT INTO indicator_values(region, indicator, period, org_id, num, den, "
                     "value, n, target, breakdown, script_hash, error, computed_at) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, " STORE_NOW ") "
                     "ON CONFLICT(region, indicator, period, org_id) DO UPDATE SET "
                     "num = excluded.num, den = excluded.den, value = excluded.value, "
                     "n = excluded.n, target = excluded.target, breakdown = excluded.breakdown, "
                     "script_hash = excluded.script_hash, error = excluded.error, "
                     "computed_at = excluded.computed_at",
    [SI_VALUES_GET] =
        "WITH RECURSIVE sub(id, d) AS (SELECT id, 0 FROM orgs WHERE code = ?3 "
        "UNION ALL SELECT o.id, sub.d + 1 FROM orgs o JOIN sub ON o.parent_id = sub.id "
        "WHERE sub.d < 16) SELECT v.indicator, v.org_id, o.code, v.num, v.den, v.value, v.n, "
        "v.target, v.breakdown, v.script_hash, v.error, v.computed_at "
        "FROM indicator_values v JOIN orgs o ON o.id = v.org_id "
        "WHERE v.region = ?1 AND v.period = ?2 AND (?3 IS NULL OR v.org_id " SI_IN_SUB ") "
        "ORDER BY v.indicator, o.code",
    [SI_RUN_PUT] = "INSERT INTO indicator_runs(region, period, org_id, started_at, duration_ms, "
                   "memory_kb, indicators, failures, script_hash) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [SI_RUN_LAST] = "SELECT region, period, org_id, started_at, duration_ms, memory_kb, "
                    "indicators, failures, script_hash FROM indicator_runs "
                    "WHERE region = ?1 ORDER BY id DESC LIMIT 1",
    [SI_FX_CAMPAIGN] = "INSERT INTO campaigns(code, survey_id, org_id, period, wave, opens, "
                       "closes, status, created_at) SELECT ?1, ?2, p.org_id, ?3, ?4, "
                       "'2000-01-01', '2000-01-01', 'closed', " STORE_NOW " "
                       "FROM participants p WHERE p.code = ?5 ON CONFLICT(code) DO NOTHING",
    [SI_FX_INVITE] = "INSERT INTO invitations(token, participant_id, campaign_id, survey_id, "
                     "created_at, token_hash) SELECT ?1, p.id, c.id, c.survey_id, " STORE_NOW
                     ", ?4 FROM participants p, campaigns c WHERE p.code = ?2 AND c.code = ?3",
    [SI_FX_RESPONSE] = "INSERT INTO responses(invitation_id, survey_id, survey_version, "
                       "survey_hash, submitted_at) SELECT id, survey_id, 1, 'fixture', " STORE_NOW
                       " FROM invitations WHERE id = ?1",
    [SI_FX_SCORE] = ("INSERT INTO response_scores(response_id, scale_id, value, items) "
                     "VALUES (?1, ?2, ?3, 1)"),
    [SI_FX_ANSWER] = "INSERT INTO answers(response_id, question_id, value) VALUES (?1, ?2, ?3)",
};

static sqlite3_stmt *store_ind(struct store *s, enum store_ind_stmt id, const char *what,
                               struct err *e)
{
    return store_prep(s, STORE_INDICATOR_BASE + id, store_ind_sql[id], what, e);
}

int store_ind_prepare_reads(struct store *s, struct err *e)
{
    /* SQLite's default 2 MB would read the same pages from the file again for each indicator. */
    if (sqlite3_exec(s->db, "PRAGMA cache_size = -65536", NULL, NULL, NULL) != SQLITE_OK)
        return store_fail(s, "set the cache for indicators", e);
    return STORE_OK;
}

void store_ind_interrupt(struct store *s, int (*fn)(void *ctx), void *ctx)
{
    sqlite3_progress_handler(s->db, fn ? 4000 : 0, fn, ctx);
}

/* Binds an int, or NULL when it is negative (no bound). */
static int store_ind_bind_bound(sqlite3_stmt *st, int i, int v)
{
    return v < 0 ? sqlite3_bind_null(st, i) : sqlite3_bind_int(st, i, v);
}

/* The depth below the subtree's root that a scoped statement reaches (its ?15). */
static int store_ind_depth(const struct ind_scope *sc)
{
    return sc->own_only ? 0 : 16;
}

/* Binds text to ?i when the statement has that parameter (the scoped SQL shares numbering). */
static int store_ind_text(sqlite3_stmt *st, int i, const char *v)
{
    return i <= sqlite3_bind_parameter_count(st) ? store_bind_text(st, i, v) : SQLITE_OK;
}

/*
 * Binds a scoped statement: ?1 the subtree, ?3..?9 the campaign periods, and those of the
 * texts ?2, ?10, ?11, ?12 and the number ?13 (when has13; NULL otherwise) it has.
 */
static int store_ind_bind(sqlite3_stmt *st, const struct ind_scope *sc, const char *p2,
                          const char *p10, const char *p11, const char *p12, int has13, double p13)
{
    int rc = sqlite3_bind_int64(st, 1, sc->org_id);
    for (int i = 0; rc == SQLITE_OK && i < IND_PERIODS; i++)
        rc = store_bind_text(st, 3 + i, sc->campaigns[i]);
    if (rc == SQLITE_OK)
        rc = store_ind_text(st, 2, p2);
    if (rc == SQLITE_OK)
        rc = store_ind_text(st, 10, p10);
    if (rc == SQLITE_OK)
        rc = store_ind_text(st, 11, p11);
    if (rc == SQLITE_OK)
        rc = store_ind_text(st, 12, p12);
    if (rc == SQLITE_OK && sqlite3_bind_parameter_count(st) >= 13)
        rc = has13 ? sqlite3_bind_double(st, 13, p13) : sqlite3_bind_null(st, 13);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 15, store_ind_depth(sc));
    return rc;
}

/* Steps a bound statement for its single integer; resets it. */
static int store_ind_one_count(struct store *s, sqlite3_stmt *st, const char *what, long *out,
                               struct err *e)
{
    int rc = STORE_OK;
    if (sqlite3_step(st) == SQLITE_ROW)
        *out = (long)sqlite3_column_int64(st, 0);
    else
        rc = store_fail(s, what, e);
    store_done(st);
    return rc;
}

/* A text column copied into a (NULL stays NULL); sets *oom when out of memory. */
static const char *store_ind_col(sqlite3_stmt *st, int i, struct arena *a, int *oom)
{
    const char *v = (const char *)sqlite3_column_text(st, i);
    if (!v)
        return NULL;
    const char *copy = arena_strdup(a, v);
    if (!copy)
        *oom = 1;
    return copy;
}

int store_ind_tree(struct store *s, struct arena *a, const char *root_code, struct ind_node **out,
                   size_t *n, struct err *e)
{
    const char *what = "read organisation tree";
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = store_ind(s, SI_TREE, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "s", root_code) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    size_t cap = 0;
    struct ind_node *v = NULL;
    int step, oom = 0;
    while (!oom && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct ind_node *nv = arena_realloc(a, v, cap * sizeof *v, ncap * sizeof *v);
            if (!nv) {
                oom = 1;
                break;
            }
            v = nv;
            cap = ncap;
        }
        struct ind_node *node = &v[*n];
        node->id = sqlite3_column_int64(st, 0);
        node->parent_id = sqlite3_column_int64(st, 1);
        node->code = store_ind_col(st, 2, a, &oom);
        node->name = store_ind_col(st, 3, a, &oom);
        node->level = store_ind_col(st, 4, a, &oom);
        node->kind = store_ind_col(st, 5, a, &oom);
        (*n)++;
    }
    store_done(st);
    if (oom) {
        *n = 0;
        return err_set(e, s->path, 0, 0, "store: %s: out of memory", what);
    }
    if (step != SQLITE_DONE) {
        *n = 0;
        return store_fail(s, what, e);
    }
    *out = v;
    if (*n == 0) {
        err_set(e, s->path, 0, 0, "unknown organisation \"%s\"", root_code);
        return STORE_NOT_FOUND;
    }
    return STORE_OK;
}

int store_ind_count_participants(struct store *s, const struct ind_scope *sc,
                                 const struct ind_people *f, long *out, struct err *e)
{
    const char *what = "count participants";
    sqlite3_stmt *st = store_ind(s, SI_COUNT_PEOPLE, what, e);
    if (!st)
        return STORE_ERROR;
    if (sqlite3_bind_int64(st, 1, sc->org_id) != SQLITE_OK ||
        store_bind_text(st, 2, f->role) != SQLITE_OK ||
        store_bind_text(st, 3, f->kind) != SQLITE_OK ||
        store_ind_bind_bound(st, 4, f->age_from) != SQLITE_OK ||
        store_ind_bind_bound(st, 5, f->age_to) != SQLITE_OK ||
        store_ind_bind_bound(st, 6, f->exp_min) != SQLITE_OK ||
        store_ind_bind_bound(st, 7, f->exp_max) != SQLITE_OK ||
        sqlite3_bind_int(st, 8, sc->start_year) != SQLITE_OK ||
        store_bind_text(st, 9, f->form) != SQLITE_OK ||
        sqlite3_bind_int(st, 10, f->in_pairs != 0) != SQLITE_OK ||
        store_bind_text(st, 11, sc->starts) != SQLITE_OK ||
        store_bind_text(st, 12, sc->ends) != SQLITE_OK ||
        sqlite3_bind_int(st, 15, store_ind_depth(sc)) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    return store_ind_one_count(s, st, what, out, e);
}

int store_ind_count_pairs(struct store *s, const struct ind_scope *sc,
                          const struct ind_pair_filter *f, long *out, struct err *e)
{
    const char *what = "count pairs";
    sqlite3_stmt *st = store_ind(s, SI_COUNT_PAIRS, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "ississ", sc->org_id, f->status, f->form, (int64_t)(f->ended != 0),
                   sc->starts, sc->ends) != SQLITE_OK ||
        sqlite3_bind_int(st, 15, store_ind_depth(sc)) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    return store_ind_one_count(s, st, what, out, e);
}

int store_ind_figure(struct store *s, const struct ind_scope *sc, const char *name, double *out,
                     int *found, struct err *e)
{
    const char *what = "read figure";
    sqlite3_stmt *st = store_ind(s, SI_FIGURE, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "issi", sc->org_id, sc->period, name, (int64_t)store_ind_depth(sc)) !=
        SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    int rc = STORE_OK;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *out = sqlite3_column_double(st, 0);
        *found = sqlite3_column_int64(st, 1) > 0;
    } else {
        rc = store_fail(s, what, e);
    }
    store_done(st);
    return rc;
}

int store_ind_partner_orgs(struct store *s, const struct ind_scope *sc, long *out, struct err *e)
{
    const char *what = "count partner organisations";
    sqlite3_stmt *st = store_ind(s, SI_PARTNER_ORGS, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "iss", sc->org_id, sc->starts, sc->ends) != SQLITE_OK ||
        sqlite3_bind_int(st, 15, store_ind_depth(sc)) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    return store_ind_one_count(s, st, what, out, e);
}

int store_ind_summary(struct store *s, const struct ind_scope *sc, const struct ind_measure *m,
                      struct ind_summary *out, struct err *e)
{
    const char *what = m->scale ? "read scale scores" : "read item scores";
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = store_ind(s, m->scale ? SI_SUMMARY_SCALE : SI_SUMMARY_ITEM, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_ind_bind(st, sc, m->survey, m->wave, m->scale ? m->scale : m->item, m->form, 1,
                       m->min) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    int rc = STORE_OK;
    if (sqlite3_step(st) == SQLITE_ROW) {
        out->n = (long)sqlite3_column_int64(st, 0);
        out->sum = sqlite3_column_double(st, 1);
        out->sumsq = sqlite3_column_double(st, 2);
        out->min = sqlite3_column_double(st, 3);
        out->max = sqlite3_column_double(st, 4);
        out->at_least = (long)sqlite3_column_int64(st, 5);
    } else {
        rc = store_fail(s, what, e);
    }
    store_done(st);
    return rc;
}

int store_ind_scores(struct store *s, const struct ind_scope *sc, const struct ind_measure *m,
                     int (*fn)(void *ctx, double value), void *ctx, struct err *e)
{
    const char *what = m->scale ? "read scale scores" : "read item scores";
    sqlite3_stmt *st = store_ind(s, m->scale ? SI_SCORES_SCALE : SI_SCORES_ITEM, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_ind_bind(st, sc, m->survey, m->wave, m->scale ? m->scale : m->item, m->form, 0, 0) !=
        SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(ctx, sqlite3_column_double(st, 0)))
            break;
    int rc = step == SQLITE_ROW || step == SQLITE_DONE ? STORE_OK : store_fail(s, what, e);
    store_done(st);
    return rc;
}

int store_ind_count_responses(struct store *s, const struct ind_scope *sc,
                              const struct ind_measure *m, long *out, struct err *e)
{
    const char *what = "count responses";
    sqlite3_stmt *st = store_ind(s, SI_COUNT_RESPONSES, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_ind_bind(st, sc, m->survey, m->wave, NULL, m->form, 0, 0) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    return store_ind_one_count(s, st, what, out, e);
}

/* A participant's latest entry and final score, while pairing. */
struct store_ind_pairing {
    int64_t pid; /* 0: a free slot */
    int64_t entry_rid, final_rid;
    double entry, final;
    char form[32];
};

struct store_ind_pairs {
    struct store_ind_pairing *slots;
    size_t cap, n;
};

static uint64_t store_ind_slot(int64_t pid, size_t cap)
{
    return ((uint64_t)pid * 0x9E3779B97F4A7C15ULL) & (cap - 1);
}

/* The slot of participant pid, added when new; NULL when out of memory. */
static struct store_ind_pairing *store_ind_pairing(struct store_ind_pairs *p, int64_t pid)
{
    if ((p->n + 1) * 2 > p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 1024;
        struct store_ind_pairing *slots = calloc(cap, sizeof *slots);
        if (!slots)
            return NULL;
        for (size_t i = 0; i < p->cap; i++) {
            if (!p->slots[i].pid)
                continue;
            size_t j = store_ind_slot(p->slots[i].pid, cap);
            while (slots[j].pid)
                j = (j + 1) & (cap - 1);
            slots[j] = p->slots[i];
        }
        free(p->slots);
        p->slots = slots;
        p->cap = cap;
    }
    size_t i = store_ind_slot(pid, p->cap);
    while (p->slots[i].pid && p->slots[i].pid != pid)
        i = (i + 1) & (p->cap - 1);
    if (!p->slots[i].pid) {
        p->slots[i].pid = pid;
        p->n++;
    }
    return &p->slots[i];
}

/* The slot of participant pid, or NULL when it has none. */
static struct store_ind_pairing *store_ind_pairing_find(struct store_ind_pairs *p, int64_t pid)
{
    if (!p->cap)
        return NULL;
    size_t i = store_ind_slot(pid, p->cap);
    while (p->slots[i].pid && p->slots[i].pid != pid)
        i = (i + 1) & (p->cap - 1);
    return p->slots[i].pid ? &p->slots[i] : NULL;
}

static int store_ind_pairing_cmp(const void *a, const void *b)
{
    const struct store_ind_pairing *x = a, *y = b;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

/*
 * Reads the rows of one wave into the pairing: entry rows add participants, final rows only
 * complete those who have an entry. The latest response (highest id) of each wave counts.
 */
static int store_ind_pair_wave(struct store *s, sqlite3_stmt *st, struct store_ind_pairs *p,
                               int final, const char *what, struct err *e)
{
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t pid = sqlite3_column_int64(st, 0);
        int64_t rid = sqlite3_column_int64(st, 1);
        struct store_ind_pairing *x =
            final ? store_ind_pairing_find(p, pid) : store_ind_pairing(p, pid);
        if (!x) {
            if (final)
                continue;
            store_done(st);
            return err_set(e, s->path, 0, 0, "store: %s: out of memory", what);
        }
        if (final && rid > x->final_rid) {
            x->final_rid = rid;
            x->final = sqlite3_column_double(st, 2);
            const char *form = (const char *)sqlite3_column_text(st, 3);
            snprintf(x->form, sizeof x->form, "%s", form ? form : "");
        } else if (!final && rid > x->entry_rid) {
            x->entry_rid = rid;
            x->entry = sqlite3_column_double(st, 2);
        }
    }
    int rc = step == SQLITE_DONE ? STORE_OK : store_fail(s, what, e);
    store_done(st);
    return rc;
}

int store_ind_paired(struct store *s, const struct ind_scope *sc, const struct ind_paired_filter *f,
                     int (*fn)(void *ctx, double entry, double final, const char *form), void *ctx,
                     struct err *e)
{
    const char *what = "read paired scores";
    struct store_ind_pairs p = {0};
    int rc = STORE_OK;
    for (int final = 0; rc == STORE_OK && final <= 1; final++) {
        enum store_ind_stmt id = f->scale ? (final ? SI_PAIRED_SCALE_FINAL : SI_PAIRED_SCALE_ENTRY)
                                          : (final ? SI_PAIRED_ITEM_FINAL : SI_PAIRED_ITEM_ENTRY);
        sqlite3_stmt *st = store_ind(s, id, what, e);
        if (!st) {
            rc = STORE_ERROR;
        } else if (store_ind_bind(st, sc, f->entry_survey, f->final_survey,
                                  f->scale ? f->scale : f->item, f->form, 0, 0) != SQLITE_OK) {
            rc = store_bind_failed(s, st, what, e);
        } else {
            rc = store_ind_pair_wave(s, st, &p, final, what, e);
        }
        if (!p.n)
            break;
    }
    if (rc == STORE_OK && p.n) {
        /* Those who answered both, in participant order. */
        size_t k = 0;
        for (size_t i = 0; i < p.cap; i++)
            if (p.slots[i].pid && p.slots[i].final_rid)
                p.slots[k++] = p.slots[i];
        qsort(p.slots, k, sizeof *p.slots, store_ind_pairing_cmp);
        for (size_t i = 0; i < k; i++)
            if (fn(ctx, p.slots[i].entry, p.slots[i].final,
                   p.slots[i].form[0] ? p.slots[i].form : NULL))
                break;
    }
    free(p.slots);
    return rc;
}

/* Binds a number, or NULL when has is 0. */
static int store_ind_bind_opt(sqlite3_stmt *st, int i, int has, double v)
{
    return has ? sqlite3_bind_double(st, i, v) : sqlite3_bind_null(st, i);
}

int store_ind_put_value(struct store *s, const struct ind_value_rec *v, struct err *e)
{
    const char *what = "store indicator value";
    sqlite3_stmt *st = store_ind(s, SI_VALUE_PUT, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "sssi", v->region, v->indicator, v->period, v->org_id) != SQLITE_OK ||
        store_ind_bind_opt(st, 5, v->has_num, v->num) != SQLITE_OK ||
        store_ind_bind_opt(st, 6, v->has_num, v->den) != SQLITE_OK ||
        store_ind_bind_opt(st, 7, v->has_value, v->value) != SQLITE_OK ||
        store_ind_bind_opt(st, 8, v->has_n, v->n) != SQLITE_OK ||
        store_ind_bind_opt(st, 9, v->has_target, v->target) != SQLITE_OK ||
        store_bind_text(st, 10, v->breakdown) != SQLITE_OK ||
        store_bind_text(st, 11, v->script_hash) != SQLITE_OK ||
        store_bind_text(st, 12, v->error) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    return store_step_done(s, st, what, e);
}

/* Reads a nullable number column into *v, setting *has. */
static void store_ind_opt_col(sqlite3_stmt *st, int i, int *has, double *v)
{
    *has = sqlite3_column_type(st, i) != SQLITE_NULL;
    *v = *has ? sqlite3_column_double(st, i) : 0.0;
}

int store_ind_get_values(struct store *s, struct arena *a, const char *region, const char *period,
                         const char *root_code, struct ind_value_rec **out, size_t *n,
                         struct err *e)
{
    const char *what = "read indicator values";
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = store_ind(s, SI_VALUES_GET, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "sss", region, period, root_code) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    size_t cap = 0;
    struct ind_value_rec *v = NULL;
    int step, oom = 0;
    while (!oom && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct ind_value_rec *nv = arena_realloc(a, v, cap * sizeof *v, ncap * sizeof *v);
            if (!nv) {
                oom = 1;
                break;
            }
            v = nv;
            cap = ncap;
        }
        struct ind_value_rec *r = &v[*n];
        memset(r, 0, sizeof *r);
        r->region = region;
        r->period = period;
        r->indicator = store_ind_col(st, 0, a, &oom);
        r->org_id = sqlite3_column_int64(st, 1);
        r->org_code = store_ind_col(st, 2, a, &oom);
        int has_den;
        store_ind_opt_col(st, 3, &r->has_num, &r->num);
        store_ind_opt_col(st, 4, &has_den, &r->den);
        r->has_num = r->has_num && has_den;
        store_ind_opt_col(st, 5, &r->has_value, &r->value);
        store_ind_opt_col(st, 6, &r->has_n, &r->n);
        store_ind_opt_col(st, 7, &r->has_target, &r->target);
        r->breakdown = store_ind_col(st, 8, a, &oom);
        r->script_hash = store_ind_col(st, 9, a, &oom);
        r->error = store_ind_col(st, 10, a, &oom);
        r->computed_at = store_ind_col(st, 11, a, &oom);
        (*n)++;
    }
    store_done(st);
    if (oom || step != SQLITE_DONE) {
        *n = 0;
        return oom ? err_set(e, s->path, 0, 0, "store: %s: out of memory", what)
                   : store_fail(s, what, e);
    }
    *out = v;
    return STORE_OK;
}

int store_ind_put_run(struct store *s, const struct ind_run_rec *r, int64_t *id, struct err *e)
{
    const char *what = "record indicator run";
    sqlite3_stmt *st = store_ind(s, SI_RUN_PUT, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "ssnsiiiis", r->region, r->period, r->org_id, r->started_at,
                   (int64_t)r->duration_ms, (int64_t)r->memory_kb, (int64_t)r->indicators,
                   (int64_t)r->failures, r->script_hash) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    if (store_step_done(s, st, what, e) != STORE_OK)
        return STORE_ERROR;
    if (id)
        *id = sqlite3_last_insert_rowid(s->db);
    return STORE_OK;
}

int store_ind_last_run(struct store *s, struct arena *a, const char *region,
                       struct ind_run_rec *out, struct err *e)
{
    const char *what = "read indicator run";
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = store_ind(s, SI_RUN_LAST, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "s", region) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    int rc = STORE_NOT_FOUND, oom = 0;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        out->region = store_ind_col(st, 0, a, &oom);
        out->period = store_ind_col(st, 1, a, &oom);
        out->org_id = sqlite3_column_int64(st, 2);
        out->started_at = store_ind_col(st, 3, a, &oom);
        out->duration_ms = (long)sqlite3_column_int64(st, 4);
        out->memory_kb = (long)sqlite3_column_int64(st, 5);
        out->indicators = (long)sqlite3_column_int64(st, 6);
        out->failures = (long)sqlite3_column_int64(st, 7);
        out->script_hash = store_ind_col(st, 8, a, &oom);
        rc = oom ? err_set(e, s->path, 0, 0, "store: %s: out of memory", what) : STORE_OK;
    } else if (step != SQLITE_DONE) {
        rc = store_fail(s, what, e);
    }
    store_done(st);
    return rc;
}

/* Runs a bound fixture insert; a unique constraint means the participant answered already. */
static int store_ind_fx_step(struct store *s, sqlite3_stmt *st, const char *what, struct err *e)
{
    if (sqlite3_step(st) == SQLITE_DONE) {
        store_done(st);
        return STORE_OK;
    }
    int dup = sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_UNIQUE ||
              sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_PRIMARYKEY;
    if (dup)
        err_set(e, s->path, 0, 0, "%s: given twice", what);
    else
        store_fail(s, what, e);
    store_done(st);
    return dup ? STORE_DUPLICATE : STORE_ERROR;
}

static int store_ind_fx_write(struct store *s, const char *participant_code, const char *survey,
                              const char *period, const char *wave,
                              const struct ind_fixture_value *scores, size_t nscores,
                              const struct ind_fixture_value *answers, size_t nanswers,
                              struct err *e)
{
    char what[256], code[256], token[CRYPTO_TOKEN_LEN + 1];
    snprintf(what, sizeof what, "fixture response of %s to %s", participant_code, survey);
    snprintf(code, sizeof code, "fixture/%s/%s/%s", survey, period, wave);
    sqlite3_stmt *st = store_ind(s, SI_FX_CAMPAIGN, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "sssss", code, survey, period, wave, participant_code) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    if (store_step_done(s, st, what, e) != STORE_OK)
        return STORE_ERROR;
    crypto_token(token);
    char hash[65];
    store_token_hash(token, hash);
    if (!(st = store_ind(s, SI_FX_INVITE, what, e)))
        return STORE_ERROR;
    if (store_bind(st, "ssss", token, participant_code, code, hash) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    int rc = store_ind_fx_step(s, st, what, e);
    if (rc != STORE_OK)
        return rc;
    if (sqlite3_changes(s->db) == 0) {
        err_set(e, s->path, 0, 0, "unknown participant \"%s\"", participant_code);
        return STORE_NOT_FOUND;
    }
    int64_t invitation = sqlite3_last_insert_rowid(s->db);
    if (!(st = store_ind(s, SI_FX_RESPONSE, what, e)))
        return STORE_ERROR;
    if (store_bind(st, "i", invitation) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    if ((rc = store_ind_fx_step(s, st, what, e)) != STORE_OK)
        return rc;
    int64_t response = sqlite3_last_insert_rowid(s->db);
    for (size_t i = 0; i < nscores; i++) {
        if (!(st = store_ind(s, SI_FX_SCORE, what, e)))
            return STORE_ERROR;
        if (store_bind(st, "isd", response, scores[i].id, scores[i].value) != SQLITE_OK)
            return store_bind_failed(s, st, what, e);
        if ((rc = store_ind_fx_step(s, st, what, e)) != STORE_OK)
            return rc;
    }
    for (size_t i = 0; i < nanswers; i++) {
        char value[32];
        snprintf(value, sizeof value, "%.15g", answers[i].value);
        if (!(st = store_ind(s, SI_FX_ANSWER, what, e)))
            return STORE_ERROR;
        if (store_bind(st, "iss", response, answers[i].id, value) != SQLITE_OK)
            return store_bind_failed(s, st, what, e);
        if ((rc = store_ind_fx_step(s, st, what, e)) != STORE_OK)
            return rc;
    }
    return STORE_OK;
}

int store_ind_fixture_response(struct store *s, const char *participant_code, const char *survey,
                               const char *period, const char *wave,
                               const struct ind_fixture_value *scores, size_t nscores,
                               const struct ind_fixture_value *answers, size_t nanswers,
                               struct err *e)
{
    int nested;
    if (store_write_begin(s, &nested, "begin fixture response", e) != STORE_OK)
        return STORE_ERROR;
    int rc = store_ind_fx_write(s, participant_code, survey, period, wave, scores, nscores, answers,
                                nanswers, e);
    if (rc == STORE_OK && store_write_commit(s, nested, "commit fixture response", e) != STORE_OK)
        rc = STORE_ERROR;
    if (rc != STORE_OK)
        store_write_rollback(s, nested);
    return rc;
}
