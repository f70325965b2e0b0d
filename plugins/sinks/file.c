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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>

#include <vigil/plugin.h>

/* A buffer above this is given back after use, so one huge batch does not
 * pin memory for the life of the daemon. */
#define FILE_BUF_KEEP (1024 * 1024)

enum file_fsync {
	FILE_FSYNC_ALWAYS,
	FILE_FSYNC_INTERVAL,
	FILE_FSYNC_NEVER,
};

/* Bytes being built. On allocation failure `failed` sticks until the
 * owner resets it, so a line is checked once when it is complete. */
struct file_buf {
	char *data;
	size_t len;
	size_t cap;
	int failed;
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

	yajl_gen gen;          /* prints into `out` through gen_print */
	struct file_buf out;   /* complete lines waiting for write() */
	struct file_buf clean; /* a string with its invalid bytes replaced */
	yajl_gen_status status; /* first generator error of the line */

	/* gmtime_r once per second, not once per reading. */
	int64_t stamp_sec;
	char stamp[32]; /* "2026-11-24T10:01:02" */
};

/* ------------------------------------------------------------- buffers */

static int buf_reserve(struct file_buf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->failed)
		return -1;
	if (more <= b->cap - b->len)
		return 0;
	if (more > SIZE_MAX / 2 - b->len) {
		b->failed = 1;
		return -1;
	}
	cap = b->cap != 0 ? b->cap : 4096;
	while (cap - b->len < more)
		cap *= 2;
	p = realloc(b->data, cap);
	if (p == NULL) {
		b->failed = 1;
		return -1;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

static void buf_put(struct file_buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

/* Empties the buffer, giving back memory a rare huge batch took. */
static void buf_clear(struct file_buf *b)
{
	b->len = 0;
	b->failed = 0;
	if (b->cap > FILE_BUF_KEEP) {
		free(b->data);
		b->data = NULL;
		b->cap = 0;
	}
}

/* yajl's output callback: everything the generator prints lands in `out`,
 * so there is one buffer to write() and no copy out of yajl's own. */
static void gen_print(void *ctx, const char *str, size_t len)
{
	struct file_sink *fs = ctx;

	buf_put(&fs->out, str, len);
}

/* ------------------------------------------------------------ UTF-8 */

/*
 * Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0 if it is not one.
 * Stricter than yajl's own check, which lets all three through and so
 * would still write lines that Python, Go or jq refuse.
 */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	/* The second byte's range is what rules out overlongs, surrogates
	 * and code points past U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

static int utf8_valid(const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		size_t k = utf8_seq(p + i, n - i);

		if (k == 0)
			return 0;
		i += k;
	}
	return 1;
}

/* Copies s into b with every byte that does not start a valid
 * sequence replaced by '?'; with `ascii`, every non-ASCII byte. */
static void utf8_clean(struct file_buf *b, const unsigned char *s, size_t n,
		       int ascii)
{
	size_t i = 0;

	b->len = 0;
	while (i < n) {
		size_t k = ascii ? (s[i] < 0x80) : utf8_seq(s + i, n - i);

		if (k == 0) {
			buf_put(b, "?", 1);
			i++;
		} else {
			buf_put(b, s + i, k);
			i += k;
		}
	}
}

/* --------------------------------------------------------- JSON values */

static void j_status(struct file_sink *fs, yajl_gen_status st)
{
	if (fs->status == yajl_gen_status_ok)
		fs->status = st;
}

/* Keys are literals from this file: known to be ASCII. */
static void j_key(struct file_sink *fs, const char *k)
{
	j_status(fs, yajl_gen_string(fs->gen, (const unsigned char *)k,
				     strlen(k)));
}

static void j_str(struct file_sink *fs, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;
	yajl_gen_status st;

	if (s == NULL) {
		j_status(fs, yajl_gen_null(fs->gen));
		return;
	}
	n = strlen(s);
	if (utf8_valid(p, n)) {
		st = yajl_gen_string(fs->gen, p, n);
		if (st != yajl_gen_invalid_string) {
			j_status(fs, st);
			return;
		}
	}
	utf8_clean(&fs->clean, p, n, 0);
	if (fs->clean.failed) {
		fs->clean.failed = 0;
		j_status(fs, yajl_gen_in_error_state);
		return;
	}
	st = yajl_gen_string(fs->gen, (const unsigned char *)fs->clean.data,
			     fs->clean.len);
	if (st == yajl_gen_invalid_string) {
		/* yajl disagrees with utf8_seq: fall back to plain ASCII
		 * rather than lose the line. */
		utf8_clean(&fs->clean, p, n, 1);
		st = yajl_gen_string(fs->gen,
				     (const unsigned char *)fs->clean.data,
				     fs->clean.len);
	}
	j_status(fs, st);
}

static void j_kstr(struct file_sink *fs, const char *k, const char *v)
{
	j_key(fs, k);
	j_str(fs, v);
}

/*
 * A double as the shortest of %.15g/%.16g/%.17g that reads back exactly:
 * yajl_gen_double prints %.20g, which turns 48.3 into 48.29999999999999716.
 * Not finite is null (JSON has no NaN); negative zero is 0.
 */
static void j_double(struct file_sink *fs, double v)
{
	char num[40];
	int n = 0;

	if (!isfinite(v)) {
		j_status(fs, yajl_gen_null(fs->gen));
		return;
	}
	if (v == 0.0)
		v = 0.0;
	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(num, sizeof(num), "%.*g", prec, v);
		if (strtod(num, NULL) == v)
			break;
	}
	/* A locale with a decimal comma must not reach the file. */
	for (int i = 0; i < n; i++)
		if (num[i] != '-' && num[i] != '+' && num[i] != 'e' &&
		    (num[i] < '0' || num[i] > '9'))
			num[i] = '.';
	j_status(fs, yajl_gen_number(fs->gen, num, (size_t)n));
}

static void j_uint(struct file_sink *fs, uint64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRIu64, v);

	j_status(fs, yajl_gen_number(fs->gen, num, (size_t)n));
}

