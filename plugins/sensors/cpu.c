/*
 * cpu - CPU usage from /proc/stat
 *
 * SYNOPSIS
 *     [sensor.cpu]
 *     plugin = cpu
 *     per_cpu = no
 *
 * DESCRIPTION
 *     Reads the jiffy counters of /proc/stat and reports which share of the
 *     time between two reads the CPUs spent busy and waiting for I/O. As in
 *     collectd, the first read only records the counters: readings start one
 *     interval after the sensor does. Counters that go backwards as a whole
 *     (a reset) restart the baseline; a read that spans zero jiffies emits
 *     nothing.
 *
 * OPTIONS
 *     root     directory that stands for / (default "/")
 *     per_cpu  also report each core (default no)
 *
 * METRICS
 *     cpu.usage_percent   "%"  cpu=total; with per_cpu also cpu=cpu0, ...
 *     cpu.iowait_percent  "%"  cpu=total
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

/* The kernel numbers CPUs below NR_CPUS, at most 8192: a larger index is a
 * garbled line, and must not size an allocation. */
#define CPU_MAX_INDEX 8192

/* The fields of a cpu line that add up to elapsed time. guest and
 * guest_nice come after them and are already counted in user and nice. */
enum {
	F_USER,
	F_NICE,
	F_SYSTEM,
	F_IDLE,
	F_IOWAIT,
	F_IRQ,
	F_SOFTIRQ,
	F_STEAL,
	N_FIELDS
};

/* Kernels before 2.6 print only user, nice, system and idle. */
#define MIN_FIELDS 4

struct cpu_sample {
	uint64_t f[N_FIELDS];
	int valid; /* f holds a baseline */
	int seen;  /* the line was in the current read */
};

struct cpu_state {
	const struct vigil_host *host;
	char *stat_path;
	int per_cpu;
	struct cpu_sample total;
	struct cpu_sample *cores; /* indexed by N of "cpuN" */
	size_t n_cores;
	struct sensor_problems problems; /* with /proc/stat */
};

static const struct vigil_option cpu_options[] = {
	SENSOR_ROOT_OPTION,
	{
		.name = "per_cpu",
		.type = VIGIL_OPT_BOOL,
		.def = "no",
		.help = "also report cpu.usage_percent of each core (cpu=cpu0, ...)",
	},
	VIGIL_OPTIONS_END,
};

/* One counter after optional blanks, ending at a blank or the end. */
static int parse_counter(const char **p, uint64_t *out)
{
	const char *s = *p;

	while (*s == ' ' || *s == '\t')
		s++;
	if (sensor_parse_u64(&s, out) < 0)
		return -1;
	if (*s != '\0' && *s != ' ' && *s != '\t' && *s != '\n')
		return -1;
	*p = s;
	return 0;
}

/* The counters after the name of a cpu line; missing trailing fields
 * (older kernels) count as 0. Returns how many were read, or -1. */
static int parse_fields(const char *s, uint64_t *f)
{
	int n;

	for (n = 0; n < N_FIELDS; n++) {
		const char *q = s;

		while (*q == ' ' || *q == '\t')
			q++;
		if (*q == '\n' || *q == '\0')
			break;
		if (parse_counter(&s, &f[n]) < 0)
			return -1;
	}
	if (n < MIN_FIELDS)
		return -1;
	for (int i = n; i < N_FIELDS; i++)
		f[i] = 0;
	return n;
}

/*
 * Turns the counters of one cpu line into percentages against the previous
 * ones, and makes them the new baseline. Returns 1 when *usage and *iowait
 * are set, 0 when there is nothing to report (first sample, reset, no time
 * elapsed).
 *
 * A single field may go backwards while time moves on: the kernel documents
 * that iowait can decrease (Documentation/filesystems/proc.rst). That field
 * counts as unchanged. Only when the sum of all goes backwards were the
 * counters reset, and the sample is a new baseline.
 */
static int cpu_delta(struct cpu_sample *prev, const uint64_t *cur,
		     double *usage, double *iowait)
{
	uint64_t d[N_FIELDS], dtotal = 0, sum_prev = 0, sum_cur = 0;
	int had_baseline = prev->valid;

	for (int i = 0; i < N_FIELDS; i++) {
		sum_prev += prev->f[i];
		sum_cur += cur[i];
		d[i] = cur[i] >= prev->f[i] ? cur[i] - prev->f[i] : 0;
		dtotal += d[i];
	}
	memcpy(prev->f, cur, sizeof(prev->f));
	prev->valid = 1;
	if (!had_baseline || sum_cur < sum_prev || dtotal == 0)
		return 0;
	*usage = (double)(dtotal - d[F_IDLE] - d[F_IOWAIT]) * 100.0 /
		 (double)dtotal;
	*iowait = (double)d[F_IOWAIT] * 100.0 / (double)dtotal;
	return 1;
}

/* The baseline of core `index`, growing the table as cores show up. */
static struct cpu_sample *core_sample(struct cpu_state *st, size_t index)
{
	if (index >= st->n_cores) {
		struct cpu_sample *c;

		c = realloc(st->cores, (index + 1) * sizeof(*c));
		if (!c)
			return NULL;
		memset(c + st->n_cores, 0,
		       (index + 1 - st->n_cores) * sizeof(*c));
		st->cores = c;
		st->n_cores = index + 1;
	}
	return &st->cores[index];
}

