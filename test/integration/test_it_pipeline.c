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
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

#define NOOP_JOB "{\"type\":\"noop\",\"id\":\"n-%d-%d\"}"

/* Every poison job is dead and nothing is left to run or pending. */
static bool all_settled(fp_td_t *td, void *arg)
{
    return fp_td_xlen(td, FP_TD_DEAD) == *(long long *)arg && fp_td_unsettled(td) == 0;
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
    fp_td_config(td, NULL, "[pool]\nchildren = 2\nprefetch = 6\npipeline = 3\n");
    fp_td_enqueue(td, total, "{\"type\":\"sleep\",\"args\":{\"ms\":5},\"id\":\"s-%d-%d\"}");
    fp_td_start_ready(td, false);
    fp_td_num_t held = {"counters.jobs_held", 1};
    fp_td_wait_until(td, fp_td_stat_at_least, &held, 30000, "a first pull");
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

/* ---- the exec runtime, reloads, recycling and shrinking with a pipeline -- */

/* The config: [pool] with pool_lines (after the exec runtime running
 * exec_worker.py when exec), and the job ledger in the temp dir, so that
 * each job's outcomes can be counted. Not in events_db: record_event's
 * children open that file too. */
static void ledger_config(fp_td_t *td, bool exec, const char *pool_lines)
{
    char command[4300], runtime[4400] = "";
    fp_td_exec_worker_command(command, sizeof command, NULL);
    if (exec)
        snprintf(runtime, sizeof runtime, "runtime = \"exec\"\ncommand = %s\n", command);
    char text[12288];
    snprintf(text, sizeof text, "[pool]\n%s%s[ledger]\npath = \"%s/ledger.db\"\n", runtime,
             pool_lines, td->dir);
    fp_td_config(td, "log_level = \"debug\"\n", text);
}

static void exec_config(fp_td_t *td, const char *pool_lines)
{
    ledger_config(td, true, pool_lines);
}

/* count(*)-style query on the ledger (after the daemon exited). */
static long long ledger_sql(const fp_td_t *td, const char *sql)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/ledger.db", td->dir);
    return fp_td_sql_at(path, "%s", sql);
}

/* Enqueues count "gate" jobs: each keeps its child busy until open_gate. */
static void enqueue_gates(fp_td_t *td, int count)
{
    char fmt[4300];
    snprintf(fmt, sizeof fmt, "{\"type\":\"gate\",\"id\":\"g-%%d-%%d\",\"args\":{\"path\":\"%s/gate\"}}",
             td->dir);
    fp_td_enqueue(td, count, fmt);
}

static void open_gate(fp_td_t *td)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/gate", td->dir);
    assert_int_equal(fp_th_write_file(path, "", 0), 0);
}

#define RELOAD_RESTARTS "forkpool_child_restarts_total{reason=\"reload\"}"

/* Each of total jobs ran once and succeeded: one ledger row each, all ok,
 * and no child answered for a job it did not hold. */
static void assert_each_done_once(fp_td_t *td, long long total)
{
    assert_int_equal(fp_td_jobs_done(td), total);
    assert_int_equal(ledger_sql(td, "SELECT count(*) FROM jobs"), total);
    assert_int_equal(ledger_sql(td, "SELECT count(*) FROM jobs WHERE outcome = 'ok'"), total);
    assert_int_equal(ledger_sql(td, "SELECT count(DISTINCT job_id) FROM jobs"), total);
    assert_int_equal(fp_td_log_count(td, "does not hold"), 0);
    assert_int_equal(fp_td_log_count(td, "killed by signal"), 0);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
    assert_int_equal(fp_td_zcard(td, FP_TD_DELAYED), 0);
    assert_int_equal(fp_td_xlen(td, FP_TD_JOBS), 0);
    assert_int_equal(fp_td_pending(td), 0);
}

/* One Python child, depth 9: a gate job and the 8 jobs queued behind it sit
 * in its socket together, so forkpool_worker.py gets them in one read once
 * the gate opens; then 300 more flow through. Each runs once. */
static void test_exec_worker_takes_several_jobs_per_read(void **state)
{
    fp_td_t *td = *state;
    exec_config(td, "children = 1\nprefetch = 8\npipeline = 8\n");
    fp_td_start_ready(td, true);
    enqueue_gates(td, 1);
    fp_td_enqueue(td, 308, "{\"type\":\"echo\",\"id\":\"e-%d\",\"args\":{\"n\":%d}}");
    fp_td_wait_held(td, 9);
    open_gate(td);
    fp_td_wait_until(td, fp_td_drained, NULL, 120000, "every job done");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_each_done_once(td, 309);
    assert_int_equal(fp_td_log_count(td, "spawned (pid"), 1);
}

