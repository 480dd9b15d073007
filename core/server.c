/*
 * server: socket, pre-forked workers, signals, and the FastCGI accept loop.
 *
 * Shutdown without races: each worker blocks SIGTERM/SIGINT except inside ppoll(), so a
 * signal can only arrive while the worker waits for a connection, never in the middle of a
 * request (or of a SQLite transaction). The listening socket is non-blocking, so a worker
 * that loses the race for a connection to a sibling goes back to waiting instead of
 * blocking in accept() where a shutdown could not reach it.
 */
/* ppoll() is a Linux call. */
#define _GNU_SOURCE
#include "server.h"

#include "app.h"
#include "arena.h"
#include "err.h"
#include "http.h"
#include "log.h"
#include "store.h"

#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SERVER_MAX_WORKERS    256
#define SERVER_BACKLOG        1024
#define SERVER_STOP_GRACE_S   30
#define SERVER_READ_TIMEOUT_S 30

static volatile sig_atomic_t server_stop;

static void server_on_stop(int sig)
{
    (void)sig;
    server_stop = 1;
    FCGX_ShutdownPending();
}

/* SIGCHLD only has to interrupt the master's sigsuspend(); waitpid() does the rest. */
static void server_on_child(int sig)
{
    (void)sig;
}

static int server_signals(sigset_t *blocked_out, sigset_t *orig_out)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: the master's waitpid() and the workers' ppoll() must see EINTR. */
    sa.sa_handler = server_on_stop;
    if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
        return -1;
    sa.sa_handler = server_on_child;
    if (sigaction(SIGCHLD, &sa, NULL) < 0)
        return -1;
    sa.sa_handler = SIG_IGN;
    /* Installed before FCGX_Init(), which otherwise takes SIGUSR1 as "stop accepting" and
     * leaves a worker spinning on failed accepts. */
    if (sigaction(SIGPIPE, &sa, NULL) < 0 || sigaction(SIGUSR1, &sa, NULL) < 0)
        return -1;
    sigemptyset(blocked_out);
    sigaddset(blocked_out, SIGTERM);
    sigaddset(blocked_out, SIGINT);
    sigaddset(blocked_out, SIGCHLD);
    return sigprocmask(SIG_BLOCK, blocked_out, orig_out);
}

/*
 * Opens the listening socket ourselves rather than with FCGX_OpenSocket, which exits the
 * process on a bind error. A socket file left by a crashed run is replaced; one that a
 * live server still answers on is not.
 */
static int server_listen(const char *path, int mode, struct err *e)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path)
        return err_set(e, path, 0, 0, "socket path is longer than %zu bytes",
                       sizeof sa.sun_path - 1);
    memcpy(sa.sun_path, path, strlen(path) + 1);

    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return err_set(e, path, 0, 0, "exists and is not a socket; refusing to replace it");
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe < 0)
            return err_set(e, path, 0, 0, "socket: %s", strerror(errno));
        int live = connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0;
        close(probe);
        if (live)
            return err_set(e, path, 0, 0, "another server is listening on this socket");
        if (unlink(path) < 0)
            return err_set(e, path, 0, 0, "cannot remove stale socket: %s", strerror(errno));
    }

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return err_set(e, path, 0, 0, "socket: %s", strerror(errno));
    mode_t old = umask(0177);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc < 0) {
        err_set(e, path, 0, 0, "bind: %s", strerror(errno));
        close(fd);
        return -1;
    }
    /* A local client that connects and sends nothing must not pin a worker for ever: accepted
     * sockets inherit this receive timeout. */
    struct timeval tv = {.tv_sec = SERVER_READ_TIMEOUT_S};
    if (chmod(path, (mode_t)mode) < 0 || listen(fd, SERVER_BACKLOG) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) {
        err_set(e, path, 0, 0, "listen: %s", strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    return fd;
}

static double server_ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Copies a parameter out of libfcgi's environment; "" when absent, NULL when out of memory. */
static const char *server_param(FCGX_Request *fr, struct arena *a, const char *name)
{
    const char *v = FCGX_GetParam(name, fr->envp);
    return arena_strdup(a, v ? v : "");
}

static int server_parse_length(const char *s, size_t *out)
{
    size_t n = 0;
    if (!*s) {
        *out = 0;
        return 0;
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || n > ((size_t)-1 - 9) / 10)
            return -1;
        n = n * 10 + (size_t)(*s - '0');
    }
    *out = n;
    return 0;
}

