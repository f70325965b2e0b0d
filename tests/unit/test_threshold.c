/*
 * test_threshold.c - the real threshold rule plugin (plugins/rules), loaded
 * through the loader, configured from INI text, and fed readings with
 * chosen timestamps; the conditions it emits are captured.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "instance.h"
#include "loader.h"
#include "log.h"
#include "pipeline.h"
#include "unit.h"
#include "util.h"

/* One emitted condition, copied. */
struct captured {
	int firing;
	enum vigil_severity severity;
	char message[512];
	double value;
	int has_key, has_type, has_labels;
	const struct vigil_reading *reading;
};

static struct captured got[64];
static size_t n_got;
static int emit_rc; /* what the capture returns: 0, or an error to inject */

static struct vigil_conf conf;
static struct vigil_diag errs, warns;
static struct vigil_loader loader;
static struct vigil_instance *rule;
static void *slot, *slot2; /* per-series state of two series */

static int cap_condition(void *user, struct vigil_instance *inst,
			 const struct vigil_condition *c)
{
	struct captured *k;

	ck_assert_ptr_eq(inst, rule);
	if (emit_rc)
		return emit_rc;
	ck_assert_uint_lt(n_got, VIGIL_ARRAY_SIZE(got));
	k = &got[n_got++];
	k->firing = c->firing;
	k->severity = c->severity;
	snprintf(k->message, sizeof(k->message), "%s",
		 c->message ? c->message : "(null)");
	k->value = c->value;
	k->has_key = c->key != NULL;
	k->has_type = c->type != NULL;
	k->has_labels = c->labels != NULL || c->n_labels != 0;
	k->reading = c->reading;
	return 0;
}

static const struct vigil_emit_ops cap_ops = {
	.condition = cap_condition,
};

static void setup(void)
{
	const char *tree = getenv("VIGIL_TREE_PLUGIN_PATH");

	ck_assert_msg(tree != NULL, "VIGIL_TREE_PLUGIN_PATH is not set");
	vigil_log_setup(VIGIL_LOG_TO_STDERR, VIGIL_LOG_ERR);
	vigil_loader_init(&loader, tree);
	memset(&conf, 0, sizeof(conf));
	memset(&errs, 0, sizeof(errs));
	memset(&warns, 0, sizeof(warns));
	rule = NULL;
	slot = slot2 = NULL;
	n_got = 0;
	emit_rc = 0;
}

static void teardown(void)
{
	/* series_free is NULL: the plugin's slots are plain data. */
	if (rule)
		ck_assert_ptr_null(rule->desc->series_free);
	free(slot);
	free(slot2);
	vigil_instance_free(rule);
	vigil_loader_free(&loader);
	vigil_conf_free(&conf);
	vigil_diag_free(&errs);
	vigil_diag_free(&warns);
}

/* Builds [rule.t] with `keys` and runs the plugin's init; returns its
 * result. */
static int start(const char *keys)
{
	char *text = vigil_xasprintf("[rule.t]\n"
				     "plugin = threshold\n"
				     "isolation = none\n"
				     "match = cpu.temp\n"
				     "%s",
				     keys);

	vigil_conf_load_string(text, "t.ini", &conf, &errs);
	free(text);
	rule = vigil_instance_new(&conf, &conf.sections[0], &loader, &errs,
				  &warns);
	ck_assert_msg(rule != NULL, "instance refused:%s",
		      unit_diag_text(&errs));
	return vigil_instance_start(rule, &cap_ops, NULL);
}

static void start_ok(const char *keys)
{
	ck_assert_int_eq(start(keys), 0);
	ck_assert_int_eq(rule->started, 1);
}

static const struct vigil_label core0[] = {{"core", "0"}};

/* Evaluates one reading of series `s` at `t` seconds; returns how many
 * conditions it emitted. */
