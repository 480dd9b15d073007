/*
 * demo: building the demonstration region from docs/samples/demo.json.
 */
#include "demo.h"

#include "arena.h"
#include "crypto.h"
#include "import.h"
#include "registry.h"
#include "err.h"
#include "form.h"
#include "response.h"
#include "store.h"
#include "survey.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* xorshift64*: a fixed seed gives the same demo on every machine. */
static uint64_t demo_rand(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 2685821657736338717ULL;
}

static long demo_between(uint64_t *state, long lo, long hi)
{
    return lo + (long)(demo_rand(state) % (uint64_t)(hi - lo + 1));
}

static const char *demo_str(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

/* Adds a field "q.<id>" = value to f (in a). */
static int demo_field(struct arena *a, struct form *f, size_t *cap, const char *id,
                      const char *value)
{
    if (f->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 32;
        struct form_field *v = arena_realloc(a, f->fields, *cap * sizeof *v, ncap * sizeof *v);
        if (!v)
            return -1;
        f->fields = v;
        *cap = ncap;
    }
    const char *name = arena_printf(a, "q.%s", id);
    if (!name || !value)
        return -1;
    f->fields[f->n].name = name;
    f->fields[f->n].value = value;
    f->fields[f->n].value_len = strlen(value);
    f->n++;
    return 0;
}

/* A mostly favourable score in [lo, hi], as participants give; a little higher at the end
 * of a programme than at its start, so that the demo's growth indicators have growth. */
static const char *demo_score(struct arena *a, long lo, long hi, int final, uint64_t *rng)
{
    long from = hi - (hi - lo) / (final ? 3 : 2);
    return arena_printf(a, "%ld", demo_between(rng, from - 1 < lo ? lo : from - 1, hi));
}

/* The answer a participant might give to q (and its items), as form fields. */
static int demo_fill(struct arena *a, struct form *f, size_t *cap, const struct question *q,
                     int final, json_t *texts, uint64_t *rng)
{
    const char *value = NULL;
    switch (q->type) {
    case Q_YESNO: value = demo_between(rng, 0, 9) < 7 ? "yes" : "no"; break;
    case Q_SCALE: value = demo_score(a, q->min, q->max, final, rng); break;
    case Q_CHOICE:
    case Q_MULTIPLE: value = q->choices[demo_between(rng, 0, (long)q->nchoices - 1)].value; break;
    case Q_MATRIX:
        for (size_t i = 0; i < q->nitems; i++)
            if (demo_fill(a, f, cap, &q->items[i], final, texts, rng) < 0)
                return -1;
        return 0;
    case Q_NUMBER: value = arena_printf(a, "%ld", q->has_min ? q->min : 0); break;
    case Q_CONSENT: value = "yes"; break;
    case Q_TEXT:
        if (json_array_size(texts) && (q->required || demo_between(rng, 0, 2) > 0))
            value = json_string_value(json_array_get(
                texts, (size_t)demo_between(rng, 0, (long)json_array_size(texts) - 1)));
        break;
    default:
        /* Dates, rankings and notes: the demo questionnaires ask none that must be answered. */
        break;
    }
    return value ? demo_field(a, f, cap, q->id, value) : 0;
}

/*
 * Answers a questionnaire through the same validation and scoring as a participant's
 * submission, so the demo's responses carry their scale scores and break no rule.
 */
static int demo_answer(struct store *st, struct arena *a, const struct survey *s,
                       const struct invitation *inv, json_t *texts, uint64_t *rng, struct err *e)
{
    struct form f = {0};
    size_t cap = 0;
    for (size_t i = 0; i < s->nquestions; i++)
        if (demo_fill(a, &f, &cap, &s->questions[i], s->wave == SURVEY_WAVE_FINAL, texts, rng) < 0)
            return err_set(e, "", 0, 0, "out of memory");
    struct response r;
    if (response_from_form(a, s, &f, &r) < 0)
        return err_set(e, "", 0, 0, "out of memory");
    for (size_t i = 0; i < s->nquestions; i++)
        if (r.errors[i])
            return err_set(e, s->path, s->questions[i].line, s->questions[i].col,
                           "demo: the generated answer to \"%s\" is refused (%s)",
                           s->questions[i].id, r.errors[i]);
    int rc = store_put_response(st, inv, &r, e);
    return rc == STORE_OK ? 0 : -1;
}

static const char *const demo_files[][2] = {
    {"orgs", "orgs.csv"},   {"programmes", "programmes.csv"}, {"participants", "participants.csv"},
    {"pairs", "pairs.csv"}, {"figures", "figures.csv"},
};

static int demo_import(struct store *st, const char *dir, struct err_list *errs)
{
    for (size_t i = 0; i < sizeof demo_files / sizeof demo_files[0]; i++) {
        enum import_kind kind;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, demo_files[i][1]);
        struct import_options opt = {0};
        struct import_result res;
        if (import_kind_parse(demo_files[i][0], &kind) < 0 ||
            import_file(st, kind, path, &opt, &res, errs) < 0)
            return -1;
    }
    return 0;
}

