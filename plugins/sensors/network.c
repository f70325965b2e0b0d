/*
 * network - link state of interfaces, and reachability of hosts
 *
 * SYNOPSIS
 *     [sensor.network]
 *     plugin = network
 *     interfaces = eth0 wlan0
 *     targets = 192.168.1.1:80 [fd00::1]:22 dns:example.com
 *     probe_timeout = 2s
 *
 * DESCRIPTION
 *     For each interface, reads /sys/class/net/IF/operstate and carrier. An
 *     interface is up when its operstate is "up", or "unknown" with carrier
 *     1: tun and ppp devices never report "up". carrier cannot be read
 *     (EINVAL) while an interface is administratively down, which counts
 *     as no carrier. Without `interfaces`, every entry of /sys/class/net but
 *     lo is followed from the first time it is administratively up (IFF_UP
 *     in its flags), listed anew on each read as interfaces come and go, so
 *     a spare interface nobody configured raises no alarm;
 *     `interfaces =` (empty) reports none. An interface listed explicitly
 *     that does not exist is reported down, with no carrier.
 *
 *     Each target is probed in turn, each within `probe_timeout`:
 *       host:port      TCP connect to port of host (a name or an address;
 *                      IPv6 addresses in brackets), trying each address
 *                      the name resolves to until one answers
 *       dns:hostname   resolve hostname (getaddrinfo, so /etc/hosts too);
 *                      "dns:" always means this, never a host named dns
 *     A read therefore takes up to the number of targets times
 *     `probe_timeout`, which must fit in the instance's `timeout` (the
 *     deadline of a read, 10s by default; a worker is killed past it):
 *     unset, probe_timeout is 2s or less, so that all targets fit in 90%
 *     of timeout; set, a sum that does not fit is refused at start (a
 *     network down, every target slow, would otherwise get the worker
 *     killed for hanging instead of reporting the targets unreachable).
 *     latency_ms is the time the successful connect took, or the time the
 *     resolve took. Reachability changes are logged.
 *
 * OPTIONS
 *     root        directory that stands for / (default "/")
 *     interfaces  space-separated interface names (default: all but lo)
 *     targets     space-separated host:port and dns:hostname (default none)
 *     probe_timeout  per target, 10ms to 60s (default 2s, or less, see
 *                 above)
 *
 * METRICS
 *     network.up          ""    interface=IF; 1 or 0
 *     network.carrier     ""    interface=IF; 1 or 0
 *     network.reachable   ""    target=<as written>; 1 or 0
 *     network.latency_ms  "ms"  target=<as written>; only when reachable
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <vigil/plugin.h>

#include "sensor_util.h"

/* Interface read states besides 0 (fine) and a positive errno. */
#define IF_MALFORMED (-1)

struct iface {
	char name[IFNAMSIZ];
	int state;    /* of the last read: 0, errno, or IF_MALFORMED */
	int followed; /* discovered, and seen administratively up */
};

enum target_kind {
	TARGET_TCP,
	TARGET_DNS,
};

struct target {
	char *spec; /* as written: the label */
	enum target_kind kind;
	char *host;
	char *port;    /* TCP only */
	int reachable; /* result of the last probe; -1 before the first */
};

struct net_state {
	const struct vigil_host *host;
	char *net_dir; /* <root>/sys/class/net */
	int listed;    /* interfaces came from the `interfaces` option */
	struct iface *ifaces;
	size_t n_ifaces;
	int scan_err; /* errno of the last failed scan of net_dir */
	struct target *targets;
	size_t n_targets;
	vigil_time_ns timeout;
};

static const struct vigil_option network_options[] = {
	SENSOR_ROOT_OPTION,
	{
		.name = "interfaces",
		.type = VIGIL_OPT_STRING,
		.def = NULL,
		.help = "space-separated interfaces to report; unset: all but lo",
	},
	{
		.name = "targets",
		.type = VIGIL_OPT_STRING,
		.def = NULL,
		.help = "space-separated host:port (TCP connect) and dns:hostname (resolve) to probe",
	},
	{
		.name = "probe_timeout",
		.type = VIGIL_OPT_DURATION,
		.def = NULL,
		.min = (double)(10 * VIGIL_MSEC),
		.max = (double)(60 * VIGIL_SEC),
		.help = "how long each target may take to answer (default 2s, "
			"or less so that all targets fit in the read's timeout)",
	},
	VIGIL_OPTIONS_END,
};

