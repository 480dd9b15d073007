/*
 * response: owns the server-side validation of one survey's posted answers and their
 * normalised form (the values that are stored).
 */
#include "response.h"

#include "arena.h"
#include "form.h"
#include "survey.h"

#include <stdio.h>
#include <string.h>

/* 18 decimal digits always fit a 64-bit integer, so parsing never has to detect overflow. */
#define RESPONSE_MAX_DIGITS 18

static int response_field_is(const struct form_field *fl, const struct question *q)
{
    return strncmp(fl->name, "q.", 2) == 0 && strcmp(fl->name + 2, q->id) == 0;
}

/* The first field answering q (NULL when none) and how many there are. */
static const struct form_field *response_find(const struct form *f, const struct question *q,
                                              size_t *count)
{
    const struct form_field *first = NULL;
    *count = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (!response_field_is(&f->fields[i], q))
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
    const struct form_field *fl = response_find(f, q, &count);
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

/* An optional '-' and 1 to RESPONSE_MAX_DIGITS decimal digits, nothing else. */
static int response_parse_int(const char *s, size_t n, long long *out)
{
    size_t i = 0;
    int negative = 0;
    if (n > 0 && s[0] == '-') {
        negative = 1;
        i = 1;
    }
    if (i == n || n - i > RESPONSE_MAX_DIGITS)
        return -1;
    long long v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = negative ? -v : v;
    return 0;
}

static int response_is_choice(const struct question *q, const char *s, size_t n)
{
    for (size_t i = 0; i < q->nchoices; i++) {
        const char *v = q->choices[i].value;
        if (strlen(v) == n && memcmp(v, s, n) == 0)
            return 1;
    }
    return 0;
}

/*
 * Checks one raw answer of q. Returns -1 only when out of memory; otherwise sets either *key
 * (an error key) or *value (the normalised answer in the arena, NULL when unanswered).
 */
static int response_check(struct arena *a, const struct question *q, const char *raw, size_t n,
                          const char **value, const char **key)
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
        if (q->required)
            *key = "error.required";
        return 0;
    }

    long long v;
    char digits[32];
    switch (q->type) {
    case Q_YESNO:
        if (!(n == 3 && memcmp(s, "yes", 3) == 0) && !(n == 2 && memcmp(s, "no", 2) == 0)) {
            *key = "error.choice";
            return 0;
        }
        break;
    case Q_CHOICE:
        if (!response_is_choice(q, s, n)) {
            *key = "error.choice";
            return 0;
        }
        break;
    case Q_SCALE:
    case Q_NUMBER:
        if (response_parse_int(s, n, &v) < 0) {
            *key = "error.integer";
            return 0;
        }
        if ((q->type == Q_SCALE || q->has_min) && v < q->min) {
            *key = "error.range";
            return 0;
        }
        if ((q->type == Q_SCALE || q->has_max) && v > q->max) {
            *key = "error.range";
            return 0;
        }
        snprintf(digits, sizeof digits, "%lld", v);
        s = digits;
        n = strlen(digits);
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
        /* Already a trimmed, NUL-terminated copy in the arena. */
        *value = s;
        return 0;
    }
    *value = arena_strndup(a, s, n);
    return *value ? 0 : -1;
}

int response_from_form(struct arena *a, const struct survey *s, const struct form *f,
                       struct response *r)
{
    r->survey = s;
    r->answers = NULL;
    r->nanswers = 0;
    r->errors = NULL;
    r->nerrors = 0;
    r->scores = NULL;
    r->nscores = 0;
    if (s->nquestions == 0)
        return 0;

    const char **errors = arena_calloc(a, s->nquestions, sizeof *errors);
    struct answer *answers = arena_calloc(a, s->nquestions, sizeof *answers);
    if (!errors || !answers)
        return -1;

    size_t nanswers = 0, nerrors = 0;
    for (size_t i = 0; i < s->nquestions; i++) {
        const struct question *q = &s->questions[i];
        size_t count;
        const struct form_field *fl = response_find(f, q, &count);
        if (count > 1) {
            errors[i] = "error.multiple";
            nerrors++;
            continue;
        }
        const char *value, *key;
        if (response_check(a, q, fl ? fl->value : "", fl ? fl->value_len : 0, &value, &key) < 0)
            return -1;
        if (key) {
            errors[i] = key;
            nerrors++;
        } else if (value) {
            answers[nanswers].q = q;
            answers[nanswers].value = value;
            nanswers++;
        }
    }
    r->answers = answers;
    r->nanswers = nanswers;
    r->errors = errors;
    r->nerrors = nerrors;
    return 0;
}
