/*
 * health.c - the health report: collected below a root, assessed against
 * the [health] thresholds, and written out as event labels and JSON.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "health.h"
#include "instance.h"

#define END VIGIL_OPTIONS_END

const struct vigil_option vigil_health_options[] = {
	{"enabled", VIGIL_OPT_BOOL, "yes", 0, 0, NULL,
	 "publish a health report every interval", 0},
	{"interval", VIGIL_OPT_DURATION, "5m", (double)(10 * VIGIL_SEC),
	 (double)(24 * 3600 * VIGIL_SEC), NULL,
	 "how often the health report goes to the sinks", 0},
	{"disk_paths", VIGIL_OPT_STRING, "/", 0, 0, NULL,
	 "space-separated paths whose filesystems are checked (\"/ /data\")",
	 0},
	{"disk_used_max", VIGIL_OPT_DOUBLE, "90", 1, 100, NULL,
	 "a disk more used than this percentage degrades the report", 0},
	{"mem_available_min", VIGIL_OPT_DOUBLE, "10", 0, 100, NULL,
	 "less memory available than this percentage degrades the report", 0},
	{"temp_max", VIGIL_OPT_DOUBLE, "80", 20, 150, NULL,
	 "a CPU hotter than this (Celsius) degrades the report", 0},
	{"undelivered_max", VIGIL_OPT_INT, "100", 0, 10000, NULL,
	 "a sink holding more undelivered events than this degrades the report",
	 0},
	{"network_required", VIGIL_OPT_BOOL, "yes", 0, 0, NULL,
	 "no network interface up with carrier degrades the report", 0},
	{"root", VIGIL_OPT_STRING, "/", 0, 0, NULL,
	 "directory the report's files are read below (a fixture tree in "
	 "tests; disk_paths too)",
	 0},
	END,
};

/* ------------------------------------------------------------ files */

/* "<root>/<rel>" without a doubled slash; malloc()ed. */
static char *at(const char *root, const char *rel)
{
	size_t rlen = strlen(root);

	while (rlen > 0 && root[rlen - 1] == '/')
		rlen--;
	while (*rel == '/')
		rel++;
	return vigil_xasprintf("%.*s/%s", (int)rlen, root, rel);
}

/* Reads up to size - 1 bytes of root/rel into buf, NUL-terminated: the
 * files read here are small, or hold what is wanted at their start.
 * Returns the length, or -errno. */
static ssize_t read_at(const char *root, const char *rel, char *buf,
		       size_t size)
{
	char *path = at(root, rel);
	size_t len = 0;
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	err = fd < 0 ? errno : 0;
	free(path);
	if (fd < 0)
		return -err;
	while (len < size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return err ? -err : (ssize_t)len;
}

/* ---------------------------------------------------------- parsers */

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Whether s ends a field: a blank, a line end or the end. */
static int field_end(const char *s)
{
	return *s == '\0' || *s == ' ' || *s == '\t' || *s == '\n';
}

int vigil_health_parse_uptime(const char *text, double *seconds)
{
	char *end;
	double v;

	if (!is_digit(*text))
		return -1;
	errno = 0;
	v = strtod(text, &end);
	if (errno || !isfinite(v) || !field_end(end))
		return -1;
	*seconds = v;
	return 0;
}

int vigil_health_parse_procs(const char *text, int64_t *procs)
{
	const char *p = text;
	long long v;
	char *end;

	/* Three load averages, then running/total. */
	for (int field = 0; field < 3; field++) {
		p += strspn(p, " \t");
		if (field_end(p))
			return -1;
		p += strcspn(p, " \t\n");
	}
	p += strspn(p, " \t");
	if (!is_digit(*p))
		return -1;
	p += strspn(p, "0123456789");
	if (*p++ != '/' || !is_digit(*p))
		return -1;
	errno = 0;
	v = strtoll(p, &end, 10);
	if (errno || !field_end(end))
		return -1;
	*procs = v;
	return 0;
}

/* The line after `s`, or NULL. */
static const char *next_line(const char *s)
{
	const char *nl = strchr(s, '\n');

	return nl && nl[1] ? nl + 1 : NULL;
}

/* The kB of meminfo's "Key:   123456 kB" line. Values beyond 2^61 are
 * refused, so that three of them add up without overflow. */
static int meminfo_value(const char *text, const char *key, int64_t *kb)
{
	size_t klen = strlen(key);
	long long v;
	char *end;

	for (const char *l = text; l; l = next_line(l)) {
		const char *p = l + klen + 1;

		if (strncmp(l, key, klen) != 0 || l[klen] != ':')
			continue;
		p += strspn(p, " \t");
		if (!is_digit(*p))
			return -1;
		errno = 0;
		v = strtoll(p, &end, 10);
		if (errno || v > INT64_MAX / 4 || !field_end(end))
			return -1;
		*kb = v;
		return 0;
	}
	return -1;
}

int vigil_health_parse_meminfo(const char *text, int64_t *total_kb,
			       int64_t *available_kb)
{
	int64_t total, avail, free_kb, buffers, cached;

	if (meminfo_value(text, "MemTotal", &total) < 0 || total == 0)
		return -1;
	/* Kernels before 3.14 have no MemAvailable: the memory sensor's
	 * approximation. */
	if (meminfo_value(text, "MemAvailable", &avail) < 0) {
		if (meminfo_value(text, "MemFree", &free_kb) < 0 ||
		    meminfo_value(text, "Buffers", &buffers) < 0 ||
		    meminfo_value(text, "Cached", &cached) < 0)
			return -1;
		avail = free_kb + buffers + cached;
	}
	*total_kb = total;
	*available_kb = avail > total ? total : avail;
	return 0;
}

int vigil_health_parse_millideg(const char *text, double *celsius)
{
	const char *p = text + (*text == '-');
	long long v;
	char *end;

	if (!is_digit(*p))
		return -1;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno || !field_end(end) || end[strspn(end, " \t\n")])
		return -1;
	*celsius = (double)v / 1000.0;
	return 0;
}

