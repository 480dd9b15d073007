/*
 * Integration tests of the staff side through nginx: signing in and out, CSRF on those
 * forms, bearer sessions of the API, the reports (аналитическая справка, the federal table,
 * the audit log), and the access matrix: each role against every page and API resource of
 * organisations inside and outside its subtree (outside is answered 404, like an unknown
 * organisation).
 */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct harness h;

struct who {
    const char *login;
    const char *role;
    const char *org;
    const char *password;
    char cookie[160];
    char token[64]; /* the API's bearer token */
};

static struct who people[] = {
    {"cur1", "curator", "demo-sch-1", "пароль-куратора-1", "", ""},
    {"cur3", "curator", "demo-sch-3", "пароль-куратора-3", "", ""},
    {"coord1", "coordinator", "demo-mun-1", "пароль-координатора", "", ""},
    {"meth", "methodologist", "demo-region", "пароль-методиста", "", ""},
    {"root", "admin", NULL, "пароль-администратора", "", ""},
};

static int cli(const char *fmt, ...)
{
    char cmd[2048], out[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = harness_run(cmd, out, sizeof out);
    if (rc != 0)
        fprintf(stderr, "%s\n%s\n", cmd, out);
    return rc;
}

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *bin = getenv("ANKETA_BIN");
    const char *root = getenv("ANKETA_ROOT");
    char lua[1024];
    snprintf(lua, sizeof lua, "%s/lua", root ? root : ".");
    /* With the demo region: the report's KPI table lists its indicators. */
    const char *serve_args[] = {"--lua", lua, "--region", "demo", NULL};
    if (!root || harness_start_with(&h, "1m", "1m", NULL, serve_args) < 0)
        return -1;
    const char *kinds[] = {"orgs", "programmes", "participants", "pairs", "figures"};
    for (size_t i = 0; i < 5; i++)
        if (cli("cd %s && %s import %s docs/samples/%s.csv --db %s", root, bin, kinds[i], kinds[i],
                h.db))
            return -1;
    if (cli("cd %s && %s campaign open c1 --survey mentee-final --org demo-region --period "
            "2026/27 --wave final --role mentee --opens 2026-01-01 --closes 2099-01-01 --db %s",
            root, bin, h.db))
        return -1;
    for (size_t i = 0; i < sizeof people / sizeof people[0]; i++) {
        struct who *p = &people[i];
        char org[64] = "";
        if (p->org)
            snprintf(org, sizeof org, "--org %s", p->org);
        if (cli("cd %s && printf '%%s\\n' '%s' | %s user add %s --role %s %s --name 'Тест' --db %s",
                root, p->password, bin, p->login, p->role, org, h.db))
            return -1;
    }
    return 0;
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

/* The value of a cookie set by r ("name=value"), into out. */
static int set_cookie(const struct http_result *r, const char *name, char *out, size_t size)
{
    size_t n = strlen(name);
    for (const char *p = r->headers; (p = strstr(p, "Set-Cookie: ")) != NULL; p++) {
        p += strlen("Set-Cookie: ");
        if (strncmp(p, name, n) == 0 && p[n] == '=') {
            snprintf(out, size, "%.*s", (int)strcspn(p, ";\r\n"), p);
            return 0;
        }
    }
    return -1;
}

static const char *form_value(const char *html, const char *name, char *out, size_t size)
{
    char needle[64];
    snprintf(needle, sizeof needle, "name=\"%s\" value=\"", name);
    const char *p = strstr(html, needle);
    if (!p)
        return NULL;
    p += strlen(needle);
    snprintf(out, size, "%.*s", (int)strcspn(p, "\""), p);
    return out;
}

/* Signs in; returns the HTTP status of the POST and fills the session cookie. */
static long sign_in(const char *login, const char *password, const char *next, char *session,
                    size_t size)
{
    struct http_result r;
    char pre[128], csrf[128], body[1024], headers[512];
    assert_int_equal(http_request(&h, "GET", "/login", NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(set_cookie(&r, "anketa_pre", pre, sizeof pre), 0);
    assert_non_null(form_value(r.body, "csrf", csrf, sizeof csrf));
    http_result_free(&r);
    CURL *c = curl_easy_init();
    char *el = curl_easy_escape(c, login, 0), *ep = curl_easy_escape(c, password, 0),
         *en = curl_easy_escape(c, next, 0), *ec = curl_easy_escape(c, csrf, 0);
    snprintf(body, sizeof body, "csrf=%s&login=%s&password=%s&next=%s", ec, el, ep, en);
    curl_free(el);
    curl_free(ep);
    curl_free(en);
    curl_free(ec);
    curl_easy_cleanup(c);
    snprintf(headers, sizeof headers, "Content-Type: application/x-www-form-urlencoded\nCookie: %s",
             pre);
    assert_int_equal(http_request(&h, "POST", "/login", body, strlen(body), headers, &r), 0);
    long status = r.status;
    if (status == 303)
        assert_int_equal(set_cookie(&r, "anketa_session", session, size), 0);
    http_result_free(&r);
    return status;
}

static long get_as(const struct who *p, const char *path, struct http_result *r)
{
    char headers[256];
    snprintf(headers, sizeof headers, "Cookie: %s", p->cookie);
    assert_int_equal(http_request(&h, "GET", path, NULL, 0, headers, r), 0);
    return r->status;
}

/* A GET of the API with the person's bearer token. */
static long api_as(const struct who *p, const char *path, struct http_result *r)
{
    char headers[256];
    snprintf(headers, sizeof headers, "Authorization: Bearer %s", p->token);
    assert_int_equal(http_request(&h, "GET", path, NULL, 0, headers, r), 0);
    return r->status;
}

/* Signs in through the API; returns the status and fills token on 200. */
static long api_sign_in(const char *login, const char *password, char *token, size_t size)
{
    struct http_result r;
    char body[512];
    CURL *c = curl_easy_init();
    char *el = curl_easy_escape(c, login, 0), *ep = curl_easy_escape(c, password, 0);
    snprintf(body, sizeof body, "login=%s&password=%s", el, ep);
    curl_free(el);
    curl_free(ep);
    curl_easy_cleanup(c);
    assert_int_equal(http_request(&h, "POST", "/api/v1/session", body, strlen(body),
                                  "Content-Type: application/x-www-form-urlencoded", &r),
                     0);
    long status = r.status;
    if (status == 200) {
        json_t *j = json_loads(r.body, 0, NULL);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "token_type")), "Bearer");
        const char *t = json_string_value(json_object_get(j, "token"));
        assert_non_null(t);
        assert_int_equal(strlen(t), 43);
        snprintf(token, size, "%s", t);
        json_decref(j);
        char cache[64];
        assert_int_equal(http_header_value(&r, "Cache-Control", cache, sizeof cache), 0);
        assert_string_equal(cache, "no-store");
        assert_null(strstr(r.headers, "Set-Cookie"));
    }
    http_result_free(&r);
    return status;
}

