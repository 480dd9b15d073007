/*
 * xlsx: the XLSX exporter, through libxlsxwriter (one worksheet, a bold frozen header row,
 * numbers as numbers). It moved out of core/export.c so the core does not link the library.
 *
 * XLSX is a zip and libxlsxwriter needs a file: the workbook is built in a temporary
 * directory (constant-memory mode) and copied to the host's sink when it is finished. Text
 * cells that start with = + - @, a tab or a carriage return get a leading apostrophe, so a
 * spreadsheet never runs an answer as a formula (docs/exports.md).
 */
#include "plugin_api.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xlsxwriter.h>

#define XLSX_CHAR     32767    /* characters in one cell */
#define XLSX_MAX_ROWS 1048575L /* rows below the header row */
#define XLSX_BUF      65536

struct xlsx {
    struct anketa_export_target t;
    lxw_workbook *wb;
    lxw_worksheet *ws;
    char *dir; /* the temporary directory, removed by close */
    char *path;
    char *scratch; /* a cell's text made fit for XLSX */
    size_t scratch_cap;
    long rows;
};

static int xlsx_fail(lxw_error rc, const char *what, char err[ANKETA_ERR_MAX])
{
    snprintf(err, ANKETA_ERR_MAX, "%s: %s", what, lxw_strerror(rc));
    return -1;
}

/* The length of the valid UTF-8 sequence at p (which is NUL-terminated), or 0. */
static size_t xlsx_utf8_len(const unsigned char *p)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if ((p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0))
            return 0; /* an overlong form, or a surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if ((p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

static int xlsx_formula_like(const char *s)
{
    return s[0] && strchr("=+-@\t\r", s[0]) != NULL;
}

/* A plain decimal as answers are stored: -?(0|[1-9][0-9]*)(.[0-9]+)? */
static int xlsx_decimal(const char *s)
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

/* The text of a cell: valid UTF-8 (a bad byte becomes U+FFFD), at most 32767 characters, and
 * a leading apostrophe when it looks like a formula. NULL when out of memory. */
static const char *xlsx_text(struct xlsx *x, const char *s)
{
    size_t chars = 0, len = 0;
    int clean = 1;
    for (const unsigned char *p = (const unsigned char *)s; *p; chars++) {
        size_t n = xlsx_utf8_len(p);
        if (!n) {
            clean = 0;
            n = 1;
        }
        p += n;
        len += n;
    }
    int neutralise = xlsx_formula_like(s);
    if (clean && !neutralise && chars <= XLSX_CHAR)
        return s;
    size_t need = 3 * len + 2; /* a bad byte becomes three; the apostrophe; the NUL */
    if (need > x->scratch_cap) {
        char *n = realloc(x->scratch, need);
        if (!n)
            return NULL;
        x->scratch = n;
        x->scratch_cap = need;
    }
    char *out = x->scratch;
    size_t o = 0;
    chars = 0;
    if (neutralise) {
        out[o++] = '\'';
        chars++;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p && chars < XLSX_CHAR; chars++) {
        size_t n = xlsx_utf8_len(p);
        if (n) {
            memcpy(out + o, p, n);
            o += n;
            p += n;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            p++;
        }
    }
    out[o] = '\0';
    return out;
}

static void xlsx_close(void *state)
{
    struct xlsx *x = state;
    if (!x)
        return;
    if (x->wb)
        lxw_workbook_free(x->wb);
    if (x->path)
        unlink(x->path);
    if (x->dir)
        rmdir(x->dir);
    free(x->path);
    free(x->dir);
    free(x->scratch);
    free(x);
}

