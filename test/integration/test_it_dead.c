/* test_it_dead.c: `forkpool dead list|retry|purge` as an operator runs it,
 * against a real redis-server: what each action prints, what it leaves in
 * the dead and jobs streams, that two retries running at once never enqueue
 * a job twice, and the exit codes (64 usage, 69 Redis unreachable). Dead
 * entries are written here the way the daemon's outcome script writes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_fixture.h"

#define DEAD "fp:{default}:dead"
#define JOBS "fp:{default}:jobs"

typedef fp_tcli_t fixture_t;

/* Runs forkpool dead ARGS... (NULL-terminated), with one extra environment
 * entry (may be NULL). */
#define dead_env(f, extra, ...) fp_tcli_run(f, "dead", NULL, extra, __VA_ARGS__)
#define dead(f, ...) fp_tcli_run(f, "dead", NULL, NULL, __VA_ARGS__, NULL)

/* XADD DEAD with the daemon's fields; returns the entry id (owned). */
static char *add_dead(fixture_t *f, const char *key, const char *job, const char *error,
                      const char *attempts, const char *failed_at)
{
    redisReply *r = fp_th_redis_cmd(&f->redis,
                                    "XADD %s * job %s error %s attempts %s failed_at %s "
                                    "consumer host-a",
                                    key, job, error, attempts, failed_at);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    char *id = strdup(r->str);
    freeReplyObject(r);
    return id;
}

/* n entries {"type":"noop","args":{"i":I},"attempt":3,"last_error":"x"}. */
static void add_many(fixture_t *f, int n)
{
    redisReply *r = fp_th_redis_cmd(
        &f->redis,
        "EVAL %s 1 %s %d", "for i = 1, tonumber(ARGV[1]) do\n"
                           "  redis.call('XADD', KEYS[1], '*', 'job', '{\"type\":\"noop\",\"args\":"
                           "{\"i\":' .. i .. '},\"attempt\":3,\"last_error\":\"x\"}', 'error', "
                           "'boom', 'attempts', '3', 'failed_at', '1700000000000', 'consumer', "
                           "'host-a')\n"
                           "end\n"
                           "return 0\n",
        DEAD, n);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    freeReplyObject(r);
}

static void test_list_empty(void **state)
{
    fixture_t *f = *state;
    fp_th_result_t r = dead(f, "list");
    FP_TCLI_EXPECT_OK(r, "0 dead jobs in default (showing 0)\n");
    fp_th_result_free(&r);
    r = dead(f, "list", "--json");
    FP_TCLI_EXPECT_OK(r, "");
    fp_th_result_free(&r);
}

static void test_list_table(void **state)
{
    fixture_t *f = *state;
    char *a = add_dead(f, DEAD, "{\"type\":\"send_email\",\"id\":\"42\",\"attempt\":3}",
                       "SMTP timeout", "3", "1700000000123");
    char *b = add_dead(f, DEAD, "not json", "payload is not JSON", "0", "1700000001000");
    char *c = add_dead(f, DEAD, "{\"type\":\"x\"}", "line one\nline two\x1b[31m", "1", "bogus");
    fp_th_result_t r = dead(f, "list");
    assert_int_equal(r.status, 0);
    assert_int_equal(fp_th_count_lines(r.out), 5); /* header, three rows, summary */
    assert_non_null(strstr(r.out, "ENTRY ID"));
    char *row = fp_th_line_with(r.out, a);
    assert_non_null(strstr(row, "2023-11-14T22:13:20.123Z"));
    assert_non_null(strstr(row, "send_email id=42"));
    assert_non_null(strstr(row, "host-a"));
    assert_non_null(strstr(row, "SMTP timeout"));
    free(row);
    row = fp_th_line_with(r.out, b);
    assert_non_null(strstr(row, "(invalid payload)"));
    free(row);
    row = fp_th_line_with(r.out, c);
    assert_non_null(strstr(row, "line one line two")); /* control bytes never reach the tty */
    assert_null(strchr(row, '\x1b'));
    free(row);
    /* Oldest first. */
    assert_true(strstr(r.out, a) < strstr(r.out, b) && strstr(r.out, b) < strstr(r.out, c));
    assert_non_null(strstr(r.out, "\n3 dead jobs in default (showing 3)\n"));
    fp_th_result_free(&r);
    free(a);
    free(b);
    free(c);
}

