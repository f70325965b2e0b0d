/*
 * daemon.c - vigild as a whole.
 *
 * One thread, one epoll loop: a signalfd for SIGTERM/SIGINT/SIGHUP and one
 * timerfd armed at the earliest deadline (a sensor due, a sink flush, an
 * init to retry, the systemd watchdog's keep-alive). Work done at a deadline
 * runs the pipeline to empty before the loop sleeps again.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "control.h"
#include "daemon.h"
#include "daemon_ctl.h"
#include "log.h"
#include "notify.h"
#include "selfmon.h"
#include "worker.h"
#include "util.h"

#define MAX_METRIC_SINKS 64
/* A worker asked to finish at shutdown has this long before SIGKILL. */
#define WORKER_STOP_GRACE (2 * VIGIL_SEC)
#define INIT_RETRY_MIN VIGIL_SEC
#define INIT_RETRY_MAX (300 * VIGIL_SEC)
/* Readings the loop moves through the pipeline per turn, between reads
 * of the workers' sockets: 2 batches for each worker. */
#define DRAIN_SLICE 16384
#define READ_BACKOFF_SHIFT_MAX 4 /* a failing sensor: at most 16x interval */
/* At shutdown, how long rules, actions and sinks may take to finish. */
#define SHUTDOWN_DRAIN (5 * VIGIL_SEC)

static void add_instance(struct vigil_daemon *d, struct vigil_instance *inst)
{
	int k = inst->kind;

	vigil_grow((void **)&d->all, &d->cap_all, d->n_all + 1,
		   sizeof(*d->all));
	d->all[d->n_all++] = inst;
	vigil_grow((void **)&d->by_kind[k], &d->cap_kind[k], d->n_kind[k] + 1,
		   sizeof(*d->by_kind[k]));
	inst->index = (int)d->n_kind[k];
	d->by_kind[k][d->n_kind[k]++] = inst;
}

static const struct vigil_optslot *dopt(const struct vigil_daemon *d,
					const char *key)
{
	return vigil_optslot_find(d->dopts, d->n_dopts, key);
}

/* [incidents]: the incident manager's policy. */
static void load_incidents(struct vigil_daemon *d,
			   const struct vigil_conf_section *sec,
			   struct vigil_diag *errors)
{
	static const struct vigil_conf_section empty = {.name = "incidents"};
	struct vigil_incident_policy *p = &d->policy;
	const struct vigil_optslot *s;
	char why[256];

	vigil_incident_policy_default(p);
	d->restore_grace = 5 * 60 * VIGIL_SEC;
	if (vigil_options_bind(&d->conf, sec ? sec : &empty,
			       vigil_incidents_options, NULL, &d->iopts,
			       &d->n_iopts, errors))
		return;
#define IOPT(k) vigil_optslot_find(d->iopts, d->n_iopts, k)
	if ((s = IOPT("history_max")))
		p->history_max = (size_t)s->v.i;
	if ((s = IOPT("history_max_age")))
		p->history_max_age = s->v.i;
	if ((s = IOPT("repeat_interval")))
		p->repeat_interval = s->v.i;
	if ((s = IOPT("flap_window")))
		p->flap_window = (unsigned)s->v.i;
	if ((s = IOPT("flap_high")))
		p->flap_high = s->v.d;
	if ((s = IOPT("flap_low")))
		p->flap_low = s->v.d;
	if ((s = IOPT("flap_interval")))
		p->flap_interval = s->v.i;
	if ((s = IOPT("restore_grace")))
		d->restore_grace = s->v.i;
#undef IOPT
	if (vigil_incident_policy_check(p, why, sizeof(why)) < 0)
		vigil_diag_add(errors, "%s:%d: [incidents] %s", d->conf.path,
			       sec ? sec->line : 0, why);
}

/* The keys of a [silence.NAME] section, checked by vigil_silence_from_ini
 * (which knows which are required together). */
static const struct vigil_option silence_options[] = {
	{"match", VIGIL_OPT_STRING, NULL, 0, 0, NULL,
	 "what it silences: key=GLOB type=GLOB LABEL=VALUE {LABEL=VALUE,...}",
	 0},
	{"start", VIGIL_OPT_STRING, NULL, 0, 0, NULL,
	 "when it starts (RFC 3339, default: now)", 0},
	{"end", VIGIL_OPT_STRING, NULL, 0, 0, NULL,
	 "when it ends (RFC 3339); or duration", 0},
	{"duration", VIGIL_OPT_STRING, NULL, 0, 0, NULL,
	 "how long from start; or end", 0},
	{"comment", VIGIL_OPT_STRING, NULL, 0, 0, NULL, "why", 0},
	VIGIL_OPTIONS_END,
};

/* A key's value as written, or NULL when the section leaves it out. */
static const char *slot_value(const struct vigil_optslot *slots, size_t n,
			      const char *key)
{
	const struct vigil_optslot *s = vigil_optslot_find(slots, n, key);

	return s ? s->value : NULL;
}

/* A [silence.NAME] section: checked now, added when vigild runs. */
static void load_silence(struct vigil_daemon *d,
			 const struct vigil_conf_section *sec,
			 struct vigil_diag *errors, struct vigil_diag *warnings)
{
	struct vigil_silence_ini ini = {.name = sec->name + 8};
	struct vigil_optslot *slots = NULL;
	const char *bad_key = NULL;
	size_t n_slots = 0;
	char why[256];
	uint64_t id;

