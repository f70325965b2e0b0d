/*
 * proto.h - the frame protocol between the core and a plugin worker.
 *
 * A frame is an 8-byte header, then `length` payload bytes:
 *
 *     u32 length   payload bytes, at most VIGIL_FRAME_MAX
 *     u8  version  VIGIL_PROTO_VERSION
 *     u8  type     enum vigil_msg
 *     u16 seq      call sequence number, echoed by the reply
 *
 * Integers are in host byte order: both ends are the same machine, the
 * same binary even. The payload is a sequence of fields written with the
 * vigil_wire_put_* functions and read back, in the same order, with the
 * vigil_wire_get_* ones, which never read past the payload: a short or
 * garbage payload sets the reader's error flag, and the frame is refused.
 */
#ifndef VIGIL_PROTO_H
#define VIGIL_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <vigil/plugin.h>

#include "util.h"

#define VIGIL_PROTO_VERSION 2
#define VIGIL_FRAME_HEADER 8
#define VIGIL_FRAME_MAX (4u << 20) /* 4 MiB: a big batch, not a bug */

enum vigil_msg {
	/* core -> worker: calls */
	VIGIL_MSG_INIT = 1,
	VIGIL_MSG_READ = 2,
	VIGIL_MSG_EVAL = 3,
	VIGIL_MSG_RUN = 4,
	VIGIL_MSG_DELIVER = 5,
	VIGIL_MSG_WRITE = 6,
	VIGIL_MSG_FLUSH = 7,
	VIGIL_MSG_FINI = 8,
	/* worker -> core */
	VIGIL_MSG_REPLY = 16,     /* end of a call: rc, and a result */
	VIGIL_MSG_READINGS = 17,  /* a batch of emitted readings */
	VIGIL_MSG_CONDITION = 18, /* an emitted condition */
	VIGIL_MSG_LOG = 19,       /* a log line */
};

struct vigil_frame {
	uint32_t length;
	uint8_t version;
	uint8_t type;
	uint16_t seq;
	const uint8_t *payload; /* borrowed from the buffer parsed */
};

/*
 * Looks for one whole frame at the start of buf[0..len). Returns 1 and
 * fills `f` and *used when there is one, 0 when more bytes are needed, or
 * -EPROTO (bad version or type) / -EMSGSIZE (longer than VIGIL_FRAME_MAX),
 * with a reason in `why`.
 */
int vigil_frame_parse(const uint8_t *buf, size_t len, struct vigil_frame *f,
		      size_t *used, char *why, size_t whylen);

int vigil_msg_known(unsigned type);
const char *vigil_msg_name(unsigned type);

/* ------------------------------------------------------------ writing */

/* A frame being built: header placeholder first, fields appended. */
struct vigil_wire {
	struct vigil_buf b;
};

void vigil_wire_begin(struct vigil_wire *w, enum vigil_msg type, uint16_t seq);
/* Fills in the length; returns the frame's bytes (in w->b). */
void vigil_wire_end(struct vigil_wire *w);
void vigil_wire_free(struct vigil_wire *w);

void vigil_wire_put_u32(struct vigil_wire *w, uint32_t v);
void vigil_wire_put_u64(struct vigil_wire *w, uint64_t v);
void vigil_wire_put_i64(struct vigil_wire *w, int64_t v);
void vigil_wire_put_f64(struct vigil_wire *w, double v);
/* NULL is written as absent and read back as NULL. */
void vigil_wire_put_str(struct vigil_wire *w, const char *s);
void vigil_wire_put_labels(struct vigil_wire *w, const struct vigil_label *l,
			   size_t n);
void vigil_wire_put_event(struct vigil_wire *w, const struct vigil_event *e);
/* Without the reading: its labels travel when the condition has none. */
void vigil_wire_put_condition(struct vigil_wire *w,
			      const struct vigil_condition *c);

/*
 * A batch of readings (the payload of readings, eval and write frames)
 * names each reading's series by an id, and carries a series' metric,
 * unit and labels only the first time the sender uses that id on this
 * connection:
 *
 *     u32 n_series, n_series x (u64 id, str metric, str unit, labels)
 *     u32 n,        n x (u64 id, f64 value, i64 time, u32 quality, u32 0)
 *
 * The receiver keeps the definitions for as long as the connection (the
 * worker process) lives. A reading is 32 bytes, whatever its strings; at
 * 100,000 readings a read, strings encoded and parsed at every reading
 * were most of the core's time.
 *
 * Definitions and readings are gathered apart (a series is defined while
 * readings are being added) and joined, definitions first, at the end.
 */
struct vigil_batch {
	struct vigil_wire frame; /* header, u32 0, u32 count, readings */
	struct vigil_wire defs;  /* the definitions, no header */
	uint32_t n_defs, count;
};

void vigil_batch_begin(struct vigil_batch *b, enum vigil_msg type);
void vigil_batch_define(struct vigil_batch *b, uint64_t id, const char *metric,
			const char *unit, const struct vigil_label *l,
			size_t n);
void vigil_batch_add(struct vigil_batch *b, uint64_t id,
		     const struct vigil_reading *r);
/* Bytes the frame will have. */
size_t vigil_batch_bytes(const struct vigil_batch *b);
/* Forgets the readings and keeps the definitions, which readings of
 * later batches may use: what a dropped batch leaves behind. */
void vigil_batch_strip(struct vigil_batch *b);
/* Makes the frame, in b->frame, with sequence number `seq`. */
void vigil_batch_end(struct vigil_batch *b, uint16_t seq);
void vigil_batch_free(struct vigil_batch *b);

/* ------------------------------------------------------------ reading */

/* Strings read from a payload point into the frame itself; label and
 * action arrays into the reader's arena. Both stay valid until the frame's
 * buffer changes and vigil_wire_reader_free, respectively. */
struct vigil_wire_reader {
	const uint8_t *p;
	size_t left;
	int err; /* set on the first short or malformed field */
	void **arena;
	size_t n_arena, cap_arena;
	char *bump;
	size_t bump_left;
};

void vigil_wire_reader_init(struct vigil_wire_reader *r,
			    const struct vigil_frame *f);
void vigil_wire_reader_free(struct vigil_wire_reader *r);

uint32_t vigil_wire_get_u32(struct vigil_wire_reader *r);
uint64_t vigil_wire_get_u64(struct vigil_wire_reader *r);
int64_t vigil_wire_get_i64(struct vigil_wire_reader *r);
double vigil_wire_get_f64(struct vigil_wire_reader *r);
const char *vigil_wire_get_str(struct vigil_wire_reader *r);
int vigil_wire_get_labels(struct vigil_wire_reader *r,
			  const struct vigil_label **l, size_t *n);
int vigil_wire_get_event(struct vigil_wire_reader *r, struct vigil_event *out);
int vigil_wire_get_condition(struct vigil_wire_reader *r,
			     struct vigil_condition *out);
/* One definition of a batch: its id (never 0), and the metric, unit and
 * labels in `out`. */
int vigil_wire_get_series(struct vigil_wire_reader *r, uint64_t *id,
			  struct vigil_reading *out);
/* One reading of a batch: its series id, and value, time and quality in
 * `out` (the rest of `out` untouched). */
int vigil_wire_get_sample(struct vigil_wire_reader *r, uint64_t *id,
			  struct vigil_reading *out);

#endif