size_t vigil_health_clean_id(char *s, size_t len)
{
	size_t n = 0, skip = 0;

	while (n < len && s[n] != '\0' && s[n] != '\n' && s[n] != '\r')
		n++;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	while (skip < n && (s[skip] == ' ' || s[skip] == '\t'))
		skip++;
	memmove(s, s + skip, n - skip);
	n -= skip;
	s[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			s[i] = '?';
	return n;
}

void vigil_health_disk_from_statvfs(struct vigil_health_disk *d,
				    const struct statvfs *sv)
{
	/* Block counts are in f_frsize units; old kernels left it 0. */
	uint64_t frsize = sv->f_frsize ? sv->f_frsize : sv->f_bsize;
	uint64_t used, avail = sv->f_bavail;

	used = sv->f_blocks >= sv->f_bfree ? sv->f_blocks - sv->f_bfree : 0;
	/* As df: a share of what non-root users can have. Pseudo
	 * filesystems have no blocks at all. */
	d->used_pct = used + avail > 0 ?
			      (double)used * 100.0 / (double)(used + avail) :
			      -1;
	d->total_kb = (uint64_t)sv->f_blocks * frsize / 1024;
	d->free_kb = avail * frsize / 1024;
	d->err = 0;
}

/* --------------------------------------------------------- collect */

/* The first of `rels` below root that holds an identifier; "unknown"
 * when none does. */
static char *read_id(const char *root, const char *const *rels, size_t n)
{
	char buf[256];

	for (size_t i = 0; i < n; i++) {
		ssize_t len = read_at(root, rels[i], buf, sizeof(buf));

		if (len > 0 && vigil_health_clean_id(buf, (size_t)len) > 0)
			return vigil_xstrdup(buf);
	}
	return vigil_xstrdup("unknown");
}

/* PIDs in proc, for a kernel whose loadavg has no process count; -1 when
 * proc cannot be listed or holds none (PID 1 always runs). */
static int64_t count_pids(const char *root)
{
	char *dir = at(root, "proc");
	DIR *d = opendir(dir);
	struct dirent *de;
	int64_t n = 0;

	free(dir);
	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '0' &&
		    de->d_name[strspn(de->d_name, "0123456789")] == '\0')
			n++;
	closedir(d);
	return n > 0 ? n : -1;
}

static int64_t processes(const char *root)
{
	char buf[256];
	int64_t n;

	if (read_at(root, "proc/loadavg", buf, sizeof(buf)) > 0 &&
	    vigil_health_parse_procs(buf, &n) == 0)
		return n;
	return count_pids(root);
}

