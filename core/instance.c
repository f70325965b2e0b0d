/*
 * instance.c - plugin instances: checking their configuration against the
 * schemas, starting and stopping them, and the host table plugins call.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instance.h"
#include "log.h"
#include "selfmon.h"
#include "util.h"

/* Its address is different in every thread: see vigil_instance.owner. */
static __thread char this_thread;

/* --check-config: the instance whose plugin's error lines are kept (the
 * first of them, in buf) instead of written; see vigil_instance_tap. */
static struct {
	const struct vigil_instance *inst;
	char *buf;
	size_t size;
} tap;

void vigil_instance_tap(const struct vigil_instance *inst, char *buf,
			size_t size)
{
	tap.inst = buf && size ? inst : NULL;
	tap.buf = buf;
	tap.size = size;
	if (tap.inst)
		buf[0] = '\0';
}

#define END VIGIL_OPTIONS_END
#define SEVERITIES "info|warning|critical"

static const struct vigil_option common_options[] = {
	{"plugin", VIGIL_OPT_STRING, NULL, 0, 0, NULL,
	 "plugin to load (default: the section's NAME)", 0},
	{"enabled", VIGIL_OPT_BOOL, "yes", 0, 0, NULL,
	 "run this instance", 0},
	END,
};

/* The keys of a supervised instance, in every kind; `timeout` has a
 * default per kind. */
#define SUPERVISION(timeout, calls)                                             \
	{"isolation", VIGIL_OPT_ENUM, "process", 0, 0, "process|none",            \
	 "process: run in a supervised worker process, so a crash or hang "       \
	 "cannot take vigild down; none: inside vigild (trusted plugins only)",   \
	 0},                                                                      \
	{"timeout", VIGIL_OPT_DURATION, timeout, (double)(10 * VIGIL_MSEC),       \
	 (double)(3600 * VIGIL_SEC), NULL,                                        \
	 "deadline of one call (" calls ") in a worker, which is killed and "     \
	 "restarted past it",                                                     \
	 0},                                                                      \
	{"memory_limit", VIGIL_OPT_SIZE, "64M", 0, 0, NULL,                       \
	 "most private memory the worker may hold (0: no limit)", 0},             \
	{"worker", VIGIL_OPT_STRING, NULL, 0, 0, NULL,                            \
	 "a name: instances naming the same worker share one worker process, "    \
	 "served one call at a time (less memory; one that crashes or hangs "     \
	 "restarts the others once, then runs alone). Default: a worker of its "  \
	 "own",                                                                   \
	 0},                                                                      \
	{"restart_delay", VIGIL_OPT_DURATION, "100ms", (double)VIGIL_MSEC,        \
	 (double)(3600 * VIGIL_SEC), NULL,                                        \
	 "first wait before restarting a dead worker; doubles per quick death",   \
	 0},                                                                      \
	{"restart_delay_max", VIGIL_OPT_DURATION, "30s", (double)VIGIL_MSEC,      \
	 (double)(86400 * VIGIL_SEC), NULL, "longest wait between restarts", 0},  \
	{"max_restarts", VIGIL_OPT_INT, "5", 0, 64, NULL,                         \
	 "restarts allowed within restart_window before the instance is FAILED",  \
	 0},                                                                      \
	{"restart_window", VIGIL_OPT_DURATION, "60s", (double)VIGIL_SEC,          \
	 (double)(86400 * VIGIL_SEC), NULL, "see max_restarts", 0},               \
	{"failed_retry", VIGIL_OPT_DURATION, "10m", (double)VIGIL_SEC,            \
	 (double)(7 * 86400 * VIGIL_SEC), NULL,                                   \
	 "how long a FAILED instance rests before it is tried again", 0}

static const struct vigil_option sensor_options[] = {
	{"plugin", VIGIL_OPT_STRING, NULL, 0, 0, NULL, NULL, 0},
	{"enabled", VIGIL_OPT_BOOL, "yes", 0, 0, NULL, NULL, 0},
	{"interval", VIGIL_OPT_DURATION, "10s", (double)(10 * VIGIL_MSEC),
	 (double)(86400 * VIGIL_SEC), NULL, "time between two reads", 0},
	SUPERVISION("10s", "init, read"),
	END,
};

static const struct vigil_option rule_options[] = {
	{"plugin", VIGIL_OPT_STRING, NULL, 0, 0, NULL, NULL, 0},
	{"enabled", VIGIL_OPT_BOOL, "yes", 0, 0, NULL, NULL, 0},
	{"match", VIGIL_OPT_STRING, NULL, 0, 0, NULL,
	 "readings to look at: metric glob, optionally {label=value,...}",
	 VIGIL_OPT_REQUIRED},
	SUPERVISION("10s", "init, eval of a batch of readings"),
	END,
};

