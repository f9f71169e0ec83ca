/* test_it_faults.c: the fault-injection suite. Each test enqueues jobs with
 * unique ids whose handler records the id (record_event, object_id = id),
 * injects a fault, lets the daemon finish, and asserts: every id processed
 * at least once; duplicates only for jobs that were running when the fault
 * hit; nothing left pending; the daemon exited or kept running as it should. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "spans.h"

/* Fast retries and many attempts: a job hit by several faults still ends
 * done, and the test does not wait for production back-offs. */
#define FAST_RETRY "[retry]\nbackoff_base = \"10ms\"\nbackoff_max = \"50ms\"\nmax_attempts = 25\n"
#define EVENT_JOB                                                                          \
    "{\"type\":\"record_event\",\"args\":{\"action\":\"fault\",\"object_id\":\"id-%d\","   \
    "\"user_id\":\"u%d\"}}"

/* The chaos run's [[schedule]] records this id on each tick; the counts of
 * enqueued jobs leave it out. */
#define SCHEDULE_TICK_ID "scheduled-tick"

static long long distinct_ids(const fp_td_t *td)
{
    return fp_td_sql(td, "SELECT count(DISTINCT object_id) FROM events "
                         "WHERE object_id != '" SCHEDULE_TICK_ID "'");
}

static long long rows(const fp_td_t *td)
{
    return fp_td_sql(td, "SELECT count(*) FROM events WHERE object_id != '" SCHEDULE_TICK_ID "'");
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

/* Waits until every one of ids is done and nothing is left in Redis. */
static void wait_all_done(fp_td_t *td, long long ids, int timeout_ms, const char *what)
{
    want_t want = {ids};
    fp_td_wait_until(td, all_done, &want, timeout_ms, what);
}

/* Stops the daemon with TERM; it must exit 0. */
static void stop_term(fp_td_t *td)
{
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
}

/* wait_all_done, then stop_term. */
static void finish_after_all(fp_td_t *td, long long ids, int timeout_ms, const char *what)
{
    wait_all_done(td, ids, timeout_ms, what);
    stop_term(td);
}

/* The daemon (pool_lines) started on total queued events, and past the
 * first `started` of them. */
static void start_on_events(fp_td_t *td, const char *pool_lines, long long total,
                            long long started, const char *what)
{
    fp_td_config(td, NULL, pool_lines);
    fp_td_enqueue(td, (int)total, EVENT_JOB);
    fp_td_start_ready(td, false);
    fp_td_wait_until(td, fp_td_events_at_least, &started, 60000, what);
}

/* SIGKILL a random child every 50 ms for 2 s: each killed job is a failed
 * attempt, retried; every job ends done; duplicates at most one per kill. */
static void test_sigkill_random_children_repeatedly(void **state)
{
    fp_td_t *td = *state;
    const long long total = 3000;
    start_on_events(td, "[pool]\nchildren = 4\n" FAST_RETRY, total, 50, "the first jobs");
    int kills = 0;
    srand(42);
    for (int round = 0; round < 40; round++) {
        if (fp_td_kill_random_child(td))
            kills++;
        fp_td_let_time_pass(50);
    }
    assert_true(kills > 10);
    finish_after_all(td, total, 180000, "every id");
    assert_true(rows(td) - total <= kills);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
}

/* SIGKILL the supervisor mid-run; its children follow it (PDEATHSIG); a
 * restart with the same daemon.name re-reads its own pending entries first. */
static void test_sigkill_supervisor_then_restart(void **state)
{
    fp_td_t *td = *state;
    const long long total = 3000;
    start_on_events(td, "[pool]\nchildren = 4\nprefetch = 4\n" FAST_RETRY, total, 500,
                    "500 jobs");
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
    start_on_events(td, "[pool]\nchildren = 4\n" FAST_RETRY, total, 500, "500 jobs");
    assert_int_equal(fp_th_redis_shutdown(&td->redis), 0);
    fp_td_num_t down = {"forkpool_redis_connected", 0};
    fp_td_wait_until(td, fp_td_metric_is, &down, 30000, "the daemon to notice");
    /* Every job it held has run: their outcomes wait for Redis. */
    fp_td_num_t busy = {"forkpool_children{state=\"busy\"}", 0};
    fp_td_wait_until(td, fp_td_metric_is, &busy, 30000, "the running jobs to finish");
    assert_int_equal(fp_th_redis_resume(&td->redis), 0);
    finish_after_all(td, total, 180000, "every id");
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
    finish_after_all(td, 500, 120000, "every good id");
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
    stop_term(td);
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
    /* The daemon tried and says it will keep trying (the operator is told:
     * no metric counts the attempts, and later ones are not logged). */
    fp_td_wait_until(td, fp_td_log_has, "(will keep trying)", 30000, "a failed attempt");
    /* Redis stays away a while so that the daemon has to retry: nothing
     * marks a retry, time must pass. */
    fp_td_let_time_pass(500);
    assert_int_equal(fp_th_redis_resume(&td->redis), 0);
    finish_after_all(td, 100, 60000, "every id");
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

/* ---- daemon name lease, delivery counts across Redis flaps, failover ---- */

/* A client of this Redis sits in a blocking XREADGROUP: the daemon went
 * through its history re-read and its sweeps and waits for new entries. */
static bool reader_blocked(fp_td_t *td, void *arg)
{
    (void)arg;
    redisReply *r = fp_th_redis_cmd(&td->redis, "CLIENT LIST");
    bool blocked = r != NULL && r->type == REDIS_REPLY_STRING &&
                   strstr(r->str, "flags=b ") != NULL && strstr(r->str, "cmd=xreadgroup") != NULL;
    freeReplyObject(r);
    return blocked;
}

static bool calls_above(fp_td_t *td, void *arg)
{
    return fp_th_redis_calls(&td->redis, "xclaim") > *(long long *)arg;
}

/* Redis' delivery counter of the oldest pending entry; -1 when none. */
static long long first_pending_deliveries(fp_td_t *td)
{
    redisReply *r = fp_th_redis_cmd(&td->redis, "XPENDING %s forkpool - + 1", FP_TD_JOBS);
    long long n = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 1
                      ? r->element[0]->element[3]->integer
                      : -1;
    freeReplyObject(r);
    return n;
}

/* A second daemon with the same daemon.name refuses to start (exit 78),
 * naming the holder; the first one keeps working. */
static void test_same_name_second_daemon_refused(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, "[pool]\nchildren = 2\n");
    fp_td_start_ready(td, true);
    assert_int_equal(fp_th_redis_int(&td->redis, "EXISTS fp:{default}:lease:test-consumer"),
                     1);
    fp_td_t twin;
    fp_td_twin(td, &twin, NULL);
    fp_td_start(&twin, false);
    assert_int_equal(fp_td_wait(&twin, 20000), 78);
    char pid_text[32];
    snprintf(pid_text, sizeof pid_text, "pid %d", td->pid);
    assert_true(fp_td_log_has(&twin, "\"test-consumer\""));
    assert_true(fp_td_log_has(&twin, "queue \"default\""));
    assert_true(fp_td_log_has(&twin, pid_text));
    fp_td_enqueue(td, 50, EVENT_JOB);
    finish_after_all(td, 50, 60000, "every id, on the first daemon");
    assert_int_equal(rows(td), 50);
    /* A clean exit gives the name back. */
    assert_int_equal(fp_th_redis_int(&td->redis, "EXISTS fp:{default}:lease:test-consumer"),
                     0);
}

/* td's daemon (config, log) started as pid 1 of a new pid namespace, as
 * in a container; the pid of the unshare process, whose group it shares, or
 * 0 when this machine cannot make one. */
static int start_as_pid_1(const fp_td_t *td)
{
    if (system("/usr/bin/unshare -rpf --mount-proc true >/dev/null 2>&1") != 0)
        return 0;
    const char *argv[] = {"/usr/bin/unshare", "-rpf", "--mount-proc",
                          fp_th_env("FORKPOOL_BIN"), "run", "-c", td->config, NULL};
    int pid = fp_th_spawn(argv, NULL, td->log);
    assert_true(pid > 0);
    return pid;
}

/* Two containers on the host network share the host's name and both run as
 * pid 1: the second's own pid in the lease proves nothing about the first,
 * which keeps renewing; it must be refused, not take the lease over (the two
 * then took it from each other at every renewal, both consuming). */
static void test_same_name_twin_container_refused(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, "[pool]\nchildren = 1\n");
    if ((td->pid = start_as_pid_1(td)) == 0)
        skip();
    fp_td_wait_until(td, fp_td_redis_has, "fp:{default}:lease:test-consumer", 30000,
                     "the first daemon's name lease");
    fp_td_t twin;
    fp_td_twin(td, &twin, NULL);
    twin.pid = start_as_pid_1(&twin);
    int rc = fp_th_wait(twin.pid, 30000);
    if (rc != 78) {
        kill(-twin.pid, SIGKILL); /* the daemon too, not only unshare */
        fp_th_kill(twin.pid);
    }
    assert_int_equal(rc, 78);
    assert_true(fp_td_log_has(&twin, "pid 1, since"));
    assert_int_equal(fp_td_log_count(td, "took over the name lease"), 0);
    assert_int_equal(kill(-td->pid, SIGTERM), 0);
    assert_int_equal(fp_td_wait(td, 30000), 0);
}

