/* test_read_plan.c: lib/queue/read_plan.c — the read planner: what comes
 * first (history, take-over, sweep, blocking read), the strict sweep's
 * progress, the blocking read's COUNT split, the weighted plan and its
 * eligibility; and smooth weighted round-robin: nginx's sequence, exact
 * shares over a cycle, spread within it, queues left out when not
 * eligible, and no starvation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue/read_plan.h"

/* nginx's documented order for weights 5, 1, 1: a a b a c a a. */
static void test_nginx_sequence(void **state)
{
    (void)state;
    const int64_t w[3] = {5, 1, 1};
    int64_t cur[3] = {0, 0, 0};
    const long want[] = {0, 0, 1, 0, 2, 0, 0};
    for (size_t k = 0; k < 2 * sizeof want / sizeof want[0]; k++)
        assert_int_equal(fp_wrr_pick(w, cur, NULL, 3), want[k % 7]);
}

/* 5:3:1 — every cycle of 9 picks gives exactly 5, 3 and 1, and at every
 * prefix each queue is within one pick of its ideal share. */
static void test_shares_are_exact_and_smooth(void **state)
{
    (void)state;
    const int64_t w[3] = {5, 3, 1};
    int64_t cur[3] = {0, 0, 0};
    size_t got[3] = {0, 0, 0};
    for (size_t k = 1; k <= 900; k++) {
        long i = fp_wrr_pick(w, cur, NULL, 3);
        assert_true(i >= 0 && i < 3);
        got[i]++;
        for (size_t q = 0; q < 3; q++) {
            double ideal = (double)k * (double)w[q] / 9.0;
            assert_true((double)got[q] > ideal - 1.0 && (double)got[q] < ideal + 1.0);
        }
        if (k % 9 == 0) {
            assert_int_equal(got[0], k / 9 * 5);
            assert_int_equal(got[1], k / 9 * 3);
            assert_int_equal(got[2], k / 9);
        }
    }
}

static void test_plan_counts(void **state)
{
    (void)state;
    const int64_t w[3] = {5, 3, 1};
    int64_t cur[3] = {0, 0, 0};
    size_t counts[3];
    assert_int_equal(fp_wrr_plan(w, cur, NULL, 3, 9, counts), 9);
    assert_int_equal(counts[0], 5);
    assert_int_equal(counts[1], 3);
    assert_int_equal(counts[2], 1);
    /* A cycle leaves the state where it began. */
    assert_int_equal(cur[0], 0);
    assert_int_equal(cur[1], 0);
    assert_int_equal(cur[2], 0);
    /* Pulls of one job at a time follow the same order as one big plan. */
    size_t ones[3] = {0, 0, 0};
    for (int k = 0; k < 18; k++) {
        assert_int_equal(fp_wrr_plan(w, cur, NULL, 3, 1, counts), 1);
        for (size_t q = 0; q < 3; q++)
            ones[q] += counts[q];
    }
    assert_int_equal(ones[0], 10);
    assert_int_equal(ones[1], 6);
    assert_int_equal(ones[2], 2);
    assert_int_equal(fp_wrr_plan(w, cur, NULL, 3, 0, counts), 0);
    assert_int_equal(counts[0] + counts[1] + counts[2], 0);
}

/* A queue known to be empty is left out; the others share its picks in
 * their own ratio, and it is back in its turn once eligible again. */
static void test_ineligible_queues_are_skipped(void **state)
{
    (void)state;
    const int64_t w[3] = {5, 3, 1};
    int64_t cur[3] = {0, 0, 0};
    size_t counts[3];
    bool eligible[3] = {false, true, true};
    assert_int_equal(fp_wrr_plan(w, cur, eligible, 3, 8, counts), 8);
    assert_int_equal(counts[0], 0);
    assert_int_equal(counts[1], 6);
    assert_int_equal(counts[2], 2);
    bool none[3] = {false, false, false};
    int64_t before[3];
    memcpy(before, cur, sizeof before);
    assert_int_equal(fp_wrr_pick(w, cur, none, 3), -1);
    assert_memory_equal(before, cur, sizeof before);
    assert_int_equal(fp_wrr_plan(w, cur, none, 3, 5, counts), 0);
}

/* No starvation: with a heavy queue (1000) beside a weight-1 queue, the
 * light one is picked at least once in every 1001 picks. */
static void test_light_queue_is_not_starved(void **state)
{
    (void)state;
    const int64_t w[2] = {1000, 1};
    int64_t cur[2] = {0, 0};
    long since = 0;
    size_t light = 0;
    for (int k = 0; k < 5005; k++) {
        long i = fp_wrr_pick(w, cur, NULL, 2);
        since = i == 1 ? 0 : since + 1;
        light += i == 1;
        assert_true(since < 1001);
    }
    assert_int_equal(light, 5);
}

