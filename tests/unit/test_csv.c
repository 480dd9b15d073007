/*
 * Tests of csv: encoding and delimiter detection, quoting, line numbers (also across read
 * chunks), header mapping with its errors, record errors and reading on after them, limits,
 * a 100,000-row file, and out-of-memory at every allocation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "arena.h"
#include "csv.h"
#include "err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DIR "tests/data/csv/"

static const char *const code_al[] = {"код участника", "code", "participant code", NULL};
static const char *const role_al[] = {"role", NULL};
static const char *const org_al[] = {"organisation", "organization", NULL};
static const char *const year_al[] = {"birth year", "year of birth", NULL};
static const char *const name_al[] = {"full name", "name", NULL};

static const struct csv_column COLS[] = {
    {"Код", code_al, 1},          {"Роль", role_al, 1}, {"Организация", org_al, 1},
    {"Год рождения", year_al, 0}, {"ФИО", name_al, 0},
};
#define NCOLS (sizeof COLS / sizeof COLS[0])
enum { C_CODE, C_ROLE, C_ORG, C_YEAR, C_NAME };

#define EXPECTED "expected columns: Код, Роль, Организация, Год рождения, ФИО"

static char fmt_buf[1024];

static const char *fmt(const struct err *e)
{
    err_format(e, fmt_buf, sizeof fmt_buf);
    return fmt_buf;
}

/* Every remaining record as "LINE|code|role|org|year|name\n", and every error as
 * "error: FILE:LINE: message\n" (reading goes on after one, as an importer listing errors
 * would). The caller frees the result. */
static char *dump(struct csv_reader *r)
{
    char *out = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&out, &size);
    assert_non_null(f);
    for (int guard = 0; guard < 100000; guard++) {
        struct err e = {0};
        int rc = csv_next(r, &e);
        if (rc == 0)
            break;
        if (rc < 0) {
            fprintf(f, "error: %s\n", fmt(&e));
            assert_string_equal(csv_field(r, C_CODE), "");
            continue;
        }
        assert_int_equal(rc, 1);
        fprintf(f, "%d", csv_line(r));
        for (size_t c = 0; c < NCOLS; c++)
            fprintf(f, "|%s", csv_field(r, c));
        fputc('\n', f);
    }
    fclose(f);
    return out;
}

static struct csv_reader *open_file(const char *path)
{
    struct csv_reader *r = NULL;
    struct err e = {0};
    if (csv_open(path, COLS, NCOLS, &r, &e) != 0)
        fail_msg("%s", fmt(&e));
    return r;
}

static struct csv_reader *open_mem(const char *data, size_t len)
{
    struct csv_reader *r = NULL;
    struct err e = {0};
    if (csv_open_mem("mem", data, len, COLS, NCOLS, &r, &e) != 0)
        fail_msg("%s", fmt(&e));
    return r;
}

static void expect_dump(struct csv_reader *r, const char *want)
{
    char *got = dump(r);
    assert_string_equal(got, want);
    free(got);
}

static void expect_file(const char *path, const char *enc, char delim, const char *want)
{
    struct csv_reader *r = open_file(path);
    assert_string_equal(csv_encoding(r), enc);
    assert_int_equal(csv_delimiter(r), delim);
    expect_dump(r, want);
    assert_int_equal(csv_bytes_read(r), csv_size(r));
    csv_close(r);
}

static void expect_mem(const char *data, const char *want)
{
    struct csv_reader *r = open_mem(data, strlen(data));
    expect_dump(r, want);
    csv_close(r);
}

static void expect_open_error(const char *path, const char *want)
{
    struct csv_reader *r = (struct csv_reader *)1;
    struct err e = {0};
    assert_int_equal(csv_open(path, COLS, NCOLS, &r, &e), -1);
    assert_null(r);
    assert_int_equal(e.col, 0);
    assert_string_equal(fmt(&e), want);
}

static void expect_mem_open_error(const char *data, size_t len, const char *want)
{
    struct csv_reader *r = (struct csv_reader *)1;
    struct err e = {0};
    assert_int_equal(csv_open_mem("mem", data, len, COLS, NCOLS, &r, &e), -1);
    assert_null(r);
    assert_string_equal(fmt(&e), want);
}

