/*
 * worker.c - a plugin instance in its own process, supervised.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "instance.h"
#include "log.h"
#include "parse.h"
#include "pipeline.h"
#include "proto.h"
#include "series.h"
#include "spawner.h"
#include "worker.h"

/* Readings are sent in frames of about this size. */
#define BATCH_BYTES (256 * 1024)
/* Bytes read from one worker per turn of the event loop. */
#define RX_SLICE (256 * 1024)
/* How often the RSS of a busy worker is looked at. */
#define MEM_CHECK_BUSY (50 * VIGIL_MSEC)
#define MEM_CHECK_IDLE VIGIL_SEC
/* How long an EOF may wait for the exit status that explains it. */
#define EXIT_WAIT (200 * VIGIL_MSEC)
/* Batches of readings (eval, write) queued for a busy worker before the
 * oldest is dropped: up to about 16 x BATCH_BYTES. */
#define MAX_BATCHES 16
/* An action's run() enforces its own timeout (and kills what it started):
 * the worker's deadline leaves it this much more to report. */
#define RUN_GRACE (10 * VIGIL_SEC)
/* A worker stopping for idle_timeout gets this long to run fini. */
#define PARK_GRACE (2 * VIGIL_SEC)
/* Whose fault a death in a group is (struct vigil_worker's `fault`): the
 * member the process was serving (from the shared page), the member whose
 * socket carried nonsense, or every member (the memory limit). */
#define WORKER_FAULT_SERVING 0
#define WORKER_FAULT_SELF 1
#define WORKER_FAULT_ALL 2
/* An init that fails (not a crash) is retried after 1s, 2s, 4s, ... */
#define INIT_RETRY_MIN VIGIL_SEC
#define INIT_RETRY_MAX (300 * VIGIL_SEC)

static const char *const state_names[] = {
	[VIGIL_WORKER_DOWN] = "down",       [VIGIL_WORKER_STARTING] = "starting",
	[VIGIL_WORKER_IDLE] = "running",    [VIGIL_WORKER_BUSY] = "running",
	[VIGIL_WORKER_BACKOFF] = "backoff", [VIGIL_WORKER_FAILED] = "failed",
	[VIGIL_WORKER_FATAL] = "misconfigured",
	[VIGIL_WORKER_STANDBY] = "standby", [VIGIL_WORKER_PARKING] = "standby",
};

const char *vigil_worker_state_name(enum vigil_worker_state s)
{
	return s < VIGIL_ARRAY_SIZE(state_names) ? state_names[s] : "?";
}

/* ===================================================== the worker's side */

/*
 * The series the core has defined to this worker (a rule's or a sink's),
 * by id: open addressing. Each keeps its strings, for the readings that
 * name it, and a rule's state for it.
 */
struct in_series {
	char *metric;
	char *unit;
	struct vigil_labels labels;
	void *state; /* the rule's per-series slot */
};

struct slot_map {
	uint64_t *ids; /* 0: empty (series ids start at 1) */
	struct in_series **v;
	size_t cap, n;
};

static struct in_series **slot_find(const struct slot_map *m, uint64_t id)
{
	size_t i;

	if (!m->cap)
		return NULL;
	for (i = id & (m->cap - 1); m->ids[i]; i = (i + 1) & (m->cap - 1))
		if (m->ids[i] == id)
			return &m->v[i];
	return NULL;
}

static struct in_series **slot_get(struct slot_map *m, uint64_t id)
{
	size_t i;

	if ((m->n + 1) * 4 > m->cap * 3) {
		struct slot_map big = {0};

		big.cap = m->cap ? m->cap * 2 : 64;
		big.ids = vigil_xcalloc(big.cap, sizeof(*big.ids));
		big.v = vigil_xcalloc(big.cap, sizeof(*big.v));
		for (size_t k = 0; k < m->cap; k++) {
			if (!m->ids[k])
				continue;
			for (i = m->ids[k] & (big.cap - 1); big.ids[i];
			     i = (i + 1) & (big.cap - 1))
				;
			big.ids[i] = m->ids[k];
			big.v[i] = m->v[k];
			big.n++;
		}
		free(m->ids);
		free(m->v);
		*m = big;
	}
	for (i = id & (m->cap - 1); m->ids[i] && m->ids[i] != id;
	     i = (i + 1) & (m->cap - 1))
		;
	if (!m->ids[i]) {
		m->ids[i] = id;
		m->n++;
	}
	return &m->v[i];
}

struct child {
	int fd;
	struct vigil_instance *inst;
	struct vigil_batch batch;  /* a sensor's readings, being gathered */
	struct vigil_wire conds;   /* a rule's condition frames, likewise */
	struct vigil_series_table out; /* a sensor's series, by its ids */
	struct slot_map slots;     /* the series the core defined */
	unsigned char *in; /* the call being served */
	size_t in_cap;
};

static void child_write(struct child *c, const struct vigil_buf *b)
{
	for (size_t off = 0; off < b->len;) {
		ssize_t k = write(c->fd, b->data + off, b->len - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			_exit(VIGIL_WORKER_EXIT_SOCKET);
		off += (size_t)k;
	}
}

static void batch_flush(struct child *c)
{
	if (c->batch.count == 0 && c->batch.n_defs == 0)
		return;
	vigil_batch_end(&c->batch, 0);
	child_write(c, &c->batch.frame.b);
	vigil_batch_begin(&c->batch, VIGIL_MSG_READINGS);
}

static int child_reading(void *user, struct vigil_instance *inst,
			 const struct vigil_reading *r)
{
	struct child *c = user;
	struct vigil_reading copy = *r;
	struct vigil_series *s;

	if (inst->kind != VIGIL_KIND_SENSOR)
		return -EPERM;
	if (!r->metric || (r->n_labels && !r->labels))
		return -EINVAL;
	for (size_t i = 0; i < r->n_labels; i++)
		if (!r->labels[i].key)
			return -EINVAL;
	/* The series is found here, in the worker, so the core does not
	 * compare strings for it: the core learns a series' strings once,
	 * then only its id. */
	if (!c->out.buckets)
		vigil_series_init(&c->out, VIGIL_WORKER_SERIES_MAX, NULL, NULL);
	s = vigil_series_find(&c->out, inst, r);
	if (!s) {
		size_t had = c->out.count;

		s = vigil_series_intern(&c->out, inst, r);
		if (!s)
			return -ENOSPC;
		if (c->out.count != had) {
			/* Names the core refuses still go (it says so, and
			 * counts each reading refused), but the plugin hears
			 * -EINVAL as it would inside vigild. */
			size_t bad_label;

			s->refused = vigil_reading_names_bad(s->metric,
							     s->labels.v,
							     s->labels.n,
							     &bad_label) != 0;
			vigil_batch_define(&c->batch, s->id, s->metric, s->unit,
					   s->labels.v, s->labels.n);
		}
	}
	/* Stamped here, at the read, not when the core gets the batch. */
	if (!copy.time)
		copy.time = vigil_now();
	vigil_batch_add(&c->batch, s->id, &copy);
	if (vigil_batch_bytes(&c->batch) >= BATCH_BYTES)
		batch_flush(c);
	return s->refused ? -EINVAL : 0;
}

/* A rule's conditions go to the core in frames of their own (the core
 * checks each), written together before the reply of the call that
 * emitted them, or when they reach BATCH_BYTES: one write, not one per
 * condition, when a whole batch of series crosses a threshold. */
static void conds_flush(struct child *c)
{
	if (!c->conds.b.len)
		return;
	child_write(c, &c->conds.b);
	c->conds.b.len = 0;
}

static int child_condition(void *user, struct vigil_instance *inst,
			   const struct vigil_condition *cond)
{
	struct child *c = user;
	struct vigil_wire w = {0};

	if (inst->kind != VIGIL_KIND_RULE)
		return -EPERM;
	vigil_wire_begin(&w, VIGIL_MSG_CONDITION, 0);
	vigil_wire_put_condition(&w, cond);
	vigil_wire_end(&w);
	vigil_buf_add(&c->conds.b, w.b.data, w.b.len);
	vigil_wire_free(&w);
	if (c->conds.b.len >= BATCH_BYTES)
		conds_flush(c);
	return 0;
}

static const struct vigil_emit_ops child_emit = {
	.reading = child_reading,
	.condition = child_condition,
};

/* Ends a call: REPLY with rc, then whatever `more` holds. */
static void child_reply(struct child *c, uint16_t seq, int rc,
			const struct vigil_wire *more)
{
	struct vigil_wire w = {0};

	conds_flush(c);
	vigil_wire_begin(&w, VIGIL_MSG_REPLY, seq);
	vigil_wire_put_u32(&w, (uint32_t)rc);
	if (more && more->b.len)
		vigil_buf_add(&w.b, more->b.data, more->b.len);
	vigil_wire_end(&w);
	child_write(c, &w.b);
	vigil_wire_free(&w);
}

/* Reads exactly n bytes; 0 at a clean EOF before the first. */
static int read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = read(fd, (char *)buf + got, n - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return got == 0 && k == 0 ? 0 : -1;
		got += (size_t)k;
	}
	return 1;
}

/* Makes the process a clean worker: signals back to their defaults, its
 * own process group, death with the core, only the n sockets `fds` (as 3,
 * 4, ...) and stdio; its address space bounded by `limit`. */
