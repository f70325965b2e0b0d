/*
 * util.h - allocation, strings, clocks and hashing shared by the core.
 */
#ifndef VIGIL_UTIL_H
#define VIGIL_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <vigil/plugin.h>

#define VIGIL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation that cannot fail: out of memory aborts with a message, because
 * a monitoring daemon that limps on without memory reports nothing true. */
void *vigil_xmalloc(size_t n);
void *vigil_xcalloc(size_t n, size_t size);
void *vigil_xrealloc(void *p, size_t n);
char *vigil_xstrdup(const char *s);
char *vigil_xasprintf(const char *fmt, ...) VIGIL_PRINTF(1, 2);

/* Grows *v (of *cap elements of `size`) to hold at least `need`. */
void vigil_grow(void **v, size_t *cap, size_t need, size_t size);

/* A growable string. */
struct vigil_buf {
	char *data;
	size_t len, cap;
};
void vigil_buf_add(struct vigil_buf *b, const char *s, size_t n);
void vigil_buf_puts(struct vigil_buf *b, const char *s);
void vigil_buf_printf(struct vigil_buf *b, const char *fmt, ...)
	VIGIL_PRINTF(2, 3);
void vigil_buf_free(struct vigil_buf *b);

/* Clocks in nanoseconds. */
vigil_time_ns vigil_now(void);
vigil_time_ns vigil_monotonic(void);

/* FNV-1a, chainable: pass the previous result as `h` (start with
 * VIGIL_HASH_INIT). */
#define VIGIL_HASH_INIT 1469598103934665603ull
uint64_t vigil_hash(uint64_t h, const void *data, size_t n);
uint64_t vigil_hash_str(uint64_t h, const char *s);

/* Owned copies of a label array, sorted by key, in one allocation. */
struct vigil_labels {
	struct vigil_label *v;
	size_t n;
};
void vigil_labels_copy(struct vigil_labels *dst, const struct vigil_label *src,
		       size_t n);
void vigil_labels_free(struct vigil_labels *l);
/* "{a=1,b=2}", or "" when there are no labels; appended to `b`. */
void vigil_labels_format(struct vigil_buf *b, const struct vigil_label *l,
			 size_t n);
const char *vigil_labels_get(const struct vigil_label *l, size_t n,
			     const char *key);

/* Edit distance, for "did you mean" hints. */
size_t vigil_edit_distance(const char *a, const char *b);

#endif
