/*
 * incident.h - the incident manager: conditions in, incident events out.
 *
 * Pure state: the clock is passed in, nothing here does I/O, so the
 * lifecycle is tested without a daemon.
 *
 * One condition can cause more than one event (a reopening that also
 * starts flapping), and some events come from the clock alone (repeats,
 * the end of flapping): the functions that change incidents report every
 * event they cause, in order, through a `struct vigil_incident_emit`.
 * vigil_incidents_apply() is the older one-event form, kept for callers
 * that want the primary event only.
 */
#ifndef VIGIL_INCIDENT_H
#define VIGIL_INCIDENT_H

#include <stddef.h>
#include <stdint.h>

#include <vigil/plugin.h>

#include "util.h"

struct vigil_silences;
struct vigil_wire;
struct vigil_wire_reader;

/* A condition as the core keeps it: every string owned. */
struct vigil_cond {
	char *key;
	char *type;
	int firing;
	enum vigil_severity severity;
	char *message;
	double value;
	struct vigil_labels labels;
};
void vigil_cond_free(struct vigil_cond *c);

struct vigil_action_rec {
	char *action;
	vigil_time_ns start, duration;
	int exit_status;
	enum vigil_action_outcome outcome;
	char *output;
};

/* The widest flap window: the ring is the bits of a uint32_t. */
#define VIGIL_FLAP_WINDOW_MAX 32

/*
 * Flap detection state of one key, Icinga 2's: a ring of the last
 * `flap_window` observations of the key's state, a bit set where the state
 * differed from the observation before. `percent` weighs the changes, the
 * oldest by 0.8 rising linearly by 0.4 / window per slot to the newest
 * (Icinga 2's 0.8 + 0.02 i for its window of 20), summed, as a percentage
 * of the window: no change makes 0%, a change at every observation 99%
 * (100 - 20 / window).
 */
struct vigil_flap {
	uint32_t changes;   /* bit i: ring slot i changed */
	uint32_t pos;       /* the slot written next, the oldest */
	uint32_t state;     /* last state observed: 0 clear, 1 + severity */
	int flapping;
	double percent;     /* of the ring, 0 to 100 */
	vigil_time_ns last; /* last observation, real or inferred */
};

struct vigil_incident {
	uint64_t id;
	char *key;
	char *type;
	enum vigil_severity severity;
	enum vigil_severity peak; /* the highest severity it has had */
	enum vigil_incident_status status;
	char *message;
	double value;
	struct vigil_labels labels;
	vigil_time_ns created, updated, resolved;
	uint32_t occurrences;
	struct vigil_action_rec *actions;
	size_t n_actions, cap_actions;
	struct vigil_incident *next; /* hash chain of open incidents */

	uint32_t escalation; /* times vigil_incidents_escalate raised it */
	int flapping;        /* its key is flapping: notifications pause */
	int silenced;        /* a silence matched when it last changed */
	/* The acknowledgement (status ACKNOWLEDGED); 0 and NULLs without. */
	vigil_time_ns acked;
	char *acked_by;
	char *comment;
	/* When a reminder (REPEAT) is due; 0: none planned. */
	vigil_time_ns next_repeat;
	/* Its key's flap state when it last changed (for the journal). */
	struct vigil_flap flap;
	/* Open incidents, oldest (lowest id) first. */
	struct vigil_incident *older, *newer;
};

/* Frees an incident that is in no manager (a decoded one). */
void vigil_incident_free(struct vigil_incident *inc);

/*
 * What the manager does over time. vigil_incident_policy_default() fills
 * in the defaults:
 *
 *   history_max      100  resolved incidents kept, the newest
 *   history_max_age  7d   and for at most this long after resolution
 *                         (0: no age limit)
 *   repeat_interval  1h   reminders of a still-open incident that nobody
 *                         acknowledged (0: none)
 *   flap_window      20   observations weighed (0: no flap detection;
 *                         else 2 to VIGIL_FLAP_WINDOW_MAX)
 *   flap_high        30   flapping starts when the percent state change
 *                         is above this...
 *   flap_low         25   ...and ends when it is no longer above this
 *   flap_interval    1m   a key is observed at every condition and, in
 *                         between, once per interval without one (its
 *                         state held): conditions come on changes only,
 *                         and the window must also see the calm
 */
struct vigil_incident_policy {
	size_t history_max;
	vigil_time_ns history_max_age;
	vigil_time_ns repeat_interval;
	double flap_low, flap_high;
	unsigned flap_window;
	vigil_time_ns flap_interval;
};

void vigil_incident_policy_default(struct vigil_incident_policy *p);
/* 0, or -EINVAL with what is wrong in `why` (for the config code). */
int vigil_incident_policy_check(const struct vigil_incident_policy *p,
				char *why, size_t whylen);

