/*
 * test_health.c - the health report (core/health.c): each source parsed
 * from tests/fixtures/root or from a tree a test writes in a temporary
 * directory, the reasons each threshold gives, unknown values when files
 * are missing, the serial's fallbacks, the labels and the JSON, and the
 * [health] section.
 *
 * Expected values are worked out by hand from the fixture files; the
 * arithmetic is in comments.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "conf.h"
#include "health.h"
#include "parse.h"
#include "unit.h"
#include "util.h"

static const struct vigil_health_policy defaults = VIGIL_HEALTH_POLICY_DEFAULT;

static char *tmp; /* a test's own root, made on demand */
static struct vigil_health h;

/* ------------------------------------------------------------ trees */

static const char *fixture_root(void)
{
	static char path[4096];
	const char *src = getenv("VIGIL_SRCDIR");

	ck_assert_msg(src != NULL, "VIGIL_SRCDIR is not set: run the tests "
				   "with make check");
	snprintf(path, sizeof(path), "%s/tests/fixtures/root", src);
	return path;
}

/* mkdir -p of the directories of tmp/rel. */
static void mkdirs(const char *rel)
{
	char *path = vigil_xasprintf("%s/%s", tmp, rel);

	for (char *p = path + strlen(tmp) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		ck_assert_msg(mkdir(path, 0755) == 0 || errno == EEXIST,
			      "mkdir %s: %s", path, strerror(errno));
		*p = '/';
	}
	free(path);
}

/* Writes len bytes of data to tmp/rel, making its directories. */
static void put_n(const char *rel, const char *data, size_t len)
{
	char *path = vigil_xasprintf("%s/%s", tmp, rel);
	FILE *f;

	mkdirs(rel);
	f = fopen(path, "w");
	ck_assert_msg(f != NULL, "cannot write %s: %s", path, strerror(errno));
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	free(path);
}

static void put(const char *rel, const char *text)
{
	put_n(rel, text, strlen(text));
}