static void child_setup(const int *fds, size_t n, uint64_t limit, pid_t core)
{
	int tmp[VIGIL_GROUP_MAX];
	sigset_t none;

	sigemptyset(&none);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != core)
		_exit(1); /* the core died before we could ask */
	/* Above every target first, so no socket is overwritten by
	 * another's move. */
	for (size_t i = 0; i < n; i++)
		if ((tmp[i] = fcntl(fds[i], F_DUPFD, 3 + VIGIL_GROUP_MAX)) < 0)
			_exit(VIGIL_WORKER_EXIT_SOCKET);
	for (size_t i = 0; i < n; i++) {
		if (dup2(tmp[i], 3 + (int)i) < 0)
			_exit(VIGIL_WORKER_EXIT_SOCKET);
		/* Not for the programs a plugin runs: one that outlived the
		 * worker would hold its socket, and a write of its would be
		 * a frame. */
		fcntl(3 + (int)i, F_SETFD, FD_CLOEXEC);
	}
	close_range(3 + (unsigned)n, ~0U, 0);
#if !defined(__SANITIZE_ADDRESS__)
	/* Bound the address space a little beyond the limit the core checks,
	 * so a runaway allocation fails here instead of swapping the board.
	 * (AddressSanitizer reserves terabytes of address space: not there.) */
	if (limit) {
		struct rlimit rl;
		long pages = 0;
		FILE *f = fopen("/proc/self/statm", "re");

		if (f) {
			if (fscanf(f, "%ld", &pages) != 1)
				pages = 0;
			fclose(f);
		}
		rl.rlim_cur = rl.rlim_max = (rlim_t)pages * (rlim_t)getpagesize() +
					    limit * 2;
		setrlimit(RLIMIT_AS, &rl);
	}
#endif
}

/* The definitions at the head of a batch from the core. */
static void read_series(struct child *c, struct vigil_wire_reader *r)
{
	uint32_t n = vigil_wire_get_u32(r);

	for (uint32_t i = 0; i < n && !r->err; i++) {
		struct in_series **slot, *is;
		struct vigil_reading rd;
		uint64_t id;

		if (vigil_wire_get_series(r, &id, &rd) < 0)
			break;
		slot = slot_get(&c->slots, id);
		if (!(is = *slot))
			is = *slot = vigil_xcalloc(1, sizeof(*is));
		/* Defined again: the core lost track (a dropped batch
		 * keeps its definitions, so this should not happen); the
		 * new strings win, the rule's state stays. */
		free(is->metric);
		free(is->unit);
		vigil_labels_free(&is->labels);
		is->metric = vigil_xstrdup(rd.metric);
		is->unit = vigil_xstrdup(rd.unit ? rd.unit : "");
		vigil_labels_copy(&is->labels, rd.labels, rd.n_labels);
	}
	if (r->err)
		_exit(2);
}

/* The next reading of a batch from the core, whole again. */
static struct in_series *read_sample(struct child *c,
				     struct vigil_wire_reader *r,
				     struct vigil_reading *rd)
{
	struct in_series **slot;
	uint64_t id;

	if (vigil_wire_get_sample(r, &id, rd) < 0 ||
	    !(slot = slot_find(&c->slots, id)))
		_exit(2); /* garbage, or a series never defined */
	rd->metric = (*slot)->metric;
	rd->unit = (*slot)->unit;
	rd->labels = (*slot)->labels.v;
	rd->n_labels = (*slot)->labels.n;
	rd->series_id = id;
	return *slot;
}

/* eval: a batch; replies rc (the last error) and the error count. */
static void serve_eval(struct child *c, struct vigil_wire_reader *r,
		       uint16_t seq)
{
	struct vigil_instance *inst = c->inst;
	struct vigil_wire more = {0};
	uint32_t n, errors = 0;
	int rc = 0;

	read_series(c, r);
	n = vigil_wire_get_u32(r);
	for (uint32_t i = 0; i < n && !r->err; i++) {
		struct vigil_reading rd;
		struct in_series *is = read_sample(c, r, &rd);
		int k = inst->desc->eval(inst->state, &inst->ctx, &rd,
					 &is->state);
		if (k < 0) {
			rc = k;
			errors++;
		}
	}
	if (r->err)
		_exit(2);
	vigil_wire_put_u32(&more, errors);
	child_reply(c, seq, rc, &more);
	vigil_wire_free(&more);
}

/* write: a batch, given to the sink in one call. */
static void serve_write(struct child *c, struct vigil_wire_reader *r,
			uint16_t seq)
{
	struct vigil_instance *inst = c->inst;
	struct vigil_reading *v;
	uint32_t n;
	int rc = 0;

	read_series(c, r);
	n = vigil_wire_get_u32(r);
	if (r->err || n > VIGIL_FRAME_MAX / 32)
		_exit(2);
	v = vigil_xcalloc(n ? n : 1, sizeof(*v));
	for (uint32_t i = 0; i < n; i++)
		read_sample(c, r, &v[i]);
	if (n && inst->desc->write)
		rc = inst->desc->write(inst->state, &inst->ctx, v, n);
	free(v);
	child_reply(c, seq, rc, NULL);
}

/* deliver: events, delivered in order until one fails, or until half the
 * call's deadline has gone (the core sends the rest next); replies rc (the
 * failure, or 0) and how many were delivered. */
static void serve_deliver(struct child *c, struct vigil_wire_reader *r,
			  uint16_t seq)
{
	struct vigil_instance *inst = c->inst;
	struct vigil_wire more = {0};
	vigil_time_ns until = vigil_monotonic() + inst->timeout / 2;
	uint32_t n = vigil_wire_get_u32(r), done = 0;
	int rc = 0;

	while (done < n) {
		struct vigil_event e;

		if (vigil_wire_get_event(r, &e) < 0)
			_exit(2);
		rc = inst->desc->deliver(inst->state, &inst->ctx, &e);
		if (rc < 0)
			break;
		done++;
		if (vigil_monotonic() >= until)
			break;
	}
	vigil_wire_put_u32(&more, done);
	child_reply(c, seq, rc < 0 ? rc : 0, &more);
	vigil_wire_free(&more);
}

/* run: an event; replies rc, exit status, outcome and output. */
static void serve_run(struct child *c, struct vigil_wire_reader *r,
		      uint16_t seq)
{
	struct vigil_instance *inst = c->inst;
	struct vigil_wire more = {0};
	char output[1024] = "";
	struct vigil_action_result res = {
		.exit_status = -1,
		.outcome = VIGIL_ACTION_ERROR,
		.output = output,
		.output_size = sizeof(output),
	};
	struct vigil_event e;
	int rc;

	if (vigil_wire_get_event(r, &e) < 0)
		_exit(2);
	rc = inst->desc->run(inst->state, &inst->ctx, &e, &res);
	output[sizeof(output) - 1] = '\0';
	vigil_wire_put_i64(&more, res.exit_status);
	vigil_wire_put_u32(&more, (uint32_t)res.outcome);
	vigil_wire_put_str(&more, output);
	child_reply(c, seq, rc, &more);
	vigil_wire_free(&more);
}

static void child_fini(struct child *c)
{
	struct vigil_instance *inst = c->inst;

	for (size_t i = 0; i < c->slots.cap; i++) {
		struct in_series *is = c->slots.v[i];

		if (!c->slots.ids[i] || !is)
			continue;
		if (is->state && inst->desc->series_free)
			inst->desc->series_free(inst->state, is->state);
		else
			free(is->state);
		free(is->metric);
		free(is->unit);
		vigil_labels_free(&is->labels);
		free(is);
	}
	if (c->out.buckets)
		vigil_series_free(&c->out, NULL);
	vigil_instance_stop(inst);
}

/* Serves one call from the core on c's socket. 1 once the instance has
 * finished (fini); exits the process when the core is gone or sent
 * nonsense. */
static int serve(struct child *c)
{
	struct vigil_instance *inst = c->inst;
	unsigned char head[VIGIL_FRAME_HEADER];
	struct vigil_wire_reader r;
	struct vigil_frame f;
	uint32_t len;
	size_t used;
	int rc, k = read_full(c->fd, head, sizeof(head));

	if (k < 0 && errno == EBADF)
		_exit(VIGIL_WORKER_EXIT_SOCKET); /* a plugin closed it */
	if (k <= 0)
		_exit(0); /* the core went away */
	memcpy(&len, head, 4);
	if (len > VIGIL_FRAME_MAX || !vigil_msg_known(head[5]))
		_exit(2);
	vigil_grow((void **)&c->in, &c->in_cap, sizeof(head) + len, 1);
	memcpy(c->in, head, sizeof(head));
	if (len && read_full(c->fd, c->in + sizeof(head), len) <= 0)
		_exit(0);
	if (vigil_frame_parse(c->in, sizeof(head) + len, &f, &used, NULL, 0) !=
	    1)
		_exit(2);
	vigil_wire_reader_init(&r, &f);
	switch (f.type) {
	case VIGIL_MSG_READ:
		rc = inst->desc->read(inst->state, &inst->ctx);
		batch_flush(c);
		child_reply(c, f.seq, rc, NULL);
		break;
	case VIGIL_MSG_EVAL:
		serve_eval(c, &r, f.seq);
		break;
	case VIGIL_MSG_WRITE:
		serve_write(c, &r, f.seq);
		break;
	case VIGIL_MSG_DELIVER:
		serve_deliver(c, &r, f.seq);
		break;
	case VIGIL_MSG_FLUSH:
		rc = inst->desc->flush ? inst->desc->flush(inst->state, &inst->ctx) :
					 0;
		child_reply(c, f.seq, rc, NULL);
		break;
	case VIGIL_MSG_RUN:
		serve_run(c, &r, f.seq);
		break;
	case VIGIL_MSG_FINI:
		vigil_wire_reader_free(&r);
		child_fini(c);
		return 1;
	default:
		_exit(2);
	}
	vigil_wire_reader_free(&r);
	return 0;
}

