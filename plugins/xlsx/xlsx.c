/*
 * xlsx: the XLSX exporter (one worksheet, a bold frozen header row, numbers as numbers),
 * written as it goes: the workbook's zip is streamed to the host's sink row by row, with no
 * temporary file and memory that does not grow with the table.
 *
 * Why not libxlsxwriter, which this plugin used first: it builds the worksheet in a temporary
 * file and compresses it at zlib's default level once the table is done. For 1,000,000
 * responses that took 28-44 s (mostly deflate at level 6 over a gigabyte of XML) before the
 * first byte left, against a budget of 10 s. Here the sheet's XML goes through deflate at
 * level 1 as it is made (a file about 30% larger, written four times faster) and the download
 * starts at once. The format written is small and fixed: a package of six parts, inline
 * strings, one style for the header.
 *
 * The worksheet's XML is made by the exporting thread (which also reads the rows from
 * SQLite) and compressed by a second thread of this plugin, 256 KB at a time, in turn with
 * two buffers: on two cores the export then takes about as long as reading the rows. The
 * second thread writes to the host's sink; the host's thread touches neither the sink nor
 * the zip's state until it has waited for the second thread to be idle (xlsx_wait).
 *
 * Text cells that start with = + - @, a tab or a carriage return get a leading apostrophe, so
 * a spreadsheet never runs an answer as a formula (docs/exports.md).
 */
#include "plugin_api.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define XLSX_CHAR     32767    /* characters in one cell */
#define XLSX_MAX_ROWS 1048575L /* rows below the header row */
#define XLSX_MAX_COLS 16384
#define XLSX_OUT      65536  /* bytes gathered before a write to the sink */
#define XLSX_XML      262144 /* XML gathered before it is compressed */
#define XLSX_ENTRIES  6
#define XLSX_32       0xFFFFFFFFu /* sizes and offsets past this need zip64 */

/* One part of the package, as its central directory entry will describe it. */
struct xlsx_entry {
    const char *name;
    uint32_t crc;
    uint64_t csize, usize, offset;
};

struct xlsx {
    struct anketa_export_target t;
    unsigned char *out; /* the zip bytes not yet given to the sink */
    size_t nout;
    uint64_t offset; /* bytes of the zip made so far */
    int stopped;     /* the sink refused bytes: the rest is dropped */
    z_stream z;
    int zinit;
    unsigned char *zbuf;
    char *xml; /* the current part's XML not yet compressed: one of bufs */
    size_t nxml;
    char *bufs[2];
    /* The compressing thread, and what it is handed under mu: a buffer (its index, or -1),
     * whether it ends the part; what failed there. */
    pthread_t thread;
    int threaded;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int job, job_finish, quit;
    size_t job_len;
    int failed;
    char terr[ANKETA_ERR_MAX];
    struct xlsx_entry entries[XLSX_ENTRIES];
    size_t nentries;
    uint16_t dos_time, dos_date;
    char (*cols)[4]; /* the column letters, "A" to "XFD" */
    char *scratch;   /* a cell's text made fit for XLSX */
    size_t scratch_cap;
    long rows;
};

static int xlsx_oom(char err[ANKETA_ERR_MAX])
{
    snprintf(err, ANKETA_ERR_MAX, "out of memory");
    return -1;
}

/* ---- The zip ---- */

static void xlsx_flush(struct xlsx *x)
{
    if (x->nout && !x->stopped && x->t.write(x->t.ctx, x->out, x->nout) != 0)
        x->stopped = 1;
    x->nout = 0;
}

static void xlsx_emit(struct xlsx *x, const void *p, size_t n)
{
    x->offset += n;
    while (n) {
        size_t room = XLSX_OUT - x->nout, k = n < room ? n : room;
        memcpy(x->out + x->nout, p, k);
        x->nout += k;
        p = (const char *)p + k;
        n -= k;
        if (x->nout == XLSX_OUT)
            xlsx_flush(x);
    }
}

