/*
 * err: filling and printing struct err.
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int err_set(struct err *e, const char *file, int line, int col, const char *fmt, ...)
{
    if (!e)
        return -1;
    snprintf(e->file, sizeof e->file, "%s", file ? file : "");
    e->line = line;
    e->col = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

void err_format(const struct err *e, char *out, size_t size)
{
    if (e->file[0] && e->line > 0 && e->col > 0)
        snprintf(out, size, "%s:%d:%d: %s", e->file, e->line, e->col, e->msg);
    else if (e->file[0] && e->line > 0)
        snprintf(out, size, "%s:%d: %s", e->file, e->line, e->msg);
    else if (e->file[0])
        snprintf(out, size, "%s: %s", e->file, e->msg);
    else
        snprintf(out, size, "%s", e->msg);
}

void err_list_add(struct err_list *l, const struct err *e)
{
    size_t max = l->max ? l->max : 100;
    if (l->n >= max) {
        l->dropped++;
        return;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct err *items = realloc(l->items, cap * sizeof *items);
        if (!items) {
            l->dropped++;
            return;
        }
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = *e;
}

int err_list_set(struct err_list *l, const char *file, int line, int col, const char *fmt, ...)
{
    struct err e;
    snprintf(e.file, sizeof e.file, "%s", file ? file : "");
    e.line = line;
    e.col = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.msg, sizeof e.msg, fmt, ap);
    va_end(ap);
    err_list_add(l, &e);
    return -1;
}

size_t err_list_count(const struct err_list *l)
{
    return l->n + l->dropped;
}

void err_list_free(struct err_list *l)
{
    free(l->items);
    l->items = NULL;
    l->n = l->cap = l->dropped = 0;
}
