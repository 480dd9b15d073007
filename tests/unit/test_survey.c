/*
 * Tests of survey: the shipped questionnaires, every kind of broken file with its exact
 * message and position, every problem of a file reported in one run, every example of
 * docs/questionnaires.md, the full format (types, pages, logic, piping, scales, pairs),
 * directories of surveys, the JSON form, versions checked against a real database, and
 * allocation failures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "arena.h"
#include "err.h"
#include "store.h"
#include "survey.h"

#include <dirent.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MENTEE "surveys/mentee-final.yaml"
#define MENTOR "surveys/mentor-final.yaml"
#define BAD    "tests/data/surveys/bad/"
#define DOC    "docs/questionnaires.md"

static char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    assert_true(size >= 0);
    rewind(f);
    char *p = malloc((size_t)size + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *len = (size_t)size;
    return p;
}

/* Independent of crypto.c on purpose: the hash is checked against libsodium directly. */
static void test_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, data, len);
    for (size_t i = 0; i < sizeof h; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static const char *test_format(const struct err *e)
{
    static char buf[1024];
    err_format(e, buf, sizeof buf);
    return buf;
}

static struct survey *test_load_ok(const char *path)
{
    struct survey *s = NULL;
    struct err e = {0};
    int rc = survey_load(path, &s, &e);
    if (rc != 0)
        fail_msg("%s", test_format(&e));
    assert_non_null(s);
    return s;
}

static const char *const test_scale_ids[] = {
    "effectiveness", "comfort", "group_meetings", "personal_meetings", "joint_work", "mentor_help",
    "plan_clarity",  "support", "safety",         "expectations"};

static void test_mentee_final(void **state)
{
    (void)state;
    struct survey *s = test_load_ok(MENTEE);
    assert_string_equal(s->id, "mentee-final");
    assert_int_equal(s->version, 1);
    assert_string_equal(s->path, MENTEE);
    assert_string_equal(s->title.ru, "Анкета наставляемого (итоговое анкетирование)");
    assert_non_null(s->title.en);
    assert_non_null(strstr(s->description.ru, "Оцените в баллах от 1 до 10, где 1 – самый "
                                              "низший балл, а 10 – самый высокий"));
    assert_int_equal(s->nquestions, 17);
    assert_int_equal(s->wave, SURVEY_WAVE_FINAL);
    assert_string_equal(s->role, "mentee");
    assert_int_equal(s->nforms, 4);
    assert_string_equal(s->forms[0], "pupil-pupil");
    assert_int_equal(s->nsections, 0);
    assert_int_equal(survey_pages(s), 1);

    const struct question *q = &s->questions[0];
    assert_string_equal(q->id, "met_before");
    assert_int_equal(q->type, Q_YESNO);
    assert_true(q->required);
    assert_string_equal(q->label.ru, "Сталкивались ли Вы раньше с программой наставничества?");
    assert_int_equal(q->line, 36);
    assert_int_equal(q->col, 5);

    q = &s->questions[1];
    assert_string_equal(q->id, "met_where");
    assert_int_equal(q->type, Q_TEXT);
    assert_false(q->required);
    assert_false(q->long_text);
    assert_string_equal(q->label.ru, "Если да, то где?");

    for (size_t i = 0; i < 10; i++) {
        q = &s->questions[2 + i];
        assert_string_equal(q->id, test_scale_ids[i]);
        assert_int_equal(q->type, Q_SCALE);
        assert_true(q->required);
        assert_int_equal(q->min, 1);
        assert_int_equal(q->max, 10);
        assert_string_equal(q->min_label.ru, "Самый низший балл");
        assert_string_equal(q->max_label.ru, "Самый высокий балл");
        assert_non_null(q->label.en);
        assert_int_equal(q->nchoices, 0);
    }
    assert_string_equal(s->questions[2].label.ru, "Эффективность программы наставничества");
    assert_string_equal(s->questions[3].label.ru,
                        "Насколько комфортно было общение с наставником?");
    assert_string_equal(s->questions[11].label.ru, "Насколько оправдались Ваши ожидания?");

    q = &s->questions[12];
    assert_string_equal(q->id, "valued");
    assert_int_equal(q->type, Q_TEXT);
    assert_true(q->long_text);
    assert_int_equal(q->max_length, 2000);
    assert_string_equal(q->label.ru, "Что особенно ценно для Вас было в программе?");
    q = &s->questions[13];
    assert_string_equal(q->id, "improve");
    assert_true(q->long_text);
    assert_string_equal(q->label.ru,
                        "Чего Вам не хватило в программе и/или что хотелось бы изменить?");

    q = &s->questions[14];
    assert_string_equal(q->id, "continue_programme");
    assert_int_equal(q->type, Q_YESNO);
    assert_string_equal(q->label.ru, "Хотели бы Вы продолжить работу в программе наставничества?");
    q = &s->questions[15];
    assert_string_equal(q->id, "become_mentor");
    assert_int_equal(q->type, Q_YESNO);
    assert_string_equal(q->label.ru, "Хотели бы Вы стать наставником в будущем?");

    /* The self-assessment asked at entry too, and the three scales growth is computed on. */
    q = &s->questions[16];
    assert_string_equal(q->id, "self");
    assert_int_equal(q->type, Q_MATRIX);
    assert_false(q->required);
    assert_int_equal(q->nitems, 6);
    assert_string_equal(q->items[0].id, "self.goals");
    assert_int_equal(q->items[0].type, Q_SCALE);
    assert_ptr_equal(q->items[0].parent, q);
    assert_int_equal(s->nscales, 3);
    const struct survey_scale *sc = survey_scale_find(s, "satisfaction");
    assert_non_null(sc);
    assert_int_equal(sc->nitems, 10);
    assert_int_equal(sc->min_items, 8);
    assert_int_equal(sc->method, SURVEY_SCALE_MEAN);
    assert_ptr_equal(sc->items[0].q, &s->questions[2]);
    sc = survey_scale_find(s, "competence");
    assert_int_equal(sc->nitems, 3);
    assert_ptr_equal(sc->items[2].q, survey_question(s, "self.teamwork"));
    assert_null(survey_scale_find(s, "nope"));

    assert_ptr_equal(survey_question(s, "safety"), &s->questions[10]);
    assert_null(survey_question(s, "nope"));
    survey_free(s);
}

static void test_mentor_final(void **state)
{
    (void)state;
    struct survey *s = test_load_ok(MENTOR);
    assert_string_equal(s->id, "mentor-final");
    assert_int_equal(s->version, 1);
    assert_string_equal(s->title.ru, "Анкета наставника (итоговое анкетирование)");
    assert_int_equal(s->nquestions, 14);
    size_t scales = 0;
    for (size_t i = 0; i < s->nquestions; i++) {
        const struct question *q = &s->questions[i];
        assert_non_null(q->label.ru);
        assert_non_null(q->label.en);
        if (q->type == Q_SCALE) {
            scales++;
            assert_int_equal(q->min, 1);
            assert_int_equal(q->max, 10);
            assert_true(q->required);
        }
    }
    assert_int_equal(scales, 8);
    assert_string_equal(survey_question(s, "comfort")->label.ru,
                        "Насколько комфортно было общение с наставляемым?");
    assert_string_equal(survey_question(s, "planning")->label.ru,
                        "Насколько удалось спланировать работу?");
    assert_string_equal(survey_question(s, "plan_done")->label.ru,
                        "Насколько удалось осуществить свой план?");
    assert_int_equal(survey_question(s, "continue_programme")->type, Q_YESNO);
    assert_null(survey_question(s, "become_mentor"));
    survey_free(s);
}

static void test_hash_is_sha256_of_file(void **state)
{
    (void)state;
    const char *files[] = {MENTEE, MENTOR};
    for (size_t i = 0; i < 2; i++) {
        size_t len;
        char *data = test_read_file(files[i], &len);
        char want[65];
        test_sha256_hex(data, len, want);
        struct survey *s = test_load_ok(files[i]);
        assert_string_equal(s->hash, want);
        survey_free(s);

        /* One byte more (a trailing newline) is another file, so another hash. */
        char *more = malloc(len + 1);
        assert_non_null(more);
        memcpy(more, data, len);
        more[len] = '\n';
        struct err e = {0};
        assert_int_equal(survey_load_mem("x.yaml", more, len + 1, &s, &e), 0);
        assert_string_not_equal(s->hash, want);
        survey_free(s);
        free(more);
        free(data);
    }
}

struct test_bad {
    const char *file;
    const char *msg; /* what follows "tests/data/surveys/bad/FILE:" */
};

static const struct test_bad test_bad_files[] = {
    {"syntax.yaml", "3:14: mapping values are not allowed in this context"},
    {"unclosed-quote.yaml", "8:1: found unexpected end of stream (while scanning a quoted "
                            "scalar at line 3, column 8)"},
    {"tab.yaml", "6:1: tab character: YAML does not allow tabs for indentation, use spaces"},
    {"unknown-key.yaml", "7:5: unknown key \"lable\" in question (did you mean \"label\"?)"},
    {"unknown-type.yaml",
     "9:11: question \"q3\": type \"scael\" is not one of yesno, scale, choice, text, number, "
     "multiple, matrix, date, ranking, consent, note (did you mean \"scale\"?)"},
    {"dup-question-id.yaml", "11:9: duplicate question id \"q2\" (first defined at line 8)"},
    {"dup-key.yaml", "9:5: duplicate key \"label\" (first defined at line 7)"},
    {"missing-label.yaml", "8:5: missing required key \"label\" in question \"q2\""},
    {"missing-title.yaml", "1:1: missing required key \"title\" in the survey"},
    {"scale-min-max.yaml", "8:10: scale \"q4\": min must be less than max"},
    {"scale-span.yaml",
     "9:10: scale \"q4\": max - min must be at most 20 (a scale is shown as a row of buttons)"},
    {"choice-one.yaml", "9:7: choice \"often\": needs at least 2 choices, found 1"},
    {"dup-choice.yaml",
     "13:16: choice \"often\": duplicate value \"often\" (first defined at line 9)"},
    {"bad-id.yaml",
     "1:5: \"id\" must be 1 to 64 characters of a-z, 0-9, \"_\" and \"-\" (got \"Mentee Final\")"},
    {"bad-question-id.yaml",
     "5:9: question id \"q-1\" must be 1 to 64 characters of a-z, 0-9 and \"_\""},
    {"alias.yaml", "3:8: YAML anchors (\"&t\") are not supported: remove the anchor and write "
                   "every value out in full"},
    {"empty.yaml", "1:1: the file is empty: write a mapping with id, version, title and questions"},
    {"version-string.yaml", "2:10: \"version\" must be an integer >= 1"},
    {"version-zero.yaml", "2:10: \"version\" must be an integer >= 1"},
    {"mapping-for-scalar.yaml",
     "7:7: question \"q1\": \"type\" must be a single value, not a mapping"},
    {"en-without-ru.yaml", "8:7: question \"q1\": missing required key \"ru\" in \"label\" (the "
                           "Russian text is required, English is optional)"},
    {"unknown-text-key.yaml", "5:3: unknown key \"de\" in \"title\" (expected one of: ru, en)"},
    {"key-not-applies.yaml",
     "10:5: question \"q4\": key \"choices\" does not apply to type \"scale\" (remove it)"},
    {"two-documents.yaml",
     "8:1: a second YAML document: a file holds exactly one survey, remove the \"---\" and what "
     "follows or move it to its own file"},
    {"text-max-length.yaml",
     "8:17: text \"q1\": \"max_length\" must be an integer from 1 to 100000"},
    {"number-min-max.yaml", "8:10: number \"age\": min must not be greater than max"},
    {"no-questions.yaml", "4:12: \"questions\" must contain at least one question"},
    {"not-utf8.yaml", "3:16: invalid trailing UTF-8 octet (save the file as UTF-8)"},
    {"top-list.yaml", "1:1: the top level must be a mapping with id, version, title and questions"},
    {"empty-label.yaml", "7:11: question \"q1\": \"label\" must not be empty"},
    {"required-not-bool.yaml", "8:15: question \"q1\": \"required\" must be true or false"},
    {"type-typo.yaml",
     "6:11: question \"q1\": type \"scael\" is not one of yesno, scale, choice, text, number, "
     "multiple, matrix, date, ranking, consent, note (did you mean \"scale\"?)"},
    {"unknown-top-key.yaml",
     "4:1: unknown key \"questoins\" in the survey (did you mean \"questions\"?)"},
    {"undefined-list.yaml",
     "11:14: choice \"events\": choice list \"freqency\" is not defined (did you mean "
     "\"frequency\"?) (define it under choice_lists at the top of the file)"},
    {"dup-list.yaml", "8:3: duplicate choice list \"freq\" (first defined at line 5)"},
    {"list-one.yaml", "6:5: choice list \"freq\": needs at least 2 choices, found 1"},
    {"scale-item-text.yaml",
     "6:23: scale \"motivation\": items: question \"valued\" is a text, and a scale scores only "
     "numbers (scale, number, or a matrix on a scale)"},
    {"scale-unknown-item.yaml", "6:23: scale \"motivation\": items: unknown question \"interst2\" "
                                "(did you mean \"interest2\"?)"},
    {"scale-reverse-not-item.yaml",
     "7:14: scale \"motivation\": reverse: question \"b\" is not one of the items"},
    {"scale-reverse-open.yaml", "7:14: scale \"amount\": reverse: number \"n\" needs min and max "
                                "to be reverse-scored (as min + max - answer)"},
    {"scale-min-items.yaml",
     "7:16: scale \"s\": \"min_items\" must be an integer from 1 to 1 (the number of items)"},
    {"scale-method.yaml", "7:13: scale \"s\": method \"avg\" is not one of mean, sum"},
    {"dup-scale.yaml", "6:10: duplicate scale id \"s\" (first defined at line 5)"},
    {"scale-matrix-choices.yaml",
     "5:21: scale \"s\": items: question \"m.a\" is a matrix item on choices, and a scale scores "
     "only numbers (scale, number, or a matrix on a scale)"},
    {"expr-syntax.yaml", "8:20: text \"why\": show_if: \"==\" is not an operator (use \"=\")"},
    {"expr-quoted.yaml", "8:23: text \"why\": show_if: unexpected end of expression"},
    {"expr-later.yaml", "7:14: text \"met_where\": show_if refers to question \"met_before\", "
                        "which comes later in the survey (only earlier answers are known here)"},
    {"expr-unknown.yaml", "8:18: text \"met_where\": required_if refers to unknown question "
                          "\"met_befor\" (did you mean \"met_before\"?)"},
    {"expr-self.yaml", "7:14: yesno \"a\": show_if refers to the question itself (only earlier "
                       "answers are known here)"},
    {"expr-matrix.yaml", "11:35: yesno \"b\": show_if refers to matrix \"m\", whose answer an "
                         "expression cannot read (refer to a single question)"},
    {"expr-note.yaml", "6:36: yesno \"b\": show_if refers to note \"n\", whose answer does not "
                       "exist (a note is only read)"},
    {"constraint-message-alone.yaml",
     "7:25: question \"a\": \"constraint_message\" goes with a \"constraint\""},
    {"pipe-later.yaml", "5:46: yesno \"a\": {{q.b}} in label refers to question \"b\", which comes "
                        "later in the survey (only earlier answers are known here)"},
    {"pipe-unknown.yaml",
     "6:48: yesno \"b\": {{q.mentor}} in label refers to unknown question \"mentor\""},
    {"pipe-syntax.yaml", "6:48: question \"b\": \"label\": write {{q.<question id>}} to insert an "
                         "earlier answer (got \"{{a}}\")"},
    {"pipe-unclosed.yaml", "6:48: question \"b\": \"label\": \"{{\" is not closed by \"}}\" (write "
                           "{{q.<question id>}} to insert an earlier answer)"},
    {"pipe-in-title.yaml",
     "3:20: \"title\": {{...}} inserts an earlier answer only in the label or hint of a question"},
    {"pipe-note.yaml", "6:38: yesno \"b\": {{q.n}} in label refers to note \"n\", whose answer "
                       "does not exist (a note is only read)"},
    {"pairs-no-wave.yaml", "9:17: scale \"a\": \"pairs_with\" belongs to the items of an entry "
                           "survey (write `wave: entry` at the top)"},
    {"pairs-no-survey.yaml", "10:17: scale \"a\": \"pairs_with\" needs `pairs_with_survey: <id of "
                             "the final survey>` at the top of the file"},
    {"pairs-bad-id.yaml",
     "11:17: scale \"a\": \"pairs_with\" must be a question id of the final survey (a-z, 0-9 and "
     "\"_\"; \"<matrix>.<item>\" for a matrix item), got \"Effectiveness\""},
    {"pairs-survey-not-entry.yaml",
     "5:20: \"pairs_with_survey\" belongs to an entry survey (write `wave: entry`)"},
    {"audience-role.yaml", "5:9: audience: role \"mentr\" is not one of mentor, mentee, curator "
                           "(did you mean \"mentor\"?)"},
    {"audience-form.yaml", "5:23: audience: form \"parent-pupil\" is not one of pupil-pupil, "
                           "student-pupil, employer-pupil, employer-student, teacher-teacher; a "
                           "region's own form is written with an \"x-\" prefix (x-parent-pupil)"},
    {"wave-unknown.yaml", "4:7: wave \"middle\" is not one of none, entry, final"},
    {"sections-and-questions.yaml",
     "7:3: a survey has either \"questions\" (one page) or \"sections\" (pages), not both: move "
     "the questions into a section"},
    {"section-no-title.yaml", "5:5: missing required key \"title\" in a section"},
    {"dup-section.yaml", "9:9: duplicate section id \"s1\" (first defined at line 5)"},
    {"dup-question-across-sections.yaml",
     "12:14: duplicate question id \"a\" (first defined at line 8)"},
    {"matrix-no-items.yaml", "5:5: missing required key \"items\" in matrix \"m\""},
    {"matrix-both.yaml",
     "9:14: matrix \"m\": a matrix has either min and max (a scale) or choices, not both"},
    {"matrix-dup-item.yaml",
     "12:14: matrix \"m\": duplicate item id \"a\" (first defined at line 11)"},
    {"multiple-min-max.yaml",
     "7:19: multiple \"m\": min_selected must not be greater than max_selected"},
    {"multiple-too-many.yaml", "7:19: multiple \"m\": \"max_selected\" must be an integer from 1 "
                               "to 3 (the number of choices)"},
    {"number-decimals.yaml",
     "8:10: number \"share\": \"min\" must be a number with at most 1 digit after the point"},
    {"number-decimals-range.yaml",
     "7:15: number \"share\": \"decimals\" must be an integer from 0 to 6"},
    {"date-bad.yaml", "7:10: date \"d\": \"min\" must be a date written YYYY-MM-DD"},
    {"date-min-max.yaml", "7:10: date \"d\": min must not be after max"},
    {"text-format.yaml", "7:13: text \"e\": format \"emial\" is not one of none, email, phone, "
                         "digits (did you mean \"email\"?)"},
    {"format-long.yaml", "8:13: text \"e\": \"format\" applies to a one-line text, not a long one"},
    {"appearance.yaml", "7:17: choice \"c\": appearance \"list\" is not one of radio, dropdown"},
    {"other-conflict.yaml", "7:12: choice \"c\": the value \"other\" of a choice is what `other` "
                            "adds: rename that choice or drop `other`"},
    {"other-yes.yaml", "7:12: choice \"c\": \"other\" must be true, false or a label"},
    {"note-required.yaml",
     "7:5: question \"n\": key \"required\" does not apply to type \"note\" (remove it)"},
    {"missing-questions.yaml", "1:1: missing required key \"questions\" in the survey (or "
                               "\"sections\", for a survey of several pages)"},
};

static void test_bad_files_report_position(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof test_bad_files / sizeof test_bad_files[0]; i++) {
        const struct test_bad *t = &test_bad_files[i];
        char path[256], want[1024];
        snprintf(path, sizeof path, BAD "%s", t->file);
        snprintf(want, sizeof want, "%s:%s", path, t->msg);
        struct survey *s = (struct survey *)1;
        struct err e = {0};
        assert_int_equal(survey_load(path, &s, &e), -1);
        assert_null(s);
        assert_string_equal(test_format(&e), want);

        /* Each file has one mistake, reported once: no consequence of it is reported too. */
        struct err_list list = {0};
        assert_int_equal(survey_load_all(path, &s, &list), -1);
        if (err_list_count(&list) != 1)
            fail_msg("%s: %zu problems, the second: %s", t->file, err_list_count(&list),
                     list.n > 1 ? test_format(&list.items[1]) : "");
        assert_string_equal(test_format(&list.items[0]), want);
        err_list_free(&list);
    }
}

