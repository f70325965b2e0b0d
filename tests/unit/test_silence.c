/*
 * test_silence.c - silences (their matcher, time windows, the INI form and
 * the journal's encoding) and per-sink routing (min_severity, match,
 * dedupe per (key, severity), send_resolved, silenced and flapping
 * incidents), all with the clock passed in.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "proto.h"
#include "route.h"
#include "silence.h"
#include "unit.h"
#include "util.h"

#define S(t) ((vigil_time_ns)(t) * VIGIL_SEC)
#define MIN(t) S((t) * 60)

/* 2025-06-01T00:00:00Z */
#define JUNE1 S(1748736000)

static const struct vigil_label disk_labels[] = {
	{"instance", "sda1"}, {"mount", "/"}};
static const struct vigil_label wifi_labels[] = {{"interface", "wlan0"}};

/* ------------------------------------------------------ matcher */

static int matches(const char *expr, const char *key, const char *type,
		   const struct vigil_label *l, size_t n)
{
	struct vigil_silence_match m;
	char why[256];
	int hit;

	ck_assert_msg(vigil_silence_match_parse(expr, &m, why, sizeof(why)) ==
			      0,
		      "'%s': %s", expr, why);
	hit = vigil_silence_match_test(&m, key, type, l, n);
	vigil_silence_match_free(&m);
	return hit;
}

START_TEST(matcher_terms)
{
	/* type and label */
	ck_assert(matches("type=disk_full instance=sda1", "disk{mount=/}",
			  "disk_full", disk_labels, 2));
	ck_assert(!matches("type=disk_full instance=sdb1", "disk{mount=/}",
			   "disk_full", disk_labels, 2));
	ck_assert(!matches("type=disk_full instance=sda1", "x", "cpu_hot",
			   disk_labels, 2));
	/* key globs, braces taken literally in the key */
	ck_assert(matches("key=cpu_temp*", "cpu_temp{zone=0}", "t", NULL, 0));
	ck_assert(!matches("key=cpu_temp*", "gpu_temp", "cpu_temp", NULL, 0));
	ck_assert(matches("key=disk{mount=/}", "disk{mount=/}", "t", NULL, 0));
	/* labels in braces, several, blanks allowed inside */
	ck_assert(matches("{interface=wlan0}", "net", "t", wifi_labels, 1));
	ck_assert(!matches("{interface=wlan0}", "net", "t", disk_labels, 2));
	ck_assert(matches("{ mount=/ , instance=sda* }", "k", "t",
			  disk_labels, 2));
	ck_assert(!matches("{mount=/,instance=sdb*}", "k", "t", disk_labels,
			   2));
	/* a label the incident lacks never matches */
	ck_assert(!matches("zone=*", "k", "t", disk_labels, 2));
	/* a label named type, in braces */
	{
		const struct vigil_label l[] = {{"type", "ups"}};
		ck_assert(matches("{type=ups}", "k", "battery", l, 1));
		ck_assert(!matches("type=ups", "k", "battery", l, 1));
	}
	/* everything, on purpose */
	ck_assert(matches("key=*", "anything", "at all", NULL, 0));
	/* all terms must match */
	ck_assert(!matches("key=disk* type=cpu*", "disk", "disk", NULL, 0));
	/* an empty label value */
	{
		const struct vigil_label l[] = {{"note", ""}};
		ck_assert(matches("{note=}", "k", "t", l, 1));
	}
}
END_TEST

/* The message for a bad expression names what was found and expected. */
static void bad(const char *expr, const char *found, const char *expected)
{
	struct vigil_silence_match m;
	char why[256] = "";

	ck_assert_int_eq(vigil_silence_match_parse(expr, &m, why, sizeof(why)),
			 -EINVAL);
	ck_assert_msg(strstr(why, found) && strstr(why, expected),
		      "'%s': '%s' lacks '%s' or '%s'", expr, why, found,
		      expected);
	ck_assert_ptr_null(m.key);
	ck_assert_uint_eq(m.labels.n_terms, 0);
}

START_TEST(matcher_errors)
{
	bad("", "empty matcher", "expected key=GLOB");
	bad("   ", "empty matcher", "key=* matches everything");
	bad("disk_full", "'disk_full' is not a term",
	    "expected key=GLOB, type=GLOB, LABEL=VALUE or {LABEL=VALUE,...}");
	bad("type=x =x", "'=x' has no name", "expected key=GLOB");
	bad("key=", "'key=' has nothing after '='", "key=cpu_temp*");
	bad("type=", "'type=' has nothing after '='", "type=disk_full");
	bad("key=a* key=b*", "key= given twice", "'key=b*'");
	bad("foo.bar=1", "'foo.bar' in 'foo.bar=1' is not a label name",
	    "letters, digits");
	bad("{interface=wlan0", "has no closing '}'", "{LABEL=VALUE,...}");
	bad("{}", "'{}' is empty", "{LABEL=VALUE,...}");
	bad("{ }", "'{ }' is empty", "{LABEL=VALUE,...}");
	bad("{wlan0}", "'{wlan0}' is not a term", "LABEL=VALUE");
	bad("{a=1}x", "'x' right after '{a=1}'", "separated by blanks");
	bad("key=* {a.b=1}", "'a.b' in '{a.b=1}'", "not a label name");
}
END_TEST