static vigil_time_ns mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (vigil_time_ns)ts.tv_sec * VIGIL_SEC + ts.tv_nsec;
}

/* ------------------------------------------------------------ interfaces */

static int valid_ifname(const char *name)
{
	return *name && strlen(name) < IFNAMSIZ && !strchr(name, '/') &&
	       strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/* Replaces the interface list with the entries of net_dir, keeping the
 * logged state of those seen before. */
static int scan_ifaces(struct net_state *st, struct vigil_ctx *ctx)
{
	struct dirent **ents;
	struct iface *list;
	size_t n_list = 0;
	int n;

	n = scandir(st->net_dir, &ents, NULL, alphasort);
	if (n < 0) {
		int err = errno;

		if (err != st->scan_err)
			st->host->log(ctx, VIGIL_LOG_WARNING,
				      "cannot list interfaces in %s: %s",
				      st->net_dir, strerror(err));
		st->scan_err = err;
		return -err;
	}
	if (st->scan_err)
		st->host->log(ctx, VIGIL_LOG_NOTICE, "%s can be listed again",
			      st->net_dir);
	st->scan_err = 0;

	list = calloc((size_t)n + 1, sizeof(*list));
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;

		if (list && valid_ifname(name) && strcmp(name, "lo") != 0) {
			struct iface *ifc = &list[n_list++];

			strcpy(ifc->name, name);
			for (size_t j = 0; j < st->n_ifaces; j++) {
				if (strcmp(st->ifaces[j].name, name) == 0) {
					ifc->state = st->ifaces[j].state;
					ifc->followed = st->ifaces[j].followed;
				}
			}
		}
		free(ents[i]);
	}
	free(ents);
	if (!list)
		return -ENOMEM;
	free(st->ifaces);
	st->ifaces = list;
	st->n_ifaces = n_list;
	return 0;
}

/* Logs an interface's read state when it changes, not on every read. */
static void iface_set_state(struct net_state *st, struct vigil_ctx *ctx,
			    struct iface *ifc, int state, const char *file,
			    const char *contents)
{
	if (state == ifc->state)
		return;
	if (state == 0)
		st->host->log(ctx, VIGIL_LOG_NOTICE, "interface %s %s again",
			      ifc->name,
			      ifc->state == ENOENT ? "is present" : "reads");
	else if (state == IF_MALFORMED)
		st->host->log(ctx, VIGIL_LOG_WARNING,
			      "%s/%s/%s: unexpected contents '%.32s', expected %s",
			      st->net_dir, ifc->name, file, contents,
			      strcmp(file, "carrier") == 0
				      ? "0 or 1"
				      : "an operstate like up, down or unknown");
	else if (state == ENOENT)
		st->host->log(ctx, VIGIL_LOG_WARNING,
			      "interface %s not present (no %s/%s)", ifc->name,
			      st->net_dir, ifc->name);
	else
		st->host->log(ctx, VIGIL_LOG_WARNING,
			      "cannot read %s/%s/%s: %s", st->net_dir,
			      ifc->name, file, strerror(state));
	ifc->state = state;
}

/* Reads sysfs attribute `file` of ifc, without its newline. */
static ssize_t read_attr(struct net_state *st, const struct iface *ifc,
			 const char *file, char *buf, size_t size)
{
	char path[4096];
	ssize_t n;
	int len;

	len = snprintf(path, sizeof(path), "%s/%s/%s", st->net_dir, ifc->name,
		       file);
	if (len < 0 || (size_t)len >= sizeof(path))
		return -ENAMETOOLONG;
	n = sensor_read_text(path, buf, size);
	if (n >= 0)
		buf[strcspn(buf, "\n")] = '\0';
	return n;
}

/* The values of IF_OPER_* as sysfs spells them (Documentation/ABI/
 * testing/sysfs-class-net). */