/* Every file under bad/ is listed above, so none goes untested. */
static void test_bad_dir_fully_covered(void **state)
{
    (void)state;
    struct survey_set set;
    struct err e = {0};
    assert_int_equal(survey_set_load_dir(BAD, &set, &e), -1);
    assert_null(set.items);
    assert_int_equal(set.n, 0);
    /* The first file by name is the one reported. */
    assert_string_equal(test_format(&e),
                        BAD "alias.yaml:3:8: YAML anchors (\"&t\") are not supported: remove the "
                            "anchor and write every value out in full");
    DIR *d = opendir(BAD);
    assert_non_null(d);
    size_t n = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.')
            continue;
        size_t i = 0;
        while (i < sizeof test_bad_files / sizeof test_bad_files[0] &&
               strcmp(test_bad_files[i].file, de->d_name) != 0)
            i++;
        if (i == sizeof test_bad_files / sizeof test_bad_files[0])
            fail_msg("%s has no expected message", de->d_name);
        n++;
    }
    closedir(d);
    assert_int_equal(n, sizeof test_bad_files / sizeof test_bad_files[0]);
}

static void test_expect_mem_error(const char *yaml, size_t len, const char *want)
{
    struct survey *s = NULL;
    struct err e = {0};
    assert_int_equal(survey_load_mem("mem.yaml", yaml, len, &s, &e), -1);
    assert_null(s);
    assert_string_equal(test_format(&e), want);
}

