/*
 * series.h - interning readings into series, each with its routes.
 *
 * A series is (sensor instance, metric, label set). The first reading of a
 * series resolves which rules and sinks take it; every later reading of it
 * finds that answer with one lookup, so routing costs nothing per reading
 * however many selectors are configured.
 *
 * The lookup is usually not even a hash: sensors emit their series in the
 * same order at every read, so the table remembers which series followed
 * which and first compares a reading with the series that followed the
 * previous one last time. A miss costs one comparison, then the hash.
 */
#ifndef VIGIL_SERIES_H
#define VIGIL_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include <vigil/plugin.h>

#include "util.h"

struct vigil_instance;

struct vigil_route {
	struct vigil_instance *rule;
	void *state; /* the rule's per-series slot */
};

struct vigil_series {
	uint64_t id;
	uint64_t hash;
	struct vigil_instance *sensor;
	char *metric;
	char *unit;
	struct vigil_labels labels; /* sorted by key */
	/* order[i]: where label i of the reading that created the series is
	 * in `labels`, so a later reading with its labels in the same order
	 * (what sensors do) compares position by position. NULL when there
	 * are fewer than 2 labels. */
	uint32_t *order;
	char *label_str;            /* "{a=1,b=2}" or "" */
	struct vigil_route *routes;
	size_t n_routes;
	uint64_t sink_mask; /* bit i: metric sink i takes this series */
	int refused;        /* a worker's table: names the core will refuse */
	struct vigil_series *next;
	/* The series looked up right after this one, the last time: the
	 * first guess for the reading after a reading of this series. */
	struct vigil_series *followed_by;
};

/* Called once for each new series, to fill routes and sink_mask. */
typedef void (*vigil_series_router)(void *user, struct vigil_series *s);

struct vigil_series_table {
	struct vigil_series **buckets;
	size_t n_buckets, count, limit;
	uint64_t next_id;
	struct vigil_series *last; /* the series looked up last */
	vigil_series_router router;
	void *user;
};

void vigil_series_init(struct vigil_series_table *t, size_t limit,
		       vigil_series_router router, void *user);
/* Frees every series; `free_route` releases each route's slot. */
void vigil_series_free(struct vigil_series_table *t,
		       void (*free_route)(struct vigil_route *r));

/* The series of reading `r` from `sensor` if it exists, or NULL. The
 * reading's metric, label keys and label array must not be NULL. */
struct vigil_series *vigil_series_find(struct vigil_series_table *t,
				       const struct vigil_instance *sensor,
				       const struct vigil_reading *r);

/* The series of reading `r` from `sensor`, created on first sight. NULL
 * when the table is at its limit. */
struct vigil_series *vigil_series_intern(struct vigil_series_table *t,
					 struct vigil_instance *sensor,
					 const struct vigil_reading *r);

#endif
