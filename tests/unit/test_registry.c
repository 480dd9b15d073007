/*
 * Tests of the registry: vocabularies, periods, CSV imports (all or nothing, located
 * errors, re-import), the mentor limit, campaigns and their invitations, erasure. Every
 * test works on a real SQLite file in a temporary directory.
 */
#include "arena.h"
#include "crypto.h"
#include "err.h"
#include "import.h"
#include "registry.h"
#include "store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct fx {
    char dir[64];
    char db[128];
    struct store *st;
};

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/anketa-reg-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->db, sizeof f->db, "%s/a.db", f->dir);
    struct err e = {0};
    struct store_options opt = {.migrate = 1};
    if (store_open(f->db, &opt, &f->st, &e) != STORE_OK)
        return -1;
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* Writes bytes to DIR/name and returns the path (static buffer). */
static const char *fx_file(struct fx *f, const char *name, const char *bytes)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs(bytes, fp);
    fclose(fp);
    return path;
}

static long fx_count(struct fx *f, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    long v = -1;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static int fx_import(struct fx *f, enum import_kind kind, const char *path,
                     struct import_result *res, struct err_list *errs)
{
    struct import_options opt = {.year = 2026};
    return import_file(f->st, kind, path, &opt, res, errs);
}

static const char orgs_csv[] = "code;parent;level;kind;name\n"
                               "r;;region;;Область\n"
                               "m;r;municipality;;Район\n"
                               "s1;m;organisation;school;Школа 1\n"
                               "s2;m;organisation;;Школа 2\n";

static const char programmes_csv[] = "code,organisation,form,title,year\n"
                                     "p1,s1,ученик – ученик,Программа 1,2026/27\n"
                                     "p2,s2,teacher-teacher,Программа 2,2026\n";

static void fx_base(struct fx *f)
{
    struct import_result res;
    struct err_list errs = {0};
    assert_int_equal(fx_import(f, IMPORT_ORGS, fx_file(f, "orgs.csv", orgs_csv), &res, &errs), 0);
    assert_int_equal(
        fx_import(f, IMPORT_PROGRAMMES, fx_file(f, "prog.csv", programmes_csv), &res, &errs), 0);
    assert_int_equal(errs.n, 0);
    err_list_free(&errs);
}

static void test_vocabulary(void **state)
{
    (void)state;
    assert_string_equal(registry_word(VOCAB_ROLE, "Наставник"), "mentor");
    assert_string_equal(registry_word(VOCAB_ROLE, "  НАСТАВЛЯЕМЫЙ "), "mentee");
    assert_string_equal(registry_word(VOCAB_KIND, "обучающийся"), "pupil");
    assert_string_equal(registry_word(VOCAB_FORM, "Учитель — учитель"), "teacher-teacher");
    assert_string_equal(registry_word(VOCAB_FORM, "работодатель-студент"), "employer-student");
    assert_string_equal(registry_word(VOCAB_STATUS, "Завершённая"), "finished");
    assert_string_equal(registry_word(VOCAB_LEVEL, "Муниципалитет"), "municipality");
    assert_null(registry_word(VOCAB_ROLE, "директор"));
    const char *own = "x-sport-mentoring";
    assert_ptr_equal(registry_word(VOCAB_FORM, own), own);
    assert_null(registry_word(VOCAB_FORM, "x-"));
    assert_null(registry_word(VOCAB_FORM, "x-Спорт"));
    assert_true(registry_code_valid("demo-sch_1.a"));
    assert_false(registry_code_valid("школа"));
    assert_false(registry_code_valid(""));
    assert_true(registry_date_valid("2024-02-29"));
    assert_false(registry_date_valid("2023-02-29"));
    assert_false(registry_date_valid("2023-13-01"));
    assert_false(registry_date_valid("23-01-01"));
}

static void test_periods(void **state)
{
    (void)state;
    struct period p;
    assert_int_equal(registry_period_parse("2026/27", &p), 0);
    assert_string_equal(p.starts, "2026-09-01");
    assert_string_equal(p.ends, "2027-08-31");
    assert_int_equal(registry_period_parse("2026/27-H1", &p), 0);
    assert_string_equal(p.starts, "2026-09-01");
    assert_string_equal(p.ends, "2026-12-31");
    assert_int_equal(registry_period_parse("2026/27-H2", &p), 0);
    assert_string_equal(p.starts, "2027-01-01");
    assert_string_equal(p.ends, "2027-08-31");
    assert_int_equal(registry_period_parse("2027/28-Q2", &p), 0);
    assert_string_equal(p.starts, "2027-12-01");
    assert_string_equal(p.ends, "2028-02-29");
    assert_int_equal(registry_period_parse("2026/28", &p), -1);
    assert_int_equal(registry_period_parse("2026/27-Q5", &p), -1);
    assert_int_equal(registry_period_parse("2026-27", &p), -1);
    char y[8];
    assert_int_equal(registry_school_year("2027-05-20", y), 0);
    assert_string_equal(y, "2026/27");
    assert_int_equal(registry_school_year("2027-09-01", y), 0);
    assert_string_equal(y, "2027/28");
}

/* Windows-1251, ';' and Russian headers, as Excel saves a curator's list. */
static const unsigned char participants_cp1251[] =
    /* Код;Организация;Программа;Роль;Категория;Год рождения;Дата согласия */
    "\xCA\xEE\xE4;\xCE\xF0\xE3\xE0\xED\xE8\xE7\xE0\xF6\xE8\xFF;\xCF\xF0\xEE\xE3\xF0\xE0\xEC\xEC"
    "\xE0;\xD0\xEE\xEB\xFC;\xCA\xE0\xF2\xE5\xE3\xEE\xF0\xE8\xFF;\xC3\xEE\xE4 \xF0\xEE\xE6\xE4\xE5"
    "\xED\xE8\xFF;\xC4\xE0\xF2\xE0 \xF1\xEE\xE3\xEB\xE0\xF1\xE8\xFF\r\n"
    /* A1;s1;p1;наставник;обучающийся;2010;2026-09-01 */
    "A1;s1;p1;\xED\xE0\xF1\xF2\xE0\xE2\xED\xE8\xEA;\xEE\xE1\xF3\xF7\xE0\xFE\xF9\xE8\xE9\xF1\xFF;"
    "2010;2026-09-01\r\n"
    /* B1..B4;s1;p1;наставляемый;обучающийся;2013; */
    "B1;s1;p1;\xED\xE0\xF1\xF2\xE0\xE2\xEB\xFF\xE5\xEC\xFB\xE9;\xEE\xE1\xF3\xF7\xE0\xFE\xF9\xE8"
    "\xE9\xF1\xFF;2013;2026-09-01\r\n"
    "B2;s1;p1;\xED\xE0\xF1\xF2\xE0\xE2\xEB\xFF\xE5\xEC\xFB\xE9;\xEE\xE1\xF3\xF7\xE0\xFE\xF9\xE8"
    "\xE9\xF1\xFF;2013;2026-09-01\r\n"
    "B3;s1;p1;\xED\xE0\xF1\xF2\xE0\xE2\xEB\xFF\xE5\xEC\xFB\xE9;\xEE\xE1\xF3\xF7\xE0\xFE\xF9\xE8"
    "\xE9\xF1\xFF;2014;2026-09-01\r\n"
    "B4;s1;p1;\xED\xE0\xF1\xF2\xE0\xE2\xEB\xFF\xE5\xEC\xFB\xE9;\xEE\xE1\xF3\xF7\xE0\xFE\xF9\xE8"
    "\xE9\xF1\xFF;2012;\r\n";

static void test_import_cp1251_and_reimport(void **state)
{
    struct fx *f = *state;
    fx_base(f);
    const char *path = fx_file(f, "p.csv", (const char *)participants_cp1251);
    struct import_result res;
    struct err_list errs = {0};
    assert_int_equal(fx_import(f, IMPORT_PARTICIPANTS, path, &res, &errs), 0);
    assert_int_equal(errs.n, 0);
    assert_string_equal(res.encoding, "Windows-1251");
    assert_int_equal(res.delimiter, ';');
    assert_int_equal(res.rows, 5);
    assert_int_equal(res.changed, 5);
    assert_int_equal(fx_count(f, "SELECT count(*) FROM participants WHERE role = 'mentee' AND "
                                 "kind = 'pupil'"),
                     4);
    assert_int_equal(fx_count(f, "SELECT count(*) FROM participants WHERE consent_date IS NULL"),
                     1);

    /* The same file again: nothing changes, and the import says so. */
    long before = fx_count(f, "SELECT total_changes()");
    (void)before;
    assert_int_equal(fx_import(f, IMPORT_PARTICIPANTS, path, &res, &errs), 0);
    assert_int_equal(res.changed, 0);
    assert_int_equal(res.unchanged, 5);
    assert_int_equal(fx_count(f, "SELECT count(*) FROM participants"), 5);
    err_list_free(&errs);
}

static void test_import_error_on_line_7_keeps_nothing(void **state)
{
    struct fx *f = *state;
    fx_base(f);
    const char *path = fx_file(f, "p.csv",
                               "code,organisation,role,kind,birth_year\n"
                               "C1,s1,mentee,pupil,2012\n"
                               "C2,s1,mentee,pupil,2012\n"
                               "C3,s1,mentee,pupil,2012\n"
                               "C4,s1,mentee,pupil,2012\n"
                               "C5,s1,mentee,pupil,2012\n"
                               "C6,s1,mentee,pupil,20x2\n"
                               "C7,s1,mentee,pupil,2012\n"
                               "C8,s1,mentee,pupil,2012\n"
                               "C9,s1,mentee,pupil,2012\n");
    struct import_result res;
    struct err_list errs = {0};
    assert_int_equal(fx_import(f, IMPORT_PARTICIPANTS, path, &res, &errs), -1);
    assert_int_equal(errs.n, 1);
    char msg[1024], expected[512];
    err_format(&errs.items[0], msg, sizeof msg);
    snprintf(expected, sizeof expected,
             "%s:7: birth_year \"20x2\" is not a whole number from 1946 to 2026", path);
    assert_string_equal(msg, expected);
    assert_int_equal(fx_count(f, "SELECT count(*) FROM participants"), 0);
    err_list_free(&errs);
}

static void test_import_lists_every_error(void **state)
{
    struct fx *f = *state;
    fx_base(f);
    const char *path = fx_file(f, "p.csv",
                               "code,organisation,programme,role,kind,birth_year\n"
                               "D1,s1,p1,директор,pupil,2012\n"
                               "D2,nowhere,,mentee,pupil,2012\n"
                               "D3,s1,,curator,pupil,2012\n"
                               "D4,s1,,mentee,pupil,\n"
                               "D 5,s1,,mentee,pupil,2012\n");
    struct import_result res;
    struct err_list errs = {0};
    assert_int_equal(fx_import(f, IMPORT_PARTICIPANTS, path, &res, &errs), -1);
    assert_int_equal(errs.n, 5);
    const int lines[] = {2, 3, 4, 5, 6};
    const char *words[] = {"role \"директор\" is not one of", "unknown organisation \"nowhere\"",
                           "a curator is a teacher", "birth_year is empty",
                           "code \"D 5\" may only have"};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(errs.items[i].line, lines[i]);
        assert_non_null(strstr(errs.items[i].msg, words[i]));
    }
    assert_int_equal(fx_count(f, "SELECT count(*) FROM participants"), 0);
    err_list_free(&errs);
}

