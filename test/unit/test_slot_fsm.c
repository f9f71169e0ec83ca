/* test_slot_fsm.c: lib/pool/slot_fsm.c — every (state, event) pair against
 * the expected next state or refusal, and whole lives of a child walked
 * through the pool as the supervisor drives it: a clean one, a start
 * timeout, a crash in a job, a channel lost before the reap, a reap before
 * the channel's EOF, a stop before "ready", a failed fork, a child that
 * breaks the protocol. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "pool/pool.h"
#include "pool/slot_fsm.h"

#define NO FP_CHILD_STATES /* refused */

/* Written out apart from the module's table, from how the supervisor moved
 * slot->state by hand before it had one. */
static const fp_child_state_t expected[FP_CHILD_STATES][FP_SLOT_EVENTS] = {
    [FP_CHILD_FREE] = {[FP_SLOT_SPAWNED] = FP_CHILD_STARTING,
                       [FP_SLOT_READY] = NO,
                       [FP_SLOT_JOB_SENT] = NO,
                       [FP_SLOT_LAST_ANSWERED] = NO,
                       [FP_SLOT_STOP_SENT] = NO,
                       [FP_SLOT_KILLED] = NO,
                       [FP_SLOT_REAPED] = NO,
                       [FP_SLOT_RELEASED] = NO},
    [FP_CHILD_STARTING] = {[FP_SLOT_SPAWNED] = NO,
                           [FP_SLOT_READY] = FP_CHILD_IDLE,
                           [FP_SLOT_JOB_SENT] = NO,
                           [FP_SLOT_LAST_ANSWERED] = NO,
                           [FP_SLOT_STOP_SENT] = FP_CHILD_STOPPING,
                           [FP_SLOT_KILLED] = FP_CHILD_STOPPING,
                           [FP_SLOT_REAPED] = FP_CHILD_EXITED,
                           [FP_SLOT_RELEASED] = FP_CHILD_FREE},
    [FP_CHILD_IDLE] = {[FP_SLOT_SPAWNED] = NO,
                       [FP_SLOT_READY] = NO,
                       [FP_SLOT_JOB_SENT] = FP_CHILD_BUSY,
                       [FP_SLOT_LAST_ANSWERED] = NO,
                       [FP_SLOT_STOP_SENT] = FP_CHILD_STOPPING,
                       [FP_SLOT_KILLED] = FP_CHILD_STOPPING,
                       [FP_SLOT_REAPED] = FP_CHILD_EXITED,
                       [FP_SLOT_RELEASED] = FP_CHILD_FREE},
    [FP_CHILD_BUSY] = {[FP_SLOT_SPAWNED] = NO,
                       [FP_SLOT_READY] = NO,
                       [FP_SLOT_JOB_SENT] = FP_CHILD_BUSY,
                       [FP_SLOT_LAST_ANSWERED] = FP_CHILD_IDLE,
                       [FP_SLOT_STOP_SENT] = FP_CHILD_STOPPING,
                       [FP_SLOT_KILLED] = FP_CHILD_STOPPING,
                       [FP_SLOT_REAPED] = FP_CHILD_EXITED,
                       [FP_SLOT_RELEASED] = FP_CHILD_FREE},
    [FP_CHILD_STOPPING] = {[FP_SLOT_SPAWNED] = NO,
                           [FP_SLOT_READY] = FP_CHILD_STOPPING,
                           [FP_SLOT_JOB_SENT] = NO,
                           [FP_SLOT_LAST_ANSWERED] = FP_CHILD_STOPPING,
                           [FP_SLOT_STOP_SENT] = NO,
                           [FP_SLOT_KILLED] = FP_CHILD_STOPPING,
                           [FP_SLOT_REAPED] = FP_CHILD_EXITED,
                           [FP_SLOT_RELEASED] = FP_CHILD_FREE},
    [FP_CHILD_EXITED] = {[FP_SLOT_SPAWNED] = NO,
                         [FP_SLOT_READY] = NO,
                         [FP_SLOT_JOB_SENT] = NO,
                         [FP_SLOT_LAST_ANSWERED] = FP_CHILD_EXITED,
                         [FP_SLOT_STOP_SENT] = NO,
                         [FP_SLOT_KILLED] = NO,
                         [FP_SLOT_REAPED] = NO,
                         [FP_SLOT_RELEASED] = FP_CHILD_FREE},
};

