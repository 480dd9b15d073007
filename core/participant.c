/*
 * participant: rendering, checking and storing one participant's questionnaire.
 */
#include "participant.h"

#include "app.h"
#include "arena.h"
#include "crypto.h"
#include "err.h"
#include "form.h"
#include "http.h"
#include "i18n.h"
#include "log.h"
#include "response.h"
#include "store.h"
#include "survey.h"

#include <stdio.h>
#include <string.h>

#define CSRF_COOKIE "anketa_csrf"
#define CSRF_FIELD  "csrf"

static const char *participant_text(const struct text *t, const char *lang)
{
    if (t->en && strcmp(lang, "en") == 0)
        return t->en;
    return t->ru;
}

static json_t *participant_option(const char *qid, const char *value, const char *label)
{
    char input_id[160];
    snprintf(input_id, sizeof input_id, "q-%s-%s", qid, value);
    return json_pack("{s:s, s:s, s:s}", "value", value, "label", label, "input_id", input_id);
}

static json_t *participant_options(const struct question *q, const struct i18n *c, const char *lang)
{
    json_t *opts = json_array();
    if (!opts)
        return NULL;
    int ok = 1;
    switch (q->type) {
    case Q_YESNO:
        ok = json_array_append_new(
                 opts, participant_option(q->id, "yes", i18n_text(c, lang, "answer.yes"))) == 0 &&
             json_array_append_new(
                 opts, participant_option(q->id, "no", i18n_text(c, lang, "answer.no"))) == 0;
        break;
    case Q_SCALE:
        for (long v = q->min; ok && v <= q->max; v++) {
            char num[24];
            snprintf(num, sizeof num, "%ld", v);
            ok = json_array_append_new(opts, participant_option(q->id, num, num)) == 0;
        }
        break;
    case Q_CHOICE:
        for (size_t i = 0; ok && i < q->nchoices; i++)
            ok = json_array_append_new(
                     opts, participant_option(q->id, q->choices[i].value,
                                              participant_text(&q->choices[i].label, lang))) == 0;
        break;
    case Q_TEXT:
    case Q_NUMBER: break;
    }
    if (!ok) {
        json_decref(opts);
        return NULL;
    }
    return opts;
}

static json_t *participant_question(const struct question *q, size_t num, const struct i18n *c,
                                    const char *lang)
{
    char field[80], dom_id[80];
    snprintf(field, sizeof field, "q.%s", q->id);
    snprintf(dom_id, sizeof dom_id, "q-%s", q->id);
    json_t *v = json_pack("{s:s, s:s, s:s, s:I, s:s, s:b, s:b}", "id", q->id, "field", field,
                          "dom_id", dom_id, "num", (json_int_t)num, "label",
                          participant_text(&q->label, lang), "required", q->required,
                          q->type == Q_YESNO    ? "is_yesno"
                          : q->type == Q_SCALE  ? "is_scale"
                          : q->type == Q_CHOICE ? "is_choice"
                          : q->type == Q_TEXT   ? (q->long_text ? "is_textarea" : "is_text")
                                                : "is_number",
                          1);
    if (!v)
        return NULL;
    int ok = 1;
    if (q->hint.ru)
        ok = json_object_set_new(v, "hint", json_string(participant_text(&q->hint, lang))) == 0;
    if (ok && q->type == Q_SCALE && q->min_label.ru)
        ok = json_object_set_new(v, "min_label",
                                 json_string(participant_text(&q->min_label, lang))) == 0;
    if (ok && q->type == Q_SCALE && q->max_label.ru)
        ok = json_object_set_new(v, "max_label",
                                 json_string(participant_text(&q->max_label, lang))) == 0;
    if (ok && q->type == Q_TEXT)
        ok = json_object_set_new(v, "max_length", json_integer((json_int_t)q->max_length)) == 0;
    if (ok && (q->type == Q_SCALE || (q->type == Q_NUMBER && q->has_min)))
        ok = json_object_set_new(v, "min", json_integer(q->min)) == 0;
    if (ok && (q->type == Q_SCALE || (q->type == Q_NUMBER && q->has_max)))
        ok = json_object_set_new(v, "max", json_integer(q->max)) == 0;
    if (ok && (q->type == Q_YESNO || q->type == Q_SCALE || q->type == Q_CHOICE))
        ok = json_object_set_new(v, "options", participant_options(q, c, lang)) == 0;
    if (!ok) {
        json_decref(v);
        return NULL;
    }
    return v;
}

