/*
 * restart.c - the restart policy of plugin workers.
 */
#include "config.h"

#include <string.h>

#include "restart.h"
#include "util.h"

void vigil_restart_started(struct vigil_restart_state *st, vigil_time_ns now)
{
	st->started = now;
}

vigil_time_ns vigil_restart_backoff(const struct vigil_restart_policy *p,
				    unsigned n)
{
	vigil_time_ns t = p->delay > 0 ? p->delay : 0;

	while (n-- > 1 && t < p->delay_max)
		t *= 2;
	return t < p->delay_max ? t : p->delay_max;
}

/* Deaths recorded within `window` before `now`. */
static unsigned recent_deaths(const struct vigil_restart_policy *p,
			      const struct vigil_restart_state *st,
			      vigil_time_ns now)
{
	unsigned n = 0;

	for (unsigned i = 0; i < st->n_deaths; i++)
		if (now - st->deaths[i] <= p->window)
			n++;
	return n;
}

enum vigil_restart_verdict
vigil_restart_decide(const struct vigil_restart_policy *p,
		     struct vigil_restart_state *st, vigil_time_ns now,
		     uint32_t rnd, vigil_time_ns *delay)
{
	unsigned limit = p->max_restarts < VIGIL_RESTART_HISTORY ?
				 p->max_restarts :
				 VIGIL_RESTART_HISTORY;
	vigil_time_ns base;

	/* A worker that stayed up long enough was healthy: this death starts
	 * a new streak, as if it were the first. */
	if (st->started && now - st->started >= p->healthy_after)
		st->streak = 0;
	st->streak++;

	st->deaths[st->next] = now;
	st->next = (st->next + 1) % VIGIL_ARRAY_SIZE(st->deaths);
	if (st->n_deaths < VIGIL_ARRAY_SIZE(st->deaths))
		st->n_deaths++;

	/* More than max_restarts deaths within the window: give up for a
	 * while. The history starts over so the retry gets a full budget. */
	if (recent_deaths(p, st, now) > limit) {
		st->n_deaths = st->next = 0;
		st->streak = 0;
		*delay = p->failed_retry;
		return VIGIL_RESTART_FAILED;
	}

	/* Jitter of up to a quarter of the backoff, so many workers that die
	 * together (a shared dependency went away) do not restart in step. */
	base = vigil_restart_backoff(p, st->streak);
	*delay = base + (vigil_time_ns)((double)base * 0.25 *
					((double)rnd / 4294967296.0));
	return VIGIL_RESTART_AFTER;
}
