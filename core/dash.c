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
#include "report.h"
#include "session.h"
#include "store.h"
#include "survey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct dash {
    struct app *app;
    struct http_req *q;
    struct http_resp *r;
    const char *lang;
    struct account acc;
    int api; /* the same models as JSON under /api/v1 */
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

/* The API's words for the error pages' keys: API clients are programs, so English. */
static const struct {
    const char *key, *message;
} dash_api_errors[] = {
    {"not_found", "no such resource, or not one this account may see"},
    {"bad_request", "the parameters of the request are not valid"},
    {"forbidden", "this account's role may not see this"},
    {"method", "this resource is read-only"},
    {"unavailable", "the database is not available; try again later"},
};

/* An error: its page, or for the API {"error": ...}. */
static void dash_error(struct dash *d, int status, const char *key)
{
    if (!d->api) {
        app_error_page(d->app, d->q, d->r, status, key);
        return;
    }
    const char *message = key;
    for (size_t i = 0; i < sizeof dash_api_errors / sizeof dash_api_errors[0]; i++)
        if (strcmp(dash_api_errors[i].key, key) == 0)
            message = dash_api_errors[i].message;
    app_json_error(d->r, status, message);
}

static void dash_fail(struct dash *d, const char *what, const struct err *e)
{
    char msg[1024];
    err_format(e, msg, sizeof msg);
    log_msg(LOG_ERROR, "req=%s %s: %s", d->q->request_id, what, msg);
    dash_error(d, 503, "unavailable");
}

/* A page model (whose reference passes here) as its page, or as JSON for the API; ok 0 means
 * building it ran out of memory, and the answer is a 500. */
static void dash_render(struct dash *d, const char *name, json_t *ctx, int ok)
{
    if (!ok) {
        json_decref(ctx);
        d->r->body.failed = 1;
    } else if (d->api)
        app_json(d->r, 200, ctx);
    else
        app_page(d->app, d->q, d->r, 200, d->lang, name, ctx);
}

/* The frame every staff page shares: who is signed in, the sign-out form. The API has its
 * own /api/v1/me instead. */
static json_t *dash_frame(struct dash *d, const char *title)
{
    if (d->api)
        return json_object();
    char csrf[44];
    int signed_in = session_csrf(d->app, d->q, csrf) == 0;
    /* Pages behind session_require always have the cookie the value is made of. */
    return json_pack("{s:s, s:{s:s, s:s, s:s, s:b}, s:s}", "page_title", title, "user", "name",
                     d->acc.name, "login", d->acc.login, "role",
                     dash_word(d, "role", account_role_name(d->acc.role)), "admin",
                     d->acc.role == ROLE_ADMIN, "csrf", signed_in ? csrf : "");
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
        dash_error(d, 404, "not_found");
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

/* A questionnaire's title in the page's language (English when the file has one). */
static const char *dash_survey_title(const struct dash *d, const struct survey *s, const char *id)
{
    if (!s)
        return id;
    if (strcmp(d->lang, "en") == 0 && s->title.en)
        return s->title.en;
    return s->title.ru ? s->title.ru : id;
}

static json_t *dash_campaign_json(struct dash *d, const struct campaign_info *c)
{
    const struct survey *s = survey_set_find(&d->app->defs->surveys, c->rec.survey_id);
    long pct = c->invited ? (c->completed * 100 + c->invited / 2) / c->invited : 0;
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "code", c->rec.code, "survey",
        dash_survey_title(d, s, c->rec.survey_id), "period", c->rec.period, "wave",
        dash_word(d, "wave", c->rec.wave), "status", dash_word(d, "status", c->status), "opens",
        c->rec.opens, "closes", c->rec.closes, "invited", (json_int_t)c->invited, "started",
        (json_int_t)c->started, "completed", (json_int_t)c->completed, "percent", (json_int_t)pct);
}

/* Figures computed from fewer participants than this are shown as "< 5": a school's
 * satisfaction of three pupils would tell who said what. */
#define DASH_SMALL_CELL 5

/* A number as the page's language writes it: a decimal comma in Russian, a point in English. */
static void dash_number(const struct dash *d, char *out, size_t size, double v, int decimals)
{
    snprintf(out, size, "%.*f", decimals, v);
    char *dot = strchr(out, '.');
    if (dot && strcmp(d->lang, "en") != 0)
        *dot = ',';
}