static void xlsx_u16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void xlsx_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void xlsx_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* A local file header whose sizes and CRC follow the data (general purpose bit 3), with the
 * name in UTF-8 (bit 11). */
static void xlsx_entry_begin(struct xlsx *x, const char *name)
{
    struct xlsx_entry *en = &x->entries[x->nentries++];
    *en = (struct xlsx_entry){.name = name, .offset = x->offset};
    unsigned char h[30] = {0};
    xlsx_u32(h, 0x04034b50);
    xlsx_u16(h + 4, 20);
    xlsx_u16(h + 6, 0x0808);
    xlsx_u16(h + 8, 8);
    xlsx_u16(h + 10, x->dos_time);
    xlsx_u16(h + 12, x->dos_date);
    xlsx_u16(h + 26, (unsigned)strlen(name));
    xlsx_emit(x, h, sizeof h);
    xlsx_emit(x, name, strlen(name));
    deflateReset(&x->z);
    en->crc = (uint32_t)crc32(0, NULL, 0);
}

/* Compresses n bytes of the current part's XML; with finish, ends its deflate stream. Runs in
 * the compressing thread for the worksheet, in the host's for the small parts. */
static int xlsx_compress(struct xlsx *x, const char *p, size_t n, int finish,
                         char err[ANKETA_ERR_MAX])
{
    struct xlsx_entry *en = &x->entries[x->nentries - 1];
    en->crc = (uint32_t)crc32(en->crc, (const Bytef *)p, (uInt)n);
    en->usize += n;
    x->z.next_in = (Bytef *)p;
    x->z.avail_in = (uInt)n;
    int rc;
    do {
        x->z.next_out = x->zbuf;
        x->z.avail_out = XLSX_OUT;
        rc = deflate(&x->z, finish ? Z_FINISH : Z_NO_FLUSH);
        if (rc == Z_STREAM_ERROR) {
            snprintf(err, ANKETA_ERR_MAX, "deflate failed");
            return -1;
        }
        size_t made = XLSX_OUT - x->z.avail_out;
        xlsx_emit(x, x->zbuf, made);
        en->csize += made;
    } while (x->z.avail_out == 0 || (finish && rc != Z_STREAM_END));
    if (x->stopped) {
        snprintf(err, ANKETA_ERR_MAX, "the receiver stopped");
        return -1;
    }
    return 0;
}

static void *xlsx_worker(void *arg)
{
    struct xlsx *x = arg;
    pthread_mutex_lock(&x->mu);
    for (;;) {
        while (x->job < 0 && !x->quit)
            pthread_cond_wait(&x->cv, &x->mu);
        if (x->job < 0)
            break;
        const char *p = x->bufs[x->job];
        size_t n = x->job_len;
        int finish = x->job_finish, failed = x->failed;
        pthread_mutex_unlock(&x->mu);
        char err[ANKETA_ERR_MAX] = "";
        int rc = failed ? 0 : xlsx_compress(x, p, n, finish, err);
        pthread_mutex_lock(&x->mu);
        if (rc < 0) {
            x->failed = 1;
            memcpy(x->terr, err, sizeof err);
        }
        x->job = -1;
        pthread_cond_broadcast(&x->cv);
    }
    pthread_mutex_unlock(&x->mu);
    return NULL;
}

/* Waits until the compressing thread has nothing in hand; -1 with its error if it failed. */
static int xlsx_wait(struct xlsx *x, char err[ANKETA_ERR_MAX])
{
    if (!x->threaded)
        return 0;
    pthread_mutex_lock(&x->mu);
    while (x->job >= 0)
        pthread_cond_wait(&x->cv, &x->mu);
    int failed = x->failed;
    if (failed)
        memcpy(err, x->terr, ANKETA_ERR_MAX);
    pthread_mutex_unlock(&x->mu);
    return failed ? -1 : 0;
}

