/*
 * expr: the expression language of questionnaires (show_if, required_if, constraint).
 *
 * An expression is parsed once, when its survey is loaded, into an immutable tree that
 * lives in the arena given to expr_parse(); it is evaluated on every submission against
 * the answers of one response, which the evaluator reads through a callback. The
 * language and its rules are described for authors in docs/expressions.md; the browser
 * mirror in web/static/anketa.js follows the same rules, and both run the vectors of
 * tests/data/expr/vectors.json.
 *
 * Evaluation never fails on data: a type mismatch, a missing answer or a division by
 * zero gives null (or false for a comparison), so a condition can always be decided.
 */
#ifndef ANKETA_EXPR_H
#define ANKETA_EXPR_H

#include <stddef.h>

struct arena;
struct buf;
struct err;

/* Longest expression in bytes, and deepest nesting of "(", "[", calls, "-" and "not". */
#define EXPR_MAX_LEN   4096
#define EXPR_MAX_DEPTH 64

struct expr;

enum expr_type {
    EXPR_NULL, /* no answer */
    EXPR_NUMBER,
    EXPR_STRING,
    EXPR_BOOL,
    EXPR_LIST, /* the values chosen in a multiple-choice question */
};

/*
 * A value. Strings are UTF-8 and NUL-terminated. Nothing here is owned by the value:
 * the evaluator's results live in the arena passed to expr_eval(), and what a lookup
 * callback returns must stay valid until expr_eval() returns.
 */
struct expr_value {
    enum expr_type type;
    double num;               /* EXPR_NUMBER: always finite */
    const char *str;          /* EXPR_STRING */
    const char *const *items; /* EXPR_LIST */
    size_t nitems;            /* EXPR_LIST */
    int b;                    /* EXPR_BOOL: 0 or 1 */
};

/*
 * Finds the answer to question qid and sets *out (EXPR_NULL when there is none; an empty
 * string or an empty list also counts as no answer). Returns 0, or -1 to abandon the
 * evaluation (out of memory).
 */
typedef int (*expr_lookup_fn)(void *ctx, const char *qid, struct expr_value *out);

/*
 * Parses src into *out, allocated in a. On a syntax error returns -1 with e->col set to
 * the 1-based column of the problem inside src, counted in characters (code points), and
 * e->msg saying what is wrong; e->file and e->line are left empty for the caller to fill.
 * Out of memory is -1 with the message "out of memory" and column 0.
 */
int expr_parse(struct arena *a, const char *src, struct expr **out, struct err *e);

/*
 * Evaluates x with the answers given by lookup(ctx, ...) into *out; new strings are
 * allocated in a. Returns -1 only when out of memory or when lookup returned -1.
 */
int expr_eval(const struct expr *x, struct arena *a, expr_lookup_fn lookup, void *ctx,
              struct expr_value *out);

/* Whether v decides a condition as met: only the boolean true does. */
int expr_truthy(const struct expr_value *v);

/*
 * The question ids x refers to, each once, in order of first appearance: up to max of
 * them go to ids[] (strings owned by x's arena). Returns how many there are in all.
 */
size_t expr_refs(const struct expr *x, const char **ids, size_t max);

/*
 * Appends the text string(v) gives: numbers as integers or up to 15 significant digits,
 * "true"/"false", strings as they are; nothing for null and lists.
 */
void expr_format_value(const struct expr_value *v, struct buf *out);

/*
 * Reads s by the rules of number(): optional spaces, an optional sign, digits with an
 * optional fraction after "." or ",". Returns 0 with *out set, or -1 when s is not such a
 * number (or is too large). For turning stored number answers into values.
 */
int expr_parse_number(const char *s, double *out);

#endif
