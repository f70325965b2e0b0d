/*
 * counting - a sink for the throughput benchmarks that does the least a
 * sink can do while still touching what it is given.
 *
 * write() counts the readings and adds up their values and series ids, so
 * the compiler cannot drop the loop and every reading handed over is read;
 * deliver() counts incident events by type. The in-process benchmark reads
 * the totals from the instance's state (struct counting_totals,
 * counting_sink.h) and checks them against what the pipeline says it moved.
 *
 * Run inside vigild (bench/isolation_throughput.sh), the sink logs its
 * totals at fini (at notice level) and, with `totals_file = PATH`, writes
 * them to PATH as `key value` lines, with the CLOCK_MONOTONIC times of its
 * first and last write() so that readings/s can be taken over the time
 * readings actually flowed. With `trace_file = PATH` it also writes one
 * line per reading to PATH, its time (ns since the epoch) and value, for
 * the recovery benchmark (bench/isolation_recovery.py: a slow sensor). The clock is read once per batch (at most 256
 * readings in vigild 0.1), not per reading.
 *
 * Not installed: built by `make bench` and `make bench-isolation` only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vigil/plugin.h>

#include "counting_sink.h"

/* The state: the totals first, so that the in-process benchmark can read
 * them through a struct counting_totals pointer. */
struct counting {
	struct counting_totals t;
	const struct vigil_host *host;
	struct vigil_ctx *ctx;
	char *totals_file;
	FILE *trace; /* trace_file, or NULL */
};

static const struct vigil_option counting_options[] = {
	{"totals_file", VIGIL_OPT_STRING, NULL, 0, 0, NULL,
	 "write the totals to this file at fini (a benchmark's result)", 0},
	{"trace_file", VIGIL_OPT_STRING, NULL, 0, 0, NULL,
	 "write one line per reading to this file: its time (ns since the "
	 "epoch) and value (for slow sensors only)", 0},
	VIGIL_OPTIONS_END,
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int counting_init(struct vigil_ctx *ctx, const struct vigil_host *host,
			 void **state)
{
	struct counting *c = calloc(1, sizeof(*c));
	const char *path = host->config_string(ctx, "totals_file");
	const char *trace = host->config_string(ctx, "trace_file");

	if (!c)
		return -ENOMEM;
	c->host = host;
	c->ctx = ctx;
	if (path && *path && !(c->totals_file = strdup(path))) {
		free(c);
		return -ENOMEM;
	}
	if (trace && *trace && !(c->trace = fopen(trace, "w"))) {
		int err = errno;

		host->log(ctx, VIGIL_LOG_ERR, "%s: %s", trace, strerror(err));
		free(c->totals_file);
		free(c);
		return VIGIL_EFATAL;
	}
	*state = c;
	return 0;
}

static void counting_fini(void *state)
{
	struct counting *c = state;
	const struct counting_totals *t = &c->t;

	c->host->log(c->ctx, VIGIL_LOG_NOTICE,
		     "counted %" PRIu64 " readings in %" PRIu64
		     " batches, %" PRIu64 " events",
		     t->readings, t->batches, t->events);
	if (c->totals_file) {
		FILE *f = fopen(c->totals_file, "w");

		if (f) {
			fprintf(f,
				"readings %" PRIu64 "\nbatches %" PRIu64
				"\nevents %" PRIu64 "\nfirst_batch %" PRIu64
				"\nfirst_write_ns %" PRIu64
				"\nlast_write_ns %" PRIu64 "\nvalue_sum %.17g\n",
				t->readings, t->batches, t->events,
				t->first_batch, t->first_write_ns,
				t->last_write_ns, t->value_sum);
			if (fclose(f) != 0)
				c->host->log(c->ctx, VIGIL_LOG_ERR,
					     "%s: write failed", c->totals_file);
		} else {
			c->host->log(c->ctx, VIGIL_LOG_ERR, "%s: %s",
				     c->totals_file, strerror(errno));
		}
		free(c->totals_file);
	}
	if (c->trace)
		fclose(c->trace);
	free(c);
}

static int counting_write(void *state, struct vigil_ctx *ctx,
			  const struct vigil_reading *r, size_t n)
{
	struct counting *c = state;
	struct counting_totals *t = &c->t;
	double sum = 0;
	uint64_t ids = 0;
	size_t i;

	if (c->trace)
		for (i = 0; i < n; i++)
			fprintf(c->trace, "%" PRId64 " %.17g\n",
				(int64_t)r[i].time, r[i].value);
	for (i = 0; i < n; i++) {
		sum += r[i].value;
		ids += r[i].series_id;
	}
	t->last_write_ns = mono_ns();
	if (t->batches == 0) {
		t->first_write_ns = t->last_write_ns;
		t->first_batch = n;
	}
	t->readings += n;
	t->batches++;
	t->value_sum += sum;
	t->series_id_sum += ids;
	return 0;
}

static int counting_deliver(void *state, struct vigil_ctx *ctx,
			    const struct vigil_event *ev)
{
	struct counting_totals *t = state;

	t->events++;
	if (ev->type >= 1 && ev->type <= 5)
		t->events_by_type[ev->type]++;
	return 0;
}

VIGIL_PLUGIN_DEFINE = {
	VIGIL_PLUGIN_HEADER(VIGIL_KIND_SINK, "counting", "1.0.0"),
	.description = "benchmark sink: counts readings and incident events",
	.options = counting_options,
	.init = counting_init,
	.fini = counting_fini,
	.deliver = counting_deliver,
	.write = counting_write,
};