/* The config of td with `queues` (a TOML array body: "\"a\", \"b\"") as
 * queues.names, written over td->config. */
static void serve_queues(fp_td_t *td, const char *queues)
{
    char extra[256];
    snprintf(extra, sizeof extra, "[pool]\nchildren = 2\n[queues]\nnames = [%s]\n", queues);
    fp_td_config(td, NULL, extra);
}

/* count record_event jobs with object ids "Q-0".."Q-(count-1)" on queue q. */
static void enqueue_on(fp_td_t *td, const char *q, int count)
{
    char stream[64];
    snprintf(stream, sizeof stream, "fp:{%s}:jobs", q);
    for (int i = 0; i < count; i++) {
        char job[256];
        snprintf(job, sizeof job,
                 "{\"type\":\"record_event\",\"args\":{\"action\":\"fault\",\"object_id\":"
                 "\"%s-%d\",\"user_id\":\"u%d\"}}",
                 q, i, i);
        const char *argv[] = {"XADD", stream, "*", "job", job};
        size_t lens[] = {4, strlen(stream), 1, 3, strlen(job)};
        redisReply *reply = fp_th_redis_cmdv(&td->redis, 5, argv, lens);
        assert_non_null(reply);
        assert_int_equal(reply->type, REDIS_REPLY_STRING);
        freeReplyObject(reply);
    }
}

static long long pending_on(fp_td_t *td, const char *q)
{
    redisReply *r = fp_th_redis_cmd(&td->redis, "XPENDING fp:{%s}:jobs forkpool", q);
    long long n = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
                          r->element[0]->type == REDIS_REPLY_INTEGER
                      ? r->element[0]->integer
                      : -1;
    freeReplyObject(r);
    return n;
}

typedef struct two_daemons_s {
    fp_td_t *twin;
    long long ids;
} two_daemons_t;

/* Every id recorded and nothing pending on queues a and b; a refusal of the
 * second daemon fails at once rather than at the timeout. */
static bool both_queues_done(fp_td_t *td, void *arg)
{
    two_daemons_t *p = arg;
    if (fp_td_log_has(p->twin, "is in use")) {
        char *log = fp_th_read_file(p->twin->log, NULL);
        fail_msg("the second daemon was refused:\n%s", log != NULL ? log : "");
    }
    return distinct_ids(td) == p->ids && pending_on(td, "a") == 0 && pending_on(td, "b") == 0;
}

/* Two daemons on one host under one daemon.name (the host name, by default)
 * serving different queues of one group, one daemon per queue: they are
 * different consumers (a consumer belongs to a stream's group), so both run,
 * each completes the jobs of its queue, and each gives its lease back. */
static void test_same_name_different_queues_both_run(void **state)
{
    fp_td_t *td = *state;
    serve_queues(td, "\"a\"");
    fp_td_start_ready(td, true);
    fp_td_t twin;
    fp_td_twin(td, &twin, NULL);
    serve_queues(&twin, "\"b\"");
    fp_td_start_ready(&twin, true);
    enqueue_on(td, "a", 40);
    enqueue_on(td, "b", 40);
    two_daemons_t p = {&twin, 80};
    fp_td_wait_until(td, both_queues_done, &p, 60000, "every id of queues a and b");
    fp_td_signal(&twin, SIGTERM);
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(&twin, 30000), 0);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_int_equal(fp_td_jobs_done(td), 40);
    assert_int_equal(fp_td_jobs_done(&twin), 40);
    assert_int_equal(fp_td_sql(td, "SELECT count(*) FROM events WHERE object_id LIKE 'a-%'"), 40);
    assert_int_equal(fp_td_sql(td, "SELECT count(*) FROM events WHERE object_id LIKE 'b-%'"), 40);
    assert_int_equal(fp_th_redis_int(&td->redis, "EXISTS fp:{a}:lease:test-consumer"), 0);
    assert_int_equal(fp_th_redis_int(&td->redis, "EXISTS fp:{b}:lease:test-consumer"), 0);
}

/* One shared queue is enough to refuse: a daemon serving a and b holds both
 * leases; a second one under its name serving b and c exits 78 naming queue
 * b, and gives back the lease of c it may have taken meanwhile. */
static void test_same_name_overlapping_queues_refused(void **state)
{
    fp_td_t *td = *state;
    serve_queues(td, "\"a\", \"b\"");
    fp_td_start_ready(td, true);
    assert_int_equal(fp_th_redis_int(&td->redis, "EXISTS fp:{a}:lease:test-consumer"), 1);
    assert_int_equal(fp_th_redis_int(&td->redis, "EXISTS fp:{b}:lease:test-consumer"), 1);
    fp_td_t twin;
    fp_td_twin(td, &twin, NULL);
    serve_queues(&twin, "\"c\", \"b\"");
    fp_td_start(&twin, false);
    assert_int_equal(fp_td_wait(&twin, 20000), 78);
    assert_true(fp_td_log_has(&twin, "queue \"b\""));
    assert_int_equal(fp_td_log_count(&twin, "queue \"c\""), 0);
    assert_int_equal(fp_th_redis_int(&td->redis, "EXISTS fp:{c}:lease:test-consumer"), 0);
    assert_int_equal(fp_th_redis_int(&td->redis, "EXISTS fp:{b}:lease:test-consumer"), 1);
    stop_term(td);
}

/* Losing the lease of any one queue mid-run (another daemon on another host
 * took it: here written over it) stops the daemon: it drains and exits 78
 * naming that queue, and leaves the other daemon's lease alone. */
static void test_lease_of_one_queue_lost_mid_run(void **state)
{
    fp_td_t *td = *state;
    serve_queues(td, "\"a\", \"b\"");
    fp_td_start_ready(td, true);
    assert_int_equal(fp_th_redis_int(&td->redis, "EXISTS fp:{b}:lease:test-consumer"), 1);
    freeReplyObject(fp_th_redis_cmd(&td->redis, "SET %s %s PX 60000",
                                    "fp:{b}:lease:test-consumer",
                                    "0123456789abcdef other-host 4242 1796590000123"));
    assert_int_equal(fp_td_wait(td, 30000), 78);
    assert_true(fp_td_log_has(td, "queue \"b\""));
    assert_true(fp_td_log_has(td, "host other-host"));
    assert_int_equal(fp_th_redis_int(&td->redis, "EXISTS fp:{b}:lease:test-consumer"), 1);
    assert_int_equal(fp_th_redis_int(&td->redis, "EXISTS fp:{a}:lease:test-consumer"), 0);
}