#define HEAD "id: m\nversion: 1\ntitle: T\nquestions:\n"

static void test_mem_errors(void **state)
{
    (void)state;
    static const char alias[] = HEAD "  - id: q1\n    type: yesno\n    label: *x\n";
    test_expect_mem_error(alias, strlen(alias),
                          "mem.yaml:7:12: YAML aliases (\"*x\") are not supported: write the "
                          "value out in full");

    static const char nul[] = "id: \"a\\0b\"\n";
    test_expect_mem_error(nul, strlen(nul),
                          "mem.yaml:1:5: a NUL character (\\0) is not allowed in a value");

    char deep[256] = "id: ";
    for (int i = 0; i < 40; i++)
        strcat(deep, "[");
    test_expect_mem_error(deep, strlen(deep), "mem.yaml:1:37: nested more than 32 levels deep");

    static const char mapkey[] = "? {a: 1}\n: x\n";
    test_expect_mem_error(mapkey, strlen(mapkey),
                          "mem.yaml:1:3: a key must be a word, not a mapping");

    static const char list_label[] = HEAD "  - id: q1\n    type: yesno\n    label: [a, b]\n";
    test_expect_mem_error(list_label, strlen(list_label),
                          "mem.yaml:7:12: question \"q1\": \"label\" must be a text or a mapping "
                          "{ru: ..., en: ...}, not a list");

    static const char yesno_min[] = HEAD "  - id: q1\n    type: yesno\n    label: L\n    min: 1\n";
    test_expect_mem_error(yesno_min, strlen(yesno_min),
                          "mem.yaml:8:5: question \"q1\": key \"min\" does not apply to type "
                          "\"yesno\" (remove it)");

    static const char no_max[] = HEAD "  - id: q1\n    type: scale\n    label: L\n    min: 1\n";
    test_expect_mem_error(no_max, strlen(no_max),
                          "mem.yaml:5:5: missing required key \"max\" in scale \"q1\"");

    static const char float_min[] =
        HEAD "  - id: q1\n    type: scale\n    label: L\n    min: 1.5\n    max: 5\n";
    test_expect_mem_error(float_min, strlen(float_min),
                          "mem.yaml:8:10: scale \"q1\": \"min\" must be an integer");

    static const char bad_value[] = HEAD "  - id: q1\n    type: choice\n    label: L\n"
                                         "    choices:\n      - {value: A, label: a}\n"
                                         "      - {value: b, label: b}\n";
    test_expect_mem_error(bad_value, strlen(bad_value),
                          "mem.yaml:9:17: choice \"q1\": value \"A\" must be 1 to 64 characters "
                          "of a-z, 0-9, \"_\" and \"-\"");

    static const char no_choice_label[] = HEAD "  - id: q1\n    type: choice\n    label: L\n"
                                               "    choices:\n      - {value: a}\n"
                                               "      - {value: b, label: b}\n";
    test_expect_mem_error(no_choice_label, strlen(no_choice_label),
                          "mem.yaml:9:9: choice \"q1\": missing required key \"label\" in choice "
                          "\"a\"");

    static const char long_yes[] =
        HEAD "  - id: q1\n    type: text\n    label: L\n    long: \"true\"\n";
    test_expect_mem_error(long_yes, strlen(long_yes),
                          "mem.yaml:8:11: text \"q1\": \"long\" must be true or false");

    static const char long_id[] = "id: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                  "aaaaa\nversion: 1\ntitle: T\nquestions: [{id: q, type: yesno, "
                                  "label: L}]\n";
    test_expect_mem_error(
        long_id, strlen(long_id),
        "mem.yaml:1:5: \"id\" must be 1 to 64 characters of a-z, 0-9, \"_\" and "
        "\"-\" (got \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaa\")");

    /* The second of three equal ids is the one reported, against the first. */
    static const char three[] = HEAD "  - {id: a, type: yesno, label: L}\n"
                                     "  - {id: b, type: yesno, label: L}\n"
                                     "  - {id: a, type: yesno, label: L}\n"
                                     "  - {id: a, type: yesno, label: L}\n";
    test_expect_mem_error(three, strlen(three),
                          "mem.yaml:7:10: duplicate question id \"a\" (first defined at line 5)");
    static const char three_values[] = HEAD "  - id: q1\n    type: choice\n    label: L\n"
                                            "    choices:\n      - {value: x, label: a}\n"
                                            "      - {value: y, label: b}\n"
                                            "      - {value: y, label: c}\n"
                                            "      - {value: x, label: d}\n";
    test_expect_mem_error(three_values, strlen(three_values),
                          "mem.yaml:11:17: choice \"q1\": duplicate value \"y\" (first defined at "
                          "line 10)");

    static const char questions_map[] = "id: m\nversion: 1\ntitle: T\nquestions: {a: 1}\n";
    test_expect_mem_error(questions_map, strlen(questions_map),
                          "mem.yaml:4:12: \"questions\" must be a list of questions");

    /* The message echoes at most 64 bytes of a word and never cuts a UTF-8 character. */
    static const char cyr_type[] =
        HEAD "  - id: q1\n    type: xшкалашкалашкалашкалашкалашкалашкалашкала\n    label: L\n";
    test_expect_mem_error(cyr_type, strlen(cyr_type),
                          "mem.yaml:6:11: question \"q1\": type "
                          "\"xшкалашкалашкалашкалашкалашкалаш\" is not one of yesno, "
                          "scale, choice, text, number, multiple, matrix, date, ranking, consent, "
                          "note");
}

static void test_size_limit(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_survey_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/big.yaml", dir);

    /* A valid survey padded with a comment up to exactly the limit loads... */
    static const char body[] = HEAD "  - {id: q1, type: yesno, label: L}\n";
    size_t limit = 1024 * 1024, blen = sizeof body - 1;
    char *data = malloc(limit + 1);
    assert_non_null(data);
    for (size_t i = 0; i < limit; i++)
        data[i] = i < blen ? body[i] : i == blen ? '#' : i == limit - 1 ? '\n' : 'x';
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, limit, f), limit);
    fclose(f);
    struct survey *s = test_load_ok(path);
    assert_string_equal(s->id, "m");
    survey_free(s);

    /* ...and one byte more does not. */
    f = fopen(path, "ab");
    assert_non_null(f);
    fputc('\n', f);
    fclose(f);
    struct err e = {0};
    assert_int_equal(survey_load(path, &s, &e), -1);
    char want[256];
    snprintf(want, sizeof want,
             "%s: the file is larger than 1 MiB: a questionnaire is far smaller, check that "
             "this is the right file",
             path);
    assert_string_equal(test_format(&e), want);
    data[limit] = '\n';
    assert_int_equal(survey_load_mem("mem.yaml", data, limit + 1, &s, &e), -1);
    free(data);

    unlink(path);
    rmdir(dir);
}