/* Compresses the gathered XML: hands the buffer to the compressing thread and goes on with
 * the other one, or (before the thread is started) compresses it here. */
static int xlsx_deflate(struct xlsx *x, int finish, char err[ANKETA_ERR_MAX])
{
    if (!x->threaded) {
        int rc = xlsx_compress(x, x->xml, x->nxml, finish, err);
        x->nxml = 0;
        return rc;
    }
    if (xlsx_wait(x, err) < 0)
        return -1;
    pthread_mutex_lock(&x->mu);
    x->job = x->xml == x->bufs[0] ? 0 : 1;
    x->job_len = x->nxml;
    x->job_finish = finish;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
    x->xml = x->bufs[x->xml == x->bufs[0] ? 1 : 0];
    x->nxml = 0;
    return finish ? xlsx_wait(x, err) : 0;
}

static int xlsx_zip64(const struct xlsx_entry *en)
{
    return en->usize >= XLSX_32 || en->csize >= XLSX_32 || en->offset >= XLSX_32;
}

/* Ends the current part: its deflate stream, then the data descriptor (with 8-byte sizes
 * when they do not fit in 4). */
static int xlsx_entry_end(struct xlsx *x, char err[ANKETA_ERR_MAX])
{
    if (xlsx_deflate(x, 1, err) < 0)
        return -1;
    const struct xlsx_entry *en = &x->entries[x->nentries - 1];
    unsigned char d[24];
    xlsx_u32(d, 0x08074b50);
    xlsx_u32(d + 4, en->crc);
    if (en->usize >= XLSX_32 || en->csize >= XLSX_32) {
        xlsx_u64(d + 8, en->csize);
        xlsx_u64(d + 16, en->usize);
        xlsx_emit(x, d, 24);
    } else {
        xlsx_u32(d + 8, (uint32_t)en->csize);
        xlsx_u32(d + 12, (uint32_t)en->usize);
        xlsx_emit(x, d, 16);
    }
    return 0;
}

/* The central directory and its end records (zip64 ones when any entry or the directory
 * itself lies past 4 GB). */
static void xlsx_directory(struct xlsx *x)
{
    uint64_t start = x->offset;
    int any64 = 0;
    for (size_t i = 0; i < x->nentries; i++) {
        const struct xlsx_entry *en = &x->entries[i];
        int z64 = xlsx_zip64(en);
        any64 |= z64;
        unsigned char h[46] = {0}, extra[28];
        size_t nextra = 0;
        if (z64) {
            xlsx_u16(extra, 0x0001);
            xlsx_u64(extra + 4, en->usize);
            xlsx_u64(extra + 12, en->csize);
            xlsx_u64(extra + 20, en->offset);
            nextra = 28;
            xlsx_u16(extra + 2, (unsigned)(nextra - 4));
        }
        xlsx_u32(h, 0x02014b50);
        xlsx_u16(h + 4, 0x0300 | (z64 ? 45 : 20)); /* made on Unix */
        xlsx_u16(h + 6, z64 ? 45 : 20);
        xlsx_u16(h + 8, 0x0808);
        xlsx_u16(h + 10, 8);
        xlsx_u16(h + 12, x->dos_time);
        xlsx_u16(h + 14, x->dos_date);
        xlsx_u32(h + 16, en->crc);
        xlsx_u32(h + 20, z64 ? XLSX_32 : (uint32_t)en->csize);
        xlsx_u32(h + 24, z64 ? XLSX_32 : (uint32_t)en->usize);
        xlsx_u16(h + 28, (unsigned)strlen(en->name));
        xlsx_u16(h + 30, (unsigned)nextra);
        xlsx_u32(h + 38, 0644u << 16);
        xlsx_u32(h + 42, z64 ? XLSX_32 : (uint32_t)en->offset);
        xlsx_emit(x, h, sizeof h);
        xlsx_emit(x, en->name, strlen(en->name));
        xlsx_emit(x, extra, nextra);
    }
    uint64_t size = x->offset - start;
    if (any64 || start >= XLSX_32) {
        unsigned char z[56] = {0}, loc[20] = {0};
        uint64_t at = x->offset;
        xlsx_u32(z, 0x06064b50);
        xlsx_u64(z + 4, sizeof z - 12);
        xlsx_u16(z + 12, 0x0300 | 45);
        xlsx_u16(z + 14, 45);
        xlsx_u64(z + 24, x->nentries);
        xlsx_u64(z + 32, x->nentries);
        xlsx_u64(z + 40, size);
        xlsx_u64(z + 48, start);
        xlsx_emit(x, z, sizeof z);
        xlsx_u32(loc, 0x07064b50);
        xlsx_u64(loc + 8, at);
        xlsx_u32(loc + 16, 1);
        xlsx_emit(x, loc, sizeof loc);
    }
    unsigned char e[22] = {0};
    xlsx_u32(e, 0x06054b50);
    xlsx_u16(e + 8, (unsigned)x->nentries);
    xlsx_u16(e + 10, (unsigned)x->nentries);
    xlsx_u32(e + 12, size >= XLSX_32 ? XLSX_32 : (uint32_t)size);
    xlsx_u32(e + 16, start >= XLSX_32 ? XLSX_32 : (uint32_t)start);
    xlsx_emit(x, e, sizeof e);
}

