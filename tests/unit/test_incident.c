/*
 * test_incident.c - the incident lifecycle as a pure state machine: dedupe,
 * escalation, resolution and history, flapping (Icinga 2's weighted state
 * change, at its exact thresholds), reminders, acknowledgement, manual
 * resolution and escalation, ids, and the journal's encoding. The clock is
 * passed in: times below are seconds, made nanoseconds by S().
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "incident.h"
#include "proto.h"
#include "silence.h"
#include "unit.h"
#include "util.h"

#define S(t) ((vigil_time_ns)(t) * VIGIL_SEC)
#define MIN(t) S((t) * 60)

/* ------------------------------------------------------ helpers */

/* Every event emitted, in order. */
struct rec {
	size_t n;
	struct {
		enum vigil_event_type type;
		enum vigil_severity prev, severity;
		uint64_t id;
		int flapping, silenced;
		enum vigil_incident_status status;
	} ev[64];
};

static void record(void *user, struct vigil_incident *inc,
		   enum vigil_event_type type, enum vigil_severity prev)
{
	struct rec *r = user;

	if (r->n >= VIGIL_ARRAY_SIZE(r->ev)) {
		r->n++; /* counted only */
		return;
	}
	r->ev[r->n].type = type;
	r->ev[r->n].prev = prev;
	r->ev[r->n].severity = inc->severity;
	r->ev[r->n].id = inc->id;
	r->ev[r->n].flapping = inc->flapping;
	r->ev[r->n].silenced = inc->silenced;
	r->ev[r->n].status = inc->status;
	r->n++;
}

static struct rec rec;
static struct vigil_incident_emit emit = {record, &rec};

static void setup(void)
{
	memset(&rec, 0, sizeof(rec));
}

/* The policy of these tests: the defaults, no reminders unless asked. */
static void policy(struct vigil_incident_policy *p)
{
	vigil_incident_policy_default(p);
	p->repeat_interval = 0;
}

/* Feeds a condition; returns the incident (or NULL). sev < 0: a clear. */
static struct vigil_incident *feed(struct vigil_incidents *im,
				   const char *key, int sev, vigil_time_ns t)
{
	struct vigil_cond c = {0};
	const struct vigil_label l[] = {{"mount", "/"}};
	struct vigil_incident *inc;

	c.key = vigil_xstrdup(key);
	c.type = vigil_xstrdup("disk_full");
	c.firing = sev >= 0;
	c.severity = sev >= 0 ? (enum vigil_severity)sev : VIGIL_SEV_INFO;
	c.message = vigil_xstrdup(sev >= 0 ? "full" : "fine");
	c.value = 91;
	vigil_labels_copy(&c.labels, l, 1);
	inc = vigil_incidents_process(im, &c, t, &emit);
	vigil_cond_free(&c);
	return inc;
}

#define W VIGIL_SEV_WARNING
#define C VIGIL_SEV_CRITICAL
#define CLEAR (-1)

/* The events of rec since `from`, as "opened,flapping_start". */
static const char *events_since(size_t from)
{
	static char buf[1024];
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = from; i < rec.n && i < VIGIL_ARRAY_SIZE(rec.ev) &&
			      off < sizeof(buf);
	     i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s",
					i > from ? "," : "",
					vigil_event_type_name(rec.ev[i].type));
	return buf;
}

static double percent(const struct vigil_incidents *im, const char *key)
{
	const struct vigil_flap *f = vigil_incidents_flap(im, key);

	return f ? f->percent : 0;
}

/* ------------------------------------------------------ lifecycle */

START_TEST(dedupe_by_key)
{
	struct vigil_incidents im;
	struct vigil_incident_policy p;
	struct vigil_incident *a, *b;

	policy(&p);
	vigil_incidents_init_policy(&im, &p);
	a = feed(&im, "disk{mount=/}", W, S(10));
	ck_assert_int_eq(rec.n, 1);
	ck_assert_int_eq(rec.ev[0].type, VIGIL_EVENT_OPENED);
	for (int i = 1; i <= 3; i++)
		ck_assert_ptr_eq(feed(&im, "disk{mount=/}", W, S(10 + i)), a);
	ck_assert_int_eq(rec.n, 1); /* the same state again: no event */
	ck_assert_uint_eq(a->occurrences, 4);
	ck_assert_int_eq(a->updated, S(13));
	ck_assert_int_eq(a->created, S(10));
	b = feed(&im, "disk{mount=/data}", W, S(14));
	ck_assert_ptr_ne(a, b);
	ck_assert_uint_eq(b->id, a->id + 1);
	ck_assert_uint_eq(im.n_open, 2);
	ck_assert_ptr_eq(vigil_incidents_find(&im, "disk{mount=/data}"), b);
	ck_assert_ptr_eq(vigil_incidents_get(&im, a->id), a);
	vigil_incidents_free(&im);
}
END_TEST

START_TEST(escalation_and_deescalation)
{
	struct vigil_incidents im;
	struct vigil_incident_policy p;
	struct vigil_incident *inc;

	policy(&p);
	vigil_incidents_init_policy(&im, &p);
	inc = feed(&im, "k", W, S(1));
	ck_assert_ptr_eq(feed(&im, "k", C, S(2)), inc);
	ck_assert_ptr_eq(feed(&im, "k", VIGIL_SEV_INFO, S(3)), inc);
	ck_assert_str_eq(events_since(0), "opened,escalated,deescalated");
	ck_assert_int_eq(rec.ev[1].prev, W);
	ck_assert_int_eq(rec.ev[1].severity, C);
	ck_assert_int_eq(rec.ev[2].prev, C);
	ck_assert_int_eq(rec.ev[2].severity, VIGIL_SEV_INFO);
	ck_assert_uint_eq(rec.ev[2].id, rec.ev[0].id);
	ck_assert_int_eq(inc->peak, C);
	ck_assert_uint_eq(inc->occurrences, 3);
	ck_assert_uint_eq(inc->escalation, 0); /* the rule's, not the core's */
	vigil_incidents_free(&im);
}
END_TEST

