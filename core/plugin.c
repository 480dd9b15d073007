/*
 * plugin: loading shared objects through the plugin ABI, the host's function table, and the
 * dispatch of exporters, events and routes. See plugin.h and docs/plugins.md.
 */
#include "plugin.h"

#include "account.h"
#include "app.h"
#include "arena.h"
#include "buf.h"
#include "err.h"
#include "export.h"
#include "http.h"
#include "log.h"
#include "response.h"
#include "session.h"
#include "store.h"
#include "survey.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLUGIN_MAX 32

struct plugin_loaded {
    void *handle;
    struct anketa_plugin d; /* the descriptor, zero past the plugin's struct_size */
    char path[1024];
};

static struct plugin_loaded plugin_list[PLUGIN_MAX];
static size_t plugin_n;
static const struct plugin_option *plugin_opts;
static size_t plugin_nopts;

/* The "response stored" events of the current request, run after its answer was sent. */
struct plugin_pending {
    struct anketa_response_event ev;
    struct plugin_pending *next;
};
static struct plugin_pending *plugin_queue, **plugin_queue_tail = &plugin_queue;

void plugin_set_options(const struct plugin_option *opts, size_t n)
{
    plugin_opts = opts;
    plugin_nopts = opts ? n : 0;
}

/* ---- The host's functions ---- */

/* What a route's anketa_request points back to. */
struct plugin_req {
    struct app *app;
    struct http_req *q;
    struct http_resp *r;
    const char *content_type;
    int status;
};

static void plugin_host_log(const char *plugin, int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (level < ANKETA_LOG_DEBUG || level > ANKETA_LOG_ERROR)
        level = ANKETA_LOG_ERROR;
    log_msg((enum log_level)level, "plugin %s: %s", plugin ? plugin : "?", msg);
}

static const char *plugin_host_option(const char *plugin, const char *key)
{
    for (size_t i = 0; plugin && key && i < plugin_nopts; i++)
        if (strcmp(plugin_opts[i].plugin, plugin) == 0 && strcmp(plugin_opts[i].key, key) == 0)
            return plugin_opts[i].value;
    return NULL;
}

static void *plugin_host_alloc(struct anketa_request *rq, size_t n)
{
    struct plugin_req *pr = rq->host;
    return arena_alloc(pr->q->arena, n ? n : 1);
}

static void plugin_host_status(struct anketa_request *rq, int status, const char *content_type)
{
    struct plugin_req *pr = rq->host;
    if (status >= 100 && status <= 599)
        pr->status = status;
    if (content_type)
        pr->content_type = arena_strdup(pr->q->arena, content_type);
}

static void plugin_host_write(struct anketa_request *rq, const void *p, size_t n)
{
    struct plugin_req *pr = rq->host;
    buf_append(&pr->r->body, p, n);
}

static void plugin_host_write_html(struct anketa_request *rq, const char *s)
{
    struct plugin_req *pr = rq->host;
    if (s)
        buf_put_html(&pr->r->body, s, strlen(s));
}

static void plugin_host_write_json_string(struct anketa_request *rq, const char *s)
{
    struct plugin_req *pr = rq->host;
    struct buf *b = &pr->r->body;
    static const char hex[] = "0123456789abcdef";
    size_t n = s ? strlen(s) : 0;
    /* Text that is not clean UTF-8 keeps its ASCII; every other byte becomes U+FFFD. */
    int clean = !s || response_valid_text(s, n);
    buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            buf_putc(b, '\\');
            buf_putc(b, (char)c);
        } else if (c == '\n') {
            buf_puts(b, "\\n");
        } else if (c == '\r') {
            buf_puts(b, "\\r");
        } else if (c == '\t') {
            buf_puts(b, "\\t");
        } else if (c < 0x20 || c == 0x7f) {
            char u[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], '\0'};
            buf_puts(b, u);
        } else if (c >= 0x80 && !clean) {
            buf_puts(b, "\\ufffd");
        } else {
            buf_putc(b, (char)c);
        }
    }
    buf_putc(b, '"');
}

