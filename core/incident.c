/*
 * incident.c - the incident manager.
 *
 * Conditions are deduplicated by key into incidents: the first firing opens
 * one, a change of severity escalates or de-escalates the same incident, a
 * clear resolves it and moves it to history. A firing condition repeated at
 * the same severity only counts an occurrence.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "incident.h"

void vigil_cond_free(struct vigil_cond *c)
{
	free(c->key);
	free(c->type);
	free(c->message);
	vigil_labels_free(&c->labels);
	memset(c, 0, sizeof(*c));
}

void vigil_incidents_init(struct vigil_incidents *im, size_t history_max)
{
	memset(im, 0, sizeof(*im));
	im->n_buckets = 256;
	im->buckets = vigil_xcalloc(im->n_buckets, sizeof(*im->buckets));
	im->next_id = 1;
	im->history_max = history_max;
	im->history = vigil_xcalloc(history_max ? history_max : 1,
				    sizeof(*im->history));
}

static void incident_free(struct vigil_incident *inc)
{
	for (size_t i = 0; i < inc->n_actions; i++) {
		free(inc->actions[i].action);
		free(inc->actions[i].output);
	}
	free(inc->actions);
	free(inc->key);
	free(inc->type);
	free(inc->message);
	vigil_labels_free(&inc->labels);
	free(inc);
}

void vigil_incidents_free(struct vigil_incidents *im)
{
	for (size_t b = 0; b < im->n_buckets; b++) {
		struct vigil_incident *i = im->buckets[b], *next;
		for (; i; i = next) {
			next = i->next;
			incident_free(i);
		}
	}
	for (size_t i = 0; i < im->n_history; i++)
		incident_free(im->history[i]);
	free(im->history);
	free(im->buckets);
	memset(im, 0, sizeof(*im));
}

static struct vigil_incident **slot_of(struct vigil_incidents *im,
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

static void to_history(struct vigil_incidents *im, struct vigil_incident *inc)
{
	if (im->history_max == 0) {
		incident_free(inc);
		return;
	}
	if (im->n_history == im->history_max) {
		incident_free(im->history[0]);
		memmove(im->history, im->history + 1,
			(im->n_history - 1) * sizeof(*im->history));
		im->n_history--;
	}
	im->history[im->n_history++] = inc;
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

struct vigil_incident *vigil_incidents_apply(struct vigil_incidents *im,
					     const struct vigil_cond *c,
					     vigil_time_ns now,
					     enum vigil_event_type *type,
					     enum vigil_severity *prev)
{
	struct vigil_incident **slot = slot_of(im, c->key), *inc = *slot;

	*type = 0;
	*prev = inc ? inc->severity : c->severity;
	if (!c->firing) {
		if (!inc)
			return NULL;
		*slot = inc->next;
		inc->next = NULL;
		im->n_open--;
		update_fields(inc, c, now);
		inc->status = VIGIL_STATUS_RESOLVED;
		inc->resolved = now;
		*type = VIGIL_EVENT_RESOLVED;
		to_history(im, inc);
		return inc;
	}
	if (!inc) {
		inc = vigil_xcalloc(1, sizeof(*inc));
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
		*slot = inc;
		im->n_open++;
		*type = VIGIL_EVENT_OPENED;
		return inc;
	}
	inc->occurrences++;
	update_fields(inc, c, now);
	if (c->severity > inc->severity)
		*type = VIGIL_EVENT_ESCALATED;
	else if (c->severity < inc->severity)
		*type = VIGIL_EVENT_DEESCALATED;
	inc->severity = c->severity;
	if (inc->severity > inc->peak)
		inc->peak = inc->severity;
	return inc;
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

struct vigil_ev *vigil_ev_new(const struct vigil_incident *inc,
			      enum vigil_event_type type,
			      enum vigil_severity prev, vigil_time_ns now)
{
	struct vigil_ev *ev = vigil_xcalloc(1, sizeof(*ev));
	struct vigil_event *e = &ev->pub;

	ev->refs = 1;
	size_t len = strlen(inc->key) + strlen(inc->type) +
		     strlen(inc->message ? inc->message : "") + 3;
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
	return ev;
}

void vigil_ev_free(struct vigil_ev *ev)
{
	if (!ev || --ev->refs > 0)
		return;
	free(ev->actions);
	free(ev->strings);
	vigil_labels_free(&ev->labels);
	free(ev);
}
