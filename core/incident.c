/*
 * incident.c - the incident manager.
 *
 * Conditions are deduplicated by key into incidents: the first firing opens
 * one, a change of severity escalates or de-escalates the same incident, a
 * clear resolves it and moves it to history. A firing condition repeated at
 * the same severity only counts an occurrence.
 *
 * Around that lifecycle:
 *
 * - Flapping, as Icinga 2 detects it, per key: every condition is an
 *   observation of the key's state (clear, or firing at a severity), and
 *   so is every flap_interval that passes without one (the state held:
 *   rules speak on changes only, and the window must see the calm too).
 *   The ring of the last flap_window observations marks where the state
 *   changed; the changes, weighted from 0.8 (oldest) up by 0.4 / window a
 *   slot, make the percent state change. Flapping starts when it is above
 *   flap_high and ends when it is no longer above flap_low. The flap
 *   state lives in a table of its own, by key, because a flapping key
 *   resolves and reopens: it must outlive each incident. A key's state is
 *   dropped once its window holds no change, it is not flapping and no
 *   incident of it is open, which is exactly the state a new key starts
 *   in: memory is bounded by the keys that changed within a window.
 *   Flapping pauses notifications (repeats here, the rest in routing);
 *   the lifecycle goes on and is recorded.
 * - Acknowledgement stops reminders, and is taken back by a higher
 *   severity (Icinga's non-sticky acknowledgement).
 * - Reminders (REPEAT) of open, unacknowledged incidents every
 *   repeat_interval, paused while silenced or flapping.
 * - History, bounded by count and by age.
 * - For the journal: incidents encoded whole, decoded, and put back.
 *
 * The percent state change is 40 S / window^2 with S a whole number (each
 * change counts 2 window + its rank from the oldest), so it is compared
 * with the thresholds in whole numbers: exact at the boundary.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "incident.h"
#include "proto.h"
#include "silence.h"

#define WHY(...) (why ? (void)snprintf(why, whylen, __VA_ARGS__) : (void)0)

#define STATE_CLEAR 0u /* flap states: 0 clear, 1 + severity firing */
#define STATE_MAX (1u + VIGIL_SEV_CRITICAL)

void vigil_cond_free(struct vigil_cond *c)
{
	free(c->key);
	free(c->type);
	free(c->message);
	vigil_labels_free(&c->labels);
	memset(c, 0, sizeof(*c));
}

/* ------------------------------------------------------------ policy */

void vigil_incident_policy_default(struct vigil_incident_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->history_max = 100;
	p->history_max_age = 7 * 86400 * VIGIL_SEC;
	p->repeat_interval = 3600 * VIGIL_SEC;
	p->flap_low = 25;
	p->flap_high = 30;
	p->flap_window = 20;
	p->flap_interval = 60 * VIGIL_SEC;
}

int vigil_incident_policy_check(const struct vigil_incident_policy *p,
				char *why, size_t whylen)
{
	if (p->history_max_age < 0 || p->repeat_interval < 0) {
		WHY("a negative duration (expected 0 for none, or more)");
		return -EINVAL;
	}
	if (p->flap_window == 0)
		return 0;
	if (p->flap_window < 2 || p->flap_window > VIGIL_FLAP_WINDOW_MAX) {
		WHY("a flap window of %u observations (expected 0 for no flap "
		    "detection, or 2 to %d)",
		    p->flap_window, VIGIL_FLAP_WINDOW_MAX);
		return -EINVAL;
	}
	if (!(p->flap_low >= 0 && p->flap_high <= 100 &&
	      p->flap_low <= p->flap_high)) {
		WHY("flap thresholds low %g and high %g (expected 0 <= low <= "
		    "high <= 100)",
		    p->flap_low, p->flap_high);
		return -EINVAL;
	}
	if (p->flap_interval <= 0) {
		WHY("a flap interval of 0 (expected a duration, e.g. 1m)");
		return -EINVAL;
	}
	return 0;
}

/* What an unchecked policy is taken as: flap detection off rather than
 * out of bounds. */
static struct vigil_incident_policy sane(const struct vigil_incident_policy *p)
{
	struct vigil_incident_policy s = *p;

	if (s.flap_window > VIGIL_FLAP_WINDOW_MAX)
		s.flap_window = VIGIL_FLAP_WINDOW_MAX;
	if (s.flap_window < 2 || s.flap_interval <= 0)
		s.flap_window = 0;
	if (s.history_max_age < 0)
		s.history_max_age = 0;
	if (s.repeat_interval < 0)
		s.repeat_interval = 0;
	return s;
}

/* ------------------------------------------------------------ lifetime */

void vigil_incidents_init_policy(struct vigil_incidents *im,
				 const struct vigil_incident_policy *p)
{
	memset(im, 0, sizeof(*im));
	im->policy = sane(p);
	im->n_buckets = 256;
	im->buckets = vigil_xcalloc(im->n_buckets, sizeof(*im->buckets));
	im->next_id = 1;
	im->history = vigil_xcalloc(im->policy.history_max ?
					    im->policy.history_max : 1,
				    sizeof(*im->history));
	im->n_flap_buckets = 64;
	im->flaps = vigil_xcalloc(im->n_flap_buckets, sizeof(*im->flaps));
}

void vigil_incidents_init(struct vigil_incidents *im, size_t history_max)
{
	struct vigil_incident_policy p;

	vigil_incident_policy_default(&p);
	p.history_max = history_max;
	vigil_incidents_init_policy(im, &p);
}

void vigil_incidents_set_silences(struct vigil_incidents *im,
				  const struct vigil_silences *set)
{
	im->silences = set;
}

void vigil_incidents_seed(struct vigil_incidents *im, uint64_t next_id)
{
	if (next_id > im->next_id)
		im->next_id = next_id;
}

