/*
 * store_registry: the SQL of the registry (organisations, programmes, participants, pairs,
 * reference figures, invitations). Part of the store module; see store.h.
 *
 * Upserts carry a WHERE on their DO UPDATE that skips rows whose values are all the same,
 * so sqlite3_changes() tells "changed" from "unchanged": re-importing a file reports that
 * nothing changed. When a write changed nothing, a lookup by code tells an unchanged row
 * from a referenced code that does not exist (the SELECT feeding the INSERT yields no row
 * then).
 */
#include "store_int.h"

#include "arena.h"
#include "crypto.h"
#include "err.h"

#include <stdio.h>
#include <string.h>

enum store_reg_stmt {
    SR_ORG_PUT,
    SR_ORG_EXISTS,
    SR_PROGRAMME_PUT,
    SR_PROGRAMME_EXISTS,
    SR_PARTICIPANT_PUT,
    SR_PARTICIPANT_EXISTS,
    SR_PAIR_PUT,
    SR_PAIR_EXISTS,
    SR_MENTOR_MENTEES,
    SR_MENTOR_MAX,
    SR_FIGURE_PUT,
    SR_FIGURE_EXISTS,
    SR_INVITATION_PUT,
    SR_ORG_LEVEL,
    SR_PARTICIPANT_ROLE,
    SR_ORG_GET,
    SR_ORG_CHILDREN,
    SR_ORG_FIRST_REGION,
    SR_ORG_STATS,
    SR_COUNT
};

_Static_assert(SR_COUNT <= STORE_STMTS_PER_FILE, "too many statements for one store file");