static size_t feed_q(void **s, double value, double t,
		     enum vigil_quality quality)
{
	struct vigil_reading r = {
		.metric = "cpu.temp",
		.unit = "C",
		.value = value,
		.time = (vigil_time_ns)(t * 1e9),
		.labels = core0,
		.n_labels = 1,
		.quality = quality,
		.series_id = 1,
	};
	size_t before = n_got;
	int rc = rule->desc->eval(rule->state, &rule->ctx, &r, s);

	ck_assert_msg(rc == 0, "eval(%g at %gs) returned %d", value, t, rc);
	for (size_t i = before; i < n_got; i++) {
		ck_assert_ptr_eq(got[i].reading, &r);
		got[i].reading = NULL; /* it was borrowed */
	}
	return n_got - before;
}

static size_t feed(double value, double t)
{
	return feed_q(&slot, value, t, VIGIL_QUALITY_GOOD);
}

static const struct captured *last(void)
{
	ck_assert_uint_gt(n_got, 0);
	return &got[n_got - 1];
}

#define ck_assert_fired(sev)                                                  \
	do {                                                                  \
		ck_assert_int_eq(last()->firing, 1);                          \
		ck_assert_int_eq(last()->severity, (sev));                    \
	} while (0)

#define ck_assert_cleared()                                                   \
	ck_assert_int_eq(last()->firing, 0)

#define LEVELS "warning = 80\ncritical = 90\n"

/* ------------------------------------------------------------- levels */

START_TEST(first_evaluation_clears_when_ok)
{
	start_ok(LEVELS);
	ck_assert_uint_eq(feed(50, 1), 1);
	ck_assert_cleared();
	ck_assert_int_eq(last()->severity, VIGIL_SEV_INFO);
	ck_assert_double_eq(last()->value, 50);
	ck_assert_str_eq(last()->message,
			 "cpu.temp{core=0} is 50 C, ok (warning threshold 80)");
	/* Key, type and labels are left to the core (from the reading). */
	ck_assert_int_eq(last()->has_key, 0);
	ck_assert_int_eq(last()->has_type, 0);
	ck_assert_int_eq(last()->has_labels, 0);
	/* Still ok: nothing more. */
	ck_assert_uint_eq(feed(60, 2), 0);
	ck_assert_uint_eq(feed(80, 3), 0); /* at the level is not past it */
}
END_TEST

START_TEST(fires_at_warning_once)
{
	start_ok(LEVELS);
	feed(50, 1);
	ck_assert_uint_eq(feed(85, 2), 1);
	ck_assert_fired(VIGIL_SEV_WARNING);
	ck_assert_double_eq(last()->value, 85);
	ck_assert_str_eq(last()->message, "cpu.temp{core=0} is 85 C, above "
					  "warning threshold 80");
	/* Unchanged state: no repeat, whatever the value does inside it. */
	ck_assert_uint_eq(feed(85, 3), 0);
	ck_assert_uint_eq(feed(89.9, 4), 0);
	ck_assert_uint_eq(feed(81, 5), 0);
	ck_assert_uint_eq(n_got, 2);
}
END_TEST

START_TEST(strictly_past_the_level)
{
	start_ok(LEVELS);
	ck_assert_uint_eq(feed(80, 1), 1);
	ck_assert_cleared();
	ck_assert_uint_eq(feed(80.001, 2), 1);
	ck_assert_fired(VIGIL_SEV_WARNING);
	ck_assert_uint_eq(feed(90, 3), 0);
	ck_assert_uint_eq(feed(90.5, 4), 1);
	ck_assert_fired(VIGIL_SEV_CRITICAL);
}
END_TEST

START_TEST(escalates_and_deescalates)
{
	start_ok(LEVELS);
	feed(50, 1);
	ck_assert_uint_eq(feed(85, 2), 1);
	ck_assert_fired(VIGIL_SEV_WARNING);
	ck_assert_uint_eq(feed(95.5, 3), 1);
	ck_assert_fired(VIGIL_SEV_CRITICAL);
	ck_assert_str_eq(last()->message, "cpu.temp{core=0} is 95.5 C, above "
					  "critical threshold 90");
	ck_assert_uint_eq(feed(99, 4), 0);
	ck_assert_uint_eq(feed(85, 5), 1);
	ck_assert_fired(VIGIL_SEV_WARNING);
	ck_assert_uint_eq(feed(50, 6), 1);
	ck_assert_cleared();
	/* A clear carries the severity it ends. */
	ck_assert_int_eq(last()->severity, VIGIL_SEV_WARNING);
	ck_assert_uint_eq(n_got, 5);
}
END_TEST

