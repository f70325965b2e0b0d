/*
 * daemon_ctl.c - vigild's control socket handlers and its health report.
 *
 * The control server (control.c) does the socket, the framing and the
 * permissions; the handlers here turn a request into what the pipeline
 * offers (acks, manual resolution, silences, all journaled there) and
 * into replies (control_json.c). They run in the loop, between two turns
 * of the pipeline, and never block: each does a bounded amount of work on
 * in-memory state (the one exception being the user-name lookup of an
 * ack's author, which reads /etc/passwd or asks NSS).
 *
 * The health report (health.c) is collected from [health] root every
 * [health] interval once vigild is ready, the first one at once. It is
 * published as a HEALTH event to the sinks with `health = yes`, and kept
 * for `vigilctl health`.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "control_json.h"
#include "daemon.h"
#include "daemon_ctl.h"
#include "health.h"
#include "log.h"
#include "parse.h"
#include "util.h"
#include "worker.h"

#define LOG_PREFIX "control"

/* ------------------------------------------------------------- loading */

/* A group name, or failing that a number, to a gid. 0, or -ENOENT. */
static int lookup_group(const char *name, gid_t *gid)
{
	struct group gr, *res = NULL;
	char buf[16384];
	char *end;
	unsigned long n;

	if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) == 0 && res) {
		*gid = gr.gr_gid;
		return 0;
	}
	errno = 0;
	n = strtoul(name, &end, 10);
	if (name[0] >= '0' && name[0] <= '9' && !*end && !errno &&
	    n < (unsigned long)(gid_t)-1) {
		*gid = (gid_t)n;
		return 0;
	}
	return -ENOENT;
}

size_t vigil_daemon_ctl_load(struct vigil_daemon *d,
			     struct vigil_diag *errors)
{
	const struct vigil_optslot *s;
	const struct vigil_conf_section *hs;
	struct sockaddr_un sa;
	size_t before = errors->n;
	const char *path;
	int line = 0;

	d->control_gid = (gid_t)-1;
	s = vigil_optslot_find(d->dopts, d->n_dopts, "control_socket");
	if (d->opts.control_socket) {
		path = d->opts.control_socket;
		d->control_explicit = 1;
	} else {
		path = s && s->value ? s->value : VIGIL_CONTROL_SOCKET;
		line = s ? s->line : 0;
		d->control_explicit = line > 0;
	}
	d->control_path = vigil_xstrdup(path);
	if (path[0] != '/' || strlen(path) >= sizeof(sa.sun_path)) {
		const char *why = path[0] != '/' ?
					  "expected an absolute path like "
					  "/run/vigil/control.sock" :
					  "too long for a UNIX socket";
		if (d->opts.control_socket)
			vigil_diag_add(errors, "--control-socket '%s': %s%s",
				       path, why,
				       path[0] != '/' ? "" : " (at most 107 "
				       "bytes)");
		else
			vigil_diag_add(errors, "%s:%d: [daemon] "
				       "control_socket = '%s': %s%s",
				       d->conf.path, line, path, why,
				       path[0] != '/' ? "" : " (at most 107 "
				       "bytes)");
	}

	s = vigil_optslot_find(d->dopts, d->n_dopts, "control_group");
	if (s && s->value && *s->value &&
	    lookup_group(s->value, &d->control_gid) < 0)
		vigil_diag_add(errors, "%s:%d: [daemon] control_group = '%s': "
			       "no such group (getent group %s finds nothing)",
			       d->conf.path, s->line, s->value, s->value);

	hs = vigil_conf_section(&d->conf, "health");
	vigil_health_config(&d->conf, hs, &d->health, errors);
	return errors->n - before;
}

/* ---------------------------------------------------------- instances */

const char *vigil_daemon_instance_state(const struct vigil_instance *inst)
{
	if (inst->broken)
		return "failed";
	if (inst->worker)
		return vigil_worker_state_name(inst->worker->state);
	if (inst->started)
		return "running";
	if (inst->fatal)
		return "misconfigured";
	return inst->init_failures ? "backoff" : "down";
}

