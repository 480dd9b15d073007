/*
 * response: owns the server-side validation of one survey's posted answers, their
 * normalised form (the values that are stored), the logic (show_if, required_if,
 * constraint) as the server decides it, and the scores of the survey's scales.
 */
#include "response.h"

#include "arena.h"
#include "buf.h"
#include "expr.h"
#include "form.h"
#include "survey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 18 decimal digits always fit a 64-bit integer, so parsing never has to detect overflow. */
#define RESPONSE_MAX_DIGITS 18

/* Whether field fl is named "q." + id (+ "." + sub when sub is not NULL). */
static int response_field_is(const struct form_field *fl, const char *id, const char *sub)
{
    size_t n = strlen(id);
    if (strncmp(fl->name, "q.", 2) != 0 || strncmp(fl->name + 2, id, n) != 0)
        return 0;
    const char *rest = fl->name + 2 + n;
    if (!sub)
        return *rest == '\0';
    return *rest == '.' && strcmp(rest + 1, sub) == 0;
}

/* The first field answering id (NULL when none) and how many there are. */
static const struct form_field *response_find(const struct form *f, const char *id, const char *sub,
                                              size_t *count)
{
    const struct form_field *first = NULL;
    *count = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (!response_field_is(&f->fields[i], id, sub))
            continue;
        if (!first)
            first = &f->fields[i];
        (*count)++;
    }
    return first;
}

const char *response_raw_value(const struct form *f, const struct question *q)
{
    size_t count;
    const struct form_field *fl = response_find(f, q->id, NULL, &count);
    return fl ? fl->value : NULL;
}

/* ASCII whitespace as HTML defines it: what a browser or a careless paste adds around input. */
static int response_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static void response_trim(const char **s, size_t *n)
{
    while (*n > 0 && response_is_space((*s)[0])) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && response_is_space((*s)[*n - 1]))
        (*n)--;
}

/*
 * Copies s[0..n) into the arena with CRLF and lone CR turned into LF (browsers send CRLF for
 * textareas), trimmed and NUL-terminated. NULL when out of memory.
 */
static char *response_normalise_text(struct arena *a, const char *s, size_t n, size_t *outlen)
{
    char *out = arena_alloc(a, n + 1);
    if (!out)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r') {
            out[k++] = '\n';
            if (i + 1 < n && s[i + 1] == '\n')
                i++;
        } else {
            out[k++] = s[i];
        }
    }
    const char *t = out;
    response_trim(&t, &k);
    char *start = out + (t - out);
    start[k] = '\0';
    *outlen = k;
    return start;
}

int response_valid_text(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
                return 0;
            i++;
            continue;
        }
        size_t more;
        unsigned char lo = 0x80, hi = 0xbf; /* the allowed range of the second byte */
        if (c >= 0xc2 && c <= 0xdf) {
            more = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            more = 2;
            if (c == 0xe0)
                lo = 0xa0; /* below is an overlong form */
            else if (c == 0xed)
                hi = 0x9f; /* above are the UTF-16 surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            more = 3;
            if (c == 0xf0)
                lo = 0x90; /* below is an overlong form */
            else if (c == 0xf4)
                hi = 0x8f; /* above is beyond U+10FFFF */
        } else {
            return 0;
        }
        if (n - i - 1 < more)
            return 0;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return 0;
        for (size_t k = 2; k <= more; k++)
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
        i += more + 1;
    }
    return 1;
}

/* Code points of well-formed UTF-8: every byte that is not a continuation byte starts one. */
static size_t response_code_points(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80)
            count++;
    return count;
}

/*
 * A decimal number: an optional '-', digits, and with decimals > 0 an optional '.' or ','
 * and up to decimals digits (trailing zeros beyond them are allowed). *out is the number in
 * units of 10^-decimals. Returns 0, -1 when it is not a number, -2 when it has more
 * decimals than allowed. At most RESPONSE_MAX_DIGITS digits, so nothing overflows.
 */
