/* test_it_delivery.c: what an outcome does to the stream when the entry is
 * no longer this daemon's (taken over, deleted while its job runs), what a
 * retry or dead letter keeps of the payload, and whose clock a retry's due
 * time follows. Real redis-server, real forkpool binary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

/* Renewal every second, no take-over sweep of its own after the start, and
 * retries that wait an hour: what lands in delayed stays there. */
#define HOLDING                                                                              \
    "[retry]\nbackoff_base = \"1h\"\nbackoff_max = \"2h\"\n"                               \
    "[recovery]\nvisibility_timeout = \"3s\"\nclaim_interval = \"1h\"\n"
/* Runs until its 3 s timeout fails it. */
#define LONG_JOB                                                                             \
    "{\"type\":\"sleep\",\"args\":{\"ms\":60000},\"timeout\":\"3s\",\"id\":\"%s-%%d%%d\"%s}"

/* The ids pending in the group and their holders, oldest first. */
static size_t pending_entries(fp_td_t *td, char ids[][64], char holders[][64], size_t max)
{
    redisReply *r =
        fp_th_redis_cmd(&td->redis, "XPENDING %s forkpool - + %d", FP_TD_JOBS, (int)max);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    size_t n = r->elements;
    for (size_t i = 0; i < n; i++) {
        snprintf(ids[i], 64, "%s", r->element[i]->element[0]->str);
        snprintf(holders[i], 64, "%s", r->element[i]->element[1]->str);
    }
    freeReplyObject(r);
    return n;
}

static void enqueue_long(fp_td_t *td, const char *name, const char *more)
{
    char fmt[256];
    snprintf(fmt, sizeof fmt, LONG_JOB, name, more);
    fp_td_enqueue(td, 1, fmt);
}

/* The retry landed in delayed, or its outcome was refused as stale (the
 * entry is not this consumer's any more). Needs the health endpoint. */
static bool retry_recorded_or_refused(fp_td_t *td, void *arg)
{
    (void)arg;
    return fp_td_zcard(td, FP_TD_DELAYED) > 0 ||
           fp_td_metric(td, "forkpool_outcomes_stale_total") > 0;
}

/* Another consumer took the entry over while this daemon's job ran (as a
 * live daemon does after a network split): this daemon's retry must not
 * delete the entry, nor add a retry of it, nor take it back by renewing. */
static void test_outcome_of_taken_over_entry_leaves_it_alone(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, "[pool]\nchildren = 1\n" HOLDING);
    fp_td_start_ready(td, true);
    enqueue_long(td, "taken", "");
    fp_td_wait_held(td, 1);
    char ids[4][64], holders[4][64];
    assert_int_equal(pending_entries(td, ids, holders, 4), 1);
    freeReplyObject(fp_th_redis_cmd(&td->redis, "XCLAIM %s forkpool thief 0 %s", FP_TD_JOBS,
                                    ids[0]));
    fp_td_num_t retried = {"counters.jobs_retried", 1};
    fp_td_wait_until(td, fp_td_stat_is, &retried, 30000, "the job's timeout");
    fp_td_wait_until(td, retry_recorded_or_refused, NULL, 30000, "the retry's fate");
    assert_int_equal(fp_td_metric(td, "forkpool_outcomes_stale_total"), 1);
    assert_int_equal(fp_td_zcard(td, FP_TD_DELAYED), 0);
    assert_int_equal(fp_td_xlen(td, FP_TD_JOBS), 1);
    assert_int_equal(pending_entries(td, ids, holders, 4), 1);
    assert_string_equal(holders[0], "thief");
    assert_true(fp_td_log_has(td, "taken over by consumer thief"));
    assert_true(fp_td_log_has(td, "consumer thief holds it now"));
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
}

static bool retry_and_dead_landed(fp_td_t *td, void *arg)
{
    (void)arg;
    return fp_td_zcard(td, FP_TD_DELAYED) == 1 && fp_td_xlen(td, FP_TD_DEAD) == 1;
}