static void free_actions(struct vigil_incident *inc)
{
	for (size_t i = 0; i < inc->n_actions; i++) {
		free(inc->actions[i].action);
		free(inc->actions[i].output);
	}
	free(inc->actions);
	inc->actions = NULL;
	inc->n_actions = inc->cap_actions = 0;
}

void vigil_incident_free(struct vigil_incident *inc)
{
	if (!inc)
		return;
	free_actions(inc);
	free(inc->key);
	free(inc->type);
	free(inc->message);
	free(inc->acked_by);
	free(inc->comment);
	vigil_labels_free(&inc->labels);
	free(inc);
}

void vigil_incidents_free(struct vigil_incidents *im)
{
	for (size_t b = 0; b < im->n_buckets; b++) {
		struct vigil_incident *i = im->buckets[b], *next;
		for (; i; i = next) {
			next = i->next;
			vigil_incident_free(i);
		}
	}
	for (size_t i = 0; i < im->n_history; i++)
		vigil_incident_free(im->history[i]);
	vigil_incident_free(im->limbo);
	for (size_t b = 0; b < im->n_flap_buckets; b++) {
		struct vigil_flapkey *f = im->flaps[b], *next;
		for (; f; f = next) {
			next = f->next;
			free(f->key);
			free(f);
		}
	}
	free(im->flaps);
	free(im->history);
	free(im->buckets);
	memset(im, 0, sizeof(*im));
}

/* The incident resolved by the previous call when no history is kept. */
static void limbo_free(struct vigil_incidents *im)
{
	vigil_incident_free(im->limbo);
	im->limbo = NULL;
}

static void emit_ev(const struct vigil_incident_emit *emit,
		    struct vigil_incident *inc, enum vigil_event_type type,
		    enum vigil_severity prev)
{
	if (emit && emit->fn)
		emit->fn(emit->user, inc, type, prev);
}

/* ------------------------------------------------------------ open set */

static struct vigil_incident **slot_of(const struct vigil_incidents *im,
				       const char *key)
{
	uint64_t h = vigil_hash_str(VIGIL_HASH_INIT, key);
	struct vigil_incident **p = &im->buckets[h & (im->n_buckets - 1)];

	while (*p && strcmp((*p)->key, key) != 0)
		p = &(*p)->next;
	return p;
}

struct vigil_incident *vigil_incidents_find(struct vigil_incidents *im,
					    const char *key)
{
	return *slot_of(im, key);
}

/* Twice the buckets, once there are more open incidents than buckets:
 * the chains stay short however many open (a storm of 100,000 incidents
 * made 400-long chains of the first 256 buckets, and every condition of
 * every evaluation walked one). */
static void grow(struct vigil_incidents *im)
{
	size_t n = im->n_buckets * 2;
	struct vigil_incident **b = vigil_xcalloc(n, sizeof(*b));

	for (size_t i = 0; i < im->n_buckets; i++) {
		struct vigil_incident *inc, *next;

		for (inc = im->buckets[i]; inc; inc = next) {
			uint64_t h = vigil_hash_str(VIGIL_HASH_INIT, inc->key);

			next = inc->next;
			inc->next = b[h & (n - 1)];
			b[h & (n - 1)] = inc;
		}
	}
	free(im->buckets);
	im->buckets = b;
	im->n_buckets = n;
}

/* Into the table and the id-ordered list: usually at the end. */
static void open_insert(struct vigil_incidents *im, struct vigil_incident *inc)
{
	struct vigil_incident *after = im->newest;

	if (im->n_open >= im->n_buckets)
		grow(im);
	inc->next = NULL;
	*slot_of(im, inc->key) = inc;
	im->n_open++;
	while (after && after->id > inc->id)
		after = after->older;
	inc->older = after;
	inc->newer = after ? after->newer : im->oldest;
	if (inc->newer)
		inc->newer->older = inc;
	else
		im->newest = inc;
	if (after)
		after->newer = inc;
	else
		im->oldest = inc;
}

static void open_remove(struct vigil_incidents *im, struct vigil_incident *inc)
{
	struct vigil_incident **slot = slot_of(im, inc->key);

	*slot = inc->next;
	inc->next = NULL;
	im->n_open--;
	if (inc->older)
		inc->older->newer = inc->newer;
	else
		im->oldest = inc->newer;
	if (inc->newer)
		inc->newer->older = inc->older;
	else
		im->newest = inc->older;
	inc->older = inc->newer = NULL;
}

struct vigil_incident *vigil_incidents_get(const struct vigil_incidents *im,
					   uint64_t id)
{
	for (struct vigil_incident *inc = im->newest; inc; inc = inc->older)
		if (inc->id == id)
			return inc;
	for (size_t i = im->n_history; i-- > 0;)
		if (im->history[i]->id == id)
			return im->history[i];
	if (im->limbo && im->limbo->id == id)
		return im->limbo;
	return NULL;
}

/* The open incident of `key`, else the one of it resolved last. */
static struct vigil_incident *latest_of_key(const struct vigil_incidents *im,
					    const char *key)
{
	struct vigil_incident *inc = *slot_of(im, key);

	if (inc)
		return inc;
	if (im->limbo && strcmp(im->limbo->key, key) == 0)
		return im->limbo;
	for (size_t i = im->n_history; i-- > 0;)
		if (strcmp(im->history[i]->key, key) == 0)
			return im->history[i];
	return NULL;
}

int vigil_incidents_foreach(const struct vigil_incidents *im, int history,
			    int (*fn)(void *user, struct vigil_incident *inc),
			    void *user)
{
	int rc;

	for (struct vigil_incident *inc = im->oldest, *next; inc; inc = next) {
		next = inc->newer;
		if ((rc = fn(user, inc)) != 0)
			return rc;
	}
	for (size_t i = 0; history && i < im->n_history; i++)
		if ((rc = fn(user, im->history[i])) != 0)
			return rc;
	return 0;
}

/* ------------------------------------------------------------ history */

