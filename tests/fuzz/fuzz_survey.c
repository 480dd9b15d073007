/*
 * fuzz_survey: the YAML questionnaire loader (survey_load_mem and survey_load_mem_all) on
 * arbitrary bytes, and on every survey it accepts, the JSON the API serves (survey_to_json)
 * and the lookups the request path makes.
 */
#include "fuzz_common.h"

#include "arena.h"
#include "err.h"
#include "survey.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static void fuzz_survey_walk(const struct survey *s, int faulty)
{
    FUZZ_CHECK(strlen(s->hash) == 64, "hash \"%s\"", s->hash);
    FUZZ_CHECK(s->id && s->title.ru, "a loaded survey has an id and a title");
    for (size_t i = 0; i < s->nquestions; i++) {
        const struct question *q = &s->questions[i];
        FUZZ_CHECK(survey_question(s, q->id) == q, "question %s is not found by its id", q->id);
        FUZZ_CHECK(survey_type_name(q->type) != NULL, "type %d has no name", (int)q->type);
        for (size_t k = 0; k < q->nitems; k++)
            FUZZ_CHECK(survey_question(s, q->items[k].id) == &q->items[k],
                       "matrix item %s is not found by its id", q->items[k].id);
        (void)survey_is_numeric(q);
    }
    for (size_t i = 0; i < s->nscales; i++)
        FUZZ_CHECK(survey_scale_find(s, s->scales[i].id) == &s->scales[i], "scale %s",
                   s->scales[i].id);
    FUZZ_CHECK(survey_pages(s) >= 1, "a survey has at least one page");
    json_t *j = survey_to_json(s);
    FUZZ_CHECK(j || faulty, "survey_to_json failed without an injected fault");
    if (j) {
        char *text = json_dumps(j, JSON_COMPACT);
        free(text);
        json_decref(j);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long fault = fuzz_fault_prefix(&data, &size);
    int faulty = fault > 0;
    const char *text = (const char *)data;

    struct survey *s = NULL;
    struct err e = {0};
    arena_fail_after(fault);
    int rc = survey_load_mem("fuzz.yaml", text, size, &s, &e);
    if (rc == 0) {
        FUZZ_CHECK(s != NULL, "success without a survey");
        fuzz_survey_walk(s, faulty);
        survey_free(s);
    } else {
        FUZZ_CHECK(s == NULL, "failure left a survey");
        FUZZ_CHECK(e.msg[0] != '\0', "failure without a message");
        FUZZ_CHECK(faulty || strcmp(e.msg, "out of memory") != 0,
                   "out of memory without an injected fault");
        FUZZ_CHECK(e.line >= 0 && e.col >= 0, "position %d:%d", e.line, e.col);
    }

    /* Again, collecting every problem; a small max exercises the dropped count. */
    arena_fail_after(fault);
    struct err_list errs = {.max = 3};
    struct survey *s2 = NULL;
    int rc2 = survey_load_mem_all("fuzz.yaml", text, size, &s2, &errs);
    if (!faulty) {
        FUZZ_CHECK((rc == 0) == (rc2 == 0), "survey_load_mem gave %d, survey_load_mem_all %d", rc,
                   rc2);
        if (rc) {
            FUZZ_CHECK(errs.n > 0, "survey_load_mem_all failed without an error");
            FUZZ_CHECK(strcmp(errs.items[0].msg, e.msg) == 0, "first errors differ: %s / %s",
                       errs.items[0].msg, e.msg);
        }
    }
    FUZZ_CHECK(errs.n <= 3, "%zu errors kept past max 3", errs.n);
    FUZZ_CHECK((rc2 == 0) == (err_list_count(&errs) == 0), "rc %d with %zu errors", rc2,
               err_list_count(&errs));
    survey_free(s2);
    err_list_free(&errs);
    arena_fail_after(0);
    return 0;
}