static const char *plugin_host_account(struct anketa_request *rq)
{
    struct plugin_req *pr = rq->host;
    struct account acc;
    return session_account(pr->app, pr->q, &acc) == 0 ? acc.login : NULL;
}

static const struct anketa_host_api plugin_host = {
    .size = sizeof(struct anketa_host_api),
    .abi = ANKETA_PLUGIN_ABI,
    .log = plugin_host_log,
    .option = plugin_host_option,
    .alloc = plugin_host_alloc,
    .status = plugin_host_status,
    .write = plugin_host_write,
    .write_html = plugin_host_write_html,
    .write_json_string = plugin_host_write_json_string,
    .account = plugin_host_account,
};

/* ---- Loading ---- */

static int plugin_name_ok(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= max && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* "x-" then a-z, 0-9 and '-': never a type of the core, whose names have no '-'. */
static int plugin_qtype_name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 3 && n <= 64 && strncmp(s, "x-", 2) == 0 &&
           strspn(s + 2, "abcdefghijklmnopqrstuvwxyz0123456789-") == n - 2;
}

static int plugin_format_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= 32 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* The checks of a descriptor that need no other plugin: 0, or -1 with e at path. */
static int plugin_check(const char *path, const struct anketa_plugin *d, struct err *e)
{
    if (!plugin_name_ok(d->name, 32))
        return err_set(e, path, 0, 0,
                       "the plugin's name must be 1 to 32 characters a-z, 0-9 and '_'");
    if (!d->version)
        return err_set(e, path, 0, 0, "plugin %s has no version", d->name);
    for (size_t i = 0; i < plugin_n; i++)
        if (strcmp(plugin_list[i].d.name, d->name) == 0)
            return err_set(e, path, 0, 0, "a plugin named %s is already loaded (from %s)", d->name,
                           plugin_list[i].path);
    if (d->nexporters && !d->exporters)
        return err_set(e, path, 0, 0, "plugin %s declares exporters but gives none", d->name);
    for (size_t i = 0; i < d->nexporters; i++) {
        const struct anketa_exporter *x = &d->exporters[i];
        if (!plugin_format_ok(x->format))
            return err_set(e, path, 0, 0,
                           "plugin %s: an exporter's format must be 1 to 32 characters a-z, "
                           "0-9 and '-'",
                           d->name);
        if (!x->mime || !x->ext || !x->open || !x->row || !x->finish || !x->close)
            return err_set(e, path, 0, 0,
                           "plugin %s: exporter %s lacks its mime, ext, open, row, finish or "
                           "close",
                           d->name, x->format);
        if (export_format_builtin(x->format) || plugin_exporter_find(x->format))
            return err_set(e, path, 0, 0, "plugin %s: the export format %s is already taken",
                           d->name, x->format);
    }
    if (d->nqtypes && !d->qtypes)
        return err_set(e, path, 0, 0, "plugin %s declares question types but gives none", d->name);
    for (size_t i = 0; i < d->nqtypes; i++) {
        const struct anketa_qtype *t = &d->qtypes[i];
        if (!plugin_qtype_name_ok(t->name))
            return err_set(e, path, 0, 0,
                           "plugin %s: a question type's name must be x- then a-z, 0-9 and '-' "
                           "(at most 64 characters)",
                           d->name);
        if (!t->check)
            return err_set(e, path, 0, 0, "plugin %s: question type %s lacks its check", d->name,
                           t->name);
        if (plugin_qtype_find(t->name))
            return err_set(e, path, 0, 0, "plugin %s: the question type %s is already taken",
                           d->name, t->name);
    }
    for (size_t i = 0; d->options && d->options[i]; i++)
        if (!plugin_name_ok(d->options[i], 32))
            return err_set(e, path, 0, 0,
                           "plugin %s: option keys must be 1 to 32 characters a-z, 0-9 and '_'",
                           d->name);
    return 0;
}