static void test_missing_file(void **state)
{
    (void)state;
    struct survey *s;
    struct err e = {0};
    assert_int_equal(survey_load("tests/data/surveys/none.yaml", &s, &e), -1);
    assert_string_equal(test_format(&e),
                        "tests/data/surveys/none.yaml: cannot open the file: No such file or "
                        "directory");
    assert_int_equal(survey_load("tests/data/surveys", &s, &e), -1);
    assert_string_equal(test_format(&e),
                        "tests/data/surveys: cannot read the file: Is a directory");
}

static const char test_small[] = "id: small\n"
                                 "version: 2\n"
                                 "title: {ru: Малая, en: Small}\n"
                                 "description: Описание\n"
                                 "questions:\n"
                                 "  - id: agree\n"
                                 "    type: yesno\n"
                                 "    label: Согласны?\n"
                                 "    hint: {ru: Подсказка, en: Hint}\n"
                                 "    required: true\n"
                                 "  - id: score\n"
                                 "    type: scale\n"
                                 "    label: Оценка\n"
                                 "    min: 0\n"
                                 "    max: 5\n"
                                 "    max_label: Отлично\n"
                                 "  - id: age\n"
                                 "    type: number\n"
                                 "    label: 10\n"
                                 "    min: -3\n"
                                 "  - id: freq\n"
                                 "    type: choice\n"
                                 "    label: Как часто?\n"
                                 "    choices:\n"
                                 "      - {value: often, label: Часто}\n"
                                 "      - {value: never-ever, label: {ru: Никогда, en: Never}}\n"
                                 "  - id: note\n"
                                 "    type: text\n"
                                 "    label: Заметка\n"
                                 "    long: true\n"
                                 "  - {id: short, type: text, label: Кратко, max_length: 100000}\n";

static void test_small_fields(void **state)
{
    (void)state;
    struct survey *s;
    struct err e = {0};
    assert_int_equal(survey_load_mem("small.yaml", test_small, strlen(test_small), &s, &e), 0);
    assert_int_equal(s->nquestions, 6);
    assert_null(s->description.en);
    assert_int_equal(s->questions[0].required, 1);
    assert_int_equal(s->questions[1].required, 0);
    assert_null(s->questions[1].min_label.ru);
    assert_string_equal(s->questions[2].label.ru, "10");
    assert_true(s->questions[2].has_min);
    assert_false(s->questions[2].has_max);
    assert_int_equal(s->questions[2].min, -3);
    assert_int_equal(s->questions[3].nchoices, 2);
    assert_string_equal(s->questions[3].choices[1].value, "never-ever");
    assert_string_equal(s->questions[3].choices[1].label.en, "Never");
    assert_int_equal(s->questions[4].max_length, 2000);
    assert_int_equal(s->questions[5].max_length, 100000);
    assert_int_equal(s->questions[5].line, 31);
    assert_int_equal(s->questions[5].col, 5);
    survey_free(s);
}

static void test_to_json(void **state)
{
    (void)state;
    struct survey *s;
    struct err e = {0};
    assert_int_equal(survey_load_mem("small.yaml", test_small, strlen(test_small), &s, &e), 0);
    char hash[65];
    test_sha256_hex(test_small, strlen(test_small), hash);
    char want[2048];
    snprintf(want, sizeof want,
             "{\"description\":{\"ru\":\"Описание\"},\"hash\":\"%s\",\"id\":\"small\","
             "\"questions\":["
             "{\"hint\":{\"en\":\"Hint\",\"ru\":\"Подсказка\"},\"id\":\"agree\","
             "\"label\":{\"ru\":\"Согласны?\"},\"required\":true,\"type\":\"yesno\"},"
             "{\"id\":\"score\",\"label\":{\"ru\":\"Оценка\"},\"max\":5,"
             "\"max_label\":{\"ru\":\"Отлично\"},\"min\":0,\"required\":false,"
             "\"type\":\"scale\"},"
             "{\"id\":\"age\",\"label\":{\"ru\":\"10\"},\"min\":-3,\"required\":false,"
             "\"type\":\"number\"},"
             "{\"choices\":[{\"label\":{\"ru\":\"Часто\"},\"value\":\"often\"},"
             "{\"label\":{\"en\":\"Never\",\"ru\":\"Никогда\"},\"value\":\"never-ever\"}],"
             "\"id\":\"freq\",\"label\":{\"ru\":\"Как часто?\"},\"required\":false,"
             "\"type\":\"choice\"},"
             "{\"id\":\"note\",\"label\":{\"ru\":\"Заметка\"},\"long\":true,"
             "\"max_length\":2000,\"required\":false,\"type\":\"text\"},"
             "{\"id\":\"short\",\"label\":{\"ru\":\"Кратко\"},\"long\":false,"
             "\"max_length\":100000,\"required\":false,\"type\":\"text\"}],"
             "\"title\":{\"en\":\"Small\",\"ru\":\"Малая\"},\"version\":2}",
             hash);
    json_t *j = survey_to_json(s);
    assert_non_null(j);
    char *got = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
    json_decref(j);
    survey_free(s);
}