static const struct vigil_option action_options[] = {
	{"plugin", VIGIL_OPT_STRING, NULL, 0, 0, NULL, NULL, 0},
	{"enabled", VIGIL_OPT_BOOL, "yes", 0, 0, NULL, NULL, 0},
	{"on", VIGIL_OPT_STRING, "*", 0, 0, NULL,
	 "incidents to act on: globs matched against the incident key or "
	 "type, optionally {label=value,...}, space-separated",
	 0},
	{"min_severity", VIGIL_OPT_ENUM, "critical", 0, 0, SEVERITIES,
	 "act only on incidents at least this severe", 0},
	{"attempts", VIGIL_OPT_INT, "3", 1, 100, NULL,
	 "attempts per incident before the remediation has failed (the "
	 "incident is then escalated and remediation_failed is sent)",
	 0},
	{"verify", VIGIL_OPT_DURATION, "60s", 0, (double)(86400 * VIGIL_SEC),
	 NULL,
	 "after an attempt, how long the incident has to clear before the "
	 "next attempt",
	 0},
	{"cooldown", VIGIL_OPT_DURATION, "60s", 0,
	 (double)(86400 * VIGIL_SEC), NULL,
	 "least time between the end of an attempt and the next one", 0},
	{"idle_timeout", VIGIL_OPT_DURATION, "1m", 0,
	 (double)(86400 * VIGIL_SEC), NULL,
	 "with isolation = process, the worker starts when an attempt is "
	 "due and stops after this long without one (0: it runs all the "
	 "time)",
	 0},
	SUPERVISION("30s", "init; run gets 10s more, for the plugin to stop "
		    "what it started at this timeout"),
	END,
};

static const struct vigil_option sink_options[] = {
	{"plugin", VIGIL_OPT_STRING, NULL, 0, 0, NULL, NULL, 0},
	{"enabled", VIGIL_OPT_BOOL, "yes", 0, 0, NULL, NULL, 0},
	{"min_severity", VIGIL_OPT_ENUM, "info", 0, 0, SEVERITIES,
	 "deliver only incident events at least this severe", 0},
	{"events", VIGIL_OPT_BOOL, "yes", 0, 0, NULL,
	 "deliver incident events", 0},
	{"send_resolved", VIGIL_OPT_BOOL, "yes", 0, 0, NULL,
	 "deliver the resolution of incidents too", 0},
	{"match", VIGIL_OPT_STRING, "*", 0, 0, NULL,
	 "incidents to deliver: globs matched against the incident key or "
	 "type, optionally {label=value,...}, space-separated",
	 0},
	{"dedupe", VIGIL_OPT_DURATION, "5m", 0, (double)(86400 * VIGIL_SEC),
	 NULL,
	 "an incident key notified at a severity is not notified again at "
	 "that severity within this window (reminders, a reopening after "
	 "a flap), unless it resolved or went down in between (0: no "
	 "window)",
	 0},
	{"health", VIGIL_OPT_BOOL, "no", 0, 0, NULL,
	 "deliver the periodic health report too", 0},
	{"metrics", VIGIL_OPT_BOOL, "no", 0, 0, NULL,
	 "deliver readings (metrics) too", 0},
	{"metrics_match", VIGIL_OPT_STRING, "*", 0, 0, NULL,
	 "readings to deliver when metrics = yes: metric glob, optionally "
	 "{label=value,...}",
	 0},
	SUPERVISION("30s", "init, deliver, write, flush"),
	END,
};

const struct vigil_option vigil_daemon_options[] = {
	{"plugin_path", VIGIL_OPT_STRING, VIGIL_PLUGIN_DIR, 0, 0, NULL,
	 "colon-separated directories searched for NAME.so", 0},
	{"log_level", VIGIL_OPT_ENUM, "info", 0, 0,
	 "error|warning|notice|info|debug", "least important log lines kept",
	 0},
	{"log_target", VIGIL_OPT_ENUM, "stderr", 0, 0, "stderr|syslog",
	 "where log lines go (stderr reaches the journal under systemd)", 0},
	{"state_dir", VIGIL_OPT_STRING, VIGIL_STATE_DIR, 0, 0, NULL,
	 "directory for state kept across restarts", 0},
	{"reading_queue", VIGIL_OPT_INT, "65536", 16, 16777216, NULL,
	 "readings held between sensors and rules; beyond it the oldest are "
	 "dropped and counted",
	 0},
	{"flush_interval", VIGIL_OPT_DURATION, "1s", (double)(10 * VIGIL_MSEC),
	 (double)(3600 * VIGIL_SEC), NULL, "how often sinks are flushed", 0},
	{"journal_sync", VIGIL_OPT_ENUM, "always", 0, 0, "always|interval|never",
	 "when the journal of incidents, silences and undelivered events "
	 "reaches the disk: always (before vigild waits again), interval, "
	 "never (the kernel's writeback; survives kill -9, not power loss)",
	 0},
	{"journal_sync_interval", VIGIL_OPT_DURATION, "1s",
	 (double)(10 * VIGIL_MSEC), (double)(3600 * VIGIL_SEC), NULL,
	 "journal_sync = interval: the longest unsynced time", 0},
	{"control_socket", VIGIL_OPT_STRING, VIGIL_CONTROL_SOCKET, 0, 0, NULL,
	 "the UNIX socket vigilctl talks to (set here, failing to open it "
	 "stops vigild; the default only warns)",
	 0},
	{"control_group", VIGIL_OPT_STRING, NULL, 0, 0, NULL,
	 "group whose members may use the control socket, besides root and "
	 "vigild's own user (default: none)",
	 0},
	END,
};

