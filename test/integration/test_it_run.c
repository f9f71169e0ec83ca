/* test_it_run.c: the core path as a user meets it — a real redis-server, the
 * real forkpool binary: jobs in, children reused, bad payloads to the dead
 * stream, the held-jobs bound under a large backlog, and a TERM mid-run that
 * loses nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"

/* 10,000 jobs through 4 children: the 4 children forked at start run all of
 * them — no fork per job, no replacement. */
static void test_children_are_reused_for_every_job(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, "log_level = \"debug\"\n", "[pool]\nchildren = 4\n");
    /* All four ready first: a child that is slow to start could otherwise
     * miss a --burst run that its siblings finish. */
    fp_td_start_ready(td, true);
    fp_td_enqueue(td, 10000, "{\"type\":\"echo\",\"args\":{\"n\":%d},\"id\":\"job-%d\"}");
    fp_td_wait_until(td, fp_td_drained, NULL, 120000, "the 10,000 jobs");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 60000), 0);
    assert_int_equal(fp_td_jobs_done(td), 10000);
    assert_int_equal(fp_td_log_count(td, "spawned (pid"), 4);
    assert_int_equal(fp_td_log_count(td, " ready (pid"), 4);
    assert_int_equal(fp_td_xlen(td, FP_TD_JOBS), 0);
    assert_int_equal(fp_td_pending(td), 0);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
}

/* record_event writes one row per job through each child's own connection. */
static void test_record_event_rows(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, "[pool]\nchildren = 4\n");
    fp_td_enqueue(td, 1000,
                  "{\"type\":\"record_event\",\"args\":{\"action\":\"login\",\"timestamp\":"
                  "\"2026-11-22T10:00:00Z\",\"org_id\":\"o1\",\"user_id\":\"u%d\","
                  "\"object_id\":\"obj-%d\",\"object_type\":\"session\"}}");
    fp_td_start(td, true);
    assert_int_equal(fp_td_wait(td, 120000), 0);
    assert_int_equal(fp_td_sql(td, "SELECT count(*) FROM events"), 1000);
    assert_int_equal(fp_td_sql(td, "SELECT count(DISTINCT object_id) FROM events"), 1000);
    assert_int_equal(fp_td_sql(td, "SELECT count(*) FROM events WHERE action = 'login'"), 1000);
}

/* Each kind of bad payload goes to the dead stream with its reason, is
 * acknowledged, and the good jobs around it still run. */
static void test_bad_payloads_go_to_dead(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, "[pool]\nchildren = 2\n");
    size_t big_len = 2 * 1024 * 1024;
    char *big = malloc(big_len);
    memset(big, ' ', big_len);
    memcpy(big, "{\"type\":\"noop\",\"args\":\"", 23);
    memcpy(big + big_len - 2, "\"}", 2);
    const struct {
        const char *payload;
        size_t len;
        const char *reason;
    } cases[] = {
        {"this is not json", 16, "not JSON"},
        {"[1,2,3]", 7, "not a JSON object"},
        {"{\"args\":{}}", 11, "no \"type\""},
        {"{\"type\":\"\"}", 11, "\"type\" is empty"},
        {"{\"type\":\"no_such_handler\"}", 26, "unknown job type"},
        {big, big_len, "max_job_bytes"},
    };
    fp_td_enqueue(td, 10, "{\"type\":\"noop\",\"id\":\"a%d-%d\"}");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        fp_td_enqueue_raw(td, cases[i].payload, cases[i].len);
    fp_td_enqueue(td, 10, "{\"type\":\"noop\",\"id\":\"b%d-%d\"}");
    free(big);
    fp_td_start(td, true);
    assert_int_equal(fp_td_wait(td, 60000), 0);
    assert_int_equal(fp_td_jobs_done(td), 20);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 6);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (!fp_td_dead_has(td, "error", cases[i].reason))
            fail_msg("no dead entry with reason \"%s\"", cases[i].reason);
    assert_int_equal(fp_td_xlen(td, FP_TD_JOBS), 0);
    assert_int_equal(fp_td_pending(td), 0);
}

static bool queue_below(fp_td_t *td, void *arg)
{
    long long n = fp_td_xlen(td, FP_TD_JOBS);
    return n >= 0 && n < *(long long *)arg;
}

static long long rss_kb(int pid)
{
    long kb = fp_th_proc_status(pid, "VmRSS:");
    assert_true(kb > 0);
    return kb;
}

/* With 100,000 jobs waiting, the supervisor holds at most children +
 * prefetch of them and its memory does not grow while it works through
 * the backlog; a TERM then stops it with nothing lost. */
