/*
 * config: the settings of `anketa serve`, from three sources checked by one set of rules:
 * built-in defaults, then the configuration file (/etc/anketa/anketa.conf: `key = value`
 * lines, `#` comments), then command-line options. A later source overrides an earlier one.
 *
 * Values are copied into the struct, so a struct config owns everything it points to and
 * needs no freeing.
 */
#ifndef ANKETA_CONFIG_H
#define ANKETA_CONFIG_H

#include "log.h"
#include "plugin.h"

#include <stddef.h>

struct err;
struct server_config;

/* The file `anketa serve` reads when no --config is given (and runs without if it is absent). */
#define CONFIG_DEFAULT_PATH "/etc/anketa/anketa.conf"

#define CONFIG_PATH_MAX           4096
#define CONFIG_MAX_WORKERS        256
#define CONFIG_MAX_PLUGIN_OPTIONS 32

enum config_key {
    CONFIG_SOCKET,
    CONFIG_SOCKET_MODE,
    CONFIG_WORKERS,
    CONFIG_DB,
    CONFIG_SURVEYS,
    CONFIG_WEB,
    CONFIG_MAX_BODY,
    CONFIG_SYNCHRONOUS,
    CONFIG_LOG_LEVEL,
    CONFIG_LUA,
    CONFIG_REGION,
    CONFIG_INDICATORS_EVERY,
    CONFIG_STORE_NAMES,
    CONFIG_PLUGIN_DIR,
    CONFIG_NKEYS
};

struct config {
    char socket[CONFIG_PATH_MAX];
    int socket_mode; /* e.g. 0660 */
    int workers;     /* 0 = one per online CPU ("auto") */
    char db[CONFIG_PATH_MAX];
    char surveys[CONFIG_PATH_MAX];
    char web[CONFIG_PATH_MAX];
    size_t max_body;     /* bytes */
    char synchronous[8]; /* "FULL" or "NORMAL" */
    enum log_level log_level;
    char lua[CONFIG_PATH_MAX]; /* lib/ and regions/ of the indicator scripts */
    char region[65];           /* the region whose indicators are computed; "" = none */
    int indicators_every;      /* seconds between checks for changed data; 0 = never */
    int store_names;           /* imports keep participants' names (152-FZ: off by default) */
    char plugin_dir[CONFIG_PATH_MAX]; /* the *.so loaded at start; missing: none */
    /* `plugin.<name>.<key> = value` lines: only in the file, checked against the plugins once
     * they are loaded (plugin_check_options). */
    struct plugin_option plugin_options[CONFIG_MAX_PLUGIN_OPTIONS];
    size_t nplugin_options;
    unsigned set;           /* bit k: key k was given (by a file or an option), not defaulted */
    int line[CONFIG_NKEYS]; /* the line of the file that set key k; 0 = not set by a file */
};

/* Fills c with the built-in defaults (paths relative to the source tree, as `make run` uses). */
void config_defaults(struct config *c);

/* The key's name in the file ("max_body"); the command-line option is the same with '-'. */
const char *config_key_name(enum config_key k);

/* The key named name, or -1 when there is none. */
int config_key_find(const char *name);

/*
 * Checks value for key k and stores it in c. On a bad value returns -1 and writes why into
 * why (e.g. "expected FULL or NORMAL"), leaving c unchanged.
 */
int config_set(struct config *c, enum config_key k, const char *value, char *why, size_t size);

/*
 * Reads the configuration file path into c, over what c holds. Every problem (syntax, an
 * unknown key, a bad value, a key given twice, a relative path) fails with e located at
 * FILE:LINE. Returns 1 when the file was read, 0 when it does not exist and missing_ok is
 * set (c is left as it was), -1 on error.
 */
int config_load(struct config *c, const char *path, int missing_ok, struct err *e);

/* Copies into dst the keys that were given in src (src->set), e.g. command-line options. */
void config_merge(struct config *dst, const struct config *src);

/*
 * The whole precedence, as `anketa serve` starts (and as a reload would run it again):
 * defaults, then the file at path (or, when path is NULL, CONFIG_DEFAULT_PATH if it
 * exists), then the keys given in cli. Returns 1 when a file was read, 0 when there was
 * none, -1 with e located on error.
 */
int config_resolve(struct config *out, const char *path, const struct config *cli, struct err *e);

/* Points out's fields at c's values; out is valid as long as c is. */
void config_server(const struct config *c, struct server_config *out);

#endif