static void dash_format(const struct dash *d, const struct indicator_def *def, double v, char *out,
                        size_t size)
{
    char num[48];
    switch (def->unit) {
    case INDICATOR_PERCENT:
        dash_number(d, num, sizeof num, v, 1);
        snprintf(out, size, "%s %%", num);
        break;
    case INDICATOR_COUNT: dash_number(d, out, size, v, 0); break;
    case INDICATOR_RATIO:
    case INDICATOR_SCORE: dash_number(d, out, size, v, 2); break;
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
        dash_format(d, def, t, target, sizeof target);
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
        dash_format(d, def, v->value, value, sizeof value);
        if (v->has_num) {
            char a[48], b[48];
            dash_number(d, a, sizeof a, v->num, 0);
            dash_number(d, b, sizeof b, v->den, 0);
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

enum { DASH_YEARS = 5 };

/* The values of every indicator of the region for the DASH_YEARS school years ending with the
 * one starting in year, at org and the organisations below it (arrays in the request arena). */
static int dash_load_years(struct dash *d, const struct org_info *org, int year,
                           struct ind_value_rec *vals[DASH_YEARS], size_t nvals[DASH_YEARS],
                           char codes[DASH_YEARS][8])
{
    const struct indicator_set *set = d->app->defs->indicators;
    struct err e = {0};
    for (int y = 0; y < DASH_YEARS; y++) {
        int start = year - (DASH_YEARS - 1) + y;
        snprintf(codes[y], 8, "%04u/%02u", (unsigned)start % 10000u, (unsigned)(start + 1) % 100u);
        if (store_ind_get_values(d->app->store, d->q->arena, indicator_set_region(set), codes[y],
                                 org->code, &vals[y], &nvals[y], &e) != STORE_OK) {
            dash_fail(d, "reading indicator values", &e);
            return -1;
        }
    }
    return 0;
}

/* The title of an indicator in the page's language. */
static const char *dash_ind_title(struct dash *d, const struct indicator_def *def)
{
    return strcmp(d->lang, "en") == 0 && def->title_en ? def->title_en : def->title_ru;
}

/* Whether a value is shown as a number (not failed, not suppressed, not missing). */
static int dash_value_shown(const struct ind_value_rec *v)
{
    return v && v->has_value && !v->error &&
           !((v->has_num && v->den > 0 && v->den < DASH_SMALL_CELL) ||
             (v->has_n && v->n < DASH_SMALL_CELL));
}

/* The indicators panel: every indicator of the region at this organisation (with its trend)
 * and at the organisations below it, each compared with a bar. */
static int dash_indicators(struct dash *d, const struct org_info *org,
                           const struct org_info *children, size_t nchildren,
                           const struct period *per, json_t *ctx)
{
    const struct indicator_set *set = d->app->defs->indicators;
    if (!set)
        return 0;
    struct ind_value_rec *vals[DASH_YEARS];
    size_t nvals[DASH_YEARS];
    char codes[DASH_YEARS][8];
    if (dash_load_years(d, org, per->year, vals, nvals, codes) < 0)
        return -1;
    const struct ind_value_rec *cur = vals[DASH_YEARS - 1];
    size_t ncur = nvals[DASH_YEARS - 1];
    json_t *list = json_array(), *titles = json_array(), *rows = json_array();
    int ok = list && titles && rows;
    size_t ndefs = indicator_set_count(set);
    for (size_t i = 0; ok && i < ndefs; i++) {
        const struct indicator_def *def = indicator_set_get(set, i);
        const char *title = dash_ind_title(d, def);
        const struct ind_value_rec *years[DASH_YEARS];
        for (int y = 0; y < DASH_YEARS; y++)
            years[y] = dash_find(vals[y], nvals[y], def->id, org->code);
        json_t *cell = dash_cell(d, def, years[DASH_YEARS - 1], per->year);
        ok = cell && json_object_set_new(cell, "id", json_string(def->id)) == 0 &&
             json_object_set_new(cell, "title", json_string(title)) == 0 &&
             json_object_set_new(cell, "trend", dash_trend(years, DASH_YEARS)) == 0 &&
             json_array_append_new(list, cell) == 0 &&
             json_array_append_new(titles, json_string(title)) == 0;
    }
    for (size_t c = 0; ok && c < nchildren; c++) {
        json_t *cells = json_array();
        for (size_t i = 0; cells && i < ndefs; i++) {
            const struct indicator_def *def = indicator_set_get(set, i);
            if (json_array_append_new(
                    cells, dash_cell(d, def, dash_find(cur, ncur, def->id, children[c].code),
                                     per->year)) < 0) {
                json_decref(cells);
                cells = NULL;
            }
        }
        ok = cells &&
             json_array_append_new(rows, json_pack("{s:s, s:s, s:o}", "code", children[c].code,
                                                   "name", children[c].name, "cells", cells)) == 0;
    }
    /* A bar on each shown value of the organisations below, against the largest of them. */
    for (size_t i = 0; ok && i < ndefs; i++) {
        const char *id = indicator_set_get(set, i)->id;
        double hi = 0;
        for (size_t c = 0; c < nchildren; c++) {
            const struct ind_value_rec *x = dash_find(cur, ncur, id, children[c].code);
            if (dash_value_shown(x) && x->value > hi)
                hi = x->value;
        }
        for (size_t c = 0; hi > 0 && c < nchildren; c++) {
            const struct ind_value_rec *x = dash_find(cur, ncur, id, children[c].code);
            json_t *cell = json_array_get(json_object_get(json_array_get(rows, c), "cells"), i);
            if (dash_value_shown(x) && x->value > 0)
                ok = json_object_set_new(cell, "bar",
                                         json_integer((json_int_t)(100 * x->value / hi))) == 0;
        }
    }
    ok =
        ok && json_object_set_new(ctx, "period", json_string(codes[DASH_YEARS - 1])) == 0 &&
        json_object_set_new(ctx, "has_indicators", json_boolean(ndefs > 0)) == 0 &&
        json_object_set_new(ctx, "has_child_values", json_boolean(nchildren > 0 && ndefs > 0)) == 0;
    /* Set whatever happened before, so that ctx owns them; a failure fails the page. */
    ok = json_object_set_new(ctx, "indicators", list) == 0 && ok;
    ok = json_object_set_new(ctx, "ind_titles", titles) == 0 && ok;
    ok = json_object_set_new(ctx, "child_values", rows) == 0 && ok;
    if (!ok)
        d->r->body.failed = 1;
    return ok ? 0 : -1;
}

/*
 * The school year a page shows: ?period= when it names one (2025/26), else the current one.
 * Returns 0 with code and per filled, or -1 with the 404 answered.
 */
static int dash_year(struct dash *d, char code[8], struct period *per)
{
    struct form query;
    struct err e = {0};
    int parsed = form_parse(d->q->arena, d->q->query, strlen(d->q->query), &query, &e);
    if (parsed == FORM_NO_MEMORY) {
        d->r->body.failed = 1;
        return -1;
    }
    if (parsed < 0) {
        dash_error(d, 400, "bad_request");
        return -1;
    }
    const char *asked = form_get(&query, "period");
    if (asked && *asked) {
        if (strlen(asked) != 7 || registry_period_parse(asked, per) < 0 || per->kind != 'Y') {
            dash_error(d, 404, "not_found");
            return -1;
        }
        memcpy(code, asked, 8);
        return 0;
    }
    char today[11];
    time_t now = time(NULL);
    strftime(today, sizeof today, "%Y-%m-%d", localtime(&now));
    if (registry_school_year(today, code) < 0 || registry_period_parse(code, per) < 0) {
        dash_error(d, 503, "unavailable");
        return -1;
    }
    return 0;
}

/* A form of mentoring in words; a region's own x- forms have none but their code. */
static const char *dash_form_word(struct dash *d, const char *form)
{
    char key[96];
    snprintf(key, sizeof key, "staff.form.%s", form);
    const char *w = dash_t(d, key);
    return strcmp(w, key) == 0 ? form : w;
}

/* One row of the growth table: means on entry and at the end, bars on the scale's range. */
static json_t *dash_growth_row(struct dash *d, const struct report_growth *g,
                               const struct report_growth_group *x)
{
    char entry[32] = "", final[32] = "", delta[32] = "";
    const char *form = x->form ? dash_form_word(d, x->form) : dash_t(d, "staff.growth.all");
    int small = x->n < DASH_SMALL_CELL;
    json_t *row = json_pack("{s:s, s:s*, s:I, s:b}", "form", form, "form_code", x->form, "n",
                            (json_int_t)x->n, "small", small);
    if (!row || small)
        return row;
    dash_number(d, entry, sizeof entry, x->mean_entry, 2);
    dash_number(d, final, sizeof final, x->mean_final, 2);
    dash_number(d, delta, sizeof delta, x->mean_final - x->mean_entry, 2);
    double span = g->hi > g->lo ? g->hi - g->lo : 1;
    if (json_object_set_new(row, "entry", json_string(entry)) < 0 ||
        json_object_set_new(row, "final", json_string(final)) < 0 ||
        json_object_set_new(row, "delta", json_string(delta)) < 0 ||
        json_object_set_new(row, "entry_value", json_real(x->mean_entry)) < 0 ||
        json_object_set_new(row, "final_value", json_real(x->mean_final)) < 0 ||
        json_object_set_new(row, "entry_bar",
                            json_integer((json_int_t)(100 * (x->mean_entry - g->lo) / span))) < 0 ||
        json_object_set_new(row, "final_bar",
                            json_integer((json_int_t)(100 * (x->mean_final - g->lo) / span))) < 0) {
        json_decref(row);
        return NULL;
    }
    return row;
}

/* The growth charts: entry against final scale scores per form of mentoring. */
static int dash_growth(struct dash *d, const struct org_info *org, const char *year,
                       const struct campaign_info *camps, size_t ncamps, json_t *ctx)
{
    struct report_growth *g;
    size_t n;
    struct err e = {0};
    if (report_growth(d->app->store, d->q->arena, &d->app->defs->surveys, org->id, year, camps,
                      ncamps, &g, &n, &e) < 0) {
        dash_fail(d, "computing growth", &e);
        return -1;
    }
    json_t *list = json_array();
    int ok = list != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        const char *label = strcmp(d->lang, "en") == 0 && g[i].label_en ? g[i].label_en
                            : g[i].label_ru                             ? g[i].label_ru
                                                                        : g[i].scale;
        json_t *rows = json_array();
        ok = rows && json_array_append_new(rows, dash_growth_row(d, &g[i], &g[i].all)) == 0;
        for (size_t k = 0; ok && k < g[i].nforms; k++)
            ok = json_array_append_new(rows, dash_growth_row(d, &g[i], &g[i].forms[k])) == 0;
        const struct survey *fs = survey_set_find(&d->app->defs->surveys, g[i].final_survey);
        const char *title = dash_survey_title(d, fs, g[i].final_survey);
        ok = ok && json_array_append_new(
                       list, json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:f, s:o}", "scale",
                                       g[i].scale, "label", label, "survey", title, "entry_survey",
                                       g[i].entry_survey, "final_survey", g[i].final_survey, "min",
                                       g[i].lo, "max", g[i].hi, "rows", rows)) == 0;
        if (!ok)
            json_decref(rows);
    }
    ok = ok && json_object_set_new(ctx, "has_growth", json_boolean(n > 0)) == 0;
    json_object_set_new(ctx, "growth", list);
    if (!ok)
        d->r->body.failed = 1;
    return ok ? 0 : -1;
}