static void test_sign_in(void **state)
{
    (void)state;
    char session[160];
    assert_int_equal(sign_in("cur1", "не тот пароль", "/dash", session, sizeof session), 401);
    assert_int_equal(sign_in("nobody", "не тот пароль", "/dash", session, sizeof session), 401);
    for (size_t i = 0; i < sizeof people / sizeof people[0]; i++) {
        assert_int_equal(sign_in(people[i].login, people[i].password, "/dash", people[i].cookie,
                                 sizeof people[i].cookie),
                         303);
        assert_int_equal(api_sign_in(people[i].login, people[i].password, people[i].token,
                                     sizeof people[i].token),
                         200);
    }
    /* Without the form's CSRF value the sign-in is refused. */
    struct http_result r;
    const char *body = "login=cur1&password=x";
    assert_int_equal(http_request(&h, "POST", "/login", body, strlen(body),
                                  "Content-Type: application/x-www-form-urlencoded", &r),
                     0);
    assert_int_equal(r.status, 403);
    http_result_free(&r);
}

static void test_home_and_redirects(void **state)
{
    (void)state;
    struct http_result r;
    char location[256];
    /* Not signed in: to the sign-in page, remembering where to come back. */
    assert_int_equal(http_request(&h, "GET", "/dash/org/demo-sch-1", NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 303);
    assert_int_equal(http_header_value(&r, "Location", location, sizeof location), 0);
    assert_string_equal(location, "/login?next=%2Fdash%2Forg%2Fdemo-sch-1");
    http_result_free(&r);
    /* Each account's home is its own organisation; the administrator's the first region
     * (the harness's own, created before the samples). */
    const char *homes[] = {"/dash/org/demo-sch-1", "/dash/org/demo-sch-3", "/dash/org/demo-mun-1",
                           "/dash/org/demo-region", "/dash/org/t-region"};
    for (size_t i = 0; i < sizeof people / sizeof people[0]; i++) {
        assert_int_equal(get_as(&people[i], "/dash", &r), 303);
        assert_int_equal(http_header_value(&r, "Location", location, sizeof location), 0);
        assert_string_equal(location, homes[i]);
        http_result_free(&r);
    }
    /* A "next" that leaves the site is replaced by the dashboard. */
    char session[160];
    assert_int_equal(
        sign_in("cur1", "пароль-куратора-1", "//evil.example/x", session, sizeof session), 303);
}

static void test_access_matrix(void **state)
{
    (void)state;
    const char *orgs[] = {"demo-region", "demo-mun-1", "demo-mun-2",
                          "demo-sch-1",  "demo-sch-2", "demo-sch-3"};
    /* 1: the page is shown; 0: 404. Rows follow people[]. */
    const int allowed[5][6] = {
        {0, 0, 0, 1, 0, 0}, {0, 0, 0, 0, 0, 1}, {0, 1, 0, 1, 1, 0},
        {1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1},
    };
    for (size_t w = 0; w < 5; w++) {
        for (size_t o = 0; o < 6; o++) {
            char path[128];
            struct http_result r;
            snprintf(path, sizeof path, "/dash/org/%s", orgs[o]);
            long status = get_as(&people[w], path, &r);
            if (status != (allowed[w][o] ? 200 : 404))
                fail_msg("%s GET %s: %ld", people[w].login, path, status);
            if (!allowed[w][o])
                assert_non_null(strstr(r.body, "Страница не найдена"));
            http_result_free(&r);
            /* Every other page and every API resource of the organisation. */
            static const char *const pages[] = {
                "/dash/org/%s/campaign/c1",
                "/dash/org/%s/report",
                "/dash/org/%s/federal?period=2026/27",
                "/dash/org/%s/export/federal?period=2026/27&format=csv",
                "/api/v1/orgs/%s",
                "/api/v1/orgs/%s/campaigns/c1",
                "/api/v1/orgs/%s/report?period=2026/27",
                "/api/v1/orgs/%s/federal",
                "/api/v1/orgs/%s/export/participants?format=json",
            };
            for (size_t k = 0; k < sizeof pages / sizeof pages[0]; k++) {
                snprintf(path, sizeof path, pages[k], orgs[o]);
                int api = strncmp(path, "/api/", 5) == 0;
                status = api ? api_as(&people[w], path, &r) : get_as(&people[w], path, &r);
                if (status != (allowed[w][o] ? 200 : 404))
                    fail_msg("%s GET %s: %ld", people[w].login, path, status);
                /* The API says so in JSON, and in the same words for unknown and forbidden. */
                if (api && !allowed[w][o])
                    assert_non_null(strstr(r.body, "\"error\""));
                http_result_free(&r);
            }
        }
    }
    /* A programme is shown under its own organisation or one above it, to those who see
     * that organisation: demo-prog-1 is demo-sch-1's, in demo-mun-1, in demo-region. */
    const int holds_prog1[6] = {1, 1, 0, 1, 0, 0};
    for (size_t w = 0; w < 5; w++) {
        for (size_t o = 0; o < 6; o++) {
            static const char *const paths[] = {"/dash/org/%s/programme/demo-prog-1",
                                                "/api/v1/orgs/%s/programmes/demo-prog-1"};
            for (size_t k = 0; k < 2; k++) {
                char path[128];
                struct http_result r;
                snprintf(path, sizeof path, paths[k], orgs[o]);
                long status = k ? api_as(&people[w], path, &r) : get_as(&people[w], path, &r);
                long want = allowed[w][o] && holds_prog1[o] ? 200 : 404;
                if (status != want)
                    fail_msg("%s GET %s: %ld, not %ld", people[w].login, path, status, want);
                if (status == 200 && !k)
                    assert_non_null(strstr(r.body, "DEMO-0004"));
                http_result_free(&r);
            }
        }
    }
    /* An organisation that does not exist is answered as one that is not the account's. */
    struct http_result r;
    assert_int_equal(api_as(&people[0], "/api/v1/orgs/no-such-org", &r), 404);
    http_result_free(&r);
}

static void test_api_sessions(void **state)
{
    (void)state;
    struct http_result r;
    char token[64], value[128];
    assert_int_equal(api_sign_in("cur1", "не тот пароль", token, sizeof token), 401);
    assert_int_equal(api_sign_in("nobody", "не тот пароль", token, sizeof token), 401);
    /* No credentials: 401 that names the scheme; a made-up token is no better. */
    assert_int_equal(http_request(&h, "GET", "/api/v1/me", NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 401);
    assert_int_equal(http_header_value(&r, "WWW-Authenticate", value, sizeof value), 0);
    assert_non_null(strstr(value, "Bearer"));
    http_result_free(&r);
    assert_int_equal(
        http_request(&h, "GET", "/api/v1/me", NULL, 0,
                     "Authorization: Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &r),
        0);
    assert_int_equal(r.status, 401);
    http_result_free(&r);
    /* The token says who it is; the session cookie works for the API too. */
    assert_int_equal(api_as(&people[2], "/api/v1/me", &r), 200);
    json_t *me = json_loads(r.body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(me, "login")), "coord1");
    assert_string_equal(json_string_value(json_object_get(me, "role")), "coordinator");
    assert_string_equal(json_string_value(json_object_get(me, "org")), "demo-mun-1");
    json_decref(me);
    http_result_free(&r);
    assert_int_equal(get_as(&people[2], "/api/v1/me", &r), 200);
    http_result_free(&r);
    /* The API reads only; pages take no bearer token. */
    char headers[256];
    snprintf(headers, sizeof headers, "Authorization: Bearer %s", people[2].token);
    assert_int_equal(http_request(&h, "POST", "/api/v1/orgs/demo-mun-1", "x=1", 3, headers, &r), 0);
    assert_int_equal(r.status, 405);
    http_result_free(&r);
    assert_int_equal(http_request(&h, "GET", "/dash/org/demo-mun-1", NULL, 0, headers, &r), 0);
    assert_int_equal(r.status, 303);
    http_result_free(&r);
    /* Signing out ends the token. */
    assert_int_equal(api_sign_in("cur3", "пароль-куратора-3", token, sizeof token), 200);
    snprintf(headers, sizeof headers, "Authorization: Bearer %s", token);
    assert_int_equal(http_request(&h, "DELETE", "/api/v1/session", NULL, 0, headers, &r), 0);
    assert_int_equal(r.status, 204);
    http_result_free(&r);
    assert_int_equal(http_request(&h, "GET", "/api/v1/me", NULL, 0, headers, &r), 0);
    assert_int_equal(r.status, 401);
    http_result_free(&r);
}

/* The page and its API resource come from the same model: the report's figures agree. */
static void test_report(void **state)
{
    (void)state;
    struct http_result r;
    assert_int_equal(get_as(&people[2], "/dash/org/demo-mun-1/report?period=2026/27", &r), 200);
    assert_non_null(strstr(r.body, "Аналитическая справка"));
    assert_non_null(strstr(r.body, "Городской округ Приозёрск"));
    assert_non_null(strstr(r.body, "<th scope=\"col\" class=\"num\">2022/23</th>"));
    assert_non_null(strstr(r.body, "Доля обучающихся 10–18 лет в роли наставляемого"));
    http_result_free(&r);
    assert_int_equal(api_as(&people[2], "/api/v1/orgs/demo-mun-1/report?period=2026/27", &r), 200);
    json_t *m = json_loads(r.body, 0, NULL);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "year")), "2026/27");
    json_t *years = json_object_get(m, "kpi_years");
    assert_int_equal(json_array_size(years), 5);
    assert_string_equal(json_string_value(json_array_get(years, 0)), "2022/23");
    /* Every indicator of the demo region has a row of five cells. */
    json_t *kpi = json_object_get(m, "kpi");
    assert_true(json_array_size(kpi) >= 6);
    for (size_t i = 0; i < json_array_size(kpi); i++)
        assert_int_equal(json_array_size(json_object_get(json_array_get(kpi, i), "cells")), 5);
    /* The campaign of the year and its rate; the schools of the municipality compared. */
    json_t *camps = json_object_get(m, "campaigns");
    assert_int_equal(json_array_size(camps), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(camps, 0), "code")), "c1");
    assert_int_equal(json_array_size(json_object_get(m, "child_values")), 3);
    json_decref(m);
    http_result_free(&r);
    /* A region's and a municipality's dashboards send to the report for growth; a school's
     * draws it. */
    assert_int_equal(get_as(&people[3], "/dash/org/demo-region?period=2026/27", &r), 200);
    assert_non_null(strstr(r.body, "/dash/org/demo-region/report?period=2026/27#h-growth"));
    http_result_free(&r);
    assert_int_equal(api_as(&people[2], "/api/v1/orgs/demo-mun-1?period=2026/27", &r), 200);
    assert_non_null(strstr(r.body, "\"growth_in_report\":true"));
    http_result_free(&r);
    assert_int_equal(api_as(&people[0], "/api/v1/orgs/demo-sch-1?period=2026/27", &r), 200);
    assert_non_null(strstr(r.body, "\"has_growth\":"));
    assert_null(strstr(r.body, "growth_in_report"));
    http_result_free(&r);
    /* In English: the words of the page, and the titles of questionnaires that have one. */
    assert_int_equal(get_as(&people[2], "/dash/org/demo-mun-1/report?period=2026/27&lang=en", &r),
                     200);
    assert_non_null(strstr(r.body, "Analytical report"));
    assert_non_null(strstr(r.body, "Efficiency indicators by year"));
    assert_null(strstr(r.body, "Аналитическая справка"));
    assert_null(strstr(r.body, "Показатели эффективности"));
    http_result_free(&r);
    /* A year that is not one is not found; another school year is shown. */
    assert_int_equal(get_as(&people[2], "/dash/org/demo-mun-1/report?period=2026/27-H1", &r), 404);
    http_result_free(&r);
    assert_int_equal(get_as(&people[2], "/dash/org/demo-mun-1/report?period=2019/20", &r), 200);
    assert_non_null(strstr(r.body, "2015/16"));
    http_result_free(&r);
}