static void history_drop_oldest(struct vigil_incidents *im, size_t k)
{
	for (size_t i = 0; i < k; i++)
		vigil_incident_free(im->history[i]);
	memmove(im->history, im->history + k,
		(im->n_history - k) * sizeof(*im->history));
	im->n_history -= k;
}

static void history_prune_age(struct vigil_incidents *im, vigil_time_ns now)
{
	vigil_time_ns age = im->policy.history_max_age;
	size_t k = 0;

	if (!age)
		return;
	while (k < im->n_history && now - im->history[k]->resolved >= age)
		k++;
	if (k)
		history_drop_oldest(im, k);
}

/* Inserts by resolution time (the end, but for a replay out of order);
 * frees `inc` when no history is kept or it is older than all that is. */
static void history_insert(struct vigil_incidents *im,
			   struct vigil_incident *inc)
{
	size_t i;

	if (im->policy.history_max == 0) {
		vigil_incident_free(inc);
		return;
	}
	if (im->n_history == im->policy.history_max) {
		if (inc->resolved < im->history[0]->resolved) {
			vigil_incident_free(inc);
			return;
		}
		history_drop_oldest(im, 1);
	}
	i = im->n_history;
	while (i > 0 && im->history[i - 1]->resolved > inc->resolved)
		i--;
	memmove(im->history + i + 1, im->history + i,
		(im->n_history - i) * sizeof(*im->history));
	im->history[i] = inc;
	im->n_history++;
}

/* A resolved incident, just emitted: kept until a later call. */
static void to_history(struct vigil_incidents *im, struct vigil_incident *inc,
		       vigil_time_ns now)
{
	if (im->policy.history_max == 0) {
		limbo_free(im);
		im->limbo = inc;
		return;
	}
	history_prune_age(im, now);
	history_insert(im, inc);
}

/* ------------------------------------------------------------ flapping */

static struct vigil_flapkey **flap_slot(const struct vigil_incidents *im,
					const char *key)
{
	uint64_t h = vigil_hash_str(VIGIL_HASH_INIT, key);
	struct vigil_flapkey **p = &im->flaps[h & (im->n_flap_buckets - 1)];

	while (*p && strcmp((*p)->key, key) != 0)
		p = &(*p)->next;
	return p;
}

const struct vigil_flap *vigil_incidents_flap(const struct vigil_incidents *im,
					      const char *key)
{
	struct vigil_flapkey *fk = *flap_slot(im, key);

	return fk ? &fk->f : NULL;
}

static void flap_rehash(struct vigil_incidents *im)
{
	size_t old_n = im->n_flap_buckets;
	struct vigil_flapkey **old = im->flaps;

	im->n_flap_buckets *= 2;
	im->flaps = vigil_xcalloc(im->n_flap_buckets, sizeof(*im->flaps));
	for (size_t b = 0; b < old_n; b++) {
		struct vigil_flapkey *f = old[b], *next;
		for (; f; f = next) {
			struct vigil_flapkey **slot = flap_slot(im, f->key);
			next = f->next;
			f->next = *slot;
			*slot = f;
		}
	}
	free(old);
}

static struct vigil_flapkey *flap_add(struct vigil_incidents *im,
				      const char *key,
				      const struct vigil_flap *f)
{
	struct vigil_flapkey *fk = vigil_xcalloc(1, sizeof(*fk)), **slot;

	if (im->n_flaps >= 2 * im->n_flap_buckets)
		flap_rehash(im);
	fk->key = vigil_xstrdup(key);
	fk->f = *f;
	slot = flap_slot(im, key);
	fk->next = *slot;
	*slot = fk;
	im->n_flaps++;
	return fk;
}

static void flap_unlink(struct vigil_incidents *im, struct vigil_flapkey **slot)
{
	struct vigil_flapkey *fk = *slot;

	*slot = fk->next;
	free(fk->key);
	free(fk);
	im->n_flaps--;
}

/* Nothing to remember: what a key never seen starts from. */
static int flap_calm(const struct vigil_flap *f)
{
	return !f->changes && !f->flapping;
}

/* Drops the state of `key` if it is calm and no incident of it is open. */
static void flap_tidy(struct vigil_incidents *im, const char *key)
{
	struct vigil_flapkey **slot = flap_slot(im, key);

	if (*slot && flap_calm(&(*slot)->f) && !*slot_of(im, key))
		flap_unlink(im, slot);
}

static void flap_push(struct vigil_flap *f, unsigned n, int changed)
{
	uint32_t bit = 1u << f->pos;

	if (changed)
		f->changes |= bit;
	else
		f->changes &= ~bit;
	f->pos = (f->pos + 1) % n;
}

/* The observations inferred since the last one: the state held, once per
 * flap_interval. */
static void flap_catch_up(struct vigil_flap *f,
			  const struct vigil_incident_policy *p,
			  vigil_time_ns now)
{
	int64_t k;

	if (now - f->last < p->flap_interval)
		return;
	k = (now - f->last) / p->flap_interval;
	if (k >= (int64_t)p->flap_window) {
		f->changes = 0;
		f->pos = 0;
	} else {
		for (int64_t i = 0; i < k; i++)
			flap_push(f, p->flap_window, 0);
	}
	f->last += k * p->flap_interval;
}

/* Weighs the ring and decides: +1 when flapping starts, -1 when it ends,
 * else 0. Icinga 2: above high to start, no longer above low to end. */
static int flap_judge(struct vigil_flap *f,
		      const struct vigil_incident_policy *p)
{
	unsigned n = p->flap_window;
	double nn = (double)n * n, s = 0;
	int was = f->flapping;

	for (unsigned i = 0; i < n; i++)
		if (f->changes & (1u << ((f->pos + i) % n)))
			s += 2 * n + i;
	f->percent = 40 * s / nn;
	if (was)
		f->flapping = 40 * s > p->flap_low * nn;
	else
		f->flapping = 40 * s > p->flap_high * nn;
	return f->flapping - was;
}