START_TEST(resolve_to_history)
{
	struct vigil_incidents im;
	struct vigil_incident_policy p;
	struct vigil_incident *inc;
	uint64_t id;

	policy(&p);
	vigil_incidents_init_policy(&im, &p);
	inc = feed(&im, "k", C, S(1));
	id = inc->id;
	ck_assert_ptr_eq(feed(&im, "k", CLEAR, S(5)), inc);
	ck_assert_str_eq(events_since(0), "opened,resolved");
	ck_assert_int_eq(rec.ev[1].status, VIGIL_STATUS_RESOLVED);
	ck_assert_int_eq(rec.ev[1].prev, C);
	ck_assert_int_eq(inc->status, VIGIL_STATUS_RESOLVED);
	ck_assert_int_eq(inc->resolved, S(5));
	ck_assert_int_eq(inc->severity, C); /* a clear keeps what it ends */
	ck_assert_str_eq(inc->message, "fine");
	ck_assert_ptr_null(vigil_incidents_find(&im, "k"));
	ck_assert_ptr_eq(vigil_incidents_get(&im, id), inc);
	ck_assert_uint_eq(im.n_open, 0);
	ck_assert_uint_eq(im.n_history, 1);
	ck_assert_ptr_null(im.oldest);
	/* A clear of nothing: no event, no incident. */
	ck_assert_ptr_null(feed(&im, "k", CLEAR, S(6)));
	ck_assert_ptr_null(feed(&im, "never", CLEAR, S(6)));
	ck_assert_int_eq(rec.n, 2);
	/* Firing again: a new incident. */
	inc = feed(&im, "k", C, S(7));
	ck_assert_uint_eq(inc->id, id + 1);
	ck_assert_uint_eq(inc->occurrences, 1);
	vigil_incidents_free(&im);
}
END_TEST

START_TEST(history_by_count_and_age)
{
	struct vigil_incidents im;
	struct vigil_incident_policy p;
	char key[16];

	policy(&p);
	p.history_max = 3;
	p.history_max_age = S(100);
	p.flap_window = 0;
	vigil_incidents_init_policy(&im, &p);
	for (int i = 1; i <= 5; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		feed(&im, key, W, S(i));
		feed(&im, key, CLEAR, S(i));
		ck_assert_uint_le(im.n_history, 3);
	}
	/* By count: the two oldest went. */
	ck_assert_uint_eq(im.n_history, 3);
	ck_assert_uint_eq(im.history[0]->id, 3);
	ck_assert_uint_eq(im.history[2]->id, 5);
	ck_assert_ptr_null(vigil_incidents_get(&im, 1));
	/* By age, at the tick: k3 was resolved at 3 s. */
	ck_assert_int_eq(vigil_incidents_next_due(&im), S(103));
	vigil_incidents_due(&im, S(102), &emit);
	ck_assert_uint_eq(im.n_history, 3);
	vigil_incidents_due(&im, S(103), &emit);
	ck_assert_uint_eq(im.n_history, 2);
	ck_assert_uint_eq(im.history[0]->id, 4);
	/* And when a new one arrives. */
	feed(&im, "k6", W, S(200));
	feed(&im, "k6", CLEAR, S(200));
	ck_assert_uint_eq(im.n_history, 1);
	ck_assert_str_eq(im.history[0]->key, "k6");
	/* A smaller policy prunes at once. */
	p.history_max = 0;
	vigil_incidents_set_policy(&im, &p);
	ck_assert_uint_eq(im.n_history, 0);
	ck_assert_int_eq(rec.n, 12);
	vigil_incidents_free(&im);
}
END_TEST

START_TEST(history_zero_keeps_resolved_until_next_call)
{
	struct vigil_incidents im;
	struct vigil_incident *inc;

	vigil_incidents_init(&im, 0);
	feed(&im, "k", W, S(1));
	inc = feed(&im, "k", CLEAR, S(2));
	/* Still valid (valgrind would say otherwise). */
	ck_assert_int_eq(inc->status, VIGIL_STATUS_RESOLVED);
	ck_assert_str_eq(inc->key, "k");
	ck_assert_uint_eq(im.n_history, 0);
	feed(&im, "other", W, S(3));
	ck_assert_ptr_null(vigil_incidents_get(&im, 1));
	vigil_incidents_free(&im);
}
END_TEST

/* ------------------------------------------------------ flapping */

/*
 * Icinga 2's percent state change over a window of 20: a change in ring
 * slot i (0 oldest) weighs 0.8 + 0.02 i, and the sum is a percentage of
 * 20, i.e. (40 + i) / 10 percent. Observations 1-3 change, 4-16 do not,
 * 17-19 change: after 19 the changes sit in slots 1, 2, 3, 17, 18, 19:
 * (41 + 42 + 43 + 57 + 58 + 59) / 10 = 30.0 exactly, which is not above
 * 30: no flapping. The 20th changes too: slots 0-2 and 16-19, 35.3%.
 */
START_TEST(flapping_starts_above_high_exactly)
{
	struct vigil_incidents im;
	struct vigil_incident_policy p;
	struct vigil_incident *inc;
	int t = 0;

	policy(&p);
	vigil_incidents_init_policy(&im, &p);
	feed(&im, "k", W, S(++t));     /* 1 opens #1 */
	feed(&im, "k", CLEAR, S(++t)); /* 2 resolves it */
	feed(&im, "k", W, S(++t));     /* 3 opens #2 */
	for (int i = 4; i <= 16; i++)
		feed(&im, "k", W, S(++t)); /* the same: no change */
	ck_assert_double_eq_tol(percent(&im, "k"), 13.5, 1e-9);
	feed(&im, "k", CLEAR, S(++t)); /* 17 */
	feed(&im, "k", W, S(++t));     /* 18: #3 */
	ck_assert_int_eq(rec.n, 5);
	inc = feed(&im, "k", CLEAR, S(++t)); /* 19 */
	ck_assert_double_eq_tol(percent(&im, "k"), 30.0, 1e-9);
	ck_assert_int_eq(inc->flapping, 0);
	ck_assert_str_eq(events_since(0),
			 "opened,resolved,opened,resolved,opened,resolved");

	/* The state survived every resolution; the 20th tips it. */
	inc = feed(&im, "k", W, S(++t));
	ck_assert_double_eq_tol(percent(&im, "k"), 35.3, 1e-9);
	ck_assert_str_eq(events_since(6), "opened,flapping_start");
	ck_assert_uint_eq(inc->id, 4);
	/* The opening itself says it flaps: routing holds it back. */
	ck_assert_int_eq(rec.ev[6].flapping, 1);
	ck_assert_int_eq(rec.ev[7].flapping, 1);
	ck_assert_uint_eq(rec.ev[7].id, 4);
	ck_assert_int_eq(inc->flapping, 1);
	ck_assert_int_eq(inc->flap.flapping, 1);
	vigil_incidents_free(&im);
}
END_TEST

