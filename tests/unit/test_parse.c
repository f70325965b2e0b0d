/*
 * test_parse.c - the pure parsers of core/parse.c: durations, sizes,
 * booleans, numbers, options checked against their schema, selectors and
 * names.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "parse.h"
#include "unit.h"
#include "util.h"

/* ------------------------------------------------------------- durations */

static const struct {
	const char *text;
	vigil_time_ns ns;
} good_durations[] = {
	{"250ms", 250 * VIGIL_MSEC},
	{"10s", 10 * VIGIL_SEC},
	{"5m", 300 * VIGIL_SEC},
	{"1h", 3600 * VIGIL_SEC},
	{"1h30m", 5400 * VIGIL_SEC},
	{"1d", 86400 * VIGIL_SEC},
	{"0", 0},
	{"1.5s", 1500 * VIGIL_MSEC},
	{"2m500ms", 120 * VIGIL_SEC + 500 * VIGIL_MSEC},
	{"10us", 10000},
	{"7ns", 7},
	{"106751d", 106751 * (86400 * VIGIL_SEC)},
};

START_TEST(duration_good)
{
	const char *text = good_durations[_i].text;
	vigil_time_ns out = -1;
	char why[256] = "";

	ck_assert_msg(vigil_parse_duration(text, &out, why, sizeof(why)) == 0,
		      "'%s' refused: %s", text, why);
	ck_assert_msg(out == good_durations[_i].ns, "'%s' gave %lld, not %lld",
		      text, (long long)out, (long long)good_durations[_i].ns);
}
END_TEST

START_TEST(duration_without_unit_suggests_one)
{
	vigil_time_ns out = 42;
	char why[256] = "";

	ck_assert_int_eq(vigil_parse_duration("10", &out, why, sizeof(why)),
			 -EINVAL);
	ck_assert_pstr_ne(strstr(why, "did you mean '10s'"), NULL);
	ck_assert_int_eq(out, 42); /* untouched on error */
}
END_TEST

static const char *const bad_durations[] = {
	"10x", "0x10s", "1e3s", "", "-5s", "s", "1h30", "ms10", "abc", "1 h", "nan", "5sec",
};

START_TEST(duration_bad)
{
	const char *text = bad_durations[_i];
	vigil_time_ns out = 0;
	char why[256] = "";

	ck_assert_msg(vigil_parse_duration(text, &out, why, sizeof(why)) ==
			      -EINVAL,
		      "'%s' accepted as %lld", text, (long long)out);
	ck_assert_msg(strstr(why, "not a duration") != NULL,
		      "'%s': unexpected reason '%s'", text, why);
	/* Only a bare number gets the hint: it would be wrong here. */
	ck_assert_ptr_null(strstr(why, "did you mean"));
}
END_TEST

START_TEST(duration_overflow)
{
	vigil_time_ns out = 0;
	char why[256] = "";

	ck_assert_int_eq(vigil_parse_duration("106752d", &out, why,
					      sizeof(why)),
			 -EINVAL);
	ck_assert_pstr_ne(strstr(why, "too long"), NULL);
	ck_assert_int_eq(vigil_parse_duration("99999999999999999999h", &out,
					      why, sizeof(why)),
			 -EINVAL);
	ck_assert_pstr_ne(strstr(why, "too long"), NULL);
}
END_TEST

START_TEST(duration_why_may_be_null)
{
	vigil_time_ns out;

	ck_assert_int_eq(vigil_parse_duration("10", &out, NULL, 0), -EINVAL);
	ck_assert_int_eq(vigil_parse_duration("x", &out, NULL, 0), -EINVAL);
}
END_TEST

START_TEST(format_duration_spellings)
{
	static const struct {
		vigil_time_ns ns;
		const char *text;
	} cases[] = {
		{0, "0"},
		{-5, "0"},
		{250 * VIGIL_MSEC, "250ms"},
		{10 * VIGIL_SEC, "10s"},
		{5400 * VIGIL_SEC, "1h30m"},
		{86400 * VIGIL_SEC + VIGIL_SEC, "1d1s"},
		{1500 * VIGIL_MSEC, "1s500ms"},
		{1001, "1us1ns"},
	};
	char buf[64];

	for (size_t i = 0; i < VIGIL_ARRAY_SIZE(cases); i++) {
		vigil_format_duration(cases[i].ns, buf, sizeof(buf));
		ck_assert_str_eq(buf, cases[i].text);
	}
}
END_TEST

