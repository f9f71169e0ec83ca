/* test_sqlq_limits.c: [limits.TYPE] concurrency and rate on the embedded
 * queue's file (lib/sqlq/limits.c), the SQL twin of the Redis take and
 * renew scripts: two connections on one file share one concurrency limit,
 * a member is counted once, release frees a slot, an expired lease (a dead
 * daemon's) frees its slot, a rate refusal gives the lease back, renewal
 * puts a lost lease back and counts it, and the GCRA spacing over the
 * test's own clock is exactly fp_gcra_take's (lib/limits/rate.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "limits/rate.h"
#include "sqlq/kv.h"
#include "sqlq/limits.h"
#include "sqlq_fixture.h"

typedef fp_sqlq_fx_t fixture_t;

#define T0_US 1700000000000000LL /* the test's clock: any Unix time */
#define MIN_US 60000000LL

static fp_limit_reply_t take_at(fp_sqlq_t *q, const char *member, int64_t concurrency,
                                int64_t lease_ms, const fp_rate_t *rate, int64_t now_us)
{
    fp_limit_ask_t ask = {.type = "t",
                          .member = member,
                          .concurrency = concurrency,
                          .lease_ms = lease_ms,
                          .interval_us = rate != NULL ? fp_rate_interval_us(rate) : 0,
                          .tolerance_us = rate != NULL ? fp_rate_tolerance_us(rate) : 0};
    fp_limit_reply_t rep;
    fp_err_t err = {0};
    if (fp_sqlq_limit_take(q, &ask, now_us, &rep, &err) != 0)
        fail_msg("take: %s", err.msg);
    return rep;
}

static bool leased(fp_sqlq_t *q, const char *member, int64_t now_us)
{
    fp_err_t err = {0};
    int rc = fp_sqlq_kv_get(q, "limit:t", member, now_us / 1000, NULL, NULL, &err);
    assert_true(rc == 0 || rc == -ENOENT);
    return rc == 0;
}

static fp_sqlq_t *second_connection(const fixture_t *f)
{
    fp_sqlq_t *q = NULL;
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_open(f->path, 0, &q, &err), 0);
    return q;
}

/* Two connections (two daemons) on one file: one limit of 2 between them. */
static void test_concurrency_shared_by_two_connections(void **state)
{
    fixture_t *f = *state;
    fp_sqlq_t *other = second_connection(f);
    fp_err_t err = {0};
    assert_true(take_at(f->q, "d1/q/1", 2, 60000, NULL, T0_US).allowed);
    assert_true(take_at(other, "d2/q/2", 2, 60000, NULL, T0_US).allowed);
    fp_limit_reply_t rep = take_at(other, "d2/q/3", 2, 60000, NULL, T0_US);
    assert_false(rep.allowed);
    assert_int_equal(rep.why, FP_LIMIT_CONCURRENCY);
    assert_false(leased(f->q, "d2/q/3", T0_US));
    /* A member that holds a lease is renewed, not counted twice. */
    assert_true(take_at(f->q, "d1/q/1", 2, 60000, NULL, T0_US + 1000).allowed);
    assert_false(take_at(f->q, "d1/q/4", 2, 60000, NULL, T0_US + 1000).allowed);
    /* A release on one connection frees the slot for the other. */
    assert_int_equal(fp_sqlq_limit_release(f->q, "t", "d2/q/2", &err), 0);
    assert_int_equal(fp_sqlq_limit_release(f->q, "t", "absent", &err), 0);
    assert_true(take_at(other, "d2/q/3", 2, 60000, NULL, T0_US + 2000).allowed);
    assert_false(take_at(other, "d2/q/5", 2, 60000, NULL, T0_US + 2000).allowed);
    fp_sqlq_close(other);
}

/* A daemon that died stops renewing: its lease runs out, its slot is free
 * and its row goes at the next take. */
static void test_expired_lease_frees_its_slot(void **state)
{
    fixture_t *f = *state;
    fp_err_t err = {0};
    assert_true(take_at(f->q, "dead/q/1", 1, 500, NULL, T0_US).allowed);
    assert_false(take_at(f->q, "live/q/2", 1, 500, NULL, T0_US + 499000).allowed);
    assert_true(take_at(f->q, "live/q/2", 1, 500, NULL, T0_US + 500000).allowed);
    int64_t rows = -1;
    assert_int_equal(fp_sqlq_kv_count(f->q, "limit:t", 0, &rows, &err), 0);
    assert_int_equal(rows, 1); /* the dead lease's row was purged */
}

/* Renewal moves the expiry on, and a lease gone meanwhile is put back and
 * counted (its job still runs). */
