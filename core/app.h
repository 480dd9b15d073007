/*
 * app: what a worker knows (surveys, templates, words, its database connection) and the
 * routing of a request to the handler that answers it.
 *
 * The loaded definitions (struct app_defs) are read-only and built once by the master
 * process before it forks, so workers share them copy-on-write; each worker then makes
 * its own struct app around them with its own database connection and page models.
 */
#ifndef ANKETA_APP_H
#define ANKETA_APP_H

#include "crypto.h"
#include "survey.h"

#include <jansson.h>
#include <stddef.h>

struct err;
struct http_req;
struct http_resp;
struct i18n;
struct indicator_set;
struct store;
struct tmpl_set;

struct app_defs {
    struct survey_set surveys;
    struct tmpl_set *tmpl;
    struct i18n *i18n;
    struct indicator_set *indicators; /* the region's indicators; NULL when none is set */
};

/* Loads surveys_dir and web_dir/templates, web_dir/i18n; every error located. */
int app_defs_load(struct app_defs *d, const char *surveys_dir, const char *web_dir, struct err *e);
void app_defs_free(struct app_defs *d);

/*
 * Loads the indicators of region (lua_dir/regions/<region>, with lua_dir/lib) into d. Problems
 * of single scripts do not fail the load: they are logged, and the script is left out until it
 * loads. Fails when the directory cannot be read.
 */
int app_defs_load_indicators(struct app_defs *d, const char *lua_dir, const char *region,
                             struct err *e);

/*
 * Compares every loaded survey with the definition the database stored for its id and
 * version, and records the new ones (survey_check_against_store). Fails on the first survey
 * edited incompatibly under the same version. The master calls it once the store is open.
 */
int app_defs_check_versions(const struct app_defs *d, struct store *st, struct err *e);

struct app {
    const struct app_defs *defs;
    struct store *store;
    unsigned char secret[CRYPTO_KEY_BYTES];
    /* Per survey and language, the blank page model (participant.c), built on the worker's
     * first request for it: building every one at start would cost start-up time and
     * memory for questionnaires no open campaign uses; and a one-page questionnaire's blank
     * page, rendered with holes for the link's own values. NULL until the first. */
    json_t *views;
};

/* Answers one request. Never fails: internal errors become a 500 page (and a log line). */
void app_handle(struct app *app, struct http_req *q, struct http_resp *r);

/* Answers a request the server refused before routing (400, 413, 500) with its page. */
void app_refuse(struct app *app, struct http_req *q, struct http_resp *r, int status);

/* The language of the page: "en" when asked for (?lang=en or Accept-Language) and present. */
const char *app_lang(const struct app *app, const struct http_req *q);

/*
 * Renders template name as the page with status, in lang. ctx (whose reference passes to
 * this function) gets "t" (the catalogue) and "lang" added. On a rendering failure the
 * response becomes a plain 500.
 */
void app_page(struct app *app, const struct http_req *q, struct http_resp *r, int status,
              const char *lang, const char *name, json_t *ctx);

/* The status and headers of an HTML page (type, Content-Security-Policy), for a page whose
 * body is written otherwise than by app_page. */
void app_page_headers(struct http_resp *r, int status);

/* An error page: title and message are catalogue keys. */
void app_error_page(struct app *app, const struct http_req *q, struct http_resp *r, int status,
                    const char *key);

/*
 * Adds key: value to o unless value is NULL; 0, or -1 when out of memory. For optional words
 * of a page: json_pack's "s*" drops the key silently when it cannot allocate the string too,
 * and the page would be shown without it.
 */
int app_set_text(json_t *o, const char *key, const char *value);

/* A JSON body (reference passes here) with status. */
void app_json(struct http_resp *r, int status, json_t *body);

/* A JSON error {"error": {"status": N, "message": msg}}. */
void app_json_error(struct http_resp *r, int status, const char *msg);

#endif
