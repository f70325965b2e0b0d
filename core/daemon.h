/*
 * daemon.h - vigild as a whole: configuration to instances, the event loop,
 * shutdown.
 */
#ifndef VIGIL_DAEMON_H
#define VIGIL_DAEMON_H

#include <stddef.h>
#include <sys/types.h>

#include "conf.h"
#include "health.h"
#include "instance.h"
#include "loader.h"
#include "pipeline.h"
#include "spawner.h"
#include "worker.h"

/* sysexits.h's EX_CONFIG: what --check-config returns for a bad file. */
#define VIGIL_EXIT_CONFIG 78

struct vigil_daemon_opts {
	const char *config;      /* path of vigil.ini */
	const char *plugin_path; /* overrides [daemon] plugin_path */
	const char *state_dir;   /* overrides [daemon] state_dir */
	const char *control_socket; /* overrides [daemon] control_socket */
	int log_level;           /* -1: from the file */
	int log_target;          /* -1: from the file */
};

struct vigil_control;

struct vigil_daemon {
	struct vigil_daemon_opts opts;
	struct vigil_conf conf;
	struct vigil_loader loader;
	struct vigil_optslot *dopts;
	size_t n_dopts;

	struct vigil_instance **all; /* every enabled, valid instance */
	size_t n_all, cap_all;
	struct vigil_instance **by_kind[5];
	size_t n_kind[5], cap_kind[5];
	size_t n_disabled;
	/* Enabled instances whose plugin crashed or hung while probed: they
	 * never run; each opens a plugin_failed incident at start. */
	struct vigil_instance **broken;
	size_t n_broken, cap_broken;

	struct vigil_pipeline pl;
	vigil_time_ns flush_interval;
	char *state_dir;

	/* [incidents] */
	struct vigil_optslot *iopts;
	size_t n_iopts;
	struct vigil_incident_policy policy;
	vigil_time_ns restore_grace;
	/* [silence.NAME] sections, checked at load; put into the pipeline's
	 * set after the journal's. */
	struct vigil_silences ini_silences;
	/* The journal: state_dir/journal. */
	enum vigil_journal_sync journal_sync;
	vigil_time_ns journal_sync_interval;
	/* When vigil_pipeline_tick is next due (monotonic). */
	vigil_time_ns next_pl_tick;

	int epfd, sigfd, timerfd;
	/* The signals' second way in: their handler writes the number here,
	 * for when a thread that does not block them takes one (a plugin's
	 * thread inside vigild). */
	int sigpipe[2];
	int signals_said; /* a plugin inside vigild changed them: said once */
	struct vigil_worker_env wenv;
	struct vigil_spawner spawner; /* forks the workers */
	struct vigil_wgroup *groups; /* `worker = NAME`: shared workers */
	size_t n_groups;
	int stop;
	vigil_time_ns started_at;

	/* The control socket (core/daemon_ctl.c): where, for whom, and the
	 * server once open (NULL: none, vigild runs without). */
	char *control_path;
	int control_explicit; /* set by -S or [daemon]: failing to open it
			       * stops vigild; the default only warns */
	gid_t control_gid;    /* control_group, (gid_t)-1 for none */
	struct vigil_control *ctl;

	/* [health] (core/daemon_ctl.c): the report is collected and
	 * published every health.interval once vigild is ready; the last
	 * one is kept for `vigilctl health`. */
	struct vigil_health_config health;
	struct vigil_health last_health;
	int have_health;                /* last_health holds a report */
	vigil_time_ns last_health_at;   /* wall clock, when collected */
	vigil_time_ns next_health;      /* monotonic; 0: the first is due */

	/* systemd notification (core/notify.c) */
	size_t notified_running;         /* in the last STATUS= sent */
	int ready;                       /* READY=1 sent */
	int backlog;                     /* readings left for the next turn */
	vigil_time_ns watchdog_interval; /* keep-alive period; 0: none */
	vigil_time_ns next_watchdog;     /* next WATCHDOG=1, monotonic */
};

/* Reads and checks the configuration and loads every plugin it names.
 * Problems go to `errors` (any makes it unusable) and `warnings`. Returns
 * the number of errors. */
size_t vigil_daemon_load(struct vigil_daemon *d,
			 const struct vigil_daemon_opts *opts,
			 struct vigil_diag *errors, struct vigil_diag *warnings);

/* --check-config: also runs each plugin's init and fini, so its own
 * semantic checks speak; reads nothing. Returns the number of errors. */
size_t vigil_daemon_check(struct vigil_daemon *d, struct vigil_diag *errors,
			  struct vigil_diag *warnings);

/* Starts every instance on d->pl (initialised), consumers first so the
 * first readings find their way; returns how many started. Those that
 * did not are retried by the loop. */
size_t vigil_daemon_start_all(struct vigil_daemon *d, vigil_time_ns now);
/* Stops them, producers first. */
void vigil_daemon_stop_all(struct vigil_daemon *d);

/* Instances up: in-process and started, or with a worker that takes calls
 * (running, standby; a worker still answering init only if `starting`).
 * systemd's STATUS= and vigilctl's status do not count one starting. */
size_t vigil_daemon_count_running(const struct vigil_daemon *d, int starting);

/* Starts the instances and runs until SIGTERM or SIGINT. 0 or -errno. */
int vigil_daemon_run(struct vigil_daemon *d);

void vigil_daemon_free(struct vigil_daemon *d);

#endif