static const char *const store_reg_sql[SR_COUNT] = {
    [SR_ORG_PUT] = "INSERT INTO orgs(parent_id, level, code, name, kind, max_mentees) "
                   "SELECT p.id, ?2, ?3, ?4, ?5, ?6 FROM (SELECT 1) LEFT JOIN orgs p "
                   "ON p.code = ?1 WHERE ?1 IS NULL OR p.id IS NOT NULL "
                   "ON CONFLICT(code) DO UPDATE SET parent_id = excluded.parent_id, "
                   "level = excluded.level, name = excluded.name, kind = excluded.kind, "
                   "max_mentees = excluded.max_mentees "
                   "WHERE (orgs.parent_id, orgs.level, orgs.name, orgs.kind, orgs.max_mentees) "
                   "IS NOT (excluded.parent_id, excluded.level, excluded.name, excluded.kind, "
                   "excluded.max_mentees)",
    [SR_ORG_EXISTS] = "SELECT 1 FROM orgs WHERE code = ?1",
    [SR_PROGRAMME_PUT] = "INSERT INTO programmes(org_id, code, form, title, year) "
                         "SELECT o.id, ?2, ?3, ?4, ?5 FROM orgs o WHERE o.code = ?1 "
                         "ON CONFLICT(code) DO UPDATE SET org_id = excluded.org_id, "
                         "form = excluded.form, title = excluded.title, year = excluded.year "
                         "WHERE (programmes.org_id, programmes.form, programmes.title, "
                         "programmes.year) IS NOT (excluded.org_id, excluded.form, "
                         "excluded.title, excluded.year)",
    [SR_PROGRAMME_EXISTS] = "SELECT 1 FROM programmes WHERE code = ?1",
    [SR_PARTICIPANT_PUT] =
        "INSERT INTO participants(code, org_id, programme_id, role, kind, birth_year, "
        "experience_years, name, consent_date, consent_scope, consent_by) "
        "SELECT ?1, o.id, p.id, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11 FROM orgs o "
        "LEFT JOIN programmes p ON p.code = ?3 "
        "WHERE o.code = ?2 AND (?3 IS NULL OR p.id IS NOT NULL) "
        "ON CONFLICT(code) DO UPDATE SET org_id = excluded.org_id, "
        "programme_id = excluded.programme_id, role = excluded.role, kind = excluded.kind, "
        "birth_year = excluded.birth_year, experience_years = excluded.experience_years, "
        "name = excluded.name, consent_date = excluded.consent_date, "
        "consent_scope = excluded.consent_scope, consent_by = excluded.consent_by "
        "WHERE (participants.org_id, participants.programme_id, participants.role, "
        "participants.kind, participants.birth_year, participants.experience_years, "
        "participants.name, participants.consent_date, participants.consent_scope, "
        "participants.consent_by) IS NOT (excluded.org_id, excluded.programme_id, "
        "excluded.role, excluded.kind, excluded.birth_year, excluded.experience_years, "
        "excluded.name, excluded.consent_date, excluded.consent_scope, excluded.consent_by)",
    [SR_PARTICIPANT_EXISTS] = "SELECT 1 FROM participants WHERE code = ?1",
    [SR_PAIR_PUT] = "INSERT INTO pairs(programme_id, mentor_id, mentee_id, starts, ends, status) "
                    "SELECT g.id, m.id, n.id, ?4, ?5, ?6 FROM programmes g, participants m, "
                    "participants n WHERE g.code = ?1 AND m.code = ?2 AND n.code = ?3 "
                    "ON CONFLICT(programme_id, mentor_id, mentee_id) DO UPDATE SET "
                    "starts = excluded.starts, ends = excluded.ends, status = excluded.status "
                    "WHERE (pairs.starts, pairs.ends, pairs.status) IS NOT "
                    "(excluded.starts, excluded.ends, excluded.status)",
    [SR_PAIR_EXISTS] = "SELECT 1 FROM pairs p JOIN programmes g ON g.id = p.programme_id "
                       "JOIN participants m ON m.id = p.mentor_id "
                       "JOIN participants n ON n.id = p.mentee_id "
                       "WHERE g.code = ?1 AND m.code = ?2 AND n.code = ?3",
    [SR_MENTOR_MENTEES] = "SELECT DISTINCT n.code FROM pairs p "
                          "JOIN participants m ON m.id = p.mentor_id "
                          "JOIN participants n ON n.id = p.mentee_id "
                          "WHERE m.code = ?1 AND p.status = 'active' AND n.code IS NOT ?2 "
                          "ORDER BY n.code",
    /* The nearest max_mentees walking up from the mentor's organisation. */
    [SR_MENTOR_MAX] = "WITH RECURSIVE up(id, parent_id, max_mentees, depth) AS ("
                      " SELECT o.id, o.parent_id, o.max_mentees, 0 FROM orgs o"
                      " JOIN participants m ON m.org_id = o.id WHERE m.code = ?1"
                      " UNION ALL SELECT o.id, o.parent_id, o.max_mentees, up.depth + 1"
                      " FROM orgs o JOIN up ON o.id = up.parent_id WHERE up.depth < 16) "
                      "SELECT max_mentees FROM up WHERE max_mentees IS NOT NULL "
                      "ORDER BY depth LIMIT 1",
    [SR_FIGURE_PUT] = "INSERT INTO figures(org_id, period, name, value) "
                      "SELECT o.id, ?2, ?3, ?4 FROM orgs o WHERE o.code = ?1 "
                      "ON CONFLICT(org_id, period, name) DO UPDATE SET value = excluded.value "
                      "WHERE figures.value IS NOT excluded.value",
    [SR_FIGURE_EXISTS] = "SELECT 1 FROM figures f JOIN orgs o ON o.id = f.org_id "
                         "WHERE o.code = ?1 AND f.period = ?2 AND f.name = ?3",
    [SR_INVITATION_PUT] = "INSERT INTO invitations(token, participant_id, survey_id, created_at, "
                          "token_hash) SELECT ?1, p.id, ?3, " STORE_NOW ", ?4 "
                          "FROM participants p WHERE p.code = ?2",
    [SR_ORG_LEVEL] = "SELECT level FROM orgs WHERE code = ?1",
    [SR_PARTICIPANT_ROLE] = "SELECT role FROM participants WHERE code = ?1",
    [SR_ORG_GET] = "SELECT o.id, o.code, o.name, o.level, o.kind, p.code, p.name, g.code, g.name "
                   "FROM orgs o LEFT JOIN orgs p ON p.id = o.parent_id "
                   "LEFT JOIN orgs g ON g.id = p.parent_id WHERE o.code = ?1",
    [SR_ORG_CHILDREN] = "SELECT o.id, o.code, o.name, o.level, o.kind, NULL, NULL, NULL, NULL "
                        "FROM orgs o JOIN orgs p ON p.id = o.parent_id WHERE p.code = ?1 "
                        "ORDER BY o.name",
    [SR_ORG_FIRST_REGION] = "SELECT code FROM orgs WHERE level = 'region' ORDER BY id LIMIT 1",
    /* Participants of a subtree: mentors, mentees, consents, active pairs, programmes. */
    /* The figures kept by triggers (org_counts, store.c), summed over the subtree. */
    [SR_ORG_STATS] = "WITH RECURSIVE sub(id) AS (SELECT id FROM orgs WHERE code = ?1 UNION ALL "
                     "SELECT o.id FROM orgs o JOIN sub ON o.parent_id = sub.id) "
                     "SELECT total(mentors), total(mentees), total(no_consent), "
                     "total(active_pairs), total(programmes) FROM org_counts WHERE org_id IN sub",
};

