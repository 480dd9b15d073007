/*
 * Tests of expr: every case of tests/data/expr/vectors.json (shared with the JavaScript
 * mirror), the length and depth limits, the public helpers, lookups that fail or return
 * odd values, and allocation failures while parsing and evaluating.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "arena.h"
#include "buf.h"
#include "err.h"
#include "expr.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VECTORS "tests/data/expr/vectors.json"

/* Answers from a JSON object: a missing id or null is unanswered. */
struct test_answers {
    json_t *obj;
    struct arena *a;
    int calls;
};

static int test_lookup(void *ctx, const char *qid, struct expr_value *out)
{
    struct test_answers *t = ctx;
    t->calls++;
    json_t *v = t->obj ? json_object_get(t->obj, qid) : NULL;
    memset(out, 0, sizeof *out);
    out->type = EXPR_NULL;
    if (json_is_number(v)) {
        out->type = EXPR_NUMBER;
        out->num = json_number_value(v);
    } else if (json_is_string(v)) {
        out->type = EXPR_STRING;
        out->str = json_string_value(v);
    } else if (json_is_boolean(v)) {
        out->type = EXPR_BOOL;
        out->b = json_is_true(v);
    } else if (json_is_array(v)) {
        size_t n = json_array_size(v);
        const char **items = arena_calloc(t->a, n ? n : 1, sizeof *items);
        if (!items)
            return -1;
        for (size_t i = 0; i < n; i++)
            items[i] = json_string_value(json_array_get(v, i));
        out->type = EXPR_LIST;
        out->items = items;
        out->nitems = n;
    }
    return 0;
}

/* Whether v is the value expect describes; a description of both goes to why otherwise. */
static int test_value_matches(const struct expr_value *v, json_t *expect, char *why, size_t n)
{
    int ok = 0;
    switch (v->type) {
    case EXPR_NULL:
        ok = json_is_null(expect);
        snprintf(why, n, "got null");
        break;
    case EXPR_NUMBER:
        ok = json_is_number(expect) && json_number_value(expect) == v->num;
        snprintf(why, n, "got number %.17g", v->num);
        break;
    case EXPR_STRING:
        ok = json_is_string(expect) && strcmp(json_string_value(expect), v->str) == 0;
        snprintf(why, n, "got string \"%s\"", v->str);
        break;
    case EXPR_BOOL:
        ok = json_is_boolean(expect) && json_is_true(expect) == (v->b != 0);
        snprintf(why, n, "got %s", v->b ? "true" : "false");
        break;
    case EXPR_LIST:
        ok = json_is_array(expect) && json_array_size(expect) == v->nitems;
        for (size_t i = 0; ok && i < v->nitems; i++)
            ok = strcmp(json_string_value(json_array_get(expect, i)), v->items[i]) == 0;
        snprintf(why, n, "got a list of %zu", v->nitems);
        break;
    }
    return ok;
}

static int test_refs_match(const struct expr *x, json_t *refs)
{
    const char *ids[16];
    size_t n = expr_refs(x, ids, 16);
    if (n != json_array_size(refs) || n > 16)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(ids[i], json_string_value(json_array_get(refs, i))) != 0)
            return 0;
    return 1;
}