static int state_failed(const char *state)
{
	return strcmp(state, "failed") == 0 ||
	       strcmp(state, "misconfigured") == 0;
}

/* Events held for sink `inst` (its retry queue). */
static uint64_t sink_undelivered(const struct vigil_daemon *d,
				 const struct vigil_instance *inst)
{
	if (inst->kind != VIGIL_KIND_SINK || !d->pl.retry || inst->index < 0 ||
	    (size_t)inst->index >= d->pl.n_sinks ||
	    d->pl.sinks[inst->index] != inst)
		return 0;
	return d->pl.retry[inst->index].len;
}

/* -------------------------------------------------------------- health */

static void health_collect(struct vigil_daemon *d, struct vigil_health *h)
{
	size_t n = d->n_all + d->n_broken;
	struct vigil_health_plugin *p = vigil_xcalloc(n + 1, sizeof(*p));
	struct vigil_health_input in = {0};
	size_t k = 0;

	for (size_t i = 0; i < d->n_all; i++, k++) {
		p[k].section = d->all[i]->section;
		p[k].state = vigil_daemon_instance_state(d->all[i]);
		p[k].failed = state_failed(p[k].state);
		p[k].undelivered = sink_undelivered(d, d->all[i]);
	}
	for (size_t i = 0; i < d->n_broken; i++, k++) {
		p[k].section = d->broken[i]->section;
		p[k].state = "failed";
		p[k].failed = 1;
	}
	in.vigild_uptime = d->started_at ? vigil_monotonic() - d->started_at :
					   0;
	in.plugins = p;
	in.n_plugins = n;
	in.disk_paths = (const char *const *)d->health.disk_paths;
	in.n_disk_paths = d->health.n_disk_paths;
	vigil_health_collect(h, d->health.root ? d->health.root : "/", &in);
	vigil_health_assess(h, &d->health.policy);
	free(p);
}

/* Whether two reports give the same reasons. */
static int same_reasons(const struct vigil_health *a,
			const struct vigil_health *b)
{
	if (a->n_reasons != b->n_reasons)
		return 0;
	for (size_t i = 0; i < a->n_reasons; i++)
		if (strcmp(a->reasons[i], b->reasons[i]) != 0)
			return 0;
	return 1;
}

/* Says what changed since the last report: a notice when the status
 * does, the first report at info (or notice, degraded). */
static void health_log(const struct vigil_daemon *d,
		       const struct vigil_health *h, const char *summary)
{
	const struct vigil_health *was = d->have_health ? &d->last_health :
							   NULL;

	if (!was)
		vigil_log(h->status == VIGIL_HEALTH_HEALTHY ?
				  VIGIL_LOG_INFO :
				  VIGIL_LOG_NOTICE,
			  "health", "%s", summary);
	else if (was->status != h->status)
		vigil_log(VIGIL_LOG_NOTICE, "health", "%s%s", summary,
			  h->status == VIGIL_HEALTH_HEALTHY ? " again" : "");
	else if (h->status == VIGIL_HEALTH_DEGRADED && !same_reasons(was, h))
		vigil_log(VIGIL_LOG_INFO, "health", "still %s", summary);
}

/* Collects, assesses, publishes and keeps one report. */
static void health_publish(struct vigil_daemon *d)
{
	struct vigil_health h;
	struct vigil_labels labels = {0};
	struct vigil_event e = {0};
	enum vigil_severity sev;
	struct vigil_ev *ev;
	char *summary;

	health_collect(d, &h);
	sev = vigil_health_severity(&h);
	summary = vigil_health_summary(&h);
	vigil_health_labels(&h, &labels);
	health_log(d, &h, summary);

	e.type = VIGIL_EVENT_HEALTH;
	e.key = "health";
	e.incident_type = "health";
	e.severity = sev;
	e.previous_severity = sev;
	e.status = VIGIL_STATUS_OPEN;
	e.message = summary;
	e.value = (double)h.n_reasons;
	e.labels = labels.v;
	e.n_labels = labels.n;
	e.time = e.created = vigil_now();
	ev = vigil_ev_copy(&e, sev);
	vigil_pipeline_push_event(&d->pl, ev);
	vigil_ev_free(ev);
	vigil_labels_free(&labels);
	free(summary);

	if (d->have_health)
		vigil_health_free(&d->last_health);
	d->last_health = h;
	d->have_health = 1;
	d->last_health_at = e.time;
}

