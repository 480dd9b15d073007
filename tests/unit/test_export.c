/*
 * Tests of export: the exact bytes of every format writer (quoting, BOM, formula
 * neutralisation, Cyrillic, numbers), XLSX checked by unzipping it, and the tables walked
 * from a real SQLite file with two schools in two municipalities (scope, pseudonyms, the audit
 * of identified exports, periods, surveys, indicator values).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "arena.h"
#include "crypto.h"
#include "err.h"
#include "export.h"
#include "plugin.h"
#include "registry.h"
#include "response.h"
#include "store.h"
#include "survey.h"

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A sink into memory; it refuses everything once fail_at bytes would be exceeded (0: never). */
struct mem {
    char *p;
    size_t len, cap;
    size_t fail_at;
    int calls;
};

static int mem_write(void *ctx, const void *p, size_t n)
{
    struct mem *m = ctx;
    m->calls++;
    if (m->fail_at && m->len + n > m->fail_at)
        return -1;
    if (m->len + n + 1 > m->cap) {
        size_t cap = (m->len + n + 1) * 2;
        char *np = realloc(m->p, cap);
        if (!np)
            return -1;
        m->p = np;
        m->cap = cap;
    }
    memcpy(m->p + m->len, p, n);
    m->len += n;
    m->p[m->len] = '\0';
    return 0;
}

static void mem_free(struct mem *m)
{
    free(m->p);
    memset(m, 0, sizeof *m);
}

/* ---- The writers ---- */

static const struct export_column small_cols[] = {
    {"id", EXPORT_COL_NUMBER},
    {"name", EXPORT_COL_TEXT},
    {"score", EXPORT_COL_NUMBER},
    {"topics", EXPORT_COL_JSON},
};

#define NUM(v)                                                                                     \
    {                                                                                              \
        .num = (v), .has_num = 1                                                                   \
    }
#define TEXT(t)                                                                                    \
    {                                                                                              \
        .text = (t)                                                                                \
    }

/* A small table with every case a writer must get right. */
static void write_small(enum export_format f, struct mem *m, const struct export_options *opt)
{
    const struct export_value rows[][4] = {
        {NUM(1), TEXT("Иванов, Пётр"), TEXT("3.5"), TEXT("[\"study\",\"career\"]")},
        {NUM(2), TEXT("=SUM(A1:A9)"), NUM(0.1 + 0.2), {0}},
        {NUM(3), TEXT("say \"hi\"\r\nbye"), TEXT("-0.25"), TEXT("not json")},
        {NUM(-0.0), TEXT("-5"), NUM(NAN), TEXT("@x")},
        {NUM(1e15), TEXT("+7 900; tel"), TEXT("12abc"), {0}},
    };
    struct export_sink sink = {mem_write, m};
    struct export_writer *w;
    struct err e = {0};
    assert_int_equal(export_writer_new(f, &sink, small_cols, 4, opt, &w, &e), 0);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        assert_int_equal(export_writer_row(w, rows[i], &e), 0);
    assert_int_equal(export_writer_finish(w, &e), 0);
    assert_int_equal(export_writer_rows(w), 5);
    assert_int_equal(export_writer_bytes(w), m->len);
    export_writer_free(w);
}

static void test_csv_bytes(void **state)
{
    (void)state;
    struct mem m = {0};
    write_small(EXPORT_CSV, &m, NULL);
    assert_string_equal(m.p, "\xEF\xBB\xBF"
                             "id,name,score,topics\r\n"
                             "1,\"Иванов, Пётр\",3.5,\"[\"\"study\"\",\"\"career\"\"]\"\r\n"
                             "2,'=SUM(A1:A9),0.3,\r\n"
                             "3,\"say \"\"hi\"\"\r\nbye\",-0.25,not json\r\n"
                             "0,'-5,,'@x\r\n"
                             "1e+15,'+7 900; tel,12abc,\r\n");
    mem_free(&m);
}

static void test_csv_excel_bytes(void **state)
{
    (void)state;
    struct mem m = {0};
    write_small(EXPORT_CSV_EXCEL, &m, NULL);
    assert_string_equal(m.p, "\xEF\xBB\xBF"
                             "id;name;score;topics\r\n"
                             "1;Иванов, Пётр;3,5;\"[\"\"study\"\",\"\"career\"\"]\"\r\n"
                             "2;'=SUM(A1:A9);0,3;\r\n"
                             "3;\"say \"\"hi\"\"\r\nbye\";-0,25;not json\r\n"
                             "0;'-5;;'@x\r\n"
                             "1e+15;\"'+7 900; tel\";12abc;\r\n");
    mem_free(&m);
}

static void test_json_bytes(void **state)
{
    (void)state;
    struct mem m = {0};
    write_small(EXPORT_JSON, &m, NULL);
    assert_string_equal(
        m.p,
        "[\n"
        "{\"id\":1,\"name\":\"Иванов, Пётр\",\"score\":3.5,\"topics\":[\"study\",\"career\"]},\n"
        "{\"id\":2,\"name\":\"=SUM(A1:A9)\",\"score\":0.3,\"topics\":null},\n"
        "{\"id\":3,\"name\":\"say \\\"hi\\\"\\r\\nbye\",\"score\":-0.25,\"topics\":\"not json\"},\n"
        "{\"id\":0,\"name\":\"-5\",\"score\":null,\"topics\":\"@x\"},\n"
        "{\"id\":1e+15,\"name\":\"+7 900; tel\",\"score\":\"12abc\",\"topics\":null}\n"
        "]\n");
    /* And it is JSON. */
    json_error_t je;
    json_t *j = json_loads(m.p, 0, &je);
    assert_non_null(j);
    assert_int_equal(json_array_size(j), 5);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 2), "name")),
                        "say \"hi\"\r\nbye");
    json_decref(j);
    mem_free(&m);
}