/* The hottest thermal zone; 0 when none can be read. */
static int hottest_zone(const char *root, double *celsius)
{
	char *dir = at(root, "sys/class/thermal");
	DIR *d = opendir(dir);
	struct dirent *de;
	int found = 0;

	free(dir);
	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char buf[32], *rel;
		double c;

		if (strncmp(de->d_name, "thermal_zone", 12) != 0)
			continue;
		rel = vigil_xasprintf("sys/class/thermal/%s/temp", de->d_name);
		if (read_at(root, rel, buf, sizeof(buf)) > 0 &&
		    vigil_health_parse_millideg(buf, &c) == 0 &&
		    (!found || c > *celsius)) {
			*celsius = c;
			found = 1;
		}
		free(rel);
	}
	closedir(d);
	return found;
}

static void read_iface(struct vigil_health_iface *ifc, const char *root,
		       const char *name)
{
	char buf[64], *rel;
	ssize_t n;

	ifc->name = vigil_xstrdup(name);
	rel = vigil_xasprintf("sys/class/net/%s/operstate", name);
	n = read_at(root, rel, buf, sizeof(buf));
	if (n > 0 && vigil_health_clean_id(buf, (size_t)n) > 0)
		ifc->operstate = vigil_xstrdup(buf);
	free(rel);
	/* carrier cannot be read (EINVAL) while the interface is
	 * administratively down: no carrier. */
	rel = vigil_xasprintf("sys/class/net/%s/carrier", name);
	ifc->carrier = read_at(root, rel, buf, sizeof(buf)) > 0 &&
		       buf[0] == '1';
	free(rel);
	/* tun and ppp devices never say "up". */
	ifc->up = ifc->operstate &&
		  (strcmp(ifc->operstate, "up") == 0 ||
		   (strcmp(ifc->operstate, "unknown") == 0 && ifc->carrier));
}

static void scan_net(struct vigil_health *h, const char *root)
{
	char *dir = at(root, "sys/class/net");
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, alphasort);

	free(dir);
	if (n < 0) {
		h->net_up = -1;
		return;
	}
	h->ifaces = vigil_xcalloc((size_t)n + 1, sizeof(*h->ifaces));
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;

		if (name[0] != '.' && strcmp(name, "lo") != 0)
			read_iface(&h->ifaces[h->n_ifaces++], root, name);
		free(ents[i]);
	}
	free(ents);
	h->net_up = 0;
	for (size_t i = 0; i < h->n_ifaces; i++)
		if (h->ifaces[i].up && h->ifaces[i].carrier)
			h->net_up = 1;
}

static void check_disks(struct vigil_health *h, const char *root,
			const char *const *paths, size_t n)
{
	h->disks = vigil_xcalloc(n + 1, sizeof(*h->disks));
	for (size_t i = 0; i < n; i++) {
		struct vigil_health_disk *d = &h->disks[h->n_disks++];
		char *path = at(root, paths[i]);
		struct statvfs sv;

		d->path = vigil_xstrdup(paths[i]);
		d->used_pct = -1;
		if (statvfs(path, &sv) == 0)
			vigil_health_disk_from_statvfs(d, &sv);
		else
			d->err = errno;
		free(path);
	}
}

static void copy_plugins(struct vigil_health *h,
			 const struct vigil_health_plugin *p, size_t n)
{
	h->plugins = vigil_xcalloc(n + 1, sizeof(*h->plugins));
	h->n_plugins = n;
	for (size_t i = 0; i < n; i++) {
		const char *section = p[i].section ? p[i].section : "?";
		const char *state = p[i].state ? p[i].state : "unknown";

		h->plugins[i].section = vigil_xstrdup(section);
		h->plugins[i].state = vigil_xstrdup(state);
		h->plugins[i].failed = p[i].failed;
		h->plugins[i].undelivered = p[i].undelivered;
		h->undelivered += p[i].undelivered;
	}
}

