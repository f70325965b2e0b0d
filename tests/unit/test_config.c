/*
 * test_config.c - checking a whole configuration through vigil_daemon_load
 * and vigil_daemon_check, with the in-tree plugins and the fixtures: every
 * problem is reported as "FILE:LINE: ..." and none hides another.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "unit.h"
#include "util.h"

static struct vigil_daemon d;
static struct vigil_diag errors, warnings;
static char *path, *plugin_path;
static size_t nerr;

static void setup(void)
{
	/* Plugins' init errors are expected here; keep the output short. */
	vigil_log_setup(VIGIL_LOG_TO_STDERR, VIGIL_LOG_ERR);
	memset(&d, 0, sizeof(d));
	memset(&errors, 0, sizeof(errors));
	memset(&warnings, 0, sizeof(warnings));
	plugin_path = unit_plugin_path();
	path = NULL;
}

static void teardown(void)
{
	vigil_daemon_free(&d);
	vigil_diag_free(&errors);
	vigil_diag_free(&warnings);
	if (path)
		unlink(path);
	free(path);
	free(plugin_path);
}

/* Writes `text` to a temporary vigil.ini and loads it. */
static size_t load(const char *text)
{
	struct vigil_daemon_opts opts = {
		.plugin_path = plugin_path,
		.state_dir = "/nonexistent/state",
		.log_level = -1,
		.log_target = -1,
	};

	path = unit_write_temp(text);
	opts.config = path;
	nerr = vigil_daemon_load(&d, &opts, &errors, &warnings);
	ck_assert_uint_eq(nerr, errors.n);
	return nerr;
}

/* The error at `line` of the file must contain `what`. */
static void expect_error(int line, const char *what)
{
	char *prefix = vigil_xasprintf("%s:%d: ", path, line);
	int i = unit_diag_find3(&errors, prefix, what, NULL);

	ck_assert_msg(i >= 0, "no error '%s...%s'; got:%s", prefix, what,
		      unit_diag_text(&errors));
	/* The location comes first. */
	ck_assert_msg(strncmp(errors.msgs[i], prefix, strlen(prefix)) == 0,
		      "error does not start with '%s': %s", prefix,
		      errors.msgs[i]);
	free(prefix);
}

#define SYN "[sensor.syn]\nplugin = synthetic\n"

/* ------------------------------------------------------------ sections */

START_TEST(valid_configuration)
{
	ck_assert_uint_eq(load("[daemon]\n"
			       "log_level = debug\n"
			       "reading_queue = 1024\n"
			       "flush_interval = 250ms\n"
			       "\n" SYN "interval = 5s\n"
			       "shape = step\n"
			       "\n"
			       "[rule.hot]\n"
			       "plugin = threshold\n"
			       "match = synthetic.*{n=1} other\n"
			       "warning = 80\n"
			       "critical = 90\n"
			       "\n"
			       "[sink.log]\n"
			       "min_severity = warning\n"
			       "\n"
			       "[sensor.off]\n"
			       "plugin = synthetic\n"
			       "enabled = no\n"),
			  0);
	ck_assert_msg(warnings.n == 0, "warnings:%s", unit_diag_text(&warnings));
	ck_assert_uint_eq(d.n_all, 3);
	ck_assert_uint_eq(d.n_disabled, 1);
	ck_assert_uint_eq(d.n_kind[VIGIL_KIND_SENSOR], 1);
	ck_assert_uint_eq(d.n_kind[VIGIL_KIND_RULE], 1);
	ck_assert_uint_eq(d.n_kind[VIGIL_KIND_SINK], 1);
	ck_assert_int_eq(d.flush_interval, 250 * VIGIL_MSEC);
	ck_assert_str_eq(d.state_dir, "/nonexistent/state");

	struct vigil_instance *syn = d.by_kind[VIGIL_KIND_SENSOR][0];
	ck_assert_str_eq(syn->section, "sensor.syn");
	ck_assert_str_eq(syn->name, "syn");
	ck_assert_int_eq(syn->line, 6);
	ck_assert_int_eq(syn->interval, 5 * VIGIL_SEC);
	ck_assert_str_eq(syn->desc->name, "synthetic");

	struct vigil_instance *rule = d.by_kind[VIGIL_KIND_RULE][0];
	ck_assert_uint_eq(rule->match.n_terms, 2);
	ck_assert_str_eq(rule->match.terms[0].metric, "synthetic.*");

	struct vigil_instance *sink = d.by_kind[VIGIL_KIND_SINK][0];
	ck_assert_str_eq(sink->desc->name, "log"); /* plugin = the NAME */
	ck_assert_int_eq(sink->min_severity, VIGIL_SEV_WARNING);
	ck_assert_int_eq(sink->events, 1);
	ck_assert_int_eq(sink->metrics, 0);
}
END_TEST

