/*
 * http: headers, cookies and status lines of the engine's responses.
 */
#include "http.h"

#include "arena.h"

#include <string.h>
#include <strings.h>

void http_resp_init(struct http_resp *r, struct arena *a)
{
    r->status = 200;
    buf_init(&r->headers, a);
    buf_init(&r->body, a);
    r->stream = NULL;
    r->stream_ctx = NULL;
}

static int http_header_safe(const char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n')
            return 0;
    return 1;
}

void http_header(struct http_resp *r, const char *name, const char *value)
{
    if (!http_header_safe(name) || !http_header_safe(value))
        return;
    buf_puts(&r->headers, name);
    buf_puts(&r->headers, ": ");
    buf_puts(&r->headers, value);
    buf_puts(&r->headers, "\r\n");
}

int http_cookie(const struct http_req *q, const char *name, char *out, size_t size)
{
    size_t nlen = strlen(name);
    const char *p = q->cookie;
    while (p && *p) {
        while (*p == ' ' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            if (len - nlen - 1 >= size)
                return -1;
            memcpy(out, p + nlen + 1, len - nlen - 1);
            out[len - nlen - 1] = '\0';
            return 0;
        }
        p = end;
    }
    return -1;
}

void http_set_cookie(struct http_resp *r, const struct http_req *q, const char *name,
                     const char *value, const char *path)
{
    char *v = arena_printf(q->arena, "%s=%s; Path=%s; HttpOnly; SameSite=Strict%s", name, value,
                           path, q->https ? "; Secure" : "");
    if (v)
        http_header(r, "Set-Cookie", v);
    else
        r->headers.failed = 1;
}

void http_redirect(struct http_resp *r, const char *location)
{
    r->status = 303;
    http_header(r, "Location", location);
}

int http_content_type_is(const struct http_req *q, const char *type)
{
    size_t n = strlen(type);
    const char *ct = q->content_type;
    if (strncasecmp(ct, type, n) != 0)
        return 0;
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

const char *http_status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 303: return "See Other";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}
