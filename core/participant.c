/*
 * participant: rendering, checking and storing one participant's questionnaire: its pages,
 * the draft that carries a multi-page questionnaire between them, piping, and the CSRF check.
 *
 * The page model of each survey and language is built once per worker, at its first request
 * (participant_view);
 * a request copies only the page it shows, and only when it has something to add (answers,
 * problems, piped labels).
 */
#include "participant.h"

#include "app.h"
#include "arena.h"
#include "crypto.h"
#include "err.h"
#include "expr.h"
#include "form.h"
#include "http.h"
#include "i18n.h"
#include "log.h"
#include "plugin.h"
#include "response.h"
#include "store.h"
#include "survey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CSRF_COOKIE "anketa_csrf"
#define CSRF_FIELD  "csrf"
#define PAGE_FIELD  "page"
#define NAV_FIELD   "nav"

/* How many question ids of earlier pages a page's conditions may read. */
#define PARTICIPANT_MAX_CARRIES 64

static const char *participant_text(const struct text *t, const char *lang)
{
    if (t->en && strcmp(lang, "en") == 0)
        return t->en;
    return t->ru;
}

/* "q-<id>", with the dot of a matrix item or other text turned into "-" (a valid fragment). */
static void participant_dom_id(const char *id, const char *suffix, char *out, size_t size)
{
    int n = snprintf(out, size, "q-%s%s%s", id, suffix ? "-" : "", suffix ? suffix : "");
    for (int i = 0; i < n && (size_t)i < size; i++)
        if (out[i] == '.')
            out[i] = '-';
}

static json_t *participant_option(const char *qid, const char *value, const char *label)
{
    char input_id[200];
    participant_dom_id(qid, value, input_id, sizeof input_id);
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
    default:
        for (size_t i = 0; ok && i < q->nchoices; i++)
            ok = json_array_append_new(
                     opts, participant_option(q->id, q->choices[i].value,
                                              participant_text(&q->choices[i].label, lang))) == 0;
        if (ok && q->other) {
            const char *label = q->other_label.ru ? participant_text(&q->other_label, lang)
                                                  : i18n_text(c, lang, "answer.other");
            json_t *o = participant_option(q->id, SURVEY_OTHER_VALUE, label);
            /* Appended first: the array owns o even when marking it fails. */
            ok = json_array_append_new(opts, o) == 0 &&
                 json_object_set_new(o, "is_other", json_true()) == 0;
        }
        break;
    }
    if (!ok) {
        json_decref(opts);
        return NULL;
    }
    return opts;
}

/* The "please specify" field of a question with `other`. */
static json_t *participant_other(const struct question *q, const struct i18n *c, const char *lang)
{
    char field[160], input_id[200];
    snprintf(field, sizeof field, "q.%s", q->other_text->id);
    participant_dom_id(q->other_text->id, "input", input_id, sizeof input_id);
    return json_pack("{s:s, s:s, s:s, s:I}", "field", field, "input_id", input_id, "label",
                     i18n_text(c, lang, "form.other_specify"), "max_length",
                     (json_int_t)q->other_text->max_length);
}

/* A matrix: the column heads, and one row per item with its own options. */
static int participant_matrix(const struct question *q, const struct i18n *c, const char *lang,
                              json_t *v)
{
    json_t *cols = json_array(), *rows = json_array();
    /* Both set, whatever fails: each call takes its value, so neither is left over. */
    int ok = json_object_set_new(v, "columns", cols) == 0;
    if (json_object_set_new(v, "rows", rows) < 0 || !ok)
        return -1;
    json_t *heads = participant_options(&q->items[0], c, lang);
    if (!heads)
        return -1;
    size_t k;
    json_t *h;
    json_array_foreach(heads, k, h)
    {
        if (json_array_append(cols, json_object_get(h, "label")) < 0) {
            json_decref(heads);
            return -1;
        }
    }
    char cls[16];
    snprintf(cls, sizeof cls, "cols-%zu", json_array_size(heads));
    json_decref(heads);
    if (json_object_set_new(v, "cols_class", json_string(cls)) < 0)
        return -1;
    for (size_t i = 0; i < q->nitems; i++) {
        const struct question *it = &q->items[i];
        char field[160], dom_id[200];
        snprintf(field, sizeof field, "q.%s", it->id);
        participant_dom_id(it->id, NULL, dom_id, sizeof dom_id);
        json_t *row = json_pack("{s:s, s:s, s:s, s:o}", "field", field, "dom_id", dom_id, "label",
                                participant_text(&it->label, lang), "options",
                                participant_options(it, c, lang));
        if (!row || json_array_append_new(rows, row) < 0)
            return -1;
        if (it->pipes && app_set_text(row, "pipe_label", participant_text(&it->label, lang)))
            return -1;
    }
    return 0;
}

/* A ranking: each choice with a select of places 1..n. */
static int participant_ranking(const struct question *q, const char *lang, json_t *v)
{
    json_t *items = json_array();
    if (json_object_set_new(v, "items", items) < 0)
        return -1;
    for (size_t i = 0; i < q->nchoices; i++) {
        char field[200], input_id[240];
        snprintf(field, sizeof field, "q.%s.%s", q->id, q->choices[i].value);
        participant_dom_id(q->id, q->choices[i].value, input_id, sizeof input_id);
        json_t *places = json_array();
        json_t *it =
            json_pack("{s:s, s:s, s:s, s:o*}", "field", field, "input_id", input_id, "label",
                      participant_text(&q->choices[i].label, lang), "places", places);
        if (!it || json_array_append_new(items, it) < 0)
            return -1;
        for (size_t n = 1; n <= q->nchoices; n++)
            if (json_array_append_new(places, json_pack("{s:I}", "n", (json_int_t)n)) < 0)
                return -1;
    }
    return 0;
}

/* "Tick from 2 to 3 options." for a multiple choice with limits. */
static int participant_limits(const struct question *q, const struct i18n *c, const char *lang,
                              json_t *v)
{
    const char *msg = i18n_text(c, lang,
                                q->min_selected && q->max_selected ? "form.select_range"
                                : q->min_selected                  ? "form.select_min"
                                                                   : "form.select_max");
    char out[512];
    size_t n = 0;
    for (const char *s = msg; *s && n + 24 < sizeof out;) {
        if (strncmp(s, "{min}", 5) == 0 || strncmp(s, "{max}", 5) == 0) {
            n += (size_t)snprintf(out + n, sizeof out - n, "%zu",
                                  s[2] == 'i' ? q->min_selected : q->max_selected);
            s += 5;
        } else {
            out[n++] = *s++;
        }
    }
    out[n] = '\0';
    return app_set_text(v, "limits", out);
}

