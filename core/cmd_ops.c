/*
 * cmd_ops: the administrator's operations: `anketa backup`, `anketa restore` and
 * `anketa doctor` (what is wrong with an installation, and what to do about it).
 */
#include "app.h"
#include "cli.h"
#include "config.h"
#include "err.h"
#include "plugin.h"
#include "server.h"
#include "store.h"
#include "survey.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static const char backup_usage[] =
    "usage: anketa backup FILE [--db PATH]\n"
    "Copies the database into FILE (a new file) while anketa keeps serving: a consistent\n"
    "snapshot through SQLite's online backup API.\n";

static const char restore_usage[] =
    "usage: anketa restore FILE [--db PATH]\n"
    "Replaces the database with the backup FILE. Stop anketa first (systemctl stop anketa).\n";

/* The shared shape of backup and restore: one FILE and --db. */
static int ops_copy(int argc, char **argv, const char *usage, int restore)
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
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (argc - optind != 1) {
        fputs(usage, stderr);
        return 2;
    }
    const char *file = argv[optind];
    const char *cmd = restore ? "restore" : "backup";
    struct err e = {0};
    struct store *st = NULL;
    struct store_options opt = {.migrate = restore};
    int rc = 1;
    if (store_open(db, &opt, &st, &e) == STORE_OK &&
        (restore ? store_restore(st, file, &e) : store_backup(st, file, &e)) == STORE_OK &&
        store_audit(st, 0, restore ? "db.restore" : "db.backup", file, NULL, &e) == STORE_OK) {
        if (restore)
            printf("anketa restore: %s now holds the backup %s\n", db, file);
        else
            printf("anketa backup: %s copied into %s\n", db, file);
        rc = 0;
    } else {
        cli_print_err(cmd, &e);
    }
    store_close(st);
    return rc;
}

int cmd_backup(int argc, char **argv)
{
    return ops_copy(argc, argv, backup_usage, 0);
}

int cmd_restore(int argc, char **argv)
{
    return ops_copy(argc, argv, restore_usage, 1);
}

static const char doctor_usage[] =
    "usage: anketa doctor [--config FILE] [--nginx-user USER]\n"
    "Checks the configuration, the plugins, the questionnaires and templates, the database\n"
    "(schema, integrity, permissions) and whether nginx's user can reach the socket, and says\n"
    "what to fix. Exits 1 when something needs fixing.\n"
    "  --nginx-user USER  the user nginx's workers run as (default www-data)\n";

struct doctor {
    int problems;
};

static void doctor_ok(const char *what)
{
    printf("ok    %s\n", what);
}

static void doctor_fix(struct doctor *d, const char *what, const char *how)
{
    printf("FIX   %s\n      %s\n", what, how);
    d->problems++;
}

static void doctor_err(struct doctor *d, const char *what, const struct err *e, const char *how)
{
    char msg[1024];
    err_format(e, msg, sizeof msg);
    printf("FIX   %s: %s\n      %s\n", what, msg, how);
    d->problems++;
}

/* Whether user (uid, gids) has the permission bits want (r=4, w=2, x=1) on st. */
static int doctor_may(const struct stat *st, uid_t uid, const gid_t *gids, int ngids, int want)
{
    if (uid == 0)
        return 1;
    if (st->st_uid == uid)
        return ((st->st_mode >> 6) & (mode_t)want) == (mode_t)want;
    for (int i = 0; i < ngids; i++)
        if (st->st_gid == gids[i])
            return ((st->st_mode >> 3) & (mode_t)want) == (mode_t)want;
    return (st->st_mode & (mode_t)want) == (mode_t)want;
}

/* Whether nginx's user can enter every directory above path and read-write the socket. */
static int doctor_reach(const char *path, const struct passwd *pw, char *why, size_t size)
{
    gid_t gids[64];
    int ngids = 64;
    if (getgrouplist(pw->pw_name, pw->pw_gid, gids, &ngids) < 0)
        ngids = 0;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *slash = strrchr(dir, '/'); slash && slash != dir; slash = strrchr(dir, '/')) {
        *slash = '\0';
        struct stat st;
        if (stat(dir, &st) == 0 && !doctor_may(&st, pw->pw_uid, gids, ngids, 1)) {
            snprintf(why, size, "%s cannot enter %s", pw->pw_name, dir);
            return 0;
        }
    }
    struct stat st;
    if (stat(path, &st) == 0 && !doctor_may(&st, pw->pw_uid, gids, ngids, 6)) {
        snprintf(why, size, "%s cannot read and write %s (mode %o)", pw->pw_name, path,
                 (unsigned)(st.st_mode & 0777));
        return 0;
    }
    return 1;
}

static void doctor_socket(struct doctor *d, const char *path, const char *nginx_user)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        doctor_fix(d, "the socket does not exist",
                   "anketa is not running: systemctl start anketa (journalctl -u anketa says why "
                   "it stopped)");
        return;
    }
    if (!S_ISSOCK(st.st_mode)) {
        doctor_fix(d, "the socket path is not a socket", "remove the file, then restart anketa");
        return;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    int live = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    if (live)
        doctor_ok("anketa answers on its socket");
    else
        doctor_fix(d, "nothing answers on the socket", "restart anketa: systemctl restart anketa");
    struct passwd *pw = getpwnam(nginx_user);
    char why[4200];
    if (!pw)
        printf("skip  no user %s: nginx's access to the socket was not checked\n", nginx_user);
    else if (doctor_reach(path, pw, why, sizeof why))
        printf("ok    %s can reach the socket\n", nginx_user);
    else
        doctor_fix(d, why,
                   "set socket_mode (e.g. 0660) and run anketa with nginx's group "
                   "(Group=www-data in the unit), or give the directories o+x");
}