/* One "cpu..." line, without its newline. Returns 1 for a valid total
 * line, else 0 after logging whatever was wrong with it. */
static int handle_line(struct cpu_state *st, struct vigil_ctx *ctx,
		       const char *line)
{
	const char *s = line + 3; /* past "cpu" */
	uint64_t f[N_FIELDS];
	struct cpu_sample *sample;
	unsigned long index = 0;
	char name[24];
	double usage, iowait;
	int is_total = (*s == ' ' || *s == '\t');

	if (!is_total) {
		char *end;

		if (*s < '0' || *s > '9')
			return 0; /* some other "cpu..." key, not ours */
		errno = 0;
		index = strtoul(s, &end, 10);
		if (errno || (*end != ' ' && *end != '\t') ||
		    index >= CPU_MAX_INDEX) {
			sensor_complain(&st->problems, st->host, ctx,
					"%s: unexpected line '%.40s', expected 'cpuN' followed by counters",
					st->stat_path, line);
			return 0;
		}
		s = end;
		if (!st->per_cpu)
			return 0;
	}

	if (parse_fields(s, f) < 0) {
		sensor_complain(&st->problems, st->host, ctx,
				"%s: unexpected line '%.60s', expected 'cpu%s' followed by at least %d counters",
				st->stat_path, line, is_total ? "" : "N",
				MIN_FIELDS);
		return 0;
	}

	if (is_total) {
		sample = &st->total;
	} else {
		sample = core_sample(st, index);
		if (!sample) {
			sensor_complain(&st->problems, st->host, ctx,
					"out of memory tracking cpu%lu", index);
			return 0;
		}
	}
	sample->seen = 1;
	if (!cpu_delta(sample, f, &usage, &iowait))
		return is_total;

	if (is_total) {
		sensor_emit(st->host, ctx, "cpu.usage_percent", "%", usage,
			    "cpu", "total");
		sensor_emit(st->host, ctx, "cpu.iowait_percent", "%", iowait,
			    "cpu", "total");
	} else {
		/* Per-core iowait is not reported: a task waiting for I/O
		 * runs on no CPU, so the kernel's split of iowait between
		 * cores says little (proc.rst again). */
		snprintf(name, sizeof(name), "cpu%lu", index);
		sensor_emit(st->host, ctx, "cpu.usage_percent", "%", usage,
			    "cpu", name);
	}
	return is_total;
}

static int cpu_read(void *state, struct vigil_ctx *ctx)
{
	struct cpu_state *st = state;
	char *line = NULL;
	size_t cap = 0;
	int saw_total = 0, in_cpu_lines = 0, rc = 0;
	FILE *f;

	f = fopen(st->stat_path, "re");
	if (!f) {
		rc = -errno;
		sensor_complain(&st->problems, st->host, ctx,
				"cannot read %s: %s", st->stat_path,
				strerror(-rc));
		sensor_settle(&st->problems, st->host, ctx, st->stat_path);
		return rc;
	}

	st->total.seen = 0;
	for (size_t i = 0; i < st->n_cores; i++)
		st->cores[i].seen = 0;

	errno = 0;
	while (getline(&line, &cap, f) > 0) {
		if (strncmp(line, "cpu", 3) != 0) {
			/* The cpu lines come first; stop before "intr",
			 * which runs to kilobytes on boards with many IRQs. */
			if (in_cpu_lines)
				break;
			continue;
		}
		in_cpu_lines = 1;
		line[strcspn(line, "\n")] = '\0';
		saw_total |= handle_line(st, ctx, line);
	}
	if (ferror(f)) {
		rc = -(errno ? errno : EIO);
		sensor_complain(&st->problems, st->host, ctx,
				"cannot read %s: %s", st->stat_path,
				strerror(-rc));
	} else if (!saw_total) {
		rc = -EIO;
		sensor_complain(&st->problems, st->host, ctx,
				"%s has no valid 'cpu' line, expected 'cpu user nice system idle ...'",
				st->stat_path);
	}
	free(line);
	fclose(f);

	/* A core missing from this read went offline: when it returns, its
	 * first line is a new baseline rather than a delta across the gap. */
	if (!st->total.seen)
		st->total.valid = 0;
	for (size_t i = 0; i < st->n_cores; i++)
		if (!st->cores[i].seen)
			st->cores[i].valid = 0;

	sensor_settle(&st->problems, st->host, ctx, st->stat_path);
	return rc;
}

static int cpu_init(struct vigil_ctx *ctx, const struct vigil_host *host,
		    void **state)
{
	struct cpu_state *st;

	if (sensor_root_check(host, ctx) < 0)
		return VIGIL_EFATAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->host = host;
	st->per_cpu = host->config_bool(ctx, "per_cpu", 0);
	st->stat_path = sensor_path(host, ctx, "proc/stat");
	if (!st->stat_path) {
		free(st);
		return -ENOMEM;
	}
	*state = st;
	return 0;
}

static void cpu_fini(void *state)
{
	struct cpu_state *st = state;

	if (!st)
		return;
	free(st->cores);
	free(st->stat_path);
	free(st);
}

VIGIL_PLUGIN_DEFINE = {
	VIGIL_PLUGIN_HEADER(VIGIL_KIND_SENSOR, "cpu", "1.0.0"),
	.description = "CPU usage and iowait from /proc/stat",
	.options = cpu_options,
	.init = cpu_init,
	.read = cpu_read,
	.fini = cpu_fini,
};