static void assert_step(fp_read_step_t st, fp_read_step_kind_t kind, size_t queue, size_t count)
{
    assert_int_equal(st.kind, kind);
    assert_int_equal(st.queue, queue);
    assert_int_equal(st.count, count);
}

/* Room 0: only a due take-over runs (claiming nothing), history waits. */
static void test_plan_room_zero(void **state)
{
    (void)state;
    fp_read_plan_t p;
    fp_read_plan_init(&p, 3, false);
    assert_int_equal(fp_read_plan_next(&p, 0, 1, false).kind, FP_READ_NONE);
    fp_read_step_t st = fp_read_plan_next(&p, 0, 1, true);
    assert_int_equal(st.kind, FP_READ_CLAIM);
    assert_int_equal(st.count, 0);
    fp_read_plan_init(&p, 3, true);
    assert_int_equal(fp_read_plan_next(&p, 0, -1, false).kind, FP_READ_NONE);
}

/* Own pending entries first, then a due take-over, then new entries; in
 * either order. */
static void test_plan_history_then_claim(void **state)
{
    (void)state;
    for (int weighted = 0; weighted < 2; weighted++) {
        fp_read_plan_t p;
        fp_read_plan_init(&p, 3, weighted);
        assert_step(fp_read_plan_next(&p, 5, 2, true), FP_READ_HISTORY, 2, 5);
        assert_step(fp_read_plan_next(&p, 5, 0, false), FP_READ_HISTORY, 0, 5);
        assert_int_equal(fp_read_plan_next(&p, 5, -1, true).kind, FP_READ_CLAIM);
        assert_int_equal(fp_read_plan_next(&p, 5, -1, false).kind, FP_READ_SWEEP);
    }
}

/* Strict: queue by queue, the first with COUNT room, the next with what is
 * left; a full read starts again from the first queue; a blocking read
 * only after a whole sweep found every queue empty. */
static void test_plan_strict_sweep(void **state)
{
    (void)state;
    fp_read_plan_t p;
    fp_read_plan_init(&p, 3, false);
    assert_step(fp_read_plan_next(&p, 10, -1, false), FP_READ_SWEEP, 0, 10);
    fp_read_plan_done(&p, FP_READ_SWEEP, 0, 10, 3);
    assert_step(fp_read_plan_next(&p, 7, -1, false), FP_READ_SWEEP, 1, 7);
    fp_read_plan_done(&p, FP_READ_SWEEP, 1, 7, 7); /* full: a backlog there */
    assert_step(fp_read_plan_next(&p, 4, -1, false), FP_READ_SWEEP, 0, 4);
    fp_read_plan_done(&p, FP_READ_SWEEP, 0, 4, 0);
    assert_step(fp_read_plan_next(&p, 4, -1, false), FP_READ_SWEEP, 1, 4);
    fp_read_plan_done(&p, FP_READ_SWEEP, 1, 4, 2);
    assert_step(fp_read_plan_next(&p, 2, -1, false), FP_READ_SWEEP, 2, 2);
    fp_read_plan_done(&p, FP_READ_SWEEP, 2, 2, 0);
    /* The sweep got something: another sweep before any blocking read. */
    assert_step(fp_read_plan_next(&p, 2, -1, false), FP_READ_SWEEP, 0, 2);
    for (size_t i = 0; i < 3; i++) {
        assert_step(fp_read_plan_next(&p, 2, -1, false), FP_READ_SWEEP, i, 2);
        fp_read_plan_done(&p, FP_READ_SWEEP, i, 2, 0);
    }
    fp_read_step_t st = fp_read_plan_next(&p, 2, -1, false);
    assert_int_equal(st.kind, FP_READ_BLOCK);
    /* Still blocking until a read says otherwise, then a sweep again. */
    assert_int_equal(fp_read_plan_next(&p, 2, -1, false).kind, FP_READ_BLOCK);
    fp_read_plan_done(&p, FP_READ_BLOCK, 0, 2, 1);
    assert_step(fp_read_plan_next(&p, 2, -1, false), FP_READ_SWEEP, 0, 2);
    /* A reconnection starts the sweep from the first queue. */
    fp_read_plan_done(&p, FP_READ_SWEEP, 0, 2, 1);
    fp_read_plan_restart(&p);
    assert_step(fp_read_plan_next(&p, 2, -1, false), FP_READ_SWEEP, 0, 2);
}

/* The blocking read keeps its total within the room: COUNT room/n on every
 * queue, or COUNT 1 on the first `room` queues. */
