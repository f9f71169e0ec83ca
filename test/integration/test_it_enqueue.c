/* test_it_enqueue.c: `forkpool enqueue` as a user runs it, against a real
 * redis-server: what it prints, what lands in Redis, and its exit codes
 * (64 for bad input, 69 when Redis cannot be reached). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_fixture.h"

typedef fp_tcli_t fixture_t;

/* Runs forkpool enqueue ARGS... (NULL-terminated) with stdin `in`. */
#define enqueue_in(f, in, ...) fp_tcli_run(f, "enqueue", in, NULL, __VA_ARGS__)
#define enqueue(f, ...) fp_tcli_run(f, "enqueue", NULL, NULL, __VA_ARGS__, NULL)

static void test_single_prints_entry_id(void **state)
{
    fixture_t *f = *state;
    fp_th_result_t r = enqueue(f, "record_event", "{\"user_id\": 42}");
    assert_int_equal(r.status, 0);
    redisReply *ids = fp_th_redis_cmd(&f->redis, "XRANGE fp:{default}:jobs - +");
    assert_int_equal(ids->elements, 1);
    char line[64];
    snprintf(line, sizeof line, "%s\n", ids->element[0]->element[0]->str);
    assert_string_equal(r.out, line);
    freeReplyObject(ids);
    fp_tcli_expect_job_at(f, "fp:{default}:jobs", 0,
                          "{\"type\":\"record_event\",\"args\":{\"user_id\": 42}}");
    fp_th_result_free(&r);

    r = enqueue(f, "--queue", "mail", "noop");
    assert_int_equal(r.status, 0);
    /* args omitted when not given */
    fp_tcli_expect_job_at(f, "fp:{mail}:jobs", 0, "{\"type\":\"noop\"}");
    fp_th_result_free(&r);
}

static void test_count_pipelines(void **state)
{
    fixture_t *f = *state;
    fp_th_result_t r = enqueue(f, "--count", "10000", "noop", "[1,2]");
    FP_TCLI_EXPECT_OK(r, "enqueued 10000 jobs to default\n");
    assert_int_equal(fp_th_redis_int(&f->redis, "XLEN fp:{default}:jobs"), 10000);
    fp_tcli_expect_job_at(f, "fp:{default}:jobs", 9999, "{\"type\":\"noop\",\"args\":[1,2]}");
    fp_th_result_free(&r);
}

static void test_stdin_lines(void **state)
{
    fixture_t *f = *state;
    fp_th_result_t r = enqueue_in(f, "{\"n\":1}\n\n  [2]  \n\"three\"", "echo", "-", NULL);
    FP_TCLI_EXPECT_OK(r, "enqueued 3 jobs to default\n");
    const char *want[] = {"{\"type\":\"echo\",\"args\":{\"n\":1}}",
                          "{\"type\":\"echo\",\"args\":[2]}",
                          "{\"type\":\"echo\",\"args\":\"three\"}"};
    for (size_t i = 0; i < 3; i++) {
        fp_tcli_expect_job_at(f, "fp:{default}:jobs", i, want[i]);
    }
    fp_th_result_free(&r);
}

static void test_stdin_bad_line_stops(void **state)
{
    fixture_t *f = *state;
    fp_th_result_t r = enqueue_in(f, "{\"n\":1}\nnot json\n{\"n\":3}\n", "echo", "-", NULL);
    assert_int_equal(r.status, 64);
    assert_non_null(strstr(r.err, "stdin line 2"));
    assert_int_equal(fp_th_redis_int(&f->redis, "XLEN fp:{default}:jobs"), 1);
    fp_th_result_free(&r);
}

