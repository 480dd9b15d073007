/*
 * log: line-oriented logging to stderr.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static enum log_level log_min = LOG_INFO;

static const char *const log_names[] = {"debug", "info", "warn", "error"};

/* Under systemd, stderr goes to the journal, which reads a "<N>" prefix as the priority. */
static const char *const log_journal[] = {"<7>", "<6>", "<4>", "<3>"};

static const char *log_prefix(enum log_level level)
{
    static int journal = -1;
    if (journal < 0)
        journal = getenv("JOURNAL_STREAM") != NULL;
    return journal ? log_journal[level] : "";
}

void log_set_level(enum log_level min)
{
    log_min = min;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level < log_min)
        return;
    char line[1024];
    int n = snprintf(line, sizeof line, "%slevel=%s pid=%d msg=\"", log_prefix(level),
                     log_names[level], (int)getpid());
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line)
        n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line - 2)
        n = (int)sizeof line - 3;
    line[n++] = '"';
    line[n++] = '\n';
    fwrite(line, 1, (size_t)n, stderr);
}

void log_redact_path(const char *path, char *out, size_t size)
{
    if (strncmp(path, "/s/", 3) == 0) {
        const char *rest = strchr(path + 3, '/');
        snprintf(out, size, "/s/:token%s", rest ? rest : "");
    } else {
        snprintf(out, size, "%s", path);
    }
    /* A path is the client's text: nothing in it may end the quoted field or the line. */
    for (char *p = out; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

void log_request(const char *request_id, const char *method, const char *path, int status,
                 double ms)
{
    if (LOG_INFO < log_min)
        return;
    char safe[256];
    log_redact_path(path, safe, sizeof safe);
    fprintf(stderr, "%slevel=info pid=%d req=%s method=%s path=\"%s\" status=%d ms=%.2f\n",
            log_prefix(LOG_INFO), (int)getpid(), request_id, method, safe, status, ms);
}
