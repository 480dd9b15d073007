/*
 * Tests of i18n: lookup with fallback to Russian, the merged catalogues, and every
 * rejected catalogue with its exact message and position.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "arena.h"
#include "err.h"
#include "i18n.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static struct i18n *load_good(void)
{
    struct i18n *c = NULL;
    struct err e = {0};
    if (i18n_load_dir("tests/data/i18n/good", &c, &e) != 0)
        fail_msg("%s: %s", e.file, e.msg);
    return c;
}

static void expect_error(const char *dir, const char *want)
{
    struct i18n *c = (struct i18n *)1;
    struct err e = {0};
    char line[1024];
    assert_int_equal(i18n_load_dir(dir, &c, &e), -1);
    assert_null(c);
    err_format(&e, line, sizeof line);
    assert_string_equal(line, want);
}

static const char *member(json_t *cat, const char *a, const char *b)
{
    json_t *v = json_object_get(cat, a);
    if (b)
        v = json_object_get(v, b);
    return json_string_value(v);
}

static void test_text(void **state)
{
    (void)state;
    struct i18n *c = load_good();
    assert_string_equal(i18n_text(c, "ru", "error.required"), "Ответьте на этот вопрос");
    assert_string_equal(i18n_text(c, "en", "error.required"), "Please answer this question");
    assert_string_equal(i18n_text(c, "ru", "title"), "Анкета наставника");
    assert_string_equal(i18n_text(c, "en", "title"), "Mentor survey");
    assert_string_equal(i18n_text(c, "tt", "nav.next"), "Алга");
    i18n_free(c);
}

static void test_fallback(void **state)
{
    (void)state;
    struct i18n *c = load_good();
    /* en has no error.too_long and no nav at all: Russian fills both. */
    assert_string_equal(i18n_text(c, "en", "error.too_long"), "Слишком длинный ответ");
    assert_string_equal(i18n_text(c, "en", "nav.back"), "Назад");
    assert_string_equal(i18n_text(c, "tt", "nav.back"), "Назад");
    assert_string_equal(i18n_text(c, "tt", "title"), "Анкета наставника");
    /* An unknown language, or none, is Russian. */
    assert_string_equal(i18n_text(c, "de", "error.required"), "Ответьте на этот вопрос");
    assert_string_equal(i18n_text(c, NULL, "error.required"), "Ответьте на этот вопрос");
    i18n_free(c);
}

static void test_missing_key(void **state)
{
    (void)state;
    struct i18n *c = load_good();
    static const char *const keys[] = {
        "error.nothing", "nothing", "error",           "title.more", "",
        "error.",        ".title",  "error..required",
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        assert_ptr_equal(i18n_text(c, "en", keys[i]), keys[i]);
        assert_ptr_equal(i18n_text(c, "ru", keys[i]), keys[i]);
    }
    i18n_free(c);
}

static void test_catalogue_merge(void **state)
{
    (void)state;
    struct i18n *c = load_good();
    json_t *en = i18n_catalogue(c, "en");
    json_t *ru = i18n_catalogue(c, "ru");
    assert_non_null(en);
    assert_non_null(ru);
    assert_ptr_not_equal(en, ru);
    assert_string_equal(member(en, "title", NULL), "Mentor survey");
    assert_string_equal(member(en, "error", "required"), "Please answer this question");
    assert_string_equal(member(en, "error", "too_long"), "Слишком длинный ответ");
    assert_string_equal(member(en, "nav", "next"), "Далее");
    assert_int_equal(json_object_size(en), 3);
    assert_int_equal(json_object_size(json_object_get(en, "error")), 2);
    /* Merging left Russian as it was. */
    assert_string_equal(member(ru, "title", NULL), "Анкета наставника");
    assert_string_equal(member(ru, "error", "required"), "Ответьте на этот вопрос");
    json_t *tt = i18n_catalogue(c, "tt");
    assert_string_equal(member(tt, "nav", "next"), "Алга");
    assert_string_equal(member(tt, "nav", "back"), "Назад");
    assert_string_equal(member(tt, "error", "required"), "Ответьте на этот вопрос");
    assert_ptr_equal(i18n_catalogue(c, "de"), ru);
    assert_ptr_equal(i18n_catalogue(c, NULL), ru);
    i18n_free(c);
}

static void test_has(void **state)
{
    (void)state;
    struct i18n *c = load_good();
    assert_int_equal(i18n_has(c, "ru"), 1);
    assert_int_equal(i18n_has(c, "en"), 1);
    assert_int_equal(i18n_has(c, "tt"), 1);
    assert_int_equal(i18n_has(c, "de"), 0);
    /* notes.json is not named as a language, so its contents (not JSON) were never read. */
    assert_int_equal(i18n_has(c, "notes"), 0);
    assert_int_equal(i18n_has(c, NULL), 0);
    i18n_free(c);
}

