/* test_pool.c: lib/pool/pool.c — slots, room (the backpressure bound), idle
 * choice and slot reuse only after both reap and EOF. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>

#include "pool/pool.h"

static void test_room_is_children_plus_prefetch_minus_held(void **state)
{
    (void)state;
    fp_pool_t pool;
    fp_pool_init(&pool, 4, 2);
    assert_int_equal(fp_pool_room(&pool, 0), 6);
    assert_int_equal(fp_pool_room(&pool, 5), 1);
    assert_int_equal(fp_pool_room(&pool, 6), 0);
    /* Shrinking the pool (TTOU, reload) while holding more never underflows. */
    pool.target = 2;
    assert_int_equal(fp_pool_room(&pool, 6), 0);
    assert_int_equal(fp_pool_room(&pool, SIZE_MAX), 0);
    fp_pool_free(&pool);
}

static void test_slots_grow_and_keep_ids(void **state)
{
    (void)state;
    fp_pool_t pool;
    fp_pool_init(&pool, 20, 0);
    for (int i = 0; i < 20; i++) {
        fp_slot_t *slot = fp_pool_claim_slot(&pool, 1000 + i, 5);
        assert_non_null(slot);
        assert_int_equal(slot->id, i);
        assert_int_equal(slot->state, FP_CHILD_STARTING);
    }
    assert_int_equal(fp_pool_live(&pool), 20);
    assert_int_equal(fp_pool_by_pid(&pool, 1013)->id, 13);
    assert_null(fp_pool_by_pid(&pool, 999));
    fp_pool_free(&pool);
}

static void test_pick_idle_prefers_low_slots(void **state)
{
    (void)state;
    fp_pool_t pool;
    fp_pool_init(&pool, 3, 0);
    fp_slot_t *a = fp_pool_claim_slot(&pool, 1, 0);
    fp_slot_t *b = fp_pool_claim_slot(&pool, 2, 0);
    assert_null(fp_pool_pick_idle(&pool)); /* nobody ready yet */
    b->state = FP_CHILD_IDLE;
    assert_ptr_equal(fp_pool_pick_idle(&pool), b);
    a->state = FP_CHILD_IDLE;
    assert_ptr_equal(fp_pool_pick_idle(&pool), a);
    a->state = FP_CHILD_BUSY;
    assert_ptr_equal(fp_pool_pick_idle(&pool), b);
    /* A child whose channel hit EOF is dying, even if not reaped yet. */
    b->channel_eof = true;
    assert_null(fp_pool_pick_idle(&pool));
    fp_pool_free(&pool);
}

static void test_child_depth_is_one_plus_its_share_of_prefetch(void **state)
{
    (void)state;
    fp_pool_t pool;
    fp_pool_init(&pool, 4, 0);
    pool.pipeline = 8;
    assert_int_equal(fp_pool_child_depth(&pool), 1); /* nothing prefetched */
    pool.prefetch = 4;
    assert_int_equal(fp_pool_child_depth(&pool), 2);
    pool.prefetch = 5; /* rounded up: every held job fits in some child */
    assert_int_equal(fp_pool_child_depth(&pool), 3);
    pool.target = 0; /* TTOU to nothing must not divide by zero */
    assert_int_equal(fp_pool_child_depth(&pool), 6);
    pool.pipeline = 0; /* the default: held jobs wait in the supervisor */
    assert_int_equal(fp_pool_child_depth(&pool), 1);
    fp_pool_free(&pool);
}

