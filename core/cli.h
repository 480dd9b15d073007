/*
 * cli: the subcommands of the anketa program. Each lives in its own cmd_*.c file, parses its
 * own options (getopt_long, with --help), does its work through the engine's modules, and
 * returns the process exit status: 0 success, 1 failure (reported on stderr), 2 usage error.
 * main.c only dispatches; nothing here exits the process.
 */
#ifndef ANKETA_CLI_H
#define ANKETA_CLI_H

struct err;

int cmd_serve(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_campaign(int argc, char **argv);
int cmd_links(int argc, char **argv);
int cmd_revoke(int argc, char **argv);
int cmd_participant(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_indicators(int argc, char **argv);
int cmd_export(int argc, char **argv);

/* Prints "anketa CMD: FILE:LINE:COL: message" on stderr. */
void cli_print_err(const char *cmd, const struct err *e);

#endif