/* Flap state of a key, kept while no incident is open too. */
struct vigil_flapkey {
	char *key;
	struct vigil_flap f;
	struct vigil_flapkey *next;
};

struct vigil_incidents {
	struct vigil_incident **buckets; /* open incidents by key */
	size_t n_buckets, n_open;
	uint64_t next_id;
	/* Resolved incidents, oldest resolution first, at most
	 * policy.history_max. */
	struct vigil_incident **history;
	size_t n_history;
	struct vigil_incident_policy policy;
	/* Open incidents by id, through older/newer. */
	struct vigil_incident *oldest, *newest;
	/* Flap state by key. */
	struct vigil_flapkey **flaps;
	size_t n_flap_buckets, n_flaps;
	/* Resolved with history_max 0: freed by the next call. */
	struct vigil_incident *limbo;
	/* Consulted for inc->silenced; may be NULL (borrowed). */
	const struct vigil_silences *silences;
};

/* Where events go: fn(user, incident, type, severity before). `inc` is
 * valid during the call: make the event (vigil_ev_new) there. */
struct vigil_incident_emit {
	void (*fn)(void *user, struct vigil_incident *inc,
		   enum vigil_event_type type, enum vigil_severity prev);
	void *user;
};

/* With the default policy but `history_max`. */
void vigil_incidents_init(struct vigil_incidents *im, size_t history_max);
void vigil_incidents_init_policy(struct vigil_incidents *im,
				 const struct vigil_incident_policy *p);
/* A new policy (a reload): the history is pruned to it at once. */
void vigil_incidents_set_policy(struct vigil_incidents *im,
				const struct vigil_incident_policy *p);
/* The silences that set inc->silenced (borrowed; NULL: none). */
void vigil_incidents_set_silences(struct vigil_incidents *im,
				  const struct vigil_silences *set);
void vigil_incidents_free(struct vigil_incidents *im);

/* Ids continue from at least `next_id` (restored from the journal), so
 * none is ever given twice. Never lowers it. */
void vigil_incidents_seed(struct vigil_incidents *im, uint64_t next_id);

/*
 * Applies condition `c` at time `now`, emitting every event it causes:
 * first the incident's own (OPENED, ESCALATED, DEESCALATED or RESOLVED;
 * none for a repeat of the same state or a clear of nothing), then
 * FLAPPING_START or FLAPPING_END when the key's flapping changed. Returns
 * the incident concerned, or NULL (a clear with no open incident). A
 * resolved incident moves to history; it stays valid until history drops
 * it, which happens only on a later call.
 *
 * Flapping changes nothing of the lifecycle: a flapping incident still
 * resolves, reopens (a new incident) and escalates, all recorded; its
 * events say flapping = 1 and routing holds back their notifications.
 */
struct vigil_incident *
vigil_incidents_process(struct vigil_incidents *im, const struct vigil_cond *c,
			vigil_time_ns now,
			const struct vigil_incident_emit *emit);

/*
 * The one-event form: as vigil_incidents_process, setting *type to the
 * incident's own event (0 for none) and *prev to the severity before;
 * flapping events are not reported.
 */
struct vigil_incident *vigil_incidents_apply(struct vigil_incidents *im,
					     const struct vigil_cond *c,
					     vigil_time_ns now,
					     enum vigil_event_type *type,
					     enum vigil_severity *prev);

/* The open incident of `key`, or NULL. */
struct vigil_incident *vigil_incidents_find(struct vigil_incidents *im,
					    const char *key);
/* The incident `id`, open or in history, or NULL. */
struct vigil_incident *vigil_incidents_get(const struct vigil_incidents *im,
					   uint64_t id);

/*
 * Acknowledges open incident `id` (vigilctl ack): status ACKNOWLEDGED,
 * who and why kept, reminders stop; emits ACKNOWLEDGED. `by` and
 * `comment` may be NULL. A later escalation (a higher severity) takes the
 * acknowledgement back: someone must look again. Returns 0, -ENOENT (no
 * incident `id`), -ESRCH (it is resolved) or -EALREADY (acknowledged
 * already); *out (may be NULL) is set to the incident when there is one.
 */
int vigil_incidents_ack(struct vigil_incidents *im, uint64_t id,
			const char *by, const char *comment, vigil_time_ns now,
			const struct vigil_incident_emit *emit,
			struct vigil_incident **out);

/* Resolves open incident `id` by hand (vigilctl resolve): RESOLVED, to
 * history. The rule may still see it firing: its next change opens a new
 * incident. Returns 0, -ENOENT or -ESRCH as vigil_incidents_ack. */