/* The campaigns of one school year (their periods start with its code). */
static json_t *dash_year_campaigns(struct dash *d, const struct campaign_info *camps, size_t ncamps,
                                   const char *year)
{
    json_t *list = json_array();
    size_t n = strlen(year);
    for (size_t i = 0; list && i < ncamps; i++) {
        const char *p = camps[i].rec.period;
        if (strncmp(p, year, n) != 0 || (p[n] && p[n] != '-'))
            continue;
        if (json_array_append_new(list, dash_campaign_json(d, &camps[i])) < 0) {
            json_decref(list);
            list = NULL;
        }
    }
    return list;
}

static json_t *dash_programme_json(struct dash *d, const struct programme_row *p)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "code", p->code,
                     "title", p->title, "form", p->form, "form_name", dash_form_word(d, p->form),
                     "org_code", p->org_code, "org_name", p->org_name, "mentors",
                     (json_int_t)p->mentors, "mentees", (json_int_t)p->mentees, "active_pairs",
                     (json_int_t)p->active_pairs, "finished_pairs", (json_int_t)p->finished_pairs,
                     "broken_pairs", (json_int_t)p->broken_pairs);
}

/* The programmes of the school year below an organisation or a municipality: the last step
 * of the drill-down. A region's dashboard leaves them to its municipalities' pages. */
