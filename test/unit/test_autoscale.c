/* test_autoscale.c: lib/pool/autoscale.c — the scale decision (bounds,
 * growth by a doubling rate while a backlog lasts, memory guards, shrinking
 * one idle child at a time) and the "MIN..MAX" parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "pool/autoscale.h"

/* A pool of `target` children, all ready and busy, a 5 s old backlog. */
static fp_scale_input_t busy_pool(size_t target, int64_t now)
{
    return (fp_scale_input_t){.target = target, .busy = target, .live = target, .min = 2,
                              .max = 16, .oldest_ready_ms = 5000, .longest_idle_ms = -1,
                              .host_available_bytes = -1, .scale_up_after_ms = 1000,
                              .idle_timeout_ms = 30000, .now_ms = now};
}

static void test_growth_doubles_each_interval_up_to_max(void **state)
{
    (void)state;
    fp_scale_state_t st = {0};
    size_t target = 2;
    size_t want[] = {3, 5, 9, 16};
    for (size_t i = 0; i < 4; i++) {
        fp_scale_input_t in = busy_pool(target, 1000 + (int64_t)i * 1000);
        fp_scale_decision_t d = fp_scale_decide(&in, &st);
        assert_int_equal(d.dir, FP_SCALE_UP);
        assert_int_equal(d.reason, FP_SCALE_BACKLOG);
        assert_int_equal(d.target, want[i]);
        target = d.target;
    }
    fp_scale_input_t in = busy_pool(16, 9000);
    assert_int_equal(fp_scale_decide(&in, &st).dir, FP_SCALE_NONE);
}

static void test_growth_waits_out_the_interval(void **state)
{
    (void)state;
    fp_scale_state_t st = {0};
    fp_scale_input_t in = busy_pool(2, 1000);
    assert_int_equal(fp_scale_decide(&in, &st).target, 3);
    in = busy_pool(3, 1500);
    fp_scale_decision_t d = fp_scale_decide(&in, &st);
    assert_int_equal(d.dir, FP_SCALE_NONE);
    assert_int_equal(d.target, 3);
    /* Children still starting keep the backlog (and the rate) going. */
    in = busy_pool(3, 2000);
    in.busy = 2;
    in.starting = 1;
    assert_int_equal(fp_scale_decide(&in, &st).target, 5);
}

static void test_no_growth_without_backlog_or_with_an_idle_child(void **state)
{
    (void)state;
    fp_scale_state_t st = {0};
    fp_scale_input_t in = busy_pool(4, 1000);
    in.oldest_ready_ms = 999; /* younger than scale_up_after */
    assert_int_equal(fp_scale_decide(&in, &st).dir, FP_SCALE_NONE);
    in.oldest_ready_ms = -1; /* not known yet */
    assert_int_equal(fp_scale_decide(&in, &st).dir, FP_SCALE_NONE);
    in = busy_pool(4, 1000);
    in.busy = 3;
    in.longest_idle_ms = 10;
    assert_int_equal(fp_scale_decide(&in, &st).dir, FP_SCALE_NONE);
}

static void test_rate_resets_when_the_backlog_ends(void **state)
{
    (void)state;
    fp_scale_state_t st = {0};
    fp_scale_input_t in = busy_pool(2, 1000);
    fp_scale_decide(&in, &st); /* 3, rate 2 */
    in = busy_pool(3, 2000);
    fp_scale_decide(&in, &st); /* 5, rate 4 */
    in = busy_pool(5, 3000);
    in.oldest_ready_ms = 0;
    assert_int_equal(fp_scale_decide(&in, &st).dir, FP_SCALE_NONE);
    in = busy_pool(5, 3100); /* a new backlog steps at once, by one */
    assert_int_equal(fp_scale_decide(&in, &st).target, 6);
}

static void test_memory_guards_hold_growth(void **state)
{
    (void)state;
    fp_scale_state_t st = {0};
    fp_scale_input_t in = busy_pool(4, 1000);
    in.max_memory_total = 100 << 20;
    in.rss_total_bytes = 100 << 20;
    fp_scale_decision_t d = fp_scale_decide(&in, &st);
    assert_int_equal(d.dir, FP_SCALE_NONE);
    assert_int_equal(d.target, 4);
    assert_int_equal(d.reason, FP_SCALE_MEMORY_TOTAL);
    in.rss_total_bytes = (100 << 20) - 1;
    in.min_host_available = 1 << 30;
    in.host_available_bytes = (1 << 30) - 1;
    d = fp_scale_decide(&in, &st);
    assert_int_equal(d.reason, FP_SCALE_HOST_MEMORY);
    assert_int_equal(d.target, 4);
    in.host_available_bytes = -1; /* unknown: no guard */
    assert_int_equal(fp_scale_decide(&in, &st).target, 5);
}

