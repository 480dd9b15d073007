/*
 * cmd_serve: `anketa serve`, the FastCGI server. Its settings come from the built-in
 * defaults, then the configuration file, then the command line (config.h).
 */
#include "cli.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "server.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char serve_usage[] =
    "usage: anketa serve [options]\n"
    "Serves questionnaires over FastCGI on a unix socket, for nginx.\n"
    "Settings come from the configuration file, then these options (which win):\n"
    "  --config FILE      configuration file (default " CONFIG_DEFAULT_PATH ", if it exists)\n"
    "  --socket PATH      socket to listen on (default var/anketa.sock)\n"
    "  --socket-mode OCT  permissions of the socket (default 0660; nginx's user must connect)\n"
    "  --workers N        worker processes, or auto (default: one per CPU)\n"
    "  --db PATH          SQLite database (default var/anketa.db; created and migrated)\n"
    "  --surveys DIR      questionnaire YAML files (default surveys)\n"
    "  --web DIR          templates and words (default web)\n"
    "  --max-body SIZE    largest request body, e.g. 1m (default 1m; match nginx's\n"
    "                     client_max_body_size)\n"
    "  --synchronous MODE FULL (default: an answered questionnaire survives power loss)\n"
    "                     or NORMAL (survives a crash of anketa, not of the machine)\n"
    "  --log-level LEVEL  debug, info (default), warn or error\n"
    "  --quiet            the same as --log-level warn\n";

/* getopt values: a config key k is SERVE_KEY + k; the options that are not keys follow. */
enum {
    SERVE_KEY = 0x100,
    SERVE_OPT_CONFIG = SERVE_KEY + CONFIG_NKEYS,
    SERVE_OPT_QUIET,
    SERVE_OPT_HELP
};

int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", required_argument, NULL, SERVE_KEY + CONFIG_SOCKET},
        {"socket-mode", required_argument, NULL, SERVE_KEY + CONFIG_SOCKET_MODE},
        {"workers", required_argument, NULL, SERVE_KEY + CONFIG_WORKERS},
        {"db", required_argument, NULL, SERVE_KEY + CONFIG_DB},
        {"surveys", required_argument, NULL, SERVE_KEY + CONFIG_SURVEYS},
        {"web", required_argument, NULL, SERVE_KEY + CONFIG_WEB},
        {"max-body", required_argument, NULL, SERVE_KEY + CONFIG_MAX_BODY},
        {"synchronous", required_argument, NULL, SERVE_KEY + CONFIG_SYNCHRONOUS},
        {"log-level", required_argument, NULL, SERVE_KEY + CONFIG_LOG_LEVEL},
        {"config", required_argument, NULL, SERVE_OPT_CONFIG},
        {"quiet", no_argument, NULL, SERVE_OPT_QUIET},
        {"help", no_argument, NULL, SERVE_OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    /* Options are checked as they come, then applied over the file once it is read. */
    struct config cli, cfg;
    memset(&cli, 0, sizeof cli);
    const char *config_path = NULL;
    int c, idx;
    while ((c = getopt_long(argc, argv, "", opts, &idx)) != -1) {
        char why[160];
        switch (c) {
        case SERVE_OPT_CONFIG: config_path = optarg; break;
        case SERVE_OPT_QUIET: config_set(&cli, CONFIG_LOG_LEVEL, "warn", why, sizeof why); break;
        case SERVE_OPT_HELP: fputs(serve_usage, stdout); return 0;
        default:
            if (c < SERVE_KEY || c >= SERVE_KEY + CONFIG_NKEYS) {
                fputs(serve_usage, stderr);
                return 2;
            }
            if (config_set(&cli, (enum config_key)(c - SERVE_KEY), optarg, why, sizeof why) < 0) {
                fprintf(stderr, "anketa serve: bad --%s \"%s\": %s\n", opts[idx].name, optarg, why);
                return 2;
            }
        }
    }
    if (optind != argc) {
        fputs(serve_usage, stderr);
        return 2;
    }
    struct err e = {0};
    config_defaults(&cfg);
    const char *path = config_path ? config_path : CONFIG_DEFAULT_PATH;
    int loaded = config_load(&cfg, path, config_path == NULL, &e);
    if (loaded < 0) {
        cli_print_err("serve", &e);
        return 1;
    }
    config_merge(&cfg, &cli);
    log_set_level(cfg.log_level);
    log_msg(LOG_INFO, "configuration: %s", loaded ? path : "built-in defaults and options");
    struct server_config sc;
    config_server(&cfg, &sc);
    if (server_run(&sc, &e) < 0) {
        cli_print_err("serve", &e);
        return 1;
    }
    return 0;
}
