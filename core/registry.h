/*
 * registry: the rules of the register of mentoring (the curator's *база наставников* and
 * *база наставляемых*) above the store: which values are valid, the words curators write
 * them in (Russian or English, mapped to one canonical value), periods of the school year,
 * and the limit of mentees per mentor.
 */
#ifndef ANKETA_REGISTRY_H
#define ANKETA_REGISTRY_H

#include <stddef.h>

struct arena;
struct err;
struct pair_rec;
struct store;

/* A vocabulary: canonical values and the words that mean them. */
enum registry_vocab {
    VOCAB_LEVEL,    /* region, municipality, organisation */
    VOCAB_ORG_KIND, /* school, college, centre, enterprise, other */
    VOCAB_ROLE,     /* mentor, mentee, curator */
    VOCAB_KIND,     /* pupil, student, teacher, employer */
    VOCAB_FORM,     /* pupil-pupil, student-pupil, employer-pupil, employer-student,
                       teacher-teacher */
    VOCAB_STATUS,   /* active, finished, broken */
    VOCAB_WAVE,     /* entry, final, none */
};

/*
 * The canonical value a word means (case-insensitive, Cyrillic included), or NULL. A
 * region's own form of mentoring, written x-<name> in lower case, is its own canonical
 * value: word itself is returned.
 */
const char *registry_word(enum registry_vocab v, const char *word);

/* The canonical values of a vocabulary, comma-separated, for error messages. */
const char *registry_words(enum registry_vocab v);

/* A code: 1-64 of A-Z a-z 0-9 . _ - (codes go into links, file names and CSV files). */
int registry_code_valid(const char *code);

/* A real calendar date written YYYY-MM-DD. */
int registry_date_valid(const char *s);

/*
 * A period of monitoring: a school year "2026/27" (1 Sep 2026 - 31 Aug 2027), a half
 * "2026/27-H1" (Sep-Dec) or "2026/27-H2" (Jan-Aug), a quarter "2026/27-Q1" (Sep-Nov),
 * Q2 (Dec-Feb), Q3 (Mar-May), Q4 (Jun-Aug).
 */
struct period {
    int year;  /* the year the school year starts */
    char kind; /* 'Y', 'H' or 'Q' */
    int n;     /* the half or quarter, 0 for a year */
    char starts[11];
    char ends[11];
};
int registry_period_parse(const char *code, struct period *out);

/* The school year containing a date (YYYY-MM-DD), as its code, e.g. "2026/27". */
int registry_school_year(const char *date, char out[8]);

/*
 * Checks the rule "a mentor has at most N mentees at a time" (N from the region, default 3)
 * before an active pair is written: an error names the mentor and the current mentees.
 * Returns 0, -1 with e filled (a broken rule or a database error).
 */
int registry_check_pair(struct store *st, struct arena *a, const struct pair_rec *p, struct err *e);

#endif
