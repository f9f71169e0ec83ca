/* test_it_sqlite_daemon.c: `forkpool run` on the embedded queue (issue 19):
 * no redis-server anywhere, jobs added to the queue file with the store's
 * API as a producer on the host would. The delivery contract as the Redis
 * tests check it: jobs run and their rows go, a failing job retries with
 * back-off then goes dead with its reason, a delayed job waits for its due
 * time, --burst waits for its own retries, a TERM puts unstarted rows back,
 * a SIGKILL then a restart runs again only what was in flight, two daemons
 * on one file share the work without running a job twice, a second daemon
 * under the same name is refused, a child killed mid-job gets its job
 * retried, strict and weighted order hold, a lock held past the busy
 * timeout makes it not ready and then it recovers. The ledger records the
 * outcomes as with Redis. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <sqlite3.h>

#include "daemon_sqlite.h"

#define FAST_RETRY "[retry]\nbackoff_base = \"50ms\"\nbackoff_max = \"200ms\"\njitter = false\n"
#define EVENT_JOB                                                                            \
    "{\"type\":\"record_event\",\"args\":{\"action\":\"sq\",\"object_id\":\"id-%d\","       \
    "\"user_id\":\"u%d\"}}"

static void ledger_line(const fp_td_t *td, char *buf, size_t size)
{
    snprintf(buf, size, "[ledger]\npath = \"%s/ledger.db\"\n", td->dir);
}

static long long ledger(const fp_td_t *td, const char *outcome)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/ledger.db", td->dir);
    return fp_td_sql_at(path, "SELECT count(*) FROM jobs WHERE outcome = '%s'", outcome);
}

static bool ledger_ok_at_least(fp_td_t *td, void *arg)
{
    return ledger(td, "ok") >= *(long long *)arg;
}

/* Config with the ledger and more, started and ready. */
static void start(fp_td_t *td, const char *extra)
{
    char text[8192], led[4300];
    ledger_line(td, led, sizeof led);
    snprintf(text, sizeof text, "%s%s", led, extra != NULL ? extra : "");
    fp_td_config_sqlite(td, NULL, text);
    fp_td_start_ready(td, true);
}

static void stop(fp_td_t *td)
{
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 60000), 0);
}

static void test_jobs_run_and_their_rows_go(void **state)
{
    fp_td_t *td = *state;
    start(td, "[pool]\nchildren = 2\n");
    fp_td_sqlite_enqueue(td, "default", 50, EVENT_JOB, 0);
    long long zero = 0, fifty = 50;
    fp_td_wait_until(td, fp_td_qjobs_are, &zero, 60000, "every row settled");
    fp_td_wait_until(td, fp_td_events_at_least, &fifty, 60000, "every job recorded");
    assert_int_equal(fp_td_sql(td, "SELECT count(DISTINCT object_id) FROM events"), 50);
    assert_true(fp_td_log_count(td, "queue: embedded SQLite at ") == 1);
    assert_true(fp_td_log_count(td, "(no Redis configured)") == 1);
    fp_td_num_t size = {"forkpool_sqlite_file_bytes", 1};
    fp_td_wait_until(td, fp_td_metric_at_least, &size, 60000, "the file's size in /metrics");
    fp_td_wait_until(td, ledger_ok_at_least, &fifty, 60000, "the ledger's rows");
    stop(td);
    assert_int_equal(ledger(td, "ok"), 50);
    assert_int_equal(fp_td_log_count(td, "heartbeat"), 0); /* no fleet, no complaint */
}

static void test_failing_job_retries_then_goes_dead(void **state)
{
    fp_td_t *td = *state;
    start(td, FAST_RETRY "[pool]\nchildren = 1\n");
    fp_td_sqlite_enqueue(td, "default", 1,
                         "{\"type\":\"fail\",\"max_attempts\":3,\"args\":{\"message\":\"boom "
                         "%d%d\"}}",
                         0);
    long long one = 1, zero = 0;
    fp_td_wait_until(td, fp_td_qdead_are, &one, 60000, "the job dead");
    fp_td_wait_until(td, fp_td_qjobs_are, &zero, 60000, "no row left");
    assert_int_equal(fp_td_qsql(td, "SELECT count(*) FROM dead WHERE error LIKE '%%boom 00%%'"
                                    " AND attempts = 3 AND queue = 'default'"),
                     1);
    /* The queue's depth as /metrics samples it from the file. */
    fp_td_num_t dead = {"forkpool_queue_dead{queue=\"default\"}", 1};
    fp_td_wait_until(td, fp_td_metric_is, &dead, 60000, "the dead row in /metrics");
    assert_true(fp_td_metric(td, "forkpool_queue_ready{queue=\"default\"}") == 0);
    stop(td);
    assert_int_equal(ledger(td, "retried"), 2);
    assert_int_equal(ledger(td, "dead"), 1);
}

