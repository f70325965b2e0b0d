/*
 * test_pipeline.c - the core's data path without a daemon: series
 * interning and routing, the bounded reading ring, the incident manager
 * (with its clock passed in), and the sinks' redelivery queue. Rules and
 * sinks here are instances built by hand around descriptors defined below.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "incident.h"
#include "instance.h"
#include "log.h"
#include "pipeline.h"
#include "series.h"
#include "unit.h"
#include "util.h"
#include "worker.h"

/* ------------------------------------------------------ test instances */

/* A rule that records what it is given. */
struct caprule {
	struct vigil_instance inst;
	char section[32];
	size_t n;
	double values[64];
	uint64_t series[64];
	unsigned seen_in_slot[64]; /* readings of that series so far */
};

static int caprule_eval(void *state, struct vigil_ctx *ctx,
			const struct vigil_reading *r, void **slot)
{
	struct caprule *c = state;
	unsigned *count = *slot;

	if (!count)
		*slot = count = vigil_xcalloc(1, sizeof(*count));
	++*count;
	ck_assert_uint_lt(c->n, VIGIL_ARRAY_SIZE(c->values));
	c->values[c->n] = r->value;
	c->series[c->n] = r->series_id;
	c->seen_in_slot[c->n] = *count;
	c->n++;
	return 0;
}

static int never_init(struct vigil_ctx *ctx, const struct vigil_host *host,
		      void **state)
{
	return -ENOSYS; /* instances here are started by hand */
}

static const struct vigil_plugin caprule_desc = {
	VIGIL_PLUGIN_HEADER(VIGIL_KIND_RULE, "caprule", "0"),
	.init = never_init,
	.eval = caprule_eval,
};

static void caprule_init(struct caprule *c, const char *name,
			 const char *match)
{
	char why[256];

	memset(c, 0, sizeof(*c));
	snprintf(c->section, sizeof(c->section), "rule.%s", name);
	c->inst.kind = VIGIL_KIND_RULE;
	c->inst.section = c->section;
	c->inst.name = c->section + 5;
	c->inst.desc = &caprule_desc;
	c->inst.ctx.inst = &c->inst;
	c->inst.state = c;
	c->inst.started = 1;
	ck_assert_msg(vigil_selector_parse(match, &c->inst.match, why,
					   sizeof(why)) == 0,
		      "%s", why);
}

/* A sink that records what it is given and fails on request. */
struct capsink {
	struct vigil_instance inst;
	char section[32];
	int fail; /* attempts still to fail; -1: fail every one */
	unsigned fail_on_attempt; /* this attempt (1-based) fails too */
	unsigned attempts;
	size_t n;
	struct {
		enum vigil_event_type type;
		uint64_t id;
		char key[64];
		enum vigil_severity severity, previous;
		uint32_t occurrences;
	} ev[64];
	size_t n_written, n_batches;
	double written[64];
};

static int capsink_deliver(void *state, struct vigil_ctx *ctx,
			   const struct vigil_event *ev)
{
	struct capsink *c = state;

	c->attempts++;
	if (c->attempts == c->fail_on_attempt)
		return -ETIMEDOUT;
	if (c->fail) {
		if (c->fail > 0)
			c->fail--;
		return -ECONNREFUSED;
	}
	if (c->n < VIGIL_ARRAY_SIZE(c->ev)) {
		c->ev[c->n].type = ev->type;
		c->ev[c->n].id = ev->incident_id;
		snprintf(c->ev[c->n].key, sizeof(c->ev[c->n].key), "%s",
			 ev->key);
		c->ev[c->n].severity = ev->severity;
		c->ev[c->n].previous = ev->previous_severity;
		c->ev[c->n].occurrences = ev->occurrences;
	}
	c->n++;
	return 0;
}

static int capsink_write(void *state, struct vigil_ctx *ctx,
			 const struct vigil_reading *r, size_t n)
{
	struct capsink *c = state;

	c->n_batches++;
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_lt(c->n_written, VIGIL_ARRAY_SIZE(c->written));
		c->written[c->n_written++] = r[i].value;
	}
	return 0;
}

static const struct vigil_plugin capsink_desc = {
	VIGIL_PLUGIN_HEADER(VIGIL_KIND_SINK, "capsink", "0"),
	.init = never_init,
	.deliver = capsink_deliver,
	.write = capsink_write,
};

/* Takes events only: no write callback. */
static const struct vigil_plugin capsink_events_desc = {
	VIGIL_PLUGIN_HEADER(VIGIL_KIND_SINK, "capsink_events", "0"),
	.init = never_init,
	.deliver = capsink_deliver,
};

/* `metrics_match` NULL: metrics = no. */
static void capsink_init(struct capsink *c, const char *name,
			 const struct vigil_plugin *desc,
			 const char *metrics_match)
{
	char why[256];

	memset(c, 0, sizeof(*c));
	snprintf(c->section, sizeof(c->section), "sink.%s", name);
	c->inst.kind = VIGIL_KIND_SINK;
	c->inst.section = c->section;
	c->inst.name = c->section + 5;
	c->inst.desc = desc;
	c->inst.ctx.inst = &c->inst;
	c->inst.state = c;
	c->inst.started = 1;
	c->inst.events = 1;
	c->inst.send_resolved = 1;
	c->inst.min_severity = VIGIL_SEV_INFO;
	c->inst.metrics = metrics_match != NULL;
	ck_assert_int_eq(vigil_selector_parse(metrics_match ? metrics_match :
							      "*",
					      &c->inst.match, why, sizeof(why)),
			 0);
}

static char sensor_section[] = "sensor.fake";
static char sensor2_section[] = "sensor.other";
static struct vigil_instance sensor, sensor2;
static vigil_time_ns fake_now;

static vigil_time_ns fake_clock(void)
{
	return fake_now;
}

static void setup(void)
{
	vigil_log_setup(VIGIL_LOG_TO_STDERR, VIGIL_LOG_ERR);
	memset(&sensor, 0, sizeof(sensor));
	sensor.kind = VIGIL_KIND_SENSOR;
	sensor.section = sensor_section;
	sensor.name = sensor_section + 7;
	sensor.started = 1;
	sensor2 = sensor;
	sensor2.section = sensor2_section;
	sensor2.name = sensor2_section + 7;
	fake_now = 1000 * VIGIL_SEC;
}

static int emit(struct vigil_pipeline *pl, struct vigil_instance *from,
		const char *metric, double value, const struct vigil_label *l,
		size_t n)
{
	struct vigil_reading r = {
		.metric = metric,
		.unit = "",
		.value = value,
		.labels = l,
		.n_labels = n,
	};

	return vigil_pipeline_emit.reading(pl, from, &r);
}

/* ------------------------------------------------------------- series */

static unsigned routed;

static void count_router(void *user, struct vigil_series *s)
{
	routed++;
	ck_assert_ptr_eq(user, &routed);
}

static struct vigil_series *intern(struct vigil_series_table *t,
				   struct vigil_instance *from,
				   const char *metric,
				   const struct vigil_label *l, size_t n)
{
	struct vigil_reading r = {.metric = metric, .labels = l, .n_labels = n};

	return vigil_series_intern(t, from, &r);
}

START_TEST(series_interned_once)
{
	struct vigil_series_table t;
	const struct vigil_label ab[] = {{"a", "1"}, {"b", "2"}};
	const struct vigil_label ba[] = {{"b", "2"}, {"a", "1"}};
	const struct vigil_label a1[] = {{"a", "1"}};
	const struct vigil_label b1[] = {{"a", "1"}, {"b", "1"}};
	struct vigil_series *s1, *s2;

	routed = 0;
	vigil_series_init(&t, 0, count_router, &routed);
	s1 = intern(&t, &sensor, "m", ab, 2);
	s2 = intern(&t, &sensor, "m", ba, 2);
	ck_assert_ptr_eq(s1, s2);
	ck_assert_uint_eq(s1->id, 1);
	ck_assert_uint_eq(routed, 1);
	ck_assert_uint_eq(t.count, 1);
	/* Labels kept sorted, and formatted once. */
	ck_assert_str_eq(s1->labels.v[0].key, "a");
	ck_assert_str_eq(s1->label_str, "{a=1,b=2}");
	ck_assert_str_eq(s1->metric, "m");

	/* Anything else that differs makes another series. */
	ck_assert_uint_eq(intern(&t, &sensor, "m", a1, 1)->id, 2);
	ck_assert_uint_eq(intern(&t, &sensor, "m", b1, 2)->id, 3);
	ck_assert_uint_eq(intern(&t, &sensor, "m", NULL, 0)->id, 4);
	ck_assert_uint_eq(intern(&t, &sensor, "n", ab, 2)->id, 5);
	ck_assert_uint_eq(intern(&t, &sensor2, "m", ab, 2)->id, 6);
	ck_assert_uint_eq(routed, 6);
	/* ... and each is found again. */
	ck_assert_uint_eq(intern(&t, &sensor, "m", a1, 1)->id, 2);
	ck_assert_uint_eq(intern(&t, &sensor, "m", NULL, 0)->id, 4);
	ck_assert_uint_eq(intern(&t, &sensor2, "m", ba, 2)->id, 6);
	ck_assert_uint_eq(routed, 6);
	ck_assert_str_eq(intern(&t, &sensor, "m", NULL, 0)->label_str, "");
	vigil_series_free(&t, NULL);
}
END_TEST

