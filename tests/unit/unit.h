/*
 * unit.h - small helpers shared by the Check unit tests.
 *
 * Header only, everything static: each test program is one .c file plus
 * this header, linked against libvigilcore.
 */
#ifndef VIGIL_TEST_UNIT_H
#define VIGIL_TEST_UNIT_H

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "util.h"

/* Index of the first diagnostic containing every one of up to three
 * needles (NULL ones are skipped), or -1. */
static inline int unit_diag_find3(const struct vigil_diag *d, const char *a,
				  const char *b, const char *c)
{
	for (size_t i = 0; i < d->n; i++) {
		const char *m = d->msgs[i];
		if ((!a || strstr(m, a)) && (!b || strstr(m, b)) &&
		    (!c || strstr(m, c)))
			return (int)i;
	}
	return -1;
}

static inline int unit_diag_find(const struct vigil_diag *d, const char *s)
{
	return unit_diag_find3(d, s, NULL, NULL);
}

/* Every diagnostic, one per line, for failure messages. */
static inline const char *unit_diag_text(const struct vigil_diag *d)
{
	static char buf[8192];
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < d->n && off < sizeof(buf); i++) {
		int n = snprintf(buf + off, sizeof(buf) - off, "\n  [%zu] %s",
				 i, d->msgs[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	return d->n ? buf : " (none)";
}

static inline const char *unit_s(const char *s)
{
	return s ? s : "";
}

/* Fails unless one diagnostic of `d` contains all of a, b and c. */
#define ck_assert_diag(d, a, b, c)                                            \
	ck_assert_msg(unit_diag_find3((d), (a), (b), (c)) >= 0,               \
		      "no diagnostic with '%s' '%s' '%s'; got:%s", unit_s(a),  \
		      unit_s(b), unit_s(c), unit_diag_text(d))

/* A temporary directory for a test, made with mkdtemp; owned by caller. */
static inline char *unit_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *path = vigil_xasprintf("%s/vigil-unit-XXXXXX",
				     base && *base ? base : "/tmp");

	ck_assert_ptr_nonnull(mkdtemp(path));
	return path;
}

/* Sends stderr, hence the log, to a new file at `path`, for the test to
 * read; returns the descriptor to give unit_restore_stderr. */
static inline int unit_capture_stderr(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int saved;

	ck_assert_int_ge(fd, 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
	close(fd);
	return saved;
}

/* Puts back the stderr unit_capture_stderr saved in *saved (-1: none). */
static inline void unit_restore_stderr(int *saved)
{
	fflush(stderr);
	if (*saved < 0)
		return;
	dup2(*saved, STDERR_FILENO);
	close(*saved);
	*saved = -1;
}

/* Writes `text` to a new temporary file named like "vigil-unit-XXXXXX.ini";
 * returns its path (owned by the caller, who unlinks it). */
static inline char *unit_write_temp(const char *text)
{
	const char *base = getenv("TMPDIR");
	char *path = vigil_xasprintf("%s/vigil-unit-XXXXXX.ini",
				     base && *base ? base : "/tmp");
	int fd = mkstemps(path, 4);
	size_t len = strlen(text);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

/* Writes `text` to `dir`/`name`; returns the path, owned by the caller. */
static inline char *unit_write_file(const char *dir, const char *name,
				    const char *text)
{
	char *path = vigil_xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

/* The directory holding the fixture plugins (tests/fixtures/plugins/.libs). */
static inline const char *unit_fixture_dir(void)
{
	const char *d = getenv("VIGIL_FIXTURE_PLUGIN_DIR");

	ck_assert_msg(d && *d, "VIGIL_FIXTURE_PLUGIN_DIR is not set: run the "
			       "tests with make check");
	return d;
}

/* The in-tree plugin path plus the fixture directory; owned by the caller. */
static inline char *unit_plugin_path(void)
{
	const char *tree = getenv("VIGIL_TREE_PLUGIN_PATH");

	ck_assert_msg(tree && *tree, "VIGIL_TREE_PLUGIN_PATH is not set: run "
				     "the tests with make check");
	return vigil_xasprintf("%s:%s", tree, unit_fixture_dir());
}

/* Runs `s` and returns the exit status for main. */
static inline int unit_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