/* ------------------------------------------------------ times */

START_TEST(parse_times)
{
	vigil_time_ns t;
	char why[256];

	ck_assert_int_eq(vigil_silence_parse_time("2025-06-01T00:00:00Z", 0,
						  &t, why, sizeof(why)),
			 0);
	ck_assert_int_eq(t, JUNE1);
	ck_assert_int_eq(vigil_silence_parse_time("2025-06-01 02:30+02:00", 0,
						  &t, why, sizeof(why)),
			 0);
	ck_assert_int_eq(t, JUNE1 + MIN(30));
	ck_assert_int_eq(vigil_silence_parse_time("2025-05-31T19:00:00.25-0500",
						  0, &t, why, sizeof(why)),
			 0);
	ck_assert_int_eq(t, JUNE1 + 250 * VIGIL_MSEC);
	ck_assert_int_eq(vigil_silence_parse_time("2024-02-29t12:00:00z", 0,
						  &t, why, sizeof(why)),
			 0);
	ck_assert_int_eq(t, S(1709208000));
	ck_assert_int_eq(vigil_silence_parse_time("1970-01-01T00:00:00Z", 0,
						  &t, why, sizeof(why)),
			 0);
	ck_assert_int_eq(t, 0);
	ck_assert_int_eq(vigil_silence_parse_time("now", S(77), &t, why,
						  sizeof(why)),
			 0);
	ck_assert_int_eq(t, S(77));

	ck_assert_int_eq(vigil_silence_parse_time("2025-06-01 02:00", 0, &t,
						  why, sizeof(why)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "has no time zone"));
	ck_assert_int_eq(vigil_silence_parse_time("2025-02-29T00:00Z", 0, &t,
						  why, sizeof(why)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "'2025-02-29T00:00Z' is not a time"));
	ck_assert_int_eq(vigil_silence_parse_time("tomorrow", 0, &t, why,
						  sizeof(why)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "RFC 3339"));
	ck_assert_int_eq(vigil_silence_parse_time("2025-06-01T24:00Z", 0, &t,
						  why, sizeof(why)),
			 -EINVAL);
	ck_assert_int_eq(vigil_silence_parse_time("1969-12-31T23:59:59Z", 0,
						  &t, why, sizeof(why)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "before 1970"));
	ck_assert_int_eq(vigil_silence_parse_time("2025-06-01T00:00Zjunk", 0,
						  &t, why, sizeof(why)),
			 -EINVAL);
}
END_TEST

/* ------------------------------------------------------ the set */