/*
 * Six changes, ten calm observations, four changes, then calm: the
 * percent goes 5.9, 11.7, 17.4, 23.0, 28.5, 33.9 (flapping starts at the
 * sixth, a resolution), down to 27.9, up to 48.5, and down again to 25.0
 * exactly at the 25th, which is not above 25: flapping ends there (24th:
 * 29.5, still flapping).
 */
START_TEST(flapping_ends_at_low_exactly)
{
	struct vigil_incidents im;
	struct vigil_incident_policy p;
	struct vigil_incident *inc = NULL;
	int t = 0;

	policy(&p);
	vigil_incidents_init_policy(&im, &p);
	for (int i = 1; i <= 6; i++)
		inc = feed(&im, "k", i % 2 ? W : CLEAR, S(++t));
	/* Started on a resolution: told on the resolved incident. */
	ck_assert_str_eq(events_since(4), "opened,resolved,flapping_start");
	ck_assert_int_eq(rec.ev[6].status, VIGIL_STATUS_RESOLVED);
	ck_assert_int_eq(inc->flapping, 1);
	for (int i = 7; i <= 16; i++)
		ck_assert_ptr_null(feed(&im, "k", CLEAR, S(++t)));
	ck_assert_double_eq_tol(percent(&im, "k"), 27.9, 1e-9);
	for (int i = 17; i <= 20; i++)
		feed(&im, "k", i % 2 ? W : CLEAR, S(++t));
	ck_assert_double_eq_tol(percent(&im, "k"), 48.5, 1e-9);
	ck_assert_int_eq(rec.n, 11); /* two more openings and resolutions */
	for (int i = 21; i <= 24; i++)
		feed(&im, "k", CLEAR, S(++t));
	ck_assert_double_eq_tol(percent(&im, "k"), 29.5, 1e-9);
	ck_assert_int_eq(vigil_incidents_flap(&im, "k")->flapping, 1);
	ck_assert_int_eq(rec.n, 11);
	feed(&im, "k", CLEAR, S(++t)); /* 25 */
	ck_assert_double_eq_tol(percent(&im, "k"), 25.0, 1e-9);
	ck_assert_str_eq(events_since(11), "flapping_end");
	/* On the incident of the key resolved last. */
	ck_assert_uint_eq(rec.ev[11].id, 5);
	ck_assert_int_eq(rec.ev[11].flapping, 0);
	vigil_incidents_free(&im);
}
END_TEST

/* Between conditions the state is observed once per flap_interval: a key
 * that calms down stops flapping from the clock alone, and its state is
 * dropped once the window holds no change and nothing is open. */
START_TEST(flapping_decays_with_time)
{
	struct vigil_incidents im;
	struct vigil_incident_policy p;
	struct vigil_incident *inc = NULL;

	policy(&p);
	p.repeat_interval = MIN(60);
	vigil_incidents_init_policy(&im, &p);
	/* Seven changes within a minute, ending open. */
	for (int i = 1; i <= 7; i++)
		inc = feed(&im, "k", i % 2 ? W : CLEAR, S(i));
	ck_assert_int_eq(inc->flapping, 1);
	ck_assert_int_eq(inc->status, VIGIL_STATUS_OPEN);
	ck_assert_uint_eq(inc->id, 4);
	/* Changes in slots 13-19: (53 + ... + 59) / 10 = 39.2%. Each minute
	 * of calm shifts them by one slot, 0.7 points less. */
	ck_assert_double_eq_tol(percent(&im, "k"), 39.2, 1e-9);
	ck_assert_int_eq(vigil_incidents_next_due(&im), S(7) + MIN(1));
	vigil_incidents_due(&im, S(7) + MIN(1) - 1, &emit);
	ck_assert_double_eq_tol(percent(&im, "k"), 39.2, 1e-9);
	vigil_incidents_due(&im, S(7) + MIN(1), &emit);
	ck_assert_double_eq_tol(percent(&im, "k"), 38.5, 1e-9);
	/* 14 minutes: slots -1..5, six left: (40 + ... + 45) / 10 = 25.5;
	 * 15: five left, 21.0, not above 25. */
	vigil_incidents_due(&im, S(7) + MIN(14), &emit);
	ck_assert_double_eq_tol(percent(&im, "k"), 25.5, 1e-9);
	ck_assert_int_eq(rec.n, 8);
	vigil_incidents_due(&im, S(7) + MIN(15), &emit);
	ck_assert_double_eq_tol(percent(&im, "k"), 21.0, 1e-9);
	ck_assert_str_eq(events_since(8), "flapping_end");
	ck_assert_uint_eq(rec.ev[8].id, 4);
	ck_assert_int_eq(inc->flapping, 0);
	/* ...and the end of flapping counts as the notification. */
	ck_assert_int_eq(inc->next_repeat, S(7) + MIN(15) + MIN(60));
	/* Resolved, then calm for a whole window: the state goes. */
	feed(&im, "k", CLEAR, S(7) + MIN(16));
	ck_assert_ptr_nonnull(vigil_incidents_flap(&im, "k"));
	vigil_incidents_due(&im, S(7) + MIN(16) + MIN(19), &emit);
	ck_assert_ptr_nonnull(vigil_incidents_flap(&im, "k"));
	vigil_incidents_due(&im, S(7) + MIN(16) + MIN(20), &emit);
	ck_assert_ptr_null(vigil_incidents_flap(&im, "k"));
	ck_assert_uint_eq(im.n_flaps, 0);
	ck_assert_str_eq(events_since(9), "resolved");
	vigil_incidents_free(&im);
}
END_TEST

