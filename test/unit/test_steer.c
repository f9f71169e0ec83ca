/* test_steer.c: the adaptive pool's pure parts — the per-type run-time
 * estimator (lib/pool/estimate.c), the completion rate and round trip
 * (lib/pool/flow.c), and the hold and send-ahead decisions
 * (lib/pool/steer.c) as functions of numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "pool/estimate.h"
#include "pool/flow.h"
#include "pool/steer.h"

static fp_estimate_t est; /* large: kept off the stack */

static void test_type_unknown_until_enough_samples(void **state)
{
    (void)state;
    fp_estimate_init(&est);
    int t = fp_estimate_type(&est, "noop");
    assert_int_equal(fp_estimate_type(&est, "noop"), t);
    for (int i = 0; i < FP_EST_MIN_SAMPLES - 1; i++)
        fp_estimate_run(&est, t, 10);
    assert_false(fp_estimate_known(&est, t));
    assert_int_equal(fp_estimate_mean_us(&est, t), -1);
    assert_int_equal(fp_estimate_pct_us(&est, t), -1);
    fp_estimate_run(&est, t, 10);
    assert_true(fp_estimate_known(&est, t));
    assert_int_equal(fp_estimate_mean_us(&est, t), 10);
    assert_in_range(fp_estimate_pct_us(&est, t), 10, 12);
}

/* One run in a hundred of a second: the mean stays small, the percentile
 * tells the truth. */
static void test_percentile_sees_the_rare_long_run(void **state)
{
    (void)state;
    fp_estimate_init(&est);
    int t = fp_estimate_type(&est, "mostly_fast");
    for (int i = 0; i < 400; i++)
        fp_estimate_run(&est, t, i % 50 == 0 ? 1000000 : 100);
    assert_true(fp_estimate_mean_us(&est, t) < 100000);
    assert_in_range(fp_estimate_pct_us(&est, t), 1000000, 1200000);
    int u = fp_estimate_type(&est, "always_fast");
    for (int i = 0; i < 400; i++)
        fp_estimate_run(&est, u, i % 1000 == 999 ? 1000000 : 100);
    assert_in_range(fp_estimate_pct_us(&est, u), 100, 120);
}

/* The histogram forgets: a type that became fast is fast again after a
 * few hundred runs, and the mean follows sooner. */
static void test_estimates_follow_a_change(void **state)
{
    (void)state;
    fp_estimate_init(&est);
    int t = fp_estimate_type(&est, "changes");
    for (int i = 0; i < 2000; i++)
        fp_estimate_run(&est, t, 50000);
    assert_true(fp_estimate_pct_us(&est, t) >= 50000);
    for (int i = 0; i < 100; i++)
        fp_estimate_run(&est, t, 20);
    assert_true(fp_estimate_mean_us(&est, t) < 100);
    for (int i = 0; i < 3000; i++)
        fp_estimate_run(&est, t, 20);
    assert_in_range(fp_estimate_pct_us(&est, t), 20, 24);
}

/* Type names are user input: past FP_EST_TYPES they share one entry. */
static void test_type_table_is_bounded(void **state)
{
    (void)state;
    fp_estimate_init(&est);
    char name[32];
    for (int i = 0; i < FP_EST_TYPES; i++) {
        snprintf(name, sizeof name, "type%d", i);
        assert_int_equal(fp_estimate_type(&est, name), i);
    }
    assert_int_equal(fp_estimate_type(&est, "one_too_many"), FP_EST_OTHER);
    assert_int_equal(fp_estimate_type(&est, "another"), FP_EST_OTHER);
    assert_int_equal(fp_estimate_type(&est, "type7"), 7);
    char longname[FP_EST_NAME_MAX + 2];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(fp_estimate_type(&est, longname), FP_EST_OTHER);
    /* A long job among the others makes "other" long for all of them. */
    for (int i = 0; i < 20; i++)
        fp_estimate_run(&est, FP_EST_OTHER, i == 0 ? 5000000 : 10);
    assert_true(fp_estimate_pct_us(&est, FP_EST_OTHER) >= 5000000);
}

static void test_buckets_cover_the_value(void **state)
{
    (void)state;
    int64_t values[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 100, 1000, 1999, 2000, 123456, INT64_C(1) << 38};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        size_t b = fp_estimate_bucket(values[i]);
        assert_true(fp_estimate_bucket_top(b) >= values[i]);
        /* within a quarter doubling: the percentile is never far above */
        assert_true(fp_estimate_bucket_top(b) <= values[i] + values[i] / 4 + 1);
        if (b > 0)
            assert_true(fp_estimate_bucket_top(b - 1) <= values[i]);
    }
    assert_int_equal(fp_estimate_bucket(INT64_MAX), FP_EST_BUCKETS - 1);
}

