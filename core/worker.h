/*
 * worker.h - a plugin instance in its own process, supervised.
 *
 * The worker is forked (by the spawner, spawner.h, or else by the core);
 * the worker (still vigild's code, after fork) puts itself in a process
 * group of its own, loads the plugin's .so, runs init, and serves calls
 * sent over a socketpair as frames (proto.h). The
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
 * Every kind runs in workers (`isolation = process`, the default); the
 * workers are forked by the spawner (spawner.h) when there is one.
 */
#ifndef VIGIL_WORKER_H
#define VIGIL_WORKER_H

#include <stdint.h>
#include <sys/types.h>

#include "proto.h"
#include "restart.h"

struct vigil_instance;
struct vigil_pipeline;
struct vigil_series;
struct vigil_spawner;
struct vigil_worker;
struct vigil_wire_reader;

/* How a call ended: rc is the plugin's return value, or -ETIMEDOUT (past
 * its deadline), -ECONNRESET (the worker died), -ENOTCONN (the worker was
 * never reached: dropped from the queue). `reply` points after rc in the
 * REPLY frame for calls that return more (run), NULL otherwise. */
typedef void (*vigil_worker_done)(void *arg, struct vigil_worker *w, int rc,
				  struct vigil_wire_reader *reply);

struct vigil_wcall {
	struct vigil_wcall *next;
	int type;               /* enum vigil_msg */
	/* The frame; seq and length set at send. A call that is not a
	 * batch (deliver, run, ...) uses b.frame only. */
	struct vigil_batch b;
	int stripped;           /* a batch dropped, its definitions kept */
	uint16_t seq;           /* its sequence number, once sent */
	vigil_worker_done done;
	void *arg;
};

enum vigil_worker_state {
	VIGIL_WORKER_DOWN = 0,  /* not started yet */
	VIGIL_WORKER_STARTING,  /* forked, init not answered yet */
	VIGIL_WORKER_IDLE,      /* ready for a call */
	VIGIL_WORKER_BUSY,      /* calls in flight */
	VIGIL_WORKER_BACKOFF,   /* died; restarts at restart_at */
	VIGIL_WORKER_FAILED,    /* died too often; retried at restart_at */
	VIGIL_WORKER_FATAL,     /* misconfigured: never retried */
	VIGIL_WORKER_STANDBY,   /* stopped while idle (idle_timeout); the
				 * next call starts it */
	VIGIL_WORKER_PARKING,   /* asked to stop while idle; STANDBY once
				 * it has exited */
};

/* The most series one sensor's worker may define to the core (twice the
 * core's own limit: a series the core refuses still takes an id). */
#define VIGIL_WORKER_SERIES_MAX 200000

/* Calls in flight to one worker at most. */
#define VIGIL_WORKER_INFLIGHT 4

/* Instances one worker process may serve (`worker = NAME`). */
#define VIGIL_GROUP_MAX 16

/* Worker exit statuses with a meaning of their own. */
#define VIGIL_WORKER_EXIT_LOAD 70   /* the .so could not be loaded */
#define VIGIL_WORKER_EXIT_SOCKET 71 /* the plugin broke the socket */
#define VIGIL_WORKER_EXIT_CONFIG 78 /* init said VIGIL_EFATAL */

/*
 * Instances that name the same `worker = NAME` share one worker process
 * (a supervisor's one_for_all, with blame): the process serves them one
 * call at a time. When it dies, the member it was serving at that moment
 * (a page shared with it says which) takes the death as its own - the
 * restart policy, FAILED, plugin_failed - and leaves the group: it runs in
 * a worker of its own from then on. The others are restarted together at
 * once, their restart counted, no death held against them. A death no
 * member can be blamed for (the memory limit, which is the process's)
 * counts for every member, and the group dissolves.
 */
struct vigil_wgroup {
	char *name;
	struct vigil_worker *m[VIGIL_GROUP_MAX];
	size_t n;
	/* The members the running process was started with, in its order:
	 * the shared page's word indexes this. */
	struct vigil_worker *at[VIGIL_GROUP_MAX];
	size_t n_at;
	pid_t pid;              /* 0: not running */
	int slot;               /* its word in the shared page */
	uint64_t memory_limit;  /* the members' limits added; 0: none */
};

struct vigil_worker {
	struct vigil_instance *inst;
	struct vigil_wgroup *group; /* NULL: a worker of its own */
	int fault; /* why it is about to die (WORKER_FAULT_*, worker.c) */
	enum vigil_worker_state state;
	pid_t pid;
	int fd;
	int epfd; /* the daemon's, where fd is registered */
	uint16_t seq;
	vigil_time_ns deadline; /* monotonic, of the oldest call in flight */
	vigil_time_ns call_sent; /* monotonic, when the worker could start
				  * it: sent, or the call before answered */
	const char *call;       /* its name, for the log */
	vigil_time_ns mem_check_at;
	vigil_time_ns restart_at;
	vigil_time_ns last_call; /* monotonic, when the last call ended */
	int woken;               /* started from STANDBY, not (re)started */
	/* Asked to stop while its group goes on (a sensor sharing a worker
	 * with a sink): its call in flight has until `deadline`, and missing
	 * it is said as such. */
	int stop_asked;

	unsigned char *rx;
	size_t rx_len, rx_cap;

