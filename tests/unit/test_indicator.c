/*
 * Tests of the indicator engine: every shipped indicator of lua/regions/demo and demo2 on a
 * small region built here, with the expected values worked out by hand beside each check
 * (including the roll-up to municipalities and the region); storing, --explain, failing
 * scripts that fail alone, read-only ctx, checking files, hot reload, the child-process
 * backstop, script authors' tests, and the triggers that keep indicator_scores current.
 * The same region checks the reports computed outside the scripts (report.h): the growth
 * charts and the federal statistics table.
 */
#include "crypto.h"
#include "err.h"
#include "indicator.h"
#include "report.h"
#include "survey.h"
#include "store.h"

#include <arena.h>
#include <math.h>
#include <sqlite3.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define LIB_DIR "lua/lib"

struct fixture {
    char dir[64];
    char db[96];
    struct store *s;
};

static void put_org(struct store *s, const char *code, const char *parent, const char *level,
                    const char *kind)
{
    struct err e = {0};
    struct org_rec o = {code, parent, level, kind, code, 0};
    if (store_put_org(s, &o, NULL, &e) != STORE_OK)
        fail_msg("org %s: %s", code, e.msg);
}

static void put_programme(struct store *s, const char *code, const char *org, const char *form)
{
    struct err e = {0};
    if (store_put_programme(s, org, code, form, code, 2026, NULL, &e) != STORE_OK)
        fail_msg("programme %s: %s", code, e.msg);
}

static void put_person(struct store *s, const char *code, const char *org, const char *programme,
                       const char *role, const char *kind, int birth_year, int experience)
{
    struct err e = {0};
    struct participant_rec p = {
        .code = code,
        .org_code = org,
        .programme_code = programme,
        .role = role,
        .kind = kind,
        .birth_year = birth_year,
        .experience_years = experience,
        .consent_date = "2026-09-01",
    };
    if (store_put_participant(s, &p, NULL, &e) != STORE_OK)
        fail_msg("participant %s: %s", code, e.msg);
}

static void put_pair(struct store *s, const char *programme, const char *mentor, const char *mentee,
                     const char *starts, const char *ends, const char *status)
{
    struct err e = {0};
    struct pair_rec p = {programme, mentor, mentee, starts, ends, status};
    if (store_put_pair(s, &p, NULL, &e) != STORE_OK)
        fail_msg("pair %s-%s: %s", mentor, mentee, e.msg);
}

static void put_figure(struct store *s, const char *org, const char *name, double value)
{
    struct err e = {0};
    struct figure_rec f = {org, "2026/27", name, value};
    if (store_put_figure(s, &f, NULL, &e) != STORE_OK)
        fail_msg("figure %s: %s", name, e.msg);
}

/* A response with up to three scale scores: pairs of name, value ending with NULL. */
static void put_response(struct store *s, const char *who, const char *survey, const char *period,
                         const char *wave, ...)
{
    struct ind_fixture_value scores[3];
    size_t n = 0;
    va_list ap;
    va_start(ap, wave);
    const char *id;
    while ((id = va_arg(ap, const char *)) != NULL && n < 3) {
        scores[n].id = id;
        scores[n].value = va_arg(ap, double);
        n++;
    }
    va_end(ap);
    struct err e = {0};
    if (store_ind_fixture_response(s, who, survey, period, wave, scores, n, NULL, 0, &e) !=
        STORE_OK)
        fail_msg("response of %s to %s: %s", who, survey, e.msg);
}

/*
 * The region of the tests (period 2026/27, so an age is 2026 minus the birth year):
 *
 *   r ── m1 ── s1 (school), s2 (school), e1 (enterprise)
 *     └─ m2 ── s3 (school), e2 (enterprise), e3 (enterprise)
 */
static void build_region(struct store *s)
{
    assert_int_equal(store_begin(s, NULL), STORE_OK);
    put_org(s, "r", NULL, "region", NULL);
    put_org(s, "m1", "r", "municipality", NULL);
    put_org(s, "m2", "r", "municipality", NULL);
    put_org(s, "s1", "m1", "organisation", "school");
    put_org(s, "s2", "m1", "organisation", "school");
    put_org(s, "e1", "m1", "organisation", "enterprise");
    put_org(s, "s3", "m2", "organisation", "school");
    put_org(s, "e2", "m2", "organisation", "enterprise");
    put_org(s, "e3", "m2", "organisation", "enterprise");

    put_programme(s, "p1", "s1", "pupil-pupil");
    put_programme(s, "p2", "s1", "employer-pupil");
    put_programme(s, "p3", "s2", "pupil-pupil");
    put_programme(s, "p4", "s3", "teacher-teacher");
    put_programme(s, "p5", "s3", "employer-pupil");

    put_person(s, "a1", "s1", "p1", "mentee", "pupil", 2012, -1); /* 14 */
    put_person(s, "a2", "s1", "p1", "mentee", "pupil", 2009, -1); /* 17 */
    put_person(s, "a3", "s1", "p1", "mentee", "pupil", 2017, -1); /* 9: too young */
    put_person(s, "a4", "s1", "p2", "mentee", "pupil", 2011, -1); /* 15 */
    put_person(s, "a5", "s1", "p1", "mentee", "pupil", 2010, -1); /* 16, never in a pair */
    put_person(s, "a6", "s1", "p1", "mentee", "pupil", 2008, -1); /* 18, pair ended in June */
    put_person(s, "b1", "s1", "p1", "mentor", "pupil", 2010, -1); /* 16 */
    put_person(s, "b2", "s1", "p1", "mentor", "pupil", 2012, -1); /* 14: too young */
    put_person(s, "b3", "s1", "p1", "mentor", "pupil", 2008, -1); /* 18, pair ended in June */
    put_person(s, "c1", "s2", "p3", "mentee", "pupil", 2013, -1); /* 13 */
    put_person(s, "c2", "s2", "p3", "mentee", "pupil", 2016, -1); /* 10 */
    put_person(s, "c3", "s2", "p3", "mentee", "student", 2008, -1);
    put_person(s, "d1", "s2", "p3", "mentor", "pupil", 2011, -1); /* 15 */
    put_person(s, "d2", "s2", "p3", "mentor", "pupil", 2007, -1); /* 19: too old */
    put_person(s, "t1", "s3", "p4", "mentee", "teacher", 0, 1);
    put_person(s, "t2", "s3", "p4", "mentee", "teacher", 0, 3);
    put_person(s, "t3", "s3", "p4", "mentee", "teacher", 0, 5); /* not young */
    put_person(s, "t4", "s3", "p4", "mentee", "teacher", 0, 0); /* never in a pair */
    put_person(s, "t5", "s3", "p4", "mentor", "teacher", 0, 20);
    put_person(s, "f1", "s3", "p5", "mentee", "pupil", 2012, -1); /* 14 */
    put_person(s, "g1", "e1", "p2", "mentor", "employer", 0, -1);
    put_person(s, "g2", "e1", NULL, "mentor", "employer", 0, -1); /* never in a pair */
    put_person(s, "h1", "e2", "p5", "mentor", "employer", 0, -1); /* pair ended in August */
    put_person(s, "h2", "e3", "p5", "mentor", "employer", 0, -1);

    put_pair(s, "p1", "b1", "a1", "2026-09-20", "2027-06-15", "finished");
    put_pair(s, "p1", "b1", "a2", "2026-09-20", NULL, "active");
    put_pair(s, "p1", "b2", "a3", "2026-09-20", NULL, "active");
    put_pair(s, "p2", "g1", "a4", "2026-10-01", NULL, "active");
    put_pair(s, "p1", "b3", "a6", "2025-09-20", "2026-06-30", "finished");
    put_pair(s, "p3", "d1", "c1", "2026-10-01", "2027-05-31", "finished");
    put_pair(s, "p3", "d1", "c2", "2026-10-01", NULL, "active");
    put_pair(s, "p3", "d2", "c3", "2026-10-01", "2027-03-01", "broken");
    put_pair(s, "p4", "t5", "t1", "2026-09-15", NULL, "active");
    put_pair(s, "p4", "t5", "t2", "2026-09-15", NULL, "active");
    put_pair(s, "p4", "t5", "t3", "2026-09-15", NULL, "active");
    put_pair(s, "p5", "h1", "f1", "2025-10-01", "2026-08-01", "broken");
    put_pair(s, "p5", "h2", "f1", "2026-09-10", NULL, "active");

    put_figure(s, "s1", "pupils_10_18", 40);
    put_figure(s, "s1", "pupils_15_18", 20);
    put_figure(s, "s1", "teachers_0_3", 2);
    put_figure(s, "s2", "pupils_10_18", 50);
    put_figure(s, "s2", "pupils_15_18", 25);
    put_figure(s, "s3", "pupils_10_18", 10);
    put_figure(s, "s3", "pupils_15_18", 5);
    put_figure(s, "s3", "teachers_0_3", 4);
    put_figure(s, "m1", "partner_orgs", 40);
    put_figure(s, "m2", "partner_orgs", 10);

    const char *y = "2026/27";
    put_response(s, "a1", "mentee-final", y, "final", "satisfaction", 9.0, "motivation", 7.0,
                 "competence", 6.0, NULL);
    put_response(s, "a2", "mentee-final", y, "final", "satisfaction", 7.5, "motivation", 4.0, NULL);
    put_response(s, "a4", "mentee-final", y, "final", "satisfaction", 8.0, "motivation", 9.0,
                 "competence", 5.0, NULL);
    put_response(s, "c1", "mentee-final", y, "final", "satisfaction", 6.0, "motivation", 6.0, NULL);
    put_response(s, "c2", "mentee-final", y, "final", "satisfaction", 10.0, "motivation", 8.0,
                 NULL);
    put_response(s, "f1", "mentee-final", y, "final", "satisfaction", 8.5, "motivation", 6.0,
                 "competence", 6.0, NULL);
    put_response(s, "t1", "mentee-final", y, "final", "satisfaction", 4.0, "motivation", 7.0, NULL);
    put_response(s, "a1", "mentee-entry", y, "entry", "motivation", 5.0, "competence", 5.0, NULL);
    put_response(s, "a2", "mentee-entry", y, "entry", "motivation", 4.0, NULL);
    /* A later entry response of a2 in the same year: the latest one is paired. */
    put_response(s, "a2", "mentee-entry", "2026/27-Q1", "entry", "motivation", 3.0, NULL);
    put_response(s, "a4", "mentee-entry", y, "entry", "motivation", 6.0, "competence", 5.0, NULL);
    put_response(s, "a5", "mentee-entry", y, "entry", "motivation", 3.0, NULL);
    put_response(s, "c1", "mentee-entry", y, "entry", "motivation", 7.0, NULL);
    put_response(s, "c2", "mentee-entry", y, "entry", "motivation", 5.0, NULL);
    put_response(s, "f1", "mentee-entry", y, "entry", "motivation", 2.0, "competence", 7.0, NULL);
    put_response(s, "t1", "mentee-entry", y, "entry", "motivation", 6.0, NULL);
    /* Another year: never counted in 2026/27. */
    put_response(s, "a1", "mentee-final", "2025/26", "final", "satisfaction", 2.0, "motivation",
                 1.0, NULL);
    put_response(s, "b1", "mentor-final", y, "final", "satisfaction", 8.0, NULL);
    put_response(s, "b2", "mentor-final", y, "final", "satisfaction", 7.9, NULL);
    put_response(s, "d1", "mentor-final", y, "final", "satisfaction", 10.0, NULL);
    put_response(s, "t5", "mentor-final", y, "final", "satisfaction", 5.0, NULL);
    put_response(s, "g1", "mentor-final", y, "final", "satisfaction", 9.0, NULL);
    assert_int_equal(store_commit(s, NULL), STORE_OK);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/anketa-test-indicator-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/test.db", f->dir);
    struct err e = {0};
    struct store_options opt = {.migrate = 1, .synchronous = "NORMAL"};
    assert_int_equal(store_open(f->db, &opt, &f->s, &e), STORE_OK);
    build_region(f->s);
    *state = f;
    return 0;
}

