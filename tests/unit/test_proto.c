/*
 * test_proto.c - the worker frame protocol: round trips, and refusal of
 * every kind of garbage without reading past the buffer.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "unit.h"

static struct vigil_frame parse_whole(const struct vigil_wire *w)
{
	struct vigil_frame f;
	size_t used = 0;
	char why[128];

	ck_assert_int_eq(vigil_frame_parse((const uint8_t *)w->b.data, w->b.len,
					   &f, &used, why, sizeof(why)),
			 1);
	ck_assert_uint_eq(used, w->b.len);
	return f;
}

/* Reads a batch back: definitions into defs[] (by id - 1), readings
 * into out[]. Returns the readings, or -1 on a malformed payload. */
static int read_batch(const struct vigil_frame *f, struct vigil_wire_reader *r,
		      struct vigil_reading *defs, size_t n_defs,
		      struct vigil_reading *out, size_t n_out)
{
	uint32_t n;

	vigil_wire_reader_init(r, f);
	n = vigil_wire_get_u32(r);
	for (uint32_t i = 0; i < n; i++) {
		struct vigil_reading d;
		uint64_t id;

		if (vigil_wire_get_series(r, &id, &d) < 0)
			return -1;
		ck_assert_uint_le(id, n_defs);
		defs[id - 1] = d;
	}
	n = vigil_wire_get_u32(r);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t id;

		if (r->err || i >= n_out ||
		    vigil_wire_get_sample(r, &id, &out[i]) < 0)
			return -1;
		out[i].series_id = id;
	}
	return r->err ? -1 : (int)n;
}

START_TEST(batch_round_trip)
{
	const struct vigil_label labels[] = {{"dev", "sda1"}, {"mount", "/"}};
	const struct vigil_reading a = {
		.metric = "disk.used_percent", .unit = "%", .value = 42.5,
		.time = 1234567890123, .labels = labels, .n_labels = 2,
		.quality = VIGIL_QUALITY_UNCERTAIN};
	const struct vigil_reading b = {.metric = "cpu.usage", .value = -1,
					.time = 5};
	struct vigil_reading defs[2] = {{0}}, out[3];
	struct vigil_batch batch = {0};
	size_t bytes;
	struct vigil_wire_reader r;
	struct vigil_frame f;

	/* Readings are added while series are defined: the frame has the
	 * definitions first all the same. */
	vigil_batch_begin(&batch, VIGIL_MSG_EVAL);
	vigil_batch_define(&batch, 1, a.metric, a.unit, a.labels, a.n_labels);
	vigil_batch_add(&batch, 1, &a);
	vigil_batch_define(&batch, 2, b.metric, b.unit, NULL, 0);
	vigil_batch_add(&batch, 2, &b);
	vigil_batch_add(&batch, 1, &a);
	bytes = vigil_batch_bytes(&batch);
	vigil_batch_end(&batch, 9);
	f = parse_whole(&batch.frame);
	ck_assert_int_eq(f.type, VIGIL_MSG_EVAL);
	ck_assert_int_eq(f.seq, 9);
	ck_assert_uint_eq(f.length + VIGIL_FRAME_HEADER, bytes);

	ck_assert_int_eq(read_batch(&f, &r, defs, 2, out, 3), 3);
	ck_assert_int_eq(r.left, 0);
	ck_assert_str_eq(defs[0].metric, "disk.used_percent");
	ck_assert_str_eq(defs[0].unit, "%");
	ck_assert_uint_eq(defs[0].n_labels, 2);
	ck_assert_str_eq(defs[0].labels[0].key, "dev");
	ck_assert_str_eq(defs[0].labels[1].value, "/");
	ck_assert_ptr_null(defs[1].unit);
	ck_assert_uint_eq(defs[1].n_labels, 0);
	ck_assert_uint_eq(out[0].series_id, 1);
	ck_assert(out[0].value == 42.5);
	ck_assert_int_eq(out[0].time, 1234567890123);
	ck_assert_int_eq(out[0].quality, VIGIL_QUALITY_UNCERTAIN);
	ck_assert_uint_eq(out[1].series_id, 2);
	ck_assert(out[1].value == -1);
	ck_assert_uint_eq(out[2].series_id, 1);
	vigil_wire_reader_free(&r);

	/* The next batch of the same connection: ids only. */
	vigil_batch_begin(&batch, VIGIL_MSG_EVAL);
	vigil_batch_add(&batch, 2, &b);
	vigil_batch_end(&batch, 10);
	f = parse_whole(&batch.frame);
	ck_assert_uint_eq(f.length, 4 + 4 + 32);
	ck_assert_int_eq(read_batch(&f, &r, defs, 2, out, 3), 1);
	ck_assert_uint_eq(out[0].series_id, 2);
	vigil_wire_reader_free(&r);
	vigil_batch_free(&batch);
}
END_TEST

