/* test_it_concurrency.c: exec children that run jobs side by side
 * (python/forkpool/worker.py at concurrency N, test/data/async_worker.py):
 * many async jobs on two children all finish with more than one in flight
 * per child and the held jobs within the pull bound, a timeout among
 * concurrent jobs, a crash among them (nothing lost, each running job one
 * attempt), recycling and draining, and a "ready" whose concurrency the
 * protocol refuses. Real redis-server, real forkpool binary, Debian's
 * python3. No timing: what a child ran at once is read from what its
 * handlers recorded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

/* The exec runtime running async_worker.py with arg, then pool_lines. */
static void conc_config(fp_td_t *td, const char *arg, const char *pool_lines)
{
    char text[8192];
    snprintf(text, sizeof text,
             "[pool]\nruntime = \"exec\"\ncommand = [\"python3\", \"%s/test/data/async_worker.py\", "
             "\"%s\"]\nkill_grace = \"200ms\"\n%s"
             "[retry]\nbackoff_base = \"1h\"\nbackoff_max = \"2h\"\n",
             fp_th_env("FP_SOURCE_DIR"), arg, pool_lines);
    fp_td_config(td, "log_level = \"debug\"\n", text);
}

/* Enqueues count jobs of json_fmt, whose one %s is the test's dir and two
 * %%d the job's number, as fp_td_enqueue numbers them. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void enqueue_in_dir(fp_td_t *td, int count, const char *json_fmt)
{
    char fmt[2048];
    snprintf(fmt, sizeof fmt, json_fmt, td->dir);
    fp_td_enqueue(td, count, fmt);
}
#pragma GCC diagnostic pop

/* The most jobs any one child recorded in flight at once, and how many
 * children recorded (peak-PID files in the test dir). */
static long long peak_in_flight(const fp_td_t *td, int *children)
{
    DIR *d = opendir(td->dir);
    assert_non_null(d);
    long long most = 0;
    *children = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "peak-", 5) != 0)
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", td->dir, e->d_name);
        char *text = fp_th_read_file(path, NULL);
        long long n = text != NULL ? atoll(text) : 0;
        free(text);
        most = n > most ? n : most;
        (*children)++;
    }
    closedir(d);
    return most;
}

/* 200 jobs of a 200 ms async sleep on 2 children at concurrency 50: all
 * done by the two children started, each of which had more than one job in
 * flight at once, and the supervisor never held more than the children run
 * at once plus the prefetch. */
static void test_async_jobs_run_side_by_side(void **state)
{
    fp_td_t *td = *state;
    conc_config(td, "50", "children = 2\nprefetch = 10\n");
    enqueue_in_dir(td, 200, "{\"type\":\"asleep\",\"id\":\"s%%d-%%d\",\"args\":{\"ms\":200,\"dir\":\"%s\"}}");
    fp_td_run_until_settled(td);
    assert_int_equal(fp_td_jobs_done(td), 200);
    assert_int_equal(fp_td_log_count(td, "spawned (pid"), 2);
    int children = 0;
    assert_true(peak_in_flight(td, &children) > 1);
    assert_int_equal(children, 2);
    long long held = fp_td_max_held(td);
    assert_true(held > 0);
    assert_true(held <= 2 * 50 + 10);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
    assert_int_equal(fp_td_zcard(td, FP_TD_DELAYED), 0);
}

/* One job overruns its timeout while four others run beside it in the same
 * child: the group is killed, the overrunning job fails as a timeout, the
 * four as a crash of that child (one attempt each, retried later), and the
 * replacement serves what comes next. */
static void test_timeout_among_concurrent_jobs(void **state)
{
    fp_td_t *td = *state;
    conc_config(td, "10", "children = 1\n");
    enqueue_in_dir(td, 4, "{\"type\":\"asleep\",\"id\":\"long%%d-%%d\",\"timeout\":\"1h\",\"args\":{\"ms\":3600000,\"dir\":\"%s\"}}");
    enqueue_in_dir(td, 1, "{\"type\":\"asleep\",\"id\":\"hang%%d%%d\",\"timeout\":\"2s\",\"args\":{\"ms\":3600000,\"dir\":\"%s\"}}");
    fp_td_run_until_settled(td);
    assert_int_equal(fp_td_log_count(td, "timed out; sending SIGTERM"), 1);
    assert_int_equal(fp_td_zcard(td, FP_TD_DELAYED), 5);
    assert_int_equal(fp_td_delayed_count(td, "timeout: still running after 2000 ms"), 1);
    assert_int_equal(fp_td_delayed_count(td, "\"id\":\"hang00\""), 1);
    assert_int_equal(fp_td_delayed_count(td, "stopped because a job running beside it timed out"), 4);
    assert_int_equal(fp_td_delayed_count(td, "\"attempt\":1"), 5);
    assert_int_equal(fp_td_log_count(td, "spawned (pid"), 2);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
    assert_int_equal(fp_td_pending(td), 0);
}

