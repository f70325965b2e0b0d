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

START_TEST(reading_round_trip)
{
	const struct vigil_label labels[] = {{"mount", "/"}, {"dev", "sda1"}};
	const struct vigil_reading in = {
		.metric = "disk.used_percent", .unit = "%", .value = 42.5,
		.time = 1234567890123, .labels = labels, .n_labels = 2,
		.quality = VIGIL_QUALITY_UNCERTAIN, .series_id = 77};
	struct vigil_wire w = {0};
	struct vigil_wire_reader r;
	struct vigil_reading out;
	struct vigil_frame f;

	vigil_wire_begin(&w, VIGIL_MSG_READINGS, 9);
	vigil_wire_put_u32(&w, 1);
	vigil_wire_put_reading(&w, &in);
	vigil_wire_end(&w);
	f = parse_whole(&w);
	ck_assert_int_eq(f.type, VIGIL_MSG_READINGS);
	ck_assert_int_eq(f.seq, 9);

	vigil_wire_reader_init(&r, &f);
	ck_assert_uint_eq(vigil_wire_get_u32(&r), 1);
	ck_assert_int_eq(vigil_wire_get_reading(&r, &out), 0);
	ck_assert_str_eq(out.metric, "disk.used_percent");
	ck_assert_str_eq(out.unit, "%");
	ck_assert(out.value == 42.5);
	ck_assert_int_eq(out.time, 1234567890123);
	ck_assert_int_eq(out.quality, VIGIL_QUALITY_UNCERTAIN);
	ck_assert_uint_eq(out.series_id, 77);
	ck_assert_uint_eq(out.n_labels, 2);
	ck_assert_str_eq(out.labels[1].key, "dev");
	ck_assert_str_eq(out.labels[1].value, "sda1");
	ck_assert_int_eq(r.left, 0);
	ck_assert_int_eq(r.err, 0);
	vigil_wire_reader_free(&r);
	vigil_wire_free(&w);
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

/* Every truncation of a valid payload must fail cleanly, never read past
 * the end (ASan and valgrind watch this test). */
START_TEST(truncated_payloads_set_err)
{
	const struct vigil_label labels[] = {{"k", "v"}};
	const struct vigil_reading in = {.metric = "m", .unit = "u",
					 .labels = labels, .n_labels = 1};
	struct vigil_wire w = {0};
	struct vigil_frame f;

	vigil_wire_begin(&w, VIGIL_MSG_READINGS, 0);
	vigil_wire_put_reading(&w, &in);
	vigil_wire_end(&w);
	f = parse_whole(&w);
	for (uint32_t n = 0; n < f.length; n++) {
		struct vigil_frame cut = f;
		struct vigil_wire_reader r;
		struct vigil_reading out;
		uint8_t *copy = malloc(n ? n : 1);

		memcpy(copy, f.payload, n);
		cut.payload = copy;
		cut.length = n;
		vigil_wire_reader_init(&r, &cut);
		ck_assert_int_eq(vigil_wire_get_reading(&r, &out), -1);
		ck_assert_int_eq(r.err, 1);
		vigil_wire_reader_free(&r);
		free(copy);
	}
	vigil_wire_free(&w);
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

	tcase_add_test(tc, reading_round_trip);
	tcase_add_test(tc, event_round_trip_with_actions);
	tcase_add_test(tc, absent_and_empty_strings_differ);
	tcase_add_test(tc, partial_frames_wait_for_more);
	tcase_add_test(tc, bad_headers_are_refused);
	tcase_add_test(tc, truncated_payloads_set_err);
	tcase_add_test(tc, garbage_counts_and_strings_are_refused);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
