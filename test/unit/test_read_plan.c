/* test_read_plan.c: lib/queue/read_plan.c — smooth weighted round-robin: nginx's
 * sequence, exact shares over a cycle, spread within it, queues left out
 * when not eligible, and no starvation. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nginx_sequence),
        cmocka_unit_test(test_shares_are_exact_and_smooth),
        cmocka_unit_test(test_plan_counts),
        cmocka_unit_test(test_ineligible_queues_are_skipped),
        cmocka_unit_test(test_light_queue_is_not_starved),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
