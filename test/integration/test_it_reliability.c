/* test_it_reliability.c: what happens to a job when things go wrong — a
 * failing handler, a crashing child, a job that overruns, children recycled
 * by limits — and what each signal does to running jobs. Real redis-server,
 * real forkpool binary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"

/* The only member of the delayed set, as text (free()). */
static char *delayed_member(fp_td_t *td)
{
    redisReply *r = fp_th_redis_cmd(&td->redis, "ZRANGE %s 0 -1", FP_TD_DELAYED);
    assert_non_null(r);
    assert_int_equal(r->elements, 1);
    char *text = strdup(r->element[0]->str);
    freeReplyObject(r);
    return text;
}

/* Retries wait an hour in the delayed set, which --burst would wait out. */
static void run_burst(fp_td_t *td)
{
    fp_td_run_until_settled(td);
}

static void test_permanent_failure_goes_dead_at_once(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, "[pool]\nchildren = 1\n");
    fp_td_enqueue(td, 1, "{\"type\":\"fail\",\"args\":{\"message\":\"bad input %d%d\",\"retry\":false}}");
    run_burst(td);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 1);
    assert_true(fp_td_dead_has(td, "error", "bad input 00"));
    assert_true(fp_td_dead_has(td, "attempts", "1"));
    assert_true(fp_td_dead_has(td, "consumer", "test-consumer"));
    assert_int_equal(fp_td_zcard(td, FP_TD_DELAYED), 0);
    assert_int_equal(fp_td_pending(td), 0);
}

static void test_retryable_failure_waits_in_delayed(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, "[pool]\nchildren = 1\n[retry]\nbackoff_base = \"1h\"\nbackoff_max = \"2h\"\n");
    fp_td_enqueue(td, 1, "{\"type\":\"fail\",\"args\":{\"message\":\"flaky %d%d\"}}");
    run_burst(td);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
    assert_int_equal(fp_td_xlen(td, FP_TD_JOBS), 0);
    char *member = delayed_member(td);
    assert_non_null(strstr(member, "\"attempt\":1"));
    assert_non_null(strstr(member, "\"last_error\":\"flaky 00\""));
    assert_non_null(strstr(member, "\"id\":\""));
    free(member);
    /* Full jitter: due somewhere between now and now + backoff_base (1h). */
    long long now = fp_th_unix_ms();
    assert_int_equal(fp_th_redis_int(&td->redis, "ZCOUNT %s %lld %lld", FP_TD_DELAYED,
                                     now - 60000, now + 3600000), 1);
}

static void test_last_attempt_goes_dead(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, "[pool]\nchildren = 1\n");
    fp_td_enqueue(td, 1, "{\"type\":\"fail\",\"max_attempts\":3,\"attempt\":2,\"id\":\"j%d%d\"}");
    fp_td_enqueue(td, 1, "{\"type\":\"fail\",\"max_attempts\":1,\"id\":\"k%d%d\"}");
    run_burst(td);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 2);
    assert_true(fp_td_dead_has(td, "attempts", "3"));
    assert_int_equal(fp_td_zcard(td, FP_TD_DELAYED), 0);
}

/* A crash is a failed attempt of the job (retried at once under the normal
 * rules), the child is replaced, and the rest of the queue flows. */
static void test_crash_is_a_failed_attempt(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, "log_level = \"debug\"\n",
                 "[pool]\nchildren = 2\n[retry]\nbackoff_base = \"1h\"\nbackoff_max = \"2h\"\n");
    fp_td_enqueue(td, 10, "{\"type\":\"noop\",\"id\":\"a%d-%d\"}");
    fp_td_enqueue(td, 1, "{\"type\":\"crash\",\"id\":\"poison%d%d\"}");
    fp_td_enqueue(td, 10, "{\"type\":\"noop\",\"id\":\"b%d-%d\"}");
    run_burst(td);
    assert_int_equal(fp_td_jobs_done(td), 20);
    char *member = delayed_member(td);
    assert_non_null(strstr(member, "child crashed: killed by signal 11"));
    assert_non_null(strstr(member, "poison00"));
    free(member);
    assert_int_equal(fp_td_log_count(td, "spawned (pid"), 3);
    assert_int_equal(fp_td_pending(td), 0);
}

