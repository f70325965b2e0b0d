/*
 * route.c - per-sink routing: filters, dedupe and what the sink knows.
 *
 * Two small chained hash tables, both growing by doubling: keys (dedupe
 * times per severity, and whether the sink was told the key flaps) and
 * incident ids the sink knows of (with the severity it believes and the
 * acknowledgement it got). The dedupe rule follows what the sink
 * believes, as Alertmanager's notification log does: a notification is
 * held back only when it would repeat, within the window, the state the
 * sink was last told of that key.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"
#include "util.h"

#define WHY(...) (why ? (void)snprintf(why, whylen, __VA_ARGS__) : (void)0)

#define N_SEV (VIGIL_SEV_CRITICAL + 1)

struct vigil_routing_key {
	char *key;
	vigil_time_ns sent[N_SEV]; /* last notification; 0: none kept */
	int flapping;              /* told FLAPPING_START, not the end */
	struct vigil_routing_key *next;
};

struct vigil_routing_told {
	uint64_t id;
	enum vigil_severity severity; /* what the sink believes */
	vigil_time_ns acked;          /* the acknowledgement it got */
	struct vigil_routing_told *next;
};

void vigil_routing_config_default(struct vigil_routing_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->min_severity = VIGIL_SEV_INFO;
	cfg->dedupe = 300 * VIGIL_SEC;
	cfg->send_resolved = 1;
}

const char *vigil_routing_verdict_name(enum vigil_routing_verdict v)
{
	switch (v) {
	case VIGIL_ROUTING_DELIVER: return "deliver";
	case VIGIL_ROUTING_BELOW_MIN: return "below min_severity";
	case VIGIL_ROUTING_NO_MATCH: return "not matched";
	case VIGIL_ROUTING_SILENCED: return "silenced";
	case VIGIL_ROUTING_FLAPPING: return "flapping";
	case VIGIL_ROUTING_DEDUPED: return "deduplicated";
	case VIGIL_ROUTING_NOT_TOLD: return "not told";
	case VIGIL_ROUTING_NO_RESOLVED: return "send_resolved = no";
	case VIGIL_ROUTING_ALREADY: return "already told";
	}
	return "unknown";
}

void vigil_routing_init(struct vigil_routing *rt,
			const struct vigil_routing_config *cfg)
{
	memset(rt, 0, sizeof(*rt));
	rt->cfg = *cfg;
	rt->n_key_buckets = 64;
	rt->keys = vigil_xcalloc(rt->n_key_buckets, sizeof(*rt->keys));
	rt->n_told_buckets = 64;
	rt->told = vigil_xcalloc(rt->n_told_buckets, sizeof(*rt->told));
}

void vigil_routing_free(struct vigil_routing *rt)
{
	for (size_t b = 0; b < rt->n_key_buckets; b++) {
		struct vigil_routing_key *k = rt->keys[b], *next;
		for (; k; k = next) {
			next = k->next;
			free(k->key);
			free(k);
		}
	}
	for (size_t b = 0; b < rt->n_told_buckets; b++) {
		struct vigil_routing_told *t = rt->told[b], *next;
		for (; t; t = next) {
			next = t->next;
			free(t);
		}
	}
	free(rt->keys);
	free(rt->told);
	memset(rt, 0, sizeof(*rt));
}

/* ------------------------------------------------------------ keys */

static struct vigil_routing_key **key_slot(struct vigil_routing_key **buckets,
					   size_t n, const char *key)
{
	uint64_t h = vigil_hash_str(VIGIL_HASH_INIT, key);
	struct vigil_routing_key **p = &buckets[h & (n - 1)];

	while (*p && strcmp((*p)->key, key) != 0)
		p = &(*p)->next;
	return p;
}

static struct vigil_routing_key *key_find(struct vigil_routing *rt,
					  const char *key)
{
	return *key_slot(rt->keys, rt->n_key_buckets, key);
}

