/*
 * memory - memory and swap use from /proc/meminfo
 *
 * SYNOPSIS
 *     [sensor.memory]
 *     plugin = memory
 *
 * DESCRIPTION
 *     "Available" is the kernel's MemAvailable, its estimate of what can be
 *     allocated without swapping. Kernels before 3.14 lack it; there it is
 *     approximated as MemFree + Buffers + Cached. Used is MemTotal minus
 *     available. MB here are MiB (the file counts KiB).
 *
 * OPTIONS
 *     root  directory that stands for / (default "/")
 *
 * METRICS
 *     memory.used_mb             "MB"  MemTotal - available
 *     memory.available_mb        "MB"
 *     memory.used_percent        "%"   used / MemTotal
 *     memory.swap_used_percent   "%"   only when SwapTotal > 0
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigil/plugin.h>

#include "sensor_util.h"

enum {
	MEM_TOTAL,
	MEM_FREE,
	MEM_AVAILABLE,
	BUFFERS,
	CACHED,
	SWAP_TOTAL,
	SWAP_FREE,
	N_KEYS
};

static const char *const meminfo_keys[N_KEYS] = {
	[MEM_TOTAL] = "MemTotal",
	[MEM_FREE] = "MemFree",
	[MEM_AVAILABLE] = "MemAvailable",
	[BUFFERS] = "Buffers",
	[CACHED] = "Cached",
	[SWAP_TOTAL] = "SwapTotal",
	[SWAP_FREE] = "SwapFree",
};

struct meminfo {
	uint64_t kb[N_KEYS];
	int have[N_KEYS];
};

struct memory_state {
	const struct vigil_host *host;
	char *meminfo_path;
	struct sensor_problems problems; /* with meminfo */
};

static const struct vigil_option memory_options[] = {
	SENSOR_ROOT_OPTION,
	VIGIL_OPTIONS_END,
};

/* The value of "Key:   123456 kB": one unsigned decimal, optionally
 * followed by "kB". */
