/*
 * demo: building the demonstration region from docs/samples/demo.json.
 */
#include "demo.h"

#include "arena.h"
#include "crypto.h"
#include "err.h"
#include "response.h"
#include "store.h"
#include "survey.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

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

/* Answers like a real participant: mostly favourable scores, some open questions skipped. */
static int demo_answer(struct store *st, struct arena *a, const struct survey *s,
                       const struct invitation *inv, json_t *texts, uint64_t *rng, struct err *e)
{
    struct response r = {.survey = s};
    r.answers = arena_calloc(a, s->nquestions, sizeof *r.answers);
    r.errors = arena_calloc(a, s->nquestions, sizeof *r.errors);
    if (!r.answers || !r.errors)
        return err_set(e, "", 0, 0, "out of memory");
    for (size_t i = 0; i < s->nquestions; i++) {
        const struct question *q = &s->questions[i];
        const char *value = NULL;
        switch (q->type) {
        case Q_YESNO: value = demo_between(rng, 0, 9) < 7 ? "yes" : "no"; break;
        case Q_SCALE: {
            long lo = q->max - (q->max - q->min) / 2;
            value = arena_printf(a, "%ld",
                                 demo_between(rng, lo - 1 < q->min ? q->min : lo - 1, q->max));
            break;
        }
        case Q_CHOICE: value = q->choices[demo_between(rng, 0, (long)q->nchoices - 1)].value; break;
        case Q_NUMBER: value = arena_printf(a, "%ld", q->has_min ? q->min : 0); break;
        case Q_TEXT:
            if (json_array_size(texts) && (q->required || demo_between(rng, 0, 2) > 0))
                value = json_string_value(json_array_get(
                    texts, (size_t)demo_between(rng, 0, (long)json_array_size(texts) - 1)));
            break;
        }
        if (!value && q->required)
            return err_set(e, "", 0, 0, "demo: cannot answer required question \"%s\"", q->id);
        if (value) {
            r.answers[r.nanswers].q = q;
            r.answers[r.nanswers].value = value;
            r.nanswers++;
        }
    }
    int rc = store_put_response(st, inv, &r, e);
    return rc == STORE_OK ? 0 : -1;
}

static int demo_fill(struct store *st, const struct survey_set *surveys, json_t *root,
                     const char *path, struct arena *a, struct err *e)
{
    json_t *region = json_object_get(root, "region");
    if (store_put_org(st, NULL, "region", demo_str(region, "code"), demo_str(region, "name"), e))
        return -1;
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(root, "municipalities"), i, it)
    {
        if (store_put_org(st, demo_str(region, "code"), "municipality", demo_str(it, "code"),
                          demo_str(it, "name"), e))
            return -1;
    }
    json_array_foreach(json_object_get(root, "organisations"), i, it)
    {
        if (store_put_org(st, demo_str(it, "municipality"), "organisation", demo_str(it, "code"),
                          demo_str(it, "name"), e))
            return -1;
    }
    json_array_foreach(json_object_get(root, "programmes"), i, it)
    {
        if (store_put_programme(st, demo_str(it, "organisation"), demo_str(it, "code"),
                                demo_str(it, "form"), demo_str(it, "title"),
                                (int)json_integer_value(json_object_get(it, "year")), e))
            return -1;
    }
    uint64_t rng = 0x9E3779B97F4A7C15ULL;
    json_t *texts = json_object_get(root, "texts");
    json_array_foreach(json_object_get(root, "participants"), i, it)
    {
        const char *code = demo_str(it, "code");
        const struct survey *s = survey_set_find(surveys, demo_str(it, "survey"));
        if (!s)
            return err_set(e, path, 0, 0, "participant %s: no survey \"%s\" is loaded", code,
                           demo_str(it, "survey"));
        char token[CRYPTO_TOKEN_LEN + 1];
        if (store_put_participant(st, code, demo_str(it, "organisation"), demo_str(it, "programme"),
                                  demo_str(it, "role"), demo_str(it, "kind"),
                                  (int)json_integer_value(json_object_get(it, "birth_year")), e) ||
            store_put_invitation(st, code, s->id, token, e))
            return -1;
        if (json_is_true(json_object_get(it, "answered"))) {
            struct invitation inv;
            if (store_invitation_by_token(st, a, token, &inv, e) != STORE_OK ||
                demo_answer(st, a, s, &inv, texts, &rng, e) < 0)
                return -1;
        }
    }
    return 0;
}

int demo_seed(struct store *st, const struct survey_set *surveys, const char *path, int *created,
              struct err *e)
{
    *created = 0;
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return err_set(e, path, je.line, je.column, "%s", je.text);
    const char *region = demo_str(json_object_get(root, "region"), "code");
    int rc = store_org_exists(st, region, e);
    if (rc != STORE_NOT_FOUND) {
        json_decref(root);
        return rc == STORE_OK ? 0 : -1;
    }
    struct arena *a = arena_new();
    if (!a) {
        json_decref(root);
        return err_set(e, "", 0, 0, "out of memory");
    }
    rc = store_begin(st, e);
    if (rc == 0) {
        rc = demo_fill(st, surveys, root, path, a, e);
        if (rc == 0)
            rc = store_commit(st, e);
        else
            store_rollback(st);
    }
    arena_free(a);
    json_decref(root);
    *created = rc == 0;
    return rc;
}