static void test_ndjson_bytes(void **state)
{
    (void)state;
    struct mem m = {0};
    write_small(EXPORT_NDJSON, &m, NULL);
    assert_string_equal(
        m.p,
        "{\"id\":1,\"name\":\"Иванов, Пётр\",\"score\":3.5,\"topics\":[\"study\",\"career\"]}\n"
        "{\"id\":2,\"name\":\"=SUM(A1:A9)\",\"score\":0.3,\"topics\":null}\n"
        "{\"id\":3,\"name\":\"say \\\"hi\\\"\\r\\nbye\",\"score\":-0.25,\"topics\":\"not json\"}\n"
        "{\"id\":0,\"name\":\"-5\",\"score\":null,\"topics\":\"@x\"}\n"
        "{\"id\":1e+15,\"name\":\"+7 900; tel\",\"score\":\"12abc\",\"topics\":null}\n");
    mem_free(&m);
}

/* Empty tables are still well-formed; bad bytes and control characters are escaped. */
static void test_json_empty_and_escapes(void **state)
{
    (void)state;
    static const struct export_column cols[] = {{"t\"x", EXPORT_COL_TEXT}};
    const enum export_format fmts[] = {EXPORT_JSON, EXPORT_NDJSON, EXPORT_CSV};
    const char *empty[] = {"[]\n", "", "\xEF\xBB\xBF\"t\"\"x\"\r\n"};
    for (size_t i = 0; i < 3; i++) {
        struct mem m = {0};
        struct export_sink sink = {mem_write, &m};
        struct export_writer *w;
        struct err e = {0};
        assert_int_equal(export_writer_new(fmts[i], &sink, cols, 1, NULL, &w, &e), 0);
        assert_int_equal(export_writer_finish(w, &e), 0);
        export_writer_free(w);
        assert_string_equal(m.p ? m.p : "", empty[i]);
        mem_free(&m);
    }
    struct mem m = {0};
    struct export_sink sink = {mem_write, &m};
    struct export_writer *w;
    struct err e = {0};
    assert_int_equal(export_writer_new(EXPORT_NDJSON, &sink, cols, 1, NULL, &w, &e), 0);
    const struct export_value v[] = {TEXT("a\x01z\xff\xc3(\\\t\xe2\x80\xa8ё")};
    assert_int_equal(export_writer_row(w, v, &e), 0);
    assert_int_equal(export_writer_finish(w, &e), 0);
    export_writer_free(w);
    assert_string_equal(m.p, "{\"t\\\"x\":\"a\\u0001z\\ufffd\\ufffd(\\\\\\t\xe2\x80\xa8ё\"}\n");
    mem_free(&m);
}

/* Output is buffered (few calls of the sink), a row larger than the buffer goes through, and
 * a sink that refuses makes the writer fail with a message. */
static void test_sink_buffering_and_failure(void **state)
{
    (void)state;
    static const struct export_column cols[] = {{"n", EXPORT_COL_NUMBER}, {"t", EXPORT_COL_TEXT}};
    char *big = malloc(100001);
    assert_non_null(big);
    memset(big, 'x', 100000);
    big[100000] = '\0';
    struct mem m = {0};
    struct export_sink sink = {mem_write, &m};
    struct export_writer *w;
    struct err e = {0};
    assert_int_equal(export_writer_new(EXPORT_CSV, &sink, cols, 2, NULL, &w, &e), 0);
    for (int i = 0; i < 10000; i++) {
        struct export_value v[] = {NUM(i), TEXT("abcdefghij")};
        assert_int_equal(export_writer_row(w, v, &e), 0);
    }
    struct export_value v[] = {NUM(-1), TEXT(big)};
    assert_int_equal(export_writer_row(w, v, &e), 0);
    assert_int_equal(export_writer_finish(w, &e), 0);
    assert_int_equal(export_writer_bytes(w), m.len);
    export_writer_free(w);
    assert_true(m.calls < 10);
    /* Each row is its digits, a comma, ten letters and CRLF. */
    assert_int_equal(m.len, 3 + 5 + 10 * (1 + 13) + 90 * (2 + 13) + 900 * (3 + 13) +
                                9000 * (4 + 13) + 3 + 100000 + 2);
    assert_memory_equal(m.p + m.len - 100005, "-1,xx", 5);
    mem_free(&m);

    struct mem refuse = {.fail_at = 1};
    sink.ctx = &refuse;
    assert_int_equal(export_writer_new(EXPORT_CSV, &sink, cols, 2, NULL, &w, &e), 0);
    assert_int_equal(export_writer_row(w, v, &e), -1);
    assert_non_null(strstr(e.msg, "the output could not be written"));
    export_writer_free(w);
    mem_free(&refuse);
    free(big);
}

