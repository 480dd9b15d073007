/*
 * dictionary: the question type x-dictionary, a drop-down list filled from a CSV dictionary
 * (the region's partner enterprises, its colleges, its municipalities), so a long list is
 * kept in one file a curator can edit rather than in every questionnaire.
 *
 *   - id: employer
 *     type: x-dictionary
 *     label: Предприятие-партнёр
 *     options: {file: partners.csv}
 *
 * The file sits beside the questionnaire (a file name, not a path). Its first row names the
 * columns, among them `value` (what is stored: a code, an INN) and `label` (what is shown);
 * other columns are ignored. Fields are separated by ';' when the first row has one, else by
 * ','; a field may be quoted ("ООО ""Ромашка""") but not span lines. UTF-8, with or without
 * a byte order mark. Every problem is reported as FILE:LINE and the questionnaire does not
 * load. The file is read when the questionnaires are (at start and on SIGHUP).
 */
#include "plugin_api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DICT_MAX_FIELDS 64

struct dictionary {
    struct anketa_choice *choices;
    size_t n, cap;
    char *text; /* the file, its fields cut out in place: the choices point into it */
};

static void dictionary_free(void *state)
{
    struct dictionary *d = state;
    if (!d)
        return;
    free(d->choices);
    free(d->text);
    free(d);
}

/* Reads the whole file into a NUL-terminated buffer; NULL with errno set. */
static char *dictionary_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = NULL;
    size_t len = 0, cap = 0, got;
    char chunk[8192];
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + got + 1 > cap) {
            size_t ncap = cap ? cap * 2 : 16384;
            while (ncap < len + got + 1)
                ncap *= 2;
            char *t = realloc(text, ncap);
            if (!t) {
                free(text);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            text = t;
            cap = ncap;
        }
        memcpy(text + len, chunk, got);
        len += got;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(text);
        errno = EIO;
        return NULL;
    }
    if (!text && !(text = malloc(1)))
        return NULL;
    text[len] = '\0';
    if (strlen(text) != len) {
        free(text);
        errno = EILSEQ;
        return NULL;
    }
    return text;
}

/* Whether s is well-formed UTF-8 without C0 controls. */
static int dictionary_utf8(const unsigned char *s)
{
    while (*s) {
        size_t n = *s < 0x80             ? 1
                   : (*s & 0xE0) == 0xC0 ? 2
                   : (*s & 0xF0) == 0xE0 ? 3
                   : (*s & 0xF8) == 0xF0 ? 4
                                         : 0;
        if (!n || (n == 1 && *s < 0x20 && *s != '\t') || (n == 2 && *s < 0xC2) || *s > 0xF4)
            return 0;
        for (size_t i = 1; i < n; i++)
            if ((s[i] & 0xC0) != 0x80)
                return 0;
        s += n;
    }
    return 1;
}

/*
 * Cuts one line (NUL-terminated, without its end) into fields in place, unquoting them.
 * Returns the number of fields, or -1 when a quote is not closed on the line.
 */
static int dictionary_fields(char *line, char sep, char **fields)
{
    int n = 0;
    char *p = line;
    for (;;) {
        if (n == DICT_MAX_FIELDS)
            return n;
        char *out = p;
        fields[n++] = out;
        if (*p == '"') {
            p++;
            for (;;) {
                if (!*p)
                    return -1;
                if (*p == '"' && p[1] == '"') {
                    *out++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *out++ = *p++;
                }
            }
            while (*p && *p != sep)
                *out++ = *p++;
        } else {
            while (*p && *p != sep)
                *out++ = *p++;
        }
        int more = *p == sep;
        if (more)
            p++;
        *out = '\0';
        if (!more)
            return n;
    }
}

/* Trims blanks at both ends of s, in place. */
static char *dictionary_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

static int dictionary_fail(char err[ANKETA_ERR_MAX], const char *path, int line, const char *msg,
                           const char *arg)
{
    if (line)
        snprintf(err, ANKETA_ERR_MAX, "%.120s:%d: %.60s%s%.40s%s", path, line, msg,
                 arg ? " \"" : "", arg ? arg : "", arg ? "\"" : "");
    else
        snprintf(err, ANKETA_ERR_MAX, "%.120s: %.100s", path, msg);
    return -1;
}

/* Reads the rows of text (the file at path) into d. Messages show at most 120 bytes of the
 * path: they must fit ANKETA_ERR_MAX. */
