/* test_takeover_token.c: when a batch of outcomes may skip the outcome
 * script's ownership lookup (queue/takeover_token.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "queue/takeover_token.h"

#define LEARN(v, s) fp_takeover_learn((v), (s), strlen(s))

/* Nothing learned: nothing trusted, whatever the batch says. */
static void test_unknown_never_trusted(void **state)
{
    (void)state;
    fp_takeover_view_t v = {0};
    assert_string_equal(fp_takeover_arg(&v, 0, false), FP_TAKEOVER_UNTRUSTED);
    assert_string_equal(fp_takeover_arg(&v, v.epoch, false), FP_TAKEOVER_UNTRUSTED);
}

/* The empty token (no take-over ever ran) is a token like any other. */
static void test_learned_token_sent_for_entries_read_under_it(void **state)
{
    (void)state;
    fp_takeover_view_t v = {0};
    LEARN(&v, "");
    uint32_t read_at = v.epoch;
    assert_int_not_equal(read_at, 0);
    assert_string_equal(fp_takeover_arg(&v, read_at, false), "");
    /* The same token again changes nothing. */
    LEARN(&v, "");
    assert_int_equal(v.epoch, read_at);
    assert_string_equal(fp_takeover_arg(&v, read_at, false), "");
}

/* Entries read before a change, from a history read or a take-over (0),
 * and a batch that may have been applied already: never trusted. */
static void test_untrusted_cases(void **state)
{
    (void)state;
    fp_takeover_view_t v = {0};
    LEARN(&v, "1700000000.1:1");
    uint32_t old = v.epoch;
    LEARN(&v, "1700000001.5:2");
    assert_true(v.epoch > old);
    assert_string_equal(fp_takeover_arg(&v, old, false), FP_TAKEOVER_UNTRUSTED);
    assert_string_equal(fp_takeover_arg(&v, 0, false), FP_TAKEOVER_UNTRUSTED);
    assert_string_equal(fp_takeover_arg(&v, v.epoch, true), FP_TAKEOVER_UNTRUSTED);
    assert_string_equal(fp_takeover_arg(&v, v.epoch, false), "1700000001.5:2");
    /* A batch with no entry (UINT32_MAX) has nothing to trust either. */
    assert_string_equal(fp_takeover_arg(&v, UINT32_MAX, false), FP_TAKEOVER_UNTRUSTED);
}

/* Back to a token seen before (a replica promoted without the last
 * take-over) is a change too: entries read in between are not trusted. */
static void test_going_back_is_a_change(void **state)
{
    (void)state;
    fp_takeover_view_t v = {0};
    LEARN(&v, "a");
    uint32_t first = v.epoch;
    LEARN(&v, "b");
    uint32_t second = v.epoch;
    LEARN(&v, "a");
    assert_true(v.epoch > second);
    assert_string_equal(fp_takeover_arg(&v, first, false), FP_TAKEOVER_UNTRUSTED);
    assert_string_equal(fp_takeover_arg(&v, second, false), FP_TAKEOVER_UNTRUSTED);
}

/* A token too long to keep: unusable until one fits, and the epoch still
 * moves, so entries read under the long one are never trusted later. */
static void test_overlong_token(void **state)
{
    (void)state;
    fp_takeover_view_t v = {0};
    LEARN(&v, "short");
    uint32_t before = v.epoch;
    char big[FP_TAKEOVER_TOKEN_MAX + 8];
    memset(big, '7', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    LEARN(&v, big);
    uint32_t during = v.epoch;
    assert_true(during > before);
    assert_string_equal(fp_takeover_arg(&v, during, false), FP_TAKEOVER_UNTRUSTED);
    LEARN(&v, "short");
    assert_true(v.epoch > during);
    assert_string_equal(fp_takeover_arg(&v, during, false), FP_TAKEOVER_UNTRUSTED);
    assert_string_equal(fp_takeover_arg(&v, v.epoch, false), "short");
}

/* The epoch never comes back to 0, the mark of entries not read fresh. */
static void test_epoch_skips_zero(void **state)
{
    (void)state;
    fp_takeover_view_t v = {0};
    v.epoch = UINT32_MAX;
    LEARN(&v, "x");
    assert_int_equal(v.epoch, 1);
    assert_string_equal(fp_takeover_arg(&v, 0, false), FP_TAKEOVER_UNTRUSTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_never_trusted),
        cmocka_unit_test(test_learned_token_sent_for_entries_read_under_it),
        cmocka_unit_test(test_untrusted_cases),
        cmocka_unit_test(test_going_back_is_a_change),
        cmocka_unit_test(test_overlong_token),
        cmocka_unit_test(test_epoch_skips_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