void vigil_health_collect(struct vigil_health *h, const char *root,
			  const struct vigil_health_input *in)
{
	static const char *const serials[] = {
		"proc/device-tree/serial-number",
		"etc/machine-id",
	};
	static const char *const hostnames[] = {
		"proc/sys/kernel/hostname",
		"etc/hostname",
	};
	char buf[4096];

	memset(h, 0, sizeof(*h));
	h->status = VIGIL_HEALTH_HEALTHY;
	/* The parsers leave the unknown values alone on garbage. */
	h->uptime_s = -1;
	if (read_at(root, "proc/uptime", buf, sizeof(buf)) > 0)
		vigil_health_parse_uptime(buf, &h->uptime_s);
	h->vigild_uptime_s = (double)in->vigild_uptime / (double)VIGIL_SEC;
	h->processes = processes(root);
	h->mem_total_kb = h->mem_available_kb = -1;
	if (read_at(root, "proc/meminfo", buf, sizeof(buf)) > 0)
		vigil_health_parse_meminfo(buf, &h->mem_total_kb,
					   &h->mem_available_kb);
	h->have_cpu_temp = hottest_zone(root, &h->cpu_temp_c);
	h->version = vigil_xstrdup(PACKAGE_VERSION);
	h->serial = read_id(root, serials, VIGIL_ARRAY_SIZE(serials));
	h->hostname = read_id(root, hostnames, VIGIL_ARRAY_SIZE(hostnames));
	scan_net(h, root);
	check_disks(h, root, in->disk_paths, in->n_disk_paths);
	copy_plugins(h, in->plugins, in->n_plugins);
}

/* ---------------------------------------------------------- assess */

/* "95" for 95.0, "90.4" for 90.43: one decimal, none when it is 0. */
static const char *num(char *buf, size_t size, double v)
{
	int n = snprintf(buf, size, "%.1f", v);

	if (n >= 2 && (size_t)n < size && buf[n - 2] == '.' &&
	    buf[n - 1] == '0')
		buf[n - 2] = '\0';
	return buf;
}

static char *xvasprintf(const char *fmt, va_list ap) VIGIL_PRINTF(1, 0);

/* vigil_xasprintf taking a va_list. */
static char *xvasprintf(const char *fmt, va_list ap)
{
	va_list again;
	char *s;
	int n;

	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, again);
	va_end(again);
	if (n < 0)
		return vigil_xstrdup("");
	s = vigil_xmalloc((size_t)n + 1);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

static void add_reason(struct vigil_health *h, const char *fmt, ...)
	VIGIL_PRINTF(2, 3);

static void add_reason(struct vigil_health *h, const char *fmt, ...)
{
	va_list ap;

	h->reasons = vigil_xrealloc(h->reasons,
				    (h->n_reasons + 1) * sizeof(*h->reasons));
	va_start(ap, fmt);
	h->reasons[h->n_reasons++] = xvasprintf(fmt, ap);
	va_end(ap);
	h->status = VIGIL_HEALTH_DEGRADED;
}

static void clear_reasons(struct vigil_health *h)
{
	for (size_t i = 0; i < h->n_reasons; i++)
		free(h->reasons[i]);
	free(h->reasons);
	h->reasons = NULL;
	h->n_reasons = 0;
	h->status = VIGIL_HEALTH_HEALTHY;
}

static void assess_plugins(struct vigil_health *h,
			   const struct vigil_health_policy *p)
{
	for (size_t i = 0; i < h->n_plugins; i++) {
		const struct vigil_health_plugin *pl = &h->plugins[i];

		if (!pl->failed)
			continue;
		if (strcmp(pl->state, "failed") == 0)
			add_reason(h, "plugin [%s] FAILED", pl->section);
		else
			add_reason(h, "plugin [%s] FAILED (%s)", pl->section,
				   pl->state);
	}
	for (size_t i = 0; i < h->n_plugins; i++) {
		const struct vigil_health_plugin *pl = &h->plugins[i];

		if (pl->undelivered > p->undelivered_max)
			add_reason(h,
				   "sink [%s] has %" PRIu64 " undelivered "
				   "events (threshold %" PRIu64 ")",
				   pl->section, pl->undelivered,
				   p->undelivered_max);
	}
}

static void assess_disks(struct vigil_health *h,
			 const struct vigil_health_policy *p)
{
	char a[32], b[32];

	for (size_t i = 0; i < h->n_disks; i++) {
		const struct vigil_health_disk *d = &h->disks[i];

		if (d->err)
			add_reason(h, "disk %s cannot be checked: %s", d->path,
				   strerror(d->err));
		else if (d->used_pct > p->disk_used_max)
			add_reason(h, "disk %s %s%% full (threshold %s%%)",
				   d->path, num(a, sizeof(a), d->used_pct),
				   num(b, sizeof(b), p->disk_used_max));
	}
}