	if (!vigil_valid_name(ini.name)) {
		vigil_diag_add(errors, "%s:%d: section [%s]: silence name '%s' "
			       "must be letters, digits, '_' or '-'",
			       d->conf.path, sec->line, sec->name, ini.name);
		return;
	}
	if (vigil_options_bind(&d->conf, sec, silence_options, NULL, &slots,
			       &n_slots, errors)) {
		vigil_optslots_free(slots, n_slots);
		return;
	}
	ini.match = slot_value(slots, n_slots, "match");
	ini.start = slot_value(slots, n_slots, "start");
	ini.end = slot_value(slots, n_slots, "end");
	ini.duration = slot_value(slots, n_slots, "duration");
	ini.comment = slot_value(slots, n_slots, "comment");
	if (vigil_silence_from_ini(&d->ini_silences, &ini, vigil_now(), &id,
				   &bad_key, why, sizeof(why)) < 0) {
		const struct vigil_conf_entry *e =
			bad_key ? vigil_conf_entry(sec, bad_key) : NULL;
		if (e)
			vigil_diag_add(errors, "%s:%d: [%s] %s = '%s': %s",
				       d->conf.path, e->line, sec->name,
				       bad_key, e->value, why);
		else
			vigil_diag_add(errors, "%s:%d: [%s] %s", d->conf.path,
				       sec->line, sec->name, why);
	} else if (!id) {
		vigil_diag_add(warnings, "%s:%d: [%s] is over already; it "
			       "silences nothing",
			       d->conf.path, sec->line, sec->name);
	}
	vigil_optslots_free(slots, n_slots);
}

/* What `worker = NAME` makes of the instances: more members than one
 * worker serves (the rest run alone), a member without a memory limit
 * (the shared process then has none). */
static void lint_groups(const struct vigil_daemon *d,
			struct vigil_diag *warnings)
{
	for (size_t i = 0; i < d->n_all; i++) {
		const struct vigil_instance *a = d->all[i];
		size_t before = 0, members = 0;

		if (!a->isolated || !a->worker_group)
			continue;
		for (size_t j = 0; j < d->n_all; j++) {
			const struct vigil_instance *b = d->all[j];

			if (!b->isolated || !b->worker_group ||
			    strcmp(a->worker_group, b->worker_group))
				continue;
			members++;
			before += j < i;
		}
		if (before >= VIGIL_GROUP_MAX)
			vigil_diag_add(warnings, "%s:%d: [%s] worker = %s: that "
				       "worker serves %d instances already, the "
				       "most one serves; this one runs in a "
				       "worker of its own",
				       d->conf.path, a->line, a->section,
				       a->worker_group, VIGIL_GROUP_MAX);
		else if (!a->memory_limit && members > 1)
			vigil_diag_add(warnings, "%s:%d: [%s] memory_limit = 0 "
				       "leaves worker %s, which it shares, "
				       "without a memory limit",
				       d->conf.path, a->line, a->section,
				       a->worker_group);
	}
}

/* `path` from the directory vigild started in, when relative: plugins
 * are given state_dir (a file sink's relative path is under it) and must
 * not depend on the working directory. */
static char *absolute(const char *path)
{
	char cwd[4096];

	if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		return vigil_xstrdup(path);
	return vigil_xasprintf("%s/%s", strcmp(cwd, "/") ? cwd : "", path);
}

size_t vigil_daemon_load(struct vigil_daemon *d,
			 const struct vigil_daemon_opts *opts,
			 struct vigil_diag *errors, struct vigil_diag *warnings)
{
	static const struct vigil_conf_section empty = {.name = "daemon"};
	const struct vigil_conf_section *ds;
	const struct vigil_optslot *s;
	size_t before = errors->n;

	memset(d, 0, sizeof(*d));
	d->opts = *opts;
	d->epfd = d->sigfd = d->timerfd = d->spawner.fd = -1;
	d->sigpipe[0] = d->sigpipe[1] = -1;
	if (vigil_conf_load(opts->config, &d->conf, errors) < 0)
		return errors->n - before;

	ds = vigil_conf_section(&d->conf, "daemon");
	vigil_options_bind(&d->conf, ds ? ds : &empty, vigil_daemon_options,
			   NULL, &d->dopts, &d->n_dopts, errors);
	s = dopt(d, "plugin_path");
	vigil_loader_init(&d->loader, opts->plugin_path ? opts->plugin_path :
				      s ? s->value : VIGIL_PLUGIN_DIR);
	s = dopt(d, "state_dir");
	d->state_dir = absolute(opts->state_dir ? opts->state_dir :
				s ? s->value : VIGIL_STATE_DIR);
	s = dopt(d, "flush_interval");
	d->flush_interval = s ? s->v.i : VIGIL_SEC;
	s = dopt(d, "journal_sync");
	d->journal_sync = s ? (enum vigil_journal_sync)s->v.i :
			      VIGIL_JOURNAL_SYNC_ALWAYS;
	s = dopt(d, "journal_sync_interval");
	d->journal_sync_interval = s ? s->v.i : VIGIL_SEC;
	vigil_silences_init(&d->ini_silences);
	load_incidents(d, vigil_conf_section(&d->conf, "incidents"), errors);
	/* control_socket, control_group and [health]. */
	vigil_daemon_ctl_load(d, errors);