static void test_timeout_fails_the_attempt_and_replaces_the_child(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, "log_level = \"debug\"\n",
                 "[pool]\nchildren = 1\nkill_grace = \"200ms\"\n"
                 "[retry]\nbackoff_base = \"1h\"\nbackoff_max = \"2h\"\n");
    fp_td_enqueue(td, 1, "{\"type\":\"sleep\",\"args\":{\"ms\":60000},\"timeout\":\"300ms\",\"id\":\"t%d%d\"}");
    fp_td_enqueue(td, 5, "{\"type\":\"noop\",\"id\":\"after%d-%d\"}");
    run_burst(td);
    assert_int_equal(fp_td_jobs_done(td), 5);
    char *member = delayed_member(td);
    assert_non_null(strstr(member, "timeout: still running after 300 ms"));
    free(member);
    assert_int_equal(fp_td_log_count(td, "timed out; sending SIGTERM"), 1);
    assert_int_equal(fp_td_log_count(td, "spawned (pid"), 2);
}

static int first_child_pid(const fp_td_t *td)
{
    char *text = fp_th_read_file(td->log, NULL);
    const char *hit = text ? strstr(text, "spawned (pid ") : NULL;
    int pid = hit ? atoi(hit + strlen("spawned (pid ")) : 0;
    free(text);
    return pid;
}

/* A stopped child ignores SIGTERM; after kill_grace it gets SIGKILL. */
static void test_stopped_child_is_killed_after_grace(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, "log_level = \"debug\"\n",
                 "[pool]\nchildren = 1\nkill_grace = \"300ms\"\n"
                 "[retry]\nbackoff_base = \"1h\"\nbackoff_max = \"2h\"\n");
    fp_td_start_ready(td, true);
    fp_td_enqueue(td, 1, "{\"type\":\"sleep\",\"args\":{\"ms\":2000},\"timeout\":\"1s\",\"id\":\"s%d%d\"}");
    long long one = 1;
    fp_td_wait_until(td, fp_td_pending_is, &one, 30000, "the job to start");
    int child = first_child_pid(td);
    assert_true(child > 0);
    assert_int_equal(kill(child, SIGSTOP), 0);
    /* Only the log tells that the child ignored SIGTERM and got SIGKILL. */
    fp_td_wait_until(td, fp_td_log_has, "ignored SIGTERM", 30000, "the SIGKILL");
    fp_td_wait_until(td, fp_td_delayed_is, &one, 30000, "the retry");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 60000), 0);
    assert_int_equal(fp_td_log_count(td, "ignored SIGTERM"), 1);
    char *member = delayed_member(td);
    assert_non_null(strstr(member, "timeout"));
    free(member);
}

static void test_recycling_by_job_count(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, "log_level = \"debug\"\n",
                 "[pool]\nchildren = 2\nmax_jobs_per_child = 10\nmax_jobs_jitter = 0\n");
    /* Jobs of 10 ms, not noop: a replacement waits for the one before it to
     * exit, and 200 noop jobs can all be done within two such rounds on a
     * loaded machine, which made the count of replacements a race. */
    fp_td_enqueue(td, 200, "{\"type\":\"sleep\",\"args\":{\"ms\":10},\"id\":\"r%d-%d\"}");
    run_burst(td);
    assert_int_equal(fp_td_jobs_done(td), 200);
    fp_td_assert_recycled(td, 2, 3);
}

static void test_recycling_by_memory(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, "log_level = \"debug\"\n", "[pool]\nchildren = 2\nmax_memory_per_child = \"1KB\"\n");
    fp_td_enqueue(td, 100, "{\"type\":\"sleep\",\"args\":{\"ms\":10},\"id\":\"m%d-%d\"}");
    run_burst(td);
    assert_int_equal(fp_td_jobs_done(td), 100);
    /* Every job is over the limit, but replacements go one at a time, so how
     * many happen depends on speed: at least a couple. */
    long long retired = fp_td_log_count(td, "is replaced after max_memory_per_child");
    assert_true(retired >= 2);
    assert_int_equal(fp_td_log_count(td, "spawned (pid"), 2 + retired);
}