/* Fills q from the FastCGI request. Returns the HTTP status to answer with instead, or 0. */
static int server_read_request(FCGX_Request *fr, struct arena *a, size_t max_body,
                               unsigned long seq, struct http_req *q)
{
    memset(q, 0, sizeof *q);
    q->arena = a;
    q->method = server_param(fr, a, "REQUEST_METHOD");
    q->path = server_param(fr, a, "DOCUMENT_URI");
    q->query = server_param(fr, a, "QUERY_STRING");
    q->content_type = server_param(fr, a, "CONTENT_TYPE");
    q->cookie = server_param(fr, a, "HTTP_COOKIE");
    q->accept_language = server_param(fr, a, "HTTP_ACCEPT_LANGUAGE");
    q->request_id = server_param(fr, a, "REQUEST_ID");
    const char *https = server_param(fr, a, "HTTPS");
    const char *length = server_param(fr, a, "CONTENT_LENGTH");
    if (!q->method || !q->path || !q->query || !q->content_type || !q->cookie ||
        !q->accept_language || !q->request_id || !https || !length)
        return 500;
    if (!q->request_id[0]) {
        q->request_id = arena_printf(a, "%d-%lu", (int)getpid(), seq);
        if (!q->request_id)
            return 500;
    }
    if (!q->path[0]) {
        /* Without nginx's $document_uri (another front end), take the path of REQUEST_URI. */
        const char *uri = FCGX_GetParam("REQUEST_URI", fr->envp);
        q->path = uri ? arena_strndup(a, uri, strcspn(uri, "?")) : "/";
        if (!q->path)
            return 500;
    }
    q->https = strcmp(https, "on") == 0;

    size_t len;
    if (server_parse_length(length, &len) < 0)
        return 400;
    if (len > max_body) {
        /* Read and drop a moderately oversized body so that nginx, still sending it, sees
         * our 413 rather than a reset connection (which it would turn into a 502). */
        if (len / 16 <= max_body) {
            char sink[8192];
            while (FCGX_GetStr(sink, (int)sizeof sink, fr->in) > 0)
                ;
        }
        return 413;
    }
    char *body = arena_alloc(a, len + 1);
    if (!body)
        return 500;
    size_t got = 0;
    while (got < len) {
        int n = FCGX_GetStr(body + got, (int)(len - got > 65536 ? 65536 : len - got), fr->in);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got != len)
        return 400;
    body[len] = '\0';
    q->body = body;
    q->body_len = len;
    return 0;
}

static void server_write(FCGX_Request *fr, struct http_resp *r)
{
    /* libfcgi's own printf knows no %zu: format here. */
    char head[128];
    int n = snprintf(head, sizeof head, "Status: %d %s\r\nContent-Length: %zu\r\n", r->status,
                     http_status_text(r->status), r->body.len);
    FCGX_PutStr(head, n, fr->out);
    if (r->headers.len)
        FCGX_PutStr(r->headers.data, (int)r->headers.len, fr->out);
    FCGX_PutStr("\r\n", 2, fr->out);
    if (r->body.len)
        FCGX_PutStr(r->body.data, (int)r->body.len, fr->out);
}

static void server_plain_error(struct http_resp *r, int status)
{
    r->status = status;
    r->headers.len = 0;
    r->headers.failed = 0;
    r->body.len = 0;
    r->body.failed = 0;
    http_header(r, "Content-Type", "text/plain; charset=utf-8");
    buf_printf(&r->body, "%d %s\n", status, http_status_text(status));
}

