/*
 * pipeline.c - the staged data path inside the core.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pipeline.h"
#include "proto.h"
#include "worker.h"

/* Record types of the journal (journal.h): what the pipeline keeps. */
enum {
	REC_INCIDENT = 1, /* an incident, whole, as it is now */
	REC_SILENCE = 2,  /* a silence added (from vigilctl) */
	REC_SILENCE_RM = 3, /* u64 id: removed */
	REC_EVENT = 4,    /* u64 seq, u32 n, n sink sections, the event */
	REC_DONE = 5,     /* u64 seq, sink section: delivered or given up */
	REC_IDS = 6,      /* u64 next incident id, next silence id, seq */
	/* An incident as an event left it (REC_INCIDENT's fields), then the
	 * event (REC_EVENT's): one record, so that a kill between the two
	 * can neither keep a change whose event is lost nor an event of a
	 * change that is. */
	REC_INCIDENT_EVENT = 7,
};

/* Incident ids are reserved this many at a time: a REC_IDS record, synced
 * before the first of them is given, so that no id reaches a sink before
 * the journal can prevent its reuse, even after a power loss that takes
 * the records of the incidents themselves. */
#define ID_RESERVE 256

/* Compaction when the journal has grown past this and 4 times its size
 * after the last one. */
#define JOURNAL_COMPACT_MIN (1u << 20)

#define BATCH 256
/* The most series one sensor may make, and all sensors together: the
 * difference is kept for the others, so that a sensor making a label
 * value per reading cannot take the series a disk mounted later, or a
 * sensor started after it, needs. */
#define INSTANCE_SERIES_MAX 100000
#define SERIES_LIMIT (INSTANCE_SERIES_MAX + 1000)
/* Incident events sent to a sink's worker in one deliver call, at most
 * (and about this many bytes). */
#define DELIVER_BATCH 4096
#define DELIVER_BYTES (1024 * 1024)
/* Events given up for a full queue are said one by one at most this
 * often; the rest are counted in the next line. */
#define GIVE_UP_SAY (10 * VIGIL_SEC)
/* How long a running sink's worker may hold more than VIGIL_SINK_QUEUE_MAX
 * events (queue_cap). */
#define BURST_GRACE (10 * VIGIL_SEC)
#define HISTORY_MAX 100
/* The most incidents open at once: as many as series (a storm where every
 * series fires), not more. A rule that makes a new key per reading would
 * otherwise grow vigild without bound (476,000 incidents and 300 MB in
 * 16 s); past it a new key's firing condition is refused, counted
 * (vigil.conditions_refused) and said every 10 s. plugin_failed is always
 * opened. */
#define OPEN_MAX SERIES_LIMIT
#define REFUSED_SAY (10 * VIGIL_SEC)
#define OUTPUT_MAX 1024

static vigil_time_ns pl_now(struct vigil_pipeline *pl)
{
	return pl->clock ? pl->clock() : vigil_now();
}

/* Takes calls now: started in the core, or its worker running. */
static int live(const struct vigil_instance *inst)
{
	return inst->worker ? vigil_worker_accepting(inst->worker) :
			      inst->started;
}

/* Resolves, once per series, which rules and metric sinks take it. */
static void route_series(void *user, struct vigil_series *s)
{
	struct vigil_pipeline *pl = user;
	size_t cap = 0;

	for (size_t i = 0; i < pl->n_rules; i++) {
		struct vigil_instance *r = pl->rules[i];
		if (!vigil_selector_match(&r->match, s->metric, s->labels.v,
					  s->labels.n))
			continue;
		vigil_grow((void **)&s->routes, &cap, s->n_routes + 1,
			   sizeof(*s->routes));
		s->routes[s->n_routes].rule = r;
		s->routes[s->n_routes].state = NULL;
		s->n_routes++;
	}
	for (size_t i = 0; i < pl->n_sinks && i < 64; i++) {
		struct vigil_instance *k = pl->sinks[i];
		if (k->metrics && k->desc->write &&
		    vigil_selector_match(&k->match, s->metric, s->labels.v,
					 s->labels.n))
			s->sink_mask |= 1ull << i;
	}
	vigil_debug("new series #%llu %s%s from [%s]: %zu rule(s), sinks 0x%llx",
		    (unsigned long long)s->id, s->metric, s->label_str,
		    s->sensor->section, s->n_routes,
		    (unsigned long long)s->sink_mask);
}

static void free_route(struct vigil_route *r)
{
	if (!r->state)
		return;
	if (r->rule->started && r->rule->desc->series_free)
		r->rule->desc->series_free(r->rule->state, r->state);
	else
		free(r->state);
	r->state = NULL;
}

void vigil_pipeline_init(struct vigil_pipeline *pl, size_t ring_cap,
			 struct vigil_instance **rules, size_t n_rules,
			 struct vigil_instance **sinks, size_t n_sinks,
			 struct vigil_instance **actions, size_t n_actions)
{
	memset(pl, 0, sizeof(*pl));
	pl->rules = rules;
	pl->n_rules = n_rules;
	pl->sinks = sinks;
	pl->n_sinks = n_sinks;
	pl->actions = actions;
	pl->n_actions = n_actions;
	pl->ring_cap = ring_cap ? ring_cap : 65536;
	pl->ring = vigil_xcalloc(pl->ring_cap, sizeof(*pl->ring));
	pl->retry = vigil_xcalloc(n_sinks ? n_sinks : 1, sizeof(*pl->retry));
	for (size_t k = 0; k < n_sinks; k++) {
		pl->retry[k].pl = pl;
		pl->retry[k].k = k;
	}
	vigil_series_init(&pl->series, SERIES_LIMIT, route_series, pl);
	vigil_incidents_init(&pl->incidents, HISTORY_MAX);
	vigil_silences_init(&pl->silences);
	vigil_incidents_set_silences(&pl->incidents, &pl->silences);
	pl->routing = vigil_xcalloc(n_sinks ? n_sinks : 1,
				    sizeof(*pl->routing));
	for (size_t k = 0; k < n_sinks; k++) {
		struct vigil_routing_config cfg;
		const struct vigil_instance *sink = sinks[k];

		vigil_routing_config_default(&cfg);
		cfg.min_severity = sink->min_severity;
		cfg.match = sink->on.n_terms ? &sink->on : NULL;
		cfg.dedupe = sink->dedupe;
		cfg.send_resolved = sink->send_resolved;
		vigil_routing_init(&pl->routing[k], &cfg);
	}
	vigil_remedy_init(&pl->remedy);
}

void vigil_pipeline_free(struct vigil_pipeline *pl)
{
	vigil_series_free(&pl->series, free_route);
	for (size_t i = 0; i < pl->n_conds; i++)
		vigil_cond_free(&pl->conds[i]);
	free(pl->conds);
	for (size_t i = 0; i < pl->n_events; i++)
		vigil_ev_free(pl->events[i]);
	free(pl->events);
	for (size_t k = 0; k < pl->n_sinks; k++) {
		struct vigil_sink_queue *q = &pl->retry[k];
		if (q->len)
			vigil_log(VIGIL_LOG_ERR, pl->sinks[k]->section,
				  "%zu incident event(s) were never delivered",
				  q->len);
		for (size_t i = 0; i < q->len; i++)
			vigil_ev_free(q->ev[q->head + i]);
		free(q->ev);
		vigil_routing_free(&pl->routing[k]);
	}
	free(pl->retry);
	free(pl->routing);
	free(pl->unconfirmed);
	vigil_pipeline_journal_close(pl);
	vigil_incidents_free(&pl->incidents);
	vigil_silences_free(&pl->silences);
	vigil_remedy_free(&pl->remedy);
	free(pl->ring);
	memset(pl, 0, sizeof(*pl));
}

/* ---------------------------------------------------------- emit hooks */

/* Says that readings are being dropped, at most once a minute. */
static void warn_drops(struct vigil_pipeline *pl)
{
	vigil_time_ns now = vigil_monotonic();

	if (pl->drop_warned && now - pl->drop_warned < 60 * VIGIL_SEC)
		return;
	pl->drop_warned = now;
	vigil_warn("reading queue full (%zu): dropping the oldest readings; "
		   "%llu dropped so far (raise reading_queue in [daemon], or "
		   "lower sensor rates)",
		   pl->ring_cap, (unsigned long long)pl->stats.readings_dropped);
}

/* Checks the names of a reading no series has yet: 0 or -EINVAL (logged
 * once per sensor, counted). */
static int check_new_reading(struct vigil_pipeline *pl,
			     struct vigil_instance *inst,
			     const struct vigil_reading *r)
{
	size_t i = 0;
	int bad = vigil_reading_names_bad(r->metric, r->labels, r->n_labels, &i);

	if (!bad)
		return 0;
	pl->stats.readings_refused++;
	if (inst->errors++ == 0) {
		if (bad < 0)
			vigil_log(VIGIL_LOG_WARNING, inst->section,
				  "reading refused: metric name '%s' is not "
				  "letters, digits and '_.:-'",
				  r->metric ? r->metric : "(null)");
		else
			vigil_log(VIGIL_LOG_WARNING, inst->section,
				  "reading %s refused: label %zu has no valid "
				  "name",
				  r->metric, i);
	}
	return -EINVAL;
}

/* True if the series lookup can dereference what `r` points at. */
static int lookup_safe(const struct vigil_reading *r)
{
	if (!r->metric || (r->n_labels && !r->labels))
		return 0;
	for (size_t i = 0; i < r->n_labels; i++)
		if (!r->labels[i].key)
			return 0;
	return 1;
}