static void test_backpressure_with_large_backlog(void **state)
{
    fp_td_t *td = *state;
    const long long total = 100000;
    fp_td_config(td, "log_level = \"debug\"\n", "[pool]\nchildren = 4\nprefetch = 2\n");
    fp_td_enqueue(td, (int)total, "{\"type\":\"sleep\",\"args\":{\"ms\":1},\"id\":\"%d-%d\"}");
    fp_td_start(td, false);
    long long below = total - 1000;
    fp_td_wait_until(td, queue_below, &below, 120000, "1,000 jobs done");
    long long rss_early = rss_kb(td->pid);
    below = total - 5000;
    fp_td_wait_until(td, queue_below, &below, 120000, "5,000 jobs done");
    long long rss_late = rss_kb(td->pid);
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 60000), 0);

    long long held = fp_td_max_held(td);
    assert_true(held > 0);
    assert_true(held <= 6);
    /* Flat: 4,000 more jobs went through without the supervisor growing. */
    if (rss_late > rss_early + 2048)
        fail_msg("supervisor RSS grew from %lld kB to %lld kB", rss_early, rss_late);
    /* Nothing lost: what ran plus what is left is what was enqueued. */
    assert_int_equal(fp_td_jobs_done(td) + fp_td_xlen(td, FP_TD_JOBS), total);
    assert_int_equal(fp_td_pending(td), 0);
}

/* TERM while jobs run: running jobs finish and are acknowledged, held ones
 * go back, the daemon exits 0; a second run finishes the rest, and every
 * job ran at least once. */
static void test_term_mid_run_loses_nothing(void **state)
{
    fp_td_t *td = *state;
    const int total = 2000;
    fp_td_config(td, NULL, "[pool]\nchildren = 4\nprefetch = 4\n");
    fp_td_enqueue(td, total,
                  "{\"type\":\"record_event\",\"args\":{\"action\":\"a\",\"object_id\":\"id-%d\","
                  "\"user_id\":\"u%d\"}}");
    /* A few slow jobs keep children busy at the moment TERM arrives. */
    fp_td_enqueue(td, 8, "{\"type\":\"sleep\",\"args\":{\"ms\":300},\"id\":\"slow-%d-%d\"}");
    fp_td_enqueue(td, total,
                  "{\"type\":\"record_event\",\"args\":{\"action\":\"b\",\"object_id\":\"id2-%d\","
                  "\"user_id\":\"u%d\"}}");
    fp_td_start(td, false);
    long long below = 2 * total + 8 - 1000;
    fp_td_wait_until(td, queue_below, &below, 120000, "1,000 jobs done");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 60000), 0);
    assert_int_equal(fp_td_pending(td), 0);
    long long first = fp_td_jobs_done(td);
    assert_true(first > 0);
    assert_int_equal(first + fp_td_xlen(td, FP_TD_JOBS), 2 * total + 8);

    fp_td_start(td, true);
    assert_int_equal(fp_td_wait(td, 120000), 0);
    assert_int_equal(fp_td_xlen(td, FP_TD_JOBS), 0);
    assert_int_equal(fp_td_sql(td, "SELECT count(DISTINCT object_id) FROM events"), 2 * total);
}

/* The largest recycling limits the configuration accepts: the jittered
 * per-child limit saturates instead of overflowing (UBSan aborts on a
 * signed overflow in the daemon). */
/* A start that fails once children are forked (here the ledger cannot be
 * opened) stops them, exits 78 and frees everything: the fixture fails the
 * test on LeakSanitizer's report in the log (each child's channel leaked). */
static void test_failed_start_after_fork_frees_everything(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL,
                 "[pool]\nchildren = 2\n[ledger]\npath = \"/nonexistent/dir/ledger.db\"\n");
    fp_td_start(td, false);
    assert_int_equal(fp_td_wait(td, 60000), 78);
    assert_true(fp_td_log_has(td, "spawned (pid"));
}

/* A Redis URL the daemon would refuse is refused by the configuration,
 * before any child is forked. */
static void test_bad_redis_url_refused_before_forking(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, NULL);
    fp_td_config_replace(td, fp_th_redis_url(&td->redis), "redis://127.0.0.1:1/?db");
    fp_td_start(td, false);
    assert_int_equal(fp_td_wait(td, 60000), 78);
    assert_true(fp_td_log_has(td, "take no ?options"));
    assert_int_equal(fp_td_log_count(td, "spawned (pid"), 0);
}

static void test_largest_recycling_limits(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL,
                 "[pool]\nchildren = 2\nmax_jobs_per_child = 9223372036854775807\n"
                 "max_jobs_jitter = 9223372036854775807\n");
    fp_td_enqueue(td, 20, "{\"type\":\"echo\",\"id\":\"big%d-%d\"}");
    fp_td_start(td, true);
    assert_int_equal(fp_td_wait(td, 60000), 0);
    assert_int_equal(fp_td_jobs_done(td), 20);
    assert_int_equal(fp_td_log_count(td, "spawned (pid"), 2);
}