START_TEST(format_duration_round_trip)
{
	static const vigil_time_ns values[] = {
		1,
		999,
		VIGIL_MSEC,
		10 * VIGIL_MSEC,
		VIGIL_SEC + 1,
		59 * VIGIL_SEC,
		61 * VIGIL_SEC,
		3600 * VIGIL_SEC + 1 * VIGIL_MSEC,
		7 * 86400 * VIGIL_SEC + 3 * 3600 * VIGIL_SEC + 2 * VIGIL_SEC,
		/* Exact below 2^53 ns (104 days) even where long double is
		 * only a double, as under valgrind. */
		100 * 86400 * VIGIL_SEC + 1,
	};
	char buf[64], why[256];

	for (size_t i = 0; i < VIGIL_ARRAY_SIZE(values); i++) {
		vigil_time_ns back = -1;

		vigil_format_duration(values[i], buf, sizeof(buf));
		ck_assert_msg(vigil_parse_duration(buf, &back, why,
						   sizeof(why)) == 0,
			      "'%s' does not parse: %s", buf, why);
		ck_assert_msg(back == values[i], "%lld -> '%s' -> %lld",
			      (long long)values[i], buf, (long long)back);
	}
}
END_TEST

START_TEST(format_duration_truncates_safely)
{
	char buf[4];

	memset(buf, 'x', sizeof(buf));
	vigil_format_duration(5400 * VIGIL_SEC + 7 * VIGIL_MSEC, buf,
			      sizeof(buf));
	ck_assert_int_lt(strlen(buf), sizeof(buf));
	ck_assert_str_eq(buf, "1h3"); /* "1h30m7ms" cut to fit */
}
END_TEST

/* ----------------------------------------------------------------- sizes */

START_TEST(size_good)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} cases[] = {
		{"512", 512},
		{"0", 0},
		{"64k", 64ull << 10},
		{"64K", 64ull << 10},
		{"10M", 10ull << 20},
		{"10m", 10ull << 20},
		{"1G", 1ull << 30},
		{"2T", 2ull << 40},
		{"64KB", 64ull << 10},
		{"64KiB", 64ull << 10},
		{"512B", 512},
	};
	char why[256];

	for (size_t i = 0; i < VIGIL_ARRAY_SIZE(cases); i++) {
		uint64_t out = 1;

		ck_assert_msg(vigil_parse_size(cases[i].text, &out, why,
					       sizeof(why)) == 0,
			      "'%s' refused: %s", cases[i].text, why);
		ck_assert_msg(out == cases[i].bytes, "'%s' gave %llu",
			      cases[i].text, (unsigned long long)out);
	}
}
END_TEST

START_TEST(size_bad)
{
	static const char *const bad[] = {
		"", "k", "-1", "1.5M", "12X", "64KBB", "512iB", "1 k", "M10",
	};
	char why[256];

	for (size_t i = 0; i < VIGIL_ARRAY_SIZE(bad); i++) {
		uint64_t out = 7;

		why[0] = '\0';
		ck_assert_msg(vigil_parse_size(bad[i], &out, why,
					       sizeof(why)) == -EINVAL,
			      "'%s' accepted as %llu", bad[i],
			      (unsigned long long)out);
		ck_assert_msg(strstr(why, "not a size") != NULL,
			      "'%s': reason '%s'", bad[i], why);
		ck_assert_int_eq(out, 7);
	}
}
END_TEST

