/* test_job.c: lib/dispatch/job.c, lib/base/json.c and lib/base/utf8.c — what a payload must be to
 * run, and the reason recorded when it is not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch/job.h"
#include "base/json.h"
#include "base/utf8.h"

static int parse(const char *text, size_t max, fp_job_t *job, fp_err_t *err)
{
    fp_err_clear(err);
    return fp_job_parse(text, strlen(text), max, job, err);
}

static void test_minimal_job(void **state)
{
    (void)state;
    fp_job_t job;
    fp_err_t err;
    assert_int_equal(parse("{\"type\":\"noop\"}", 1024, &job, &err), 0);
    assert_string_equal(job.type, "noop");
    assert_null(job.id);
    assert_int_equal(job.timeout_ms, 0);
    assert_int_equal(job.max_attempts, 0);
    assert_int_equal(job.attempt, 0);
    fp_job_clear(&job);
}

static void test_full_job(void **state)
{
    (void)state;
    fp_job_t job;
    fp_err_t err;
    const char *text = "{\"type\":\"record_event\",\"args\":{\"a\":1},\"id\":\"order-7\","
                       "\"timeout\":\"1m30s\",\"max_attempts\":3,\"attempt\":2,\"last_error\":\"x\"}";
    assert_int_equal(parse(text, 1024, &job, &err), 0);
    assert_string_equal(job.id, "order-7");
    assert_int_equal(job.timeout_ms, 90000);
    assert_int_equal(job.max_attempts, 3);
    assert_int_equal(job.attempt, 2);
    fp_job_clear(&job);
    /* Numeric ids and timeouts in seconds, as Celery and RQ producers send them. */
    assert_int_equal(parse("{\"type\":\"t\",\"id\":42,\"timeout\":2.5}", 1024, &job, &err), 0);
    assert_string_equal(job.id, "42");
    assert_int_equal(job.timeout_ms, 2500);
    fp_job_clear(&job);
}

