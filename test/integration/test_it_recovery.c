/* test_it_recovery.c: the recovery half of the delivery contract, in the
 * queue layer (lib/queue/: takeover.c, renew.c, mover.c), against a real redis-server: claim
 * renewal, take-over of abandoned entries with their delivery counts and
 * within the room, dropping of pending entries whose stream entry is gone,
 * removal of idle consumers, and the delayed mover. Several queue objects
 * (daemons with their own consumer names) share one libuv loop; a "dead"
 * daemon is a queue closed without outcomes. Progress is counted through
 * fp_queue_stats (sweeps, renewal rounds, mover rounds), never by elapsed
 * time; deadlines only stop hangs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue.h"
#include "harness.h"
#include "queue_fixture.h"
#include "redis_server.h"

#define DEADLINE_MS FP_TQ_DEADLINE_MS

#define NODES 3

typedef struct tr_s {
    fp_th_redis_t redis;
    uv_loop_t loop;
    fp_tq_node_t node[NODES];
} tr_t;

static bool run_until(tr_t *t, fp_tq_cond_fn cond, size_t arg, int deadline_ms)
{
    return fp_tq_run_until(&t->loop, cond, t, arg, deadline_ms);
}

/* ---- Redis helpers ----------------------------------------------------------- */

/* Owner and delivery counter of one pending entry (XPENDING extended form);
 * false when it is not pending. */
static bool pending_entry(tr_t *t, const char *queue, const char *id, char *owner, size_t cap,
                          long long *deliveries)
{
    redisReply *r = fp_th_redis_cmd(&t->redis, "XPENDING %s forkpool %s %s 1",
                                    fp_tq_key(queue, "jobs"), id, id);
    assert_non_null(r);
    bool found = r->type == REDIS_REPLY_ARRAY && r->elements == 1;
    if (found) {
        snprintf(owner, cap, "%s", r->element[0]->element[1]->str);
        *deliveries = r->element[0]->element[3]->integer;
    }
    freeReplyObject(r);
    return found;
}

/* Redis' own clock in unix ms (the mover's clock). */
static long long redis_now_ms(tr_t *t)
{
    redisReply *r = fp_th_redis_cmd(&t->redis, "TIME");
    assert_non_null(r);
    assert_int_equal(r->elements, 2);
    long long ms = atoll(r->element[0]->str) * 1000 + atoll(r->element[1]->str) / 1000;
    freeReplyObject(r);
    return ms;
}

/* Whether the group on queue has a consumer of that name. */
static bool has_consumer(tr_t *t, const char *queue, const char *name)
{
    redisReply *r =
        fp_th_redis_cmd(&t->redis, "XINFO CONSUMERS %s forkpool", fp_tq_key(queue, "jobs"));
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    bool found = false;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *c = r->element[i];
        for (size_t k = 0; k + 1 < c->elements; k += 2)
            if (strcmp(c->element[k]->str, "name") == 0 &&
                strcmp(c->element[k + 1]->str, name) == 0)
                found = true;
    }
    freeReplyObject(r);
    return found;
}

/* ---- fixture ------------------------------------------------------------------ */

/* One daemon: consumer `name` on `queue`, with the given visibility timeout
 * and claim interval (0: off), ready. */
static fp_tq_node_t *node_open(tr_t *t, size_t i, const char *name, const char *queue,
                               int64_t vt_ms, int64_t claim_ms)
{
    fp_tq_node_t *d = &t->node[i];
    assert_null(d->q);
    fp_tq_node_got_clear(d);
    fp_tq_node_init(d, &t->loop, name, fp_th_redis_url(&t->redis));
    d->cfg.retry.max_attempts = 5;
    d->cfg.recovery.visibility_timeout_ms = vt_ms;
    d->cfg.recovery.claim_interval_ms = claim_ms;
    fp_tq_node_open_ready(d, queue);
    return d;
}

static int setup(void **state)
{
    tr_t *t = calloc(1, sizeof *t);
    assert_non_null(t);
    assert_int_equal(uv_loop_init(&t->loop), 0);
    assert_int_equal(fp_th_redis_start(&t->redis, NULL), 0);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    tr_t *t = *state;
    for (size_t i = 0; i < NODES; i++) {
        fp_tq_node_close(&t->node[i]);
        fp_tq_node_got_clear(&t->node[i]);
    }
    uv_run(&t->loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&t->loop), 0);
    fp_th_redis_stop(&t->redis);
    free(t);
    return 0;
}

