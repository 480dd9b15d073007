/*
 * import: one CSV file into the registry, in one transaction.
 *
 * The header words below are what curators write at the top of their spreadsheets, in
 * Russian or English; together with registry.c's vocabularies they are the input grammar
 * of the registry.
 */
#include "import.h"

#include "arena.h"
#include "csv.h"
#include "err.h"
#include "registry.h"
#include "store.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define IMPORT_ALIASES(...) ((const char *const[]){__VA_ARGS__, NULL})

enum { ORG_CODE, ORG_PARENT, ORG_LEVEL, ORG_KIND, ORG_NAME, ORG_MAX_MENTEES };
static const struct csv_column import_org_cols[] = {
    [ORG_CODE] = {"code", IMPORT_ALIASES("код", "код организации"), 1},
    [ORG_PARENT] = {"parent",
                    IMPORT_ALIASES("родитель", "вышестоящая", "код вышестоящей", "входит в"), 0},
    [ORG_LEVEL] = {"level", IMPORT_ALIASES("уровень"), 1},
    [ORG_KIND] = {"kind", IMPORT_ALIASES("тип", "вид"), 0},
    [ORG_NAME] = {"name", IMPORT_ALIASES("название", "наименование"), 1},
    [ORG_MAX_MENTEES] = {"max_mentees",
                         IMPORT_ALIASES("наставляемых на наставника", "макс. наставляемых"), 0},
};

enum { PRG_CODE, PRG_ORG, PRG_FORM, PRG_TITLE, PRG_YEAR };
static const struct csv_column import_programme_cols[] = {
    [PRG_CODE] = {"code", IMPORT_ALIASES("код", "код программы"), 1},
    [PRG_ORG] = {"organisation",
                 IMPORT_ALIASES("organization", "организация", "оо", "код организации"), 1},
    [PRG_FORM] = {"form", IMPORT_ALIASES("форма", "форма наставничества"), 1},
    [PRG_TITLE] = {"title", IMPORT_ALIASES("название", "наименование"), 1},
    [PRG_YEAR] = {"year", IMPORT_ALIASES("учебный год", "год"), 1},
};

enum {
    PAR_CODE,
    PAR_ORG,
    PAR_PROGRAMME,
    PAR_ROLE,
    PAR_KIND,
    PAR_BIRTH_YEAR,
    PAR_EXPERIENCE,
    PAR_NAME,
    PAR_CONSENT_DATE,
    PAR_CONSENT_SCOPE,
    PAR_CONSENT_BY,
};
static const struct csv_column import_participant_cols[] = {
    [PAR_CODE] = {"code", IMPORT_ALIASES("код", "код участника"), 1},
    [PAR_ORG] = {"organisation",
                 IMPORT_ALIASES("organization", "организация", "оо", "код организации"), 1},
    [PAR_PROGRAMME] = {"programme", IMPORT_ALIASES("program", "программа", "код программы"), 0},
    [PAR_ROLE] = {"role", IMPORT_ALIASES("роль"), 1},
    [PAR_KIND] = {"kind", IMPORT_ALIASES("категория", "тип участника"), 1},
    [PAR_BIRTH_YEAR] = {"birth_year", IMPORT_ALIASES("год рождения"), 0},
    [PAR_EXPERIENCE] = {"experience",
                        IMPORT_ALIASES("experience_years", "стаж", "стаж, лет",
                                       "педагогический стаж"),
                        0},
    [PAR_NAME] = {"name", IMPORT_ALIASES("фио", "имя", "ф.и.о."), 0},
    [PAR_CONSENT_DATE] = {"consent_date", IMPORT_ALIASES("дата согласия", "согласие"), 0},
    [PAR_CONSENT_SCOPE] = {"consent_scope", IMPORT_ALIASES("объём согласия", "объем согласия"), 0},
    [PAR_CONSENT_BY] = {"consent_by", IMPORT_ALIASES("согласие оформил", "кто оформил согласие"),
                        0},
};