static int server_worker(const struct server_config *cfg, const struct app_defs *defs, int fd,
                         const sigset_t *orig_mask)
{
    struct err e = {0};
    struct store_options opt = {.synchronous = cfg->synchronous, .migrate = 0};
    struct app app = {.defs = defs};
    char msg[1024];
    if (store_open(cfg->db_path, &opt, &app.store, &e) < 0 ||
        store_secret(app.store, app.secret, &e) < 0) {
        err_format(&e, msg, sizeof msg);
        log_msg(LOG_ERROR, "worker cannot start: %s", msg);
        store_close(app.store);
        return -1;
    }
    struct arena *a = arena_new();
    FCGX_Request fr;
    if (!a || FCGX_InitRequest(&fr, fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
        log_msg(LOG_ERROR, "worker cannot start: out of memory");
        arena_free(a);
        store_close(app.store);
        return -1;
    }

    unsigned long seq = 0;
    int rc = 0;
    while (!server_stop) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = ppoll(&p, 1, NULL, orig_mask);
        if (n < 0 && errno != EINTR) {
            log_msg(LOG_ERROR, "poll failed: %s", strerror(errno));
            rc = -1;
            break;
        }
        /* Under steady load ppoll() returns with a connection ready before a pending SIGTERM
         * is delivered, and the mask is back in place on return: look for it. */
        sigset_t pending;
        if (sigpending(&pending) == 0 &&
            (sigismember(&pending, SIGTERM) || sigismember(&pending, SIGINT)))
            server_stop = 1;
        if (n <= 0 || server_stop)
            continue;
        int got = FCGX_Accept_r(&fr);
        if (got < 0) {
            if (got == -EAGAIN || got == -EWOULDBLOCK || got == -EINTR || got == -ECONNABORTED)
                continue;
            log_msg(LOG_ERROR, "accept failed: %s", strerror(-got));
            rc = -1;
            break;
        }
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        struct http_req q;
        struct http_resp r;
        http_resp_init(&r, a);
        int status = server_read_request(&fr, a, cfg->max_body, ++seq, &q);
        if (status)
            app_refuse(&app, &q, &r, status);
        else
            app_handle(&app, &q, &r);
        if (buf_failed(&r.headers) || buf_failed(&r.body)) {
            log_msg(LOG_ERROR,
                    "req=%s the response could not be built (out of memory or a "
                    "template error above)",
                    q.request_id ? q.request_id : "-");
            server_plain_error(&r, 500);
        }
        server_write(&fr, &r);
        FCGX_Finish_r(&fr);
        log_request(q.request_id ? q.request_id : "-", q.method ? q.method : "-",
                    q.path ? q.path : "-", r.status, server_ms_since(&t0));
        arena_reset(a);
    }
    FCGX_Free(&fr, 1);
    arena_free(a);
    store_close(app.store);
    return rc;
}

struct server_slot {
    pid_t pid;
    time_t started;
    int backoff; /* seconds waited before the last restart */
};

static pid_t server_spawn(const struct server_config *cfg, const struct app_defs *defs, int fd,
                          const sigset_t *orig_mask, int *is_child, int *child_rc)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        *is_child = 1;
        *child_rc = server_worker(cfg, defs, fd, orig_mask);
    }
    return pid;
}

/* Stops every worker; returns how many did not end with status 0. */
static int server_stop_workers(struct server_slot *slots, int n)
{
    int bad = 0;
    for (int i = 0; i < n; i++)
        if (slots[i].pid > 0)
            kill(slots[i].pid, SIGTERM);
    time_t deadline = time(NULL) + SERVER_STOP_GRACE_S;
    int left = 0;
    for (int i = 0; i < n; i++)
        left += slots[i].pid > 0;
    while (left > 0) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            for (int i = 0; i < n; i++)
                if (slots[i].pid == pid) {
                    slots[i].pid = 0;
                    left--;
                    bad += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
                }
            continue;
        }
        if (pid < 0 && errno == ECHILD)
            break;
        if (time(NULL) >= deadline) {
            log_msg(LOG_WARN, "workers did not stop in %d s; killing them", SERVER_STOP_GRACE_S);
            for (int i = 0; i < n; i++)
                if (slots[i].pid > 0)
                    kill(slots[i].pid, SIGKILL);
            deadline = time(NULL) + SERVER_STOP_GRACE_S;
        }
        struct timespec nap = {0, 20 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    return bad;
}