/* ---- The XML ---- */

static int xlsx_put(struct xlsx *x, const char *p, size_t n, char err[ANKETA_ERR_MAX])
{
    if (n < XLSX_XML - x->nxml) { /* the common case: it fits */
        memcpy(x->xml + x->nxml, p, n);
        x->nxml += n;
        return 0;
    }
    while (n) {
        size_t room = XLSX_XML - x->nxml, k = n < room ? n : room;
        memcpy(x->xml + x->nxml, p, k);
        x->nxml += k;
        p += k;
        n -= k;
        if (x->nxml == XLSX_XML && xlsx_deflate(x, 0, err) < 0)
            return -1;
    }
    return 0;
}

static int xlsx_puts(struct xlsx *x, const char *s, char err[ANKETA_ERR_MAX])
{
    return xlsx_put(x, s, strlen(s), err);
}

/* A whole small part of the package. */
static int xlsx_part(struct xlsx *x, const char *name, const char *const *pieces,
                     char err[ANKETA_ERR_MAX])
{
    xlsx_entry_begin(x, name);
    for (size_t i = 0; pieces[i]; i++)
        if (xlsx_puts(x, pieces[i], err) < 0)
            return -1;
    return xlsx_entry_end(x, err);
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

static int xlsx_is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

/*
 * Text as element content: & < > as entities; control characters XML cannot carry, and a
 * carriage return, as Excel's escapes _xHHHH_ (and so a literal "_xHHHH_" in an answer has
 * its underscore escaped, or Excel would decode it).
 */
static int xlsx_put_text(struct xlsx *x, const char *s, char err[ANKETA_ERR_MAX])
{
    const char *run = s;
    for (const char *p = s;; p++) {
        unsigned char c = (unsigned char)*p;
        const char *rep = NULL;
        char esc[8];
        if (c == '&')
            rep = "&amp;";
        else if (c == '<')
            rep = "&lt;";
        else if (c == '>')
            rep = "&gt;";
        else if (c && c < 0x20 && c != '\t' && c != '\n') {
            snprintf(esc, sizeof esc, "_x%04X_", c);
            rep = esc;
        } else if (c == '_' && p[1] == 'x' && xlsx_is_hex(p[2]) && xlsx_is_hex(p[3]) &&
                   xlsx_is_hex(p[4]) && xlsx_is_hex(p[5]) && p[6] == '_') {
            rep = "_x005F_";
        }
        if (!rep && c)
            continue;
        if (xlsx_put(x, run, (size_t)(p - run), err) < 0 || (rep && xlsx_puts(x, rep, err) < 0))
            return -1;
        if (!c)
            return 0;
        run = p + 1;
    }
}

/* The start of a cell, "<c r=\"B7\"", from its column's letters and its row's number.
 * Every cell carries its reference: ECMA-376 makes it optional, but readers such as ExcelJS
 * refuse a sheet without them. */
static int xlsx_cell_start(struct xlsx *x, size_t col, const char *row, size_t rowlen,
                           char err[ANKETA_ERR_MAX])
{
    return xlsx_put(x, "<c r=\"", 6, err) < 0 ||
                   xlsx_put(x, x->cols[col], strnlen(x->cols[col], 4), err) < 0 ||
                   xlsx_put(x, row, rowlen, err) < 0 || xlsx_put(x, "\"", 1, err) < 0
               ? -1
               : 0;
}

/* <c r="B7" t="inlineStr"><is><t>...</t></is></c>, with xml:space where spaces at an end
 * would otherwise be lost; style is "" or " s=\"1\"". */
static int xlsx_text_cell(struct xlsx *x, size_t col, const char *row, size_t rowlen,
                          const char *style, const char *s, char err[ANKETA_ERR_MAX])
{
    size_t n = strlen(s);
    int keep = n && (strchr(" \t\n", s[0]) || strchr(" \t\n", s[n - 1]));
    return xlsx_cell_start(x, col, row, rowlen, err) < 0 || xlsx_puts(x, style, err) < 0 ||
                   xlsx_puts(x,
                             keep ? " t=\"inlineStr\"><is><t xml:space=\"preserve\">"
                                  : " t=\"inlineStr\"><is><t>",
                             err) < 0 ||
                   xlsx_put_text(x, s, err) < 0 || xlsx_put(x, "</t></is></c>", 13, err) < 0
               ? -1
               : 0;
}

static int xlsx_number_cell(struct xlsx *x, size_t col, const char *row, size_t rowlen,
                            const char *num, size_t numlen, char err[ANKETA_ERR_MAX])
{
    return xlsx_cell_start(x, col, row, rowlen, err) < 0 || xlsx_put(x, "><v>", 4, err) < 0 ||
                   xlsx_put(x, num, numlen, err) < 0 || xlsx_put(x, "</v></c>", 8, err) < 0
               ? -1
               : 0;
}

/* A number as Excel reads it back: whole numbers (counts, ids, scores) without printf, the
 * rest with 16 significant digits. Returns the length written to out (at least 32 bytes). */
static size_t xlsx_format_number(double v, char *out)
{
    if (v == (double)(long long)v && v > -1e15 && v < 1e15) {
        char tmp[24];
        size_t n = 0;
        long long i = (long long)v;
        unsigned long long u = i < 0 ? (unsigned long long)-i : (unsigned long long)i;
        do
            tmp[n++] = (char)('0' + u % 10);
        while ((u /= 10) != 0);
        size_t o = 0;
        if (i < 0)
            out[o++] = '-';
        while (n)
            out[o++] = tmp[--n];
        out[o] = '\0';
        return o;
    }
    return (size_t)snprintf(out, 32, "%.16g", v);
}

/* ---- The exporter ---- */

static void xlsx_close(void *state)
{
    struct xlsx *x = state;
    if (!x)
        return;
    if (x->threaded) {
        pthread_mutex_lock(&x->mu);
        x->quit = 1;
        pthread_cond_broadcast(&x->cv);
        pthread_mutex_unlock(&x->mu);
        pthread_join(x->thread, NULL);
        pthread_cond_destroy(&x->cv);
        pthread_mutex_destroy(&x->mu);
    }
    if (x->zinit)
        deflateEnd(&x->z);
    free(x->out);
    free(x->zbuf);
    free(x->bufs[0]);
    free(x->bufs[1]);
    free(x->cols);
    free(x->scratch);
    free(x);
}

/* A sheet name Excel accepts: at most 31 characters, none of [ ] : * ? / \\ and no XML
 * specials (so it needs no escaping), cut only between characters. out has room for 31
 * characters of up to four bytes. */
static void xlsx_sheet_name(const char *in, char out[128])
{
    size_t o = 0, chars = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && chars < 31;) {
        size_t n = xlsx_utf8_len(p);
        if (!n) {
            p++;
            continue;
        }
        if (n > 1 || (*p >= 0x20 && !strchr("[]:*?/\\&<>\"'", *p))) {
            memcpy(out + o, p, n);
            o += n;
            chars++;
        }
        p += n;
    }
    out[o] = '\0';
    if (!o)
        snprintf(out, 128, "export");
}

