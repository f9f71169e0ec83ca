/* test_sqlq_aq_plan.c: the embedded queue thread's planning (sqlq/aq_plan.h):
 * pull at once while there is a backlog, then data_version checks every
 * FP_AQP_CHECK_MS and a pull only when it moved or FP_AQP_DUE_MS passed;
 * back-off after store errors; weighted caps from the read planner's
 * round-robin, with queues found empty left out. Times are the test's own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sqlq/aq_plan.h"

static void test_first_step_pulls_and_no_room_waits(void **state)
{
    (void)state;
    fp_aqp_t p;
    fp_aqp_init(&p);
    assert_int_equal(fp_aqp_next(&p, 1000, true).kind, FP_AQP_PULL);
    fp_aqp_step_t s = fp_aqp_next(&p, 1000, false);
    assert_int_equal(s.kind, FP_AQP_WAIT);
    assert_int_equal(s.wait_ms, -1);
}

static void test_backlog_pulls_again_at_once(void **state)
{
    (void)state;
    fp_aqp_t p;
    fp_aqp_init(&p);
    fp_aqp_pulled(&p, 1000, 64, 64);
    assert_int_equal(fp_aqp_next(&p, 1000, true).kind, FP_AQP_PULL);
}

static void test_idle_checks_version_then_pulls_when_changed(void **state)
{
    (void)state;
    fp_aqp_t p;
    fp_aqp_init(&p);
    fp_aqp_pulled(&p, 1000, 64, 3); /* short: idle */
    fp_aqp_step_t s = fp_aqp_next(&p, 1002, true);
    assert_int_equal(s.kind, FP_AQP_WAIT);
    assert_int_equal(s.wait_ms, FP_AQP_CHECK_MS - 2);
    assert_int_equal(fp_aqp_next(&p, 1000 + FP_AQP_CHECK_MS, true).kind, FP_AQP_CHECK);
    fp_aqp_checked(&p, 1000 + FP_AQP_CHECK_MS, false);
    s = fp_aqp_next(&p, 1000 + FP_AQP_CHECK_MS, true);
    assert_int_equal(s.kind, FP_AQP_WAIT);
    assert_int_equal(s.wait_ms, FP_AQP_CHECK_MS);
    fp_aqp_checked(&p, 1000 + 2 * FP_AQP_CHECK_MS, true);
    assert_int_equal(fp_aqp_next(&p, 1000 + 2 * FP_AQP_CHECK_MS, true).kind, FP_AQP_PULL);
    /* A change seen while the supervisor has no room is kept for later. */
    assert_int_equal(fp_aqp_next(&p, 1000 + 2 * FP_AQP_CHECK_MS, false).kind, FP_AQP_WAIT);
    assert_int_equal(fp_aqp_next(&p, 1000 + 3 * FP_AQP_CHECK_MS, true).kind, FP_AQP_PULL);
}

static void test_idle_pulls_for_due_rows_without_change(void **state)
{
    (void)state;
    fp_aqp_t p;
    fp_aqp_init(&p);
    fp_aqp_pulled(&p, 1000, 64, 0);
    for (int64_t t = 1000 + FP_AQP_CHECK_MS; t < 1000 + FP_AQP_DUE_MS; t += FP_AQP_CHECK_MS) {
        assert_int_equal(fp_aqp_next(&p, t, true).kind, FP_AQP_CHECK);
        fp_aqp_checked(&p, t, false);
    }
    assert_int_equal(fp_aqp_next(&p, 1000 + FP_AQP_DUE_MS, true).kind, FP_AQP_PULL);
}

static void test_backoff_doubles_to_a_cap_and_resets(void **state)
{
    (void)state;
    fp_aqp_t p;
    fp_aqp_init(&p);
    fp_aqp_failed(&p, 1000);
    fp_aqp_step_t s = fp_aqp_next(&p, 1000, true);
    assert_int_equal(s.kind, FP_AQP_WAIT);
    assert_int_equal(s.wait_ms, FP_AQP_BACKOFF_MIN_MS);
    fp_aqp_failed(&p, 1000);
    assert_int_equal(fp_aqp_next(&p, 1000, true).wait_ms, 2 * FP_AQP_BACKOFF_MIN_MS);
    for (int i = 0; i < 20; i++)
        fp_aqp_failed(&p, 1000);
    assert_int_equal(fp_aqp_next(&p, 1000, true).wait_ms, FP_AQP_BACKOFF_MAX_MS);
    assert_int_equal(fp_aqp_next(&p, 1000 + FP_AQP_BACKOFF_MAX_MS, true).kind, FP_AQP_PULL);
    fp_aqp_succeeded(&p);
    assert_int_equal(fp_aqp_next(&p, 1000, true).kind, FP_AQP_PULL);
}

static void test_caps_follow_weights(void **state)
{
    (void)state;
    fp_aqp_caps_t c;
    fp_aqp_caps_init(&c, 2);
    c.weights[0] = 3;
    c.weights[1] = 1;
    size_t caps[2];
    fp_aqp_caps_plan(&c, 0, 8, caps);
    assert_int_equal(caps[0], 6);
    assert_int_equal(caps[1], 2);
}

static void test_caps_leave_out_an_empty_queue_then_plan_it_again(void **state)
{
    (void)state;
    fp_aqp_caps_t c;
    fp_aqp_caps_init(&c, 2);
    c.weights[0] = 3;
    c.weights[1] = 1;
    size_t caps[2], got[2];
    fp_aqp_caps_plan(&c, 0, 8, caps);
    got[0] = 0; /* queue 0 is empty */
    got[1] = caps[1];
    assert_true(fp_aqp_caps_done(&c, caps, got)); /* short by the caps: pull again at once */
    fp_aqp_caps_plan(&c, 10, 8, caps);
    assert_int_equal(caps[0], 0);
    assert_int_equal(caps[1], 8); /* the backlog of queue 1 gets the whole room */
    got[1] = 2;
    assert_false(fp_aqp_caps_done(&c, caps, got)); /* both empty: idle, then both planned */
    fp_aqp_caps_plan(&c, 20, 8, caps);
    assert_int_equal(caps[0] + caps[1], 8);
    assert_true(caps[0] > 0 && caps[1] > 0);
    /* After FP_AQP_DUE_MS a queue left out is planned again. */
    got[0] = 0;
    got[1] = caps[1];
    assert_true(fp_aqp_caps_done(&c, caps, got));
    fp_aqp_caps_plan(&c, 20 + FP_AQP_DUE_MS, 8, caps);
    assert_true(caps[0] > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_step_pulls_and_no_room_waits),
        cmocka_unit_test(test_backlog_pulls_again_at_once),
        cmocka_unit_test(test_idle_checks_version_then_pulls_when_changed),
        cmocka_unit_test(test_idle_pulls_for_due_rows_without_change),
        cmocka_unit_test(test_backoff_doubles_to_a_cap_and_resets),
        cmocka_unit_test(test_caps_follow_weights),
        cmocka_unit_test(test_caps_leave_out_an_empty_queue_then_plan_it_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