int server_run(const struct server_config *cfg, struct err *e)
{
    int workers = cfg->workers;
    if (workers <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        workers = cpus > 0 ? (int)cpus : 1;
    }
    if (workers > SERVER_MAX_WORKERS)
        return err_set(e, "", 0, 0, "at most %d workers", SERVER_MAX_WORKERS);

    struct app_defs defs;
    if (app_defs_load(&defs, cfg->surveys_dir, cfg->web_dir, e) < 0)
        return -1;

    struct store *st = NULL;
    struct store_options opt = {.synchronous = cfg->synchronous, .migrate = 1};
    if (store_open(cfg->db_path, &opt, &st, e) < 0) {
        app_defs_free(&defs);
        return -1;
    }
    store_close(st);

    sigset_t blocked, orig;
    if (server_signals(&blocked, &orig) < 0 || FCGX_Init() != 0) {
        app_defs_free(&defs);
        return err_set(e, "", 0, 0, "cannot set up FastCGI or signals: %s", strerror(errno));
    }
    int fd = server_listen(cfg->socket_path, cfg->socket_mode, e);
    if (fd < 0) {
        app_defs_free(&defs);
        return -1;
    }
    log_msg(LOG_INFO, "listening on %s with %d workers, %zu surveys", cfg->socket_path, workers,
            defs.surveys.n);

    struct server_slot slots[SERVER_MAX_WORKERS];
    memset(slots, 0, sizeof slots);
    int is_child = 0, child_rc = 0, rc = 0;
    for (int i = 0; i < workers && !is_child; i++) {
        slots[i].pid = server_spawn(cfg, &defs, fd, &orig, &is_child, &child_rc);
        slots[i].started = time(NULL);
        if (slots[i].pid < 0) {
            err_set(e, "", 0, 0, "fork: %s", strerror(errno));
            rc = -1;
            server_stop = 1;
            break;
        }
    }

    while (!is_child && !server_stop) {
        sigsuspend(&orig);
        while (!is_child && !server_stop) {
            int status;
            pid_t pid = waitpid(-1, &status, WNOHANG);
            if (pid <= 0)
                break;
            for (int i = 0; i < workers; i++) {
                if (slots[i].pid != pid)
                    continue;
                log_msg(LOG_ERROR, "worker %d ended (%s %d); starting another", (int)pid,
                        WIFSIGNALED(status) ? "signal" : "status",
                        WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
                /* A worker that cannot even start would otherwise be respawned in a loop: wait
                 * longer each time it dies young, up to a minute. */
                if (time(NULL) - slots[i].started < 2) {
                    slots[i].backoff = slots[i].backoff ? slots[i].backoff * 2 : 1;
                    if (slots[i].backoff > 60)
                        slots[i].backoff = 60;
                    sleep((unsigned)slots[i].backoff);
                } else {
                    slots[i].backoff = 0;
                }
                slots[i].pid = server_spawn(cfg, &defs, fd, &orig, &is_child, &child_rc);
                slots[i].started = time(NULL);
                break;
            }
        }
    }

    if (is_child) {
        close(fd);
        app_defs_free(&defs);
        if (child_rc < 0)
            return err_set(e, "", 0, 0, "worker %d failed", (int)getpid());
        return 0;
    }

    int bad = server_stop_workers(slots, workers);
    if (bad && rc == 0)
        rc = err_set(e, "", 0, 0, "%d worker%s did not stop cleanly", bad, bad == 1 ? "" : "s");
    close(fd);
    unlink(cfg->socket_path);
    app_defs_free(&defs);
    log_msg(LOG_INFO, "stopped");
    return rc;
}