/* One observation of `key` in `state` at `now`. Returns the key's flap
 * state (NULL with flap detection off, or for a clear of a key with no
 * state: nothing changed) and sets *change as flap_judge. */
static struct vigil_flapkey *flap_observe(struct vigil_incidents *im,
					  const char *key, uint32_t state,
					  vigil_time_ns now, int *change)
{
	const struct vigil_incident_policy *p = &im->policy;
	struct vigil_flapkey *fk;

	*change = 0;
	if (!p->flap_window)
		return NULL;
	fk = *flap_slot(im, key);
	if (!fk) {
		struct vigil_flap fresh = {.state = STATE_CLEAR, .last = now};

		if (state == STATE_CLEAR)
			return NULL;
		fk = flap_add(im, key, &fresh);
	}
	flap_catch_up(&fk->f, p, now);
	flap_push(&fk->f, p->flap_window, state != fk->f.state);
	fk->f.state = state;
	fk->f.last = now;
	*change = flap_judge(&fk->f, p);
	return fk;
}

static void flap_copy(struct vigil_incident *inc,
		      const struct vigil_flapkey *fk)
{
	if (!fk)
		return;
	inc->flap = fk->f;
	inc->flapping = fk->f.flapping;
}

/* ------------------------------------------------------------ changes */

static void refresh_silenced(const struct vigil_incidents *im,
			     struct vigil_incident *inc, vigil_time_ns now)
{
	inc->silenced = im->silences &&
			vigil_silences_match(im->silences, inc->key, inc->type,
					     inc->labels.v, inc->labels.n,
					     now) != NULL;
}

/* The next reminder, after a notification at `now`. */
static void plan_repeat(const struct vigil_incidents *im,
			struct vigil_incident *inc, vigil_time_ns now)
{
	inc->next_repeat = 0;
	if (im->policy.repeat_interval && inc->status == VIGIL_STATUS_OPEN)
		inc->next_repeat = now + im->policy.repeat_interval;
}

static void unack(struct vigil_incident *inc)
{
	if (inc->status != VIGIL_STATUS_ACKNOWLEDGED)
		return;
	inc->status = VIGIL_STATUS_OPEN;
	inc->acked = 0;
	free(inc->acked_by);
	free(inc->comment);
	inc->acked_by = inc->comment = NULL;
}

static void update_fields(struct vigil_incident *inc,
			  const struct vigil_cond *c, vigil_time_ns now)
{
	if (c->message && (!inc->message || strcmp(inc->message, c->message))) {
		free(inc->message);
		inc->message = vigil_xstrdup(c->message);
	}
	inc->value = c->value;
	inc->updated = now;
}

static struct vigil_incident *open_new(struct vigil_incidents *im,
				       const struct vigil_cond *c,
				       vigil_time_ns now)
{
	struct vigil_incident *inc = vigil_xcalloc(1, sizeof(*inc));

	inc->id = im->next_id++;
	inc->key = vigil_xstrdup(c->key);
	inc->type = vigil_xstrdup(c->type ? c->type : c->key);
	inc->severity = c->severity;
	inc->peak = c->severity;
	inc->status = VIGIL_STATUS_OPEN;
	inc->created = now;
	inc->occurrences = 1;
	vigil_labels_copy(&inc->labels, c->labels.v, c->labels.n);
	update_fields(inc, c, now);
	open_insert(im, inc);
	plan_repeat(im, inc, now);
	return inc;
}

/* FLAPPING_START or FLAPPING_END on `inc`; the end of flapping is a
 * notification, so the next reminder counts from it. */
static void emit_flap(const struct vigil_incidents *im,
		      struct vigil_incident *inc, int change, vigil_time_ns now,
		      const struct vigil_incident_emit *emit)
{
	if (!change || !inc)
		return;
	if (change < 0)
		plan_repeat(im, inc, now);
	emit_ev(emit, inc,
		change > 0 ? VIGIL_EVENT_FLAPPING_START :
			     VIGIL_EVENT_FLAPPING_END,
		inc->severity);
}

struct vigil_incident *
vigil_incidents_process(struct vigil_incidents *im, const struct vigil_cond *c,
			vigil_time_ns now,
			const struct vigil_incident_emit *emit)
{
	struct vigil_incident *inc = vigil_incidents_find(im, c->key);
	enum vigil_severity prev = inc ? inc->severity : c->severity;
	enum vigil_event_type type = 0;
	struct vigil_flapkey *fk;
	int flap;

	limbo_free(im);
	fk = flap_observe(im, c->key,
			  c->firing ? 1u + (uint32_t)c->severity : STATE_CLEAR,
			  now, &flap);
	if (!c->firing && !inc) {
		/* Nothing to resolve; the key's flapping may still change,
		 * told on the incident of it resolved last. */
		inc = flap ? latest_of_key(im, c->key) : NULL;
		if (inc) {
			flap_copy(inc, fk);
			emit_flap(im, inc, flap, now, emit);
		}
		flap_tidy(im, c->key);
		return NULL;
	}
	if (!c->firing) {
		open_remove(im, inc);
		update_fields(inc, c, now);
		inc->status = VIGIL_STATUS_RESOLVED;
		inc->resolved = now;
		inc->next_repeat = 0;
		type = VIGIL_EVENT_RESOLVED;
	} else if (!inc) {
		inc = open_new(im, c, now);
		type = VIGIL_EVENT_OPENED;
	} else {
		inc->occurrences++;
		update_fields(inc, c, now);
		if (c->severity > inc->severity)
			type = VIGIL_EVENT_ESCALATED;
		else if (c->severity < inc->severity)
			type = VIGIL_EVENT_DEESCALATED;
		inc->severity = c->severity;
		if (inc->severity > inc->peak)
			inc->peak = inc->severity;
		if (type == VIGIL_EVENT_ESCALATED)
			unack(inc);
		if (type)
			plan_repeat(im, inc, now);
	}
	flap_copy(inc, fk);
	refresh_silenced(im, inc, now);
	if (type)
		emit_ev(emit, inc, type, prev);
	emit_flap(im, inc, flap, now, emit);
	if (inc->status == VIGIL_STATUS_RESOLVED)
		to_history(im, inc, now);
	flap_tidy(im, c->key);
	return inc;
}

