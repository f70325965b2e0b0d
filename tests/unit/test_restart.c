/*
 * test_restart.c - the restart policy of plugin workers: backoff, jitter,
 * healthy reset, restart intensity and FAILED.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "restart.h"
#include "unit.h"

#define MS VIGIL_MSEC
#define S VIGIL_SEC

static const struct vigil_restart_policy policy = {
	.delay = 100 * MS,
	.delay_max = 5 * S,
	.healthy_after = 60 * S,
	.max_restarts = 5,
	.window = 60 * S,
	.failed_retry = 300 * S,
};

START_TEST(backoff_doubles_to_cap)
{
	ck_assert_int_eq(vigil_restart_backoff(&policy, 1), 100 * MS);
	ck_assert_int_eq(vigil_restart_backoff(&policy, 2), 200 * MS);
	ck_assert_int_eq(vigil_restart_backoff(&policy, 3), 400 * MS);
	ck_assert_int_eq(vigil_restart_backoff(&policy, 6), 3200 * MS);
	ck_assert_int_eq(vigil_restart_backoff(&policy, 7), 5 * S);
	ck_assert_int_eq(vigil_restart_backoff(&policy, 60), 5 * S);
}
END_TEST

START_TEST(jitter_stays_within_a_quarter)
{
	struct vigil_restart_state st = {0};
	vigil_time_ns d;

	vigil_restart_started(&st, 1 * S);
	ck_assert_int_eq(vigil_restart_decide(&policy, &st, 2 * S, 0, &d),
			 VIGIL_RESTART_AFTER);
	ck_assert_int_eq(d, 100 * MS);

	memset(&st, 0, sizeof(st));
	vigil_restart_started(&st, 1 * S);
	ck_assert_int_eq(vigil_restart_decide(&policy, &st, 2 * S, 0xffffffffu,
					      &d),
			 VIGIL_RESTART_AFTER);
	ck_assert(d > 100 * MS && d < 125 * MS);
}
END_TEST

START_TEST(quick_deaths_back_off_more)
{
	struct vigil_restart_state st = {0};
	vigil_time_ns now = 10 * S, d;

	for (unsigned i = 1; i <= 4; i++) {
		vigil_restart_started(&st, now);
		now += 1 * S;
		ck_assert_int_eq(vigil_restart_decide(&policy, &st, now, 0, &d),
				 VIGIL_RESTART_AFTER);
		ck_assert_int_eq(d, vigil_restart_backoff(&policy, i));
		now += d;
	}
}
END_TEST

START_TEST(healthy_run_resets_backoff)
{
	struct vigil_restart_state st = {0};
	vigil_time_ns now = 10 * S, d;

	for (int i = 0; i < 3; i++) {
		vigil_restart_started(&st, now);
		now += 1 * S;
		vigil_restart_decide(&policy, &st, now, 0, &d);
	}
	ck_assert_int_eq(d, 400 * MS);
	/* Up for longer than healthy_after: the next death is like a first. */
	vigil_restart_started(&st, now);
	now += 61 * S;
	ck_assert_int_eq(vigil_restart_decide(&policy, &st, now, 0, &d),
			 VIGIL_RESTART_AFTER);
	ck_assert_int_eq(d, 100 * MS);
}
END_TEST

/* p->max_restarts deaths a second apart are restarted; the next one is
 * FAILED. Returns the time of that death; *d is the delay given. */
static vigil_time_ns fail_after_max(const struct vigil_restart_policy *p,
				    struct vigil_restart_state *st,
				    vigil_time_ns now, vigil_time_ns *d)
{
	for (unsigned i = 0; i < p->max_restarts; i++) {
		vigil_restart_started(st, now);
		now += 1 * MS;
		ck_assert_msg(vigil_restart_decide(p, st, now, 0, d) ==
				      VIGIL_RESTART_AFTER,
			      "death %u of max_restarts = %u not restarted", i + 1,
			      p->max_restarts);
	}
	vigil_restart_started(st, now);
	now += 1 * MS;
	ck_assert_msg(vigil_restart_decide(p, st, now, 0, d) ==
			      VIGIL_RESTART_FAILED,
		      "death %u of max_restarts = %u not FAILED",
		      p->max_restarts + 1, p->max_restarts);
	return now;
}

START_TEST(too_many_restarts_fail_then_start_over)
{
	struct vigil_restart_state st = {0};
	vigil_time_ns now, d;

	now = fail_after_max(&policy, &st, 10 * S, &d);
	ck_assert_int_eq(d, policy.failed_retry);

	/* After the cool-off the instance gets a whole budget again. */
	now += d;
	vigil_restart_started(&st, now);
	now += 1 * S;
	ck_assert_int_eq(vigil_restart_decide(&policy, &st, now, 0, &d),
			 VIGIL_RESTART_AFTER);
	ck_assert_int_eq(d, 100 * MS);
}
END_TEST

START_TEST(every_max_restarts_is_reached)
{
	/* Up to the largest value accepted (the history keeps one death
	 * more: with 64 the 65th was never seen, and FAILED never came). */
	unsigned maxes[] = {0, 1, 63, VIGIL_RESTART_HISTORY};

	for (size_t i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
		struct vigil_restart_policy p = policy;
		struct vigil_restart_state st = {0};
		vigil_time_ns d;

		p.max_restarts = maxes[i];
		fail_after_max(&p, &st, 10 * S, &d);
	}
}
END_TEST

START_TEST(deaths_outside_the_window_do_not_count)
{
	struct vigil_restart_state st = {0};
	vigil_time_ns now = 10 * S, d;

	/* One death every 20 s: never more than 3 within 60 s. */
	for (int i = 0; i < 50; i++) {
		vigil_restart_started(&st, now);
		now += 20 * S;
		ck_assert_int_eq(vigil_restart_decide(&policy, &st, now, 7, &d),
				 VIGIL_RESTART_AFTER);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("restart");
	TCase *tc = tcase_create("policy");

	tcase_add_test(tc, backoff_doubles_to_cap);
	tcase_add_test(tc, jitter_stays_within_a_quarter);
	tcase_add_test(tc, every_max_restarts_is_reached);
	tcase_add_test(tc, quick_deaths_back_off_more);
	tcase_add_test(tc, healthy_run_resets_backoff);
	tcase_add_test(tc, too_many_restarts_fail_then_start_over);
	tcase_add_test(tc, deaths_outside_the_window_do_not_count);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