void vigil_health_assess(struct vigil_health *h,
			 const struct vigil_health_policy *p)
{
	char a[32], b[32];

	clear_reasons(h);
	assess_plugins(h, p);
	assess_disks(h, p);
	if (h->mem_total_kb > 0 && h->mem_available_kb >= 0) {
		double pct = (double)h->mem_available_kb * 100.0 /
			     (double)h->mem_total_kb;

		if (pct < p->mem_available_min)
			add_reason(h, "memory available %s%% (threshold %s%%)",
				   num(a, sizeof(a), pct),
				   num(b, sizeof(b), p->mem_available_min));
	}
	if (h->have_cpu_temp && h->cpu_temp_c > p->temp_max)
		add_reason(h, "cpu temperature %s C (threshold %s C)",
			   num(a, sizeof(a), h->cpu_temp_c),
			   num(b, sizeof(b), p->temp_max));
	if (p->network_required && h->net_up == 0)
		add_reason(h, "no network interface up with carrier");
}

void vigil_health_free(struct vigil_health *h)
{
	clear_reasons(h);
	free(h->version);
	free(h->serial);
	free(h->hostname);
	for (size_t i = 0; i < h->n_ifaces; i++) {
		free(h->ifaces[i].name);
		free(h->ifaces[i].operstate);
	}
	free(h->ifaces);
	for (size_t i = 0; i < h->n_disks; i++)
		free(h->disks[i].path);
	free(h->disks);
	for (size_t i = 0; i < h->n_plugins; i++) {
		free((char *)h->plugins[i].section);
		free((char *)h->plugins[i].state);
	}
	free(h->plugins);
	memset(h, 0, sizeof(*h));
}

/* ---------------------------------------------------------- output */

enum vigil_severity vigil_health_severity(const struct vigil_health *h)
{
	return h->status == VIGIL_HEALTH_HEALTHY ? VIGIL_SEV_INFO
						 : VIGIL_SEV_WARNING;
}

static const char *status_name(const struct vigil_health *h)
{
	return h->status == VIGIL_HEALTH_HEALTHY ? "healthy" : "degraded";
}

/* The reasons joined with "; ", appended to b. */
static void join_reasons(struct vigil_buf *b, const struct vigil_health *h)
{
	for (size_t i = 0; i < h->n_reasons; i++) {
		if (i)
			vigil_buf_puts(b, "; ");
		vigil_buf_puts(b, h->reasons[i]);
	}
}

char *vigil_health_summary(const struct vigil_health *h)
{
	struct vigil_buf b = {0};

	vigil_buf_puts(&b, status_name(h));
	if (h->n_reasons) {
		vigil_buf_puts(&b, ": ");
		join_reasons(&b, h);
	}
	return b.data;
}

struct label_set {
	struct vigil_label *v;
	size_t n, cap;
};

static void lput(struct label_set *s, const char *key, const char *fmt, ...)
	VIGIL_PRINTF(3, 4);

/* Adds key = the formatted value, both copied. */
static void lput(struct label_set *s, const char *key, const char *fmt, ...)
{
	struct vigil_label *l;
	va_list ap;
	char *value;

	va_start(ap, fmt);
	value = xvasprintf(fmt, ap);
	va_end(ap);
	vigil_grow((void **)&s->v, &s->cap, s->n + 1, sizeof(*s->v));
	l = &s->v[s->n++];
	l->key = vigil_xstrdup(key);
	l->value = value;
}

static void labels_net(struct label_set *s, const struct vigil_health *h)
{
	char key[40];

	if (h->net_up >= 0)
		lput(s, "net_up", "%s", h->net_up ? "yes" : "no");
	for (size_t i = 0; i < h->n_ifaces; i++) {
		const struct vigil_health_iface *ifc = &h->ifaces[i];

		snprintf(key, sizeof(key), "net%zu_name", i);
		lput(s, key, "%s", ifc->name);
		if (ifc->operstate) {
			snprintf(key, sizeof(key), "net%zu_operstate", i);
			lput(s, key, "%s", ifc->operstate);
		}
		snprintf(key, sizeof(key), "net%zu_carrier", i);
		lput(s, key, "%d", ifc->carrier);
	}
}