/* TSTP: no more pulls; the daemon stays up until TERM. */
static void test_tstp_goes_quiet(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, "[pool]\nchildren = 2\n");
    fp_td_start_ready(td, true);
    fp_td_signal(td, SIGTSTP);
    fp_td_page_t quiet = {"/stats", "\"state\":\"quiet\""};
    fp_td_wait_until(td, fp_td_page_has, &quiet, 30000, "quiet");
    fp_td_enqueue(td, 10, "{\"type\":\"noop\",\"id\":\"q%d-%d\"}");
    /* Proving that nothing happens takes time with nothing to wait for: a
     * daemon that still pulled would take these within milliseconds. */
    usleep(500 * 1000);
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_int_equal(fp_td_jobs_done(td), 0);
    assert_int_equal(fp_td_xlen(td, FP_TD_JOBS), 10);
    assert_int_equal(fp_td_pending(td), 0);
}

/* Ctrl-C or dumb-init signal the whole process group; the children live in
 * their own groups, so running jobs finish under the supervisor's drain. */
static void test_term_to_the_process_group_spares_running_jobs(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, "[pool]\nchildren = 2\n");
    fp_td_start_ready(td, true);
    fp_td_enqueue(td, 2, "{\"type\":\"sleep\",\"args\":{\"ms\":1500},\"id\":\"g%d-%d\"}");
    fp_td_wait_held(td, 2);
    assert_int_equal(kill(-td->pid, SIGTERM), 0);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_int_equal(fp_td_jobs_done(td), 2);
    assert_int_equal(fp_td_log_count(td, "killed by signal"), 0);
    assert_int_equal(fp_td_pending(td), 0);
    assert_int_equal(fp_td_xlen(td, FP_TD_JOBS), 0);
}

/* A second TERM (or QUIT) stops at once; the running jobs stay pending for
 * recovery instead of being lost or finished. */
static void stop_at_once(fp_td_t *td, int first, int second)
{
    fp_td_config(td, NULL, "[pool]\nchildren = 2\n");
    fp_td_start_ready(td, true);
    fp_td_enqueue(td, 2, "{\"type\":\"sleep\",\"args\":{\"ms\":60000},\"id\":\"h%d-%d\"}");
    fp_td_wait_held(td, 2);
    fp_td_signal(td, first);
    if (second != 0) {
        fp_td_page_t draining = {"/stats", "\"state\":\"draining\""};
        fp_td_wait_until(td, fp_td_page_has, &draining, 30000, "the drain");
        fp_td_signal(td, second);
    }
    assert_int_equal(fp_td_wait(td, 15000), 0);
    assert_int_equal(fp_td_log_count(td, "stopping at once"), 1);
    assert_int_equal(fp_td_pending(td), 2);
}

static void test_second_term_stops_at_once(void **state)
{
    stop_at_once(*state, SIGTERM, SIGTERM);
}

static void test_quit_stops_at_once(void **state)
{
    stop_at_once(*state, SIGQUIT, 0);
}

static redisReply *cmd_ok(fp_td_t *td, redisReply *r)
{
    (void)td;
    assert_non_null(r);
    assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
    return r;
}

/* A job whose holders keep dying (here: a ghost consumer that took it six
 * times) is caught by its delivery count when a live daemon claims it. */
