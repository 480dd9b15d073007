/*
 * jsonl: appends every event to a file as one JSON line, for an external system to follow
 * (tail -F, a log shipper). A stored response, a campaign opened or closed, and a
 * computation of indicators each make one line with an "event" key (docs/plugins.md).
 *
 * Options (anketa.conf):
 *   plugin.jsonl.path  = /var/lib/anketa/events.jsonl   (required; created 0600)
 *   plugin.jsonl.fsync = every | none                   (default every)
 *
 * init only checks the options: the file is opened (O_APPEND, created 0600) by the first event
 * of each process, so a command that loads the plugins without events (export, check,
 * doctor) leaves no file behind. Each line is built whole and written with one write(2):
 * with O_APPEND the kernel puts it at the end of the file in one piece, so lines of several
 * workers never interleave. With
 * fsync = every, fdatasync follows each line: a line that was written survives a power cut.
 * With none, the kernel writes when it likes (faster; the last lines may be lost on a power
 * cut, never on a crash of anketa). The response itself is committed before any line is
 * written; a line that cannot be written is logged and the response stays stored.
 */
#include "plugin_api.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int jsonl_fd = -1;
static int jsonl_sync = 1;
static char jsonl_path[4096];

/* A line being built; failed once memory ran out. */
struct jsonl_line {
    char *p;
    size_t len, cap;
    int failed;
};