static struct vigil_routing_key *key_get(struct vigil_routing *rt,
					 const char *key)
{
	struct vigil_routing_key **slot, *k = key_find(rt, key);

	if (k)
		return k;
	if (rt->n_keys >= 2 * rt->n_key_buckets) {
		size_t n = rt->n_key_buckets * 2;
		struct vigil_routing_key **b = vigil_xcalloc(n, sizeof(*b));

		for (size_t i = 0; i < rt->n_key_buckets; i++)
			while ((k = rt->keys[i])) {
				rt->keys[i] = k->next;
				slot = key_slot(b, n, k->key);
				k->next = *slot;
				*slot = k;
			}
		free(rt->keys);
		rt->keys = b;
		rt->n_key_buckets = n;
	}
	k = vigil_xcalloc(1, sizeof(*k));
	k->key = vigil_xstrdup(key);
	slot = key_slot(rt->keys, rt->n_key_buckets, key);
	k->next = *slot;
	*slot = k;
	rt->n_keys++;
	return k;
}

static int key_empty(const struct vigil_routing_key *k)
{
	for (int s = 0; s < N_SEV; s++)
		if (k->sent[s])
			return 0;
	return !k->flapping;
}

/* The sink was told the key went below `sev` (or cleared, with -1): a
 * notification above it is news again. */
static void key_forget_above(struct vigil_routing *rt, const char *key, int sev)
{
	struct vigil_routing_key *k = key_find(rt, key);

	for (int s = sev + 1; k && s < N_SEV; s++)
		k->sent[s] = 0;
}

void vigil_routing_expire(struct vigil_routing *rt, vigil_time_ns now)
{
	rt->swept = now;
	for (size_t b = 0; b < rt->n_key_buckets; b++) {
		struct vigil_routing_key **pp = &rt->keys[b];

		while (*pp) {
			struct vigil_routing_key *k = *pp;

			for (int s = 0; s < N_SEV; s++)
				if (k->sent[s] &&
				    now - k->sent[s] >= rt->cfg.dedupe)
					k->sent[s] = 0;
			if (!key_empty(k)) {
				pp = &k->next;
				continue;
			}
			*pp = k->next;
			free(k->key);
			free(k);
			rt->n_keys--;
		}
	}
}

/* ------------------------------------------------------------ incidents */

/* Fibonacci hashing: ids are consecutive, the high bits spread them. */
static struct vigil_routing_told **
told_slot(struct vigil_routing_told **buckets, size_t n, uint64_t id)
{
	uint64_t h = (id * 0x9e3779b97f4a7c15ull) >> 32;
	struct vigil_routing_told **p = &buckets[h & (n - 1)];

	while (*p && (*p)->id != id)
		p = &(*p)->next;
	return p;
}

static struct vigil_routing_told *told_find(struct vigil_routing *rt,
					    uint64_t id)
{
	return *told_slot(rt->told, rt->n_told_buckets, id);
}

static void told_set(struct vigil_routing *rt, uint64_t id,
		     enum vigil_severity sev)
{
	struct vigil_routing_told **slot, *t = told_find(rt, id);

	if (t) {
		t->severity = sev;
		return;
	}
	if (rt->n_told >= 2 * rt->n_told_buckets) {
		size_t n = rt->n_told_buckets * 2;
		struct vigil_routing_told **b = vigil_xcalloc(n, sizeof(*b));

		for (size_t i = 0; i < rt->n_told_buckets; i++)
			while ((t = rt->told[i])) {
				rt->told[i] = t->next;
				slot = told_slot(b, n, t->id);
				t->next = *slot;
				*slot = t;
			}
		free(rt->told);
		rt->told = b;
		rt->n_told_buckets = n;
	}
	t = vigil_xcalloc(1, sizeof(*t));
	t->id = id;
	t->severity = sev;
	slot = told_slot(rt->told, rt->n_told_buckets, id);
	t->next = *slot;
	*slot = t;
	rt->n_told++;
}

static void told_drop(struct vigil_routing *rt, uint64_t id)
{
	struct vigil_routing_told **slot =
		told_slot(rt->told, rt->n_told_buckets, id);
	struct vigil_routing_told *t = *slot;

	if (!t)
		return;
	*slot = t->next;
	free(t);
	rt->n_told--;
}

