/*
 * csv: owns the streaming CSV reader behind every import: encoding and delimiter detection,
 * the Windows-1251 table, the quote-aware parser with physical line numbers, and the mapping
 * of header names onto the caller's columns.
 *
 * The parser copies each value into one record buffer (quotes undone, line breaks
 * normalised), so a record may span any number of read chunks without being re-parsed.
 */
#include "csv.h"

#include "arena.h"
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CSV_CHUNK (64 * 1024)
/* A Windows-1251 byte becomes at most three UTF-8 bytes (the euro sign, №, ™). */
#define CSV_DATA_CAP (3 * CSV_CHUNK)
#define CSV_REC_INIT 4096
/* Header names longer than this (in characters) get no "did you mean". */
#define CSV_SUGGEST_MAX 64
/* Longest piece of a header or value quoted in a message, in bytes. */
#define CSV_QUOTE_MAX 60

enum csv_state { CSV_FIELD, CSV_UNQUOTED, CSV_QUOTED, CSV_QUOTE, CSV_AFTER };

struct csv_reader {
    struct arena *arena;
    const char *name;
    int fd; /* -1 when reading memory */
    const unsigned char *mem;
    size_t mem_len, mem_pos;
    off_t size, consumed;

    unsigned char *raw; /* bytes as read */
    size_t raw_pos, raw_len;
    unsigned char *data; /* UTF-8 being parsed: raw itself, or raw converted */
    size_t pos, len;
    int eof;
    int dead;    /* a fatal error was reported: nothing more will be read */
    int discard; /* the current record already has an error: stop storing it */
    int cp1251;
    int undecided; /* only ASCII so far: the first non-ASCII record decides the encoding */
    char delim;
    unsigned char stop[256]; /* bytes that end a run inside an unquoted value */
    int line;                /* physical line at pos */
    int pending_cr;          /* data ended on a CR: an LF opening the next chunk is its pair */

    char *rec; /* the values of the current record, each NUL-terminated */
    size_t rec_len, rec_cap;
    size_t fstart[CSV_FIELDS_MAX];
    size_t nfields;
    int rec_line;

    const struct csv_column *cols;
    size_t ncols;
    size_t nheader;
    char **header;       /* header names as written, for messages */
    int *colmap;         /* header position -> column index, -1 for an unnamed column */
    unsigned char *has;  /* column index -> present in the header */
    const char **fields; /* column index -> value in the current record */
};

/* Windows-1251 0x80-0xFF as Unicode; 0 marks 0x98, the one unassigned byte. */
static const uint16_t csv_cp1251[128] = {
    0x0402, 0x0403, 0x201A, 0x0453, 0x201E, 0x2026, 0x2020, 0x2021, 0x20AC, 0x2030, 0x0409, 0x2039,
    0x040A, 0x040C, 0x040B, 0x040F, 0x0452, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x0000, 0x2122, 0x0459, 0x203A, 0x045A, 0x045C, 0x045B, 0x045F, 0x00A0, 0x040E, 0x045E, 0x0408,
    0x00A4, 0x0490, 0x00A6, 0x00A7, 0x0401, 0x00A9, 0x0404, 0x00AB, 0x00AC, 0x00AD, 0x00AE, 0x0407,
    0x00B0, 0x00B1, 0x0406, 0x0456, 0x0491, 0x00B5, 0x00B6, 0x00B7, 0x0451, 0x2116, 0x0454, 0x00BB,
    0x0458, 0x0405, 0x0455, 0x0457, 0x0410, 0x0411, 0x0412, 0x0413, 0x0414, 0x0415, 0x0416, 0x0417,
    0x0418, 0x0419, 0x041A, 0x041B, 0x041C, 0x041D, 0x041E, 0x041F, 0x0420, 0x0421, 0x0422, 0x0423,
    0x0424, 0x0425, 0x0426, 0x0427, 0x0428, 0x0429, 0x042A, 0x042B, 0x042C, 0x042D, 0x042E, 0x042F,
    0x0430, 0x0431, 0x0432, 0x0433, 0x0434, 0x0435, 0x0436, 0x0437, 0x0438, 0x0439, 0x043A, 0x043B,
    0x043C, 0x043D, 0x043E, 0x043F, 0x0440, 0x0441, 0x0442, 0x0443, 0x0444, 0x0445, 0x0446, 0x0447,
    0x0448, 0x0449, 0x044A, 0x044B, 0x044C, 0x044D, 0x044E, 0x044F,
};

/* Bytes that end a run inside a quoted value. */
static const unsigned char csv_stop_quoted[256] = {[0] = 1, ['"'] = 1, ['\r'] = 1, ['\n'] = 1};

/* A message assembled piece by piece, cut at the size of struct err's message. */
struct csv_msg {
    char s[512];
    size_t n;
};

