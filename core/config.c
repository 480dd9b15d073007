/*
 * config: the keys of `anketa serve`, their checks, and the configuration file format.
 *
 * The file format is deliberately small: one `key = value` per line, `#` starts a comment
 * (at the beginning of a line or after whitespace), no sections, no quoting, no includes.
 * Anything else is an error located at FILE:LINE, because a setting silently ignored is
 * worse than a service that refuses to start and says why.
 */
#include "config.h"

#include "err.h"
#include "server.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

enum config_type {
    CONFIG_T_PATH,
    CONFIG_T_SOCKET,
    CONFIG_T_MODE,
    CONFIG_T_WORKERS,
    CONFIG_T_SIZE,
    CONFIG_T_SYNC,
    CONFIG_T_LEVEL,
    CONFIG_T_REGION,
    CONFIG_T_SECONDS,
    CONFIG_T_BOOL
};

struct config_keydef {
    const char *name;
    enum config_type type;
    size_t offset;
    size_t size;
};

#define CONFIG_FIELD(f) offsetof(struct config, f), sizeof(((struct config *)0)->f)

static const struct config_keydef config_keys[CONFIG_NKEYS] = {
    [CONFIG_SOCKET] = {"socket", CONFIG_T_SOCKET, CONFIG_FIELD(socket)},
    [CONFIG_SOCKET_MODE] = {"socket_mode", CONFIG_T_MODE, CONFIG_FIELD(socket_mode)},
    [CONFIG_WORKERS] = {"workers", CONFIG_T_WORKERS, CONFIG_FIELD(workers)},
    [CONFIG_DB] = {"db", CONFIG_T_PATH, CONFIG_FIELD(db)},
    [CONFIG_SURVEYS] = {"surveys", CONFIG_T_PATH, CONFIG_FIELD(surveys)},
    [CONFIG_WEB] = {"web", CONFIG_T_PATH, CONFIG_FIELD(web)},
    [CONFIG_MAX_BODY] = {"max_body", CONFIG_T_SIZE, CONFIG_FIELD(max_body)},
    [CONFIG_SYNCHRONOUS] = {"synchronous", CONFIG_T_SYNC, CONFIG_FIELD(synchronous)},
    [CONFIG_LOG_LEVEL] = {"log_level", CONFIG_T_LEVEL, CONFIG_FIELD(log_level)},
    [CONFIG_LUA] = {"lua", CONFIG_T_PATH, CONFIG_FIELD(lua)},
    [CONFIG_REGION] = {"region", CONFIG_T_REGION, CONFIG_FIELD(region)},
    [CONFIG_INDICATORS_EVERY] = {"indicators_every", CONFIG_T_SECONDS,
                                 CONFIG_FIELD(indicators_every)},
    [CONFIG_STORE_NAMES] = {"store_names", CONFIG_T_BOOL, CONFIG_FIELD(store_names)},
    [CONFIG_PLUGIN_DIR] = {"plugin_dir", CONFIG_T_PATH, CONFIG_FIELD(plugin_dir)},
};

/* The same words as log.c prints, in enum log_level order. */
static const char *const config_levels[] = {"debug", "info", "warn", "error"};

#define CONFIG_BODY_MIN ((size_t)1024)
#define CONFIG_BODY_MAX ((size_t)1024 * 1024 * 1024)

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->socket, sizeof c->socket, "var/anketa.sock");
    c->socket_mode = 0660;
    c->workers = 0;
    snprintf(c->db, sizeof c->db, "var/anketa.db");
    snprintf(c->surveys, sizeof c->surveys, "surveys");
    snprintf(c->web, sizeof c->web, "web");
    c->max_body = 1024 * 1024;
    snprintf(c->synchronous, sizeof c->synchronous, "FULL");
    c->log_level = LOG_INFO;
    snprintf(c->lua, sizeof c->lua, "lua");
    c->indicators_every = 300;
    snprintf(c->plugin_dir, sizeof c->plugin_dir, "build/plugins");
}

const char *config_key_name(enum config_key k)
{
    return config_keys[k].name;
}

int config_key_find(const char *name)
{
    for (int k = 0; k < CONFIG_NKEYS; k++)
        if (strcmp(config_keys[k].name, name) == 0)
            return k;
    return -1;
}

/*
 * Digits with an optional k/m/g suffix (powers of 1024), as nginx writes sizes. Anything
 * over CONFIG_BODY_MAX fails here already, before it could overflow a 32-bit size_t.
 */