static void test_plan_block_split(void **state)
{
    (void)state;
    fp_read_plan_t p;
    fp_read_plan_init(&p, 3, false);
    p.sweep_index = 3; /* a whole sweep found nothing */
    fp_read_step_t st = fp_read_plan_next(&p, 10, -1, false);
    assert_int_equal(st.kind, FP_READ_BLOCK);
    assert_int_equal(st.queue, 0);
    assert_int_equal(st.nstreams, 3);
    assert_int_equal(st.count, 3);
    st = fp_read_plan_next(&p, 2, -1, false);
    assert_int_equal(st.nstreams, 2);
    assert_int_equal(st.count, 1);
    fp_read_plan_init(&p, FP_READ_PLAN_QUEUES_MAX, false);
    p.sweep_index = FP_READ_PLAN_QUEUES_MAX;
    st = fp_read_plan_next(&p, 1000, -1, false);
    assert_int_equal(st.nstreams, FP_READ_PLAN_QUEUES_MAX);
    assert_int_equal(st.count, 1000 / FP_READ_PLAN_QUEUES_MAX);
}

/* Weighted: the room is planned over the queues by their weights and each
 * planned read is sent once, capped by the room at that moment. */
static void test_plan_weighted_reads(void **state)
{
    (void)state;
    fp_read_plan_t p;
    fp_read_plan_init(&p, 3, true);
    p.weights[0] = 5;
    p.weights[1] = 3;
    p.weights[2] = 1;
    assert_step(fp_read_plan_next(&p, 9, -1, false), FP_READ_SWEEP, 0, 5);
    fp_read_plan_done(&p, FP_READ_SWEEP, 0, 5, 5);
    assert_step(fp_read_plan_next(&p, 4, -1, false), FP_READ_SWEEP, 1, 3);
    fp_read_plan_done(&p, FP_READ_SWEEP, 1, 3, 3);
    /* The room shrank to 1: the planned read is capped to it. */
    assert_step(fp_read_plan_next(&p, 1, -1, false), FP_READ_SWEEP, 2, 1);
    fp_read_plan_done(&p, FP_READ_SWEEP, 2, 1, 1);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(p.counts[i], 0);
    /* Spent: a new plan of the room. */
    assert_int_equal(fp_read_plan_next(&p, 9, -1, false).kind, FP_READ_SWEEP);
}

/* Weighted: a short read leaves its queue out of plans; a full read puts
 * every queue back; when all are left out, a blocking read across all,
 * after which all are planned again. */
static void test_plan_weighted_eligibility(void **state)
{
    (void)state;
    fp_read_plan_t p;
    fp_read_plan_init(&p, 2, true);
    p.weights[0] = 1;
    p.weights[1] = 1;
    fp_read_step_t st = fp_read_plan_next(&p, 2, -1, false);
    assert_step(st, FP_READ_SWEEP, 0, 1);
    fp_read_plan_done(&p, FP_READ_SWEEP, 0, 1, 0); /* queue 0 is empty */
    assert_false(p.eligible[0]);
    assert_step(fp_read_plan_next(&p, 2, -1, false), FP_READ_SWEEP, 1, 1);
    fp_read_plan_done(&p, FP_READ_SWEEP, 1, 1, 1);
    assert_true(p.eligible[0]); /* a backlog on 1: everyone planned again */
    /* Queue 0 left out: the next plan gives queue 1 the whole room. */
    fp_read_plan_done(&p, FP_READ_SWEEP, 0, 1, 0);
    assert_step(fp_read_plan_next(&p, 4, -1, false), FP_READ_SWEEP, 1, 4);
    fp_read_plan_done(&p, FP_READ_SWEEP, 1, 4, 2);
    assert_false(p.eligible[1]);
    st = fp_read_plan_next(&p, 4, -1, false);
    assert_int_equal(st.kind, FP_READ_BLOCK);
    assert_int_equal(st.nstreams, 2);
    assert_int_equal(st.count, 2);
    assert_true(p.eligible[0] && p.eligible[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nginx_sequence),
        cmocka_unit_test(test_shares_are_exact_and_smooth),
        cmocka_unit_test(test_plan_counts),
        cmocka_unit_test(test_ineligible_queues_are_skipped),
        cmocka_unit_test(test_light_queue_is_not_starved),
        cmocka_unit_test(test_plan_room_zero),
        cmocka_unit_test(test_plan_history_then_claim),
        cmocka_unit_test(test_plan_strict_sweep),
        cmocka_unit_test(test_plan_block_split),
        cmocka_unit_test(test_plan_weighted_reads),
        cmocka_unit_test(test_plan_weighted_eligibility),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
