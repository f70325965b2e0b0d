/*
 * test_conf.c - reading INI text (core/conf.c): sections, keys and their
 * line numbers, comments, and every syntax error reported with its line.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

#define ck_assert_ndiag(n_)                                                   \
	ck_assert_msg(diag.n == (n_), "expected %d diagnostics:%s", (n_),      \
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
	/* inih's buffer is 200 bytes (Debian's build); longer lines reach it
	 * through the reader, whole. */
	size_t n = 5000;
	char *value = vigil_xmalloc(n + 1), *text, key[256];

	memset(value, 'v', n);
	value[n] = '\0';
	memset(key, 'k', 180);
	key[180] = '\0';
	text = vigil_xasprintf("; %s\n"        /* 1: a long comment */
			       "[a]\n"          /* 2 */
			       "x = 1\n"        /* 3 */
			       "long = %s\n"    /* 4 */
			       "spaced :  %s  ; a comment after it\n" /* 5 */
			       "%s = %s\n"      /* 6: a long key too */
			       "y = 2\n",       /* 7 */
			       value, value, value, key, value);
	load(text);
	ck_assert_no_diag();
	ck_assert_entry("a", "x", "1", 3);
	ck_assert_entry("a", "long", value, 4);
	ck_assert_entry("a", "spaced", value, 5);
	ck_assert_entry("a", key, value, 6);
	ck_assert_entry("a", "y", "2", 7);
	ck_assert_uint_eq(conf.sections[0].n, 5);
	free(text);

	/* A key too long for inih even alone is refused, not split. */
	vigil_conf_free(&conf);
	vigil_diag_free(&diag);
	text = vigil_xasprintf("[a]\n%s = v\ny = 2\n", value);
	load(text);
	ck_assert_uint_eq(diag.n, 1);
	ck_assert_str_eq(diag.msgs[0], "t.ini:2: a key of 5000 characters; "
				       "expected a short name");
	ck_assert_entry("a", "y", "2", 3);
	ck_assert_uint_eq(conf.sections[0].n, 1);
	free(text);
	free(value);
}
END_TEST

START_TEST(long_line_split_as_inih_splits)
{
	/* The reader splits a long line itself: it must split as inih does
	 * a short one. */
	size_t n = 300;
	char *b = vigil_xmalloc(n + 1), *text;

	memset(b, 'B', n);
	b[n] = '\0';
	text = vigil_xasprintf("[a]\n"
			       "empty = ;%s\n"            /* 2: all comment */
			       "x%-190s= %s\n"            /* 3: blanks, then = */
			       "crlf = %s\r\n"           /* 4 */
			       "short = ;B\n",            /* 5: as inih */
			       b, "", b, b);
	load(text);
	ck_assert_no_diag();
	ck_assert_entry("a", "empty", "", 2);
	ck_assert_entry("a", "x", b, 3);
	ck_assert_entry("a", "crlf", b, 4);
	ck_assert_entry("a", "short", "", 5);
	free(text);
	free(b);

	/* A line of exactly the longest length, with CRLF. */
	vigil_conf_free(&conf);
	vigil_diag_free(&diag);
	n = 65535 - strlen("v = ");
	b = vigil_xmalloc(n + 1);
	memset(b, 'v', n);
	b[n] = '\0';
	text = vigil_xasprintf("[a]\r\nv = %s\r\n", b);
	load(text);
	ck_assert_no_diag();
	ck_assert_entry("a", "v", b, 2);
	free(text);
	free(b);
}
END_TEST

START_TEST(comment_before_the_separator)
{
	/* inih stops at " ;" before any '=' and refuses the line without a
	 * word: the reader says so. */
	load("[a]\n"
	     "metric ;c = BAD\n"
	     "see the docs ; http://example.org/x\n"
	     "ok = 1\n");
	ck_assert_ndiag(2);
	ck_assert_str_eq(diag.msgs[0], "t.ini:2: expected 'key = value' or "
				       "'[section]', found 'metric ;c = BAD'");
	ck_assert_diag(&diag, "t.ini:3: expected 'key = value'", NULL, NULL);
	ck_assert_entry("a", "ok", "1", 4);
	ck_assert_uint_eq(conf.sections[0].n, 1);
}
END_TEST

