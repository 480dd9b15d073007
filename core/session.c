/*
 * session: sign-in, sign-out, the session cookie and staff CSRF values.
 */
#include "session.h"

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

static const char *session_mac(struct app *app, struct arena *a, const char *kind,
                               const char *value)
{
    char *msg = arena_printf(a, "%s|%s", kind, value);
    char *mac = arena_alloc(a, 44);
    if (!msg || !mac)
        return NULL;
    crypto_mac(app->secret, msg, strlen(msg), mac);
    return mac;
}

const char *session_csrf(struct app *app, const struct http_req *q)
{
    const char *token = http_cookie(q, SESSION_COOKIE);
    return token ? session_mac(app, q->arena, "staff", token) : NULL;
}

int session_csrf_ok(struct app *app, const struct http_req *q, const char *posted)
{
    const char *want = session_csrf(app, q);
    return want && posted && crypto_equal(want, posted);
}

/* Keeps only a local path as the page to return to after signing in. */
static const char *session_next(const char *next)
{
    if (!next || next[0] != '/' || next[1] == '/' || next[1] == '\\' || strchr(next, '\r') ||
        strchr(next, '\n'))
        return "/dash";
    return next;
}

static void session_login_page(struct app *app, struct http_req *q, struct http_resp *r, int status,
                               const char *login, const char *next, const char *notice)
{
    const char *lang = app_lang(app, q);
    const char *nonce = http_cookie(q, SESSION_PRE);
    if (!nonce || !crypto_token_valid(nonce)) {
        char *fresh = arena_alloc(q->arena, CRYPTO_TOKEN_LEN + 1);
        if (!fresh) {
            r->body.failed = 1;
            return;
        }
        crypto_token(fresh);
        nonce = fresh;
        http_set_cookie(r, q, SESSION_PRE, fresh, "/login");
    }
    const char *csrf = session_mac(app, q->arena, "login", nonce);
    json_t *ctx = json_pack("{s:s, s:s*, s:s, s:s*, s:s*}", "page_title",
                            i18n_text(app->defs->i18n, lang, "staff.login.title"), "login", login,
                            "next", session_next(next), "csrf", csrf, "notice", notice);
    app_page(app, q, r, status, lang, "login", ctx);
}

void session_handle_login(struct app *app, struct http_req *q, struct http_resp *r)
{
    struct form query;
    struct err e = {0};
    const char *next = NULL;
    if (form_parse(q->arena, q->query, strlen(q->query), &query, &e) == 0)
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
    if (!http_content_type_is(q, "application/x-www-form-urlencoded") ||
        form_parse(q->arena, q->body, q->body_len, &f, &e) < 0) {
        app_error_page(app, q, r, 400, "bad_request");
        return;
    }
    const char *lang = app_lang(app, q);
    const char *login = form_get(&f, "login");
    const char *password = form_get(&f, "password");
    next = form_get(&f, "next");
    const char *nonce = http_cookie(q, SESSION_PRE);
    const char *want = nonce ? session_mac(app, q->arena, "login", nonce) : NULL;
    const char *posted = form_get(&f, "csrf");
    if (!want || !posted || !crypto_equal(want, posted)) {
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
    const char *token = http_cookie(q, SESSION_COOKIE);
    if (form_parse(q->arena, q->body, q->body_len, &f, &e) < 0 ||
        !session_csrf_ok(app, q, form_get(&f, "csrf"))) {
        app_error_page(app, q, r, 403, "forbidden");
        return;
    }
    if (token)
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

int session_account(struct app *app, struct http_req *q, struct account *acc)
{
    const char *token = session_bearer(q) ? session_bearer(q) : http_cookie(q, SESSION_COOKIE);
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
    const char *token =
        api && session_bearer(q) ? session_bearer(q) : http_cookie(q, SESSION_COOKIE);
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
    if (!http_content_type_is(q, "application/x-www-form-urlencoded") ||
        form_parse(q->arena, q->body, q->body_len, &f, &e) < 0) {
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