static void jsonl_put(struct jsonl_line *l, const char *s, size_t n)
{
    if (l->failed)
        return;
    if (l->len + n + 1 > l->cap) {
        size_t cap = l->cap ? l->cap : 256;
        while (cap < l->len + n + 1)
            cap *= 2;
        char *q = realloc(l->p, cap);
        if (!q) {
            l->failed = 1;
            return;
        }
        l->p = q;
        l->cap = cap;
    }
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

static void jsonl_puts(struct jsonl_line *l, const char *s)
{
    jsonl_put(l, s, strlen(s));
}

/* The length of the valid UTF-8 sequence at p, or 0 (the checks of RFC 3629). */
static size_t jsonl_utf8(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xC2 && p[0] <= 0xDF)
        return (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        if ((p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[0] == 0xE0 && p[1] < 0xA0) ||
            (p[0] == 0xED && p[1] >= 0xA0))
            return 0;
        return 3;
    }
    if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        if ((p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80 ||
            (p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

/* s as a JSON string: escaped, a byte that is not UTF-8 replaced by U+FFFD. */
static void jsonl_string(struct jsonl_line *l, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    jsonl_put(l, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p;) {
        size_t n = jsonl_utf8(p);
        if (n > 1) {
            jsonl_put(l, (const char *)p, n);
            p += n;
            continue;
        }
        if (!n)
            jsonl_puts(l, "\\ufffd");
        else if (*p == '"')
            jsonl_puts(l, "\\\"");
        else if (*p == '\\')
            jsonl_puts(l, "\\\\");
        else if (*p == '\n')
            jsonl_puts(l, "\\n");
        else if (*p == '\r')
            jsonl_puts(l, "\\r");
        else if (*p == '\t')
            jsonl_puts(l, "\\t");
        else if (*p < 0x20) {
            char u[] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
            jsonl_put(l, u, sizeof u);
        } else
            jsonl_put(l, (const char *)p, 1);
        p++;
    }
    jsonl_put(l, "\"", 1);
}

/* Starts a line: {"event":"<event>","at":"<UTC time>" */
static void jsonl_begin(struct jsonl_line *l, const char *event)
{
    char at[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    jsonl_puts(l, "{\"event\":");
    jsonl_string(l, event);
    jsonl_puts(l, ",\"at\":");
    jsonl_string(l, at);
}

/* Ends the line and appends it to the file in one write. */
static int jsonl_end(struct jsonl_line *l, char err[ANKETA_ERR_MAX])
{
    jsonl_puts(l, "}\n");
    int rc = 0;
    if (jsonl_fd < 0)
        jsonl_fd = open(jsonl_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (jsonl_fd < 0) {
        snprintf(err, ANKETA_ERR_MAX, "%.200s: %s", jsonl_path, strerror(errno));
        rc = -1;
    } else if (l->failed) {
        snprintf(err, ANKETA_ERR_MAX, "out of memory");
        rc = -1;
    } else {
        ssize_t n = write(jsonl_fd, l->p, l->len);
        if (n != (ssize_t)l->len) {
            snprintf(err, ANKETA_ERR_MAX, "cannot append the line: %s",
                     n < 0 ? strerror(errno) : "short write (disk full?)");
            rc = -1;
        } else if (jsonl_sync && fdatasync(jsonl_fd) != 0) {
            snprintf(err, ANKETA_ERR_MAX, "fdatasync: %s", strerror(errno));
            rc = -1;
        }
    }
    free(l->p);
    return rc;
}

static int jsonl_init(const struct anketa_host_api *host, char err[ANKETA_ERR_MAX])
{
    const char *path = host->option("jsonl", "path");
    const char *sync = host->option("jsonl", "fsync");
    if (!path || path[0] != '/' || strlen(path) >= sizeof jsonl_path) {
        snprintf(err, ANKETA_ERR_MAX,
                 "set plugin.jsonl.path to the absolute path of the file to append to");
        return -1;
    }
    if (sync && strcmp(sync, "every") != 0 && strcmp(sync, "none") != 0) {
        snprintf(err, ANKETA_ERR_MAX, "plugin.jsonl.fsync is \"%s\"; expected every or none", sync);
        return -1;
    }
    jsonl_sync = !sync || strcmp(sync, "every") == 0;
    memcpy(jsonl_path, path, strlen(path) + 1);
    return 0;
}

static void jsonl_fini(void)
{
    if (jsonl_fd >= 0)
        close(jsonl_fd);
    jsonl_fd = -1;
}

static int jsonl_response(const struct anketa_response_event *ev, char err[ANKETA_ERR_MAX])
{
    struct jsonl_line l = {0};
    char num[32];
    jsonl_begin(&l, "response.stored");
    jsonl_puts(&l, ",\"survey\":");
    jsonl_string(&l, ev->survey_id);
    snprintf(num, sizeof num, ",\"version\":%ld", ev->survey_version);
    jsonl_puts(&l, num);
    jsonl_puts(&l, ",\"hash\":");
    jsonl_string(&l, ev->survey_hash);
    snprintf(num, sizeof num, ",\"invitation\":%" PRId64, ev->invitation_id);
    jsonl_puts(&l, num);
    jsonl_puts(&l, ",\"answers\":{");
    for (size_t i = 0; i < ev->nanswers; i++) {
        if (i)
            jsonl_puts(&l, ",");
        jsonl_string(&l, ev->answers[i].question);
        jsonl_puts(&l, ":");
        jsonl_string(&l, ev->answers[i].value);
    }
    jsonl_puts(&l, "}");
    return jsonl_end(&l, err);
}

static int jsonl_campaign(const struct anketa_campaign_event *ev, char err[ANKETA_ERR_MAX])
{
    struct jsonl_line l = {0};
    jsonl_begin(&l, ev->opened ? "campaign.opened" : "campaign.closed");
    jsonl_puts(&l, ",\"campaign\":");
    jsonl_string(&l, ev->campaign);
    return jsonl_end(&l, err);
}

static int jsonl_indicators(const struct anketa_indicator_event *ev, char err[ANKETA_ERR_MAX])
{
    struct jsonl_line l = {0};
    jsonl_begin(&l, "indicators.computed");
    jsonl_puts(&l, ",\"region\":");
    jsonl_string(&l, ev->region);
    jsonl_puts(&l, ",\"period\":");
    jsonl_string(&l, ev->period);
    jsonl_puts(&l, ev->failed ? ",\"failed\":true" : ",\"failed\":false");
    return jsonl_end(&l, err);
}

static const char *const jsonl_options[] = {"path", "fsync", NULL};

static const struct anketa_plugin jsonl_plugin = {
    .abi = ANKETA_PLUGIN_ABI,
    .struct_size = sizeof(struct anketa_plugin),
    .name = "jsonl",
    .version = "1.0",
    .init = jsonl_init,
    .fini = jsonl_fini,
    .options = jsonl_options,
    .response_stored = jsonl_response,
    .campaign_changed = jsonl_campaign,
    .indicators_computed = jsonl_indicators,
};

const struct anketa_plugin *anketa_plugin_entry(void)
{
    return &jsonl_plugin;
}