START_TEST(very_long_line)
{
	/* Longer than the reader's own buffer: the rest of the line is
	 * skipped, and later lines keep their numbers. */
	size_t n = 70000;
	char *text = vigil_xmalloc(n + 64);
	char *p = text;

	p += sprintf(p, "[a]\nv = ");
	memset(p, 'x', n);
	p += n;
	strcpy(p, "\nafter = 1\n");
	load(text);
	ck_assert_uint_eq(diag.n, 1);
	ck_assert_diag(&diag, "t.ini:2: line is longer than 65535 characters",
		       NULL, NULL);
	ck_assert_entry("a", "after", "1", 3);
	ck_assert_ptr_null(vigil_conf_entry(&conf.sections[0], "v"));
	free(text);
}
END_TEST

START_TEST(broken_headers_skip_their_keys)
{
	/* One message for a broken header; the keys under it are neither
	 * filed under the section before nor each "outside any section". */
	load("[a]\n"          /* 1 */
	     "x = 1\n"        /* 2 */
	     "[]\n"           /* 3 */
	     "y = 2\n"        /* 4 */
	     "[b ; c]\n"      /* 5 */
	     "y = 3\n"        /* 6 */
	     "[d\n"           /* 7 */
	     "y = 4\n"        /* 8 */
	     "[e]\n"          /* 9 */
	     "z = 5\n");      /* 10 */
	ck_assert_ndiag(3);
	ck_assert_str_eq(diag.msgs[0], "t.ini:3: section header '[]': "
				       "expected [KIND.NAME], a name without "
				       "'[', ';' or '#'");
	ck_assert_diag(&diag, "t.ini:5: section header '[b ; c]'", NULL, NULL);
	ck_assert_diag(&diag, "t.ini:7: section header '[d' has no closing",
		       NULL, NULL);
	ck_assert_uint_eq(conf.n, 2);
	ck_assert_uint_eq(conf.sections[0].n, 1);
	ck_assert_entry("e", "z", "5", 10);
}
END_TEST

START_TEST(not_text)
{
	/* A control character or a byte that is not UTF-8 costs its line
	 * (and the raw byte is never echoed). */
	load("[a]\n"
	     "x = \x1b[2J10s\n"
	     "y = caf\xe9\n"
	     "z = caf\xc3\xa9\n"
	     "[b\x07]\n"
	     "w = 1\n");
	ck_assert_ndiag(3);
	ck_assert_str_eq(diag.msgs[0], "t.ini:2: control character 0x1b at "
				       "column 5; remove it");
	ck_assert_str_eq(diag.msgs[1], "t.ini:3: byte 0xe9 at column 8 is "
				       "not UTF-8; save the file as UTF-8");
	ck_assert_str_eq(diag.msgs[2], "t.ini:5: control character 0x07 at "
				       "column 3; remove it");
	ck_assert_entry("a", "z", "caf\xc3\xa9", 4);
	ck_assert_uint_eq(conf.sections[0].n, 1);
	ck_assert_uint_eq(conf.n, 1); /* w: under the broken header */

	/* CR line endings: one line; said once, not read further. */
	vigil_conf_free(&conf);
	vigil_diag_free(&diag);
	load("[a]\rx = 1\r[b]\ry = 2\r");
	ck_assert_uint_eq(diag.n, 1);
	ck_assert_str_eq(diag.msgs[0], "t.ini:1: carriage return at column 4, "
				       "inside a line: the file has CR line "
				       "endings? vigild reads LF or CRLF; "
				       "stopped reading");
	ck_assert_uint_eq(conf.n, 0);
}
END_TEST

/* Writes len bytes to a temporary file; returns its path. */
static char *write_bytes(const char *bytes, size_t len)
{
	char *path = vigil_xasprintf("%s/vigil-unit-XXXXXX.ini",
				     getenv("TMPDIR") && *getenv("TMPDIR") ?
					     getenv("TMPDIR") :
					     "/tmp");
	int fd = mkstemps(path, 4);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, bytes, len), (ssize_t)len);
	close(fd);
	return path;
}

