/*
 * demo: building the demonstration region from docs/samples/demo.json.
 */
#include "demo.h"

#include "account.h"
#include "arena.h"
#include "crypto.h"
#include "import.h"
#include "registry.h"
#include "err.h"
#include "form.h"
#include "response.h"
#include "store.h"
#include "survey.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* xorshift64*: a fixed seed gives the same demo on every machine. */
static uint64_t demo_rand(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 2685821657736338717ULL;
}

static long demo_between(uint64_t *state, long lo, long hi)
{
    return lo + (long)(demo_rand(state) % (uint64_t)(hi - lo + 1));
}

static const char *demo_str(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

/* Adds a field "q.<id>" = value to f (in a). */
static int demo_field(struct arena *a, struct form *f, size_t *cap, const char *id,
                      const char *value)
{
    if (f->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 32;
        struct form_field *v = arena_realloc(a, f->fields, *cap * sizeof *v, ncap * sizeof *v);
        if (!v)
            return -1;
        f->fields = v;
        *cap = ncap;
    }
    const char *name = arena_printf(a, "q.%s", id);
    if (!name || !value)
        return -1;
    f->fields[f->n].name = name;
    f->fields[f->n].value = value;
    f->fields[f->n].value_len = strlen(value);
    f->n++;
    return 0;
}

/* A mostly favourable score in [lo, hi], as participants give; a little higher at the end
 * of a programme than at its start, so that the demo's growth indicators have growth. */
static const char *demo_score(struct arena *a, long lo, long hi, int final, uint64_t *rng)
{
    long from = hi - (hi - lo) / (final ? 3 : 2);
    return arena_printf(a, "%ld", demo_between(rng, from - 1 < lo ? lo : from - 1, hi));
}

/* The answer a participant might give to q (and its items), as form fields. */
static int demo_fill(struct arena *a, struct form *f, size_t *cap, const struct question *q,
                     int final, json_t *texts, uint64_t *rng)
{
    const char *value = NULL;
    switch (q->type) {
    case Q_YESNO: value = demo_between(rng, 0, 9) < 7 ? "yes" : "no"; break;
    case Q_SCALE: value = demo_score(a, q->min, q->max, final, rng); break;
    case Q_CHOICE:
    case Q_MULTIPLE: value = q->choices[demo_between(rng, 0, (long)q->nchoices - 1)].value; break;
    case Q_MATRIX:
        for (size_t i = 0; i < q->nitems; i++)
            if (demo_fill(a, f, cap, &q->items[i], final, texts, rng) < 0)
                return -1;
        return 0;
    case Q_NUMBER: value = arena_printf(a, "%ld", q->has_min ? q->min : 0); break;
    case Q_CONSENT: value = "yes"; break;
    case Q_TEXT:
        if (json_array_size(texts) && (q->required || demo_between(rng, 0, 2) > 0))
            value = json_string_value(json_array_get(
                texts, (size_t)demo_between(rng, 0, (long)json_array_size(texts) - 1)));
        break;
    default:
        /* Dates, rankings and notes: the demo questionnaires ask none that must be answered. */
        break;
    }
    return value ? demo_field(a, f, cap, q->id, value) : 0;
}

/*
 * Answers a questionnaire through the same validation and scoring as a participant's
 * submission, so the demo's responses carry their scale scores and break no rule.
 */
static int demo_answer(struct store *st, struct arena *a, const struct survey *s,
                       const struct invitation *inv, json_t *texts, uint64_t *rng, struct err *e)
{
    struct form f = {0};
    size_t cap = 0;
    for (size_t i = 0; i < s->nquestions; i++)
        if (demo_fill(a, &f, &cap, &s->questions[i], s->wave == SURVEY_WAVE_FINAL, texts, rng) < 0)
            return err_set(e, "", 0, 0, "out of memory");
    struct response r;
    if (response_from_form(a, s, &f, &r) < 0)
        return err_set(e, "", 0, 0, "out of memory");
    for (size_t i = 0; i < s->nquestions; i++)
        if (r.errors[i])
            return err_set(e, s->path, s->questions[i].line, s->questions[i].col,
                           "demo: the generated answer to \"%s\" is refused (%s)",
                           s->questions[i].id, r.errors[i]);
    int rc = store_put_response(st, inv, &r, e);
    return rc == STORE_OK ? 0 : -1;
}

static const char *const demo_files[][2] = {
    {"orgs", "orgs.csv"},   {"programmes", "programmes.csv"}, {"participants", "participants.csv"},
    {"pairs", "pairs.csv"}, {"figures", "figures.csv"},
};

static int demo_import(struct store *st, const char *dir, struct err_list *errs)
{
    for (size_t i = 0; i < sizeof demo_files / sizeof demo_files[0]; i++) {
        enum import_kind kind;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, demo_files[i][1]);
        struct import_options opt = {0};
        struct import_result res;
        if (import_kind_parse(demo_files[i][0], &kind) < 0 ||
            import_file(st, kind, path, &opt, &res, errs) < 0)
            return -1;
    }
    return 0;
}