	/* Calls waiting, and those in flight (sent or being sent, oldest
	 * first: the worker answers them in order). Up to
	 * VIGIL_WORKER_INFLIGHT are in flight, so a worker finds its next
	 * batch already in its socket when it ends one. */
	struct vigil_wcall *q_head, *q_tail, *inflight, *inflight_tail;
	size_t q_len, q_batches, n_inflight;
	struct vigil_wcall *tx; /* the first call in flight not all written */
	size_t tx_off;  /* bytes of tx's frame already written */
	int want_out;   /* EPOLLOUT is registered */
	uint64_t dropped; /* readings dropped from the queue */
	/* Series ids (the core's) defined to this worker process: bit i of
	 * known[i / 64]. Cleared when the process ends. */
	uint64_t *known;
	size_t n_known;
	/* A sensor's series, by the ids its worker process gave them (1, 2,
	 * ...); NULL where the core refused the series. */
	struct vigil_series **in;
	size_t n_in, cap_in;
	vigil_time_ns drop_warned;

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
	struct vigil_spawner *spawner; /* NULL: the core forks workers */
};

void vigil_worker_init(struct vigil_worker *w, struct vigil_instance *inst);

/* Gathers the isolated instances of `all` that name a `worker` into
 * groups (making their struct vigil_worker), and maps the page they share
 * with their worker processes. Before the spawner is forked. Returns the
 * number of groups, *out an array of them (vigil_worker_groups_free). */
size_t vigil_worker_groups(struct vigil_instance *const *all, size_t n,
			   struct vigil_wgroup **out);
void vigil_worker_groups_free(struct vigil_wgroup *g, size_t n);

/* Forks and starts the worker; on failure it is in BACKOFF. */
void vigil_worker_spawn(struct vigil_worker *w,
			const struct vigil_worker_env *env, vigil_time_ns now);

/* Asks an idle worker's sensor to read; `done` is called when it ends.
 * 0, or -EBUSY while the previous call runs, -ENOTCONN when no worker is
 * ready. */
int vigil_worker_read(struct vigil_worker *w, vigil_time_ns now,
		      vigil_worker_done done, void *arg);

/* True while the worker takes calls: starting, idle or busy. */
int vigil_worker_accepting(const struct vigil_worker *w);

/* Queues a call of `type` (deliver, run, flush) whose payload the caller
 * appends to call->b.frame with vigil_wire_put_*, then sends it with
 * vigil_worker_commit. NULL when the worker is not accepting. */
struct vigil_wcall *vigil_worker_call(struct vigil_worker *w, int type,
				      vigil_worker_done done, void *arg);
/* Adds reading `r` (of series r->series_id, whose strings r carries) to
 * the batch of `type` (eval, write) being gathered for the worker: the
 * last queued call if it is one and has room, else a new one. The
 * series' strings go with it only if this worker process has not had
 * them yet. -ENOTCONN when the worker is not accepting. */
int vigil_worker_add(struct vigil_worker *w, int type,
		     const struct vigil_reading *r);
/* Sends the next queued call if the worker is idle. */
void vigil_worker_commit(struct vigil_worker *w, vigil_time_ns now);
/* Calls queued or in flight. */
size_t vigil_worker_pending(const struct vigil_worker *w);

/* The worker's socket is readable or writable (or hung up). */
void vigil_worker_io(struct vigil_worker *w,
		     const struct vigil_worker_env *env, unsigned events,
		     vigil_time_ns now);

/* SIGCHLD arrived: notices if this worker died. */
void vigil_worker_sigchld(struct vigil_worker *w,
			  const struct vigil_worker_env *env, vigil_time_ns now);

/* Deadlines, the memory limit and restarts due at `now`. Returns the
 * worker's next deadline, or 0 for none. */
vigil_time_ns vigil_worker_tick(struct vigil_worker *w,
				const struct vigil_worker_env *env,
				vigil_time_ns now);

/* Asks n workers at once (NULL entries skipped) to finish (fini), all
 * within one `grace`: FINI to each, SIGTERM halfway to those still there,
 * SIGKILL to their process groups at the end, each named in the log.
 * Shutdown thus takes `grace` at most however many plugins hang in fini
 * or ignore SIGTERM. */
void vigil_workers_stop(struct vigil_worker **ws, size_t n,
			const struct vigil_worker_env *env,
			vigil_time_ns grace);
void vigil_worker_free(struct vigil_worker *w);

/* The worker process's side, in a new child of the core: sets itself up,
 * loads and starts the instance's plugin, and serves calls on `fd` until
 * the core closes it. Never returns. */
void __attribute__((noreturn))
vigil_worker_main(struct vigil_instance *inst, int fd, pid_t core);
/* The same for the n instances of a group, fds[i] for insts[i], `slot` its
 * word in the shared page (-1: none). */
void __attribute__((noreturn))
vigil_group_main(struct vigil_instance *const *insts, const int *fds, size_t n,
		 pid_t core, int slot);

/* --check-config for an isolated instance: init and fini in a child.
 * Returns 0, VIGIL_EFATAL, or another negative error. */
int vigil_worker_check(struct vigil_instance *inst, char *why, size_t size);

const char *vigil_worker_state_name(enum vigil_worker_state s);

#endif
