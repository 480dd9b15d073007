/*
 * log: one line per event on stderr, as key=value pairs that journald and log tools read.
 * Nothing personal goes in: paths carrying a participant's token are logged with the
 * token replaced by ":token".
 */
#ifndef ANKETA_LOG_H
#define ANKETA_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level min);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The access line of one request. */
void log_request(const char *request_id, const char *method, const char *path, int status,
                 double ms);

/* Copies path into out with any /s/<token> segment replaced by /s/:token. */
void log_redact_path(const char *path, char *out, size_t size);

#endif