START_TEST(size_overflow)
{
	uint64_t out = 0;
	char why[256] = "";

	/* Fits in 64 bits as a number, not once multiplied. */
	ck_assert_int_eq(vigil_parse_size("17179869184G", &out, why,
					  sizeof(why)),
			 -EINVAL);
	ck_assert_pstr_ne(strstr(why, "too large"), NULL);
	ck_assert_int_eq(vigil_parse_size("17179869183G", &out, why,
					  sizeof(why)),
			 0);
	ck_assert_uint_eq(out, 17179869183ull << 30);
	/* Too large even as a number. */
	ck_assert_int_eq(vigil_parse_size("18446744073709551616", &out, why,
					  sizeof(why)),
			 -EINVAL);
	ck_assert_str_eq(why, "size too large");
}
END_TEST

/* ------------------------------------------------------ bools, numbers */

START_TEST(bool_words)
{
	static const char *const yes[] = {"yes", "true", "on", "1", "YES",
					  "True"};
	static const char *const no[] = {"no", "false", "off", "0", "NO",
					 "Off"};
	char why[256];
	int b;

	for (size_t i = 0; i < VIGIL_ARRAY_SIZE(yes); i++) {
		b = -1;
		ck_assert_int_eq(vigil_parse_bool(yes[i], &b, why, sizeof(why)),
				 0);
		ck_assert_msg(b == 1, "'%s' gave %d", yes[i], b);
	}
	for (size_t i = 0; i < VIGIL_ARRAY_SIZE(no); i++) {
		b = -1;
		ck_assert_int_eq(vigil_parse_bool(no[i], &b, why, sizeof(why)),
				 0);
		ck_assert_msg(b == 0, "'%s' gave %d", no[i], b);
	}
}
END_TEST

START_TEST(bool_bad)
{
	static const char *const bad[] = {"maybe", "", "2", "y", "yes "};
	char why[256];
	int b;

	for (size_t i = 0; i < VIGIL_ARRAY_SIZE(bad); i++) {
		why[0] = '\0';
		ck_assert_msg(vigil_parse_bool(bad[i], &b, why, sizeof(why)) ==
				      -EINVAL,
			      "'%s' accepted", bad[i]);
		ck_assert_pstr_ne(strstr(why, "not a boolean"), NULL);
	}
}
END_TEST

START_TEST(int_values)
{
	char why[256];
	int64_t v;

	ck_assert_int_eq(vigil_parse_int("42", &v, why, sizeof(why)), 0);
	ck_assert_int_eq(v, 42);
	ck_assert_int_eq(vigil_parse_int("-7", &v, why, sizeof(why)), 0);
	ck_assert_int_eq(v, -7);
	ck_assert_int_eq(vigil_parse_int("9223372036854775807", &v, why,
					 sizeof(why)),
			 0);
	ck_assert(v == INT64_MAX);

	static const char *const bad[] = {"", "12abc", "1.5", "abc", "0x",
					  "0x10"};
	for (size_t i = 0; i < VIGIL_ARRAY_SIZE(bad); i++) {
		why[0] = '\0';
		ck_assert_msg(vigil_parse_int(bad[i], &v, why, sizeof(why)) ==
				      -EINVAL,
			      "'%s' accepted", bad[i]);
		ck_assert_pstr_ne(strstr(why, "not a whole number"), NULL);
	}
	/* A number, only too large: said so, not "not a whole number". */
	ck_assert_int_eq(vigil_parse_int("9223372036854775808", &v, why,
					 sizeof(why)),
			 -EINVAL);
	ck_assert_str_eq(why, "too large a number");
	ck_assert_int_eq(vigil_parse_int("-99999999999999999999", &v, why,
					 sizeof(why)),
			 -EINVAL);
	ck_assert_str_eq(why, "too large a number");
}
END_TEST

