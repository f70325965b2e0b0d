/*
 * sink_json.c - the JSON encoding shared by the file, webhook and mqtt
 * sinks: an incident event or a reading as one compact JSON object, in
 * the schema file.c describes.
 *
 * Compiled into each of those plugins (never into vigild): with
 * -fvisibility=hidden its functions stay internal to each .so.
 *
 * Every string is written as valid UTF-8: JSON requires it and a consumer
 * may drop the whole object otherwise, so invalid bytes become '?'.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sink_json.h"

/* ------------------------------------------------------------- buffers */

static int buf_reserve(struct sink_json_buf *b, size_t more)
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

void sink_json_buf_put(struct sink_json_buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

/* Empties the buffer, giving back memory above `keep` that a rare huge
 * object or batch took. */
void sink_json_buf_clear(struct sink_json_buf *b, size_t keep)
{
	b->len = 0;
	b->failed = 0;
	if (b->cap > keep) {
		free(b->data);
		b->data = NULL;
		b->cap = 0;
	}
}

/* yajl's output callback: everything the generator prints lands in `out`,
 * so there is one buffer to hand on and no copy out of yajl's own. */
static void gen_print(void *ctx, const char *str, size_t len)
{
	struct sink_json *js = ctx;

	sink_json_buf_put(&js->out, str, len);
}

/* ------------------------------------------------------------ UTF-8 */


/* Copies s into b with every byte that does not start a valid
 * sequence replaced by '?'; with `ascii`, every non-ASCII byte. */
static void utf8_clean(struct sink_json_buf *b, const unsigned char *s,
		       size_t n, int ascii)
{
	size_t i = 0;

	b->len = 0;
	while (i < n) {
		size_t k = ascii ? (s[i] < 0x80)
				 : vigil_utf8_seq(s + i, n - i);

		if (k == 0) {
			sink_json_buf_put(b, "?", 1);
			i++;
		} else {
			sink_json_buf_put(b, s + i, k);
			i += k;
		}
	}
}

/* --------------------------------------------------------- JSON values */

static void j_status(struct sink_json *js, yajl_gen_status st)
{
	if (js->status == yajl_gen_status_ok)
		js->status = st;
}

/* Keys are literals from this file: known to be ASCII. */
static void j_key(struct sink_json *js, const char *k)
{
	j_status(js, yajl_gen_string(js->gen, (const unsigned char *)k,
				     strlen(k)));
}

static void j_str(struct sink_json *js, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;
	yajl_gen_status st;

	if (s == NULL) {
		j_status(js, yajl_gen_null(js->gen));
		return;
	}
	n = strlen(s);
	if (vigil_utf8_valid(p, n)) {
		st = yajl_gen_string(js->gen, p, n);
		if (st != yajl_gen_invalid_string) {
			j_status(js, st);
			return;
		}
	}
	utf8_clean(&js->clean, p, n, 0);
	if (js->clean.failed) {
		js->clean.failed = 0;
		j_status(js, yajl_gen_in_error_state);
		return;
	}
	st = yajl_gen_string(js->gen, (const unsigned char *)js->clean.data,
			     js->clean.len);
	if (st == yajl_gen_invalid_string) {
		/* yajl disagrees with vigil_utf8_seq: fall back to
		 * plain ASCII rather than lose the object. */
		utf8_clean(&js->clean, p, n, 1);
		st = yajl_gen_string(js->gen,
				     (const unsigned char *)js->clean.data,
				     js->clean.len);
	}
	j_status(js, st);
}

static void j_kstr(struct sink_json *js, const char *k, const char *v)
{
	j_key(js, k);
	j_str(js, v);
}

/* A double as JSON number text (json_number.h): exact and short, where
 * yajl_gen_double would print %.20g; not finite is null. */
static void j_double(struct sink_json *js, double v)
{
	char num[VIGIL_JSON_NUMBER_MAX];
	int n = vigil_json_number(num, v);

	if (n < 0)
		j_status(js, yajl_gen_null(js->gen));
	else
		j_status(js, yajl_gen_number(js->gen, num, (size_t)n));
}

static void j_uint(struct sink_json *js, uint64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRIu64, v);

	j_status(js, yajl_gen_number(js->gen, num, (size_t)n));
}

static void j_int(struct sink_json *js, int64_t v)
{
	j_status(js, yajl_gen_integer(js->gen, (long long)v));
}

/* RFC 3339 UTC with milliseconds: "2026-11-24T10:01:02.123Z". */
static void j_time(struct sink_json *js, vigil_time_ns t)
{
	int64_t sec = t / VIGIL_SEC;
	int64_t rem = t % VIGIL_SEC;
	char str[48];
	int n;

	if (rem < 0) { /* before 1970: floor, not truncate */
		sec -= 1;
		rem += VIGIL_SEC;
	}
	if (js->stamp[0] == '\0' || sec != js->stamp_sec) {
		time_t tt = (time_t)sec;
		struct tm tm;

		if (gmtime_r(&tt, &tm) == NULL || tm.tm_year + 1900 < 0 ||
		    tm.tm_year + 1900 > 9999) {
			j_status(js, yajl_gen_null(js->gen));
			return;
		}
		if (strftime(js->stamp, sizeof(js->stamp), "%Y-%m-%dT%H:%M:%S",
			     &tm) == 0) {
			js->stamp[0] = '\0';
			j_status(js, yajl_gen_null(js->gen));
			return;
		}
		js->stamp_sec = sec;
	}
	n = snprintf(str, sizeof(str), "%s.%03dZ", js->stamp,
		     (int)(rem / VIGIL_MSEC));
	j_status(js, yajl_gen_string(js->gen, (const unsigned char *)str,
				     (size_t)n));
}

