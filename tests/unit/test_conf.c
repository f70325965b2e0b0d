/*
 * test_conf.c - reading INI text (core/conf.c): sections, keys and their
 * line numbers, comments, and every syntax error reported with its line.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "unit.h"
#include "util.h"

static struct vigil_conf conf;
static struct vigil_diag diag;

static void setup(void)
{
	memset(&conf, 0, sizeof(conf));
	memset(&diag, 0, sizeof(diag));
}

static void teardown(void)
{
	vigil_conf_free(&conf);
	vigil_diag_free(&diag);
}

static void load(const char *text)
{
	ck_assert_int_eq(vigil_conf_load_string(text, "t.ini", &conf, &diag),
			 0);
}

/* The entry `key` of section `sec`, which must exist. */
static const struct vigil_conf_entry *entry(const char *sec, const char *key)
{
	const struct vigil_conf_section *s = vigil_conf_section(&conf, sec);
	const struct vigil_conf_entry *e;

	ck_assert_msg(s != NULL, "no section [%s]", sec);
	e = vigil_conf_entry(s, key);
	ck_assert_msg(e != NULL, "no key '%s' in [%s]", key, sec);
	return e;
}

#define ck_assert_entry(sec, key, value_, line_)                              \
	do {                                                                  \
		const struct vigil_conf_entry *e_ = entry((sec), (key));      \
		ck_assert_str_eq(e_->value, (value_));                        \
		ck_assert_int_eq(e_->line, (line_));                          \
	} while (0)

#define ck_assert_no_diag()                                                   \
	ck_assert_msg(diag.n == 0, "unexpected diagnostics:%s",               \
		      unit_diag_text(&diag))

START_TEST(keys_and_lines)
{
	load("; a comment\n"                   /* 1 */
	     "# another comment\n"             /* 2 */
	     "\n"                              /* 3 */
	     "[daemon]\n"                      /* 4 */
	     "log_level = debug\n"             /* 5 */
	     "  state_dir   =   /var/lib/x  \n" /* 6 */
	     "\n"                              /* 7 */
	     "[sensor.cpu]\n"                  /* 8 */
	     "interval = 5s ; inline comment\n" /* 9 */
	     "\tplugin = cpu\n"                /* 10 */
	     "metric = a # b\n"                /* 11 */
	     "unit = a;b\n"                    /* 12 */
	     "empty =\n"                       /* 13 */
	     "    ; an indented comment\n"     /* 14 */
	     "colon: 1\n");                    /* 15 */
	ck_assert_no_diag();
	ck_assert_str_eq(conf.path, "t.ini");
	ck_assert_uint_eq(conf.n, 2);
	ck_assert_str_eq(conf.sections[0].name, "daemon");
	ck_assert_int_eq(conf.sections[0].line, 4);
	ck_assert_str_eq(conf.sections[1].name, "sensor.cpu");
	ck_assert_int_eq(conf.sections[1].line, 8);
	ck_assert_uint_eq(conf.sections[0].n, 2);
	ck_assert_uint_eq(conf.sections[1].n, 6);

	ck_assert_entry("daemon", "log_level", "debug", 5);
	ck_assert_entry("daemon", "state_dir", "/var/lib/x", 6);
	ck_assert_entry("sensor.cpu", "interval", "5s", 9);
	ck_assert_entry("sensor.cpu", "plugin", "cpu", 10);
	/* '#' is a comment only at the start of a line; ';' inline only
	 * after a blank. */
	ck_assert_entry("sensor.cpu", "metric", "a # b", 11);
	ck_assert_entry("sensor.cpu", "unit", "a;b", 12);
	ck_assert_entry("sensor.cpu", "empty", "", 13);
	ck_assert_entry("sensor.cpu", "colon", "1", 15);
}
END_TEST