static const char xlsx_ns[] = "http://schemas.openxmlformats.org/";

/* The five small parts around the worksheet. */
static int xlsx_package(struct xlsx *x, char err[ANKETA_ERR_MAX])
{
    char sheet[128], rels[600], types[900], book[500], wrels[600];
    xlsx_sheet_name(x->t.sheet ? x->t.sheet : "export", sheet);
    snprintf(types, sizeof types,
             "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
             "<Types xmlns=\"%spackage/2006/content-types\">"
             "<Default Extension=\"rels\" "
             "ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>"
             "<Default Extension=\"xml\" ContentType=\"application/xml\"/>"
             "<Override PartName=\"/xl/workbook.xml\" ContentType=\"application/"
             "vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>"
             "<Override PartName=\"/xl/worksheets/sheet1.xml\" ContentType=\"application/"
             "vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>"
             "<Override PartName=\"/xl/styles.xml\" ContentType=\"application/"
             "vnd.openxmlformats-officedocument.spreadsheetml.styles+xml\"/></Types>",
             xlsx_ns);
    snprintf(rels, sizeof rels,
             "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
             "<Relationships xmlns=\"%spackage/2006/relationships\">"
             "<Relationship Id=\"rId1\" Type=\"%sofficeDocument/2006/relationships/"
             "officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>",
             xlsx_ns, xlsx_ns);
    snprintf(book, sizeof book,
             "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
             "<workbook xmlns=\"%sspreadsheetml/2006/main\" "
             "xmlns:r=\"%sofficeDocument/2006/relationships\"><sheets>"
             "<sheet name=\"%s\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>",
             xlsx_ns, xlsx_ns, sheet);
    snprintf(wrels, sizeof wrels,
             "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
             "<Relationships xmlns=\"%spackage/2006/relationships\">"
             "<Relationship Id=\"rId1\" Type=\"%sofficeDocument/2006/relationships/worksheet\" "
             "Target=\"worksheets/sheet1.xml\"/>"
             "<Relationship Id=\"rId2\" Type=\"%sofficeDocument/2006/relationships/styles\" "
             "Target=\"styles.xml\"/></Relationships>",
             xlsx_ns, xlsx_ns, xlsx_ns);
    static const char *const styles[] = {
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
        "<styleSheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">"
        "<fonts count=\"2\"><font><sz val=\"11\"/><name val=\"Calibri\"/><family val=\"2\"/>"
        "</font><font><b/><sz val=\"11\"/><name val=\"Calibri\"/><family val=\"2\"/></font>"
        "</fonts><fills count=\"2\"><fill><patternFill patternType=\"none\"/></fill><fill>"
        "<patternFill patternType=\"gray125\"/></fill></fills><borders count=\"1\"><border>"
        "<left/><right/><top/><bottom/><diagonal/></border></borders>"
        "<cellStyleXfs count=\"1\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" "
        "borderId=\"0\"/></cellStyleXfs><cellXfs count=\"2\"><xf numFmtId=\"0\" fontId=\"0\" "
        "fillId=\"0\" borderId=\"0\" xfId=\"0\"/><xf numFmtId=\"0\" fontId=\"1\" fillId=\"0\" "
        "borderId=\"0\" xfId=\"0\" applyFont=\"1\"/></cellXfs><cellStyles count=\"1\">"
        "<cellStyle name=\"Normal\" xfId=\"0\" builtinId=\"0\"/></cellStyles></styleSheet>",
        NULL};
    const char *const p_types[] = {types, NULL}, *const p_rels[] = {rels, NULL},
                      *const p_book[] = {book, NULL}, *const p_wrels[] = {wrels, NULL};
    return xlsx_part(x, "[Content_Types].xml", p_types, err) < 0 ||
                   xlsx_part(x, "_rels/.rels", p_rels, err) < 0 ||
                   xlsx_part(x, "xl/workbook.xml", p_book, err) < 0 ||
                   xlsx_part(x, "xl/_rels/workbook.xml.rels", p_wrels, err) < 0 ||
                   xlsx_part(x, "xl/styles.xml", styles, err) < 0
               ? -1
               : 0;
}