static void test_org_hierarchy_rules(void **state)
{
    struct fx *f = *state;
    const char *path = fx_file(f, "o.csv",
                               "Код;Входит в;Уровень;Наименование\n"
                               "r;;регион;Область\n"
                               "s;r;организация;Школа\n"
                               "m;x;муниципалитет;Район\n"
                               "r2;r;регион;Ещё регион\n");
    struct import_result res;
    struct err_list errs = {0};
    assert_int_equal(fx_import(f, IMPORT_ORGS, path, &res, &errs), -1);
    assert_int_equal(errs.n, 3);
    assert_string_equal(errs.items[0].msg,
                        "parent \"r\" is a region; a organisation belongs to a municipality");
    assert_int_equal(errs.items[1].line, 4);
    assert_non_null(strstr(errs.items[1].msg, "unknown parent \"x\""));
    assert_string_equal(errs.items[2].msg, "a region has no parent (found \"r\")");
    assert_int_equal(fx_count(f, "SELECT count(*) FROM orgs"), 0);
    err_list_free(&errs);
}

static void test_mentor_limit(void **state)
{
    struct fx *f = *state;
    fx_base(f);
    struct import_result res;
    struct err_list errs = {0};
    assert_int_equal(fx_import(f, IMPORT_PARTICIPANTS,
                               fx_file(f, "p.csv", (const char *)participants_cp1251), &res, &errs),
                     0);
    const char *three = fx_file(f, "pairs.csv",
                                "programme;mentor;mentee;starts;status\n"
                                "p1;A1;B1;2026-09-10;active\n"
                                "p1;A1;B2;2026-09-10;active\n"
                                "p1;A1;B3;2026-09-10;active\n");
    assert_int_equal(fx_import(f, IMPORT_PAIRS, three, &res, &errs), 0);
    assert_int_equal(res.changed, 3);
    const char *fourth = fx_file(f, "pairs4.csv",
                                 "programme;mentor;mentee;starts;status\n"
                                 "p1;A1;B4;2026-10-01;active\n");
    assert_int_equal(fx_import(f, IMPORT_PAIRS, fourth, &res, &errs), -1);
    assert_int_equal(errs.n, 1);
    assert_int_equal(errs.items[0].line, 2);
    assert_string_equal(errs.items[0].msg,
                        "mentor A1 already has 3 active mentees (B1, B2, B3); at most 3 at a "
                        "time: end one of those pairs (status finished) before adding B4");
    err_list_free(&errs);

    /* Finishing one pair makes room; a mentee cannot mentor. */
    const char *swap = fx_file(f, "swap.csv",
                               "programme;mentor;mentee;starts;ends;status\n"
                               "p1;A1;B3;2026-09-10;2026-10-01;finished\n"
                               "p1;A1;B4;2026-10-01;;active\n"
                               "p1;B1;B2;2026-10-01;;active\n");
    assert_int_equal(fx_import(f, IMPORT_PAIRS, swap, &res, &errs), -1);
    assert_int_equal(errs.n, 1);
    assert_int_equal(errs.items[0].line, 4);
    assert_string_equal(errs.items[0].msg, "mentor \"B1\" has the role mentee, not mentor");
    err_list_free(&errs);
    const char *ok = fx_file(f, "ok.csv",
                             "programme;mentor;mentee;starts;ends;status\n"
                             "p1;A1;B3;2026-09-10;2026-10-01;finished\n"
                             "p1;A1;B4;2026-10-01;;active\n");
    assert_int_equal(fx_import(f, IMPORT_PAIRS, ok, &res, &errs), 0);
    assert_int_equal(fx_count(f, "SELECT count(*) FROM pairs WHERE status = 'active'"), 3);

    /* The limit is the region's: raised to 4, a fourth active mentee fits. */
    struct org_rec r = {.code = "r", .level = "region", .name = "Область", .max_mentees = 4};
    struct err e = {0};
    assert_int_equal(store_put_org(f->st, &r, NULL, &e), STORE_OK);
    const char *more = fx_file(f, "more.csv",
                               "programme;mentor;mentee;starts\n"
                               "p1;A1;B3;2026-09-10\n");
    assert_int_equal(fx_import(f, IMPORT_PAIRS, more, &res, &errs), 0);
    err_list_free(&errs);
}

