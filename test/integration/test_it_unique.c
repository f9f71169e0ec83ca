/* test_it_unique.c: unique jobs end to end, with a real redis-server, the
 * real binary's `enqueue --unique` and a daemon running the exec worker
 * (test/data/exec_worker.py): a duplicate is refused while the first job
 * waits (and, until done, while it runs), the key is released by success,
 * by dead, at start (until start) and by expiry, a retry keeps it, an old
 * job never releases a newer holder's key, a dead job retried takes it back,
 * and a daemon SIGKILLed mid-job leaks nothing: the job runs again after the
 * restart and its success releases the key. Waits are conditions, never
 * durations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "unique_cli.h"

#define KEY "fp:{default}:unique:order-17"

/* One exec child; pool_extra: more [pool] lines ("" for none). */
static void unique_config_with(fp_td_t *td, const char *pool_extra)
{
    char command[4300], text[8192];
    fp_td_exec_worker_command(command, sizeof command, NULL);
    snprintf(text, sizeof text,
             "[pool]\nruntime = \"exec\"\ncommand = %s\nkill_grace = \"200ms\"\nchildren = 1\n"
             "%s[retry]\nbackoff_base = \"1h\"\nbackoff_max = \"2h\"\n",
             command, pool_extra);
    fp_td_config(td, "log_level = \"debug\"\n", text);
}

static void unique_config(fp_td_t *td)
{
    unique_config_with(td, "");
}

/* forkpool enqueue -c CONFIG --json ARGS... (NULL-terminated, at most 8):
 * exit 0 asserted; its one line of output into out. */
static void enqueue(fp_td_t *td, char *out, size_t cap, ...)
{
    const char *argv[16] = {fp_th_env("FORKPOOL_BIN"), "enqueue", "-c", td->config, "--json"};
    size_t n = 5;
    va_list ap;
    va_start(ap, cap);
    for (const char *a; n < 14 && (a = va_arg(ap, const char *)) != NULL;)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    fp_th_result_t r;
    assert_int_equal(fp_th_run(argv, NULL, NULL, 0, 60000, &r), 0);
    if (r.status != 0)
        fail_msg("enqueue exited %d: %s", r.status, r.err);
    snprintf(out, cap, "%s", r.out);
    fp_th_result_free(&r);
}

static char *get_key(fp_td_t *td, const char *key)
{
    redisReply *r = fp_th_redis_cmd(&td->redis, "GET %s", key);
    assert_non_null(r);
    char *v = r->type == REDIS_REPLY_STRING ? strdup(r->str) : NULL;
    freeReplyObject(r);
    return v;
}

/* The key exists and holds want. */
static void expect_key(fp_td_t *td, const char *key, const char *want)
{
    char *v = get_key(td, key);
    assert_non_null(v);
    assert_string_equal(v, want);
    free(v);
}

static bool key_gone(fp_td_t *td, void *arg)
{
    return !fp_td_redis_has(td, arg);
}

static void gate_path(const fp_td_t *td, char *out, size_t cap)
{
    snprintf(out, cap, "{\"path\":\"%s/gate\"}", td->dir);
}

/* A gate job with unique key order-17 (and `until` when not NULL), running:
 * the daemon started and holding it. Its id into first; its args into args. */
static void start_gate_job(fp_td_t *td, const char *until, char *first, size_t cap, char *args,
                           size_t args_cap)
{
    char line[256];
    unique_config(td);
    gate_path(td, args, args_cap);
    if (until != NULL)
        enqueue(td, line, sizeof line, "--unique", "order-17", "--unique-until", until, "gate",
                args, NULL);
    else
        enqueue(td, line, sizeof line, "--unique", "order-17", "gate", args, NULL);
    assert_false(fp_td_unique_line(line, first, cap));
    assert_true(fp_td_redis_has(td, KEY));
    fp_td_start_ready(td, true);
    fp_td_wait_held(td, 1);
}

/* Runs the daemon until every job settled: the key is gone, nothing went
 * dead, and the next enqueue with the key is a new job, not first. */
static void settle_released(fp_td_t *td, const char *first)
{
    char line[256], id[64];
    fp_td_run_until_settled(td);
    assert_false(fp_td_redis_has(td, KEY));
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
    enqueue(td, line, sizeof line, "--unique", "order-17", "noop", NULL);
    assert_false(fp_td_unique_line(line, id, sizeof id));
    assert_string_not_equal(id, first);
}

