/*
 * Tests of response: per-type validation, normalisation, UTF-8 checks and error keys (on
 * surveys built by hand, independent of the loader), then the full format on surveys loaded
 * from YAML: every new type, show_if / required_if / constraint as the server decides them,
 * page-by-page checks, and the scores of scales against values computed by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "arena.h"
#include "err.h"
#include "form.h"
#include "response.h"
#include "survey.h"

static struct choice freq_choices[] = {
    {"often", {"Часто", NULL}},
    {"rarely", {"Редко", NULL}},
    {"never", {"Никогда", NULL}},
};

enum { Q_AGREE, Q_SCORE, Q_FREQ, Q_NAME, Q_STORY, Q_AGE, Q_COUNT, NQUESTIONS };

static struct question questions[NQUESTIONS] = {
    [Q_AGREE] = {.id = "agree", .type = Q_YESNO, .required = 1},
    [Q_SCORE] = {.id = "score", .type = Q_SCALE, .required = 1, .min = 1, .max = 10},
    [Q_FREQ] = {.id = "freq", .type = Q_CHOICE, .choices = freq_choices, .nchoices = 3},
    [Q_NAME] = {.id = "name", .type = Q_TEXT, .max_length = 5},
    [Q_STORY] = {.id = "story", .type = Q_TEXT, .long_text = 1, .max_length = 2000},
    [Q_AGE] = {.id = "age", .type = Q_NUMBER, .has_min = 1, .min = 0, .has_max = 1, .max = 120},
    [Q_COUNT] = {.id = "count", .type = Q_NUMBER},
};

static const struct survey survey = {
    .id = "test",
    .version = 1,
    .questions = questions,
    .nquestions = NQUESTIONS,
};

/*
 * Validates raw[0..len) as the only answer to q (raw NULL: no field at all) and checks the
 * outcome: the stored value (NULL: not stored) or the error key (NULL: none).
 */
static void check_answer(struct question *q, const char *raw, size_t len, const char *value,
                         const char *key)
{
    struct arena *a = arena_new();
    assert_non_null(a);
    char name[80];
    snprintf(name, sizeof name, "q.%s", q->id);
    struct form_field field = {name, raw, len};
    struct form f = {&field, raw ? 1 : 0};
    struct survey s = {.id = "one", .questions = q, .nquestions = 1};
    struct response r;
    assert_int_equal(response_from_form(a, &s, &f, &r), 0);
    assert_ptr_equal(r.survey, &s);
    assert_non_null(r.errors);
    if (key) {
        if (!r.errors[0])
            fail_msg("%s=\"%s\": expected %s, got no error", q->id, raw, key);
        assert_string_equal(r.errors[0], key);
        assert_int_equal(r.nerrors, 1);
        assert_int_equal(r.nanswers, 0);
    } else {
        if (r.errors[0])
            fail_msg("%s=\"%s\": unexpected %s", q->id, raw, r.errors[0]);
        assert_int_equal(r.nerrors, 0);
    }
    if (value) {
        assert_int_equal(r.nanswers, 1);
        assert_ptr_equal(r.answers[0].q, q);
        assert_string_equal(r.answers[0].value, value);
    } else {
        assert_int_equal(r.nanswers, 0);
    }
    arena_free(a);
}

#define OK(q, raw, value) check_answer(&questions[q], raw, strlen(raw), value, NULL)
#define BAD(q, raw, key)  check_answer(&questions[q], raw, strlen(raw), NULL, key)

static void test_yesno(void **state)
{
    (void)state;
    OK(Q_AGREE, "yes", "yes");
    OK(Q_AGREE, "no", "no");
    OK(Q_AGREE, " yes\r\n", "yes");
    BAD(Q_AGREE, "Yes", "error.choice");
    BAD(Q_AGREE, "y", "error.choice");
    BAD(Q_AGREE, "true", "error.choice");
    BAD(Q_AGREE, "yesno", "error.choice");
    BAD(Q_AGREE, "ye", "error.choice");
    BAD(Q_AGREE, "no!", "error.choice");
}

static void test_choice(void **state)
{
    (void)state;
    OK(Q_FREQ, "often", "often");
    OK(Q_FREQ, "never", "never");
    OK(Q_FREQ, "\trarely ", "rarely");
    BAD(Q_FREQ, "Often", "error.choice");
    BAD(Q_FREQ, "ofte", "error.choice");
    BAD(Q_FREQ, "oftenx", "error.choice");
    BAD(Q_FREQ, "sometimes", "error.choice");
    BAD(Q_FREQ, "Часто", "error.choice");
}

