/*
 * session: sign-in, sign-out, the session cookie and staff CSRF values.
 */
#include "session.h"

#include "account.h"
#include "app.h"
#include "arena.h"
#include "crypto.h"
#include "err.h"
#include "form.h"
#include "http.h"
#include "i18n.h"
#include "log.h"
#include "store.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define SESSION_COOKIE "anketa_session"
#define SESSION_PRE    "anketa_pre"

/* The MAC of kind|value under the server's key, into out. value is a cookie of ours, checked
 * for its length by http_cookie, so the message always fits. */
static void session_mac(struct app *app, const char *kind, const char *value, char out[44])
{
    char msg[128];
    int n = snprintf(msg, sizeof msg, "%s|%s", kind, value);
    crypto_mac(app->secret, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1, out);
}

int session_csrf(struct app *app, const struct http_req *q, char out[44])
{
    char token[ACCOUNT_TOKEN_LEN + 1];
    if (http_cookie(q, SESSION_COOKIE, token, sizeof token) < 0)
        return -1;
    session_mac(app, "staff", token, out);
    return 0;
}

int session_csrf_ok(struct app *app, const struct http_req *q, const char *posted)
{
    char want[44];
    return session_csrf(app, q, want) == 0 && posted && crypto_equal(want, posted);
}

/* The form's CSRF value; NULL when it is missing or given more than once. */
static const char *session_form_csrf(const struct form *f)
{
    return form_count(f, "csrf") == 1 ? form_get(f, "csrf") : NULL;
}

/*
 * Where to go after signing in: a path of this site, else the dashboard. Browsers drop tabs
 * and newlines from a Location and read '\\' as '/', so "/<TAB>/evil.example" would leave
 * the site: only printable ASCII without a backslash is taken.
 */
static const char *session_next(const char *next)
{
    if (!next || next[0] != '/' || next[1] == '/')
        return "/dash";
    for (const unsigned char *c = (const unsigned char *)next; *c; c++)
        if (*c <= ' ' || *c >= 0x7f || *c == '\\')
            return "/dash";
    return next;
}

static void session_login_page(struct app *app, struct http_req *q, struct http_resp *r, int status,
                               const char *login, const char *next, const char *notice)
{
    const char *lang = app_lang(app, q);
    char nonce[CRYPTO_TOKEN_LEN + 1], csrf[44];
    if (http_cookie(q, SESSION_PRE, nonce, sizeof nonce) < 0 || !crypto_token_valid(nonce)) {
        crypto_token(nonce);
        http_set_cookie(r, q, SESSION_PRE, nonce, "/login");
    }
    session_mac(app, "login", nonce, csrf);
    if (login && !(login = form_shown(q->arena, login))) {
        r->body.failed = 1;
        return;
    }
    json_t *ctx = json_pack("{s:s, s:s, s:s}", "page_title",
                            i18n_text(app->defs->i18n, lang, "staff.login.title"), "next",
                            session_next(next), "csrf", csrf);
    if (ctx && (app_set_text(ctx, "login", login) < 0 || app_set_text(ctx, "notice", notice) < 0)) {
        json_decref(ctx);
        ctx = NULL;
    }
    app_page(app, q, r, status, lang, "login", ctx);
}