/* Runs one case; returns 0 when it passes, printing what went wrong otherwise. */
static int test_run_case(size_t index, json_t *c)
{
    const char *src = json_string_value(json_object_get(c, "expr"));
    json_t *expect = json_object_get(c, "expect");
    assert_non_null(src);
    assert_non_null(expect);
    struct arena *a = arena_new();
    assert_non_null(a);
    struct expr *x = NULL;
    struct err e = {0};
    int rc = expr_parse(a, src, &x, &e);
    int failed = 0;
    char why[600] = "";
    if (json_is_object(expect)) {
        const char *msg = json_string_value(json_object_get(expect, "error"));
        int col = (int)json_integer_value(json_object_get(expect, "col"));
        assert_non_null(msg);
        if (rc == 0)
            snprintf(why, sizeof why, "parsed, expected error \"%s\"", msg);
        else if (strcmp(e.msg, msg) != 0 || e.col != col)
            snprintf(why, sizeof why, "error \"%s\" at %d, expected \"%s\" at %d", e.msg, e.col,
                     msg, col);
        failed = why[0] != '\0';
    } else if (rc != 0) {
        snprintf(why, sizeof why, "error \"%s\" at column %d", e.msg, e.col);
        failed = 1;
    } else {
        struct test_answers t = {json_object_get(c, "answers"), a, 0};
        struct expr_value v;
        assert_int_equal(expr_eval(x, a, test_lookup, &t, &v), 0);
        failed = !test_value_matches(&v, expect, why, sizeof why);
        json_t *refs = json_object_get(c, "refs");
        if (!failed && refs && !test_refs_match(x, refs)) {
            snprintf(why, sizeof why, "refs differ");
            failed = 1;
        }
    }
    if (failed)
        print_error("case %zu: %s: %s\n", index, src, why);
    arena_free(a);
    return failed;
}

static void test_vectors(void **state)
{
    (void)state;
    json_error_t je;
    json_t *root = json_load_file(VECTORS, 0, &je);
    if (!root)
        fail_msg("%s:%d: %s", VECTORS, je.line, je.text);
    json_t *cases = json_object_get(root, "cases");
    assert_true(json_array_size(cases) >= 180);
    size_t failures = 0, errors = 0, docs = 0;
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i);
        failures += (size_t)test_run_case(i, c);
        errors += json_is_object(json_object_get(c, "expect"));
        docs += json_is_true(json_object_get(c, "doc"));
    }
    json_decref(root);
    assert_int_equal(failures, 0);
    assert_true(errors >= 50);
    assert_true(docs >= 20);
}

static int test_parse_str(struct arena *a, const char *src, struct expr **x, struct err *e)
{
    memset(e, 0, sizeof *e);
    return expr_parse(a, src, x, e);
}

static void test_eval_ok(struct arena *a, const struct expr *x, struct expr_value *v)
{
    struct test_answers t = {NULL, a, 0};
    assert_int_equal(expr_eval(x, a, test_lookup, &t, v), 0);
}

static void test_length_limit(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    assert_non_null(a);
    char *src = malloc(EXPR_MAX_LEN + 2);
    assert_non_null(src);
    struct expr *x;
    struct err e;
    struct expr_value v;

    /* "1+1+...+1 " of exactly the limit: 2048 terms, evaluated without deep recursion. */
    src[0] = '1';
    for (size_t i = 1; i + 1 < EXPR_MAX_LEN; i += 2)
        memcpy(src + i, "+1", 2);
    src[EXPR_MAX_LEN - 1] = ' ';
    src[EXPR_MAX_LEN] = '\0';
    assert_int_equal(test_parse_str(a, src, &x, &e), 0);
    test_eval_ok(a, x, &v);
    assert_int_equal(v.type, EXPR_NUMBER);
    assert_true(v.num == 2048);

    src[EXPR_MAX_LEN] = ' ';
    src[EXPR_MAX_LEN + 1] = '\0';
    assert_int_equal(test_parse_str(a, src, &x, &e), -1);
    assert_string_equal(e.msg, "expression too long (more than 4096 bytes)");
    assert_int_equal(e.col, 1);
    free(src);

    /* The limit is in bytes: 2047 Cyrillic letters and two quotes fill it exactly. */
    char *cyr = malloc(EXPR_MAX_LEN + 16);
    assert_non_null(cyr);
    strcpy(cyr, "length('");
    size_t n = strlen(cyr);
    size_t letters = (EXPR_MAX_LEN - 10) / 2;
    for (size_t i = 0; i < letters; i++) {
        memcpy(cyr + n, "я", 2);
        n += 2;
    }
    memcpy(cyr + n, "')", 3);
    assert_int_equal(strlen(cyr), EXPR_MAX_LEN);
    assert_int_equal(test_parse_str(a, cyr, &x, &e), 0);
    test_eval_ok(a, x, &v);
    assert_int_equal(v.type, EXPR_NUMBER);
    assert_true(v.num == (double)letters);
    memcpy(cyr + n, "я')", 5);
    assert_int_equal(test_parse_str(a, cyr, &x, &e), -1);
    assert_string_equal(e.msg, "expression too long (more than 4096 bytes)");
    free(cyr);
    arena_free(a);
}