/* mkdir -p tmp/rel. */
static void put_dir(const char *rel)
{
	char *with_slash = vigil_xasprintf("%s/", rel);

	mkdirs(with_slash);
	free(with_slash);
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void setup(void)
{
	tmp = unit_tmpdir();
	memset(&h, 0, sizeof(h));
}

static void teardown(void)
{
	vigil_health_free(&h);
	nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(tmp);
	tmp = NULL;
}

/* Collects below `root` with no plugins and the given disks. */
static void collect(const char *root, const char *const *disks, size_t n)
{
	struct vigil_health_input in = {
		.vigild_uptime = 42 * VIGIL_SEC + 500 * VIGIL_MSEC,
		.disk_paths = disks,
		.n_disk_paths = n,
	};

	vigil_health_collect(&h, root, &in);
}

/* Fails unless reason i of the report is `want`. */
static void assert_reason(size_t i, const char *want)
{
	ck_assert_msg(i < h.n_reasons, "reason %zu of %zu: wanted '%s'", i,
		      h.n_reasons, want);
	ck_assert_str_eq(h.reasons[i], want);
}

/* ----------------------------------------------------------- parsers */

START_TEST(parse_uptime)
{
	double s = -1;

	ck_assert_int_eq(vigil_health_parse_uptime("12345.67 23456.78\n", &s),
			 0);
	ck_assert_double_eq_tol(s, 12345.67, 1e-9);
	ck_assert_int_eq(vigil_health_parse_uptime("7\n", &s), 0);
	ck_assert_double_eq(s, 7);
	s = -1;
	ck_assert_int_eq(vigil_health_parse_uptime("", &s), -1);
	ck_assert_int_eq(vigil_health_parse_uptime("-5 3\n", &s), -1);
	ck_assert_int_eq(vigil_health_parse_uptime("up 5 days\n", &s), -1);
	ck_assert_int_eq(vigil_health_parse_uptime("12x 3\n", &s), -1);
	ck_assert_double_eq(s, -1); /* untouched */
}
END_TEST

START_TEST(parse_procs)
{
	int64_t n = -1;

	ck_assert_int_eq(vigil_health_parse_procs("0.52 0.58 0.59 2/213 1\n",
						  &n),
			 0);
	ck_assert_int_eq(n, 213);
	n = -1;
	ck_assert_int_eq(vigil_health_parse_procs("0.52 0.58 0.59\n", &n), -1);
	ck_assert_int_eq(vigil_health_parse_procs("0.52 0.58 0.59 213 1\n", &n),
			 -1);
	ck_assert_int_eq(vigil_health_parse_procs("0.52 0.58 0.59 x/213 1", &n),
			 -1);
	ck_assert_int_eq(vigil_health_parse_procs("0.52 0.58 0.59 2/ 1", &n),
			 -1);
	ck_assert_int_eq(vigil_health_parse_procs("0.52 0.58 0.59 2/21x 1", &n),
			 -1);
	ck_assert_int_eq(vigil_health_parse_procs("", &n), -1);
	ck_assert_int_eq(n, -1);
}
END_TEST

START_TEST(parse_meminfo)
{
	int64_t total = -1, avail = -1;

	ck_assert_int_eq(vigil_health_parse_meminfo(
				 "MemTotal:        3882780 kB\n"
				 "MemFree:         2310544 kB\n"
				 "MemAvailable:    3126092 kB\n",
				 &total, &avail),
			 0);
	ck_assert_int_eq(total, 3882780);
	ck_assert_int_eq(avail, 3126092);

	/* Before 3.14: MemFree + Buffers + Cached = 100 + 20 + 30; the
	 * SwapCached line is not Cached. */
	ck_assert_int_eq(vigil_health_parse_meminfo("MemTotal: 1000 kB\n"
						    "MemFree: 100 kB\n"
						    "Buffers: 20 kB\n"
						    "SwapCached: 999 kB\n"
						    "Cached: 30 kB\n",
						    &total, &avail),
			 0);
	ck_assert_int_eq(total, 1000);
	ck_assert_int_eq(avail, 150);

	/* More available than there is: clamped. */
	ck_assert_int_eq(vigil_health_parse_meminfo("MemTotal: 1000 kB\n"
						    "MemAvailable: 2000 kB\n",
						    &total, &avail),
			 0);
	ck_assert_int_eq(avail, 1000);

	total = avail = -1;
	ck_assert_int_eq(vigil_health_parse_meminfo("MemTotal: 0 kB\n"
						    "MemAvailable: 0 kB\n",
						    &total, &avail),
			 -1);
	ck_assert_int_eq(vigil_health_parse_meminfo("MemTotal: lots\n"
						    "MemAvailable: 5 kB\n",
						    &total, &avail),
			 -1);
	ck_assert_int_eq(vigil_health_parse_meminfo("MemTotal: 1000 kB\n"
						    "MemFree: 100 kB\n",
						    &total, &avail),
			 -1);
	ck_assert_int_eq(vigil_health_parse_meminfo("", &total, &avail), -1);
	ck_assert_int_eq(vigil_health_parse_meminfo(
				 "MemTotal: 99999999999999999999 kB\n"
				 "MemAvailable: 5 kB\n",
				 &total, &avail),
			 -1);
	ck_assert_int_eq(total, -1);
	ck_assert_int_eq(avail, -1);
}
END_TEST

START_TEST(parse_millideg)
{
	double c = 0;

	ck_assert_int_eq(vigil_health_parse_millideg("48312\n", &c), 0);
	ck_assert_double_eq_tol(c, 48.312, 1e-9);
	ck_assert_int_eq(vigil_health_parse_millideg("-5000", &c), 0);
	ck_assert_double_eq(c, -5);
	c = 1;
	ck_assert_int_eq(vigil_health_parse_millideg("48.3\n", &c), -1);
	ck_assert_int_eq(vigil_health_parse_millideg("48312 C\n", &c), -1);
	ck_assert_int_eq(vigil_health_parse_millideg("-\n", &c), -1);
	ck_assert_int_eq(vigil_health_parse_millideg("", &c), -1);
	ck_assert_double_eq(c, 1);
}
END_TEST

START_TEST(clean_id)
{
	char pi[] = "10000000abcdef12\0"; /* as a Raspberry Pi has it */
	char id[] = "  5c9b0a4e \n";
	char ctl[] = "a\001b\377c\n";
	char empty[] = "\0\0\0";
	char blank[] = " \t\n";
	char crlf[] = "box\r\nmore";

	ck_assert_uint_eq(vigil_health_clean_id(pi, sizeof(pi) - 1), 16);
	ck_assert_str_eq(pi, "10000000abcdef12");
	ck_assert_uint_eq(vigil_health_clean_id(id, strlen(id)), 8);
	ck_assert_str_eq(id, "5c9b0a4e");
	ck_assert_uint_eq(vigil_health_clean_id(ctl, strlen(ctl)), 5);
	ck_assert_str_eq(ctl, "a?b?c");
	ck_assert_uint_eq(vigil_health_clean_id(empty, sizeof(empty) - 1), 0);
	ck_assert_str_eq(empty, "");
	ck_assert_uint_eq(vigil_health_clean_id(blank, strlen(blank)), 0);
	ck_assert_uint_eq(vigil_health_clean_id(crlf, strlen(crlf)), 3);
	ck_assert_str_eq(crlf, "box");
}
END_TEST

START_TEST(disk_from_statvfs)
{
	struct vigil_health_disk d = {.err = 5};
	struct statvfs sv = {
		.f_bsize = 1024,
		.f_frsize = 4096,
		.f_blocks = 1000,
		.f_bfree = 100,
		.f_bavail = 50,
	};

	/* Used 1000 - 100 = 900 of 900 + 50 that non-root users can have:
	 * 94.74%; 1000 and 50 blocks of 4 kB. */
	vigil_health_disk_from_statvfs(&d, &sv);
	ck_assert_int_eq(d.err, 0);
	ck_assert_double_eq_tol(d.used_pct, 900.0 * 100 / 950, 1e-9);
	ck_assert_uint_eq(d.total_kb, 4000);
	ck_assert_uint_eq(d.free_kb, 200);

	/* Old kernels: f_frsize 0, f_bsize counts. */
	sv.f_frsize = 0;
	vigil_health_disk_from_statvfs(&d, &sv);
	ck_assert_uint_eq(d.total_kb, 1000);

	/* A pseudo filesystem has no blocks. */
	memset(&sv, 0, sizeof(sv));
	sv.f_frsize = 4096;
	vigil_health_disk_from_statvfs(&d, &sv);
	ck_assert_double_eq(d.used_pct, -1);
	ck_assert_uint_eq(d.total_kb, 0);
}
END_TEST

/* ----------------------------------------------------------- collect */

START_TEST(collect_fixture)
{
	const char *const disks[] = {"/"};

	collect(fixture_root(), disks, 1);
	ck_assert_double_eq_tol(h.uptime_s, 12345.67, 1e-9);
	ck_assert_double_eq_tol(h.vigild_uptime_s, 42.5, 1e-9);
	ck_assert_int_eq(h.processes, 213); /* loadavg's 2/213 */
	ck_assert_int_eq(h.mem_total_kb, 3882780);
	ck_assert_int_eq(h.mem_available_kb, 3126092);
	/* zone0 48312, zone1 46250: the hotter one. */
	ck_assert_int_eq(h.have_cpu_temp, 1);
	ck_assert_double_eq_tol(h.cpu_temp_c, 48.312, 1e-9);
	ck_assert_str_eq(h.version, PACKAGE_VERSION);
	/* The device tree's, NUL and all, before machine-id. */
	ck_assert_str_eq(h.serial, "10000000abcdef12");
	ck_assert_str_eq(h.hostname, "vigil-fixture");

	/* All of sys/class/net but lo, in name order. */
	ck_assert_uint_eq(h.n_ifaces, 4);
	ck_assert_str_eq(h.ifaces[0].name, "eth0");
	ck_assert_str_eq(h.ifaces[0].operstate, "up");
	ck_assert_int_eq(h.ifaces[0].carrier, 1);
	ck_assert_int_eq(h.ifaces[0].up, 1);
	ck_assert_str_eq(h.ifaces[1].name, "ifb0");
	ck_assert_str_eq(h.ifaces[1].operstate, "down");
	ck_assert_int_eq(h.ifaces[1].carrier, 0);
	ck_assert_int_eq(h.ifaces[1].up, 0);
	/* A tun device says "unknown": up, as it has carrier. */
	ck_assert_str_eq(h.ifaces[2].name, "tun0");
	ck_assert_str_eq(h.ifaces[2].operstate, "unknown");
	ck_assert_int_eq(h.ifaces[2].up, 1);
	ck_assert_str_eq(h.ifaces[3].name, "wlan0");
	ck_assert_int_eq(h.ifaces[3].up, 0);
	ck_assert_int_eq(h.net_up, 1);

	/* The fixture tree's own filesystem: real numbers, whatever they
	 * are. */
	ck_assert_uint_eq(h.n_disks, 1);
	ck_assert_str_eq(h.disks[0].path, "/");
	ck_assert_int_eq(h.disks[0].err, 0);
	ck_assert(h.disks[0].used_pct <= 100);
	ck_assert_uint_gt(h.disks[0].total_kb, 0);

	/* Healthy, whatever the disk of the machine running the test: a
	 * disk cannot be more than 100% used. */
	{
		struct vigil_health_policy p = defaults;

		p.disk_used_max = 100;
		vigil_health_assess(&h, &p);
	}
	ck_assert_int_eq(h.status, VIGIL_HEALTH_HEALTHY);
	ck_assert_uint_eq(h.n_reasons, 0);
	ck_assert_int_eq(vigil_health_severity(&h), VIGIL_SEV_INFO);
}
END_TEST

START_TEST(collect_plugins)
{
	const struct vigil_health_plugin plugins[] = {
		{"sensor.cpu", "running", 0, 0},
		{"sink.log", "running", 0, 3},
		{"sink.mqtt", "backoff", 0, 5},
		{NULL, NULL, 1, 0},
	};
	struct vigil_health_input in = {
		.plugins = plugins,
		.n_plugins = 4,
	};

	vigil_health_collect(&h, tmp, &in);
	ck_assert_uint_eq(h.n_plugins, 4);
	ck_assert_str_eq(h.plugins[1].section, "sink.log");
	ck_assert_str_eq(h.plugins[2].state, "backoff");
	ck_assert_str_eq(h.plugins[3].section, "?");
	ck_assert_str_eq(h.plugins[3].state, "unknown");
	ck_assert_uint_eq(h.undelivered, 8);
	/* Copies, not the caller's pointers. */
	ck_assert_ptr_ne(h.plugins[0].section, plugins[0].section);
}
END_TEST

START_TEST(collect_missing_is_unknown)
{
	const char *const disks[] = {"/nonexistent"};

	/* An empty root: nothing to read. */
	collect(tmp, disks, 1);
	ck_assert_double_eq(h.uptime_s, -1);
	ck_assert_int_eq(h.processes, -1);
	ck_assert_int_eq(h.mem_total_kb, -1);
	ck_assert_int_eq(h.mem_available_kb, -1);
	ck_assert_int_eq(h.have_cpu_temp, 0);
	ck_assert_str_eq(h.serial, "unknown");
	ck_assert_str_eq(h.hostname, "unknown");
	ck_assert_str_eq(h.version, PACKAGE_VERSION);
	ck_assert_uint_eq(h.n_ifaces, 0);
	ck_assert_int_eq(h.net_up, -1);
	ck_assert_int_eq(h.disks[0].err, ENOENT);

	/* Unknown is no reason to degrade; a disk that cannot be checked
	 * is. */
	vigil_health_assess(&h, &defaults);
	ck_assert_int_eq(h.status, VIGIL_HEALTH_DEGRADED);
	ck_assert_uint_eq(h.n_reasons, 1);
	assert_reason(0, "disk /nonexistent cannot be checked: No such file "
			 "or directory");
}
END_TEST

START_TEST(collect_garbage_is_unknown)
{
	put("proc/uptime", "soon\n");
	put("proc/loadavg", "0.52 0.58 0.59\n");
	put("proc/meminfo", "MemTotal: many\n");
	put("sys/class/thermal/thermal_zone0/temp", "hot\n");
	put("sys/class/thermal/thermal_zone1/temp", "");
	put("sys/class/thermal/cooling_device0/temp", "99000\n");
	put_n("proc/device-tree/serial-number", "\0", 1);
	put("etc/machine-id", "\n");
	put_dir("sys/class/net");
	collect(tmp, NULL, 0);
	ck_assert_double_eq(h.uptime_s, -1);
	ck_assert_int_eq(h.processes, -1); /* nor any PID in proc */
	ck_assert_int_eq(h.mem_total_kb, -1);
	ck_assert_int_eq(h.have_cpu_temp, 0);
	ck_assert_str_eq(h.serial, "unknown");
	/* Listed, but nothing there: no network. */
	ck_assert_uint_eq(h.n_ifaces, 0);
	ck_assert_int_eq(h.net_up, 0);
}
END_TEST

START_TEST(processes_from_proc_entries)
{
	/* No count in loadavg (or no loadavg): the PIDs in proc. */
	put("proc/loadavg", "0.52 0.58 0.59\n");
	put_dir("proc/1");
	put_dir("proc/42");
	put_dir("proc/31337");
	put_dir("proc/self");
	put_dir("proc/sys");
	put_dir("proc/0x1");
	collect(tmp, NULL, 0);
	ck_assert_int_eq(h.processes, 3);
	vigil_health_free(&h);

	put("proc/loadavg", "");
	collect(tmp, NULL, 0);
	ck_assert_int_eq(h.processes, 3);
}
END_TEST

START_TEST(serial_fallbacks)
{
	/* Neither: unknown. */
	collect(tmp, NULL, 0);
	ck_assert_str_eq(h.serial, "unknown");
	vigil_health_free(&h);

	/* machine-id alone. */
	put("etc/machine-id", "5c9b0a4e2f7d4e1f9a3b6c8d0e2f4a6b\n");
	collect(tmp, NULL, 0);
	ck_assert_str_eq(h.serial, "5c9b0a4e2f7d4e1f9a3b6c8d0e2f4a6b");
	vigil_health_free(&h);

	/* The device tree's wins. */
	put_n("proc/device-tree/serial-number", "00000000c0ffee42\0", 17);
	collect(tmp, NULL, 0);
	ck_assert_str_eq(h.serial, "00000000c0ffee42");
	vigil_health_free(&h);

	/* An empty one does not. */
	put_n("proc/device-tree/serial-number", "\0", 1);
	collect(tmp, NULL, 0);
	ck_assert_str_eq(h.serial, "5c9b0a4e2f7d4e1f9a3b6c8d0e2f4a6b");
}
END_TEST

START_TEST(hostname_fallback)
{
	put("etc/hostname", "from-etc\n");
	collect(tmp, NULL, 0);
	ck_assert_str_eq(h.hostname, "from-etc");
	vigil_health_free(&h);

	put("proc/sys/kernel/hostname", "from-kernel\n");
	collect(tmp, NULL, 0);
	ck_assert_str_eq(h.hostname, "from-kernel");
}
END_TEST

/* ------------------------------------------------------------ assess */

/* A device in trouble on every count the files can show. */
static void write_degraded_tree(void)
{
	/* 40000 of 1000000 kB available: 4%. */
	put("proc/meminfo", "MemTotal: 1000000 kB\nMemAvailable: 40000 kB\n");
	put("sys/class/thermal/thermal_zone0/temp", "45000\n");
	put("sys/class/thermal/thermal_zone1/temp", "82500\n");
	put("sys/class/thermal/thermal_zone2/temp", "bogus\n");
	put("sys/class/net/lo/operstate", "unknown\n");
	put("sys/class/net/lo/carrier", "1\n");
	put("sys/class/net/eth0/operstate", "down\n");
	put("sys/class/net/eth0/carrier", "0\n");
	/* Up without carrier: not enough. */
	put("sys/class/net/wlan0/operstate", "dormant\n");
	put("sys/class/net/wlan0/carrier", "1\n");
	/* Administratively down: carrier cannot be read. */
	put("sys/class/net/usb0/operstate", "down\n");
}

START_TEST(degraded_reasons)
{
	const struct vigil_health_plugin plugins[] = {
		{"sensor.x", "failed", 1, 0},
		{"sink.y", "running", 0, 120},
		{"sensor.z", "misconfigured", 1, 0},
		{"sink.ok", "running", 0, 100}, /* at the threshold: fine */
		{"sensor.slow", "backoff", 0, 0},
	};
	struct vigil_health_input in = {
		.plugins = plugins,
		.n_plugins = VIGIL_ARRAY_SIZE(plugins),
	};
	char *summary;

	write_degraded_tree();
	vigil_health_collect(&h, tmp, &in);
	ck_assert_double_eq_tol(h.cpu_temp_c, 82.5, 1e-9);
	ck_assert_uint_eq(h.n_ifaces, 3); /* eth0 usb0 wlan0 */
	ck_assert_str_eq(h.ifaces[1].name, "usb0");
	ck_assert_int_eq(h.ifaces[1].carrier, 0);
	ck_assert_str_eq(h.ifaces[2].operstate, "dormant");
	ck_assert_int_eq(h.ifaces[2].up, 0);
	ck_assert_int_eq(h.net_up, 0);

	vigil_health_assess(&h, &defaults);
	ck_assert_int_eq(h.status, VIGIL_HEALTH_DEGRADED);
	ck_assert_int_eq(vigil_health_severity(&h), VIGIL_SEV_WARNING);
	ck_assert_uint_eq(h.n_reasons, 6);
	assert_reason(0, "plugin [sensor.x] FAILED");
	assert_reason(1, "plugin [sensor.z] FAILED (misconfigured)");
	assert_reason(2, "sink [sink.y] has 120 undelivered events "
			 "(threshold 100)");
	assert_reason(3, "memory available 4% (threshold 10%)");
	assert_reason(4, "cpu temperature 82.5 C (threshold 80 C)");
	assert_reason(5, "no network interface up with carrier");

	summary = vigil_health_summary(&h);
	ck_assert_str_eq(summary,
			 "degraded: plugin [sensor.x] FAILED; plugin "
			 "[sensor.z] FAILED (misconfigured); sink [sink.y] has "
			 "120 undelivered events (threshold 100); memory "
			 "available 4% (threshold 10%); cpu temperature 82.5 C "
			 "(threshold 80 C); no network interface up with "
			 "carrier");
	free(summary);

	/* Assessed again: the reasons are replaced, not added to. */
	vigil_health_assess(&h, &defaults);
	ck_assert_uint_eq(h.n_reasons, 6);
}
END_TEST

START_TEST(thresholds_are_policy)
{
	struct vigil_health_policy p = defaults;

	write_degraded_tree();
	collect(tmp, NULL, 0);

	/* Only what goes past a threshold counts, not what is at it. */
	p.mem_available_min = 4;
	p.temp_max = 82.5;
	p.network_required = 0;
	vigil_health_assess(&h, &p);
	ck_assert_int_eq(h.status, VIGIL_HEALTH_HEALTHY);
	ck_assert_uint_eq(h.n_reasons, 0);

	p.mem_available_min = 4.5;
	p.temp_max = 82.4;
	vigil_health_assess(&h, &p);
	ck_assert_uint_eq(h.n_reasons, 2);
	assert_reason(0, "memory available 4% (threshold 4.5%)");
	assert_reason(1, "cpu temperature 82.5 C (threshold 82.4 C)");
}
END_TEST

START_TEST(disk_reasons)
{
	const char *const disks[] = {"/", "/data", "/proc", "/gone"};

	collect(fixture_root(), disks, 4);
	/* statvfs results the test cannot arrange, set by hand: / at 95%,
	 * /data at the threshold, /proc without blocks. */
	h.disks[0].used_pct = 95;
	h.disks[1].err = 0;
	h.disks[1].used_pct = 90;
	ck_assert_int_eq(h.disks[2].err, 0); /* fixture proc/ exists */
	h.disks[2].used_pct = -1;
	ck_assert_int_eq(h.disks[3].err, ENOENT);
	vigil_health_assess(&h, &defaults);
	ck_assert_uint_eq(h.n_reasons, 2);
	assert_reason(0, "disk / 95% full (threshold 90%)");
	assert_reason(1, "disk /gone cannot be checked: No such file or "
			 "directory");

	h.disks[0].used_pct = 90.43;
	vigil_health_assess(&h, &defaults);
	assert_reason(0, "disk / 90.4% full (threshold 90%)");
}
END_TEST

/* ------------------------------------------------------------ output */

/* Fails unless the labels hold key = want; want NULL: no such key. */
static void assert_label(const struct vigil_labels *l, const char *key,
			 const char *want)
{
	const char *got = vigil_labels_get(l->v, l->n, key);

	if (!want) {
		ck_assert_msg(got == NULL, "label %s = '%s', expected none",
			      key, got);
		return;
	}
	ck_assert_msg(got != NULL, "no label %s", key);
	ck_assert_str_eq(got, want);
}

START_TEST(labels_fixture)
{
	const char *const disks[] = {"/", "/gone"};
	const struct vigil_health_plugin plugins[] = {
		{"sensor.x", "failed", 1, 0},
		{"sink.y", "running", 0, 7},
	};
	struct vigil_health_input in = {
		.vigild_uptime = 42 * VIGIL_SEC + 900 * VIGIL_MSEC,
		.plugins = plugins,
		.n_plugins = 2,
		.disk_paths = disks,
		.n_disk_paths = 2,
	};
	struct vigil_labels l;

	vigil_health_collect(&h, fixture_root(), &in);
	vigil_health_assess(&h, &defaults);
	vigil_health_labels(&h, &l);

	/* Every key valid as a label key, sorted, none twice. */
	for (size_t i = 0; i < l.n; i++) {
		ck_assert_msg(vigil_valid_name(l.v[i].key), "bad key '%s'",
			      l.v[i].key);
		ck_assert_ptr_null(strchr(l.v[i].value, '\n'));
		if (i)
			ck_assert_int_lt(strcmp(l.v[i - 1].key, l.v[i].key), 0);
	}
	assert_label(&l, "status", "degraded");
	assert_label(&l, "reasons",
		     "plugin [sensor.x] FAILED; disk /gone cannot be checked: "
		     "No such file or directory");
	assert_label(&l, "version", PACKAGE_VERSION);
	assert_label(&l, "serial", "10000000abcdef12");
	assert_label(&l, "hostname", "vigil-fixture");
	assert_label(&l, "uptime_s", "12345");
	assert_label(&l, "vigild_uptime_s", "42");
	assert_label(&l, "processes", "213");
	assert_label(&l, "mem_total_kb", "3882780");
	assert_label(&l, "mem_available_kb", "3126092");
	/* 3126092 / 3882780 = 80.51% */
	assert_label(&l, "mem_available_pct", "80.5");
	assert_label(&l, "cpu_temp_c", "48.3");
	assert_label(&l, "net_up", "yes");
	assert_label(&l, "net0_name", "eth0");
	assert_label(&l, "net0_operstate", "up");
	assert_label(&l, "net0_carrier", "1");
	assert_label(&l, "net1_name", "ifb0");
	assert_label(&l, "net1_carrier", "0");
	assert_label(&l, "net3_name", "wlan0");
	assert_label(&l, "net4_name", NULL);
	assert_label(&l, "disk0_path", "/");
	ck_assert_ptr_nonnull(vigil_labels_get(l.v, l.n, "disk0_free_kb"));
	assert_label(&l, "disk0_error", NULL);
	assert_label(&l, "disk1_path", "/gone");
	assert_label(&l, "disk1_error", "No such file or directory");
	assert_label(&l, "disk1_used_pct", NULL);
	assert_label(&l, "plugins", "2");
	assert_label(&l, "plugins_failed", "1");
	assert_label(&l, "undelivered", "7");
	vigil_labels_free(&l);
}
END_TEST

START_TEST(labels_unknown_left_out)
{
	struct vigil_labels l;

	collect(tmp, NULL, 0);
	vigil_health_assess(&h, &defaults);
	vigil_health_labels(&h, &l);
	assert_label(&l, "status", "healthy");
	assert_label(&l, "reasons", "");
	assert_label(&l, "serial", "unknown");
	assert_label(&l, "hostname", "unknown");
	assert_label(&l, "vigild_uptime_s", "42");
	assert_label(&l, "uptime_s", NULL);
	assert_label(&l, "processes", NULL);
	assert_label(&l, "mem_total_kb", NULL);
	assert_label(&l, "mem_available_pct", NULL);
	assert_label(&l, "cpu_temp_c", NULL);
	assert_label(&l, "net_up", NULL);
	assert_label(&l, "plugins", "0");
	vigil_labels_free(&l);
}
END_TEST

START_TEST(summary_healthy)
{
	char *s;

	collect(tmp, NULL, 0);
	vigil_health_assess(&h, &defaults);
	s = vigil_health_summary(&h);
	ck_assert_str_eq(s, "healthy");
	free(s);
}
END_TEST

/* The report as JSON text, parsed back. */
static yajl_val json_of(void)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	char err[256], *text;
	size_t len;
	yajl_val v;

	ck_assert_ptr_nonnull(g);
	ck_assert_int_eq(vigil_health_json(&h, g), yajl_gen_status_ok);
	ck_assert_int_eq(yajl_gen_get_buf(g, &buf, &len), yajl_gen_status_ok);
	text = vigil_xasprintf("%.*s", (int)len, (const char *)buf);
	yajl_gen_free(g);
	v = yajl_tree_parse(text, err, sizeof(err));
	ck_assert_msg(v != NULL, "not JSON (%s): %s", err, text);
	free(text);
	return v;
}