static int response_parse_number(const char *s, size_t n, int decimals, long long *out)
{
    size_t i = 0;
    int negative = 0;
    if (n > 0 && s[0] == '-') {
        negative = 1;
        i = 1;
    }
    size_t sep = n;
    for (size_t k = i; k < n; k++)
        if ((s[k] == '.' || s[k] == ',') && sep == n)
            sep = k;
    size_t int_digits = sep - i;
    if (int_digits == 0 || (sep < n && sep + 1 == n))
        return -1;
    if (sep < n && decimals == 0)
        return -1;
    size_t frac_end = n;
    while (sep < n && frac_end > sep + 1 && s[frac_end - 1] == '0')
        frac_end--;
    size_t frac_digits = sep < n ? frac_end - sep - 1 : 0;
    if (int_digits + (size_t)decimals > RESPONSE_MAX_DIGITS)
        return -1;
    long long v = 0;
    for (size_t k = i; k < sep; k++) {
        if (s[k] < '0' || s[k] > '9')
            return -1;
        v = v * 10 + (s[k] - '0');
    }
    for (size_t k = sep + 1; k < n; k++)
        if (s[k] < '0' || s[k] > '9')
            return -1;
    if (frac_digits > (size_t)decimals)
        return -2;
    for (int k = 0; k < decimals; k++) {
        size_t at = sep + 1 + (size_t)k;
        v = v * 10 + ((size_t)k < frac_digits ? s[at] - '0' : 0);
    }
    *out = negative ? -v : v;
    return 0;
}

/* v (in units of 10^-decimals) written out: "12", "-0.5", no trailing zeros. */
static void response_format_number(long long v, int decimals, char *out, size_t size)
{
    long long scale = 1;
    for (int k = 0; k < decimals; k++)
        scale *= 10;
    unsigned long long m = v < 0 ? (unsigned long long)-v : (unsigned long long)v;
    unsigned long long ip = m / (unsigned long long)scale, fp = m % (unsigned long long)scale;
    int len = snprintf(out, size, "%s%llu", v < 0 ? "-" : "", ip);
    if (fp == 0 || len < 0 || (size_t)len >= size)
        return;
    /* The loader allows few decimals; the bound also tells the compiler frac is big enough. */
    if (decimals < 1 || decimals > 18)
        return;
    char frac[32];
    snprintf(frac, sizeof frac, "%0*llu", decimals, fp);
    size_t fl = strlen(frac);
    while (fl > 0 && frac[fl - 1] == '0')
        fl--;
    snprintf(out + len, size - (size_t)len, ".%.*s", (int)fl, frac);
}

static int response_is_choice(const struct question *q, const char *s, size_t n)
{
    for (size_t i = 0; i < q->nchoices; i++) {
        const char *v = q->choices[i].value;
        if (strlen(v) == n && memcmp(v, s, n) == 0)
            return 1;
    }
    return q->other && n == strlen(SURVEY_OTHER_VALUE) && memcmp(s, SURVEY_OTHER_VALUE, n) == 0;
}

/* YYYY-MM-DD as it is, or DD.MM.YYYY (typed where the browser has no date picker). */
static int response_parse_date(const char *s, size_t n, char out[11])
{
    if (n == 10 && s[2] == '.' && s[5] == '.') {
        memcpy(out, s + 6, 4);
        out[4] = '-';
        memcpy(out + 5, s + 3, 2);
        out[7] = '-';
        memcpy(out + 8, s, 2);
    } else if (n == 10) {
        memcpy(out, s, 10);
    } else {
        return -1;
    }
    out[10] = '\0';
    return survey_date_valid(out, 10) ? 0 : -1;
}

static int response_is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/* local@domain.tld, with the characters mail systems accept; international domains too. */
static int response_valid_email(const char *s, size_t n)
{
    const char *at = memchr(s, '@', n);
    if (!at || n > 254)
        return 0;
    size_t local = (size_t)(at - s), dn = n - local - 1;
    const char *d = at + 1;
    if (local == 0 || local > 64 || s[0] == '.' || s[local - 1] == '.')
        return 0;
    for (size_t i = 0; i < local; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!response_is_alnum(c) && !strchr(".!#$%&'*+/=?^_`{|}~-", c))
            return 0;
        if (c == '.' && s[i + 1] == '.')
            return 0;
    }
    size_t labels = 0, len = 0;
    for (size_t i = 0; i <= dn; i++) {
        if (i == dn || d[i] == '.') {
            if (len == 0 || len > 63 || d[i - 1] == '-' || d[i - len] == '-')
                return 0;
            labels++;
            len = 0;
            continue;
        }
        if (!response_is_alnum((unsigned char)d[i]) && d[i] != '-')
            return 0;
        len++;
    }
    return labels >= 2;
}

