/*
 * response: turning a posted form into the answers of one survey, validated.
 *
 * The server is authoritative: every rule of the survey (required answers, ranges, known
 * choices, lengths, valid UTF-8) is checked here, whatever the browser did. Problems are
 * reported per question as message keys of the i18n catalogue ("error.required"), so the
 * page can show each beside its question while keeping every other answer.
 *
 * Form field names: the answer to question q is the field "q.<id>" (one value).
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
    const char *value; /* normalised: "yes"/"no", a decimal integer, a choice value, text */
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
};

/* Fills r from form f. Returns -1 only when out of memory; validation problems are in r. */
int response_from_form(struct arena *a, const struct survey *s, const struct form *f,
                       struct response *r);

/* The posted (raw) value of question q in f, for re-showing a form: NULL when absent. */
const char *response_raw_value(const struct form *f, const struct question *q);

/* Checks that s[0..n) is well-formed UTF-8 without NUL or other C0 controls but \t\n\r. */
int response_valid_text(const char *s, size_t n);

#endif