struct vigil_series *vigil_pipeline_series(struct vigil_pipeline *pl,
					   struct vigil_instance *inst,
					   const struct vigil_reading *r,
					   int *rc)
{
	struct vigil_series *s = NULL;

	*rc = 0;
	/* A reading of a known series has the metric and label keys that
	 * were checked when the series was made: only a new one is checked,
	 * which keeps the check off the path of every reading. */
	if (lookup_safe(r))
		s = vigil_series_find(&pl->series, inst, r);
	if (s)
		return s;
	if ((*rc = check_new_reading(pl, inst, r)) < 0)
		return NULL;
	if (inst->n_series >= INSTANCE_SERIES_MAX) {
		*rc = -ENOSPC;
		if (inst->errors++ == 0)
			vigil_log(VIGIL_LOG_WARNING, inst->section,
				  "reading %s refused: this sensor already has "
				  "%d series, the most one may have (a label "
				  "value per reading?)",
				  r->metric, INSTANCE_SERIES_MAX);
		pl->stats.readings_refused++;
		return NULL;
	}
	{
		size_t had = pl->series.count;

		s = vigil_series_intern(&pl->series, inst, r);
		if (s && pl->series.count != had)
			inst->n_series++;
	}
	if (!s) {
		*rc = -ENOSPC;
		if (pl->stats.readings_refused++ == 0)
			vigil_log(VIGIL_LOG_WARNING, inst->section,
				  "reading %s refused: already %d series; "
				  "a sensor is making too many label values",
				  r->metric, SERIES_LIMIT);
	}
	return s;
}

void vigil_pipeline_sample(struct vigil_pipeline *pl,
			   struct vigil_instance *inst, struct vigil_series *s,
			   const struct vigil_reading *r)
{
	struct vigil_qreading *q;
	size_t tail;

	if (!s) {
		pl->stats.readings_refused++;
		return;
	}
	if (pl->ring_len == pl->ring_cap) {
		/* Full: the oldest reading makes room. */
		if (++pl->ring_head == pl->ring_cap)
			pl->ring_head = 0;
		pl->ring_len--;
		pl->stats.readings_dropped++;
		warn_drops(pl);
	}
	/* No % here: a division per reading shows in the profile. */
	tail = pl->ring_head + pl->ring_len;
	if (tail >= pl->ring_cap)
		tail -= pl->ring_cap;
	q = &pl->ring[tail];
	pl->ring_len++;
	q->series = s;
	q->value = r->value;
	q->time = r->time ? r->time : pl_now(pl);
	q->quality = r->quality;
	pl->stats.readings_in++;
	inst->emitted++;
}

static int on_reading(void *user, struct vigil_instance *inst,
		      const struct vigil_reading *r)
{
	struct vigil_pipeline *pl = user;
	struct vigil_series *s;
	int rc;

	if (inst->kind != VIGIL_KIND_SENSOR)
		return -EPERM;
	if (!(s = vigil_pipeline_series(pl, inst, r, &rc)))
		return rc;
	vigil_pipeline_sample(pl, inst, s, r);
	return 0;
}

static char *key_of(const struct vigil_instance *rule,
		    const struct vigil_labels *labels)
{
	struct vigil_buf b = {0};

	vigil_buf_puts(&b, rule->name);
	vigil_labels_format(&b, labels->v, labels->n);
	return b.data;
}

static int on_condition(void *user, struct vigil_instance *inst,
			const struct vigil_condition *c)
{
	struct vigil_pipeline *pl = user;
	struct vigil_cond cond = {0};

	if (inst->kind != VIGIL_KIND_RULE)
		return -EPERM;
	if (c->labels || c->n_labels)
		vigil_labels_copy(&cond.labels, c->labels, c->n_labels);
	else if (c->reading)
		vigil_labels_copy(&cond.labels, c->reading->labels,
				  c->reading->n_labels);
	cond.key = c->key ? vigil_xstrdup(c->key) : key_of(inst, &cond.labels);
	cond.type = vigil_xstrdup(c->type ? c->type : inst->name);
	cond.firing = c->firing ? 1 : 0;
	cond.severity = c->severity;
	cond.message = vigil_xstrdup(c->message ? c->message : "");
	cond.value = c->value;
	vigil_pipeline_push_condition(pl, &cond);
	inst->emitted++;
	return 0;
}

const struct vigil_emit_ops vigil_pipeline_emit = {
	.reading = on_reading,
	.condition = on_condition,
};

void vigil_pipeline_push_condition(struct vigil_pipeline *pl,
				   struct vigil_cond *c)
{
	vigil_grow((void **)&pl->conds, &pl->cap_conds, pl->n_conds + 1,
		   sizeof(*pl->conds));
	pl->conds[pl->n_conds++] = *c;
	memset(c, 0, sizeof(*c));
	pl->stats.conditions++;
}

void vigil_pipeline_plugin_failed(struct vigil_pipeline *pl,
				  const char *section, const char *plugin,
				  int firing, const char *message, double value)
{
	const struct vigil_label labels[] = {
		{"instance", section},
		{"plugin", plugin},
	};
	struct vigil_cond c = {0};

	c.key = vigil_xasprintf("plugin_failed{instance=%s}", section);
	c.type = vigil_xstrdup("plugin_failed");
	c.firing = firing;
	c.severity = VIGIL_SEV_CRITICAL;
	c.message = vigil_xstrdup(message);
	c.value = value;
	vigil_labels_copy(&c.labels, labels, VIGIL_ARRAY_SIZE(labels));
	vigil_pipeline_push_condition(pl, &c);
}

/* ---------------------------------------------------------- the stages */

static void call_failed(struct vigil_instance *inst, const char *what, int rc)
{
	inst->errors++;
	if (inst->failures++ == 0)
		vigil_log(VIGIL_LOG_WARNING, inst->section, "%s failed: %s",
			  what, strerror(rc < 0 ? -rc : rc));
}

static void call_ok(struct vigil_instance *inst, const char *what)
{
	if (inst->failures) {
		vigil_log(VIGIL_LOG_NOTICE, inst->section,
			  "%s works again after %u failure(s)", what,
			  inst->failures);
		inst->failures = 0;
	}
}

static void evaluate(struct vigil_pipeline *pl, struct vigil_series *s,
		     const struct vigil_reading *r)
{
	for (size_t i = 0; i < s->n_routes; i++) {
		struct vigil_route *rt = &s->routes[i];
		struct vigil_instance *rule = rt->rule;
		int rc;

		if (rule->worker) {
			/* Into the batch for its worker; the rule's state for
			 * the series lives there, found by series id. */
			if (vigil_worker_add(rule->worker, VIGIL_MSG_EVAL, r) <
			    0)
				pl->stats.rule_skipped++;
			continue;
		}
		if (!rule->started)
			continue;
		pl->cur_series = s;
		rule->calls++;
		rc = rule->desc->eval(rule->state, &rule->ctx, r, &rt->state);
		pl->cur_series = NULL;
		if (rc < 0)
			call_failed(rule, "eval", rc);
		else if (rule->failures)
			call_ok(rule, "eval");
	}
}

static void write_metrics(struct vigil_pipeline *pl,
			  const struct vigil_reading *batch,
			  struct vigil_series *const *series, size_t n)
{
	struct vigil_reading sub[BATCH];

	for (size_t k = 0; k < pl->n_sinks && k < 64; k++) {
		struct vigil_instance *sink = pl->sinks[k];
		uint64_t bit = 1ull << k;
		size_t m = 0;
		int rc;

		if (!live(sink) || !sink->metrics || !sink->desc->write)
			continue;
		/* Copy only if the sink takes part of the batch: usually it
		 * takes all of it, or nothing. */
		while (m < n && (series[m]->sink_mask & bit))
			m++;
		if (m < n) {
			for (size_t i = 0; i < m; i++)
				sub[i] = batch[i];
			for (size_t i = m + 1; i < n; i++)
				if (series[i]->sink_mask & bit)
					sub[m++] = batch[i];
		}
		if (m == 0)
			continue;
		if (sink->worker) {
			const struct vigil_reading *v = m == n ? batch : sub;
			for (size_t i = 0; i < m; i++)
				if (vigil_worker_add(sink->worker,
						     VIGIL_MSG_WRITE, &v[i]) < 0)
					break;
			continue;
		}
		sink->calls++;
		rc = sink->desc->write(sink->state, &sink->ctx,
				       m == n ? batch : sub, m);
		if (rc < 0)
			call_failed(sink, "write", rc);
		else
			call_ok(sink, "write");
	}
}

/* Takes at most about `max` readings off the ring (whole batches), or
 * all with 0. Returns how many it took. */
static size_t drain_readings(struct vigil_pipeline *pl, size_t max)
{
	struct vigil_reading batch[BATCH];
	struct vigil_series *series[BATCH];
	size_t taken = 0;

	while (pl->ring_len && (!max || taken < max)) {
		size_t n = 0;

		while (pl->ring_len && n < BATCH) {
			struct vigil_qreading *q = &pl->ring[pl->ring_head];
			struct vigil_series *s = q->series;
			struct vigil_reading *r = &batch[n];

			if (++pl->ring_head == pl->ring_cap)
				pl->ring_head = 0;
			pl->ring_len--;
			r->metric = s->metric;
			r->unit = s->unit;
			r->value = q->value;
			r->time = q->time;
			r->labels = s->labels.v;
			r->n_labels = s->labels.n;
			r->quality = q->quality;
			r->series_id = s->id;
			series[n++] = s;
			if (s->n_routes)
				evaluate(pl, s, r);
		}
		write_metrics(pl, batch, series, n);
		taken += n;
	}
	if (pl->ring_len)
		return taken;
	/* Empty: start again at the first slot, so the ring's pages that are
	 * ever touched are those of its high-water mark, not all of them (a
	 * head that went round would make the whole ring resident within
	 * hours, 2 MB at the default 65536 slots). */
	pl->ring_head = 0;
	return taken;
}