void session_handle_login(struct app *app, struct http_req *q, struct http_resp *r)
{
    struct form query;
    struct err e = {0};
    const char *next = NULL;
    int parsed = form_parse(q->arena, q->query, strlen(q->query), &query, &e);
    if (parsed == FORM_NO_MEMORY) {
        r->body.failed = 1;
        return;
    }
    if (parsed == 0)
        next = form_get(&query, "next");
    if (strcmp(q->method, "GET") == 0 || strcmp(q->method, "HEAD") == 0) {
        session_login_page(app, q, r, 200, NULL, next, NULL);
        return;
    }
    if (strcmp(q->method, "POST") != 0) {
        http_header(r, "Allow", "GET, HEAD, POST");
        app_error_page(app, q, r, 405, "method");
        return;
    }
    struct form f;
    parsed = http_content_type_is(q, "application/x-www-form-urlencoded")
                 ? form_parse(q->arena, q->body, q->body_len, &f, &e)
                 : -1;
    if (parsed == FORM_NO_MEMORY) {
        r->body.failed = 1;
        return;
    }
    if (parsed < 0) {
        app_error_page(app, q, r, 400, "bad_request");
        return;
    }
    const char *lang = app_lang(app, q);
    const char *login = form_get(&f, "login");
    const char *password = form_get(&f, "password");
    next = form_get(&f, "next");
    char nonce[CRYPTO_TOKEN_LEN + 1], want[44];
    int have = http_cookie(q, SESSION_PRE, nonce, sizeof nonce) == 0;
    if (have)
        session_mac(app, "login", nonce, want);
    const char *posted = session_form_csrf(&f);
    if (!have || !posted || !crypto_equal(want, posted)) {
        session_login_page(app, q, r, 403, login, next,
                           i18n_text(app->defs->i18n, lang, "notice.csrf"));
        return;
    }
    if (!login || !password || !*login || !*password) {
        session_login_page(app, q, r, 422, login, next,
                           i18n_text(app->defs->i18n, lang, "staff.login.empty"));
        return;
    }
    char token[ACCOUNT_TOKEN_LEN + 1];
    struct account acc;
    long retry;
    enum account_login_result res =
        account_login(app->store, q->arena, login, password, token, &acc, &retry, &e);
    if (res == LOGIN_OK) {
        http_set_cookie(r, q, SESSION_COOKIE, token, "/");
        store_audit(app->store, acc.id, "login", acc.login, NULL, &e);
        http_redirect(r, session_next(next));
        return;
    }
    if (res == LOGIN_ERROR) {
        char msg[1024];
        err_format(&e, msg, sizeof msg);
        log_msg(LOG_ERROR, "req=%s sign-in failed: %s", q->request_id, msg);
        app_error_page(app, q, r, 503, "unavailable");
        return;
    }
    if (res == LOGIN_LOCKED) {
        const char *text = i18n_text(app->defs->i18n, lang, "staff.login.locked");
        char *msg = arena_printf(q->arena, "%s %ld", text, (retry + 59) / 60);
        session_login_page(app, q, r, 429, login, next, msg ? msg : text);
        return;
    }
    log_msg(LOG_WARN, "req=%s sign-in refused (%s)", q->request_id,
            res == LOGIN_DISABLED ? "disabled account" : "wrong login or password");
    session_login_page(app, q, r, 401, login, next,
                       i18n_text(app->defs->i18n, lang, "staff.login.bad"));
}