static void test_flow_rate_rises_and_falls(void **state)
{
    (void)state;
    fp_flow_t f;
    fp_flow_init(&f, 0);
    assert_true(fp_flow_rate(&f, 0) == 0);
    int64_t now = 0;
    for (int w = 0; w < 40; w++) /* 1000 jobs/s: 20 per 20 ms window */
        for (int i = 0; i < 20; i++, now += 1000)
            fp_flow_done(&f, 1, now);
    assert_true(fp_flow_rate(&f, now) > 900 && fp_flow_rate(&f, now) < 1100);
    /* Nothing for a while: the rate falls with the windows passed, not with
     * the looks: a quiet second leaves nothing of a burst. */
    double before = fp_flow_rate(&f, now);
    assert_true(fp_flow_rate(&f, now + 2 * FP_FLOW_WINDOW_US) < before * 0.6);
    assert_true(fp_flow_rate(&f, now + 2 * FP_FLOW_WINDOW_US + 1000000) < before * 0.001);
    fp_flow_redis_rtt(&f, 400);
    assert_true(f.redis_rtt_us == 400);
    fp_flow_redis_rtt(&f, 800);
    assert_true(f.redis_rtt_us > 400 && f.redis_rtt_us < 800);
    fp_flow_redis_rtt(&f, -5); /* ignored */
    assert_true(f.redis_rtt_us > 400 && f.redis_rtt_us < 800);
}

/* The plan rate: what the children could do once runs are measured and
 * while jobs keep finishing; a slot whose job has run longer than the mean
 * counts that; after a quiet spell the measured rate alone. */
static void test_flow_plan_rate(void **state)
{
    (void)state;
    fp_flow_t f;
    fp_flow_init(&f, 0);
    assert_true(fp_flow_slot_rate(&f, 0) == 0); /* nothing measured */
    fp_flow_run(&f, 100);                       /* 100 µs jobs: 10,000/s a slot */
    assert_true(fp_flow_slot_rate(&f, 0) == 10000);
    assert_true(fp_flow_slot_rate(&f, 50) == 10000);
    assert_true(fp_flow_slot_rate(&f, 1000000) == 1); /* a job running for 1 s */
    fp_flow_run(&f, 0);                               /* read as 1 µs, never infinite */
    assert_true(f.run_us > 1 && f.run_us < 100);
    assert_true(fp_flow_plan_rate(&f, 1000, 40000) == 0); /* no completion yet */
    fp_flow_done(&f, 1, 1000);
    assert_true(fp_flow_plan_rate(&f, 2000, 40000) == 40000);
    assert_true(fp_flow_plan_rate(&f, 1000 + FP_FLOW_QUIET_US, 40000) == 40000);
    assert_true(fp_flow_plan_rate(&f, 1001 + FP_FLOW_QUIET_US, 40000) < 40000);
}

static size_t hold(double rate, double redis_rtt_us, double ahead_us, size_t capacity,
                   size_t max_held)
{
    fp_steer_flow_t flow = {rate, redis_rtt_us, 100, ahead_us};
    return fp_steer_hold(&flow, capacity, max_held);
}

static void test_hold_covers_the_refill(void **state)
{
    (void)state;
    /* 100,000 jobs/s, 300 µs Redis + 100 µs channel: 40 jobs leave during a
     * refill; twice that is held. */
    assert_int_equal(hold(100000, 300, 0, 4, 1000), 80);
    /* Rounded to the nearest: a trickle of long jobs holds nothing, half a
     * job's worth holds one. */
    assert_int_equal(hold(10, 300, 0, 4, 1000), 0);
    assert_int_equal(hold(20, 300, 2000, 4, 1000), 0); /* 200 ms jobs: 0.2 % waiting */
    assert_int_equal(hold(625, 300, 0, 4, 1000), 1);
    /* 40 ms jobs (100/s on 4 children) and a 400 µs refill: without a job
     * in hand each child would wait 1 % of its time; one is kept. */
    assert_int_equal(hold(100, 300, 2000, 4, 1000), 1);
    assert_int_equal(hold(50, 300, 0, 4, 1000), 1);  /* 80 ms jobs: 0.5 % */
    assert_int_equal(hold(49, 300, 0, 4, 1000), 0);
    /* Nothing done yet, or long jobs: nothing held beyond the children. */
    assert_int_equal(hold(0, 300, 0, 4, 1000), 0);
    assert_int_equal(hold(-5, 300, 2000, 4, 1000), 0);
    /* The memory bound: never past max_held, and never negative. */
    assert_int_equal(hold(100000, 300, 0, 4, 64), 60);
    assert_int_equal(hold(100000, 300, 0, 64, 64), 0);
    assert_int_equal(hold(100000, 300, 0, 100, 64), 0);
    assert_int_equal(hold(1e300, 1e300, 0, 4, 64), 60);
    /* Unmeasured round trips count as nothing but the channel's floor. */
    assert_int_equal(hold(100000, -1, 0, 4, 1000), 20);
}