struct demo {
    struct store *st;
    struct arena *a;
    const struct survey_set *surveys;
    json_t *root;
    json_t *answered; /* codes of sample participants who answer */
    json_t *texts;
    long answer_percent; /* of the generated participants */
    uint64_t rng;
    struct err *e;
    int failed;
};

/* The school year code of the year starting in y: 2026 -> "2026/27". */
static void demo_year_code(int y, char out[8])
{
    snprintf(out, 8, "%04u/%02u", (unsigned)y % 10000u, (unsigned)(y + 1) % 100u);
}

/*
 * One generated participant: kind and age (or experience) as the form of mentoring has
 * them. The age is reached in the calendar year y, as the indicators count it.
 */
static int demo_person(struct demo *d, const char *code, const char *org, const char *programme,
                       const char *role, const char *form, int y)
{
    int mentor = strcmp(role, "mentor") == 0;
    struct participant_rec p = {
        .code = code,
        .org_code = org,
        .programme_code = programme,
        .role = role,
        .kind = "pupil",
        .experience_years = -1,
        .consent_date = arena_printf(d->a, "%04d-09-10", y),
        .consent_scope = demo_str(json_object_get(d->root, "consent"), "scope"),
        .consent_by = demo_str(json_object_get(d->root, "consent"), "by"),
    };
    if (strcmp(form, "teacher-teacher") == 0) {
        p.kind = "teacher";
        p.experience_years =
            (int)(mentor ? demo_between(&d->rng, 8, 30) : demo_between(&d->rng, 0, 4));
    } else if (mentor && strncmp(form, "employer-", 9) == 0) {
        p.kind = "employer";
    } else if (mentor && strcmp(form, "student-pupil") == 0) {
        p.kind = "student";
        p.birth_year = y - (int)demo_between(&d->rng, 18, 21);
    } else if (!mentor && strcmp(form, "employer-student") == 0) {
        p.kind = "student";
        p.birth_year = y - (int)demo_between(&d->rng, 17, 20);
    } else if (mentor) {
        p.birth_year = y - (int)demo_between(&d->rng, 15, 17);
    } else {
        p.birth_year = y - (int)(strcmp(form, "pupil-pupil") == 0 ? demo_between(&d->rng, 10, 14)
                                                                  : demo_between(&d->rng, 13, 17));
    }
    if (!p.consent_date)
        return err_set(d->e, "", 0, 0, "out of memory");
    return store_put_participant(d->st, &p, NULL, d->e) == STORE_OK ? 0 : -1;
}

/*
 * The generated cohort of one programme in the school year starting in y: its mentors and
 * mentees, each mentee paired with a mentor (at most three each). The current year uses the
 * sample programme itself; earlier years get a programme of their own, with pairs that ran
 * from September to May (a few broken off in February).
 */
static int demo_cohort(struct demo *d, json_t *c, int y, int current)
{
    const char *prog = demo_str(c, "programme"), *org = demo_str(c, "organisation");
    const char *form = demo_str(c, "form");
    const char *mentor_org =
        json_object_get(c, "mentor_organisation") ? demo_str(c, "mentor_organisation") : org;
    long nmentors = (long)json_integer_value(json_object_get(c, "mentors"));
    long nmentees = (long)json_integer_value(json_object_get(c, "mentees"));
    if (nmentors < 1 || nmentees < 1 || nmentees > 3 * nmentors)
        return err_set(d->e, "", 0, 0,
                       "demo: cohort of %s: 1 or more mentors, with at most three mentees each",
                       prog);
    char year[8];
    demo_year_code(y, year);
    const char *code = current ? prog : arena_printf(d->a, "%s-%d", prog, y);
    const char *title = arena_printf(d->a, "%s, %s", demo_str(c, "title"), year);
    if (!code || !title)
        return err_set(d->e, "", 0, 0, "out of memory");
    if (!current && store_put_programme(d->st, org, code, form, title, y, NULL, d->e) != STORE_OK)
        return -1;
    const char *tail = strrchr(prog, '-') ? strrchr(prog, '-') + 1 : prog;
    for (long i = 0; i < nmentors + nmentees; i++) {
        int mentor = i < nmentors;
        const char *who = arena_printf(d->a, "DEMO-G%02d-P%s-%s%02ld", y % 100, tail,
                                       mentor ? "MR" : "ME", mentor ? i + 1 : i - nmentors + 1);
        if (!who || demo_person(d, who, mentor ? mentor_org : org, code,
                                mentor ? "mentor" : "mentee", form, y) < 0)
            return who ? -1 : err_set(d->e, "", 0, 0, "out of memory");
    }
    for (long i = 0; i < nmentees; i++) {
        int broken = !current && i % 9 == 8;
        struct pair_rec p = {
            .programme_code = code,
            .mentor_code =
                arena_printf(d->a, "DEMO-G%02d-P%s-MR%02ld", y % 100, tail, i % nmentors + 1),
            .mentee_code = arena_printf(d->a, "DEMO-G%02d-P%s-ME%02ld", y % 100, tail, i + 1),
            .starts = arena_printf(d->a, "%04d-09-20", y),
            .ends = current  ? NULL
                    : broken ? arena_printf(d->a, "%04d-02-10", y + 1)
                             : arena_printf(d->a, "%04d-05-25", y + 1),
            .status = current  ? "active"
                      : broken ? "broken"
                               : "finished",
        };
        if (!p.mentor_code || !p.mentee_code || !p.starts || (!current && !p.ends))
            return err_set(d->e, "", 0, 0, "out of memory");
        if (store_put_pair(d->st, &p, NULL, d->e) != STORE_OK)
            return -1;
    }
    return 0;
}

