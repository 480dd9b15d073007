/*
 * expr: the questionnaire expression language. Owns the lexer, the parser into an
 * immutable arena tree, the evaluator and the number format of string().
 *
 * web/static/anketa.js repeats every rule of this file for the browser; a change here
 * needs the same change there and a vector in tests/data/expr/vectors.json.
 */
#include "expr.h"

#include "arena.h"
#include "buf.h"
#include "err.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest integer below which every integer is a double: printed in full. */
#define EXPR_EXACT_INT 9007199254740992.0
/* How much of a token an error message quotes, in characters. */
#define EXPR_QUOTE_MAX 24

enum expr_tok {
    T_END,
    T_NUM,
    T_STR,
    T_NAME,
    T_OP,
    T_LPAREN,
    T_RPAREN,
    T_LBRACKET,
    T_RBRACKET,
    T_COMMA,
    T_AND,
    T_OR,
    T_NOT,
    T_IN,
    T_TRUE,
    T_FALSE,
    T_NULL,
};

enum expr_op {
    OP_NONE,
    OP_EQ,
    OP_NE,
    OP_LT,
    OP_LE,
    OP_GT,
    OP_GE,
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_MOD,
};

enum expr_node_kind {
    N_NUM,
    N_STR,
    N_BOOL,
    N_NULL,
    N_REF,
    N_NEG,
    N_NOT,
    N_AND,
    N_OR,
    N_CMP,
    N_IN,
    N_LIST,
    N_ARITH,
    N_CALL,
};

enum expr_fn {
    F_SELECTED,
    F_COUNT,
    F_EMPTY,
    F_ANSWERED,
    F_NUMBER,
    F_STRING,
    F_LENGTH,
    F_MIN,
    F_MAX,
    F_ROUND,
    F_IF,
    F_CONTAINS,
    F_COUNT_OF,
};

static const struct {
    const char *name;
    int min, max; /* max -1: any number */
} expr_fns[F_COUNT_OF] = {
    [F_SELECTED] = {"selected", 2, 2},
    [F_COUNT] = {"count", 1, 1},
    [F_EMPTY] = {"empty", 1, 1},
    [F_ANSWERED] = {"answered", 1, 1},
    [F_NUMBER] = {"number", 1, 1},
    [F_STRING] = {"string", 1, 1},
    [F_LENGTH] = {"length", 1, 1},
    [F_MIN] = {"min", 1, -1},
    [F_MAX] = {"max", 1, -1},
    [F_ROUND] = {"round", 1, 2},
    [F_IF] = {"if", 3, 3},
    [F_CONTAINS] = {"contains", 2, 2},
};

struct expr_node;

/* One operand of an n-ary node; op says how an N_ARITH operand joins what comes before. */
struct expr_operand {
    struct expr_node *node;
    enum expr_op op;
};

struct expr_node {
    enum expr_node_kind kind;
    int arg; /* N_CMP: enum expr_op; N_CALL: enum expr_fn; N_BOOL: the value */
    double num;
    const char *str; /* N_STR: the text; N_REF: the question id */
    struct expr_operand *kids;
    size_t nkids, cap;
};

struct expr {
    struct expr_node *root;
    const char **refs;
    size_t nrefs, refcap;
};

struct expr_token {
    enum expr_tok kind;
    enum expr_op op;
    size_t start, end; /* bytes of src */
    double num;
    const char *str; /* T_STR: decoded; T_NAME: the name */
};

struct expr_parser {
    struct arena *a;
    const char *src;
    size_t len;
    size_t pos; /* where the next token starts to be looked for */
    struct expr_token tok;
    int depth;
    struct expr *x;
    struct err *e;
};

static int expr_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int expr_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int expr_is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static int expr_is_word(char c)
{
    return expr_is_lower(c) || (c >= 'A' && c <= 'Z') || expr_is_digit(c) || c == '_';
}

/* Bytes of the UTF-8 character that starts with c (1 for a stray byte). */
static size_t expr_utf8_len(unsigned char c)
{
    if (c >= 0xf0 && c < 0xf8)
        return 4;
    if (c >= 0xe0 && c < 0xf0)
        return 3;
    if (c >= 0xc0 && c < 0xe0)
        return 2;
    return 1;
}

static size_t expr_codepoints(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80)
            count++;
    return count;
}