static __attribute__((format(printf, 2, 3))) void csv_msg_add(struct csv_msg *m, const char *fmt,
                                                              ...)
{
    if (m->n >= sizeof m->s - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(m->s + m->n, sizeof m->s - m->n, fmt, ap);
    va_end(ap);
    if (k > 0)
        m->n += (size_t)k < sizeof m->s - m->n ? (size_t)k : sizeof m->s - 1 - m->n;
}

/* Appends s in double quotes, shortened (at a character boundary) when long. */
static void csv_msg_quote(struct csv_msg *m, const char *s)
{
    size_t n = strnlen(s, CSV_QUOTE_MAX + 1);
    if (n <= CSV_QUOTE_MAX) {
        csv_msg_add(m, "\"%s\"", s);
        return;
    }
    n = CSV_QUOTE_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    csv_msg_add(m, "\"%.*s...\"", (int)n, s);
}

static __attribute__((format(printf, 4, 5))) void csv_fail(struct csv_reader *r, struct err *e,
                                                           int line, const char *fmt, ...)
{
    if (r->discard)
        return;
    r->discard = 1;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    err_set(e, r->name, line, 0, "%s", msg);
}

static int csv_oom(struct csv_reader *r, struct err *e)
{
    r->dead = 1;
    return err_set(e, r->name, 0, 0, "out of memory");
}

/* How messages name field i of the current record: by its header once there is one. */
static const char *csv_label(const struct csv_reader *r, size_t i, struct csv_msg *m)
{
    m->n = 0;
    m->s[0] = '\0';
    if (r->header && i < r->nheader && r->header[i][0]) {
        csv_msg_add(m, "column ");
        csv_msg_quote(m, r->header[i]);
    } else {
        csv_msg_add(m, "field %zu", i + 1);
    }
    return m->s;
}

static void csv_newline(struct csv_reader *r)
{
    if (r->line < INT_MAX)
        r->line++;
}

/* ---- input ---- */

static ssize_t csv_read(struct csv_reader *r, unsigned char *dst, size_t cap, struct err *e)
{
    if (r->fd < 0) {
        size_t n = r->mem_len - r->mem_pos < cap ? r->mem_len - r->mem_pos : cap;
        if (n)
            memcpy(dst, r->mem + r->mem_pos, n);
        r->mem_pos += n;
        r->consumed += (off_t)n;
        return (ssize_t)n;
    }
    for (;;) {
        ssize_t n = read(r->fd, dst, cap);
        if (n >= 0) {
            r->consumed += n;
            return n;
        }
        if (errno != EINTR) {
            r->dead = 1;
            return err_set(e, r->name, 0, 0, "cannot read: %s", strerror(errno));
        }
    }
}

/* Writes Windows-1251 byte c as UTF-8 at o: the end of what it wrote, or NULL for 0x98. */
static unsigned char *csv_from_cp1251(unsigned char *o, unsigned char c)
{
    if (c < 0x80) {
        *o++ = c;
        return o;
    }
    unsigned u = csv_cp1251[c - 0x80];
    if (!u)
        return NULL;
    if (u < 0x800) {
        *o++ = (unsigned char)(0xC0 | u >> 6);
    } else {
        *o++ = (unsigned char)(0xE0 | u >> 12);
        *o++ = (unsigned char)(0x80 | (u >> 6 & 0x3F));
    }
    *o++ = (unsigned char)(0x80 | (u & 0x3F));
    return o;
}

static const char csv_bad_cp1251[] =
    "byte 0x%02X is not a Windows-1251 character; save the file as UTF-8";

/* Converts raw Windows-1251 bytes into data, stopping before an unassigned byte. */
static int csv_convert(struct csv_reader *r, struct err *e)
{
    const unsigned char *s = r->raw + r->raw_pos;
    const unsigned char *end = r->raw + r->raw_len;
    unsigned char *o = r->data;
    for (; s < end; s++) {
        unsigned char *next = csv_from_cp1251(o, *s);
        if (!next)
            break;
        o = next;
    }
    if (o == r->data) {
        r->dead = 1;
        return err_set(e, r->name, r->line, 0, csv_bad_cp1251, *s);
    }
    r->raw_pos = (size_t)(s - r->raw);
    r->pos = 0;
    r->len = (size_t)(o - r->data);
    return 1;
}

/* Makes more UTF-8 available at data[pos..len): 1, 0 at the end of input, -1 on an error. */
static int csv_fill(struct csv_reader *r, struct err *e)
{
    for (;;) {
        if (r->cp1251 && r->raw_pos < r->raw_len)
            return csv_convert(r, e);
        if (r->eof)
            return 0;
        ssize_t n = csv_read(r, r->raw, CSV_CHUNK, e);
        if (n < 0)
            return -1;
        if (n == 0) {
            r->eof = 1;
            return 0;
        }
        if (!r->cp1251) {
            r->pos = 0;
            r->len = (size_t)n;
            return 1;
        }
        r->raw_pos = 0;
        r->raw_len = (size_t)n;
    }
}

/* ---- UTF-8 ---- */

/* Length of the valid UTF-8 sequence at s[0..n): 0 when invalid, -1 when n cuts it short. */
static int csv_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    unsigned lo = 0x80, hi = 0xBF;
    size_t need;
    if (c < 0x80)
        return 1;
    if (c < 0xC2)
        return 0;
    if (c < 0xE0) {
        need = 1;
    } else if (c < 0xF0) {
        need = 2;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c < 0xF5) {
        need = 3;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0;
    }
    for (size_t k = 1; k <= need; k++) {
        if (k >= n)
            return -1;
        if (s[k] < lo || s[k] > hi)
            return 0;
        lo = 0x80;
        hi = 0xBF;
    }
    return (int)need + 1;
}