const struct vigil_option vigil_incidents_options[] = {
	{"history_max", VIGIL_OPT_INT, "100", 0, 1000000, NULL,
	 "resolved incidents kept, the newest", 0},
	{"history_max_age", VIGIL_OPT_DURATION, "7d", 0, 0, NULL,
	 "resolved incidents older than this are dropped (0: no limit)", 0},
	{"repeat_interval", VIGIL_OPT_DURATION, "1h", 0, 0, NULL,
	 "reminders of open incidents nobody acknowledged (0: none)", 0},
	{"flap_window", VIGIL_OPT_INT, "20", 0, 32, NULL,
	 "state observations weighed for flapping (0: no flap detection)", 0},
	{"flap_high", VIGIL_OPT_DOUBLE, "30", 0, 100, NULL,
	 "percent state change above which a key is flapping", 0},
	{"flap_low", VIGIL_OPT_DOUBLE, "25", 0, 100, NULL,
	 "percent state change at or below which flapping ends", 0},
	{"flap_interval", VIGIL_OPT_DURATION, "1m", (double)VIGIL_SEC, 0, NULL,
	 "a key without a condition is observed (its state held) this often",
	 0},
	{"restore_grace", VIGIL_OPT_DURATION, "5m", 0, 0, NULL,
	 "after a restart, an open incident whose condition is not seen "
	 "again within this is resolved (0: never)",
	 0},
	END,
};

const struct vigil_option *vigil_core_options(enum vigil_kind kind)
{
	switch (kind) {
	case VIGIL_KIND_SENSOR: return sensor_options;
	case VIGIL_KIND_RULE: return rule_options;
	case VIGIL_KIND_ACTION: return action_options;
	case VIGIL_KIND_SINK: return sink_options;
	}
	return common_options;
}

static const struct vigil_option *schema_find(const struct vigil_option *s,
					      const char *key)
{
	for (; s && s->name; s++)
		if (strcmp(s->name, key) == 0)
			return s;
	return NULL;
}

/* "did you mean 'interval'?" for a near miss, else the list of keys. */
static void key_hint(struct vigil_buf *b, const char *key,
		     const struct vigil_option *a, const struct vigil_option *c)
{
	const struct vigil_option *best = NULL;
	size_t best_d = 3;
	const struct vigil_option *lists[] = {a, c};

	for (size_t l = 0; l < 2; l++) {
		for (const struct vigil_option *o = lists[l]; o && o->name; o++) {
			size_t dist = vigil_edit_distance(key, o->name);
			if (dist < best_d) {
				best_d = dist;
				best = o;
			}
		}
	}
	if (best) {
		vigil_buf_printf(b, "did you mean '%s'?", best->name);
		return;
	}
	vigil_buf_puts(b, "known keys:");
	for (size_t l = 0; l < 2; l++)
		for (const struct vigil_option *o = lists[l]; o && o->name; o++)
			if (l == 0 || !schema_find(a, o->name))
				vigil_buf_printf(b, " %s", o->name);
}

size_t vigil_options_bind(const struct vigil_conf *conf,
			  const struct vigil_conf_section *sec,
			  const struct vigil_option *a,
			  const struct vigil_option *b,
			  struct vigil_optslot **slots, size_t *n_slots,
			  struct vigil_diag *d)
{
	const struct vigil_option *lists[] = {a, b};
	size_t errors = 0, n = 0, cap = 0;
	struct vigil_optslot *s = NULL;

	/* Every key in the section must be known. */
	for (size_t i = 0; i < sec->n; i++) {
		const struct vigil_conf_entry *e = &sec->entries[i];
		struct vigil_buf hint = {0};

		if (schema_find(a, e->key) || schema_find(b, e->key))
			continue;
		key_hint(&hint, e->key, a, b);
		vigil_diag_add(d, "%s:%d: [%s] unknown key '%s'; %s", conf->path,
			       e->line, sec->name, e->key, hint.data);
		vigil_buf_free(&hint);
		errors++;
	}

