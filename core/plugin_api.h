/*
 * plugin_api: the plugin ABI of anketa, the only header a plugin includes (docs/plugins.md).
 *
 * A plugin is a shared object exporting one function, anketa_plugin_entry, which returns a
 * descriptor (struct anketa_plugin). The host checks the descriptor's abi and struct_size,
 * calls init with its table of functions (struct anketa_host_api), and from then on calls
 * the hooks the descriptor fills in.
 *
 * Versioning, as SQLite's loadable extensions and PostgreSQL's module magic do it:
 * - ANKETA_PLUGIN_ABI changes only when something here changes incompatibly (a field moved,
 *   removed or retyped). A plugin built for another ABI is refused at load.
 * - Every struct here only ever grows at its end. Each carries its size (struct_size,
 *   size): the host reads none of a plugin's fields past the size it declares, and a plugin
 *   must check host->size before calling a host function added after the ones it knows
 *   (ANKETA_HOST_HAS below). So a plugin built against an older header keeps working with a
 *   newer host, and a newer plugin can tell an older host apart.
 *
 * Threading and memory: every anketa process is single-threaded (the server's workers are
 * forked processes), so hooks are never called concurrently within a process. Strings the
 * host passes are valid only during the call; strings a plugin returns in its descriptor
 * must live as long as the plugin is loaded.
 */
#ifndef ANKETA_PLUGIN_API_H
#define ANKETA_PLUGIN_API_H

#include <stddef.h>
#include <stdint.h>

#define ANKETA_PLUGIN_ABI 1

/* The name of the one function a plugin exports. */
#define ANKETA_PLUGIN_ENTRY "anketa_plugin_entry"

/* Room a hook has for an error message it writes (NUL-terminated, in English, for logs). */
#define ANKETA_ERR_MAX 256

enum anketa_log_level {
    ANKETA_LOG_DEBUG,
    ANKETA_LOG_INFO,
    ANKETA_LOG_WARN,
    ANKETA_LOG_ERROR,
};

/* ---- Exporters: a table streamed row by row into a format (XLSX, ...) ---- */

enum anketa_column_type {
    ANKETA_COL_TEXT,
    ANKETA_COL_NUMBER, /* a number; text that is not a plain decimal stays text */
    ANKETA_COL_JSON,   /* JSON text (a multiple choice, a ranking) */
};

struct anketa_export_column {
    const char *name;
    int type; /* enum anketa_column_type */
};

/* One cell: with has_num, num (NaN and infinities are empty cells); otherwise text, NULL for
 * an empty cell. A number column may take its number as text ("12", "-0.5"). */
struct anketa_export_value {
    const char *text;
    double num;
    int has_num;
};

/* What an exporter writes to, for one table. */
struct anketa_export_target {
    size_t size; /* sizeof(struct anketa_export_target) of the host */
    const struct anketa_export_column *cols;
    size_t ncols;
    const char *sheet;  /* a name for the table ("responses") */
    const char *tmpdir; /* where temporary files may go */
    /* Sends bytes to the download or the file; non-zero: stop (the receiver is gone). */
    int (*write)(void *ctx, const void *p, size_t n);
    void *ctx;
};

/* Every function returns 0, or -1 with a message in err. close is always called last, after
 * a failure too, and frees what open made. */
struct anketa_exporter {
    const char *format; /* what --format and ?format= name: [a-z0-9-]{1,32} */
    const char *mime;   /* the Content-Type of a download */
    const char *ext;    /* the file name extension, without the dot */
    unsigned flags;     /* ANKETA_EXPORT_* */
    int (*open)(const struct anketa_export_target *t, void **state, char err[ANKETA_ERR_MAX]);
    int (*row)(void *state, const struct anketa_export_value *vals, char err[ANKETA_ERR_MAX]);
    int (*finish)(void *state, char err[ANKETA_ERR_MAX]);
    void (*close)(void *state);
};

/* Not text: `anketa export` refuses to write it to a terminal. */
#define ANKETA_EXPORT_BINARY 1u

/* ---- Events ---- */

struct anketa_answer {
    const char *question; /* the question id ("q1", "m.item", "q2.other") */
    const char *value;    /* as stored: a multiple choice is a JSON array */
};

struct anketa_response_event {
    size_t size; /* sizeof of the host's struct */
    const char *survey_id;
    long survey_version;
    const char *survey_hash;
    int64_t invitation_id; /* one response per invitation */
    const struct anketa_answer *answers;
    size_t nanswers;
};

struct anketa_campaign_event {
    size_t size;
    const char *campaign; /* its code */
    int opened;           /* 1: opened (or created open), 0: closed */
};

struct anketa_indicator_event {
    size_t size;
    const char *region;
    const char *period; /* "2026/27" */
    int failed;         /* some indicators failed (their errors are stored with them) */
};

/* ---- Routes: /api/v1/plugins/<name>/<rest> ---- */

struct anketa_request {
    size_t size;
    const char *method; /* "GET", "POST", ... */
    const char *rest;   /* the path after /api/v1/plugins/<name>/ ("" for the plugin's root) */
    const char *query;  /* raw, without '?', "" when absent */
    const char *body;   /* NUL-terminated; body_len bytes */
    size_t body_len;
    void *host; /* the host's; pass the request back to host functions */
};

/* ---- Question types: `type: x-<name>` in a questionnaire ---- */

/* One key of the question's `options:` mapping, as written. */
struct anketa_qtype_option {
    const char *key;
    const char *value;
};

/* One answer the question offers: the value stored and the label shown (both plain text:
 * the host escapes them). */
struct anketa_choice {
    const char *value;
    const char *label;
};

