/*
 * selfmon.h - the built-in "vigil" sensor: vigild's own health as readings.
 *
 * [sensor.self]
 * plugin = vigil
 *
 * Per plugin instance (labels instance=SECTION, plugin=NAME):
 *   vigil.plugin.up              1 running, 0 not
 *   vigil.plugin.state           0 down, 1 starting, 2 running, 3 backoff,
 *                                4 failed, 5 misconfigured
 *   vigil.plugin.restarts        worker restarts since vigild started
 *   vigil.plugin.calls, .errors  calls made, calls that failed
 *   vigil.plugin.emitted         readings or conditions it produced
 *   vigil.plugin.latency_p50_ms, latency_p99_ms
 *                                over its last 64 calls (sensors' reads,
 *                                sinks' deliveries, actions' runs)
 * For the whole daemon:
 *   vigil.readings_in, .readings_dropped, .readings_refused, .series,
 *   .incidents_open, .events, .deliveries_failed, .undelivered, .uptime_s
 *
 * It is part of vigild and always runs inside it (isolation = none): it
 * reads the daemon's own tables.
 */
#ifndef VIGIL_SELFMON_H
#define VIGIL_SELFMON_H

#include "loader.h"

struct vigil_daemon;

#define VIGIL_SELFMON_PLUGIN "vigil"

/* The built-in module; never dlclose()d, never freed. */
struct vigil_module *vigil_selfmon_module(void);

/* The daemon whose tables it reads. */
void vigil_selfmon_attach(struct vigil_daemon *d);

#endif
