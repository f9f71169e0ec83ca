/* test_it_cluster_queue.c: one queue (lib/queue/, queue.h) over a live Redis
 * Cluster (test/support/cluster_set.h: 3 masters, one replica each), its
 * connections following the master of its slot through the cluster locator
 * (fp_queue_new_cluster, redis/cluster.h). While jobs are pulled and acked,
 * the queue's slot is moved by hand to another master (consumption resumes
 * during the migration, so the queue meets ASK / TRYAGAIN) and that master
 * is then failed over (CLUSTER FAILOVER on its replica, which answers MOVED
 * once demoted). Every job arrives, its outcome is applied on whichever
 * master holds the slot at the end (stream empty, nothing pending), and
 * duplicates are counted and printed, not asserted away. The `.chaos`
 * variant runs 30,000 jobs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_set.h"
#include "harness.h"
#include "queue/queue.h"
#include "queue_fixture.h"
#include "redis/cluster.h"
#include "redis/cluster_parse.h"

#define ROOM 20
#define QUEUE "moving"

typedef struct run_s {
    uv_loop_t loop;
    fp_queue_t *q;
    bool ready;
    size_t n;            /* jobs added */
    unsigned char *seen; /* per job: deliveries (capped at 255) */
    size_t distinct, deliveries, bad_payloads;
    size_t pause_at;     /* no new room once this many distinct jobs arrived */
} run_t;

static void on_jobs(void *ctx, fp_pulled_t *jobs, size_t n)
{
    run_t *r = ctx;
    for (size_t i = 0; i < n; i++) {
        const char *at = jobs[i].payload != NULL ? strstr(jobs[i].payload, "\"i\":") : NULL;
        size_t idx = at != NULL ? strtoul(at + 4, NULL, 10) : r->n;
        fp_queue_ack(r->q, jobs[i].queue, jobs[i].entry_id);
        r->deliveries++;
        if (idx >= r->n) {
            r->bad_payloads++;
            continue;
        }
        r->distinct += r->seen[idx] == 0;
        if (r->seen[idx] < 255)
            r->seen[idx]++;
    }
    fp_queue_want(r->q, r->distinct < r->pause_at ? ROOM : 0);
}

static void on_ready(void *ctx, bool ready)
{
    ((run_t *)ctx)->ready = ready;
}

static bool reached(void *ctx, size_t want)
{
    return ((run_t *)ctx)->distinct >= want;
}

static bool settled(void *ctx, size_t want)
{
    run_t *r = ctx;
    return r->distinct >= want && r->ready && fp_queue_unconfirmed(r->q) == 0;
}

/* Consumes until `upto` distinct jobs arrived (asserted within 60 s). */
static void consume(run_t *r, size_t upto, const char *phase)
{
    r->pause_at = upto;
    fp_queue_want(r->q, ROOM);
    if (!fp_tq_run_until(&r->loop, reached, r, upto, 60000))
        fail_msg("%s: %zu of %zu jobs arrived", phase, r->distinct, upto);
}

static void run_case(size_t n)
{
    fp_th_cluster_t *c = calloc(1, sizeof *c);
    assert_non_null(c);
    if (fp_th_cluster_start(c, 3, 1) < 0)
        fail_msg("cannot start the cluster");
    const char *key = fp_tq_key(QUEUE, "jobs");
    uint16_t slot = fp_cluster_keyslot(key, strlen(key));
    fp_th_redis_t *owner = fp_th_cluster_owner(c, slot);
    assert_non_null(owner);
    fp_tq_xadd_n(owner, QUEUE, n);

    run_t r = {.n = n, .pause_at = n};
    r.seen = calloc(n, 1);
    assert_non_null(r.seen);
    assert_int_equal(uv_loop_init(&r.loop), 0);
    char seeds[FP_TH_CLUSTER_MAX][32];
    const char *seedp[FP_TH_CLUSTER_MAX];
    for (int i = 0; i < c->n_nodes; i++) {
        snprintf(seeds[i], sizeof seeds[i], "127.0.0.1:%d", c->nodes[i].port);
        seedp[i] = seeds[i];
    }
    fp_cluster_t *cl = NULL;
    fp_err_t err = {0};
    assert_int_equal(fp_cluster_new(&r.loop, seedp, (size_t)c->n_nodes, NULL, 2000, false, &cl,
                                    &err), 0);
    fp_config_t cfg;
    fp_tq_config_init(&cfg, "cq", "redis://127.0.0.1:1"); /* the host is not used */
    static const fp_queue_events_t events = {on_jobs, on_ready, NULL, NULL};
    const char *names[] = {QUEUE};
    assert_int_equal(fp_queue_new_cluster(&r.loop, &cfg, names, 1, cl, &events, &r, &r.q, &err),
                     0);
    assert_int_equal(fp_queue_start(r.q), 0);

    long long t0 = fp_th_now_ms();
    consume(&r, n / 3, "before the move");
    /* The migration half-done: keys the owner no longer has answer ASK,
     * scripts over keys on both sides TRYAGAIN. Consumption goes on (as far
     * as it can) for a while, then the move completes. */
    fp_th_redis_t *to = fp_th_cluster_other_master(c, owner);
    assert_non_null(to);
    assert_int_equal(fp_th_cluster_move_begin(c, slot, to), 0);
    r.pause_at = n / 2;
    fp_queue_want(r.q, ROOM);
    (void)fp_tq_run_until(&r.loop, reached, &r, n / 2, 1500);
    size_t in_migration = r.distinct - n / 3;
    assert_int_equal(fp_th_cluster_move_finish(c, slot, to), 0);
    consume(&r, 2 * n / 3, "after the move");

    fp_th_redis_t *promoted = fp_th_cluster_failover(c, to);
    assert_non_null(promoted);
    r.pause_at = n;
    fp_queue_want(r.q, ROOM);
    if (!fp_tq_run_until(&r.loop, settled, &r, n, 60000))
        fail_msg("after the failover: %zu of %zu jobs arrived, %zu outcomes unconfirmed, %s",
                 r.distinct, n, fp_queue_unconfirmed(r.q), r.ready ? "ready" : "not ready");
    long long ms = fp_th_now_ms() - t0;

    assert_int_equal(r.bad_payloads, 0);
    assert_int_equal(r.distinct, n);
    fp_th_redis_t *last = fp_th_cluster_owner(c, slot);
    assert_ptr_equal(last, promoted);
    assert_int_equal(fp_tq_xlen(last, QUEUE), 0);
    assert_int_equal(fp_tq_pending(last, QUEUE), 0);
    printf("# %zu jobs through a slot move and a failover in %lld ms: %zu deliveries "
           "(%zu duplicates), %zu arrived while migrating, %llu slot maps read\n",
           n, ms, r.deliveries, r.deliveries - n, in_migration,
           (unsigned long long)fp_cluster_maps_read(cl));

    fp_queue_close(r.q, NULL, NULL);
    fp_cluster_close(cl, NULL, NULL);
    uv_run(&r.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&r.loop), 0);
    free(r.seen);
    fp_th_cluster_stop(c);
    free(c);
}

static void test_queue_follows_slot(void **state)
{
    (void)state;
    run_case(3000);
}

static void test_chaos_queue_follows_slot(void **state)
{
    (void)state;
    run_case(30000);
}

int main(int argc, char **argv)
{
    /* test_it_cluster_queue NAME runs one test; --skip PATTERN all but those. */
    if (argc > 2 && strcmp(argv[1], "--skip") == 0)
        cmocka_set_skip_filter(argv[2]);
    else if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_follows_slot),
        cmocka_unit_test(test_chaos_queue_follows_slot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