/* What a question of the type is given when the questionnaire loads. */
struct anketa_qtype_question {
    size_t size;
    const char *survey_path; /* the questionnaire's file */
    const char *survey_dir;  /* its directory, for files the options name */
    const char *id;          /* the question's id */
    const struct anketa_qtype_option *options;
    size_t noptions;
};

/*
 * A question type. The host renders it as a drop-down list of the choices check gives (its
 * own template, every text escaped: a plugin writes no HTML into a participant's page), reads
 * and stores the posted value as the text of the answer, and checks it is one of the choices;
 * validate may then refuse it further.
 */
struct anketa_qtype {
    const char *name; /* "x-" then [a-z0-9-], at most 64 characters: what `type:` says */
    /*
     * At load, in the process that loads the questionnaires (the server's master, `anketa
     * check`): 0 with *choices (*nchoices of them, which must live until free is called with
     * *state) and *state; or -1 with err, and *bad the index of the option at fault (or
     * (size_t)-1 for the question itself): the questionnaire then fails at FILE:LINE:COL.
     */
    int (*check)(const struct anketa_qtype_question *q, void **state,
                 const struct anketa_choice **choices, size_t *nchoices, size_t *bad,
                 char err[ANKETA_ERR_MAX]);
    /* Frees what check made, when the questionnaire is freed. NULL: nothing to free. */
    void (*free)(void *state);
    /* Per answer, after the host found the value among the choices: 0 to accept, or 1 with
     * *message_key a key of the host's word catalogue (web/i18n: "error.choice",
     * "error.constraint") shown beside the question. NULL: every choice is accepted. */
    int (*validate)(void *state, const char *value, const char **message_key);
};

/* ---- The host's functions ---- */

struct anketa_host_api {
    size_t size; /* sizeof(struct anketa_host_api) of the host: see ANKETA_HOST_HAS */
    int abi;     /* ANKETA_PLUGIN_ABI of the host */
    /* A line in the server's log, prefixed with the plugin's name. */
    void (*log)(const char *plugin, int level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    /* The value of `plugin.<plugin>.<key> = value` in anketa.conf, or NULL when not set. */
    const char *(*option)(const char *plugin, const char *key);
    /* Memory freed by the host when the request ends; NULL when out of memory. */
    void *(*alloc)(struct anketa_request *rq, size_t n);
    /* Routes: the status and Content-Type of the answer (default 200, application/json). */
    void (*status)(struct anketa_request *rq, int status, const char *content_type);
    /* Routes: appends n bytes to the body as they are. */
    void (*write)(struct anketa_request *rq, const void *p, size_t n);
    /* Routes: appends s HTML-escaped (& < > " '): every value that came from outside. */
    void (*write_html)(struct anketa_request *rq, const char *s);
    /* Routes: appends s as a JSON string with its quotes (escaped, invalid UTF-8 replaced). */
    void (*write_json_string)(struct anketa_request *rq, const char *s);
    /* Routes: the login of the staff member signed in on this request (its session cookie
     * or bearer token), or NULL. */
    const char *(*account)(struct anketa_request *rq);
};

/* Whether host (of size host->size) has the function field: for functions newer than yours. */
#define ANKETA_HOST_HAS(host, field)                                                               \
    ((host)->size >= offsetof(struct anketa_host_api, field) + sizeof((host)->field))

/* ---- The descriptor ---- */

struct anketa_plugin {
    int abi;            /* ANKETA_PLUGIN_ABI */
    size_t struct_size; /* sizeof(struct anketa_plugin) */
    const char *name;   /* [a-z0-9_]{1,32}: options, routes and logs use it */
    const char *version;
    /* Called once when loaded (in the server's master, before workers fork; in a command that
     * loads plugins): 0, or -1 with a message in err to be skipped. NULL: nothing to do. */
    int (*init)(const struct anketa_host_api *host, char err[ANKETA_ERR_MAX]);
    /* Called once in every process that leaves normally (the master and each worker, which
     * inherit the plugin's state by fork): release what this process holds. NULL: nothing. */
    void (*fini)(void);
    /* The keys of `plugin.<name>.<key>` this plugin reads; NULL-terminated, NULL: none. A key
     * not listed is an error of the configuration. */
    const char *const *options;
    const struct anketa_exporter *exporters;
    size_t nexporters;
    /* After a response is committed (see docs/plugins.md for the order). Return -1 with err to
     * have a failure logged; the response stays stored either way. */
    int (*response_stored)(const struct anketa_response_event *ev, char err[ANKETA_ERR_MAX]);
    int (*campaign_changed)(const struct anketa_campaign_event *ev, char err[ANKETA_ERR_MAX]);
    int (*indicators_computed)(const struct anketa_indicator_event *ev, char err[ANKETA_ERR_MAX]);
    /* Answers /api/v1/plugins/<name>/...: 0, or -1 for a 500. Routes are public unless the
     * plugin asks host->account and refuses without one. */
    int (*route)(struct anketa_request *rq);
    /* Grown after the base: a plugin built before these fields simply has none. */
    const struct anketa_qtype *qtypes;
    size_t nqtypes;
};

/* The base every descriptor has: the fields up to and including route. */
#define ANKETA_PLUGIN_MIN_SIZE                                                                     \
    (offsetof(struct anketa_plugin, route) + sizeof(((struct anketa_plugin *)0)->route))

/* The entry function every plugin defines, as ANKETA_PLUGIN_EXPORT (plugins are built with
 * -fvisibility=hidden: it is the one symbol they export). */
#define ANKETA_PLUGIN_EXPORT __attribute__((visibility("default")))
ANKETA_PLUGIN_EXPORT const struct anketa_plugin *anketa_plugin_entry(void);

#endif
