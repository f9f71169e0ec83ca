/* test_it_cancel.c: `forkpool cancel ID` as an operator runs it, with a real
 * redis-server and the real binary: a ready job (by its id and by its entry
 * id) and a delayed job are removed and written to the dead stream with the
 * error "cancelled" and never run (a --burst daemon afterwards runs only the
 * other job); a unique job's key is released by the cancel; a running job
 * is marked for its daemon, which stops it and settles it as cancelled (a
 * native sleep job, Python jobs), with the default visibility timeout (the
 * daemon looks for marks every second, not at the claim renewal); a cancel
 * during a timeout's kill ends the job as cancelled; a cancelled job queued
 * in a child that dies is settled, not handed on; a dead or unknown job is
 * exit 1, --json's document, bad arguments 64 and Redis down 69. Waits are
 * conditions with generous deadlines, never durations. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_fixture.h"
#include "daemon.h"

/* forkpool SUB -c CONFIG ARGS... (NULL-terminated, at most 6). */
static fp_th_result_t cli(const fp_td_t *td, const char *sub, const char *a1, const char *a2,
                          const char *a3, const char *a4, const char *a5, const char *a6)
{
    static const char *const env[] = {"COLUMNS=200", NULL};
    fp_th_result_t r =
        fp_tcli_run_with(env, sub, "-c", td->config, a1, a2, a3, a4, a5, a6, NULL);
    if (strstr(r.err, "AddressSanitizer") != NULL || strstr(r.err, "runtime error:") != NULL)
        fail_msg("sanitizer report: %s", r.err);
    return r;
}

static fp_th_result_t cancel(const fp_td_t *td, const char *a1, const char *a2, const char *a3)
{
    return cli(td, "cancel", a1, a2, a3, NULL, NULL, NULL);
}

/* `forkpool cancel ID` exits 0 and prints want exactly. */
static void expect_cancelled(const fp_td_t *td, const char *id, const char *want)
{
    fp_th_result_t r = cancel(td, id, NULL, NULL);
    if (r.status != 0)
        fail_msg("cancel %s: exit %d: %s", id, r.status, r.err);
    assert_string_equal(r.out, want);
    fp_th_result_free(&r);
}

/* `forkpool cancel ARGS` exits status with needle in its stderr. */
static void expect_refused(const fp_td_t *td, const char *a1, const char *a2, int status,
                           const char *needle)
{
    fp_th_result_t r = cancel(td, a1, a2, NULL);
    if (r.status != status || strstr(r.err, needle) == NULL)
        fail_msg("cancel %s %s: exit %d (want %d), stderr %s", a1, a2 != NULL ? a2 : "",
                 r.status, status, r.err);
    assert_string_equal(r.out, "");
    fp_th_result_free(&r);
}

static void enqueue_payload(fp_td_t *td, const char *payload)
{
    fp_td_enqueue_raw(td, payload, strlen(payload));
}

/* The entry id of the newest job in the default stream. */
static void newest_entry_id(fp_td_t *td, char *out, size_t cap)
{
    redisReply *r = fp_th_redis_cmd(&td->redis, "XREVRANGE %s + - COUNT 1", FP_TD_JOBS);
    assert_non_null(r);
    assert_int_equal(r->elements, 1);
    snprintf(out, cap, "%s", r->element[0]->element[0]->str);
    freeReplyObject(r);
}

static void test_ready_never_runs(void **state)
{
    fp_td_t *td = *state;
    char entry[64];
    fp_td_config(td, NULL, NULL);
    enqueue_payload(td, "{\"type\":\"noop\",\"id\":\"c-1\"}");
    enqueue_payload(td, "{\"type\":\"noop\",\"id\":\"c-2\"}");
    newest_entry_id(td, entry, sizeof entry);
    enqueue_payload(td, "{\"type\":\"noop\",\"id\":\"keep\"}");

    expect_cancelled(td, "c-1", "cancelled (was ready)\n");
    expect_cancelled(td, entry, "cancelled (was ready)\n"); /* c-2, by its entry id */
    assert_int_equal(fp_td_xlen(td, FP_TD_JOBS), 1);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 2);
    assert_true(fp_td_dead_has(td, "error", "cancelled"));
    assert_true(fp_td_dead_has(td, "job", "\"id\":\"c-2\""));
    assert_true(fp_td_dead_has(td, "consumer", "forkpool cancel"));
    assert_true(fp_td_dead_has(td, "attempts", "0"));

    /* Cancelled again: it is dead now, nothing more happens. */
    expect_refused(td, "c-1", NULL, 1, "job c-1 is already dead in queue default");
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 2);

    fp_td_start(td, true);
    assert_int_equal(fp_td_wait(td, 60000), 0);
    assert_int_equal(fp_td_jobs_done(td), 1); /* only "keep" ran */
}