static void remove_tree(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->s);
    remove_tree(f->dir);
    free(f);
    return 0;
}

static struct indicator_set *load_region(const char *dir)
{
    struct indicator_set *set;
    struct err e = {0};
    if (indicator_set_load(dir, LIB_DIR, &set, &e) < 0)
        fail_msg("%s: %s", dir, e.msg);
    struct err_list errs = {0};
    if (indicator_set_problems(set, &errs)) {
        char msg[1024];
        err_format(&errs.items[0], msg, sizeof msg);
        err_list_free(&errs);
        fail_msg("%s", msg);
    }
    err_list_free(&errs);
    return set;
}

static struct indicator_report *run_period(struct fixture *f, struct indicator_set *set,
                                           const char *period, int explain)
{
    struct indicator_run_options opt = {.period = period, .org = "r", .explain = explain};
    struct indicator_report *r;
    struct err e = {0};
    if (indicator_run(set, f->s, &opt, &r, &e) < 0)
        fail_msg("run: %s", e.msg);
    return r;
}

static const struct indicator_value *val(const struct indicator_report *r, const char *id,
                                         const char *org)
{
    for (size_t d = 0; d < r->ndefs; d++) {
        if (strcmp(r->defs[d]->id, id) != 0)
            continue;
        for (size_t k = 0; k < r->nnodes; k++)
            if (strcmp(r->nodes[k].code, org) == 0)
                return &r->values[d * r->nnodes + k];
    }
    fail_msg("no value of %s at %s", id, org);
    return NULL;
}

static const struct indicator_def *def_of(const struct indicator_report *r, const char *id)
{
    for (size_t d = 0; d < r->ndefs; d++)
        if (strcmp(r->defs[d]->id, id) == 0)
            return r->defs[d];
    fail_msg("no indicator %s", id);
    return NULL;
}

static const struct indicator_part *part(const struct indicator_value *v, const char *key)
{
    for (size_t i = 0; i < v->nparts; i++)
        if (strcmp(v->parts[i].key, key) == 0)
            return &v->parts[i];
    fail_msg("no part %s", key);
    return NULL;
}

#define NEAR(a, b)                                                                                 \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(fabs(a_ - b_) <= 1e-9 * fmax(1.0, fabs(b_))))                                        \
            fail_msg("%s = %.12g, expected %s = %.12g", #a, a_, #b, b_);                           \
    } while (0)

/* A percent value: num, den, and value = num / den * 100. */
static void expect_share(const struct indicator_report *r, const char *id, const char *org,
                         double num, double den)
{
    const struct indicator_value *v = val(r, id, org);
    if (v->state != INDICATOR_OK)
        fail_msg("%s at %s: state %d %s", id, org, (int)v->state, v->error ? v->error : "");
    assert_true(v->has_num);
    NEAR(v->num, num);
    NEAR(v->den, den);
    assert_int_equal(v->has_value, den > 0);
    if (den > 0)
        NEAR(v->value, num / den * 100);
}

static void expect_score(const struct indicator_report *r, const char *id, const char *org,
                         double value, double n)
{
    const struct indicator_value *v = val(r, id, org);
    if (v->state != INDICATOR_OK)
        fail_msg("%s at %s: state %d %s", id, org, (int)v->state, v->error ? v->error : "");
    assert_true(v->has_value && v->has_n);
    NEAR(v->value, value);
    NEAR(v->n, n);
}

static void expect_none(const struct indicator_report *r, const char *id, const char *org)
{
    const struct indicator_value *v = val(r, id, org);
    if (v->state != INDICATOR_NONE)
        fail_msg("%s at %s: state %d, expected no data", id, org, (int)v->state);
    assert_false(v->has_value);
}

