/*
 * route.h - which incident events a sink is told: the per-sink routing
 * decision, with the state it needs, as a pure function of the event and
 * the clock.
 *
 * The state is what the sink has been told: per incident id, that it
 * knows the incident and at which severity; per key, when each severity
 * was last notified and whether it was told the key flaps. Every event of
 * the incident manager goes through vigil_routing_decide for each sink, in
 * order, delivered or not: the bookkeeping needs them all. The rules:
 *
 *   OPENED, ESCALATED, REPEAT, REMEDIATION_FAILED (notifications):
 *       severity >= min_severity, and `match` selects the key or the type
 *       (with the labels); not while the incident is silenced or flapping;
 *       and, but for REMEDIATION_FAILED (news by nature), not when the
 *       same (key, severity) was notified within `dedupe` and the sink
 *       has not been told since that the key cleared or went down.
 *       A notification held back by dedupe still counts as known: the
 *       sink already believes it.
 *   RESOLVED:
 *       to a sink told of the incident, if send_resolved: even while
 *       silenced or flapping, so that no sink keeps a problem that is
 *       gone. It also ends the dedupe of its key: a reopening is news.
 *   DEESCALATED, ACKNOWLEDGED, ACTION (updates):
 *       to a sink told of the incident, not while silenced or flapping;
 *       a de-escalation only if the sink believes a higher severity, an
 *       acknowledgement once.
 *   FLAPPING_START: as a notification, once per flapping episode of the
 *       key; FLAPPING_END: to the sinks told it started, always.
 *   Anything else (HEALTH, types to come): min_severity and match only.
 *
 * Memory is bounded: a key's entry goes once its notifications are older
 * than `dedupe` and it is not flapping; an incident's when it resolves.
 */
#ifndef VIGIL_ROUTING_H
#define VIGIL_ROUTING_H

#include <stddef.h>
#include <stdint.h>

#include <vigil/plugin.h>

#include "parse.h"

struct vigil_routing_config {
	enum vigil_severity min_severity;   /* default info */
	const struct vigil_selector *match; /* borrowed; NULL: every event */
	vigil_time_ns dedupe;               /* default 5m; 0: none */
	int send_resolved;                  /* default yes */
};

void vigil_routing_config_default(struct vigil_routing_config *cfg);

enum vigil_routing_verdict {
	VIGIL_ROUTING_DELIVER = 0,
	VIGIL_ROUTING_BELOW_MIN,   /* severity under min_severity */
	VIGIL_ROUTING_NO_MATCH,    /* `match` selects neither key nor type */
	VIGIL_ROUTING_SILENCED,    /* a silence matches the incident */
	VIGIL_ROUTING_FLAPPING,    /* notifications pause while it flaps */
	VIGIL_ROUTING_DEDUPED,     /* same (key, severity) within dedupe */
	VIGIL_ROUTING_NOT_TOLD,    /* about what the sink was never told */
	VIGIL_ROUTING_NO_RESOLVED, /* send_resolved = no */
	VIGIL_ROUTING_ALREADY,     /* the sink knows this already */
};

const char *vigil_routing_verdict_name(enum vigil_routing_verdict v);

struct vigil_routing_key;
struct vigil_routing_told;

struct vigil_routing {
	struct vigil_routing_config cfg;
	struct vigil_routing_key **keys;
	size_t n_key_buckets, n_keys;
	struct vigil_routing_told **told;
	size_t n_told_buckets, n_told;
	vigil_time_ns swept; /* last vigil_routing_expire */
};

void vigil_routing_init(struct vigil_routing *rt,
			const struct vigil_routing_config *cfg);
void vigil_routing_free(struct vigil_routing *rt);

/*
 * Whether the sink gets event `e` at time `now`, recording it if so.
 * `why` (may be NULL) receives a line for the debug log, e.g.
 * "deduplicated: disk{mount=/} critical was sent 2m ago (dedupe 5m)".
 */
enum vigil_routing_verdict vigil_routing_decide(struct vigil_routing *rt,
						const struct vigil_event *e,
						vigil_time_ns now, char *why,
						size_t whylen);

/* min_severity and match alone, as for an event of no incident the sink
 * was told of (health, say): DELIVER, BELOW_MIN or NO_MATCH. */
enum vigil_routing_verdict vigil_routing_wants(const struct vigil_routing *rt,
					       const struct vigil_event *e,
					       char *why, size_t whylen);

/* Drops dedupe entries older than the window (decide does it too, once a
 * window). */
void vigil_routing_expire(struct vigil_routing *rt, vigil_time_ns now);

/*
 * After a restart (the journal restored open incidents but not what the
 * sinks were told): takes the sink as told of `e`'s open incident if it
 * would have taken its notification (severity, match, not silenced), and
 * of its flapping, so that its resolution is still delivered. Returns 1
 * if adopted.
 */
int vigil_routing_adopt(struct vigil_routing *rt, const struct vigil_event *e);

#endif
