/*
 * Tests of plugin: loading shared objects through the ABI (a good plugin, a wrong ABI, a
 * descriptor too small, a failing init, no entry function, not a shared object, a name
 * loaded twice), a directory with good and bad plugins, the plugins' options, exporters
 * resolved by format, and event hooks (the jsonl plugin's lines; a failing hook).
 *
 * The plugins are the ASan builds of `make unit`: build/asan/plugins/ (shipped) and
 * build/asan/test-plugins/ (one per file of tests/plugins).
 */
#include "arena.h"
#include "err.h"
#include "export.h"
#include "form.h"
#include "plugin.h"
#include "response.h"
#include "store.h"
#include "survey.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHIPPED "build/asan/plugins/"
#define TESTING "build/asan/test-plugins/"

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/anketa-plugin-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Each test starts and ends with no plugin loaded and no options. */
static int unload(void **state)
{
    (void)state;
    plugin_unload_all();
    plugin_set_options(NULL, 0);
    return 0;
}

static void assert_load_fails(const char *path, const char *expected)
{
    struct err e = {0};
    assert_int_equal(plugin_load(path, &e), -1);
    if (!strstr(e.msg, expected))
        fail_msg("loading %s: expected \"%s\" in \"%s\"", path, expected, e.msg);
    assert_string_equal(e.file, path);
    assert_int_equal(plugin_count(), 0);
}

static void test_good_plugin(void **state)
{
    (void)state;
    struct err e = {0};
    assert_int_equal(plugin_load(SHIPPED "template.so", &e), 0);
    assert_int_equal(plugin_count(), 1);
    assert_string_equal(plugin_name(0), "template");
    assert_string_equal(plugin_version(0), "1.0");
    assert_null(plugin_name(1));
}

static void test_wrong_abi_refused(void **state)
{
    (void)state;
    char expected[160];
    snprintf(expected, sizeof expected,
             "refused: the plugin was built for plugin ABI %d, this anketa has ABI %d; rebuild "
             "it against this version's core/plugin_api.h",
             ANKETA_PLUGIN_ABI + 1, ANKETA_PLUGIN_ABI);
    assert_load_fails(TESTING "wrong_abi.so", expected);
}

static void test_small_descriptor_refused(void **state)
{
    (void)state;
    assert_load_fails(TESTING "small_struct.so",
                      "refused: its descriptor has 16 bytes, fewer than");
}

/* A descriptor of an older header: loaded, and nothing past its struct_size is read. */
static void test_older_descriptor(void **state)
{
    (void)state;
    struct err e = {0};
    assert_int_equal(plugin_load(TESTING "old_layout.so", &e), 0);
    assert_string_equal(plugin_name(0), "old_layout");
    assert_null(plugin_qtype_find("x-old"));
}

static void test_failing_init_skipped(void **state)
{
    (void)state;
    assert_load_fails(TESTING "init_fails.so",
                      "plugin init_fails: init failed: the dictionary file is missing");
}

static void test_missing_entry(void **state)
{
    (void)state;
    assert_load_fails(TESTING "no_entry.so",
                      "not an anketa plugin: it has no function anketa_plugin_entry");
}

static void test_not_a_shared_object(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/text.so", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("name,inn\nООО Ромашка,7700000000\n", f);
    fclose(f);
    assert_load_fails(path, "cannot load the plugin: ");
    assert_load_fails("/nonexistent/x.so", "cannot load the plugin: ");
}

static void test_same_name_twice(void **state)
{
    (void)state;
    struct err e = {0};
    char copy[128], cmd[300];
    snprintf(copy, sizeof copy, "%s/template-copy.so", tmpdir);
    snprintf(cmd, sizeof cmd, "cp " SHIPPED "template.so %s", copy);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(plugin_load(SHIPPED "template.so", &e), 0);
    assert_int_equal(plugin_load(copy, &e), -1);
    assert_non_null(strstr(e.msg, "a plugin named template is already loaded (from "));
    assert_int_equal(plugin_count(), 1);
}

