/*
 * file.c - the "file" sink: incident events and readings as JSON Lines.
 *
 * One compact JSON object per line, appended to `path`, for a collector
 * (Fluent Bit, Vector, a cron'd rsync) to pick up or for a person with jq.
 *
 * An incident event:
 *
 *   {"time":"2026-11-24T10:01:02.123Z","event":"escalated","id":12,
 *    "key":"cpu_hot{zone=thermal_zone0}","type":"cpu_hot",
 *    "severity":"critical","previous_severity":"warning","status":"open",
 *    "message":"...","value":81.2,"labels":{"zone":"thermal_zone0"},
 *    "created":"...","resolved":"...","occurrences":3,
 *    "actions":[{"action":"renice","start":"...","duration_ms":12,
 *                "exit_status":0,"outcome":"ok","output":"..."}]}
 *
 * "previous_severity" appears only on escalated/deescalated, "resolved"
 * only once the incident is; "value" is null when not finite.
 *
 * A reading:
 *
 *   {"time":"...","metric":"thermal.temperature","value":48.3,"unit":"C",
 *    "labels":{"zone":"thermal_zone0"},"quality":"good"}
 *
 * Durability: `fsync = always` syncs after every incident event (readings
 * are perishable and wait for flush()), `interval` syncs from flush() at
 * most every `fsync_interval`, `never` leaves it to the kernel.
 *
 * Rotation: with `max_size`, a write that would grow the file past it first
 * renames path to path.1 (replacing the old one) and starts a new file. A
 * batch is split at line boundaries; a single line longer than max_size
 * gets a file of its own. A file removed from under us (logrotate without
 * copytruncate, an operator's rm) is noticed and recreated.
 *
 * Every string is written as valid UTF-8: JSON requires it and a collector
 * may drop the whole line otherwise, so invalid bytes become '?'.
 */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <vigil/plugin.h>

#include "sink_json.h"

/* A buffer above this is given back after use, so one huge batch does not
 * pin memory for the life of the daemon. */
#define FILE_BUF_KEEP (1024 * 1024)

enum file_fsync {
	FILE_FSYNC_ALWAYS,
	FILE_FSYNC_INTERVAL,
	FILE_FSYNC_NEVER,
};

struct file_sink {
	const struct vigil_host *host;
	const char *path; /* config_string or path_buf: valid until fini */
	char *path_buf;   /* a relative path joined to the state directory */
	char *rotated;    /* path + ".1" */
	enum file_fsync fsync;
	vigil_time_ns fsync_interval;
	uint64_t max_size; /* 0: unlimited */
	mode_t mode;

	int fd;                   /* -1 while closed */
	uint64_t size;            /* bytes in the file, from fstat */
	int torn;                 /* the file ends inside a line */
	int dirty;                /* written since the last fsync */
	vigil_time_ns last_sync;  /* monotonic */

	/* errno of the failure we last reported, 0 while healthy: a full
	 * disk is reported when it fills and when it recovers, not on each
	 * of the thousands of writes in between. */
	int write_error;
	int rotate_error;
	uint64_t lost; /* lines dropped while write_error was set */

	/* json.out: complete lines waiting for write(). */
	struct sink_json json;
};

/* ----------------------------------------------------------------- file */

static int write_all(int fd, const char *p, size_t len, size_t *done)
{
	*done = 0;
	while (*done < len) {
		ssize_t n = write(fd, p + *done, len - *done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) /* not for a regular file; never loop on it */
			return -EIO;
		*done += (size_t)n;
	}
	return 0;
}

/* Whether the last byte of a non-empty file is a newline. A power cut
 * mid-write leaves half a line; our next line must not be glued to it. */