/* The name of the type flag a template switches on. */
static const char *participant_flag(const struct question *q)
{
    switch (q->type) {
    case Q_YESNO: return "is_yesno";
    case Q_SCALE: return "is_scale";
    case Q_CHOICE: return q->dropdown ? "is_dropdown" : "is_choice";
    case Q_MULTIPLE: return "is_multiple";
    case Q_MATRIX: return "is_matrix";
    case Q_TEXT: return q->long_text ? "is_textarea" : "is_text";
    case Q_NUMBER: return "is_number";
    case Q_DATE: return "is_date";
    case Q_RANKING: return "is_ranking";
    case Q_CONSENT: return "is_consent";
    case Q_NOTE: return "is_note";
    }
    return "is_note";
}

/* A number bound written for people: decimals with a comma in Russian. */
static void participant_number(const struct question *q, long v, const char *lang, char *out,
                               size_t size)
{
    if (q->type != Q_NUMBER || q->decimals == 0) {
        snprintf(out, size, "%ld", v);
        return;
    }
    long scale = 1;
    for (int i = 0; i < q->decimals; i++)
        scale *= 10;
    unsigned long m = v < 0 ? (unsigned long)-v : (unsigned long)v;
    snprintf(out, size, "%s%lu%s%0*lu", v < 0 ? "-" : "", m / (unsigned long)scale,
             strcmp(lang, "ru") == 0 ? "," : ".", q->decimals, m % (unsigned long)scale);
}

/* The text input's attributes for its kind. */
static int participant_input(const struct question *q, json_t *v)
{
    const char *type = "text", *mode = NULL, *autocomplete = NULL;
    if (q->type == Q_NUMBER) {
        mode = q->decimals ? "decimal" : "numeric";
    } else if (q->type == Q_DATE) {
        type = "date";
        if (app_set_text(v, "date_min", q->date_min) || app_set_text(v, "date_max", q->date_max))
            return -1;
    } else if (q->format == TEXT_FORMAT_EMAIL) {
        type = "email";
        autocomplete = "email";
    } else if (q->format == TEXT_FORMAT_PHONE) {
        type = "tel";
        autocomplete = "tel";
    } else if (q->format == TEXT_FORMAT_DIGITS) {
        mode = "numeric";
    }
    return app_set_text(v, "input_type", type) || app_set_text(v, "inputmode", mode) ||
           app_set_text(v, "autocomplete", autocomplete);
}

static json_t *participant_question(const struct question *q, size_t num, const struct i18n *c,
                                    const char *lang)
{
    char field[80], dom_id[80];
    snprintf(field, sizeof field, "q.%s", q->id);
    snprintf(dom_id, sizeof dom_id, "q-%s", q->id);
    json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:b}", "id", q->id, "field", field,
                          "dom_id", dom_id, "type", survey_type_name(q->type), "label",
                          participant_text(&q->label, lang), "required", q->required,
                          participant_flag(q), 1);
    if (!v)
        return NULL;
    int ok = 1;
    if (num)
        ok = json_object_set_new(v, "num", json_integer((json_int_t)num)) == 0;
    if (ok && q->hint.ru)
        ok = json_object_set_new(v, "hint", json_string(participant_text(&q->hint, lang))) == 0;
    if (ok && q->pipes) {
        /* Kept as written for the request that knows the answers; until then, placeholders. */
        ok = app_set_text(v, "pipe_label", participant_text(&q->label, lang)) == 0 &&
             (!q->hint.ru || app_set_text(v, "pipe_hint", participant_text(&q->hint, lang)) == 0);
    }
    if (ok && q->show_if)
        ok = app_set_text(v, "show_if", q->show_if) == 0;
    if (ok && (q->type == Q_SCALE || q->type == Q_MATRIX) && q->min_label.ru)
        ok = json_object_set_new(v, "min_label",
                                 json_string(participant_text(&q->min_label, lang))) == 0;
    if (ok && (q->type == Q_SCALE || q->type == Q_MATRIX) && q->max_label.ru)
        ok = json_object_set_new(v, "max_label",
                                 json_string(participant_text(&q->max_label, lang))) == 0;
    if (ok && q->type == Q_TEXT)
        ok = json_object_set_new(v, "max_length", json_integer((json_int_t)q->max_length)) == 0;
    if (ok && q->type == Q_SCALE)
        ok = json_object_set_new(v, "min", json_integer(q->min)) == 0 &&
             json_object_set_new(v, "max", json_integer(q->max)) == 0;
    if (ok && (q->type == Q_TEXT || q->type == Q_NUMBER || q->type == Q_DATE))
        ok = participant_input(q, v) == 0;
    if (ok && q->type == Q_MULTIPLE && (q->min_selected || q->max_selected))
        ok = participant_limits(q, c, lang, v) == 0;
    if (ok &&
        (q->type == Q_YESNO || q->type == Q_SCALE || q->type == Q_CHOICE || q->type == Q_MULTIPLE))
        ok = json_object_set_new(v, "options", participant_options(q, c, lang)) == 0;
    if (ok && q->other)
        ok = json_object_set_new(v, "other", participant_other(q, c, lang)) == 0;
    if (ok && q->type == Q_MATRIX)
        ok = participant_matrix(q, c, lang, v) == 0;
    if (ok && q->type == Q_RANKING)
        ok = participant_ranking(q, lang, v) == 0;
    if (!ok) {
        json_decref(v);
        return NULL;
    }
    return v;
}

/*
 * The ids of earlier pages' questions that the conditions of page (0-based) read: the page
 * carries their answers for the browser to evaluate those conditions as the server does.
 */
static json_t *participant_page_carries(const struct survey *s, size_t page)
{
    json_t *ids = json_array();
    if (!ids || s->nsections == 0)
        return ids;
    const struct survey_section *sec = &s->sections[page];
    for (size_t i = sec->first; i < sec->first + sec->count; i++) {
        const struct question *q = &s->questions[i];
        if (!q->show_if_x)
            continue;
        const char *refs[PARTICIPANT_MAX_CARRIES];
        size_t n = expr_refs(q->show_if_x, refs, PARTICIPANT_MAX_CARRIES);
        for (size_t k = 0; k < n && k < PARTICIPANT_MAX_CARRIES; k++) {
            const struct question *t = survey_question(s, refs[k]);
            if (!t || t->section >= page)
                continue;
            int seen = 0;
            size_t j;
            json_t *it;
            json_array_foreach(ids, j, it)
            {
                seen |= strcmp(json_string_value(it), t->id) == 0;
            }
            if (!seen && json_array_append_new(ids, json_string(t->id)) < 0) {
                json_decref(ids);
                return NULL;
            }
        }
    }
    return ids;
}