/* [incidents] and [silence.NAME]: checked like any section, each
 * problem at its line. */
START_TEST(incidents_and_silences)
{
	ck_assert_uint_eq(load("[incidents]\n"
			       "flap_window = 40\n"
			       "repeat_interval = 10\n"
			       "[silence.a]\n"
			       "match = key\n"
			       "duration = 1h\n"
			       "[silence.b]\n"
			       "match = key=x\n"
			       "colour = red\n"
			       "[silence.c]\n"
			       "match = key=x\n"
			       "[silence.d]\n"
			       "match = {mount=/boot}\n"
			       "end = yesterday\n" SYN),
			  6);
	expect_error(2, "[incidents] flap_window = '40': out of range");
	expect_error(3, "[incidents] repeat_interval = '10'");
	expect_error(5, "[silence.a] match = 'key': 'key' is not a term");
	expect_error(9, "[silence.b] unknown key 'colour'");
	expect_error(10, "[silence.c] a silence needs either end");
	expect_error(14, "[silence.d] end = 'yesterday'");
}
END_TEST

START_TEST(incidents_policy_checked)
{
	ck_assert_uint_eq(load("[incidents]\n"
			       "flap_low = 50\n"
			       "flap_high = 40\n" SYN),
			  1);
	expect_error(1, "[incidents] flap thresholds low 50 and high 40");
}
END_TEST

START_TEST(incidents_and_silence_valid)
{
	ck_assert_uint_eq(load("[incidents]\n"
			       "history_max = 5\n"
			       "flap_window = 0\n"
			       "[silence.ok]\n"
			       "match = key=disk* {mount=/}\n"
			       "duration = 2h\n"
			       "comment = maintenance\n" SYN),
			  0);
	ck_assert_uint_eq(d.policy.history_max, 5);
	ck_assert_uint_eq(d.ini_silences.n, 1);
}
END_TEST

START_TEST(unknown_section_kind)
{
	ck_assert_uint_eq(load("[widget.x]\n"
			       "a = 1\n"
			       "[cpu]\n"),
			  2);
	expect_error(1, "unknown section [widget.x]; expected [daemon], "
			"[incidents], [health], [silence.NAME], "
			"[sensor.NAME], [rule.NAME], [action.NAME] or "
			"[sink.NAME]");
	expect_error(3, "unknown section [cpu]");
}
END_TEST

START_TEST(bad_instance_name)
{
	ck_assert_uint_eq(load("[sensor.a.b]\n"
			       "[sensor.]\n"
			       "[rule.has space]\n"),
			  3);
	expect_error(1, "section [sensor.a.b]: instance name 'a.b' must be "
			"letters, digits, '_' or '-'");
	expect_error(2, "instance name '' must be");
	expect_error(3, "instance name 'has space' must be");
}
END_TEST

/* ----------------------------------------------------------------- keys */

START_TEST(unknown_key_did_you_mean)
{
	ck_assert_uint_eq(load(SYN "intervall = 5s\n"
				   "shap = step\n"),
			  2);
	expect_error(3, "[sensor.syn] unknown key 'intervall'; did you mean "
			"'interval'?");
	/* The plugin's own keys are suggested too. */
	expect_error(4, "unknown key 'shap'; did you mean 'shape'?");
}
END_TEST

START_TEST(unknown_key_lists_known_keys)
{
	ck_assert_uint_eq(load(SYN "zzzzzzzz = 1\n"), 1);
	expect_error(3, "[sensor.syn] unknown key 'zzzzzzzz'; known keys: "
			"plugin enabled interval isolation timeout "
			"memory_limit worker restart_delay restart_delay_max "
			"max_restarts restart_window failed_retry metric unit "
			"shape value amplitude period sequence count");
}
END_TEST

START_TEST(bad_duration)
{
	ck_assert_uint_eq(load(SYN "interval = 10\n"), 1);
	expect_error(3, "[sensor.syn] interval = '10': a duration needs a "
			"unit (did you mean '10s'?");
	expect_error(3, "allowed: a duration from 10ms to 1d");
}
END_TEST

START_TEST(duration_out_of_range)
{
	ck_assert_uint_eq(load(SYN "interval = 1ms\n"), 1);
	expect_error(3, "interval = '1ms': out of range (expected a duration "
			"from 10ms to 1d)");
}
END_TEST

START_TEST(bad_bool)
{
	ck_assert_uint_eq(load(SYN "enabled = maybe\n"), 1);
	expect_error(3, "[sensor.syn] enabled = 'maybe': not a boolean");
}
END_TEST

