/*
 * main: the anketa command line. Each subcommand parses its own options, does its work
 * through the modules, and turns a struct err into a message and an exit status here;
 * nothing below main exits the process.
 */
#include "app.h"
#include "arena.h"
#include "crypto.h"
#include "demo.h"
#include "err.h"
#include "log.h"
#include "server.h"
#include "store.h"
#include "survey.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ANKETA_VERSION "0.1.0"

struct cmd {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

static void main_print_err(const char *cmd, const struct err *e)
{
    char msg[1024];
    err_format(e, msg, sizeof msg);
    fprintf(stderr, "anketa %s: %s\n", cmd, msg);
}

/* Parses a positive decimal option value with an optional k/m suffix (bytes). */
static int main_size(const char *s, size_t *out)
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

static const char serve_usage[] =
    "usage: anketa serve [options]\n"
    "Serves questionnaires over FastCGI on a unix socket, for nginx.\n"
    "  --socket PATH      socket to listen on (default var/anketa.sock)\n"
    "  --socket-mode OCT  permissions of the socket (default 0660; nginx's user must connect)\n"
    "  --workers N        worker processes (default: number of CPUs)\n"
    "  --db PATH          SQLite database (default var/anketa.db; created and migrated)\n"
    "  --surveys DIR      questionnaire YAML files (default surveys)\n"
    "  --web DIR          templates and words (default web)\n"
    "  --max-body SIZE    largest request body, e.g. 1m (default 1m; match nginx's\n"
    "                     client_max_body_size)\n"
    "  --synchronous MODE FULL (default: an answered questionnaire survives power loss)\n"
    "                     or NORMAL (survives a crash of anketa, not of the machine)\n"
    "  --quiet            log warnings and errors only\n";

static int cmd_serve(int argc, char **argv)
{
    struct server_config cfg = {
        .socket_path = "var/anketa.sock",
        .socket_mode = 0660,
        .workers = 0,
        .max_body = 1024 * 1024,
        .db_path = "var/anketa.db",
        .surveys_dir = "surveys",
        .web_dir = "web",
        .synchronous = "FULL",
    };
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'},
        {"socket-mode", required_argument, NULL, 'm'},
        {"workers", required_argument, NULL, 'w'},
        {"db", required_argument, NULL, 'd'},
        {"surveys", required_argument, NULL, 'S'},
        {"web", required_argument, NULL, 'W'},
        {"max-body", required_argument, NULL, 'b'},
        {"synchronous", required_argument, NULL, 'y'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 's': cfg.socket_path = optarg; break;
        case 'm':
            cfg.socket_mode = (int)strtol(optarg, &end, 8);
            if (*end || cfg.socket_mode <= 0 || cfg.socket_mode > 0777) {
                fprintf(stderr, "anketa serve: --socket-mode wants an octal mode like 0660\n");
                return 2;
            }
            break;
        case 'w':
            cfg.workers = (int)strtol(optarg, &end, 10);
            if (*end || cfg.workers < 1) {
                fprintf(stderr, "anketa serve: --workers wants a number >= 1\n");
                return 2;
            }
            break;
        case 'd': cfg.db_path = optarg; break;
        case 'S': cfg.surveys_dir = optarg; break;
        case 'W': cfg.web_dir = optarg; break;
        case 'b':
            if (main_size(optarg, &cfg.max_body) < 0) {
                fprintf(stderr, "anketa serve: --max-body wants a size like 1m or 65536\n");
                return 2;
            }
            break;
        case 'y': cfg.synchronous = optarg; break;
        case 'q': log_set_level(LOG_WARN); break;
        case 'h': fputs(serve_usage, stdout); return 0;
        default: fputs(serve_usage, stderr); return 2;
        }
    }
    if (optind != argc) {
        fputs(serve_usage, stderr);
        return 2;
    }
    struct err e = {0};
    if (server_run(&cfg, &e) < 0) {
        main_print_err("serve", &e);
        return 1;
    }
    return 0;
}

static const char check_usage[] =
    "usage: anketa check [--web DIR] PATH...\n"
    "Checks questionnaire files (a PATH may be a directory of *.yaml files) and prints\n"
    "every problem as FILE:LINE:COL: message. Exits 1 when any file is broken.\n"
    "  --web DIR   also check the templates and words of DIR (e.g. web)\n";