enum { PAIR_PROGRAMME, PAIR_MENTOR, PAIR_MENTEE, PAIR_STARTS, PAIR_ENDS, PAIR_STATUS };
static const struct csv_column import_pair_cols[] = {
    [PAIR_PROGRAMME] = {"programme", IMPORT_ALIASES("program", "программа", "код программы"), 1},
    [PAIR_MENTOR] = {"mentor", IMPORT_ALIASES("наставник", "код наставника"), 1},
    [PAIR_MENTEE] = {"mentee", IMPORT_ALIASES("наставляемый", "код наставляемого"), 1},
    [PAIR_STARTS] = {"starts", IMPORT_ALIASES("начало", "дата начала"), 1},
    [PAIR_ENDS] = {"ends", IMPORT_ALIASES("окончание", "дата окончания"), 0},
    [PAIR_STATUS] = {"status", IMPORT_ALIASES("статус"), 0},
};

enum { FIG_ORG, FIG_PERIOD, FIG_NAME, FIG_VALUE };
static const struct csv_column import_figure_cols[] = {
    [FIG_ORG] = {"organisation",
                 IMPORT_ALIASES("organization", "организация", "оо", "код организации"), 1},
    [FIG_PERIOD] = {"period", IMPORT_ALIASES("период", "учебный год"), 1},
    [FIG_NAME] = {"name", IMPORT_ALIASES("показатель", "величина"), 1},
    [FIG_VALUE] = {"value", IMPORT_ALIASES("значение", "число"), 1},
};

struct import_ctx {
    struct store *st;
    struct csv_reader *r;
    struct arena *a;
    const char *path;
    const struct import_options *opt;
    struct import_result *res;
    struct err_list *errs;
    int year;
};

/* Reports a problem of the current row; always returns -1. */
static int import_fail(struct import_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int import_fail(struct import_ctx *c, const char *fmt, ...)
{
    struct err e = {0};
    va_list ap;
    va_start(ap, fmt);
    char msg[sizeof e.msg];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    err_set(&e, c->path, csv_line(c->r), 0, "%s", msg);
    err_list_add(c->errs, &e);
    return -1;
}

/* Reports a store result other than STORE_OK at the current row. */
static int import_store(struct import_ctx *c, int rc, int changed, const struct err *e)
{
    if (rc == STORE_OK) {
        if (changed)
            c->res->changed++;
        else
            c->res->unchanged++;
        return 0;
    }
    return import_fail(c, "%s", e->msg);
}

static const char *import_field(struct import_ctx *c, size_t col)
{
    const char *v = csv_field(c->r, col);
    return v[0] ? v : NULL;
}

/* Reads an optional whole number in [lo, hi]; 0 when absent, -1 (reported) when bad. */
static int import_int(struct import_ctx *c, size_t col, const char *what, long lo, long hi,
                      long *out)
{
    const char *v = import_field(c, col);
    *out = 0;
    if (!v)
        return 0;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || end == v || n < lo || n > hi)
        return import_fail(c, "%s \"%s\" is not a whole number from %ld to %ld", what, v, lo, hi);
    *out = n;
    return 1;
}

/* A vocabulary word that must be there; NULL (reported) when missing or unknown. */
static const char *import_word(struct import_ctx *c, size_t col, enum registry_vocab v,
                               const char *what)
{
    const char *w = import_field(c, col);
    if (!w) {
        import_fail(c, "%s is empty (one of: %s)", what, registry_words(v));
        return NULL;
    }
    const char *canon = registry_word(v, w);
    if (!canon)
        import_fail(c, "%s \"%s\" is not one of: %s", what, w, registry_words(v));
    return canon;
}

/* A code that must be there and well-formed; NULL (reported) otherwise. */
static const char *import_code(struct import_ctx *c, size_t col, const char *what, int required)
{
    const char *v = import_field(c, col);
    if (!v) {
        if (required)
            import_fail(c, "%s is empty", what);
        return NULL;
    }
    if (!registry_code_valid(v)) {
        import_fail(c, "%s \"%s\" may only have letters A-Z, digits, '.', '_' and '-' (1-64)", what,
                    v);
        return NULL;
    }
    return v;
}

static int import_date(struct import_ctx *c, size_t col, const char *what, const char **out)
{
    const char *v = import_field(c, col);
    *out = v;
    if (v && !registry_date_valid(v))
        return import_fail(c, "%s \"%s\" is not a date written YYYY-MM-DD", what, v);
    return 0;
}

