/*
 * main: the anketa command line: dispatches to the subcommands of cli.h.
 */
#include "cli.h"
#include "crypto.h"
#include "store.h"

#include <stdio.h>
#include <string.h>

/* The version is kept in the file VERSION; the Makefile passes it in. */
#ifndef ANKETA_VERSION
#error "build with -DANKETA_VERSION='\"x.y.z\"' (the Makefile reads it from VERSION)"
#endif

struct cmd {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("anketa %s (database schema %d)\n", ANKETA_VERSION, store_schema_latest());
    return 0;
}

static int cmd_help(int argc, char **argv);

static const struct cmd main_cmds[] = {
    {"serve", "serve questionnaires over FastCGI", cmd_serve},
    {"check", "check questionnaire files", cmd_check},
    {"init", "create or upgrade the database", cmd_init},
    {"demo", "add the demonstration region and print its links", cmd_demo},
    {"import", "import organisations, programmes, participants, pairs, figures (CSV)", cmd_import},
    {"campaign", "open, close, list questionnaire campaigns; response rates", cmd_campaign},
    {"links", "write a campaign's personal links as CSV", cmd_links},
    {"revoke", "revoke a personal link", cmd_revoke},
    {"participant", "erase a participant and their answers", cmd_participant},
    {"user", "add, change, disable and list the people who sign in", cmd_user},
    {"audit", "print the audit log", cmd_audit},
    {"backup", "copy the database while serving", cmd_backup},
    {"restore", "replace the database with a backup", cmd_restore},
    {"doctor", "check an installation and say what to fix", cmd_doctor},
    {"indicators", "check, compute and test the region's indicator scripts", cmd_indicators},
    {"export", "write responses, participants or indicators as CSV, XLSX, JSON", cmd_export},
    {"version", "print the version", cmd_version},
    {"help", "list the commands", cmd_help},
};

static int cmd_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("usage: anketa COMMAND [options]   (anketa COMMAND --help for its options)\n\n");
    for (size_t i = 0; i < sizeof main_cmds / sizeof *main_cmds; i++)
        printf("  %-8s %s\n", main_cmds[i].name, main_cmds[i].summary);
    return 0;
}

int main(int argc, char **argv)
{
    if (crypto_setup() < 0) {
        fprintf(stderr, "anketa: cannot initialise libsodium\n");
        return 1;
    }
    if (argc < 2) {
        cmd_help(0, NULL);
        return 2;
    }
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(0, NULL);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return cmd_help(0, NULL);
    for (size_t i = 0; i < sizeof main_cmds / sizeof *main_cmds; i++)
        if (strcmp(argv[1], main_cmds[i].name) == 0)
            return main_cmds[i].run(argc - 1, argv + 1);
    fprintf(stderr, "anketa: unknown command \"%s\" (see anketa help)\n", argv[1]);
    return 2;
}