static void test_shrinks_one_idle_child_at_a_time_not_below_min(void **state)
{
    (void)state;
    fp_scale_state_t st = {0};
    fp_scale_input_t in = busy_pool(5, 1000);
    in.busy = 0;
    in.oldest_ready_ms = -1;
    in.longest_idle_ms = 29999;
    assert_int_equal(fp_scale_decide(&in, &st).dir, FP_SCALE_NONE);
    in.longest_idle_ms = 30000;
    fp_scale_decision_t d = fp_scale_decide(&in, &st);
    assert_int_equal(d.dir, FP_SCALE_DOWN);
    assert_int_equal(d.reason, FP_SCALE_IDLE);
    assert_int_equal(d.target, 4);
    in.target = 4;
    in.stopping = 1; /* the last stop has not finished */
    assert_int_equal(fp_scale_decide(&in, &st).dir, FP_SCALE_NONE);
    in.stopping = 0;
    in.target = 2;
    assert_int_equal(fp_scale_decide(&in, &st).dir, FP_SCALE_NONE);
}

static void test_bounds_move_the_target(void **state)
{
    (void)state;
    fp_scale_state_t st = {0};
    fp_scale_input_t in = busy_pool(1, 1000);
    fp_scale_decision_t d = fp_scale_decide(&in, &st);
    assert_int_equal(d.target, 2);
    assert_int_equal(d.reason, FP_SCALE_MIN);
    assert_int_equal(d.dir, FP_SCALE_UP);
    in = busy_pool(20, 1000);
    d = fp_scale_decide(&in, &st);
    assert_int_equal(d.target, 16);
    assert_int_equal(d.reason, FP_SCALE_MAX);
    assert_int_equal(d.dir, FP_SCALE_DOWN);
    assert_string_equal(fp_scale_reason_name(FP_SCALE_HOST_MEMORY), "min_host_available");
    assert_null(fp_scale_reason_name(FP_SCALE_REASONS));
}

static void test_range_parser(void **state)
{
    (void)state;
    int64_t lo = -1, hi = -1;
    char why[160];
    assert_int_equal(fp_scale_parse_range("2..16", 1024, &lo, &hi, why, sizeof why), 0);
    assert_int_equal(lo, 2);
    assert_int_equal(hi, 16);
    assert_int_equal(fp_scale_parse_range(" 3 .. 3 ", 1024, &lo, &hi, why, sizeof why), 0);
    assert_int_equal(lo, 3);
    assert_int_equal(hi, 3);
    const char *bad[] = {"", "4", "2..", "..8", "2...8", "a..b", "2..8x", "-1..4", "2-8"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lo = hi = -1;
        assert_int_equal(fp_scale_parse_range(bad[i], 1024, &lo, &hi, why, sizeof why), -EINVAL);
        assert_non_null(strstr(why, "MIN..MAX"));
        assert_int_equal(lo, -1);
    }
    assert_int_equal(fp_scale_parse_range("0..4", 1024, &lo, &hi, why, sizeof why), -EINVAL);
    assert_non_null(strstr(why, "between 1 and 1024"));
    assert_int_equal(fp_scale_parse_range("2..99999999999999999999", 1024, &lo, &hi, why,
                                          sizeof why), -EINVAL);
    assert_non_null(strstr(why, "between 1 and 1024"));
    assert_int_equal(fp_scale_parse_range("8..2", 1024, &lo, &hi, why, sizeof why), -EINVAL);
    assert_non_null(strstr(why, "minimum above its maximum"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_growth_doubles_each_interval_up_to_max),
        cmocka_unit_test(test_growth_waits_out_the_interval),
        cmocka_unit_test(test_no_growth_without_backlog_or_with_an_idle_child),
        cmocka_unit_test(test_rate_resets_when_the_backlog_ends),
        cmocka_unit_test(test_memory_guards_hold_growth),
        cmocka_unit_test(test_shrinks_one_idle_child_at_a_time_not_below_min),
        cmocka_unit_test(test_bounds_move_the_target),
        cmocka_unit_test(test_range_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
