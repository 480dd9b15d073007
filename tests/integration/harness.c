/*
 * harness: process management and HTTP helpers for the integration tests.
 */
#include "harness.h"

#include "crypto.h"
#include "err.h"
#include "store.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int harness_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(sa.sin_port);
}

static pid_t harness_spawn(char *const argv[], const char *log)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static int harness_seed(struct harness *h)
{
    struct err e = {0};
    struct store *st;
    struct store_options opt = {.migrate = 1};
    if (store_open(h->db, &opt, &st, &e) < 0)
        return -1;
    static const struct org_rec orgs[] = {
        {.code = "t-region", .level = "region", .name = "Тестовая область"},
        {.code = "t-mun",
         .parent_code = "t-region",
         .level = "municipality",
         .name = "Тестовый район"},
        {.code = "t-school",
         .parent_code = "t-mun",
         .level = "organisation",
         .kind = "school",
         .name = "Тестовая школа"},
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof orgs / sizeof orgs[0]; i++)
        rc = rc || store_put_org(st, &orgs[i], NULL, &e);
    rc = rc || store_put_programme(st, "t-school", "t-prog", "pupil-pupil", "Тестовая программа",
                                   2026, NULL, &e);
    store_close(st);
    if (rc) {
        char msg[1024];
        err_format(&e, msg, sizeof msg);
        fprintf(stderr, "harness: seeding failed: %s\n", msg);
    }
    return rc ? -1 : 0;
}

int harness_invite(struct harness *h, const char *survey_id, char token[23])
{
    static int counter;
    struct err e = {0};
    struct store *st;
    struct store_options opt = {.migrate = 0};
    char code[32];
    snprintf(code, sizeof code, "T-%d-%d", (int)getpid(), ++counter);
    if (store_open(h->db, &opt, &st, &e) < 0)
        return -1;
    struct participant_rec p = {.code = code,
                                .org_code = "t-school",
                                .programme_code = "t-prog",
                                .role = "mentee",
                                .kind = "pupil",
                                .birth_year = 2012,
                                .experience_years = -1,
                                .consent_date = "2026-09-01"};
    int rc = store_put_participant(st, &p, NULL, &e) ||
             store_put_invitation(st, code, survey_id, token, &e);
    store_close(st);
    return rc ? -1 : 0;
}