/* The one-event form keeps the incident's own event, not flapping's. */
struct primary {
	enum vigil_event_type type;
	enum vigil_severity prev;
};

static void keep_primary(void *user, struct vigil_incident *inc,
			 enum vigil_event_type type, enum vigil_severity prev)
{
	struct primary *p = user;

	if (p->type || type == VIGIL_EVENT_FLAPPING_START ||
	    type == VIGIL_EVENT_FLAPPING_END)
		return;
	p->type = type;
	p->prev = prev;
}

struct vigil_incident *vigil_incidents_apply(struct vigil_incidents *im,
					     const struct vigil_cond *c,
					     vigil_time_ns now,
					     enum vigil_event_type *type,
					     enum vigil_severity *prev)
{
	struct vigil_incident *inc = vigil_incidents_find(im, c->key);
	struct primary p = {0, inc ? inc->severity : c->severity};
	const struct vigil_incident_emit emit = {keep_primary, &p};

	inc = vigil_incidents_process(im, c, now, &emit);
	*type = p.type;
	*prev = p.prev;
	return inc;
}

/* The open incident `id` for a command: 0, -ENOENT or -ESRCH. */
static int open_by_id(struct vigil_incidents *im, uint64_t id,
		      struct vigil_incident **out)
{
	struct vigil_incident *inc;

	limbo_free(im);
	*out = inc = vigil_incidents_get(im, id);
	if (!inc)
		return -ENOENT;
	if (inc->status == VIGIL_STATUS_RESOLVED)
		return -ESRCH;
	return 0;
}

int vigil_incidents_ack(struct vigil_incidents *im, uint64_t id,
			const char *by, const char *comment, vigil_time_ns now,
			const struct vigil_incident_emit *emit,
			struct vigil_incident **out)
{
	struct vigil_incident *inc;
	int rc = open_by_id(im, id, &inc);

	if (out)
		*out = inc;
	if (rc < 0)
		return rc;
	if (inc->status == VIGIL_STATUS_ACKNOWLEDGED)
		return -EALREADY;
	inc->status = VIGIL_STATUS_ACKNOWLEDGED;
	inc->acked = now;
	inc->acked_by = by ? vigil_xstrdup(by) : NULL;
	inc->comment = comment ? vigil_xstrdup(comment) : NULL;
	inc->updated = now;
	inc->next_repeat = 0;
	refresh_silenced(im, inc, now);
	emit_ev(emit, inc, VIGIL_EVENT_ACKNOWLEDGED, inc->severity);
	return 0;
}

int vigil_incidents_resolve_manual(struct vigil_incidents *im, uint64_t id,
				   vigil_time_ns now,
				   const struct vigil_incident_emit *emit)
{
	struct vigil_incident *inc;
	int rc = open_by_id(im, id, &inc);

	if (rc < 0)
		return rc;
	open_remove(im, inc);
	inc->status = VIGIL_STATUS_RESOLVED;
	inc->resolved = now;
	inc->updated = now;
	inc->next_repeat = 0;
	refresh_silenced(im, inc, now);
	emit_ev(emit, inc, VIGIL_EVENT_RESOLVED, inc->severity);
	to_history(im, inc, now);
	/* Not an observation: the rule did not say so. */
	flap_tidy(im, inc->key);
	return 0;
}

int vigil_incidents_escalate(struct vigil_incidents *im,
			     struct vigil_incident *inc, vigil_time_ns now,
			     const struct vigil_incident_emit *emit)
{
	enum vigil_severity prev = inc->severity;

	if (inc->status == VIGIL_STATUS_RESOLVED)
		return -ESRCH;
	if (inc->severity < VIGIL_SEV_CRITICAL) {
		inc->severity = (enum vigil_severity)(inc->severity + 1);
		unack(inc);
	}
	if (inc->severity > inc->peak)
		inc->peak = inc->severity;
	inc->escalation++;
	inc->updated = now;
	if (inc->status == VIGIL_STATUS_OPEN)
		plan_repeat(im, inc, now);
	refresh_silenced(im, inc, now);
	emit_ev(emit, inc, VIGIL_EVENT_REMEDIATION_FAILED, prev);
	return 0;
}

/* ------------------------------------------------------------ the clock */

/* Flap state over the calm since the last observations. */
static void due_flaps(struct vigil_incidents *im, vigil_time_ns now,
		      const struct vigil_incident_emit *emit)
{
	for (size_t b = 0; b < im->n_flap_buckets; b++) {
		struct vigil_flapkey **pp = &im->flaps[b];

		while (*pp) {
			struct vigil_flapkey *fk = *pp;
			struct vigil_incident *inc;
			int change;

			flap_catch_up(&fk->f, &im->policy, now);
			change = flap_judge(&fk->f, &im->policy);
			inc = latest_of_key(im, fk->key);
			if (inc && (inc->status != VIGIL_STATUS_RESOLVED ||
				    change)) {
				flap_copy(inc, fk);
				if (change)
					refresh_silenced(im, inc, now);
				emit_flap(im, inc, change, now, emit);
			}
			if (flap_calm(&fk->f) && !*slot_of(im, fk->key))
				flap_unlink(im, pp);
			else
				pp = &fk->next;
		}
	}
}