START_TEST(jumps_straight_to_critical)
{
	start_ok(LEVELS);
	ck_assert_uint_eq(feed(95, 1), 1);
	ck_assert_fired(VIGIL_SEV_CRITICAL);
	/* And straight back: one clear, ending a critical. */
	ck_assert_uint_eq(feed(10, 2), 1);
	ck_assert_cleared();
	ck_assert_int_eq(last()->severity, VIGIL_SEV_CRITICAL);
}
END_TEST

START_TEST(critical_only)
{
	start_ok("critical = 90\n");
	ck_assert_uint_eq(feed(85, 1), 1);
	ck_assert_cleared();
	ck_assert_str_eq(last()->message,
			 "cpu.temp{core=0} is 85 C, ok (critical threshold 90)");
	ck_assert_uint_eq(feed(91, 2), 1);
	ck_assert_fired(VIGIL_SEV_CRITICAL);
}
END_TEST

START_TEST(hysteresis)
{
	start_ok(LEVELS "hysteresis = 5\n");
	feed(50, 1);
	ck_assert_uint_eq(feed(81, 2), 1);
	ck_assert_fired(VIGIL_SEV_WARNING);
	/* Back under the level but not under level - hysteresis: firing. */
	ck_assert_uint_eq(feed(79, 3), 0);
	ck_assert_uint_eq(feed(75.5, 4), 0);
	/* Back over it again: no new emission either. */
	ck_assert_uint_eq(feed(82, 5), 0);
	ck_assert_uint_eq(feed(75, 6), 1); /* level - hysteresis: off */
	ck_assert_cleared();
	/* Turning on again needs the level itself, not level - h. */
	ck_assert_uint_eq(feed(79, 7), 0);
	ck_assert_uint_eq(feed(80.5, 8), 1);
	ck_assert_fired(VIGIL_SEV_WARNING);

	/* Critical too: it drops to warning only at 90 - 5. */
	ck_assert_uint_eq(feed(91, 9), 1);
	ck_assert_fired(VIGIL_SEV_CRITICAL);
	ck_assert_uint_eq(feed(86, 10), 0);
	ck_assert_uint_eq(feed(85, 11), 1);
	ck_assert_fired(VIGIL_SEV_WARNING);
}
END_TEST

START_TEST(hold_for_duration)
{
	start_ok(LEVELS "for = 30s\n");
	/* A new series waiting for `for` emits nothing, not even a clear. */
	ck_assert_uint_eq(feed(85, 100), 0);
	ck_assert_uint_eq(feed(85, 110), 0);
	ck_assert_uint_eq(feed(86, 129.9), 0);
	ck_assert_uint_eq(feed(86, 130), 1);
	ck_assert_fired(VIGIL_SEV_WARNING);

	/* Escalation waits too, from when critical was first passed. */
	ck_assert_uint_eq(feed(95, 140), 0);
	ck_assert_uint_eq(feed(95, 169), 0);
	ck_assert_uint_eq(feed(95, 170), 1);
	ck_assert_fired(VIGIL_SEV_CRITICAL);

	/* Going down is immediate. */
	ck_assert_uint_eq(feed(50, 171), 1);
	ck_assert_cleared();
	ck_assert_int_eq(last()->severity, VIGIL_SEV_CRITICAL);
}
END_TEST

