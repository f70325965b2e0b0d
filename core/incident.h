/*
 * incident.h - the incident manager: conditions in, incident events out.
 *
 * Pure state: the clock is passed in, nothing here does I/O, so the
 * lifecycle is tested without a daemon.
 */
#ifndef VIGIL_INCIDENT_H
#define VIGIL_INCIDENT_H

#include <stddef.h>
#include <stdint.h>

#include <vigil/plugin.h>

#include "util.h"

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
};

struct vigil_incidents {
	struct vigil_incident **buckets; /* open incidents by key */
	size_t n_buckets, n_open;
	uint64_t next_id;
	/* Resolved incidents, newest last, at most `history_max`. */
	struct vigil_incident **history;
	size_t n_history, history_max;
};

void vigil_incidents_init(struct vigil_incidents *im, size_t history_max);
void vigil_incidents_free(struct vigil_incidents *im);

/*
 * Applies condition `c` at time `now`. Returns the incident it concerns and
 * sets *type to the event it causes (0 for none: a clear of nothing, or a
 * repeat of the same state) and *prev to the severity before. A resolved
 * incident moves to history; it stays valid until history drops it, which
 * happens only on a later call.
 */
struct vigil_incident *vigil_incidents_apply(struct vigil_incidents *im,
					     const struct vigil_cond *c,
					     vigil_time_ns now,
					     enum vigil_event_type *type,
					     enum vigil_severity *prev);

struct vigil_incident *vigil_incidents_find(struct vigil_incidents *im,
					    const char *key);

void vigil_incident_add_action(struct vigil_incident *inc,
			       const struct vigil_action_record *rec);

/* An event: the public view plus the storage it points into. */
struct vigil_ev {
	struct vigil_event pub;
	enum vigil_severity peak; /* of the incident, when the event was made */
	int refs; /* vigil_ev_free drops one */
	struct vigil_action_record *actions;
	char *strings; /* key, type, message, action names and outputs */
	struct vigil_labels labels;
};

/* A snapshot of `inc` as event `type`, owning all it points to. */
struct vigil_ev *vigil_ev_new(const struct vigil_incident *inc,
			      enum vigil_event_type type,
			      enum vigil_severity prev, vigil_time_ns now);
void vigil_ev_free(struct vigil_ev *ev);
static inline struct vigil_ev *vigil_ev_ref(struct vigil_ev *ev)
{
	ev->refs++;
	return ev;
}

#endif
