/*
 * health.h - the health report: how this device, and vigild on it, are.
 *
 * Every `interval` of [health] the daemon collects a report, assesses it
 * against the thresholds, publishes it as a VIGIL_EVENT_HEALTH event (the
 * report as labels, a one-line summary as message) to the sinks that take
 * events, and `vigilctl health` shows it as JSON.
 *
 *   status          healthy, or degraded with the reasons, e.g.
 *                   "disk / 95% full (threshold 90%)"
 *   uptime          the system's (proc/uptime) and vigild's (the caller's)
 *   processes       proc/loadavg's "running/total", else the numeric
 *                   entries of proc
 *   memory          MemTotal and MemAvailable of proc/meminfo
 *                   (MemFree + Buffers + Cached before Linux 3.14)
 *   cpu temperature the hottest sys/class/thermal/thermal_zoneN/temp
 *   version         PACKAGE_VERSION
 *   serial          proc/device-tree/serial-number (Raspberry Pi and other
 *                   device-tree boards), else etc/machine-id, else "unknown"
 *   hostname        proc/sys/kernel/hostname, else etc/hostname
 *   network         every entry of sys/class/net but lo: operstate, carrier
 *   disks           statvfs() of the paths the caller names, as df counts
 *   plugins         the instances the caller lists, with their state and,
 *                   for sinks, their undelivered events
 *
 * Every file is read below `root` ("/" in vigild unless [health] root
 * says otherwise; tests point it at a fixture tree). A source that is missing or garbled leaves its value
 * unknown, which is never a reason to degrade: a board without thermal
 * zones is not overheating.
 */
#ifndef VIGIL_HEALTH_H
#define VIGIL_HEALTH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/statvfs.h>

#include <yajl/yajl_gen.h>

#include <vigil/plugin.h>

#include "conf.h"
#include "util.h"

enum vigil_health_status {
	VIGIL_HEALTH_HEALTHY = 0,
	VIGIL_HEALTH_DEGRADED = 1,
};

/* What degrades the report. A value equal to its threshold does not. */
struct vigil_health_policy {
	double disk_used_max;     /* % of a disk used, as df counts */
	double mem_available_min; /* % of MemTotal available */
	double temp_max;          /* Celsius, the hottest thermal zone */
	uint64_t undelivered_max; /* events waiting in one sink's retry queue */
	int network_required;     /* no interface up with carrier degrades */
};

#define VIGIL_HEALTH_POLICY_DEFAULT                                           \
	{                                                                     \
		.disk_used_max = 90, .mem_available_min = 10, .temp_max = 80, \
		.undelivered_max = 100, .network_required = 1,                \
	}

/* ------------------------------------------------------------ input */

/* One plugin instance, as the daemon knows it. */
struct vigil_health_plugin {
	const char *section; /* "sensor.cpu" */
	const char *state;   /* as vigil.plugin.state names it: "running",
			      * "backoff", "failed", "misconfigured", ... */
	int failed;          /* FAILED or misconfigured: degrades */
	uint64_t undelivered; /* sinks: events in its retry queue */
};

/* What only the caller knows. Pointers are borrowed for the call. */
struct vigil_health_input {
	vigil_time_ns vigild_uptime; /* since vigild started */
	const struct vigil_health_plugin *plugins;
	size_t n_plugins;
	const char *const *disk_paths; /* absolute, below root */
	size_t n_disk_paths;
};

/* ----------------------------------------------------------- report */

struct vigil_health_disk {
	char *path;        /* as the caller named it */
	int err;           /* errno of statvfs(), 0 when it worked */
	double used_pct;   /* used / (used + available); -1: no blocks */
	uint64_t total_kb; /* the filesystem's size */
	uint64_t free_kb;  /* available to non-root users */
};

struct vigil_health_iface {
	char *name;
	char *operstate; /* "up", "down", "unknown", ...; NULL unreadable */
	int carrier;     /* 1, or 0 (also when unreadable: admin down) */
	int up;          /* operstate up, or unknown with carrier (tun, ppp),
			  * as the network sensor counts it */
};

/* Numbers below 0 are unknown. */
struct vigil_health {
	enum vigil_health_status status;
	char **reasons;
	size_t n_reasons;

	double uptime_s;        /* the system's */
	double vigild_uptime_s;
	int64_t processes;
	int64_t mem_total_kb, mem_available_kb;
	double cpu_temp_c;      /* unknown: have_cpu_temp 0 */
	int have_cpu_temp;
	char *version;
	char *serial;   /* never NULL: "unknown" when no source has one */
	char *hostname; /* the same */

