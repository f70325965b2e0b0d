/*
 * test_sensors.c - the real sensor plugins (plugins/sensors: cpu, thermal,
 * memory, disk, load, network), loaded through the loader, configured from
 * INI text with `root` pointing at a private copy of tests/fixtures/root,
 * and read; the readings they emit are captured, and so is what they log.
 *
 * Every expected value is worked out by hand from the fixture files (or
 * from the text a test writes over them); the arithmetic is in comments.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "instance.h"
#include "loader.h"
#include "log.h"
#include "unit.h"
#include "util.h"

/* ------------------------------------------------------------- capture */

#define MAX_LABELS 4

/* One emitted reading, copied (the plugin's pointers are borrowed). */
struct captured {
	char metric[64];
	char unit[16];
	double value;
	enum vigil_quality quality;
	size_t n_labels;
	char key[MAX_LABELS][32];
	char val[MAX_LABELS][64];
};

static struct captured got[64];
static size_t n_got;

static struct vigil_conf conf;
static struct vigil_diag errs, warns;
static struct vigil_loader loader;
static struct vigil_instance *sensor;
static char *root;    /* this test's copy of tests/fixtures/root */
static char *logpath; /* where stderr, hence the log, goes */
static int saved_stderr = -1;

static void copy_str(char *dst, size_t size, const char *src)
{
	ck_assert_ptr_nonnull(src);
	ck_assert_uint_lt(strlen(src), size);
	memcpy(dst, src, strlen(src) + 1);
}

static int cap_reading(void *user, struct vigil_instance *inst,
		       const struct vigil_reading *r)
{
	struct captured *k;

	(void)user;
	ck_assert_ptr_eq(inst, sensor);
	ck_assert_uint_lt(n_got, VIGIL_ARRAY_SIZE(got));
	ck_assert_uint_le(r->n_labels, MAX_LABELS);
	ck_assert_int_eq(r->time, 0); /* the host stamps it */
	k = &got[n_got++];
	copy_str(k->metric, sizeof(k->metric), r->metric);
	copy_str(k->unit, sizeof(k->unit), r->unit);
	k->value = r->value;
	k->quality = r->quality;
	k->n_labels = r->n_labels;
	for (size_t i = 0; i < r->n_labels; i++) {
		copy_str(k->key[i], sizeof(k->key[i]), r->labels[i].key);
		copy_str(k->val[i], sizeof(k->val[i]), r->labels[i].value);
	}
	return 0;
}

static const struct vigil_emit_ops cap_ops = {
	.reading = cap_reading,
};

/* --------------------------------------------------- the fixture tree */

static void copy_file(const char *from, const char *to)
{
	char buf[4096];
	ssize_t n;
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	ck_assert_msg(in >= 0, "cannot open %s: %s", from, strerror(errno));
	ck_assert_msg(out >= 0, "cannot create %s: %s", to, strerror(errno));
	while ((n = read(in, buf, sizeof(buf))) > 0)
		ck_assert_int_eq(write(out, buf, (size_t)n), n);
	ck_assert_int_eq(n, 0);
	close(in);
	ck_assert_int_eq(close(out), 0);
}

