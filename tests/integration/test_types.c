/*
 * Integration tests of the questionnaire format through a real nginx and anketa: every
 * question type rendered, refused with the answers kept, and stored with the right values and
 * scores; conditions decided by the server; English pages; and a four-page questionnaire with
 * Next, Back, a draft that survives a new browser, piping and skipped pages
 * (tests/data/surveys/types).
 */
#include "harness.h"

#include "arena.h"
#include "buf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct harness h;

static int setup(void **state)
{
    (void)state;
    char surveys[1200];
    snprintf(surveys, sizeof surveys, "%s/tests/data/surveys/types", getenv("ANKETA_ROOT"));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return harness_start_surveys(&h, "65536", "1m", surveys);
}

static int teardown(void **state)
{
    (void)state;
    int rc = h.anketa > 0 ? harness_stop(&h) : 0;
    if (rc == 0)
        harness_cleanup(&h);
    else
        fprintf(stderr, "logs kept in %s\n", h.dir);
    curl_global_cleanup();
    return rc == 0 ? 0 : -1;
}

/* GET path (with extra headers, may be NULL) into r, expecting status. */
static void get(const char *path, const char *headers, long status, struct http_result *r)
{
    assert_int_equal(http_request(&h, "GET", path, NULL, 0, headers, r), 0);
    if (r->status != status)
        fail_msg("GET %s: %ld, expected %ld", path, r->status, status);
}

/* Opens /s/<token><query> and returns its CSRF value and cookie. */
static void open_page(const char *token, const char *query, char *csrf, char *cookie)
{
    char path[128];
    snprintf(path, sizeof path, "/s/%s%s", token, query);
    struct http_result r;
    get(path, NULL, 200, &r);
    assert_int_equal(http_form_secrets(&r, csrf, 128, cookie, 128), 0);
    http_result_free(&r);
}

static long post(const char *token, const char *query, const char *cookie, const char *body,
                 struct http_result *r)
{
    char path[128], headers[512];
    snprintf(path, sizeof path, "/s/%s%s", token, query);
    snprintf(headers, sizeof headers, "Content-Type: application/x-www-form-urlencoded\nCookie: %s",
             cookie);
    assert_int_equal(http_request(&h, "POST", path, body, strlen(body), headers, r), 0);
    return r->status;
}

static void has(const struct http_result *r, const char *needle)
{
    if (!strstr(r->body, needle))
        fail_msg("the page lacks: %s", needle);
}

static void lacks(const struct http_result *r, const char *needle)
{
    if (strstr(r->body, needle))
        fail_msg("the page has: %s", needle);
}

static void location(const struct http_result *r, const char *want)
{
    char value[256];
    assert_int_equal(http_header_value(r, "Location", value, sizeof value), 0);
    assert_string_equal(value, want);
}

/* How many answers of token's response have question id and value. */
static long answer_is(const char *token, const char *qid, const char *value)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM answers a JOIN responses r ON r.id = a.response_id "
             "JOIN invitations i ON i.id = r.invitation_id WHERE i.token = ?1 "
             "AND a.question_id = '%s' AND a.value = '%s'",
             qid, value);
    return harness_sql_long(&h, sql, token);
}

static long answers_of(const char *token)
{
    return harness_sql_long(&h,
                            "SELECT count(*) FROM answers a JOIN responses r ON r.id = "
                            "a.response_id JOIN invitations i ON i.id = r.invitation_id WHERE "
                            "i.token = ?1",
                            token);
}

/* Whether token's response has a score of scale with value (to 1e-6) from items items. */
static long score_is(const char *token, const char *scale, double value, int items)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM response_scores s JOIN responses r ON r.id = s.response_id "
             "JOIN invitations i ON i.id = r.invitation_id WHERE i.token = ?1 "
             "AND s.scale_id = '%s' AND abs(s.value - %.9f) < 1e-6 AND s.items = %d",
             scale, value, items);
    return harness_sql_long(&h, sql, token);
}