static void test_every_pair(void **state)
{
    (void)state;
    for (int s = 0; s < FP_CHILD_STATES; s++)
        for (int e = 0; e < FP_SLOT_EVENTS; e++) {
            fp_child_state_t to = (fp_child_state_t)99;
            bool ok = fp_slot_next((fp_child_state_t)s, (fp_slot_event_t)e, &to);
            fp_slot_t slot;
            memset(&slot, 0, sizeof slot);
            slot.id = 7;
            slot.state = (fp_child_state_t)s;
            int rc = fp_slot_apply(&slot, (fp_slot_event_t)e);
            if (expected[s][e] == NO) {
                if (ok || to != (fp_child_state_t)99 || rc != -EINVAL || (int)slot.state != s)
                    fail_msg("%s + %s: should be refused, state kept", fp_pool_state_name(s),
                             fp_slot_event_name(e));
            } else if (!ok || to != expected[s][e] || rc != 0 || slot.state != expected[s][e]) {
                fail_msg("%s + %s: want %s, got %s (rc %d)", fp_pool_state_name(s),
                         fp_slot_event_name(e), fp_pool_state_name(expected[s][e]),
                         fp_pool_state_name(slot.state), rc);
            }
            assert_int_equal(slot.id, 7); /* only the state moves */
        }
}

static void test_out_of_range_is_refused(void **state)
{
    (void)state;
    fp_child_state_t to = FP_CHILD_BUSY;
    assert_false(fp_slot_next(FP_CHILD_STATES, FP_SLOT_SPAWNED, &to));
    assert_false(fp_slot_next(FP_CHILD_IDLE, FP_SLOT_EVENTS, &to));
    assert_false(fp_slot_next((fp_child_state_t)-1, FP_SLOT_READY, &to));
    assert_int_equal(to, FP_CHILD_BUSY);
    fp_slot_t slot;
    memset(&slot, 0, sizeof slot);
    slot.state = FP_CHILD_IDLE;
    assert_int_equal(fp_slot_apply(&slot, (fp_slot_event_t)42), -EINVAL);
    assert_int_equal(slot.state, FP_CHILD_IDLE);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(fp_pool_state_name(FP_CHILD_FREE), "free");
    assert_string_equal(fp_pool_state_name(FP_CHILD_STOPPING), "stopping");
    assert_string_equal(fp_pool_state_name(FP_CHILD_EXITED), "exited");
    assert_string_equal(fp_pool_state_name(FP_CHILD_STATES), "unknown");
    assert_string_equal(fp_slot_event_name(FP_SLOT_SPAWNED), "spawned");
    assert_string_equal(fp_slot_event_name(FP_SLOT_RELEASED), "released");
    assert_string_equal(fp_slot_event_name(FP_SLOT_EVENTS), "unknown");
}

/* ---- whole lives, through the pool ------------------------------------------ */

static fp_pool_t pool;

static int pool_setup(void **state)
{
    (void)state;
    return fp_pool_init(&pool, 2, 0);
}

static int pool_teardown(void **state)
{
    (void)state;
    fp_pool_free(&pool);
    return 0;
}

static void step(fp_slot_t *slot, fp_slot_event_t event, fp_child_state_t want)
{
    if (fp_slot_apply(slot, event) != 0 || slot->state != want)
        fail_msg("%s: want %s, in %s", fp_slot_event_name(event), fp_pool_state_name(want),
                 fp_pool_state_name(slot->state));
}

static void refused(fp_slot_t *slot, fp_slot_event_t event)
{
    fp_child_state_t was = slot->state;
    if (fp_slot_apply(slot, event) != -EINVAL || slot->state != was)
        fail_msg("%s in %s: should be refused", fp_slot_event_name(event),
                 fp_pool_state_name(was));
}

