/*
 * Tests of form: urlencoded decoding, its strict errors and its limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arena.h"
#include "buf.h"
#include "err.h"
#include "form.h"

static int setup(void **state)
{
    struct arena *a = arena_new();
    if (!a)
        return -1;
    *state = a;
    return 0;
}

static int teardown(void **state)
{
    arena_free(*state);
    return 0;
}

static struct form parse_ok(struct arena *a, const char *body)
{
    struct form f;
    struct err e = {0};
    int rc = form_parse(a, body, strlen(body), &f, &e);
    if (rc != 0)
        fail_msg("form_parse(\"%s\") failed: %s", body, e.msg);
    return f;
}

static void assert_parse_fails(struct arena *a, const char *body, size_t len, const char *msg)
{
    struct form f = {(struct form_field *)1, 99};
    struct err e = {0};
    assert_int_equal(form_parse(a, body, len, &f, &e), -1);
    assert_string_equal(e.msg, msg);
    assert_string_equal(e.file, "");
    assert_int_equal(e.line, 0);
    assert_int_equal(e.col, 0);
    assert_null(f.fields);
    assert_int_equal(f.n, 0);
}

static void assert_field(const struct form *f, size_t i, const char *name, const char *value,
                         size_t value_len)
{
    assert_true(i < f->n);
    assert_string_equal(f->fields[i].name, name);
    assert_int_equal(f->fields[i].value_len, value_len);
    assert_memory_equal(f->fields[i].value, value, value_len);
    assert_int_equal(f->fields[i].value[value_len], '\0');
}

static void test_plain_pairs(void **state)
{
    struct form f = parse_ok(*state, "a=1&bb=two&c_d=x.y-z");
    assert_int_equal(f.n, 3);
    assert_field(&f, 0, "a", "1", 1);
    assert_field(&f, 1, "bb", "two", 3);
    assert_field(&f, 2, "c_d", "x.y-z", 5);
    assert_string_equal(form_get(&f, "bb"), "two");
    assert_int_equal(form_count(&f, "bb"), 1);
    assert_null(form_get(&f, "b"));
    assert_null(form_get(&f, "bbb"));
    assert_int_equal(form_count(&f, "missing"), 0);
}

static void test_plus_and_space(void **state)
{
    struct form f = parse_ok(*state, "msg=hello+world%20again&sp+ace=%2B+");
    assert_int_equal(f.n, 2);
    assert_field(&f, 0, "msg", "hello world again", 17);
    /* '+' in a name is a space too, and an encoded '+' stays a '+'. */
    assert_field(&f, 1, "sp ace", "+ ", 2);
}

static void test_utf8_escapes(void **state)
{
    struct form f = parse_ok(*state, "e=%C3%A9&ru=%D0%9F%D1%80%D0%B8%D0%B2%D0%B5%D1%82"
                                     "&%D0%B8%D0%BC%D1%8F=%F0%9F%98%80");
    assert_int_equal(f.n, 3);
    assert_field(&f, 0, "e", "\xc3\xa9", 2);
    assert_field(&f, 1, "ru", "Привет", 12);
    assert_field(&f, 2, "имя", "\xf0\x9f\x98\x80", 4);
    assert_string_equal(form_get(&f, "имя"), "😀");
}

static void test_hex_case(void **state)
{
    struct form f = parse_ok(*state, "a=%c3%a9&b=%C3%a9&c=%2f%2F%aB");
    assert_field(&f, 0, "a", "é", 2);
    assert_field(&f, 1, "b", "é", 2);
    assert_field(&f, 2, "c", "//\xab", 3);
}

