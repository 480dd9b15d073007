/*
 * fuzz_http: the request's own text as the server copies it from nginx: a Cookie header, a
 * query string and a Content-Type, separated by NUL bytes (missing parts are empty).
 * http_cookie reads each of our cookies from the header, http_content_type_is matches the
 * media type, form_parse reads the query (as the dashboard and sign-in do), and every
 * value goes through form_shown, which must give well-formed UTF-8, unchanged when it
 * already was. form_utf8_len must agree with the harness's own UTF-8 check.
 */
#include "fuzz_common.h"

#include "arena.h"
#include "err.h"
#include "form.h"
#include "http.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static void fuzz_http_cookie(const struct http_req *q, const char *name)
{
    char out[44];
    if (http_cookie(q, name, out, sizeof out) < 0)
        return;
    size_t n = strlen(out);
    FUZZ_CHECK(n < sizeof out, "cookie %s: %zu bytes", name, n);
    FUZZ_CHECK(!strchr(out, ';'), "cookie %s holds a ';': \"%s\"", name, out);
    /* The value is in the header, right after "name=". */
    size_t nlen = strlen(name);
    int seen = 0;
    for (const char *p = q->cookie; (p = strstr(p, name)) != NULL && !seen; p++)
        seen = p[nlen] == '=' && strncmp(p + nlen + 1, out, n) == 0;
    FUZZ_CHECK(seen, "cookie %s = \"%s\" is not in the header", name, out);
}

/* form_utf8_len walks s exactly when the harness finds it well-formed. */
static void fuzz_http_utf8(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t len = form_utf8_len(s + i, n - i);
        FUZZ_CHECK(len <= 4 && len <= n - i, "form_utf8_len %zu at %zu of %zu", len, i, n);
        if (!len)
            break;
        i += len;
    }
    FUZZ_CHECK((i == n) == (fuzz_utf8_valid(s, n) != 0), "form_utf8_len and the harness disagree");
}

static void fuzz_http_shown(struct arena *a, const char *v, int fault)
{
    size_t n = strlen(v);
    const char *shown = form_shown(a, v);
    if (!shown) {
        FUZZ_CHECK(fault, "form_shown failed without an injected fault");
        return;
    }
    size_t m = strlen(shown);
    FUZZ_CHECK(m <= 3 * n, "form_shown grew %zu bytes to %zu", n, m);
    FUZZ_CHECK(fuzz_utf8_valid(shown, m), "form_shown gave bytes that are not UTF-8");
    if (fuzz_utf8_valid(v, n))
        FUZZ_CHECK(strcmp(shown, v) == 0, "form_shown changed well-formed UTF-8");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long fault = fuzz_fault_prefix(&data, &size);
    const uint8_t *rest, *rest2;
    size_t restlen, rest2len;
    size_t clen = fuzz_split(data, size, &rest, &restlen);
    size_t qlen = rest ? fuzz_split(rest, restlen, &rest2, &rest2len) : 0;
    char *cookie = fuzz_strndup(data, clen);
    char *query = fuzz_strndup(rest ? rest : data, rest ? qlen : 0);
    char *type = fuzz_strndup(rest && rest2 ? rest2 : data, rest && rest2 ? rest2len : 0);
    struct arena *a = arena_new();
    if (!cookie || !query || !type || !a)
        goto out;
    arena_fail_after(fault);
    struct http_req q = {.arena = a,
                         .method = "GET",
                         .path = "/",
                         .query = query,
                         .content_type = type,
                         .cookie = cookie,
                         .accept_language = "",
                         .request_id = "fuzz",
                         .body = "",
                         .body_len = 0};
    fuzz_http_cookie(&q, "anketa_csrf");
    fuzz_http_cookie(&q, "anketa_pre");
    fuzz_http_cookie(&q, "anketa_session");
    if (http_content_type_is(&q, "application/x-www-form-urlencoded"))
        FUZZ_CHECK(strncasecmp(type, "application/x-www-form-urlencoded", 33) == 0,
                   "\"%s\" taken for a form", type);
    fuzz_http_utf8(cookie, strlen(cookie));
    fuzz_http_utf8(query, strlen(query));
    struct form f;
    struct err e = {0};
    int rc = form_parse(a, query, strlen(query), &f, &e);
    FUZZ_CHECK(rc == 0 || rc == -1 || rc == FORM_NO_MEMORY, "form_parse returned %d", rc);
    FUZZ_CHECK(fault || rc != FORM_NO_MEMORY, "out of memory without an injected fault");
    for (size_t i = 0; rc == 0 && i < f.n; i++) {
        fuzz_http_shown(a, f.fields[i].name, (int)fault);
        fuzz_http_shown(a, f.fields[i].value, (int)fault);
    }
    fuzz_http_shown(a, cookie, (int)fault);
out:
    arena_fail_after(0);
    arena_free(a);
    free(cookie);
    free(query);
    free(type);
    return 0;
}
