/*
 * err: filling and printing struct err.
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
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