static int config_parse_size(const char *s, size_t *out)
{
    unsigned long long v = 0, unit = 1;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (unsigned long long)(*p - '0');
        if (v > CONFIG_BODY_MAX)
            return -1;
    }
    if (*p == 'k' || *p == 'K')
        unit = 1024;
    else if (*p == 'm' || *p == 'M')
        unit = 1024 * 1024;
    else if (*p == 'g' || *p == 'G')
        unit = 1024 * 1024 * 1024;
    if (unit > 1)
        p++;
    if (*p || v > CONFIG_BODY_MAX / unit)
        return -1;
    *out = (size_t)(v * unit);
    return 0;
}

static int config_parse_mode(const char *s, int *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 4 || strspn(s, "01234567") != n)
        return -1;
    int mode = (int)strtol(s, NULL, 8);
    if (mode < 1 || mode > 0777)
        return -1;
    *out = mode;
    return 0;
}

static int config_parse_workers(const char *s, int *out)
{
    if (strcmp(s, "auto") == 0) {
        *out = 0;
        return 0;
    }
    size_t n = strlen(s);
    if (n == 0 || n > 4 || strspn(s, "0123456789") != n)
        return -1;
    int w = atoi(s);
    if (w < 1 || w > CONFIG_MAX_WORKERS)
        return -1;
    *out = w;
    return 0;
}