START_TEST(series_null_label_value_is_empty)
{
	struct vigil_series_table t;
	const struct vigil_label null_v[] = {{"a", NULL}};
	const struct vigil_label empty_v[] = {{"a", ""}};

	vigil_series_init(&t, 0, NULL, NULL);
	ck_assert_ptr_eq(intern(&t, &sensor, "m", null_v, 1),
			 intern(&t, &sensor, "m", empty_v, 1));
	ck_assert_uint_eq(t.count, 1);
	vigil_series_free(&t, NULL);
}
END_TEST

START_TEST(series_limit)
{
	struct vigil_series_table t;
	const struct vigil_label l[] = {{"n", "3"}};

	vigil_series_init(&t, 2, NULL, NULL);
	ck_assert_ptr_nonnull(intern(&t, &sensor, "a", NULL, 0));
	ck_assert_ptr_nonnull(intern(&t, &sensor, "b", NULL, 0));
	ck_assert_ptr_null(intern(&t, &sensor, "c", NULL, 0));
	ck_assert_ptr_null(intern(&t, &sensor, "a", l, 1));
	/* Known series are still found at the limit. */
	ck_assert_ptr_nonnull(intern(&t, &sensor, "a", NULL, 0));
	vigil_series_free(&t, NULL);
}
END_TEST

START_TEST(series_one_sensor_cannot_take_all)
{
	/* A sensor making a label value per reading stops at 100000 series;
	 * the table keeps 1000 more for the others (a disk mounted later). */
	struct vigil_pipeline pl;
	char value[16];
	struct vigil_label l = {"n", value};
	struct vigil_reading r = {.metric = "m", .labels = &l, .n_labels = 1};
	int rc;

	vigil_pipeline_init(&pl, 16, NULL, 0, NULL, 0, NULL, 0);
	for (size_t i = 0; i < 100005; i++) {
		snprintf(value, sizeof(value), "%zu", i);
		rc = 1;
		if (i < 100000)
			ck_assert_ptr_nonnull(
				vigil_pipeline_series(&pl, &sensor, &r, &rc));
		else
			ck_assert_ptr_null(
				vigil_pipeline_series(&pl, &sensor, &r, &rc));
	}
	ck_assert_int_eq(rc, -ENOSPC);
	ck_assert_uint_eq(sensor.n_series, 100000);
	/* Its known series still go; another sensor still gets new ones. */
	snprintf(value, sizeof(value), "7");
	ck_assert_ptr_nonnull(vigil_pipeline_series(&pl, &sensor, &r, &rc));
	for (size_t i = 0; i < 1000; i++) {
		snprintf(value, sizeof(value), "%zu", i);
		ck_assert_ptr_nonnull(
			vigil_pipeline_series(&pl, &sensor2, &r, &rc));
	}
	snprintf(value, sizeof(value), "x");
	ck_assert_ptr_null(vigil_pipeline_series(&pl, &sensor2, &r, &rc));
	ck_assert_int_eq(rc, -ENOSPC);
	vigil_pipeline_free(&pl);
}
END_TEST

START_TEST(series_survive_rehash)
{
	struct vigil_series_table t;
	char value[16];
	const size_t n = 5000; /* several doublings of 1024 buckets */

	vigil_series_init(&t, 0, NULL, NULL);
	for (size_t i = 0; i < n; i++) {
		struct vigil_label l = {"n", value};
		snprintf(value, sizeof(value), "%zu", i);
		ck_assert_uint_eq(intern(&t, &sensor, "m", &l, 1)->id, i + 1);
	}
	ck_assert_uint_gt(t.n_buckets, 1024);
	for (size_t i = 0; i < n; i++) {
		struct vigil_label l = {"n", value};
		snprintf(value, sizeof(value), "%zu", i);
		ck_assert_uint_eq(intern(&t, &sensor, "m", &l, 1)->id, i + 1);
	}
	ck_assert_uint_eq(t.count, n);
	vigil_series_free(&t, NULL);
}
END_TEST

/* ------------------------------------------------------------ routing */

START_TEST(routes_by_selector)
{
	struct vigil_pipeline pl;
	struct caprule all, root, none;
	struct vigil_instance *rules[] = {&all.inst, &root.inst, &none.inst};
	const struct vigil_label root_l[] = {{"device", "sda1"},
					     {"mount", "/"}};
	const struct vigil_label home_l[] = {{"mount", "/home"}};
	struct vigil_series *s;

	caprule_init(&all, "all", "cpu.* disk.*");
	caprule_init(&root, "root", "disk.used_percent{mount=/}");
	caprule_init(&none, "none", "net.*");
	vigil_pipeline_init(&pl, 64, rules, 3, NULL, 0, NULL, 0);

	ck_assert_int_eq(emit(&pl, &sensor, "cpu.usage", 1, NULL, 0), 0);
	ck_assert_int_eq(emit(&pl, &sensor, "disk.used_percent", 2, root_l, 2),
			 0);
	ck_assert_int_eq(emit(&pl, &sensor, "disk.used_percent", 3, home_l, 1),
			 0);
	ck_assert_int_eq(emit(&pl, &sensor, "cpu.usage", 4, NULL, 0), 0);
	ck_assert_uint_eq(pl.series.count, 3);
	vigil_pipeline_run(&pl);

	ck_assert_uint_eq(all.n, 4);
	ck_assert_double_eq(all.values[0], 1);
	ck_assert_double_eq(all.values[3], 4);
	ck_assert_uint_eq(all.series[0], all.series[3]);
	ck_assert_uint_ne(all.series[0], all.series[1]);
	/* The per-series slot persists between readings. */
	ck_assert_uint_eq(all.seen_in_slot[0], 1);
	ck_assert_uint_eq(all.seen_in_slot[3], 2);
	ck_assert_uint_eq(root.n, 1);
	ck_assert_double_eq(root.values[0], 2);
	ck_assert_uint_eq(none.n, 0);

	s = intern(&pl.series, &sensor, "disk.used_percent", root_l, 2);
	ck_assert_uint_eq(s->n_routes, 2);
	ck_assert_ptr_eq(s->routes[0].rule, &all.inst);
	ck_assert_ptr_eq(s->routes[1].rule, &root.inst);
	s = intern(&pl.series, &sensor, "disk.used_percent", home_l, 1);
	ck_assert_uint_eq(s->n_routes, 1);
	ck_assert_ptr_eq(s->routes[0].rule, &all.inst);
	ck_assert_uint_eq(pl.series.count, 3);

	vigil_pipeline_free(&pl);
	vigil_selector_free(&all.inst.match);
	vigil_selector_free(&root.inst.match);
	vigil_selector_free(&none.inst.match);
}
END_TEST

START_TEST(same_series_in_any_label_order)
{
	struct vigil_pipeline pl;
	struct caprule r;
	struct vigil_instance *rules[] = {&r.inst};
	const struct vigil_label ab[] = {{"a", "1"}, {"b", "2"}};
	const struct vigil_label ba[] = {{"b", "2"}, {"a", "1"}};

	caprule_init(&r, "r", "m{b=2}");
	vigil_pipeline_init(&pl, 64, rules, 1, NULL, 0, NULL, 0);
	emit(&pl, &sensor, "m", 1, ab, 2);
	emit(&pl, &sensor, "m", 2, ba, 2);
	vigil_pipeline_run(&pl);
	ck_assert_uint_eq(pl.series.count, 1);
	ck_assert_uint_eq(r.n, 2);
	ck_assert_uint_eq(r.series[0], r.series[1]);
	ck_assert_uint_ne(r.series[0], 0);
	ck_assert_uint_eq(r.seen_in_slot[1], 2);
	vigil_pipeline_free(&pl);
	vigil_selector_free(&r.inst.match);
}
END_TEST

START_TEST(sink_mask_by_metrics_match)
{
	struct vigil_pipeline pl;
	struct capsink every, disk, events_only, no_write;
	struct vigil_instance *sinks[] = {&every.inst, &disk.inst,
					  &events_only.inst, &no_write.inst};
	const struct vigil_label root_l[] = {{"mount", "/"}};
	const struct vigil_label boot_l[] = {{"mount", "/boot"}};
	struct vigil_series *s;

	capsink_init(&every, "every", &capsink_desc, "*");
	capsink_init(&disk, "disk", &capsink_desc, "disk.*{mount=/}");
	capsink_init(&events_only, "events", &capsink_desc, NULL);
	capsink_init(&no_write, "nowrite", &capsink_events_desc, "*");
	vigil_pipeline_init(&pl, 64, NULL, 0, sinks, 4, NULL, 0);

	emit(&pl, &sensor, "cpu.usage", 1, NULL, 0);
	emit(&pl, &sensor, "disk.used", 2, root_l, 1);
	emit(&pl, &sensor, "disk.used", 3, boot_l, 1);
	emit(&pl, &sensor, "disk.free", 4, root_l, 1);

	s = intern(&pl.series, &sensor, "cpu.usage", NULL, 0);
	ck_assert_uint_eq(s->sink_mask, 0x1);
	s = intern(&pl.series, &sensor, "disk.used", root_l, 1);
	ck_assert_uint_eq(s->sink_mask, 0x3);
	s = intern(&pl.series, &sensor, "disk.used", boot_l, 1);
	ck_assert_uint_eq(s->sink_mask, 0x1);

	vigil_pipeline_run(&pl);
	ck_assert_uint_eq(every.n_written, 4);
	ck_assert_uint_eq(every.n_batches, 1);
	ck_assert_uint_eq(disk.n_written, 2);
	ck_assert_double_eq(disk.written[0], 2);
	ck_assert_double_eq(disk.written[1], 4);
	ck_assert_uint_eq(events_only.n_written, 0);
	ck_assert_uint_eq(no_write.n_written, 0);
	ck_assert_uint_eq(events_only.n_batches, 0);

	vigil_pipeline_free(&pl);
	vigil_selector_free(&every.inst.match);
	vigil_selector_free(&disk.inst.match);
	vigil_selector_free(&events_only.inst.match);
	vigil_selector_free(&no_write.inst.match);
}
END_TEST