static void labels_disks(struct label_set *s, const struct vigil_health *h)
{
	char key[40];

	for (size_t i = 0; i < h->n_disks; i++) {
		const struct vigil_health_disk *d = &h->disks[i];

		snprintf(key, sizeof(key), "disk%zu_path", i);
		lput(s, key, "%s", d->path);
		if (d->err) {
			snprintf(key, sizeof(key), "disk%zu_error", i);
			lput(s, key, "%s", strerror(d->err));
			continue;
		}
		if (d->used_pct >= 0) {
			snprintf(key, sizeof(key), "disk%zu_used_pct", i);
			lput(s, key, "%.1f", d->used_pct);
		}
		snprintf(key, sizeof(key), "disk%zu_free_kb", i);
		lput(s, key, "%" PRIu64, d->free_kb);
	}
}

void vigil_health_labels(const struct vigil_health *h, struct vigil_labels *l)
{
	struct label_set s = {0};
	struct vigil_buf reasons = {0};
	size_t failed = 0;

	join_reasons(&reasons, h);
	lput(&s, "status", "%s", status_name(h));
	lput(&s, "reasons", "%s", reasons.data ? reasons.data : "");
	vigil_buf_free(&reasons);
	lput(&s, "version", "%s", h->version);
	lput(&s, "serial", "%s", h->serial);
	lput(&s, "hostname", "%s", h->hostname);
	if (h->uptime_s >= 0)
		lput(&s, "uptime_s", "%" PRId64, (int64_t)h->uptime_s);
	lput(&s, "vigild_uptime_s", "%" PRId64, (int64_t)h->vigild_uptime_s);
	if (h->processes >= 0)
		lput(&s, "processes", "%" PRId64, h->processes);
	if (h->mem_total_kb > 0 && h->mem_available_kb >= 0) {
		lput(&s, "mem_total_kb", "%" PRId64, h->mem_total_kb);
		lput(&s, "mem_available_kb", "%" PRId64, h->mem_available_kb);
		lput(&s, "mem_available_pct", "%.1f",
		     (double)h->mem_available_kb * 100.0 /
			     (double)h->mem_total_kb);
	}
	if (h->have_cpu_temp)
		lput(&s, "cpu_temp_c", "%.1f", h->cpu_temp_c);
	labels_net(&s, h);
	labels_disks(&s, h);
	for (size_t i = 0; i < h->n_plugins; i++)
		failed += h->plugins[i].failed != 0;
	lput(&s, "plugins", "%zu", h->n_plugins);
	lput(&s, "plugins_failed", "%zu", failed);
	lput(&s, "undelivered", "%" PRIu64, h->undelivered);

	vigil_labels_copy(l, s.v, s.n);
	for (size_t i = 0; i < s.n; i++) {
		free((char *)s.v[i].key);
		free((char *)s.v[i].value);
	}
	free(s.v);
}

/* JSON through yajl, keeping the generator's first error. */
struct json {
	yajl_gen g;
	yajl_gen_status st;
};

static void j_status(struct json *j, yajl_gen_status st)
{
	if (j->st == yajl_gen_status_ok)
		j->st = st;
}

static void j_str(struct json *j, const char *s)
{
	if (!s)
		j_status(j, yajl_gen_null(j->g));
	else
		j_status(j, yajl_gen_string(j->g, (const unsigned char *)s,
					    strlen(s)));
}

static void j_kstr(struct json *j, const char *k, const char *v)
{
	j_str(j, k);
	j_str(j, v);
}

/* The shortest of %.15g/%.16g/%.17g that reads back exactly (yajl's own
 * %.20g prints 48.3 as 48.29999999999999716); null when !known. */