static void test_pick_queues_only_with_prefetch(void **state)
{
    (void)state;
    fp_pool_t pool;
    fp_pool_init(&pool, 2, 0);
    fp_slot_t *a = fp_pool_claim_slot(&pool, 1, 0);
    fp_slot_t *b = fp_pool_claim_slot(&pool, 2, 0);
    a->state = b->state = FP_CHILD_BUSY;
    a->depth = b->depth = 1;
    assert_null(fp_pool_pick(&pool)); /* prefetch 0: one job per child */
    pool.prefetch = 2;
    assert_null(fp_pool_pick(&pool)); /* pipeline 0: still one per child */
    pool.pipeline = 1;                /* depth 2 */
    a->depth = 2;
    assert_ptr_equal(fp_pool_pick(&pool), b); /* the shorter queue */
    b->depth = 2;
    assert_null(fp_pool_pick(&pool)); /* both full */
    b->depth = 1;
    b->state = FP_CHILD_STOPPING; /* being replaced or shrunk */
    assert_null(fp_pool_pick(&pool));
    b->state = FP_CHILD_IDLE;
    b->depth = 0;
    assert_ptr_equal(fp_pool_pick(&pool), b); /* idle first */
    fp_pool_free(&pool);
}

/* Adaptive send-ahead: a busy child takes a job ahead only when the job's
 * type is known and short and what it holds is short and ends soon; the
 * share of the hold still bounds its depth, and the recycling and
 * timed-out rules stay. */
static void test_pick_sends_ahead_only_short_behind_short(void **state)
{
    (void)state;
    fp_pool_t pool;
    fp_pool_init(&pool, 2, 8); /* share: 4 per child, depth 5 */
    pool.ahead_auto = true;
    pool.max_send_ahead_wait_us = 2000;
    fp_slot_t *a = fp_pool_claim_slot(&pool, 1, 0);
    fp_slot_t *b = fp_pool_claim_slot(&pool, 2, 0);
    a->state = b->state = FP_CHILD_BUSY;
    a->depth = b->depth = 1;
    a->ahead_us = a->run_expect_us = 100;
    a->run_started_us = 1000;
    b->unsure = 1; /* b runs a job of an unknown or long type */
    fp_pool_job_t noop = {.pct_us = 50, .now_us = 1050};
    fp_pool_job_t unknown = {.pct_us = -1, .now_us = 1050};
    fp_pool_job_t slow = {.pct_us = 50000, .now_us = 1050};
    assert_ptr_equal(fp_pool_pick_for(&pool, &noop), a);
    assert_null(fp_pool_pick_for(&pool, &unknown));
    assert_null(fp_pool_pick_for(&pool, &slow));
    assert_null(fp_pool_pick(&pool)); /* no job to judge: nothing ahead */
    a->unsure = 1;
    assert_null(fp_pool_pick_for(&pool, &noop)); /* nothing behind a long job */
    a->unsure = 0;
    a->ahead_us = 100 + 2500; /* too much queued in front */
    assert_null(fp_pool_pick_for(&pool, &noop));
    a->ahead_us = 100;
    a->depth = 5; /* its share of the hold */
    assert_null(fp_pool_pick_for(&pool, &noop));
    a->depth = 1;
    a->max_jobs = 1; /* due to recycle */
    assert_null(fp_pool_pick_for(&pool, &noop));
    a->max_jobs = 0;
    fp_pool_job_t late = {.pct_us = 50, .now_us = 1000 + 2001}; /* a->job overran */
    assert_null(fp_pool_pick_for(&pool, &late));
    /* A fixed pipeline ignores the estimates: today's rule. */
    pool.ahead_auto = false;
    pool.pipeline = 1;
    a->depth = b->depth = 1;
    assert_ptr_equal(fp_pool_pick_for(&pool, &unknown), a);
    fp_pool_free(&pool);
}

static void test_pick_does_not_queue_past_recycling_limit(void **state)
{
    (void)state;
    fp_pool_t pool;
    fp_pool_init(&pool, 1, 4);
    pool.pipeline = 4;
    fp_slot_t *a = fp_pool_claim_slot(&pool, 1, 0);
    a->state = FP_CHILD_BUSY;
    a->depth = 1;
    a->max_jobs = 10;
    a->jobs_done = 8;
    assert_ptr_equal(fp_pool_pick(&pool), a); /* 8 done + 1 running + this = 10 */
    a->depth = 2;
    assert_null(fp_pool_pick(&pool));
    a->channel_eof = true;
    a->depth = 1;
    a->jobs_done = 0;
    assert_null(fp_pool_pick(&pool)); /* dying */
    fp_pool_free(&pool);
}

