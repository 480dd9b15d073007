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
    const char *counts = "sqlite3 %s/demo.db \"SELECT (SELECT count(*) FROM orgs), (SELECT "
                         "count(*) FROM participants), (SELECT count(*) FROM invitations), "
                         "(SELECT count(*) FROM campaigns), (SELECT count(*) FROM campaigns "
                         "WHERE status = 'closed'), (SELECT count(*) FROM users)\"";
    assert_int_equal(run(q, sizeof q, counts, tmp), 0);
    /* A region, two municipalities, three schools and a partner enterprise; the twenty
     * sample participants and four years of generated cohorts (21 + 18 + 11 + 14 a year),
     * each invited by the entry and the final campaign of their own year only; four
     * campaigns a year, the three past years' closed; four staff accounts. */
    assert_string_equal(q, "7|276|552|16|12|4\n");
    /* The nine sample participants of demo.json answered both waves; about 80% of each
     * generated cohort answered each survey. */
    const char *answered =
        "sqlite3 %s/demo.db \"SELECT count(*) FILTER (WHERE p.code NOT LIKE 'DEMO-G%%'), "
        "count(*) FILTER (WHERE p.code LIKE 'DEMO-G%%') FROM responses r JOIN invitations i ON "
        "i.id = r.invitation_id JOIN participants p ON p.id = i.participant_id\"";
    assert_int_equal(run(q, sizeof q, answered, tmp), 0);
    long sample = 0, generated = 0;
    assert_int_equal(sscanf(q, "%ld|%ld", &sample, &generated), 2);
    assert_int_equal(sample, 18);
    assert_true(generated > 512 * 7 / 10 && generated < 512 * 9 / 10);
    /* Staff passwords are new at every run, printed once; the school years are listed. */
    assert_non_null(strstr(out, "staff curator "));
    assert_non_null(strstr(out, " coordinator demo-mun-1\n"));
    assert_non_null(strstr(out, "staff admin "));
    assert_non_null(
        strstr(out, "period 2023/24\nperiod 2024/25\nperiod 2025/26\nperiod 2026/27\n"));
    char pw1[64], pw2[64];
    assert_int_equal(sscanf(strstr(out, "staff curator "), "staff curator %63s", pw1), 1);
    assert_int_equal(sscanf(strstr(out2, "staff curator "), "staff curator %63s", pw2), 1);
    assert_string_not_equal(pw1, pw2);
}

/* The curator's path: import the sample files, open a campaign, write its links, see
 * the response rates, erase a participant. */