/* Offset of the first invalid sequence in s[0..n), or n. */
static size_t csv_utf8_bad(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!(w & UINT64_C(0x8080808080808080))) {
                i += 8;
                continue;
            }
        }
        int k = csv_utf8_seq(s + i, n - i);
        if (k <= 0)
            return i;
        i += (size_t)k;
    }
    return n;
}

/*
 * The detection rule: valid UTF-8 is UTF-8. A window with many valid multi-byte sequences
 * and few broken ones is a UTF-8 file with a defect (Windows-1251 Cyrillic is almost never
 * valid UTF-8), and reporting the defect beats importing mojibake.
 */
static int csv_looks_utf8(const unsigned char *s, size_t n, int cut)
{
    size_t valid = 0, invalid = 0;
    for (size_t i = 0; i < n;) {
        int k = csv_utf8_seq(s + i, n - i);
        if (k < 0) {
            invalid += !cut;
            break;
        }
        if (k == 0) {
            invalid++;
            i++;
            continue;
        }
        valid += k > 1;
        i += (size_t)k;
    }
    return invalid == 0 || (valid >= 16 && valid >= 8 * invalid);
}

/* ---- parser ---- */

static int csv_is_space(const struct csv_reader *r, unsigned char c)
{
    return c == ' ' || (c == '\t' && r->delim != '\t');
}

static int csv_reserve(struct csv_reader *r, size_t n, struct err *e)
{
    if (r->rec_len + n + 1 <= r->rec_cap)
        return 0;
    size_t cap = r->rec_cap;
    while (cap < r->rec_len + n + 1)
        cap *= 2;
    char *p = arena_alloc(r->arena, cap);
    if (!p)
        return csv_oom(r, e);
    memcpy(p, r->rec, r->rec_len);
    r->rec = p;
    r->rec_cap = cap;
    return 0;
}

/* Appends to the current value; quote_line is where its opening quote is (0: unquoted). */
static int csv_add(struct csv_reader *r, const unsigned char *s, size_t n, int quote_line,
                   struct err *e)
{
    if (r->discard || n == 0)
        return 0;
    if (r->rec_len - r->fstart[r->nfields] + n > CSV_FIELD_MAX) {
        struct csv_msg m;
        const char *what = csv_label(r, r->nfields, &m);
        if (quote_line)
            csv_fail(r, e, quote_line,
                     "%s: the quoted value is longer than %d bytes; is its closing quote missing?",
                     what, CSV_FIELD_MAX);
        else
            csv_fail(r, e, r->rec_line, "%s: the value is longer than %d bytes", what,
                     CSV_FIELD_MAX);
        return 0;
    }
    if (csv_reserve(r, n, e) < 0)
        return -1;
    memcpy(r->rec + r->rec_len, s, n);
    r->rec_len += n;
    return 0;
}

static int csv_end_field(struct csv_reader *r, int trim, struct err *e)
{
    if (!r->discard) {
        size_t start = r->fstart[r->nfields];
        while (trim && r->rec_len > start && csv_is_space(r, (unsigned char)r->rec[r->rec_len - 1]))
            r->rec_len--;
        if (csv_reserve(r, 0, e) < 0)
            return -1;
        r->rec[r->rec_len++] = '\0';
    }
    r->nfields++;
    return 0;
}

static int csv_next_field(struct csv_reader *r, int trim, struct err *e)
{
    if (csv_end_field(r, trim, e) < 0)
        return -1;
    if (r->discard)
        return 0;
    if (r->nfields >= CSV_FIELDS_MAX) {
        csv_fail(r, e, r->rec_line, "more than %d fields; is the delimiter right?", CSV_FIELDS_MAX);
        return 0;
    }
    r->fstart[r->nfields] = r->rec_len;
    return 0;
}

/* Consumes the line break at pos (LF, CR or CRLF). */
static void csv_eol(struct csv_reader *r)
{
    csv_newline(r);
    if (r->data[r->pos++] == '\r') {
        if (r->pos < r->len) {
            if (r->data[r->pos] == '\n')
                r->pos++;
        } else {
            r->pending_cr = 1;
        }
    }
}