	struct vigil_health_iface *ifaces;
	size_t n_ifaces;
	int net_up; /* an interface is up with carrier: 1, 0, -1 unknown
		     * (sys/class/net unreadable) */

	struct vigil_health_disk *disks;
	size_t n_disks;

	struct vigil_health_plugin *plugins; /* owned copies */
	size_t n_plugins;
	uint64_t undelivered; /* of all sinks */
};

/* Reads every source below `root` into a zeroed `h` (free it with
 * vigil_health_free). Status is healthy until vigil_health_assess. */
void vigil_health_collect(struct vigil_health *h, const char *root,
			  const struct vigil_health_input *in);
/* Sets status and reasons from what `h` holds (replacing earlier ones):
 * pure, no I/O. */
void vigil_health_assess(struct vigil_health *h,
			 const struct vigil_health_policy *p);
void vigil_health_free(struct vigil_health *h);

/* healthy: info; degraded: warning. */
enum vigil_severity vigil_health_severity(const struct vigil_health *h);
/* "healthy", or "degraded: REASON; REASON"; malloc()ed. */
char *vigil_health_summary(const struct vigil_health *h);

/*
 * The report as event labels, owned copies sorted by key (free with
 * vigil_labels_free). Keys are [a-z0-9_]: status, reasons (joined with
 * "; "), version, serial, hostname, uptime_s, vigild_uptime_s, processes,
 * mem_total_kb, mem_available_kb, mem_available_pct, cpu_temp_c, net_up
 * (yes/no), netN_name, netN_operstate, netN_carrier (1/0), diskN_path,
 * diskN_used_pct, diskN_free_kb, diskN_error, plugins, plugins_failed,
 * undelivered. N counts from 0 in the order of the report; a label whose
 * value is unknown is left out.
 */
void vigil_health_labels(const struct vigil_health *h, struct vigil_labels *l);

/* The report as one JSON object (unknown values are null), for `vigilctl
 * health`. Returns the first generator error, or yajl_gen_status_ok. */
yajl_gen_status vigil_health_json(const struct vigil_health *h, yajl_gen g);

/* ------------------------------------------------------ the parsers */

/* The first field of proc/uptime ("12345.67 23456.78"), in seconds. */
int vigil_health_parse_uptime(const char *text, double *seconds);
/* The total of proc/loadavg's fourth field ("0.52 0.58 0.59 2/213 12345"). */
int vigil_health_parse_procs(const char *text, int64_t *procs);
/* MemTotal and MemAvailable (or MemFree + Buffers + Cached) of
 * proc/meminfo, in kB; available is clamped to total. */
int vigil_health_parse_meminfo(const char *text, int64_t *total_kb,
			       int64_t *available_kb);
/* Millidegrees ("48312\n", "-5000") of a thermal zone, in Celsius. */
int vigil_health_parse_millideg(const char *text, double *celsius);
/* An identifier read from a file of `len` bytes into `s`, which has room
 * for one more (a device-tree string ends with NUL, machine-id with a
 * newline), NUL-terminated in place: cut at the first NUL or line end,
 * blanks trimmed, other control and non-ASCII bytes made '?'. Returns its
 * length, 0 when nothing is left. */
size_t vigil_health_clean_id(char *s, size_t len);
/* One disk's numbers from its statvfs(), as the disk sensor counts. */
void vigil_health_disk_from_statvfs(struct vigil_health_disk *d,
				    const struct statvfs *sv);

/* ------------------------------------------------------- [health] */

/*
 *   [health]
 *   enabled = yes
 *   interval = 5m
 *   disk_paths = / /data
 *   disk_used_max = 90
 *   mem_available_min = 10
 *   temp_max = 80
 *   undelivered_max = 100
 *   network_required = yes
 *   root = /
 */
extern const struct vigil_option vigil_health_options[];

struct vigil_health_config {
	int enabled;
	vigil_time_ns interval;
	char **disk_paths;
	size_t n_disk_paths;
	struct vigil_health_policy policy;
	char *root; /* "/" unless a test points it at a fixture tree */
};

/* Checks section `sec` (NULL: none, all defaults) of `conf` against
 * vigil_health_options and fills `cfg` (free with
 * vigil_health_config_free). Every problem goes to `d` as
 * "file:line: [health] ..."; returns the number of errors. */
size_t vigil_health_config(const struct vigil_conf *conf,
			   const struct vigil_conf_section *sec,
			   struct vigil_health_config *cfg,
			   struct vigil_diag *d);
void vigil_health_config_free(struct vigil_health_config *cfg);

#endif
