/*
 * plugin: the host side of the plugin ABI (plugin_api.h, docs/plugins.md). Owns loading the
 * shared objects of the plugin directory (dlopen, the checks of the descriptor, init), the
 * host's function table, the per-plugin options of the configuration, and the dispatch of
 * hooks: exporters, events and routes.
 *
 * The loaded plugins are one registry per process: a plugin is process-wide once dlopen'd,
 * and the server loads them in the master before it forks, so every worker inherits them.
 * A plugin that cannot be loaded is reported and left out; nothing here stops a start.
 */
#ifndef ANKETA_PLUGIN_H
#define ANKETA_PLUGIN_H

#include "plugin_api.h"

#include <stddef.h>
#include <stdint.h>

struct app;
struct arena;
struct err;
struct err_list;
struct http_req;
struct http_resp;
struct invitation;
struct response;

/* One `plugin.<plugin>.<key> = value` line of the configuration. */
struct plugin_option {
    char plugin[33];
    char key[33];
    char value[1024];
    int line; /* of the configuration file */
};

/*
 * The options the host function `option` answers from. opts must outlive the loaded plugins
 * (the configuration of the process); NULL clears them.
 */
void plugin_set_options(const struct plugin_option *opts, size_t n);

/*
 * Loads one plugin: dlopen, the entry function, the descriptor's checks (ABI, struct_size,
 * name, a name already loaded, an exporter format already taken), then init. On failure the
 * object is closed again and e says why, located at path.
 */
int plugin_load(const char *path, struct err *e);

/*
 * Loads every *.so of dir in name order. A plugin that fails is added to problems and left
 * out; the others load. Returns how many loaded, or -1 (with e) when dir cannot be read.
 */
int plugin_load_dir(const char *dir, struct err_list *problems, struct err *e);

/*
 * Checks the plugin options against the loaded plugins: a key a loaded plugin does not list
 * fails with e at FILE:LINE (config_path); an option of a plugin that is not loaded is only
 * added to problems (it may have been refused, and the server starts either way).
 */
int plugin_check_options(const char *config_path, struct err_list *problems, struct err *e);

/* Runs fini and closes every plugin, newest first. Each process that loaded or inherited
 * the plugins calls it on its way out. */
void plugin_unload_all(void);

/* How many plugins are loaded, and the name and version of the i-th. */
size_t plugin_count(void);
const char *plugin_name(size_t i);
const char *plugin_version(size_t i);

/* ---- Exporters ---- */

/* The exporter of format name ("xlsx"), or NULL. */
const struct anketa_exporter *plugin_exporter_find(const char *format);

/* The i-th exporter of every loaded plugin, in load order, or NULL past the last. */
const struct anketa_exporter *plugin_exporter_at(size_t i);

/* ---- Question types ---- */

/* The question type called name ("x-dictionary") of a loaded plugin, or NULL. */
const struct anketa_qtype *plugin_qtype_find(const char *name);

/* ---- Events ---- */

/*
 * Queues the "response stored" event of a response that was just committed; its strings
 * are copied into a. The hooks run at plugin_run_deferred, which the server calls after the
 * participant's answer has been sent: a failing or crashing hook cannot change what the
 * participant was told, nor the stored response. Returns -1 when out of memory (the event is
 * then lost, and logged).
 */
int plugin_defer_response_stored(struct arena *a, const struct invitation *inv,
                                 const struct response *r);

/* Runs the queued events' hooks and empties the queue. Before the arena they live in is reset. */
void plugin_run_deferred(void);

/* Runs the campaign hooks at once (the command line opens and closes campaigns). */
void plugin_campaign_changed(const char *campaign, int opened);

/* Runs the indicator hooks after a computation stored its values. */
void plugin_indicators_computed(const char *region, const char *period, int failed);

/* ---- Routes ---- */

/* Answers /api/v1/plugins/<rest>, where rest is "<name>/..." (or "<name>"). */
void plugin_route(struct app *app, struct http_req *q, struct http_resp *r, const char *rest);

#endif