/* A child that announced concurrency N takes jobs up to N, without any
 * prefetch or pipeline, the emptiest first; a timed-out one takes none (it
 * is being killed), nor one at its recycling limit. Children of
 * concurrency 1 beside it keep the one-job rule. */
static void test_pick_fills_concurrent_children_up_to_their_concurrency(void **state)
{
    (void)state;
    fp_pool_t pool;
    fp_pool_init(&pool, 3, 0);
    fp_slot_t *a = fp_pool_claim_slot(&pool, 1, 0);
    fp_slot_t *b = fp_pool_claim_slot(&pool, 2, 0);
    fp_slot_t *c = fp_pool_claim_slot(&pool, 3, 0);
    assert_int_equal(a->concurrency, 1); /* until its "ready" says more */
    assert_false(fp_pool_starts_on_send(a));
    a->state = b->state = c->state = FP_CHILD_BUSY;
    a->concurrency = b->concurrency = 3;
    assert_true(fp_pool_starts_on_send(a));
    a->depth = 2;
    b->depth = 1;
    c->depth = 1;
    assert_ptr_equal(fp_pool_pick(&pool), b); /* the fewest held; c runs its one */
    b->depth = 3;
    assert_ptr_equal(fp_pool_pick(&pool), a);
    a->depth = 3;
    assert_null(fp_pool_pick(&pool)); /* all full */
    a->depth = 1;
    a->timed_out = true;
    assert_null(fp_pool_pick(&pool));
    a->timed_out = false;
    a->max_jobs = 5;
    a->jobs_done = 4; /* 4 done + 1 running = its limit */
    assert_null(fp_pool_pick(&pool));
    a->jobs_done = 3;
    assert_ptr_equal(fp_pool_pick(&pool), a);
    a->channel_eof = true;
    assert_null(fp_pool_pick(&pool));
    fp_pool_free(&pool);
}

/* The pull bound counts what each child in service runs at once: the
 * backlog stays in Redis, yet a concurrent pool is kept full. */
static void test_room_counts_announced_concurrency(void **state)
{
    (void)state;
    fp_pool_t pool;
    fp_pool_init(&pool, 2, 4);
    fp_slot_t *a = fp_pool_claim_slot(&pool, 1, 0);
    fp_slot_t *b = fp_pool_claim_slot(&pool, 2, 0);
    a->concurrency = 50;
    assert_int_equal(fp_pool_capacity(&pool), 2); /* starting: not in service yet */
    a->state = FP_CHILD_IDLE;
    b->state = FP_CHILD_BUSY;
    assert_int_equal(fp_pool_capacity(&pool), 51);
    b->concurrency = 50;
    assert_int_equal(fp_pool_capacity(&pool), 100);
    assert_int_equal(fp_pool_room(&pool, 0), 104);
    assert_int_equal(fp_pool_room(&pool, 100), 4);
    assert_int_equal(fp_pool_room(&pool, 104), 0);
    /* A child being replaced, stopping or dying adds nothing beyond one. */
    a->retiring = true;
    assert_int_equal(fp_pool_capacity(&pool), 51);
    a->retiring = false;
    a->state = FP_CHILD_STOPPING;
    assert_int_equal(fp_pool_capacity(&pool), 51);
    b->channel_eof = true;
    assert_int_equal(fp_pool_capacity(&pool), 2);
    assert_int_equal(fp_pool_room(&pool, 100), 0);
    fp_pool_free(&pool);
}

/* Running jobs: a concurrent child runs all it holds, a one-at-a-time
 * child runs one while the rest wait in its socket (what the drain log and
 * /stats report). */