START_TEST(indented_key_is_not_a_continuation)
{
	/* inih would append an indented line to the previous value. */
	load("[a]\n"
	     "first = one\n"
	     "    second = two\n"
	     "\t\tthird = three\n");
	ck_assert_no_diag();
	ck_assert_entry("a", "first", "one", 2);
	ck_assert_entry("a", "second", "two", 3);
	ck_assert_entry("a", "third", "three", 4);
	ck_assert_uint_eq(conf.sections[0].n, 3);
}
END_TEST

START_TEST(indented_section_header)
{
	load("  [a]\n"
	     "x = 1\n"
	     "   [b]  ; trailing comment\n"
	     "y = 2\n");
	ck_assert_no_diag();
	ck_assert_entry("a", "x", "1", 2);
	ck_assert_entry("b", "y", "2", 4);
	ck_assert_int_eq(conf.sections[1].line, 3);
}
END_TEST

START_TEST(crlf_line_endings)
{
	load("[a]\r\n"
	     "x = 1\r\n"
	     "\r\n"
	     "; comment\r\n"
	     "[b]\r\n"
	     "y = two words\r\n"
	     "z =\r\n");
	ck_assert_no_diag();
	ck_assert_uint_eq(conf.n, 2);
	ck_assert_str_eq(conf.sections[1].name, "b");
	ck_assert_entry("a", "x", "1", 2);
	ck_assert_entry("b", "y", "two words", 6);
	ck_assert_entry("b", "z", "", 7);
}
END_TEST

START_TEST(no_final_newline)
{
	load("[a]\nx = 1");
	ck_assert_no_diag();
	ck_assert_entry("a", "x", "1", 2);
}
END_TEST

START_TEST(utf8_bom)
{
	/* A BOM, as some editors write, before the first header. */
	load("\xef\xbb\xbf[a]\n"
	     "x = 1\n");
	ck_assert_no_diag();
	ck_assert_uint_eq(conf.n, 1);
	ck_assert_str_eq(conf.sections[0].name, "a");
	ck_assert_entry("a", "x", "1", 2);
}
END_TEST

START_TEST(empty_text)
{
	load("");
	ck_assert_no_diag();
	ck_assert_uint_eq(conf.n, 0);
	ck_assert_ptr_null(vigil_conf_section(&conf, "daemon"));
	ck_assert_ptr_null(vigil_conf_entry(NULL, "x"));
}
END_TEST

START_TEST(long_line)
{
	char text[1024], key[256];
	const char *m;

	/* 198 characters fit inih's 200-byte line with "\n" and NUL. */
	memset(key, 'k', 194);
	key[194] = '\0';
	snprintf(text, sizeof(text), "[a]\n%s = v\n", key);
	ck_assert_uint_eq(strlen(text), 4 + 198 + 1);
	load(text);
	ck_assert_no_diag();
	ck_assert_entry("a", key, "v", 2);
	vigil_conf_free(&conf);

	/* One more is refused, not silently split into two lines. */
	key[194] = 'k';
	key[195] = '\0';
	snprintf(text, sizeof(text), "[a]\nx = 1\n%s = v\ny = 2\n", key);
	load(text);
	ck_assert_uint_eq(diag.n, 1);
	m = diag.msgs[0];
	ck_assert_pstr_ne(strstr(m, "t.ini:3: line is longer than 198 "
				    "characters"),
			  NULL);
	ck_assert_entry("a", "x", "1", 2);
	ck_assert_entry("a", "y", "2", 4);
	ck_assert_uint_eq(conf.sections[0].n, 2);
}
END_TEST

START_TEST(very_long_line)
{
	/* Longer than the reader's own buffer: the rest of the line is
	 * skipped, and later lines keep their numbers. */
	size_t n = 10000;
	char *text = vigil_xmalloc(n + 64);
	char *p = text;

	p += sprintf(p, "[a]\nv = ");
	memset(p, 'x', n);
	p += n;
	strcpy(p, "\nafter = 1\n");
	load(text);
	ck_assert_uint_eq(diag.n, 1);
	ck_assert_diag(&diag, "t.ini:2: line is longer than", NULL, NULL);
	ck_assert_entry("a", "after", "1", 3);
	ck_assert_ptr_null(vigil_conf_entry(&conf.sections[0], "v"));
	free(text);
}
END_TEST