START_TEST(hold_reset_by_a_dip)
{
	start_ok(LEVELS "for = 30s\n");
	feed(50, 0);
	ck_assert_uint_eq(n_got, 1); /* the first clear */
	ck_assert_uint_eq(feed(85, 10), 0);
	ck_assert_uint_eq(feed(85, 35), 0);
	ck_assert_uint_eq(feed(70, 39), 0); /* dip: the wait starts over */
	ck_assert_uint_eq(feed(85, 40), 0);
	ck_assert_uint_eq(feed(85, 60), 0); /* 50s after 10, 20 after 40 */
	ck_assert_uint_eq(feed(85, 69), 0);
	ck_assert_uint_eq(feed(85, 70), 1);
	ck_assert_fired(VIGIL_SEV_WARNING);
}
END_TEST

START_TEST(hold_counts_reading_time_not_readings)
{
	start_ok("critical = 90\nfor = 1m\n");
	feed(50, 0);
	/* Many readings in a short time do not make it fire. */
	for (int i = 0; i < 100; i++)
		ck_assert_uint_eq(feed(95, 1 + i * 0.5), 0);
	/* Two readings a minute apart do. */
	ck_assert_uint_eq(feed(95, 61), 1);
	ck_assert_fired(VIGIL_SEV_CRITICAL);
}
END_TEST

START_TEST(direction_below)
{
	start_ok("direction = below\nwarning = 20\ncritical = 10\n");
	ck_assert_uint_eq(feed(50, 1), 1);
	ck_assert_cleared();
	ck_assert_str_eq(last()->message,
			 "cpu.temp{core=0} is 50 C, ok (warning threshold 20)");
	ck_assert_uint_eq(feed(20, 2), 0); /* at the level: not past it */
	ck_assert_uint_eq(feed(15, 3), 1);
	ck_assert_fired(VIGIL_SEV_WARNING);
	ck_assert_str_eq(last()->message, "cpu.temp{core=0} is 15 C, below "
					  "warning threshold 20");
	ck_assert_uint_eq(feed(5, 4), 1);
	ck_assert_fired(VIGIL_SEV_CRITICAL);
	ck_assert_uint_eq(feed(12, 5), 1);
	ck_assert_fired(VIGIL_SEV_WARNING);
	ck_assert_uint_eq(feed(25, 6), 1);
	ck_assert_cleared();
}
END_TEST

START_TEST(direction_below_hysteresis)
{
	start_ok("direction = below\ncritical = 10\nhysteresis = 2\n");
	feed(50, 1);
	ck_assert_uint_eq(feed(9, 2), 1);
	ck_assert_fired(VIGIL_SEV_CRITICAL);
	ck_assert_uint_eq(feed(11, 3), 0);
	ck_assert_uint_eq(feed(11.9, 4), 0);
	ck_assert_uint_eq(feed(12, 5), 1);
	ck_assert_cleared();
}
END_TEST

/* ------------------------------------------------------ what is ignored */

START_TEST(nan_ignored)
{
	start_ok(LEVELS);
	/* A first NaN does not even make the series' state. */
	ck_assert_uint_eq(feed(NAN, 1), 0);
	ck_assert_ptr_null(slot);
	ck_assert_uint_eq(feed(85, 2), 1);
	ck_assert_fired(VIGIL_SEV_WARNING);
	ck_assert_uint_eq(feed(NAN, 3), 0);
	ck_assert_uint_eq(feed(-NAN, 4), 0);
	ck_assert_uint_eq(feed(86, 5), 0);
	ck_assert_uint_eq(feed(50, 6), 1);
	ck_assert_cleared();
}
END_TEST

START_TEST(bad_quality_ignored)
{
	start_ok(LEVELS);
	ck_assert_uint_eq(feed_q(&slot, 99, 1, VIGIL_QUALITY_BAD), 0);
	ck_assert_ptr_null(slot);
	ck_assert_uint_eq(feed(85, 2), 1);
	ck_assert_fired(VIGIL_SEV_WARNING);
	ck_assert_uint_eq(feed_q(&slot, 0, 3, VIGIL_QUALITY_BAD), 0);
	ck_assert_uint_eq(feed_q(&slot, 99, 4, VIGIL_QUALITY_BAD), 0);
	ck_assert_uint_eq(feed(86, 5), 0);
	/* Uncertain readings count. */
	ck_assert_uint_eq(feed_q(&slot, 50, 6, VIGIL_QUALITY_UNCERTAIN), 1);
	ck_assert_cleared();
}
END_TEST