static int expr_perr(struct expr_parser *p, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int expr_perr(struct expr_parser *p, size_t at, const char *fmt, ...)
{
    char msg[sizeof p->e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(p->e, "", 0, (int)expr_codepoints(p->src, at) + 1, "%s", msg);
}

static int expr_oom(struct expr_parser *p)
{
    return err_set(p->e, "", 0, 0, "out of memory");
}

/* The start of src[start..end) as an error message quotes it, with "..." when cut. */
static void expr_quote(const char *src, size_t start, size_t end, char *out, size_t size)
{
    size_t i = start, chars = 0;
    while (i < end && chars < EXPR_QUOTE_MAX) {
        i += expr_utf8_len((unsigned char)src[i]);
        chars++;
    }
    if (i > end)
        i = end;
    snprintf(out, size, "\"%.*s%s\"", (int)(i - start), src + start, i < end ? "..." : "");
}

/* Typographic quotes pasted from a word processor, in UTF-8. */
static int expr_is_curly_quote(const char *s, size_t n)
{
    static const char *const quotes[] = {"\u201c", "\u201d", "\u201e", "\u2018",
                                         "\u2019", "\u00ab", "\u00bb"};
    for (size_t i = 0; i < sizeof quotes / sizeof quotes[0]; i++)
        if (strlen(quotes[i]) == n && memcmp(quotes[i], s, n) == 0)
            return 1;
    return 0;
}

static int expr_lex_number(struct expr_parser *p, size_t i)
{
    const char *s = p->src;
    size_t start = i;
    while (i < p->len && expr_is_digit(s[i]))
        i++;
    if (i < p->len && s[i] == '.') {
        if (i + 1 >= p->len || !expr_is_digit(s[i + 1]))
            return expr_perr(p, i, "expected a digit after \".\"");
        i++;
        while (i < p->len && expr_is_digit(s[i]))
            i++;
    }
    char *text = arena_strndup(p->a, s + start, i - start);
    if (!text)
        return expr_oom(p);
    double v = strtod(text, NULL);
    if (!isfinite(v))
        return expr_perr(p, start, "number too large");
    p->tok.kind = T_NUM;
    p->tok.num = v;
    p->tok.end = i;
    return 0;
}

static int expr_lex_string(struct expr_parser *p, size_t i)
{
    const char *s = p->src;
    size_t start = i;
    char quote = s[i++];
    char *text = arena_alloc(p->a, p->len - start);
    if (!text)
        return expr_oom(p);
    size_t n = 0;
    for (;;) {
        if (i >= p->len)
            return expr_perr(p, start, "unterminated string");
        char c = s[i];
        if (c == quote)
            break;
        if (c == '\\') {
            if (i + 1 >= p->len)
                return expr_perr(p, start, "unterminated string");
            char next = s[i + 1];
            if (next != '\\' && next != '\'' && next != '"') {
                size_t clen = expr_utf8_len((unsigned char)next);
                if (i + 1 + clen > p->len)
                    clen = p->len - i - 1;
                return expr_perr(p, i,
                                 "unknown escape \"\\%.*s\" in a string (use \\\\, \\' or \\\")",
                                 (int)clen, s + i + 1);
            }
            text[n++] = next;
            i += 2;
            continue;
        }
        text[n++] = c;
        i++;
    }
    text[n] = '\0';
    p->tok.kind = T_STR;
    p->tok.str = text;
    p->tok.end = i + 1;
    return 0;
}

static int expr_lex_word(struct expr_parser *p, size_t i)
{
    static const struct {
        const char *word;
        enum expr_tok kind;
    } keywords[] = {
        {"and", T_AND},   {"or", T_OR},       {"not", T_NOT},   {"in", T_IN},
        {"true", T_TRUE}, {"false", T_FALSE}, {"null", T_NULL},
    };
    const char *s = p->src;
    size_t start = i;
    int valid = expr_is_lower(s[i]);
    while (i < p->len && expr_is_word(s[i])) {
        if (s[i] >= 'A' && s[i] <= 'Z')
            valid = 0;
        i++;
    }
    size_t n = i - start;
    if (!valid)
        return expr_perr(p, start,
                         "invalid name \"%.*s\" (names are lowercase Latin letters, digits and "
                         "\"_\", starting with a letter)",
                         (int)n, s + start);
    p->tok.end = i;
    for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++) {
        if (strlen(keywords[k].word) == n && memcmp(keywords[k].word, s + start, n) == 0) {
            p->tok.kind = keywords[k].kind;
            return 0;
        }
    }
    char *name = arena_strndup(p->a, s + start, n);
    if (!name)
        return expr_oom(p);
    p->tok.kind = T_NAME;
    p->tok.str = name;
    return 0;
}

/* Operators and punctuation, with the spellings of other languages pointed to ours. */
static int expr_lex_symbol(struct expr_parser *p, size_t i)
{
    const char *s = p->src;
    char c = s[i];
    char next = i + 1 < p->len ? s[i + 1] : '\0';
    struct expr_token *t = &p->tok;
    t->kind = T_OP;
    t->end = i + 1;
    switch (c) {
    case '(': t->kind = T_LPAREN; return 0;
    case ')': t->kind = T_RPAREN; return 0;
    case '[': t->kind = T_LBRACKET; return 0;
    case ']': t->kind = T_RBRACKET; return 0;
    case ',': t->kind = T_COMMA; return 0;
    case '+': t->op = OP_ADD; return 0;
    case '-': t->op = OP_SUB; return 0;
    case '*': t->op = OP_MUL; return 0;
    case '/': t->op = OP_DIV; return 0;
    case '%': t->op = OP_MOD; return 0;
    case '=':
        if (next == '=')
            return expr_perr(p, i, "\"==\" is not an operator (use \"=\")");
        t->op = OP_EQ;
        return 0;
    case '!':
        if (next != '=')
            return expr_perr(p, i, "\"!\" is not an operator (use \"not\")");
        t->op = OP_NE;
        t->end = i + 2;
        return 0;
    case '<':
        if (next == '>')
            return expr_perr(p, i, "\"<>\" is not an operator (use \"!=\")");
        t->op = next == '=' ? OP_LE : OP_LT;
        t->end = next == '=' ? i + 2 : i + 1;
        return 0;
    case '>':
        t->op = next == '=' ? OP_GE : OP_GT;
        t->end = next == '=' ? i + 2 : i + 1;
        return 0;
    case '&':
        if (next == '&')
            return expr_perr(p, i, "\"&&\" is not an operator (use \"and\")");
        break;
    case '|':
        if (next == '|')
            return expr_perr(p, i, "\"||\" is not an operator (use \"or\")");
        break;
    default: break;
    }
    unsigned char u = (unsigned char)c;
    if (u < 0x20 || u == 0x7f)
        return expr_perr(p, i, "unexpected control character");
    size_t clen = expr_utf8_len(u);
    if (i + clen > p->len)
        clen = p->len - i;
    if (expr_is_curly_quote(s + i, clen))
        return expr_perr(p, i, "unexpected character \"%.*s\" (use straight quotes ' or \")",
                         (int)clen, s + i);
    return expr_perr(p, i, "unexpected character \"%.*s\"", (int)clen, s + i);
}

static int expr_lex(struct expr_parser *p)
{
    size_t i = p->pos;
    while (i < p->len && expr_is_space(p->src[i]))
        i++;
    struct expr_token *t = &p->tok;
    t->start = i;
    t->end = i;
    t->op = OP_NONE;
    t->str = NULL;
    int rc;
    char c = i < p->len ? p->src[i] : '\0';
    if (i >= p->len) {
        t->kind = T_END;
        rc = 0;
    } else if (expr_is_digit(c)) {
        rc = expr_lex_number(p, i);
    } else if (c == '\'' || c == '"') {
        rc = expr_lex_string(p, i);
    } else if (expr_is_word(c)) {
        rc = expr_lex_word(p, i);
    } else {
        rc = expr_lex_symbol(p, i);
    }
    p->pos = t->end;
    return rc;
}

static int expr_is_cmp(const struct expr_token *t)
{
    return t->kind == T_IN || (t->kind == T_OP && t->op >= OP_EQ && t->op <= OP_GE);
}

static struct expr_node *expr_new_node(struct expr_parser *p, enum expr_node_kind kind)
{
    struct expr_node *n = arena_calloc(p->a, 1, sizeof *n);
    if (!n) {
        expr_oom(p);
        return NULL;
    }
    n->kind = kind;
    return n;
}

static int expr_push(struct expr_parser *p, struct expr_node *n, struct expr_node *kid,
                     enum expr_op op)
{
    if (n->nkids == n->cap) {
        size_t cap = n->cap ? n->cap * 2 : 2;
        struct expr_operand *k = arena_realloc(p->a, n->kids, n->cap * sizeof *k, cap * sizeof *k);
        if (!k)
            return expr_oom(p);
        n->kids = k;
        n->cap = cap;
    }
    n->kids[n->nkids].node = kid;
    n->kids[n->nkids].op = op;
    n->nkids++;
    return 0;
}

static int expr_enter(struct expr_parser *p, size_t at)
{
    if (++p->depth > EXPR_MAX_DEPTH)
        return expr_perr(p, at, "expression nested too deeply (more than %d levels)",
                         EXPR_MAX_DEPTH);
    return 0;
}

static int expr_add_ref(struct expr_parser *p, const char *name)
{
    struct expr *x = p->x;
    for (size_t i = 0; i < x->nrefs; i++)
        if (strcmp(x->refs[i], name) == 0)
            return 0;
    if (x->nrefs == x->refcap) {
        size_t cap = x->refcap ? x->refcap * 2 : 4;
        const char **r = arena_realloc(p->a, x->refs, x->refcap * sizeof *r, cap * sizeof *r);
        if (!r)
            return expr_oom(p);
        x->refs = r;
        x->refcap = cap;
    }
    x->refs[x->nrefs++] = name;
    return 0;
}

static size_t expr_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[32];
    if (lb >= sizeof row / sizeof row[0] || la >= 32)
        return (size_t)-1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static int expr_unknown_fn(struct expr_parser *p, size_t at, const char *name)
{
    const char *best = NULL;
    size_t best_d = 3;
    for (int f = 0; f < F_COUNT_OF; f++) {
        size_t d = expr_distance(name, expr_fns[f].name);
        if (d < best_d) {
            best_d = d;
            best = expr_fns[f].name;
        }
    }
    if (best)
        return expr_perr(p, at, "unknown function \"%s\" (did you mean \"%s\"?)", name, best);
    return expr_perr(p, at, "unknown function \"%s\"", name);
}

static int expr_check_arity(struct expr_parser *p, size_t at, int fn, size_t got)
{
    int min = expr_fns[fn].min, max = expr_fns[fn].max;
    if ((size_t)min <= got && (max < 0 || got <= (size_t)max))
        return 0;
    const char *name = expr_fns[fn].name;
    if (max < 0)
        return expr_perr(p, at, "function \"%s\" takes at least %d argument%s, got %zu", name, min,
                         min == 1 ? "" : "s", got);
    if (min == max)
        return expr_perr(p, at, "function \"%s\" takes %d argument%s, got %zu", name, min,
                         min == 1 ? "" : "s", got);
    return expr_perr(p, at, "function \"%s\" takes %d or %d arguments, got %zu", name, min, max,
                     got);
}

static struct expr_node *expr_parse_or(struct expr_parser *p);
static struct expr_node *expr_parse_add(struct expr_parser *p);

static int expr_unexpected(struct expr_parser *p)
{
    if (p->tok.kind == T_END)
        return expr_perr(p, p->tok.start, "unexpected end of expression");
    char q[128];
    expr_quote(p->src, p->tok.start, p->tok.end, q, sizeof q);
    return expr_perr(p, p->tok.start, "unexpected %s", q);
}

/*
 * The items of "[a, b]" or the arguments of a call, up to the closing token; open is
 * where the opening bracket is, for the message when the closing one is missing.
 */
static int expr_parse_items(struct expr_parser *p, struct expr_node *n, enum expr_tok close,
                            size_t open)
{
    if (expr_lex(p) < 0)
        return -1;
    if (p->tok.kind == close)
        return expr_lex(p);
    for (;;) {
        struct expr_node *item = expr_parse_or(p);
        if (!item || expr_push(p, n, item, OP_NONE) < 0)
            return -1;
        if (p->tok.kind == T_COMMA) {
            if (expr_lex(p) < 0)
                return -1;
            continue;
        }
        if (p->tok.kind == close)
            return expr_lex(p);
        int col = (int)expr_codepoints(p->src, open) + 1;
        if (close == T_RPAREN)
            return expr_perr(p, p->tok.start, "expected \",\" or \")\" to close \"(\" at column %d",
                             col);
        return expr_perr(p, p->tok.start, "expected \",\" or \"]\" to close \"[\" at column %d",
                         col);
    }
}

static struct expr_node *expr_parse_call(struct expr_parser *p, const char *name, size_t at)
{
    int fn = -1;
    for (int f = 0; f < F_COUNT_OF; f++)
        if (strcmp(expr_fns[f].name, name) == 0)
            fn = f;
    if (fn < 0) {
        expr_unknown_fn(p, at, name);
        return NULL;
    }
    struct expr_node *n = expr_new_node(p, N_CALL);
    if (!n || expr_enter(p, p->tok.start) < 0)
        return NULL;
    n->arg = fn;
    if (expr_parse_items(p, n, T_RPAREN, p->tok.start) < 0)
        return NULL;
    p->depth--;
    if (expr_check_arity(p, at, fn, n->nkids) < 0)
        return NULL;
    return n;
}

static struct expr_node *expr_parse_primary(struct expr_parser *p)
{
    struct expr_token t = p->tok;
    struct expr_node *n = NULL;
    switch (t.kind) {
    case T_NUM:
    case T_STR:
    case T_TRUE:
    case T_FALSE:
    case T_NULL:
        n = expr_new_node(p, t.kind == T_NUM    ? N_NUM
                             : t.kind == T_STR  ? N_STR
                             : t.kind == T_NULL ? N_NULL
                                                : N_BOOL);
        if (!n)
            return NULL;
        n->num = t.num;
        n->str = t.str;
        n->arg = t.kind == T_TRUE;
        return expr_lex(p) < 0 ? NULL : n;
    case T_NAME:
        if (expr_lex(p) < 0)
            return NULL;
        if (p->tok.kind == T_LPAREN)
            return expr_parse_call(p, t.str, t.start);
        n = expr_new_node(p, N_REF);
        if (!n || expr_add_ref(p, t.str) < 0)
            return NULL;
        n->str = t.str;
        return n;
    case T_LPAREN:
        if (expr_enter(p, t.start) < 0 || expr_lex(p) < 0)
            return NULL;
        n = expr_parse_or(p);
        if (!n)
            return NULL;
        if (p->tok.kind != T_RPAREN) {
            expr_perr(p, p->tok.start, "expected \")\" to close \"(\" at column %d",
                      (int)expr_codepoints(p->src, t.start) + 1);
            return NULL;
        }
        p->depth--;
        return expr_lex(p) < 0 ? NULL : n;
    case T_LBRACKET: expr_perr(p, t.start, "a list \"[...]\" can only follow \"in\""); return NULL;
    default: expr_unexpected(p); return NULL;
    }
}

static struct expr_node *expr_parse_unary(struct expr_parser *p)
{
    if (p->tok.kind != T_OP || p->tok.op != OP_SUB)
        return expr_parse_primary(p);
    if (expr_enter(p, p->tok.start) < 0 || expr_lex(p) < 0)
        return NULL;
    struct expr_node *kid = expr_parse_unary(p);
    if (!kid)
        return NULL;
    p->depth--;
    if (kid->kind == N_NUM) {
        kid->num = kid->num == 0 ? 0 : -kid->num;
        return kid;
    }
    struct expr_node *n = expr_new_node(p, N_NEG);
    if (!n || expr_push(p, n, kid, OP_NONE) < 0)
        return NULL;
    return n;
}

/* A left-associative run of operators of one level, kept flat so evaluation loops. */
static struct expr_node *expr_parse_arith(struct expr_parser *p, int multiplicative)
{
    struct expr_node *left = multiplicative ? expr_parse_unary(p) : expr_parse_arith(p, 1);
    if (!left)
        return NULL;
    struct expr_node *n = NULL;
    for (;;) {
        enum expr_op op = p->tok.kind == T_OP ? p->tok.op : OP_NONE;
        int ours = multiplicative ? (op == OP_MUL || op == OP_DIV || op == OP_MOD)
                                  : (op == OP_ADD || op == OP_SUB);
        if (!ours)
            return n ? n : left;
        if (!n) {
            n = expr_new_node(p, N_ARITH);
            if (!n || expr_push(p, n, left, OP_NONE) < 0)
                return NULL;
        }
        if (expr_lex(p) < 0)
            return NULL;
        struct expr_node *right = multiplicative ? expr_parse_unary(p) : expr_parse_arith(p, 1);
        if (!right || expr_push(p, n, right, op) < 0)
            return NULL;
    }
}

static struct expr_node *expr_parse_add(struct expr_parser *p)
{
    return expr_parse_arith(p, 0);
}

static struct expr_node *expr_parse_cmp(struct expr_parser *p)
{
    struct expr_node *left = expr_parse_add(p);
    if (!left || !expr_is_cmp(&p->tok))
        return left;
    struct expr_token t = p->tok;
    struct expr_node *n = expr_new_node(p, t.kind == T_IN ? N_IN : N_CMP);
    if (!n || expr_push(p, n, left, OP_NONE) < 0 || expr_lex(p) < 0)
        return NULL;
    n->arg = t.op;
    struct expr_node *right;
    if (t.kind == T_IN && p->tok.kind == T_LBRACKET) {
        right = expr_new_node(p, N_LIST);
        if (!right || expr_enter(p, p->tok.start) < 0 ||
            expr_parse_items(p, right, T_RBRACKET, p->tok.start) < 0)
            return NULL;
        p->depth--;
    } else {
        right = expr_parse_add(p);
    }
    if (!right || expr_push(p, n, right, OP_NONE) < 0)
        return NULL;
    if (expr_is_cmp(&p->tok)) {
        expr_perr(p, p->tok.start, "comparisons cannot be chained (use \"and\")");
        return NULL;
    }
    return n;
}

static struct expr_node *expr_parse_not(struct expr_parser *p)
{
    if (p->tok.kind != T_NOT)
        return expr_parse_cmp(p);
    if (expr_enter(p, p->tok.start) < 0 || expr_lex(p) < 0)
        return NULL;
    struct expr_node *kid = expr_parse_not(p);
    if (!kid)
        return NULL;
    p->depth--;
    struct expr_node *n = expr_new_node(p, N_NOT);
    if (!n || expr_push(p, n, kid, OP_NONE) < 0)
        return NULL;
    return n;
}

static struct expr_node *expr_parse_logic(struct expr_parser *p, int is_and)
{
    enum expr_tok word = is_and ? T_AND : T_OR;
    struct expr_node *left = is_and ? expr_parse_not(p) : expr_parse_logic(p, 1);
    if (!left || p->tok.kind != word)
        return left;
    struct expr_node *n = expr_new_node(p, is_and ? N_AND : N_OR);
    if (!n || expr_push(p, n, left, OP_NONE) < 0)
        return NULL;
    while (p->tok.kind == word) {
        if (expr_lex(p) < 0)
            return NULL;
        struct expr_node *right = is_and ? expr_parse_not(p) : expr_parse_logic(p, 1);
        if (!right || expr_push(p, n, right, OP_NONE) < 0)
            return NULL;
    }
    return n;
}

static struct expr_node *expr_parse_or(struct expr_parser *p)
{
    return expr_parse_logic(p, 0);
}

int expr_parse(struct arena *a, const char *src, struct expr **out, struct err *e)
{
    struct expr_parser p = {.a = a, .src = src, .len = strlen(src), .e = e};
    *out = NULL;
    if (p.len > EXPR_MAX_LEN)
        return err_set(e, "", 0, 1, "expression too long (more than %d bytes)", EXPR_MAX_LEN);
    p.x = arena_calloc(a, 1, sizeof *p.x);
    if (!p.x)
        return expr_oom(&p);
    if (expr_lex(&p) < 0)
        return -1;
    if (p.tok.kind == T_END)
        return err_set(e, "", 0, 1, "empty expression");
    struct expr_node *root = expr_parse_or(&p);
    if (!root)
        return -1;
    if (p.tok.kind == T_RPAREN)
        return expr_perr(&p, p.tok.start, "unmatched \")\"");
    if (p.tok.kind == T_RBRACKET)
        return expr_perr(&p, p.tok.start, "unmatched \"]\"");
    if (p.tok.kind != T_END) {
        char q[128];
        expr_quote(src, p.tok.start, p.tok.end, q, sizeof q);
        return expr_perr(&p, p.tok.start, "expected an operator, got %s", q);
    }
    p.x->root = root;
    *out = p.x;
    return 0;
}

size_t expr_refs(const struct expr *x, const char **ids, size_t max)
{
    for (size_t i = 0; i < x->nrefs && i < max; i++)
        ids[i] = x->refs[i];
    return x->nrefs;
}

int expr_truthy(const struct expr_value *v)
{
    return v->type == EXPR_BOOL && v->b;
}

static void expr_set_null(struct expr_value *v)
{
    memset(v, 0, sizeof *v);
    v->type = EXPR_NULL;
}

/* Every number the language produces is finite and has no negative zero. */
static void expr_set_num(struct expr_value *v, double d)
{
    expr_set_null(v);
    if (!isfinite(d))
        return;
    v->type = EXPR_NUMBER;
    v->num = d == 0 ? 0 : d;
}

static void expr_set_bool(struct expr_value *v, int b)
{
    expr_set_null(v);
    v->type = EXPR_BOOL;
    v->b = b != 0;
}

static void expr_set_str(struct expr_value *v, const char *s)
{
    expr_set_null(v);
    v->type = EXPR_STRING;
    v->str = s;
}

int expr_parse_number(const char *s, double *out)
{
    size_t n = strlen(s), i = 0;
    while (i < n && expr_is_space(s[i]))
        i++;
    size_t start = i;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    size_t digits = i;
    while (i < n && expr_is_digit(s[i]))
        i++;
    if (i == digits)
        return -1;
    size_t sep = n;
    if (i < n && (s[i] == '.' || s[i] == ',')) {
        sep = i++;
        size_t frac = i;
        while (i < n && expr_is_digit(s[i]))
            i++;
        if (i == frac)
            return -1;
    }
    size_t end = i;
    while (i < n && expr_is_space(s[i]))
        i++;
    if (i != n)
        return -1;
    size_t len = end - start;
    char small[64];
    char *copy = len < sizeof small ? small : malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, s + start, len);
    copy[len] = '\0';
    if (sep < n)
        copy[sep - start] = '.';
    double v = strtod(copy, NULL);
    if (copy != small)
        free(copy);
    if (!isfinite(v))
        return -1;
    *out = v == 0 ? 0 : v;
    return 0;
}