/* Whether a condition reads only questions of earlier pages, so the server can decide it. */
static int participant_decidable(const struct survey *s, const struct question *q)
{
    const char *refs[PARTICIPANT_MAX_CARRIES];
    size_t n = expr_refs(q->show_if_x, refs, PARTICIPANT_MAX_CARRIES);
    if (n > PARTICIPANT_MAX_CARRIES)
        return 0;
    for (size_t k = 0; k < n; k++) {
        const struct question *t = survey_question(s, refs[k]);
        if (!t || t->section >= q->section)
            return 0;
    }
    return 1;
}

json_t *participant_view(const struct survey *s, const struct i18n *c, const char *lang)
{
    json_t *pages = json_array();
    json_t *view =
        json_pack("{s:{s:s, s:s*}, s:o, s:b}", "survey", "title", participant_text(&s->title, lang),
                  "description", s->description.ru ? participant_text(&s->description, lang) : NULL,
                  "pages", pages, "multi", s->nsections > 1);
    if (!view)
        return NULL;
    size_t npages = survey_pages(s), num = 0;
    for (size_t p = 0; p < npages; p++) {
        const struct survey_section *sec = s->nsections ? &s->sections[p] : NULL;
        /* Built key by key: json_object_set_new takes its value even when it fails (and a
         * NULL page), so nothing is left to free whatever runs out of memory. */
        json_t *page = json_object();
        json_t *questions = json_array();
        int ok = json_object_set_new(page, "questions", questions) == 0;
        ok = json_object_set_new(page, "carries", participant_page_carries(s, p)) == 0 && ok;
        ok = ok && json_object_set_new(page, "num", json_integer((json_int_t)(p + 1))) == 0 &&
             json_object_set_new(page, "dynamic", json_false()) == 0;
        if (json_array_append_new(pages, page) < 0 || !ok ||
            (sec &&
             (app_set_text(page, "title", participant_text(&sec->title, lang)) ||
              (sec->description.ru &&
               app_set_text(page, "description", participant_text(&sec->description, lang))))))
            goto fail;
        size_t first = sec ? sec->first : 0, count = sec ? sec->count : s->nquestions;
        for (size_t i = first; i < first + count; i++) {
            const struct question *q = &s->questions[i];
            json_t *vq = participant_question(q, q->type == Q_NOTE ? 0 : ++num, c, lang);
            if (!vq || json_array_append_new(questions, vq) < 0)
                goto fail;
            int dynamic = q->pipes || (q->show_if_x && participant_decidable(s, q));
            for (size_t k = 0; k < q->nitems; k++)
                dynamic |= q->items[k].pipes;
            if (dynamic && json_object_set_new(page, "dynamic", json_true()) < 0)
                goto fail;
        }
    }
    return view;
fail:
    json_decref(view);
    return NULL;
}

struct participant_ctx {
    struct app *app;
    struct http_req *q;
    struct http_resp *r;
    const char *lang;
    const char *token;
    struct invitation inv;
    const struct survey *survey;
    char nonce[CRYPTO_TOKEN_LEN + 1]; /* the CSRF cookie value to use (existing or new) */
    char csrf[44];                    /* its MAC with the token: the form's CSRF value */
    size_t page;                      /* the page shown or posted, 0-based */
    size_t reached;                   /* the furthest page the participant has reached */
};

static const char *participant_t(const struct participant_ctx *p, const char *key)
{
    return i18n_text(p->app->defs->i18n, p->lang, key);
}

/* A date YYYY-MM-DD as Russian readers write it (DD.MM.YYYY); English keeps the ISO form. */
static const char *participant_date(struct arena *a, const char *iso, const char *lang)
{
    if (strcmp(lang, "ru") != 0 || strlen(iso) != 10)
        return iso;
    return arena_printf(a, "%.2s.%.2s.%.4s", iso + 8, iso + 5, iso);
}

/* Replaces the {placeholders} of a catalogue message with the question's limits. */
static const char *participant_message(struct participant_ctx *p, const char *msg,
                                       const struct question *q)
{
    struct arena *a = p->q->arena;
    struct buf b;
    buf_init(&b, a);
    for (const char *s = msg; *s;) {
        char num[48];
        const char *value = NULL;
        size_t skip = 0;
        if (strncmp(s, "{min}", 5) == 0) {
            skip = 5;
            participant_number(q, q->min, p->lang, num, sizeof num);
            value =
                q->type == Q_DATE && q->date_min ? participant_date(a, q->date_min, p->lang) : num;
        } else if (strncmp(s, "{max}", 5) == 0) {
            skip = 5;
            participant_number(q, q->max, p->lang, num, sizeof num);
            value =
                q->type == Q_DATE && q->date_max ? participant_date(a, q->date_max, p->lang) : num;
        } else if (strncmp(s, "{max_length}", 12) == 0) {
            skip = 12;
            snprintf(num, sizeof num, "%zu", q->max_length);
            value = num;
        } else if (strncmp(s, "{min_selected}", 14) == 0) {
            skip = 14;
            snprintf(num, sizeof num, "%zu", q->min_selected);
            value = num;
        } else if (strncmp(s, "{max_selected}", 14) == 0) {
            skip = 14;
            snprintf(num, sizeof num, "%zu", q->max_selected);
            value = num;
        } else if (strncmp(s, "{decimals}", 10) == 0) {
            skip = 10;
            snprintf(num, sizeof num, "%d", q->decimals);
            value = num;
        }
        if (skip) {
            buf_puts(&b, value ? value : "");
            s += skip;
        } else {
            buf_putc(&b, *s++);
        }
    }
    /* NULL when out of memory: a message with its {placeholders} left in is no message. */
    return buf_failed(&b) ? NULL : b.data ? b.data : msg;
}

/* The text of the problem of question q: its constraint_message, or the catalogue's. */
static const char *participant_error(struct participant_ctx *p, const struct question *q,
                                     const char *key)
{
    if (strcmp(key, "error.constraint") == 0 && q->constraint_message.ru)
        return participant_text(&q->constraint_message, p->lang);
    return participant_message(p, participant_t(p, key), q);
}

