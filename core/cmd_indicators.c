/*
 * cmd_indicators: `anketa indicators check|run|test`, the methodologist's commands for a
 * region's indicator scripts (docs/indicators.md).
 */
#include "cli.h"
#include "config.h"
#include "err.h"
#include "indicator.h"
#include "plugin.h"
#include "registry.h"

#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char indicators_usage[] =
    "usage: anketa indicators check [DIR] [--lua DIR]\n"
    "       anketa indicators run --region R --period P [--org CODE] [--explain] [--db PATH]\n"
    "                             [--lua DIR] [--timeout MS] [--memory MB] [--cpu S]\n"
    "                             [--config FILE] [--plugin-dir DIR]\n"
    "       anketa indicators test DIR [--lua DIR]\n"
    "check  loads and checks every indicator file (of the region directory DIR, or of every\n"
    "       region under DIR/regions) and prints each problem as FILE:LINE: message.\n"
    "run    computes every indicator of region R for period P (2026/27, 2026/27-H1,\n"
    "       2026/27-Q3) for the region's organisations (or those below --org), stores the\n"
    "       values and prints num, den, value and target; --explain also prints what each\n"
    "       organisation's figures, counts and scores were.\n"
    "test   runs the *_test.lua files of the region directory DIR against their fixtures.\n"
    "  --lua DIR      the scripts: DIR/lib and DIR/regions/R (default lua)\n"
    "  --db PATH      the database (default var/anketa.db)\n"
    "  --timeout MS   each indicator's time limit (default 1000)\n"
    "  --memory MB    each indicator's memory limit (default 64)\n"
    "  --cpu S        the CPU limit of the whole computation (default 60)\n"
    "  --config FILE, --plugin-dir DIR  run tells the plugins' event hooks once the values\n"
    "                 are stored; the plugins and their options come from these (as for serve)\n";

static int indicators_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Prints the problems of a set that were not printed yet (library files are shared). */
static size_t indicators_print_problems(const struct indicator_set *set, const char *prefix,
                                        char ***seen, size_t *nseen)
{
    struct err_list errs = {0};
    indicator_set_problems(set, &errs);
    size_t printed = 0;
    for (size_t i = 0; i < errs.n; i++) {
        size_t j = 0;
        while (j < *nseen && strcmp((*seen)[j], errs.items[i].file) != 0)
            j++;
        if (j < *nseen)
            continue;
        char **p = realloc(*seen, (*nseen + 1) * sizeof **seen);
        char *copy = strdup(errs.items[i].file);
        if (p && copy) {
            *seen = p;
            (*seen)[(*nseen)++] = copy;
        } else {
            free(copy);
            *seen = p ? p : *seen;
        }
        char msg[1024];
        err_format(&errs.items[i], msg, sizeof msg);
        fprintf(stderr, "%s%s\n", prefix, msg);
        printed++;
    }
    err_list_free(&errs);
    return printed;
}

/* Checks one region directory; returns the number of problems (or -1). */
static long indicators_check_region(const char *region_dir, const char *lib_dir, char ***seen,
                                    size_t *nseen)
{
    struct err e = {0};
    struct indicator_set *set;
    if (indicator_set_load(region_dir, lib_dir, &set, &e) < 0) {
        cli_print_err("indicators", &e);
        return -1;
    }
    struct err_list errs = {0};
    size_t problems = indicator_set_problems(set, &errs);
    err_list_free(&errs);
    indicators_print_problems(set, "", seen, nseen);
    printf("%s: %zu indicator%s, %zu problem%s\n", region_dir, indicator_set_count(set),
           indicator_set_count(set) == 1 ? "" : "s", problems, problems == 1 ? "" : "s");
    indicator_set_free(set);
    return (long)problems;
}

static int indicators_check(const char *dir, const char *lua)
{
    char lib[4096], regions[4096];
    char **seen = NULL;
    size_t nseen = 0;
    long problems = 0;
    const char *root = dir ? dir : lua;
    snprintf(regions, sizeof regions, "%s/regions", root);
    if (indicators_is_dir(regions)) {
        snprintf(lib, sizeof lib, "%s/lib", root);
        DIR *d = opendir(regions);
        if (!d) {
            fprintf(stderr, "anketa indicators: %s: cannot read the directory\n", regions);
            return 1;
        }
        char **names = NULL;
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", regions, de->d_name);
            if (de->d_name[0] == '.' || !indicators_is_dir(path))
                continue;
            char **p = realloc(names, (n + 1) * sizeof *names);
            if (!p)
                break;
            names = p;
            if ((names[n] = strdup(path)) != NULL)
                n++;
        }
        closedir(d);
        for (size_t i = 0; i < n; i++) {
            for (size_t j = i + 1; j < n; j++) {
                if (strcmp(names[j], names[i]) < 0) {
                    char *t = names[i];
                    names[i] = names[j];
                    names[j] = t;
                }
            }
        }
        for (size_t i = 0; i < n; i++) {
            long p = indicators_check_region(names[i], lib, &seen, &nseen);
            problems += p < 0 ? 1 : p;
            free(names[i]);
        }
        free(names);
        if (n == 0)
            printf("%s: no regions\n", regions);
    } else {
        snprintf(lib, sizeof lib, "%s/lib", lua);
        long p = indicators_check_region(root, lib, &seen, &nseen);
        problems += p < 0 ? 1 : p;
    }
    for (size_t i = 0; i < nseen; i++)
        free(seen[i]);
    free(seen);
    return problems ? 1 : 0;
}