#define STORE_DEFAULT_MAX_MENTEES 3

static sqlite3_stmt *store_reg(struct store *s, enum store_reg_stmt id, const char *what,
                               struct err *e)
{
    return store_prep(s, STORE_REGISTRY_BASE + id, store_reg_sql[id], what, e);
}

/* Steps a bound lookup: STORE_OK when it yields a row, STORE_NOT_FOUND when none. */
static int store_reg_found(struct store *s, sqlite3_stmt *st, const char *what, struct err *e)
{
    int step = sqlite3_step(st);
    int rc = step == SQLITE_ROW    ? STORE_OK
             : step == SQLITE_DONE ? STORE_NOT_FOUND
                                   : store_fail(s, what, e);
    store_done(st);
    return rc;
}

static int store_code_exists(struct store *s, enum store_reg_stmt id, const char *code,
                             const char *what, struct err *e)
{
    sqlite3_stmt *st = store_reg(s, id, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "s", code) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    return store_reg_found(s, st, what, e);
}

/* A code referenced by a registry write, and the statement that looks it up. */
struct store_ref {
    enum store_reg_stmt exists;
    const char *kind;
    const char *code; /* NULL: no reference */
};

/* How to find the row an upsert writes: a lookup and its one to three key values. */
struct store_self {
    enum store_reg_stmt id;
    const char *key[3];
};

/*
 * Finishes a bound upsert. When it changed no row, the row is either there unchanged or
 * one of refs is unknown. The self lookup is bound only now: it may be the same statement
 * as a reference lookup (an organisation's parent is an organisation).
 */