/* Opens the campaigns for the current school year, from a week ago to two months ahead, so
 * the demo's links work whenever it is created. Returns 1 when they already existed. */
static int demo_campaigns(struct store *st, json_t *root, struct err *e)
{
    time_t now = time(NULL);
    char opens[11], closes[11], today[11], period[8];
    time_t from = now - 7 * 86400, to = now + 60 * 86400;
    strftime(opens, sizeof opens, "%Y-%m-%d", gmtime(&from));
    strftime(closes, sizeof closes, "%Y-%m-%d", gmtime(&to));
    strftime(today, sizeof today, "%Y-%m-%d", gmtime(&now));
    if (registry_school_year(today, period) < 0)
        return err_set(e, "", 0, 0, "demo: cannot tell the school year of %s", today);
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(root, "campaigns"), i, it)
    {
        struct campaign_rec c = {
            .code = demo_str(it, "code"),
            .survey_id = demo_str(it, "survey"),
            .org_code = demo_str(it, "organisation"),
            .period = period,
            .wave = demo_str(it, "wave"),
            .role = demo_str(it, "role"),
            .opens = opens,
            .closes = closes,
        };
        int rc = store_put_campaign(st, &c, e);
        if (rc == STORE_DUPLICATE)
            return 1;
        long invited, no_consent;
        if (rc != STORE_OK || store_campaign_open(st, c.code, &invited, &no_consent, e) != STORE_OK)
            return -1;
    }
    return 0;
}

struct demo_answering {
    struct store *st;
    struct arena *a;
    const struct survey_set *surveys;
    json_t *answered;
    json_t *texts;
    uint64_t rng;
    struct err *e;
    int failed;
};

static int demo_answer_link(void *ctx, const struct link_row *row)
{
    struct demo_answering *d = ctx;
    size_t i;
    json_t *code;
    json_array_foreach(d->answered, i, code)
    {
        if (strcmp(json_string_value(code), row->participant_code) != 0)
            continue;
        struct invitation inv;
        if (store_invitation_by_token(d->st, d->a, row->token, &inv, d->e) != STORE_OK)
            return d->failed = 1;
        const struct survey *s = survey_set_find(d->surveys, inv.survey_id);
        if (!s) {
            err_set(d->e, "", 0, 0, "demo: survey \"%s\" is not loaded", inv.survey_id);
            return d->failed = 1;
        }
        if (demo_answer(d->st, d->a, s, &inv, d->texts, &d->rng, d->e) < 0)
            return d->failed = 1;
    }
    return 0;
}

int demo_seed(struct store *st, const struct survey_set *surveys, const char *dir, int *created,
              struct err_list *errs)
{
    *created = 0;
    struct err e = {0};
    char path[4096];
    snprintf(path, sizeof path, "%s/demo.json", dir);
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        err_list_set(errs, path, je.line, je.column, "%s", je.text);
        return -1;
    }
    struct demo_answering d = {
        .st = st,
        .surveys = surveys,
        .answered = json_object_get(root, "answered"),
        .texts = json_object_get(root, "texts"),
        .rng = 0x9E3779B97F4A7C15ULL,
        .e = &e,
    };
    int rc = demo_import(st, dir, errs);
    if (rc == 0 && store_begin(st, &e) == STORE_OK) {
        rc = demo_campaigns(st, root, &e);
        if (rc == 0 && (d.a = arena_new()) != NULL) {
            size_t i;
            json_t *it;
            json_array_foreach(json_object_get(root, "campaigns"), i, it)
            {
                if (store_campaign_links(st, demo_str(it, "code"), NULL, demo_answer_link, &d,
                                         &e) != STORE_OK ||
                    d.failed) {
                    rc = -1;
                    break;
                }
            }
            arena_free(d.a);
        } else if (rc == 0) {
            rc = err_set(&e, "", 0, 0, "out of memory");
        }
        if (rc == 0 && store_commit(st, &e) == STORE_OK)
            *created = 1;
        else
            store_rollback(st);
        if (rc == 1)
            rc = 0;
        else if (rc < 0)
            err_list_add(errs, &e);
    } else if (rc == 0) {
        err_list_add(errs, &e);
        rc = -1;
    }
    json_decref(root);
    return rc;
}
