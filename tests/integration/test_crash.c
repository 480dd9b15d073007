/*
 * Integration test of durability: anketa is killed with SIGKILL while answers keep
 * arriving through nginx. Its workers do not serve on unsupervised; every answer that was
 * acknowledged (303) is in the database with all its values, nothing is stored half, and
 * the database passes SQLite's integrity check.
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
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

enum { NTOKENS = 64, NTHREADS = 4, KILL_AFTER = 8 };

static struct harness h;
static struct survey *mentee;

struct submission {
    char token[23];
    char cookie[128];
    char *body;
    long status;
};

static struct submission subs[NTOKENS];
static atomic_int acked;

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
    return harness_start(&h, "1m", "1m");
}

/* anketa is dead by now (the test killed it); nginx is stopped the usual way. */
static int teardown(void **state)
{
    (void)state;
    int rc = h.anketa > 0 ? -1 : 0;
    if (h.nginx > 0) {
        kill(h.nginx, SIGTERM);
        waitpid(h.nginx, NULL, 0);
        h.nginx = 0;
    }
    if (rc == 0)
        harness_cleanup(&h);
    else
        fprintf(stderr, "logs kept in %s\n", h.dir);
    survey_free(mentee);
    curl_global_cleanup();
    return rc;
}

/* A complete, valid urlencoded response to the mentee's final questionnaire. */
static char *complete_body(struct arena *a, const char *csrf)
{
    struct buf b;
    buf_init(&b, a);
    buf_puts(&b, "csrf=");
    buf_put_url(&b, csrf, strlen(csrf));
    for (size_t i = 0; i < mentee->nquestions; i++) {
        const struct question *q = &mentee->questions[i];
        if (q->type == Q_MATRIX) {
            for (size_t k = 0; k < q->nitems; k++)
                buf_printf(&b, "&q.%s=%ld", q->items[k].id, q->items[k].min);
            continue;
        }
        buf_printf(&b, "&q.%s=", q->id);
        switch (q->type) {
        case Q_YESNO: buf_puts(&b, "no"); break;
        case Q_SCALE: buf_printf(&b, "%ld", q->min); break;
        case Q_CHOICE: buf_puts(&b, q->choices[0].value); break;
        case Q_NUMBER: buf_printf(&b, "%ld", q->has_min ? q->min : 1); break;
        case Q_TEXT: buf_puts(&b, "%D0%B4%D0%B0"); break;
        default: break;
        }
    }
    return b.data;
}

static long answers_per_response(void)
{
    long n = 0;
    for (size_t i = 0; i < mentee->nquestions; i++)
        n += mentee->questions[i].nitems ? (long)mentee->questions[i].nitems : 1;
    return n;
}

static void *submitter(void *arg)
{
    size_t first = (size_t)(long)arg;
    for (size_t i = first; i < NTOKENS; i += NTHREADS) {
        struct submission *s = &subs[i];
        char path[64], headers[512];
        struct http_result r;
        snprintf(path, sizeof path, "/s/%s", s->token);
        snprintf(headers, sizeof headers,
                 "Content-Type: application/x-www-form-urlencoded\nCookie: %s", s->cookie);
        if (http_request(&h, "POST", path, s->body, strlen(s->body), headers, &r) == 0) {
            s->status = r.status;
            if (r.status == 303)
                atomic_fetch_add(&acked, 1);
            http_result_free(&r);
        }
    }
    return NULL;
}

static void test_kill_while_answering(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    for (int i = 0; i < NTOKENS; i++) {
        char path[64], csrf[128];
        struct http_result r;
        assert_int_equal(harness_invite(&h, "mentee-final", subs[i].token), 0);
        snprintf(path, sizeof path, "/s/%s", subs[i].token);
        assert_int_equal(http_request(&h, "GET", path, NULL, 0, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(
            http_form_secrets(&r, csrf, sizeof csrf, subs[i].cookie, sizeof subs[i].cookie), 0);
        http_result_free(&r);
        subs[i].body = complete_body(a, csrf);
    }

    pthread_t threads[NTHREADS];
    for (long t = 0; t < NTHREADS; t++)
        assert_int_equal(pthread_create(&threads[t], NULL, submitter, (void *)t), 0);
    while (atomic_load(&acked) < KILL_AFTER) {
        struct timespec nap = {0, 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    assert_int_equal(kill(h.anketa, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(h.anketa, &status, 0), h.anketa);
    assert_true(WIFSIGNALED(status));
    h.anketa = 0;
    for (int t = 0; t < NTHREADS; t++)
        pthread_join(threads[t], NULL);

    /* The orphaned workers finish what they hold and go: nginx soon finds nobody there. */
    long gone = 0;
    for (int i = 0; i < 400 && gone != 502; i++) {
        struct http_result r;
        if (http_request(&h, "GET", "/healthz", NULL, 0, NULL, &r) == 0) {
            gone = r.status;
            http_result_free(&r);
        }
        struct timespec nap = {0, 50 * 1000 * 1000};
        if (gone != 502)
            nanosleep(&nap, NULL);
    }
    assert_int_equal(gone, 502);

    /* The kill landed mid-stream: some answers were acknowledged, later ones were not. */
    int ok = 0;
    for (int i = 0; i < NTOKENS; i++)
        ok += subs[i].status == 303;
    assert_true(ok >= KILL_AFTER);
    assert_true(ok < NTOKENS);

    char per[32], out[4096];
    snprintf(per, sizeof per, "%ld", answers_per_response());
    for (int i = 0; i < NTOKENS; i++) {
        if (subs[i].status != 303)
            continue;
        long n = harness_sql_long(&h,
                                  "SELECT count(*) FROM answers a JOIN responses r ON "
                                  "r.id = a.response_id JOIN invitations i ON i.id = "
                                  "r.invitation_id WHERE i.token = ?",
                                  subs[i].token);
        assert_int_equal(n, answers_per_response());
    }
    /* Whatever was stored, acknowledged or caught in flight, is whole. */
    assert_int_equal(harness_sql_long(&h,
                                      "SELECT count(*) FROM responses r WHERE (SELECT count(*) "
                                      "FROM answers a WHERE a.response_id = r.id) != "
                                      "CAST(? AS INTEGER)",
                                      per),
                     0);
    assert_true(harness_sql_long(&h, "SELECT count(*) FROM responses WHERE ? IS NOT NULL", "1") >=
                ok);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "sqlite3 %s 'PRAGMA integrity_check'", h.db);
    assert_int_equal(harness_run(cmd, out, sizeof out), 0);
    assert_string_equal(out, "ok\n");
    arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_while_answering),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
