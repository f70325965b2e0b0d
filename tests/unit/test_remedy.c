/*
 * test_remedy.c - the remediation policy: one attempt at a time, verify
 * window, cooldown, attempts, giving up once, resolution ends it.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "remedy.h"
#include "unit.h"

#define S VIGIL_SEC

static const struct vigil_remedy_policy three = {
	.attempts = 3,
	.cooldown = 10 * S,
	.verify = 30 * S,
};

static const struct vigil_remedy_policy quick = {
	.attempts = 2,
	.cooldown = 60 * S,
	.verify = 5 * S,
};

static const struct vigil_remedy_policy *policy_of(void *user, size_t action)
{
	(void)user;
	return action == 0 ? &three : &quick;
}

static enum vigil_remedy_verdict next(struct vigil_remedy *r, vigil_time_ns now,
				      size_t *action, uint64_t *incident)
{
	return vigil_remedy_next(r, policy_of, NULL, now, action, incident);
}

START_TEST(first_event_runs_once)
{
	struct vigil_remedy r;
	size_t a;
	uint64_t id;

	vigil_remedy_init(&r);
	ck_assert_int_eq(vigil_remedy_event(&r, 0, 7, 0), VIGIL_REMEDY_RUN);
	/* Escalation, repeat, flapping reopen: no second attempt while one
	 * runs or waits. */
	ck_assert_int_eq(vigil_remedy_event(&r, 0, 7, 1 * S),
			 VIGIL_REMEDY_NOTHING);
	ck_assert_int_eq(next(&r, 100 * S, &a, &id), VIGIL_REMEDY_NOTHING);
	/* Another action on the same incident is independent. */
	ck_assert_int_eq(vigil_remedy_event(&r, 1, 7, 1 * S), VIGIL_REMEDY_RUN);
	ck_assert_uint_eq(vigil_remedy_find(&r, 0, 7)->attempts, 1);
	vigil_remedy_free(&r);
}
END_TEST

START_TEST(verify_then_retry_then_give_up)
{
	struct vigil_remedy r;
	size_t a = 99;
	uint64_t id = 0;

	vigil_remedy_init(&r);
	ck_assert_int_eq(vigil_remedy_event(&r, 0, 7, 0), VIGIL_REMEDY_RUN);
	vigil_remedy_done(&r, &three, 0, 7, 2 * S);
	ck_assert_int_eq(vigil_remedy_next_due(&r), 32 * S);
	/* Within the verify window: nothing. */
	ck_assert_int_eq(next(&r, 31 * S, &a, &id), VIGIL_REMEDY_NOTHING);
	ck_assert_int_eq(next(&r, 32 * S, &a, &id), VIGIL_REMEDY_RUN);
	ck_assert_uint_eq(a, 0);
	ck_assert_uint_eq(id, 7);
	ck_assert_uint_eq(vigil_remedy_find(&r, 0, 7)->attempts, 2);
	/* Running: not due again until it is done. */
	ck_assert_int_eq(next(&r, 1000 * S, &a, &id), VIGIL_REMEDY_NOTHING);
	vigil_remedy_done(&r, &three, 0, 7, 40 * S);
	ck_assert_int_eq(next(&r, 70 * S, &a, &id), VIGIL_REMEDY_RUN);
	vigil_remedy_done(&r, &three, 0, 7, 71 * S);
	ck_assert_int_eq(next(&r, 100 * S, &a, &id), VIGIL_REMEDY_NOTHING);
	/* Third attempt verified in vain: give up, once. */
	ck_assert_int_eq(next(&r, 101 * S, &a, &id), VIGIL_REMEDY_GIVE_UP);
	ck_assert_int_eq(vigil_remedy_find(&r, 0, 7)->state,
			 VIGIL_REMEDY_FAILED);
	ck_assert_int_eq(next(&r, 1000 * S, &a, &id), VIGIL_REMEDY_NOTHING);
	ck_assert_int_eq(vigil_remedy_next_due(&r), 0);
	/* Still no new attempt for later events of the same incident. */
	ck_assert_int_eq(vigil_remedy_event(&r, 0, 7, 2000 * S),
			 VIGIL_REMEDY_NOTHING);
	vigil_remedy_free(&r);
}
END_TEST

START_TEST(cooldown_longer_than_verify_wins)
{
	struct vigil_remedy r;
	size_t a;
	uint64_t id;

	vigil_remedy_init(&r);
	ck_assert_int_eq(vigil_remedy_event(&r, 1, 3, 0), VIGIL_REMEDY_RUN);
	vigil_remedy_done(&r, &quick, 1, 3, 1 * S);
	ck_assert_int_eq(next(&r, 6 * S, &a, &id), VIGIL_REMEDY_NOTHING);
	ck_assert_int_eq(next(&r, 61 * S, &a, &id), VIGIL_REMEDY_RUN);
	vigil_remedy_done(&r, &quick, 1, 3, 62 * S);
	ck_assert_int_eq(next(&r, 122 * S, &a, &id), VIGIL_REMEDY_GIVE_UP);
	vigil_remedy_free(&r);
}
END_TEST

START_TEST(resolution_ends_remediation)
{
	struct vigil_remedy r;
	size_t a;
	uint64_t id;

	vigil_remedy_init(&r);
	vigil_remedy_event(&r, 0, 7, 0);
	vigil_remedy_event(&r, 1, 7, 0);
	vigil_remedy_event(&r, 0, 8, 0);
	vigil_remedy_done(&r, &three, 0, 7, 1 * S);
	ck_assert_uint_eq(vigil_remedy_resolved(&r, 7), 2);
	ck_assert_ptr_null(vigil_remedy_find(&r, 0, 7));
	ck_assert_ptr_null(vigil_remedy_find(&r, 1, 7));
	ck_assert_ptr_nonnull(vigil_remedy_find(&r, 0, 8));
	ck_assert_int_eq(next(&r, 1000 * S, &a, &id), VIGIL_REMEDY_NOTHING);
	/* A later incident of the same key has a new id: a fresh start. */
	ck_assert_int_eq(vigil_remedy_event(&r, 0, 9, 0), VIGIL_REMEDY_RUN);
	ck_assert_uint_eq(vigil_remedy_resolved(&r, 12345), 0);
	/* done for something unknown, or not running, is ignored. */
	vigil_remedy_done(&r, &three, 0, 12345, 0);
	vigil_remedy_forget(&r, 0, 9);
	ck_assert_ptr_null(vigil_remedy_find(&r, 0, 9));
	vigil_remedy_free(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("remedy");
	TCase *tc = tcase_create("policy");

	tcase_add_test(tc, first_event_runs_once);
	tcase_add_test(tc, verify_then_retry_then_give_up);
	tcase_add_test(tc, cooldown_longer_than_verify_wins);
	tcase_add_test(tc, resolution_ends_remediation);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