START_TEST(double_values)
{
	char why[256];
	double d;

	ck_assert_int_eq(vigil_parse_double("1.5", &d, why, sizeof(why)), 0);
	ck_assert_double_eq(d, 1.5);
	ck_assert_int_eq(vigil_parse_double("-2e3", &d, why, sizeof(why)), 0);
	ck_assert_double_eq(d, -2000);
	ck_assert_int_eq(vigil_parse_double("0", &d, why, sizeof(why)), 0);
	ck_assert_double_eq(d, 0);

	static const char *const bad[] = {"nan",  "NaN",   "inf", "-inf",
					  "infinity", "",    "abc",
					  "1.5x", "-nan", "0x10", "0x1p3"};
	for (size_t i = 0; i < VIGIL_ARRAY_SIZE(bad); i++) {
		why[0] = '\0';
		ck_assert_msg(vigil_parse_double(bad[i], &d, why,
						 sizeof(why)) == -EINVAL,
			      "'%s' accepted as %g", bad[i], d);
		ck_assert_pstr_ne(strstr(why, "not a number"), NULL);
	}
	ck_assert_int_eq(vigil_parse_double("1e999", &d, why, sizeof(why)),
			 -EINVAL);
	ck_assert_str_eq(why, "too large a number");
	ck_assert_int_eq(vigil_parse_double("0x10", &d, why, sizeof(why)),
			 -EINVAL);
	ck_assert_pstr_ne(strstr(why, "hexadecimal is not taken"), NULL);
}
END_TEST

START_TEST(severity_names)
{
	enum vigil_severity s = VIGIL_SEV_INFO;

	ck_assert_int_eq(vigil_parse_severity("critical", &s), 0);
	ck_assert_int_eq(s, VIGIL_SEV_CRITICAL);
	ck_assert_int_eq(vigil_parse_severity("Warning", &s), 0);
	ck_assert_int_eq(s, VIGIL_SEV_WARNING);
	ck_assert_int_eq(vigil_parse_severity("info", &s), 0);
	ck_assert_int_eq(s, VIGIL_SEV_INFO);
	ck_assert_int_eq(vigil_parse_severity("fatal", &s), -EINVAL);
}
END_TEST

/* --------------------------------------------------------------- options */

static int opt_ok(const struct vigil_option *o, const char *value,
		  union vigil_optval *v)
{
	char why[256];

	return vigil_option_parse(o, value, v, why, sizeof(why)) == 0;
}

/* Parses a value the option must refuse; returns the reason (static). */
static const char *opt_refused(const struct vigil_option *o,
			       const char *value)
{
	static char why[256];
	union vigil_optval v;

	why[0] = '\0';
	ck_assert_msg(vigil_option_parse(o, value, &v, why, sizeof(why)) ==
			      -EINVAL,
		      "%s = '%s' accepted", o->name, value);
	return why;
}

START_TEST(option_lower_bound_only)
{
	/* max 0 with min nonzero: a lower bound only. */
	const struct vigil_option o = {"period", VIGIL_OPT_INT, NULL, 1, 0,
				       NULL, NULL, 0};
	union vigil_optval v;
	const char *why;

	ck_assert(opt_ok(&o, "1", &v));
	ck_assert_int_eq(v.i, 1);
	ck_assert(opt_ok(&o, "1000000000", &v));
	ck_assert_int_eq(v.i, 1000000000);
	why = opt_refused(&o, "0");
	ck_assert_pstr_ne(strstr(why, "out of range"), NULL);
	ck_assert_pstr_ne(strstr(why, "at least 1"), NULL);
	opt_refused(&o, "-3");
}
END_TEST

START_TEST(option_both_bounds)
{
	const struct vigil_option o = {"reading_queue", VIGIL_OPT_INT, NULL,
				       16, 100, NULL, NULL, 0};
	union vigil_optval v;
	const char *why;

	ck_assert(opt_ok(&o, "16", &v));
	ck_assert(opt_ok(&o, "100", &v));
	ck_assert_int_eq(v.i, 100);
	why = opt_refused(&o, "15");
	ck_assert_str_eq(why, "out of range (expected a whole number from 16 "
			      "to 100)");
	why = opt_refused(&o, "101");
	ck_assert_pstr_ne(strstr(why, "from 16 to 100"), NULL);
	/* A value that does not parse says so, and what is allowed. */
	why = opt_refused(&o, "lots");
	ck_assert_pstr_ne(strstr(why, "not a whole number"), NULL);
	ck_assert_pstr_ne(strstr(why, "allowed: a whole number from 16 to "
				      "100"),
			  NULL);
}
END_TEST

