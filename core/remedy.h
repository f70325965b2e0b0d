/*
 * remedy.h - the remediation policy: when an action runs on an incident.
 *
 * Pure state with an injected clock, like the incident manager. Per action
 * instance and incident there is at most one entry:
 *
 *   - An incident event that concerns the action (opened, or escalated to
 *     its min_severity) starts attempt 1, unless an entry exists: a flapping
 *     or escalating incident does not multiply attempts.
 *   - One attempt at a time. When it ends, whatever its outcome, the
 *     incident has `verify` to clear (and the action rests at least
 *     `cooldown`): if it resolves, the entry goes and the remediation
 *     worked. If it is still open then, the next attempt starts, up to
 *     `attempts`; after the last one the remediation has failed: the
 *     incident is escalated and a remediation_failed event is made, once.
 *   - An attempt never waits for the pipeline: the caller runs it (in the
 *     action's worker) and reports its end with vigil_remedy_done.
 */
#ifndef VIGIL_REMEDY_H
#define VIGIL_REMEDY_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct vigil_remedy_policy {
	unsigned attempts;      /* at least 1 */
	vigil_time_ns cooldown; /* least time between two attempts' ends and
				 * starts */
	vigil_time_ns verify;   /* time given to the condition to clear */
};

enum vigil_remedy_state {
	VIGIL_REMEDY_RUNNING = 1, /* an attempt is under way */
	VIGIL_REMEDY_WAITING,     /* verifying / cooling down until `due` */
	VIGIL_REMEDY_FAILED,      /* attempts ran out; kept until resolved */
};

struct vigil_remedy_entry {
	size_t action; /* index of the action instance */
	uint64_t incident;
	enum vigil_remedy_state state;
	unsigned attempts; /* started so far */
	vigil_time_ns due; /* WAITING: when to look again */
};

struct vigil_remedy {
	struct vigil_remedy_entry *v;
	size_t n, cap;
};

/* What the caller must do for an entry. */
enum vigil_remedy_verdict {
	VIGIL_REMEDY_NOTHING = 0,
	VIGIL_REMEDY_RUN,     /* start an attempt now (already counted) */
	VIGIL_REMEDY_GIVE_UP, /* escalate, emit remediation_failed */
};

void vigil_remedy_init(struct vigil_remedy *r);
void vigil_remedy_free(struct vigil_remedy *r);

/* An event of incident `incident` concerns action `action`: RUN for a
 * first attempt, else NOTHING. */
enum vigil_remedy_verdict vigil_remedy_event(struct vigil_remedy *r,
					     size_t action, uint64_t incident,
					     vigil_time_ns now);

/* The attempt running for (action, incident) ended at `now`. */
void vigil_remedy_done(struct vigil_remedy *r,
		       const struct vigil_remedy_policy *p, size_t action,
		       uint64_t incident, vigil_time_ns now);

/* The incident resolved (or went away): its entries go. Returns how many
 * attempts had been made for it, over all actions (0: none). */
unsigned vigil_remedy_resolved(struct vigil_remedy *r, uint64_t incident);

/* Entries due at `now`, one at a time: returns the verdict for the next
 * due entry and fills *action and *incident, or NOTHING when none is due.
 * `policy(action)` gives each action's policy. A RUN is counted and the
 * entry is RUNNING; a GIVE_UP leaves it FAILED. */
enum vigil_remedy_verdict
vigil_remedy_next(struct vigil_remedy *r,
		  const struct vigil_remedy_policy *(*policy)(void *user,
							      size_t action),
		  void *user, vigil_time_ns now, size_t *action,
		  uint64_t *incident);

/* The earliest `due` of a WAITING entry, 0 if none. */
vigil_time_ns vigil_remedy_next_due(const struct vigil_remedy *r);

/* Forgets (action, incident), e.g. when it no longer applies. */
void vigil_remedy_forget(struct vigil_remedy *r, size_t action,
			 uint64_t incident);

const struct vigil_remedy_entry *
vigil_remedy_find(const struct vigil_remedy *r, size_t action,
		  uint64_t incident);

#endif