/* A telephone number as people write it: +7 (912) 345-67-89; 10 to 15 digits. */
static int response_valid_phone(const char *s, size_t n)
{
    size_t digits = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9')
            digits++;
        else if (!(c == ' ' || c == '-' || c == '(' || c == ')' || (c == '+' && i == 0)))
            return 0;
    }
    return digits >= 10 && digits <= 15;
}

/*
 * Checks one raw answer of a question with a single value. Returns -1 only when out of
 * memory; otherwise sets either *key (an error key) or *value (the normalised answer in the
 * arena, NULL when unanswered). required: whether an empty answer is an error.
 */
static int response_check(struct arena *a, const struct question *q, int required, const char *raw,
                          size_t n, const char **value, const char **key)
{
    *value = NULL;
    *key = NULL;
    const char *s = raw;
    if (q->type == Q_TEXT) {
        char *text = response_normalise_text(a, raw, n, &n);
        if (!text)
            return -1;
        s = text;
    } else {
        response_trim(&s, &n);
    }
    if (n == 0) {
        if (required)
            *key = q->type == Q_CONSENT ? "error.consent" : "error.required";
        return 0;
    }

    long long v;
    char buf[48];
    switch (q->type) {
    case Q_YESNO:
        if (!(n == 3 && memcmp(s, "yes", 3) == 0) && !(n == 2 && memcmp(s, "no", 2) == 0)) {
            *key = "error.choice";
            return 0;
        }
        break;
    case Q_CONSENT:
        if (!(n == 3 && memcmp(s, "yes", 3) == 0)) {
            *key = "error.choice";
            return 0;
        }
        break;
    case Q_CHOICE:
    case Q_MULTIPLE:
    case Q_RANKING:
        if (!response_is_choice(q, s, n)) {
            *key = "error.choice";
            return 0;
        }
        if (q->xtype && q->xtype->validate) {
            /* A plugin's type may refuse a listed value further (docs/plugins.md). */
            const char *copy = arena_strndup(a, s, n), *why = NULL;
            if (!copy)
                return -1;
            if (q->xtype->validate(q->xstate, copy, &why) != 0) {
                *key = why ? why : "error.choice";
                return 0;
            }
        }
        break;
    case Q_SCALE:
    case Q_NUMBER: {
        int rc = response_parse_number(s, n, q->type == Q_NUMBER ? q->decimals : 0, &v);
        if (rc < 0) {
            *key = rc == -2 ? "error.decimals" : q->decimals ? "error.number" : "error.integer";
            return 0;
        }
        int low = (q->type == Q_SCALE || q->has_min) && v < q->min;
        int high = (q->type == Q_SCALE || q->has_max) && v > q->max;
        if (low || high) {
            int both = q->type == Q_SCALE || (q->has_min && q->has_max);
            *key = both ? "error.range" : low ? "error.range_min" : "error.range_max";
            return 0;
        }
        response_format_number(v, q->type == Q_NUMBER ? q->decimals : 0, buf, sizeof buf);
        s = buf;
        n = strlen(buf);
        break;
    }
    case Q_DATE:
        if (response_parse_date(s, n, buf) < 0) {
            *key = "error.date";
            return 0;
        }
        if ((q->date_min && strcmp(buf, q->date_min) < 0) ||
            (q->date_max && strcmp(buf, q->date_max) > 0)) {
            *key = q->date_min && q->date_max ? "error.date_range"
                   : q->date_min              ? "error.date_min"
                                              : "error.date_max";
            return 0;
        }
        s = buf;
        break;
    case Q_TEXT:
        if (!response_valid_text(s, n) || (!q->long_text && memchr(s, '\n', n))) {
            *key = "error.text";
            return 0;
        }
        if (response_code_points(s, n) > q->max_length) {
            *key = "error.too_long";
            return 0;
        }
        if ((q->format == TEXT_FORMAT_EMAIL && !response_valid_email(s, n)) ||
            (q->format == TEXT_FORMAT_PHONE && !response_valid_phone(s, n)) ||
            (q->format == TEXT_FORMAT_DIGITS && strspn(s, "0123456789") != n)) {
            static const char *const keys[] = {NULL, "error.email", "error.phone", "error.digits"};
            *key = keys[q->format];
            return 0;
        }
        /* Already a trimmed, NUL-terminated copy in the arena. */
        *value = s;
        return 0;
    case Q_MATRIX:
    case Q_NOTE: return 0;
    }
    *value = arena_strndup(a, s, n);
    return *value ? 0 : -1;
}