static void test_list_truncates_error_to_width(void **state)
{
    fixture_t *f = *state;
    char error[600];
    memset(error, 'e', sizeof error - 1);
    error[sizeof error - 1] = '\0';
    char *id = add_dead(f, DEAD, "{\"type\":\"noop\"}", error, "1", "1700000000000");
    fp_th_result_t r = dead_env(f, "COLUMNS=100", "list", NULL);
    assert_int_equal(r.status, 0);
    char *row = fp_th_line_with(r.out, id);
    assert_true(strlen(row) <= 100);
    assert_non_null(strstr(row, "eee..."));
    free(row);
    fp_th_result_free(&r);
    free(id);
}

static void test_list_limit(void **state)
{
    fixture_t *f = *state;
    add_many(f, 5);
    fp_th_result_t r = dead(f, "list", "--limit", "2");
    assert_int_equal(r.status, 0);
    assert_int_equal(fp_th_count_lines(r.out), 4);
    assert_non_null(strstr(r.out, "5 dead jobs in default (showing 2)\n"));
    fp_th_result_free(&r);
    /* The default shows 100 of many; --all shows everything. */
    add_many(f, 200);
    r = dead(f, "list");
    assert_non_null(strstr(r.out, "205 dead jobs in default (showing 100)\n"));
    fp_th_result_free(&r);
    r = dead(f, "list", "--all", "--json");
    assert_int_equal(r.status, 0);
    assert_int_equal(fp_th_count_lines(r.out), 205);
    fp_th_result_free(&r);
}

static void test_list_json(void **state)
{
    fixture_t *f = *state;
    char *a = add_dead(f, DEAD,
                       "{ \"type\": \"send_email\",\n  \"args\": {\"big\": 12345678901234567890} }",
                       "boom", "3", "1700000000123");
    char *b = add_dead(f, DEAD, "not json", "payload is not JSON", "0", "1700000001000");
    fp_th_result_t r = dead(f, "list", "--json");
    assert_int_equal(r.status, 0);
    assert_int_equal(fp_th_count_lines(r.out), 2);
    char *line = fp_th_line_with(r.out, a);
    /* Numbers keep every digit: the payload is copied, not re-printed. */
    assert_non_null(strstr(line, "\"args\":{\"big\":12345678901234567890}"));
    cJSON *o = cJSON_Parse(line);
    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItem(o, "id")->valuestring, a);
    assert_string_equal(cJSON_GetObjectItem(o, "queue")->valuestring, "default");
    cJSON *job = cJSON_GetObjectItem(o, "job");
    assert_true(cJSON_IsObject(job));
    assert_string_equal(cJSON_GetObjectItem(job, "type")->valuestring, "send_email");
    assert_string_equal(cJSON_GetObjectItem(o, "error")->valuestring, "boom");
    assert_int_equal(cJSON_GetObjectItem(o, "attempts")->valueint, 3);
    assert_true(cJSON_GetObjectItem(o, "failed_at")->valuedouble == 1700000000123.0);
    assert_string_equal(cJSON_GetObjectItem(o, "consumer")->valuestring, "host-a");
    cJSON_Delete(o);
    free(line);
    line = fp_th_line_with(r.out, b);
    o = cJSON_Parse(line);
    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItem(o, "job")->valuestring, "not json");
    cJSON_Delete(o);
    free(line);
    fp_th_result_free(&r);
    free(a);
    free(b);
}

static void test_retry_puts_jobs_back_fresh(void **state)
{
    fixture_t *f = *state;
    free(add_dead(f, DEAD,
                  "{\"type\":\"send_email\",\"attempt\":3,\"args\":{\"big\":12345678901234567890},"
                  "\"last_error\":\"SMTP timeout\",\"id\":\"42\"}",
                  "SMTP timeout", "3", "1700000000000"));
    free(add_dead(f, DEAD, "{\"type\":\"noop\"}", "boom", "1", "1700000000000"));
    fp_th_result_t r = dead(f, "retry");
    FP_TCLI_EXPECT_OK(r, "retried 2 jobs to default\n");
    assert_int_equal(fp_th_redis_int(&f->redis, "XLEN %s", DEAD), 0);
    assert_int_equal(fp_th_redis_int(&f->redis, "XLEN %s", JOBS), 2);
    fp_tcli_expect_job_at(f, JOBS, 0,
                          "{\"type\":\"send_email\",\"args\":{\"big\":12345678901234567890},"
                          "\"id\":\"42\"}");
    fp_tcli_expect_job_at(f, JOBS, 1, "{\"type\":\"noop\"}"); /* nothing to remove: untouched */
    fp_th_result_free(&r);
}

