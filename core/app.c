/*
 * app: loading the definitions, routing, and the page/JSON helpers every handler uses.
 *
 * Every response carries the same security headers, set here once: no caching of
 * personal pages, no framing, no MIME sniffing, no Referer (a participant's link is a
 * credential and must not leak to another site), and a Content-Security-Policy that allows
 * only our own static files.
 */
#include "app.h"

#include "api.h"
#include "arena.h"
#include "buf.h"
#include "dash.h"
#include "err.h"
#include "http.h"
#include "i18n.h"
#include "indicator.h"
#include "log.h"
#include "participant.h"
#include "session.h"
#include "store.h"
#include "tmpl.h"

#include <stdio.h>
#include <string.h>

int app_defs_load(struct app_defs *d, const char *surveys_dir, const char *web_dir, struct err *e)
{
    memset(d, 0, sizeof *d);
    char path[4096];
    if (survey_set_load_dir(surveys_dir, &d->surveys, e) < 0)
        return -1;
    snprintf(path, sizeof path, "%s/templates", web_dir);
    if (tmpl_set_load_dir(path, &d->tmpl, e) < 0)
        goto fail;
    snprintf(path, sizeof path, "%s/i18n", web_dir);
    if (i18n_load_dir(path, &d->i18n, e) < 0)
        goto fail;
    return 0;
fail:
    app_defs_free(d);
    return -1;
}

int app_defs_load_indicators(struct app_defs *d, const char *lua_dir, const char *region,
                             struct err *e)
{
    char dir[4096], lib[4096];
    snprintf(dir, sizeof dir, "%s/regions/%s", lua_dir, region);
    snprintf(lib, sizeof lib, "%s/lib", lua_dir);
    if (indicator_set_load(dir, lib, &d->indicators, e) < 0)
        return -1;
    struct err_list problems = {0};
    indicator_set_problems(d->indicators, &problems);
    for (size_t i = 0; i < problems.n; i++) {
        char msg[1024];
        err_format(&problems.items[i], msg, sizeof msg);
        log_msg(LOG_WARN, "indicator script left out: %s", msg);
    }
    err_list_free(&problems);
    return 0;
}

void app_defs_free(struct app_defs *d)
{
    indicator_set_free(d->indicators);
    survey_set_free(&d->surveys);
    tmpl_set_free(d->tmpl);
    i18n_free(d->i18n);
    memset(d, 0, sizeof *d);
}

int app_defs_check_versions(const struct app_defs *d, struct store *st, struct err *e)
{
    for (size_t i = 0; i < d->surveys.n; i++)
        if (survey_check_against_store(d->surveys.items[i], st, e) < 0)
            return -1;
    return 0;
}

/* Whether the query string has lang=<code> (exact parameter, not a substring). */
static int app_query_lang(const char *query, const char *code)
{
    size_t n = strlen(code);
    for (const char *p = query; p && *p;) {
        if (strncmp(p, "lang=", 5) == 0 && strncmp(p + 5, code, n) == 0 &&
            (p[5 + n] == '\0' || p[5 + n] == '&'))
            return 1;
        p = strchr(p, '&');
        if (p)
            p++;
    }
    return 0;
}

const char *app_lang(const struct app *app, const struct http_req *q)
{
    if (!i18n_has(app->defs->i18n, "en"))
        return "ru";
    if (app_query_lang(q->query, "en"))
        return "en";
    if (app_query_lang(q->query, "ru"))
        return "ru";
    /* Accept-Language: Russian wins whenever the browser lists it at all. */
    const char *al = q->accept_language;
    if (strstr(al, "ru") || !*al)
        return "ru";
    if (strncmp(al, "en", 2) == 0)
        return "en";
    return "ru";
}

static void app_security_headers(struct http_resp *r)
{
    http_header(r, "Cache-Control", "no-store");
    http_header(r, "X-Content-Type-Options", "nosniff");
    http_header(r, "X-Frame-Options", "DENY");
    http_header(r, "Referrer-Policy", "no-referrer");
}

