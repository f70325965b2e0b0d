/*
 * daemon_ctl.h - what vigild answers on its control socket, and its
 * periodic health report.
 *
 * daemon.c owns the loop; this file owns what the loop does for vigilctl
 * (the handlers of docs/control-protocol.md) and for [health] (collect,
 * assess, publish a HEALTH event, keep the last report).
 */
#ifndef VIGIL_DAEMON_CTL_H
#define VIGIL_DAEMON_CTL_H

#include <vigil/plugin.h>

#include "conf.h"

struct vigil_daemon;
struct vigil_instance;

/*
 * At load: [daemon] control_socket (an absolute path that fits a UNIX
 * socket address; -S overrides it) and control_group (a group that
 * exists), and the whole [health] section. Every problem goes to `errors`
 * as "file:line: [section] ...". Returns the number of errors.
 */
size_t vigil_daemon_ctl_load(struct vigil_daemon *d,
			     struct vigil_diag *errors);

/*
 * Once the loop's fds exist: opens the control socket, registers the
 * handlers, adds it to d->epfd with data.ptr = d->ctl. A socket path set
 * explicitly that cannot be opened (in use by a live vigild, not a
 * socket, no permission) is an error: -errno, said in the log. The
 * default one only warns, and vigild runs without a control socket (a
 * user who cannot write to the default directory, or a second vigild
 * beside the system's). 0 otherwise.
 */
int vigil_daemon_ctl_open(struct vigil_daemon *d);

/* Closes the control socket (and removes its file, if still ours).
 * Idempotent. */
void vigil_daemon_ctl_close(struct vigil_daemon *d);

/*
 * What is due at monotonic `now`: idle control clients closed, and, once
 * vigild is ready, the health report when it is due (the first one at
 * once). Returns the next time it has something to do, or 0.
 */
vigil_time_ns vigil_daemon_ctl_tick(struct vigil_daemon *d, vigil_time_ns now);

/* The control socket, the [health] configuration and the last report. */
void vigil_daemon_ctl_free(struct vigil_daemon *d);

/* "running", "backoff", ... of an instance: the state names of the
 * vigil.plugin.state metric ("failed" for one whose plugin could not be
 * probed). */
const char *vigil_daemon_instance_state(const struct vigil_instance *inst);

#endif
