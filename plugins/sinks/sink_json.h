/*
 * sink_json.h - the JSON encoding of incident events and readings that
 * the file, webhook and mqtt sinks share, so that every sink writes one
 * schema byte for byte (see file.c for the objects).
 *
 * sink_json.c is compiled into each of those plugins, not into the daemon:
 * plugins are built with -fvisibility=hidden, so these functions stay
 * inside each .so.
 */
#ifndef VIGIL_SINK_JSON_H
#define VIGIL_SINK_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_gen.h>

#include <vigil/plugin.h>

#include "json_number.h"
#include "utf8.h"

/* Bytes being built. On allocation failure `failed` sticks until the
 * owner resets it, so an object is checked once when it is complete. */
struct sink_json_buf {
	char *data;
	size_t len;
	size_t cap;
	int failed;
};

struct sink_json {
	yajl_gen gen;              /* prints into `out` */
	struct sink_json_buf out;  /* what has been encoded */
	struct sink_json_buf clean; /* a string with bad bytes replaced */
	yajl_gen_status status;    /* first generator error of the object */
	size_t keep;  /* `out` above this is given back by sink_json_clear */
	int lines;    /* objects are appended to `out`, each with a '\n' */

	/* gmtime_r once per second, not once per timestamp. */
	int64_t stamp_sec;
	char stamp[32]; /* "2026-11-24T10:01:02" */
};

/*
 * With `lines`, each object encoded is appended to js->out followed by a
 * newline (JSON Lines, for a batch written at once); without, js->out
 * holds just the last object. `keep`: see sink_json_clear. -ENOMEM if the
 * generator cannot be had; sink_json_fini either way.
 */
int sink_json_init(struct sink_json *js, size_t keep, int lines);
void sink_json_fini(struct sink_json *js);

/* Empties js->out, giving back memory above js->keep that a rare huge
 * object or batch took. */
void sink_json_clear(struct sink_json *js);

/* Encodes an incident event or a reading into js->out; `now` stands in
 * for a missing time. 0, or -ENOMEM / -EINVAL with js->out as it was
 * before (whole objects only). */
int sink_json_event(struct sink_json *js, const struct vigil_event *ev,
		    vigil_time_ns now);
int sink_json_reading(struct sink_json *js, const struct vigil_reading *r,
		      vigil_time_ns now);

/* Byte buffers, for a sink's other strings (an MQTT topic). */
void sink_json_buf_put(struct sink_json_buf *b, const void *p, size_t n);
void sink_json_buf_clear(struct sink_json_buf *b, size_t keep);

#endif
