/*
 * cmd_user: `anketa user add|passwd|disable|list` and `anketa audit`, the administrator's
 * account commands. Passwords are read from the terminal without echo, or from standard
 * input when it is not a terminal (for scripts), never from the command line (where other
 * users could see them in the process list).
 */
#include "account.h"
#include "arena.h"
#include "cli.h"
#include "err.h"
#include "store.h"

#include <getopt.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static const char user_usage[] =
    "usage: anketa user add LOGIN --role ROLE [--org CODE] --name NAME [--db PATH]\n"
    "       anketa user passwd LOGIN [--db PATH]\n"
    "       anketa user disable LOGIN [--db PATH]\n"
    "       anketa user list [--db PATH]\n"
    "ROLE is curator (sees one organisation), coordinator (a municipality), methodologist\n"
    "(a region) or admin (everything); --org names that organisation, municipality or\n"
    "region. The password is asked for (or read from standard input in scripts): at least\n"
    "10 characters.\n";

/* Reads one line from standard input without echoing it on a terminal. */
static int user_read_password(const char *prompt, char *out, size_t size)
{
    int tty = isatty(STDIN_FILENO);
    struct termios old, quiet;
    if (tty) {
        fputs(prompt, stderr);
        if (tcgetattr(STDIN_FILENO, &old) < 0)
            return -1;
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    int ok = fgets(out, (int)size, stdin) != NULL;
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (!ok)
        return -1;
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

/* Asks for a new password (twice on a terminal) and hashes it. */
static int user_new_password(char hash[128])
{
    char pw[256], again[256];
    const char *why;
    if (user_read_password("New password: ", pw, sizeof pw) < 0) {
        fprintf(stderr, "anketa user: no password given\n");
        return -1;
    }
    if (!account_password_ok(pw, &why)) {
        fprintf(stderr, "anketa user: the password needs %s\n", why);
        return -1;
    }
    if (isatty(STDIN_FILENO) &&
        (user_read_password("Again: ", again, sizeof again) < 0 || strcmp(pw, again) != 0)) {
        fprintf(stderr, "anketa user: the passwords differ\n");
        return -1;
    }
    int rc = account_hash_password(pw, hash);
    explicit_bzero(pw, sizeof pw);
    explicit_bzero(again, sizeof again);
    if (rc < 0)
        fprintf(stderr, "anketa user: cannot hash the password (out of memory?)\n");
    return rc;
}

int cmd_user(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},  {"role", required_argument, NULL, 'r'},
        {"org", required_argument, NULL, 'o'}, {"name", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0},
    };
    const char *db = "var/anketa.db", *role_word = NULL, *org = NULL, *name = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'r': role_word = optarg; break;
        case 'o': org = optarg; break;
        case 'n': name = optarg; break;
        case 'h': fputs(user_usage, stdout); return 0;
        default: fputs(user_usage, stderr); return 2;
        }
    }
    const char *verb = optind < argc ? argv[optind] : "";
    int list = strcmp(verb, "list") == 0;
    if (argc - optind != (list ? 1 : 2)) {
        fputs(user_usage, stderr);
        return 2;
    }
    const char *login = list ? NULL : argv[optind + 1];
    struct err e = {0};
    struct store *st = NULL;
    struct store_options sopt = {.migrate = 0};
    if (store_open(db, &sopt, &st, &e) < 0) {
        cli_print_err("user", &e);
        return 1;
    }
    struct arena *a = arena_new();
    int rc = 1;
    char hash[128];
    if (!a) {
        err_set(&e, "", 0, 0, "out of memory");
    } else if (strcmp(verb, "add") == 0) {
        int role = role_word ? account_role_parse(role_word) : -1;
        const char *level = role >= 0 ? account_role_level((enum account_role)role) : NULL;
        char org_level[16];
        if (role < 0 || !name || !*name || (level && !org) || (!level && org)) {
            fprintf(stderr, "anketa user: add needs --role (curator, coordinator, methodologist "
                            "or admin), --name, and --org for every role but admin\n");
            rc = 2;
        } else if (level && store_org_level(st, org, org_level, &e) != STORE_OK) {
            if (!e.msg[0])
                err_set(&e, "", 0, 0, "unknown organisation \"%s\"", org);
        } else if (level && strcmp(org_level, level) != 0) {
            err_set(&e, "", 0, 0, "a %s works with a %s, and \"%s\" is a %s", role_word, level, org,
                    org_level);
        } else if (user_new_password(hash) == 0) {
            struct user_rec u = {login, name, account_role_name((enum account_role)role), org,
                                 hash};
            if (store_user_put(st, &u, &e) == STORE_OK &&
                store_audit(st, 0, "user.add", login, account_role_name((enum account_role)role),
                            &e) == STORE_OK) {
                printf("anketa user: %s added\n", login);
                rc = 0;
            }
        } else {
            rc = 2;
        }
    } else if (strcmp(verb, "passwd") == 0) {
        struct user_row u;
        if (store_user_get(st, a, login, &u, &e) != STORE_OK) {
            if (!e.msg[0])
                err_set(&e, "", 0, 0, "unknown user \"%s\"", login);
        } else if (user_new_password(hash) == 0) {
            if (store_user_set_password(st, login, hash, &e) == STORE_OK &&
                store_audit(st, 0, "user.passwd", login, NULL, &e) == STORE_OK) {
                printf("anketa user: the password of %s is changed\n", login);
                rc = 0;
            }
        } else {
            rc = 2;
        }
    } else if (strcmp(verb, "disable") == 0) {
        if (store_user_disable(st, login, &e) == STORE_OK &&
            store_audit(st, 0, "user.disable", login, NULL, &e) == STORE_OK) {
            printf("anketa user: %s can no longer sign in\n", login);
            rc = 0;
        }
    } else if (list) {
        struct user_row *users;
        size_t n;
        if (store_user_list(st, a, &users, &n, &e) == STORE_OK) {
            for (size_t i = 0; i < n; i++)
                printf("%-20s %-14s %-16s %s%s\n", users[i].login, users[i].role,
                       users[i].org_code ? users[i].org_code : "-", users[i].name,
                       users[i].disabled ? "  (disabled)" : "");
            rc = 0;
        }
    } else {
        fputs(user_usage, stderr);
        rc = 2;
    }
    if (rc == 1 && e.msg[0])
        cli_print_err("user", &e);
    explicit_bzero(hash, sizeof hash);
    arena_free(a);
    store_close(st);
    return rc;
}

