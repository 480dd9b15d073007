/*
 * Integration tests of deployment: `anketa serve` with a configuration file (located
 * refusals, file then options), `make install` and `make uninstall` into a DESTDIR, the
 * systemd unit (systemd-analyze verify), the nginx site (nginx -t, then served over TLS in
 * front of a real anketa), and `make deb` (fields, contents, the extracted program, lintian).
 * Nothing is installed on the machine itself: everything lands in a temporary directory.
 */
#include "config.h"
#include "err.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <ctype.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char root[1024]; /* the repository */
static char bin[1200];  /* the sanitized anketa the suite was built with */
static char tmp[64];
static char version[64];

/* Processes a test started; the per-test teardown stops whatever a failed test left. */
static pid_t inst_pids[4];

/* `make` from inside `make test` must not inherit the outer make's jobserver or level. */
#define INST_MAKE "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -j4 -C"

#define ASSERT_CONTAINS(hay, needle)                                                               \
    do {                                                                                           \
        if (!strstr((hay), (needle)))                                                              \
            fail_msg("expected to find:\n%s\nin:\n%s", (needle), (hay));                           \
    } while (0)

#define ASSERT_LACKS(hay, needle)                                                                  \
    do {                                                                                           \
        if (strstr((hay), (needle)))                                                               \
            fail_msg("did not expect to find:\n%s\nin:\n%s", (needle), (hay));                     \
    } while (0)

/* Reads a whole file into a malloc'd string; NULL when it cannot be read. */
static char *inst_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t len = 0, cap = 4096;
    char *s = malloc(cap);
    while (s) {
        len += fread(s + len, 1, cap - len - 1, f);
        if (len < cap - 1)
            break;
        char *more = realloc(s, cap * 2);
        if (!more) {
            free(s);
            s = NULL;
            break;
        }
        s = more;
        cap *= 2;
    }
    if (s)
        s[len] = '\0';
    fclose(f);
    return s;
}

static void inst_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/*
 * Runs a shell command line; its stdout and stderr, together, go into *out (malloc'd, all
 * of it). Returns the exit status.
 */