static int check_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cmd_check(int argc, char **argv)
{
    static const struct option opts[] = {
        {"web", required_argument, NULL, 'W'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *web = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'W': web = optarg; break;
        case 'h': fputs(check_usage, stdout); return 0;
        default: fputs(check_usage, stderr); return 2;
        }
    }
    if (optind == argc && !web) {
        fputs(check_usage, stderr);
        return 2;
    }
    int bad = 0, good = 0;
    struct err e = {0};
    for (int i = optind; i < argc; i++) {
        if (check_is_dir(argv[i])) {
            struct survey_set set;
            if (survey_set_load_dir(argv[i], &set, &e) < 0) {
                main_print_err("check", &e);
                bad++;
            } else {
                good += (int)set.n;
                survey_set_free(&set);
            }
            continue;
        }
        struct survey *s;
        if (survey_load(argv[i], &s, &e) < 0) {
            main_print_err("check", &e);
            bad++;
        } else {
            good++;
            survey_free(s);
        }
    }
    if (web) {
        struct app_defs defs;
        if (app_defs_load(&defs, optind < argc ? argv[optind] : "surveys", web, &e) < 0) {
            main_print_err("check", &e);
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

static const char init_usage[] = "usage: anketa init [--db PATH]\n"
                                 "Creates the database, or brings its schema up to date.\n";

static int cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = "var/anketa.db";
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'h': fputs(init_usage, stdout); return 0;
        default: fputs(init_usage, stderr); return 2;
        }
    }
    struct err e = {0};
    struct store *st;
    struct store_options opt = {.migrate = 1};
    if (store_open(db, &opt, &st, &e) < 0) {
        main_print_err("init", &e);
        return 1;
    }
    printf("anketa init: %s is at schema version %d\n", db, store_schema_version(st));
    store_close(st);
    return 0;
}

static const char demo_usage[] =
    "usage: anketa demo [--db PATH] [--surveys DIR] [--data FILE]\n"
    "Adds the demonstration region (once) and prints, per questionnaire, the token of an\n"
    "unanswered and of an answered invitation:  <survey> unanswered|answered <token>\n"
    "  --data FILE  the description of the demo (default docs/samples/demo.json)\n";

static int demo_print(struct store *st, const struct survey_set *set, struct err *e)
{
    for (size_t i = 0; i < set->n; i++) {
        for (int answered = 0; answered <= 1; answered++) {
            struct invitation inv;
            struct arena *a = arena_new();
            if (!a)
                return err_set(e, "", 0, 0, "out of memory");
            int rc = store_first_invitation(st, a, set->items[i]->id, answered, &inv, e);
            if (rc == STORE_OK)
                printf("%s %s %s\n", set->items[i]->id, answered ? "answered" : "unanswered",
                       inv.token);
            arena_free(a);
            if (rc == STORE_ERROR)
                return -1;
        }
    }
    return 0;
}

static int cmd_demo(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"surveys", required_argument, NULL, 'S'},
        {"data", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = "var/anketa.db", *surveys = "surveys", *data = "docs/samples/demo.json";
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'S': surveys = optarg; break;
        case 'D': data = optarg; break;
        case 'h': fputs(demo_usage, stdout); return 0;
        default: fputs(demo_usage, stderr); return 2;
        }
    }
    struct err e = {0};
    struct survey_set set;
    struct store *st = NULL;
    struct store_options opt = {.migrate = 1};
    int created = 0;
    if (survey_set_load_dir(surveys, &set, &e) < 0) {
        main_print_err("demo", &e);
        return 1;
    }
    int rc = store_open(db, &opt, &st, &e) < 0 || demo_seed(st, &set, data, &created, &e) < 0 ||
             demo_print(st, &set, &e) < 0;
    if (rc)
        main_print_err("demo", &e);
    else
        fprintf(stderr, "anketa demo: %s\n",
                created ? "demo data created" : "demo data already present");
    store_close(st);
    survey_set_free(&set);
    return rc;
}

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