static vigil_time_ns sooner(vigil_time_ns a, vigil_time_ns b)
{
	return a && (!b || a < b) ? a : b;
}

vigil_time_ns vigil_daemon_ctl_tick(struct vigil_daemon *d, vigil_time_ns now)
{
	vigil_time_ns next = 0;

	if (d->ctl)
		next = vigil_control_tick(d->ctl, now);
	if (d->ready && d->health.enabled && d->pl.ring) {
		if (d->next_health <= now) {
			health_publish(d);
			d->next_health = now + d->health.interval;
		}
		next = sooner(d->next_health, next);
	}
	return next;
}

/* ------------------------------------------------------------ handlers */

#define HANDLER(name)                                                      \
	static int name(void *user, const struct vigil_control_req *req,   \
			yajl_gen out, char *err, size_t errlen)

/* Who asked: a user name for acked_by and created_by. */
static void peer_user(const struct vigil_control_req *req, char *buf,
		      size_t len)
{
	struct passwd pw, *res = NULL;
	char tmp[4096];

	if (req->uid == 0)
		snprintf(buf, len, "root");
	else if (getpwuid_r(req->uid, &pw, tmp, sizeof(tmp), &res) == 0 &&
		 res && pw.pw_name && *pw.pw_name)
		snprintf(buf, len, "%s", pw.pw_name);
	else
		snprintf(buf, len, "uid %u", (unsigned)req->uid);
}

/* args.NAME as an id: present, a positive integer. */
static int arg_id(const struct vigil_control_req *req, const char *key,
		  uint64_t *id, char *err, size_t errlen)
{
	if (vigil_control_arg_u64(req, key, id, err, errlen) < 0)
		return VIGIL_CONTROL_BAD_REQUEST;
	if (*id == 0) {
		snprintf(err, errlen, "args.%s: expected a positive integer, "
			 "found the number 0", key);
		return VIGIL_CONTROL_BAD_REQUEST;
	}
	return VIGIL_CONTROL_OK;
}

/* An optional string argument: absent is fine, another type is not. */
static int arg_opt_str(const struct vigil_control_req *req, const char *key,
		       const char **s, char *err, size_t errlen)
{
	*s = NULL;
	return vigil_control_arg_str(req, key, s, err, errlen) == -EINVAL ?
		       VIGIL_CONTROL_BAD_REQUEST :
		       VIGIL_CONTROL_OK;
}

/* What a request changed is journaled by the pipeline; made durable
 * (per journal_sync) before the reply says it is done, not at the end of
 * the loop's turn after it. */
static void durable(struct vigil_daemon *d)
{
	vigil_pipeline_commit(&d->pl);
}

static void json_plugin(yajl_gen out, const struct vigil_daemon *d,
			const struct vigil_instance *inst)
{
	struct vigil_json_plugin p = {
		.section = inst->section,
		.plugin = inst->desc ? inst->desc->name : inst->broken_plugin,
		.kind = vigil_kind_name(inst->kind),
		.state = vigil_daemon_instance_state(inst),
		.restarts = inst->worker ? inst->worker->restarts : 0,
		.last_exit = inst->broken ? inst->broken :
			     inst->worker && inst->worker->reason[0] ?
						    inst->worker->reason :
						    NULL,
		.isolation = inst->worker || inst->isolated ? "process" :
							      "none",
		.worker = inst->worker && inst->worker->group ?
				  inst->worker->group->name :
				  NULL,
		.calls = inst->calls,
		.errors = inst->errors,
		.queue_drops = inst->worker ? inst->worker->dropped : 0,
	};

	(void)d;
	vigil_json_plugin(out, &p);
}