START_TEST(windows_and_expiry)
{
	struct vigil_silences set;
	const struct vigil_silence *s;
	uint64_t a, b;
	char why[256];

	vigil_silences_init(&set);
	ck_assert_int_eq(vigil_silences_add(&set, "type=disk_full", S(100),
					    S(200), "swap disk", "ops", S(50),
					    &a, why, sizeof(why)),
			 0);
	ck_assert_int_eq(vigil_silences_add(&set, "{interface=wlan0}", 0,
					    S(300), NULL, NULL, S(50), &b,
					    why, sizeof(why)),
			 0);
	ck_assert_uint_eq(a, 1);
	ck_assert_uint_eq(b, 2);
	s = vigil_silences_get(&set, b);
	ck_assert_int_eq(s->start, S(50)); /* 0: from now */
	ck_assert_str_eq(s->expr, "{interface=wlan0}");
	ck_assert_ptr_null(s->comment);
	ck_assert_str_eq(vigil_silences_get(&set, a)->creator, "ops");

	/* [start, end) */
	ck_assert_ptr_null(vigil_silences_match(&set, "k", "disk_full",
						disk_labels, 2, S(99)));
	ck_assert_ptr_eq(vigil_silences_match(&set, "k", "disk_full",
					      disk_labels, 2, S(100)),
			 vigil_silences_get(&set, a));
	ck_assert_ptr_nonnull(vigil_silences_match(&set, "k", "disk_full",
						   disk_labels, 2,
						   S(200) - 1));
	ck_assert_ptr_null(vigil_silences_match(&set, "k", "disk_full",
						disk_labels, 2, S(200)));
	ck_assert_ptr_eq(vigil_silences_match(&set, "net", "link_down",
					      wifi_labels, 1, S(60)),
			 vigil_silences_get(&set, b));
	ck_assert_ptr_null(vigil_silences_match(&set, "net", "link_down",
						disk_labels, 2, S(60)));

	ck_assert_int_eq(vigil_silences_next_change(&set, S(50)), S(100));
	ck_assert_int_eq(vigil_silences_next_change(&set, S(100)), S(200));
	ck_assert_int_eq(vigil_silences_next_change(&set, S(250)), S(300));
	ck_assert_int_eq(vigil_silences_next_change(&set, S(300)), 0);

	ck_assert_uint_eq(vigil_silences_expire(&set, S(199)), 0);
	ck_assert_uint_eq(vigil_silences_expire(&set, S(200)), 1);
	ck_assert_uint_eq(set.n, 1);
	ck_assert_ptr_null(vigil_silences_get(&set, a));

	/* Removal, and ids never reused, even after seeding lower. */
	ck_assert_int_eq(vigil_silences_remove(&set, b), 0);
	ck_assert_int_eq(vigil_silences_remove(&set, b), -ENOENT);
	vigil_silences_seed(&set, 1);
	ck_assert_int_eq(vigil_silences_add(&set, "key=*", 0, S(400), NULL,
					    NULL, S(300), &a, why,
					    sizeof(why)),
			 0);
	ck_assert_uint_eq(a, 3);
	vigil_silences_seed(&set, 40);
	vigil_silences_add(&set, "key=*", 0, S(400), NULL, NULL, S(300), &a,
			   why, sizeof(why));
	ck_assert_uint_eq(a, 40);

	/* Refused: a bad matcher, an end before the start. */
	ck_assert_int_eq(vigil_silences_add(&set, "nonsense", 0, S(400), NULL,
					    NULL, S(300), &a, why,
					    sizeof(why)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "'nonsense' is not a term"));
	ck_assert_int_eq(vigil_silences_add(&set, "key=*", S(500), S(400),
					    NULL, NULL, S(300), &a, why,
					    sizeof(why)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "end before it starts"));
	ck_assert_uint_eq(set.n, 2);
	ck_assert_uint_eq(set.next_id, 41);
	vigil_silences_free(&set);
}
END_TEST

/* ------------------------------------------------------ INI */

START_TEST(from_ini)
{
	struct vigil_silences set;
	struct vigil_silence_ini ini = {
		.name = "maint", .match = "type=disk_full instance=sda1",
		.start = "2025-06-01T00:00:00Z", .duration = "2h",
		.comment = "disk swap"};
	const struct vigil_silence *s;
	const char *bad_key = "x";
	uint64_t id, id2;
	char why[256];

	vigil_silences_init(&set);
	ck_assert_int_eq(vigil_silence_from_ini(&set, &ini, JUNE1 - MIN(5),
						&id, &bad_key, why,
						sizeof(why)),
			 0);
	ck_assert_ptr_null(bad_key);
	ck_assert_uint_eq(id, 1);
	s = vigil_silences_find_name(&set, "maint");
	ck_assert_ptr_eq(s, vigil_silences_get(&set, id));
	ck_assert_int_eq(s->start, JUNE1);
	ck_assert_int_eq(s->end, JUNE1 + MIN(120));
	ck_assert_str_eq(s->creator, "config");
	ck_assert_str_eq(s->comment, "disk swap");
	ck_assert_ptr_nonnull(vigil_silences_match(&set, "k", "disk_full",
						   disk_labels, 2,
						   JUNE1 + MIN(1)));

	/* A reload: replaced, same id. Without start: from now. */
	ini.start = NULL;
	ini.duration = NULL;
	ini.end = "2025-06-01T03:00:00Z";
	ck_assert_int_eq(vigil_silence_from_ini(&set, &ini, JUNE1, &id2,
						&bad_key, why, sizeof(why)),
			 0);
	ck_assert_uint_eq(id2, id);
	ck_assert_uint_eq(set.n, 1);
	s = vigil_silences_get(&set, id);
	ck_assert_int_eq(s->start, JUNE1);
	ck_assert_int_eq(s->end, JUNE1 + MIN(180));

	/* Over already: not added (and the old one of the name goes). */
	ck_assert_int_eq(vigil_silence_from_ini(&set, &ini, JUNE1 + MIN(180),
						&id2, &bad_key, why,
						sizeof(why)),
			 0);
	ck_assert_uint_eq(id2, 0);
	ck_assert_uint_eq(set.n, 0);

	/* Errors name their key. */
	ini.match = "disk_full";
	ck_assert_int_eq(vigil_silence_from_ini(&set, &ini, JUNE1, &id2,
						&bad_key, why, sizeof(why)),
			 -EINVAL);
	ck_assert_str_eq(bad_key, "match");
	ck_assert_ptr_nonnull(strstr(why, "'disk_full' is not a term"));
	ini.match = "key=*";
	ini.start = "soon";
	ck_assert_int_eq(vigil_silence_from_ini(&set, &ini, JUNE1, &id2,
						&bad_key, why, sizeof(why)),
			 -EINVAL);
	ck_assert_str_eq(bad_key, "start");
	ini.start = "2025-06-01T04:00:00Z";
	ck_assert_int_eq(vigil_silence_from_ini(&set, &ini, JUNE1, &id2,
						&bad_key, why, sizeof(why)),
			 -EINVAL);
	ck_assert_str_eq(bad_key, "end");
	ck_assert_ptr_nonnull(strstr(why, "end before it starts"));
	ini.start = NULL;
	ini.end = NULL;
	ini.duration = "soon";
	ck_assert_int_eq(vigil_silence_from_ini(&set, &ini, JUNE1, &id2,
						&bad_key, why, sizeof(why)),
			 -EINVAL);
	ck_assert_str_eq(bad_key, "duration");
	ck_assert_ptr_nonnull(strstr(why, "not a duration"));
	ini.duration = "0";
	ck_assert_int_eq(vigil_silence_from_ini(&set, &ini, JUNE1, &id2,
						&bad_key, why, sizeof(why)),
			 -EINVAL);
	ck_assert_str_eq(bad_key, "duration");
	ini.end = "2025-06-01T04:00:00Z";
	ck_assert_int_eq(vigil_silence_from_ini(&set, &ini, JUNE1, &id2,
						&bad_key, why, sizeof(why)),
			 -EINVAL);
	ck_assert_str_eq(bad_key, "duration");
	ck_assert_ptr_nonnull(strstr(why, "only one of end"));
	ini.end = ini.duration = NULL;
	ck_assert_int_eq(vigil_silence_from_ini(&set, &ini, JUNE1, &id2,
						&bad_key, why, sizeof(why)),
			 -EINVAL);
	ck_assert_ptr_null(bad_key); /* the section's fault */
	ck_assert_ptr_nonnull(strstr(why, "either end"));
	ini.match = NULL;
	ini.duration = "1h";
	ck_assert_int_eq(vigil_silence_from_ini(&set, &ini, JUNE1, &id2,
						&bad_key, why, sizeof(why)),
			 -EINVAL);
	ck_assert_ptr_null(bad_key);
	ck_assert_ptr_nonnull(strstr(why, "needs match"));
	ck_assert_uint_eq(set.n, 0);
	vigil_silences_free(&set);
}
END_TEST