static void doctor_database(struct doctor *d, const char *db)
{
    struct stat st;
    if (stat(db, &st) != 0) {
        doctor_fix(d, "the database does not exist", "create it: anketa init --db <path>");
        return;
    }
    if (st.st_mode & 0007)
        doctor_fix(d, "the database can be read by every user of the machine",
                   "chmod o-rwx on it and its -wal and -shm files: it holds children's answers");
    else
        doctor_ok("the database is not readable by other users");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", db);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    if (access(slash ? dir : ".", W_OK) != 0)
        doctor_fix(d, "the database's directory is not writable by this user",
                   "SQLite writes its -wal and -shm files there: run doctor as the service's "
                   "user, or fix the owner of the directory");
    struct err e = {0};
    struct store *s = NULL;
    struct store_options opt = {.migrate = 0};
    if (store_open(db, &opt, &s, &e) != STORE_OK) {
        doctor_err(d, "the database cannot be used", &e,
                   "an older schema is upgraded by restarting anketa (a backup is made first); a "
                   "newer one needs the newer anketa");
        return;
    }
    doctor_ok("the database schema is current");
    if (store_integrity(s, &e) != STORE_OK)
        doctor_err(d, "the database is damaged", &e,
                   "stop anketa and restore the latest backup: anketa restore FILE");
    else
        doctor_ok("the database passes SQLite's integrity check");
    store_close(s);
}

/*
 * Loads the plugins as anketa serve would (the questionnaires may need their types). One
 * that is left out is a note, not a problem: the server starts without it, and an unused
 * plugin (jsonl without its path) is a choice. An option a plugin does not read is a problem:
 * the server refuses to start on it.
 */
static void doctor_plugins(struct doctor *d, const struct config *cfg, const char *file)
{
    struct err e = {0};
    struct err_list problems = {0};
    struct stat st;
    plugin_set_options(cfg->plugin_options, cfg->nplugin_options);
    survey_set_plugin_types(plugin_qtype_find, cfg->plugin_dir);
    if (stat(cfg->plugin_dir, &st) != 0) {
        printf("note  no plugin directory %s: no plugins\n", cfg->plugin_dir);
        return;
    }
    if (plugin_load_dir(cfg->plugin_dir, &problems, &e) < 0) {
        doctor_err(d, "the plugin directory cannot be read", &e,
                   "check plugin_dir and the directory's permissions");
        return;
    }
    char list[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < plugin_count() && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s %s", i ? ", " : "",
                                 plugin_name(i), plugin_version(i));
    printf("ok    %zu plugin%s loaded from %s%s%s\n", plugin_count(),
           plugin_count() == 1 ? "" : "s", cfg->plugin_dir, used ? ": " : "", list);
    if (plugin_check_options(file ? file : "(no configuration file)", &problems, &e) < 0)
        doctor_err(d, "a plugin option is wrong", &e,
                   "fix that line: docs/plugins.md lists each shipped plugin's keys");
    for (size_t i = 0; i < problems.n; i++) {
        char msg[1024];
        err_format(&problems.items[i], msg, sizeof msg);
        printf("note  plugin left out: %s\n", msg);
    }
    err_list_free(&problems);
}

int cmd_doctor(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"nginx-user", required_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL, *nginx_user = "www-data";
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'u': nginx_user = optarg; break;
        case 'h': fputs(doctor_usage, stdout); return 0;
        default: fputs(doctor_usage, stderr); return 2;
        }
    }
    if (optind != argc) {
        fputs(doctor_usage, stderr);
        return 2;
    }
    struct doctor d = {0};
    struct err e = {0};
    struct config cfg, none;
    memset(&none, 0, sizeof none);
    int loaded = config_resolve(&cfg, config_path, &none, &e);
    if (loaded < 0) {
        doctor_err(&d, "the configuration is wrong", &e, "fix that line (see man anketa)");
        printf("\n1 problem: the other checks need a working configuration\n");
        return 1;
    }
    if (loaded)
        doctor_ok("the configuration file is valid");
    else
        printf("note  no configuration file: the built-in defaults are checked\n");
    doctor_plugins(&d, &cfg, loaded ? (config_path ? config_path : CONFIG_DEFAULT_PATH) : NULL);
    struct server_config sc;
    config_server(&cfg, &sc);
    struct app_defs defs;
    if (app_defs_load(&defs, sc.surveys_dir, sc.web_dir, &e) < 0) {
        doctor_err(&d, "the questionnaires or templates do not load", &e,
                   "fix the file named (anketa check lists every problem)");
    } else {
        printf("ok    %zu questionnaires, the templates and the words load\n", defs.surveys.n);
        app_defs_free(&defs);
    }
    plugin_unload_all();
    doctor_database(&d, sc.db_path);
    doctor_socket(&d, sc.socket_path, nginx_user);
    if (d.problems)
        printf("\n%d problem%s to fix\n", d.problems, d.problems == 1 ? "" : "s");
    else
        printf("\nnothing to fix\n");
    return d.problems ? 1 : 0;
}