static int parse_kb(const char *s, uint64_t *out)
{
	uint64_t v;

	while (*s == ' ' || *s == '\t')
		s++;
	if (sensor_parse_u64(&s, &v) < 0)
		return -1;
	while (*s == ' ' || *s == '\t')
		s++;
	if (strncmp(s, "kB", 2) == 0)
		s += 2;
	while (*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	if (*s)
		return -1;
	*out = v;
	return 0;
}

/* Fills in the keys we know from one line; others are ignored. */
static void parse_line(struct memory_state *st, struct vigil_ctx *ctx,
		       char *line, struct meminfo *mi)
{
	char *colon = strchr(line, ':');
	size_t klen;

	if (!colon)
		return;
	klen = (size_t)(colon - line);
	for (int k = 0; k < N_KEYS; k++) {
		if (strlen(meminfo_keys[k]) != klen ||
		    strncmp(line, meminfo_keys[k], klen) != 0)
			continue;
		if (parse_kb(colon + 1, &mi->kb[k]) == 0) {
			mi->have[k] = 1;
		} else {
			line[strcspn(line, "\n")] = '\0';
			sensor_complain(&st->problems, st->host, ctx,
					"%s: unexpected line '%.60s', expected '%s: <number> kB'",
					st->meminfo_path, line, meminfo_keys[k]);
		}
		return;
	}
}

static void emit(struct memory_state *st, struct vigil_ctx *ctx,
		 const char *metric, const char *unit, double value)
{
	sensor_emit(st->host, ctx, metric, unit, value, NULL, NULL);
}

/* Emits what mi allows. Returns 0, or -EIO when it allows nothing. */
static int report(struct memory_state *st, struct vigil_ctx *ctx,
		  const struct meminfo *mi)
{
	uint64_t total = mi->kb[MEM_TOTAL], avail, used;

	if (!mi->have[MEM_TOTAL] || total == 0) {
		sensor_complain(&st->problems, st->host, ctx,
				"%s has no valid MemTotal line, expected 'MemTotal: <number> kB'",
				st->meminfo_path);
		return -EIO;
	}
	if (mi->have[MEM_AVAILABLE]) {
		avail = mi->kb[MEM_AVAILABLE];
	} else if (mi->have[MEM_FREE] && mi->have[BUFFERS] &&
		   mi->have[CACHED]) {
		avail = mi->kb[MEM_FREE] + mi->kb[BUFFERS] + mi->kb[CACHED];
	} else {
		sensor_complain(&st->problems, st->host, ctx,
				"%s has neither MemAvailable nor MemFree, Buffers and Cached",
				st->meminfo_path);
		return -EIO;
	}
	/* Only a garbled file or the rough fallback can claim more than
	 * MemTotal available; clamp so that used is never negative. */
	if (avail > total)
		avail = total;
	used = total - avail;

	emit(st, ctx, "memory.used_mb", "MB", (double)used / 1024.0);
	emit(st, ctx, "memory.available_mb", "MB", (double)avail / 1024.0);
	emit(st, ctx, "memory.used_percent", "%",
	     (double)used * 100.0 / (double)total);

	if (mi->have[SWAP_TOTAL] && mi->kb[SWAP_TOTAL] > 0) {
		uint64_t stotal = mi->kb[SWAP_TOTAL], sfree;

		if (!mi->have[SWAP_FREE]) {
			sensor_complain(&st->problems, st->host, ctx,
					"%s has SwapTotal but no valid SwapFree line",
					st->meminfo_path);
			return 0;
		}
		sfree = mi->kb[SWAP_FREE] > stotal ? stotal : mi->kb[SWAP_FREE];
		emit(st, ctx, "memory.swap_used_percent", "%",
		     (double)(stotal - sfree) * 100.0 / (double)stotal);
	}
	return 0;
}

static int memory_read(void *state, struct vigil_ctx *ctx)
{
	struct memory_state *st = state;
	struct meminfo mi = { 0 };
	char *line = NULL;
	size_t cap = 0;
	int rc;
	FILE *f;

	f = fopen(st->meminfo_path, "re");
	if (!f) {
		rc = -errno;
		sensor_complain(&st->problems, st->host, ctx,
				"cannot read %s: %s", st->meminfo_path,
				strerror(-rc));
		sensor_settle(&st->problems, st->host, ctx, st->meminfo_path);
		return rc;
	}
	while (getline(&line, &cap, f) > 0)
		parse_line(st, ctx, line, &mi);
	if (ferror(f)) {
		rc = -(errno ? errno : EIO);
		sensor_complain(&st->problems, st->host, ctx,
				"cannot read %s: %s", st->meminfo_path,
				strerror(-rc));
	} else {
		rc = report(st, ctx, &mi);
	}
	free(line);
	fclose(f);
	sensor_settle(&st->problems, st->host, ctx, st->meminfo_path);
	return rc;
}

static int memory_init(struct vigil_ctx *ctx, const struct vigil_host *host,
		       void **state)
{
	struct memory_state *st;

	if (sensor_root_check(host, ctx) < 0)
		return VIGIL_EFATAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->host = host;
	st->meminfo_path = sensor_path(host, ctx, "proc/meminfo");
	if (!st->meminfo_path) {
		free(st);
		return -ENOMEM;
	}
	*state = st;
	return 0;
}

static void memory_fini(void *state)
{
	struct memory_state *st = state;

	if (!st)
		return;
	free(st->meminfo_path);
	free(st);
}

VIGIL_PLUGIN_DEFINE = {
	VIGIL_PLUGIN_HEADER(VIGIL_KIND_SENSOR, "memory", "1.0.0"),
	.description = "memory and swap use from /proc/meminfo",
	.options = memory_options,
	.init = memory_init,
	.read = memory_read,
	.fini = memory_fini,
};