static yajl_val jget(yajl_val v, const char *a, const char *b)
{
	const char *path[] = {a, b, NULL};

	return yajl_tree_get(v, path, yajl_t_any);
}

START_TEST(json_fixture)
{
	const char *const disks[] = {"/", "/gone"};
	const struct vigil_health_plugin plugins[] = {
		{"sensor.x", "failed", 1, 0},
		{"sink.y", "running", 0, 7},
	};
	struct vigil_health_input in = {
		.vigild_uptime = 42 * VIGIL_SEC + 500 * VIGIL_MSEC,
		.plugins = plugins,
		.n_plugins = 2,
		.disk_paths = disks,
		.n_disk_paths = 2,
	};
	yajl_val v, x, ifs, ds, ps;

	vigil_health_collect(&h, fixture_root(), &in);
	vigil_health_assess(&h, &defaults);
	v = json_of();
	ck_assert(YAJL_IS_OBJECT(v));
	ck_assert_str_eq(YAJL_GET_STRING(jget(v, "status", NULL)), "degraded");
	ck_assert_str_eq(YAJL_GET_STRING(jget(v, "severity", NULL)), "warning");
	x = jget(v, "reasons", NULL);
	ck_assert(YAJL_IS_ARRAY(x));
	ck_assert_uint_eq(YAJL_GET_ARRAY(x)->len, 2);
	ck_assert_str_eq(YAJL_GET_STRING(YAJL_GET_ARRAY(x)->values[0]),
			 "plugin [sensor.x] FAILED");
	ck_assert_str_eq(YAJL_GET_STRING(jget(v, "version", NULL)),
			 PACKAGE_VERSION);
	ck_assert_str_eq(YAJL_GET_STRING(jget(v, "serial", NULL)),
			 "10000000abcdef12");
	ck_assert_str_eq(YAJL_GET_STRING(jget(v, "hostname", NULL)),
			 "vigil-fixture");
	/* Numbers exactly, not as yajl's %.20g would print them. */
	ck_assert_str_eq(YAJL_GET_NUMBER(jget(v, "uptime_s", NULL)),
			 "12345.67");
	ck_assert_str_eq(YAJL_GET_NUMBER(jget(v, "vigild_uptime_s", NULL)),
			 "42.5");
	ck_assert_str_eq(YAJL_GET_NUMBER(jget(v, "cpu_temp_c", NULL)),
			 "48.312");
	ck_assert_int_eq(YAJL_GET_INTEGER(jget(v, "processes", NULL)), 213);
	ck_assert_int_eq(YAJL_GET_INTEGER(jget(v, "memory", "total_kb")),
			 3882780);
	ck_assert_int_eq(YAJL_GET_INTEGER(jget(v, "memory", "available_kb")),
			 3126092);
	ck_assert_double_eq_tol(
		YAJL_GET_DOUBLE(jget(v, "memory", "available_pct")),
		3126092.0 * 100 / 3882780, 1e-9);
	ck_assert(YAJL_IS_TRUE(jget(v, "network", "up")));
	ifs = jget(v, "network", "interfaces");
	ck_assert_uint_eq(YAJL_GET_ARRAY(ifs)->len, 4);
	x = YAJL_GET_ARRAY(ifs)->values[2];
	ck_assert_str_eq(YAJL_GET_STRING(jget(x, "name", NULL)), "tun0");
	ck_assert_str_eq(YAJL_GET_STRING(jget(x, "operstate", NULL)),
			 "unknown");
	ck_assert(YAJL_IS_TRUE(jget(x, "carrier", NULL)));
	ck_assert(YAJL_IS_TRUE(jget(x, "up", NULL)));
	ds = jget(v, "disks", NULL);
	ck_assert_uint_eq(YAJL_GET_ARRAY(ds)->len, 2);
	x = YAJL_GET_ARRAY(ds)->values[0];
	ck_assert_str_eq(YAJL_GET_STRING(jget(x, "path", NULL)), "/");
	ck_assert(YAJL_IS_NUMBER(jget(x, "free_kb", NULL)));
	ck_assert(YAJL_IS_NULL(jget(x, "error", NULL)));
	x = YAJL_GET_ARRAY(ds)->values[1];
	ck_assert(YAJL_IS_NULL(jget(x, "used_pct", NULL)));
	ck_assert(YAJL_IS_NULL(jget(x, "free_kb", NULL)));
	ck_assert_str_eq(YAJL_GET_STRING(jget(x, "error", NULL)),
			 "No such file or directory");
	ps = jget(v, "plugins", NULL);
	ck_assert_uint_eq(YAJL_GET_ARRAY(ps)->len, 2);
	x = YAJL_GET_ARRAY(ps)->values[0];
	ck_assert_str_eq(YAJL_GET_STRING(jget(x, "instance", NULL)),
			 "sensor.x");
	ck_assert_str_eq(YAJL_GET_STRING(jget(x, "state", NULL)), "failed");
	ck_assert(YAJL_IS_TRUE(jget(x, "failed", NULL)));
	x = YAJL_GET_ARRAY(ps)->values[1];
	ck_assert_int_eq(YAJL_GET_INTEGER(jget(x, "undelivered", NULL)), 7);
	ck_assert_int_eq(YAJL_GET_INTEGER(jget(v, "undelivered", NULL)), 7);
	yajl_tree_free(v);
}
END_TEST