/* The form's CSRF value for the nonce and token, into p->csrf. Both are tokens of fixed
 * length, checked before this is called: the message always fits. */
static const char *participant_csrf_value(struct participant_ctx *p)
{
    char msg[2 * CRYPTO_TOKEN_LEN + 2];
    int n = snprintf(msg, sizeof msg, "%s|%s", p->nonce, p->token);
    crypto_mac(p->app->secret, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1, p->csrf);
    return p->csrf;
}

/* Makes sure the browser has a CSRF nonce: reuses a well-formed one, else issues a new one. */
static void participant_nonce(struct participant_ctx *p)
{
    if (http_cookie(p->q, CSRF_COOKIE, p->nonce, sizeof p->nonce) == 0 &&
        crypto_token_valid(p->nonce))
        return;
    crypto_token(p->nonce);
    http_set_cookie(p->r, p->q, CSRF_COOKIE, p->nonce, "/s/");
}

/* The label of choice value v of q in the page's language (the other text for "other"). */
static const char *participant_choice_label(struct participant_ctx *p, const struct question *q,
                                            const char *v, const struct response *resp)
{
    for (size_t i = 0; i < q->nchoices; i++)
        if (strcmp(q->choices[i].value, v) == 0)
            return participant_text(&q->choices[i].label, p->lang);
    if (q->other && strcmp(v, SURVEY_OTHER_VALUE) == 0) {
        const char *text = response_value(resp, q->other_text);
        if (text)
            return text;
        return q->other_label.ru ? participant_text(&q->other_label, p->lang)
                                 : participant_t(p, "answer.other");
    }
    return v;
}

/* An answer as a label shows it: choice labels rather than values, lists joined. */
static const char *participant_shown_answer(struct participant_ctx *p, const struct question *q,
                                            const struct response *resp)
{
    const char *v = resp ? response_value(resp, q) : NULL;
    if (!v)
        return participant_t(p, "form.pipe_empty");
    switch (q->type) {
    case Q_YESNO: return participant_t(p, strcmp(v, "yes") == 0 ? "answer.yes" : "answer.no");
    case Q_CONSENT: return participant_t(p, "answer.yes");
    case Q_CHOICE: return participant_choice_label(p, q, v, resp);
    case Q_DATE: return participant_date(p->q->arena, v, p->lang);
    case Q_MULTIPLE:
    case Q_RANKING: {
        json_t *list = json_loads(v, 0, NULL);
        if (!list)
            return NULL;
        struct buf b;
        buf_init(&b, p->q->arena);
        size_t i;
        json_t *it;
        json_array_foreach(list, i, it)
        {
            buf_puts(&b, i ? ", " : "");
            buf_puts(&b, participant_choice_label(p, q, json_string_value(it), resp));
        }
        json_decref(list);
        return buf_failed(&b) ? NULL : b.data ? b.data : "";
    }
    default: return v;
    }
}

/* raw with every {{q.<id>}} replaced by that answer as shown (escaped later, as all values). */
static const char *participant_pipe(struct participant_ctx *p, const char *raw,
                                    const struct response *resp)
{
    struct buf b;
    buf_init(&b, p->q->arena);
    const char *s = raw;
    for (const char *open; (open = strstr(s, "{{")) != NULL;) {
        const char *close = strstr(open, "}}");
        if (!close)
            break;
        buf_append(&b, s, (size_t)(open - s));
        const char *in = open + 2, *end = close;
        while (*in == ' ')
            in++;
        while (end > in && end[-1] == ' ')
            end--;
        char id[160];
        snprintf(id, sizeof id, "%.*s", (int)(end - in - 2), in + 2);
        const struct question *t = survey_question(p->survey, id);
        const char *shown = t ? participant_shown_answer(p, t, resp) : "";
        if (!shown)
            return NULL;
        buf_puts(&b, shown);
        s = close + 2;
    }
    buf_puts(&b, s);
    return buf_failed(&b) ? NULL : b.data ? b.data : "";
}

/* The field values of name in f: how many, and (when out is not NULL) which. */
static size_t participant_values(const struct form *f, const char *name, const char **out,
                                 size_t max)
{
    size_t n = 0;
    for (size_t i = 0; f && i < f->n; i++) {
        if (strcmp(f->fields[i].name, name) != 0)
            continue;
        if (out && n < max)
            out[n] = f->fields[i].value;
        n++;
    }
    return n;
}

/* Marks the options of opts whose value is among the values of name in f. */
static int participant_check_options(json_t *opts, const struct form *f, const char *name)
{
    const char *vals[64];
    size_t n = participant_values(f, name, vals, 64);
    size_t k;
    json_t *opt;
    json_array_foreach(opts, k, opt)
    {
        const char *value = json_string_value(json_object_get(opt, "value"));
        for (size_t i = 0; i < n && i < 64; i++)
            if (strcmp(value, vals[i]) == 0 && json_object_set_new(opt, "checked", json_true()) < 0)
                return -1;
    }
    return 0;
}

/* A JSON string of text as typed, with what is not UTF-8 shown as U+FFFD; NULL when out of
 * memory. A refused answer comes back on its page, bytes that are no text included. */
static json_t *participant_shown(struct arena *a, const char *text)
{
    const char *shown = form_shown(a, text);
    return shown ? json_string(shown) : NULL;
}

/* Puts the answers of f back into the copy vq of question q's model. */
static int participant_fill(struct arena *a, const struct question *q, json_t *vq,
                            const struct form *f)
{
    char name[200];
    snprintf(name, sizeof name, "q.%s", q->id);
    json_t *opts = json_object_get(vq, "options");
    if (opts && participant_check_options(opts, f, name) < 0)
        return -1;
    if (q->other) {
        const char *text =
            form_get(f, json_string_value(json_object_get(json_object_get(vq, "other"), "field")));
        if (text &&
            json_object_set_new(json_object_get(vq, "other"), "value", participant_shown(a, text)))
            return -1;
    }
    if (q->type == Q_MATRIX) {
        size_t k;
        json_t *row;
        json_array_foreach(json_object_get(vq, "rows"), k, row)
        {
            const char *field = json_string_value(json_object_get(row, "field"));
            if (participant_check_options(json_object_get(row, "options"), f, field) < 0)
                return -1;
        }
    }
    if (q->type == Q_RANKING) {
        size_t k;
        json_t *item;
        json_array_foreach(json_object_get(vq, "items"), k, item)
        {
            const char *place = form_get(f, json_string_value(json_object_get(item, "field")));
            long n = place ? strtol(place, NULL, 10) : 0;
            json_t *slot =
                n > 0 ? json_array_get(json_object_get(item, "places"), (size_t)n - 1) : NULL;
            if (slot && json_object_set_new(slot, "selected", json_true()) < 0)
                return -1;
        }
    }
    const char *raw = form_get(f, name);
    if (q->type == Q_CONSENT && raw && strcmp(raw, "yes") == 0)
        return json_object_set_new(vq, "checked", json_true());
    if (!opts && raw && (q->type == Q_TEXT || q->type == Q_NUMBER || q->type == Q_DATE))
        return json_object_set_new(vq, "value", participant_shown(a, raw));
    return 0;
}