/* A daemon SIGKILLed and started again under the same name takes its own
 * lease back at once (the recorded pid on this host is dead), without
 * waiting for it to expire, and runs the jobs its predecessor left. */
static void test_same_name_restart_after_sigkill(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, "[pool]\nchildren = 2\n");
    fp_td_start_ready(td, true);
    char pid_text[32];
    snprintf(pid_text, sizeof pid_text, "pid %d", td->pid);
    assert_int_equal(kill(td->pid, SIGKILL), 0);
    assert_int_equal(fp_td_wait(td, 30000), 128 + SIGKILL);
    fp_td_enqueue(td, 50, EVENT_JOB);
    fp_td_start(td, true);
    assert_int_equal(fp_td_wait(td, 60000), 0);
    want_t want = {50};
    assert_true(all_done(td, &want));
    assert_true(fp_td_log_has(td, "took over the name lease"));
    assert_true(fp_td_log_has(td, pid_text));
}

/* Six Redis restarts while one long job runs (max_attempts = 3), then the
 * daemon is SIGKILLed: a second daemon takes the job over and runs it. The
 * reconnects re-read the first daemon's pending entries; those re-reads must
 * not count as deliveries, or the take-over would find the job delivered 8
 * times and dead-letter it. */
static void test_redis_flaps_do_not_inflate_deliveries(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL,
                 "[pool]\nchildren = 2\n"
                 "[retry]\nmax_attempts = 3\nbackoff_base = \"10ms\"\nbackoff_max = \"50ms\"\n"
                 "[recovery]\nvisibility_timeout = \"3s\"\nclaim_interval = \"500ms\"\n");
    fp_td_start_ready(td, true);
    fp_td_enqueue(td, 1, "{\"type\":\"sleep\",\"args\":{\"ms\":30000},\"id\":\"long-%d-%d\"}");
    fp_td_wait_held(td, 1);
    fp_td_wait_until(td, reader_blocked, NULL, 30000, "the first blocking read");
    for (int i = 1; i <= 6; i++) {
        fp_td_redis_restart(td);
        fp_td_wait_until(td, reader_blocked, NULL, 30000, "the re-read and a blocking read");
        /* A claim renewal (XCLAIM) writes the entry's counter to the AOF:
         * what the re-read did to it survives the next restart. */
        long long claims = fp_th_redis_calls(&td->redis, "xclaim");
        fp_td_wait_until(td, calls_above, &claims, 30000, "a claim renewal");
    }
    /* Still running on the first daemon, delivered once. */
    assert_int_equal(fp_td_pending(td), 1);
    assert_int_equal(first_pending_deliveries(td), 1);
    assert_int_equal(fp_td_log_count(td, "stopped:"), 0);
    assert_int_equal(kill(td->pid, SIGKILL), 0);
    assert_int_equal(fp_td_wait(td, 30000), 128 + SIGKILL);

    fp_td_t twin;
    fp_td_twin(td, &twin, "second-consumer");
    fp_td_start(&twin, true);
    assert_int_equal(fp_td_wait(&twin, 120000), 0);
    if (fp_td_xlen(td, FP_TD_DEAD) != 0) {
        char *log = fp_th_read_file(twin.log, NULL);
        fail_msg("the job was dead-lettered; second daemon's log:\n%s", log ? log : "");
    }
    assert_int_equal(fp_td_jobs_done(&twin), 1);
    assert_int_equal(fp_td_pending(td), 0);
    assert_int_equal(fp_td_xlen(td, FP_TD_JOBS), 0);
}

/* A field of INFO replication, as text (free()); NULL when absent. */
static char *replication_field(fp_th_redis_t *r, const char *field)
{
    redisReply *reply = fp_th_redis_cmd(r, "INFO replication");
    char *value = NULL;
    char needle[64];
    snprintf(needle, sizeof needle, "%s:", field);
    const char *at = reply != NULL && reply->type == REDIS_REPLY_STRING
                         ? strstr(reply->str, needle)
                         : NULL;
    if (at != NULL) {
        at += strlen(needle);
        value = strndup(at, strcspn(at, "\r\n"));
    }
    freeReplyObject(reply);
    return value;
}

static bool field_is(fp_th_redis_t *r, const char *field, const char *want)
{
    char *v = replication_field(r, field);
    bool same = v != NULL && strcmp(v, want) == 0;
    free(v);
    return same;
}

typedef struct pair_s {
    fp_th_redis_t *primary, *replica;
} pair_t;

static bool replica_linked(fp_td_t *td, void *arg)
{
    (void)td;
    return field_is(((pair_t *)arg)->replica, "master_link_status", "up");
}

/* The replica has every write of the (paused) primary. */
static bool replica_caught_up(fp_td_t *td, void *arg)
{
    (void)td;
    pair_t *p = arg;
    char *want = replication_field(p->primary, "master_repl_offset");
    bool same = want != NULL && field_is(p->replica, "slave_repl_offset", want);
    free(want);
    return same;
}

/* The daemon's Redis (td->redis) becomes a replica of `other` without losing
 * a write: other first copies it, writes pause while other catches up, other
 * is promoted, then td->redis is pointed at it (REPLICAOF) and writes resume,
 * which now get READONLY. */
static void demote_to_replica_of(fp_td_t *td, fp_th_redis_t *other)
{
    char port[16];
    snprintf(port, sizeof port, "%d", td->redis.port);
    freeReplyObject(fp_th_redis_cmd(other, "REPLICAOF 127.0.0.1 %s", port));
    pair_t pair = {&td->redis, other};
    fp_td_wait_until(td, replica_linked, &pair, 30000, "the second Redis to copy the first");
    freeReplyObject(fp_th_redis_cmd(&td->redis, "CLIENT PAUSE 30000 WRITE"));
    fp_td_wait_until(td, replica_caught_up, &pair, 30000, "the copy to catch up");
    freeReplyObject(fp_th_redis_cmd(other, "REPLICAOF NO ONE"));
    snprintf(port, sizeof port, "%d", other->port);
    freeReplyObject(fp_th_redis_cmd(&td->redis, "REPLICAOF 127.0.0.1 %s", port));
    freeReplyObject(fp_th_redis_cmd(&td->redis, "CLIENT UNPAUSE"));
}

/* /readyz names the replica (only a 503 has reasons). */
static fp_td_page_t readyz_replica = {"/readyz", "replica"};

/* The daemon's Redis turns into a read-only replica mid-run, then back into a
 * primary: READONLY replies are a connection fault (not ready, with the
 * reason, reconnecting with back-off), outcomes are kept and re-sent, and
 * every job is done, none lost, duplicates at most one per child. */
static void test_failover_readonly_replica(void **state)
{
    fp_td_t *td = *state;
    const long long total = 2000;
    fp_td_config(td, NULL, "[pool]\nchildren = 4\n" FAST_RETRY);
    fp_td_enqueue(td, (int)total, EVENT_JOB);
    fp_td_start_ready(td, true);
    int port = fp_td_health_port(td);
    assert_true(port > 0);
    long long started = 300;
    fp_td_wait_until(td, fp_td_events_at_least, &started, 60000, "300 jobs");

    fp_th_redis_t other = {0};
    assert_int_equal(fp_th_redis_start(&other, NULL), 0);
    demote_to_replica_of(td, &other);
    fp_td_wait_until(td, fp_td_page_has, &readyz_replica, 30000, "readyz 503 naming the replica");
    freeReplyObject(fp_th_redis_cmd(&td->redis, "REPLICAOF NO ONE"));
    fp_td_ready_t r = {port, 200};
    fp_td_wait_until(td, fp_td_readyz_is, &r, 30000, "readyz 200 on a primary again");
    finish_after_all(td, total, 180000, "every id");
    fp_th_redis_stop(&other);
    assert_true(rows(td) - total <= 4);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
}

