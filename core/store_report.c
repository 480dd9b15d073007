/*
 * store_report: the SQL of the reports that are not indicators: the yearly count of
 * participants for federal statistics. Part of the store module; see store.h.
 */
#include "store_int.h"

#include "arena.h"
#include "err.h"

#include <string.h>

enum store_report_stmt { SR_FEDERAL, SR_COUNT };

_Static_assert(SR_COUNT <= STORE_STMTS_PER_FILE, "too many statements for one store file");

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