static void test_retry_limit_oldest_first(void **state)
{
    fixture_t *f = *state;
    add_many(f, 10);
    fp_th_result_t r = dead(f, "retry", "--limit", "3");
    FP_TCLI_EXPECT_OK(r, "retried 3 jobs to default\n");
    assert_int_equal(fp_th_redis_int(&f->redis, "XLEN %s", DEAD), 7);
    for (size_t i = 0; i < 3; i++) {
        char want[64];
        snprintf(want, sizeof want, "{\"type\":\"noop\",\"args\":{\"i\":%zu}}", i + 1);
        fp_tcli_expect_job_at(f, JOBS, i, want);
    }
    fp_th_result_free(&r);
}

static void test_retry_skips_invalid_unless_forced(void **state)
{
    fixture_t *f = *state;
    char *bad = add_dead(f, DEAD, "not json", "payload is not JSON", "0", "1700000000000");
    char *untyped = add_dead(f, DEAD, "{\"args\":1}", "payload has no \"type\"", "0", "1");
    free(add_dead(f, DEAD, "{\"type\":\"noop\",\"attempt\":2}", "boom", "2", "1700000000000"));
    fp_th_result_t r = dead(f, "retry");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "retried 1 jobs to default\n"));
    assert_non_null(strstr(r.out, "skipped 2 invalid payloads"));
    assert_non_null(strstr(r.err, bad));
    assert_non_null(strstr(r.err, "payload is not JSON"));
    assert_non_null(strstr(r.err, untyped));
    assert_int_equal(fp_th_redis_int(&f->redis, "XLEN %s", DEAD), 2);
    assert_int_equal(fp_th_redis_int(&f->redis, "XLEN %s", JOBS), 1);
    fp_th_result_free(&r);

    r = dead(f, "retry", "--force");
    FP_TCLI_EXPECT_OK(r, "retried 2 jobs to default\n");
    assert_int_equal(fp_th_redis_int(&f->redis, "XLEN %s", DEAD), 0);
    fp_tcli_expect_job_at(f, JOBS, 1, "not json"); /* as it was */
    fp_th_result_free(&r);
    free(bad);
    free(untyped);
}

/* The number N in "retried N jobs" in a log file. */
static long retried_in_log(const char *path)
{
    char *log = fp_th_read_file(path, NULL);
    assert_non_null(log);
    const char *line = strstr(log, "retried ");
    if (line == NULL)
        fail_msg("no summary in %s:\n%s", path, log);
    long n = strtol(line + 8, NULL, 10);
    free(log);
    return n;
}

static void test_concurrent_retries_never_duplicate(void **state)
{
    fixture_t *f = *state;
    add_many(f, 500);
    const char *argv[] = {fp_th_env("FORKPOOL_BIN"), "dead", "retry", NULL};
    const char *env[] = {"FORKPOOL_CONFIG=", f->url_env, NULL};
    char logs[2][4200];
    int pids[2];
    for (int i = 0; i < 2; i++) {
        snprintf(logs[i], sizeof logs[i], "%s/retry%d.log", f->dir, i);
        pids[i] = fp_th_spawn(argv, env, logs[i]);
        assert_true(pids[i] > 0);
    }
    for (int i = 0; i < 2; i++)
        assert_int_equal(fp_th_wait(pids[i], 120000), 0);
    assert_int_equal(fp_th_redis_int(&f->redis, "XLEN %s", JOBS), 500);
    assert_int_equal(fp_th_redis_int(&f->redis, "XLEN %s", DEAD), 0);
    assert_int_equal(retried_in_log(logs[0]) + retried_in_log(logs[1]), 500);
    for (int i = 0; i < 2; i++)
        fp_th_assert_no_sanitizer_report(logs[i]);
    /* Every job exactly once. */
    redisReply *r = fp_th_redis_cmd(&f->redis, "XRANGE %s - +", JOBS);
    assert_non_null(r);
    char *seen = calloc(501, 1);
    for (size_t i = 0; i < r->elements; i++) {
        const char *job = r->element[i]->element[1]->element[1]->str;
        int n = atoi(strstr(job, "\"i\":") + 4);
        assert_true(n >= 1 && n <= 500);
        assert_int_equal(seen[n], 0);
        seen[n] = 1;
    }
    free(seen);
    freeReplyObject(r);
}