/* The most private memory a worker serving insts may hold: their
 * memory_limits added, 0 (none) if one has none. */
static uint64_t limit_of(struct vigil_instance *const *insts, size_t n)
{
	uint64_t limit = 0;

	for (size_t i = 0; i < n; i++) {
		if (!insts[i]->memory_limit)
			return 0;
		limit += insts[i]->memory_limit;
	}
	return limit;
}

/* The page a group's processes share with the core: word `slot` is the
 * member a group's process is serving (-1: none), so the core knows whom
 * to blame for its death. Mapped before the spawner is forked. */
static volatile int32_t *shared_slots;
static size_t n_shared_slots, shared_len;

/* The sockets' identities, taken when the process starts: a plugin that
 * closes or replaces a sibling's socket (fd 3 is the first member's) is
 * caught at the end of its own call, while it is still the one served,
 * instead of the sibling being blamed when its socket fails. */
static ino_t socket_ino[VIGIL_GROUP_MAX];

static void sockets_intact(const struct child *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct stat st;

		if (c[i].fd >= 0 &&
		    (fstat(c[i].fd, &st) < 0 || st.st_ino != socket_ino[i]))
			_exit(VIGIL_WORKER_EXIT_SOCKET);
	}
}

void vigil_group_main(struct vigil_instance *const *insts, const int *fds, size_t n,
		 pid_t core, int slot)
{
	static struct child c[VIGIL_GROUP_MAX];
	volatile int32_t *serving = slot >= 0 && (size_t)slot < n_shared_slots ?
					    &shared_slots[slot] :
					    NULL;
	size_t left = n;
	char err[1024];

	child_setup(fds, n, limit_of(insts, n), core);
	for (size_t i = 0; i < n; i++) {
		struct stat st;

		c[i].inst = insts[i];
		c[i].fd = 3 + (int)i;
		socket_ino[i] = fstat(c[i].fd, &st) == 0 ? st.st_ino : 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct vigil_instance *inst = insts[i];
		int rc;

		if (serving)
			*serving = (int32_t)i;
		if (vigil_module_load_here(inst->mod, err, sizeof(err)) < 0) {
			vigil_log(VIGIL_LOG_ERR, inst->section, "%s", err);
			_exit(VIGIL_WORKER_EXIT_LOAD);
		}
		vigil_batch_begin(&c[i].batch, VIGIL_MSG_READINGS);
		rc = vigil_instance_start(inst, &child_emit, &c[i]);
		if (n > 1)
			sockets_intact(c, n); /* the later members' too */
		batch_flush(&c[i]);
		child_reply(&c[i], 0, rc, NULL);
		if (rc < 0 && n == 1)
			_exit(rc == VIGIL_EFATAL ? VIGIL_WORKER_EXIT_CONFIG : 1);
		if (rc < 0) {
			/* In a group, the others go on: the core reads the
			 * reply, and the member leaves (init_failed_in_group). */
			close(c[i].fd);
			c[i].fd = -1;
			if (--left == 0)
				_exit(1);
		}
	}
	if (n == 1) {
		/* No poll per call. A group of one: whatever kills the
		 * process is its member's doing. */
		if (serving)
			*serving = 0;
		for (;;)
			if (serve(&c[0]))
				_exit(0);
	}
	if (serving)
		*serving = -1;
	for (;;) {
		struct pollfd p[VIGIL_GROUP_MAX];

		for (size_t i = 0; i < n; i++) {
			p[i].fd = c[i].fd; /* -1 once finished: skipped */
			p[i].events = POLLIN;
			p[i].revents = 0;
		}
		if (poll(p, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(VIGIL_WORKER_EXIT_SOCKET);
		}
		for (size_t i = 0; i < n; i++) {
			int done;

			if (!p[i].revents || c[i].fd < 0)
				continue;
			if (p[i].revents & POLLNVAL) {
				/* closed behind our back, by nobody we know
				 * of (a plugin's thread): nobody is blamed */
				if (serving)
					*serving = -1;
				_exit(VIGIL_WORKER_EXIT_SOCKET);
			}
			if (serving)
				*serving = (int32_t)i;
			done = serve(&c[i]);
			sockets_intact(c, n);
			if (serving)
				*serving = -1;
			if (done) {
				close(c[i].fd);
				c[i].fd = -1;
				if (--left == 0)
					_exit(0);
			}
		}
	}
}

void vigil_worker_main(struct vigil_instance *inst, int fd, pid_t core)
{
	vigil_group_main(&inst, &fd, 1, core, -1);
}

/* ======================================================= the core's side */

void vigil_worker_init(struct vigil_worker *w, struct vigil_instance *inst)
{
	memset(w, 0, sizeof(*w));
	w->inst = inst;
	w->fd = -1;
	w->policy.delay = inst->restart_delay;
	w->policy.delay_max = inst->restart_delay_max;
	w->policy.max_restarts = inst->max_restarts;
	w->policy.window = inst->restart_window;
	w->policy.failed_retry = inst->failed_retry;
	/* Up for a whole window without dying: healthy again. */
	w->policy.healthy_after = inst->restart_window;
}

static vigil_time_ns call_timeout(const struct vigil_worker *w, int type)
{
	return w->inst->timeout + (type == VIGIL_MSG_RUN ? RUN_GRACE : 0);
}

/* The call w is on: the oldest in flight, or init. */
static int head_type(const struct vigil_worker *w)
{
	return w->inflight ? w->inflight->type : VIGIL_MSG_INIT;
}

/* Why w is ended at its deadline. */
static void deadline_reason(const struct vigil_worker *w, char *buf,
			    size_t len)
{
	const char *call = w->call ? w->call : "a call";
	char allowed[32];

	if (w->stop_asked) {
		snprintf(buf, len, "was still in %s when asked to stop", call);
		return;
	}
	vigil_format_duration(call_timeout(w, head_type(w)), allowed,
			      sizeof(allowed));
	snprintf(buf, len, "missed its %s deadline in %s", allowed, call);
}

static int is_batch(int type)
{
	return type == VIGIL_MSG_EVAL || type == VIGIL_MSG_WRITE;
}

static struct vigil_wcall *wcall_new(int type, vigil_worker_done done,
				     void *arg)
{
	struct vigil_wcall *c = vigil_xcalloc(1, sizeof(*c));

	c->type = type;
	c->done = done;
	c->arg = arg;
	if (is_batch(type))
		vigil_batch_begin(&c->b, (enum vigil_msg)type);
	else
		vigil_wire_begin(&c->b.frame, (enum vigil_msg)type, 0);
	return c;
}

static void wcall_free(struct vigil_wcall *c)
{
	vigil_batch_free(&c->b);
	free(c);
}

static void enqueue(struct vigil_worker *w, struct vigil_wcall *c)
{
	if (w->q_tail)
		w->q_tail->next = c;
	else
		w->q_head = c;
	w->q_tail = c;
	w->q_len++;
	if (is_batch(c->type))
		w->q_batches++;
}

static void set_out(struct vigil_worker *w, int on)
{
	struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0),
				 .data.ptr = w};

	if (w->want_out == on || w->fd < 0)
		return;
	if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, w->fd, &ev) == 0)
		w->want_out = on;
}

/* Writes what is left of the calls in flight. A worker that does not
 * read fills the socket: EPOLLOUT waits for room, and the deadline,
 * already running, ends a worker that never makes any. */
static void tx_more(struct vigil_worker *w)
{
	if (w->fd < 0)
		return;
	while (w->tx) {
		struct vigil_buf *b = &w->tx->b.frame.b;
		ssize_t k;

		if (w->tx_off == b->len) {
			w->tx = w->tx->next;
			w->tx_off = 0;
			continue;
		}
		k = send(w->fd, b->data + w->tx_off, b->len - w->tx_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			set_out(w, 1);
			return;
		}
		if (k <= 0)
			return; /* EOF or SIGCHLD will say why */
		w->tx_off += (size_t)k;
	}
	set_out(w, 0);
}

int vigil_worker_accepting(const struct vigil_worker *w)
{
	return w->state == VIGIL_WORKER_STARTING ||
	       w->state == VIGIL_WORKER_IDLE || w->state == VIGIL_WORKER_BUSY ||
	       w->state == VIGIL_WORKER_STANDBY ||
	       w->state == VIGIL_WORKER_PARKING;
}

size_t vigil_worker_pending(const struct vigil_worker *w)
{
	return w->q_len + w->n_inflight;
}

/* The oldest call in flight is the one the worker is on: its deadline
 * runs from when it could start. */
static void head_started(struct vigil_worker *w, vigil_time_ns now)
{
	struct vigil_wcall *c = w->inflight;

	w->call = vigil_msg_name((unsigned)c->type);
	w->call_sent = now;
	w->deadline = now + call_timeout(w, c->type);
}

void vigil_worker_commit(struct vigil_worker *w, vigil_time_ns now)
{
	struct vigil_wcall *c;
	int sent = 0;

	if (w->state != VIGIL_WORKER_IDLE && w->state != VIGIL_WORKER_BUSY)
		return;
	while ((c = w->q_head) && w->n_inflight < VIGIL_WORKER_INFLIGHT) {
		w->q_head = c->next;
		if (!w->q_head)
			w->q_tail = NULL;
		c->next = NULL;
		w->q_len--;
		c->seq = ++w->seq;
		if (is_batch(c->type)) {
			if (!c->stripped)
				w->q_batches--;
			vigil_batch_end(&c->b, c->seq);
		} else {
			memcpy(c->b.frame.b.data + 6, &c->seq, 2);
			vigil_wire_end(&c->b.frame);
		}
		if (w->inflight_tail)
			w->inflight_tail->next = c;
		else
			w->inflight = c;
		w->inflight_tail = c;
		if (!w->tx) {
			w->tx = c;
			w->tx_off = 0;
		}
		if (w->n_inflight++ == 0)
			head_started(w, now);
		w->state = VIGIL_WORKER_BUSY;
		w->inst->calls++;
		sent = 1;
	}
	if (sent)
		tx_more(w);
}

