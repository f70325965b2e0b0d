/*
 * spawner.h - forks the workers from a small process that stays still.
 *
 * The spawner is forked from the core once, early (before the pipeline,
 * the journal and the control socket exist), and forks each worker on the
 * core's request, cloned so that the worker is the core's child. A worker
 * forked from it shares the spawner's few unchanging pages with every
 * other worker, instead of owning a stale copy of the core's heap. If the
 * spawner cannot be started, or dies, the core forks workers itself: the
 * same workers, only bigger.
 */
#ifndef VIGIL_SPAWNER_H
#define VIGIL_SPAWNER_H

#include <stddef.h>
#include <sys/types.h>

struct vigil_instance;

struct vigil_spawner {
	pid_t pid; /* 0: none */
	int fd;    /* to the spawner, -1: none */
};

/* A spawner is started when at least this many worker processes run from
 * the start (docs/performance.md: what a worker forked by the core keeps
 * of the core's pages, against what the spawner itself costs). */
#define VIGIL_SPAWNER_MIN_WORKERS 3

/* The worker processes `all` starts with: one per isolated instance, one
 * per worker group (as vigil_worker_groups made them); actions that wait
 * in standby not counted. */
size_t vigil_spawner_workers(struct vigil_instance *const *all, size_t n);

/* Forks the spawner, which serves the instances `all` (looked up by
 * section name; the array and what it points to must not change before
 * the fork). 1 when started, 0 when fewer than VIGIL_SPAWNER_MIN_WORKERS
 * workers run from the start, -errno. */
int vigil_spawner_start(struct vigil_spawner *s,
			struct vigil_instance *const *all, size_t n);

/* Has the spawner fork the worker of the n instances `insts` (one, or
 * the members of a group, whose word in the shared page is `slot`, else
 * -1), with fds[i] the worker's end of insts[i]'s socketpair (still the
 * caller's to close). Returns the worker's pid, a child of the caller;
 * -ENOTCONN when there is no spawner (or it failed now: it is dropped with
 * one warning), another -errno when the fork failed. */
pid_t vigil_spawner_spawn(struct vigil_spawner *s,
			  struct vigil_instance *const *insts, const int *fds,
			  size_t n, int slot);

/* On SIGCHLD: reaps the spawner if it died, with one warning. */
void vigil_spawner_sigchld(struct vigil_spawner *s);

/* Stops and reaps the spawner (at shutdown). */
void vigil_spawner_stop(struct vigil_spawner *s);

#endif