/* Reaped and channel closed, in either order: only then is the slot free,
 * and the next child gets it back. */
static void close_and_release(fp_slot_t *slot)
{
    int id = slot->id;
    assert_false(fp_pool_release_if_done(&pool, slot));
    slot->channel_eof = slot->channel_closed = true;
    assert_true(fp_pool_release_if_done(&pool, slot));
    assert_int_equal(slot->state, FP_CHILD_FREE);
    assert_int_equal(slot->id, id);
    assert_false(slot->reaped || slot->channel_closed || slot->said_ready);
}

static void test_life_start_ready_work_stop(void **state)
{
    (void)state;
    fp_slot_t *slot = fp_pool_claim_slot(&pool, 100, 0);
    assert_int_equal(slot->state, FP_CHILD_STARTING);
    assert_null(fp_pool_pick(&pool)); /* not ready: no job for it */
    slot->said_ready = true;
    step(slot, FP_SLOT_READY, FP_CHILD_IDLE);
    assert_ptr_equal(fp_pool_pick(&pool), slot);
    step(slot, FP_SLOT_JOB_SENT, FP_CHILD_BUSY);
    step(slot, FP_SLOT_JOB_SENT, FP_CHILD_BUSY); /* a pipeline */
    step(slot, FP_SLOT_LAST_ANSWERED, FP_CHILD_IDLE);
    assert_int_equal(fp_pool_live(&pool), 1);
    step(slot, FP_SLOT_STOP_SENT, FP_CHILD_STOPPING);
    assert_int_equal(fp_pool_live(&pool), 0);
    assert_null(fp_pool_pick(&pool));
    refused(slot, FP_SLOT_JOB_SENT);
    refused(slot, FP_SLOT_STOP_SENT);
    slot->reaped = true;
    step(slot, FP_SLOT_REAPED, FP_CHILD_EXITED);
    close_and_release(slot);
}

static void test_life_start_timeout(void **state)
{
    (void)state;
    fp_slot_t *slot = fp_pool_claim_slot(&pool, 101, 0);
    /* Killed for its silence, it stays starting until its reap, which then
     * counts a failed start. */
    slot->start_timed_out = true;
    assert_int_equal(slot->state, FP_CHILD_STARTING);
    assert_int_equal(fp_pool_live(&pool), 1);
    slot->reaped = true;
    step(slot, FP_SLOT_REAPED, FP_CHILD_EXITED);
    assert_true(fp_pool_failed_start(slot, false, 60000));
    refused(slot, FP_SLOT_READY); /* a "ready" read after the reap is too late */
    close_and_release(slot);
}

static void test_life_crash_in_a_job(void **state)
{
    (void)state;
    fp_slot_t *slot = fp_pool_claim_slot(&pool, 102, 0);
    step(slot, FP_SLOT_READY, FP_CHILD_IDLE);
    step(slot, FP_SLOT_JOB_SENT, FP_CHILD_BUSY);
    step(slot, FP_SLOT_JOB_SENT, FP_CHILD_BUSY);
    slot->reaped = slot->channel_eof = true;
    /* Reading its socket after the reap: the first job's answer was there;
     * the second one is the job it died in. */
    step(slot, FP_SLOT_REAPED, FP_CHILD_EXITED);
    step(slot, FP_SLOT_LAST_ANSWERED, FP_CHILD_EXITED);
    refused(slot, FP_SLOT_JOB_SENT);
    refused(slot, FP_SLOT_STOP_SENT);
    refused(slot, FP_SLOT_KILLED);
    refused(slot, FP_SLOT_REAPED);
    close_and_release(slot);
}