static int dash_programmes(struct dash *d, const struct org_info *org, int year, json_t *ctx)
{
    if (strcmp(org->level, "region") == 0)
        return 0;
    struct programme_row *rows;
    size_t n;
    struct err e = {0};
    if (store_programme_list(d->app->store, d->q->arena, org->code, year, &rows, &n, &e) !=
        STORE_OK) {
        dash_fail(d, "listing programmes", &e);
        return -1;
    }
    json_t *list = json_array();
    int ok = list != NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = json_array_append_new(list, dash_programme_json(d, &rows[i])) == 0;
    ok = ok && json_object_set_new(ctx, "has_programmes", json_boolean(n > 0)) == 0;
    /* Set whatever happened before, so that ctx owns the list. */
    ok = json_object_set_new(ctx, "programmes", list) == 0 && ok;
    if (!ok)
        d->r->body.failed = 1;
    return ok ? 0 : -1;
}

/* A programme: its people and pairs. It must belong to the organisation of the URL or below
 * it, and that organisation to the account's subtree. */
static void dash_programme_page(struct dash *d, const char *org_code, const char *code)
{
    struct org_info org;
    if (dash_org(d, org_code, &org) < 0)
        return;
    struct err e = {0};
    struct programme_row p;
    int rc = store_programme_get(d->app->store, d->q->arena, code, &p, &e);
    int below = rc == STORE_OK ? store_org_in_subtree(d->app->store, org.id, p.org_id, &e) : rc;
    if (rc == STORE_ERROR || below == STORE_ERROR) {
        dash_fail(d, "reading a programme", &e);
        return;
    }
    if (below != STORE_OK) {
        dash_error(d, 404, "not_found");
        return;
    }
    struct programme_pair *pairs;
    size_t n;
    if (store_programme_pairs(d->app->store, d->q->arena, code, &pairs, &n, &e) != STORE_OK) {
        dash_fail(d, "reading a programme's pairs", &e);
        return;
    }
    char year[8];
    snprintf(year, sizeof year, "%04u/%02u", (unsigned)p.year % 10000u,
             (unsigned)(p.year + 1) % 100u);
    json_t *ctx = dash_frame(d, p.title);
    json_t *list = json_array();
    int ok = ctx && list;
    int names = 0;
    for (size_t i = 0; ok && i < n; i++) {
        names |= pairs[i].mentor_name || pairs[i].mentee_name;
        ok =
            json_array_append_new(
                list, json_pack("{s:s, s:s*, s:s, s:s*, s:s, s:s*, s:s, s:s, s:b}", "mentor",
                                pairs[i].mentor_code, "mentor_name", pairs[i].mentor_name, "mentee",
                                pairs[i].mentee_code, "mentee_name", pairs[i].mentee_name, "starts",
                                pairs[i].starts, "ends", pairs[i].ends, "status", pairs[i].status,
                                "status_text", dash_word(d, "pair", pairs[i].status), "first",
                                i == 0 || strcmp(pairs[i - 1].mentor_code, pairs[i].mentor_code) !=
                                              0)) == 0;
    }
    ok = ok &&
         json_object_set_new(ctx, "org",
                             json_pack("{s:s, s:s}", "code", org.code, "name", org.name)) == 0 &&
         json_object_set_new(ctx, "programme", dash_programme_json(d, &p)) == 0 &&
         json_object_set_new(ctx, "year", json_string(year)) == 0 &&
         json_object_set_new(ctx, "has_pairs", json_boolean(n > 0)) == 0 &&
         json_object_set_new(ctx, "has_names", json_boolean(names)) == 0;
    json_object_set_new(ctx, "pairs", list);
    dash_render(d, "dash_programme", ctx, ok);
}

