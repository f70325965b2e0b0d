/*
 * crossing - a sensor for the alert latency benchmark (bench_latency.sh):
 * every read() emits one reading that crosses a threshold of 0, upwards
 * and downwards in turn, and carries in its value the moment it was made.
 *
 * The reading's time is CLOCK_REALTIME in ns, read just before
 * emit_reading(); its value is that time in whole microseconds, positive
 * on the upward crossings and negative on the downward ones (the first
 * read is downward, so a threshold rule with `warning = 0` sees below,
 * above, below, ...). A double holds integers up to 2^53 exactly and the
 * epoch in microseconds is about 1.8e15, so the file sink writes the value
 * back unchanged ("value":1767225600123456), and so does every incident
 * event the crossing causes: the benchmark reads the crossing's time out
 * of the alert line itself, with no side channel.
 *
 * Not installed: built by `make bench-latency` only.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include <vigil/plugin.h>

struct crossing {
	const struct vigil_host *host;
	const char *metric;
	int above; /* the next reading is above the threshold */
};

static const struct vigil_option crossing_options[] = {
	{"metric", VIGIL_OPT_STRING, "bench.crossing", 0, 0, NULL,
	 "metric name of the readings", 0},
	VIGIL_OPTIONS_END,
};

static void crossing_fini(void *state)
{
	free(state);
}

static int crossing_init(struct vigil_ctx *ctx, const struct vigil_host *host,
			 void **state)
{
	struct crossing *st = calloc(1, sizeof(*st));

	if (!st)
		return -ENOMEM;
	st->host = host;
	st->metric = host->config_string(ctx, "metric");
	if (!st->metric) {
		free(st);
		return VIGIL_EFATAL;
	}
	*state = st;
	return 0;
}

static int crossing_read(void *state, struct vigil_ctx *ctx)
{
	struct crossing *st = state;
	struct vigil_reading r = {
		.metric = st->metric,
		.unit = "us",
		.quality = VIGIL_QUALITY_GOOD,
	};
	struct timespec ts;
	int64_t us;

	clock_gettime(CLOCK_REALTIME, &ts);
	r.time = (vigil_time_ns)ts.tv_sec * VIGIL_SEC + ts.tv_nsec;
	us = r.time / 1000;
	r.value = st->above ? (double)us : -(double)us;
	st->above = !st->above;
	return st->host->emit_reading(ctx, &r);
}

VIGIL_PLUGIN_DEFINE = {
	VIGIL_PLUGIN_HEADER(VIGIL_KIND_SENSOR, "crossing", "1.0.0"),
	.description = "benchmark sensor: one reading per read, crossing 0 "
		       "up and down in turn, its value the time in us",
	.options = crossing_options,
	.init = crossing_init,
	.fini = crossing_fini,
	.read = crossing_read,
};