static void test_error_record(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    assert_non_null(a);
    struct expr *x = (struct expr *)&x;
    struct err e;
    assert_int_equal(test_parse_str(a, "'Ёж' +\n  (1 2", &x, &e), -1);
    assert_null(x);
    assert_string_equal(e.file, "");
    assert_int_equal(e.line, 0);
    assert_int_equal(e.col, 13);
    assert_string_equal(e.msg, "expected \")\" to close \"(\" at column 10");
    char line[600];
    err_format(&e, line, sizeof line);
    assert_string_equal(line, "expected \")\" to close \"(\" at column 10");
    arena_free(a);
}

static void test_refs(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    assert_non_null(a);
    struct expr *x;
    struct err e;
    assert_int_equal(
        test_parse_str(a, "c + b * count(a) + if(b, c, d) + e in [f, count(g)]", &x, &e), 0);
    const char *ids[3] = {NULL, NULL, NULL};
    assert_int_equal(expr_refs(x, ids, 2), 7);
    assert_string_equal(ids[0], "c");
    assert_string_equal(ids[1], "b");
    assert_null(ids[2]);
    assert_int_equal(expr_refs(x, NULL, 0), 7);
    arena_free(a);
}

static void test_truthy(void **state)
{
    (void)state;
    struct expr_value v = {.type = EXPR_BOOL, .b = 1};
    assert_true(expr_truthy(&v));
    v.b = 0;
    assert_false(expr_truthy(&v));
    struct expr_value num = {.type = EXPR_NUMBER, .num = 1};
    assert_false(expr_truthy(&num));
    struct expr_value str = {.type = EXPR_STRING, .str = "true"};
    assert_false(expr_truthy(&str));
    struct expr_value null = {.type = EXPR_NULL};
    assert_false(expr_truthy(&null));
}

static const char *test_format(struct arena *a, const struct expr_value *v)
{
    struct buf b;
    buf_init(&b, a);
    buf_puts(&b, "[");
    expr_format_value(v, &b);
    buf_puts(&b, "]");
    assert_false(buf_failed(&b));
    return b.data;
}

static void test_format_value(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    assert_non_null(a);
    struct expr_value v = {.type = EXPR_NUMBER, .num = 0.1 + 0.2};
    assert_string_equal(test_format(a, &v), "[0.3]");
    v.num = -0.0;
    assert_string_equal(test_format(a, &v), "[0]");
    v.num = -1e-7;
    assert_string_equal(test_format(a, &v), "[-1e-7]");
    v.num = 1.5e300;
    assert_string_equal(test_format(a, &v), "[1.5e+300]");
    v.num = 123456789012345680000.0;
    assert_string_equal(test_format(a, &v), "[123456789012346000000]");
    v.num = -9007199254740992.0;
    assert_string_equal(test_format(a, &v), "[-9007199254740992]");
    v.num = 5e-324;
    assert_string_equal(test_format(a, &v), "[5e-324]");
    v.num = 1.7976931348623157e308;
    assert_string_equal(test_format(a, &v), "[1.79769313486232e+308]");
    struct expr_value b = {.type = EXPR_BOOL, .b = 1};
    assert_string_equal(test_format(a, &b), "[true]");
    struct expr_value s = {.type = EXPR_STRING, .str = "Ёж"};
    assert_string_equal(test_format(a, &s), "[Ёж]");
    struct expr_value null = {.type = EXPR_NULL};
    assert_string_equal(test_format(a, &null), "[]");
    const char *items[] = {"a"};
    struct expr_value list = {.type = EXPR_LIST, .items = items, .nitems = 1};
    assert_string_equal(test_format(a, &list), "[]");
    arena_free(a);
}