static void test_demo_participation(void **state)
{
    struct fixture *f = *state;
    struct indicator_set *set = load_region("lua/regions/demo");
    assert_int_equal(indicator_set_count(set), 11);
    assert_string_equal(indicator_set_root(set), "demo-region");
    struct indicator_report *r = run_period(f, set, "2026/27", 0);
    assert_int_equal(r->failures, 0);

    /* KPI 1: pupils 10-18 in a pair that overlaps 2026/27. s1: a1 (14), a2 (17), a4 (15);
     * not a3 (9), a5 (no pair), a6 (pair ended 2026-06-30). s2: c1 (13), c2 (10), not c3
     * (a student). s3: f1 (14, h2's pair). Enterprises have no pupils_10_18: no data. */
    expect_share(r, "kpi1_mentees", "s1", 3, 40);
    expect_share(r, "kpi1_mentees", "s2", 2, 50);
    expect_share(r, "kpi1_mentees", "s3", 1, 10);
    expect_none(r, "kpi1_mentees", "e1");
    expect_share(r, "kpi1_mentees", "m1", 3 + 2, 40 + 50);
    expect_share(r, "kpi1_mentees", "m2", 1, 10);
    expect_share(r, "kpi1_mentees", "r", 3 + 2 + 1, 40 + 50 + 10);
    /* Never the mean of the schools' percentages: (7.5 + 4) / 2 = 5.75 is not m1's value. */
    assert_true(fabs(val(r, "kpi1_mentees", "m1")->value - 5.75) > 0.1);

    /* KPI 2: pupil mentors 15-18 in a pair: b1 (16); not b2 (14) or b3 (pair ended). d1
     * (15); not d2 (19). s3 has none. */
    expect_share(r, "kpi2_mentors", "s1", 1, 20);
    expect_share(r, "kpi2_mentors", "s2", 1, 25);
    expect_share(r, "kpi2_mentors", "s3", 0, 5);
    expect_share(r, "kpi2_mentors", "m1", 1 + 1, 20 + 25);
    expect_share(r, "kpi2_mentors", "r", 2, 20 + 25 + 5);

    /* KPI 3: teacher mentees with 0-3 years in a pair: t1 (1), t2 (3); not t3 (5) or t4
     * (no pair). s2 has no teachers_0_3 figure: no data, and nothing added to m1. */
    expect_share(r, "kpi3_young_teachers", "s3", 2, 4);
    expect_share(r, "kpi3_young_teachers", "s1", 0, 2);
    expect_none(r, "kpi3_young_teachers", "s2");
    expect_share(r, "kpi3_young_teachers", "m1", 0, 2);
    expect_share(r, "kpi3_young_teachers", "r", 2, 2 + 4);

    /* KPI 4 (recomputed per level): enterprises whose employer mentor has a pair in the
     * year: e1 (g1) in m1, e3 (h2) in m2; not e2 (h1's pair ended 2026-08-01). The region
     * has no partner_orgs of its own: the sum of its municipalities' 40 + 10. */
    expect_none(r, "kpi4_partners", "s1");
    expect_none(r, "kpi4_partners", "e1");
    expect_share(r, "kpi4_partners", "m1", 1, 40);
    expect_share(r, "kpi4_partners", "m2", 1, 10);
    expect_share(r, "kpi4_partners", "r", 2, 40 + 10);

    /* The demo keeps seed 002's 2024 target in later years; none before the road map. */
    double t;
    assert_true(indicator_target(def_of(r, "kpi1_mentees"), 2026, &t));
    NEAR(t, 70);
    assert_false(indicator_target(def_of(r, "kpi1_mentees"), 2019, &t));
    indicator_report_free(r);

    /* 2024/25 has its target (the road map's 2024 column) and no data. */
    r = run_period(f, set, "2024/25", 0);
    const struct indicator_def *kpi1 = def_of(r, "kpi1_mentees");
    assert_true(indicator_target(kpi1, 2024, &t));
    NEAR(t, 70);
    assert_true(indicator_target(kpi1, 2020, &t));
    NEAR(t, 10);
    /* No pupils_10_18 for 2024/25: no data, and the target is there all the same. */
    expect_none(r, "kpi1_mentees", "s1");
    indicator_report_free(r);
    indicator_set_free(set);
}

static void test_demo_satisfaction(void **state)
{
    struct fixture *f = *state;
    struct indicator_set *set = load_region("lua/regions/demo");
    struct indicator_report *r = run_period(f, set, "2026/27", 0);
    /* KPI 5: mentees' satisfaction >= 8 in 2026/27 (a1's 2 of 2025/26 is another year).
     * s1: a1 9, a2 7.5, a4 8 -> 2 of 3. s2: c1 6, c2 10 -> 1 of 2. s3: f1 8.5, t1 4 -> 1/2. */
    expect_share(r, "kpi5_mentee_satisfaction", "s1", 2, 3);
    expect_share(r, "kpi5_mentee_satisfaction", "s2", 1, 2);
    expect_share(r, "kpi5_mentee_satisfaction", "s3", 1, 2);
    expect_none(r, "kpi5_mentee_satisfaction", "e1");
    expect_share(r, "kpi5_mentee_satisfaction", "m1", 2 + 1, 3 + 2);
    expect_share(r, "kpi5_mentee_satisfaction", "r", 2 + 1 + 1, 3 + 2 + 2);
    /* KPI 6: mentors. s1: b1 8, b2 7.9 -> 1/2; s2: d1 10 -> 1/1; e1: g1 9 -> 1/1 (an
     * enterprise's mentor); s3: t5 5 -> 0/1. */
    expect_share(r, "kpi6_mentor_satisfaction", "s1", 1, 2);
    expect_share(r, "kpi6_mentor_satisfaction", "e1", 1, 1);
    expect_share(r, "kpi6_mentor_satisfaction", "m1", 1 + 1 + 1, 2 + 1 + 1);
    expect_share(r, "kpi6_mentor_satisfaction", "m2", 0, 1);
    expect_share(r, "kpi6_mentor_satisfaction", "r", 3, 5);
    indicator_report_free(r);
    indicator_set_free(set);
}