static int dictionary_parse(struct dictionary *d, const char *path, char err[ANKETA_ERR_MAX])
{
    char *p = d->text;
    if (strncmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    int lineno = 0, value_col = -1, label_col = -1, ncols = 0;
    char sep = ',';
    char *fields[DICT_MAX_FIELDS];
    while (*p) {
        char *line = p, *end = strchr(p, '\n');
        p = end ? end + 1 : line + strlen(line);
        if (end)
            *end = '\0';
        lineno++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r')
            line[--len] = '\0';
        if (!*dictionary_trim(line))
            continue;
        if (!dictionary_utf8((const unsigned char *)line))
            return dictionary_fail(err, path, lineno, "is not UTF-8 text (save the file as UTF-8)",
                                   NULL);
        if (ncols == 0)
            sep = strchr(line, ';') ? ';' : ',';
        int n = dictionary_fields(line, sep, fields);
        if (n < 0)
            return dictionary_fail(err, path, lineno, "a quoted field is not closed on its line",
                                   NULL);
        if (ncols == 0) {
            for (int i = 0; i < n; i++) {
                char *name = dictionary_trim(fields[i]);
                if (strcmp(name, "value") == 0)
                    value_col = i;
                else if (strcmp(name, "label") == 0)
                    label_col = i;
            }
            if (value_col < 0 || label_col < 0)
                return dictionary_fail(err, path, lineno,
                                       "the first row must name the columns value and label", NULL);
            ncols = n;
            continue;
        }
        if (n != ncols) {
            char msg[96];
            snprintf(msg, sizeof msg, "expected %d fields separated by '%c', found %d", ncols, sep,
                     n);
            return dictionary_fail(err, path, lineno, msg, NULL);
        }
        char *value = dictionary_trim(fields[value_col]);
        char *label = dictionary_trim(fields[label_col]);
        if (!*value || !*label)
            return dictionary_fail(err, path, lineno, "a row needs a value and a label", NULL);
        for (size_t i = 0; i < d->n; i++)
            if (strcmp(d->choices[i].value, value) == 0)
                return dictionary_fail(err, path, lineno, "a value given twice:", value);
        if (d->n == d->cap) {
            size_t cap = d->cap ? d->cap * 2 : 64;
            struct anketa_choice *c = realloc(d->choices, cap * sizeof *c);
            if (!c)
                return dictionary_fail(err, path, 0, "out of memory", NULL);
            d->choices = c;
            d->cap = cap;
        }
        d->choices[d->n++] = (struct anketa_choice){value, label};
    }
    if (d->n == 0)
        return dictionary_fail(err, path, 0, "has no rows below its first", NULL);
    return 0;
}

static int dictionary_check(const struct anketa_qtype_question *q, void **state,
                            const struct anketa_choice **choices, size_t *nchoices, size_t *bad,
                            char err[ANKETA_ERR_MAX])
{
    const char *file = NULL;
    for (size_t i = 0; i < q->noptions; i++) {
        if (strcmp(q->options[i].key, "file") != 0) {
            *bad = i;
            snprintf(err, ANKETA_ERR_MAX, "unknown option \"%s\" (x-dictionary takes: file)",
                     q->options[i].key);
            return -1;
        }
        file = q->options[i].value;
        *bad = i;
    }
    if (!file) {
        snprintf(err, ANKETA_ERR_MAX, "x-dictionary needs options: {file: NAME.csv}");
        return -1;
    }
    if (!*file || strchr(file, '/') || strcmp(file, "..") == 0 || file[0] == '.') {
        snprintf(err, ANKETA_ERR_MAX,
                 "\"%s\": give the name of a file beside the questionnaire, not a path", file);
        return -1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", q->survey_dir, file);
    struct dictionary *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, ANKETA_ERR_MAX, "out of memory");
        return -1;
    }
    if (!(d->text = dictionary_slurp(path))) {
        snprintf(err, ANKETA_ERR_MAX, "%.120s: cannot read the dictionary: %s", path,
                 errno == EILSEQ ? "it holds a NUL byte; is it a CSV file?" : strerror(errno));
        dictionary_free(d);
        return -1;
    }
    if (dictionary_parse(d, path, err) < 0) {
        dictionary_free(d);
        return -1;
    }
    *state = d;
    *choices = d->choices;
    *nchoices = d->n;
    return 0;
}

static const struct anketa_qtype dictionary_types[] = {{
    .name = "x-dictionary",
    .check = dictionary_check,
    .free = dictionary_free,
}};

static const struct anketa_plugin dictionary_plugin = {
    .abi = ANKETA_PLUGIN_ABI,
    .struct_size = sizeof(struct anketa_plugin),
    .name = "dictionary",
    .version = "1.0",
    .qtypes = dictionary_types,
    .nqtypes = 1,
};

const struct anketa_plugin *anketa_plugin_entry(void)
{
    return &dictionary_plugin;
}