/* Refused while waiting (per queue); accepted again after success. */
static void test_duplicate_refused_while_waiting(void **state)
{
    fp_td_t *td = *state;
    unique_config(td);
    char line[256], first[64], id[64];
    enqueue(td, line, sizeof line, "--unique", "order-17", "noop", NULL);
    assert_false(fp_td_unique_line(line, first, sizeof first));
    enqueue(td, line, sizeof line, "--unique", "order-17", "noop", "{\"n\":2}", NULL);
    assert_true(fp_td_unique_line(line, id, sizeof id));
    assert_string_equal(id, first);
    assert_int_equal(fp_td_xlen(td, FP_TD_JOBS), 1);
    /* A key is per queue. */
    enqueue(td, line, sizeof line, "--queue", "mail", "--unique", "order-17", "noop", NULL);
    assert_false(fp_td_unique_line(line, id, sizeof id));
    expect_key(td, KEY, first);
    settle_released(td, first);
}

/* Dead releases the key; a retry keeps it; `dead retry` takes it back. */
static void test_dead_releases_retry_keeps(void **state)
{
    fp_td_t *td = *state;
    unique_config(td);
    char line[256], id[64], flaky[64];
    enqueue(td, line, sizeof line, "--unique", "order-17", "fail", "{\"retry\":false}", NULL);
    fp_td_unique_line(line, id, sizeof id);
    enqueue(td, line, sizeof line, "--unique", "flaky", "fail", "{\"retry\":true}", NULL);
    fp_td_unique_line(line, flaky, sizeof flaky);
    fp_td_run_until_settled(td);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 1);
    assert_false(fp_td_redis_has(td, KEY));
    assert_int_equal(fp_td_zcard(td, FP_TD_DELAYED), 1);
    expect_key(td, "fp:{default}:unique:flaky", flaky); /* a retry keeps its key */

    const char *argv[] = {fp_th_env("FORKPOOL_BIN"), "dead", "retry", "-c", td->config, "--all",
                          NULL};
    fp_th_result_t r;
    assert_int_equal(fp_th_run(argv, NULL, NULL, 0, 60000, &r), 0);
    assert_int_equal(r.status, 0);
    fp_th_result_free(&r);
    expect_key(td, KEY, id);
    assert_int_equal(fp_th_redis_int(&td->redis, "PTTL %s", KEY) > 0, 1);
}

/* until done: held while running, released by success. */
static void test_until_done_holds_while_running(void **state)
{
    fp_td_t *td = *state;
    char line[256], first[64], id[64], args[4300];
    start_gate_job(td, NULL, first, sizeof first, args, sizeof args);
    enqueue(td, line, sizeof line, "--unique", "order-17", "gate", args, NULL);
    assert_true(fp_td_unique_line(line, id, sizeof id));
    assert_string_equal(id, first);
    fp_td_open_gate(td);
    fp_td_wait_until(td, key_gone, (void *)KEY, 60000, "the key released by success");
    fp_td_wait_until(td, fp_td_drained, NULL, 60000, "every job settled");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 60000), 0);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
}

/* until start: released once a daemon takes it; a second one is added. */
static void test_until_start_releases_when_taken(void **state)
{
    fp_td_t *td = *state;
    char line[256], first[64], id[64], args[4300];
    start_gate_job(td, "start", first, sizeof first, args, sizeof args);
    fp_td_wait_until(td, key_gone, (void *)KEY, 60000, "the key released at start");
    enqueue(td, line, sizeof line, "--unique", "order-17", "--unique-until", "start", "gate", args,
            NULL);
    assert_false(fp_td_unique_line(line, id, sizeof id));
    expect_key(td, KEY, id);
    fp_td_open_gate(td);
    fp_td_wait_until(td, key_gone, (void *)KEY, 60000, "the second key released");
    fp_td_wait_until(td, fp_td_drained, NULL, 60000, "every job settled");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 60000), 0);
}

/* until start, prefetched behind a busy child: handed over but not started,
 * it keeps its key; SIGTERM puts it back in the stream with the key still
 * held, so a second enqueue is a duplicate. */