/* ------------------------------------------------------------ journal */

/* A record's fields are written as a frame's (proto.h); the journal
 * keeps the payload only. */
static void wbegin(struct vigil_wire *w)
{
	memset(w, 0, sizeof(*w));
	vigil_wire_begin(w, VIGIL_MSG_REPLY, 0);
}

static void journal_put(struct vigil_pipeline *pl, uint8_t type,
			struct vigil_wire *w)
{
	int rc;

	if (!pl->journal)
		return;
	rc = vigil_journal_append_wire(pl->journal, type, w);
	if (rc < 0 && rc != -EIO && pl->journal_failed++ == 0)
		vigil_err("journal %s: cannot append: %s; incidents and "
			  "undelivered events are kept in memory only until "
			  "it works again",
			  vigil_journal_path(pl->journal), strerror(-rc));
	else if (rc >= 0 && pl->journal_failed) {
		vigil_notice("journal %s: appends work again after %d "
			     "failure(s)",
			     vigil_journal_path(pl->journal),
			     pl->journal_failed);
		pl->journal_failed = 0;
	}
}

/* Keeps `inc` as event `ev` leaves it, for journal_event to write with
 * the event. */
static void stash_incident(struct vigil_pipeline *pl, struct vigil_ev *ev,
			   const struct vigil_incident *inc)
{
	struct vigil_wire w;

	if (!pl->journal)
		return;
	wbegin(&w);
	vigil_incident_encode(inc, &w);
	free(ev->inc_rec);
	ev->inc_rec_len = w.b.len - VIGIL_FRAME_HEADER;
	ev->inc_rec = vigil_xmalloc(ev->inc_rec_len ? ev->inc_rec_len : 1);
	memcpy(ev->inc_rec, w.b.data + VIGIL_FRAME_HEADER, ev->inc_rec_len);
	vigil_wire_free(&w);
}

static void journal_silence(struct vigil_pipeline *pl,
			    const struct vigil_silence *sil)
{
	struct vigil_wire w;

	if (!pl->journal)
		return;
	wbegin(&w);
	vigil_silence_encode(sil, &w);
	journal_put(pl, REC_SILENCE, &w);
	vigil_wire_free(&w);
}

static void journal_u64(struct vigil_pipeline *pl, uint8_t type,
			uint64_t v)
{
	struct vigil_wire w;

	if (!pl->journal)
		return;
	wbegin(&w);
	vigil_wire_put_u64(&w, v);
	journal_put(pl, type, &w);
	vigil_wire_free(&w);
}