/* Rows of a matrix left unanswered, marked so the page points at them. */
static int participant_mark_rows(const struct question *q, json_t *vq, const struct response *resp)
{
    size_t k;
    json_t *row;
    json_array_foreach(json_object_get(vq, "rows"), k, row)
    {
        if (k < q->nitems && !response_value(resp, &q->items[k]) &&
            json_object_set_new(row, "missing", json_true()) < 0)
            return -1;
    }
    return 0;
}

/*
 * A copy of the questions of the page shown, with the answers of f put back, the problems of
 * resp (when errors is set) beside their questions and in summary, piped labels resolved, and
 * the questions hidden by an earlier page's answers marked hidden.
 */
static json_t *participant_annotate(struct participant_ctx *p, json_t *questions,
                                    const struct form *f, const struct response *resp, int errors,
                                    json_t *summary)
{
    json_t *copy = json_deep_copy(questions);
    if (!copy)
        return NULL;
    const struct survey *s = p->survey;
    size_t first = s->nsections ? s->sections[p->page].first : 0;
    size_t k;
    json_t *vq;
    json_array_foreach(copy, k, vq)
    {
        const struct question *q = &s->questions[first + k];
        if (f && participant_fill(p->q->arena, q, vq, f) < 0)
            goto oom;
        /* Piped answers: those resp knows, placeholders for the rest (or all, without resp). */
        json_t *pl = json_object_get(vq, "pipe_label"), *ph = json_object_get(vq, "pipe_hint");
        if ((pl &&
             json_object_set_new(
                 vq, "label", json_string(participant_pipe(p, json_string_value(pl), resp))) < 0) ||
            (ph &&
             json_object_set_new(
                 vq, "hint", json_string(participant_pipe(p, json_string_value(ph), resp))) < 0))
            goto oom;
        size_t r;
        json_t *row;
        json_array_foreach(json_object_get(vq, "rows"), r, row)
        {
            json_t *rl = json_object_get(row, "pipe_label");
            if (rl && json_object_set_new(
                          row, "label",
                          json_string(participant_pipe(p, json_string_value(rl), resp))) < 0)
                goto oom;
        }
        if (!resp)
            continue;
        if (resp->hidden && resp->hidden[q->index] && participant_decidable(s, q) &&
            json_object_set_new(vq, "hidden", json_true()) < 0)
            goto oom;
        const char *key = errors ? resp->errors[q->index] : NULL;
        if (!key)
            continue;
        const char *msg = participant_error(p, q, key);
        json_t *item =
            json_pack("{s:s, s:s, s:s}", "dom_id", json_string_value(json_object_get(vq, "dom_id")),
                      "label", json_string_value(json_object_get(vq, "label")), "message", msg);
        /* The item first: appended, the summary owns it whatever fails next. */
        if (json_array_append_new(summary, item) < 0 ||
            json_object_set_new(vq, "error", json_string(msg)) < 0 ||
            (q->type == Q_MATRIX && participant_mark_rows(q, vq, resp) < 0))
            goto oom;
    }
    return copy;
oom:
    json_decref(copy);
    return NULL;
}

/*
 * The answers of earlier pages that this page's conditions read, as disabled inputs that
 * the browser never submits but anketa.js reads like the page's own.
 */
static json_t *participant_carried(struct participant_ctx *p, json_t *ids, const struct form *f,
                                   const struct response *resp)
{
    json_t *out = json_array();
    size_t k;
    json_t *id;
    json_array_foreach(ids, k, id)
    {
        const struct question *q = survey_question(p->survey, json_string_value(id));
        if (!q || !resp || (resp->hidden && resp->hidden[q->index]) || !response_value(resp, q))
            continue;
        char name[200], dom_id[200];
        snprintf(name, sizeof name, "q.%s", q->id);
        snprintf(dom_id, sizeof dom_id, "q-%s", q->id);
        const char *vals[64];
        size_t n = participant_values(f, name, vals, 64);
        json_t *values = json_array();
        json_t *c = json_pack("{s:s, s:s, s:o*}", "dom_id", dom_id, "type",
                              survey_type_name(q->type), "values", values);
        if (!c || json_array_append_new(out, c) < 0)
            goto oom;
        /* Ticked boxes are what anketa.js reads as a list; anything else is one value. */
        int box = q->type == Q_MULTIPLE || q->type == Q_CONSENT;
        for (size_t i = 0; i < n && i < 64; i++)
            if (json_array_append_new(values,
                                      json_pack("{s:s, s:s, s:s, s:b}", "field", name, "value",
                                                vals[i], "input_type", box ? "checkbox" : "hidden",
                                                "checked", box)) < 0)
                goto oom;
    }
    return out;
oom:
    json_decref(out);
    return NULL;
}

/* "/s/<token>" with the page and language the participant is on. */
static char *participant_url(struct participant_ctx *p, const char *tail, size_t page)
{
    int en = strcmp(p->lang, "en") == 0;
    if (page)
        return arena_printf(p->q->arena, "/s/%s%s?page=%zu%s", p->token, tail, page,
                            en ? "&lang=en" : "");
    return arena_printf(p->q->arena, "/s/%s%s%s", p->token, tail, en ? "?lang=en" : "");
}

/* The blank page model of the survey in the page's language; NULL when out of memory. */
static json_t *participant_blank_view(struct participant_ctx *p)
{
    char key[128];
    snprintf(key, sizeof key, "%s/%s", p->lang, p->survey->id);
    if (!p->app->views && !(p->app->views = json_object()))
        return NULL;
    json_t *view = json_object_get(p->app->views, key);
    if (!view) {
        view = participant_view(p->survey, p->app->defs->i18n, p->lang);
        if (!view || json_object_set_new(p->app->views, key, view) < 0)
            return NULL;
    }
    return view;
}