static void test_until_start_kept_by_put_back(void **state)
{
    fp_td_t *td = *state;
    char line[256], gate[64], first[64], id[64], args[4300];
    unique_config_with(td, "prefetch = 4\n");
    gate_path(td, args, sizeof args);
    enqueue(td, line, sizeof line, "gate", args, NULL);
    fp_td_unique_line(line, gate, sizeof gate);
    fp_td_start_ready(td, true);
    fp_td_wait_held(td, 1);
    enqueue(td, line, sizeof line, "--unique", "order-17", "--unique-until", "start", "noop",
            NULL);
    assert_false(fp_td_unique_line(line, first, sizeof first));
    fp_td_wait_held(td, 2); /* prefetched: held by the supervisor, not started */
    fp_td_signal(td, SIGTERM);
    /* Put back (pending: the gate job only) before the gate opens, so the
     * freed child cannot start it first. */
    long long one = 1;
    fp_td_wait_until(td, fp_td_pending_is, &one, 60000, "the prefetched job put back");
    expect_key(td, KEY, first);
    fp_td_open_gate(td);
    assert_int_equal(fp_td_wait(td, 60000), 0);
    assert_int_equal(fp_td_xlen(td, FP_TD_JOBS), 1); /* the unique job, put back */
    assert_int_equal(fp_td_pending(td), 0);
    expect_key(td, KEY, first);
    enqueue(td, line, sizeof line, "--unique", "order-17", "noop", NULL);
    assert_true(fp_td_unique_line(line, id, sizeof id));
    assert_string_equal(id, first);
    /* Run again, it starts, and its start releases the key. */
    fp_td_run_until_settled(td);
    assert_false(fp_td_redis_has(td, KEY));
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
}

static void redis_do(fp_td_t *td, const char *fmt, const char *a, const char *b)
{
    redisReply *r = fp_th_redis_cmd(&td->redis, fmt, a, b);
    assert_non_null(r);
    assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
}

/* An operator whose Redis user may not write unique keys retries a dead
 * unique job: the retake is refused (NOPERM) but the retry still moves the
 * job exactly once — back in the stream, gone from dead — rather than
 * stopping the script between its XADD and its XDEL. */
static void test_dead_retry_without_unique_key_permission(void **state)
{
    fp_td_t *td = *state;
    unique_config(td);
    char line[256], id[64];
    enqueue(td, line, sizeof line, "--unique", "order-17", "fail", "{\"retry\":false}", NULL);
    fp_td_unique_line(line, id, sizeof id);
    fp_td_run_until_settled(td);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 1);
    assert_int_equal(fp_td_xlen(td, FP_TD_JOBS), 0);
    redis_do(td, "ACL SETUSER ops on >ops-pw %s %s +@all",
             "~fp:{default}:jobs", "~fp:{default}:dead");
    char from[128], to[160];
    snprintf(from, sizeof from, "%s", fp_th_redis_url(&td->redis));
    snprintf(to, sizeof to, "redis://ops:ops-pw@%s", from + strlen("redis://"));
    fp_td_config_replace(td, from, to);
    const char *argv[] = {fp_th_env("FORKPOOL_BIN"), "dead", "retry", "-c", td->config, "--all",
                          NULL};
    fp_th_result_t r;
    assert_int_equal(fp_th_run(argv, NULL, NULL, 0, 60000, &r), 0);
    int status = r.status;
    fp_th_result_free(&r);
    assert_int_equal(fp_td_xlen(td, FP_TD_JOBS), 1);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
    assert_int_equal(status, 0);
    assert_false(fp_td_redis_has(td, KEY));
}

/* Payloads the daemon refuses (as another producer could add them, key set
 * by the enqueue script) go dead, and their dead outcome still releases a
 * key holding their id: a bad "unique" member with a string id, and a
 * number id (compared as a string). A key of another type is left alone
 * without stopping the outcome script: each job is dead once. */
static void test_bad_payload_dead_releases(void **state)
{
    fp_td_t *td = *state;
    static const char *const jobs[] = {
        "{\"type\":\"noop\",\"id\":\"bad-1\",\"unique\":{\"key\":\"order-17\",\"x\":1}}",
        "{\"type\":\"noop\",\"id\":5,\"unique\":{\"key\":\"num\"}}",
        "{\"type\":\"noop\",\"id\":\"w\",\"unique\":{\"key\":\"list\",\"x\":1}}",
    };
    unique_config(td);
    redis_do(td, "SET %s %s", KEY, "bad-1");
    redis_do(td, "SET %s %s", "fp:{default}:unique:num", "5");
    redis_do(td, "RPUSH %s %s", "fp:{default}:unique:list", "w");
    for (size_t i = 0; i < 3; i++)
        fp_td_enqueue_raw(td, jobs[i], strlen(jobs[i]));
    fp_td_run_until_settled(td);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 3);
    assert_int_equal(fp_td_xlen(td, FP_TD_JOBS), 0);
    assert_false(fp_td_redis_has(td, KEY));
    assert_false(fp_td_redis_has(td, "fp:{default}:unique:num"));
    assert_int_equal(fp_th_redis_int(&td->redis, "LLEN %s", "fp:{default}:unique:list"), 1);
}