/* ---- entries taken from under a running job (deleted, trimmed, claimed) ---- */

#define HELD_JOB "{\"type\":\"sleep\",\"args\":{\"ms\":800},\"id\":\"held-%d-%d\"}"
#define HELD_TOTAL 60

typedef struct held_run_s {
    char ledger[4200];
} held_run_t;

/* Short visibility timeout and sweep, so renewal notices quickly and
 * entries left with a foreign consumer come back; a ledger to find each id. */
static void held_run_start(fp_td_t *td, held_run_t *run)
{
    char extra[4800];
    snprintf(run->ledger, sizeof run->ledger, "%s/ledger.db", td->dir);
    snprintf(extra, sizeof extra,
             "[pool]\nchildren = 6\n" FAST_RETRY
             "[recovery]\nvisibility_timeout = \"1s\"\nclaim_interval = \"200ms\"\n"
             "[ledger]\npath = \"%s\"\n",
             run->ledger);
    fp_td_config(td, NULL, extra);
    fp_td_enqueue(td, HELD_TOTAL, HELD_JOB);
    fp_td_start_ready(td, false);
}

/* Up to max entry ids pending to this daemon; returns how many. */
static int own_pending(fp_td_t *td, char ids[][64], int max)
{
    redisReply *r = fp_th_redis_cmd(&td->redis, "XPENDING %s forkpool - + %d test-consumer",
                                    FP_TD_JOBS, max);
    int n = 0;
    for (size_t i = 0; r != NULL && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
        snprintf(ids[n++], 64, "%s", r->element[i]->element[0]->str);
    freeReplyObject(r);
    return n;
}

/* What own_pending saw after a round's faults. */
typedef struct pending_seen_s {
    char ids[16][64];
    int n;
} pending_seen_t;

/* The daemon moved on since the snapshot: an entry of it settled or a new
 * one was taken (the entries are 800 ms jobs), or nothing is left at all. */
static bool pending_moved(fp_td_t *td, void *arg)
{
    const pending_seen_t *seen = arg;
    pending_seen_t now;
    now.n = own_pending(td, now.ids, 16);
    if (now.n != seen->n)
        return true;
    for (int i = 0; i < now.n; i++)
        if (strcmp(now.ids[i], seen->ids[i]) != 0)
            return true;
    return fp_td_unsettled(td) == 0;
}

/* Paces a loop of faults on pending entries by the daemon's work. */
static void wait_pending_moved(fp_td_t *td)
{
    pending_seen_t seen;
    seen.n = own_pending(td, seen.ids, 16);
    fp_td_wait_until(td, pending_moved, &seen, 60000, "the pending entries to move on");
}

/* Every id ran to success (ledger), nothing left in Redis. */
static bool every_held_job_ok(fp_td_t *td, void *arg)
{
    held_run_t *run = arg;
    return fp_td_unsettled(td) == 0 &&
           fp_td_sql_at(run->ledger, "SELECT count(DISTINCT job_id) FROM jobs WHERE outcome = "
                                     "'ok' AND job_id LIKE 'held-%%'") == HELD_TOTAL;
}


/* One fault against this daemon's pending entries; returns how many it hit. */
typedef int (*held_fault_fn)(fp_td_t *td, char ids[][64], int n, int round);

/* 40 rounds, each once the daemon moved on from the last: the fault on a
 * random pending entry, and every third round a child killed, so some hit
 * jobs fail and must be retried. */
static int held_run_faults(fp_td_t *td, held_fault_fn fault)
{
    int hits = 0;
    srand(7);
    for (int round = 0; round < 40; round++) {
        char ids[16][64];
        int n = own_pending(td, ids, 16);
        if (n > 0)
            hits += fault(td, ids, n, round);
        if (round % 3 == 0)
            fp_td_kill_random_child(td);
        wait_pending_moved(td);
    }
    return hits;
}

/* The whole run: start, faults (more than a few must hit), every job done,
 * nothing dead, and the daemon's log names what it noticed. */
static void held_run(fp_td_t *td, held_fault_fn fault, const char *noticed)
{
    held_run_t run;
    held_run_start(td, &run);
    assert_true(held_run_faults(td, fault) > 5);
    fp_td_wait_until(td, every_held_job_ok, &run, 180000, "every id done");
    stop_term(td);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
    assert_true(fp_td_log_has(td, (void *)noticed));
}

/* XDEL, or every fourth round XTRIM MINID: everything delivered before a
 * pending entry goes at once. */
static int delete_or_trim(fp_td_t *td, char ids[][64], int n, int round)
{
    const char *how = round % 4 == 3 ? "XTRIM %s MINID %s" : "XDEL %s %s";
    return (int)fp_th_redis_int(&td->redis, how, FP_TD_JOBS, ids[rand() % n]);
}

/* Running jobs' entries deleted (XDEL) or trimmed away (XTRIM MINID) by
 * someone else while children are killed: a killed job whose entry is gone
 * is still retried from the payload the supervisor holds; nothing is lost. */
static void test_entries_deleted_and_trimmed_while_running(void **state)
{
    held_run(*state, delete_or_trim, "was deleted while its job runs");
}

/* XCLAIM with min-idle 0, as a daemon that thinks the entry was abandoned. */
static int foreign_claim(fp_td_t *td, char ids[][64], int n, int round)
{
    (void)round;
    redisReply *r = fp_th_redis_cmd(&td->redis, "XCLAIM %s forkpool thief 0 %s JUSTID",
                                    FP_TD_JOBS, ids[rand() % n]);
    int hit = r != NULL && r->type == REDIS_REPLY_ARRAY ? (int)r->elements : 0;
    freeReplyObject(r);
    return hit;
}

/* A foreign consumer keeps claiming entries this daemon is running while
 * children are killed: this daemon's outcomes for them are not applied, the
 * entries come back through take-over once the foreign one leaves them
 * idle, and every job still ends done. */
static void test_foreign_claims_of_running_entries(void **state)
{
    held_run(*state, foreign_claim, "was taken over by consumer thief");
}

/* ---- a deleted entry whose pending record someone else drops ------------ */

/* One job that times out on each attempt (after timeout), two attempts: it
 * ends as a dead letter unless its retry was lost. */
#define ORPHAN_JOB "{\"type\":\"sleep\",\"args\":{\"ms\":20000},\"timeout\":\"%s\"}"

static bool dead_letter_there(fp_td_t *td, void *arg)
{
    (void)arg;
    return fp_td_xlen(td, FP_TD_DEAD) == 1;
}

/* The job's entry is deleted while it runs and then XCLAIMed by another
 * consumer, which on Redis 7 drops its pending record without claiming it:
 * the entry is now pending to nobody and gone from the stream. The copy the
 * daemon holds is the job's only one, so its retry must still land. */
static void orphan_running_entry(fp_td_t *td, const char *vt, const char *timeout)
{
    char extra[512];
    snprintf(extra, sizeof extra,
             "[pool]\nchildren = 1\nkill_grace = \"100ms\"\n"
             "[retry]\nmax_attempts = 2\nbackoff_base = \"10ms\"\nbackoff_max = \"10ms\"\n"
             "[recovery]\nvisibility_timeout = \"%s\"\n",
             vt);
    fp_td_config(td, NULL, extra);
    char job[128];
    int len = snprintf(job, sizeof job, ORPHAN_JOB, timeout);
    fp_td_enqueue_raw(td, job, (size_t)len);
    fp_td_start_ready(td, false);
    char ids[1][64];
    long long deadline = fp_th_now_ms() + 30000;
    while (own_pending(td, ids, 1) == 0 && fp_th_now_ms() < deadline)
        fp_td_let_time_pass(20);
    assert_int_equal(own_pending(td, ids, 1), 1);
    assert_int_equal(fp_th_redis_int(&td->redis, "XDEL %s %s", FP_TD_JOBS, ids[0]), 1);
    freeReplyObject(fp_th_redis_cmd(&td->redis, "XCLAIM %s forkpool thief 0 %s JUSTID",
                                    FP_TD_JOBS, ids[0]));
    /* What the fault must leave for the case to mean anything. */
    assert_int_equal(fp_th_redis_int(&td->redis, "XLEN %s", FP_TD_JOBS), 0);
    redisReply *r = fp_th_redis_cmd(&td->redis, "XPENDING %s forkpool", FP_TD_JOBS);
    assert_non_null(r);
    assert_int_equal(r->element[0]->integer, 0);
    freeReplyObject(r);
    fp_td_wait_until(td, dead_letter_there, NULL, 60000, "the job's second attempt, dead");
    stop_term(td);
}

/* The job fails before any renewal round looks at it (60 s visibility):
 * its outcome alone must carry the retry. */
static void test_orphaned_entry_retry_lands_from_outcome(void **state)
{
    orphan_running_entry(*state, "60s", "1500ms");
}

/* Renewal rounds (every 333 ms, a dozen before the 4 s timeout even on a
 * loaded machine) see the entry before the job fails: gone from the stream
 * counts as deleted, not as settled elsewhere. */
static void test_orphaned_entry_seen_by_renewal_as_deleted(void **state)
{
    fp_td_t *td = *state;
    orphan_running_entry(td, "1s", "4s");
    assert_true(fp_td_log_has(td, "was deleted while its job runs"));
    assert_false(fp_td_log_has(td, "settled elsewhere"));
}

/* ---- process control: bad reloads, channels, process groups, starts ---- */

/* The exec runtime on test/data/exec_worker.py (worker_arg after it when
 * not NULL), then pool_lines. The events table is made here:
 * Python's "record" handler writes into it. */
static void exec_setup(fp_td_t *td, const char *worker_arg, const char *pool_lines)
{
    char command[4300], text[8192];
    fp_td_exec_worker_command(command, sizeof command, worker_arg);
    snprintf(text, sizeof text,
             "[pool]\nruntime = \"exec\"\ncommand = %s\nkill_grace = \"200ms\"\n%s" FAST_RETRY,
             command, pool_lines ? pool_lines : "");
    fp_td_config(td, NULL, text);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(td->events_db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS events (object_id TEXT)", NULL,
                                  NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
}

/* count jobs of the exec worker's "record" handler, ids "batch-N". */
static void enqueue_records(fp_td_t *td, const char *batch, int count)
{
    char fmt[4400];
    snprintf(fmt, sizeof fmt,
             "{\"type\":\"record\",\"args\":{\"db\":\"%s\",\"id\":\"%s-%%d\"},\"id\":\"r%%d\"}",
             td->events_db, batch);
    fp_td_enqueue(td, count, fmt);
}

/* What a failed reload must leave: /readyz 200, the failure in /stats and
 * /metrics. */
static void assert_reload_failed_shown(fp_td_t *td, const char *cause)
{
    char *body = NULL;
    assert_int_equal(fp_td_http_get(fp_td_health_port(td), "/readyz", &body), 200);
    free(body);
    assert_int_equal(fp_td_http_get(fp_td_health_port(td), "/stats", &body), 200);
    if (strstr(body, "\"reload\":{\"state\":\"failed\"") == NULL || strstr(body, cause) == NULL)
        fail_msg("/stats does not show the failed reload (%s): %s", cause, body);
    free(body);
    assert_int_equal(fp_td_http_get(fp_td_health_port(td), "/metrics", &body), 200);
    if (strstr(body, "forkpool_reload_failures_total 1\n") == NULL)
        fail_msg("/metrics does not count the failed reload");
    free(body);
}

/* The exec pool (pool_lines) serving: n records of batch "a" done. */
static void serve_first_records(fp_td_t *td, const char *pool_lines, int n)
{
    exec_setup(td, NULL, pool_lines);
    fp_td_start_ready(td, true);
    enqueue_records(td, "a", n);
    wait_all_done(td, n, 60000, "the first jobs");
}

/* The HUP was handled: a reload was applied (its generation) or has already
 * been undone (counted as failed). */
static bool reload_handled(fp_td_t *td, void *arg)
{
    (void)arg;
    return fp_td_stat(td, "reload.generation") >= 1 || fp_td_stat(td, "reload.failures") >= 1;
}

static fp_td_page_t reload_failed = {"/stats", "\"reload\":{\"state\":\"failed\""};

/* Edits the config (from becomes to) and sends HUP. */
static void reload_to(fp_td_t *td, const char *from, const char *to)
{
    fp_td_config_replace(td, from, to);
    fp_td_signal(td, SIGHUP);
}

/* HUP to an exec command that does not exist: one attempt, the reload is
 * reported failed, and the old children keep serving; no fork storm. */
static void test_bad_reload_exec_keeps_old_children(void **state)
{
    fp_td_t *td = *state;
    serve_first_records(td, "children = 2\n", 50);
    char cmd[1024];
    fp_td_exec_worker_command(cmd, sizeof cmd, NULL);
    reload_to(td, cmd, "[\"/nonexistent\"]");
    fp_td_wait_until(td, reload_handled, NULL, 30000, "the reload");
    enqueue_records(td, "b", 300);
    wait_all_done(td, 350, 120000, "every id on the old children");
    long long attempts = fp_td_log_count(td, "cannot run \"/nonexistent\"");
    if (attempts < 1 || attempts > 3)
        fail_msg("%lld attempts to start \"/nonexistent\"", attempts);
    assert_int_equal(fp_td_log_count(td, "reload failed"), 1);
    assert_reload_failed_shown(td, "/nonexistent");
    stop_term(td);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
}

/* HUP to a handler that cannot start in a child (record_event on a
 * database it cannot open, as a plugin that fails to load): the children
 * exit at start, the reload is rolled back, the old children keep going. */
static void test_bad_reload_native_init_keeps_old_children(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, "[pool]\nchildren = 2\n" FAST_RETRY);
    fp_td_start_ready(td, true);
    fp_td_enqueue(td, 100, EVENT_JOB);
    wait_all_done(td, 100, 60000, "the first jobs");
    char db[4200];
    snprintf(db, sizeof db, "database = \"%s\"", td->events_db);
    reload_to(td, db, "database = \"/nonexistent/dir/events.db\"");
    fp_td_wait_until(td, fp_td_page_has, &reload_failed, 30000, "the failed reload");
    fp_td_enqueue(td, 2000, "{\"type\":\"record_event\",\"args\":{\"object_id\":\"late-%d\",\"user_id\":\"u%d\"}}");
    wait_all_done(td, 2100, 120000, "every id on the old children");
    long long failed = fp_td_log_count(td, "exited with status 78");
    if (failed < 1 || failed > 2)
        fail_msg("%lld children failed at start", failed);
    assert_reload_failed_shown(td, "child_init");
    stop_term(td);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
}

/* HUP to a command whose child never says ready, with a single child: the
 * old child keeps serving while its replacement has not proven the reload
 * (stopping it as soon as the replacement is forked left no child to run
 * anything until pool.start_timeout, an hour here). */
static void test_bad_reload_single_child_keeps_serving(void **state)
{
    fp_td_t *td = *state;
    serve_first_records(td, "children = 1\nstart_timeout = \"1h\"\n", 20);
    reload_to(td, "exec_worker.py\"]", "exec_worker.py\", \"noready\"]");
    fp_td_wait_until(td, reload_handled, NULL, 30000, "the reload");
    int two = 2; /* the old child and its replacement, which never says ready */
    fp_td_wait_until(td, fp_td_children_are, &two, 30000, "the replacement");
    enqueue_records(td, "b", 20);
    wait_all_done(td, 40, 60000, "every id on the old child");
    char *body = NULL;
    assert_int_equal(fp_td_http_get(fp_td_health_port(td), "/readyz", &body), 200);
    free(body);
    fp_td_signal(td, SIGQUIT);
    fp_td_wait(td, 30000);
}

/* The same with a replacement that exits at once: the reload is undone,
 * the held-back child is no longer being replaced, and a fixed reload
 * afterwards rolls it over once its replacement says ready. */
static void test_bad_reload_single_child_undone_then_fixed(void **state)
{
    fp_td_t *td = *state;
    serve_first_records(td, "children = 1\n", 20);
    char cmd[1024];
    fp_td_exec_worker_command(cmd, sizeof cmd, NULL);
    reload_to(td, cmd, "[\"/bin/sh\", \"-c\", \"exit 3\"]");
    fp_td_wait_until(td, fp_td_page_has, &reload_failed, 30000, "the failed reload");
    enqueue_records(td, "b", 20);
    wait_all_done(td, 40, 60000, "every id on the old child");
    assert_reload_failed_shown(td, "exited with status 3");
    reload_to(td, "[\"/bin/sh\", \"-c\", \"exit 3\"]", cmd);
    fp_td_page_t done = {"/stats", "\"reload\":{\"state\":\"done\""};
    fp_td_wait_until(td, fp_td_page_has, &done, 30000, "the fixed reload's child ready");
    int one = 1;
    fp_td_wait_until(td, fp_td_children_are, &one, 60000, "the old child to stop");
    enqueue_records(td, "c", 20);
    finish_after_all(td, 60, 60000, "every id on the new child");
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
}

/* A child that closes fd 3 while holding a job is finished off and its job
 * fails as a crash (retried, then dead); the other jobs all complete. */
static void test_child_closing_channel_mid_job(void **state)
{
    fp_td_t *td = *state;
    exec_setup(td, NULL, "children = 2\n");
    fp_td_start_ready(td, true);
    fp_td_enqueue(td, 1, "{\"type\":\"closefd\",\"max_attempts\":2,\"id\":\"close-%d%d\"}");
    enqueue_records(td, "a", 200);
    long long one = 1;
    fp_td_wait_until(td, fp_td_dead_is, &one, 60000, "the job of the closing child to settle");
    wait_all_done(td, 200, 60000, "every id");
    assert_true(fp_td_dead_has(td, "error", "closed its channel"));
    assert_true(fp_td_dead_has(td, "job", "close-00"));
    assert_true(fp_td_dead_has(td, "attempts", "2"));
    stop_term(td);
}

/* Processes whose command line contains marker, or whose process group is
 * pgid (when > 0); the first one's group goes to *found_pgid. */
static int procs_marked(const char *marker, int pgid, int *found_pgid)
{
    DIR *d = opendir("/proc");
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        size_t len = 0;
        char *cmd = fp_th_read_file(path, &len);
        bool marked = false;
        for (size_t off = 0; cmd != NULL && off < len; off += strlen(cmd + off) + 1)
            marked = marked || strstr(cmd + off, marker) != NULL;
        free(cmd);
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        char *stat = fp_th_read_file(path, NULL);
        const char *paren = stat != NULL ? strrchr(stat, ')') : NULL;
        int group = 0;
        char st = '?';
        if (paren != NULL)
            sscanf(paren + 1, " %c %*d %d", &st, &group);
        free(stat);
        if (st == 'Z' || (!marked && (pgid <= 0 || group != pgid)))
            continue;
        if (marked && found_pgid != NULL)
            *found_pgid = group;
        n++;
    }
    closedir(d);
    return n;
}

