/*
 * fuzz_expr: the expression language. An input is an expression, optionally followed by a
 * NUL byte and answers, one "qid=value" per line, that the lookup hands to the evaluator:
 *   q=          no answer          q=!        the lookup fails (abandons the evaluation)
 *   q=#4.5      a number (strtod: "#inf" and "#nan" too, which the evaluator must tidy)
 *   q=?t, q=?f  a boolean          q=[a,b]    a list of the values ticked
 *   q=text      a string (made valid UTF-8, as every stored answer is)
 * A question the answers do not name gets a value derived from its id, so expressions
 * without answers still meet every type.
 */
#include "fuzz_common.h"

#include "arena.h"
#include "buf.h"
#include "err.h"
#include "expr.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct fuzz_answers {
    struct arena *a;
    const char *text; /* the lines, NUL-terminated; NULL when the input has none */
    int calls;
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static uint32_t fuzz_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* A list from "a,b,c" (the brackets already stripped): items in the arena. */
static int fuzz_list(struct arena *a, const char *s, size_t n, struct expr_value *out)
{
    size_t count = 1;
    for (size_t i = 0; i < n; i++)
        count += s[i] == ',';
    if (n == 0)
        count = 0;
    const char **items = arena_calloc(a, count ? count : 1, sizeof *items);
    if (!items)
        return -1;
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= n && count; i++) {
        if (i == n || s[i] == ',') {
            char *item = arena_strndup(a, s + start, i - start);
            if (!item)
                return -1;
            fuzz_utf8_sanitize(item, i - start);
            items[k++] = item;
            start = i + 1;
        }
    }
    out->type = EXPR_LIST;
    out->items = items;
    out->nitems = count;
    return 0;
}

static int fuzz_value(struct arena *a, const char *v, size_t n, struct expr_value *out)
{
    if (n == 0)
        return 0;
    if (n == 1 && v[0] == '!')
        return -1;
    if (v[0] == '#') {
        char *num = arena_strndup(a, v + 1, n - 1);
        if (!num)
            return -1;
        out->type = EXPR_NUMBER;
        out->num = strtod(num, NULL);
        return 0;
    }
    if (n == 2 && v[0] == '?') {
        out->type = EXPR_BOOL;
        out->b = v[1] == 't';
        return 0;
    }
    if (v[0] == '[' && v[n - 1] == ']' && n >= 2)
        return fuzz_list(a, v + 1, n - 2, out);
    char *str = arena_strndup(a, v, n);
    if (!str)
        return -1;
    fuzz_utf8_sanitize(str, n);
    out->type = EXPR_STRING;
    out->str = str;
    return 0;
}

/* The value of a question the answers do not name. */
static int fuzz_derived(struct arena *a, const char *qid, struct expr_value *out)
{
    uint32_t h = fuzz_hash(qid);
    switch (h % 6) {
    case 0: break;
    case 1:
        out->type = EXPR_NUMBER;
        out->num = (double)((int)((h >> 8) % 41) - 20) / ((h >> 16) % 2 ? 4.0 : 1.0);
        break;
    case 2:
        out->type = EXPR_STRING;
        out->str = qid;
        break;
    case 3:
        out->type = EXPR_BOOL;
        out->b = (h >> 8) & 1;
        break;
    case 4: return fuzz_list(a, qid, strlen(qid), out);
    default:
        out->type = EXPR_STRING;
        out->str = (h >> 8) % 2 ? "" : "5";
        break;
    }
    return 0;
}

static int fuzz_lookup(void *ctx, const char *qid, struct expr_value *out)
{
    struct fuzz_answers *t = ctx;
    t->calls++;
    memset(out, 0, sizeof *out);
    out->type = EXPR_NULL;
    FUZZ_CHECK(qid && qid[0], "the evaluator asked for an empty id");
    size_t qlen = strlen(qid);
    for (const char *line = t->text; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        if (n > qlen && line[qlen] == '=' && memcmp(line, qid, qlen) == 0)
            return fuzz_value(t->a, line + qlen + 1, n - qlen - 1, out);
        line = end ? end + 1 : line + n;
    }
    return fuzz_derived(t->a, qid, out);
}

