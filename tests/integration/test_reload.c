/*
 * Integration test of SIGHUP: a reload picks up a new questionnaire without a restart, and
 * a broken one is refused while the running setup keeps serving.
 */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct harness h;
static char surveys[256];

static int setup(void **state)
{
    (void)state;
    snprintf(surveys, sizeof surveys, "/tmp/anketa-reload-XXXXXX");
    if (!mkdtemp(surveys))
        return -1;
    char cmd[1024], out[512];
    snprintf(cmd, sizeof cmd, "cp %s/surveys/*.yaml %s/", getenv("ANKETA_ROOT"), surveys);
    if (harness_run(cmd, out, sizeof out) != 0)
        return -1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return harness_start_surveys(&h, "1m", "1m", surveys);
}

static int teardown(void **state)
{
    (void)state;
    int rc = h.anketa > 0 ? harness_stop(&h) : 0;
    if (rc == 0)
        harness_cleanup(&h);
    char cmd[300], out[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", surveys);
    harness_run(cmd, out, sizeof out);
    curl_global_cleanup();
    return rc == 0 ? 0 : -1;
}

/* Polls GET path until its body contains needle (or 10 s pass). */
static int wait_for(const char *path, const char *needle, int present)
{
    for (int i = 0; i < 200; i++) {
        struct http_result r;
        if (http_request(&h, "GET", path, NULL, 0, NULL, &r) == 0) {
            int has = strstr(r.body, needle) != NULL;
            http_result_free(&r);
            if (has == present)
                return 0;
        }
        struct timespec nap = {0, 50 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    return -1;
}

static void write_survey(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", surveys, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_reload_adds_a_survey(void **state)
{
    (void)state;
    assert_int_equal(wait_for("/api/v1/surveys", "\"reload-check\"", 0), 0);
    write_survey("reload-check.yaml", "id: reload-check\nversion: 1\ntitle: Проверка\n"
                                      "questions:\n  - id: q1\n    type: yesno\n"
                                      "    label: Работает?\n");
    assert_int_equal(kill(h.anketa, SIGHUP), 0);
    assert_int_equal(wait_for("/api/v1/surveys", "\"reload-check\"", 1), 0);
}

static void test_reload_refuses_a_broken_survey(void **state)
{
    (void)state;
    write_survey("broken.yaml", "id: broken\nversion: 1\ntitle: x\nquestions:\n  - id: q1\n"
                                "    type: nonsense\n    label: x\n");
    assert_int_equal(kill(h.anketa, SIGHUP), 0);
    char cmd[600], out[4096];
    snprintf(cmd, sizeof cmd,
             "for i in $(seq 100); do grep -q 'reload refused' %s/anketa.log && "
             "exit 0; sleep 0.05; done; exit 1",
             h.dir);
    assert_int_equal(harness_run(cmd, out, sizeof out), 0);
    snprintf(cmd, sizeof cmd, "grep 'reload refused' %s/anketa.log", h.dir);
    harness_run(cmd, out, sizeof out);
    assert_non_null(strstr(out, "broken.yaml:6:"));
    /* Still serving the previous setup, including the survey added before. */
    assert_int_equal(wait_for("/api/v1/surveys", "\"reload-check\"", 1), 0);
    struct http_result r;
    assert_int_equal(http_request(&h, "GET", "/healthz", NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    http_result_free(&r);
}

static void test_clean_shutdown_after_reloads(void **state)
{
    (void)state;
    assert_int_equal(harness_stop(&h), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reload_adds_a_survey),
        cmocka_unit_test(test_reload_refuses_a_broken_survey),
        cmocka_unit_test(test_clean_shutdown_after_reloads),
    };
    return cmocka_run_group_tests_name("integration: reload on SIGHUP", tests, setup, teardown);
}