static void test_registry_commands(void **state)
{
    (void)state;
    char out[8192];
    const char *db = "registry.db";
    assert_int_equal(run(out, sizeof out, "cd %s && %s init --db %s/%s", root, bin, tmp, db), 0);
    const char *kinds[] = {"orgs", "programmes", "participants", "pairs", "figures"};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(run(out, sizeof out, "%s import %s %s/docs/samples/%s.csv --db %s/%s", bin,
                             kinds[i], root, kinds[i], tmp, db),
                         0);
        assert_non_null(strstr(out, "added or changed"));
    }
    /* Again: nothing changes. */
    assert_int_equal(run(out, sizeof out,
                         "%s import participants %s/docs/samples/participants.csv --db %s/%s", bin,
                         root, tmp, db),
                     0);
    assert_non_null(strstr(out, "20 rows (UTF-8, ';'): 0 added or changed, 20 unchanged"));

    assert_int_equal(run(out, sizeof out,
                         "%s campaign open c1 --survey mentee-final --org demo-mun-1 --period "
                         "2026/27 --wave итоговое --role наставляемый --opens 2026-01-01 "
                         "--closes 2099-01-01 --db %s/%s",
                         bin, tmp, db),
                     0);
    assert_non_null(strstr(out, "c1 is open: 10 new invitations"));
    assert_int_equal(run(out, sizeof out, "%s campaign open c1 --db %s/%s", bin, tmp, db), 0);
    assert_non_null(strstr(out, "c1 is open: 0 new invitations"));

    char csv[600];
    snprintf(csv, sizeof csv, "%s/links.csv", tmp);
    assert_int_equal(run(out, sizeof out,
                         "%s links c1 --base https://anketa.example.ru/ --org demo-sch-2 --out %s "
                         "--web %s/web --db %s/%s",
                         bin, csv, root, tmp, db),
                     0);
    FILE *f = fopen(csv, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    fclose(f);
    assert_memory_equal(out, "\xEF\xBB\xBF\xD0\x9A\xD0\xBE\xD0\xB4", 9); /* BOM, "Код" */
    int lines = 0;
    for (char *p = out; (p = strstr(p, "https://anketa.example.ru/s/")) != NULL; p++)
        lines++;
    assert_int_equal(lines, 4); /* the four mentees of demo-sch-2 */

    assert_int_equal(
        run(out, sizeof out, "%s campaign status c1 --pending --db %s/%s", bin, tmp, db), 0);
    assert_non_null(strstr(out, "c1 (mentee-final, open): invited 10, started 0, completed 0"));
    assert_non_null(strstr(out, "  DEMO-0004  demo-sch-1"));

    assert_int_equal(
        run(out, sizeof out, "%s participant erase DEMO-0004 --db %s/%s", bin, tmp, db), 0);
    assert_int_equal(
        run(out, sizeof out, "%s campaign status c1 --pending --db %s/%s", bin, tmp, db), 0);
    assert_null(strstr(out, "DEMO-0004"));
    assert_non_null(strstr(out, "invited 9"));

    /* A broken row: located, and nothing kept. */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/bad.csv", tmp);
    f = fopen(bad, "w");
    assert_non_null(f);
    fputs("Код;Организация;Роль;Категория;Год рождения\nN1;demo-sch-1;наставляемый;обучающийся;"
          "2013\nN2;demo-sch-9;наставляемый;обучающийся;2013\n",
          f);
    fclose(f);
    assert_int_equal(
        run(out, sizeof out, "%s import participants %s --db %s/%s", bin, bad, tmp, db), 1);
    char expected[700];
    snprintf(expected, sizeof expected, "%s:3: unknown organisation \"demo-sch-9\"", bad);
    assert_non_null(strstr(out, expected));
    assert_non_null(strstr(out, "nothing was imported"));
    char q[256];
    assert_int_equal(run(q, sizeof q,
                         "sqlite3 %s/%s \"SELECT count(*) FROM participants WHERE "
                         "code = 'N1'\"",
                         tmp, db),
                     0);
    assert_string_equal(q, "0\n");

    /* Names are kept only when the deployment's configuration says so. */
    char named[600], conf[600];
    snprintf(named, sizeof named, "%s/named.csv", tmp);
    f = fopen(named, "w");
    assert_non_null(f);
    fputs("Код;Организация;Роль;Категория;Год рождения;ФИО\n"
          "N7;demo-sch-1;наставляемый;обучающийся;2013;Петров Иван\n",
          f);
    fclose(f);
    snprintf(conf, sizeof conf, "%s/none.conf", tmp);
    assert_int_equal(run(out, sizeof out, "%s import participants %s --db %s/%s --config %s", bin,
                         named, tmp, db, "/nonexistent.conf"),
                     1);
    f = fopen(conf, "w");
    assert_non_null(f);
    fputs("store_names = no\n", f);
    fclose(f);
    assert_int_equal(run(out, sizeof out, "%s import participants %s --db %s/%s --config %s", bin,
                         named, tmp, db, conf),
                     0);
    assert_non_null(strstr(out, "names were not stored"));
    const char *name_sql = "sqlite3 %s/%s \"SELECT coalesce(name, '-') FROM participants WHERE "
                           "code = 'N7'\"";
    assert_int_equal(run(q, sizeof q, name_sql, tmp, db), 0);
    assert_string_equal(q, "-\n");
    f = fopen(conf, "w");
    assert_non_null(f);
    fputs("store_names = yes\n", f);
    fclose(f);
    assert_int_equal(run(out, sizeof out, "%s import participants %s --db %s/%s --config %s", bin,
                         named, tmp, db, conf),
                     0);
    assert_int_equal(run(q, sizeof q, name_sql, tmp, db), 0);
    assert_string_equal(q, "Петров Иван\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_shipped_surveys),
        cmocka_unit_test(test_check_broken_file_is_located),
        cmocka_unit_test(test_help_for_every_command),
        cmocka_unit_test(test_demo_is_created_once),
        cmocka_unit_test(test_registry_commands),
    };
    return cmocka_run_group_tests_name("integration: command line", tests, setup, teardown);
}