/* XLSX comes from the plugin: the ASan build `make unit` makes. Unloaded by the test's end. */
static enum export_format xlsx_loaded(void)
{
    struct err e = {0};
    enum export_format f;
    if (export_format_parse("xlsx", &f) == 0)
        return f;
    if (plugin_load("build/asan/plugins/xlsx.so", &e) < 0)
        fail_msg("cannot load the xlsx plugin: %s", e.msg);
    assert_int_equal(export_format_parse("xlsx", &f), 0);
    return f;
}

static void test_format_names(void **state)
{
    (void)state;
    enum export_format f;
    assert_int_equal(export_format_parse("xlsx", &f), -1); /* no plugin, no XLSX */
    xlsx_loaded();
    assert_int_equal(export_format_parse("csv-excel", &f), 0);
    assert_int_equal(f, EXPORT_CSV_EXCEL);
    assert_int_equal(export_format_parse("xlsx", &f), 0);
    assert_string_equal(export_format_mime(f),
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    assert_string_equal(export_format_ext(EXPORT_NDJSON), "ndjson");
    assert_string_equal(export_format_mime(EXPORT_CSV), "text/csv; charset=utf-8");
    assert_int_equal(export_format_parse("xls", &f), -1);
    plugin_unload_all();
    enum export_table t;
    assert_int_equal(export_table_parse("participants", &t), 0);
    assert_int_equal(t, EXPORT_PARTICIPANTS);
    assert_int_equal(export_table_parse("pairs", &t), -1);
}

/* Runs cmd through the shell and returns its standard output (malloc'd). */
static char *run_out(const char *cmd, int *status)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    size_t n;
    while ((n = fread(out + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 2) {
            cap *= 2;
            out = realloc(out, cap);
            assert_non_null(out);
        }
    }
    out[len] = '\0';
    int st = pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

static int dir_entries(const char *path)
{
    DIR *d = opendir(path);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *de; (de = readdir(d));)
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void test_xlsx_cells(void **state)
{
    (void)state;
    char dir[] = "/tmp/anketa-test-export-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct export_options opt = {.sheet = "ответы", .tmpdir = dir};
    struct mem m = {0};
    write_small(xlsx_loaded(), &m, &opt);
    assert_int_equal(dir_entries(dir), 0); /* the workbook's files are gone */
    assert_memory_equal(m.p, "PK\x03\x04", 4);
    char path[128], cmd[1024];
    snprintf(path, sizeof path, "%s/t.xlsx", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(m.p, 1, m.len, f), m.len);
    fclose(f);

    int status;
    snprintf(cmd, sizeof cmd, "unzip -p %s xl/worksheets/sheet1.xml", path);
    char *xml = run_out(cmd, &status);
    assert_int_equal(status, 0);
    assert_non_null(strstr(xml, "<pane ySplit=\"1\" topLeftCell=\"A2\" activePane=\"bottomLeft\" "
                                "state=\"frozen\"/>"));
    free(xml);
    /* Every cell where a spreadsheet puts it: a cell without a reference follows the one
     * before it in its row (rows follow each other), as ECMA-376 reads them. */
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import sys, zipfile, re, xml.etree.ElementTree as E\n"
             "m = \"{http://schemas.openxmlformats.org/spreadsheetml/2006/main}\"\n"
             "def col(n):\n"
             "  s = \"\"\n"
             "  while n: n, r = divmod(n - 1, 26); s = chr(65 + r) + s\n"
             "  return s\n"
             "def num(ref): return sum((ord(ch) - 64) * 26 ** i for i, ch in "
             "enumerate(reversed(re.match(\"[A-Z]+\", ref).group())))\n"
             "rows = E.fromstring(zipfile.ZipFile(sys.argv[1]).read(\"xl/worksheets/sheet1.xml\"))"
             ".iter(m + \"row\")\n"
             "for r, row in enumerate(rows, 1):\n"
             "  c = 0\n"
             "  for cell in row:\n"
             "    c = num(cell.get(\"r\")) if cell.get(\"r\") else c + 1\n"
             "    kind = \"s\" if cell.get(\"t\") == \"inlineStr\" else \"n\"\n"
             "    bold = \"b\" if cell.get(\"s\") == \"1\" else \"\"\n"
             "    print(\"%%s%%d %%s%%s %%s\" %% (col(c), r, kind, bold, "
             "\"\".join(cell.itertext())))' %s",
             path);
    char *cells = run_out(cmd, &status);
    assert_int_equal(status, 0);
    const char *expect[] = {
        "A1 sb id\n",
        "D1 sb topics\n",
        "A2 n 1\n",
        "B2 s Иванов, Пётр\n",
        "C2 n 3.5\n",
        "D2 s [\"study\",\"career\"]\n",
        "B4 s say \"hi\"_x000D_\nbye\n",
        "B3 s '=SUM(A1:A9)\n",
        "C3 n 0.3\n",
        "C4 n -0.25\n",
        "B5 s '-5\n",
        "D5 s '@x\n",
        "C6 s 12abc\n",
    };
    for (size_t i = 0; i < sizeof expect / sizeof *expect; i++)
        if (!strstr(cells, expect[i]))
            fail_msg("the sheet lacks %s:\n%s", expect[i], cells);
    assert_null(strstr(cells, "\nC5 ")); /* NaN: no cell */
    assert_null(strstr(cells, "\nD3 ")); /* NULL: no cell */
    free(cells);
    snprintf(cmd, sizeof cmd, "unzip -p %s xl/workbook.xml xl/styles.xml", path);
    xml = run_out(cmd, &status);
    assert_int_equal(status, 0);
    assert_non_null(strstr(xml, "<sheet name=\"ответы\" sheetId=\"1\""));
    assert_non_null(strstr(xml, "<b/>"));
    free(xml);

    /* Python's zipfile reads it as a whole, and the cells parse as XML. */
    if (access("/usr/bin/python3", X_OK) == 0 || system("command -v python3 >/dev/null") == 0) {
        snprintf(cmd, sizeof cmd,
                 "python3 -c 'import sys, zipfile, xml.etree.ElementTree as E\n"
                 "z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None\n"
                 "ns = {\"m\": \"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"}\n"
                 "rows = E.fromstring(z.read(\"xl/worksheets/sheet1.xml\"))"
                 ".findall(\".//m:sheetData/m:row\", ns)\n"
                 "c = rows[3].findall(\"m:c\", ns)\n"
                 "print(len(rows), c[0].find(\"m:v\", ns).text, "
                 "\"\".join(c[2].itertext()), c[1].find(\"m:is/m:t\", ns).text)' %s",
                 path);
        char *py = run_out(cmd, &status);
        assert_int_equal(status, 0);
        /* A carriage return is written as Excel's escape _x000D_ (XML would fold it). */
        assert_string_equal(py, "6 3 -0.25 say \"hi\"_x000D_\nbye\n");
        free(py);
    }
    unlink(path);
    rmdir(dir);
    mem_free(&m);
    plugin_unload_all();
}

