/*
 * proto.c - the frame protocol between the core and a plugin worker.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "proto.h"

#define WHY(...) (why ? (void)snprintf(why, whylen, __VA_ARGS__) : (void)0)

/* Labels, strings and action records in one payload: bounds on counts so a
 * garbage count cannot make the reader allocate without limit. */
#define MAX_LABELS VIGIL_READING_LABELS_MAX
#define MAX_ACTIONS 1024
#define ABSENT 0xffffffffu

static const char *const msg_names[] = {
	[VIGIL_MSG_INIT] = "init",         [VIGIL_MSG_READ] = "read",
	[VIGIL_MSG_EVAL] = "eval",         [VIGIL_MSG_RUN] = "run",
	[VIGIL_MSG_DELIVER] = "deliver",   [VIGIL_MSG_WRITE] = "write",
	[VIGIL_MSG_FLUSH] = "flush",       [VIGIL_MSG_FINI] = "fini",
	[VIGIL_MSG_REPLY] = "reply",       [VIGIL_MSG_READINGS] = "readings",
	[VIGIL_MSG_CONDITION] = "condition", [VIGIL_MSG_LOG] = "log",
};

int vigil_msg_known(unsigned type)
{
	return type < VIGIL_ARRAY_SIZE(msg_names) && msg_names[type];
}

const char *vigil_msg_name(unsigned type)
{
	return vigil_msg_known(type) ? msg_names[type] : "unknown";
}

int vigil_frame_parse(const uint8_t *buf, size_t len, struct vigil_frame *f,
		      size_t *used, char *why, size_t whylen)
{
	uint32_t length;
	uint16_t seq;

	if (len < VIGIL_FRAME_HEADER)
		return 0;
	memcpy(&length, buf, 4);
	if (buf[4] != VIGIL_PROTO_VERSION) {
		WHY("frame of protocol version %u, expected %u", buf[4],
		    VIGIL_PROTO_VERSION);
		return -EPROTO;
	}
	if (!vigil_msg_known(buf[5])) {
		WHY("frame of unknown type %u", buf[5]);
		return -EPROTO;
	}
	if (length > VIGIL_FRAME_MAX) {
		WHY("frame of %u bytes, more than the %u allowed", length,
		    VIGIL_FRAME_MAX);
		return -EMSGSIZE;
	}
	if (len - VIGIL_FRAME_HEADER < length)
		return 0;
	memcpy(&seq, buf + 6, 2);
	f->length = length;
	f->version = buf[4];
	f->type = buf[5];
	f->seq = seq;
	f->payload = buf + VIGIL_FRAME_HEADER;
	*used = VIGIL_FRAME_HEADER + (size_t)length;
	return 1;
}

/* ------------------------------------------------------------ writing */

void vigil_wire_begin(struct vigil_wire *w, enum vigil_msg type, uint16_t seq)
{
	uint8_t head[VIGIL_FRAME_HEADER] = {0};

	w->b.len = 0;
	head[4] = VIGIL_PROTO_VERSION;
	head[5] = (uint8_t)type;
	memcpy(head + 6, &seq, 2);
	vigil_buf_add(&w->b, (const char *)head, sizeof(head));
}

void vigil_wire_end(struct vigil_wire *w)
{
	uint32_t length = (uint32_t)(w->b.len - VIGIL_FRAME_HEADER);

	memcpy(w->b.data, &length, 4);
}

void vigil_wire_free(struct vigil_wire *w)
{
	vigil_buf_free(&w->b);
}

/* Room for n more bytes at the end of the frame, which is then n bytes
 * longer: on the path of every field of every reading in a batch, so
 * inline, with the growth out of line. The buffer stays NUL-terminated,
 * as vigil_buf promises. */
static inline char *extend(struct vigil_wire *w, size_t n)
{
	struct vigil_buf *b = &w->b;
	char *at;

	if (__builtin_expect(b->len + n + 1 > b->cap, 0))
		vigil_grow((void **)&b->data, &b->cap, b->len + n + 1, 1);
	at = b->data + b->len;
	b->len += n;
	b->data[b->len] = '\0';
	return at;
}

/* n is a constant for the numbers, so the copy is a move. */
static inline void put(struct vigil_wire *w, const void *p, size_t n)
{
	memcpy(extend(w, n), p, n);
}

void vigil_wire_put_u32(struct vigil_wire *w, uint32_t v)
{
	put(w, &v, sizeof(v));
}

void vigil_wire_put_u64(struct vigil_wire *w, uint64_t v)
{
	put(w, &v, sizeof(v));
}

void vigil_wire_put_i64(struct vigil_wire *w, int64_t v)
{
	put(w, &v, sizeof(v));
}

void vigil_wire_put_f64(struct vigil_wire *w, double v)
{
	put(w, &v, sizeof(v));
}