static void test_dead_reasons(void **state)
{
    (void)state;
    const struct {
        const char *text;
        const char *reason;
    } cases[] = {
        {"", "not JSON"},
        {"{\"type\":", "not JSON"},
        {"{\"type\":\"a\"} {}", "not JSON"},
        {"[\"type\"]", "not a JSON object"},
        {"\"noop\"", "not a JSON object"},
        {"{}", "no \"type\""},
        {"{\"type\":\"\"}", "empty"},
        {"{\"type\":7}", "must be a string"},
        {"{\"type\":\"a\",\"timeout\":\"soon\"}", "timeout"},
        {"{\"type\":\"a\",\"timeout\":-1}", "timeout"},
        {"{\"type\":\"a\",\"timeout\":\"0s\"}", "timeout"},
        {"{\"type\":\"a\",\"max_attempts\":0}", "max_attempts"},
        {"{\"type\":\"a\",\"max_attempts\":2.5}", "max_attempts"},
        {"{\"type\":\"a\",\"attempt\":-1}", "attempt"},
        {"{\"type\":\"a\",\"id\":{}}", "id"},
        {"{\"type\":\"\xff\"}", "UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fp_job_t job;
        fp_err_t err;
        int rc = parse(cases[i].text, 1024, &job, &err);
        if (rc != FP_EJOB || strstr(err.msg, cases[i].reason) == NULL)
            fail_msg("case %zu (%s): rc %d, reason \"%s\", wanted \"%s\"", i, cases[i].text, rc,
                     err.msg, cases[i].reason);
        assert_null(job.type);
    }
    char type_too_long[300] = "{\"type\":\"";
    memset(type_too_long + 9, 'x', 200);
    strcpy(type_too_long + 209, "\"}");
    fp_job_t job;
    fp_err_t err;
    assert_int_equal(parse(type_too_long, 1024, &job, &err), FP_EJOB);
}

/* "unique": the key and when it is released; what is wrong with it, said. */
static void test_unique_member(void **state)
{
    (void)state;
    fp_job_t job;
    fp_err_t err;
    assert_int_equal(parse("{\"type\":\"t\",\"id\":\"j1\",\"unique\":{\"key\":\"order-17\"}}",
                           1024, &job, &err), 0);
    assert_string_equal(job.unique_key, "order-17");
    assert_int_equal(job.unique_until, FP_UNIQUE_DONE);
    fp_job_clear(&job);
    assert_int_equal(parse("{\"type\":\"t\",\"id\":\"j1\",\"unique\":{\"key\":\"k\",\"until\":\"start\"}}",
                           1024, &job, &err), 0);
    assert_int_equal(job.unique_until, FP_UNIQUE_START);
    fp_job_clear(&job);
    assert_int_equal(parse("{\"type\":\"t\",\"unique\":null}", 1024, &job, &err), 0);
    assert_null(job.unique_key);
    assert_int_equal(job.unique_until, FP_UNIQUE_NONE);
    fp_job_clear(&job);
    const struct {
        const char *text;
        const char *reason;
    } cases[] = {
        {"{\"type\":\"t\",\"id\":\"j\",\"unique\":\"k\"}", "\"unique\" must be an object"},
        {"{\"type\":\"t\",\"id\":\"j\",\"unique\":{}}", "\"key\" must be a non-empty string"},
        {"{\"type\":\"t\",\"id\":\"j\",\"unique\":{\"key\":\"\"}}", "non-empty string"},
        {"{\"type\":\"t\",\"id\":\"j\",\"unique\":{\"key\":7}}", "non-empty string"},
        {"{\"type\":\"t\",\"id\":\"j\",\"unique\":{\"key\":\"k\",\"until\":\"end\"}}",
         "\"until\" must be \"done\" or \"start\""},
        {"{\"type\":\"t\",\"id\":\"j\",\"unique\":{\"key\":\"k\",\"untill\":\"start\"}}",
         "unknown member \"untill\""},
        {"{\"type\":\"t\",\"unique\":{\"key\":\"k\"}}", "needs a non-empty string \"id\""},
        {"{\"type\":\"t\",\"id\":17,\"unique\":{\"key\":\"k\"}}", "string \"id\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = parse(cases[i].text, 1024, &job, &err);
        if (rc != FP_EJOB || strstr(err.msg, cases[i].reason) == NULL)
            fail_msg("case %zu (%s): rc %d, reason \"%s\", wanted \"%s\"", i, cases[i].text, rc,
                     err.msg, cases[i].reason);
        assert_null(job.unique_key);
    }
    char long_key[700];
    int n = snprintf(long_key, sizeof long_key, "{\"type\":\"t\",\"id\":\"j\",\"unique\":{\"key\":\"");
    memset(long_key + n, 'k', FP_UNIQUE_KEY_MAX + 1);
    strcpy(long_key + n + FP_UNIQUE_KEY_MAX + 1, "\"}}");
    assert_int_equal(parse(long_key, 1024, &job, &err), FP_EJOB);
    assert_non_null(strstr(err.msg, "longer than 512 bytes"));
}

static void test_size_limit(void **state)
{
    (void)state;
    fp_job_t job;
    fp_err_t err;
    const char *text = "{\"type\":\"noop\",\"args\":\"0123456789\"}";
    assert_int_equal(parse(text, strlen(text), &job, &err), 0);
    fp_job_clear(&job);
    assert_int_equal(parse(text, strlen(text) - 1, &job, &err), FP_ELIMIT);
    assert_non_null(strstr(err.msg, "max_job_bytes"));
}

static void test_nul_inside_payload_is_rejected(void **state)
{
    (void)state;
    const char text[] = "{\"type\":\"noop\"}\0{\"x\":1}";
    fp_job_t job;
    fp_err_t err;
    assert_int_equal(fp_job_parse(text, sizeof text - 1, 1024, &job, &err), FP_EJOB);
}

static void test_json_parse_is_strict(void **state)
{
    (void)state;
    cJSON *v = fp_json_parse(" {\"a\":1}\r\n", 10);
    assert_non_null(v);
    cJSON_Delete(v);
    assert_null(fp_json_parse("{} x", 4));
    assert_null(fp_json_parse("", 0));
    assert_null(fp_json_parse("1 2", 3));
}

static void test_utf8(void **state)
{
    (void)state;
    const char *good[] = {"", "plain", "caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                          "\xf4\x8f\xbf\xbf"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(fp_utf8_valid(good[i], strlen(good[i])));
    const char *bad[] = {"\x80", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                         "\xc3", "\xe2\x82", "\xff", "ok\xc3("};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (fp_utf8_valid(bad[i], strlen(bad[i])))
            fail_msg("bad case %zu accepted", i);
    assert_int_equal(fp_utf8_valid_prefix("ok\xc3(", 5), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_job),
        cmocka_unit_test(test_full_job),
        cmocka_unit_test(test_dead_reasons),
        cmocka_unit_test(test_unique_member),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_nul_inside_payload_is_rejected),
        cmocka_unit_test(test_json_parse_is_strict),
        cmocka_unit_test(test_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