/* A workbook is streamed: no file on disk at any time; one abandoned half-way was never
 * finished (no end of its zip was sent); a receiver that goes away stops the rows. */
static void test_xlsx_abandoned(void **state)
{
    (void)state;
    char dir[] = "/tmp/anketa-test-export-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct export_options opt = {.tmpdir = dir};
    struct mem m = {0};
    struct export_sink sink = {mem_write, &m};
    struct export_writer *w;
    struct err e = {0};
    enum export_format xlsx = xlsx_loaded();
    assert_int_equal(export_writer_new(xlsx, &sink, small_cols, 4, &opt, &w, &e), 0);
    char text[64];
    struct export_value v[] = {NUM(1), TEXT(text), NUM(2), {0}};
    for (int i = 0; i < 50000; i++) {
        snprintf(text, sizeof text, "ответ %d, %x", i * 7919, (unsigned)i * 2654435761u);
        assert_int_equal(export_writer_row(w, v, &e), 0);
    }
    assert_int_equal(dir_entries(dir), 0);
    assert_true(m.len > 0); /* the download has started */
    export_writer_free(w);
    assert_int_equal(dir_entries(dir), 0);
    for (size_t i = 0; i + 4 <= m.len; i++) /* no end of central directory */
        assert_false(memcmp(m.p + i, "PK\x05\x06", 4) == 0);
    rmdir(dir);
    mem_free(&m);

    /* The receiver goes away: the next rows fail, and say why. */
    struct mem gone = {.fail_at = 1};
    sink.ctx = &gone;
    assert_int_equal(export_writer_new(xlsx, &sink, small_cols, 4, &opt, &w, &e), 0);
    int rc = 0;
    for (int i = 0; i < 100000 && rc == 0; i++) {
        snprintf(text, sizeof text, "ответ %d, %x", i * 7919, (unsigned)i * 2654435761u);
        rc = export_writer_row(w, v, &e);
    }
    assert_int_equal(rc, -1);
    assert_non_null(strstr(e.msg, "the receiver stopped"));
    export_writer_free(w);
    mem_free(&gone);
    plugin_unload_all();
}

static void test_pseudonym_known_answer(void **state)
{
    (void)state;
    unsigned char key[32];
    for (int i = 0; i < 32; i++)
        key[i] = (unsigned char)i;
    char out[EXPORT_PSEUDONYM_LEN + 1];
    /* HMAC-SHA-256(key, "pseudonym|" code), its first 10 bytes in RFC 4648 base32. */
    export_pseudonym(key, "A-1", out);
    assert_string_equal(out, "AG7FPGFEPNRGNFGA");
    export_pseudonym(key, "DEMO-0001", out);
    assert_string_equal(out, "TR4YKGN4HE4GZM7S");
    key[0] ^= 1;
    export_pseudonym(key, "DEMO-0001", out);
    assert_string_not_equal(out, "TR4YKGN4HE4GZM7S");
}

/* ---- The tables, from a real database ---- */

struct fx {
    char dir[64];
    char path[128];
    struct store *s;
    struct survey *survey;
    struct survey_set set;
    char year[8];   /* the school year of today, when the responses are submitted */
    int start_year; /* its first year */
    int64_t sch_a_id;
};

static struct store *fx_open(struct fx *f)
{
    struct store *s = NULL;
    struct err e = {0};
    struct store_options opt = {.migrate = 1};
    if (store_open(f->path, &opt, &s, &e) < 0)
        fail_msg("%s", e.msg);
    return s;
}

static void fx_check(int rc, const struct err *e)
{
    if (rc != STORE_OK)
        fail_msg("store: %s", e->msg);
}