/* An organisation as the pages name it: code, name and level in words. */
static json_t *dash_org_json(struct dash *d, const struct org_info *org)
{
    return json_pack("{s:s, s:s, s:s}", "code", org->code, "name", org->name, "level",
                     dash_word(d, "level", org->level));
}

/* What an organisation's dashboard and report both start from: the organisation (checked
 * against the account), the school year asked for, its figures, the organisations below and
 * the campaigns that reach it. Returns 0, or -1 with the response made. */
struct dash_org_data {
    struct org_info org;
    char year[8];
    struct period per;
    struct org_stats stats;
    struct org_info *children;
    size_t nchildren;
    struct campaign_info *camps;
    size_t ncamps;
};

static int dash_org_load(struct dash *d, const char *code, struct dash_org_data *x)
{
    if (dash_org(d, code, &x->org) < 0 || dash_year(d, x->year, &x->per) < 0)
        return -1;
    struct err e = {0};
    if (store_org_stats(d->app->store, x->org.code, &x->stats, &e) != STORE_OK ||
        store_org_children(d->app->store, d->q->arena, x->org.code, &x->children, &x->nchildren,
                           &e) != STORE_OK ||
        store_campaign_list(d->app->store, d->q->arena, x->org.code, &x->camps, &x->ncamps, &e) !=
            STORE_OK) {
        dash_fail(d, "reading an organisation's figures", &e);
        return -1;
    }
    return 0;
}

/* The growth charts of a dashboard. Above a school they pair every entry and final score
 * of the subtree (a region's million responses: ~0.25 s; a municipality's: ~6 ms, beyond
 * a page opened all day): those dashboards link to the report, which draws them. */
static int dash_org_growth(struct dash *d, const struct dash_org_data *x, json_t *ctx)
{
    if (strcmp(x->org.level, "organisation") != 0)
        return json_object_set_new(ctx, "growth_in_report", json_true()) == 0 ? 0 : -1;
    return dash_growth(d, &x->org, x->year, x->camps, x->ncamps, ctx);
}