void vigil_incidents_due(struct vigil_incidents *im, vigil_time_ns now,
			 const struct vigil_incident_emit *emit)
{
	vigil_time_ns every = im->policy.repeat_interval;

	limbo_free(im);
	if (im->policy.flap_window)
		due_flaps(im, now, emit);
	for (struct vigil_incident *inc = im->oldest; inc; inc = inc->newer) {
		int was = inc->silenced;

		refresh_silenced(im, inc, now);
		if (inc->status != VIGIL_STATUS_OPEN || inc->silenced ||
		    inc->flapping)
			continue;
		/* A silence that ended lets out what it held back. */
		if (!was && (!inc->next_repeat || now < inc->next_repeat))
			continue;
		emit_ev(emit, inc, VIGIL_EVENT_REPEAT, inc->severity);
		if (!every)
			inc->next_repeat = 0;
		else if (!was && inc->next_repeat + every > now)
			inc->next_repeat += every; /* on its beat */
		else
			inc->next_repeat = now + every;
	}
	history_prune_age(im, now);
}

static void earliest(vigil_time_ns *t, vigil_time_ns when)
{
	if (when && (!*t || when < *t))
		*t = when;
}

vigil_time_ns vigil_incidents_next_due(const struct vigil_incidents *im)
{
	vigil_time_ns t = 0;

	for (const struct vigil_incident *inc = im->oldest; inc;
	     inc = inc->newer)
		if (inc->status == VIGIL_STATUS_OPEN && !inc->silenced &&
		    !inc->flapping)
			earliest(&t, inc->next_repeat);
	for (size_t b = 0; im->policy.flap_window && b < im->n_flap_buckets;
	     b++)
		for (const struct vigil_flapkey *fk = im->flaps[b]; fk;
		     fk = fk->next)
			if (!flap_calm(&fk->f))
				earliest(&t, fk->f.last +
						     im->policy.flap_interval);
	if (im->n_history && im->policy.history_max_age)
		earliest(&t, im->history[0]->resolved +
				     im->policy.history_max_age);
	return t;
}

void vigil_incidents_set_policy(struct vigil_incidents *im,
				const struct vigil_incident_policy *p)
{
	struct vigil_incident_policy s = sane(p);
	struct vigil_incident **h;

	if (im->n_history > s.history_max)
		history_drop_oldest(im, im->n_history - s.history_max);
	h = vigil_xcalloc(s.history_max ? s.history_max : 1, sizeof(*h));
	if (im->n_history)
		memcpy(h, im->history, im->n_history * sizeof(*h));
	free(im->history);
	im->history = h;
	/* A ring of another width means nothing: start it over, keeping
	 * whether the key flaps until it is judged again. Without flap
	 * detection nothing flaps, silently. */
	for (size_t b = 0; s.flap_window != im->policy.flap_window &&
			   b < im->n_flap_buckets;
	     b++) {
		while (!s.flap_window && im->flaps[b])
			flap_unlink(im, &im->flaps[b]);
		for (struct vigil_flapkey *fk = im->flaps[b]; fk; fk = fk->next)
			fk->f.changes = fk->f.pos = 0;
	}
	for (struct vigil_incident *inc = im->oldest; !s.flap_window && inc;
	     inc = inc->newer)
		inc->flapping = inc->flap.flapping = 0;
	im->policy = s;
}

void vigil_incident_add_action(struct vigil_incident *inc,
			       const struct vigil_action_record *rec)
{
	struct vigil_action_rec *a;

	vigil_grow((void **)&inc->actions, &inc->cap_actions,
		   inc->n_actions + 1, sizeof(*inc->actions));
	a = &inc->actions[inc->n_actions++];
	a->action = vigil_xstrdup(rec->action ? rec->action : "");
	a->start = rec->start;
	a->duration = rec->duration;
	a->exit_status = rec->exit_status;
	a->outcome = rec->outcome;
	a->output = vigil_xstrdup(rec->output ? rec->output : "");
}

/* ------------------------------------------------------------ journal */

#define FLAG_FLAPPING 0x1u
#define FLAG_SILENCED 0x2u

void vigil_incident_encode(const struct vigil_incident *inc,
			   struct vigil_wire *w)
{
	size_t first = inc->n_actions > VIGIL_INCIDENT_WIRE_ACTIONS ?
			       inc->n_actions - VIGIL_INCIDENT_WIRE_ACTIONS :
			       0;

	vigil_wire_put_u32(w, VIGIL_INCIDENT_WIRE_VERSION);
	vigil_wire_put_u64(w, inc->id);
	vigil_wire_put_str(w, inc->key);
	vigil_wire_put_str(w, inc->type);
	vigil_wire_put_u32(w, (uint32_t)inc->severity);
	vigil_wire_put_u32(w, (uint32_t)inc->peak);
	vigil_wire_put_u32(w, (uint32_t)inc->status);
	vigil_wire_put_str(w, inc->message);
	vigil_wire_put_f64(w, inc->value);
	vigil_wire_put_labels(w, inc->labels.v, inc->labels.n);
	vigil_wire_put_i64(w, inc->created);
	vigil_wire_put_i64(w, inc->updated);
	vigil_wire_put_i64(w, inc->resolved);
	vigil_wire_put_u32(w, inc->occurrences);
	vigil_wire_put_u32(w, inc->escalation);
	vigil_wire_put_u32(w, (inc->flapping ? FLAG_FLAPPING : 0) |
				      (inc->silenced ? FLAG_SILENCED : 0));
	vigil_wire_put_i64(w, inc->acked);
	vigil_wire_put_str(w, inc->acked_by);
	vigil_wire_put_str(w, inc->comment);
	vigil_wire_put_i64(w, inc->next_repeat);
	vigil_wire_put_u32(w, inc->flap.changes);
	vigil_wire_put_u32(w, inc->flap.pos);
	vigil_wire_put_u32(w, inc->flap.state);
	vigil_wire_put_u32(w, (uint32_t)inc->flap.flapping);
	vigil_wire_put_f64(w, inc->flap.percent);
	vigil_wire_put_i64(w, inc->flap.last);
	vigil_wire_put_u32(w, (uint32_t)(inc->n_actions - first));
	for (size_t i = first; i < inc->n_actions; i++) {
		const struct vigil_action_rec *a = &inc->actions[i];
		vigil_wire_put_str(w, a->action);
		vigil_wire_put_i64(w, a->start);
		vigil_wire_put_i64(w, a->duration);
		vigil_wire_put_u32(w, (uint32_t)a->exit_status);
		vigil_wire_put_u32(w, (uint32_t)a->outcome);
		vigil_wire_put_str(w, a->output);
	}
}