typedef struct leftovers_s {
    const char *marker;
    int pgid;
} leftovers_t;

static bool marker_running(fp_td_t *td, void *arg)
{
    (void)td;
    leftovers_t *l = arg;
    return procs_marked(l->marker, 0, &l->pgid) >= 1;
}

static bool nothing_left(fp_td_t *td, void *arg)
{
    (void)td;
    leftovers_t *l = arg;
    return procs_marked(l->marker, l->pgid, NULL) == 0;
}

/* A job that leaves a shell and its sleep behind, ended by its timeout
 * (first) and by a SIGKILL of its child (second): nothing of either child's
 * process group survives. */
static void test_timeout_and_kill_stop_grandchildren(void **state)
{
    fp_td_t *td = *state;
    exec_setup(td, NULL, "children = 1\n");
    fp_td_start_ready(td, true);
    char marker[2][64], job[256];
    for (int round = 0; round < 2; round++) {
        snprintf(marker[round], sizeof marker[round], "fp-grandchild-%d-%d", (int)getpid(), round);
        snprintf(job, sizeof job,
                 "{\"type\":\"grandchild\",\"args\":{\"marker\":\"%s\"},\"timeout\":\"%s\","
                 "\"max_attempts\":1,\"id\":\"gc-%%d%%d\"}",
                 marker[round], round == 0 ? "1s" : "1h");
        fp_td_enqueue(td, 1, job);
        leftovers_t left = {marker[round], 0};
        fp_td_wait_until(td, marker_running, &left, 60000, "the grandchild to start");
        assert_true(left.pgid > 1);
        if (round == 1) {
            int kids[8];
            assert_int_equal(fp_th_proc_children(td->pid, kids, 8), 1);
            assert_int_equal(kill(kids[0], SIGKILL), 0);
        }
        long long dead = round + 1;
        fp_td_wait_until(td, fp_td_dead_is, &dead, 60000, "the job to end");
        fp_td_wait_until(td, nothing_left, &left, 30000, "nothing of the child's group left");
    }
    enqueue_records(td, "a", 50);
    finish_after_all(td, 50, 60000, "every id");
}

