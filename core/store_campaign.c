/*
 * store_campaign: the SQL of questionnaire campaigns, their invitations, response rates and
 * the erasure of a participant. Part of the store module; see store.h.
 */
#include "store_int.h"

#include "arena.h"
#include "crypto.h"
#include "err.h"

#include <stdio.h>
#include <string.h>

enum store_campaign_stmt {
    SC_PUT,
    SC_GET,
    SC_LIST,
    SC_STATUS,
    SC_TARGETS,
    SC_INVITE,
    SC_RATES,
    SC_LINKS,
    SC_REVOKE,
    SC_ERASE_RESPONSES,
    SC_ERASE_INVITATIONS,
    SC_ERASE_PARTICIPANT,
    SC_FOR_ORG,
    SC_COUNT
};

_Static_assert(SC_COUNT <= STORE_STMTS_PER_FILE, "too many statements for one store file");

/* The columns store_campaign_read() expects, in order; the counts are campaign_counts'
 * (kept by triggers, store.c), summed over the organisations filter keeps. */
#define SC_COLUMNS_WHERE(filter)                                                                   \
    "SELECT c.code, c.survey_id, o.code, c.period, c.wave, c.role, c.form, c.opens, c.closes, "    \
    "c.status, coalesce(k.invited, 0), coalesce(k.started, 0), coalesce(k.completed, 0) "          \
    "FROM campaigns c JOIN orgs o ON o.id = c.org_id LEFT JOIN (SELECT campaign_id, "              \
    "sum(invited) AS invited, sum(started) AS started, sum(completed) AS completed "               \
    "FROM campaign_counts " filter " GROUP BY campaign_id) k ON k.campaign_id = c.id "

#define SC_COLUMNS SC_COLUMNS_WHERE("")

/* The organisations below (and including) the one of code ?N. */
#define SC_SUBTREE(n)                                                                              \
    "WITH RECURSIVE sub(id) AS (SELECT id FROM orgs WHERE code = ?" #n " UNION ALL "               \
    "SELECT o.id FROM orgs o JOIN sub ON o.parent_id = sub.id) "

/* The columns of SC_COLUMNS, counted only within the subtree sub of an organisation. */
#define SC_COLUMNS_IN_SUB SC_COLUMNS_WHERE("WHERE org_id IN sub")

