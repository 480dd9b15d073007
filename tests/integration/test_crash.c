/*
 * Integration test of durability: anketa is killed with SIGKILL while answers keep
 * arriving through nginx. First its master alone: the workers do not serve on
 * unsupervised. Then 20 kills at random moments (the seed is printed; ANKETA_CRASH_SEED
 * repeats a run), alternately of one worker (the master forks another) and of the whole
 * application (master and workers at once; it is started again on the same database and
 * the answers continue). Every answer that was acknowledged (303) is in the database with
 * all its values, nothing is stored half, and the database passes SQLite's integrity check.
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

#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { NTOKENS = 64, NTHREADS = 4, KILL_AFTER = 8 };
/* The second test: kills, and the links its submitters answer (a few per kill suffice). */
enum { KILLS = 20, NCHAOS = 160 };

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

/* The last test stops anketa cleanly; after a failure it may still run, or be dead. */
static int teardown(void **state)
{
    (void)state;
    int rc = h.anketa > 0 ? -1 : 0;
    if (h.anketa > 0) {
        kill(h.anketa, SIGKILL);
        waitpid(h.anketa, NULL, 0);
        h.anketa = 0;
    }
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

/* ---- 20 kills at random moments ------------------------------------------------------ */

static struct submission chaos[NCHAOS];
static atomic_int chaos_acked;
/* Links are taken in order, by any submitter, while fewer than chaos_allowed are taken: the
 * test keeps a few answers in flight at every kill without running out of links. */
static atomic_int chaos_taken, chaos_allowed;

/* Answers links until each is acknowledged (303), or found already stored (409: an earlier
 * attempt was committed but its acknowledgement was lost in a kill). 502 and lost
 * connections are the kills: the link is tried again. */
static void *chaos_submitter(void *arg)
{
    (void)arg;
    for (;;) {
        int i = atomic_load(&chaos_taken);
        if (i >= NCHAOS)
            return NULL;
        if (i >= atomic_load(&chaos_allowed) ||
            !atomic_compare_exchange_weak(&chaos_taken, &i, i + 1)) {
            struct timespec nap = {0, 1000 * 1000};
            nanosleep(&nap, NULL);
            continue;
        }
        struct submission *s = &chaos[i];
        char path[64], headers[512];
        snprintf(path, sizeof path, "/s/%s", s->token);
        snprintf(headers, sizeof headers,
                 "Content-Type: application/x-www-form-urlencoded\nCookie: %s", s->cookie);
        for (int attempt = 0; attempt < 3000 && s->status != 303 && s->status != 409; attempt++) {
            struct http_result r;
            if (http_request(&h, "POST", path, s->body, strlen(s->body), headers, &r) == 0) {
                s->status = r.status;
                http_result_free(&r);
            }
            if (s->status == 303)
                atomic_fetch_add(&chaos_acked, 1);
            else if (s->status != 409) {
                struct timespec nap = {0, 10 * 1000 * 1000};
                nanosleep(&nap, NULL);
            }
        }
    }
}

/* The parent's pid in /proc/<pid>/stat and the process state; -1 when it is gone. */
static pid_t proc_parent(pid_t pid, char *state)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    /* The command name may hold spaces and parentheses: the fields follow its last ')'. */
    const char *p = strrchr(line, ')');
    int ppid;
    if (!p || sscanf(p + 1, " %c %d", state, &ppid) != 2)
        return -1;
    return (pid_t)ppid;
}

/* The live children of the master: its workers. */
static size_t workers_of(pid_t master, pid_t *out, size_t max)
{
    size_t n = 0;
    DIR *d = opendir("/proc");
    assert_non_null(d);
    for (struct dirent *de; (de = readdir(d)) != NULL && n < max;) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        pid_t pid = (pid_t)atoi(de->d_name);
        char state;
        if (proc_parent(pid, &state) == master && state != 'Z')
            out[n++] = pid;
    }
    closedir(d);
    return n;
}

