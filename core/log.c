/*
 * log: line-oriented logging to stderr.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static enum log_level log_min = LOG_INFO;

static const char *const log_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level min)
{
    log_min = min;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level < log_min)
        return;
    char line[1024];
    int n = snprintf(line, sizeof line, "level=%s pid=%d msg=\"", log_names[level], (int)getpid());
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
    fprintf(stderr, "level=info pid=%d req=%s method=%s path=\"%s\" status=%d ms=%.2f\n",
            (int)getpid(), request_id, method, safe, status, ms);
}