/* IFF_UP in /sys/class/net/IF/flags ("0x1003"). */
static int admin_up(struct net_state *st, const struct iface *ifc)
{
	char buf[32], *end;
	unsigned long flags;

	if (read_attr(st, ifc, "flags", buf, sizeof(buf)) <= 0)
		return 0;
	errno = 0;
	flags = strtoul(buf, &end, 16);
	return errno == 0 && end != buf && (flags & 0x1);
}

static int known_operstate(const char *s)
{
	static const char *const states[] = {
		"unknown", "notpresent", "down", "lowerlayerdown",
		"testing", "dormant",    "up",
	};

	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (strcmp(s, states[i]) == 0)
			return 1;
	return 0;
}

/* Emits up and carrier of one interface. Returns 1 when it did. */
static int read_iface(struct net_state *st, struct vigil_ctx *ctx,
		      struct iface *ifc)
{
	char oper[32], carrier_s[32];
	ssize_t n;
	int carrier, up;

	n = read_attr(st, ifc, "operstate", oper, sizeof(oper));
	if (n == -ENOENT || n == -ENOTDIR) {
		/* Listed explicitly: a missing interface (an unplugged
		 * dongle, a ppp link not dialled) is down. Found by the
		 * scan: it vanished since, or is not an interface at all
		 * (bonding_masters), so it is nobody's business. */
		if (!st->listed)
			return 0;
		iface_set_state(st, ctx, ifc, ENOENT, "operstate", NULL);
		sensor_emit(st->host, ctx, "network.up", "", 0, "interface",
			    ifc->name);
		sensor_emit(st->host, ctx, "network.carrier", "", 0,
			    "interface", ifc->name);
		return 1;
	}
	if (n < 0) {
		iface_set_state(st, ctx, ifc, (int)-n, "operstate", NULL);
		return 0;
	}
	if (!known_operstate(oper)) {
		iface_set_state(st, ctx, ifc, IF_MALFORMED, "operstate", oper);
		return 0;
	}

	/* EINVAL while the interface is administratively down; any other
	 * failure leaves no more reason to believe in a carrier. */
	n = read_attr(st, ifc, "carrier", carrier_s, sizeof(carrier_s));
	if (n < 0) {
		carrier = 0;
	} else if (strcmp(carrier_s, "0") == 0 || strcmp(carrier_s, "1") == 0) {
		carrier = carrier_s[0] == '1';
	} else {
		iface_set_state(st, ctx, ifc, IF_MALFORMED, "carrier",
				carrier_s);
		return 0;
	}
	iface_set_state(st, ctx, ifc, 0, NULL, NULL);

	up = strcmp(oper, "up") == 0 ||
	     (strcmp(oper, "unknown") == 0 && carrier);
	sensor_emit(st->host, ctx, "network.up", "", up, "interface",
		    ifc->name);
	sensor_emit(st->host, ctx, "network.carrier", "", carrier, "interface",
		    ifc->name);
	return 1;
}

/* Calls `fn` on each blank-separated word of `list`, stopping at its
 * first nonzero return, which it returns. */
static int each_word(struct net_state *st, struct vigil_ctx *ctx,
		     const char *list,
		     int (*fn)(struct net_state *, struct vigil_ctx *,
			       const char *))
{
	char *copy = strdup(list), *w, *save = NULL;
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	for (w = strtok_r(copy, " \t", &save); w && rc == 0;
	     w = strtok_r(NULL, " \t", &save))
		rc = fn(st, ctx, w);
	free(copy);
	return rc;
}

static int add_iface(struct net_state *st, struct vigil_ctx *ctx,
		     const char *name)
{
	if (!valid_ifname(name)) {
		st->host->log(ctx, VIGIL_LOG_ERR,
			      "interfaces: '%s' is not an interface name, expected up to %d characters without '/', like eth0",
			      name, IFNAMSIZ - 1);
		return VIGIL_EFATAL;
	}
	strcpy(st->ifaces[st->n_ifaces++].name, name);
	return 0;
}

/* Fills st->ifaces from the `interfaces` option. Returns 0, -ENOMEM or
 * VIGIL_EFATAL after logging the bad name. */
static int parse_ifaces(struct net_state *st, struct vigil_ctx *ctx,
			const char *list)
{
	/* Every word is at least one character and a separator. */
	st->ifaces = calloc(strlen(list) / 2 + 1, sizeof(*st->ifaces));
	if (!st->ifaces)
		return -ENOMEM;
	return each_word(st, ctx, list, add_iface);
}