static int demo_answer_link(void *ctx, const struct link_row *row)
{
    struct demo *d = ctx;
    int answers = strncmp(row->participant_code, "DEMO-G", 6) == 0 &&
                  demo_between(&d->rng, 1, 100) <= d->answer_percent;
    size_t i;
    json_t *code;
    json_array_foreach(d->answered, i, code) answers |=
        strcmp(json_string_value(code), row->participant_code) == 0;
    if (!answers)
        return 0;
    struct invitation inv;
    if (store_invitation_by_token(d->st, d->a, row->token, &inv, d->e) != STORE_OK)
        return d->failed = 1;
    const struct survey *s = survey_set_find(d->surveys, inv.survey_id);
    if (!s) {
        err_set(d->e, "", 0, 0, "demo: survey \"%s\" is not loaded", inv.survey_id);
        return d->failed = 1;
    }
    if (demo_answer(d->st, d->a, s, &inv, d->texts, &d->rng, d->e) < 0)
        return d->failed = 1;
    return 0;
}

/*
 * The campaigns of the school year starting in y, opened, answered and (for past years)
 * closed. The current year's run from a week ago to two months ahead, so the demo's links
 * work whenever it is created; a past year's entry survey ran in October, the final in May.
 */
static int demo_year_campaigns(struct demo *d, int y, int current)
{
    time_t now = time(NULL), from = now - 7 * 86400, to = now + 60 * 86400;
    char opens[11], closes[11], year[8];
    strftime(opens, sizeof opens, "%Y-%m-%d", gmtime(&from));
    strftime(closes, sizeof closes, "%Y-%m-%d", gmtime(&to));
    demo_year_code(y, year);
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(d->root, "campaigns"), i, it)
    {
        int final = strcmp(demo_str(it, "wave"), "final") == 0;
        struct campaign_rec c = {
            .code = current ? demo_str(it, "code")
                            : arena_printf(d->a, "%s-%d", demo_str(it, "code"), y),
            .survey_id = demo_str(it, "survey"),
            .org_code = demo_str(it, "organisation"),
            .period = year,
            .wave = demo_str(it, "wave"),
            .role = demo_str(it, "role"),
            .opens = current ? opens
                     : final ? arena_printf(d->a, "%04d-05-10", y + 1)
                             : arena_printf(d->a, "%04d-10-01", y),
            .closes = current ? closes
                      : final ? arena_printf(d->a, "%04d-05-31", y + 1)
                              : arena_printf(d->a, "%04d-10-25", y),
        };
        long invited, no_consent;
        if (!c.code || !c.opens || !c.closes)
            return err_set(d->e, "", 0, 0, "out of memory");
        if (store_put_campaign(d->st, &c, d->e) != STORE_OK ||
            store_campaign_open(d->st, c.code, &invited, &no_consent, d->e) != STORE_OK ||
            store_campaign_links(d->st, c.code, NULL, demo_answer_link, d, d->e) != STORE_OK ||
            d->failed || (!current && store_campaign_close(d->st, c.code, d->e) != STORE_OK))
            return -1;
    }
    return 0;
}

/* Everything after the import, in one transaction: past years first, then the current one,
 * so each year's campaigns invite that year's cohorts. */
static int demo_build(struct demo *d)
{
    struct period per;
    if (registry_period_parse(demo_str(d->root, "year"), &per) < 0 || per.kind != 'Y')
        return err_set(d->e, "", 0, 0, "demo.json: \"year\" is not a school year such as 2026/27");
    long past = (long)json_integer_value(json_object_get(d->root, "past_years"));
    for (long k = past; k >= 0; k--) {
        int y = per.year - (int)k;
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(d->root, "cohorts"), i, c)
        {
            if (demo_cohort(d, c, y, k == 0) < 0)
                return -1;
        }
        if (demo_year_campaigns(d, y, k == 0) < 0)
            return -1;
    }
    return 0;
}

