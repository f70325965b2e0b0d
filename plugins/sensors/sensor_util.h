/*
 * sensor_util.h - helpers the sensor plugins share.
 *
 * Header only, everything static inline: each sensor stays one
 * self-contained .so that exports `vigil_plugin` and links nothing of the
 * daemon. What is here is the same in every sensor that uses it: where to
 * find a file below `root`, reading a small file, the digits of a counter,
 * keeping a broken file from flooding the log, and handing over a reading.
 */
#ifndef VIGIL_SENSOR_UTIL_H
#define VIGIL_SENSOR_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vigil/plugin.h>

/* ------------------------------------------------------------- root */

/* The `root` option of every sensor, for its option table. */
#define SENSOR_ROOT_OPTION                                                    \
	{                                                                     \
		.name = "root",                                               \
		.type = VIGIL_OPT_STRING,                                     \
		.def = "/",                                                   \
		.help = "directory that stands for / (tests point it at a "   \
			"fixture tree)",                                      \
	}

/* The directory that stands for /: the `root` option, "/" when empty. */
static inline const char *sensor_root(const struct vigil_host *host,
				      struct vigil_ctx *ctx)
{
	const char *root = host->config_string(ctx, "root");

	return root && *root ? root : "/";
}

/* 0 when the `root` option names a directory, else VIGIL_EFATAL, said:
 * a root that is not there would only show later as reads failing with
 * a misleading error. First thing in each sensor's init. */
static inline int sensor_root_check(const struct vigil_host *host,
				    struct vigil_ctx *ctx)
{
	const char *root = sensor_root(host, ctx);
	struct stat st;

	if (stat(root, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	host->log(ctx, VIGIL_LOG_ERR, "root = '%s': %s; expected the directory "
		  "that stands for /", root,
		  access(root, F_OK) == 0 ? "not a directory" :
					    "no such directory");
	return VIGIL_EFATAL;
}

/* "<root>/<rel>" without a doubled slash when root is "/"; malloc()ed, or
 * NULL when out of memory. */
static inline char *sensor_root_path(const char *root, const char *rel)
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

/* `rel` below the instance's root, as sensor_root_path(). */
static inline char *sensor_path(const struct vigil_host *host,
				struct vigil_ctx *ctx, const char *rel)
{
	return sensor_root_path(sensor_root(host, ctx), rel);
}

/* ------------------------------------------------------------ files */

/* Reads a small file whole into buf, NUL-terminated. Returns its length,
 * or -errno; -EFBIG when it does not fit, as no value read this way is
 * long (buf is then not terminated). */
static inline ssize_t sensor_read_text(const char *path, char *buf,
				       size_t size)
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

/* One unsigned decimal at *p, which is left after it; what may surround
 * it is the caller's business. strtoull alone would skip blanks and take
 * "-1", wrapping it, so a digit must come first. Returns 0, or -1 (also
 * on overflow). */
static inline int sensor_parse_u64(const char **p, uint64_t *out)
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

/* ---------------------------------------------------------- the log */

/*
 * For a sensor reading one file that, once broken, tends to stay broken:
 * sensor_complain() logs the problems of the first bad read and then keeps
 * quiet until a clean read, which sensor_settle() notes, so that a sensor
 * read every few seconds does not flood the log.
 */
struct sensor_problems {
	int had_problem; /* the previous read logged a problem */
	int problem;     /* the current read found one */
};

static inline void sensor_complain(struct sensor_problems *p,
				   const struct vigil_host *host,
				   struct vigil_ctx *ctx, const char *fmt, ...)
	VIGIL_PRINTF(4, 5);

static inline void sensor_complain(struct sensor_problems *p,
				   const struct vigil_host *host,
				   struct vigil_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	p->problem = 1;
	if (p->had_problem)
		return;
	va_start(ap, fmt);
	host->vlog(ctx, VIGIL_LOG_WARNING, fmt, ap);
	va_end(ap);
}

/* Ends a read of `path`: notes a recovery, and arms the next read. */
static inline void sensor_settle(struct sensor_problems *p,
				 const struct vigil_host *host,
				 struct vigil_ctx *ctx, const char *path)
{
	if (p->had_problem && !p->problem)
		host->log(ctx, VIGIL_LOG_NOTICE, "%s reads cleanly again", path);
	p->had_problem = p->problem;
	p->problem = 0;
}

/* ------------------------------------------------------- a reading */

/* Hands over one good reading with the label key=value, or with none when
 * key is NULL. */
static inline void sensor_emit(const struct vigil_host *host,
			       struct vigil_ctx *ctx, const char *metric,
			       const char *unit, double value, const char *key,
			       const char *label)
{
	struct vigil_label l = { .key = key, .value = label };
	struct vigil_reading r = {
		.metric = metric,
		.unit = unit,
		.value = value,
		.labels = key ? &l : NULL,
		.n_labels = key ? 1 : 0,
		.quality = VIGIL_QUALITY_GOOD,
	};

	/* -ENOSPC only says the host counted a drop: nothing to undo here. */
	host->emit_reading(ctx, &r);
}

#endif