/* ------------------------------------------------------------ deciding */

enum vigil_routing_verdict vigil_routing_wants(const struct vigil_routing *rt,
					       const struct vigil_event *e,
					       char *why, size_t whylen)
{
	const struct vigil_selector *sel = rt->cfg.match;

	if (e->severity < rt->cfg.min_severity) {
		WHY("%s is below min_severity %s",
		    vigil_severity_name(e->severity),
		    vigil_severity_name(rt->cfg.min_severity));
		return VIGIL_ROUTING_BELOW_MIN;
	}
	if (sel && !vigil_selector_match_incident(sel, e->key, e->incident_type,
						  e->labels, e->n_labels)) {
		WHY("match selects neither key %s nor type %s", e->key,
		    e->incident_type);
		return VIGIL_ROUTING_NO_MATCH;
	}
	return VIGIL_ROUTING_DELIVER;
}

static enum vigil_routing_verdict paused(const struct vigil_event *e, char *why,
					 size_t whylen)
{
	if (e->silenced) {
		WHY("incident #%" PRIu64 " is silenced", e->incident_id);
		return VIGIL_ROUTING_SILENCED;
	}
	if (e->flapping) {
		WHY("incident #%" PRIu64 " is flapping", e->incident_id);
		return VIGIL_ROUTING_FLAPPING;
	}
	return VIGIL_ROUTING_DELIVER;
}

static enum vigil_routing_verdict not_told(const struct vigil_event *e,
					   char *why, size_t whylen)
{
	WHY("the sink was never told of incident #%" PRIu64, e->incident_id);
	return VIGIL_ROUTING_NOT_TOLD;
}

static enum vigil_routing_verdict notification(struct vigil_routing *rt,
					       const struct vigil_event *e,
					       vigil_time_ns now, char *why,
					       size_t whylen)
{
	enum vigil_routing_verdict v;
	struct vigil_routing_key *k;
	vigil_time_ns last;

	v = vigil_routing_wants(rt, e, why, whylen);
	if (v != VIGIL_ROUTING_DELIVER ||
	    (v = paused(e, why, whylen)) != VIGIL_ROUTING_DELIVER)
		return v;
	if (!rt->cfg.dedupe)
		goto deliver;
	k = key_find(rt, e->key);
	last = k ? k->sent[e->severity] : 0;
	if (e->type != VIGIL_EVENT_REMEDIATION_FAILED && last &&
	    now - last < rt->cfg.dedupe) {
		if (why) {
			char ago[32], win[32];
			vigil_format_duration(now - last, ago, sizeof(ago));
			vigil_format_duration(rt->cfg.dedupe, win, sizeof(win));
			WHY("%s %s was sent %s ago (dedupe %s)", e->key,
			    vigil_severity_name(e->severity), ago, win);
		}
		told_set(rt, e->incident_id, e->severity);
		return VIGIL_ROUTING_DEDUPED;
	}
	key_get(rt, e->key)->sent[e->severity] = now ? now : 1;
deliver:
	told_set(rt, e->incident_id, e->severity);
	return VIGIL_ROUTING_DELIVER;
}

static enum vigil_routing_verdict update(struct vigil_routing *rt,
					 const struct vigil_event *e, char *why,
					 size_t whylen)
{
	struct vigil_routing_told *t = told_find(rt, e->incident_id);
	enum vigil_routing_verdict v;

	if (!t)
		return not_told(e, why, whylen);
	if ((v = paused(e, why, whylen)) != VIGIL_ROUTING_DELIVER)
		return v;
	if (e->type == VIGIL_EVENT_DEESCALATED) {
		if (t->severity <= e->severity) {
			WHY("the sink was told %s, not more",
			    vigil_severity_name(t->severity));
			return VIGIL_ROUTING_ALREADY;
		}
		t->severity = e->severity;
		key_forget_above(rt, e->key, (int)e->severity);
	} else if (e->type == VIGIL_EVENT_ACKNOWLEDGED) {
		if (t->acked == e->time) {
			WHY("the sink has this acknowledgement already");
			return VIGIL_ROUTING_ALREADY;
		}
		t->acked = e->time;
	}
	return VIGIL_ROUTING_DELIVER;
}

