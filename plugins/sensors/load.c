/*
 * load - load averages and task counts from /proc/loadavg
 *
 * SYNOPSIS
 *     [sensor.load]
 *     plugin = load
 *
 * DESCRIPTION
 *     /proc/loadavg reads "0.52 0.58 0.59 2/213 12345": the 1, 5 and 15
 *     minute load averages, then runnable and total scheduling entities
 *     (tasks, including threads), then the last PID. The last is not
 *     reported.
 *
 * OPTIONS
 *     root  directory that stands for / (default "/")
 *
 * METRICS
 *     load.load1    ""
 *     load.load5    ""
 *     load.load15   ""
 *     load.running  ""  runnable tasks (the r of r/t)
 *     load.procs    ""  all tasks (the t of r/t)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vigil/plugin.h>

#include "sensor_util.h"

struct load_state {
	const struct vigil_host *host;
	char *loadavg_path;
	struct sensor_problems problems; /* with loadavg */
};

static const struct vigil_option load_options[] = {
	SENSOR_ROOT_OPTION,
	VIGIL_OPTIONS_END,
};

/*
 * A load average, "12.34" (the kernel prints %lu.%02lu). Parsed by hand
 * because strtod follows LC_NUMERIC: in a daemon that called setlocale()
 * for its messages, it would stop at the '.' of "0.52". The digits are
 * gathered into one integer and divided once by a power of ten, both exact
 * in a double, so the result is the double nearest the decimal, as from
 * strtod; adding up digit * 0.1, digit * 0.01, ... rounds at every step
 * ("0.30" became 0.30000000000000004).
 */
static int parse_load(const char **p, double *out)
{
	const char *s = *p;
	double scale = 1.0;
	uint64_t digits;

	if (sensor_parse_u64(&s, &digits) < 0)
		return -1;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return -1;
		for (; *s >= '0' && *s <= '9'; s++) {
			/* Past 2^53 or 10^22 neither would stay exact; such
			 * digits are beyond what a double holds anyway. */
			if (digits > ((UINT64_C(1) << 53) - 9) / 10 ||
			    scale >= 1e22)
				continue;
			digits = digits * 10 + (uint64_t)(*s - '0');
			scale *= 10.0;
		}
	}
	*out = (double)digits / scale;
	*p = s;
	return 0;
}

static int skip_blanks(const char **p)
{
	const char *s = *p;

	while (*s == ' ' || *s == '\t')
		s++;
	if (s == *p)
		return -1; /* the fields need a separator */
	*p = s;
	return 0;
}

static void emit(struct load_state *st, struct vigil_ctx *ctx,
		 const char *metric, double value)
{
	sensor_emit(st->host, ctx, metric, "", value, NULL, NULL);
}

static int load_read(void *state, struct vigil_ctx *ctx)
{
	static const char *const load_metrics[3] = {
		"load.load1", "load.load5", "load.load15"
	};
	struct load_state *st = state;
	uint64_t running, procs;
	const char *s;
	double load[3];
	char buf[128];
	ssize_t n;
	int i;

	n = sensor_read_text(st->loadavg_path, buf, sizeof(buf));
	if (n < 0) {
		sensor_complain(&st->problems, st->host, ctx,
				"cannot read %s: %s", st->loadavg_path,
				strerror((int)-n));
		sensor_settle(&st->problems, st->host, ctx, st->loadavg_path);
		return (int)n;
	}
	buf[strcspn(buf, "\n")] = '\0';

	/* The averages come first and are worth having even if the task
	 * counts after them are garbled. */
	s = buf;
	for (i = 0; i < 3; i++) {
		if ((i > 0 && skip_blanks(&s) < 0) ||
		    parse_load(&s, &load[i]) < 0)
			break;
	}
	if (i < 3) {
		sensor_complain(&st->problems, st->host, ctx,
				"%s: unexpected contents '%.60s', expected '<load1> <load5> <load15> <running>/<tasks> <pid>'",
				st->loadavg_path, buf);
		sensor_settle(&st->problems, st->host, ctx, st->loadavg_path);
		return -EIO;
	}
	for (i = 0; i < 3; i++)
		emit(st, ctx, load_metrics[i], load[i]);

	if (skip_blanks(&s) < 0 || sensor_parse_u64(&s, &running) < 0 ||
	    *s++ != '/' || sensor_parse_u64(&s, &procs) < 0 ||
	    (*s != ' ' && *s != '\0')) {
		sensor_complain(&st->problems, st->host, ctx,
				"%s: unexpected contents '%.60s', expected '<running>/<tasks>' as the fourth field",
				st->loadavg_path, buf);
	} else {
		emit(st, ctx, "load.running", (double)running);
		emit(st, ctx, "load.procs", (double)procs);
	}
	sensor_settle(&st->problems, st->host, ctx, st->loadavg_path);
	return 0;
}

static int load_init(struct vigil_ctx *ctx, const struct vigil_host *host,
		     void **state)
{
	struct load_state *st;

	if (sensor_root_check(host, ctx) < 0)
		return VIGIL_EFATAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->host = host;
	st->loadavg_path = sensor_path(host, ctx, "proc/loadavg");
	if (!st->loadavg_path) {
		free(st);
		return -ENOMEM;
	}
	*state = st;
	return 0;
}

static void load_fini(void *state)
{
	struct load_state *st = state;

	if (!st)
		return;
	free(st->loadavg_path);
	free(st);
}

VIGIL_PLUGIN_DEFINE = {
	VIGIL_PLUGIN_HEADER(VIGIL_KIND_SENSOR, "load", "1.0.0"),
	.description = "load averages and task counts from /proc/loadavg",
	.options = load_options,
	.init = load_init,
	.read = load_read,
	.fini = load_fini,
};
