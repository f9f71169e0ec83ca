/* test_it_ops.c: what an operator does to a running daemon — HUP with a
 * changed pool, HUP with a broken file, TTIN/TTOU, USR1 after logrotate, the
 * pidfile — against a real redis-server and the real binary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"

#define RELOAD_RESTARTS "forkpool_child_restarts_total{reason=\"reload\"}"

/* HUP with pool.children 2 → 3: the pool grows and every old child is
 * replaced, one at a time; a job running meanwhile finishes normally. */
static void test_hup_changes_the_pool_without_failing_jobs(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, "[pool]\nchildren = 2\n");
    fp_td_start_ready(td, true);
    fp_td_enqueue(td, 1, "{\"type\":\"sleep\",\"args\":{\"ms\":1000},\"id\":\"running%d%d\"}");
    long long one = 1;
    fp_td_wait_until(td, fp_td_pending_is, &one, 30000, "the job to start");
    fp_td_config(td, NULL, "[pool]\nchildren = 3\n");
    fp_td_signal(td, SIGHUP);
    long long zero = 0;
    fp_td_wait_until(td, fp_td_pending_is, &zero, 30000, "the running job to finish");
    /* Both children of the first configuration were replaced. */
    fp_td_wait_until(td, fp_td_metric_is, &(fp_td_num_t){RELOAD_RESTARTS, 2}, 30000,
                     "both old children replaced");
    int three = 3;
    fp_td_wait_until(td, fp_td_children_are, &three, 30000, "three children");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_int_equal(fp_td_log_count(td, "is replaced after a reload"), 2);
    assert_int_equal(fp_td_jobs_done(td), 1);
    assert_int_equal(fp_td_log_count(td, "killed by signal"), 0);
    assert_int_equal(fp_td_xlen(td, FP_TD_DELAYED), 0);
}

/* A broken file on HUP is reported and the daemon keeps its configuration. */
static void test_hup_with_a_broken_file_keeps_running(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, "[pool]\nchildren = 2\n");
    fp_td_start_ready(td, true);
    fp_td_config(td, NULL, "[pool]\nchildren = \"many\"\n");
    fp_td_signal(td, SIGHUP);
    /* The operator being told is the behaviour here (a failed parse is not
     * counted in forkpool_reload_failures_total: nothing was undone). */
    fp_td_wait_until(td, fp_td_log_has, "reload failed, keeping the current configuration", 30000,
                     "the reload error");
    assert_int_equal(fp_td_log_count(td, "children must be an integer"), 1);
    fp_td_enqueue(td, 20, "{\"type\":\"noop\",\"id\":\"after%d-%d\"}");
    fp_td_wait_until(td, fp_td_drained, NULL, 30000, "the jobs");
    /* Waited for, not sampled: /proc's children list is a snapshot that
     * the kernel documents as unreliable while the tree changes; the log
     * then proves no child died or was replaced meanwhile. */
    int two = 2;
    fp_td_wait_until(td, fp_td_children_are, &two, 30000, "two children");
    assert_int_equal(fp_td_log_count(td, "spawned"), 2);
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_int_equal(fp_td_jobs_done(td), 20);
}

static void test_ttin_and_ttou_resize_the_pool(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, "[pool]\nchildren = 2\n");
    fp_td_start_ready(td, true);
    fp_td_signal(td, SIGTTIN);
    int three = 3, one = 1;
    fp_td_wait_until(td, fp_td_children_are, &three, 30000, "three children");
    /* Signals of one kind coalesce: one at a time, each seen before the next. */
    int two = 2;
    fp_td_signal(td, SIGTTOU);
    fp_td_wait_until(td, fp_td_children_are, &two, 30000, "two children");
    fp_td_signal(td, SIGTTOU);
    fp_td_wait_until(td, fp_td_children_are, &one, 30000, "one child");
    /* Never below one: the pool does not change, so the only sign that the
     * signal was handled is the line telling the operator what it wants. */
    fp_td_signal(td, SIGTTOU);
    fp_td_wait_until(td, fp_td_log_has, "now wants 1 children", 30000, "the log line");
    fp_td_enqueue(td, 10, "{\"type\":\"noop\",\"id\":\"r%d-%d\"}");
    fp_td_wait_until(td, fp_td_drained, NULL, 30000, "the jobs");
    assert_true(fp_td_children_are(td, &one));
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_int_equal(fp_td_jobs_done(td), 10);
}

/* USR1 after logrotate moved the file: new lines go to a new file. */
static void test_usr1_reopens_the_log_file(void **state)
{
    fp_td_t *td = *state;
    char log_file[4200], rotated[4300], daemon_lines[4400];
    snprintf(log_file, sizeof log_file, "%s/daemon.log", td->dir);
    snprintf(rotated, sizeof rotated, "%s.1", log_file);
    snprintf(daemon_lines, sizeof daemon_lines, "log_file = \"%s\"\n", log_file);
    fp_td_config(td, daemon_lines, "[pool]\nchildren = 1\n");
    fp_td_start(td, false);
    /* Its name lease in Redis: the daemon is up and connected. */
    fp_td_wait_until(td, fp_td_redis_has, "fp:{default}:lease:test-consumer", 30000,
                     "the daemon's lease");
    assert_int_equal(rename(log_file, rotated), 0);
    fp_td_signal(td, SIGUSR1);
    /* The behaviour under test: lines written after USR1 go to a new file. */
    fp_td_wait_until(td, fp_td_file_has, &(fp_td_file_has_t){log_file, "log file reopened"},
                     30000, "the reopened log file");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    char *old = fp_th_read_file(rotated, NULL);
    char *cur = fp_th_read_file(log_file, NULL);
    assert_non_null(old);
    assert_non_null(cur);
    assert_non_null(strstr(old, "started:"));
    assert_null(strstr(old, "stopped:"));
    assert_non_null(strstr(cur, "log file reopened"));
    assert_non_null(strstr(cur, "stopped:"));
    free(old);
    free(cur);
}