static enum vigil_routing_verdict flapping(struct vigil_routing *rt,
					   const struct vigil_event *e,
					   char *why, size_t whylen)
{
	struct vigil_routing_key *k = key_find(rt, e->key);
	enum vigil_routing_verdict v;

	if (e->type == VIGIL_EVENT_FLAPPING_END) {
		if (!k || !k->flapping) {
			WHY("the sink was never told %s flaps", e->key);
			return VIGIL_ROUTING_NOT_TOLD;
		}
		k->flapping = 0;
	} else {
		if (k && k->flapping) {
			WHY("the sink was told %s flaps already", e->key);
			return VIGIL_ROUTING_ALREADY;
		}
		v = vigil_routing_wants(rt, e, why, whylen);
		if (v != VIGIL_ROUTING_DELIVER)
			return v;
		if (e->silenced) {
			WHY("incident #%" PRIu64 " is silenced",
			    e->incident_id);
			return VIGIL_ROUTING_SILENCED;
		}
		key_get(rt, e->key)->flapping = 1;
	}
	/* It says how the incident is now: the sink knows of it. */
	if (e->status != VIGIL_STATUS_RESOLVED)
		told_set(rt, e->incident_id, e->severity);
	return VIGIL_ROUTING_DELIVER;
}

enum vigil_routing_verdict vigil_routing_decide(struct vigil_routing *rt,
						const struct vigil_event *e,
						vigil_time_ns now, char *why,
						size_t whylen)
{
	vigil_time_ns every = rt->cfg.dedupe ? rt->cfg.dedupe : 60 * VIGIL_SEC;

	if (why && whylen)
		why[0] = '\0';
	if (rt->n_keys && now - rt->swept >= every)
		vigil_routing_expire(rt, now);
	if ((unsigned)e->severity > VIGIL_SEV_CRITICAL) {
		WHY("unknown severity %d", (int)e->severity);
		return VIGIL_ROUTING_BELOW_MIN;
	}
	switch (e->type) {
	case VIGIL_EVENT_OPENED:
	case VIGIL_EVENT_ESCALATED:
	case VIGIL_EVENT_REPEAT:
	case VIGIL_EVENT_REMEDIATION_FAILED:
		return notification(rt, e, now, why, whylen);
	case VIGIL_EVENT_RESOLVED:
		if (!told_find(rt, e->incident_id))
			return not_told(e, why, whylen);
		told_drop(rt, e->incident_id);
		if (!rt->cfg.send_resolved) {
			WHY("send_resolved = no");
			return VIGIL_ROUTING_NO_RESOLVED;
		}
		key_forget_above(rt, e->key, -1);
		return VIGIL_ROUTING_DELIVER;
	case VIGIL_EVENT_DEESCALATED:
	case VIGIL_EVENT_ACKNOWLEDGED:
	case VIGIL_EVENT_ACTION:
		return update(rt, e, why, whylen);
	case VIGIL_EVENT_FLAPPING_START:
	case VIGIL_EVENT_FLAPPING_END:
		return flapping(rt, e, why, whylen);
	case VIGIL_EVENT_HEALTH:
		break;
	}
	return vigil_routing_wants(rt, e, why, whylen);
}

int vigil_routing_adopt(struct vigil_routing *rt, const struct vigil_event *e)
{
	if (e->status == VIGIL_STATUS_RESOLVED || e->silenced ||
	    (unsigned)e->severity > VIGIL_SEV_CRITICAL ||
	    vigil_routing_wants(rt, e, NULL, 0) != VIGIL_ROUTING_DELIVER)
		return 0;
	told_set(rt, e->incident_id, e->severity);
	if (e->flapping)
		key_get(rt, e->key)->flapping = 1;
	return 1;
}
