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
#include "indicator.h"
#include "log.h"
#include "plugin.h"
#include "registry.h"
#include "store.h"

#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SERVER_MAX_WORKERS  256
#define SERVER_BACKLOG      1024
#define SERVER_STOP_GRACE_S 30
/* nginx sends a request whole: this much silence in the middle of one is a broken or hostile
 * peer. Below nginx's fastcgi_read_timeout (30 s), so nginx still gets an answer for the
 * requests queued behind it. */
#define SERVER_READ_TIMEOUT_S 10

static volatile sig_atomic_t server_stop;
static volatile sig_atomic_t server_reload_wanted;

static void server_on_stop(int sig)
{
    (void)sig;
    server_stop = 1;
    FCGX_ShutdownPending();
}

static void server_on_reload(int sig)
{
    (void)sig;
    server_reload_wanted = 1;
}

/* SIGCHLD only has to interrupt the master's wait; waitpid() does the rest. SIGALRM only
 * has to interrupt a worker's read of a request that has stalled. */
static void server_on_interrupt(int sig)
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
    sa.sa_handler = server_on_interrupt;
    if (sigaction(SIGCHLD, &sa, NULL) < 0 || sigaction(SIGALRM, &sa, NULL) < 0)
        return -1;
    sa.sa_handler = server_on_reload;
    if (sigaction(SIGHUP, &sa, NULL) < 0)
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
    sigaddset(blocked_out, SIGHUP);
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
    if (chmod(path, (mode_t)mode) < 0 || listen(fd, SERVER_BACKLOG) < 0) {
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
    q->authorization = server_param(fr, a, "HTTP_AUTHORIZATION");
    q->request_id = server_param(fr, a, "REQUEST_ID");
    const char *https = server_param(fr, a, "HTTPS");
    const char *length = server_param(fr, a, "CONTENT_LENGTH");
    if (!q->method || !q->path || !q->query || !q->content_type || !q->cookie ||
        !q->accept_language || !q->authorization || !q->request_id || !https || !length)
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

static int server_stream_write(void *out, const void *p, size_t n)
{
    while (n > 0) {
        int chunk = n > 65536 ? 65536 : (int)n;
        if (FCGX_PutStr(p, chunk, out) != chunk)
            return -1;
        p = (const char *)p + chunk;
        n -= (size_t)chunk;
    }
    return 0;
}

/* Writes the response; a streamed one has no Content-Length (nginx chunks it). Returns -1
 * when a stream was cut short. */
static int server_write(FCGX_Request *fr, struct http_resp *r)
{
    /* libfcgi's own printf knows no %zu: format here. */
    char head[128];
    int n = r->stream ? snprintf(head, sizeof head, "Status: %d %s\r\n", r->status,
                                 http_status_text(r->status))
                      : snprintf(head, sizeof head, "Status: %d %s\r\nContent-Length: %zu\r\n",
                                 r->status, http_status_text(r->status), r->body.len);
    FCGX_PutStr(head, n, fr->out);
    if (r->headers.len)
        FCGX_PutStr(r->headers.data, (int)r->headers.len, fr->out);
    FCGX_PutStr("\r\n", 2, fr->out);
    if (r->stream)
        return r->stream(r->stream_ctx, server_stream_write, fr->out);
    if (r->body.len)
        FCGX_PutStr(r->body.data, (int)r->body.len, fr->out);
    return 0;
}

static void server_plain_error(struct http_resp *r, int status)
{
    r->status = status;
    r->stream = NULL;
    r->headers.len = 0;
    r->headers.failed = 0;
    r->body.len = 0;
    r->body.failed = 0;
    http_header(r, "Content-Type", "text/plain; charset=utf-8");
    buf_printf(&r->body, "%d %s\n", status, http_status_text(status));
}

/*
 * Bounds the reading of a request (FCGX_Accept_r reads its parameters, then we read the body)
 * with SIGALRM every SERVER_READ_TIMEOUT_S while on: a read that has waited that long fails
 * with EINTR, and libfcgi drops the connection. A receive timeout on the socket would not
 * do: accepted Unix sockets do not inherit one from the listening socket, so a client that
 * sent one byte and stopped held a worker until it hung up.
 */
static void server_read_deadline(int on)
{
    struct itimerval it = {{0, 0}, {0, 0}};
    if (on)
        it.it_interval.tv_sec = it.it_value.tv_sec = SERVER_READ_TIMEOUT_S;
    setitimer(ITIMER_REAL, &it, NULL);
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
        server_read_deadline(1);
        int got = FCGX_Accept_r(&fr);
        if (got < 0) {
            server_read_deadline(0);
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
        server_read_deadline(0);
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
        if (server_write(&fr, &r) < 0)
            log_msg(LOG_ERROR, "req=%s the streamed response was cut short",
                    q.request_id ? q.request_id : "-");
        FCGX_Finish_r(&fr);
        log_request(q.request_id ? q.request_id : "-", q.method ? q.method : "-",
                    q.path ? q.path : "-", r.status, server_ms_since(&t0));
        /* Plugins hear of a stored response only now: it is committed and answered, so a
         * hook that fails, or kills this worker, costs only its own call. */
        plugin_run_deferred();
        arena_reset(a);
    }
    FCGX_Free(&fr, 1);
    arena_free(a);
    json_decref(app.views);
    store_close(app.store);
    return rc;
}

struct server_slot {
    pid_t pid;    /* 0: free, or waiting to be restarted (restart_at) */
    unsigned gen; /* the generation of definitions it serves (reload starts a new one) */
    time_t started;
    time_t restart_at; /* a worker of the current generation waits here after dying young */
    int backoff;       /* seconds waited before the last restart */
};

/* The master's state: the definitions, the configuration and the workers. */
struct server_master {
    struct server_config cfg;
    struct app_defs defs;
    unsigned gen;
    int workers;
    int fd;
    sigset_t orig;
    struct server_slot slots[2 * SERVER_MAX_WORKERS];
    int is_child;
    int child_rc;
    /* The region's indicators, kept computed in a child process (indicator.h). */
    struct store *watch;   /* the master's own connection: tells when data changed */
    long long data_serial; /* as of the last computation (store_data_serial) */
    int computed;          /* a computation has finished since the start */
    char job_period[8];    /* the school year the running computation is for */
    time_t next_look;
    int job_running;
    struct indicator_child job;
};

static int server_workers_wanted(const struct server_config *cfg)
{
    if (cfg->workers > 0)
        return cfg->workers;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus > 0 ? (int)cpus : 1;
}

/* Forks a worker into slot. In the child, sets m->is_child and returns. */
static void server_spawn(struct server_master *m, struct server_slot *slot)
{
    fflush(stdout);
    fflush(stderr);
    slot->restart_at = 0;
    slot->gen = m->gen;
    slot->started = time(NULL);
    pid_t master = getpid();
    slot->pid = fork();
    if (slot->pid == 0) {
        m->is_child = 1;
        /* A master killed outright (SIGKILL, OOM killer) cannot stop its workers: the kernel
         * sends them SIGTERM instead, so they finish the request in hand and exit rather than
         * serve on unsupervised. A master that died before the prctl is caught by getppid. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != master)
            server_stop = 1;
        m->child_rc = server_worker(&m->cfg, &m->defs, m->fd, &m->orig);
    } else if (slot->pid < 0) {
        log_msg(LOG_ERROR, "fork: %s; trying again in a second", strerror(errno));
        slot->pid = 0;
        slot->restart_at = time(NULL) + 1;
    }
}

/* Starts the workers of the current generation in free slots; -1 when there are too few. */
static int server_spawn_generation(struct server_master *m)
{
    int free_slots = 0;
    for (size_t i = 0; i < sizeof m->slots / sizeof m->slots[0]; i++)
        free_slots += m->slots[i].pid == 0 && m->slots[i].restart_at == 0;
    if (free_slots < m->workers)
        return -1;
    int started = 0;
    for (size_t i = 0; i < sizeof m->slots / sizeof m->slots[0] && started < m->workers; i++) {
        struct server_slot *slot = &m->slots[i];
        if (slot->pid != 0 || slot->restart_at != 0)
            continue;
        server_spawn(m, slot);
        if (m->is_child)
            return 0;
        started++;
    }
    return 0;
}

/* Collects ended workers: those of the current generation are restarted, with a growing
 * pause when they die young (a worker that cannot start would otherwise loop). */
static void server_reap(struct server_master *m)
{
    /* Worker by worker, not waitpid(-1): the indicator child is indicator_job_wait's. */
    for (size_t i = 0; i < sizeof m->slots / sizeof m->slots[0]; i++) {
        struct server_slot *slot = &m->slots[i];
        int status;
        if (slot->pid <= 0 || waitpid(slot->pid, &status, WNOHANG) != slot->pid)
            continue;
        pid_t pid = slot->pid;
        slot->pid = 0;
        if (slot->gen != m->gen)
            continue;
        log_msg(LOG_ERROR, "worker %d ended (%s %d); starting another", (int)pid,
                WIFSIGNALED(status) ? "signal" : "status",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        if (time(NULL) - slot->started < 2) {
            slot->backoff = slot->backoff ? slot->backoff * 2 : 1;
            if (slot->backoff > 60)
                slot->backoff = 60;
        } else {
            slot->backoff = 0;
        }
        slot->restart_at = time(NULL) + slot->backoff;
    }
}

/* Logs an error of the indicator machinery; the server goes on serving regardless. */
static void server_ind_log(const char *what, const struct err *e)
{
    char msg[1024];
    err_format(e, msg, sizeof msg);
    log_msg(LOG_ERROR, "indicators: %s: %s", what, msg);
}

/*
 * Looks, every indicators_every seconds, whether the region's scripts were edited or answers
 * and the registry changed since the last computation, and if so computes every indicator of
 * the current school year in a child process (indicator_job_start), one at a time. Returns
 * the seconds until the next look, or -1 when there is none to make.
 */
static long server_indicators(struct server_master *m)
{
    if (!m->defs.indicators || m->cfg.indicators_every <= 0 || m->job_running)
        return -1;
    time_t now = time(NULL);
    if (now < m->next_look)
        return (long)(m->next_look - now);
    m->next_look = now + m->cfg.indicators_every;
    struct err e = {0};
    if (!m->watch) {
        struct store_options opt = {.synchronous = m->cfg.synchronous};
        if (store_open(m->cfg.db_path, &opt, &m->watch, &e) != STORE_OK) {
            server_ind_log("cannot watch the database", &e);
            return m->cfg.indicators_every;
        }
    }
    int edited = 0;
    long long serial = 0;
    if (indicator_reload_if_changed(m->defs.indicators, &edited, &e) < 0)
        server_ind_log("reloading the scripts", &e);
    if (edited) {
        /* Script changes are for the audit log: which region, which version of its files. */
        char detail[32];
        snprintf(detail, sizeof detail, "hash=%.16s", indicator_set_hash(m->defs.indicators));
        if (store_audit(m->watch, 0, "scripts.reload", indicator_set_region(m->defs.indicators),
                        detail, &e) != STORE_OK)
            server_ind_log("writing the audit log", &e);
    }
    if (store_data_serial(m->watch, &serial, &e) != STORE_OK) {
        server_ind_log("reading the data serial", &e);
        return m->cfg.indicators_every;
    }
    if (m->computed && !edited && serial == m->data_serial)
        return m->cfg.indicators_every;
    char today[11], period[8];
    strftime(today, sizeof today, "%Y-%m-%d", localtime(&now));
    if (registry_school_year(today, period) < 0)
        return m->cfg.indicators_every;
    struct indicator_job job = {.db = m->cfg.db_path, .run = {.period = period}};
    if (indicator_job_start(m->defs.indicators, &job, &m->job, &e) < 0) {
        server_ind_log("cannot start a computation", &e);
        return m->cfg.indicators_every;
    }
    m->job_running = 1;
    snprintf(m->job_period, sizeof m->job_period, "%s", period);
    m->data_serial = serial;
    log_msg(LOG_INFO, "indicators: computing %s for %s (%s)", period,
            indicator_set_region(m->defs.indicators), edited ? "scripts edited" : "data changed");
    return -1;
}

/* Collects a finished computation. Changes made while it ran are after the serial it was
 * started at, so the next look computes again. */
static void server_indicators_done(struct server_master *m)
{
    struct err e = {0};
    int rc = indicator_job_wait(&m->job, &e);
    m->job_running = 0;
    m->computed = 1;
    if (rc < 0) {
        server_ind_log("the computation failed", &e);
        return;
    }
    log_msg(rc ? LOG_WARN : LOG_INFO, "indicators: computed%s",
            rc ? ", some indicators failed (their errors are on the dashboard)" : "");
    plugin_indicators_computed(indicator_set_region(m->defs.indicators), m->job_period, rc == 1);
}

/* Restarts the workers whose pause is over; returns the seconds until the next one, or -1. */
static long server_restart_due(struct server_master *m)
{
    long next = -1;
    time_t now = time(NULL);
    for (size_t i = 0; i < sizeof m->slots / sizeof m->slots[0] && !m->is_child; i++) {
        struct server_slot *slot = &m->slots[i];
        if (slot->pid != 0 || slot->restart_at == 0)
            continue;
        if (slot->restart_at <= now)
            server_spawn(m, slot);
        if (!m->is_child && slot->restart_at != 0) {
            long wait = (long)(slot->restart_at - now);
            if (next < 0 || wait < next)
                next = wait > 0 ? wait : 0;
        }
    }
    return next;
}

/*
 * SIGHUP: re-reads the configuration (when the caller can), the questionnaires, the
 * templates and the words. When all of it loads, a new generation of workers starts with
 * it and the old workers finish their requests and stop: nothing is dropped, since both
 * accept on the same socket. When anything fails, the error is logged and the running
 * generation stays.
 */
static void server_reload(struct server_master *m)
{
    struct err e = {0};
    char msg[1024];
    struct server_config cfg = m->cfg;
    if (m->cfg.reload && m->cfg.reload(m->cfg.reload_ctx, &cfg, &e) < 0) {
        err_format(&e, msg, sizeof msg);
        log_msg(LOG_ERROR, "reload refused, still serving the previous setup: %s", msg);
        return;
    }
    if (strcmp(cfg.socket_path, m->cfg.socket_path) != 0 || strcmp(cfg.db_path, m->cfg.db_path) ||
        cfg.socket_mode != m->cfg.socket_mode)
        log_msg(LOG_WARN, "reload: the socket and the database stay as they were until a "
                          "restart");
    cfg.socket_path = m->cfg.socket_path;
    cfg.socket_mode = m->cfg.socket_mode;
    cfg.db_path = m->cfg.db_path;
    struct app_defs defs;
    struct store *st = NULL;
    struct store_options opt = {.synchronous = cfg.synchronous};
    if (app_defs_load(&defs, cfg.surveys_dir, cfg.web_dir, &e) < 0)
        goto refused;
    if (cfg.region && app_defs_load_indicators(&defs, cfg.lua_dir, cfg.region, &e) < 0) {
        app_defs_free(&defs);
        goto refused;
    }
    /* An edited questionnaire is held against the answers it already has, as at start. */
    if (store_open(cfg.db_path, &opt, &st, &e) < 0 || app_defs_check_versions(&defs, st, &e) < 0) {
        store_close(st);
        app_defs_free(&defs);
        goto refused;
    }
    store_close(st);
    int workers = server_workers_wanted(&cfg);
    if (workers > SERVER_MAX_WORKERS) {
        log_msg(LOG_ERROR, "reload refused: at most %d workers", SERVER_MAX_WORKERS);
        app_defs_free(&defs);
        return;
    }
    struct app_defs old = m->defs;
    struct server_config old_cfg = m->cfg;
    int old_workers = m->workers;
    unsigned old_gen = m->gen;
    m->cfg = cfg;
    m->defs = defs;
    m->workers = workers;
    m->gen++;
    if (server_spawn_generation(m) < 0) {
        log_msg(LOG_ERROR, "reload refused: the previous reload's workers are still finishing");
        m->defs = old;
        m->cfg = old_cfg;
        m->workers = old_workers;
        m->gen = old_gen;
        app_defs_free(&defs);
        return;
    }
    if (m->is_child) {
        app_defs_free(&old);
        return;
    }
    for (size_t i = 0; i < sizeof m->slots / sizeof m->slots[0]; i++) {
        struct server_slot *slot = &m->slots[i];
        if (slot->gen != old_gen)
            continue;
        if (slot->pid > 0)
            kill(slot->pid, SIGTERM);
        slot->restart_at = 0;
    }
    app_defs_free(&old);
    log_msg(LOG_INFO, "reloaded: %d workers, %zu surveys", m->workers, m->defs.surveys.n);
    return;
refused:
    err_format(&e, msg, sizeof msg);
    log_msg(LOG_ERROR, "reload refused, still serving the previous setup: %s", msg);
}

/* Stops every worker; returns how many did not end with status 0. */
static int server_stop_workers(struct server_slot *slots, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        if (slots[i].pid > 0)
            kill(slots[i].pid, SIGTERM);
    time_t deadline = time(NULL) + SERVER_STOP_GRACE_S;
    int left = 0;
    for (size_t i = 0; i < n; i++)
        left += slots[i].pid > 0;
    while (left > 0) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            for (size_t i = 0; i < n; i++)
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
            for (size_t i = 0; i < n; i++)
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
    static struct server_master m;
    memset(&m, 0, sizeof m);
    m.cfg = *cfg;
    m.workers = server_workers_wanted(cfg);
    if (m.workers > SERVER_MAX_WORKERS)
        return err_set(e, "", 0, 0, "at most %d workers", SERVER_MAX_WORKERS);
    if (app_defs_load(&m.defs, cfg->surveys_dir, cfg->web_dir, e) < 0)
        return -1;
    if (cfg->region && app_defs_load_indicators(&m.defs, cfg->lua_dir, cfg->region, e) < 0) {
        app_defs_free(&m.defs);
        return -1;
    }

    struct store *st = NULL;
    struct store_options opt = {.synchronous = cfg->synchronous, .migrate = 1};
    if (store_open(cfg->db_path, &opt, &st, e) < 0 || app_defs_check_versions(&m.defs, st, e) < 0) {
        store_close(st);
        app_defs_free(&m.defs);
        return -1;
    }
    store_close(st);

    sigset_t blocked;
    if (server_signals(&blocked, &m.orig) < 0 || FCGX_Init() != 0) {
        app_defs_free(&m.defs);
        return err_set(e, "", 0, 0, "cannot set up FastCGI or signals: %s", strerror(errno));
    }
    m.fd = server_listen(cfg->socket_path, cfg->socket_mode, e);
    if (m.fd < 0) {
        app_defs_free(&m.defs);
        return -1;
    }
    log_msg(LOG_INFO, "listening on %s with %d workers, %zu surveys", cfg->socket_path, m.workers,
            m.defs.surveys.n);

    server_spawn_generation(&m);
    while (!m.is_child && !server_stop) {
        long next = server_restart_due(&m);
        if (m.is_child)
            break;
        long look = server_indicators(&m);
        if (look >= 0 && (next < 0 || look < next))
            next = look;
        struct timespec ts = {.tv_sec = next};
        struct pollfd job = {.fd = m.job_running ? m.job.fd : -1, .events = POLLIN};
        /* Signals are blocked everywhere else in the master: they land only here. */
        int ready = ppoll(&job, 1, next >= 0 ? &ts : NULL, &m.orig);
        if (ready > 0 && m.job_running && job.revents)
            server_indicators_done(&m);
        if (server_stop)
            break;
        server_reap(&m);
        if (server_reload_wanted) {
            server_reload_wanted = 0;
            server_reload(&m);
        }
    }

    if (m.is_child) {
        close(m.fd);
        /* The master's watch connection is not the child's to use, nor to close. */
        app_defs_free(&m.defs);
        if (m.child_rc < 0)
            return err_set(e, "", 0, 0, "worker %d failed", (int)getpid());
        return 0;
    }

    if (m.job_running) {
        kill(m.job.pid, SIGTERM);
        server_indicators_done(&m);
    }
    store_close(m.watch);
    int bad = server_stop_workers(m.slots, sizeof m.slots / sizeof m.slots[0]);
    int rc = 0;
    if (bad)
        rc = err_set(e, "", 0, 0, "%d worker%s did not stop cleanly", bad, bad == 1 ? "" : "s");
    close(m.fd);
    unlink(cfg->socket_path);
    app_defs_free(&m.defs);
    log_msg(LOG_INFO, "stopped");
    return rc;
}
