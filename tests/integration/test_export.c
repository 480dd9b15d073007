/*
 * Integration tests of `anketa export` on the demonstration region: every format written by
 * the real binary and read back by other programs (unzip and Python for XLSX, Python's json
 * for JSON and NDJSON), pseudonyms, the audit of identified exports, and refused requests.
 */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char bin[1200];
static char root[1024];
static char tmp[256];
static char db[512];

static int run(char *out, size_t size, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return harness_run(cmd, out, size);
}

static int setup(void **state)
{
    (void)state;
    const char *r = getenv("ANKETA_ROOT"), *b = getenv("ANKETA_BIN");
    if (!r || !b)
        return -1;
    snprintf(root, sizeof root, "%s", r);
    if (b[0] == '/')
        snprintf(bin, sizeof bin, "%s", b);
    else
        snprintf(bin, sizeof bin, "%s/%s", r, b);
    snprintf(tmp, sizeof tmp, "/tmp/anketa-export-it-XXXXXX");
    if (!mkdtemp(tmp))
        return -1;
    snprintf(db, sizeof db, "%s/demo.db", tmp);
    char out[8192];
    return run(out, sizeof out, "cd %s && %s demo --db %s >/dev/null", root, bin, db) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char out[256];
    return run(out, sizeof out, "rm -rf %s", tmp) == 0 ? 0 : -1;
}

/* Reads a whole file (malloc'd, NUL-terminated); *len gets its size. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    if (p) {
        p[n] = '\0';
        *len = (size_t)n;
    }
    return p;
}

/* "anketa export: N rows of responses written to FILE": N. */
static long rows_written(const char *out)
{
    const char *p = strstr(out, "anketa export: ");
    return p ? strtol(p + strlen("anketa export: "), NULL, 10) : -1;
}

static void test_help_and_usage(void **state)
{
    (void)state;
    char out[8192];
    assert_int_equal(run(out, sizeof out, "%s export --help", bin), 0);
    assert_non_null(strstr(out, "usage: anketa export responses|participants|indicators"));
    assert_non_null(strstr(out, "--identified"));
    assert_int_equal(run(out, sizeof out, "%s export", bin), 2);
    assert_int_equal(run(out, sizeof out, "%s export pairs --org x --format csv", bin), 2);
    assert_int_equal(
        run(out, sizeof out, "%s export responses --org x --format xls --db %s", bin, db), 2);
    assert_non_null(strstr(out, "anketa export: unknown format \"xls\""));
    assert_int_equal(run(out, sizeof out, "%s help", bin), 0);
    assert_non_null(strstr(out, "  export "));
}

static void test_csv_file(void **state)
{
    (void)state;
    char out[8192], path[600];
    snprintf(path, sizeof path, "%s/r.csv", tmp);
    assert_int_equal(run(out, sizeof out,
                         "%s export responses --org demo-region --survey mentee-final --format "
                         "csv --out %s --db %s --surveys %s/surveys",
                         bin, path, db, root),
                     0);
    long n = rows_written(out);
    assert_true(n > 0);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600); /* personal data: the owner's only */
    size_t len;
    char *csv = slurp(path, &len);
    assert_non_null(csv);
    const char *head = "\xEF\xBB\xBF"
                       "response_id,participant_key,org_code,org_name,municipality,form,survey_id,"
                       "survey_version,survey_hash,submitted_at,met_before,met_where,";
    assert_memory_equal(csv, head, strlen(head));
    assert_non_null(strstr(csv, ",scale:satisfaction,scale:motivation,scale:competence\r\n"));
    long lines = 0;
    for (const char *p = csv; (p = strstr(p, "\r\n")); p += 2)
        lines++;
    assert_int_equal(lines, n + 1);
    assert_null(strstr(csv, "DEMO-"));
    free(csv);

    /* The variant for Excel in a Russian locale, to standard output. */
    assert_int_equal(run(out, sizeof out,
                         "%s export responses --org demo-region --survey mentee-final --format "
                         "csv-excel --db %s --surveys %s/surveys > %s/r2.csv",
                         bin, db, root, tmp),
                     0);
    snprintf(path, sizeof path, "%s/r2.csv", tmp);
    csv = slurp(path, &len);
    assert_non_null(csv);
    assert_memory_equal(csv, "\xEF\xBB\xBFresponse_id;participant_key;org_code;", 40);
    free(csv);
}