static int csv_end_record(struct csv_reader *r, int trim, struct err *e)
{
    if (csv_end_field(r, trim, e) < 0)
        return -1;
    return r->discard ? -1 : 1;
}

static int csv_nul(struct csv_reader *r, struct err *e)
{
    r->dead = 1;
    csv_fail(r, e, r->line, "NUL byte: this is not a CSV text file; save it as CSV UTF-8");
    return -1;
}

static int csv_parse_eof(struct csv_reader *r, enum csv_state st, int quote_line, struct err *e)
{
    struct csv_msg m;
    switch (st) {
    case CSV_FIELD:
        if (r->nfields == 0)
            return 0;
        return csv_end_record(r, 0, e);
    case CSV_UNQUOTED: return csv_end_record(r, 1, e);
    case CSV_QUOTED:
        r->dead = 1;
        csv_fail(r, e, quote_line,
                 "%s: the quote that opens here is never closed; add the closing quote",
                 csv_label(r, r->nfields, &m));
        return -1;
    case CSV_QUOTE:
    case CSV_AFTER: break;
    }
    return csv_end_record(r, 0, e);
}

/* Reads one record into rec/fstart/nfields: 1, 0 at the end of input, -1 on an error. */
static int csv_parse_record(struct csv_reader *r, struct err *e)
{
    enum csv_state st = CSV_FIELD;
    int quote_line = 0;
    r->rec_len = 0;
    r->nfields = 0;
    r->discard = 0;
    r->rec_line = r->line;
    r->fstart[0] = 0;
    for (;;) {
        if (r->pos == r->len) {
            int rc = csv_fill(r, e);
            if (rc < 0)
                return -1;
            if (rc == 0)
                return csv_parse_eof(r, st, quote_line, e);
            if (r->pending_cr) {
                r->pending_cr = 0;
                if (r->data[r->pos] == '\n') {
                    r->pos++;
                    continue;
                }
            }
        }
        const unsigned char *p = r->data + r->pos;
        const unsigned char *end = r->data + r->len;
        const unsigned char *q = p;
        switch (st) {
        case CSV_FIELD:
            if (csv_is_space(r, *p)) {
                r->pos++;
            } else if (*p == '"') {
                st = CSV_QUOTED;
                quote_line = r->line;
                r->pos++;
            } else {
                st = CSV_UNQUOTED;
            }
            break;
        case CSV_UNQUOTED:
            while (q < end && !r->stop[*q])
                q++;
            if (csv_add(r, p, (size_t)(q - p), 0, e) < 0)
                return -1;
            r->pos += (size_t)(q - p);
            if (q == end)
                break;
            if (*q == '\0')
                return csv_nul(r, e);
            if (*q == (unsigned char)r->delim) {
                r->pos++;
                if (csv_next_field(r, 1, e) < 0)
                    return -1;
                st = CSV_FIELD;
                break;
            }
            csv_eol(r);
            return csv_end_record(r, 1, e);
        case CSV_QUOTED:
            while (q < end && !csv_stop_quoted[*q])
                q++;
            if (csv_add(r, p, (size_t)(q - p), quote_line, e) < 0)
                return -1;
            r->pos += (size_t)(q - p);
            if (q == end)
                break;
            if (*q == '"') {
                r->pos++;
                st = CSV_QUOTE;
            } else if (*q == '\0') {
                return csv_nul(r, e);
            } else {
                csv_eol(r);
                if (csv_add(r, (const unsigned char *)"\n", 1, quote_line, e) < 0)
                    return -1;
            }
            break;
        case CSV_QUOTE:
            if (*p == '"') {
                r->pos++;
                if (csv_add(r, p, 1, quote_line, e) < 0)
                    return -1;
                st = CSV_QUOTED;
            } else {
                st = CSV_AFTER;
            }
            break;
        case CSV_AFTER:
            if (csv_is_space(r, *p)) {
                r->pos++;
            } else if (*p == (unsigned char)r->delim) {
                r->pos++;
                if (csv_next_field(r, 0, e) < 0)
                    return -1;
                st = CSV_FIELD;
            } else if (*p == '\r' || *p == '\n') {
                csv_eol(r);
                return csv_end_record(r, 0, e);
            } else if (*p == '\0') {
                return csv_nul(r, e);
            } else {
                struct csv_msg m;
                csv_fail(r, e, r->line,
                         "%s: text after the closing quote; put the whole value in quotes and "
                         "double the quotes inside it",
                         csv_label(r, r->nfields, &m));
                st = CSV_UNQUOTED;
            }
            break;
        }
    }
}

static int csv_blank(const struct csv_reader *r)
{
    for (size_t i = 0; i < r->nfields; i++)
        if (r->rec[r->fstart[i]])
            return 0;
    return 1;
}