START_TEST(option_no_bounds)
{
	const struct vigil_option o = {"value", VIGIL_OPT_DOUBLE, NULL, 0, 0,
				       NULL, NULL, 0};
	union vigil_optval v;
	const char *why;

	ck_assert(opt_ok(&o, "-1e300", &v));
	ck_assert_double_eq(v.d, -1e300);
	why = opt_refused(&o, "nan");
	ck_assert_str_eq(why, "not a number"); /* nothing appended */
}
END_TEST

START_TEST(option_double_bounds)
{
	const struct vigil_option o = {"x", VIGIL_OPT_DOUBLE, NULL, -10, 10.5,
				       NULL, NULL, 0};
	union vigil_optval v;
	const char *why;

	ck_assert(opt_ok(&o, "-10", &v));
	ck_assert(opt_ok(&o, "10.5", &v));
	ck_assert_double_eq(v.d, 10.5);
	why = opt_refused(&o, "10.6");
	ck_assert_str_eq(why, "out of range (expected a number from -10 to "
			      "10.5)");
	opt_refused(&o, "-10.01");
}
END_TEST

START_TEST(option_duration_bounds)
{
	const struct vigil_option o = {"interval", VIGIL_OPT_DURATION, NULL,
				       (double)(10 * VIGIL_MSEC),
				       (double)(86400 * VIGIL_SEC), NULL, NULL,
				       0};
	union vigil_optval v;
	const char *why;

	ck_assert(opt_ok(&o, "10ms", &v));
	ck_assert_int_eq(v.i, 10 * VIGIL_MSEC);
	ck_assert(opt_ok(&o, "1d", &v));
	why = opt_refused(&o, "5ms");
	ck_assert_str_eq(why, "out of range (expected a duration from 10ms "
			      "to 1d)");
	opt_refused(&o, "1d1s");
	why = opt_refused(&o, "10");
	ck_assert_pstr_ne(strstr(why, "did you mean '10s'"), NULL);
	ck_assert_pstr_ne(strstr(why, "allowed: a duration from 10ms to 1d"),
			  NULL);
}
END_TEST

START_TEST(option_size_lower_bound)
{
	const struct vigil_option o = {"buf", VIGIL_OPT_SIZE, NULL, 1024, 0,
				       NULL, NULL, 0};
	union vigil_optval v;
	const char *why;

	ck_assert(opt_ok(&o, "1k", &v));
	ck_assert_uint_eq(v.u, 1024);
	ck_assert(opt_ok(&o, "1T", &v));
	why = opt_refused(&o, "1023");
	ck_assert_str_eq(why, "out of range (expected a size of at least "
			      "1024 bytes)");
}
END_TEST

START_TEST(option_enum)
{
	const struct vigil_option o = {"direction", VIGIL_OPT_ENUM, NULL, 0, 0,
				       "above|below|either", NULL, 0};
	union vigil_optval v;
	const char *why;

	ck_assert(opt_ok(&o, "above", &v));
	ck_assert_int_eq(v.i, 0);
	ck_assert(opt_ok(&o, "either", &v));
	ck_assert_int_eq(v.i, 2);
	why = opt_refused(&o, "sideways");
	ck_assert_str_eq(why, "not allowed (expected one of above, below, "
			      "either)");
	/* A prefix or a case variant of a choice is not the choice. */
	opt_refused(&o, "abov");
	opt_refused(&o, "aboveX");
	opt_refused(&o, "Above");
	opt_refused(&o, "");
}
END_TEST

START_TEST(option_bool_and_string)
{
	const struct vigil_option b = {"enabled", VIGIL_OPT_BOOL, NULL, 0, 0,
				       NULL, NULL, 0};
	const struct vigil_option s = {"path", VIGIL_OPT_STRING, NULL, 0, 0,
				       NULL, NULL, 0};
	union vigil_optval v;
	const char *why;

	ck_assert(opt_ok(&b, "off", &v));
	ck_assert_int_eq(v.i, 0);
	why = opt_refused(&b, "maybe");
	ck_assert_pstr_ne(strstr(why, "not a boolean"), NULL);
	ck_assert(opt_ok(&s, "", &v));
	ck_assert(opt_ok(&s, "anything at all {}", &v));
}
END_TEST

