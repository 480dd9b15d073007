/*
 * cli: the subcommands of the anketa program. Each lives in its own cmd_*.c file, parses its
 * own options (getopt_long, with --help), does its work through the engine's modules, and
 * returns the process exit status: 0 success, 1 failure (reported on stderr), 2 usage error.
 * main.c only dispatches; nothing here exits the process.
 */
#ifndef ANKETA_CLI_H
#define ANKETA_CLI_H

struct config;
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

/*
 * Loads the plugins for a command: plugin_dir and the plugins' options come from the
 * configuration file (config_path, or CONFIG_DEFAULT_PATH when it exists), then dir (the
 * --plugin-dir option) when not NULL. A plugin that cannot load is left out, logged only at
 * debug level: a command's output must not fill with the complaints of plugins it does not
 * use (jsonl without its path); the command says what it misses (export: the format). A
 * directory that does not exist loads none. Fails (with the error printed) only
 * on a broken configuration or an unknown option of a loaded plugin. cfg receives the
 * configuration and must outlive the plugins (they read their options from it); the caller
 * ends with plugin_unload_all().
 */
int cli_plugins_load(const char *cmd, const char *config_path, const char *dir, struct config *cfg);

/* The same for a configuration already resolved, read from file (NULL: none was read); with
 * quiet unset (anketa serve), a plugin left out is logged as a warning. */
int cli_plugins_start(const char *cmd, const struct config *cfg, const char *file, int quiet);

/* Prints "anketa CMD: FILE:LINE:COL: message" on stderr. */
void cli_print_err(const char *cmd, const struct err *e);

#endif
