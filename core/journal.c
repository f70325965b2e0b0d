/*
 * journal.c - a crash-safe, append-only journal of typed records.
 *
 * The format and the promises are in journal.h. How they are kept:
 *
 * - The file only ever grows by whole records written at `size`, the end
 *   of the last good one (pwritev at an explicit offset, not O_APPEND).
 *   A write that fails part-way is cut back off with ftruncate before the
 *   error is returned; if even that fails, `torn` makes the next append
 *   try the cut again before writing, so a record is never glued behind
 *   half of another.
 * - Replay reads through a buffer of READ_CHUNK bytes, grown only for a
 *   record larger than that (at most the record limit), and checks each
 *   record whole (bounds, completeness, CRC-32C) before the callback sees
 *   it. The first bad record ends the replay: nothing after it can be
 *   trusted to start on a record boundary.
 * - A new file never appears half-written under PATH: its header (and,
 *   for a compaction, its records) is written to PATH.tmp, fsynced and
 *   renamed over PATH, and the directory fsynced so the rename survives
 *   a power loss. The temporary file takes the journal's place on its
 *   open descriptor: PATH never needs reopening. A PATH.tmp found at open
 *   is what a crash left of such a write, and is removed.
 * - One process at a time: PATH.lock, a file that is never removed nor
 *   renamed, is flock'ed before anything else is looked at and held until
 *   close. A lock on PATH itself would not do: PATH is replaced by each
 *   compaction and created by a rename, so two processes starting at once
 *   could each lock a different file, remove the other's PATH.tmp, or
 *   rename theirs over the other's journal.
 * - Write and sync failures are logged when they start and when they
 *   end, not on each of the thousands of appends in between.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "log.h"
#include "proto.h"
#include "util.h"

#define READ_CHUNK (64u * 1024)
#define DEFAULT_INTERVAL VIGIL_SEC

struct vigil_journal {
	char *path;
	char *tmp_path; /* PATH.tmp: a new file before its rename */
	int fd;         /* O_RDWR, flock'ed; -1 only while being built */
	int lock;       /* PATH.lock, flock'ed while open; -1 for PATH.tmp */
	struct vigil_journal_opts opts;

	uint64_t size;    /* end of the last whole record */
	uint64_t records; /* whole records in the file */
	int torn;         /* a failed write could not be cut back off yet */
	int dirty;        /* written since the last fdatasync */
	vigil_time_ns last_sync; /* monotonic */

	int append_error; /* first failed append: a compaction is abandoned */
	int write_error;  /* errno being reported for writes, 0 while fine */
	int sync_error;   /* same, for fdatasync */
	uint64_t lost;    /* appends failed while write_error was set */

	uint64_t replayed, cut, appended, syncs, compactions;
};

/* ------------------------------------------------------------ CRC-32C */

/* Castagnoli's polynomial, reflected: what iSCSI, ext4 and btrfs use,
 * with better error detection than zlib's CRC-32 for short records. One
 * table, built on first use: a byte at a time is plenty for records that
 * cost a syscall each. */
static uint32_t crc_table[256];

static void crc_table_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t vigil_crc32c(uint32_t crc, const void *data, size_t n)
{
	const uint8_t *p = data;

	if (!crc_table[1])
		crc_table_init();
	crc = ~crc;
	while (n--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* ------------------------------------------------------- record codec */

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void file_header(uint8_t *h)
{
	memcpy(h, VIGIL_JOURNAL_MAGIC, 4);
	put_le32(h + 4, VIGIL_JOURNAL_VERSION);
}

/* The checksum of a record: its first 8 header bytes, then the payload. */
static uint32_t record_crc(const uint8_t *head, const void *data, size_t len)
{
	return vigil_crc32c(vigil_crc32c(0, head, 8), data, len);
}

static void record_header(uint8_t *h, uint8_t type, const void *data,
			  size_t len)
{
	put_le32(h, (uint32_t)len);
	h[4] = type;
	h[5] = h[6] = h[7] = 0;
	put_le32(h + 8, record_crc(h, data, len));
}

int vigil_journal_compact_due(uint64_t size, uint64_t live, uint64_t min_size)
{
	return size >= min_size && size / 4 >= VIGIL_JOURNAL_HEADER + live;
}

/* ------------------------------------------------------------- files */

/* Writes all of iov[0..n) at `off`, through short writes and EINTR. */
static int pwrite_all(int fd, uint64_t off, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t k = pwritev(fd, iov, n, (off_t)off);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0) /* not for a regular file; never loop on it */
			return -EIO;
		off += (uint64_t)k;
		while (n > 0 && (size_t)k >= iov->iov_len) {
			k -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + k;
			iov->iov_len -= (size_t)k;
		}
	}
	return 0;
}

