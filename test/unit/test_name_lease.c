/* test_name_lease.c: the daemon name lease's pure parts: the key (one per
 * queue, in the queue's hash tag), the value stored in Redis, who may take a
 * lease held under another token (only a dead predecessor on this host, or
 * one that had this very pid), and when the leases of all queues count as
 * held and are claimed again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "queue/name_lease.h"

static fp_lease_holder_t holder(const char *token, const char *host, long long pid)
{
    fp_lease_holder_t h;
    memset(&h, 0, sizeof h);
    strcpy(h.token, token);
    strcpy(h.host, host);
    h.pid = pid;
    h.since_ms = 1796590000123;
    return h;
}

static void test_key_per_queue_in_its_slot(void **state)
{
    (void)state;
    char *a = fp_lease_key("fp", "a", "web-1");
    char *b = fp_lease_key("fp", "b", "web-1");
    assert_non_null(a);
    assert_non_null(b);
    /* The queue's hash tag: the key lives in the queue's Cluster slot, and
     * one daemon.name on two queues is two keys. */
    assert_string_equal(a, "fp:{a}:lease:web-1");
    assert_string_equal(b, "fp:{b}:lease:web-1");
    free(a);
    free(b);
}

static void test_format_parse_round_trip(void **state)
{
    (void)state;
    fp_lease_holder_t h = holder("0123456789abcdef0123456789abcdef", "web-1.example", 4242);
    char buf[400];
    int n = fp_lease_format(&h, buf, sizeof buf);
    assert_string_equal(buf, "0123456789abcdef0123456789abcdef web-1.example 4242 1796590000123");
    assert_int_equal(n, (int)strlen(buf));
    fp_lease_holder_t back;
    assert_true(fp_lease_parse(buf, (size_t)n, &back));
    assert_string_equal(back.token, h.token);
    assert_string_equal(back.host, h.host);
    assert_int_equal(back.pid, 4242);
    assert_int_equal(back.since_ms, 1796590000123);
}

static void test_format_refuses_what_cannot_parse_back(void **state)
{
    (void)state;
    fp_lease_holder_t h = holder("t", "two words", 1);
    char buf[400];
    assert_int_equal(fp_lease_format(&h, buf, sizeof buf), -1);
    h = holder("t", "h", 1);
    assert_int_equal(fp_lease_format(&h, buf, 8), -1);
}

static void test_parse_rejects_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "t h 1", "t h 1 2 3", "t h x 2", "t h 1 y", "t h 0 5", "t h -3 5", "t h 1 -5",
        " h 1 2", "t  1 2", "t h 1 ", "t h 99999999999999999999 2",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fp_lease_holder_t out;
        if (fp_lease_parse(bad[i], strlen(bad[i]), &out))
            fail_msg("parsed \"%s\"", bad[i]);
    }
}

static void test_decide(void **state)
{
    (void)state;
    fp_lease_holder_t me = holder("mine", "host-a", 100);
    fp_lease_holder_t other_host = holder("theirs", "host-b", 200);
    fp_lease_holder_t same_host = holder("theirs", "host-a", 200);
    fp_lease_holder_t same_pid = holder("theirs", "host-a", 100);
    const int64_t fresh = FP_LEASE_TTL_MS, period = FP_LEASE_TTL_MS / 3 + FP_LEASE_RETRY_MS;
    /* Another host: its pid says nothing here, alive or not. */
    assert_int_equal(fp_lease_decide(&me, &other_host, false, fresh, 0), FP_LEASE_REFUSE);
    assert_int_equal(fp_lease_decide(&me, &other_host, true, fresh, 0), FP_LEASE_REFUSE);
    /* This host: a running daemon keeps it, a dead one's is taken over. */
    assert_int_equal(fp_lease_decide(&me, &same_host, true, fresh, 0), FP_LEASE_REFUSE);
    assert_int_equal(fp_lease_decide(&me, &same_host, false, fresh, 0), FP_LEASE_TAKE_OVER);
    /* Our own pid under another token: a predecessor (a container restarted
     * as pid 1 again) stops renewing, and its lease is taken over once it
     * missed a renewal; a twin container on the host network (pid 1 too)
     * keeps renewing, and is refused after a renewal period. */
    assert_int_equal(fp_lease_decide(&me, &same_pid, true, fresh, 0), FP_LEASE_WAIT);
    assert_int_equal(fp_lease_decide(&me, &same_pid, true, FP_LEASE_LAPSED_MS + 1, period),
                     FP_LEASE_WAIT);
    assert_int_equal(fp_lease_decide(&me, &same_pid, true, FP_LEASE_LAPSED_MS, 0),
                     FP_LEASE_TAKE_OVER);
    assert_int_equal(fp_lease_decide(&me, &same_pid, true, fresh, period + 1), FP_LEASE_REFUSE);
    assert_int_equal(fp_lease_decide(&me, &same_pid, true, -1, period + 1), FP_LEASE_REFUSE);
}

static void test_describe_names_everything(void **state)
{
    (void)state;
    fp_lease_holder_t h = holder("theirs", "web-1", 4242);
    char buf[512];
    fp_lease_describe("billing", "emails", &h, 12345, buf, sizeof buf);
    FP_TH_EXPECT_ALL_IN(buf,
                        "daemon.name \"billing\"",
                        "queue \"emails\"",
                        "host web-1",
                        "pid 4242",
                        "since 2026-12-06T",
                        "12345 ms");
}

static void test_all_ours(void **state)
{
    (void)state;
    fp_lease_key_status_t k[3] = {{.ours = true}, {.ours = true}, {.ours = true}};
    assert_true(fp_lease_all_ours(k, 3));
    /* One queue still to claim (or a reply still on its way): no consuming. */
    k[1].ours = false;
    k[1].in_flight = true;
    assert_false(fp_lease_all_ours(k, 3));
    k[1].in_flight = false;
    assert_false(fp_lease_all_ours(k, 3));
    assert_true(fp_lease_all_ours(k, 1));
}

static void test_next_round(void **state)
{
    (void)state;
    fp_lease_key_status_t k[2] = {{.ours = true}, {.ours = true}};
    assert_int_equal(fp_lease_next_ms(k, 2), FP_LEASE_TTL_MS / 3);
    /* A reply still on its way: the round is not over. */
    k[1].in_flight = true;
    assert_int_equal(fp_lease_next_ms(k, 2), -1);
    /* An error reply on one key: every key is tried again soon. */
    k[1].in_flight = false;
    k[1].retry = true;
    assert_int_equal(fp_lease_next_ms(k, 2), FP_LEASE_RETRY_MS);
    /* Not ours and nothing on its way (the connection dropped the reply). */
    k[1].retry = false;
    k[1].ours = false;
    assert_int_equal(fp_lease_next_ms(k, 2), FP_LEASE_RETRY_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_per_queue_in_its_slot),
        cmocka_unit_test(test_format_parse_round_trip),
        cmocka_unit_test(test_format_refuses_what_cannot_parse_back),
        cmocka_unit_test(test_parse_rejects_malformed),
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_describe_names_everything),
        cmocka_unit_test(test_all_ours),
        cmocka_unit_test(test_next_round),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