static char *dup_or_null(const char *s)
{
	return s ? vigil_xstrdup(s) : NULL;
}

/* The action records, into `inc`; -1 on a bad one. */
static int decode_actions(struct vigil_wire_reader *r,
			  struct vigil_incident *inc)
{
	uint32_t n = vigil_wire_get_u32(r);

	if (r->err || n > VIGIL_INCIDENT_WIRE_ACTIONS)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		struct vigil_action_record rec;

		rec.action = vigil_wire_get_str(r);
		rec.start = vigil_wire_get_i64(r);
		rec.duration = vigil_wire_get_i64(r);
		rec.exit_status = (int)vigil_wire_get_u32(r);
		rec.outcome = (enum vigil_action_outcome)vigil_wire_get_u32(r);
		rec.output = vigil_wire_get_str(r);
		if (r->err || !rec.action || !rec.output ||
		    (unsigned)rec.outcome > VIGIL_ACTION_ERROR)
			return -1;
		vigil_incident_add_action(inc, &rec);
	}
	return 0;
}

struct vigil_incident *vigil_incident_decode(struct vigil_wire_reader *r)
{
	struct vigil_incident in = {0}, *inc;
	const char *key, *type, *message, *by, *comment;
	const struct vigil_label *labels;
	size_t n_labels;
	uint32_t version, flags;

	version = vigil_wire_get_u32(r);
	if (r->err || version != VIGIL_INCIDENT_WIRE_VERSION) {
		r->err = 1;
		return NULL;
	}
	in.id = vigil_wire_get_u64(r);
	key = vigil_wire_get_str(r);
	type = vigil_wire_get_str(r);
	in.severity = (enum vigil_severity)vigil_wire_get_u32(r);
	in.peak = (enum vigil_severity)vigil_wire_get_u32(r);
	in.status = (enum vigil_incident_status)vigil_wire_get_u32(r);
	message = vigil_wire_get_str(r);
	in.value = vigil_wire_get_f64(r);
	vigil_wire_get_labels(r, &labels, &n_labels);
	in.created = vigil_wire_get_i64(r);
	in.updated = vigil_wire_get_i64(r);
	in.resolved = vigil_wire_get_i64(r);
	in.occurrences = vigil_wire_get_u32(r);
	in.escalation = vigil_wire_get_u32(r);
	flags = vigil_wire_get_u32(r);
	in.acked = vigil_wire_get_i64(r);
	by = vigil_wire_get_str(r);
	comment = vigil_wire_get_str(r);
	in.next_repeat = vigil_wire_get_i64(r);
	in.flap.changes = vigil_wire_get_u32(r);
	in.flap.pos = vigil_wire_get_u32(r);
	in.flap.state = vigil_wire_get_u32(r);
	in.flap.flapping = vigil_wire_get_u32(r) != 0;
	in.flap.percent = vigil_wire_get_f64(r);
	in.flap.last = vigil_wire_get_i64(r);
	/* Times are wall clock, never before 1970: what is done with them
	 * later (now - last) then cannot overflow. */
	if (in.created < 0 || in.updated < 0 || in.resolved < 0 ||
	    in.acked < 0 || in.next_repeat < 0 || in.flap.last < 0)
		r->err = 1;
	if (r->err || in.id == 0 || !key || !*key || !type ||
	    (unsigned)in.severity > VIGIL_SEV_CRITICAL ||
	    (unsigned)in.peak > VIGIL_SEV_CRITICAL ||
	    (unsigned)in.status > VIGIL_STATUS_RESOLVED ||
	    flags & ~(FLAG_FLAPPING | FLAG_SILENCED) ||
	    in.flap.pos >= VIGIL_FLAP_WINDOW_MAX || in.flap.state > STATE_MAX) {
		r->err = 1;
		return NULL;
	}
	inc = vigil_xmalloc(sizeof(*inc));
	*inc = in;
	inc->key = vigil_xstrdup(key);
	inc->type = vigil_xstrdup(type);
	inc->message = dup_or_null(message);
	inc->acked_by = dup_or_null(by);
	inc->comment = dup_or_null(comment);
	inc->flapping = (flags & FLAG_FLAPPING) != 0;
	inc->silenced = (flags & FLAG_SILENCED) != 0;
	vigil_labels_copy(&inc->labels, labels, n_labels);
	if (decode_actions(r, inc) < 0) {
		r->err = 1;
		vigil_incident_free(inc);
		return NULL;
	}
	return inc;
}

/* The flap state a replayed incident carries, if newer than the key's. */
static void restore_flap(struct vigil_incidents *im,
			 const struct vigil_incident *inc)
{
	struct vigil_flapkey *fk = *flap_slot(im, inc->key);
	unsigned n = im->policy.flap_window;
	struct vigil_flap f = inc->flap;

	if (!n || (fk && fk->f.last >= f.last))
		return;
	if (f.pos >= n) {
		/* Of another window: the ring means nothing here. */
		f.changes = 0;
		f.pos = 0;
	}
	f.changes &= n < 32 ? (1u << n) - 1 : ~0u;
	if (flap_calm(&f) && inc->status == VIGIL_STATUS_RESOLVED)
		return;
	if (fk)
		fk->f = f;
	else
		flap_add(im, inc->key, &f);
}

