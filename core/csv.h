/*
 * csv: the reader every `anketa import` goes through.
 *
 * A reader streams one file (or a block of memory) in 64 KiB chunks and hands out one record
 * at a time, so a 512 MiB file costs the same memory as a small one.
 *
 * Encoding: a UTF-8 byte order mark means UTF-8. Otherwise, when the first 64 KiB are valid
 * UTF-8 the file is UTF-8, and when they are not it is Windows-1251, converted to UTF-8 by
 * a table (no locale, no iconv). One exception: a window that is overwhelmingly UTF-8 with a
 * few broken bytes stays UTF-8, so the broken line is reported instead of the whole file being
 * silently misread. When the first 64 KiB are plain ASCII the first record with other bytes
 * decides instead (so csv_encoding() can change from "UTF-8" while reading). An invalid
 * sequence in a UTF-8 file is an error at its line. UTF-16 files and files with NUL bytes
 * (spreadsheets saved as .xlsx) are refused with a message.
 *
 * Delimiter: ';', ',' or tab, whichever occurs most often outside quotes in the header line;
 * ties go to ';' (the Russian Excel default), then ','.
 *
 * Syntax (RFC 4180 with the usual leniency): a field may be quoted; inside quotes the
 * delimiter and line breaks are data and "" is one quote. Line breaks are LF, CRLF or CR
 * (inside a quoted value they become LF). Spaces and tabs (tabs unless tab is the delimiter)
 * around unquoted values and around quoted ones are dropped; a quote inside an unquoted value
 * is an ordinary character. Records whose fields are all empty (blank lines, ";;;") are
 * skipped, the header included. Only spaces may follow a closing quote.
 *
 * Header: the first record names the columns. The caller lists the columns it knows; a header
 * name matches a column by its name or any alias, ignoring surrounding spaces, a trailing '*'
 * or ':', repeated inner spaces, and case (ASCII, Cyrillic А-Я and Ё). Columns with an empty
 * header are ignored, but a value under one is an error. Unknown, duplicate and missing
 * required columns are errors at the header line.
 *
 * Errors are reported as FILE:LINE (column 0 in struct err), LINE being the physical line
 * where the problem is: the record's first line, the line of an unclosed quote, or the line of
 * an invalid UTF-8 sequence inside a multi-line record.
 *
 * Memory: the reader owns every buffer (one arena, freed by csv_close). The strings of a
 * record are valid until the next csv_next() or csv_close(). Every allocation failure is an
 * "out of memory" error, never a crash.
 */
#ifndef ANKETA_CSV_H
#define ANKETA_CSV_H

#include <stddef.h>
#include <sys/types.h>

struct err;

/* Limits: a longer value or a wider record is an error at its line. */
#define CSV_FIELD_MAX  65536 /* bytes of one value, after conversion to UTF-8 */
#define CSV_FIELDS_MAX 1000  /* fields of one record */

/* One column the caller understands. aliases is NULL or a NULL-terminated list. */
struct csv_column {
    const char *name; /* canonical name, also matched, and shown in error messages */
    const char *const *aliases;
    int required;
};

struct csv_reader;

/*
 * Opens path, detects encoding and delimiter, reads the header and maps it onto cols
 * (which must outlive the reader). On success *out is the caller's, to csv_close();
 * on failure *out is NULL and e says what to fix.
 */
int csv_open(const char *path, const struct csv_column *cols, size_t ncols, struct csv_reader **out,
             struct err *e);

/* The same over len bytes at data, which must stay valid until csv_close(); name is used in
 * error messages (copied). */
int csv_open_mem(const char *name, const char *data, size_t len, const struct csv_column *cols,
                 size_t ncols, struct csv_reader **out, struct err *e);

/*
 * Reads the next non-empty record: 1 when there is one, 0 at the end, -1 on an error in a
 * record (e filled with FILE:LINE). After -1 the caller may call again to go on with the next
 * record (to list several errors); after an error that leaves nothing sensible to read (a read
 * failure, an unclosed quote, a NUL byte, out of memory) the next call returns 0.
 */
int csv_next(struct csv_reader *r, struct err *e);

/* The value of column col (an index into cols) in the current record: NUL-terminated UTF-8,
 * "" when the column is not in the file, the record is short, or col is out of range. */
const char *csv_field(const struct csv_reader *r, size_t col);

/* 1 when the header has column col: lets an update tell "absent" from "empty". */
int csv_has_column(const struct csv_reader *r, size_t col);

/* The physical line (1-based) where the current record starts (the header's after csv_open;
 * the last record's once csv_next has returned 0). */
int csv_line(const struct csv_reader *r);

/* "UTF-8" or "Windows-1251"; final once csv_next has returned 0. */
const char *csv_encoding(const struct csv_reader *r);

/* ';', ',' or '\t'. */
char csv_delimiter(const struct csv_reader *r);

/* Bytes taken from the file so far and its size (-1 when not known, as for a pipe):
 * for a progress bar. */
off_t csv_bytes_read(const struct csv_reader *r);
off_t csv_size(const struct csv_reader *r);

/* Closes the file and frees everything. NULL is allowed. */
void csv_close(struct csv_reader *r);

#endif
