/*
 * Tests of survey: the shipped questionnaires, every kind of broken file with its exact
 * message and position, directories of surveys, the JSON form, and allocation failures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "arena.h"
#include "err.h"
#include "survey.h"

#include <dirent.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MENTEE "surveys/mentee-final.yaml"
#define MENTOR "surveys/mentor-final.yaml"
#define BAD    "tests/data/surveys/bad/"

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
    assert_int_equal(s->nquestions, 16);

    const struct question *q = &s->questions[0];
    assert_string_equal(q->id, "met_before");
    assert_int_equal(q->type, Q_YESNO);
    assert_true(q->required);
    assert_string_equal(q->label.ru, "Сталкивались ли Вы раньше с программой наставничества?");
    assert_int_equal(q->line, 14);
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
    assert_int_equal(s->nquestions, 13);
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
    {"unknown-key.yaml",
     "7:5: unknown key \"lable\" in question (expected one of: id, type, label, hint, required, "
     "min, max, min_label, max_label, choices, long, max_length)"},
    {"unknown-type.yaml",
     "9:11: question \"q3\": type \"scael\" is not one of yesno, scale, choice, text, number"},
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
                          "scale, choice, text, number");
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
    assert_int_equal(set.n, 2);
    assert_string_equal(set.items[0]->path, MENTEE);
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
            assert_int_equal(s->nquestions, 16);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