static void test_running_counts_each_concurrent_job(void **state)
{
    (void)state;
    fp_pool_t pool;
    fp_pool_init(&pool, 3, 8);
    fp_slot_t *a = fp_pool_claim_slot(&pool, 1, 0);
    fp_slot_t *b = fp_pool_claim_slot(&pool, 2, 0);
    fp_pool_claim_slot(&pool, 3, 0);
    assert_int_equal(fp_pool_running(&pool), 0);
    a->state = b->state = FP_CHILD_BUSY;
    a->concurrency = 50;
    a->depth = 7;
    b->depth = 3;
    assert_int_equal(fp_slot_running(a), 7);
    assert_int_equal(fp_slot_running(b), 1);
    assert_int_equal(fp_pool_running(&pool), 8);
    fp_pool_free(&pool);
}

/* A shrink stops an idle child first, else the busy one with the shortest
 * queue: with a pipeline, busy children may never turn idle under load. */
static void test_pick_to_stop_prefers_idle_then_shortest_queue(void **state)
{
    (void)state;
    fp_pool_t pool;
    fp_pool_init(&pool, 1, 4);
    fp_slot_t *a = fp_pool_claim_slot(&pool, 1, 0);
    fp_slot_t *b = fp_pool_claim_slot(&pool, 2, 0);
    fp_slot_t *c = fp_pool_claim_slot(&pool, 3, 0);
    assert_null(fp_pool_pick_to_stop(&pool)); /* all starting */
    a->state = b->state = c->state = FP_CHILD_BUSY;
    a->depth = 3;
    b->depth = 2;
    c->depth = 1;
    c->timed_out = true; /* being killed: no stop for it */
    assert_ptr_equal(fp_pool_pick_to_stop(&pool), b);
    b->channel_eof = true; /* dying */
    assert_ptr_equal(fp_pool_pick_to_stop(&pool), a);
    c->state = FP_CHILD_IDLE;
    c->timed_out = false;
    c->depth = 0;
    assert_ptr_equal(fp_pool_pick_to_stop(&pool), c);
    fp_pool_free(&pool);
}

static void test_slot_reused_only_after_reap_and_eof(void **state)
{
    (void)state;
    fp_pool_t pool;
    fp_pool_init(&pool, 1, 0);
    fp_slot_t *slot = fp_pool_claim_slot(&pool, 42, 0);
    slot->state = FP_CHILD_EXITED;
    slot->reaped = true;
    assert_false(fp_pool_release_if_done(&pool, slot));
    /* Still occupied: a new child must not land in it. */
    fp_slot_t *other = fp_pool_claim_slot(&pool, 43, 0);
    assert_int_not_equal(other->id, 0);
    assert_ptr_equal(pool.slots[0], slot);
    slot->channel_closed = true;
    assert_true(fp_pool_release_if_done(&pool, slot));
    assert_int_equal(pool.slots[0]->state, FP_CHILD_FREE);
    assert_int_equal(pool.slots[0]->id, 0);
    assert_int_equal(fp_pool_claim_slot(&pool, 44, 0)->id, 0);
    assert_int_equal(fp_pool_count(&pool, FP_CHILD_STARTING), 2);
    fp_pool_free(&pool);
}

/* The supervisor keeps a slot pointer across calls that fork: growing the
 * pool must not move any slot. */
static void test_slots_stay_put_when_the_pool_grows(void **state)
{
    (void)state;
    fp_pool_t pool;
    fp_pool_init(&pool, 1, 0);
    fp_slot_t *first = fp_pool_claim_slot(&pool, 1000, 0);
    first->jobs_done = 7;
    fp_slot_t *kept[40];
    for (int i = 0; i < 40; i++)
        kept[i] = fp_pool_claim_slot(&pool, 1001 + i, 0);
    assert_true(pool.capacity >= 41);
    assert_ptr_equal(pool.slots[0], first);
    assert_int_equal(first->pid, 1000);
    assert_int_equal(first->jobs_done, 7);
    for (int i = 0; i < 40; i++) {
        assert_ptr_equal(pool.slots[i + 1], kept[i]);
        assert_int_equal(kept[i]->id, i + 1);
        assert_ptr_equal(fp_pool_by_pid(&pool, 1001 + i), kept[i]);
    }
    fp_pool_free(&pool);
}