/* One argument for a condition on node `node` and a count n. */
static size_t node_arg(size_t node, size_t n)
{
    return node * 10000 + n;
}

/* ---- tests ------------------------------------------------------------------ */

static uint64_t renew_target, sweep_target;

static bool renewed_and_swept(void *ctx, size_t arg)
{
    tr_t *t = ctx;
    (void)arg;
    return fp_tq_node_stats(&t->node[0]).renew_rounds >= renew_target &&
           fp_tq_node_stats(&t->node[1]).sweeps >= sweep_target;
}

/* A holds an entry past several visibility timeouts; B sweeps every 200 ms
 * and never takes it, because A renews. Once A is gone, B does take it. */
static void test_renewal_keeps_claim(void **state)
{
    tr_t *t = *state;
    char *id = fp_tq_xadd(&t->redis, "renew", "{\"type\":\"long\"}");
    fp_tq_node_t *a = node_open(t, 0, "alpha", "renew", 1000, 200);
    fp_tq_node_want(a, 1);
    assert_true(fp_tq_wait_got(&t->node[0], 1, DEADLINE_MS));
    assert_string_equal(a->got[0].id, id);
    assert_int_equal(a->got[0].deliveries, 1);

    fp_tq_node_t *b = node_open(t, 1, "beta", "renew", 1000, 200);
    fp_tq_node_want(b, 10);
    /* At least 3 visibility periods: 10 renewals of A (every 333 ms) and 16
     * sweeps of B (every 200 ms), counted, not timed. */
    renew_target = fp_tq_node_stats(a).renew_rounds + 10;
    sweep_target = fp_tq_node_stats(b).sweeps + 16;
    assert_true(run_until(t, renewed_and_swept, 0, DEADLINE_MS));
    assert_int_equal(b->ngot, 0);
    assert_int_equal(fp_tq_node_stats(b).claimed, 0);
    assert_true(fp_tq_node_stats(a).renewed >= 9);
    char owner[32];
    long long deliveries = 0;
    assert_true(pending_entry(t, "renew", id, owner, sizeof owner, &deliveries));
    assert_string_equal(owner, "alpha");
    assert_int_equal(deliveries, 1); /* JUSTID renewals count no delivery */

    /* A dies: B takes the entry over, delivered a second time. */
    fp_tq_node_close(&t->node[0]);
    assert_true(fp_tq_wait_got(&t->node[1], 1, DEADLINE_MS));
    assert_string_equal(b->got[0].id, id);
    assert_int_equal(b->got[0].deliveries, 2);
    assert_string_equal(b->got[0].payload, "{\"type\":\"long\"}");
    assert_true(pending_entry(t, "renew", id, owner, sizeof owner, &deliveries));
    assert_string_equal(owner, "beta");
    free(id);
}

static bool sweeps_at_least(void *ctx, size_t packed)
{
    tr_t *t = ctx;
    return fp_tq_node_stats(&t->node[packed / 10000]).sweeps >= packed % 10000;
}

/* A dies holding three entries; B takes them over after the visibility
 * timeout, through on_jobs, never more than its room, deliveries == 2. */
static void test_takeover_within_room(void **state)
{
    tr_t *t = *state;
    fp_tq_xadd_n(&t->redis, "takeover", 3);
    fp_tq_node_t *a = node_open(t, 0, "alpha", "takeover", 1000, 200);
    fp_tq_node_want(a, 3);
    assert_true(fp_tq_wait_got(&t->node[0], 3, DEADLINE_MS));
    char *ids[3];
    for (int i = 0; i < 3; i++) {
        ids[i] = strdup(a->got[i].id);
        assert_int_equal(a->got[i].deliveries, 1);
    }
    fp_tq_node_close(&t->node[0]);

    fp_tq_node_t *b = node_open(t, 1, "beta", "takeover", 1000, 200);
    fp_tq_node_want(b, 2);
    assert_true(fp_tq_wait_got(&t->node[1], 2, DEADLINE_MS));
    /* More sweeps with room 0 take nothing more. */
    assert_true(run_until(t, sweeps_at_least, node_arg(1, (size_t)fp_tq_node_stats(b).sweeps + 3),
                          DEADLINE_MS));
    assert_int_equal(b->ngot, 2);
    assert_false(b->over_room);
    fp_tq_node_want(b, 5);
    assert_true(fp_tq_wait_got(&t->node[1], 3, DEADLINE_MS));
    assert_true(run_until(t, sweeps_at_least, node_arg(1, (size_t)fp_tq_node_stats(b).sweeps + 2),
                          DEADLINE_MS));
    assert_int_equal(b->ngot, 3);
    assert_false(b->over_room);
    assert_int_equal(fp_tq_node_stats(b).claimed, 3);
    for (int i = 0; i < 3; i++) {
        /* In id order: the sweep walks the pending list from its start. */
        assert_string_equal(b->got[i].id, ids[i]);
        assert_int_equal(b->got[i].deliveries, 2);
        char owner[32];
        long long deliveries = 0;
        assert_true(pending_entry(t, "takeover", ids[i], owner, sizeof owner, &deliveries));
        assert_string_equal(owner, "beta");
        assert_int_equal(deliveries, 2);
        free(ids[i]);
    }
    assert_int_equal(fp_tq_pending(&t->redis, "takeover"), 3);
}

