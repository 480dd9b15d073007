/*
 * dash: building the page models of the staff pages from the store.
 */
#include "dash.h"

#include "account.h"
#include "app.h"
#include "arena.h"
#include "err.h"
#include "export.h"
#include "form.h"
#include "http.h"
#include "i18n.h"
#include "indicator.h"
#include "log.h"
#include "registry.h"
#include "session.h"
#include "store.h"
#include "survey.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

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
    char csrf[44];
    int signed_in = session_csrf(d->app, d->q, csrf) == 0;
    /* Pages behind session_require always have the cookie the value is made of. */
    return json_pack("{s:s, s:{s:s, s:s, s:s}, s:s}", "page_title", title, "user", "name",
                     d->acc.name, "login", d->acc.login, "role",
                     dash_word(d, "role", account_role_name(d->acc.role)), "csrf",
                     signed_in ? csrf : "");
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

/* Figures computed from fewer participants than this are shown as "< 5": a school's
 * satisfaction of three pupils would tell who said what. */
#define DASH_SMALL_CELL 5

/* A number the Russian way: a decimal comma. */
static void dash_number(char *out, size_t size, double v, int decimals)
{
    snprintf(out, size, "%.*f", decimals, v);
    char *dot = strchr(out, '.');
    if (dot)
        *dot = ',';
}

static void dash_format(const struct indicator_def *def, double v, char *out, size_t size)
{
    char num[48];
    switch (def->unit) {
    case INDICATOR_PERCENT:
        dash_number(num, sizeof num, v, 1);
        snprintf(out, size, "%s %%", num);
        break;
    case INDICATOR_COUNT: dash_number(out, size, v, 0); break;
    case INDICATOR_RATIO:
    case INDICATOR_SCORE: dash_number(out, size, v, 2); break;
    }
}

static const struct ind_value_rec *dash_find(const struct ind_value_rec *v, size_t n,
                                             const char *indicator, const char *org)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].indicator, indicator) == 0 && v[i].org_code &&
            strcmp(v[i].org_code, org) == 0)
            return &v[i];
    return NULL;
}

/* One indicator at one organisation: the value as shown, against its target. */
static json_t *dash_cell(struct dash *d, const struct indicator_def *def,
                         const struct ind_value_rec *v, int year)
{
    char value[64] = "—", target[64] = "", numden[112] = "";
    const char *status = "none";
    double t;
    int has_target = indicator_target(def, year, &t) == 1;
    if (has_target)
        dash_format(def, t, target, sizeof target);
    int small = v && ((v->has_num && v->den > 0 && v->den < DASH_SMALL_CELL) ||
                      (v->has_n && v->n < DASH_SMALL_CELL));
    const char *error = NULL;
    if (v && v->error) {
        snprintf(value, sizeof value, "%s", dash_t(d, "staff.ind.failed"));
        status = "failed";
        /* Script errors name files and lines: for the people who write the scripts. */
        if (d->acc.role == ROLE_METHODOLOGIST || d->acc.role == ROLE_ADMIN)
            error = v->error;
    } else if (small) {
        snprintf(value, sizeof value, "< %d", DASH_SMALL_CELL);
        status = "small";
    } else if (v && v->has_value) {
        dash_format(def, v->value, value, sizeof value);
        if (v->has_num) {
            char a[48], b[48];
            dash_number(a, sizeof a, v->num, 0);
            dash_number(b, sizeof b, v->den, 0);
            snprintf(numden, sizeof numden, "%s / %s", a, b);
        }
        status = !has_target ? "none" : v->value >= t ? "ok" : v->value >= 0.8 * t ? "near" : "low";
    }
    char key[48];
    snprintf(key, sizeof key, "staff.ind.status_%s", status);
    json_t *cell = json_pack("{s:s, s:s, s:s, s:s, s:s}", "value", value, "target", target,
                             "numden", numden, "status", status, "status_text", dash_t(d, key));
    if (cell && app_set_text(cell, "error", error) < 0) {
        json_decref(cell);
        return NULL;
    }
    return cell;
}