/* A directory: the good plugins load in name order, the bad ones are listed and left out. */
static void test_directory(void **state)
{
    (void)state;
    char dir[128], cmd[600];
    snprintf(dir, sizeof dir, "%s/plugins", tmpdir);
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s && cp " SHIPPED "template.so " SHIPPED "xlsx.so " TESTING
             "wrong_abi.so " TESTING "init_fails.so %s/ && echo not a plugin > %s/README",
             dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    struct err_list problems = {0};
    struct err e = {0};
    assert_int_equal(plugin_load_dir(dir, &problems, &e), 2);
    assert_int_equal(plugin_count(), 2);
    assert_string_equal(plugin_name(0), "template");
    assert_string_equal(plugin_name(1), "xlsx");
    assert_int_equal(problems.n, 2);
    assert_non_null(strstr(problems.items[0].file, "init_fails.so"));
    assert_non_null(strstr(problems.items[1].file, "wrong_abi.so"));
    assert_non_null(strstr(problems.items[1].msg, "refused"));
    err_list_free(&problems);

    assert_int_equal(plugin_load_dir("/nonexistent", &problems, &e), -1);
    assert_non_null(strstr(e.msg, "cannot read the plugin directory"));
}

static void test_options(void **state)
{
    (void)state;
    static const struct plugin_option opts[] = {
        {"template", "greeting", "privet", 3},
        {"dictionary", "file", "/etc/anketa/partners.csv", 7},
    };
    static const struct plugin_option typo[] = {{"template", "greting", "privet", 12}};
    struct err e = {0};
    struct err_list problems = {0};
    assert_int_equal(plugin_load(SHIPPED "template.so", &e), 0);

    plugin_set_options(opts, 2);
    assert_int_equal(plugin_check_options("/etc/anketa/anketa.conf", &problems, &e), 0);
    assert_int_equal(problems.n, 1); /* not loaded: reported, not fatal */
    assert_int_equal(problems.items[0].line, 7);
    assert_non_null(strstr(problems.items[0].msg, "no plugin named dictionary is loaded"));
    err_list_free(&problems);

    plugin_set_options(typo, 1);
    assert_int_equal(plugin_check_options("/etc/anketa/anketa.conf", &problems, &e), -1);
    assert_string_equal(e.file, "/etc/anketa/anketa.conf");
    assert_int_equal(e.line, 12);
    assert_string_equal(e.msg, "unknown key \"plugin.template.greting\" (plugin template reads "
                               "only: greeting)");
    err_list_free(&problems);
}

/* xlsx is a format only while its plugin is loaded. */
static void test_exporter_by_format(void **state)
{
    (void)state;
    enum export_format f;
    char list[256];
    assert_int_equal(export_format_parse("xlsx", &f), -1);
    export_format_list(list, sizeof list);
    assert_string_equal(list, "csv, csv-excel, json, ndjson");

    struct err e = {0};
    assert_int_equal(plugin_load(SHIPPED "xlsx.so", &e), 0);
    assert_int_equal(export_format_parse("xlsx", &f), 0);
    assert_true(f >= EXPORT_PLUGIN);
    assert_string_equal(export_format_name(f), "xlsx");
    assert_string_equal(export_format_ext(f), "xlsx");
    assert_string_equal(export_format_mime(f),
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    assert_true(export_format_binary(f));
    assert_false(export_format_binary(EXPORT_CSV));
    export_format_list(list, sizeof list);
    assert_string_equal(list, "csv, csv-excel, json, ndjson, xlsx");
    assert_int_equal(export_format_parse("csv", &f), 0);
    assert_int_equal(f, EXPORT_CSV);

    plugin_unload_all();
    assert_int_equal(export_format_parse("xlsx", &f), -1);
}

static long count_lines(const char *path, char *last, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long n = 0;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        n++;
        snprintf(last, size, "%s", line);
    }
    fclose(f);
    return n;
}