/* Each take-over counts one more delivery, and so does a restarted daemon's
 * re-read of its own pending entries. */
static void test_deliveries_count_up(void **state)
{
    tr_t *t = *state;
    char *id = fp_tq_xadd(&t->redis, "counted", "{\"type\":\"poison\"}");
    const char *names[] = {"one", "two"};
    for (uint64_t round = 1; round <= 4; round++) {
        fp_tq_node_t *d = node_open(t, 0, names[round % 2], "counted", 300, 100);
        fp_tq_node_want(d, 1);
        assert_true(fp_tq_wait_got(&t->node[0], 1, DEADLINE_MS));
        assert_string_equal(d->got[0].id, id);
        assert_int_equal(d->got[0].deliveries, round);
        fp_tq_node_close(&t->node[0]);
    }
    /* The same name again: its own pending entry comes back through the
     * history read, one more delivery. */
    fp_tq_node_t *d = node_open(t, 0, names[4 % 2], "counted", 300, 100);
    fp_tq_node_want(d, 1);
    assert_true(fp_tq_wait_got(&t->node[0], 1, DEADLINE_MS));
    assert_int_equal(d->got[0].deliveries, 5);
    assert_int_equal(fp_tq_node_stats(d).claimed, 0);
    free(id);
}

/* Connections lost three times while an entry is held: each reconnect
 * re-reads this consumer's pending entries (a later entry arrives only after
 * that read), and none of these re-reads counts as a delivery in Redis, or a
 * daemon taking the entry over later would find it delivered 4 times. */
static void test_reconnect_reread_counts_nothing(void **state)
{
    tr_t *t = *state;
    char *ids[4];
    ids[0] = fp_tq_xadd(&t->redis, "flaps", "{\"type\":\"long\",\"n\":0}");
    fp_tq_node_t *d = node_open(t, 0, "one", "flaps", 0, 0);
    fp_tq_node_want(d, 1);
    assert_true(fp_tq_wait_got(&t->node[0], 1, DEADLINE_MS));
    for (size_t i = 1; i < 4; i++) {
        freeReplyObject(fp_th_redis_cmd(&t->redis, "CLIENT KILL TYPE normal SKIPME yes"));
        assert_true(fp_tq_wait_ready(&t->node[0], false, DEADLINE_MS));
        assert_true(fp_tq_wait_ready(&t->node[0], true, DEADLINE_MS));
        char payload[64];
        snprintf(payload, sizeof payload, "{\"type\":\"long\",\"n\":%zu}", i);
        ids[i] = fp_tq_xadd(&t->redis, "flaps", payload);
        fp_tq_node_want(d, 1);
        assert_true(fp_tq_wait_got(&t->node[0], i + 1, DEADLINE_MS));
        assert_string_equal(d->got[i].id, ids[i]);
    }
    for (size_t i = 0; i < 4; i++) {
        char owner[32];
        long long deliveries = 0;
        assert_true(pending_entry(t, "flaps", ids[i], owner, sizeof owner, &deliveries));
        assert_string_equal(owner, "one");
        assert_int_equal(deliveries, 1);
        assert_int_equal(d->got[i].deliveries, 1);
        free(ids[i]);
    }
}

static bool dropped_at_least(void *ctx, size_t packed)
{
    tr_t *t = ctx;
    return fp_tq_node_stats(&t->node[packed / 10000]).dropped_deleted >= packed % 10000;
}

