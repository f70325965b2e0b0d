/*
 * restart.h - when to restart a plugin worker that died: exponential
 * backoff with jitter, and an OTP-style restart intensity (at most
 * max_restarts within window; beyond it the instance is FAILED and tried
 * again only after failed_retry).
 *
 * Pure: times and randomness are passed in, so the policy is tested
 * without processes or sleeps.
 */
#ifndef VIGIL_RESTART_H
#define VIGIL_RESTART_H

#include <stdint.h>

#include <vigil/plugin.h>

#define VIGIL_RESTART_HISTORY 64 /* largest max_restarts accepted */

struct vigil_restart_policy {
	vigil_time_ns delay;         /* first backoff */
	vigil_time_ns delay_max;     /* backoff cap */
	vigil_time_ns healthy_after; /* up this long: backoff starts over */
	unsigned max_restarts;       /* within `window` ... */
	vigil_time_ns window;
	vigil_time_ns failed_retry; /* ... else FAILED, retried after this */
};

struct vigil_restart_state {
	/* Ring of death times: one more than the most restarts allowed, so
	 * that the death past max_restarts = 64 is seen too. */
	vigil_time_ns deaths[VIGIL_RESTART_HISTORY + 1];
	unsigned n_deaths, next;
	unsigned streak;        /* consecutive quick deaths: backoff exponent */
	vigil_time_ns started;  /* when the current worker started */
};

enum vigil_restart_verdict {
	VIGIL_RESTART_AFTER = 1,  /* restart after *delay */
	VIGIL_RESTART_FAILED = 2, /* too many: FAILED, retry after *delay */
};

/* A worker was started at `now`. */
void vigil_restart_started(struct vigil_restart_state *st, vigil_time_ns now);

/* A worker died at `now`; `rnd` is any random 32 bits for jitter. */
enum vigil_restart_verdict
vigil_restart_decide(const struct vigil_restart_policy *p,
		     struct vigil_restart_state *st, vigil_time_ns now,
		     uint32_t rnd, vigil_time_ns *delay);

/* The backoff for the n-th consecutive failure (n >= 1), before jitter:
 * delay * 2^(n-1), capped at delay_max. */
vigil_time_ns vigil_restart_backoff(const struct vigil_restart_policy *p,
				    unsigned n);

#endif
