/*
 * form: owns the decoding of application/x-www-form-urlencoded bytes (POST bodies and query
 * strings) into name/value pairs held by the request arena.
 *
 * Byte offsets in error messages count from 0 at the start of the body, so they can be matched
 * against a logged body directly.
 */
#include "form.h"

#include "arena.h"
#include "err.h"

#include <string.h>

/* Longer names are never produced by our pages: refusing them bounds the work per field. */
#define FORM_MAX_NAME 256

static int form_hex(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Decodes body[from..to) into out (NUL-terminated) and stores the decoded length in *outlen.
 * With out NULL the bytes are only checked, so skipped segments are held to the same rules.
 */
static int form_decode(const char *body, size_t from, size_t to, char *out, size_t *outlen,
                       struct err *e)
{
    size_t n = 0;
    for (size_t i = from; i < to; i++) {
        unsigned char c = (unsigned char)body[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi = to - i >= 3 ? form_hex((unsigned char)body[i + 1]) : -1;
            int lo = to - i >= 3 ? form_hex((unsigned char)body[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return err_set(e, "", 0, 0, "bad percent escape at byte %zu", i);
            c = (unsigned char)(hi * 16 + lo);
            if (c == '\0')
                return err_set(e, "", 0, 0, "encoded NUL at byte %zu", i);
            i += 2;
        } else if (c == '\0') {
            /* Decoded strings are C strings: a raw NUL would silently cut them short. */
            return err_set(e, "", 0, 0, "NUL byte at byte %zu", i);
        }
        if (out)
            out[n] = (char)c;
        n++;
    }
    if (out)
        out[n] = '\0';
    if (outlen)
        *outlen = n;
    return 0;
}

/* The end of the segment starting at start: the next '&' or the end of the body. */
static size_t form_segment_end(const char *body, size_t start, size_t len)
{
    const char *amp = memchr(body + start, '&', len - start);
    return amp ? (size_t)(amp - body) : len;
}

/* The end of the name in segment [start, end): the first '=' or the end of the segment. */
static size_t form_name_end(const char *body, size_t start, size_t end)
{
    const char *eq = memchr(body + start, '=', end - start);
    return eq ? (size_t)(eq - body) : end;
}

int form_parse(struct arena *a, const char *body, size_t len, struct form *out, struct err *e)
{
    out->fields = NULL;
    out->n = 0;

    /* Every encoded byte decodes to at least one byte, so an empty encoded name is exactly
     * an empty decoded name: the count of named segments sizes the array. */
    size_t named = 0;
    for (size_t start = 0, end; start < len; start = end + 1) {
        end = form_segment_end(body, start, len);
        if (form_name_end(body, start, end) > start)
            named++;
    }
    if (named > FORM_MAX_FIELDS)
        named = FORM_MAX_FIELDS;
    struct form_field *fields = NULL;
    if (named > 0) {
        fields = arena_calloc(a, named, sizeof *fields);
        if (!fields) {
            err_set(e, "", 0, 0, "out of memory");
            return FORM_NO_MEMORY;
        }
    }

    size_t n = 0;
    for (size_t start = 0, end; start < len; start = end + 1) {
        end = form_segment_end(body, start, len);
        size_t name_end = form_name_end(body, start, end);
        size_t value_start = name_end < end ? name_end + 1 : end;
        if (name_end == start) {
            if (form_decode(body, value_start, end, NULL, NULL, e) < 0)
                return -1;
            continue;
        }
        if (n == FORM_MAX_FIELDS)
            return err_set(e, "", 0, 0, "more than %d fields at byte %zu", FORM_MAX_FIELDS, start);
        /* One block per field: the decoded name, its NUL, the decoded value, its NUL. */
        char *block = arena_alloc(a, end - start + 2);
        if (!block) {
            err_set(e, "", 0, 0, "out of memory");
            return FORM_NO_MEMORY;
        }
        size_t name_len, value_len;
        if (form_decode(body, start, name_end, block, &name_len, e) < 0)
            return -1;
        if (name_len > FORM_MAX_NAME)
            return err_set(e, "", 0, 0, "field name longer than %d bytes at byte %zu",
                           FORM_MAX_NAME, start);
        char *value = block + name_len + 1;
        if (form_decode(body, value_start, end, value, &value_len, e) < 0)
            return -1;
        fields[n].name = block;
        fields[n].value = value;
        fields[n].value_len = value_len;
        n++;
    }
    out->fields = fields;
    out->n = n;
    return 0;
}

const char *form_get(const struct form *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->fields[i].name, name) == 0)
            return f->fields[i].value;
    return NULL;
}

size_t form_count(const struct form *f, const char *name)
{
    size_t count = 0;
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->fields[i].name, name) == 0)
            count++;
    return count;
}

size_t form_utf8_len(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
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
    if (n - 1 < more || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t k = 2; k <= more; k++)
        if ((p[k] & 0xc0) != 0x80)
            return 0;
    return more + 1;
}

const char *form_shown(struct arena *a, const char *value)
{
    size_t n = strlen(value);
    /* Each bad byte grows by at most two: U+FFFD is three bytes. */
    char *out = arena_alloc(a, 3 * n + 1);
    if (!out)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        size_t len = form_utf8_len(value + i, n - i);
        if (len) {
            memcpy(out + k, value + i, len);
            k += len;
            i += len;
        } else {
            memcpy(out + k, "\xEF\xBF\xBD", 3);
            k += 3;
            i++;
        }
    }
    out[k] = '\0';
    return out;
}
