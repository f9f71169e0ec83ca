/* test_it_faults.c: the fault-injection suite. Each test enqueues jobs with
 * unique ids whose handler records the id (record_event, object_id = id),
 * injects a fault, lets the daemon finish, and asserts: every id processed
 * at least once; duplicates only for jobs that were running when the fault
 * hit; nothing left pending; the daemon exited or kept running as it should. */
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
#include "harness.h"

/* Fast retries and many attempts: a job hit by several faults still ends
 * done, and the test does not wait for production back-offs. */
#define FAST_RETRY "[retry]\nbackoff_base = \"10ms\"\nbackoff_max = \"50ms\"\nmax_attempts = 25\n"
#define EVENT_JOB                                                                          \
    "{\"type\":\"record_event\",\"args\":{\"action\":\"fault\",\"object_id\":\"id-%d\","   \
    "\"user_id\":\"u%d\"}}"

static long long distinct_ids(const fp_td_t *td)
{
    return fp_td_sql(td, "SELECT count(DISTINCT object_id) FROM events");
}

static long long rows(const fp_td_t *td)
{
    return fp_td_sql(td, "SELECT count(*) FROM events");
}

typedef struct want_s {
    long long ids;
} want_t;

/* Every id recorded and nothing left anywhere in Redis. */
static bool all_done(fp_td_t *td, void *arg)
{
    want_t *w = arg;
    return fp_td_unsettled(td) == 0 && distinct_ids(td) == w->ids;
}

static bool events_at_least(fp_td_t *td, void *arg)
{
    return rows(td) >= *(long long *)arg;
}

/* The daemon's children, from /proc (the supervisor is their parent). */
static int children_of(int pid, int *out, int max)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", pid, pid);
    char *text = fp_th_read_file(path, NULL);
    int n = 0;
    for (char *p = text, *end; p != NULL && n < max; p = end) {
        long v = strtol(p, &end, 10);
        if (end == p)
            break;
        out[n++] = (int)v;
    }
    free(text);
    return n;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* SIGKILL a random child every 50 ms for 2 s: each killed job is a failed
 * attempt, retried; every job ends done; duplicates at most one per kill. */
static void test_sigkill_random_children_repeatedly(void **state)
{
    fp_td_t *td = *state;
    const long long total = 3000;
    fp_td_config(td, NULL, "[pool]\nchildren = 4\n" FAST_RETRY);
    fp_td_enqueue(td, (int)total, EVENT_JOB);
    fp_td_start_ready(td, false);
    long long started = 50;
    fp_td_wait_until(td, events_at_least, &started, 60000, "the first jobs");
    int kills = 0;
    srand(42);
    for (int round = 0; round < 40; round++) {
        int kids[64];
        int n = children_of(td->pid, kids, 64);
        if (n > 0 && kill(kids[rand() % n], SIGKILL) == 0)
            kills++;
        sleep_ms(50);
    }
    assert_true(kills > 10);
    want_t want = {total};
    fp_td_wait_until(td, all_done, &want, 180000, "every id");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_true(rows(td) - total <= kills);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
}

/* SIGKILL the supervisor mid-run; its children follow it (PDEATHSIG); a
 * restart with the same daemon.name re-reads its own pending entries first. */
static void test_sigkill_supervisor_then_restart(void **state)
{
    fp_td_t *td = *state;
    const long long total = 3000;
    fp_td_config(td, NULL, "[pool]\nchildren = 4\nprefetch = 4\n" FAST_RETRY);
    fp_td_enqueue(td, (int)total, EVENT_JOB);
    fp_td_start_ready(td, false);
    long long started = 500;
    fp_td_wait_until(td, events_at_least, &started, 60000, "500 jobs");
    assert_int_equal(kill(td->pid, SIGKILL), 0);
    assert_int_equal(fp_td_wait(td, 30000), 128 + SIGKILL);
    /* Pending now: the jobs it held (children + prefetch = 8) and the
     * finished ones whose outcome had not reached Redis yet (at most as many). */
    long long orphaned = fp_td_pending(td);
    if (orphaned > 16)
        fail_msg("%lld entries pending after the kill", orphaned);

    fp_td_start(td, true);
    assert_int_equal(fp_td_wait(td, 120000), 0);
    want_t want = {total};
    assert_true(all_done(td, &want));
    /* Only jobs pending at the kill may have run twice. */
    assert_true(rows(td) - total <= orphaned);
}

/* redis-server killed and restarted (appendonly yes) mid-run: running jobs
 * finish, their outcomes wait and are written after reconnecting. */
static void test_redis_restart_mid_run(void **state)
{
    fp_td_t *td = *state;
    const long long total = 3000;
    fp_td_config(td, NULL, "[pool]\nchildren = 4\n" FAST_RETRY);
    fp_td_enqueue(td, (int)total, EVENT_JOB);
    fp_td_start_ready(td, false);
    long long started = 500;
    fp_td_wait_until(td, events_at_least, &started, 60000, "500 jobs");
    assert_int_equal(fp_th_redis_shutdown(&td->redis), 0);
    fp_td_wait_until(td, fp_td_log_has, "lost", 30000, "the daemon to notice");
    sleep_ms(300);
    assert_int_equal(fp_th_redis_resume(&td->redis), 0);
    want_t want = {total};
    fp_td_wait_until(td, all_done, &want, 180000, "every id");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_true(rows(td) - total <= 8);
}