/* A scratch directory; files written there are removed by the caller. */
static char *tmpdir(void)
{
    static char dir[64];
    snprintf(dir, sizeof dir, "/tmp/anketa-csv-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return dir;
}

static void test_cp1251_semicolon(void **state)
{
    (void)state;
    struct csv_reader *r = open_file(DIR "participants-cp1251.csv");
    assert_string_equal(csv_encoding(r), "Windows-1251");
    assert_int_equal(csv_delimiter(r), ';');
    assert_int_equal(csv_size(r), 211);
    assert_true(csv_has_column(r, C_YEAR));
    assert_false(csv_has_column(r, C_NAME));
    assert_false(csv_has_column(r, 99));
    expect_dump(r, "2|М-001|наставник|МБОУ «СОШ № 5»; г. Казань||\n"
                   "3|У-017|наставляемый|МБОУ «СОШ № 5»|2009|\n"
                   "4|У-018|наставляемая|Лицей \"Интеллект\"|2010|\n"
                   "5|У-019|наставляемый|Гимназия «Ёлочка»|2011|\n");
    assert_int_equal(csv_bytes_read(r), 211);
    assert_string_equal(csv_field(r, C_CODE), "");
    assert_string_equal(csv_field(r, 99), "");
    csv_close(r);
}

static void test_utf8_bom_comma(void **state)
{
    (void)state;
    expect_file(DIR "bom-comma.csv", "UTF-8", ',',
                "2|P1|mentor|School 5||Иванова, Анна\n"
                "3|P2|mentee|School 5|2010|Пётр Петров\n");
}

static void test_quoted(void **state)
{
    (void)state;
    /* Line numbers after a multi-line value count its embedded line breaks. */
    expect_file(DIR "quoted.csv", "UTF-8", ';',
                "2|1|наставник|ООО \"Ромашка\"; филиал||Иванов\nИван\n"
                "4|2|наставляемый|Школа 5||  с пробелами  \n"
                "5|3|наставляемый|многострочная\nорганизация\n(три строки)||Сидоров\n"
                "8|4|наставник|ООО \"Ромашка\"||Петров\n");
}

static void test_crlf(void **state)
{
    (void)state;
    /* A CRLF inside quotes becomes one LF. */
    expect_file(DIR "crlf.csv", "UTF-8", ';',
                "2|1|наставник|Школа\n№ 7||Иванов\n"
                "4|2|наставляемый|Школа||Петров\n");
}

static void test_cr_only(void **state)
{
    (void)state;
    expect_mem("Код;Роль;Организация\r1;a;b\r\r2;c;\"d\re\"\r3;f;g",
               "2|1|a|b||\n4|2|c|d\ne||\n6|3|f|g||\n");
}

static void test_no_final_newline(void **state)
{
    (void)state;
    expect_file(DIR "no-final-newline.csv", "UTF-8", ';',
                "2|1|наставник|Школа||\n3|2|наставляемый|Лицей||\n");
    expect_mem("Код;Роль;Организация\n1;a;b", "2|1|a|b||\n");
    expect_mem("Код;Роль;Организация\n 1 ;\ta\t; b  \r\n", "2|1|a|b||\n");
    expect_mem("Код;Роль;Организация\n 1 ;\ta\t; b  ", "2|1|a|b||\n");
    expect_mem("Код;Роль;Организация\n1;a;", "2|1|a|||\n");
    expect_mem("Код;Роль;Организация\n1;a;\"\"", "2|1|a|||\n");
    expect_mem("Код;Роль;Организация\n1;a;\"b\"  ", "2|1|a|b||\n");
}

static void test_blank_lines(void **state)
{
    (void)state;
    struct csv_reader *r = open_file(DIR "blank-lines.csv");
    assert_int_equal(csv_line(r), 2);
    expect_dump(r, "4|1|наставник|Школа||\n7|2|наставляемый|Школа||\n");
    assert_int_equal(csv_line(r), 7);
    csv_close(r);
    /* A header-only file has no records; fewer fields than the header leave the rest empty. */
    expect_mem("Код;Роль;Организация\n\n", "");
    expect_mem("Код;Роль;Организация;ФИО\n1;a\n", "2|1|a|||\n");
}

static void test_unknown_column(void **state)
{
    (void)state;
    expect_open_error(DIR "unknown-column.csv",
                      DIR "unknown-column.csv:1: unknown columns \"Рол\" (did you mean "
                          "\"Роль\"?), \"Регион\"; " EXPECTED);
    const char *csv = "Code;Role;Organsation\n";
    expect_mem_open_error(csv, strlen(csv),
                          "mem:1: unknown column \"Organsation\" (did you mean "
                          "\"organisation\"?); " EXPECTED);
    /* Two edits in a two-letter name is not close. */
    csv = "ИД;Роль;Организация\n";
    expect_mem_open_error(csv, strlen(csv), "mem:1: unknown column \"ИД\"; " EXPECTED);
    csv = "Кот;Роль;Организация\n";
    expect_mem_open_error(csv, strlen(csv),
                          "mem:1: unknown column \"Кот\" (did you mean \"Код\"?); " EXPECTED);
}

static void test_missing_required(void **state)
{
    (void)state;
    expect_open_error(DIR "missing-required.csv",
                      DIR "missing-required.csv:1: missing required columns \"Роль\", "
                          "\"Организация\"; add them to the first line");
    const char *csv = "\n\nКод;Организация;Год рождения\n";
    expect_mem_open_error(csv, strlen(csv),
                          "mem:3: missing required column \"Роль\"; add it to the first line");
}

static void test_duplicate_column(void **state)
{
    (void)state;
    expect_open_error(DIR "duplicate.csv", DIR "duplicate.csv:1: columns 1 (\"Код\") and 4 "
                                               "(\"code\") are both \"Код\"; remove one of them");
}

static void test_too_many_fields_line_7(void **state)
{
    (void)state;
    struct csv_reader *r = open_file(DIR "too-many-fields.csv");
    expect_dump(r, "2|1|наставник|Школа 1||\n"
                   "3|2|наставляемый|Школа 1|2010|\n"
                   "4|3|наставляемый|Школа 1|2011|\n"
                   "5|4|наставник|Школа 2||\n"
                   "6|5|наставляемый|Школа 2|2009|\n"
                   "error: " DIR "too-many-fields.csv:7: the record has 5 fields but the header "
                   "has 4; a value containing ';' must be in double quotes\n"
                   "8|7|наставник|Школа 3||\n"
                   "9|8|наставляемый|Школа 3|2010|\n"
                   "10|9|наставляемый|Школа 3|2011|\n");
    csv_close(r);
    expect_mem("Код,Роль,Организация\n1,a,b,c\n",
               "error: mem:2: the record has 4 fields but the header has 3; a value containing "
               "',' must be in double quotes\n");
    expect_mem("Код\tРоль\tОрганизация\n1\ta\tb\tc\n",
               "error: mem:2: the record has 4 fields but the header has 3; a value containing "
               "a tab must be in double quotes\n");
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    /* A mostly valid window stays UTF-8; the bad byte is on the second line of record 5. */
    expect_file(DIR "invalid-utf8.csv", "UTF-8", ';',
                "2|1|наставник|Школа № 1||Иванова Анна\n"
                "3|2|наставляемый|Школа № 1||Петров Пётр\n"
                "4|3|наставляемый|Школа № 2||Сидорова Мария\n"
                "error: " DIR "invalid-utf8.csv:6: column \"Организация\": invalid UTF-8 "
                "(byte 0xFF); save the file as UTF-8 or Windows-1251\n"
                "7|5|наставник|Школа||Орлов\n");
}

static void test_invalid_utf8_after_window(void **state)
{
    (void)state;
    char *dir = tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/late.csv", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("Код;Роль;Организация\n", f);
    int line = 1;
    for (int i = 0; i < 2000; i++, line++)
        fprintf(f, "%d;наставник;Школа № %d\n", i, i);
    fputs("bad;наставник;Школа \xC3(1\n", f);
    fputs("ok;наставник;Школа\n", f);
    fclose(f);
    line += 1; /* the bad record */
    struct csv_reader *r = open_file(path);
    assert_string_equal(csv_encoding(r), "UTF-8");
    struct err e = {0};
    int n = 0, rc;
    while ((rc = csv_next(r, &e)) == 1)
        n++;
    assert_int_equal(n, 2000);
    assert_int_equal(rc, -1);
    char want[256];
    snprintf(want, sizeof want,
             "%s:%d: column \"Организация\": invalid UTF-8 (byte 0xC3); save the file as UTF-8 "
             "or Windows-1251",
             path, line);
    assert_string_equal(fmt(&e), want);
    assert_int_equal(csv_next(r, &e), 1);
    assert_string_equal(csv_field(r, C_CODE), "ok");
    assert_int_equal(csv_line(r), line + 1);
    assert_int_equal(csv_next(r, &e), 0);
    csv_close(r);
    unlink(path);
    rmdir(dir);
}

static void test_unclosed_quote(void **state)
{
    (void)state;
    struct csv_reader *r = open_file(DIR "unclosed-quote.csv");
    expect_dump(r, "2|1|наставник|Школа 1||\n"
                   "3|2|наставляемый|Школа 1||\n"
                   "error: " DIR "unclosed-quote.csv:4: column \"Организация\": the quote that "
                   "opens here is never closed; add the closing quote\n");
    struct err e = {0};
    assert_int_equal(csv_next(r, &e), 0);
    csv_close(r);
}

static void test_aliases(void **state)
{
    (void)state;
    static const char *const headers[] = {
        "КОД;Роль;Организация\n",
        "код;роль;организация\n",
        " Код* ;РОЛЬ:;  организация  \n",
        "Code;Role;ORGANIZATION\n",
        "Код участника;Роль;Организация\n",
        "КОД  УЧАСТНИКА :;Роль *;\"Организация\"\n",
        "\xC2\xA0Код\xC2\xA0;Роль;Организация\n",
        "Participant Code,role,organisation\n",
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char csv[256];
        char d = strchr(headers[i], ',') ? ',' : ';';
        snprintf(csv, sizeof csv, "%s7%cнаставник%cШкола\n", headers[i], d, d);
        struct csv_reader *r = open_mem(csv, strlen(csv));
        struct err e = {0};
        assert_int_equal(csv_next(r, &e), 1);
        assert_string_equal(csv_field(r, C_CODE), "7");
        assert_string_equal(csv_field(r, C_ROLE), "наставник");
        assert_string_equal(csv_field(r, C_ORG), "Школа");
        csv_close(r);
    }
    /* Ё folds to ё, and the whole alphabet А-Я to а-я. */
    static const struct csv_column abc[] = {
        {"счёт", NULL, 1},
        {"абвгдеёжзийклмнопрстуфхцчшщъыьэюя", NULL, 1},
    };
    const char *csv = "СЧЁТ;АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ\n1;2\n";
    struct csv_reader *r = NULL;
    struct err e = {0};
    assert_int_equal(csv_open_mem("mem", csv, strlen(csv), abc, 2, &r, &e), 0);
    assert_int_equal(csv_next(r, &e), 1);
    assert_string_equal(csv_field(r, 0), "1");
    assert_string_equal(csv_field(r, 1), "2");
    csv_close(r);
    /* Folding is not transliteration: "счет" is a different name. */
    csv = "СЧЕТ;абвгдеёжзийклмнопрстуфхцчшщъыьэюя\n";
    assert_int_equal(csv_open_mem("mem", csv, strlen(csv), abc, 2, &r, &e), -1);
    assert_string_equal(fmt(&e), "mem:1: unknown column \"СЧЕТ\" (did you mean \"счёт\"?); "
                                 "expected columns: счёт, абвгдеёжзийклмнопрстуфхцчшщъыьэюя");
}

static void test_delimiter_detection(void **state)
{
    (void)state;
    static const struct csv_column xyz[] = {{"x,y", NULL, 0}, {"x;y", NULL, 0}, {"z", NULL, 0}};
    static const struct {
        const char *csv;
        char delim;
        const char *z;
    } cases[] = {
        {"x,y;z\n1,2;3\n", ';', "3"},         /* a tie goes to ';' */
        {"\"x;y\",z\n1,3\n", ',', "3"},       /* delimiters inside quotes do not count */
        {"\"x,y\"\tz\t\n1\t3\n", '\t', "3"},  /* tabs outnumber */
        {"z\n3\n", ';', "3"},                 /* one column: the default */
        {"\n  \nx;y,z,\n1,3\n", ',', "3"},    /* blank lines before the header are skipped */
        {"z ; \"x,y\"\n\t3\t;1\n", ';', "3"}, /* tabs around values are trimmed with ';' */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct csv_reader *r = NULL;
        struct err e = {0};
        if (csv_open_mem("mem", cases[i].csv, strlen(cases[i].csv), xyz, 3, &r, &e) != 0)
            fail_msg("case %zu: %s", i, fmt(&e));
        assert_int_equal(csv_delimiter(r), cases[i].delim);
        assert_int_equal(csv_next(r, &e), 1);
        assert_string_equal(csv_field(r, 2), cases[i].z);
        csv_close(r);
    }
}

static void test_mem_errors(void **state)
{
    (void)state;
    expect_mem_open_error("", 0,
                          "mem: the file is empty; its first line must name the columns: Код, "
                          "Роль, Организация, Год рождения, ФИО");
    expect_mem_open_error("\r\n  \n;;\n", 8,
                          "mem: the file is empty; its first line must name the columns: Код, "
                          "Роль, Организация, Год рождения, ФИО");
    expect_mem_open_error("\xFF\xFEK\0o\0", 6,
                          "mem: the file is UTF-16; save it as CSV UTF-8 or CSV (Windows-1251)");
    expect_mem_open_error("PK\3\4\0\0", 6,
                          "mem: the file has NUL bytes, so it is not CSV text (an Excel "
                          "workbook?); save it as CSV UTF-8");
    /* 0x98 is the one byte Windows-1251 leaves unassigned. */
    expect_mem("\xCA\xEE\xE4;\xD0\xEE\xEB\xFC;\xCE\xF0\xE3\xE0\xED\xE8\xE7\xE0\xF6\xE8\xFF\n"
               "1;a;b\n2;c;\x98\n",
               "2|1|a|b||\nerror: mem:3: byte 0x98 is not a Windows-1251 character; save the "
               "file as UTF-8\n");
    expect_mem("Код;Роль;Организация\n1;\"a\"b;c\n2;d;e\n",
               "error: mem:2: column \"Роль\": text after the closing quote; put the whole value "
               "in quotes and double the quotes inside it\n"
               "3|2|d|e||\n");
    expect_mem("Код;Роль;Организация;\n1;a;b;\n2;c;d;x\n",
               "2|1|a|b||\nerror: mem:3: field 4 has a value but its column has no name in the "
               "first line; name the column or remove the value\n");
    expect_mem("Код;Роль;Организация\n1;a;\"b\n\n\"\"c\"\"\n",
               "error: mem:2: column \"Организация\": the quote that opens here is never closed; "
               "add the closing quote\n");
}

static void test_field_count_limit(void **state)
{
    (void)state;
    size_t size = 64 + 2 * (CSV_FIELDS_MAX + 1) + 16;
    char *csv = malloc(size);
    assert_non_null(csv);
    /* 1000 columns (the unnamed ones are ignored) are fine; 1001 are not. */
    strcpy(csv, "Код;Роль;Организация");
    for (int i = 3; i < CSV_FIELDS_MAX; i++)
        strcat(csv, ";");
    strcat(csv, "\n1;a;b\n1;a;b");
    for (int i = 3; i < CSV_FIELDS_MAX + 1; i++)
        strcat(csv, ";");
    strcat(csv, "\n");
    expect_mem(csv, "2|1|a|b||\nerror: mem:3: more than 1000 fields; is the delimiter right?\n");
    strcpy(csv, "Код;Роль;Организация");
    for (int i = 3; i < CSV_FIELDS_MAX + 1; i++)
        strcat(csv, ";");
    strcat(csv, "\n");
    expect_mem_open_error(csv, strlen(csv),
                          "mem:1: more than 1000 fields; is the delimiter right?");
    free(csv);
}

static void test_field_length_limit(void **state)
{
    (void)state;
    char *dir = tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/long.csv", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("Код;Роль;Организация\n", f);
    fputs("1;a;", f);
    for (int i = 0; i < CSV_FIELD_MAX; i++)
        fputc('x', f);
    fputs("\n2;b;", f);
    for (int i = 0; i < CSV_FIELD_MAX + 1; i++)
        fputc('y', f);
    fputs("\n3;c;d\n4;e;\"", f);
    for (int i = 0; i < 100000; i++)
        fputc(i % 1000 ? 'z' : '\n', f);
    fclose(f);

    struct csv_reader *r = open_file(path);
    struct err e = {0};
    char want[256];
    assert_int_equal(csv_next(r, &e), 1);
    assert_int_equal(strlen(csv_field(r, C_ORG)), CSV_FIELD_MAX);
    assert_int_equal(csv_next(r, &e), -1);
    snprintf(want, sizeof want,
             "%s:3: column \"Организация\": the value is longer than 65536 bytes", path);
    assert_string_equal(fmt(&e), want);
    assert_int_equal(csv_next(r, &e), 1);
    assert_string_equal(csv_field(r, C_ORG), "d");
    assert_int_equal(csv_line(r), 4);
    assert_int_equal(csv_next(r, &e), -1);
    snprintf(want, sizeof want,
             "%s:5: column \"Организация\": the quoted value is longer than 65536 bytes; is its "
             "closing quote missing?",
             path);
    assert_string_equal(fmt(&e), want);
    assert_int_equal(csv_next(r, &e), 0);
    csv_close(r);
    unlink(path);
    rmdir(dir);
}

static void test_nul_after_window(void **state)
{
    (void)state;
    size_t cap = 100000, n = 0;
    char *csv = malloc(cap);
    assert_non_null(csv);
    n += (size_t)sprintf(csv, "Код;Роль;Организация\n");
    int line = 2;
    for (; n < 70000; line++)
        n += (size_t)sprintf(csv + n, "%d;a;b\n", line);
    memcpy(csv + n, "x;\0;b\n", 6);
    n += 6;
    struct csv_reader *r = open_mem(csv, n);
    struct err e = {0};
    int rc;
    while ((rc = csv_next(r, &e)) == 1)
        ;
    assert_int_equal(rc, -1);
    char want[128];
    snprintf(want, sizeof want,
             "mem:%d: NUL byte: this is not a CSV text file; save it as CSV UTF-8", line);
    assert_string_equal(fmt(&e), want);
    assert_int_equal(csv_next(r, &e), 0);
    csv_close(r);
    free(csv);
}

/* Test-side encoder for the letters the rows below use. */
static size_t to_cp1251(const char *s, char *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    while (*p) {
        if (*p < 0x80) {
            out[n++] = (char)*p++;
            continue;
        }
        unsigned u = (unsigned)(p[0] & 0x1F) << 6 | (p[1] & 0x3F);
        if (p[0] >= 0xE0) {
            u = (unsigned)(p[0] & 0x0F) << 12 | (unsigned)(p[1] & 0x3F) << 6 | (p[2] & 0x3F);
            p++;
        }
        p += 2;
        if (u >= 0x410 && u <= 0x44F)
            out[n++] = (char)(u - 0x410 + 0xC0);
        else if (u == 0x401)
            out[n++] = (char)0xA8;
        else if (u == 0x451)
            out[n++] = (char)0xB8;
        else if (u == 0x2116)
            out[n++] = (char)0xB9;
        else
            fail_msg("no Windows-1251 byte for U+%04X", u);
    }
    out[n] = '\0';
    return n;
}

static void test_chunk_boundaries(void **state)
{
    (void)state;
    /* Every shift of the rows against the 64 KiB read chunks: CRLF pairs, doubled quotes,
     * quoted line breaks and multi-byte characters all land on a chunk edge somewhere. */
    size_t cap = 200000;
    char *csv = malloc(cap);
    char *row = malloc(256);
    assert_non_null(csv);
    assert_non_null(row);
    for (int cp1251 = 0; cp1251 <= 1; cp1251++) {
        for (int shift = 0; shift < 80; shift++) {
            snprintf(row, 256, "Код;Роль;Организация;ФИО\r\n0;pad;%*s;\r\n", shift, "");
            size_t n = cp1251 ? to_cp1251(row, csv) : (size_t)sprintf(csv, "%s", row);
            for (int i = 1; i <= 1500; i++) {
                snprintf(row, 256,
                         "%d;наставник;\"Школа \"\"№ %d\"\"\r\nкорпус ё\";Ёжиков Ёж %d\r\n", i, i,
                         i);
                n += cp1251 ? to_cp1251(row, csv + n) : (size_t)sprintf(csv + n, "%s", row);
            }
            assert_true(n > 65536 && n < cap);
            struct csv_reader *r = open_mem(csv, n);
            assert_string_equal(csv_encoding(r), cp1251 ? "Windows-1251" : "UTF-8");
            struct err e = {0};
            assert_int_equal(csv_next(r, &e), 1);
            assert_int_equal(csv_line(r), 2);
            for (int i = 1; i <= 1500; i++) {
                char want[128];
                if (csv_next(r, &e) != 1)
                    fail_msg("shift %d row %d: %s", shift, i, fmt(&e));
                assert_int_equal(csv_line(r), 1 + 2 * i);
                snprintf(want, sizeof want, "%d", i);
                assert_string_equal(csv_field(r, C_CODE), want);
                snprintf(want, sizeof want, "Школа \"№ %d\"\nкорпус ё", i);
                assert_string_equal(csv_field(r, C_ORG), want);
                snprintf(want, sizeof want, "Ёжиков Ёж %d", i);
                assert_string_equal(csv_field(r, C_NAME), want);
            }
            assert_int_equal(csv_next(r, &e), 0);
            assert_int_equal(csv_bytes_read(r), (off_t)n);
            csv_close(r);
        }
    }
    free(row);
    free(csv);
}

/* An ASCII header and ASCII rows past the first 64 KiB, then tail (already encoded); *line
 * is the line where tail starts. The caller frees the result. */
static char *ascii_then(const char *tail, size_t tail_len, size_t *len, int *line)
{
    size_t n = 0;
    char *csv = malloc(80000 + tail_len);
    assert_non_null(csv);
    n += (size_t)sprintf(csv, "code;role;organisation\n");
    for (*line = 2; n < 70000; (*line)++)
        n += (size_t)sprintf(csv + n, "A%d;mentor;School %d\n", *line, *line);
    memcpy(csv + n, tail, tail_len);
    *len = n + tail_len;
    return csv;
}

/* Reads the file ascii_then() makes from tail (UTF-8, converted when cp1251) and compares
 * the dump of the tail's records with want, where each %d is a line number counted from the
 * tail's first line (%d+0 first, then the offsets in lines[]). */
static void expect_tail(const char *tail, int cp1251, const char *enc, const char *want)
{
    static char encoded[100000];
    size_t len, tail_len = cp1251 ? to_cp1251(tail, encoded) : (size_t)sprintf(encoded, "%s", tail);
    int line;
    char *csv = ascii_then(encoded, tail_len, &len, &line);
    struct csv_reader *r = open_mem(csv, len);
    assert_string_equal(csv_encoding(r), "UTF-8");
    char *got = dump(r);
    /* Drop the ASCII rows: line - 2 of them, each dumped on one line. */
    char *p = got;
    for (int i = 2; i < line; i++) {
        p = strchr(p, '\n');
        assert_non_null(p);
        p++;
    }
    assert_string_equal(p, want);
    assert_string_equal(csv_encoding(r), enc);
    free(got);
    csv_close(r);
    free(csv);
}

static int ascii_tail_line(void)
{
    int line;
    size_t len;
    free(ascii_then("", 0, &len, &line));
    return line;
}

static void test_ascii_window(void **state)
{
    (void)state;
    /* Plain ASCII up to 64 KiB decides nothing: the first record with other bytes does. */
    static const char tail[] = "Б1;\"наставник\";\"Школа\r\n№ 5\"\r\nБ2;наставляемый;Лицей ё\r\n";
    int l = ascii_tail_line();
    char want[512];
    snprintf(want, sizeof want, "%d|Б1|наставник|Школа\n№ 5||\n%d|Б2|наставляемый|Лицей ё||\n", l,
             l + 2);
    expect_tail(tail, 1, "Windows-1251", want);
    expect_tail(tail, 0, "UTF-8", want);
    /* The deciding record can still fail: an unassigned byte, or a value grown past the limit. */
    snprintf(want, sizeof want,
             "error: mem:%d: byte 0x98 is not a Windows-1251 character; save the file as UTF-8\n",
             l + 1);
    expect_tail("Б1;\"x\ny\";Я\x98\n", 0, "Windows-1251", want);
    static char big[70000];
    strcpy(big, "Б1;a;");
    for (size_t i = 0, at = strlen(big); i < 33000; i++, at += 2)
        memcpy(big + at, "Я", 3);
    strcat(big, "\nБ2;b;c\n");
    snprintf(want, sizeof want,
             "error: mem:%d: column \"organisation\": the value is longer than 65536 bytes\n"
             "%d|Б2|b|c||\n",
             l, l + 1);
    expect_tail(big, 1, "Windows-1251", want);
}

static uint64_t fnv(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * UINT64_C(0x100000001b3);
    return h ^ 0xff;
}

static void test_100k_rows(void **state)
{
    (void)state;
    char *dir = tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/participants.csv", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("Код;Роль;Организация;Год рождения;ФИО\n", f);
    uint64_t want_hash = UINT64_C(0xcbf29ce484222325);
    long want_years = 0;
    char code[32];
    for (int i = 0; i < 100000; i++) {
        int year = 2005 + i % 10;
        snprintf(code, sizeof code, "P%06d", i * 7);
        fprintf(f, "%s;%s;\"МБОУ \"\"СОШ № %d\"\"\";%d;Участник %d\n", code,
                i % 4 ? "наставляемый" : "наставник", i % 300, year, i);
        want_hash = fnv(want_hash, code);
        want_years += year;
    }
    fclose(f);

    struct csv_reader *r = open_file(path);
    struct err e = {0};
    uint64_t hash = UINT64_C(0xcbf29ce484222325);
    long years = 0;
    int rows = 0, rc;
    while ((rc = csv_next(r, &e)) == 1) {
        hash = fnv(hash, csv_field(r, C_CODE));
        years += atol(csv_field(r, C_YEAR));
        rows++;
    }
    if (rc != 0)
        fail_msg("%s", fmt(&e));
    assert_int_equal(rows, 100000);
    assert_int_equal(csv_line(r), 100001);
    assert_int_equal(years, want_years);
    assert_true(hash == want_hash);
    assert_string_equal(csv_field(r, C_ORG), "");
    assert_int_equal(csv_bytes_read(r), csv_size(r));
    assert_true(csv_size(r) > 5000000);
    csv_close(r);
    unlink(path);
    rmdir(dir);
}

static void test_open_errors(void **state)
{
    (void)state;
    expect_open_error(DIR "nope.csv", DIR "nope.csv: cannot open: No such file or directory");
    expect_open_error("tests/data/csv", "tests/data/csv: is a directory, not a CSV file");
}

/* Reads the whole file under injected allocation failures until one run needs none. */
static void fault_loop(const char *path, const char *data, size_t len, int want_rows,
                       const char *want_error)
{
    long n;
    for (n = 1; n < 10000; n++) {
        struct csv_reader *r = (struct csv_reader *)1;
        struct err e = {0};
        int rows = 0, rc;
        arena_fail_after(n);
        if (data)
            rc = csv_open_mem(path, data, len, COLS, NCOLS, &r, &e);
        else
            rc = csv_open(path, COLS, NCOLS, &r, &e);
        if (rc == 0) {
            while ((rc = csv_next(r, &e)) == 1)
                rows++;
            csv_close(r);
        } else {
            assert_null(r);
        }
        arena_fail_after(0);
        char oom[300];
        snprintf(oom, sizeof oom, "%s: out of memory", path);
        if (rc == -1 && strcmp(fmt(&e), oom) == 0)
            continue;
        if (want_error) {
            assert_int_equal(rc, -1);
            assert_string_equal(fmt(&e), want_error);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(rows, want_rows);
        }
        break;
    }
    assert_true(n > 4);
    assert_true(n < 10000);
}

static void test_fault_injection(void **state)
{
    (void)state;
    fault_loop(DIR "participants-cp1251.csv", NULL, 0, 4, NULL);
    fault_loop(DIR "unknown-column.csv", NULL, 0, 0,
               DIR "unknown-column.csv:1: unknown columns \"Рол\" (did you mean \"Роль\"?), "
                   "\"Регион\"; " EXPECTED);
    /* A value large enough to make the record buffer grow several times. */
    size_t len = 40000;
    char *csv = malloc(len + 64);
    assert_non_null(csv);
    int k = sprintf(csv, "Код;Роль;Организация\n1;a;");
    memset(csv + k, 'x', len);
    strcpy(csv + k + len, "\n2;b;c\n");
    fault_loop("mem", csv, strlen(csv), 2, NULL);
    free(csv);
    /* The switch to Windows-1251 after a plain ASCII window allocates too. */
    char tail[64];
    size_t tail_len = to_cp1251("Б1;наставник;Школа\nБ2;наставник;Лицей\n", tail);
    int line;
    csv = ascii_then(tail, tail_len, &len, &line);
    fault_loop("mem", csv, len, line - 2 + 2, NULL);
    free(csv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cp1251_semicolon),
        cmocka_unit_test(test_utf8_bom_comma),
        cmocka_unit_test(test_quoted),
        cmocka_unit_test(test_crlf),
        cmocka_unit_test(test_cr_only),
        cmocka_unit_test(test_no_final_newline),
        cmocka_unit_test(test_blank_lines),
        cmocka_unit_test(test_unknown_column),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_duplicate_column),
        cmocka_unit_test(test_too_many_fields_line_7),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_invalid_utf8_after_window),
        cmocka_unit_test(test_unclosed_quote),
        cmocka_unit_test(test_aliases),
        cmocka_unit_test(test_delimiter_detection),
        cmocka_unit_test(test_mem_errors),
        cmocka_unit_test(test_field_count_limit),
        cmocka_unit_test(test_field_length_limit),
        cmocka_unit_test(test_nul_after_window),
        cmocka_unit_test(test_chunk_boundaries),
        cmocka_unit_test(test_ascii_window),
        cmocka_unit_test(test_100k_rows),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_fault_injection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