START_TEST(bad_quality_does_not_reset_hold)
{
	start_ok("critical = 90\nfor = 30s\n");
	feed(50, 0);
	ck_assert_uint_eq(feed(95, 10), 0);
	ck_assert_uint_eq(feed_q(&slot, 0, 20, VIGIL_QUALITY_BAD), 0);
	ck_assert_uint_eq(feed(95, 40), 1);
	ck_assert_fired(VIGIL_SEV_CRITICAL);
}
END_TEST

/* ---------------------------------------------------------- the rest */

START_TEST(series_are_independent)
{
	start_ok(LEVELS);
	ck_assert_uint_eq(feed_q(&slot, 85, 1, VIGIL_QUALITY_GOOD), 1);
	ck_assert_fired(VIGIL_SEV_WARNING);
	ck_assert_uint_eq(feed_q(&slot2, 50, 1, VIGIL_QUALITY_GOOD), 1);
	ck_assert_cleared();
	ck_assert_ptr_ne(slot, slot2);
	ck_assert_uint_eq(feed_q(&slot2, 85, 2, VIGIL_QUALITY_GOOD), 1);
	ck_assert_fired(VIGIL_SEV_WARNING);
	ck_assert_uint_eq(feed_q(&slot, 86, 2, VIGIL_QUALITY_GOOD), 0);
}
END_TEST

START_TEST(message_template)
{
	start_ok(LEVELS "message = {metric}{{labels}} at {value}{unit}: "
			"{severity} (limit {threshold}) {unknown\n");
	/* ... "{unknown" without its brace is plain text. */
	feed(50, 1);
	ck_assert_str_eq(last()->message,
			 "cpu.temp{core=0} at 50C: ok (limit 80) {unknown");
	feed(1234567.25, 2);
	ck_assert_str_eq(last()->message, "cpu.temp{core=0} at 1234567.25C: "
					  "critical (limit 90) {unknown");
	feed(0.000125, 3);
	ck_assert_str_eq(last()->message, "cpu.temp{core=0} at 0.000125C: ok "
					  "(limit 80) {unknown");
}
END_TEST

START_TEST(failed_emission_is_retried)
{
	start_ok(LEVELS);
	feed(50, 1);
	emit_rc = -EIO;
	{
		struct vigil_reading r = {
			.metric = "cpu.temp", .unit = "C", .value = 85,
			.time = 2 * VIGIL_SEC, .labels = core0, .n_labels = 1,
		};
		ck_assert_int_eq(rule->desc->eval(rule->state, &rule->ctx, &r,
						  &slot),
				 -EIO);
	}
	emit_rc = 0;
	/* The state did not move: the next reading emits it again. */
	ck_assert_uint_eq(feed(85, 3), 1);
	ck_assert_fired(VIGIL_SEV_WARNING);
}
END_TEST

START_TEST(init_refuses_bad_levels)
{
	static const char *const bad[] = {
		"warning = 90\ncritical = 80\n",
		"direction = below\nwarning = 10\ncritical = 20\n",
		"",
		"critical = 90\nhysteresis = -1\n",
		"critical = 90\nmessage = {metric} is {temperature}\n",
	};

	for (size_t i = 0; i < VIGIL_ARRAY_SIZE(bad); i++) {
		ck_assert_msg(start(bad[i]) == VIGIL_EFATAL,
			      "accepted: %s", bad[i]);
		ck_assert_int_eq(rule->started, 0);
		ck_assert_int_eq(rule->fatal, 1);
		vigil_instance_free(rule);
		rule = NULL;
		vigil_conf_free(&conf);
	}
	/* Equal levels are allowed. */
	start_ok("warning = 90\ncritical = 90\n");
}
END_TEST

