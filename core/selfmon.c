/*
 * selfmon.c - the built-in "vigil" sensor.
 */
#include "config.h"

#include <string.h>

#include "daemon.h"
#include "selfmon.h"
#include "worker.h"

static struct vigil_daemon *daemon_of;

void vigil_selfmon_attach(struct vigil_daemon *d)
{
	daemon_of = d;
}

enum {
	ST_DOWN,
	ST_STARTING,
	ST_RUNNING,
	ST_BACKOFF,
	ST_FAILED,
	ST_FATAL,
	ST_STANDBY
};

static int state_of(const struct vigil_instance *inst)
{
	if (inst->worker) {
		switch (inst->worker->state) {
		case VIGIL_WORKER_DOWN: return ST_DOWN;
		case VIGIL_WORKER_STARTING: return ST_STARTING;
		case VIGIL_WORKER_IDLE:
		case VIGIL_WORKER_BUSY: return ST_RUNNING;
		case VIGIL_WORKER_BACKOFF: return ST_BACKOFF;
		case VIGIL_WORKER_FAILED: return ST_FAILED;
		case VIGIL_WORKER_FATAL: return ST_FATAL;
		case VIGIL_WORKER_STANDBY:
		case VIGIL_WORKER_PARKING: return ST_STANDBY;
		}
	}
	if (inst->started)
		return ST_RUNNING;
	if (inst->fatal)
		return ST_FATAL;
	return inst->init_failures ? ST_BACKOFF : ST_DOWN;
}

static void emit(const struct vigil_host *h, struct vigil_ctx *ctx,
		 const char *metric, const char *unit, double value,
		 const struct vigil_label *labels, size_t n)
{
	struct vigil_reading r = {
		.metric = metric, .unit = unit, .value = value,
		.labels = labels, .n_labels = n,
	};

	h->emit_reading(ctx, &r);
}

struct self {
	const struct vigil_host *host;
};

static int self_init(struct vigil_ctx *ctx, const struct vigil_host *host,
		     void **state)
{
	static struct self self; /* one vigild, one set of tables */

	if (!daemon_of) {
		host->log(ctx, VIGIL_LOG_ERR, "not attached to a daemon");
		return VIGIL_EFATAL;
	}
	self.host = host;
	*state = &self;
	return 0;
}

static void plugin_readings(const struct vigil_host *h, struct vigil_ctx *ctx,
			    const struct vigil_instance *inst)
{
	const struct vigil_label l[] = {
		{"instance", inst->section},
		{"plugin", inst->desc->name},
	};
	int st = state_of(inst);
	double p50 = vigil_instance_latency_q(inst, 0.50);
	double p99 = vigil_instance_latency_q(inst, 0.99);

	emit(h, ctx, "vigil.plugin.up", "", st == ST_RUNNING || st == ST_STANDBY,
	     l, 2);
	emit(h, ctx, "vigil.plugin.state", "", st, l, 2);
	emit(h, ctx, "vigil.plugin.restarts", "",
	     inst->worker ? (double)inst->worker->restarts : 0, l, 2);
	emit(h, ctx, "vigil.plugin.calls", "", (double)inst->calls, l, 2);
	emit(h, ctx, "vigil.plugin.errors", "", (double)inst->errors, l, 2);
	emit(h, ctx, "vigil.plugin.emitted", "", (double)inst->emitted, l, 2);
	emit(h, ctx, "vigil.plugin.queue_drops", "",
	     inst->worker ? (double)inst->worker->dropped : 0, l, 2);
	if (inst->worker && inst->worker->reason[0]) {
		/* Why its worker last died, as an info reading (the text in
		 * a label, the value 1), as Prometheus exporters give
		 * strings: one series per distinct reason. */
		const struct vigil_label lr[] = {
			l[0], l[1], {"reason", inst->worker->reason},
		};
		emit(h, ctx, "vigil.plugin.last_exit", "", 1, lr, 3);
	}
	if (p50 >= 0) {
		emit(h, ctx, "vigil.plugin.latency_p50_ms", "ms", p50, l, 2);
		emit(h, ctx, "vigil.plugin.latency_p99_ms", "ms", p99, l, 2);
	}
}

static int self_read(void *state, struct vigil_ctx *ctx)
{
	struct self *self = state;
	const struct vigil_host *h = self->host;
	struct vigil_daemon *d = daemon_of;
	const struct vigil_pipeline_stats *st = &d->pl.stats;

	for (size_t i = 0; i < d->n_all; i++)
		plugin_readings(h, ctx, d->all[i]);
	emit(h, ctx, "vigil.readings_in", "", (double)st->readings_in, NULL, 0);
	emit(h, ctx, "vigil.readings_dropped", "",
	     (double)st->readings_dropped, NULL, 0);
	emit(h, ctx, "vigil.readings_refused", "",
	     (double)st->readings_refused, NULL, 0);
	emit(h, ctx, "vigil.conditions_refused", "",
	     (double)st->conditions_refused, NULL, 0);
	emit(h, ctx, "vigil.series", "", (double)d->pl.series.count, NULL, 0);
	emit(h, ctx, "vigil.incidents_open", "",
	     (double)d->pl.incidents.n_open, NULL, 0);
	emit(h, ctx, "vigil.events", "", (double)st->events, NULL, 0);
	emit(h, ctx, "vigil.deliveries_failed", "",
	     (double)st->deliveries_failed, NULL, 0);
	emit(h, ctx, "vigil.undelivered", "",
	     (double)vigil_pipeline_undelivered(&d->pl), NULL, 0);
	emit(h, ctx, "vigil.uptime_s", "s",
	     (double)(vigil_monotonic() - d->started_at) / 1e9, NULL, 0);
	return 0;
}

static const struct vigil_option self_options[] = {VIGIL_OPTIONS_END};

static struct vigil_module selfmon_module = {
	.path = (char *)"(built into vigild)",
	.desc = {
		VIGIL_PLUGIN_HEADER(VIGIL_KIND_SENSOR, VIGIL_SELFMON_PLUGIN,
				    PACKAGE_VERSION),
		.description = "vigild's own health: plugin states, restarts, "
			       "latencies, queue counters",
		.options = self_options,
		.init = self_init,
		.read = self_read,
	},
};

struct vigil_module *vigil_selfmon_module(void)
{
	return &selfmon_module;
}
