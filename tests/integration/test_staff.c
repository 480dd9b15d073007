/*
 * Integration tests of the staff side through nginx: signing in and out, CSRF on those
 * forms, and the access matrix: each role against the pages of organisations inside and
 * outside its subtree (outside is answered 404, like an unknown organisation).
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

struct who {
    const char *login;
    const char *role;
    const char *org;
    const char *password;
    char cookie[160];
};

static struct who people[] = {
    {"cur1", "curator", "demo-sch-1", "пароль-куратора-1", ""},
    {"cur3", "curator", "demo-sch-3", "пароль-куратора-3", ""},
    {"coord1", "coordinator", "demo-mun-1", "пароль-координатора", ""},
    {"meth", "methodologist", "demo-region", "пароль-методиста", ""},
    {"root", "admin", NULL, "пароль-администратора", ""},
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
    if (harness_start(&h, "1m", "1m") < 0)
        return -1;
    const char *bin = getenv("ANKETA_BIN");
    const char *root = getenv("ANKETA_ROOT");
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

static void test_sign_in(void **state)
{
    (void)state;
    char session[160];
    assert_int_equal(sign_in("cur1", "не тот пароль", "/dash", session, sizeof session), 401);
    assert_int_equal(sign_in("nobody", "не тот пароль", "/dash", session, sizeof session), 401);
    for (size_t i = 0; i < sizeof people / sizeof people[0]; i++)
        assert_int_equal(sign_in(people[i].login, people[i].password, "/dash", people[i].cookie,
                                 sizeof people[i].cookie),
                         303);
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
            snprintf(path, sizeof path, "/dash/org/%s/campaign/c1", orgs[o]);
            status = get_as(&people[w], path, &r);
            if (status != (allowed[w][o] ? 200 : 404))
                fail_msg("%s GET %s: %ld", people[w].login, path, status);
            http_result_free(&r);
        }
    }
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
        cmocka_unit_test(test_curator_sees_who_has_not_answered),
        cmocka_unit_test(test_downloads),
        cmocka_unit_test(test_sign_out),
    };
    return cmocka_run_group_tests_name("integration: staff pages", tests, setup, teardown);
}