/* The values of the last five school years as an SVG polyline in a 100 x 24 box. */
static json_t *dash_trend(const struct ind_value_rec *const *years, int nyears)
{
    double lo = 0, hi = 0;
    int have = 0;
    for (int i = 0; i < nyears; i++) {
        const struct ind_value_rec *v = years[i];
        if (!v || !v->has_value || v->error)
            continue;
        if (!have || v->value < lo)
            lo = v->value;
        if (!have || v->value > hi)
            hi = v->value;
        have++;
    }
    if (have < 2)
        return json_null();
    char points[512] = "";
    size_t len = 0;
    for (int i = 0; i < nyears && len < sizeof points - 32; i++) {
        const struct ind_value_rec *v = years[i];
        if (!v || !v->has_value || v->error)
            continue;
        double x = nyears > 1 ? 100.0 * i / (nyears - 1) : 50;
        double y = hi > lo ? 22 - 20 * (v->value - lo) / (hi - lo) : 12;
        len += (size_t)snprintf(points + len, sizeof points - len, "%s%.1f,%.1f", len ? " " : "", x,
                                y);
    }
    return json_string(points);
}

/* The indicators panel: every indicator of the region at this organisation (with its trend)
 * and at the organisations below it. */
static int dash_indicators(struct dash *d, const struct org_info *org,
                           const struct org_info *children, size_t nchildren, json_t *ctx)
{
    const struct indicator_set *set = d->app->defs->indicators;
    if (!set)
        return 0;
    char today[11], period[8];
    time_t now = time(NULL);
    strftime(today, sizeof today, "%Y-%m-%d", localtime(&now));
    if (registry_school_year(today, period) < 0)
        return 0;
    struct period per;
    registry_period_parse(period, &per);
    enum { YEARS = 5 };
    struct ind_value_rec *vals[YEARS];
    size_t nvals[YEARS];
    struct err e = {0};
    for (int y = 0; y < YEARS; y++) {
        char code[8];
        int start = per.year - (YEARS - 1) + y;
        snprintf(code, sizeof code, "%04u/%02u", (unsigned)start % 10000u,
                 (unsigned)(start + 1) % 100u);
        if (store_ind_get_values(d->app->store, d->q->arena, indicator_set_region(set), code,
                                 org->code, &vals[y], &nvals[y], &e) != STORE_OK) {
            dash_fail(d, "reading indicator values", &e);
            return -1;
        }
    }
    const struct ind_value_rec *cur = vals[YEARS - 1];
    size_t ncur = nvals[YEARS - 1];
    json_t *list = json_array(), *titles = json_array(), *rows = json_array();
    int ok = list && titles && rows;
    size_t ndefs = indicator_set_count(set);
    for (size_t i = 0; ok && i < ndefs; i++) {
        const struct indicator_def *def = indicator_set_get(set, i);
        const char *title =
            strcmp(d->lang, "en") == 0 && def->title_en ? def->title_en : def->title_ru;
        const struct ind_value_rec *years[YEARS];
        for (int y = 0; y < YEARS; y++)
            years[y] = dash_find(vals[y], nvals[y], def->id, org->code);
        json_t *cell = dash_cell(d, def, years[YEARS - 1], per.year);
        ok = cell && json_object_set_new(cell, "title", json_string(title)) == 0 &&
             json_object_set_new(cell, "trend", dash_trend(years, YEARS)) == 0 &&
             json_array_append_new(list, cell) == 0 &&
             json_array_append_new(titles, json_string(title)) == 0;
    }
    for (size_t c = 0; ok && c < nchildren; c++) {
        json_t *cells = json_array();
        for (size_t i = 0; cells && i < ndefs; i++) {
            const struct indicator_def *def = indicator_set_get(set, i);
            if (json_array_append_new(
                    cells, dash_cell(d, def, dash_find(cur, ncur, def->id, children[c].code),
                                     per.year)) < 0) {
                json_decref(cells);
                cells = NULL;
            }
        }
        ok = cells &&
             json_array_append_new(rows, json_pack("{s:s, s:s, s:o}", "code", children[c].code,
                                                   "name", children[c].name, "cells", cells)) == 0;
    }
    ok =
        ok && json_object_set_new(ctx, "period", json_string(period)) == 0 &&
        json_object_set_new(ctx, "has_indicators", json_boolean(ndefs > 0)) == 0 &&
        json_object_set_new(ctx, "has_child_values", json_boolean(nchildren > 0 && ndefs > 0)) == 0;
    json_object_set_new(ctx, "indicators", list);
    json_object_set_new(ctx, "ind_titles", titles);
    json_object_set_new(ctx, "child_values", rows);
    if (!ok)
        d->r->body.failed = 1;
    return ok ? 0 : -1;
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
    if (dash_indicators(d, &org, children, nchildren, ctx) < 0) {
        json_decref(ctx);
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
    json_t *item = json_pack("{s:s, s:s, s:b}", "code", row->participant_code, "org", row->org_name,
                             "started", row->started);
    if (!item || json_array_append_new(p->list, item) < 0 ||
        app_set_text(item, "name", row->participant_name) < 0) {
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

/* A download being streamed: what to export and to which account's name in the log. */
struct dash_download {
    struct app *app;
    struct export_request rq;
    const char *request_id;
};

struct dash_sink {
    http_write_fn write;
    void *out;
};

static int dash_sink_write(void *ctx, const void *p, size_t n)
{
    struct dash_sink *s = ctx;
    return s->write(s->out, p, n) < 0 ? -1 : 0;
}

static int dash_download_stream(void *ctx, http_write_fn write, void *out)
{
    struct dash_download *dl = ctx;
    struct dash_sink s = {write, out};
    struct export_sink sink = {dash_sink_write, &s};
    struct export_result res;
    struct err e = {0};
    if (export_run(dl->app->store, &dl->app->defs->surveys, &dl->rq, &sink, &res, &e) !=
        EXPORT_OK) {
        char msg[1024];
        err_format(&e, msg, sizeof msg);
        log_msg(LOG_ERROR, "req=%s export failed: %s", dl->request_id, msg);
        return -1;
    }
    return 0;
}

/*
 * /dash/org/<code>/export/<table>?format=...&survey=...&period=...: the organisation's
 * subtree as a file, streamed row by row (never held in memory). Participants are
 * pseudonymised: identified lists are for the command line, where the administrator is.
 */
static void dash_export(struct dash *d, const char *org_code, const char *table)
{
    struct org_info org;
    if (dash_org(d, org_code, &org) < 0)
        return;
    struct form query;
    struct err e = {0};
    int parsed = form_parse(d->q->arena, d->q->query, strlen(d->q->query), &query, &e);
    if (parsed == FORM_NO_MEMORY) {
        d->r->body.failed = 1;
        return;
    }
    if (parsed < 0) {
        app_error_page(d->app, d->q, d->r, 400, "bad_request");
        return;
    }
    struct dash_download *dl = arena_calloc(d->q->arena, 1, sizeof *dl);
    if (!dl) {
        d->r->body.failed = 1;
        return;
    }
    const char *format = form_get(&query, "format");
    const char *survey = form_get(&query, "survey");
    const char *period = form_get(&query, "period");
    struct period per;
    if (export_table_parse(table, &dl->rq.table) < 0 ||
        export_format_parse(format ? format : "csv-excel", &dl->rq.format) < 0 ||
        (survey && *survey && !survey_set_find(&d->app->defs->surveys, survey)) ||
        (period && *period && registry_period_parse(period, &per) < 0)) {
        app_error_page(d->app, d->q, d->r, 404, "not_found");
        return;
    }
    dl->app = d->app;
    dl->request_id = d->q->request_id;
    dl->rq.org_code = org.code;
    dl->rq.survey_id = survey && *survey ? survey : NULL;
    dl->rq.period = period && *period ? period : NULL;
    dl->rq.region =
        d->app->defs->indicators ? indicator_set_region(d->app->defs->indicators) : NULL;
    dl->rq.user_id = d->acc.id;
    if (dl->rq.table == EXPORT_INDICATORS && (!dl->rq.region || !dl->rq.period)) {
        app_error_page(d->app, d->q, d->r, 404, "not_found");
        return;
    }
    char *disposition =
        arena_printf(d->q->arena, "attachment; filename=\"%s-%s.%s\"",
                     export_table_name(dl->rq.table), org.code, export_format_ext(dl->rq.format));
    if (!disposition) {
        d->r->body.failed = 1;
        return;
    }
    http_header(d->r, "Content-Type", export_format_mime(dl->rq.format));
    http_header(d->r, "Content-Disposition", disposition);
    d->r->stream = dash_download_stream;
    d->r->stream_ctx = dl;
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
    /* /org/<code>, /org/<code>/campaign/<code> or /org/<code>/export/<table> */
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
    n = 0;
    if (sscanf(rest, "/org/%71[A-Za-z0-9._-]/export/%71[a-z]%n", org, camp, &n) == 2 &&
        rest[n] == '\0') {
        dash_export(&d, org, camp);
        return;
    }
    app_error_page(app, q, r, 404, "not_found");
}
