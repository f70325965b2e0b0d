/*
 * log.c - the daemon's log.
 *
 * On a terminal lines carry a time and a level; when stderr is the systemd
 * journal (JOURNAL_STREAM names it) they carry a "<N>" priority prefix
 * instead, which journald turns into the entry's priority.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static enum vigil_log_target log_target = VIGIL_LOG_TO_STDERR;
static int log_level = VIGIL_LOG_INFO;
static int log_journal; /* stderr is the journal */

static const char *const level_names[] = {
	[VIGIL_LOG_ERR] = "error",     [VIGIL_LOG_WARNING] = "warning",
	[VIGIL_LOG_NOTICE] = "notice", [VIGIL_LOG_INFO] = "info",
	[VIGIL_LOG_DEBUG] = "debug",
};

static int stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return st.st_dev == dev && st.st_ino == ino;
}

void vigil_log_setup(enum vigil_log_target target, int level)
{
	if (log_target == VIGIL_LOG_TO_SYSLOG && target != VIGIL_LOG_TO_SYSLOG)
		closelog();
	log_target = target;
	log_level = level;
	log_journal = stderr_is_journal();
	if (target == VIGIL_LOG_TO_SYSLOG)
		openlog("vigild", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int vigil_log_level(void)
{
	return log_level;
}

int vigil_log_enabled(int level)
{
	return level <= log_level;
}

int vigil_log_parse_level(const char *s)
{
	for (size_t i = 0; i < VIGIL_ARRAY_SIZE(level_names); i++)
		if (level_names[i] && strcasecmp(s, level_names[i]) == 0)
			return (int)i;
	return -1;
}

void vigil_log_format(char *msg, size_t size, const char *prefix,
		      const char *fmt, va_list ap)
{
	int n = 0;

	if (prefix)
		n = snprintf(msg, size, "[%s] ", prefix);
	if (n < 0 || (size_t)n >= size)
		n = 0;
	vsnprintf(msg + n, size - (size_t)n, fmt, ap);
	/* One event, one line: a newline inside a message would let a plugin
	 * forge log lines, and an escape sequence would reach the terminal
	 * of whoever reads the log. */
	for (char *p = msg; *p; p++) {
		if (*p == '\n' || *p == '\r')
			*p = ' ';
		else if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
			*p = '?';
	}
}

void vigil_logv(int level, const char *prefix, const char *fmt, va_list ap)
{
	char msg[2048];

	if (level > log_level)
		return;
	if (level < VIGIL_LOG_ERR)
		level = VIGIL_LOG_ERR;
	if (level > VIGIL_LOG_DEBUG)
		level = VIGIL_LOG_DEBUG;
	vigil_log_format(msg, sizeof(msg), prefix, fmt, ap);

	if (log_target == VIGIL_LOG_TO_SYSLOG) {
		syslog(level, "%s", msg);
	} else if (log_journal) {
		fprintf(stderr, "<%d>%s\n", level, msg);
	} else {
		struct timespec ts;
		struct tm tm;
		char when[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ld %-7s %s\n", when,
			ts.tv_nsec / 1000000, level_names[level], msg);
	}
}

void vigil_log(int level, const char *prefix, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vigil_logv(level, prefix, fmt, ap);
	va_end(ap);
}
