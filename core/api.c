/*
 * api: the routes under /api/v1: survey definitions (public: they are the questionnaires
 * anyone with a link sees), bearer sessions, the staff resources, which are the page
 * models of core/dash.c as JSON (docs/api.md), and the plugins' routes under
 * /api/v1/plugins/ (docs/plugins.md).
 */
#include "api.h"

#include "app.h"
#include "dash.h"
#include "http.h"
#include "plugin.h"
#include "session.h"
#include "survey.h"

#include <string.h>

static void api_surveys(struct app *app, struct http_resp *r)
{
    const struct survey_set *set = &app->defs->surveys;
    json_t *list = json_array();
    for (size_t i = 0; list && i < set->n; i++) {
        const struct survey *s = set->items[i];
        json_t *full = survey_to_json(s);
        json_t *item =
            json_pack("{s:s, s:I, s:s, s:O*, s:I}", "id", s->id, "version", (json_int_t)s->version,
                      "hash", s->hash, "title", full ? json_object_get(full, "title") : NULL,
                      "questions", (json_int_t)s->nquestions);
        json_decref(full);
        if (!item || json_array_append_new(list, item) < 0) {
            json_decref(list);
            list = NULL;
        }
    }
    json_t *body = list ? json_pack("{s:o}", "surveys", list) : NULL;
    if (!body) {
        app_json_error(r, 500, "out of memory");
        return;
    }
    app_json(r, 200, body);
}

static void api_survey(struct app *app, struct http_resp *r, const char *id)
{
    const struct survey *s = survey_set_find(&app->defs->surveys, id);
    if (!s) {
        app_json_error(r, 404, "no survey with this id");
        return;
    }
    json_t *body = survey_to_json(s);
    if (!body) {
        app_json_error(r, 500, "out of memory");
        return;
    }
    app_json(r, 200, body);
}

void api_handle(struct app *app, struct http_req *q, struct http_resp *r, const char *rest)
{
    /* A plugin's routes take any method: the plugin says which it answers. */
    if (strncmp(rest, "plugins/", 8) == 0) {
        plugin_route(app, q, r, rest + 8);
        return;
    }
    if (strcmp(rest, "session") == 0) {
        session_handle_api(app, q, r);
        return;
    }
    if (strcmp(rest, "me") == 0 || strcmp(rest, "audit") == 0 || strncmp(rest, "orgs/", 5) == 0) {
        dash_api_handle(app, q, r, rest);
        return;
    }
    if (strcmp(q->method, "GET") != 0 && strcmp(q->method, "HEAD") != 0) {
        http_header(r, "Allow", "GET, HEAD");
        app_json_error(r, 405, "this resource is read-only");
        return;
    }
    if (strcmp(rest, "surveys") == 0) {
        api_surveys(app, r);
        return;
    }
    if (strncmp(rest, "surveys/", 8) == 0 && rest[8] && !strchr(rest + 8, '/')) {
        api_survey(app, r, rest + 8);
        return;
    }
    app_json_error(r, 404, "no such API resource");
}
