/*
 * server: the FastCGI process model. A master process loads and checks everything, opens
 * the unix socket, and pre-forks workers; each worker owns one SQLite connection and runs
 * a single FCGX_Accept_r loop. SIGTERM or SIGINT lets every in-flight request finish, then
 * the workers and the master exit and the socket is removed.
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
};

/* Runs until SIGTERM/SIGINT; returns 0 after a clean shutdown, -1 with e filled otherwise. */
int server_run(const struct server_config *cfg, struct err *e);

#endif
