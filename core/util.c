/*
 * util.c - allocation, strings, clocks and hashing shared by the core.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

static void oom(size_t n)
{
	fprintf(stderr, "vigild: out of memory allocating %zu bytes\n", n);
	abort();
}

void *vigil_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *vigil_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom(n * size);
	return p;
}

void *vigil_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *vigil_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = vigil_xmalloc(n);
	memcpy(p, s, n);
	return p;
}

char *vigil_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		oom(0);
	va_end(ap);
	return s;
}

void vigil_grow(void **v, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : 8;

	if (need <= *cap)
		return;
	while (c < need)
		c *= 2;
	*v = vigil_xrealloc(*v, c * size);
	*cap = c;
}

void vigil_buf_add(struct vigil_buf *b, const char *s, size_t n)
{
	vigil_grow((void **)&b->data, &b->cap, b->len + n + 1, 1);
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void vigil_buf_puts(struct vigil_buf *b, const char *s)
{
	vigil_buf_add(b, s, strlen(s));
}

void vigil_buf_printf(struct vigil_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	vigil_grow((void **)&b->data, &b->cap, b->len + (size_t)n + 1, 1);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void vigil_buf_free(struct vigil_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static vigil_time_ns clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (vigil_time_ns)ts.tv_sec * VIGIL_SEC + ts.tv_nsec;
}

vigil_time_ns vigil_now(void)
{
	return clock_ns(CLOCK_REALTIME);
}

vigil_time_ns vigil_monotonic(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t vigil_hash(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return h;
}

uint64_t vigil_hash_str(uint64_t h, const char *s)
{
	/* Hash the terminator too, so ("ab","c") and ("a","bc") differ. */
	return vigil_hash(h, s, strlen(s) + 1);
}

static int label_cmp(const void *a, const void *b)
{
	const struct vigil_label *x = a, *y = b;
	return strcmp(x->key, y->key);
}

void vigil_labels_copy(struct vigil_labels *dst, const struct vigil_label *src,
		       size_t n)
{
	size_t bytes = n * sizeof(struct vigil_label);
	char *p;

	dst->n = n;
	dst->v = NULL;
	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++)
		bytes += strlen(src[i].key) + strlen(src[i].value ? src[i].value : "") + 2;
	dst->v = vigil_xmalloc(bytes);
	p = (char *)(dst->v + n);
	for (size_t i = 0; i < n; i++) {
		size_t k = strlen(src[i].key) + 1;
		const char *val = src[i].value ? src[i].value : "";
		size_t l = strlen(val) + 1;

		memcpy(p, src[i].key, k);
		dst->v[i].key = p;
		p += k;
		memcpy(p, val, l);
		dst->v[i].value = p;
		p += l;
	}
	qsort(dst->v, n, sizeof(*dst->v), label_cmp);
}

void vigil_labels_free(struct vigil_labels *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void vigil_labels_format(struct vigil_buf *b, const struct vigil_label *l,
			 size_t n)
{
	if (n == 0) {
		vigil_buf_add(b, "", 0);
		return;
	}
	vigil_buf_puts(b, "{");
	for (size_t i = 0; i < n; i++) {
		if (i)
			vigil_buf_puts(b, ",");
		vigil_buf_puts(b, l[i].key);
		vigil_buf_puts(b, "=");
		vigil_buf_puts(b, l[i].value);
	}
	vigil_buf_puts(b, "}");
}

const char *vigil_labels_get(const struct vigil_label *l, size_t n,
			     const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(l[i].key, key) == 0)
			return l[i].value;
	return NULL;
}

size_t vigil_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[64];

	if (lb >= VIGIL_ARRAY_SIZE(row) || la >= 64)
		return (size_t)-1;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t best = prev + cost;
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}