static int import_org(struct import_ctx *c)
{
    struct org_rec o = {0};
    long max = 0;
    int bad = 0;
    bad |= !(o.code = import_code(c, ORG_CODE, "code", 1));
    bad |= !(o.level = import_word(c, ORG_LEVEL, VOCAB_LEVEL, "level"));
    o.parent_code = import_code(c, ORG_PARENT, "parent", 0);
    bad |= import_field(c, ORG_PARENT) && !o.parent_code;
    if (!(o.name = import_field(c, ORG_NAME)))
        bad |= import_fail(c, "name is empty");
    bad |= import_int(c, ORG_MAX_MENTEES, "max_mentees", 1, 20, &max) < 0;
    o.max_mentees = (int)max;
    if (import_field(c, ORG_KIND) && !(o.kind = import_word(c, ORG_KIND, VOCAB_ORG_KIND, "kind")))
        bad = 1;
    if (bad)
        return -1;
    static const char *const above[][2] = {{"municipality", "region"},
                                           {"organisation", "municipality"}};
    if (strcmp(o.level, "region") == 0) {
        if (o.parent_code)
            return import_fail(c, "a region has no parent (found \"%s\")", o.parent_code);
    } else {
        if (!o.parent_code)
            return import_fail(c, "parent is empty: a %s belongs to a %s", o.level,
                               strcmp(o.level, "municipality") == 0 ? "region" : "municipality");
        char level[16];
        struct err e = {0};
        int rc = store_org_level(c->st, o.parent_code, level, &e);
        if (rc == STORE_NOT_FOUND)
            return import_fail(c,
                               "unknown parent \"%s\" (list it on an earlier line or import "
                               "it first)",
                               o.parent_code);
        if (rc != STORE_OK)
            return import_fail(c, "%s", e.msg);
        for (size_t i = 0; i < 2; i++)
            if (strcmp(o.level, above[i][0]) == 0 && strcmp(level, above[i][1]) != 0)
                return import_fail(c, "parent \"%s\" is a %s; a %s belongs to a %s", o.parent_code,
                                   level, o.level, above[i][1]);
    }
    if (strcmp(o.level, "organisation") == 0 && !o.kind)
        o.kind = "school";
    struct err e = {0};
    int changed;
    int rc = store_put_org(c->st, &o, &changed, &e);
    return import_store(c, rc, changed, &e);
}

static int import_programme(struct import_ctx *c)
{
    int bad = 0;
    const char *code = import_code(c, PRG_CODE, "code", 1);
    const char *org = import_code(c, PRG_ORG, "organisation", 1);
    const char *form = import_word(c, PRG_FORM, VOCAB_FORM, "form");
    const char *title = import_field(c, PRG_TITLE);
    const char *year = import_field(c, PRG_YEAR);
    bad = !code || !org || !form;
    if (!title)
        bad |= import_fail(c, "title is empty");
    /* "2026" or the school year "2026/27": both mean the year starting in September 2026. */
    struct period p;
    long y = 0;
    if (!year)
        bad |= import_fail(c, "year is empty (the school year, e.g. 2026/27)");
    else if (registry_period_parse(year, &p) == 0 && p.kind == 'Y')
        y = p.year;
    else if (strlen(year) == 4 && (y = strtol(year, NULL, 10)) >= 2000 && y <= 2100)
        ;
    else
        bad |= import_fail(c, "year \"%s\" is not a school year such as 2026/27", year);
    if (bad)
        return -1;
    struct err e = {0};
    int changed;
    int rc = store_put_programme(c->st, org, code, form, title, (int)y, &changed, &e);
    return import_store(c, rc, changed, &e);
}