START_TEST(flap_state_bounded)
{
	/* A clear of an unknown key keeps nothing (every new series starts
	 * with one); flap detection off keeps nothing at all. */
	struct vigil_incidents im;
	struct vigil_incident_policy p;
	char key[16];

	policy(&p);
	vigil_incidents_init_policy(&im, &p);
	for (int i = 0; i < 500; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		feed(&im, key, CLEAR, S(1));
	}
	ck_assert_uint_eq(im.n_flaps, 0);
	for (int i = 0; i < 500; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		feed(&im, key, W, S(2));
		feed(&im, key, CLEAR, S(3));
	}
	ck_assert_uint_eq(im.n_flaps, 500);
	ck_assert_ptr_nonnull(vigil_incidents_flap(&im, "k123"));
	vigil_incidents_due(&im, S(3) + MIN(20), &emit);
	ck_assert_uint_eq(im.n_flaps, 0);
	vigil_incidents_free(&im);

	ck_assert_int_eq(rec.n, 1000);

	memset(&rec, 0, sizeof(rec));
	policy(&p);
	p.flap_window = 0;
	vigil_incidents_init_policy(&im, &p);
	for (int i = 1; i <= 30; i++)
		feed(&im, "k", i % 2 ? W : CLEAR, S(i));
	ck_assert_uint_eq(im.n_flaps, 0);
	ck_assert_int_eq(rec.n, 30);
	for (size_t i = 0; i < rec.n; i++)
		ck_assert_int_eq(rec.ev[i].flapping, 0);
	vigil_incidents_free(&im);
}
END_TEST

START_TEST(flap_detection_turned_off)
{
	struct vigil_incidents im;
	struct vigil_incident_policy p;
	struct vigil_incident *inc = NULL;

	policy(&p);
	vigil_incidents_init_policy(&im, &p);
	for (int i = 1; i <= 7; i++)
		inc = feed(&im, "k", i % 2 ? W : CLEAR, S(i));
	ck_assert_int_eq(inc->flapping, 1);
	/* A wider window starts the ring over; off drops it all. */
	p.flap_window = 32;
	vigil_incidents_set_policy(&im, &p);
	ck_assert_uint_eq(vigil_incidents_flap(&im, "k")->changes, 0);
	ck_assert_int_eq(inc->flapping, 1); /* until judged again */
	p.flap_window = 0;
	vigil_incidents_set_policy(&im, &p);
	ck_assert_uint_eq(im.n_flaps, 0);
	ck_assert_int_eq(inc->flapping, 0);
	feed(&im, "k", CLEAR, S(8));
	ck_assert_str_eq(events_since(rec.n - 1), "resolved");
	ck_assert_int_eq(rec.ev[rec.n - 1].flapping, 0);
	vigil_incidents_free(&im);
}
END_TEST

START_TEST(legacy_apply_reports_primary_only)
{
	struct vigil_incidents im;
	struct vigil_incident *inc = NULL;
	enum vigil_event_type type = 0;
	enum vigil_severity prev;

	vigil_incidents_init(&im, 10);
	for (int i = 1; i <= 6; i++) {
		struct vigil_cond c = {0};
		c.key = vigil_xstrdup("k");
		c.firing = i % 2;
		c.severity = W;
		inc = vigil_incidents_apply(&im, &c, S(i), &type, &prev);
		vigil_cond_free(&c);
	}
	/* The sixth started flapping too; only the resolution is told. */
	ck_assert_int_eq(type, VIGIL_EVENT_RESOLVED);
	ck_assert_int_eq(prev, W);
	ck_assert_int_eq(inc->flapping, 1);
	vigil_incidents_free(&im);
}
END_TEST

/* ------------------------------------------------------ reminders */

START_TEST(repeats_at_the_interval)
{
	struct vigil_incidents im;
	struct vigil_incident_policy p;
	struct vigil_incident *inc;

	policy(&p);
	p.repeat_interval = MIN(10);
	p.history_max_age = 0;
	p.flap_window = 0;
	vigil_incidents_init_policy(&im, &p);
	inc = feed(&im, "k", W, S(100));
	ck_assert_int_eq(inc->next_repeat, S(100) + MIN(10));
	ck_assert_int_eq(vigil_incidents_next_due(&im), S(100) + MIN(10));
	vigil_incidents_due(&im, S(100) + MIN(10) - 1, &emit);
	ck_assert_int_eq(rec.n, 1);
	vigil_incidents_due(&im, S(100) + MIN(10), &emit);
	ck_assert_str_eq(events_since(1), "repeat");
	ck_assert_int_eq(rec.ev[1].prev, W);
	ck_assert_int_eq(inc->next_repeat, S(100) + MIN(20));
	/* A late tick keeps the beat... */
	vigil_incidents_due(&im, S(100) + MIN(20) + S(5), &emit);
	ck_assert_int_eq(rec.n, 3);
	ck_assert_int_eq(inc->next_repeat, S(100) + MIN(30));
	/* ...a very late one starts over. */
	vigil_incidents_due(&im, S(100) + MIN(55), &emit);
	ck_assert_int_eq(rec.n, 4);
	ck_assert_int_eq(inc->next_repeat, S(100) + MIN(65));
	/* A notification (escalation) restarts the wait. */
	feed(&im, "k", C, S(100) + MIN(60));
	ck_assert_int_eq(inc->next_repeat, S(100) + MIN(70));
	vigil_incidents_due(&im, S(100) + MIN(65), &emit);
	ck_assert_str_eq(events_since(4), "escalated");
	/* Resolved: no more. */
	feed(&im, "k", CLEAR, S(100) + MIN(66));
	vigil_incidents_due(&im, S(100) + MIN(200), &emit);
	ck_assert_str_eq(events_since(4), "escalated,resolved");
	ck_assert_int_eq(vigil_incidents_next_due(&im), 0);
	vigil_incidents_free(&im);
}
END_TEST

START_TEST(no_repeats_by_policy)
{
	struct vigil_incidents im;
	struct vigil_incident_policy p;

	policy(&p);
	vigil_incidents_init_policy(&im, &p);
	ck_assert_int_eq(feed(&im, "k", W, S(1))->next_repeat, 0);
	vigil_incidents_due(&im, S(1) + MIN(1000), &emit);
	ck_assert_int_eq(rec.n, 1);
	vigil_incidents_free(&im);
}
END_TEST