static void test_figures(void **state)
{
    struct fx *f = *state;
    fx_base(f);
    struct import_result res;
    struct err_list errs = {0};
    const char *path = fx_file(f, "f.csv",
                               "organisation,period,name,value\n"
                               "s1,2026/27,pupils_10_18,420\n"
                               "s1,2026/27-H1,pupils_15_18,150\n"
                               "s2,2026-27,pupils_10_18,300\n"
                               "s2,2026/27,pupils_10_18,-1\n");
    assert_int_equal(fx_import(f, IMPORT_FIGURES, path, &res, &errs), -1);
    assert_int_equal(errs.n, 2);
    assert_int_equal(errs.items[0].line, 4);
    assert_int_equal(errs.items[1].line, 5);
    err_list_free(&errs);
    path = fx_file(f, "f2.csv",
                   "organisation,period,name,value\n"
                   "s1,2026/27,pupils_10_18,420\n"
                   "s2,2026/27,pupils_10_18,300.5\n");
    assert_int_equal(fx_import(f, IMPORT_FIGURES, path, &res, &errs), 0);
    assert_int_equal(fx_count(f, "SELECT sum(value) * 10 FROM figures"), 7205);
    err_list_free(&errs);
}

static void fx_people(struct fx *f)
{
    fx_base(f);
    struct import_result res;
    struct err_list errs = {0};
    assert_int_equal(fx_import(f, IMPORT_PARTICIPANTS,
                               fx_file(f, "p.csv", (const char *)participants_cp1251), &res, &errs),
                     0);
    err_list_free(&errs);
}