static void fx_org(struct fx *f, const char *parent, const char *level, const char *code,
                   const char *name)
{
    struct err e = {0};
    struct org_rec o = {.code = code, .parent_code = parent, .level = level, .name = name};
    fx_check(store_put_org(f->s, &o, NULL, &e), &e);
}

static void fx_participant(struct fx *f, const char *code, const char *org, const char *prog,
                           const char *name)
{
    struct err e = {0};
    struct participant_rec p = {.code = code,
                                .org_code = org,
                                .programme_code = prog,
                                .role = "mentee",
                                .kind = "pupil",
                                .name = name,
                                .birth_year = 2012,
                                .experience_years = -1,
                                .consent_date = "2026-09-01",
                                .consent_scope = "анкеты",
                                .consent_by = "Куратор"};
    fx_check(store_put_participant(f->s, &p, NULL, &e), &e);
}

/* A response of participant code to survey s with the given answers (id, value) and score. */
static void fx_respond(struct fx *f, const struct survey *s, const char *code,
                       const char *const *answers, size_t n, double mood)
{
    struct err e = {0};
    char token[CRYPTO_TOKEN_LEN + 1];
    fx_check(store_put_invitation(f->s, code, s->id, token, &e), &e);
    struct arena *a = arena_new();
    assert_non_null(a);
    struct invitation inv;
    fx_check(store_invitation_by_token(f->s, a, token, &inv, &e), &e);
    struct answer ans[8];
    for (size_t i = 0; i < n; i++) {
        ans[i].q = survey_question(s, answers[2 * i]);
        assert_non_null(ans[i].q);
        ans[i].value = answers[2 * i + 1];
    }
    struct score sc = {.id = "mood", .value = mood, .items = 2};
    struct response r = {
        .survey = s, .answers = ans, .nanswers = n, .scores = &sc, .nscores = s->nscales ? 1 : 0};
    fx_check(store_put_response(f->s, &inv, &r, &e), &e);
    arena_free(a);
}

static struct question old_questions[] = {{.id = "q1", .type = Q_TEXT}};
static struct survey old_survey = {
    .id = "old-survey", .version = 1, .questions = old_questions, .nquestions = 1, .hash = "feed"};

static int setup_db(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/anketa-test-export-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/a.db", f->dir);
    f->s = fx_open(f);
    struct err e = {0};
    if (survey_load("tests/data/export/feedback.yaml", &f->survey, &e) < 0)
        fail_msg("%s", e.msg);
    f->set.items = &f->survey;
    f->set.n = 1;

    char today[11];
    time_t now = time(NULL);
    strftime(today, sizeof today, "%Y-%m-%d", gmtime(&now));
    assert_int_equal(registry_school_year(today, f->year), 0);
    struct period p;
    assert_int_equal(registry_period_parse(f->year, &p), 0);
    f->start_year = p.year;

    fx_org(f, NULL, "region", "reg", "Область");
    fx_org(f, "reg", "municipality", "mun-1", "Муниципалитет 1");
    fx_org(f, "reg", "municipality", "mun-2", "Муниципалитет 2");
    fx_org(f, "mun-1", "organisation", "sch-a", "Школа «А»");
    fx_org(f, "mun-2", "organisation", "sch-b", "Школа Б");
    fx_check(store_put_programme(f->s, "sch-a", "prog-a", "pupil-pupil", "Программа А",
                                 f->start_year, NULL, &e),
             &e);
    fx_check(store_put_programme(f->s, "sch-b", "prog-b", "student-pupil", "Программа Б",
                                 f->start_year, NULL, &e),
             &e);
    fx_participant(f, "A-1", "sch-a", "prog-a", "Анна");
    fx_participant(f, "A-2", "sch-a", "prog-a", NULL);
    fx_participant(f, "B-1", "sch-b", "prog-b", NULL);
    const char *a1[] = {
        "rating",       "4",     "comment",   "=cmd", "topics",    "[\"study\",\"other\"]",
        "topics.other", "Спорт", "grid.calm", "5",    "grid.busy", "2"};
    const char *a2[] = {"rating", "2"};
    const char *b1[] = {"rating", "5", "comment", "Хорошо, спасибо"};
    fx_respond(f, f->survey, "A-1", a1, 6, 4.5);
    fx_respond(f, f->survey, "A-2", a2, 1, 2);
    fx_respond(f, f->survey, "B-1", b1, 2, 5);
    const char *old[] = {"q1", "старый ответ"};
    fx_respond(f, &old_survey, "A-2", old, 1, 0);
    struct arena *a = arena_new();
    struct org_info info;
    fx_check(store_org_get(f->s, a, "sch-a", &info, &e), &e);
    f->sch_a_id = info.id;
    arena_free(a);
    *state = f;
    return 0;
}

static int teardown_db(void **state)
{
    struct fx *f = *state;
    store_close(f->s);
    survey_free(f->survey);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* Runs one export into m; returns export_run's code. */
static int fx_export(struct fx *f, enum export_table t, enum export_format fmt, const char *org,
                     const char *survey, const char *period, int identified, struct mem *m,
                     struct export_result *res, struct err *e)
{
    struct export_request rq = {.table = t,
                                .format = fmt,
                                .org_code = org,
                                .survey_id = survey,
                                .period = period,
                                .identified = identified,
                                .region = "demo",
                                .tmpdir = f->dir};
    struct export_sink sink = {mem_write, m};
    return export_run(f->s, &f->set, &rq, &sink, res, e);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; (s = strstr(s, "\r\n")); s += 2)
        n++;
    return n;
}

