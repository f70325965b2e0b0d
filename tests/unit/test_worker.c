/*
 * test_worker.c - the core's side of a worker's connection: batches of
 * readings by series id, several calls in flight, replies in order.
 *
 * No process is forked: the worker's end of the socketpair is this test,
 * which reads the frames the core sends and answers them as a worker
 * would (a REPLY with the call's sequence number).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "instance.h"
#include "proto.h"
#include "unit.h"
#include "worker.h"

struct fake {
	struct vigil_instance inst;
	struct vigil_worker w;
	struct vigil_worker_env env;
	int peer; /* the worker's end */
	unsigned char *rx;
	size_t rx_len, rx_cap;
	/* What the worker end was told. */
	unsigned char *defined; /* by series id */
	size_t max_id;
	uint64_t readings, frames, undefined;
};

static void fake_init(struct fake *f, size_t max_id)
{
	int sv[2];

	memset(f, 0, sizeof(*f));
	f->inst.section = "sink.test";
	f->inst.name = "test";
	f->inst.kind = VIGIL_KIND_SINK;
	f->inst.timeout = 10 * VIGIL_SEC;
	f->inst.restart_delay = VIGIL_SEC;
	f->inst.restart_delay_max = VIGIL_SEC;
	f->inst.max_restarts = 5;
	f->inst.restart_window = 60 * VIGIL_SEC;
	vigil_worker_init(&f->w, &f->inst);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
				    sv), 0);
	f->env.epfd = epoll_create1(EPOLL_CLOEXEC);
	ck_assert_int_ge(f->env.epfd, 0);
	f->w.fd = sv[0];
	f->w.epfd = f->env.epfd;
	f->w.state = VIGIL_WORKER_IDLE;
	ck_assert_int_eq(epoll_ctl(f->env.epfd, EPOLL_CTL_ADD, sv[0],
				   &(struct epoll_event){.events = EPOLLIN,
							 .data.ptr = &f->w}),
			 0);
	f->peer = sv[1];
	f->max_id = max_id;
	f->defined = calloc(max_id + 1, 1);
}

static void fake_free(struct fake *f)
{
	vigil_worker_free(&f->w);
	if (f->w.fd >= 0)
		close(f->w.fd);
	close(f->peer);
	close(f->env.epfd);
	free(f->rx);
	free(f->defined);
}

static void reply(struct fake *f, uint16_t seq)
{
	struct vigil_wire w = {0};

	vigil_wire_begin(&w, VIGIL_MSG_REPLY, seq);
	vigil_wire_put_u32(&w, 0);
	vigil_wire_put_u32(&w, 0); /* eval's error count */
	vigil_wire_end(&w);
	ck_assert_int_eq(write(f->peer, w.b.data, w.b.len), (ssize_t)w.b.len);
	vigil_wire_free(&w);
}

/* Takes the batch frames the core sent, as a worker would, noting every
 * reading of a series not defined before it. Returns the sequence
 * numbers of the calls read, up to max. */
static size_t take_frames(struct fake *f, uint16_t *seqs, size_t max)
{
	size_t n_seqs = 0, off = 0;

	for (;;) {
		ssize_t k;

		vigil_grow((void **)&f->rx, &f->rx_cap, f->rx_len + 65536, 1);
		k = read(f->peer, f->rx + f->rx_len, f->rx_cap - f->rx_len);
		if (k <= 0)
			break;
		f->rx_len += (size_t)k;
	}
	while (n_seqs < max) {
		struct vigil_wire_reader r;
		struct vigil_frame fr;
		size_t used;
		uint32_t n;
		int rc = vigil_frame_parse(f->rx + off, f->rx_len - off, &fr,
					   &used, NULL, 0);

		ck_assert_int_ge(rc, 0);
		if (rc == 0)
			break;
		ck_assert_int_eq(fr.type, VIGIL_MSG_WRITE);
		vigil_wire_reader_init(&r, &fr);
		n = vigil_wire_get_u32(&r);
		for (uint32_t i = 0; i < n; i++) {
			struct vigil_reading d;
			uint64_t id;

			ck_assert_int_eq(vigil_wire_get_series(&r, &id, &d), 0);
			ck_assert_uint_le(id, f->max_id);
			ck_assert_str_eq(d.metric, "m");
			f->defined[id] = 1;
		}
		n = vigil_wire_get_u32(&r);
		for (uint32_t i = 0; i < n; i++) {
			struct vigil_reading s;
			uint64_t id;

			ck_assert_int_eq(vigil_wire_get_sample(&r, &id, &s), 0);
			ck_assert_uint_le(id, f->max_id);
			if (!f->defined[id])
				f->undefined++;
			ck_assert(s.value == (double)id);
			f->readings++;
		}
		ck_assert_int_eq(r.err, 0);
		ck_assert_uint_eq(r.left, 0);
		vigil_wire_reader_free(&r);
		seqs[n_seqs++] = fr.seq;
		f->frames++;
		off += used;
	}
	memmove(f->rx, f->rx + off, f->rx_len - off);
	f->rx_len -= off;
	return n_seqs;
}