static int import_participant(struct import_ctx *c)
{
    struct participant_rec p = {.experience_years = -1};
    int bad = 0;
    long birth = 0, exp = 0;
    bad |= !(p.code = import_code(c, PAR_CODE, "code", 1));
    bad |= !(p.org_code = import_code(c, PAR_ORG, "organisation", 1));
    p.programme_code = import_code(c, PAR_PROGRAMME, "programme", 0);
    bad |= import_field(c, PAR_PROGRAMME) && !p.programme_code;
    bad |= !(p.role = import_word(c, PAR_ROLE, VOCAB_ROLE, "role"));
    bad |= !(p.kind = import_word(c, PAR_KIND, VOCAB_KIND, "kind"));
    int has_birth = import_int(c, PAR_BIRTH_YEAR, "birth_year", c->year - 80, c->year, &birth);
    int has_exp = import_int(c, PAR_EXPERIENCE, "experience", 0, 70, &exp);
    bad |= has_birth < 0 || has_exp < 0;
    bad |= import_date(c, PAR_CONSENT_DATE, "consent_date", &p.consent_date) < 0;
    if (bad)
        return -1;
    /* Pupils are the 10-18 year olds the indicators count: their birth year is needed. */
    if (strcmp(p.kind, "pupil") == 0) {
        if (!has_birth)
            return import_fail(c, "birth_year is empty: it is needed for pupils");
        if (c->year - birth < 5 || c->year - birth > 25)
            return import_fail(c, "birth_year %ld makes a pupil %ld years old", birth,
                               c->year - birth);
    }
    if (strcmp(p.role, "curator") == 0 && strcmp(p.kind, "teacher") != 0)
        return import_fail(c, "a curator is a teacher (kind \"teacher\"), not \"%s\"", p.kind);
    if (p.consent_date) {
        time_t now = time(NULL);
        char today[11];
        strftime(today, sizeof today, "%Y-%m-%d", gmtime(&now));
        if (strcmp(p.consent_date, today) > 0)
            return import_fail(c, "consent_date %s is in the future", p.consent_date);
    }
    p.birth_year = (int)birth;
    p.experience_years = has_exp ? (int)exp : -1;
    p.consent_scope = import_field(c, PAR_CONSENT_SCOPE);
    p.consent_by = import_field(c, PAR_CONSENT_BY);
    if (import_field(c, PAR_NAME)) {
        if (c->opt->store_names)
            p.name = import_field(c, PAR_NAME);
        else
            c->res->names_ignored = 1;
    }
    struct err e = {0};
    int changed;
    int rc = store_put_participant(c->st, &p, &changed, &e);
    return import_store(c, rc, changed, &e);
}

static int import_pair(struct import_ctx *c)
{
    struct pair_rec p = {0};
    int bad = 0;
    bad |= !(p.programme_code = import_code(c, PAIR_PROGRAMME, "programme", 1));
    bad |= !(p.mentor_code = import_code(c, PAIR_MENTOR, "mentor", 1));
    bad |= !(p.mentee_code = import_code(c, PAIR_MENTEE, "mentee", 1));
    bad |= import_date(c, PAIR_STARTS, "starts", &p.starts) < 0;
    bad |= import_date(c, PAIR_ENDS, "ends", &p.ends) < 0;
    if (!import_field(c, PAIR_STARTS))
        bad |= import_fail(c, "starts is empty (the date the pair began, YYYY-MM-DD)");
    p.status = "active";
    if (import_field(c, PAIR_STATUS) &&
        !(p.status = import_word(c, PAIR_STATUS, VOCAB_STATUS, "status")))
        bad = 1;
    if (bad)
        return -1;
    if (p.ends && strcmp(p.ends, p.starts) < 0)
        return import_fail(c, "ends %s is before starts %s", p.ends, p.starts);
    static const char *const roles[][2] = {{"mentor", "mentor"}, {"mentee", "mentee"}};
    const char *codes[] = {p.mentor_code, p.mentee_code};
    for (size_t i = 0; i < 2; i++) {
        char role[16];
        struct err e = {0};
        int rc = store_participant_role(c->st, codes[i], role, &e);
        if (rc == STORE_NOT_FOUND)
            return import_fail(c, "unknown %s \"%s\" (import participants first)", roles[i][0],
                               codes[i]);
        if (rc != STORE_OK)
            return import_fail(c, "%s", e.msg);
        if (strcmp(role, roles[i][1]) != 0)
            return import_fail(c, "%s \"%s\" has the role %s, not %s", roles[i][0], codes[i], role,
                               roles[i][1]);
    }
    struct err e = {0};
    if (registry_check_pair(c->st, c->a, &p, &e) < 0)
        return import_fail(c, "%s", e.msg);
    int changed;
    int rc = store_put_pair(c->st, &p, &changed, &e);
    return import_store(c, rc, changed, &e);
}

