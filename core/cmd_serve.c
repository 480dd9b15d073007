/*
 * cmd_serve: `anketa serve`, the FastCGI server. Its settings come from the built-in
 * defaults, then the configuration file, then the command line (config.h).
 */
#include "cli.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "plugin.h"
#include "server.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

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
    "  --lua DIR          the indicator scripts: DIR/lib and DIR/regions (default lua)\n"
    "  --region CODE      the region (lua/regions/CODE) whose indicators are kept computed\n"
    "                     for the current school year (default: none)\n"
    "  --indicators-every S  seconds between looks for new answers or edited scripts that\n"
    "                     call for recomputing (default 300; 0: never)\n"
    "  --plugin-dir DIR   the plugins (*.so) loaded at start (default build/plugins;\n"
    "                     one that fails is logged and left out)\n"
    "  --quiet            the same as --log-level warn\n";

/* getopt values: a config key k is SERVE_KEY + k; the options that are not keys follow. */
enum {
    SERVE_KEY = 0x100,
    SERVE_OPT_CONFIG = SERVE_KEY + CONFIG_NKEYS,
    SERVE_OPT_QUIET,
    SERVE_OPT_HELP
};

/* What `anketa serve` reads again on SIGHUP: the same file with the same options over it. */
struct serve_ctx {
    const char *config_path; /* NULL: CONFIG_DEFAULT_PATH, if it exists */
    struct config cli;       /* the options given, applied over the file every time */
    struct config cfg;       /* as started; the socket and database always stay these */
    struct config again[2];  /* reloads alternate between these, see serve_reload */
};

/*
 * The server's reload hook. out arrives holding the setup in use, whose strings live in cfg
 * or in one of again[]: the new setup goes into an again[] that is not in use, so a reload
 * the server refuses later (a broken questionnaire) leaves the running strings intact.
 */
static int serve_reload(void *ctx, struct server_config *out, struct err *e)
{
    struct serve_ctx *s = ctx;
    struct config *next = out->web_dir == s->again[0].web ? &s->again[1] : &s->again[0];
    if (config_resolve(next, s->config_path, &s->cli, e) < 0)
        return -1;
    log_set_level(next->log_level);
    config_server(next, out);
    return 0;
}

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
        {"lua", required_argument, NULL, SERVE_KEY + CONFIG_LUA},
        {"region", required_argument, NULL, SERVE_KEY + CONFIG_REGION},
        {"indicators-every", required_argument, NULL, SERVE_KEY + CONFIG_INDICATORS_EVERY},
        {"plugin-dir", required_argument, NULL, SERVE_KEY + CONFIG_PLUGIN_DIR},
        {"config", required_argument, NULL, SERVE_OPT_CONFIG},
        {"quiet", no_argument, NULL, SERVE_OPT_QUIET},
        {"help", no_argument, NULL, SERVE_OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    /* Options are checked as they come, then applied over the file once it is read. */
    struct serve_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        fprintf(stderr, "anketa serve: out of memory\n");
        return 1;
    }
    struct config *cli = &ctx->cli, *cfg = &ctx->cfg;
    int status = -1; /* set when the options end the command: 0 after --help, 2 on misuse */
    int c, idx;
    while (status < 0 && (c = getopt_long(argc, argv, "", opts, &idx)) != -1) {
        char why[160];
        switch (c) {
        case SERVE_OPT_CONFIG: ctx->config_path = optarg; break;
        case SERVE_OPT_QUIET: config_set(cli, CONFIG_LOG_LEVEL, "warn", why, sizeof why); break;
        case SERVE_OPT_HELP:
            fputs(serve_usage, stdout);
            status = 0;
            break;
        default:
            if (c < SERVE_KEY || c >= SERVE_KEY + CONFIG_NKEYS) {
                fputs(serve_usage, stderr);
                status = 2;
            } else if (config_set(cli, (enum config_key)(c - SERVE_KEY), optarg, why, sizeof why) <
                       0) {
                fprintf(stderr, "anketa serve: bad --%s \"%s\": %s\n", opts[idx].name, optarg, why);
                status = 2;
            }
        }
    }
    if (status < 0 && optind != argc) {
        fputs(serve_usage, stderr);
        status = 2;
    }
    if (status >= 0) {
        free(ctx);
        return status;
    }
    struct err e = {0};
    int loaded = config_resolve(cfg, ctx->config_path, cli, &e);
    int rc = loaded;
    if (loaded >= 0) {
        log_set_level(cfg->log_level);
        log_msg(LOG_INFO, "configuration: %s",
                loaded ? (ctx->config_path ? ctx->config_path : CONFIG_DEFAULT_PATH)
                       : "built-in defaults and options");
        /* Plugins load once, before the questionnaires that may use their types; a reload
         * keeps them (and their options) as started. */
        if (cli_plugins_start("serve", cfg,
                              loaded ? (ctx->config_path ? ctx->config_path : CONFIG_DEFAULT_PATH)
                                     : NULL,
                              0) < 0) {
            free(ctx);
            return 1;
        }
        for (size_t i = 0; i < plugin_count(); i++)
            log_msg(LOG_INFO, "plugin %s %s", plugin_name(i), plugin_version(i));
        struct server_config sc = {.reload = serve_reload, .reload_ctx = ctx};
        config_server(cfg, &sc);
        rc = server_run(&sc, &e);
    }
    if (rc < 0)
        cli_print_err("serve", &e);
    /* The master and every worker return here, each with the plugins it holds. */
    plugin_unload_all();
    free(ctx);
    return rc < 0 ? 1 : 0;
}