static int ends_in_newline(const char *path, off_t size)
{
	char c = '\n';
	int fd;

	if (size <= 0)
		return 1;
	/* Our fd is O_WRONLY; a second one just to look at one byte. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return 1;
	if (pread(fd, &c, 1, size - 1) != 1)
		c = '\n';
	close(fd);
	return c == '\n';
}

static int file_open(struct file_sink *fs)
{
	struct stat st;
	int fd;

	/* O_NONBLOCK so that a FIFO at `path` fails (ENXIO) instead of
	 * blocking the instance until a reader turns up; it is a no-op on
	 * the regular file we want. */
	do
		fd = open(fs->path,
			  O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY |
				  O_NONBLOCK,
			  fs->mode);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return errno == ENXIO ? -EINVAL : -errno;
	if (fstat(fd, &st) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	if (!S_ISREG(st.st_mode)) {
		/* A FIFO or a device would block or never grow: not a
		 * file we can rotate or sync. */
		close(fd);
		return -EINVAL;
	}
	fs->fd = fd;
	fs->size = (uint64_t)st.st_size;
	fs->torn = !ends_in_newline(fs->path, st.st_size);
	fs->dirty = 0;
	return 0;
}

static void file_close(struct file_sink *fs)
{
	if (fs->fd < 0)
		return;
	if (fs->dirty && fs->fsync != FILE_FSYNC_NEVER)
		fsync(fs->fd);
	close(fs->fd);
	fs->fd = -1;
	fs->dirty = 0;
}

/* Opens the file if it is closed, reopens it if it was removed, and
 * refreshes the size (another writer, or a truncate, may have changed it). */
static int file_check(struct file_sink *fs)
{
	struct stat st;

	if (fs->fd >= 0) {
		if (fstat(fs->fd, &st) < 0)
			return -errno;
		if (st.st_nlink > 0) {
			fs->size = (uint64_t)st.st_size;
			return 0;
		}
		/* Unlinked: writing on would fill a file nobody can see. */
		close(fs->fd);
		fs->fd = -1;
	}
	return file_open(fs);
}

/* 0 when rotated, 1 when the rename failed and the old file is still open
 * (write on: losing data is worse than a big file), or a negative error
 * when the new file could not be opened. */
static int file_rotate(struct file_sink *fs, struct vigil_ctx *ctx)
{
	int err;

	/* Whatever ends up in path.1 is complete on disk before it goes. */
	if (fs->dirty && fs->fsync != FILE_FSYNC_NEVER && fsync(fs->fd) == 0)
		fs->dirty = 0;
	if (rename(fs->path, fs->rotated) < 0) {
		err = errno;
		if (err != fs->rotate_error)
			fs->host->log(ctx, VIGIL_LOG_ERR,
				      "cannot rotate %s to %s: %s; writing on "
				      "past max_size",
				      fs->path, fs->rotated, strerror(err));
		fs->rotate_error = err;
		return 1;
	}
	if (fs->rotate_error != 0)
		fs->host->log(ctx, VIGIL_LOG_NOTICE, "rotating %s works again",
			      fs->path);
	fs->rotate_error = 0;
	file_close(fs);
	return file_open(fs);
}

/* Length of the longest run of whole lines at the start of p[0..len) that
 * fits in `room` bytes; 0 if not even the first line fits. */
static size_t lines_that_fit(const char *p, size_t len, uint64_t room)
{
	size_t n = len < room ? len : (size_t)room;

	while (n > 0 && p[n - 1] != '\n')
		n--;
	return n;
}

static size_t first_line(const char *p, size_t len)
{
	const char *nl = memchr(p, '\n', len);

	return nl != NULL ? (size_t)(nl - p) + 1 : len;
}

static uint64_t count_lines(const char *p, size_t len)
{
	uint64_t n = 0;

	for (const char *q = p; (q = memchr(q, '\n', len - (size_t)(q - p)));
	     q++)
		n++;
	return n;
}

/*
 * A short write (disk full, file size limit) left the first `*done` bytes
 * of p on disk, possibly ending inside a line. Cut that half line off
 * again so the file stays whole lines; if even that fails, remember to
 * end it with a newline before the next write, so that only it is lost.
 */
static void file_untear(struct file_sink *fs, const char *p, size_t *done)
{
	size_t whole = *done;

	while (whole > 0 && p[whole - 1] != '\n')
		whole--;
	if (whole == *done)
		return;
	if (ftruncate(fs->fd, (off_t)(fs->size - (*done - whole))) == 0) {
		fs->size -= *done - whole;
		*done = whole;
	} else {
		fs->torn = 1;
	}
}

/* Says once that writing fails, and once that it works again. */
static void report_write(struct file_sink *fs, struct vigil_ctx *ctx,
			 int err)
{
	if (err == 0) {
		if (fs->write_error != 0)
			fs->host->log(ctx, VIGIL_LOG_NOTICE,
				      "writing to %s again; %" PRIu64
				      " line(s) were lost",
				      fs->path, fs->lost);
		fs->write_error = 0;
		fs->lost = 0;
		return;
	}
	if (err != fs->write_error)
		fs->host->log(ctx, VIGIL_LOG_ERR, "cannot write to %s: %s",
			      fs->path, strerror(err));
	fs->write_error = err;
}

/*
 * Writes the whole lines in fs->json.out: one write() unless the file has to be
 * rotated inside the batch. The buffer is emptied either way; what could
 * not be written is counted as lost (the core redelivers incident events
 * that we fail; readings are perishable by design).
 */
static int file_output(struct file_sink *fs, struct vigil_ctx *ctx)
{
	const char *p = fs->json.out.data;
	size_t len = fs->json.out.len, done = 0;
	int err = 0, rotate = fs->max_size != 0;

	if (len == 0) {
		sink_json_clear(&fs->json);
		return 0;
	}
	err = file_check(fs);
	if (err < 0)
		goto out;
	if (fs->torn) {
		err = write_all(fs->fd, "\n", 1, &done);
		if (err < 0)
			goto out;
		fs->size += 1;
		fs->torn = 0;
	}
	while (len > 0) {
		size_t chunk = len;

		if (rotate && fs->size + len > fs->max_size) {
			chunk = fs->size < fs->max_size
					? lines_that_fit(p, len,
							 fs->max_size - fs->size)
					: 0;
			if (chunk == 0 && fs->size > 0) {
				err = file_rotate(fs, ctx);
				if (err < 0)
					goto out;
				if (err > 0)
					rotate = 0;
				err = 0;
				continue;
			}
			if (chunk == 0) /* one line longer than max_size */
				chunk = first_line(p, len);
		}
		err = write_all(fs->fd, p, chunk, &done);
		fs->size += done;
		if (done > 0)
			fs->dirty = 1;
		if (err < 0) {
			file_untear(fs, p, &done);
			p += done;
			len -= done;
			goto out;
		}
		p += chunk;
		len -= chunk;
	}
out:
	if (err < 0)
		fs->lost += count_lines(p, len);
	if (err == -EIO && fs->fd >= 0) {
		/* The device may be gone (a pulled SD card or USB stick):
		 * an fd on it stays dead, a reopen may find it back. */
		close(fs->fd);
		fs->fd = -1;
		fs->dirty = 0;
	}
	report_write(fs, ctx, -err);
	sink_json_clear(&fs->json);
	return err;
}

static int file_sync(struct file_sink *fs, struct vigil_ctx *ctx)
{
	if (fs->fd < 0 || !fs->dirty)
		return 0;
	if (fsync(fs->fd) < 0) {
		int err = errno;

		report_write(fs, ctx, err);
		return -err;
	}
	fs->dirty = 0;
	fs->last_sync = fs->host->monotonic(ctx);
	return 0;
}

/* ---------------------------------------------------------- callbacks */

static int file_deliver(void *state, struct vigil_ctx *ctx,
			const struct vigil_event *ev)
{
	struct file_sink *fs = state;
	int err;

	err = sink_json_event(&fs->json, ev, fs->host->now(ctx));
	if (err < 0) {
		fs->host->log(ctx, VIGIL_LOG_ERR,
			      "cannot encode incident #%" PRIu64 ": %s",
			      ev->incident_id, strerror(-err));
		return err;
	}
	err = file_output(fs, ctx);
	if (err == 0 && fs->fsync == FILE_FSYNC_ALWAYS)
		err = file_sync(fs, ctx);
	return err;
}

static int file_write(void *state, struct vigil_ctx *ctx,
		      const struct vigil_reading *r, size_t n)
{
	struct file_sink *fs = state;
	size_t bad = 0;
	int err, first = 0;

	for (size_t i = 0; i < n; i++) {
		err = sink_json_reading(&fs->json, &r[i],
					r[i].time != 0 ? r[i].time
						       : fs->host->now(ctx));
		if (err < 0) {
			first = first != 0 ? first : err;
			bad++;
		}
	}
	err = file_output(fs, ctx);
	if (bad > 0) {
		fs->host->log(ctx, VIGIL_LOG_WARNING,
			      "%zu of %zu reading(s) could not be encoded: %s",
			      bad, n, strerror(-first));
		if (err == 0)
			err = first;
	}
	return err;
}

static int file_flush(void *state, struct vigil_ctx *ctx)
{
	struct file_sink *fs = state;

	if (fs->fsync == FILE_FSYNC_NEVER)
		return 0;
	if (fs->host->monotonic(ctx) - fs->last_sync < fs->fsync_interval)
		return 0;
	return file_sync(fs, ctx);
}

/* "0640" -> 0640. Only permission bits: setuid and sticky bits mean
 * nothing on a data file and are more likely a typo. */
static int parse_mode(const char *s, mode_t *mode)
{
	unsigned v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 4)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '7')
			return -1;
		v = v * 8 + (unsigned)(s[i] - '0');
	}
	if (v > 0777)
		return -1;
	*mode = (mode_t)v;
	return 0;
}