START_TEST(bad_enum)
{
	ck_assert_uint_eq(load(SYN "shape = square\n"), 1);
	expect_error(3, "shape = 'square': not allowed (expected one of "
			"constant, step, ramp, sine, sequence)");
}
END_TEST

START_TEST(int_out_of_range)
{
	ck_assert_uint_eq(load(SYN "period = 0\n"
				   "count = 2000000\n"),
			  2);
	expect_error(3, "period = '0': out of range (expected a whole number "
			"of at least 1)");
	expect_error(4, "count = '2000000': out of range (expected a whole "
			"number from 1 to 1000000)");
}
END_TEST

START_TEST(supervision_settings_that_cannot_work)
{
	/* A first restart delay past the longest, and a memory limit no
	 * worker fits in (it restarted for ever): refused, not taken. */
	ck_assert_uint_eq(load(SYN "restart_delay = 1h\n"
				   "restart_delay_max = 1s\n"
				   "memory_limit = 64k\n"),
			  2);
	expect_error(3, "[sensor.syn] restart_delay = 1h is longer than "
			"restart_delay_max = 1s; expected restart_delay <= "
			"restart_delay_max");
	expect_error(5, "[sensor.syn] memory_limit = '64k': below 1M, which no "
			"worker fits in; expected 0 (no limit) or at least 1M");
}
END_TEST

START_TEST(supervision_settings_at_their_bounds)
{
	ck_assert_uint_eq(load(SYN "restart_delay = 1s\n"
				   "restart_delay_max = 1s\n"
				   "memory_limit = 1M\n"),
			  0);
}
END_TEST

START_TEST(bad_double)
{
	ck_assert_uint_eq(load(SYN "value = hot\n"
				   "amplitude = nan\n"),
			  2);
	expect_error(3, "value = 'hot': not a number");
	expect_error(4, "amplitude = 'nan': not a number");
}
END_TEST

START_TEST(hash_comment_tip)
{
	ck_assert_uint_eq(load(SYN "value = 5 # five\n"), 1);
	expect_error(3, "value = '5 # five': not a number (comments on a "
			"value's line start with ';')");
}
END_TEST

START_TEST(hash_in_a_value_that_parses)
{
	/* A string takes " # ..." as part of itself: warned, with the line. */
	ck_assert_uint_eq(load(SYN "metric = syn.value # the main one\n"
				   "unit = C\n"),
			  0);
	ck_assert_uint_eq(warnings.n, 1);
	ck_assert_diag(&warnings, ":3: [sensor.syn] metric = 'syn.value # the "
				  "main one': '# the main one' is part of the "
				  "value; a comment after a value starts with "
				  "' ;'",
		       NULL, NULL);
}
END_TEST

START_TEST(missing_required_key)
{
	ck_assert_uint_eq(load(SYN "\n"
				   "[rule.hot]\n"
				   "plugin = threshold\n"
				   "critical = 90\n"
				   "\n"
				   "[sink.out]\n"
				   "plugin = file\n"),
			  2);
	/* Reported at the section header: the key is nowhere. */
	expect_error(4, "[rule.hot] required key 'match' is missing");
	expect_error(8, "[sink.out] required key 'path' is missing");
}
END_TEST

START_TEST(bad_selector)
{
	ck_assert_uint_eq(load("[rule.hot]\n"
			       "plugin = threshold\n"
			       "critical = 90\n"
			       "match = cpu{mount=/\n"
			       "[sink.s]\n"
			       "plugin = log\n"
			       "metrics_match = x{=1}\n"),
			  2);
	expect_error(4, "[rule.hot] match = 'cpu{mount=/': not a selector");
	expect_error(7, "[sink.s] metrics_match = 'x{=1}': empty label name");
}
END_TEST

START_TEST(selector_that_cannot_match_a_metric)
{
	/* Quotes, '/', '$': no metric has them; an incident key may, so an
	 * action's `on` is not held to it. */
	ck_assert_uint_eq(load("[rule.hot]\n"
			       "plugin = threshold\n"
			       "critical = 90\n"
			       "match = \"cpu.usage_percent\"\n"
			       "[sink.s]\n"
			       "plugin = log\n"
			       "metrics_match = cpu/usage$percent\n"
			       "[action.a]\n"
			       "plugin = exec\n"
			       "command = true\n"
			       "on = my/key*\n"),
			  2);
	expect_error(4, "[rule.hot] match = '\"cpu.usage_percent\"': "
			"'\"cpu.usage_percent\"' cannot match a metric");
	expect_error(7, "[sink.s] metrics_match = 'cpu/usage$percent': "
			"'cpu/usage$percent' cannot match a metric");
}
END_TEST