/*
 * The shortest decimal that reads back as x (what JavaScript prints), as digits and the
 * exponent of the first one; returns the number of digits.
 */
static int expr_shortest(double x, char digits[24], int *exp10)
{
    char tmp[48];
    for (int prec = 0; prec <= 16; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec, x);
        if (strtod(tmp, NULL) == x)
            break;
    }
    int k = 0;
    const char *t = tmp;
    for (; *t && *t != 'e'; t++)
        if (expr_is_digit(*t) && k < 23)
            digits[k++] = *t;
    *exp10 = *t == 'e' ? atoi(t + 1) : 0;
    return k;
}

/*
 * string() of a number: integers up to 2^53 in full; anything else rounded (half away
 * from zero) to 15 significant digits from its shortest form, laid out as JavaScript
 * lays out numbers (plain up to 21 integer digits and down to 6 zeros after the point).
 */
static void expr_format_number(double x, char out[48])
{
    char *o = out;
    if (x == 0) {
        strcpy(out, "0");
        return;
    }
    if (x < 0) {
        *o++ = '-';
        x = -x;
    }
    if (x <= EXPR_EXACT_INT && x == floor(x)) {
        snprintf(o, 40, "%.0f", x);
        return;
    }
    char d[24];
    int e10;
    int k = expr_shortest(x, d, &e10);
    if (k > 15) {
        int carry = d[15] >= '5';
        k = 15;
        for (int i = k - 1; carry && i >= 0; i--) {
            if (d[i] == '9') {
                d[i] = '0';
            } else {
                d[i]++;
                carry = 0;
            }
        }
        if (carry) {
            d[0] = '1';
            k = 1;
            e10++;
        }
    }
    while (k > 1 && d[k - 1] == '0')
        k--;
    int n = e10 + 1; /* digits before the point */
    if (k <= n && n <= 21) {
        memcpy(o, d, (size_t)k);
        o += k;
        for (int i = k; i < n; i++)
            *o++ = '0';
    } else if (0 < n && n <= 21) {
        memcpy(o, d, (size_t)n);
        o += n;
        *o++ = '.';
        memcpy(o, d + n, (size_t)(k - n));
        o += k - n;
    } else if (-6 < n && n <= 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = n; i < 0; i++)
            *o++ = '0';
        memcpy(o, d, (size_t)k);
        o += k;
    } else {
        *o++ = d[0];
        if (k > 1) {
            *o++ = '.';
            memcpy(o, d + 1, (size_t)(k - 1));
            o += k - 1;
        }
        o += sprintf(o, "e%c%d", n - 1 >= 0 ? '+' : '-', abs(n - 1));
    }
    *o = '\0';
}

