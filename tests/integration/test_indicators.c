/*
 * Integration test of indicators in the server: the master computes a region's indicators
 * in a child process when the data changes, a hostile script (an endless loop, a memory
 * bomb) fails alone with its file and line, and the server keeps answering all along. An
 * edited script is picked up without a restart.
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

static struct harness h;
static char lua[256];

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(lua, sizeof lua, "/tmp/anketa-lua-XXXXXX");
    if (!mkdtemp(lua))
        return -1;
    char cmd[1024], out[512], region[300];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/regions/t && cp -r %s/lua/lib %s/", lua,
             getenv("ANKETA_ROOT"), lua);
    if (harness_run(cmd, out, sizeof out) != 0)
        return -1;
    snprintf(region, sizeof region, "%s/regions/t", lua);
    write_file(region, "region.lua", "return {org = 't-region', name = {ru = 'Тест'}}\n");
    write_file(region, "a_count.lua",
               "return {id = 'a_count', title = {ru = 'Наставляемые'}, unit = 'count',\n"
               "  period = 'year', compute = function(ctx)\n"
               "    return {value = ctx.count_participants{role = 'mentee'}} end}\n");
    write_file(region, "b_loop.lua",
               "return {id = 'b_loop', title = {ru = 'Зацикленный'}, unit = 'count',\n"
               "  period = 'year', compute = function(ctx)\n"
               "    while true do pcall(function() while true do end end) end end}\n");
    write_file(region, "c_bomb.lua",
               "return {id = 'c_bomb', title = {ru = 'Память'}, unit = 'count',\n"
               "  period = 'year', compute = function(ctx)\n"
               "    local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1000) .. i end end}\n");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *args[] = {"--lua", lua, "--region", "t", "--indicators-every", "1", NULL};
    return harness_start_with(&h, "1m", "1m", NULL, args);
}

static int teardown(void **state)
{
    (void)state;
    int rc = h.anketa > 0 ? harness_stop(&h) : 0;
    if (rc == 0)
        harness_cleanup(&h);
    char cmd[300], out[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", lua);
    harness_run(cmd, out, sizeof out);
    curl_global_cleanup();
    return rc == 0 ? 0 : -1;
}

/* Waits (up to 30 s) until the SQL count is at least want. */
static long wait_count(const char *sql, const char *param, long want)
{
    long v = -1;
    for (int i = 0; i < 600; i++) {
        v = harness_sql_long(&h, sql, param);
        if (v >= want)
            return v;
        struct timespec nap = {0, 50 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    return v;
}

/* Waits (up to 30 s) until the jsonl plugin's file holds needle; whether it does. */
static int wait_event(const char *needle)
{
    for (int i = 0; i < 600; i++) {
        FILE *f = fopen(h.events, "r");
        char line[4096];
        int found = 0;
        while (f && !found && fgets(line, sizeof line, f))
            found = strstr(line, needle) != NULL;
        if (f)
            fclose(f);
        if (found)
            return 1;
        struct timespec nap = {0, 50 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    return 0;
}

static void test_hostile_scripts_fail_alone(void **state)
{
    (void)state;
    char token[23];
    /* A change of data calls for a computation. */
    assert_int_equal(harness_invite(&h, "mentee-final", token), 0);
    assert_true(wait_count("SELECT count(*) FROM indicator_values WHERE indicator = 'a_count' "
                           "AND error IS NULL AND value >= 1",
                           NULL, 1) >= 1);
    /* The hostile ones failed with their file and line; the good one has its value. */
    assert_true(wait_count("SELECT count(*) FROM indicator_values WHERE indicator = 'b_loop' "
                           "AND error LIKE '%b_loop.lua:%'",
                           NULL, 1) >= 1);
    assert_true(wait_count("SELECT count(*) FROM indicator_values WHERE indicator = 'c_bomb' "
                           "AND error IS NOT NULL",
                           NULL, 1) >= 1);
    /* The master told the plugins, saying that some indicators failed. */
    assert_true(wait_event("\"event\":\"indicators.computed\""));
    assert_true(wait_event("\"region\":\"t\",\"period\":\"20"));
    assert_true(wait_event("\"failed\":true}"));
    /* And the server answered throughout. */
    struct http_result r;
    assert_int_equal(http_request(&h, "GET", "/healthz", NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    http_result_free(&r);
}

static void test_edited_script_is_picked_up(void **state)
{
    (void)state;
    char region[300];
    snprintf(region, sizeof region, "%s/regions/t", lua);
    write_file(region, "b_loop.lua",
               "return {id = 'b_loop', title = {ru = 'Исправленный'}, unit = 'count',\n"
               "  period = 'year', compute = function(ctx) return {value = 42} end}\n");
    assert_true(wait_count("SELECT count(*) FROM indicator_values WHERE indicator = 'b_loop' "
                           "AND error IS NULL AND value = 42",
                           NULL, 1) >= 1);
    /* The change of scripts is in the audit log, with the region's name. */
    assert_true(wait_count("SELECT count(*) FROM audit WHERE action = 'scripts.reload' "
                           "AND object = ?1",
                           "t", 1) >= 1);
}

/* `anketa indicators run` tells the plugins too, once the values are stored. */
static void test_cli_run_tells_plugins(void **state)
{
    (void)state;
    char cmd[4096], out[8192];
    snprintf(cmd, sizeof cmd,
             "cd %s && %s indicators run --region t --period 2025/26 --lua %s --db %s --config "
             "%s/plugins.conf --plugin-dir %s/build/asan/plugins",
             h.root, getenv("ANKETA_BIN"), lua, h.db, h.dir, h.root);
    assert_int_equal(harness_run(cmd, out, sizeof out), 1); /* c_bomb fails */
    assert_true(wait_event("\"region\":\"t\",\"period\":\"2025/26\",\"failed\":true}"));
}

static void test_clean_shutdown(void **state)
{
    (void)state;
    assert_int_equal(harness_stop(&h), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_scripts_fail_alone),
        cmocka_unit_test(test_edited_script_is_picked_up),
        cmocka_unit_test(test_cli_run_tells_plugins),
        cmocka_unit_test(test_clean_shutdown),
    };
    return cmocka_run_group_tests_name("integration: indicators in the server", tests, setup,
                                       teardown);
}