static const char *const store_campaign_sql[SC_COUNT] = {
    [SC_PUT] = ("INSERT INTO campaigns(code, survey_id, org_id, period, wave, role, form, opens, "
                "closes, status, created_at) SELECT ?1, ?2, o.id, ?4, ?5, ?6, ?7, ?8, ?9, "
                "'draft', " STORE_NOW " FROM orgs o WHERE o.code = ?3 "
                "ON CONFLICT(code) DO UPDATE SET survey_id = excluded.survey_id, "
                "org_id = excluded.org_id, period = excluded.period, wave = excluded.wave, "
                "role = excluded.role, form = excluded.form, opens = excluded.opens, "
                "closes = excluded.closes WHERE campaigns.status = 'draft'"),
    [SC_GET] = (SC_COLUMNS "WHERE c.code = ?1"),
    [SC_LIST] = (SC_COLUMNS "ORDER BY c.id DESC"),
    [SC_STATUS] = "UPDATE campaigns SET status = ?2 WHERE code = ?1",
    /* Targeted participants not yet invited: (id, consent recorded). A participant of a
     * programme is targeted only by the campaigns of its school year (or of a year it has a
     * pair in): last year's mentees are not asked about this year's programme. */
    [SC_TARGETS] = (SC_SUBTREE(1) "SELECT p.id, p.consent_date IS NOT NULL "
                                  "FROM campaigns c, participants p "
                                  "WHERE c.code = ?2 AND p.org_id IN sub "
                                  "AND (c.role IS NULL OR p.role = c.role) "
                                  "AND (c.form IS NULL OR EXISTS (SELECT 1 FROM programmes g "
                                  "WHERE g.form = c.form AND (g.id = p.programme_id OR g.id IN "
                                  "(SELECT programme_id FROM pairs WHERE mentor_id = p.id "
                                  "OR mentee_id = p.id)))) "
                                  "AND (p.programme_id IS NULL OR EXISTS (SELECT 1 FROM "
                                  "programmes g WHERE g.year = CAST(substr(c.period, 1, 4) AS "
                                  "INTEGER) AND (g.id = p.programme_id OR g.id IN (SELECT "
                                  "programme_id FROM pairs WHERE mentor_id = p.id "
                                  "OR mentee_id = p.id)))) "
                                  "AND NOT EXISTS (SELECT 1 FROM invitations i "
                                  "WHERE i.campaign_id = c.id AND i.participant_id = p.id) "
                                  "ORDER BY p.id"),
    [SC_INVITE] = ("INSERT INTO invitations(token, participant_id, campaign_id, survey_id, "
                   "created_at, token_hash) SELECT ?1, ?2, c.id, c.survey_id, " STORE_NOW ", ?4 "
                   "FROM campaigns c WHERE c.code = ?3"),
    [SC_RATES] = (SC_SUBTREE(2) "SELECT o.code, o.name, k.invited, k.started, k.completed "
                                "FROM campaign_counts k JOIN campaigns c ON c.id = k.campaign_id "
                                "JOIN orgs o ON o.id = k.org_id "
                                "WHERE c.code = ?1 AND (?2 IS NULL OR k.org_id IN sub) "
                                "ORDER BY o.name"),
    [SC_LINKS] = (SC_SUBTREE(2) "SELECT p.code, p.name, o.code, o.name, i.token, r.id IS NOT NULL, "
                                "d.invitation_id IS NOT NULL, i.revoked_at IS NOT NULL "
                                "FROM invitations i JOIN campaigns c ON c.id = i.campaign_id "
                                "JOIN participants p ON p.id = i.participant_id "
                                "JOIN orgs o ON o.id = p.org_id "
                                "LEFT JOIN drafts d ON d.invitation_id = i.id "
                                "LEFT JOIN responses r ON r.invitation_id = i.id "
                                "WHERE c.code = ?1 AND (?2 IS NULL OR p.org_id IN sub) "
                                "ORDER BY o.code, p.code"),
    [SC_REVOKE] = "UPDATE invitations INDEXED BY invitations_token_hash SET revoked_at = " STORE_NOW
                  " WHERE token_hash = ?1 AND revoked_at IS NULL",
    [SC_ERASE_RESPONSES] = ("DELETE FROM responses WHERE invitation_id IN (SELECT i.id FROM "
                            "invitations i JOIN participants p ON p.id = i.participant_id "
                            "WHERE p.code = ?1)"),
    [SC_ERASE_INVITATIONS] = ("DELETE FROM invitations WHERE participant_id IN "
                              "(SELECT id FROM participants WHERE code = ?1)"),
    [SC_ERASE_PARTICIPANT] = ("DELETE FROM participants WHERE code = ?1"),
    /* Campaigns that reach an organisation: sent from it, from above it or from below it. */
    [SC_FOR_ORG] =
        ("WITH RECURSIVE sub(id) AS (SELECT id FROM orgs WHERE code = ?1 UNION ALL "
         "SELECT o.id FROM orgs o JOIN sub ON o.parent_id = sub.id), "
         "up(id, parent_id, depth) AS (SELECT id, parent_id, 0 FROM orgs "
         "WHERE code = ?1 UNION ALL SELECT o.id, o.parent_id, up.depth + 1 "
         "FROM orgs o JOIN up ON o.id = up.parent_id WHERE up.depth < 16) " SC_COLUMNS_IN_SUB
         "WHERE c.org_id IN (SELECT id FROM up) OR c.org_id IN sub "
         "ORDER BY c.id DESC"),
};

static sqlite3_stmt *store_camp(struct store *s, enum store_campaign_stmt id, const char *what,
                                struct err *e)
{
    return store_prep(s, STORE_CAMPAIGN_BASE + id, store_campaign_sql[id], what, e);
}

/* A text column copied into a (NULL stays NULL); sets *oom on allocation failure. */
static const char *store_col(sqlite3_stmt *st, int i, struct arena *a, int *oom)
{
    const char *v = (const char *)sqlite3_column_text(st, i);
    if (!v)
        return NULL;
    const char *copy = arena_strdup(a, v);
    if (!copy)
        *oom = 1;
    return copy;
}

static int store_campaign_read(sqlite3_stmt *st, struct arena *a, struct campaign_info *out)
{
    int oom = 0;
    memset(out, 0, sizeof *out);
    out->rec.code = store_col(st, 0, a, &oom);
    out->rec.survey_id = store_col(st, 1, a, &oom);
    out->rec.org_code = store_col(st, 2, a, &oom);
    out->rec.period = store_col(st, 3, a, &oom);
    out->rec.wave = store_col(st, 4, a, &oom);
    out->rec.role = store_col(st, 5, a, &oom);
    out->rec.form = store_col(st, 6, a, &oom);
    out->rec.opens = store_col(st, 7, a, &oom);
    out->rec.closes = store_col(st, 8, a, &oom);
    out->status = store_col(st, 9, a, &oom);
    out->invited = (long)sqlite3_column_int64(st, 10);
    out->started = (long)sqlite3_column_int64(st, 11);
    out->completed = (long)sqlite3_column_int64(st, 12);
    return oom ? -1 : 0;
}