START_TEST(bad_readings_refused)
{
	struct vigil_pipeline pl;
	struct caprule r;
	struct vigil_instance *rules[] = {&r.inst};
	const struct vigil_label bad_key[] = {{"a b", "1"}};
	const struct vigil_label null_key[] = {{NULL, "1"}};

	caprule_init(&r, "r", "*");
	vigil_pipeline_init(&pl, 64, rules, 1, NULL, 0, NULL, 0);
	ck_assert_int_eq(emit(&pl, &sensor, "bad metric", 1, NULL, 0),
			 -EINVAL);
	ck_assert_int_eq(emit(&pl, &sensor, "", 1, NULL, 0), -EINVAL);
	ck_assert_int_eq(emit(&pl, &sensor, NULL, 1, NULL, 0), -EINVAL);
	ck_assert_int_eq(emit(&pl, &sensor, "m", 1, bad_key, 1), -EINVAL);
	ck_assert_int_eq(emit(&pl, &sensor, "m", 1, null_key, 1), -EINVAL);
	ck_assert_int_eq(emit(&pl, &sensor, "m", 1, NULL, 1), -EINVAL);
	/* Only sensors emit readings. */
	ck_assert_int_eq(emit(&pl, &r.inst, "m", 1, NULL, 0), -EPERM);
	ck_assert_uint_eq(pl.stats.readings_refused, 6);
	ck_assert_uint_eq(pl.stats.readings_in, 0);
	ck_assert_uint_eq(pl.series.count, 0);
	vigil_pipeline_run(&pl);
	ck_assert_uint_eq(r.n, 0);
	vigil_pipeline_free(&pl);
	vigil_selector_free(&r.inst.match);
}
END_TEST

START_TEST(reading_time_stamped_when_zero)
{
	struct vigil_pipeline pl;
	struct vigil_qreading *q;
	struct vigil_reading r = {.metric = "m", .value = 1};

	vigil_pipeline_init(&pl, 8, NULL, 0, NULL, 0, NULL, 0);
	pl.clock = fake_clock;
	vigil_pipeline_emit.reading(&pl, &sensor, &r);
	r.time = 5;
	vigil_pipeline_emit.reading(&pl, &sensor, &r);
	q = &pl.ring[pl.ring_head];
	ck_assert_int_eq(q[0].time, fake_now);
	ck_assert_int_eq(q[1].time, 5);
	vigil_pipeline_free(&pl);
}
END_TEST

/* --------------------------------------------------------------- ring */

START_TEST(ring_drops_oldest)
{
	struct vigil_pipeline pl;
	struct caprule r;
	struct vigil_instance *rules[] = {&r.inst};

	caprule_init(&r, "r", "m");
	vigil_pipeline_init(&pl, 4, rules, 1, NULL, 0, NULL, 0);
	for (int i = 1; i <= 6; i++)
		ck_assert_int_eq(emit(&pl, &sensor, "m", i, NULL, 0), 0);
	ck_assert_uint_eq(pl.ring_len, 4);
	ck_assert_uint_eq(pl.stats.readings_in, 6);
	ck_assert_uint_eq(pl.stats.readings_dropped, 2);
	vigil_pipeline_run(&pl);
	/* The newest four, in order. */
	ck_assert_uint_eq(r.n, 4);
	for (int i = 0; i < 4; i++)
		ck_assert_double_eq(r.values[i], i + 3);
	ck_assert_uint_eq(pl.ring_len, 0);

	/* Emptied, it holds four again. */
	for (int i = 10; i < 14; i++)
		emit(&pl, &sensor, "m", i, NULL, 0);
	ck_assert_uint_eq(pl.stats.readings_dropped, 2);
	vigil_pipeline_run(&pl);
	ck_assert_uint_eq(r.n, 8);
	ck_assert_double_eq(r.values[4], 10);
	ck_assert_double_eq(r.values[7], 13);

	/* Many times its size: only the last four survive. */
	for (int i = 100; i < 130; i++)
		emit(&pl, &sensor, "m", i, NULL, 0);
	ck_assert_uint_eq(pl.stats.readings_dropped, 2 + 26);
	vigil_pipeline_run(&pl);
	ck_assert_uint_eq(r.n, 12);
	ck_assert_double_eq(r.values[8], 126);
	ck_assert_double_eq(r.values[11], 129);
	vigil_pipeline_free(&pl);
	vigil_selector_free(&r.inst.match);
}
END_TEST

/* Drained, the ring starts again at its first slot: a long-running
 * daemon touches the ring's pages up to its high-water mark only, not the
 * whole ring as a head going round would. */
START_TEST(ring_reuses_first_slots)
{
	struct vigil_pipeline pl;
	struct caprule r;
	struct vigil_instance *rules[] = {&r.inst};

	caprule_init(&r, "r", "m");
	vigil_pipeline_init(&pl, 8, rules, 1, NULL, 0, NULL, 0);
	for (int round = 0; round < 10; round++) {
		for (int i = 0; i < 3; i++)
			emit(&pl, &sensor, "m", round * 3 + i, NULL, 0);
		ck_assert_double_eq(pl.ring[0].value, round * 3);
		ck_assert_double_eq(pl.ring[2].value, round * 3 + 2);
		vigil_pipeline_run(&pl);
		ck_assert_uint_eq(pl.ring_len, 0);
		ck_assert_uint_eq(pl.ring_head, 0);
	}
	/* Nothing was ever written past the high-water mark. */
	for (int k = 3; k < 8; k++)
		ck_assert_ptr_null(pl.ring[k].series);
	ck_assert_uint_eq(r.n, 30);
	ck_assert_double_eq(r.values[29], 29);
	ck_assert_uint_eq(pl.stats.readings_dropped, 0);
	vigil_pipeline_free(&pl);
	vigil_selector_free(&r.inst.match);
}
END_TEST

/* ----------------------------------------------------------- incidents */

static struct vigil_cond cond(const char *key, int firing,
			      enum vigil_severity sev, const char *msg)
{
	struct vigil_cond c = {0};
	const struct vigil_label l[] = {{"mount", "/"}};

	c.key = vigil_xstrdup(key);
	c.firing = firing;
	c.severity = sev;
	c.message = vigil_xstrdup(msg);
	c.value = 42;
	vigil_labels_copy(&c.labels, l, 1);
	return c;
}

/* Applies a condition at time `t` (seconds); returns the event type. */
static enum vigil_event_type apply(struct vigil_incidents *im,
				   const char *key, int firing,
				   enum vigil_severity sev, vigil_time_ns t,
				   struct vigil_incident **inc,
				   enum vigil_severity *prev)
{
	struct vigil_cond c = cond(key, firing, sev, "msg");
	enum vigil_event_type type = (enum vigil_event_type)99;
	enum vigil_severity p;

	*inc = vigil_incidents_apply(im, &c, t * VIGIL_SEC, &type, &p);
	if (prev)
		*prev = p;
	vigil_cond_free(&c);
	return type;
}