static const char types_ok[] =
    "q.yn=yes&q.sc=4&q.ch=other&q.ch.other=%D0%A1%D0%BF%D0%BE%D1%80%D1%82&q.dd=rarely"
    "&q.mu=a&q.mu=other&q.mu.other=%D0%A0%D0%B8%D1%81&q.m.a=5&q.m.b=2&q.mc.x=never&q.num=10"
    "&q.dec=12%2C50&q.tx=Hi&q.ta=a%0D%0Ab&q.em=ivanova%40school.ru"
    "&q.ph=%2B7+(912)+345-67-89&q.dg=007&q.dt=2024-12-31&q.rk.often=2&q.rk.rarely=1"
    "&q.rk.never=3&q.cs=yes&q.cond=%3Cb%3E&q.limit=10";

static void test_render_every_type(void **state)
{
    (void)state;
    char token[23], path[64];
    assert_int_equal(harness_invite(&h, "types", token), 0);
    snprintf(path, sizeof path, "/s/%s", token);
    struct http_result r;
    get(path, NULL, 200, &r);
    has(&r, "<script src=\"/static/anketa.js\" defer></script>");
    has(&r, "<input type=\"radio\" id=\"q-yn-yes\" name=\"q.yn\" value=\"yes\">");
    has(&r, "<p class=\"scale-ends\" id=\"q-sc-ends\"><span>1 — Плохо</span> <span>5 — "
            "Хорошо</span></p>");
    has(&r, "<input type=\"radio\" id=\"q-ch-other\" name=\"q.ch\" value=\"other\"><span>"
            "Другое</span>");
    has(&r, "<input type=\"text\" id=\"q-ch-other-input\" name=\"q.ch.other\" value=\"\" "
            "maxlength=\"500\">");
    has(&r, "<select id=\"q-dd-input\" name=\"q.dd\"");
    has(&r, "<option value=\"rarely\">Редко</option>");
    has(&r, "<input type=\"checkbox\" id=\"q-mu-a\" name=\"q.mu\" value=\"a\">");
    has(&r, "<span>Что-то ещё</span>");
    has(&r, "<p class=\"hint\" id=\"q-mu-limits\">Отметьте от 1 до 2 вариантов.</p>");
    has(&r, "<fieldset class=\"matrix cols-5\"");
    has(&r, "<div class=\"mhead\" aria-hidden=\"true\"><span></span><span>1</span>");
    has(&r, "<div class=\"mrow\" id=\"q-m-a\" role=\"group\" aria-labelledby=\"q-m-a-label\">");
    has(&r, "<input type=\"radio\" id=\"q-m-b-5\" name=\"q.m.b\" value=\"5\">");
    has(&r, "<input type=\"radio\" id=\"q-mc-x-never\" name=\"q.mc.x\" value=\"never\">"
            "<span>Никогда</span>");
    has(&r, "<input type=\"text\" inputmode=\"decimal\" class=\"number\" id=\"q-dec-input\"");
    has(&r, "<input type=\"text\" inputmode=\"numeric\" class=\"number\" id=\"q-num-input\"");
    has(&r, "<textarea id=\"q-ta-input\" name=\"q.ta\"");
    has(&r, "<input type=\"email\" id=\"q-em-input\" name=\"q.em\" value=\"\" maxlength=\"2000\" "
            "autocomplete=\"email\"");
    has(&r, "<input type=\"tel\" id=\"q-ph-input\"");
    has(&r, "<input type=\"text\" id=\"q-dg-input\" name=\"q.dg\" value=\"\" maxlength=\"2000\" "
            "inputmode=\"numeric\"");
    has(&r, "<input type=\"date\" class=\"date\" id=\"q-dt-input\" name=\"q.dt\" value=\"\" "
            "placeholder=\"ДД.ММ.ГГГГ\" min=\"2020-01-01\" max=\"2030-12-31\"");
    has(&r, "<select id=\"q-rk-often\" name=\"q.rk.often\"><option value=\"\">—</option><option "
            "value=\"1\">1</option><option value=\"2\">2</option><option value=\"3\">3</option>"
            "</select>");
    has(&r, "<input type=\"checkbox\" id=\"q-cs-input\" name=\"q.cs\" value=\"yes\" "
            "aria-required=\"true\"");
    has(&r, "<div class=\"question note\" id=\"q-nt\" data-type=\"note\">\n<p "
            "class=\"note-text\">Примечание</p>");
    has(&r, "<div class=\"question\" id=\"q-cond\" data-type=\"text\" data-show-if=\"yn\">");
    has(&r, "<div class=\"question\" id=\"q-limit\" data-type=\"number\">");
    /* Answered questions are numbered; the note is not. */
    /* Piping on one page: the answer is not known yet when the page opens. */
    has(&r, "<span class=\"qnum\">19.</span> Не больше числа (…)");
    /* One page: no page fields, one submit button. */
    lacks(&r, "name=\"page\"");
    lacks(&r, "name=\"nav\"");
    http_result_free(&r);
}

