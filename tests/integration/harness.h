/*
 * harness: starts a real anketa (the sanitized build) and a real nginx on free loopback
 * ports in a temporary directory, and speaks HTTP to them with libcurl.
 */
#ifndef ANKETA_HARNESS_H
#define ANKETA_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

struct harness {
    char root[1024]; /* the repository */
    char dir[256];   /* the temporary directory of this run */
    char db[512];
    char sock[512];
    char base[64];    /* http://127.0.0.1:PORT */
    char events[512]; /* where the jsonl plugin appends (plugin.jsonl.path) */
    int port;
    pid_t anketa;
    pid_t nginx;
};

/*
 * Creates the database with a small registry, then starts anketa (with app_max_body, the
 * shipped plugins of build/asan/plugins, and plugin.jsonl.path = events) and nginx (with
 * nginx_max_body, in nginx's syntax). Returns 0 when /healthz answers 200.
 */
int harness_start(struct harness *h, const char *app_max_body, const char *nginx_max_body);

/* The same with the questionnaires of surveys_dir instead of the repository's. */
int harness_start_surveys(struct harness *h, const char *app_max_body, const char *nginx_max_body,
                          const char *surveys_dir);

/* The same with further options for anketa serve (a NULL-terminated list, or NULL). */
int harness_start_with(struct harness *h, const char *app_max_body, const char *nginx_max_body,
                       const char *surveys_dir, const char *const *serve_args);

/* Stops both with SIGTERM; returns anketa's exit status (0 after a clean shutdown). */
int harness_stop(struct harness *h);

/* Removes the temporary directory (keep it after a failure: its logs tell why). */
void harness_cleanup(struct harness *h);

/* Issues an invitation to a new participant for survey_id; the token goes to token. */
int harness_invite(struct harness *h, const char *survey_id, char token[23]);

/* Runs one SQL query returning one integer (a count), through a fresh connection. */
long harness_sql_long(struct harness *h, const char *sql, const char *param);

struct http_result {
    long status;
    char *body; /* NUL-terminated, malloc'd */
    size_t len;
    char *headers; /* raw header block, malloc'd */
};

/* method "GET", "POST", ...; body may be NULL; extra_headers is NULL or "A: b\nC: d". */
int http_request(struct harness *h, const char *method, const char *path, const char *body,
                 size_t body_len, const char *extra_headers, struct http_result *out);
void http_result_free(struct http_result *r);

/* The value of header name (case-insensitive) in r, copied into out; 0 when found. */
int http_header_value(const struct http_result *r, const char *name, char *out, size_t size);

/* The value of the hidden input name="csrf" and the anketa_csrf cookie of a form page. */
int http_form_secrets(const struct http_result *r, char *csrf, size_t csrf_size, char *cookie,
                      size_t cookie_size);

/* Runs a command line (through /bin/sh), capturing stdout+stderr; returns the exit status. */
int harness_run(const char *cmd, char *out, size_t size);

#endif
