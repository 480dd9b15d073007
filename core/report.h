/*
 * report: the figures of the reports that are computed rather than read: the yearly count of
 * participants by form of mentoring, role and age band that schools send to federal
 * statistics in December (формы ФСН), and the entry-against-final scale scores of the
 * participants who answered both waves, per form of mentoring (the growth chart).
 *
 * Both come straight from the register and the responses, whatever the region's indicator
 * scripts compute, so every deployment has them.
 */
#ifndef ANKETA_REPORT_H
#define ANKETA_REPORT_H

#include <stddef.h>
#include <stdint.h>

struct arena;
struct campaign_info;
struct err;
struct store;
struct survey_set;

/* Age bands of the federal table; the age is the one reached in the reporting year. */
enum report_band {
    REPORT_BAND_UNDER_10,
    REPORT_BAND_10_14,
    REPORT_BAND_15_18,
    REPORT_BAND_19_35,
    REPORT_BAND_OVER_35,
    REPORT_BAND_UNKNOWN, /* no birth year: adults are often registered by experience */
    REPORT_NBANDS
};

enum report_band report_age_band(int age);
/* "under-10", "10-14", "15-18", "19-35", "over-35", "unknown": CSV values and i18n keys. */
const char *report_band_name(enum report_band b);

struct report_federal_row {
    const char *form;
    const char *role; /* "mentor" or "mentee" */
    long bands[REPORT_NBANDS];
    long total;
};

/* One school year's table: a mentor row and a mentee row for every form that has anyone,
 * forms in order of their codes; totals per role (0 mentors, 1 mentees) and overall. */
struct report_federal {
    int year;
    struct report_federal_row *rows;
    size_t n;
    long role_totals[2][REPORT_NBANDS + 1];
    long total;
};

/* Counts the subtree of org_code for the school year starting in year (rows in a). Returns 0,
 * or -1 with e filled. */
int report_federal(struct store *st, struct arena *a, const char *org_code, int year,
                   struct report_federal *out, struct err *e);

struct report_growth_group {
    const char *form; /* NULL: every form together */
    long n;           /* participants with both an entry and a final score */
    double mean_entry, mean_final;
};

/* One scale shared by an entry and a final questionnaire of the year. */
struct report_growth {
    const char *scale;
    const char *label_ru, *label_en;
    const char *entry_survey, *final_survey;
    double lo, hi; /* the range of the scale's items */
    struct report_growth_group all;
    struct report_growth_group *forms; /* in order of their codes */
    size_t nforms;
};

/*
 * The growth charts of the subtree of org_id for the school year year_code ("2026/27"): for
 * every campaign of the year in camps with wave "entry" and every one with wave "final", the
 * scales the two questionnaires share. Results in a; *n is 0 when there is nothing to compare.
 */
int report_growth(struct store *st, struct arena *a, const struct survey_set *surveys,
                  int64_t org_id, const char *year_code, const struct campaign_info *camps,
                  size_t ncamps, struct report_growth **out, size_t *n, struct err *e);

#endif