static int inst_sh(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int inst_sh(char **out, const char *fmt, ...)
{
    char cmd[8192], full[8300];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof cmd);
    snprintf(full, sizeof full, "( %s ) 2>&1", cmd);
    FILE *p = popen(full, "r");
    assert_non_null(p);
    size_t len = 0, cap = 4096;
    char *s = malloc(cap);
    assert_non_null(s);
    size_t got;
    while ((got = fread(s + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (len == cap - 1) {
            char *more = realloc(s, cap * 2);
            assert_non_null(more);
            s = more;
            cap *= 2;
        }
    }
    s[len] = '\0';
    int status = pclose(p);
    *out = s;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Runs a command that must succeed; its output is freed. */
static void inst_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void inst_ok(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char *out;
    int rc = inst_sh(&out, "%s", cmd);
    if (rc != 0)
        fail_msg("`%s` exited with %d:\n%s", cmd, rc, out);
    free(out);
}

/* A copy of text with every from replaced by to (malloc'd). */
static char *inst_replace(const char *text, const char *from, const char *to)
{
    size_t nf = strlen(from), nt = strlen(to), count = 0;
    for (const char *p = strstr(text, from); p; p = strstr(p + nf, from))
        count++;
    char *out = malloc(strlen(text) + count * nt + 1);
    assert_non_null(out);
    char *w = out;
    const char *p;
    while ((p = strstr(text, from)) != NULL) {
        memcpy(w, text, (size_t)(p - text));
        w += p - text;
        memcpy(w, to, nt);
        w += nt;
        text = p + nf;
    }
    strcpy(w, text);
    return out;
}

/* Starts argv with stdout and stderr appended to log; remembers the pid for teardown. */
static pid_t inst_spawn(char *const argv[], const char *log)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    for (size_t i = 0; i < sizeof inst_pids / sizeof *inst_pids; i++) {
        if (inst_pids[i] == 0) {
            inst_pids[i] = pid;
            break;
        }
    }
    return pid;
}

/* Sends SIGTERM and waits (SIGKILL after 20 s); returns the exit status, 128+sig if killed. */
static int inst_stop(pid_t pid)
{
    int status = 0;
    kill(pid, SIGTERM);
    for (int i = 0; i < 400; i++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (i == 399) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
        }
        struct timespec nap = {0, 50 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    for (size_t i = 0; i < sizeof inst_pids / sizeof *inst_pids; i++)
        if (inst_pids[i] == pid)
            inst_pids[i] = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int inst_stop_all(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof inst_pids / sizeof *inst_pids; i++)
        if (inst_pids[i] > 0)
            inst_stop(inst_pids[i]);
    return 0;
}

/* Waits up to 15 s for a unix socket to appear at path; 0 when it did. */
static int inst_wait_socket(const char *path, pid_t pid)
{
    for (int i = 0; i < 300; i++) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
            return 0;
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return -1;
        struct timespec nap = {0, 50 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    return -1;
}

/* A TCP port on 127.0.0.1 that nothing listens on right now. */
static int inst_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static int setup(void **state)
{
    (void)state;
    const char *r = getenv("ANKETA_ROOT"), *b = getenv("ANKETA_BIN");
    if (!r || !b)
        return -1;
    snprintf(root, sizeof root, "%s", r);
    if (b[0] == '/')
        snprintf(bin, sizeof bin, "%s", b);
    else
        snprintf(bin, sizeof bin, "%s/%s", r, b);
    char path[1100];
    snprintf(path, sizeof path, "%s/VERSION", root);
    char *v = inst_read(path);
    if (!v)
        return -1;
    v[strcspn(v, "\n")] = '\0';
    snprintf(version, sizeof version, "%s", v);
    free(v);
    snprintf(tmp, sizeof tmp, "/tmp/anketa-install-XXXXXX");
    return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
    inst_stop_all(state);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

/* A start with a broken configuration stops with FILE:LINE: message, before anything else. */
static void test_serve_refuses_broken_config(void **state)
{
    (void)state;
    char conf[128], expected[512];
    char *out;
    snprintf(conf, sizeof conf, "%s/broken.conf", tmp);
    inst_write(conf, "# anketa\nsocket = /tmp/never.sock\nwrokers = 4\n");
    assert_int_equal(inst_sh(&out, "%s serve --config %s", bin, conf), 1);
    snprintf(expected, sizeof expected,
             "anketa serve: %s:3: unknown key \"wrokers\" (did you mean workers?)\n", conf);
    assert_string_equal(out, expected);
    free(out);

    inst_write(conf, "workers = 2\nmax_body = 1 megabyte\n");
    assert_int_equal(inst_sh(&out, "%s serve --config %s", bin, conf), 1);
    snprintf(expected, sizeof expected,
             "anketa serve: %s:2: bad max_body \"1 megabyte\": expected a size from 1k to 1g, "
             "such as 65536, 64k or 1m\n",
             conf);
    assert_string_equal(out, expected);
    free(out);

    inst_write(conf, "socket_mode = 0660\nworkers = 2\nsocket_mode = 0600\n");
    assert_int_equal(inst_sh(&out, "%s serve --config %s", bin, conf), 1);
    snprintf(expected, sizeof expected,
             "anketa serve: %s:3: duplicate key socket_mode (already set on line 1)\n", conf);
    assert_string_equal(out, expected);
    free(out);

    assert_int_equal(inst_sh(&out, "%s serve --config %s/missing.conf", bin, tmp), 1);
    snprintf(expected, sizeof expected,
             "anketa serve: %s/missing.conf: cannot read the configuration: No such file or "
             "directory\n",
             tmp);
    assert_string_equal(out, expected);
    free(out);

    assert_int_equal(inst_sh(&out, "%s serve --socket-mode 9 --config %s", bin, conf), 2);
    assert_string_equal(out, "anketa serve: bad --socket-mode \"9\": expected an octal mode "
                             "from 0001 to 0777, such as 0660\n");
    free(out);
}

/* Starts `anketa serve --config conf EXTRA...`, waits for sock, returns the pid. */
static pid_t inst_serve(const char *program, const char *conf, const char *sock, const char *log,
                        const char *extra1, const char *extra2)
{
    char *argv[] = {(char *)program, "serve",        "--config", (char *)conf,
                    (char *)extra1,  (char *)extra2, NULL};
    if (!extra1)
        argv[4] = NULL;
    unlink(log);
    pid_t pid = inst_spawn(argv, log);
    if (inst_wait_socket(sock, pid) < 0) {
        char *text = inst_read(log);
        fail_msg("anketa did not start:\n%s", text ? text : "(no log)");
    }
    return pid;
}

/* The file's values are used, and an option given on the command line wins over the file. */
static void test_serve_takes_file_then_options(void **state)
{
    (void)state;
    char conf[128], sock[128], db[128], log[128], text[4096];
    snprintf(conf, sizeof conf, "%s/serve.conf", tmp);
    snprintf(sock, sizeof sock, "%s/serve.sock", tmp);
    snprintf(db, sizeof db, "%s/serve.db", tmp);
    snprintf(log, sizeof log, "%s/serve.log", tmp);
    snprintf(text, sizeof text,
             "socket = %s\nsocket_mode = 0640\nworkers = 1\ndb = %s\nsurveys = %s/surveys\n"
             "web = %s/web\nmax_body = 64k\nlog_level = warn\n",
             sock, db, root, root);
    inst_write(conf, text);

    pid_t pid = inst_serve(bin, conf, sock, log, "--socket-mode", "0600");
    struct stat st;
    assert_int_equal(stat(sock, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(db, &st), 0);
    assert_int_equal(inst_stop(pid), 0);
    char *out = inst_read(log);
    assert_non_null(out);
    ASSERT_LACKS(out, "level=info");
    free(out);

    pid = inst_serve(bin, conf, sock, log, "--log-level", "info");
    assert_int_equal(stat(sock, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    assert_int_equal(inst_stop(pid), 0);
    out = inst_read(log);
    assert_non_null(out);
    char expected[256];
    snprintf(expected, sizeof expected, "msg=\"configuration: %s\"", conf);
    ASSERT_CONTAINS(out, expected);
    ASSERT_CONTAINS(out, "with 1 workers");
    free(out);
}

/* How many times needle is in the file at path. */
static int inst_count(const char *path, const char *needle)
{
    char *text = inst_read(path);
    int n = 0;
    for (const char *p = text ? strstr(text, needle) : NULL; p; p = strstr(p + 1, needle))
        n++;
    free(text);
    return n;
}

/* Sends SIGHUP (again every 2 s, up to 10 s) until needle is in the log `times` times. */
static void inst_reload_until(pid_t pid, const char *log, const char *needle, int times)
{
    for (int i = 0; i < 200; i++) {
        if (i % 40 == 0)
            kill(pid, SIGHUP);
        if (inst_count(log, needle) >= times)
            return;
        struct timespec nap = {0, 50 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    char *text = inst_read(log);
    fail_msg("no \"%s\" (%d times) in the log:\n%s", needle, times, text ? text : "");
}

/* SIGHUP reads the file again, with the options over it; a broken file changes nothing. */
static void test_serve_reloads_config(void **state)
{
    (void)state;
    char conf[128], sock[128], db[128], log[128], base[2048], text[4096], expected[512];
    snprintf(conf, sizeof conf, "%s/reload.conf", tmp);
    snprintf(sock, sizeof sock, "%s/reload.sock", tmp);
    snprintf(db, sizeof db, "%s/reload.db", tmp);
    snprintf(log, sizeof log, "%s/reload.log", tmp);
    snprintf(base, sizeof base, "socket = %s\nsocket_mode = 0600\ndb = %s\nweb = %s/web\n", sock,
             db, root);
    snprintf(text, sizeof text, "%ssurveys = %s/surveys\nworkers = 1\nlog_level = warn\n", base,
             root);
    inst_write(conf, text);
    pid_t pid = inst_serve(bin, conf, sock, log, "--synchronous", "NORMAL");

    snprintf(text, sizeof text, "%ssurveys = %s/surveys\nwrokers = 2\n", base, root);
    inst_write(conf, text);
    snprintf(expected, sizeof expected,
             "reload refused, still serving the previous setup: %s:6: unknown key \"wrokers\" "
             "(did you mean workers?)",
             conf);
    inst_reload_until(pid, log, expected, 1);

    /* The file is fine but its questionnaires are not there: the server refuses it. */
    snprintf(text, sizeof text, "%ssurveys = %s/no-surveys\nworkers = 2\n", base, tmp);
    inst_write(conf, text);
    inst_reload_until(pid, log, "reload refused, still serving the previous setup", 2);

    snprintf(text, sizeof text, "%ssurveys = %s/surveys\nworkers = 2\nlog_level = info\n", base,
             root);
    inst_write(conf, text);
    inst_reload_until(pid, log, "reloaded: 2 workers", 1);
    snprintf(text, sizeof text, "%ssurveys = %s/surveys\nworkers = 3\n", base, root);
    inst_write(conf, text);
    inst_reload_until(pid, log, "reloaded: 3 workers", 1);
    assert_int_equal(inst_stop(pid), 0);
}

/* Every file of dir in the source tree is installed, the same, under share; no others. */
static void inst_assert_data_dir(const char *stage, const char *dir)
{
    char *out;
    int rc =
        inst_sh(&out, "cd %s && find %s -type f ! -name '.*' 2>/dev/null | head -n 1", root, dir);
    assert_int_equal(rc, 0);
    int has_files = out[0] != '\0';
    free(out);
    if (has_files) {
        rc = inst_sh(&out, "diff -r -x '.*' %s/%s %s/usr/local/share/anketa/%s", root, dir, stage,
                     dir);
        if (rc != 0)
            fail_msg("installed %s differs from the source tree:\n%s", dir, out);
        free(out);
    } else {
        char path[512];
        snprintf(path, sizeof path, "%s/usr/local/share/anketa/%s", stage, dir);
        assert_int_equal(access(path, F_OK), -1);
    }
}

static void test_install_and_uninstall(void **state)
{
    (void)state;
    char stage[128], path[512], *out;
    snprintf(stage, sizeof stage, "%s/stage", tmp);
    int rc = inst_sh(&out, INST_MAKE " %s install DESTDIR=%s", root, stage);
    if (rc != 0)
        fail_msg("make install failed:\n%s", out);
    snprintf(path, sizeof path, "wrote %s/etc/anketa/anketa.conf", stage);
    ASSERT_CONTAINS(out, path);
    free(out);

    snprintf(path, sizeof path, "%s/usr/local/bin/anketa", stage);
    assert_int_equal(access(path, X_OK), 0);
    assert_int_equal(inst_sh(&out, "%s --version", path), 0);
    char expected[128];
    snprintf(expected, sizeof expected, "anketa %s (database schema ", version);
    assert_memory_equal(out, expected, strlen(expected));
    free(out);
    inst_assert_data_dir(stage, "web");
    inst_assert_data_dir(stage, "surveys");
    inst_assert_data_dir(stage, "lua");

    /* The man page is installed and formats without a single warning. */
    snprintf(path, sizeof path, "%s/usr/local/share/man/man1/anketa.1", stage);
    assert_int_equal(inst_sh(&out, "groff -man -ww -z %s", path), 0);
    assert_string_equal(out, "");
    free(out);

    /* The configuration points at the installed data, and the installed program serves
     * from it: with /usr/local mapped onto the staging tree, only socket and db overridden. */
    snprintf(path, sizeof path, "%s/etc/anketa/anketa.conf", stage);
    char *conf = inst_read(path);
    assert_non_null(conf);
    ASSERT_CONTAINS(conf, "\nsurveys = /usr/local/share/anketa/surveys\n");
    ASSERT_CONTAINS(conf, "\nweb = /usr/local/share/anketa/web\n");
    char staged_prefix[256];
    snprintf(staged_prefix, sizeof staged_prefix, "%s/usr/local/share/anketa", stage);
    char *staged = inst_replace(conf, "/usr/local/share/anketa", staged_prefix);
    char *mapped = inst_replace(staged, "\nworkers = auto\n", "\nworkers = 1\n");
    free(staged);
    char run_conf[128], sock[128], db[128], log[128], program[256];
    snprintf(run_conf, sizeof run_conf, "%s/installed.conf", tmp);
    snprintf(sock, sizeof sock, "%s/installed.sock", tmp);
    snprintf(db, sizeof db, "%s/installed.db", tmp);
    snprintf(log, sizeof log, "%s/installed.log", tmp);
    snprintf(program, sizeof program, "%s/usr/local/bin/anketa", stage);
    inst_write(run_conf, mapped);
    free(mapped);
    free(conf);
    char db_opt[160];
    snprintf(db_opt, sizeof db_opt, "--db=%s", db);
    char sock_opt[160];
    snprintf(sock_opt, sizeof sock_opt, "--socket=%s", sock);
    pid_t pid = inst_serve(program, run_conf, sock, log, sock_opt, db_opt);
    assert_int_equal(inst_stop(pid), 0);

    /* A second install keeps the administrator's configuration and drops stale data. */
    snprintf(path, sizeof path, "%s/etc/anketa/anketa.conf", stage);
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fputs("# changed by the administrator\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/usr/local/share/anketa/surveys/stale.yaml", stage);
    inst_write(path, "id: stale\n");
    rc = inst_sh(&out, INST_MAKE " %s install DESTDIR=%s", root, stage);
    if (rc != 0)
        fail_msg("make install (again) failed:\n%s", out);
    snprintf(path, sizeof path, "kept the existing %s/etc/anketa/anketa.conf", stage);
    ASSERT_CONTAINS(out, path);
    free(out);
    snprintf(path, sizeof path, "%s/etc/anketa/anketa.conf", stage);
    conf = inst_read(path);
    assert_non_null(conf);
    ASSERT_CONTAINS(conf, "# changed by the administrator\n");
    free(conf);
    snprintf(path, sizeof path, "%s/usr/local/share/anketa/surveys/stale.yaml", stage);
    assert_int_equal(access(path, F_OK), -1);

    /* uninstall removes the program, the manual and the data, not the configuration. */
    inst_ok(INST_MAKE " %s uninstall DESTDIR=%s", root, stage);
    const char *gone[] = {"usr/local/bin/anketa", "usr/local/share/man/man1/anketa.1",
                          "usr/local/share/anketa"};
    for (size_t i = 0; i < sizeof gone / sizeof *gone; i++) {
        snprintf(path, sizeof path, "%s/%s", stage, gone[i]);
        if (access(path, F_OK) == 0)
            fail_msg("make uninstall left %s", gone[i]);
    }
    snprintf(path, sizeof path, "%s/etc/anketa/anketa.conf", stage);
    assert_int_equal(access(path, F_OK), 0);
}

static void test_systemd_unit_verifies(void **state)
{
    (void)state;
    char path[1200], *out;
    snprintf(path, sizeof path, "%s/deploy/anketa.service", root);
    char *unit = inst_read(path);
    assert_non_null(unit);
    const char *required[] = {
        "ExecStart=/usr/bin/anketa serve --config /etc/anketa/anketa.conf",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "User=anketa",
        "Group=www-data",
        "RuntimeDirectory=anketa",
        "StateDirectory=anketa",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "RestrictAddressFamilies=AF_UNIX",
        "SystemCallFilter=@system-service",
        "CapabilityBoundingSet=",
        "WantedBy=multi-user.target",
    };
    for (size_t i = 0; i < sizeof required / sizeof *required; i++) {
        char line[256];
        snprintf(line, sizeof line, "\n%s\n", required[i]);
        ASSERT_CONTAINS(unit, line);
    }

    /* verify needs ExecStart to exist and man: links to resolve: point both at ours. */
    char dir[128], man[128];
    snprintf(dir, sizeof dir, "%s/unit", tmp);
    snprintf(man, sizeof man, "%s/man", tmp);
    inst_ok("mkdir -p %s %s/man1 && cp %s/docs/anketa.1 %s/man1/", dir, man, root, man);
    char exec[1300];
    snprintf(exec, sizeof exec, "ExecStart=%s", bin);
    char *local = inst_replace(unit, "ExecStart=/usr/bin/anketa", exec);
    snprintf(path, sizeof path, "%s/anketa.service", dir);
    inst_write(path, local);
    int rc = inst_sh(&out, "MANPATH=%s systemd-analyze verify %s", man, path);
    if (rc != 0 || out[0])
        fail_msg("systemd-analyze verify (exit %d):\n%s", rc, out);
    free(out);

    /* verify only warns about a misspelt key, so silence is what the check above relies on. */
    char *typo = inst_replace(local, "ProtectSystem=strict", "ProtectSytem=strict");
    inst_write(path, typo);
    inst_sh(&out, "MANPATH=%s systemd-analyze verify %s", man, path);
    ASSERT_CONTAINS(out, "Unknown key 'ProtectSytem'");
    free(out);
    free(typo);
    free(local);
    free(unit);
}

/* The value of `name value;` in an nginx file (the first one), into out. */
static void inst_nginx_value(const char *text, const char *name, char *out, size_t size)
{
    char key[128];
    snprintf(key, sizeof key, "\n    %s ", name);
    const char *p = strstr(text, key);
    if (!p)
        fail_msg("no %s in the nginx site", name);
    p += strlen(key);
    size_t n = strcspn(p, ";");
    snprintf(out, size, "%.*s", (int)n, p);
}

/* The example configuration, the unit and the nginx site name the same socket, sizes, paths. */
static void test_deploy_files_agree(void **state)
{
    (void)state;
    char path[1200], value[512], expected[CONFIG_PATH_MAX + 64];
    static struct config c;
    struct err e = {0};
    config_defaults(&c);
    snprintf(path, sizeof path, "%s/deploy/anketa.conf", root);
    if (config_load(&c, path, 0, &e) != 1)
        fail_msg("%s:%d: %s", e.file, e.line, e.msg);
    assert_int_equal(c.set, (1u << CONFIG_NKEYS) - 1);
    assert_memory_equal(c.socket, "/run/anketa/", 12); /* RuntimeDirectory=anketa */
    assert_memory_equal(c.db, "/var/lib/anketa/", 16); /* StateDirectory=anketa */

    snprintf(path, sizeof path, "%s/deploy/nginx-site.conf", root);
    char *site = inst_read(path);
    assert_non_null(site);
    snprintf(expected, sizeof expected, "server unix:%s;", c.socket);
    ASSERT_CONTAINS(site, expected);
    /* nginx and anketa write sizes alike, so anketa's parser reads nginx's value. */
    inst_nginx_value(site, "client_max_body_size", value, sizeof value);
    static struct config nginx;
    char why[160];
    config_defaults(&nginx);
    assert_int_equal(config_set(&nginx, CONFIG_MAX_BODY, value, why, sizeof why), 0);
    assert_int_equal(nginx.max_body, c.max_body);
    snprintf(expected, sizeof expected, "alias %s/static/;", c.web);
    ASSERT_CONTAINS(site, expected);
    free(site);
}

static void test_nginx_site(void **state)
{
    (void)state;
    char dir[128], path[1200], *out;
    snprintf(dir, sizeof dir, "%s/nginx", tmp);
    inst_ok("mkdir -p %s/tmp && cd %s && openssl req -x509 -newkey ec -pkeyopt "
            "ec_paramgen_curve:prime256v1 -nodes -subj /CN=anketa.test -days 2 "
            "-keyout key.pem -out cert.pem",
            dir, dir);
    int http = inst_free_port(), https = inst_free_port();
    while (https == http)
        https = inst_free_port();

    /* The site as shipped, with only the machine-specific names replaced. */
    snprintf(path, sizeof path, "%s/deploy/nginx-site.conf", root);
    char *site = inst_read(path);
    assert_non_null(site);
    struct {
        const char *from;
        char to[1200];
    } subst[] = {
        {"/etc/letsencrypt/live/anketa.example.ru/fullchain.pem", ""},
        {"/etc/letsencrypt/live/anketa.example.ru/privkey.pem", ""},
        {"/var/log/nginx/", ""},
        {"/run/anketa/anketa.sock", ""},
        {"/usr/share/anketa/web/static/", ""},
        {"listen 80;", ""},
        {"listen 443 ssl http2;", ""},
        {"listen [::]:80;", ""},
        {"listen [::]:443 ssl http2;", ""},
    };
    snprintf(subst[0].to, sizeof subst[0].to, "%s/cert.pem", dir);
    snprintf(subst[1].to, sizeof subst[1].to, "%s/key.pem", dir);
    snprintf(subst[2].to, sizeof subst[2].to, "%s/", dir);
    snprintf(subst[3].to, sizeof subst[3].to, "%s/anketa.sock", dir);
    snprintf(subst[4].to, sizeof subst[4].to, "%s/web/static/", root);
    snprintf(subst[5].to, sizeof subst[5].to, "listen 127.0.0.1:%d;", http);
    snprintf(subst[6].to, sizeof subst[6].to, "listen 127.0.0.1:%d ssl http2;", https);
    for (size_t i = 0; i < sizeof subst / sizeof *subst; i++) {
        if (!strstr(site, subst[i].from))
            fail_msg("the nginx site no longer has %s", subst[i].from);
        char *next = inst_replace(site, subst[i].from, subst[i].to);
        free(site);
        site = next;
    }
    snprintf(path, sizeof path, "%s/site.conf", dir);
    inst_write(path, site);
    free(site);

    /* A minimal nginx.conf around it, with the http settings Debian's own nginx.conf has. */
    char conf[4096], user[300] = "";
    struct passwd *pw = getpwuid(getuid());
    struct group *gr = getgrgid(getgid());
    if (getuid() == 0 && pw && gr)
        snprintf(user, sizeof user, "user %s %s;", pw->pw_name, gr->gr_name);
    snprintf(conf, sizeof conf,
             "%s\nworker_processes 1;\npid %s/nginx.pid;\nerror_log %s/error.log;\n"
             "events { worker_connections 64; }\n"
             "http {\n    include /etc/nginx/mime.types;\n"
             "    default_type application/octet-stream;\n    access_log off;\n"
             "    client_body_temp_path %s/tmp/body;\n    fastcgi_temp_path %s/tmp/fastcgi;\n"
             "    proxy_temp_path %s/tmp/proxy;\n    uwsgi_temp_path %s/tmp/uwsgi;\n"
             "    scgi_temp_path %s/tmp/scgi;\n"
             "    ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;\n"
             "    ssl_prefer_server_ciphers on;\n    gzip on;\n"
             "    include %s/site.conf;\n}\n",
             user, dir, dir, dir, dir, dir, dir, dir, dir);
    char nginx_conf[160];
    snprintf(nginx_conf, sizeof nginx_conf, "%s/nginx.conf", dir);
    inst_write(nginx_conf, conf);
    int rc = inst_sh(&out, "nginx -t -p %s -c %s -e %s/error.log", dir, nginx_conf, dir);
    if (rc != 0)
        fail_msg("nginx -t:\n%s", out);
    ASSERT_CONTAINS(out, "test is successful");
    free(out);

    /* Served for real: anketa behind the site, over TLS. */
    char empty[160], sock[160], db[160], alog[160], nlog[160];
    snprintf(empty, sizeof empty, "%s/empty.conf", dir);
    snprintf(sock, sizeof sock, "%s/anketa.sock", dir);
    snprintf(db, sizeof db, "%s/anketa.db", dir);
    snprintf(alog, sizeof alog, "%s/anketa.log", dir);
    snprintf(nlog, sizeof nlog, "%s/nginx.log", dir);
    inst_write(empty, "# the defaults, and the options below\n");
    char surveys[1100], web[1100];
    snprintf(surveys, sizeof surveys, "%s/surveys", root);
    snprintf(web, sizeof web, "%s/web", root);
    char *anketa_argv[] = {bin,         "serve", "--config",      empty,   "--socket", sock,
                           "--db",      db,      "--surveys",     surveys, "--web",    web,
                           "--workers", "1",     "--socket-mode", "0600",  NULL};
    pid_t anketa = inst_spawn(anketa_argv, alog);
    if (inst_wait_socket(sock, anketa) < 0) {
        char *text = inst_read(alog);
        fail_msg("anketa did not start:\n%s", text ? text : "");
    }
    char elog[160];
    snprintf(elog, sizeof elog, "%s/error.log", dir);
    char *nginx_argv[] = {"/usr/sbin/nginx", "-p", dir, "-c", nginx_conf, "-e", elog, "-g",
                          "daemon off;",     NULL};
    pid_t nginx = inst_spawn(nginx_argv, nlog);
    char base[64];
    snprintf(base, sizeof base, "https://127.0.0.1:%d", https);
    int up = 0;
    for (int i = 0; i < 200 && !up; i++) {
        up = inst_sh(&out, "curl -fsk -o /dev/null %s/healthz", base) == 0;
        free(out);
        if (!up) {
            struct timespec nap = {0, 50 * 1000 * 1000};
            nanosleep(&nap, NULL);
        }
    }
    if (!up) {
        char *text = inst_read(elog);
        fail_msg("nginx did not answer:\n%s", text ? text : "");
    }

    /* Plain HTTP is sent to HTTPS, with the participant's link intact. */
    assert_int_equal(inst_sh(&out,
                             "curl -sS -o /dev/null -w '%%{http_code} %%{redirect_url}' "
                             "http://127.0.0.1:%d/s/Zx9Qw2Er7Ty4Ui1Op3As5D",
                             http),
                     0);
    assert_string_equal(out, "301 https://127.0.0.1/s/Zx9Qw2Er7Ty4Ui1Op3As5D");
    free(out);

    /* Pages from anketa, over HTTP/2, with HSTS. */
    assert_int_equal(inst_sh(&out, "curl -sSk -D - -o /dev/null %s/healthz", base), 0);
    for (char *p = out; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    ASSERT_CONTAINS(out, "http/2 200");
    ASSERT_CONTAINS(out, "strict-transport-security: max-age=31536000");
    free(out);

    /* Static files from disk: cached for an hour, compressed, HSTS kept. */
    assert_int_equal(inst_sh(&out,
                             "curl -sSk -H 'Accept-Encoding: gzip' -D - -o /dev/null "
                             "%s/static/anketa.css",
                             base),
                     0);
    for (char *p = out; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    ASSERT_CONTAINS(out, "http/2 200");
    ASSERT_CONTAINS(out, "cache-control: max-age=3600");
    ASSERT_CONTAINS(out, "cache-control: public");
    ASSERT_CONTAINS(out, "content-encoding: gzip");
    ASSERT_CONTAINS(out, "x-content-type-options: nosniff");
    ASSERT_CONTAINS(out, "strict-transport-security: max-age=31536000");
    free(out);

    /* A body over client_max_body_size gets anketa's own 413 page from nginx. */
    char big[160], got[160];
    snprintf(big, sizeof big, "%s/big.bin", dir);
    snprintf(got, sizeof got, "%s/413.html", dir);
    inst_ok("head -c 1100000 /dev/zero > %s", big);
    assert_int_equal(inst_sh(&out,
                             "curl -sSk -o %s -w '%%{http_code}' --data-binary @%s "
                             "%s/s/Zx9Qw2Er7Ty4Ui1Op3As5D",
                             got, big, base),
                     0);
    assert_string_equal(out, "413");
    free(out);
    snprintf(path, sizeof path, "%s/web/static/errors/413.html", root);
    char *page = inst_read(path), *served = inst_read(got);
    assert_non_null(page);
    assert_non_null(served);
    assert_string_equal(served, page);
    free(page);
    free(served);

    assert_int_equal(inst_stop(nginx), 0);
    assert_int_equal(inst_stop(anketa), 0);

    /* The access log has no token, and its request ids are the ones anketa logged. */
    snprintf(path, sizeof path, "%s/anketa.access.log", dir);
    char *access_log = inst_read(path), *app_log = inst_read(alog);
    assert_non_null(access_log);
    assert_non_null(app_log);
    ASSERT_LACKS(access_log, "Zx9Qw2Er7Ty4Ui1Op3As5D");
    ASSERT_CONTAINS(access_log, "\"GET /s/:token\" 301 ");
    ASSERT_CONTAINS(access_log, "\"POST /s/:token\" 413 ");
    const char *line = strstr(access_log, "\"GET /healthz\" 200 ");
    assert_non_null(line);
    const char *req = strstr(line, "req=");
    assert_non_null(req);
    char id[64];
    snprintf(id, sizeof id, "%.*s", (int)strcspn(req, " \n"), req);
    assert_int_equal(strlen(id), 4 + 32);
    ASSERT_CONTAINS(app_log, id);
    free(access_log);
    free(app_log);
}

/* The man page has a section for every command `anketa help` lists, and every option of
 * every command's --help. */
static void test_man_page_covers_every_command(void **state)
{
    (void)state;
    char path[1200], *out;
    snprintf(path, sizeof path, "%s/docs/anketa.1", root);
    char *man = inst_read(path);
    assert_non_null(man);
    assert_int_equal(inst_sh(&out, "%s help", bin), 0);
    int commands = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char name[64], section[96];
        if (strncmp(line, "  ", 2) != 0 || sscanf(line, " %63s", name) != 1)
            continue;
        commands++;
        snprintf(section, sizeof section, ".SS \"anketa %s", name);
        if (!strstr(man, section))
            fail_msg("docs/anketa.1 has no section for the command %s", name);
        char *usage;
        assert_int_equal(inst_sh(&usage, "%s %s --help", bin, name), 0);
        for (const char *p = strstr(usage, "--"); p; p = strstr(p + 2, "--")) {
            if ((p > usage && isalnum((unsigned char)p[-1])) || !islower((unsigned char)p[2]))
                continue;
            size_t n = 2 + strspn(p + 2, "abcdefghijklmnopqrstuvwxyz0123456789-");
            char roff[160]; /* as roff writes it: --max-body is \-\-max\-body */
            size_t w = 0;
            for (size_t i = 0; i < n && w + 3 < sizeof roff; i++) {
                if (p[i] == '-')
                    roff[w++] = '\\';
                roff[w++] = p[i];
            }
            roff[w] = '\0';
            if (strcmp(roff, "\\-\\-help") != 0 && !strstr(man, roff))
                fail_msg("docs/anketa.1 does not describe %.*s of anketa %s", (int)n, p, name);
        }
        free(usage);
    }
    assert_true(commands >= 6);
    free(out);
    free(man);
}

/* Every lintian tag reported on the package is explained in docs/deploy.md. */
static void inst_assert_lintian_explained(const char *deb)
{
    char *out, path[1200];
    int rc = inst_sh(&out, "lintian --pedantic -I --tag-display-limit 0 %s", deb);
    snprintf(path, sizeof path, "%s/docs/deploy.md", root);
    char *doc = inst_read(path);
    assert_non_null(doc);
    int unexplained = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        if (strlen(line) < 3 || line[1] != ':' || !strchr("EWIPX", line[0]))
            continue;
        if (line[0] == 'E')
            unexplained++;
        const char *tag = strstr(line, "anketa: ");
        char name[128];
        if (!tag)
            continue;
        snprintf(name, sizeof name, "`%.*s`", (int)strcspn(tag + 8, " "), tag + 8);
        if (!strstr(doc, name)) {
            print_error("not explained in docs/deploy.md: %s\n", line);
            unexplained++;
        }
    }
    free(doc);
    free(out);
    assert_true(rc == 0 || rc == 1);
    assert_int_equal(unexplained, 0);
}

static void test_deb(void **state)
{
    (void)state;
    char *out, deb[1200], arch[64];
    assert_int_equal(inst_sh(&out, "dpkg --print-architecture"), 0);
    snprintf(arch, sizeof arch, "%.*s", (int)strcspn(out, "\n"), out);
    free(out);
    int rc = inst_sh(&out, INST_MAKE " %s deb", root);
    if (rc != 0)
        fail_msg("make deb failed:\n%s", out);
    free(out);
    snprintf(deb, sizeof deb, "%s/build/anketa_%s_%s.deb", root, version, arch);

    assert_int_equal(inst_sh(&out, "dpkg-deb -f %s Package Version Architecture", deb), 0);
    char expected[512];
    snprintf(expected, sizeof expected, "Package: anketa\nVersion: %s\nArchitecture: %s\n", version,
             arch);
    assert_string_equal(out, expected);
    free(out);
    assert_int_equal(inst_sh(&out, "dpkg-deb -f %s Depends Recommends", deb), 0);
    const char *deps[] = {"libfcgi0ldbl",
                          "libsqlite3-0 (>= ",
                          "libyaml-0-2",
                          "libjansson4 (>= ",
                          "libsodium23 (>= ",
                          "libc6 (>= ",
                          "adduser",
                          "procps", /* /bin/kill, for the unit's ExecReload */
                          "\nRecommends: nginx\n"};
    for (size_t i = 0; i < sizeof deps / sizeof *deps; i++)
        ASSERT_CONTAINS(out, deps[i]);
    free(out);
    assert_int_equal(inst_sh(&out, "dpkg-deb -I %s conffiles", deb), 0);
    assert_string_equal(out, "/etc/anketa/anketa.conf\n");
    free(out);

    /* Contents: owned by root, in their Debian places. */
    assert_int_equal(inst_sh(&out, "dpkg-deb -c %s", deb), 0);
    const char *files[] = {
        " ./usr/bin/anketa\n",
        " ./lib/systemd/system/anketa.service\n",
        " ./etc/anketa/anketa.conf\n",
        " ./usr/share/man/man1/anketa.1.gz\n",
        " ./usr/share/doc/anketa/copyright\n",
        " ./usr/share/doc/anketa/changelog.gz\n",
        " ./usr/share/doc/anketa/deploy.md.gz\n",
        " ./usr/share/doc/anketa/examples/nginx-site.conf\n",
        " ./usr/share/anketa/web/static/anketa.css\n",
    };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        ASSERT_CONTAINS(out, files[i]);
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
        if (!strstr(line, " root/root "))
            fail_msg("not owned by root in the package: %s", line);
    free(out);

    /* The maintainer scripts are executable and valid shell. */
    char ctl[128];
    snprintf(ctl, sizeof ctl, "%s/control", tmp);
    inst_ok("dpkg-deb -e %s %s", deb, ctl);
    const char *scripts[] = {"postinst", "prerm", "postrm"};
    for (size_t i = 0; i < 3; i++) {
        char script[256];
        snprintf(script, sizeof script, "%s/%s", ctl, scripts[i]);
        assert_int_equal(access(script, X_OK), 0);
        inst_ok("sh -n %s", script);
    }

    /* The program runs from the unpacked package; its configuration is the example. */
    char x[128];
    snprintf(x, sizeof x, "%s/unpacked", tmp);
    inst_ok("dpkg -x %s %s", deb, x);
    assert_int_equal(inst_sh(&out, "%s/usr/bin/anketa --version", x), 0);
    snprintf(expected, sizeof expected, "anketa %s (database schema ", version);
    assert_memory_equal(out, expected, strlen(expected));
    free(out);
    inst_ok("cmp %s/etc/anketa/anketa.conf %s/deploy/anketa.conf", x, root);

    inst_assert_lintian_explained(deb);
}

/*
 * The package installs with apt on a fresh Debian 12 (a minimal root the test builds with
 * debootstrap), pulling its dependencies; the installed program runs; purging removes the
 * program and keeps the data directory. Needs root (chroot, mounting /proc) and Debian's
 * package mirror; skipped otherwise.
 */
static void test_deb_installs_on_fresh_debian(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        print_message("skipped: building a Debian root needs root\n");
        skip();
    }
    char *out, arch[64], deb[1200], dir[128];
    assert_int_equal(inst_sh(&out, "dpkg --print-architecture"), 0);
    snprintf(arch, sizeof arch, "%.*s", (int)strcspn(out, "\n"), out);
    free(out);
    snprintf(deb, sizeof deb, "%s/build/anketa_%s_%s.deb", root, version, arch);
    if (access(deb, R_OK) != 0)
        inst_ok(INST_MAKE " %s deb", root);
    snprintf(dir, sizeof dir, "%s/debian", tmp);
    const char *mirror = getenv("ANKETA_DEBIAN_MIRROR");
    int rc =
        inst_sh(&out,
                "set -e; d=%s; trap 'umount \"$d/proc\" 2>/dev/null || true' EXIT; "
                "debootstrap --variant=minbase bookworm \"$d\" %s >/dev/null; "
                "cp %s \"$d/tmp/anketa.deb\"; mount -t proc proc \"$d/proc\"; "
                "chroot \"$d\" sh -ec 'export DEBIAN_FRONTEND=noninteractive; apt-get update -qq; "
                "apt-get install -y -qq /tmp/anketa.deb >/dev/null; anketa --version; "
                "id -u anketa >/dev/null; test -f /etc/anketa/anketa.conf; "
                "anketa init --db /var/lib/anketa/anketa.db >/dev/null; "
                "apt-get purge -y -qq anketa >/dev/null; test ! -e /usr/bin/anketa; "
                "test -f /var/lib/anketa/anketa.db; echo purged, data kept'",
                dir, mirror ? mirror : "http://deb.debian.org/debian", deb);
    if (rc != 0)
        fail_msg("installing the package on a fresh Debian failed (%d):\n%s", rc, out);
    char expected[128];
    snprintf(expected, sizeof expected, "anketa %s (database schema ", version);
    ASSERT_CONTAINS(out, expected);
    ASSERT_CONTAINS(out, "purged, data kept");
    free(out);
    inst_ok("rm -rf %s", dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_serve_refuses_broken_config, inst_stop_all),
        cmocka_unit_test_teardown(test_serve_takes_file_then_options, inst_stop_all),
        cmocka_unit_test_teardown(test_serve_reloads_config, inst_stop_all),
        cmocka_unit_test(test_deploy_files_agree),
        cmocka_unit_test(test_systemd_unit_verifies),
        cmocka_unit_test(test_man_page_covers_every_command),
        cmocka_unit_test_teardown(test_nginx_site, inst_stop_all),
        cmocka_unit_test_teardown(test_install_and_uninstall, inst_stop_all),
        cmocka_unit_test(test_deb),
        cmocka_unit_test(test_deb_installs_on_fresh_debian),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
