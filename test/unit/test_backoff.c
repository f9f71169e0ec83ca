/* test_backoff.c: lib/base/backoff.c — the one back-off curve: none before a
 * failure, doubling from the first wait to the cap, saturation for any
 * count, clamped settings, and full jitter within [0, wait]. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>

#include "base/backoff.h"

static void test_none_before_a_failure(void **state)
{
    (void)state;
    assert_int_equal(fp_backoff_ms(0, 100, 5000, false, 0), 0);
    assert_int_equal(fp_backoff_ms(-3, 100, 5000, false, 0), 0);
    assert_int_equal(fp_backoff_ms(INT64_MIN, 100, 5000, true, UINT64_MAX), 0);
}

static void test_doubles_from_first_to_cap(void **state)
{
    (void)state;
    const int64_t want[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000};
    for (int64_t n = 1; n <= 9; n++)
        assert_int_equal(fp_backoff_ms(n, 100, 5000, false, 0), want[n - 1]);
    /* A cap the doubling lands on exactly is reached, not skipped. */
    assert_int_equal(fp_backoff_ms(3, 250, 1000, false, 0), 1000);
    assert_int_equal(fp_backoff_ms(4, 250, 1000, false, 0), 1000);
}

static void test_saturates_for_any_count(void **state)
{
    (void)state;
    assert_int_equal(fp_backoff_ms(INT64_MAX, 100, 10000, false, 0), 10000);
    assert_int_equal(fp_backoff_ms(64, 1, INT64_MAX, false, 0), INT64_MAX);
    assert_int_equal(fp_backoff_ms(INT64_MAX, INT64_MAX / 2 + 1, INT64_MAX, false, 0), INT64_MAX);
}

static void test_settings_are_clamped(void **state)
{
    (void)state;
    /* A first wait above the cap is the cap; negatives are 0, and 0 never grows. */
    assert_int_equal(fp_backoff_ms(1, 9000, 5000, false, 0), 5000);
    assert_int_equal(fp_backoff_ms(5, -100, 5000, false, 0), 0);
    assert_int_equal(fp_backoff_ms(5, 100, -1, false, 0), 0);
    assert_int_equal(fp_backoff_ms(5, 0, 5000, false, 0), 0);
    const int64_t extremes[] = {INT64_MIN, -1, 0, 1, 2, INT64_MAX / 2, INT64_MAX};
    const size_t n = sizeof extremes / sizeof extremes[0];
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b < n; b++)
            for (size_t m = 0; m < n; m++)
                for (int j = 0; j < 2; j++) {
                    int64_t cap = extremes[m] > 0 ? extremes[m] : 0;
                    int64_t d = fp_backoff_ms(extremes[a], extremes[b], extremes[m], j == 1,
                                              j == 1 ? UINT64_MAX : 0);
                    if (d < 0 || d > cap)
                        fail_msg("failures %lld first %lld max %lld jitter %d: %lld",
                                 (long long)extremes[a], (long long)extremes[b],
                                 (long long)extremes[m], j, (long long)d);
                }
}

static void test_full_jitter_spreads_within_the_wait(void **state)
{
    (void)state;
    /* random % (wait + 1): the ends of the range are reachable. */
    assert_int_equal(fp_backoff_ms(3, 100, 5000, true, 0), 0);
    assert_int_equal(fp_backoff_ms(3, 100, 5000, true, 400), 400);
    assert_int_equal(fp_backoff_ms(3, 100, 5000, true, 401), 0);
    assert_int_equal(fp_backoff_ms(3, 100, 5000, true, 1234), 1234 % 401);
    assert_int_equal(fp_backoff_ms(40, 100, 5000, true, UINT64_MAX), (int64_t)(UINT64_MAX % 5001));
    /* A zero wait stays zero with jitter. */
    assert_int_equal(fp_backoff_ms(3, 0, 5000, true, 77), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_none_before_a_failure),
        cmocka_unit_test(test_doubles_from_first_to_cap),
        cmocka_unit_test(test_saturates_for_any_count),
        cmocka_unit_test(test_settings_are_clamped),
        cmocka_unit_test(test_full_jitter_spreads_within_the_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
