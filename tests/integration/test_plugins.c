/*
 * The plugins through the real nginx and anketa: the shipped ones (xlsx, jsonl, template)
 * loaded by default, a route under /api/v1/plugins/<name>/, the jsonl plugin's line for
 * every stored response, and the order of store and hook (docs/plugins.md): a hook that
 * fails, or crashes its worker with SIGSEGV, never loses the response nor the participant's
 * thank-you page. Plugins built for another ABI, or whose init fails, are refused and the
 * server starts anyway.
 */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char surveys[1200];

static int setup(void **state)
{
    (void)state;
    snprintf(surveys, sizeof surveys, "%s/tests/data/surveys/plugins", getenv("ANKETA_ROOT"));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    curl_global_cleanup();
    return 0;
}

static void stop(struct harness *h)
{
    int rc = harness_stop(h);
    if (rc != 0)
        fail_msg("anketa did not stop cleanly (%d); logs in %s", rc, h->dir);
    harness_cleanup(h);
}

/* A new plugin directory (out, 64 bytes) holding links to the named ASan builds. */
static void plugin_dir(const char *const *plugins, char out[64])
{
    char cmd[4096];
    snprintf(out, 64, "/tmp/anketa-plugins-XXXXXX");
    assert_non_null(mkdtemp(out));
    size_t n = (size_t)snprintf(cmd, sizeof cmd, "true");
    for (size_t i = 0; plugins[i] && n < sizeof cmd; i++)
        n += (size_t)snprintf(cmd + n, sizeof cmd - n, " && ln -s %s/build/asan/%s %s/",
                              getenv("ANKETA_ROOT"), plugins[i], out);
    assert_int_equal(system(cmd), 0);
}