/* Waits until pid is gone or a zombie: it holds no socket and no lock any more. */
static void wait_dead(pid_t pid)
{
    for (int i = 0; i < 2000; i++) {
        char state;
        if (proc_parent(pid, &state) < 0 || state == 'Z')
            return;
        struct timespec nap = {0, 5 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    fail_msg("process %d did not die", (int)pid);
}

/* Waits until the submitters got want acknowledgements in all (the app serves again). */
static void wait_acked(int want)
{
    for (int i = 0; i < 60000 && atomic_load(&chaos_acked) < want; i++) {
        struct timespec nap = {0, 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    if (atomic_load(&chaos_acked) < want)
        fail_msg("no progress: %d acknowledged, waiting for %d", atomic_load(&chaos_acked), want);
}

static void test_kill_at_random_moments(void **state)
{
    (void)state;
    const char *env = getenv("ANKETA_CRASH_SEED");
    unsigned seed =
        env ? (unsigned)strtoul(env, NULL, 10) : (unsigned)time(NULL) ^ (unsigned)getpid();
    printf("test_kill_at_random_moments: seed %u (ANKETA_CRASH_SEED=%u repeats the kills)\n", seed,
           seed);
    fflush(stdout);

    /* The first test left anketa dead: it comes back on the same database. */
    if (h.anketa <= 0)
        assert_int_equal(harness_restart_anketa(&h), 0);
    struct arena *a = arena_new();
    for (int i = 0; i < NCHAOS; i++) {
        char path[64], csrf[128];
        struct http_result r;
        assert_int_equal(harness_invite(&h, "mentee-final", chaos[i].token), 0);
        snprintf(path, sizeof path, "/s/%s", chaos[i].token);
        assert_int_equal(http_request(&h, "GET", path, NULL, 0, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(
            http_form_secrets(&r, csrf, sizeof csrf, chaos[i].cookie, sizeof chaos[i].cookie), 0);
        http_result_free(&r);
        chaos[i].body = complete_body(a, csrf);
    }

    pthread_t threads[NTHREADS];
    for (long t = 0; t < NTHREADS; t++)
        assert_int_equal(pthread_create(&threads[t], NULL, chaos_submitter, (void *)t), 0);
    int worker_kills = 0, app_kills = 0;
    for (int k = 0; k < KILLS; k++) {
        /* A random moment: four to seven more links let go, one to three of them
         * acknowledged, then up to 20 ms on; the others are in flight or queued. */
        atomic_store(&chaos_allowed, atomic_load(&chaos_taken) + 4 + (int)(rand_r(&seed) % 4));
        wait_acked(atomic_load(&chaos_acked) + 1 + (int)(rand_r(&seed) % 3));
        struct timespec nap = {0, (long)(rand_r(&seed) % 20000) * 1000};
        nanosleep(&nap, NULL);
        pid_t workers[8];
        size_t n = workers_of(h.anketa, workers, 8);
        if (k % 2 == 0 && n > 0) {
            pid_t victim = workers[rand_r(&seed) % n];
            assert_int_equal(kill(victim, SIGKILL), 0);
            wait_dead(victim);
            worker_kills++;
            continue;
        }
        /* The whole application at once: nothing gets to finish or clean up. */
        assert_int_equal(kill(h.anketa, SIGKILL), 0);
        for (size_t i = 0; i < n; i++)
            kill(workers[i], SIGKILL);
        int status;
        assert_int_equal(waitpid(h.anketa, &status, 0), h.anketa);
        assert_true(WIFSIGNALED(status));
        h.anketa = 0;
        for (size_t i = 0; i < n; i++)
            wait_dead(workers[i]);
        app_kills++;
        assert_int_equal(harness_restart_anketa(&h), 0);
    }
    atomic_store(&chaos_allowed, NCHAOS);
    for (int t = 0; t < NTHREADS; t++)
        pthread_join(threads[t], NULL);
    int lost_acks = 0;
    for (int i = 0; i < NCHAOS; i++)
        lost_acks += chaos[i].status == 409;
    printf("test_kill_at_random_moments: %d workers and %d times the whole app killed, %d "
           "answers acknowledged, %d stored but their acknowledgement lost in a kill\n",
           worker_kills, app_kills, atomic_load(&chaos_acked), lost_acks);
    assert_int_equal(worker_kills + app_kills, KILLS);

    /* Every link ended answered: acknowledged, or stored by an attempt whose answer was lost.
     * Each has exactly one response, with all its answers. */
    for (int i = 0; i < NCHAOS; i++) {
        if (chaos[i].status != 303 && chaos[i].status != 409)
            fail_msg("link %d ended with %ld", i, chaos[i].status);
        assert_int_equal(harness_sql_long(&h,
                                          "SELECT count(*) FROM responses r JOIN invitations i ON "
                                          "i.id = r.invitation_id WHERE i.token = ?",
                                          chaos[i].token),
                         1);
        long n = harness_sql_long(&h,
                                  "SELECT count(*) FROM answers a JOIN responses r ON "
                                  "r.id = a.response_id JOIN invitations i ON i.id = "
                                  "r.invitation_id WHERE i.token = ?",
                                  chaos[i].token);
        assert_int_equal(n, answers_per_response());
    }
    char per[32], out[4096], cmd[700];
    snprintf(per, sizeof per, "%ld", answers_per_response());
    assert_int_equal(harness_sql_long(&h,
                                      "SELECT count(*) FROM responses r WHERE (SELECT count(*) "
                                      "FROM answers a WHERE a.response_id = r.id) != "
                                      "CAST(? AS INTEGER)",
                                      per),
                     0);
    snprintf(cmd, sizeof cmd, "sqlite3 %s 'PRAGMA integrity_check'", h.db);
    assert_int_equal(harness_run(cmd, out, sizeof out), 0);
    assert_string_equal(out, "ok\n");
    arena_free(a);
    /* And after all that, a clean shutdown: status 0, LeakSanitizer quiet. */
    assert_int_equal(harness_stop(&h), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_while_answering),
        cmocka_unit_test(test_kill_at_random_moments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
