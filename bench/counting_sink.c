/*
 * counting - a sink for the throughput benchmark that does the least a
 * sink can do while still touching what it is given.
 *
 * write() counts the readings and adds up their values and series ids, so
 * the compiler cannot drop the loop and every reading handed over is read;
 * deliver() counts incident events by type. Nothing is printed: the
 * benchmark, which runs the core in its own process, reads the totals from
 * the instance's state (struct counting_totals, counting_sink.h) and checks
 * them against what the pipeline says it moved.
 *
 * Not installed: built by `make bench` only.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <vigil/plugin.h>

#include "counting_sink.h"

static const struct vigil_option counting_options[] = {
	VIGIL_OPTIONS_END,
};

static int counting_init(struct vigil_ctx *ctx, const struct vigil_host *host,
			 void **state)
{
	struct counting_totals *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	*state = t;
	return 0;
}

static void counting_fini(void *state)
{
	free(state);
}

static int counting_write(void *state, struct vigil_ctx *ctx,
			  const struct vigil_reading *r, size_t n)
{
	struct counting_totals *t = state;
	double sum = 0;
	uint64_t ids = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		sum += r[i].value;
		ids += r[i].series_id;
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