static void test_demo_growth(void **state)
{
    struct fixture *f = *state;
    struct indicator_set *set = load_region("lua/regions/demo");
    struct indicator_report *r = run_period(f, set, "2026/27", 0);
    /* Motivation, final - entry. s1: a1 7-5 = +2 (pupil-pupil), a2 4-3 = +1 (pupil-pupil:
     * its later entry, 3, is the one paired), a4 9-6 = +3 (employer-pupil); a5 has no final.
     * s2: c1 6-7 = -1, c2 8-5 = +3 (pupil-pupil). s3: f1 6-2 = +4 (employer-pupil), t1
     * 7-6 = +1 (teacher-teacher). */
    expect_score(r, "growth_motivation", "s1", (2.0 + 1 + 3) / 3, 3);
    expect_score(r, "growth_motivation", "s2", (-1.0 + 3) / 2, 2);
    expect_score(r, "growth_motivation", "s3", (4.0 + 1) / 2, 2);
    expect_none(r, "growth_motivation", "e1");
    /* Weighted by n: m1 (2 * 3 + 1 * 2) / 5, the mean of its five participants' growth. */
    expect_score(r, "growth_motivation", "m1", (2.0 * 3 + 1.0 * 2) / 5, 5);
    expect_score(r, "growth_motivation", "r", (2.0 + 1 + 3 - 1 + 3 + 4 + 1) / 7, 7);
    const struct indicator_value *v = val(r, "growth_motivation", "s1");
    NEAR(part(v, "pupil-pupil")->value, (2.0 + 1) / 2);
    NEAR(part(v, "pupil-pupil")->n, 2);
    NEAR(part(v, "employer-pupil")->value, 3);
    v = val(r, "growth_motivation", "r");
    assert_int_equal(v->nparts, 3);
    NEAR(part(v, "pupil-pupil")->value, (2.0 + 1 - 1 + 3) / 4);
    NEAR(part(v, "employer-pupil")->value, (3.0 + 4) / 2);
    NEAR(part(v, "teacher-teacher")->value, 1);
    NEAR(part(v, "teacher-teacher")->n, 1);

    /* Positive growth: s1 3 of 3, s2 1 of 2 (c2), s3 2 of 2; the region 6 of 7. */
    expect_share(r, "positive_motivation", "s1", 3, 3);
    expect_share(r, "positive_motivation", "s2", 1, 2);
    expect_share(r, "positive_motivation", "m1", 4, 5);
    expect_share(r, "positive_motivation", "r", 6, 7);
    v = val(r, "positive_motivation", "r");
    NEAR(part(v, "pupil-pupil")->num, 3);
    NEAR(part(v, "pupil-pupil")->den, 4);

    /* Competence: a1 6-5 = +1 (pupil-pupil), a4 5-5 = 0 (employer-pupil), f1 6-7 = -1. */
    expect_score(r, "growth_competence", "s1", (1.0 + 0) / 2, 2);
    expect_none(r, "growth_competence", "s2");
    expect_score(r, "growth_competence", "m2", -1, 1);
    expect_score(r, "growth_competence", "r", (1.0 + 0 - 1) / 3, 3);
    expect_share(r, "positive_competence", "s1", 1, 2);
    expect_share(r, "positive_competence", "r", 1, 3);

    /* Effect size d_z = mean / sd of the diffs, recomputed over every subtree (not summed).
     * s1: diffs 2, 1, 3: mean 2, sd sqrt((0 + 1 + 1) / 2) = 1. */
    expect_score(r, "effect_motivation", "s1", 2.0 / 1.0, 3);
    /* s2: -1, 3: mean 1, sd sqrt((4 + 4) / 1). */
    expect_score(r, "effect_motivation", "s2", 1.0 / sqrt(8.0), 2);
    /* m1: 2, 1, 3, -1, 3: mean 1.6, squares of deviations 0.16 + 0.36 + 1.96 + 6.76 + 1.96. */
    expect_score(r, "effect_motivation", "m1", 1.6 / sqrt((0.16 + 0.36 + 1.96 + 6.76 + 1.96) / 4),
                 5);
    /* r: 2, 1, 3, -1, 3, 4, 1: mean 13/7; sum of squares 41 - 7 (13/7)^2 = 118/7. */
    expect_score(r, "effect_motivation", "r", (13.0 / 7) / sqrt(118.0 / 7 / 6), 7);
    indicator_report_free(r);
    indicator_set_free(set);
}

static void test_demo2(void **state)
{
    struct fixture *f = *state;
    struct indicator_set *set = load_region("lua/regions/demo2");
    assert_int_equal(indicator_set_count(set), 3);
    struct indicator_report *r = run_period(f, set, "2026/27", 0);
    assert_int_equal(r->failures, 0);
    /* Satisfaction as mean / 10 * 100, written num = sum of scores, den = 10 * n. s1: 9 +
     * 7.5 + 8 of 3; s2: 6 + 10 of 2; s3: 8.5 + 4 of 2. */
    expect_share(r, "satisfaction_mentees", "s1", 9 + 7.5 + 8, 10 * 3);
    NEAR(val(r, "satisfaction_mentees", "s1")->value, (9 + 7.5 + 8) / 3 / 10 * 100);
    expect_share(r, "satisfaction_mentees", "s2", 6 + 10, 10 * 2);
    expect_share(r, "satisfaction_mentees", "m1", 9 + 7.5 + 8 + 6 + 10, 10 * 5);
    expect_share(r, "satisfaction_mentees", "r", 9 + 7.5 + 8 + 6 + 10 + 8.5 + 4, 10 * 7);
    expect_share(r, "satisfaction_mentors", "m1", 8 + 7.9 + 10 + 9, 10 * 4);
    expect_share(r, "satisfaction_mentors", "m2", 5, 10);
    /* demo counts 4 of 7 mentees satisfied (57 %); demo2 reads the same answers as 75.7 %. */
    NEAR(val(r, "satisfaction_mentees", "r")->value, 53.0 / 70 * 100);
    /* The target of 2026 comes from targets.csv. */
    double t;
    assert_true(indicator_target(def_of(r, "satisfaction_mentees"), 2026, &t));
    NEAR(t, 80);
    assert_true(indicator_target(def_of(r, "pairs_finished"), 2026, &t));
    NEAR(t, 85);

    /* Pairs that ended in 2026/27: s1 a1's (finished); s2 c1's (finished) and c3's
     * (broken). b3-a6 and h1-f1 ended before the year. s3: none ended. */
    expect_share(r, "pairs_finished", "s1", 1, 1);
    expect_share(r, "pairs_finished", "s2", 1, 2);
    expect_none(r, "pairs_finished", "s3");
    expect_share(r, "pairs_finished", "m1", 2, 3);
    expect_none(r, "pairs_finished", "m2");
    expect_share(r, "pairs_finished", "r", 2, 3);
    NEAR(part(val(r, "pairs_finished", "r"), "pupil-pupil")->den, 3);
    indicator_report_free(r);
    indicator_set_free(set);
}

static void test_values_stored(void **state)
{
    struct fixture *f = *state;
    struct indicator_set *set = load_region("lua/regions/demo");
    struct indicator_report *r = run_period(f, set, "2026/27", 0);
    struct err e = {0};
    assert_int_equal(indicator_report_store(f->s, r, &e), 0);
    indicator_report_free(r);
    struct arena *a = arena_new();
    struct ind_value_rec *rows;
    size_t n;
    assert_int_equal(store_ind_get_values(f->s, a, "demo", "2026/27", "m1", &rows, &n, &e),
                     STORE_OK);
    /* 11 indicators x m1 and its 3 organisations. */
    assert_int_equal(n, 11 * 4);
    const struct ind_value_rec *kpi1 = NULL, *growth = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(rows[i].indicator, "kpi1_mentees") == 0 && strcmp(rows[i].org_code, "s1") == 0)
            kpi1 = &rows[i];
        if (strcmp(rows[i].indicator, "growth_motivation") == 0 &&
            strcmp(rows[i].org_code, "s1") == 0)
            growth = &rows[i];
    }
    assert_non_null(kpi1);
    assert_true(kpi1->has_num && kpi1->has_value);
    NEAR(kpi1->num, 3);
    NEAR(kpi1->den, 40);
    NEAR(kpi1->value, 7.5);
    assert_true(kpi1->has_target);
    NEAR(kpi1->target, 70);
    assert_null(kpi1->error);
    assert_int_equal(strlen(kpi1->script_hash), 64);
    assert_non_null(growth);
    assert_string_equal(growth->breakdown, "[{\"key\":\"employer-pupil\",\"value\":3.0,\"n\":1.0},"
                                           "{\"key\":\"pupil-pupil\",\"value\":1.5,\"n\":2.0}]");
    struct ind_run_rec run;
    assert_int_equal(store_ind_last_run(f->s, a, "demo", &run, &e), STORE_OK);
    assert_int_equal(run.indicators, 11);
    assert_int_equal(run.failures, 0);
    assert_string_equal(run.period, "2026/27");
    assert_string_equal(run.script_hash, indicator_set_hash(set));
    assert_true(run.memory_kb > 0);
    arena_free(a);
    indicator_set_free(set);
}