START_TEST(unclosed_section)
{
	load("[a]\n"
	     "x = 1\n"
	     "[section\n"
	     "y = 2\n");
	ck_assert_diag(&diag, "t.ini:3: section header '[section' has no "
			      "closing ']'",
		       NULL, NULL);
	/* The key under it is not quietly filed under [a]. */
	ck_assert_ptr_null(vigil_conf_entry(&conf.sections[0], "y"));
	ck_assert_uint_eq(conf.n, 1);
}
END_TEST

START_TEST(garbage_line)
{
	load("[a]\n"
	     "x = 1\n"
	     "this is not a key\n"
	     "y = 2\n");
	ck_assert_uint_eq(diag.n, 1);
	ck_assert_str_eq(diag.msgs[0],
			 "t.ini:3: expected 'key = value' or '[section]', "
			 "found 'this is not a key'");
	ck_assert_entry("a", "y", "2", 4);
}
END_TEST

START_TEST(missing_key)
{
	load("[a]\n"
	     "= 1\n"
	     "  : 2\n");
	ck_assert_uint_eq(diag.n, 2);
	ck_assert_str_eq(diag.msgs[0], "t.ini:2: a key is missing before '='");
	ck_assert_str_eq(diag.msgs[1], "t.ini:3: a key is missing before ':'");
	ck_assert_uint_eq(conf.sections[0].n, 0);
}
END_TEST

START_TEST(key_before_any_section)
{
	load("; header comment\n"
	     "x = 1\n"
	     "[a]\n"
	     "y = 2\n");
	ck_assert_uint_eq(diag.n, 1);
	ck_assert_diag(&diag, "t.ini:2: key 'x' is outside any section",
		       NULL, NULL);
	ck_assert_entry("a", "y", "2", 4);
	ck_assert_ptr_null(vigil_conf_entry(&conf.sections[0], "x"));
}
END_TEST

START_TEST(duplicate_key)
{
	load("[a]\n"
	     "x = first\n"
	     "y = 1\n"
	     "\n"
	     "x = second\n");
	ck_assert_uint_eq(diag.n, 1);
	ck_assert_str_eq(diag.msgs[0], "t.ini:5: [a] key 'x' is set twice "
				       "(first at line 2); keep one");
	ck_assert_entry("a", "x", "first", 2);
}
END_TEST

START_TEST(duplicate_section)
{
	load("[a]\n"
	     "x = 1\n"
	     "[b]\n"
	     "[a]\n"
	     "y = 2\n"
	     "x = 3\n");
	ck_assert_diag(&diag, "t.ini:4: section [a] appears twice (first at "
			      "line 1)",
		       NULL, NULL);
	/* Its keys are checked as if merged: the repeated x is named. */
	ck_assert_diag(&diag, "t.ini:6: [a] key 'x' is set twice (first at "
			      "line 2)",
		       NULL, NULL);
	ck_assert_uint_eq(diag.n, 2);
	ck_assert_uint_eq(conf.n, 2);
	ck_assert_entry("a", "y", "2", 5);
}
END_TEST

START_TEST(junk_after_header)
{
	load("[a] junk\n"
	     "x = 1\n");
	ck_assert_uint_eq(diag.n, 1);
	ck_assert_str_eq(diag.msgs[0], "t.ini:1: unexpected 'junk' after "
				       "section header [a]");
	ck_assert_entry("a", "x", "1", 2);
}
END_TEST

