/*
 * cli: helpers shared by the subcommands.
 */
#include "cli.h"

#include "config.h"
#include "err.h"
#include "log.h"
#include "plugin.h"
#include "survey.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int cli_plugins_start(const char *cmd, const struct config *cfg, const char *file, int quiet)
{
    struct err e = {0};
    plugin_set_options(cfg->plugin_options, cfg->nplugin_options);
    survey_set_plugin_types(plugin_qtype_find, cfg->plugin_dir);
    struct stat sb;
    if (stat(cfg->plugin_dir, &sb) != 0 && errno == ENOENT) {
        log_msg(LOG_DEBUG, "no plugin directory %s: no plugins", cfg->plugin_dir);
        return 0;
    }
    struct err_list problems = {0};
    if (plugin_load_dir(cfg->plugin_dir, &problems, &e) < 0)
        err_list_add(&problems, &e);
    int rc = plugin_check_options(file ? file : "(no configuration file)", &problems, &e);
    for (size_t i = 0; i < problems.n; i++) {
        char msg[1024];
        err_format(&problems.items[i], msg, sizeof msg);
        log_msg(quiet ? LOG_DEBUG : LOG_WARN, "plugins: %s", msg);
    }
    err_list_free(&problems);
    if (rc < 0) {
        cli_print_err(cmd, &e);
        plugin_unload_all();
        return -1;
    }
    return 0;
}

int cli_plugins_load(const char *cmd, const char *config_path, const char *dir, struct config *cfg)
{
    struct err e = {0};
    struct config cli;
    config_defaults(&cli);
    char why[160];
    if (dir && config_set(&cli, CONFIG_PLUGIN_DIR, dir, why, sizeof why) < 0) {
        fprintf(stderr, "anketa %s: bad --plugin-dir \"%s\": %s\n", cmd, dir, why);
        return -1;
    }
    int loaded = config_resolve(cfg, config_path, &cli, &e);
    if (loaded < 0) {
        cli_print_err(cmd, &e);
        return -1;
    }
    return cli_plugins_start(cmd, cfg,
                             loaded ? (config_path ? config_path : CONFIG_DEFAULT_PATH) : NULL, 1);
}

void cli_print_err(const char *cmd, const struct err *e)
{
    char msg[1024];
    err_format(e, msg, sizeof msg);
    fprintf(stderr, "anketa %s: %s\n", cmd, msg);
}
