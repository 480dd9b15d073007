/*
 * store_report: the SQL of the reports that are not indicators: the yearly count of
 * participants for federal statistics, and the programmes with their pairs (the last step
 * of the dashboards' drill-down). Part of the store module; see store.h.
 */
#include "store_int.h"

#include "arena.h"
#include "err.h"

#include <string.h>

enum store_report_stmt { SR_FEDERAL, SR_PROGRAMMES, SR_PROGRAMME, SR_PROGRAMME_PAIRS, SR_COUNT };

_Static_assert(SR_COUNT <= STORE_STMTS_PER_FILE, "too many statements for one store file");

/* A programme with its organisation and the counts of its people and pairs. */
#define SR_PROGRAMME_COLUMNS                                                                       \
    "SELECT g.code, g.title, g.form, o.code, o.name, g.year, o.id, "                               \
    "(SELECT count(*) FROM participants p WHERE p.programme_id = g.id AND p.role = 'mentor'), "    \
    "(SELECT count(*) FROM participants p WHERE p.programme_id = g.id AND p.role = 'mentee'), "    \
    "(SELECT count(*) FROM pairs x WHERE x.programme_id = g.id AND x.status = 'active'), "         \
    "(SELECT count(*) FROM pairs x WHERE x.programme_id = g.id AND x.status = 'finished'), "       \
    "(SELECT count(*) FROM pairs x WHERE x.programme_id = g.id AND x.status = 'broken') "          \
    "FROM programmes g JOIN orgs o ON o.id = g.org_id "

/*
 * Participants of the subtree of ?1 in programmes of the school year starting in ?2, by form,
 * role and age reached in calendar year ?2 (-1: no birth year). UNION, not UNION ALL: a
 * cycle in the tree ends the recursion instead of looping.
 */
static const char *const store_report_sql[SR_COUNT] = {
    [SR_FEDERAL] = "WITH RECURSIVE sub(id) AS (SELECT id FROM orgs WHERE code = ?1 UNION "
                   "SELECT o.id FROM orgs o JOIN sub ON o.parent_id = sub.id) "
                   "SELECT g.form, p.role, coalesce(?2 - p.birth_year, -1), count(*) "
                   "FROM participants p JOIN programmes g ON g.id = p.programme_id "
                   "WHERE p.org_id IN sub AND g.year = ?2 AND p.role IN ('mentor', 'mentee') "
                   "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    [SR_PROGRAMMES] =
        "WITH RECURSIVE sub(id) AS (SELECT id FROM orgs WHERE code = ?1 UNION "
        "SELECT o.id FROM orgs o JOIN sub ON o.parent_id = sub.id) " SR_PROGRAMME_COLUMNS
        "WHERE g.org_id IN sub AND g.year = ?2 "
        "ORDER BY o.name, g.title, g.code",
    [SR_PROGRAMME] = SR_PROGRAMME_COLUMNS "WHERE g.code = ?1",
    /* Mentors first, by code; each mentor's mentees under them. */
    [SR_PROGRAMME_PAIRS] = "SELECT m.code, m.name, t.code, t.name, x.starts, x.ends, x.status "
                           "FROM pairs x JOIN programmes g ON g.id = x.programme_id "
                           "JOIN participants m ON m.id = x.mentor_id "
                           "JOIN participants t ON t.id = x.mentee_id "
                           "WHERE g.code = ?1 ORDER BY m.code, x.starts, t.code",
};

static sqlite3_stmt *store_rep(struct store *s, enum store_report_stmt id, const char *what,
                               struct err *e)
{
    return store_prep(s, STORE_REPORT_BASE + (int)id, store_report_sql[id], what, e);
}

static int store_federal_row(sqlite3_stmt *st, struct arena *a, void *out)
{
    struct federal_count *row = out;
    const char *form = (const char *)sqlite3_column_text(st, 0);
    const char *role = (const char *)sqlite3_column_text(st, 1);
    row->form = arena_strdup(a, form ? form : "");
    row->role = arena_strdup(a, role ? role : "");
    row->age = sqlite3_column_int(st, 2);
    row->count = sqlite3_column_int64(st, 3);
    return row->form && row->role ? 0 : -1;
}

int store_federal_counts(struct store *s, struct arena *a, const char *org_code, int year,
                         struct federal_count **out, size_t *n, struct err *e)
{
    const char *what = "count participants for federal statistics";
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = store_rep(s, SR_FEDERAL, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "si", org_code, (int64_t)year) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    void *rows;
    int rc = store_collect(s, st, a, sizeof **out, store_federal_row, &rows, n, what, e);
    *out = rows;
    return rc;
}

/* ---- Programmes: the last step of the drill-down ---- */

static int store_programme_row(sqlite3_stmt *st, struct arena *a, void *out)
{
    struct programme_row *row = out;
    int oom = 0;
    const char *cols[5];
    for (int i = 0; i < 5; i++) {
        const char *v = (const char *)sqlite3_column_text(st, i);
        cols[i] = v ? arena_strdup(a, v) : NULL;
        oom |= v && !cols[i];
    }
    row->code = cols[0];
    row->title = cols[1];
    row->form = cols[2];
    row->org_code = cols[3];
    row->org_name = cols[4];
    row->year = sqlite3_column_int(st, 5);
    row->org_id = sqlite3_column_int64(st, 6);
    row->mentors = sqlite3_column_int64(st, 7);
    row->mentees = sqlite3_column_int64(st, 8);
    row->active_pairs = sqlite3_column_int64(st, 9);
    row->finished_pairs = sqlite3_column_int64(st, 10);
    row->broken_pairs = sqlite3_column_int64(st, 11);
    return oom ? -1 : 0;
}

int store_programme_list(struct store *s, struct arena *a, const char *org_code, int year,
                         struct programme_row **out, size_t *n, struct err *e)
{
    const char *what = "list programmes";
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = store_rep(s, SR_PROGRAMMES, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "si", org_code, (int64_t)year) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    void *rows;
    int rc = store_collect(s, st, a, sizeof **out, store_programme_row, &rows, n, what, e);
    *out = rows;
    return rc;
}

int store_programme_get(struct store *s, struct arena *a, const char *code,
                        struct programme_row *out, struct err *e)
{
    const char *what = "read a programme";
    sqlite3_stmt *st = store_rep(s, SR_PROGRAMME, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "s", code) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    void *rows;
    size_t n;
    int rc = store_collect(s, st, a, sizeof *out, store_programme_row, &rows, &n, what, e);
    if (rc != STORE_OK)
        return rc;
    if (!n)
        return STORE_NOT_FOUND;
    *out = *(struct programme_row *)rows;
    return STORE_OK;
}

static int store_programme_pair_row(sqlite3_stmt *st, struct arena *a, void *out)
{
    struct programme_pair *row = out;
    const char **cols[] = {&row->mentor_code, &row->mentor_name, &row->mentee_code,
                           &row->mentee_name, &row->starts,      &row->ends,
                           &row->status};
    for (int i = 0; i < 7; i++) {
        const char *v = (const char *)sqlite3_column_text(st, i);
        *cols[i] = v ? arena_strdup(a, v) : NULL;
        if (v && !*cols[i])
            return -1;
    }
    return 0;
}

int store_programme_pairs(struct store *s, struct arena *a, const char *code,
                          struct programme_pair **out, size_t *n, struct err *e)
{
    const char *what = "list a programme's pairs";
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = store_rep(s, SR_PROGRAMME_PAIRS, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "s", code) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    void *rows;
    int rc = store_collect(s, st, a, sizeof **out, store_programme_pair_row, &rows, n, what, e);
    *out = rows;
    return rc;
}