static void fx_exec(struct fx *f, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    sqlite3_close(db);
}

/* The (campaign, organisation) rows where campaign_counts, kept by triggers, differ from the
 * counts made from scratch. */
static long fx_count_mismatches(struct fx *f)
{
    return fx_count(
        f, "WITH x AS (SELECT i.campaign_id AS c, p.org_id AS o,"
           " count(*) FILTER (WHERE i.revoked_at IS NULL) AS a,"
           " count(*) FILTER (WHERE d.invitation_id IS NOT NULL AND r.id IS NULL) AS b,"
           " count(r.id) AS z FROM invitations i JOIN participants p ON p.id = i.participant_id"
           " LEFT JOIN drafts d ON d.invitation_id = i.id"
           " LEFT JOIN responses r ON r.invitation_id = i.id"
           " WHERE i.campaign_id IS NOT NULL GROUP BY 1, 2) "
           "SELECT count(*) FROM x FULL JOIN campaign_counts k ON k.campaign_id = x.c"
           " AND k.org_id = x.o WHERE coalesce(x.a, 0) <> coalesce(k.invited, 0)"
           " OR coalesce(x.b, 0) <> coalesce(k.started, 0)"
           " OR coalesce(x.z, 0) <> coalesce(k.completed, 0)");
}

/* The organisations whose figures in org_counts, kept by triggers, differ from counting
 * from scratch. */