/* The physical line of byte off of the record: its start plus the line breaks before off. */
static int csv_line_at(const struct csv_reader *r, size_t off)
{
    int line = r->rec_line;
    for (size_t i = 0; i < off; i++)
        if (r->rec[i] == '\n' && line < INT_MAX)
            line++;
    return line;
}

static size_t csv_field_at(const struct csv_reader *r, size_t off)
{
    size_t field = 0;
    while (field + 1 < r->nfields && r->fstart[field + 1] <= off)
        field++;
    return field;
}

static int csv_ascii(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] >= 0x80)
            return 0;
    return 1;
}

/*
 * The first 64 KiB were plain ASCII and this record is not valid UTF-8: everything before it
 * reads the same in both encodings, so switch to Windows-1251 here without losing anything.
 */
static int csv_switch_cp1251(struct csv_reader *r, struct err *e)
{
    size_t cap = 3 * r->rec_len + 1 > r->rec_cap ? 3 * r->rec_len + 1 : r->rec_cap;
    unsigned char *data = arena_alloc(r->arena, CSV_DATA_CAP);
    unsigned char *rec = arena_alloc(r->arena, cap);
    if (!data || !rec)
        return csv_oom(r, e);
    r->cp1251 = 1;
    r->raw_pos = r->pos;
    r->raw_len = r->len;
    r->data = data;
    r->pos = r->len = 0;
    const unsigned char *old = (const unsigned char *)r->rec;
    unsigned char *o = rec;
    size_t field = 0;
    for (size_t i = 0; i < r->rec_len; i++) {
        unsigned char *next = csv_from_cp1251(o, old[i]);
        if (!next) {
            r->dead = 1;
            return err_set(e, r->name, csv_line_at(r, i), 0, csv_bad_cp1251, old[i]);
        }
        o = next;
        if (!old[i] && field + 1 < r->nfields)
            r->fstart[++field] = (size_t)(o - rec);
    }
    r->rec = (char *)rec;
    r->rec_len = (size_t)(o - rec);
    r->rec_cap = cap;
    for (field = 0; field < r->nfields; field++) {
        if (strlen(r->rec + r->fstart[field]) > CSV_FIELD_MAX) {
            struct csv_msg m;
            return err_set(e, r->name, r->rec_line, 0, "%s: the value is longer than %d bytes",
                           csv_label(r, field, &m), CSV_FIELD_MAX);
        }
    }
    return 0;
}

/* Checks (or, while undecided, settles) the encoding of the record just parsed. */
static int csv_check_encoding(struct csv_reader *r, struct err *e)
{
    const unsigned char *s = (const unsigned char *)r->rec;
    if (r->cp1251)
        return 0;
    if (r->undecided) {
        if (csv_ascii(s, r->rec_len))
            return 0;
        r->undecided = 0;
        if (!csv_looks_utf8(s, r->rec_len, 0))
            return csv_switch_cp1251(r, e);
    }
    size_t bad = csv_utf8_bad(s, r->rec_len);
    if (bad == r->rec_len)
        return 0;
    struct csv_msg m;
    return err_set(e, r->name, csv_line_at(r, bad), 0,
                   "%s: invalid UTF-8 (byte 0x%02X); save the file as UTF-8 or Windows-1251",
                   csv_label(r, csv_field_at(r, bad), &m), s[bad]);
}

/* ---- header ---- */

static void csv_expected(const struct csv_reader *r, struct csv_msg *m)
{
    for (size_t c = 0; c < r->ncols; c++)
        csv_msg_add(m, "%s%s", c ? ", " : "", r->cols[c].name);
}

static int csv_is_blank_at(const unsigned char *p, size_t i, size_t end)
{
    if (p[i] == ' ' || p[i] == '\t')
        return 1;
    return i + 1 < end && p[i] == 0xC2 && p[i + 1] == 0xA0 ? 2 : 0;
}

/*
 * Folds a header name or alias for comparison into out (strlen(s) + 1 bytes): trims spaces,
 * tabs and no-break spaces, drops trailing '*' and ':', collapses inner runs of spaces, and
 * lowers ASCII and Cyrillic (А-Я, Ё) letters. The result is never longer than s.
 */