struct vigil_wcall *vigil_worker_call(struct vigil_worker *w, int type,
				      vigil_worker_done done, void *arg)
{
	struct vigil_wcall *c;

	if (!vigil_worker_accepting(w))
		return NULL;
	c = wcall_new(type, done, arg);
	enqueue(w, c);
	return c;
}

/* A busy worker fell this far behind: its oldest batch makes room. A
 * batch that defines series keeps the definitions, which later batches
 * use, and loses its readings. */
static void drop_oldest_batch(struct vigil_worker *w)
{
	struct vigil_wcall **p = &w->q_head, *c, *prev = NULL;
	vigil_time_ns now;

	while (*p && (!is_batch((*p)->type) || (*p)->stripped)) {
		prev = *p;
		p = &(*p)->next;
	}
	if (!(c = *p))
		return;
	w->q_batches--;
	w->dropped += c->b.count;
	if (c->b.n_defs) {
		vigil_batch_strip(&c->b);
		c->stripped = 1;
	} else {
		*p = c->next;
		if (w->q_tail == c)
			w->q_tail = prev;
		w->q_len--;
		wcall_free(c);
	}
	now = vigil_monotonic();
	if (!w->drop_warned || now - w->drop_warned >= 60 * VIGIL_SEC) {
		w->drop_warned = now;
		vigil_log(VIGIL_LOG_WARNING, w->inst->section,
			  "the worker falls behind: dropping its oldest "
			  "readings; %llu dropped so far",
			  (unsigned long long)w->dropped);
	}
}

int vigil_worker_add(struct vigil_worker *w, int type,
		     const struct vigil_reading *r)
{
	struct vigil_wcall *c = w->q_tail;
	uint64_t id = r->series_id, bit = 1ull << (id & 63);
	size_t word = (size_t)(id >> 6);

	if (!vigil_worker_accepting(w))
		return -ENOTCONN;
	if (!c || c->type != type || c->stripped ||
	    vigil_batch_bytes(&c->b) >= BATCH_BYTES) {
		/* A full batch goes at once if the worker has room for it,
		 * so the worker starts on it while the core makes the next
		 * one. */
		if (c && w->n_inflight < VIGIL_WORKER_INFLIGHT)
			vigil_worker_commit(w, vigil_monotonic());
		if (w->q_batches >= MAX_BATCHES)
			drop_oldest_batch(w);
		c = wcall_new(type, NULL, NULL);
		enqueue(w, c);
	}
	if (word >= w->n_known) {
		size_t had = w->n_known;

		vigil_grow((void **)&w->known, &w->n_known, word + 1,
			   sizeof(*w->known));
		memset(w->known + had, 0, (w->n_known - had) *
						  sizeof(*w->known));
	}
	if (!(w->known[word] & bit)) {
		vigil_batch_define(&c->b, id, r->metric, r->unit, r->labels,
				   r->n_labels);
		w->known[word] |= bit;
	}
	vigil_batch_add(&c->b, id, r);
	return 0;
}

/* The worker process is gone or going: the next one has been told no
 * series yet. */
static void forget_series(struct vigil_worker *w)
{
	free(w->known);
	w->known = NULL;
	w->n_known = 0;
}

/* Ends every call, queued or in flight, with `rc` (the worker is gone). */
static void fail_calls(struct vigil_worker *w, int rc)
{
	struct vigil_wcall *c = w->inflight, *next;

	if (c) {
		w->inflight_tail->next = w->q_head;
		w->q_head = c;
	}
	w->inflight = w->inflight_tail = w->tx = NULL;
	w->n_inflight = 0;
	c = w->q_head;
	w->q_head = w->q_tail = NULL;
	w->q_len = w->q_batches = 0;
	w->tx_off = 0;
	for (; c; c = next) {
		next = c->next;
		if (is_batch(c->type))
			w->dropped += c->b.count;
		if (c->done)
			c->done(c->arg, w, rc, NULL);
		wcall_free(c);
		rc = -ENOTCONN; /* the rest never reached the worker */
	}
}

/* A header-only frame, outside the queue (fini at shutdown). */
static int send_now(struct vigil_worker *w, enum vigil_msg type)
{
	unsigned char frame[VIGIL_FRAME_HEADER] = {0};

	frame[4] = VIGIL_PROTO_VERSION;
	frame[5] = (unsigned char)type;
	return send(w->fd, frame, sizeof(frame), MSG_NOSIGNAL | MSG_DONTWAIT) ==
			       (ssize_t)sizeof(frame) ?
		       0 :
		       -EIO;
}

static void push_failed(struct vigil_worker *w,
			const struct vigil_worker_env *env, int firing)
{
	struct vigil_instance *inst = w->inst;
	struct vigil_buf msg = {0};

	if (firing)
		vigil_buf_printf(&msg, "%s failed: %s (more than %u restarts "
				 "within %llds)",
				 inst->section, w->reason, w->policy.max_restarts,
				 (long long)(w->policy.window / VIGIL_SEC));
	else
		vigil_buf_printf(&msg, "%s runs again", inst->section);
	vigil_pipeline_plugin_failed(env->pl, inst->section, inst->desc->name,
				     firing, msg.data, (double)w->restarts);
	vigil_buf_free(&msg);
	w->failed_incident = firing;
}

/* Peeks at the worker's exit without reaping it: 1 and its status if it
 * has exited. */
static int peek_exit(pid_t pid, int *status)
{
	siginfo_t si = {0};

	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
	    si.si_pid != pid)
		return 0;
	if (si.si_code == CLD_EXITED)
		*status = (si.si_status & 0xff) << 8;
	else
		*status = si.si_status & 0x7f;
	return 1;
}

/* "32M", "40.2M", "512k": a size as memory_limit is written. */
static const char *size_text(char *buf, size_t len, uint64_t v)
{
	if (v && v % (1u << 20) == 0)
		snprintf(buf, len, "%lluM", (unsigned long long)(v >> 20));
	else if (v >= (1u << 20))
		snprintf(buf, len, "%.1fM", (double)v / (1u << 20));
	else
		snprintf(buf, len, "%lluk", (unsigned long long)((v + 1023) >> 10));
	return buf;
}

/* Waits (polling, 1 ms) until `pid` has exited or `until` (monotonic) has
 * passed; 1 and its status if it exited. It is not reaped. */
static int wait_exit(pid_t pid, vigil_time_ns until, int *status)
{
	do {
		if (peek_exit(pid, status))
			return 1;
		usleep(1000);
	} while (vigil_monotonic() < until);
	return 0;
}

/* Kills the process group of `pid` (whatever it forked dies with it) and
 * reaps `pid`; returns its wait status. Killed before reaped: the group id
 * cannot have been reused while its leader is a zombie. */
static int kill_and_reap(pid_t pid)
{
	int status = 0;

	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return status;
}

/* Forgets the worker's process and socket. */
static void detach(struct vigil_worker *w, const struct vigil_worker_env *env)
{
	if (w->fd >= 0) {
		epoll_ctl(env->epfd, EPOLL_CTL_DEL, w->fd, NULL);
		close(w->fd);
	}
	w->fd = -1;
	w->pid = 0;
	w->want_out = 0;
}

/* Says why a worker ended, from its wait status. */
static void exit_reason(struct vigil_worker *w, int status, char *buf,
			size_t len)
{
	if (w && w->init_error[0] && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 1)
		snprintf(buf, len, "%s", w->init_error);
	else if (WIFEXITED(status) &&
	    WEXITSTATUS(status) == VIGIL_WORKER_EXIT_SOCKET)
		snprintf(buf, len, "closed its socket");
	else if (WIFEXITED(status) &&
		 WEXITSTATUS(status) == VIGIL_WORKER_EXIT_LOAD)
		snprintf(buf, len, "could not load the plugin (see above)");
	else
		vigil_exit_reason(status, buf, len);
}

static void group_died(struct vigil_worker *w,
		       const struct vigil_worker_env *env, vigil_time_ns now,
		       int rc, const char *reason);
static int process_frames(struct vigil_worker *w,
			  const struct vigil_worker_env *env, vigil_time_ns now,
			  char *why, size_t whylen);

/* After the death of w's worker `pid` (0: none started), reaped with
 * `status`: decides when it runs again. */