static void test_scale(void **state)
{
    (void)state;
    OK(Q_SCORE, "1", "1");
    OK(Q_SCORE, "10", "10");
    OK(Q_SCORE, "7", "7");
    OK(Q_SCORE, "007", "7");
    OK(Q_SCORE, "5 ", "5");
    OK(Q_SCORE, " 5", "5");
    BAD(Q_SCORE, "0", "error.range");
    BAD(Q_SCORE, "11", "error.range");
    BAD(Q_SCORE, "-1", "error.range");
    BAD(Q_SCORE, "-0", "error.range");
    BAD(Q_SCORE, "+5", "error.integer");
    BAD(Q_SCORE, "1e1", "error.integer");
    BAD(Q_SCORE, "0x5", "error.integer");
    BAD(Q_SCORE, "5.0", "error.integer");
    BAD(Q_SCORE, "5 5", "error.integer");
    BAD(Q_SCORE, "-", "error.integer");
    BAD(Q_SCORE, "--1", "error.integer");
    BAD(Q_SCORE, "- 1", "error.integer");
    BAD(Q_SCORE, "five", "error.integer");
    BAD(Q_SCORE, "\xd9\xa5", "error.integer"); /* ARABIC-INDIC DIGIT FIVE */
    BAD(Q_SCORE, "99999999999999999999999", "error.integer");

    struct question neg = {.id = "neg", .type = Q_SCALE, .min = -5, .max = 5};
    check_answer(&neg, "-5", 2, "-5", NULL);
    check_answer(&neg, "-05", 3, "-5", NULL);
    check_answer(&neg, "-0", 2, "0", NULL);
    check_answer(&neg, "5", 1, "5", NULL);
    check_answer(&neg, "-6", 2, NULL, "error.range");
    check_answer(&neg, "6", 1, NULL, "error.range");
}

static void test_number(void **state)
{
    (void)state;
    OK(Q_AGE, "0", "0");
    OK(Q_AGE, "-0", "0");
    OK(Q_AGE, "-000", "0");
    OK(Q_AGE, "120", "120");
    OK(Q_AGE, "000120", "120");
    BAD(Q_AGE, "121", "error.range");
    BAD(Q_AGE, "-1", "error.range");
    BAD(Q_AGE, "+1", "error.integer");
    BAD(Q_AGE, "12a", "error.integer");

    /* Without bounds any integer of up to 18 digits is accepted. */
    OK(Q_COUNT, "-1234", "-1234");
    OK(Q_COUNT, "-007", "-7");
    OK(Q_COUNT, "999999999999999999", "999999999999999999");
    OK(Q_COUNT, "-999999999999999999", "-999999999999999999");
    OK(Q_COUNT, "000000000000000001", "1");
    BAD(Q_COUNT, "1000000000000000000", "error.integer");
    BAD(Q_COUNT, "-1000000000000000000", "error.integer");
    BAD(Q_COUNT, "0000000000000000001", "error.integer");
    BAD(Q_COUNT, "9223372036854775808", "error.integer");

    struct question low = {.id = "low", .type = Q_NUMBER, .has_min = 1, .min = 10};
    check_answer(&low, "10", 2, "10", NULL);
    check_answer(&low, "9", 1, NULL, "error.range_min");
    check_answer(&low, "999999999999999999", 18, "999999999999999999", NULL);
    struct question high = {.id = "high", .type = Q_NUMBER, .has_max = 1, .max = -10};
    check_answer(&high, "-10", 3, "-10", NULL);
    check_answer(&high, "-9", 2, NULL, "error.range_max");
    check_answer(&high, "-999999999999999999", 19, "-999999999999999999", NULL);
}

static void test_required_and_empty(void **state)
{
    (void)state;
    /* Absent, empty and whitespace-only are all "not answered". */
    check_answer(&questions[Q_AGREE], NULL, 0, NULL, "error.required");
    BAD(Q_AGREE, "", "error.required");
    BAD(Q_AGREE, "  \t\r\n ", "error.required");
    BAD(Q_SCORE, " ", "error.required");
    check_answer(&questions[Q_FREQ], NULL, 0, NULL, NULL);
    OK(Q_FREQ, "", NULL);
    OK(Q_FREQ, " \f ", NULL);
    OK(Q_AGE, "  ", NULL);
    OK(Q_NAME, "\r\n\r\n", NULL);
    OK(Q_STORY, " \n \n\t", NULL);

    struct question text = {.id = "t", .type = Q_TEXT, .required = 1, .max_length = 10};
    check_answer(&text, "\r\n  \r", 5, NULL, "error.required");
    check_answer(&text, NULL, 0, NULL, "error.required");
    check_answer(&text, "x", 1, "x", NULL);
}

static void test_text(void **state)
{
    (void)state;
    OK(Q_NAME, "Петя", "Петя");
    OK(Q_NAME, "  Иван \r\n", "Иван");
    OK(Q_NAME, "a\tb", "a\tb");
    BAD(Q_NAME, "a\nb", "error.text");
    BAD(Q_NAME, "a\r\nb", "error.text");
    BAD(Q_NAME, "a\rb", "error.text");

    OK(Q_STORY, "line1\n\tline2", "line1\n\tline2");
    OK(Q_STORY, "a\r\nb\rc\n\rd", "a\nb\nc\n\nd");
    OK(Q_STORY, "\r\n  first\r\n\r\nlast  \r\n", "first\n\nlast");
    BAD(Q_STORY, "bell\a", "error.text");
    BAD(Q_STORY, "esc\x1b[0m", "error.text");
    BAD(Q_STORY, "del\x7f", "error.text");
    BAD(Q_STORY, "bad \xc3\x28", "error.text");
    check_answer(&questions[Q_STORY], "a\0b", 3, NULL, "error.text");
}