static void csv_fold(const char *s, char *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t b = 0, z = strlen(s);
    int k;
    while ((k = csv_is_blank_at(p, b, z)) > 0)
        b += (size_t)k;
    for (;;) {
        if (z > b && (p[z - 1] == ' ' || p[z - 1] == '\t' || p[z - 1] == '*' || p[z - 1] == ':'))
            z--;
        else if (z >= b + 2 && p[z - 2] == 0xC2 && p[z - 1] == 0xA0)
            z -= 2;
        else
            break;
    }
    unsigned char *o = (unsigned char *)out;
    int space = 0;
    for (size_t i = b; i < z;) {
        if ((k = csv_is_blank_at(p, i, z)) > 0) {
            space = 1;
            i += (size_t)k;
            continue;
        }
        if (space)
            *o++ = ' ';
        space = 0;
        unsigned c = p[i], d = i + 1 < z ? p[i + 1] : 0;
        if (c >= 'A' && c <= 'Z') {
            *o++ = (unsigned char)(c + ('a' - 'A'));
            i++;
        } else if (c == 0xD0 && d >= 0x90 && d <= 0x9F) { /* А-П */
            *o++ = 0xD0;
            *o++ = (unsigned char)(d + 0x20);
            i += 2;
        } else if (c == 0xD0 && d >= 0xA0 && d <= 0xAF) { /* Р-Я */
            *o++ = 0xD1;
            *o++ = (unsigned char)(d - 0x20);
            i += 2;
        } else if (c == 0xD0 && d == 0x81) { /* Ё */
            *o++ = 0xD1;
            *o++ = 0x91;
            i += 2;
        } else {
            *o++ = (unsigned char)c;
            i++;
        }
    }
    *o = '\0';
}

static char *csv_fold_dup(struct arena *a, const char *s)
{
    char *out = arena_alloc(a, strlen(s) + 1);
    if (out)
        csv_fold(s, out);
    return out;
}

/* Code points of valid UTF-8 s, or max + 1 when there are more than max. */
static size_t csv_decode(const char *s, uint32_t *out, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    while (*p) {
        if (n == max)
            return max + 1;
        uint32_t c = *p++;
        int more = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
        if (more)
            c &= 0x3Fu >> more;
        for (; more > 0 && *p; more--)
            c = c << 6 | (*p++ & 0x3F);
        out[n++] = c;
    }
    return n;
}