/* --------------------------------------------------------------- targets */

/* "1" to "65535" and nothing else: getaddrinfo would also take service
 * names, and 0 or a sign would mean something else again. */
static int valid_port(const char *s)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return 0;
	errno = 0;
	v = strtoul(s, &end, 10);
	return !errno && !*end && v >= 1 && v <= 65535;
}

/* Parses one entry of `targets` into t. Returns 0 or -1. */
static int parse_target(const char *spec, struct target *t)
{
	const char *host, *host_end, *port;

	if (strncmp(spec, "dns:", 4) == 0) {
		if (!spec[4])
			return -1;
		t->kind = TARGET_DNS;
		t->host = strdup(spec + 4);
		t->spec = strdup(spec);
		return 0;
	}
	if (spec[0] == '[') {
		host = spec + 1;
		host_end = strchr(host, ']');
		if (!host_end || host_end[1] != ':')
			return -1;
		port = host_end + 2;
	} else {
		host = spec;
		host_end = strrchr(spec, ':');
		/* A second colon is an IPv6 address without brackets,
		 * whose port cannot be told from its last group. */
		if (!host_end || memchr(spec, ':', (size_t)(host_end - spec)))
			return -1;
		port = host_end + 1;
	}
	if (host_end == host || !valid_port(port))
		return -1;
	t->kind = TARGET_TCP;
	t->host = strndup(host, (size_t)(host_end - host));
	t->port = strdup(port);
	t->spec = strdup(spec);
	return 0;
}

static void targets_free(struct target *targets, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(targets[i].spec);
		free(targets[i].host);
		free(targets[i].port);
	}
	free(targets);
}

static int add_target(struct net_state *st, struct vigil_ctx *ctx,
		      const char *spec)
{
	struct target *t = &st->targets[st->n_targets];

	if (parse_target(spec, t) < 0) {
		st->host->log(ctx, VIGIL_LOG_ERR,
			      "targets: cannot parse '%s', expected host:port (port 1-65535), [ipv6]:port or dns:hostname",
			      spec);
		return VIGIL_EFATAL;
	}
	st->n_targets++;
	t->reachable = -1;
	if (!t->spec || !t->host || (t->kind == TARGET_TCP && !t->port))
		return -ENOMEM;
	return 0;
}

/* Fills st->targets from the `targets` option. Returns 0, -ENOMEM or
 * VIGIL_EFATAL after logging the entry that does not parse. */
static int parse_targets(struct net_state *st, struct vigil_ctx *ctx,
			 const char *list)
{
	st->targets = calloc(strlen(list) / 2 + 1, sizeof(*st->targets));
	if (!st->targets)
		return -ENOMEM;
	return each_word(st, ctx, list, add_target);
}

/* Milliseconds until deadline for poll(), rounded up so that a wait never
 * ends just before it and spins. */
static int ms_until(vigil_time_ns deadline)
{
	vigil_time_ns left = deadline - mono_ns();

	if (left <= 0)
		return 0;
	return (int)((left + VIGIL_MSEC - 1) / VIGIL_MSEC);
}

/* One non-blocking connect to ai, abandoned at deadline. Returns 0 once
 * connected, else an errno (ETIMEDOUT at the deadline). */
static int connect_one(const struct addrinfo *ai, vigil_time_ns deadline)
{
	struct pollfd pfd;
	socklen_t len;
	int fd, err, n;

	fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
	if (fd < 0)
		return errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
		close(fd);
		return 0;
	}
	if (errno != EINPROGRESS) {
		err = errno;
		close(fd);
		return err;
	}
	pfd.fd = fd;
	pfd.events = POLLOUT;
	for (;;) {
		int ms = ms_until(deadline);

		if (ms == 0) {
			close(fd);
			return ETIMEDOUT;
		}
		n = poll(&pfd, 1, ms);
		if (n > 0)
			break;
		if (n < 0 && errno != EINTR) {
			err = errno;
			close(fd);
			return err;
		}
	}
	len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	close(fd);
	return err;
}

static const char *gai_reason(int rc)
{
	return rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc);
}