static void test_text_length_in_code_points(void **state)
{
    (void)state;
    /* max_length 5: five Cyrillic letters are 10 bytes but 5 characters. */
    OK(Q_NAME, "Мария", "Мария");
    OK(Q_NAME, "abcde", "abcde");
    OK(Q_NAME, "  abcde  ", "abcde");
    OK(Q_NAME, "😀😀😀😀😀", "😀😀😀😀😀");
    BAD(Q_NAME, "Марина", "error.too_long");
    BAD(Q_NAME, "abcdef", "error.too_long");
    BAD(Q_NAME, "😀😀😀😀😀😀", "error.too_long");
    /* Validity is checked before length. */
    BAD(Q_NAME, "abcdef\x01", "error.text");

    struct question story = {.id = "s", .type = Q_TEXT, .long_text = 1, .max_length = 3};
    /* A CRLF is one character once normalised. */
    check_answer(&story, "a\r\nb", 4, "a\nb", NULL);
    check_answer(&story, "a\r\n\r\nb", 6, NULL, "error.too_long");
}

static void test_valid_text_table(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t n;
        int valid;
    } cases[] = {
        {"", 0, 1},
        {"plain ascii ~", 13, 1},
        {"\t\n\r", 3, 1},
        {"\xc2\x80", 2, 1},         /* U+0080, smallest 2-byte */
        {"\xc3\xa9", 2, 1},         /* é */
        {"\xd0\x96", 2, 1},         /* Ж */
        {"\xdf\xbf", 2, 1},         /* U+07FF */
        {"\xe0\xa0\x80", 3, 1},     /* U+0800, smallest 3-byte */
        {"\xe2\x82\xac", 3, 1},     /* € */
        {"\xed\x9f\xbf", 3, 1},     /* U+D7FF, just below the surrogates */
        {"\xee\x80\x80", 3, 1},     /* U+E000, just above them */
        {"\xef\xbf\xbf", 3, 1},     /* U+FFFF */
        {"\xf0\x90\x80\x80", 4, 1}, /* U+10000, smallest 4-byte */
        {"\xf0\x9f\x98\x80", 4, 1}, /* 😀 */
        {"\xf4\x8f\xbf\xbf", 4, 1}, /* U+10FFFF */
        {"\xc0\x80", 2, 0},         /* overlong NUL */
        {"\xc1\xbf", 2, 0},         /* overlong U+007F */
        {"\xe0\x80\x80", 3, 0},     /* overlong NUL */
        {"\xe0\x9f\xbf", 3, 0},     /* overlong U+07FF */
        {"\xf0\x80\x80\x80", 4, 0}, /* overlong NUL */
        {"\xf0\x8f\xbf\xbf", 4, 0}, /* overlong U+FFFF */
        {"\xed\xa0\x80", 3, 0},     /* U+D800 */
        {"\xed\xbf\xbf", 3, 0},     /* U+DFFF */
        {"\xf4\x90\x80\x80", 4, 0}, /* U+110000 */
        {"\xf5\x80\x80\x80", 4, 0}, /* lead byte beyond U+10FFFF */
        {"\xfe", 1, 0},             /* never valid */
        {"\xff", 1, 0},             /* never valid */
        {"\xc3", 1, 0},             /* truncated 2-byte */
        {"\xe2\x82", 2, 0},         /* truncated 3-byte */
        {"\xf0\x9f\x98", 3, 0},     /* truncated 4-byte */
        {"a\xe2\x82", 3, 0},        /* truncated at the end of longer text */
        {"\xc3\x41", 2, 0},         /* bad continuation */
        {"\xe2\x41\xac", 3, 0},     /* bad first continuation */
        {"\xe2\x82\x41", 3, 0},     /* bad last continuation */
        {"\xf0\x9f\x98\x41", 4, 0}, /* bad last continuation */
        {"\x80", 1, 0},             /* lone continuation */
        {"a\xbf", 2, 0},            /* lone continuation */
        {"\xc3\xa9\xa9", 3, 0},     /* one continuation too many */
        {"\0", 1, 0},               /* NUL */
        {"a\0b", 3, 0},             /* NUL inside */
        {"\x01", 1, 0},             /* C0 control */
        {"\x1f", 1, 0},             /* C0 control */
        {"\x0b", 1, 0},             /* vertical tab */
        {"\x7f", 1, 0},             /* DEL */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = response_valid_text(cases[i].s, cases[i].n);
        if (got != cases[i].valid)
            fail_msg("case %zu: expected %d, got %d", i, cases[i].valid, got);
    }
    /* The length is authoritative: bytes after n are never looked at. */
    assert_int_equal(response_valid_text("ok\x01", 2), 1);
    assert_int_equal(response_valid_text("\xc3\xa9", 1), 0);
}

static void test_multiple_values(void **state)
{
    struct arena *a = *state;
    struct form f;
    struct err e = {0};
    static const char body[] = "q.agree=yes&q.agree=yes&q.score=5&q.freq=&q.freq=&q.name=x";
    assert_int_equal(form_parse(a, body, strlen(body), &f, &e), 0);
    struct response r;
    assert_int_equal(response_from_form(a, &survey, &f, &r), 0);
    assert_string_equal(r.errors[Q_AGREE], "error.multiple");
    assert_null(r.errors[Q_SCORE]);
    /* Even empty repeats are refused: the page never posts a question twice. */
    assert_string_equal(r.errors[Q_FREQ], "error.multiple");
    assert_int_equal(r.nerrors, 2);
    assert_int_equal(r.nanswers, 2);
    assert_ptr_equal(r.answers[0].q, &questions[Q_SCORE]);
    assert_string_equal(r.answers[0].value, "5");
    assert_ptr_equal(r.answers[1].q, &questions[Q_NAME]);
    assert_string_equal(r.answers[1].value, "x");
}