/* ------------------------------------------------------ journal */

START_TEST(silence_round_trip_and_garbage)
{
	struct vigil_silences set, set2;
	struct vigil_wire w = {0};
	struct vigil_wire_reader r;
	struct vigil_frame f = {0};
	struct vigil_silence *out;
	uint64_t id;
	char why[256];
	size_t len;

	vigil_silences_init(&set);
	vigil_silences_seed(&set, 7);
	ck_assert_int_eq(vigil_silences_add(&set, "key=cpu* {zone=0}", S(10),
					    S(20), "hot day", "ops", S(5), &id,
					    why, sizeof(why)),
			 0);
	vigil_wire_begin(&w, VIGIL_MSG_REPLY, 0);
	vigil_silence_encode(vigil_silences_get(&set, id), &w);
	f.payload = (const uint8_t *)w.b.data + VIGIL_FRAME_HEADER;
	len = w.b.len - VIGIL_FRAME_HEADER;
	f.length = (uint32_t)len;
	vigil_wire_reader_init(&r, &f);
	out = vigil_silence_decode(&r);
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(r.err, 0);
	vigil_wire_reader_free(&r);
	ck_assert_uint_eq(out->id, 7);
	ck_assert_ptr_null(out->name);
	ck_assert_str_eq(out->expr, "key=cpu* {zone=0}");
	ck_assert_int_eq(out->start, S(10));
	ck_assert_int_eq(out->end, S(20));
	ck_assert_int_eq(out->created, S(5));
	ck_assert_str_eq(out->comment, "hot day");
	ck_assert_str_eq(out->creator, "ops");
	ck_assert_str_eq(out->m.key, "cpu*");

	/* Into a new set: it matches there, and ids go on above it. */
	vigil_silences_init(&set2);
	vigil_silences_restore(&set2, out);
	ck_assert_uint_eq(set2.next_id, 8);
	{
		const struct vigil_label l[] = {{"zone", "0"}};
		ck_assert_ptr_eq(vigil_silences_match(&set2, "cpu_hot", "t", l,
						      1, S(15)),
				 out);
	}

	/* Short payloads, another version, a matcher that does not parse:
	 * refused, nothing leaked. */
	for (size_t n = 0; n < len; n++) {
		f.length = (uint32_t)n;
		vigil_wire_reader_init(&r, &f);
		ck_assert_ptr_null(vigil_silence_decode(&r));
		ck_assert_int_eq(r.err, 1);
		vigil_wire_reader_free(&r);
	}
	vigil_wire_begin(&w, VIGIL_MSG_REPLY, 0);
	vigil_wire_put_u32(&w, VIGIL_SILENCE_WIRE_VERSION + 1);
	vigil_silence_encode(out, &w);
	f.payload = (const uint8_t *)w.b.data + VIGIL_FRAME_HEADER;
	f.length = (uint32_t)(w.b.len - VIGIL_FRAME_HEADER);
	vigil_wire_reader_init(&r, &f);
	ck_assert_ptr_null(vigil_silence_decode(&r));
	vigil_wire_reader_free(&r);
	free(out->expr);
	out->expr = vigil_xstrdup("not a matcher");
	vigil_wire_begin(&w, VIGIL_MSG_REPLY, 0);
	vigil_silence_encode(out, &w);
	f.payload = (const uint8_t *)w.b.data + VIGIL_FRAME_HEADER;
	f.length = (uint32_t)(w.b.len - VIGIL_FRAME_HEADER);
	vigil_wire_reader_init(&r, &f);
	ck_assert_ptr_null(vigil_silence_decode(&r));
	ck_assert_int_eq(r.err, 1);
	vigil_wire_reader_free(&r);

	vigil_wire_free(&w);
	vigil_silences_free(&set);
	vigil_silences_free(&set2);
}
END_TEST