/* A dropped batch keeps what it defines: later batches name those ids. */
START_TEST(stripped_batch_keeps_definitions)
{
	const struct vigil_reading a = {.metric = "m", .unit = "u", .value = 1};
	struct vigil_reading defs[1] = {{0}}, out[1];
	struct vigil_batch batch = {0};
	struct vigil_wire_reader r;
	struct vigil_frame f;

	vigil_batch_begin(&batch, VIGIL_MSG_WRITE);
	vigil_batch_define(&batch, 1, a.metric, a.unit, NULL, 0);
	for (int i = 0; i < 100; i++)
		vigil_batch_add(&batch, 1, &a);
	vigil_batch_strip(&batch);
	ck_assert_uint_eq(batch.count, 0);
	vigil_batch_end(&batch, 1);
	f = parse_whole(&batch.frame);
	ck_assert_int_eq(read_batch(&f, &r, defs, 1, out, 1), 0);
	ck_assert_str_eq(defs[0].metric, "m");
	vigil_wire_reader_free(&r);
	vigil_batch_free(&batch);
}
END_TEST

START_TEST(bad_samples_are_refused)
{
	const struct vigil_reading a = {.metric = "m", .value = 1,
					.quality = VIGIL_QUALITY_BAD + 1};
	const struct vigil_reading ok = {.metric = "m"};
	struct vigil_reading out;
	struct vigil_batch batch = {0};
	struct vigil_wire_reader r;
	struct vigil_frame f;
	uint64_t id;

	/* A quality past the last, and a series id 0. */
	vigil_batch_begin(&batch, VIGIL_MSG_READINGS);
	vigil_batch_add(&batch, 1, &a);
	vigil_batch_add(&batch, 0, &ok);
	vigil_batch_end(&batch, 0);
	f = parse_whole(&batch.frame);
	vigil_wire_reader_init(&r, &f);
	ck_assert_uint_eq(vigil_wire_get_u32(&r), 0);
	ck_assert_uint_eq(vigil_wire_get_u32(&r), 2);
	ck_assert_int_eq(vigil_wire_get_sample(&r, &id, &out), -1);
	r.err = 0;
	ck_assert_int_eq(vigil_wire_get_sample(&r, &id, &out), -1);
	vigil_batch_free(&batch);
}
END_TEST

START_TEST(event_round_trip_with_actions)
{
	const struct vigil_label labels[] = {{"zone", "thermal_zone0"}};
	const struct vigil_action_record acts[] = {
		{"renice", 5, 6, 0, VIGIL_ACTION_OK, "done"},
		{"bounce", 7, 8, 137, VIGIL_ACTION_TIMEOUT, ""}};
	const struct vigil_event in = {
		.type = VIGIL_EVENT_ESCALATED, .incident_id = 12,
		.key = "cpu_hot{zone=thermal_zone0}", .incident_type = "cpu_hot",
		.severity = VIGIL_SEV_CRITICAL,
		.previous_severity = VIGIL_SEV_WARNING,
		.status = VIGIL_STATUS_OPEN, .message = "hot", .value = NAN,
		.labels = labels, .n_labels = 1, .time = 3, .created = 1,
		.resolved = 0, .occurrences = 4, .actions = acts, .n_actions = 2};
	struct vigil_wire w = {0};
	struct vigil_wire_reader r;
	struct vigil_event out;
	struct vigil_frame f;

	vigil_wire_begin(&w, VIGIL_MSG_DELIVER, 1);
	vigil_wire_put_event(&w, &in);
	vigil_wire_end(&w);
	f = parse_whole(&w);
	vigil_wire_reader_init(&r, &f);
	ck_assert_int_eq(vigil_wire_get_event(&r, &out), 0);
	ck_assert_int_eq(out.type, VIGIL_EVENT_ESCALATED);
	ck_assert_uint_eq(out.incident_id, 12);
	ck_assert_str_eq(out.key, in.key);
	ck_assert_int_eq(out.previous_severity, VIGIL_SEV_WARNING);
	ck_assert(isnan(out.value));
	ck_assert_uint_eq(out.n_actions, 2);
	ck_assert_str_eq(out.actions[0].output, "done");
	ck_assert_int_eq(out.actions[1].exit_status, 137);
	ck_assert_int_eq(out.actions[1].outcome, VIGIL_ACTION_TIMEOUT);
	ck_assert_uint_eq(out.occurrences, 4);
	vigil_wire_reader_free(&r);
	vigil_wire_free(&w);
}
END_TEST

START_TEST(absent_and_empty_strings_differ)
{
	struct vigil_wire w = {0};
	struct vigil_wire_reader r;
	struct vigil_frame f;

	vigil_wire_begin(&w, VIGIL_MSG_LOG, 0);
	vigil_wire_put_str(&w, NULL);
	vigil_wire_put_str(&w, "");
	vigil_wire_end(&w);
	f = parse_whole(&w);
	vigil_wire_reader_init(&r, &f);
	ck_assert_ptr_null(vigil_wire_get_str(&r));
	ck_assert_str_eq(vigil_wire_get_str(&r), "");
	ck_assert_int_eq(r.err, 0);
	vigil_wire_free(&w);
}
END_TEST