static void dash_org_page(struct dash *d, const char *code)
{
    struct dash_org_data x;
    if (dash_org_load(d, code, &x) < 0)
        return;
    struct err e = {0};
    json_t *ctx = dash_frame(d, x.org.name);
    json_t *kids = json_array(), *cs = dash_year_campaigns(d, x.camps, x.ncamps, x.year);
    int ok = ctx && kids && cs;
    for (size_t i = 0; ok && i < x.nchildren; i++) {
        struct org_stats cst;
        if (store_org_stats(d->app->store, x.children[i].code, &cst, &e) != STORE_OK) {
            json_decref(ctx);
            json_decref(kids);
            json_decref(cs);
            dash_fail(d, "counting participants", &e);
            return;
        }
        ok = json_array_append_new(
                 kids,
                 json_pack("{s:s, s:s, s:s, s:o}", "code", x.children[i].code, "name",
                           x.children[i].name, "kind",
                           dash_word(d, x.children[i].kind ? "kind" : "level",
                                     x.children[i].kind ? x.children[i].kind : x.children[i].level),
                           "stats", dash_stats(&cst))) == 0;
    }
    ok = ok && json_object_set_new(ctx, "org", dash_org_json(d, &x.org)) == 0 &&
         json_object_set_new(ctx, "crumbs", dash_crumbs(d, &x.org)) == 0 &&
         json_object_set_new(ctx, "stats", dash_stats(&x.stats)) == 0 &&
         json_object_set_new(ctx, "has_children", json_boolean(x.nchildren > 0)) == 0 &&
         json_object_set_new(ctx, "has_campaigns", json_boolean(json_array_size(cs) > 0)) == 0 &&
         json_object_set_new(ctx, "period", json_string(x.year)) == 0;
    json_object_set_new(ctx, "children", kids);
    json_object_set_new(ctx, "campaigns", cs);
    if (!ok) {
        json_decref(ctx);
        d->r->body.failed = 1;
        return;
    }
    if (dash_indicators(d, &x.org, x.children, x.nchildren, &x.per, ctx) < 0 ||
        dash_org_growth(d, &x, ctx) < 0 || dash_programmes(d, &x.org, x.per.year, ctx) < 0) {
        json_decref(ctx);
        return;
    }
    dash_render(d, "dash_org", ctx, 1);
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
        dash_error(d, 404, "not_found");
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
    dash_render(d, "dash_campaign", ctx, ok);
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
        dash_error(d, 400, "bad_request");
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
        dash_error(d, 404, "not_found");
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
    if ((dl->rq.table == EXPORT_INDICATORS && (!dl->rq.region || !dl->rq.period)) ||
        (dl->rq.table == EXPORT_FEDERAL && (!dl->rq.period || per.kind != 'Y'))) {
        dash_error(d, 404, "not_found");
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

/* The KPI chart of one indicator: a bar per school year with its target as a dashed line,
 * in a 100 x 60 box (server-rendered SVG: no script, prints as drawn). */
static json_t *dash_kpi_chart(const struct indicator_def *def,
                              const struct ind_value_rec *const *years, const int *year_of)
{
    double lo = 0, hi = 0, t;
    for (int i = 0; i < DASH_YEARS; i++) {
        double x[2];
        int nx = 0;
        if (dash_value_shown(years[i]))
            x[nx++] = years[i]->value;
        if (indicator_target(def, year_of[i], &t) == 1)
            x[nx++] = t;
        for (int k = 0; k < nx; k++) {
            lo = x[k] < lo ? x[k] : lo;
            hi = x[k] > hi ? x[k] : hi;
        }
    }
    if (hi <= lo)
        return json_null();
#define DASH_Y(v) (50 - 45 * ((v)-lo) / (hi - lo))
    json_t *bars = json_array();
    for (int i = 0; bars && i < DASH_YEARS; i++) {
        double x = i * 20 + 4, y0 = DASH_Y(0);
        json_t *bar = json_pack("{s:f, s:f, s:f, s:s}", "x", x, "x2", x + 12, "label_x", x + 6,
                                "label", years[i] ? years[i]->period + 2 : "");
        if (bar && dash_value_shown(years[i])) {
            double y = DASH_Y(years[i]->value);
            json_object_set_new(bar, "y", json_real(y < y0 ? y : y0));
            json_object_set_new(bar, "h", json_real(y < y0 ? y0 - y : y - y0));
        }
        if (bar && indicator_target(def, year_of[i], &t) == 1)
            json_object_set_new(bar, "target_y", json_real(DASH_Y(t)));
        if (!bar || json_array_append_new(bars, bar) < 0) {
            json_decref(bars);
            bars = NULL;
        }
    }
#undef DASH_Y
    return bars;
}

/* The KPI table of the report: every indicator against its target, year by year. */
static int dash_kpi(struct dash *d, const struct org_info *org, const struct period *per,
                    json_t *ctx)
{
    const struct indicator_set *set = d->app->defs->indicators;
    if (!set)
        return 0;
    struct ind_value_rec *vals[DASH_YEARS];
    size_t nvals[DASH_YEARS];
    char codes[DASH_YEARS][8];
    if (dash_load_years(d, org, per->year, vals, nvals, codes) < 0)
        return -1;
    json_t *years = json_array(), *rows = json_array();
    int ok = years && rows;
    int year_of[DASH_YEARS];
    for (int y = 0; ok && y < DASH_YEARS; y++) {
        year_of[y] = per->year - (DASH_YEARS - 1) + y;
        ok = json_array_append_new(years, json_string(codes[y])) == 0;
    }
    for (size_t i = 0; ok && i < indicator_set_count(set); i++) {
        const struct indicator_def *def = indicator_set_get(set, i);
        const struct ind_value_rec *v[DASH_YEARS];
        json_t *cells = json_array();
        for (int y = 0; cells && y < DASH_YEARS; y++) {
            v[y] = dash_find(vals[y], nvals[y], def->id, org->code);
            if (json_array_append_new(cells, dash_cell(d, def, v[y], year_of[y])) < 0) {
                json_decref(cells);
                cells = NULL;
            }
        }
        /* The chart's year labels come from the codes, also where a year has no value. */
        struct ind_value_rec blank[DASH_YEARS];
        for (int y = 0; y < DASH_YEARS; y++)
            if (!v[y]) {
                blank[y] = (struct ind_value_rec){.period = codes[y]};
                v[y] = &blank[y];
            }
        json_t *chart = dash_kpi_chart(def, v, year_of);
        if (!chart) {
            json_decref(cells);
            cells = NULL;
        }
        ok = cells && json_array_append_new(
                          rows, json_pack("{s:s, s:s, s:o, s:O, s:b}", "id", def->id, "title",
                                          dash_ind_title(d, def), "cells", cells, "chart", chart,
                                          "has_chart", !json_is_null(chart))) == 0;
        json_decref(chart);
    }
    ok = ok && json_object_set_new(ctx, "has_kpi", json_boolean(json_array_size(rows))) == 0 &&
         json_object_set_new(ctx, "kpi_years", years) == 0 &&
         json_object_set_new(ctx, "kpi", rows) == 0;
    if (!ok)
        d->r->body.failed = 1;
    return ok ? 0 : -1;
}

/*
 * The аналитическая справка of an organisation or a municipality for a school year: the KPI
 * table (indicator x year, target against actual: the shape of the regional monitoring
 * tables), charts, the organisations below compared, response rates and growth. Laid out
 * for printing: the browser's "Save as PDF" gives the document.
 */
static void dash_report_page(struct dash *d, const char *code)
{
    struct dash_org_data x;
    if (dash_org_load(d, code, &x) < 0)
        return;
    char today[11];
    time_t now = time(NULL);
    strftime(today, sizeof today, "%d.%m.%Y", localtime(&now));
    const struct indicator_set *set = d->app->defs->indicators;
    json_t *ctx = dash_frame(d, dash_t(d, "staff.report.title"));
    json_t *cs = dash_year_campaigns(d, x.camps, x.ncamps, x.year);
    int ok = ctx && cs && json_object_set_new(ctx, "org", dash_org_json(d, &x.org)) == 0 &&
             json_object_set_new(ctx, "year", json_string(x.year)) == 0 &&
             json_object_set_new(ctx, "generated", json_string(today)) == 0 &&
             json_object_set_new(ctx, "region",
                                 set ? json_string(indicator_set_region(set)) : json_null()) == 0 &&
             json_object_set_new(ctx, "stats", dash_stats(&x.stats)) == 0 &&
             json_object_set_new(ctx, "has_campaigns", json_boolean(json_array_size(cs))) == 0;
    json_object_set_new(ctx, "campaigns", cs);
    if (!ok) {
        json_decref(ctx);
        d->r->body.failed = 1;
        return;
    }
    if (dash_kpi(d, &x.org, &x.per, ctx) < 0 ||
        dash_indicators(d, &x.org, x.children, x.nchildren, &x.per, ctx) < 0 ||
        dash_growth(d, &x.org, x.year, x.camps, x.ncamps, ctx) < 0) {
        json_decref(ctx);
        return;
    }
    dash_render(d, "dash_report", ctx, 1);
}

/* The yearly count of participants by form, role and age band for federal statistics. */
static void dash_federal_page(struct dash *d, const char *code)
{
    struct org_info org;
    char year[8];
    struct period per;
    if (dash_org(d, code, &org) < 0 || dash_year(d, year, &per) < 0)
        return;
    struct report_federal f;
    struct err e = {0};
    if (report_federal(d->app->store, d->q->arena, org.code, per.year, &f, &e) < 0) {
        dash_fail(d, "counting participants", &e);
        return;
    }
    json_t *ctx = dash_frame(d, dash_t(d, "staff.federal.title"));
    json_t *bands = json_array(), *rows = json_array(), *totals = json_array();
    int ok = ctx && bands && rows && totals;
    for (int b = 0; ok && b < REPORT_NBANDS; b++) {
        char key[64];
        snprintf(key, sizeof key, "staff.federal.band.%s", report_band_name((enum report_band)b));
        ok = json_array_append_new(bands, json_pack("{s:s, s:s}", "code",
                                                    report_band_name((enum report_band)b), "name",
                                                    dash_t(d, key))) == 0;
    }
    for (size_t i = 0; ok && i < f.n; i++) {
        const struct report_federal_row *x = &f.rows[i];
        json_t *counts = json_array();
        for (int b = 0; counts && b <= REPORT_NBANDS; b++)
            if (json_array_append_new(
                    counts, json_integer(b < REPORT_NBANDS ? x->bands[b] : x->total)) < 0) {
                json_decref(counts);
                counts = NULL;
            }
        ok = counts && json_array_append_new(
                           rows, json_pack("{s:s, s:s, s:s, s:s, s:b, s:o}", "form", x->form,
                                           "form_name", dash_form_word(d, x->form), "role", x->role,
                                           "role_name", dash_word(d, "prole", x->role), "first",
                                           strcmp(x->role, "mentor") == 0, "counts", counts)) == 0;
    }
    for (int m = 0; ok && m < 2; m++) {
        json_t *counts = json_array();
        for (int b = 0; counts && b <= REPORT_NBANDS; b++)
            if (json_array_append_new(counts, json_integer(f.role_totals[m][b])) < 0) {
                json_decref(counts);
                counts = NULL;
            }
        const char *role = m ? "mentee" : "mentor";
        ok = counts && json_array_append_new(
                           totals, json_pack("{s:s, s:s, s:o}", "role", role, "role_name",
                                             dash_word(d, "prole", role), "counts", counts)) == 0;
    }
    ok = ok && json_object_set_new(ctx, "org", dash_org_json(d, &org)) == 0 &&
         json_object_set_new(ctx, "year", json_string(year)) == 0 &&
         json_object_set_new(ctx, "total", json_integer(f.total)) == 0 &&
         json_object_set_new(ctx, "has_rows", json_boolean(f.n > 0)) == 0;
    json_object_set_new(ctx, "bands", bands);
    json_object_set_new(ctx, "rows", rows);
    json_object_set_new(ctx, "totals", totals);
    dash_render(d, "dash_federal", ctx, ok);
}

enum { DASH_AUDIT_PAGE = 100 };

/* The audit log, newest first, a page at a time: the administrator's alone (it names every
 * account and what it exported). ?action= keeps one family ("export"), ?before= pages. */
static void dash_audit_page(struct dash *d)
{
    if (d->acc.role != ROLE_ADMIN) {
        dash_error(d, 403, "forbidden");
        return;
    }
    struct form query;
    struct err e = {0};
    int parsed = form_parse(d->q->arena, d->q->query, strlen(d->q->query), &query, &e);
    if (parsed == FORM_NO_MEMORY) {
        d->r->body.failed = 1;
        return;
    }
    if (parsed < 0) {
        dash_error(d, 400, "bad_request");
        return;
    }
    const char *action = form_get(&query, "action");
    const char *before = form_get(&query, "before");
    struct audit_query aq = {.limit = DASH_AUDIT_PAGE + 1};
    if (action && *action) {
        if (strspn(action, "abcdefghijklmnopqrstuvwxyz._") != strlen(action) ||
            strlen(action) > 32) {
            dash_error(d, 400, "bad_request");
            return;
        }
        aq.action = action;
    }
    if (before && *before) {
        char *end;
        long long v = strtoll(before, &end, 10);
        if (*end || v <= 0) {
            dash_error(d, 400, "bad_request");
            return;
        }
        aq.before = v;
    }
    struct audit_row *rows;
    size_t n;
    if (store_audit_query(d->app->store, d->q->arena, &aq, &rows, &n, &e) != STORE_OK) {
        dash_fail(d, "reading the audit log", &e);
        return;
    }
    int more = n > DASH_AUDIT_PAGE;
    if (more)
        n = DASH_AUDIT_PAGE;
    json_t *ctx = dash_frame(d, dash_t(d, "staff.audit.title"));
    json_t *list = json_array();
    int ok = ctx && list;
    for (size_t i = 0; ok && i < n; i++)
        ok = json_array_append_new(
                 list, json_pack("{s:I, s:s, s:s*, s:s, s:s*, s:s*}", "id", (json_int_t)rows[i].id,
                                 "at", rows[i].at, "login", rows[i].login, "action", rows[i].action,
                                 "object", rows[i].object, "detail", rows[i].detail)) == 0;
    ok = ok && json_object_set_new(ctx, "action", json_string(aq.action ? aq.action : "")) == 0 &&
         json_object_set_new(ctx, "has_entries", json_boolean(n > 0)) == 0 &&
         json_object_set_new(ctx, "next_before",
                             more ? json_integer(rows[n - 1].id) : json_null()) == 0;
    json_object_set_new(ctx, "entries", list);
    dash_render(d, "dash_audit", ctx, ok);
}

/* The words of the routes: singular in the pages' paths, plural in the API's. */
struct dash_words {
    const char *orgs, *campaign, *programme, *audit;
};

/*
 * The routes under an organisation, the same for pages and the API but for their words:
 * <orgs>/<code>, <orgs>/<code>/<campaign>/<code>, <orgs>/<code>/<programme>/<code>,
 * <orgs>/<code>/export/<table>, <orgs>/<code>/report, <orgs>/<code>/federal; and the audit
 * log.
 */

static void dash_route(struct dash *d, const char *rest, const struct dash_words *w)
{
    const char *orgs = w->orgs;
    if (strcmp(rest, w->audit) == 0) {
        dash_audit_page(d);
        return;
    }
    size_t np = strlen(orgs);
    char org[72], word[16], sub[72];
    int n = 0;
    if (strncmp(rest, orgs, np) != 0 || rest[np] != '/' ||
        sscanf(rest + np + 1, "%71[A-Za-z0-9._-]%n", org, &n) != 1) {
        dash_error(d, 404, "not_found");
        return;
    }
    const char *tail = rest + np + 1 + n;
    if (!*tail) {
        dash_org_page(d, org);
        return;
    }
    if (strcmp(tail, "/report") == 0) {
        dash_report_page(d, org);
        return;
    }
    if (strcmp(tail, "/federal") == 0) {
        dash_federal_page(d, org);
        return;
    }
    n = 0;
    if (sscanf(tail, "/%15[a-z]/%71[A-Za-z0-9._-]%n", word, sub, &n) == 2 && !tail[n]) {
        if (strcmp(word, w->programme) == 0) {
            dash_programme_page(d, org, sub);
            return;
        }
        if (strcmp(word, w->campaign) == 0) {
            dash_campaign_page(d, org, sub);
            return;
        }
        if (strcmp(word, "export") == 0) {
            dash_export(d, org, sub);
            return;
        }
    }
    dash_error(d, 404, "not_found");
}

/* The start of every staff request: read-only methods, a signed-in account. */
static int dash_begin(struct dash *d)
{
    if (strcmp(d->q->method, "GET") != 0 && strcmp(d->q->method, "HEAD") != 0) {
        http_header(d->r, "Allow", "GET, HEAD");
        dash_error(d, 405, "method");
        return -1;
    }
    return session_require(d->app, d->q, d->r, d->api, &d->acc);
}

void dash_api_handle(struct app *app, struct http_req *q, struct http_resp *r, const char *rest)
{
    struct dash d = {.app = app, .q = q, .r = r, .lang = app_lang(app, q), .api = 1};
    if (dash_begin(&d) < 0)
        return;
    if (strcmp(rest, "me") == 0) {
        json_t *me = json_pack("{s:s, s:s, s:s, s:s*}", "login", d.acc.login, "name", d.acc.name,
                               "role", account_role_name(d.acc.role), "org", d.acc.org_code);
        if (!me) {
            r->body.failed = 1;
            return;
        }
        app_json(r, 200, me);
        return;
    }
    static const struct dash_words api = {"orgs", "campaigns", "programmes", "audit"};
    dash_route(&d, rest, &api);
}

void dash_handle(struct app *app, struct http_req *q, struct http_resp *r, const char *rest)
{
    struct dash d = {.app = app, .q = q, .r = r, .lang = app_lang(app, q)};
    if (dash_begin(&d) < 0)
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
    static const struct dash_words pages = {"/org", "campaign", "programme", "/audit"};
    dash_route(&d, rest, &pages);
}