static void worker_ended(struct vigil_worker *w,
			 const struct vigil_worker_env *env, vigil_time_ns now,
			 int rc, const char *reason, pid_t pid, int status)
{
	struct vigil_instance *inst = w->inst;
	char when[32], what[48] = "could not start a worker";
	vigil_time_ns delay;

	if (pid > 0)
		snprintf(what, sizeof(what), "worker %d died", (int)pid);
	detach(w, env);
	w->rx_len = 0;
	w->deadline = 0;
	if (w->state == VIGIL_WORKER_PARKING) {
		/* Asked to stop while idle: whatever its end, it is not a
		 * death. What was queued meanwhile starts it again. */
		w->state = VIGIL_WORKER_STANDBY;
		vigil_log(VIGIL_LOG_DEBUG, inst->section,
			  "worker %d stopped (idle_timeout): %s", (int)pid,
			  reason);
		return;
	}
	snprintf(w->reason, sizeof(w->reason), "%s", reason);
	w->woken = 0;
	forget_series(w);
	/* Not accepting calls from here on, so what the callbacks do cannot
	 * queue more for this worker. */
	w->state = VIGIL_WORKER_BACKOFF;
	fail_calls(w, rc);

	if (pid > 0 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == VIGIL_WORKER_EXIT_CONFIG) {
		w->state = VIGIL_WORKER_FATAL;
		inst->fatal = 1;
		vigil_log(VIGIL_LOG_ERR, inst->section,
			  "misconfigured (not retried): fix the section and "
			  "restart vigild");
		return;
	}
	if (pid > 0 && w->init_error[0] && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 1) {
		/* init said no (the device or a directory is not there yet):
		 * not a crash. Retried as in the core, 1s, 2s, 4s ... 5min,
		 * outside the restart intensity. */
		delay = INIT_RETRY_MIN;
		for (unsigned i = 1; i < inst->init_failures &&
				     delay < INIT_RETRY_MAX; i++)
			delay *= 2;
		if (delay > INIT_RETRY_MAX)
			delay = INIT_RETRY_MAX;
		inst->init_failures++;
		w->state = VIGIL_WORKER_BACKOFF;
		w->restart_at = now + delay;
		vigil_format_duration(delay, when, sizeof(when));
		vigil_log(inst->init_failures == 1 ? VIGIL_LOG_NOTICE :
						     VIGIL_LOG_INFO,
			  inst->section, "will retry in %s", when);
		return;
	}
	w->restarts++;
	if (vigil_restart_decide(&w->policy, &w->rs, now,
				 (uint32_t)random(), &delay) ==
	    VIGIL_RESTART_FAILED) {
		w->state = VIGIL_WORKER_FAILED;
		w->restart_at = now + delay;
		vigil_format_duration(delay, when, sizeof(when));
		vigil_log(VIGIL_LOG_ERR, inst->section,
			  "%s: %s; FAILED after %u %s in %llds, next try in %s",
			  what, reason, w->policy.max_restarts,
			  pid > 0 ? "restarts" : "tries",
			  (long long)(w->policy.window / VIGIL_SEC), when);
		if (!w->failed_incident)
			push_failed(w, env, 1);
		return;
	}
	w->state = VIGIL_WORKER_BACKOFF;
	w->restart_at = now + delay;
	vigil_format_duration(delay - delay % VIGIL_MSEC, when, sizeof(when));
	vigil_log(VIGIL_LOG_WARNING, inst->section,
		  "%s: %s; %s in %s (restart %llu)", what, reason,
		  pid > 0 ? "restarting" : "trying again", when,
		  (unsigned long long)w->restarts);
}

/*
 * The worker is gone, or must go: kill its process group (whatever it
 * forked dies with it), reap it, and decide when it runs again; in a
 * group, for every member (group_died).
 */
static void worker_died(struct vigil_worker *w,
			const struct vigil_worker_env *env, vigil_time_ns now,
			int rc, const char *reason)
{
	pid_t pid = w->pid;

	if (w->group && pid > 0) {
		if (pid == w->group->pid)
			group_died(w, env, now, rc, reason);
		return; /* else: its group's death is being handled */
	}
	worker_ended(w, env, now, rc, reason, pid,
		     pid > 0 ? kill_and_reap(pid) : 0);
}

/* ------------------------------------------------------ worker groups */

size_t vigil_worker_groups(struct vigil_instance *const *all, size_t n,
			   struct vigil_wgroup **out)
{
	struct vigil_wgroup *g;
	size_t ng = 0, grouped = 0; /* at most as many groups as members */

	*out = NULL;
	for (size_t i = 0; i < n; i++)
		grouped += all[i]->isolated && all[i]->worker_group;
	if (!grouped)
		return 0;
	shared_len = grouped * sizeof(int32_t);
	shared_slots = mmap(NULL, shared_len,
			    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			    -1, 0);
	if (shared_slots == MAP_FAILED) {
		vigil_warn("cannot map the page worker groups share (%s): "
			   "every instance gets a worker of its own",
			   strerror(errno));
		shared_slots = NULL;
		return 0;
	}
	g = vigil_xcalloc(grouped, sizeof(*g));
	for (size_t i = 0; i < n; i++) {
		struct vigil_instance *inst = all[i];
		size_t j;

		if (!inst->isolated || !inst->worker_group)
			continue;
		for (j = 0; j < ng && strcmp(g[j].name, inst->worker_group); j++)
			;
		if (j == ng) {
			g[ng].name = vigil_xstrdup(inst->worker_group);
			g[ng].slot = (int)ng;
			shared_slots[ng] = -1;
			ng++;
		}
		if (g[j].n == VIGIL_GROUP_MAX)
			continue; /* alone: said at load (lint_groups) */
		if (!inst->worker) {
			inst->worker = vigil_xcalloc(1, sizeof(*inst->worker));
			vigil_worker_init(inst->worker, inst);
		}
		inst->worker->group = &g[j];
		g[j].m[g[j].n++] = inst->worker;
	}
	for (size_t j = 0; j < ng; j++) {
		struct vigil_instance *insts[VIGIL_GROUP_MAX];

		for (size_t k = 0; k < g[j].n; k++)
			insts[k] = g[j].m[k]->inst;
		g[j].memory_limit = limit_of(insts, g[j].n);
	}
	n_shared_slots = ng;
	*out = g;
	return ng;
}

void vigil_worker_groups_free(struct vigil_wgroup *g, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < g[i].n; k++)
			g[i].m[k]->group = NULL;
		free(g[i].name);
	}
	free(g);
	if (shared_slots)
		munmap((void *)shared_slots, shared_len);
	shared_slots = NULL;
	n_shared_slots = 0;
}

/* The member g's process is serving now, or NULL. */
static struct vigil_worker *serving(const struct vigil_wgroup *g)
{
	int32_t s = shared_slots && (size_t)g->slot < n_shared_slots ?
			    shared_slots[g->slot] :
			    -1;

	return s >= 0 && (size_t)s < g->n_at && g->at[s]->group == g ?
		       g->at[s] :
		       NULL;
}

/* Takes what the member's socket still holds (readings sent, the reply
 * that says why init failed) before its process is killed. */
static void drain(struct vigil_worker *x, const struct vigil_worker_env *env,
		  vigil_time_ns now)
{
	char why[192];

	while (x->fd >= 0) {
		ssize_t k;

		vigil_grow((void **)&x->rx, &x->rx_cap, x->rx_len + 65536, 1);
		k = recv(x->fd, x->rx + x->rx_len, x->rx_cap - x->rx_len,
			 MSG_DONTWAIT);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		x->rx_len += (size_t)k;
		if (process_frames(x, env, now, why, sizeof(why)) < 0)
			break;
	}
}

/* Leaves the group: a worker of its own from now on. */
static void leave(struct vigil_worker *x)
{
	struct vigil_wgroup *g = x->group;
	size_t k = 0;

	for (size_t i = 0; i < g->n; i++)
		if (g->m[i] != x)
			g->m[k++] = g->m[i];
	g->n = k;
	x->group = NULL;
}

/* A member's init failed: the group's process closed its socket and
 * serves the others on. The member leaves the group, ended as its own
 * worker's exit would have ended it (retried, or FATAL). */
static void init_failed_in_group(struct vigil_worker *w,
				 const struct vigil_worker_env *env,
				 vigil_time_ns now, int rc)
{
	struct vigil_wgroup *g = w->group;
	pid_t pid = w->pid;
	int status = (rc == VIGIL_EFATAL ? VIGIL_WORKER_EXIT_CONFIG : 1) << 8;

	leave(w);
	vigil_log(VIGIL_LOG_NOTICE, w->inst->section,
		  "leaves worker %s: it runs in a worker of its own from now "
		  "on", g->name);
	worker_ended(w, env, now, -ECONNRESET, w->init_error, pid, status);
	if (!g->n && g->pid > 0) {
		/* the last: its process ends with it */
		kill_and_reap(g->pid);
		g->pid = 0;
	}
}

