/*
 * fuzz_common: owns the helpers every harness of tests/fuzz links (fuzz_common.h).
 */
#include "fuzz_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long fuzz_fault_prefix(const uint8_t **data, size_t *size)
{
    if (*size < 3 || (*data)[0] != FUZZ_FAULT_BYTE)
        return 0;
    long n = 1 + (long)(((unsigned)(*data)[1] | (unsigned)(*data)[2] << 8) & 0x3fff);
    *data += 3;
    *size -= 3;
    return n;
}

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%d: invariant broken: %s: ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return NULL;
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* The length of the well-formed sequence at s[i..n), or 0 when there is none. */
static size_t fuzz_utf8_seq(const unsigned char *s, size_t i, size_t n)
{
    unsigned c = s[i];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (n - i < len)
        return 0;
    if (s[i + 1] < lo || s[i + 1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++) {
        if (s[i + k] < 0x80 || s[i + k] > 0xbf)
            return 0;
    }
    return len;
}

int fuzz_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t len = fuzz_utf8_seq(u, i, n);
        if (!len)
            return 0;
        i += len;
    }
    return 1;
}

void fuzz_utf8_sanitize(char *s, size_t n)
{
    unsigned char *u = (unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t len = fuzz_utf8_seq(u, i, n);
        if (len) {
            i += len;
        } else {
            u[i] = '?';
            i++;
        }
    }
}

size_t fuzz_split(const uint8_t *data, size_t size, const uint8_t **rest, size_t *restlen)
{
    const uint8_t *nul = size ? memchr(data, '\0', size) : NULL;
    if (!nul) {
        *rest = NULL;
        *restlen = 0;
        return size;
    }
    *rest = nul + 1;
    *restlen = size - (size_t)(nul - data) - 1;
    return (size_t)(nul - data);
}