static void test_delayed_and_json(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, NULL);
    redisReply *z = fp_th_redis_cmd(&td->redis, "ZADD %s 99999999999999 %s", FP_TD_DELAYED,
                                    "{\"type\":\"noop\",\"id\":\"later-1\",\"attempt\":2}");
    assert_non_null(z);
    freeReplyObject(z);

    fp_th_result_t r = cancel(td, "--json", "later-1", NULL);
    assert_int_equal(r.status, 0);
    cJSON *doc = cJSON_Parse(r.out);
    assert_non_null(doc);
    assert_string_equal(cJSON_GetObjectItem(doc, "id")->valuestring, "later-1");
    assert_string_equal(cJSON_GetObjectItem(doc, "queue")->valuestring, "default");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(doc, "cancelled")));
    assert_string_equal(cJSON_GetObjectItem(doc, "was")->valuestring, "delayed");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(doc, "entry_id")));
    assert_true(cJSON_IsString(cJSON_GetObjectItem(doc, "dead_id")));
    cJSON_Delete(doc);
    fp_th_result_free(&r);

    assert_int_equal(fp_td_zcard(td, FP_TD_DELAYED), 0);
    assert_true(fp_td_dead_has(td, "job", "later-1"));
    assert_true(fp_td_dead_has(td, "attempts", "2"));
}

static long long key_exists(fp_td_t *td, const char *key)
{
    redisReply *r = fp_th_redis_cmd(&td->redis, "EXISTS %s", key);
    assert_non_null(r);
    long long n = r->integer;
    freeReplyObject(r);
    return n;
}

static void test_unique_key_released(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, NULL);
    fp_th_result_t r = cli(td, "enqueue", "--unique", "report-7", "noop", NULL, NULL, NULL);
    assert_int_equal(r.status, 0);
    char id[128];
    snprintf(id, sizeof id, "%s", r.out);
    id[strcspn(id, "\n")] = '\0';
    fp_th_result_free(&r);
    assert_int_equal(key_exists(td, "fp:{default}:unique:report-7"), 1);

    expect_cancelled(td, id, "cancelled (was ready)\n");
    assert_int_equal(key_exists(td, "fp:{default}:unique:report-7"), 0);

    /* The key is free: the same key enqueues a new job, not a duplicate. */
    r = cli(td, "enqueue", "--json", "--unique", "report-7", "noop", NULL, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"duplicate\":false"));
    fp_th_result_free(&r);
}

/* The config for running jobs: the default visibility timeout (5 min: a
 * cancel must not wait for a claim renewal, 100 s away), the kill grace,
 * pool_lines in [pool], a ledger at ledger, and retries far ahead (a
 * retried job would show in the delayed set). */
static void running_config_with(fp_td_t *td, const char *grace, const char *pool_lines,
                                char *ledger, size_t cap)
{
    char extra[8192];
    snprintf(ledger, cap, "%s/ledger.db", td->dir);
    snprintf(extra, sizeof extra,
             "[pool]\nkill_grace = \"%s\"\n%s"
             "[ledger]\npath = \"%s\"\n"
             "[retry]\nbackoff_base = \"1h\"\nbackoff_max = \"2h\"\njitter = false\n",
             grace, pool_lines, ledger);
    fp_td_config(td, NULL, extra);
}

static void running_config(fp_td_t *td, const char *grace, char *ledger, size_t cap)
{
    running_config_with(td, grace, "", ledger, cap);
}

static bool ledger_has_cancelled(fp_td_t *td, void *arg)
{
    (void)td;
    return fp_td_sql_at(arg, "SELECT count(*) FROM jobs WHERE outcome = 'cancelled'") > 0;
}

static bool ledger_has_row(fp_td_t *td, void *arg)
{
    (void)td;
    return fp_td_sql_at(arg, "SELECT count(*) FROM jobs") > 0;
}

/* Cancels a running job (--json) and asserts it was requested (the mark in
 * the queue's cancel hash, entry id -> when, with a bounded lifetime). */