START_TEST(incident_lifecycle)
{
	struct vigil_incidents im;
	struct vigil_incident *inc, *first;
	enum vigil_severity prev;

	vigil_incidents_init(&im, 10);

	/* Open. */
	ck_assert_int_eq(apply(&im, "disk{mount=/}", 1, VIGIL_SEV_WARNING, 10,
			       &first, &prev),
			 VIGIL_EVENT_OPENED);
	ck_assert_ptr_nonnull(first);
	ck_assert_uint_eq(first->id, 1);
	ck_assert_int_eq(first->status, VIGIL_STATUS_OPEN);
	ck_assert_int_eq(first->severity, VIGIL_SEV_WARNING);
	ck_assert_int_eq(first->created, 10 * VIGIL_SEC);
	ck_assert_int_eq(first->updated, 10 * VIGIL_SEC);
	ck_assert_int_eq(first->resolved, 0);
	ck_assert_uint_eq(first->occurrences, 1);
	ck_assert_str_eq(first->type, "disk{mount=/}"); /* NULL type: key */
	ck_assert_uint_eq(first->labels.n, 1);
	ck_assert_str_eq(first->labels.v[0].value, "/");
	ck_assert_uint_eq(im.n_open, 1);
	ck_assert_ptr_eq(vigil_incidents_find(&im, "disk{mount=/}"), first);

	/* The same again: no event, one more occurrence. */
	ck_assert_int_eq(apply(&im, "disk{mount=/}", 1, VIGIL_SEV_WARNING, 20,
			       &inc, &prev),
			 0);
	ck_assert_ptr_eq(inc, first);
	ck_assert_uint_eq(inc->occurrences, 2);
	ck_assert_int_eq(inc->updated, 20 * VIGIL_SEC);
	ck_assert_int_eq(inc->created, 10 * VIGIL_SEC);
	ck_assert_uint_eq(im.n_open, 1);

	/* Escalate, then de-escalate: the same incident. */
	ck_assert_int_eq(apply(&im, "disk{mount=/}", 1, VIGIL_SEV_CRITICAL, 30,
			       &inc, &prev),
			 VIGIL_EVENT_ESCALATED);
	ck_assert_ptr_eq(inc, first);
	ck_assert_int_eq(prev, VIGIL_SEV_WARNING);
	ck_assert_int_eq(inc->severity, VIGIL_SEV_CRITICAL);
	ck_assert_int_eq(apply(&im, "disk{mount=/}", 1, VIGIL_SEV_WARNING, 40,
			       &inc, &prev),
			 VIGIL_EVENT_DEESCALATED);
	ck_assert_int_eq(prev, VIGIL_SEV_CRITICAL);
	ck_assert_int_eq(inc->severity, VIGIL_SEV_WARNING);
	ck_assert_uint_eq(inc->id, 1);
	ck_assert_uint_eq(inc->occurrences, 4);

	/* Resolve: into history. */
	ck_assert_int_eq(apply(&im, "disk{mount=/}", 0, VIGIL_SEV_INFO, 50,
			       &inc, &prev),
			 VIGIL_EVENT_RESOLVED);
	ck_assert_ptr_eq(inc, first);
	ck_assert_int_eq(prev, VIGIL_SEV_WARNING);
	ck_assert_int_eq(inc->status, VIGIL_STATUS_RESOLVED);
	ck_assert_int_eq(inc->resolved, 50 * VIGIL_SEC);
	/* A clear does not change the severity it ends. */
	ck_assert_int_eq(inc->severity, VIGIL_SEV_WARNING);
	ck_assert_uint_eq(im.n_open, 0);
	ck_assert_ptr_null(vigil_incidents_find(&im, "disk{mount=/}"));
	ck_assert_uint_eq(im.n_history, 1);
	ck_assert_ptr_eq(im.history[0], first);

	/* Cleared again: nothing to resolve. */
	ck_assert_int_eq(apply(&im, "disk{mount=/}", 0, VIGIL_SEV_INFO, 60,
			       &inc, &prev),
			 0);
	ck_assert_ptr_null(inc);

	vigil_incidents_free(&im);
}
END_TEST

START_TEST(incident_clear_unknown_key)
{
	struct vigil_incidents im;
	struct vigil_incident *inc = (struct vigil_incident *)0x1;

	vigil_incidents_init(&im, 10);
	ck_assert_int_eq(apply(&im, "never", 0, VIGIL_SEV_CRITICAL, 1, &inc,
			       NULL),
			 0);
	ck_assert_ptr_null(inc);
	ck_assert_uint_eq(im.n_open, 0);
	ck_assert_uint_eq(im.n_history, 0);
	ck_assert_uint_eq(im.next_id, 1); /* no id spent */
	vigil_incidents_free(&im);
}
END_TEST

START_TEST(incident_ids_never_reused)
{
	struct vigil_incidents im;
	struct vigil_incident *inc;

	vigil_incidents_init(&im, 0); /* no history kept at all */
	apply(&im, "k", 1, VIGIL_SEV_WARNING, 1, &inc, NULL);
	ck_assert_uint_eq(inc->id, 1);
	apply(&im, "other", 1, VIGIL_SEV_WARNING, 1, &inc, NULL);
	ck_assert_uint_eq(inc->id, 2);
	ck_assert_int_eq(apply(&im, "k", 0, VIGIL_SEV_WARNING, 2, &inc, NULL),
			 VIGIL_EVENT_RESOLVED);
	ck_assert_uint_eq(im.n_history, 0);
	ck_assert_int_eq(apply(&im, "k", 1, VIGIL_SEV_WARNING, 3, &inc, NULL),
			 VIGIL_EVENT_OPENED);
	ck_assert_uint_eq(inc->id, 3);
	ck_assert_uint_eq(inc->occurrences, 1);
	ck_assert_int_eq(inc->created, 3 * VIGIL_SEC);
	vigil_incidents_free(&im);
}
END_TEST

START_TEST(incident_history_bounded)
{
	struct vigil_incidents im;
	struct vigil_incident *inc;
	char key[16];

	vigil_incidents_init(&im, 3);
	for (int i = 1; i <= 5; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		apply(&im, key, 1, VIGIL_SEV_CRITICAL, i, &inc, NULL);
		ck_assert_int_eq(apply(&im, key, 0, VIGIL_SEV_CRITICAL, i, &inc,
				       NULL),
				 VIGIL_EVENT_RESOLVED);
		ck_assert_uint_le(im.n_history, 3);
	}
	ck_assert_uint_eq(im.n_history, 3);
	/* Oldest first; the two oldest were dropped. */
	ck_assert_uint_eq(im.history[0]->id, 3);
	ck_assert_uint_eq(im.history[1]->id, 4);
	ck_assert_uint_eq(im.history[2]->id, 5);
	ck_assert_str_eq(im.history[2]->key, "k5");
	vigil_incidents_free(&im);
}
END_TEST

START_TEST(incident_many_open)
{
	/* More open incidents than hash buckets: all distinct, all found. */
	struct vigil_incidents im;
	struct vigil_incident *inc;
	char key[16];

	vigil_incidents_init(&im, 10);
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert_int_eq(apply(&im, key, 1, VIGIL_SEV_WARNING, 1, &inc,
				       NULL),
				 VIGIL_EVENT_OPENED);
	}
	ck_assert_uint_eq(im.n_open, 1000);
	for (int i = 0; i < 1000; i += 7) {
		snprintf(key, sizeof(key), "k%d", i);
		inc = vigil_incidents_find(&im, key);
		ck_assert_ptr_nonnull(inc);
		ck_assert_uint_eq(inc->id, (uint64_t)i + 1);
	}
	for (int i = 0; i < 1000; i += 2) {
		snprintf(key, sizeof(key), "k%d", i);
		apply(&im, key, 0, VIGIL_SEV_WARNING, 2, &inc, NULL);
	}
	ck_assert_uint_eq(im.n_open, 500);
	ck_assert_ptr_null(vigil_incidents_find(&im, "k0"));
	ck_assert_ptr_nonnull(vigil_incidents_find(&im, "k999"));
	vigil_incidents_free(&im);
}
END_TEST

START_TEST(event_snapshot)
{
	struct vigil_incidents im;
	struct vigil_incident *inc;
	struct vigil_ev *ev;
	const struct vigil_action_record rec = {
		.action = "restart", .start = 5, .duration = 7,
		.exit_status = 1, .outcome = VIGIL_ACTION_FAILED,
		.output = "oops",
	};

	vigil_incidents_init(&im, 10);
	apply(&im, "k", 1, VIGIL_SEV_CRITICAL, 10, &inc, NULL);
	vigil_incident_add_action(inc, &rec);
	ev = vigil_ev_new(inc, VIGIL_EVENT_ACTION, VIGIL_SEV_CRITICAL,
			  11 * VIGIL_SEC);
	/* The incident moves on; the event does not. */
	apply(&im, "k", 0, VIGIL_SEV_CRITICAL, 12, &inc, NULL);
	vigil_incidents_free(&im);

	ck_assert_int_eq(ev->pub.type, VIGIL_EVENT_ACTION);
	ck_assert_uint_eq(ev->pub.incident_id, 1);
	ck_assert_str_eq(ev->pub.key, "k");
	ck_assert_str_eq(ev->pub.incident_type, "k");
	ck_assert_str_eq(ev->pub.message, "msg");
	ck_assert_int_eq(ev->pub.status, VIGIL_STATUS_OPEN);
	ck_assert_int_eq(ev->pub.time, 11 * VIGIL_SEC);
	ck_assert_int_eq(ev->pub.created, 10 * VIGIL_SEC);
	ck_assert_int_eq(ev->pub.resolved, 0);
	ck_assert_uint_eq(ev->pub.n_labels, 1);
	ck_assert_str_eq(ev->pub.labels[0].key, "mount");
	ck_assert_uint_eq(ev->pub.n_actions, 1);
	ck_assert_str_eq(ev->pub.actions[0].action, "restart");
	ck_assert_str_eq(ev->pub.actions[0].output, "oops");
	ck_assert_int_eq(ev->pub.actions[0].outcome, VIGIL_ACTION_FAILED);
	vigil_ev_ref(ev);
	vigil_ev_free(ev);
	ck_assert_str_eq(ev->pub.key, "k"); /* one reference left */
	vigil_ev_free(ev);
}
END_TEST

/* ---------------------------------------------- incidents in the pipeline */

static void push(struct vigil_pipeline *pl, const char *key, int firing,
		 enum vigil_severity sev)
{
	struct vigil_cond c = cond(key, firing, sev, "m");

