/*
 * fuzz_csv: the CSV reader of `anketa import` over a block of memory, with the columns of
 * the participants file (the names and aliases are copied from core/import.c, so headers
 * that curators write map as they do there). Every value handed out must be UTF-8 within
 * the limits, and reading must come to an end.
 *
 * The reader works in 64 KiB chunks, and decides the encoding of a file whose first chunk is
 * ASCII at its first other byte, so short inputs never reach that logic. An input that
 * starts with FUZZ_CSV_LONG and a byte s is a long run: its first line (the header) is
 * followed by blank lines (which the reader skips) up to 64 KiB - s bytes, then by the rest,
 * so the chunk boundary falls s bytes into what the fuzzer wrote.
 */
#include "fuzz_common.h"

#include "arena.h"
#include "csv.h"
#include "err.h"

#include <stdlib.h>
#include <string.h>

#define FUZZ_ALIASES(...) ((const char *const[]){__VA_ARGS__, NULL})

static const struct csv_column fuzz_cols[] = {
    {"code", FUZZ_ALIASES("код", "код участника"), 1},
    {"organisation", FUZZ_ALIASES("organization", "организация", "оо", "код организации"), 1},
    {"programme", FUZZ_ALIASES("program", "программа", "код программы"), 0},
    {"role", FUZZ_ALIASES("роль"), 1},
    {"kind", FUZZ_ALIASES("категория", "тип участника"), 1},
    {"birth_year", FUZZ_ALIASES("год рождения"), 0},
    {"experience", FUZZ_ALIASES("experience_years", "стаж", "стаж, лет", "педагогический стаж"), 0},
    {"name", FUZZ_ALIASES("фио", "имя", "ф.и.о."), 0},
    {"consent_date", FUZZ_ALIASES("дата согласия", "согласие"), 0},
    {"consent_scope", FUZZ_ALIASES("объём согласия", "объем согласия"), 0},
    {"consent_by", FUZZ_ALIASES("согласие оформил", "кто оформил согласие"), 0},
};
#define FUZZ_NCOLS (sizeof fuzz_cols / sizeof fuzz_cols[0])

#define FUZZ_CSV_LONG  0x02
#define FUZZ_CSV_CHUNK (64 * 1024) /* core/csv.c's CSV_CHUNK */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static void fuzz_csv_error(const struct err *e, long fault)
{
    FUZZ_CHECK(e->msg[0] != '\0', "an error without a message");
    FUZZ_CHECK(fault || strcmp(e->msg, "out of memory") != 0,
               "out of memory without an injected fault");
    FUZZ_CHECK(e->line >= 0, "line %d", e->line);
}

/* The file of a long run (see the top), in a new heap block; NULL when out of memory. */
static char *fuzz_csv_long(const uint8_t *data, size_t size, size_t *len)
{
    size_t shift = data[0];
    data++;
    size--;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t head = nl ? (size_t)(nl - data) + 1 : size;
    size_t start = FUZZ_CSV_CHUNK - shift;
    if (start < head)
        start = head;
    char *s = malloc(start + (size - head));
    if (!s)
        return NULL;
    memcpy(s, data, head);
    memset(s + head, '\n', start - head);
    memcpy(s + start, data + head, size - head);
    *len = start + (size - head);
    return s;
}

static void fuzz_csv_read(const char *data, size_t size, long fault)
{
    struct csv_reader *r = NULL;
    struct err e = {0};
    if (csv_open_mem("fuzz.csv", data, size, fuzz_cols, FUZZ_NCOLS, &r, &e) < 0) {
        FUZZ_CHECK(r == NULL, "a failed open left a reader");
        fuzz_csv_error(&e, fault);
        return;
    }
    char d = csv_delimiter(r);
    FUZZ_CHECK(d == ';' || d == ',' || d == '\t', "delimiter %d", d);
    /* Each record, good or bad, takes at least one byte, so this many calls must reach the end. */
    size_t calls = 0;
    int line = csv_line(r), rc;
    while ((rc = csv_next(r, &e)) != 0) {
        FUZZ_CHECK(++calls <= size + 2, "csv_next has not ended after %zu calls", calls);
        if (rc < 0) {
            fuzz_csv_error(&e, fault);
            continue;
        }
        FUZZ_CHECK(rc == 1, "csv_next gave %d", rc);
        FUZZ_CHECK(csv_line(r) > line, "record at line %d after line %d", csv_line(r), line);
        line = csv_line(r);
        for (size_t c = 0; c <= FUZZ_NCOLS; c++) {
            const char *v = csv_field(r, c);
            size_t n = strlen(v);
            FUZZ_CHECK(n <= CSV_FIELD_MAX, "a value of %zu bytes", n);
            FUZZ_CHECK(fuzz_utf8_valid(v, n), "column %zu at line %d is not UTF-8", c, line);
            FUZZ_CHECK(c < FUZZ_NCOLS || n == 0, "a column out of range has a value");
            FUZZ_CHECK(csv_has_column(r, c) || n == 0, "column %zu is absent but has a value", c);
        }
    }
    const char *enc = csv_encoding(r);
    FUZZ_CHECK(strcmp(enc, "UTF-8") == 0 || strcmp(enc, "Windows-1251") == 0, "encoding %s", enc);
    FUZZ_CHECK(csv_bytes_read(r) <= (off_t)size, "read %lld of %zu bytes",
               (long long)csv_bytes_read(r), size);
    csv_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long fault = fuzz_fault_prefix(&data, &size);
    char *own = NULL;
    if (size >= 2 && data[0] == FUZZ_CSV_LONG) {
        own = fuzz_csv_long(data + 1, size - 1, &size);
        if (!own)
            return 0;
        data = (const uint8_t *)own;
    }
    arena_fail_after(fault);
    fuzz_csv_read((const char *)data, size, fault);
    arena_fail_after(0);
    free(own);
    return 0;
}