	for (size_t i = 0; i < d->conf.n; i++) {
		const struct vigil_conf_section *sec = &d->conf.sections[i];
		struct vigil_instance *inst;

		if (strcmp(sec->name, "daemon") == 0 ||
		    strcmp(sec->name, "incidents") == 0)
			continue;
		if (strcmp(sec->name, "health") == 0)
			continue; /* vigil_daemon_ctl_load read it */
		if (strncmp(sec->name, "silence.", 8) == 0) {
			load_silence(d, sec, errors, warnings);
			continue;
		}
		inst = vigil_instance_new(&d->conf, sec, &d->loader, errors,
					  warnings);
		if (!inst)
			continue;
		if (inst->broken) {
			vigil_diag_add(warnings, "%s:%d: [%s] %s; the other "
				       "instances run without it",
				       d->conf.path, sec->line, sec->name,
				       inst->broken);
			vigil_grow((void **)&d->broken, &d->cap_broken,
				   d->n_broken + 1, sizeof(*d->broken));
			d->broken[d->n_broken++] = inst;
			continue;
		}
		if (!inst->enabled) {
			d->n_disabled++;
			vigil_instance_free(inst);
			continue;
		}
		add_instance(d, inst);
	}
	lint_groups(d, warnings);
	if (d->n_kind[VIGIL_KIND_SINK] > MAX_METRIC_SINKS)
		vigil_diag_add(errors, "%s: %zu sinks enabled; at most %d are "
			       "supported", d->conf.path,
			       d->n_kind[VIGIL_KIND_SINK], MAX_METRIC_SINKS);
	if (errors->n == before && d->n_kind[VIGIL_KIND_SENSOR] == 0)
		vigil_diag_add(warnings, "%s: no sensor is enabled: nothing will "
			       "be measured", d->conf.path);
	return errors->n - before;
}

/* "FILE:LINE: [daemon] KEY = 'V'" or "-s 'V'": where a path was set. */
static void where_set(struct vigil_buf *b, const struct vigil_daemon *d,
		      const char *key, const char *flag, const char *given,
		      const char *path)
{
	const struct vigil_optslot *s =
		vigil_optslot_find(d->dopts, d->n_dopts, key);

	if (given)
		vigil_buf_printf(b, "%s '%s'", flag, path);
	else if (s && s->line)
		vigil_buf_printf(b, "%s:%d: [daemon] %s = '%s'", d->conf.path,
				 s->line, key, path);
	else
		vigil_buf_printf(b, "%s (default) '%s'", key, path);
}

/* What running would find wrong with state_dir and control_socket: said
 * now, with where they were set, not at start without it. */
static void check_paths(struct vigil_daemon *d, struct vigil_diag *errors,
			struct vigil_diag *warnings)
{
	struct vigil_buf at = {0};
	struct stat st;
	/* Missing, it is made at start (as mkdir -p would). */
	int there = stat(d->state_dir, &st) == 0;

	where_set(&at, d, "state_dir", "-s", d->opts.state_dir, d->state_dir);
	if (there && !S_ISDIR(st.st_mode))
		vigil_diag_add(errors, "%s: not a directory; expected the "
			       "directory of vigild's journal", at.data);
	else if (there && access(d->state_dir, W_OK | X_OK) < 0)
		vigil_diag_add(warnings, "%s: not writable by this user (uid "
			       "%u): vigild would run without its journal",
			       at.data, (unsigned)geteuid());
	vigil_buf_free(&at);

	where_set(&at, d, "control_socket", "-S", d->opts.control_socket,
		  d->control_path);
	if (lstat(d->control_path, &st) == 0 && !S_ISSOCK(st.st_mode))
		vigil_diag_add(d->control_explicit ? errors : warnings,
			       "%s: exists and is not a socket; vigild would "
			       "not replace it%s",
			       at.data, d->control_explicit ?
					" and would not start" :
					" (vigilctl would not reach it)");
	vigil_buf_free(&at);
}

size_t vigil_daemon_check(struct vigil_daemon *d, struct vigil_diag *errors,
			  struct vigil_diag *warnings)
{
	size_t before = errors->n;

	check_paths(d, errors, warnings);

	/* Plugins resolve relative paths against it (the file sink's
	 * events.jsonl): the one -s or [daemon] names, as when running. */
	vigil_host_set_state_dir(d->state_dir);
	vigil_selfmon_attach(d);
	for (size_t i = 0; i < d->n_all; i++) {
		struct vigil_instance *inst = d->all[i];
		char why[1024] = "";
		int rc;

		/* The error the plugin logs (its reason) goes into the one
		 * FILE:LINE message below, not on a line of its own. */
		if (inst->isolated) {
			rc = vigil_worker_check(inst, why, sizeof(why));
		} else {
			vigil_instance_tap(inst, why, sizeof(why));
			rc = vigil_instance_start(inst, NULL, NULL);
			vigil_instance_tap(NULL, NULL, 0);
		}
		if (rc == VIGIL_EFATAL)
			inst->fatal = 1;
		if (rc == VIGIL_EFATAL)
			vigil_diag_add(errors, "%s:%d: [%s] the %s plugin "
				       "refused its configuration: %s",
				       d->conf.path, inst->line, inst->section,
				       inst->desc->name,
				       *why ? why : "it gave no reason");
		else if (rc < 0)
			vigil_diag_add(warnings, "%s:%d: [%s] would not start "
				       "on this machine now: %s",
				       d->conf.path, inst->line, inst->section,
				       *why ? why : strerror(-rc));
		vigil_instance_stop(inst);
	}
	return errors->n - before;
}

/* ---------------------------------------------------------------- running */

static vigil_time_ns backoff(unsigned failures, vigil_time_ns base,
			     vigil_time_ns max)
{
	vigil_time_ns t = base;

	while (failures-- > 1 && t < max)
		t *= 2;
	return t < max ? t : max;
}