/* ------------------------------------------------------ routing */

static struct vigil_event ev(enum vigil_event_type type, uint64_t id,
			     const char *key, enum vigil_severity sev)
{
	struct vigil_event e = {0};

	e.type = type;
	e.incident_id = id;
	e.key = key;
	e.incident_type = "disk_full";
	e.severity = sev;
	e.status = type == VIGIL_EVENT_RESOLVED ? VIGIL_STATUS_RESOLVED :
						  VIGIL_STATUS_OPEN;
	e.labels = disk_labels;
	e.n_labels = 2;
	return e;
}

#define W VIGIL_SEV_WARNING
#define C VIGIL_SEV_CRITICAL

/* Decides and checks the verdict, showing the reason on failure. */
#define decide(rt, e, now, want)                                              \
	do {                                                                  \
		char why_[256];                                               \
		struct vigil_event e_ = (e);                                  \
		enum vigil_routing_verdict v_ =                               \
			vigil_routing_decide((rt), &e_, (now), why_,          \
					     sizeof(why_));                   \
		ck_assert_msg(v_ == (want), "%s: got %s (%s), wanted %s",     \
			      vigil_event_type_name(e_.type),                 \
			      vigil_routing_verdict_name(v_), why_,           \
			      vigil_routing_verdict_name(want));              \
	} while (0)

START_TEST(route_min_severity_and_match)
{
	struct vigil_routing_config cfg;
	struct vigil_routing rt;
	struct vigil_selector sel;
	char why[256];

	vigil_routing_config_default(&cfg);
	ck_assert_int_eq(cfg.dedupe, MIN(5));
	ck_assert_int_eq(cfg.send_resolved, 1);
	cfg.min_severity = C;
	ck_assert_int_eq(vigil_selector_parse("disk_* cpu{zone=1}", &sel, why,
					      sizeof(why)),
			 0);
	cfg.match = &sel;
	vigil_routing_init(&rt, &cfg);
	decide(&rt, ev(VIGIL_EVENT_OPENED, 1, "k1", W), S(1),
	       VIGIL_ROUTING_BELOW_MIN);
	/* Escalated to critical: now it is for this sink. */
	decide(&rt, ev(VIGIL_EVENT_ESCALATED, 1, "k1", C), S(2),
	       VIGIL_ROUTING_DELIVER);
	/* Matched by type here (disk_full), not by key. */
	{
		struct vigil_event e = ev(VIGIL_EVENT_OPENED, 2, "k2", C);
		e.incident_type = "cpu_hot";
		decide(&rt, e, S(3), VIGIL_ROUTING_NO_MATCH);
		e.incident_type = "cpu";
		decide(&rt, e, S(3), VIGIL_ROUTING_NO_MATCH); /* zone */
		e.incident_id = 3;
		e.key = "disk_io";
		decide(&rt, e, S(3), VIGIL_ROUTING_DELIVER);
	}
	/* A de-escalation goes to who was told, below min_severity too. */
	decide(&rt, ev(VIGIL_EVENT_DEESCALATED, 1, "k1", W), S(4),
	       VIGIL_ROUTING_DELIVER);
	decide(&rt, ev(VIGIL_EVENT_DEESCALATED, 1, "k1", VIGIL_SEV_INFO),
	       S(4), VIGIL_ROUTING_DELIVER);
	decide(&rt, ev(VIGIL_EVENT_DEESCALATED, 2, "k2", W), S(4),
	       VIGIL_ROUTING_NOT_TOLD);
	/* HEALTH: filters only. */
	decide(&rt, ev(VIGIL_EVENT_HEALTH, 0, "health", VIGIL_SEV_INFO), S(5),
	       VIGIL_ROUTING_BELOW_MIN);
	vigil_routing_free(&rt);
	vigil_selector_free(&sel);
}
END_TEST