static void test_sequence_numbers_increase(void **state)
{
    (void)state;
    fp_pool_t pool;
    fp_pool_init(&pool, 1, 0);
    uint64_t a = fp_pool_next_seq(&pool), b = fp_pool_next_seq(&pool);
    assert_true(a > 0 && b == a + 1);
    assert_string_equal(fp_pool_state_name(FP_CHILD_BUSY), "busy");
    fp_pool_free(&pool);
}

static void test_start_delay_grows_and_caps(void **state)
{
    (void)state;
    assert_int_equal(fp_pool_start_delay_ms(0), 0);
    assert_int_equal(fp_pool_start_delay_ms(1), 100);
    assert_int_equal(fp_pool_start_delay_ms(2), 200);
    assert_int_equal(fp_pool_start_delay_ms(5), 1600);
    assert_int_equal(fp_pool_start_delay_ms(8), 10000);
    assert_int_equal(fp_pool_start_delay_ms(4000000000u), 10000);
}

static void test_failed_start_is_before_ready_or_an_early_idle_death(void **state)
{
    (void)state;
    fp_slot_t slot = {.started_at_ms = 1000};
    assert_true(fp_pool_failed_start(&slot, false, 100000)); /* never ready, however late */
    slot.said_ready = true;
    assert_true(fp_pool_failed_start(&slot, false, 1500));
    assert_false(fp_pool_failed_start(&slot, true, 1500)); /* died of its job */
    assert_false(fp_pool_failed_start(&slot, false, 2000));
    slot.jobs_done = 1;
    assert_false(fp_pool_failed_start(&slot, false, 1500));
}

/* Each failure outside an unproven reload is one more step; a ready child
 * ends the loop. */
static void test_start_failures_back_off_until_ready(void **state)
{
    (void)state;
    fp_pool_t pool;
    fp_pool_init(&pool, 2, 0);
    int64_t delay = -1;
    assert_int_equal(fp_pool_start_failed(&pool, 0, 0, false, &delay), FP_START_RETRY);
    assert_int_equal(delay, 100);
    assert_int_equal(fp_pool_start_failed(&pool, 0, 0, false, &delay), FP_START_RETRY);
    assert_int_equal(delay, 200);
    /* A child of an older generation failing while a reload is unproven:
     * refilled at once with the reload, no step of the back-off... */
    assert_int_equal(fp_pool_start_failed(&pool, 0, 1, true, &delay), FP_START_STALE);
    assert_int_equal(delay, 0);
    /* ...which goes on from where it was. */
    assert_int_equal(fp_pool_start_failed(&pool, 0, 0, false, &delay), FP_START_RETRY);
    assert_int_equal(delay, 400);
    fp_pool_start_ok(&pool);
    assert_int_equal(fp_pool_start_failed(&pool, 0, 0, false, &delay), FP_START_RETRY);
    assert_int_equal(delay, 100);
    fp_pool_free(&pool);
}

/* The unproven reload's own child failing undoes the reload, at once. */
static void test_unproven_reload_failure_reverts(void **state)
{
    (void)state;
    fp_pool_t pool;
    fp_pool_init(&pool, 2, 0);
    int64_t delay = -1;
    assert_int_equal(fp_pool_start_failed(&pool, 3, 3, false, &delay), FP_START_RETRY);
    assert_int_equal(fp_pool_start_failed(&pool, 4, 4, true, &delay), FP_START_REVERT);
    assert_int_equal(delay, 0);
    assert_int_equal(pool.start_failures, 0);
    fp_pool_free(&pool);
}

/* A child of a reload already undone fails to start (it was forked before
 * the undo, or refilled a killed slot): the configuration it ran is gone,
 * so it is no crash loop of the one in force: no back-off step, no delay. */
static void test_undone_reload_child_failure_is_stale(void **state)
{
    (void)state;
    fp_pool_t pool;
    fp_pool_init(&pool, 2, 0);
    int64_t delay = -1;
    assert_int_equal(fp_pool_start_failed(&pool, 5, 4, false, &delay), FP_START_STALE);
    assert_int_equal(delay, 0);
    assert_int_equal(pool.start_failures, 0);
    fp_pool_free(&pool);
}