START_TEST(ack_stops_repeats)
{
	struct vigil_incidents im;
	struct vigil_incident_policy p;
	struct vigil_incident *inc, *out;
	struct vigil_ev *ev;

	policy(&p);
	p.repeat_interval = MIN(10);
	p.flap_window = 0;
	vigil_incidents_init_policy(&im, &p);
	inc = feed(&im, "k", W, S(0));
	ck_assert_int_eq(vigil_incidents_ack(&im, inc->id, "ops", "on it",
					     MIN(3), &emit, &out),
			 0);
	ck_assert_ptr_eq(out, inc);
	ck_assert_str_eq(events_since(1), "acknowledged");
	ck_assert_int_eq(inc->status, VIGIL_STATUS_ACKNOWLEDGED);
	ck_assert_int_eq(inc->acked, MIN(3));
	ck_assert_str_eq(inc->acked_by, "ops");
	ck_assert_str_eq(inc->comment, "on it");
	ck_assert_int_eq(inc->next_repeat, 0);
	ev = vigil_ev_new(inc, VIGIL_EVENT_ACKNOWLEDGED, W, MIN(3));
	ck_assert_str_eq(ev->pub.comment, "on it");
	ck_assert_int_eq(ev->pub.status, VIGIL_STATUS_ACKNOWLEDGED);
	vigil_ev_free(ev);
	vigil_incidents_due(&im, MIN(100), &emit);
	ck_assert_int_eq(rec.n, 2); /* no reminder */
	ck_assert_int_eq(vigil_incidents_next_due(&im), 0);

	/* Twice, or of nothing, or of the resolved: refused. */
	ck_assert_int_eq(vigil_incidents_ack(&im, inc->id, NULL, NULL, MIN(4),
					     &emit, NULL),
			 -EALREADY);
	ck_assert_int_eq(vigil_incidents_ack(&im, 999, NULL, NULL, MIN(4),
					     &emit, &out),
			 -ENOENT);
	ck_assert_ptr_null(out);

	/* A de-escalation keeps it; an escalation takes it back. */
	feed(&im, "k", VIGIL_SEV_INFO, MIN(101));
	ck_assert_int_eq(inc->status, VIGIL_STATUS_ACKNOWLEDGED);
	feed(&im, "k", C, MIN(102));
	ck_assert_int_eq(inc->status, VIGIL_STATUS_OPEN);
	ck_assert_ptr_null(inc->comment);
	ck_assert_ptr_null(inc->acked_by);
	ck_assert_int_eq(inc->acked, 0);
	ck_assert_int_eq(inc->next_repeat, MIN(112));
	vigil_incidents_due(&im, MIN(112), &emit);
	ck_assert_str_eq(events_since(2), "deescalated,escalated,repeat");
	/* Acknowledged again, without a comment. */
	ck_assert_int_eq(vigil_incidents_ack(&im, inc->id, NULL, NULL,
					     MIN(113), &emit, NULL),
			 0);
	ck_assert_ptr_null(inc->comment);

	feed(&im, "k", CLEAR, MIN(114));
	ck_assert_int_eq(vigil_incidents_ack(&im, inc->id, NULL, NULL,
					     MIN(115), &emit, &out),
			 -ESRCH);
	ck_assert_ptr_eq(out, inc);
	vigil_incidents_free(&im);
}
END_TEST

START_TEST(silences_pause_repeats)
{
	struct vigil_incidents im;
	struct vigil_incident_policy p;
	struct vigil_silences set;
	struct vigil_incident *inc;
	uint64_t sid;
	char why[256];

	policy(&p);
	p.repeat_interval = MIN(10);
	vigil_incidents_init_policy(&im, &p);
	vigil_silences_init(&set);
	vigil_incidents_set_silences(&im, &set);
	ck_assert_int_eq(vigil_silences_add(&set, "type=disk_full mount=/",
					    MIN(0), MIN(30), "maintenance",
					    "ops", MIN(0), &sid, why,
					    sizeof(why)),
			 0);
	inc = feed(&im, "k", W, S(1));
	ck_assert_int_eq(inc->silenced, 1);
	ck_assert_int_eq(rec.ev[0].silenced, 1); /* recorded, marked */
	vigil_incidents_due(&im, MIN(20), &emit);
	ck_assert_int_eq(rec.n, 1); /* paused */
	/* The silence is over: the reminder goes at once. */
	vigil_incidents_due(&im, MIN(30), &emit);
	ck_assert_str_eq(events_since(1), "repeat");
	ck_assert_int_eq(rec.ev[1].silenced, 0);
	ck_assert_int_eq(inc->next_repeat, MIN(40));
	vigil_incidents_due(&im, MIN(35), &emit);
	ck_assert_int_eq(rec.n, 2);
	vigil_incidents_free(&im);
	vigil_silences_free(&set);
}
END_TEST

/* ------------------------------------------------------ commands */

START_TEST(manual_resolve)
{
	struct vigil_incidents im;
	struct vigil_incident_policy p;
	struct vigil_incident *inc;
	uint64_t id;

	policy(&p);
	vigil_incidents_init_policy(&im, &p);
	inc = feed(&im, "k", C, S(1));
	id = inc->id;
	ck_assert_int_eq(vigil_incidents_resolve_manual(&im, id, S(2), &emit),
			 0);
	ck_assert_str_eq(events_since(0), "opened,resolved");
	ck_assert_int_eq(rec.ev[1].prev, C);
	ck_assert_ptr_null(vigil_incidents_find(&im, "k"));
	inc = vigil_incidents_get(&im, id);
	ck_assert_int_eq(inc->status, VIGIL_STATUS_RESOLVED);
	ck_assert_int_eq(inc->resolved, S(2));
	ck_assert_uint_eq(im.n_history, 1);
	ck_assert_int_eq(vigil_incidents_resolve_manual(&im, id, S(3), &emit),
			 -ESRCH);
	ck_assert_int_eq(vigil_incidents_resolve_manual(&im, 77, S(3), &emit),
			 -ENOENT);
	/* The rule's clear finds nothing; its next firing opens anew. */
	ck_assert_ptr_null(feed(&im, "k", CLEAR, S(4)));
	inc = feed(&im, "k", W, S(5));
	ck_assert_uint_eq(inc->id, id + 1);
	ck_assert_str_eq(events_since(2), "opened");
	vigil_incidents_free(&im);
}
END_TEST

/* Thousands open at once (the table grows under them): each is found by
 * its key, and gone once resolved. */