/* --unique-for: the key expires on its own, and the next enqueue is added. */
static void test_expiry(void **state)
{
    fp_td_t *td = *state;
    unique_config(td);
    char line[256], id[64];
    enqueue(td, line, sizeof line, "--unique", "order-17", "--unique-for", "300ms", "noop", NULL);
    long long ttl = fp_th_redis_int(&td->redis, "PTTL %s", KEY);
    /* -2: already gone, on a machine slow enough to take 300 ms between the
     * enqueue and PTTL (a bound, never a duration, is asserted). */
    assert_true(ttl == -2 || (ttl > 0 && ttl <= 300));
    fp_td_wait_until(td, key_gone, (void *)KEY, 60000, "the key to expire");
    enqueue(td, line, sizeof line, "--unique", "order-17", "noop", NULL);
    assert_false(fp_td_unique_line(line, id, sizeof id));
    assert_int_equal(fp_td_xlen(td, FP_TD_JOBS), 2);
    /* Without --unique-for: a day. */
    ttl = fp_th_redis_int(&td->redis, "PTTL %s", KEY);
    assert_true(ttl > 23LL * 3600 * 1000 && ttl <= 24LL * 3600 * 1000);
}

/* An old job's outcome never releases a key a newer job holds. */
static void test_old_job_never_releases_newer_holder(void **state)
{
    fp_td_t *td = *state;
    unique_config(td);
    char line[256];
    enqueue(td, line, sizeof line, "--unique", "order-17", "noop", NULL);
    /* As if the key had expired and another job had taken it. */
    assert_int_equal(fp_th_redis_int(&td->redis, "EXISTS %s", KEY), 1);
    redisReply *r = fp_th_redis_cmd(&td->redis, "SET %s newer-job", KEY);
    freeReplyObject(r);
    fp_td_run_until_settled(td);
    expect_key(td, KEY, "newer-job");
}

/* A daemon SIGKILLed mid-job: restarted, it runs the job again and its
 * success releases the key; nothing is left behind. */
static void test_sigkill_mid_job_leaks_nothing(void **state)
{
    fp_td_t *td = *state;
    char first[64], args[4300];
    start_gate_job(td, NULL, first, sizeof first, args, sizeof args);
    fp_td_signal(td, SIGKILL);
    fp_td_wait(td, 60000);
    expect_key(td, KEY, first); /* still held: the job is not done */
    assert_int_equal(fp_td_pending(td), 1);
    fp_td_open_gate(td);
    settle_released(td, first);
}

/* --wait-replicas: an added unique job is waited for (this Redis has no
 * replica: exit 69); a duplicate wrote nothing and exits 0. */
static void test_wait_replicas(void **state)
{
    fp_td_t *td = *state;
    unique_config(td);
    const char *argv[] = {fp_th_env("FORKPOOL_BIN"), "enqueue", "-c", td->config,
                          "--wait-replicas", "1", "--wait-timeout", "50ms", "--unique",
                          "order-17", "noop", NULL};
    fp_th_result_t r;
    assert_int_equal(fp_th_run(argv, NULL, NULL, 0, 60000, &r), 0);
    assert_int_equal(r.status, 69);
    assert_non_null(strstr(r.err, "1 job(s) enqueued to default, but only 0 of 1 replicas"));
    fp_th_result_free(&r);
    assert_int_equal(fp_th_run(argv, NULL, NULL, 0, 60000, &r), 0);
    assert_int_equal(r.status, 0);
    char *v = get_key(td, KEY);
    assert_non_null(v);
    assert_int_equal(strncmp(r.out, v, strlen(v)), 0);
    free(v);
    fp_th_result_free(&r);
    assert_int_equal(fp_td_xlen(td, FP_TD_JOBS), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_duplicate_refused_while_waiting, fp_td_setup,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_dead_retry_without_unique_key_permission,
                                        fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_dead_releases_retry_keeps, fp_td_setup,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_until_done_holds_while_running, fp_td_setup,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_until_start_releases_when_taken, fp_td_setup,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_until_start_kept_by_put_back, fp_td_setup,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_bad_payload_dead_releases, fp_td_setup,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_expiry, fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_old_job_never_releases_newer_holder, fp_td_setup,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_mid_job_leaks_nothing, fp_td_setup,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_wait_replicas, fp_td_setup, fp_td_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