static void test_delayed_job_waits_for_its_time(void **state)
{
    fp_td_t *td = *state;
    start(td, "[pool]\nchildren = 1\n");
    struct timeval tv;
    gettimeofday(&tv, NULL);
    long long t0 = (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    fp_td_sqlite_enqueue(td, "default", 1, EVENT_JOB, 1500);
    long long one = 1;
    fp_td_wait_until(td, ledger_ok_at_least, &one, 60000, "the delayed job run");
    char path[4200];
    snprintf(path, sizeof path, "%s/ledger.db", td->dir);
    assert_int_equal(fp_td_sql_at(path, "SELECT count(*) FROM jobs WHERE started_at >= %lld",
                                  t0 + 1500),
                     1);
    stop(td);
}

static void test_burst_waits_for_its_own_retries(void **state)
{
    fp_td_t *td = *state;
    char led[4300], text[8192];
    ledger_line(td, led, sizeof led);
    snprintf(text, sizeof text,
             "%s[retry]\nbackoff_base = \"400ms\"\nbackoff_max = \"400ms\"\njitter = false\n"
             "[pool]\nchildren = 2\n",
             led);
    fp_td_config_sqlite(td, NULL, text);
    fp_td_sqlite_enqueue(td, "default", 20, EVENT_JOB, 0);
    fp_td_sqlite_enqueue(td, "default", 1,
                         "{\"type\":\"fail\",\"max_attempts\":2,\"args\":{\"n\":%d%d}}", 0);
    fp_td_start(td, true);
    assert_int_equal(fp_td_wait(td, 60000), 0);
    assert_int_equal(fp_td_qsql(td, "SELECT count(*) FROM jobs"), 0);
    assert_int_equal(fp_td_qsql(td, "SELECT count(*) FROM dead"), 1);
    assert_int_equal(fp_td_sql(td, "SELECT count(*) FROM events"), 20);
}

/* Many short jobs through pulls and outcome batches back to back: every
 * row runs once and goes, nothing stays leased, and no pull's rows are
 * lost between the thread and the loop (ASan's leak check at the exit and
 * the ledger's distinct entry ids say so). */
static void test_burst_of_many_jobs_runs_each_once(void **state)
{
    fp_td_t *td = *state;
    char led[4300], text[8192];
    ledger_line(td, led, sizeof led);
    snprintf(text, sizeof text, "%s[pool]\nchildren = 2\n", led);
    fp_td_config_sqlite(td, NULL, text);
    fp_td_sqlite_enqueue(td, "default", 20000, "{\"type\":\"noop\",\"args\":{\"n\":%d%d}}", 0);
    fp_td_start(td, true);
    assert_int_equal(fp_td_wait(td, 120000), 0);
    assert_int_equal(fp_td_qsql(td, "SELECT count(*) FROM jobs"), 0);
    char path[4200];
    snprintf(path, sizeof path, "%s/ledger.db", td->dir);
    assert_int_equal(fp_td_sql_at(path, "SELECT count(DISTINCT entry_id) FROM jobs"), 20000);
    assert_int_equal(ledger(td, "ok"), 20000);
}

/* In the first n jobs served (the ledger's order), how many came from queue? */
static long long served_from(const fp_td_t *td, const char *queue, int n)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/ledger.db", td->dir);
    return fp_td_sql_at(path,
                        "SELECT count(*) FROM (SELECT queue FROM jobs ORDER BY id LIMIT %d)"
                        " WHERE queue = '%s'",
                        n, queue);
}

/* A backlog in three queues, one child taking one job at a time: strict
 * order serves them in turn, weighted order shares the pulls 5:3:1 (the
 * read planner's round-robin as per-queue caps). */
static void run_three_queues(fp_td_t *td, const char *order)
{
    char led[4300], text[8192];
    ledger_line(td, led, sizeof led);
    snprintf(text, sizeof text,
             "%s[queues]\nnames = [\"hi\", \"mid\", \"lo\"]\norder = \"%s\"\n%s"
             "[pool]\nchildren = 1\nprefetch = 0\n",
             led, order,
             strcmp(order, "weighted") == 0 ? "weights = { hi = 5, mid = 3, lo = 1 }\n" : "");
    fp_td_config_sqlite(td, NULL, text);
    const char *queues[] = {"hi", "mid", "lo"};
    for (size_t q = 0; q < 3; q++)
        fp_td_sqlite_enqueue(td, queues[q], 50, "{\"type\":\"noop\",\"args\":{\"n\":%d%d}}",
                             0);
    fp_td_start(td, true);
    assert_int_equal(fp_td_wait(td, 60000), 0);
    assert_int_equal(ledger(td, "ok"), 150);
}