static void test_parse_number(void **state)
{
    (void)state;
    double d = -1;
    assert_int_equal(expr_parse_number(" 4,5\n", &d), 0);
    assert_true(d == 4.5);
    assert_int_equal(expr_parse_number("-0", &d), 0);
    assert_true(d == 0 && !signbit(d));
    assert_int_equal(expr_parse_number("12", &d), 0);
    assert_true(d == 12);
    d = 7;
    assert_int_equal(expr_parse_number("1e3", &d), -1);
    assert_int_equal(expr_parse_number("", &d), -1);
    assert_int_equal(expr_parse_number("- 1", &d), -1);
    assert_int_equal(expr_parse_number("1,2,3", &d), -1);
    assert_int_equal(expr_parse_number("\u00a01", &d), -1); /* a no-break space */
    assert_true(d == 7);

    /* Longer than the stack copy, with a decimal comma: the heap path. */
    char digits[120];
    memset(digits, '1', sizeof digits);
    digits[40] = ',';
    digits[sizeof digits - 1] = '\0';
    assert_int_equal(expr_parse_number(digits, &d), 0);
    assert_true(fabs(d - 1.111111111111111e39) < 1e25);

    char huge[400];
    memset(huge, '9', sizeof huge);
    huge[sizeof huge - 1] = '\0';
    assert_int_equal(expr_parse_number(huge, &d), -1);
}

static int test_lookup_fails(void *ctx, const char *qid, struct expr_value *out)
{
    (void)ctx;
    (void)qid;
    (void)out;
    return -1;
}

static void test_lookup_failure(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    assert_non_null(a);
    struct expr *x;
    struct err e;
    assert_int_equal(test_parse_str(a, "1 + count(q)", &x, &e), 0);
    struct expr_value v;
    assert_int_equal(expr_eval(x, a, test_lookup_fails, NULL, &v), -1);
    arena_free(a);
}

/* Answers a lookup may hand over that the evaluator must tidy up. */
static int test_lookup_odd(void *ctx, const char *qid, struct expr_value *out)
{
    (void)ctx;
    if (strcmp(qid, "nan") == 0) {
        out->type = EXPR_NUMBER;
        out->num = NAN;
    } else if (strcmp(qid, "negzero") == 0) {
        out->type = EXPR_NUMBER;
        out->num = -0.0;
    } else if (strcmp(qid, "nullstr") == 0) {
        out->type = EXPR_STRING;
        out->str = NULL;
    } else if (strcmp(qid, "five") == 0) {
        out->type = EXPR_BOOL;
        out->b = 5;
    } else if (strcmp(qid, "nolist") == 0) {
        out->type = EXPR_LIST;
        out->items = NULL;
        out->nitems = 3;
    }
    return 0;
}

static void test_odd_answers(void **state)
{
    (void)state;
    static const struct {
        const char *src;
        int expect;
    } cases[] = {
        {"nan = null", 1},       {"negzero = 0", 1},   {"string(negzero) = '0'", 1},
        {"nullstr = null", 1},   {"five = true", 1},   {"nolist = null", 1},
        {"untouched = null", 1}, {"count(nolist)", 0},
    };
    struct arena *a = arena_new();
    assert_non_null(a);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct expr *x;
        struct err e;
        assert_int_equal(test_parse_str(a, cases[i].src, &x, &e), 0);
        struct expr_value v;
        assert_int_equal(expr_eval(x, a, test_lookup_odd, NULL, &v), 0);
        if (cases[i].expect) {
            assert_int_equal(v.type, EXPR_BOOL);
            assert_true(v.b);
        } else {
            assert_int_equal(v.type, EXPR_NUMBER);
            assert_true(v.num == 0);
        }
    }
    arena_free(a);
}

