/*
 * thermal - temperatures of the kernel's thermal zones
 *
 * SYNOPSIS
 *     [sensor.thermal]
 *     plugin = thermal
 *     zone = cpu-thermal
 *
 * DESCRIPTION
 *     Reads /sys/class/thermal/thermal_zoneN/temp (millidegrees Celsius) of
 *     every zone, or of those that `zone` names. The zones are listed once,
 *     at init; if there is none, init fails (and is retried by the core, as
 *     the driver may load later). A zone that cannot be read is skipped and
 *     logged when it starts and stops failing, not on every read.
 *
 * OPTIONS
 *     root  directory that stands for / (default "/")
 *     zone  a zone name (thermal_zone0) or type (cpu-thermal); default all
 *
 * METRICS
 *     thermal.temperature  "C"  zone=thermal_zoneN, type=<its type file>
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigil/plugin.h>

#include "sensor_util.h"

#define ZONE_PREFIX "thermal_zone"

/* Zone read states besides 0 (fine) and a positive errno. */
#define ZONE_MALFORMED (-1)

struct zone {
	char *name;      /* "thermal_zone0" */
	char *type;      /* "cpu-thermal" */
	char *temp_path; /* <root>/sys/class/thermal/thermal_zone0/temp */
	unsigned long number;
	int state; /* of the last read: 0, errno, or ZONE_MALFORMED */
};

struct thermal_state {
	const struct vigil_host *host;
	struct zone *zones;
	size_t n_zones;
};

static const struct vigil_option thermal_options[] = {
	SENSOR_ROOT_OPTION,
	{
		.name = "zone",
		.type = VIGIL_OPT_STRING,
		.def = NULL,
		.help = "only this zone, by name (thermal_zone0) or type (cpu-thermal); unset: all",
	},
	VIGIL_OPTIONS_END,
};

static void trim_end(char *s)
{
	size_t len = strlen(s);

	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' ' ||
			   s[len - 1] == '\t'))
		s[--len] = '\0';
}

/* "thermal_zone<digits>", and its number. */
static int zone_number(const char *name, unsigned long *number)
{
	const char *s = name + strlen(ZONE_PREFIX);
	char *end;

	if (strncmp(name, ZONE_PREFIX, strlen(ZONE_PREFIX)) != 0 ||
	    *s < '0' || *s > '9')
		return -1;
	errno = 0;
	*number = strtoul(s, &end, 10);
	return errno || *end ? -1 : 0;
}

static int zone_cmp(const void *a, const void *b)
{
	const struct zone *za = a, *zb = b;

	return (za->number > zb->number) - (za->number < zb->number);
}

static void zones_free(struct zone *zones, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(zones[i].name);
		free(zones[i].type);
		free(zones[i].temp_path);
	}
	free(zones);
}

/* Appends "thermal_zone0 (cpu-thermal)" to the list of zones found, which
 * the log line shows when `zone` matches none of them. */
static void note_found(char *found, size_t size, const char *name,
		       const char *type)
{
	size_t len = strlen(found);
	int n;

	if (len + 4 >= size)
		return;
	n = snprintf(found + len, size - len, "%s%s (%s)", len ? ", " : "",
		     name, type);
	if (n < 0 || (size_t)n >= size - len)
		memcpy(found + size - 4, "...", 4);
}

/* Adds zone `name` of directory `dir` to st unless `want` excludes it.
 * Returns 0, or -ENOMEM. */
static int add_zone(struct thermal_state *st, struct vigil_ctx *ctx,
		    const char *dir, const char *name, unsigned long number,
		    const char *want, char *found, size_t found_size)
{
	char path[4096], type[128];
	struct zone *z, *zones;
	ssize_t n;
	int len;

	len = snprintf(path, sizeof(path), "%s/%s/type", dir, name);
	if (len < 0 || (size_t)len >= sizeof(path))
		return 0;
	n = sensor_read_text(path, type, sizeof(type));
	if (n < 0) {
		st->host->log(ctx, VIGIL_LOG_WARNING,
			      "cannot read %s: %s; labelling the zone type=unknown",
			      path, strerror((int)-n));
		strcpy(type, "unknown");
	}
	trim_end(type);
	if (!*type)
		strcpy(type, "unknown");
	note_found(found, found_size, name, type);
	if (want && strcmp(want, name) != 0 && strcmp(want, type) != 0)
		return 0;

	zones = realloc(st->zones, (st->n_zones + 1) * sizeof(*zones));
	if (!zones)
		return -ENOMEM;
	st->zones = zones;
	z = &zones[st->n_zones];
	memset(z, 0, sizeof(*z));
	st->n_zones++;
	z->number = number;
	z->name = strdup(name);
	z->type = strdup(type);
	len = snprintf(path, sizeof(path), "%s/%s/temp", dir, name);
	if (len >= 0 && (size_t)len < sizeof(path))
		z->temp_path = strdup(path);
	if (!z->name || !z->type || !z->temp_path)
		return -ENOMEM;
	return 0;
}