static void test_explain(void **state)
{
    struct fixture *f = *state;
    struct indicator_set *set = load_region("lua/regions/demo");
    struct indicator_report *r = run_period(f, set, "2026/27", 1);
    const struct indicator_value *v = val(r, "kpi1_mentees", "s1");
    assert_string_equal(v->explain, "count_participants{role=mentee, kind=pupil, age_from=10, "
                                    "age_to=18, in_pairs=true} = 3\n"
                                    "figure(pupils_10_18) = 40\n");
    v = val(r, "kpi1_mentees", "m1");
    assert_string_equal(v->explain, "sum of s1 3/40 + s2 2/50\n");
    v = val(r, "kpi5_mentee_satisfaction", "s2");
    assert_string_equal(v->explain, "share_at_least{survey=mentee-final, scale=satisfaction, "
                                    "min=8} = 1 of 2\n");
    char *out = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&out, &len);
    indicator_report_print(mem, r, 1);
    fclose(mem);
    assert_non_null(strstr(out, "kpi1_mentees  Доля обучающихся 10–18 лет в роли наставляемого"));
    /* s1's row: organisation, num, den, value, target. */
    const char *row = strstr(strstr(out, "kpi1_mentees  "), "\n      s1 ");
    assert_non_null(row);
    char cols[5][64];
    assert_int_equal(
        sscanf(row, "%63s %63s %63s %63s %63s", cols[0], cols[1], cols[2], cols[3], cols[4]), 5);
    assert_string_equal(cols[1], "3");
    assert_string_equal(cols[2], "40");
    assert_string_equal(cols[3], "7.50");
    assert_string_equal(cols[4], "70");
    assert_non_null(strstr(out, "| figure(pupils_10_18) = 40"));
    assert_non_null(strstr(out, "| sum of m1 5/90 + m2 1/10"));
    free(out);
    indicator_report_free(r);
    indicator_set_free(set);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

static void make_dir(char *out, size_t size, const char *parent, const char *name)
{
    snprintf(out, size, "%s/%s", parent, name);
    assert_int_equal(mkdir(out, 0700), 0);
}

#define SIMPLE_HEAD "return {id = \"%s\", title = \"T\", unit = \"count\", period = \"year\",\n"

static void write_indicator(const char *dir, const char *id, const char *compute)
{
    char name[64], text[2048];
    snprintf(name, sizeof name, "%s.lua", id);
    snprintf(text, sizeof text, SIMPLE_HEAD "compute = function(ctx)\n%s\nend}\n", id, compute);
    write_file(dir, name, text);
}

static void test_failing_scripts_fail_alone(void **state)
{
    struct fixture *f = *state;
    char dir[128];
    make_dir(dir, sizeof dir, f->dir, "hostile");
    write_file(dir, "region.lua", "return {org = 'r', params = {limit = 3}}\n");
    write_indicator(dir, "a_good", "  return {value = ctx.count_participants{role = 'mentee'}}");
    write_indicator(dir, "b_fails_at_s2",
                    "  if ctx.org.code == 's2' then\n    local n = nil\n    return {value = n + "
                    "1}\n  end\n  return {value = 1}");
    write_indicator(dir, "c_loops", "  while true do pcall(function() while true do end end) end");
    write_indicator(dir, "d_memory",
                    "  local s, t = string.rep('x', 1e6), {}\n"
                    "  while true do t[#t + 1] = s .. #t end");
    write_indicator(dir, "e_tampers",
                    "  string.upper = nil\n  _G.leak = 1\n  getmetatable('').__index = {}");
    write_indicator(dir, "f_after",
                    "  return {value = #('ab'):upper() + (leak or 0) + #string.rep('x', 3)}");
    write_indicator(dir, "g_ctx_write", "  ctx.org.code = 'x'");
    write_indicator(dir, "h_ctx_rawset", "  rawset(ctx, 'figure', print)");
    write_indicator(dir, "i_escape", "  return {value = os.time()}");
    write_indicator(dir, "j_wrong_shape", "  return {num = 1, den = 2}");
    write_indicator(dir, "k_bad_option", "  return {value = ctx.count_participants{rol = 'x'}}");
    struct indicator_set *set = load_region(dir);
    assert_int_equal(indicator_set_count(set), 11);
    struct indicator_run_options opt = {
        .period = "2026/27",
        .org = "r",
        .limits = {.time_ms = 300, .memory = (size_t)16 << 20},
    };
    struct indicator_report *r;
    struct err e = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(indicator_run(set, f->s, &opt, &r, &e), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* Only the looping indicator waits for its deadline: about 0.3 s in all. */
    assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 2000);

    /* The good one computes everywhere: s1 has a1..a6 as mentees. */
    NEAR(val(r, "a_good", "s1")->value, 6);
    NEAR(val(r, "a_good", "r")->value, 6 + 3 + 5);
    /* One organisation fails with file:line; its neighbours compute; what contains it fails. */
    char where[256];
    snprintf(where, sizeof where,
             "%s/b_fails_at_s2.lua:5: attempt to perform arithmetic on a nil "
             "value (local 'n')",
             dir);
    assert_string_equal(val(r, "b_fails_at_s2", "s2")->error, where);
    assert_int_equal(val(r, "b_fails_at_s2", "s1")->state, INDICATOR_OK);
    assert_int_equal(val(r, "b_fails_at_s2", "m2")->state, INDICATOR_OK);
    assert_int_equal(val(r, "b_fails_at_s2", "m1")->state, INDICATOR_FAILED);
    assert_non_null(strstr(val(r, "b_fails_at_s2", "m1")->error,
                           "not computed: 1 of 3 organisations below failed (s2: "));
    assert_int_equal(val(r, "b_fails_at_s2", "r")->state, INDICATOR_FAILED);
    /* The loop ends at its deadline, for every organisation, pcall or not. */
    assert_non_null(strstr(val(r, "c_loops", "s1")->error, "time limit of 300 ms exceeded"));
    assert_non_null(strstr(val(r, "c_loops", "e3")->error, "time limit of 300 ms exceeded"));
    assert_non_null(strstr(val(r, "d_memory", "s1")->error, "memory limit of 16 MB exceeded"));
    assert_non_null(strstr(val(r, "d_memory", "s1")->error, "d_memory.lua"));
    /* e_tampers fails on the read-only string metatable; f_after's state is untouched. */
    assert_non_null(strstr(val(r, "e_tampers", "s1")->error,
                           "attempt to modify a read-only table (field '__index')"));
    NEAR(val(r, "f_after", "s1")->value, 2 + 0 + 3);
    assert_non_null(
        strstr(val(r, "g_ctx_write", "s1")->error,
               "g_ctx_write.lua:3: attempt to modify a read-only table (field 'code')"));
    assert_non_null(strstr(val(r, "h_ctx_rawset", "s1")->error, "table expected, got userdata"));
    assert_non_null(strstr(val(r, "i_escape", "s1")->error, "global 'os'"));
    snprintf(where, sizeof where,
             "%s/j_wrong_shape.lua:2: compute returned {...}: a count indicator returns {value = "
             "...}",
             dir);
    assert_string_equal(val(r, "j_wrong_shape", "s1")->error, where);
    assert_non_null(strstr(val(r, "k_bad_option", "s1")->error,
                           "k_bad_option.lua:3: count_participants: unknown option 'rol' "
                           "(expected role, kind, age_from, age_to, experience_min, "
                           "experience_max, form, in_pairs)"));
    assert_int_equal(r->failures, 9);
    assert_true(r->memory_peak >= (size_t)15 << 20);
    indicator_report_free(r);
    indicator_set_free(set);
}