START_TEST(partial_frames_wait_for_more)
{
	struct vigil_wire w = {0};
	struct vigil_frame f;
	size_t used;

	vigil_wire_begin(&w, VIGIL_MSG_REPLY, 3);
	vigil_wire_put_u32(&w, 0);
	vigil_wire_end(&w);
	for (size_t n = 0; n < w.b.len; n++)
		ck_assert_int_eq(vigil_frame_parse((const uint8_t *)w.b.data, n,
						   &f, &used, NULL, 0),
				 0);
	vigil_wire_free(&w);
}
END_TEST

START_TEST(bad_headers_are_refused)
{
	uint8_t h[VIGIL_FRAME_HEADER + 4] = {0};
	uint32_t len = 4;
	struct vigil_frame f;
	size_t used;
	char why[128];

	memcpy(h, &len, 4);
	h[4] = VIGIL_PROTO_VERSION + 1;
	h[5] = VIGIL_MSG_REPLY;
	ck_assert_int_eq(vigil_frame_parse(h, sizeof(h), &f, &used, why,
					   sizeof(why)),
			 -EPROTO);
	ck_assert(strstr(why, "version") != NULL);

	h[4] = VIGIL_PROTO_VERSION;
	h[5] = 200;
	ck_assert_int_eq(vigil_frame_parse(h, sizeof(h), &f, &used, why,
					   sizeof(why)),
			 -EPROTO);
	ck_assert(strstr(why, "unknown type") != NULL);

	/* An oversized frame is refused from its header, before its body. */
	h[5] = VIGIL_MSG_READINGS;
	len = VIGIL_FRAME_MAX + 1;
	memcpy(h, &len, 4);
	ck_assert_int_eq(vigil_frame_parse(h, VIGIL_FRAME_HEADER, &f, &used,
					   why, sizeof(why)),
			 -EMSGSIZE);
}
END_TEST

/* Every truncation of a valid batch must fail cleanly, never read past
 * the end (ASan and valgrind watch this test). */
START_TEST(truncated_payloads_set_err)
{
	const struct vigil_label labels[] = {{"k", "v"}};
	const struct vigil_reading in = {.metric = "m", .unit = "u",
					 .labels = labels, .n_labels = 1};
	struct vigil_batch batch = {0};
	struct vigil_frame f;

	vigil_batch_begin(&batch, VIGIL_MSG_READINGS);
	vigil_batch_define(&batch, 1, in.metric, in.unit, in.labels,
			   in.n_labels);
	vigil_batch_add(&batch, 1, &in);
	vigil_batch_end(&batch, 0);
	f = parse_whole(&batch.frame);
	for (uint32_t n = 0; n < f.length; n++) {
		struct vigil_frame cut = f;
		struct vigil_wire_reader r;
		struct vigil_reading defs[1], out[1];
		uint8_t *copy = malloc(n ? n : 1);

		memcpy(copy, f.payload, n);
		cut.payload = copy;
		cut.length = n;
		ck_assert_int_eq(read_batch(&cut, &r, defs, 1, out, 1), -1);
		ck_assert_int_eq(r.err, 1);
		vigil_wire_reader_free(&r);
		free(copy);
	}
	vigil_batch_free(&batch);
}
END_TEST

START_TEST(garbage_counts_and_strings_are_refused)
{
	uint8_t buf[64];
	struct vigil_frame f = {.payload = buf};
	struct vigil_wire_reader r;
	const struct vigil_label *l;
	size_t n;
	uint32_t v;

	/* A label count far beyond any sane batch. */
	v = 1u << 30;
	memcpy(buf, &v, 4);
	f.length = 4;
	vigil_wire_reader_init(&r, &f);
	ck_assert_int_eq(vigil_wire_get_labels(&r, &l, &n), -1);
	vigil_wire_reader_free(&r);

	/* A string without its terminator, and one with a NUL inside. */
	v = 3;
	memcpy(buf, &v, 4);
	memcpy(buf + 4, "abc", 3);
	f.length = 7;
	vigil_wire_reader_init(&r, &f);
	ck_assert_ptr_null(vigil_wire_get_str(&r));
	ck_assert_int_eq(r.err, 1);
	memcpy(buf + 4, "a\0\0", 3);
	vigil_wire_reader_init(&r, &f);
	ck_assert_ptr_null(vigil_wire_get_str(&r));
	ck_assert_int_eq(r.err, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("frames");

	tcase_add_test(tc, batch_round_trip);
	tcase_add_test(tc, stripped_batch_keeps_definitions);
	tcase_add_test(tc, bad_samples_are_refused);
	tcase_add_test(tc, event_round_trip_with_actions);
	tcase_add_test(tc, absent_and_empty_strings_differ);
	tcase_add_test(tc, partial_frames_wait_for_more);
	tcase_add_test(tc, bad_headers_are_refused);
	tcase_add_test(tc, truncated_payloads_set_err);
	tcase_add_test(tc, garbage_counts_and_strings_are_refused);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
