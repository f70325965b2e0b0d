/*
 * instance.h - one configured plugin instance ([kind.NAME]) and the host
 * table its plugin calls back through.
 */
#ifndef VIGIL_INSTANCE_H
#define VIGIL_INSTANCE_H

#include <stdint.h>

#include <vigil/plugin.h>

#include "conf.h"
#include "loader.h"
#include "parse.h"
#include "remedy.h"

struct vigil_instance;

/* What the opaque handle given to plugins really is. */
struct vigil_ctx {
	struct vigil_instance *inst;
};

/* One option of an instance: its schema entry and its value. */
struct vigil_optslot {
	const struct vigil_option *opt;
	const char *value; /* owned copy of the INI's value or the default;
			    * NULL if unset */
	int line;          /* line in the INI, 0 for a default */
	union vigil_optval v;
};

/* Where an instance's emitted readings and conditions go. */
struct vigil_emit_ops {
	int (*reading)(void *user, struct vigil_instance *inst,
		       const struct vigil_reading *r);
	int (*condition)(void *user, struct vigil_instance *inst,
			 const struct vigil_condition *c);
};

struct vigil_instance {
	enum vigil_kind kind;
	char *section;    /* "sensor.cpu" */
	const char *name; /* "cpu", inside `section` */
	int line;         /* of the section header */
	int enabled;
	struct vigil_module *mod;
	const struct vigil_plugin *desc; /* &mod->desc */

	struct vigil_optslot *opts;
	size_t n_opts;

	struct vigil_ctx ctx;
	void *state;
	int started;

	const struct vigil_emit_ops *emit;
	void *emit_user;
	/* The thread that runs the instance's callbacks (the core's loop, or
	 * its worker's), by the address of a thread-local (no call to find
	 * it on every emit): host calls from any other thread are refused. */
	const void *owner;
	int foreign_said; /* the refusal was logged (atomic) */

	/* Core settings, by kind. */
	vigil_time_ns interval;      /* sensor */
	int isolated;                /* sensor: isolation = process */
	vigil_time_ns timeout;       /* sensor: deadline of a call */
	uint64_t memory_limit;       /* sensor: worker RSS, 0 for none */
	vigil_time_ns restart_delay, restart_delay_max, restart_window;
	/* Actions: a worker with nothing to run stops after this long and
	 * starts again for the next attempt (0: always running). */
	vigil_time_ns idle_timeout;
	vigil_time_ns failed_retry;
	unsigned max_restarts;
	struct vigil_worker *worker; /* when isolated */
	const char *worker_group;    /* `worker = NAME`, NULL: its own */
	char *broken;        /* the plugin crashed or hung being probed: why */
	char *broken_plugin; /* and the plugin it names */
	struct vigil_selector match; /* rule: readings; sink: metrics */
	struct vigil_selector on;    /* action, sink: incident key or type
				      * globs (sink: `match`) */
	vigil_time_ns dedupe;        /* sink: per (key, severity) */
	int health;                  /* sink: takes health reports */
	struct vigil_remedy_policy remedy; /* action: attempts, verify, ... */
	enum vigil_severity min_severity; /* action, sink */
	int events, metrics, send_resolved; /* sink */

	/* Latencies of the last calls, in ms, for p50/p99 (see
	 * vigil_instance_latency). */
	float lat_ms[64];
	unsigned lat_n, lat_next;

	/* Run time. */
	int index;              /* among instances of its kind */
	vigil_time_ns next_due; /* monotonic */
	int read_late;          /* due while its worker still read: read
				 * again as soon as that read ends */
	unsigned failures;      /* consecutive failed calls */
	int fatal;              /* init said VIGIL_EFATAL: never retried */
	unsigned init_failures; /* consecutive failed inits */
	vigil_time_ns retry_at; /* monotonic: next init attempt */
	uint64_t calls, errors, emitted;
	size_t n_series; /* sensor: series it made in the core's table */
};

/* The core's own keys for a kind, as a schema: plugin, enabled, interval,
 * match, ... Exposed for --help and tests. */
const struct vigil_option *vigil_core_options(enum vigil_kind kind);
/* Keys of [daemon]. */
extern const struct vigil_option vigil_daemon_options[];
/* Keys of [incidents]. */
extern const struct vigil_option vigil_incidents_options[];

/*
 * Checks `values` (the keys of one section, from `conf`) against the
 * schemas `a` and `b` (either may be NULL), filling `slots`. Every problem is
 * added to `d` as "file:line: [section] ...". Returns the number of errors.
 */
size_t vigil_options_bind(const struct vigil_conf *conf,
			  const struct vigil_conf_section *sec,
			  const struct vigil_option *a,
			  const struct vigil_option *b,
			  struct vigil_optslot **slots, size_t *n_slots,
			  struct vigil_diag *d);
void vigil_optslots_free(struct vigil_optslot *s, size_t n);
const struct vigil_optslot *vigil_optslot_find(const struct vigil_optslot *s,
					       size_t n, const char *key);

/*
 * Builds an instance from a [kind.NAME] section: loads its plugin and checks
 * every key. Returns NULL when the section is wrong (reasons in `errors`);
 * a disabled section whose plugin cannot be found yields a warning and NULL.
 * A plugin that crashed or hung while probed yields an instance with
 * `broken` set (and no module), which never runs: vigild reports it as a
 * failed plugin instead of refusing the whole configuration.
 */
struct vigil_instance *vigil_instance_new(const struct vigil_conf *conf,
					  const struct vigil_conf_section *sec,
					  struct vigil_loader *loader,
					  struct vigil_diag *errors,
					  struct vigil_diag *warnings);
/* Calls the plugin's init. 0, or its negative error (logged). */
int vigil_instance_start(struct vigil_instance *inst,
			 const struct vigil_emit_ops *emit, void *user);
void vigil_instance_stop(struct vigil_instance *inst);

/* Records how long one call took. */
void vigil_instance_latency(struct vigil_instance *inst, vigil_time_ns ns);
/* The q-quantile (0..1) of the recorded latencies in ms; -1 if none. */
double vigil_instance_latency_q(const struct vigil_instance *inst, double q);
void vigil_instance_free(struct vigil_instance *inst);

extern const struct vigil_host vigil_host_table;

/* --check-config: while set, the error lines inst's plugin logs through
 * the host table are not written; the first is kept in buf (its reason
 * for refusing, for the check's one FILE:LINE message), and the core's
 * own "init failed" is left out. vigil_instance_tap(NULL, NULL, 0) ends
 * it. Single-threaded use only. */
void vigil_instance_tap(const struct vigil_instance *inst, char *buf,
			size_t size);

/* What host->state_dir returns; set by the daemon before instances start. */
void vigil_host_set_state_dir(const char *dir);

#endif