int config_set(struct config *c, enum config_key k, const char *value, char *why, size_t size)
{
    const struct config_keydef *d = &config_keys[k];
    char *field = (char *)c + d->offset;
    size_t len = strlen(value);
    switch (d->type) {
    case CONFIG_T_SOCKET:
    case CONFIG_T_PATH:
        if (d->type == CONFIG_T_SOCKET && len >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
            snprintf(why, size, "a unix socket path is at most %zu bytes",
                     sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
            return -1;
        }
        if (len == 0) {
            snprintf(why, size, "expected a path");
            return -1;
        }
        if (len >= d->size) {
            snprintf(why, size, "a path is at most %zu bytes", d->size - 1);
            return -1;
        }
        memcpy(field, value, len + 1);
        break;
    case CONFIG_T_MODE:
        if (config_parse_mode(value, &c->socket_mode) < 0) {
            snprintf(why, size, "expected an octal mode from 0001 to 0777, such as 0660");
            return -1;
        }
        break;
    case CONFIG_T_WORKERS:
        if (config_parse_workers(value, &c->workers) < 0) {
            snprintf(why, size, "expected auto or a number from 1 to %d", CONFIG_MAX_WORKERS);
            return -1;
        }
        break;
    case CONFIG_T_SIZE: {
        size_t v;
        if (config_parse_size(value, &v) < 0 || v < CONFIG_BODY_MIN || v > CONFIG_BODY_MAX) {
            snprintf(why, size, "expected a size from 1k to 1g, such as 65536, 64k or 1m");
            return -1;
        }
        c->max_body = v;
        break;
    }
    case CONFIG_T_SYNC:
        if (strcasecmp(value, "FULL") != 0 && strcasecmp(value, "NORMAL") != 0) {
            snprintf(why, size, "expected FULL or NORMAL");
            return -1;
        }
        snprintf(c->synchronous, sizeof c->synchronous, "%s",
                 strcasecmp(value, "FULL") == 0 ? "FULL" : "NORMAL");
        break;
    case CONFIG_T_LEVEL: {
        size_t i = 0, n = sizeof config_levels / sizeof *config_levels;
        while (i < n && strcasecmp(value, config_levels[i]) != 0)
            i++;
        if (i == n) {
            snprintf(why, size, "expected debug, info, warn or error");
            return -1;
        }
        c->log_level = (enum log_level)i;
        break;
    }
    case CONFIG_T_REGION:
        if (!len || len >= d->size ||
            strspn(value, "abcdefghijklmnopqrstuvwxyz0123456789_-") != len) {
            snprintf(why, size,
                     "expected the name of a directory of lua/regions (a-z, 0-9, "
                     "'_' and '-'), or none");
            return -1;
        }
        /* "none" is no region: a directory cannot be called that. */
        if (strcmp(value, "none") == 0)
            field[0] = '\0';
        else
            memcpy(field, value, len + 1);
        break;
    case CONFIG_T_SECONDS: {
        char *end;
        long v = strtol(value, &end, 10);
        if (!len || *end || v < 0 || v > 86400) {
            snprintf(why, size, "expected seconds from 0 (never) to 86400");
            return -1;
        }
        c->indicators_every = (int)v;
        break;
    }
    case CONFIG_T_BOOL:
        if (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0) {
            snprintf(why, size, "expected yes or no");
            return -1;
        }
        c->store_names = strcmp(value, "yes") == 0;
        break;
    }
    c->set |= 1u << k;
    return 0;
}

void config_merge(struct config *dst, const struct config *src)
{
    for (int k = 0; k < CONFIG_NKEYS; k++) {
        if (!(src->set & (1u << k)))
            continue;
        memcpy((char *)dst + config_keys[k].offset, (const char *)src + config_keys[k].offset,
               config_keys[k].size);
        dst->set |= 1u << k;
        dst->line[k] = src->line[k];
    }
}

int config_resolve(struct config *out, const char *path, const struct config *cli, struct err *e)
{
    config_defaults(out);
    int rc = config_load(out, path ? path : CONFIG_DEFAULT_PATH, path == NULL, e);
    if (rc >= 0)
        config_merge(out, cli);
    return rc;
}

void config_server(const struct config *c, struct server_config *out)
{
    out->socket_path = c->socket;
    out->socket_mode = c->socket_mode;
    out->workers = c->workers;
    out->max_body = c->max_body;
    out->db_path = c->db;
    out->surveys_dir = c->surveys;
    out->web_dir = c->web;
    out->synchronous = c->synchronous;
    out->lua_dir = c->lua;
    out->region = c->region[0] ? c->region : NULL;
    out->indicators_every = c->indicators_every;
}

/* Edit distance between two short names, for "did you mean". */
static size_t config_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[64];
    if (la >= 64 || lb >= 64)
        return (size_t)-1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/*
 * The key an unknown name most likely meant: the same up to case and '-' for '_', a typo of
 * at most two letters, or a longer or shorter spelling (socket_path, sync). NULL when none.
 */
static const char *config_suggest(const char *name)
{
    char norm[64];
    size_t n = strlen(name);
    if (n >= sizeof norm)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        norm[i] = name[i] == '-' ? '_' : (char)tolower((unsigned char)name[i]);
    const char *best = NULL;
    size_t best_d = 3;
    for (int k = 0; k < CONFIG_NKEYS; k++) {
        const char *key = config_keys[k].name;
        size_t d = config_distance(norm, key);
        if (d < best_d) {
            best_d = d;
            best = key;
        }
    }
    if (best)
        return best;
    for (int k = 0; k < CONFIG_NKEYS; k++) {
        const char *key = config_keys[k].name;
        size_t lk = strlen(key);
        if (n >= 3 && (strncmp(norm, key, n < lk ? n : lk) == 0))
            return key;
    }
    return NULL;
}

static int config_unknown(const char *path, int line, const char *name, struct err *e)
{
    const char *guess = config_suggest(name);
    if (guess)
        return err_set(e, path, line, 0, "unknown key \"%.64s\" (did you mean %s?)", name, guess);
    char keys[256];
    size_t used = 0;
    for (int k = 0; k < CONFIG_NKEYS && used < sizeof keys; k++)
        used += (size_t)snprintf(keys + used, sizeof keys - used, "%s%s", k ? ", " : "",
                                 config_keys[k].name);
    return err_set(e, path, line, 0, "unknown key \"%.64s\" (the keys are: %s)", name, keys);
}

static int config_is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Trims blanks at both ends of s in place and returns the new start. */
static char *config_trim(char *s)
{
    while (config_is_blank(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && config_is_blank(s[n - 1]))
        s[--n] = '\0';
    return s;
}

/*
 * `plugin.<name>.<key> = value`: the syntax is checked here, the key against the plugin's own
 * list once the plugins are loaded (plugin_check_options), since only the plugin knows it.
 */
static int config_plugin_option(struct config *c, const char *path, int lineno, const char *name,
                                const char *value, struct err *e)
{
    const char *lower = "abcdefghijklmnopqrstuvwxyz0123456789_";
    const char *plugin = name + 7, *dot = strchr(plugin, '.');
    size_t np = dot ? (size_t)(dot - plugin) : 0, nk = dot ? strlen(dot + 1) : 0;
    if (!dot || np == 0 || np > 32 || strspn(plugin, lower) != np || nk == 0 || nk > 32 ||
        strspn(dot + 1, lower) != nk)
        return err_set(e, path, lineno, 0,
                       "bad key \"%.64s\": a plugin's option is plugin.NAME.KEY (a-z, 0-9, '_')",
                       name);
    for (size_t i = 0; i < c->nplugin_options; i++) {
        const struct plugin_option *o = &c->plugin_options[i];
        if (strlen(o->plugin) == np && strncmp(o->plugin, plugin, np) == 0 &&
            strcmp(o->key, dot + 1) == 0)
            return err_set(e, path, lineno, 0, "duplicate key %s (already set on line %d)", name,
                           o->line);
    }
    if (c->nplugin_options == CONFIG_MAX_PLUGIN_OPTIONS)
        return err_set(e, path, lineno, 0, "at most %d plugin options", CONFIG_MAX_PLUGIN_OPTIONS);
    struct plugin_option *o = &c->plugin_options[c->nplugin_options];
    if (strlen(value) >= sizeof o->value)
        return err_set(e, path, lineno, 0, "the value of %s is longer than %zu bytes", name,
                       sizeof o->value - 1);
    memset(o, 0, sizeof *o);
    memcpy(o->plugin, plugin, np);
    memcpy(o->key, dot + 1, nk);
    memcpy(o->value, value, strlen(value) + 1);
    o->line = lineno;
    c->nplugin_options++;
    return 0;
}

static int config_line(struct config *c, const char *path, int lineno, char *text, struct err *e)
{
    char *s = config_trim(text);
    if (*s == '\0' || *s == '#')
        return 0;
    if (*s == '[')
        return err_set(e, path, lineno, 0, "sections are not used; write key = value lines only");
    char *eq = strchr(s, '=');
    if (!eq)
        return err_set(e, path, lineno, 0, "expected key = value");
    *eq = '\0';
    char *name = config_trim(s);
    char *value = eq + 1;
    for (char *p = value; *p; p++) {
        if (*p == '#' && (p == value || config_is_blank(p[-1]))) {
            *p = '\0';
            break;
        }
    }
    value = config_trim(value);
    if (*name == '\0')
        return err_set(e, path, lineno, 0, "expected a key before =");
    if (strncmp(name, "plugin.", 7) == 0) {
        if (*value == '\0')
            return err_set(e, path, lineno, 0, "%s has no value", name);
        return config_plugin_option(c, path, lineno, name, value, e);
    }
    int k = config_key_find(name);
    if (k < 0)
        return config_unknown(path, lineno, name, e);
    if (c->line[k])
        return err_set(e, path, lineno, 0, "duplicate key %s (already set on line %d)", name,
                       c->line[k]);
    if (*value == '\0')
        return err_set(e, path, lineno, 0, "%s has no value", name);
    size_t vlen = strlen(value);
    if (vlen >= 2 && (value[0] == '"' || value[0] == '\'') && value[vlen - 1] == value[0])
        return err_set(e, path, lineno, 0, "write the value of %s without quotes", name);
    enum config_type t = config_keys[k].type;
    if ((t == CONFIG_T_PATH || t == CONFIG_T_SOCKET) && value[0] != '/')
        return err_set(e, path, lineno, 0,
                       "bad %s \"%.200s\": expected an absolute path (starting with /)", name,
                       value);
    char why[160];
    if (config_set(c, (enum config_key)k, value, why, sizeof why) < 0)
        return err_set(e, path, lineno, 0, "bad %s \"%.200s\": %s", name, value, why);
    c->line[k] = lineno;
    return 0;
}

int config_load(struct config *c, const char *path, int missing_ok, struct err *e)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT && missing_ok)
            return 0;
        return err_set(e, path, 0, 0, "cannot read the configuration: %s", strerror(errno));
    }
    char *text = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0, rc = 1;
    while ((n = getline(&text, &cap, f)) >= 0) {
        lineno++;
        if ((size_t)n != strlen(text)) {
            rc = err_set(e, path, lineno, 0, "contains a NUL byte; is this a text file?");
            break;
        }
        while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
            text[--n] = '\0';
        char *start = text;
        if (lineno == 1 && strncmp(start, "\xEF\xBB\xBF", 3) == 0)
            start += 3;
        if (config_line(c, path, lineno, start, e) < 0) {
            rc = -1;
            break;
        }
    }
    if (rc == 1 && !feof(f))
        rc = err_set(e, path, 0, 0, "cannot read the configuration: %s", strerror(errno));
    free(text);
    fclose(f);
    return rc;
}