static void test_accessor_errors_and_periods(void **state)
{
    struct fixture *f = *state;
    char dir[128];
    make_dir(dir, sizeof dir, f->dir, "periods");
    write_file(dir, "region.lua", "return {org = 'r'}\n");
    write_file(dir, "half.lua",
               "return {id = 'half', title = {ru = 'Полугодие', en = 'Half'}, unit = 'count',\n"
               "  period = 'half', compute = function(ctx)\n"
               "  local f = ctx.figure('pupils_10_18')\n"
               "  return {value = ctx.count_responses{survey = 'mentee-entry'} + (f or 0) / 1000}\n"
               "end}\n");
    write_file(dir, "yearly.lua",
               "return {id = 'yearly', title = 'Y', unit = 'score', period = 'year',\n"
               "  compute = function(ctx)\n"
               "  local s = ctx.scores{survey = 'mentee-final', scale = 'satisfaction', "
               "wave = 'итоговое'}\n"
               "  if s.n == 0 then return nil end\n"
               "  return {value = s.mean, n = s.n}\nend}\n");
    struct indicator_set *set = load_region(dir);
    struct indicator_report *r = run_period(f, set, "2026/27-H1", 0);
    /* A half: the yearly indicator is skipped; entry responses of 2026/27-Q1 fall inside
     * 2026/27-H1 (a2's second entry), those of the whole year do not; the figure of the
     * school year stands in for the half's (40 / 1000). */
    assert_int_equal(val(r, "yearly", "s1")->state, INDICATOR_SKIPPED);
    NEAR(val(r, "half", "s1")->value, 1 + 40.0 / 1000);
    NEAR(val(r, "half", "m1")->value, 1 + 90.0 / 1000);
    indicator_report_free(r);
    r = run_period(f, set, "2026/27", 0);
    /* The Russian word of the wave is understood; s1's mean satisfaction (9 + 7.5 + 8) / 3. */
    NEAR(val(r, "yearly", "s1")->value, (9 + 7.5 + 8) / 3);
    NEAR(val(r, "yearly", "r")->value, (9 + 7.5 + 8 + 6 + 10 + 8.5 + 4) / 7);
    assert_int_equal(val(r, "half", "s1")->state, INDICATOR_SKIPPED);
    indicator_report_free(r);
    struct indicator_run_options bad = {.period = "2026/28", .org = "r"};
    struct err e = {0};
    assert_int_equal(indicator_run(set, f->s, &bad, &r, &e), -1);
    assert_non_null(strstr(e.msg, "period \"2026/28\" is not a school year"));
    struct indicator_run_options unknown = {.period = "2026/27", .org = "nowhere"};
    assert_int_equal(indicator_run(set, f->s, &unknown, &r, &e), -1);
    assert_string_equal(e.msg, "unknown organisation \"nowhere\"");
    indicator_set_free(set);
}

static void test_check_reports_problems(void **state)
{
    struct fixture *f = *state;
    char dir[128];
    make_dir(dir, sizeof dir, f->dir, "broken");
    write_file(dir, "syntax.lua", "return {\n  id = 'syntax',\n  unit = = 'count'}\n");
    write_file(dir, "missing.lua",
               "return {id = 'missing', title = 'M', period = 'year',\n"
               "  compute = function() end}\n");
    write_file(dir, "unit.lua",
               "return {id = 'unit', title = 'U', unit = 'percentage', period = "
               "'year', compute = function() end}\n");
    write_file(dir, "targets.lua",
               "return {id = 'targets', title = 'T', unit = 'count', period = 'year',\n"
               "  targets = {[2020] = 'ten'}, compute = function() end}\n");
    write_file(dir, "field.lua",
               "return {id = 'field', title = 'F', unit = 'count', period = "
               "'year', unti = 1, compute = function() end}\n");
    write_file(dir, "zdup.lua",
               "return {id = 'fine', title = 'D', unit = 'count', period = "
               "'year', compute = function() end}\n");
    write_file(dir, "file.lua",
               "return {id = 'file', title = 'F', unit = 'count', period = "
               "'year', targets_file = 'goals.csv', compute = function() end}\n");
    write_file(dir, "goals.csv", "indicator;year;target\nfile;2025;1,5\nfile;20x5;2\n");
    write_file(dir, "runtime.lua", "local x = nil\nreturn x.y\n");
    write_file(dir, "bytecode.lua", "\x1bLua\x54\x00");
    write_file(dir, "fine.lua",
               "return {id = 'fine', title = 'F', unit = 'count', period = "
               "'quarter', compute = function() return {value = 1} end}\n");
    struct indicator_set *set;
    struct err e = {0};
    assert_int_equal(indicator_set_load(dir, LIB_DIR, &set, &e), 0);
    assert_int_equal(indicator_set_count(set), 1); /* fine */
    struct err_list errs = {0};
    indicator_set_problems(set, &errs);
    char all[4096] = "";
    for (size_t i = 0; i < errs.n; i++) {
        char line[600];
        err_format(&errs.items[i], line, sizeof line);
        const char *rel = strstr(line, "/broken/") ? strstr(line, "/broken/") + 8 : line;
        strncat(all, rel, sizeof all - strlen(all) - 2);
        strcat(all, "\n");
    }
    char want[2048];
    snprintf(want, sizeof want,
             "bytecode.lua: precompiled (bytecode) chunks are not accepted\n"
             "field.lua: indicator: unknown field 'unti' (expected id, title, unit, period, "
             "rollup, targets, targets_file, description, compute)\n"
             "file.lua: targets_file: \"goals.csv\" has a problem (see its own message)\n"
             "goals.csv:3: year \"20x5\" is not a year such as 2024\n"
             "missing.lua: missing field 'unit' (percent, ratio, count or score)\n"
             "runtime.lua:2: attempt to index a nil value (local 'x')\n"
             "syntax.lua:3: unexpected symbol near '='\n"
             "targets.lua: targets[2020] is not a number (got string)\n"
             "unit.lua: unit \"percentage\" is not one of percent, ratio, count, score\n"
             "zdup.lua: id \"fine\" is already the id of %s/fine.lua\n",
             dir);
    assert_string_equal(all, want);
    /* The files are named with their directory, and syntax errors with their line. */
    assert_string_equal(errs.items[6].file, strcat(strcpy(want, dir), "/syntax.lua"));
    assert_int_equal(errs.items[6].line, 3);
    err_list_free(&errs);
    indicator_set_free(set);
}