START_TEST(nul_bytes_and_utf16)
{
	static const char nul[] = "[a]\nx = 10s\0; rm -rf /\ny = 2\n";
	static const char utf16[] = "\xff\xfe[\0a\0]\0\n\0";
	char *path = write_bytes(nul, sizeof(nul) - 1);
	char *want = vigil_xasprintf("%s:2: NUL byte at column 8: not a text "
				     "file; stopped reading", path);

	ck_assert_int_eq(vigil_conf_load(path, &conf, &diag), 0);
	ck_assert_uint_eq(diag.n, 1);
	ck_assert_str_eq(diag.msgs[0], want);
	/* Nothing of the line is taken, nor what follows. */
	ck_assert_uint_eq(conf.sections[0].n, 0);
	unlink(path);
	free(path);
	free(want);

	vigil_conf_free(&conf);
	vigil_diag_free(&diag);
	path = write_bytes(utf16, sizeof(utf16) - 1);
	want = vigil_xasprintf("%s:1: the file is UTF-16 text; save it as "
			       "UTF-8", path);
	ck_assert_int_eq(vigil_conf_load(path, &conf, &diag), 0);
	ck_assert_uint_eq(diag.n, 1);
	ck_assert_str_eq(diag.msgs[0], want);
	ck_assert_uint_eq(conf.n, 0);
	unlink(path);
	free(path);
	free(want);
}
END_TEST

START_TEST(not_a_file)
{
	char dir[] = "/tmp/vigil-unit-XXXXXX", *fifo;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(vigil_conf_load(dir, &conf, &diag), -EINVAL);
	ck_assert_uint_eq(diag.n, 1);
	ck_assert_pstr_ne(strstr(diag.msgs[0], ": cannot read the "
					       "configuration: it is a "
					       "directory; expected the INI "
					       "file"),
			  NULL);

	/* /dev/zero would be read for ever. */
	vigil_conf_free(&conf);
	vigil_diag_free(&diag);
	ck_assert_int_eq(vigil_conf_load("/dev/zero", &conf, &diag), -EINVAL);
	ck_assert_str_eq(diag.msgs[0], "/dev/zero: cannot read the "
				       "configuration: not a regular file (a "
				       "device or a socket); expected the INI "
				       "file");

	/* A FIFO nobody writes to: an empty file, at once. */
	vigil_conf_free(&conf);
	vigil_diag_free(&diag);
	fifo = vigil_xasprintf("%s/fifo", dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_int_eq(vigil_conf_load(fifo, &conf, &diag), 0);
	ck_assert_uint_eq(diag.n, 0);
	ck_assert_uint_eq(conf.n, 0);
	unlink(fifo);
	free(fifo);
	rmdir(dir);

	vigil_conf_free(&conf);
	vigil_diag_free(&diag);
	ck_assert_int_eq(vigil_conf_load("", &conf, &diag), -EINVAL);
	ck_assert_str_eq(diag.msgs[0], ": cannot read the configuration: the "
				       "file name is empty");
}
END_TEST

START_TEST(too_large)
{
	/* A file of more than 1 MiB is not a configuration: said once. */
	size_t n = 1100 * 1024;
	char *text = vigil_xmalloc(n + 1);

	for (size_t i = 0; i < n; i++)
		text[i] = i % 64 == 63 ? '\n' : i % 64 == 0 ? ';' : 'c';
	text[n] = '\0';
	load(text);
	ck_assert_uint_eq(diag.n, 1);
	ck_assert_diag(&diag, "t.ini:16385: the file is larger than 1048576 "
			      "bytes; stopped reading",
		       NULL, NULL);

	/* Exactly 1 MiB is not larger. */
	vigil_conf_free(&conf);
	vigil_diag_free(&diag);
	text[1024 * 1024] = '\0';
	load(text);
	ck_assert_no_diag();
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
	tcase_add_test(tc, long_line_split_as_inih_splits);
	tcase_add_test(tc, comment_before_the_separator);
	tcase_add_test(tc, broken_headers_skip_their_keys);
	tcase_add_test(tc, not_text);
	tcase_add_test(tc, nul_bytes_and_utf16);
	tcase_add_test(tc, not_a_file);
	tcase_add_test(tc, too_large);
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
