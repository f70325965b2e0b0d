/*
 * control_json.h - incidents and their parts as JSON, for control replies.
 *
 * Writers for a yajl_gen that the control server hands its handlers. Every
 * one is void: a failure puts the generator in its error state, every later
 * call fails too, and the server turns the reply into an internal error.
 *
 * One representation throughout (docs/control-protocol.md):
 *
 *   - times are RFC 3339 strings in UTC with milliseconds,
 *     "2026-11-24T10:01:02.123Z"; a time that is not set (0) is null;
 *   - durations are integers of milliseconds, in keys ending "_ms", or of
 *     seconds in keys ending "_s";
 *   - ids and counts are integers; values are numbers, null when not
 *     finite (JSON has no NaN);
 *   - strings are valid UTF-8: a byte that does not start a well-formed
 *     sequence becomes '?', so a plugin's or command's output never makes
 *     a reply unparsable.
 */
#ifndef VIGIL_CONTROL_JSON_H
#define VIGIL_CONTROL_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_gen.h>

#include <vigil/plugin.h>

#include "incident.h"
#include "silence.h"

void vigil_json_key(yajl_gen g, const char *key);
void vigil_json_str(yajl_gen g, const char *s); /* NULL: null */
void vigil_json_u64(yajl_gen g, uint64_t v);
void vigil_json_i64(yajl_gen g, int64_t v);
void vigil_json_double(yajl_gen g, double v);
void vigil_json_bool(yajl_gen g, int v);
void vigil_json_null(yajl_gen g);
void vigil_json_time(yajl_gen g, vigil_time_ns t); /* wall clock */

/* "key": value, the common case. */
void vigil_json_kstr(yajl_gen g, const char *key, const char *s);
void vigil_json_ku64(yajl_gen g, const char *key, uint64_t v);
void vigil_json_ki64(yajl_gen g, const char *key, int64_t v);
void vigil_json_kbool(yajl_gen g, const char *key, int v);
void vigil_json_ktime(yajl_gen g, const char *key, vigil_time_ns t);

/* {"k":"v",...} */
void vigil_json_labels(yajl_gen g, const struct vigil_label *l, size_t n);

/* {"action","start","duration_ms","exit_status","outcome","output"} */
void vigil_json_action(yajl_gen g, const struct vigil_action_rec *a);

/*
 * {"id","key","type","severity","peak","status","message","value",
 *  "labels","created","updated","resolved","occurrences","action_count",
 *  "escalation","flapping","silenced","acked","acked_by","comment"}
 * and, with `with_actions`, "actions":[...] (show, ack, resolve).
 */
void vigil_json_incident(yajl_gen g, const struct vigil_incident *inc,
			 int with_actions);

/* "incidents":[...]: the open incidents and, with `all`, the resolved ones
 * still in history; by id, oldest first. Without actions. */
void vigil_json_incident_list(yajl_gen g, const struct vigil_incidents *im,
			      int all);

/* {"id","match","start","end","comment","created_by","created","name"}:
 * one silence (silence.add, silence.list); "name" is that of its
 * [silence.NAME] section, null for one added by vigilctl. */
void vigil_json_silence(yajl_gen g, const struct vigil_silence *s);

/* One entry of status's "plugins", from what the daemon knows. */
struct vigil_json_plugin {
	const char *section;   /* "sensor.cpu" */
	const char *plugin;    /* "cpu" */
	const char *kind;      /* "sensor", "rule", "action", "sink" */
	const char *state;     /* "running", "backoff", "failed", ... */
	uint64_t restarts;
	const char *last_exit; /* why its worker last died; NULL: never */
	const char *isolation; /* "process" or "none" */
	uint64_t calls, errors; /* plugin calls made, and those that failed */
	uint64_t queue_drops;  /* readings dropped from its worker's queue */
	const char *worker;    /* the worker it shares (`worker =`), or NULL */
};
void vigil_json_plugin(yajl_gen g, const struct vigil_json_plugin *p);

#endif
