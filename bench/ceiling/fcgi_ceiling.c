/*
 * fcgi_ceiling: the ceilings `make bench` compares anketa with. A bare libfcgi responder that
 * answers every request with the bytes of one file (headers and body, as captured from
 * anketa), and with --insert first stores one row of the request's size in SQLite, the way
 * anketa stores a submission: WAL, the same synchronous setting, one transaction each.
 *
 *   fcgi_ceiling --socket PATH --reply FILE [--workers N] [--threads T]
 *                [--insert DB [--synchronous FULL|NORMAL]]
 *
 * N processes (anketa's model: pre-forked workers, each with its own connection) of T accept
 * loops each; T > 1 is for nginx's `fastcgi_keep_conn on`, where each kept connection holds
 * an accept loop. SIGTERM stops it. A measuring instrument: no logging, no limits.
 */
#include <errno.h>
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* As anketa's server.c, so both queue the same number of connections. */
#define CEILING_BACKLOG 1024

static char *reply;
static size_t reply_len;
static sqlite3 *db;
static sqlite3_stmt *insert;
/* One writer per process: the accept loops of a process share its connection. */
static pthread_mutex_t db_lock = PTHREAD_MUTEX_INITIALIZER;

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "fcgi_ceiling: %s: %s\n", what, detail);
    exit(1);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die(path, strerror(errno));
    char *data = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            data = realloc(data, cap);
            if (!data)
                die(path, "out of memory");
        }
        size_t got = fread(data + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    *len = n;
    return data;
}

static int listen_unix(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        die(path, "socket path too long");
    strcpy(sa.sun_path, path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || chmod(path, 0600) < 0 ||
        listen(fd, CEILING_BACKLOG) < 0)
        die(path, strerror(errno));
    return fd;
}

static void open_db(const char *path, const char *synchronous)
{
    char pragmas[160];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA busy_timeout=5000;",
             synchronous);
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db, pragmas, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db,
                     "CREATE TABLE IF NOT EXISTS submissions(id INTEGER PRIMARY KEY,"
                     " token TEXT NOT NULL UNIQUE, body TEXT NOT NULL, at TEXT NOT NULL)",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO submissions(token, body, at)"
                           " VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
                           -1, &insert, NULL) != SQLITE_OK)
        die(path, sqlite3_errmsg(db));
}

/* Stores the request's URI and body as one row; 0, or -1 when SQLite refused. */
static int store(FCGX_Request *r)
{
    const char *uri = FCGX_GetParam("DOCUMENT_URI", r->envp);
    const char *clen = FCGX_GetParam("CONTENT_LENGTH", r->envp);
    long want = clen ? strtol(clen, NULL, 10) : 0;
    char body[16384];
    int len = FCGX_GetStr(body, want > 0 && want < (long)sizeof body ? (int)want : 0, r->in);
    pthread_mutex_lock(&db_lock);
    sqlite3_bind_text(insert, 1, uri ? uri : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(insert, 2, body, len, SQLITE_STATIC);
    int rc = sqlite3_step(insert);
    sqlite3_reset(insert);
    sqlite3_clear_bindings(insert);
    pthread_mutex_unlock(&db_lock);
    return rc == SQLITE_DONE ? 0 : -1;
}

static void *accept_loop(void *arg)
{
    FCGX_Request r;
    if (FCGX_InitRequest(&r, *(int *)arg, 0) != 0)
        die("FCGX_InitRequest", "failed");
    while (FCGX_Accept_r(&r) >= 0) {
        if (insert && store(&r) < 0)
            FCGX_FPrintF(r.out, "Status: 500\r\nContent-Type: text/plain\r\n\r\ninsert failed\n");
        else
            FCGX_PutStr(reply, (int)reply_len, r.out);
        FCGX_Finish_r(&r);
    }
    return NULL;
}

static void worker(int fd, const char *db_path, const char *synchronous, int threads)
{
    /* Stop with the parent, whatever kills it. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (db_path)
        open_db(db_path, synchronous);
    pthread_t tid[256];
    for (int i = 1; i < threads; i++)
        if (pthread_create(&tid[i], NULL, accept_loop, &fd) != 0)
            die("pthread_create", "failed");
    accept_loop(&fd);
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    const char *socket_path = NULL, *reply_path = NULL, *db_path = NULL;
    const char *synchronous = "FULL";
    int workers = 2, threads = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--socket") == 0)
            socket_path = argv[i + 1];
        else if (strcmp(argv[i], "--reply") == 0)
            reply_path = argv[i + 1];
        else if (strcmp(argv[i], "--insert") == 0)
            db_path = argv[i + 1];
        else if (strcmp(argv[i], "--synchronous") == 0)
            synchronous = argv[i + 1];
        else if (strcmp(argv[i], "--workers") == 0)
            workers = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--threads") == 0)
            threads = atoi(argv[i + 1]);
        else
            die("unknown option", argv[i]);
    }
    if (!socket_path || !reply_path || workers < 1 || workers > 64 || threads < 1 ||
        threads > 256 || (strcmp(synchronous, "FULL") != 0 && strcmp(synchronous, "NORMAL") != 0))
        die("usage", "fcgi_ceiling --socket PATH --reply FILE [--workers N] [--threads T] "
                     "[--insert DB [--synchronous FULL|NORMAL]]");
    reply = read_file(reply_path, &reply_len);
    if (FCGX_Init() != 0)
        die("FCGX_Init", "failed");
    int fd = listen_unix(socket_path);
    if (db_path) {
        /* The table and WAL mode exist before the workers race to create them. */
        open_db(db_path, synchronous);
        sqlite3_finalize(insert);
        sqlite3_close(db);
        insert = NULL;
        db = NULL;
    }

    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    pid_t pids[64];
    for (int i = 0; i < workers; i++) {
        pids[i] = fork();
        if (pids[i] < 0)
            die("fork", strerror(errno));
        if (pids[i] == 0) {
            signal(SIGTERM, SIG_DFL);
            signal(SIGINT, SIG_DFL);
            worker(fd, db_path, synchronous, threads);
            _exit(0);
        }
    }
    while (!stop && wait(NULL) > 0)
        ;
    for (int i = 0; i < workers; i++)
        kill(pids[i], SIGTERM);
    while (wait(NULL) > 0)
        ;
    unlink(socket_path);
    return 0;
}