/* A response as participant.c stores it: one survey, two answers. */
static void fake_response(struct survey *s, struct question q[2], struct answer a[2],
                          struct response *r)
{
    memset(s, 0, sizeof *s);
    s->id = "mentee-entry";
    s->version = 3;
    snprintf(s->hash, sizeof s->hash, "%064d", 0);
    memset(q, 0, 2 * sizeof *q);
    q[0].id = "q1";
    q[1].id = "q2";
    a[0] = (struct answer){&q[0], "yes"};
    a[1] = (struct answer){&q[1], "Он сказал \"да\"\n"};
    memset(r, 0, sizeof *r);
    r->survey = s;
    r->answers = a;
    r->nanswers = 2;
}

static void test_jsonl_events(void **state)
{
    (void)state;
    char path[128], last[4096];
    snprintf(path, sizeof path, "%s/events.jsonl", tmpdir);
    unlink(path);
    struct plugin_option opts[2] = {{"jsonl", "path", "", 1}, {"jsonl", "fsync", "every", 2}};
    snprintf(opts[0].value, sizeof opts[0].value, "%s", path);
    plugin_set_options(opts, 2);
    struct err e = {0};
    assert_int_equal(plugin_load(SHIPPED "jsonl.so", &e), 0);

    struct survey s;
    struct question q[2];
    struct answer a[2];
    struct response r;
    fake_response(&s, q, a, &r);
    struct invitation inv = {.id = 42};
    struct arena *ar = arena_new();
    assert_non_null(ar);
    /* Queued, not written: the hooks run once the participant has been answered. The file
     * itself is made by the first event, not by loading the plugin. */
    assert_int_equal(plugin_defer_response_stored(ar, &inv, &r), 0);
    assert_int_equal(count_lines(path, last, sizeof last), -1);
    plugin_run_deferred();
    assert_int_equal(count_lines(path, last, sizeof last), 1);
    assert_non_null(strstr(last, "{\"event\":\"response.stored\",\"at\":\""));
    assert_non_null(strstr(last, ",\"survey\":\"mentee-entry\",\"version\":3,\"hash\":\"000"));
    assert_non_null(strstr(last, ",\"invitation\":42,\"answers\":{\"q1\":\"yes\",\"q2\":\"Он "
                                 "сказал \\\"да\\\"\\n\"}}\n"));
    /* The queue was emptied: nothing runs twice. */
    plugin_run_deferred();
    assert_int_equal(count_lines(path, last, sizeof last), 1);

    plugin_campaign_changed("spring-2027", 1);
    assert_int_equal(count_lines(path, last, sizeof last), 2);
    assert_non_null(strstr(last, "\"event\":\"campaign.opened\""));
    assert_non_null(strstr(last, "\"campaign\":\"spring-2027\"}"));
    plugin_campaign_changed("spring-2027", 0);
    plugin_indicators_computed("demo", "2026/27", 1);
    assert_int_equal(count_lines(path, last, sizeof last), 4);
    assert_non_null(strstr(last, "\"event\":\"indicators.computed\""));
    assert_non_null(strstr(last, "\"region\":\"demo\",\"period\":\"2026/27\",\"failed\":true}"));
    arena_free(ar);
}

static void test_jsonl_needs_a_path(void **state)
{
    (void)state;
    static const struct plugin_option opts[] = {{"jsonl", "path", "/tmp/x.jsonl", 3},
                                                {"jsonl", "fsync", "sometimes", 4}};
    assert_load_fails(SHIPPED "jsonl.so",
                      "plugin jsonl: init failed: set plugin.jsonl.path to the absolute path");
    plugin_set_options(opts, 2);
    assert_load_fails(SHIPPED "jsonl.so",
                      "plugin jsonl: init failed: plugin.jsonl.fsync is \"sometimes\"; expected "
                      "every or none");
}