static void test_whole_survey(void **state)
{
    struct arena *a = *state;
    struct form f;
    struct err e = {0};
    /* Posted in another order than the survey's, with fields that belong to no question. */
    static const char body[] = "q.count=-0&csrf=abc123&q.story=line1%0D%0Aline2&q.agree=yes"
                               "&q.score=07&q.freq=bogus&q.name=%D0%9C%D0%B0%D1%80%D0%B8%D1%8F"
                               "&q.age=&q.unknown=1&q.scorex=3&score=4&q.=1";
    assert_int_equal(form_parse(a, body, strlen(body), &f, &e), 0);
    struct response r;
    assert_int_equal(response_from_form(a, &survey, &f, &r), 0);
    assert_ptr_equal(r.survey, &survey);
    assert_int_equal(r.nerrors, 1);
    for (size_t i = 0; i < NQUESTIONS; i++) {
        if (i == Q_FREQ)
            assert_string_equal(r.errors[i], "error.choice");
        else
            assert_null(r.errors[i]);
    }
    static const struct {
        int q;
        const char *value;
    } want[] = {
        {Q_AGREE, "yes"},          {Q_SCORE, "7"}, {Q_NAME, "Мария"},
        {Q_STORY, "line1\nline2"}, {Q_COUNT, "0"},
    };
    assert_int_equal(r.nanswers, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < r.nanswers; i++) {
        assert_ptr_equal(r.answers[i].q, &questions[want[i].q]);
        assert_string_equal(r.answers[i].value, want[i].value);
    }
}

static void test_error_count(void **state)
{
    struct arena *a = *state;
    struct form f;
    struct err e = {0};
    static const char body[] = "q.freq=x&q.name=abcdefgh&q.story=%01&q.age=200&q.count=1.5";
    assert_int_equal(form_parse(a, body, strlen(body), &f, &e), 0);
    struct response r;
    assert_int_equal(response_from_form(a, &survey, &f, &r), 0);
    static const char *const want[NQUESTIONS] = {
        [Q_AGREE] = "error.required", [Q_SCORE] = "error.required", [Q_FREQ] = "error.choice",
        [Q_NAME] = "error.too_long",  [Q_STORY] = "error.text",     [Q_AGE] = "error.range",
        [Q_COUNT] = "error.integer",
    };
    for (size_t i = 0; i < NQUESTIONS; i++)
        assert_string_equal(r.errors[i], want[i]);
    assert_int_equal(r.nerrors, NQUESTIONS);
    assert_int_equal(r.nanswers, 0);

    /* An empty form: only the required questions are in error. */
    struct form empty = {NULL, 0};
    assert_int_equal(response_from_form(a, &survey, &empty, &r), 0);
    assert_int_equal(r.nerrors, 2);
    assert_string_equal(r.errors[Q_AGREE], "error.required");
    assert_string_equal(r.errors[Q_SCORE], "error.required");
    assert_null(r.errors[Q_FREQ]);
    assert_int_equal(r.nanswers, 0);
}

static void test_empty_survey(void **state)
{
    struct survey none = {.id = "none"};
    struct form f = {NULL, 0};
    struct response r;
    assert_int_equal(response_from_form(*state, &none, &f, &r), 0);
    assert_int_equal(r.nanswers, 0);
    assert_int_equal(r.nerrors, 0);
}

static void test_raw_value(void **state)
{
    struct arena *a = *state;
    struct form f;
    struct err e = {0};
    static const char body[] = "agree=no&q.agreex=no&x.agree=no&q.agree=+Yes+&q.agree=no"
                               "&q.story=a%0D%0Ab";
    assert_int_equal(form_parse(a, body, strlen(body), &f, &e), 0);
    assert_string_equal(response_raw_value(&f, &questions[Q_AGREE]), " Yes ");
    assert_string_equal(response_raw_value(&f, &questions[Q_STORY]), "a\r\nb");
    assert_null(response_raw_value(&f, &questions[Q_SCORE]));
    struct form empty = {NULL, 0};
    assert_null(response_raw_value(&empty, &questions[Q_AGREE]));
}

static void test_allocation_failures(void **state)
{
    (void)state;
    static const char body[] = "q.agree=no&q.score=3&q.freq=often&q.name=%D0%AF&q.story=a%0D%0Ab"
                               "&q.age=042&q.count=-5";
    int failures = 0;
    for (long n = 1;; n++) {
        struct arena *a = arena_new();
        assert_non_null(a);
        struct form f;
        struct err e = {0};
        struct response r;
        arena_fail_after(n);
        int parsed = form_parse(a, body, strlen(body), &f, &e);
        int rc = parsed == 0 ? response_from_form(a, &survey, &f, &r) : parsed;
        arena_fail_after(0);
        if (rc == 0) {
            assert_int_equal(r.nerrors, 0);
            assert_int_equal(r.nanswers, NQUESTIONS);
            assert_string_equal(r.answers[Q_NAME].value, "Я");
            assert_string_equal(r.answers[Q_STORY].value, "a\nb");
            assert_string_equal(r.answers[Q_AGE].value, "42");
            assert_string_equal(r.answers[Q_COUNT].value, "-5");
            arena_free(a);
            break;
        }
        assert_int_equal(rc, parsed == 0 ? -1 : FORM_NO_MEMORY);
        arena_free(a);
        failures++;
        assert_true(failures < 1000);
    }
    /* form: the field array and 7 fields; response: its 4 arrays (problems, answers, hidden
     * flags, what expressions read), the 2 normalised texts and the copies of the 5 other
     * answers. */
    assert_int_equal(failures, 1 + 7 + 4 + 2 + 5);
}