/* -------------------------------------------------------------- plugins */

START_TEST(plugin_not_found)
{
	ck_assert_uint_eq(load("[sensor.nope]\n"
			       "\n"
			       "[sensor.x]\n"
			       "interval = 5s\n"
			       "plugin = gone\n"),
			  2);
	expect_error(1, "[sensor.nope] plugin 'nope' not found: no nope.so in ");
	/* Every directory searched is named. */
	expect_error(1, plugin_path);
	/* Reported at the plugin key when there is one. */
	expect_error(5, "[sensor.x] plugin 'gone' not found");
}
END_TEST

START_TEST(kind_differs_from_section)
{
	ck_assert_uint_eq(load("[sensor.x]\n"
			       "plugin = threshold\n"),
			  1);
	expect_error(2, "[sensor.x] ");
	expect_error(2, "threshold.so: plugin 'threshold' is a rule plugin, "
			"but the section asks for a sensor");
}
END_TEST

START_TEST(fixture_refusal_reported)
{
	ck_assert_uint_eq(load("[sensor.x]\n"
			       "plugin = bad_major\n"),
			  1);
	expect_error(2, "the major version differs");
}
END_TEST

START_TEST(disabled_missing_plugin_warns)
{
	ck_assert_uint_eq(load(SYN "\n"
				   "[sensor.gpu]\n"
				   "enabled = no\n"
				   "plugin = nvidia\n"),
			  0);
	ck_assert_uint_eq(warnings.n, 1);
	ck_assert_diag(&warnings, "[sensor.gpu] plugin 'nvidia' not found",
		       "(section is disabled)", path);
	ck_assert_uint_eq(d.n_all, 1);
}
END_TEST

START_TEST(no_sensor_warns)
{
	ck_assert_uint_eq(load("[sink.log]\n"), 0);
	ck_assert_diag(&warnings, "no sensor is enabled", NULL, NULL);
}
END_TEST

START_TEST(missing_file)
{
	struct vigil_daemon_opts opts = {
		.config = "/nonexistent/vigil.ini",
		.plugin_path = plugin_path,
		.log_level = -1,
		.log_target = -1,
	};

	ck_assert_uint_eq(vigil_daemon_load(&d, &opts, &errors, &warnings), 1);
	ck_assert_diag(&errors, "/nonexistent/vigil.ini: cannot read", NULL,
		       NULL);
}
END_TEST

/* ------------------------------------------------------------- [daemon] */

START_TEST(daemon_section_errors)
{
	ck_assert_uint_eq(load("[daemon]\n"
			       "log_level = loud\n"
			       "reading_queue = 8\n"
			       "plugin_pth = /x\n"
			       "flush_interval = 2\n"
			       "\n" SYN),
			  4);
	expect_error(2, "[daemon] log_level = 'loud': not allowed (expected "
			"one of error, warning, notice, info, debug)");
	expect_error(3, "[daemon] reading_queue = '8': out of range (expected "
			"a whole number from 16 to 16777216)");
	expect_error(4, "[daemon] unknown key 'plugin_pth'; did you mean "
			"'plugin_path'?");
	expect_error(5, "[daemon] flush_interval = '2': a duration needs a "
			"unit (did you mean '2s'?");
}
END_TEST

START_TEST(all_errors_reported_with_lines)
{
	ck_assert_uint_eq(load("[daemon]\n"             /* 1 */
			       "log_target = journal\n" /* 2 */
			       "\n"                     /* 3 */
			       "[sensor.syn]\n"         /* 4 */
			       "plugin = synthetic\n"   /* 5 */
			       "interval = 10\n"        /* 6 */
			       "shape = square\n"       /* 7 */
			       "\n"                     /* 8 */
			       "[rule.hot]\n"           /* 9 */
			       "plugin = threshold\n"   /* 10 */
			       "critical = lots\n"      /* 11 */
			       "\n"                     /* 12 */
			       "[gadget.x]\n"           /* 13 */
			       "[sensor.y]\n"           /* 14 */
			       "plugin = nope\n"        /* 15 */
			       "bogus line\n"           /* 16 */
			       "[sink.log]\n"           /* 17 */
			       "events = sometimes\n"),  /* 18 */
			  9);
	expect_error(2, "[daemon] log_target = 'journal'");
	expect_error(6, "[sensor.syn] interval = '10'");
	expect_error(7, "[sensor.syn] shape = 'square'");
	expect_error(9, "[rule.hot] required key 'match' is missing");
	expect_error(11, "[rule.hot] critical = 'lots': not a number");
	expect_error(13, "unknown section [gadget.x]");
	expect_error(15, "[sensor.y] plugin 'nope' not found");
	expect_error(16, "expected 'key = value' or '[section]'");
	expect_error(18, "[sink.log] events = 'sometimes': not a boolean");
}
END_TEST