static void test_poison_by_deliveries_goes_dead(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL,
                 "[pool]\nchildren = 1\n[retry]\nmax_attempts = 5\n"
                 "[recovery]\nvisibility_timeout = \"1s\"\nclaim_interval = \"100ms\"\n");
    freeReplyObject(cmd_ok(td, fp_th_redis_cmd(&td->redis, "XGROUP CREATE %s forkpool 0 MKSTREAM",
                                               FP_TD_JOBS)));
    fp_td_enqueue(td, 1, "{\"type\":\"noop\",\"id\":\"ghost-%d%d\"}");
    redisReply *r = cmd_ok(td, fp_th_redis_cmd(&td->redis,
                                               "XREADGROUP GROUP forkpool ghost COUNT 1 STREAMS %s >",
                                               FP_TD_JOBS));
    char id[64];
    snprintf(id, sizeof id, "%s", r->element[0]->element[1]->element[0]->element[0]->str);
    freeReplyObject(r);
    for (int i = 0; i < 5; i++)
        freeReplyObject(cmd_ok(td, fp_th_redis_cmd(&td->redis, "XCLAIM %s forkpool ghost 0 %s",
                                                   FP_TD_JOBS, id)));
    fp_td_start_ready(td, true);
    long long one = 1;
    fp_td_wait_until(td, fp_td_dead_is, &one, 30000, "the dead entry");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_true(fp_td_dead_has(td, "error", "delivered 7 times without an outcome"));
    assert_int_equal(fp_td_jobs_done(td), 0);
    assert_int_equal(fp_th_redis_int(&td->redis, "XLEN %s", FP_TD_JOBS), 0);
}

/* Claim renewal: a 3 s job with a 1 s visibility timeout and a second daemon
 * sweeping every 100 ms runs exactly once. */
static void test_long_job_is_not_taken_over(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL,
                 "[pool]\nchildren = 1\n"
                 "[recovery]\nvisibility_timeout = \"1s\"\nclaim_interval = \"100ms\"\n");
    fp_td_start_ready(td, true);
    fp_td_enqueue(td, 1, "{\"type\":\"sleep\",\"args\":{\"ms\":3000},\"id\":\"long-%d%d\"}");
    long long one = 1;
    fp_td_wait_until(td, fp_td_pending_is, &one, 30000, "the job to start");

    /* The second daemon: same Redis and queue, another consumer name. */
    fp_td_t b;
    fp_td_twin(td, &b, "second");
    fp_td_start(&b, false);

    long long zero = 0;
    fp_td_wait_until(td, fp_td_pending_is, &zero, 30000, "the job to finish");
    fp_td_signal(&b, SIGTERM);
    assert_int_equal(fp_td_wait(&b, 30000), 0);
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    fp_th_assert_no_sanitizer_report(b.log);
    assert_int_equal(fp_td_jobs_done(&b), 0);
    assert_int_equal(fp_td_jobs_done(td), 1);
}

/* A child that cannot start (its handler's database cannot be opened) is
 * restarted with growing delay, not in a tight loop, and the daemon stays up. */
static void test_crash_loop_backs_off(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, "[pool]\nchildren = 1\n");
    char db[4200], missing[4300];
    snprintf(db, sizeof db, "database = \"%s\"", td->events_db);
    snprintf(missing, sizeof missing, "database = \"%s/no/such/dir/x.db\"", td->dir);
    fp_td_config_replace(td, db, missing);
    fp_td_start(td, false);
    /* The delays are the behaviour, and only the log tells them. */
    fp_td_wait_until(td, fp_td_log_has, "next start in 400 ms", 30000, "three restarts");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_int_equal(fp_td_log_count(td, "next start in 100 ms"), 1);
    assert_int_equal(fp_td_log_count(td, "next start in 200 ms"), 1);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fp_td_setup, fp_td_teardown)
    const struct CMUnitTest tests[] = {
        T(test_permanent_failure_goes_dead_at_once),
        T(test_retryable_failure_waits_in_delayed),
        T(test_last_attempt_goes_dead),
        T(test_crash_is_a_failed_attempt),
        T(test_timeout_fails_the_attempt_and_replaces_the_child),
        T(test_stopped_child_is_killed_after_grace),
        T(test_recycling_by_job_count),
        T(test_recycling_by_memory),
        T(test_tstp_goes_quiet),
        T(test_term_to_the_process_group_spares_running_jobs),
        T(test_second_term_stops_at_once),
        T(test_quit_stops_at_once),
        T(test_poison_by_deliveries_goes_dead),
        T(test_long_job_is_not_taken_over),
        T(test_crash_loop_backs_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