START_TEST(route_dedupe_per_key_and_severity)
{
	struct vigil_routing_config cfg;
	struct vigil_routing rt;
	struct vigil_event e;
	char why[256];

	vigil_routing_config_default(&cfg);
	cfg.send_resolved = 0;
	vigil_routing_init(&rt, &cfg);
	decide(&rt, ev(VIGIL_EVENT_OPENED, 1, "k", W), S(100),
	       VIGIL_ROUTING_DELIVER);
	/* Resolved (not sent: send_resolved = no) and reopened within 5m:
	 * the sink still believes k is a warning. */
	decide(&rt, ev(VIGIL_EVENT_RESOLVED, 1, "k", W), S(110),
	       VIGIL_ROUTING_NO_RESOLVED);
	decide(&rt, ev(VIGIL_EVENT_OPENED, 2, "k", W), S(120),
	       VIGIL_ROUTING_DEDUPED);
	e = ev(VIGIL_EVENT_REPEAT, 2, "k", W);
	ck_assert_int_eq(vigil_routing_decide(&rt, &e, S(130), why,
					      sizeof(why)),
			 VIGIL_ROUTING_DEDUPED);
	ck_assert_str_eq(why, "k warning was sent 30s ago (dedupe 5m)");
	/* Another severity of the key is another notification... */
	decide(&rt, ev(VIGIL_EVENT_ESCALATED, 2, "k", C), S(140),
	       VIGIL_ROUTING_DELIVER);
	/* ...and another key another. */
	decide(&rt, ev(VIGIL_EVENT_OPENED, 3, "other", W), S(140),
	       VIGIL_ROUTING_DELIVER);
	/* Told k went down to warning: critical is news again at once. The
	 * warning's window still runs from the one sent at 100. */
	decide(&rt, ev(VIGIL_EVENT_DEESCALATED, 2, "k", W), S(200),
	       VIGIL_ROUTING_DELIVER);
	decide(&rt, ev(VIGIL_EVENT_REPEAT, 2, "k", W), S(399),
	       VIGIL_ROUTING_DEDUPED);
	decide(&rt, ev(VIGIL_EVENT_REPEAT, 2, "k", W), S(400),
	       VIGIL_ROUTING_DELIVER);
	decide(&rt, ev(VIGIL_EVENT_REPEAT, 2, "k", W), S(401),
	       VIGIL_ROUTING_DEDUPED);
	decide(&rt, ev(VIGIL_EVENT_ESCALATED, 2, "k", C), S(402),
	       VIGIL_ROUTING_DELIVER);
	decide(&rt, ev(VIGIL_EVENT_REPEAT, 3, "other", W), S(439),
	       VIGIL_ROUTING_DEDUPED);
	decide(&rt, ev(VIGIL_EVENT_REPEAT, 3, "other", W), S(440),
	       VIGIL_ROUTING_DELIVER);
	/* Remediation failing is news, always. */
	decide(&rt, ev(VIGIL_EVENT_REMEDIATION_FAILED, 2, "k", C), S(441),
	       VIGIL_ROUTING_DELIVER);
	/* Memory: entries older than the window go (k: warning at 400,
	 * critical at 441; other: warning at 440). */
	ck_assert_uint_eq(rt.n_keys, 2);
	vigil_routing_expire(&rt, S(700));
	ck_assert_uint_eq(rt.n_keys, 2);
	vigil_routing_expire(&rt, S(740));
	ck_assert_uint_eq(rt.n_keys, 1);
	vigil_routing_expire(&rt, S(741));
	ck_assert_uint_eq(rt.n_keys, 0);
	vigil_routing_free(&rt);
}
END_TEST

