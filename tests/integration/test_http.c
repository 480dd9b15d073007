/*
 * Integration tests: the participant flow and the API through a real nginx and a real
 * anketa (sanitized build) on a real SQLite file.
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

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The app accepts bodies up to 64 KiB, nginx up to 1 MiB: both refusals can be tested. */
#define APP_MAX_BODY   "65536"
#define NGINX_MAX_BODY "1m"
#define XSS            "<script>alert('x')</script> & \"quotes\""

static struct harness h;
static struct survey *mentee;

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
    return harness_start(&h, APP_MAX_BODY, NGINX_MAX_BODY);
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

/* Runs last: SIGTERM ends anketa with status 0 (LeakSanitizer found nothing in any process)
 * and removes its socket. */
static void test_clean_shutdown(void **state)
{
    (void)state;
    char sock[sizeof h.sock];
    memcpy(sock, h.sock, sizeof sock);
    assert_int_equal(harness_stop(&h), 0);
    assert_int_not_equal(access(sock, F_OK), 0);
}

/*
 * A urlencoded body answering every question of the survey validly, with the text
 * questions answered by text, every matrix item by its highest value, and skip (a question
 * id or NULL) left unanswered.
 */
static char *answers_body(struct arena *a, const char *csrf, const char *skip, const char *text)
{
    struct buf b;
    buf_init(&b, a);
    buf_puts(&b, "csrf=");
    buf_put_url(&b, csrf, strlen(csrf));
    for (size_t i = 0; i < mentee->nquestions; i++) {
        const struct question *q = &mentee->questions[i];
        if (skip && strcmp(q->id, skip) == 0)
            continue;
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
        default: break; /* the other types are not in the mentee's questionnaire */
        }
    }
    return b.data;
}

/* How many answers a complete response stores: one per question, one per matrix item. */
static long stored_answers(void)
{
    long n = 0;
    for (size_t i = 0; i < mentee->nquestions; i++)
        n += mentee->questions[i].nitems ? (long)mentee->questions[i].nitems : 1;
    return n;
}

static const struct question *first_of_type(enum question_type t, int required)
{
    for (size_t i = 0; i < mentee->nquestions; i++)
        if (mentee->questions[i].type == t && mentee->questions[i].required == required)
            return &mentee->questions[i];
    return NULL;
}

/* Opens the form of token: checks it and returns its CSRF value and cookie. */
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

static long post_form(const char *token, const char *cookie, const char *body,
                      struct http_result *r)
{
    char path[128], headers[512];
    snprintf(path, sizeof path, "/s/%s", token);
    snprintf(headers, sizeof headers, "Content-Type: application/x-www-form-urlencoded\nCookie: %s",
             cookie);
    assert_int_equal(http_request(&h, "POST", path, body, strlen(body), headers, r), 0);
    return r->status;
}

static long responses_of(const char *token)
{
    return harness_sql_long(&h,
                            "SELECT count(*) FROM responses r JOIN invitations i "
                            "ON i.id = r.invitation_id WHERE i.token = ?",
                            token);
}

static void test_healthz(void **state)
{
    (void)state;
    struct http_result r;
    assert_int_equal(http_request(&h, "GET", "/healthz", NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"status\":\"ok\""));
    http_result_free(&r);
}