static long fx_org_mismatches(struct fx *f)
{
    return fx_count(
        f, "WITH x AS (SELECT o.id AS id,"
           " (SELECT count(*) FROM participants WHERE org_id = o.id AND role = 'mentor') AS a,"
           " (SELECT count(*) FROM participants WHERE org_id = o.id AND role = 'mentee') AS b,"
           " (SELECT count(*) FROM participants WHERE org_id = o.id AND consent_date IS NULL)"
           " AS c, (SELECT count(*) FROM programmes WHERE org_id = o.id) AS d,"
           " (SELECT count(*) FROM pairs p JOIN participants m ON m.id = p.mentor_id"
           " WHERE m.org_id = o.id AND p.status = 'active') AS z FROM orgs o) "
           "SELECT count(*) FROM x LEFT JOIN org_counts k ON k.org_id = x.id"
           " WHERE coalesce(k.mentors, 0) <> a OR coalesce(k.mentees, 0) <> b"
           " OR coalesce(k.no_consent, 0) <> c OR coalesce(k.programmes, 0) <> d"
           " OR coalesce(k.active_pairs, 0) <> z");
}

/* The figures of every organisation's dashboard are kept by triggers: after each kind of
 * change to the register they agree with counting from scratch. */
static void test_org_counts_follow_every_change(void **state)
{
    struct fx *f = *state;
    fx_people(f);
    assert_int_equal(fx_org_mismatches(f), 0);
    assert_true(fx_count(f, "SELECT sum(mentees) FROM org_counts") > 0);
    const char *steps[] = {
        "INSERT INTO pairs(programme_id, mentor_id, mentee_id, starts, status) SELECT "
        "(SELECT min(id) FROM programmes), (SELECT min(id) FROM participants WHERE role = "
        "'mentor'), (SELECT min(id) FROM participants WHERE role = 'mentee'), '2026-09-01', "
        "'active'",
        "UPDATE pairs SET status = 'finished'",
        "UPDATE pairs SET status = 'active'",
        "UPDATE participants SET consent_date = NULL WHERE id = (SELECT max(id) FROM "
        "participants)",
        "UPDATE participants SET role = 'mentor' WHERE id = (SELECT max(id) FROM participants "
        "WHERE role = 'mentee')",
        /* the mentor of the active pair moves, with the pair */
        "UPDATE participants SET org_id = (SELECT id FROM orgs WHERE code = 's2') WHERE id = "
        "(SELECT mentor_id FROM pairs LIMIT 1)",
        "UPDATE programmes SET org_id = (SELECT id FROM orgs WHERE code = 's2') WHERE id = "
        "(SELECT min(id) FROM programmes)",
        "INSERT INTO programmes(org_id, code, form, title, year) SELECT id, 'p-new', "
        "'pupil-pupil', 'x', 2026 FROM orgs WHERE code = 's1'",
        "DELETE FROM programmes WHERE code = 'p-new'",
        /* a mentor goes, and their pair with them (the cascade) */
        "DELETE FROM participants WHERE id = (SELECT mentor_id FROM pairs LIMIT 1)",
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        fx_exec(f, steps[i]);
        if (fx_org_mismatches(f) != 0)
            fail_msg("the organisations' figures differ after: %s", steps[i]);
    }
    assert_int_equal(fx_count(f, "SELECT count(*) FROM pairs"), 0);
}