HANDLER(h_status)
{
	struct vigil_daemon *d = user;
	const struct vigil_pipeline_stats *st = &d->pl.stats;
	vigil_time_ns up = d->started_at ? vigil_monotonic() - d->started_at :
					   0;
	char *config = realpath(d->opts.config, NULL);

	vigil_json_kstr(out, "version", PACKAGE_VERSION);
	vigil_json_ki64(out, "pid", (int64_t)getpid());
	vigil_json_ki64(out, "uptime_s", up / VIGIL_SEC);
	vigil_json_ktime(out, "started", vigil_now() - up);
	vigil_json_kstr(out, "config", config ? config : d->opts.config);
	free(config);
	vigil_json_kstr(out, "state_dir", d->state_dir);
	vigil_json_kbool(out, "ready", d->ready);
	vigil_json_ku64(out, "incidents_open", d->pl.incidents.n_open);
	vigil_json_ku64(out, "incidents_history", d->pl.incidents.n_history);
	vigil_json_ku64(out, "silences", d->pl.silences.n);
	vigil_json_ku64(out, "undelivered", vigil_pipeline_undelivered(&d->pl));
	vigil_json_kstr(out, "health",
			!d->have_health ? NULL :
			d->last_health.status == VIGIL_HEALTH_HEALTHY ?
					  "healthy" :
					  "degraded");

	vigil_json_key(out, "counts");
	yajl_gen_map_open(out);
	vigil_json_ku64(out, "sensors", d->n_kind[VIGIL_KIND_SENSOR]);
	vigil_json_ku64(out, "rules", d->n_kind[VIGIL_KIND_RULE]);
	vigil_json_ku64(out, "actions", d->n_kind[VIGIL_KIND_ACTION]);
	vigil_json_ku64(out, "sinks", d->n_kind[VIGIL_KIND_SINK]);
	vigil_json_ku64(out, "running", vigil_daemon_count_running(d, 0));
	vigil_json_ku64(out, "disabled", d->n_disabled);
	vigil_json_ku64(out, "broken", d->n_broken);
	yajl_gen_map_close(out);

	vigil_json_key(out, "stats");
	yajl_gen_map_open(out);
	vigil_json_ku64(out, "readings_in", st->readings_in);
	vigil_json_ku64(out, "readings_dropped", st->readings_dropped);
	vigil_json_ku64(out, "readings_refused", st->readings_refused);
	vigil_json_ku64(out, "conditions", st->conditions);
	vigil_json_ku64(out, "conditions_refused", st->conditions_refused);
	vigil_json_ku64(out, "events", st->events);
	vigil_json_ku64(out, "deliveries_failed", st->deliveries_failed);
	vigil_json_ku64(out, "deliveries_lost", st->deliveries_lost);
	vigil_json_ku64(out, "actions_run", st->actions_run);
	vigil_json_ku64(out, "remediations_failed", st->remediations_failed);
	yajl_gen_map_close(out);

	vigil_json_key(out, "plugins");
	yajl_gen_array_open(out);
	for (size_t i = 0; i < d->n_all; i++)
		json_plugin(out, d, d->all[i]);
	for (size_t i = 0; i < d->n_broken; i++)
		json_plugin(out, d, d->broken[i]);
	yajl_gen_array_close(out);
	return VIGIL_CONTROL_OK;
}

HANDLER(h_incidents)
{
	struct vigil_daemon *d = user;
	int all = 0;

	if (vigil_control_arg_bool(req, "all", &all, err, errlen) == -EINVAL)
		return VIGIL_CONTROL_BAD_REQUEST;
	vigil_json_incident_list(out, &d->pl.incidents, all);
	return VIGIL_CONTROL_OK;
}