static int import_figure(struct import_ctx *c)
{
    struct figure_rec f = {0};
    int bad = 0;
    struct period per;
    bad |= !(f.org_code = import_code(c, FIG_ORG, "organisation", 1));
    f.period = import_field(c, FIG_PERIOD);
    if (!f.period || registry_period_parse(f.period, &per) < 0)
        bad |= import_fail(c,
                           "period \"%s\" is not a period such as 2026/27, 2026/27-H1 or "
                           "2026/27-Q3",
                           f.period ? f.period : "");
    bad |= !(f.name = import_code(c, FIG_NAME, "name", 1));
    const char *v = import_field(c, FIG_VALUE);
    char *end = NULL;
    f.value = v ? strtod(v, &end) : 0;
    if (!v || *end || f.value < 0 || f.value > 1e12)
        bad |= import_fail(c, "value \"%s\" is not a number of 0 or more", v ? v : "");
    if (bad)
        return -1;
    struct err e = {0};
    int changed;
    int rc = store_put_figure(c->st, &f, &changed, &e);
    return import_store(c, rc, changed, &e);
}

struct import_spec {
    const char *name;
    const struct csv_column *cols;
    size_t ncols;
    int (*row)(struct import_ctx *c);
};

#define IMPORT_SPEC(name, cols, fn)                                                                \
    {                                                                                              \
        name, cols, sizeof cols / sizeof cols[0], fn                                               \
    }

static const struct import_spec import_specs[] = {
    [IMPORT_ORGS] = IMPORT_SPEC("orgs", import_org_cols, import_org),
    [IMPORT_PROGRAMMES] = IMPORT_SPEC("programmes", import_programme_cols, import_programme),
    [IMPORT_PARTICIPANTS] =
        IMPORT_SPEC("participants", import_participant_cols, import_participant),
    [IMPORT_PAIRS] = IMPORT_SPEC("pairs", import_pair_cols, import_pair),
    [IMPORT_FIGURES] = IMPORT_SPEC("figures", import_figure_cols, import_figure),
};

int import_kind_parse(const char *word, enum import_kind *out)
{
    for (size_t i = 0; i < sizeof import_specs / sizeof import_specs[0]; i++)
        if (strcmp(word, import_specs[i].name) == 0) {
            *out = (enum import_kind)i;
            return 0;
        }
    return -1;
}

int import_file(struct store *st, enum import_kind kind, const char *path,
                const struct import_options *opt, struct import_result *res, struct err_list *errs)
{
    memset(res, 0, sizeof *res);
    const struct import_spec *spec = &import_specs[kind];
    struct err e = {0};
    struct import_ctx c = {.st = st, .path = path, .opt = opt, .res = res, .errs = errs};
    time_t now = time(NULL);
    c.year = opt->year ? opt->year : gmtime(&now)->tm_year + 1900;
    if (csv_open(path, spec->cols, spec->ncols, &c.r, &e) < 0) {
        err_list_add(errs, &e);
        return -1;
    }
    res->delimiter = csv_delimiter(c.r);
    c.a = arena_new();
    if (!c.a || store_begin(st, &e) != STORE_OK) {
        if (!c.a)
            err_set(&e, path, 0, 0, "out of memory");
        err_list_add(errs, &e);
        csv_close(c.r);
        arena_free(c.a);
        return -1;
    }
    size_t before = err_list_count(errs);
    int rc;
    long tick = 0;
    while ((rc = csv_next(c.r, &e)) != 0) {
        if (rc < 0) {
            err_list_add(errs, &e);
            continue;
        }
        res->rows++;
        spec->row(&c);
        arena_reset(c.a);
        if (opt->progress && ++tick % 1024 == 0)
            opt->progress(opt->progress_ctx, csv_bytes_read(c.r), csv_size(c.r));
    }
    if (opt->progress)
        opt->progress(opt->progress_ctx, csv_bytes_read(c.r), csv_size(c.r));
    /* Read at the end: a file that starts in plain ASCII is decided by its first Cyrillic. */
    res->encoding = csv_encoding(c.r);
    int ok = err_list_count(errs) == before;
    if (ok && store_commit(st, &e) != STORE_OK) {
        err_list_add(errs, &e);
        ok = 0;
    }
    if (!ok) {
        store_rollback(st);
        res->changed = res->unchanged = 0;
    }
    arena_free(c.a);
    csv_close(c.r);
    return ok ? 0 : -1;
}