/* What stands for the link's own values in a rendered blank page: both are URL-safe
 * base64 and template text passes them unchanged, so they are found again as they are. */
#define PARTICIPANT_HOLE_ACTION "@@anketa-action@@"
#define PARTICIPANT_HOLE_CSRF   "@@anketa-csrf@@"

/*
 * The blank first page of a one-page questionnaire, rendered once per worker and language
 * and kept as its text cut at the two values that differ between links (the form's action
 * and CSRF value): a JSON array of strings and holes (1: action, 2: CSRF). Rendering the
 * page was most of a GET's cost (35 KB from its model, a third of it looking names up).
 * NULL when it cannot be made; the caller then renders as usual.
 */
static json_t *participant_rendered(struct participant_ctx *p, json_t *ctx)
{
    char key[160];
    snprintf(key, sizeof key, "html:%s/%s", p->lang, p->survey->id);
    json_t *done = json_object_get(p->app->views, key);
    if (done)
        return done;
    struct http_resp scratch;
    http_resp_init(&scratch, p->q->arena);
    json_incref(ctx);
    app_page(p->app, p->q, &scratch, 200, p->lang, "survey", ctx);
    if (scratch.body.failed || !scratch.body.data)
        return NULL;
    json_t *parts = json_array();
    const char *s = scratch.body.data, *end = s + scratch.body.len;
    while (parts && s < end) {
        const char *a = strstr(s, PARTICIPANT_HOLE_ACTION), *c = strstr(s, PARTICIPANT_HOLE_CSRF);
        const char *hole = a && (!c || a < c) ? a : c;
        size_t n = hole ? (size_t)(hole - s) : (size_t)(end - s);
        if (json_array_append_new(parts, json_stringn(s, n)) < 0 ||
            (hole && json_array_append_new(parts, json_integer(hole == a ? 1 : 2)) < 0)) {
            json_decref(parts);
            return NULL;
        }
        if (!hole)
            break;
        s = hole + (hole == a ? strlen(PARTICIPANT_HOLE_ACTION) : strlen(PARTICIPANT_HOLE_CSRF));
    }
    if (!parts || json_object_set_new(p->app->views, key, parts) < 0)
        return NULL;
    return parts;
}

/* Writes a kept page with this link's action and CSRF value; -1 when out of memory. */
static int participant_send_rendered(struct participant_ctx *p, json_t *parts, const char *action,
                                     const char *csrf)
{
    app_page_headers(p->r, 200);
    size_t i;
    json_t *part;
    json_array_foreach(parts, i, part)
    {
        if (json_is_string(part))
            buf_append(&p->r->body, json_string_value(part), json_string_length(part));
        else
            buf_puts(&p->r->body, json_integer_value(part) == 1 ? action : csrf);
    }
    return buf_failed(&p->r->body) ? -1 : 0;
}

/*
 * Shows page p->page of the questionnaire. f: answers to put back; resp: what the server
 * knows of them (piping, conditions), with its problems shown when errors is set; notice: a
 * catalogue key for a problem with the whole submission (CSRF, storage).
 */
