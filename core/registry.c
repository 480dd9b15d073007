/*
 * registry: vocabularies, codes, dates, periods and the mentor limit.
 *
 * The vocabularies are the words curators type into their spreadsheets; they are input
 * grammar, like SQL keywords, and live here in one table (the UI's words are in web/i18n).
 */
#include "registry.h"

#include "arena.h"
#include "buf.h"
#include "err.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct registry_word {
    const char *canonical;
    const char *words[8]; /* lower-case; NULL-terminated */
};

static const struct registry_word registry_levels[] = {
    {"region", {"region", "регион", "субъект", "область", NULL}},
    {"municipality",
     {"municipality", "муниципалитет", "муниципальное образование", "район", "городской округ",
      "мо", NULL}},
    {"organisation",
     {"organisation", "organization", "организация", "оо", "образовательная организация", NULL}},
    {NULL, {NULL}},
};

static const struct registry_word registry_org_kinds[] = {
    {"school", {"school", "школа", "оо", "общеобразовательная организация", NULL}},
    {"college", {"college", "колледж", "техникум", "спо", NULL}},
    {"centre",
     {"centre", "center", "центр", "учреждение дополнительного образования",
      "дополнительное образование", NULL}},
    {"enterprise",
     {"enterprise", "предприятие", "организация-партнёр", "организация-партнер", "партнёр",
      "партнер", NULL}},
    {"other", {"other", "другое", "иное", NULL}},
    {NULL, {NULL}},
};

static const struct registry_word registry_roles[] = {
    {"mentor", {"mentor", "наставник", NULL}},
    {"mentee", {"mentee", "наставляемый", "наставляемая", NULL}},
    {"curator", {"curator", "куратор", NULL}},
    {NULL, {NULL}},
};

static const struct registry_word registry_kinds[] = {
    {"pupil", {"pupil", "обучающийся", "обучающаяся", "ученик", "ученица", "школьник", NULL}},
    {"student", {"student", "студент", "студентка", NULL}},
    {"teacher", {"teacher", "педагог", "учитель", "педагогический работник", NULL}},
    {"employer",
     {"employer", "работодатель", "представитель работодателя", "специалист",
      "специалист предприятия", NULL}},
    {NULL, {NULL}},
};

static const struct registry_word registry_forms[] = {
    {"pupil-pupil", {"pupil-pupil", "ученик – ученик", "ученик - ученик", "ученик-ученик", NULL}},
    {"student-pupil",
     {"student-pupil", "студент – ученик", "студент - ученик", "студент-ученик", NULL}},
    {"employer-pupil",
     {"employer-pupil", "работодатель – ученик", "работодатель - ученик", "работодатель-ученик",
      NULL}},
    {"employer-student",
     {"employer-student", "работодатель – студент", "работодатель - студент",
      "работодатель-студент", NULL}},
    {"teacher-teacher",
     {"teacher-teacher", "учитель – учитель", "учитель - учитель", "учитель-учитель",
      "педагог – педагог", "педагог - педагог", NULL}},
    {NULL, {NULL}},
};

static const struct registry_word registry_statuses[] = {
    {"active", {"active", "активна", "активная", "действует", "работает", NULL}},
    {"finished", {"finished", "завершена", "завершённая", "завершенная", "окончена", NULL}},
    {"broken", {"broken", "расторгнута", "прекращена", "распалась", NULL}},
    {NULL, {NULL}},
};

static const struct registry_word registry_waves[] = {
    {"entry", {"entry", "входное", "входная", "входной", NULL}},
    {"final", {"final", "итоговое", "итоговая", "итоговый", NULL}},
    {"none", {"none", "нет", "без волны", NULL}},
    {NULL, {NULL}},
};

static const struct registry_word *const registry_vocabs[] = {
    [VOCAB_LEVEL] = registry_levels, [VOCAB_ORG_KIND] = registry_org_kinds,
    [VOCAB_ROLE] = registry_roles,   [VOCAB_KIND] = registry_kinds,
    [VOCAB_FORM] = registry_forms,   [VOCAB_STATUS] = registry_statuses,
    [VOCAB_WAVE] = registry_waves,
};

static const char *const registry_vocab_lists[] = {
    [VOCAB_LEVEL] = "region, municipality, organisation",
    [VOCAB_ORG_KIND] = "school, college, centre, enterprise, other",
    [VOCAB_ROLE] = "mentor, mentee, curator (наставник, наставляемый, куратор)",
    [VOCAB_KIND] = "pupil, student, teacher, employer (обучающийся, студент, педагог, "
                   "работодатель)",
    [VOCAB_FORM] = "pupil-pupil, student-pupil, employer-pupil, employer-student, "
                   "teacher-teacher («ученик – ученик», ...), or a region's own x-<name>",
    [VOCAB_STATUS] = "active, finished, broken",
    [VOCAB_WAVE] = "entry, final, none",
};

/*
 * Lower-cases ASCII and the Russian alphabet (UTF-8), folds ё to е and the dashes – — to
 * "-", squeezes runs of spaces, and trims. Writes at most size-1 bytes.
 */