static int store_upsert(struct store *s, sqlite3_stmt *st, const struct store_self *self,
                        const struct store_ref *refs, size_t n, int *changed, const char *what,
                        struct err *e)
{
    if (changed)
        *changed = 0;
    if (store_step_done(s, st, what, e) != STORE_OK)
        return STORE_ERROR;
    if (sqlite3_changes(s->db) > 0) {
        if (changed)
            *changed = 1;
        return STORE_OK;
    }
    /* References first: an existing row with an unknown new reference is not "unchanged". */
    for (size_t i = 0; i < n; i++) {
        if (!refs[i].code)
            continue;
        int rc = store_code_exists(s, refs[i].exists, refs[i].code, what, e);
        if (rc != STORE_OK) {
            if (rc == STORE_NOT_FOUND)
                err_set(e, s->path, 0, 0, "unknown %s \"%s\"", refs[i].kind, refs[i].code);
            return rc;
        }
    }
    sqlite3_stmt *look = store_reg(s, self->id, what, e);
    if (!look)
        return STORE_ERROR;
    const char *fmt = self->key[2] ? "sss" : self->key[1] ? "ss" : "s";
    if (store_bind(look, fmt, self->key[0], self->key[1], self->key[2]) != SQLITE_OK)
        return store_bind_failed(s, look, what, e);
    int rc = store_reg_found(s, look, what, e);
    if (rc == STORE_NOT_FOUND)
        err_set(e, s->path, 0, 0, "store: %s: nothing was written", what);
    return rc;
}

int store_put_org(struct store *s, const struct org_rec *o, int *changed, struct err *e)
{
    char what[128];
    snprintf(what, sizeof what, "put organisation %s", o->code);
    sqlite3_stmt *st = store_reg(s, SR_ORG_PUT, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "sssssn", o->parent_code, o->level, o->code, o->name, o->kind,
                   (int64_t)o->max_mentees) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    const struct store_ref ref = {SR_ORG_EXISTS, "parent organisation", o->parent_code};
    const struct store_self self = {SR_ORG_EXISTS, {o->code}};
    return store_upsert(s, st, &self, &ref, 1, changed, what, e);
}

int store_put_programme(struct store *s, const char *org_code, const char *code, const char *form,
                        const char *title, int year, int *changed, struct err *e)
{
    char what[128];
    snprintf(what, sizeof what, "put programme %s", code);
    sqlite3_stmt *st = store_reg(s, SR_PROGRAMME_PUT, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "ssssi", org_code, code, form, title, (int64_t)year) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    const struct store_ref ref = {SR_ORG_EXISTS, "organisation", org_code};
    const struct store_self self = {SR_PROGRAMME_EXISTS, {code}};
    return store_upsert(s, st, &self, &ref, 1, changed, what, e);
}

int store_put_participant(struct store *s, const struct participant_rec *p, int *changed,
                          struct err *e)
{
    char what[128];
    snprintf(what, sizeof what, "put participant %s", p->code);
    sqlite3_stmt *st = store_reg(s, SR_PARTICIPANT_PUT, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "sssssn", p->code, p->org_code, p->programme_code, p->role, p->kind,
                   (int64_t)p->birth_year) != SQLITE_OK ||
        (p->experience_years >= 0 ? sqlite3_bind_int(st, 7, p->experience_years)
                                  : sqlite3_bind_null(st, 7)) != SQLITE_OK ||
        store_bind_text(st, 8, p->name) != SQLITE_OK ||
        store_bind_text(st, 9, p->consent_date) != SQLITE_OK ||
        store_bind_text(st, 10, p->consent_scope) != SQLITE_OK ||
        store_bind_text(st, 11, p->consent_by) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    const struct store_ref refs[] = {
        {SR_ORG_EXISTS, "organisation", p->org_code},
        {SR_PROGRAMME_EXISTS, "programme", p->programme_code},
    };
    const struct store_self self = {SR_PARTICIPANT_EXISTS, {p->code}};
    return store_upsert(s, st, &self, refs, sizeof refs / sizeof refs[0], changed, what, e);
}

int store_put_pair(struct store *s, const struct pair_rec *p, int *changed, struct err *e)
{
    char what[160];
    snprintf(what, sizeof what, "put pair %s-%s", p->mentor_code, p->mentee_code);
    sqlite3_stmt *st = store_reg(s, SR_PAIR_PUT, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "ssssss", p->programme_code, p->mentor_code, p->mentee_code, p->starts,
                   p->ends, p->status) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    const struct store_ref refs[] = {
        {SR_PROGRAMME_EXISTS, "programme", p->programme_code},
        {SR_PARTICIPANT_EXISTS, "mentor", p->mentor_code},
        {SR_PARTICIPANT_EXISTS, "mentee", p->mentee_code},
    };
    const struct store_self self = {SR_PAIR_EXISTS,
                                    {p->programme_code, p->mentor_code, p->mentee_code}};
    return store_upsert(s, st, &self, refs, sizeof refs / sizeof refs[0], changed, what, e);
}

