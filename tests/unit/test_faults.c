/*
 * Allocation-failure injection on the request path, after SQLite's faultsim: for N = 1, 2,
 * 3, ... the N-th allocation fails while app_handle answers a real request in process, until
 * a run completes without reaching the failure. Three allocators are failed in turn: the
 * request arena (arena_fail_after), SQLite's (SQLITE_CONFIG_MALLOC with a failing wrapper
 * around its own) and jansson's (json_set_alloc_funcs). Every run that reached the failure
 * must answer 500 or 503 (or, when the failure was recoverable, exactly what a run without
 * it answers), and leave the database consistent: a response is stored whole or not at
 * all. LeakSanitizer, on for every test of make test, holds every error path to freeing
 * what it took.
 *
 * Requests: the questionnaire (GET), a valid and an invalid submission (POST), a curator's
 * dashboard page; and the loading of the definitions every worker serves (app_defs_load).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <jansson.h>
#include <sqlite3.h>

#include "account.h"
#include "app.h"
#include "arena.h"
#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "http.h"
#include "log.h"
#include "store.h"
#include "survey.h"

enum fault_kind { FAULT_ARENA, FAULT_SQLITE, FAULT_JSON };
static const char *const fault_names[] = {"arena", "SQLite", "jansson"};

static long sqlite_countdown, json_countdown;
static sqlite3_mem_methods sqlite_default;

static int fault_due(long *countdown)
{
    return *countdown > 0 && --*countdown == 0;
}

static void *fault_sqlite_malloc(int n)
{
    return fault_due(&sqlite_countdown) ? NULL : sqlite_default.xMalloc(n);
}

static void *fault_sqlite_realloc(void *p, int n)
{
    return fault_due(&sqlite_countdown) ? NULL : sqlite_default.xRealloc(p, n);
}

static void *fault_json_malloc(size_t n)
{
    return fault_due(&json_countdown) ? NULL : malloc(n);
}

static void fault_arm(enum fault_kind k, long n)
{
    if (k == FAULT_ARENA)
        arena_fail_after(n);
    else if (k == FAULT_SQLITE)
        sqlite_countdown = n;
    else
        json_countdown = n;
}

/* Disarms; returns whether the armed failure happened. */
static int fault_disarm(enum fault_kind k)
{
    long left = k == FAULT_ARENA    ? arena_fail_remaining()
                : k == FAULT_SQLITE ? sqlite_countdown
                                    : json_countdown;
    fault_arm(k, 0);
    return left == 0;
}

struct fixture {
    char dir[64];
    char db[128];
    struct app_defs defs;
    struct app app;
    struct arena *a;
    const struct survey *mentee;
    char session[ACCOUNT_TOKEN_LEN + 32]; /* the curator's "anketa_session=..." */
    int invited;
};

static struct fixture fx;

