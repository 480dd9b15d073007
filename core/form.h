/*
 * form: application/x-www-form-urlencoded bodies and query strings.
 *
 * Parsing is strict: a '%' not followed by two hex digits, an encoded NUL, or more than
 * FORM_MAX_FIELDS fields is an error (the request is answered 400), never guessed at.
 * Names and values are decoded ('+' is a space) into the request arena. Repeated names are
 * all kept, in order, so the caller decides whether a repeat is legal.
 */
#ifndef ANKETA_FORM_H
#define ANKETA_FORM_H

#include <stddef.h>

struct arena;
struct err;

#define FORM_MAX_FIELDS 1000

struct form_field {
    const char *name;
    const char *value;
    size_t value_len;
};

struct form {
    struct form_field *fields;
    size_t n;
};

/* form_parse's result when it could not allocate: a failure of ours (500), not of the bytes. */
#define FORM_NO_MEMORY (-2)

/* 0; -1 when the bytes are not a form (the request is answered 400); FORM_NO_MEMORY. */
int form_parse(struct arena *a, const char *body, size_t len, struct form *out, struct err *e);

/* The first value of name, or NULL. */
const char *form_get(const struct form *f, const char *name);

/* How many times name occurs. */
size_t form_count(const struct form *f, const char *name);

/*
 * The length of the well-formed UTF-8 sequence at the start of s[0..n), n > 0: 1 for any
 * ASCII byte, 0 when the bytes are not one (overlong forms, UTF-16 surrogates, code points
 * beyond U+10FFFF and truncated sequences are not).
 */
size_t form_utf8_len(const char *s, size_t n);

/*
 * A copy of value in a, with every byte that is not part of well-formed UTF-8 replaced by
 * U+FFFD; NULL when out of memory. What a page shows back of a value it refuses: the
 * templates' JSON context holds UTF-8 only, and would refuse the page instead.
 */
const char *form_shown(struct arena *a, const char *value);

#endif