static void expect_requested(fp_td_t *td, const char *id, const char *entry)
{
    fp_th_result_t r = cancel(td, "--json", id, NULL);
    if (r.status != 0)
        fail_msg("cancel %s: exit %d: %s", id, r.status, r.err);
    assert_non_null(strstr(r.out, "\"cancelled\":false"));
    assert_non_null(strstr(r.out, "\"requested\":true"));
    assert_non_null(strstr(r.out, entry));
    fp_th_result_free(&r);
    redisReply *h = fp_th_redis_cmd(&td->redis, "PTTL fp:{default}:cancel");
    assert_non_null(h);
    assert_true(h->integer > 0 || h->integer == -2); /* bounded, or already taken */
    freeReplyObject(h);
}

/* Enqueues payload (the job id), starts the daemon, waits until it holds
 * `held` jobs, and cancels the job: requested. */
static void run_and_cancel(fp_td_t *td, const char *payload, const char *id, int held)
{
    char entry[64];
    enqueue_payload(td, payload);
    newest_entry_id(td, entry, sizeof entry);
    fp_td_start_ready(td, true);
    fp_td_wait_held(td, held);
    expect_requested(td, id, entry);
}

/* Enqueues payload (the job id), starts the daemon, waits until it runs
 * it, SIGKILLs the daemon (its child follows it: PDEATHSIG) and cancels the
 * job: requested, the mark left for the entry's next holder. */
static void run_and_cancel_after(fp_td_t *td, const char *payload, const char *id)
{
    char entry[64];
    enqueue_payload(td, payload);
    newest_entry_id(td, entry, sizeof entry);
    fp_td_start_ready(td, true);
    fp_td_wait_held(td, 1);
    assert_int_equal(kill(td->pid, SIGKILL), 0);
    assert_int_equal(fp_td_wait(td, 30000), 128 + SIGKILL);
    assert_int_equal(fp_td_pending(td), 1);
    expect_requested(td, id, entry);
    assert_int_equal(key_exists(td, "fp:{default}:cancel"), 1);
}

/* The cancelled job reaches the dead stream (error cancelled) and its
 * ledger row says cancelled; nothing pending beyond `pending`, nothing
 * retried. */
static void wait_cancelled(fp_td_t *td, const char *ledger, long long pending)
{
    long long one = 1;
    fp_td_wait_until(td, fp_td_dead_is, &one, 20000, "the cancelled job in the dead stream");
    assert_true(fp_td_dead_has(td, "error", "cancelled"));
    fp_td_wait_until(td, ledger_has_cancelled, (void *)ledger, 20000, "the ledger's cancelled row");
    assert_int_equal(fp_td_pending(td), pending);
    assert_int_equal(fp_td_zcard(td, FP_TD_DELAYED), 0); /* not retried */
}

/* A running native sleep job: the daemon sees the mark, the child (which
 * cannot interrupt a C handler) is stopped after the grace, and the job is
 * dead with the error cancelled, not retried, its ledger row cancelled. */
static void test_running_native_cancelled(void **state)
{
    fp_td_t *td = *state;
    char ledger[512];
    running_config(td, "200ms", ledger, sizeof ledger);
    run_and_cancel(td, "{\"type\":\"sleep\",\"args\":{\"ms\":60000},\"id\":\"slow-1\"}",
                   "slow-1", 1);
    wait_cancelled(td, ledger, 0);
    assert_true(fp_td_dead_has(td, "job", "\"id\":\"slow-1\""));
    assert_int_equal(fp_td_sql_at(ledger, "SELECT count(*) FROM jobs"), 1);
    assert_int_equal(key_exists(td, "fp:{default}:cancel"), 0); /* the mark was taken */
}

/* A job the daemon holds but has not started (prefetched behind a long one
 * on the only child) is settled cancelled without running; the long one
 * runs on. */