void session_handle_logout(struct app *app, struct http_req *q, struct http_resp *r)
{
    if (strcmp(q->method, "POST") != 0) {
        http_header(r, "Allow", "POST");
        app_error_page(app, q, r, 405, "method");
        return;
    }
    struct form f;
    struct err e = {0};
    char token[ACCOUNT_TOKEN_LEN + 1];
    int have = http_cookie(q, SESSION_COOKIE, token, sizeof token) == 0;
    int parsed = form_parse(q->arena, q->body, q->body_len, &f, &e);
    if (parsed == FORM_NO_MEMORY) {
        r->body.failed = 1;
        return;
    }
    if (parsed < 0 || !session_csrf_ok(app, q, session_form_csrf(&f))) {
        app_error_page(app, q, r, 403, "forbidden");
        return;
    }
    if (have)
        account_logout(app->store, token, &e);
    /* An expired cookie removes it from the browser. */
    http_header(r, "Set-Cookie", SESSION_COOKIE "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
    http_redirect(r, "/login");
}

/* The token of "Authorization: Bearer <token>", or NULL. */
static const char *session_bearer(const struct http_req *q)
{
    static const char scheme[] = "Bearer ";
    const char *h = q->authorization;
    if (!h || strncmp(h, scheme, sizeof scheme - 1) != 0)
        return NULL;
    return h + sizeof scheme - 1;
}

/* The session token of the request: a bearer token when bearer is set and one was sent,
 * else the session cookie (copied into buf); NULL when there is neither. */
static const char *session_token(const struct http_req *q, int bearer,
                                 char buf[ACCOUNT_TOKEN_LEN + 1])
{
    if (bearer && session_bearer(q))
        return session_bearer(q);
    return http_cookie(q, SESSION_COOKIE, buf, ACCOUNT_TOKEN_LEN + 1) == 0 ? buf : NULL;
}

int session_account(struct app *app, struct http_req *q, struct account *acc)
{
    char buf[ACCOUNT_TOKEN_LEN + 1];
    const char *token = session_token(q, 1, buf);
    struct err e = {0};
    int rc = token ? account_session(app->store, q->arena, token, acc, &e) : STORE_NOT_FOUND;
    if (rc == STORE_ERROR) {
        char msg[1024];
        err_format(&e, msg, sizeof msg);
        log_msg(LOG_ERROR, "req=%s session lookup failed: %s", q->request_id, msg);
    }
    return rc == STORE_OK ? 0 : -1;
}

int session_require(struct app *app, struct http_req *q, struct http_resp *r, int api,
                    struct account *acc)
{
    /* A bearer token only for the API: pages keep to the cookie, whose SameSite and CSRF
     * values protect their forms. */
    char buf[ACCOUNT_TOKEN_LEN + 1];
    const char *token = session_token(q, api, buf);
    struct err e = {0};
    int rc = token ? account_session(app->store, q->arena, token, acc, &e) : STORE_NOT_FOUND;
    if (rc == STORE_OK)
        return 0;
    if (rc == STORE_ERROR) {
        char msg[1024];
        err_format(&e, msg, sizeof msg);
        log_msg(LOG_ERROR, "req=%s session lookup failed: %s", q->request_id, msg);
        if (api)
            app_json_error(r, 503, "database is not available");
        else
            app_error_page(app, q, r, 503, "unavailable");
        return -1;
    }
    if (api) {
        http_header(r, "WWW-Authenticate", "Bearer realm=\"anketa\"");
        app_json_error(r, 401, "sign in first (POST /api/v1/session)");
        return -1;
    }
    struct buf b;
    buf_init(&b, q->arena);
    buf_puts(&b, "/login?next=");
    buf_put_url(&b, q->path, strlen(q->path));
    if (buf_failed(&b)) {
        r->body.failed = 1;
        return -1;
    }
    http_redirect(r, b.data);
    return -1;
}

/*
 * POST /api/v1/session (login, password as a form) answers a session token for
 * "Authorization: Bearer"; DELETE /api/v1/session ends the bearer's session. No cookie is
 * set, so a page of another site posting here gains nothing: it cannot read the answer.
 */
void session_handle_api(struct app *app, struct http_req *q, struct http_resp *r)
{
    struct err e = {0};
    if (strcmp(q->method, "DELETE") == 0) {
        const char *token = session_bearer(q);
        struct account acc;
        if (session_require(app, q, r, 1, &acc) < 0)
            return;
        if (account_logout(app->store, token, &e) != STORE_OK) {
            app_json_error(r, 503, "database is not available");
            return;
        }
        store_audit(app->store, acc.id, "logout", acc.login, "api", &e);
        r->status = 204;
        return;
    }
    if (strcmp(q->method, "POST") != 0) {
        http_header(r, "Allow", "POST, DELETE");
        app_json_error(r, 405, "POST to sign in, DELETE to sign out");
        return;
    }
    struct form f;
    int parsed = http_content_type_is(q, "application/x-www-form-urlencoded")
                     ? form_parse(q->arena, q->body, q->body_len, &f, &e)
                     : -1;
    if (parsed == FORM_NO_MEMORY) {
        r->body.failed = 1;
        return;
    }
    if (parsed < 0) {
        app_json_error(r, 400, "send login and password as application/x-www-form-urlencoded");
        return;
    }
    const char *login = form_get(&f, "login");
    const char *password = form_get(&f, "password");
    if (!login || !password || !*login || !*password) {
        app_json_error(r, 422, "login and password are required");
        return;
    }
    char token[ACCOUNT_TOKEN_LEN + 1];
    struct account acc;
    long retry;
    enum account_login_result res =
        account_login(app->store, q->arena, login, password, token, &acc, &retry, &e);
    if (res == LOGIN_OK) {
        store_audit(app->store, acc.id, "login", acc.login, "api", &e);
        json_t *body = json_pack("{s:s, s:s, s:i}", "token", token, "token_type", "Bearer",
                                 "expires_in", ACCOUNT_SESSION_S);
        sodium_memzero(token, sizeof token);
        if (!body) {
            r->body.failed = 1;
            return;
        }
        http_header(r, "Cache-Control", "no-store");
        app_json(r, 200, body);
        return;
    }
    if (res == LOGIN_ERROR) {
        char msg[1024];
        err_format(&e, msg, sizeof msg);
        log_msg(LOG_ERROR, "req=%s sign-in failed: %s", q->request_id, msg);
        app_json_error(r, 503, "database is not available");
        return;
    }
    if (res == LOGIN_LOCKED) {
        char retry_s[24];
        snprintf(retry_s, sizeof retry_s, "%ld", retry);
        http_header(r, "Retry-After", retry_s);
        app_json_error(r, 429, "too many failed sign-ins: try again later");
        return;
    }
    log_msg(LOG_WARN, "req=%s API sign-in refused (%s)", q->request_id,
            res == LOGIN_DISABLED ? "disabled account" : "wrong login or password");
    app_json_error(r, 401, "wrong login or password");
}