/* Failures inside response_from_form alone leave r empty rather than half filled. */
static void test_allocation_failures_leave_response_empty(void **state)
{
    (void)state;
    static const char body[] = "q.agree=yes&q.name=abc&q.story=x";
    int failures = 0;
    for (long n = 1;; n++) {
        struct arena *a = arena_new();
        assert_non_null(a);
        struct form f;
        struct err e = {0};
        assert_int_equal(form_parse(a, body, strlen(body), &f, &e), 0);
        struct response r;
        arena_fail_after(n);
        int rc = response_from_form(a, &survey, &f, &r);
        arena_fail_after(0);
        if (rc == 0) {
            assert_int_equal(r.nanswers, 2 + 1);
            assert_int_equal(r.nerrors, 1);
            arena_free(a);
            break;
        }
        assert_int_equal(rc, -1);
        assert_null(r.answers);
        assert_null(r.errors);
        assert_int_equal(r.nanswers, 0);
        assert_int_equal(r.nerrors, 0);
        arena_free(a);
        failures++;
        assert_true(failures < 100);
    }
    assert_true(failures > 0);
}

/* ---- The full format, on surveys loaded from YAML. ---- */

static struct survey *load_survey(const char *yaml)
{
    struct survey *s = NULL;
    struct err e = {0};
    if (survey_load_mem("t.yaml", yaml, strlen(yaml), &s, &e) < 0)
        fail_msg("%s:%d:%d: %s", e.file, e.line, e.col, e.msg);
    return s;
}

static struct survey *load_file(const char *path)
{
    struct survey *s = NULL;
    struct err e = {0};
    if (survey_load(path, &s, &e) < 0)
        fail_msg("%s:%d:%d: %s", e.file, e.line, e.col, e.msg);
    return s;
}

/* Checks body (urlencoded) against s, only section's questions reporting problems. */
static void check_body(struct arena *a, const struct survey *s, const char *body, size_t section,
                       struct response *r)
{
    struct form f;
    struct err e = {0};
    assert_int_equal(form_parse(a, body, strlen(body), &f, &e), 0);
    assert_int_equal(response_from_form_section(a, s, &f, section, r), 0);
}

/* The stored answer to question id, or NULL. */
static const char *stored(const struct response *r, const char *id)
{
    const struct question *q = survey_question(r->survey, id);
    assert_non_null(q);
    return response_value(r, q);
}

static const char *problem(const struct response *r, const char *id)
{
    const struct question *q = survey_question(r->survey, id);
    assert_non_null(q);
    return r->errors[q->index];
}

static const struct score *score_of(const struct response *r, const char *id)
{
    for (size_t i = 0; i < r->nscores; i++)
        if (strcmp(r->scores[i].id, id) == 0)
            return &r->scores[i];
    return NULL;
}

#define TYPES "tests/data/surveys/types/types.yaml"

static const char types_ok[] =
    "q.yn=yes&q.sc=4&q.ch=other&q.ch.other=%D0%A1%D0%BF%D0%BE%D1%80%D1%82&q.dd=rarely"
    "&q.mu=other&q.mu=a&q.mu.other=%D0%A0%D0%B8%D1%81&q.m.a=5&q.m.b=2&q.mc.x=never&q.num=10"
    "&q.dec=12%2C50&q.tx=Hi&q.ta=a%0D%0Ab&q.em=ivanova%40school.ru"
    "&q.ph=%2B7+(912)+345-67-89&q.dg=007&q.dt=31.12.2024&q.rk.often=2&q.rk.rarely=1"
    "&q.rk.never=3&q.cs=yes&q.cond=x&q.limit=10&q.nt=ignored";

static void test_every_type_stored(void **state)
{
    struct arena *a = *state;
    struct survey *s = load_file(TYPES);
    struct response r;
    check_body(a, s, types_ok, RESPONSE_ALL_SECTIONS, &r);
    for (size_t i = 0; i < s->nquestions; i++)
        if (r.errors[i])
            fail_msg("%s: %s", s->questions[i].id, r.errors[i]);
    static const char *const want[][2] = {
        {"yn", "yes"},
        {"sc", "4"},
        {"ch", "other"},
        {"ch.other", "Спорт"},
        {"dd", "rarely"},
        {"mu", "[\"a\",\"other\"]"}, /* in the order of the choices, not as posted */
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
        {"cond", "x"},
        {"limit", "10"},
    };
    assert_int_equal(r.nanswers, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < r.nanswers; i++) {
        assert_string_equal(r.answers[i].q->id, want[i][0]);
        assert_string_equal(r.answers[i].value, want[i][1]);
    }
    assert_null(stored(&r, "nt"));
    /* mood: sc 4, m.a 5 and m.b 2 reversed on 1..5 (1 + 5 - 2 = 4): 13 / 3. */
    const struct score *sc = score_of(&r, "mood");
    assert_non_null(sc);
    assert_int_equal(sc->items, 3);
    assert_true(sc->value > 4.3333 && sc->value < 4.3334);
    sc = score_of(&r, "total");
    assert_int_equal(sc->items, 2);
    assert_true(sc->value == 20.0);
    assert_int_equal(r.nscores, 2);
    survey_free(s);
}

