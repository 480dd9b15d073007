/*
 * fuzz_form: a POST body (application/x-www-form-urlencoded) through form_parse and, when it
 * parses, through the validation of the answers (response_from_form) of three surveys
 * loaded once: surveys/mentee-final.yaml, and tests/data/surveys/types/{types,pages}.yaml,
 * which between them have every question type, conditions and pages. Every problem key the
 * validation reports must be a message of web/i18n/ru.json. The files are found from the
 * working directory, or from $ANKETA_ROOT.
 */
#include "fuzz_common.h"

#include "arena.h"
#include "err.h"
#include "form.h"
#include "i18n.h"
#include "response.h"
#include "survey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const fuzz_survey_files[] = {
    "surveys/mentee-final.yaml",
    "tests/data/surveys/types/types.yaml",
    "tests/data/surveys/types/pages.yaml",
};
#define FUZZ_NSURVEYS (sizeof fuzz_survey_files / sizeof fuzz_survey_files[0])

static struct survey *fuzz_surveys[FUZZ_NSURVEYS];
static struct i18n *fuzz_words;

static void fuzz_form_cleanup(void)
{
    for (size_t i = 0; i < FUZZ_NSURVEYS; i++)
        survey_free(fuzz_surveys[i]);
    i18n_free(fuzz_words);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *root = getenv("ANKETA_ROOT");
    char path[4096];
    struct err e = {0};
    for (size_t i = 0; i < FUZZ_NSURVEYS; i++) {
        snprintf(path, sizeof path, "%s/%s", root ? root : ".", fuzz_survey_files[i]);
        if (survey_load(path, &fuzz_surveys[i], &e) < 0)
            fuzz_fail(__FILE__, __LINE__, "survey_load", "%s:%d:%d: %s", e.file, e.line, e.col,
                      e.msg);
    }
    snprintf(path, sizeof path, "%s/web/i18n", root ? root : ".");
    if (i18n_load_dir(path, &fuzz_words, &e) < 0)
        fuzz_fail(__FILE__, __LINE__, "i18n_load_dir", "%s: %s", e.file, e.msg);
    atexit(fuzz_form_cleanup);
    return 0;
}

static void fuzz_form_check(const struct form *f)
{
    FUZZ_CHECK(f->n <= FORM_MAX_FIELDS, "%zu fields", f->n);
    for (size_t i = 0; i < f->n; i++) {
        const struct form_field *fl = &f->fields[i];
        FUZZ_CHECK(fl->name && fl->value, "field %zu lacks a name or value", i);
        FUZZ_CHECK(strlen(fl->value) == fl->value_len, "field %zu: value_len %zu, strlen %zu", i,
                   fl->value_len, strlen(fl->value));
        FUZZ_CHECK(form_count(f, fl->name) >= 1, "field %zu is not counted", i);
    }
    if (f->n)
        FUZZ_CHECK(form_get(f, f->fields[0].name) == f->fields[0].value,
                   "form_get does not give the first value");
}

static void fuzz_response_check(const struct survey *s, const struct form *f,
                                const struct response *r)
{
    size_t nerrors = 0;
    for (size_t i = 0; i < s->nquestions; i++) {
        const struct question *q = &s->questions[i];
        const char *key = r->errors[i];
        if (key) {
            nerrors++;
            FUZZ_CHECK(strcmp(i18n_text(fuzz_words, "ru", key), key) != 0,
                       "problem \"%s\" of %s is not in ru.json", key, q->id);
        }
        const char *v = response_value(r, q);
        if (r->hidden[i])
            FUZZ_CHECK(v == NULL, "hidden question %s has the answer \"%s\"", q->id, v);
        if (v && q->type == Q_TEXT)
            FUZZ_CHECK(response_valid_text(v, strlen(v)), "text answer of %s is not valid", q->id);
        (void)response_raw_value(f, q);
        for (size_t k = 0; k < q->nitems; k++)
            (void)response_value(r, &q->items[k]);
    }
    FUZZ_CHECK(nerrors == r->nerrors, "nerrors %zu, counted %zu", r->nerrors, nerrors);
    for (size_t i = 0; i < r->nanswers; i++)
        FUZZ_CHECK(r->answers[i].q && r->answers[i].value, "answer %zu is incomplete", i);
    for (size_t i = 0; i < r->nscores; i++)
        FUZZ_CHECK(r->scores[i].id && r->scores[i].items > 0, "score %zu", i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long fault = fuzz_fault_prefix(&data, &size);
    struct arena *a = arena_new();
    if (!a)
        return 0;
    arena_fail_after(fault);
    struct form f = {0};
    struct err e = {0};
    if (form_parse(a, (const char *)data, size, &f, &e) < 0) {
        FUZZ_CHECK(e.msg[0] != '\0', "a form error without a message");
        FUZZ_CHECK(fault || strcmp(e.msg, "out of memory") != 0,
                   "out of memory without an injected fault");
    } else {
        fuzz_form_check(&f);
        for (size_t i = 0; i < FUZZ_NSURVEYS; i++) {
            const struct survey *s = fuzz_surveys[i];
            struct response r;
            size_t pages = survey_pages(s);
            size_t section = size % (pages + 1) == pages ? RESPONSE_ALL_SECTIONS : size % pages;
            int rc = response_from_form_section(a, s, &f, section, &r);
            FUZZ_CHECK(fault || rc == 0, "response_from_form failed without an injected fault");
            if (rc == 0)
                fuzz_response_check(s, &f, &r);
            if (response_from_form(a, s, &f, &r) == 0)
                fuzz_response_check(s, &f, &r);
        }
    }
    arena_fail_after(0);
    arena_free(a);
    return 0;
}