static long test_json_fail_countdown;

static void *test_json_malloc(size_t n)
{
    if (test_json_fail_countdown > 0 && --test_json_fail_countdown == 0)
        return NULL;
    return malloc(n);
}

static void test_to_json_out_of_memory(void **state)
{
    (void)state;
    struct survey *s = test_load_ok(MENTEE);
    json_t *full = survey_to_json(s);
    assert_non_null(full);
    json_set_alloc_funcs(test_json_malloc, free);
    long n;
    json_t *j = NULL;
    for (n = 1; n < 100000; n++) {
        test_json_fail_countdown = n;
        j = survey_to_json(s);
        if (j)
            break;
    }
    test_json_fail_countdown = 0;
    json_set_alloc_funcs(malloc, free);
    assert_true(n > 100); /* the mentee survey takes many allocations: each one failed once */
    assert_true(json_equal(j, full));
    json_decref(j);
    json_decref(full);
    survey_free(s);
}

static void test_set_load_dir(void **state)
{
    (void)state;
    struct survey_set set;
    struct err e = {0};
    if (survey_set_load_dir("tests/data/surveys/good", &set, &e))
        fail_msg("%s", test_format(&e));
    /* Sorted by id (the files sort the other way); .hidden.yaml and notes.txt skipped. */
    assert_int_equal(set.n, 2);
    assert_string_equal(set.items[0]->id, "alpha");
    assert_string_equal(set.items[0]->path, "tests/data/surveys/good/2-alpha.yml");
    assert_string_equal(set.items[1]->id, "zeta");
    assert_int_equal(set.items[1]->version, 3);
    assert_ptr_equal(survey_set_find(&set, "alpha"), set.items[0]);
    assert_ptr_equal(survey_set_find(&set, "zeta"), set.items[1]);
    assert_null(survey_set_find(&set, "beta"));
    assert_null(survey_set_find(&set, ""));
    survey_set_free(&set);
    assert_null(set.items);
    assert_int_equal(set.n, 0);
    assert_null(survey_set_find(&set, "alpha"));

    /* A trailing slash makes no double slash in the paths. */
    assert_int_equal(survey_set_load_dir("surveys/", &set, &e), 0);
    assert_int_equal(set.n, 7);
    assert_string_equal(set.items[0]->path, "surveys/curator-quality.yaml");
    assert_string_equal(survey_set_find(&set, "mentee-final")->path, MENTEE);
    assert_string_equal(survey_set_find(&set, "mentor-final")->path, MENTOR);
    survey_set_free(&set);
}

static void test_set_duplicate_id(void **state)
{
    (void)state;
    struct survey_set set;
    struct err e = {0};
    assert_int_equal(survey_set_load_dir("tests/data/surveys/dup", &set, &e), -1);
    assert_null(set.items);
    assert_int_equal(set.n, 0);
    assert_string_equal(test_format(&e),
                        "tests/data/surveys/dup/b-second.yml:3:5: duplicate survey id \"same\": "
                        "tests/data/surveys/dup/a-first.yaml declares it too (each survey needs "
                        "its own id)");
}

static void test_set_errors(void **state)
{
    (void)state;
    struct survey_set set;
    struct err e = {0};
    assert_int_equal(survey_set_load_dir("tests/data/surveys/none", &set, &e), -1);
    assert_string_equal(test_format(&e),
                        "tests/data/surveys/none: cannot open the directory: No such file or "
                        "directory");

    char dir[] = "/tmp/test_survey_XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(survey_set_load_dir(dir, &set, &e), 0);
    assert_int_equal(set.n, 0);
    assert_null(survey_set_find(&set, "x"));
    survey_set_free(&set);
    rmdir(dir);
}

static void test_type_names(void **state)
{
    (void)state;
    assert_string_equal(survey_type_name(Q_YESNO), "yesno");
    assert_string_equal(survey_type_name(Q_SCALE), "scale");
    assert_string_equal(survey_type_name(Q_CHOICE), "choice");
    assert_string_equal(survey_type_name(Q_TEXT), "text");
    assert_string_equal(survey_type_name(Q_NUMBER), "number");
}

static void test_load_fault_injection(void **state)
{
    (void)state;
    long n;
    for (n = 1; n < 100000; n++) {
        struct survey *s = (struct survey *)1;
        struct err e = {0};
        arena_fail_after(n);
        int rc = survey_load(MENTEE, &s, &e);
        arena_fail_after(0);
        if (rc == 0) {
            assert_int_equal(s->nquestions, 17);
            survey_free(s);
            break;
        }
        assert_int_equal(rc, -1);
        assert_null(s);
        assert_string_equal(test_format(&e), MENTEE ": out of memory");
    }
    assert_true(n > 50);

    for (n = 1; n < 100000; n++) {
        struct survey_set set;
        struct err e = {0};
        arena_fail_after(n);
        int rc = survey_set_load_dir("tests/data/surveys/good", &set, &e);
        arena_fail_after(0);
        if (rc == 0) {
            assert_int_equal(set.n, 2);
            survey_set_free(&set);
            break;
        }
        assert_int_equal(rc, -1);
        assert_null(set.items);
        assert_non_null(strstr(e.msg, "out of memory"));
    }
    assert_true(n > 10);
}

/* Loads every ```yaml block of the format documentation: a block with a line
 * "# error: LINE:COL: message" must fail with exactly that one problem, any other must load. */
static void test_doc_examples(void **state)
{
    (void)state;
    size_t len;
    char *doc = test_read_file(DOC, &len);
    size_t blocks = 0, broken = 0;
    for (char *p = doc; (p = strstr(p, "\n```yaml\n")) != NULL;) {
        char *start = p + 9, *end = strstr(start, "\n```\n");
        assert_non_null(end);
        end[1] = '\0';
        int line = 1;
        for (char *c = doc; c < start; c++)
            line += *c == '\n';
        char want[600] = "", name[64];
        const char *mark = strstr(start, "# error: ");
        if (mark) {
            const char *eol = strchr(mark, '\n');
            snprintf(want, sizeof want, "doc.yaml:%.*s", (int)(eol - mark - 9), mark + 9);
        }
        snprintf(name, sizeof name, "doc.yaml");
        struct survey *s = NULL;
        struct err_list list = {0};
        int rc = survey_load_mem_all(name, start, strlen(start), &s, &list);
        if (!mark && rc != 0)
            fail_msg(DOC " block at line %d: %s", line, test_format(&list.items[0]));
        if (mark) {
            if (rc == 0)
                fail_msg(DOC " block at line %d loads, expected: %s", line, want);
            if (err_list_count(&list) != 1 || strcmp(test_format(&list.items[0]), want) != 0)
                fail_msg(DOC " block at line %d: %zu problems, first \"%s\", expected \"%s\"", line,
                         err_list_count(&list), test_format(&list.items[0]), want);
            broken++;
        }
        survey_free(s);
        err_list_free(&list);
        blocks++;
        end[1] = '`';
        p = end;
    }
    free(doc);
    /* Every type and feature has an example, and the broken ones are checked too. */
    assert_true(blocks >= 30);
    assert_true(broken >= 10);
}

