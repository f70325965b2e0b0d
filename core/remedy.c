/*
 * remedy.c - the remediation policy (see remedy.h).
 *
 * Entries are few (actions x incidents being remediated): a flat array,
 * searched linearly.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "remedy.h"

void vigil_remedy_init(struct vigil_remedy *r)
{
	memset(r, 0, sizeof(*r));
}

void vigil_remedy_free(struct vigil_remedy *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}

static struct vigil_remedy_entry *find(const struct vigil_remedy *r,
				       size_t action, uint64_t incident)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].action == action && r->v[i].incident == incident)
			return &r->v[i];
	return NULL;
}

const struct vigil_remedy_entry *
vigil_remedy_find(const struct vigil_remedy *r, size_t action,
		  uint64_t incident)
{
	return find(r, action, incident);
}

static void drop(struct vigil_remedy *r, size_t i)
{
	r->v[i] = r->v[--r->n];
}

enum vigil_remedy_verdict vigil_remedy_event(struct vigil_remedy *r,
					     size_t action, uint64_t incident,
					     vigil_time_ns now)
{
	struct vigil_remedy_entry *e;

	(void)now;
	if (find(r, action, incident))
		return VIGIL_REMEDY_NOTHING;
	vigil_grow((void **)&r->v, &r->cap, r->n + 1, sizeof(*r->v));
	e = &r->v[r->n++];
	memset(e, 0, sizeof(*e));
	e->action = action;
	e->incident = incident;
	e->state = VIGIL_REMEDY_RUNNING;
	e->attempts = 1;
	return VIGIL_REMEDY_RUN;
}

void vigil_remedy_done(struct vigil_remedy *r,
		       const struct vigil_remedy_policy *p, size_t action,
		       uint64_t incident, vigil_time_ns now)
{
	struct vigil_remedy_entry *e = find(r, action, incident);

	if (!e || e->state != VIGIL_REMEDY_RUNNING)
		return;
	e->state = VIGIL_REMEDY_WAITING;
	e->due = now + (p->verify > p->cooldown ? p->verify : p->cooldown);
}

unsigned vigil_remedy_resolved(struct vigil_remedy *r, uint64_t incident)
{
	unsigned attempts = 0;

	for (size_t i = r->n; i-- > 0;) {
		if (r->v[i].incident != incident)
			continue;
		attempts += r->v[i].attempts;
		drop(r, i);
	}
	return attempts;
}

void vigil_remedy_forget(struct vigil_remedy *r, size_t action,
			 uint64_t incident)
{
	struct vigil_remedy_entry *e = find(r, action, incident);

	if (e)
		drop(r, (size_t)(e - r->v));
}

enum vigil_remedy_verdict
vigil_remedy_next(struct vigil_remedy *r,
		  const struct vigil_remedy_policy *(*policy)(void *user,
							      size_t action),
		  void *user, vigil_time_ns now, size_t *action,
		  uint64_t *incident)
{
	for (size_t i = 0; i < r->n; i++) {
		struct vigil_remedy_entry *e = &r->v[i];
		const struct vigil_remedy_policy *p;

		if (e->state != VIGIL_REMEDY_WAITING || e->due > now)
			continue;
		p = policy(user, e->action);
		*action = e->action;
		*incident = e->incident;
		if (e->attempts < p->attempts) {
			e->attempts++;
			e->state = VIGIL_REMEDY_RUNNING;
			return VIGIL_REMEDY_RUN;
		}
		e->state = VIGIL_REMEDY_FAILED;
		return VIGIL_REMEDY_GIVE_UP;
	}
	return VIGIL_REMEDY_NOTHING;
}

vigil_time_ns vigil_remedy_next_due(const struct vigil_remedy *r)
{
	vigil_time_ns due = 0;

	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].state == VIGIL_REMEDY_WAITING &&
		    (!due || r->v[i].due < due))
			due = r->v[i].due;
	return due;
}