START_TEST(json_unknown_is_null)
{
	yajl_val v;

	collect(tmp, NULL, 0);
	vigil_health_assess(&h, &defaults);
	v = json_of();
	ck_assert_str_eq(YAJL_GET_STRING(jget(v, "status", NULL)), "healthy");
	ck_assert_str_eq(YAJL_GET_STRING(jget(v, "severity", NULL)), "info");
	ck_assert_uint_eq(YAJL_GET_ARRAY(jget(v, "reasons", NULL))->len, 0);
	ck_assert(YAJL_IS_NULL(jget(v, "uptime_s", NULL)));
	ck_assert(YAJL_IS_NULL(jget(v, "processes", NULL)));
	ck_assert(YAJL_IS_NULL(jget(v, "memory", "total_kb")));
	ck_assert(YAJL_IS_NULL(jget(v, "memory", "available_pct")));
	ck_assert(YAJL_IS_NULL(jget(v, "cpu_temp_c", NULL)));
	ck_assert(YAJL_IS_NULL(jget(v, "network", "up")));
	ck_assert_uint_eq(
		YAJL_GET_ARRAY(jget(v, "network", "interfaces"))->len, 0);
	ck_assert_str_eq(YAJL_GET_STRING(jget(v, "serial", NULL)), "unknown");
	yajl_tree_free(v);
}
END_TEST

