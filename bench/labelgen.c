/*
 * labelgen - a sensor for the throughput benchmark whose readings carry
 * label sets of a chosen size, to measure what labels cost per reading.
 *
 * Every read() emits `count` readings, one per series, with the same
 * value (the tick number). With labels = K >= 1 reading i carries n=<i>
 * and K - 1 fixed labels l1=value-1 ... ; with labels = 0 the series differ
 * by metric name instead: <metric>.<i>. Names and label arrays are built
 * once in init, so read() neither allocates nor formats, as with the
 * synthetic sensor.
 *
 * Not installed: built by `make bench` only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigil/plugin.h>

#define LABELGEN_MAX_COUNT 100000
#define LABELGEN_MAX_LABELS 16
#define NAME_MAX_LEN 128

struct labelgen {
	const struct vigil_host *host;
	const char *metric;
	size_t count, n_labels;
	uint64_t tick;
	char (*metrics)[NAME_MAX_LEN]; /* labels = 0: one name per series */
	char (*index)[24];             /* labels > 0: "0" .. "count-1" */
	struct vigil_label *labels;    /* count * n_labels */
};

static const struct vigil_option labelgen_options[] = {
	{"metric", VIGIL_OPT_STRING, "bench.labels", 0, 0, NULL,
	 "metric name of the readings", 0},
	{"count", VIGIL_OPT_INT, "1000", 1, LABELGEN_MAX_COUNT, NULL,
	 "readings (series) per tick", 0},
	{"labels", VIGIL_OPT_INT, "1", 0, LABELGEN_MAX_LABELS, NULL,
	 "labels per reading; 0: series differ by metric name", 0},
	VIGIL_OPTIONS_END,
};

/* Realistic label text: keys and values of the lengths seen in practice. */
static const char *const fixed_keys[LABELGEN_MAX_LABELS] = {
	"n",      "host",    "region",  "zone",   "service", "instance",
	"job",    "env",     "cluster", "rack",   "device",  "mount",
	"team",   "version", "tier",    "shard",
};
static const char *const fixed_values[LABELGEN_MAX_LABELS] = {
	NULL,         "web-01.example.org", "eu-west-1", "eu-west-1b",
	"checkout",   "10.1.2.3:9100",      "node",      "production",
	"main",       "r12",                "nvme0n1",   "/var/lib",
	"payments",   "1.4.2",              "frontend",  "7",
};

static void labelgen_fini(void *state)
{
	struct labelgen *st = state;

	if (!st)
		return;
	free(st->metrics);
	free(st->index);
	free(st->labels);
	free(st);
}

static int labelgen_init(struct vigil_ctx *ctx, const struct vigil_host *host,
			 void **state)
{
	struct labelgen *st = calloc(1, sizeof(*st));
	size_t i, k;

	if (!st)
		return -ENOMEM;
	st->host = host;
	st->metric = host->config_string(ctx, "metric");
	st->count = (size_t)host->config_int(ctx, "count", 1000);
	st->n_labels = (size_t)host->config_int(ctx, "labels", 1);
	if (!st->metric || strlen(st->metric) > NAME_MAX_LEN - 8 ||
	    st->count < 1 || st->count > LABELGEN_MAX_COUNT ||
	    st->n_labels > LABELGEN_MAX_LABELS) {
		host->log(ctx, VIGIL_LOG_ERR, "bad metric, count or labels");
		labelgen_fini(st);
		return VIGIL_EFATAL;
	}

	if (st->n_labels == 0) {
		st->metrics = calloc(st->count, sizeof(*st->metrics));
		if (!st->metrics)
			goto nomem;
		for (i = 0; i < st->count; i++)
			snprintf(st->metrics[i], sizeof(st->metrics[i]),
				 "%s.%zu", st->metric, i);
	} else {
		st->index = calloc(st->count, sizeof(*st->index));
		st->labels = calloc(st->count * st->n_labels,
				    sizeof(*st->labels));
		if (!st->index || !st->labels)
			goto nomem;
		for (i = 0; i < st->count; i++) {
			struct vigil_label *l = &st->labels[i * st->n_labels];

			snprintf(st->index[i], sizeof(st->index[i]), "%zu", i);
			l[0].key = fixed_keys[0];
			l[0].value = st->index[i];
			for (k = 1; k < st->n_labels; k++) {
				l[k].key = fixed_keys[k];
				l[k].value = fixed_values[k];
			}
		}
	}
	*state = st;
	return 0;

nomem:
	labelgen_fini(st);
	return -ENOMEM;
}

static int labelgen_read(void *state, struct vigil_ctx *ctx)
{
	struct labelgen *st = state;
	struct vigil_reading r = {
		.metric = st->metric,
		.unit = "",
		.n_labels = st->n_labels,
		.quality = VIGIL_QUALITY_GOOD,
	};
	size_t i;

	r.value = (double)(st->tick++ % 1000);
	r.time = st->host->now(ctx);
	for (i = 0; i < st->count; i++) {
		if (st->n_labels)
			r.labels = &st->labels[i * st->n_labels];
		else
			r.metric = st->metrics[i];
		if (st->host->emit_reading(ctx, &r) == -EINVAL)
			return -EINVAL;
	}
	return 0;
}

VIGIL_PLUGIN_DEFINE = {
	VIGIL_PLUGIN_HEADER(VIGIL_KIND_SENSOR, "labelgen", "1.0.0"),
	.description = "benchmark sensor: readings with label sets of a "
		       "chosen size",
	.options = labelgen_options,
	.init = labelgen_init,
	.fini = labelgen_fini,
	.read = labelgen_read,
};