START_TEST(many_open_incidents)
{
	struct vigil_incidents im;
	struct vigil_incident_policy p;
	const int n = 5000;
	char key[32];

	policy(&p);
	p.flap_window = 0;
	vigil_incidents_init_policy(&im, &p);
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert_ptr_nonnull(feed(&im, key, W, S(1)));
	}
	ck_assert_uint_eq(im.n_open, n);
	ck_assert_uint_gt(im.n_buckets, 256);
	for (int i = 0; i < n; i++) {
		struct vigil_incident *inc;

		snprintf(key, sizeof(key), "k%d", i);
		inc = vigil_incidents_find(&im, key);
		ck_assert_ptr_nonnull(inc);
		ck_assert_str_eq(inc->key, key);
		ck_assert_uint_eq(inc->id, (uint64_t)i + 1);
	}
	for (int i = 0; i < n; i += 2) {
		snprintf(key, sizeof(key), "k%d", i);
		feed(&im, key, CLEAR, S(2));
		ck_assert_ptr_null(vigil_incidents_find(&im, key));
	}
	ck_assert_uint_eq(im.n_open, n / 2);
	ck_assert_ptr_nonnull(vigil_incidents_find(&im, "k1"));
	vigil_incidents_free(&im);
}
END_TEST

START_TEST(escalate_when_remediation_runs_out)
{
	struct vigil_incidents im;
	struct vigil_incident_policy p;
	struct vigil_incident *inc;
	struct vigil_ev *ev;

	policy(&p);
	p.repeat_interval = MIN(10);
	vigil_incidents_init_policy(&im, &p);
	inc = feed(&im, "k", W, S(0));
	vigil_incidents_ack(&im, inc->id, "ops", "looking", S(1), &emit, NULL);
	ck_assert_int_eq(vigil_incidents_escalate(&im, inc, S(2), &emit), 0);
	ck_assert_int_eq(inc->severity, C);
	ck_assert_int_eq(inc->peak, C);
	ck_assert_uint_eq(inc->escalation, 1);
	ck_assert_int_eq(inc->status, VIGIL_STATUS_OPEN); /* ack taken back */
	ck_assert_int_eq(inc->next_repeat, S(2) + MIN(10));
	ck_assert_str_eq(events_since(0),
			 "opened,acknowledged,remediation_failed");
	ck_assert_int_eq(rec.ev[2].prev, W);
	ev = vigil_ev_new(inc, VIGIL_EVENT_REMEDIATION_FAILED, W, S(2));
	ck_assert_uint_eq(ev->pub.escalation, 1);
	ck_assert_int_eq(ev->pub.severity, C);
	ck_assert_int_eq(ev->pub.previous_severity, W);
	vigil_ev_free(ev);
	/* At critical already: the count still goes up. */
	ck_assert_int_eq(vigil_incidents_escalate(&im, inc, S(3), &emit), 0);
	ck_assert_int_eq(inc->severity, C);
	ck_assert_uint_eq(inc->escalation, 2);
	ck_assert_int_eq(rec.ev[3].prev, C);
	/* The rule at the same severity: nothing new. */
	feed(&im, "k", C, S(4));
	ck_assert_int_eq(rec.n, 4);
	feed(&im, "k", CLEAR, S(5));
	ck_assert_int_eq(vigil_incidents_escalate(&im, inc, S(6), &emit),
			 -ESRCH);
	ck_assert_int_eq(rec.n, 5);
	vigil_incidents_free(&im);
}
END_TEST

/* ------------------------------------------------------ ids and listing */

START_TEST(ids_never_reused_after_seeding)
{
	struct vigil_incidents im;

	vigil_incidents_init(&im, 0);
	vigil_incidents_seed(&im, 100);
	ck_assert_uint_eq(feed(&im, "a", W, S(1))->id, 100);
	vigil_incidents_seed(&im, 50); /* never lowers */
	ck_assert_uint_eq(feed(&im, "b", W, S(1))->id, 101);
	feed(&im, "a", CLEAR, S(2));
	ck_assert_uint_eq(feed(&im, "a", W, S(3))->id, 102);
	vigil_incidents_free(&im);
}
END_TEST

static int collect(void *user, struct vigil_incident *inc)
{
	struct vigil_buf *b = user;

	vigil_buf_printf(b, "%llu ", (unsigned long long)inc->id);
	return inc->id == 99;
}

START_TEST(listing_in_id_order)
{
	struct vigil_incidents im;
	struct vigil_buf b = {0};
	char key[8];

	vigil_incidents_init(&im, 10);
	for (int i = 1; i <= 6; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		feed(&im, key, W, S(i));
	}
	feed(&im, "k4", CLEAR, S(7));
	feed(&im, "k2", CLEAR, S(8));
	feed(&im, "k1", CLEAR, S(9));
	ck_assert_int_eq(vigil_incidents_foreach(&im, 0, collect, &b), 0);
	ck_assert_str_eq(b.data, "3 5 6 ");
	b.len = 0;
	vigil_incidents_foreach(&im, 1, collect, &b);
	ck_assert_str_eq(b.data, "3 5 6 4 2 1 ");
	vigil_buf_free(&b);
	vigil_incidents_free(&im);
}
END_TEST

START_TEST(event_carries_abi_1_1_fields)
{
	struct vigil_incidents im;
	struct vigil_incident *inc;
	struct vigil_ev *ev;

	vigil_incidents_init(&im, 10);
	inc = feed(&im, "k", W, S(1));
	ev = vigil_ev_new(inc, VIGIL_EVENT_OPENED, W, S(1));
	ck_assert_uint_eq(ev->pub.escalation, 0);
	ck_assert_int_eq(ev->pub.flapping, 0);
	ck_assert_int_eq(ev->pub.silenced, 0);
	ck_assert_ptr_null(ev->pub.comment);
	vigil_ev_free(ev);
	vigil_incidents_ack(&im, inc->id, "me", "mine", S(2), NULL, NULL);
	inc->flapping = 1;
	inc->silenced = 1;
	inc->escalation = 3;
	ev = vigil_ev_new(inc, VIGIL_EVENT_ACKNOWLEDGED, W, S(2));
	vigil_incidents_free(&im); /* the event owns what it shows */
	ck_assert_uint_eq(ev->pub.escalation, 3);
	ck_assert_int_eq(ev->pub.flapping, 1);
	ck_assert_int_eq(ev->pub.silenced, 1);
	ck_assert_str_eq(ev->pub.comment, "mine");
	ck_assert_str_eq(ev->pub.message, "full");
	vigil_ev_free(ev);
}
END_TEST