static void add_all(struct fake *f)
{
	const struct vigil_label l[] = {{"k", "v"}};

	for (uint64_t id = 1; id <= f->max_id; id++) {
		struct vigil_reading r = {.metric = "m", .unit = "u",
					  .labels = l, .n_labels = 1,
					  .value = (double)id,
					  .series_id = id};
		ck_assert_int_eq(vigil_worker_add(&f->w, VIGIL_MSG_WRITE, &r),
				 0);
	}
}

/* Answers calls until none is queued or in flight. */
static void serve(struct fake *f)
{
	for (int turns = 0; vigil_worker_pending(&f->w); turns++) {
		uint16_t seqs[64];
		size_t n;

		ck_assert_int_lt(turns, 100000);
		vigil_worker_commit(&f->w, vigil_monotonic());
		n = take_frames(f, seqs, 64);
		for (size_t i = 0; i < n; i++)
			reply(f, seqs[i]);
		vigil_worker_io(&f->w, &f->env, EPOLLIN | EPOLLOUT,
				vigil_monotonic());
		ck_assert_int_ge(f->w.fd, 0); /* still alive */
	}
}

/*
 * A worker that falls behind loses its oldest batches; a batch that
 * defined series keeps its definitions, so no reading the worker gets
 * later names a series it was never told of.
 */
START_TEST(dropped_batches_keep_their_definitions)
{
	struct fake f;
	const size_t n = 100000;

	fake_init(&f, n);
	/* Nothing answered meanwhile: each series is new (its definition
	 * rides with it), then read again by id only. The queue holds far
	 * fewer than 2n readings: the oldest batches go. */
	add_all(&f);
	add_all(&f);
	ck_assert_uint_gt(f.w.dropped, 0);
	ck_assert_uint_le(f.w.n_inflight, VIGIL_WORKER_INFLIGHT);
	serve(&f);
	ck_assert_uint_eq(f.undefined, 0);
	ck_assert_uint_eq(f.readings + f.w.dropped, 2 * n);
	/* Every series reached the worker's end defined. */
	for (size_t id = 1; id <= n; id++)
		ck_assert_msg(f.defined[id], "series %zu never defined", id);
	fake_free(&f);
}
END_TEST

/* Up to VIGIL_WORKER_INFLIGHT calls go before the first is answered. */
START_TEST(calls_are_pipelined)
{
	struct fake f;
	uint16_t seqs[64];
	size_t got;

	fake_init(&f, 40000);
	add_all(&f);
	vigil_worker_commit(&f.w, vigil_monotonic());
	ck_assert_uint_eq(f.w.n_inflight, VIGIL_WORKER_INFLIGHT);
	/* Let the core write what the socket now has room for. */
	for (int i = 0; i < 100; i++) {
		got = take_frames(&f, seqs, 64);
		if (got)
			break;
		vigil_worker_io(&f.w, &f.env, EPOLLOUT, vigil_monotonic());
	}
	ck_assert_uint_ge(got, 1);
	ck_assert_uint_eq(seqs[0], 1);
	/* The first answer lets one more go. */
	reply(&f, seqs[0]);
	vigil_worker_io(&f.w, &f.env, EPOLLIN, vigil_monotonic());
	ck_assert_uint_eq(f.w.n_inflight, VIGIL_WORKER_INFLIGHT);
	serve(&f);
	ck_assert_uint_eq(f.readings, 40000);
	ck_assert_uint_eq(f.undefined, 0);
	fake_free(&f);
}
END_TEST

/* Replies come in the order of the calls: one out of order is a worker
 * that lost count, and is ended for it. */
START_TEST(reply_out_of_order_ends_the_worker)
{
	struct fake f;

	fake_init(&f, 40000);
	add_all(&f);
	vigil_worker_commit(&f.w, vigil_monotonic());
	ck_assert_uint_ge(f.w.n_inflight, 2);
	reply(&f, 2);
	vigil_worker_io(&f.w, &f.env, EPOLLIN, vigil_monotonic());
	ck_assert_int_eq(f.w.state, VIGIL_WORKER_BACKOFF);
	ck_assert_ptr_nonnull(strstr(f.w.reason,
				     "a reply to call 2, expected 1"));
	ck_assert_uint_eq(vigil_worker_pending(&f.w), 0);
	fake_free(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("worker");
	TCase *tc = tcase_create("connection");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, dropped_batches_keep_their_definitions);
	tcase_add_test(tc, calls_are_pipelined);
	tcase_add_test(tc, reply_out_of_order_ends_the_worker);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