START_TEST(option_describe)
{
	const struct vigil_option d = {"d", VIGIL_OPT_DURATION, NULL,
				       (double)VIGIL_SEC, 0, NULL, NULL, 0};
	const struct vigil_option e = {"e", VIGIL_OPT_ENUM, NULL, 0, 0,
				       "a|b", NULL, 0};
	char buf[128];

	vigil_option_describe(&d, buf, sizeof(buf));
	ck_assert_str_eq(buf, "a duration of at least 1s");
	vigil_option_describe(&e, buf, sizeof(buf));
	ck_assert_str_eq(buf, "one of a, b");
}
END_TEST

/* ------------------------------------------------------------- selectors */

static struct vigil_selector sel_parse(const char *text)
{
	struct vigil_selector sel;
	char why[256] = "";

	ck_assert_msg(vigil_selector_parse(text, &sel, why, sizeof(why)) == 0,
		      "'%s' refused: %s", text, why);
	return sel;
}

START_TEST(selector_errors)
{
	static const struct {
		const char *text;
		const char *why;
	} bad[] = {
		{"", "empty selector"},
		{"   ", "empty selector"},
		{"cpu{", "not a selector"},
		{"cpu{mount}", "not a selector"},
		{"cpu{a=1", "not a selector"},
		{"cpu{=x}", "empty label name"},
		{"cpu{a=1}x", "unexpected 'x' after '}'"},
		{"ok disk{mount=/", "not a selector"},
		/* A space before '{' would make a second term that matches
		 * nothing, leaving "net.*" to match every label value. */
		{"net.* {iface=eth0}", "before '{'"},
		{"{mount=/}", "before '{'"},
		/* Labels a reading can never have. */
		{"a{b c=d}", "label name 'b c' cannot match"},
		{"a{b/x=d}", "label name 'b/x' cannot match"},
		{"a{b=c d=e}", "'=' inside a value (a ',' missing"},
		{"a{b=c,b=d}", "label b twice"},
	};

	for (size_t i = 0; i < VIGIL_ARRAY_SIZE(bad); i++) {
		struct vigil_selector sel;
		char why[256] = "";

		ck_assert_msg(vigil_selector_parse(bad[i].text, &sel, why,
						   sizeof(why)) == -EINVAL,
			      "'%s' accepted", bad[i].text);
		ck_assert_msg(strstr(why, bad[i].why) != NULL,
			      "'%s': reason '%s', expected '%s'", bad[i].text,
			      why, bad[i].why);
		/* Nothing is left allocated on failure. */
		ck_assert_ptr_null(sel.terms);
		ck_assert_uint_eq(sel.n_terms, 0);
	}
}
END_TEST

START_TEST(selector_glob_metric)
{
	struct vigil_selector sel = sel_parse("disk.*");

	ck_assert_uint_eq(sel.n_terms, 1);
	ck_assert_str_eq(sel.terms[0].metric, "disk.*");
	ck_assert(vigil_selector_match(&sel, "disk.used_percent", NULL, 0));
	ck_assert(vigil_selector_match(&sel, "disk.", NULL, 0));
	ck_assert(!vigil_selector_match(&sel, "cpu.usage_percent", NULL, 0));
	ck_assert(!vigil_selector_match(&sel, "xdisk.used", NULL, 0));
	vigil_selector_free(&sel);

	sel = sel_parse("cpu.usage_percent");
	ck_assert(vigil_selector_match(&sel, "cpu.usage_percent", NULL, 0));
	ck_assert(!vigil_selector_match(&sel, "cpu.usage_percentage", NULL, 0));
	vigil_selector_free(&sel);
}
END_TEST