/* A failing hook is logged; the other plugins still hear of the event. */
static void test_failing_hook(void **state)
{
    (void)state;
    char path[128], last[4096];
    snprintf(path, sizeof path, "%s/after-failure.jsonl", tmpdir);
    struct plugin_option opts[1] = {{"jsonl", "path", "", 1}};
    snprintf(opts[0].value, sizeof opts[0].value, "%s", path);
    plugin_set_options(opts, 1);
    struct err e = {0};
    assert_int_equal(plugin_load(TESTING "hook_fails.so", &e), 0);
    assert_int_equal(plugin_load(SHIPPED "jsonl.so", &e), 0);
    struct survey s;
    struct question q[2];
    struct answer a[2];
    struct response r;
    fake_response(&s, q, a, &r);
    struct invitation inv = {.id = 7};
    struct arena *ar = arena_new();
    assert_non_null(ar);
    assert_int_equal(plugin_defer_response_stored(ar, &inv, &r), 0);
    plugin_run_deferred();
    assert_int_equal(count_lines(path, last, sizeof last), 1);
    assert_non_null(strstr(last, "\"invitation\":7"));
    arena_free(ar);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char dict_survey[] = "id: partners\n"
                                  "version: 1\n"
                                  "title: Партнёры\n"
                                  "questions:\n"
                                  "  - id: employer\n"
                                  "    type: x-dictionary\n"
                                  "    label: Предприятие\n"
                                  "    required: true\n"
                                  "    options: {file: partners.csv}\n";

/* Loads dir/partners.yaml: 0 with *s, or -1 with the formatted error in msg. */
static int load_partners(const char *dir, struct survey **s, char *msg, size_t size)
{
    char path[256];
    struct err e = {0};
    snprintf(path, sizeof path, "%s/partners.yaml", dir);
    msg[0] = '\0';
    int rc = survey_load(path, s, &e);
    if (rc < 0)
        err_format(&e, msg, size);
    return rc;
}

/* x-dictionary: a drop-down of the CSV's rows; its problems located in both files. */
static void test_dictionary_type(void **state)
{
    (void)state;
    char dir[128], msg[1024], expected[1024];
    snprintf(dir, sizeof dir, "%s/dict", tmpdir);
    assert_int_equal(mkdir(dir, 0700), 0);
    write_file(dir, "partners.yaml", dict_survey);
    write_file(dir, "partners.csv",
               "\xEF\xBB\xBFvalue;label;inn\n"
               "sever;ООО \"Север\";7700000001\n"
               "\n"
               "ural;\"АО \"\"Урал\"\"; цех 2\";7700000002\r\n");
    struct survey *sv = NULL;

    /* Without the plugin, the type is unknown, and the message says where plugins come from. */
    survey_set_plugin_types(plugin_qtype_find, "/usr/lib/anketa/plugins");
    assert_int_equal(load_partners(dir, &sv, msg, sizeof msg), -1);
    snprintf(expected, sizeof expected,
             "%s/partners.yaml:6:11: question \"employer\": type \"x-dictionary\" is a plugin's, "
             "and no loaded plugin provides it (the plugins are loaded from "
             "/usr/lib/anketa/plugins: plugin_dir, --plugin-dir)",
             dir);
    assert_string_equal(msg, expected);

    struct err e = {0};
    assert_int_equal(plugin_load(SHIPPED "dictionary.so", &e), 0);
    assert_int_equal(load_partners(dir, &sv, msg, sizeof msg), 0);
    const struct question *q = survey_question(sv, "employer");
    assert_non_null(q);
    assert_int_equal(q->type, Q_CHOICE);
    assert_true(q->dropdown);
    assert_non_null(q->xtype);
    assert_int_equal(q->nchoices, 2);
    assert_string_equal(q->choices[0].value, "sever");
    assert_string_equal(q->choices[0].label.ru, "ООО \"Север\"");
    assert_string_equal(q->choices[1].value, "ural");
    assert_string_equal(q->choices[1].label.ru, "АО \"Урал\"; цех 2");
    survey_free(sv);

    const struct {
        const char *csv, *error;
    } bad[] = {
        {"code;name\na;b\n", "partners.csv:1: the first row must name the columns value and label"},
        {"value,label\na,b\nc\n", "partners.csv:3: expected 2 fields separated by ',', found 1"},
        {"value;label\na;b\na;c\n", "partners.csv:3: a value given twice: \"a\""},
        {"value;label\n\"a;b\n", "partners.csv:2: a quoted field is not closed on its line"},
        {"value;label\n;b\n", "partners.csv:2: a row needs a value and a label"},
        {"value;label\na;\xff\n", "partners.csv:2: is not UTF-8 text"},
        {"value;label\n", "partners.csv: has no rows below its first"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_file(dir, "partners.csv", bad[i].csv);
        assert_int_equal(load_partners(dir, &sv, msg, sizeof msg), -1);
        snprintf(expected, sizeof expected, "partners.yaml:9:21: x-dictionary \"employer\": %s/%s",
                 dir, bad[i].error);
        if (!strstr(msg, expected))
            fail_msg("expected \"%s\" in \"%s\"", expected, msg);
    }
    write_file(dir, "partners.yaml",
               "id: partners\nversion: 1\ntitle: П\nquestions:\n  - id: employer\n"
               "    type: x-dictionary\n    label: П\n    options: {file: ../etc/passwd}\n");
    assert_int_equal(load_partners(dir, &sv, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "partners.yaml:8:21: x-dictionary \"employer\": \"../etc/passwd\": "
                                "give the name of a file beside the questionnaire, not a path"));
    write_file(dir, "partners.yaml",
               "id: partners\nversion: 1\ntitle: П\nquestions:\n  - id: employer\n"
               "    type: x-dictionary\n    label: П\n    choices: [a]\n");
    assert_int_equal(load_partners(dir, &sv, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "key \"choices\" does not apply to type \"x-dictionary\""));
    survey_set_plugin_types(NULL, NULL);
}

/* A plugin's validate refuses a listed value with its own message key; the rest is stored. */
static void test_qtype_validate(void **state)
{
    (void)state;
    static const char text[] = "id: even\nversion: 1\ntitle: Чётное\nquestions:\n"
                               "  - {id: n, type: x-even, label: Число, required: true}\n";
    struct err e = {0};
    struct survey *sv = NULL;
    survey_set_plugin_types(plugin_qtype_find, TESTING);
    assert_int_equal(plugin_load(TESTING "qtype_even.so", &e), 0);
    assert_int_equal(survey_load_mem("even.yaml", text, strlen(text), &sv, &e), 0);
    struct arena *a = arena_new();
    assert_non_null(a);
    const char *posted[] = {"3", "4", "5"},
               *expected[] = {"error.constraint", NULL, "error.choice"};
    for (size_t i = 0; i < 3; i++) {
        struct form_field field = {"q.n", posted[i], 1};
        struct form f = {&field, 1};
        struct response r;
        assert_int_equal(response_from_form(a, sv, &f, &r), 0);
        if (expected[i]) {
            assert_int_equal(r.nerrors, 1);
            assert_string_equal(r.errors[0], expected[i]);
        } else {
            assert_int_equal(r.nerrors, 0);
            assert_int_equal(r.nanswers, 1);
            assert_string_equal(r.answers[0].value, "4");
        }
    }
    arena_free(a);
    survey_free(sv);
    survey_set_plugin_types(NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_good_plugin, unload),
        cmocka_unit_test_teardown(test_wrong_abi_refused, unload),
        cmocka_unit_test_teardown(test_small_descriptor_refused, unload),
        cmocka_unit_test_teardown(test_older_descriptor, unload),
        cmocka_unit_test_teardown(test_failing_init_skipped, unload),
        cmocka_unit_test_teardown(test_missing_entry, unload),
        cmocka_unit_test_teardown(test_not_a_shared_object, unload),
        cmocka_unit_test_teardown(test_same_name_twice, unload),
        cmocka_unit_test_teardown(test_directory, unload),
        cmocka_unit_test_teardown(test_options, unload),
        cmocka_unit_test_teardown(test_exporter_by_format, unload),
        cmocka_unit_test_teardown(test_jsonl_events, unload),
        cmocka_unit_test_teardown(test_jsonl_needs_a_path, unload),
        cmocka_unit_test_teardown(test_failing_hook, unload),
        cmocka_unit_test_teardown(test_dictionary_type, unload),
        cmocka_unit_test_teardown(test_qtype_validate, unload),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