static void fuzz_check_value(const struct expr_value *v, int utf8)
{
    switch (v->type) {
    case EXPR_NULL: break;
    case EXPR_NUMBER: FUZZ_CHECK(isfinite(v->num), "a number result is %g", v->num); break;
    case EXPR_STRING:
        FUZZ_CHECK(v->str != NULL, "a string result without a string");
        FUZZ_CHECK(!utf8 || fuzz_utf8_valid(v->str, strlen(v->str)),
                   "a string result is not UTF-8");
        break;
    case EXPR_BOOL: FUZZ_CHECK(v->b == 0 || v->b == 1, "a boolean result is %d", v->b); break;
    case EXPR_LIST:
        FUZZ_CHECK(v->items || v->nitems == 0, "a list result of %zu without items", v->nitems);
        for (size_t i = 0; i < v->nitems; i++)
            FUZZ_CHECK(v->items[i] != NULL, "list item %zu is NULL", i);
        break;
    default: FUZZ_CHECK(0, "a result of type %d", (int)v->type);
    }
}

static void fuzz_expr_run(struct arena *a, const char *src, const char *answers, int faulty)
{
    struct expr *x = NULL;
    struct err e = {0};
    if (expr_parse(a, src, &x, &e) < 0) {
        FUZZ_CHECK(e.msg[0] != '\0', "a parse error without a message");
        FUZZ_CHECK(faulty || strcmp(e.msg, "out of memory") != 0,
                   "out of memory without an injected fault");
        FUZZ_CHECK(e.col >= 0 && (size_t)e.col <= strlen(src) + 1, "column %d of %zu bytes", e.col,
                   strlen(src));
        return;
    }
    FUZZ_CHECK(x != NULL, "a parse without a tree");

    const char *few[2], *many[EXPR_MAX_LEN];
    size_t nfew = expr_refs(x, few, 2), nmany = expr_refs(x, many, EXPR_MAX_LEN);
    FUZZ_CHECK(nfew == nmany, "expr_refs counts %zu and %zu", nfew, nmany);
    for (size_t i = 0; i < nmany && i < EXPR_MAX_LEN; i++)
        FUZZ_CHECK(many[i] && (i >= 2 || strcmp(many[i], few[i]) == 0), "ref %zu", i);

    int utf8 = fuzz_utf8_valid(src, strlen(src));
    const char *first = NULL;
    for (int round = 0; round < 2; round++) {
        struct fuzz_answers t = {.a = a, .text = answers};
        struct expr_value v;
        if (expr_eval(x, a, fuzz_lookup, &t, &v) < 0)
            return;
        fuzz_check_value(&v, utf8);
        (void)expr_truthy(&v);
        struct buf b;
        buf_init(&b, a);
        expr_format_value(&v, &b);
        if (buf_failed(&b))
            return;
        const char *text = b.data ? b.data : "";
        /* Very large and very small numbers are written with an exponent, as in JavaScript,
         * which number() does not read; every other form must read back. */
        if (v.type == EXPR_NUMBER && !strchr(text, 'e')) {
            double back;
            FUZZ_CHECK(expr_parse_number(text, &back) == 0, "string(%g) = \"%s\" is no number",
                       v.num, text);
        }
        if (round == 0)
            first = text;
        else
            FUZZ_CHECK(strcmp(first, text) == 0, "two evaluations differ: \"%s\" / \"%s\"", first,
                       text);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long fault = fuzz_fault_prefix(&data, &size);
    const uint8_t *rest;
    size_t restlen;
    size_t srclen = fuzz_split(data, size, &rest, &restlen);
    char *src = fuzz_strndup(data, srclen);
    char *answers = rest ? fuzz_strndup(rest, restlen) : NULL;
    struct arena *a = arena_new();
    if (src && a && (!rest || answers)) {
        double d;
        (void)expr_parse_number(src, &d);
        arena_fail_after(fault);
        fuzz_expr_run(a, src, answers, fault > 0);
        arena_fail_after(0);
    }
    arena_free(a);
    free(answers);
    free(src);
    return 0;
}