START_TEST(selector_label_equality)
{
	struct vigil_selector sel = sel_parse("disk.used_percent{mount=/}");
	const struct vigil_label root[] = {{"device", "sda1"}, {"mount", "/"}};
	const struct vigil_label home[] = {{"mount", "/home"}};
	const struct vigil_label other[] = {{"device", "/"}};

	ck_assert_uint_eq(sel.terms[0].n_labels, 1);
	ck_assert_str_eq(sel.terms[0].labels[0].key, "mount");
	ck_assert_str_eq(sel.terms[0].labels[0].value, "/");
	ck_assert(vigil_selector_match(&sel, "disk.used_percent", root, 2));
	ck_assert(!vigil_selector_match(&sel, "disk.used_percent", home, 1));
	/* The label is missing: no match, even if another has the value. */
	ck_assert(!vigil_selector_match(&sel, "disk.used_percent", other, 1));
	ck_assert(!vigil_selector_match(&sel, "disk.used_percent", NULL, 0));
	ck_assert(!vigil_selector_match(&sel, "disk.free", root, 2));
	vigil_selector_free(&sel);
}
END_TEST

START_TEST(selector_several_labels_and_globs)
{
	struct vigil_selector sel =
		sel_parse("net.*{ iface = eth* , dir=rx }");
	const struct vigil_label both[] = {{"dir", "rx"}, {"iface", "eth0"}};
	const struct vigil_label tx[] = {{"dir", "tx"}, {"iface", "eth0"}};
	const struct vigil_label wlan[] = {{"dir", "rx"}, {"iface", "wlan0"}};
	const struct vigil_label one[] = {{"iface", "eth0"}};

	ck_assert_uint_eq(sel.terms[0].n_labels, 2);
	ck_assert_str_eq(sel.terms[0].labels[0].key, "iface"); /* trimmed */
	ck_assert_str_eq(sel.terms[0].labels[0].value, "eth*");
	ck_assert(vigil_selector_match(&sel, "net.bytes", both, 2));
	ck_assert(!vigil_selector_match(&sel, "net.bytes", tx, 2));
	ck_assert(!vigil_selector_match(&sel, "net.bytes", wlan, 2));
	ck_assert(!vigil_selector_match(&sel, "net.bytes", one, 1));
	vigil_selector_free(&sel);
}
END_TEST

START_TEST(selector_several_terms)
{
	struct vigil_selector sel =
		sel_parse("  cpu.*   disk.used_percent{mount=/} load.1 ");
	const struct vigil_label root[] = {{"mount", "/"}};
	const struct vigil_label boot[] = {{"mount", "/boot"}};

	ck_assert_uint_eq(sel.n_terms, 3);
	ck_assert(vigil_selector_match(&sel, "cpu.usage_percent", NULL, 0));
	ck_assert(vigil_selector_match(&sel, "cpu.usage_percent", boot, 1));
	ck_assert(vigil_selector_match(&sel, "disk.used_percent", root, 1));
	ck_assert(!vigil_selector_match(&sel, "disk.used_percent", boot, 1));
	ck_assert(vigil_selector_match(&sel, "load.1", NULL, 0));
	ck_assert(!vigil_selector_match(&sel, "load.5", NULL, 0));
	vigil_selector_free(&sel);
	/* Freeing twice is harmless: free resets the selector. */
	vigil_selector_free(&sel);
}
END_TEST

START_TEST(selector_empty_braces_and_value)
{
	struct vigil_selector sel = sel_parse("x{} y{mount=}");
	const struct vigil_label empty[] = {{"mount", ""}};
	const struct vigil_label set[] = {{"mount", "/"}};

	ck_assert_uint_eq(sel.n_terms, 2);
	ck_assert_uint_eq(sel.terms[0].n_labels, 0);
	ck_assert(vigil_selector_match(&sel, "x", set, 1));
	ck_assert(vigil_selector_match(&sel, "y", empty, 1));
	ck_assert(!vigil_selector_match(&sel, "y", set, 1));
	vigil_selector_free(&sel);
}
END_TEST

/* ----------------------------------------------------------------- names */