static void test_many_errors(void **state)
{
    (void)state;
    static const char *const want[] = {
        "2:5: \"id\" must be 1 to 64 characters of a-z, 0-9, \"_\" and \"-\" (got \"Many "
        "Errors\")",
        "3:10: \"version\" must be an integer >= 1",
        "5:7: wave \"midle\" is not one of none, entry, final",
        "8:11: question \"q1\": type \"scael\" is not one of yesno, scale, choice, text, number, "
        "multiple, matrix, date, ranking, consent, note (did you mean \"scale\"?)",
        "14:5: unknown key \"lable\" in question (did you mean \"label\"?)",
        "12:10: scale \"q2\": min must be less than max",
        "15:9: duplicate question id \"q1\" (first defined at line 7)",
        "20:14: choice \"q4\": choice list \"nolist\" is not defined (define it under choice_lists "
        "at the top of the file)",
        "24:19: text \"q5\": show_if: unexpected \"=\"",
        "25:17: text \"q5\": {{q.q9}} in label refers to unknown question \"q9\" (did you mean "
        "\"q1\"?)",
    };
    const char *path = "tests/data/surveys/many-errors.yaml";
    struct survey *s = (struct survey *)1;
    struct err_list list = {0};
    assert_int_equal(survey_load_all(path, &s, &list), -1);
    assert_null(s);
    assert_int_equal(list.n, sizeof want / sizeof want[0]);
    assert_int_equal(list.dropped, 0);
    for (size_t i = 0; i < list.n; i++) {
        char full[700];
        snprintf(full, sizeof full, "%s:%s", path, want[i]);
        assert_string_equal(test_format(&list.items[i]), full);
    }
    /* Problems add to what the list holds already (several files in one run). */
    assert_int_equal(survey_load_all(path, &s, &list), -1);
    assert_int_equal(list.n, 2 * (sizeof want / sizeof want[0]));
    err_list_free(&list);

    /* survey_load reports the first. */
    struct err e = {0};
    assert_int_equal(survey_load(path, &s, &e), -1);
    char full[700];
    snprintf(full, sizeof full, "%s:%s", path, want[0]);
    assert_string_equal(test_format(&e), full);
}

/* A file with very many problems: the first SURVEY_MAX_ERRORS are kept, the rest counted. */
static void test_error_cap(void **state)
{
    (void)state;
    char *yaml = malloc(64 * 1024);
    assert_non_null(yaml);
    size_t n = (size_t)snprintf(yaml, 64 * 1024, HEAD);
    for (int i = 0; i < 151; i++)
        n += (size_t)snprintf(yaml + n, 64 * 1024 - n, "  - {id: q, type: yesno, label: L}\n");
    struct survey *s;
    struct err_list list = {0};
    assert_int_equal(survey_load_mem_all("cap.yaml", yaml, n, &s, &list), -1);
    assert_int_equal(list.n, SURVEY_MAX_ERRORS);
    assert_int_equal(list.dropped, 50);
    assert_int_equal(err_list_count(&list), 150);
    assert_string_equal(test_format(&list.items[99]),
                        "cap.yaml:105:10: duplicate question id \"q\" (first defined at line 5)");
    err_list_free(&list);
    free(yaml);
}

#define TYPES "tests/data/surveys/types/types.yaml"
#define PAGES "tests/data/surveys/types/pages.yaml"

static void test_every_type(void **state)
{
    (void)state;
    struct survey *s = test_load_ok(TYPES);
    assert_int_equal(s->nquestions, 20);
    const struct question *q = survey_question(s, "ch");
    assert_int_equal(q->type, Q_CHOICE);
    assert_false(q->dropdown);
    assert_int_equal(q->nchoices, 3);
    assert_string_equal(q->choices[2].value, "never");
    assert_string_equal(q->choices[2].label.en, "Never");
    assert_true(q->other);
    assert_null(q->other_label.ru);
    assert_string_equal(q->other_text->id, "ch.other");
    assert_int_equal(q->other_text->type, Q_TEXT);
    assert_int_equal(q->other_text->max_length, 500);
    assert_ptr_equal(q->other_text->parent, q);
    assert_ptr_equal(survey_question(s, "ch.other"), q->other_text);
    /* A choice list is shared, not copied. */
    assert_ptr_equal(survey_question(s, "dd")->choices, q->choices);
    assert_true(survey_question(s, "dd")->dropdown);

    q = survey_question(s, "mu");
    assert_int_equal(q->type, Q_MULTIPLE);
    assert_int_equal(q->min_selected, 1);
    assert_int_equal(q->max_selected, 2);
    assert_string_equal(q->other_label.ru, "Что-то ещё");
    assert_string_equal(q->other_label.en, "Something else");

    q = survey_question(s, "m");
    assert_int_equal(q->type, Q_MATRIX);
    assert_int_equal(q->nitems, 2);
    assert_string_equal(q->items[1].id, "m.b");
    assert_string_equal(q->items[1].label.ru, "Второй");
    assert_int_equal(q->items[1].type, Q_SCALE);
    assert_int_equal(q->items[1].min, 1);
    assert_int_equal(q->items[1].max, 5);
    assert_int_equal(q->items[1].index, q->index);
    assert_true(survey_is_numeric(&q->items[1]));
    assert_ptr_equal(survey_question(s, "m.b"), &q->items[1]);
    assert_null(survey_question(s, "m.c"));
    assert_null(survey_question(s, "m."));
    q = survey_question(s, "mc");
    assert_int_equal(q->items[0].type, Q_CHOICE);
    assert_int_equal(q->items[0].nchoices, 3);
    assert_false(survey_is_numeric(&q->items[0]));

    q = survey_question(s, "dec");
    assert_int_equal(q->decimals, 2);
    assert_int_equal(q->min, -150); /* in hundredths */
    assert_int_equal(q->max, 9999);
    assert_int_equal(survey_question(s, "num")->max, 100);
    assert_int_equal(survey_question(s, "em")->format, TEXT_FORMAT_EMAIL);
    assert_int_equal(survey_question(s, "ph")->format, TEXT_FORMAT_PHONE);
    assert_int_equal(survey_question(s, "dg")->format, TEXT_FORMAT_DIGITS);
    assert_int_equal(survey_question(s, "tx")->format, TEXT_FORMAT_NONE);
    q = survey_question(s, "dt");
    assert_string_equal(q->date_min, "2020-01-01");
    assert_string_equal(q->date_max, "2030-12-31");
    assert_int_equal(survey_question(s, "rk")->nchoices, 3);
    assert_true(survey_question(s, "cs")->required);
    assert_int_equal(survey_question(s, "nt")->type, Q_NOTE);

    q = survey_question(s, "cond");
    assert_string_equal(q->show_if, "yn");
    assert_non_null(q->show_if_x);
    assert_string_equal(q->required_if, "sc >= 4");
    assert_non_null(q->required_if_x);
    q = survey_question(s, "limit");
    assert_non_null(q->constraint_x);
    assert_string_equal(q->constraint_message.ru, "Не больше, чем в «Число»");

    const struct survey_scale *sc = survey_scale_find(s, "mood");
    assert_int_equal(sc->nitems, 3);
    assert_ptr_equal(sc->items[1].q, survey_question(s, "m.a"));
    assert_false(sc->items[1].reverse);
    assert_true(sc->items[2].reverse);
    assert_int_equal(sc->min_items, 2);
    sc = survey_scale_find(s, "total");
    assert_int_equal(sc->method, SURVEY_SCALE_SUM);
    assert_int_equal(sc->min_items, 2); /* all of them by default */
    survey_free(s);

    /* A matrix named in a scale stands for its items. */
    static const char whole[] = HEAD "  - {id: m, type: matrix, min: 1, max: 3, label: M, "
                                     "items: [{id: a, label: A}, {id: b, label: B}]}\n"
                                     "scales: [{id: s, items: [m]}]\n";
    struct err e = {0};
    assert_int_equal(survey_load_mem("m.yaml", whole, strlen(whole), &s, &e), 0);
    assert_int_equal(s->scales[0].nitems, 2);
    assert_string_equal(s->scales[0].items[1].q->id, "m.b");
    survey_free(s);
}

static void test_pages(void **state)
{
    (void)state;
    struct survey *s = test_load_ok(PAGES);
    assert_int_equal(s->nsections, 4);
    assert_int_equal(survey_pages(s), 4);
    assert_string_equal(s->sections[0].id, "one");
    assert_string_equal(s->sections[0].title.en, "First");
    assert_int_equal(s->sections[0].first, 0);
    assert_int_equal(s->sections[0].count, 3);
    assert_int_equal(s->sections[2].first, 4);
    assert_int_equal(s->sections[2].count, 2);
    assert_int_equal(s->nquestions, 8);
    assert_int_equal(survey_question(s, "club_name")->section, 0);
    assert_int_equal(survey_question(s, "s1")->section, 2);
    assert_int_equal(survey_question(s, "details")->section, 3);
    assert_int_equal(survey_question(s, "details")->index, 7);
    const struct question *q = survey_question(s, "s1");
    assert_true(q->pipes);
    assert_false(survey_question(s, "s2")->pipes);
    assert_string_equal(q->label.ru,
                        "{{q.name}}, насколько Вам нравится кружок «{{q.club_name}}»?");
    survey_free(s);
}