static void test_refused_keeps_answers(void **state)
{
    (void)state;
    char token[23], csrf[128], cookie[128];
    assert_int_equal(harness_invite(&h, "types", token), 0);
    open_page(token, "", csrf, cookie);
    struct arena *a = arena_new();
    char *body = arena_printf(a,
                              "csrf=%s&q.yn=yes&q.sc=4&q.ch=other&q.dd=never&q.mu=a&q.mu=b"
                              "&q.mu=c&q.m.a=3&q.mc.x=rarely&q.num=50&q.dec=1.234&q.tx=x"
                              "&q.ta=a%%0D%%0Ab&q.em=ivanova%%40&q.ph=12&q.dg=12a&q.dt=2019-12-31"
                              "&q.rk.often=1&q.rk.rarely=1&q.cond=&q.limit=60",
                              csrf);
    struct http_result r;
    assert_int_equal(post(token, "", cookie, body, &r), 422);
    /* Every problem beside its question... */
    has(&r, "Уточните, что Вы имеете в виду под «Другое».");
    has(&r, "Отметьте не больше вариантов, чем 2.");
    has(&r, "Ответьте на каждую строку.");
    has(&r, "Введите число, не больше 2 знаков после запятой.");
    has(&r, "Введите адрес электронной почты, например ivanova@school.ru.");
    has(&r, "Введите номер телефона, например +7 912 345-67-89.");
    has(&r, "Введите только цифры.");
    has(&r, "Введите дату от 01.01.2020 до 31.12.2030.");
    has(&r, "Поставьте каждому варианту своё место, без повторов.");
    has(&r, "Чтобы продолжить, отметьте согласие.");
    has(&r, "Не больше, чем в «Число»");
    has(&r, "Не больше числа (50)");
    has(&r, "<a href=\"#q-cond\">Если да</a> — Ответьте на этот вопрос.");
    has(&r, "<div class=\"mrow missing\" id=\"q-m-b\"");
    /* ...and every answer kept. */
    has(&r, "name=\"q.yn\" value=\"yes\" checked");
    has(&r, "name=\"q.sc\" value=\"4\" checked");
    has(&r, "name=\"q.ch\" value=\"other\" checked");
    has(&r, "<option value=\"never\" selected>Никогда</option>");
    has(&r, "name=\"q.mu\" value=\"a\" checked");
    has(&r, "name=\"q.mu\" value=\"c\" checked");
    has(&r, "name=\"q.m.a\" value=\"3\" checked");
    has(&r, "name=\"q.mc.x\" value=\"rarely\" checked");
    has(&r, "name=\"q.dec\" value=\"1.234\"");
    has(&r, "a\r\nb</textarea>");
    has(&r, "name=\"q.dt\" value=\"2019-12-31\"");
    has(&r, "<option value=\"1\" selected>1</option>");
    has(&r, "name=\"q.limit\" value=\"60\"");
    arena_free(a);
    http_result_free(&r);
    assert_int_equal(answers_of(token), 0);
}

