/*
 * notify.c - a thin layer over libsystemd's sd_notify(3).
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
#include <systemd/sd-daemon.h>
#endif

#include "log.h"
#include "notify.h"
#include "util.h"

#ifdef HAVE_SYSTEMD

int vigil_notify_ready(const char *status)
{
	int rc = status ? sd_notifyf(0, "READY=1\nSTATUS=%s", status) :
			  sd_notify(0, "READY=1");

	/* Said once: later messages go the same way. */
	if (rc < 0)
		vigil_warn("cannot notify systemd through NOTIFY_SOCKET=%s: %s",
			   getenv("NOTIFY_SOCKET"), strerror(-rc));
	return rc;
}

int vigil_notify_status(const char *fmt, ...)
{
	char status[512]; /* one line for systemctl status: cut if longer */
	va_list ap;

	if (!getenv("NOTIFY_SOCKET"))
		return 0;
	va_start(ap, fmt);
	vsnprintf(status, sizeof(status), fmt, ap);
	va_end(ap);
	return sd_notifyf(0, "STATUS=%s", status);
}

int vigil_notify_watchdog(void)
{
	return sd_notify(0, "WATCHDOG=1");
}

int vigil_notify_stopping(void)
{
	return sd_notify(0, "STOPPING=1\nSTATUS=shutting down");
}

vigil_time_ns vigil_notify_watchdog_interval(void)
{
	uint64_t usec = 0;

	/* > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID is unset or
	 * names this process. */
	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
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