static int xlsx_open(const struct anketa_export_target *t, void **state, char err[ANKETA_ERR_MAX])
{
    *state = NULL;
    if (t->ncols > LXW_COL_MAX) {
        snprintf(err, ANKETA_ERR_MAX, "an XLSX sheet holds at most %d columns", LXW_COL_MAX);
        return -1;
    }
    struct xlsx *x = calloc(1, sizeof *x);
    if (!x) {
        snprintf(err, ANKETA_ERR_MAX, "out of memory");
        return -1;
    }
    *state = x;
    /* Only the fields this plugin knows; a newer host's struct is larger, never different. */
    memcpy(&x->t, t, t->size < sizeof x->t ? t->size : sizeof x->t);
    size_t n = strlen(t->tmpdir) + sizeof "/anketa-export-XXXXXX";
    if (!(x->dir = malloc(n)) || !(x->path = malloc(n + sizeof "/export.xlsx"))) {
        snprintf(err, ANKETA_ERR_MAX, "out of memory");
        return -1;
    }
    snprintf(x->dir, n, "%s/anketa-export-XXXXXX", t->tmpdir);
    if (!mkdtemp(x->dir)) {
        snprintf(err, ANKETA_ERR_MAX, "%s: cannot make a temporary directory: %s", t->tmpdir,
                 strerror(errno));
        free(x->dir);
        x->dir = NULL;
        return -1;
    }
    snprintf(x->path, n + sizeof "/export.xlsx", "%s/export.xlsx", x->dir);
    lxw_workbook_options o = {.constant_memory = LXW_TRUE, .tmpdir = x->dir};
    if (!(x->wb = workbook_new_opt(x->path, &o))) {
        snprintf(err, ANKETA_ERR_MAX, "%s: cannot start a workbook", x->dir);
        return -1;
    }
    lxw_format *bold = workbook_add_format(x->wb);
    if (!(x->ws = workbook_add_worksheet(x->wb, t->sheet)) || !bold) {
        snprintf(err, ANKETA_ERR_MAX, "cannot add the worksheet \"%s\"", t->sheet);
        return -1;
    }
    format_set_bold(bold);
    worksheet_freeze_panes(x->ws, 1, 0);
    lxw_error rc = LXW_NO_ERROR;
    if (t->ncols)
        rc = worksheet_set_column(x->ws, 0, (lxw_col_t)(t->ncols - 1), 14, NULL);
    for (size_t i = 0; rc == LXW_NO_ERROR && i < t->ncols; i++)
        rc = worksheet_write_string(x->ws, 0, (lxw_col_t)i, t->cols[i].name, bold);
    return rc == LXW_NO_ERROR ? 0 : xlsx_fail(rc, "cannot write the header row", err);
}

static int xlsx_row(void *state, const struct anketa_export_value *vals, char err[ANKETA_ERR_MAX])
{
    struct xlsx *x = state;
    if (x->rows >= XLSX_MAX_ROWS) {
        snprintf(err, ANKETA_ERR_MAX,
                 "an XLSX sheet holds at most %ld rows: choose CSV for more, or a smaller "
                 "organisation, survey or period",
                 XLSX_MAX_ROWS);
        return -1;
    }
    lxw_row_t row = (lxw_row_t)(x->rows + 1);
    for (size_t i = 0; i < x->t.ncols; i++) {
        const struct anketa_export_value *v = &vals[i];
        lxw_error rc = LXW_NO_ERROR;
        lxw_col_t col = (lxw_col_t)i;
        if (v->has_num) {
            if (isfinite(v->num))
                rc = worksheet_write_number(x->ws, row, col, v->num, NULL);
        } else if (v->text && x->t.cols[i].type == ANKETA_COL_NUMBER && xlsx_decimal(v->text)) {
            rc = worksheet_write_number(x->ws, row, col, strtod(v->text, NULL), NULL);
        } else if (v->text) {
            const char *s = xlsx_text(x, v->text);
            if (!s) {
                snprintf(err, ANKETA_ERR_MAX, "out of memory");
                return -1;
            }
            rc = worksheet_write_string(x->ws, row, col, s, NULL);
        }
        if (rc != LXW_NO_ERROR)
            return xlsx_fail(rc, "cannot write a cell", err);
    }
    x->rows++;
    return 0;
}

/* Closes the workbook and sends its file to the sink. */
static int xlsx_finish(void *state, char err[ANKETA_ERR_MAX])
{
    struct xlsx *x = state;
    lxw_error rc = workbook_close(x->wb);
    x->wb = NULL;
    if (rc != LXW_NO_ERROR)
        return xlsx_fail(rc, "cannot finish the workbook", err);
    FILE *f = fopen(x->path, "rb");
    if (!f) {
        snprintf(err, ANKETA_ERR_MAX, "%s: cannot read the workbook: %s", x->path, strerror(errno));
        return -1;
    }
    char *buf = malloc(XLSX_BUF);
    int stopped = 0;
    size_t n;
    while (buf && !stopped && (n = fread(buf, 1, XLSX_BUF, f)) > 0)
        stopped = x->t.write(x->t.ctx, buf, n) != 0;
    int bad = !buf || ferror(f);
    free(buf);
    fclose(f);
    if (bad) {
        snprintf(err, ANKETA_ERR_MAX, "%s: cannot read the workbook", x->path);
        return -1;
    }
    if (stopped) {
        snprintf(err, ANKETA_ERR_MAX, "the receiver stopped");
        return -1;
    }
    return 0;
}

static const struct anketa_exporter xlsx_exporters[] = {{
    .format = "xlsx",
    .mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    .ext = "xlsx",
    .flags = ANKETA_EXPORT_BINARY,
    .open = xlsx_open,
    .row = xlsx_row,
    .finish = xlsx_finish,
    .close = xlsx_close,
}};

static const struct anketa_plugin xlsx_plugin = {
    .abi = ANKETA_PLUGIN_ABI,
    .struct_size = sizeof(struct anketa_plugin),
    .name = "xlsx",
    .version = "1.0",
    .exporters = xlsx_exporters,
    .nexporters = 1,
};

const struct anketa_plugin *anketa_plugin_entry(void)
{
    return &xlsx_plugin;
}