long harness_sql_long(struct harness *h, const char *sql, const char *param)
{
    sqlite3 *db;
    sqlite3_stmt *stmt = NULL;
    long v = -1;
    if (sqlite3_open_v2(h->db, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK) {
        if (param)
            sqlite3_bind_text(stmt, 1, param, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW)
            v = sqlite3_column_int64(stmt, 0);
        else if (rc == SQLITE_DONE)
            v = 0;
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return v;
}

int harness_run(const char *cmd, char *out, size_t size)
{
    char full[4096];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p)
        return -1;
    size_t n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int harness_wait_ready(struct harness *h)
{
    for (int i = 0; i < 200; i++) {
        struct http_result r;
        if (http_request(h, "GET", "/healthz", NULL, 0, NULL, &r) == 0) {
            long status = r.status;
            http_result_free(&r);
            if (status == 200)
                return 0;
        }
        struct timespec nap = {0, 50 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    return -1;
}

int harness_start(struct harness *h, const char *app_max_body, const char *nginx_max_body)
{
    return harness_start_surveys(h, app_max_body, nginx_max_body, NULL);
}

int harness_start_surveys(struct harness *h, const char *app_max_body, const char *nginx_max_body,
                          const char *surveys_dir)
{
    return harness_start_with(h, app_max_body, nginx_max_body, surveys_dir, NULL);
}

int harness_start_with(struct harness *h, const char *app_max_body, const char *nginx_max_body,
                       const char *surveys_dir, const char *const *serve_args)
{
    memset(h, 0, sizeof *h);
    const char *root = getenv("ANKETA_ROOT");
    const char *bin = getenv("ANKETA_BIN");
    if (!root || !bin) {
        fprintf(stderr, "harness: set ANKETA_ROOT and ANKETA_BIN (make integration does)\n");
        return -1;
    }
    snprintf(h->root, sizeof h->root, "%s", root);
    snprintf(h->dir, sizeof h->dir, "/tmp/anketa-it-XXXXXX");
    if (!mkdtemp(h->dir) || crypto_setup() < 0)
        return -1;
    snprintf(h->db, sizeof h->db, "%s/anketa.db", h->dir);
    snprintf(h->sock, sizeof h->sock, "%s/anketa.sock", h->dir);
    h->port = harness_free_port();
    snprintf(h->base, sizeof h->base, "http://127.0.0.1:%d", h->port);
    if (h->port < 0 || harness_seed(h) < 0)
        return -1;

    char binpath[1200], surveys[1200], web[1200], log[600], conf[600], cmd[4096], out[4096];
    snprintf(binpath, sizeof binpath, "%s/%s", root, bin);
    if (bin[0] == '/')
        snprintf(binpath, sizeof binpath, "%s", bin);
    if (surveys_dir)
        snprintf(surveys, sizeof surveys, "%s", surveys_dir);
    else
        snprintf(surveys, sizeof surveys, "%s/surveys", root);
    snprintf(web, sizeof web, "%s/web", root);
    snprintf(log, sizeof log, "%s/anketa.log", h->dir);
    /* The shipped plugins (ASan builds), with the jsonl plugin writing to the run's directory.
     * A test's own --config or --plugin-dir in serve_args comes later and wins. */
    char plugins[1100], conf_opt[600];
    snprintf(plugins, sizeof plugins, "%s/build/asan/plugins", root);
    snprintf(h->events, sizeof h->events, "%s/events.jsonl", h->dir);
    snprintf(conf_opt, sizeof conf_opt, "%s/plugins.conf", h->dir);
    FILE *pc = fopen(conf_opt, "w");
    if (!pc)
        return -1;
    fprintf(pc, "plugin.jsonl.path = %s\n", h->events);
    fclose(pc);
    char *anketa_argv[44] = {binpath,     "serve",  "--db",          h->db,
                             "--socket",  h->sock,  "--socket-mode", "0600",
                             "--workers", "2",      "--surveys",     surveys,
                             "--web",     web,      "--max-body",    (char *)app_max_body,
                             "--config",  conf_opt, "--plugin-dir",  plugins};
    size_t argc = 20;
    for (size_t i = 0; serve_args && serve_args[i] && argc < 43; i++)
        anketa_argv[argc++] = (char *)serve_args[i];
    anketa_argv[argc] = NULL;
    h->anketa = harness_spawn(anketa_argv, log);

    snprintf(conf, sizeof conf, "%s/nginx.conf", h->dir);
    snprintf(cmd, sizeof cmd, "%s/scripts/nginx-conf.sh %s %s %d %s %s %s", root, root, h->dir,
             h->port, h->sock, nginx_max_body, conf);
    if (harness_run(cmd, out, sizeof out) != 0) {
        fprintf(stderr, "harness: %s\n", out);
        return -1;
    }
    for (int i = 0; i < 200 && access(h->sock, F_OK) != 0; i++) {
        struct timespec nap = {0, 50 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    char nlog[600];
    snprintf(nlog, sizeof nlog, "%s/nginx-error.log", h->dir);
    char *nginx_argv[] = {"/usr/sbin/nginx", "-p", h->dir, "-c", conf, "-e", nlog, "-g",
                          "daemon off;",     NULL};
    h->nginx = harness_spawn(nginx_argv, nlog);
    if (harness_wait_ready(h) < 0) {
        snprintf(cmd, sizeof cmd, "tail -n 30 %s/anketa.log %s/nginx-error.log", h->dir, h->dir);
        harness_run(cmd, out, sizeof out);
        fprintf(stderr, "harness: the server did not become ready:\n%s\n", out);
        return -1;
    }
    return 0;
}

static int harness_wait(pid_t pid)
{
    int status;
    for (int i = 0; i < 400; i++) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        struct timespec nap = {0, 50 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

int harness_stop(struct harness *h)
{
    int rc = -1;
    if (h->nginx > 0) {
        kill(h->nginx, SIGTERM);
        harness_wait(h->nginx);
    }
    if (h->anketa > 0) {
        kill(h->anketa, SIGTERM);
        rc = harness_wait(h->anketa);
    }
    h->nginx = h->anketa = 0;
    if (rc != 0) {
        char cmd[1024], out[8192];
        snprintf(cmd, sizeof cmd, "tail -n 40 %s/anketa.log", h->dir);
        harness_run(cmd, out, sizeof out);
        fprintf(stderr, "harness: anketa exited with %d; its log:\n%s\n", rc, out);
    }
    return rc;
}

void harness_cleanup(struct harness *h)
{
    char cmd[600], out[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", h->dir);
    harness_run(cmd, out, sizeof out);
}

struct harness_sink {
    char *p;
    size_t len;
};

static size_t harness_collect(char *data, size_t size, size_t n, void *userp)
{
    struct harness_sink *s = userp;
    size_t add = size * n;
    char *p = realloc(s->p, s->len + add + 1);
    if (!p)
        return 0;
    memcpy(p + s->len, data, add);
    s->p = p;
    s->len += add;
    s->p[s->len] = '\0';
    return add;
}

int http_request(struct harness *h, const char *method, const char *path, const char *body,
                 size_t body_len, const char *extra_headers, struct http_result *out)
{
    memset(out, 0, sizeof *out);
    CURL *c = curl_easy_init();
    if (!c)
        return -1;
    char url[2048];
    snprintf(url, sizeof url, "%s%s", h->base, path);
    struct harness_sink b = {0}, hd = {0};
    struct curl_slist *list = NULL;
    if (extra_headers) {
        char copy[4096];
        snprintf(copy, sizeof copy, "%s", extra_headers);
        for (char *save, *line = strtok_r(copy, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save))
            list = curl_slist_append(list, line);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, harness_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, harness_collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hd);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    out->body = b.p ? b.p : calloc(1, 1);
    out->len = b.len;
    out->headers = hd.p ? hd.p : calloc(1, 1);
    if (rc != CURLE_OK) {
        http_result_free(out);
        return -1;
    }
    return 0;
}

void http_result_free(struct http_result *r)
{
    free(r->body);
    free(r->headers);
    r->body = r->headers = NULL;
}

int http_header_value(const struct http_result *r, const char *name, char *out, size_t size)
{
    size_t n = strlen(name);
    for (const char *p = r->headers; p && *p;) {
        const char *end = strstr(p, "\r\n");
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            snprintf(out, size, "%.*s", (int)(len - (size_t)(v - p)), v);
            return 0;
        }
        p = end ? end + 2 : NULL;
    }
    return -1;
}

int http_form_secrets(const struct http_result *r, char *csrf, size_t csrf_size, char *cookie,
                      size_t cookie_size)
{
    const char *p = strstr(r->body, "name=\"csrf\" value=\"");
    char set_cookie[512];
    if (!p || http_header_value(r, "Set-Cookie", set_cookie, sizeof set_cookie) < 0)
        return -1;
    p += strlen("name=\"csrf\" value=\"");
    snprintf(csrf, csrf_size, "%.*s", (int)strcspn(p, "\""), p);
    snprintf(cookie, cookie_size, "%.*s", (int)strcspn(set_cookie, ";"), set_cookie);
    return 0;
}
