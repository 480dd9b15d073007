/*
 * store_export: the SQL of the exports: responses with their answers and scores, the
 * participants, and the surveys answered in an organisation's subtree, walked one row at a
 * time. Part of the store module; see store.h.
 */
#include "store_int.h"

#include "arena.h"
#include "err.h"

#include <string.h>

enum store_export_stmt {
    SE_RESPONSES,
    SE_ANSWERS,
    SE_SCORES,
    SE_SURVEYS,
    SE_PARTICIPANTS,
    SE_COUNT
};

_Static_assert(SE_COUNT <= STORE_STMTS_PER_FILE, "too many statements for one store file");

/* The organisations below (and including) the one of code ?1. UNION, not UNION ALL: a cycle
 * in the tree ends the recursion instead of looping. */
#define SE_SUBTREE                                                                                 \
    "WITH RECURSIVE sub(id) AS (SELECT id FROM orgs WHERE code = ?1 UNION "                        \
    "SELECT o.id FROM orgs o JOIN sub ON o.parent_id = sub.id) "

/* The municipality m of an organisation o: itself, or its parent. */
#define SE_MUNICIPALITY                                                                            \
    "LEFT JOIN orgs m ON m.id = CASE WHEN o.level = 'municipality' THEN o.id "                     \
    "ELSE o.parent_id END AND m.level = 'municipality' "

/* The responses r of the scope: ?2 the survey, ?3 and ?4 the first and last day. */
#define SE_RESPONSE_FILTER                                                                         \
    "(?2 IS NULL OR r.survey_id = ?2) "                                                            \
    "AND (?3 IS NULL OR substr(r.submitted_at, 1, 10) BETWEEN ?3 AND ?4)"

/*
 * Responses are walked in the order of the responses table (CROSS JOIN fixes it): its pages
 * and those of answers, the largest tables, are then read once, in order, whatever the size of
 * the subtree. Driven from the subtree's participants instead, SQLite would sort the rows by
 * id in a temporary b-tree and read both tables at random: ten times slower for a region.
 */
static const char *const store_export_sql[SE_COUNT] = {
    [SE_RESPONSES] = (SE_SUBTREE "SELECT r.id, p.code, o.code, o.name, m.name, g.form, "
                                 "r.survey_id, r.survey_version, r.survey_hash, r.submitted_at "
                                 "FROM responses r CROSS JOIN invitations i "
                                 "ON i.id = r.invitation_id CROSS JOIN participants p "
                                 "ON p.id = i.participant_id "
                                 "JOIN orgs o ON o.id = p.org_id " SE_MUNICIPALITY
                                 "LEFT JOIN programmes g ON g.id = p.programme_id "
                                 "WHERE p.org_id IN sub AND " SE_RESPONSE_FILTER " ORDER BY r.id"),
    [SE_ANSWERS] = "SELECT response_id, question_id, value FROM answers WHERE response_id >= ?1 "
                   "ORDER BY response_id, question_id",
    [SE_SCORES] = "SELECT response_id, scale_id, value FROM response_scores "
                  "WHERE response_id >= ?1 ORDER BY response_id, scale_id",
    [SE_SURVEYS] = (SE_SUBTREE "SELECT DISTINCT r.survey_id FROM responses r "
                               "JOIN invitations i ON i.id = r.invitation_id "
                               "JOIN participants p ON p.id = i.participant_id "
                               "WHERE p.org_id IN sub AND " SE_RESPONSE_FILTER " ORDER BY 1"),
    [SE_PARTICIPANTS] =
        (SE_SUBTREE "SELECT p.code, p.name, o.code, o.name, m.name, g.code, g.form, p.role, "
                    "p.kind, p.birth_year, p.experience_years, p.consent_date, p.consent_scope, "
                    "p.consent_by, (SELECT count(*) FROM invitations i JOIN responses r "
                    "ON r.invitation_id = i.id WHERE i.participant_id = p.id "
                    "AND " SE_RESPONSE_FILTER ") "
                    "FROM participants p JOIN orgs o ON o.id = p.org_id " SE_MUNICIPALITY
                    "LEFT JOIN programmes g ON g.id = p.programme_id "
                    "WHERE p.org_id IN sub AND (?2 IS NULL OR EXISTS (SELECT 1 FROM invitations i "
                    "WHERE i.participant_id = p.id AND i.survey_id = ?2)) "
                    "AND (?3 IS NULL OR g.year = ?5 OR EXISTS (SELECT 1 FROM pairs pr "
                    "WHERE (pr.mentor_id = p.id OR pr.mentee_id = p.id) AND pr.starts <= ?4 "
                    "AND (pr.ends IS NULL OR pr.ends >= ?3))) "
                    "ORDER BY o.code, p.code"),
};