static void j_int(struct file_sink *fs, int64_t v)
{
	j_status(fs, yajl_gen_integer(fs->gen, (long long)v));
}

/* RFC 3339 UTC with milliseconds: "2026-11-24T10:01:02.123Z". */
static void j_time(struct file_sink *fs, vigil_time_ns t)
{
	int64_t sec = t / VIGIL_SEC;
	int64_t rem = t % VIGIL_SEC;
	char str[48];
	int n;

	if (rem < 0) { /* before 1970: floor, not truncate */
		sec -= 1;
		rem += VIGIL_SEC;
	}
	if (fs->stamp[0] == '\0' || sec != fs->stamp_sec) {
		time_t tt = (time_t)sec;
		struct tm tm;

		if (gmtime_r(&tt, &tm) == NULL || tm.tm_year + 1900 < 0 ||
		    tm.tm_year + 1900 > 9999) {
			j_status(fs, yajl_gen_null(fs->gen));
			return;
		}
		if (strftime(fs->stamp, sizeof(fs->stamp), "%Y-%m-%dT%H:%M:%S",
			     &tm) == 0) {
			fs->stamp[0] = '\0';
			j_status(fs, yajl_gen_null(fs->gen));
			return;
		}
		fs->stamp_sec = sec;
	}
	n = snprintf(str, sizeof(str), "%s.%03dZ", fs->stamp,
		     (int)(rem / VIGIL_MSEC));
	j_status(fs, yajl_gen_string(fs->gen, (const unsigned char *)str,
				     (size_t)n));
}

static void j_labels(struct file_sink *fs, const struct vigil_label *lb,
		     size_t n)
{
	j_key(fs, "labels");
	j_status(fs, yajl_gen_map_open(fs->gen));
	for (size_t i = 0; lb != NULL && i < n; i++) {
		j_str(fs, lb[i].key != NULL ? lb[i].key : "");
		j_str(fs, lb[i].value != NULL ? lb[i].value : "");
	}
	j_status(fs, yajl_gen_map_close(fs->gen));
}

/* ---------------------------------------------------------------- lines */

static size_t line_begin(struct file_sink *fs)
{
	size_t start = fs->out.len;

	fs->status = yajl_gen_status_ok;
	j_status(fs, yajl_gen_map_open(fs->gen));
	return start;
}

/*
 * Closes the line begun at `start`. On any failure the partial line is cut
 * from the buffer, so what is in `out` is always whole lines. Either way
 * the generator is reset: after a complete top-level value yajl refuses
 * more until yajl_gen_reset (yajl_gen_clear only empties yajl's own buffer,
 * which we do not use).
 */
static int line_end(struct file_sink *fs, size_t start)
{
	j_status(fs, yajl_gen_map_close(fs->gen));
	yajl_gen_reset(fs->gen, NULL);
	if (fs->status == yajl_gen_status_ok && !fs->out.failed) {
		buf_put(&fs->out, "\n", 1);
		if (!fs->out.failed)
			return 0;
	}
	fs->out.failed = 0;
	fs->out.len = start;
	return fs->status == yajl_gen_status_ok ? -ENOMEM : -EINVAL;
}