int store_mentor_load(struct store *s, struct arena *a, const char *mentor_code,
                      const char *except_code, const char ***mentees, size_t *n, int *max,
                      struct err *e)
{
    const char *what = "load mentor";
    *mentees = NULL;
    *n = 0;
    *max = STORE_DEFAULT_MAX_MENTEES;
    sqlite3_stmt *st = store_reg(s, SR_MENTOR_MAX, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "s", mentor_code) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        *max = sqlite3_column_int(st, 0);
    store_done(st);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        return store_fail(s, what, e);

    st = store_reg(s, SR_MENTOR_MENTEES, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "ss", mentor_code, except_code) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    size_t cap = 0;
    const char **v = NULL;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            const char **nv = arena_realloc(a, v, cap * sizeof *v, ncap * sizeof *v);
            if (!nv)
                break;
            v = nv;
            cap = ncap;
        }
        const char *code = (const char *)sqlite3_column_text(st, 0);
        if (!code || !(v[*n] = arena_strdup(a, code)))
            break;
        (*n)++;
    }
    store_done(st);
    if (step != SQLITE_DONE)
        return step == SQLITE_ROW ? err_set(e, s->path, 0, 0, "store: %s: out of memory", what)
                                  : store_fail(s, what, e);
    *mentees = v;
    return STORE_OK;
}

int store_put_figure(struct store *s, const struct figure_rec *f, int *changed, struct err *e)
{
    char what[160];
    snprintf(what, sizeof what, "put figure %s of %s", f->name, f->org_code);
    sqlite3_stmt *st = store_reg(s, SR_FIGURE_PUT, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "sssd", f->org_code, f->period, f->name, f->value) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    const struct store_ref ref = {SR_ORG_EXISTS, "organisation", f->org_code};
    const struct store_self self = {SR_FIGURE_EXISTS, {f->org_code, f->period, f->name}};
    return store_upsert(s, st, &self, &ref, 1, changed, what, e);
}

