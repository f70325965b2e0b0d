/*
 * journal.h - a crash-safe, append-only journal of typed records.
 *
 * What must survive kill -9 and power loss (incidents, acks, silences,
 * undelivered events) is appended as records to one file in state_dir; on
 * start the file is replayed, record by record and in order, to rebuild
 * the state. The journal knows nothing of what the records mean: a record
 * is a type (1-255, the caller's) and up to VIGIL_JOURNAL_RECORD_MAX bytes
 * of payload, typically fields written with the vigil_wire_put_* helpers
 * of proto.h (vigil_journal_append_wire, vigil_journal_wire_reader).
 *
 * The file, little-endian whatever the machine:
 *
 *     header, 8 bytes:
 *       u8[4] magic     "VGLJ"
 *       u32   version   VIGIL_JOURNAL_VERSION
 *     then records, each 12 bytes + payload:
 *       u32   length    payload bytes, at most VIGIL_JOURNAL_RECORD_MAX
 *       u8    type      1-255 (0 is never written: zeroes are not a record)
 *       u8[3] reserved  0
 *       u32   crc       CRC-32C of the 8 bytes above, then of the payload
 *       u8[length] payload
 *
 * The checksum covers the length too, so a bit flipped anywhere in a
 * record is caught, and the length bound stops a garbage length before
 * anything is read. Replay stops at the first record that is incomplete
 * (a write cut short by a crash) or fails its checks: the file is cut
 * there (ftruncate to the end of the last good record), one line says
 * where, what was wrong and how many bytes went, and the journal opens.
 * A file that is not a journal at all (wrong magic or version) is renamed
 * to PATH.corrupt-<UTC time> and a new one started, with an error line.
 *
 * Appends write the whole record at the end of the file (short writes and
 * EINTR retried). A failed write (ENOSPC, EFBIG, EIO) is cut back off, so
 * the file always ends with a whole record and later appends work once
 * there is room. Durability is the fsync policy's: `always` fdatasyncs
 * after every append, `interval` when the event loop's vigil_journal_tick
 * finds data older than the interval unsynced, `never` leaves it to the
 * kernel. A new file is created, and a compacted one written, as PATH.tmp
 * then fsynced, renamed over PATH, and the directory fsynced: PATH is
 * always a whole journal, the old or the new.
 *
 * PATH.lock (created next to it, never removed) is locked (flock) while
 * the journal is open, and taken before PATH is looked at: a second
 * vigild on the same state_dir is refused instead of interleaving
 * records, even when both start at once. Failures are
 * logged here, once each (a full disk when it fills and when it
 * recovers); functions return 0 or a negative errno. Single-threaded.
 */
#ifndef VIGIL_JOURNAL_H
#define VIGIL_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include <vigil/plugin.h>

#define VIGIL_JOURNAL_MAGIC "VGLJ"
#define VIGIL_JOURNAL_VERSION 1
#define VIGIL_JOURNAL_HEADER 8         /* file header */
#define VIGIL_JOURNAL_RECORD_HEADER 12 /* before each payload */
#define VIGIL_JOURNAL_RECORD_MAX (1u << 20) /* payload: 1 MiB */

struct vigil_journal;
struct vigil_wire;
struct vigil_wire_reader;

enum vigil_journal_sync {
	VIGIL_JOURNAL_SYNC_ALWAYS = 0,   /* fdatasync after each append */
	VIGIL_JOURNAL_SYNC_INTERVAL = 1, /* from vigil_journal_tick */
	VIGIL_JOURNAL_SYNC_NEVER = 2,    /* the kernel's writeback only */
};

struct vigil_journal_opts {
	enum vigil_journal_sync sync;
	vigil_time_ns sync_interval; /* INTERVAL; 0 means 1 s */
};

/* One record, during replay: `data` is valid only until the callback
 * returns. A negative return stops the replay, and vigil_journal_open
 * returns it. */
typedef int (*vigil_journal_replay_fn)(void *arg, uint8_t type,
				       const void *data, size_t len);

/* Writes the live state into `into` with vigil_journal_append*; returns 0
 * or a negative errno (which abandons the compaction). */
typedef int (*vigil_journal_dump_fn)(void *arg, struct vigil_journal *into);