static void test_renew_extends_and_counts_lost(void **state)
{
    fixture_t *f = *state;
    fp_err_t err = {0};
    assert_true(take_at(f->q, "d/q/1", 5, 1000, NULL, T0_US).allowed);
    const char *members[] = {"d/q/1", "d/q/gone"};
    int64_t lost = -1;
    assert_int_equal(
        fp_sqlq_limit_renew(f->q, "t", 1000, members, 2, T0_US / 1000 + 900, &lost, &err), 0);
    assert_int_equal(lost, 1);
    assert_true(leased(f->q, "d/q/1", T0_US + 1500000));
    assert_true(leased(f->q, "d/q/gone", T0_US + 1500000));
    assert_false(leased(f->q, "d/q/1", T0_US + 1900000));
    /* Past its expiry a lease counts as lost too. */
    assert_int_equal(
        fp_sqlq_limit_renew(f->q, "t", 1000, members, 1, T0_US / 1000 + 5000, &lost, &err), 0);
    assert_int_equal(lost, 1);
}

/* The rate refuses: no lease is left behind, not even one held before. */
static void test_rate_refusal_gives_the_lease_back(void **state)
{
    fixture_t *f = *state;
    fp_rate_t hourly = {1, 3600000};
    assert_true(take_at(f->q, "d/q/1", 5, 60000, &hourly, T0_US).allowed);
    assert_true(leased(f->q, "d/q/1", T0_US));
    fp_limit_reply_t rep = take_at(f->q, "d/q/2", 5, 60000, &hourly, T0_US + 1000);
    assert_false(rep.allowed);
    assert_int_equal(rep.why, FP_LIMIT_RATE);
    assert_true(rep.retry_after_ms > 3599000 && rep.retry_after_ms <= 3600000);
    assert_false(leased(f->q, "d/q/2", T0_US + 1000));
    assert_false(take_at(f->q, "d/q/1", 5, 60000, &hourly, T0_US + 2000).allowed);
    assert_false(leased(f->q, "d/q/1", T0_US + 2000));
    /* A reload to 100/s: the TAT an hour ahead is capped, the next slot is
     * one new interval away. */
    fp_rate_t fast = {100, 1000};
    rep = take_at(f->q, "d/q/3", 0, 60000, &fast, T0_US + 3000);
    assert_false(rep.allowed);
    assert_true(rep.retry_after_ms <= 10);
}

/* Starts at 5/s tried every 7 ms for 10 s of the test's clock, alternating
 * two connections: admitted exactly when fp_gcra_take alone, with a TAT in
 * memory, admits (one arithmetic), which is a burst of 5 then 5 a second. */
static void test_gcra_spacing_matches_the_arithmetic(void **state)
{
    fixture_t *f = *state;
    fp_sqlq_t *other = second_connection(f);
    fp_rate_t rate = {5, 1000};
    int64_t tat = 0, admitted = 0, first_second = 0;
    for (int64_t now = T0_US; now < T0_US + 10000000; now += 7000) {
        int64_t next, retry;
        bool want = fp_gcra_take(tat, now, fp_rate_interval_us(&rate),
                                 fp_rate_tolerance_us(&rate), &next, &retry);
        tat = next;
        fp_limit_reply_t rep = take_at(admitted % 2 ? other : f->q, "", 0, 0, &rate, now);
        assert_int_equal(rep.allowed, want);
        if (!want)
            assert_int_equal(rep.retry_after_ms, fp_limit_retry_ms(retry));
        admitted += rep.allowed;
        first_second += rep.allowed && now < T0_US + 1000000;
    }
    assert_int_equal(first_second, 5 + 4); /* the burst, then one per 200 ms */
    assert_true(admitted >= 5 + 49 && admitted <= 5 + 50);
    fp_sqlq_close(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_concurrency_shared_by_two_connections,
                                        fp_sqlq_fx_setup, fp_sqlq_fx_teardown),
        cmocka_unit_test_setup_teardown(test_expired_lease_frees_its_slot, fp_sqlq_fx_setup,
                                        fp_sqlq_fx_teardown),
        cmocka_unit_test_setup_teardown(test_renew_extends_and_counts_lost, fp_sqlq_fx_setup,
                                        fp_sqlq_fx_teardown),
        cmocka_unit_test_setup_teardown(test_rate_refusal_gives_the_lease_back, fp_sqlq_fx_setup,
                                        fp_sqlq_fx_teardown),
        cmocka_unit_test_setup_teardown(test_gcra_spacing_matches_the_arithmetic,
                                        fp_sqlq_fx_setup, fp_sqlq_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