/* With send-ahead on, the children's sockets take up to max wait of work
 * each: at 10,000 jobs/s and 2 ms, 20 jobs more. */
static void test_hold_feeds_the_send_ahead(void **state)
{
    (void)state;
    assert_int_equal(hold(10000, 300, 0, 4, 1000), 8);
    assert_int_equal(hold(10000, 300, 2000, 4, 1000), 28);
    assert_int_equal(hold(10000, 300, -1, 4, 1000), 8);
    assert_int_equal(hold(10000, 300, 2000, 4, 20), 16);
}

static void test_send_ahead_rule(void **state)
{
    (void)state;
    const int64_t w = 2000;
    fp_steer_front_t short_front = {.ahead_us = 150, .run_expect_us = 50, .run_elapsed_us = 10};
    assert_int_equal(fp_steer_front_us(&short_front), 140);
    assert_true(fp_steer_send_ahead(&short_front, 60, w));
    /* Unknown or long types are never sent ahead. */
    assert_false(fp_steer_send_ahead(&short_front, -1, w));
    assert_false(fp_steer_send_ahead(&short_front, w + 1, w));
    assert_true(fp_steer_send_ahead(&short_front, w, w));
    /* Nothing goes behind an unknown or long job. */
    fp_steer_front_t behind_long = short_front;
    behind_long.unsure = 1;
    assert_false(fp_steer_send_ahead(&behind_long, 60, w));
    /* Too much work in front. */
    fp_steer_front_t full = {.ahead_us = 2500, .run_expect_us = 100, .run_elapsed_us = 0};
    assert_false(fp_steer_send_ahead(&full, 60, w));
    /* A running job past its mean leaves nothing of itself, not less than nothing. */
    fp_steer_front_t overran = {.ahead_us = 1900, .run_expect_us = 100, .run_elapsed_us = 500};
    assert_int_equal(fp_steer_front_us(&overran), 1800);
    assert_true(fp_steer_send_ahead(&overran, 60, w));
    /* A short type's job that has run past the wait is not trusted. */
    fp_steer_front_t stuck = {.ahead_us = 50, .run_expect_us = 50, .run_elapsed_us = w + 1};
    assert_false(fp_steer_send_ahead(&stuck, 60, w));
}

/* The payload size planned with: up at once, down 1/64 of the way. */
static void test_payload_note(void **state)
{
    (void)state;
    double size = fp_steer_payload_note(0, 200);
    assert_true(size == 200);
    size = fp_steer_payload_note(size, 1 << 20);
    assert_true(size == (double)(1 << 20));
    double after_one = fp_steer_payload_note(size, 200);
    assert_true(after_one < size && after_one > size * 0.98);
    for (int i = 0; i < 1000; i++)
        size = fp_steer_payload_note(size, 200);
    assert_true(size < 1000);
    assert_true(size >= 200);
}

/* The byte bound on max_held: payloads at the estimated size fit in
 * max_held_bytes; never below capacity, never above max_held; off at 0 or
 * with nothing seen. */
static void test_max_held_bytes(void **state)
{
    (void)state;
    int64_t mb = 1 << 20;
    assert_int_equal(fp_steer_max_held(512, 64 * mb, 200, 4), 512);
    assert_int_equal(fp_steer_max_held(512, 64 * mb, (double)mb, 4), 64);
    assert_int_equal(fp_steer_max_held(512, 64 * mb, 32.0 * (double)mb, 4), 4);
    assert_int_equal(fp_steer_max_held(512, 64 * mb, 128.0 * 1024, 4), 512);
    assert_int_equal(fp_steer_max_held(512, 0, (double)mb, 4), 512);
    assert_int_equal(fp_steer_max_held(512, 64 * mb, 0, 4), 512);
    /* The hold then stays within it. */
    fp_steer_flow_t flow = {.rate = 200000, .redis_rtt_us = 1000, .channel_rtt_us = 100};
    assert_int_equal(fp_steer_hold(&flow, 4, fp_steer_max_held(512, 64 * mb, (double)mb, 4)), 60);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_payload_note),
        cmocka_unit_test(test_max_held_bytes),
        cmocka_unit_test(test_type_unknown_until_enough_samples),
        cmocka_unit_test(test_percentile_sees_the_rare_long_run),
        cmocka_unit_test(test_estimates_follow_a_change),
        cmocka_unit_test(test_type_table_is_bounded),
        cmocka_unit_test(test_buckets_cover_the_value),
        cmocka_unit_test(test_flow_rate_rises_and_falls),
        cmocka_unit_test(test_flow_plan_rate),
        cmocka_unit_test(test_hold_covers_the_refill),
        cmocka_unit_test(test_hold_feeds_the_send_ahead),
        cmocka_unit_test(test_send_ahead_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