static void try_start(struct vigil_daemon *d, struct vigil_instance *inst,
		      vigil_time_ns now)
{
	if (inst->isolated) {
		/* Its worker starts it, and restarts it: see tick_worker. */
		if (!inst->worker) {
			inst->worker = vigil_xcalloc(1, sizeof(*inst->worker));
			vigil_worker_init(inst->worker, inst);
		}
		inst->next_due = now;
		if (inst->kind == VIGIL_KIND_ACTION && inst->idle_timeout) {
			/* Its first attempt starts it (its init was tried
			 * when the configuration was checked). */
			inst->worker->state = VIGIL_WORKER_STANDBY;
			return;
		}
		vigil_worker_spawn(inst->worker, &d->wenv, now);
		return;
	}
	if (vigil_instance_start(inst, &vigil_pipeline_emit, &d->pl) == 0) {
		if (inst->init_failures)
			vigil_log(VIGIL_LOG_NOTICE, inst->section,
				  "started after %u failed attempt(s)",
				  inst->init_failures);
		inst->init_failures = 0;
		inst->next_due = now;
		return;
	}
	if (inst->fatal)
		return;
	inst->init_failures++;
	inst->retry_at =
		now + backoff(inst->init_failures, INIT_RETRY_MIN, INIT_RETRY_MAX);
	{
		char when[32];
		vigil_format_duration(inst->retry_at - now, when, sizeof(when));
		vigil_log(inst->init_failures == 1 ? VIGIL_LOG_NOTICE :
						     VIGIL_LOG_INFO,
			  inst->section, "will retry in %s", when);
	}
}

/* As collectd does: a failing read is retried less often, up to a cap,
 * and its interval restored on success. */
static void schedule(struct vigil_instance *s, vigil_time_ns now)
{
	vigil_time_ns interval = s->interval;

	if (s->failures)
		interval <<= (s->failures < READ_BACKOFF_SHIFT_MAX ?
				      s->failures :
				      READ_BACKOFF_SHIFT_MAX);
	s->next_due += interval;
	if (s->next_due <= now) /* fell behind: do not burst to catch up */
		s->next_due = now + interval;
}

static void read_sensor(struct vigil_daemon *d, struct vigil_instance *s,
			vigil_time_ns now)
{
	int rc;

	s->calls++;
	rc = s->desc->read(s->state, &s->ctx);
	vigil_instance_latency(s, vigil_monotonic() - now);
	if (rc < 0) {
		s->errors++;
		if (s->failures++ == 0)
			vigil_log(VIGIL_LOG_WARNING, s->section,
				  "read failed: %s; backing off",
				  strerror(-rc));
	} else if (s->failures) {
		vigil_log(VIGIL_LOG_NOTICE, s->section,
			  "read works again after %u failure(s)", s->failures);
		s->failures = 0;
	}
	schedule(s, now);
	vigil_pipeline_run(&d->pl);
}

static vigil_time_ns sooner(vigil_time_ns a, vigil_time_ns b)
{
	return a && a < b ? a : b;
}

/* A worker's read ended. If the next was due meanwhile, it is due now:
 * as inside vigild, where a read that overruns its interval is followed
 * by the next at once (collectd does the same), not an interval later. */
static void read_done(void *arg, struct vigil_worker *w, int rc,
		      struct vigil_wire_reader *reply)
{
	struct vigil_instance *s = arg;

	(void)w;
	(void)rc;
	(void)reply;
	if (s->read_late) {
		s->read_late = 0;
		s->next_due = vigil_monotonic();
	}
}

/* An isolated instance: its worker's deadlines and restarts; a sensor's
 * reads, which are sent now and answered through the loop. */
static void tick_worker(struct vigil_daemon *d, struct vigil_instance *s,
			vigil_time_ns now, vigil_time_ns *next)
{
	struct vigil_worker *w = s->worker;

	*next = sooner(vigil_worker_tick(w, &d->wenv, now), *next);
	if (s->kind != VIGIL_KIND_SENSOR)
		return;
	if (w->state != VIGIL_WORKER_IDLE && w->state != VIGIL_WORKER_BUSY)
		return;
	if (s->next_due <= now) {
		/* A read still running when the next is due is not doubled
		 * (the deadline ends it if it never returns): the next
		 * starts when it ends. */
		if (vigil_worker_read(w, now, read_done, s) == -EBUSY) {
			vigil_debug("[%s] previous read still running",
				    s->section);
			s->read_late = 1;
		}
		schedule(s, now);
	}
	*next = sooner(s->next_due, *next);
}

/* Up, or as good as up: its worker takes calls (running, or in standby
 * until an action needs it; starting too when `starting`), or it was
 * started inside vigild. */
static int instance_running(const struct vigil_instance *inst, int starting)
{
	if (inst->worker)
		return vigil_worker_accepting(inst->worker) &&
		       (starting ||
			inst->worker->state != VIGIL_WORKER_STARTING);
	return inst->started;
}

/* The signals vigild takes through its signalfd, blocked. */
static void loop_signals(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGHUP);
	sigaddset(mask, SIGCHLD); /* workers: reaped by pid, never with -1 */
}

static int sigpipe_w = -1;

/* A signal vigild takes, caught by a thread that does not block it: its
 * number goes down the pipe to the loop (async-signal-safe). */
static void on_signal(int sig)
{
	int saved = errno;
	unsigned char c = (unsigned char)sig;

	if (write(sigpipe_w, &c, 1) < 0)
		(void)0; /* full: the loop has signals to read already */
	errno = saved;
}

static void catch_signals(void)
{
	static const int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP};
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < VIGIL_ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* A plugin inside vigild (isolation = none) that unblocked SIGTERM would
 * let it kill vigild unflushed, one that ignored SIGCHLD would have the
 * kernel reap the workers before vigild learns why they died, one that
 * took SIGPIPE back would let a closed socket kill vigild. Put back and
 * said, once a second at most (the mask and five handlers read). */
