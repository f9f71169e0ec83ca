/* test_it_pipeline.c: pool.pipeline > 0 queues prefetched jobs in each
 * child's socket behind the one it runs. Only the running job may be blamed when a child
 * dies or overruns: what it had already answered stays answered, and what
 * waited behind it runs elsewhere without losing an attempt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>

#include "daemon.h"
#include "harness.h"

#define NOOP_JOB "{\"type\":\"noop\",\"id\":\"n-%d-%d\"}"

/* Every poison job is dead and nothing is left to run or pending. */
static bool all_settled(fp_td_t *td, void *arg)
{
    return fp_td_xlen(td, FP_TD_DEAD) == *(long long *)arg && fp_td_xlen(td, FP_TD_JOBS) == 0 &&
           fp_td_zcard(td, FP_TD_DELAYED) == 0 && fp_td_pending(td) == 0;
}

/* A segfaulting job among noops, two children each holding up to five
 * jobs: the crash is charged to the crash job on every attempt, and no
 * noop is ever retried, neither one answered just before the crash (its
 * "done" still unread when SIGCHLD arrives) nor one queued behind it. */
static void test_crash_blames_only_the_running_job(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL,
                 "[pool]\nchildren = 2\nprefetch = 8\npipeline = 4\n"
                 "[retry]\nbackoff_base = \"10ms\"\nbackoff_max = \"20ms\"\nmax_attempts = 4\n");
    for (int round = 0; round < 5; round++) {
        fp_td_enqueue(td, 40, NOOP_JOB);
        char poison[64];
        int len = snprintf(poison, sizeof poison, "{\"type\":\"crash\",\"id\":\"poison-%d\"}", round);
        fp_td_enqueue_raw(td, poison, (size_t)len);
    }
    fp_td_enqueue(td, 40, NOOP_JOB);
    fp_td_start_ready(td, false);
    long long dead = 5;
    fp_td_wait_until(td, all_settled, &dead, 120000, "five poison jobs dead, the rest done");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_int_equal(fp_td_jobs_done(td), 240);
    assert_int_equal(fp_td_log_count(td, "job noop failed"), 0);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 5);
    assert_true(fp_td_dead_has(td, "error", "child crashed: killed by signal 11"));
    assert_true(fp_td_dead_has(td, "attempts", "4"));
    assert_int_equal(fp_td_xlen(td, FP_TD_JOBS), 0);
    assert_int_equal(fp_td_pending(td), 0);
}

/* One child, a job that overruns its timeout and four noops queued behind
 * it in the child's socket: the overrun is the sleep job's failure alone;
 * the noops run on the replacement child, each once, first attempt. */
static void test_timeout_requeues_the_jobs_queued_behind(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, "[pool]\nchildren = 1\nprefetch = 4\npipeline = 4\nkill_grace = \"200ms\"\n");
    fp_td_enqueue(td, 1,
                  "{\"type\":\"sleep\",\"args\":{\"ms\":20000},\"timeout\":\"300ms\","
                  "\"max_attempts\":1,\"id\":\"slow-%d%d\"}");
    fp_td_enqueue(td, 4, NOOP_JOB);
    fp_td_start(td, true);
    assert_int_equal(fp_td_wait(td, 60000), 0);
    assert_int_equal(fp_td_jobs_done(td), 4);
    assert_int_equal(fp_td_log_count(td, "job noop failed"), 0);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 1);
    assert_true(fp_td_dead_has(td, "error", "timeout"));
    assert_true(fp_td_dead_has(td, "job", "slow-00"));
    assert_int_equal(fp_td_pending(td), 0);
}

/* TERM while every child holds queued jobs: they finish (they are already
 * in the children's sockets), the rest goes back, nothing is pending, and a
 * second run leaves the stream empty. */
static void test_drain_finishes_queued_jobs(void **state)
{
    fp_td_t *td = *state;
    const int total = 400;
    fp_td_config(td, "log_level = \"debug\"\n", "[pool]\nchildren = 2\nprefetch = 6\npipeline = 3\n");
    fp_td_enqueue(td, total, "{\"type\":\"sleep\",\"args\":{\"ms\":5},\"id\":\"s-%d-%d\"}");
    fp_td_start_ready(td, false);
    fp_td_wait_until(td, fp_td_log_has, (void *)"pulled", 30000, "a first pull");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 60000), 0);
    assert_int_equal(fp_td_pending(td), 0);
    long long first = fp_td_jobs_done(td);
    assert_int_equal(first + fp_td_xlen(td, FP_TD_JOBS), total);

    fp_td_start(td, true);
    assert_int_equal(fp_td_wait(td, 60000), 0);
    assert_int_equal(fp_td_xlen(td, FP_TD_JOBS), 0);
    assert_int_equal(first + fp_td_jobs_done(td), total);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fp_td_setup, fp_td_teardown)
    const struct CMUnitTest tests[] = {
        T(test_crash_blames_only_the_running_job),
        T(test_timeout_requeues_the_jobs_queued_behind),
        T(test_drain_finishes_queued_jobs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