/* What one answer means to an expression; lists are kept apart from the stored text. */
struct response_unit {
    const struct question *q;
    const char *value;
    const char **list; /* multiple, ranking: the values */
    size_t nlist;
};

/* The state of one check: the answers so far, which expressions read. */
struct response_run {
    struct arena *a;
    const struct survey *s;
    const struct form *f;
    struct response *r;
    struct response_unit *units;
    size_t nunits;
};

static int response_lookup(void *ctx, const char *qid, struct expr_value *out)
{
    struct response_run *run = ctx;
    *out = (struct expr_value){.type = EXPR_NULL};
    for (size_t i = 0; i < run->nunits; i++) {
        const struct response_unit *u = &run->units[i];
        if (strcmp(u->q->id, qid) != 0)
            continue;
        /* As the browser reads the page (anketa.js): yes/no are booleans, a ticked box a
         * list, scales and numbers numbers. */
        if (u->list) {
            out->type = EXPR_LIST;
            out->items = u->list;
            out->nitems = u->nlist;
        } else if (u->q->type == Q_CONSENT) {
            static const char *const ticked[] = {"yes"};
            out->type = EXPR_LIST;
            out->items = ticked;
            out->nitems = 1;
        } else if (u->q->type == Q_YESNO) {
            out->type = EXPR_BOOL;
            out->b = strcmp(u->value, "yes") == 0;
        } else if (survey_is_numeric(u->q) && expr_parse_number(u->value, &out->num) == 0) {
            out->type = EXPR_NUMBER;
        } else {
            out->type = EXPR_STRING;
            out->str = u->value;
        }
        return 0;
    }
    return 0;
}

/* Evaluates a condition; *met is 1 only when it is true. -1 when out of memory. */
static int response_cond(struct response_run *run, const struct expr *x, int *met)
{
    struct expr_value v;
    if (expr_eval(x, run->a, response_lookup, run, &v) < 0)
        return -1;
    *met = expr_truthy(&v);
    return 0;
}

/* Records an accepted answer: stored with the response, and seen by later expressions. */
static int response_keep(struct response_run *run, const struct question *q, const char *value,
                         const char **list, size_t nlist)
{
    struct response *r = run->r;
    r->answers[r->nanswers].q = q;
    r->answers[r->nanswers].value = value;
    r->nanswers++;
    run->units[run->nunits++] = (struct response_unit){q, value, list, nlist};
    return 0;
}

/* ["a","b"] of values that are [a-z0-9_-]: nothing to escape. */
static const char *response_json_list(struct arena *a, const char *const *values, size_t n)
{
    struct buf b;
    buf_init(&b, a);
    buf_putc(&b, '[');
    for (size_t i = 0; i < n; i++)
        buf_printf(&b, "%s\"%s\"", i ? "," : "", values[i]);
    buf_putc(&b, ']');
    return buf_failed(&b) ? NULL : b.data;
}

/* The text of "other, please specify", required once "other" is chosen. */
static int response_other(struct response_run *run, const struct question *q, const char **key)
{
    size_t count;
    const struct form_field *fl = response_find(run->f, q->id, SURVEY_OTHER_VALUE, &count);
    const char *value, *k;
    if (count > 1) {
        *key = "error.multiple";
        return 0;
    }
    if (response_check(run->a, q->other_text, 1, fl ? fl->value : "", fl ? fl->value_len : 0,
                       &value, &k) < 0)
        return -1;
    if (k) {
        *key = strcmp(k, "error.required") == 0 ? "error.other" : k;
        return 0;
    }
    return response_keep(run, q->other_text, value, NULL, 0);
}