static void test_bad_escapes(void **state)
{
    static const struct {
        const char *body;
        const char *msg;
    } cases[] = {
        {"a=%", "bad percent escape at byte 2"},
        {"a=%4", "bad percent escape at byte 2"},
        {"a=%G1", "bad percent escape at byte 2"},
        {"a=%1G", "bad percent escape at byte 2"},
        {"a=%%41", "bad percent escape at byte 2"},
        {"a=1&b=%4&c=2", "bad percent escape at byte 6"},
        {"a=1&b=%4=", "bad percent escape at byte 6"},
        {"%zz=1", "bad percent escape at byte 0"},
        {"ok=%41&x%", "bad percent escape at byte 8"},
        {"a=%20%2", "bad percent escape at byte 5"},
        {"=%G1", "bad percent escape at byte 1"},
        {"a=% 41", "bad percent escape at byte 2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_parse_fails(*state, cases[i].body, strlen(cases[i].body), cases[i].msg);
}

static void test_encoded_nul(void **state)
{
    assert_parse_fails(*state, "a%00b=1", 7, "encoded NUL at byte 1");
    assert_parse_fails(*state, "ok=1&a=x%00", 11, "encoded NUL at byte 8");
    assert_parse_fails(*state, "a=%00", 5, "encoded NUL at byte 2");
    /* len is authoritative, so a raw NUL byte in the body is seen, and refused as well. */
    assert_parse_fails(*state, "a=x\0y", 5, "NUL byte at byte 3");
}

static void test_repeated_names_in_order(void **state)
{
    struct form f = parse_ok(*state, "k=1&j=0&k=2&k=3");
    assert_int_equal(f.n, 4);
    assert_field(&f, 0, "k", "1", 1);
    assert_field(&f, 1, "j", "0", 1);
    assert_field(&f, 2, "k", "2", 1);
    assert_field(&f, 3, "k", "3", 1);
    assert_string_equal(form_get(&f, "k"), "1");
    assert_int_equal(form_count(&f, "k"), 3);
    assert_int_equal(form_count(&f, "j"), 1);
}

static void test_empty_segments_and_names(void **state)
{
    struct form f = parse_ok(*state, "a=1&&b=2");
    assert_int_equal(f.n, 2);
    assert_field(&f, 0, "a", "1", 1);
    assert_field(&f, 1, "b", "2", 1);

    f = parse_ok(*state, "&&a=1&");
    assert_int_equal(f.n, 1);
    assert_field(&f, 0, "a", "1", 1);

    f = parse_ok(*state, "&&&");
    assert_int_equal(f.n, 0);
    assert_null(f.fields);

    f = parse_ok(*state, "=x&a=1&=&=y=z");
    assert_int_equal(f.n, 1);
    assert_field(&f, 0, "a", "1", 1);
}

static void test_missing_equals_and_empty_values(void **state)
{
    struct form f = parse_ok(*state, "flag&a=&b=c=d&+");
    assert_int_equal(f.n, 4);
    assert_field(&f, 0, "flag", "", 0);
    assert_field(&f, 1, "a", "", 0);
    assert_field(&f, 2, "b", "c=d", 3);
    assert_field(&f, 3, " ", "", 0);
    assert_string_equal(form_get(&f, "flag"), "");
}

/* A body of n fields "f=1" joined by '&', in a new heap string. */
static char *many_fields(size_t n)
{
    char *s = malloc(n * 4 + 1);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * 4, "f=1&", 4);
    s[n ? n * 4 - 1 : 0] = '\0';
    return s;
}

static void test_field_limit(void **state)
{
    char *body = many_fields(FORM_MAX_FIELDS);
    struct form f = parse_ok(*state, body);
    assert_int_equal(f.n, FORM_MAX_FIELDS);
    assert_int_equal(form_count(&f, "f"), FORM_MAX_FIELDS);
    assert_field(&f, FORM_MAX_FIELDS - 1, "f", "1", 1);
    free(body);

    /* Skipped segments are not fields. */
    struct buf b;
    buf_init(&b, *state);
    buf_puts(&b, "=x&&");
    body = many_fields(FORM_MAX_FIELDS);
    buf_puts(&b, body);
    free(body);
    buf_puts(&b, "&&=y");
    assert_false(buf_failed(&b));
    f = parse_ok(*state, b.data);
    assert_int_equal(f.n, FORM_MAX_FIELDS);

    body = many_fields(FORM_MAX_FIELDS + 1);
    /* The 1001st field starts after 1000 fields of 4 bytes ("f=1&"). */
    assert_parse_fails(*state, body, strlen(body), "more than 1000 fields at byte 4000");
    free(body);
}

static void test_long_name(void **state)
{
    char body[1024];
    memset(body, 'n', 256);
    memcpy(body + 256, "=v", 3);
    struct form f = parse_ok(*state, body);
    assert_int_equal(f.n, 1);
    assert_int_equal(strlen(f.fields[0].name), 256);

    memset(body, 'n', 257);
    memcpy(body + 257, "=v", 3);
    assert_parse_fails(*state, body, strlen(body), "field name longer than 256 bytes at byte 0");

    /* The limit is on the decoded name: 256 escapes are 768 bytes encoded, 256 decoded. */
    for (size_t i = 0; i < 256; i++)
        memcpy(body + i * 3, "%41", 3);
    memcpy(body + 768, "=v", 3);
    f = parse_ok(*state, body);
    assert_int_equal(f.n, 1);
    assert_int_equal(strlen(f.fields[0].name), 256);
    assert_int_equal(f.fields[0].name[255], 'A');

    snprintf(body, sizeof body, "a=1&");
    memset(body + 4, 'n', 300);
    body[304] = '\0';
    assert_parse_fails(*state, body, strlen(body), "field name longer than 256 bytes at byte 4");
}

static void test_not_nul_terminated(void **state)
{
    /* An exact-size heap copy, so reading past len is caught by the address sanitizer. */
    static const char text[] = "a=1&b=%C3%A9&c=3";
    size_t len = 12; /* "a=1&b=%C3%A9" */
    char *body = malloc(len);
    assert_non_null(body);
    memcpy(body, text, len);
    struct form f;
    struct err e = {0};
    assert_int_equal(form_parse(*state, body, len, &f, &e), 0);
    assert_int_equal(f.n, 2);
    assert_field(&f, 0, "a", "1", 1);
    assert_field(&f, 1, "b", "é", 2);

    /* A slice ending inside an escape is a truncated escape. */
    assert_int_equal(form_parse(*state, body, 11, &f, &e), -1);
    assert_string_equal(e.msg, "bad percent escape at byte 9");

    /* A slice of a longer string stops at len, "a=1&b" then. */
    assert_int_equal(form_parse(*state, text, 5, &f, &e), 0);
    assert_int_equal(f.n, 2);
    assert_field(&f, 1, "b", "", 0);
    free(body);
}

static void test_empty_body(void **state)
{
    struct form f = {(struct form_field *)1, 5};
    struct err e = {0};
    assert_int_equal(form_parse(*state, "", 0, &f, &e), 0);
    assert_int_equal(f.n, 0);
    assert_null(f.fields);
    assert_null(form_get(&f, "a"));
    assert_int_equal(form_count(&f, "a"), 0);

    f.n = 5;
    assert_int_equal(form_parse(*state, NULL, 0, &f, &e), 0);
    assert_int_equal(f.n, 0);

    /* Zero length wins over the bytes that follow. */
    assert_int_equal(form_parse(*state, "a=1", 0, &f, &e), 0);
    assert_int_equal(f.n, 0);
}

static void test_allocation_failures(void **state)
{
    (void)state;
    static const char body[] = "a=1&=skip&b=%C3%A9&c";
    int failures = 0;
    for (long n = 1;; n++) {
        struct arena *a = arena_new();
        assert_non_null(a);
        struct form f;
        struct err e = {0};
        arena_fail_after(n);
        int rc = form_parse(a, body, strlen(body), &f, &e);
        arena_fail_after(0);
        if (rc == 0) {
            assert_int_equal(f.n, 3);
            assert_field(&f, 0, "a", "1", 1);
            assert_field(&f, 1, "b", "é", 2);
            assert_field(&f, 2, "c", "", 0);
            arena_free(a);
            break;
        }
        assert_int_equal(rc, FORM_NO_MEMORY);
        assert_string_equal(e.msg, "out of memory");
        assert_null(f.fields);
        assert_int_equal(f.n, 0);
        arena_free(a);
        failures++;
        assert_true(failures < 100);
    }
    /* The field array and one block per stored field. */
    assert_int_equal(failures, 4);
}

/* What a page shows back of a refused value: valid UTF-8 kept, each bad byte as U+FFFD. */
static void test_shown_replaces_what_is_not_utf8(void **state)
{
    struct arena *a = *state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"", ""},
        {"ответ <b>", "ответ <b>"},
        {"\xFF\xFE", "\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"a\xC0\xAF"
         "b",
         "a\xEF\xBF\xBD\xEF\xBF\xBD"
         "b"},                                                    /* overlong '/' */
        {"\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* a surrogate */
        {"\xF4\x90\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xD0", "\xEF\xBF\xBD"},                   /* truncated at the end */
        {"\xD0\xD0\x91", "\xEF\xBF\xBD\xD0\x91"},   /* then a whole one */
        {"\xF0\x9F\x98\x80!", "\xF0\x9F\x98\x80!"}, /* four bytes, valid */
        {"a\x01"
         "b",
         "a\x01"
         "b"}, /* controls are UTF-8 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *got = form_shown(a, cases[i].in);
        assert_non_null(got);
        assert_string_equal(got, cases[i].out);
    }
    assert_int_equal(form_utf8_len("\xE2\x82\xAC", 3), 3);
    assert_int_equal(form_utf8_len("\xE2\x82\xAC", 2), 0);
    assert_int_equal(form_utf8_len("\x80", 1), 0);
    assert_int_equal(form_utf8_len("\x7F", 1), 1);
    arena_fail_after(1);
    assert_null(form_shown(a, "x"));
    arena_fail_after(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain_pairs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plus_and_space, setup, teardown),
        cmocka_unit_test_setup_teardown(test_utf8_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hex_case, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encoded_nul, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repeated_names_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_segments_and_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_equals_and_empty_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_field_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_nul_terminated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_body, setup, teardown),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test_setup_teardown(test_shown_replaces_what_is_not_utf8, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