/* --burst waits for the retries it scheduled: jobs that fail with a 1 s
 * back-off run their second attempt (and, failing again, reach dead) before
 * the daemon exits. A job someone else delayed by an hour does not hold it. */
static void test_burst_waits_for_its_own_retries(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL,
                 "[pool]\nchildren = 2\n"
                 "[retry]\nbackoff_base = \"1s\"\nbackoff_max = \"1s\"\njitter = false\n");
    fp_td_enqueue(td, 5, "{\"type\":\"noop\",\"id\":\"ok-%d-%d\"}");
    fp_td_enqueue(td, 3,
                  "{\"type\":\"fail\",\"max_attempts\":2,\"args\":{\"message\":\"flaky\"},"
                  "\"id\":\"f-%d-%d\"}");
    long long due = fp_th_redis_now_ms(&td->redis) / 1000 * 1000 + 3600 * 1000;
    redisReply *z = fp_th_redis_cmd(&td->redis, "ZADD %s %lld %s", FP_TD_DELAYED, due,
                                    "{\"type\":\"noop\",\"id\":\"someone-elses\"}");
    assert_non_null(z);
    freeReplyObject(z);

    fp_td_start(td, true);
    assert_int_equal(fp_td_wait(td, 60000), 0);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 3);
    assert_true(fp_td_dead_has(td, "attempts", "2"));
    assert_int_equal(fp_td_zcard(td, FP_TD_DELAYED), 1);
    assert_int_equal(fp_th_redis_int(&td->redis, "ZCOUNT %s %lld %lld", FP_TD_DELAYED, due, due),
                     1);
    assert_int_equal(fp_td_xlen(td, FP_TD_JOBS), 0);
    assert_int_equal(fp_td_pending(td), 0);
}

/* In the first 45 of jobs served (one child, no prefetch: one job per pull),
 * how many came from queue? */
static long long served_from(const char *ledger, const char *queue)
{
    return fp_td_sql_at(ledger,
                        "SELECT count(*) FROM (SELECT queue FROM jobs ORDER BY id LIMIT 45)"
                        " WHERE queue = '%s'",
                        queue);
}

/* queues.order = "weighted", 5:3:1, a backlog in all three: pulls are shared
 * in that ratio (smooth weighted round-robin makes it exact per 9 pulls; a
 * pick of tolerance allowed) and the weight-1 queue is served. */
static void test_weighted_order_shares_pulls(void **state)
{
    fp_td_t *td = *state;
    char ledger[4200], extra[4800];
    snprintf(ledger, sizeof ledger, "%s/ledger.db", td->dir);
    snprintf(extra, sizeof extra,
             "[queues]\nnames = [\"hi\", \"mid\", \"lo\"]\norder = \"weighted\"\n"
             "weights = { hi = 5, mid = 3, lo = 1 }\n"
             "[pool]\nchildren = 1\nprefetch = 0\n[ledger]\npath = \"%s\"\n",
             ledger);
    fp_td_config(td, NULL, extra);
    const char *queues[] = {"hi", "mid", "lo"};
    for (size_t q = 0; q < 3; q++) {
        char key[64];
        snprintf(key, sizeof key, "fp:{%s}:jobs", queues[q]);
        for (int i = 0; i < 50; i++) {
            char job[96];
            snprintf(job, sizeof job, "{\"type\":\"noop\",\"id\":\"%s-%d\"}", queues[q], i);
            freeReplyObject(fp_th_redis_cmd(&td->redis, "XADD %s * job %s", key, job));
        }
    }
    fp_td_start(td, true);
    assert_int_equal(fp_td_wait(td, 60000), 0);
    assert_int_equal(fp_td_jobs_done(td), 150);
    long long hi = served_from(ledger, "hi"), mid = served_from(ledger, "mid"),
              lo = served_from(ledger, "lo");
    if (hi < 24 || hi > 26 || mid < 14 || mid > 16 || lo < 4 || lo > 6)
        fail_msg("first 45 jobs served: hi %lld, mid %lld, lo %lld (want about 25, 15, 5)", hi,
                 mid, lo);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fp_td_setup, fp_td_teardown)
    const struct CMUnitTest tests[] = {
        T(test_children_are_reused_for_every_job),
        T(test_record_event_rows),
        T(test_bad_payloads_go_to_dead),
        T(test_backpressure_with_large_backlog),
        T(test_term_mid_run_loses_nothing),
        T(test_failed_start_after_fork_frees_everything),
        T(test_bad_redis_url_refused_before_forking),
        T(test_largest_recycling_limits),
        T(test_burst_waits_for_its_own_retries),
        T(test_weighted_order_shares_pulls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
