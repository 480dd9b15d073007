/*
 * report: the federal statistics table and the growth charts (see report.h).
 */
#include "report.h"

#include "arena.h"
#include "err.h"
#include "registry.h"
#include "store.h"
#include "survey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const report_band_names[REPORT_NBANDS] = {
    [REPORT_BAND_UNDER_10] = "under-10", [REPORT_BAND_10_14] = "10-14",
    [REPORT_BAND_15_18] = "15-18",       [REPORT_BAND_19_35] = "19-35",
    [REPORT_BAND_OVER_35] = "over-35",   [REPORT_BAND_UNKNOWN] = "unknown",
};

/* 15-18 matches the pupils the regional indicators count (seed 002); 19-35 is the age of the
 * young specialists the teacher forms of mentoring are for. */
enum report_band report_age_band(int age)
{
    if (age < 0)
        return REPORT_BAND_UNKNOWN;
    if (age < 10)
        return REPORT_BAND_UNDER_10;
    if (age <= 14)
        return REPORT_BAND_10_14;
    if (age <= 18)
        return REPORT_BAND_15_18;
    if (age <= 35)
        return REPORT_BAND_19_35;
    return REPORT_BAND_OVER_35;
}

const char *report_band_name(enum report_band b)
{
    return (size_t)b < REPORT_NBANDS ? report_band_names[b] : "unknown";
}

int report_federal(struct store *st, struct arena *a, const char *org_code, int year,
                   struct report_federal *out, struct err *e)
{
    memset(out, 0, sizeof *out);
    out->year = year;
    struct federal_count *c;
    size_t n;
    if (store_federal_counts(st, a, org_code, year, &c, &n, e) != STORE_OK)
        return -1;
    /* Every form gets a mentor row and a mentee row, so a form with mentees and no mentor
     * shows its empty row. The store orders the counts by form. */
    if (n && !(out->rows = arena_calloc(a, 2 * n, sizeof *out->rows)))
        return err_set(e, NULL, 0, 0, "report: out of memory");
    for (size_t i = 0; i < n; i++) {
        if (!out->n || strcmp(out->rows[out->n - 1].form, c[i].form) != 0) {
            out->rows[out->n++] = (struct report_federal_row){.form = c[i].form, .role = "mentor"};
            out->rows[out->n++] = (struct report_federal_row){.form = c[i].form, .role = "mentee"};
        }
        int mentee = strcmp(c[i].role, "mentee") == 0;
        struct report_federal_row *row = &out->rows[out->n - 2 + (size_t)mentee];
        enum report_band b = report_age_band(c[i].age);
        row->bands[b] += c[i].count;
        row->total += c[i].count;
        out->role_totals[mentee][b] += c[i].count;
        out->role_totals[mentee][REPORT_NBANDS] += c[i].count;
        out->total += c[i].count;
    }
    return 0;
}

/* ---- Growth ---- */

struct report_acc {
    const char *form;
    long n;
    double entry, final;
};

struct report_growth_walk {
    struct report_acc all;
    struct report_acc forms[16];
    size_t nforms;
    struct arena *a;
    int failed;
};

static int report_growth_add(void *ctx, double entry, double final, const char *form)
{
    struct report_growth_walk *w = ctx;
    w->all.n++;
    w->all.entry += entry;
    w->all.final += final;
    if (!form)
        form = "none";
    size_t i = 0;
    while (i < w->nforms && strcmp(w->forms[i].form, form) != 0)
        i++;
    if (i == w->nforms) {
        /* More forms than a region has: the overall figure still counts them. */
        if (w->nforms == sizeof w->forms / sizeof w->forms[0])
            return 0;
        if (!(w->forms[i].form = arena_strdup(w->a, form))) {
            w->failed = 1;
            return 1;
        }
        w->nforms++;
    }
    w->forms[i].n++;
    w->forms[i].entry += entry;
    w->forms[i].final += final;
    return 0;
}

static int report_acc_cmp(const void *x, const void *y)
{
    return strcmp(((const struct report_acc *)x)->form, ((const struct report_acc *)y)->form);
}

static struct report_growth_group report_group(const struct report_acc *acc)
{
    struct report_growth_group g = {.form = acc->form, .n = acc->n};
    if (acc->n) {
        g.mean_entry = acc->entry / (double)acc->n;
        g.mean_final = acc->final / (double)acc->n;
    }
    return g;
}

/* The range of a scale's items: what the chart's axis spans. */
static void report_scale_range(const struct survey_scale *sc, double *lo, double *hi)
{
    *lo = 0;
    *hi = 0;
    for (size_t i = 0; i < sc->nitems; i++) {
        const struct question *q = sc->items[i].q;
        if (i == 0 || q->min < *lo)
            *lo = (double)q->min;
        if (i == 0 || q->max > *hi)
            *hi = (double)q->max;
    }
}