/* Probes a host:port target. Returns 1 and sets *latency_ms when a connect
 * succeeded, else 0 with the reason in why. */
static int probe_tcp(const struct target *t, vigil_time_ns timeout,
		     double *latency_ms, char *why, size_t why_size)
{
	struct addrinfo hints = { 0 }, *res, *ai;
	vigil_time_ns deadline = mono_ns() + timeout, start;
	int rc, err = ETIMEDOUT;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	/* Blocks for a name, outside the deadline: see probe_dns(). The
	 * deadline starts before it, so a slow resolve leaves less time to
	 * connect, and a target costs about `timeout` at most. */
	rc = getaddrinfo(t->host, t->port, &hints, &res);
	if (rc != 0) {
		snprintf(why, why_size, "cannot resolve %s: %s", t->host,
			 gai_reason(rc));
		return 0;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		if (mono_ns() >= deadline) {
			err = ETIMEDOUT;
			break;
		}
		start = mono_ns();
		err = connect_one(ai, deadline);
		if (err == 0) {
			*latency_ms = (double)(mono_ns() - start) /
				      (double)VIGIL_MSEC;
			break;
		}
	}
	freeaddrinfo(res);
	if (err == ETIMEDOUT)
		snprintf(why, why_size, "no answer within %lld ms",
			 (long long)(timeout / VIGIL_MSEC));
	else if (err)
		snprintf(why, why_size, "%s", strerror(err));
	return err == 0;
}

/*
 * Probes a dns:hostname target. getaddrinfo blocks and takes no timeout;
 * it is bounded by the resolver's own timeout and attempts (resolv.conf),
 * and later versions run the plugin in an isolated worker by default, so a
 * slow resolver stalls this sensor only. An answer slower than `timeout`
 * counts as none, as for a connect.
 */
static int probe_dns(const struct target *t, vigil_time_ns timeout,
		     double *latency_ms, char *why, size_t why_size)
{
	struct addrinfo hints = { 0 }, *res;
	vigil_time_ns start = mono_ns(), took;
	int rc;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM; /* one answer per address */
	rc = getaddrinfo(t->host, NULL, &hints, &res);
	took = mono_ns() - start;
	if (rc != 0) {
		snprintf(why, why_size, "cannot resolve %s: %s", t->host,
			 gai_reason(rc));
		return 0;
	}
	freeaddrinfo(res);
	if (took > timeout) {
		snprintf(why, why_size,
			 "resolved after %lld ms, more than %lld ms",
			 (long long)(took / VIGIL_MSEC),
			 (long long)(timeout / VIGIL_MSEC));
		return 0;
	}
	*latency_ms = (double)took / (double)VIGIL_MSEC;
	return 1;
}

static void probe_target(struct net_state *st, struct vigil_ctx *ctx,
			 struct target *t)
{
	double latency_ms = 0;
	char why[256] = "";
	int ok;

	if (t->kind == TARGET_TCP)
		ok = probe_tcp(t, st->timeout, &latency_ms, why, sizeof(why));
	else
		ok = probe_dns(t, st->timeout, &latency_ms, why, sizeof(why));

	/* Reachability is data, not a fault of the sensor; still, a line
	 * when it changes tells the reason the reading cannot. */
	if (!ok && t->reachable != 0)
		st->host->log(ctx, VIGIL_LOG_NOTICE,
			      "target %s unreachable: %s", t->spec, why);
	else if (ok && t->reachable == 0)
		st->host->log(ctx, VIGIL_LOG_NOTICE,
			      "target %s reachable again", t->spec);
	t->reachable = ok;

	sensor_emit(st->host, ctx, "network.reachable", "", ok, "target",
		    t->spec);
	if (ok)
		sensor_emit(st->host, ctx, "network.latency_ms", "ms",
			    latency_ms, "target", t->spec);
}

/* ------------------------------------------------------------ the plugin */

