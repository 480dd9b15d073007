/*
 * cli: helpers shared by the subcommands.
 */
#include "cli.h"

#include "err.h"

#include <stdio.h>
#include <stdlib.h>

void cli_print_err(const char *cmd, const struct err *e)
{
    char msg[1024];
    err_format(e, msg, sizeof msg);
    fprintf(stderr, "anketa %s: %s\n", cmd, msg);
}

/* Parses a positive decimal option value with an optional k/m suffix (bytes). */
int cli_size(const char *s, size_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || s[0] == '-')
        return -1;
    if (*end == 'k' || *end == 'K')
        v *= 1024, end++;
    else if (*end == 'm' || *end == 'M')
        v *= 1024 * 1024, end++;
    if (*end || v == 0)
        return -1;
    *out = (size_t)v;
    return 0;
}
