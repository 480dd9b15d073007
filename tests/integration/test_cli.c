/*
 * Integration tests of the command line: checking questionnaires, refusing to serve broken
 * ones, help texts, and the demo data being created once.
 */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char bin[1200];
static char root[1024];
static char tmp[256];

static int setup(void **state)
{
    (void)state;
    const char *r = getenv("ANKETA_ROOT"), *b = getenv("ANKETA_BIN");
    if (!r || !b)
        return -1;
    snprintf(root, sizeof root, "%s", r);
    if (b[0] == '/')
        snprintf(bin, sizeof bin, "%s", b);
    else
        snprintf(bin, sizeof bin, "%s/%s", r, b);
    snprintf(tmp, sizeof tmp, "/tmp/anketa-cli-XXXXXX");
    return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512], out[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    return harness_run(cmd, out, sizeof out) == 0 ? 0 : -1;
}

static int run(char *out, size_t size, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return harness_run(cmd, out, size);
}

static void test_check_shipped_surveys(void **state)
{
    (void)state;
    char out[4096];
    assert_int_equal(run(out, sizeof out, "%s check --web %s/web %s/surveys", bin, root, root), 0);
    assert_non_null(strstr(out, "questionnaires OK"));
}

static void test_check_broken_file_is_located(void **state)
{
    (void)state;
    char path[512], out[4096], expected[600];
    snprintf(path, sizeof path, "%s/broken.yaml", tmp);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("id: broken\nversion: 1\ntitle: Сломанная анкета\nquestions:\n"
          "  - id: q1\n    type: scale\n    label: Оценка\n    min: 1\n    max: 10\n"
          "    lable: опечатка\n",
          f);
    fclose(f);
    assert_int_equal(run(out, sizeof out, "%s check %s", bin, path), 1);
    snprintf(expected, sizeof expected, "%s:10:5: ", path);
    assert_non_null(strstr(out, expected));
    assert_non_null(strstr(out, "lable"));

    /* serve refuses to start on the same file, with the same message, and exits non-zero. */
    char dir[512];
    snprintf(dir, sizeof dir, "%s/surveys", tmp);
    assert_int_equal(run(out, sizeof out, "mkdir -p %s && cp %s %s/", dir, path, dir), 0);
    assert_int_equal(run(out, sizeof out,
                         "%s serve --db %s/x.db --socket %s/x.sock --surveys %s --web %s/web", bin,
                         tmp, tmp, dir, root),
                     1);
    snprintf(expected, sizeof expected, "%s/broken.yaml:10:5: ", dir);
    assert_non_null(strstr(out, expected));
    assert_int_equal(access(path, F_OK), 0);
    char sock[600];
    snprintf(sock, sizeof sock, "%s/x.sock", tmp);
    assert_int_not_equal(access(sock, F_OK), 0);
}

static void test_help_for_every_command(void **state)
{
    (void)state;
    const char *cmds[] = {"serve", "check", "init", "demo"};
    char out[4096];
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        assert_int_equal(run(out, sizeof out, "%s %s --help", bin, cmds[i]), 0);
        char usage[64];
        snprintf(usage, sizeof usage, "usage: anketa %s", cmds[i]);
        assert_non_null(strstr(out, usage));
    }
    assert_int_equal(run(out, sizeof out, "%s --version", bin), 0);
    assert_non_null(strstr(out, "anketa "));
    assert_int_equal(run(out, sizeof out, "%s frobnicate", bin), 2);
    assert_non_null(strstr(out, "unknown command"));
    assert_int_equal(run(out, sizeof out, "%s serve --workers zero", bin), 2);
}

static void test_demo_is_created_once(void **state)
{
    (void)state;
    char out[4096], out2[4096];
    const char *fmt = "cd %s && %s demo --db %s/demo.db";
    assert_int_equal(run(out, sizeof out, fmt, root, bin, tmp), 0);
    assert_non_null(strstr(out, "demo data created"));
    assert_non_null(strstr(out, "mentee-final unanswered "));
    assert_non_null(strstr(out, "mentee-final answered "));
    assert_int_equal(run(out2, sizeof out2, fmt, root, bin, tmp), 0);
    assert_non_null(strstr(out2, "demo data already present"));
    char q[1024];
    const char *counts = "sqlite3 %s/demo.db 'SELECT (SELECT count(*) FROM orgs), (SELECT "
                         "count(*) FROM participants), (SELECT count(*) FROM invitations), "
                         "(SELECT count(*) FROM responses)'";
    assert_int_equal(run(q, sizeof q, counts, tmp), 0);
    /* A region, two municipalities, three schools; twenty participants, each invited once. */
    assert_string_equal(q, "6|20|20|9\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_shipped_surveys),
        cmocka_unit_test(test_check_broken_file_is_located),
        cmocka_unit_test(test_help_for_every_command),
        cmocka_unit_test(test_demo_is_created_once),
    };
    return cmocka_run_group_tests_name("integration: command line", tests, setup, teardown);
}