void vigil_wire_put_str(struct vigil_wire *w, const char *s)
{
	uint32_t n;
	size_t len;
	char *at;

	if (!s) {
		n = ABSENT;
		put(w, &n, sizeof(n));
		return;
	}
	/* The terminator travels too, so the reader can hand out pointers
	 * into the frame instead of copies. */
	len = strlen(s);
	if (len >= VIGIL_FRAME_MAX - 1)
		len = VIGIL_FRAME_MAX - 2;
	n = (uint32_t)len + 1;
	at = extend(w, sizeof(n) + n);
	memcpy(at, &n, sizeof(n));
	memcpy(at + sizeof(n), s, len);
	at[sizeof(n) + len] = '\0';
}

void vigil_wire_put_labels(struct vigil_wire *w, const struct vigil_label *l,
			   size_t n)
{
	if (n > MAX_LABELS)
		n = MAX_LABELS;
	vigil_wire_put_u32(w, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		vigil_wire_put_str(w, l[i].key);
		/* A NULL value is the empty one, as inside vigild. */
		vigil_wire_put_str(w, l[i].value ? l[i].value : "");
	}
}

void vigil_wire_put_event(struct vigil_wire *w, const struct vigil_event *e)
{
	size_t n = e->n_actions < MAX_ACTIONS ? e->n_actions : MAX_ACTIONS;

	vigil_wire_put_u32(w, (uint32_t)e->type);
	vigil_wire_put_u64(w, e->incident_id);
	vigil_wire_put_str(w, e->key);
	vigil_wire_put_str(w, e->incident_type);
	vigil_wire_put_u32(w, (uint32_t)e->severity);
	vigil_wire_put_u32(w, (uint32_t)e->previous_severity);
	vigil_wire_put_u32(w, (uint32_t)e->status);
	vigil_wire_put_str(w, e->message);
	vigil_wire_put_f64(w, e->value);
	vigil_wire_put_labels(w, e->labels, e->n_labels);
	vigil_wire_put_i64(w, e->time);
	vigil_wire_put_i64(w, e->created);
	vigil_wire_put_i64(w, e->resolved);
	vigil_wire_put_u32(w, e->occurrences);
	vigil_wire_put_u32(w, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		const struct vigil_action_record *a = &e->actions[i];
		vigil_wire_put_str(w, a->action);
		vigil_wire_put_i64(w, a->start);
		vigil_wire_put_i64(w, a->duration);
		vigil_wire_put_u32(w, (uint32_t)a->exit_status);
		vigil_wire_put_u32(w, (uint32_t)a->outcome);
		vigil_wire_put_str(w, a->output);
	}
	vigil_wire_put_u32(w, e->escalation);
	vigil_wire_put_u32(w, (uint32_t)e->flapping);
	vigil_wire_put_u32(w, (uint32_t)e->silenced);
	vigil_wire_put_str(w, e->comment);
}

void vigil_wire_put_condition(struct vigil_wire *w,
			      const struct vigil_condition *c)
{
	vigil_wire_put_str(w, c->key);
	vigil_wire_put_str(w, c->type);
	vigil_wire_put_u32(w, (uint32_t)(c->firing ? 1 : 0));
	vigil_wire_put_u32(w, (uint32_t)c->severity);
	vigil_wire_put_str(w, c->message);
	vigil_wire_put_f64(w, c->value);
	/* A condition without labels of its own takes its reading's: the
	 * reading does not travel. */
	if (c->labels || c->n_labels || !c->reading)
		vigil_wire_put_labels(w, c->labels, c->n_labels);
	else
		vigil_wire_put_labels(w, c->reading->labels,
				      c->reading->n_labels);
}

/* ------------------------------------------------------------ batches */

/* A reading in a batch: one fixed-size record. */
struct sample {
	uint64_t id;
	double value;
	int64_t time;
	uint32_t quality, zero;
};
_Static_assert(sizeof(struct sample) == 32, "a reading is 32 bytes");

/* Where the count and the first reading are in a batch frame without
 * definitions: after the header, n_series (0) and n. */
#define BATCH_COUNT_AT (VIGIL_FRAME_HEADER + 4)
#define BATCH_HEAD (VIGIL_FRAME_HEADER + 8)

void vigil_batch_begin(struct vigil_batch *b, enum vigil_msg type)
{
	vigil_wire_begin(&b->frame, type, 0);
	put(&b->frame, &(uint32_t){0}, 4); /* n_series */
	put(&b->frame, &(uint32_t){0}, 4); /* n */
	b->defs.b.len = 0;
	b->n_defs = 0;
	b->count = 0;
}