static void test_hot_reload(void **state)
{
    struct fixture *f = *state;
    char dir[128], lib[128];
    make_dir(dir, sizeof dir, f->dir, "live");
    make_dir(lib, sizeof lib, f->dir, "lib");
    write_file(lib, "helper.lua", "return {k = 10}\n");
    write_file(dir, "region.lua", "return {org = 'r'}\n");
    write_indicator(dir, "live", "  return {value = 1}");
    struct indicator_set *set;
    struct err e = {0};
    assert_int_equal(indicator_set_load(dir, lib, &set, &e), 0);
    char hash[65];
    memcpy(hash, indicator_set_hash(set), sizeof hash);
    struct indicator_report *r = run_period(f, set, "2026/27", 0);
    NEAR(val(r, "live", "s1")->value, 1);
    indicator_report_free(r);

    int changed = -1;
    assert_int_equal(indicator_reload_if_changed(set, &changed, &e), 0);
    assert_int_equal(changed, 0);

    /* An edit is picked up. */
    write_indicator(dir, "live", "  return {value = require('helper').k + 2}");
    assert_int_equal(indicator_reload_if_changed(set, &changed, &e), 0);
    assert_int_equal(changed, 1);
    assert_string_not_equal(indicator_set_hash(set), hash);
    r = run_period(f, set, "2026/27", 0);
    NEAR(val(r, "live", "s1")->value, 12);
    indicator_report_free(r);

    /* So is a library's, by the indicators that require it. */
    write_file(lib, "helper.lua", "return {k = 20}\n");
    assert_int_equal(indicator_reload_if_changed(set, &changed, &e), 0);
    assert_int_equal(changed, 1);
    r = run_period(f, set, "2026/27", 0);
    NEAR(val(r, "live", "s1")->value, 22);
    indicator_report_free(r);

    /* A broken edit reports its line and leaves the last good version computing. */
    write_file(dir, "live.lua",
               "return {id = 'live', title = 'T', unit = 'count', period = "
               "'year',\n  compute = function(ctx)\n    return {value = 3 +}\n"
               "  end}\n");
    assert_int_equal(indicator_reload_if_changed(set, &changed, &e), 0);
    assert_int_equal(changed, 1);
    struct err_list errs = {0};
    assert_int_equal(indicator_set_problems(set, &errs), 1);
    assert_int_equal(errs.items[0].line, 3);
    assert_string_equal(errs.items[0].msg, "unexpected symbol near '}'");
    assert_non_null(strstr(errs.items[0].file, "/live/live.lua"));
    err_list_free(&errs);
    assert_int_equal(indicator_set_count(set), 1);
    r = run_period(f, set, "2026/27", 0);
    NEAR(val(r, "live", "s1")->value, 22);
    indicator_report_free(r);

    /* A broken library too: the indicators keep the last good library. */
    write_file(lib, "helper.lua", "return {k = }\n");
    assert_int_equal(indicator_reload_if_changed(set, &changed, &e), 0);
    errs = (struct err_list){0};
    assert_int_equal(indicator_set_problems(set, &errs), 2);
    err_list_free(&errs);

    /* Fixed, both: the problems go. A new file comes in; a deleted one goes. */
    write_file(lib, "helper.lua", "return {k = 30}\n");
    write_indicator(dir, "live", "  return {value = require('helper').k + 3}");
    write_indicator(dir, "second", "  return {value = 7}");
    assert_int_equal(indicator_reload_if_changed(set, &changed, &e), 0);
    assert_int_equal(changed, 3);
    errs = (struct err_list){0};
    assert_int_equal(indicator_set_problems(set, &errs), 0);
    err_list_free(&errs);
    assert_int_equal(indicator_set_count(set), 2);
    r = run_period(f, set, "2026/27", 0);
    NEAR(val(r, "live", "s1")->value, 33);
    NEAR(val(r, "second", "r")->value, 7 * 6); /* six organisations, summed up */
    indicator_report_free(r);
    char path[256];
    snprintf(path, sizeof path, "%s/second.lua", dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(indicator_reload_if_changed(set, &changed, &e), 0);
    assert_int_equal(changed, 1);
    assert_int_equal(indicator_set_count(set), 1);
    indicator_set_free(set);
}

static void test_isolated_job(void **state)
{
    struct fixture *f = *state;
    struct indicator_set *set = load_region("lua/regions/demo");
    /* The parent keeps its own connection open, as the server would. */
    struct indicator_job job = {.db = f->db, .run = {.period = "2026/27", .org = "r"}};
    struct err e = {0};
    assert_int_equal(indicator_run_isolated(set, &job, &e), 0);
    struct arena *a = arena_new();
    struct ind_value_rec *rows;
    size_t n;
    assert_int_equal(store_ind_get_values(f->s, a, "demo", "2026/27", "s1", &rows, &n, &e),
                     STORE_OK);
    assert_int_equal(n, 11);
    assert_string_equal(rows[3].indicator, "kpi1_mentees"); /* by id */
    NEAR(rows[3].num, 3);
    struct ind_run_rec run;
    assert_int_equal(store_ind_last_run(f->s, a, "demo", &run, &e), STORE_OK);
    assert_int_equal(run.indicators, 11);
    arena_free(a);
    indicator_set_free(set);

    /* The backstop: a script that never ends, a deadline longer than the child's CPU limit. */
    char dir[128];
    make_dir(dir, sizeof dir, f->dir, "stuck");
    write_file(dir, "region.lua", "return {org = 'r'}\n");
    write_indicator(dir, "stuck", "  while true do end");
    set = load_region(dir);
    job.run.limits.time_ms = 600000;
    job.cpu_seconds = 1;
    assert_int_equal(indicator_run_isolated(set, &job, &e), -1);
    assert_non_null(strstr(e.msg, "the computation was stopped by signal"));
    assert_non_null(strstr(e.msg, "it reached its CPU time limit"));

    /* With the sandbox's deadline, the same script fails alone and the job reports it. */
    job.run.limits.time_ms = 100;
    assert_int_equal(indicator_run_isolated(set, &job, &e), 1);

    job.db = "/nonexistent/anketa.db";
    assert_int_equal(indicator_run_isolated(set, &job, &e), -1);
    assert_non_null(strstr(e.msg, "no such database"));
    indicator_set_free(set);
}

static void test_script_tests(void **state)
{
    struct fixture *f = *state;
    static const char *const regions[] = {"lua/regions/demo", "lua/regions/demo2"};
    static const long passed[] = {19, 8};
    for (size_t i = 0; i < 2; i++) {
        struct indicator_set *set = load_region(regions[i]);
        char *out = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&out, &len);
        struct indicator_test_result res;
        struct err e = {0};
        assert_int_equal(indicator_test_dir(set, regions[i], f->dir, mem, &res, &e), 0);
        fclose(mem);
        if (res.failed)
            fail_msg("%s", out);
        assert_int_equal(res.files, 1);
        assert_int_equal(res.passed, passed[i]);
        free(out);
        indicator_set_free(set);
    }

    char dir[128];
    make_dir(dir, sizeof dir, f->dir, "authored");
    write_file(dir, "region.lua", "return {org = 'top'}\n");
    write_indicator(dir, "pupils", "  return {value = ctx.count_participants{kind = 'pupil'}}");
    write_file(dir, "a_test.lua",
               "fixture{orgs = {{code = 'top', level = 'region'},\n"
               "  {code = 'sch', parent = 'top', level = 'организация', kind = 'школа'}},\n"
               "  participants = {{code = 'x', org = 'sch', role = 'mentee', kind = 'pupil'},\n"
               "                  {code = 'y', org = 'sch', role = 'mentor', kind = 'pupil'}}}\n"
               "local r = run{period = '2026/27'}\n"
               "expect_eq(r.pupils.sch.value, 2)\n"
               "expect_eq(r.pupils.top.value, 3, 'two pupils')\n"
               "expect_nil(r.pupils.sch.error)\n");
    write_file(dir, "b_test.lua", "fixture{orgs = {{code = 'top'}}}\n");
    struct indicator_set *set = load_region(dir);
    char *out = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&out, &len);
    struct indicator_test_result res;
    struct err e = {0};
    assert_int_equal(indicator_test_dir(set, dir, f->dir, mem, &res, &e), 0);
    fclose(mem);
    assert_int_equal(res.files, 2);
    assert_int_equal(res.passed, 2);
    assert_int_equal(res.failed, 2);
    char want[1024];
    snprintf(want, sizeof want,
             "%s/a_test.lua:7: expected 3, got 2 (two pupils)\n"
             "%s/a_test.lua: 2 passed, 1 failed\n"
             "%s/b_test.lua:1: fixture: orgs[1]: level is required (region, municipality, "
             "organisation)\n"
             "%s/b_test.lua: 0 passed, 1 failed\n",
             dir, dir, dir, dir);
    assert_string_equal(out, want);
    free(out);
    indicator_set_free(set);
}

static long direct_count(const char *db, const char *sql)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long n = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

static void test_scores_follow_the_registry(void **state)
{
    struct fixture *f = *state;
    /* Every score of a response given in a campaign is copied for the indicators. */
    assert_int_equal(direct_count(f->db, "SELECT count(*) FROM indicator_scores"),
                     direct_count(f->db, "SELECT count(*) FROM response_scores"));
    struct indicator_set *set = load_region("lua/regions/demo");

    /* c2 (satisfaction 10, motivation 5 -> 8) moves to s1: s1 3 of 4 satisfied, s2 0 of 1. */
    put_person(f->s, "c2", "s1", "p3", "mentee", "pupil", 2016, -1);
    struct indicator_report *r = run_period(f, set, "2026/27", 0);
    expect_share(r, "kpi5_mentee_satisfaction", "s1", 2 + 1, 3 + 1);
    expect_share(r, "kpi5_mentee_satisfaction", "s2", 0, 1);
    expect_score(r, "growth_motivation", "s1", (2.0 + 1 + 3 + 3) / 4, 4);
    indicator_report_free(r);

    /* Erasing a1 (152-FZ) takes its three responses and their scores with it. */
    long n;
    struct err e = {0};
    assert_int_equal(store_erase_participant(f->s, "a1", &n, &e), STORE_OK);
    assert_int_equal(n, 3);
    assert_int_equal(direct_count(f->db, "SELECT count(*) FROM indicator_scores"),
                     direct_count(f->db, "SELECT count(*) FROM response_scores"));
    /* p3 becomes student-pupil: the breakdowns follow. */
    assert_int_equal(store_put_programme(f->s, "s2", "p3", "student-pupil", "p3", 2026, NULL, &e),
                     STORE_OK);
    r = run_period(f, set, "2026/27", 0);
    /* s1: a2 7.5, a4 8, c2 10 -> 2 of 3; motivation a2 +1, a4 +3, c2 +3. */
    expect_share(r, "kpi5_mentee_satisfaction", "s1", 2, 3);
    expect_score(r, "growth_motivation", "s1", (1.0 + 3 + 3) / 3, 3);
    const struct indicator_value *v = val(r, "growth_motivation", "s1");
    NEAR(part(v, "student-pupil")->value, 3);
    NEAR(part(v, "pupil-pupil")->value, 1);
    NEAR(part(val(r, "growth_motivation", "s2"), "student-pupil")->value, -1);
    indicator_report_free(r);
    indicator_set_free(set);
}