/* Starts the compressing thread, with every signal blocked in it: they are for the host's
 * thread (a worker's ppoll). Without the thread, the sheet is compressed in the host's. */
static void xlsx_start_worker(struct xlsx *x)
{
    sigset_t all, old;
    sigfillset(&all);
    x->job = -1;
    if (pthread_mutex_init(&x->mu, NULL) != 0)
        return;
    if (pthread_cond_init(&x->cv, NULL) != 0) {
        pthread_mutex_destroy(&x->mu);
        return;
    }
    pthread_sigmask(SIG_SETMASK, &all, &old);
    x->threaded = pthread_create(&x->thread, NULL, xlsx_worker, x) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!x->threaded) {
        pthread_cond_destroy(&x->cv);
        pthread_mutex_destroy(&x->mu);
    }
}

static int xlsx_open(const struct anketa_export_target *t, void **state, char err[ANKETA_ERR_MAX])
{
    *state = NULL;
    if (t->ncols > XLSX_MAX_COLS) {
        snprintf(err, ANKETA_ERR_MAX, "an XLSX sheet holds at most %d columns", XLSX_MAX_COLS);
        return -1;
    }
    struct xlsx *x = calloc(1, sizeof *x);
    if (!x)
        return xlsx_oom(err);
    *state = x;
    /* Only the fields this plugin knows; a newer host's struct is larger, never different. */
    memcpy(&x->t, t, t->size < sizeof x->t ? t->size : sizeof x->t);
    x->out = malloc(XLSX_OUT);
    x->zbuf = malloc(XLSX_OUT);
    x->bufs[0] = malloc(XLSX_XML);
    x->bufs[1] = malloc(XLSX_XML);
    x->xml = x->bufs[0];
    x->cols = calloc(t->ncols ? t->ncols : 1, sizeof *x->cols);
    if (!x->out || !x->zbuf || !x->bufs[0] || !x->bufs[1] || !x->cols)
        return xlsx_oom(err);
    /* Level 1: the sheet is the whole cost of an export, and level 6 made it four times
     * slower for a file 30% smaller. Raw deflate: the zip has its own headers. */
    if (deflateInit2(&x->z, 1, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return xlsx_oom(err);
    x->zinit = 1;
    for (size_t i = 0; i < t->ncols; i++) {
        char tmp[4];
        size_t n = 0;
        for (size_t c = i + 1; c; c = (c - 1) / 26)
            tmp[n++] = (char)('A' + (c - 1) % 26);
        for (size_t k = 0; k < n; k++)
            x->cols[i][k] = tmp[n - 1 - k];
    }
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    x->dos_time = (uint16_t)(tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2);
    x->dos_date = (uint16_t)((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday);
    if (xlsx_package(x, err) < 0)
        return -1;
    char head[200];
    snprintf(head, sizeof head,
             "<cols><col min=\"1\" max=\"%zu\" width=\"14.7109375\" "
             "customWidth=\"1\"/></cols>",
             t->ncols ? t->ncols : 1);
    xlsx_entry_begin(x, "xl/worksheets/sheet1.xml");
    xlsx_start_worker(x);
    if (xlsx_puts(
            x,
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
            "<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" "
            "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\">"
            "<sheetViews><sheetView tabSelected=\"1\" workbookViewId=\"0\"><pane ySplit=\"1\" "
            "topLeftCell=\"A2\" activePane=\"bottomLeft\" state=\"frozen\"/>"
            "<selection pane=\"bottomLeft\"/></sheetView></sheetViews>"
            "<sheetFormatPr defaultRowHeight=\"15\"/>",
            err) < 0 ||
        (t->ncols && xlsx_puts(x, head, err) < 0) ||
        xlsx_puts(x, "<sheetData><row r=\"1\">", err) < 0)
        return -1;
    for (size_t i = 0; i < t->ncols; i++)
        if (xlsx_text_cell(x, i, "1", 1, " s=\"1\"", t->cols[i].name, err) < 0)
            return -1;
    return xlsx_puts(x, "</row>", err);
}

static int xlsx_row_cells(struct xlsx *x, const struct anketa_export_value *vals,
                          char err[ANKETA_ERR_MAX])
{
    if (x->rows >= XLSX_MAX_ROWS) {
        snprintf(err, ANKETA_ERR_MAX,
                 "an XLSX sheet holds at most %ld rows: choose CSV for more, or a smaller "
                 "organisation, survey or period",
                 XLSX_MAX_ROWS);
        return -1;
    }
    char row[24], num[40];
    size_t rowlen = (size_t)snprintf(row, sizeof row, "%ld", x->rows + 2);
    if (xlsx_put(x, "<row r=\"", 8, err) < 0 || xlsx_put(x, row, rowlen, err) < 0 ||
        xlsx_put(x, "\">", 2, err) < 0)
        return -1;
    for (size_t i = 0; i < x->t.ncols; i++) {
        const struct anketa_export_value *v = &vals[i];
        int rc = 0;
        if (v->has_num) {
            if (isfinite(v->num))
                rc = xlsx_number_cell(x, i, row, rowlen, num, xlsx_format_number(v->num, num), err);
        } else if (v->text && x->t.cols[i].type == ANKETA_COL_NUMBER && xlsx_decimal(v->text)) {
            rc = xlsx_number_cell(x, i, row, rowlen, v->text, strlen(v->text), err);
        } else if (v->text) {
            const char *s = xlsx_text(x, v->text);
            rc = s ? xlsx_text_cell(x, i, row, rowlen, "", s, err) : xlsx_oom(err);
        }
        if (rc < 0)
            return -1;
    }
    x->rows++;
    return xlsx_puts(x, "</row>", err);
}

static int xlsx_row(void *state, const struct anketa_export_value *vals, char err[ANKETA_ERR_MAX])
{
    struct xlsx *x = state;
    if (xlsx_row_cells(x, vals, err) == 0)
        return 0;
    /* The host may look at what was sent as soon as this returns: the compressing thread
     * must be done with it. */
    char ignored[ANKETA_ERR_MAX];
    xlsx_wait(x, ignored);
    return -1;
}

static int xlsx_finish(void *state, char err[ANKETA_ERR_MAX])
{
    struct xlsx *x = state;
    /* xlsx_entry_end waits for the compressing thread: the rest is written from here. */
    if (xlsx_puts(x, "</sheetData></worksheet>", err) < 0 || xlsx_entry_end(x, err) < 0)
        return -1;
    xlsx_directory(x);
    xlsx_flush(x);
    if (x->stopped) {
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
    .version = "2.0",
    .exporters = xlsx_exporters,
    .nexporters = 1,
};

const struct anketa_plugin *anketa_plugin_entry(void)
{
    return &xlsx_plugin;
}