static const char audit_usage[] = "usage: anketa audit [--limit N] [--db PATH]\n"
                                  "Prints the newest entries of the audit log.\n";

int cmd_audit(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"limit", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = "var/anketa.db";
    int limit = 50, c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'l': limit = atoi(optarg); break;
        case 'h': fputs(audit_usage, stdout); return 0;
        default: fputs(audit_usage, stderr); return 2;
        }
    }
    if (optind != argc || limit < 1) {
        fputs(audit_usage, stderr);
        return 2;
    }
    struct err e = {0};
    struct store *st = NULL;
    struct store_options sopt = {.migrate = 0};
    struct arena *a = arena_new();
    struct audit_row *rows;
    size_t n;
    int rc = 1;
    if (a && store_open(db, &sopt, &st, &e) == STORE_OK &&
        store_audit_list(st, a, limit, &rows, &n, &e) == STORE_OK) {
        for (size_t i = 0; i < n; i++)
            printf("%s  %-16s %-18s %s%s%s\n", rows[i].at, rows[i].login ? rows[i].login : "(cli)",
                   rows[i].action, rows[i].object ? rows[i].object : "", rows[i].detail ? "  " : "",
                   rows[i].detail ? rows[i].detail : "");
        rc = 0;
    } else {
        cli_print_err("audit", &e);
    }
    arena_free(a);
    store_close(st);
    return rc;
}
