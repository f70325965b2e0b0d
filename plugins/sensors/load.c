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
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vigil/plugin.h>

struct load_state {
	const struct vigil_host *host;
	char *loadavg_path;
	int had_problem; /* the previous read logged a problem */
	int problem;     /* the current read found one */
};

static const struct vigil_option load_options[] = {
	{
		.name = "root",
		.type = VIGIL_OPT_STRING,
		.def = "/",
		.help = "directory that stands for / (tests point it at a fixture tree)",
	},
	VIGIL_OPTIONS_END,
};

/* "<root>/<rel>" without a doubled slash when root is "/". */
static char *root_path(const char *root, const char *rel)
{
	size_t rlen = strlen(root), len;
	char *p;

	while (rlen > 0 && root[rlen - 1] == '/')
		rlen--;
	while (*rel == '/')
		rel++;
	len = rlen + 1 + strlen(rel);
	p = malloc(len + 1);
	if (!p)
		return NULL;
	memcpy(p, root, rlen);
	p[rlen] = '/';
	memcpy(p + rlen + 1, rel, len - rlen);
	return p;
}

/* Reads a small file whole into buf, NUL-terminated. Returns its length,
 * or -errno; -EFBIG when it does not fit. */
static ssize_t read_text(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	char extra;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			close(fd);
			return -err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == size - 1 && read(fd, &extra, 1) > 0) {
		close(fd);
		return -EFBIG;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

/*
 * A broken loadavg tends to stay broken: log the problems of the first bad
 * read and then keep quiet until a clean read, so that a sensor read every
 * few seconds does not flood the log. The host table has no vlog, hence
 * the detour through a buffer.
 */
static void complain(struct load_state *st, struct vigil_ctx *ctx,
		     const char *fmt, ...) VIGIL_PRINTF(3, 4);

static void complain(struct load_state *st, struct vigil_ctx *ctx,
		     const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	st->problem = 1;
	if (st->had_problem)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	st->host->log(ctx, VIGIL_LOG_WARNING, "%s", msg);
}

static void settle(struct load_state *st, struct vigil_ctx *ctx)
{
	if (st->had_problem && !st->problem)
		st->host->log(ctx, VIGIL_LOG_NOTICE, "%s reads cleanly again",
			      st->loadavg_path);
	st->had_problem = st->problem;
	st->problem = 0;
}

/* One unsigned decimal at *p, which is left after it. strtoull alone
 * would skip blanks and take "-1", so a digit must come first. */
static int parse_u64(const char **p, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (**p < '0' || **p > '9')
		return -1;
	errno = 0;
	v = strtoull(*p, &end, 10);
	if (errno == ERANGE)
		return -1;
	*out = v;
	*p = end;
	return 0;
}

/*
 * A load average, "12.34" (the kernel prints %lu.%02lu). Parsed by hand
 * because strtod follows LC_NUMERIC: in a daemon that called setlocale()
 * for its messages, it would stop at the '.' of "0.52".
 */
static int parse_load(const char **p, double *out)
{
	const char *s = *p;
	double scale = 0.1, v;
	uint64_t ip;

	if (parse_u64(&s, &ip) < 0)
		return -1;
	v = (double)ip;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return -1;
		for (; *s >= '0' && *s <= '9'; s++) {
			v += (*s - '0') * scale;
			scale /= 10.0;
		}
	}
	*out = v;
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
	struct vigil_reading r = {
		.metric = metric,
		.unit = "",
		.value = value,
		.quality = VIGIL_QUALITY_GOOD,
	};

	/* -ENOSPC only says the host counted a drop: nothing to undo here. */
	st->host->emit_reading(ctx, &r);
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

	n = read_text(st->loadavg_path, buf, sizeof(buf));
	if (n < 0) {
		complain(st, ctx, "cannot read %s: %s", st->loadavg_path,
			 strerror((int)-n));
		settle(st, ctx);
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
		complain(st, ctx,
			 "%s: unexpected contents '%.60s', expected '<load1> <load5> <load15> <running>/<tasks> <pid>'",
			 st->loadavg_path, buf);
		settle(st, ctx);
		return -EIO;
	}
	for (i = 0; i < 3; i++)
		emit(st, ctx, load_metrics[i], load[i]);

	if (skip_blanks(&s) < 0 || parse_u64(&s, &running) < 0 ||
	    *s++ != '/' || parse_u64(&s, &procs) < 0 ||
	    (*s != ' ' && *s != '\0')) {
		complain(st, ctx,
			 "%s: unexpected contents '%.60s', expected '<running>/<tasks>' as the fourth field",
			 st->loadavg_path, buf);
	} else {
		emit(st, ctx, "load.running", (double)running);
		emit(st, ctx, "load.procs", (double)procs);
	}
	settle(st, ctx);
	return 0;
}

static int load_init(struct vigil_ctx *ctx, const struct vigil_host *host,
		     void **state)
{
	const char *root = host->config_string(ctx, "root");
	struct load_state *st;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->host = host;
	st->loadavg_path = root_path(root && *root ? root : "/",
				     "proc/loadavg");
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