	vigil_pipeline_push_condition(pl, &c);
	ck_assert_ptr_null(c.key); /* taken */
}

START_TEST(open_incidents_are_bounded)
{
	/* A rule that makes a new key per reading cannot grow vigild
	 * without bound: past as many open incidents as series, a new key's
	 * firing condition is refused and counted; an open key still
	 * changes, plugin_failed still opens, and a resolution makes room. */
	const size_t max = 101000; /* as many as series, all sensors' */
	struct vigil_pipeline pl;
	char key[32];

	vigil_pipeline_init(&pl, 16, NULL, 0, NULL, 0, NULL, 0);
	pl.clock = fake_clock;
	for (size_t i = 0; i < max + 5; i++) {
		snprintf(key, sizeof(key), "k%zu", i);
		push(&pl, key, 1, VIGIL_SEV_WARNING);
		if (pl.n_conds >= 4096)
			vigil_pipeline_run(&pl);
	}
	vigil_pipeline_run(&pl);
	ck_assert_uint_eq(pl.incidents.n_open, max);
	ck_assert_uint_eq(pl.stats.conditions_refused, 5);
	ck_assert_ptr_null(vigil_incidents_find(&pl.incidents, "k101000"));

	push(&pl, "k7", 1, VIGIL_SEV_CRITICAL); /* open: escalates */
	vigil_pipeline_plugin_failed(&pl, "sensor.x", "x", 1, "failed", 1);
	vigil_pipeline_run(&pl);
	ck_assert_int_eq(vigil_incidents_find(&pl.incidents, "k7")->severity,
			 VIGIL_SEV_CRITICAL);
	ck_assert_ptr_nonnull(vigil_incidents_find(
		&pl.incidents, "plugin_failed{instance=sensor.x}"));
	ck_assert_uint_eq(pl.stats.conditions_refused, 5);

	push(&pl, "k1", 0, VIGIL_SEV_INFO);
	push(&pl, "k2", 0, VIGIL_SEV_INFO);
	push(&pl, "new", 1, VIGIL_SEV_WARNING);
	vigil_pipeline_run(&pl);
	ck_assert_ptr_nonnull(vigil_incidents_find(&pl.incidents, "new"));
	ck_assert_uint_eq(pl.stats.conditions_refused, 5);
	vigil_pipeline_free(&pl);
}
END_TEST

START_TEST(pipeline_events_to_sinks)
{
	struct vigil_pipeline pl;
	struct capsink all, crit, no_resolved;
	struct vigil_instance *sinks[] = {&all.inst, &crit.inst,
					  &no_resolved.inst};

	capsink_init(&all, "all", &capsink_desc, NULL);
	capsink_init(&crit, "crit", &capsink_desc, NULL);
	crit.inst.min_severity = VIGIL_SEV_CRITICAL;
	capsink_init(&no_resolved, "nores", &capsink_desc, NULL);
	no_resolved.inst.send_resolved = 0;
	vigil_pipeline_init(&pl, 16, NULL, 0, sinks, 3, NULL, 0);
	pl.clock = fake_clock;

	push(&pl, "a", 1, VIGIL_SEV_WARNING);  /* opened */
	push(&pl, "a", 1, VIGIL_SEV_WARNING);  /* nothing */
	push(&pl, "a", 1, VIGIL_SEV_CRITICAL); /* escalated */
	push(&pl, "a", 1, VIGIL_SEV_WARNING);  /* de-escalated */
	push(&pl, "a", 0, VIGIL_SEV_INFO);     /* resolved */
	push(&pl, "b", 0, VIGIL_SEV_INFO);     /* nothing */
	vigil_pipeline_run(&pl);
	ck_assert_uint_eq(pl.stats.conditions, 6);
	ck_assert_uint_eq(pl.stats.events, 4);
	ck_assert_uint_eq(pl.n_conds, 0);
	ck_assert_uint_eq(pl.n_events, 0);

	ck_assert_uint_eq(all.n, 4);
	ck_assert_int_eq(all.ev[0].type, VIGIL_EVENT_OPENED);
	ck_assert_int_eq(all.ev[1].type, VIGIL_EVENT_ESCALATED);
	ck_assert_int_eq(all.ev[1].previous, VIGIL_SEV_WARNING);
	ck_assert_int_eq(all.ev[2].type, VIGIL_EVENT_DEESCALATED);
	ck_assert_int_eq(all.ev[3].type, VIGIL_EVENT_RESOLVED);
	ck_assert_uint_eq(all.ev[3].occurrences, 4);
	for (size_t i = 0; i < 4; i++)
		ck_assert_uint_eq(all.ev[i].id, 1);

	/* min_severity critical: the escalation, and then the de-escalation
	 * and the resolution of what it was told was critical, even though
	 * the incident was only a warning when it resolved. */
	ck_assert_uint_eq(crit.n, 3);
	ck_assert_int_eq(crit.ev[0].type, VIGIL_EVENT_ESCALATED);
	ck_assert_int_eq(crit.ev[1].type, VIGIL_EVENT_DEESCALATED);
	ck_assert_int_eq(crit.ev[2].type, VIGIL_EVENT_RESOLVED);

	ck_assert_uint_eq(no_resolved.n, 3);
	ck_assert_int_eq(no_resolved.ev[2].type, VIGIL_EVENT_DEESCALATED);

	vigil_pipeline_free(&pl);
	vigil_selector_free(&all.inst.match);
	vigil_selector_free(&crit.inst.match);
	vigil_selector_free(&no_resolved.inst.match);
}
END_TEST

/* An action that counts its runs. */
struct counting_action {
	struct vigil_instance inst;
	char section[64];
	unsigned runs;
};

static int count_run(void *state, struct vigil_ctx *ctx,
		     const struct vigil_event *ev,
		     struct vigil_action_result *res)
{
	struct counting_action *a = state;

	a->runs++;
	res->exit_status = 0;
	res->outcome = VIGIL_ACTION_OK;
	return 0;
}

static const struct vigil_plugin counting_action_desc = {
	VIGIL_PLUGIN_HEADER(VIGIL_KIND_ACTION, "counting", "0"),
	.init = never_init,
	.run = count_run,
};

static void action_init(struct counting_action *a, const char *on,
			enum vigil_severity min)
{
	char why[256];

	memset(a, 0, sizeof(*a));
	snprintf(a->section, sizeof(a->section), "action.a");
	a->inst.kind = VIGIL_KIND_ACTION;
	a->inst.section = a->section;
	a->inst.name = a->section + 7;
	a->inst.desc = &counting_action_desc;
	a->inst.ctx.inst = &a->inst;
	a->inst.state = a;
	a->inst.started = 1;
	a->inst.min_severity = min;
	ck_assert_int_eq(vigil_selector_parse(on, &a->inst.on, why,
					      sizeof(why)),
			 0);
}

/* `on` selects by key or type glob and by the incident's labels (the
 * conditions pushed here carry mount=/), and min_severity gates it. */
START_TEST(actions_selected_by_on_and_severity)
{
	struct vigil_pipeline pl;
	struct counting_action glob, label, other_label, crit_only;
	struct vigil_instance *actions[] = {&glob.inst, &label.inst,
					    &other_label.inst, &crit_only.inst};

	action_init(&glob, "disk*", VIGIL_SEV_WARNING);
	action_init(&label, "disk_full{mount=/}", VIGIL_SEV_WARNING);
	action_init(&other_label, "disk_full{mount=/boot}", VIGIL_SEV_INFO);
	action_init(&crit_only, "*", VIGIL_SEV_CRITICAL);
	vigil_pipeline_init(&pl, 16, NULL, 0, NULL, 0, actions, 4);
	pl.clock = fake_clock;

	push(&pl, "disk_full", 1, VIGIL_SEV_WARNING);  /* opened */
	push(&pl, "disk_full", 1, VIGIL_SEV_CRITICAL); /* escalated */
	push(&pl, "disk_full", 0, VIGIL_SEV_INFO);     /* resolved: no run */
	vigil_pipeline_run(&pl);

	/* The escalation finds glob and label waiting for their first
	 * attempt to work (the verify window): not run again; crit_only
	 * starts on it. */
	ck_assert_uint_eq(glob.runs, 1);
	ck_assert_uint_eq(label.runs, 1);
	ck_assert_uint_eq(other_label.runs, 0);
	ck_assert_uint_eq(crit_only.runs, 1);
	ck_assert_uint_eq(pl.stats.actions_run, 3);

	vigil_pipeline_free(&pl);
	for (size_t i = 0; i < 4; i++)
		vigil_selector_free(&actions[i]->on);
}
END_TEST

/* Remediation: an attempt, `verify` for the incident to clear, the next
 * attempt not before `cooldown`; when attempts run out the incident goes
 * one step up and remediation_failed reaches the sinks, once. */