static void keep_signals(struct vigil_daemon *d)
{
	static const int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGPIPE};
	struct sigaction sa;
	const char *what = NULL;
	sigset_t mask, now;

	loop_signals(&mask);
	if (sigprocmask(SIG_BLOCK, &mask, &now) == 0 &&
	    (!sigismember(&now, SIGTERM) || !sigismember(&now, SIGCHLD)))
		what = "unblocked a signal vigild takes";
	for (size_t i = 0; i < VIGIL_ARRAY_SIZE(sigs); i++)
		if (sigaction(sigs[i], NULL, &sa) == 0 &&
		    sa.sa_handler != (sigs[i] == SIGPIPE ? SIG_IGN : on_signal))
			what = "changed the handling of a signal";
	if (!what)
		return;
	catch_signals();
	if (!d->signals_said++)
		vigil_warn("a plugin inside vigild (isolation = none) %s: put "
			   "back; plugins must leave signals alone", what);
}

/* Does what is due at `now`; returns the next deadline. */
static vigil_time_ns tick(struct vigil_daemon *d, vigil_time_ns now,
			  vigil_time_ns *next_flush)
{
	vigil_time_ns next = *next_flush;

	for (size_t i = 0; i < d->n_all; i++) {
		struct vigil_instance *inst = d->all[i];

		if (inst->worker) {
			tick_worker(d, inst, now, &next);
			continue;
		}
		if (!inst->started && !inst->fatal && inst->retry_at <= now)
			try_start(d, inst, now);
		if (!inst->started) {
			if (!inst->fatal && inst->retry_at < next)
				next = inst->retry_at;
			continue;
		}
		if (inst->kind != VIGIL_KIND_SENSOR)
			continue;
		if (inst->next_due <= now)
			read_sensor(d, inst, now);
		if (inst->next_due < next)
			next = inst->next_due;
	}
	if (*next_flush <= now) {
		vigil_pipeline_retry(&d->pl, now);
		vigil_pipeline_flush(&d->pl);
		*next_flush = now + d->flush_interval;
		keep_signals(d);
	}
	/* Remediation attempts, repeats, silences, flapping: due on the wall
	 * clock, looked at when due and at least once a second (what a turn
	 * of the pipeline started is noticed within that). */
	if (d->next_pl_tick <= now) {
		vigil_time_ns wall = vigil_now();
		vigil_time_ns due = vigil_pipeline_tick(&d->pl);

		d->next_pl_tick = now + VIGIL_SEC;
		if (due && due - wall < VIGIL_SEC)
			d->next_pl_tick = now + (due > wall ? due - wall :
							      VIGIL_MSEC);
	}
	next = sooner(d->next_pl_tick, next);
	next = sooner(vigil_pipeline_commit_due(&d->pl), next);
	/* Idle control clients; the health report. */
	next = sooner(vigil_daemon_ctl_tick(d, now), next);
	/* The systemd watchdog is fed here and nowhere else: when the loop
	 * reaches the keep-alive deadline, after the work due before it. A
	 * plugin call that never returns stops the keep-alives, and systemd
	 * restarts vigild. */
	/* systemd arms its watchdog once start-up is complete (READY=1). */
	if (d->watchdog_interval && d->ready) {
		if (d->next_watchdog <= now) {
			vigil_notify_watchdog();
			d->next_watchdog = now + d->watchdog_interval;
		}
		if (d->next_watchdog < next)
			next = d->next_watchdog;
	}
	return next < *next_flush ? next : *next_flush;
}

static int setup_fds(struct vigil_daemon *d)
{
	struct epoll_event ev = {.events = EPOLLIN};
	sigset_t mask;

	loop_signals(&mask);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	if (pipe2(d->sigpipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	sigpipe_w = d->sigpipe[1];
	/* Blocked in vigild's threads, the signals reach the signalfd;
	 * the handler is for a thread that does not block them. */
	catch_signals();
	d->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	d->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->sigfd < 0 || d->timerfd < 0 || d->epfd < 0)
		return -errno;
	/* Workers' sockets carry their struct vigil_worker: these two carry
	 * the address of their fd, so the union is always a pointer. */
	ev.data.ptr = &d->sigfd;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->sigfd, &ev) < 0 ||
	    epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->sigpipe[0], &ev) < 0)
		return -errno;
	ev.data.ptr = &d->timerfd;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->timerfd, &ev) < 0)
		return -errno;
	return 0;
}

/* mkdir -p, 0750 for what it creates. */
static int make_dirs(const char *path)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, 0750) < 0 && errno != EEXIST)
				return -errno;
			*p = c;
			if (!c)
				break;
		}
	}
	return access(path, W_OK) == 0 ? 0 : -errno;
}

