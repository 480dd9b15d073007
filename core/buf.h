/*
 * buf: a growable byte string in an arena, for building responses.
 *
 * Appends never fail loudly: the first allocation failure sets a sticky flag and later
 * appends do nothing, so a renderer checks buf_failed() once at the end instead of after
 * every append. The bytes are always NUL-terminated when the buffer is not failed.
 */
#ifndef ANKETA_BUF_H
#define ANKETA_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct arena;

struct buf {
    struct arena *arena;
    char *data;
    size_t len;
    size_t cap;
    int failed;
};

void buf_init(struct buf *b, struct arena *a);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends s with & < > " ' replaced by entities: safe in element text and quoted attributes. */
void buf_put_html(struct buf *b, const char *s, size_t n);

/* Appends s percent-encoded for a URL path segment or query value (RFC 3986 unreserved kept). */
void buf_put_url(struct buf *b, const char *s, size_t n);

int buf_failed(const struct buf *b);

#endif