/* Loads lua/regions/R, warning about files whose last good version is used instead. */
static struct indicator_set *indicators_load(const char *region_dir, const char *lua)
{
    char lib[4096];
    snprintf(lib, sizeof lib, "%s/lib", lua);
    struct err e = {0};
    struct indicator_set *set;
    if (indicator_set_load(region_dir, lib, &set, &e) < 0) {
        cli_print_err("indicators", &e);
        return NULL;
    }
    char **seen = NULL;
    size_t nseen = 0;
    indicators_print_problems(set, "anketa indicators: warning: ", &seen, &nseen);
    for (size_t i = 0; i < nseen; i++)
        free(seen[i]);
    free(seen);
    return set;
}

static int indicators_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int cmd_indicators(int argc, char **argv)
{
    static const struct option opts[] = {
        {"lua", required_argument, NULL, 'l'},
        {"db", required_argument, NULL, 'd'},
        {"region", required_argument, NULL, 'r'},
        {"period", required_argument, NULL, 'p'},
        {"org", required_argument, NULL, 'o'},
        {"explain", no_argument, NULL, 'x'},
        {"timeout", required_argument, NULL, 't'},
        {"memory", required_argument, NULL, 'm'},
        {"cpu", required_argument, NULL, 'c'},
        {"config", required_argument, NULL, 'C'},
        {"plugin-dir", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *lua = "lua", *region = NULL, *config_path = NULL, *plugin_dir = NULL;
    struct indicator_job job = {.db = "var/anketa.db", .print = stdout};
    long v;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': lua = optarg; break;
        case 'd': job.db = optarg; break;
        case 'r': region = optarg; break;
        case 'p': job.run.period = optarg; break;
        case 'o': job.run.org = optarg; break;
        case 'x': job.run.explain = 1; break;
        case 't':
            if (indicators_long(optarg, 10, 600000, &v) < 0)
                goto usage;
            job.run.limits.time_ms = v;
            break;
        case 'm':
            if (indicators_long(optarg, 4, 4096, &v) < 0)
                goto usage;
            job.run.limits.memory = (size_t)v << 20;
            break;
        case 'c':
            if (indicators_long(optarg, 1, 86400, &v) < 0)
                goto usage;
            job.cpu_seconds = v;
            break;
        case 'C': config_path = optarg; break;
        case 'P': plugin_dir = optarg; break;
        case 'h': fputs(indicators_usage, stdout); return 0;
        default: goto usage;
        }
    }
    const char *verb = optind < argc ? argv[optind] : "";
    int nargs = argc - optind - 1;
    if (strcmp(verb, "check") == 0 && nargs <= 1)
        return indicators_check(nargs ? argv[optind + 1] : NULL, lua);
    if (strcmp(verb, "test") == 0 && nargs == 1) {
        struct indicator_set *set = indicators_load(argv[optind + 1], lua);
        if (!set)
            return 1;
        const char *tmp = getenv("TMPDIR");
        struct indicator_test_result res;
        struct err e = {0};
        int rc =
            indicator_test_dir(set, argv[optind + 1], tmp && *tmp ? tmp : "/tmp", stdout, &res, &e);
        indicator_set_free(set);
        if (rc < 0) {
            cli_print_err("indicators", &e);
            return 1;
        }
        printf("%ld file%s: %ld passed, %ld failed\n", res.files, res.files == 1 ? "" : "s",
               res.passed, res.failed);
        return res.failed ? 1 : 0;
    }
    if (strcmp(verb, "run") == 0 && nargs == 0) {
        struct period p;
        if (!region || !registry_code_valid(region) || !job.run.period ||
            registry_period_parse(job.run.period, &p) < 0) {
            fprintf(stderr,
                    "anketa indicators: run needs --region (a directory of %s/regions) "
                    "and --period (such as 2026/27, 2026/27-H1, 2026/27-Q3)\n",
                    lua);
            return 2;
        }
        /* The plugins hear of the stored values; cfg holds their options meanwhile. */
        struct config *cfg = malloc(sizeof *cfg);
        if (!cfg || cli_plugins_load("indicators", config_path, plugin_dir, cfg) < 0) {
            free(cfg);
            return 1;
        }
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/regions/%s", lua, region);
        struct indicator_set *set = indicators_load(dir, lua);
        int rc = 1;
        if (set) {
            struct err e = {0};
            rc = indicator_run_isolated(set, &job, &e);
            if (rc < 0)
                cli_print_err("indicators", &e);
            if (rc > 0)
                fprintf(stderr, "anketa indicators: some indicators failed: their errors are "
                                "shown above and stored with their values\n");
            if (rc >= 0)
                plugin_indicators_computed(indicator_set_region(set), job.run.period, rc > 0);
            indicator_set_free(set);
        }
        plugin_unload_all();
        free(cfg);
        return rc == 0 ? 0 : 1;
    }
usage:
    fputs(indicators_usage, stderr);
    return 2;
}