static void test_waiting_in_daemon_never_runs(void **state)
{
    fp_td_t *td = *state;
    char ledger[512];
    running_config_with(td, "200ms", "children = 1\nprefetch = 1\n", ledger, sizeof ledger);
    enqueue_payload(td, "{\"type\":\"sleep\",\"args\":{\"ms\":60000},\"id\":\"long\"}");
    run_and_cancel(td, "{\"type\":\"noop\",\"id\":\"behind\"}", "behind", 2);
    wait_cancelled(td, ledger, 1); /* the long job runs on */
    assert_true(fp_td_dead_has(td, "job", "\"id\":\"behind\""));
    assert_int_equal(fp_td_sql_at(ledger, "SELECT count(*) FROM jobs WHERE job_id = 'behind' AND "
                                          "outcome = 'cancelled' AND started_at IS NULL"), 1);
    assert_int_equal(fp_td_log_count(td, "job behind was cancelled before it started"), 1);
}

/* The exec worker's [pool] lines, then more. */
static void exec_pool(char *pool, size_t cap, const char *more)
{
    char command[4400];
    fp_td_exec_worker_command(command, sizeof command, NULL);
    snprintf(pool, cap, "runtime = \"exec\"\ncommand = %s\n%s", command, more);
}

static void touch(const fp_td_t *td, const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", td->dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
}

/* A job of the Python exec worker (type, in order): the daemon's TERM after
 * the grace, with the cancel line waiting, raises what the handler marks
 * (marker.what); dead cancelled, not retried, ledger row cancelled. */
static void python_job_cancelled(fp_td_t *td, const char *type, const char *what)
{
    char ledger[512], pool[4600], payload[1024];
    exec_pool(pool, sizeof pool, "");
    running_config_with(td, "500ms", pool, ledger, sizeof ledger);
    snprintf(payload, sizeof payload,
             "{\"type\":\"%s\",\"args\":{\"marker\":\"%s/m\"},\"id\":\"py-1\"}", type, td->dir);
    run_and_cancel(td, payload, "py-1", 1);
    wait_cancelled(td, ledger, 0);
    char marker[600];
    snprintf(marker, sizeof marker, "%s/m.%s", td->dir, what);
    fp_td_file_has_t seen = {marker, what};
    fp_td_wait_until(td, fp_td_file_has, &seen, 20000, "the handler's marker");
    /* The worker's "cancelled" answer to the TERM settled it: not dropped
     * as late. */
    assert_int_equal(fp_td_log_count(td, "it does not hold"), 0);
}

/* The exec worker with pool_more in [pool], a grace of an hour (no KILL
 * the test did not ask for), and a job of type `type` (id `id`) that waits
 * for the file "gate" in the test's directory; its entry id into entry. */
static void gated_job(fp_td_t *td, const char *pool_more, const char *type, const char *id,
                      char *ledger, size_t cap, char *entry, size_t entry_cap)
{
    char pool[4600], payload[1024];
    exec_pool(pool, sizeof pool, pool_more);
    running_config_with(td, "1h", pool, ledger, cap);
    snprintf(payload, sizeof payload,
             "{\"type\":\"%s\",\"args\":{\"path\":\"%s/gate\"},\"id\":\"%s\"}", type,
             td->dir, id);
    enqueue_payload(td, payload);
    newest_entry_id(td, entry, entry_cap);
}

/* A job being killed for its timeout (its handler ignores the TERM) is
 * cancelled meanwhile: the daemon takes the mark, and the kill ends it as
 * cancelled, not as a retried timeout. */
static void test_cancel_during_timeout_kill(void **state)
{
    fp_td_t *td = *state;
    char ledger[512], entry[64];
    gated_job(td, "job_timeout = \"1s\"\n", "term_proof", "to-1", ledger, sizeof ledger, entry,
              sizeof entry);
    fp_td_start_ready(td, true);
    fp_td_wait_until(td, fp_td_log_has, "timed out; sending SIGTERM", 20000, "the timeout's TERM");
    expect_requested(td, "to-1", entry);
    fp_td_wait_until(td, fp_td_log_has, "cancelled while being stopped for its timeout", 20000,
                     "the daemon taking the mark");
    touch(td, "gate"); /* the child exits now */
    wait_cancelled(td, ledger, 0);
    assert_int_equal(fp_td_sql_at(ledger, "SELECT count(*) FROM jobs"), 1);
}

/* A job waiting in a child's socket behind a running one (pool.pipeline)
 * is cancelled, then the child dies of the running job: the waiting one is
 * settled as cancelled, never handed to the next child. */