/* The federal table counts the year's programme participants: checked against SQL. */
static void test_federal_table(void **state)
{
    (void)state;
    struct http_result r;
    assert_int_equal(api_as(&people[3], "/api/v1/orgs/demo-region/federal?period=2026/27", &r),
                     200);
    json_t *m = json_loads(r.body, 0, NULL);
    assert_non_null(m);
    long want = harness_sql_long(&h,
                                 "SELECT count(*) FROM participants p JOIN programmes g ON g.id = "
                                 "p.programme_id WHERE g.year = 2026 AND p.role <> ?1",
                                 "curator");
    assert_true(want > 0);
    assert_int_equal(json_integer_value(json_object_get(m, "total")), want);
    long mentees = harness_sql_long(&h,
                                    "SELECT count(*) FROM participants p JOIN programmes g ON "
                                    "g.id = p.programme_id WHERE g.year = 2026 AND p.role = ?1",
                                    "mentee");
    json_t *totals = json_object_get(m, "totals");
    json_t *mt = json_object_get(json_array_get(totals, 1), "counts");
    assert_string_equal(json_string_value(json_object_get(json_array_get(totals, 1), "role")),
                        "mentee");
    assert_int_equal(json_integer_value(json_array_get(mt, json_array_size(mt) - 1)), mentees);
    /* Each row's bands add up to its total. */
    json_t *rows = json_object_get(m, "rows");
    assert_true(json_array_size(rows) >= 2);
    for (size_t i = 0; i < json_array_size(rows); i++) {
        json_t *c = json_object_get(json_array_get(rows, i), "counts");
        long sum = 0;
        size_t n = json_array_size(c);
        for (size_t k = 0; k + 1 < n; k++)
            sum += (long)json_integer_value(json_array_get(c, k));
        assert_int_equal(sum, json_integer_value(json_array_get(c, n - 1)));
    }
    json_decref(m);
    http_result_free(&r);
    /* The same as a download: one row per form, role and band, the counts adding up. */
    assert_int_equal(
        get_as(&people[3], "/dash/org/demo-region/export/federal?period=2026/27&format=csv", &r),
        200);
    assert_non_null(strstr(r.body, "school_year,org_code,form,role,age_band,count\r\n"));
    assert_non_null(strstr(r.body, "2026/27,demo-region,pupil-pupil,mentee,10-14,"));
    long sum = 0;
    for (const char *line = strstr(r.body, "\r\n") + 2; *line;) {
        const char *eol = strstr(line, "\r\n");
        assert_non_null(eol);
        const char *comma = line;
        for (const char *q = line; q < eol; q++)
            if (*q == ',')
                comma = q;
        sum += strtol(comma + 1, NULL, 10);
        line = eol + 2;
    }
    assert_int_equal(sum, want);
    http_result_free(&r);
    /* The table needs a school year. */
    assert_int_equal(
        get_as(&people[3], "/dash/org/demo-region/export/federal?period=2026/27-Q1&format=csv", &r),
        404);
    http_result_free(&r);
    assert_int_equal(get_as(&people[3], "/dash/org/demo-region/federal?period=2026/27", &r), 200);
    assert_non_null(strstr(r.body, "15–18 лет"));
    assert_non_null(strstr(r.body, "ученик – ученик"));
    http_result_free(&r);
}