int plugin_load(const char *path, struct err *e)
{
    if (plugin_n == PLUGIN_MAX)
        return err_set(e, path, 0, 0, "at most %d plugins can be loaded", PLUGIN_MAX);
    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        return err_set(e, path, 0, 0, "cannot load the plugin: %s", why ? why : "dlopen failed");
    }
    const struct anketa_plugin *(*entry)(void);
    /* dlsym gives an object pointer; POSIX guarantees it converts to a function pointer. */
    *(void **)&entry = dlsym(h, ANKETA_PLUGIN_ENTRY);
    const struct anketa_plugin *d = entry ? entry() : NULL;
    struct plugin_loaded *p = &plugin_list[plugin_n];
    memset(p, 0, sizeof *p);
    int rc = 0;
    if (!entry) {
        rc = err_set(e, path, 0, 0, "not an anketa plugin: it has no function %s",
                     ANKETA_PLUGIN_ENTRY);
    } else if (!d) {
        rc = err_set(e, path, 0, 0, "%s returned no descriptor", ANKETA_PLUGIN_ENTRY);
    } else if (d->abi != ANKETA_PLUGIN_ABI) {
        rc = err_set(e, path, 0, 0,
                     "refused: the plugin was built for plugin ABI %d, this anketa has ABI %d; "
                     "rebuild it against this version's core/plugin_api.h",
                     d->abi, ANKETA_PLUGIN_ABI);
    } else if (d->struct_size < ANKETA_PLUGIN_MIN_SIZE) {
        rc = err_set(e, path, 0, 0,
                     "refused: its descriptor has %zu bytes, fewer than the %zu every plugin of "
                     "ABI %d has (a damaged build?)",
                     d->struct_size, (size_t)ANKETA_PLUGIN_MIN_SIZE, ANKETA_PLUGIN_ABI);
    } else {
        /* Fields the plugin's header did not have yet stay zero: absent hooks. */
        memcpy(&p->d, d, d->struct_size < sizeof p->d ? d->struct_size : sizeof p->d);
        rc = plugin_check(path, &p->d, e);
    }
    if (rc == 0 && p->d.init) {
        char why[ANKETA_ERR_MAX] = "";
        if (p->d.init(&plugin_host, why) != 0)
            rc = err_set(e, path, 0, 0, "plugin %s: init failed: %s", p->d.name,
                         why[0] ? why : "(no reason given)");
    }
    if (rc < 0) {
        memset(p, 0, sizeof *p);
        dlclose(h);
        return -1;
    }
    p->handle = h;
    snprintf(p->path, sizeof p->path, "%s", path);
    plugin_n++;
    log_msg(LOG_DEBUG, "plugin %s %s loaded from %s", p->d.name, p->d.version, path);
    return 0;
}

static int plugin_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int plugin_load_dir(const char *dir, struct err_list *problems, struct err *e)
{
    DIR *dh = opendir(dir);
    if (!dh)
        return err_set(e, dir, 0, 0, "cannot read the plugin directory: %s", strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(dh))) {
        size_t len = strlen(de->d_name);
        if (len < 4 || de->d_name[0] == '.' || strcmp(de->d_name + len - 3, ".so") != 0)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **v = realloc(names, ncap * sizeof *v);
            if (!v) {
                rc = err_set(e, dir, 0, 0, "out of memory");
                break;
            }
            names = v;
            cap = ncap;
        }
        if (!(names[n] = strdup(de->d_name))) {
            rc = err_set(e, dir, 0, 0, "out of memory");
            break;
        }
        n++;
    }
    closedir(dh);
    if (n)
        qsort(names, n, sizeof *names, plugin_cmp);
    int loaded = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char path[2048];
        struct err pe = {0};
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (plugin_load(path, &pe) == 0)
            loaded++;
        else
            err_list_add(problems, &pe);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc < 0 ? -1 : loaded;
}

static const struct plugin_loaded *plugin_by_name(const char *name)
{
    for (size_t i = 0; i < plugin_n; i++)
        if (strcmp(plugin_list[i].d.name, name) == 0)
            return &plugin_list[i];
    return NULL;
}

