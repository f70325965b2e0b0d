/*
 * pipeline.h - the staged data path inside the core:
 *
 *   sensors --readings--> [ring] --> rules --conditions--> [queue]
 *       --> incident manager --events--> [queue] --> actions, sinks
 *       readings -----------------------------------------> sinks (metrics)
 *
 * Readings wait in a bounded ring: when it is full the oldest are dropped
 * and counted, because a metric is perishable. Conditions and incident
 * events wait in queues that grow: they are never dropped.
 */
#ifndef VIGIL_PIPELINE_H
#define VIGIL_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "incident.h"
#include "instance.h"
#include "journal.h"
#include "remedy.h"
#include "route.h"
#include "series.h"
#include "silence.h"

struct vigil_qreading {
	struct vigil_series *series;
	double value;
	vigil_time_ns time;
	enum vigil_quality quality;
};

struct vigil_pipeline_stats {
	uint64_t readings_in;      /* accepted into the ring */
	uint64_t readings_dropped; /* pushed out of a full ring */
	uint64_t readings_refused; /* bad metric name, series limit */
	uint64_t conditions;
	/* firing conditions of a new key refused: VIGIL_OPEN_MAX incidents
	 * were open */
	uint64_t conditions_refused;
	uint64_t events;
	uint64_t deliveries_failed; /* attempts that failed */
	uint64_t deliveries_lost;   /* given up: a sink's queue was full */
	uint64_t actions_run;
	uint64_t remediations_failed;
	uint64_t rule_skipped; /* readings for a rule whose worker was down */
};

/* Events waiting for a sink, oldest first: delivered in order, one at a
 * time, and kept until the sink takes them (again later, after a failure,
 * with backoff). */
struct vigil_sink_queue {
	struct vigil_ev **ev;
	size_t head, len, cap;
	unsigned failures;
	vigil_time_ns retry_at; /* monotonic */
	size_t busy;      /* events from the head with the sink's worker */
	struct vigil_pipeline *pl;
	size_t k;         /* index of the sink */
	size_t sent;      /* delivered since the queue was last empty */
	int held;         /* events waited for the sink to run */
	vigil_time_ns over_since; /* monotonic: longer than the usual cap
				   * since (a burst), or 0 */
	uint64_t given_up;        /* given up and not said one by one yet */
	vigil_time_ns given_up_said; /* monotonic, when last said */
};

/* Undelivered events kept per sink before the oldest is given up (with an
 * error naming it). */
#define VIGIL_SINK_QUEUE_MAX 10000
/* ... and by a sink whose worker is running: a burst (see queue_cap in
 * pipeline.c). */
#define VIGIL_SINK_QUEUE_BURST 100000

struct vigil_pipeline {
	/* Borrowed instance lists, by kind; only started ones are used. */
	struct vigil_instance **rules, **sinks, **actions;
	size_t n_rules, n_sinks, n_actions;

	struct vigil_series_table series;

	struct vigil_qreading *ring;
	size_t ring_cap, ring_head, ring_len;

	struct vigil_cond *conds;
	size_t n_conds, cap_conds;

	struct vigil_ev **events;
	size_t n_events, cap_events;

	struct vigil_sink_queue *retry; /* one per sink */

	struct vigil_incidents incidents;
	struct vigil_silences silences;
	struct vigil_routing *routing; /* one per sink: what it was told */
	struct vigil_remedy remedy; /* actions under way, by incident */

	/* What must survive a restart (incidents, silences, events not yet
	 * delivered), or NULL: nothing is kept. */
	struct vigil_journal *journal;
	enum vigil_journal_sync journal_sync; /* as configured */
	uint64_t ev_seq;           /* of the last event journaled */
	uint64_t ids_reserved;     /* incident ids below it are journaled */
	/* journal_sync = always: the thread that fdatasyncs what a turn of
	 * the loop appended, so that the loop does not wait for the disk. */
	struct vigil_syncer *syncer;
	uint64_t sync_asked;       /* records appended when last asked */
	uint64_t journal_compacted; /* its size after the last compaction */
	int journal_failed;         /* appends fail: said once */
	/* Open incidents restored by the journal whose condition has not
	 * been seen since (ids), and when they are resolved if it is not. */
	uint64_t *unconfirmed;
	size_t n_unconfirmed;
	vigil_time_ns confirm_by;
	vigil_time_ns refused_said; /* monotonic: OPEN_MAX last said */

	struct vigil_pipeline_stats stats;

	vigil_time_ns drop_warned; /* monotonic, of the last drop warning */

	/* While a rule evaluates: the series it looks at. */
	struct vigil_series *cur_series;

	/* Injected clock, for tests; NULL means vigil_now. */
	vigil_time_ns (*clock)(void);
};

extern const struct vigil_emit_ops vigil_pipeline_emit;

/* What vigil_pipeline_emit.reading does, in two steps, for readings that
 * arrive from a sensor's worker by series id (proto.h): the series of
 * `r` (its metric, unit and labels), looked up or made once per id, NULL
 * when refused (bad name: *rc -EINVAL; series limit: -ENOSPC; counted
 * and said once); then each reading of it (its value, time and quality),
 * into the ring. A NULL series counts the reading as refused. */
struct vigil_series *vigil_pipeline_series(struct vigil_pipeline *pl,
					   struct vigil_instance *inst,
					   const struct vigil_reading *r,
					   int *rc);