void expr_format_value(const struct expr_value *v, struct buf *out)
{
    char num[48];
    switch (v->type) {
    case EXPR_NUMBER:
        expr_format_number(v->num, num);
        buf_puts(out, num);
        break;
    case EXPR_STRING: buf_puts(out, v->str); break;
    case EXPR_BOOL: buf_puts(out, v->b ? "true" : "false"); break;
    case EXPR_NULL:
    case EXPR_LIST: break;
    }
}

struct expr_eval {
    struct arena *a;
    expr_lookup_fn lookup;
    void *ctx;
};

static int expr_eval_node(struct expr_eval *ev, const struct expr_node *n, struct expr_value *out);

/* What a lookup gave, in the forms the rest of the evaluator relies on. */
static void expr_normalise(struct expr_value *v)
{
    switch (v->type) {
    case EXPR_NUMBER: expr_set_num(v, v->num); break;
    case EXPR_STRING:
        if (!v->str || !v->str[0])
            expr_set_null(v);
        break;
    case EXPR_BOOL: expr_set_bool(v, v->b); break;
    case EXPR_LIST:
        if (!v->items || v->nitems == 0)
            expr_set_null(v);
        break;
    case EXPR_NULL: expr_set_null(v); break;
    default: expr_set_null(v); break;
    }
}