	/* Every schema entry gets a slot; the first list wins a name both
	 * declare (the core's keys come first). */
	for (size_t l = 0; l < 2; l++) {
		for (const struct vigil_option *o = lists[l]; o && o->name; o++) {
			const struct vigil_conf_entry *e;
			struct vigil_optslot *slot;
			char why[256];

			if (l == 1 && schema_find(a, o->name))
				continue;
			vigil_grow((void **)&s, &cap, n + 1, sizeof(*s));
			slot = &s[n++];
			memset(slot, 0, sizeof(*slot));
			slot->opt = o;
			e = vigil_conf_entry(sec, o->name);
			if (e) {
				slot->value = e->value;
				slot->line = e->line;
			} else {
				slot->value = o->def;
			}
			if (slot->value)
				slot->value = vigil_xstrdup(slot->value);
			if (!slot->value) {
				if (o->flags & VIGIL_OPT_REQUIRED) {
					vigil_diag_add(
						d,
						"%s:%d: [%s] required key '%s' "
						"is missing (%s)",
						conf->path, sec->line, sec->name,
						o->name, o->help ? o->help : "");
					errors++;
				}
				continue;
			}
			if (vigil_option_parse(o, slot->value, &slot->v, why,
					       sizeof(why)) == 0)
				continue;
			if (!e) {
				vigil_diag_add(d,
					       "%s:%d: [%s] the plugin's default "
					       "'%s' for '%s' is invalid: %s",
					       conf->path, sec->line, sec->name,
					       slot->value, o->name, why);
			} else {
				const char *tip =
					strstr(e->value, " #") ?
						" (comments on a value's line "
						"start with ';')" :
						"";
				vigil_diag_add(d, "%s:%d: [%s] %s = '%s': %s%s",
					       conf->path, e->line, sec->name,
					       o->name, e->value, why, tip);
			}
			free((char *)slot->value);
			slot->value = NULL;
			errors++;
		}
	}
	*slots = s;
	*n_slots = n;
	return errors;
}

void vigil_optslots_free(struct vigil_optslot *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free((char *)s[i].value);
	free(s);
}

const struct vigil_optslot *vigil_optslot_find(const struct vigil_optslot *s,
					       size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s[i].opt->name, key) == 0)
			return s[i].value ? &s[i] : NULL;
	return NULL;
}

static const struct vigil_optslot *slot(const struct vigil_instance *inst,
					const char *key)
{
	return vigil_optslot_find(inst->opts, inst->n_opts, key);
}

/* Reads the core's per-kind settings out of the bound slots. */
static size_t apply_core_settings(struct vigil_instance *inst,
				  const struct vigil_conf *conf,
				  struct vigil_diag *d)
{
	const struct vigil_optslot *s;
	char why[256];
	size_t errors = 0;

	s = slot(inst, "enabled");
	inst->enabled = s ? (int)s->v.i : 1;
	if ((s = slot(inst, "interval")))
		inst->interval = s->v.i;
	if ((s = slot(inst, "isolation")))
		inst->isolated = s->v.i == 0;
	if ((s = slot(inst, "timeout")))
		inst->timeout = s->v.i;
	if ((s = slot(inst, "memory_limit")))
		inst->memory_limit = s->v.u;
	if ((s = slot(inst, "worker")) && s->value) {
		if (!vigil_valid_name(s->value) || strlen(s->value) > 64) {
			vigil_diag_add(d, "%s:%d: [%s] worker = '%s': expected "
				       "a name (letters, digits, '_' and '-', "
				       "at most 64)",
				       conf->path, s->line ? s->line : inst->line,
				       inst->section, s->value);
			errors++;
		} else if (inst->kind == VIGIL_KIND_ACTION) {
			vigil_diag_add(d, "%s:%d: [%s] worker = %s: an action "
				       "cannot share a worker (its worker starts "
				       "for an attempt and stops after "
				       "idle_timeout); expected no worker key",
				       conf->path, s->line ? s->line : inst->line,
				       inst->section, s->value);
			errors++;
		} else {
			inst->worker_group = s->value;
		}
	}
	if ((s = slot(inst, "restart_delay")))
		inst->restart_delay = s->v.i;
	if ((s = slot(inst, "restart_delay_max")))
		inst->restart_delay_max = s->v.i;
	if ((s = slot(inst, "max_restarts")))
		inst->max_restarts = (unsigned)s->v.i;
	if ((s = slot(inst, "restart_window")))
		inst->restart_window = s->v.i;
	if ((s = slot(inst, "failed_retry")))
		inst->failed_retry = s->v.i;
	if (inst->restart_delay > inst->restart_delay_max) {
		const struct vigil_optslot *max = slot(inst, "restart_delay_max");

		s = slot(inst, "restart_delay");
		vigil_diag_add(d, "%s:%d: [%s] restart_delay = %s is longer "
			       "than restart_delay_max = %s; expected "
			       "restart_delay <= restart_delay_max",
			       conf->path, s && s->line ? s->line : inst->line,
			       inst->section, s ? s->value : "?",
			       max ? max->value : "?");
		errors++;
	}
	/* A worker holds some 100 kB of its own before its plugin does
	 * anything: less than 1 MiB can only restart it for ever. */
	if (inst->memory_limit && inst->memory_limit < (1u << 20) &&
	    (s = slot(inst, "memory_limit"))) {
		vigil_diag_add(d, "%s:%d: [%s] memory_limit = '%s': below 1M, "
			       "which no worker fits in; expected 0 (no "
			       "limit) or at least 1M",
			       conf->path, s->line ? s->line : inst->line,
			       inst->section, s->value);
		errors++;
	}
	if ((s = slot(inst, "attempts")))
		inst->remedy.attempts = (unsigned)s->v.i;
	if ((s = slot(inst, "verify")))
		inst->remedy.verify = s->v.i;
	if ((s = slot(inst, "cooldown")))
		inst->remedy.cooldown = s->v.i;
	if ((s = slot(inst, "idle_timeout")))
		inst->idle_timeout = s->v.i;
	if ((s = slot(inst, "min_severity")))
		inst->min_severity = (enum vigil_severity)s->v.i;
	if ((s = slot(inst, "events")))
		inst->events = (int)s->v.i;
	if ((s = slot(inst, "metrics")))
		inst->metrics = (int)s->v.i;
	if ((s = slot(inst, "send_resolved")))
		inst->send_resolved = (int)s->v.i;
	if ((s = slot(inst, "dedupe")))
		inst->dedupe = s->v.i;
	if ((s = slot(inst, "health")))
		inst->health = (int)s->v.i;
	if (inst->kind == VIGIL_KIND_SINK && (s = slot(inst, "match")) &&
	    vigil_selector_parse(s->value, &inst->on, why, sizeof(why)) < 0) {
		vigil_diag_add(d, "%s:%d: [%s] %s = '%s': %s", conf->path,
			       s->line ? s->line : inst->line, inst->section,
			       s->opt->name, s->value, why);
		errors++;
	}

