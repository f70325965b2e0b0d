/*
 * worker.h - a plugin instance in its own process, supervised.
 *
 * The core forks the worker; the worker (still vigild's code, after fork)
 * puts itself in a process group of its own, loads the plugin's .so, runs
 * init, and serves calls sent over a socketpair as frames (proto.h). The
 * plugin sees the same host table as in-process: only where its emitted
 * readings go differs, so one binary works both ways.
 *
 * The core never waits on a worker: a call is sent, its replies arrive
 * through the event loop, and a deadline bounds it. A worker that dies,
 * hangs past its deadline, grows past memory_limit or sends a bad frame is
 * killed with its whole process group, reaped, and restarted under the
 * restart policy (restart.h); past the restart intensity it is FAILED,
 * which opens a critical plugin_failed incident.
 *
 * vigild 0.1: sensors run in workers; rules, actions and sinks still run
 * in the core.
 */
#ifndef VIGIL_WORKER_H
#define VIGIL_WORKER_H

#include <stdint.h>
#include <sys/types.h>

#include "restart.h"

struct vigil_instance;
struct vigil_pipeline;

enum vigil_worker_state {
	VIGIL_WORKER_DOWN = 0,  /* not started yet */
	VIGIL_WORKER_STARTING,  /* forked, init not answered yet */
	VIGIL_WORKER_IDLE,      /* ready for a call */
	VIGIL_WORKER_BUSY,      /* a call in flight */
	VIGIL_WORKER_BACKOFF,   /* died; restarts at restart_at */
	VIGIL_WORKER_FAILED,    /* died too often; retried at restart_at */
	VIGIL_WORKER_FATAL,     /* misconfigured: never retried */
};

/* Worker exit statuses with a meaning of their own. */
#define VIGIL_WORKER_EXIT_LOAD 70   /* the .so could not be loaded */
#define VIGIL_WORKER_EXIT_SOCKET 71 /* the plugin broke the socket */
#define VIGIL_WORKER_EXIT_CONFIG 78 /* init said VIGIL_EFATAL */

struct vigil_worker {
	struct vigil_instance *inst;
	enum vigil_worker_state state;
	pid_t pid;
	int fd;
	uint16_t seq;
	vigil_time_ns deadline; /* monotonic, of the call in flight */
	vigil_time_ns call_sent; /* monotonic, when it was sent */
	const char *call;       /* its name, for the log */
	vigil_time_ns mem_check_at;
	vigil_time_ns restart_at;

	unsigned char *rx;
	size_t rx_len, rx_cap;

	struct vigil_restart_policy policy;
	struct vigil_restart_state rs;
	uint64_t restarts;
	char reason[192]; /* why the last worker died, "" if none has */
	char init_error[96]; /* what a failed init replied, for its exit */
	int failed_incident; /* a plugin_failed incident is open */
};

/* What workers need of the daemon. */
struct vigil_worker_env {
	struct vigil_pipeline *pl;
	int epfd;
};

void vigil_worker_init(struct vigil_worker *w, struct vigil_instance *inst);

/* Forks and starts the worker; on failure it is in BACKOFF. */
void vigil_worker_spawn(struct vigil_worker *w,
			const struct vigil_worker_env *env, vigil_time_ns now);

/* Asks an idle worker's sensor to read. 0, or -EBUSY while the previous
 * call runs, -ENOTCONN when no worker is ready. */
int vigil_worker_read(struct vigil_worker *w, vigil_time_ns now);

/* The worker's socket is readable (or hung up). */
void vigil_worker_io(struct vigil_worker *w,
		     const struct vigil_worker_env *env, vigil_time_ns now);

/* SIGCHLD arrived: notices if this worker died. */
void vigil_worker_sigchld(struct vigil_worker *w,
			  const struct vigil_worker_env *env, vigil_time_ns now);

/* Deadlines, the memory limit and restarts due at `now`. Returns the
 * worker's next deadline, or 0 for none. */
vigil_time_ns vigil_worker_tick(struct vigil_worker *w,
				const struct vigil_worker_env *env,
				vigil_time_ns now);

/* Asks the worker to finish (fini), waits at most `grace`, then kills its
 * process group. */
void vigil_worker_stop(struct vigil_worker *w,
		       const struct vigil_worker_env *env, vigil_time_ns grace);
void vigil_worker_free(struct vigil_worker *w);

/* --check-config for an isolated instance: init and fini in a child.
 * Returns 0, VIGIL_EFATAL, or another negative error. */
int vigil_worker_check(struct vigil_instance *inst);

const char *vigil_worker_state_name(enum vigil_worker_state s);

#endif