static void test_pidfile_written_and_removed(void **state)
{
    fp_td_t *td = *state;
    char pidfile[4200], daemon_lines[4300];
    snprintf(pidfile, sizeof pidfile, "%s/forkpool.pid", td->dir);
    snprintf(daemon_lines, sizeof daemon_lines, "pidfile = \"%s\"\n", pidfile);
    fp_td_config(td, daemon_lines, "[pool]\nchildren = 1\n");
    fp_td_start_ready(td, true);
    char *text = fp_th_read_file(pidfile, NULL);
    assert_non_null(text);
    assert_int_equal(atoi(text), td->pid);
    free(text);
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_int_not_equal(access(pidfile, F_OK), 0);
}

static long long ledger_count(const char *path, const char *where)
{
    return fp_td_sql_at(path, "SELECT count(*) FROM jobs WHERE %s", where);
}

/* After a mixed run the ledger holds one row per outcome, with its fields. */
static void test_ledger_has_one_row_per_outcome(void **state)
{
    fp_td_t *td = *state;
    char ledger[4200], extra[4600];
    snprintf(ledger, sizeof ledger, "%s/ledger.db", td->dir);
    snprintf(extra, sizeof extra,
             "[pool]\nchildren = 2\n[ledger]\npath = \"%s\"\n"
             "[retry]\nbackoff_base = \"1h\"\nbackoff_max = \"2h\"\n",
             ledger);
    fp_td_config(td, NULL, extra);
    fp_td_enqueue(td, 40, "{\"type\":\"noop\",\"id\":\"ok-%d-%d\"}");
    fp_td_enqueue(td, 1, "{\"type\":\"fail\",\"args\":{\"message\":\"again %d%d\"}}");
    fp_td_enqueue(td, 1, "{\"type\":\"fail\",\"args\":{\"retry\":false},\"id\":\"perm%d%d\"}");
    fp_td_enqueue(td, 1, "{\"type\":\"crash\",\"id\":\"boom%d%d\"}");
    fp_td_enqueue(td, 1, "not json %d %d");
    fp_td_run_until_settled(td);
    assert_int_equal(ledger_count(ledger, "1"), 44);
    assert_int_equal(ledger_count(ledger, "outcome = 'ok' AND type = 'noop' AND job_id LIKE 'ok-%'"), 40);
    assert_int_equal(ledger_count(ledger, "outcome = 'retried' AND error = 'again 00'"), 1);
    assert_int_equal(ledger_count(ledger, "outcome = 'failed' AND job_id = 'perm00'"), 1);
    assert_int_equal(ledger_count(ledger, "outcome = 'crashed' AND error LIKE 'child crashed%'"), 1);
    assert_int_equal(ledger_count(ledger, "outcome = 'dead' AND error = 'payload is not JSON'"), 1);
    assert_int_equal(ledger_count(ledger, "outcome = 'ok' AND pid > 0 AND attempt = 1 AND "
                                          "started_at >= enqueued_at AND finished_at >= started_at"),
                     40);
}


/* daemon.user: the supervisor and every child run as that user. */
static void test_user_drops_privileges(void **state)
{
    fp_td_t *td = *state;
    if (getuid() != 0)
        skip();
    assert_int_equal(chmod(td->dir, 0777), 0);
    fp_td_config(td, "user = \"nobody\"\n", "[pool]\nchildren = 2\n");
    fp_td_start_ready(td, true);
    assert_int_equal(fp_th_proc_status(td->pid, "Uid:"), 65534);
    int kids[8];
    int n = fp_th_proc_children(td->pid, kids, 8);
    for (int i = 0; i < n; i++)
        assert_int_equal(fp_th_proc_status(kids[i], "Uid:"), 65534);
    assert_int_equal(n, 2);
    fp_td_enqueue(td, 10, "{\"type\":\"record_event\",\"args\":{\"object_id\":\"u%d\",\"user_id\":\"%d\"}}");
    fp_td_wait_until(td, fp_td_drained, NULL, 30000, "the jobs");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_int_equal(fp_td_jobs_done(td), 10);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fp_td_setup, fp_td_teardown)
    const struct CMUnitTest tests[] = {
        T(test_hup_changes_the_pool_without_failing_jobs),
        T(test_hup_with_a_broken_file_keeps_running),
        T(test_ttin_and_ttou_resize_the_pool),
        T(test_usr1_reopens_the_log_file),
        T(test_pidfile_written_and_removed),
        T(test_ledger_has_one_row_per_outcome),
        T(test_user_drops_privileges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