/* REC_EVENT's fields: the event owed to the sinks in `ks` (n of them). */
static void put_event_record(struct vigil_wire *w,
			     const struct vigil_pipeline *pl,
			     const struct vigil_ev *ev, const size_t *ks,
			     size_t n)
{
	vigil_wire_put_u64(w, ev->seq);
	vigil_wire_put_u32(w, (uint32_t)ev->peak);
	vigil_wire_put_u32(w, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		vigil_wire_put_str(w, pl->sinks[ks[i]]->section);
	vigil_wire_put_event(w, &ev->pub);
}

/* REC_IDS's fields, with `next_incident` the first incident id that may
 * be given. */
static void put_ids_record(struct vigil_wire *w,
			   const struct vigil_pipeline *pl,
			   uint64_t next_incident)
{
	vigil_wire_put_u64(w, next_incident);
	vigil_wire_put_u64(w, pl->silences.next_id);
	vigil_wire_put_u64(w, pl->ev_seq);
}

/* The event waits for the sinks in `ks` (n of them); with the change to
 * its incident that made it, if any (stash_incident). */
static void journal_event(struct vigil_pipeline *pl, struct vigil_ev *ev,
			  const size_t *ks, size_t n)
{
	struct vigil_wire w;
	int with_inc = ev->inc_rec != NULL;

	if (!pl->journal || (!n && !with_inc))
		return;
	wbegin(&w);
	if (with_inc) {
		vigil_buf_add(&w.b, ev->inc_rec, ev->inc_rec_len);
		free(ev->inc_rec);
		ev->inc_rec = NULL;
	}
	if (!n) {
		journal_put(pl, REC_INCIDENT, &w);
		vigil_wire_free(&w);
		return;
	}
	if (!ev->seq)
		ev->seq = ++pl->ev_seq;
	put_event_record(&w, pl, ev, ks, n);
	journal_put(pl, with_inc ? REC_INCIDENT_EVENT : REC_EVENT, &w);
	vigil_wire_free(&w);
}

/* Sink k is done with the event: delivered, or given up. */
static void journal_done(struct vigil_pipeline *pl, size_t k,
			 const struct vigil_ev *ev)
{
	struct vigil_wire w;

	if (!pl->journal || !ev->seq)
		return;
	wbegin(&w);
	vigil_wire_put_u64(&w, ev->seq);
	vigil_wire_put_str(&w, pl->sinks[k]->section);
	journal_put(pl, REC_DONE, &w);
	vigil_wire_free(&w);
}

static void push_event(struct vigil_pipeline *pl, struct vigil_ev *ev)
{
	vigil_grow((void **)&pl->events, &pl->cap_events, pl->n_events + 1,
		   sizeof(*pl->events));
	pl->events[pl->n_events++] = ev;
	/* Incident events; a health report is not one. */
	if (ev->pub.type != VIGIL_EVENT_HEALTH)
		pl->stats.events++;
}

/* The incident manager's events, as they happen. */
static void push_incident_event(void *user, struct vigil_incident *inc,
				enum vigil_event_type type,
				enum vigil_severity prev)
{
	struct vigil_pipeline *pl = user;
	struct vigil_ev *ev = vigil_ev_new(inc, type, prev, pl_now(pl));

	stash_incident(pl, ev, inc);
	push_event(pl, ev);
}

/* Writes and syncs REC_IDS with the ids that may be given from now on:
 * one more incident than ID_RESERVE later needs the next reservation. */
static void reserve_ids(struct vigil_pipeline *pl)
{
	struct vigil_wire w;

	pl->ids_reserved = pl->incidents.next_id + ID_RESERVE;
	wbegin(&w);
	put_ids_record(&w, pl, pl->ids_reserved);
	journal_put(pl, REC_IDS, &w);
	vigil_wire_free(&w);
	vigil_journal_sync(pl->journal);
}

/* A condition of `key` came: its restored incident, if any, is current
 * again (a clear resolves it the usual way). */
static void confirm(struct vigil_pipeline *pl, const char *key)
{
	struct vigil_incident *inc = vigil_incidents_find(&pl->incidents, key);

	if (!inc)
		return;
	for (size_t i = 0; i < pl->n_unconfirmed; i++)
		if (pl->unconfirmed[i] == inc->id) {
			pl->unconfirmed[i] =
				pl->unconfirmed[--pl->n_unconfirmed];
			return;
		}
}

/* Whether a condition would open an incident past OPEN_MAX; says so,
 * every REFUSED_SAY at most. */
static int over_open_max(struct vigil_pipeline *pl, const struct vigil_cond *c)
{
	vigil_time_ns now;

	if (!c->firing || pl->incidents.n_open < OPEN_MAX ||
	    (c->type && strcmp(c->type, "plugin_failed") == 0) ||
	    vigil_incidents_find(&pl->incidents, c->key))
		return 0;
	pl->stats.conditions_refused++;
	now = vigil_monotonic();
	if (!pl->refused_said || now - pl->refused_said >= REFUSED_SAY) {
		vigil_log(VIGIL_LOG_ERR, NULL,
			  "incident %s (%s) not opened: %zu incidents are open, "
			  "the most vigild keeps (a rule that makes a new key "
			  "per reading?); %llu refused so far",
			  c->key, c->type ? c->type : "", pl->incidents.n_open,
			  (unsigned long long)pl->stats.conditions_refused);
		pl->refused_said = now;
	}
	return 1;
}

static void drain_conditions(struct vigil_pipeline *pl)
{
	struct vigil_incident_emit emit = {push_incident_event, pl};

	/* Index loop: a condition may not add conditions, but be safe. */
	for (size_t i = 0; i < pl->n_conds; i++) {
		if (pl->journal && pl->incidents.next_id >= pl->ids_reserved)
			reserve_ids(pl);
		if (pl->n_unconfirmed)
			confirm(pl, pl->conds[i].key);
		if (!over_open_max(pl, &pl->conds[i]))
			vigil_incidents_process(&pl->incidents, &pl->conds[i],
						pl_now(pl), &emit);
		vigil_cond_free(&pl->conds[i]);
	}
	pl->n_conds = 0;
}

static int action_wants(const struct vigil_instance *a,
			const struct vigil_event *e)
{
	if (e->type != VIGIL_EVENT_OPENED && e->type != VIGIL_EVENT_ESCALATED)
		return 0;
	if (e->severity < a->min_severity)
		return 0;
	/* `on` is a selector: globs on the incident's key or type, and
	 * {label=value} on its labels (network_down{interface=wlan0}). */
	return vigil_selector_match_incident(&a->on, e->key, e->incident_type,
					     e->labels, e->n_labels);
}

/* Records an attempt on its incident and tells the sinks (an `action`
 * event), even if the incident resolved meanwhile: remediation that
 * worked often does that. */
static void record_action(struct vigil_pipeline *pl, struct vigil_instance *a,
			  const char *key, uint64_t incident_id,
			  const struct vigil_action_record *rec)
{
	/* Open or in history; NULL if history has dropped it. */
	struct vigil_incident *inc =
		vigil_incidents_get(&pl->incidents, incident_id);
	struct vigil_ev *ev;

	vigil_instance_latency(a, rec->duration);
	if (rec->outcome != VIGIL_ACTION_OK)
		vigil_log(VIGIL_LOG_WARNING, a->section,
			  "on incident #%llu %s: %s (exit status %d)%s%s",
			  (unsigned long long)incident_id, key,
			  vigil_outcome_name(rec->outcome), rec->exit_status,
			  rec->output && rec->output[0] ? ": " : "",
			  rec->output ? rec->output : "");
	if (!inc)
		return;
	vigil_incident_add_action(inc, rec);
	ev = vigil_ev_new(inc, VIGIL_EVENT_ACTION, inc->severity, pl_now(pl));
	stash_incident(pl, ev, inc);
	push_event(pl, ev);
}

static void run_action(struct vigil_pipeline *pl, size_t k,
		       const struct vigil_ev *ev)
{
	struct vigil_instance *a = pl->actions[k];
	char output[OUTPUT_MAX] = "";
	struct vigil_action_result res = {
		.exit_status = -1,
		.outcome = VIGIL_ACTION_ERROR,
		.output = output,
		.output_size = sizeof(output),
	};
	struct vigil_action_record rec;
	vigil_time_ns start = pl_now(pl), t0 = vigil_monotonic();
	int rc;

	a->calls++;
	pl->stats.actions_run++;
	rc = a->desc->run(a->state, &a->ctx, &ev->pub, &res);
	output[sizeof(output) - 1] = '\0';
	if (rc < 0) {
		call_failed(a, "run", rc);
		res.outcome = VIGIL_ACTION_ERROR;
	} else {
		call_ok(a, "run");
	}
	rec.action = a->name;
	rec.start = start;
	rec.duration = vigil_monotonic() - t0;
	rec.exit_status = res.exit_status;
	rec.outcome = res.outcome;
	rec.output = output;
	record_action(pl, a, ev->pub.key, ev->pub.incident_id, &rec);
	vigil_remedy_done(&pl->remedy, &a->remedy, k, ev->pub.incident_id,
			  pl_now(pl));
}

/* A run() sent to an action's worker, until it answers. */
struct action_call {
	struct vigil_pipeline *pl;
	size_t k; /* index of the action */
	struct vigil_instance *a;
	uint64_t incident_id;
	char *key;
	vigil_time_ns start, t0;
};

static void action_done(void *arg, struct vigil_worker *w, int rc,
			struct vigil_wire_reader *r)
{
	struct action_call *ac = arg;
	struct vigil_instance *a = ac->a;
	struct vigil_action_record rec = {
		.action = a->name,
		.start = ac->start,
		.duration = vigil_monotonic() - ac->t0,
		.exit_status = -1,
		.outcome = VIGIL_ACTION_ERROR,
		.output = "",
	};
	char why[256];

	if (r) {
		rec.exit_status = (int)vigil_wire_get_i64(r);
		rec.outcome = (enum vigil_action_outcome)vigil_wire_get_u32(r);
		rec.output = vigil_wire_get_str(r);
		if (r->err || rec.outcome > VIGIL_ACTION_ERROR || !rec.output) {
			rec.outcome = VIGIL_ACTION_ERROR;
			rec.output = "malformed result";
		}
		if (rc < 0) {
			call_failed(a, "run", rc);
			rec.outcome = VIGIL_ACTION_ERROR;
		} else {
			call_ok(a, "run");
		}
	} else {
		a->errors++;
		if (rc == -ETIMEDOUT)
			rec.outcome = VIGIL_ACTION_TIMEOUT;
		snprintf(why, sizeof(why), "%s: %s",
			 rc == -ENOTCONN ? "not run" : "its worker died",
			 !w ? "the action is not running" :
			 w->reason[0] ? w->reason : "vigild is stopping");
		rec.output = why;
	}
	record_action(ac->pl, a, ac->key, ac->incident_id, &rec);
	vigil_remedy_done(&ac->pl->remedy, &a->remedy, ac->k, ac->incident_id,
			  pl_now(ac->pl));
	free(ac->key);
	free(ac);
}

/* An action's run(): in the core it returns before this does; in a worker
 * it is sent, and recorded when it answers (action_done). */
static void start_action(struct vigil_pipeline *pl, size_t k,
			 const struct vigil_ev *ev)
{
	struct vigil_instance *a = pl->actions[k];
	struct action_call *ac;
	struct vigil_wcall *c;

	if (!a->worker && a->started) {
		run_action(pl, k, ev);
		return;
	}
	ac = vigil_xcalloc(1, sizeof(*ac));
	ac->pl = pl;
	ac->k = k;
	ac->a = a;
	ac->incident_id = ev->pub.incident_id;
	ac->key = vigil_xstrdup(ev->pub.key);
	ac->start = pl_now(pl);
	ac->t0 = vigil_monotonic();
	pl->stats.actions_run++;
	c = a->worker ? vigil_worker_call(a->worker, VIGIL_MSG_RUN, action_done,
					  ac) :
			NULL;
	if (!c) {
		/* Not running now: recorded as such, and tried again after
		 * the verify window like a failed attempt. */
		action_done(ac, a->worker, -ENOTCONN, NULL);
		return;
	}
	vigil_wire_put_event(&c->b.frame, &ev->pub);
	vigil_worker_commit(a->worker, vigil_monotonic());
}

/* How many events sink k may hold, `len` being over VIGIL_SINK_QUEUE_MAX
 * since `since`. A sink in a worker that is running (not failing, backing
 * off or dead) takes a burst as big as the series vigild can have, for
 * BURST_GRACE: a storm makes its events in one turn of the loop, where a
 * sink inside vigild takes each as it comes, and its worker gets them 4096
 * to a call (100,000 went in about a second here). A queue still that long
 * after BURST_GRACE is a backlog, not a burst (a slow sink): it falls back
 * to VIGIL_SINK_QUEUE_MAX, as does a worker that hangs (killed at its
 * deadline) and any other sink. */
static size_t queue_cap(const struct vigil_pipeline *pl, size_t k,
			vigil_time_ns since, vigil_time_ns now)
{
	const struct vigil_worker *w = pl->sinks[k]->worker;

	return w && !pl->retry[k].retry_at && now - since < BURST_GRACE &&
			       (w->state == VIGIL_WORKER_IDLE ||
				w->state == VIGIL_WORKER_BUSY) ?
		       VIGIL_SINK_QUEUE_BURST :
		       VIGIL_SINK_QUEUE_MAX;
}

static void queue_push(struct vigil_pipeline *pl, size_t k,
		       struct vigil_ev *ev)
{
	struct vigil_sink_queue *q = &pl->retry[k];
	size_t cap = VIGIL_SINK_QUEUE_MAX;
	vigil_time_ns now = 0;

	if (q->len >= cap) {
		now = vigil_monotonic();
		if (!q->over_since)
			q->over_since = now;
		cap = queue_cap(pl, k, q->over_since, now);
	}
	while (q->len >= cap && q->len > q->busy) {
		/* The oldest goes, unless its delivery is under way: then
		 * the first after those. */
		size_t at = q->head + q->busy;
		struct vigil_ev *old = q->ev[at];

		/* One line per event given up, unless they come by the
		 * thousand (a storm of incidents): then one line every 10s
		 * counts them, as Prometheus's notifier does. */
		if (!q->given_up_said || now - q->given_up_said >= GIVE_UP_SAY) {
			if (q->given_up)
				vigil_log(VIGIL_LOG_ERR, pl->sinks[k]->section,
					  "gave up %llu more incident event(s) "
					  "since: the queue stayed full",
					  (unsigned long long)q->given_up);
			vigil_log(VIGIL_LOG_ERR, pl->sinks[k]->section,
				  "giving up incident #%llu %s (%s): %zu events "
				  "wait already",
				  (unsigned long long)old->pub.incident_id,
				  vigil_event_type_name(old->pub.type),
				  old->pub.key, q->len);
			q->given_up = 0;
			q->given_up_said = now;
		} else {
			q->given_up++;
		}
		journal_done(pl, k, old);
		vigil_ev_free(old);
		if (at != q->head)
			memmove(q->ev + q->head + 1, q->ev + q->head,
				q->busy * sizeof(*q->ev));
		q->head++;
		q->len--;
		pl->stats.deliveries_lost++;
	}
	if (q->head && q->head + q->len == q->cap) {
		memmove(q->ev, q->ev + q->head, q->len * sizeof(*q->ev));
		q->head = 0;
	}
	vigil_grow((void **)&q->ev, &q->cap, q->head + q->len + 1,
		   sizeof(*q->ev));
	q->ev[q->head + q->len++] = vigil_ev_ref(ev);
}

/* One delivery attempt in the core; 0 or the sink's error. */
static int deliver(struct vigil_pipeline *pl, size_t k,
		   const struct vigil_ev *ev)
{
	struct vigil_instance *sink = pl->sinks[k];
	int rc;

	vigil_time_ns t0 = vigil_monotonic();

	sink->calls++;
	rc = sink->desc->deliver(sink->state, &sink->ctx, &ev->pub);
	vigil_instance_latency(sink, vigil_monotonic() - t0);
	return rc >= 0 ? 0 : rc;
}

static void sink_failed(struct vigil_pipeline *pl, size_t k,
			const struct vigil_ev *ev, const char *why)
{
	struct vigil_sink_queue *q = &pl->retry[k];
	vigil_time_ns delay = VIGIL_SEC;

	pl->stats.deliveries_failed++;
	pl->sinks[k]->errors++;
	for (unsigned i = 0; i < q->failures && delay < 60 * VIGIL_SEC; i++)
		delay *= 2;
	if (delay > 60 * VIGIL_SEC)
		delay = 60 * VIGIL_SEC;
	if (q->failures++ == 0)
		vigil_log(VIGIL_LOG_ERR, pl->sinks[k]->section,
			  "could not deliver incident #%llu %s (%s): %s; "
			  "keeping it and what follows for redelivery",
			  (unsigned long long)ev->pub.incident_id,
			  vigil_event_type_name(ev->pub.type), ev->pub.key,
			  why);
	q->retry_at = vigil_monotonic() + delay;
}

/* The head of the queue was delivered. */
static void delivered(struct vigil_pipeline *pl, struct vigil_sink_queue *q)
{
	journal_done(pl, q->k, q->ev[q->head]);
	vigil_ev_free(q->ev[q->head]);
	q->head++;
	q->len--;
	if (q->len < VIGIL_SINK_QUEUE_MAX)
		q->over_since = 0;
	q->sent++;
	q->retry_at = 0;
	if (q->len)
		return;
	q->head = 0;
	if (q->failures || q->held)
		vigil_log(VIGIL_LOG_NOTICE, pl->sinks[q->k]->section,
			  "delivering again: %zu delayed incident event(s) "
			  "delivered after %u failed attempt(s)",
			  q->sent, q->failures);
	q->failures = 0;
	q->sent = 0;
	q->held = 0;
	if (q->given_up)
		vigil_log(VIGIL_LOG_ERR, pl->sinks[q->k]->section,
			  "gave up %llu more incident event(s) before the "
			  "queue emptied",
			  (unsigned long long)q->given_up);
	q->given_up = 0;
	q->given_up_said = 0;
}

static void sink_pump(struct vigil_pipeline *pl, size_t k, vigil_time_ns now);

static void deliver_done(void *arg, struct vigil_worker *w, int rc,
			 struct vigil_wire_reader *r)
{
	struct vigil_sink_queue *q = arg;
	struct vigil_pipeline *pl = q->pl;
	size_t sent = q->busy, done = r ? vigil_wire_get_u32(r) : 0;
	char why[256];

	q->busy = 0;
	/* The worker delivers in order and stops at the first failure:
	 * `done` were delivered, the next one failed if rc < 0. A worker
	 * that died is not believed: all of them are delivered again. */
	if (done > sent)
		done = sent;
	for (size_t i = 0; i < done && q->len; i++)
		delivered(pl, q);
	if (!q->len)
		return;
	/* rc >= 0 with some left: it stopped early (half its deadline
	 * gone), and the rest follows. */
	if (rc < 0) {
		if (r)
			snprintf(why, sizeof(why), "%s", strerror(-rc));
		else
			snprintf(why, sizeof(why), "its worker died: %s",
				 w->reason[0] ? w->reason : "stopped");
		sink_failed(pl, q->k, q->ev[q->head], why);
	}
	/* A worker that is going away takes no more calls: the next one
	 * waits for its restart, or for shutdown's last attempt. */
	if (vigil_worker_accepting(w))
		sink_pump(pl, q->k, vigil_monotonic());
}

/* Delivers what waits for sink k, in order, while it takes it: in the core
 * until one fails; to a worker in batches of up to DELIVER_BATCH, which it
 * delivers in order until one fails, the next batch when it answers. */
static void sink_pump(struct vigil_pipeline *pl, size_t k, vigil_time_ns now)
{
	struct vigil_sink_queue *q = &pl->retry[k];
	struct vigil_instance *sink = pl->sinks[k];

	if (q->len && !live(sink))
		q->held = 1; /* waiting for the sink to run */
	while (q->len && !q->busy && live(sink) &&
	       (!q->retry_at || now >= q->retry_at)) {
		struct vigil_ev *ev = q->ev[q->head];
		int rc;

		if (sink->worker) {
			struct vigil_wcall *c = vigil_worker_call(
				sink->worker, VIGIL_MSG_DELIVER, deliver_done, q);
			uint32_t n = 0;

			if (!c)
				return;
			vigil_wire_put_u32(&c->b.frame, 0); /* n, below */
			while (n < q->len && n < DELIVER_BATCH &&
			       c->b.frame.b.len < DELIVER_BYTES)
				vigil_wire_put_event(&c->b.frame,
						     &q->ev[q->head + n++]->pub);
			memcpy(c->b.frame.b.data + VIGIL_FRAME_HEADER, &n,
			       sizeof(n));
			q->busy = n;
			vigil_worker_commit(sink->worker, vigil_monotonic());
			return;
		}
		rc = deliver(pl, k, ev);
		if (rc < 0) {
			sink_failed(pl, k, ev, strerror(-rc));
			return;
		}
		delivered(pl, q);
	}
}

/* Actions that want the event start their first attempt; a resolution
 * ends every remediation of the incident. */
static void remediate(struct vigil_pipeline *pl, const struct vigil_ev *ev)
{
	const struct vigil_event *e = &ev->pub;

	if (e->type == VIGIL_EVENT_RESOLVED) {
		unsigned n = vigil_remedy_resolved(&pl->remedy, e->incident_id);
		if (n)
			vigil_notice("incident #%llu %s resolved after %u "
				     "remediation attempt(s)",
				     (unsigned long long)e->incident_id, e->key,
				     n);
		return;
	}
	for (size_t k = 0; k < pl->n_actions; k++) {
		struct vigil_instance *a = pl->actions[k];

		if (a->fatal || !action_wants(a, e))
			continue;
		if (vigil_remedy_event(&pl->remedy, k, e->incident_id,
				       pl_now(pl)) == VIGIL_REMEDY_RUN)
			start_action(pl, k, ev);
	}
}

/* Whether sink k takes event `ev` at wall time `wall`: health reports
 * if it asked for them; incident events as its routing decides (which
 * must see every one of them, to know what the sink was told). */
static int sink_takes(struct vigil_pipeline *pl, size_t k,
		      const struct vigil_ev *ev, vigil_time_ns wall)
{
	struct vigil_instance *sink = pl->sinks[k];
	enum vigil_routing_verdict v;
	char why[256] = "";

	if (ev->pub.type == VIGIL_EVENT_HEALTH)
		return sink->health && sink->desc->deliver;
	if (!sink->events || !sink->desc->deliver)
		return 0;
	/* An attempt that ended after its incident resolved (remediation
	 * that worked often ends so): routing has forgotten the incident,
	 * but the sinks that take its kind of incident hear how it went. */
	if (ev->pub.type == VIGIL_EVENT_ACTION &&
	    ev->pub.status == VIGIL_STATUS_RESOLVED) {
		/* At the severity it reached, as a resolution is routed. */
		struct vigil_event at_peak = ev->pub;

		at_peak.severity = ev->peak;
		return vigil_routing_wants(&pl->routing[k], &at_peak, NULL,
					   0) == VIGIL_ROUTING_DELIVER;
	}
	v = vigil_routing_decide(&pl->routing[k], &ev->pub, wall, why,
				 sizeof(why));
	if (v != VIGIL_ROUTING_DELIVER && v != VIGIL_ROUTING_BELOW_MIN &&
	    v != VIGIL_ROUTING_NO_MATCH)
		vigil_log(VIGIL_LOG_DEBUG, sink->section,
			  "not sent: incident #%llu %s (%s): %s",
			  (unsigned long long)ev->pub.incident_id,
			  vigil_event_type_name(ev->pub.type), ev->pub.key,
			  why[0] ? why : vigil_routing_verdict_name(v));
	return v == VIGIL_ROUTING_DELIVER;
}

static void dispatch_events(struct vigil_pipeline *pl)
{
	vigil_time_ns now = vigil_monotonic(), wall = pl_now(pl);
	size_t ks[64];

	/* Actions may queue ACTION events while this runs: index loop. */
	for (size_t i = 0; i < pl->n_events; i++) {
		struct vigil_ev *ev = pl->events[i];
		size_t n = 0;

		for (size_t k = 0; k < pl->n_sinks; k++) {
			/* A sink refused for misconfiguration is never
			 * retried; that was said once, loudly, at start. */
			if (!sink_takes(pl, k, ev, wall) || pl->sinks[k]->fatal)
				continue;
			if (n < VIGIL_ARRAY_SIZE(ks))
				ks[n++] = k;
		}
		/* Kept before it is sent, so that a crash in between sends
		 * it again rather than never. */
		journal_event(pl, ev, ks, n);
		for (size_t j = 0; j < n; j++) {
			queue_push(pl, ks[j], ev);
			sink_pump(pl, ks[j], now);
		}
		if (ev->pub.type != VIGIL_EVENT_HEALTH)
			remediate(pl, ev);
	}
	for (size_t i = 0; i < pl->n_events; i++)
		vigil_ev_free(pl->events[i]);
	pl->n_events = 0;
}

void vigil_pipeline_retry(struct vigil_pipeline *pl, vigil_time_ns now)
{
	for (size_t k = 0; k < pl->n_sinks; k++) {
		if (!now)
			pl->retry[k].retry_at = 0;
		sink_pump(pl, k, now ? now : vigil_monotonic());
	}
}

size_t vigil_pipeline_undelivered(const struct vigil_pipeline *pl)
{
	size_t n = 0;

	for (size_t k = 0; k < pl->n_sinks; k++)
		n += pl->retry[k].len;
	return n;
}

static size_t worker_pending(struct vigil_instance **v, size_t n)
{
	size_t p = 0;

	for (size_t i = 0; i < n; i++)
		if (v[i]->worker && vigil_worker_accepting(v[i]->worker))
			p += vigil_worker_pending(v[i]->worker);
	return p;
}

size_t vigil_pipeline_pending(const struct vigil_pipeline *pl)
{
	size_t n = pl->ring_len + pl->n_conds + pl->n_events;

	/* A sink backing off after a failure is not waited for. */
	for (size_t k = 0; k < pl->n_sinks; k++)
		if (live(pl->sinks[k]) && !pl->sinks[k]->fatal &&
		    (pl->retry[k].busy || !pl->retry[k].retry_at))
			n += pl->retry[k].len;
	return n + worker_pending(pl->rules, pl->n_rules) +
	       worker_pending(pl->sinks, pl->n_sinks) +
	       worker_pending(pl->actions, pl->n_actions);
}

/* Sends the batches gathered by a run of the pipeline. */
static void commit_all(struct vigil_instance **v, size_t n)
{
	vigil_time_ns now = 0;

	for (size_t i = 0; i < n; i++) {
		if (!v[i]->worker || !v[i]->worker->q_len)
			continue;
		if (!now)
			now = vigil_monotonic();
		vigil_worker_commit(v[i]->worker, now);
	}
}

size_t vigil_pipeline_run_some(struct vigil_pipeline *pl, size_t max)
{
	size_t left = max;

	do {
		if (!max) {
			drain_readings(pl, 0);
		} else if (left) {
			size_t taken = drain_readings(pl, left);
			left = taken < left ? left - taken : 0;
		}
		drain_conditions(pl);
		dispatch_events(pl);
	} while ((pl->ring_len && (!max || left)) || pl->n_conds);
	commit_all(pl->rules, pl->n_rules);
	commit_all(pl->sinks, pl->n_sinks);
	return pl->ring_len;
}

void vigil_pipeline_run(struct vigil_pipeline *pl)
{
	vigil_pipeline_run_some(pl, 0);
}

static const struct vigil_remedy_policy *policy_of(void *user, size_t k)
{
	struct vigil_pipeline *pl = user;

	return &pl->actions[k]->remedy;
}

static struct vigil_incident *open_by_id(struct vigil_pipeline *pl,
					 uint64_t id)
{
	struct vigil_incident *inc = vigil_incidents_get(&pl->incidents, id);

	return inc && inc->status != VIGIL_STATUS_RESOLVED ? inc : NULL;
}

/* Attempts ran out and the incident is still open: one step more severe,
 * and remediation_failed, for the sinks and whoever acts on it next. */
static void give_up(struct vigil_pipeline *pl, size_t k,
		    struct vigil_incident *inc, vigil_time_ns now)
{
	struct vigil_instance *a = pl->actions[k];
	struct vigil_incident_emit emit = {push_incident_event, pl};

	pl->stats.remediations_failed++;
	vigil_log(VIGIL_LOG_WARNING, a->section,
		  "remediation of incident #%llu %s failed: still open after "
		  "%u attempt(s); escalating",
		  (unsigned long long)inc->id, inc->key, a->remedy.attempts);
	/* Raises it a step and emits remediation_failed. */
	vigil_incidents_escalate(&pl->incidents, inc, now, &emit);
}

static vigil_time_ns earliest(vigil_time_ns a, vigil_time_ns b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

/* Removes the silences over at `now`, journaling the removal of those
 * that came from vigilctl (INI ones are not journaled). Returns how many
 * went. */
static size_t expire_silences(struct vigil_pipeline *pl,
					 vigil_time_ns now)
{
	size_t n = 0;

	for (size_t i = pl->silences.n; i-- > 0;) {
		const struct vigil_silence *sil = pl->silences.v[i];
		uint64_t id = sil->id;

		if (sil->end > now)
			continue;
		vigil_notice("silence %llu (%s) ended",
			     (unsigned long long)id, sil->expr);
		if (!sil->name)
			journal_u64(pl, REC_SILENCE_RM, id);
		vigil_silences_remove(&pl->silences, id);
		n++;
	}
	return n;
}

vigil_time_ns vigil_pipeline_tick(struct vigil_pipeline *pl)
{
	vigil_time_ns now = pl_now(pl), due;
	struct vigil_incident_emit emit = {push_incident_event, pl};
	enum vigil_remedy_verdict v;
	uint64_t id;
	size_t k;

	while ((v = vigil_remedy_next(&pl->remedy, policy_of, pl, now, &k,
				      &id)) != VIGIL_REMEDY_NOTHING) {
		struct vigil_incident *inc = open_by_id(pl, id);
		struct vigil_ev *ev;

		if (!inc) {
			vigil_remedy_resolved(&pl->remedy, id);
			continue;
		}
		if (v == VIGIL_REMEDY_GIVE_UP) {
			give_up(pl, k, inc, now);
			continue;
		}
		/* The next attempt sees the incident as it is now. */
		ev = vigil_ev_new(inc, VIGIL_EVENT_REPEAT, inc->severity, now);
		start_action(pl, k, ev);
		vigil_ev_free(ev);
	}
	/* Silences that ended go (a vigilctl one journaled as removed);
	 * repeats, flapping's end, history's age. */
	expire_silences(pl, now);
	if (pl->confirm_by && now >= pl->confirm_by) {
		for (size_t i = 0; i < pl->n_unconfirmed; i++) {
			struct vigil_incident *inc =
				open_by_id(pl, pl->unconfirmed[i]);
			if (!inc)
				continue;
			vigil_notice("incident #%llu %s resolved: its condition "
				     "was not seen again since vigild started",
				     (unsigned long long)inc->id, inc->key);
			vigil_incidents_resolve_manual(&pl->incidents, inc->id,
						       now, &emit);
		}
		pl->n_unconfirmed = 0;
		pl->confirm_by = 0;
	}
	vigil_incidents_due(&pl->incidents, now, &emit);
	vigil_pipeline_run(pl);
	due = vigil_remedy_next_due(&pl->remedy);
	due = earliest(due, vigil_incidents_next_due(&pl->incidents));
	due = earliest(due, vigil_silences_next_change(&pl->silences, now));
	due = earliest(due, pl->confirm_by);
	return due;
}

void vigil_pipeline_flush(struct vigil_pipeline *pl)
{
	for (size_t k = 0; k < pl->n_sinks; k++) {
		struct vigil_instance *sink = pl->sinks[k];
		int rc;

		if (!live(sink) || !sink->desc->flush)
			continue;
		if (sink->worker) {
			/* Behind a backlog, the flush can wait for the next
			 * round. */
			if (!vigil_worker_pending(sink->worker) &&
			    vigil_worker_call(sink->worker, VIGIL_MSG_FLUSH,
					      NULL, NULL))
				vigil_worker_commit(sink->worker,
						    vigil_monotonic());
			continue;
		}
		rc = sink->desc->flush(sink->state, &sink->ctx);
		if (rc < 0)
			call_failed(sink, "flush", rc);
	}
}

/* ---------------------------------------------------- operator requests */

int vigil_pipeline_ack(struct vigil_pipeline *pl, uint64_t id, const char *by,
		       const char *comment, struct vigil_incident **out)
{
	struct vigil_incident_emit emit = {push_incident_event, pl};
	int rc = vigil_incidents_ack(&pl->incidents, id, by, comment,
				     pl_now(pl), &emit, out);

	vigil_pipeline_run(pl);
	return rc;
}

int vigil_pipeline_resolve(struct vigil_pipeline *pl, uint64_t id)
{
	struct vigil_incident_emit emit = {push_incident_event, pl};
	int rc = vigil_incidents_resolve_manual(&pl->incidents, id, pl_now(pl),
						&emit);

	vigil_pipeline_run(pl);
	return rc;
}

void vigil_pipeline_silences_changed(struct vigil_pipeline *pl)
{
	struct vigil_incident_emit emit = {push_incident_event, pl};

	vigil_incidents_due(&pl->incidents, pl_now(pl), &emit);
	vigil_pipeline_run(pl);
}

int vigil_pipeline_silence_add(struct vigil_pipeline *pl, const char *expr,
			       vigil_time_ns start, vigil_time_ns end,
			       const char *comment, const char *creator,
			       uint64_t *id, char *why, size_t whylen)
{
	int rc = vigil_silences_add(&pl->silences, expr, start, end, comment,
				    creator, pl_now(pl), id, why, whylen);

	if (rc < 0)
		return rc;
	journal_silence(pl, vigil_silences_get(&pl->silences, *id));
	vigil_pipeline_silences_changed(pl);
	return 0;
}

int vigil_pipeline_silence_remove(struct vigil_pipeline *pl, uint64_t id)
{
	const struct vigil_silence *sil = vigil_silences_get(&pl->silences, id);
	int from_ini;

	if (!sil)
		return -ENOENT;
	from_ini = sil->name != NULL;
	vigil_silences_remove(&pl->silences, id);
	if (!from_ini)
		journal_u64(pl, REC_SILENCE_RM, id);
	vigil_pipeline_silences_changed(pl);
	return 0;
}

void vigil_pipeline_push_event(struct vigil_pipeline *pl, struct vigil_ev *ev)
{
	push_event(pl, vigil_ev_ref(ev));
	vigil_pipeline_run(pl);
}

/* ------------------------------------------------------- journal: replay */

/* An event read back, waiting for the sinks named. */
struct replayed {
	uint64_t seq;
	struct vigil_ev *ev;
	char **sinks;
	size_t n;
};

struct replay {
	struct vigil_pipeline *pl;
	struct replayed *v;
	size_t n, cap;
	size_t incidents, silences, bad;
	uint64_t next_incident, next_silence;
};

static struct replayed *replayed_find(struct replay *rp, uint64_t seq)
{
	/* Events are appended in seq order: search from the newest. */
	for (size_t i = rp->n; i-- > 0;)
		if (rp->v[i].seq == seq)
			return &rp->v[i];
	return NULL;
}

static void replayed_free(struct replayed *e)
{
	vigil_ev_free(e->ev);
	for (size_t i = 0; i < e->n; i++)
		free(e->sinks[i]);
	free(e->sinks);
}

static int replay_event(struct replay *rp, struct vigil_wire_reader *r)
{
	struct replayed e = {0};
	struct vigil_event pub;
	enum vigil_severity peak;
	uint32_t n;

	e.seq = vigil_wire_get_u64(r);
	peak = (enum vigil_severity)vigil_wire_get_u32(r);
	n = vigil_wire_get_u32(r);
	if (r->err || n > 64)
		return -EINVAL;
	e.sinks = vigil_xcalloc(n ? n : 1, sizeof(*e.sinks));
	for (uint32_t i = 0; i < n; i++) {
		const char *name = vigil_wire_get_str(r);
		if (!name)
			break;
		e.sinks[e.n++] = vigil_xstrdup(name);
	}
	if (r->err || e.n != n || vigil_wire_get_event(r, &pub) < 0) {
		replayed_free(&e);
		return -EINVAL;
	}
	e.ev = vigil_ev_copy(&pub, peak);
	e.ev->seq = e.seq;
	vigil_grow((void **)&rp->v, &rp->cap, rp->n + 1, sizeof(*rp->v));
	rp->v[rp->n++] = e;
	if (e.seq > rp->pl->ev_seq)
		rp->pl->ev_seq = e.seq;
	return 0;
}

static void replay_done(struct replay *rp, struct vigil_wire_reader *r)
{
	uint64_t seq = vigil_wire_get_u64(r);
	const char *sink = vigil_wire_get_str(r);
	struct replayed *e;

	if (r->err || !sink || !(e = replayed_find(rp, seq)))
		return;
	for (size_t i = 0; i < e->n; i++) {
		if (strcmp(e->sinks[i], sink) != 0)
			continue;
		free(e->sinks[i]);
		e->sinks[i] = e->sinks[--e->n];
		break;
	}
}

static int replay_incident(struct replay *rp, struct vigil_wire_reader *r)
{
	struct vigil_incident *inc = vigil_incident_decode(r);

	if (!inc)
		return -EINVAL;
	if (vigil_incidents_restore(&rp->pl->incidents, inc) < 0) {
		/* Another incident of its key is open: a record older than
		 * it, so this one is out of date. */
		vigil_incident_free(inc);
	}
	rp->incidents++;
	return 0;
}

static int replay_record(void *arg, uint8_t type, const void *data,
			 size_t len)
{
	struct replay *rp = arg;
	struct vigil_pipeline *pl = rp->pl;
	struct vigil_wire_reader r;
	int rc = 0;

	vigil_journal_wire_reader(&r, data, len);
	switch (type) {
	case REC_INCIDENT:
		rc = replay_incident(rp, &r);
		break;
	case REC_INCIDENT_EVENT:
		rc = replay_incident(rp, &r);
		if (rc == 0)
			rc = replay_event(rp, &r);
		break;
	case REC_SILENCE: {
		struct vigil_silence *sil = vigil_silence_decode(&r);
		if (!sil) {
			rc = -EINVAL;
			break;
		}
		vigil_silences_restore(&pl->silences, sil);
		rp->silences++;
		break;
	}
	case REC_SILENCE_RM: {
		uint64_t id = vigil_wire_get_u64(&r);
		if (!r.err)
			vigil_silences_remove(&pl->silences, id);
		break;
	}
	case REC_EVENT:
		rc = replay_event(rp, &r);
		break;
	case REC_DONE:
		replay_done(rp, &r);
		break;
	case REC_IDS: {
		uint64_t inc = vigil_wire_get_u64(&r);
		uint64_t sil = vigil_wire_get_u64(&r);
		uint64_t seq = vigil_wire_get_u64(&r);
		if (r.err) {
			rc = -EINVAL;
			break;
		}
		vigil_incidents_seed(&pl->incidents, inc);
		vigil_silences_seed(&pl->silences, sil);
		if (seq > pl->ev_seq)
			pl->ev_seq = seq;
		break;
	}
	default:
		rc = -EINVAL;
		break;
	}
	vigil_wire_reader_free(&r);
	if (rc < 0 && rp->bad++ == 0)
		vigil_warn("journal: a record of type %u (%zu bytes) could not "
			   "be read back; skipped (a newer vigild's, or a "
			   "bug)",
			   type, len);
	/* A record not understood is skipped: the rest still counts. */
	return 0;
}

static ssize_t sink_index(const struct vigil_pipeline *pl, const char *name)
{
	for (size_t k = 0; k < pl->n_sinks; k++)
		if (strcmp(pl->sinks[k]->section, name) == 0)
			return (ssize_t)k;
	return -1;
}

/* Replayed events still owed to sinks go back in their queues. */
static void requeue(struct replay *rp)
{
	struct vigil_pipeline *pl = rp->pl;
	size_t queued = 0, lost = 0;

	for (size_t i = 0; i < rp->n; i++) {
		struct replayed *e = &rp->v[i];

		for (size_t j = 0; j < e->n; j++) {
			ssize_t k = sink_index(pl, e->sinks[j]);
			if (k < 0 || pl->sinks[k]->fatal) {
				if (lost++ == 0)
					vigil_warn("journal: incident events "
						   "for [%s], which is no "
						   "longer configured, are "
						   "given up",
						   e->sinks[j]);
				continue;
			}
			queue_push(pl, (size_t)k, e->ev);
			pl->retry[k].held = 1;
			queued++;
		}
		replayed_free(e);
	}
	free(rp->v);
	rp->v = NULL;
	rp->n = 0;
	if (queued || lost)
		vigil_notice("journal: %zu undelivered incident event(s) "
			     "queued again for delivery%s",
			     queued, lost ? ", some given up (above)" : "");
}

/* The sinks did not keep what they were told: take each as told of the
 * open incidents it would have been told of. */
static int adopt_one(void *user, struct vigil_incident *inc)
{
	struct vigil_pipeline *pl = user;
	struct vigil_ev *ev = vigil_ev_new(inc, VIGIL_EVENT_OPENED,
					   inc->severity, pl_now(pl));

	for (size_t k = 0; k < pl->n_sinks; k++)
		vigil_routing_adopt(&pl->routing[k], &ev->pub);
	vigil_ev_free(ev);
	return 0;
}

/* ---------------------------------------------------- journal: compaction */

static int dump_incident(void *user, struct vigil_incident *inc)
{
	struct vigil_journal *j = user;
	struct vigil_wire w;
	int rc;

	wbegin(&w);
	vigil_incident_encode(inc, &w);
	rc = vigil_journal_append_wire(j, REC_INCIDENT, &w);
	vigil_wire_free(&w);
	return rc;
}

struct pending {
	uint64_t seq;
	size_t k;
	struct vigil_ev *ev;
};

static int pending_cmp(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq ? 1 :
	       x->k < y->k ? -1 : x->k > y->k;
}

/* What is live: ids, incidents, silences from vigilctl, the events sinks
 * still owe. */
static int dump(void *arg, struct vigil_journal *j)
{
	struct vigil_pipeline *pl = arg;
	struct pending *v = NULL;
	size_t n = 0, cap = 0;
	struct vigil_wire w;
	int rc;

	wbegin(&w);
	put_ids_record(&w, pl,
		       pl->ids_reserved > pl->incidents.next_id ?
			       pl->ids_reserved :
			       pl->incidents.next_id);
	rc = vigil_journal_append_wire(j, REC_IDS, &w);
	vigil_wire_free(&w);
	if (rc < 0)
		return rc;
	rc = vigil_incidents_foreach(&pl->incidents, 1, dump_incident, j);
	for (size_t i = 0; rc >= 0 && i < pl->silences.n; i++) {
		if (pl->silences.v[i]->name)
			continue; /* the INI's: it says them again */
		wbegin(&w);
		vigil_silence_encode(pl->silences.v[i], &w);
		rc = vigil_journal_append_wire(j, REC_SILENCE, &w);
		vigil_wire_free(&w);
	}
	for (size_t k = 0; k < pl->n_sinks; k++) {
		struct vigil_sink_queue *q = &pl->retry[k];
		for (size_t i = 0; i < q->len; i++) {
			struct vigil_ev *ev = q->ev[q->head + i];
			if (!ev->seq)
				ev->seq = ++pl->ev_seq;
			vigil_grow((void **)&v, &cap, n + 1, sizeof(*v));
			v[n++] = (struct pending){ev->seq, k, ev};
		}
	}
	if (n)
		qsort(v, n, sizeof(*v), pending_cmp);
	for (size_t i = 0; rc >= 0 && i < n;) {
		size_t m = 0, ks[64];
		struct vigil_ev *ev = v[i].ev;

		while (i < n && v[i].seq == ev->seq) {
			if (m < VIGIL_ARRAY_SIZE(ks))
				ks[m++] = v[i].k;
			i++;
		}
		wbegin(&w);
		put_event_record(&w, pl, ev, ks, m);
		rc = vigil_journal_append_wire(j, REC_EVENT, &w);
		vigil_wire_free(&w);
	}
	free(v);
	return rc < 0 ? rc : 0;
}

/* ------------------------------------------------ journal: the syncer */

/*
 * journal_sync = always, without stalling the loop: at the end of a turn
 * that appended, vigil_pipeline_commit asks this thread to fdatasync a
 * duplicate of the journal's descriptor, and goes on. The thread touches
 * nothing of the pipeline's but this struct. Syncs that must be done
 * before something is said (a control reply, an id reservation) are still
 * made on the loop, by vigil_journal_sync.
 */
struct vigil_syncer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int fd;      /* a dup of the journal's; -1 while none */
	int asked;   /* a sync is wanted */
	int busy;    /* the thread is in fdatasync */
	int stop;
	int err;     /* errno of the last failed sync, for the loop to say */
	int ready;   /* the thread is in its loop */
	uint64_t syncs;
};

static void *syncer_main(void *arg)
{
	struct vigil_syncer *sy = arg;

	pthread_mutex_lock(&sy->mu);
	sy->ready = 1;
	pthread_cond_broadcast(&sy->cv);
	for (;;) {
		int fd, err = 0;

		while (!sy->asked && !sy->stop)
			pthread_cond_wait(&sy->cv, &sy->mu);
		if (sy->stop && !sy->asked)
			break;
		sy->asked = 0;
		fd = sy->fd;
		if (fd < 0)
			continue;
		sy->busy = 1;
		pthread_mutex_unlock(&sy->mu);
		while (fdatasync(fd) < 0 && errno == EINTR)
			;
		err = errno;
		pthread_mutex_lock(&sy->mu);
		sy->busy = 0;
		if (err && err != EINTR)
			sy->err = err;
		else
			sy->syncs++;
		pthread_cond_broadcast(&sy->cv);
	}
	pthread_mutex_unlock(&sy->mu);
	return NULL;
}

/* Waits for a sync under way, then points the syncer at the journal's
 * current descriptor (after a compaction), or at none (fd -1). */
static void syncer_set_fd(struct vigil_syncer *sy, int fd)
{
	pthread_mutex_lock(&sy->mu);
	while (sy->busy)
		pthread_cond_wait(&sy->cv, &sy->mu);
	if (sy->fd >= 0)
		close(sy->fd);
	sy->fd = fd >= 0 ? dup(fd) : -1;
	pthread_mutex_unlock(&sy->mu);
}

static struct vigil_syncer *syncer_start(int fd)
{
	struct vigil_syncer *sy = vigil_xcalloc(1, sizeof(*sy));

	pthread_mutex_init(&sy->mu, NULL);
	pthread_cond_init(&sy->cv, NULL);
	sy->fd = fd >= 0 ? dup(fd) : -1;
	if (sy->fd < 0 || pthread_create(&sy->thread, NULL, syncer_main, sy)) {
		if (sy->fd >= 0)
			close(sy->fd);
		pthread_cond_destroy(&sy->cv);
		pthread_mutex_destroy(&sy->mu);
		free(sy);
		return NULL; /* the loop syncs itself, as before */
	}
	/* vigild forks its workers: a fork must not catch the new thread
	 * while it is being set up (a sanitizer's allocator, say, locked
	 * in the child for ever). Once in its loop it holds no lock but its
	 * own, which a worker never takes, and allocates nothing. */
	pthread_mutex_lock(&sy->mu);
	while (!sy->ready)
		pthread_cond_wait(&sy->cv, &sy->mu);
	pthread_mutex_unlock(&sy->mu);
	return sy;
}

static void syncer_stop(struct vigil_syncer *sy)
{
	if (!sy)
		return;
	pthread_mutex_lock(&sy->mu);
	sy->stop = 1;
	pthread_cond_broadcast(&sy->cv);
	pthread_mutex_unlock(&sy->mu);
	pthread_join(sy->thread, NULL);
	if (sy->fd >= 0)
		close(sy->fd);
	pthread_cond_destroy(&sy->cv);
	pthread_mutex_destroy(&sy->mu);
	free(sy);
}

static void syncer_ask(struct vigil_pipeline *pl)
{
	struct vigil_syncer *sy = pl->syncer;
	int err;

	pthread_mutex_lock(&sy->mu);
	sy->asked = 1;
	err = sy->err;
	sy->err = 0;
	pthread_cond_signal(&sy->cv);
	pthread_mutex_unlock(&sy->mu);
	if (err && pl->journal_failed++ == 0)
		vigil_err("journal %s: fdatasync failed: %s; what was journaled "
			  "may not survive a power loss",
			  vigil_journal_path(pl->journal), strerror(err));
}

static void compact(struct vigil_pipeline *pl)
{
	struct vigil_journal_stats st;
	int rc = vigil_journal_compact(pl->journal, dump, pl);

	vigil_journal_stats(pl->journal, &st);
	if (rc < 0)
		vigil_warn("journal %s: compaction failed: %s; it goes on "
			   "growing until the next one works",
			   vigil_journal_path(pl->journal), strerror(-rc));
	else if (pl->syncer)
		syncer_set_fd(pl->syncer, vigil_journal_fd(pl->journal));
	pl->journal_compacted = st.size;
}

int vigil_pipeline_journal_open(struct vigil_pipeline *pl, const char *path,
				enum vigil_journal_sync sync,
				vigil_time_ns sync_interval)
{
	struct vigil_journal_opts opts = {sync, sync_interval};
	struct replay rp = {.pl = pl};
	struct vigil_journal_stats st;
	int rc;

	/* `always` is a group commit, by vigil_pipeline_commit. */
	if (sync == VIGIL_JOURNAL_SYNC_ALWAYS)
		opts.sync = VIGIL_JOURNAL_SYNC_NEVER;
	pl->journal_sync = sync;
	rc = vigil_journal_open(&pl->journal, path, &opts, replay_record, &rp);
	if (rc < 0) {
		for (size_t i = 0; i < rp.n; i++)
			replayed_free(&rp.v[i]);
		free(rp.v);
		return rc;
	}
	requeue(&rp);
	vigil_incidents_foreach(&pl->incidents, 0, adopt_one, pl);
	vigil_journal_stats(pl->journal, &st);
	if (st.replayed)
		vigil_notice("journal %s: %llu record(s) replayed: %zu open "
			     "incident(s), %zu in history, %zu silence(s); "
			     "next incident id %llu",
			     path, (unsigned long long)st.replayed,
			     pl->incidents.n_open, pl->incidents.n_history,
			     pl->silences.n,
			     (unsigned long long)pl->incidents.next_id);
	compact(pl);
	if (sync == VIGIL_JOURNAL_SYNC_ALWAYS) {
		vigil_journal_sync(pl->journal);
		pl->syncer = syncer_start(vigil_journal_fd(pl->journal));
	}
	vigil_journal_stats(pl->journal, &st);
	pl->sync_asked = st.appended;
	return 0;
}

static int collect_open(void *user, struct vigil_incident *inc)
{
	struct vigil_pipeline *pl = user;

	pl->unconfirmed[pl->n_unconfirmed++] = inc->id;
	return 0;
}

void vigil_pipeline_expect_confirmation(struct vigil_pipeline *pl,
					vigil_time_ns grace)
{
	free(pl->unconfirmed);
	pl->unconfirmed = NULL;
	pl->n_unconfirmed = 0;
	pl->confirm_by = 0;
	if (!grace || !pl->incidents.n_open)
		return;
	pl->unconfirmed = vigil_xcalloc(pl->incidents.n_open,
					sizeof(*pl->unconfirmed));
	vigil_incidents_foreach(&pl->incidents, 0, collect_open, pl);
	pl->confirm_by = pl_now(pl) + grace;
}

void vigil_pipeline_commit(struct vigil_pipeline *pl)
{
	struct vigil_journal_stats st;

	if (!pl->journal)
		return;
	vigil_journal_stats(pl->journal, &st);
	if (pl->journal_sync != VIGIL_JOURNAL_SYNC_ALWAYS)
		vigil_journal_tick(pl->journal, vigil_monotonic());
	else if (st.appended == pl->sync_asked)
		; /* nothing new since the last sync asked for */
	else if (pl->syncer)
		syncer_ask(pl);
	else
		vigil_journal_sync(pl->journal);
	pl->sync_asked = st.appended;
	if (st.size >= JOURNAL_COMPACT_MIN &&
	    st.size >= 4 * pl->journal_compacted)
		compact(pl);
}

vigil_time_ns vigil_pipeline_commit_due(const struct vigil_pipeline *pl)
{
	return pl->journal ? vigil_journal_next_tick(pl->journal) : 0;
}

void vigil_pipeline_journal_close(struct vigil_pipeline *pl)
{
	syncer_stop(pl->syncer);
	pl->syncer = NULL;
	if (!pl->journal)
		return;
	vigil_journal_sync(pl->journal);
	vigil_journal_close(pl->journal);
	pl->journal = NULL;
}