/* Entries deleted from the stream while pending to a dead consumer are
 * acknowledged and dropped by the sweep, even with no room to take anything;
 * the one still there is taken over once there is room. */
static void test_deleted_entries_dropped(void **state)
{
    tr_t *t = *state;
    fp_tq_xadd_n(&t->redis, "deleted", 3);
    fp_tq_node_t *a = node_open(t, 0, "alpha", "deleted", 300, 100);
    fp_tq_node_want(a, 3);
    assert_true(fp_tq_wait_got(&t->node[0], 3, DEADLINE_MS));
    char *keep = strdup(a->got[1].id);
    assert_int_equal(fp_th_redis_int(&t->redis, "XDEL %s %s %s", fp_tq_key("deleted", "jobs"),
                                     a->got[0].id, a->got[2].id),
                     2);
    fp_tq_node_close(&t->node[0]);
    assert_int_equal(fp_tq_pending(&t->redis, "deleted"), 3);

    fp_tq_node_t *b = node_open(t, 1, "beta", "deleted", 300, 100);
    fp_tq_node_want(b, 0);
    assert_true(run_until(t, dropped_at_least, node_arg(1, 2), DEADLINE_MS));
    assert_int_equal(b->ngot, 0);
    assert_int_equal(fp_tq_pending(&t->redis, "deleted"), 1);
    char owner[32];
    long long deliveries = 0;
    assert_true(pending_entry(t, "deleted", keep, owner, sizeof owner, &deliveries));
    assert_string_equal(owner, "alpha"); /* no room: not taken */

    fp_tq_node_want(b, 10);
    assert_true(fp_tq_wait_got(&t->node[1], 1, DEADLINE_MS));
    assert_true(run_until(t, sweeps_at_least, node_arg(1, (size_t)fp_tq_node_stats(b).sweeps + 2),
                          DEADLINE_MS));
    assert_int_equal(b->ngot, 1);
    assert_string_equal(b->got[0].id, keep);
    assert_int_equal(b->got[0].deliveries, 2);
    assert_int_equal(fp_tq_node_stats(b).dropped_deleted, 2);
    assert_int_equal(fp_tq_node_stats(b).claimed, 1);
    assert_int_equal(fp_tq_pending(&t->redis, "deleted"), 1);
    assert_int_equal(fp_tq_xlen(&t->redis, "deleted"), 1);
    free(keep);
}

#define MOVE_DUE 600
#define MOVE_LATER 3

static bool stream_len_is(void *ctx, size_t n)
{
    tr_t *t = ctx;
    return fp_tq_xlen(&t->redis, "moved") == (long long)n;
}

static uint64_t mover_target[2];

static bool movers_ran(void *ctx, size_t arg)
{
    tr_t *t = ctx;
    (void)arg;
    return fp_tq_node_stats(&t->node[0]).mover_rounds >= mover_target[0] &&
           fp_tq_node_stats(&t->node[1]).mover_rounds >= mover_target[1];
}

static void zadd(tr_t *t, long long score, const char *member)
{
    const char *argv[] = {"ZADD", fp_tq_key("moved", "delayed"), NULL, member};
    char num[24];
    snprintf(num, sizeof num, "%lld", score);
    argv[2] = num;
    size_t lens[] = {4, strlen(argv[1]), strlen(num), strlen(member)};
    redisReply *r = fp_th_redis_cmdv(&t->redis, 4, argv, lens);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    freeReplyObject(r);
}

/* Two daemons move due members of the delayed set back to the stream at
 * once: each due one arrives exactly once, none that is not due. */