static int no_incident(uint64_t id, char *err, size_t errlen)
{
	snprintf(err, errlen, "no incident %" PRIu64 " (neither open nor in "
		 "the history of resolved ones)", id);
	return VIGIL_CONTROL_NOT_FOUND;
}

HANDLER(h_show)
{
	struct vigil_daemon *d = user;
	const struct vigil_incident *inc;
	uint64_t id;
	int rc = arg_id(req, "id", &id, err, errlen);

	if (rc)
		return rc;
	inc = vigil_incidents_get(&d->pl.incidents, id);
	if (!inc)
		return no_incident(id, err, errlen);
	vigil_json_key(out, "incident");
	vigil_json_incident(out, inc, 1);
	return VIGIL_CONTROL_OK;
}

/* "incident":{...} as it is now, or just its id and status if history
 * has let go of it already (history_max = 0). */
static void reply_incident(struct vigil_daemon *d, yajl_gen out, uint64_t id,
			   enum vigil_incident_status status)
{
	const struct vigil_incident *inc =
		vigil_incidents_get(&d->pl.incidents, id);

	vigil_json_key(out, "incident");
	if (inc) {
		vigil_json_incident(out, inc, 1);
		return;
	}
	yajl_gen_map_open(out);
	vigil_json_ku64(out, "id", id);
	vigil_json_kstr(out, "status", vigil_status_name(status));
	yajl_gen_map_close(out);
}

HANDLER(h_ack)
{
	struct vigil_daemon *d = user;
	struct vigil_incident *inc = NULL;
	const char *comment;
	char by[128], when[32];
	uint64_t id;
	int rc = arg_id(req, "id", &id, err, errlen);

	if (rc || (rc = arg_opt_str(req, "comment", &comment, err, errlen)))
		return rc;
	peer_user(req, by, sizeof(by));
	rc = vigil_pipeline_ack(&d->pl, id, by, comment, &inc);
	switch (rc) {
	case 0:
		break;
	case -ENOENT:
		return no_incident(id, err, errlen);
	case -ESRCH:
		snprintf(err, errlen, "incident %" PRIu64 " is resolved: there "
			 "is nothing to acknowledge", id);
		return VIGIL_CONTROL_CONFLICT;
	case -EALREADY:
		/* The pipeline ran since: look it up again. */
		inc = vigil_incidents_get(&d->pl.incidents, id);
		when[0] = '\0';
		if (inc && inc->acked) {
			/* Whole seconds: "by root 5m ago". */
			vigil_time_ns ago = vigil_now() - inc->acked;

			ago -= ago % VIGIL_SEC;
			if (ago > 0)
				vigil_format_duration(ago, when, sizeof(when));
			else
				snprintf(when, sizeof(when), "just now");
		}
		snprintf(err, errlen, "incident %" PRIu64 " is acknowledged "
			 "already%s%s%s%s%s", id,
			 inc && inc->acked_by ? " by " : "",
			 inc && inc->acked_by ? inc->acked_by : "",
			 when[0] ? " " : "", when,
			 when[0] && strcmp(when, "just now") ? " ago" : "");
		return VIGIL_CONTROL_CONFLICT;
	default:
		snprintf(err, errlen, "acknowledging incident %" PRIu64
			 ": %s", id, strerror(-rc));
		return VIGIL_CONTROL_INTERNAL;
	}
	durable(d);
	vigil_log(VIGIL_LOG_NOTICE, LOG_PREFIX,
		  "incident #%" PRIu64 " acknowledged by %s%s%s", id, by,
		  comment ? ": " : "", comment ? comment : "");
	reply_incident(d, out, id, VIGIL_STATUS_ACKNOWLEDGED);
	return VIGIL_CONTROL_OK;
}

