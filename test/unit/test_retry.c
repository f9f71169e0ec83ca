/* test_retry.c: lib/dispatch/retry.c — decisions, back-off growth, cap and jitter,
 * and the payload that goes back to the delayed set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch/retry.h"

static void test_decide(void **state)
{
    (void)state;
    assert_int_equal(fp_retry_decide(1, 5, true), FP_RETRY_AGAIN);
    assert_int_equal(fp_retry_decide(4, 5, true), FP_RETRY_AGAIN);
    assert_int_equal(fp_retry_decide(5, 5, true), FP_RETRY_DEAD);
    assert_int_equal(fp_retry_decide(9, 5, true), FP_RETRY_DEAD);
    assert_int_equal(fp_retry_decide(1, 5, false), FP_RETRY_DEAD);
    assert_int_equal(fp_retry_decide(1, 1, true), FP_RETRY_DEAD);
}

static void test_backoff_doubles_then_caps(void **state)
{
    (void)state;
    assert_int_equal(fp_retry_backoff_ms(1, 1000, 600000, false, 0), 1000);
    assert_int_equal(fp_retry_backoff_ms(2, 1000, 600000, false, 0), 2000);
    assert_int_equal(fp_retry_backoff_ms(5, 1000, 600000, false, 0), 16000);
    assert_int_equal(fp_retry_backoff_ms(20, 1000, 600000, false, 0), 600000);
    /* Huge attempt counts must not overflow; a cap beyond the longest delay
     * is clamped to it. */
    assert_int_equal(fp_retry_backoff_ms(1000000, 1000, INT64_MAX / 2, false, 0),
                     FP_RETRY_DELAY_MAX_MS);
    assert_int_equal(fp_retry_backoff_ms(0, 1000, 600000, false, 0), 1000);
}

static void test_full_jitter_stays_in_range(void **state)
{
    (void)state;
    int64_t lowest = INT64_MAX, highest = -1;
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 10000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t d = fp_retry_backoff_ms(3, 1000, 600000, true, x);
        assert_true(d >= 0 && d <= 4000);
        if (d < lowest)
            lowest = d;
        if (d > highest)
            highest = d;
    }
    /* Spread over the range, not a constant. */
    assert_true(lowest < 400 && highest > 3600);
}

static void test_payload_gets_attempt_error_and_id(void **state)
{
    (void)state;
    const char *in = "{\"type\":\"fail\",\"args\":{\"x\":1},\"attempt\":1}";
    size_t len = 0;
    char *out = fp_retry_payload(in, strlen(in), "1700-0", 2, "boom \"quoted\"", &len);
    assert_non_null(out);
    assert_int_equal(len, strlen(out));
    cJSON *obj = cJSON_Parse(out);
    assert_int_equal(cJSON_GetObjectItem(obj, "attempt")->valueint, 2);
    assert_string_equal(cJSON_GetObjectItem(obj, "last_error")->valuestring, "boom \"quoted\"");
    assert_string_equal(cJSON_GetObjectItem(obj, "id")->valuestring, "1700-0");
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "args"), "x")->valueint, 1);
    cJSON_Delete(obj);
    free(out);
}

static void test_payload_keeps_producer_id(void **state)
{
    (void)state;
    const char *in = "{\"type\":\"t\",\"id\":\"order-9\",\"last_error\":\"old\"}";
    char *out = fp_retry_payload(in, strlen(in), "1700-0", 3, "new", NULL);
    cJSON *obj = cJSON_Parse(out);
    assert_string_equal(cJSON_GetObjectItem(obj, "id")->valuestring, "order-9");
    assert_string_equal(cJSON_GetObjectItem(obj, "last_error")->valuestring, "new");
    cJSON_Delete(obj);
    free(out);
}

static void test_identical_jobs_stay_distinct(void **state)
{
    (void)state;
    const char *in = "{\"type\":\"fail\"}";
    char *a = fp_retry_payload(in, strlen(in), "1-0", 1, "e", NULL);
    char *b = fp_retry_payload(in, strlen(in), "1-1", 1, "e", NULL);
    assert_string_not_equal(a, b);
    free(a);
    free(b);
}

static void check_spliced(const char *in, const char *id, int64_t attempts, const char *error,
                          const char *want)
{
    size_t len = 0;
    char *out = fp_retry_payload(in, strlen(in), id, attempts, error, &len);
    assert_non_null(out);
    assert_string_equal(out, want);
    assert_int_equal(len, strlen(want));
    free(out);
}