json_t *participant_view(const struct survey *s, const struct i18n *c, const char *lang)
{
    json_t *questions = json_array();
    json_t *view = json_pack(
        "{s:{s:s, s:s*}, s:o}", "survey", "title", participant_text(&s->title, lang), "description",
        s->description.ru ? participant_text(&s->description, lang) : NULL, "questions", questions);
    if (!view)
        return NULL;
    for (size_t i = 0; i < s->nquestions; i++) {
        json_t *q = participant_question(&s->questions[i], i + 1, c, lang);
        if (!q || json_array_append_new(questions, q) < 0) {
            json_decref(view);
            return NULL;
        }
    }
    return view;
}

/* Replaces {min}, {max} and {max_length} in a catalogue message with the question's limits. */
static const char *participant_message(struct arena *a, const char *msg, const struct question *q)
{
    struct buf b;
    buf_init(&b, a);
    for (const char *p = msg; *p;) {
        long value = 0;
        size_t skip = 0;
        if (strncmp(p, "{min}", 5) == 0) {
            value = q->min;
            skip = 5;
        } else if (strncmp(p, "{max}", 5) == 0) {
            value = q->max;
            skip = 5;
        } else if (strncmp(p, "{max_length}", 12) == 0) {
            value = (long)q->max_length;
            skip = 12;
        }
        if (skip) {
            buf_printf(&b, "%ld", value);
            p += skip;
        } else {
            buf_putc(&b, *p++);
        }
    }
    return buf_failed(&b) || !b.data ? msg : b.data;
}

struct participant_ctx {
    struct app *app;
    struct http_req *q;
    struct http_resp *r;
    const char *lang;
    const char *token;
    struct invitation inv;
    const struct survey *survey;
    const char *nonce; /* the CSRF cookie value to use (existing or new) */
};

static const char *participant_csrf_value(struct participant_ctx *p)
{
    char *msg = arena_printf(p->q->arena, "%s|%s", p->nonce, p->token);
    char *mac = arena_alloc(p->q->arena, 44);
    if (!msg || !mac)
        return NULL;
    crypto_mac(p->app->secret, msg, strlen(msg), mac);
    return mac;
}

/* Makes sure the browser has a CSRF nonce: reuses a well-formed one, else issues a new one. */
static int participant_nonce(struct participant_ctx *p)
{
    const char *have = http_cookie(p->q, CSRF_COOKIE);
    if (have && crypto_token_valid(have)) {
        p->nonce = have;
        return 0;
    }
    char *fresh = arena_alloc(p->q->arena, CRYPTO_TOKEN_LEN + 1);
    if (!fresh)
        return -1;
    crypto_token(fresh);
    p->nonce = fresh;
    http_set_cookie(p->r, p->q, CSRF_COOKIE, fresh, "/s/");
    return 0;
}