void vigil_batch_define(struct vigil_batch *b, uint64_t id, const char *metric,
			const char *unit, const struct vigil_label *l, size_t n)
{
	vigil_wire_put_u64(&b->defs, id);
	vigil_wire_put_str(&b->defs, metric);
	vigil_wire_put_str(&b->defs, unit);
	vigil_wire_put_labels(&b->defs, l, n);
	b->n_defs++;
}

void vigil_batch_add(struct vigil_batch *b, uint64_t id,
		     const struct vigil_reading *r)
{
	struct sample s = {
		.id = id,
		.value = r->value,
		.time = r->time,
		.quality = (uint32_t)r->quality,
	};

	put(&b->frame, &s, sizeof(s));
	b->count++;
}

size_t vigil_batch_bytes(const struct vigil_batch *b)
{
	return b->frame.b.len + b->defs.b.len;
}

void vigil_batch_strip(struct vigil_batch *b)
{
	b->frame.b.len = BATCH_HEAD;
	b->frame.b.data[b->frame.b.len] = '\0';
	b->count = 0;
}

void vigil_batch_end(struct vigil_batch *b, uint16_t seq)
{
	struct vigil_buf *f = &b->frame.b;
	size_t d = b->defs.b.len;

	memcpy(f->data + 6, &seq, 2);
	if (d) {
		/* The definitions go between n_series and n: the readings
		 * move up by their size (only when a batch defines, which
		 * is at a series' first reading). */
		extend(&b->frame, d);
		memmove(f->data + BATCH_COUNT_AT + d, f->data + BATCH_COUNT_AT,
			f->len - d - BATCH_COUNT_AT);
		memcpy(f->data + BATCH_COUNT_AT, b->defs.b.data, d);
	}
	memcpy(f->data + VIGIL_FRAME_HEADER, &b->n_defs, 4);
	memcpy(f->data + BATCH_COUNT_AT + d, &b->count, 4);
	vigil_wire_end(&b->frame);
}

void vigil_batch_free(struct vigil_batch *b)
{
	vigil_wire_free(&b->frame);
	vigil_wire_free(&b->defs);
}

/* ------------------------------------------------------------ reading */

void vigil_wire_reader_init(struct vigil_wire_reader *r,
			    const struct vigil_frame *f)
{
	memset(r, 0, sizeof(*r));
	r->p = f->payload;
	r->left = f->length;
}

void vigil_wire_reader_free(struct vigil_wire_reader *r)
{
	for (size_t i = 0; i < r->n_arena; i++)
		free(r->arena[i]);
	free(r->arena);
	r->arena = NULL;
	r->n_arena = r->cap_arena = 0;
	r->bump = NULL;
	r->bump_left = 0;
}

/* Bump allocation in 16 KiB blocks: a batch of readings costs a few
 * mallocs, not one per label array. */
static void *arena_alloc(struct vigil_wire_reader *r, size_t n)
{
	const size_t block = 16384;
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (n > r->bump_left) {
		size_t size = n > block ? n : block;
		p = vigil_xmalloc(size);
		vigil_grow((void **)&r->arena, &r->cap_arena, r->n_arena + 1,
			   sizeof(*r->arena));
		r->arena[r->n_arena++] = p;
		if (n == size)
			return p;
		r->bump = (char *)p;
		r->bump_left = size;
	}
	p = r->bump;
	r->bump += n;
	r->bump_left -= n;
	return p;
}

static int take(struct vigil_wire_reader *r, void *dst, size_t n)
{
	if (r->err || r->left < n) {
		r->err = 1;
		memset(dst, 0, n);
		return -1;
	}
	memcpy(dst, r->p, n);
	r->p += n;
	r->left -= n;
	return 0;
}

uint32_t vigil_wire_get_u32(struct vigil_wire_reader *r)
{
	uint32_t v;
	take(r, &v, sizeof(v));
	return v;
}

uint64_t vigil_wire_get_u64(struct vigil_wire_reader *r)
{
	uint64_t v;
	take(r, &v, sizeof(v));
	return v;
}

int64_t vigil_wire_get_i64(struct vigil_wire_reader *r)
{
	int64_t v;
	take(r, &v, sizeof(v));
	return v;
}

double vigil_wire_get_f64(struct vigil_wire_reader *r)
{
	double v;
	take(r, &v, sizeof(v));
	return v;
}

const char *vigil_wire_get_str(struct vigil_wire_reader *r)
{
	uint32_t n = vigil_wire_get_u32(r);
	const char *s;

	if (r->err || n == ABSENT)
		return NULL;
	/* n counts the terminator, which must be the one NUL in it. */
	if (n == 0 || n > r->left || r->p[n - 1] != '\0' ||
	    memchr(r->p, '\0', n - 1)) {
		r->err = 1;
		return NULL;
	}
	s = (const char *)r->p;
	r->p += n;
	r->left -= n;
	return s;
}

