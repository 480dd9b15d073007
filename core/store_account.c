/*
 * store_account: the SQL of accounts, sessions, the organisation-subtree check that access
 * rests on, and the audit log. Part of the store module; see store.h.
 */
#include "store_int.h"

#include "arena.h"
#include "err.h"

#include <stdio.h>
#include <string.h>

enum store_account_stmt {
    SA_USER_PUT,
    SA_USER_GET,
    SA_USER_LIST,
    SA_USER_PASSWORD,
    SA_USER_DISABLE,
    SA_USER_FAILED,
    SA_USER_OK,
    SA_SESSION_PUT,
    SA_SESSION_GET,
    SA_SESSION_TOUCH,
    SA_SESSION_DELETE,
    SA_SESSION_PURGE,
    SA_SUBTREE,
    SA_AUDIT_PUT,
    SA_AUDIT_LIST,
    SA_COUNT
};

_Static_assert(SA_COUNT <= STORE_STMTS_PER_FILE, "too many statements for one store file");

/* The columns store_user_read() expects, in order. */
#define SA_USER_COLUMNS                                                                            \
    "SELECT u.id, u.login, u.name, u.role, o.code, u.org_id, u.password_hash, "                    \
    "u.disabled_at IS NOT NULL, u.failed_logins, u.locked_until "                                  \
    "FROM users u LEFT JOIN orgs o ON o.id = u.org_id "

static const char *const store_account_sql[SA_COUNT] = {
    [SA_USER_PUT] = "INSERT INTO users(login, name, role, org_id, password_hash, created_at) "
                    "SELECT ?1, ?2, ?3, o.id, ?5, " STORE_NOW " FROM (SELECT 1) "
                    "LEFT JOIN orgs o ON o.code = ?4 WHERE ?4 IS NULL OR o.id IS NOT NULL",
    [SA_USER_GET] = (SA_USER_COLUMNS "WHERE u.login = ?1"),
    [SA_USER_LIST] = (SA_USER_COLUMNS "ORDER BY u.login"),
    [SA_USER_PASSWORD] = "UPDATE users SET password_hash = ?2, failed_logins = 0, "
                         "locked_until = 0 WHERE login = ?1",
    [SA_USER_DISABLE] = "UPDATE users SET disabled_at = " STORE_NOW " WHERE login = ?1 "
                        "AND disabled_at IS NULL",
    [SA_USER_FAILED] = "UPDATE users SET failed_logins = failed_logins + 1, locked_until = ?2 "
                       "WHERE id = ?1",
    [SA_USER_OK] = "UPDATE users SET failed_logins = 0, locked_until = 0 WHERE id = ?1",
    [SA_SESSION_PUT] = "INSERT INTO sessions(token_hash, user_id, created_at, expires_at, "
                       "last_seen) VALUES (?1, ?2, ?3, ?4, ?3)",
    /* A session is valid until its absolute end and while used within the idle limit. */
    [SA_SESSION_GET] = (SA_USER_COLUMNS "JOIN sessions s ON s.user_id = u.id "
                                        "WHERE s.token_hash = ?1 AND s.expires_at > ?2 "
                                        "AND s.last_seen > ?2 - ?3 AND u.disabled_at IS NULL"),
    [SA_SESSION_TOUCH] = "UPDATE sessions SET last_seen = ?2 WHERE token_hash = ?1",
    [SA_SESSION_DELETE] = "DELETE FROM sessions WHERE token_hash = ?1",
    [SA_SESSION_PURGE] = "DELETE FROM sessions WHERE expires_at <= ?1 OR last_seen <= ?1 - ?2",
    [SA_SUBTREE] = "WITH RECURSIVE up(id, parent_id, depth) AS ("
                   " SELECT id, parent_id, 0 FROM orgs WHERE id = ?2"
                   " UNION ALL SELECT o.id, o.parent_id, up.depth + 1 FROM orgs o"
                   " JOIN up ON o.id = up.parent_id WHERE up.depth < 16) "
                   "SELECT 1 FROM up WHERE id = ?1",
    [SA_AUDIT_PUT] = "INSERT INTO audit(at, user_id, action, object, detail) "
                     "VALUES (" STORE_NOW ", ?1, ?2, ?3, ?4)",
    [SA_AUDIT_LIST] =
        "SELECT a.id, a.at, u.login, a.action, a.object, a.detail FROM audit a "
        "LEFT JOIN users u ON u.id = a.user_id WHERE (?2 IS NULL OR a.id < ?2) "
        "AND (?3 IS NULL OR a.action = ?3 OR substr(a.action, 1, length(?3) + 1) = ?3 || '.') "
        "ORDER BY a.id DESC LIMIT ?1",
};