/* The process of w's group died, or must: see struct vigil_wgroup. */
static void group_died(struct vigil_worker *w,
		       const struct vigil_worker_env *env, vigil_time_ns now,
		       int rc, const char *reason)
{
	struct vigil_wgroup *g = w->group;
	struct vigil_worker *guilty = NULL, *on = serving(g);
	struct vigil_worker *was[VIGIL_GROUP_MAX];
	size_t n = g->n;
	pid_t pid = g->pid;
	char why[192];
	int status;

	/* Nobody else handles it meanwhile: members whose pid is not the
	 * group's return at once from worker_died. What is drained can end
	 * a member (its init failed): it leaves then, so the members are
	 * taken first. */
	g->pid = 0;
	memcpy(was, g->m, n * sizeof(*was));
	for (size_t i = 0; i < n; i++)
		drain(was[i], env, now);
	status = kill_and_reap(pid);
	if (w->fault == WORKER_FAULT_SELF)
		guilty = w;
	else if (w->fault == WORKER_FAULT_SERVING)
		guilty = on ? on : rc == -ETIMEDOUT ? w : NULL;
	if (guilty && (guilty->group != g || guilty->pid != pid))
		guilty = NULL; /* it left while drained, or was not attached */
	for (size_t i = 0; i < n; i++)
		was[i]->fault = WORKER_FAULT_SERVING; /* a drain may set it */
	if (shared_slots)
		shared_slots[g->slot] = -1;
	snprintf(why, sizeof(why), "%s", reason);
	if (guilty && guilty != w && rc != -ETIMEDOUT)
		exit_reason(guilty, status, why, sizeof(why)); /* its words */
	else if (guilty && guilty != w)
		/* w's call waited; the one it waited for is late */
		deadline_reason(guilty, why, sizeof(why));
	if (!guilty) {
		/* Nobody in particular: each member takes the death, and
		 * none shares a worker again (one not attached yet - a spawn
		 * whose attach failed - waits for its restart as it was). */
		while (g->n) {
			struct vigil_worker *x = g->m[0];

			leave(x);
			if (x->pid == pid)
				worker_ended(x, env, now,
					     x == w ? rc : -ECONNRESET, why, pid,
					     status);
		}
		return;
	}
	leave(guilty);
	vigil_log(VIGIL_LOG_NOTICE, guilty->inst->section,
		  "leaves worker %s: it runs in a worker of its own from now on",
		  g->name);
	worker_ended(guilty, env, now, guilty == w ? rc : -ECONNRESET, why, pid,
		     status);
	for (size_t i = 0; i < g->n; i++) {
		struct vigil_worker *x = g->m[i];

		if (x->pid != pid)
			continue; /* not attached yet: restarts as it was */
		detach(x, env);
		x->rx_len = 0;
		x->deadline = 0;
		x->woken = 0;
		forget_series(x);
		x->restarts++;
		if (snprintf(x->reason, sizeof(x->reason),
			     "restarted with worker %s: %s %s", g->name,
			     guilty->inst->section, why) >= (int)sizeof(x->reason))
			x->reason[sizeof(x->reason) - 1] = '\0'; /* cut */
		x->state = VIGIL_WORKER_BACKOFF;
		x->restart_at = now;
		fail_calls(x, -ECONNRESET);
		vigil_log(VIGIL_LOG_WARNING, x->inst->section,
			  "worker %d (%s) died with %s: restarting at once "
			  "(restart %llu)",
			  (int)pid, g->name, guilty->inst->section,
			  (unsigned long long)x->restarts);
	}
}

/* w's worker `pid` is forked; `fd` is w's end of its socket. */
static void attach(struct vigil_worker *w, const struct vigil_worker_env *env,
		   pid_t pid, int fd, vigil_time_ns now)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};

	fcntl(fd, F_SETFL, O_NONBLOCK);
	w->pid = pid;
	w->fd = fd;
	w->epfd = env->epfd;
	w->want_out = 0;
	w->seq = 0;
	w->rx_len = 0;
	w->n_in = 0; /* a new process numbers its series from 1 again */
	w->state = VIGIL_WORKER_STARTING;
	w->init_error[0] = '\0';
	w->call = "init";
	w->last_call = now;
	w->deadline = now + w->inst->timeout;
	w->mem_check_at = now + MEM_CHECK_BUSY;
	vigil_restart_started(&w->rs, now);
	if (epoll_ctl(env->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0) {
		char why[96];
		snprintf(why, sizeof(why), "epoll: %s", strerror(errno));
		w->fault = WORKER_FAULT_SELF;
		worker_died(w, env, now, -ECONNRESET, why);
	}
}

/* Forks one worker for the n instances of ws (one, or a group's members,
 * `slot` its word in the shared page). On failure each is ended with the
 * reason, as a worker of its own. */
static void spawn(struct vigil_worker *const *members, size_t n, int slot,
		  const struct vigil_worker_env *env, vigil_time_ns now)
{
	struct vigil_instance *insts[VIGIL_GROUP_MAX];
	/* members may be the group's list, which a member leaving changes */
	struct vigil_worker *ws[VIGIL_GROUP_MAX];
	struct vigil_wgroup *g = members[0]->group;
	int mine[VIGIL_GROUP_MAX], theirs[VIGIL_GROUP_MAX];
	pid_t core = getpid(), pid = 0;
	const char *by = "the spawner";
	char why[96] = "";
	size_t made = 0;

	memcpy(ws, members, n * sizeof(*ws));

	for (; made < n; made++) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
			snprintf(why, sizeof(why), "socketpair: %s",
				 strerror(errno));
			break;
		}
		mine[made] = sv[0];
		theirs[made] = sv[1];
		insts[made] = ws[made]->inst;
	}
	if (!*why) {
		pid = vigil_spawner_spawn(env->spawner, insts, theirs, n, slot);
		if (pid == -ENOTCONN) {
			/* No spawner: the core forks the worker itself. */
			fflush(stderr);
			by = "the core";
			pid = fork();
			if (pid < 0)
				pid = -errno;
			if (pid == 0) {
				for (size_t i = 0; i < n; i++)
					close(mine[i]);
				vigil_group_main(insts, theirs, n, core, slot);
			}
		}
		if (pid < 0)
			snprintf(why, sizeof(why), "fork: %s", strerror(-pid));
	}
	for (size_t i = 0; i < made; i++) {
		close(theirs[i]);
		if (*why)
			close(mine[i]);
	}
	if (*why) {
		for (size_t i = 0; i < n; i++) {
			struct vigil_worker *x = ws[i];

			if (x->group)
				leave(x);
			worker_ended(x, env, now, -ECONNRESET, why, 0, 0);
		}
		return;
	}
	/* Also here, so no signal to the group can race the child's own
	 * setpgid. */
	setpgid(pid, pid);
	if (g) {
		vigil_log(VIGIL_LOG_DEBUG, NULL, "worker %d (%s, %zu instances) "
			  "forked by %s", (int)pid, g->name, n, by);
		g->pid = pid;
		memcpy(g->at, ws, n * sizeof(*ws));
		g->n_at = n;
	}
	for (size_t i = 0; i < n; i++) {
		vigil_log(VIGIL_LOG_DEBUG, ws[i]->inst->section,
			  "worker %d forked by %s", (int)pid, by);
		if (g && g->pid != pid) {
			/* it died already (a member's attach failed): each
			 * member was ended or restarted anew */
			close(mine[i]);
			continue;
		}
		attach(ws[i], env, pid, mine[i], now);
	}
}

void vigil_worker_spawn(struct vigil_worker *w,
			const struct vigil_worker_env *env, vigil_time_ns now)
{
	struct vigil_wgroup *g = w->group;

	if (!g) {
		spawn(&w, 1, -1, env, now);
		return;
	}
	if (g->pid > 0)
		return; /* started with another member */
	/* Its members are all down together (one that fails leaves). */
	spawn(g->m, g->n, g->slot, env, now);
}

int vigil_worker_read(struct vigil_worker *w, vigil_time_ns now,
		      vigil_worker_done done, void *arg)
{
	if (w->state == VIGIL_WORKER_BUSY || w->q_len)
		return -EBUSY;
	if (w->state != VIGIL_WORKER_IDLE)
		return -ENOTCONN;
	enqueue(w, wcall_new(VIGIL_MSG_READ, done, arg));
	vigil_worker_commit(w, now);
	return 0;
}

/* A call that returned an error: said at the first of a run of them, and
 * again when it works. */
static void call_result(struct vigil_instance *inst, const char *call, int rc,
			uint32_t errors)
{
	if (rc < 0) {
		inst->errors += errors ? errors : 1;
		if (inst->failures++ == 0)
			vigil_log(VIGIL_LOG_WARNING, inst->section,
				  "%s failed: %s%s", call, strerror(-rc),
				  inst->kind == VIGIL_KIND_SENSOR ?
					  "; backing off" :
					  "");
	} else if (inst->failures) {
		vigil_log(VIGIL_LOG_NOTICE, inst->section,
			  "%s works again after %u failure(s)", call,
			  inst->failures);
		inst->failures = 0;
	}
}

static void on_reply(struct vigil_worker *w,
		     const struct vigil_worker_env *env, uint16_t seq, int rc,
		     struct vigil_wire_reader *r, vigil_time_ns now)
{
	struct vigil_instance *inst = w->inst;
	struct vigil_wcall *c = w->inflight;

	if (w->state == VIGIL_WORKER_STARTING) {
		w->deadline = 0;
		/* A failed init is followed by the worker's exit, whose
		 * status says whether to retry; the reply says why. */
		if (rc < 0) {
			snprintf(w->init_error, sizeof(w->init_error),
				 "init failed: %s",
				 rc == VIGIL_EFATAL ? "misconfigured" :
						      strerror(-rc));
			if (w->group)
				init_failed_in_group(w, env, now, rc);
			return;
		}
		w->state = VIGIL_WORKER_IDLE;
		w->last_call = now;
		vigil_log(w->restarts && !w->woken ? VIGIL_LOG_NOTICE :
						     VIGIL_LOG_DEBUG,
			  inst->section, "worker %d running%s", (int)w->pid,
			  w->woken ? " (woken from standby)" :
			  w->restarts ? " again" : "");
		if (inst->init_failures)
			vigil_log(VIGIL_LOG_NOTICE, inst->section,
				  "started after %u failed attempt(s)",
				  inst->init_failures);
		inst->init_failures = 0;
		if (w->failed_incident)
			push_failed(w, env, 0);
		vigil_worker_commit(w, now);
		return;
	}
	if (!c) {
		/* Only a worker that lost count answers what was not asked. */
		w->fault = WORKER_FAULT_SELF;
		worker_died(w, env, now, -ECONNRESET,
			    "protocol error: a reply to no call");
		return;
	}
	if (seq != c->seq) {
		char why[96];
		snprintf(why, sizeof(why),
			 "protocol error: a reply to call %u, expected %u",
			 (unsigned)seq, (unsigned)c->seq);
		w->fault = WORKER_FAULT_SELF;
		worker_died(w, env, now, -ECONNRESET, why);
		return;
	}
	if (c == w->tx) {
		/* Answered before it was all written: not a reply to it. */
		w->fault = WORKER_FAULT_SELF;
		worker_died(w, env, now, -ECONNRESET,
			    "protocol error: a reply to a call not yet sent");
		return;
	}
	w->inflight = c->next;
	c->next = NULL;
	if (!w->inflight)
		w->inflight_tail = NULL;
	vigil_instance_latency(inst, now - w->call_sent);
	if (--w->n_inflight) {
		head_started(w, now);
	} else {
		w->state = VIGIL_WORKER_IDLE;
		w->deadline = 0;
	}
	w->last_call = now;
	switch (c->type) {
	case VIGIL_MSG_EVAL:
		call_result(inst, "eval", rc, vigil_wire_get_u32(r));
		break;
	case VIGIL_MSG_READ:
	case VIGIL_MSG_WRITE:
	case VIGIL_MSG_FLUSH:
		call_result(inst, vigil_msg_name((unsigned)c->type), rc, 0);
		break;
	default:
		break; /* deliver, run: their callers judge */
	}
	if (c->done)
		c->done(c->arg, w, rc, r);
	wcall_free(c);
	vigil_worker_commit(w, now);
}

