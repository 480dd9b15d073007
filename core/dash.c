/*
 * dash: building the page models of the staff pages from the store.
 */
#include "dash.h"

#include "account.h"
#include "app.h"
#include "arena.h"
#include "err.h"
#include "http.h"
#include "i18n.h"
#include "log.h"
#include "session.h"
#include "store.h"
#include "survey.h"

#include <stdio.h>
#include <string.h>

struct dash {
    struct app *app;
    struct http_req *q;
    struct http_resp *r;
    const char *lang;
    struct account acc;
};

static const char *dash_t(struct dash *d, const char *key)
{
    return i18n_text(d->app->defs->i18n, d->lang, key);
}

/* The words of a canonical value ("municipality") in the catalogue ("staff.level.<v>"). */
static const char *dash_word(struct dash *d, const char *group, const char *value)
{
    if (!value)
        return "";
    char key[96];
    snprintf(key, sizeof key, "staff.%s.%s", group, value);
    return dash_t(d, key);
}

static void dash_fail(struct dash *d, const char *what, const struct err *e)
{
    char msg[1024];
    err_format(e, msg, sizeof msg);
    log_msg(LOG_ERROR, "req=%s %s: %s", d->q->request_id, what, msg);
    app_error_page(d->app, d->q, d->r, 503, "unavailable");
}

/* The frame every staff page shares: who is signed in, the sign-out form. */
static json_t *dash_frame(struct dash *d, const char *title)
{
    return json_pack("{s:s, s:{s:s, s:s, s:s}, s:s*}", "page_title", title, "user", "name",
                     d->acc.name, "login", d->acc.login, "role",
                     dash_word(d, "role", account_role_name(d->acc.role)), "csrf",
                     session_csrf(d->app, d->q));
}

/* Looks an organisation up and checks it is the account's to see; answers 404 otherwise. */
static int dash_org(struct dash *d, const char *code, struct org_info *org)
{
    struct err e = {0};
    int rc = store_org_get(d->app->store, d->q->arena, code, org, &e);
    if (rc == STORE_ERROR) {
        dash_fail(d, "reading an organisation", &e);
        return -1;
    }
    int see = rc == STORE_OK ? account_can_see(d->app->store, &d->acc, org->id, &e) : 0;
    if (see < 0) {
        dash_fail(d, "checking access", &e);
        return -1;
    }
    if (!see) {
        app_error_page(d->app, d->q, d->r, 404, "not_found");
        return -1;
    }
    return 0;
}

static json_t *dash_crumbs(struct dash *d, const struct org_info *org)
{
    json_t *crumbs = json_array();
    struct err e = {0};
    const char *codes[] = {org->grandparent_code, org->parent_code};
    const char *names[] = {org->grandparent_name, org->parent_name};
    for (size_t i = 0; crumbs && i < 2; i++) {
        if (!codes[i])
            continue;
        struct org_info up;
        int see = store_org_get(d->app->store, d->q->arena, codes[i], &up, &e) == STORE_OK &&
                  account_can_see(d->app->store, &d->acc, up.id, &e) == 1;
        if (json_array_append_new(crumbs, json_pack("{s:s, s:s, s:b}", "code", codes[i], "name",
                                                    names[i], "link", see)) < 0) {
            json_decref(crumbs);
            return NULL;
        }
    }
    return crumbs;
}

static json_t *dash_stats(const struct org_stats *st)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I}", "mentors", (json_int_t)st->mentors, "mentees",
                     (json_int_t)st->mentees, "pairs", (json_int_t)st->active_pairs, "programmes",
                     (json_int_t)st->programmes, "no_consent", (json_int_t)st->no_consent);
}

static json_t *dash_campaign_json(struct dash *d, const struct campaign_info *c)
{
    const struct survey *s = survey_set_find(&d->app->defs->surveys, c->rec.survey_id);
    long pct = c->invited ? (c->completed * 100 + c->invited / 2) / c->invited : 0;
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "code", c->rec.code,
                     "survey", s ? s->title.ru : c->rec.survey_id, "period", c->rec.period, "wave",
                     dash_word(d, "wave", c->rec.wave), "status", dash_word(d, "status", c->status),
                     "opens", c->rec.opens, "closes", c->rec.closes, "invited",
                     (json_int_t)c->invited, "started", (json_int_t)c->started, "completed",
                     (json_int_t)c->completed, "percent", (json_int_t)pct);
}