/* The audit log is the administrator's: it records sign-ins and exports, pages and filters. */
static void test_audit_log(void **state)
{
    (void)state;
    struct http_result r;
    for (size_t w = 0; w < 4; w++) {
        assert_int_equal(get_as(&people[w], "/dash/audit", &r), 403);
        http_result_free(&r);
        assert_int_equal(api_as(&people[w], "/api/v1/audit", &r), 403);
        http_result_free(&r);
    }
    assert_int_equal(get_as(&people[4], "/dash/audit", &r), 200);
    assert_non_null(strstr(r.body, "Журнал действий"));
    assert_non_null(strstr(r.body, "<code>login</code>"));
    http_result_free(&r);
    assert_int_equal(api_as(&people[4], "/api/v1/audit?action=export", &r), 200);
    json_t *m = json_loads(r.body, 0, NULL);
    json_t *entries = json_object_get(m, "entries");
    assert_true(json_array_size(entries) > 0);
    long last = 0;
    for (size_t i = 0; i < json_array_size(entries); i++) {
        json_t *e = json_array_get(entries, i);
        assert_memory_equal(json_string_value(json_object_get(e, "action")), "export.", 7);
        last = (long)json_integer_value(json_object_get(e, "id"));
    }
    json_decref(m);
    http_result_free(&r);
    /* Older than the last one shown: none of the same ids again. */
    char path[128];
    snprintf(path, sizeof path, "/api/v1/audit?before=%ld", last);
    assert_int_equal(api_as(&people[4], path, &r), 200);
    m = json_loads(r.body, 0, NULL);
    entries = json_object_get(m, "entries");
    for (size_t i = 0; i < json_array_size(entries); i++)
        assert_true(json_integer_value(json_object_get(json_array_get(entries, i), "id")) < last);
    json_decref(m);
    http_result_free(&r);
    /* The set-up's imports and the campaign it opened from the command line. */
    assert_int_equal(api_as(&people[4], "/api/v1/audit?action=import", &r), 200);
    assert_non_null(strstr(r.body, "\"action\":\"import.orgs\""));
    assert_non_null(strstr(r.body, "\"action\":\"import.pairs\""));
    assert_non_null(strstr(r.body, "rows="));
    http_result_free(&r);
    assert_int_equal(api_as(&people[4], "/api/v1/audit?action=campaign", &r), 200);
    assert_non_null(strstr(r.body, "\"action\":\"campaign.open\",\"object\":\"c1\""));
    http_result_free(&r);
    assert_int_equal(api_as(&people[4], "/api/v1/audit?action=export%25", &r), 400);
    http_result_free(&r);
    assert_int_equal(api_as(&people[4], "/api/v1/audit?before=x", &r), 400);
    http_result_free(&r);
}