/* Levenshtein distance between folded names, or INT_MAX when either is too long to bother. */
static int csv_distance(const char *a, const char *b)
{
    uint32_t x[CSV_SUGGEST_MAX], y[CSV_SUGGEST_MAX];
    size_t row[CSV_SUGGEST_MAX + 1];
    size_t n = csv_decode(a, x, CSV_SUGGEST_MAX), m = csv_decode(b, y, CSV_SUGGEST_MAX);
    if (n > CSV_SUGGEST_MAX || m > CSV_SUGGEST_MAX)
        return INT_MAX;
    for (size_t j = 0; j <= m; j++)
        row[j] = j;
    for (size_t i = 1; i <= n; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t up = row[j];
            size_t best = diag + (x[i - 1] != y[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    size_t longer = n > m ? n : m;
    /* Close means a few edits, and no more than a third of the name. */
    if (row[m] > 3 || row[m] * 3 > longer)
        return INT_MAX;
    return (int)row[m];
}

/* Every name a column answers to, folded once. */
struct csv_name {
    const char *text; /* as the caller wrote it, for "did you mean" */
    char *folded;
    size_t col;
};

static int csv_names(struct csv_reader *r, struct csv_name **out, size_t *count)
{
    size_t n = 0;
    for (size_t c = 0; c < r->ncols; c++) {
        n++;
        for (const char *const *al = r->cols[c].aliases; al && *al; al++)
            n++;
    }
    struct csv_name *names = arena_calloc(r->arena, n ? n : 1, sizeof *names);
    if (!names)
        return -1;
    size_t k = 0;
    for (size_t c = 0; c < r->ncols; c++) {
        const char *const *al = r->cols[c].aliases;
        for (const char *s = r->cols[c].name; s; s = al && *al ? *al++ : NULL) {
            names[k].text = s;
            names[k].col = c;
            if (!(names[k].folded = csv_fold_dup(r->arena, s)))
                return -1;
            k++;
        }
    }
    *out = names;
    *count = n;
    return 0;
}

static int csv_map_header(struct csv_reader *r, struct err *e)
{
    struct csv_name *names;
    size_t nnames;
    size_t n = r->nfields;
    int hline = r->rec_line;
    if (csv_names(r, &names, &nnames) < 0)
        return csv_oom(r, e);
    char **header = arena_calloc(r->arena, n, sizeof *header);
    r->colmap = arena_calloc(r->arena, n, sizeof *r->colmap);
    r->has = arena_calloc(r->arena, r->ncols ? r->ncols : 1, 1);
    if (!header || !r->colmap || !r->has)
        return csv_oom(r, e);
    struct csv_msg unknown = {.n = 0};
    size_t nunknown = 0;
    for (size_t i = 0; i < n; i++) {
        const char *h = r->rec + r->fstart[i];
        char *folded = csv_fold_dup(r->arena, h);
        if (!(header[i] = arena_strdup(r->arena, h)) || !folded)
            return csv_oom(r, e);
        r->colmap[i] = -1;
        if (!folded[0])
            continue;
        for (size_t k = 0; k < nnames && r->colmap[i] < 0; k++)
            if (strcmp(folded, names[k].folded) == 0)
                r->colmap[i] = (int)names[k].col;
        if (r->colmap[i] >= 0)
            continue;
        csv_msg_add(&unknown, "%s", nunknown++ ? ", " : "");
        csv_msg_quote(&unknown, h);
        const char *best = NULL;
        int best_d = INT_MAX;
        for (size_t k = 0; k < nnames; k++) {
            int d = csv_distance(folded, names[k].folded);
            if (d < best_d) {
                best_d = d;
                best = names[k].text;
            }
        }
        if (best) {
            csv_msg_add(&unknown, " (did you mean ");
            csv_msg_quote(&unknown, best);
            csv_msg_add(&unknown, "?)");
        }
    }
    r->header = header;
    r->nheader = n;
    if (nunknown) {
        struct csv_msg exp = {.n = 0};
        csv_expected(r, &exp);
        return err_set(e, r->name, hline, 0, "unknown column%s %s; expected columns: %s",
                       nunknown > 1 ? "s" : "", unknown.s, exp.s);
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < i && r->colmap[i] >= 0; j++) {
            if (r->colmap[j] != r->colmap[i])
                continue;
            struct csv_msg m = {.n = 0};
            csv_msg_add(&m, "columns %zu (", j + 1);
            csv_msg_quote(&m, header[j]);
            csv_msg_add(&m, ") and %zu (", i + 1);
            csv_msg_quote(&m, header[i]);
            csv_msg_add(&m, ") are both ");
            csv_msg_quote(&m, r->cols[r->colmap[i]].name);
            csv_msg_add(&m, "; remove one of them");
            return err_set(e, r->name, hline, 0, "%s", m.s);
        }
        if (r->colmap[i] >= 0)
            r->has[r->colmap[i]] = 1;
    }
    struct csv_msg missing = {.n = 0};
    size_t nmissing = 0;
    for (size_t c = 0; c < r->ncols; c++) {
        if (!r->cols[c].required || r->has[c])
            continue;
        csv_msg_add(&missing, "%s", nmissing++ ? ", " : "");
        csv_msg_quote(&missing, r->cols[c].name);
    }
    if (nmissing)
        return err_set(e, r->name, hline, 0,
                       "missing required column%s %s; add %s to the first line",
                       nmissing > 1 ? "s" : "", missing.s, nmissing > 1 ? "them" : "it");
    return 0;
}

/* ---- opening ---- */

static char csv_detect_delim(const unsigned char *s, size_t n)
{
    size_t i = 0;
    /* The header is the first line with something other than spaces on it. */
    for (;;) {
        size_t j = i;
        while (j < n && (s[j] == ' ' || s[j] == '\t'))
            j++;
        if (j < n && (s[j] == '\r' || s[j] == '\n')) {
            i = j + 1;
            continue;
        }
        break;
    }
    size_t semi = 0, comma = 0, tab = 0;
    int quoted = 0;
    for (; i < n; i++) {
        unsigned char c = s[i];
        if (c == '"')
            quoted = !quoted;
        else if (quoted)
            continue;
        else if (c == '\r' || c == '\n')
            break;
        else if (c == ';')
            semi++;
        else if (c == ',')
            comma++;
        else if (c == '\t')
            tab++;
    }
    if (semi >= comma && semi >= tab)
        return ';';
    return comma >= tab ? ',' : '\t';
}

static struct csv_reader *csv_new(const char *name, struct err *e)
{
    struct arena *a = arena_new();
    struct csv_reader *r = a ? arena_calloc(a, 1, sizeof *r) : NULL;
    if (r) {
        r->arena = a;
        r->fd = -1;
        r->line = 1;
        r->name = arena_strdup(a, name);
        r->raw = arena_alloc(a, CSV_CHUNK);
        r->rec = arena_alloc(a, CSV_REC_INIT);
        r->rec_cap = CSV_REC_INIT;
    }
    if (!r || !r->name || !r->raw || !r->rec) {
        arena_free(a);
        err_set(e, name, 0, 0, "out of memory");
        return NULL;
    }
    return r;
}

static int csv_start(struct csv_reader *r, const struct csv_column *cols, size_t ncols,
                     struct err *e)
{
    r->cols = cols;
    r->ncols = ncols;
    r->fields = arena_calloc(r->arena, ncols ? ncols : 1, sizeof *r->fields);
    if (!r->fields)
        return csv_oom(r, e);
    while (r->raw_len < CSV_CHUNK) {
        ssize_t n = csv_read(r, r->raw + r->raw_len, CSV_CHUNK - r->raw_len, e);
        if (n < 0)
            return -1;
        if (n == 0) {
            r->eof = 1;
            break;
        }
        r->raw_len += (size_t)n;
    }
    const unsigned char *s = r->raw;
    size_t n = r->raw_len, start = 0;
    if (n >= 2 && ((s[0] == 0xFF && s[1] == 0xFE) || (s[0] == 0xFE && s[1] == 0xFF)))
        return err_set(e, r->name, 0, 0,
                       "the file is UTF-16; save it as CSV UTF-8 or CSV (Windows-1251)");
    int bom = n >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF;
    if (bom)
        start = 3;
    if (memchr(s + start, 0, n - start))
        return err_set(e, r->name, 0, 0,
                       "the file has NUL bytes, so it is not CSV text (an Excel workbook?); "
                       "save it as CSV UTF-8");
    r->cp1251 = !bom && !csv_looks_utf8(s + start, n - start, !r->eof);
    r->undecided = !bom && !r->eof && csv_ascii(s + start, n - start);
    r->delim = csv_detect_delim(s + start, n - start);
    r->stop[0] = r->stop['\r'] = r->stop['\n'] = 1;
    r->stop[(unsigned char)r->delim] = 1;
    if (r->cp1251) {
        if (!(r->data = arena_alloc(r->arena, CSV_DATA_CAP)))
            return csv_oom(r, e);
        r->raw_pos = start;
    } else {
        r->data = r->raw;
        r->pos = start;
        r->len = n;
    }
    for (;;) {
        int rc = csv_parse_record(r, e);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            struct csv_msg exp = {.n = 0};
            csv_expected(r, &exp);
            return err_set(e, r->name, 0, 0,
                           "the file is empty; its first line must name the columns: %s", exp.s);
        }
        if (csv_check_encoding(r, e) < 0)
            return -1;
        if (!csv_blank(r))
            break;
    }
    return csv_map_header(r, e);
}

int csv_open(const char *path, const struct csv_column *cols, size_t ncols, struct csv_reader **out,
             struct err *e)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(e, path, 0, 0, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int saved = errno;
        close(fd);
        return err_set(e, path, 0, 0, "cannot open: %s", strerror(saved));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return err_set(e, path, 0, 0, "is a directory, not a CSV file");
    }
    struct csv_reader *r = csv_new(path, e);
    if (!r) {
        close(fd);
        return -1;
    }
    r->fd = fd;
    r->size = S_ISREG(st.st_mode) ? st.st_size : -1;
    if (csv_start(r, cols, ncols, e) < 0) {
        csv_close(r);
        return -1;
    }
    *out = r;
    return 0;
}