static void dash_org_page(struct dash *d, const char *code)
{
    struct org_info org;
    if (dash_org(d, code, &org) < 0)
        return;
    struct err e = {0};
    struct org_stats stats;
    struct org_info *children;
    size_t nchildren;
    struct campaign_info *camps;
    size_t ncamps;
    if (store_org_stats(d->app->store, org.code, &stats, &e) != STORE_OK ||
        store_org_children(d->app->store, d->q->arena, org.code, &children, &nchildren, &e) !=
            STORE_OK ||
        store_campaign_list(d->app->store, d->q->arena, org.code, &camps, &ncamps, &e) !=
            STORE_OK) {
        dash_fail(d, "building a dashboard", &e);
        return;
    }
    json_t *ctx = dash_frame(d, org.name);
    json_t *kids = json_array(), *cs = json_array();
    int ok = ctx && kids && cs;
    for (size_t i = 0; ok && i < nchildren; i++) {
        struct org_stats cst;
        if (store_org_stats(d->app->store, children[i].code, &cst, &e) != STORE_OK) {
            json_decref(ctx);
            json_decref(kids);
            json_decref(cs);
            dash_fail(d, "counting participants", &e);
            return;
        }
        ok = json_array_append_new(
                 kids, json_pack("{s:s, s:s, s:s, s:o}", "code", children[i].code, "name",
                                 children[i].name, "kind",
                                 dash_word(d, children[i].kind ? "kind" : "level",
                                           children[i].kind ? children[i].kind : children[i].level),
                                 "stats", dash_stats(&cst))) == 0;
    }
    for (size_t i = 0; ok && i < ncamps; i++)
        ok = json_array_append_new(cs, dash_campaign_json(d, &camps[i])) == 0;
    ok = ok &&
         json_object_set_new(ctx, "org",
                             json_pack("{s:s, s:s, s:s}", "code", org.code, "name", org.name,
                                       "level", dash_word(d, "level", org.level))) == 0 &&
         json_object_set_new(ctx, "crumbs", dash_crumbs(d, &org)) == 0 &&
         json_object_set_new(ctx, "stats", dash_stats(&stats)) == 0 &&
         json_object_set_new(ctx, "has_children", json_boolean(nchildren > 0)) == 0 &&
         json_object_set_new(ctx, "has_campaigns", json_boolean(ncamps > 0)) == 0;
    json_object_set_new(ctx, "children", kids);
    json_object_set_new(ctx, "campaigns", cs);
    if (!ok) {
        json_decref(ctx);
        d->r->body.failed = 1;
        return;
    }
    app_page(d->app, d->q, d->r, 200, d->lang, "dash_org", ctx);
}

struct dash_pending {
    json_t *list;
    int names; /* whether any participant has a stored name (a column for them) */
    int failed;
};

static int dash_pending_row(void *ctx, const struct link_row *row)
{
    struct dash_pending *p = ctx;
    if (row->answered || row->revoked)
        return 0;
    p->names |= row->participant_name != NULL;
    json_t *item = json_pack("{s:s, s:s*, s:s, s:b}", "code", row->participant_code, "name",
                             row->participant_name, "org", row->org_name, "started", row->started);
    if (!item || json_array_append_new(p->list, item) < 0) {
        p->failed = 1;
        return 1;
    }
    return 0;
}

