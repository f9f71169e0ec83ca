/* test_it_steer.c: the adaptive pool (docs/steering.md) as a person would
 * check it, on two children with the defaults: short jobs are sent ahead to
 * busy children, long or unknown ones never, and nothing is ever sent
 * behind a long job; a fixed pool.pipeline sends ahead whatever the jobs
 * take (the rule's counterpart), and pool.prefetch = 0 sends nothing ahead.
 * Which type waits behind which is read from the debug log line each job
 * sent ahead writes; how many, from /stats and /metrics. No timing is
 * asserted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>

#include "daemon.h"

#define NOOP_JOB "{\"type\":\"noop\",\"id\":\"n-%d-%d\"}"
#define SLEEP_JOB "{\"type\":\"sleep\",\"args\":{\"ms\":200},\"id\":\"s-%d-%d\"}"
#define BEHIND_SLEEP "behind type sleep:"
#define SLEEP_AHEAD "type sleep sent ahead"

/* rounds × (one 200 ms sleep job, then `noops` noop jobs): a long job with
 * short ones queued right after it, again and again. */
static void enqueue_mixed(fp_td_t *td, int rounds, int noops)
{
    for (int i = 0; i < rounds; i++) {
        fp_td_enqueue(td, 1, SLEEP_JOB);
        fp_td_enqueue(td, noops, NOOP_JOB);
    }
}

static void config(fp_td_t *td, const char *pool_lines)
{
    char text[256];
    snprintf(text, sizeof text, "[pool]\nchildren = 2\n%s", pool_lines);
    fp_td_config(td, "log_level = \"debug\"\n", text);
}

/* Runs until every job is done and nothing is pending, then stops. */
static void run_to_empty(fp_td_t *td)
{
    fp_td_wait_until(td, fp_td_drained, NULL, 120000, "every job done");
}

static void stop(fp_td_t *td)
{
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_int_equal(fp_td_pending(td), 0);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
}

static void test_defaults_send_short_jobs_ahead_and_nothing_behind_long_ones(void **state)
{
    fp_td_t *td = *state;
    /* A wait far above what a noop takes even on a loaded machine under
     * ASan (the p99 there reaches milliseconds: the 2 ms default would
     * then send nothing ahead), and far below a sleep job. */
    config(td, "max_send_ahead_wait = \"50ms\"\n");
    fp_td_start_ready(td, true);
    assert_true(fp_td_log_count(td, "prefetch auto, pipeline auto") == 1);
    /* noop only: once its type is known short, busy children take more. */
    fp_td_enqueue(td, 3000, NOOP_JOB);
    run_to_empty(td);
    double ahead = fp_td_stat(td, "counters.jobs_sent_ahead");
    assert_true(ahead > 0);
    assert_true(fp_td_metric(td, "forkpool_jobs_sent_ahead_total") == ahead);
    assert_true(fp_td_stat(td, "steering.max_held") == 512);
    /* Long jobs among them: a sleep job is never sent ahead, and no job is
     * sent behind one, while noops still go behind noops. */
    enqueue_mixed(td, 15, 40);
    run_to_empty(td);
    stop(td);
    assert_int_equal(fp_td_jobs_done(td), 3000 + 15 * 41);
    assert_int_equal(fp_td_log_count(td, BEHIND_SLEEP), 0);
    assert_int_equal(fp_td_log_count(td, SLEEP_AHEAD), 0);
    assert_true(fp_td_log_count(td, "sent ahead to child") > 0);
}

/* The counterpart: a fixed pipeline queues noops behind the sleep jobs (the
 * head-of-line blocking the adaptive rule avoids), so the log line above is
 * one that can show it. */
static void test_fixed_pipeline_sends_behind_long_jobs(void **state)
{
    fp_td_t *td = *state;
    config(td, "prefetch = 8\npipeline = 4\n");
    enqueue_mixed(td, 15, 40);
    fp_td_start_ready(td, true);
    assert_true(fp_td_log_count(td, "prefetch 8, pipeline 4") == 1);
    run_to_empty(td);
    assert_true(fp_td_stat(td, "steering.hold") == 8);
    stop(td);
    assert_int_equal(fp_td_jobs_done(td), 15 * 41);
    assert_true(fp_td_log_count(td, BEHIND_SLEEP) > 0);
}

/* pool.prefetch = 0 keeps today's one-job-per-child rule exactly: nothing
 * is held beyond the children, so nothing can be sent ahead. */
static void test_prefetch_zero_sends_nothing_ahead(void **state)
{
    fp_td_t *td = *state;
    config(td, "prefetch = 0\n");
    fp_td_enqueue(td, 1000, NOOP_JOB);
    fp_td_start_ready(td, true);
    run_to_empty(td);
    assert_true(fp_td_stat(td, "steering.hold") == 0);
    assert_true(fp_td_stat(td, "counters.jobs_sent_ahead") == 0);
    assert_true(fp_td_metric(td, "forkpool_jobs_held_limit") == 2);
    stop(td);
    assert_int_equal(fp_td_jobs_done(td), 1000);
    assert_int_equal(fp_td_log_count(td, "sent ahead to child"), 0);
}

/* HUP applies the four keys: a fixed prefetch becomes another, then
 * "auto" with a new memory bound. */
static void test_reload_applies_the_keys(void **state)
{
    fp_td_t *td = *state;
    config(td, "prefetch = 5\nmax_held = 100\n");
    fp_td_start_ready(td, true);
    fp_td_num_t hold = {"steering.hold", 5};
    fp_td_wait_until(td, fp_td_stat_is, &hold, 30000, "hold 5");
    fp_td_config_replace(td, "prefetch = 5", "prefetch = 7");
    fp_td_signal(td, SIGHUP);
    hold.value = 7;
    fp_td_wait_until(td, fp_td_stat_is, &hold, 30000, "hold 7 after HUP");
    fp_td_config_replace(td, "prefetch = 7\nmax_held = 100", "max_held = 40");
    fp_td_signal(td, SIGHUP);
    fp_td_num_t most = {"steering.max_held", 40};
    fp_td_wait_until(td, fp_td_stat_is, &most, 30000, "max_held 40 after HUP");
    assert_true(fp_td_log_count(td, "prefetch auto, pipeline auto; replacing") == 1);
    fp_td_enqueue(td, 500, NOOP_JOB);
    run_to_empty(td);
    assert_true(fp_td_stat(td, "steering.hold") <= 40 - 2);
    stop(td);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fp_td_setup, fp_td_teardown)
    const struct CMUnitTest tests[] = {
        T(test_defaults_send_short_jobs_ahead_and_nothing_behind_long_ones),
        T(test_fixed_pipeline_sends_behind_long_jobs),
        T(test_prefetch_zero_sends_nothing_ahead),
        T(test_reload_applies_the_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