struct walk {
    int n;
    int64_t ids[8];
    size_t answers[8];
    int stop_after;
};

static int walk_row(void *ctx, const struct store_export_response *row)
{
    struct walk *w = ctx;
    w->ids[w->n] = row->id;
    w->answers[w->n] = row->nanswers;
    w->n++;
    return w->stop_after && w->n >= w->stop_after;
}

static void test_store_walk_scope(void **state)
{
    struct fx *f = *state;
    struct err e = {0};
    struct walk w = {0};
    struct store_export_scope sc = {.org_code = "sch-a", .survey_id = "feedback"};
    assert_int_equal(store_export_responses(f->s, &sc, walk_row, &w, &e), STORE_OK);
    assert_int_equal(w.n, 2);
    assert_int_equal(w.answers[0], 6);
    assert_int_equal(w.answers[1], 1);
    assert_true(w.ids[0] < w.ids[1]);

    memset(&w, 0, sizeof w);
    sc.org_code = "mun-2";
    assert_int_equal(store_export_responses(f->s, &sc, walk_row, &w, &e), STORE_OK);
    assert_int_equal(w.n, 1);
    assert_int_equal(w.answers[0], 2);

    /* The region: every survey; a walk stopped by its callback ends well. */
    memset(&w, 0, sizeof w);
    sc = (struct store_export_scope){.org_code = "reg"};
    assert_int_equal(store_export_responses(f->s, &sc, walk_row, &w, &e), STORE_OK);
    assert_int_equal(w.n, 4);
    memset(&w, 0, sizeof w);
    w.stop_after = 1;
    assert_int_equal(store_export_responses(f->s, &sc, walk_row, &w, &e), STORE_OK);
    assert_int_equal(w.n, 1);

    struct arena *a = arena_new();
    const char **ids;
    size_t n;
    assert_int_equal(store_export_surveys(f->s, a, &sc, &ids, &n, &e), STORE_OK);
    assert_int_equal(n, 2);
    assert_string_equal(ids[0], "feedback");
    assert_string_equal(ids[1], "old-survey");
    arena_free(a);
}

static void test_responses_csv(void **state)
{
    struct fx *f = *state;
    struct mem m = {0};
    struct export_result res;
    struct err e = {0};
    assert_int_equal(
        fx_export(f, EXPORT_RESPONSES, EXPORT_CSV, "sch-a", "feedback", NULL, 0, &m, &res, &e),
        EXPORT_OK);
    assert_int_equal(res.rows, 2);
    assert_int_equal(res.bytes, m.len);
    const char *header = "\xEF\xBB\xBF"
                         "response_id,participant_key,org_code,org_name,municipality,form,"
                         "survey_id,survey_version,survey_hash,submitted_at,rating,comment,"
                         "topics,topics.other,grid.calm,grid.busy,scale:mood\r\n";
    assert_memory_equal(m.p, header, strlen(header));
    assert_int_equal(count_lines(m.p), 3);

    unsigned char key[32];
    fx_check(store_secret(f->s, key, &e), &e);
    char p1[EXPORT_PSEUDONYM_LEN + 1], p2[EXPORT_PSEUDONYM_LEN + 1], expect[512];
    export_pseudonym(key, "A-1", p1);
    export_pseudonym(key, "A-2", p2);
    assert_string_not_equal(p1, p2);
    snprintf(expect, sizeof expect,
             ",%s,sch-a,Школа «А»,Муниципалитет 1,pupil-pupil,feedback,2,%s,", p1, f->survey->hash);
    assert_non_null(strstr(m.p, expect));
    assert_non_null(strstr(m.p, "Z,4,'=cmd,\"[\"\"study\"\",\"\"other\"\"]\",Спорт,5,2,4.5\r\n"));
    assert_non_null(strstr(m.p, p2));
    assert_non_null(strstr(m.p, "Z,2,,,,,,2\r\n"));
    /* No code of a participant, no school of the other municipality. */
    assert_null(strstr(m.p, "A-1"));
    assert_null(strstr(m.p, "A-2"));
    assert_null(strstr(m.p, "sch-b"));

    /* The same export after reopening the database: the same bytes, pseudonyms included. */
    store_close(f->s);
    f->s = fx_open(f);
    struct mem again = {0};
    assert_int_equal(
        fx_export(f, EXPORT_RESPONSES, EXPORT_CSV, "sch-a", "feedback", NULL, 0, &again, &res, &e),
        EXPORT_OK);
    assert_int_equal(again.len, m.len);
    assert_memory_equal(again.p, m.p, m.len);
    mem_free(&again);
    mem_free(&m);
}