START_TEST(policy_checked)
{
	struct vigil_incident_policy p;
	char why[256];

	vigil_incident_policy_default(&p);
	ck_assert_int_eq(vigil_incident_policy_check(&p, why, sizeof(why)), 0);
	ck_assert_uint_eq(p.history_max, 100);
	ck_assert_int_eq(p.history_max_age, S(7 * 86400));
	ck_assert_int_eq(p.repeat_interval, MIN(60));
	ck_assert_uint_eq(p.flap_window, 20);
	p.flap_window = 33;
	ck_assert_int_eq(vigil_incident_policy_check(&p, why, sizeof(why)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "2 to 32"));
	p.flap_window = 20;
	p.flap_low = 40;
	ck_assert_int_eq(vigil_incident_policy_check(&p, why, sizeof(why)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "low <= high"));
	p.flap_window = 0; /* off: thresholds do not matter */
	ck_assert_int_eq(vigil_incident_policy_check(&p, why, sizeof(why)), 0);
}
END_TEST

/* ------------------------------------------------------ journal */

static struct vigil_incident *round_trip(const struct vigil_incident *inc,
					 struct vigil_wire *w)
{
	struct vigil_frame f = {0};
	struct vigil_wire_reader r;
	struct vigil_incident *out;

	vigil_wire_begin(w, VIGIL_MSG_REPLY, 0);
	vigil_incident_encode(inc, w);
	vigil_wire_end(w);
	f.payload = (const uint8_t *)w->b.data + VIGIL_FRAME_HEADER;
	f.length = (uint32_t)(w->b.len - VIGIL_FRAME_HEADER);
	vigil_wire_reader_init(&r, &f);
	out = vigil_incident_decode(&r);
	ck_assert_int_eq(r.err, 0);
	ck_assert_uint_eq(r.left, 0);
	vigil_wire_reader_free(&r);
	return out;
}

/* A busy incident: labels, actions, acknowledgement, flapping. */
static struct vigil_incident *busy(struct vigil_incidents *im)
{
	const struct vigil_action_record a1 = {"restart", S(3), 7, 1,
					       VIGIL_ACTION_FAILED, "oops"};
	const struct vigil_action_record a2 = {"bounce", S(4), 9, 137,
					       VIGIL_ACTION_TIMEOUT, ""};
	struct vigil_incident_policy p;
	struct vigil_incident *inc = NULL;

	policy(&p);
	p.repeat_interval = MIN(10);
	vigil_incidents_init_policy(im, &p);
	for (int i = 1; i <= 7; i++)
		inc = feed(im, "disk{mount=/}", i % 2 ? W : CLEAR, S(i));
	feed(im, "disk{mount=/}", C, S(8));
	vigil_incident_add_action(inc, &a1);
	vigil_incident_add_action(inc, &a2);
	vigil_incidents_escalate(im, inc, S(9), NULL);
	vigil_incidents_ack(im, inc->id, "ops", "on it", S(10), NULL, NULL);
	inc->silenced = 1;
	inc->value = NAN;
	return inc;
}

START_TEST(encode_decode_round_trip)
{
	struct vigil_incidents im;
	struct vigil_incident *inc = busy(&im), *out;
	struct vigil_wire w = {0};

	ck_assert_int_eq(inc->flapping, 1);
	out = round_trip(inc, &w);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(out->id, inc->id);
	ck_assert_str_eq(out->key, "disk{mount=/}");
	ck_assert_str_eq(out->type, "disk_full");
	ck_assert_int_eq(out->severity, C);
	ck_assert_int_eq(out->peak, C);
	ck_assert_int_eq(out->status, VIGIL_STATUS_ACKNOWLEDGED);
	ck_assert_str_eq(out->message, "full");
	ck_assert(isnan(out->value));
	ck_assert_uint_eq(out->labels.n, 1);
	ck_assert_str_eq(out->labels.v[0].key, "mount");
	ck_assert_str_eq(out->labels.v[0].value, "/");
	ck_assert_int_eq(out->created, inc->created);
	ck_assert_int_eq(out->updated, S(10));
	ck_assert_int_eq(out->resolved, 0);
	ck_assert_uint_eq(out->occurrences, 2);
	ck_assert_uint_eq(out->escalation, 1);
	ck_assert_int_eq(out->flapping, 1);
	ck_assert_int_eq(out->silenced, 1);
	ck_assert_int_eq(out->acked, S(10));
	ck_assert_str_eq(out->acked_by, "ops");
	ck_assert_str_eq(out->comment, "on it");
	ck_assert_int_eq(out->next_repeat, 0);
	ck_assert_uint_eq(out->flap.changes, inc->flap.changes);
	ck_assert_uint_eq(out->flap.pos, inc->flap.pos);
	ck_assert_uint_eq(out->flap.state, 1 + C);
	ck_assert_int_eq(out->flap.flapping, 1);
	ck_assert(out->flap.percent == inc->flap.percent);
	ck_assert_int_eq(out->flap.last, S(8));
	ck_assert_uint_eq(out->n_actions, 2);
	ck_assert_str_eq(out->actions[0].action, "restart");
	ck_assert_str_eq(out->actions[0].output, "oops");
	ck_assert_int_eq(out->actions[0].outcome, VIGIL_ACTION_FAILED);
	ck_assert_int_eq(out->actions[0].start, S(3));
	ck_assert_int_eq(out->actions[0].duration, 7);
	ck_assert_int_eq(out->actions[1].exit_status, 137);
	ck_assert_str_eq(out->actions[1].output, "");
	ck_assert_ptr_null(out->next);
	vigil_incident_free(out);

	/* Absent strings stay absent. */
	free(inc->message);
	inc->message = NULL;
	out = round_trip(inc, &w);
	ck_assert_ptr_null(out->message);
	ck_assert_str_eq(out->acked_by, "ops");
	vigil_incident_free(out);
	vigil_wire_free(&w);
	vigil_incidents_free(&im);
}
END_TEST