/* The response rates every dashboard shows are kept by triggers: after each kind of change
 * they agree with counting from scratch. */
static void test_campaign_counts_follow_every_change(void **state)
{
    struct fx *f = *state;
    fx_people(f);
    struct err e = {0};
    struct campaign_rec c = {.code = "c1",
                             .survey_id = "mentee-final",
                             .org_code = "r",
                             .period = "2026/27",
                             .wave = "final",
                             .role = "mentee",
                             .opens = "2020-01-01",
                             .closes = "2099-12-31"};
    assert_int_equal(store_put_campaign(f->st, &c, &e), STORE_OK);
    long invited, no_consent;
    assert_int_equal(store_campaign_open(f->st, "c1", &invited, &no_consent, &e), STORE_OK);
    assert_true(invited >= 2);
    assert_int_equal(fx_count_mismatches(f), 0);
    assert_int_equal(fx_count(f, "SELECT sum(invited) FROM campaign_counts"), invited);
    const char *steps[] = {
        /* a draft, then its response (in either order), a response without a draft */
        "INSERT INTO drafts(invitation_id, page, data, updated_at) SELECT min(id), 1, '{}', 'x' "
        "FROM invitations",
        "INSERT INTO drafts(invitation_id, page, data, updated_at) SELECT max(id), 1, '{}', 'x' "
        "FROM invitations",
        "INSERT INTO responses(invitation_id, survey_id, survey_version, survey_hash, "
        "submitted_at) SELECT min(id), 'mentee-final', 1, 'h', 'x' FROM invitations",
        "DELETE FROM drafts WHERE invitation_id = (SELECT min(id) FROM invitations)",
        "DELETE FROM drafts WHERE invitation_id = (SELECT max(id) FROM invitations)",
        "INSERT INTO responses(invitation_id, survey_id, survey_version, survey_hash, "
        "submitted_at) SELECT max(id), 'mentee-final', 1, 'h', 'x' FROM invitations",
        /* revoked, and back */
        "UPDATE invitations SET revoked_at = 'x' WHERE id = (SELECT max(id) FROM invitations)",
        "UPDATE invitations SET revoked_at = NULL WHERE id = (SELECT max(id) FROM invitations)",
        "UPDATE invitations SET revoked_at = 'x' WHERE id = (SELECT max(id) FROM invitations)",
        /* a participant moves to another school, with a draft left in hand */
        "INSERT INTO drafts(invitation_id, page, data, updated_at) SELECT id, 1, '{}', 'x' FROM "
        "invitations WHERE id NOT IN (SELECT invitation_id FROM responses) LIMIT 1",
        "UPDATE participants SET org_id = (SELECT id FROM orgs WHERE code = 's2') WHERE id IN "
        "(SELECT participant_id FROM invitations)",
        /* a response withdrawn */
        "DELETE FROM responses WHERE invitation_id = (SELECT min(id) FROM invitations)",
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        fx_exec(f, steps[i]);
        if (fx_count_mismatches(f) != 0)
            fail_msg("the counts differ after: %s", steps[i]);
    }
    /* Erasing a participant (152-FZ) takes their invitations, drafts and responses along. */
    char code[64];
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT p.code FROM participants p JOIN invitations i ON "
                                        "i.participant_id = p.id JOIN drafts d ON "
                                        "d.invitation_id = i.id LIMIT 1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(code, sizeof code, "%s", sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    long responses;
    assert_int_equal(store_erase_participant(f->st, code, &responses, &e), STORE_OK);
    assert_int_equal(fx_count_mismatches(f), 0);
    assert_int_equal(fx_org_mismatches(f), 0);
}

