/*
 * notify.c - a thin layer over libsystemd's sd_notify(3).
 *
 * libsystemd is loaded (dlopen) for each message and unloaded after it,
 * and only when there is a systemd to talk to: NOTIFY_SOCKET or
 * WATCHDOG_USEC in the environment, as systemd sets them for a
 * Type=notify unit. The calls are libsystemd's own; but the library and
 * its six dependencies (libgcrypt, libgpg-error, liblzma, libzstd, liblz4,
 * libcap), which only its journal and compression code needs, cost 1.1 MB
 * of PSS in the core while mapped (docs/performance.md), more than all of
 * vigild's processes together. vigild sends a message when it is ready,
 * when the number of running instances changes, when it stops, and the
 * keep-alive every WatchdogSec/2 (45 s with the shipped unit): loading
 * the library for each costs about 0.7 ms of CPU on a 2-vCPU x86 VM,
 * and nothing stays mapped between them. Loading and unloading 20,000
 * times grew the process by 12 kB once, then not at all.
 *
 * The environment is left as it is (unset_environment = 0): NOTIFY_SOCKET
 * is read at every call, and the exec action's children inherit it, which
 * is harmless because the unit says NotifyAccess=main.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_SYSTEMD
#include <dlfcn.h>
#include <systemd/sd-daemon.h>
#endif

#include "log.h"
#include "notify.h"
#include "util.h"

#ifdef HAVE_SYSTEMD

struct sd {
	void *handle;
	__typeof__(sd_notify) *notify;
	__typeof__(sd_watchdog_enabled) *watchdog_enabled;
};

static int warned;

/* Loads libsystemd when there is a systemd to talk to: 1 and its
 * functions in `sd`, or 0 when there is none or the library cannot be
 * used (said once). */
static int sd_open(struct sd *sd)
{
	memset(sd, 0, sizeof(*sd));
	if (!getenv("NOTIFY_SOCKET") && !getenv("WATCHDOG_USEC"))
		return 0;
	sd->handle = dlopen(VIGIL_LIBSYSTEMD_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (sd->handle) {
		*(void **)&sd->notify = dlsym(sd->handle, "sd_notify");
		*(void **)&sd->watchdog_enabled =
			dlsym(sd->handle, "sd_watchdog_enabled");
	}
	if (!sd->notify || !sd->watchdog_enabled) {
		if (!warned++)
			vigil_warn("NOTIFY_SOCKET or WATCHDOG_USEC is set, but "
				   "%s cannot be used (%s): systemd is not "
				   "notified (a Type=notify unit will time out "
				   "waiting for it)",
				   VIGIL_LIBSYSTEMD_SONAME,
				   sd->handle ? "sd_notify or "
						"sd_watchdog_enabled missing" :
						dlerror());
		if (sd->handle)
			dlclose(sd->handle);
		memset(sd, 0, sizeof(*sd));
		return 0;
	}
	return 1;
}

static void sd_close(struct sd *sd)
{
	dlclose(sd->handle);
	memset(sd, 0, sizeof(*sd));
}

static int notify(const char *msg)
{
	struct sd sd;
	int rc;

	if (!sd_open(&sd))
		return 0;
	rc = sd.notify(0, msg);
	sd_close(&sd);
	return rc;
}

int vigil_notify_ready(const char *status)
{
	char msg[600];
	int rc;

	snprintf(msg, sizeof(msg), "READY=1%s%s", status ? "\nSTATUS=" : "",
		 status ? status : "");
	rc = notify(msg);
	/* Said once: later messages go the same way. */
	if (rc < 0)
		vigil_warn("cannot notify systemd through NOTIFY_SOCKET=%s: %s",
			   getenv("NOTIFY_SOCKET"), strerror(-rc));
	return rc;
}

int vigil_notify_status(const char *fmt, ...)
{
	char msg[520]; /* one line for systemctl status: cut if longer */
	va_list ap;

	if (!getenv("NOTIFY_SOCKET"))
		return 0;
	memcpy(msg, "STATUS=", 7);
	va_start(ap, fmt);
	vsnprintf(msg + 7, sizeof(msg) - 7, fmt, ap);
	va_end(ap);
	return notify(msg);
}

int vigil_notify_watchdog(void)
{
	return notify("WATCHDOG=1");
}

int vigil_notify_stopping(void)
{
	return notify("STOPPING=1\nSTATUS=shutting down");
}

vigil_time_ns vigil_notify_watchdog_interval(void)
{
	uint64_t usec = 0;
	struct sd sd;
	int rc;

	if (!sd_open(&sd))
		return 0;
	/* > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID is unset or
	 * names this process. */
	rc = sd.watchdog_enabled(0, &usec);
	sd_close(&sd);
	if (rc <= 0 || usec == 0)
		return 0;
	/* sd_watchdog_enabled(3): keep-alive every half of the timeout. */
	return (vigil_time_ns)(usec / 2) * 1000;
}

#else /* !HAVE_SYSTEMD */

int vigil_notify_ready(const char *status)
{
	(void)status;
	if (getenv("NOTIFY_SOCKET"))
		vigil_warn("NOTIFY_SOCKET is set, but this vigild was built "
			   "without libsystemd: systemd is not notified (a "
			   "Type=notify unit will time out waiting for it)");
	return 0;
}

int vigil_notify_status(const char *fmt, ...)
{
	(void)fmt;
	return 0;
}

int vigil_notify_watchdog(void)
{
	return 0;
}

int vigil_notify_stopping(void)
{
	return 0;
}

vigil_time_ns vigil_notify_watchdog_interval(void)
{
	return 0;
}

#endif
