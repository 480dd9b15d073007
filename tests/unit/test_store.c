/*
 * Tests of store against real SQLite files in a temporary directory; the state is checked
 * through a separate, direct sqlite3 connection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "arena.h"
#include "crypto.h"
#include "err.h"
#include "response.h"
#include "store.h"
#include "survey.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TEST_HASH "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct fixture {
    char dir[64];
    char path[128];
    struct store *s;
    struct arena *a;
};

/* The registry writes with the few fields these tests vary; consent is recorded. */
static int put_org(struct store *s, const char *parent, const char *level, const char *code,
                   const char *name, struct err *e)
{
    struct org_rec o = {.code = code, .parent_code = parent, .level = level, .name = name};
    return store_put_org(s, &o, NULL, e);
}

static int put_programme(struct store *s, const char *org, const char *code, const char *form,
                         const char *title, int year, struct err *e)
{
    return store_put_programme(s, org, code, form, title, year, NULL, e);
}

static int put_participant(struct store *s, const char *code, const char *org,
                           const char *programme, const char *role, const char *kind,
                           int birth_year, struct err *e)
{
    struct participant_rec p = {.code = code,
                                .org_code = org,
                                .programme_code = programme,
                                .role = role,
                                .kind = kind,
                                .birth_year = birth_year,
                                .experience_years = -1,
                                .consent_date = "2026-09-01"};
    return store_put_participant(s, &p, NULL, e);
}

static struct question test_questions[] = {
    {.id = "q1", .type = Q_YESNO},
    {.id = "q2", .type = Q_SCALE, .min = 1, .max = 10},
    {.id = "q3", .type = Q_TEXT, .max_length = 2000},
};

static struct survey test_survey = {
    .id = "mentee-final",
    .version = 3,
    .questions = test_questions,
    .nquestions = 3,
    .hash = TEST_HASH,
};

static struct answer test_answers[] = {
    {.q = &test_questions[0], .value = "yes"},
    {.q = &test_questions[1], .value = "7"},
    {.q = &test_questions[2], .value = "Всё понравилось"},
};

static const struct response test_response = {
    .survey = &test_survey,
    .answers = test_answers,
    .nanswers = 3,
};

/* Two answers to q1: the second breaks the primary key of answers. */
static struct answer twice_answers[] = {
    {.q = &test_questions[0], .value = "yes"},
    {.q = &test_questions[0], .value = "no"},
};

static const struct response twice_response = {
    .survey = &test_survey,
    .answers = twice_answers,
    .nanswers = 2,
};