/* Rolling waits for the back-off, and while the reload is unproven, for
 * its replacement in flight to say ready. */
static void test_roll_waits_for_proof_and_back_off(void **state)
{
    (void)state;
    fp_pool_t pool;
    fp_pool_init(&pool, 2, 0);
    fp_slot_t *old = fp_pool_claim_slot(&pool, 10, 0);
    old->state = FP_CHILD_IDLE;
    assert_true(fp_pool_may_roll(&pool, 1, true, false));
    assert_false(fp_pool_may_roll(&pool, 1, false, true));
    fp_slot_t *fresh = fp_pool_claim_slot(&pool, 11, 0);
    fresh->generation = 1;
    assert_false(fp_pool_may_roll(&pool, 1, true, false));
    assert_true(fp_pool_may_roll(&pool, 1, false, false)); /* proven: one at a time is enough */
    fresh->state = FP_CHILD_IDLE;
    assert_true(fp_pool_may_roll(&pool, 1, true, false));
    fp_pool_free(&pool);
}

/* A child's jittered recycling limit: per_child + random % (jitter + 1),
 * saturating at INT64_MAX for the largest settings. */
static void test_max_jobs_jitter_saturates(void **state)
{
    (void)state;
    assert_int_equal(fp_pool_max_jobs(0, 10, 7), 0);
    assert_int_equal(fp_pool_max_jobs(100, 0, 12345), 100);
    assert_int_equal(fp_pool_max_jobs(100, 10, 7), 107);
    assert_int_equal(fp_pool_max_jobs(100, 10, 11), 100);
    for (uint64_t r = 0; r < 1000; r++) {
        int64_t m = fp_pool_max_jobs(100, 10, r * 2654435761u);
        assert_true(m >= 100 && m <= 110);
    }
    assert_int_equal(fp_pool_max_jobs(INT64_MAX, INT64_MAX, UINT64_MAX), INT64_MAX);
    assert_int_equal(fp_pool_max_jobs(1, INT64_MAX, UINT64_MAX), INT64_MAX);
    assert_int_equal(fp_pool_max_jobs(INT64_MAX - 1, 5, 4), INT64_MAX);
    assert_int_equal(fp_pool_max_jobs(5, -3, 4), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_room_is_children_plus_prefetch_minus_held),
        cmocka_unit_test(test_slots_grow_and_keep_ids),
        cmocka_unit_test(test_pick_idle_prefers_low_slots),
        cmocka_unit_test(test_child_depth_is_one_plus_its_share_of_prefetch),
        cmocka_unit_test(test_pick_queues_only_with_prefetch),
        cmocka_unit_test(test_pick_does_not_queue_past_recycling_limit),
        cmocka_unit_test(test_pick_fills_concurrent_children_up_to_their_concurrency),
        cmocka_unit_test(test_room_counts_announced_concurrency),
        cmocka_unit_test(test_running_counts_each_concurrent_job),
        cmocka_unit_test(test_pick_to_stop_prefers_idle_then_shortest_queue),
        cmocka_unit_test(test_slot_reused_only_after_reap_and_eof),
        cmocka_unit_test(test_slots_stay_put_when_the_pool_grows),
        cmocka_unit_test(test_sequence_numbers_increase),
        cmocka_unit_test(test_start_delay_grows_and_caps),
        cmocka_unit_test(test_failed_start_is_before_ready_or_an_early_idle_death),
        cmocka_unit_test(test_start_failures_back_off_until_ready),
        cmocka_unit_test(test_unproven_reload_failure_reverts),
        cmocka_unit_test(test_undone_reload_child_failure_is_stale),
        cmocka_unit_test(test_roll_waits_for_proof_and_back_off),
        cmocka_unit_test(test_max_jobs_jitter_saturates),
        cmocka_unit_test(test_pick_sends_ahead_only_short_behind_short),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