static void arm(struct vigil_daemon *d, vigil_time_ns at)
{
	struct itimerspec its = {0};

	if (at <= 0)
		at = 1;
	its.it_value.tv_sec = at / VIGIL_SEC;
	its.it_value.tv_nsec = at % VIGIL_SEC;
	timerfd_settime(d->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* What a signal vigild takes means, however it came. */
static void on_loop_signal(struct vigil_daemon *d, unsigned signo)
{
	switch (signo) {
	case SIGTERM:
	case SIGINT:
		vigil_notice("received %s, shutting down",
			     signo == SIGTERM ? "SIGTERM" : "SIGINT");
		if (!d->stop)
			vigil_notify_stopping();
		d->stop = 1;
		break;
	case SIGCHLD:
		vigil_spawner_sigchld(&d->spawner);
		for (size_t i = 0; i < d->n_all; i++)
			if (d->all[i]->worker)
				vigil_worker_sigchld(d->all[i]->worker,
						     &d->wenv,
						     vigil_monotonic());
		break;
	case SIGHUP:
		vigil_warn("received SIGHUP: reloading the configuration is "
			   "not supported yet; restart vigild to apply "
			   "changes");
		break;
	}
}

/* The signals, from the signalfd and from the handler's pipe. */
static void handle_signals(struct vigil_daemon *d)
{
	struct signalfd_siginfo si;
	unsigned char buf[64];
	ssize_t k;

	while (read(d->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		on_loop_signal(d, si.ssi_signo);
	while ((k = read(d->sigpipe[0], buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < k; i++)
			on_loop_signal(d, buf[i]);
}

size_t vigil_daemon_count_running(const struct vigil_daemon *d, int starting)
{
	size_t running = 0;

	for (size_t i = 0; i < d->n_all; i++)
		running += instance_running(d->all[i], starting) ? 1 : 0;
	return running;
}

static int any_starting(const struct vigil_daemon *d)
{
	for (size_t i = 0; i < d->n_all; i++)
		if (d->all[i]->worker &&
		    d->all[i]->worker->state == VIGIL_WORKER_STARTING)
			return 1;
	return 0;
}

size_t vigil_daemon_start_all(struct vigil_daemon *d, vigil_time_ns now)
{
	/* Consumers first, so the first readings find their way. */
	static const enum vigil_kind order[] = {
		VIGIL_KIND_SINK, VIGIL_KIND_ACTION, VIGIL_KIND_RULE,
		VIGIL_KIND_SENSOR};

	for (size_t o = 0; o < VIGIL_ARRAY_SIZE(order); o++)
		for (size_t i = 0; i < d->n_kind[order[o]]; i++)
			try_start(d, d->by_kind[order[o]][i], now);
	return vigil_daemon_count_running(d, 1);
}

void vigil_daemon_stop_all(struct vigil_daemon *d)
{
	static const enum vigil_kind order[] = {
		VIGIL_KIND_SENSOR, VIGIL_KIND_RULE, VIGIL_KIND_ACTION,
		VIGIL_KIND_SINK};

	for (size_t o = 0; o < VIGIL_ARRAY_SIZE(order); o++)
		for (size_t i = 0; i < d->n_kind[order[o]]; i++)
			vigil_instance_stop(d->by_kind[order[o]][i]);
}

/* An instance whose plugin cannot even be loaded is a failed plugin:
 * critical, alerted like any incident. */
static void push_broken(struct vigil_daemon *d, struct vigil_instance *inst)
{
	char *msg = vigil_xasprintf("%s failed: %s", inst->section,
				    inst->broken);

	vigil_pipeline_plugin_failed(&d->pl, inst->section, inst->broken_plugin,
				     1, msg, 0);
	free(msg);
	vigil_pipeline_run(&d->pl);
}


/* systemd's STATUS=, what `systemctl status vigild` shows:
 * "6 sensors, 5 rules, 1 action, 2 sinks; 13 of 14 running". Sent at
 * start and whenever the number running changes. */
static void notify_status(struct vigil_daemon *d, size_t running, int ready)
{
	static const struct {
		enum vigil_kind kind;
		const char *one, *many;
	} kinds[] = {
		{VIGIL_KIND_SENSOR, "sensor", "sensors"},
		{VIGIL_KIND_RULE, "rule", "rules"},
		{VIGIL_KIND_ACTION, "action", "actions"},
		{VIGIL_KIND_SINK, "sink", "sinks"},
	};
	struct vigil_buf b = {0};

	for (size_t i = 0; i < VIGIL_ARRAY_SIZE(kinds); i++) {
		size_t n = d->n_kind[kinds[i].kind];
		vigil_buf_printf(&b, "%s%zu %s", i ? ", " : "", n,
				 n == 1 ? kinds[i].one : kinds[i].many);
	}
	vigil_buf_printf(&b, "; %zu of %zu running", running, d->n_all);
	if (ready)
		vigil_notify_ready(b.data);
	else
		vigil_notify_status("%s", b.data);
	vigil_buf_free(&b);
	d->notified_running = running;
}

/* Stops the workers of n instances together, within WORKER_STOP_GRACE
 * for all (not each): ten plugins hung in fini took 20 s one by one. */
static void stop_workers(struct vigil_daemon *d, struct vigil_instance **insts,
			 size_t n)
{
	struct vigil_worker **ws = vigil_xcalloc(n ? n : 1, sizeof(*ws));

	for (size_t i = 0; i < n; i++)
		ws[i] = insts[i]->worker;
	vigil_workers_stop(ws, n, &d->wenv, WORKER_STOP_GRACE);
	free(ws);
}

/* At shutdown: turns the loop, without sensors, until the work still with
 * rule, action and sink workers is done or SHUTDOWN_DRAIN has passed. A
 * worker stuck in a call costs at most that bound, then the kill. */
static void drain(struct vigil_daemon *d)
{
	vigil_time_ns until = vigil_monotonic() + SHUTDOWN_DRAIN;
	size_t left;

	while ((left = vigil_pipeline_pending(&d->pl)) > 0) {
		struct epoll_event evs[16];
		vigil_time_ns now = vigil_monotonic(), next = until;
		int n, ms;

		if (now >= until) {
			vigil_warn("stopping with %zu call(s) or event(s) "
				   "still pending after %llds",
				   left,
				   (long long)(SHUTDOWN_DRAIN / VIGIL_SEC));
			return;
		}
		/* Sensors are stopped, but for those whose worker is shared
		 * with what still runs: their deadlines hold. */
		for (size_t i = 0; i < d->n_all; i++)
			if (d->all[i]->worker &&
			    (d->all[i]->kind != VIGIL_KIND_SENSOR ||
			     d->all[i]->worker->pid > 0))
				next = sooner(vigil_worker_tick(d->all[i]->worker,
								&d->wenv, now),
					      next);
		ms = (int)((next > now ? next - now : 0) / VIGIL_MSEC) + 1;
		n = epoll_wait(d->epfd, evs, (int)VIGIL_ARRAY_SIZE(evs), ms);
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == &d->sigfd) {
				handle_signals(d);
			} else if (evs[i].data.ptr == &d->timerfd) {
				uint64_t x;
				if (read(d->timerfd, &x, sizeof(x)) < 0)
					(void)0;
			} else if (d->ctl && evs[i].data.ptr == d->ctl) {
				vigil_control_dispatch(d->ctl);
			} else {
				vigil_worker_io(evs[i].data.ptr, &d->wenv,
						evs[i].events,
						vigil_monotonic());
			}
		}
		vigil_pipeline_run(&d->pl);
		vigil_pipeline_commit(&d->pl);
	}
}

/* The journal in state_dir, replayed; then the INI's silences. Only a
 * second vigild on the same state_dir stops this one: any other failure
 * leaves it running without a journal (said loudly). */
static int open_journal(struct vigil_daemon *d)
{
	char *path = vigil_xasprintf("%s/journal", d->state_dir);
	int rc = vigil_pipeline_journal_open(&d->pl, path, d->journal_sync,
					     d->journal_sync_interval);

	if (rc == -EBUSY || rc == -EWOULDBLOCK) {
		vigil_err("%s is in use by another vigild; one state_dir per "
			  "vigild (see --state-dir)",
			  path);
		free(path);
		return rc;
	}
	if (rc < 0)
		vigil_err("running without a journal: incidents, silences and "
			  "undelivered events will not survive a restart");
	free(path);
	vigil_pipeline_expect_confirmation(&d->pl, d->restore_grace);
	for (size_t i = 0; i < d->ini_silences.n; i++) {
		const struct vigil_silence *sil = d->ini_silences.v[i];
		struct vigil_silence *added;
		char why[256];
		uint64_t id;

		/* Not journaled: the INI says them again at each start. */
		if (vigil_silences_add(&d->pl.silences, sil->expr, sil->start,
				       sil->end, sil->comment, "config",
				       vigil_now(), &id, why,
				       sizeof(why)) < 0) {
			vigil_warn("[silence.%s]: %s", sil->name, why);
			continue;
		}
		added = (struct vigil_silence *)vigil_silences_get(
			&d->pl.silences, id);
		added->name = vigil_xstrdup(sil->name);
	}
	vigil_pipeline_silences_changed(&d->pl);
	return 0;
}

int vigil_daemon_run(struct vigil_daemon *d)
{
	const struct vigil_optslot *q = dopt(d, "reading_queue");
	vigil_time_ns now, next_flush;
	size_t running = 0;
	int rc;

	rc = make_dirs(d->state_dir);
	if (rc < 0) {
		vigil_err("cannot create state_dir %s: %s", d->state_dir,
			  strerror(-rc));
		return rc;
	}
	vigil_host_set_state_dir(d->state_dir);
	/* Before the core grows (and before the journal's thread exists):
	 * what the workers inherit from the spawner stays small and shared. */
	d->n_groups = vigil_worker_groups(d->all, d->n_all, &d->groups);
	rc = vigil_spawner_start(&d->spawner, d->all, d->n_all);
	if (rc < 0)
		vigil_warn("cannot start the worker spawner (%s): workers are "
			   "forked by the core (they use more memory)",
			   strerror(-rc));
	d->wenv.spawner = d->spawner.pid > 0 ? &d->spawner : NULL;
	rc = setup_fds(d);
	if (rc < 0) {
		vigil_err("cannot set up the event loop: %s", strerror(-rc));
		return rc;
	}
	/* An explicit control_socket in use by another vigild stops this
	 * one here; the default one only warns. */
	rc = vigil_daemon_ctl_open(d);
	if (rc < 0)
		return rc;
	vigil_pipeline_init(&d->pl, q ? (size_t)q->v.i : 65536,
			    d->by_kind[VIGIL_KIND_RULE], d->n_kind[VIGIL_KIND_RULE],
			    d->by_kind[VIGIL_KIND_SINK], d->n_kind[VIGIL_KIND_SINK],
			    d->by_kind[VIGIL_KIND_ACTION],
			    d->n_kind[VIGIL_KIND_ACTION]);
	vigil_incidents_set_policy(&d->pl.incidents, &d->policy);
	rc = open_journal(d);
	if (rc < 0)
		return rc;
	vigil_selfmon_attach(d);
	d->wenv.pl = &d->pl;
	d->wenv.epfd = d->epfd;
	d->started_at = now = vigil_monotonic();
	running = vigil_daemon_start_all(d, now);
	for (size_t i = 0; i < d->n_broken; i++)
		push_broken(d, d->broken[i]);
	d->watchdog_interval = vigil_notify_watchdog_interval();
	d->next_watchdog = now; /* the first keep-alive on the first turn */
	if (d->watchdog_interval)
		vigil_debug("systemd watchdog: a keep-alive every %lld ms",
			    (long long)(d->watchdog_interval / VIGIL_MSEC));

	next_flush = now + d->flush_interval;
	while (!d->stop) {
		struct epoll_event evs[16];
		vigil_time_ns next;
		int n;

		now = vigil_monotonic();
		next = tick(d, now, &next_flush);
		/* Ready once every worker has answered its init (or failed
		 * it): its deadline bounds the wait. */
		if (!d->ready && !any_starting(d)) {
			running = vigil_daemon_count_running(d, 0);
			vigil_notice("vigild %s running: %zu sensor(s), %zu "
				     "rule(s), %zu action(s), %zu sink(s); %zu "
				     "of %zu started, %zu disabled",
				     PACKAGE_VERSION,
				     d->n_kind[VIGIL_KIND_SENSOR],
				     d->n_kind[VIGIL_KIND_RULE],
				     d->n_kind[VIGIL_KIND_ACTION],
				     d->n_kind[VIGIL_KIND_SINK], running,
				     d->n_all, d->n_disabled);
			notify_status(d, running, 1); /* READY=1 */
			d->ready = 1;
			/* The first health report, at once. */
			next = sooner(vigil_daemon_ctl_tick(d, now), next);
		}
		/* An init retried by tick() that succeeds changes it; one
		 * still starting does not count (a worker whose init fails
		 * every few seconds would make STATUS= flap, 17 of 17 then
		 * 16 of 17 at each retry). */
		running = vigil_daemon_count_running(d, 0);
		if (d->ready && running != d->notified_running)
			notify_status(d, running, 0);
		arm(d, d->backlog ? now : next);
		n = epoll_wait(d->epfd, evs, (int)VIGIL_ARRAY_SIZE(evs), -1);
		if (n < 0 && errno != EINTR) {
			vigil_err("epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == &d->sigfd) {
				handle_signals(d);
			} else if (evs[i].data.ptr == &d->timerfd) {
				uint64_t expirations;
				if (read(d->timerfd, &expirations,
					 sizeof(expirations)) < 0 &&
				    errno != EAGAIN)
					vigil_warn("timerfd: %s",
						   strerror(errno));
			} else if (d->ctl && evs[i].data.ptr == d->ctl) {
				vigil_control_dispatch(d->ctl);
			} else {
				vigil_worker_io(evs[i].data.ptr, &d->wenv,
						evs[i].events, vigil_monotonic());
			}
		}
		/* What workers sent goes through at once, a slice at a
		 * time (the rest at the next turn, which does not wait);
		 * what it changed is journaled before the loop waits
		 * again. */
		d->backlog = vigil_pipeline_run_some(&d->pl, DRAIN_SLICE) > 0;
		vigil_pipeline_commit(&d->pl);
	}

	/* Sensors stop; what is queued drains through rules, incidents and
	 * sinks (bounded by SHUTDOWN_DRAIN); sinks flush; all stop. */
	stop_workers(d, d->by_kind[VIGIL_KIND_SENSOR],
		     d->n_kind[VIGIL_KIND_SENSOR]);
	vigil_pipeline_run(&d->pl);
	vigil_pipeline_retry(&d->pl, 0);
	drain(d);
	vigil_pipeline_flush(&d->pl);
	drain(d);
	stop_workers(d, d->all, d->n_all);
	vigil_pipeline_run(&d->pl);
	vigil_pipeline_retry(&d->pl, 0);
	vigil_pipeline_flush(&d->pl);
	vigil_notice("stopped: %llu readings, %llu dropped, %llu refused, "
		     "%llu incident events, %llu failed delivery attempts, "
		     "%llu given up",
		     (unsigned long long)d->pl.stats.readings_in,
		     (unsigned long long)d->pl.stats.readings_dropped,
		     (unsigned long long)d->pl.stats.readings_refused,
		     (unsigned long long)d->pl.stats.events,
		     (unsigned long long)d->pl.stats.deliveries_failed,
		     (unsigned long long)d->pl.stats.deliveries_lost);
	vigil_spawner_stop(&d->spawner);
	/* Its handlers use the pipeline: closed (and its file removed)
	 * before the pipeline goes. */
	vigil_daemon_ctl_close(d);
	/* Rules free their per-series slots while still started. */
	vigil_pipeline_free(&d->pl);
	vigil_daemon_stop_all(d);
	return 0;
}

void vigil_daemon_free(struct vigil_daemon *d)
{
	vigil_spawner_stop(&d->spawner);
	/* Calls still queued for workers end (and tell the pipeline) first. */
	for (size_t i = 0; i < d->n_all; i++)
		if (d->all[i]->worker)
			vigil_worker_free(d->all[i]->worker);
	vigil_worker_groups_free(d->groups, d->n_groups);
	d->groups = NULL;
	d->n_groups = 0;
	if (d->pl.ring)
		vigil_pipeline_free(&d->pl);
	for (size_t i = 0; i < d->n_broken; i++)
		vigil_instance_free(d->broken[i]);
	free(d->broken);
	for (size_t i = 0; i < d->n_all; i++) {
		if (d->all[i]->worker) {
			vigil_worker_free(d->all[i]->worker);
			free(d->all[i]->worker);
		}
		vigil_instance_free(d->all[i]);
	}
	free(d->all);
	for (size_t k = 0; k < VIGIL_ARRAY_SIZE(d->by_kind); k++)
		free(d->by_kind[k]);
	vigil_optslots_free(d->dopts, d->n_dopts);
	vigil_optslots_free(d->iopts, d->n_iopts);
	vigil_silences_free(&d->ini_silences);
	vigil_daemon_ctl_free(d);
	vigil_loader_free(&d->loader);
	vigil_conf_free(&d->conf);
	free(d->state_dir);
	if (d->epfd >= 0)
		close(d->epfd);
	if (d->sigfd >= 0)
		close(d->sigfd);
	for (int i = 0; i < 2; i++)
		if (d->sigpipe[i] >= 0)
			close(d->sigpipe[i]);
	if (d->timerfd >= 0)
		close(d->timerfd);
	memset(d, 0, sizeof(*d));
}
