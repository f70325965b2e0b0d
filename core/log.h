/*
 * log.h - the daemon's log: levels, stderr or syslog, an instance prefix.
 */
#ifndef VIGIL_LOG_H
#define VIGIL_LOG_H

#include <stdarg.h>

#include <vigil/plugin.h>

enum vigil_log_target {
	VIGIL_LOG_TO_STDERR = 0,
	VIGIL_LOG_TO_SYSLOG = 1,
};

void vigil_log_setup(enum vigil_log_target target, int level);
int vigil_log_level(void);
int vigil_log_parse_level(const char *s); /* -1 if unknown */
int vigil_log_enabled(int level);

/* `prefix` is a section name like "sensor.cpu", or NULL for the core. */
/* "[prefix] message" (prefix may be NULL) into msg, one line: newlines
 * become blanks and other control characters but tab '?'. */
void vigil_log_format(char *msg, size_t size, const char *prefix,
		      const char *fmt, va_list ap);

void vigil_logv(int level, const char *prefix, const char *fmt, va_list ap)
	VIGIL_PRINTF(3, 0);
void vigil_log(int level, const char *prefix, const char *fmt, ...)
	VIGIL_PRINTF(3, 4);

#define vigil_err(...) vigil_log(VIGIL_LOG_ERR, NULL, __VA_ARGS__)
#define vigil_warn(...) vigil_log(VIGIL_LOG_WARNING, NULL, __VA_ARGS__)
#define vigil_notice(...) vigil_log(VIGIL_LOG_NOTICE, NULL, __VA_ARGS__)
#define vigil_info(...) vigil_log(VIGIL_LOG_INFO, NULL, __VA_ARGS__)
#define vigil_debug(...) vigil_log(VIGIL_LOG_DEBUG, NULL, __VA_ARGS__)

#endif