/* Two exec children, each running a gate job with two more queued behind
 * it, and a backlog of `echo` jobs: busy children that stay busy until
 * open_gate, with nothing idle to fall back on. */
static void hold_two_busy_children(fp_td_t *td, int backlog)
{
    exec_config(td, "children = 2\nprefetch = 4\npipeline = 2\n");
    fp_td_start_ready(td, true);
    enqueue_gates(td, 6);
    fp_td_enqueue(td, backlog, "{\"type\":\"echo\",\"id\":\"e-%d\",\"args\":{\"n\":%d}}");
    fp_td_wait_held(td, 6);
}

/* HUP while both children hold a running job and two queued: the old
 * children are replaced (the first at once, busy; its stop waits behind
 * its jobs), every job is done exactly once and nothing stays pending. */
static void test_hup_with_queued_jobs_runs_each_once(void **state)
{
    fp_td_t *td = *state;
    hold_two_busy_children(td, 200);
    fp_td_signal(td, SIGHUP);
    /* Both children are busy behind the gate: a replacement that waited for
     * an idle child would never come. */
    fp_td_num_t replaced = {RELOAD_RESTARTS, 1};
    fp_td_wait_until(td, fp_td_metric_at_least, &replaced, 30000, "a busy child replaced");
    open_gate(td);
    replaced.value = 2;
    fp_td_wait_until(td, fp_td_metric_is, &replaced, 60000, "both old children replaced");
    fp_td_wait_until(td, fp_td_drained, NULL, 120000, "every job done");
    int two = 2;
    fp_td_wait_until(td, fp_td_children_are, &two, 30000, "two children");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_each_done_once(td, 206);
    assert_int_equal(fp_td_log_count(td, "is replaced after a reload"), 2);
    assert_int_equal(fp_td_log_count(td, "spawned (pid"), 4);
}

/* TTOU while both children are busy with jobs queued: one of them is told
 * to stop behind its queue at once, not when it next turns idle (with a
 * pipeline, never while there is a backlog). */
static void test_ttou_stops_a_busy_child(void **state)
{
    fp_td_t *td = *state;
    hold_two_busy_children(td, 100);
    fp_td_signal(td, SIGTTOU);
    /* It stays stopping behind the gate: the gauge cannot be missed. */
    fp_td_num_t stopping = {"forkpool_children{state=\"stopping\"}", 1};
    fp_td_wait_until(td, fp_td_metric_is, &stopping, 30000, "a busy child stopped");
    open_gate(td);
    fp_td_wait_until(td, fp_td_drained, NULL, 120000, "every job done");
    int one = 1;
    fp_td_wait_until(td, fp_td_children_are, &one, 30000, "one child");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_each_done_once(td, 106);
    assert_int_equal(fp_td_log_count(td, "spawned (pid"), 2);
}

/* max_jobs_per_child 7 with children holding up to 5 jobs: children are
 * recycled (none is sent a job past its limit to be stranded behind its
 * stop), and every job is done exactly once. */
static void test_recycling_with_a_pipeline_loses_nothing(void **state)
{
    fp_td_t *td = *state;
    ledger_config(td, false,
                  "children = 2\nprefetch = 8\npipeline = 4\n"
                  "max_jobs_per_child = 7\nmax_jobs_jitter = 0\n");
    fp_td_enqueue(td, 300, "{\"type\":\"sleep\",\"args\":{\"ms\":1},\"id\":\"r-%d-%d\"}");
    fp_td_start(td, true);
    assert_int_equal(fp_td_wait(td, 120000), 0);
    assert_each_done_once(td, 300);
    fp_td_assert_recycled(td, 2, 10);
    assert_true(ledger_sql(td, "SELECT count(DISTINCT pid) FROM jobs") > 2); /* recycled children ran jobs */
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fp_td_setup, fp_td_teardown)
    const struct CMUnitTest tests[] = {
        T(test_crash_blames_only_the_running_job),
        T(test_timeout_requeues_the_jobs_queued_behind),
        T(test_drain_finishes_queued_jobs),
        T(test_exec_worker_takes_several_jobs_per_read),
        T(test_hup_with_queued_jobs_runs_each_once),
        T(test_ttou_stops_a_busy_child),
        T(test_recycling_with_a_pipeline_loses_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