START_TEST(json_generator_error)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	/* A generator already done with its one value refuses more. */
	collect(tmp, NULL, 0);
	ck_assert_int_eq(yajl_gen_null(g), yajl_gen_status_ok);
	ck_assert_int_ne(vigil_health_json(&h, g), yajl_gen_status_ok);
	yajl_gen_free(g);
}
END_TEST

/* ------------------------------------------------------------ config */

static struct vigil_conf conf;
static struct vigil_diag diag;
static struct vigil_health_config cfg;

static size_t configure(const char *text)
{
	memset(&conf, 0, sizeof(conf));
	memset(&diag, 0, sizeof(diag));
	ck_assert_int_eq(vigil_conf_load_string(text, "t.ini", &conf, &diag),
			 0);
	ck_assert_msg(diag.n == 0, "syntax:%s", unit_diag_text(&diag));
	return vigil_health_config(&conf, vigil_conf_section(&conf, "health"),
				   &cfg, &diag);
}

static void unconfigure(void)
{
	vigil_health_config_free(&cfg);
	vigil_conf_free(&conf);
	vigil_diag_free(&diag);
}

START_TEST(config_defaults)
{
	/* No [health]: the schema's defaults, which are the policy's. */
	ck_assert_uint_eq(configure("[daemon]\nlog_level = info\n"), 0);
	ck_assert_int_eq(cfg.enabled, 1);
	ck_assert_int_eq(cfg.interval, 300 * VIGIL_SEC);
	ck_assert_uint_eq(cfg.n_disk_paths, 1);
	ck_assert_str_eq(cfg.disk_paths[0], "/");
	ck_assert_double_eq(cfg.policy.disk_used_max, defaults.disk_used_max);
	ck_assert_double_eq(cfg.policy.mem_available_min,
			    defaults.mem_available_min);
	ck_assert_double_eq(cfg.policy.temp_max, defaults.temp_max);
	ck_assert_uint_eq(cfg.policy.undelivered_max, defaults.undelivered_max);
	ck_assert_int_eq(cfg.policy.network_required,
			 defaults.network_required);
	ck_assert_str_eq(cfg.root, "/");
	unconfigure();

	/* An empty [health] too. */
	ck_assert_uint_eq(configure("[health]\n"), 0);
	ck_assert_int_eq(cfg.interval, 300 * VIGIL_SEC);
	unconfigure();
}
END_TEST