static void test_form_page(void **state)
{
    (void)state;
    char token[23], path[64], value[512];
    assert_int_equal(harness_invite(&h, "mentee-final", token), 0);
    snprintf(path, sizeof path, "/s/%s", token);
    struct http_result r;
    assert_int_equal(http_request(&h, "GET", path, NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(http_header_value(&r, "Content-Type", value, sizeof value), 0);
    assert_string_equal(value, "text/html; charset=utf-8");
    assert_int_equal(http_header_value(&r, "Set-Cookie", value, sizeof value), 0);
    assert_non_null(strstr(value, "anketa_csrf="));
    assert_non_null(strstr(value, "HttpOnly"));
    assert_non_null(strstr(value, "SameSite=Strict"));
    assert_int_equal(http_header_value(&r, "Referrer-Policy", value, sizeof value), 0);
    assert_string_equal(value, "no-referrer");
    assert_non_null(strstr(r.body, "<html lang=\"ru\">"));
    assert_non_null(strstr(r.body, mentee->title.ru));
    assert_non_null(strstr(r.body, "name=\"csrf\""));
    /* Every question is there, and every input has a label tied to it. */
    for (size_t i = 0; i < mentee->nquestions; i++) {
        const struct question *q = &mentee->questions[i];
        char needle[160];
        for (size_t k = 0; k < q->nitems; k++) {
            snprintf(needle, sizeof needle, "name=\"q.%s\"", q->items[k].id);
            assert_non_null(strstr(r.body, needle));
            snprintf(needle, sizeof needle, "<label class=\"option\" for=\"q-%s-%s-1\">", q->id,
                     q->items[k].id + strlen(q->id) + 1);
            assert_non_null(strstr(r.body, needle));
        }
        if (q->type == Q_MATRIX)
            continue;
        snprintf(needle, sizeof needle, "name=\"q.%s\"", q->id);
        assert_non_null(strstr(r.body, needle));
        if (q->type == Q_TEXT)
            snprintf(needle, sizeof needle, "<label class=\"qlabel\" for=\"q-%s-input\">", q->id);
        else
            snprintf(needle, sizeof needle, "<label class=\"option\" for=\"q-%s-", q->id);
        assert_non_null(strstr(r.body, needle));
    }
    http_result_free(&r);
}

/* The value of the hidden input csrf in a page, into out. */
static void page_csrf(const char *html, char *out, size_t size)
{
    const char *p = strstr(html, "name=\"csrf\" value=\"");
    assert_non_null(p);
    p += strlen("name=\"csrf\" value=\"");
    snprintf(out, size, "%.*s", (int)strcspn(p, "\""), p);
}

/*
 * A worker keeps the blank page of a one-page questionnaire rendered, with holes for the
 * link's action and CSRF value. Every GET, the first of a worker (rendered) and the later
 * ones (kept), gives the same page but for those two values, which are the link's own; and
 * the kept page's CSRF value is accepted.
 */
static void test_kept_page_is_the_rendered_page(void **state)
{
    (void)state;
    char tokens[2][23], path[64], csrf[128], cookie[256], first[128];
    char *pages[8] = {0};
    for (int t = 0; t < 2; t++)
        assert_int_equal(harness_invite(&h, "mentee-final", tokens[t]), 0);
    for (int i = 0; i < 8; i++) {
        struct http_result r;
        snprintf(path, sizeof path, "/s/%s", tokens[i % 2]);
        assert_int_equal(http_request(&h, "GET", path, NULL, 0, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        /* Put the link's own values back to what they stand for, to compare the rest. */
        page_csrf(r.body, csrf, sizeof csrf);
        assert_true(strlen(csrf) > 20);
        assert_null(strstr(r.body, "@@anketa-"));
        char action[96];
        snprintf(action, sizeof action, "action=\"/s/%s\"", tokens[i % 2]);
        assert_non_null(strstr(r.body, action));
        struct buf b;
        struct arena *a = arena_new();
        buf_init(&b, a);
        for (const char *p = r.body; *p;) {
            if (strncmp(p, csrf, strlen(csrf)) == 0) {
                buf_puts(&b, "CSRF");
                p += strlen(csrf);
            } else if (strncmp(p, tokens[i % 2], 22) == 0) {
                buf_puts(&b, "TOKEN");
                p += 22;
            } else {
                buf_putc(&b, *p++);
            }
        }
        pages[i] = strdup(b.data);
        arena_free(a);
        if (i == 0) {
            assert_int_equal(http_form_secrets(&r, first, sizeof first, cookie, sizeof cookie), 0);
            assert_string_equal(first, csrf);
        }
        http_result_free(&r);
        if (i)
            assert_string_equal(pages[i], pages[0]);
    }
    for (int i = 0; i < 8; i++)
        free(pages[i]);
    /* The value of the first page (which may have been kept, or rendered) is taken. */
    char body[256], headers[512];
    snprintf(body, sizeof body, "csrf=%s", first);
    snprintf(headers, sizeof headers, "Content-Type: application/x-www-form-urlencoded\nCookie: %s",
             cookie);
    snprintf(path, sizeof path, "/s/%s", tokens[0]);
    struct http_result r;
    assert_int_equal(http_request(&h, "POST", path, body, strlen(body), headers, &r), 0);
    assert_int_equal(r.status, 422); /* answers missing: the CSRF value itself passed */
    http_result_free(&r);
}

static void test_unknown_token(void **state)
{
    (void)state;
    const char *paths[] = {"/s/AAAAAAAAAAAAAAAAAAAAAA", "/s/short",
                           "/s/AAAAAAAAAAAAAAAAAAAAAA/done", "/nowhere"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        struct http_result r;
        assert_int_equal(http_request(&h, "GET", paths[i], NULL, 0, NULL, &r), 0);
        assert_int_equal(r.status, 404);
        assert_non_null(strstr(r.body, "Страница не найдена"));
        assert_null(strstr(r.body, "AAAAAAAA"));
        assert_null(strstr(r.body, "short"));
        http_result_free(&r);
    }
}

static void test_invalid_post_keeps_answers(void **state)
{
    (void)state;
    char token[23], csrf[128], cookie[128];
    assert_int_equal(harness_invite(&h, "mentee-final", token), 0);
    open_form(token, csrf, sizeof csrf, cookie, sizeof cookie);
    const struct question *missing = first_of_type(Q_SCALE, 1);
    assert_non_null(missing);
    struct arena *a = arena_new();
    char *body = answers_body(a, csrf, missing->id, XSS);
    struct http_result r;
    assert_int_equal(post_form(token, cookie, body, &r), 422);
    /* The problem is beside its question and in the summary... */
    assert_non_null(strstr(r.body, "Ответьте на этот вопрос."));
    char needle[160];
    snprintf(needle, sizeof needle, "<a href=\"#q-%s\">", missing->id);
    assert_non_null(strstr(r.body, needle));
    /* ...and every other answer is kept: radios checked, text escaped, never raw. */
    const struct question *yesno = first_of_type(Q_YESNO, 1);
    assert_non_null(yesno);
    snprintf(needle, sizeof needle, "name=\"q.%s\" value=\"yes\" checked", yesno->id);
    assert_non_null(strstr(r.body, needle));
    assert_non_null(strstr(r.body, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; "
                                   "&quot;quotes&quot;"));
    assert_null(strstr(r.body, "<script>alert"));
    http_result_free(&r);
    assert_int_equal(responses_of(token), 0);

    /* An out-of-range value and a doubled one are refused the same way. */
    body = answers_body(a, csrf, missing->id, "ok");
    char *bad = arena_printf(a, "%s&q.%s=%ld", body, missing->id, missing->max + 1);
    assert_int_equal(post_form(token, cookie, bad, &r), 422);
    snprintf(needle, sizeof needle, "Введите значение от %ld до %ld.", missing->min, missing->max);
    assert_non_null(strstr(r.body, needle));
    http_result_free(&r);
    bad = arena_printf(a, "%s&q.%s=1&q.%s=2", body, missing->id, missing->id);
    assert_int_equal(post_form(token, cookie, bad, &r), 422);
    assert_non_null(strstr(r.body, "Выберите только один вариант."));
    http_result_free(&r);
    arena_free(a);
    assert_int_equal(responses_of(token), 0);
}

static void test_csrf_refused(void **state)
{
    (void)state;
    char token[23], csrf[128], cookie[128];
    assert_int_equal(harness_invite(&h, "mentee-final", token), 0);
    open_form(token, csrf, sizeof csrf, cookie, sizeof cookie);
    struct arena *a = arena_new();
    struct http_result r;
    /* A forged value, and a right value without the cookie it is bound to. */
    assert_int_equal(post_form(token, cookie, answers_body(a, "forged", NULL, "текст"), &r), 403);
    assert_non_null(strstr(r.body, "Не удалось проверить"));
    assert_non_null(strstr(r.body, "текст"));
    http_result_free(&r);
    assert_int_equal(post_form(token, "anketa_csrf=BBBBBBBBBBBBBBBBBBBBBB",
                               answers_body(a, csrf, NULL, "x"), &r),
                     403);
    http_result_free(&r);
    arena_free(a);
    assert_int_equal(responses_of(token), 0);
}

static void test_valid_post_then_refused(void **state)
{
    (void)state;
    char token[23], csrf[128], cookie[128], value[256];
    assert_int_equal(harness_invite(&h, "mentee-final", token), 0);
    open_form(token, csrf, sizeof csrf, cookie, sizeof cookie);
    struct arena *a = arena_new();
    char *body = answers_body(a, csrf, NULL, XSS);
    struct http_result r;
    assert_int_equal(post_form(token, cookie, body, &r), 303);
    assert_int_equal(http_header_value(&r, "Location", value, sizeof value), 0);
    char expected[64];
    snprintf(expected, sizeof expected, "/s/%s/done", token);
    assert_string_equal(value, expected);
    http_result_free(&r);

    assert_int_equal(http_request(&h, "GET", expected, NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "Спасибо!"));
    http_result_free(&r);

    /* Stored once, stamped with the survey, every answer there, text verbatim. */
    assert_int_equal(responses_of(token), 1);
    assert_int_equal(harness_sql_long(&h,
                                      "SELECT count(*) FROM responses r JOIN invitations i ON "
                                      "i.id = r.invitation_id WHERE i.token = ?1 AND "
                                      "r.survey_id = 'mentee-final' AND r.survey_version = 1",
                                      token),
                     1);
    assert_int_equal(harness_sql_long(&h, "SELECT count(*) FROM responses WHERE survey_hash = ?",
                                      mentee->hash) >= 1,
                     1);
    assert_int_equal(harness_sql_long(&h,
                                      "SELECT count(*) FROM answers a JOIN responses r ON "
                                      "r.id = a.response_id JOIN invitations i ON "
                                      "i.id = r.invitation_id WHERE i.token = ?",
                                      token),
                     stored_answers());
    /* The scales of the survey, scored from the answers: every item at its highest. */
    static const char *const scales[][2] = {
        {"satisfaction", "10"}, {"motivation", "3"}, {"competence", "3"}};
    for (size_t i = 0; i < 3; i++) {
        char sql[400];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM response_scores s JOIN responses r ON r.id = "
                 "s.response_id JOIN invitations i ON i.id = r.invitation_id WHERE i.token = ?1 "
                 "AND s.scale_id = '%s' AND s.value = 10.0 AND s.items = %s",
                 scales[i][0], scales[i][1]);
        assert_int_equal(harness_sql_long(&h, sql, token), 1);
    }
    assert_int_equal(harness_sql_long(&h, "SELECT count(*) FROM answers WHERE value = ?", XSS) >= 1,
                     1);

    /* The same link cannot answer twice: the second post is refused, nothing is added. */
    assert_int_equal(post_form(token, cookie, body, &r), 409);
    assert_non_null(strstr(r.body, "Анкета уже заполнена"));
    http_result_free(&r);
    snprintf(expected, sizeof expected, "/s/%s", token);
    assert_int_equal(http_request(&h, "GET", expected, NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "Анкета уже заполнена"));
    assert_null(strstr(r.body, "<form"));
    http_result_free(&r);
    arena_free(a);
    assert_int_equal(responses_of(token), 1);
}

struct race {
    const char *token;
    const char *cookie;
    const char *body;
    long status;
};

static void *race_post(void *p)
{
    struct race *rc = p;
    struct http_result r;
    char path[64], headers[512];
    snprintf(path, sizeof path, "/s/%s", rc->token);
    snprintf(headers, sizeof headers, "Content-Type: application/x-www-form-urlencoded\nCookie: %s",
             rc->cookie);
    if (http_request(&h, "POST", path, rc->body, strlen(rc->body), headers, &r) == 0) {
        rc->status = r.status;
        http_result_free(&r);
    }
    return NULL;
}

static void test_concurrent_posts_store_one(void **state)
{
    (void)state;
    char token[23], csrf[128], cookie[128];
    assert_int_equal(harness_invite(&h, "mentee-final", token), 0);
    open_form(token, csrf, sizeof csrf, cookie, sizeof cookie);
    struct arena *a = arena_new();
    char *body = answers_body(a, csrf, NULL, "одновременно");
    enum { N = 8 };
    struct race races[N];
    pthread_t threads[N];
    for (int i = 0; i < N; i++) {
        races[i] = (struct race){token, cookie, body, 0};
        assert_int_equal(pthread_create(&threads[i], NULL, race_post, &races[i]), 0);
    }
    int created = 0, refused = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        created += races[i].status == 303;
        refused += races[i].status == 409;
    }
    arena_free(a);
    assert_int_equal(created, 1);
    assert_int_equal(refused, N - 1);
    assert_int_equal(responses_of(token), 1);
}

static void test_bodies_refused(void **state)
{
    (void)state;
    char token[23], csrf[128], cookie[128];
    assert_int_equal(harness_invite(&h, "mentee-final", token), 0);
    open_form(token, csrf, sizeof csrf, cookie, sizeof cookie);
    struct http_result r;

    /* Over anketa's cap (64 KiB) but under nginx's: anketa's own Russian page. */
    size_t n = 100 * 1024;
    char *big = malloc(n + 1);
    memset(big, 'a', n);
    memcpy(big, "q.x=", 4);
    big[n] = '\0';
    assert_int_equal(post_form(token, cookie, big, &r), 413);
    assert_non_null(strstr(r.body, "Слишком большой объём ответа"));
    http_result_free(&r);
    free(big);

    /* Over nginx's cap (1 MiB): nginx refuses with the Russian static page. */
    n = 2 * 1024 * 1024;
    big = malloc(n + 1);
    memset(big, 'a', n);
    big[n] = '\0';
    assert_int_equal(post_form(token, cookie, big, &r), 413);
    assert_non_null(strstr(r.body, "Слишком большой объём ответа"));
    http_result_free(&r);
    free(big);

    /* A broken percent escape is a 400, not a guess. */
    assert_int_equal(post_form(token, cookie, "csrf=x&q.a=%G1", &r), 400);
    assert_non_null(strstr(r.body, "Не удалось прочитать ответ"));
    http_result_free(&r);

    /* Only urlencoded forms are accepted. */
    char path[64];
    snprintf(path, sizeof path, "/s/%s", token);
    assert_int_equal(http_request(&h, "POST", path, "{}", 2, "Content-Type: application/json", &r),
                     0);
    assert_int_equal(r.status, 415);
    http_result_free(&r);

    assert_int_equal(http_request(&h, "PUT", path, "x", 1, NULL, &r), 0);
    assert_int_equal(r.status, 405);
    char allow[64];
    assert_int_equal(http_header_value(&r, "Allow", allow, sizeof allow), 0);
    assert_string_equal(allow, "GET, HEAD, POST");
    http_result_free(&r);
    assert_int_equal(responses_of(token), 0);
}

static void test_revoked_link(void **state)
{
    (void)state;
    char token[23], path[64];
    assert_int_equal(harness_invite(&h, "mentee-final", token), 0);
    assert_int_equal(harness_sql_long(&h,
                                      "UPDATE invitations SET revoked_at = '2026-11-01T00:00:00Z' "
                                      "WHERE token = ?",
                                      token),
                     0);
    snprintf(path, sizeof path, "/s/%s", token);
    struct http_result r;
    assert_int_equal(http_request(&h, "GET", path, NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 410);
    assert_non_null(strstr(r.body, "Ссылка больше не действует"));
    http_result_free(&r);
}

/* Puts the invitation of token in a campaign opening and closing on the given dates. */
static void in_campaign(const char *token, const char *code, const char *opens, const char *closes)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO campaigns(code, survey_id, org_id, period, wave, opens, closes, "
             "status, created_at) SELECT '%s', 'mentee-final', id, '2026/27', 'final', '%s', "
             "'%s', 'open', '2026-11-01T00:00:00Z' FROM orgs WHERE code = 't-region'",
             code, opens, closes);
    assert_int_equal(harness_sql_long(&h, sql, NULL), 0);
    assert_int_equal(harness_sql_long(&h,
                                      "UPDATE invitations SET campaign_id = (SELECT max(id) FROM "
                                      "campaigns) WHERE token = ?",
                                      token),
                     0);
}

/* Links that cannot take answers say why, for GET and POST alike, and store nothing. */
static void test_closed_early_and_unconsented_links(void **state)
{
    (void)state;
    struct {
        const char *opens, *closes;
        int consent;
        long status;
        const char *words;
    } cases[] = {
        {"2020-01-01", "2020-12-31", 1, 410, "Анкетирование завершено"},
        {"2098-01-01", "2099-12-31", 1, 403, "Анкетирование ещё не началось"},
        {"2020-01-01", "2099-12-31", 0, 403, "Нет согласия на обработку данных"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char token[23], path[64], code[16];
        assert_int_equal(harness_invite(&h, "mentee-final", token), 0);
        snprintf(code, sizeof code, "camp-%zu", i);
        in_campaign(token, code, cases[i].opens, cases[i].closes);
        if (!cases[i].consent)
            assert_int_equal(harness_sql_long(&h,
                                              "UPDATE participants SET consent_date = NULL WHERE "
                                              "id = (SELECT participant_id FROM invitations "
                                              "WHERE token = ?)",
                                              token),
                             0);
        snprintf(path, sizeof path, "/s/%s", token);
        struct http_result r;
        assert_int_equal(http_request(&h, "GET", path, NULL, 0, NULL, &r), 0);
        assert_int_equal(r.status, cases[i].status);
        assert_non_null(strstr(r.body, cases[i].words));
        assert_null(strstr(r.body, "<form"));
        http_result_free(&r);
        assert_int_equal(http_request(&h, "POST", path, "csrf=x", 6,
                                      "Content-Type: application/x-www-form-urlencoded", &r),
                         0);
        assert_int_equal(r.status, cases[i].status);
        http_result_free(&r);
        assert_int_equal(responses_of(token), 0);
    }
}

static void test_api(void **state)
{
    (void)state;
    struct http_result r;
    char value[128];
    assert_int_equal(http_request(&h, "GET", "/api/v1/surveys", NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(http_header_value(&r, "Content-Type", value, sizeof value), 0);
    assert_string_equal(value, "application/json; charset=utf-8");
    json_error_t je;
    json_t *list = json_loads(r.body, 0, &je);
    assert_non_null(list);
    json_t *surveys = json_object_get(list, "surveys");
    assert_true(json_array_size(surveys) >= 2);
    int seen = 0;
    size_t i;
    json_t *it;
    json_array_foreach(surveys, i, it)
    {
        if (strcmp(json_string_value(json_object_get(it, "id")), "mentee-final") == 0) {
            seen = 1;
            assert_string_equal(json_string_value(json_object_get(it, "hash")), mentee->hash);
            assert_int_equal(json_integer_value(json_object_get(it, "questions")),
                             (json_int_t)mentee->nquestions);
        }
    }
    assert_true(seen);
    json_decref(list);
    http_result_free(&r);

    assert_int_equal(http_request(&h, "GET", "/api/v1/surveys/mentee-final", NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    json_t *def = json_loads(r.body, 0, &je);
    assert_non_null(def);
    assert_int_equal(json_array_size(json_object_get(def, "questions")), mentee->nquestions);
    assert_string_equal(json_string_value(json_object_get(json_object_get(def, "title"), "ru")),
                        mentee->title.ru);
    json_decref(def);
    http_result_free(&r);

    assert_int_equal(http_request(&h, "GET", "/api/v1/surveys/nope", NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.body, "\"status\":404"));
    http_result_free(&r);
    assert_int_equal(http_request(&h, "POST", "/api/v1/surveys", "x", 1, NULL, &r), 0);
    assert_int_equal(r.status, 405);
    http_result_free(&r);
}

/* The questionnaire in English, falling back to Russian for the words without a translation. */
static void test_english_page(void **state)
{
    (void)state;
    char token[23], path[64], action[96];
    assert_int_equal(harness_invite(&h, "mentee-final", token), 0);
    snprintf(path, sizeof path, "/s/%s?lang=en", token);
    struct http_result r;
    assert_int_equal(http_request(&h, "GET", path, NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "<html lang=\"en\">"));
    assert_non_null(strstr(r.body, mentee->title.en));
    assert_non_null(strstr(r.body, "Have you taken part in a mentoring programme before?"));
    assert_non_null(strstr(r.body, "<span>Yes</span>"));
    assert_non_null(strstr(r.body, "Questions marked with an asterisk (*) are required."));
    assert_non_null(strstr(r.body, "Send answers"));
    assert_null(strstr(r.body, "Отправить ответы"));
    snprintf(action, sizeof action, "action=\"/s/%s?lang=en\"", token);
    assert_non_null(strstr(r.body, action));
    http_result_free(&r);
}

static void test_static_by_nginx(void **state)
{
    (void)state;
    struct http_result r;
    char value[128];
    assert_int_equal(http_request(&h, "GET", "/static/anketa.css", NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(http_header_value(&r, "Content-Type", value, sizeof value), 0);
    assert_non_null(strstr(value, "text/css"));
    http_result_free(&r);
    assert_int_equal(http_request(&h, "GET", "/static/../nginx.conf", NULL, 0, NULL, &r), 0);
    assert_true(r.status == 400 || r.status == 404);
    http_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_healthz),
        cmocka_unit_test(test_form_page),
        cmocka_unit_test(test_kept_page_is_the_rendered_page),
        cmocka_unit_test(test_unknown_token),
        cmocka_unit_test(test_invalid_post_keeps_answers),
        cmocka_unit_test(test_csrf_refused),
        cmocka_unit_test(test_valid_post_then_refused),
        cmocka_unit_test(test_concurrent_posts_store_one),
        cmocka_unit_test(test_bodies_refused),
        cmocka_unit_test(test_revoked_link),
        cmocka_unit_test(test_closed_early_and_unconsented_links),
        cmocka_unit_test(test_api),
        cmocka_unit_test(test_english_page),
        cmocka_unit_test(test_static_by_nginx),
        cmocka_unit_test(test_clean_shutdown),
    };
    return cmocka_run_group_tests_name("integration: http through nginx", tests, setup, teardown);
}