struct vigil_journal_stats {
	uint64_t size;        /* bytes in the file, header included */
	uint64_t records;     /* records in the file */
	uint64_t replayed;    /* records replayed by open */
	uint64_t cut;         /* bytes cut off the tail by open */
	uint64_t appended;    /* records appended since open */
	uint64_t syncs;       /* fdatasyncs that succeeded */
	uint64_t compactions; /* compactions that succeeded */
	int dirty;            /* appended since the last sync */
};

/*
 * Opens (creating if need be) the journal at `path`, replaying every good
 * record to `fn` (may be NULL) in order, and readies it for appends. A
 * torn or corrupt tail is cut, a file that is not a journal moved aside:
 * both are logged and the open succeeds. `opts` may be NULL (always).
 * Fails, with a log line, when the file cannot be opened, read or
 * created, is not a regular file, is locked by another process, or `fn`
 * failed; *out is then NULL.
 */
int vigil_journal_open(struct vigil_journal **out, const char *path,
		       const struct vigil_journal_opts *opts,
		       vigil_journal_replay_fn fn, void *arg);

/* Syncs what is dirty unless the policy is never, and frees. NULL is
 * fine. Returns the sync's error, if any. */
int vigil_journal_close(struct vigil_journal *j);

/*
 * Appends one record. -EINVAL for type 0, -EMSGSIZE beyond
 * VIGIL_JOURNAL_RECORD_MAX; a write error is returned with the file cut
 * back to where it was (the record is not in the journal). Under `always`
 * a failed fdatasync is returned too, but the record stays written: it is
 * in the journal, only maybe not on disk yet.
 */
int vigil_journal_append(struct vigil_journal *j, uint8_t type,
			 const void *data, size_t len);

/* Appends the fields of `w` as the payload: w was begun with
 * vigil_wire_begin (any message type and seq: the frame header is not
 * stored) and filled with vigil_wire_put_*; vigil_wire_end is optional. */
int vigil_journal_append_wire(struct vigil_journal *j, uint8_t type,
			      const struct vigil_wire *w);

/* A reader over a replayed payload, for vigil_wire_get_*; strings point
 * into `data`, so they too are valid only during the callback. Free it
 * with vigil_wire_reader_free. */
void vigil_journal_wire_reader(struct vigil_wire_reader *r, const void *data,
			       size_t len);

/* fdatasync now if anything is unsynced, whatever the policy. */
int vigil_journal_sync(struct vigil_journal *j);

/* From the event loop, with `now` = vigil_monotonic(): under `interval`,
 * syncs if dirty and the last sync is an interval old. Returns the sync's
 * error, else 0. */
int vigil_journal_tick(struct vigil_journal *j, vigil_time_ns now);

/* When tick has work (a monotonic time, for the loop's timer), or 0 when
 * it has none: nothing dirty, or a policy other than interval. */
vigil_time_ns vigil_journal_next_tick(const struct vigil_journal *j);

/*
 * Rewrites the journal as what `fn` writes into a new one at PATH.tmp
 * (with the same record writer), then fsync, rename over PATH, fsync of
 * the directory; appends then go to the new file. If `fn` or any write
 * fails the temporary file is removed and the journal is as it was. If
 * only the directory's fsync fails the journal is compacted and usable,
 * but the rename may not survive a power loss: that error is returned.
 */
int vigil_journal_compact(struct vigil_journal *j, vigil_journal_dump_fn fn,
			  void *arg);

void vigil_journal_stats(const struct vigil_journal *j,
			 struct vigil_journal_stats *st);
const char *vigil_journal_path(const struct vigil_journal *j);
/* The file's descriptor, e.g. for an fdatasync off the event loop; it
 * changes with each compaction. */
int vigil_journal_fd(const struct vigil_journal *j);

/* Bytes a record of `len` payload bytes takes in the file. */
static inline uint64_t vigil_journal_record_bytes(size_t len)
{
	return VIGIL_JOURNAL_RECORD_HEADER + (uint64_t)len;
}

/* Whether a journal of `size` bytes holding `live` bytes of live records
 * (the sum of vigil_journal_record_bytes) is worth compacting: at least
 * `min_size`, and at least 4 times what compaction would leave. */
int vigil_journal_compact_due(uint64_t size, uint64_t live, uint64_t min_size);

/* CRC-32C (Castagnoli), chainable: start with 0, pass the previous result
 * to continue. vigil_crc32c(0, "123456789", 9) == 0xe3069283. */
uint32_t vigil_crc32c(uint32_t crc, const void *data, size_t n);

#endif