static int expr_equal(const struct expr_value *l, const struct expr_value *r)
{
    if (l->type == EXPR_NULL || r->type == EXPR_NULL)
        return l->type == r->type;
    if (l->type != r->type)
        return 0;
    switch (l->type) {
    case EXPR_NUMBER: return l->num == r->num;
    case EXPR_STRING: return strcmp(l->str, r->str) == 0;
    case EXPR_BOOL: return l->b == r->b;
    default: return 0;
    }
}

static int expr_compare(enum expr_op op, const struct expr_value *l, const struct expr_value *r)
{
    if (op == OP_EQ)
        return expr_equal(l, r);
    if (op == OP_NE)
        return !expr_equal(l, r);
    int c;
    if (l->type == EXPR_NUMBER && r->type == EXPR_NUMBER)
        c = (l->num > r->num) - (l->num < r->num);
    else if (l->type == EXPR_STRING && r->type == EXPR_STRING)
        c = strcmp(l->str, r->str); /* UTF-8 bytes sort in code point order */
    else
        return 0;
    switch (op) {
    case OP_LT: return c < 0;
    case OP_LE: return c <= 0;
    case OP_GT: return c > 0;
    default: return c >= 0;
    }
}

static int expr_arith(struct expr_eval *ev, enum expr_op op, const struct expr_value *l,
                      const struct expr_value *r, struct expr_value *out)
{
    if (op == OP_ADD && l->type == EXPR_STRING && r->type == EXPR_STRING) {
        size_t ll = strlen(l->str), rl = strlen(r->str);
        char *s = arena_alloc(ev->a, ll + rl + 1);
        if (!s)
            return -1;
        memcpy(s, l->str, ll);
        memcpy(s + ll, r->str, rl + 1);
        expr_set_str(out, s);
        return 0;
    }
    if (l->type != EXPR_NUMBER || r->type != EXPR_NUMBER) {
        expr_set_null(out);
        return 0;
    }
    double a = l->num, b = r->num;
    switch (op) {
    case OP_ADD: expr_set_num(out, a + b); break;
    case OP_SUB: expr_set_num(out, a - b); break;
    case OP_MUL: expr_set_num(out, a * b); break;
    case OP_DIV:
        if (b == 0)
            expr_set_null(out);
        else
            expr_set_num(out, a / b);
        break;
    default:
        if (b == 0)
            expr_set_null(out);
        else
            expr_set_num(out, fmod(a, b));
        break;
    }
    return 0;
}