static int truncate_to(int fd, uint64_t size)
{
	while (ftruncate(fd, (off_t)size) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

static int sync_fd(int fd, int data_only)
{
	while ((data_only ? fdatasync(fd) : fsync(fd)) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* fsync of the directory holding `path`, so that a rename in it is on
 * disk and not only in the page cache. */
static int sync_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? vigil_xasprintf("%.*s", (int)(slash - path), path) :
			    vigil_xstrdup(".");
	int fd, err;

	if (!*dir) { /* "/journal" */
		free(dir);
		dir = vigil_xstrdup("/");
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return -errno;
	err = sync_fd(fd, 0);
	close(fd);
	return err;
}

static int lock_fd(int fd)
{
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			return -EBUSY;
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/* ------------------------------------------------------------ objects */

static struct vigil_journal *journal_new(const char *path,
					 const struct vigil_journal_opts *opts)
{
	struct vigil_journal *j = vigil_xcalloc(1, sizeof(*j));

	j->path = vigil_xstrdup(path);
	j->tmp_path = vigil_xasprintf("%s.tmp", path);
	j->fd = -1;
	j->lock = -1;
	if (opts)
		j->opts = *opts;
	if (j->opts.sync_interval <= 0)
		j->opts.sync_interval = DEFAULT_INTERVAL;
	j->last_sync = vigil_monotonic();
	return j;
}

static void journal_free(struct vigil_journal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	if (j->lock >= 0)
		close(j->lock);
	free(j->path);
	free(j->tmp_path);
	free(j);
}

int vigil_journal_fd(const struct vigil_journal *j)
{
	return j->fd;
}

const char *vigil_journal_path(const struct vigil_journal *j)
{
	return j->path;
}

void vigil_journal_stats(const struct vigil_journal *j,
			 struct vigil_journal_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->size = j->size;
	st->records = j->records;
	st->replayed = j->replayed;
	st->cut = j->cut;
	st->appended = j->appended;
	st->syncs = j->syncs;
	st->compactions = j->compactions;
	st->dirty = j->dirty;
}

/* ------------------------------------------------------------ syncing */

static int do_sync(struct vigil_journal *j, vigil_time_ns now)
{
	int err;

	if (!j->dirty)
		return 0;
	err = sync_fd(j->fd, 1);
	if (err < 0) {
		if (j->sync_error != -err)
			vigil_err("journal %s: fdatasync failed: %s; what was "
				  "appended since the last sync may not "
				  "survive a power loss",
				  j->path, strerror(-err));
		j->sync_error = -err;
		return err;
	}
	if (j->sync_error)
		vigil_notice("journal %s: fdatasync works again", j->path);
	j->sync_error = 0;
	j->dirty = 0;
	j->syncs++;
	j->last_sync = now;
	return 0;
}

int vigil_journal_sync(struct vigil_journal *j)
{
	return do_sync(j, vigil_monotonic());
}

int vigil_journal_tick(struct vigil_journal *j, vigil_time_ns now)
{
	vigil_time_ns due = vigil_journal_next_tick(j);

	return due && now >= due ? do_sync(j, now) : 0;
}

vigil_time_ns vigil_journal_next_tick(const struct vigil_journal *j)
{
	if (j->opts.sync != VIGIL_JOURNAL_SYNC_INTERVAL || !j->dirty)
		return 0;
	return j->last_sync + j->opts.sync_interval;
}

/* ---------------------------------------------------------- appending */

/* Cuts what a failed write left after `size`. */
static int cut_back(struct vigil_journal *j)
{
	int err = truncate_to(j->fd, j->size);

	if (err < 0) {
		if (!j->torn)
			vigil_err("journal %s: cannot cut a failed write back "
				  "to offset %llu: %s; will retry before the "
				  "next append",
				  j->path, (unsigned long long)j->size,
				  strerror(-err));
		j->torn = 1;
		return err;
	}
	j->torn = 0;
	return 0;
}

static void note_write_error(struct vigil_journal *j, size_t len, int err)
{
	if (!j->append_error)
		j->append_error = err;
	if (j->write_error != -err)
		vigil_err("journal %s: cannot append a record of %zu bytes at "
			  "offset %llu: %s; records are lost until this "
			  "clears",
			  j->path, len, (unsigned long long)j->size,
			  strerror(-err));
	j->write_error = -err;
	j->lost++;
}

int vigil_journal_append(struct vigil_journal *j, uint8_t type,
			 const void *data, size_t len)
{
	uint8_t head[VIGIL_JOURNAL_RECORD_HEADER];
	struct iovec iov[2];
	int err;

	if (type == 0)
		return -EINVAL;
	if (len > VIGIL_JOURNAL_RECORD_MAX)
		return -EMSGSIZE;
	if (j->torn && (err = cut_back(j)) < 0) {
		note_write_error(j, len, err);
		return err;
	}

	record_header(head, type, data, len);
	iov[0].iov_base = head;
	iov[0].iov_len = sizeof(head);
	iov[1].iov_base = (void *)data;
	iov[1].iov_len = len;
	err = pwrite_all(j->fd, j->size, iov, len ? 2 : 1);
	if (err < 0) {
		note_write_error(j, len, err);
		cut_back(j);
		return err;
	}
	if (j->write_error) {
		vigil_notice("journal %s: appending again; %llu records "
			     "were lost meanwhile",
			     j->path, (unsigned long long)j->lost);
		j->write_error = 0;
		j->lost = 0;
	}
	j->size += vigil_journal_record_bytes(len);
	j->records++;
	j->appended++;
	j->dirty = 1;
	if (j->opts.sync == VIGIL_JOURNAL_SYNC_ALWAYS)
		return vigil_journal_sync(j);
	return 0;
}

int vigil_journal_append_wire(struct vigil_journal *j, uint8_t type,
			      const struct vigil_wire *w)
{
	if (w->b.len < VIGIL_FRAME_HEADER)
		return -EINVAL; /* not begun */
	return vigil_journal_append(j, type, w->b.data + VIGIL_FRAME_HEADER,
				    w->b.len - VIGIL_FRAME_HEADER);
}

void vigil_journal_wire_reader(struct vigil_wire_reader *r, const void *data,
			       size_t len)
{
	struct vigil_frame f = {
		.length = (uint32_t)len,
		.payload = data,
	};

	vigil_wire_reader_init(r, &f);
}

/* --------------------------------------------------- new files, renames */

/* Starts a journal at PATH.tmp: created empty, locked, header written.
 * Appends to it are not synced one by one; commit_tmp syncs it whole. */
static int begin_tmp(struct vigil_journal *j, struct vigil_journal **out)
{
	const struct vigil_journal_opts never = {
		.sync = VIGIL_JOURNAL_SYNC_NEVER,
	};
	struct vigil_journal *t = journal_new(j->tmp_path, &never);
	uint8_t head[VIGIL_JOURNAL_HEADER];
	struct iovec iov = {.iov_base = head, .iov_len = sizeof(head)};
	int err;

	*out = NULL;
	t->fd = open(t->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY,
		     0600);
	if (t->fd < 0) {
		err = -errno;
		vigil_err("journal %s: cannot create %s: %s", j->path, t->path,
			  strerror(-err));
		journal_free(t);
		return err;
	}
	file_header(head);
	err = lock_fd(t->fd);
	if (!err)
		err = pwrite_all(t->fd, 0, &iov, 1);
	if (err < 0) {
		vigil_err("journal %s: cannot write %s: %s", j->path, t->path,
			  strerror(-err));
		journal_free(t);
		unlink(j->tmp_path);
		return err;
	}
	t->size = VIGIL_JOURNAL_HEADER;
	*out = t;
	return 0;
}

static void abandon_tmp(struct vigil_journal *t)
{
	unlink(t->path);
	journal_free(t);
}

/* Makes `t` (from begin_tmp) the journal: fsync, rename over PATH, fsync
 * of the directory; j then appends on t's descriptor, and *done is set.
 * On failure before the rename j is untouched and t is gone; an error
 * with *done set is the directory's fsync. */
static int commit_tmp(struct vigil_journal *j, struct vigil_journal *t,
		      int *done)
{
	int err = sync_fd(t->fd, 0);

	*done = 0;

	if (!err && rename(t->path, j->path) < 0)
		err = -errno;
	if (err < 0) {
		vigil_err("journal %s: cannot put %s in its place: %s", j->path,
			  t->path, strerror(-err));
		abandon_tmp(t);
		return err;
	}
	if (j->fd >= 0)
		close(j->fd);
	j->fd = t->fd;
	t->fd = -1;
	j->size = t->size;
	j->records = t->records;
	j->torn = 0;
	j->dirty = 0;
	j->last_sync = vigil_monotonic();
	journal_free(t);
	*done = 1;

	err = sync_dir_of(j->path);
	if (err < 0)
		vigil_err("journal %s: fsync of its directory failed: %s; a "
			  "power loss may bring the previous file back",
			  j->path, strerror(-err));
	return err;
}

static int create_fresh(struct vigil_journal *j, int *done)
{
	struct vigil_journal *t;
	int err = begin_tmp(j, &t);

	*done = 0;
	return err < 0 ? err : commit_tmp(j, t, done);
}

/* Moves a file that is not a journal out of the way, to
 * PATH.corrupt-<UTC time> (with -2, -3, ... if that is taken), so that
 * nothing is destroyed and a person can look at it. */
static int move_aside(struct vigil_journal *j, const char *why)
{
	time_t now = time(NULL);
	struct stat st;
	struct tm tm;
	char when[32];
	char *to = NULL;
	int err;

	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", &tm);
	for (int i = 1;; i++) {
		free(to);
		to = i == 1 ? vigil_xasprintf("%s.corrupt-%s", j->path, when) :
			      vigil_xasprintf("%s.corrupt-%s-%d", j->path,
					      when, i);
		if (lstat(to, &st) < 0 && errno == ENOENT)
			break;
	}
	if (rename(j->path, to) < 0) {
		err = -errno;
		vigil_err("journal %s: not a journal (%s), and it cannot be "
			  "moved to %s: %s; not touching it",
			  j->path, why, to, strerror(-err));
		free(to);
		return err;
	}
	vigil_err("journal %s: not a journal (%s): moved to %s; starting an "
		  "empty journal",
		  j->path, why, to);
	free(to);
	close(j->fd);
	j->fd = -1;
	return 0;
}

/* ------------------------------------------------------------- replay */

/* Reads a file forward, holding at most one record (and a chunk). */
struct reader {
	int fd;
	uint8_t *buf;
	size_t cap, pos, end; /* unread bytes are buf[pos..end) */
	uint64_t off;         /* file offset of buf[end] */
	int eof;
};

/* Makes `need` bytes available at buf + pos, or all there are before the
 * end of the file; returns how many (at most `need`), or -errno. */
static ssize_t reader_need(struct reader *r, size_t need)
{
	if (r->end - r->pos >= need)
		return (ssize_t)need;
	if (r->pos) {
		memmove(r->buf, r->buf + r->pos, r->end - r->pos);
		r->end -= r->pos;
		r->pos = 0;
	}
	if (need > r->cap) {
		r->cap = need > READ_CHUNK ? need : READ_CHUNK;
		r->buf = vigil_xrealloc(r->buf, r->cap);
	}
	while (!r->eof && r->end < need) {
		ssize_t k = pread(r->fd, r->buf + r->end, r->cap - r->end,
				  (off_t)r->off);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			r->eof = 1;
		r->end += (size_t)k;
		r->off += (uint64_t)k;
	}
	return (ssize_t)(r->end < need ? r->end : need);
}

static int all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return 0;
	return 1;
}

/*
 * Checks the record at the reader's position. Returns its payload length
 * when it is whole and good, -1 with `why` filled in (and *torn set when
 * it merely stops early, as a crash mid-write leaves it) when it is not,
 * -2 at a clean end of file, or -errno - 2 on a read error.
 */
static long long next_record(struct reader *r, char *why, size_t whylen,
			     int *torn)
{
	const size_t rh = VIGIL_JOURNAL_RECORD_HEADER;
	const uint8_t *h;
	uint32_t len, stored, crc;
	ssize_t got;

	*torn = 0;
	got = reader_need(r, rh);
	if (got < 0)
		return got - 2;
	if (got == 0)
		return -2;
	if ((size_t)got < rh) {
		snprintf(why, whylen,
			 "the file ends inside a record header (%zd of %zu "
			 "bytes)",
			 got, rh);
		*torn = 1;
		return -1;
	}
	h = r->buf + r->pos;
	len = get_le32(h);
	if (len > VIGIL_JOURNAL_RECORD_MAX) {
		snprintf(why, whylen,
			 "record length %u, more than the %u allowed", len,
			 VIGIL_JOURNAL_RECORD_MAX);
		return -1;
	}
	got = reader_need(r, rh + len);
	if (got < 0)
		return got - 2;
	h = r->buf + r->pos;
	if ((size_t)got < rh + len) {
		snprintf(why, whylen,
			 "the file ends inside a record of %zu bytes (%zd of "
			 "them there)",
			 rh + len, got);
		*torn = 1;
		return -1;
	}
	stored = get_le32(h + 8);
	crc = record_crc(h, h + rh, len);
	if (crc != stored) {
		snprintf(why, whylen,
			 "stored checksum 0x%08x, computed 0x%08x over its "
			 "%zu bytes%s",
			 stored, crc, rh + len,
			 all_zero(h, rh + len) ? " (all zeroes: blocks never "
						 "written?)" :
						 "");
		return -1;
	}
	if (h[4] == 0 || h[5] || h[6] || h[7]) {
		snprintf(why, whylen,
			 "type %u, reserved bytes %02x %02x %02x; expected a "
			 "type of 1-255 and zeroes",
			 h[4], h[5], h[6], h[7]);
		return -1;
	}
	return len;
}

/* Replays every good record after the file header to `fn`, then cuts
 * whatever follows the last one. */
static int replay(struct vigil_journal *j, uint64_t file_size,
		  vigil_journal_replay_fn fn, void *arg)
{
	struct reader r = {.fd = j->fd, .off = VIGIL_JOURNAL_HEADER};
	uint64_t off = VIGIL_JOURNAL_HEADER, n = 0;
	char why[192];
	long long len;
	int torn, err = 0;

	for (;;) {
		const uint8_t *h;

		len = next_record(&r, why, sizeof(why), &torn);
		if (len < 0)
			break;
		h = r.buf + r.pos;
		if (fn) {
			err = fn(arg, h[4], h + VIGIL_JOURNAL_RECORD_HEADER,
				 (size_t)len);
			if (err < 0) {
				vigil_err("journal %s: replay stopped at record "
					  "%llu (offset %llu, type %u): %s",
					  j->path, (unsigned long long)n + 1,
					  (unsigned long long)off, h[4],
					  strerror(-err));
				free(r.buf);
				return err;
			}
		}
		r.pos += VIGIL_JOURNAL_RECORD_HEADER + (size_t)len;
		off += vigil_journal_record_bytes((size_t)len);
		n++;
	}
	free(r.buf);
	if (len < -2) {
		err = (int)(len + 2);
		vigil_err("journal %s: cannot read at offset %llu: %s", j->path,
			  (unsigned long long)off, strerror(-err));
		return err;
	}

	j->size = off;
	j->records = j->replayed = n;
	if (len == -2)
		return 0;

	/* Something is wrong at `off`: keep what came before, cut the rest.
	 * The file is fstat'ed size, plus what a reader past it found. */
	if (r.off > file_size)
		file_size = r.off;
	j->cut = file_size - off;
	vigil_log(torn ? VIGIL_LOG_WARNING : VIGIL_LOG_ERR, NULL,
		  "journal %s: record %llu at offset %llu: %s; cut %llu "
		  "bytes, kept the %llu records before it",
		  j->path, (unsigned long long)n + 1, (unsigned long long)off,
		  why, (unsigned long long)j->cut, (unsigned long long)n);
	err = truncate_to(j->fd, off);
	if (!err)
		err = sync_fd(j->fd, 1);
	if (err < 0) {
		/* Appends overwrite the tail anyway; cut_back retries. */
		vigil_err("journal %s: cannot cut it to offset %llu: %s",
			  j->path, (unsigned long long)off, strerror(-err));
		j->torn = 1;
	}
	return 0;
}

/* ---------------------------------------------------------------- open */

/* Removes a PATH.tmp a crash left in the middle of a compaction (or of
 * creating the journal): PATH itself is whole, the old or the new. */
static void remove_stale_tmp(struct vigil_journal *j)
{
	if (unlink(j->tmp_path) == 0)
		vigil_notice("journal %s: removed %s, left by a compaction "
			     "that did not finish",
			     j->path, j->tmp_path);
}

/* Takes PATH.lock (created if need be) for as long as the journal is
 * open: -EBUSY while another process has it. */
static int take_lock(struct vigil_journal *j)
{
	char *lock_path = vigil_xasprintf("%s.lock", j->path);
	int err;

	j->lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (j->lock < 0) {
		err = -errno;
		vigil_err("journal %s: cannot open its lock file %s: %s",
			  j->path, lock_path, strerror(-err));
		free(lock_path);
		return err;
	}
	free(lock_path);
	err = lock_fd(j->lock);
	if (err < 0)
		vigil_err("journal %s: %s", j->path,
			  err == -EBUSY ? "in use by another process (is "
					  "another vigild running on this "
					  "state_dir?)" :
					  strerror(-err));
	return err;
}

/* Opens PATH when it exists and replays it. Returns 1 when it is the
 * journal, 0 when a new one must be created (absent, empty, only part of
 * a header, moved aside), or a negative errno. */
static int open_existing(struct vigil_journal *j, vigil_journal_replay_fn fn,
			 void *arg)
{
	uint8_t want[VIGIL_JOURNAL_HEADER], head[VIGIL_JOURNAL_HEADER];
	struct reader r;
	struct stat st;
	char why[128];
	ssize_t got;
	int err;

	j->fd = open(j->path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (j->fd < 0) {
		if (errno == ENOENT)
			return 0;
		err = -errno;
		if (err == -EISDIR)
			vigil_err("journal %s: a directory, not a regular "
				  "file; expected the journal or nothing there",
				  j->path);
		else
			vigil_err("journal %s: cannot open: %s", j->path,
				  strerror(-err));
		return err;
	}
	if (fstat(j->fd, &st) < 0) {
		err = -errno;
		vigil_err("journal %s: cannot stat: %s", j->path,
			  strerror(-err));
		return err;
	}
	if (!S_ISREG(st.st_mode)) {
		vigil_err("journal %s: not a regular file; expected the "
			  "journal or nothing there",
			  j->path);
		return -EINVAL;
	}
	err = lock_fd(j->fd);
	if (err < 0) {
		vigil_err("journal %s: %s", j->path,
			  err == -EBUSY ? "in use by another process (is "
					  "another vigild running on this "
					  "state_dir?)" :
					  strerror(-err));
		return err;
	}
	remove_stale_tmp(j);

	memset(&r, 0, sizeof(r));
	r.fd = j->fd;
	got = reader_need(&r, sizeof(head));
	if (got > 0)
		memcpy(head, r.buf, (size_t)got);
	free(r.buf);
	if (got < 0) {
		vigil_err("journal %s: cannot read its header: %s", j->path,
			  strerror((int)-got));
		return (int)got;
	}

	file_header(want);
	if (got == 0) {
		vigil_notice("journal %s: empty file; starting an empty "
			     "journal",
			     j->path);
		return 0;
	}
	if ((size_t)got < sizeof(head) && !memcmp(head, want, (size_t)got)) {
		/* Only a crash between creating the file and writing its
		 * 8 bytes could leave this, and then no record was lost. */
		vigil_warn("journal %s: the file ends inside its header (%zd "
			   "of %zu bytes); starting an empty journal",
			   j->path, got, sizeof(head));
		return 0;
	}
	if ((size_t)got < sizeof(head) || memcmp(head, want, 4)) {
		snprintf(why, sizeof(why),
			 "a file of %lld bytes starting %02x %02x %02x %02x; "
			 "expected the magic \"%s\"",
			 (long long)st.st_size, head[0], got > 1 ? head[1] : 0,
			 got > 2 ? head[2] : 0, got > 3 ? head[3] : 0,
			 VIGIL_JOURNAL_MAGIC);
		return move_aside(j, why);
	}
	if (memcmp(head + 4, want + 4, 4)) {
		snprintf(why, sizeof(why),
			 "format version %u; this vigild reads version %u",
			 get_le32(head + 4), VIGIL_JOURNAL_VERSION);
		return move_aside(j, why);
	}
	err = replay(j, (uint64_t)st.st_size, fn, arg);
	return err < 0 ? err : 1;
}

int vigil_journal_open(struct vigil_journal **out, const char *path,
		       const struct vigil_journal_opts *opts,
		       vigil_journal_replay_fn fn, void *arg)
{
	struct vigil_journal *j = journal_new(path, opts);
	int err, done;

	*out = NULL;
	err = take_lock(j);
	if (err == 0)
		err = open_existing(j, fn, arg);
	if (err == 0) {
		remove_stale_tmp(j);
		err = create_fresh(j, &done);
		/* Only the directory's fsync failed: the journal is there,
		 * and the log said what may not survive a power loss. */
		if (done)
			err = 0;
	}
	if (err < 0) {
		journal_free(j);
		return err;
	}
	*out = j;
	return 0;
}

int vigil_journal_close(struct vigil_journal *j)
{
	int err = 0;

	if (!j)
		return 0;
	if (j->opts.sync != VIGIL_JOURNAL_SYNC_NEVER)
		err = vigil_journal_sync(j);
	journal_free(j);
	return err;
}

/* ---------------------------------------------------------- compaction */

int vigil_journal_compact(struct vigil_journal *j, vigil_journal_dump_fn fn,
			  void *arg)
{
	uint64_t was_size = j->size, was_records = j->records;
	struct vigil_journal *t;
	int err = begin_tmp(j, &t), done;

	if (err < 0)
		return err;
	err = fn(arg, t);
	/* An append that failed makes the new file short of a record, even
	 * if `fn` went on regardless. */
	if (!err && t->append_error)
		err = t->append_error;
	if (err < 0) {
		vigil_err("journal %s: compaction abandoned: %s; the journal "
			  "is unchanged",
			  j->path, strerror(-err));
		abandon_tmp(t);
		return err;
	}
	err = commit_tmp(j, t, &done);
	if (done) {
		j->compactions++;
		vigil_info("journal %s: compacted from %llu records (%llu "
			   "bytes) to %llu (%llu bytes)",
			   j->path, (unsigned long long)was_records,
			   (unsigned long long)was_size,
			   (unsigned long long)j->records,
			   (unsigned long long)j->size);
	}
	return err;
}