START_TEST(remediation_attempts_verify_and_give_up)
{
	struct vigil_pipeline pl;
	struct counting_action fix;
	struct capsink cap;
	struct vigil_instance *actions[] = {&fix.inst};
	struct vigil_instance *sinks[] = {&cap.inst};
	vigil_time_ns due;

	action_init(&fix, "disk*", VIGIL_SEV_WARNING);
	fix.inst.remedy.attempts = 2;
	fix.inst.remedy.verify = 60 * VIGIL_SEC;
	fix.inst.remedy.cooldown = 90 * VIGIL_SEC;
	capsink_init(&cap, "cap", &capsink_desc, NULL);
	vigil_pipeline_init(&pl, 16, NULL, 0, sinks, 1, actions, 1);
	pl.clock = fake_clock;

	push(&pl, "disk_full", 1, VIGIL_SEV_WARNING);
	vigil_pipeline_run(&pl);
	ck_assert_uint_eq(fix.runs, 1);
	/* Next look: after max(verify, cooldown). */
	due = vigil_pipeline_tick(&pl);
	ck_assert_int_le(due, fake_now + 90 * VIGIL_SEC);
	ck_assert_int_eq(vigil_remedy_next_due(&pl.remedy),
			 fake_now + 90 * VIGIL_SEC);

	/* The same incident firing again is no new attempt. */
	push(&pl, "disk_full", 1, VIGIL_SEV_WARNING);
	vigil_pipeline_run(&pl);
	fake_now += 89 * VIGIL_SEC;
	vigil_pipeline_tick(&pl);
	ck_assert_uint_eq(fix.runs, 1);

	fake_now += VIGIL_SEC; /* still open: attempt 2 */
	vigil_pipeline_tick(&pl);
	ck_assert_uint_eq(fix.runs, 2);
	ck_assert_uint_eq(pl.stats.remediations_failed, 0);

	fake_now += 90 * VIGIL_SEC; /* out of attempts: escalated */
	vigil_pipeline_tick(&pl);
	ck_assert_uint_eq(fix.runs, 2);
	ck_assert_uint_eq(pl.stats.remediations_failed, 1);
	ck_assert_ptr_nonnull(vigil_incidents_find(&pl.incidents, "disk_full"));
	ck_assert_int_eq(vigil_incidents_find(&pl.incidents, "disk_full")
				 ->severity,
			 VIGIL_SEV_CRITICAL);
	ck_assert_uint_eq(cap.ev[cap.n - 1].type,
			  VIGIL_EVENT_REMEDIATION_FAILED);
	ck_assert_int_eq(cap.ev[cap.n - 1].severity, VIGIL_SEV_CRITICAL);

	/* Once: nothing more happens, whatever the clock. */
	fake_now += 3600 * VIGIL_SEC;
	{
		size_t n = cap.n;
		vigil_pipeline_tick(&pl);
		ck_assert_uint_eq(fix.runs, 2);
		ck_assert_uint_eq(pl.stats.remediations_failed, 1);
		for (size_t i = n; i < cap.n; i++)
			ck_assert_uint_ne(cap.ev[i].type,
					  VIGIL_EVENT_REMEDIATION_FAILED);
	}

	vigil_pipeline_free(&pl);
	vigil_selector_free(&fix.inst.on);
	vigil_selector_free(&cap.inst.match);
}
END_TEST

/* A resolution within the verify window ends the remediation: it worked,
 * and no further attempt is made. */
START_TEST(remediation_ends_on_resolution)
{
	struct vigil_pipeline pl;
	struct counting_action fix;
	struct vigil_instance *actions[] = {&fix.inst};

	action_init(&fix, "disk*", VIGIL_SEV_WARNING);
	fix.inst.remedy.attempts = 3;
	fix.inst.remedy.verify = 30 * VIGIL_SEC;
	vigil_pipeline_init(&pl, 16, NULL, 0, NULL, 0, actions, 1);
	pl.clock = fake_clock;

	push(&pl, "disk_full", 1, VIGIL_SEV_WARNING);
	vigil_pipeline_run(&pl);
	fake_now += 10 * VIGIL_SEC;
	push(&pl, "disk_full", 0, VIGIL_SEV_INFO);
	vigil_pipeline_run(&pl);
	vigil_pipeline_tick(&pl);
	ck_assert_int_eq(vigil_remedy_next_due(&pl.remedy), 0);
	fake_now += 3600 * VIGIL_SEC;
	vigil_pipeline_tick(&pl);
	ck_assert_uint_eq(fix.runs, 1);
	ck_assert_uint_eq(pl.stats.remediations_failed, 0);

	vigil_pipeline_free(&pl);
	vigil_selector_free(&fix.inst.on);
}
END_TEST

/* A silence keeps notifications from the sinks, not the incident from
 * being recorded; what it does not match is sent as usual. */
START_TEST(silence_records_but_does_not_notify)
{
	struct vigil_pipeline pl;
	struct capsink cap;
	struct vigil_instance *sinks[] = {&cap.inst};
	struct vigil_incident *inc;
	char why[256];
	uint64_t id;

	capsink_init(&cap, "cap", &capsink_desc, NULL);
	vigil_pipeline_init(&pl, 16, NULL, 0, sinks, 1, NULL, 0);
	pl.clock = fake_clock;
	ck_assert_int_eq(vigil_pipeline_silence_add(&pl, "key=disk*", 0,
						    fake_now + 3600 * VIGIL_SEC,
						    "maintenance", "test", &id,
						    why, sizeof(why)),
			 0);
	push(&pl, "disk_full", 1, VIGIL_SEV_CRITICAL);
	push(&pl, "cpu_hot", 1, VIGIL_SEV_WARNING);
	vigil_pipeline_run(&pl);

	inc = vigil_incidents_find(&pl.incidents, "disk_full");
	ck_assert_ptr_nonnull(inc);
	ck_assert_int_eq(inc->silenced, 1);
	ck_assert_uint_eq(cap.n, 1);
	ck_assert_str_eq(cap.ev[0].key, "cpu_hot");

	/* Gone: an unknown id is refused. */
	ck_assert_int_eq(vigil_pipeline_silence_remove(&pl, id), 0);
	ck_assert_int_eq(vigil_pipeline_silence_remove(&pl, id), -ENOENT);
	vigil_pipeline_free(&pl);
	vigil_selector_free(&cap.inst.match);
}
END_TEST

/* Within a sink's dedupe window the same (key, severity) is notified
 * once: reminders (repeat_interval 1m) reach a sink with dedupe 5m every
 * 5 minutes, one without dedupe every minute. */
START_TEST(dedupe_window_per_sink)
{
	struct vigil_pipeline pl;
	struct capsink dd, all;
	struct vigil_instance *sinks[] = {&dd.inst, &all.inst};
	struct vigil_incident_policy pol;
	size_t rep_dd = 0, rep_all = 0;

	capsink_init(&dd, "dd", &capsink_desc, NULL);
	capsink_init(&all, "all", &capsink_desc, NULL);
	dd.inst.dedupe = 300 * VIGIL_SEC;
	vigil_pipeline_init(&pl, 16, NULL, 0, sinks, 2, NULL, 0);
	pl.clock = fake_clock;
	vigil_incident_policy_default(&pol);
	pol.repeat_interval = 60 * VIGIL_SEC;
	vigil_incidents_set_policy(&pl.incidents, &pol);

	push(&pl, "a", 1, VIGIL_SEV_WARNING);
	vigil_pipeline_run(&pl);
	for (int m = 0; m < 10; m++) {
		fake_now += 60 * VIGIL_SEC;
		vigil_pipeline_tick(&pl);
	}
	for (size_t i = 0; i < dd.n; i++)
		rep_dd += dd.ev[i].type == VIGIL_EVENT_REPEAT;
	for (size_t i = 0; i < all.n; i++)
		rep_all += all.ev[i].type == VIGIL_EVENT_REPEAT;
	ck_assert_uint_eq(rep_all, 10);
	ck_assert_uint_eq(rep_dd, 2);

	/* Resolved, then open again at once: news for both. */
	push(&pl, "a", 0, VIGIL_SEV_INFO);
	push(&pl, "a", 1, VIGIL_SEV_WARNING);
	vigil_pipeline_run(&pl);
	ck_assert_uint_eq(dd.ev[dd.n - 1].type, VIGIL_EVENT_OPENED);
	ck_assert_uint_eq(dd.ev[dd.n - 2].type, VIGIL_EVENT_RESOLVED);

	vigil_pipeline_free(&pl);
	vigil_selector_free(&dd.inst.match);
	vigil_selector_free(&all.inst.match);
}
END_TEST

/* The journal's path in a test directory `dir`. */
static char *journal_path(const char *dir)
{
	return vigil_xasprintf("%s/journal", dir);
}

/* Removes the journal, its lock and `dir`; frees both names. */
static void remove_journal_dir(char *dir, char *path)
{
	char *lock = vigil_xasprintf("%s.lock", path);

	unlink(path);
	unlink(lock);
	rmdir(dir);
	free(lock);
	free(path);
	free(dir);
}

/* What the journal keeps comes back: open incidents with their ids and
 * acknowledgement, silences, and the events a sink had not taken, in
 * order; ids go on from where they were. */