static int response_multiple(struct response_run *run, const struct question *q, int required,
                             const char **key)
{
    size_t total = q->nchoices + (q->other != 0);
    const char **chosen = arena_calloc(run->a, total + 1, sizeof *chosen);
    unsigned char *seen = arena_calloc(run->a, total + 1, 1);
    if (!chosen || !seen)
        return -1;
    for (size_t i = 0; i < run->f->n; i++) {
        const struct form_field *fl = &run->f->fields[i];
        if (!response_field_is(fl, q->id, NULL))
            continue;
        const char *s = fl->value;
        size_t n = fl->value_len;
        response_trim(&s, &n);
        if (n == 0)
            continue;
        size_t k = 0;
        while (k < q->nchoices &&
               !(strlen(q->choices[k].value) == n && memcmp(q->choices[k].value, s, n) == 0))
            k++;
        if (k == q->nchoices && !(q->other && response_is_choice(q, s, n))) {
            *key = "error.choice";
            return 0;
        }
        if (seen[k]) {
            *key = "error.multiple";
            return 0;
        }
        seen[k] = 1;
    }
    size_t n = 0;
    for (size_t k = 0; k < total; k++)
        if (seen[k])
            chosen[n++] = k < q->nchoices ? q->choices[k].value : SURVEY_OTHER_VALUE;
    if (n == 0) {
        if (required)
            *key = "error.required";
        return 0;
    }
    if (q->min_selected && n < q->min_selected) {
        *key = "error.min_selected";
        return 0;
    }
    if (q->max_selected && n > q->max_selected) {
        *key = "error.max_selected";
        return 0;
    }
    const char *json = response_json_list(run->a, chosen, n);
    if (!json)
        return -1;
    return response_keep(run, q, json, chosen, n);
}

/* Every choice gets its own place 1..n, or (when not required) none does. */
static int response_ranking(struct response_run *run, const struct question *q, int required,
                            const char **key)
{
    size_t n = q->nchoices;
    const char **order = arena_calloc(run->a, n + 1, sizeof *order);
    if (!order)
        return -1;
    size_t ranked = 0;
    for (size_t k = 0; k < n; k++) {
        size_t count;
        const struct form_field *fl = response_find(run->f, q->id, q->choices[k].value, &count);
        if (count > 1) {
            *key = "error.multiple";
            return 0;
        }
        const char *s = fl ? fl->value : "";
        size_t len = fl ? fl->value_len : 0;
        response_trim(&s, &len);
        if (len == 0)
            continue;
        long long place;
        if (response_parse_number(s, len, 0, &place) < 0 || place < 1 || (size_t)place > n ||
            order[place - 1]) {
            *key = "error.ranking";
            return 0;
        }
        order[place - 1] = q->choices[k].value;
        ranked++;
    }
    if (ranked == 0) {
        if (required)
            *key = "error.required";
        return 0;
    }
    if (ranked < n) {
        *key = "error.ranking";
        return 0;
    }
    const char *json = response_json_list(run->a, order, n);
    if (!json)
        return -1;
    return response_keep(run, q, json, order, n);
}

/* A single-valued question (a matrix item too). */
static int response_single(struct response_run *run, const struct question *q, int required,
                           const char **key)
{
    size_t count;
    const struct form_field *fl = response_find(run->f, q->id, NULL, &count);
    if (count > 1) {
        *key = "error.multiple";
        return 0;
    }
    const char *value;
    if (response_check(run->a, q, required, fl ? fl->value : "", fl ? fl->value_len : 0, &value,
                       key) < 0)
        return -1;
    if (*key || !value)
        return 0;
    response_keep(run, q, value, NULL, 0);
    if (q->type == Q_CHOICE && q->other && strcmp(value, SURVEY_OTHER_VALUE) == 0)
        return response_other(run, q, key);
    return 0;
}

static int response_matrix(struct response_run *run, const struct question *q, int required,
                           const char **key)
{
    const char *missing = NULL;
    for (size_t i = 0; i < q->nitems; i++) {
        const char *k = NULL;
        if (response_single(run, &q->items[i], required, &k) < 0)
            return -1;
        if (k && strcmp(k, "error.required") == 0)
            missing = "error.matrix";
        else if (k && !*key)
            *key = k;
    }
    if (!*key)
        *key = missing;
    return 0;
}