/* A batch of readings from a sensor's worker: its new series are looked
 * up (or made) once, its readings go into the pipeline by id. */
static int take_readings(struct vigil_worker *w,
			 const struct vigil_worker_env *env,
			 struct vigil_wire_reader *r, char *why, size_t whylen)
{
	uint32_t n = vigil_wire_get_u32(r);
	struct vigil_reading rd;
	uint64_t id;
	int rc;

	for (uint32_t i = 0; i < n && !r->err; i++) {
		if (vigil_wire_get_series(r, &id, &rd) < 0)
			break;
		if (id != w->n_in + 1 || w->n_in >= VIGIL_WORKER_SERIES_MAX) {
			snprintf(why, whylen,
				 "protocol error: series %llu defined after "
				 "%zu series",
				 (unsigned long long)id, w->n_in);
			return -1;
		}
		vigil_grow((void **)&w->in, &w->cap_in, w->n_in + 1,
			   sizeof(*w->in));
		w->in[w->n_in++] =
			vigil_pipeline_series(env->pl, w->inst, &rd, &rc);
	}
	n = vigil_wire_get_u32(r);
	for (uint32_t i = 0; i < n && !r->err; i++) {
		if (vigil_wire_get_sample(r, &id, &rd) < 0)
			break;
		if (id > w->n_in) {
			snprintf(why, whylen,
				 "protocol error: a reading of series %llu, "
				 "never defined",
				 (unsigned long long)id);
			return -1;
		}
		vigil_pipeline_sample(env->pl, w->inst, w->in[id - 1], &rd);
	}
	if (r->err)
		snprintf(why, whylen, "protocol error: malformed readings frame");
	return r->err ? -1 : 0;
}

/* Handles the whole frames in rx. A reason on a protocol error. */
static int process_frames(struct vigil_worker *w,
			  const struct vigil_worker_env *env, vigil_time_ns now,
			  char *why, size_t whylen)
{
	size_t off = 0;

	while (off < w->rx_len) {
		struct vigil_wire_reader r;
		struct vigil_frame f;
		size_t used;
		char perr[128];
		int rc = vigil_frame_parse(w->rx + off, w->rx_len - off, &f,
					   &used, perr, sizeof(perr));

		if (rc == 0)
			break;
		if (rc < 0) {
			snprintf(why, whylen, "protocol error: %s", perr);
			return -EPROTO;
		}
		vigil_wire_reader_init(&r, &f);
		if (f.type == VIGIL_MSG_READINGS &&
		    w->inst->kind == VIGIL_KIND_SENSOR) {
			if (take_readings(w, env, &r, why, whylen) < 0) {
				vigil_wire_reader_free(&r);
				return -EPROTO;
			}
		} else if (f.type == VIGIL_MSG_CONDITION &&
			   w->inst->kind == VIGIL_KIND_RULE) {
			struct vigil_condition cond;
			if (vigil_wire_get_condition(&r, &cond) == 0)
				vigil_pipeline_emit.condition(env->pl, w->inst,
							      &cond);
		} else if (f.type == VIGIL_MSG_REPLY) {
			int32_t res = (int32_t)vigil_wire_get_u32(&r);
			if (!r.err)
				on_reply(w, env, f.seq, res, &r, now);
			if (w->fd < 0) {
				/* on_reply ended the worker */
				vigil_wire_reader_free(&r);
				return 0;
			}
		} else {
			snprintf(why, whylen,
				 "protocol error: unexpected %s frame",
				 vigil_msg_name(f.type));
			vigil_wire_reader_free(&r);
			return -EPROTO;
		}
		vigil_wire_reader_free(&r);
		if (r.err) {
			snprintf(why, whylen,
				 "protocol error: malformed %s frame",
				 vigil_msg_name(f.type));
			return -EPROTO;
		}
		off += used;
	}
	memmove(w->rx, w->rx + off, w->rx_len - off);
	w->rx_len -= off;
	return 0;
}

/* The socket closed: wait briefly for the exit status that says why. */
static void on_eof(struct vigil_worker *w, const struct vigil_worker_env *env,
		   vigil_time_ns now)
{
	char why[128] = "closed its socket";
	int status;

	if (wait_exit(w->pid, vigil_monotonic() + EXIT_WAIT, &status))
		exit_reason(w, status, why, sizeof(why));
	worker_died(w, env, now, -ECONNRESET, why);
}

void vigil_worker_io(struct vigil_worker *w,
		     const struct vigil_worker_env *env, unsigned events,
		     vigil_time_ns now)
{
	char why[192];
	size_t got = 0;

	if (events & EPOLLOUT)
		tx_more(w);
	/* At most RX_SLICE per turn of the loop: the socket stays
	 * readable and the rest comes at the next turn, after the pipeline
	 * has moved a slice (vigil_pipeline_run_some). A sensor that sends
	 * faster than the pipeline moves readings then waits on its socket,
	 * as a read inside vigild waits for the pipeline. */
	while (got < RX_SLICE) {
		ssize_t k;

		if (w->fd < 0)
			return;
		vigil_grow((void **)&w->rx, &w->rx_cap, w->rx_len + 65536, 1);
		k = read(w->fd, w->rx + w->rx_len, w->rx_cap - w->rx_len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (k <= 0) {
			on_eof(w, env, now);
			return;
		}
		w->rx_len += (size_t)k;
		got += (size_t)k;
		if (process_frames(w, env, now, why, sizeof(why)) < 0) {
			w->fault = WORKER_FAULT_SELF;
			worker_died(w, env, now, -ECONNRESET, why);
			return;
		}
	}
}

void vigil_worker_sigchld(struct vigil_worker *w,
			  const struct vigil_worker_env *env, vigil_time_ns now)
{
	char why[128];
	int status;

	if (w->pid <= 0 || !peek_exit(w->pid, &status))
		return;
	/* Take what it sent before it died. */
	if (w->fd >= 0) {
		vigil_worker_io(w, env, EPOLLIN, now);
		if (w->pid <= 0)
			return; /* io saw the EOF and handled it */
	}
	exit_reason(w, status, why, sizeof(why));
	worker_died(w, env, now, -ECONNRESET, why);
}

/* The memory `pid` holds for itself, in bytes, or 0: private pages from
 * /proc/PID/smaps_rollup. Not RSS, which also counts the pages a worker
 * still shares with the core since the fork: a large core would otherwise
 * push every worker over its limit. RSS only where smaps_rollup is not
 * (Linux < 4.14). */
static uint64_t private_of(pid_t pid)
{
	char path[64], line[256];
	uint64_t total = 0;
	int found = 0;
	long size, resident;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	f = fopen(path, "re");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			unsigned long long kb;

			if (sscanf(line, "Private_Clean: %llu kB", &kb) == 1 ||
			    sscanf(line, "Private_Dirty: %llu kB", &kb) == 1) {
				total += kb * 1024;
				found = 1;
			}
		}
		fclose(f);
		if (found)
			return total;
	}
	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (uint64_t)resident * (uint64_t)getpagesize();
}

static vigil_time_ns earliest(vigil_time_ns a, vigil_time_ns b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return a < b ? a : b;
}