static void dash_campaign_page(struct dash *d, const char *org_code, const char *camp_code)
{
    struct org_info org;
    if (dash_org(d, org_code, &org) < 0)
        return;
    struct err e = {0};
    struct campaign_info *camps;
    size_t ncamps;
    if (store_campaign_list(d->app->store, d->q->arena, org.code, &camps, &ncamps, &e) !=
        STORE_OK) {
        dash_fail(d, "reading campaigns", &e);
        return;
    }
    const struct campaign_info *c = NULL;
    for (size_t i = 0; i < ncamps && !c; i++)
        if (strcmp(camps[i].rec.code, camp_code) == 0)
            c = &camps[i];
    if (!c) {
        app_error_page(d->app, d->q, d->r, 404, "not_found");
        return;
    }
    struct rate_row *rows;
    size_t nrows;
    struct dash_pending pending = {.list = json_array()};
    if (!pending.list ||
        store_campaign_rates(d->app->store, d->q->arena, c->rec.code, org.code, &rows, &nrows,
                             &e) != STORE_OK ||
        store_campaign_links(d->app->store, c->rec.code, org.code, dash_pending_row, &pending,
                             &e) != STORE_OK) {
        json_decref(pending.list);
        dash_fail(d, "reading response rates", &e);
        return;
    }
    json_t *ctx = dash_frame(d, c->rec.code);
    json_t *rates = json_array();
    int ok = ctx && rates && !pending.failed;
    for (size_t i = 0; ok && i < nrows; i++) {
        long pct =
            rows[i].invited ? (rows[i].completed * 100 + rows[i].invited / 2) / rows[i].invited : 0;
        ok = json_array_append_new(
                 rates, json_pack("{s:s, s:I, s:I, s:I, s:I}", "name", rows[i].org_name, "invited",
                                  (json_int_t)rows[i].invited, "started",
                                  (json_int_t)rows[i].started, "completed",
                                  (json_int_t)rows[i].completed, "percent", (json_int_t)pct)) == 0;
    }
    ok =
        ok &&
        json_object_set_new(ctx, "org",
                            json_pack("{s:s, s:s}", "code", org.code, "name", org.name)) == 0 &&
        json_object_set_new(ctx, "campaign", dash_campaign_json(d, c)) == 0 &&
        json_object_set_new(ctx, "has_pending", json_boolean(json_array_size(pending.list))) == 0 &&
        json_object_set_new(ctx, "has_names", json_boolean(pending.names)) == 0;
    json_object_set_new(ctx, "rates", rates);
    json_object_set_new(ctx, "pending", pending.list);
    if (!ok) {
        json_decref(ctx);
        d->r->body.failed = 1;
        return;
    }
    app_page(d->app, d->q, d->r, 200, d->lang, "dash_campaign", ctx);
}

void dash_handle(struct app *app, struct http_req *q, struct http_resp *r, const char *rest)
{
    struct dash d = {.app = app, .q = q, .r = r, .lang = app_lang(app, q)};
    if (strcmp(q->method, "GET") != 0 && strcmp(q->method, "HEAD") != 0) {
        http_header(r, "Allow", "GET, HEAD");
        app_error_page(app, q, r, 405, "method");
        return;
    }
    if (session_require(app, q, r, 0, &d.acc) < 0)
        return;
    if (!*rest || strcmp(rest, "/") == 0) {
        char region[72];
        struct err e = {0};
        const char *home = d.acc.org_code;
        if (!home) {
            int rc = store_org_first_region(app->store, region, sizeof region, &e);
            if (rc == STORE_ERROR) {
                dash_fail(&d, "finding a region", &e);
                return;
            }
            home = rc == STORE_OK ? region : NULL;
        }
        char *to = home ? arena_printf(q->arena, "/dash/org/%s", home) : NULL;
        if (!to) {
            app_error_page(app, q, r, 404, "not_found");
            return;
        }
        http_redirect(r, to);
        return;
    }
    /* /org/<code> or /org/<code>/campaign/<code> */
    char org[72], camp[72];
    int n = 0;
    if (sscanf(rest, "/org/%71[A-Za-z0-9._-]%n", org, &n) == 1 && rest[n] == '\0') {
        dash_org_page(&d, org);
        return;
    }
    n = 0;
    if (sscanf(rest, "/org/%71[A-Za-z0-9._-]/campaign/%71[A-Za-z0-9._-]%n", org, camp, &n) == 2 &&
        rest[n] == '\0') {
        dash_campaign_page(&d, org, camp);
        return;
    }
    app_error_page(app, q, r, 404, "not_found");
}