static void copy_tree(const char *from, const char *to)
{
	DIR *d = opendir(from);
	struct dirent *de;

	ck_assert_msg(d != NULL, "cannot open %s: %s", from, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		char *src, *dst;
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		src = vigil_xasprintf("%s/%s", from, de->d_name);
		dst = vigil_xasprintf("%s/%s", to, de->d_name);
		ck_assert_int_eq(lstat(src, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			ck_assert_int_eq(mkdir(dst, 0755), 0);
			copy_tree(src, dst);
		} else {
			copy_file(src, dst);
		}
		free(src);
		free(dst);
	}
	closedir(d);
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_tree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* root/rel, owned by the caller. */
static char *at(const char *rel)
{
	return vigil_xasprintf("%s/%s", root, rel);
}

/* Replaces root/rel with `text`. */
static void put(const char *rel, const char *text)
{
	char *path = at(rel);
	FILE *f = fopen(path, "w");

	ck_assert_msg(f != NULL, "cannot write %s: %s", path, strerror(errno));
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	free(path);
}

static void rm(const char *rel)
{
	char *path = at(rel);

	rm_tree(path);
	free(path);
}

/* ----------------------------------------------------------- the log */

/* How many lines of the log so far contain both `level` (as the log
 * spells it: "warning", "notice") and `text`. */
static int logged(const char *level, const char *text)
{
	char line[4096];
	int n = 0;
	FILE *f;

	fflush(stderr);
	f = fopen(logpath, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, level) && strstr(line, text))
			n++;
	fclose(f);
	return n;
}

/* ------------------------------------------------------ setup, start */

static void setup(void)
{
	const char *tree = getenv("VIGIL_TREE_PLUGIN_PATH");
	const char *src = getenv("VIGIL_SRCDIR");
	char *fixture;

	ck_assert_msg(tree != NULL, "VIGIL_TREE_PLUGIN_PATH is not set");
	ck_assert_msg(src != NULL, "VIGIL_SRCDIR is not set");
	root = unit_tmpdir();
	fixture = vigil_xasprintf("%s/tests/fixtures/root", src);
	copy_tree(fixture, root);
	free(fixture);

	/* The log goes to stderr: send it to a file the tests read. */
	logpath = vigil_xasprintf("%s.log", root);
	saved_stderr = unit_capture_stderr(logpath);
	vigil_log_setup(VIGIL_LOG_TO_STDERR, VIGIL_LOG_DEBUG);

	vigil_loader_init(&loader, tree);
	memset(&conf, 0, sizeof(conf));
	memset(&errs, 0, sizeof(errs));
	memset(&warns, 0, sizeof(warns));
	sensor = NULL;
	n_got = 0;
}

static void stop(void)
{
	vigil_instance_free(sensor);
	sensor = NULL;
	vigil_conf_free(&conf);
	memset(&conf, 0, sizeof(conf));
	vigil_diag_free(&errs);
	vigil_diag_free(&warns);
	memset(&errs, 0, sizeof(errs));
	memset(&warns, 0, sizeof(warns));
}

static void teardown(void)
{
	stop();
	vigil_loader_free(&loader);
	unit_restore_stderr(&saved_stderr);
	unlink(logpath);
	free(logpath);
	rm_tree(root);
	free(root);
}

/* Builds [sensor.t] for `plugin` with root = the fixture copy and `keys`,
 * and runs the plugin's init; returns its result. */
static int start(const char *plugin, const char *keys)
{
	/* In-process: these tests drive the plugin's callbacks directly. */
	char *text = vigil_xasprintf("[sensor.t]\n"
				     "plugin = %s\n"
				     "isolation = none\n"
				     "root = %s\n"
				     "%s",
				     plugin, root, keys);

	stop();
	vigil_conf_load_string(text, "t.ini", &conf, &errs);
	free(text);
	sensor = vigil_instance_new(&conf, &conf.sections[0], &loader, &errs,
				    &warns);
	ck_assert_msg(sensor != NULL, "instance refused:%s",
		      unit_diag_text(&errs));
	return vigil_instance_start(sensor, &cap_ops, NULL);
}

static void start_ok(const char *plugin, const char *keys)
{
	ck_assert_int_eq(start(plugin, keys), 0);
	ck_assert_int_eq(sensor->started, 1);
}

/* init failed, and says whether it is worth retrying. */
static void start_fails(const char *plugin, const char *keys, int fatal)
{
	int rc = start(plugin, keys);

	ck_assert_msg(rc < 0, "init of %s with '%s' succeeded", plugin, keys);
	if (fatal)
		ck_assert_msg(rc == VIGIL_EFATAL, "%s with '%s': %d, expected "
			      "VIGIL_EFATAL", plugin, keys, rc);
	else
		ck_assert_msg(rc != VIGIL_EFATAL, "%s with '%s': VIGIL_EFATAL",
			      plugin, keys);
	ck_assert_int_eq(sensor->started, 0);
	ck_assert_int_eq(sensor->fatal, fatal);
}

/* Reads once, capturing only this read's readings; returns read()'s
 * result. */
static int sample(void)
{
	n_got = 0;
	return sensor->desc->read(sensor->state, &sensor->ctx);
}

static void sample_ok(void)
{
	int rc = sample();

	ck_assert_msg(rc == 0, "read returned %d (%s)", rc, strerror(-rc));
}

/* The reading of `metric` whose label `key` is `val` (any labels when key
 * is NULL), or NULL. */
static const struct captured *find(const char *metric, const char *key,
				   const char *val)
{
	for (size_t i = 0; i < n_got; i++) {
		const struct captured *k = &got[i];

		if (strcmp(k->metric, metric) != 0)
			continue;
		if (!key)
			return k;
		for (size_t j = 0; j < k->n_labels; j++)
			if (strcmp(k->key[j], key) == 0 &&
			    strcmp(k->val[j], val) == 0)
				return k;
	}
	return NULL;
}

/* Reading `i` is exactly metric, unit and value, with `n` labels given
 * as key, value pairs after n. */
static void check_reading(size_t i, const char *metric, const char *unit,
			  double value, size_t n, ...)
{
	const struct captured *k;
	va_list ap;

	ck_assert_msg(i < n_got, "reading %zu wanted (%s), only %zu emitted",
		      i, metric, n_got);
	k = &got[i];
	ck_assert_str_eq(k->metric, metric);
	ck_assert_str_eq(k->unit, unit);
	ck_assert_msg(k->value == value, "%s: %.17g, expected %.17g", metric,
		      k->value, value);
	ck_assert_int_eq(k->quality, VIGIL_QUALITY_GOOD);
	ck_assert_uint_eq(k->n_labels, n);
	va_start(ap, n);
	for (size_t j = 0; j < n; j++) {
		const char *key = va_arg(ap, const char *);
		const char *val = va_arg(ap, const char *);

		ck_assert_str_eq(k->key[j], key);
		ck_assert_str_eq(k->val[j], val);
	}
	va_end(ap);
}

/* ---------------------------------------------------------------- cpu */

/* The fixture's proc/stat, total line:
 *   cpu  41240 312 18530 2894410 2206 0 1024 0 0 0
 * (user nice system idle iowait irq softirq steal guest guest_nice).
 * This one adds to it user 200, nice 20, system 80, idle 500, iowait 100,
 * irq 30, softirq 50, steal 20: 1000 jiffies, of which idle and iowait
 * 600, so 40% busy and 10% iowait. guest and guest_nice grow by 999 and
 * must not count: they are already in user and nice. */
static const char stat_total_plus_1000[] =
	"cpu  41440 332 18610 2894910 2306 30 1074 20 999 999\n"
	"cpu0 20911 160 9380 1446702 1140 0 820 0 0 0\n"
	"cpu1 20329 152 9150 1447708 1066 0 204 0 0 0\n"
	"intr 2871023 0 10\n"
	"ctxt 5120344\n";

/* Per core: cpu0 gains user 250, system 50, idle 150, iowait 50 (500
 * jiffies, 300 busy: 60%); cpu1 user 50, system 50, idle 350, iowait 50
 * (500, 100 busy: 20%); the total is their sum: user 300, system 100,
 * idle 500, iowait 100 (1000, 400 busy: 40%; iowait 10%). */
static const char stat_cores[] =
	"cpu  41540 312 18630 2894910 2306 0 1024 0 0 0\n"
	"cpu0 21161 160 9430 1446852 1190 0 820 0 0 0\n"
	"cpu1 20379 152 9200 1448058 1116 0 204 0 0 0\n"
	"intr 2871023 0 10\n";

START_TEST(root_must_be_a_directory)
{
	/* A root that is not there is the user's mistake, said at start:
	 * the reads would only have failed later ("Input/output error"). */
	static const char *const plugins[] = {"cpu", "memory", "disk", "load",
					       "network", "thermal"};
	char *saved = root, *file = vigil_xasprintf("%s/proc/stat", saved);

	for (size_t i = 0; i < VIGIL_ARRAY_SIZE(plugins); i++) {
		root = "/nonexistent/root";
		start_fails(plugins[i], "", 1);
		root = file;
		start_fails(plugins[i], "", 1);
		root = saved;
	}
	ck_assert_int_eq(logged("error", "root = '/nonexistent/root': no such "
					 "directory; expected the directory "
					 "that stands for /"),
			 (int)VIGIL_ARRAY_SIZE(plugins));
	ck_assert_int_eq(logged("error", "/proc/stat': not a directory"),
			 (int)VIGIL_ARRAY_SIZE(plugins));
	free(file);
}
END_TEST

START_TEST(cpu_first_read_is_a_baseline)
{
	start_ok("cpu", "");
	sample_ok();
	ck_assert_uint_eq(n_got, 0);
	/* Nothing changed: no time elapsed, nothing to say. */
	sample_ok();
	ck_assert_uint_eq(n_got, 0);
}
END_TEST

START_TEST(cpu_usage_and_iowait)
{
	start_ok("cpu", "");
	sample_ok();
	put("proc/stat", stat_total_plus_1000);
	sample_ok();
	ck_assert_uint_eq(n_got, 2);
	check_reading(0, "cpu.usage_percent", "%", 40.0, 1, "cpu", "total");
	check_reading(1, "cpu.iowait_percent", "%", 10.0, 1, "cpu", "total");
}
END_TEST

START_TEST(cpu_per_cpu)
{
	start_ok("cpu", "per_cpu = yes\n");
	sample_ok();
	ck_assert_uint_eq(n_got, 0);
	put("proc/stat", stat_cores);
	sample_ok();
	ck_assert_uint_eq(n_got, 4);
	check_reading(0, "cpu.usage_percent", "%", 40.0, 1, "cpu", "total");
	check_reading(1, "cpu.iowait_percent", "%", 10.0, 1, "cpu", "total");
	check_reading(2, "cpu.usage_percent", "%", 60.0, 1, "cpu", "cpu0");
	check_reading(3, "cpu.usage_percent", "%", 20.0, 1, "cpu", "cpu1");
	ck_assert_ptr_null(find("cpu.iowait_percent", "cpu", "cpu0"));
}
END_TEST

START_TEST(cpu_per_cpu_off_reports_total_only)
{
	start_ok("cpu", "");
	sample_ok();
	put("proc/stat", stat_cores);
	sample_ok();
	ck_assert_uint_eq(n_got, 2);
	check_reading(0, "cpu.usage_percent", "%", 40.0, 1, "cpu", "total");
	check_reading(1, "cpu.iowait_percent", "%", 10.0, 1, "cpu", "total");
}
END_TEST

START_TEST(cpu_reset_rebaselines)
{
	start_ok("cpu", "per_cpu = yes\n");
	sample_ok();
	/* The counters restarted (a reset, or a restored snapshot): their
	 * sum went down, though irq, 0 before, went up. No delta against
	 * the old baseline: it would say 100% busy (the irq jiffies only),
	 * or wrap to an absurd value. */
	put("proc/stat", "cpu  100 0 100 1000 10 50 0 0 0 0\n"
			 "cpu0 50 0 50 500 5 25 0 0 0 0\n");
	sample_ok();
	ck_assert_uint_eq(n_got, 0);
	/* The next read is a delta against the reset values: user 300,
	 * system 100, idle 500, iowait 100 -> 40% and 10%; cpu0 user 150,
	 * system 50, idle 250, iowait 50 -> 200 of 500 busy, 40%. */
	put("proc/stat", "cpu  400 0 200 1500 110 50 0 0 0 0\n"
			 "cpu0 200 0 100 750 55 25 0 0 0 0\n");
	sample_ok();
	ck_assert_uint_eq(n_got, 3);
	check_reading(0, "cpu.usage_percent", "%", 40.0, 1, "cpu", "total");
	check_reading(1, "cpu.iowait_percent", "%", 10.0, 1, "cpu", "total");
	check_reading(2, "cpu.usage_percent", "%", 40.0, 1, "cpu", "cpu0");
}
END_TEST

START_TEST(cpu_core_offline_then_back)
{
	start_ok("cpu", "per_cpu = yes\n");
	sample_ok();
	/* cpu1 goes offline: its line is gone. */
	put("proc/stat", "cpu  41540 312 18630 2894910 2306 0 1024 0 0 0\n"
			 "cpu0 21161 160 9430 1446852 1190 0 820 0 0 0\n");
	sample_ok();
	ck_assert_uint_eq(n_got, 3);
	check_reading(2, "cpu.usage_percent", "%", 60.0, 1, "cpu", "cpu0");
	/* Back: its first line is a new baseline, not a delta across the
	 * gap (which would say 20%). */
	put("proc/stat", "cpu  41540 312 18630 2894910 2306 0 1024 0 0 0\n"
			 "cpu0 21161 160 9430 1446852 1190 0 820 0 0 0\n"
			 "cpu1 20379 152 9200 1448058 1116 0 204 0 0 0\n");
	sample_ok();
	ck_assert_uint_eq(n_got, 0);
	/* cpu1: user 100, idle 300 -> 25%; the rest unchanged. */
	put("proc/stat", "cpu  41640 312 18630 2895210 2306 0 1024 0 0 0\n"
			 "cpu0 21161 160 9430 1446852 1190 0 820 0 0 0\n"
			 "cpu1 20479 152 9200 1448358 1116 0 204 0 0 0\n");
	sample_ok();
	ck_assert_uint_eq(n_got, 3);
	check_reading(0, "cpu.usage_percent", "%", 25.0, 1, "cpu", "total");
	check_reading(2, "cpu.usage_percent", "%", 25.0, 1, "cpu", "cpu1");
}
END_TEST

START_TEST(cpu_one_field_backwards)
{
	start_ok("cpu", "");
	sample_ok();
	/* iowait may go backwards (proc.rst): it counts as unchanged. user
	 * +400, idle +600, iowait -100: 1000 jiffies, 400 busy. */
	put("proc/stat", "cpu  41640 312 18530 2895010 2106 0 1024 0 0 0\n");
	sample_ok();
	ck_assert_uint_eq(n_got, 2);
	check_reading(0, "cpu.usage_percent", "%", 40.0, 1, "cpu", "total");
	check_reading(1, "cpu.iowait_percent", "%", 0.0, 1, "cpu", "total");
}
END_TEST

START_TEST(cpu_bad_file)
{
	start_ok("cpu", "");
	sample_ok();
	put("proc/stat", "cpu  12 -3 x\nintr 1\n");
	ck_assert_int_eq(sample(), -EIO);
	ck_assert_uint_eq(n_got, 0);
	ck_assert_int_eq(sample(), -EIO);
	/* Logged once, not on every read. */
	ck_assert_int_eq(logged("warning", "unexpected line 'cpu  12 -3 x'"),
			 1);
	rm("proc/stat");
	ck_assert_int_eq(sample(), -ENOENT);
	ck_assert_int_eq(logged("warning", "cannot read"), 0);
	put("proc/stat", stat_total_plus_1000);
	sample_ok();
	ck_assert_int_eq(logged("notice", "reads cleanly again"), 1);
	/* The total was missing from the bad reads: a new baseline. */
	ck_assert_uint_eq(n_got, 0);
}
END_TEST

/* ------------------------------------------------------------ thermal */

/* thermal_zone0: type cpu-thermal, temp 48312 -> 48.312 C;
 * thermal_zone1: type gpu-thermal, temp 46250 -> 46.25 C. */

START_TEST(thermal_all_zones)
{
	start_ok("thermal", "");
	sample_ok();
	ck_assert_uint_eq(n_got, 2);
	check_reading(0, "thermal.temperature", "C", 48.312, 2, "zone",
		      "thermal_zone0", "type", "cpu-thermal");
	check_reading(1, "thermal.temperature", "C", 46.25, 2, "zone",
		      "thermal_zone1", "type", "gpu-thermal");
}
END_TEST

START_TEST(thermal_zone_by_type)
{
	start_ok("thermal", "zone = cpu-thermal\n");
	sample_ok();
	ck_assert_uint_eq(n_got, 1);
	check_reading(0, "thermal.temperature", "C", 48.312, 2, "zone",
		      "thermal_zone0", "type", "cpu-thermal");
}
END_TEST

START_TEST(thermal_zone_by_name)
{
	start_ok("thermal", "zone = thermal_zone1\n");
	sample_ok();
	ck_assert_uint_eq(n_got, 1);
	check_reading(0, "thermal.temperature", "C", 46.25, 2, "zone",
		      "thermal_zone1", "type", "gpu-thermal");
}
END_TEST

START_TEST(thermal_negative)
{
	put("sys/class/thermal/thermal_zone1/temp", "-5250\n");
	start_ok("thermal", "zone = thermal_zone1\n");
	sample_ok();
	ck_assert_uint_eq(n_got, 1);
	check_reading(0, "thermal.temperature", "C", -5.25, 2, "zone",
		      "thermal_zone1", "type", "gpu-thermal");
}
END_TEST

START_TEST(thermal_no_zones_is_not_fatal)
{
	char *dir = at("sys/class/thermal");

	/* A zone that is not there (yet): the driver may load later, so
	 * the core should retry. */
	start_fails("thermal", "zone = thermal_zone7\n", 0);
	ck_assert_int_eq(logged("warning", "named or typed 'thermal_zone7'"),
			 1);
	ck_assert_int_eq(logged("warning", "thermal_zone1 (gpu-thermal)"), 1);
	/* No class directory at all. */
	rm("sys/class/thermal");
	start_fails("thermal", "", 0);
	ck_assert_int_eq(logged("warning", "no thermal zones: cannot open"), 1);
	/* An empty one. */
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	start_fails("thermal", "", 0);
	ck_assert_int_eq(logged("warning", "no thermal zones in"), 1);
	free(dir);
}
END_TEST

START_TEST(thermal_bad_zone_option_is_fatal)
{
	start_fails("thermal", "zone = ../thermal_zone0\n", 1);
	start_fails("thermal", "zone =\n", 1);
}
END_TEST

START_TEST(thermal_unreadable_zone_skipped)
{
	char *temp = at("sys/class/thermal/thermal_zone0/temp");

	start_ok("thermal", "");
	sample_ok();
	ck_assert_uint_eq(n_got, 2);

	/* A directory where the file was: read() fails with EISDIR. */
	rm("sys/class/thermal/thermal_zone0/temp");
	ck_assert_int_eq(mkdir(temp, 0755), 0);
	sample_ok();
	ck_assert_uint_eq(n_got, 1);
	check_reading(0, "thermal.temperature", "C", 46.25, 2, "zone",
		      "thermal_zone1", "type", "gpu-thermal");
	sample_ok();
	ck_assert_uint_eq(n_got, 1);
	ck_assert_int_eq(logged("warning", "thermal_zone0/temp"), 1);

	/* Garbage is skipped too, and logged as such. */
	rm("sys/class/thermal/thermal_zone0/temp");
	put("sys/class/thermal/thermal_zone0/temp", "hot\n");
	sample_ok();
	ck_assert_uint_eq(n_got, 1);
	ck_assert_int_eq(logged("warning", "unexpected contents 'hot'"), 1);

	/* Back: both again, and a notice. */
	put("sys/class/thermal/thermal_zone0/temp", "50000\n");
	sample_ok();
	ck_assert_uint_eq(n_got, 2);
	check_reading(0, "thermal.temperature", "C", 50.0, 2, "zone",
		      "thermal_zone0", "type", "cpu-thermal");
	ck_assert_int_eq(logged("notice", "reads again"), 1);

	/* No zone readable at all: the read fails. */
	put("sys/class/thermal/thermal_zone0/temp", "x\n");
	put("sys/class/thermal/thermal_zone1/temp", "y\n");
	ck_assert_int_eq(sample(), -EIO);
	ck_assert_uint_eq(n_got, 0);
	free(temp);
}
END_TEST

/* ------------------------------------------------------------- memory */

/* MemTotal 3882780 kB, MemAvailable 3126092 kB: used 756688 kB.
 *   used_mb      = 756688 / 1024  = 738.953125
 *   available_mb = 3126092 / 1024 = 3052.82421875
 *   used_percent = 756688 * 100 / 3882780 = 19.48830477...
 * SwapTotal 102396, SwapFree 76796: 25600 used, 25.00097660...% */
START_TEST(memory_exact)
{
	start_ok("memory", "");
	sample_ok();
	ck_assert_uint_eq(n_got, 4);
	check_reading(0, "memory.used_mb", "MB", 738.953125, 0);
	check_reading(1, "memory.available_mb", "MB", 3052.82421875, 0);
	check_reading(2, "memory.used_percent", "%", 75668800.0 / 3882780.0,
		      0);
	ck_assert_double_eq_tol(got[2].value, 19.4883047713, 1e-9);
	check_reading(3, "memory.swap_used_percent", "%",
		      2560000.0 / 102396.0, 0);
	ck_assert_double_eq_tol(got[3].value, 25.0009766006, 1e-9);
}
END_TEST

/* Without MemAvailable (before Linux 3.14): MemFree + Buffers + Cached =
 * 2310544 + 52460 + 812108 = 3175112 kB available, 707668 kB used.
 *   used_mb      = 707668 / 1024  = 691.08203125
 *   available_mb = 3175112 / 1024 = 3100.6953125
 * No swap this time. */
START_TEST(memory_fallback_without_memavailable)
{
	put("proc/meminfo", "MemTotal:        3882780 kB\n"
			    "MemFree:         2310544 kB\n"
			    "Buffers:           52460 kB\n"
			    "Cached:           812108 kB\n"
			    "SwapCached:            0 kB\n"
			    "SwapTotal:             0 kB\n"
			    "SwapFree:              0 kB\n");
	start_ok("memory", "");
	sample_ok();
	ck_assert_uint_eq(n_got, 3);
	check_reading(0, "memory.used_mb", "MB", 691.08203125, 0);
	check_reading(1, "memory.available_mb", "MB", 3100.6953125, 0);
	check_reading(2, "memory.used_percent", "%", 70766800.0 / 3882780.0,
		      0);
	ck_assert_double_eq_tol(got[2].value, 18.2258072824, 1e-9);
}
END_TEST

START_TEST(memory_garbage)
{
	start_ok("memory", "");
	put("proc/meminfo", "\x7f" "ELF\x01\x02 this is not meminfo\n::::\n"
			    "MemTotal: lots\n");
	ck_assert_int_eq(sample(), -EIO);
	ck_assert_uint_eq(n_got, 0);
	ck_assert_int_eq(sample(), -EIO);
	ck_assert_int_eq(logged("warning", "MemTotal"), 2); /* one read */

	put("proc/meminfo", "");
	ck_assert_int_eq(sample(), -EIO);
	ck_assert_uint_eq(n_got, 0);

	/* Nothing to compute available from. */
	put("proc/meminfo", "MemTotal: 1000 kB\nMemFree: 10 kB\n");
	ck_assert_int_eq(sample(), -EIO);
	ck_assert_uint_eq(n_got, 0);

	rm("proc/meminfo");
	ck_assert_int_eq(sample(), -ENOENT);
	ck_assert_uint_eq(n_got, 0);

	/* The first clean read says so. */
	put("proc/meminfo", "MemTotal: 1000 kB\nMemAvailable: 250 kB\n");
	sample_ok();
	ck_assert_uint_eq(n_got, 3);
	check_reading(2, "memory.used_percent", "%", 75.0, 0);
	ck_assert_int_eq(logged("notice", "reads cleanly again"), 1);
}
END_TEST

/* --------------------------------------------------------------- disk */

START_TEST(disk_root)
{
	start_ok("disk", "mounts = /\n");
	sample_ok();
	ck_assert_uint_ge(n_got, 2);
	ck_assert_uint_le(n_got, 3);
	for (size_t i = 0; i < n_got; i++) {
		ck_assert_uint_eq(got[i].n_labels, 1);
		ck_assert_str_eq(got[i].key[0], "mount");
		ck_assert_str_eq(got[i].val[0], "/");
		ck_assert_int_eq(got[i].quality, VIGIL_QUALITY_GOOD);
	}
	ck_assert_str_eq(got[0].metric, "disk.used_percent");
	ck_assert_str_eq(got[0].unit, "%");
	ck_assert(got[0].value >= 0 && got[0].value <= 100);
	ck_assert_str_eq(got[1].metric, "disk.free_mb");
	ck_assert_str_eq(got[1].unit, "MB");
	ck_assert(got[1].value >= 0);
	if (n_got == 3) {
		ck_assert_str_eq(got[2].metric, "disk.inodes_used_percent");
		ck_assert_str_eq(got[2].unit, "%");
		ck_assert(got[2].value >= 0 && got[2].value <= 100);
	}
}
END_TEST

START_TEST(disk_missing_mount_skipped)
{
	start_ok("disk", "mounts = /nonexistent /proc\n");
	sample_ok();
	ck_assert_ptr_nonnull(find("disk.free_mb", "mount", "/proc"));
	ck_assert_ptr_null(find("disk.free_mb", "mount", "/nonexistent"));
	sample_ok();
	ck_assert_int_eq(logged("warning", "nonexistent"), 1);

	start_ok("disk", "mounts = /nonexistent\n");
	ck_assert_int_eq(sample(), -EIO);
	ck_assert_uint_eq(n_got, 0);
}
END_TEST

START_TEST(disk_bad_mounts_are_fatal)
{
	start_fails("disk", "mounts = var/log\n", 1);
	start_fails("disk", "mounts = / proc\n", 1);
	start_fails("disk", "mounts = / /boot /\n", 1);
	start_fails("disk", "mounts =\n", 1);
}
END_TEST

/* --------------------------------------------------------------- load */

/* "0.52 0.58 0.59 2/213 12345" */
START_TEST(load_exact)
{
	start_ok("load", "");
	sample_ok();
	ck_assert_uint_eq(n_got, 5);
	check_reading(0, "load.load1", "", 0.52, 0);
	check_reading(1, "load.load5", "", 0.58, 0);
	check_reading(2, "load.load15", "", 0.59, 0);
	check_reading(3, "load.running", "", 2, 0);
	check_reading(4, "load.procs", "", 213, 0);
}
END_TEST

/* The value is the double nearest the decimal the kernel wrote, as
 * strtod would give (in the C locale). */
START_TEST(load_decimals_exact)
{
	put("proc/loadavg", "0.30 1.15 12.29 10/1500 4242\n");
	start_ok("load", "");
	sample_ok();
	ck_assert_uint_eq(n_got, 5);
	check_reading(0, "load.load1", "", 0.30, 0);
	check_reading(1, "load.load5", "", 1.15, 0);
	check_reading(2, "load.load15", "", 12.29, 0);
	check_reading(3, "load.running", "", 10, 0);
	check_reading(4, "load.procs", "", 1500, 0);

	/* Each of 0.00 to 2.99 and some more: adding up digits times 0.1,
	 * 0.01 went wrong for about one in four. */
	for (int i = 0; i < 300; i += 3) {
		char text[64];

		snprintf(text, sizeof(text), "%d.%02d %d.%02d %d.%02d 1/1 1\n",
			 i / 100, i % 100, (i + 1) / 100, (i + 1) % 100,
			 (i + 2) / 100, (i + 2) % 100);
		put("proc/loadavg", text);
		sample_ok();
		for (int j = 0; j < 3; j++)
			ck_assert_msg(got[j].value == (double)(i + j) / 100.0,
				      "'%s': load %d read as %.17g", text, j,
				      got[j].value);
	}
	put("proc/loadavg", "99.99 100.00 1024.07 1/1 1\n");
	sample_ok();
	ck_assert_double_eq(got[0].value, 99.99);
	ck_assert_double_eq(got[1].value, 100.0);
	ck_assert_double_eq(got[2].value, 1024.07);
}
END_TEST

START_TEST(load_garbled_tasks_keep_averages)
{
	put("proc/loadavg", "1.00 2.00 3.00 x/y 1\n");
	start_ok("load", "");
	sample_ok();
	ck_assert_uint_eq(n_got, 3);
	check_reading(0, "load.load1", "", 1.0, 0);
	check_reading(1, "load.load5", "", 2.0, 0);
	check_reading(2, "load.load15", "", 3.0, 0);
	ck_assert_int_eq(logged("warning", "fourth field"), 1);
}
END_TEST

START_TEST(load_garbage)
{
	start_ok("load", "");
	put("proc/loadavg", "-1 0.5 0.5 1/1 1\n");
	ck_assert_int_eq(sample(), -EIO);
	ck_assert_uint_eq(n_got, 0);
	put("proc/loadavg", "0.5\n");
	ck_assert_int_eq(sample(), -EIO);
	ck_assert_uint_eq(n_got, 0);
	ck_assert_int_eq(logged("warning", "unexpected contents '-1"), 1);
	ck_assert_int_eq(logged("warning", "unexpected contents '0.5'"), 0);
	rm("proc/loadavg");
	ck_assert_int_eq(sample(), -ENOENT);
	put("proc/loadavg", "0.52 0.58 0.59 2/213 12345\n");
	sample_ok();
	ck_assert_uint_eq(n_got, 5);
	ck_assert_int_eq(logged("notice", "reads cleanly again"), 1);
}
END_TEST

/* ------------------------------------------------------------ network */

/* The fixture's /sys/class/net:
 *   eth0   flags 0x1003 (up)  operstate up       carrier 1
 *   ifb0   flags 0x82   (down) operstate down    carrier 0
 *   lo     flags 0x9          operstate unknown  carrier 1  (never)
 *   tun0   flags 0x1091 (up)  operstate unknown  carrier 1
 *   wlan0  flags 0x1003 (up)  operstate down     carrier 0 */

static void check_iface(size_t i, const char *name, double up,
			double carrier)
{
	check_reading(i, "network.up", "", up, 1, "interface", name);
	check_reading(i + 1, "network.carrier", "", carrier, 1, "interface",
		      name);
}

START_TEST(network_discovered)
{
	start_ok("network", "");
	sample_ok();
	ck_assert_uint_eq(n_got, 6);
	check_iface(0, "eth0", 1, 1);
	check_iface(2, "tun0", 1, 1); /* "unknown" with carrier is up */
	check_iface(4, "wlan0", 0, 0);
	ck_assert_ptr_null(find("network.up", "interface", "lo"));
	ck_assert_ptr_null(find("network.up", "interface", "ifb0"));
}
END_TEST

START_TEST(network_followed_once_up)
{
	start_ok("network", "");
	sample_ok();
	ck_assert_ptr_null(find("network.up", "interface", "ifb0"));

	/* Someone brings ifb0 up: from now on it is followed. */
	put("sys/class/net/ifb0/flags", "0x1003\n");
	sample_ok();
	ck_assert_uint_eq(n_got, 8);
	check_iface(0, "eth0", 1, 1);
	check_iface(2, "ifb0", 0, 0);

	put("sys/class/net/ifb0/operstate", "up\n");
	put("sys/class/net/ifb0/carrier", "1\n");
	sample_ok();
	check_iface(2, "ifb0", 1, 1);

	/* Down again, administratively: still reported, as down. */
	put("sys/class/net/ifb0/flags", "0x82\n");
	put("sys/class/net/ifb0/operstate", "down\n");
	put("sys/class/net/ifb0/carrier", "0\n");
	sample_ok();
	ck_assert_uint_eq(n_got, 8);
	check_iface(2, "ifb0", 0, 0);
}
END_TEST

START_TEST(network_discovered_come_and_go)
{
	/* Not an interface: a file in the class directory. */
	put("sys/class/net/bonding_masters", "\n");
	start_ok("network", "");
	sample_ok();
	ck_assert_uint_eq(n_got, 6);
	ck_assert_ptr_null(find("network.up", "interface", "bonding_masters"));

	/* wlan0 is unplugged (its directory goes) and what remains of it
	 * for a moment has no operstate: it is nobody's business any
	 * more, not an interface that is down. */
	rm("sys/class/net/wlan0/operstate");
	sample_ok();
	ck_assert_uint_eq(n_got, 4);
	ck_assert_ptr_null(find("network.up", "interface", "wlan0"));
	rm("sys/class/net/wlan0");
	sample_ok();
	ck_assert_uint_eq(n_got, 4);
	check_iface(0, "eth0", 1, 1);
	check_iface(2, "tun0", 1, 1);
}
END_TEST

START_TEST(network_listed)
{
	start_ok("network", "interfaces = eth0 missing0\n");
	sample_ok();
	ck_assert_uint_eq(n_got, 4);
	check_iface(0, "eth0", 1, 1);
	check_iface(2, "missing0", 0, 0);
	sample_ok();
	ck_assert_int_eq(logged("warning", "interface missing0 not present"),
			 1);

	/* Listed, lo and spares are reported whatever their flags. */
	start_ok("network", "interfaces = lo ifb0\n");
	sample_ok();
	ck_assert_uint_eq(n_got, 4);
	check_iface(0, "lo", 1, 1);
	check_iface(2, "ifb0", 0, 0);

	/* Listed as none: nothing, and no error. */
	start_ok("network", "interfaces =\n");
	sample_ok();
	ck_assert_uint_eq(n_got, 0);
}
END_TEST

START_TEST(network_bad_options_are_fatal)
{
	static const char *const bad[] = {
		"targets = 127.0.0.1\n",
		"targets = 127.0.0.1:0\n",
		"targets = 127.0.0.1:65536\n",
		"targets = 127.0.0.1:http\n",
		"targets = 127.0.0.1:80 :80\n",
		"targets = dns:\n",
		"targets = ::1:80\n",
		"targets = [::1]80\n",
		"interfaces = eth0 a/b\n",
		"interfaces = averyveryverylongname0\n",
	};

	for (size_t i = 0; i < VIGIL_ARRAY_SIZE(bad); i++)
		start_fails("network", bad[i], 1);
	/* The good forms parse (nothing is probed before a read). */
	start_ok("network", "targets = 127.0.0.1:1 [::1]:65535 dns:localhost\n");
}
END_TEST

START_TEST(network_probes_fit_the_deadline)
{
	/* Set, probe_timeout times the targets must fit in 90% of the
	 * instance's timeout (10s by default): a network down would get the
	 * worker killed as hung instead of the targets reported unreachable. */
	start_fails("network", "targets = 127.0.0.1:1 127.0.0.1:2\n"
			       "probe_timeout = 6s\n", 1);
	ck_assert_int_eq(logged("error", "2 target(s) of 6000 ms each take up "
					 "to 12000 ms, more than this "
					 "instance's timeout = 10000 ms "
					 "allows"),
			 1);
	ck_assert_int_eq(logged("error", "raise timeout to at least 13334 ms, "
					 "or lower probe_timeout"),
			 1);
	start_ok("network", "targets = 127.0.0.1:1 127.0.0.1:2\n"
			    "probe_timeout = 4s\n");
	/* Unset, it is shortened to fit (2s would not, three times in 1s). */
	start_ok("network", "timeout = 1s\n"
			    "targets = 127.0.0.1:1 127.0.0.1:2 127.0.0.1:3\n");
	/* Unless nothing is left of the timeout for a probe. */
	start_fails("network", "timeout = 100ms\ntargets = 127.0.0.1:1\n", 1);
	ck_assert_int_eq(logged("error", "or list fewer targets"), 1);
}
END_TEST

/* A TCP socket on 127.0.0.1, on a port the kernel picks; listening or
 * not. Returns the fd; *port is set. */
static int local_socket(int do_listen, unsigned *port)
{
	struct sockaddr_in sin = { 0 };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	if (do_listen)
		ck_assert_int_eq(listen(fd, 4), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

START_TEST(network_tcp_reachable)
{
	unsigned port;
	int fd = local_socket(1, &port);
	char spec[64], *keys;

	snprintf(spec, sizeof(spec), "127.0.0.1:%u", port);
	keys = vigil_xasprintf("interfaces =\ntargets = %s\n", spec);
	start_ok("network", keys);
	free(keys);
	sample_ok();
	ck_assert_uint_eq(n_got, 2);
	check_reading(0, "network.reachable", "", 1, 1, "target", spec);
	ck_assert_str_eq(got[1].metric, "network.latency_ms");
	ck_assert_str_eq(got[1].unit, "ms");
	ck_assert_uint_eq(got[1].n_labels, 1);
	ck_assert_str_eq(got[1].key[0], "target");
	ck_assert_str_eq(got[1].val[0], spec);
	ck_assert(got[1].value >= 0);
	close(fd);
}
END_TEST

START_TEST(network_tcp_refused)
{
	unsigned port;
	/* Bound but not listening: the port is ours, and refuses. */
	int fd = local_socket(0, &port);
	char spec[64], *keys;

	snprintf(spec, sizeof(spec), "127.0.0.1:%u", port);
	keys = vigil_xasprintf("interfaces =\ntargets = %s\n", spec);
	start_ok("network", keys);
	free(keys);
	sample_ok();
	ck_assert_uint_eq(n_got, 1);
	check_reading(0, "network.reachable", "", 0, 1, "target", spec);
	sample_ok();
	ck_assert_uint_eq(n_got, 1);
	ck_assert_int_eq(logged("notice", "unreachable"), 1);

	/* Now it answers. */
	ck_assert_int_eq(listen(fd, 4), 0);
	sample_ok();
	ck_assert_uint_eq(n_got, 2);
	check_reading(0, "network.reachable", "", 1, 1, "target", spec);
	ck_assert_int_eq(logged("notice", "reachable again"), 1);
	close(fd);
}
END_TEST

/* --------------------------------------------------------------- suite */

static TCase *tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup, teardown);
	suite_add_tcase(s, tc);
	return tc;
}

static Suite *sensors_suite(void)
{
	Suite *s = suite_create("sensors");
	TCase *tc;

	tc = tcase(s, "root");
	tcase_add_test(tc, root_must_be_a_directory);

	tc = tcase(s, "cpu");
	tcase_add_test(tc, cpu_first_read_is_a_baseline);
	tcase_add_test(tc, cpu_usage_and_iowait);
	tcase_add_test(tc, cpu_per_cpu);
	tcase_add_test(tc, cpu_per_cpu_off_reports_total_only);
	tcase_add_test(tc, cpu_reset_rebaselines);
	tcase_add_test(tc, cpu_core_offline_then_back);
	tcase_add_test(tc, cpu_one_field_backwards);
	tcase_add_test(tc, cpu_bad_file);

	tc = tcase(s, "thermal");
	tcase_add_test(tc, thermal_all_zones);
	tcase_add_test(tc, thermal_zone_by_type);
	tcase_add_test(tc, thermal_zone_by_name);
	tcase_add_test(tc, thermal_negative);
	tcase_add_test(tc, thermal_no_zones_is_not_fatal);
	tcase_add_test(tc, thermal_bad_zone_option_is_fatal);
	tcase_add_test(tc, thermal_unreadable_zone_skipped);

	tc = tcase(s, "memory");
	tcase_add_test(tc, memory_exact);
	tcase_add_test(tc, memory_fallback_without_memavailable);
	tcase_add_test(tc, memory_garbage);

	tc = tcase(s, "disk");
	tcase_add_test(tc, disk_root);
	tcase_add_test(tc, disk_missing_mount_skipped);
	tcase_add_test(tc, disk_bad_mounts_are_fatal);

	tc = tcase(s, "load");
	tcase_add_test(tc, load_exact);
	tcase_add_test(tc, load_decimals_exact);
	tcase_add_test(tc, load_garbled_tasks_keep_averages);
	tcase_add_test(tc, load_garbage);

	tc = tcase(s, "network");
	tcase_add_test(tc, network_discovered);
	tcase_add_test(tc, network_followed_once_up);
	tcase_add_test(tc, network_discovered_come_and_go);
	tcase_add_test(tc, network_listed);
	tcase_add_test(tc, network_bad_options_are_fatal);
	tcase_add_test(tc, network_probes_fit_the_deadline);
	tcase_add_test(tc, network_tcp_reachable);
	tcase_add_test(tc, network_tcp_refused);
	return s;
}

int main(void)
{
	return unit_run(sensors_suite());
}
