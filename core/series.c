/*
 * series.c - interning readings into series.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "series.h"

void vigil_series_init(struct vigil_series_table *t, size_t limit,
		       vigil_series_router router, void *user)
{
	memset(t, 0, sizeof(*t));
	t->n_buckets = 64; /* grows with the series: a worker has few */
	t->buckets = vigil_xcalloc(t->n_buckets, sizeof(*t->buckets));
	t->limit = limit;
	t->next_id = 1;
	t->router = router;
	t->user = user;
}

void vigil_series_free(struct vigil_series_table *t,
		       void (*free_route)(struct vigil_route *r))
{
	for (size_t b = 0; b < t->n_buckets; b++) {
		struct vigil_series *s = t->buckets[b], *next;
		for (; s; s = next) {
			next = s->next;
			for (size_t i = 0; free_route && i < s->n_routes; i++)
				free_route(&s->routes[i]);
			free(s->routes);
			free(s->metric);
			free(s->unit);
			free(s->label_str);
			free(s->order);
			vigil_labels_free(&s->labels);
			free(s);
		}
	}
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

/*
 * Hashing. Every reading is hashed, so this runs millions of times a
 * second: strings are taken 8 bytes at a time (FNV-1a, byte by byte, was
 * the largest cost of a reading) and each value is finished with
 * MurmurHash3's fmix64, because the table indexes buckets by the low bits.
 * The hash only places series in this process's table: it is never stored
 * or compared across runs.
 */
#define HASH_MUL 0x9e3779b97f4a7c15ull

static uint64_t fmix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	k ^= k >> 33;
	return k;
}

static uint64_t hash_word(uint64_t h, uint64_t w)
{
	h = (h ^ w) * HASH_MUL;
	return h ^ (h >> 29);
}

/* Chainable; the length goes in too, so ("ab","c") and ("a","bc") differ. */
static uint64_t hash_str(uint64_t h, const char *s)
{
	size_t n = strlen(s);
	uint64_t w;

	h = hash_word(h, n);
	for (; n >= 8; n -= 8, s += 8) {
		memcpy(&w, s, 8);
		h = hash_word(h, w);
	}
	/* The last 1 to 7 bytes, without a copy of variable length: two
	 * overlapping 4-byte loads, or first, middle and last byte (the
	 * length, hashed above, tells the overlaps apart). */
	if (n >= 4) {
		uint32_t a, b;

		memcpy(&a, s, 4);
		memcpy(&b, s + n - 4, 4);
		h = hash_word(h, (uint64_t)a << 32 | b);
	} else if (n) {
		w = (uint64_t)(unsigned char)s[0] << 16 |
		    (uint64_t)(unsigned char)s[n / 2] << 8 |
		    (unsigned char)s[n - 1];
		h = hash_word(h, w);
	}
	return h;
}

/* Label order does not make a different series: labels hash by XOR of
 * per-label hashes, which does not depend on order. */
static uint64_t reading_hash(const struct vigil_instance *sensor,
			     const struct vigil_reading *r)
{
	uint64_t h = hash_word(VIGIL_HASH_INIT, (uint64_t)(uintptr_t)sensor);
	uint64_t lh = 0;

	h = hash_str(h, r->metric);
	for (size_t i = 0; i < r->n_labels; i++) {
		uint64_t one = hash_str(VIGIL_HASH_INIT, r->labels[i].key);
		one = hash_str(one, r->labels[i].value ? r->labels[i].value : "");
		lh ^= fmix64(one);
	}
	return fmix64(h ^ (lh * HASH_MUL));
}

static const char *value_of(const struct vigil_label *l)
{
	return l->value ? l->value : "";
}

/* Labels of `r` against those of `s`, any order. */
static int same_labels_lookup(const struct vigil_series *s,
			      const struct vigil_reading *r)
{
	for (size_t i = 0; i < r->n_labels; i++) {
		const char *v = vigil_labels_get(s->labels.v, s->labels.n,
						 r->labels[i].key);
		if (!v || strcmp(v, value_of(&r->labels[i])) != 0)
			return 0;
	}
	return 1;
}