START_TEST(route_send_resolved)
{
	struct vigil_routing_config cfg;
	struct vigil_routing rt;

	vigil_routing_config_default(&cfg);
	cfg.min_severity = C;
	vigil_routing_init(&rt, &cfg);
	/* Never told (below min): its resolution is not for this sink. */
	decide(&rt, ev(VIGIL_EVENT_OPENED, 1, "k", W), S(1),
	       VIGIL_ROUTING_BELOW_MIN);
	decide(&rt, ev(VIGIL_EVENT_RESOLVED, 1, "k", W), S(2),
	       VIGIL_ROUTING_NOT_TOLD);
	/* Told: the resolution goes, once. */
	decide(&rt, ev(VIGIL_EVENT_OPENED, 2, "k", C), S(3),
	       VIGIL_ROUTING_DELIVER);
	decide(&rt, ev(VIGIL_EVENT_ACTION, 2, "k", C), S(3),
	       VIGIL_ROUTING_DELIVER);
	decide(&rt, ev(VIGIL_EVENT_RESOLVED, 2, "k", C), S(4),
	       VIGIL_ROUTING_DELIVER);
	decide(&rt, ev(VIGIL_EVENT_RESOLVED, 2, "k", C), S(4),
	       VIGIL_ROUTING_NOT_TOLD);
	ck_assert_uint_eq(rt.n_told, 0);
	/* The sink knows k cleared: a reopening is news, within 5m. */
	decide(&rt, ev(VIGIL_EVENT_OPENED, 3, "k", C), S(5),
	       VIGIL_ROUTING_DELIVER);
	vigil_routing_free(&rt);
}
END_TEST

START_TEST(route_silenced_and_flapping)
{
	struct vigil_routing_config cfg;
	struct vigil_routing rt;
	struct vigil_event e;

	vigil_routing_config_default(&cfg);
	vigil_routing_init(&rt, &cfg);

	/* Silenced from the start: nothing, not even its resolution. */
	e = ev(VIGIL_EVENT_OPENED, 1, "a", C);
	e.silenced = 1;
	decide(&rt, e, S(1), VIGIL_ROUTING_SILENCED);
	e.type = VIGIL_EVENT_ACKNOWLEDGED;
	decide(&rt, e, S(2), VIGIL_ROUTING_NOT_TOLD);
	e.type = VIGIL_EVENT_RESOLVED;
	e.status = VIGIL_STATUS_RESOLVED;
	decide(&rt, e, S(3), VIGIL_ROUTING_NOT_TOLD);

	/* Silenced after it was told: updates held, resolution told. */
	decide(&rt, ev(VIGIL_EVENT_OPENED, 2, "b", C), S(1),
	       VIGIL_ROUTING_DELIVER);
	e = ev(VIGIL_EVENT_REPEAT, 2, "b", C);
	e.silenced = 1;
	decide(&rt, e, MIN(60), VIGIL_ROUTING_SILENCED);
	e.type = VIGIL_EVENT_ACKNOWLEDGED;
	decide(&rt, e, MIN(61), VIGIL_ROUTING_SILENCED);
	e.type = VIGIL_EVENT_RESOLVED;
	e.status = VIGIL_STATUS_RESOLVED;
	decide(&rt, e, MIN(62), VIGIL_ROUTING_DELIVER);

	/* Flapping: told once that it starts; openings and resolutions of
	 * incidents it was never told of are held; the end is told. */
	decide(&rt, ev(VIGIL_EVENT_OPENED, 3, "f", W), S(1),
	       VIGIL_ROUTING_DELIVER);
	e = ev(VIGIL_EVENT_RESOLVED, 3, "f", W);
	e.flapping = 1;
	decide(&rt, e, S(2), VIGIL_ROUTING_DELIVER); /* it knew of #3 */
	e.type = VIGIL_EVENT_FLAPPING_START;
	decide(&rt, e, S(2), VIGIL_ROUTING_DELIVER);
	decide(&rt, e, S(2), VIGIL_ROUTING_ALREADY);
	e = ev(VIGIL_EVENT_OPENED, 4, "f", W);
	e.flapping = 1;
	decide(&rt, e, S(3), VIGIL_ROUTING_FLAPPING);
	e.type = VIGIL_EVENT_ESCALATED;
	e.severity = C;
	decide(&rt, e, S(3), VIGIL_ROUTING_FLAPPING);
	e.type = VIGIL_EVENT_RESOLVED;
	e.status = VIGIL_STATUS_RESOLVED;
	decide(&rt, e, S(4), VIGIL_ROUTING_NOT_TOLD);
	e = ev(VIGIL_EVENT_OPENED, 5, "f", C);
	e.flapping = 1;
	decide(&rt, e, S(5), VIGIL_ROUTING_FLAPPING);
	/* Flapping ends with #5 open: the sink hears of it now... */
	e.type = VIGIL_EVENT_FLAPPING_END;
	e.flapping = 0;
	decide(&rt, e, S(6), VIGIL_ROUTING_DELIVER);
	decide(&rt, e, S(6), VIGIL_ROUTING_NOT_TOLD);
	/* ...so it hears of its resolution too. */
	decide(&rt, ev(VIGIL_EVENT_RESOLVED, 5, "f", C), S(7),
	       VIGIL_ROUTING_DELIVER);
	ck_assert_uint_eq(rt.n_told, 0);
	vigil_routing_expire(&rt, MIN(100));
	ck_assert_uint_eq(rt.n_keys, 0);
	vigil_routing_free(&rt);
}
END_TEST