static void test_delayed_mover(void **state)
{
    tr_t *t = *state;
    long long now = redis_now_ms(t);
    char member[64];
    for (int i = 0; i < MOVE_DUE; i++) {
        snprintf(member, sizeof member, "{\"type\":\"due\",\"i\":%d}", i);
        zadd(t, now - 1000 - i, member);
    }
    for (int i = 0; i < MOVE_LATER; i++) {
        snprintf(member, sizeof member, "{\"type\":\"later\",\"i\":%d}", i);
        zadd(t, now + 3600 * 1000, member);
    }
    /* Room 0 and no recovery: the jobs stay in the stream for counting. */
    node_open(t, 0, "mover-1", "moved", 0, 0);
    node_open(t, 1, "mover-2", "moved", 0, 0);
    assert_true(run_until(t, stream_len_is, MOVE_DUE, DEADLINE_MS));
    mover_target[0] = fp_tq_node_stats(&t->node[0]).mover_rounds + 3;
    mover_target[1] = fp_tq_node_stats(&t->node[1]).mover_rounds + 3;
    assert_true(run_until(t, movers_ran, 0, DEADLINE_MS));
    assert_int_equal(fp_tq_xlen(&t->redis, "moved"), MOVE_DUE);
    assert_int_equal(fp_th_redis_int(&t->redis, "ZCARD %s", fp_tq_key("moved", "delayed")),
                     MOVE_LATER);
    assert_int_equal(fp_tq_node_stats(&t->node[0]).moved + fp_tq_node_stats(&t->node[1]).moved,
                     MOVE_DUE);

    /* Every due member exactly once, as the "job" field. */
    static bool seen[MOVE_DUE];
    memset(seen, 0, sizeof seen);
    redisReply *r = fp_th_redis_cmd(&t->redis, "XRANGE %s - +", fp_tq_key("moved", "jobs"));
    assert_non_null(r);
    assert_int_equal(r->elements, MOVE_DUE);
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *fields = r->element[i]->element[1];
        assert_int_equal(fields->elements, 2);
        assert_string_equal(fields->element[0]->str, "job");
        int n = -1;
        assert_int_equal(sscanf(fields->element[1]->str, "{\"type\":\"due\",\"i\":%d}", &n), 1);
        assert_true(n >= 0 && n < MOVE_DUE);
        assert_false(seen[n]);
        seen[n] = true;
    }
    freeReplyObject(r);

    /* One due a little later is moved when it is due, not before. */
    zadd(t, redis_now_ms(t) + 400, "{\"type\":\"soon\"}");
    assert_true(run_until(t, stream_len_is, MOVE_DUE + 1, DEADLINE_MS));
    assert_int_equal(fp_th_redis_int(&t->redis, "ZCARD %s", fp_tq_key("moved", "delayed")),
                     MOVE_LATER);
}

static bool removed_at_least(void *ctx, size_t packed)
{
    tr_t *t = ctx;
    return fp_tq_node_stats(&t->node[packed / 10000]).consumers_removed >= packed % 10000;
}

/* Idle consumers with nothing pending are removed; one with a pending entry
 * stays, and so does this daemon's own, however idle. */
static void test_consumer_cleanup(void **state)
{
    tr_t *t = *state;
    const char *k = fp_tq_key("tidy", "jobs");
    freeReplyObject(fp_th_redis_cmd(&t->redis, "XGROUP CREATE %s forkpool 0 MKSTREAM", k));
    assert_int_equal(fp_th_redis_int(&t->redis, "XGROUP CREATECONSUMER %s forkpool ghost", k), 1);
    assert_int_equal(fp_th_redis_int(&t->redis, "XGROUP CREATECONSUMER %s forkpool keeper", k),
                     1);
    free(fp_tq_xadd(&t->redis, "tidy", "{\"type\":\"noop\"}"));
    freeReplyObject(
        fp_th_redis_cmd(&t->redis, "XREADGROUP GROUP forkpool busy COUNT 1 STREAMS %s >", k));
    assert_int_equal(fp_tq_pending(&t->redis, "tidy"), 1);

    /* vt 100 ms: consumers idle for 1 s go. Room 0: the daemon never reads
     * (its own consumer stays idle) and takes nothing over. */
    fp_tq_node_t *d = node_open(t, 0, "keeper", "tidy", 100, 50);
    fp_tq_node_want(d, 0);
    assert_true(run_until(t, removed_at_least, node_arg(0, 1), DEADLINE_MS));
    assert_true(run_until(t, sweeps_at_least, node_arg(0, (size_t)fp_tq_node_stats(d).sweeps + 5),
                          DEADLINE_MS));
    assert_int_equal(fp_tq_node_stats(d).consumers_removed, 1);
    assert_false(has_consumer(t, "tidy", "ghost"));
    assert_true(has_consumer(t, "tidy", "busy"));
    assert_true(has_consumer(t, "tidy", "keeper"));
    assert_int_equal(fp_tq_pending(&t->redis, "tidy"), 1);
    assert_int_equal(d->ngot, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_renewal_keeps_claim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_takeover_within_room, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliveries_count_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnect_reread_counts_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_entries_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delayed_mover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_consumer_cleanup, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