/* Both running jobs' stream entries are deleted (XDEL) while they run;
 * renewal notices, and the retry of one and the dead letter of the other
 * still land from the payloads the supervisor holds. */
static void test_deleted_entry_outcomes_still_land(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, "[pool]\nchildren = 2\n" HOLDING);
    fp_td_start_ready(td, true);
    enqueue_long(td, "again", "");
    enqueue_long(td, "last", ",\"max_attempts\":1");
    fp_td_wait_held(td, 2);
    char ids[4][64], holders[4][64];
    assert_int_equal(pending_entries(td, ids, holders, 4), 2);
    for (int i = 0; i < 2; i++)
        assert_int_equal(fp_th_redis_int(&td->redis, "XDEL %s %s", FP_TD_JOBS, ids[i]), 1);
    fp_td_wait_until(td, retry_and_dead_landed, NULL, 30000, "the retry and the dead letter");
    assert_true(fp_td_dead_has(td, "job", "last-00"));
    assert_int_equal(fp_th_redis_int(&td->redis, "ZCOUNT %s -inf +inf", FP_TD_DELAYED), 1);
    redisReply *z = fp_th_redis_cmd(&td->redis, "ZRANGE %s 0 0", FP_TD_DELAYED);
    assert_non_null(strstr(z->element[0]->str, "again-00"));
    freeReplyObject(z);
    assert_true(fp_td_log_count(td, "was deleted while its job runs") >= 2);
    assert_int_equal(fp_td_pending(td), 0);
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
}

/* The only field `field` of the only dead entry (free()), with its length. */
static char *dead_field(fp_td_t *td, const char *field, size_t *len)
{
    redisReply *r = fp_th_redis_cmd(&td->redis, "XRANGE %s - +", FP_TD_DEAD);
    assert_non_null(r);
    assert_int_equal(r->elements, 1);
    const redisReply *fields = r->element[0]->element[1];
    char *out = NULL;
    for (size_t i = 0; i + 1 < fields->elements; i += 2)
        if (strcmp(fields->element[i]->str, field) == 0) {
            *len = fields->element[i + 1]->len;
            out = malloc(*len + 1);
            memcpy(out, fields->element[i + 1]->str, *len + 1);
        }
    freeReplyObject(r);
    assert_non_null(out);
    return out;
}

/* A retry and then a dead letter keep every byte of the producer's payload
 * but the attempt and last_error forkpool adds. */
static void test_payload_bytes_survive_retry_and_dead(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL,
                 "[pool]\nchildren = 1\n"
                 "[retry]\nbackoff_base = \"10ms\"\nbackoff_max = \"10ms\"\n");
    const char *job = "{\"type\":\"fail\", \"args\":{\"message\":\"no\"},"
                      "\"big\":9223372036854775813,\"f\":1e400,\"s\":\"a\\u0000b\","
                      "\"z\":{\"b\":1,\"a\":2},\"id\":\"keep-1\",\"max_attempts\":2 }";
    const char *want = "{\"type\":\"fail\", \"args\":{\"message\":\"no\"},"
                       "\"big\":9223372036854775813,\"f\":1e400,\"s\":\"a\\u0000b\","
                       "\"z\":{\"b\":1,\"a\":2},\"id\":\"keep-1\",\"max_attempts\":2,"
                       "\"attempt\":1,\"last_error\":\"no\" }";
    fp_td_enqueue_raw(td, job, strlen(job));
    fp_td_start_ready(td, true);
    long long zero = 0, one = 1;
    fp_td_wait_until(td, fp_td_dead_is, &one, 30000, "the dead letter");
    fp_td_wait_until(td, fp_td_pending_is, &zero, 30000, "the outcome");
    size_t len = 0;
    char *got = dead_field(td, "job", &len);
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
    free(got);
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
}

/* An entry without a "job" field goes to dead with every byte of its
 * fields, NULs included. */
