/* test_metrics_hist.c: lib/http/metrics_hist.c and the wait histogram of
 * lib/http/metrics.c — bucket boundaries (inclusive "le"), what is not
 * observed, stream entry id parsing, the wait clamped at 0 when clocks
 * disagree, the Redis clock offset applied, and the queue label bounded by
 * the configured queues. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "harness.h"
#include "http/metrics.h"
#include "http/metrics_hist.h"

static void test_bucket_bounds_are_inclusive(void **state)
{
    (void)state;
    const fp_hist_bounds_t *b = &fp_hist_wait_bounds;
    assert_true(b->n <= FP_HIST_MAX_BUCKETS);
    assert_int_equal(fp_hist_bucket(b, 0), 0);
    for (size_t i = 0; i < b->n; i++) {
        assert_int_equal(fp_hist_bucket(b, b->le[i]), i);
        assert_int_equal(fp_hist_bucket(b, b->le[i] * 1.01), i + 1);
        if (i > 0)
            assert_true(b->le[i] > b->le[i - 1]);
    }
    assert_int_equal(fp_hist_bucket(b, 1e9), b->n);
    assert_int_equal(fp_hist_bucket(b, INFINITY), b->n);
    assert_true(fp_hist_run_bounds.n <= FP_HIST_MAX_BUCKETS);
}

static void test_observe_counts_sum_and_refuses_bad_values(void **state)
{
    (void)state;
    fp_hist_t h = {0};
    assert_true(fp_hist_observe(&h, &fp_hist_wait_bounds, 0.004));
    assert_true(fp_hist_observe(&h, &fp_hist_wait_bounds, 7200));
    assert_true(fp_hist_observe(&h, &fp_hist_wait_bounds, 0));
    assert_false(fp_hist_observe(&h, &fp_hist_wait_bounds, -0.5));
    assert_false(fp_hist_observe(&h, &fp_hist_wait_bounds, NAN));
    assert_int_equal(h.count, 3);
    assert_int_equal(h.buckets[0], 2);
    assert_int_equal(h.buckets[fp_hist_wait_bounds.n], 1);
    assert_true(fabs(h.sum - 7200.004) < 1e-9);
}

static void test_entry_ids(void **state)
{
    (void)state;
    assert_int_equal(fp_hist_entry_ms("1700000000123-0"), 1700000000123LL);
    assert_int_equal(fp_hist_entry_ms("0-1"), 0);
    assert_int_equal(fp_hist_entry_ms("5-18446744073709551615"), 5);
    const char *bad[] = {NULL, "", "-", "12", "12-", "-3", "12-x", "12-3x", "a-1", " 1-1",
                         "99999999999999999999-0", "1-2-3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(fp_hist_entry_ms(bad[i]), -1);
}

static void test_wait_from_entry_id(void **state)
{
    (void)state;
    assert_true(fp_hist_wait_seconds("1000-0", 3500) == 2.5);
    assert_true(fp_hist_wait_seconds("1000-7", 1000) == 0.0);
    /* The entry looks younger than "now": clocks disagree; never negative. */
    assert_true(fp_hist_wait_seconds("5000-0", 1000) == 0.0);
    assert_true(fp_hist_wait_seconds("junk", 1000) < 0);
}

static char *render(const fp_metrics_t *m)
{
    fp_buf_t b = {0};
    assert_int_equal(fp_metrics_render(m, &b), 0);
    assert_non_null(b.data);
    return b.data; /* NUL-terminated, plain malloc memory */
}

/* The daemon's clock runs 10 s behind Redis': a job Redis added at 100 s
 * and started at 101.5 s by Redis' clock waited 1.5 s, not -8.5 s. */
static void test_registry_applies_the_redis_clock_offset(void **state)
{
    (void)state;
    fp_metrics_t *m = NULL;
    assert_int_equal(fp_metrics_new(0, &m), 0);
    assert_int_equal(fp_metrics_job_started(m, "default", "100000-0", 91500), 0); /* clamped */
    fp_metrics_set_redis_clock(m, 200000, 190000);
    assert_int_equal(fp_metrics_job_started(m, "default", "100000-0", 91500), 0);
    assert_int_equal(fp_metrics_job_started(m, "default", "not an id", 91500), -EINVAL);
    assert_int_equal(fp_metrics_job_started(m, "mail", "100000-1", 90000), 0);
    char *text = render(m);
    FP_TH_EXPECT_ALL_IN(
        text, "# TYPE forkpool_job_wait_seconds histogram\n",
        "forkpool_job_wait_seconds_bucket{queue=\"default\",le=\"0.005\"} 1\n",
        "forkpool_job_wait_seconds_bucket{queue=\"default\",le=\"1\"} 1\n",
        "forkpool_job_wait_seconds_bucket{queue=\"default\",le=\"2.5\"} 2\n",
        "forkpool_job_wait_seconds_bucket{queue=\"default\",le=\"+Inf\"} 2\n",
        "forkpool_job_wait_seconds_sum{queue=\"default\"} 1.5\n",
        "forkpool_job_wait_seconds_count{queue=\"default\"} 2\n",
        "forkpool_job_wait_seconds_count{queue=\"mail\"} 1\n");
    free(text);
    fp_metrics_free(m);
}

/* Queue labels are the configured queues: past FP_METRICS_MAX_QUEUES
 * nothing new is taken, and a wait survives the queue's gauges going
 * unknown (a counter never disappears). */
static void test_wait_queue_label_bounded_and_kept(void **state)
{
    (void)state;
    fp_metrics_t *m = NULL;
    assert_int_equal(fp_metrics_new(0, &m), 0);
    char name[32];
    for (int i = 0; i < FP_METRICS_MAX_QUEUES; i++) {
        snprintf(name, sizeof name, "q%d", i);
        assert_int_equal(fp_metrics_job_started(m, name, "1-0", 2), 0);
    }
    assert_int_equal(fp_metrics_job_started(m, "one-too-many", "1-0", 2), -ENOSPC);
    fp_metrics_clear_queues(m);
    char *text = render(m);
    assert_null(strstr(text, "one-too-many"));
    assert_non_null(strstr(text, "forkpool_job_wait_seconds_count{queue=\"q0\"} 1\n"));
    assert_null(strstr(text, "forkpool_queue_ready"));
    free(text);
    fp_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_bounds_are_inclusive),
        cmocka_unit_test(test_observe_counts_sum_and_refuses_bad_values),
        cmocka_unit_test(test_entry_ids),
        cmocka_unit_test(test_wait_from_entry_id),
        cmocka_unit_test(test_registry_applies_the_redis_clock_offset),
        cmocka_unit_test(test_wait_queue_label_bounded_and_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