START_TEST(journal_round_trip)
{
	char *dir = unit_tmpdir(), *path = journal_path(dir);
	struct vigil_pipeline pl;
	struct capsink down, up;
	struct vigil_instance *sinks[] = {&down.inst, &up.inst};
	struct vigil_incident *a, *b;
	uint64_t id_a, id_b, sil;
	char why[256];
	size_t sent_up;

	capsink_init(&down, "down", &capsink_desc, NULL);
	capsink_init(&up, "up", &capsink_desc, NULL);
	down.fail = -1;
	vigil_pipeline_init(&pl, 16, NULL, 0, sinks, 2, NULL, 0);
	pl.clock = fake_clock;
	ck_assert_int_eq(vigil_pipeline_journal_open(
				 &pl, path, VIGIL_JOURNAL_SYNC_ALWAYS, 0),
			 0);
	push(&pl, "a", 1, VIGIL_SEV_WARNING);
	push(&pl, "b", 1, VIGIL_SEV_CRITICAL);
	push(&pl, "c", 1, VIGIL_SEV_WARNING);
	push(&pl, "c", 0, VIGIL_SEV_INFO);
	vigil_pipeline_run(&pl);
	id_a = vigil_incidents_find(&pl.incidents, "a")->id;
	id_b = vigil_incidents_find(&pl.incidents, "b")->id;
	ck_assert_int_eq(vigil_pipeline_ack(&pl, id_a, "ops", "on it", NULL),
			 0);
	ck_assert_int_eq(vigil_pipeline_silence_add(
				 &pl, "type=x", 0, fake_now + 3600 * VIGIL_SEC,
				 NULL, NULL, &sil, why, sizeof(why)),
			 0);
	vigil_pipeline_commit(&pl);
	sent_up = up.n;
	ck_assert_uint_eq(sent_up, 5); /* a, b, c, c resolved, a acked */
	ck_assert_uint_eq(vigil_pipeline_undelivered(&pl), 5);
	/* Committed: the file is what a kill -9 would leave. */
	vigil_pipeline_free(&pl);
	vigil_selector_free(&down.inst.match);
	vigil_selector_free(&up.inst.match);

	capsink_init(&down, "down", &capsink_desc, NULL);
	capsink_init(&up, "up", &capsink_desc, NULL);
	vigil_pipeline_init(&pl, 16, NULL, 0, sinks, 2, NULL, 0);
	pl.clock = fake_clock;
	ck_assert_int_eq(vigil_pipeline_journal_open(
				 &pl, path, VIGIL_JOURNAL_SYNC_ALWAYS, 0),
			 0);
	a = vigil_incidents_find(&pl.incidents, "a");
	b = vigil_incidents_find(&pl.incidents, "b");
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(a->id, id_a);
	ck_assert_uint_eq(b->id, id_b);
	ck_assert_int_eq(a->status, VIGIL_STATUS_ACKNOWLEDGED);
	ck_assert_str_eq(a->comment, "on it");
	ck_assert_ptr_null(vigil_incidents_find(&pl.incidents, "c"));
	ck_assert_ptr_nonnull(vigil_silences_get(&pl.silences, sil));

	/* The five events down never took, in order; up owes nothing. */
	vigil_pipeline_retry(&pl, 0);
	ck_assert_uint_eq(down.n, 5);
	ck_assert_uint_eq(up.n, 0);
	ck_assert_uint_eq(down.ev[0].type, VIGIL_EVENT_OPENED);
	ck_assert_str_eq(down.ev[0].key, "a");
	ck_assert_str_eq(down.ev[2].key, "c");
	ck_assert_uint_eq(down.ev[3].type, VIGIL_EVENT_RESOLVED);
	ck_assert_uint_eq(down.ev[4].type, VIGIL_EVENT_ACKNOWLEDGED);

	/* A new incident gets a new id. */
	push(&pl, "d", 1, VIGIL_SEV_WARNING);
	vigil_pipeline_run(&pl);
	ck_assert_uint_gt(vigil_incidents_find(&pl.incidents, "d")->id,
			  id_b);
	vigil_pipeline_free(&pl);
	vigil_selector_free(&down.inst.match);
	vigil_selector_free(&up.inst.match);

	/* Delivered since: nothing is owed any more. */
	capsink_init(&down, "down", &capsink_desc, NULL);
	capsink_init(&up, "up", &capsink_desc, NULL);
	vigil_pipeline_init(&pl, 16, NULL, 0, sinks, 2, NULL, 0);
	ck_assert_int_eq(vigil_pipeline_journal_open(
				 &pl, path, VIGIL_JOURNAL_SYNC_NEVER, 0),
			 0);
	ck_assert_uint_eq(vigil_pipeline_undelivered(&pl), 0);
	ck_assert_uint_eq(pl.incidents.n_open, 3);
	vigil_pipeline_free(&pl);
	vigil_selector_free(&down.inst.match);
	vigil_selector_free(&up.inst.match);
	remove_journal_dir(dir, path);
}
END_TEST

/* An incident id is journaled (reserved, and synced) before it is
 * given: a journal that lost every record after the reservation, as a
 * power loss can, still never gives an id twice. */
START_TEST(journal_ids_reserved_before_use)
{
	char *dir = unit_tmpdir(), *path = journal_path(dir);
	struct vigil_pipeline pl;
	struct vigil_journal_stats st;
	uint64_t before, id_a;

	vigil_pipeline_init(&pl, 16, NULL, 0, NULL, 0, NULL, 0);
	pl.clock = fake_clock;
	ck_assert_int_eq(vigil_pipeline_journal_open(
				 &pl, path, VIGIL_JOURNAL_SYNC_ALWAYS, 0),
			 0);
	vigil_journal_stats(pl.journal, &st);
	before = st.size;
	push(&pl, "a", 1, VIGIL_SEV_WARNING);
	vigil_pipeline_run(&pl);
	id_a = vigil_incidents_find(&pl.incidents, "a")->id;
	vigil_pipeline_free(&pl);
	/* Keep the reservation (3 u64 fields), lose what followed. */
	ck_assert_int_eq(truncate(path, (off_t)(before +
					       vigil_journal_record_bytes(24))),
			 0);

	vigil_pipeline_init(&pl, 16, NULL, 0, NULL, 0, NULL, 0);
	pl.clock = fake_clock;
	ck_assert_int_eq(vigil_pipeline_journal_open(
				 &pl, path, VIGIL_JOURNAL_SYNC_ALWAYS, 0),
			 0);
	ck_assert_ptr_null(vigil_incidents_find(&pl.incidents, "a"));
	push(&pl, "b", 1, VIGIL_SEV_WARNING);
	vigil_pipeline_run(&pl);
	ck_assert_uint_gt(vigil_incidents_find(&pl.incidents, "b")->id, id_a);
	vigil_pipeline_free(&pl);
	remove_journal_dir(dir, path);
}
END_TEST

START_TEST(retry_keeps_order_and_redelivers)
{
	struct vigil_pipeline pl;
	struct capsink down, up;
	struct vigil_instance *sinks[] = {&down.inst, &up.inst};

	capsink_init(&down, "down", &capsink_desc, NULL);
	capsink_init(&up, "up", &capsink_desc, NULL);
	down.fail = 3;
	vigil_pipeline_init(&pl, 16, NULL, 0, sinks, 2, NULL, 0);
	pl.clock = fake_clock;

	push(&pl, "a", 1, VIGIL_SEV_WARNING);
	vigil_pipeline_run(&pl);
	push(&pl, "b", 1, VIGIL_SEV_CRITICAL);
	push(&pl, "a", 0, VIGIL_SEV_INFO);
	vigil_pipeline_run(&pl);

	/* One attempt failed; what followed waited behind it untried. */
	ck_assert_uint_eq(down.attempts, 1);
	ck_assert_uint_eq(down.n, 0);
	ck_assert_uint_eq(vigil_pipeline_undelivered(&pl), 3);
	ck_assert_uint_eq(pl.stats.deliveries_failed, 1);
	ck_assert_uint_eq(pl.retry[0].failures, 1);
	/* The other sink is not held up. */
	ck_assert_uint_eq(up.n, 3);

	/* Not due yet: nothing is tried. */
	vigil_pipeline_retry(&pl, 1);
	ck_assert_uint_eq(down.attempts, 1);

	/* Due: two more failures, then everything, in order. */
	vigil_pipeline_retry(&pl, 0);
	ck_assert_uint_eq(down.attempts, 2);
	vigil_pipeline_retry(&pl, INT64_MAX);
	ck_assert_uint_eq(down.attempts, 3);
	ck_assert_uint_eq(vigil_pipeline_undelivered(&pl), 3);
	ck_assert_uint_eq(pl.retry[0].failures, 3);
	vigil_pipeline_retry(&pl, 0);
	ck_assert_uint_eq(vigil_pipeline_undelivered(&pl), 0);
	ck_assert_uint_eq(pl.retry[0].failures, 0);
	ck_assert_uint_eq(pl.stats.deliveries_failed, 3);
	ck_assert_uint_eq(down.n, 3);
	ck_assert_str_eq(down.ev[0].key, "a");
	ck_assert_int_eq(down.ev[0].type, VIGIL_EVENT_OPENED);
	ck_assert_str_eq(down.ev[1].key, "b");
	ck_assert_int_eq(down.ev[1].type, VIGIL_EVENT_OPENED);
	ck_assert_str_eq(down.ev[2].key, "a");
	ck_assert_int_eq(down.ev[2].type, VIGIL_EVENT_RESOLVED);

	/* Back to direct delivery. */
	push(&pl, "c", 1, VIGIL_SEV_WARNING);
	vigil_pipeline_run(&pl);
	ck_assert_uint_eq(down.n, 4);
	ck_assert_uint_eq(vigil_pipeline_undelivered(&pl), 0);

	vigil_pipeline_free(&pl);
	vigil_selector_free(&down.inst.match);
	vigil_selector_free(&up.inst.match);
}
END_TEST