static void test_delay_goes_to_delayed_set(void **state)
{
    fixture_t *f = *state;
    long long before = fp_th_unix_ms();
    fp_th_result_t r = enqueue(f, "--delay", "30s", "--count", "3", "noop");
    long long after = fp_th_unix_ms();
    FP_TCLI_EXPECT_OK(r, "enqueued 3 jobs to default, due in 30s\n");
    assert_int_equal(fp_th_redis_int(&f->redis, "EXISTS fp:{default}:jobs"), 0);
    /* Three members: identical jobs must not collapse in the sorted set. */
    assert_int_equal(fp_th_redis_int(&f->redis, "ZCARD fp:{default}:delayed"), 3);
    redisReply *z = fp_th_redis_cmd(&f->redis, "ZRANGE fp:{default}:delayed 0 -1 WITHSCORES");
    assert_int_equal(z->elements, 6);
    long long due = atoll(z->element[1]->str);
    assert_true(due >= before + 30000 && due <= after + 30000);
    assert_non_null(strstr(z->element[0]->str, "\"type\":\"noop\""));
    freeReplyObject(z);
    fp_th_result_free(&r);
}

/* A producer whose clock is a day behind still delays by 30 s of Redis'
 * clock: the daemons' movers read due times against Redis' TIME. */
static void test_delay_follows_redis_clock(void **state)
{
    fixture_t *f = *state;
    long long before = fp_th_unix_ms();
    fp_th_result_t r = fp_tcli_run_skewed(f, "-1d", "enqueue", "--delay", "30s", "noop", NULL);
    long long after = fp_th_unix_ms();
    assert_int_equal(r.status, 0);
    redisReply *z = fp_th_redis_cmd(&f->redis, "ZRANGE fp:{default}:delayed 0 -1 WITHSCORES");
    assert_int_equal(z->elements, 2);
    long long due = atoll(z->element[1]->str);
    if (due < before + 30000 || due > after + 30000)
        fail_msg("due %lld, want within [%lld, %lld] (Redis' clock + 30 s)", due, before + 30000,
                 after + 30000);
    freeReplyObject(z);
    fp_th_result_free(&r);
}

static void test_bad_args_json_is_usage_error(void **state)
{
    fixture_t *f = *state;
    fp_th_result_t r = enqueue(f, "noop", "{not json");
    assert_int_equal(r.status, 64);
    assert_non_null(strstr(r.err, "ARGS_JSON"));
    assert_non_null(strstr(r.err, "{not json"));
    assert_int_equal(fp_th_redis_int(&f->redis, "EXISTS fp:{default}:jobs"), 0);
    fp_th_result_free(&r);

    r = enqueue(f, "--count", "lots", "noop");
    assert_int_equal(r.status, 64);
    fp_th_result_free(&r);
    r = enqueue(f, "--count", "2", "noop", "-");
    assert_int_equal(r.status, 64);
    fp_th_result_free(&r);
}

static void test_redis_down_exits_69(void **state)
{
    fixture_t *f = *state;
    int port = f->redis.port;
    fp_th_redis_stop(&f->redis);
    fp_th_result_t r = enqueue(f, "noop");
    fp_tcli_assert_refused(&r, port);
    fp_th_result_free(&r);
}

/* prefix, URL and the default queue come from the configuration file. */
static void test_config_file(void **state)
{
    fixture_t *f = *state;
    const char *path = fp_tcli_write_config(f, "/2");
    fp_th_result_t r = fp_tcli_run_bare("enqueue", "-c", path, "noop", NULL);
    assert_int_equal(r.status, 0);
    freeReplyObject(fp_th_redis_cmd(&f->redis, "SELECT 2"));
    assert_int_equal(fp_th_redis_int(&f->redis, "XLEN acme:{first}:jobs"), 1);
    fp_th_result_free(&r);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fp_tcli_setup, fp_tcli_teardown)
    const struct CMUnitTest tests[] = {
        T(test_single_prints_entry_id),
        T(test_count_pipelines),
        T(test_stdin_lines),
        T(test_stdin_bad_line_stops),
        T(test_delay_goes_to_delayed_set),
        T(test_delay_follows_redis_clock),
        T(test_bad_args_json_is_usage_error),
        T(test_redis_down_exits_69),
        T(test_config_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