static void test_every_type_refused(void **state)
{
    struct arena *a = *state;
    struct survey *s = load_file(TYPES);
    struct response r;
    static const char body[] =
        "q.yn=maybe&q.sc=6&q.ch=other&q.dd=sometimes&q.mu=a&q.mu=b&q.mu=c&q.m.a=9&q.m.b=1"
        "&q.num=abc&q.dec=1.234&q.tx=12345678901&q.em=ivanova%40&q.ph=123&q.dg=12a"
        "&q.dt=2019-12-31&q.rk.often=1&q.rk.rarely=1&q.limit=20";
    check_body(a, s, body, RESPONSE_ALL_SECTIONS, &r);
    static const char *const want[][2] = {
        {"yn", "error.choice"},
        {"sc", "error.range"},
        {"ch", "error.other"},
        {"dd", "error.choice"},
        {"mu", "error.max_selected"},
        {"m", "error.range"},
        {"mc", NULL},
        {"num", "error.integer"},
        {"dec", "error.decimals"},
        {"tx", "error.too_long"},
        {"ta", NULL},
        {"em", "error.email"},
        {"ph", "error.phone"},
        {"dg", "error.digits"},
        {"dt", "error.date_range"},
        {"rk", "error.ranking"},
        {"cs", "error.consent"},
        {"nt", NULL},
        {"cond", NULL},                /* yn has no valid answer: hidden */
        {"limit", "error.constraint"}, /* num is not a number: limit <= num is not true */
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *got = problem(&r, want[i][0]);
        if (want[i][1] ? !got || strcmp(got, want[i][1]) != 0 : got != NULL)
            fail_msg("%s: expected %s, got %s", want[i][0], want[i][1] ? want[i][1] : "none",
                     got ? got : "none");
    }
    assert_int_equal(r.nerrors, 16);
    /* A refused question keeps nothing: not m.b of the matrix, not the other answers. */
    assert_null(stored(&r, "m.b"));
    assert_null(stored(&r, "ch"));
    assert_int_equal(r.nanswers, 0);
    assert_true(r.hidden[survey_question(s, "cond")->index]);
    survey_free(s);
}