static void test_purge_needs_limit_or_all(void **state)
{
    fixture_t *f = *state;
    add_many(f, 10);
    fp_th_result_t r = dead(f, "purge");
    assert_int_equal(r.status, 64);
    assert_non_null(strstr(r.err, "--limit N or --all"));
    assert_int_equal(fp_th_redis_int(&f->redis, "XLEN %s", DEAD), 10);
    fp_th_result_free(&r);

    r = dead(f, "purge", "--limit", "3");
    FP_TCLI_EXPECT_OK(r, "purged 3 dead jobs from default\n");
    assert_int_equal(fp_th_redis_int(&f->redis, "XLEN %s", DEAD), 7);
    char *job = fp_tcli_job_at(f, DEAD, 0);
    assert_non_null(strstr(job, "\"i\":4}")); /* the three oldest went */
    free(job);
    fp_th_result_free(&r);

    r = dead(f, "purge", "--all");
    FP_TCLI_EXPECT_OK(r, "purged 7 dead jobs from default\n");
    assert_int_equal(fp_th_redis_int(&f->redis, "XLEN %s", DEAD), 0);
    fp_th_result_free(&r);
}

static void test_unknown_queue_is_empty(void **state)
{
    fixture_t *f = *state;
    add_many(f, 3);
    fp_th_result_t r = dead(f, "list", "--queue", "nope");
    FP_TCLI_EXPECT_OK(r, "0 dead jobs in nope (showing 0)\n");
    fp_th_result_free(&r);
    r = dead(f, "retry", "--queue", "nope");
    FP_TCLI_EXPECT_OK(r, "retried 0 jobs to nope\n");
    fp_th_result_free(&r);
    r = dead(f, "purge", "--queue", "nope", "--all");
    FP_TCLI_EXPECT_OK(r, "purged 0 dead jobs from nope\n");
    fp_th_result_free(&r);
    assert_int_equal(fp_th_redis_int(&f->redis, "XLEN %s", DEAD), 3);
    assert_int_equal(fp_th_redis_int(&f->redis, "EXISTS fp:{nope}:jobs"), 0);
}

static void test_redis_down_exits_69(void **state)
{
    fixture_t *f = *state;
    int port = f->redis.port;
    fp_th_redis_stop(&f->redis);
    const char *actions[][2] = {{"list", NULL}, {"retry", NULL}, {"purge", "--all"}};
    for (size_t i = 0; i < 3; i++) {
        fp_th_result_t r = dead(f, actions[i][0], actions[i][1]);
        fp_tcli_assert_refused(&r, port);
        fp_th_result_free(&r);
    }
}

static void test_bad_usage_exits_64(void **state)
{
    fixture_t *f = *state;
    const char *cases[][4] = {
        {NULL, NULL, NULL, NULL},
        {"revive", NULL, NULL, NULL},
        {"list", "extra", NULL, NULL},
        {"list", "--limit", "lots", NULL},
        {"list", "--limit", "-1", NULL},
        {"list", "--limit", NULL, NULL},
        {"list", "--force", NULL, NULL},
        {"retry", "--json", NULL, NULL},
        {"purge", "--all", "--limit", "3"},
        {"list", "--queue", "", NULL},
        {"list", "--bogus", NULL, NULL},
    };
    add_many(f, 2);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fp_th_result_t r = dead(f, cases[i][0], cases[i][1], cases[i][2], cases[i][3]);
        if (r.status != 64 || strstr(r.err, "usage: forkpool dead") == NULL)
            fail_msg("case %zu: exit %d, stderr: %s", i, r.status, r.err);
        fp_th_result_free(&r);
    }
    assert_int_equal(fp_th_redis_int(&f->redis, "XLEN %s", DEAD), 2);
}

/* prefix, URL and the default queue come from the configuration file. */
static void test_config_file(void **state)
{
    fixture_t *f = *state;
    const char *path = fp_tcli_write_config(f, "");
    free(add_dead(f, "acme:{first}:dead", "{\"type\":\"noop\"}", "boom", "1", "1700000000000"));
    fp_th_result_t r = fp_tcli_run_bare("dead", "retry", "-c", path, NULL);
    FP_TCLI_EXPECT_OK(r, "retried 1 jobs to first\n");
    assert_int_equal(fp_th_redis_int(&f->redis, "XLEN acme:{first}:jobs"), 1);
    assert_int_equal(fp_th_redis_int(&f->redis, "XLEN acme:{first}:dead"), 0);
    fp_th_result_free(&r);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fp_tcli_setup, fp_tcli_teardown)
    const struct CMUnitTest tests[] = {
        T(test_list_empty),
        T(test_list_table),
        T(test_list_truncates_error_to_width),
        T(test_list_limit),
        T(test_list_json),
        T(test_retry_puts_jobs_back_fresh),
        T(test_retry_limit_oldest_first),
        T(test_retry_skips_invalid_unless_forced),
        T(test_concurrent_retries_never_duplicate),
        T(test_purge_needs_limit_or_all),
        T(test_unknown_queue_is_empty),
        T(test_redis_down_exits_69),
        T(test_bad_usage_exits_64),
        T(test_config_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