static void file_fini(void *state)
{
	struct file_sink *fs = state;

	if (fs == NULL)
		return;
	file_close(fs);
	sink_json_fini(&fs->json);
	free(fs->path_buf);
	free(fs->rotated);
	free(fs);
}

static int file_init(struct vigil_ctx *ctx, const struct vigil_host *host,
		     void **state)
{
	struct file_sink *fs;
	const char *s;
	size_t n;
	int err;

	fs = calloc(1, sizeof(*fs));
	if (fs == NULL)
		return -ENOMEM;
	fs->host = host;
	fs->fd = -1;

	s = host->config_string(ctx, "path");
	if (s != NULL && s[0] != '\0' && s[0] != '/' &&
	    VIGIL_HOST_HAS(host, state_dir)) {
		/* Relative to the state directory, never to the daemon's
		 * working directory. */
		if (asprintf(&fs->path_buf, "%s/%s", host->state_dir(ctx), s) < 0) {
			fs->path_buf = NULL;
			free(fs);
			return -ENOMEM;
		}
		s = fs->path_buf;
	}
	if (s == NULL || s[0] != '/') {
		host->log(ctx, VIGIL_LOG_ERR,
			  "path must be a file name, not \"%s\"",
			  s != NULL ? s : "");
		goto fatal;
	}
	n = strlen(s);
	if (s[n - 1] == '/') {
		host->log(ctx, VIGIL_LOG_ERR,
			  "path \"%s\" names a directory, not a file", s);
		goto fatal;
	}
	fs->path = s;

	s = host->config_string(ctx, "fsync");
	if (s == NULL || strcmp(s, "interval") == 0) {
		fs->fsync = FILE_FSYNC_INTERVAL;
	} else if (strcmp(s, "always") == 0) {
		fs->fsync = FILE_FSYNC_ALWAYS;
	} else if (strcmp(s, "never") == 0) {
		fs->fsync = FILE_FSYNC_NEVER;
	} else {
		host->log(ctx, VIGIL_LOG_ERR,
			  "fsync must be always, interval or never, not \"%s\"",
			  s);
		goto fatal;
	}

	fs->fsync_interval =
		host->config_duration(ctx, "fsync_interval", 5 * VIGIL_SEC);
	if (fs->fsync_interval < 100 * VIGIL_MSEC) {
		host->log(ctx, VIGIL_LOG_ERR,
			  "fsync_interval must be at least 100ms");
		goto fatal;
	}

	fs->max_size = host->config_size(ctx, "max_size", 0);

	s = host->config_string(ctx, "mode");
	if (s == NULL)
		s = "0640";
	if (parse_mode(s, &fs->mode) < 0) {
		host->log(ctx, VIGIL_LOG_ERR,
			  "mode must be octal permission bits like 0640, not "
			  "\"%s\"",
			  s);
		goto fatal;
	}
	if (!(fs->mode & S_IWUSR)) {
		host->log(ctx, VIGIL_LOG_ERR,
			  "mode %s lacks owner write (0200): the file could "
			  "not be reopened after a restart or a rotation",
			  s);
		goto fatal;
	}

	fs->rotated = malloc(n + 3);
	if (fs->rotated == NULL ||
	    sink_json_init(&fs->json, FILE_BUF_KEEP, 1) < 0) {
		file_fini(fs);
		return -ENOMEM;
	}
	memcpy(fs->rotated, fs->path, n);
	memcpy(fs->rotated + n, ".1", 3);

	/* Open now so a bad directory or permission shows at startup. */
	err = file_open(fs);
	if (err < 0) {
		host->log(ctx, VIGIL_LOG_ERR, "cannot open %s: %s", fs->path,
			  err == -EINVAL ? "not a regular file"
					 : strerror(-err));
		file_fini(fs);
		/* These will not fix themselves; a missing or read-only
		 * directory may (a late mount), so let the core retry. */
		if (err == -EISDIR || err == -ENOTDIR || err == -EINVAL ||
		    err == -ENAMETOOLONG || err == -ELOOP)
			return VIGIL_EFATAL;
		return err;
	}
	fs->last_sync = host->monotonic(ctx);
	*state = fs;
	return 0;

fatal:
	file_fini(fs);
	return VIGIL_EFATAL;
}

