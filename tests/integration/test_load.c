/*
 * Load: 64 connections for a minute (ANKETA_LOAD_SECONDS), through nginx, mixing what
 * participants do: open a fresh link and submit it (303), submit an invalid answer (422),
 * look at an answered link again (200), and /healthz. No answer may be a 5xx or a broken
 * connection, and the workers' memory must not grow once it has warmed up.
 *
 * The server is the release build (ANKETA_RELEASE_BIN, default build/anketa), not the
 * sanitized one the other tests use: under ASan every free goes through a quarantine of up
 * to 256 MiB and shadow memory grows with the heap, so a worker's RSS keeps growing for a
 * long time with no leak at all. With the release build, RSS is the heap glibc keeps plus
 * SQLite's page cache, both bounded; it is measured (VmRSS of each worker) once a third of
 * the run has passed, when the caches are warm, and again at the end. Leaks are
 * LeakSanitizer's job in every other test; this one catches growth per request that is not
 * a leak (a cache or list that is never trimmed).
 */
#include "harness.h"

#include "arena.h"
#include "buf.h"
#include "err.h"
#include "store.h"
#include "survey.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { CONNECTIONS = 64, LINKS = 6000 };

/*
 * A worker may grow by this much between the two samples, and no more: SQLite's page cache
 * (2 MiB by default) keeps filling as the answers of the run grow the database, and glibc
 * keeps some freed memory. Growth per request would be far beyond it: 100 bytes kept per
 * request is 10 MiB over 100,000 requests (the last two thirds of a run here make 140,000).
 */
#define RSS_SLACK_KB 4096

static struct harness h;
static struct survey *mentee;
static char (*tokens)[23];
static atomic_int links_taken, answered_count;
static atomic_long counts[6]; /* by status class: 0 transport errors, 1xx..5xx */
static atomic_long ok_submissions;
static double run_seconds;
static struct timespec started;

static double since_start(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - started.tv_sec) + (double)(t.tv_nsec - started.tv_nsec) / 1e9;
}

static int setup(void **state)
{
    (void)state;
    struct err e = {0};
    char path[1200], bin[1200];
    const char *root = getenv("ANKETA_ROOT");
    const char *rel = getenv("ANKETA_RELEASE_BIN");
    if (!root)
        return -1;
    snprintf(bin, sizeof bin, "%s/%s", root, rel ? rel : "build/anketa");
    if (rel && rel[0] == '/')
        snprintf(bin, sizeof bin, "%s", rel);
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "test_load: no release build at %s (make build/anketa)\n", bin);
        return -1;
    }
    setenv("ANKETA_BIN", bin, 1);
    const char *secs = getenv("ANKETA_LOAD_SECONDS");
    run_seconds = secs ? atof(secs) : 60;
    snprintf(path, sizeof path, "%s/surveys/mentee-final.yaml", root);
    if (survey_load(path, &mentee, &e) < 0)
        return -1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    /* The release build loads the release plugins: the harness's default are ASan builds. */
    static char plugin_dir[1200];
    static const char *serve_args[] = {"--plugin-dir", plugin_dir, NULL};
    snprintf(plugin_dir, sizeof plugin_dir, "%s/build/plugins", root);
    if (harness_start_with(&h, "1m", "1m", NULL, serve_args) < 0)
        return -1;

    /* The links, in one transaction: each is answered once during the run. */
    struct store *st;
    struct store_options opt = {.migrate = 0};
    tokens = calloc(LINKS, sizeof *tokens);
    if (!tokens || store_open(h.db, &opt, &st, &e) < 0)
        return -1;
    int rc = store_begin(st, &e);
    for (int i = 0; i < LINKS && rc == 0; i++) {
        char code[32];
        snprintf(code, sizeof code, "L-%d", i);
        struct participant_rec p = {.code = code,
                                    .org_code = "t-school",
                                    .programme_code = "t-prog",
                                    .role = "mentee",
                                    .kind = "pupil",
                                    .birth_year = 2012,
                                    .experience_years = -1,
                                    .consent_date = "2026-09-01"};
        rc = store_put_participant(st, &p, NULL, &e) ||
             store_put_invitation(st, code, "mentee-final", tokens[i], &e);
    }
    rc = rc || store_commit(st, &e);
    store_close(st);
    if (rc)
        fprintf(stderr, "test_load: %s\n", e.msg);
    return rc ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    int rc = h.anketa > 0 ? harness_stop(&h) : 0;
    if (rc == 0)
        harness_cleanup(&h);
    else
        fprintf(stderr, "logs kept in %s\n", h.dir);
    free(tokens);
    survey_free(mentee);
    curl_global_cleanup();
    return rc == 0 ? 0 : -1;
}

static void count(long status)
{
    atomic_fetch_add(&counts[status >= 100 && status < 600 ? status / 100 : 0], 1);
}

/* A complete answer; broken puts the first scale out of its range. */
static char *answer_body(struct arena *a, const char *csrf, int broken)
{
    struct buf b;
    buf_init(&b, a);
    buf_puts(&b, "csrf=");
    buf_put_url(&b, csrf, strlen(csrf));
    int spoiled = 0;
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
        case Q_SCALE: buf_printf(&b, "%ld", broken && !spoiled++ ? q->max + 1 : q->max); break;
        case Q_CHOICE: buf_puts(&b, q->choices[0].value); break;
        case Q_NUMBER: buf_printf(&b, "%ld", q->has_min ? q->min : 1); break;
        case Q_TEXT: buf_puts(&b, "%D0%BD%D0%B0%D0%B3%D1%80%D1%83%D0%B7%D0%BA%D0%B0"); break;
        default: break;
        }
    }
    return b.data;
}