	s = slot(inst, inst->kind == VIGIL_KIND_SINK ? "metrics_match" :
			inst->kind == VIGIL_KIND_RULE ? "match" : "on");
	if (s && inst->kind != VIGIL_KIND_SENSOR) {
		struct vigil_selector *sel =
			inst->kind == VIGIL_KIND_ACTION ? &inst->on : &inst->match;
		if (vigil_selector_parse(s->value, sel, why, sizeof(why)) < 0 ||
		    (sel == &inst->match &&
		     vigil_selector_check_metrics(sel, why, sizeof(why)) < 0)) {
			vigil_diag_add(d, "%s:%d: [%s] %s = '%s': %s", conf->path,
				       s->line ? s->line : inst->line,
				       inst->section, s->opt->name, s->value, why);
			errors++;
		}
	}
	return errors;
}

/* Keys only a worker can honour, set in the section of an instance that
 * runs inside vigild: said, so nobody counts on them. */
static void warn_worker_only(const struct vigil_instance *inst,
			     const struct vigil_conf *conf,
			     struct vigil_diag *warnings)
{
	static const struct {
		const char *key, *why;
	} keys[] = {
		{"timeout", "a call inside vigild cannot be cut short"},
		{"memory_limit", "only a worker's memory is watched"},
		{"idle_timeout", "the action stays loaded in vigild"},
		{"worker", "there is no worker to share"},
	};

	for (size_t k = 0; k < VIGIL_ARRAY_SIZE(keys); k++) {
		const struct vigil_optslot *s = slot(inst, keys[k].key);

		if (s && s->line)
			vigil_diag_add(warnings,
				       "%s:%d: [%s] %s has no effect with "
				       "isolation = none: %s",
				       conf->path, s->line, inst->section,
				       keys[k].key, keys[k].why);
	}
}

/* A value that parsed, but holds " #": a comment to whoever wrote it,
 * part of the value to inih (only " ;" starts a comment after a value):
 * `path = events.jsonl # main log` names a file "events.jsonl # main
 * log". (A value that does not parse gets the same tip in its error.) */
static void warn_hash_comment(const struct vigil_instance *inst,
			      const struct vigil_conf *conf,
			      struct vigil_diag *warnings)
{
	for (size_t i = 0; i < inst->n_opts; i++) {
		const struct vigil_optslot *s = &inst->opts[i];
		const char *h = s->value && s->line ? strstr(s->value, " #") :
						      NULL;

		if (h)
			vigil_diag_add(warnings,
				       "%s:%d: [%s] %s = '%s': '%s' is part of "
				       "the value; a comment after a value "
				       "starts with ' ;'",
				       conf->path, s->line, inst->section,
				       s->opt->name, s->value, h + 1);
	}
}

struct vigil_instance *vigil_instance_new(const struct vigil_conf *conf,
					  const struct vigil_conf_section *sec,
					  struct vigil_loader *loader,
					  struct vigil_diag *errors,
					  struct vigil_diag *warnings)
{
	struct vigil_instance *inst;
	const struct vigil_conf_entry *pe, *ee, *ie;
	int isolated, rc;
	const char *dot = strchr(sec->name, '.'), *plugin;
	char err[1024], kindbuf[16];
	size_t nerr = 0;
	int kind, enabled = 1;