START_TEST(config_set)
{
	ck_assert_uint_eq(configure("[health]\n"
				    "enabled = no\n"
				    "interval = 60s\n"
				    "disk_paths = /  /data\t/var/lib/vigil\n"
				    "disk_used_max = 95.5\n"
				    "mem_available_min = 5\n"
				    "temp_max = 70\n"
				    "undelivered_max = 0\n"
				    "network_required = no\n"
				    "root = /srv/fixture\n"),
			  0);
	ck_assert_int_eq(cfg.enabled, 0);
	ck_assert_int_eq(cfg.interval, 60 * VIGIL_SEC);
	ck_assert_uint_eq(cfg.n_disk_paths, 3);
	ck_assert_str_eq(cfg.disk_paths[0], "/");
	ck_assert_str_eq(cfg.disk_paths[1], "/data");
	ck_assert_str_eq(cfg.disk_paths[2], "/var/lib/vigil");
	ck_assert_double_eq(cfg.policy.disk_used_max, 95.5);
	ck_assert_double_eq(cfg.policy.mem_available_min, 5);
	ck_assert_double_eq(cfg.policy.temp_max, 70);
	ck_assert_uint_eq(cfg.policy.undelivered_max, 0);
	ck_assert_int_eq(cfg.policy.network_required, 0);
	ck_assert_str_eq(cfg.root, "/srv/fixture");
	unconfigure();

	/* `disk_paths =`: no disk checked. */
	ck_assert_uint_eq(configure("[health]\ndisk_paths =\n"), 0);
	ck_assert_uint_eq(cfg.n_disk_paths, 0);
	unconfigure();
}
END_TEST

