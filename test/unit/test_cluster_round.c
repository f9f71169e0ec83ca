/* test_cluster_round.c: the order in which the daemon asks cluster nodes
 * for the slot map (the node that answered last, the seeds, the masters of
 * the last map; each once), the end of a round, and what a connection
 * following a slot is told (lib/redis/cluster_round.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "redis/cluster_round.h"

static fp_cluster_addr_t addr(int port)
{
    fp_cluster_addr_t a = {.port = port};
    snprintf(a.host, sizeof a.host, "127.0.0.1");
    return a;
}

/* A map with masters on ports[0..n), slots split evenly, slot 0 unserved
 * when hole. */
static fp_cluster_map_t *map_of(const int *ports, size_t n, bool hole)
{
    fp_cluster_map_t *m = calloc(1, sizeof *m);
    assert_non_null(m);
    m->n_nodes = n;
    for (size_t i = 0; i < n; i++)
        m->nodes[i] = addr(ports[i]);
    for (size_t s = 0; s < FP_CLUSTER_SLOTS; s++)
        m->owner[s] = (int16_t)(s * n / FP_CLUSTER_SLOTS);
    if (hole)
        m->owner[0] = -1;
    return m;
}

/* Follows a round to its end, every node failing: the ports in order. */
static size_t walk(fp_cluster_round_t *r, const fp_cluster_addr_t *first, int *ports, size_t max)
{
    size_t n = 0;
    for (const fp_cluster_addr_t *a = first; a != NULL && n < max; a = fp_cluster_round_failed(r))
        ports[n++] = a->port;
    return n;
}

static void test_first_round_seeds_only(void **state)
{
    (void)state;
    fp_cluster_round_t r;
    fp_cluster_addr_t seeds[] = {addr(7000), addr(7001), addr(7000)};
    int got[8];
    size_t n = walk(&r, fp_cluster_round_begin(&r, NULL, seeds, 3, NULL), got, 8);
    assert_int_equal(n, 2); /* a seed written twice is asked once */
    assert_int_equal(got[0], 7000);
    assert_int_equal(got[1], 7001);
    assert_false(r.active);
    assert_null(fp_cluster_round_failed(&r)); /* over stays over */
}

static void test_last_then_seeds_then_masters(void **state)
{
    (void)state;
    fp_cluster_round_t r;
    fp_cluster_addr_t seeds[] = {addr(7000), addr(7001)};
    fp_cluster_addr_t last = addr(7004);
    int ports[] = {7001, 7002, 7004, 7005};
    fp_cluster_map_t *m = map_of(ports, 4, false);
    int got[8];
    size_t n = walk(&r, fp_cluster_round_begin(&r, &last, seeds, 2, m), got, 8);
    int want[] = {7004, 7000, 7001, 7002, 7005};
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(got[i], want[i]);
    /* An answer ends the round; the next begins afresh. */
    assert_non_null(fp_cluster_round_begin(&r, &last, seeds, 2, m));
    assert_non_null(fp_cluster_round_failed(&r));
    fp_cluster_round_answered(&r);
    assert_false(r.active);
    assert_null(fp_cluster_round_failed(&r));
    free(m);
}

static void test_nothing_to_ask(void **state)
{
    (void)state;
    fp_cluster_round_t r;
    fp_cluster_addr_t none = {.port = 0};
    assert_null(fp_cluster_round_begin(&r, &none, NULL, 0, NULL));
    assert_false(r.active);
}

static void test_capped(void **state)
{
    (void)state;
    fp_cluster_round_t r;
    fp_cluster_map_t *m = calloc(1, sizeof *m);
    assert_non_null(m);
    m->n_nodes = 100;
    for (int i = 0; i < 100; i++)
        m->nodes[i] = addr(8000 + i);
    int got[200];
    assert_int_equal(walk(&r, fp_cluster_round_begin(&r, NULL, NULL, 0, m), got, 200),
                     FP_CLUSTER_ROUND_MAX);
    free(m);
}

static void test_slot_target(void **state)
{
    (void)state;
    int ports[] = {7000, 7001, 7002};
    fp_cluster_map_t *m = map_of(ports, 3, true);
    fp_cluster_addr_t to = {.port = 1};
    char why[160] = "";
    assert_int_equal(fp_cluster_slot_target(m, 16383, "queue q", &to, why, sizeof why), 0);
    assert_int_equal(to.port, 7002);
    assert_int_equal(fp_cluster_slot_target(m, 5461, NULL, &to, why, sizeof why), 0);
    assert_int_equal(to.port, 7000 + (int)(5461 * 3 / FP_CLUSTER_SLOTS));
    to.port = 1;
    assert_int_equal(fp_cluster_slot_target(m, 0, "queue emails", &to, why, sizeof why), -1);
    assert_string_equal(why, "no cluster master serves slot 0 (queue emails)");
    assert_int_equal(to.port, 1);
    assert_int_equal(fp_cluster_slot_target(m, 0, NULL, &to, why, sizeof why), -1);
    assert_string_equal(why, "no cluster master serves slot 0");
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_round_seeds_only),
        cmocka_unit_test(test_last_then_seeds_then_masters),
        cmocka_unit_test(test_nothing_to_ask),
        cmocka_unit_test(test_capped),
        cmocka_unit_test(test_slot_target),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