static void test_stored_values(void **state)
{
    (void)state;
    char token[23], csrf[128], cookie[128];
    assert_int_equal(harness_invite(&h, "types", token), 0);
    open_page(token, "", csrf, cookie);
    struct arena *a = arena_new();
    char *body = arena_printf(a, "csrf=%s&%s", csrf, types_ok);
    struct http_result r;
    assert_int_equal(post(token, "", cookie, body, &r), 303);
    http_result_free(&r);
    static const char *const want[][2] = {
        {"yn", "yes"},
        {"sc", "4"},
        {"ch", "other"},
        {"ch.other", "Спорт"},
        {"dd", "rarely"},
        {"mu", "[\"a\",\"other\"]"},
        {"mu.other", "Рис"},
        {"m.a", "5"},
        {"m.b", "2"},
        {"mc.x", "never"},
        {"num", "10"},
        {"dec", "12.5"},
        {"tx", "Hi"},
        {"ta", "a\nb"},
        {"em", "ivanova@school.ru"},
        {"ph", "+7 (912) 345-67-89"},
        {"dg", "007"},
        {"dt", "2024-12-31"},
        {"rk", "[\"rarely\",\"often\",\"never\"]"},
        {"cs", "yes"},
        {"cond", "<b>"},
        {"limit", "10"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (answer_is(token, want[i][0], want[i][1]) != 1)
            fail_msg("answer %s is not %s", want[i][0], want[i][1]);
    assert_int_equal(answers_of(token), sizeof want / sizeof want[0]);
    /* mood = (4 + 5 + (1 + 5 - 2)) / 3, total = 10 + 10. */
    assert_int_equal(score_is(token, "mood", 13.0 / 3.0, 3), 1);
    assert_int_equal(score_is(token, "total", 20.0, 2), 1);
    assert_int_equal(harness_sql_long(&h,
                                      "SELECT count(*) FROM response_scores s JOIN responses r "
                                      "ON r.id = s.response_id JOIN invitations i ON i.id = "
                                      "r.invitation_id WHERE i.token = ?1",
                                      token),
                     2);
    arena_free(a);
}

/*
 * The database remembers each version's definition: a start with the same version of the
 * file but a question that has answers retyped is refused, saying which version to write.
 * Runs after test_stored_values, whose response answered cs.
 */
static void test_version_refused(void **state)
{
    (void)state;
    assert_int_equal(harness_sql_long(&h,
                                      "SELECT count(*) FROM survey_versions WHERE survey_id = ?1 "
                                      "AND version = 1",
                                      "types"),
                     1);
    char dir[] = "/tmp/anketa-version-XXXXXX", cmd[4096], out[4096];
    assert_non_null(mkdtemp(dir));
    snprintf(cmd, sizeof cmd,
             "sed 's/^    type: consent$/    type: yesno/' %s/tests/data/surveys/types/types.yaml "
             "> %s/types.yaml && grep -c 'type: yesno' %s/types.yaml",
             h.root, dir, dir);
    assert_int_equal(harness_run(cmd, out, sizeof out), 0);
    assert_string_equal(out, "2\n");
    const char *bin = getenv("ANKETA_BIN");
    snprintf(cmd, sizeof cmd,
             "%s%s%s serve --db %s --surveys %s --web %s/web --socket %s/s.sock --workers 1",
             bin[0] == '/' ? "" : h.root, bin[0] == '/' ? "" : "/", bin, h.db, dir, h.root, dir);
    assert_int_equal(harness_run(cmd, out, sizeof out), 1);
    char want[512];
    snprintf(want, sizeof want,
             "%s/types.yaml:98:5: survey \"types\" changed incompatibly under version 1, which "
             "the database has answers to: question \"cs\", which has answers, changed type from "
             "consent to yesno; raise `version:` to 2 (answers given to version 1 stay readable)",
             dir);
    if (!strstr(out, want))
        fail_msg("expected: %s\ngot: %s", want, out);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(harness_run(cmd, out, sizeof out), 0);
}

/* yn = no hides cond: its answer is neither required nor stored, whatever was posted. */
static void test_hidden_not_stored(void **state)
{
    (void)state;
    char token[23], csrf[128], cookie[128];
    assert_int_equal(harness_invite(&h, "types", token), 0);
    open_page(token, "", csrf, cookie);
    struct arena *a = arena_new();
    char *body =
        arena_printf(a, "csrf=%s&q.yn=no&q.sc=5&q.m.a=1&q.m.b=1&q.cs=yes&q.cond=%%01", csrf);
    struct http_result r;
    assert_int_equal(post(token, "", cookie, body, &r), 303);
    http_result_free(&r);
    assert_int_equal(answer_is(token, "yn", "no"), 1);
    assert_int_equal(answers_of(token), 5);
    arena_free(a);
}

static void test_english(void **state)
{
    (void)state;
    char token[23], path[64];
    assert_int_equal(harness_invite(&h, "types", token), 0);
    snprintf(path, sizeof path, "/s/%s?lang=en", token);
    struct http_result r;
    get(path, NULL, 200, &r);
    has(&r, "<html lang=\"en\">");
    has(&r, "<h1>Every question type</h1>");
    has(&r, "Yes or no?");
    has(&r, "<span>Yes</span>");
    has(&r, "<span>Rarely</span>");
    has(&r, "<span>1 — Bad</span> <span>5 — Хорошо</span>"); /* no English: Russian */
    has(&r, "Матрица");
    has(&r, "<span>Other</span>");
    has(&r, "Tick from 1 to 2 options.");
    has(&r, "Send answers");
    has(&r, "action=\"/s/");
    char action[128];
    snprintf(action, sizeof action, "action=\"/s/%s?lang=en\"", token);
    has(&r, action);
    char csrf[128], cookie[128];
    assert_int_equal(http_form_secrets(&r, csrf, sizeof csrf, cookie, sizeof cookie), 0);
    http_result_free(&r);

    /* The form re-shown after a problem stays English. */
    struct arena *a = arena_new();
    struct http_result p;
    assert_int_equal(post(token, "?lang=en", cookie, arena_printf(a, "csrf=%s&q.num=x", csrf), &p),
                     422);
    has(&p, "<html lang=\"en\">");
    has(&p, "Please answer this question.");
    has(&p, "Enter a whole number.");
    has(&p, "Please check your answers");
    http_result_free(&p);
    arena_free(a);

    /* A browser that asks for English only gets it; one that lists Russian gets Russian. */
    snprintf(path, sizeof path, "/s/%s", token);
    get(path, "Accept-Language: en-GB,en;q=0.9", 200, &r);
    has(&r, "<html lang=\"en\">");
    http_result_free(&r);
    get(path, "Accept-Language: en-GB,ru;q=0.5", 200, &r);
    has(&r, "<html lang=\"ru\">");
    has(&r, "<h1>Все типы вопросов</h1>");
    http_result_free(&r);
}

/* ---- A questionnaire of four pages. ---- */

static char *page_body(struct arena *a, const char *csrf, int page, const char *nav,
                       const char *answers)
{
    return arena_printf(a, "csrf=%s&page=%d&nav=%s%s%s", csrf, page, nav, *answers ? "&" : "",
                        answers);
}

static void test_pages_next_back_resume(void **state)
{
    (void)state;
    char token[23], csrf[128], cookie[128], path[128], want[128];
    assert_int_equal(harness_invite(&h, "pages", token), 0);
    snprintf(path, sizeof path, "/s/%s", token);
    struct http_result r;
    get(path, NULL, 200, &r);
    has(&r, "<p class=\"progress\">Страница 1 из 4</p>");
    has(&r, "<h2 class=\"section-title\">Первая</h2>");
    has(&r, "<input type=\"hidden\" name=\"page\" value=\"1\">");
    has(&r, "<button type=\"submit\" name=\"nav\" value=\"next\" class=\"submit\">Далее</button>");
    lacks(&r, "value=\"back\"");
    lacks(&r, "name=\"q.s1\"");
    assert_int_equal(http_form_secrets(&r, csrf, sizeof csrf, cookie, sizeof cookie), 0);
    http_result_free(&r);
    struct arena *a = arena_new();

    /* Next checks this page only. */
    assert_int_equal(post(token, "", cookie, page_body(a, csrf, 1, "next", "q.club=yes"), &r), 422);
    has(&r, "<a href=\"#q-name\">");
    has(&r, "<a href=\"#q-club_name\">");
    lacks(&r, "#q-s2");
    has(&r, "name=\"q.club\" value=\"yes\" checked");
    http_result_free(&r);
    assert_int_equal(
        post(token, "", cookie,
             page_body(a, csrf, 1, "next",
                       "q.name=%D0%90%D0%BD%D1%8F+%3Ci%3E&q.club=yes&q.club_name=chess"),
             &r),
        303);
    snprintf(want, sizeof want, "/s/%s?page=2", token);
    location(&r, want);
    http_result_free(&r);

    /* Page 2, then 3, where the name and the club of page 1 are piped into a label. */
    get(want, NULL, 200, &r);
    has(&r, "Страница 2 из 4");
    has(&r, "name=\"q.club_years\"");
    has(&r, "value=\"back\" class=\"back\">Назад</button>");
    http_result_free(&r);
    assert_int_equal(post(token, "", cookie, page_body(a, csrf, 2, "next", "q.club_years=3"), &r),
                     303);
    http_result_free(&r);
    snprintf(want, sizeof want, "/s/%s?page=3", token);
    get(want, NULL, 200, &r);
    has(&r, "Аня &lt;i&gt;, насколько Вам нравится кружок «Шахматы»?");
    /* Decided by page 1, so the server shows it without waiting for the browser. */
    has(&r, "<div class=\"question\" id=\"q-s1\" data-type=\"scale\" data-show-if=\"club\">");
    http_result_free(&r);

    /* Back keeps what this page had, unchecked. */
    assert_int_equal(post(token, "", cookie, page_body(a, csrf, 3, "back", "q.s1=11&q.s2=4"), &r),
                     303);
    snprintf(want, sizeof want, "/s/%s?page=2", token);
    location(&r, want);
    http_result_free(&r);

    /* Another browser (no cookie) on the same link resumes where the participant was, with
     * the answers; pages reached can be revisited, later ones not. */
    get(path, NULL, 200, &r);
    has(&r, "Страница 2 из 4");
    has(&r, "name=\"q.club_years\" value=\"3\"");
    char csrf2[128], cookie2[128];
    assert_int_equal(http_form_secrets(&r, csrf2, sizeof csrf2, cookie2, sizeof cookie2), 0);
    assert_string_not_equal(cookie2, cookie);
    http_result_free(&r);
    snprintf(want, sizeof want, "/s/%s?page=3", token);
    get(want, NULL, 200, &r);
    has(&r, "name=\"q.s2\" value=\"4\" checked");
    http_result_free(&r);
    snprintf(want, sizeof want, "/s/%s?page=4", token);
    get(want, NULL, 200, &r);
    has(&r, "Страница 2 из 4");
    http_result_free(&r);

    /* The old browser's CSRF value is bound to its cookie, not to the new one. */
    assert_int_equal(post(token, "", cookie2, page_body(a, csrf, 2, "next", "q.club_years=3"), &r),
                     403);
    http_result_free(&r);
    assert_int_equal(post(token, "", cookie2, page_body(a, csrf2, 2, "next", "q.club_years=3"), &r),
                     303);
    http_result_free(&r);
    assert_int_equal(post(token, "", cookie2, page_body(a, csrf2, 3, "next", "q.s1=11&q.s2=4"), &r),
                     422);
    has(&r, "Введите значение от 1 до 10.");
    http_result_free(&r);
    assert_int_equal(post(token, "", cookie2, page_body(a, csrf2, 3, "next", "q.s1=10&q.s2=4"), &r),
                     303);
    http_result_free(&r);

    /* Page 4's condition reads page 1's club: its answer travels with the page for the
     * browser, disabled so that it is never posted again. */
    snprintf(want, sizeof want, "/s/%s?page=4", token);
    get(want, NULL, 200, &r);
    has(&r, "<div class=\"carried\" hidden><div id=\"q-club\" data-type=\"yesno\"><input "
            "type=\"hidden\" name=\"q.club\" value=\"yes\" disabled></div></div>");
    has(&r, "data-show-if=\"more and club\">");
    has(&r, "<button type=\"submit\" name=\"nav\" value=\"submit\" class=\"submit\">Отправить "
            "ответы</button>");
    http_result_free(&r);
    assert_int_equal(
        post(token, "", cookie2, page_body(a, csrf2, 4, "submit", "q.more=yes&q.details=ok"), &r),
        303);
    snprintf(want, sizeof want, "/s/%s/done", token);
    location(&r, want);
    http_result_free(&r);

    assert_int_equal(answer_is(token, "name", "Аня <i>"), 1);
    assert_int_equal(answer_is(token, "club_name", "chess"), 1);
    assert_int_equal(answer_is(token, "club_years", "3"), 1);
    assert_int_equal(answer_is(token, "s1", "10"), 1);
    assert_int_equal(answer_is(token, "details", "ok"), 1);
    assert_int_equal(answers_of(token), 8);
    assert_int_equal(score_is(token, "sat", 7.0, 2), 1);
    assert_int_equal(harness_sql_long(&h,
                                      "SELECT count(*) FROM drafts d JOIN invitations i ON i.id = "
                                      "d.invitation_id WHERE i.token = ?1",
                                      token),
                     0);
    get(path, NULL, 200, &r);
    has(&r, "Анкета уже заполнена");
    http_result_free(&r);
    arena_free(a);
}

static void test_pages_skip_and_submit_checks_all(void **state)
{
    (void)state;
    char token[23], csrf[128], cookie[128], want[128];
    assert_int_equal(harness_invite(&h, "pages", token), 0);
    open_page(token, "?lang=en", csrf, cookie);
    struct arena *a = arena_new();
    struct http_result r;

    /* A last page sent straight away is checked as a whole: the first page with a problem is
     * shown. */
    assert_int_equal(
        post(token, "?lang=en", cookie, page_body(a, csrf, 4, "submit", "q.more=no"), &r), 422);
    has(&r, "Page 1 of 4");
    has(&r, "<a href=\"#q-name\">Your name?</a> — Please answer this question.");
    http_result_free(&r);

    /* Without a club, page 2 has nothing to show and is skipped; the language stays. */
    assert_int_equal(
        post(token, "?lang=en", cookie, page_body(a, csrf, 1, "next", "q.name=Ann&q.club=no"), &r),
        303);
    snprintf(want, sizeof want, "/s/%s?page=3&lang=en", token);
    location(&r, want);
    http_result_free(&r);
    get(want, NULL, 200, &r);
    has(&r, "Page 3 of 4");
    has(&r, "id=\"q-s1\" data-type=\"scale\" data-show-if=\"club\" hidden>");
    http_result_free(&r);
    assert_int_equal(post(token, "?lang=en", cookie, page_body(a, csrf, 3, "back", ""), &r), 303);
    snprintf(want, sizeof want, "/s/%s?page=1&lang=en", token);
    location(&r, want);
    http_result_free(&r);
    assert_int_equal(answers_of(token), 0);
    arena_free(a);
}

static void test_clean_shutdown(void **state)
{
    (void)state;
    assert_int_equal(harness_stop(&h), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_every_type),
        cmocka_unit_test(test_refused_keeps_answers),
        cmocka_unit_test(test_stored_values),
        cmocka_unit_test(test_version_refused),
        cmocka_unit_test(test_hidden_not_stored),
        cmocka_unit_test(test_english),
        cmocka_unit_test(test_pages_next_back_resume),
        cmocka_unit_test(test_pages_skip_and_submit_checks_all),
        cmocka_unit_test(test_clean_shutdown),
    };
    return cmocka_run_group_tests_name("integration: question types and pages", tests, setup,
                                       teardown);
}