START_TEST(config_errors)
{
	ck_assert_uint_eq(configure("[health]\n"
				    "intervall = 1m\n"
				    "disk_paths = data /data /data\n"
				    "temp_max = 500\n"
				    "interval = 1s\n"
				    "enabled = maybe\n"
				    "root = fixture\n"),
			  7);
	ck_assert_diag(&diag, "t.ini:2: [health] unknown key 'intervall'",
		       "did you mean 'interval'?", NULL);
	ck_assert_diag(&diag, "t.ini:3: [health] disk_paths = 'data /data "
			      "/data'",
		       "'data' is not an absolute path", NULL);
	ck_assert_diag(&diag, "t.ini:3:", "'/data' is listed twice", NULL);
	ck_assert_diag(&diag, "t.ini:4: [health] temp_max = '500'",
		       "out of range", NULL);
	ck_assert_diag(&diag, "t.ini:5: [health] interval = '1s'",
		       "out of range", NULL);
	ck_assert_diag(&diag, "t.ini:6: [health] enabled = 'maybe'", NULL,
		       NULL);
	ck_assert_diag(&diag, "t.ini:7: [health] root = 'fixture'",
		       "expected an absolute path", NULL);
	/* What was valid is kept; what was not keeps its default. */
	ck_assert_uint_eq(cfg.n_disk_paths, 1);
	ck_assert_str_eq(cfg.disk_paths[0], "/data");
	ck_assert_double_eq(cfg.policy.temp_max, 80);
	ck_assert_int_eq(cfg.interval, 300 * VIGIL_SEC);
	ck_assert_int_eq(cfg.enabled, 1);
	ck_assert_str_eq(cfg.root, "/");
	unconfigure();
}
END_TEST