	if (!dot || (size_t)(dot - sec->name) >= sizeof(kindbuf))
		kind = 0;
	else {
		memcpy(kindbuf, sec->name, (size_t)(dot - sec->name));
		kindbuf[dot - sec->name] = '\0';
		kind = vigil_kind_parse(kindbuf);
	}
	if (!kind) {
		vigil_diag_add(errors,
			       "%s:%d: unknown section [%s]; expected [daemon], "
			       "[incidents], [health], [silence.NAME], "
			       "[sensor.NAME], [rule.NAME], [action.NAME] or "
			       "[sink.NAME]",
			       conf->path, sec->line, sec->name);
		return NULL;
	}
	if (!vigil_valid_name(dot + 1)) {
		vigil_diag_add(errors,
			       "%s:%d: section [%s]: instance name '%s' must be "
			       "letters, digits, '_' or '-'",
			       conf->path, sec->line, sec->name, dot + 1);
		return NULL;
	}

	pe = vigil_conf_entry(sec, "plugin");
	plugin = pe ? pe->value : dot + 1;
	ee = vigil_conf_entry(sec, "enabled");
	if (ee)
		vigil_parse_bool(ee->value, &enabled, NULL, 0);

	inst = vigil_xcalloc(1, sizeof(*inst));
	inst->kind = (enum vigil_kind)kind;
	inst->section = vigil_xstrdup(sec->name);
	inst->name = inst->section + (dot - sec->name) + 1;
	inst->line = sec->line;
	inst->ctx.inst = inst;

	/* A plugin that will run in a worker is never loaded into vigild:
	 * it is probed in a child, so even its constructor cannot hurt. */
	ie = vigil_conf_entry(sec, "isolation");
	isolated = !(ie && strcmp(ie->value, "none") == 0);
	if (inst->kind == VIGIL_KIND_SENSOR &&
	    strcmp(plugin, VIGIL_SELFMON_PLUGIN) == 0) {
		/* Built in: it reads the daemon's tables, so it runs there. */
		isolated = 0;
		inst->mod = vigil_selfmon_module();
		rc = 0;
	} else {
		rc = (isolated ? vigil_loader_probe : vigil_loader_open)(
			loader, plugin, inst->kind, &inst->mod, err,
			sizeof(err));
	}
	if (rc == -ECHILD && enabled) {
		inst->broken = vigil_xstrdup(err);
		inst->broken_plugin = vigil_xstrdup(plugin);
		return inst;
	}
	if (rc < 0) {
		/* A disabled section may name hardware this build skipped. */
		struct vigil_diag *to = enabled ? errors : warnings;
		vigil_diag_add(to, "%s:%d: [%s] %s%s", conf->path,
			       pe ? pe->line : sec->line, sec->name, err,
			       enabled ? "" : " (section is disabled)");
		vigil_instance_free(inst);
		return NULL;
	}
	inst->desc = &inst->mod->desc;

	nerr += vigil_options_bind(conf, sec, vigil_core_options(inst->kind),
				   inst->desc->options, &inst->opts,
				   &inst->n_opts, errors);
	nerr += apply_core_settings(inst, conf, errors);
	if (!isolated)
		inst->isolated = 0;
	if (!inst->isolated)
		warn_worker_only(inst, conf, warnings);
	warn_hash_comment(inst, conf, warnings);
	if (nerr) {
		vigil_instance_free(inst);
		return NULL;
	}
	return inst;
}

int vigil_instance_start(struct vigil_instance *inst,
			 const struct vigil_emit_ops *emit, void *user)
{
	int rc;

	inst->emit = emit;
	inst->emit_user = user;
	inst->owner = &this_thread;
	inst->state = NULL;
	rc = inst->desc->init(&inst->ctx, &vigil_host_table, &inst->state);
	if (rc < 0) {
		inst->fatal = rc == VIGIL_EFATAL;
		/* Loud the first time; a retry failing the same way is not
		 * news; a check says it in its own message. */
		if (tap.inst != inst)
			vigil_log(inst->init_failures ? VIGIL_LOG_INFO :
							VIGIL_LOG_ERR,
				  inst->section, "init failed: %s%s",
				  rc == VIGIL_EFATAL ? "misconfigured" :
						       strerror(-rc),
				  rc == VIGIL_EFATAL ? " (not retried)" : "");
		inst->state = NULL;
		return rc;
	}
	inst->started = 1;
	return 0;
}

void vigil_instance_stop(struct vigil_instance *inst)
{
	if (!inst->started)
		return;
	if (inst->desc->fini)
		inst->desc->fini(inst->state);
	inst->state = NULL;
	inst->started = 0;
}