/* An exec child that never says ready is killed after pool.start_timeout
 * and counted as a failed start: back-off, readiness says why; the jobs
 * wait in the stream, none is lost. */
static void test_start_timeout_kills_silent_child(void **state)
{
    fp_td_t *td = *state;
    exec_setup(td, "noready", "children = 1\nstart_timeout = \"500ms\"\n");
    enqueue_records(td, "a", 20);
    fp_td_start(td, false);
    /* The delays are the behaviour, and only the log tells them. */
    fp_td_wait_until(td, fp_td_log_has,
                     "did not say ready within 500 ms (pool.start_timeout); next start in 200 ms",
                     60000, "the second start timeout");
    char *body = NULL;
    assert_int_equal(fp_td_http_get(fp_td_health_port(td), "/readyz", &body), 503);
    if (strstr(body, "did not say ready") == NULL)
        fail_msg("/readyz gives no reason for the failed starts: %s", body);
    free(body);
    assert_int_equal(fp_td_log_count(td, "; next start in 100 ms"), 1);
    stop_term(td);
    assert_int_equal(fp_td_xlen(td, FP_TD_JOBS), 20);
    assert_int_equal(fp_td_pending(td), 0);
    assert_int_equal(fp_td_zcard(td, FP_TD_DELAYED), 0);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
}

/* ---- the long run: every fault above against one run of 20,000 jobs ---- */

/* FP_CHAOS_JOBS overrides the count (a multiple of CHAOS_CHUNK). */
#define CHAOS_JOBS 20000
#define CHAOS_CHUNK 400

typedef struct chaos_s {
    char ctl[4200];    /* the worker's control dir */
    char marker[64];   /* in the command line of the grandchildren it leaves */
    int port;          /* health endpoint */
    long long total;
} chaos_t;

static long long chaos_jobs(void)
{
    const char *v = getenv("FP_CHAOS_JOBS");
    long long n = v != NULL ? atoll(v) : CHAOS_JOBS;
    return n >= CHAOS_CHUNK ? n / CHAOS_CHUNK * CHAOS_CHUNK : CHAOS_CHUNK;
}

/* A concurrency limit below the children's number stays active through
 * every fault: the run ends with no more than it running at once. */
#define CHAOS_CONCURRENCY 3
#define CHAOS_LIMIT "[limits.event]\nconcurrency = 3\n"