static double expr_round_half_away(double v)
{
    double a = fabs(v);
    double f = floor(a);
    double r = a - f >= 0.5 ? f + 1 : f;
    return v < 0 ? -r : r;
}

static void expr_round(const struct expr_value *x, const struct expr_value *digits,
                       struct expr_value *out)
{
    double d = 0;
    if (digits) {
        if (digits->type != EXPR_NUMBER || digits->num != floor(digits->num) ||
            fabs(digits->num) > 15) {
            expr_set_null(out);
            return;
        }
        d = digits->num;
    }
    if (x->type != EXPR_NUMBER) {
        expr_set_null(out);
        return;
    }
    double m = 1;
    for (int i = 0; i < (int)fabs(d); i++)
        m *= 10;
    if (d >= 0)
        expr_set_num(out, expr_round_half_away(x->num * m) / m);
    else
        expr_set_num(out, expr_round_half_away(x->num / m) * m);
}

static int expr_string_of(struct expr_eval *ev, const struct expr_value *v, struct expr_value *out)
{
    char num[48];
    switch (v->type) {
    case EXPR_STRING: *out = *v; return 0;
    case EXPR_BOOL: expr_set_str(out, v->b ? "true" : "false"); return 0;
    case EXPR_NUMBER: {
        expr_format_number(v->num, num);
        char *s = arena_strdup(ev->a, num);
        if (!s)
            return -1;
        expr_set_str(out, s);
        return 0;
    }
    default: expr_set_null(out); return 0;
    }
}