static void test_cancel_pipelined_then_child_dies(void **state)
{
    fp_td_t *td = *state;
    char ledger[512], entry[64];
    gated_job(td, "children = 1\nprefetch = 1\npipeline = 1\n", "gate_crash", "first", ledger,
              sizeof ledger, entry, sizeof entry);
    run_and_cancel(td, "{\"type\":\"noop\",\"id\":\"behind\"}", "behind", 2);
    fp_td_wait_until(td, fp_td_log_has, "job behind on child", 20000, "the daemon telling the child");
    touch(td, "gate"); /* the running job crashes its child */
    long long one = 1;
    fp_td_wait_until(td, fp_td_dead_is, &one, 20000, "the cancelled job in the dead stream");
    assert_true(fp_td_dead_has(td, "job", "\"id\":\"behind\""));
    assert_true(fp_td_dead_has(td, "error", "cancelled"));
    fp_td_wait_until(td, ledger_has_cancelled, ledger, 20000, "the ledger's cancelled row");
    assert_int_equal(fp_td_sql_at(ledger, "SELECT count(*) FROM jobs WHERE job_id = 'behind' AND "
                                          "outcome = 'cancelled' AND started_at IS NULL"), 1);
    assert_int_equal(fp_td_sql_at(ledger, "SELECT count(*) FROM jobs WHERE job_id = 'behind'"), 1);
    assert_int_equal(fp_td_zcard(td, FP_TD_DELAYED), 1); /* only the crashed one, retried */
}

static void test_python_async_cancelled(void **state)
{
    python_job_cancelled(*state, "await_cancel", "cancelled_error");
}

static void test_python_sync_cancelled(void **state)
{
    python_job_cancelled(*state, "block_cancel", "cancelled");
}

/* A native job the cancel cannot interrupt, which ends well within the
 * grace: its "done" comes before the cancel took effect, and wins. */
static void test_done_before_cancel_wins(void **state)
{
    fp_td_t *td = *state;
    char ledger[512];
    running_config(td, "1h", ledger, sizeof ledger);
    run_and_cancel(td, "{\"type\":\"sleep\",\"args\":{\"ms\":4000},\"id\":\"quick\"}", "quick", 1);
    fp_td_wait_until(td, fp_td_log_has, "job quick on child", 20000, "the daemon acting on it");
    fp_td_wait_until(td, fp_td_drained, NULL, 20000, "the job settled");
    fp_td_wait_until(td, ledger_has_row, ledger, 20000, "the job's ledger row");
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
    assert_int_equal(fp_td_sql_at(ledger, "SELECT count(*) FROM jobs WHERE outcome = 'ok'"), 1);
}

static void test_unknown_bad_args_redis_down(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, NULL);
    enqueue_payload(td, "{\"type\":\"noop\",\"id\":\"here\"}");
    expect_refused(td, "nope", NULL, 1, "forkpool cancel: job nope not found in any queue");
    expect_refused(td, "--queue", "second", 64, "takes exactly one job ID, got 0");
    expect_refused(td, NULL, NULL, 64, "usage: forkpool cancel");
    expect_refused(td, "", NULL, 64, "must not be empty");
    expect_refused(td, "a", "b", 64, "takes exactly one job ID, got 2");
    fp_th_result_t r = cancel(td, "--queue", "second", "here");
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "job here not found in that queue"));
    fp_th_result_free(&r);
    assert_int_equal(fp_td_xlen(td, FP_TD_JOBS), 1);

    int port = td->redis.port;
    fp_th_redis_stop(&td->redis);
    r = cancel(td, "here", NULL, NULL);
    fp_tcli_assert_refused(&r, port);
    fp_th_result_free(&r);
}

/* An entry id names jobs of two queues (ids are times: the same
 * millisecond in both streams): without --queue, cancel refuses and names
 * both, cancelling neither; with --queue it cancels that queue's only. */
static void test_entry_id_in_two_queues(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, "[queues]\nnames = [\"default\", \"second\"]\n");
    const char *entry = "1700000000000-0";
    redisReply *r = fp_th_redis_cmd(&td->redis, "XADD %s %s job %s", FP_TD_JOBS, entry,
                                    "{\"type\":\"noop\",\"id\":\"in-default\"}");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    freeReplyObject(r);
    r = fp_th_redis_cmd(&td->redis, "XADD fp:{second}:jobs %s job %s", entry,
                        "{\"type\":\"noop\",\"id\":\"in-second\"}");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    freeReplyObject(r);

    expect_refused(td, entry, NULL, 1, "is in 2 queues (default, second); nothing cancelled: "
                                       "name one with --queue");
    assert_int_equal(fp_td_xlen(td, FP_TD_JOBS), 1);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
    assert_int_equal(fp_th_redis_int(&td->redis, "XLEN fp:{second}:jobs"), 1);

    fp_th_result_t c = cancel(td, "--queue", "second", entry);
    assert_int_equal(c.status, 0);
    assert_string_equal(c.out, "cancelled (was ready)\n");
    fp_th_result_free(&c);
    assert_int_equal(fp_th_redis_int(&td->redis, "XLEN fp:{second}:jobs"), 0);
    assert_int_equal(fp_td_xlen(td, FP_TD_JOBS), 1); /* default's job untouched */
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
}