static void test_strict_order_serves_queues_in_turn(void **state)
{
    fp_td_t *td = *state;
    run_three_queues(td, "strict");
    assert_int_equal(served_from(td, "hi", 50), 50);
    assert_int_equal(served_from(td, "mid", 100), 50);
}

static void test_weighted_order_shares_pulls(void **state)
{
    fp_td_t *td = *state;
    run_three_queues(td, "weighted");
    long long hi = served_from(td, "hi", 45), mid = served_from(td, "mid", 45),
              lo = served_from(td, "lo", 45);
    if (hi < 24 || hi > 26 || mid < 14 || mid > 16 || lo < 4 || lo > 6)
        fail_msg("first 45 jobs served: hi %lld, mid %lld, lo %lld (want about 25, 15, 5)", hi,
                 mid, lo);
}

static void test_term_puts_unstarted_rows_back(void **state)
{
    fp_td_t *td = *state;
    start(td, "[pool]\nchildren = 1\nprefetch = 8\n");
    fp_td_sqlite_enqueue(td, "default", 20, "{\"type\":\"sleep\",\"args\":{\"ms\":300,\"n\":%d%d}}",
                         0);
    fp_td_wait_held(td, 9); /* one running, eight waiting in the supervisor */
    stop(td);
    long long done = ledger(td, "ok");
    assert_int_equal(fp_td_qsql(td, "SELECT count(*) FROM jobs WHERE owner IS NOT NULL"), 0);
    assert_int_equal(fp_td_qsql(td, "SELECT count(*) FROM jobs") + done, 20);
    assert_true(done < 20);
}

static void test_sigkill_then_restart_reruns_only_what_was_in_flight(void **state)
{
    fp_td_t *td = *state;
    start(td, "[pool]\nchildren = 2\nprefetch = 0\n"
              "[recovery]\nvisibility_timeout = \"1s\"\nclaim_interval = \"100ms\"\n");
    fp_td_sqlite_enqueue(td, "default", 10, EVENT_JOB, 0);
    long long ten = 10, zero = 0;
    fp_td_wait_until(td, fp_td_events_at_least, &ten, 60000, "the first jobs");
    fp_td_wait_until(td, fp_td_qjobs_are, &zero, 60000, "their rows gone");
    fp_td_sqlite_enqueue(td, "default", 2, "{\"type\":\"sleep\",\"args\":{\"ms\":1500,\"n\":%d%d}}",
                         0);
    fp_td_wait_held(td, 2);
    fp_td_signal(td, SIGKILL);
    fp_td_wait(td, 60000);
    assert_int_equal(fp_td_qsql(td, "SELECT count(*) FROM jobs WHERE owner = 'test-consumer'"),
                     2);
    fp_td_start_ready(td, true); /* its own rows come back at its first pull */
    fp_td_wait_until(td, fp_td_qjobs_are, &zero, 60000, "the two in flight run again");
    stop(td);
    assert_int_equal(fp_td_sql(td, "SELECT count(*) FROM events"), 10);
    char path[4200];
    snprintf(path, sizeof path, "%s/ledger.db", td->dir);
    assert_int_equal(
        fp_td_sql_at(path, "SELECT count(*) FROM jobs WHERE type = 'sleep' AND outcome = 'ok'"),
        2);
}

static void test_two_daemons_share_one_file(void **state)
{
    fp_td_t *td = *state;
    start(td, "[pool]\nchildren = 2\n");
    fp_td_t twin;
    fp_td_twin(td, &twin, "second-consumer");
    fp_td_start_ready(&twin, true);
    fp_td_sqlite_enqueue(td, "default", 400, EVENT_JOB, 0);
    long long all = 400, zero = 0;
    fp_td_wait_until(td, fp_td_events_at_least, &all, 60000, "every job recorded");
    fp_td_wait_until(td, fp_td_qjobs_are, &zero, 60000, "every row settled");
    fp_td_signal(&twin, SIGTERM);
    assert_int_equal(fp_td_wait(&twin, 60000), 0);
    stop(td);
    assert_int_equal(fp_td_sql(td, "SELECT count(*) FROM events"), 400);
    assert_int_equal(fp_td_sql(td, "SELECT count(DISTINCT object_id) FROM events"), 400);
    fp_th_assert_no_sanitizer_report(twin.log);
}

/* Jobs that run longer than the lease (1 s): renewals keep them this
 * daemon's, so the other daemon on the file, polling for expired leases
 * every 100 ms, never takes one over: each runs exactly once. */