/* Writes name in dir with text. */
static void test_write(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.')
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static void test_pairs_across_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_survey_XXXXXX";
    assert_non_null(mkdtemp(dir));
    test_write(dir, "final.yaml",
               "id: final\nversion: 1\nwave: final\ntitle: T\nquestions:\n"
               "  - {id: effectiveness, type: scale, min: 1, max: 10, label: E}\n"
               "  - {id: where, type: text, label: W}\n"
               "  - {id: m, type: matrix, min: 1, max: 5, label: M, items: [{id: a, label: A}]}\n");
    test_write(dir, "entry.yaml",
               "id: entry\nversion: 1\nwave: entry\npairs_with_survey: final\ntitle: T\n"
               "questions:\n"
               "  - {id: e, type: scale, min: 1, max: 10, pairs_with: effectiveness, label: E}\n"
               "  - {id: m, type: matrix, min: 1, max: 5, label: M,\n"
               "     items: [{id: a, label: A, pairs_with: m.a}]}\n");
    struct survey_set set;
    struct err_list list = {0};
    if (survey_set_load_dir_all(dir, &set, &list))
        fail_msg("%s", test_format(&list.items[0]));
    assert_string_equal(survey_set_find(&set, "entry")->questions[1].items[0].pairs_with, "m.a");
    survey_set_free(&set);

    /* The final survey lacks one paired item, and another is of another kind. */
    test_write(dir, "entry.yaml",
               "id: entry\nversion: 1\nwave: entry\npairs_with_survey: final\ntitle: T\n"
               "questions:\n"
               "  - {id: e, type: scale, min: 1, max: 10, pairs_with: effectivenes, label: E}\n"
               "  - {id: w, type: scale, min: 1, max: 10, pairs_with: where, label: W}\n");
    assert_int_equal(survey_set_load_dir_all(dir, &set, &list), -1);
    assert_null(set.items);
    assert_int_equal(list.n, 2);
    char want[1024];
    snprintf(want, sizeof want,
             "%s/entry.yaml:7:5: scale \"e\": pairs_with \"effectivenes\": survey \"final\" "
             "(%s/final.yaml) has no such question",
             dir, dir);
    assert_string_equal(test_format(&list.items[0]), want);
    snprintf(want, sizeof want,
             "%s/entry.yaml:8:5: scale \"w\": pairs_with \"where\": a scale cannot be compared "
             "with a text of survey \"final\"",
             dir);
    assert_string_equal(test_format(&list.items[1]), want);
    err_list_free(&list);

    /* The final survey is not loaded: only the syntax is checked. */
    char path[512];
    snprintf(path, sizeof path, "%s/final.yaml", dir);
    unlink(path);
    assert_int_equal(survey_set_load_dir_all(dir, &set, &list), 0);
    assert_int_equal(list.n, 0);
    survey_set_free(&set);
    test_remove_dir(dir);
}

/* The shipped entry surveys pair every expectation with a final item and score the same
 * scales, so the expectation gap and the growth can be computed. */
static void test_real_entry_final(void **state)
{
    (void)state;
    struct survey_set set;
    struct err e = {0};
    if (survey_set_load_dir("surveys", &set, &e))
        fail_msg("%s", test_format(&e));
    static const char *const entries[] = {"mentee-entry", "mentor-entry", "young-teacher-entry"};
    for (size_t i = 0; i < 3; i++) {
        const struct survey *s = survey_set_find(&set, entries[i]);
        assert_non_null(s);
        assert_int_equal(s->wave, SURVEY_WAVE_ENTRY);
        assert_true(s->nsections >= 3);
        const struct survey *f = survey_set_find(&set, s->pairs_with_survey);
        assert_non_null(f);
        assert_int_equal(f->wave, SURVEY_WAVE_FINAL);
        size_t pairs = 0;
        for (size_t k = 0; k < s->nquestions; k++) {
            const struct question *q = &s->questions[k];
            if (!q->pairs_with)
                continue;
            assert_non_null(survey_question(f, q->pairs_with));
            pairs++;
        }
        assert_true(pairs >= 7);
        static const char *const scales[] = {"satisfaction", "motivation", "competence"};
        for (size_t k = 0; k < 3; k++) {
            assert_non_null(survey_scale_find(s, scales[k]));
            assert_non_null(survey_scale_find(f, scales[k]));
        }
        assert_string_equal(s->role, f->role);
    }
    const struct survey *c = survey_set_find(&set, "curator-quality");
    assert_string_equal(c->role, "curator");
    for (const char *const *id =
             (const char *const[]){"strengths", "weaknesses", "opportunities", "threats", NULL};
         *id; id++)
        assert_true(survey_question(c, *id)->long_text);
    const struct survey *yt = survey_set_find(&set, "young-teacher-final");
    assert_string_equal(yt->forms[0], "teacher-teacher");
    assert_string_equal(survey_question(yt, "events")->choices[1].label.ru, "Редко");
    assert_int_equal(survey_question(yt, "plans_5_years")->type, Q_YESNO);
    assert_int_equal(survey_question(yt, "school_culture")->type, Q_YESNO);
    assert_int_equal(survey_question(yt, "articles")->type, Q_YESNO);
    survey_set_free(&set);
}

static void test_to_json_full(void **state)
{
    (void)state;
    struct survey *s = test_load_ok(TYPES);
    json_t *j = survey_to_json(s);
    assert_non_null(j);
    json_t *qs = json_object_get(j, "questions");
    json_t *ch = json_array_get(qs, 2), *mu = json_array_get(qs, 4), *m = json_array_get(qs, 5);
    json_t *dec = json_array_get(qs, 8), *limit = json_array_get(qs, 19);
    assert_true(json_is_true(json_object_get(ch, "other")));
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_array_get(json_object_get(ch, "choices"), 1), "label"), "en")),
        "Rarely");
    assert_string_equal(json_string_value(json_object_get(json_array_get(qs, 3), "appearance")),
                        "dropdown");
    assert_int_equal(json_integer_value(json_object_get(mu, "max_selected")), 2);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(mu, "other_label"), "ru")), "Что-то ещё");
    json_t *item = json_array_get(json_object_get(m, "items"), 1);
    assert_string_equal(json_string_value(json_object_get(item, "id")), "m.b");
    assert_string_equal(json_string_value(json_object_get(item, "type")), "scale");
    assert_int_equal(json_integer_value(json_object_get(m, "max")), 5);
    assert_true(json_real_value(json_object_get(dec, "min")) == -1.5);
    assert_int_equal(json_integer_value(json_object_get(dec, "decimals")), 2);
    assert_string_equal(json_string_value(json_object_get(limit, "constraint")), "limit <= num");
    assert_string_equal(json_string_value(json_object_get(json_array_get(qs, 11), "format")),
                        "email");
    json_t *scale = json_array_get(json_object_get(j, "scales"), 0);
    assert_string_equal(json_string_value(json_object_get(scale, "method")), "mean");
    assert_string_equal(json_string_value(json_array_get(json_object_get(scale, "reverse"), 0)),
                        "m.b");
    json_decref(j);
    survey_free(s);

    s = test_load_ok("surveys/mentee-entry.yaml");
    j = survey_to_json(s);
    assert_string_equal(json_string_value(json_object_get(j, "wave")), "entry");
    assert_string_equal(json_string_value(json_object_get(j, "pairs_with_survey")), "mentee-final");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "audience"), "role")),
                        "mentee");
    json_t *sec = json_array_get(json_object_get(j, "sections"), 1);
    assert_string_equal(json_string_value(json_object_get(sec, "id")), "expectations");
    assert_string_equal(json_string_value(json_array_get(json_object_get(sec, "questions"), 0)),
                        "exp_effectiveness");
    json_decref(j);
    survey_free(s);
}

/* Runs SQL on the test database directly (foreign keys off, as a fresh connection has them). */
static void test_sql(const char *db, const char *sql)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    sqlite3_close(h);
}

static struct survey *test_version(const char *yaml)
{
    struct survey *s;
    struct err e = {0};
    if (survey_load_mem("v.yaml", yaml, strlen(yaml), &s, &e))
        fail_msg("%s", test_format(&e));
    return s;
}