HANDLER(h_resolve)
{
	struct vigil_daemon *d = user;
	char by[128];
	uint64_t id;
	int rc = arg_id(req, "id", &id, err, errlen);

	if (rc)
		return rc;
	rc = vigil_pipeline_resolve(&d->pl, id);
	switch (rc) {
	case 0:
		break;
	case -ENOENT:
		return no_incident(id, err, errlen);
	case -ESRCH:
		snprintf(err, errlen, "incident %" PRIu64 " is resolved "
			 "already", id);
		return VIGIL_CONTROL_CONFLICT;
	default:
		snprintf(err, errlen, "resolving incident %" PRIu64 ": %s", id,
			 strerror(-rc));
		return VIGIL_CONTROL_INTERNAL;
	}
	durable(d);
	peer_user(req, by, sizeof(by));
	vigil_log(VIGIL_LOG_NOTICE, LOG_PREFIX,
		  "incident #%" PRIu64 " resolved by hand by %s", id, by);
	reply_incident(d, out, id, VIGIL_STATUS_RESOLVED);
	return VIGIL_CONTROL_OK;
}

HANDLER(h_silence_add)
{
	struct vigil_daemon *d = user;
	const struct vigil_silence *sil;
	const char *match, *comment;
	vigil_time_ns dur, now;
	char by[128], why[256], span[32];
	uint64_t id;
	int rc;

	if (vigil_control_arg_str(req, "match", &match, err, errlen) < 0 ||
	    vigil_control_arg_duration(req, "for", &dur, err, errlen) < 0)
		return VIGIL_CONTROL_BAD_REQUEST;
	if ((rc = arg_opt_str(req, "comment", &comment, err, errlen)))
		return rc;
	if (dur <= 0) {
		snprintf(err, errlen, "args.for: a silence must last longer "
			 "than 0");
		return VIGIL_CONTROL_BAD_REQUEST;
	}
	now = vigil_now();
	if (dur > INT64_MAX - now) {
		snprintf(err, errlen, "args.for: too long");
		return VIGIL_CONTROL_BAD_REQUEST;
	}
	peer_user(req, by, sizeof(by));
	if (vigil_pipeline_silence_add(&d->pl, match, now, now + dur, comment,
				       by, &id, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "args.match = '%.80s': %s", match, why);
		return VIGIL_CONTROL_BAD_REQUEST;
	}
	durable(d);
	vigil_format_duration(dur, span, sizeof(span));
	vigil_log(VIGIL_LOG_NOTICE, LOG_PREFIX,
		  "silence #%" PRIu64 " added by %s for %s: %s", id, by, span,
		  match);
	sil = vigil_silences_get(&d->pl.silences, id);
	vigil_json_key(out, "silence");
	if (sil)
		vigil_json_silence(out, sil);
	else
		vigil_json_null(out);
	return VIGIL_CONTROL_OK;
}

HANDLER(h_silence_list)
{
	struct vigil_daemon *d = user;

	vigil_json_key(out, "silences");
	yajl_gen_array_open(out);
	for (size_t i = 0; i < d->pl.silences.n; i++)
		vigil_json_silence(out, d->pl.silences.v[i]);
	yajl_gen_array_close(out);
	return VIGIL_CONTROL_OK;
}

HANDLER(h_silence_rm)
{
	struct vigil_daemon *d = user;
	char by[128];
	uint64_t id;
	int rc = arg_id(req, "id", &id, err, errlen);

	if (rc)
		return rc;
	if (vigil_pipeline_silence_remove(&d->pl, id) < 0) {
		snprintf(err, errlen, "no silence %" PRIu64, id);
		return VIGIL_CONTROL_NOT_FOUND;
	}
	durable(d);
	peer_user(req, by, sizeof(by));
	vigil_log(VIGIL_LOG_NOTICE, LOG_PREFIX,
		  "silence #%" PRIu64 " removed by %s", id, by);
	return VIGIL_CONTROL_OK;
}