int store_put_invitation(struct store *s, const char *participant_code, const char *survey_id,
                         char token_out[23], struct err *e)
{
    char what[128];
    snprintf(what, sizeof what, "put invitation for %s", participant_code);
    sqlite3_stmt *st = store_reg(s, SR_INVITATION_PUT, what, e);
    if (!st)
        return STORE_ERROR;
    char token[CRYPTO_TOKEN_LEN + 1], hash[65];
    crypto_token(token);
    store_token_hash(token, hash);
    if (store_bind(st, "ssss", token, participant_code, survey_id, hash) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    if (store_step_done(s, st, what, e) != STORE_OK)
        return STORE_ERROR;
    if (sqlite3_changes(s->db) == 0) {
        err_set(e, s->path, 0, 0, "unknown participant \"%s\"", participant_code);
        return STORE_NOT_FOUND;
    }
    memcpy(token_out, token, sizeof token);
    return STORE_OK;
}

int store_org_exists(struct store *s, const char *code, struct err *e)
{
    return store_code_exists(s, SR_ORG_EXISTS, code, "look up organisation", e);
}

/* Copies the one text column of a lookup by code into out. */
static int store_lookup_text(struct store *s, enum store_reg_stmt id, const char *code, char *out,
                             size_t size, const char *what, struct err *e)
{
    sqlite3_stmt *st = store_reg(s, id, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "s", code) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    int step = sqlite3_step(st);
    int rc = STORE_NOT_FOUND;
    if (step == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        snprintf(out, size, "%s", v ? v : "");
        rc = STORE_OK;
    } else if (step != SQLITE_DONE) {
        rc = store_fail(s, what, e);
    }
    store_done(st);
    return rc;
}

int store_org_level(struct store *s, const char *code, char out[16], struct err *e)
{
    return store_lookup_text(s, SR_ORG_LEVEL, code, out, 16, "look up organisation", e);
}

int store_participant_role(struct store *s, const char *code, char out[16], struct err *e)
{
    return store_lookup_text(s, SR_PARTICIPANT_ROLE, code, out, 16, "look up participant", e);
}

static int store_org_read(sqlite3_stmt *st, struct arena *a, struct org_info *out)
{
    int oom = 0;
    const char *cols[8];
    for (int i = 0; i < 8; i++) {
        const char *v = (const char *)sqlite3_column_text(st, i + 1);
        cols[i] = v ? arena_strdup(a, v) : NULL;
        oom |= v && !cols[i];
    }
    out->id = sqlite3_column_int64(st, 0);
    out->code = cols[0];
    out->name = cols[1];
    out->level = cols[2];
    out->kind = cols[3];
    out->parent_code = cols[4];
    out->parent_name = cols[5];
    out->grandparent_code = cols[6];
    out->grandparent_name = cols[7];
    return oom ? -1 : 0;
}

int store_org_get(struct store *s, struct arena *a, const char *code, struct org_info *out,
                  struct err *e)
{
    const char *what = "read organisation";
    sqlite3_stmt *st = store_reg(s, SR_ORG_GET, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "s", code) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    int step = sqlite3_step(st);
    int rc = STORE_NOT_FOUND;
    if (step == SQLITE_ROW)
        rc = store_org_read(st, a, out) == 0
                 ? STORE_OK
                 : err_set(e, s->path, 0, 0, "store: %s: out of memory", what);
    else if (step != SQLITE_DONE)
        rc = store_fail(s, what, e);
    store_done(st);
    return rc;
}

static int store_org_row(sqlite3_stmt *st, struct arena *a, void *row)
{
    return store_org_read(st, a, row);
}

int store_org_children(struct store *s, struct arena *a, const char *code, struct org_info **out,
                       size_t *n, struct err *e)
{
    const char *what = "list organisations";
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = store_reg(s, SR_ORG_CHILDREN, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "s", code) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    void *rows;
    int rc = store_collect(s, st, a, sizeof **out, store_org_row, &rows, n, what, e);
    *out = rows;
    return rc;
}

int store_org_first_region(struct store *s, char *out, size_t size, struct err *e)
{
    const char *what = "find a region";
    sqlite3_stmt *st = store_reg(s, SR_ORG_FIRST_REGION, what, e);
    if (!st)
        return STORE_ERROR;
    int step = sqlite3_step(st);
    int rc = STORE_NOT_FOUND;
    if (step == SQLITE_ROW) {
        snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
        rc = STORE_OK;
    } else if (step != SQLITE_DONE) {
        rc = store_fail(s, what, e);
    }
    store_done(st);
    return rc;
}

int store_org_stats(struct store *s, const char *code, struct org_stats *out, struct err *e)
{
    const char *what = "count participants";
    sqlite3_stmt *st = store_reg(s, SR_ORG_STATS, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "s", code) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    int rc = STORE_OK;
    if (sqlite3_step(st) == SQLITE_ROW) {
        out->mentors = (long)sqlite3_column_int64(st, 0);
        out->mentees = (long)sqlite3_column_int64(st, 1);
        out->no_consent = (long)sqlite3_column_int64(st, 2);
        out->active_pairs = (long)sqlite3_column_int64(st, 3);
        out->programmes = (long)sqlite3_column_int64(st, 4);
    } else {
        rc = store_fail(s, what, e);
    }
    store_done(st);
    return rc;
}