int plugin_check_options(const char *config_path, struct err_list *problems, struct err *e)
{
    for (size_t i = 0; i < plugin_nopts; i++) {
        const struct plugin_option *o = &plugin_opts[i];
        const struct plugin_loaded *p = plugin_by_name(o->plugin);
        if (!p) {
            err_list_set(problems, config_path, o->line, 0,
                         "plugin.%s.%s: no plugin named %s is loaded; the option is unused",
                         o->plugin, o->key, o->plugin);
            continue;
        }
        size_t k = 0;
        while (p->d.options && p->d.options[k] && strcmp(p->d.options[k], o->key) != 0)
            k++;
        if (p->d.options && p->d.options[k])
            continue;
        char keys[256] = "";
        size_t used = 0;
        for (size_t j = 0; p->d.options && p->d.options[j] && used < sizeof keys; j++)
            used += (size_t)snprintf(keys + used, sizeof keys - used, "%s%s", j ? ", " : "",
                                     p->d.options[j]);
        return err_set(e, config_path, o->line, 0,
                       "unknown key \"plugin.%s.%s\" (plugin %s reads %s%s)", o->plugin, o->key,
                       o->plugin, keys[0] ? "only: " : "no options", keys);
    }
    return 0;
}

void plugin_unload_all(void)
{
    while (plugin_n > 0) {
        struct plugin_loaded *p = &plugin_list[--plugin_n];
        if (p->d.fini)
            p->d.fini();
        dlclose(p->handle);
        memset(p, 0, sizeof *p);
    }
    plugin_queue = NULL;
    plugin_queue_tail = &plugin_queue;
}

size_t plugin_count(void)
{
    return plugin_n;
}

const char *plugin_name(size_t i)
{
    return i < plugin_n ? plugin_list[i].d.name : NULL;
}

const char *plugin_version(size_t i)
{
    return i < plugin_n ? plugin_list[i].d.version : NULL;
}

/* ---- Exporters ---- */

const struct anketa_exporter *plugin_exporter_find(const char *format)
{
    for (size_t i = 0; format && i < plugin_n; i++)
        for (size_t k = 0; k < plugin_list[i].d.nexporters; k++)
            if (strcmp(plugin_list[i].d.exporters[k].format, format) == 0)
                return &plugin_list[i].d.exporters[k];
    return NULL;
}

const struct anketa_exporter *plugin_exporter_at(size_t i)
{
    for (size_t p = 0; p < plugin_n; p++) {
        if (i < plugin_list[p].d.nexporters)
            return &plugin_list[p].d.exporters[i];
        i -= plugin_list[p].d.nexporters;
    }
    return NULL;
}

/* ---- Question types ---- */

const struct anketa_qtype *plugin_qtype_find(const char *name)
{
    for (size_t i = 0; name && i < plugin_n; i++)
        for (size_t k = 0; k < plugin_list[i].d.nqtypes; k++)
            if (strcmp(plugin_list[i].d.qtypes[k].name, name) == 0)
                return &plugin_list[i].d.qtypes[k];
    return NULL;
}

/* ---- Events ---- */

static void plugin_hook_failed(const struct plugin_loaded *p, const char *hook, const char *why)
{
    log_msg(LOG_WARN, "plugin %s: %s hook failed: %s", p->d.name, hook,
            why[0] ? why : "(no reason given)");
}

static int plugin_wants_responses(void)
{
    for (size_t i = 0; i < plugin_n; i++)
        if (plugin_list[i].d.response_stored)
            return 1;
    return 0;
}