static void test_xlsx_file(void **state)
{
    (void)state;
    char out[8192], path[600];
    snprintf(path, sizeof path, "%s/r.xlsx", tmp);
    assert_int_equal(run(out, sizeof out,
                         "%s export responses --org demo-region --survey mentee-entry --format "
                         "xlsx --out %s --db %s --surveys %s/surveys --plugin-dir "
                         "%s/build/asan/plugins",
                         bin, path, db, root, root),
                     0);
    long n = rows_written(out);
    assert_true(n > 0);
    static char xml[262144];
    assert_int_equal(run(xml, sizeof xml, "unzip -p %s xl/worksheets/sheet1.xml", path), 0);
    assert_non_null(strstr(xml, "state=\"frozen\""));
    assert_non_null(strstr(xml, "<c r=\"A1\" s=\"1\" t=\"inlineStr\"><is><t>response_id</t>"));
    assert_non_null(strstr(xml, "<c r=\"A2\"><v>"));
    assert_non_null(strstr(xml, "<t>demo-sch-1</t>"));
    assert_int_equal(run(out, sizeof out,
                         "python3 -c 'import sys, zipfile\n"
                         "z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None\n"
                         "print(z.read(\"xl/worksheets/sheet1.xml\").count(b\"<row \"))' %s",
                         path),
                     0);
    assert_int_equal(strtol(out, NULL, 10), n + 1);
}

static void test_json_and_ndjson(void **state)
{
    (void)state;
    char out[8192], expect[64];
    assert_int_equal(run(out, sizeof out, "sqlite3 %s 'SELECT count(*) FROM responses'", db), 0);
    long n = strtol(out, NULL, 10);
    assert_true(n > 0);
    snprintf(expect, sizeof expect, "%ld mentee-entry True\n", n);
    assert_int_equal(run(out, sizeof out,
                         "%s export responses --org demo-region --format json --db %s --surveys "
                         "%s/surveys | python3 -c 'import sys, json\n"
                         "rows = json.load(sys.stdin)\n"
                         "print(len(rows), sorted(set(r[\"survey_id\"] for r in rows))[0], "
                         "all(len(r[\"participant_key\"]) == 16 for r in rows))'",
                         bin, db, root),
                     0);
    assert_string_equal(out, expect);
    assert_int_equal(run(out, sizeof out,
                         "%s export participants --org demo-sch-1 --format ndjson --db %s | "
                         "python3 -c 'import sys, json\n"
                         "rows = [json.loads(l) for l in sys.stdin]\n"
                         "print(len(rows), rows[0][\"org_code\"], \"name\" in rows[0])'",
                         bin, db),
                     0);
    assert_non_null(strstr(out, " demo-sch-1 False\n"));
}

static void test_pseudonyms_and_identified_audit(void **state)
{
    (void)state;
    char out[8192], a[600], b[600];
    snprintf(a, sizeof a, "%s/p1.csv", tmp);
    snprintf(b, sizeof b, "%s/p2.csv", tmp);
    const char *fmt = "%s export participants --org demo-sch-1 --format csv --out %s --db %s";
    assert_int_equal(run(out, sizeof out, fmt, bin, a, db), 0);
    assert_int_equal(run(out, sizeof out, fmt, bin, b, db), 0);
    size_t la, lb;
    char *pa = slurp(a, &la), *pb = slurp(b, &lb);
    assert_non_null(pa);
    assert_non_null(pb);
    assert_int_equal(la, lb); /* the same pseudonyms run after run */
    assert_memory_equal(pa, pb, la);
    assert_null(strstr(pa, "DEMO-0001"));
    free(pa);
    free(pb);

    assert_int_equal(run(out, sizeof out,
                         "%s export participants --org demo-sch-1 --format csv --identified "
                         "--out %s --db %s",
                         bin, a, db),
                     0);
    pa = slurp(a, &la);
    assert_non_null(pa);
    assert_non_null(strstr(pa, "\r\nDEMO-0001,,demo-sch-1,"));
    free(pa);
    assert_int_equal(run(out, sizeof out, "%s audit --db %s", bin, db), 0);
    const char *line = strstr(out, "export.participants");
    assert_non_null(line);
    assert_non_null(strstr(line, "demo-sch-1"));
    assert_non_null(strstr(line, "format=csv identified"));
}

static void test_refused(void **state)
{
    (void)state;
    char out[8192], path[600];
    snprintf(path, sizeof path, "%s/none.csv", tmp);
    assert_int_equal(run(out, sizeof out,
                         "%s export responses --org nowhere --format csv --out %s --db %s "
                         "--surveys %s/surveys",
                         bin, path, db, root),
                     1);
    assert_non_null(strstr(out, "anketa export: unknown organisation \"nowhere\""));
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_equal(run(out, sizeof out,
                         "%s export indicators --org demo-region --format csv --db %s", bin, db),
                     1);
    assert_non_null(strstr(out, "need a region (--region) and a period (--period)"));
    assert_int_equal(run(out, sizeof out,
                         "%s export responses --org demo-region --format csv --db %s/missing.db",
                         bin, tmp),
                     1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_and_usage),
        cmocka_unit_test(test_csv_file),
        cmocka_unit_test(test_xlsx_file),
        cmocka_unit_test(test_json_and_ndjson),
        cmocka_unit_test(test_pseudonyms_and_identified_audit),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests_name("export", tests, setup, teardown);
}
