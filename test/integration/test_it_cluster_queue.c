/* test_it_cluster_queue.c: one queue (lib/queue/, queue.h) over a live Redis
 * Cluster (test/support/cluster_set.h: 3 masters, one replica each), its
 * connections following the master of its slot through the cluster locator
 * (fp_queue_new_cluster, redis/cluster.h). While jobs are pulled and acked,
 * the queue's slot is moved by hand to another master (consumption resumes
 * during the migration, so the queue meets ASK / TRYAGAIN) and that master
 * is then failed over (CLUSTER FAILOVER on its replica, which answers MOVED
 * once demoted). Every job arrives, its outcome is applied on whichever
 * master holds the slot at the end (stream empty, nothing pending), and
 * duplicates are counted and printed, not asserted away. Then the same
 * through the supervisor's mux (queue/qmux.h) over six queues, two per
 * master, one part each: the room is never exceeded across the parts, each
 * job comes back under its own queue's index, one queue's slot is moved and
 * another's master failed over, the mux stays usable throughout (the other
 * queues' parts are up), and it reports everything drained and
 * samples every queue under its index. The `.chaos` variants run 30,000
 * jobs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_set.h"
#include "harness.h"
#include "queue/name_lease.h"
#include "queue/qmux.h"
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

/* A cluster of 3 masters with a replica each; fails the test otherwise. */
static fp_th_cluster_t *cluster_up(void)
{
    fp_th_cluster_t *c = calloc(1, sizeof *c);
    assert_non_null(c);
    if (fp_th_cluster_start(c, 3, 1) < 0)
        fail_msg("cannot start the cluster");
    return c;
}

/* The cluster locator on loop, every node a seed. */
static fp_cluster_t *locator_on(uv_loop_t *loop, const fp_th_cluster_t *c)
{
    char seeds[FP_TH_CLUSTER_MAX][32];
    const char *seedp[FP_TH_CLUSTER_MAX];
    for (int i = 0; i < c->n_nodes; i++) {
        snprintf(seeds[i], sizeof seeds[i], "127.0.0.1:%d", c->nodes[i].port);
        seedp[i] = seeds[i];
    }
    fp_cluster_t *cl = NULL;
    fp_err_t err = {0};
    assert_int_equal(fp_cluster_new(loop, seedp, (size_t)c->n_nodes, NULL, 2000, false, &cl, &err),
                     0);
    return cl;
}