static void j_kdouble(struct json *j, const char *k, double v, int known)
{
	char buf[40];
	int n = 0;

	j_str(j, k);
	if (!known || !isfinite(v)) {
		j_status(j, yajl_gen_null(j->g));
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	/* A locale with a decimal comma must not reach the JSON. */
	for (int i = 0; i < n; i++)
		if (buf[i] == ',')
			buf[i] = '.';
	j_status(j, yajl_gen_number(j->g, buf, (size_t)n));
}

/* An integer; null when below 0 (unknown). */
static void j_kint(struct json *j, const char *k, int64_t v)
{
	j_str(j, k);
	j_status(j, v < 0 ? yajl_gen_null(j->g)
			  : yajl_gen_integer(j->g, (long long)v));
}

static void j_kbool(struct json *j, const char *k, int v)
{
	j_str(j, k);
	j_status(j, v < 0 ? yajl_gen_null(j->g) : yajl_gen_bool(j->g, v));
}

static void j_open(struct json *j, const char *k, int array)
{
	if (k)
		j_str(j, k);
	j_status(j, array ? yajl_gen_array_open(j->g)
			  : yajl_gen_map_open(j->g));
}

static void j_close(struct json *j, int array)
{
	j_status(j, array ? yajl_gen_array_close(j->g)
			  : yajl_gen_map_close(j->g));
}

static void json_memory(struct json *j, const struct vigil_health *h)
{
	int known = h->mem_total_kb > 0 && h->mem_available_kb >= 0;

	j_open(j, "memory", 0);
	j_kint(j, "total_kb", known ? h->mem_total_kb : -1);
	j_kint(j, "available_kb", known ? h->mem_available_kb : -1);
	j_kdouble(j, "available_pct",
		  known ? (double)h->mem_available_kb * 100.0 /
				  (double)h->mem_total_kb :
			  0,
		  known);
	j_close(j, 0);
}

static void json_network(struct json *j, const struct vigil_health *h)
{
	j_open(j, "network", 0);
	j_kbool(j, "up", h->net_up);
	j_open(j, "interfaces", 1);
	for (size_t i = 0; i < h->n_ifaces; i++) {
		const struct vigil_health_iface *ifc = &h->ifaces[i];

		j_open(j, NULL, 0);
		j_kstr(j, "name", ifc->name);
		j_kstr(j, "operstate", ifc->operstate);
		j_kbool(j, "carrier", ifc->carrier);
		j_kbool(j, "up", ifc->up);
		j_close(j, 0);
	}
	j_close(j, 1);
	j_close(j, 0);
}

static void json_disks(struct json *j, const struct vigil_health *h)
{
	j_open(j, "disks", 1);
	for (size_t i = 0; i < h->n_disks; i++) {
		const struct vigil_health_disk *d = &h->disks[i];
		int ok = d->err == 0;

		j_open(j, NULL, 0);
		j_kstr(j, "path", d->path);
		j_kdouble(j, "used_pct", d->used_pct, ok && d->used_pct >= 0);
		j_kint(j, "total_kb", ok ? (int64_t)d->total_kb : -1);
		j_kint(j, "free_kb", ok ? (int64_t)d->free_kb : -1);
		j_kstr(j, "error", ok ? NULL : strerror(d->err));
		j_close(j, 0);
	}
	j_close(j, 1);
}

static void json_plugins(struct json *j, const struct vigil_health *h)
{
	j_open(j, "plugins", 1);
	for (size_t i = 0; i < h->n_plugins; i++) {
		const struct vigil_health_plugin *p = &h->plugins[i];

		j_open(j, NULL, 0);
		j_kstr(j, "instance", p->section);
		j_kstr(j, "state", p->state);
		j_kbool(j, "failed", p->failed != 0);
		j_kint(j, "undelivered", (int64_t)p->undelivered);
		j_close(j, 0);
	}
	j_close(j, 1);
}

yajl_gen_status vigil_health_json(const struct vigil_health *h, yajl_gen g)
{
	struct json j = {.g = g, .st = yajl_gen_status_ok};

	j_open(&j, NULL, 0);
	j_kstr(&j, "status", status_name(h));
	j_kstr(&j, "severity", vigil_severity_name(vigil_health_severity(h)));
	j_open(&j, "reasons", 1);
	for (size_t i = 0; i < h->n_reasons; i++)
		j_str(&j, h->reasons[i]);
	j_close(&j, 1);
	j_kstr(&j, "version", h->version);
	j_kstr(&j, "serial", h->serial);
	j_kstr(&j, "hostname", h->hostname);
	j_kdouble(&j, "uptime_s", h->uptime_s, h->uptime_s >= 0);
	j_kdouble(&j, "vigild_uptime_s", h->vigild_uptime_s, 1);
	j_kint(&j, "processes", h->processes);
	json_memory(&j, h);
	j_kdouble(&j, "cpu_temp_c", h->cpu_temp_c, h->have_cpu_temp);
	json_network(&j, h);
	json_disks(&j, h);
	json_plugins(&j, h);
	j_kint(&j, "undelivered", (int64_t)h->undelivered);
	j_close(&j, 0);
	return j.st;
}

/* ------------------------------------------------------- [health] */

/* Splits disk_paths into cfg; each must be absolute, and listed once. */
static size_t split_paths(struct vigil_health_config *cfg,
			  const struct vigil_conf *conf,
			  const struct vigil_conf_section *sec,
			  const struct vigil_optslot *s, struct vigil_diag *d)
{
	int line = s->line ? s->line : sec->line;
	const char *p = s->value;
	size_t errors = 0;

	for (p += strspn(p, " \t"); *p; p += strspn(p, " \t")) {
		size_t len = strcspn(p, " \t");
		char *path = vigil_xasprintf("%.*s", (int)len, p);
		const char *bad = NULL;

		p += len;
		if (path[0] != '/')
			bad = "is not an absolute path like /data";
		for (size_t i = 0; !bad && i < cfg->n_disk_paths; i++)
			if (strcmp(cfg->disk_paths[i], path) == 0)
				bad = "is listed twice";
		if (bad) {
			vigil_diag_add(d,
				       "%s:%d: [%s] disk_paths = '%s': '%s' %s",
				       conf->path, line, sec->name, s->value,
				       path, bad);
			free(path);
			errors++;
			continue;
		}
		cfg->disk_paths = vigil_xrealloc(
			cfg->disk_paths,
			(cfg->n_disk_paths + 1) * sizeof(*cfg->disk_paths));
		cfg->disk_paths[cfg->n_disk_paths++] = path;
	}
	return errors;
}

size_t vigil_health_config(const struct vigil_conf *conf,
			   const struct vigil_conf_section *sec,
			   struct vigil_health_config *cfg,
			   struct vigil_diag *d)
{
	static const struct vigil_conf_section none = {.name = "health"};
	static const struct vigil_health_policy def =
		VIGIL_HEALTH_POLICY_DEFAULT;
	const struct vigil_optslot *s;
	struct vigil_optslot *slots;
	size_t n, errors;

	memset(cfg, 0, sizeof(*cfg));
	cfg->enabled = 1;
	cfg->interval = 300 * VIGIL_SEC;
	cfg->policy = def;
	cfg->root = vigil_xstrdup("/");
	if (!sec)
		sec = &none;
	/* A key in error has no slot: its default stays. */
	errors = vigil_options_bind(conf, sec, vigil_health_options, NULL,
				    &slots, &n, d);
	if ((s = vigil_optslot_find(slots, n, "enabled")))
		cfg->enabled = (int)s->v.i;
	if ((s = vigil_optslot_find(slots, n, "interval")))
		cfg->interval = s->v.i;
	if ((s = vigil_optslot_find(slots, n, "disk_paths")))
		errors += split_paths(cfg, conf, sec, s, d);
	if ((s = vigil_optslot_find(slots, n, "disk_used_max")))
		cfg->policy.disk_used_max = s->v.d;
	if ((s = vigil_optslot_find(slots, n, "mem_available_min")))
		cfg->policy.mem_available_min = s->v.d;
	if ((s = vigil_optslot_find(slots, n, "temp_max")))
		cfg->policy.temp_max = s->v.d;
	if ((s = vigil_optslot_find(slots, n, "undelivered_max")))
		cfg->policy.undelivered_max = (uint64_t)s->v.i;
	if ((s = vigil_optslot_find(slots, n, "network_required")))
		cfg->policy.network_required = (int)s->v.i;
	if ((s = vigil_optslot_find(slots, n, "root")) && s->value &&
	    s->value[0] != '/') {
		vigil_diag_add(d, "%s:%d: [%s] root = '%s': expected an "
			       "absolute path like /",
			       conf->path, s->line ? s->line : sec->line,
			       sec->name, s->value);
		errors++;
	} else if (s && s->value) {
		free(cfg->root);
		cfg->root = vigil_xstrdup(s->value);
	}
	vigil_optslots_free(slots, n);
	return errors;
}

void vigil_health_config_free(struct vigil_health_config *cfg)
{
	for (size_t i = 0; i < cfg->n_disk_paths; i++)
		free(cfg->disk_paths[i]);
	free(cfg->disk_paths);
	free(cfg->root);
	memset(cfg, 0, sizeof(*cfg));
}