/* The growth charts pair the entry and final questionnaires of the year, per form. */
static void test_report_growth(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    struct survey_set surveys = {0};
    assert_int_equal(survey_set_load_dir("surveys", &surveys, &e), 0);
    struct arena *a = arena_new();
    struct campaign_info *camps;
    size_t ncamps;
    assert_int_equal(store_campaign_list(f->s, a, "r", &camps, &ncamps, &e), STORE_OK);
    struct org_info org;
    assert_int_equal(store_org_get(f->s, a, "r", &org, &e), STORE_OK);
    struct report_growth *g;
    size_t n;
    assert_int_equal(report_growth(f->s, a, &surveys, org.id, "2026/27", camps, ncamps, &g, &n, &e),
                     0);
    /* Motivation and competence: the scales both mentee questionnaires have and somebody
     * answered in both waves. Satisfaction has no entry answers: no chart. */
    const struct report_growth *mot = NULL, *comp = NULL;
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(g[i].entry_survey, "mentee-entry");
        assert_string_equal(g[i].final_survey, "mentee-final");
        if (strcmp(g[i].scale, "motivation") == 0)
            mot = &g[i];
        else if (strcmp(g[i].scale, "competence") == 0)
            comp = &g[i];
        else
            fail_msg("an unexpected growth chart: %s", g[i].scale);
    }
    assert_non_null(mot);
    assert_non_null(comp);
    /* Motivation, entry -> final: a1 5->7, a2 3->4 (its later entry), c1 7->6, c2 5->8
     * (pupil-pupil); a4 6->9, f1 2->6 (employer-pupil); t1 6->7 (teacher-teacher). */
    assert_int_equal(mot->all.n, 7);
    NEAR(mot->all.mean_entry, 34.0 / 7);
    NEAR(mot->all.mean_final, 47.0 / 7);
    assert_int_equal(mot->nforms, 3);
    assert_string_equal(mot->forms[0].form, "employer-pupil");
    assert_int_equal(mot->forms[0].n, 2);
    NEAR(mot->forms[0].mean_entry, 4);
    NEAR(mot->forms[0].mean_final, 7.5);
    assert_string_equal(mot->forms[1].form, "pupil-pupil");
    NEAR(mot->forms[1].mean_entry, 5);
    NEAR(mot->forms[1].mean_final, 6.25);
    assert_string_equal(mot->forms[2].form, "teacher-teacher");
    assert_int_equal(mot->forms[2].n, 1);
    assert_true(mot->lo == 1 && mot->hi == 10);
    /* Competence: a1 5->6, a4 5->5, f1 7->6. */
    assert_int_equal(comp->all.n, 3);
    NEAR(comp->all.mean_entry, 17.0 / 3);
    NEAR(comp->all.mean_final, 17.0 / 3);
    /* A municipality sees its own: m2 has f1 and t1. */
    assert_int_equal(store_org_get(f->s, a, "m2", &org, &e), STORE_OK);
    assert_int_equal(report_growth(f->s, a, &surveys, org.id, "2026/27", camps, ncamps, &g, &n, &e),
                     0);
    for (size_t i = 0; i < n; i++)
        if (strcmp(g[i].scale, "motivation") == 0)
            assert_int_equal(g[i].all.n, 2);
    /* Another year has nothing to compare; a half-year is not a school year. */
    assert_int_equal(report_growth(f->s, a, &surveys, org.id, "2025/26", camps, ncamps, &g, &n, &e),
                     0);
    assert_int_equal(n, 0);
    assert_int_equal(
        report_growth(f->s, a, &surveys, org.id, "2026/27-H1", camps, ncamps, &g, &n, &e), -1);
    arena_free(a);
    survey_set_free(&surveys);
}

/* The federal table: programme participants of the year by form, role and age band. */
static void test_report_federal(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    struct arena *a = arena_new();
    struct report_federal t;
    assert_int_equal(report_federal(f->s, a, "r", 2026, &t, &e), 0);
    /* Everyone with a programme: 14 mentees and 9 mentors (g2 has no programme). */
    assert_int_equal(t.total, 23);
    assert_int_equal(t.role_totals[1][REPORT_NBANDS], 14);
    assert_int_equal(t.role_totals[0][REPORT_NBANDS], 9);
    /* Forms in order, each with a mentor row then a mentee row. */
    assert_int_equal(t.n, 6);
    assert_string_equal(t.rows[0].form, "employer-pupil");
    assert_string_equal(t.rows[0].role, "mentor");
    assert_string_equal(t.rows[1].role, "mentee");
    assert_string_equal(t.rows[2].form, "pupil-pupil");
    /* pupil-pupil mentees: a3 (9); a1 (14), c1 (13), c2 (10); a2 (17), a5 (16), a6 (18), c3
     * (18). Mentors b1 (16), b2 (14), b3 (18), d1 (15), d2 (19). */
    const struct report_federal_row *pm = &t.rows[3];
    assert_string_equal(pm->role, "mentee");
    assert_int_equal(pm->bands[REPORT_BAND_UNDER_10], 1);
    assert_int_equal(pm->bands[REPORT_BAND_10_14], 3);
    assert_int_equal(pm->bands[REPORT_BAND_15_18], 4);
    assert_int_equal(pm->total, 8);
    const struct report_federal_row *pr = &t.rows[2];
    assert_int_equal(pr->bands[REPORT_BAND_10_14], 1);
    assert_int_equal(pr->bands[REPORT_BAND_15_18], 3);
    assert_int_equal(pr->bands[REPORT_BAND_19_35], 1);
    /* Teachers are registered by experience: their age is not given. */
    assert_string_equal(t.rows[5].form, "teacher-teacher");
    assert_int_equal(t.rows[5].bands[REPORT_BAND_UNKNOWN], 4);
    /* A school sees its own; a year without programmes is empty. */
    assert_int_equal(report_federal(f->s, a, "s2", 2026, &t, &e), 0);
    assert_int_equal(t.total, 5);
    assert_int_equal(report_federal(f->s, a, "r", 2025, &t, &e), 0);
    assert_int_equal(t.total, 0);
    assert_int_equal(t.n, 0);
    arena_free(a);
}

static void test_report_age_bands(void **state)
{
    (void)state;
    const int ages[] = {-1, 0, 9, 10, 14, 15, 18, 19, 35, 36, 80};
    const enum report_band want[] = {
        REPORT_BAND_UNKNOWN, REPORT_BAND_UNDER_10, REPORT_BAND_UNDER_10, REPORT_BAND_10_14,
        REPORT_BAND_10_14,   REPORT_BAND_15_18,    REPORT_BAND_15_18,    REPORT_BAND_19_35,
        REPORT_BAND_19_35,   REPORT_BAND_OVER_35,  REPORT_BAND_OVER_35};
    for (size_t i = 0; i < sizeof ages / sizeof ages[0]; i++)
        assert_int_equal(report_age_band(ages[i]), want[i]);
    assert_string_equal(report_band_name(REPORT_BAND_15_18), "15-18");
    assert_string_equal(report_band_name(REPORT_BAND_UNKNOWN), "unknown");
}

int main(void)
{
    if (crypto_setup() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_demo_participation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_demo_satisfaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_demo_growth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_demo2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_values_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_explain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_scripts_fail_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accessor_errors_and_periods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_reports_problems, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hot_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_isolated_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_script_tests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scores_follow_the_registry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_growth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_federal, setup, teardown),
        cmocka_unit_test(test_report_age_bands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