/* After the queue (or mux) was closed: the locator, the loop, the cluster. */
static void finish(uv_loop_t *loop, fp_cluster_t *cl, fp_th_cluster_t *c)
{
    fp_cluster_close(cl, NULL, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
    fp_th_cluster_stop(c);
    free(c);
}

static void run_case(size_t n)
{
    fp_th_cluster_t *c = cluster_up();
    const char *key = fp_tq_key(QUEUE, "jobs");
    uint16_t slot = fp_cluster_keyslot(key, strlen(key));
    fp_th_redis_t *owner = fp_th_cluster_owner(c, slot);
    assert_non_null(owner);
    fp_tq_xadd_n(owner, QUEUE, n);

    run_t r = {.n = n, .pause_at = n};
    r.seen = calloc(n, 1);
    assert_non_null(r.seen);
    assert_int_equal(uv_loop_init(&r.loop), 0);
    fp_cluster_t *cl = locator_on(&r.loop, c);
    fp_err_t err = {0};
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
    free(r.seen);
    finish(&r.loop, cl, c);
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

/* ---- six queues through the mux ------------------------------------------- */

#define NQ 6
static const char *const MUX_NAMES[NQ] = {"q0", "q1", "q2", "q3", "q4", "q5"};

typedef struct mux_run_s {
    uv_loop_t loop;
    fp_qmux_t *m;
    bool ready;
    size_t per_queue, n;
    unsigned char *seen; /* [queue * per_queue + i] */
    size_t distinct, deliveries, wrong_queue, over_room;
    size_t room, pause_at;
    bool sampled[NQ];
    int drained; /* -1 asked, 0 no, 1 yes */
    size_t unready; /* the mux said not ready after it was ready once */
} mux_run_t;

static void mux_on_jobs(void *ctx, fp_pulled_t *jobs, size_t n)
{
    mux_run_t *r = ctx;
    r->over_room += n > r->room;
    for (size_t i = 0; i < n; i++) {
        const char *p = jobs[i].payload != NULL ? jobs[i].payload : "";
        const char *q = strstr(p, "\"q\":\""), *at = strstr(p, "\"i\":");
        uint32_t g = jobs[i].queue;
        fp_qmux_ack(r->m, g, jobs[i].entry_id);
        r->deliveries++;
        size_t idx = at != NULL ? strtoul(at + 4, NULL, 10) : r->per_queue;
        if (g >= NQ || q == NULL || strncmp(q + 5, MUX_NAMES[g], 2) != 0 || idx >= r->per_queue) {
            r->wrong_queue++;
            continue;
        }
        unsigned char *s = &r->seen[g * r->per_queue + idx];
        r->distinct += *s == 0;
        if (*s < 255)
            (*s)++;
    }
    r->room = r->distinct < r->pause_at ? ROOM : 0;
    fp_qmux_want(r->m, r->room);
}

static void mux_on_ready(void *ctx, bool ready)
{
    mux_run_t *r = ctx;
    r->unready += !ready && r->ready;
    r->ready = ready;
}

static bool mux_reached(void *ctx, size_t want)
{
    return ((mux_run_t *)ctx)->distinct >= want;
}

static void mux_consume(mux_run_t *r, size_t upto, int deadline_ms, bool must)
{
    r->pause_at = upto;
    r->room = ROOM;
    fp_qmux_want(r->m, ROOM);
    if (!fp_tq_run_until(&r->loop, mux_reached, r, upto, deadline_ms) && must)
        fail_msg("%zu of %zu jobs arrived", r->distinct, upto);
}

static void on_drained(void *ctx, bool drained)
{
    ((mux_run_t *)ctx)->drained = drained;
}

static bool mux_settled(void *ctx, size_t unused)
{
    mux_run_t *r = ctx;
    (void)unused;
    if (r->distinct < r->n || !r->ready || fp_qmux_unconfirmed(r->m) > 0)
        return false;
    if (r->drained == 1)
        return true;
    if (r->drained != -1) { /* not asked yet, or not drained yet: ask (again) */
        r->drained = -1;
        fp_qmux_check_drained(r->m, on_drained, r);
    }
    return r->drained == 1;
}

static void on_sample(void *ctx, uint32_t queue, const struct fp_admin_queue_stats_s *stats)
{
    mux_run_t *r = ctx;
    if (queue < NQ && stats != NULL)
        r->sampled[queue] = true;
}

static bool all_sampled(void *ctx, size_t unused)
{
    mux_run_t *r = ctx;
    (void)unused;
    for (size_t i = 0; i < NQ; i++)
        if (!r->sampled[i])
            return false;
    return true;
}

/* ---- calls about keys outside the queues' slots ----------------------------- */

static void on_eval(void *ctx, struct redisReply *reply)
{
    long long *v = ctx;
    *v = reply != NULL && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -2;
}

static void on_beat(void *ctx, bool ok)
{
    *(int *)ctx = ok ? 1 : 0;
}

static void on_fleet(void *ctx, fp_fleet_t *fleet)
{
    size_t *n = ctx;
    *n = fleet != NULL ? fleet->n + 1 : 0; /* 0: failed; 1 + members */
    if (fleet != NULL) {
        fp_fleet_clear(fleet);
        free(fleet);
    }
}

static bool long_set(void *ctx, size_t unused)
{
    (void)unused;
    return *(long long *)ctx != -1;
}

static bool int_set(void *ctx, size_t unused)
{
    (void)unused;
    return *(int *)ctx != -1;
}

static bool int_set_one(void *ctx, size_t unused)
{
    (void)unused;
    return *(int *)ctx == 1;
}

static bool size_set(void *ctx, size_t unused)
{
    (void)unused;
    return *(size_t *)ctx != (size_t)-1;
}

/* A limit's script lands on the master of {limit:TYPE}'s slot, the
 * heartbeat and the fleet read on {fleet}'s (up by now: opened at start),
 * each through its side connection. */
static void side_calls(mux_run_t *r, fp_th_cluster_t *c)
{
    const char *key = "fp:{limit:resize}:running";
    const char *args[] = {key};
    long long v = -1;
    const char *script = "return redis.call('INCRBY', KEYS[1], 41) + 1";
    /* No configured limit has this type: its slot's connection is made by
     * the first call, which finds it still connecting. */
    assert_int_equal(fp_qmux_eval(r->m, script, 1, args, 1, on_eval, &v), -ENOTCONN);
    long long end = fp_th_now_ms() + 20000;
    while (fp_qmux_eval(r->m, script, 1, args, 1, on_eval, &v) == -ENOTCONN) {
        if (fp_th_now_ms() > end)
            fail_msg("the side connection of {limit:resize} never came up");
        fp_tq_run_for(&r->loop, 20);
    }
    assert_true(fp_tq_run_until(&r->loop, long_set, &v, 0, 20000));
    assert_int_equal(v, 42);
    fp_th_redis_t *o = fp_th_cluster_owner(c, fp_cluster_keyslot(key, strlen(key)));
    assert_int_equal(fp_th_redis_int(o, "INCRBY %s 0", key), 41);

    int ok = -1;
    assert_int_equal(fp_qmux_heartbeat(r->m, "mux-1", "{\"name\":\"mux\",\"token\":\"t1\"}",
                                       60000, on_beat, &ok), 0);
    assert_true(fp_tq_run_until(&r->loop, int_set, &ok, 0, 20000));
    assert_int_equal(ok, 1);
    size_t members = (size_t)-1;
    assert_int_equal(fp_qmux_fleet_read(r->m, on_fleet, &members), 0);
    assert_true(fp_tq_run_until(&r->loop, size_set, &members, 0, 20000));
    assert_int_equal(members, 2); /* read, with one member */
    ok = -1;
    assert_int_equal(fp_qmux_heartbeat_clear(r->m, "mux-1", "t1", on_beat, &ok), 0);
    assert_true(fp_tq_run_until(&r->loop, int_set, &ok, 0, 20000));
    assert_int_equal(ok, 1);
    char *fleet = NULL;
    assert_non_null(fleet = fp_fleet_set_key("fp"));
    o = fp_th_cluster_owner(c, fp_cluster_keyslot(fleet, strlen(fleet)));
    assert_int_equal(fp_th_redis_int(o, "ZCARD %s", fleet), 0);
    free(fleet);
}

/* ---- the name lease over a Cluster ---------------------------------------- */

static void on_held(void *ctx)
{
    *(int *)ctx = 1;
}

static void on_refused(void *ctx, const char *why)
{
    (void)why;
    *(int *)ctx = 0;
}

static void on_lease_closed(void *ctx)
{
    *(int *)ctx = 1;
}

static bool lease_keys(fp_th_cluster_t *c, long long want)
{
    for (size_t g = 0; g < NQ; g++) {
        char *key = fp_lease_key("fp", MUX_NAMES[g], "mux");
        assert_non_null(key);
        fp_th_redis_t *o = fp_th_cluster_owner(c, fp_cluster_keyslot(key, strlen(key)));
        long long n = fp_th_redis_int(o, "EXISTS %s", key);
        free(key);
        if (n != want)
            return false;
    }
    return true;
}

/* The daemon's name claimed on every queue, each key on its slot's master
 * through a connection of its own, and released at close. */
static void lease_round(uv_loop_t *loop, fp_config_t *cfg, fp_cluster_t *cl, fp_th_cluster_t *c)
{
    static const fp_lease_events_t ev = {on_held, on_refused};
    int held = -1, closed = 0;
    fp_lease_t *l = NULL;
    fp_err_t err = {0};
    assert_int_equal(fp_lease_new_cluster(loop, cfg, MUX_NAMES, NQ, cl, &ev, &held, &l, &err), 0);
    fp_lease_start(l);
    assert_true(fp_tq_run_until(loop, int_set, &held, 0, 20000));
    assert_int_equal(held, 1);
    assert_true(lease_keys(c, 1));
    fp_lease_close(l, on_lease_closed, &closed);
    assert_true(fp_tq_run_until(loop, int_set_one, &closed, 0, 20000));
    assert_true(lease_keys(c, 0));
}

static fp_th_redis_t *owner_of(fp_th_cluster_t *c, const char *queue, uint16_t *slot)
{
    const char *key = fp_tq_key(queue, "jobs");
    *slot = fp_cluster_keyslot(key, strlen(key));
    fp_th_redis_t *o = fp_th_cluster_owner(c, *slot);
    assert_non_null(o);
    return o;
}

static void mux_case(size_t n)
{
    fp_th_cluster_t *c = cluster_up();
    mux_run_t r = {.per_queue = n / NQ, .n = (n / NQ) * NQ, .drained = 0};
    r.pause_at = r.n;
    r.seen = calloc(r.n, 1);
    assert_non_null(r.seen);
    uint16_t slots[NQ];
    for (size_t g = 0; g < NQ; g++) {
        fp_th_redis_t *o = owner_of(c, MUX_NAMES[g], &slots[g]);
        for (size_t i = 0; i < r.per_queue; i++) {
            char payload[96];
            snprintf(payload, sizeof payload, "{\"type\":\"noop\",\"args\":{\"i\":%zu},\"q\":\"%s\"}",
                     i, MUX_NAMES[g]);
            free(fp_tq_xadd(o, MUX_NAMES[g], payload));
        }
    }
    assert_int_equal(uv_loop_init(&r.loop), 0);
    fp_cluster_t *cl = locator_on(&r.loop, c);
    fp_err_t err = {0};
    fp_config_t cfg;
    fp_tq_config_init(&cfg, "mux", "redis://127.0.0.1:1");
    static const fp_queue_events_t events = {mux_on_jobs, mux_on_ready, NULL, NULL};
    assert_int_equal(fp_qmux_new(&r.loop, &cfg, MUX_NAMES, NQ, cl, &events, &r, &r.m, &err), 0);
    assert_int_equal(fp_qmux_parts(r.m), NQ);
    assert_int_equal(fp_qmux_start(r.m), 0);

    long long t0 = fp_th_now_ms();
    mux_consume(&r, r.n / 3, 60000, true);
    fp_th_redis_t *from = fp_th_cluster_owner(c, slots[0]);
    fp_th_redis_t *to = fp_th_cluster_other_master(c, from);
    assert_int_equal(fp_th_cluster_move_begin(c, slots[0], to), 0);
    mux_consume(&r, r.n / 2, 1500, false); /* as far as the migration lets it */
    assert_int_equal(fp_th_cluster_move_finish(c, slots[0], to), 0);
    mux_consume(&r, 2 * r.n / 3, 60000, true);
    fp_th_redis_t *promoted = fp_th_cluster_failover(c, fp_th_cluster_owner(c, slots[1]));
    assert_non_null(promoted);
    r.pause_at = r.n;
    r.room = ROOM;
    fp_qmux_want(r.m, ROOM);
    if (!fp_tq_run_until(&r.loop, mux_settled, &r, 0, 60000))
        fail_msg("%zu of %zu jobs arrived, %zu outcomes unconfirmed, %s, drained %d", r.distinct,
                 r.n, fp_qmux_unconfirmed(r.m), r.ready ? "ready" : "not ready", r.drained);
    long long ms = fp_th_now_ms() - t0;
    assert_int_equal(r.wrong_queue, 0);
    assert_int_equal(r.over_room, 0);
    /* One slot moved, one master failed over: the other queues' parts stayed
     * up, so the mux never stopped being usable. */
    assert_int_equal(r.unready, 0);
    assert_true(fp_qmux_is_ready(r.m));
    assert_string_equal(fp_qmux_down_reason(r.m), "");
    for (size_t g = 0; g < NQ; g++) {
        fp_th_redis_t *o = owner_of(c, MUX_NAMES[g], &slots[g]);
        assert_int_equal(fp_tq_xlen(o, MUX_NAMES[g]), 0);
        assert_int_equal(fp_tq_pending(o, MUX_NAMES[g]), 0);
    }
    fp_qmux_sample(r.m, on_sample, &r);
    assert_true(fp_tq_run_until(&r.loop, all_sampled, &r, 0, 20000));
    side_calls(&r, c);
    lease_round(&r.loop, &cfg, cl, c);
    fp_queue_stats_t st;
    fp_qmux_stats(r.m, &st);
    assert_true(st.redis_commands > 0);
    printf("# %zu jobs over %d queues through a slot move and a failover in %lld ms: %zu "
           "deliveries (%zu duplicates), %llu Redis commands\n",
           r.n, NQ, ms, r.deliveries, r.deliveries - r.n, (unsigned long long)st.redis_commands);

    fp_qmux_close(r.m, NULL, NULL);
    free(r.seen);
    finish(&r.loop, cl, c);
}

static void test_mux_six_queues(void **state)
{
    (void)state;
    mux_case(3000);
}

static void test_chaos_mux_six_queues(void **state)
{
    (void)state;
    mux_case(30000);
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
        cmocka_unit_test(test_mux_six_queues),
        cmocka_unit_test(test_chaos_mux_six_queues),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