int csv_open_mem(const char *name, const char *data, size_t len, const struct csv_column *cols,
                 size_t ncols, struct csv_reader **out, struct err *e)
{
    *out = NULL;
    struct csv_reader *r = csv_new(name, e);
    if (!r)
        return -1;
    r->mem = (const unsigned char *)data;
    r->mem_len = len;
    r->size = (off_t)len;
    if (csv_start(r, cols, ncols, e) < 0) {
        csv_close(r);
        return -1;
    }
    *out = r;
    return 0;
}

/* ---- records ---- */

static int csv_map_record(struct csv_reader *r, struct err *e)
{
    if (r->nfields > r->nheader) {
        const char *d = r->delim == ';' ? "';'" : r->delim == ',' ? "','" : "a tab";
        return err_set(e, r->name, r->rec_line, 0,
                       "the record has %zu fields but the header has %zu; a value containing %s "
                       "must be in double quotes",
                       r->nfields, r->nheader, d);
    }
    for (size_t i = 0; i < r->nfields; i++) {
        const char *v = r->rec + r->fstart[i];
        if (r->colmap[i] >= 0)
            r->fields[r->colmap[i]] = v;
        else if (*v)
            return err_set(e, r->name, r->rec_line, 0,
                           "field %zu has a value but its column has no name in the first line; "
                           "name the column or remove the value",
                           i + 1);
    }
    return 1;
}

int csv_next(struct csv_reader *r, struct err *e)
{
    int last = r->rec_line;
    for (;;) {
        for (size_t c = 0; c < r->ncols; c++)
            r->fields[c] = "";
        if (r->dead)
            return 0;
        int rc = csv_parse_record(r, e);
        if (rc == 0)
            r->rec_line = last;
        if (rc <= 0)
            return rc;
        if (csv_check_encoding(r, e) < 0)
            return -1;
        if (csv_blank(r))
            continue;
        rc = csv_map_record(r, e);
        if (rc < 0)
            for (size_t c = 0; c < r->ncols; c++)
                r->fields[c] = "";
        return rc;
    }
}

const char *csv_field(const struct csv_reader *r, size_t col)
{
    return col < r->ncols ? r->fields[col] : "";
}

int csv_has_column(const struct csv_reader *r, size_t col)
{
    return col < r->ncols && r->has[col];
}

int csv_line(const struct csv_reader *r)
{
    return r->rec_line;
}

const char *csv_encoding(const struct csv_reader *r)
{
    return r->cp1251 ? "Windows-1251" : "UTF-8";
}

char csv_delimiter(const struct csv_reader *r)
{
    return r->delim;
}

off_t csv_bytes_read(const struct csv_reader *r)
{
    return r->consumed;
}

off_t csv_size(const struct csv_reader *r)
{
    return r->size;
}

void csv_close(struct csv_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    arena_free(r->arena);
}