int vigil_wire_get_labels(struct vigil_wire_reader *r,
			  const struct vigil_label **l, size_t *n)
{
	uint32_t count = vigil_wire_get_u32(r);
	struct vigil_label *v;

	*l = NULL;
	*n = 0;
	if (r->err || count > MAX_LABELS) {
		r->err = 1;
		return -1;
	}
	if (count == 0)
		return 0;
	v = arena_alloc(r, count * sizeof(*v));
	for (uint32_t i = 0; i < count; i++) {
		v[i].key = vigil_wire_get_str(r);
		v[i].value = vigil_wire_get_str(r);
		if (!v[i].key || !v[i].value)
			r->err = 1;
	}
	if (r->err)
		return -1;
	*l = v;
	*n = count;
	return 0;
}

int vigil_wire_get_event(struct vigil_wire_reader *r, struct vigil_event *out)
{
	struct vigil_action_record *a = NULL;
	uint32_t n;

	memset(out, 0, sizeof(*out));
	out->type = (enum vigil_event_type)vigil_wire_get_u32(r);
	out->incident_id = vigil_wire_get_u64(r);
	out->key = vigil_wire_get_str(r);
	out->incident_type = vigil_wire_get_str(r);
	out->severity = (enum vigil_severity)vigil_wire_get_u32(r);
	out->previous_severity = (enum vigil_severity)vigil_wire_get_u32(r);
	out->status = (enum vigil_incident_status)vigil_wire_get_u32(r);
	out->message = vigil_wire_get_str(r);
	out->value = vigil_wire_get_f64(r);
	vigil_wire_get_labels(r, &out->labels, &out->n_labels);
	out->time = vigil_wire_get_i64(r);
	out->created = vigil_wire_get_i64(r);
	out->resolved = vigil_wire_get_i64(r);
	out->occurrences = vigil_wire_get_u32(r);
	n = vigil_wire_get_u32(r);
	if (r->err || n > MAX_ACTIONS) {
		r->err = 1;
		return -1;
	}
	if (n)
		a = arena_alloc(r, n * sizeof(*a));
	for (uint32_t i = 0; i < n; i++) {
		a[i].action = vigil_wire_get_str(r);
		a[i].start = vigil_wire_get_i64(r);
		a[i].duration = vigil_wire_get_i64(r);
		a[i].exit_status = (int)vigil_wire_get_u32(r);
		a[i].outcome = (enum vigil_action_outcome)vigil_wire_get_u32(r);
		a[i].output = vigil_wire_get_str(r);
	}
	out->actions = a;
	out->n_actions = n;
	out->escalation = vigil_wire_get_u32(r);
	out->flapping = (int)vigil_wire_get_u32(r);
	out->silenced = (int)vigil_wire_get_u32(r);
	out->comment = vigil_wire_get_str(r);
	if (!out->key || out->severity > VIGIL_SEV_CRITICAL ||
	    out->type < VIGIL_EVENT_OPENED || out->type > VIGIL_EVENT_HEALTH)
		r->err = 1;
	return r->err ? -1 : 0;
}

int vigil_wire_get_condition(struct vigil_wire_reader *r,
			     struct vigil_condition *out)
{
	memset(out, 0, sizeof(*out));
	out->key = vigil_wire_get_str(r);
	out->type = vigil_wire_get_str(r);
	out->firing = (int)vigil_wire_get_u32(r);
	out->severity = (enum vigil_severity)vigil_wire_get_u32(r);
	out->message = vigil_wire_get_str(r);
	out->value = vigil_wire_get_f64(r);
	vigil_wire_get_labels(r, &out->labels, &out->n_labels);
	if (out->firing > 1)
		r->err = 1;
	return r->err ? -1 : 0;
}

int vigil_wire_get_series(struct vigil_wire_reader *r, uint64_t *id,
			  struct vigil_reading *out)
{
	memset(out, 0, sizeof(*out));
	*id = vigil_wire_get_u64(r);
	out->metric = vigil_wire_get_str(r);
	out->unit = vigil_wire_get_str(r);
	vigil_wire_get_labels(r, &out->labels, &out->n_labels);
	if (!*id || !out->metric)
		r->err = 1;
	return r->err ? -1 : 0;
}

int vigil_wire_get_sample(struct vigil_wire_reader *r, uint64_t *id,
			  struct vigil_reading *out)
{
	struct sample s;

	if (take(r, &s, sizeof(s)) < 0 || !s.id ||
	    s.quality > VIGIL_QUALITY_BAD) {
		r->err = 1;
		return -1;
	}
	*id = s.id;
	out->value = s.value;
	out->time = s.time;
	out->quality = (enum vigil_quality)s.quality;
	return 0;
}