vigil_time_ns vigil_worker_tick(struct vigil_worker *w,
				const struct vigil_worker_env *env,
				vigil_time_ns now)
{
	struct vigil_instance *inst = w->inst;
	uint64_t limit = w->group ? w->group->memory_limit : inst->memory_limit;
	char why[192];

	switch (w->state) {
	case VIGIL_WORKER_DOWN:
		vigil_worker_spawn(w, env, now);
		break;
	case VIGIL_WORKER_STANDBY:
		if (w->q_len) {
			w->woken = 1;
			vigil_worker_spawn(w, env, now);
		}
		break;
	case VIGIL_WORKER_IDLE:
		if (inst->idle_timeout && !w->q_len && !w->inflight &&
		    now >= w->last_call + inst->idle_timeout) {
			/* Nothing to do for idle_timeout: fini, then exit;
			 * the deadline bounds it. */
			w->state = VIGIL_WORKER_PARKING;
			/* What is queued from now on is for the next
			 * process. */
			forget_series(w);
			if (send_now(w, VIGIL_MSG_FINI) < 0) {
				worker_died(w, env, now, -ECONNRESET,
					    "could not be sent fini");
				break;
			}
			w->call = "fini";
			w->deadline = now + PARK_GRACE;
		}
		break;
	case VIGIL_WORKER_BACKOFF:
	case VIGIL_WORKER_FAILED:
		if (now >= w->restart_at)
			vigil_worker_spawn(w, env, now);
		break;
	default:
		break;
	}
	if (w->pid > 0 && limit && now >= w->mem_check_at) {
		uint64_t rss = private_of(w->pid);

		w->mem_check_at = now + (w->state == VIGIL_WORKER_IDLE ?
						 MEM_CHECK_IDLE :
						 MEM_CHECK_BUSY);
		if (rss > limit) {
			char a[32], b[32];

			snprintf(why, sizeof(why),
				 "exceeded memory_limit (%s > %s%s)",
				 size_text(a, sizeof(a), rss),
				 size_text(b, sizeof(b), limit),
				 w->group ? ", its worker's members' added" : "");
			w->fault = WORKER_FAULT_ALL;
			worker_died(w, env, now, -ECONNRESET, why);
		}
	}
	if (w->group && w->pid > 0 && w->deadline && now >= w->deadline) {
		/* Its call waited behind a sibling's, still within that one's
		 * own deadline: its time runs from that call's end. */
		struct vigil_worker *on = serving(w->group);

		if (on && on != w && on->deadline && now < on->deadline)
			w->deadline = on->deadline +
				      call_timeout(w, head_type(w));
	}
	if (w->pid > 0 && w->deadline && now >= w->deadline) {
		deadline_reason(w, why, sizeof(why));
		worker_died(w, env, now, -ETIMEDOUT, why);
	}
	switch (w->state) {
	case VIGIL_WORKER_BACKOFF:
	case VIGIL_WORKER_FAILED:
		return w->restart_at;
	case VIGIL_WORKER_IDLE:
		if (inst->idle_timeout && !w->q_len)
			return earliest(earliest(w->deadline,
						 limit ? w->mem_check_at : 0),
					w->last_call + inst->idle_timeout);
		/* fall through */
	case VIGIL_WORKER_STARTING:
	case VIGIL_WORKER_BUSY:
	case VIGIL_WORKER_PARKING:
		return earliest(w->deadline, limit ? w->mem_check_at : 0);
	case VIGIL_WORKER_STANDBY:
		return w->q_len ? now : 0;
	default:
		return 0;
	}
}

/* A worker asked to stop that ended by itself, but not well (a crash in
 * fini): said, as its other deaths are. */
static void said_if_crashed(struct vigil_worker *w, pid_t pid, int status)
{
	char why[192];

	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	exit_reason(w, status, why, sizeof(why));
	vigil_log(VIGIL_LOG_WARNING, w->inst->section,
		  "worker %d died while stopping: %s", (int)pid, why);
}

/* Whether ws[i] is the one of its process to name in the log: a
 * worker of its own is; of a group's members stopped together, the one
 * being served (stuck in its call), else the first in ws. */
static int named(struct vigil_worker **ws, size_t i)
{
	struct vigil_wgroup *g = ws[i]->group;
	struct vigil_worker *on;

	if (!g)
		return 1;
	on = serving(g);
	if (on)
		return on == ws[i];
	for (size_t j = 0; j < i; j++)
		if (ws[j] && ws[j]->pid == ws[i]->pid)
			return 0;
	return 1;
}

/* Waits (polling, 1 ms) until every worker of ws that is still running
 * (its bit in `left`, cleared as each exits) has exited, or `until`;
 * says so of one that crashed when `say`. Returns how many are left. */
static size_t wait_all(struct vigil_worker **ws, size_t n,
		       unsigned char *left, vigil_time_ns until, int say)
{
	size_t k;

	do {
		int status;

		k = 0;
		for (size_t i = 0; i < n; i++) {
			if (left[i] && peek_exit(ws[i]->pid, &status)) {
				left[i] = 0;
				if (say && named(ws, i))
					said_if_crashed(ws[i], ws[i]->pid,
							status);
			}
			k += left[i];
		}
		if (!k)
			break;
		usleep(1000);
	} while (vigil_monotonic() < until);
	return k;
}

/* Whether w's group has a member running that is not in ws: it is
 * stopped with that one, later, so the process is stopped whole. */
static int stopped_later(struct vigil_worker **ws, size_t n,
			 const struct vigil_worker *w)
{
	const struct vigil_wgroup *g = w->group;

	for (size_t k = 0; g && k < g->n; k++) {
		int in = 0;

		if (g->m[k]->pid != w->pid)
			continue;
		for (size_t i = 0; i < n && !in; i++)
			in = ws[i] == g->m[k];
		if (!in)
			return 1;
	}
	return 0;
}

void vigil_workers_stop(struct vigil_worker **ws, size_t n,
			const struct vigil_worker_env *env,
			vigil_time_ns grace)
{
	vigil_time_ns until = vigil_monotonic() + grace;
	unsigned char *left = vigil_xcalloc(n ? n : 1, 1);

	for (size_t i = 0; i < n; i++) {
		struct vigil_worker *w = ws[i];

		if (!w || w->pid <= 0)
			continue;
		if (stopped_later(ws, n, w)) {
			/* Stopped with its group, later. A call of its still
			 * running would hold the others' calls (the drain's):
			 * it gets as long as a worker of its own would. */
			w->stop_asked = 1;
			if (w->n_inflight || w->state == VIGIL_WORKER_STARTING)
				w->deadline = until - grace / 2;
			continue;
		}
		left[i] = 1;
		/* Not in the middle of a frame still being written. One still
		 * in init reads it once init is done (nothing else was sent
		 * to it). */
		if ((w->state == VIGIL_WORKER_IDLE ||
		     w->state == VIGIL_WORKER_BUSY ||
		     w->state == VIGIL_WORKER_STARTING) &&
		    (!w->tx || w->tx_off == 0))
			send_now(w, VIGIL_MSG_FINI);
	}
	/* A worker stuck in a call never reads FINI: SIGTERM halfway through
	 * the grace, SIGKILL at its end. */
	if (wait_all(ws, n, left, until - grace / 2, 1)) {
		for (size_t i = 0; i < n; i++) {
			if (!left[i])
				continue;
			if (named(ws, i))
				vigil_log(VIGIL_LOG_WARNING,
					  ws[i]->inst->section,
					  "worker %d did not finish within "
					  "%lld ms of being asked to stop: "
					  "SIGTERM",
					  (int)ws[i]->pid,
					  (long long)(grace / 2 / VIGIL_MSEC));
			kill(-ws[i]->pid, SIGTERM);
		}
		if (wait_all(ws, n, left, until, 0))
			for (size_t i = 0; i < n; i++)
				if (left[i] && named(ws, i))
					vigil_log(VIGIL_LOG_WARNING,
						  ws[i]->inst->section,
						  "worker %d did not stop on "
						  "SIGTERM: SIGKILL",
						  (int)ws[i]->pid);
	}
	for (size_t i = 0; i < n; i++) {
		struct vigil_worker *w = ws[i];
		pid_t pid = w ? w->pid : 0;

		if (pid <= 0 || stopped_later(ws, n, w))
			continue;
		if (!w->group || w->group->pid == pid) {
			/* a group's process: at its first member */
			kill_and_reap(pid);
			if (w->group)
				w->group->pid = 0;
		}
		detach(w, env);
		w->state = VIGIL_WORKER_DOWN;
		fail_calls(w, -ECONNRESET);
	}
	free(left);
}

void vigil_worker_free(struct vigil_worker *w)
{
	fail_calls(w, -ECONNRESET);
	free(w->rx);
	w->rx = NULL;
	w->rx_len = w->rx_cap = 0;
	forget_series(w);
	free(w->in);
	w->in = NULL;
	w->n_in = w->cap_in = 0;
}

int vigil_worker_check(struct vigil_instance *inst, char *why, size_t size)
{
	int status = 0, fds[2], rc = -EIO;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		close(fds[0]);
		close(fds[1]);
		return rc;
	}
	if (pid == 0) {
		char err[1024];

		close(fds[0]);
		setpgid(0, 0);
		if (vigil_module_load_here(inst->mod, err, sizeof(err)) < 0) {
			vigil_log(VIGIL_LOG_ERR, inst->section, "%s", err);
			_exit(VIGIL_WORKER_EXIT_LOAD);
		}
		vigil_instance_tap(inst, why, size);
		rc = vigil_instance_start(inst, NULL, NULL);
		vigil_instance_stop(inst);
		vigil_instance_tap(NULL, NULL, 0);
		/* init's own answer, errno and all, and the error it logged,
		 * for the core's message. */
		if (write(fds[1], &rc, sizeof(rc)) != (ssize_t)sizeof(rc) ||
		    write(fds[1], why, strlen(why)) < 0)
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	setpgid(pid, pid);
	wait_exit(pid, vigil_monotonic() + inst->timeout, &status);
	status = kill_and_reap(pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
	    read(fds[0], &rc, sizeof(rc)) == (ssize_t)sizeof(rc)) {
		ssize_t k = size ? read(fds[0], why, size - 1) : -1;

		if (k >= 0)
			why[k] = '\0';
		close(fds[0]);
		return rc;
	}
	close(fds[0]);
	{
		char how[128];
		exit_reason(NULL, status, how, sizeof(how));
		vigil_log(VIGIL_LOG_ERR, inst->section, "init in a worker: %s",
			  how);
	}
	return WIFEXITED(status) &&
			       WEXITSTATUS(status) == VIGIL_WORKER_EXIT_LOAD ?
		       -ELIBBAD :
		       -EIO;
}