int store_put_campaign(struct store *s, const struct campaign_rec *c, struct err *e)
{
    char what[128];
    snprintf(what, sizeof what, "put campaign %s", c->code);
    sqlite3_stmt *st = store_camp(s, SC_PUT, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "sssssssss", c->code, c->survey_id, c->org_code, c->period, c->wave, c->role,
                   c->form, c->opens, c->closes) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    if (store_step_done(s, st, what, e) != STORE_OK)
        return STORE_ERROR;
    if (sqlite3_changes(s->db) > 0)
        return STORE_OK;
    struct arena *a = arena_new();
    struct campaign_info info;
    int rc = a ? store_campaign_get(s, a, c->code, &info, e) : STORE_ERROR;
    if (rc == STORE_OK)
        err_set(e, s->path, 0, 0,
                "campaign %s is %s: its survey, organisation, period and dates can no longer "
                "change (create a new campaign)",
                c->code, info.status);
    else if (rc == STORE_NOT_FOUND)
        err_set(e, s->path, 0, 0, "unknown organisation \"%s\"", c->org_code);
    arena_free(a);
    return rc == STORE_OK ? STORE_DUPLICATE : rc;
}

int store_campaign_get(struct store *s, struct arena *a, const char *code,
                       struct campaign_info *out, struct err *e)
{
    const char *what = "read campaign";
    sqlite3_stmt *st = store_camp(s, SC_GET, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "s", code) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    int step = sqlite3_step(st);
    int rc = STORE_NOT_FOUND;
    if (step == SQLITE_ROW)
        rc = store_campaign_read(st, a, out) == 0
                 ? STORE_OK
                 : err_set(e, s->path, 0, 0, "store: %s: out of memory", what);
    else if (step != SQLITE_DONE)
        rc = store_fail(s, what, e);
    store_done(st);
    if (rc == STORE_NOT_FOUND)
        err_set(e, s->path, 0, 0, "unknown campaign \"%s\"", code);
    return rc;
}

static int store_campaign_row(sqlite3_stmt *st, struct arena *a, void *row)
{
    return store_campaign_read(st, a, row);
}