/* Opens a fresh link, sometimes answers it wrongly first, then answers it. */
static void submit_fresh(struct arena *a, const char *token, unsigned *seed)
{
    char path[64], csrf[128], cookie[128], headers[256];
    struct http_result r;
    snprintf(path, sizeof path, "/s/%s", token);
    if (http_request(&h, "GET", path, NULL, 0, NULL, &r) < 0) {
        count(0);
        return;
    }
    count(r.status);
    int secrets =
        r.status == 200 && http_form_secrets(&r, csrf, sizeof csrf, cookie, sizeof cookie) == 0;
    http_result_free(&r);
    if (!secrets)
        return;
    snprintf(headers, sizeof headers, "Content-Type: application/x-www-form-urlencoded\nCookie: %s",
             cookie);
    for (int broken = rand_r(seed) % 4 == 0; broken >= 0; broken--) {
        const char *body = answer_body(a, csrf, broken);
        if (http_request(&h, "POST", path, body, strlen(body), headers, &r) < 0) {
            count(0);
            return;
        }
        count(r.status);
        if (!broken && r.status == 303)
            atomic_fetch_add(&ok_submissions, 1);
        http_result_free(&r);
    }
}

static void *client(void *arg)
{
    unsigned seed = (unsigned)(long)arg * 7919u + 1;
    struct arena *a = arena_new();
    while (since_start() < run_seconds) {
        /* Fresh links are let go evenly over the run, so both halves see submissions. */
        int due = (int)(LINKS * since_start() / run_seconds);
        int i = atomic_load(&links_taken);
        if (rand_r(&seed) % 2 == 0 && i < due && i < LINKS &&
            atomic_compare_exchange_strong(&links_taken, &i, i + 1)) {
            submit_fresh(a, tokens[i], &seed);
            atomic_fetch_add(&answered_count, 1);
        } else {
            int done = atomic_load(&answered_count);
            char path[64];
            if (done > 0 && rand_r(&seed) % 4)
                snprintf(path, sizeof path, "/s/%s", tokens[rand_r(&seed) % (unsigned)done]);
            else
                snprintf(path, sizeof path, "/healthz");
            struct http_result r;
            if (http_request(&h, "GET", path, NULL, 0, NULL, &r) < 0) {
                count(0);
            } else {
                count(r.status);
                http_result_free(&r);
            }
        }
        arena_reset(a);
    }
    arena_free(a);
    return NULL;
}

/* The workers of the master (its live children), with their VmRSS in kB. */
static size_t workers_rss(pid_t master, pid_t *pids, long *rss, size_t max)
{
    size_t n = 0;
    DIR *d = opendir("/proc");
    assert_non_null(d);
    for (struct dirent *de; (de = readdir(d)) != NULL && n < max;) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        char path[300], line[256];
        snprintf(path, sizeof path, "/proc/%s/status", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        long ppid = -1, kb = -1;
        while (fgets(line, sizeof line, f)) {
            sscanf(line, "PPid: %ld", &ppid);
            sscanf(line, "VmRSS: %ld kB", &kb);
        }
        fclose(f);
        if (ppid == (long)master && kb > 0) {
            pids[n] = (pid_t)atol(de->d_name);
            rss[n++] = kb;
        }
    }
    closedir(d);
    return n;
}

static void test_load(void **state)
{
    (void)state;
    clock_gettime(CLOCK_MONOTONIC, &started);
    pthread_t threads[CONNECTIONS];
    for (long t = 0; t < CONNECTIONS; t++)
        assert_int_equal(pthread_create(&threads[t], NULL, client, (void *)t), 0);

    pid_t pids1[8], pids2[8];
    long rss1[8], rss2[8];
    while (since_start() < run_seconds / 3) {
        struct timespec nap = {0, 100 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    size_t n1 = workers_rss(h.anketa, pids1, rss1, 8);
    for (int t = 0; t < CONNECTIONS; t++)
        pthread_join(threads[t], NULL);
    size_t n2 = workers_rss(h.anketa, pids2, rss2, 8);

    long total = 0;
    for (int i = 0; i < 6; i++)
        total += atomic_load(&counts[i]);
    printf("test_load: %d connections, %.0f s: %ld requests (%.0f/s), %ld answers stored; "
           "2xx %ld, 3xx %ld, 4xx %ld, 5xx %ld, broken %ld\n",
           CONNECTIONS, run_seconds, total, (double)total / run_seconds,
           atomic_load(&ok_submissions), atomic_load(&counts[2]), atomic_load(&counts[3]),
           atomic_load(&counts[4]), atomic_load(&counts[5]), atomic_load(&counts[0]));
    assert_int_equal(atomic_load(&counts[5]), 0);
    assert_int_equal(atomic_load(&counts[0]), 0);
    assert_true(atomic_load(&ok_submissions) > 0);
    /* Every acknowledged answer is there. */
    assert_int_equal(
        harness_sql_long(&h, "SELECT count(*) FROM responses WHERE ?1 IS NOT NULL", "1"),
        atomic_load(&ok_submissions));

    /* The same workers all along (none died and was replaced), none grown beyond the slack. */
    assert_int_equal(n1, 2);
    assert_int_equal(n2, 2);
    for (size_t i = 0; i < n2; i++) {
        size_t j = 0;
        while (j < n1 && pids1[j] != pids2[i])
            j++;
        assert_true(j < n1);
        printf("test_load: worker %d: VmRSS %ld kB after a third of the run, %ld kB at the end\n",
               (int)pids2[i], rss1[j], rss2[i]);
        if (rss2[i] > rss1[j] + RSS_SLACK_KB)
            fail_msg("worker %d grew from %ld kB to %ld kB", (int)pids2[i], rss1[j], rss2[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests_name("integration: load through nginx", tests, setup, teardown);
}