/* Exec children on test/data/chaos_worker.py, 4 of them with prefetch, fast
 * retries, a short visibility timeout (a foreign claim comes back quickly),
 * a 10 s start timeout (Python under load is slow to start); the events table made beforehand in WAL
 * mode, as record_event's supervisor does. */
static void chaos_setup(fp_td_t *td, chaos_t *c)
{
    snprintf(c->ctl, sizeof c->ctl, "%s/chaos", td->dir);
    assert_int_equal(mkdir(c->ctl, 0700), 0);
    snprintf(c->marker, sizeof c->marker, "fp-chaos-%d", (int)getpid());
    char text[16384];
    snprintf(text, sizeof text,
             "[pool]\nruntime = \"exec\"\n"
             "command = [\"python3\", \"%s/test/data/chaos_worker.py\", \"%s\", \"%s\"]\n"
             "children = 4\nprefetch = 4\nkill_grace = \"200ms\"\nstart_timeout = \"10s\"\n"
             FAST_RETRY "[recovery]\nvisibility_timeout = \"2s\"\nclaim_interval = \"300ms\"\n"
             CHAOS_LIMIT
             /* a schedule active through every fault (its jobs counted apart) */
             "[[schedule]]\nname = \"chaos-tick\"\nevery = \"1s\"\ntype = \"event\"\n"
             "args = { object_id = \"" SCHEDULE_TICK_ID "\" }\n",
             fp_th_env("FP_SOURCE_DIR"), td->events_db, c->ctl);
    fp_td_config(td, NULL, text);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(td->events_db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode = WAL; "
                                      "CREATE TABLE IF NOT EXISTS events (object_id TEXT)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
}

/* Chunks of 400 distinct ids: 397 plain jobs, then one that closes its
 * channel, one that leaves grandchildren (ended by its 1 s timeout) and one
 * that SIGKILLs its own child; each misbehaves on its first attempt only. */
static void chaos_enqueue(fp_td_t *td, chaos_t *c)
{
    c->total = chaos_jobs();
    for (long long chunk = 0; chunk < c->total / CHAOS_CHUNK; chunk++) {
        char fmt[256], job[512];
        snprintf(fmt, sizeof fmt,
                 "{\"type\":\"event\",\"args\":{\"object_id\":\"c%lld-%%d\"},\"id\":\"c%lld-%%d\"}",
                 chunk, chunk);
        fp_td_enqueue(td, CHAOS_CHUNK - 3, fmt);
        const char *how[] = {"close", "grandchild", "kill"};
        for (int k = 0; k < 3; k++) {
            int n = snprintf(job, sizeof job,
                             "{\"type\":\"event\",\"args\":{\"object_id\":\"x%lld-%s\","
                             "\"chaos\":\"%s\",\"marker\":\"%s\"}%s}",
                             chunk, how[k], how[k], c->marker,
                             k == 1 ? ",\"timeout\":\"1s\"" : "");
            fp_td_enqueue_raw(td, job, (size_t)n);
        }
    }
}

/* How long the long run may go without one job recorded before it counts as
 * stuck. Its pace is set by how fast Python children start again after each
 * kill (three a chunk), which a busy CI machine slows several times over: a
 * deadline on the whole run failed there while jobs were still flowing. */
#define CHAOS_STALL_MS 120000

/* Up to 8 of the ids chaos_enqueue made that no event names yet, as
 * "c3-17 x9-kill ..." in out: a stall's message says which jobs to look for
 * in the log. */
static void chaos_missing(const fp_td_t *td, char *out, size_t size)
{
    long long chunks = chaos_jobs() / CHAOS_CHUNK;
    char sql[1024];
    snprintf(sql, sizeof sql,
             "WITH RECURSIVE ch(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM ch WHERE n < %lld), "
             "k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < %d), "
             "h(w) AS (VALUES ('close'), ('grandchild'), ('kill')) "
             "SELECT id FROM (SELECT 'c' || n || '-' || i AS id FROM ch, k "
             "UNION ALL SELECT 'x' || n || '-' || w FROM ch, h) "
             "WHERE id NOT IN (SELECT object_id FROM events) LIMIT 8",
             chunks - 1, CHAOS_CHUNK - 4);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    size_t len = 0;
    out[0] = '\0';
    if (sqlite3_open_v2(td->events_db, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK)
        while (sqlite3_step(st) == SQLITE_ROW && len + 1 < size)
            len += (size_t)snprintf(out + len, size - len, "%s%s", len > 0 ? " " : "",
                                    (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* Waits until cond holds, for as long as jobs keep being recorded; fails
 * once none was for CHAOS_STALL_MS (ctest's timeout bounds the whole). */
static void chaos_wait(fp_td_t *td, bool (*cond)(fp_td_t *td, void *arg), void *arg,
                       const char *what)
{
    long long seen = rows(td), moved_at = fp_th_now_ms();
    while (!cond(td, arg)) {
        long long now = rows(td);
        if (now != seen) {
            seen = now;
            moved_at = fp_th_now_ms();
        } else if (fp_th_now_ms() - moved_at > CHAOS_STALL_MS) {
            /* What is left says whether jobs stopped or their traces did. */
            char why[1024], missing[256];
            chaos_missing(td, missing, sizeof missing);
            snprintf(why, sizeof why,
                     "%s: no job recorded for %d s; %lld rows, %lld distinct ids, "
                     "%lld unsettled in Redis (stream %lld, delayed %lld, dead %lld); "
                     "not recorded: %s",
                     what, CHAOS_STALL_MS / 1000, now, distinct_ids(td), fp_td_unsettled(td),
                     fp_td_xlen(td, FP_TD_JOBS),
                     fp_th_redis_int(&td->redis, "ZCARD %s", FP_TD_DELAYED),
                     fp_td_xlen(td, FP_TD_DEAD), missing);
            fp_td_fail_with_log(td, why);
        }
        fp_td_let_time_pass(100);
    }
}

static void chaos_progress(fp_td_t *td, const chaos_t *c, int percent, const char *what)
{
    long long want = c->total * percent / 100;
    chaos_wait(td, fp_td_events_at_least, &want, what);
}

/* Item by item, the faults of the cases above, while the jobs flow. */
static void chaos_kill_children(fp_td_t *td)
{
    for (int i = 0; i < 10; i++) {
        fp_td_kill_random_child(td);
        fp_td_let_time_pass(100);
    }
}

static void chaos_bad_reload(fp_td_t *td, chaos_t *c)
{
    fp_td_config_replace(td, "[\"python3\",", "[\"/nonexistent\",");
    fp_td_signal(td, SIGHUP);
    fp_td_wait_until(td, fp_td_page_has, &reload_failed, 60000, "the failed reload");
    char *body = NULL;
    if (fp_td_http_get(c->port, "/readyz", &body) != 200)
        fail_msg("not ready after a failed reload: %s", body);
    free(body);
    fp_td_config_replace(td, "[\"/nonexistent\",", "[\"python3\",");
}

static void chaos_silent_start(fp_td_t *td, chaos_t *c)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/hang-start", c->ctl);
    assert_int_equal(fp_th_write_file(path, "", 0), 0);
    fp_td_kill_random_child(td);
    /* No counter keeps a start timeout once a later child started: only the
     * log records it. */
    fp_td_wait_until(td, fp_td_log_has, "(pool.start_timeout)", 60000, "a start timeout");
}

static void chaos_take_entries(fp_td_t *td)
{
    for (int round = 0; round < 10; round++) {
        char ids[16][64];
        int n = own_pending(td, ids, 16);
        if (n > 0 && round % 2 == 0)
            delete_or_trim(td, ids, n, 0);
        else if (n > 0)
            foreign_claim(td, ids, n, round);
        wait_pending_moved(td);
    }
}

static void chaos_same_name(fp_td_t *td)
{
    fp_td_t twin;
    fp_td_twin(td, &twin, NULL);
    fp_td_start(&twin, false);
    assert_int_equal(fp_td_wait(&twin, 30000), 78);
}

static void chaos_redis_flaps(fp_td_t *td)
{
    for (int i = 1; i <= 3; i++)
        fp_td_redis_restart(td);
}

static void chaos_failover(fp_td_t *td, chaos_t *c)
{
    fp_th_redis_t other = {0};
    assert_int_equal(fp_th_redis_start(&other, NULL), 0);
    demote_to_replica_of(td, &other);
    fp_td_wait_until(td, fp_td_page_has, &readyz_replica, 60000, "readyz 503 naming the replica");
    freeReplyObject(fp_th_redis_cmd(&td->redis, "REPLICAOF NO ONE"));
    fp_th_redis_stop(&other);
    fp_td_ready_t r = {c->port, 200};
    fp_td_wait_until(td, fp_td_readyz_is, &r, 60000, "readyz 200 on a primary again");
}

/* A supervisor SIGKILLed cannot stop anything: its children follow it
 * (PDEATHSIG), but what a job started in its child's process group lives on
 * (the service manager's cgroup ends it: README, "Signals"). The test plays
 * that part for the groups of grandchild jobs caught running, so that what
 * is left at the end was left by the restarted daemon. */
static bool orphans_reaped(fp_td_t *td, void *arg)
{
    (void)td;
    const chaos_t *c = arg;
    int pgid = 0;
    if (procs_marked(c->marker, 0, &pgid) == 0)
        return true;
    if (pgid > 1)
        kill(-pgid, SIGKILL);
    return false;
}

static void chaos_reap_orphans(fp_td_t *td, chaos_t *c)
{
    fp_td_wait_until(td, orphans_reaped, c, 30000,
                     "the grandchildren of the killed daemon's jobs to go");
}

/* Every fault of this suite, one after another, against one run of 20,000
 * jobs (child kills, a bad reload, a silent start, channels closed and
 * grandchildren left by jobs, entries deleted, trimmed and claimed away, a
 * second daemon under the same name, Redis restarts, a failover to a
 * replica and back, the supervisor SIGKILLed and restarted): not one job
 * lost, none dead, nothing of a job's process group left. */
static void test_chaos_every_fault_one_run(void **state)
{
    fp_td_t *td = *state;
    chaos_t c;
    chaos_setup(td, &c);
    fp_td_start_ready(td, true);
    chaos_enqueue(td, &c);
    c.port = fp_td_health_port(td);
    srand(20000);
    chaos_progress(td, &c, 5, "5% of the jobs");
    chaos_kill_children(td);
    chaos_progress(td, &c, 10, "10% of the jobs");
    chaos_bad_reload(td, &c);
    chaos_progress(td, &c, 20, "20% of the jobs");
    chaos_silent_start(td, &c);
    chaos_take_entries(td);
    chaos_same_name(td);
    chaos_progress(td, &c, 35, "35% of the jobs");
    chaos_redis_flaps(td);
    chaos_progress(td, &c, 50, "50% of the jobs");
    chaos_failover(td, &c);
    chaos_progress(td, &c, 65, "65% of the jobs");
    assert_true(fp_td_log_has(td, "closed its channel"));
    assert_int_equal(kill(td->pid, SIGKILL), 0);
    assert_int_equal(fp_td_wait(td, 30000), 128 + SIGKILL);
    chaos_reap_orphans(td, &c);
    fp_td_start(td, false);

    want_t every = {c.total};
    chaos_wait(td, all_done, &every, "every id");
    stop_term(td);
    long long lost = c.total - distinct_ids(td), twice = rows(td) - distinct_ids(td);
    print_message("chaos: %lld jobs, lost %lld, run more than once %lld, dead %lld\n", c.total,
                  lost, twice, fp_td_xlen(td, FP_TD_DEAD));
    assert_int_equal(lost, 0);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
    char spans_path[4400];
    snprintf(spans_path, sizeof spans_path, "%s/spans", c.ctl);
    fp_ts_spans_t sp = fp_ts_spans_read(spans_path, "");
    print_message("chaos: at most %lld jobs ran at once (limit %d; %lld spans cut by a kill)\n",
                  sp.max_overlap, CHAOS_CONCURRENCY, sp.unmatched);
    assert_true(sp.max_overlap <= CHAOS_CONCURRENCY);
    assert_true(fp_td_sql(td, "SELECT count(*) FROM events WHERE object_id = '" SCHEDULE_TICK_ID
                              "'") > 0);
    leftovers_t left = {c.marker, 0};
    fp_td_wait_until(td, nothing_left, &left, 30000, "no grandchild left");
}

/* ---- the Redis password stays out of the log ---------------------------- */

/* Runs the daemon with FORKPOOL_REDIS_URL = url until its log has needle,
 * stops it, and checks no line has the password in either form. */
static void expect_password_not_logged(fp_td_t *td, const char *url, const char *needle)
{
    fp_td_config(td, "log_level = \"debug\"\n", NULL);
    setenv("FORKPOOL_REDIS_URL", url, 1);
    fp_td_start(td, false);
    unsetenv("FORKPOOL_REDIS_URL");
    fp_td_wait_until(td, fp_td_log_has, (void *)needle, 30000, needle);
    fp_td_signal(td, SIGTERM);
    fp_td_wait(td, 30000);
    char *log = fp_th_read_file(td->log, NULL);
    assert_non_null(log);
    if (strstr(log, "Wr0ng") != NULL || strstr(log, "pa#ss") != NULL)
        fail_msg("the password reached the log:\n%s", log);
    free(log);
}

static void test_password_not_logged_when_refused(void **state)
{
    fp_td_t *td = *state;
    redisReply *r = fp_th_redis_cmd(&td->redis, "CONFIG SET requirepass right-one-42");
    assert_non_null(r);
    freeReplyObject(r);
    char url[256];
    snprintf(url, sizeof url, "redis://app:Wr0ng?pa#ss%%40word@127.0.0.1:%d/0", td->redis.port);
    expect_password_not_logged(td, url, "AUTH failed");
    r = fp_th_redis_cmd(&td->redis, "CONFIG SET requirepass \"\"");
    if (r != NULL)
        freeReplyObject(r);
}

static void test_password_not_logged_when_port_closed(void **state)
{
    fp_td_t *td = *state;
    char url[256];
    snprintf(url, sizeof url, "redis://:Wr0ng?pa#ss%%40word@127.0.0.1:%d/0", fp_th_free_port());
    expect_password_not_logged(td, url, "127.0.0.1:");
}

int main(int argc, char **argv)
{
    /* test_it_faults NAME runs one test; --skip PATTERN all but those. */
    if (argc > 2 && strcmp(argv[1], "--skip") == 0)
        cmocka_set_skip_filter(argv[2]);
    else if (argc > 1)
        cmocka_set_test_filter(argv[1]);
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
        T(test_same_name_second_daemon_refused),
        T(test_same_name_twin_container_refused),
        T(test_same_name_different_queues_both_run),
        T(test_same_name_overlapping_queues_refused),
        T(test_lease_of_one_queue_lost_mid_run),
        T(test_same_name_restart_after_sigkill),
        T_AOF(test_redis_flaps_do_not_inflate_deliveries),
        T(test_failover_readonly_replica),
        T(test_entries_deleted_and_trimmed_while_running),
        T(test_foreign_claims_of_running_entries),
        T(test_orphaned_entry_retry_lands_from_outcome),
        T(test_orphaned_entry_seen_by_renewal_as_deleted),
        T(test_bad_reload_exec_keeps_old_children),
        T(test_bad_reload_native_init_keeps_old_children),
        T(test_bad_reload_single_child_keeps_serving),
        T(test_bad_reload_single_child_undone_then_fixed),
        T(test_child_closing_channel_mid_job),
        T(test_timeout_and_kill_stop_grandchildren),
        T(test_start_timeout_kills_silent_child),
        T(test_password_not_logged_when_refused),
        T(test_password_not_logged_when_port_closed),
        T_AOF(test_chaos_every_fault_one_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
