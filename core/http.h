/*
 * http: the request and response of one FastCGI exchange, as plain structs.
 *
 * The server copies everything it needs from libfcgi's environment into the request
 * arena before handling, so no handler ever holds a pointer into libfcgi's memory (which
 * FCGX_Finish_r frees). Handlers fill a struct http_resp; the server writes it out.
 */
#ifndef ANKETA_HTTP_H
#define ANKETA_HTTP_H

#include "buf.h"

#include <stddef.h>

struct arena;

struct http_req {
    struct arena *arena;
    const char *method;          /* "GET", "POST", ... */
    const char *path;            /* normalised and percent-decoded by nginx ($document_uri) */
    const char *query;           /* raw, without '?'; "" when absent */
    const char *content_type;    /* "" when absent */
    const char *cookie;          /* the raw Cookie header, "" when absent */
    const char *accept_language; /* "" when absent */
    const char *authorization;   /* the Authorization header; NULL or "" when absent */
    const char *request_id;      /* nginx's $request_id, or one made by the server */
    int https;
    const char *body; /* NUL-terminated copy of the body, body_len bytes */
    size_t body_len;
};

/* Writes n bytes of a streamed body; returns -1 when the client is gone. */
typedef int (*http_write_fn)(void *out, const void *p, size_t n);

struct http_resp {
    int status;
    struct buf headers; /* "Name: value\r\n" lines */
    struct buf body;
    /*
     * A body too big to hold (an export of a million rows): when set, body is ignored and,
     * after the status and headers, the server calls stream(stream_ctx, write, out), which
     * writes the body piece by piece. It returns -1 to cut the response short (the client
     * sees a truncated download, and the error is logged).
     */
    int (*stream)(void *ctx, http_write_fn write, void *out);
    void *stream_ctx;
};

void http_resp_init(struct http_resp *r, struct arena *a);

/* Adds a header. A name or value holding CR, LF or NUL is dropped (header injection). */
void http_header(struct http_resp *r, const char *name, const char *value);

/* The value of cookie name in the request, copied into the arena, or NULL. */
const char *http_cookie(const struct http_req *q, const char *name);

/*
 * Sets a cookie that scripts cannot read (HttpOnly), sent only to this site (SameSite=Strict)
 * and, behind TLS, only over TLS.
 */
void http_set_cookie(struct http_resp *r, const struct http_req *q, const char *name,
                     const char *value, const char *path);

/* Answers a redirect to a local path with 303 See Other (a reload does not repost). */
void http_redirect(struct http_resp *r, const char *location);

/* Whether the request's media type (parameters ignored, case-insensitive) is type. */
int http_content_type_is(const struct http_req *q, const char *type);

const char *http_status_text(int status);

#endif