static int fault_setup(void **state)
{
    (void)state;
    struct err e = {0};
    log_set_level(LOG_ERROR + 1);
    snprintf(fx.dir, sizeof fx.dir, "/tmp/anketa-faults-XXXXXX");
    if (!mkdtemp(fx.dir) || crypto_setup() < 0)
        return -1;
    snprintf(fx.db, sizeof fx.db, "%s/anketa.db", fx.dir);
    struct store_options opt = {.migrate = 1};
    if (store_open(fx.db, &opt, &fx.app.store, &e) < 0 ||
        store_secret(fx.app.store, fx.app.secret, &e) < 0 ||
        app_defs_load(&fx.defs, "surveys", "web", &e) < 0) {
        fprintf(stderr, "setup: %s\n", e.msg);
        return -1;
    }
    fx.app.defs = &fx.defs;
    fx.mentee = survey_set_find(&fx.defs.surveys, "mentee-final");
    static const struct org_rec orgs[] = {
        {.code = "f-region", .level = "region", .name = "Область"},
        {.code = "f-mun", .parent_code = "f-region", .level = "municipality", .name = "Район"},
        {.code = "f-school",
         .parent_code = "f-mun",
         .level = "organisation",
         .kind = "school",
         .name = "Школа"},
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof orgs / sizeof orgs[0]; i++)
        rc = rc || store_put_org(fx.app.store, &orgs[i], NULL, &e);
    rc = rc || store_put_programme(fx.app.store, "f-school", "f-prog", "pupil-pupil", "Программа",
                                   2026, NULL, &e);
    char hash[128], token[ACCOUNT_TOKEN_LEN + 1];
    struct user_rec u = {.login = "fcur",
                         .name = "Куратор",
                         .role = "curator",
                         .org_code = "f-school",
                         .password_hash = hash};
    rc = rc || account_hash_password("пароль-куратора", hash) < 0 ||
         store_user_put(fx.app.store, &u, &e) != STORE_OK;
    fx.a = arena_new();
    struct account acc;
    long retry;
    if (rc || !fx.a ||
        account_login(fx.app.store, fx.a, "fcur", "пароль-куратора", token, &acc, &retry, &e) !=
            LOGIN_OK) {
        fprintf(stderr, "setup: %s\n", e.msg);
        return -1;
    }
    snprintf(fx.session, sizeof fx.session, "anketa_session=%s", token);
    arena_reset(fx.a);
    return 0;
}

