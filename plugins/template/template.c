/*
 * template: the smallest useful plugin, to copy when writing your own (docs/plugins.md has
 * the ten-minute tutorial). It answers one route and logs the events it hears of.
 *
 *   GET /api/v1/plugins/template/hello?name=Ivan  ->  {"hello":"Ivan","responses":N}
 *   GET /api/v1/plugins/template/whoami           ->  {"login":"cur1"}, or 401
 *
 * where N counts the responses this worker process has seen stored since it started. Routes
 * are public: whoami shows how one is kept to signed-in staff.
 * Option (anketa.conf): plugin.template.greeting = hello   (the JSON key; default "hello")
 */
#include "plugin_api.h"

#include <stdio.h>
#include <string.h>

/* The host's functions, kept from init: the only way a plugin talks to anketa. */
static const struct anketa_host_api *host;
static long responses;

static int template_init(const struct anketa_host_api *h, char err[ANKETA_ERR_MAX])
{
    /* A host older than this plugin lacks the functions added after its own: check. */
    if (!ANKETA_HOST_HAS(h, account)) {
        snprintf(err, ANKETA_ERR_MAX, "this anketa is too old for the template plugin");
        return -1;
    }
    host = h;
    return 0;
}

/* Runs after the response is committed and the participant answered: nothing can undo it. */
static int template_response_stored(const struct anketa_response_event *ev,
                                    char err[ANKETA_ERR_MAX])
{
    (void)err;
    responses++;
    host->log("template", ANKETA_LOG_DEBUG, "a response to %s with %zu answers", ev->survey_id,
              ev->nanswers);
    return 0;
}

static int template_campaign_changed(const struct anketa_campaign_event *ev,
                                     char err[ANKETA_ERR_MAX])
{
    (void)err;
    host->log("template", ANKETA_LOG_INFO, "campaign %s %s", ev->campaign,
              ev->opened ? "opened" : "closed");
    return 0;
}

/* The value of parameter name in a query string, copied into out (not decoded: a real
 * plugin would decode %XX); NULL when absent. */
static const char *template_param(const char *query, const char *name, char *out, size_t size)
{
    size_t n = strlen(name);
    for (const char *p = query; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL)
        if (strncmp(p, name, n) == 0 && p[n] == '=') {
            snprintf(out, size, "%.*s", (int)strcspn(p + n + 1, "&"), p + n + 1);
            return out;
        }
    return NULL;
}

/* Appends constant text (never a value from outside: see host->write_json_string). */
static void template_puts(struct anketa_request *rq, const char *s)
{
    host->write(rq, s, strlen(s));
}

/* A route for staff only: the host knows who is signed in on the request. */
static int template_whoami(struct anketa_request *rq)
{
    const char *login = host->account(rq);
    if (!login) {
        host->status(rq, 401, NULL);
        template_puts(rq, "{\"error\":\"sign in first\"}\n");
        return 0;
    }
    template_puts(rq, "{\"login\":");
    host->write_json_string(rq, login);
    template_puts(rq, "}\n");
    return 0;
}

static int template_route(struct anketa_request *rq)
{
    if (strcmp(rq->rest, "whoami") == 0)
        return template_whoami(rq);
    if (strcmp(rq->rest, "hello") != 0) {
        host->status(rq, 404, NULL);
        template_puts(rq, "{\"error\":\"no such route\"}\n");
        return 0;
    }
    if (strcmp(rq->method, "GET") != 0) {
        host->status(rq, 405, NULL);
        template_puts(rq, "{\"error\":\"GET only\"}\n");
        return 0;
    }
    char name[128], count[32];
    const char *key = host->option("template", "greeting");
    template_puts(rq, "{");
    /* Every value from outside goes through the host's escaping: never write it raw. */
    host->write_json_string(rq, key ? key : "hello");
    template_puts(rq, ":");
    host->write_json_string(rq,
                            template_param(rq->query, "name", name, sizeof name) ? name : "world");
    snprintf(count, sizeof count, ",\"responses\":%ld}\n", responses);
    template_puts(rq, count);
    return 0;
}

static const char *const template_options[] = {"greeting", NULL};

static const struct anketa_plugin template_plugin = {
    .abi = ANKETA_PLUGIN_ABI,
    .struct_size = sizeof(struct anketa_plugin),
    .name = "template",
    .version = "1.0",
    .init = template_init,
    .options = template_options,
    .response_stored = template_response_stored,
    .campaign_changed = template_campaign_changed,
    .route = template_route,
};

const struct anketa_plugin *anketa_plugin_entry(void)
{
    return &template_plugin;
}