START_TEST(names)
{
	ck_assert(vigil_valid_name("cpu"));
	ck_assert(vigil_valid_name("disk_root-2"));
	ck_assert(vigil_valid_name("A"));
	ck_assert(!vigil_valid_name(""));
	ck_assert(!vigil_valid_name("a.b"));
	ck_assert(!vigil_valid_name("a b"));
	ck_assert(!vigil_valid_name("a/b"));
	ck_assert(!vigil_valid_name("caf\xc3\xa9"));

	ck_assert(vigil_valid_metric("cpu.usage_percent"));
	ck_assert(vigil_valid_metric("a:b-c.d_e9"));
	ck_assert(!vigil_valid_metric(""));
	ck_assert(!vigil_valid_metric(NULL));
	ck_assert(!vigil_valid_metric("cpu usage"));
	ck_assert(!vigil_valid_metric("cpu/usage"));
	ck_assert(!vigil_valid_metric("cpu{x}"));
	ck_assert(!vigil_valid_metric("cpu*"));
}
END_TEST

START_TEST(edit_distance)
{
	char longer[80];

	ck_assert_uint_eq(vigil_edit_distance("", ""), 0);
	ck_assert_uint_eq(vigil_edit_distance("abc", "abc"), 0);
	ck_assert_uint_eq(vigil_edit_distance("", "abc"), 3);
	ck_assert_uint_eq(vigil_edit_distance("abc", ""), 3);
	ck_assert_uint_eq(vigil_edit_distance("interval", "intervl"), 1);
	ck_assert_uint_eq(vigil_edit_distance("interval", "intervall"), 1);
	ck_assert_uint_eq(vigil_edit_distance("interval", "interbal"), 1);
	ck_assert_uint_eq(vigil_edit_distance("kitten", "sitting"), 3);
	ck_assert_uint_eq(vigil_edit_distance("sitting", "kitten"), 3);
	ck_assert_uint_eq(vigil_edit_distance("flaw", "lawn"), 2);
	/* Past its buffer it answers "far", never a wrong small number. */
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	ck_assert_uint_eq(vigil_edit_distance(longer, "a"), (size_t)-1);
	ck_assert_uint_eq(vigil_edit_distance("a", longer), (size_t)-1);
}
END_TEST

static Suite *parse_suite(void)
{
	Suite *s = suite_create("parse");
	TCase *tc;

	tc = tcase_create("duration");
	tcase_add_loop_test(tc, duration_good, 0,
			    (int)VIGIL_ARRAY_SIZE(good_durations));
	tcase_add_test(tc, duration_without_unit_suggests_one);
	tcase_add_loop_test(tc, duration_bad, 0,
			    (int)VIGIL_ARRAY_SIZE(bad_durations));
	tcase_add_test(tc, duration_overflow);
	tcase_add_test(tc, duration_why_may_be_null);
	tcase_add_test(tc, format_duration_spellings);
	tcase_add_test(tc, format_duration_round_trip);
	tcase_add_test(tc, format_duration_truncates_safely);
	suite_add_tcase(s, tc);

	tc = tcase_create("size");
	tcase_add_test(tc, size_good);
	tcase_add_test(tc, size_bad);
	tcase_add_test(tc, size_overflow);
	suite_add_tcase(s, tc);

	tc = tcase_create("scalar");
	tcase_add_test(tc, bool_words);
	tcase_add_test(tc, bool_bad);
	tcase_add_test(tc, int_values);
	tcase_add_test(tc, double_values);
	tcase_add_test(tc, severity_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("option");
	tcase_add_test(tc, option_lower_bound_only);
	tcase_add_test(tc, option_both_bounds);
	tcase_add_test(tc, option_no_bounds);
	tcase_add_test(tc, option_double_bounds);
	tcase_add_test(tc, option_duration_bounds);
	tcase_add_test(tc, option_size_lower_bound);
	tcase_add_test(tc, option_enum);
	tcase_add_test(tc, option_bool_and_string);
	tcase_add_test(tc, option_describe);
	suite_add_tcase(s, tc);

	tc = tcase_create("selector");
	tcase_add_test(tc, selector_errors);
	tcase_add_test(tc, selector_glob_metric);
	tcase_add_test(tc, selector_label_equality);
	tcase_add_test(tc, selector_several_labels_and_globs);
	tcase_add_test(tc, selector_several_terms);
	tcase_add_test(tc, selector_empty_braces_and_value);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_test(tc, names);
	tcase_add_test(tc, edit_distance);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(parse_suite());
}
