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
    assert_string_equal(fp_takeover_arg(&v, 0, false, true), FP_TAKEOVER_UNTRUSTED);
    assert_string_equal(fp_takeover_arg(&v, v.epoch, false, true), FP_TAKEOVER_UNTRUSTED);
}

/* The empty token (no take-over ever ran) is a token like any other. */
static void test_learned_token_sent_for_entries_read_under_it(void **state)
{
    (void)state;
    fp_takeover_view_t v = {0};
    LEARN(&v, "");
    uint32_t read_at = v.epoch;
    assert_int_not_equal(read_at, 0);
    assert_string_equal(fp_takeover_arg(&v, read_at, false, true), "");
    /* The same token again changes nothing. */
    LEARN(&v, "");
    assert_int_equal(v.epoch, read_at);
    assert_string_equal(fp_takeover_arg(&v, read_at, false, true), "");
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
    assert_string_equal(fp_takeover_arg(&v, old, false, true), FP_TAKEOVER_UNTRUSTED);
    assert_string_equal(fp_takeover_arg(&v, 0, false, true), FP_TAKEOVER_UNTRUSTED);
    assert_string_equal(fp_takeover_arg(&v, v.epoch, true, true), FP_TAKEOVER_UNTRUSTED);
    assert_string_equal(fp_takeover_arg(&v, v.epoch, false, true), "1700000001.5:2");
    /* A batch with no entry (UINT32_MAX) has nothing to trust either. */
    assert_string_equal(fp_takeover_arg(&v, UINT32_MAX, false, true), FP_TAKEOVER_UNTRUSTED);
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
    assert_string_equal(fp_takeover_arg(&v, first, false, true), FP_TAKEOVER_UNTRUSTED);
    assert_string_equal(fp_takeover_arg(&v, second, false, true), FP_TAKEOVER_UNTRUSTED);
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
    assert_string_equal(fp_takeover_arg(&v, during, false, true), FP_TAKEOVER_UNTRUSTED);
    LEARN(&v, "short");
    assert_true(v.epoch > during);
    assert_string_equal(fp_takeover_arg(&v, during, false, true), FP_TAKEOVER_UNTRUSTED);
    assert_string_equal(fp_takeover_arg(&v, v.epoch, false, true), "short");
}

/* A connection came up again (perhaps to another server): nothing read
 * before is trusted, nor anything until a reply tells the token again, even
 * the same one. */
static void test_forget_on_reconnect(void **state)
{
    (void)state;
    fp_takeover_view_t v = {0};
    LEARN(&v, "1700000000.1:0");
    uint32_t before = v.epoch;
    fp_takeover_forget(&v);
    uint32_t gap = v.epoch;
    assert_true(gap > before);
    assert_string_equal(fp_takeover_arg(&v, gap, false, true), FP_TAKEOVER_UNTRUSTED);
    LEARN(&v, "1700000000.1:0");
    assert_true(v.epoch > gap);
    assert_string_equal(fp_takeover_arg(&v, before, false, true), FP_TAKEOVER_UNTRUSTED);
    assert_string_equal(fp_takeover_arg(&v, gap, false, true), FP_TAKEOVER_UNTRUSTED);
    assert_string_equal(fp_takeover_arg(&v, v.epoch, false, true), "1700000000.1:0");
}

/* Leases are fresh while the last complete renewal is less than half the
 * visibility timeout old; a stale one (a stalled daemon) trusts nothing. */
static void test_leases_fresh(void **state)
{
    (void)state;
    int64_t since = 1000000;
    assert_true(fp_takeover_leases_fresh(since, since, 30000));
    assert_true(fp_takeover_leases_fresh(since + 14999999, since, 30000));
    assert_false(fp_takeover_leases_fresh(since + 15000000, since, 30000));
    assert_false(fp_takeover_leases_fresh(since + 90000000, since, 30000));
    assert_false(fp_takeover_leases_fresh(since, since, 0)); /* no visibility timeout */
    fp_takeover_view_t v = {0};
    LEARN(&v, "t");
    assert_string_equal(fp_takeover_arg(&v, v.epoch, false, false), FP_TAKEOVER_UNTRUSTED);
    assert_string_equal(fp_takeover_arg(&v, v.epoch, false, true), "t");
}

/* The epoch never comes back to 0, the mark of entries not read fresh. */
static void test_epoch_skips_zero(void **state)
{
    (void)state;
    fp_takeover_view_t v = {0};
    v.epoch = UINT32_MAX;
    LEARN(&v, "x");
    assert_int_equal(v.epoch, 1);
    assert_string_equal(fp_takeover_arg(&v, 0, false, true), FP_TAKEOVER_UNTRUSTED);
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
        cmocka_unit_test(test_forget_on_reconnect),
        cmocka_unit_test(test_leases_fresh),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