/* Marks the posted answers and the problems in a copy of the blank page model. */
static json_t *participant_annotate(struct participant_ctx *p, json_t *questions,
                                    const struct form *f, const struct response *resp,
                                    json_t *summary)
{
    json_t *copy = json_deep_copy(questions);
    if (!copy)
        return NULL;
    for (size_t i = 0; i < p->survey->nquestions; i++) {
        const struct question *q = &p->survey->questions[i];
        json_t *vq = json_array_get(copy, i);
        const char *raw = f ? response_raw_value(f, q) : NULL;
        if (raw) {
            json_t *opts = json_object_get(vq, "options");
            size_t k;
            json_t *opt;
            json_array_foreach(opts, k, opt)
            {
                if (strcmp(json_string_value(json_object_get(opt, "value")), raw) == 0 &&
                    json_object_set_new(opt, "checked", json_true()) < 0)
                    goto oom;
            }
            if (!opts && json_object_set_new(vq, "value", json_string(raw)) < 0)
                goto oom;
        }
        if (resp && resp->errors[i]) {
            const char *msg = participant_message(
                p->q->arena, i18n_text(p->app->defs->i18n, p->lang, resp->errors[i]), q);
            json_t *item = json_pack(
                "{s:s, s:s, s:s}", "dom_id", json_string_value(json_object_get(vq, "dom_id")),
                "label", json_string_value(json_object_get(vq, "label")), "message", msg);
            if (json_object_set_new(vq, "error", json_string(msg)) < 0 ||
                json_array_append_new(summary, item) < 0)
                goto oom;
        }
    }
    return copy;
oom:
    json_decref(copy);
    return NULL;
}

/*
 * Shows the questionnaire. With f, the posted answers are kept; with resp, its problems are
 * shown beside their questions and in a summary; notice is a catalogue key for a problem
 * with the whole submission (CSRF, storage).
 */
static void participant_form(struct participant_ctx *p, int status, const struct form *f,
                             const struct response *resp, const char *notice)
{
    char key[128];
    snprintf(key, sizeof key, "%s/%s", p->lang, p->survey->id);
    json_t *view = json_object_get(p->app->defs->views, key);
    json_t *questions = json_object_get(view, "questions");
    json_t *summary = json_array();
    if (!summary) {
        p->r->body.failed = 1;
        return;
    }
    if (f || resp)
        questions = participant_annotate(p, questions, f, resp, summary);
    else
        json_incref(questions);
    const char *csrf = participant_csrf_value(p);
    char *action = arena_printf(p->q->arena, "/s/%s", p->token);
    json_t *survey = json_object_get(view, "survey");
    json_t *ctx =
        json_pack("{s:O, s:O, s:o*, s:s*, s:s*, s:o, s:b, s:s*}", "survey", survey, "page_title",
                  json_object_get(survey, "title"), "questions", questions, "action", action,
                  "csrf", csrf, "errors", summary, "has_errors", json_array_size(summary) > 0,
                  "notice", notice ? i18n_text(p->app->defs->i18n, p->lang, notice) : NULL);
    if (!ctx || !questions || !csrf || !action) {
        json_decref(ctx);
        p->r->body.failed = 1;
        return;
    }
    app_page(p->app, p->q, p->r, status, p->lang, "survey", ctx);
}

/* A page about a finished questionnaire: template is "thanks" or "answered". */
static void participant_thanks(struct participant_ctx *p, int status, const char *key)
{
    const char *title = participant_text(&p->survey->title, p->lang);
    json_t *ctx = json_pack("{s:s, s:s}", "survey_title", title, "page_title", title);
    if (!ctx) {
        p->r->body.failed = 1;
        return;
    }
    app_page(p->app, p->q, p->r, status, p->lang, key, ctx);
}