/* ---------------------------------------------------------------- check */

START_TEST(check_runs_plugin_init)
{
	ck_assert_uint_eq(load(SYN "\n"
				   "[rule.hot]\n"
				   "plugin = threshold\n"
				   "match = synthetic.value\n"
				   "warning = 95\n"
				   "critical = 90\n"),
			  0);
	/* The values are valid numbers: only the plugin can tell. */
	ck_assert_uint_eq(vigil_daemon_check(&d, &errors, &warnings), 1);
	expect_error(4, "[rule.hot] the threshold plugin refused its "
			"configuration");
	/* Stopped again: check starts nothing for good. */
	ck_assert_int_eq(d.by_kind[VIGIL_KIND_RULE][0]->started, 0);
	ck_assert_int_eq(d.by_kind[VIGIL_KIND_RULE][0]->fatal, 1);
}
END_TEST

START_TEST(check_passes_good_configuration)
{
	ck_assert_uint_eq(load(SYN "\n"
				   "[rule.hot]\n"
				   "plugin = threshold\n"
				   "match = synthetic.value\n"
				   "warning = 80\n"
				   "critical = 90\n"
				   "hysteresis = 2\n"
				   "for = 30s\n"),
			  0);
	ck_assert_uint_eq(vigil_daemon_check(&d, &errors, &warnings), 0);
	ck_assert_msg(warnings.n == 0, "warnings:%s", unit_diag_text(&warnings));
	for (size_t i = 0; i < d.n_all; i++)
		ck_assert_int_eq(d.all[i]->started, 0);
}
END_TEST

START_TEST(check_threshold_without_levels)
{
	ck_assert_uint_eq(load(SYN "\n"
				   "[rule.hot]\n"
				   "plugin = threshold\n"
				   "match = synthetic.value\n"
				   "direction = below\n"
				   "warning = 10\n"
				   "critical = 20\n"
				   "\n"
				   "[rule.none]\n"
				   "plugin = threshold\n"
				   "match = synthetic.value\n"),
			  0);
	/* below: warning must not be under critical; and no level at all. */
	ck_assert_uint_eq(vigil_daemon_check(&d, &errors, &warnings), 2);
	expect_error(4, "[rule.hot] the threshold plugin refused");
	expect_error(11, "[rule.none] the threshold plugin refused");
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("sections");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, valid_configuration);
	tcase_add_test(tc, unknown_section_kind);
	tcase_add_test(tc, incidents_and_silences);
	tcase_add_test(tc, incidents_policy_checked);
	tcase_add_test(tc, incidents_and_silence_valid);
	tcase_add_test(tc, bad_instance_name);
	suite_add_tcase(s, tc);

	tc = tcase_create("keys");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, unknown_key_did_you_mean);
	tcase_add_test(tc, unknown_key_lists_known_keys);
	tcase_add_test(tc, bad_duration);
	tcase_add_test(tc, duration_out_of_range);
	tcase_add_test(tc, bad_bool);
	tcase_add_test(tc, bad_enum);
	tcase_add_test(tc, int_out_of_range);
	tcase_add_test(tc, supervision_settings_that_cannot_work);
	tcase_add_test(tc, supervision_settings_at_their_bounds);
	tcase_add_test(tc, bad_double);
	tcase_add_test(tc, hash_comment_tip);
	tcase_add_test(tc, hash_in_a_value_that_parses);
	tcase_add_test(tc, missing_required_key);
	tcase_add_test(tc, bad_selector);
	tcase_add_test(tc, selector_that_cannot_match_a_metric);
	suite_add_tcase(s, tc);

	tc = tcase_create("plugins");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, plugin_not_found);
	tcase_add_test(tc, kind_differs_from_section);
	tcase_add_test(tc, fixture_refusal_reported);
	tcase_add_test(tc, disabled_missing_plugin_warns);
	tcase_add_test(tc, no_sensor_warns);
	tcase_add_test(tc, missing_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("daemon");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, daemon_section_errors);
	tcase_add_test(tc, all_errors_reported_with_lines);
	suite_add_tcase(s, tc);

	tc = tcase_create("check");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, check_runs_plugin_init);
	tcase_add_test(tc, check_passes_good_configuration);
	tcase_add_test(tc, check_threshold_without_levels);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(config_suite());
}