/* The daemon holding a running job is SIGKILLed (its child follows it)
 * before its next look at the marks, and the job is cancelled meanwhile: the
 * mark waits in the cancel hash for whoever gets the entry next. */
static void orphan_cancelled(fp_td_t *td, char *ledger, size_t cap)
{
    running_config_with(td, "200ms", "children = 1\n", ledger, cap);
    fp_td_config_replace(td, "[retry]\n",
                         "[recovery]\nvisibility_timeout = \"1s\"\nclaim_interval = \"200ms\"\n"
                         "[retry]\n");
    run_and_cancel_after(td, "{\"type\":\"sleep\",\"args\":{\"ms\":60000},\"id\":\"orphan\"}",
                         "orphan");
}

/* Whoever gets the orphan next (this daemon restarted: its history read;
 * another daemon: its take-over claim) settles it as cancelled without
 * starting it: one ledger row, never started, and no child ran it. */
static void expect_never_restarted(fp_td_t *td, const char *ledger, const char *log)
{
    fp_td_wait_until(td, ledger_has_row, (void *)ledger, 30000, "the orphan's ledger row");
    long long one = 1;
    fp_td_wait_until(td, fp_td_dead_is, &one, 20000, "the orphan in the dead stream");
    assert_true(fp_td_dead_has(td, "error", "cancelled"));
    assert_int_equal(fp_td_sql_at(ledger, "SELECT count(*) FROM jobs WHERE job_id = 'orphan' AND "
                                          "outcome = 'cancelled' AND started_at IS NULL"), 1);
    assert_int_equal(fp_td_sql_at(ledger, "SELECT count(*) FROM jobs"), 1);
    fp_td_t view = *td;
    snprintf(view.log, sizeof view.log, "%s", log);
    assert_int_equal(fp_td_log_count(&view, "job orphan was cancelled before it started"), 1);
    assert_int_equal(fp_td_pending(td), 0);
    assert_int_equal(fp_td_xlen(td, FP_TD_JOBS), 0);
    assert_int_equal(key_exists(td, "fp:{default}:cancel"), 0); /* the outcome took the mark */
}

static void test_orphan_cancelled_not_restarted_on_restart(void **state)
{
    fp_td_t *td = *state;
    char ledger[512], log[4096];
    orphan_cancelled(td, ledger, sizeof ledger);
    fp_td_start(td, false); /* the same name: its history read finds the entry */
    snprintf(log, sizeof log, "%s", td->log);
    expect_never_restarted(td, ledger, log);
}

static void test_orphan_cancelled_not_restarted_on_takeover(void **state)
{
    fp_td_t *td = *state;
    char ledger[512];
    orphan_cancelled(td, ledger, sizeof ledger);
    fp_td_t twin;
    fp_td_twin(td, &twin, "other-daemon");
    fp_td_start(&twin, false); /* another name: it claims the idle entry */
    expect_never_restarted(&twin, ledger, twin.log);
    fp_td_signal(&twin, SIGTERM);
    assert_int_equal(fp_td_wait(&twin, 30000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ready_never_runs, fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_delayed_and_json, fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_unique_key_released, fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_running_native_cancelled, fp_td_setup,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_done_before_cancel_wins, fp_td_setup,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_waiting_in_daemon_never_runs, fp_td_setup,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_python_async_cancelled, fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_python_sync_cancelled, fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_during_timeout_kill, fp_td_setup,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_pipelined_then_child_dies, fp_td_setup,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_bad_args_redis_down, fp_td_setup,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_entry_id_in_two_queues, fp_td_setup,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_orphan_cancelled_not_restarted_on_restart,
                                        fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_orphan_cancelled_not_restarted_on_takeover,
                                        fp_td_setup, fp_td_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