static sqlite3_stmt *store_exp(struct store *s, enum store_export_stmt id, const char *what,
                               struct err *e)
{
    return store_prep(s, STORE_EXPORT_BASE + id, store_export_sql[id], what, e);
}

static int store_export_bind(struct store *s, sqlite3_stmt *st, const struct store_export_scope *sc,
                             int with_year, const char *what, struct err *e)
{
    int rc = with_year ? store_bind(st, "ssssi", sc->org_code, sc->survey_id, sc->starts, sc->ends,
                                    (int64_t)sc->year)
                       : store_bind(st, "ssss", sc->org_code, sc->survey_id, sc->starts, sc->ends);
    return rc == SQLITE_OK ? STORE_OK : store_bind_failed(s, st, what, e);
}

/* Grows *v (of *cap elements of size) to hold one more than n; NULL when out of memory. */
static void *store_export_grow(struct arena *a, void *v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return v;
    size_t ncap = *cap ? *cap * 2 : 32;
    void *nv = arena_realloc(a, v, *cap * size, ncap * size);
    if (nv)
        *cap = ncap;
    return nv;
}

/*
 * A table of rows per response (answers, scores) read beside the responses, in the same order:
 * its statement stays on the first row of the next response, so a walk over consecutive
 * responses reads it straight through, and seeks only to skip responses outside the scope.
 */
struct store_export_side {
    sqlite3_stmt *st;
    int64_t at; /* the response id of the row st is on; INT64_MAX past the last */
    int started;
};

static int store_export_side_step(struct store *s, struct store_export_side *x, const char *what,
                                  struct err *e)
{
    int step = sqlite3_step(x->st);
    if (step == SQLITE_ROW) {
        x->at = sqlite3_column_int64(x->st, 0);
        return STORE_OK;
    }
    x->at = INT64_MAX;
    return step == SQLITE_DONE ? STORE_OK : store_fail(s, what, e);
}

/* Puts the statement on the first row of response id or after. */
static int store_export_side_seek(struct store *s, struct store_export_side *x, int64_t id,
                                  const char *what, struct err *e)
{
    if (x->started && x->at >= id)
        return STORE_OK;
    sqlite3_reset(x->st);
    if (sqlite3_bind_int64(x->st, 1, id) != SQLITE_OK)
        return store_bind_failed(s, x->st, what, e);
    x->started = 1;
    return store_export_side_step(s, x, what, e);
}

/* The answers of one response, copied into a (the statement moves on before the row goes to
 * the caller). */
static int store_export_answers(struct store *s, struct store_export_side *x, struct arena *a,
                                struct store_export_response *row, const char *what, struct err *e)
{
    struct store_export_item *v = NULL;
    size_t cap = 0, n = 0;
    if (store_export_side_seek(s, x, row->id, what, e) != STORE_OK)
        return STORE_ERROR;
    while (x->at == row->id) {
        if (!(v = store_export_grow(a, v, &cap, n, sizeof *v)))
            return err_set(e, s->path, 0, 0, "store: %s: out of memory", what);
        const char *id = (const char *)sqlite3_column_text(x->st, 1);
        const char *val = (const char *)sqlite3_column_text(x->st, 2);
        v[n].id = arena_strdup(a, id ? id : "");
        v[n].value = arena_strdup(a, val ? val : "");
        if (!v[n].id || !v[n].value)
            return err_set(e, s->path, 0, 0, "store: %s: out of memory", what);
        n++;
        if (store_export_side_step(s, x, what, e) != STORE_OK)
            return STORE_ERROR;
    }
    row->answers = v;
    row->nanswers = n;
    return STORE_OK;
}

/* The scale scores of one response, copied into a. */
static int store_export_scores(struct store *s, struct store_export_side *x, struct arena *a,
                               struct store_export_response *row, const char *what, struct err *e)
{
    struct store_export_score *v = NULL;
    size_t cap = 0, n = 0;
    if (store_export_side_seek(s, x, row->id, what, e) != STORE_OK)
        return STORE_ERROR;
    while (x->at == row->id) {
        if (!(v = store_export_grow(a, v, &cap, n, sizeof *v)))
            return err_set(e, s->path, 0, 0, "store: %s: out of memory", what);
        const char *id = (const char *)sqlite3_column_text(x->st, 1);
        if (!(v[n].id = arena_strdup(a, id ? id : "")))
            return err_set(e, s->path, 0, 0, "store: %s: out of memory", what);
        v[n].value = sqlite3_column_double(x->st, 2);
        n++;
        if (store_export_side_step(s, x, what, e) != STORE_OK)
            return STORE_ERROR;
    }
    row->scores = v;
    row->nscores = n;
    return STORE_OK;
}