static void registry_fold(const char *in, char *out, size_t size)
{
    size_t o = 0;
    int space = 0;
    const unsigned char *p = (const unsigned char *)in;
    while (*p == ' ' || *p == '\t')
        p++;
    while (*p && o + 4 < size) {
        unsigned char c = p[0];
        if (c == ' ' || c == '\t') {
            space = 1;
            p++;
            continue;
        }
        if (space) {
            out[o++] = ' ';
            space = 0;
        }
        if (c < 0x80) {
            out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            p++;
        } else if (c == 0xD0 && p[1] >= 0x90 && p[1] <= 0x9F) { /* А-П -> а-п */
            out[o++] = (char)0xD0;
            out[o++] = (char)(p[1] + 0x20);
            p += 2;
        } else if (c == 0xD0 && p[1] >= 0xA0 && p[1] <= 0xAF) { /* Р-Я -> р-я */
            out[o++] = (char)0xD1;
            out[o++] = (char)(p[1] - 0x20);
            p += 2;
        } else if ((c == 0xD0 && p[1] == 0x81) || (c == 0xD1 && p[1] == 0x91)) { /* Ё ё -> е */
            out[o++] = (char)0xD0;
            out[o++] = (char)0xB5;
            p += 2;
        } else if (c == 0xE2 && p[1] == 0x80 && (p[2] == 0x93 || p[2] == 0x94)) { /* – — */
            out[o++] = '-';
            p += 3;
        } else {
            out[o++] = (char)*p++;
        }
    }
    out[o] = '\0';
}

/* A region's own form of mentoring: "x-" and lower-case letters, digits or dashes. */
static int registry_region_form(const char *word)
{
    if (strncmp(word, "x-", 2) != 0 || !word[2] || strlen(word) > 64)
        return 0;
    for (const char *p = word + 2; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return 0;
    return 1;
}

const char *registry_word(enum registry_vocab v, const char *word)
{
    if (v == VOCAB_FORM && registry_region_form(word))
        return word;
    char folded[256];
    registry_fold(word, folded, sizeof folded);
    for (const struct registry_word *w = registry_vocabs[v]; w->canonical; w++) {
        for (size_t i = 0; w->words[i]; i++) {
            char cand[256];
            registry_fold(w->words[i], cand, sizeof cand);
            if (strcmp(folded, cand) == 0)
                return w->canonical;
        }
    }
    return NULL;
}

const char *registry_words(enum registry_vocab v)
{
    return registry_vocab_lists[v];
}

int registry_code_valid(const char *code)
{
    size_t n = 0;
    for (; code[n]; n++) {
        char c = code[n];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return n >= 1 && n <= 64;
}

static int registry_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int registry_days_in(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && registry_leap(y) ? 29 : days[m - 1];
}

static int registry_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

int registry_date_valid(const char *s)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' || !registry_digits(s, 4) ||
        !registry_digits(s + 5, 2) || !registry_digits(s + 8, 2))
        return 0;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    return y >= 1900 && y <= 2200 && m >= 1 && m <= 12 && d >= 1 && d <= registry_days_in(y, m);
}

static void registry_date(char out[11], int y, int m, int d)
{
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)y % 10000u, (unsigned)m % 100u,
             (unsigned)d % 100u);
}

int registry_period_parse(const char *code, struct period *out)
{
    memset(out, 0, sizeof *out);
    size_t len = strlen(code);
    if ((len != 7 && len != 10) || !registry_digits(code, 4) || code[4] != '/' ||
        !registry_digits(code + 5, 2))
        return -1;
    int y = atoi(code);
    if (y < 1900 || y > 2199 || atoi(code + 5) != (y + 1) % 100)
        return -1;
    out->year = y;
    out->kind = 'Y';
    if (len == 10) {
        if (code[7] != '-' || (code[8] != 'H' && code[8] != 'Q') || code[9] < '1' ||
            code[9] > (code[8] == 'H' ? '2' : '4'))
            return -1;
        out->kind = code[8];
        out->n = code[9] - '0';
    }
    /* Months from September: a half is 4 or 8 months, a quarter 3. */
    int first = 0, count = 12;
    if (out->kind == 'H') {
        first = out->n == 1 ? 0 : 4;
        count = out->n == 1 ? 4 : 8;
    } else if (out->kind == 'Q') {
        first = (out->n - 1) * 3;
        count = 3;
    }
    int sm = 9 + first, sy = y + (sm > 12), em = 9 + first + count - 1, ey = y + (em > 12);
    sm = (sm - 1) % 12 + 1;
    em = (em - 1) % 12 + 1;
    registry_date(out->starts, sy, sm, 1);
    registry_date(out->ends, ey, em, registry_days_in(ey, em));
    return 0;
}

int registry_school_year(const char *date, char out[8])
{
    if (!registry_date_valid(date))
        return -1;
    int y = atoi(date), m = atoi(date + 5);
    int start = m >= 9 ? y : y - 1;
    snprintf(out, 8, "%04u/%02u", (unsigned)start % 10000u, (unsigned)(start + 1) % 100u);
    return 0;
}

int registry_check_pair(struct store *st, struct arena *a, const struct pair_rec *p, struct err *e)
{
    if (strcmp(p->status, "active") != 0)
        return 0;
    const char **mentees;
    size_t n;
    int max;
    if (store_mentor_load(st, a, p->mentor_code, p->mentee_code, &mentees, &n, &max, e) != STORE_OK)
        return -1;
    if ((int)n < max)
        return 0;
    struct buf b;
    buf_init(&b, a);
    for (size_t i = 0; i < n; i++)
        buf_printf(&b, "%s%s", i ? ", " : "", mentees[i]);
    return err_set(e, "", 0, 0,
                   "mentor %s already has %zu active mentee%s (%s); at most %d at a time: end "
                   "one of those pairs (status finished) before adding %s",
                   p->mentor_code, n, n == 1 ? "" : "s", buf_failed(&b) ? "?" : b.data, max,
                   p->mentee_code);
}