void vigil_instance_latency(struct vigil_instance *inst, vigil_time_ns ns)
{
	inst->lat_ms[inst->lat_next] = (float)((double)ns / 1e6);
	inst->lat_next = (inst->lat_next + 1) % VIGIL_ARRAY_SIZE(inst->lat_ms);
	if (inst->lat_n < VIGIL_ARRAY_SIZE(inst->lat_ms))
		inst->lat_n++;
}

static int float_cmp(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

double vigil_instance_latency_q(const struct vigil_instance *inst, double q)
{
	float v[VIGIL_ARRAY_SIZE(inst->lat_ms)];
	size_t idx;

	if (!inst->lat_n)
		return -1;
	memcpy(v, inst->lat_ms, inst->lat_n * sizeof(v[0]));
	qsort(v, inst->lat_n, sizeof(v[0]), float_cmp);
	idx = (size_t)(q * (double)(inst->lat_n - 1) + 0.5);
	return v[idx];
}

void vigil_instance_free(struct vigil_instance *inst)
{
	if (!inst)
		return;
	vigil_instance_stop(inst);
	vigil_selector_free(&inst->match);
	vigil_selector_free(&inst->on);
	vigil_optslots_free(inst->opts, inst->n_opts);
	free(inst->broken);
	free(inst->broken_plugin);
	free(inst->section);
	free(inst);
}

/* ------------------------------------------------------------- the host */

/* The instance behind ctx; NULL for a NULL ctx (a plugin's bug: every
 * host function answers it as it would a missing value, never crashes). */
static struct vigil_instance *ctx_inst(struct vigil_ctx *ctx)
{
	return ctx ? ctx->inst : NULL;
}

/* The instance of an emit_* call, or NULL when the call must be refused:
 * no instance, or a thread other than the one running the instance's
 * callbacks. A plugin that hands readings over from a thread of its own
 * would race the core's pipeline (isolation = none) or the worker's
 * batch; it hears -EPERM, and the log says so once. */
static struct vigil_instance *emitter(struct vigil_ctx *ctx, const char *what)
{
	struct vigil_instance *inst = ctx_inst(ctx);

	if (!inst || inst->owner == &this_thread)
		return inst;
	if (!__atomic_exchange_n(&inst->foreign_said, 1, __ATOMIC_RELAXED))
		vigil_log(VIGIL_LOG_WARNING, inst->section,
			  "%s from a thread the plugin started: refused "
			  "(host functions are for the callback that is "
			  "running, on its thread)",
			  what);
	return NULL;
}

static void host_vlog(struct vigil_ctx *ctx, int level, const char *fmt,
		      va_list ap)
{
	struct vigil_instance *inst = ctx_inst(ctx);

	if (!fmt)
		return;
	if (inst && inst == tap.inst && level <= VIGIL_LOG_ERR) {
		if (!tap.buf[0])
			vigil_log_format(tap.buf, tap.size, NULL, fmt, ap);
		return;
	}
	vigil_logv(level, inst ? inst->section : NULL, fmt, ap);
}

static void host_log(struct vigil_ctx *ctx, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	host_vlog(ctx, level, fmt, ap);
	va_end(ap);
}

static int host_log_enabled(struct vigil_ctx *ctx, int level)
{
	return vigil_log_enabled(level);
}

static int host_emit_reading(struct vigil_ctx *ctx,
			     const struct vigil_reading *r)
{
	struct vigil_instance *inst = emitter(ctx, "emit_reading");

	if (!ctx)
		return -EINVAL;
	if (!inst || !r || !inst->emit || !inst->emit->reading)
		return -EPERM;
	if (r->n_labels > VIGIL_READING_LABELS_MAX) {
		if (inst->errors++ == 0)
			vigil_log(VIGIL_LOG_WARNING, inst->section,
				  "reading %s refused: %zu labels, at most %d",
				  r->metric ? r->metric : "(null)", r->n_labels,
				  VIGIL_READING_LABELS_MAX);
		return -EINVAL;
	}
	if ((unsigned)r->quality > VIGIL_QUALITY_BAD) {
		if (inst->errors++ == 0)
			vigil_log(VIGIL_LOG_WARNING, inst->section,
				  "reading %s refused: quality %d is not good "
				  "(0), uncertain (1) or bad (2)",
				  r->metric ? r->metric : "(null)",
				  (int)r->quality);
		return -EINVAL;
	}
	return inst->emit->reading(inst->emit_user, inst, r);
}

static int host_emit_condition(struct vigil_ctx *ctx,
			       const struct vigil_condition *c)
{
	struct vigil_instance *inst = emitter(ctx, "emit_condition");
	struct vigil_condition cut;
	char why[160], *message = NULL;
	size_t n;
	int rc;

	if (!ctx)
		return -EINVAL;
	if (!inst || !c || !inst->emit || !inst->emit->condition)
		return -EPERM;
	/* The same checks inside vigild and in a worker (whose frames the
	 * core would refuse, killing it). */
	if (vigil_condition_bad(c, why, sizeof(why)) < 0) {
		if (inst->errors++ == 0)
			vigil_log(VIGIL_LOG_WARNING, inst->section,
				  "condition refused: %s", why);
		return -EINVAL;
	}
	if (c->message &&
	    (n = vigil_condition_message_len(c->message)) < strlen(c->message)) {
		cut = *c;
		message = vigil_xmalloc(n + 4);
		memcpy(message, c->message, n);
		memcpy(message + n, "...", 4);
		cut.message = message;
		c = &cut;
	}
	rc = inst->emit->condition(inst->emit_user, inst, c);
	free(message);
	return rc;
}

/* The slot of `key`; NULL for an unknown key, a NULL key or ctx. */
static const struct vigil_optslot *ctx_slot(struct vigil_ctx *ctx,
					    const char *key)
{
	struct vigil_instance *inst = ctx_inst(ctx);

	return inst && key ? slot(inst, key) : NULL;
}

static const struct vigil_optslot *typed(struct vigil_ctx *ctx, const char *key,
					 enum vigil_option_type t)
{
	const struct vigil_optslot *s = ctx_slot(ctx, key);

	if (!s)
		return NULL;
	if (s->opt->type != t && !(t == VIGIL_OPT_INT && s->opt->type == VIGIL_OPT_ENUM)) {
		vigil_log(VIGIL_LOG_WARNING, ctx_inst(ctx)->section,
			  "plugin reads option '%s' with the wrong type", key);
		return NULL;
	}
	return s;
}

static const char *host_config_string(struct vigil_ctx *ctx, const char *key)
{
	const struct vigil_optslot *s = ctx_slot(ctx, key);
	return s ? s->value : NULL;
}

static int64_t host_config_int(struct vigil_ctx *ctx, const char *key,
			       int64_t fallback)
{
	const struct vigil_optslot *s = typed(ctx, key, VIGIL_OPT_INT);
	return s ? s->v.i : fallback;
}

static double host_config_double(struct vigil_ctx *ctx, const char *key,
				 double fallback)
{
	const struct vigil_optslot *s = ctx_slot(ctx, key);

	if (!s)
		return fallback;
	if (s->opt->type == VIGIL_OPT_INT)
		return (double)s->v.i;
	s = typed(ctx, key, VIGIL_OPT_DOUBLE);
	return s ? s->v.d : fallback;
}

static int host_config_bool(struct vigil_ctx *ctx, const char *key,
			    int fallback)
{
	const struct vigil_optslot *s = typed(ctx, key, VIGIL_OPT_BOOL);
	return s ? (int)s->v.i : fallback;
}

static vigil_time_ns host_config_duration(struct vigil_ctx *ctx,
					  const char *key,
					  vigil_time_ns fallback)
{
	const struct vigil_optslot *s = typed(ctx, key, VIGIL_OPT_DURATION);
	return s ? s->v.i : fallback;
}

static uint64_t host_config_size(struct vigil_ctx *ctx, const char *key,
				 uint64_t fallback)
{
	const struct vigil_optslot *s = typed(ctx, key, VIGIL_OPT_SIZE);
	return s ? s->v.u : fallback;
}

static vigil_time_ns host_now(struct vigil_ctx *ctx)
{
	return vigil_now();
}

static vigil_time_ns host_monotonic(struct vigil_ctx *ctx)
{
	return vigil_monotonic();
}

static const char *host_section_name(struct vigil_ctx *ctx)
{
	struct vigil_instance *inst = ctx_inst(ctx);

	return inst ? inst->section : "";
}

static const char *host_instance_name(struct vigil_ctx *ctx)
{
	struct vigil_instance *inst = ctx_inst(ctx);

	return inst ? inst->name : "";
}

static const char *state_dir_path = VIGIL_STATE_DIR;

void vigil_host_set_state_dir(const char *dir)
{
	state_dir_path = dir;
}

static const char *host_state_dir(struct vigil_ctx *ctx)
{
	return state_dir_path;
}

const struct vigil_host vigil_host_table = {
	.size = sizeof(struct vigil_host),
	.abi_major = VIGIL_ABI_MAJOR,
	.abi_minor = VIGIL_ABI_MINOR,
	.log = host_log,
	.log_enabled = host_log_enabled,
	.emit_reading = host_emit_reading,
	.emit_condition = host_emit_condition,
	.config_string = host_config_string,
	.config_int = host_config_int,
	.config_double = host_config_double,
	.config_bool = host_config_bool,
	.config_duration = host_config_duration,
	.config_size = host_config_size,
	.now = host_now,
	.monotonic = host_monotonic,
	.section_name = host_section_name,
	.instance_name = host_instance_name,
	.state_dir = host_state_dir,
	.vlog = host_vlog,
};