/* ----------------------------------------------------- in the pipeline */

static vigil_time_ns fake_now;

static vigil_time_ns fake_clock(void)
{
	return fake_now;
}

START_TEST(through_the_pipeline)
{
	struct vigil_pipeline pl;
	char section[] = "sensor.fake";
	struct vigil_instance sensor = {
		.kind = VIGIL_KIND_SENSOR,
		.section = section,
		.name = section + 7,
		.started = 1,
	};
	const struct vigil_label labels[] = {{"core", "3"}};
	struct vigil_reading r = {
		.metric = "cpu.temp", .unit = "C", .labels = labels,
		.n_labels = 1,
	};
	struct vigil_incident *inc;

	start(LEVELS);
	vigil_instance_stop(rule);
	vigil_pipeline_init(&pl, 16, &rule, 1, NULL, 0, NULL, 0);
	pl.clock = fake_clock;
	fake_now = 1000 * VIGIL_SEC;
	ck_assert_int_eq(vigil_instance_start(rule, &vigil_pipeline_emit, &pl),
			 0);

	r.value = 85;
	ck_assert_int_eq(vigil_pipeline_emit.reading(&pl, &sensor, &r), 0);
	vigil_pipeline_run(&pl);
	inc = vigil_incidents_find(&pl.incidents, "t{core=3}");
	ck_assert_ptr_nonnull(inc);
	ck_assert_int_eq(inc->severity, VIGIL_SEV_WARNING);
	ck_assert_str_eq(inc->type, "t");
	ck_assert_str_eq(inc->message, "cpu.temp{core=3} is 85 C, above "
				       "warning threshold 80");
	ck_assert_int_eq(inc->created, 1000 * VIGIL_SEC);
	ck_assert_uint_eq(pl.stats.events, 1);

	r.value = 50;
	fake_now += VIGIL_SEC;
	vigil_pipeline_emit.reading(&pl, &sensor, &r);
	vigil_pipeline_run(&pl);
	ck_assert_ptr_null(vigil_incidents_find(&pl.incidents, "t{core=3}"));
	ck_assert_uint_eq(pl.incidents.n_history, 1);
	ck_assert_int_eq(pl.incidents.history[0]->resolved, 1001 * VIGIL_SEC);
	ck_assert_uint_eq(pl.stats.events, 2);
	ck_assert_uint_eq(pl.stats.conditions, 2);

	/* The rule frees its slots while still started. */
	vigil_pipeline_free(&pl);
}
END_TEST

static Suite *threshold_suite(void)
{
	Suite *s = suite_create("threshold");
	TCase *tc;

	tc = tcase_create("levels");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, first_evaluation_clears_when_ok);
	tcase_add_test(tc, fires_at_warning_once);
	tcase_add_test(tc, strictly_past_the_level);
	tcase_add_test(tc, escalates_and_deescalates);
	tcase_add_test(tc, jumps_straight_to_critical);
	tcase_add_test(tc, critical_only);
	tcase_add_test(tc, hysteresis);
	tcase_add_test(tc, hold_for_duration);
	tcase_add_test(tc, hold_reset_by_a_dip);
	tcase_add_test(tc, hold_counts_reading_time_not_readings);
	tcase_add_test(tc, direction_below);
	tcase_add_test(tc, direction_below_hysteresis);
	suite_add_tcase(s, tc);

	tc = tcase_create("ignored");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, nan_ignored);
	tcase_add_test(tc, bad_quality_ignored);
	tcase_add_test(tc, bad_quality_does_not_reset_hold);
	suite_add_tcase(s, tc);

	tc = tcase_create("misc");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, series_are_independent);
	tcase_add_test(tc, message_template);
	tcase_add_test(tc, failed_emission_is_retried);
	tcase_add_test(tc, init_refuses_bad_levels);
	tcase_add_test(tc, through_the_pipeline);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(threshold_suite());
}