static void participant_post(struct participant_ctx *p)
{
    if (!http_content_type_is(p->q, "application/x-www-form-urlencoded")) {
        app_error_page(p->app, p->q, p->r, 415, "bad_type");
        return;
    }
    struct err e = {0};
    struct form f;
    if (form_parse(p->q->arena, p->q->body, p->q->body_len, &f, &e) < 0) {
        app_error_page(p->app, p->q, p->r, 400, "bad_request");
        return;
    }
    const char *posted = form_get(&f, CSRF_FIELD);
    const char *cookie = http_cookie(p->q, CSRF_COOKIE);
    const char *expected = NULL;
    if (cookie && crypto_token_valid(cookie)) {
        p->nonce = cookie;
        expected = participant_csrf_value(p);
    }
    if (!posted || !expected || !crypto_equal(posted, expected)) {
        if (participant_nonce(p) < 0) {
            p->r->body.failed = 1;
            return;
        }
        participant_form(p, 403, &f, NULL, "notice.csrf");
        return;
    }

    struct response resp;
    if (response_from_form(p->q->arena, p->survey, &f, &resp) < 0) {
        p->r->body.failed = 1;
        return;
    }
    if (resp.nerrors) {
        participant_form(p, 422, &f, &resp, NULL);
        return;
    }
    int rc = store_put_response(p->app->store, &p->inv, &resp, &e);
    if (rc == STORE_DUPLICATE) {
        participant_thanks(p, 409, "answered");
        return;
    }
    if (rc != STORE_OK) {
        char msg[1024];
        err_format(&e, msg, sizeof msg);
        log_msg(LOG_ERROR, "req=%s storing a response failed: %s", p->q->request_id, msg);
        participant_form(p, 503, &f, NULL, "notice.store");
        return;
    }
    char *done = arena_printf(p->q->arena, "/s/%s/done", p->token);
    if (!done) {
        p->r->body.failed = 1;
        return;
    }
    http_redirect(p->r, done);
}

void participant_handle(struct app *app, struct http_req *q, struct http_resp *r, const char *rest)
{
    struct participant_ctx p = {.app = app, .q = q, .r = r, .lang = app_lang(app, q)};
    size_t tlen = strcspn(rest, "/");
    const char *tail = rest + tlen;
    int is_get = strcmp(q->method, "GET") == 0 || strcmp(q->method, "HEAD") == 0;
    int is_post = strcmp(q->method, "POST") == 0;
    p.token = arena_strndup(q->arena, rest, tlen);
    if (!p.token) {
        r->body.failed = 1;
        return;
    }
    /* Anything that is not a well-formed token is answered exactly like an unknown one. */
    if (!crypto_token_valid(p.token) || (*tail && strcmp(tail, "/done") != 0)) {
        app_error_page(app, q, r, 404, "not_found");
        return;
    }
    struct err e = {0};
    int rc = store_invitation_by_token(app->store, q->arena, p.token, &p.inv, &e);
    if (rc == STORE_ERROR) {
        char msg[1024];
        err_format(&e, msg, sizeof msg);
        log_msg(LOG_ERROR, "req=%s invitation lookup failed: %s", q->request_id, msg);
        app_error_page(app, q, r, 503, "unavailable");
        return;
    }
    p.survey = rc == STORE_OK ? survey_set_find(&app->defs->surveys, p.inv.survey_id) : NULL;
    if (!p.survey) {
        if (rc == STORE_OK)
            log_msg(LOG_WARN, "req=%s invitation for unknown survey \"%s\"", q->request_id,
                    p.inv.survey_id);
        app_error_page(app, q, r, 404, "not_found");
        return;
    }
    if (p.inv.revoked) {
        app_error_page(app, q, r, 410, "revoked");
        return;
    }
    if (*tail) {
        if (!is_get) {
            http_header(r, "Allow", "GET, HEAD");
            app_error_page(app, q, r, 405, "method");
        } else if (p.inv.answered) {
            participant_thanks(&p, 200, "thanks");
        } else {
            char *back = arena_printf(q->arena, "/s/%s", p.token);
            if (back)
                http_redirect(r, back);
            else
                r->body.failed = 1;
        }
        return;
    }
    if (is_get) {
        if (p.inv.answered) {
            participant_thanks(&p, 200, "answered");
            return;
        }
        if (participant_nonce(&p) < 0) {
            r->body.failed = 1;
            return;
        }
        participant_form(&p, 200, NULL, NULL, NULL);
        return;
    }
    if (!is_post) {
        http_header(r, "Allow", "GET, HEAD, POST");
        app_error_page(app, q, r, 405, "method");
        return;
    }
    if (p.inv.answered) {
        participant_thanks(&p, 409, "answered");
        return;
    }
    participant_post(&p);
}