static int network_read(void *state, struct vigil_ctx *ctx)
{
	struct net_state *st = state;
	size_t n_emitted = st->n_targets;
	int rc = 0;

	if (!st->listed)
		rc = scan_ifaces(st, ctx);
	for (size_t i = 0; i < st->n_ifaces; i++) {
		struct iface *ifc = &st->ifaces[i];

		/* Discovered interfaces count once someone brought them up:
		 * a spare that was never configured (ifb0, a second NIC) is
		 * not "down", but one that was up and fell is. */
		if (!st->listed && !ifc->followed) {
			if (!admin_up(st, ifc))
				continue;
			ifc->followed = 1;
		}
		n_emitted += (size_t)read_iface(st, ctx, ifc);
	}
	for (size_t i = 0; i < st->n_targets; i++)
		probe_target(st, ctx, &st->targets[i]);

	if (n_emitted > 0)
		return 0;
	/* Nothing to report: say why, unless there was nothing to ask. */
	if (rc < 0)
		return rc;
	return st->n_ifaces > 0 && st->listed ? -EIO : 0;
}

static void network_fini(void *state)
{
	struct net_state *st = state;

	if (!st)
		return;
	free(st->net_dir);
	free(st->ifaces);
	targets_free(st->targets, st->n_targets);
	free(st);
}

/* The shortest read deadline that leaves `total` to the probes. */
static vigil_time_ns need_deadline(vigil_time_ns total)
{
	vigil_time_ns tenth = total * 10 / 9 + VIGIL_MSEC;

	return tenth / 10 > 100 * VIGIL_MSEC ? tenth : total + 100 * VIGIL_MSEC;
}

/* Per-target timeout: probe_timeout, or 2s, or less so that every
 * target fits in 90% of the instance's timeout (the read's deadline). */
static int probe_budget(struct net_state *st, struct vigil_ctx *ctx)
{
	const struct vigil_host *h = st->host;
	vigil_time_ns deadline = h->config_duration(ctx, "timeout",
						    10 * VIGIL_SEC);
	vigil_time_ns set = h->config_duration(ctx, "probe_timeout", 0);
	vigil_time_ns spare = deadline / 10 > 100 * VIGIL_MSEC ?
				      deadline / 10 :
				      100 * VIGIL_MSEC;
	vigil_time_ns budget = deadline > spare ? deadline - spare : 0;
	vigil_time_ns n = (vigil_time_ns)st->n_targets;

	st->timeout = set ? set : 2 * VIGIL_SEC;
	if (!n || st->timeout * n <= budget)
		return 0;
	if (!set && budget / n >= 10 * VIGIL_MSEC) {
		st->timeout = budget / n;
		return 0;
	}
	h->log(ctx, VIGIL_LOG_ERR,
	       "%zu target(s) of %lld ms each take up to %lld ms, more than "
	       "this instance's timeout = %lld ms allows (a read past it is "
	       "killed as hung): raise timeout to at least %lld ms%s",
	       st->n_targets, (long long)(st->timeout / VIGIL_MSEC),
	       (long long)(st->timeout * n / VIGIL_MSEC),
	       (long long)(deadline / VIGIL_MSEC),
	       (long long)(need_deadline(st->timeout * n) / VIGIL_MSEC),
	       set ? ", or lower probe_timeout" : ", or list fewer targets");
	return VIGIL_EFATAL;
}

static int network_init(struct vigil_ctx *ctx, const struct vigil_host *host,
			void **state)
{
	const char *ifaces = host->config_string(ctx, "interfaces");
	const char *targets = host->config_string(ctx, "targets");
	struct net_state *st;
	int rc = 0;

	if (sensor_root_check(host, ctx) < 0)
		return VIGIL_EFATAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->host = host;
	st->net_dir = sensor_path(host, ctx, "sys/class/net");
	if (!st->net_dir)
		rc = -ENOMEM;
	if (rc == 0 && ifaces) {
		st->listed = 1;
		rc = parse_ifaces(st, ctx, ifaces);
	}
	if (rc == 0 && targets)
		rc = parse_targets(st, ctx, targets);
	if (rc == 0)
		rc = probe_budget(st, ctx);
	if (rc < 0) {
		network_fini(st);
		return rc;
	}
	*state = st;
	return 0;
}

VIGIL_PLUGIN_DEFINE = {
	VIGIL_PLUGIN_HEADER(VIGIL_KIND_SENSOR, "network", "1.0.0"),
	.description = "interface link state and TCP/DNS reachability",
	.options = network_options,
	.init = network_init,
	.read = network_read,
	.fini = network_fini,
};