static void test_renewed_leases_are_not_taken_over(void **state)
{
    fp_td_t *td = *state;
    start(td, "[pool]\nchildren = 2\nprefetch = 0\n"
              "[recovery]\nvisibility_timeout = \"1s\"\nclaim_interval = \"100ms\"\n");
    fp_td_t twin;
    fp_td_twin(td, &twin, "second-consumer");
    fp_td_start_ready(&twin, true);
    fp_td_sqlite_enqueue(td, "default", 4, "{\"type\":\"sleep\",\"args\":{\"ms\":2500,\"n\":%d%d}}",
                         0);
    long long zero = 0, four = 4;
    fp_td_wait_until(td, fp_td_qjobs_are, &zero, 60000, "the long jobs settled");
    fp_td_wait_until(td, ledger_ok_at_least, &four, 60000, "their ledger rows");
    fp_td_signal(&twin, SIGTERM);
    assert_int_equal(fp_td_wait(&twin, 60000), 0);
    stop(td);
    char path[4200];
    snprintf(path, sizeof path, "%s/ledger.db", td->dir);
    assert_int_equal(fp_td_sql_at(path, "SELECT count(*) FROM jobs"), 4);
    assert_int_equal(fp_td_sql_at(path, "SELECT count(DISTINCT entry_id) FROM jobs"), 4);
    fp_th_assert_no_sanitizer_report(twin.log);
}

static void test_same_name_on_one_file_is_refused(void **state)
{
    fp_td_t *td = *state;
    start(td, NULL);
    fp_td_t twin;
    fp_td_twin(td, &twin, NULL);
    fp_td_start(&twin, false);
    assert_int_equal(fp_td_wait(&twin, 60000), 78);
    assert_true(fp_td_log_count(&twin, "daemon.name \"test-consumer\" is in use") > 0);
    stop(td);
}

/* Another process holds the file's write lock past the busy timeout (5 s):
 * the daemon says it is not ready and why, keeps answering, and once the
 * lock goes it runs what that process added; nothing is lost. */
static void test_a_held_lock_makes_it_not_ready_then_it_recovers(void **state)
{
    fp_td_t *td = *state;
    start(td, "[pool]\nchildren = 1\n");
    char db_path[4200];
    fp_td_queue_path(td, db_path, sizeof db_path);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000); /* the daemon's own short transactions come first */
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO jobs (queue, payload, avail_at, owner, deliveries,"
                                  " enqueued_at) VALUES ('default', '{\"type\":\"noop\"}', 0,"
                                  " NULL, 0, 0)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    fp_td_ready_t down = {td->health_port, 503}, up = {td->health_port, 200};
    fp_td_wait_until(td, fp_td_readyz_is, &down, 60000, "not ready while the lock is held");
    fp_td_page_t why = {"/readyz", "database is locked"};
    assert_true(fp_td_page_has(td, &why)); /* stays down until a write succeeds */
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    fp_td_wait_until(td, fp_td_readyz_is, &up, 60000, "ready again");
    long long zero = 0, one = 1;
    fp_td_wait_until(td, fp_td_qjobs_are, &zero, 60000, "the job added under the lock run");
    fp_td_wait_until(td, ledger_ok_at_least, &one, 60000, "its ledger row");
    stop(td);
}

static void test_killed_child_gets_its_job_retried(void **state)
{
    fp_td_t *td = *state;
    start(td, FAST_RETRY "max_attempts = 25\n[pool]\nchildren = 2\n");
    fp_td_sqlite_enqueue(td, "default", 20,
                         "{\"type\":\"crash\",\"args\":{\"percent\":50,\"n\":%d%d}}", 0);
    long long zero = 0, twenty = 20;
    fp_td_wait_until(td, fp_td_qjobs_are, &zero, 60000, "every row settled");
    fp_td_wait_until(td, ledger_ok_at_least, &twenty, 60000, "every job ok in the ledger");
    stop(td);
    assert_int_equal(fp_td_qsql(td, "SELECT count(*) FROM dead"), 0);
    assert_int_equal(ledger(td, "ok"), 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_jobs_run_and_their_rows_go, fp_td_setup_sqlite,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_failing_job_retries_then_goes_dead,
                                        fp_td_setup_sqlite, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_delayed_job_waits_for_its_time, fp_td_setup_sqlite,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_burst_waits_for_its_own_retries,
                                        fp_td_setup_sqlite, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_burst_of_many_jobs_runs_each_once,
                                        fp_td_setup_sqlite, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_strict_order_serves_queues_in_turn,
                                        fp_td_setup_sqlite, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_weighted_order_shares_pulls, fp_td_setup_sqlite,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_term_puts_unstarted_rows_back, fp_td_setup_sqlite,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_then_restart_reruns_only_what_was_in_flight,
                                        fp_td_setup_sqlite, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_two_daemons_share_one_file, fp_td_setup_sqlite,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_renewed_leases_are_not_taken_over,
                                        fp_td_setup_sqlite, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_same_name_on_one_file_is_refused,
                                        fp_td_setup_sqlite, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_a_held_lock_makes_it_not_ready_then_it_recovers,
                                        fp_td_setup_sqlite, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_killed_child_gets_its_job_retried,
                                        fp_td_setup_sqlite, fp_td_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