static sqlite3_stmt *store_acc(struct store *s, enum store_account_stmt id, const char *what,
                               struct err *e)
{
    return store_prep(s, STORE_ACCOUNT_BASE + id, store_account_sql[id], what, e);
}

static const char *store_acc_col(sqlite3_stmt *st, int i, struct arena *a, int *oom)
{
    const char *v = (const char *)sqlite3_column_text(st, i);
    if (!v)
        return NULL;
    const char *copy = arena_strdup(a, v);
    if (!copy)
        *oom = 1;
    return copy;
}

static int store_user_read(sqlite3_stmt *st, struct arena *a, struct user_row *out)
{
    int oom = 0;
    memset(out, 0, sizeof *out);
    out->id = sqlite3_column_int64(st, 0);
    out->login = store_acc_col(st, 1, a, &oom);
    out->name = store_acc_col(st, 2, a, &oom);
    out->role = store_acc_col(st, 3, a, &oom);
    out->org_code = store_acc_col(st, 4, a, &oom);
    out->org_id = sqlite3_column_int64(st, 5);
    out->password_hash = store_acc_col(st, 6, a, &oom);
    out->disabled = sqlite3_column_int(st, 7);
    out->failed_logins = (long)sqlite3_column_int64(st, 8);
    out->locked_until = sqlite3_column_int64(st, 9);
    return oom ? -1 : 0;
}

/* Steps a bound statement for at most one user row. */
static int store_user_one(struct store *s, sqlite3_stmt *st, struct arena *a, struct user_row *out,
                          const char *what, struct err *e)
{
    int step = sqlite3_step(st);
    int rc = STORE_NOT_FOUND;
    if (step == SQLITE_ROW)
        rc = store_user_read(st, a, out) == 0
                 ? STORE_OK
                 : err_set(e, s->path, 0, 0, "store: %s: out of memory", what);
    else if (step != SQLITE_DONE)
        rc = store_fail(s, what, e);
    store_done(st);
    return rc;
}

/* Runs a bound write; STORE_NOT_FOUND when it changed nothing. */
static int store_acc_write(struct store *s, sqlite3_stmt *st, const char *what, struct err *e)
{
    if (store_step_done(s, st, what, e) != STORE_OK)
        return STORE_ERROR;
    return sqlite3_changes(s->db) > 0 ? STORE_OK : STORE_NOT_FOUND;
}

int store_user_put(struct store *s, const struct user_rec *u, struct err *e)
{
    const char *what = "add user";
    sqlite3_stmt *st = store_acc(s, SA_USER_PUT, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "sssss", u->login, u->name, u->role, u->org_code, u->password_hash) !=
        SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    if (sqlite3_step(st) != SQLITE_DONE) {
        int dup = sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_UNIQUE;
        if (dup)
            err_set(e, s->path, 0, 0, "a user \"%s\" exists already", u->login);
        else
            store_fail(s, what, e);
        store_done(st);
        return dup ? STORE_DUPLICATE : STORE_ERROR;
    }
    store_done(st);
    if (sqlite3_changes(s->db) == 0) {
        err_set(e, s->path, 0, 0, "unknown organisation \"%s\"", u->org_code);
        return STORE_NOT_FOUND;
    }
    return STORE_OK;
}

int store_user_get(struct store *s, struct arena *a, const char *login, struct user_row *out,
                   struct err *e)
{
    const char *what = "read user";
    sqlite3_stmt *st = store_acc(s, SA_USER_GET, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "s", login) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    return store_user_one(s, st, a, out, what, e);
}

static int store_user_row(sqlite3_stmt *st, struct arena *a, void *row)
{
    return store_user_read(st, a, row);
}

int store_user_list(struct store *s, struct arena *a, struct user_row **out, size_t *n,
                    struct err *e)
{
    const char *what = "list users";
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = store_acc(s, SA_USER_LIST, what, e);
    if (!st)
        return STORE_ERROR;
    void *rows;
    int rc = store_collect(s, st, a, sizeof **out, store_user_row, &rows, n, what, e);
    *out = rows;
    return rc;
}

int store_user_set_password(struct store *s, const char *login, const char *hash, struct err *e)
{
    const char *what = "set password";
    sqlite3_stmt *st = store_acc(s, SA_USER_PASSWORD, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "ss", login, hash) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    int rc = store_acc_write(s, st, what, e);
    if (rc == STORE_NOT_FOUND)
        err_set(e, s->path, 0, 0, "unknown user \"%s\"", login);
    return rc;
}