static void j_labels(struct sink_json *js, const struct vigil_label *lb,
		     size_t n)
{
	j_key(js, "labels");
	j_status(js, yajl_gen_map_open(js->gen));
	for (size_t i = 0; lb != NULL && i < n; i++) {
		j_str(js, lb[i].key != NULL ? lb[i].key : "");
		j_str(js, lb[i].value != NULL ? lb[i].value : "");
	}
	j_status(js, yajl_gen_map_close(js->gen));
}

/* --------------------------------------------------------------- objects */

/* Begins an object; returns where it starts in `out`. */
static size_t json_begin(struct sink_json *js)
{
	if (!js->lines) {
		js->out.len = 0;
		js->out.failed = 0;
	}
	js->status = yajl_gen_status_ok;
	j_status(js, yajl_gen_map_open(js->gen));
	return js->out.len;
}

/*
 * Closes the object begun at `start`, adding its newline with js->lines.
 * On any failure the partial object is cut from the buffer, so what is in
 * `out` is always whole objects. Either way the generator is reset: after
 * a complete top-level value yajl refuses more until yajl_gen_reset
 * (yajl_gen_clear only empties yajl's own buffer, which we do not use).
 */
static int json_end(struct sink_json *js, size_t start)
{
	j_status(js, yajl_gen_map_close(js->gen));
	yajl_gen_reset(js->gen, NULL);
	if (js->status == yajl_gen_status_ok && !js->out.failed) {
		if (js->lines)
			sink_json_buf_put(&js->out, "\n", 1);
		if (!js->out.failed)
			return 0;
	}
	js->out.failed = 0;
	js->out.len = start;
	return js->status == yajl_gen_status_ok ? -ENOMEM : -EINVAL;
}

static void build_action(struct sink_json *js,
			 const struct vigil_action_record *a)
{
	j_status(js, yajl_gen_map_open(js->gen));
	j_kstr(js, "action", a->action);
	j_key(js, "start");
	j_time(js, a->start);
	j_key(js, "duration_ms");
	j_int(js, a->duration / VIGIL_MSEC);
	j_key(js, "exit_status");
	j_int(js, a->exit_status);
	j_kstr(js, "outcome", vigil_outcome_name(a->outcome));
	j_kstr(js, "output", a->output != NULL ? a->output : "");
	j_status(js, yajl_gen_map_close(js->gen));
}

int sink_json_event(struct sink_json *js, const struct vigil_event *ev,
		    vigil_time_ns now)
{
	size_t start = json_begin(js);

	j_key(js, "time");
	j_time(js, ev->time != 0 ? ev->time : now);
	j_kstr(js, "event", vigil_event_type_name(ev->type));
	j_key(js, "id");
	j_uint(js, ev->incident_id);
	j_kstr(js, "key", ev->key);
	j_kstr(js, "type", ev->incident_type);
	j_kstr(js, "severity", vigil_severity_name(ev->severity));
	if (ev->type == VIGIL_EVENT_ESCALATED ||
	    ev->type == VIGIL_EVENT_DEESCALATED)
		j_kstr(js, "previous_severity",
		       vigil_severity_name(ev->previous_severity));
	j_kstr(js, "status", vigil_status_name(ev->status));
	j_kstr(js, "message", ev->message != NULL ? ev->message : "");
	j_key(js, "value");
	j_double(js, ev->value);
	j_labels(js, ev->labels, ev->n_labels);
	j_key(js, "created");
	j_time(js, ev->created);
	if (ev->resolved != 0) {
		j_key(js, "resolved");
		j_time(js, ev->resolved);
	}
	j_key(js, "occurrences");
	j_uint(js, ev->occurrences);
	j_key(js, "actions");
	j_status(js, yajl_gen_array_open(js->gen));
	for (size_t i = 0; ev->actions != NULL && i < ev->n_actions; i++)
		build_action(js, &ev->actions[i]);
	j_status(js, yajl_gen_array_close(js->gen));
	return json_end(js, start);
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

int sink_json_reading(struct sink_json *js, const struct vigil_reading *r,
		      vigil_time_ns now)
{
	size_t start = json_begin(js);

	j_key(js, "time");
	j_time(js, r->time != 0 ? r->time : now);
	j_kstr(js, "metric", r->metric);
	j_key(js, "value");
	j_double(js, r->value);
	j_kstr(js, "unit", r->unit != NULL ? r->unit : "");
	j_labels(js, r->labels, r->n_labels);
	j_kstr(js, "quality", quality_name(r->quality));
	return json_end(js, start);
}

/* ------------------------------------------------------------ lifetime */

int sink_json_init(struct sink_json *js, size_t keep, int lines)
{
	js->keep = keep;
	js->lines = lines;
	js->gen = yajl_gen_alloc(NULL);
	if (js->gen == NULL)
		return -ENOMEM;
	yajl_gen_config(js->gen, yajl_gen_beautify, 0);
	yajl_gen_config(js->gen, yajl_gen_validate_utf8, 1);
	yajl_gen_config(js->gen, yajl_gen_print_callback, gen_print, js);
	return 0;
}

void sink_json_fini(struct sink_json *js)
{
	if (js->gen != NULL)
		yajl_gen_free(js->gen);
	js->gen = NULL;
	free(js->out.data);
	free(js->clean.data);
	js->out.data = NULL;
	js->clean.data = NULL;
}

void sink_json_clear(struct sink_json *js)
{
	sink_json_buf_clear(&js->out, js->keep);
}
