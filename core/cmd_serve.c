/*
 * cmd_serve: `anketa serve`, the FastCGI server.
 */
#include "cli.h"
#include "err.h"
#include "log.h"
#include "server.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

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

int cmd_serve(int argc, char **argv)
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
            if (cli_size(optarg, &cfg.max_body) < 0) {
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
        cli_print_err("serve", &e);
        return 1;
    }
    return 0;
}