static void test_curator_sees_who_has_not_answered(void **state)
{
    (void)state;
    struct http_result r;
    assert_int_equal(get_as(&people[0], "/dash/org/demo-sch-1/campaign/c1", &r), 200);
    /* The six mentees of school 1, none of school 2. */
    assert_non_null(strstr(r.body, "DEMO-0004"));
    assert_non_null(strstr(r.body, "DEMO-0009"));
    assert_null(strstr(r.body, "DEMO-0012"));
    http_result_free(&r);
}

/* Downloads are streamed files of the account's own subtree only. */
static void test_downloads(void **state)
{
    (void)state;
    struct http_result r;
    char value[256];
    assert_int_equal(get_as(&people[0], "/dash/org/demo-sch-1/export/participants?format=csv", &r),
                     200);
    assert_int_equal(http_header_value(&r, "Content-Type", value, sizeof value), 0);
    assert_non_null(strstr(value, "text/csv"));
    assert_int_equal(http_header_value(&r, "Content-Disposition", value, sizeof value), 0);
    assert_string_equal(value, "attachment; filename=\"participants-demo-sch-1.csv\"");
    assert_memory_equal(r.body, "\xEF\xBB\xBF", 3);
    /* Nine participants of school 1 (and a header), pseudonymised: no codes. */
    int lines = 0;
    for (const char *p = r.body; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    assert_int_equal(lines, 10);
    assert_null(strstr(r.body, "DEMO-0001"));
    http_result_free(&r);
    assert_int_equal(get_as(&people[0], "/dash/org/demo-sch-2/export/participants?format=csv", &r),
                     404);
    http_result_free(&r);
    assert_int_equal(get_as(&people[0], "/dash/org/demo-sch-1/export/passwords?format=csv", &r),
                     404);
    http_result_free(&r);
    assert_int_equal(get_as(&people[2], "/dash/org/demo-mun-1/export/responses?format=xlsx", &r),
                     200);
    assert_memory_equal(r.body, "PK", 2); /* a zip: the workbook */
    http_result_free(&r);
}

static void test_sign_out(void **state)
{
    (void)state;
    struct who *p = &people[2];
    struct http_result r;
    char csrf[128], headers[512], body[256];
    assert_int_equal(get_as(p, "/dash/org/demo-mun-1", &r), 200);
    assert_non_null(form_value(r.body, "csrf", csrf, sizeof csrf));
    http_result_free(&r);
    snprintf(headers, sizeof headers, "Content-Type: application/x-www-form-urlencoded\nCookie: %s",
             p->cookie);
    /* A forged value does not sign anyone out. */
    assert_int_equal(http_request(&h, "POST", "/logout", "csrf=forged", 11, headers, &r), 0);
    assert_int_equal(r.status, 403);
    http_result_free(&r);
    snprintf(body, sizeof body, "csrf=%s", csrf);
    assert_int_equal(http_request(&h, "POST", "/logout", body, strlen(body), headers, &r), 0);
    assert_int_equal(r.status, 303);
    http_result_free(&r);
    assert_int_equal(get_as(p, "/dash/org/demo-mun-1", &r), 303);
    http_result_free(&r);
}

/* A plugin's route asks the host who is signed in (plugins/template's whoami). */
static void test_plugin_route_for_staff(void **state)
{
    (void)state;
    struct http_result r;
    assert_int_equal(http_request(&h, "GET", "/api/v1/plugins/template/whoami", NULL, 0, NULL, &r),
                     0);
    assert_int_equal(r.status, 401);
    http_result_free(&r);
    assert_int_equal(get_as(&people[2], "/api/v1/plugins/template/whoami", &r), 200);
    assert_string_equal(r.body, "{\"login\":\"coord1\"}\n");
    http_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_in),
        cmocka_unit_test(test_plugin_route_for_staff),
        cmocka_unit_test(test_home_and_redirects),
        cmocka_unit_test(test_access_matrix),
        cmocka_unit_test(test_api_sessions),
        cmocka_unit_test(test_report),
        cmocka_unit_test(test_federal_table),
        cmocka_unit_test(test_audit_log),
        cmocka_unit_test(test_curator_sees_who_has_not_answered),
        cmocka_unit_test(test_downloads),
        cmocka_unit_test(test_sign_out),
    };
    return cmocka_run_group_tests_name("integration: staff pages", tests, setup, teardown);
}