static void participant_form(struct participant_ctx *p, int status, const struct form *f,
                             const struct response *resp, int errors, const char *notice)
{
    json_t *view = participant_blank_view(p);
    if (!view) {
        p->r->body.failed = 1;
        return;
    }
    json_t *page = json_array_get(json_object_get(view, "pages"), p->page);
    json_t *questions = json_object_get(page, "questions");
    json_t *summary = json_array();
    if (!summary) {
        p->r->body.failed = 1;
        return;
    }
    if (f || resp || json_is_true(json_object_get(page, "dynamic")))
        questions = participant_annotate(p, questions, f, resp, errors, summary);
    else
        json_incref(questions);
    size_t npages = survey_pages(p->survey);
    const char *csrf = participant_csrf_value(p);
    char *action = participant_url(p, "", 0);
    const char *of = participant_t(p, "form.page_of");
    struct buf b;
    buf_init(&b, p->q->arena);
    for (const char *s = of; *s;) {
        if (strncmp(s, "{page}", 6) == 0) {
            buf_printf(&b, "%zu", p->page + 1);
            s += 6;
        } else if (strncmp(s, "{pages}", 7) == 0) {
            buf_printf(&b, "%zu", npages);
            s += 7;
        } else {
            buf_putc(&b, *s++);
        }
    }
    json_t *survey = json_object_get(view, "survey");
    json_t *carried = participant_carried(p, json_object_get(page, "carries"), f, resp);
    int has_carried = json_array_size(carried) > 0;
    json_t *ctx = json_pack("{s:O, s:O, s:o, s:s, s:s, s:o, s:b, s:b, s:O, s:b, s:b, s:o, s:b}",
                            "survey", survey, "page_title", json_object_get(survey, "title"),
                            "questions", questions, "action", action, "csrf", csrf, "errors",
                            summary, "has_errors", json_array_size(summary) > 0, "multi",
                            npages > 1, "page", page, "is_first", p->page == 0, "is_last",
                            p->page + 1 == npages, "carried", carried, "has_carried", has_carried);
    if (!ctx || buf_failed(&b) ||
        app_set_text(ctx, "notice", notice ? participant_t(p, notice) : NULL) < 0 ||
        app_set_text(ctx, "progress", b.data) < 0) {
        json_decref(ctx);
        p->r->body.failed = 1;
        return;
    }
    /* The blank page of a one-page questionnaire is the same for every link but for these
     * two values: rendered once with holes in their place. */
    int blank = status == 200 && !f && !resp && !notice && npages == 1 && !has_carried &&
                !json_is_true(json_object_get(page, "dynamic"));
    if (blank) {
        json_t *parts = NULL;
        if (json_object_set_new(ctx, "action", json_string(PARTICIPANT_HOLE_ACTION)) == 0 &&
            json_object_set_new(ctx, "csrf", json_string(PARTICIPANT_HOLE_CSRF)) == 0)
            parts = participant_rendered(p, ctx);
        if (parts) {
            json_decref(ctx);
            if (participant_send_rendered(p, parts, action, csrf) < 0)
                p->r->body.failed = 1;
            return;
        }
        if (json_object_set_new(ctx, "action", json_string(action)) < 0 ||
            json_object_set_new(ctx, "csrf", json_string(csrf)) < 0) {
            json_decref(ctx);
            p->r->body.failed = 1;
            return;
        }
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

static void participant_log_err(struct participant_ctx *p, const char *what, const struct err *e)
{
    char msg[1024];
    err_format(e, msg, sizeof msg);
    log_msg(LOG_ERROR, "req=%s %s: %s", p->q->request_id, what, msg);
}

/* Whether field name answers a question of page (0-based): "q.<id>" or "q.<id>.<sub>". */
static int participant_on_page(const struct survey *s, size_t page, const char *name)
{
    if (strncmp(name, "q.", 2) != 0)
        return 0;
    const char *id = name + 2;
    size_t len = strcspn(id, ".");
    const struct survey_section *sec = &s->sections[page];
    for (size_t i = sec->first; i < sec->first + sec->count; i++) {
        const char *qid = s->questions[i].id;
        if (strlen(qid) == len && strncmp(qid, id, len) == 0)
            return 1;
    }
    return 0;
}

/*
 * The draft of a multi-page questionnaire as a form: {"answers": {"q.id": "v" or ["a",
 * "b"]}, "reached": N}. No draft yet: an empty form on the first page.
 */
static int participant_draft_load(struct participant_ctx *p, struct form *f, size_t *page)
{
    struct arena *a = p->q->arena;
    f->fields = NULL;
    f->n = 0;
    *page = 0;
    p->reached = 0;
    const char *text;
    int stored_page;
    struct err e = {0};
    int rc = store_draft_get(p->app->store, a, p->inv.id, &text, &stored_page, &e);
    if (rc == STORE_NOT_FOUND)
        return 0;
    if (rc != STORE_OK) {
        participant_log_err(p, "reading a draft failed", &e);
        return -1;
    }
    json_t *root = json_loads(text, 0, NULL);
    json_t *answers = json_object_get(root, "answers");
    size_t n = 0, k;
    const char *name;
    json_t *v;
    json_object_foreach(answers, name, v)
    {
        n += json_is_array(v) ? json_array_size(v) : 1;
    }
    f->fields = arena_calloc(a, n ? n : 1, sizeof *f->fields);
    if (!f->fields) {
        json_decref(root);
        return -1;
    }
    json_object_foreach(answers, name, v)
    {
        for (k = 0; k < (json_is_array(v) ? json_array_size(v) : 1); k++) {
            const char *value = json_string_value(json_is_array(v) ? json_array_get(v, k) : v);
            struct form_field *fl = &f->fields[f->n];
            if (!value || strncmp(name, "q.", 2) != 0)
                continue;
            fl->name = arena_strdup(a, name);
            fl->value = arena_strdup(a, value);
            fl->value_len = strlen(value);
            if (!fl->name || !fl->value) {
                json_decref(root);
                return -1;
            }
            f->n++;
        }
    }
    size_t npages = survey_pages(p->survey);
    json_int_t reached = json_integer_value(json_object_get(root, "reached"));
    json_decref(root);
    p->reached = reached > 0 && (size_t)reached < npages ? (size_t)reached : 0;
    *page = stored_page > 0 && (size_t)stored_page <= p->reached ? (size_t)stored_page : 0;
    return 0;
}

/* Stores the answers of f (fields "q.*") as the draft, with the page to resume on. */
static int participant_draft_save(struct participant_ctx *p, const struct form *f, size_t page)
{
    json_t *answers = json_object();
    json_t *root = json_pack("{s:o*, s:I}", "answers", answers, "reached",
                             (json_int_t)(page > p->reached ? page : p->reached));
    if (!root)
        return -1;
    for (size_t i = 0; i < f->n; i++) {
        const struct form_field *fl = &f->fields[i];
        json_t *have = json_object_get(answers, fl->name);
        json_t *v = participant_shown(p->q->arena, fl->value);
        int rc;
        if (!have) {
            rc = json_object_set_new(answers, fl->name, v);
        } else if (json_is_array(have)) {
            rc = json_array_append_new(have, v);
        } else {
            json_t *list = json_pack("[O, o]", have, v);
            rc = json_object_set_new(answers, fl->name, list);
        }
        if (rc < 0) {
            json_decref(root);
            return -1;
        }
    }
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!text)
        return -1;
    struct err e = {0};
    int rc = store_draft_put(p->app->store, p->inv.id, text, (int)page, &e);
    free(text);
    if (rc != STORE_OK) {
        participant_log_err(p, "storing a draft failed", &e);
        return -1;
    }
    return 0;
}

/* The draft's answers of other pages, and the posted answers of this one. */
static int participant_merge(struct participant_ctx *p, const struct form *draft,
                             const struct form *posted, struct form *out)
{
    out->fields = arena_calloc(p->q->arena, draft->n + posted->n + 1, sizeof *out->fields);
    out->n = 0;
    if (!out->fields)
        return -1;
    for (size_t i = 0; i < draft->n; i++)
        if (!participant_on_page(p->survey, p->page, draft->fields[i].name))
            out->fields[out->n++] = draft->fields[i];
    for (size_t i = 0; i < posted->n; i++)
        if (participant_on_page(p->survey, p->page, posted->fields[i].name))
            out->fields[out->n++] = posted->fields[i];
    return 0;
}

/* Whether page has a question to show, given what resp knows. */
static int participant_page_visible(const struct participant_ctx *p, const struct response *resp,
                                    size_t page)
{
    const struct survey_section *sec = &p->survey->sections[page];
    for (size_t i = sec->first; i < sec->first + sec->count; i++)
        if (!resp->hidden[i] || !participant_decidable(p->survey, &p->survey->questions[i]))
            return 1;
    return 0;
}

static void participant_store(struct participant_ctx *p, const struct form *f,
                              const struct response *resp)
{
    struct err e = {0};
    int rc = store_put_response(p->app->store, &p->inv, resp, &e);
    if (rc == STORE_DUPLICATE) {
        participant_thanks(p, 409, "answered");
        return;
    }
    if (rc != STORE_OK) {
        participant_log_err(p, "storing a response failed", &e);
        participant_form(p, 503, f, resp, 0, "notice.store");
        return;
    }
    plugin_defer_response_stored(p->q->arena, &p->inv, resp);
    char *done = participant_url(p, "/done", 0);
    if (!done) {
        p->r->body.failed = 1;
        return;
    }
    http_redirect(p->r, done);
}

/* Next, Back or Submit on a page of a multi-page questionnaire. */
static void participant_post_page(struct participant_ctx *p, const struct form *posted,
                                  const char *nav)
{
    struct form draft, f;
    size_t ignored;
    struct response resp;
    struct arena *a = p->q->arena;
    if (participant_draft_load(p, &draft, &ignored) < 0 ||
        participant_merge(p, &draft, posted, &f) < 0) {
        participant_form(p, 503, posted, NULL, 0, "notice.store");
        return;
    }
    size_t npages = survey_pages(p->survey);
    int submit = strcmp(nav, "submit") == 0 && p->page + 1 == npages;
    int back = strcmp(nav, "back") == 0;
    if (response_from_form_section(a, p->survey, &f, submit ? RESPONSE_ALL_SECTIONS : p->page,
                                   &resp) < 0) {
        p->r->body.failed = 1;
        return;
    }
    if (submit && resp.nerrors == 0) {
        participant_store(p, &f, &resp);
        return;
    }
    size_t to = p->page;
    if (back) {
        while (to > 0 && !participant_page_visible(p, &resp, --to))
            ;
    } else if (resp.nerrors) {
        /* The first page with a problem: this one, or (on submit) an earlier one. */
        for (size_t i = 0; i < p->survey->nquestions; i++) {
            if (resp.errors[i]) {
                to = p->survey->questions[i].section;
                break;
            }
        }
    } else {
        while (to + 1 < npages && !participant_page_visible(p, &resp, ++to))
            ;
    }
    if (participant_draft_save(p, &f, to) < 0) {
        participant_form(p, 503, &f, &resp, 1, "notice.store");
        return;
    }
    if (to > p->reached)
        p->reached = to;
    if (resp.nerrors && !back) {
        p->page = to;
        participant_form(p, 422, &f, &resp, 1, NULL);
        return;
    }
    char *next = participant_url(p, "", to + 1);
    if (!next) {
        p->r->body.failed = 1;
        return;
    }
    http_redirect(p->r, next);
}

/* The page a post comes from (its hidden field), or the first. */
static size_t participant_posted_page(const struct participant_ctx *p, const struct form *f)
{
    const char *v = form_get(f, PAGE_FIELD);
    char *end;
    long n = v ? strtol(v, &end, 10) : 0;
    if (!v || *end || n < 1 || (size_t)n > survey_pages(p->survey))
        return 0;
    return (size_t)n - 1;
}

static void participant_post(struct participant_ctx *p)
{
    if (!http_content_type_is(p->q, "application/x-www-form-urlencoded")) {
        app_error_page(p->app, p->q, p->r, 415, "bad_type");
        return;
    }
    struct err e = {0};
    struct form f;
    int parsed = form_parse(p->q->arena, p->q->body, p->q->body_len, &f, &e);
    if (parsed == FORM_NO_MEMORY) {
        p->r->body.failed = 1;
        return;
    }
    if (parsed < 0) {
        app_error_page(p->app, p->q, p->r, 400, "bad_request");
        return;
    }
    p->page = participant_posted_page(p, &f);
    /* A second value, whichever is right, is not a form of ours: refused like a wrong one. */
    const char *posted = form_count(&f, CSRF_FIELD) == 1 ? form_get(&f, CSRF_FIELD) : NULL;
    const char *expected = NULL;
    if (http_cookie(p->q, CSRF_COOKIE, p->nonce, sizeof p->nonce) == 0 &&
        crypto_token_valid(p->nonce))
        expected = participant_csrf_value(p);
    if (!posted || !expected || !crypto_equal(posted, expected)) {
        participant_nonce(p);
        participant_form(p, 403, &f, NULL, 0, "notice.csrf");
        return;
    }
    if (survey_pages(p->survey) > 1) {
        const char *nav = form_get(&f, NAV_FIELD);
        participant_post_page(p, &f, nav ? nav : "next");
        return;
    }
    struct response resp;
    if (response_from_form(p->q->arena, p->survey, &f, &resp) < 0) {
        p->r->body.failed = 1;
        return;
    }
    if (resp.nerrors) {
        participant_form(p, 422, &f, &resp, 1, NULL);
        return;
    }
    participant_store(p, &f, &resp);
}

/* ?page=N of the request (1-based), or 0. */
static size_t participant_query_page(const struct http_req *q)
{
    for (const char *s = q->query; s && *s;) {
        if (strncmp(s, "page=", 5) == 0) {
            char *end;
            long n = strtol(s + 5, &end, 10);
            return n > 0 && (*end == '\0' || *end == '&') ? (size_t)n : 0;
        }
        s = strchr(s, '&');
        if (s)
            s++;
    }
    return 0;
}

/* GET of a multi-page questionnaire: the page asked for, if reached, else where it was left. */
static void participant_get_page(struct participant_ctx *p)
{
    struct form f;
    size_t page;
    if (participant_draft_load(p, &f, &page) < 0) {
        app_error_page(p->app, p->q, p->r, 503, "unavailable");
        return;
    }
    size_t asked = participant_query_page(p->q);
    p->page = asked && asked - 1 <= p->reached ? asked - 1 : page;
    struct response resp;
    if (response_from_form_section(p->q->arena, p->survey, &f, p->page, &resp) < 0) {
        p->r->body.failed = 1;
        return;
    }
    participant_form(p, 200, f.n ? &f : NULL, &resp, 0, NULL);
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
        participant_log_err(&p, "invitation lookup failed", &e);
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
    /* A finished questionnaire keeps its thank-you page; an unfinished one can only be
     * answered while its campaign is open and the participant's consent is on record. */
    if (!p.inv.answered && (p.inv.closed || p.inv.not_yet || !p.inv.consent)) {
        app_error_page(app, q, r, p.inv.closed ? 410 : 403,
                       p.inv.closed    ? "closed"
                       : p.inv.not_yet ? "not_yet"
                                       : "no_consent");
        return;
    }
    if (*tail) {
        if (!is_get) {
            http_header(r, "Allow", "GET, HEAD");
            app_error_page(app, q, r, 405, "method");
        } else if (p.inv.answered) {
            participant_thanks(&p, 200, "thanks");
        } else {
            char *back = participant_url(&p, "", 0);
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
        participant_nonce(&p);
        if (survey_pages(p.survey) > 1)
            participant_get_page(&p);
        else
            participant_form(&p, 200, NULL, NULL, 0, NULL);
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