/* ------------------------------------------------------------- main */

static TCase *tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup, teardown);
	suite_add_tcase(s, tc);
	return tc;
}

int main(void)
{
	Suite *s = suite_create("health");
	TCase *tc;

	tc = tcase(s, "parsers");
	tcase_add_test(tc, parse_uptime);
	tcase_add_test(tc, parse_procs);
	tcase_add_test(tc, parse_meminfo);
	tcase_add_test(tc, parse_millideg);
	tcase_add_test(tc, clean_id);
	tcase_add_test(tc, disk_from_statvfs);

	tc = tcase(s, "collect");
	tcase_add_test(tc, collect_fixture);
	tcase_add_test(tc, collect_plugins);
	tcase_add_test(tc, collect_missing_is_unknown);
	tcase_add_test(tc, collect_garbage_is_unknown);
	tcase_add_test(tc, processes_from_proc_entries);
	tcase_add_test(tc, serial_fallbacks);
	tcase_add_test(tc, hostname_fallback);

	tc = tcase(s, "assess");
	tcase_add_test(tc, degraded_reasons);
	tcase_add_test(tc, thresholds_are_policy);
	tcase_add_test(tc, disk_reasons);

	tc = tcase(s, "output");
	tcase_add_test(tc, labels_fixture);
	tcase_add_test(tc, labels_unknown_left_out);
	tcase_add_test(tc, summary_healthy);
	tcase_add_test(tc, json_fixture);
	tcase_add_test(tc, json_unknown_is_null);
	tcase_add_test(tc, json_generator_error);

	tc = tcase(s, "config");
	tcase_add_test(tc, config_defaults);
	tcase_add_test(tc, config_set);
	tcase_add_test(tc, config_errors);

	return unit_run(s);
}
