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
	t->n_buckets = 1024;
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
			vigil_labels_free(&s->labels);
			free(s);
		}
	}
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

/* Label order does not make a different series: labels hash by XOR of
 * per-label hashes, which does not depend on order. */
static uint64_t reading_hash(const struct vigil_instance *sensor,
			     const struct vigil_reading *r)
{
	uint64_t h = vigil_hash(VIGIL_HASH_INIT, &sensor, sizeof(sensor));
	uint64_t lh = 0;

	h = vigil_hash_str(h, r->metric);
	for (size_t i = 0; i < r->n_labels; i++) {
		uint64_t one = vigil_hash_str(VIGIL_HASH_INIT, r->labels[i].key);
		one = vigil_hash_str(one, r->labels[i].value ? r->labels[i].value : "");
		lh ^= one;
	}
	return h ^ (lh * 0x9e3779b97f4a7c15ull);
}

static int same_series(const struct vigil_series *s,
		       const struct vigil_instance *sensor,
		       const struct vigil_reading *r)
{
	if (s->sensor != sensor || s->labels.n != r->n_labels ||
	    strcmp(s->metric, r->metric) != 0)
		return 0;
	for (size_t i = 0; i < r->n_labels; i++) {
		const char *v = vigil_labels_get(s->labels.v, s->labels.n,
						 r->labels[i].key);
		if (!v || strcmp(v, r->labels[i].value ? r->labels[i].value : "") != 0)
			return 0;
	}
	return 1;
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

struct vigil_series *vigil_series_intern(struct vigil_series_table *t,
					 struct vigil_instance *sensor,
					 const struct vigil_reading *r)
{
	uint64_t h = reading_hash(sensor, r);
	struct vigil_series **head = &t->buckets[h & (t->n_buckets - 1)];
	struct vigil_series *s;
	struct vigil_buf b = {0};

	for (s = *head; s; s = s->next)
		if (s->hash == h && same_series(s, sensor, r))
			return s;
	if (t->limit && t->count >= t->limit)
		return NULL;

	s = vigil_xcalloc(1, sizeof(*s));
	s->id = t->next_id++;
	s->hash = h;
	s->sensor = sensor;
	s->metric = vigil_xstrdup(r->metric);
	s->unit = vigil_xstrdup(r->unit ? r->unit : "");
	vigil_labels_copy(&s->labels, r->labels, r->n_labels);
	vigil_labels_format(&b, s->labels.v, s->labels.n);
	s->label_str = b.data ? b.data : vigil_xstrdup("");
	if (t->router)
		t->router(t->user, s);
	s->next = *head;
	*head = s;
	if (++t->count > t->n_buckets)
		rehash(t);
	return s;
}
