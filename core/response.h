/*
 * response: turning a posted form into the answers of one survey, validated.
 *
 * The server is authoritative: every rule of the survey (required answers, ranges, known
 * choices, lengths, valid UTF-8) is checked here, whatever the browser did. Problems are
 * reported per question as message keys of the i18n catalogue ("error.required"), so the
 * page can show each beside its question while keeping every other answer.
 *
 * Form field names: the answer to question q is the field "q.<id>" (one value; a multiple
 * choice repeats it once per value ticked). A matrix item is answered in "q.<matrix>.<item>",
 * the text of "other, please specify" in "q.<id>.other", and a ranking gives each choice its
 * place in "q.<id>.<value>" (1 = first).
 *
 * Logic is decided here too: a question whose show_if is not true is hidden (neither checked
 * nor stored), required_if makes a question required, and a constraint that is not true
 * refuses an answer. Answers of hidden questions count as unanswered in later expressions.
 */
#ifndef ANKETA_RESPONSE_H
#define ANKETA_RESPONSE_H

#include <stddef.h>

struct arena;
struct form;
struct survey;
struct question;

struct answer {
    const struct question *q;
    const char *value; /* normalised: "yes"/"no", a decimal number ("12", "-0.5"), a choice
                          value, text, a date YYYY-MM-DD; a multiple choice or a ranking as a
                          JSON array of choice values (["a","b"], in choice or rank order) */
};

/* The score of one scale (construct) of the survey, computed from its items' answers. */
struct score {
    const char *id;
    double value;
    int items; /* how many answered items it was computed from */
};

struct response {
    const struct survey *survey;
    struct answer *answers; /* the questions that were answered, in survey order */
    size_t nanswers;
    const char **errors;  /* one per question of the survey: NULL or a message key */
    size_t nerrors;       /* how many of errors[] are set */
    struct score *scores; /* stored with the response, so scripts read scores, not items */
    size_t nscores;
    unsigned char *hidden; /* one per question of the survey: 1 when its show_if was not true */
};

/* Fills r from form f. Returns -1 only when out of memory; validation problems are in r. */
int response_from_form(struct arena *a, const struct survey *s, const struct form *f,
                       struct response *r);

/*
 * The check of one page of a multi-page survey: like response_from_form (every answer is
 * read, so later pages see earlier ones), but only the questions of section report
 * problems. RESPONSE_ALL_SECTIONS checks every question.
 */
#define RESPONSE_ALL_SECTIONS ((size_t)-1)
int response_from_form_section(struct arena *a, const struct survey *s, const struct form *f,
                               size_t section, struct response *r);

/* The answer r has for question q (a matrix item or other text too), or NULL. */
const char *response_value(const struct response *r, const struct question *q);

/* The posted (raw) value of question q in f, for re-showing a form: NULL when absent. */
const char *response_raw_value(const struct form *f, const struct question *q);

/* Checks that s[0..n) is well-formed UTF-8 without NUL or other C0 controls but \t\n\r. */
int response_valid_text(const char *s, size_t n);

#endif