static int expr_call(struct expr_eval *ev, const struct expr_node *n, struct expr_value *out)
{
    struct expr_value v[3];
    int fn = n->arg;
    if (fn == F_IF) {
        if (expr_eval_node(ev, n->kids[0].node, &v[0]) < 0)
            return -1;
        return expr_eval_node(ev, n->kids[expr_truthy(&v[0]) ? 1 : 2].node, out);
    }
    if (fn == F_MIN || fn == F_MAX) {
        double best = 0;
        for (size_t i = 0; i < n->nkids; i++) {
            if (expr_eval_node(ev, n->kids[i].node, &v[0]) < 0)
                return -1;
            if (v[0].type != EXPR_NUMBER) {
                expr_set_null(out);
                return 0;
            }
            if (i == 0 || (fn == F_MIN ? v[0].num < best : v[0].num > best))
                best = v[0].num;
        }
        expr_set_num(out, best);
        return 0;
    }
    for (size_t i = 0; i < n->nkids; i++)
        if (expr_eval_node(ev, n->kids[i].node, &v[i]) < 0)
            return -1;
    switch (fn) {
    case F_SELECTED: {
        int hit = 0;
        if (v[1].type == EXPR_STRING && v[0].type == EXPR_STRING)
            hit = strcmp(v[0].str, v[1].str) == 0;
        if (v[1].type == EXPR_STRING && v[0].type == EXPR_LIST)
            for (size_t i = 0; i < v[0].nitems && !hit; i++)
                hit = strcmp(v[0].items[i], v[1].str) == 0;
        expr_set_bool(out, hit);
        return 0;
    }
    case F_COUNT:
        expr_set_num(out, v[0].type == EXPR_LIST   ? (double)v[0].nitems
                          : v[0].type == EXPR_NULL ? 0
                                                   : 1);
        return 0;
    case F_EMPTY:
    case F_ANSWERED: {
        int empty = v[0].type == EXPR_NULL || (v[0].type == EXPR_STRING && !v[0].str[0]);
        expr_set_bool(out, fn == F_EMPTY ? empty : !empty);
        return 0;
    }
    case F_NUMBER: {
        double d;
        if (v[0].type == EXPR_NUMBER)
            *out = v[0];
        else if (v[0].type == EXPR_STRING && expr_parse_number(v[0].str, &d) == 0)
            expr_set_num(out, d);
        else
            expr_set_null(out);
        return 0;
    }
    case F_STRING: return expr_string_of(ev, &v[0], out);
    case F_LENGTH:
        if (v[0].type == EXPR_STRING)
            expr_set_num(out, (double)expr_codepoints(v[0].str, strlen(v[0].str)));
        else
            expr_set_null(out);
        return 0;
    case F_ROUND: expr_round(&v[0], n->nkids > 1 ? &v[1] : NULL, out); return 0;
    default: /* F_CONTAINS */
        expr_set_bool(out, v[0].type == EXPR_STRING && v[1].type == EXPR_STRING &&
                               strstr(v[0].str, v[1].str) != NULL);
        return 0;
    }
}