/* Checks question q; a problem goes to *key. */
static int response_question(struct response_run *run, const struct question *q, const char **key)
{
    int required = q->required;
    if (!required && q->required_if_x && response_cond(run, q->required_if_x, &required) < 0)
        return -1;
    size_t before = run->r->nanswers;
    int rc = 0;
    switch (q->type) {
    case Q_MULTIPLE:
        rc = response_multiple(run, q, required, key);
        if (rc == 0 && !*key && q->other && run->r->nanswers > before) {
            const struct response_unit *u = &run->units[run->nunits - 1];
            for (size_t i = 0; i < u->nlist && rc == 0 && !*key; i++)
                if (strcmp(u->list[i], SURVEY_OTHER_VALUE) == 0)
                    rc = response_other(run, q, key);
        }
        break;
    case Q_RANKING: rc = response_ranking(run, q, required, key); break;
    case Q_MATRIX: rc = response_matrix(run, q, required, key); break;
    case Q_NOTE: break;
    default: rc = response_single(run, q, required, key); break;
    }
    if (rc < 0)
        return -1;
    if (!*key && q->constraint_x && run->r->nanswers > before) {
        int met;
        if (response_cond(run, q->constraint_x, &met) < 0)
            return -1;
        if (!met)
            *key = "error.constraint";
    }
    if (*key) {
        /* A refused question's answers are neither stored nor seen by later questions. */
        run->nunits -= run->r->nanswers - before;
        run->r->nanswers = before;
    }
    return 0;
}

static double response_pow10(int n)
{
    double v = 1;
    while (n-- > 0)
        v *= 10;
    return v;
}

static int response_scores(struct response_run *run)
{
    const struct survey *s = run->s;
    struct response *r = run->r;
    if (s->nscales == 0)
        return 0;
    r->scores = arena_calloc(run->a, s->nscales, sizeof *r->scores);
    if (!r->scores)
        return -1;
    for (size_t i = 0; i < s->nscales; i++) {
        const struct survey_scale *sc = &s->scales[i];
        double sum = 0;
        size_t answered = 0;
        for (size_t k = 0; k < sc->nitems; k++) {
            const struct question *q = sc->items[k].q;
            const char *value = response_value(r, q);
            if (!value)
                continue;
            double v = strtod(value, NULL);
            if (sc->items[k].reverse) {
                double unit = response_pow10(q->type == Q_NUMBER ? q->decimals : 0);
                v = ((double)q->min + (double)q->max) / unit - v;
            }
            sum += v;
            answered++;
        }
        if (answered == 0 || answered < sc->min_items)
            continue;
        struct score *out = &r->scores[r->nscores++];
        out->id = sc->id;
        out->items = (int)answered;
        out->value = sc->method == SURVEY_SCALE_SUM ? sum : sum / (double)answered;
    }
    return 0;
}

const char *response_value(const struct response *r, const struct question *q)
{
    for (size_t i = 0; i < r->nanswers; i++)
        if (r->answers[i].q == q)
            return r->answers[i].value;
    return NULL;
}

int response_from_form_section(struct arena *a, const struct survey *s, const struct form *f,
                               size_t section, struct response *r)
{
    memset(r, 0, sizeof *r);
    r->survey = s;
    if (s->nquestions == 0)
        return 0;
    size_t units = 0;
    for (size_t i = 0; i < s->nquestions; i++)
        units += 1 + s->questions[i].nitems + (s->questions[i].other_text != NULL);
    const char **errors = arena_calloc(a, s->nquestions, sizeof *errors);
    struct answer *answers = arena_calloc(a, units, sizeof *answers);
    unsigned char *hidden = arena_calloc(a, s->nquestions, 1);
    struct response_unit *u = arena_calloc(a, units, sizeof *u);
    if (!errors || !answers || !hidden || !u)
        return -1;
    struct response tmp = {.survey = s, .answers = answers, .errors = errors, .hidden = hidden};
    struct response_run run = {a, s, f, &tmp, u, 0};
    for (size_t i = 0; i < s->nquestions; i++) {
        const struct question *q = &s->questions[i];
        int shown = 1;
        if (q->show_if_x && response_cond(&run, q->show_if_x, &shown) < 0)
            return -1;
        if (!shown) {
            hidden[i] = 1;
            continue;
        }
        const char *key = NULL;
        if (response_question(&run, q, &key) < 0)
            return -1;
        if (key && (section == RESPONSE_ALL_SECTIONS || q->section == section)) {
            errors[i] = key;
            tmp.nerrors++;
        }
    }
    if (response_scores(&run) < 0)
        return -1;
    *r = tmp;
    return 0;
}

int response_from_form(struct arena *a, const struct survey *s, const struct form *f,
                       struct response *r)
{
    return response_from_form_section(a, s, f, RESPONSE_ALL_SECTIONS, r);
}
