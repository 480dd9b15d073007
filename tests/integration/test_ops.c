/*
 * Integration tests of the operations commands against a serving anketa: an online backup
 * taken while answers keep coming has every answer it should, a restore brings them back,
 * and doctor reports a healthy installation as healthy and a broken one as broken.
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

static struct harness h;
static char bin[1200];

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *b = getenv("ANKETA_BIN"), *root = getenv("ANKETA_ROOT");
    if (!b || !root)
        return -1;
    if (b[0] == '/')
        snprintf(bin, sizeof bin, "%s", b);
    else
        snprintf(bin, sizeof bin, "%s/%s", root, b);
    return harness_start(&h, "1m", "1m");
}

static int teardown(void **state)
{
    (void)state;
    int rc = h.anketa > 0 ? harness_stop(&h) : 0;
    if (rc == 0)
        harness_cleanup(&h);
    curl_global_cleanup();
    return rc == 0 ? 0 : -1;
}

static int sh(char *out, size_t size, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return harness_run(cmd, out, size);
}

/* A digest of every stored answer, to compare two databases. */
static void answers_digest(const char *db, char *out, size_t size)
{
    assert_int_equal(sh(out, size,
                        "sqlite3 %s \"SELECT r.invitation_id, a.question_id, a.value FROM answers "
                        "a JOIN responses r ON r.id = a.response_id ORDER BY 1, 2\" | sha256sum",
                        db),
                     0);
}

static void test_backup_while_serving_and_restore(void **state)
{
    (void)state;
    char out[4096], backup[600], digest[256], digest2[256];
    /* A few stored responses first, through the real server. */
    for (int i = 0; i < 3; i++) {
        char token[23];
        assert_int_equal(harness_invite(&h, "mentee-final", token), 0);
        assert_int_equal(sh(out, sizeof out,
                            "sqlite3 %s \"INSERT INTO responses(invitation_id, survey_id, "
                            "survey_version, survey_hash, submitted_at) SELECT id, survey_id, 1, "
                            "'h', '2026-11-23T00:00:00Z' FROM invitations WHERE token = '%s'; "
                            "INSERT INTO answers VALUES (last_insert_rowid(), 'q%d', 'ответ %d')\"",
                            h.db, token, i, i),
                         0);
    }
    snprintf(backup, sizeof backup, "%s/backup.db", h.dir);
    assert_int_equal(sh(out, sizeof out, "%s backup %s --db %s", bin, backup, h.db), 0);
    assert_non_null(strstr(out, "copied into"));
    /* The backup is a self-contained, sound database with the same answers. */
    assert_int_equal(
        sh(out, sizeof out, "sqlite3 %s 'PRAGMA integrity_check; PRAGMA journal_mode'", backup), 0);
    assert_string_equal(out, "ok\ndelete\n");
    answers_digest(h.db, digest, sizeof digest);
    answers_digest(backup, digest2, sizeof digest2);
    assert_string_equal(digest, digest2);
    /* A second backup to the same file is refused rather than overwriting it. */
    assert_int_equal(sh(out, sizeof out, "%s backup %s --db %s", bin, backup, h.db), 1);
    assert_non_null(strstr(out, "exists already"));

    /* Restore into a new database gives back the same answers. */
    char fresh[600];
    snprintf(fresh, sizeof fresh, "%s/restored.db", h.dir);
    assert_int_equal(sh(out, sizeof out, "%s init --db %s", bin, fresh), 0);
    assert_int_equal(sh(out, sizeof out, "%s restore %s --db %s", bin, backup, fresh), 0);
    answers_digest(fresh, digest2, sizeof digest2);
    assert_string_equal(digest, digest2);
    /* Something that is not an anketa database is refused. */
    char junk[600];
    snprintf(junk, sizeof junk, "%s/junk.db", h.dir);
    assert_int_equal(sh(out, sizeof out, "sqlite3 %s 'CREATE TABLE t(x)'", junk), 0);
    assert_int_equal(sh(out, sizeof out, "%s restore %s --db %s", bin, junk, fresh), 1);
    assert_non_null(strstr(out, "not an anketa database"));
}

static void test_doctor(void **state)
{
    (void)state;
    char conf[600], out[8192];
    snprintf(conf, sizeof conf, "%s/doctor.conf", h.dir);
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f, "socket = %s\ndb = %s\nsurveys = %s/surveys\nweb = %s/web\n", h.sock, h.db,
            getenv("ANKETA_ROOT"), getenv("ANKETA_ROOT"));
    fclose(f);
    assert_int_equal(sh(out, sizeof out, "%s doctor --config %s --nginx-user root", bin, conf), 0);
    assert_non_null(strstr(out, "ok    anketa answers on its socket"));
    assert_non_null(strstr(out, "ok    the database passes SQLite's integrity check"));
    assert_non_null(strstr(out, "nothing to fix"));

    /* A world-readable database and a socket nobody answers on are both reported. */
    f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f, "socket = %s/nobody.sock\ndb = %s\nsurveys = %s/surveys\nweb = %s/web\n", h.dir,
            h.db, getenv("ANKETA_ROOT"), getenv("ANKETA_ROOT"));
    fclose(f);
    assert_int_equal(sh(out, sizeof out, "chmod 0644 %s", h.db), 0);
    assert_int_equal(sh(out, sizeof out, "%s doctor --config %s --nginx-user root", bin, conf), 1);
    assert_non_null(strstr(out, "FIX   the database can be read by every user of the machine"));
    assert_non_null(strstr(out, "FIX   the socket does not exist"));
    assert_non_null(strstr(out, "2 problems to fix"));
    assert_int_equal(sh(out, sizeof out, "chmod 0600 %s", h.db), 0);

    /* The plugins load as for serve (questionnaires may use their types); a plugin left out
     * is a note, an option no plugin reads is a problem. */
    f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f,
            "socket = %s\ndb = %s\nsurveys = %s/tests/data/surveys/plugins\nweb = %s/web\n"
            "plugin_dir = %s/build/asan/plugins\nplugin.template.greting = x\n",
            h.sock, h.db, getenv("ANKETA_ROOT"), getenv("ANKETA_ROOT"), getenv("ANKETA_ROOT"));
    fclose(f);
    assert_int_equal(sh(out, sizeof out, "%s doctor --config %s --nginx-user root", bin, conf), 1);
    assert_non_null(strstr(out, "plugins loaded from "));
    assert_non_null(strstr(out, "dictionary 1.0, "));
    assert_non_null(strstr(out, "note  plugin left out: "));
    assert_non_null(strstr(out, "jsonl: init failed: set plugin.jsonl.path"));
    assert_non_null(strstr(out, "unknown key \"plugin.template.greting\" (plugin template reads "
                                "only: greeting)"));
    assert_non_null(strstr(out, "ok    1 questionnaires, the templates and the words load"));
    assert_non_null(strstr(out, "1 problem to fix"));

    /* A broken configuration line is located. */
    f = fopen(conf, "w");
    assert_non_null(f);
    fputs("workers = many\n", f);
    fclose(f);
    assert_int_equal(sh(out, sizeof out, "%s doctor --config %s", bin, conf), 1);
    char expected[700];
    snprintf(expected, sizeof expected, "%s:1:", conf);
    assert_non_null(strstr(out, expected));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backup_while_serving_and_restore),
        cmocka_unit_test(test_doctor),
    };
    return cmocka_run_group_tests_name("integration: backup, restore, doctor", tests, setup,
                                       teardown);
}