static void test_malformed_entry_fields_keep_nul_bytes(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, "[pool]\nchildren = 1\n");
    const char *argv[] = {"XADD", FP_TD_JOBS, "*", "other", "a\0b", "x\0y", "1"};
    size_t lens[] = {4, strlen(FP_TD_JOBS), 1, 5, 3, 3, 1};
    freeReplyObject(fp_th_redis_cmdv(&td->redis, 7, argv, lens));
    fp_td_start(td, true);
    assert_int_equal(fp_td_wait(td, 60000), 0);
    size_t len = 0;
    char *got = dead_field(td, "job", &len);
    const char *want = "{\"other\":\"a\\u0000b\",\"x\\u0000y\":\"1\"}";
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
    free(got);
}

/* A "job" field that is not JSON because of a raw NUL byte: dead, whole. */
static void test_job_field_with_nul_goes_dead_whole(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, "[pool]\nchildren = 1\n");
    fp_td_enqueue_raw(td, "{\"type\":\"noop\"}\0tail", 20);
    fp_td_start(td, true);
    assert_int_equal(fp_td_wait(td, 60000), 0);
    size_t len = 0;
    char *got = dead_field(td, "job", &len);
    assert_int_equal(len, 20);
    assert_memory_equal(got, "{\"type\":\"noop\"}\0tail", 20);
    free(got);
}

/* The delay argument of the first retry outcome in SLOWLOG (every command
 * logged): the argument after kind, id and payload. -1 when none. */
static long long logged_retry_argument(fp_td_t *td)
{
    redisReply *r = fp_th_redis_cmd(&td->redis, "SLOWLOG GET 100000");
    assert_non_null(r);
    long long found = -1;
    for (size_t i = r->elements; found < 0 && i-- > 0;) {
        const redisReply *args = r->element[i]->element[3];
        if (args->elements < 2 || strncmp(args->element[0]->str, "EVAL", 4) != 0)
            continue;
        for (size_t a = 7; a + 3 < args->elements; a++)
            if (strcmp(args->element[a]->str, "r") == 0 &&
                strncmp(args->element[a + 1]->str, "1", 1) == 0) {
                found = atoll(args->element[a + 3]->str);
                break;
            }
    }
    freeReplyObject(r);
    return found;
}

/* A retry's due time is Redis' TIME plus the back-off, computed in Redis:
 * the outcome carries the delay, not a time from the daemon's clock. */
static void test_retry_due_time_follows_redis_clock(void **state)
{
    fp_td_t *td = *state;
    freeReplyObject(fp_th_redis_cmd(&td->redis, "CONFIG SET slowlog-log-slower-than 0"));
    freeReplyObject(fp_th_redis_cmd(&td->redis, "CONFIG SET slowlog-max-len 100000"));
    fp_td_config(td, NULL,
                 "[pool]\nchildren = 1\n"
                 "[retry]\nbackoff_base = \"5s\"\nbackoff_max = \"5s\"\njitter = false\n"
                 "max_attempts = 2\n");
    fp_td_start_ready(td, true);
    long long before = fp_th_redis_now_ms(&td->redis), one = 1;
    fp_td_enqueue(td, 1, "{\"type\":\"fail\",\"id\":\"clock-%d%d\"}");
    fp_td_wait_until(td, fp_td_delayed_is, &one, 30000, "the retry");
    long long after = fp_th_redis_now_ms(&td->redis);
    redisReply *z = fp_th_redis_cmd(&td->redis, "ZRANGE %s 0 0 WITHSCORES", FP_TD_DELAYED);
    assert_int_equal(z->elements, 2);
    long long due = atoll(z->element[1]->str);
    freeReplyObject(z);
    assert_in_range(due, before + 5000, after + 5000);
    assert_int_equal(logged_retry_argument(td), 5000);
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fp_td_setup, fp_td_teardown)
    const struct CMUnitTest tests[] = {
        T(test_outcome_of_taken_over_entry_leaves_it_alone),
        T(test_deleted_entry_outcomes_still_land),
        T(test_payload_bytes_survive_retry_and_dead),
        T(test_malformed_entry_fields_keep_nul_bytes),
        T(test_job_field_with_nul_goes_dead_whole),
        T(test_retry_due_time_follows_redis_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