static void build_action(struct file_sink *fs,
			 const struct vigil_action_record *a)
{
	j_status(fs, yajl_gen_map_open(fs->gen));
	j_kstr(fs, "action", a->action);
	j_key(fs, "start");
	j_time(fs, a->start);
	j_key(fs, "duration_ms");
	j_int(fs, a->duration / VIGIL_MSEC);
	j_key(fs, "exit_status");
	j_int(fs, a->exit_status);
	j_kstr(fs, "outcome", vigil_outcome_name(a->outcome));
	j_kstr(fs, "output", a->output != NULL ? a->output : "");
	j_status(fs, yajl_gen_map_close(fs->gen));
}

static int build_event(struct file_sink *fs, struct vigil_ctx *ctx,
		       const struct vigil_event *ev)
{
	size_t start = line_begin(fs);

	j_key(fs, "time");
	j_time(fs, ev->time != 0 ? ev->time : fs->host->now(ctx));
	j_kstr(fs, "event", vigil_event_type_name(ev->type));
	j_key(fs, "id");
	j_uint(fs, ev->incident_id);
	j_kstr(fs, "key", ev->key);
	j_kstr(fs, "type", ev->incident_type);
	j_kstr(fs, "severity", vigil_severity_name(ev->severity));
	if (ev->type == VIGIL_EVENT_ESCALATED ||
	    ev->type == VIGIL_EVENT_DEESCALATED)
		j_kstr(fs, "previous_severity",
		       vigil_severity_name(ev->previous_severity));
	j_kstr(fs, "status", vigil_status_name(ev->status));
	j_kstr(fs, "message", ev->message != NULL ? ev->message : "");
	j_key(fs, "value");
	j_double(fs, ev->value);
	j_labels(fs, ev->labels, ev->n_labels);
	j_key(fs, "created");
	j_time(fs, ev->created);
	if (ev->resolved != 0) {
		j_key(fs, "resolved");
		j_time(fs, ev->resolved);
	}
	j_key(fs, "occurrences");
	j_uint(fs, ev->occurrences);
	j_key(fs, "actions");
	j_status(fs, yajl_gen_array_open(fs->gen));
	for (size_t i = 0; ev->actions != NULL && i < ev->n_actions; i++)
		build_action(fs, &ev->actions[i]);
	j_status(fs, yajl_gen_array_close(fs->gen));
	return line_end(fs, start);
}

static const char *quality_name(enum vigil_quality q)
{
	switch (q) {
	case VIGIL_QUALITY_GOOD:
		return "good";
	case VIGIL_QUALITY_UNCERTAIN:
		return "uncertain";
	case VIGIL_QUALITY_BAD:
		return "bad";
	}
	return "unknown";
}

static int build_reading(struct file_sink *fs, struct vigil_ctx *ctx,
			 const struct vigil_reading *r)
{
	size_t start = line_begin(fs);

	j_key(fs, "time");
	j_time(fs, r->time != 0 ? r->time : fs->host->now(ctx));
	j_kstr(fs, "metric", r->metric);
	j_key(fs, "value");
	j_double(fs, r->value);
	j_kstr(fs, "unit", r->unit != NULL ? r->unit : "");
	j_labels(fs, r->labels, r->n_labels);
	j_kstr(fs, "quality", quality_name(r->quality));
	return line_end(fs, start);
}

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
 * Writes the whole lines in fs->out: one write() unless the file has to be
 * rotated inside the batch. The buffer is emptied either way; what could
 * not be written is counted as lost (the core redelivers incident events
 * that we fail; readings are perishable by design).
 */
static int file_output(struct file_sink *fs, struct vigil_ctx *ctx)
{
	const char *p = fs->out.data;
	size_t len = fs->out.len, done = 0;
	int err = 0, rotate = fs->max_size != 0;

	if (len == 0) {
		buf_clear(&fs->out);
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
	buf_clear(&fs->out);
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

	err = build_event(fs, ctx, ev);
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
		err = build_reading(fs, ctx, &r[i]);
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
	if (fs->gen != NULL)
		yajl_gen_free(fs->gen);
	free(fs->path_buf);
	free(fs->out.data);
	free(fs->clean.data);
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
	fs->gen = yajl_gen_alloc(NULL);
	if (fs->rotated == NULL || fs->gen == NULL) {
		file_fini(fs);
		return -ENOMEM;
	}
	memcpy(fs->rotated, fs->path, n);
	memcpy(fs->rotated + n, ".1", 3);
	yajl_gen_config(fs->gen, yajl_gen_beautify, 0);
	yajl_gen_config(fs->gen, yajl_gen_validate_utf8, 1);
	yajl_gen_config(fs->gen, yajl_gen_print_callback, gen_print, fs);

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