static int fault_teardown(void **state)
{
    (void)state;
    char cmd[128];
    arena_free(fx.a);
    store_close(fx.app.store);
    app_defs_free(&fx.defs);
    snprintf(cmd, sizeof cmd, "rm -rf %s", fx.dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A new participant of the school with a link to the mentee's final questionnaire. */
static void fault_invite(char token[23])
{
    struct err e = {0};
    char code[32];
    snprintf(code, sizeof code, "F-%d", ++fx.invited);
    struct participant_rec p = {.code = code,
                                .org_code = "f-school",
                                .programme_code = "f-prog",
                                .role = "mentee",
                                .kind = "pupil",
                                .birth_year = 2012,
                                .experience_years = -1,
                                .consent_date = "2026-09-01"};
    assert_int_equal(store_put_participant(fx.app.store, &p, NULL, &e), STORE_OK);
    assert_int_equal(store_put_invitation(fx.app.store, code, "mentee-final", token, &e), STORE_OK);
}

struct fault_req {
    const char *method;
    const char *path;
    const char *cookie;
    const char *body;
};

struct fault_result {
    int status; /* 500 when the response could not be built, as server.c answers then */
    char *body; /* malloc'd copies: the arena is reset after each run */
    char *headers;
};

static void fault_result_free(struct fault_result *r)
{
    free(r->body);
    free(r->headers);
    r->body = r->headers = NULL;
}

static char *fault_copy(const struct buf *b)
{
    char *p = malloc(b->len + 1);
    assert_non_null(p);
    memcpy(p, b->data ? b->data : "", b->len);
    p[b->len] = '\0';
    return p;
}

/* Answers rq in process, as a worker would, and resets the request arena. */
static void fault_handle(const struct fault_req *rq, struct fault_result *out)
{
    struct http_req q = {
        .arena = fx.a,
        .method = rq->method,
        .path = rq->path,
        .query = "",
        .content_type = rq->body ? "application/x-www-form-urlencoded" : "",
        .cookie = rq->cookie ? rq->cookie : "",
        .accept_language = "",
        .request_id = "fault",
        .body = rq->body ? rq->body : "",
        .body_len = rq->body ? strlen(rq->body) : 0,
    };
    struct http_resp r;
    http_resp_init(&r, fx.a);
    app_handle(&fx.app, &q, &r);
    int failed = buf_failed(&r.headers) || buf_failed(&r.body);
    out->status = failed ? 500 : r.status;
    out->body = failed ? strdup("") : fault_copy(&r.body);
    out->headers = failed ? strdup("") : fault_copy(&r.headers);
    arena_reset(fx.a);
}

static long fault_sql_long(const char *sql, const char *param)
{
    sqlite3 *db;
    sqlite3_stmt *st = NULL;
    long v = -1;
    assert_int_equal(sqlite3_open_v2(fx.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (param)
            sqlite3_bind_text(st, 1, param, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static long fault_answers_per_response(void)
{
    long n = 0;
    for (size_t i = 0; i < fx.mentee->nquestions; i++)
        n += fx.mentee->questions[i].nitems ? (long)fx.mentee->questions[i].nitems : 1;
    return n;
}

/* No response without all its answers, no answer without its response, in the whole file. */
static void fault_assert_consistent(void)
{
    char per[32];
    snprintf(per, sizeof per, "%ld", fault_answers_per_response());
    assert_int_equal(fault_sql_long("SELECT count(*) FROM responses r WHERE (SELECT count(*) FROM "
                                    "answers a WHERE a.response_id = r.id) != CAST(?1 AS INTEGER)",
                                    per),
                     0);
    assert_int_equal(fault_sql_long("SELECT count(*) FROM answers WHERE response_id NOT IN "
                                    "(SELECT id FROM responses) AND ?1 IS NOT NULL",
                                    "1"),
                     0);
}

static long fault_responses_of(const char *token)
{
    return fault_sql_long("SELECT count(*) FROM responses r JOIN invitations i ON i.id = "
                          "r.invitation_id WHERE i.token = ?1",
                          token);
}

/* The form's CSRF value and the cookie it is bound to, from a GET of the questionnaire. */
static void fault_form_secrets(const char *token, char *csrf, size_t csize, char *cookie,
                               size_t ksize)
{
    char path[64];
    snprintf(path, sizeof path, "/s/%s", token);
    struct fault_req rq = {"GET", path, NULL, NULL};
    struct fault_result r;
    fault_handle(&rq, &r);
    assert_int_equal(r.status, 200);
    const char *v = strstr(r.body, "name=\"csrf\" value=\"");
    const char *c = strstr(r.headers, "anketa_csrf=");
    assert_non_null(v);
    assert_non_null(c);
    v += strlen("name=\"csrf\" value=\"");
    snprintf(csrf, csize, "%.*s", (int)strcspn(v, "\""), v);
    snprintf(cookie, ksize, "%.*s", (int)strcspn(c, ";\r\n"), c);
    fault_result_free(&r);
}

/* A complete urlencoded response; with broken, one required scale out of its range. */
static char *fault_body(const char *csrf, int broken)
{
    struct buf b;
    buf_init(&b, fx.a);
    buf_printf(&b, "csrf=%s", csrf);
    int spoiled = 0;
    for (size_t i = 0; i < fx.mentee->nquestions; i++) {
        const struct question *q = &fx.mentee->questions[i];
        if (q->type == Q_MATRIX) {
            for (size_t k = 0; k < q->nitems; k++)
                buf_printf(&b, "&q.%s=%ld", q->items[k].id, q->items[k].min);
            continue;
        }
        buf_printf(&b, "&q.%s=", q->id);
        switch (q->type) {
        case Q_YESNO: buf_puts(&b, "yes"); break;
        case Q_SCALE: buf_printf(&b, "%ld", broken && !spoiled++ ? q->max + 1 : q->min); break;
        case Q_CHOICE: buf_puts(&b, q->choices[0].value); break;
        case Q_NUMBER: buf_printf(&b, "%ld", q->has_min ? q->min : 1); break;
        case Q_TEXT: buf_puts(&b, "%D1%82%D0%B5%D0%BA%D1%81%D1%82+%3Cb%3E"); break;
        default: break;
        }
    }
    char *out = strdup(b.data);
    assert_non_null(out);
    return out;
}

/*
 * One request kind under faults of one allocator: rq (from prepare, made with faults off)
 * is answered with the n-th allocation failing, n = 1, 2, ... until a run does not reach the
 * failure. That run must answer like the baseline (want_status, and want_body when given).
 */
struct fault_case {
    const char *what;
    int want_status;
    int same_body; /* a run that recovered from its failure answers the baseline's page */
    /* Makes the request of run n (a fresh link for submissions); token gets its link. */
    void (*prepare)(struct fault_req *rq, char token[23], char *scratch, size_t size);
    int stores; /* a submission: a failed run stores nothing, or the whole response */
};

/* Whether a run answered the baseline's page. Submissions use a fresh link each run, whose
 * token and CSRF value are in the page: those pages can only be as long as the baseline. */
static int fault_same_page(const struct fault_case *c, const char *got, const char *base)
{
    return c->stores ? strlen(got) == strlen(base) : strcmp(got, base) == 0;
}

static void fault_run_case(const struct fault_case *c, enum fault_kind kind)
{
    char scratch[8192], token[23];
    struct fault_req rq;
    struct fault_result base;
    c->prepare(&rq, token, scratch, sizeof scratch);
    fault_handle(&rq, &base);
    free((char *)rq.body);
    assert_int_equal(base.status, c->want_status);
    if (c->stores)
        assert_int_equal(fault_responses_of(token), c->want_status == 303 ? 1 : 0);
    long n;
    for (n = 1; n < 100000; n++) {
        c->prepare(&rq, token, scratch, sizeof scratch);
        struct fault_result r;
        fault_arm(kind, n);
        fault_handle(&rq, &r);
        int hit = fault_disarm(kind);
        free((char *)rq.body);
        long stored = c->stores ? fault_responses_of(token) : 0;
        fault_assert_consistent();
        if (r.status == c->want_status) {
            /* Recovered, or never reached: the same answer as without a failure. */
            if (c->same_body && !fault_same_page(c, r.body, base.body))
                fail_msg("%s, %s allocation %ld: status %d but a different page", c->what,
                         fault_names[kind], n, r.status);
            if (c->stores && stored != (c->want_status == 303 ? 1 : 0))
                fail_msg("%s, %s allocation %ld: answered %d with %ld responses stored", c->what,
                         fault_names[kind], n, r.status, stored);
        } else if (r.status != 500 && r.status != 503) {
            fail_msg("%s, %s allocation %ld failed: answered %d, not 500 or 503", c->what,
                     fault_names[kind], n, r.status);
        } else if (c->stores && stored > 1) {
            fail_msg("%s: %ld responses for one link", c->what, stored);
        }
        fault_result_free(&r);
        if (!hit)
            break;
    }
    fault_result_free(&base);
    printf("%s: %ld %s allocations, each failed once\n", c->what, n - 1, fault_names[kind]);
    /* The loop did reach the request's allocations: a request takes more than a few from the
     * arena and SQLite (some take none from jansson). */
    if (kind != FAULT_JSON)
        assert_true(n > 3);
}

static char fault_token[23];
static char fault_cookie[64];

static void prepare_get(struct fault_req *rq, char token[23], char *scratch, size_t size)
{
    if (!fault_token[0]) {
        char csrf[128];
        fault_invite(fault_token);
        fault_form_secrets(fault_token, csrf, sizeof csrf, fault_cookie, sizeof fault_cookie);
    }
    memcpy(token, fault_token, 23);
    snprintf(scratch, size, "/s/%s", token);
    *rq = (struct fault_req){"GET", scratch, fault_cookie, NULL};
}

static void prepare_post(struct fault_req *rq, char token[23], char *scratch, size_t size,
                         int broken)
{
    char csrf[128], cookie[64];
    fault_invite(token);
    fault_form_secrets(token, csrf, sizeof csrf, cookie, sizeof cookie);
    int n = snprintf(scratch, size, "/s/%s", token);
    char *ck = scratch + n + 1;
    snprintf(ck, size - (size_t)n - 1, "%s", cookie);
    *rq = (struct fault_req){"POST", scratch, ck, fault_body(csrf, broken)};
    arena_reset(fx.a);
}

static void prepare_valid(struct fault_req *rq, char token[23], char *scratch, size_t size)
{
    prepare_post(rq, token, scratch, size, 0);
}

static void prepare_invalid(struct fault_req *rq, char token[23], char *scratch, size_t size)
{
    prepare_post(rq, token, scratch, size, 1);
}

static void prepare_dash(struct fault_req *rq, char token[23], char *scratch, size_t size)
{
    (void)token;
    (void)scratch;
    (void)size;
    *rq = (struct fault_req){"GET", "/dash/org/f-school", fx.session, NULL};
}

static const struct fault_case cases[] = {
    {"GET /s/<token>", 200, 1, prepare_get, 0},
    {"POST /s/<token>, valid", 303, 0, prepare_valid, 1},
    {"POST /s/<token>, invalid", 422, 1, prepare_invalid, 1},
    {"GET /dash/org/<code>", 200, 1, prepare_dash, 0},
};

static void test_questionnaire_get(void **state)
{
    (void)state;
    for (int k = FAULT_ARENA; k <= FAULT_JSON; k++)
        fault_run_case(&cases[0], (enum fault_kind)k);
}

static void test_submission_valid(void **state)
{
    (void)state;
    for (int k = FAULT_ARENA; k <= FAULT_JSON; k++)
        fault_run_case(&cases[1], (enum fault_kind)k);
}

static void test_submission_invalid(void **state)
{
    (void)state;
    for (int k = FAULT_ARENA; k <= FAULT_JSON; k++)
        fault_run_case(&cases[2], (enum fault_kind)k);
}

static void test_dashboard(void **state)
{
    (void)state;
    for (int k = FAULT_ARENA; k <= FAULT_JSON; k++)
        fault_run_case(&cases[3], (enum fault_kind)k);
}

/* What the master loads before it forks: the questionnaires, templates, words and pages. */
static void test_definitions_load(void **state)
{
    (void)state;
    for (int k = FAULT_ARENA; k <= FAULT_JSON; k += 2) {
        /* Every allocation up to 300, then every step-th, the step growing with n: a load
         * takes tens of thousands, and each run loads everything again. */
        long n, runs = 0;
        for (n = 1; n < 10000000; n += n <= 300 ? 1 : n / 100, runs++) {
            struct app_defs d;
            struct err e = {0};
            fault_arm((enum fault_kind)k, n);
            int rc = app_defs_load(&d, "surveys", "web", &e);
            int hit = fault_disarm((enum fault_kind)k);
            if (rc == 0) {
                assert_int_equal(d.surveys.n, fx.defs.surveys.n);
                app_defs_free(&d);
                if (!hit)
                    break;
                continue;
            }
            /* An error that says where: jansson reports some failures of its own allocations
             * inside the reader as a syntax error of the file, so the text is not checked. */
            if (!e.msg[0])
                fail_msg("%s allocation %ld: an error without a message", fault_names[k], n);
        }
        printf("app_defs_load: %ld runs, failing one of the %s allocations up to %ld\n", runs,
               fault_names[k], n);
        assert_true(runs > 300);
    }
}

int main(void)
{
    /* Before anything initialises SQLite or allocates with jansson. */
    if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &sqlite_default) != SQLITE_OK)
        return 1;
    sqlite3_mem_methods failing = sqlite_default;
    failing.xMalloc = fault_sqlite_malloc;
    failing.xRealloc = fault_sqlite_realloc;
    if (sqlite3_config(SQLITE_CONFIG_MALLOC, &failing) != SQLITE_OK)
        return 1;
    json_set_alloc_funcs(fault_json_malloc, free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_questionnaire_get),  cmocka_unit_test(test_submission_valid),
        cmocka_unit_test(test_submission_invalid), cmocka_unit_test(test_dashboard),
        cmocka_unit_test(test_definitions_load),
    };
    return cmocka_run_group_tests_name("allocation failures on the request path", tests,
                                       fault_setup, fault_teardown);
}