static void test_check(void **state)
{
    (void)state;
    struct err e = {0};
    struct i18n *c = load_good();
    assert_int_equal(i18n_check(c, &e), 0);
    i18n_free(c);
    assert_int_equal(i18n_load_dir("tests/data/i18n/typo", &c, &e), 0);
    assert_int_equal(i18n_check(c, &e), -1);
    assert_string_equal(e.file, "tests/data/i18n/typo/en.json");
    assert_string_equal(e.msg, "\"error.requried\" is not in ru.json: a misspelt key, or a message "
                               "Russian lacks");
    /* The misspelt key is loaded all the same; the right one falls back to Russian. */
    assert_string_equal(i18n_text(c, "en", "error.required"), "Ответьте на этот вопрос");
    i18n_free(c);
}

static void test_malformed(void **state)
{
    (void)state;
    expect_error("tests/data/i18n/bad_json",
                 "tests/data/i18n/bad_json/ru.json:4:37: '}' expected near '\"too_long\"'");
    expect_error("tests/data/i18n/bad_en",
                 "tests/data/i18n/bad_en/en.json:3:1: string or '}' expected near '}'");
    expect_error("tests/data/i18n/duplicate",
                 "tests/data/i18n/duplicate/ru.json:3:9: duplicate object key near '\"title\"'");
    expect_error("tests/data/i18n/not_object", "tests/data/i18n/not_object/ru.json: a catalogue "
                                               "is a JSON object of messages, not an array");
}

static void test_bad_leaves(void **state)
{
    (void)state;
    expect_error("tests/data/i18n/non_string", "tests/data/i18n/non_string/ru.json: "
                                               "\"error.limit\" is a number: a message must be "
                                               "a string");
    expect_error("tests/data/i18n/dotted_key",
                 "tests/data/i18n/dotted_key/ru.json: key \"nav.error.required\" cannot be "
                 "looked up: a key is non-empty and has no \".\" (nest objects instead)");
    expect_error("tests/data/i18n/shape", "tests/data/i18n/shape/en.json: \"error\" is a string "
                                          "here but an object in ru.json");
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void remove_file(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(unlink(path), 0);
}

static void test_directory_errors(void **state)
{
    (void)state;
    expect_error("tests/data/i18n/no-such-dir", "tests/data/i18n/no-such-dir: cannot open the "
                                                "catalogue directory: No such file or directory");
    char dir[] = "/tmp/anketa-i18n-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char want[512];
    snprintf(want, sizeof want, "%s: ru.json is missing: the Russian catalogue is required", dir);
    expect_error(dir, want);
    write_file(dir, "en.json", "{\"title\": \"Survey\"}");
    write_file(dir, "RU.json", "{\"title\": \"Анкета\"}");
    expect_error(dir, want);
    write_file(dir, "ru.json", "{\"title\": \"Анкета\", \"list\": [\"a\"]}");
    snprintf(want, sizeof want, "%s/ru.json: \"list\" is an array: a message must be a string",
             dir);
    expect_error(dir, want);
    write_file(dir, "ru.json", "{\"title\": \"Анкета\", \"t\": {\"x\": \"икс\"}}");
    struct i18n *c = NULL;
    struct err e = {0};
    assert_int_equal(i18n_load_dir(dir, &c, &e), 0);
    assert_string_equal(i18n_text(c, "en", "title"), "Survey");
    assert_string_equal(i18n_text(c, "en", "t.x"), "икс");
    assert_int_equal(i18n_has(c, "RU"), 0);
    i18n_free(c);
    remove_file(dir, "en.json");
    remove_file(dir, "RU.json");
    remove_file(dir, "ru.json");
    assert_int_equal(rmdir(dir), 0);
}

static void test_out_of_memory(void **state)
{
    (void)state;
    int failures = 0;
    for (long n = 1;; n++) {
        struct i18n *c = (struct i18n *)1;
        struct err e = {0};
        arena_fail_after(n);
        int rc = i18n_load_dir("tests/data/i18n/good", &c, &e);
        arena_fail_after(0);
        if (rc == 0) {
            assert_string_equal(i18n_text(c, "en", "nav.next"), "Далее");
            i18n_free(c);
            break;
        }
        assert_int_equal(rc, -1);
        assert_null(c);
        assert_string_equal(e.msg, "out of memory");
        failures++;
    }
    assert_true(failures > 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_fallback),
        cmocka_unit_test(test_missing_key),
        cmocka_unit_test(test_catalogue_merge),
        cmocka_unit_test(test_has),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_bad_leaves),
        cmocka_unit_test(test_directory_errors),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