static int report_has_pair(const struct report_growth *g, size_t n, const char *entry,
                           const char *final, const char *scale)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(g[i].entry_survey, entry) == 0 && strcmp(g[i].final_survey, final) == 0 &&
            strcmp(g[i].scale, scale) == 0)
            return 1;
    return 0;
}

/* Whether a campaign's period (2026/27, 2026/27-H1, 2026/27-Q3) lies in the school year. */
static int report_in_year(const char *period, const char *year_code)
{
    size_t n = strlen(year_code);
    return strncmp(period, year_code, n) == 0 && (period[n] == '\0' || period[n] == '-');
}

/* Whether two campaigns aim at the same people: the same role, the same form (NULL: all). */
static int report_same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

int report_growth(struct store *st, struct arena *a, const struct survey_set *surveys,
                  int64_t org_id, const char *year_code, const struct campaign_info *camps,
                  size_t ncamps, struct report_growth **out, size_t *n, struct err *e)
{
    *out = NULL;
    *n = 0;
    struct period per;
    if (registry_period_parse(year_code, &per) < 0 || per.kind != 'Y')
        return err_set(e, NULL, 0, 0, "report: \"%s\" is not a school year", year_code);
    char codes[IND_PERIODS][16];
    struct ind_scope sc = {.org_id = org_id,
                           .period = year_code,
                           .starts = per.starts,
                           .ends = per.ends,
                           .start_year = per.year};
    snprintf(codes[0], sizeof codes[0], "%s", year_code);
    for (int i = 1; i <= 2; i++)
        snprintf(codes[i], sizeof codes[i], "%s-H%d", year_code, i);
    for (int i = 1; i <= 4; i++)
        snprintf(codes[2 + i], sizeof codes[0], "%s-Q%d", year_code, i);
    for (int i = 0; i < IND_PERIODS; i++)
        sc.campaigns[i] = codes[i];

    size_t cap = 0;
    struct report_growth *g = NULL;
    for (size_t i = 0; i < ncamps; i++) {
        const struct campaign_rec *ce = &camps[i].rec;
        if (strcmp(ce->wave, "entry") != 0 || !report_in_year(ce->period, year_code))
            continue;
        const struct survey *se = survey_set_find(surveys, ce->survey_id);
        for (size_t j = 0; se && j < ncamps; j++) {
            const struct campaign_rec *cf = &camps[j].rec;
            if (strcmp(cf->wave, "final") != 0 || !report_in_year(cf->period, year_code) ||
                !report_same(ce->role, cf->role) || !report_same(ce->form, cf->form))
                continue;
            const struct survey *sf = survey_set_find(surveys, cf->survey_id);
            for (size_t k = 0; sf && k < sf->nscales; k++) {
                const struct survey_scale *scale = &sf->scales[k];
                int shared = 0;
                for (size_t m = 0; m < se->nscales && !shared; m++)
                    shared = strcmp(se->scales[m].id, scale->id) == 0;
                if (!shared || report_has_pair(g, *n, se->id, sf->id, scale->id))
                    continue;
                if (*n == cap) {
                    size_t ncap = cap ? 2 * cap : 4;
                    struct report_growth *bigger = arena_calloc(a, ncap, sizeof *bigger);
                    if (!bigger)
                        return err_set(e, NULL, 0, 0, "report: out of memory");
                    if (*n)
                        memcpy(bigger, g, *n * sizeof *g);
                    g = bigger;
                    cap = ncap;
                }
                struct report_growth *r = &g[(*n)++];
                *r = (struct report_growth){.scale = scale->id,
                                            .label_ru = scale->label.ru,
                                            .label_en = scale->label.en,
                                            .entry_survey = se->id,
                                            .final_survey = sf->id};
                report_scale_range(scale, &r->lo, &r->hi);
            }
        }
    }
    for (size_t i = 0; i < *n; i++) {
        struct report_growth *r = &g[i];
        struct report_growth_walk w = {.a = a, .all.form = NULL};
        struct ind_paired_filter f = {
            .scale = r->scale, .entry_survey = r->entry_survey, .final_survey = r->final_survey};
        if (store_ind_paired(st, &sc, &f, report_growth_add, &w, e) != STORE_OK)
            return -1;
        if (w.failed)
            return err_set(e, NULL, 0, 0, "report: out of memory");
        qsort(w.forms, w.nforms, sizeof w.forms[0], report_acc_cmp);
        r->all = report_group(&w.all);
        if (w.nforms && !(r->forms = arena_calloc(a, w.nforms, sizeof *r->forms)))
            return err_set(e, NULL, 0, 0, "report: out of memory");
        for (size_t k = 0; k < w.nforms; k++)
            r->forms[k] = report_group(&w.forms[k]);
        r->nforms = w.nforms;
    }
    /* A scale that nobody answered in both waves has nothing to draw. */
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++)
        if (g[i].all.n > 0)
            g[kept++] = g[i];
    *n = kept;
    *out = g;
    return 0;
}
