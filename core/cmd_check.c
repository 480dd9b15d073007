/*
 * cmd_check: `anketa check`, questionnaire (and template) checking for authors.
 */
#include "app.h"
#include "cli.h"
#include "config.h"
#include "err.h"
#include "plugin.h"
#include "survey.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static const char check_usage[] =
    "usage: anketa check [--web DIR] [--config FILE] [--plugin-dir DIR] PATH...\n"
    "Checks questionnaire files (a PATH may be a directory of *.yaml files) and prints\n"
    "every problem as FILE:LINE:COL: message. Exits 1 when any file is broken.\n"
    "  --web DIR         also check the templates and words of DIR (e.g. web)\n"
    "  --config FILE     where plugin_dir and the plugins' options are read (default\n"
    "                    " CONFIG_DEFAULT_PATH ", if it exists)\n"
    "  --plugin-dir DIR  the plugins whose question types (type: x-...) the files use\n";

static int check_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The checks, once the plugins whose question types the files may use are loaded. */
static int check_run(int argc, char **argv, const char *web)
{
    int bad = 0, good = 0;
    struct err_list errs = {.max = SURVEY_MAX_ERRORS * 10};
    for (int i = optind; i < argc; i++) {
        size_t before = err_list_count(&errs);
        if (check_is_dir(argv[i])) {
            struct survey_set set;
            if (survey_set_load_dir_all(argv[i], &set, &errs) == 0) {
                good += (int)set.n;
                survey_set_free(&set);
            }
        } else {
            struct survey *s;
            if (survey_load_all(argv[i], &s, &errs) == 0) {
                good++;
                survey_free(s);
            }
        }
        bad += err_list_count(&errs) > before;
    }
    for (size_t i = 0; i < errs.n; i++)
        cli_print_err("check", &errs.items[i]);
    if (errs.dropped)
        fprintf(stderr, "anketa check: ... and %zu more problem%s\n", errs.dropped,
                errs.dropped == 1 ? "" : "s");
    if (errs.n + errs.dropped)
        fprintf(stderr, "anketa check: %zu problem%s found\n", errs.n + errs.dropped,
                errs.n + errs.dropped == 1 ? "" : "s");
    err_list_free(&errs);
    struct err e = {0};
    /* The pages are built from the questionnaires: checked once these are sound. */
    if (web && bad == 0) {
        struct app_defs defs;
        if (app_defs_load(&defs, optind < argc ? argv[optind] : "surveys", web, &e) < 0) {
            cli_print_err("check", &e);
            bad++;
        } else {
            app_defs_free(&defs);
        }
    }
    if (bad)
        return 1;
    printf("anketa check: %d questionnaire%s OK\n", good, good == 1 ? "" : "s");
    return 0;
}

int cmd_check(int argc, char **argv)
{
    static const struct option opts[] = {
        {"web", required_argument, NULL, 'W'},
        {"config", required_argument, NULL, 'c'},
        {"plugin-dir", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *web = NULL, *config_path = NULL, *plugin_dir = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'W': web = optarg; break;
        case 'c': config_path = optarg; break;
        case 'P': plugin_dir = optarg; break;
        case 'h': fputs(check_usage, stdout); return 0;
        default: fputs(check_usage, stderr); return 2;
        }
    }
    if (optind == argc && !web) {
        fputs(check_usage, stderr);
        return 2;
    }
    /* Owns the plugins' options; the plugins stay loaded until every survey is freed. */
    struct config *cfg = malloc(sizeof *cfg);
    if (!cfg || cli_plugins_load("check", config_path, plugin_dir, cfg) < 0) {
        free(cfg);
        return 1;
    }
    int rc = check_run(argc, argv, web);
    plugin_unload_all();
    free(cfg);
    return rc;
}
