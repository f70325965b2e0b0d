/*
 * notify.h - telling systemd how vigild is doing (sd_notify(3)).
 *
 * Every function does nothing, and returns 0, when vigild was not started
 * by systemd with notification on (no NOTIFY_SOCKET), or when it was built
 * without libsystemd. Otherwise they return what sd_notify() returns: > 0
 * sent, < 0 -errno. Failures are not fatal: systemd acts on what it does
 * not hear.
 */
#ifndef VIGIL_NOTIFY_H
#define VIGIL_NOTIFY_H

#include <vigil/plugin.h>

/* READY=1, with STATUS= set to `status` (may be NULL). Called once, when
 * the instances have been started. */
int vigil_notify_ready(const char *status);

/* STATUS=..., the one-line state `systemctl status` shows. */
int vigil_notify_status(const char *fmt, ...) VIGIL_PRINTF(1, 2);

/* WATCHDOG=1: the keep-alive. Only the event loop sends it. */
int vigil_notify_watchdog(void);

/* STOPPING=1: shutting down. */
int vigil_notify_stopping(void);

/* How often to send WATCHDOG=1: half of WATCHDOG_USEC when systemd expects
 * keep-alives from this process (sd_watchdog_enabled(3)), else 0. */
vigil_time_ns vigil_notify_watchdog_interval(void);

#endif