int plugin_defer_response_stored(struct arena *a, const struct invitation *inv,
                                 const struct response *r)
{
    if (!plugin_wants_responses())
        return 0;
    struct plugin_pending *pe = arena_calloc(a, 1, sizeof *pe);
    struct anketa_answer *ans = arena_calloc(a, r->nanswers ? r->nanswers : 1, sizeof *ans);
    if (!pe || !ans)
        goto oom;
    for (size_t i = 0; i < r->nanswers; i++) {
        ans[i].question = arena_strdup(a, r->answers[i].q->id);
        ans[i].value = arena_strdup(a, r->answers[i].value);
        if (!ans[i].question || !ans[i].value)
            goto oom;
    }
    pe->ev = (struct anketa_response_event){
        .size = sizeof pe->ev,
        .survey_id = arena_strdup(a, r->survey->id),
        .survey_version = r->survey->version,
        .survey_hash = arena_strdup(a, r->survey->hash),
        .invitation_id = inv->id,
        .answers = ans,
        .nanswers = r->nanswers,
    };
    if (!pe->ev.survey_id || !pe->ev.survey_hash)
        goto oom;
    *plugin_queue_tail = pe;
    plugin_queue_tail = &pe->next;
    return 0;
oom:
    log_msg(LOG_ERROR, "out of memory: the plugins miss the response of invitation %lld",
            (long long)inv->id);
    return -1;
}

void plugin_run_deferred(void)
{
    struct plugin_pending *pe = plugin_queue;
    /* Emptied first: a hook that fails must not see its event again with the next request. */
    plugin_queue = NULL;
    plugin_queue_tail = &plugin_queue;
    for (; pe; pe = pe->next)
        for (size_t i = 0; i < plugin_n; i++) {
            const struct plugin_loaded *p = &plugin_list[i];
            char why[ANKETA_ERR_MAX] = "";
            if (p->d.response_stored && p->d.response_stored(&pe->ev, why) != 0)
                plugin_hook_failed(p, "response_stored", why);
        }
}

void plugin_campaign_changed(const char *campaign, int opened)
{
    struct anketa_campaign_event ev = {.size = sizeof ev, .campaign = campaign, .opened = opened};
    for (size_t i = 0; i < plugin_n; i++) {
        const struct plugin_loaded *p = &plugin_list[i];
        char why[ANKETA_ERR_MAX] = "";
        if (p->d.campaign_changed && p->d.campaign_changed(&ev, why) != 0)
            plugin_hook_failed(p, "campaign_changed", why);
    }
}

void plugin_indicators_computed(const char *region, const char *period, int failed)
{
    struct anketa_indicator_event ev = {
        .size = sizeof ev, .region = region, .period = period, .failed = failed};
    for (size_t i = 0; i < plugin_n; i++) {
        const struct plugin_loaded *p = &plugin_list[i];
        char why[ANKETA_ERR_MAX] = "";
        if (p->d.indicators_computed && p->d.indicators_computed(&ev, why) != 0)
            plugin_hook_failed(p, "indicators_computed", why);
    }
}

/* ---- Routes ---- */

void plugin_route(struct app *app, struct http_req *q, struct http_resp *r, const char *rest)
{
    size_t n = strcspn(rest, "/");
    const struct plugin_loaded *p = NULL;
    for (size_t i = 0; i < plugin_n && !p; i++)
        if (strlen(plugin_list[i].d.name) == n && strncmp(plugin_list[i].d.name, rest, n) == 0 &&
            plugin_list[i].d.route)
            p = &plugin_list[i];
    if (!p) {
        app_json_error(r, 404, "no plugin answers here");
        return;
    }
    struct plugin_req pr = {.app = app, .q = q, .r = r, .status = 200};
    struct anketa_request rq = {
        .size = sizeof rq,
        .method = q->method,
        .rest = rest[n] ? rest + n + 1 : "",
        .query = q->query ? q->query : "",
        .body = q->body ? q->body : "",
        .body_len = q->body ? q->body_len : 0,
        .host = &pr,
    };
    if (p->d.route(&rq) != 0) {
        log_msg(LOG_ERROR, "req=%s plugin %s: its route failed", q->request_id, p->d.name);
        r->body.len = 0;
        r->body.failed = 0;
        app_json_error(r, 500, "the plugin failed");
        return;
    }
    r->status = pr.status;
    http_header(r, "Content-Type",
                pr.content_type ? pr.content_type : "application/json; charset=utf-8");
    /* A plugin's HTML may not run scripts or load anything: its values are escaped, but a
     * page it builds is still answered under our origin. */
    http_header(r, "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
}