START_TEST(every_error_is_listed)
{
	load("[a]\n"                 /* 1 */
	     "garbage\n"             /* 2: no '=' */
	     "x = 1\n"               /* 3 */
	     "x = 2\n"               /* 4: set twice */
	     "ok = yes\n"            /* 5 */
	     "[b] trailing\n"        /* 6: junk after header */
	     "z = 1\n"               /* 7 */
	     "= lonely\n");          /* 8: no key */
	ck_assert_msg(diag.n == 4, "expected 4 diagnostics:%s",
		      unit_diag_text(&diag));
	ck_assert_pstr_ne(strstr(diag.msgs[0], "t.ini:2: expected 'key = "
					       "value'"),
			  NULL);
	ck_assert_pstr_ne(strstr(diag.msgs[1], "t.ini:4: [a] key 'x' is set "
					       "twice"),
			  NULL);
	ck_assert_pstr_ne(strstr(diag.msgs[2], "t.ini:6: unexpected "
					       "'trailing'"),
			  NULL);
	ck_assert_pstr_ne(strstr(diag.msgs[3], "t.ini:8: a key is missing"),
			  NULL);
	/* What was fine is still read. */
	ck_assert_entry("a", "ok", "yes", 5);
	ck_assert_entry("b", "z", "1", 7);
}
END_TEST

START_TEST(load_file)
{
	char *path = unit_write_temp("# vigil\n"
				     "[daemon]\n"
				     "\n"
				     "log_level = warning\n");

	ck_assert_int_eq(vigil_conf_load(path, &conf, &diag), 0);
	ck_assert_no_diag();
	ck_assert_str_eq(conf.path, path);
	ck_assert_entry("daemon", "log_level", "warning", 4);
	unlink(path);
	free(path);
}
END_TEST

START_TEST(load_file_errors_name_the_file)
{
	char *path = unit_write_temp("[a]\nnonsense\n");
	char *want = vigil_xasprintf("%s:2: expected", path);

	ck_assert_int_eq(vigil_conf_load(path, &conf, &diag), 0);
	ck_assert_uint_eq(diag.n, 1);
	ck_assert_diag(&diag, want, NULL, NULL);
	unlink(path);
	free(want);
	free(path);
}
END_TEST

START_TEST(load_missing_file)
{
	ck_assert_int_eq(vigil_conf_load("/nonexistent/vigil.ini", &conf,
					 &diag),
			 -ENOENT);
	ck_assert_uint_eq(diag.n, 1);
	ck_assert_str_eq(diag.msgs[0], "/nonexistent/vigil.ini: cannot read "
				       "the configuration: No such file or "
				       "directory");
	/* A conf is returned anyway, empty, for later checks. */
	ck_assert_str_eq(conf.path, "/nonexistent/vigil.ini");
	ck_assert_uint_eq(conf.n, 0);
}
END_TEST

START_TEST(diag_collects_in_order)
{
	struct vigil_diag d = {0};

	for (int i = 0; i < 20; i++)
		vigil_diag_add(&d, "message %d of %s", i, "twenty");
	ck_assert_uint_eq(d.n, 20);
	ck_assert_str_eq(d.msgs[0], "message 0 of twenty");
	ck_assert_str_eq(d.msgs[19], "message 19 of twenty");
	vigil_diag_free(&d);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_ptr_null(d.msgs);
}
END_TEST

static Suite *conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc;

	tc = tcase_create("read");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, keys_and_lines);
	tcase_add_test(tc, indented_key_is_not_a_continuation);
	tcase_add_test(tc, indented_section_header);
	tcase_add_test(tc, crlf_line_endings);
	tcase_add_test(tc, no_final_newline);
	tcase_add_test(tc, utf8_bom);
	tcase_add_test(tc, empty_text);
	tcase_add_test(tc, load_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, long_line);
	tcase_add_test(tc, very_long_line);
	tcase_add_test(tc, unclosed_section);
	tcase_add_test(tc, garbage_line);
	tcase_add_test(tc, missing_key);
	tcase_add_test(tc, key_before_any_section);
	tcase_add_test(tc, duplicate_key);
	tcase_add_test(tc, duplicate_section);
	tcase_add_test(tc, junk_after_header);
	tcase_add_test(tc, every_error_is_listed);
	tcase_add_test(tc, load_file_errors_name_the_file);
	tcase_add_test(tc, load_missing_file);
	tcase_add_test(tc, diag_collects_in_order);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(conf_suite());
}