int vigil_incidents_resolve_manual(struct vigil_incidents *im, uint64_t id,
				   vigil_time_ns now,
				   const struct vigil_incident_emit *emit);

/* Remediation ran out on open incident `inc`: its severity goes up one
 * step (not past critical; a raise takes an acknowledgement back),
 * escalation counts one more, and REMEDIATION_FAILED is emitted. Returns
 * 0, or -ESRCH (and does nothing) when `inc` is resolved. */
int vigil_incidents_escalate(struct vigil_incidents *im,
			     struct vigil_incident *inc, vigil_time_ns now,
			     const struct vigil_incident_emit *emit);

/*
 * What the clock alone does, at `now`: flap state advances over the time
 * without conditions (FLAPPING_END when a key calmed down; quiet keys'
 * state is dropped), silenced flags are refreshed, REPEAT is emitted for
 * open incidents whose reminder is due (never for acknowledged ones;
 * paused while silenced or flapping, and sent at once when that ends),
 * and history older than history_max_age is dropped. Call it at
 * vigil_incidents_next_due() and whenever silences change (or simply on a
 * regular tick).
 */
void vigil_incidents_due(struct vigil_incidents *im, vigil_time_ns now,
			 const struct vigil_incident_emit *emit);
/* When vigil_incidents_due next has work, or 0 for never (not counting
 * changes of silences). */
vigil_time_ns vigil_incidents_next_due(const struct vigil_incidents *im);

/* Calls fn for the open incidents, lowest id first, then (with
 * `history`) the resolved ones, oldest resolution first, until fn returns
 * nonzero, which is returned. */
int vigil_incidents_foreach(const struct vigil_incidents *im, int history,
			    int (*fn)(void *user, struct vigil_incident *inc),
			    void *user);

/* The flap state kept for `key`, or NULL (no change in its window). */
const struct vigil_flap *vigil_incidents_flap(const struct vigil_incidents *im,
					      const char *key);

void vigil_incident_add_action(struct vigil_incident *inc,
			       const struct vigil_action_record *rec);

/* ------------------------------------------------------ journal */

/* Version of the encoding below; decode refuses any other. */
#define VIGIL_INCIDENT_WIRE_VERSION 1
/* Action records encoded: the newest, at most this many. */
#define VIGIL_INCIDENT_WIRE_ACTIONS 256

/* Appends the whole incident (actions, acknowledgement, flap state) as
 * fields to `w` (begun by the caller). */
void vigil_incident_encode(const struct vigil_incident *inc,
			   struct vigil_wire *w);
/* Reads one back: a new incident in no manager, or NULL with r->err set
 * when the fields are short, malformed or of another version. */
struct vigil_incident *vigil_incident_decode(struct vigil_wire_reader *r);

/*
 * Puts a decoded incident back (journal replay), taking it: one of the
 * same id is replaced, an open one goes into the table, a resolved one
 * into history by resolution time (and is freed at once if the history
 * is full of newer ones); ids continue above it, and its key's flap state
 * is restored from it when newer than what is kept. Returns 0, or -EEXIST
 * when another incident of its key is open (`inc` is then still the
 * caller's). The manager's pointers to a replaced incident go stale.
 */
int vigil_incidents_restore(struct vigil_incidents *im,
			    struct vigil_incident *inc);

/* ------------------------------------------------------ events */

/* An event: the public view plus the storage it points into. */
struct vigil_ev {
	struct vigil_event pub;
	enum vigil_severity peak; /* of the incident, when the event was made */
	int refs; /* vigil_ev_free drops one */
	uint64_t seq; /* its journal record, 0: not journaled */
	struct vigil_action_record *actions;
	char *strings; /* key, type, message, comment, action names, outputs */
	struct vigil_labels labels;
	/* The pipeline's: the incident as the event left it, encoded for the
	 * journal, which writes it in one record with the event (a kill
	 * cannot keep the change without its event); NULL once written. */
	void *inc_rec;
	size_t inc_rec_len;
};

/* A snapshot of `inc` as event `type`, owning all it points to. */
struct vigil_ev *vigil_ev_new(const struct vigil_incident *inc,
			      enum vigil_event_type type,
			      enum vigil_severity prev, vigil_time_ns now);
/* A copy of public event `e` (decoded from the journal, or made by the
 * core without an incident: health), owning all it points to. */
struct vigil_ev *vigil_ev_copy(const struct vigil_event *e,
			       enum vigil_severity peak);
void vigil_ev_free(struct vigil_ev *ev);
static inline struct vigil_ev *vigil_ev_ref(struct vigil_ev *ev)
{
	ev->refs++;
	return ev;
}

#endif