int store_export_responses(struct store *s, const struct store_export_scope *sc,
                           int (*fn)(void *ctx, const struct store_export_response *row), void *ctx,
                           struct err *e)
{
    const char *what = "export responses";
    sqlite3_stmt *st = store_exp(s, SE_RESPONSES, what, e);
    struct store_export_side answers = {store_exp(s, SE_ANSWERS, what, e), 0, 0};
    struct store_export_side scores = {store_exp(s, SE_SCORES, what, e), 0, 0};
    if (!st || !answers.st || !scores.st)
        return STORE_ERROR;
    struct arena *a = arena_new();
    if (!a)
        return err_set(e, s->path, 0, 0, "store: %s: out of memory", what);
    if (store_export_bind(s, st, sc, 0, what, e) != STORE_OK) {
        arena_free(a);
        return STORE_ERROR;
    }
    int step, rc = STORE_OK;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_export_response row = {
            .id = sqlite3_column_int64(st, 0),
            .participant_code = (const char *)sqlite3_column_text(st, 1),
            .org_code = (const char *)sqlite3_column_text(st, 2),
            .org_name = (const char *)sqlite3_column_text(st, 3),
            .municipality = (const char *)sqlite3_column_text(st, 4),
            .form = (const char *)sqlite3_column_text(st, 5),
            .survey_id = (const char *)sqlite3_column_text(st, 6),
            .survey_version = (long)sqlite3_column_int64(st, 7),
            .survey_hash = (const char *)sqlite3_column_text(st, 8),
            .submitted_at = (const char *)sqlite3_column_text(st, 9),
        };
        arena_reset(a);
        if (store_export_answers(s, &answers, a, &row, what, e) != STORE_OK ||
            store_export_scores(s, &scores, a, &row, what, e) != STORE_OK) {
            rc = STORE_ERROR;
            break;
        }
        if (fn(ctx, &row) != 0) {
            step = SQLITE_DONE;
            break;
        }
    }
    if (rc == STORE_OK && step != SQLITE_DONE)
        rc = store_fail(s, what, e);
    store_done(st);
    store_done(answers.st);
    store_done(scores.st);
    arena_free(a);
    return rc;
}

int store_export_surveys(struct store *s, struct arena *a, const struct store_export_scope *sc,
                         const char ***ids, size_t *n, struct err *e)
{
    const char *what = "list the surveys of an export";
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *st = store_exp(s, SE_SURVEYS, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_export_bind(s, st, sc, 0, what, e) != STORE_OK)
        return STORE_ERROR;
    size_t cap = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            const char **v = arena_realloc(a, *ids, cap * sizeof **ids, ncap * sizeof **ids);
            if (!v)
                break;
            *ids = v;
            cap = ncap;
        }
        const char *id = (const char *)sqlite3_column_text(st, 0);
        if (!((*ids)[*n] = arena_strdup(a, id ? id : "")))
            break;
        (*n)++;
    }
    store_done(st);
    if (step != SQLITE_DONE)
        return step == SQLITE_ROW ? err_set(e, s->path, 0, 0, "store: %s: out of memory", what)
                                  : store_fail(s, what, e);
    return STORE_OK;
}

int store_export_participants(struct store *s, const struct store_export_scope *sc,
                              int (*fn)(void *ctx, const struct store_export_participant *row),
                              void *ctx, struct err *e)
{
    const char *what = "export participants";
    sqlite3_stmt *st = store_exp(s, SE_PARTICIPANTS, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_export_bind(s, st, sc, 1, what, e) != STORE_OK)
        return STORE_ERROR;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_export_participant row = {
            .code = (const char *)sqlite3_column_text(st, 0),
            .name = (const char *)sqlite3_column_text(st, 1),
            .org_code = (const char *)sqlite3_column_text(st, 2),
            .org_name = (const char *)sqlite3_column_text(st, 3),
            .municipality = (const char *)sqlite3_column_text(st, 4),
            .programme_code = (const char *)sqlite3_column_text(st, 5),
            .form = (const char *)sqlite3_column_text(st, 6),
            .role = (const char *)sqlite3_column_text(st, 7),
            .kind = (const char *)sqlite3_column_text(st, 8),
            .birth_year = sqlite3_column_int(st, 9),
            .experience_years =
                sqlite3_column_type(st, 10) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 10),
            .consent_date = (const char *)sqlite3_column_text(st, 11),
            .consent_scope = (const char *)sqlite3_column_text(st, 12),
            .consent_by = (const char *)sqlite3_column_text(st, 13),
            .responses = (long)sqlite3_column_int64(st, 14),
        };
        if (fn(ctx, &row) != 0) {
            step = SQLITE_DONE;
            break;
        }
    }
    int rc = step == SQLITE_DONE ? STORE_OK : store_fail(s, what, e);
    store_done(st);
    return rc;
}