/* Lists the zones of `dir` that `want` selects (all when NULL). */
static int scan_zones(struct thermal_state *st, struct vigil_ctx *ctx,
		      const char *dir, const char *want)
{
	char found[256] = "";
	struct dirent *de;
	DIR *d;
	int rc = 0;

	d = opendir(dir);
	if (!d) {
		rc = -errno;
		st->host->log(ctx, VIGIL_LOG_WARNING,
			      "no thermal zones: cannot open %s: %s", dir,
			      strerror(-rc));
		return rc;
	}
	while ((de = readdir(d)) != NULL) {
		unsigned long number;

		if (zone_number(de->d_name, &number) < 0)
			continue;
		rc = add_zone(st, ctx, dir, de->d_name, number, want, found,
			      sizeof(found));
		if (rc < 0)
			break;
	}
	closedir(d);
	if (rc < 0)
		return rc;

	if (st->n_zones == 0) {
		if (!*found)
			st->host->log(ctx, VIGIL_LOG_WARNING,
				      "no thermal zones in %s (expected thermal_zone*/temp)",
				      dir);
		else
			st->host->log(ctx, VIGIL_LOG_WARNING,
				      "no thermal zone named or typed '%s' in %s; found %s",
				      want, dir, found);
		return -ENODEV;
	}
	/* readdir order is arbitrary; zone order makes output stable. */
	qsort(st->zones, st->n_zones, sizeof(*st->zones), zone_cmp);
	return 0;
}

/* Logs a zone's read state when it changes, not on every read. */
static void zone_set_state(struct thermal_state *st, struct vigil_ctx *ctx,
			   struct zone *z, int state, const char *contents)
{
	if (state == z->state)
		return;
	if (state == 0)
		st->host->log(ctx, VIGIL_LOG_NOTICE, "%s reads again",
			      z->temp_path);
	else if (state == ZONE_MALFORMED)
		st->host->log(ctx, VIGIL_LOG_WARNING,
			      "%s: unexpected contents '%.32s', expected millidegrees Celsius like 48312",
			      z->temp_path, contents);
	else
		st->host->log(ctx, VIGIL_LOG_WARNING, "cannot read %s: %s",
			      z->temp_path, strerror(state));
	z->state = state;
}

/* "48312\n" or "-5000\n": millidegrees Celsius, signed. */
static int parse_millidegrees(const char *s, long long *out)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!((*s >= '0' && *s <= '9') || *s == '-'))
		return -1;
	errno = 0;
	*out = strtoll(s, &end, 10);
	if (errno || end == s)
		return -1;
	while (*end == ' ' || *end == '\t' || *end == '\n')
		end++;
	return *end ? -1 : 0;
}

static int thermal_read(void *state, struct vigil_ctx *ctx)
{
	struct thermal_state *st = state;
	size_t n_read = 0;

	for (size_t i = 0; i < st->n_zones; i++) {
		struct zone *z = &st->zones[i];
		struct vigil_label labels[] = {
			{ .key = "zone", .value = z->name },
			{ .key = "type", .value = z->type },
		};
		struct vigil_reading r = {
			.metric = "thermal.temperature",
			.unit = "C",
			.labels = labels,
			.n_labels = 2,
			.quality = VIGIL_QUALITY_GOOD,
		};
		long long milli;
		char buf[32];
		ssize_t n;

		n = sensor_read_text(z->temp_path, buf, sizeof(buf));
		if (n < 0) {
			zone_set_state(st, ctx, z, (int)-n, NULL);
			continue;
		}
		if (parse_millidegrees(buf, &milli) < 0) {
			trim_end(buf);
			zone_set_state(st, ctx, z, ZONE_MALFORMED, buf);
			continue;
		}
		zone_set_state(st, ctx, z, 0, NULL);
		r.value = (double)milli / 1000.0;
		/* -ENOSPC only says the host counted a drop. */
		st->host->emit_reading(ctx, &r);
		n_read++;
	}
	return n_read > 0 ? 0 : -EIO;
}

static void thermal_fini(void *state)
{
	struct thermal_state *st = state;

	if (!st)
		return;
	zones_free(st->zones, st->n_zones);
	free(st);
}

static int thermal_init(struct vigil_ctx *ctx, const struct vigil_host *host,
			void **state)
{
	const char *want = host->config_string(ctx, "zone");
	struct thermal_state *st;
	char *dir;
	int rc;

	if (sensor_root_check(host, ctx) < 0)
		return VIGIL_EFATAL;
	if (want && (!*want || strchr(want, '/'))) {
		host->log(ctx, VIGIL_LOG_ERR,
			  "zone = '%s': expected a zone name like thermal_zone0 or a type like cpu-thermal",
			  want);
		return VIGIL_EFATAL;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->host = host;
	dir = sensor_path(host, ctx, "sys/class/thermal");
	if (!dir) {
		free(st);
		return -ENOMEM;
	}
	rc = scan_zones(st, ctx, dir, want);
	free(dir);
	if (rc < 0) {
		thermal_fini(st);
		return rc;
	}
	*state = st;
	return 0;
}

VIGIL_PLUGIN_DEFINE = {
	VIGIL_PLUGIN_HEADER(VIGIL_KIND_SENSOR, "thermal", "1.0.0"),
	.description = "temperatures of /sys/class/thermal zones",
	.options = thermal_options,
	.init = thermal_init,
	.read = thermal_read,
	.fini = thermal_fini,
};