static json_t *demo_load(const char *dir, struct err_list *errs)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/demo.json", dir);
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        err_list_set(errs, path, je.line, je.column, "%s", je.text);
    return root;
}

int demo_seed(struct store *st, const struct survey_set *surveys, const char *dir, int *created,
              struct err_list *errs)
{
    *created = 0;
    struct err e = {0};
    json_t *root = demo_load(dir, errs);
    if (!root)
        return -1;
    struct demo d = {
        .st = st,
        .surveys = surveys,
        .root = root,
        .answered = json_object_get(root, "answered"),
        .texts = json_object_get(root, "texts"),
        .answer_percent = (long)json_integer_value(json_object_get(root, "answer_percent")),
        .rng = 0x9E3779B97F4A7C15ULL,
        .e = &e,
    };
    int rc = demo_import(st, dir, errs);
    /* The first campaign tells whether the demo was built already. */
    json_t *first = json_array_get(json_object_get(root, "campaigns"), 0);
    struct campaign_info info;
    int exists = STORE_NOT_FOUND;
    if (rc == 0 && (d.a = arena_new()) == NULL)
        rc = err_set(&e, "", 0, 0, "out of memory");
    if (rc == 0 && first)
        exists = store_campaign_get(st, d.a, demo_str(first, "code"), &info, &e);
    if (rc == 0 && exists == STORE_NOT_FOUND) {
        if (store_begin(st, &e) != STORE_OK) {
            rc = -1;
        } else if (demo_build(&d) == 0 && store_commit(st, &e) == STORE_OK) {
            *created = 1;
        } else {
            store_rollback(st);
            rc = -1;
        }
    } else if (rc == 0 && exists != STORE_OK) {
        rc = -1;
    }
    if (rc < 0 && e.msg[0])
        err_list_add(errs, &e);
    arena_free(d.a);
    json_decref(root);
    return rc < 0 ? -1 : 0;
}

int demo_staff(struct store *st, const char *dir, struct arena *a, struct demo_login **out,
               size_t *n, struct err_list *errs)
{
    *out = NULL;
    *n = 0;
    json_t *root = demo_load(dir, errs);
    if (!root)
        return -1;
    json_t *staff = json_object_get(root, "staff");
    struct err e = {0};
    int rc = 0;
    struct demo_login *logins = arena_calloc(a, json_array_size(staff) + 1, sizeof *logins);
    if (!logins)
        rc = err_set(&e, "", 0, 0, "out of memory");
    size_t i;
    json_t *it;
    json_array_foreach(staff, i, it)
    {
        if (rc < 0)
            break;
        struct demo_login *l = &logins[*n];
        char password[CRYPTO_TOKEN_LEN + 1], hash[128];
        crypto_token(password);
        l->login = arena_strdup(a, demo_str(it, "login"));
        l->password = arena_strdup(a, password);
        l->role = arena_strdup(a, demo_str(it, "role"));
        l->org_code = json_object_get(it, "organisation")
                          ? arena_strdup(a, demo_str(it, "organisation"))
                          : NULL;
        if (!l->login || !l->password || !l->role || account_hash_password(password, hash) < 0) {
            rc = err_set(&e, "", 0, 0, "out of memory");
            break;
        }
        struct user_row u;
        int found = store_user_get(st, a, l->login, &u, &e);
        struct user_rec rec = {l->login, demo_str(it, "name"), l->role, l->org_code, hash};
        if (found == STORE_OK)
            rc = store_user_set_password(st, l->login, hash, &e) == STORE_OK ? 0 : -1;
        else if (found == STORE_NOT_FOUND)
            rc = store_user_put(st, &rec, &e) == STORE_OK ? 0 : -1;
        else
            rc = -1;
        (*n)++;
    }
    if (rc < 0) {
        err_list_add(errs, &e);
        *n = 0;
    } else {
        *out = logins;
    }
    json_decref(root);
    return rc;
}

int demo_periods(const char *dir, char codes[][8], size_t max, size_t *n, struct err_list *errs)
{
    *n = 0;
    json_t *root = demo_load(dir, errs);
    if (!root)
        return -1;
    struct period per;
    int rc = registry_period_parse(demo_str(root, "year"), &per);
    long past = (long)json_integer_value(json_object_get(root, "past_years"));
    if (rc < 0 || per.kind != 'Y')
        err_list_set(errs, dir, 0, 0, "demo.json: \"year\" is not a school year such as 2026/27");
    for (long k = past; rc == 0 && k >= 0 && *n < max; k--)
        demo_year_code(per.year - (int)k, codes[(*n)++]);
    json_decref(root);
    return rc < 0 || per.kind != 'Y' ? -1 : 0;
}