START_TEST(route_updates_once)
{
	struct vigil_routing_config cfg;
	struct vigil_routing rt;
	struct vigil_event e;

	vigil_routing_config_default(&cfg);
	cfg.dedupe = 0;
	vigil_routing_init(&rt, &cfg);
	decide(&rt, ev(VIGIL_EVENT_OPENED, 1, "k", W), S(1),
	       VIGIL_ROUTING_DELIVER);
	/* No dedupe: every notification goes. */
	decide(&rt, ev(VIGIL_EVENT_REPEAT, 1, "k", W), S(2),
	       VIGIL_ROUTING_DELIVER);
	ck_assert_uint_eq(rt.n_keys, 0);
	e = ev(VIGIL_EVENT_ACKNOWLEDGED, 1, "k", W);
	e.time = S(3);
	decide(&rt, e, S(3), VIGIL_ROUTING_DELIVER);
	decide(&rt, e, S(3), VIGIL_ROUTING_ALREADY);
	/* A de-escalation it already knows of. */
	decide(&rt, ev(VIGIL_EVENT_DEESCALATED, 1, "k", W), S(4),
	       VIGIL_ROUTING_ALREADY);
	/* Acknowledged again later (after an escalation took it back). */
	decide(&rt, ev(VIGIL_EVENT_ESCALATED, 1, "k", C), S(5),
	       VIGIL_ROUTING_DELIVER);
	e.time = S(6);
	decide(&rt, e, S(6), VIGIL_ROUTING_DELIVER);
	vigil_routing_free(&rt);
}
END_TEST

START_TEST(route_adopt_after_restart)
{
	struct vigil_routing_config cfg;
	struct vigil_routing rt;
	struct vigil_event e;

	vigil_routing_config_default(&cfg);
	cfg.min_severity = C;
	vigil_routing_init(&rt, &cfg);
	e = ev(VIGIL_EVENT_OPENED, 1, "k", W);
	ck_assert_int_eq(vigil_routing_adopt(&rt, &e), 0); /* below min */
	e = ev(VIGIL_EVENT_OPENED, 2, "f", C);
	e.silenced = 1;
	ck_assert_int_eq(vigil_routing_adopt(&rt, &e), 0);
	e.silenced = 0;
	e.flapping = 1;
	ck_assert_int_eq(vigil_routing_adopt(&rt, &e), 1);
	decide(&rt, ev(VIGIL_EVENT_RESOLVED, 1, "k", W), S(1),
	       VIGIL_ROUTING_NOT_TOLD);
	e.type = VIGIL_EVENT_FLAPPING_END;
	e.flapping = 0;
	decide(&rt, e, S(2), VIGIL_ROUTING_DELIVER);
	decide(&rt, ev(VIGIL_EVENT_RESOLVED, 2, "f", C), S(3),
	       VIGIL_ROUTING_DELIVER);
	vigil_routing_free(&rt);
}
END_TEST

START_TEST(route_memory_bounded)
{
	struct vigil_routing_config cfg;
	struct vigil_routing rt;
	char key[16];

	vigil_routing_config_default(&cfg);
	vigil_routing_init(&rt, &cfg);
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		decide(&rt, ev(VIGIL_EVENT_OPENED, (uint64_t)i + 1, key, W),
		       S(i), VIGIL_ROUTING_DELIVER);
		decide(&rt, ev(VIGIL_EVENT_RESOLVED, (uint64_t)i + 1, key, W),
		       S(i), VIGIL_ROUTING_DELIVER);
	}
	ck_assert_uint_eq(rt.n_told, 0);
	/* Swept once a window by decide itself. */
	ck_assert_uint_le(rt.n_keys, 2 * 300);
	decide(&rt, ev(VIGIL_EVENT_OPENED, 5000, "last", W), S(5000),
	       VIGIL_ROUTING_DELIVER);
	ck_assert_uint_eq(rt.n_keys, 1);
	vigil_routing_free(&rt);
}
END_TEST

static Suite *silence_suite(void)
{
	Suite *s = suite_create("silence");
	TCase *tc;

	tc = tcase_create("silences");
	tcase_add_test(tc, matcher_terms);
	tcase_add_test(tc, matcher_errors);
	tcase_add_test(tc, parse_times);
	tcase_add_test(tc, windows_and_expiry);
	tcase_add_test(tc, from_ini);
	tcase_add_test(tc, silence_round_trip_and_garbage);
	suite_add_tcase(s, tc);

	tc = tcase_create("routing");
	tcase_add_test(tc, route_min_severity_and_match);
	tcase_add_test(tc, route_dedupe_per_key_and_severity);
	tcase_add_test(tc, route_send_resolved);
	tcase_add_test(tc, route_silenced_and_flapping);
	tcase_add_test(tc, route_updates_once);
	tcase_add_test(tc, route_adopt_after_restart);
	tcase_add_test(tc, route_memory_bounded);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(silence_suite());
}
