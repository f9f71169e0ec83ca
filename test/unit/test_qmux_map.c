/* test_qmux_map.c: queues grouped into parts (one part for one Redis; one
 * per slot over a Cluster, in the order of their first queue, configured
 * order within a part), the index maps both ways, and the parts' counters
 * summed (lib/queue/qmux_map.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "queue/qmux_map.h"

/* Every queue's (part, local) points back at it. */
static void check_inverse(const fp_qmux_map_t *m)
{
    size_t total = 0;
    for (size_t p = 0; p < m->nparts; p++)
        total += m->part_n[p];
    assert_int_equal(total, m->n);
    for (size_t g = 0; g < m->n; g++) {
        assert_true(m->part_of[g] < m->nparts);
        assert_true(m->local_of[g] < m->part_n[m->part_of[g]]);
        assert_int_equal(m->globals[m->part_of[g]][m->local_of[g]], g);
    }
}

static void test_one_redis(void **state)
{
    (void)state;
    fp_qmux_map_t m;
    assert_int_equal(fp_qmux_map_build(&m, 3, NULL), 0);
    assert_int_equal(m.nparts, 1);
    for (uint32_t g = 0; g < 3; g++) {
        assert_int_equal(m.part_of[g], 0);
        assert_int_equal(m.local_of[g], g); /* unchanged indexes */
    }
    check_inverse(&m);
    fp_qmux_map_free(&m);
    assert_null(m.part_of);
}

static void test_cluster_slots(void **state)
{
    (void)state;
    /* Six queues; the 2nd and 5th share a slot, as do the 3rd and 6th. */
    const uint16_t slots[] = {100, 7, 9000, 16383, 7, 9000};
    fp_qmux_map_t m;
    assert_int_equal(fp_qmux_map_build(&m, 6, slots), 0);
    assert_int_equal(m.nparts, 4);
    const uint32_t part[] = {0, 1, 2, 3, 1, 2}, local[] = {0, 0, 0, 0, 1, 1};
    for (size_t g = 0; g < 6; g++) {
        assert_int_equal(m.part_of[g], part[g]);
        assert_int_equal(m.local_of[g], local[g]);
    }
    assert_int_equal(m.part_n[1], 2);
    assert_int_equal(m.globals[1][1], 4);
    check_inverse(&m);
    fp_qmux_map_free(&m);
    /* Every queue in its own slot: one part each, in order. */
    const uint16_t own[] = {1, 2, 3};
    assert_int_equal(fp_qmux_map_build(&m, 3, own), 0);
    assert_int_equal(m.nparts, 3);
    check_inverse(&m);
    fp_qmux_map_free(&m);
}

static void test_stats_add(void **state)
{
    (void)state;
    fp_queue_stats_t sum, a, b;
    memset(&sum, 0, sizeof sum);
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.claimed = 2, a.renewed = 3, a.moved = 4, a.outcomes_stale = 1, a.redis_commands = 10;
    a.redis_errors = 1, a.read_rtt_us = 300, a.read_rtt_samples = 5, a.sweeps = 1;
    b.claimed = 1, b.consumers_removed = 2, b.redis_commands = 5, b.read_rtt_us = 900;
    b.read_rtt_samples = 2, b.dropped_deleted = 7, b.renew_rounds = 3, b.mover_rounds = 4;
    b.renewals_lost = 6;
    fp_qmux_stats_add(&sum, &a);
    fp_qmux_stats_add(&sum, &b);
    assert_int_equal(sum.claimed, 3);
    assert_int_equal(sum.renewed, 3);
    assert_int_equal(sum.moved, 4);
    assert_int_equal(sum.dropped_deleted, 7);
    assert_int_equal(sum.consumers_removed, 2);
    assert_int_equal(sum.sweeps, 1);
    assert_int_equal(sum.renew_rounds, 3);
    assert_int_equal(sum.mover_rounds, 4);
    assert_int_equal(sum.outcomes_stale, 1);
    assert_int_equal(sum.renewals_lost, 6);
    assert_int_equal(sum.redis_commands, 15);
    assert_int_equal(sum.redis_errors, 1);
    assert_int_equal(sum.read_rtt_us, 900);
    assert_int_equal(sum.read_rtt_samples, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_redis),
        cmocka_unit_test(test_cluster_slots),
        cmocka_unit_test(test_stats_add),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