static void test_responses_json_scope_and_period(void **state)
{
    struct fx *f = *state;
    struct mem m = {0};
    struct export_result res;
    struct err e = {0};
    assert_int_equal(
        fx_export(f, EXPORT_RESPONSES, EXPORT_JSON, "reg", "feedback", f->year, 1, &m, &res, &e),
        EXPORT_OK);
    json_error_t je;
    json_t *j = json_loads(m.p, 0, &je);
    assert_non_null(j);
    assert_int_equal(json_array_size(j), 3);
    json_t *first = json_array_get(j, 0);
    assert_string_equal(json_string_value(json_object_get(first, "participant_code")), "A-1");
    json_t *topics = json_object_get(first, "topics");
    assert_true(json_is_array(topics));
    assert_string_equal(json_string_value(json_array_get(topics, 1)), "other");
    assert_int_equal(json_integer_value(json_object_get(first, "rating")), 4);
    assert_true(json_real_value(json_object_get(first, "scale:mood")) == 4.5);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 2), "org_code")),
                        "sch-b");
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 2), "municipality")),
                        "Муниципалитет 2");
    json_decref(j);
    mem_free(&m);

    /* A period with no responses: the header alone. */
    assert_int_equal(
        fx_export(f, EXPORT_RESPONSES, EXPORT_CSV, "reg", "feedback", "2020/21", 0, &m, &res, &e),
        EXPORT_OK);
    assert_int_equal(res.rows, 0);
    assert_int_equal(count_lines(m.p), 1);
    mem_free(&m);
}

/* Without a survey: the surveys answered in the scope share the table, their columns named
 * "<survey>:<question>"; one without a questionnaire file keeps its rows, not its answers. */
static void test_responses_every_survey(void **state)
{
    struct fx *f = *state;
    struct mem m = {0};
    struct export_result res;
    struct err e = {0};
    assert_int_equal(
        fx_export(f, EXPORT_RESPONSES, EXPORT_CSV, "sch-a", NULL, NULL, 0, &m, &res, &e),
        EXPORT_OK);
    assert_int_equal(res.rows, 3);
    assert_int_equal(res.unknown_surveys, 1);
    assert_string_equal(res.unknown_survey, "old-survey");
    assert_non_null(strstr(m.p, ",submitted_at,feedback:rating,feedback:comment,"));
    assert_non_null(strstr(m.p, ",feedback:grid.busy,feedback:scale:mood\r\n"));
    assert_non_null(strstr(m.p, ",old-survey,1,feed,"));
    assert_null(strstr(m.p, "старый ответ"));
    mem_free(&m);
}

static void test_participants_pseudonymised_and_identified(void **state)
{
    struct fx *f = *state;
    struct mem m = {0};
    struct export_result res;
    struct err e = {0};
    assert_int_equal(
        fx_export(f, EXPORT_PARTICIPANTS, EXPORT_CSV, "reg", NULL, NULL, 0, &m, &res, &e),
        EXPORT_OK);
    assert_int_equal(res.rows, 3);
    const char *header = "\xEF\xBB\xBF"
                         "participant_key,org_code,org_name,municipality,programme_code,form,"
                         "role,kind,birth_year,experience_years,consent_date,responses\r\n";
    assert_memory_equal(m.p, header, strlen(header));
    unsigned char key[32];
    fx_check(store_secret(f->s, key, &e), &e);
    char p[EXPORT_PSEUDONYM_LEN + 1], line[512];
    export_pseudonym(key, "A-2", p);
    snprintf(line, sizeof line,
             "%s,sch-a,Школа «А»,Муниципалитет 1,prog-a,pupil-pupil,mentee,pupil,2012,,"
             "2026-09-01,2\r\n",
             p);
    assert_non_null(strstr(m.p, line));
    assert_null(strstr(m.p, "A-1"));
    assert_null(strstr(m.p, "B-1"));
    assert_null(strstr(m.p, "Анна"));
    assert_null(strstr(m.p, "Куратор"));
    mem_free(&m);

    struct arena *a = arena_new();
    struct audit_row *rows;
    size_t n;
    fx_check(store_audit_list(f->s, a, 100, &rows, &n, &e), &e);
    size_t before = n;
    assert_true(n >= 1);
    assert_string_equal(rows[0].action, "export.participants");
    assert_string_equal(rows[0].detail, "format=csv");

    assert_int_equal(fx_export(f, EXPORT_PARTICIPANTS, EXPORT_NDJSON, "sch-a", "feedback", f->year,
                               1, &m, &res, &e),
                     EXPORT_OK);
    assert_int_equal(res.rows, 2);
    assert_non_null(strstr(m.p, "{\"participant_code\":\"A-1\",\"name\":\"Анна\","
                                "\"org_code\":\"sch-a\""));
    assert_non_null(strstr(m.p, "\"consent_scope\":\"анкеты\",\"consent_by\":\"Куратор\","
                                "\"responses\":1}\n"));
    fx_check(store_audit_list(f->s, a, 100, &rows, &n, &e), &e);
    assert_int_equal(n, before + 1);
    assert_string_equal(rows[0].action, "export.participants");
    assert_string_equal(rows[0].object, "sch-a");
    char detail[128];
    snprintf(detail, sizeof detail, "format=ndjson survey=feedback period=%s identified", f->year);
    assert_string_equal(rows[0].detail, detail);
    arena_free(a);
    mem_free(&m);

    /* Participants of a period long gone, or invited to a survey nobody was: none. */
    assert_int_equal(
        fx_export(f, EXPORT_PARTICIPANTS, EXPORT_CSV, "reg", NULL, "2020/21", 0, &m, &res, &e),
        EXPORT_OK);
    assert_int_equal(res.rows, 0);
    mem_free(&m);
    assert_int_equal(
        fx_export(f, EXPORT_PARTICIPANTS, EXPORT_CSV, "reg", "nobody", NULL, 0, &m, &res, &e),
        EXPORT_OK);
    assert_int_equal(res.rows, 0);
    mem_free(&m);
}