/* A job that segfaults its child every time ends in dead after max_attempts;
 * the rest of the queue flows around it. */
static void test_poison_job_ends_dead(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL,
                 "[pool]\nchildren = 2\n"
                 "[retry]\nbackoff_base = \"10ms\"\nbackoff_max = \"20ms\"\nmax_attempts = 3\n");
    fp_td_enqueue(td, 250, EVENT_JOB);
    fp_td_enqueue(td, 1, "{\"type\":\"crash\",\"id\":\"poison-%d%d\"}");
    fp_td_enqueue(td, 250, "{\"type\":\"record_event\",\"args\":{\"object_id\":\"late-%d\",\"user_id\":\"u%d\"}}");
    fp_td_start_ready(td, false);
    want_t want = {500};
    fp_td_wait_until(td, all_done, &want, 120000, "every good id");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 1);
    assert_true(fp_td_dead_has(td, "error", "child crashed: killed by signal 11"));
    assert_true(fp_td_dead_has(td, "attempts", "3"));
    assert_true(fp_td_dead_has(td, "job", "poison-00"));
}

static bool finished_jobs_at_least(fp_td_t *td, void *arg)
{
    return fp_td_unsettled(td) == 0 && fp_td_log_count(td, "retrying") >= *(long long *)arg;
}

/* A handler that fails half the time: every job succeeds eventually. */
static void test_flaky_handler_converges(void **state)
{
    fp_td_t *td = *state;
    const int total = 500;
    fp_td_config(td, NULL, "[pool]\nchildren = 4\n" FAST_RETRY);
    fp_td_enqueue(td, total, "{\"type\":\"fail\",\"args\":{\"percent\":50,\"message\":\"flaky %d %d\"}}");
    fp_td_start_ready(td, false);
    long long some = 100;
    fp_td_wait_until(td, finished_jobs_at_least, &some, 120000, "the retries to converge");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_int_equal(fp_td_jobs_done(td), total);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
}

/* 1,000 malformed payloads mixed into 10,000 good ones. */
static void test_malformed_payloads_mixed_in(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, "[pool]\nchildren = 4\n");
    for (int i = 0; i < 10; i++) {
        fp_td_enqueue(td, 1000, EVENT_JOB);
        fp_td_enqueue(td, 25, "not json %d %d");
        fp_td_enqueue(td, 25, "{\"no_type\":%d%d}");
        fp_td_enqueue(td, 25, "{\"type\":\"missing_handler_%d_%d\"}");
        fp_td_enqueue(td, 25, "[%d,%d]");
    }
    fp_td_start(td, true);
    assert_int_equal(fp_td_wait(td, 180000), 0);
    assert_int_equal(rows(td), 10000);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 1000);
    assert_int_equal(fp_td_xlen(td, FP_TD_JOBS), 0);
    assert_int_equal(fp_td_pending(td), 0);
}

/* Redis down at start: the daemon keeps trying and works once it is up. */
static void test_redis_down_at_start(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, "[pool]\nchildren = 2\n");
    fp_td_enqueue(td, 100, EVENT_JOB);
    assert_int_equal(fp_th_redis_shutdown(&td->redis), 0);
    fp_td_start_ready(td, false);
    fp_td_wait_until(td, fp_td_log_has, "Redis", 30000, "a word about Redis");
    sleep_ms(500);
    assert_int_equal(fp_th_redis_resume(&td->redis), 0);
    want_t want = {100};
    fp_td_wait_until(td, all_done, &want, 60000, "every id");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
}

/* TERM while Redis is down: shutdown stays bounded by shutdown_timeout. */
static void test_shutdown_is_bounded_when_redis_is_down(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, "shutdown_timeout = \"2s\"\n", "[pool]\nchildren = 2\n");
    fp_td_start_ready(td, true);
    fp_td_enqueue(td, 2, "{\"type\":\"sleep\",\"args\":{\"ms\":500},\"id\":\"d%d-%d\"}");
    assert_int_equal(fp_th_redis_shutdown(&td->redis), 0);
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 20000), 0);
    assert_int_equal(fp_th_redis_resume(&td->redis), 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fp_td_setup, fp_td_teardown)
#define T_AOF(name) cmocka_unit_test_setup_teardown(name, fp_td_setup_aof, fp_td_teardown)
    const struct CMUnitTest tests[] = {
        T(test_sigkill_random_children_repeatedly),
        T(test_sigkill_supervisor_then_restart),
        T_AOF(test_redis_restart_mid_run),
        T(test_poison_job_ends_dead),
        T(test_flaky_handler_converges),
        T(test_malformed_payloads_mixed_in),
        T_AOF(test_redis_down_at_start),
        T_AOF(test_shutdown_is_bounded_when_redis_is_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