static int expr_in(struct expr_eval *ev, const struct expr_node *n, struct expr_value *out)
{
    struct expr_value l, r;
    if (expr_eval_node(ev, n->kids[0].node, &l) < 0)
        return -1;
    expr_set_bool(out, 0);
    if (l.type == EXPR_NULL)
        return 0;
    const struct expr_node *list = n->kids[1].node;
    if (list->kind == N_LIST) {
        for (size_t i = 0; i < list->nkids; i++) {
            if (expr_eval_node(ev, list->kids[i].node, &r) < 0)
                return -1;
            if (expr_equal(&l, &r)) {
                expr_set_bool(out, 1);
                return 0;
            }
        }
        return 0;
    }
    if (expr_eval_node(ev, list, &r) < 0)
        return -1;
    if (r.type == EXPR_LIST && l.type == EXPR_STRING)
        for (size_t i = 0; i < r.nitems; i++)
            if (strcmp(r.items[i], l.str) == 0)
                expr_set_bool(out, 1);
    return 0;
}

static int expr_eval_node(struct expr_eval *ev, const struct expr_node *n, struct expr_value *out)
{
    struct expr_value l, r;
    switch (n->kind) {
    case N_NUM: expr_set_num(out, n->num); return 0;
    case N_STR: expr_set_str(out, n->str); return 0;
    case N_BOOL: expr_set_bool(out, n->arg); return 0;
    case N_NULL:
    case N_LIST: expr_set_null(out); return 0;
    case N_REF:
        expr_set_null(out);
        if (ev->lookup(ev->ctx, n->str, out) < 0)
            return -1;
        expr_normalise(out);
        return 0;
    case N_NEG:
        if (expr_eval_node(ev, n->kids[0].node, &l) < 0)
            return -1;
        if (l.type == EXPR_NUMBER)
            expr_set_num(out, -l.num);
        else
            expr_set_null(out);
        return 0;
    case N_NOT:
        if (expr_eval_node(ev, n->kids[0].node, &l) < 0)
            return -1;
        expr_set_bool(out, !expr_truthy(&l));
        return 0;
    case N_AND:
    case N_OR:
        for (size_t i = 0; i < n->nkids; i++) {
            if (expr_eval_node(ev, n->kids[i].node, &l) < 0)
                return -1;
            if (expr_truthy(&l) == (n->kind == N_OR)) {
                expr_set_bool(out, n->kind == N_OR);
                return 0;
            }
        }
        expr_set_bool(out, n->kind == N_AND);
        return 0;
    case N_CMP:
        if (expr_eval_node(ev, n->kids[0].node, &l) < 0 ||
            expr_eval_node(ev, n->kids[1].node, &r) < 0)
            return -1;
        expr_set_bool(out, expr_compare((enum expr_op)n->arg, &l, &r));
        return 0;
    case N_IN: return expr_in(ev, n, out);
    case N_ARITH:
        if (expr_eval_node(ev, n->kids[0].node, &l) < 0)
            return -1;
        for (size_t i = 1; i < n->nkids && l.type != EXPR_NULL; i++) {
            if (expr_eval_node(ev, n->kids[i].node, &r) < 0 ||
                expr_arith(ev, n->kids[i].op, &l, &r, &l) < 0)
                return -1;
        }
        *out = l;
        return 0;
    case N_CALL: return expr_call(ev, n, out);
    }
    expr_set_null(out);
    return 0;
}

int expr_eval(const struct expr *x, struct arena *a, expr_lookup_fn lookup, void *ctx,
              struct expr_value *out)
{
    struct expr_eval ev = {a, lookup, ctx};
    expr_set_null(out);
    return expr_eval_node(&ev, x->root, out);
}
