/*
 * cli: helpers shared by the subcommands.
 */
#include "cli.h"

#include "err.h"

#include <stdio.h>

void cli_print_err(const char *cmd, const struct err *e)
{
    char msg[1024];
    err_format(e, msg, sizeof msg);
    fprintf(stderr, "anketa %s: %s\n", cmd, msg);
}