/* The bytes forkpool does not own come back as they were: a number past
 * int64, one past double, an escaped NUL, whitespace, key order and a nested
 * "attempt"; only the top-level attempt is replaced and the rest appended. */
static void test_payload_bytes_survive(void **state)
{
    (void)state;
    const char *in = " { \"z\" : 1, \"big\":9223372036854775813,\"f\":1e400,"
                     "\"s\":\"a\\u0000b\",\"attempt\":1,"
                     "\"a\":{\"attempt\":7,\"k\":[1,{\"x\":\"}\\\"\"}]} }\n";
    const char *want = " { \"z\" : 1, \"big\":9223372036854775813,\"f\":1e400,"
                       "\"s\":\"a\\u0000b\",\"attempt\":2,"
                       "\"a\":{\"attempt\":7,\"k\":[1,{\"x\":\"}\\\"\"}]},"
                       "\"last_error\":\"boom \\\"q\\\"\\n\",\"id\":\"1700-0\" }\n";
    check_spliced(in, "1700-0", 2, "boom \"q\"\n", want);
}

static void check_payload(const char *in, const char *want)
{
    check_spliced(in, "1-0", 3, "e", want);
}

static void test_payload_splice_cases(void **state)
{
    (void)state;
    check_payload("{}", "{\"attempt\":3,\"last_error\":\"e\",\"id\":\"1-0\"}");
    check_payload("{\"id\":null,\"t\":[]}",
                  "{\"id\":\"1-0\",\"t\":[],\"attempt\":3,\"last_error\":\"e\"}");
    /* Every copy of a repeated member: readers disagree on which one wins. */
    check_payload("{\"attempt\":1,\"last_error\":{\"x\":1},\"attempt\":2,\"id\":7}",
                  "{\"attempt\":3,\"last_error\":\"e\",\"attempt\":3,\"id\":7}");
    check_payload("{\"last_error\":\"old\\\"\",\"n\":-1.5e-3}",
                  "{\"last_error\":\"e\",\"n\":-1.5e-3,\"attempt\":3,\"id\":\"1-0\"}");
}

static void test_payload_must_be_an_object(void **state)
{
    (void)state;
    assert_null(fp_retry_payload("[1]", 3, "1-0", 1, "e", NULL));
    assert_null(fp_retry_payload("nope", 4, "1-0", 1, "e", NULL));
    assert_null(fp_retry_payload("{\"a\":1", 6, "1-0", 1, "e", NULL));
    assert_null(fp_retry_payload("{\"a\":1} x", 10, "1-0", 1, "e", NULL));
}

/* Untrusted or extreme settings never give a delay that overflows when it is
 * added to a clock, nor a negative one (UBSan checks the arithmetic). */
static void test_backoff_is_clamped(void **state)
{
    (void)state;
    const int64_t extremes[] = {INT64_MIN, -1, 0, 1, INT64_MAX / 2, INT64_MAX};
    const size_t n = sizeof extremes / sizeof extremes[0];
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b < n; b++)
            for (size_t m = 0; m < n; m++)
                for (int j = 0; j < 2; j++) {
                    int64_t d = fp_retry_backoff_ms(extremes[a], extremes[b], extremes[m], j == 1,
                                                    j == 1 ? UINT64_MAX : 0);
                    if (d < 0 || d > FP_RETRY_DELAY_MAX_MS)
                        fail_msg("attempts %lld base %lld max %lld jitter %d: %lld",
                                 (long long)extremes[a], (long long)extremes[b],
                                 (long long)extremes[m], j, (long long)d);
                }
    /* The cap is still exact below the clamp. */
    assert_int_equal(fp_retry_backoff_ms(INT64_MAX, INT64_MAX, FP_RETRY_DELAY_MAX_MS, false, 0),
                     FP_RETRY_DELAY_MAX_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_backoff_doubles_then_caps),
        cmocka_unit_test(test_full_jitter_stays_in_range),
        cmocka_unit_test(test_payload_gets_attempt_error_and_id),
        cmocka_unit_test(test_payload_keeps_producer_id),
        cmocka_unit_test(test_identical_jobs_stay_distinct),
        cmocka_unit_test(test_payload_bytes_survive),
        cmocka_unit_test(test_payload_splice_cases),
        cmocka_unit_test(test_payload_must_be_an_object),
        cmocka_unit_test(test_backoff_is_clamped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