int vigil_incidents_restore(struct vigil_incidents *im,
			    struct vigil_incident *inc)
{
	struct vigil_incident *old, *cur;

	limbo_free(im);
	old = vigil_incidents_get(im, inc->id);
	cur = *slot_of(im, inc->key);
	if (inc->status != VIGIL_STATUS_RESOLVED && cur && cur != old)
		return -EEXIST;
	if (old && old->status != VIGIL_STATUS_RESOLVED) {
		open_remove(im, old);
		vigil_incident_free(old);
	} else if (old) {
		size_t i = 0;
		while (im->history[i] != old)
			i++;
		vigil_incident_free(old);
		memmove(im->history + i, im->history + i + 1,
			(im->n_history - i - 1) * sizeof(*im->history));
		im->n_history--;
	}
	if (inc->id >= im->next_id)
		im->next_id = inc->id + 1;
	restore_flap(im, inc);
	inc->next = inc->older = inc->newer = NULL;
	if (inc->status != VIGIL_STATUS_RESOLVED)
		open_insert(im, inc);
	else
		history_insert(im, inc);
	return 0;
}

/* ------------------------------------------------------------ events */

struct vigil_ev *vigil_ev_new(const struct vigil_incident *inc,
			      enum vigil_event_type type,
			      enum vigil_severity prev, vigil_time_ns now)
{
	struct vigil_ev *ev = vigil_xcalloc(1, sizeof(*ev));
	struct vigil_event *e = &ev->pub;

	ev->refs = 1;
	size_t len = strlen(inc->key) + strlen(inc->type) +
		     strlen(inc->message ? inc->message : "") +
		     (inc->comment ? strlen(inc->comment) + 1 : 0) + 3;
	char *p;

	for (size_t i = 0; i < inc->n_actions; i++)
		len += strlen(inc->actions[i].action) +
		       strlen(inc->actions[i].output) + 2;
	ev->strings = p = vigil_xmalloc(len);
#define PUT(dst, src)                                                         \
	do {                                                                  \
		size_t l_ = strlen(src) + 1;                                  \
		memcpy(p, (src), l_);                                         \
		(dst) = p;                                                    \
		p += l_;                                                      \
	} while (0)
	PUT(e->key, inc->key);
	PUT(e->incident_type, inc->type);
	PUT(e->message, inc->message ? inc->message : "");
	if (inc->comment)
		PUT(e->comment, inc->comment);
	if (inc->n_actions) {
		ev->actions = vigil_xcalloc(inc->n_actions, sizeof(*ev->actions));
		for (size_t i = 0; i < inc->n_actions; i++) {
			const struct vigil_action_rec *a = &inc->actions[i];
			PUT(ev->actions[i].action, a->action);
			PUT(ev->actions[i].output, a->output);
			ev->actions[i].start = a->start;
			ev->actions[i].duration = a->duration;
			ev->actions[i].exit_status = a->exit_status;
			ev->actions[i].outcome = a->outcome;
		}
	}
#undef PUT
	vigil_labels_copy(&ev->labels, inc->labels.v, inc->labels.n);
	ev->peak = inc->peak;
	e->type = type;
	e->incident_id = inc->id;
	e->severity = inc->severity;
	e->previous_severity = prev;
	e->status = inc->status;
	e->value = inc->value;
	e->labels = ev->labels.v;
	e->n_labels = ev->labels.n;
	e->time = now;
	e->created = inc->created;
	e->resolved = inc->resolved;
	e->occurrences = inc->occurrences;
	e->actions = ev->actions;
	e->n_actions = inc->n_actions;
	e->escalation = inc->escalation;
	e->flapping = inc->flapping;
	e->silenced = inc->silenced;
	return ev;
}

struct vigil_ev *vigil_ev_copy(const struct vigil_event *e,
			       enum vigil_severity peak)
{
	struct vigil_ev *ev = vigil_xcalloc(1, sizeof(*ev));
	size_t len = 0;
	char *p;

#define LEN(s) ((s) ? strlen(s) + 1 : 1)
	len += LEN(e->key) + LEN(e->incident_type) + LEN(e->message) +
	       LEN(e->comment);
	for (size_t i = 0; i < e->n_actions; i++)
		len += LEN(e->actions[i].action) + LEN(e->actions[i].output);
#undef LEN
	ev->strings = p = vigil_xmalloc(len);
#define PUT(dst, src)                                                         \
	do {                                                                  \
		const char *s_ = (src) ? (src) : "";                          \
		size_t l_ = strlen(s_) + 1;                                   \
		memcpy(p, s_, l_);                                            \
		(dst) = p;                                                    \
		p += l_;                                                      \
	} while (0)
	ev->refs = 1;
	ev->pub = *e;
	ev->peak = peak;
	PUT(ev->pub.key, e->key);
	PUT(ev->pub.incident_type, e->incident_type);
	PUT(ev->pub.message, e->message);
	if (e->comment)
		PUT(ev->pub.comment, e->comment);
	if (e->n_actions) {
		ev->actions = vigil_xcalloc(e->n_actions, sizeof(*ev->actions));
		for (size_t i = 0; i < e->n_actions; i++) {
			ev->actions[i] = e->actions[i];
			PUT(ev->actions[i].action, e->actions[i].action);
			PUT(ev->actions[i].output, e->actions[i].output);
		}
	}
#undef PUT
	ev->pub.actions = ev->actions;
	vigil_labels_copy(&ev->labels, e->labels, e->n_labels);
	ev->pub.labels = ev->labels.v;
	ev->pub.n_labels = ev->labels.n;
	return ev;
}

void vigil_ev_free(struct vigil_ev *ev)
{
	if (!ev || --ev->refs > 0)
		return;
	free(ev->actions);
	free(ev->strings);
	free(ev->inc_rec);
	vigil_labels_free(&ev->labels);
	free(ev);
}