static int same_series(const struct vigil_series *s,
		       const struct vigil_instance *sensor,
		       const struct vigil_reading *r)
{
	const struct vigil_label *l = s->labels.v;

	if (s->sensor != sensor || s->labels.n != r->n_labels ||
	    strcmp(s->metric, r->metric) != 0)
		return 0;
	if (r->n_labels == 1)
		return strcmp(l[0].key, r->labels[0].key) == 0 &&
		       strcmp(l[0].value, value_of(&r->labels[0])) == 0;
	/* Fast path: the labels come in the order of the reading that made
	 * the series. Equal pairs position by position are the same label
	 * set; anything else (another order, or a hash collision) is
	 * decided by looking each key up. */
	for (size_t i = 0; i < r->n_labels; i++) {
		const struct vigil_label *sl = &l[s->order[i]];

		if (strcmp(sl->key, r->labels[i].key) != 0 ||
		    strcmp(sl->value, value_of(&r->labels[i])) != 0)
			return same_labels_lookup(s, r);
	}
	return 1;
}

/* Fills s->order from the reading that creates `s`. */
static void record_order(struct vigil_series *s, const struct vigil_reading *r)
{
	size_t n = r->n_labels;
	unsigned char *used;

	if (n < 2)
		return;
	s->order = vigil_xcalloc(n, sizeof(*s->order));
	used = vigil_xcalloc(n, 1);
	for (size_t i = 0; i < n; i++) {
		/* The first unused copy of this pair: duplicates get one
		 * each. */
		for (size_t j = 0; j < n; j++) {
			if (used[j] ||
			    strcmp(s->labels.v[j].key, r->labels[i].key) != 0 ||
			    strcmp(s->labels.v[j].value,
				   value_of(&r->labels[i])) != 0)
				continue;
			used[j] = 1;
			s->order[i] = (uint32_t)j;
			break;
		}
	}
	free(used);
}

static void rehash(struct vigil_series_table *t)
{
	size_t n = t->n_buckets * 2;
	struct vigil_series **b = vigil_xcalloc(n, sizeof(*b));

	for (size_t i = 0; i < t->n_buckets; i++) {
		struct vigil_series *s = t->buckets[i], *next;
		for (; s; s = next) {
			next = s->next;
			s->next = b[s->hash & (n - 1)];
			b[s->hash & (n - 1)] = s;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->n_buckets = n;
}

static struct vigil_series *lookup(const struct vigil_series_table *t,
				   const struct vigil_instance *sensor,
				   const struct vigil_reading *r, uint64_t h)
{
	struct vigil_series *s;

	for (s = t->buckets[h & (t->n_buckets - 1)]; s; s = s->next)
		if (s->hash == h && same_series(s, sensor, r))
			return s;
	return NULL;
}

/* Records that `s` was looked up after t->last. */
static struct vigil_series *seen(struct vigil_series_table *t,
				 struct vigil_series *s)
{
	if (t->last)
		t->last->followed_by = s;
	t->last = s;
	return s;
}

struct vigil_series *vigil_series_find(struct vigil_series_table *t,
				       const struct vigil_instance *sensor,
				       const struct vigil_reading *r)
{
	struct vigil_series *s = t->last ? t->last->followed_by : NULL;

	/* The guess is checked like any candidate of the hash chain: a
	 * wrong one costs a comparison, never a wrong answer. */
	if (s && same_series(s, sensor, r)) {
		t->last = s;
		return s;
	}
	s = lookup(t, sensor, r, reading_hash(sensor, r));
	return s ? seen(t, s) : NULL;
}

struct vigil_series *vigil_series_intern(struct vigil_series_table *t,
					 struct vigil_instance *sensor,
					 const struct vigil_reading *r)
{
	uint64_t h = reading_hash(sensor, r);
	struct vigil_series **head = &t->buckets[h & (t->n_buckets - 1)];
	struct vigil_series *s;
	struct vigil_buf b = {0};

	s = lookup(t, sensor, r, h);
	if (s)
		return seen(t, s);
	if (t->limit && t->count >= t->limit)
		return NULL;

	s = vigil_xcalloc(1, sizeof(*s));
	s->id = t->next_id++;
	s->hash = h;
	s->sensor = sensor;
	s->metric = vigil_xstrdup(r->metric);
	s->unit = vigil_xstrdup(r->unit ? r->unit : "");
	vigil_labels_copy(&s->labels, r->labels, r->n_labels);
	record_order(s, r);
	vigil_labels_format(&b, s->labels.v, s->labels.n);
	s->label_str = b.data ? b.data : vigil_xstrdup("");
	if (t->router)
		t->router(t->user, s);
	s->next = *head;
	*head = s;
	if (++t->count > t->n_buckets)
		rehash(t);
	return seen(t, s);
}