static const struct vigil_option file_options[] = {
	{.name = "path",
	 .type = VIGIL_OPT_STRING,
	 .help = "JSON Lines file to append to; a relative name is in the state directory",
	 .flags = VIGIL_OPT_REQUIRED},
	{.name = "fsync",
	 .type = VIGIL_OPT_ENUM,
	 .def = "interval",
	 .choices = "always|interval|never",
	 .help = "always: sync after each incident event; interval: at most "
		 "every fsync_interval; never: leave it to the kernel"},
	{.name = "fsync_interval",
	 .type = VIGIL_OPT_DURATION,
	 .def = "5s",
	 .min = 100e6,
	 .max = 86400e9,
	 .help = "least time between two syncs of the file (100ms to 24h)"},
	{.name = "max_size",
	 .type = VIGIL_OPT_SIZE,
	 .def = "0",
	 .help = "rotate to PATH.1 before the file would grow past this; "
		 "0 never rotates"},
	{.name = "mode",
	 .type = VIGIL_OPT_STRING,
	 .def = "0640",
	 .help = "octal permissions of a newly created file (umask applies)"},
	VIGIL_OPTIONS_END,
};

VIGIL_PLUGIN_DEFINE = {
	VIGIL_PLUGIN_HEADER(VIGIL_KIND_SINK, "file", "1.0.0"),
	.description = "Incident events and readings as JSON Lines in a file",
	.options = file_options,
	.init = file_init,
	.fini = file_fini,
	.deliver = file_deliver,
	.write = file_write,
	.flush = file_flush,
};