void vigil_pipeline_sample(struct vigil_pipeline *pl,
			   struct vigil_instance *inst, struct vigil_series *s,
			   const struct vigil_reading *r);

/* `sinks` may hold at most 64 instances. Lists are borrowed. */
void vigil_pipeline_init(struct vigil_pipeline *pl, size_t ring_cap,
			 struct vigil_instance **rules, size_t n_rules,
			 struct vigil_instance **sinks, size_t n_sinks,
			 struct vigil_instance **actions, size_t n_actions);
void vigil_pipeline_free(struct vigil_pipeline *pl);

/* Moves everything queued through every stage. */
void vigil_pipeline_run(struct vigil_pipeline *pl);
/* The same, with at most `max` readings off the ring (all with 0): the
 * event loop's share, so that workers' replies are read between slices
 * of a big backlog instead of after it (a worker whose calls are all in
 * flight would drop batches meanwhile). Returns the readings left. */
size_t vigil_pipeline_run_some(struct vigil_pipeline *pl, size_t max);

/* What the clock does, at the pipeline's clock: next remediation
 * attempts and giving up (escalation and remediation_failed), repeats,
 * the end of flapping, silences that start or end. Returns when it is
 * next due, on that clock (wall time unless injected), or 0. */
vigil_time_ns vigil_pipeline_tick(struct vigil_pipeline *pl);

/* Calls flush on every started sink. */
void vigil_pipeline_flush(struct vigil_pipeline *pl);

/* Delivers again what sinks failed to take, for those whose backoff has
 * passed at monotonic time `now` (0: all of them, e.g. at shutdown). */
void vigil_pipeline_retry(struct vigil_pipeline *pl, vigil_time_ns now);

/* Events waiting for delivery, over all sinks. */
size_t vigil_pipeline_undelivered(const struct vigil_pipeline *pl);

/* Work still with workers or waiting for one that runs: calls queued or
 * in flight, events for running sinks. Shutdown waits for it to reach 0. */
size_t vigil_pipeline_pending(const struct vigil_pipeline *pl);

/* ------------------------------------------------ state kept (journal) */

/*
 * Opens the journal at `path` and replays it: incidents, silences, ids,
 * and the events sinks had not taken, queued again for them (sinks are
 * found by section; events for one no longer configured are given up,
 * with a line). The sinks are taken as told of the open incidents, so
 * their resolutions reach them. Then the journal is compacted. `sync`
 * ALWAYS is a group commit: vigil_pipeline_commit syncs what a turn of
 * the loop appended, before vigild waits again. Call after
 * vigil_pipeline_init, before anything is processed. 0 or -errno.
 */
int vigil_pipeline_journal_open(struct vigil_pipeline *pl, const char *path,
				enum vigil_journal_sync sync,
				vigil_time_ns sync_interval);
/* The open incidents restored so far must see their condition again
 * within `grace` (pipeline clock), or they are resolved: a condition that
 * cleared while vigild was down is not cleared again by a fresh rule.
 * 0: they stay open until their rule clears them. */
void vigil_pipeline_expect_confirmation(struct vigil_pipeline *pl,
					vigil_time_ns grace);
/* Makes what was journaled durable, per the policy; compacts when due.
 * Call once per turn of the loop. */
void vigil_pipeline_commit(struct vigil_pipeline *pl);
/* When the journal wants a commit (a monotonic time), or 0. */
vigil_time_ns vigil_pipeline_commit_due(const struct vigil_pipeline *pl);
void vigil_pipeline_journal_close(struct vigil_pipeline *pl);

/* ------------------------------------------------ operator requests */

/* Acknowledges incident `id` (vigilctl ack): as vigil_incidents_ack,
 * journaled, ACKNOWLEDGED sent. */
int vigil_pipeline_ack(struct vigil_pipeline *pl, uint64_t id, const char *by,
		       const char *comment, struct vigil_incident **out);
/* Resolves incident `id` by hand: as vigil_incidents_resolve_manual. */
int vigil_pipeline_resolve(struct vigil_pipeline *pl, uint64_t id);
/* Adds a silence (vigilctl silence add), journaled: as
 * vigil_silences_add. */
int vigil_pipeline_silence_add(struct vigil_pipeline *pl, const char *expr,
			       vigil_time_ns start, vigil_time_ns end,
			       const char *comment, const char *creator,
			       uint64_t *id, char *why, size_t whylen);
/* Removes silence `id`: 0 or -ENOENT. */
int vigil_pipeline_silence_remove(struct vigil_pipeline *pl, uint64_t id);
/* Silences changed outside the two above (INI ones): incidents look
 * again. */
void vigil_pipeline_silences_changed(struct vigil_pipeline *pl);

/* Sends an event made by the core without an incident (health) to the
 * sinks that take it; takes a reference. */
void vigil_pipeline_push_event(struct vigil_pipeline *pl, struct vigil_ev *ev);

/* Queues a condition built by the core itself (e.g. plugin_failed). */
void vigil_pipeline_push_condition(struct vigil_pipeline *pl,
				   struct vigil_cond *c);

/* Queues the critical plugin_failed{instance=SECTION} condition (firing,
 * or its clear), labelled with the instance and the plugin; `message` is
 * copied, `value` is the number of restarts. */
void vigil_pipeline_plugin_failed(struct vigil_pipeline *pl,
				  const char *section, const char *plugin,
				  int firing, const char *message,
				  double value);

#endif
