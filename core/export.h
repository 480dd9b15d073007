/*
 * export: the tables curators and administrators download (responses, participants,
 * indicator values) in CSV, CSV for Excel in a Russian locale, JSON and NDJSON, and in the
 * formats of plugins' exporters (XLSX comes from plugins/xlsx).
 *
 * Everything is streamed: rows come one at a time from the store's row walks and leave
 * through a sink, so a million responses are never held in memory. The same code writes to
 * a FILE for the command line and to an HTTP response for the server: a caller passes its
 * own sink. A plugin's exporter gets the rows one at a time too (plugin_api.h), and writes to
 * the same sink.
 *
 * Text cells of CSV that start with = + - @, a tab or a carriage return get a
 * leading apostrophe, so a spreadsheet never runs an answer as a formula (docs/exports.md).
 */
#ifndef ANKETA_EXPORT_H
#define ANKETA_EXPORT_H

#include <stddef.h>
#include <stdint.h>

struct err;
struct store;
struct survey_set;

/* Where the bytes go. write returns 0, or non-zero to stop the export (a closed connection). */
struct export_sink {
    int (*write)(void *ctx, const void *p, size_t n);
    void *ctx;
};

/* A sink writing to the FILE * in ctx. */
int export_sink_file(void *ctx, const void *p, size_t n);

enum export_format {
    EXPORT_CSV,       /* UTF-8 with BOM, ',' separated, CRLF, '.' decimals */
    EXPORT_CSV_EXCEL, /* UTF-8 with BOM, ';' separated, CRLF, ',' decimals */
    EXPORT_JSON,      /* one array of objects */
    EXPORT_NDJSON,    /* one object per line */
    EXPORT_NBUILTIN,
    /* EXPORT_PLUGIN + i: the i-th exporter of the loaded plugins (plugin_exporter_at), such
     * as XLSX from plugins/xlsx. */
    EXPORT_PLUGIN = EXPORT_NBUILTIN,
};

/*
 * "csv", "csv-excel", "json", "ndjson", or the format of a loaded plugin's exporter ("xlsx"):
 * 0, or -1 for anything else.
 */
int export_format_parse(const char *name, enum export_format *out);
/* Whether name is one of the formats of the core (which no plugin may take). */
int export_format_builtin(const char *name);
/* The formats there are, ", "-separated, for messages: "csv, csv-excel, json, ndjson, xlsx". */
void export_format_list(char *out, size_t size);
const char *export_format_name(enum export_format f);
/* The Content-Type of an HTTP download, e.g. "text/csv; charset=utf-8". */
const char *export_format_mime(enum export_format f);
/* The file name extension, without the dot: "csv", "json", "ndjson", a plugin's "xlsx". */
const char *export_format_ext(enum export_format f);
/* Whether the format is not text (a plugin's binary format: not for a terminal). */
int export_format_binary(enum export_format f);

/* ---- The format writers ---- */

enum export_type {
    EXPORT_COL_TEXT,   /* a string */
    EXPORT_COL_NUMBER, /* a number; a cell whose text is not a plain decimal stays text */
    EXPORT_COL_JSON,   /* JSON text (a multiple choice): embedded as JSON in JSON, text elsewhere */
};

struct export_column {
    const char *name;
    enum export_type type;
};

/*
 * One cell. With has_num, num is the value (NaN and infinities are empty); otherwise text,
 * NULL for an empty cell (null in JSON). A number column may also take its number as text
 * ("12", "-0.5": as answers are stored).
 */
struct export_value {
    const char *text;
    double num;
    int has_num;
};

struct export_options {
    const char *sheet;  /* a plugin's format: the table's name (default "export") */
    const char *tmpdir; /* a plugin's format: where temporary files go (default /tmp) */
};

struct export_writer;

/*
 * Starts a table: the header row of CSV, the opening bracket of JSON, a plugin's open. cols must
 * outlive the writer. opt may be NULL. On success *out is a writer to free with
 * export_writer_free().
 */
int export_writer_new(enum export_format f, const struct export_sink *sink,
                      const struct export_column *cols, size_t ncols,
                      const struct export_options *opt, struct export_writer **out, struct err *e);

/* Writes one row of ncols values. */
int export_writer_row(struct export_writer *w, const struct export_value *vals, struct err *e);

/* Ends the table and sends what is left to the sink (a plugin's XLSX: the whole workbook). */
int export_writer_finish(struct export_writer *w, struct err *e);

/* Frees the writer (a plugin's format: its close, which removes its temporary files). NULL is
 * fine. */
void export_writer_free(struct export_writer *w);

/* Rows written so far, and bytes handed to the sink. */
long export_writer_rows(const struct export_writer *w);
uint64_t export_writer_bytes(const struct export_writer *w);

/* ---- The tables ---- */

#define EXPORT_PSEUDONYM_LEN 16

/*
 * The stable pseudonym of a participant code: 16 base32 characters (A-Z, 2-7), the first 80
 * bits of HMAC-SHA-256 under the deployment's secret (store_secret) of "pseudonym|" and the
 * code. The same code gives the same pseudonym in every export of the deployment.
 */
void export_pseudonym(const unsigned char key[32], const char *code,
                      char out[EXPORT_PSEUDONYM_LEN + 1]);

enum export_table {
    EXPORT_RESPONSES,
    EXPORT_PARTICIPANTS,
    EXPORT_INDICATORS,
    EXPORT_FEDERAL, /* participant counts by form, role and age band (report.h) */
};

/* "responses", "participants", "indicators", "federal": 0, or -1. */
int export_table_parse(const char *name, enum export_table *out);
const char *export_table_name(enum export_table t);

struct export_request {
    enum export_table table;
    enum export_format format;
    const char *org_code;  /* required: the root of the subtree exported (access is the
                              caller's check: account_can_see) */
    const char *survey_id; /* NULL: every survey */
    const char *period;    /* NULL: any time; a period code such as 2026/27 or 2026/27-H1;
                              required for indicators, and a school year for federal */
    const char *region;    /* indicators: the region's folder name under lua/regions */
    int identified;        /* participants' codes (and names) instead of pseudonyms */
    int64_t user_id;       /* who asked, for the audit log; 0: the command line */
    const char *tmpdir;    /* a plugin's format: where temporary files go (default /tmp) */
};

struct export_result {
    long rows;
    uint64_t bytes;           /* handed to the sink: 0 means nothing was sent, so an error can still
                                 be answered as such */
    long unknown_surveys;     /* responses: surveys in scope without a loaded definition */
    char unknown_survey[128]; /* the first of them: their answers are not in the table */
};

enum {
    EXPORT_OK = 0,
    EXPORT_ERROR = -1,  /* the database, the sink, the temporary files, memory */
    EXPORT_INVALID = 1, /* the request: unknown organisation or survey, bad period, missing
                           region or period; nothing was written */
};

/*
 * Writes one table of the subtree of rq->org_code to sink, recording it in the audit log
 * first (action "export.<table>", the organisation code as object, the options as detail).
 * surveys gives the question columns of responses (it may be NULL for other tables). Nothing
 * reaches the sink before the request is checked and audited.
 */
int export_run(struct store *st, const struct survey_set *surveys, const struct export_request *rq,
               const struct export_sink *sink, struct export_result *res, struct err *e);

#endif