static const struct store_options migrate_opt = {.migrate = 1};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/anketa-store-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/anketa.db", f->dir);
    f->a = arena_new();
    *state = f;
    return f->a ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->s);
    arena_free(f->a);
    const char *suffixes[] = {"", "-wal", "-shm", "-journal", ".2"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char p[160];
        snprintf(p, sizeof p, "%s%s", f->path, suffixes[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Opens f->path with migrate and fills a small registry: org m1 in region r1, programme pr1,
 * participant p1. */
static void open_with_registry(struct fixture *f)
{
    struct err e = {0};
    assert_int_equal(store_open(f->path, &migrate_opt, &f->s, &e), STORE_OK);
    assert_int_equal(put_org(f->s, NULL, "region", "r1", "Region", &e), STORE_OK);
    assert_int_equal(put_org(f->s, "r1", "organisation", "m1", "School 1", &e), STORE_OK);
    assert_int_equal(put_programme(f->s, "m1", "pr1", "pupil-pupil", "Peers", 2025, &e), STORE_OK);
    assert_int_equal(put_participant(f->s, "p1", "m1", "pr1", "mentee", "pupil", 2010, &e),
                     STORE_OK);
}

/* A new invitation for p1, looked up again so its id is known. */
static void new_invitation(struct fixture *f, const char *survey_id, struct invitation *inv)
{
    struct err e = {0};
    char token[CRYPTO_TOKEN_LEN + 1];
    assert_int_equal(store_put_invitation(f->s, "p1", survey_id, token, &e), STORE_OK);
    assert_int_equal(store_invitation_by_token(f->s, f->a, token, inv, &e), STORE_OK);
}

static sqlite3 *direct_open(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

/* The integer in the first column of the first row of sql, run on a direct connection. */
static long long direct_int(const char *path, const char *sql)
{
    sqlite3 *db = direct_open(path);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    return v;
}

/* The first column of the first row as text (copied into out), "(null)" for NULL. */
static void direct_text(const char *path, const char *sql, char *out, size_t size)
{
    sqlite3 *db = direct_open(path);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    const unsigned char *t = sqlite3_column_text(st, 0);
    snprintf(out, size, "%s", t ? (const char *)t : "(null)");
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* Runs sql on a direct connection and returns its extended result code. */
static int direct_exec(const char *path, const char *sql)
{
    sqlite3 *db = direct_open(path);
    sqlite3_extended_result_codes(db, 1);
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    return rc;
}

static void test_migrate_creates_schema(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    assert_int_equal(store_open(f->path, &migrate_opt, &f->s, &e), STORE_OK);
    assert_int_equal(store_schema_version(f->s), store_schema_latest());
    assert_true(store_schema_latest() >= 1);
    assert_int_equal(direct_int(f->path, "PRAGMA user_version"), store_schema_latest());
    char names[512];
    direct_text(f->path,
                "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema "
                "WHERE type = 'table' ORDER BY name)",
                names, sizeof names);
    assert_string_equal(names, "answers,audit,campaign_counts,campaigns,drafts,figures,"
                               "indicator_runs,"
                               "indicator_scores,indicator_values,invitations,meta,org_counts,"
                               "orgs,pairs,"
                               "participants,programmes,response_scores,responses,sessions,"
                               "survey_versions,users");
    assert_int_equal(direct_int(f->path, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' "
                                         "AND name IN ('invitations_survey', 'responses_survey')"),
                     2);
    char sql[512];
    direct_text(f->path, "SELECT sql FROM sqlite_schema WHERE name = 'answers'", sql, sizeof sql);
    assert_non_null(strstr(sql, "WITHOUT ROWID"));
    assert_non_null(strstr(sql, "ON DELETE CASCADE"));
}

/* A database of schema 1 with answers in it is copied, then upgraded: migrations 2 and 3
 * fill campaign_counts and org_counts from what is there. */
static void test_upgrade_from_schema_1(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    assert_int_equal(store_open(f->path, &migrate_opt, &f->s, &e), STORE_OK);
    store_close(f->s);
    f->s = NULL;
    assert_int_equal(
        direct_exec(
            f->path,
            "INSERT INTO orgs(id, level, code, name) VALUES (1, 'region', 'r', 'R'),"
            " (2, 'organisation', 's', 'S');"
            "UPDATE orgs SET parent_id = 1 WHERE id = 2;"
            "INSERT INTO participants(id, code, org_id, role, kind) VALUES"
            " (1, 'p1', 2, 'mentee', 'pupil'), (2, 'p2', 2, 'mentee', 'pupil'),"
            " (3, 'p3', 2, 'mentee', 'pupil');"
            "INSERT INTO campaigns(id, code, survey_id, org_id, period, wave, opens, closes,"
            " status, created_at) VALUES (1, 'c', 's', 1, '2026/27', 'final', 'a', 'b',"
            " 'open', 'x');"
            "INSERT INTO invitations(id, token, participant_id, campaign_id, survey_id,"
            " created_at, revoked_at) VALUES (1, 't1', 1, 1, 's', 'x', NULL),"
            " (2, 't2', 2, 1, 's', 'x', NULL), (3, 't3', 3, 1, 's', 'x', 'y');"
            "INSERT INTO drafts VALUES (2, 1, '{}', 'x');"
            "INSERT INTO responses(invitation_id, survey_id, survey_version, survey_hash,"
            " submitted_at) VALUES (1, 's', 1, 'h', 'x');"
            /* Back to schema 1: migration 2's table and triggers gone. */
            "DROP TABLE campaign_counts;"
            "DROP TRIGGER counts_invite; DROP TRIGGER counts_revoke;"
            "DROP TRIGGER counts_uninvite; DROP TRIGGER counts_respond;"
            "DROP TRIGGER counts_unrespond; DROP TRIGGER counts_draft;"
            "DROP TRIGGER counts_undraft; DROP TRIGGER counts_move;"
            /* and migration 3's */
            "DROP TABLE org_counts; DROP TRIGGER orgc_person_in; DROP TRIGGER orgc_person_out;"
            "DROP TRIGGER orgc_person_was; DROP TRIGGER orgc_person_is;"
            "DROP TRIGGER orgc_programme_in; DROP TRIGGER orgc_programme_out;"
            "DROP TRIGGER orgc_programme_was; DROP TRIGGER orgc_programme_is;"
            "DROP TRIGGER orgc_pair_in; DROP TRIGGER orgc_pair_out;"
            "DROP TRIGGER orgc_pair_was; DROP TRIGGER orgc_pair_is;"
            /* and migration 4's */
            "DROP INDEX invitations_token_hash; ALTER TABLE invitations DROP COLUMN token_hash;"
            "PRAGMA user_version = 1;"),
        SQLITE_OK);
    assert_int_equal(direct_int(f->path, "SELECT count(*) FROM sqlite_schema WHERE "
                                         "name LIKE 'counts\\_%' ESCAPE '\\'"),
                     0);
    assert_int_equal(store_open(f->path, &migrate_opt, &f->s, &e), STORE_OK);
    assert_int_equal(store_schema_version(f->s), store_schema_latest());
    char counts[64];
    direct_text(f->path,
                "SELECT invited || '/' || started || '/' || completed FROM campaign_counts", counts,
                sizeof counts);
    assert_string_equal(counts, "2/1/1"); /* t3 is revoked; t2 started; t1 answered */
    direct_text(f->path, "SELECT group_concat(mentees, ',') FROM org_counts ORDER BY org_id",
                counts, sizeof counts);
    assert_string_equal(counts, "0,3");
    /* The links are found by their token's hash, which migration 4 gave them. */
    assert_int_equal(direct_int(f->path, "SELECT count(*) FROM invitations WHERE token_hash IS "
                                         "NULL OR length(token_hash) <> 64"),
                     0);
    struct arena *a = arena_new();
    struct invitation inv;
    assert_int_equal(store_invitation_by_token(f->s, a, "t2", &inv, &e), STORE_OK);
    assert_int_equal(inv.id, 2);
    assert_int_equal(store_invitation_by_token(f->s, a, "t4", &inv, &e), STORE_NOT_FOUND);
    /* A link another tool wrote with SQL, without its hash, gets it at the next start. */
    store_close(f->s);
    f->s = NULL;
    assert_int_equal(direct_exec(f->path, "INSERT INTO invitations(id, token, participant_id,"
                                          " survey_id, created_at) VALUES (4, 't4', 1, 's', 'x')"),
                     SQLITE_OK);
    assert_int_equal(store_open(f->path, &migrate_opt, &f->s, &e), STORE_OK);
    assert_int_equal(store_invitation_by_token(f->s, a, "t4", &inv, &e), STORE_OK);
    assert_int_equal(inv.id, 4);
    arena_free(a);
    /* The copy made before the upgrade is the schema-1 database, whole. */
    char pattern[200], found[400] = "";
    snprintf(pattern, sizeof pattern, "ls %s/*.before-schema-%d-*.bak 2>/dev/null", f->dir,
             store_schema_latest());
    FILE *ls = popen(pattern, "r");
    assert_non_null(ls);
    assert_non_null(fgets(found, sizeof found, ls));
    pclose(ls);
    found[strcspn(found, "\n")] = '\0';
    assert_int_equal(direct_int(found, "PRAGMA user_version"), 1);
    assert_int_equal(direct_int(found, "SELECT count(*) FROM responses"), 1);
    /* From here on the triggers keep the counts. */
    assert_int_equal(direct_exec(f->path, "DELETE FROM drafts WHERE invitation_id = 2;"
                                          "INSERT INTO responses(invitation_id, survey_id,"
                                          " survey_version, survey_hash, submitted_at)"
                                          " VALUES (2, 's', 1, 'h', 'x');"),
                     SQLITE_OK);
    direct_text(f->path,
                "SELECT invited || '/' || started || '/' || completed FROM campaign_counts", counts,
                sizeof counts);
    assert_string_equal(counts, "2/0/2");
    unlink(found);
}

static void test_reopen_without_migrate(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    assert_int_equal(store_open(f->path, &migrate_opt, &f->s, &e), STORE_OK);
    store_close(f->s);
    f->s = NULL;
    const struct store_options plain = {0};
    assert_int_equal(store_open(f->path, &plain, &f->s, &e), STORE_OK);
    assert_int_equal(store_schema_version(f->s), store_schema_latest());
    store_close(f->s);
    f->s = NULL;
    assert_int_equal(store_open(f->path, NULL, &f->s, &e), STORE_OK);
    struct store_settings set;
    assert_int_equal(store_settings(f->s, &set, &e), STORE_OK);
    assert_int_equal(set.synchronous, 2);
    assert_int_equal(set.busy_timeout_ms, 5000);
}

static void test_open_missing_without_migrate(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    assert_int_equal(store_open(f->path, NULL, &f->s, &e), STORE_ERROR);
    assert_null(f->s);
    assert_string_equal(e.file, f->path);
    assert_string_equal(e.msg, "store: open: no such database: run `anketa init` to create it");
    assert_int_equal(access(f->path, F_OK), -1);
}

static void test_open_empty_without_migrate(void **state)
{
    struct fixture *f = *state;
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    fclose(fp);
    struct err e = {0};
    const struct store_options plain = {0};
    assert_int_equal(store_open(f->path, &plain, &f->s, &e), STORE_ERROR);
    assert_null(f->s);
    assert_string_equal(e.file, f->path);
    char want[128];
    snprintf(want, sizeof want,
             "store: schema version 0 is older than this build's %d: run `anketa init`",
             store_schema_latest());
    assert_string_equal(e.msg, want);
}

static void test_newer_database_refused(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    assert_int_equal(store_open(f->path, &migrate_opt, &f->s, &e), STORE_OK);
    store_close(f->s);
    f->s = NULL;
    int newer = store_schema_latest() + 1;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", newer);
    assert_int_equal(direct_exec(f->path, sql), SQLITE_OK);
    char want[160];
    snprintf(want, sizeof want,
             "store: schema version %d was written by a newer anketa (this build knows up to %d)",
             newer, store_schema_latest());

    assert_int_equal(store_open(f->path, NULL, &f->s, &e), STORE_ERROR);
    assert_null(f->s);
    assert_string_equal(e.file, f->path);
    assert_string_equal(e.msg, want);

    memset(&e, 0, sizeof e);
    assert_int_equal(store_open(f->path, &migrate_opt, &f->s, &e), STORE_ERROR);
    assert_null(f->s);
    assert_string_equal(e.msg, want);
    assert_int_equal(direct_int(f->path, "PRAGMA user_version"), newer);
}

static void test_pragmas(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    struct store_settings set;
    assert_int_equal(store_open(f->path, &migrate_opt, &f->s, &e), STORE_OK);
    assert_int_equal(store_settings(f->s, &set, &e), STORE_OK);
    assert_string_equal(set.journal_mode, "wal");
    assert_int_equal(set.synchronous, 2);
    assert_int_equal(set.foreign_keys, 1);
    assert_int_equal(set.busy_timeout_ms, 5000);
    store_close(f->s);
    f->s = NULL;

    const struct store_options normal = {.synchronous = "NORMAL", .busy_timeout_ms = 1234};
    assert_int_equal(store_open(f->path, &normal, &f->s, &e), STORE_OK);
    assert_int_equal(store_settings(f->s, &set, &e), STORE_OK);
    assert_string_equal(set.journal_mode, "wal");
    assert_int_equal(set.synchronous, 1);
    assert_int_equal(set.foreign_keys, 1);
    assert_int_equal(set.busy_timeout_ms, 1234);
    store_close(f->s);
    f->s = NULL;

    const struct store_options full = {.synchronous = "FULL"};
    assert_int_equal(store_open(f->path, &full, &f->s, &e), STORE_OK);
    assert_int_equal(store_settings(f->s, &set, &e), STORE_OK);
    assert_int_equal(set.synchronous, 2);
    store_close(f->s);
    f->s = NULL;

    char mode[16];
    direct_text(f->path, "PRAGMA journal_mode", mode, sizeof mode);
    assert_string_equal(mode, "wal");

    const struct store_options off = {.synchronous = "OFF"};
    assert_int_equal(store_open(f->path, &off, &f->s, &e), STORE_ERROR);
    assert_null(f->s);
    assert_string_equal(e.file, f->path);
    assert_string_equal(e.msg, "store: synchronous must be FULL or NORMAL, not \"OFF\"");
}

static void test_secret(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    unsigned char k1[32], k2[32], k3[32];
    assert_int_equal(store_open(f->path, &migrate_opt, &f->s, &e), STORE_OK);
    assert_int_equal(store_secret(f->s, k1, &e), STORE_OK);
    assert_int_equal(direct_int(f->path, "SELECT length(value) FROM meta WHERE key = 'secret'"),
                     32);
    assert_int_equal(
        direct_int(f->path, "SELECT typeof(value) = 'blob' FROM meta WHERE key = 'secret'"), 1);
    store_close(f->s);
    f->s = NULL;

    assert_int_equal(store_open(f->path, NULL, &f->s, &e), STORE_OK);
    assert_int_equal(store_secret(f->s, k2, &e), STORE_OK);
    assert_memory_equal(k1, k2, 32);
    store_close(f->s);
    f->s = NULL;

    char other[160];
    snprintf(other, sizeof other, "%s.2", f->path);
    struct store *s2 = NULL;
    assert_int_equal(store_open(other, &migrate_opt, &s2, &e), STORE_OK);
    assert_int_equal(store_secret(s2, k3, &e), STORE_OK);
    store_close(s2);
    assert_memory_not_equal(k1, k3, 32);
    char p[176];
    snprintf(p, sizeof p, "%s-wal", other);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", other);
    unlink(p);
}

static void test_secret_missing(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    unsigned char k[32];
    assert_int_equal(store_open(f->path, &migrate_opt, &f->s, &e), STORE_OK);
    assert_int_equal(direct_exec(f->path, "DELETE FROM meta"), SQLITE_OK);
    assert_int_equal(store_secret(f->s, k, &e), STORE_ERROR);
    assert_string_equal(e.msg, "store: read secret: missing from meta");
}

static void test_orgs(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    assert_int_equal(store_open(f->path, &migrate_opt, &f->s, &e), STORE_OK);
    assert_int_equal(put_org(f->s, NULL, "region", "r1", "Region", &e), STORE_OK);
    assert_int_equal(put_org(f->s, "r1", "municipality", "m1", "Town", &e), STORE_OK);
    assert_int_equal(put_org(f->s, "r1", "municipality", "m1", "Town 2", &e), STORE_OK);
    assert_int_equal(direct_int(f->path, "SELECT count(*) FROM orgs"), 2);
    char name[64];
    direct_text(f->path, "SELECT name FROM orgs WHERE code = 'm1'", name, sizeof name);
    assert_string_equal(name, "Town 2");
    assert_int_equal(direct_int(f->path, "SELECT parent_id = (SELECT id FROM orgs WHERE code = "
                                         "'r1') FROM orgs WHERE code = 'm1'"),
                     1);
    assert_int_equal(direct_int(f->path, "SELECT parent_id IS NULL FROM orgs WHERE code = 'r1'"),
                     1);

    assert_int_equal(put_org(f->s, "nope", "organisation", "o1", "School", &e), STORE_NOT_FOUND);
    assert_string_equal(e.file, f->path);
    assert_string_equal(e.msg, "unknown parent organisation \"nope\"");
    assert_int_equal(direct_int(f->path, "SELECT count(*) FROM orgs"), 2);

    assert_int_equal(put_org(f->s, NULL, "planet", "x1", "Earth", &e), STORE_ERROR);
    assert_string_equal(e.msg, "store: put organisation x1: CHECK constraint failed: level IN "
                               "('region', 'municipality', 'organisation')");

    assert_int_equal(store_org_exists(f->s, "m1", &e), STORE_OK);
    assert_int_equal(store_org_exists(f->s, "o1", &e), STORE_NOT_FOUND);
}

static void test_programmes_and_participants(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    open_with_registry(f);
    assert_int_equal(put_programme(f->s, "m1", "pr1", "pupil-pupil", "Peers 2", 2026, &e),
                     STORE_OK);
    assert_int_equal(direct_int(f->path, "SELECT count(*) FROM programmes"), 1);
    char title[64];
    direct_text(f->path, "SELECT title || '/' || year FROM programmes", title, sizeof title);
    assert_string_equal(title, "Peers 2/2026");
    assert_int_equal(put_programme(f->s, "zz", "pr2", "f", "T", 2025, &e), STORE_NOT_FOUND);
    assert_string_equal(e.msg, "unknown organisation \"zz\"");

    assert_int_equal(direct_int(f->path, "SELECT birth_year FROM participants"), 2010);
    assert_int_equal(direct_int(f->path, "SELECT programme_id = (SELECT id FROM programmes) "
                                         "FROM participants"),
                     1);
    assert_int_equal(put_participant(f->s, "p1", "m1", NULL, "mentor", "teacher", 0, &e), STORE_OK);
    assert_int_equal(direct_int(f->path, "SELECT count(*) FROM participants"), 1);
    assert_int_equal(direct_int(f->path, "SELECT birth_year IS NULL AND programme_id IS NULL "
                                         "AND role = 'mentor' AND kind = 'teacher' "
                                         "FROM participants"),
                     1);

    assert_int_equal(put_participant(f->s, "p2", "zz", "pr1", "mentee", "pupil", 0, &e),
                     STORE_NOT_FOUND);
    assert_string_equal(e.msg, "unknown organisation \"zz\"");
    assert_int_equal(put_participant(f->s, "p2", "m1", "zz", "mentee", "pupil", 0, &e),
                     STORE_NOT_FOUND);
    assert_string_equal(e.msg, "unknown programme \"zz\"");
    assert_int_equal(put_participant(f->s, "p2", "m1", NULL, "boss", "pupil", 0, &e), STORE_ERROR);
    assert_non_null(strstr(e.msg, "store: put participant p2: CHECK constraint failed"));
    assert_int_equal(direct_int(f->path, "SELECT count(*) FROM participants"), 1);
}

static void test_invitations(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    open_with_registry(f);
    char token[CRYPTO_TOKEN_LEN + 1];
    assert_int_equal(store_put_invitation(f->s, "p1", "mentee-final", token, &e), STORE_OK);
    assert_int_equal(strlen(token), CRYPTO_TOKEN_LEN);
    assert_true(crypto_token_valid(token));
    assert_int_equal(direct_int(f->path,
                                "SELECT created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"
                                "T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z' FROM invitations"),
                     1);

    struct invitation inv;
    assert_int_equal(store_invitation_by_token(f->s, f->a, token, &inv, &e), STORE_OK);
    assert_int_equal(inv.id, direct_int(f->path, "SELECT id FROM invitations"));
    assert_string_equal(inv.token, token);
    assert_ptr_not_equal(inv.token, token);
    assert_string_equal(inv.survey_id, "mentee-final");
    assert_int_equal(inv.participant_id, direct_int(f->path, "SELECT id FROM participants"));
    assert_int_equal(inv.answered, 0);
    assert_int_equal(inv.revoked, 0);

    char other[CRYPTO_TOKEN_LEN + 1];
    crypto_token(other);
    assert_int_equal(store_invitation_by_token(f->s, f->a, other, &inv, &e), STORE_NOT_FOUND);

    char again[CRYPTO_TOKEN_LEN + 1];
    assert_int_equal(store_put_invitation(f->s, "p1", "mentee-final", again, &e), STORE_OK);
    assert_string_not_equal(again, token);

    strcpy(other, "unchanged");
    assert_int_equal(store_put_invitation(f->s, "zz", "mentee-final", other, &e), STORE_NOT_FOUND);
    assert_string_equal(e.msg, "unknown participant \"zz\"");
    assert_string_equal(other, "unchanged");
    assert_int_equal(direct_int(f->path, "SELECT count(*) FROM invitations"), 2);
}

static void test_invitation_answered_and_revoked(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    open_with_registry(f);
    struct invitation inv, got;
    new_invitation(f, "mentee-final", &inv);
    assert_int_equal(store_put_response(f->s, &inv, &test_response, &e), STORE_OK);
    assert_int_equal(store_invitation_by_token(f->s, f->a, inv.token, &got, &e), STORE_OK);
    assert_int_equal(got.answered, 1);
    assert_int_equal(got.revoked, 0);

    struct invitation inv2;
    new_invitation(f, "mentee-final", &inv2);
    assert_int_equal(direct_exec(f->path, "UPDATE invitations SET revoked_at = "
                                          "'2026-01-01T00:00:00Z' WHERE id = (SELECT max(id) "
                                          "FROM invitations)"),
                     SQLITE_OK);
    assert_int_equal(store_invitation_by_token(f->s, f->a, inv2.token, &got, &e), STORE_OK);
    assert_int_equal(got.id, inv2.id);
    assert_int_equal(got.answered, 0);
    assert_int_equal(got.revoked, 1);
}

static void test_invitation_out_of_memory(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    open_with_registry(f);
    struct invitation inv;
    new_invitation(f, "mentee-final", &inv);
    const char *token = inv.token;
    arena_fail_after(1);
    assert_int_equal(store_invitation_by_token(f->s, f->a, token, &inv, &e), STORE_ERROR);
    arena_fail_after(0);
    assert_string_equal(e.msg, "store: look up invitation: out of memory");
    assert_int_equal(store_invitation_by_token(f->s, f->a, token, &inv, &e), STORE_OK);
}

static void test_put_response(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    open_with_registry(f);
    struct invitation inv;
    new_invitation(f, "mentee-final", &inv);
    assert_int_equal(store_put_response(f->s, &inv, &test_response, &e), STORE_OK);
    char row[256];
    direct_text(f->path,
                "SELECT invitation_id || '|' || survey_id || '|' || survey_version || '|' || "
                "survey_hash FROM responses",
                row, sizeof row);
    char want[256];
    snprintf(want, sizeof want, "%lld|mentee-final|3|%s", (long long)inv.id, TEST_HASH);
    assert_string_equal(row, want);
    assert_int_equal(direct_int(f->path, "SELECT typeof(survey_version) = 'integer' AND "
                                         "submitted_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-"
                                         "[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z' "
                                         "FROM responses"),
                     1);
    char answers[256];
    direct_text(f->path,
                "SELECT group_concat(question_id || '=' || value, ';') FROM (SELECT * FROM "
                "answers WHERE response_id = (SELECT id FROM responses) ORDER BY question_id)",
                answers, sizeof answers);
    assert_string_equal(answers, "q1=yes;q2=7;q3=Всё понравилось");
}

static void test_put_response_duplicate(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    open_with_registry(f);
    struct invitation inv;
    new_invitation(f, "mentee-final", &inv);
    assert_int_equal(store_put_response(f->s, &inv, &test_response, &e), STORE_OK);

    struct answer other_answers[] = {
        {.q = &test_questions[0], .value = "no"},
        {.q = &test_questions[1], .value = "1"},
    };
    const struct response other = {.survey = &test_survey, .answers = other_answers, .nanswers = 2};
    assert_int_equal(store_put_response(f->s, &inv, &other, &e), STORE_DUPLICATE);
    char want[128];
    snprintf(want, sizeof want, "store: insert response: invitation %lld already has a response",
             (long long)inv.id);
    assert_string_equal(e.msg, want);
    assert_int_equal(direct_int(f->path, "SELECT count(*) FROM responses"), 1);
    char answers[256];
    direct_text(f->path,
                "SELECT group_concat(question_id || '=' || value, ';') FROM (SELECT * FROM "
                "answers ORDER BY question_id)",
                answers, sizeof answers);
    assert_string_equal(answers, "q1=yes;q2=7;q3=Всё понравилось");

    /* The connection is not left inside a transaction: another write goes through. */
    struct invitation inv2;
    new_invitation(f, "mentee-final", &inv2);
    assert_int_equal(store_put_response(f->s, &inv2, &other, &e), STORE_OK);
    assert_int_equal(direct_int(f->path, "SELECT count(*) FROM responses"), 2);
}

static void test_unique_in_schema(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    open_with_registry(f);
    struct invitation inv;
    new_invitation(f, "mentee-final", &inv);
    assert_int_equal(store_put_response(f->s, &inv, &test_response, &e), STORE_OK);
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO responses(invitation_id, survey_id, survey_version, survey_hash, "
             "submitted_at) VALUES (%lld, 'mentee-final', 3, 'h', '2026-01-01T00:00:00Z')",
             (long long)inv.id);
    assert_int_equal(direct_exec(f->path, sql), SQLITE_CONSTRAINT_UNIQUE);
    assert_int_equal(direct_int(f->path, "SELECT count(*) FROM responses"), 1);
}

static void test_put_response_atomic(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    open_with_registry(f);
    struct invitation inv;
    new_invitation(f, "mentee-final", &inv);
    assert_int_equal(store_put_response(f->s, &inv, &twice_response, &e), STORE_ERROR);
    assert_string_equal(e.file, f->path);
    assert_string_equal(e.msg, "store: insert answer q1: UNIQUE constraint failed: "
                               "answers.response_id, answers.question_id");
    assert_int_equal(direct_int(f->path, "SELECT count(*) FROM responses"), 0);
    assert_int_equal(direct_int(f->path, "SELECT count(*) FROM answers"), 0);

    /* Nothing was kept: the same invitation can still be answered. */
    assert_int_equal(store_put_response(f->s, &inv, &test_response, &e), STORE_OK);
    assert_int_equal(direct_int(f->path, "SELECT count(*) FROM answers"), 3);
}

static void test_put_response_foreign_key(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    open_with_registry(f);
    struct invitation inv = {.id = 9999, .token = "x", .survey_id = "mentee-final"};
    assert_int_equal(store_put_response(f->s, &inv, &test_response, &e), STORE_ERROR);
    assert_string_equal(e.msg, "store: insert response: FOREIGN KEY constraint failed");
    assert_int_equal(direct_int(f->path, "SELECT count(*) FROM responses"), 0);
}

static void test_transactions(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    open_with_registry(f);

    assert_int_equal(store_begin(f->s, &e), STORE_OK);
    assert_int_equal(put_org(f->s, "r1", "organisation", "gone", "Gone", &e), STORE_OK);
    store_rollback(f->s);
    assert_int_equal(store_org_exists(f->s, "gone", &e), STORE_NOT_FOUND);
    store_rollback(f->s);

    /* Responses written inside a caller's transaction: a failure undoes only its own rows. */
    struct invitation inv, inv2;
    new_invitation(f, "mentee-final", &inv);
    new_invitation(f, "mentee-final", &inv2);
    assert_int_equal(store_begin(f->s, &e), STORE_OK);
    assert_int_equal(put_org(f->s, "r1", "organisation", "kept", "Kept", &e), STORE_OK);
    assert_int_equal(store_put_response(f->s, &inv, &test_response, &e), STORE_OK);
    assert_int_equal(store_put_response(f->s, &inv, &test_response, &e), STORE_DUPLICATE);
    assert_int_equal(store_put_response(f->s, &inv2, &twice_response, &e), STORE_ERROR);
    assert_int_equal(direct_int(f->path, "SELECT count(*) FROM responses"), 0);
    assert_int_equal(store_commit(f->s, &e), STORE_OK);
    assert_int_equal(store_org_exists(f->s, "kept", &e), STORE_OK);
    assert_int_equal(direct_int(f->path, "SELECT count(*) FROM responses"), 1);
    assert_int_equal(direct_int(f->path, "SELECT count(*) FROM answers"), 3);

    assert_int_equal(store_commit(f->s, &e), STORE_ERROR);
    assert_string_equal(e.msg, "store: commit: cannot commit - no transaction is active");
}

static void test_count_and_first(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    open_with_registry(f);
    long n = -1;
    assert_int_equal(store_count_responses(f->s, NULL, &n, &e), STORE_OK);
    assert_int_equal(n, 0);

    struct invitation a1, a2, b1, got;
    assert_int_equal(store_first_invitation(f->s, f->a, "mentee-final", 0, &got, &e),
                     STORE_NOT_FOUND);
    new_invitation(f, "mentee-final", &a1);
    new_invitation(f, "mentee-final", &a2);
    new_invitation(f, "mentor-final", &b1);
    assert_int_equal(store_first_invitation(f->s, f->a, "mentee-final", 0, &got, &e), STORE_OK);
    assert_int_equal(got.id, a1.id);
    assert_string_equal(got.token, a1.token);
    assert_int_equal(store_first_invitation(f->s, f->a, "mentee-final", 1, &got, &e),
                     STORE_NOT_FOUND);

    assert_int_equal(store_put_response(f->s, &a1, &test_response, &e), STORE_OK);
    assert_int_equal(store_first_invitation(f->s, f->a, "mentee-final", 0, &got, &e), STORE_OK);
    assert_int_equal(got.id, a2.id);
    assert_int_equal(got.answered, 0);
    assert_int_equal(store_first_invitation(f->s, f->a, "mentee-final", 1, &got, &e), STORE_OK);
    assert_int_equal(got.id, a1.id);
    assert_int_equal(got.answered, 1);
    assert_string_equal(got.survey_id, "mentee-final");

    struct survey mentor = test_survey;
    mentor.id = "mentor-final";
    const struct response mentor_response = {
        .survey = &mentor, .answers = test_answers, .nanswers = 1};
    assert_int_equal(store_put_response(f->s, &a2, &test_response, &e), STORE_OK);
    assert_int_equal(store_put_response(f->s, &b1, &mentor_response, &e), STORE_OK);
    assert_int_equal(store_count_responses(f->s, "mentee-final", &n, &e), STORE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(store_count_responses(f->s, "mentor-final", &n, &e), STORE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(store_count_responses(f->s, "nothing", &n, &e), STORE_OK);
    assert_int_equal(n, 0);
    assert_int_equal(store_count_responses(f->s, NULL, &n, &e), STORE_OK);
    assert_int_equal(n, 3);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

struct holder {
    struct store *s;
    int rc;
};

/* Holds the write lock of its connection for 300 ms, then commits. */
static void *hold_lock(void *arg)
{
    struct holder *h = arg;
    struct err e = {0};
    sleep_ms(300);
    h->rc = store_commit(h->s, &e);
    return NULL;
}

static void test_busy_timeout_waits(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    open_with_registry(f);
    struct invitation inv;
    new_invitation(f, "mentee-final", &inv);
    struct store *s2 = NULL;
    assert_int_equal(store_open(f->path, NULL, &s2, &e), STORE_OK);

    assert_int_equal(store_begin(f->s, &e), STORE_OK);
    assert_int_equal(put_org(f->s, "r1", "organisation", "held", "Held", &e), STORE_OK);
    struct holder h = {f->s, -5};
    pthread_t t;
    double start = now_ms();
    assert_int_equal(pthread_create(&t, NULL, hold_lock, &h), 0);
    int rc = store_put_response(s2, &inv, &test_response, &e);
    double waited = now_ms() - start;
    assert_int_equal(pthread_join(t, NULL), 0);
    store_close(s2);
    assert_int_equal(rc, STORE_OK);
    assert_int_equal(h.rc, STORE_OK);
    assert_true(waited >= 250);
    assert_int_equal(direct_int(f->path, "SELECT count(*) FROM responses"), 1);
    assert_int_equal(store_org_exists(f->s, "held", &e), STORE_OK);
}

static void test_busy_timeout_expires(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    open_with_registry(f);
    struct invitation inv;
    new_invitation(f, "mentee-final", &inv);
    struct store *s2 = NULL;
    const struct store_options quick = {.busy_timeout_ms = 50};
    assert_int_equal(store_open(f->path, &quick, &s2, &e), STORE_OK);

    assert_int_equal(store_begin(f->s, &e), STORE_OK);
    assert_int_equal(store_put_response(s2, &inv, &test_response, &e), STORE_ERROR);
    assert_string_equal(e.file, f->path);
    assert_string_equal(e.msg, "store: begin response: database is locked");
    store_rollback(f->s);
    assert_int_equal(store_put_response(s2, &inv, &test_response, &e), STORE_OK);
    store_close(s2);
}

#define WRITES_PER_THREAD 40

struct writer {
    struct store *s;
    struct invitation *invs;
    int failures;
};

static void *write_responses(void *arg)
{
    struct writer *w = arg;
    struct err e = {0};
    for (int i = 0; i < WRITES_PER_THREAD; i++)
        if (store_put_response(w->s, &w->invs[i], &test_response, &e) != STORE_OK)
            w->failures++;
    return NULL;
}

static void test_concurrent_writers(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    open_with_registry(f);
    struct invitation invs[2 * WRITES_PER_THREAD];
    for (int i = 0; i < 2 * WRITES_PER_THREAD; i++)
        new_invitation(f, "mentee-final", &invs[i]);
    struct store *s2 = NULL;
    const struct store_options normal = {.synchronous = "NORMAL"};
    assert_int_equal(store_open(f->path, &normal, &s2, &e), STORE_OK);

    struct writer w1 = {f->s, invs, 0};
    struct writer w2 = {s2, invs + WRITES_PER_THREAD, 0};
    pthread_t t1, t2;
    assert_int_equal(pthread_create(&t1, NULL, write_responses, &w1), 0);
    assert_int_equal(pthread_create(&t2, NULL, write_responses, &w2), 0);
    assert_int_equal(pthread_join(t1, NULL), 0);
    assert_int_equal(pthread_join(t2, NULL), 0);
    store_close(s2);
    assert_int_equal(w1.failures, 0);
    assert_int_equal(w2.failures, 0);
    long n;
    assert_int_equal(store_count_responses(f->s, NULL, &n, &e), STORE_OK);
    assert_int_equal(n, 2 * WRITES_PER_THREAD);
    assert_int_equal(direct_int(f->path, "SELECT count(*) FROM answers"),
                     3 * 2 * WRITES_PER_THREAD);
}

int main(void)
{
    if (crypto_setup() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrate_creates_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_from_schema_1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_without_migrate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_missing_without_migrate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_empty_without_migrate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_database_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pragmas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orgs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_programmes_and_participants, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invitations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invitation_answered_and_revoked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invitation_out_of_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_response_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unique_in_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_response_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_response_foreign_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_count_and_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_timeout_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_timeout_expires, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