void app_page_headers(struct http_resp *r, int status)
{
    r->status = status;
    http_header(r, "Content-Type", "text/html; charset=utf-8");
    http_header(r, "Content-Security-Policy",
                "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; "
                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
}

void app_page(struct app *app, const struct http_req *q, struct http_resp *r, int status,
              const char *lang, const char *name, json_t *ctx)
{
    (void)q;
    struct err e = {0};
    if (!ctx || json_object_set(ctx, "t", i18n_catalogue(app->defs->i18n, lang)) < 0 ||
        json_object_set_new(ctx, "lang", json_string(lang)) < 0) {
        json_decref(ctx);
        r->body.failed = 1;
        return;
    }
    app_page_headers(r, status);
    if (tmpl_render(app->defs->tmpl, name, ctx, &r->body, &e) < 0) {
        char msg[1024];
        err_format(&e, msg, sizeof msg);
        log_msg(LOG_ERROR, "rendering %s: %s", name, msg);
        r->body.failed = 1;
    }
    json_decref(ctx);
}

void app_error_page(struct app *app, const struct http_req *q, struct http_resp *r, int status,
                    const char *key)
{
    const char *lang = app_lang(app, q);
    char title[64], text[64];
    snprintf(title, sizeof title, "page.%s.title", key);
    snprintf(text, sizeof text, "page.%s.text", key);
    const char *title_text = i18n_text(app->defs->i18n, lang, title);
    json_t *ctx = json_pack("{s:s, s:s, s:s}", "title", title_text, "page_title", title_text,
                            "message", i18n_text(app->defs->i18n, lang, text));
    app_page(app, q, r, status, lang, "message", ctx);
}

int app_set_text(json_t *o, const char *key, const char *value)
{
    return value && json_object_set_new(o, key, json_string(value)) < 0 ? -1 : 0;
}

static int app_dump_to_buf(const char *p, size_t n, void *data)
{
    struct buf *b = data;
    buf_append(b, p, n);
    return buf_failed(b) ? -1 : 0;
}

void app_json(struct http_resp *r, int status, json_t *body)
{
    r->status = status;
    http_header(r, "Content-Type", "application/json; charset=utf-8");
    if (json_dump_callback(body, app_dump_to_buf, &r->body, JSON_COMPACT | JSON_ENSURE_ASCII) < 0)
        r->body.failed = 1;
    buf_putc(&r->body, '\n');
    json_decref(body);
}

void app_json_error(struct http_resp *r, int status, const char *msg)
{
    json_t *body = json_pack("{s:{s:i, s:s}}", "error", "status", status, "message", msg);
    if (!body) {
        r->body.failed = 1;
        return;
    }
    app_json(r, status, body);
}

static int app_is_get(const struct http_req *q)
{
    return strcmp(q->method, "GET") == 0 || strcmp(q->method, "HEAD") == 0;
}

static void app_health(struct app *app, struct http_resp *r)
{
    struct err e = {0};
    int version = store_schema_version(app->store);
    if (store_ping(app->store, &e) != STORE_OK) {
        char msg[1024];
        err_format(&e, msg, sizeof msg);
        log_msg(LOG_ERROR, "health check: %s", msg);
        app_json_error(r, 503, "database is not available");
        return;
    }
    json_t *body = json_pack("{s:s, s:i, s:I}", "status", "ok", "schema", version, "surveys",
                             (json_int_t)app->defs->surveys.n);
    if (!body) {
        r->body.failed = 1;
        return;
    }
    app_json(r, 200, body);
}

void app_handle(struct app *app, struct http_req *q, struct http_resp *r)
{
    app_security_headers(r);
    const char *path = q->path;
    if (strncmp(path, "/api/v1/", 8) == 0) {
        api_handle(app, q, r, path + 8);
        return;
    }
    if (strncmp(path, "/s/", 3) == 0) {
        participant_handle(app, q, r, path + 3);
        return;
    }
    if (strcmp(path, "/dash") == 0 || strncmp(path, "/dash/", 6) == 0) {
        dash_handle(app, q, r, path + 5);
        return;
    }
    if (strcmp(path, "/login") == 0) {
        session_handle_login(app, q, r);
        return;
    }
    if (strcmp(path, "/logout") == 0) {
        session_handle_logout(app, q, r);
        return;
    }
    int known = strcmp(path, "/healthz") == 0 || strcmp(path, "/") == 0;
    if (!known) {
        app_error_page(app, q, r, 404, "not_found");
        return;
    }
    if (!app_is_get(q)) {
        http_header(r, "Allow", "GET, HEAD");
        app_error_page(app, q, r, 405, "method");
        return;
    }
    if (strcmp(path, "/healthz") == 0)
        app_health(app, r);
    else
        app_error_page(app, q, r, 200, "index");
}

void app_refuse(struct app *app, struct http_req *q, struct http_resp *r, int status)
{
    app_security_headers(r);
    app_error_page(app, q, r, status,
                   status == 413   ? "too_large"
                   : status == 400 ? "bad_request"
                                   : "unavailable");
}