static void test_more_values(void **state)
{
    struct arena *a = *state;
    struct survey *s = load_file(TYPES);
    struct response r;
    static const struct {
        const char *field, *raw, *value, *key;
    } cases[] = {
        {"dec", "-1.5", "-1.5", NULL},
        {"dec", "-1.51", NULL, "error.range"},
        {"dec", "99.99", "99.99", NULL},
        {"dec", "100", NULL, "error.range"},
        {"dec", "-0%2C00", "0", NULL},
        {"dec", "3.", NULL, "error.number"},
        {"dec", ".5", NULL, "error.number"},
        {"dec", "1%2C2.3", NULL, "error.number"},
        {"dec", "7.10000", "7.1", NULL},
        {"num", "5.0", NULL, "error.integer"},
        {"dt", "2024-02-29", "2024-02-29", NULL},
        {"dt", "2023-02-29", NULL, "error.date"},
        {"dt", "29.02.2024", "2024-02-29", NULL},
        {"dt", "2031-01-01", NULL, "error.date_range"},
        {"dt", "2024%2F01%2F01", NULL, "error.date"},
        {"em", "a.b%2Bc%40xn--80a.xn--p1ai", "a.b+c@xn--80a.xn--p1ai", NULL},
        {"em", "%D0%B8%D0%B2%D0%B0%D0%BD%40%D1%88%D0%BA%D0%BE%D0%BB%D0%B0.%D1%80%D1%84",
         "иван@школа.рф", NULL},
        {"em", "a%40%D1%88%D0%BA%D0%BE%D0%BB%D0%B0.%D1%80%D1%84", "a@школа.рф", NULL},
        {"em", "a..b%40x.ru", NULL, "error.email"},
        {"em", "a%40-x.ru", NULL, "error.email"},
        {"em", "a%40x", NULL, "error.email"},
        {"ph", "89123456789", "89123456789", NULL},
        {"ph", "8%2B9123456789", NULL, "error.phone"},
        {"ph", "1234567890123456", NULL, "error.phone"},
        {"dg", "12 3", NULL, "error.digits"},
        {"cs", "no", NULL, "error.choice"},
        {"mu", "d", NULL, "error.choice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[300];
        snprintf(body, sizeof body, "q.%s=%s", cases[i].field, cases[i].raw);
        check_body(a, s, body, RESPONSE_ALL_SECTIONS, &r);
        const char *got = problem(&r, cases[i].field), *value = stored(&r, cases[i].field);
        if (cases[i].key ? !got || strcmp(got, cases[i].key) != 0 : got != NULL)
            fail_msg("%s=%s: expected %s, got %s", cases[i].field, cases[i].raw,
                     cases[i].key ? cases[i].key : "no problem", got ? got : "none");
        if (cases[i].value ? !value || strcmp(value, cases[i].value) != 0 : value != NULL)
            fail_msg("%s=%s: expected \"%s\", got \"%s\"", cases[i].field, cases[i].raw,
                     cases[i].value ? cases[i].value : "(none)", value ? value : "(none)");
    }
    /* A box ticked twice, a ranking with a place out of range or half done. */
    check_body(a, s, "q.mu=a&q.mu=a", RESPONSE_ALL_SECTIONS, &r);
    assert_string_equal(problem(&r, "mu"), "error.multiple");
    check_body(a, s, "q.rk.often=4&q.rk.rarely=1&q.rk.never=2", RESPONSE_ALL_SECTIONS, &r);
    assert_string_equal(problem(&r, "rk"), "error.ranking");
    check_body(a, s, "q.rk.often=1", RESPONSE_ALL_SECTIONS, &r);
    assert_string_equal(problem(&r, "rk"), "error.ranking");
    check_body(a, s, "q.rk.often=1&q.rk.often=2", RESPONSE_ALL_SECTIONS, &r);
    assert_string_equal(problem(&r, "rk"), "error.multiple");
    /* The other text is kept only when "other" is chosen, and is checked as a text. */
    check_body(a, s, "q.ch=often&q.ch.other=x", RESPONSE_ALL_SECTIONS, &r);
    assert_string_equal(stored(&r, "ch"), "often");
    assert_null(stored(&r, "ch.other"));
    check_body(a, s, "q.ch=other&q.ch.other=%01", RESPONSE_ALL_SECTIONS, &r);
    assert_string_equal(problem(&r, "ch"), "error.text");
    check_body(a, s, "q.mu=other", RESPONSE_ALL_SECTIONS, &r);
    assert_string_equal(problem(&r, "mu"), "error.other");
    /* Nothing ticked is no answer, even with min_selected (it is not required). */
    check_body(a, s, "q.mu=", RESPONSE_ALL_SECTIONS, &r);
    assert_null(problem(&r, "mu"));
    assert_null(stored(&r, "mu"));
    survey_free(s);
}

static const char logic_yaml[] = "id: logic\nversion: 1\ntitle: T\nquestions:\n"
                                 "  - {id: a, type: yesno, label: A}\n"
                                 "  - {id: b, type: text, show_if: a, label: B}\n"
                                 "  - {id: c, type: text, show_if: answered(b), label: C}\n"
                                 "  - {id: d, type: scale, min: 1, max: 5, label: D,\n"
                                 "     required_if: a = false}\n"
                                 "  - {id: e, type: number, label: E, constraint: e > d}\n"
                                 "  - {id: f, type: multiple, label: F, choices: [{value: x, "
                                 "label: X}, {value: y, label: Y}]}\n"
                                 "  - {id: g, type: yesno, label: G, show_if: \"selected(f, "
                                 "'y') and count(f) = 2\"}\n";

static void test_logic(void **state)
{
    struct arena *a = *state;
    struct survey *s = load_survey(logic_yaml);
    struct response r;
    /* a = yes: b shown and kept, so c shown; d not required. */
    check_body(a, s, "q.a=yes&q.b=x&q.c=y", RESPONSE_ALL_SECTIONS, &r);
    assert_int_equal(r.nerrors, 0);
    assert_string_equal(stored(&r, "b"), "x");
    assert_string_equal(stored(&r, "c"), "y");
    assert_false(r.hidden[1]);
    /* a = no: b hidden, its answer dropped; a hidden answer is no answer, so c is hidden too;
     * and d is required now. */
    check_body(a, s, "q.a=no&q.b=x&q.c=y", RESPONSE_ALL_SECTIONS, &r);
    assert_null(stored(&r, "b"));
    assert_null(stored(&r, "c"));
    assert_true(r.hidden[1]);
    assert_true(r.hidden[2]);
    assert_string_equal(problem(&r, "d"), "error.required");
    assert_int_equal(r.nerrors, 1);
    /* A hidden question's answer is not even checked. */
    check_body(a, s, "q.a=no&q.b=%01&q.d=2", RESPONSE_ALL_SECTIONS, &r);
    assert_int_equal(r.nerrors, 0);
    /* The constraint reads the question's own answer and an earlier one. */
    check_body(a, s, "q.d=3&q.e=3", RESPONSE_ALL_SECTIONS, &r);
    assert_string_equal(problem(&r, "e"), "error.constraint");
    assert_null(stored(&r, "e"));
    check_body(a, s, "q.d=3&q.e=4", RESPONSE_ALL_SECTIONS, &r);
    assert_string_equal(stored(&r, "e"), "4");
    /* Without an answer a constraint is not checked; d unanswered makes e > d null. */
    check_body(a, s, "q.e=4", RESPONSE_ALL_SECTIONS, &r);
    assert_string_equal(problem(&r, "e"), "error.constraint");
    check_body(a, s, "", RESPONSE_ALL_SECTIONS, &r);
    assert_int_equal(r.nerrors, 0);
    /* A multiple choice is a list to an expression. */
    check_body(a, s, "q.f=y&q.f=x&q.g=yes", RESPONSE_ALL_SECTIONS, &r);
    assert_string_equal(stored(&r, "g"), "yes");
    check_body(a, s, "q.f=y&q.g=yes", RESPONSE_ALL_SECTIONS, &r);
    assert_null(stored(&r, "g"));
    survey_free(s);
}

static void test_one_page_at_a_time(void **state)
{
    struct arena *a = *state;
    struct survey *s = load_file("tests/data/surveys/types/pages.yaml");
    struct response r;
    static const char first[] = "q.name=%D0%90%D0%BD%D1%8F&q.club=yes&q.club_name=chess";
    check_body(a, s, first, 0, &r);
    assert_int_equal(r.nerrors, 0);
    /* Later pages are unanswered, but only the page asked about reports problems. */
    check_body(a, s, first, 2, &r);
    assert_int_equal(r.nerrors, 2);
    assert_string_equal(problem(&r, "s1"), "error.required");
    assert_string_equal(problem(&r, "s2"), "error.required");
    /* Without a club, the club's page and s1 are hidden. */
    check_body(a, s, "q.name=x&q.club=no", 2, &r);
    assert_int_equal(r.nerrors, 1);
    assert_null(problem(&r, "s1"));
    assert_true(r.hidden[survey_question(s, "s1")->index]);
    assert_true(r.hidden[survey_question(s, "club_years")->index]);
    check_body(a, s, "q.name=x&q.club=no", RESPONSE_ALL_SECTIONS, &r);
    assert_int_equal(r.nerrors, 1);
    /* required_if on the second page, from the first. */
    check_body(a, s, first, 1, &r);
    assert_string_equal(problem(&r, "club_years"), "error.required");
    /* Scores only from what is shown: s1 hidden, s2 alone (min_items 1). */
    check_body(a, s, "q.club=no&q.s1=10&q.s2=4", RESPONSE_ALL_SECTIONS, &r);
    assert_int_equal(r.nscores, 1);
    assert_true(r.scores[0].value == 4.0);
    assert_int_equal(r.scores[0].items, 1);
    survey_free(s);
}

static const char scores_yaml[] = "id: scores\nversion: 1\ntitle: T\n"
                                  "scales:\n"
                                  "  - {id: mean3, items: [a, b, c], reverse: [c], min_items: 2}\n"
                                  "  - {id: total, items: [a, b], method: sum}\n"
                                  "  - {id: dec, items: [d], reverse: [d]}\n"
                                  "  - {id: grid, items: [m], reverse: [m.y]}\n"
                                  "questions:\n"
                                  "  - {id: a, type: scale, min: 1, max: 5, label: A}\n"
                                  "  - {id: b, type: scale, min: 1, max: 5, label: B}\n"
                                  "  - {id: c, type: scale, min: 0, max: 10, label: C}\n"
                                  "  - {id: d, type: number, decimals: 1, min: 0, max: 10, "
                                  "label: D}\n"
                                  "  - {id: m, type: matrix, min: -2, max: 2, label: M,\n"
                                  "     items: [{id: x, label: X}, {id: y, label: Y}]}\n";

static void test_scores(void **state)
{
    struct arena *a = *state;
    struct survey *s = load_survey(scores_yaml);
    struct response r;
    /* mean3 = (5 + 2 + (0 + 10 - 3)) / 3 = 14 / 3; total = 5 + 2; dec = 0 + 10 - 2.5;
     * grid = (-2 + (-2 + 2 - 1)) / 2 = -1.5. */
    check_body(a, s, "q.a=5&q.b=2&q.c=3&q.d=2%2C5&q.m.x=-2&q.m.y=1", RESPONSE_ALL_SECTIONS, &r);
    assert_int_equal(r.nerrors, 0);
    assert_int_equal(r.nscores, 4);
    assert_string_equal(r.scores[0].id, "mean3");
    assert_true(r.scores[0].value > 4.66666 && r.scores[0].value < 4.66667);
    assert_int_equal(r.scores[0].items, 3);
    assert_string_equal(r.scores[1].id, "total");
    assert_true(r.scores[1].value == 7.0);
    assert_string_equal(r.scores[2].id, "dec");
    assert_true(r.scores[2].value == 7.5);
    assert_string_equal(r.scores[3].id, "grid");
    assert_true(r.scores[3].value == -1.5);
    /* Too few items answered: no score (mean3 needs 2 of 3, total all of its 2). */
    check_body(a, s, "q.a=5&q.c=10", RESPONSE_ALL_SECTIONS, &r);
    assert_int_equal(r.nscores, 1);
    assert_string_equal(r.scores[0].id, "mean3");
    assert_true(r.scores[0].value == 2.5);
    assert_int_equal(r.scores[0].items, 2);
    check_body(a, s, "q.a=5", RESPONSE_ALL_SECTIONS, &r);
    assert_int_equal(r.nscores, 0);
    /* An item refused by validation does not count. */
    check_body(a, s, "q.a=5&q.b=9", RESPONSE_ALL_SECTIONS, &r);
    assert_int_equal(r.nscores, 0);
    survey_free(s);
}

static int setup(void **state)
{
    struct arena *a = arena_new();
    if (!a)
        return -1;
    *state = a;
    return 0;
}

static int teardown(void **state)
{
    arena_free(*state);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yesno),
        cmocka_unit_test(test_choice),
        cmocka_unit_test(test_scale),
        cmocka_unit_test(test_number),
        cmocka_unit_test(test_required_and_empty),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_text_length_in_code_points),
        cmocka_unit_test(test_valid_text_table),
        cmocka_unit_test_setup_teardown(test_multiple_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_whole_survey, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_survey, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_value, setup, teardown),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_allocation_failures_leave_response_empty),
        cmocka_unit_test_setup_teardown(test_every_type_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_type_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_more_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_page_at_a_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scores, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