/* A campaign of another school year does not ask this year's programme participants. */
static void test_campaign_targets_its_year(void **state)
{
    struct fx *f = *state;
    fx_people(f);
    struct err e = {0};
    struct campaign_rec c = {.code = "old",
                             .survey_id = "mentee-final",
                             .org_code = "r",
                             .period = "2025/26-H2",
                             .wave = "final",
                             .role = "mentee",
                             .opens = "2020-01-01",
                             .closes = "2099-12-31"};
    assert_int_equal(store_put_campaign(f->st, &c, &e), STORE_OK);
    long invited, no_consent;
    assert_int_equal(store_campaign_open(f->st, "old", &invited, &no_consent, &e), STORE_OK);
    long in_programmes = fx_count(f, "SELECT count(*) FROM participants WHERE role = 'mentee' "
                                     "AND programme_id IS NOT NULL AND consent_date IS NOT NULL");
    long without = fx_count(f, "SELECT count(*) FROM participants WHERE role = 'mentee' "
                               "AND programme_id IS NULL AND consent_date IS NOT NULL");
    assert_true(in_programmes > 0);
    assert_int_equal(invited, without);
    assert_int_equal(fx_count(f, "SELECT count(*) FROM invitations i JOIN participants p ON "
                                 "p.id = i.participant_id WHERE p.programme_id IS NOT NULL"),
                     0);
    /* The same campaign in the programmes' own year invites them. */
    c.code = "now";
    c.period = "2026/27-H2";
    assert_int_equal(store_put_campaign(f->st, &c, &e), STORE_OK);
    assert_int_equal(store_campaign_open(f->st, "now", &invited, &no_consent, &e), STORE_OK);
    assert_int_equal(invited, in_programmes + without);
}