/* A child crashes while it runs four jobs: each of them fails as a crash
 * with one attempt; every other job is done; none is lost. */
static void test_crash_among_concurrent_jobs(void **state)
{
    fp_td_t *td = *state;
    conc_config(td, "10", "children = 1\n");
    enqueue_in_dir(td, 3, "{\"type\":\"asleep\",\"id\":\"long%%d-%%d\",\"timeout\":\"1h\",\"args\":{\"ms\":3600000,\"dir\":\"%s\"}}");
    fp_td_enqueue(td, 1, "{\"type\":\"crash\",\"id\":\"poison%d%d\",\"args\":{\"ms\":300}}");
    fp_td_enqueue(td, 20, "{\"type\":\"echo\",\"id\":\"e%d-%d\"}");
    fp_td_run_until_settled(td);
    long long crashed = fp_td_zcard(td, FP_TD_DELAYED);
    assert_true(crashed >= 4); /* echo jobs sent to it beside them died too */
    assert_int_equal(fp_td_delayed_count(td, "child crashed: killed by signal 11"), crashed);
    assert_int_equal(fp_td_delayed_count(td, "\"attempt\":1"), crashed);
    assert_int_equal(fp_td_delayed_count(td, "poison00"), 1);
    assert_int_equal(fp_td_delayed_count(td, "\"long"), 3);
    assert_int_equal(fp_td_jobs_done(td) + crashed, 24);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
    assert_int_equal(fp_td_pending(td), 0);
}

/* A concurrent child recycles by job count: it takes no more jobs than its
 * limit, is replaced, and its stop waits behind the jobs it runs, which
 * finish: every job done, none killed. */
static void test_concurrent_child_recycles(void **state)
{
    fp_td_t *td = *state;
    conc_config(td, "10", "children = 1\nmax_jobs_per_child = 20\n");
    enqueue_in_dir(td, 100, "{\"type\":\"asleep\",\"id\":\"r%%d-%%d\",\"args\":{\"ms\":20,\"dir\":\"%s\"}}");
    fp_td_run_until_settled(td);
    assert_int_equal(fp_td_jobs_done(td), 100);
    fp_td_assert_recycled(td, 1, 4);
    assert_int_equal(fp_td_zcard(td, FP_TD_DELAYED), 0);
}

/* A drain lets the jobs concurrent children run finish: all 20 were
 * running (held with no prefetch) when TERM came, and all are done. */
static void test_drain_waits_for_concurrent_jobs(void **state)
{
    fp_td_t *td = *state;
    conc_config(td, "10", "children = 2\n");
    enqueue_in_dir(td, 20, "{\"type\":\"asleep\",\"id\":\"d%%d-%%d\",\"args\":{\"ms\":1000,\"dir\":\"%s\"}}");
    fp_td_start_ready(td, true);
    fp_td_wait_held(td, 20);
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 60000), 0);
    assert_int_equal(fp_td_jobs_done(td), 20);
    assert_int_equal(fp_td_log_count(td, "killed by signal"), 0);
    assert_int_equal(fp_td_xlen(td, FP_TD_JOBS), 0);
    assert_int_equal(fp_td_pending(td), 0);
    assert_int_equal(fp_td_zcard(td, FP_TD_DELAYED), 0);
}

/* A "ready" with a concurrency outside 1..1024 is a protocol error: the
 * child is killed at once, a failed start under the crash-loop back-off. */
static void test_bad_concurrency_is_a_failed_start(void **state)
{
    fp_td_t *td = *state;
    conc_config(td, "badready", "children = 1\n");
    fp_td_start(td, false);
    fp_td_wait_until(td, fp_td_log_has, "next start in 200 ms", 60000, "two failed starts");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_true(fp_td_log_count(td, "sent a bad line before it was ready: \"concurrency\" must be "
                                    "a whole number from 1 to 1024; killing it") >= 2);
    assert_int_equal(fp_td_log_count(td, "pool.start_timeout"), 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fp_td_setup, fp_td_teardown)
    const struct CMUnitTest tests[] = {
        T(test_async_jobs_run_side_by_side),
        T(test_timeout_among_concurrent_jobs),
        T(test_crash_among_concurrent_jobs),
        T(test_concurrent_child_recycles),
        T(test_drain_waits_for_concurrent_jobs),
        T(test_bad_concurrency_is_a_failed_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
