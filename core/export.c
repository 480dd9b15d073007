/*
 * export: the downloadable tables and their formats. Owns the writers (CSV, CSV for Excel,
 * JSON, NDJSON, and the bridge to plugins' exporters), the pseudonyms of participants in exports,
 * and the three tables (responses, participants, indicator values) built from the store's row
 * walks. See export.h and docs/exports.md.
 */
#include "export.h"

#include "form.h"
#include "arena.h"
#include "err.h"
#include "plugin.h"
#include "registry.h"
#include "report.h"
#include "store.h"
#include "survey.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXPORT_BUF_SIZE 65536

int export_sink_file(void *ctx, const void *p, size_t n)
{
    return fwrite(p, 1, n, ctx) == n ? 0 : -1;
}

static const struct {
    const char *name, *mime, *ext;
} export_formats[EXPORT_NBUILTIN] = {
    [EXPORT_CSV] = {"csv", "text/csv; charset=utf-8", "csv"},
    [EXPORT_CSV_EXCEL] = {"csv-excel", "text/csv; charset=utf-8", "csv"},
    [EXPORT_JSON] = {"json", "application/json", "json"},
    [EXPORT_NDJSON] = {"ndjson", "application/x-ndjson", "ndjson"},
};

int export_format_builtin(const char *name)
{
    for (size_t i = 0; name && i < EXPORT_NBUILTIN; i++)
        if (strcmp(name, export_formats[i].name) == 0)
            return 1;
    return 0;
}

int export_format_parse(const char *name, enum export_format *out)
{
    for (size_t i = 0; name && i < EXPORT_NBUILTIN; i++)
        if (strcmp(name, export_formats[i].name) == 0) {
            *out = (enum export_format)i;
            return 0;
        }
    const struct anketa_exporter *x;
    for (size_t i = 0; name && (x = plugin_exporter_at(i)); i++)
        if (strcmp(name, x->format) == 0) {
            *out = (enum export_format)(EXPORT_PLUGIN + i);
            return 0;
        }
    return -1;
}

void export_format_list(char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < EXPORT_NBUILTIN && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%s", i ? ", " : "",
                                 export_formats[i].name);
    const struct anketa_exporter *x;
    for (size_t i = 0; (x = plugin_exporter_at(i)) && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, ", %s", x->format);
}

/* The exporter of a plugin format, or NULL for the core's own. */
static const struct anketa_exporter *export_plugin_of(enum export_format f)
{
    return f >= EXPORT_PLUGIN ? plugin_exporter_at((size_t)(f - EXPORT_PLUGIN)) : NULL;
}

const char *export_format_name(enum export_format f)
{
    const struct anketa_exporter *x = export_plugin_of(f);
    return x ? x->format : f < EXPORT_NBUILTIN ? export_formats[f].name : "?";
}

const char *export_format_mime(enum export_format f)
{
    const struct anketa_exporter *x = export_plugin_of(f);
    return x ? x->mime : f < EXPORT_NBUILTIN ? export_formats[f].mime : "application/octet-stream";
}

const char *export_format_ext(enum export_format f)
{
    const struct anketa_exporter *x = export_plugin_of(f);
    return x ? x->ext : f < EXPORT_NBUILTIN ? export_formats[f].ext : "bin";
}

int export_format_binary(enum export_format f)
{
    const struct anketa_exporter *x = export_plugin_of(f);
    return x && (x->flags & ANKETA_EXPORT_BINARY);
}

static const char *const export_tables[] = {
    [EXPORT_RESPONSES] = "responses",
    [EXPORT_PARTICIPANTS] = "participants",
    [EXPORT_INDICATORS] = "indicators",
    [EXPORT_FEDERAL] = "federal",
};

#define EXPORT_NTABLES (sizeof export_tables / sizeof export_tables[0])

int export_table_parse(const char *name, enum export_table *out)
{
    for (size_t i = 0; name && i < EXPORT_NTABLES; i++)
        if (strcmp(name, export_tables[i]) == 0) {
            *out = (enum export_table)i;
            return 0;
        }
    return -1;
}

const char *export_table_name(enum export_table t)
{
    return export_tables[t];
}

/* ---- The writers ---- */

struct export_writer {
    enum export_format fmt;
    struct export_sink sink;
    const struct export_column *cols;
    size_t ncols;
    char **keys; /* JSON: each column's name as an escaped key with its colon */
    char *buf;   /* output waiting for the sink */
    size_t len;
    int failed; /* the sink refused: nothing more is sent */
    long rows;
    uint64_t bytes;
    const struct anketa_exporter *px; /* a plugin's format: its exporter and state */
    void *pstate;
    int popen; /* open succeeded: close is owed */
    struct anketa_export_column *pcols;
    struct anketa_export_value *pvals; /* one row, in the ABI's struct */
};

static void export_flush(struct export_writer *w)
{
    if (w->len && !w->failed) {
        if (w->sink.write(w->sink.ctx, w->buf, w->len) != 0)
            w->failed = 1;
        else
            w->bytes += w->len;
    }
    w->len = 0;
}

