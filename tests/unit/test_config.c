/*
 * Tests of config: the configuration file format, every key's checks, the located messages,
 * precedence (defaults < file < options), and that every key is documented.
 */
#include "config.h"
#include "err.h"
#include "server.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[64];
static char conf_path[128];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/anketa-config-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(conf_path, sizeof conf_path, "%s/anketa.conf", tmpdir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(conf_path);
    return rmdir(tmpdir);
}

/* Writes text (len bytes, so it may hold a NUL) as the configuration file. */
static void write_conf_n(const char *text, size_t len)
{
    FILE *f = fopen(conf_path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void write_conf(const char *text)
{
    write_conf_n(text, strlen(text));
}

/* Loads text over the defaults; returns config_load's result, the message in msg. */
static int load(const char *text, struct config *c, char *msg, size_t size)
{
    write_conf(text);
    config_defaults(c);
    struct err e = {0};
    int rc = config_load(c, conf_path, 0, &e);
    msg[0] = '\0';
    if (rc < 0)
        err_format(&e, msg, size);
    return rc;
}

/* Asserts that text fails with exactly "CONF:line: message". */
static void assert_conf_error(const char *text, int line, const char *message)
{
    static struct config c;
    char msg[1024], expected[1024];
    assert_int_equal(load(text, &c, msg, sizeof msg), -1);
    snprintf(expected, sizeof expected, "%s:%d: %s", conf_path, line, message);
    assert_string_equal(msg, expected);
}

static void test_defaults(void **state)
{
    (void)state;
    struct config c;
    config_defaults(&c);
    assert_string_equal(c.socket, "var/anketa.sock");
    assert_int_equal(c.socket_mode, 0660);
    assert_int_equal(c.workers, 0);
    assert_string_equal(c.db, "var/anketa.db");
    assert_string_equal(c.surveys, "surveys");
    assert_string_equal(c.web, "web");
    assert_int_equal(c.max_body, 1024 * 1024);
    assert_string_equal(c.synchronous, "FULL");
    assert_int_equal(c.log_level, LOG_INFO);
    assert_int_equal(c.set, 0);
}

static void test_full_file(void **state)
{
    (void)state;
    static struct config c;
    char msg[1024];
    assert_int_equal(load("# anketa\n"
                          "\n"
                          "socket = /run/anketa/anketa.sock\n"
                          "socket_mode=0640\n"
                          "\tworkers\t=\t4\t\n"
                          "db = /var/lib/anketa/anketa.db   # the answers\n"
                          "surveys = /etc/anketa/surveys\n"
                          "web = /usr/share/anketa/web\n"
                          "   # an indented comment\n"
                          "max_body = 64k\n"
                          "synchronous = normal\n"
                          "log_level = warn\n"
                          "lua = /usr/share/anketa/lua\n"
                          "region = demo\n"
                          "indicators_every = 60\n"
                          "store_names = yes\n"
                          "plugin_dir = /usr/lib/anketa/plugins\n",
                          &c, msg, sizeof msg),
                     1);
    assert_string_equal(c.socket, "/run/anketa/anketa.sock");
    assert_string_equal(c.plugin_dir, "/usr/lib/anketa/plugins");
    assert_int_equal(c.socket_mode, 0640);
    assert_int_equal(c.workers, 4);
    assert_string_equal(c.db, "/var/lib/anketa/anketa.db");
    assert_string_equal(c.surveys, "/etc/anketa/surveys");
    assert_string_equal(c.web, "/usr/share/anketa/web");
    assert_int_equal(c.max_body, 65536);
    assert_string_equal(c.synchronous, "NORMAL");
    assert_int_equal(c.log_level, LOG_WARN);
    assert_string_equal(c.lua, "/usr/share/anketa/lua");
    assert_string_equal(c.region, "demo");
    assert_int_equal(c.indicators_every, 60);
    assert_int_equal(c.store_names, 1);
    assert_int_equal(c.set, (1u << CONFIG_NKEYS) - 1);
    assert_int_equal(c.line[CONFIG_SOCKET], 3);
    assert_int_equal(c.line[CONFIG_WORKERS], 5);
    assert_int_equal(c.line[CONFIG_LOG_LEVEL], 12);

    struct server_config sc;
    config_server(&c, &sc);
    assert_string_equal(sc.socket_path, "/run/anketa/anketa.sock");
    assert_int_equal(sc.socket_mode, 0640);
    assert_int_equal(sc.workers, 4);
    assert_int_equal(sc.max_body, 65536);
    assert_string_equal(sc.db_path, "/var/lib/anketa/anketa.db");
    assert_string_equal(sc.surveys_dir, "/etc/anketa/surveys");
    assert_string_equal(sc.web_dir, "/usr/share/anketa/web");
    assert_string_equal(sc.synchronous, "NORMAL");
}

static void test_keys_left_out_keep_defaults(void **state)
{
    (void)state;
    static struct config c;
    char msg[1024];
    assert_int_equal(load("workers = 2\n", &c, msg, sizeof msg), 1);
    assert_int_equal(c.workers, 2);
    assert_string_equal(c.db, "var/anketa.db");
    assert_int_equal(c.max_body, 1024 * 1024);
    assert_int_equal(c.set, 1u << CONFIG_WORKERS);
    assert_int_equal(load("", &c, msg, sizeof msg), 1);
    assert_int_equal(c.set, 0);
}

static void test_line_endings_bom_and_hash_in_paths(void **state)
{
    (void)state;
    static struct config c;
    char msg[1024];
    assert_int_equal(load("\xEF\xBB\xBFworkers = 3\r\n"
                          "db = /srv/anketa#2/anketa.db\r\n"
                          "web = /srv/web # not part of the path\r\n"
                          "surveys = /srv/surveys",
                          &c, msg, sizeof msg),
                     1);
    assert_int_equal(c.workers, 3);
    assert_string_equal(c.db, "/srv/anketa#2/anketa.db");
    assert_string_equal(c.web, "/srv/web");
    assert_string_equal(c.surveys, "/srv/surveys");
}

static void test_unknown_keys(void **state)
{
    (void)state;
    assert_conf_error("workers = 2\nwrokers = 4\n", 2,
                      "unknown key \"wrokers\" (did you mean workers?)");
    assert_conf_error("max-body = 1m\n", 1, "unknown key \"max-body\" (did you mean max_body?)");
    assert_conf_error("Workers = 1\n", 1, "unknown key \"Workers\" (did you mean workers?)");
    assert_conf_error("socket_path = /run/a.sock\n", 1,
                      "unknown key \"socket_path\" (did you mean socket?)");
    assert_conf_error("sync = FULL\n", 1, "unknown key \"sync\" (did you mean synchronous?)");
    assert_conf_error("\n\ntheme = dark\n", 3,
                      "unknown key \"theme\" (the keys are: socket, socket_mode, workers, db, "
                      "surveys, web, max_body, synchronous, log_level, lua, region, "
                      "indicators_every, store_names, plugin_dir)");
}

/* plugin.NAME.KEY lines: kept with their lines for the plugins, their syntax checked here. */
static void test_plugin_options(void **state)
{
    (void)state;
    static struct config c;
    char msg[1024];
    assert_int_equal(load("workers = 2\nplugin.jsonl.path = /var/lib/anketa/events.jsonl\n"
                          "plugin.jsonl.fsync = none # the log shipper syncs\n",
                          &c, msg, sizeof msg),
                     1);
    assert_int_equal(c.nplugin_options, 2);
    assert_string_equal(c.plugin_options[0].plugin, "jsonl");
    assert_string_equal(c.plugin_options[0].key, "path");
    assert_string_equal(c.plugin_options[0].value, "/var/lib/anketa/events.jsonl");
    assert_int_equal(c.plugin_options[0].line, 2);
    assert_string_equal(c.plugin_options[1].value, "none");
    assert_int_equal(c.plugin_options[1].line, 3);
    assert_string_equal(c.plugin_dir, "build/plugins");
    assert_conf_error("plugin.jsonl = /x\n", 1,
                      "bad key \"plugin.jsonl\": a plugin's option is plugin.NAME.KEY (a-z, 0-9, "
                      "'_')");
    assert_conf_error("plugin.JSONL.path = /x\n", 1,
                      "bad key \"plugin.JSONL.path\": a plugin's option is plugin.NAME.KEY (a-z, "
                      "0-9, '_')");
    assert_conf_error("plugin.jsonl.path = /x\n\nplugin.jsonl.path = /y\n", 3,
                      "duplicate key plugin.jsonl.path (already set on line 1)");
    assert_conf_error("plugin.jsonl.path =\n", 1, "plugin.jsonl.path has no value");
    assert_conf_error("plugin_dir = build/plugins\n", 1,
                      "bad plugin_dir \"build/plugins\": expected an absolute path (starting "
                      "with /)");
}

static void test_syntax_errors(void **state)
{
    (void)state;
    assert_conf_error("workers 4\n", 1, "expected key = value");
    assert_conf_error("[anketa]\nworkers = 4\n", 1,
                      "sections are not used; write key = value lines only");
    assert_conf_error(" = 4\n", 1, "expected a key before =");
    assert_conf_error("workers =\n", 1, "workers has no value");
    assert_conf_error("workers = # later\n", 1, "workers has no value");
    assert_conf_error("db = \"/var/lib/anketa/anketa.db\"\n", 1,
                      "write the value of db without quotes");
    assert_conf_error("web = '/srv/web'\n", 1, "write the value of web without quotes");
    assert_conf_error("workers = 2\nsocket_mode = 0600\nworkers = 3\n", 3,
                      "duplicate key workers (already set on line 1)");
    static const char nul[] = "workers = 2\nweb = /srv\0web\n";
    write_conf_n(nul, sizeof nul - 1);
    struct config c;
    struct err e = {0};
    config_defaults(&c);
    assert_int_equal(config_load(&c, conf_path, 0, &e), -1);
    assert_int_equal(e.line, 2);
    assert_string_equal(e.msg, "contains a NUL byte; is this a text file?");
}

static void test_paths(void **state)
{
    (void)state;
    assert_conf_error("db = var/anketa.db\n", 1,
                      "bad db \"var/anketa.db\": expected an absolute path (starting with /)");
    assert_conf_error("socket = anketa.sock\n", 1,
                      "bad socket \"anketa.sock\": expected an absolute path (starting with /)");
    char text[256], expected[512];
    char longsock[120];
    memset(longsock, 'a', sizeof longsock);
    longsock[0] = '/';
    longsock[sizeof longsock - 1] = '\0';
    snprintf(text, sizeof text, "socket = %s\n", longsock);
    snprintf(expected, sizeof expected,
             "bad socket \"%s\": a unix socket path is at most 107 bytes", longsock);
    assert_conf_error(text, 1, expected);

    static char longpath[CONFIG_PATH_MAX + 8];
    memset(longpath, 'p', sizeof longpath);
    longpath[0] = '/';
    longpath[CONFIG_PATH_MAX] = '\0';
    struct config c;
    char why[160];
    config_defaults(&c);
    assert_int_equal(config_set(&c, CONFIG_DB, longpath, why, sizeof why), -1);
    assert_string_equal(why, "a path is at most 4095 bytes");
    assert_string_equal(c.db, "var/anketa.db");
    longpath[CONFIG_PATH_MAX - 1] = '\0';
    assert_int_equal(config_set(&c, CONFIG_DB, longpath, why, sizeof why), 0);
    assert_int_equal(strlen(c.db), CONFIG_PATH_MAX - 1);
    assert_int_equal(config_set(&c, CONFIG_WEB, "", why, sizeof why), -1);
    assert_string_equal(why, "expected a path");
}

/* Sets key to value through config_set; returns its result, the reason in why. */
static int set(struct config *c, enum config_key k, const char *value, char *why)
{
    why[0] = '\0';
    return config_set(c, k, value, why, 160);
}

static void test_socket_mode(void **state)
{
    (void)state;
    struct config c;
    char why[160];
    config_defaults(&c);
    assert_int_equal(set(&c, CONFIG_SOCKET_MODE, "0600", why), 0);
    assert_int_equal(c.socket_mode, 0600);
    assert_int_equal(set(&c, CONFIG_SOCKET_MODE, "660", why), 0);
    assert_int_equal(c.socket_mode, 0660);
    assert_int_equal(set(&c, CONFIG_SOCKET_MODE, "0777", why), 0);
    assert_int_equal(c.socket_mode, 0777);
    const char *bad[] = {"999", "0", "0000", "1000", "07777", "rw", "", "0x1ff", "-660", "0660 "};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(set(&c, CONFIG_SOCKET_MODE, bad[i], why), -1);
        assert_string_equal(why, "expected an octal mode from 0001 to 0777, such as 0660");
    }
    assert_int_equal(c.socket_mode, 0777);
    assert_conf_error("socket_mode = 999\n", 1,
                      "bad socket_mode \"999\": expected an octal mode from 0001 to 0777, "
                      "such as 0660");
}

static void test_workers(void **state)
{
    (void)state;
    struct config c;
    char why[160];
    config_defaults(&c);
    assert_int_equal(set(&c, CONFIG_WORKERS, "1", why), 0);
    assert_int_equal(c.workers, 1);
    assert_int_equal(set(&c, CONFIG_WORKERS, "256", why), 0);
    assert_int_equal(c.workers, 256);
    assert_int_equal(set(&c, CONFIG_WORKERS, "auto", why), 0);
    assert_int_equal(c.workers, 0);
    const char *bad[] = {"0", "257", "-1", "four", "4x", "", "AUTO", "100000"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(set(&c, CONFIG_WORKERS, bad[i], why), -1);
        assert_string_equal(why, "expected auto or a number from 1 to 256");
    }
    assert_conf_error("workers = 0\n", 1,
                      "bad workers \"0\": expected auto or a number from 1 to 256");
}

static void test_max_body(void **state)
{
    (void)state;
    struct config c;
    char why[160];
    config_defaults(&c);
    struct {
        const char *text;
        size_t bytes;
    } good[] = {
        {"1k", 1024},    {"1024", 1024},  {"65536", 65536},     {"64K", 65536},
        {"1m", 1048576}, {"2M", 2097152}, {"1g", 1073741824UL}, {"1073741824", 1073741824UL},
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        assert_int_equal(set(&c, CONFIG_MAX_BODY, good[i].text, why), 0);
        assert_int_equal(c.max_body, good[i].bytes);
    }
    const char *bad[] = {"0",
                         "1023",
                         "1",
                         "2g",
                         "1073741825",
                         "1t",
                         "1mb",
                         "-1",
                         "m1",
                         "",
                         "1.5m",
                         " 1m",
                         "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(set(&c, CONFIG_MAX_BODY, bad[i], why), -1);
        assert_string_equal(why, "expected a size from 1k to 1g, such as 65536, 64k or 1m");
    }
    assert_int_equal(c.max_body, 1073741824UL);
    assert_conf_error("max_body = 1 m\n", 1,
                      "bad max_body \"1 m\": expected a size from 1k to 1g, such as 65536, 64k "
                      "or 1m");
}

static void test_synchronous_and_log_level(void **state)
{
    (void)state;
    struct config c;
    char why[160];
    config_defaults(&c);
    assert_int_equal(set(&c, CONFIG_SYNCHRONOUS, "normal", why), 0);
    assert_string_equal(c.synchronous, "NORMAL");
    assert_int_equal(set(&c, CONFIG_SYNCHRONOUS, "Full", why), 0);
    assert_string_equal(c.synchronous, "FULL");
    assert_int_equal(set(&c, CONFIG_SYNCHRONOUS, "OFF", why), -1);
    assert_string_equal(why, "expected FULL or NORMAL");
    assert_int_equal(set(&c, CONFIG_SYNCHRONOUS, "FULLY", why), -1);
    assert_string_equal(c.synchronous, "FULL");

    const char *levels[] = {"debug", "info", "warn", "ERROR"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(set(&c, CONFIG_LOG_LEVEL, levels[i], why), 0);
        assert_int_equal(c.log_level, (enum log_level)i);
    }
    assert_int_equal(set(&c, CONFIG_LOG_LEVEL, "warning", why), -1);
    assert_string_equal(why, "expected debug, info, warn or error");
    assert_int_equal(c.log_level, LOG_ERROR);
    assert_conf_error("log_level = verbose\n", 1,
                      "bad log_level \"verbose\": expected debug, info, warn or error");
}

static void test_missing_file(void **state)
{
    (void)state;
    struct config c;
    struct err e = {0};
    char missing[160];
    snprintf(missing, sizeof missing, "%s/nothing.conf", tmpdir);
    config_defaults(&c);
    assert_int_equal(config_load(&c, missing, 1, &e), 0);
    assert_int_equal(c.set, 0);
    assert_string_equal(c.db, "var/anketa.db");
    assert_int_equal(config_load(&c, missing, 0, &e), -1);
    char msg[512], expected[512];
    err_format(&e, msg, sizeof msg);
    snprintf(expected, sizeof expected,
             "%s: cannot read the configuration: No such file or directory", missing);
    assert_string_equal(msg, expected);
    /* A directory where the file should be is an error even when the file is optional. */
    assert_int_equal(config_load(&c, tmpdir, 1, &e), -1);
    assert_string_equal(e.msg, "cannot read the configuration: Is a directory");
}

static void test_command_line_overrides_file(void **state)
{
    (void)state;
    static struct config file, cli;
    char msg[1024], why[160];
    assert_int_equal(load("workers = 4\nmax_body = 64k\ndb = /var/lib/anketa/anketa.db\n", &file,
                          msg, sizeof msg),
                     1);
    memset(&cli, 0, sizeof cli);
    assert_int_equal(config_set(&cli, CONFIG_WORKERS, "2", why, sizeof why), 0);
    assert_int_equal(config_set(&cli, CONFIG_SOCKET, "var/test.sock", why, sizeof why), 0);
    config_merge(&file, &cli);
    assert_int_equal(file.workers, 2);
    assert_string_equal(file.socket, "var/test.sock");
    assert_int_equal(file.max_body, 65536);
    assert_string_equal(file.db, "/var/lib/anketa/anketa.db");
    assert_string_equal(file.web, "web");
    assert_int_equal(file.line[CONFIG_WORKERS], 0);
    assert_int_equal(file.line[CONFIG_MAX_BODY], 2);
}

static void test_resolve(void **state)
{
    (void)state;
    static struct config cli, out;
    char why[160];
    write_conf("workers = 4\nsynchronous = NORMAL\n");
    memset(&cli, 0, sizeof cli);
    assert_int_equal(config_set(&cli, CONFIG_WORKERS, "auto", why, sizeof why), 0);
    struct err e = {0};
    assert_int_equal(config_resolve(&out, conf_path, &cli, &e), 1);
    assert_int_equal(out.workers, 0);                   /* the option */
    assert_string_equal(out.synchronous, "NORMAL");     /* the file */
    assert_string_equal(out.socket, "var/anketa.sock"); /* the default */
    assert_int_equal(out.set, (1u << CONFIG_WORKERS) | (1u << CONFIG_SYNCHRONOUS));

    write_conf("workers = 4\nworkers = 5\n");
    assert_int_equal(config_resolve(&out, conf_path, &cli, &e), -1);
    assert_int_equal(e.line, 2);
    char missing[160];
    snprintf(missing, sizeof missing, "%s/missing.conf", tmpdir);
    assert_int_equal(config_resolve(&out, missing, &cli, &e), -1);
    assert_string_equal(e.file, missing);
}

static void test_key_names(void **state)
{
    (void)state;
    for (int k = 0; k < CONFIG_NKEYS; k++)
        assert_int_equal(config_key_find(config_key_name((enum config_key)k)), k);
    assert_int_equal(config_key_find("max-body"), -1);
    assert_int_equal(config_key_find(""), -1);
}

/* Reads a whole file of the repository into a malloc'd string. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = NULL;
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (size >= 0 && fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)size + 1)) != NULL) {
        size_t n = fread(text, 1, (size_t)size, f);
        text[n] = '\0';
    }
    fclose(f);
    return text;
}

/* The command-line option of a key as roff writes it: max_body is \-\-max\-body. */
static void roff_option(const char *name, char *out, size_t size)
{
    size_t used = (size_t)snprintf(out, size, "\\-\\-");
    for (const char *p = name; *p && used + 3 < size; p++) {
        if (*p == '_') {
            memcpy(out + used, "\\-", 2);
            used += 2;
        } else {
            out[used++] = *p;
        }
    }
    out[used] = '\0';
}

/* The shipped example loads as it is, sets every key, and every key is in the man page. */
static void test_every_key_documented(void **state)
{
    (void)state;
    static struct config c;
    struct err e = {0};
    config_defaults(&c);
    assert_int_equal(config_load(&c, "deploy/anketa.conf", 0, &e), 1);
    assert_int_equal(c.set, (1u << CONFIG_NKEYS) - 1);
    assert_string_equal(c.socket, "/run/anketa/anketa.sock");
    assert_string_equal(c.db, "/var/lib/anketa/anketa.db");
    assert_string_equal(c.surveys, "/usr/share/anketa/surveys");
    assert_string_equal(c.web, "/usr/share/anketa/web");

    char *man = slurp("docs/anketa.1");
    assert_non_null(man);
    for (int k = 0; k < CONFIG_NKEYS; k++) {
        char item[96], option[96];
        const char *name = config_key_name((enum config_key)k);
        /* A key is an item of the man page's file section: ".TP\n.B name". */
        snprintf(item, sizeof item, ".TP\n.B %s\n", name);
        if (!strstr(man, item))
            fail_msg("docs/anketa.1 does not describe the key %s", name);
        /* store_names is read by anketa import, not by serve: it has no serve option. */
        if (k == CONFIG_STORE_NAMES)
            continue;
        roff_option(name, option, sizeof option);
        if (!strstr(man, option))
            fail_msg("docs/anketa.1 does not describe the option %s", option);
    }
    free(man);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_full_file),
        cmocka_unit_test(test_keys_left_out_keep_defaults),
        cmocka_unit_test(test_line_endings_bom_and_hash_in_paths),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_plugin_options),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_socket_mode),
        cmocka_unit_test(test_workers),
        cmocka_unit_test(test_max_body),
        cmocka_unit_test(test_synchronous_and_log_level),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_command_line_overrides_file),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_key_names),
        cmocka_unit_test(test_every_key_documented),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
