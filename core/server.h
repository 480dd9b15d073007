/*
 * server: the FastCGI process model. A master process loads and checks everything, opens
 * the unix socket, and pre-forks workers; each worker owns one SQLite connection and runs
 * a single FCGX_Accept_r loop. SIGTERM or SIGINT lets every in-flight request finish, then
 * the workers and the master exit and the socket is removed. SIGHUP reloads: the
 * configuration (through the reload hook), questionnaires, templates and words are read
 * again and a new generation of workers replaces the old one without dropping a request;
 * if anything fails to load, the error is logged and the running setup stays.
 *
 * nginx must not keep FastCGI connections alive to us (fastcgi_keep_conn off): libfcgi
 * ties an accept loop to a kept connection until nginx closes it.
 */
#ifndef ANKETA_SERVER_H
#define ANKETA_SERVER_H

#include <stddef.h>

struct err;

struct server_config {
    const char *socket_path;
    int socket_mode; /* permissions of the socket file, e.g. 0660 */
    int workers;     /* processes; 0 = number of online CPUs */
    size_t max_body; /* bytes; larger bodies get 413 */
    const char *db_path;
    const char *surveys_dir;
    const char *web_dir;
    const char *synchronous; /* "FULL" or "NORMAL" */
    const char *lua_dir;     /* lib/ and regions/ of the indicator scripts */
    const char *region;      /* whose indicators the master keeps computed; NULL = none */
    int indicators_every;    /* seconds between looks for changed data or scripts; 0 = never */
    /*
     * Re-reads the configuration on SIGHUP into out (starting from the current values);
     * NULL when there is nothing to re-read. The strings out points to must stay valid until
     * the next call. Returns -1 with e filled to refuse the reload.
     */
    int (*reload)(void *ctx, struct server_config *out, struct err *e);
    void *reload_ctx;
};

/* Runs until SIGTERM/SIGINT; returns 0 after a clean shutdown, -1 with e filled otherwise. */
int server_run(const struct server_config *cfg, struct err *e);

#endif