static void test_parse_out_of_memory(void **state)
{
    (void)state;
    const char *src = "selected(q, 'Привет') and count(r) in [1, 2, length(\"ab\\\"c\")] or "
                      "-(s + t * 2) > round(u / 3, 1) and not empty(v) and w + x + y + z";
    long failures = 0;
    for (long n = 1;; n++) {
        struct arena *a = arena_new();
        assert_non_null(a);
        struct expr *x = (struct expr *)&x;
        struct err e = {0};
        arena_fail_after(n);
        int rc = expr_parse(a, src, &x, &e);
        arena_fail_after(0);
        if (rc == 0) {
            const char *ids[16];
            assert_int_equal(expr_refs(x, ids, 16), 10);
            arena_free(a);
            break;
        }
        assert_null(x);
        assert_string_equal(e.msg, "out of memory");
        assert_int_equal(e.col, 0);
        failures++;
        arena_free(a);
        assert_true(n < 1000);
    }
    assert_true(failures > 20);
}

static void test_eval_out_of_memory(void **state)
{
    (void)state;
    const char *src = "string(a) + ' ' + b + string(1 / 3) + string(c = 1) + string(d)";
    json_error_t je;
    json_t *answers = json_loads("{\"a\": 2.5, \"b\": \"Ёж\", \"c\": 1, \"d\": \"x\"}", 0, &je);
    assert_non_null(answers);
    long failures = 0;
    for (long n = 1;; n++) {
        struct arena *a = arena_new();
        assert_non_null(a);
        struct expr *x;
        struct err e;
        assert_int_equal(test_parse_str(a, src, &x, &e), 0);
        struct test_answers t = {answers, a, 0};
        struct expr_value v;
        arena_fail_after(n);
        int rc = expr_eval(x, a, test_lookup, &t, &v);
        arena_fail_after(0);
        if (rc == 0) {
            assert_int_equal(v.type, EXPR_STRING);
            assert_string_equal(v.str, "2.5 Ёж0.333333333333333truex");
            arena_free(a);
            break;
        }
        assert_int_equal(rc, -1);
        failures++;
        arena_free(a);
        assert_true(n < 100);
    }
    assert_true(failures >= 5);
    json_decref(answers);
}

/* Short-circuits and lazy branches do not even ask for answers they do not need. */
static void test_laziness(void **state)
{
    (void)state;
    static const struct {
        const char *src;
        int calls;
    } cases[] = {
        {"false and a", 0}, {"true or a", 0}, {"if(true, 1, a)", 0}, {"1 in [1, a]", 0},
        {"a + b + c", 1},   {"min(a, b)", 1}, {"a or b or c", 3},    {"if(a, b, c) = null", 2},
    };
    struct arena *a = arena_new();
    assert_non_null(a);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct expr *x;
        struct err e;
        assert_int_equal(test_parse_str(a, cases[i].src, &x, &e), 0);
        struct test_answers t = {NULL, a, 0};
        struct expr_value v;
        assert_int_equal(expr_eval(x, a, test_lookup, &t, &v), 0);
        assert_int_equal(t.calls, cases[i].calls);
    }
    arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_length_limit),
        cmocka_unit_test(test_error_record),
        cmocka_unit_test(test_refs),
        cmocka_unit_test(test_truthy),
        cmocka_unit_test(test_format_value),
        cmocka_unit_test(test_parse_number),
        cmocka_unit_test(test_lookup_failure),
        cmocka_unit_test(test_odd_answers),
        cmocka_unit_test(test_parse_out_of_memory),
        cmocka_unit_test(test_eval_out_of_memory),
        cmocka_unit_test(test_laziness),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