START_TEST(retry_partial_then_rest)
{
	/* A sink that takes some and fails again keeps the rest in order. */
	struct vigil_pipeline pl;
	struct capsink k;
	struct vigil_instance *sinks[] = {&k.inst};
	char key[16];

	capsink_init(&k, "k", &capsink_desc, NULL);
	k.fail = 1;
	k.fail_on_attempt = 4; /* the third event of the first retry */
	vigil_pipeline_init(&pl, 16, NULL, 0, sinks, 1, NULL, 0);
	for (int i = 0; i < 6; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		push(&pl, key, 1, VIGIL_SEV_WARNING);
	}
	vigil_pipeline_run(&pl);
	ck_assert_uint_eq(k.attempts, 1);
	ck_assert_uint_eq(vigil_pipeline_undelivered(&pl), 6);

	vigil_pipeline_retry(&pl, 0);
	ck_assert_uint_eq(k.attempts, 4);
	ck_assert_uint_eq(k.n, 2);
	ck_assert_uint_eq(vigil_pipeline_undelivered(&pl), 4);
	ck_assert_uint_eq(pl.retry[0].failures, 2);

	/* New events join the back of the queue, untried. */
	push(&pl, "k6", 1, VIGIL_SEV_WARNING);
	vigil_pipeline_run(&pl);
	ck_assert_uint_eq(k.attempts, 4);
	ck_assert_uint_eq(vigil_pipeline_undelivered(&pl), 5);

	vigil_pipeline_retry(&pl, 0);
	ck_assert_uint_eq(vigil_pipeline_undelivered(&pl), 0);
	ck_assert_uint_eq(k.n, 7);
	for (int i = 0; i < 7; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert_str_eq(k.ev[i].key, key);
	}
	/* Each event exactly once. */
	ck_assert_uint_eq(k.attempts, 4 + 5);
	vigil_pipeline_free(&pl);
	vigil_selector_free(&k.inst.match);
}
END_TEST

START_TEST(retry_waits_for_a_stopped_sink)
{
	struct vigil_pipeline pl;
	struct capsink k;
	struct vigil_instance *sinks[] = {&k.inst};

	capsink_init(&k, "k", &capsink_desc, NULL);
	k.inst.started = 0; /* e.g. its init is being retried */
	vigil_pipeline_init(&pl, 16, NULL, 0, sinks, 1, NULL, 0);
	push(&pl, "a", 1, VIGIL_SEV_WARNING);
	vigil_pipeline_run(&pl);
	vigil_pipeline_retry(&pl, 0);
	ck_assert_uint_eq(k.attempts, 0);
	ck_assert_uint_eq(vigil_pipeline_undelivered(&pl), 1);
	k.inst.started = 1;
	vigil_pipeline_retry(&pl, 0);
	ck_assert_uint_eq(k.n, 1);
	ck_assert_uint_eq(vigil_pipeline_undelivered(&pl), 0);

	/* A sink refused for good (fatal) is not queued for. */
	k.inst.fatal = 1;
	k.inst.started = 0;
	push(&pl, "b", 1, VIGIL_SEV_WARNING);
	vigil_pipeline_run(&pl);
	ck_assert_uint_eq(vigil_pipeline_undelivered(&pl), 0);
	vigil_pipeline_free(&pl);
	vigil_selector_free(&k.inst.match);
}
END_TEST

START_TEST(retry_queue_bounded)
{
	struct vigil_pipeline pl;
	struct capsink k;
	struct vigil_instance *sinks[] = {&k.inst};
	const int total = VIGIL_SINK_QUEUE_MAX + 5;
	char key[16];

	capsink_init(&k, "k", &capsink_desc, NULL);
	k.fail = -1;
	vigil_pipeline_init(&pl, 16, NULL, 0, sinks, 1, NULL, 0);
	for (int i = 0; i < total; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		push(&pl, key, 1, VIGIL_SEV_WARNING);
	}
	vigil_pipeline_run(&pl);
	ck_assert_uint_eq(vigil_pipeline_undelivered(&pl),
			  VIGIL_SINK_QUEUE_MAX);
	ck_assert_uint_eq(pl.stats.deliveries_lost, 5);
	k.fail = 0;
	vigil_pipeline_retry(&pl, 0);
	ck_assert_uint_eq(vigil_pipeline_undelivered(&pl), 0);
	ck_assert_uint_eq(k.n, VIGIL_SINK_QUEUE_MAX);
	/* The oldest were given up; the first kept is the sixth. */
	ck_assert_str_eq(k.ev[0].key, "k5");
	vigil_pipeline_free(&pl);
	vigil_selector_free(&k.inst.match);
}
END_TEST

/*
 * A sink in a worker that is running takes a burst beyond the usual cap
 * (a storm's events are made in one turn, and its worker gets them 4096
 * to a call); once its worker is not running, the queue is cut back to
 * VIGIL_SINK_QUEUE_MAX, the oldest not in flight given up. No process
 * here: the worker is a struct in state "running" whose socket is closed,
 * so the calls sent to it stay in flight.
 */
START_TEST(running_worker_sink_takes_a_burst)
{
	struct vigil_pipeline pl;
	struct vigil_worker w;
	struct capsink k;
	struct vigil_instance *sinks[] = {&k.inst};
	const int total = VIGIL_SINK_QUEUE_MAX + 2000;
	char key[16];

	capsink_init(&k, "k", &capsink_desc, NULL);
	k.inst.timeout = VIGIL_SEC;
	vigil_worker_init(&w, &k.inst);
	w.state = VIGIL_WORKER_IDLE;
	k.inst.worker = &w;
	vigil_pipeline_init(&pl, 16, NULL, 0, sinks, 1, NULL, 0);
	for (int i = 0; i < total; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		push(&pl, key, 1, VIGIL_SEV_WARNING);
	}
	vigil_pipeline_run(&pl);
	ck_assert_uint_eq(pl.stats.deliveries_lost, 0);
	ck_assert_uint_eq(vigil_pipeline_undelivered(&pl), total);
	ck_assert_uint_ge(pl.retry[0].busy, 1); /* one call in flight */
	ck_assert_uint_eq(k.n, 0);                 /* none in the core */

	/* Its worker died: back to the usual cap at the next event. */
	w.state = VIGIL_WORKER_BACKOFF;
	push(&pl, "late", 1, VIGIL_SEV_WARNING);
	vigil_pipeline_run(&pl);
	ck_assert_uint_eq(vigil_pipeline_undelivered(&pl),
			  VIGIL_SINK_QUEUE_MAX);
	ck_assert_uint_eq(pl.stats.deliveries_lost,
			  total + 1 - VIGIL_SINK_QUEUE_MAX);
	/* The calls in flight end (the worker is gone) before the
	 * pipeline does. */
	vigil_worker_free(&w);
	vigil_pipeline_free(&pl);
	vigil_selector_free(&k.inst.match);
}
END_TEST

static Suite *pipeline_suite(void)
{
	Suite *s = suite_create("pipeline");
	TCase *tc;

	tc = tcase_create("series");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, series_interned_once);
	tcase_add_test(tc, series_null_label_value_is_empty);
	tcase_add_test(tc, series_limit);
	tcase_add_test(tc, series_one_sensor_cannot_take_all);
	tcase_add_test(tc, series_survive_rehash);
	suite_add_tcase(s, tc);

	tc = tcase_create("routing");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, routes_by_selector);
	tcase_add_test(tc, same_series_in_any_label_order);
	tcase_add_test(tc, sink_mask_by_metrics_match);
	tcase_add_test(tc, bad_readings_refused);
	tcase_add_test(tc, reading_time_stamped_when_zero);
	tcase_add_test(tc, ring_drops_oldest);
	tcase_add_test(tc, ring_reuses_first_slots);
	suite_add_tcase(s, tc);

	tc = tcase_create("incidents");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, incident_lifecycle);
	tcase_add_test(tc, incident_clear_unknown_key);
	tcase_add_test(tc, incident_ids_never_reused);
	tcase_add_test(tc, incident_history_bounded);
	tcase_add_test(tc, incident_many_open);
	tcase_add_test(tc, event_snapshot);
	suite_add_tcase(s, tc);

	tc = tcase_create("delivery");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, pipeline_events_to_sinks);
	tcase_add_test(tc, open_incidents_are_bounded);
	tcase_add_test(tc, actions_selected_by_on_and_severity);
	tcase_add_test(tc, remediation_attempts_verify_and_give_up);
	tcase_add_test(tc, remediation_ends_on_resolution);
	tcase_add_test(tc, silence_records_but_does_not_notify);
	tcase_add_test(tc, dedupe_window_per_sink);
	tcase_add_test(tc, journal_round_trip);
	tcase_add_test(tc, journal_ids_reserved_before_use);
	tcase_add_test(tc, retry_keeps_order_and_redelivers);
	tcase_add_test(tc, retry_partial_then_rest);
	tcase_add_test(tc, retry_waits_for_a_stopped_sink);
	tcase_add_test(tc, retry_queue_bounded);
	tcase_add_test(tc, running_worker_sink_takes_a_burst);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(pipeline_suite());
}
