/*
 * test_loader.c - vigil_loader_open against the fixture plugins in
 * tests/fixtures/plugins (each wrong in one way), and
 * vigil_descriptor_check on descriptors built in memory.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader.h"
#include "unit.h"
#include "util.h"

static struct vigil_loader loader;
static char err[2048];

static void setup(void)
{
	vigil_loader_init(&loader, unit_fixture_dir());
	memset(err, 0, sizeof(err));
}

static void teardown(void)
{
	vigil_loader_free(&loader);
}

/* The real path of fixture NAME.so, as the loader names it. */
static char *fixture_path(const char *name)
{
	char *p = vigil_xasprintf("%s/%s.so", unit_fixture_dir(), name);
	char *real = realpath(p, NULL);

	ck_assert_msg(real != NULL, "fixture %s is missing", p);
	free(p);
	return real;
}

/* Opens fixture `name` expecting refusal `rc`; the message must start
 * with the file's path and contain `what`. */
static void refused(const char *name, enum vigil_kind want, int rc,
		    const char *what)
{
	struct vigil_module *m = (struct vigil_module *)0x1;
	char *path = fixture_path(name);
	int got = vigil_loader_open(&loader, name, want, &m, err, sizeof(err));

	ck_assert_msg(got == rc, "%s: rc %d, expected %d (%s)", name, got, rc,
		      err);
	ck_assert_msg(strncmp(err, path, strlen(path)) == 0,
		      "%s: message does not start with the path: %s", name,
		      err);
	ck_assert_msg(strstr(err, what) != NULL,
		      "%s: message lacks '%s': %s", name, what, err);
	ck_assert_msg(m == (struct vigil_module *)0x1,
		      "%s: *out written on failure", name);
	free(path);
}

/* ------------------------------------------------------------- finding */

START_TEST(not_found_names_directories)
{
	struct vigil_loader l;
	struct vigil_module *m = NULL;

	vigil_loader_init(&l, "/nonexistent/one:/nonexistent/two");
	ck_assert_uint_eq(l.n_dirs, 2);
	ck_assert_int_eq(vigil_loader_open(&l, "nope", 0, &m, err,
					   sizeof(err)),
			 -ENOENT);
	ck_assert_pstr_ne(strstr(err, "plugin 'nope' not found"), NULL);
	ck_assert_pstr_ne(strstr(err, "no nope.so in "
				      "/nonexistent/one:/nonexistent/two"),
			  NULL);
	ck_assert_pstr_ne(strstr(err, "plugin_path"), NULL);
	ck_assert_ptr_null(m);
	vigil_loader_free(&l);
}
END_TEST

START_TEST(not_found_empty_path)
{
	struct vigil_loader l;
	struct vigil_module *m = NULL;

	vigil_loader_init(&l, "");
	ck_assert_uint_eq(l.n_dirs, 0);
	ck_assert_int_eq(vigil_loader_open(&l, "cpu", 0, &m, err, sizeof(err)),
			 -ENOENT);
	ck_assert_pstr_ne(strstr(err, "(empty plugin path)"), NULL);
	vigil_loader_free(&l);

	/* Empty elements of the path are skipped. */
	vigil_loader_init(&l, "::/a::/b:");
	ck_assert_uint_eq(l.n_dirs, 2);
	ck_assert_str_eq(l.dirs[0], "/a");
	ck_assert_str_eq(l.dirs[1], "/b");
	vigil_loader_free(&l);
}
END_TEST

START_TEST(not_found_by_path)
{
	struct vigil_module *m = NULL;

	ck_assert_int_eq(vigil_loader_open(&loader, "/nonexistent/x.so", 0, &m,
					   err, sizeof(err)),
			 -ENOENT);
	ck_assert_pstr_ne(strstr(err, "plugin file /nonexistent/x.so"), NULL);
	ck_assert_pstr_ne(strstr(err, strerror(ENOENT)), NULL);

	/* A relative path would depend on the working directory. */
	ck_assert_int_eq(vigil_loader_open(&loader, "../plugins/good_sensor.so",
					   0, &m, err, sizeof(err)),
			 -ENOENT);
	ck_assert_str_eq(err, "plugin file ../plugins/good_sensor.so: a path "
			      "must be absolute (from /), or give a plain name "
			      "found in plugin_path");
}
END_TEST