static void test_life_channel_lost_first(void **state)
{
    (void)state;
    fp_slot_t *slot = fp_pool_claim_slot(&pool, 103, 0);
    step(slot, FP_SLOT_READY, FP_CHILD_IDLE);
    step(slot, FP_SLOT_JOB_SENT, FP_CHILD_BUSY);
    /* Its channel ends while it lives: no more jobs for it, and it is
     * finished off, but it stays busy until the reap settles its job. */
    slot->channel_eof = slot->channel_lost = true;
    assert_null(fp_pool_pick(&pool));
    assert_null(fp_pool_pick_to_stop(&pool));
    assert_int_equal(slot->state, FP_CHILD_BUSY);
    slot->reaped = true;
    step(slot, FP_SLOT_REAPED, FP_CHILD_EXITED);
    close_and_release(slot);
}

static void test_life_reaped_first(void **state)
{
    (void)state;
    fp_slot_t *slot = fp_pool_claim_slot(&pool, 104, 0);
    step(slot, FP_SLOT_READY, FP_CHILD_IDLE);
    slot->reaped = true; /* recorded at once; EXITED once its jobs are settled */
    assert_int_equal(slot->state, FP_CHILD_IDLE);
    step(slot, FP_SLOT_REAPED, FP_CHILD_EXITED);
    /* The channel's EOF is still to come: the slot is not reused before. */
    assert_false(fp_pool_release_if_done(&pool, slot));
    fp_slot_t *other = fp_pool_claim_slot(&pool, 105, 0);
    assert_ptr_not_equal(other, slot);
    close_and_release(slot);
    assert_ptr_equal(fp_pool_claim_slot(&pool, 106, 0), slot);
    assert_int_equal(fp_pool_count(&pool, FP_CHILD_STARTING), 2);
}

static void test_life_stopped_before_ready(void **state)
{
    (void)state;
    fp_slot_t *slot = fp_pool_claim_slot(&pool, 106, 0);
    step(slot, FP_SLOT_STOP_SENT, FP_CHILD_STOPPING); /* a drain began */
    step(slot, FP_SLOT_READY, FP_CHILD_STOPPING);     /* nothing to do */
    step(slot, FP_SLOT_KILLED, FP_CHILD_STOPPING);    /* then a stop at once */
    slot->reaped = true;
    step(slot, FP_SLOT_REAPED, FP_CHILD_EXITED);
    close_and_release(slot);
}

static void test_life_fork_failed(void **state)
{
    (void)state;
    fp_slot_t *slot = fp_pool_claim_slot(&pool, 0, 0);
    slot->reaped = slot->channel_closed = true;
    assert_true(fp_pool_release_if_done(&pool, slot));
    assert_int_equal(slot->state, FP_CHILD_FREE);
    refused(slot, FP_SLOT_REAPED);
    refused(slot, FP_SLOT_RELEASED);
    slot->reaped = slot->channel_closed = true; /* a free slot is never released twice */
    assert_false(fp_pool_release_if_done(&pool, slot));
    slot->reaped = slot->channel_closed = false;
}

static void test_life_protocol_slips(void **state)
{
    (void)state;
    fp_slot_t *slot = fp_pool_claim_slot(&pool, 107, 0);
    refused(slot, FP_SLOT_LAST_ANSWERED); /* "done" before "ready" */
    refused(slot, FP_SLOT_SPAWNED);
    step(slot, FP_SLOT_READY, FP_CHILD_IDLE);
    refused(slot, FP_SLOT_READY); /* "ready" twice */
    refused(slot, FP_SLOT_LAST_ANSWERED);
    step(slot, FP_SLOT_KILLED, FP_CHILD_STOPPING); /* shutdown at once */
    slot->reaped = true;
    step(slot, FP_SLOT_REAPED, FP_CHILD_EXITED);
    close_and_release(slot);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_pair),
        cmocka_unit_test(test_out_of_range_is_refused),
        cmocka_unit_test(test_names),
        cmocka_unit_test_setup_teardown(test_life_start_ready_work_stop, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_life_start_timeout, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_life_crash_in_a_job, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_life_channel_lost_first, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_life_reaped_first, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_life_stopped_before_ready, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_life_fork_failed, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_life_protocol_slips, pool_setup, pool_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