static void test_indicator_values(void **state)
{
    struct fx *f = *state;
    struct err e = {0};
    struct ind_value_rec v = {.region = "demo",
                              .indicator = "kpi1",
                              .period = "2026/27",
                              .org_id = f->sch_a_id,
                              .has_num = 1,
                              .num = 1,
                              .den = 2,
                              .has_value = 1,
                              .value = 0.5,
                              .script_hash = "h"};
    fx_check(store_ind_put_value(f->s, &v, &e), &e);
    struct mem m = {0};
    struct export_result res;
    assert_int_equal(fx_export(f, EXPORT_INDICATORS, EXPORT_CSV_EXCEL, "mun-1", NULL, "2026/27", 0,
                               &m, &res, &e),
                     EXPORT_OK);
    assert_int_equal(res.rows, 1);
    assert_non_null(strstr(m.p, "indicator;org_code;org_name;level;period;value;num;den;n;target;"
                                "error;computed_at\r\n"
                                "kpi1;sch-a;Школа «А»;organisation;2026/27;0,5;1;2;;;;"));
    mem_free(&m);
    /* Outside the subtree: nothing. */
    assert_int_equal(
        fx_export(f, EXPORT_INDICATORS, EXPORT_CSV, "mun-2", NULL, "2026/27", 0, &m, &res, &e),
        EXPORT_OK);
    assert_int_equal(res.rows, 0);
    mem_free(&m);
}

/* A wrong request is refused before anything is written or audited. */
static void test_invalid_requests(void **state)
{
    struct fx *f = *state;
    struct err e = {0};
    struct arena *a = arena_new();
    struct audit_row *rows;
    size_t before, after;
    fx_check(store_audit_list(f->s, a, 1000, &rows, &before, &e), &e);
    struct {
        enum export_table t;
        const char *org, *survey, *period, *msg;
    } cases[] = {
        {EXPORT_RESPONSES, "sch-z", NULL, NULL, "unknown organisation \"sch-z\""},
        {EXPORT_RESPONSES, "sch-a", "nope", NULL,
         "unknown survey \"nope\" (no questionnaire file defines it)"},
        {EXPORT_PARTICIPANTS, "sch-a", NULL, "spring",
         "\"spring\" is not a period (a school year such as 2026/27, or 2026/27-H1, "
         "2026/27-Q3)"},
        {EXPORT_INDICATORS, "sch-a", NULL, NULL,
         "indicator values need a region (--region) and a period (--period)"},
        {EXPORT_RESPONSES, "", NULL, NULL, "an export needs an organisation (--org CODE)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mem m = {0};
        struct export_result res;
        memset(&e, 0, sizeof e);
        assert_int_equal(fx_export(f, cases[i].t, EXPORT_CSV, cases[i].org, cases[i].survey,
                                   cases[i].period, 0, &m, &res, &e),
                         EXPORT_INVALID);
        assert_string_equal(e.msg, cases[i].msg);
        assert_int_equal(m.calls, 0);
        assert_int_equal(res.bytes, 0);
    }
    fx_check(store_audit_list(f->s, a, 1000, &rows, &after, &e), &e);
    assert_int_equal(after, before);
    arena_free(a);
}

/* A receiver that goes away in the middle: the export fails and says so. */
static void test_sink_gone(void **state)
{
    struct fx *f = *state;
    struct mem m = {.fail_at = 100};
    struct export_result res;
    struct err e = {0};
    assert_int_equal(
        fx_export(f, EXPORT_RESPONSES, EXPORT_CSV, "reg", "feedback", NULL, 0, &m, &res, &e),
        EXPORT_ERROR);
    assert_non_null(strstr(e.msg, "the output could not be written"));
    assert_int_equal(res.bytes, 0);
    mem_free(&m);
}

int main(void)
{
    if (crypto_setup() < 0)
        return 1;
    /* The writers ignore the group's database; the tables are exported from it. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_bytes),
        cmocka_unit_test(test_csv_excel_bytes),
        cmocka_unit_test(test_json_bytes),
        cmocka_unit_test(test_ndjson_bytes),
        cmocka_unit_test(test_json_empty_and_escapes),
        cmocka_unit_test(test_sink_buffering_and_failure),
        cmocka_unit_test(test_format_names),
        cmocka_unit_test(test_xlsx_cells),
        cmocka_unit_test(test_xlsx_abandoned),
        cmocka_unit_test(test_pseudonym_known_answer),
        cmocka_unit_test(test_store_walk_scope),
        cmocka_unit_test(test_responses_csv),
        cmocka_unit_test(test_responses_json_scope_and_period),
        cmocka_unit_test(test_responses_every_survey),
        cmocka_unit_test(test_participants_pseudonymised_and_identified),
        cmocka_unit_test(test_indicator_values),
        cmocka_unit_test(test_invalid_requests),
        cmocka_unit_test(test_sink_gone),
    };
    return cmocka_run_group_tests_name("export", tests, setup_db, teardown_db);
}
