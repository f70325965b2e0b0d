/*
 * notify.c - a thin layer over libsystemd's sd_notify(3).
 *
 * libsystemd is loaded (dlopen) the first time there is a systemd to talk
 * to: NOTIFY_SOCKET or WATCHDOG_USEC in the environment, as systemd sets
 * them for a Type=notify unit. Without them - vigild in a terminal, under
 * another init (BusyBox, OpenRC, runit), in a container - the library and
 * its six dependencies (libgcrypt, libgpg-error, liblzma, libzstd, liblz4,
 * libcap), which only its journal and compression code needs, are never
 * mapped: 0.7 to 1.1 MB of PSS in the core (docs/performance.md).
 * The calls are libsystemd's own either way.
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

static struct {
	int tried;
	__typeof__(sd_notify) *notify;
	__typeof__(sd_watchdog_enabled) *watchdog_enabled;
} sd;

/* libsystemd's functions, loaded at the first call that has a systemd to
 * talk to; NULL when there is none, or the library cannot be loaded (said
 * once). */
static int sd_load(void)
{
	void *h;

	if (sd.notify)
		return 1;
	if (sd.tried || (!getenv("NOTIFY_SOCKET") && !getenv("WATCHDOG_USEC")))
		return 0;
	sd.tried = 1;
	/* Never closed: the keep-alives go on until exit. */
	h = dlopen(VIGIL_LIBSYSTEMD_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (h) {
		*(void **)&sd.notify = dlsym(h, "sd_notify");
		*(void **)&sd.watchdog_enabled =
			dlsym(h, "sd_watchdog_enabled");
	}
	if (!sd.notify || !sd.watchdog_enabled) {
		vigil_warn("NOTIFY_SOCKET or WATCHDOG_USEC is set, but %s "
			   "cannot be used (%s): systemd is not notified (a "
			   "Type=notify unit will time out waiting for it)",
			   VIGIL_LIBSYSTEMD_SONAME,
			   h ? "sd_notify or sd_watchdog_enabled missing" :
			       dlerror());
		sd.notify = NULL;
		if (h)
			dlclose(h);
		return 0;
	}
	vigil_debug("systemd: %s loaded for sd_notify",
		    VIGIL_LIBSYSTEMD_SONAME);
	return 1;
}

static int notify(const char *msg)
{
	return sd_load() ? sd.notify(0, msg) : 0;
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

	/* > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID is unset or
	 * names this process. */
	if (!sd_load() || sd.watchdog_enabled(0, &usec) <= 0 || usec == 0)
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
