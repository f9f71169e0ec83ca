/* test_it_autoscale.c: pool.children = "2..8" against a real Redis and the
 * real binary. A backlog of sleep jobs grows the pool to 8; once it is gone
 * and the idle timeout passed, the pool shrinks back to 2, one stop at a
 * time. With pool.max_memory_total set low, growth stops and the log says
 * why. Either way the ledger shows every job ran once, to success: none lost
 * (the stream drains, nothing dead or delayed) and none run twice (one row
 * per job id, no failed attempt). TTIN and a reload move the bounds. No timing is asserted: every wait is for a
 * condition, with generous deadlines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"

#define JOBS 240

/* The config: the range and its delays, pool_lines, a ledger at ledger,
 * and retries far ahead (a retried job would show in the delayed set). */
static void scaling_config(fp_td_t *td, const char *pool_lines, char *ledger, size_t cap)
{
    char extra[8192];
    snprintf(ledger, cap, "%s/ledger.db", td->dir);
    snprintf(extra, sizeof extra,
             "[pool]\nchildren = \"2..8\"\n%s"
             "[ledger]\npath = \"%s\"\n"
             "[retry]\nbackoff_base = \"1h\"\nbackoff_max = \"2h\"\njitter = false\n",
             pool_lines, ledger);
    fp_td_config(td, NULL, extra);
}

static bool ledger_rows_at_least(fp_td_t *td, void *arg)
{
    (void)td;
    return fp_td_sql_at(arg, "SELECT count(*) FROM jobs") >= JOBS;
}

/* Every job ran exactly once and succeeded; returns the distinct pids that ran them. */
static long long assert_each_job_once(fp_td_t *td, const char *ledger)
{
    fp_td_wait_until(td, fp_td_drained, NULL, 180000, "the backlog drained");
    fp_td_wait_until(td, ledger_rows_at_least, (void *)ledger, 60000, "a ledger row per job");
    assert_int_equal(fp_td_sql_at(ledger, "SELECT count(*) FROM jobs"), JOBS);
    assert_int_equal(fp_td_sql_at(ledger, "SELECT count(DISTINCT job_id) FROM jobs"), JOBS);
    assert_int_equal(fp_td_sql_at(ledger, "SELECT count(*) FROM jobs WHERE outcome = 'ok'"), JOBS);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
    assert_int_equal(fp_td_zcard(td, FP_TD_DELAYED), 0);
    return fp_td_sql_at(ledger, "SELECT count(DISTINCT pid) FROM jobs");
}

static void stop_cleanly(fp_td_t *td)
{
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 60000), 0);
}

/* Waits until /stats shows these bounds and target, and /proc that many children. */
static void wait_bounds(fp_td_t *td, int lo, int hi, int target)
{
    fp_td_num_t want[] = {{"children_min", lo}, {"children_max", hi}, {"children_target", target}};
    for (size_t i = 0; i < 3; i++)
        fp_td_wait_until(td, fp_td_stat_is, &want[i], 30000, want[i].name);
    fp_td_wait_until(td, fp_td_children_are, &target, 60000, "the target's children running");
}

static void test_grows_with_the_backlog_then_shrinks_when_idle(void **state)
{
    fp_td_t *td = *state;
    char ledger[4200];
    scaling_config(td, "scale_up_after = \"100ms\"\nidle_timeout = \"500ms\"\n", ledger,
                   sizeof ledger);
    fp_td_start_ready(td, true);
    wait_bounds(td, 2, 8, 2);
    fp_td_enqueue(td, JOBS, "{\"type\":\"sleep\",\"args\":{\"ms\":100},\"id\":\"job-%d-%d\"}");

    fp_td_num_t grown = {"forkpool_children_target", 8};
    fp_td_wait_until(td, fp_td_metric_is, &grown, 120000, "the pool grown to 8");
    int eight = 8;
    fp_td_wait_until(td, fp_td_children_are, &eight, 120000, "8 children running");
    long long pids = assert_each_job_once(td, ledger);
    assert_true(pids > 2); /* the children it grew ran jobs too */

    fp_td_num_t shrunk = {"forkpool_children_target", 2};
    fp_td_wait_until(td, fp_td_metric_is, &shrunk, 120000, "the pool back to 2");
    int two = 2;
    fp_td_wait_until(td, fp_td_children_are, &two, 120000, "2 children left");
    assert_true(fp_td_metric(td, "forkpool_scale_events_total{direction=\"up\",reason=\"backlog\"}") >= 1);
    assert_int_equal(fp_td_metric(td, "forkpool_scale_events_total{direction=\"down\",reason=\"idle\"}"), 6);
    assert_true(fp_td_log_count(td, "autoscale: up to") >= 1);
    assert_int_equal(fp_td_log_count(td, "autoscale: down to"), 6);
    assert_int_equal(fp_td_log_count(td, "killed by signal"), 0);
    stop_cleanly(td);
}

static void test_memory_guard_stops_growth_and_says_why(void **state)
{
    fp_td_t *td = *state;
    char ledger[4200];
    /* Any child that finished a job reported more than 1 kB: growth holds
     * from the first answer on, long before the backlog is a second old. */
    scaling_config(td, "scale_up_after = \"1s\"\nmax_memory_total = \"1KB\"\n", ledger,
                   sizeof ledger);
    fp_td_start_ready(td, true);
    fp_td_enqueue(td, JOBS, "{\"type\":\"sleep\",\"args\":{\"ms\":20},\"id\":\"job-%d-%d\"}");
    fp_td_wait_until(td, fp_td_log_has, "pool.max_memory_total", 120000,
                     "the log saying growth is held");
    assert_int_equal(fp_td_log_count(td, "growth held at 2 children: their memory"), 1);
    assert_each_job_once(td, ledger);
    assert_int_equal(fp_td_metric(td, "forkpool_scale_events_total{direction=\"up\",reason=\"backlog\"}"), 0);
    assert_int_equal(fp_td_metric(td, "forkpool_children_target"), 2);
    assert_int_equal(fp_td_log_count(td, "autoscale: up to"), 0);
    stop_cleanly(td);
}

/* TTIN moves both bounds up by one; the target follows the new minimum. */
static void test_ttin_moves_the_bounds(void **state)
{
    fp_td_t *td = *state;
    char ledger[4200];
    scaling_config(td, "", ledger, sizeof ledger);
    fp_td_start_ready(td, true);
    fp_td_signal(td, SIGTTIN);
    wait_bounds(td, 3, 9, 3);
    assert_int_equal(fp_td_metric(td, "forkpool_scale_events_total{direction=\"up\",reason=\"min\"}"), 1);
    stop_cleanly(td);
}

/* A reload applies new bounds: the target moves into them. */
static void test_reload_applies_new_bounds(void **state)
{
    fp_td_t *td = *state;
    char ledger[4200];
    scaling_config(td, "", ledger, sizeof ledger);
    fp_td_start_ready(td, true);
    fp_td_config_replace(td, "children = \"2..8\"", "children = \"3..4\"");
    fp_td_signal(td, SIGHUP);
    wait_bounds(td, 3, 4, 3);
    stop_cleanly(td);
}

#define T(name) cmocka_unit_test_setup_teardown(name, fp_td_setup, fp_td_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_grows_with_the_backlog_then_shrinks_when_idle),
        T(test_memory_guard_stops_growth_and_says_why),
        T(test_ttin_moves_the_bounds),
        T(test_reload_applies_new_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