START_TEST(decode_refuses_garbage)
{
	struct vigil_incidents im;
	struct vigil_incident *inc = busy(&im);
	struct vigil_wire w = {0};
	struct vigil_wire_reader r;
	struct vigil_frame f = {0};
	uint8_t *bytes;
	size_t len;

	vigil_wire_begin(&w, VIGIL_MSG_REPLY, 0);
	vigil_incident_encode(inc, &w);
	len = w.b.len - VIGIL_FRAME_HEADER;
	bytes = vigil_xmalloc(len);
	memcpy(bytes, w.b.data + VIGIL_FRAME_HEADER, len);
	f.payload = bytes;

	/* Every prefix is short: refused, nothing leaked (valgrind). */
	for (size_t n = 0; n < len; n++) {
		f.length = (uint32_t)n;
		vigil_wire_reader_init(&r, &f);
		ck_assert_ptr_null(vigil_incident_decode(&r));
		ck_assert_int_eq(r.err, 1);
		vigil_wire_reader_free(&r);
	}
	/* Another version. */
	f.length = (uint32_t)len;
	bytes[0] = 9;
	vigil_wire_reader_init(&r, &f);
	ck_assert_ptr_null(vigil_incident_decode(&r));
	vigil_wire_reader_free(&r);
	bytes[0] = VIGIL_INCIDENT_WIRE_VERSION;
	/* Every single byte flipped: decoded or refused, never a crash. */
	for (size_t i = 0; i < len; i++) {
		struct vigil_incident *out;

		bytes[i] ^= 0xff;
		vigil_wire_reader_init(&r, &f);
		out = vigil_incident_decode(&r);
		ck_assert(out ? !r.err : r.err);
		if (out)
			ck_assert_int_le(out->severity, VIGIL_SEV_CRITICAL);
		vigil_incident_free(out);
		vigil_wire_reader_free(&r);
		bytes[i] ^= 0xff;
	}
	/* Random bytes. */
	srand(7);
	for (int k = 0; k < 200; k++) {
		for (size_t i = 0; i < len; i++)
			bytes[i] = (uint8_t)rand();
		bytes[0] = VIGIL_INCIDENT_WIRE_VERSION;
		memset(bytes + 1, 0, 3);
		vigil_wire_reader_init(&r, &f);
		vigil_incident_free(vigil_incident_decode(&r));
		vigil_wire_reader_free(&r);
	}
	free(bytes);
	vigil_wire_free(&w);
	vigil_incidents_free(&im);
}
END_TEST

/* A manager rebuilt from encoded incidents goes on where the old one
 * stopped: same ids onward, same flapping. */
START_TEST(restore_from_journal)
{
	struct vigil_incidents im, im2;
	struct vigil_incident *inc = busy(&im), *out, *other;
	struct vigil_incident_policy p;
	struct vigil_wire w = {0};
	uint64_t id = inc->id;

	feed(&im, "other", W, S(11));
	feed(&im, "other", CLEAR, S(12));
	other = vigil_incidents_get(&im, id + 1);
	ck_assert_ptr_nonnull(other);

	policy(&p);
	vigil_incidents_init_policy(&im2, &p);
	ck_assert_int_eq(vigil_incidents_restore(&im2, round_trip(other, &w)),
			 0);
	ck_assert_int_eq(vigil_incidents_restore(&im2, round_trip(inc, &w)),
			 0);
	ck_assert_uint_eq(im2.n_open, 1);
	ck_assert_uint_eq(im2.n_history, 1);
	ck_assert_uint_eq(im2.next_id, id + 2);
	out = vigil_incidents_find(&im2, "disk{mount=/}");
	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_eq(im2.oldest, out);
	ck_assert_int_eq(out->status, VIGIL_STATUS_ACKNOWLEDGED);
	ck_assert_int_eq(vigil_incidents_flap(&im2, "disk{mount=/}")->flapping,
			 1);
	/* The same id again replaces it (a later record of the journal). */
	inc->occurrences = 42;
	ck_assert_int_eq(vigil_incidents_restore(&im2, round_trip(inc, &w)),
			 0);
	ck_assert_uint_eq(im2.n_open, 1);
	ck_assert_uint_eq(vigil_incidents_find(&im2, "disk{mount=/}")
				  ->occurrences,
			  42);
	/* Resolved later in the journal: out of the table, into history. */
	vigil_incidents_resolve_manual(&im, id, S(13), NULL);
	ck_assert_int_eq(vigil_incidents_restore(&im2, round_trip(inc, &w)),
			 0);
	ck_assert_uint_eq(im2.n_open, 0);
	ck_assert_uint_eq(im2.n_history, 2);
	ck_assert_uint_eq(im2.history[1]->id, id);
	ck_assert_ptr_null(im2.oldest);
	/* Two open incidents of one key: refused, still the caller's. */
	ck_assert_uint_eq(feed(&im2, "k", W, S(14))->id, id + 2);
	feed(&im, "x", W, S(14));
	out = round_trip(feed(&im, "k", W, S(14)), &w);
	ck_assert_uint_eq(out->id, id + 3);
	ck_assert_int_eq(vigil_incidents_restore(&im2, out), -EEXIST);
	vigil_incident_free(out);
	ck_assert_uint_eq(feed(&im2, "new", W, S(15))->id, id + 3);
	vigil_wire_free(&w);
	vigil_incidents_free(&im);
	vigil_incidents_free(&im2);
}
END_TEST

static Suite *incident_suite(void)
{
	Suite *s = suite_create("incident");
	TCase *tc;

	tc = tcase_create("lifecycle");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, dedupe_by_key);
	tcase_add_test(tc, escalation_and_deescalation);
	tcase_add_test(tc, resolve_to_history);
	tcase_add_test(tc, history_by_count_and_age);
	tcase_add_test(tc, history_zero_keeps_resolved_until_next_call);
	tcase_add_test(tc, ids_never_reused_after_seeding);
	tcase_add_test(tc, listing_in_id_order);
	tcase_add_test(tc, event_carries_abi_1_1_fields);
	tcase_add_test(tc, policy_checked);
	suite_add_tcase(s, tc);

	tc = tcase_create("flapping");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, flapping_starts_above_high_exactly);
	tcase_add_test(tc, flapping_ends_at_low_exactly);
	tcase_add_test(tc, flapping_decays_with_time);
	tcase_add_test(tc, flap_state_bounded);
	tcase_add_test(tc, flap_detection_turned_off);
	tcase_add_test(tc, legacy_apply_reports_primary_only);
	suite_add_tcase(s, tc);

	tc = tcase_create("reminders and commands");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, repeats_at_the_interval);
	tcase_add_test(tc, no_repeats_by_policy);
	tcase_add_test(tc, ack_stops_repeats);
	tcase_add_test(tc, silences_pause_repeats);
	tcase_add_test(tc, manual_resolve);
	tcase_add_test(tc, many_open_incidents);
	tcase_add_test(tc, escalate_when_remediation_runs_out);
	suite_add_tcase(s, tc);

	tc = tcase_create("journal");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, encode_decode_round_trip);
	tcase_add_test(tc, decode_refuses_garbage);
	tcase_add_test(tc, restore_from_journal);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(incident_suite());
}