static void test_campaigns(void **state)
{
    struct fx *f = *state;
    fx_people(f);
    struct err e = {0};
    struct campaign_rec c = {.code = "c1",
                             .survey_id = "mentee-final",
                             .org_code = "r",
                             .period = "2026/27",
                             .wave = "final",
                             .role = "mentee",
                             .opens = "2020-01-01",
                             .closes = "2099-12-31"};
    assert_int_equal(store_put_campaign(f->st, &c, &e), STORE_OK);
    long invited, no_consent;
    assert_int_equal(store_campaign_open(f->st, "c1", &invited, &no_consent, &e), STORE_OK);
    /* Four mentees, one of them without consent. */
    assert_int_equal(invited, 3);
    assert_int_equal(no_consent, 1);
    assert_int_equal(fx_count(f, "SELECT count(DISTINCT token) FROM invitations"), 3);
    assert_int_equal(store_campaign_open(f->st, "c1", &invited, &no_consent, &e), STORE_OK);
    assert_int_equal(invited, 0);
    assert_int_equal(fx_count(f, "SELECT count(*) FROM invitations"), 3);

    /* An open campaign's definition is fixed. */
    c.closes = "2099-12-30";
    assert_int_equal(store_put_campaign(f->st, &c, &e), STORE_DUPLICATE);
    assert_non_null(strstr(e.msg, "campaign c1 is open"));

    struct arena *a = arena_new();
    struct campaign_info info;
    assert_int_equal(store_campaign_get(f->st, a, "c1", &info, &e), STORE_OK);
    assert_int_equal(info.invited, 3);
    assert_int_equal(info.completed, 0);
    struct rate_row *rows;
    size_t n;
    assert_int_equal(store_campaign_rates(f->st, a, "c1", NULL, &rows, &n, &e), STORE_OK);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].org_code, "s1");
    assert_int_equal(rows[0].invited, 3);

    /* A link of a closed campaign says so. */
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT token FROM invitations LIMIT 1", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    char token[32];
    snprintf(token, sizeof token, "%s", sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    struct invitation inv;
    assert_int_equal(store_invitation_by_token(f->st, a, token, &inv, &e), STORE_OK);
    assert_int_equal(inv.closed, 0);
    assert_int_equal(inv.consent, 1);
    assert_int_equal(store_campaign_close(f->st, "c1", &e), STORE_OK);
    assert_int_equal(store_invitation_by_token(f->st, a, token, &inv, &e), STORE_OK);
    assert_int_equal(inv.closed, 1);

    /* Revoked links stop working; an unknown token is reported. */
    assert_int_equal(store_revoke_invitation(f->st, token, &e), STORE_OK);
    assert_int_equal(store_invitation_by_token(f->st, a, token, &inv, &e), STORE_OK);
    assert_int_equal(inv.revoked, 1);
    assert_int_equal(store_revoke_invitation(f->st, token, &e), STORE_NOT_FOUND);
    arena_free(a);
}

static void test_erase(void **state)
{
    struct fx *f = *state;
    fx_people(f);
    struct err e = {0};
    char token[23];
    assert_int_equal(store_put_invitation(f->st, "B1", "mentee-final", token, &e), STORE_OK);
    long n;
    assert_int_equal(store_erase_participant(f->st, "B1", &n, &e), STORE_OK);
    assert_int_equal(n, 0);
    assert_int_equal(fx_count(f, "SELECT count(*) FROM participants WHERE code = 'B1'"), 0);
    assert_int_equal(fx_count(f, "SELECT count(*) FROM invitations"), 0);
    assert_int_equal(store_erase_participant(f->st, "B1", &n, &e), STORE_NOT_FOUND);
    assert_string_equal(e.msg, "unknown participant \"B1\"");
}

/* Not a timing assertion: prints how long 100,000 participants take, for the notes. */
static void test_import_100k(void **state)
{
    struct fx *f = *state;
    fx_base(f);
    char path[256];
    snprintf(path, sizeof path, "%s/big.csv", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("code;organisation;programme;role;kind;birth_year;consent_date\n", fp);
    for (int i = 0; i < 100000; i++)
        fprintf(fp, "P%06d;s1;p1;mentee;pupil;%d;2026-09-01\n", i, 2010 + i % 6);
    fclose(fp);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct import_result res;
    struct err_list errs = {0};
    assert_int_equal(fx_import(f, IMPORT_PARTICIPANTS, path, &res, &errs), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(res.changed, 100000);
    assert_int_equal(fx_count(f, "SELECT count(*) FROM participants"), 100000);
    print_message("100,000 participants imported in %.2f s (sanitizer build)\n",
                  (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    err_list_free(&errs);
}

int main(void)
{
    if (crypto_setup() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vocabulary),
        cmocka_unit_test(test_periods),
        cmocka_unit_test_setup_teardown(test_import_cp1251_and_reimport, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_import_error_on_line_7_keeps_nothing, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_import_lists_every_error, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_org_hierarchy_rules, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_mentor_limit, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_figures, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_campaigns, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_campaign_targets_its_year, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_campaign_counts_follow_every_change, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_org_counts_follow_every_change, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_erase, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_import_100k, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests_name("registry", tests, NULL, NULL);
}