static void export_put(struct export_writer *w, const void *p, size_t n)
{
    if (w->failed)
        return;
    if (n > EXPORT_BUF_SIZE - w->len)
        export_flush(w);
    if (w->failed)
        return;
    if (n >= EXPORT_BUF_SIZE) {
        if (w->sink.write(w->sink.ctx, p, n) != 0)
            w->failed = 1;
        else
            w->bytes += n;
        return;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void export_puts(struct export_writer *w, const char *s)
{
    export_put(w, s, strlen(s));
}

static void export_putc(struct export_writer *w, char c)
{
    if (w->len == EXPORT_BUF_SIZE)
        export_flush(w);
    if (!w->failed)
        w->buf[w->len++] = c;
}

static int export_sink_failed(struct err *e)
{
    return err_set(e, NULL, 0, 0, "the output could not be written (%s)",
                   errno ? strerror(errno) : "the receiver stopped");
}

/* Whether a text cell would start a formula in a spreadsheet. */
static int export_formula_like(const char *s)
{
    return s[0] && strchr("=+-@\t\r", s[0]) != NULL;
}

/* A plain decimal as answers are stored, and as JSON accepts it: -?(0|[1-9][0-9]*)(.[0-9]+)? */
static int export_decimal(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (*s >= '0' && *s <= '9')
            s++;
    else
        return 0;
    if (*s == '.') {
        s++;
        if (!(*s >= '0' && *s <= '9'))
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

/* A number as text: whole numbers without a decimal point (and never "-0"), others with 15
 * significant digits. 0 when it is not finite (an empty cell). */
static size_t export_format_num(double v, char out[32])
{
    if (!isfinite(v))
        return 0;
    if (fabs(v) < 1e15 && v == floor(v)) { /* ids, counts, years: without printf */
        char digits[20];
        size_t n = 0, o = 0;
        unsigned long long u = (unsigned long long)fabs(v);
        do
            digits[n++] = (char)('0' + u % 10);
        while ((u /= 10) > 0);
        if (v < 0)
            out[o++] = '-';
        while (n)
            out[o++] = digits[--n];
        return o;
    }
    int n = snprintf(out, 32, "%.15g", v);
    return n > 0 && n < 32 ? (size_t)n : 0;
}

/* What a cell holds once its column's type is applied. */
enum export_kind { EXPORT_EMPTY, EXPORT_NUM_TEXT, EXPORT_NUM, EXPORT_STR, EXPORT_RAW_JSON };

static enum export_kind export_kind_of(const struct export_column *c, const struct export_value *v)
{
    if (v->has_num)
        return isfinite(v->num) ? EXPORT_NUM : EXPORT_EMPTY;
    if (!v->text)
        return EXPORT_EMPTY;
    if (c->type == EXPORT_COL_NUMBER && export_decimal(v->text))
        return EXPORT_NUM_TEXT;
    return c->type == EXPORT_COL_JSON ? EXPORT_RAW_JSON : EXPORT_STR;
}

/* CSV */

static char export_csv_delim(const struct export_writer *w)
{
    return w->fmt == EXPORT_CSV_EXCEL ? ';' : ',';
}

/* A text field, quoted (RFC 4180) when it holds the separator, a quote or a line break. */
static void export_csv_text(struct export_writer *w, const char *s)
{
    char special[] = {export_csv_delim(w), '"', '\r', '\n', '\0'};
    int quote = s[strcspn(s, special)] != '\0';
    if (quote)
        export_putc(w, '"');
    if (export_formula_like(s))
        export_putc(w, '\'');
    if (quote)
        for (const char *q; (q = strchr(s, '"')); s = q + 1) {
            export_put(w, s, (size_t)(q - s) + 1);
            export_putc(w, '"');
        }
    export_puts(w, s);
    if (quote)
        export_putc(w, '"');
}

/* A number in CSV: with a decimal comma for Excel in a Russian locale. */
static void export_csv_num(struct export_writer *w, const char *s, size_t n)
{
    if (w->fmt != EXPORT_CSV_EXCEL) {
        export_put(w, s, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        export_putc(w, s[i] == '.' ? ',' : s[i]);
}

static void export_csv_row(struct export_writer *w, const struct export_value *vals)
{
    char num[32];
    for (size_t i = 0; i < w->ncols; i++) {
        if (i)
            export_putc(w, export_csv_delim(w));
        switch (export_kind_of(&w->cols[i], &vals[i])) {
        case EXPORT_EMPTY: break;
        case EXPORT_NUM: export_csv_num(w, num, export_format_num(vals[i].num, num)); break;
        case EXPORT_NUM_TEXT: export_csv_num(w, vals[i].text, strlen(vals[i].text)); break;
        case EXPORT_STR:
        case EXPORT_RAW_JSON: export_csv_text(w, vals[i].text); break;
        }
    }
    export_put(w, "\r\n", 2);
}

static void export_csv_header(struct export_writer *w)
{
    export_put(w, "\xEF\xBB\xBF", 3);
    for (size_t i = 0; i < w->ncols; i++) {
        if (i)
            export_putc(w, export_csv_delim(w));
        export_csv_text(w, w->cols[i].name);
    }
    export_put(w, "\r\n", 2);
}

/* JSON */

static void export_json_string(struct export_writer *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s, *run = p;
    export_putc(w, '"');
    while (*p) {
        unsigned char c = *p;
        /* 4: the longest sequence; a NUL ends a cut one before anything past it is read. */
        size_t n = c >= 0x80 ? form_utf8_len((const char *)p, 4) : 1;
        if (n > 1 || (n == 1 && c >= 0x20 && c != '"' && c != '\\')) {
            p += n;
            continue;
        }
        export_put(w, run, (size_t)(p - run));
        switch (c) {
        case '"': export_puts(w, "\\\""); break;
        case '\\': export_puts(w, "\\\\"); break;
        case '\n': export_puts(w, "\\n"); break;
        case '\r': export_puts(w, "\\r"); break;
        case '\t': export_puts(w, "\\t"); break;
        default:
            if (c >= 0x80) { /* not UTF-8: the replacement character */
                export_puts(w, "\\ufffd");
            } else {
                char u[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                export_put(w, u, sizeof u);
            }
        }
        run = ++p;
    }
    export_put(w, run, (size_t)(p - run));
    export_putc(w, '"');
}

/* Whether s is one JSON value (a multiple choice as stored). */
static int export_json_valid(const char *s)
{
    json_t *j = json_loads(s, JSON_DECODE_ANY, NULL);
    json_decref(j);
    return j != NULL;
}

static void export_json_row(struct export_writer *w, const struct export_value *vals)
{
    char num[32];
    if (w->fmt == EXPORT_JSON)
        export_puts(w, w->rows ? ",\n" : "\n");
    export_putc(w, '{');
    for (size_t i = 0; i < w->ncols; i++) {
        if (i)
            export_putc(w, ',');
        export_puts(w, w->keys[i]);
        switch (export_kind_of(&w->cols[i], &vals[i])) {
        case EXPORT_EMPTY: export_puts(w, "null"); break;
        case EXPORT_NUM: export_put(w, num, export_format_num(vals[i].num, num)); break;
        case EXPORT_NUM_TEXT: export_puts(w, vals[i].text); break;
        case EXPORT_RAW_JSON:
            if (export_json_valid(vals[i].text))
                export_puts(w, vals[i].text);
            else
                export_json_string(w, vals[i].text);
            break;
        case EXPORT_STR: export_json_string(w, vals[i].text); break;
        }
    }
    export_putc(w, '}');
    if (w->fmt == EXPORT_NDJSON)
        export_putc(w, '\n');
}

/*
 * Each column's name as a JSON key ("name":), made once for every row. Nothing has been
 * written yet, so the escaper works in the empty output buffer, which a name of bounded
 * length cannot overflow, and the key is moved out of it.
 */
static int export_json_keys(struct export_writer *w, struct err *e)
{
    if (!(w->keys = calloc(w->ncols ? w->ncols : 1, sizeof *w->keys)))
        return err_set(e, NULL, 0, 0, "export: out of memory");
    for (size_t i = 0; i < w->ncols; i++) {
        if (6 * strlen(w->cols[i].name) + 3 >= EXPORT_BUF_SIZE) /* escaped, quotes, colon */
            return err_set(e, NULL, 0, 0, "export: a column name is too long");
        export_json_string(w, w->cols[i].name);
        export_putc(w, ':');
        w->keys[i] = strndup(w->buf, w->len);
        w->len = 0;
        if (!w->keys[i])
            return err_set(e, NULL, 0, 0, "export: out of memory");
    }
    return 0;
}

/* A plugin's format */

/* The plugin's writes go through here: counted, and stopped once the sink refused. */
static int export_plugin_write(void *ctx, const void *p, size_t n)
{
    struct export_writer *w = ctx;
    if (w->failed)
        return -1;
    if (n && w->sink.write(w->sink.ctx, p, n) != 0) {
        w->failed = 1;
        return -1;
    }
    w->bytes += n;
    return 0;
}

static int export_plugin_fail(struct export_writer *w, const char *what, const char *why,
                              struct err *e)
{
    if (w->failed)
        return export_sink_failed(e);
    return err_set(e, NULL, 0, 0, "export: %s %s: %s", w->px->format, what,
                   why[0] ? why : "(no reason given)");
}

static int export_plugin_open(struct export_writer *w, const struct export_options *opt,
                              struct err *e)
{
    w->pcols = calloc(w->ncols ? w->ncols : 1, sizeof *w->pcols);
    w->pvals = calloc(w->ncols ? w->ncols : 1, sizeof *w->pvals);
    if (!w->pcols || !w->pvals)
        return err_set(e, NULL, 0, 0, "export: out of memory");
    for (size_t i = 0; i < w->ncols; i++)
        w->pcols[i] = (struct anketa_export_column){
            w->cols[i].name, w->cols[i].type == EXPORT_COL_NUMBER ? ANKETA_COL_NUMBER
                             : w->cols[i].type == EXPORT_COL_JSON ? ANKETA_COL_JSON
                                                                  : ANKETA_COL_TEXT};
    struct anketa_export_target t = {
        .size = sizeof t,
        .cols = w->pcols,
        .ncols = w->ncols,
        .sheet = opt && opt->sheet ? opt->sheet : "export",
        .tmpdir = opt && opt->tmpdir ? opt->tmpdir : "/tmp",
        .write = export_plugin_write,
        .ctx = w,
    };
    char why[ANKETA_ERR_MAX] = "";
    if (w->px->open(&t, &w->pstate, why) != 0) {
        /* close frees what a failed open left behind too. */
        w->popen = 1;
        return export_plugin_fail(w, "cannot start", why, e);
    }
    w->popen = 1;
    return 0;
}

static int export_plugin_row(struct export_writer *w, const struct export_value *vals,
                             struct err *e)
{
    for (size_t i = 0; i < w->ncols; i++)
        w->pvals[i] = (struct anketa_export_value){vals[i].text, vals[i].num, vals[i].has_num};
    char why[ANKETA_ERR_MAX] = "";
    if (w->px->row(w->pstate, w->pvals, why) != 0)
        return export_plugin_fail(w, "cannot write a row", why, e);
    return 0;
}

static int export_plugin_finish(struct export_writer *w, struct err *e)
{
    char why[ANKETA_ERR_MAX] = "";
    if (w->px->finish(w->pstate, why) != 0)
        return export_plugin_fail(w, "cannot finish", why, e);
    return w->failed ? export_sink_failed(e) : 0;
}

int export_writer_new(enum export_format f, const struct export_sink *sink,
                      const struct export_column *cols, size_t ncols,
                      const struct export_options *opt, struct export_writer **out, struct err *e)
{
    *out = NULL;
    const struct anketa_exporter *px = export_plugin_of(f);
    if ((size_t)f >= EXPORT_NBUILTIN && !px)
        return err_set(e, NULL, 0, 0, "export: unknown format");
    struct export_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->buf = malloc(EXPORT_BUF_SIZE))) {
        free(w);
        return err_set(e, NULL, 0, 0, "export: out of memory");
    }
    w->fmt = f;
    w->px = px;
    w->sink = *sink;
    w->cols = cols;
    w->ncols = ncols;
    errno = 0;
    int rc = 0;
    if (px)
        rc = export_plugin_open(w, opt, e);
    else if (f == EXPORT_CSV || f == EXPORT_CSV_EXCEL)
        export_csv_header(w);
    else if ((rc = export_json_keys(w, e)) == 0 && f == EXPORT_JSON)
        export_putc(w, '[');
    if (rc == 0 && w->failed)
        rc = export_sink_failed(e);
    if (rc < 0) {
        export_writer_free(w);
        return -1;
    }
    *out = w;
    return 0;
}

int export_writer_row(struct export_writer *w, const struct export_value *vals, struct err *e)
{
    errno = 0;
    if (w->px) {
        if (export_plugin_row(w, vals, e) < 0)
            return -1;
    } else if (w->fmt == EXPORT_CSV || w->fmt == EXPORT_CSV_EXCEL) {
        export_csv_row(w, vals);
    } else {
        export_json_row(w, vals);
    }
    if (w->failed)
        return export_sink_failed(e);
    w->rows++;
    return 0;
}

int export_writer_finish(struct export_writer *w, struct err *e)
{
    errno = 0;
    if (w->px)
        return export_plugin_finish(w, e);
    if (w->fmt == EXPORT_JSON)
        export_puts(w, w->rows ? "\n]\n" : "]\n");
    export_flush(w);
    return w->failed ? export_sink_failed(e) : 0;
}

void export_writer_free(struct export_writer *w)
{
    if (!w)
        return;
    if (w->popen)
        w->px->close(w->pstate);
    for (size_t i = 0; w->keys && i < w->ncols; i++)
        free(w->keys[i]);
    free(w->keys);
    free(w->pcols);
    free(w->pvals);
    free(w->buf);
    free(w);
}

long export_writer_rows(const struct export_writer *w)
{
    return w->rows;
}

uint64_t export_writer_bytes(const struct export_writer *w)
{
    return w->bytes;
}

/* ---- The tables ---- */

/* HMAC-SHA-256 keyed with the secret, with the prefix that sets pseudonyms apart from the
 * CSRF and session values made with the same secret already absorbed. */
static void export_pseudonym_prepare(const unsigned char key[32], crypto_auth_hmacsha256_state *h)
{
    crypto_auth_hmacsha256_init(h, key, 32);
    crypto_auth_hmacsha256_update(h, (const unsigned char *)"pseudonym|", 10);
}

/*
 * Base32 (A-Z, 2-7), not base64: spreadsheets compare text without case, and a value starting
 * with '-' would be taken for a formula. The prepared state is copied, so the key is not
 * hashed again for every row.
 */
static void export_pseudonym_of(const crypto_auth_hmacsha256_state *prepared, const char *code,
                                char out[EXPORT_PSEUDONYM_LEN + 1])
{
    static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state h = *prepared;
    crypto_auth_hmacsha256_update(&h, (const unsigned char *)code, strlen(code));
    crypto_auth_hmacsha256_final(&h, mac);
    /* 16 characters of 5 bits: the first 80 bits of the MAC. */
    for (size_t i = 0; i < EXPORT_PSEUDONYM_LEN; i++) {
        size_t bit = i * 5, byte = bit / 8, shift = bit % 8;
        unsigned v = ((unsigned)mac[byte] << 8 | mac[byte + 1]) >> (11 - shift);
        out[i] = b32[v & 31];
    }
    out[EXPORT_PSEUDONYM_LEN] = '\0';
}

void export_pseudonym(const unsigned char key[32], const char *code,
                      char out[EXPORT_PSEUDONYM_LEN + 1])
{
    crypto_auth_hmacsha256_state h;
    export_pseudonym_prepare(key, &h);
    export_pseudonym_of(&h, code, out);
    sodium_memzero(&h, sizeof h);
}

/* A question or scale id of a survey and the column it fills. */
struct export_key {
    const char *id;
    size_t col;
};

struct export_survey {
    const char *id;
    const struct survey *def; /* NULL: no definition loaded, no answer columns */
    struct export_key *answers, *scales;
    size_t nanswers, nscales;
};

/* What the walk of a table shares with its row callback. */
struct export_ctx {
    struct arena *a;
    struct export_writer *w;
    struct export_column *cols;
    size_t ncols, cap;
    struct export_value *vals;
    crypto_auth_hmacsha256_state pseudonyms; /* the secret, ready (export_pseudonym_prepare) */
    int identified;
    int failed; /* the writer failed: e holds why */
    struct err *e;
    struct export_survey *surveys; /* responses: the surveys of the table */
    size_t nsurveys, last;
};

static int export_add_col(struct export_ctx *c, const char *name, enum export_type type)
{
    if (c->ncols == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 32;
        struct export_column *v =
            arena_realloc(c->a, c->cols, c->cap * sizeof *v, ncap * sizeof *v);
        if (!v)
            return -1;
        c->cols = v;
        c->cap = ncap;
    }
    c->cols[c->ncols++] = (struct export_column){name, type};
    return 0;
}

static int export_key_cmp(const void *a, const void *b)
{
    return strcmp(((const struct export_key *)a)->id, ((const struct export_key *)b)->id);
}

static size_t export_key_find(const struct export_key *keys, size_t n, const char *id)
{
    struct export_key probe = {.id = id};
    if (!n)
        return (size_t)-1;
    const struct export_key *k = bsearch(&probe, keys, n, sizeof *keys, export_key_cmp);
    return k ? k->col : (size_t)-1;
}

/* The column of one answer: "<id>", or "<survey>:<id>" when several surveys share the table. */
static int export_answer_col(struct export_ctx *c, struct export_survey *sv, const char *id,
                             enum export_type type, int prefix)
{
    const char *name = prefix ? arena_printf(c->a, "%s:%s", sv->id, id) : id;
    if (!name)
        return -1;
    sv->answers[sv->nanswers++] = (struct export_key){id, c->ncols};
    return export_add_col(c, name, type);
}

static enum export_type export_question_type(const struct question *q)
{
    if (survey_is_numeric(q))
        return EXPORT_COL_NUMBER;
    return q->type == Q_MULTIPLE || q->type == Q_RANKING ? EXPORT_COL_JSON : EXPORT_COL_TEXT;
}

/* The answer and score columns of one survey, in the order of its definition. */
static int export_survey_cols(struct export_ctx *c, struct export_survey *sv, int prefix)
{
    const struct survey *s = sv->def;
    size_t max = 0;
    for (size_t i = 0; i < s->nquestions; i++)
        max += 1 + s->questions[i].nitems + (s->questions[i].other_text != NULL);
    sv->answers = arena_calloc(c->a, max ? max : 1, sizeof *sv->answers);
    sv->scales = arena_calloc(c->a, s->nscales ? s->nscales : 1, sizeof *sv->scales);
    if (!sv->answers || !sv->scales)
        return -1;
    for (size_t i = 0; i < s->nquestions; i++) {
        const struct question *q = &s->questions[i];
        if (q->type == Q_NOTE)
            continue;
        if (q->type == Q_MATRIX) {
            for (size_t k = 0; k < q->nitems; k++)
                if (export_answer_col(c, sv, q->items[k].id, export_question_type(&q->items[k]),
                                      prefix) < 0)
                    return -1;
            continue;
        }
        if (export_answer_col(c, sv, q->id, export_question_type(q), prefix) < 0)
            return -1;
        if (q->other_text &&
            export_answer_col(c, sv, q->other_text->id, EXPORT_COL_TEXT, prefix) < 0)
            return -1;
    }
    for (size_t i = 0; i < s->nscales; i++) {
        const char *name = prefix ? arena_printf(c->a, "%s:scale:%s", sv->id, s->scales[i].id)
                                  : arena_printf(c->a, "scale:%s", s->scales[i].id);
        if (!name)
            return -1;
        sv->scales[sv->nscales++] = (struct export_key){s->scales[i].id, c->ncols};
        if (export_add_col(c, name, EXPORT_COL_NUMBER) < 0)
            return -1;
    }
    qsort(sv->answers, sv->nanswers, sizeof *sv->answers, export_key_cmp);
    qsort(sv->scales, sv->nscales, sizeof *sv->scales, export_key_cmp);
    return 0;
}

enum {
    EXP_R_ID,
    EXP_R_PARTICIPANT,
    EXP_R_ORG_CODE,
    EXP_R_ORG_NAME,
    EXP_R_MUNICIPALITY,
    EXP_R_FORM,
    EXP_R_SURVEY,
    EXP_R_VERSION,
    EXP_R_HASH,
    EXP_R_SUBMITTED,
    EXP_R_FIXED
};

static const struct export_column export_response_cols[EXP_R_FIXED] = {
    {"response_id", EXPORT_COL_NUMBER}, {"participant_key", EXPORT_COL_TEXT},
    {"org_code", EXPORT_COL_TEXT},      {"org_name", EXPORT_COL_TEXT},
    {"municipality", EXPORT_COL_TEXT},  {"form", EXPORT_COL_TEXT},
    {"survey_id", EXPORT_COL_TEXT},     {"survey_version", EXPORT_COL_NUMBER},
    {"survey_hash", EXPORT_COL_TEXT},   {"submitted_at", EXPORT_COL_TEXT},
};

static int export_response_row(void *ctx, const struct store_export_response *row)
{
    struct export_ctx *c = ctx;
    struct export_value *v = c->vals;
    memset(v, 0, c->ncols * sizeof *v);
    char pseudonym[EXPORT_PSEUDONYM_LEN + 1];
    if (!c->identified && row->participant_code)
        export_pseudonym_of(&c->pseudonyms, row->participant_code, pseudonym);
    v[EXP_R_ID] = (struct export_value){.num = (double)row->id, .has_num = 1};
    v[EXP_R_PARTICIPANT].text =
        c->identified || !row->participant_code ? row->participant_code : pseudonym;
    v[EXP_R_ORG_CODE].text = row->org_code;
    v[EXP_R_ORG_NAME].text = row->org_name;
    v[EXP_R_MUNICIPALITY].text = row->municipality;
    v[EXP_R_FORM].text = row->form;
    v[EXP_R_SURVEY].text = row->survey_id;
    v[EXP_R_VERSION] = (struct export_value){.num = (double)row->survey_version, .has_num = 1};
    v[EXP_R_HASH].text = row->survey_hash;
    v[EXP_R_SUBMITTED].text = row->submitted_at;
    if (c->last >= c->nsurveys || strcmp(c->surveys[c->last].id, row->survey_id) != 0)
        for (c->last = 0; c->last < c->nsurveys; c->last++)
            if (strcmp(c->surveys[c->last].id, row->survey_id) == 0)
                break;
    if (c->last < c->nsurveys) {
        const struct export_survey *sv = &c->surveys[c->last];
        for (size_t i = 0; i < row->nanswers; i++) {
            size_t col = export_key_find(sv->answers, sv->nanswers, row->answers[i].id);
            if (col != (size_t)-1)
                v[col].text = row->answers[i].value;
        }
        for (size_t i = 0; i < row->nscores; i++) {
            size_t col = export_key_find(sv->scales, sv->nscales, row->scores[i].id);
            if (col != (size_t)-1)
                v[col] = (struct export_value){.num = row->scores[i].value, .has_num = 1};
        }
    }
    if (export_writer_row(c->w, v, c->e) < 0) {
        c->failed = 1;
        return 1;
    }
    return 0;
}

/* The columns of responses: the fixed ones, then each survey's answers and scores. */
static int export_response_cols_build(struct export_ctx *c, struct store *st,
                                      const struct survey_set *set, const struct export_request *rq,
                                      const struct store_export_scope *sc,
                                      struct export_result *res, struct err *e)
{
    for (size_t i = 0; i < EXP_R_FIXED; i++) {
        struct export_column col = export_response_cols[i];
        if (i == EXP_R_PARTICIPANT && rq->identified)
            col.name = "participant_code";
        if (export_add_col(c, col.name, col.type) < 0)
            return err_set(e, NULL, 0, 0, "export: out of memory");
    }
    const char **ids;
    size_t n;
    const char *one[1] = {rq->survey_id};
    if (rq->survey_id) {
        ids = one;
        n = 1;
    } else if (store_export_surveys(st, c->a, sc, &ids, &n, e) != STORE_OK) {
        return EXPORT_ERROR;
    }
    if (!(c->surveys = arena_calloc(c->a, n ? n : 1, sizeof *c->surveys)))
        return err_set(e, NULL, 0, 0, "export: out of memory");
    c->nsurveys = n;
    for (size_t i = 0; i < n; i++) {
        struct export_survey *sv = &c->surveys[i];
        sv->id = ids[i];
        sv->def = set ? survey_set_find(set, ids[i]) : NULL;
        if (!sv->def) {
            if (res->unknown_surveys++ == 0)
                snprintf(res->unknown_survey, sizeof res->unknown_survey, "%s", ids[i]);
            continue;
        }
        if (export_survey_cols(c, sv, n > 1) < 0)
            return err_set(e, NULL, 0, 0, "export: out of memory");
    }
    return EXPORT_OK;
}

enum {
    EXP_P_PARTICIPANT,
    EXP_P_NAME,
    EXP_P_ORG_CODE,
    EXP_P_ORG_NAME,
    EXP_P_MUNICIPALITY,
    EXP_P_PROGRAMME,
    EXP_P_FORM,
    EXP_P_ROLE,
    EXP_P_KIND,
    EXP_P_BIRTH_YEAR,
    EXP_P_EXPERIENCE,
    EXP_P_CONSENT_DATE,
    EXP_P_CONSENT_SCOPE,
    EXP_P_CONSENT_BY,
    EXP_P_RESPONSES,
    EXP_P_COUNT
};

static const struct export_column export_participant_cols[EXP_P_COUNT] = {
    {"participant_key", EXPORT_COL_TEXT},
    {"name", EXPORT_COL_TEXT},
    {"org_code", EXPORT_COL_TEXT},
    {"org_name", EXPORT_COL_TEXT},
    {"municipality", EXPORT_COL_TEXT},
    {"programme_code", EXPORT_COL_TEXT},
    {"form", EXPORT_COL_TEXT},
    {"role", EXPORT_COL_TEXT},
    {"kind", EXPORT_COL_TEXT},
    {"birth_year", EXPORT_COL_NUMBER},
    {"experience_years", EXPORT_COL_NUMBER},
    {"consent_date", EXPORT_COL_TEXT},
    {"consent_scope", EXPORT_COL_TEXT},
    {"consent_by", EXPORT_COL_TEXT},
    {"responses", EXPORT_COL_NUMBER},
};

/* Without --identified: no name, and nothing of who recorded the consent or what it says. */
static int export_participant_col_shown(size_t i, int identified)
{
    return identified || (i != EXP_P_NAME && i != EXP_P_CONSENT_SCOPE && i != EXP_P_CONSENT_BY);
}

static int export_participant_row(void *ctx, const struct store_export_participant *row)
{
    struct export_ctx *c = ctx;
    struct export_value all[EXP_P_COUNT];
    memset(all, 0, sizeof all);
    char pseudonym[EXPORT_PSEUDONYM_LEN + 1];
    if (!c->identified && row->code)
        export_pseudonym_of(&c->pseudonyms, row->code, pseudonym);
    all[EXP_P_PARTICIPANT].text = c->identified || !row->code ? row->code : pseudonym;
    all[EXP_P_NAME].text = row->name;
    all[EXP_P_ORG_CODE].text = row->org_code;
    all[EXP_P_ORG_NAME].text = row->org_name;
    all[EXP_P_MUNICIPALITY].text = row->municipality;
    all[EXP_P_PROGRAMME].text = row->programme_code;
    all[EXP_P_FORM].text = row->form;
    all[EXP_P_ROLE].text = row->role;
    all[EXP_P_KIND].text = row->kind;
    if (row->birth_year)
        all[EXP_P_BIRTH_YEAR] = (struct export_value){.num = row->birth_year, .has_num = 1};
    if (row->experience_years >= 0)
        all[EXP_P_EXPERIENCE] = (struct export_value){.num = row->experience_years, .has_num = 1};
    all[EXP_P_CONSENT_DATE].text = row->consent_date;
    all[EXP_P_CONSENT_SCOPE].text = row->consent_scope;
    all[EXP_P_CONSENT_BY].text = row->consent_by;
    all[EXP_P_RESPONSES] = (struct export_value){.num = (double)row->responses, .has_num = 1};
    size_t n = 0;
    for (size_t i = 0; i < EXP_P_COUNT; i++)
        if (export_participant_col_shown(i, c->identified))
            c->vals[n++] = all[i];
    if (export_writer_row(c->w, c->vals, c->e) < 0) {
        c->failed = 1;
        return 1;
    }
    return 0;
}

static int export_participant_cols_build(struct export_ctx *c, int identified, struct err *e)
{
    for (size_t i = 0; i < EXP_P_COUNT; i++) {
        if (!export_participant_col_shown(i, identified))
            continue;
        struct export_column col = export_participant_cols[i];
        if (i == EXP_P_PARTICIPANT && identified)
            col.name = "participant_code";
        if (export_add_col(c, col.name, col.type) < 0)
            return err_set(e, NULL, 0, 0, "export: out of memory");
    }
    return EXPORT_OK;
}

static const struct export_column export_indicator_cols[] = {
    {"indicator", EXPORT_COL_TEXT}, {"org_code", EXPORT_COL_TEXT}, {"org_name", EXPORT_COL_TEXT},
    {"level", EXPORT_COL_TEXT},     {"period", EXPORT_COL_TEXT},   {"value", EXPORT_COL_NUMBER},
    {"num", EXPORT_COL_NUMBER},     {"den", EXPORT_COL_NUMBER},    {"n", EXPORT_COL_NUMBER},
    {"target", EXPORT_COL_NUMBER},  {"error", EXPORT_COL_TEXT},    {"computed_at", EXPORT_COL_TEXT},
};

#define EXP_I_COUNT (sizeof export_indicator_cols / sizeof export_indicator_cols[0])

static struct export_value export_opt_num(int has, double v)
{
    return has ? (struct export_value){.num = v, .has_num = 1} : (struct export_value){0};
}

/* Indicator values are a few per organisation, read whole by the indicators' own query. */
static int export_indicator_rows(struct export_ctx *c, struct store *st,
                                 const struct export_request *rq, struct err *e)
{
    struct ind_value_rec *v;
    size_t n;
    if (store_ind_get_values(st, c->a, rq->region, rq->period, rq->org_code, &v, &n, e) != STORE_OK)
        return EXPORT_ERROR;
    struct org_info org = {0};
    for (size_t i = 0; i < n; i++) {
        if (!org.code || strcmp(org.code, v[i].org_code) != 0) {
            int rc = store_org_get(st, c->a, v[i].org_code, &org, e);
            if (rc == STORE_ERROR)
                return EXPORT_ERROR;
            if (rc != STORE_OK)
                org = (struct org_info){.code = v[i].org_code};
        }
        struct export_value row[EXP_I_COUNT] = {
            {.text = v[i].indicator},
            {.text = v[i].org_code},
            {.text = org.name},
            {.text = org.level},
            {.text = v[i].period},
            export_opt_num(v[i].has_value, v[i].value),
            export_opt_num(v[i].has_num, v[i].num),
            export_opt_num(v[i].has_num, v[i].den),
            export_opt_num(v[i].has_n, v[i].n),
            export_opt_num(v[i].has_target, v[i].target),
            {.text = v[i].error},
            {.text = v[i].computed_at},
        };
        if (export_writer_row(c->w, row, e) < 0)
            return EXPORT_ERROR;
    }
    return EXPORT_OK;
}

static const struct export_column export_federal_cols[] = {
    {"school_year", EXPORT_COL_TEXT}, {"org_code", EXPORT_COL_TEXT}, {"form", EXPORT_COL_TEXT},
    {"role", EXPORT_COL_TEXT},        {"age_band", EXPORT_COL_TEXT}, {"count", EXPORT_COL_NUMBER},
};

#define EXP_F_COUNT (sizeof export_federal_cols / sizeof export_federal_cols[0])

/* The federal table in long form: a row for every form, role and age band, zeros included,
 * so that a sum over any column is the table's total. */
static int export_federal_rows(struct export_ctx *c, struct store *st,
                               const struct export_request *rq, int year, struct err *e)
{
    struct report_federal f;
    if (report_federal(st, c->a, rq->org_code, year, &f, e) < 0)
        return EXPORT_ERROR;
    for (size_t i = 0; i < f.n; i++) {
        for (int b = 0; b < REPORT_NBANDS; b++) {
            struct export_value row[EXP_F_COUNT] = {
                {.text = rq->period},
                {.text = rq->org_code},
                {.text = f.rows[i].form},
                {.text = f.rows[i].role},
                {.text = report_band_name((enum report_band)b)},
                {.num = (double)f.rows[i].bands[b], .has_num = 1},
            };
            if (export_writer_row(c->w, row, e) < 0)
                return EXPORT_ERROR;
        }
    }
    return EXPORT_OK;
}

/* Checks the request and fills the scope; EXPORT_INVALID says what is wrong with it. */
static int export_check(struct store *st, const struct survey_set *surveys,
                        const struct export_request *rq, struct period *p,
                        struct store_export_scope *sc, struct err *e)
{
    if (((size_t)rq->format >= EXPORT_NBUILTIN && !export_plugin_of(rq->format)) ||
        (size_t)rq->table >= EXPORT_NTABLES) {
        err_set(e, NULL, 0, 0, "export: unknown table or format");
        return EXPORT_INVALID;
    }
    if (!rq->org_code || !*rq->org_code) {
        err_set(e, NULL, 0, 0, "an export needs an organisation (--org CODE)");
        return EXPORT_INVALID;
    }
    int rc = store_org_exists(st, rq->org_code, e);
    if (rc == STORE_ERROR)
        return EXPORT_ERROR;
    if (rc != STORE_OK) {
        err_set(e, NULL, 0, 0, "unknown organisation \"%s\"", rq->org_code);
        return EXPORT_INVALID;
    }
    if (rq->period && registry_period_parse(rq->period, p) < 0) {
        err_set(e, NULL, 0, 0,
                "\"%s\" is not a period (a school year such as 2026/27, or "
                "2026/27-H1, 2026/27-Q3)",
                rq->period);
        return EXPORT_INVALID;
    }
    if (rq->table == EXPORT_INDICATORS && (!rq->region || !*rq->region || !rq->period)) {
        err_set(e, NULL, 0, 0, "indicator values need a region (--region) and a period (--period)");
        return EXPORT_INVALID;
    }
    if (rq->table == EXPORT_FEDERAL && (!rq->period || p->kind != 'Y')) {
        err_set(e, NULL, 0, 0, "the federal table needs a school year (--period 2026/27)");
        return EXPORT_INVALID;
    }
    if (rq->table == EXPORT_RESPONSES && rq->survey_id &&
        !(surveys && survey_set_find(surveys, rq->survey_id))) {
        err_set(e, NULL, 0, 0, "unknown survey \"%s\" (no questionnaire file defines it)",
                rq->survey_id);
        return EXPORT_INVALID;
    }
    *sc = (struct store_export_scope){
        .org_code = rq->org_code,
        .survey_id = rq->survey_id,
        .starts = rq->period ? p->starts : NULL,
        .ends = rq->period ? p->ends : NULL,
        .year = rq->period ? p->year : 0,
    };
    return EXPORT_OK;
}

/* The audit entry: what was exported, never a value of it. */
static int export_audit(struct store *st, const struct export_request *rq, struct err *e)
{
    char action[32], detail[400];
    snprintf(action, sizeof action, "export.%s", export_table_name(rq->table));
    snprintf(detail, sizeof detail, "format=%s%s%s%s%s%s%s%s", export_format_name(rq->format),
             rq->survey_id ? " survey=" : "", rq->survey_id ? rq->survey_id : "",
             rq->period ? " period=" : "", rq->period ? rq->period : "",
             rq->table == EXPORT_INDICATORS ? " region=" : "",
             rq->table == EXPORT_INDICATORS ? rq->region : "", rq->identified ? " identified" : "");
    return store_audit(st, rq->user_id, action, rq->org_code, detail, e) == STORE_OK ? EXPORT_OK
                                                                                     : EXPORT_ERROR;
}

int export_run(struct store *st, const struct survey_set *surveys, const struct export_request *rq,
               const struct export_sink *sink, struct export_result *res, struct err *e)
{
    memset(res, 0, sizeof *res);
    struct period p;
    struct store_export_scope sc;
    int rc = export_check(st, surveys, rq, &p, &sc, e);
    if (rc != EXPORT_OK)
        return rc;
    struct export_ctx c = {.identified = rq->identified, .e = e};
    if (!(c.a = arena_new()))
        return err_set(e, NULL, 0, 0, "export: out of memory");
    int counts = rq->table == EXPORT_INDICATORS || rq->table == EXPORT_FEDERAL;
    if (!counts && !rq->identified) {
        unsigned char key[32];
        int got = store_secret(st, key, e);
        if (got == STORE_OK)
            export_pseudonym_prepare(key, &c.pseudonyms);
        sodium_memzero(key, sizeof key);
        if (got != STORE_OK) {
            rc = EXPORT_ERROR;
            goto done;
        }
    }
    if (rq->table == EXPORT_RESPONSES)
        rc = export_response_cols_build(&c, st, surveys, rq, &sc, res, e);
    else if (rq->table == EXPORT_PARTICIPANTS)
        rc = export_participant_cols_build(&c, rq->identified, e);
    if (rc != EXPORT_OK)
        goto done;
    const struct export_column *cols = c.cols;
    size_t ncols = c.ncols;
    if (rq->table == EXPORT_INDICATORS) {
        cols = export_indicator_cols;
        ncols = EXP_I_COUNT;
    } else if (rq->table == EXPORT_FEDERAL) {
        cols = export_federal_cols;
        ncols = EXP_F_COUNT;
    }
    if (!counts && !(c.vals = arena_calloc(c.a, ncols, sizeof *c.vals))) {
        rc = err_set(e, NULL, 0, 0, "export: out of memory");
        goto done;
    }
    if (export_audit(st, rq, e) != EXPORT_OK) {
        rc = EXPORT_ERROR;
        goto done;
    }
    struct export_options opt = {.sheet = export_table_name(rq->table), .tmpdir = rq->tmpdir};
    if (export_writer_new(rq->format, sink, cols, ncols, &opt, &c.w, e) < 0) {
        rc = EXPORT_ERROR;
        goto done;
    }
    int walk;
    if (rq->table == EXPORT_RESPONSES)
        walk = store_export_responses(st, &sc, export_response_row, &c, e);
    else if (rq->table == EXPORT_PARTICIPANTS)
        walk = store_export_participants(st, &sc, export_participant_row, &c, e);
    else if (rq->table == EXPORT_FEDERAL)
        walk = export_federal_rows(&c, st, rq, p.year, e);
    else
        walk = export_indicator_rows(&c, st, rq, e);
    if (walk != STORE_OK || c.failed || export_writer_finish(c.w, e) < 0)
        rc = EXPORT_ERROR;
done:
    if (c.w) {
        res->rows = export_writer_rows(c.w);
        res->bytes = export_writer_bytes(c.w);
    }
    export_writer_free(c.w);
    arena_free(c.a);
    sodium_memzero(&c.pseudonyms, sizeof c.pseudonyms);
    return rc;
}