int store_user_disable(struct store *s, const char *login, struct err *e)
{
    const char *what = "disable user";
    sqlite3_stmt *st = store_acc(s, SA_USER_DISABLE, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "s", login) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    int rc = store_acc_write(s, st, what, e);
    if (rc == STORE_NOT_FOUND)
        err_set(e, s->path, 0, 0, "no enabled user \"%s\"", login);
    return rc;
}

int store_user_login_result(struct store *s, int64_t user_id, int ok, int64_t locked_until,
                            struct err *e)
{
    const char *what = "record sign-in";
    sqlite3_stmt *st = store_acc(s, ok ? SA_USER_OK : SA_USER_FAILED, what, e);
    if (!st)
        return STORE_ERROR;
    if ((ok ? store_bind(st, "i", user_id) : store_bind(st, "ii", user_id, locked_until)) !=
        SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    return store_step_done(s, st, what, e);
}

int store_session_put(struct store *s, const char *token_hash, int64_t user_id, int64_t now,
                      int64_t expires, int64_t idle_s, struct err *e)
{
    const char *what = "open session";
    sqlite3_stmt *purge = store_acc(s, SA_SESSION_PURGE, what, e);
    sqlite3_stmt *st = store_acc(s, SA_SESSION_PUT, what, e);
    if (!st || !purge)
        return STORE_ERROR;
    /* Expired sessions go when a new one comes: the table never grows without bound. */
    if (store_bind(purge, "ii", now, idle_s) != SQLITE_OK)
        return store_bind_failed(s, purge, what, e);
    if (store_step_done(s, purge, what, e) != STORE_OK)
        return STORE_ERROR;
    if (store_bind(st, "siii", token_hash, user_id, now, expires) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    return store_step_done(s, st, what, e);
}

int store_session_get(struct store *s, struct arena *a, const char *token_hash, int64_t now,
                      int64_t idle_s, struct user_row *out, struct err *e)
{
    const char *what = "read session";
    sqlite3_stmt *st = store_acc(s, SA_SESSION_GET, what, e);
    sqlite3_stmt *touch = store_acc(s, SA_SESSION_TOUCH, what, e);
    if (!st || !touch)
        return STORE_ERROR;
    if (store_bind(st, "sii", token_hash, now, idle_s) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    int rc = store_user_one(s, st, a, out, what, e);
    if (rc != STORE_OK)
        return rc;
    if (store_bind(touch, "si", token_hash, now) != SQLITE_OK)
        return store_bind_failed(s, touch, what, e);
    return store_step_done(s, touch, what, e);
}

int store_session_delete(struct store *s, const char *token_hash, struct err *e)
{
    const char *what = "close session";
    sqlite3_stmt *st = store_acc(s, SA_SESSION_DELETE, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "s", token_hash) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    return store_step_done(s, st, what, e);
}

int store_org_in_subtree(struct store *s, int64_t root_id, int64_t org_id, struct err *e)
{
    const char *what = "check organisation";
    sqlite3_stmt *st = store_acc(s, SA_SUBTREE, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "ii", root_id, org_id) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    int step = sqlite3_step(st);
    int rc = step == SQLITE_ROW    ? STORE_OK
             : step == SQLITE_DONE ? STORE_NOT_FOUND
                                   : store_fail(s, what, e);
    store_done(st);
    return rc;
}

int store_audit(struct store *s, int64_t user_id, const char *action, const char *object,
                const char *detail, struct err *e)
{
    const char *what = "write audit log";
    sqlite3_stmt *st = store_acc(s, SA_AUDIT_PUT, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "nsss", user_id, action, object, detail) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    return store_step_done(s, st, what, e);
}

static int store_audit_row(sqlite3_stmt *st, struct arena *a, void *out)
{
    struct audit_row *row = out;
    int oom = 0;
    row->id = sqlite3_column_int64(st, 0);
    row->at = store_acc_col(st, 1, a, &oom);
    row->login = store_acc_col(st, 2, a, &oom);
    row->action = store_acc_col(st, 3, a, &oom);
    row->object = store_acc_col(st, 4, a, &oom);
    row->detail = store_acc_col(st, 5, a, &oom);
    return oom ? -1 : 0;
}

int store_audit_list(struct store *s, struct arena *a, int limit, struct audit_row **out, size_t *n,
                     struct err *e)
{
    struct audit_query q = {.limit = limit};
    return store_audit_query(s, a, &q, out, n, e);
}

int store_audit_query(struct store *s, struct arena *a, const struct audit_query *q,
                      struct audit_row **out, size_t *n, struct err *e)
{
    const char *what = "read audit log";
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = store_acc(s, SA_AUDIT_LIST, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "ins", (int64_t)q->limit, q->before, q->action) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    void *rows;
    int rc = store_collect(s, st, a, sizeof **out, store_audit_row, &rows, n, what, e);
    *out = rows;
    return rc;
}