START_TEST(dlopen_failure)
{
	char *dir = unit_tmpdir();
	char *file = unit_write_file(dir, "notelf.so",
				     "#!/bin/sh\necho this is not ELF\n");
	char *real = realpath(file, NULL);
	struct vigil_loader l;
	struct vigil_module *m = NULL;

	vigil_loader_init(&l, dir);
	ck_assert_int_eq(vigil_loader_open(&l, "notelf", 0, &m, err,
					   sizeof(err)),
			 -ELIBBAD);
	ck_assert_msg(strncmp(err, real, strlen(real)) == 0, "%s", err);
	ck_assert_pstr_ne(strstr(err, ": cannot load: "), NULL);
	ck_assert_uint_eq(l.n_mods, 0);
	vigil_loader_free(&l);
	unlink(file);
	rmdir(dir);
	free(real);
	free(file);
	free(dir);
}
END_TEST

START_TEST(not_a_regular_file)
{
	/* dlopen() of a FIFO would wait for a writer for ever; a directory
	 * named like a plugin is no plugin either. Both refused at once,
	 * in-process (0) and probed for a worker (1). */
	char *dir = unit_tmpdir();
	char *fifo = vigil_xasprintf("%s/fifo.so", dir);
	char *sub = vigil_xasprintf("%s/sub.so", dir);
	struct vigil_loader l;
	struct vigil_module *m = NULL;

	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	vigil_loader_init(&l, dir);
	for (int isolated = 0; isolated < 2; isolated++) {
		ck_assert_int_eq((isolated ? vigil_loader_probe :
					     vigil_loader_open)(&l, "fifo", 0, &m,
								err,
								sizeof(err)),
				 -ELIBBAD);
		ck_assert_msg(strstr(err, "fifo.so: cannot load: not a regular "
					  "file (a FIFO)") != NULL,
			      "%s", err);
	}
	ck_assert_int_lt(vigil_loader_open(&l, "sub", 0, &m, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(l.n_mods, 0);
	vigil_loader_free(&l);
	unlink(fifo);
	rmdir(sub);
	rmdir(dir);
	free(fifo);
	free(sub);
	free(dir);
}
END_TEST

/* ------------------------------------------------------------ refusals */

START_TEST(no_symbol)
{
	refused("no_symbol", 0, -ELIBBAD, "no 'vigil_plugin' symbol");
	ck_assert_pstr_ne(strstr(err, "VIGIL_PLUGIN_DEFINE"), NULL);
}
END_TEST

START_TEST(symbol_is_function)
{
	refused("symbol_is_function", 0, -ELIBBAD,
		"'vigil_plugin' is a function, not a descriptor");
}
END_TEST

START_TEST(bad_magic)
{
	refused("bad_magic", 0, -EINVAL,
		"bad magic 0x4c474956 in 'vigil_plugin' (expected "
		"0x5649474c)");
}
END_TEST

START_TEST(bad_major)
{
	char what[128];

	snprintf(what, sizeof(what),
		 "built for plugin ABI %d.0, this vigild speaks %d.%d: the "
		 "major version differs",
		 VIGIL_ABI_MAJOR + 1, VIGIL_ABI_MAJOR, VIGIL_ABI_MINOR);
	refused("bad_major", 0, -EPROTO, what);
	ck_assert_pstr_ne(strstr(err, "rebuild the plugin"), NULL);
}
END_TEST

START_TEST(newer_minor)
{
	char what[128];

	snprintf(what, sizeof(what),
		 "built for plugin ABI %d.%d, newer than this vigild's %d.%d",
		 VIGIL_ABI_MAJOR, VIGIL_ABI_MINOR + 1, VIGIL_ABI_MAJOR,
		 VIGIL_ABI_MINOR);
	refused("newer_minor", 0, -EPROTO, what);
	ck_assert_pstr_ne(strstr(err, "upgrade vigild"), NULL);
}
END_TEST

START_TEST(small_struct)
{
	char what[128];

	snprintf(what, sizeof(what),
		 "descriptor struct_size %zu is smaller than ABI %d.%d's %zu "
		 "bytes",
		 offsetof(struct vigil_plugin, description), VIGIL_ABI_MAJOR,
		 VIGIL_ABI_MINOR, (size_t)VIGIL_PLUGIN_SIZE_1_0);
	refused("small_struct", 0, -EINVAL, what);
}
END_TEST

START_TEST(kind_mismatch)
{
	struct vigil_module *m = NULL;

	refused("good_sensor", VIGIL_KIND_RULE, -EINVAL,
		"plugin 'good_sensor' is a sensor plugin, but the section "
		"asks for a rule; use it in a [sensor.NAME] section or pick a "
		"rule plugin");
	/* The refusal took no reference; the right kind still loads. */
	ck_assert_int_eq(vigil_loader_open(&loader, "good_sensor",
					   VIGIL_KIND_SENSOR, &m, err,
					   sizeof(err)),
			 0);
	ck_assert_int_eq(m->refs, 1);
	/* A cached module is checked for its kind too. */
	refused("good_sensor", VIGIL_KIND_SINK, -EINVAL,
		"is a sensor plugin, but the section asks for a sink");
	ck_assert_int_eq(m->refs, 1);
}
END_TEST

START_TEST(duplicate_name)
{
	struct vigil_module *a = NULL;
	char *path_a = fixture_path("dup_a");
	char what[PATH_MAX + 64];

	ck_assert_int_eq(vigil_loader_open(&loader, "dup_a", 0, &a, err,
					   sizeof(err)),
			 0);
	ck_assert_str_eq(a->desc.name, "dup");
	snprintf(what, sizeof(what),
		 "duplicate plugin name 'dup', already provided by %s", path_a);
	refused("dup_b", 0, -EEXIST, what);
	ck_assert_uint_eq(loader.n_mods, 1);
	free(path_a);
}
END_TEST

START_TEST(sensor_without_read)
{
	refused("no_read", 0, -EINVAL,
		"sensor plugin 'no_read' has no read callback, which a sensor "
		"plugin requires");
}
END_TEST

START_TEST(sink_without_deliver_or_write)
{
	refused("sink_no_deliver", VIGIL_KIND_SINK, -EINVAL,
		"sink plugin 'sink_no_deliver' has no deliver or write "
		"callback");
}
END_TEST

START_TEST(refusals_keep_no_module)
{
	static const char *const bad[] = {
		"no_symbol", "symbol_is_function", "bad_magic", "bad_major",
		"newer_minor", "small_struct", "no_read", "sink_no_deliver",
	};
	struct vigil_module *m = NULL;

	for (size_t i = 0; i < VIGIL_ARRAY_SIZE(bad); i++)
		ck_assert_int_lt(vigil_loader_open(&loader, bad[i], 0, &m, err,
						   sizeof(err)),
				 0);
	ck_assert_uint_eq(loader.n_mods, 0);
	/* And a refused file is refused again the same way, not cached. */
	refused("bad_magic", 0, -EINVAL, "bad magic");
}
END_TEST

/* ------------------------------------------------------------ accepted */

START_TEST(good_plugin_loads)
{
	struct vigil_module *m = NULL;
	char *path = fixture_path("good_sensor");

	ck_assert_int_eq(vigil_loader_open(&loader, "good_sensor",
					   VIGIL_KIND_SENSOR, &m, err,
					   sizeof(err)),
			 0);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->path, path);
	ck_assert_ptr_nonnull(m->handle);
	ck_assert_int_eq(m->refs, 1);
	ck_assert_uint_eq(m->desc.magic, VIGIL_PLUGIN_MAGIC);
	ck_assert_int_eq(m->desc.kind, VIGIL_KIND_SENSOR);
	ck_assert_str_eq(m->desc.name, "good_sensor");
	ck_assert_str_eq(m->desc.version, "1.2.3");
	ck_assert_str_eq(m->desc.description, "a valid sensor for tests");
	ck_assert_ptr_nonnull(m->desc.init);
	ck_assert_ptr_nonnull(m->desc.read);
	ck_assert_ptr_null(m->desc.eval);
	ck_assert_str_eq(m->desc.options[0].name, "level");
	free(path);
}
END_TEST

START_TEST(same_file_shares_module)
{
	struct vigil_module *a = NULL, *b = NULL, *c = NULL, *d = NULL;
	char *path = fixture_path("good_sensor");
	char *dir = unit_tmpdir();
	char *link = vigil_xasprintf("%s/alias.so", dir);

	ck_assert_int_eq(symlink(path, link), 0);
	ck_assert_int_eq(vigil_loader_open(&loader, "good_sensor", 0, &a, err,
					   sizeof(err)),
			 0);
	ck_assert_int_eq(vigil_loader_open(&loader, "good_sensor",
					   VIGIL_KIND_SENSOR, &b, err,
					   sizeof(err)),
			 0);
	/* By path, and through a symlink: still the same file. */
	ck_assert_int_eq(vigil_loader_open(&loader, path, 0, &c, err,
					   sizeof(err)),
			 0);
	ck_assert_int_eq(vigil_loader_open(&loader, link, 0, &d, err,
					   sizeof(err)),
			 0);
	ck_assert_ptr_eq(a, b);
	ck_assert_ptr_eq(a, c);
	ck_assert_ptr_eq(a, d);
	ck_assert_int_eq(a->refs, 4);
	ck_assert_uint_eq(loader.n_mods, 1);
	unlink(link);
	rmdir(dir);
	free(link);
	free(dir);
	free(path);
}
END_TEST

START_TEST(kind_names)
{
	ck_assert_str_eq(vigil_kind_name(VIGIL_KIND_SENSOR), "sensor");
	ck_assert_str_eq(vigil_kind_name(VIGIL_KIND_SINK), "sink");
	ck_assert_str_eq(vigil_kind_name((enum vigil_kind)0), "unknown");
	ck_assert_str_eq(vigil_kind_name((enum vigil_kind)99), "unknown");
	ck_assert_int_eq(vigil_kind_parse("rule"), VIGIL_KIND_RULE);
	ck_assert_int_eq(vigil_kind_parse("action"), VIGIL_KIND_ACTION);
	ck_assert_int_eq(vigil_kind_parse("daemon"), 0);
	ck_assert_int_eq(vigil_kind_parse(""), 0);
}
END_TEST

/* -------------------------------------------------- descriptor_check */

static int dummy_init(struct vigil_ctx *ctx, const struct vigil_host *host,
		      void **state)
{
	return 0;
}

static int dummy_eval(void *state, struct vigil_ctx *ctx,
		      const struct vigil_reading *r, void **series_state)
{
	return 0;
}

static int dummy_write(void *state, struct vigil_ctx *ctx,
		       const struct vigil_reading *r, size_t n)
{
	return 0;
}

static struct vigil_plugin valid_rule(void)
{
	struct vigil_plugin p = {
		VIGIL_PLUGIN_HEADER(VIGIL_KIND_RULE, "r", "0.1"),
		.init = dummy_init,
		.eval = dummy_eval,
	};
	return p;
}

/* Checks `p` as a symbol of exactly `avail` bytes, in its own allocation
 * so that ASan catches any read past it. */
static int check_sized(const struct vigil_plugin *p, size_t avail,
		       struct vigil_plugin *copy)
{
	unsigned char *buf = vigil_xmalloc(avail);
	int rc;

	memcpy(buf, p, avail < sizeof(*p) ? avail : sizeof(*p));
	if (avail > sizeof(*p))
		memset(buf + sizeof(*p), 0, avail - sizeof(*p));
	err[0] = '\0';
	rc = vigil_descriptor_check(buf, avail, copy, err, sizeof(err));
	free(buf);
	return rc;
}

START_TEST(descriptor_undersized_symbol)
{
	struct vigil_plugin p = valid_rule(), copy;
	const size_t head = offsetof(struct vigil_plugin, kind);
	char what[128];

	memset(&copy, 0xff, sizeof(copy));
	ck_assert_int_eq(check_sized(&p, 8, &copy), -EINVAL);
	ck_assert_pstr_ne(strstr(err, "symbol 'vigil_plugin' is 8 bytes, too "
				      "small for a plugin descriptor"),
			  NULL);
	/* The copy is zeroed, never left with garbage. */
	ck_assert_ptr_null(copy.name);
	ck_assert_ptr_null(copy.init);

	ck_assert_int_eq(check_sized(&p, 0, &copy), -EINVAL);

	/* Just the fixed header: its struct_size claims more than exists. */
	ck_assert_int_eq(check_sized(&p, head, &copy), -EINVAL);
	snprintf(what, sizeof(what),
		 "descriptor claims %zu bytes but the symbol is %zu bytes",
		 sizeof(struct vigil_plugin), head);
	ck_assert_msg(strstr(err, what) != NULL, "%s", err);

	ck_assert_int_eq(check_sized(&p, sizeof(p) - 1, &copy), -EINVAL);
	ck_assert_pstr_ne(strstr(err, "claims"), NULL);
}
END_TEST

START_TEST(descriptor_valid_and_defaults)
{
	struct vigil_plugin p = valid_rule(), copy;

	p.version = NULL;
	p.description = NULL;
	ck_assert_int_eq(check_sized(&p, sizeof(p), &copy), 0);
	ck_assert_str_eq(copy.name, "r");
	ck_assert_str_eq(copy.version, "?");
	ck_assert_str_eq(copy.description, "");
	ck_assert_ptr_eq(copy.eval, dummy_eval);

	/* Exactly ABI 1.0's size is enough. */
	ck_assert_int_eq(check_sized(&p, VIGIL_PLUGIN_SIZE_1_0, &copy), 0);
}
END_TEST

START_TEST(descriptor_larger_than_known)
{
	/* A plugin of a later minor (same major) may be larger: the core
	 * copies what it knows. Here only the size differs. */
	struct vigil_plugin p = valid_rule(), copy;

	p.struct_size = (uint32_t)sizeof(p) + 64;
	ck_assert_int_eq(check_sized(&p, sizeof(p) + 64, &copy), 0);
	ck_assert_ptr_eq(copy.init, dummy_init);
}
END_TEST

START_TEST(descriptor_ignores_bytes_past_struct_size)
{
	/* The symbol may be larger than the descriptor it declares: what
	 * lies past struct_size is not the plugin's descriptor. */
	unsigned char buf[sizeof(struct vigil_plugin) + 32];
	struct vigil_plugin p = valid_rule(), copy;

	memset(buf, 0xab, sizeof(buf));
	memcpy(buf, &p, sizeof(p));
	ck_assert_int_eq(vigil_descriptor_check(buf, sizeof(buf), &copy, err,
						sizeof(err)),
			 0);
	ck_assert_ptr_eq(copy.init, dummy_init);
	ck_assert_ptr_eq(copy.eval, dummy_eval);
	ck_assert_ptr_null(copy.write);
	ck_assert_ptr_null(copy.flush);
}
END_TEST

START_TEST(descriptor_bad_fields)
{
	struct vigil_plugin p, copy;

	p = valid_rule();
	p.name = NULL;
	ck_assert_int_eq(check_sized(&p, sizeof(p), &copy), -EINVAL);
	ck_assert_pstr_ne(strstr(err, "no valid name"), NULL);

	p = valid_rule();
	p.name = "has space";
	ck_assert_int_eq(check_sized(&p, sizeof(p), &copy), -EINVAL);
	ck_assert_pstr_ne(strstr(err, "no valid name"), NULL);

	p = valid_rule();
	p.kind = 9;
	ck_assert_int_eq(check_sized(&p, sizeof(p), &copy), -EINVAL);
	ck_assert_pstr_ne(strstr(err, "plugin 'r' has unknown kind 9"), NULL);

	p = valid_rule();
	p.kind = 0;
	ck_assert_int_eq(check_sized(&p, sizeof(p), &copy), -EINVAL);
	ck_assert_pstr_ne(strstr(err, "unknown kind 0"), NULL);

	p = valid_rule();
	p.init = NULL;
	ck_assert_int_eq(check_sized(&p, sizeof(p), &copy), -EINVAL);
	ck_assert_pstr_ne(strstr(err, "rule plugin 'r' has no init callback"),
			  NULL);

	p = valid_rule();
	p.eval = NULL;
	ck_assert_int_eq(check_sized(&p, sizeof(p), &copy), -EINVAL);
	ck_assert_pstr_ne(strstr(err, "has no eval callback"), NULL);

	p = valid_rule();
	p.kind = VIGIL_KIND_ACTION;
	ck_assert_int_eq(check_sized(&p, sizeof(p), &copy), -EINVAL);
	ck_assert_pstr_ne(strstr(err, "action plugin 'r' has no run callback"),
			  NULL);

	/* A broken option schema is the plugin's fault, said so. */
	{
		static const struct {
			struct vigil_option o[3];
			const char *why;
		} schemas[] = {
			{{{"a", VIGIL_OPT_INT, NULL, 0, 0, NULL, NULL, 0},
			  {"a", VIGIL_OPT_INT, NULL, 0, 0, NULL, NULL, 0},
			  VIGIL_OPTIONS_END},
			 "option 2 'a' has a name declared twice"},
			{{{"n", VIGIL_OPT_INT, NULL, 20, 10, NULL, NULL, 0},
			  VIGIL_OPTIONS_END},
			 "option 1 'n' has min greater than max"},
			{{{"n", VIGIL_OPT_DOUBLE, NULL, NAN, 0, NULL, NULL, 0},
			  VIGIL_OPTIONS_END},
			 "option 1 'n' has a bound that is NaN"},
			{{{"t", (enum vigil_option_type)42, NULL, 0, 0, NULL,
			   NULL, 0},
			  VIGIL_OPTIONS_END},
			 "option 1 't' has an unknown type"},
			{{{"e", VIGIL_OPT_ENUM, NULL, 0, 0, NULL, NULL, 0},
			  VIGIL_OPTIONS_END},
			 "option 1 'e' has no choices for an enum"},
			{{{"b c", VIGIL_OPT_INT, NULL, 0, 0, NULL, NULL, 0},
			  VIGIL_OPTIONS_END},
			 "option 1 '?' has a name that is not letters"},
		};

		for (size_t i = 0; i < VIGIL_ARRAY_SIZE(schemas); i++) {
			p = valid_rule();
			p.options = schemas[i].o;
			ck_assert_int_eq(check_sized(&p, sizeof(p), &copy),
					 -EINVAL);
			ck_assert_msg(strstr(err, schemas[i].why) &&
					      strstr(err, "the plugin is broken"),
				      "%s: %s", schemas[i].why, err);
		}
	}

	/* A sink with write only is fine: it takes metrics. */
	p = valid_rule();
	p.kind = VIGIL_KIND_SINK;
	p.write = dummy_write;
	ck_assert_int_eq(check_sized(&p, sizeof(p), &copy), 0);
}
END_TEST

START_TEST(descriptor_version_checks_come_first)
{
	/* A wrong major is reported as such even if the rest is garbage:
	 * fields of another major mean something else. */
	struct vigil_plugin p, copy;

	memset(&p, 0, sizeof(p));
	p.magic = VIGIL_PLUGIN_MAGIC;
	p.abi_major = 0;
	p.struct_size = 4;
	ck_assert_int_eq(check_sized(&p, sizeof(p), &copy), -EPROTO);
	ck_assert_pstr_ne(strstr(err, "the major version differs"), NULL);
}
END_TEST

static Suite *loader_suite(void)
{
	Suite *s = suite_create("loader");
	TCase *tc;

	tc = tcase_create("open");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, not_found_names_directories);
	tcase_add_test(tc, not_found_empty_path);
	tcase_add_test(tc, not_found_by_path);
	tcase_add_test(tc, dlopen_failure);
	tcase_add_test(tc, not_a_regular_file);
	tcase_add_test(tc, no_symbol);
	tcase_add_test(tc, symbol_is_function);
	tcase_add_test(tc, bad_magic);
	tcase_add_test(tc, bad_major);
	tcase_add_test(tc, newer_minor);
	tcase_add_test(tc, small_struct);
	tcase_add_test(tc, kind_mismatch);
	tcase_add_test(tc, duplicate_name);
	tcase_add_test(tc, sensor_without_read);
	tcase_add_test(tc, sink_without_deliver_or_write);
	tcase_add_test(tc, refusals_keep_no_module);
	tcase_add_test(tc, good_plugin_loads);
	tcase_add_test(tc, same_file_shares_module);
	tcase_add_test(tc, kind_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("descriptor");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, descriptor_undersized_symbol);
	tcase_add_test(tc, descriptor_valid_and_defaults);
	tcase_add_test(tc, descriptor_larger_than_known);
	tcase_add_test(tc, descriptor_ignores_bytes_past_struct_size);
	tcase_add_test(tc, descriptor_bad_fields);
	tcase_add_test(tc, descriptor_version_checks_come_first);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(loader_suite());
}
