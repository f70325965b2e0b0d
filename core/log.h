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
/* --check-config: the error lines logged with `prefix` (an instance's
 * section) are not written but the first is kept in buf (without the
 * prefix), so that the check reports it in its own FILE:LINE message.
 * vigil_log_tap(NULL, NULL, 0) ends it. Single-threaded use only. */
void vigil_log_tap(const char *prefix, char *buf, size_t size);

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