static void test_check_against_store(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_survey_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char db[256];
    snprintf(db, sizeof db, "%s/v.db", dir);
    struct store *st;
    struct err e = {0};
    struct store_options opt = {.migrate = 1};
    assert_int_equal(store_open(db, &opt, &st, &e), 0);

    static const char v1[] =
        "id: v\nversion: 1\ntitle: T\nquestions:\n"
        "  - {id: q, type: choice, label: Q, choices: [{value: a, label: A}, {value: b, label: "
        "B}]}\n"
        "  - {id: n, type: scale, min: 1, max: 5, label: N}\n"
        "  - {id: m, type: matrix, min: 1, max: 5, label: M, items: [{id: x, label: X}]}\n";
    /* A new version is recorded. */
    struct survey *s = test_version(v1);
    assert_int_equal(survey_check_against_store(s, st, &e), 0);
    struct arena *a = arena_new();
    const char *hash, *def;
    assert_int_equal(store_survey_version_get(st, a, "v", 1, &hash, &def, &e), STORE_OK);
    assert_string_equal(hash, s->hash);
    assert_non_null(strstr(def, "\"choices\":[{\"label\":{\"ru\":\"A\"},\"value\":\"a\"}"));
    survey_free(s);

    /* Answers under version 1: b was chosen, n and m.x answered. */
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO responses(id, invitation_id, survey_id, survey_version, survey_hash, "
             "submitted_at) VALUES (1, 1, 'v', 1, '%s', '2026-01-01T00:00:00Z');"
             "INSERT INTO answers VALUES (1, 'q', 'b'), (1, 'n', '4'), (1, 'm.x', '2');",
             hash);
    test_sql(db, sql);

    /* Compatible edits keep the version: a new choice, a new question, other words. */
    static const char v1b[] = "id: v\nversion: 1\ntitle: T2\nquestions:\n"
                              "  - {id: q, type: choice, label: Q2, choices: [{value: a, label: "
                              "A}, {value: b, label: B}, {value: c, label: C}]}\n"
                              "  - {id: n, type: scale, min: 1, max: 7, label: N}\n"
                              "  - {id: m, type: matrix, min: 1, max: 5, label: M, items: [{id: "
                              "x, label: X}]}\n"
                              "  - {id: extra, type: yesno, label: E}\n";
    s = test_version(v1b);
    assert_int_equal(survey_check_against_store(s, st, &e), 0);
    assert_int_equal(store_survey_version_get(st, a, "v", 1, &hash, &def, &e), STORE_OK);
    assert_string_equal(hash, s->hash);
    survey_free(s);

    /* A choice that has answers removed. */
    static const char lost[] =
        "id: v\nversion: 1\ntitle: T\nquestions:\n"
        "  - {id: q, type: choice, label: Q, choices: [{value: a, label: A}, {value: c, label: "
        "C}]}\n"
        "  - {id: n, type: scale, min: 1, max: 5, label: N}\n"
        "  - {id: m, type: matrix, min: 1, max: 5, label: M, items: [{id: x, label: X}]}\n";
    s = test_version(lost);
    assert_int_equal(survey_check_against_store(s, st, &e), -1);
    assert_string_equal(
        test_format(&e),
        "v.yaml:5:5: survey \"v\" changed incompatibly under version 1, which the "
        "database has answers to: question \"q\" lost the choice \"b\", which has "
        "answers; raise `version:` to 2 (answers given to version 1 stay readable)");
    survey_free(s);

    /* A type changed, in a matrix item too, and an answered question removed. */
    static const char retyped[] = "id: v\nversion: 1\ntitle: T\nquestions:\n"
                                  "  - {id: q, type: choice, label: Q, choices: [{value: a, label: "
                                  "A}, {value: b, label: B}]}\n"
                                  "  - {id: n, type: number, label: N}\n";
    s = test_version(retyped);
    assert_int_equal(survey_check_against_store(s, st, &e), -1);
    assert_non_null(strstr(e.msg, "question \"n\", which has answers, changed type from scale "
                                  "to number; raise `version:` to 2"));
    assert_int_equal(e.line, 6);
    survey_free(s);
    static const char removed[] =
        "id: v\nversion: 1\ntitle: T\nquestions:\n"
        "  - {id: q, type: choice, label: Q, choices: [{value: a, label: A}, {value: b, label: "
        "B}]}\n"
        "  - {id: n, type: scale, min: 1, max: 5, label: N}\n"
        "  - {id: m, type: matrix, label: M, choices: [{value: a, label: A}, {value: b, label: "
        "B}], items: [{id: x, label: X}]}\n";
    s = test_version(removed);
    assert_int_equal(survey_check_against_store(s, st, &e), -1);
    assert_non_null(strstr(e.msg, "question \"m.x\", which has answers, changed type from scale "
                                  "to choice"));
    survey_free(s);
    static const char gone[] = "id: v\nversion: 1\ntitle: T\nquestions:\n"
                               "  - {id: q, type: choice, label: Q, choices: [{value: a, label: "
                               "A}, {value: b, label: B}]}\n";
    s = test_version(gone);
    assert_int_equal(survey_check_against_store(s, st, &e), -1);
    assert_non_null(strstr(e.msg, "question \"n\", which has answers, was removed"));
    assert_int_equal(e.line, 0);
    survey_free(s);

    /* The same edit under a new version is recorded, and version 1 stays as it was. */
    static const char v2[] = "id: v\nversion: 2\ntitle: T\nquestions:\n"
                             "  - {id: n, type: number, label: N}\n";
    s = test_version(v2);
    assert_int_equal(survey_check_against_store(s, st, &e), 0);
    assert_int_equal(store_survey_version_get(st, a, "v", 2, &hash, &def, &e), STORE_OK);
    assert_int_equal(store_survey_version_get(st, a, "v", 1, &hash, &def, &e), STORE_OK);
    assert_non_null(strstr(def, "\"extra\""));
    survey_free(s);

    /* A multiple choice's values are stored as a JSON list: a value inside one counts. */
    static const char multi1[] =
        "id: w\nversion: 1\ntitle: T\nquestions:\n"
        "  - {id: t, type: multiple, label: T, other: true, choices: [{value: a, label: A}, "
        "{value: b, label: B}]}\n";
    s = test_version(multi1);
    assert_int_equal(survey_check_against_store(s, st, &e), 0);
    snprintf(sql, sizeof sql,
             "INSERT INTO responses(id, invitation_id, survey_id, survey_version, survey_hash, "
             "submitted_at) VALUES (2, 2, 'w', 1, '%s', '2026-01-01T00:00:00Z');"
             "INSERT INTO answers VALUES (2, 't', '[\"a\",\"other\"]');",
             s->hash);
    test_sql(db, sql);
    survey_free(s);
    static const char multi2[] = "id: w\nversion: 1\ntitle: T\nquestions:\n"
                                 "  - {id: t, type: multiple, label: T, other: true, choices: "
                                 "[{value: b, label: B}, {value: c, label: C}]}\n";
    s = test_version(multi2);
    assert_int_equal(survey_check_against_store(s, st, &e), -1);
    assert_non_null(strstr(e.msg, "question \"t\" lost the choice \"a\", which has answers"));
    survey_free(s);
    static const char multi3[] = "id: w\nversion: 1\ntitle: T\nquestions:\n"
                                 "  - {id: t, type: multiple, label: T, choices: [{value: a, "
                                 "label: A}, {value: b, label: B}]}\n";
    s = test_version(multi3);
    assert_int_equal(survey_check_against_store(s, st, &e), -1);
    assert_non_null(strstr(e.msg, "question \"t\" lost the choice \"other\", which has answers"));
    survey_free(s);

    arena_free(a);
    store_close(st);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "%s/v.db", dir);
    unlink(cmd);
    snprintf(cmd, sizeof cmd, "%s/v.db-wal", dir);
    unlink(cmd);
    snprintf(cmd, sizeof cmd, "%s/v.db-shm", dir);
    unlink(cmd);
    rmdir(dir);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mentee_final),
        cmocka_unit_test(test_mentor_final),
        cmocka_unit_test(test_hash_is_sha256_of_file),
        cmocka_unit_test(test_bad_files_report_position),
        cmocka_unit_test(test_bad_dir_fully_covered),
        cmocka_unit_test(test_mem_errors),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_small_fields),
        cmocka_unit_test(test_to_json),
        cmocka_unit_test(test_to_json_out_of_memory),
        cmocka_unit_test(test_set_load_dir),
        cmocka_unit_test(test_set_duplicate_id),
        cmocka_unit_test(test_set_errors),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_load_fault_injection),
        cmocka_unit_test(test_doc_examples),
        cmocka_unit_test(test_many_errors),
        cmocka_unit_test(test_error_cap),
        cmocka_unit_test(test_every_type),
        cmocka_unit_test(test_pages),
        cmocka_unit_test(test_pairs_across_files),
        cmocka_unit_test(test_real_entry_final),
        cmocka_unit_test(test_to_json_full),
        cmocka_unit_test(test_check_against_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