static void plugin_dir_remove(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* Answers the short questionnaire as a new participant: the POST's status, token in token.
 * extra (may be "") is appended to the body; page (may be NULL) receives the answer's page. */
static long answer_with(struct harness *h, const char *note, const char *extra, char token[23],
                        struct http_result *page)
{
    char path[64], csrf[128], cookie[128], headers[512], body[512];
    struct http_result r;
    assert_int_equal(harness_invite(h, "short", token), 0);
    snprintf(path, sizeof path, "/s/%s", token);
    assert_int_equal(http_request(h, "GET", path, NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(http_form_secrets(&r, csrf, sizeof csrf, cookie, sizeof cookie), 0);
    http_result_free(&r);
    snprintf(headers, sizeof headers, "Content-Type: application/x-www-form-urlencoded\nCookie: %s",
             cookie);
    snprintf(body, sizeof body, "csrf=%s&q.club=yes&q.note=%s%s", csrf, note, extra);
    assert_int_equal(http_request(h, "POST", path, body, strlen(body), headers, &r), 0);
    long status = r.status;
    if (page)
        *page = r;
    else
        http_result_free(&r);
    return status;
}

static long answer(struct harness *h, const char *note, char token[23])
{
    return answer_with(h, note, "", token, NULL);
}

static long stored(struct harness *h, const char *token)
{
    return harness_sql_long(h,
                            "SELECT count(*) FROM responses r JOIN invitations i ON i.id = "
                            "r.invitation_id WHERE i.token = ?1",
                            token);
}

/* The file's text once it holds at least lines lines (hooks run just after the answer is
 * sent), or whatever it holds after two seconds. The caller frees it. */
static char *wait_lines(const char *path, int lines)
{
    for (int tries = 0;; tries++) {
        FILE *f = fopen(path, "r");
        char *text = NULL;
        size_t len = 0;
        int n = 0;
        if (f) {
            char buf[4096];
            size_t got;
            while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
                char *t = realloc(text, len + got + 1);
                assert_non_null(t);
                text = t;
                memcpy(text + len, buf, got);
                len += got;
            }
            fclose(f);
        }
        if (!text)
            text = calloc(1, 1);
        text[len] = '\0';
        for (char *p = text; (p = strchr(p, '\n')); p++)
            n++;
        if (n >= lines || tries == 100)
            return text;
        free(text);
        struct timespec nap = {0, 20 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
}

/* How many lines of anketa's log hold needle. */
static int log_count(const struct harness *h, const char *needle)
{
    char cmd[1200], out[256];
    snprintf(cmd, sizeof cmd, "grep -c -F '%s' %s/anketa.log", needle, h->dir);
    harness_run(cmd, out, sizeof out);
    return atoi(out);
}

static int log_has(const struct harness *h, const char *needle)
{
    return log_count(h, needle) > 0;
}

/* The shipped plugins as `make run` and the tests load them. */
static void test_shipped_plugins(void **state)
{
    (void)state;
    struct harness h;
    assert_int_equal(harness_start_surveys(&h, "65536", "1m", surveys), 0);
    assert_true(log_has(&h, "plugin jsonl 1.0"));
    assert_true(log_has(&h, "plugin template 1.0"));
    assert_true(log_has(&h, "plugin xlsx 2.0"));

    /* jsonl: one line per stored response, with its answers, written after the commit. */
    char token[23], token2[23];
    assert_int_equal(
        answer(&h, "%D0%9F%D1%80%D0%B8%D0%B2%D0%B5%D1%82+%22%D0%B2%D1%81%D0%B5%D0%BC%22", token),
        303);
    assert_int_equal(stored(&h, token), 1);
    char *text = wait_lines(h.events, 1);
    assert_non_null(strstr(text, "{\"event\":\"response.stored\""));
    assert_non_null(strstr(text, "\"survey\":\"short\",\"version\":1,\"hash\":\""));
    assert_non_null(
        strstr(text, "\"answers\":{\"club\":\"yes\",\"note\":\"Привет \\\"всем\\\"\"}}\n"));
    free(text);
    assert_int_equal(answer(&h, "", token2), 303);
    text = wait_lines(h.events, 2);
    int lines = 0;
    for (char *p = text; (p = strchr(p, '\n')); p++)
        lines++;
    assert_int_equal(lines, 2);
    assert_non_null(strstr(text, "\"answers\":{\"club\":\"yes\"}}\n"));
    free(text);

    /* dictionary: the CSV's rows as a drop-down, escaped; a value not in it is refused with
     * the answers kept; one in it is stored. */
    char token3[23], path[64];
    struct http_result page;
    assert_int_equal(harness_invite(&h, "short", token3), 0);
    snprintf(path, sizeof path, "/s/%s", token3);
    assert_int_equal(http_request(&h, "GET", path, NULL, 0, NULL, &page), 0);
    assert_int_equal(page.status, 200);
    assert_non_null(strstr(page.body, "<select id=\"q-employer-input\" name=\"q.employer\""));
    assert_non_null(
        strstr(page.body, "<option value=\"sever\">ООО &quot;Север&quot; &amp; сыновья</option>"));
    assert_non_null(strstr(page.body, "<option value=\"ural\">АО &lt;Урал&gt;</option>"));
    http_result_free(&page);
    char token4[23];
    assert_int_equal(answer_with(&h, "kept", "&q.employer=nope", token4, &page), 422);
    assert_non_null(strstr(page.body, "id=\"q-employer-error\""));
    assert_non_null(strstr(page.body, "name=\"q.note\" value=\"kept\""));
    http_result_free(&page);
    assert_int_equal(stored(&h, token4), 0);
    char token5[23];
    assert_int_equal(answer_with(&h, "", "&q.employer=ural", token5, NULL), 303);
    assert_int_equal(harness_sql_long(&h,
                                      "SELECT count(*) FROM answers a JOIN responses r ON r.id = "
                                      "a.response_id JOIN invitations i ON i.id = r.invitation_id "
                                      "WHERE i.token = ?1 AND a.question_id = 'employer' AND "
                                      "a.value = 'ural'",
                                      token5),
                     1);
    text = wait_lines(h.events, 3);
    assert_non_null(strstr(text, "\"employer\":\"ural\"}}\n"));
    free(text);

    /* The command line tells the plugins of the campaigns it opens and closes. */
    char cmd[4096], out[4096];
    const char *verbs[] = {"open cx --survey short --org t-region --period 2026/27 --wave none "
                           "--opens 2026-01-01 --closes 2099-01-01",
                           "close cx"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd,
                 "cd %s && %s campaign %s --db %s --config %s/plugins.conf --plugin-dir "
                 "%s/build/asan/plugins",
                 h.root, getenv("ANKETA_BIN"), verbs[i], h.db, h.dir, h.root);
        if (harness_run(cmd, out, sizeof out) != 0)
            fail_msg("%s:\n%s", cmd, out);
    }
    text = wait_lines(h.events, 5);
    assert_non_null(strstr(text, "{\"event\":\"campaign.opened\""));
    assert_non_null(strstr(text, "\"campaign\":\"cx\"}\n{\"event\":\"campaign.closed\""));
    free(text);

    /* template: its route, public, escaping what it echoes. */
    struct http_result r;
    assert_int_equal(
        http_request(&h, "GET", "/api/v1/plugins/template/hello?name=%3Cb%3E", NULL, 0, NULL, &r),
        0);
    assert_int_equal(r.status, 200);
    char type[128];
    assert_int_equal(http_header_value(&r, "Content-Type", type, sizeof type), 0);
    assert_string_equal(type, "application/json; charset=utf-8");
    assert_memory_equal(r.body, "{\"hello\":\"%3Cb%3E\",\"responses\":", 30);
    http_result_free(&r);
    assert_int_equal(http_request(&h, "POST", "/api/v1/plugins/template/hello", "x", 1, NULL, &r),
                     0);
    assert_int_equal(r.status, 405);
    http_result_free(&r);
    assert_int_equal(http_request(&h, "GET", "/api/v1/plugins/template/other", NULL, 0, NULL, &r),
                     0);
    assert_int_equal(r.status, 404);
    http_result_free(&r);
    /* A plugin without routes, and no plugin at all. */
    assert_int_equal(http_request(&h, "GET", "/api/v1/plugins/xlsx/", NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.body, "no plugin answers here"));
    http_result_free(&r);
    assert_int_equal(http_request(&h, "GET", "/api/v1/plugins/nothing", NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 404);
    http_result_free(&r);
    stop(&h);
}

/* Refused and failing plugins are logged and left out; the server starts with the rest. A
 * response hook that fails is logged; the response and the other plugins' lines stay. */
static void test_bad_plugins_and_failing_hook(void **state)
{
    (void)state;
    char dir[64];
    const char *plugins[] = {"test-plugins/wrong_abi.so",  "test-plugins/init_fails.so",
                             "test-plugins/hook_fails.so", "plugins/jsonl.so",
                             "plugins/dictionary.so",      NULL};
    plugin_dir(plugins, dir);
    const char *args[] = {"--plugin-dir", dir, NULL};
    struct harness h2;
    assert_int_equal(harness_start_with(&h2, "65536", "1m", surveys, args), 0);
    assert_true(
        log_has(&h2, "refused: the plugin was built for plugin ABI 2, this anketa has ABI 1"));
    assert_true(log_has(&h2, "plugin init_fails: init failed: the dictionary file is missing"));
    char token[23];
    assert_int_equal(answer(&h2, "x", token), 303);
    assert_int_equal(stored(&h2, token), 1);
    char *text = wait_lines(h2.events, 1);
    assert_non_null(strstr(text, "\"note\":\"x\""));
    free(text);
    for (int i = 0; i < 100 && !log_has(&h2, "response_stored hook failed"); i++)
        usleep(20000);
    assert_true(log_has(&h2, "plugin hook_fails: response_stored hook failed: the external "
                             "system refused invitation"));
    stop(&h2);
    plugin_dir_remove(dir);
}

/* A hook that kills its worker: the response was committed and answered before it ran. */
static void test_crashing_hook_loses_nothing(void **state)
{
    (void)state;
    char dir[64];
    const char *plugins[] = {"test-plugins/hook_crashes.so", "plugins/dictionary.so", NULL};
    plugin_dir(plugins, dir);
    const char *args[] = {"--plugin-dir", dir, NULL};
    struct harness h2;
    assert_int_equal(harness_start_with(&h2, "65536", "1m", surveys, args), 0);
    char tokens[3][23];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(answer(&h2, "crash", tokens[i]), 303);
        assert_int_equal(stored(&h2, tokens[i]), 1);
    }
    /* Each worker died after answering, and the master started others. */
    for (int i = 0; i < 500 && log_count(&h2, "ended (signal") < 3; i++)
        usleep(20000);
    assert_int_equal(log_count(&h2, "ended (signal"), 3);
    struct http_result r;
    long status = 0;
    for (int i = 0; i < 200 && status != 200; i++) {
        assert_int_equal(http_request(&h2, "GET", "/healthz", NULL, 0, NULL, &r), 0);
        status = r.status;
        http_result_free(&r);
        if (status != 200)
            usleep(50000);
    }
    assert_int_equal(status, 200);
    stop(&h2);
    plugin_dir_remove(dir);
}

/* XLSX is the plugin's: without it, `anketa export` says where the format comes from. */
static void test_xlsx_needs_its_plugin(void **state)
{
    (void)state;
    char cmd[4096], out[4096];
    const char *root = getenv("ANKETA_ROOT"), *bin = getenv("ANKETA_BIN");
    snprintf(cmd, sizeof cmd,
             "cd %s && %s export responses --org x --format xlsx --db /nonexistent.db "
             "--plugin-dir /nonexistent 2>&1",
             root, bin);
    assert_int_equal(harness_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "anketa export: unknown format \"xlsx\" (the formats are: csv, "
                                "csv-excel, json, ndjson; xlsx needs the plugin xlsx in the "
                                "plugin directory (--plugin-dir, plugin_dir))"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_plugins),
        cmocka_unit_test(test_bad_plugins_and_failing_hook),
        cmocka_unit_test(test_crashing_hook_loses_nothing),
        cmocka_unit_test(test_xlsx_needs_its_plugin),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