HANDLER(h_health)
{
	struct vigil_daemon *d = user;
	struct vigil_health now;
	const struct vigil_health *h = &d->last_health;
	vigil_time_ns at = d->last_health_at;
	yajl_gen_status st;

	/* Before the first report, or with [health] enabled = no: one
	 * collected for this request only. */
	if (!d->have_health) {
		health_collect(d, &now);
		h = &now;
		at = vigil_now();
	}
	vigil_json_key(out, "health");
	st = vigil_health_json(h, out);
	vigil_json_ktime(out, "collected", at);
	vigil_json_kbool(out, "published", d->have_health);
	vigil_json_key(out, "interval_s");
	if (d->health.enabled)
		vigil_json_i64(out, d->health.interval / VIGIL_SEC);
	else
		vigil_json_null(out);
	if (h == &now)
		vigil_health_free(&now);
	if (st != yajl_gen_status_ok) {
		snprintf(err, errlen, "the health report could not be encoded");
		return VIGIL_CONTROL_INTERNAL;
	}
	return VIGIL_CONTROL_OK;
}

HANDLER(h_reload)
{
	(void)user;
	snprintf(err, errlen, "not supported yet: restart vigild to apply a "
		 "new configuration (systemctl restart vigild)");
	return VIGIL_CONTROL_NOT_SUPPORTED;
}

/* --------------------------------------------------------------- socket */

int vigil_daemon_ctl_open(struct vigil_daemon *d)
{
	struct epoll_event ev = {.events = EPOLLIN};
	char why[512];
	int rc;

	rc = vigil_control_open(d->control_path, 0660, d->control_gid, &d->ctl,
				why, sizeof(why));
	if (rc < 0) {
		if (d->control_explicit) {
			vigil_err("control socket: %s%s", why,
				  rc == -EADDRINUSE ?
					  "; stop that vigild first, or give "
					  "this one another control_socket" :
					  "");
			return rc;
		}
		vigil_warn("control socket: %s; running without one (vigilctl "
			   "cannot reach this vigild; set [daemon] "
			   "control_socket to a path it may use)",
			   why);
		return 0;
	}
	ev.data.ptr = d->ctl;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, vigil_control_fd(d->ctl),
		      &ev) < 0) {
		rc = -errno;
		vigil_err("control socket: epoll: %s", strerror(errno));
		vigil_control_close(d->ctl);
		d->ctl = NULL;
		return rc;
	}
	vigil_control_register(d->ctl, "status", h_status, d);
	vigil_control_register(d->ctl, "incidents", h_incidents, d);
	vigil_control_register(d->ctl, "show", h_show, d);
	vigil_control_register(d->ctl, "ack", h_ack, d);
	vigil_control_register(d->ctl, "resolve", h_resolve, d);
	vigil_control_register(d->ctl, "silence.add", h_silence_add, d);
	vigil_control_register(d->ctl, "silence.list", h_silence_list, d);
	vigil_control_register(d->ctl, "silence.rm", h_silence_rm, d);
	vigil_control_register(d->ctl, "health", h_health, d);
	vigil_control_register(d->ctl, "reload", h_reload, d);
	if (d->control_gid != (gid_t)-1)
		vigil_info("control socket %s (for root, vigild's user and "
			   "group %u)",
			   d->control_path, (unsigned)d->control_gid);
	else
		vigil_info("control socket %s (for root and vigild's user)",
			   d->control_path);
	return 0;
}

void vigil_daemon_ctl_close(struct vigil_daemon *d)
{
	if (!d->ctl)
		return;
	if (d->epfd >= 0)
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, vigil_control_fd(d->ctl),
			  NULL);
	vigil_control_close(d->ctl);
	d->ctl = NULL;
}

void vigil_daemon_ctl_free(struct vigil_daemon *d)
{
	vigil_daemon_ctl_close(d);
	free(d->control_path);
	d->control_path = NULL;
	vigil_health_config_free(&d->health);
	if (d->have_health)
		vigil_health_free(&d->last_health);
	d->have_health = 0;
}