int store_campaign_list(struct store *s, struct arena *a, const char *org_code,
                        struct campaign_info **out, size_t *n, struct err *e)
{
    const char *what = "list campaigns";
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = store_camp(s, org_code ? SC_FOR_ORG : SC_LIST, what, e);
    if (!st)
        return STORE_ERROR;
    if (org_code && store_bind(st, "s", org_code) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    void *rows;
    int rc = store_collect(s, st, a, sizeof **out, store_campaign_row, &rows, n, what, e);
    *out = rows;
    return rc;
}

static int store_campaign_status(struct store *s, const char *code, const char *status,
                                 struct err *e)
{
    const char *what = "set campaign status";
    sqlite3_stmt *st = store_camp(s, SC_STATUS, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "ss", code, status) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    if (store_step_done(s, st, what, e) != STORE_OK)
        return STORE_ERROR;
    if (sqlite3_changes(s->db) == 0) {
        err_set(e, s->path, 0, 0, "unknown campaign \"%s\"", code);
        return STORE_NOT_FOUND;
    }
    return STORE_OK;
}

static int store_campaign_invite(struct store *s, const char *code, long *invited, long *no_consent,
                                 struct err *e)
{
    const char *what = "invite participants";
    sqlite3_stmt *targets = store_camp(s, SC_TARGETS, what, e);
    sqlite3_stmt *ins = store_camp(s, SC_INVITE, what, e);
    if (!targets || !ins)
        return STORE_ERROR;
    struct arena *a = arena_new();
    struct campaign_info info;
    int rc = a ? store_campaign_get(s, a, code, &info, e) : STORE_ERROR;
    if (rc != STORE_OK) {
        arena_free(a);
        return rc;
    }
    if (store_bind(targets, "ss", info.rec.org_code, code) != SQLITE_OK) {
        arena_free(a);
        return store_bind_failed(s, targets, what, e);
    }
    int step;
    while ((step = sqlite3_step(targets)) == SQLITE_ROW) {
        if (!sqlite3_column_int(targets, 1)) {
            (*no_consent)++;
            continue;
        }
        char token[CRYPTO_TOKEN_LEN + 1], hash[65];
        crypto_token(token);
        store_token_hash(token, hash);
        if (store_bind(ins, "siss", token, (int64_t)sqlite3_column_int64(targets, 0), code, hash) !=
            SQLITE_OK) {
            store_done(targets);
            arena_free(a);
            return store_bind_failed(s, ins, what, e);
        }
        if (store_step_done(s, ins, what, e) != STORE_OK) {
            store_done(targets);
            arena_free(a);
            return STORE_ERROR;
        }
        (*invited)++;
    }
    rc = step == SQLITE_DONE ? STORE_OK : store_fail(s, what, e);
    store_done(targets);
    arena_free(a);
    return rc;
}

int store_campaign_open(struct store *s, const char *code, long *invited, long *no_consent,
                        struct err *e)
{
    *invited = *no_consent = 0;
    int nested;
    if (store_write_begin(s, &nested, "open campaign", e) != STORE_OK)
        return STORE_ERROR;
    int rc = store_campaign_status(s, code, "open", e);
    if (rc == STORE_OK)
        rc = store_campaign_invite(s, code, invited, no_consent, e);
    if (rc == STORE_OK && store_write_commit(s, nested, "open campaign", e) == STORE_OK)
        return STORE_OK;
    store_write_rollback(s, nested);
    *invited = *no_consent = 0;
    return rc == STORE_OK ? STORE_ERROR : rc;
}

int store_campaign_close(struct store *s, const char *code, struct err *e)
{
    return store_campaign_status(s, code, "closed", e);
}

static int store_rate_row(sqlite3_stmt *st, struct arena *a, void *out)
{
    struct rate_row *row = out;
    int oom = 0;
    row->org_code = store_col(st, 0, a, &oom);
    row->org_name = store_col(st, 1, a, &oom);
    row->invited = (long)sqlite3_column_int64(st, 2);
    row->started = (long)sqlite3_column_int64(st, 3);
    row->completed = (long)sqlite3_column_int64(st, 4);
    return oom ? -1 : 0;
}

int store_campaign_rates(struct store *s, struct arena *a, const char *code, const char *org_code,
                         struct rate_row **out, size_t *n, struct err *e)
{
    const char *what = "read response rates";
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = store_camp(s, SC_RATES, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "ss", code, org_code) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    void *rows;
    int rc = store_collect(s, st, a, sizeof **out, store_rate_row, &rows, n, what, e);
    *out = rows;
    return rc;
}

int store_campaign_links(struct store *s, const char *code, const char *org_code,
                         int (*fn)(void *ctx, const struct link_row *row), void *ctx, struct err *e)
{
    const char *what = "list invitations";
    sqlite3_stmt *st = store_camp(s, SC_LINKS, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "ss", code, org_code) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct link_row row = {
            .participant_code = (const char *)sqlite3_column_text(st, 0),
            .participant_name = (const char *)sqlite3_column_text(st, 1),
            .org_code = (const char *)sqlite3_column_text(st, 2),
            .org_name = (const char *)sqlite3_column_text(st, 3),
            .token = (const char *)sqlite3_column_text(st, 4),
            .answered = sqlite3_column_int(st, 5),
            .started = sqlite3_column_int(st, 6),
            .revoked = sqlite3_column_int(st, 7),
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

int store_revoke_invitation(struct store *s, const char *token, struct err *e)
{
    const char *what = "revoke invitation";
    sqlite3_stmt *st = store_camp(s, SC_REVOKE, what, e);
    if (!st)
        return STORE_ERROR;
    char hash[65];
    store_token_hash(token, hash);
    if (store_bind(st, "s", hash) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    if (store_step_done(s, st, what, e) != STORE_OK)
        return STORE_ERROR;
    if (sqlite3_changes(s->db) == 0) {
        err_set(e, s->path, 0, 0, "no active invitation has this token");
        return STORE_NOT_FOUND;
    }
    return STORE_OK;
}

int store_erase_participant(struct store *s, const char *code, long *responses, struct err *e)
{
    static const enum store_campaign_stmt steps[] = {SC_ERASE_RESPONSES, SC_ERASE_INVITATIONS,
                                                     SC_ERASE_PARTICIPANT};
    const char *what = "erase participant";
    *responses = 0;
    int nested;
    if (store_write_begin(s, &nested, what, e) != STORE_OK)
        return STORE_ERROR;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        sqlite3_stmt *st = store_camp(s, steps[i], what, e);
        if (!st)
            goto fail;
        if (store_bind(st, "s", code) != SQLITE_OK) {
            store_bind_failed(s, st, what, e);
            goto fail;
        }
        if (store_step_done(s, st, what, e) != STORE_OK)
            goto fail;
        if (steps[i] == SC_ERASE_RESPONSES)
            *responses = sqlite3_changes(s->db);
        if (steps[i] == SC_ERASE_PARTICIPANT && sqlite3_changes(s->db) == 0) {
            store_write_rollback(s, nested);
            *responses = 0;
            err_set(e, s->path, 0, 0, "unknown participant \"%s\"", code);
            return STORE_NOT_FOUND;
        }
    }
    if (store_write_commit(s, nested, what, e) == STORE_OK)
        return STORE_OK;
fail:
    store_write_rollback(s, nested);
    *responses = 0;
    return STORE_ERROR;
}
