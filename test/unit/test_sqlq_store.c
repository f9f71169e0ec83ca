/* test_sqlq_store.c: lib/sqlq/, the embedded queue's store, against real
 * SQLite files in a temporary directory. Each rule of the delivery contract
 * (docs/embedded.md) has a test that breaks when the rule does: strict
 * order and caps per queue, batch enqueue, delayed rows, lease take-over with
 * the delivery count, stale and repeated outcomes, retry / dead / put-back,
 * renewal, own rows after a restart, two connections and two processes on
 * one file, the refusal of foreign, newer and damaged files (left byte for
 * byte as they were), incremental vacuum, and the probes a polling consumer
 * reads (data_version, a row's presence, the oldest ready row, new ids).
 * Times are the test's own numbers, never the clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "harness.h"
#include "sqlq_fixture.h"
#include "sqlq/header.h"
#include "sqlq/store.h"
#include "sqlq/store_internal.h"

#define LEASE 1000

typedef fp_sqlq_fx_t fixture_t;
#define setup fp_sqlq_fx_setup
#define teardown fp_sqlq_fx_teardown

static int64_t put(fp_sqlq_t *q, const char *queue, const char *payload, int64_t delay,
                   int64_t now)
{
    fp_err_t err = {0};
    int64_t id = 0;
    assert_int_equal(fp_sqlq_enqueue(q, queue, payload, strlen(payload), delay, now, &id, &err), 0);
    assert_true(id > 0);
    return id;
}

static size_t pull(fp_sqlq_t *q, const char *const *queues, size_t nq, const char *consumer,
                   size_t max, int64_t now, int flags, fp_sqlq_jobs_t *jobs)
{
    fp_err_t err = {0};
    int rc = fp_sqlq_pull(q, queues, nq, consumer, max, LEASE, now, flags, jobs, &err);
    if (rc != 0)
        fail_msg("pull: %s", err.msg);
    return jobs->n;
}

static size_t pull1(fp_sqlq_t *q, const char *consumer, size_t max, int64_t now,
                    fp_sqlq_jobs_t *jobs)
{
    const char *queues[] = {"default"};
    return pull(q, queues, 1, consumer, max, now, 0, jobs);
}

static size_t settle(fp_sqlq_t *q, const char *consumer, const fp_sqlq_outcome_t *items,
                     size_t n, int64_t now, fp_sqlq_stales_t *stale)
{
    fp_err_t err = {0};
    size_t applied = 99;
    int rc = fp_sqlq_outcomes(q, consumer, items, n, now, &applied, stale, &err);
    if (rc != 0)
        fail_msg("outcomes: %s", err.msg);
    return applied;
}

static fp_sqlq_counts_t counts(fp_sqlq_t *q, const char *queue, int64_t now)
{
    fp_err_t err = {0};
    fp_sqlq_counts_t c;
    assert_int_equal(fp_sqlq_counts(q, queue, now, &c, &err), 0);
    return c;
}

static void test_strict_order_and_fifo(void **state)
{
    fixture_t *f = *state;
    int64_t b0 = put(f->q, "low", "b0", 0, 10);
    int64_t a1 = put(f->q, "high", "a1", 0, 20);
    int64_t a2 = put(f->q, "high", "a2", 0, 30);
    int64_t b1 = put(f->q, "low", "b1", 0, 40);
    const char *queues[] = {"high", "low"};
    fp_sqlq_jobs_t jobs = {0};
    assert_int_equal(pull(f->q, queues, 2, "c1", 2, 100, 0, &jobs), 2);
    assert_int_equal(jobs.v[0].id, a1);
    assert_string_equal(jobs.v[0].payload, "a1");
    assert_int_equal(jobs.v[0].queue, 0);
    assert_int_equal(jobs.v[0].deliveries, 1);
    assert_int_equal(jobs.v[1].id, a2);
    assert_int_equal(pull(f->q, queues, 2, "c1", 5, 100, 0, &jobs), 2);
    assert_int_equal(jobs.v[0].id, b0);
    assert_int_equal(jobs.v[0].queue, 1);
    assert_int_equal(jobs.v[1].id, b1);
    assert_int_equal(jobs.v[1].len, 2);
    assert_int_equal(pull(f->q, queues, 2, "c1", 5, 100, 0, &jobs), 0);
    fp_sqlq_jobs_free(&jobs);
}

static void test_caps_bound_each_queue(void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < 3; i++) {
        put(f->q, "a", "a", 0, 0);
        put(f->q, "b", "b", 0, 0);
    }
    const char *queues[] = {"a", "b"};
    size_t caps[] = {1, 2};
    fp_sqlq_jobs_t jobs = {0};
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_pull_capped(f->q, queues, caps, 2, "c", 10, LEASE, 0, 0, &jobs, &err),
                     0);
    assert_int_equal(jobs.n, 3);
    assert_string_equal(jobs.v[0].payload, "a");
    assert_string_equal(jobs.v[1].payload, "b");
    assert_int_equal(jobs.v[2].queue, 1);
    /* max still bounds the whole pull, and a cap of 0 skips its queue. */
    size_t caps2[] = {0, 5};
    assert_int_equal(fp_sqlq_pull_capped(f->q, queues, caps2, 2, "c", 1, LEASE, 0, 0, &jobs, &err),
                     0);
    assert_int_equal(jobs.n, 1);
    assert_string_equal(jobs.v[0].payload, "b");
    assert_int_equal(counts(f->q, "a", 0).ready, 2);
    fp_sqlq_jobs_free(&jobs);
}

static void test_enqueue_batch_all_or_none(void **state)
{
    fixture_t *f = *state;
    fp_sqlq_new_t items[] = {{"first", 5, 0}, {"later", 5, 100}, {"second", 6, 0}};
    int64_t ids[3] = {0};
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_enqueue_batch(f->q, "default", items, 3, 0, ids, &err), 0);
    assert_true(ids[0] < ids[1] && ids[1] < ids[2]);
    fp_sqlq_jobs_t jobs = {0};
    assert_int_equal(pull1(f->q, "a", 10, 0, &jobs), 2);
    assert_int_equal(jobs.v[0].id, ids[0]);
    assert_int_equal(jobs.v[1].id, ids[2]);
    assert_string_equal(jobs.v[1].payload, "second");
    assert_int_equal(counts(f->q, "default", 0).delayed, 1);
    /* A bad item anywhere: nothing added. */
    items[2].delay_ms = -1;
    assert_int_equal(fp_sqlq_enqueue_batch(f->q, "default", items, 3, 0, NULL, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "job 3 of 3"));
    fp_sqlq_counts_t c = counts(f->q, "default", 0);
    assert_int_equal(c.ready + c.delayed + c.leased, 3);
    fp_sqlq_jobs_free(&jobs);
}

static void test_delayed_rows_wait_until_due(void **state)
{
    fixture_t *f = *state;
    int64_t late = put(f->q, "default", "late", 1000, 0);
    fp_sqlq_jobs_t jobs = {0};
    fp_sqlq_counts_t c = counts(f->q, "default", 999);
    assert_int_equal(c.delayed, 1);
    assert_int_equal(c.ready, 0);
    assert_int_equal(pull1(f->q, "c1", 10, 999, &jobs), 0);
    c = counts(f->q, "default", 1000);
    assert_int_equal(c.ready, 1);
    assert_int_equal(pull1(f->q, "c1", 10, 1000, &jobs), 1);
    assert_int_equal(jobs.v[0].id, late);
    c = counts(f->q, "default", 1000);
    assert_int_equal(c.leased, 1);
    assert_int_equal(c.ready + c.delayed, 0);
    fp_sqlq_jobs_free(&jobs);
}

static void test_expired_lease_is_taken_over(void **state)
{
    fixture_t *f = *state;
    int64_t id = put(f->q, "default", "job", 0, 0);
    fp_sqlq_jobs_t jobs = {0};
    assert_int_equal(pull1(f->q, "a", 10, 0, &jobs), 1);
    assert_int_equal(pull1(f->q, "b", 10, LEASE - 1, &jobs), 0); /* lease holds */
    assert_int_equal(pull1(f->q, "b", 10, LEASE, &jobs), 1);
    assert_int_equal(jobs.v[0].id, id);
    assert_int_equal(jobs.v[0].deliveries, 2);
    assert_string_equal(jobs.v[0].payload, "job");

    /* a's outcome is stale now: b holds the row, and it stays b's. */
    fp_sqlq_outcome_t ack = {.kind = FP_SQLQ_ACK, .id = id};
    fp_sqlq_stales_t stale = {0};
    assert_int_equal(settle(f->q, "a", &ack, 1, LEASE + 1, &stale), 0);
    assert_int_equal(stale.n, 1);
    assert_int_equal(stale.v[0].id, id);
    assert_string_equal(stale.v[0].holder, "b");
    assert_int_equal(counts(f->q, "default", LEASE + 1).leased, 1);
    assert_int_equal(settle(f->q, "b", &ack, 1, LEASE + 1, &stale), 1);
    assert_int_equal(stale.n, 0);
    assert_int_equal(counts(f->q, "default", LEASE + 1).leased, 0);
    fp_sqlq_stales_free(&stale);
    fp_sqlq_jobs_free(&jobs);
}

/* Everything a test can see of the file, to compare before and after. */
static void snapshot(fp_sqlq_t *q, int64_t now, fp_sqlq_counts_t *c, fp_sqlq_deads_t *dead)
{
    fp_err_t err = {0};
    *c = counts(q, "default", now);
    assert_int_equal(fp_sqlq_dead_list(q, "default", 0, 100, dead, &err), 0);
}

static void test_batch_applied_twice_acts_once(void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < 4; i++)
        put(f->q, "default", "job", 0, 0);
    fp_sqlq_jobs_t jobs = {0};
    assert_int_equal(pull1(f->q, "a", 4, 0, &jobs), 4);
    fp_sqlq_outcome_t items[] = {
        {.kind = FP_SQLQ_ACK, .id = jobs.v[0].id},
        {.kind = FP_SQLQ_RETRY, .id = jobs.v[1].id, .payload = "r", .len = 1, .delay_ms = 50},
        {.kind = FP_SQLQ_DEAD, .id = jobs.v[2].id, .error = "boom", .attempts = 3},
        {.kind = FP_SQLQ_PUT_BACK, .id = jobs.v[3].id},
    };
    fp_sqlq_stales_t stale = {0};
    assert_int_equal(settle(f->q, "a", items, 4, 10, &stale), 4);
    fp_sqlq_counts_t c1, c2;
    fp_sqlq_deads_t d1 = {0}, d2 = {0};
    snapshot(f->q, 10, &c1, &d1);
    assert_int_equal(c1.ready, 1);   /* the put-back */
    assert_int_equal(c1.delayed, 1); /* the retry */
    assert_int_equal(c1.dead, 1);
    assert_int_equal(settle(f->q, "a", items, 4, 10, &stale), 0);
    assert_int_equal(stale.n, 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(stale.v[i].holder, "");
    snapshot(f->q, 10, &c2, &d2);
    assert_memory_equal(&c1, &c2, sizeof c1);
    assert_int_equal(d2.n, 1);
    assert_int_equal(d1.v[0].id, d2.v[0].id);
    fp_sqlq_deads_free(&d1);
    fp_sqlq_deads_free(&d2);
    fp_sqlq_stales_free(&stale);
    fp_sqlq_jobs_free(&jobs);
}

static void test_retry_is_a_new_row_due_later(void **state)
{
    fixture_t *f = *state;
    int64_t id = put(f->q, "default", "{\"attempt\":1}", 0, 0);
    fp_sqlq_jobs_t jobs = {0};
    assert_int_equal(pull1(f->q, "a", 1, 0, &jobs), 1);
    const char *next = "{\"attempt\":2}";
    fp_sqlq_outcome_t retry = {.kind = FP_SQLQ_RETRY, .id = id, .payload = next,
                               .len = strlen(next), .delay_ms = 500};
    assert_int_equal(settle(f->q, "a", &retry, 1, 100, NULL), 1);
    assert_int_equal(pull1(f->q, "a", 1, 599, &jobs), 0);
    assert_int_equal(pull1(f->q, "a", 1, 600, &jobs), 1);
    assert_true(jobs.v[0].id > id);
    assert_string_equal(jobs.v[0].payload, next);
    assert_int_equal(jobs.v[0].deliveries, 1);
    /* The old id is gone: its outcome re-sent finds nothing to act on. */
    fp_sqlq_outcome_t ack_old = {.kind = FP_SQLQ_ACK, .id = id};
    assert_int_equal(settle(f->q, "a", &ack_old, 1, 600, NULL), 0);
    assert_int_equal(counts(f->q, "default", 600).leased, 1);
    fp_sqlq_jobs_free(&jobs);
}

static void test_dead_keeps_reason_and_can_come_back(void **state)
{
    fixture_t *f = *state;
    int64_t id = put(f->q, "default", "doomed", 0, 0);
    fp_sqlq_jobs_t jobs = {0};
    assert_int_equal(pull1(f->q, "worker-1", 1, 0, &jobs), 1);
    fp_sqlq_outcome_t dead = {.kind = FP_SQLQ_DEAD, .id = id, .error = "ValueError: x",
                              .attempts = 5};
    assert_int_equal(settle(f->q, "worker-1", &dead, 1, 77, NULL), 1);
    fp_err_t err = {0};
    fp_sqlq_deads_t d = {0};
    assert_int_equal(fp_sqlq_dead_list(f->q, "default", 0, 10, &d, &err), 0);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.v[0].payload, "doomed"); /* the row's, as none was given */
    assert_string_equal(d.v[0].error, "ValueError: x");
    assert_string_equal(d.v[0].consumer, "worker-1");
    assert_int_equal(d.v[0].attempts, 5);
    assert_int_equal(d.v[0].failed_at, 77);
    assert_int_equal(counts(f->q, "default", 77).dead, 1);
    assert_int_equal(counts(f->q, "default", 77).leased, 0);

    size_t moved = 0;
    assert_int_equal(fp_sqlq_dead_retry(f->q, "default", &d.v[0].id, 1, 80, &moved, &err), 0);
    assert_int_equal(moved, 1);
    assert_int_equal(fp_sqlq_dead_retry(f->q, "default", &d.v[0].id, 1, 80, &moved, &err), 0);
    assert_int_equal(moved, 0);
    assert_int_equal(counts(f->q, "default", 80).dead, 0);
    assert_int_equal(pull1(f->q, "worker-1", 1, 80, &jobs), 1);
    assert_true(jobs.v[0].id > id);
    assert_string_equal(jobs.v[0].payload, "doomed");
    assert_int_equal(jobs.v[0].deliveries, 1);
    fp_sqlq_deads_free(&d);
    fp_sqlq_jobs_free(&jobs);
}

static void bury_n(fp_sqlq_t *q, const char *queue, int n)
{
    for (int i = 0; i < n; i++) {
        char payload[32];
        snprintf(payload, sizeof payload, "%s-%d", queue, i);
        put(q, queue, payload, 0, 0);
    }
    const char *queues[] = {queue};
    fp_sqlq_jobs_t jobs = {0};
    assert_int_equal(pull(q, queues, 1, "a", (size_t)n, 0, 0, &jobs), n);
    for (int i = 0; i < n; i++) {
        fp_sqlq_outcome_t dead = {.kind = FP_SQLQ_DEAD, .id = jobs.v[i].id, .error = "e"};
        assert_int_equal(settle(q, "a", &dead, 1, 1, NULL), 1);
    }
    fp_sqlq_jobs_free(&jobs);
}

static void test_dead_list_pages_retry_all_and_purge(void **state)
{
    fixture_t *f = *state;
    bury_n(f->q, "default", 5);
    bury_n(f->q, "other", 2);
    fp_err_t err = {0};
    fp_sqlq_deads_t d = {0};
    assert_int_equal(fp_sqlq_dead_list(f->q, "default", 0, 3, &d, &err), 0);
    assert_int_equal(d.n, 3);
    assert_string_equal(d.v[0].payload, "default-0");
    int64_t after = d.v[2].id;
    assert_int_equal(fp_sqlq_dead_list(f->q, "default", after, 3, &d, &err), 0);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.v[0].payload, "default-3");
    assert_string_equal(d.v[1].payload, "default-4");

    size_t removed = 0, moved = 0;
    assert_int_equal(fp_sqlq_dead_purge(f->q, "default", &d.v[1].id, 1, &removed, &err), 0);
    assert_int_equal(removed, 1);
    assert_int_equal(fp_sqlq_dead_retry(f->q, "default", NULL, 0, 5, &moved, &err), 0);
    assert_int_equal(moved, 4);
    assert_int_equal(counts(f->q, "default", 5).ready, 4);
    assert_int_equal(counts(f->q, "default", 5).dead, 0);
    assert_int_equal(counts(f->q, "other", 5).dead, 2); /* another queue's untouched */
    fp_sqlq_jobs_t jobs = {0};
    assert_int_equal(pull1(f->q, "a", 10, 5, &jobs), 4);
    assert_string_equal(jobs.v[0].payload, "default-0"); /* their old order kept */
    assert_string_equal(jobs.v[3].payload, "default-3");
    assert_int_equal(fp_sqlq_dead_purge(f->q, "other", NULL, 0, &removed, &err), 0);
    assert_int_equal(removed, 2);
    assert_int_equal(counts(f->q, "other", 5).dead, 0);
    fp_sqlq_deads_free(&d);
    fp_sqlq_jobs_free(&jobs);
}

static void test_put_back_goes_to_the_tail_uncounted(void **state)
{
    fixture_t *f = *state;
    int64_t x = put(f->q, "default", "x", 0, 0);
    fp_sqlq_jobs_t jobs = {0};
    assert_int_equal(pull1(f->q, "a", 1, 0, &jobs), 1);
    assert_int_equal(jobs.v[0].id, x);
    int64_t y = put(f->q, "default", "y", 0, 5);
    /* A second delivery of x, after its lease ran out: count 2. */
    assert_int_equal(pull1(f->q, "a", 1, LEASE, &jobs), 1);
    assert_int_equal(jobs.v[0].id, y);
    assert_int_equal(pull1(f->q, "b", 1, LEASE, &jobs), 1);
    assert_int_equal(jobs.v[0].id, x);
    assert_int_equal(jobs.v[0].deliveries, 2);
    int64_t z = put(f->q, "default", "z", 0, LEASE);
    fp_sqlq_outcome_t back = {.kind = FP_SQLQ_PUT_BACK, .id = x};
    assert_int_equal(settle(f->q, "b", &back, 1, LEASE + 1, NULL), 1);
    assert_int_equal(pull1(f->q, "b", 2, LEASE + 1, &jobs), 2);
    assert_int_equal(jobs.v[0].id, z); /* enqueued before the put-back */
    assert_string_equal(jobs.v[1].payload, "x");
    assert_true(jobs.v[1].id > z);
    assert_int_equal(jobs.v[1].deliveries, 2); /* the put-back delivery did not count */
    fp_sqlq_jobs_free(&jobs);
}

static void test_renew_only_own_leases(void **state)
{
    fixture_t *f = *state;
    int64_t id = put(f->q, "default", "long", 0, 0);
    fp_sqlq_jobs_t jobs = {0};
    assert_int_equal(pull1(f->q, "a", 1, 0, &jobs), 1);
    fp_err_t err = {0};
    bool held[2] = {true, true};
    int64_t ids[2] = {id, id + 1000};
    size_t renewed = 9;
    assert_int_equal(fp_sqlq_renew(f->q, "b", ids, 1, LEASE, 500, held, &renewed, &err), 0);
    assert_int_equal(renewed, 0);
    assert_false(held[0]);
    assert_int_equal(fp_sqlq_renew(f->q, "a", ids, 2, LEASE, 900, held, &renewed, &err), 0);
    assert_int_equal(renewed, 1);
    assert_true(held[0]);
    assert_false(held[1]);
    /* The lease now runs to 900 + LEASE, not LEASE. */
    assert_int_equal(pull1(f->q, "b", 1, LEASE, &jobs), 0);
    assert_int_equal(pull1(f->q, "b", 1, 900 + LEASE, &jobs), 1);
    fp_sqlq_jobs_free(&jobs);
}

static void test_own_rows_come_back_after_a_restart(void **state)
{
    fixture_t *f = *state;
    put(f->q, "default", "one", 0, 0);
    put(f->q, "default", "two", 0, 0);
    int64_t other = put(f->q, "default", "other's", 0, 0);
    fp_sqlq_jobs_t jobs = {0};
    assert_int_equal(pull1(f->q, "host-1", 2, 0, &jobs), 2);
    assert_int_equal(pull1(f->q, "host-2", 1, 0, &jobs), 1);
    assert_int_equal(jobs.v[0].id, other);
    fp_sqlq_close(f->q);
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_open(f->path, 0, &f->q, &err), 0);
    const char *queues[] = {"default"};
    assert_int_equal(pull(f->q, queues, 1, "host-1", 10, 10, 0, &jobs), 0);
    assert_int_equal(pull(f->q, queues, 1, "host-1", 10, 10, FP_SQLQ_PULL_OWN, &jobs), 2);
    assert_string_equal(jobs.v[0].payload, "one");
    assert_string_equal(jobs.v[1].payload, "two");
    assert_int_equal(jobs.v[0].deliveries, 2);
    fp_sqlq_jobs_free(&jobs);
}

static void test_unknown_kind_changes_nothing(void **state)
{
    fixture_t *f = *state;
    int64_t id = put(f->q, "default", "job", 0, 0);
    fp_sqlq_jobs_t jobs = {0};
    assert_int_equal(pull1(f->q, "a", 1, 0, &jobs), 1);
    fp_sqlq_outcome_t items[] = {{.kind = FP_SQLQ_ACK, .id = id},
                                 {.kind = (fp_sqlq_kind_t)42, .id = id}};
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_outcomes(f->q, "a", items, 2, 1, NULL, NULL, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "unknown outcome kind"));
    assert_int_equal(counts(f->q, "default", 1).leased, 1);
    fp_sqlq_jobs_free(&jobs);
}

/* Two connections in one process, alternating batches. */
static void test_two_connections_never_share_a_row(void **state)
{
    fixture_t *f = *state;
    fp_err_t err = {0};
    fp_sqlq_t *q2 = NULL;
    assert_int_equal(fp_sqlq_open(f->path, 0, &q2, &err), 0);
    enum { N = 200 };
    for (int i = 0; i < N; i++)
        put(i % 2 ? q2 : f->q, "default", "j", 0, 0);
    static char seen[N + 1];
    memset(seen, 0, sizeof seen);
    fp_sqlq_jobs_t jobs = {0};
    size_t total = 0;
    for (int turn = 0; total < N && turn < 1000; turn++) {
        fp_sqlq_t *q = turn % 2 ? q2 : f->q;
        size_t n = pull1(q, turn % 2 ? "b" : "a", 7, 1, &jobs);
        for (size_t i = 0; i < n; i++) {
            assert_true(jobs.v[i].id >= 1 && jobs.v[i].id <= N);
            assert_int_equal(seen[jobs.v[i].id], 0);
            seen[jobs.v[i].id] = 1;
        }
        total += n;
    }
    assert_int_equal(total, N);
    fp_sqlq_jobs_free(&jobs);
    fp_sqlq_close(q2);
}

/* A child pulls until the queue is empty and writes each id it got. */
static void pull_all_child(const char *path, const char *out, const char *consumer)
{
    fp_err_t err = {0};
    fp_sqlq_t *q = NULL;
    FILE *fp = fopen(out, "w");
    if (fp == NULL || fp_sqlq_open(path, 0, &q, &err) != 0)
        _exit(2);
    fp_sqlq_jobs_t jobs = {0};
    const char *queues[] = {"default"};
    for (;;) {
        if (fp_sqlq_pull(q, queues, 1, consumer, 5, 60000, 1, 0, &jobs, &err) != 0)
            _exit(3);
        if (jobs.n == 0)
            break;
        for (size_t i = 0; i < jobs.n; i++)
            fprintf(fp, "%lld\n", (long long)jobs.v[i].id);
    }
    fp_sqlq_jobs_free(&jobs);
    fp_sqlq_close(q);
    _exit(fclose(fp) == 0 ? 0 : 4);
}

static void test_two_processes_never_share_a_row(void **state)
{
    fixture_t *f = *state;
    enum { N = 2000 };
    for (int i = 0; i < N; i++)
        put(f->q, "default", "j", 0, 0);
    char outs[2][PATH_MAX + 16];
    pid_t pids[2];
    for (int c = 0; c < 2; c++) {
        snprintf(outs[c], sizeof outs[c], "%s/ids-%d", f->dir, c);
        pids[c] = fork();
        assert_true(pids[c] >= 0);
        if (pids[c] == 0)
            pull_all_child(f->path, outs[c], c ? "p2" : "p1");
    }
    for (int c = 0; c < 2; c++) {
        int status = 0;
        assert_int_equal(waitpid(pids[c], &status, 0), pids[c]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    static char seen[N + 1];
    memset(seen, 0, sizeof seen);
    size_t total = 0;
    for (int c = 0; c < 2; c++) {
        FILE *fp = fopen(outs[c], "r");
        assert_non_null(fp);
        long long id;
        while (fscanf(fp, "%lld", &id) == 1) {
            assert_true(id >= 1 && id <= N);
            assert_int_equal(seen[id], 0);
            seen[id] = 1;
            total++;
        }
        fclose(fp);
    }
    assert_int_equal(total, N);
}

/* ---- refusal of files that are not ours ------------------------------- */

static void expect_refused_with(const char *path, int flags, const char *reason)
{
    size_t before_len = 0, after_len = 0;
    char *before = fp_th_read_file(path, &before_len);
    assert_non_null(before);
    fp_sqlq_t *q = NULL;
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_open(path, flags, &q, &err), FP_EBADSTORE);
    assert_null(q);
    if (strstr(err.msg, reason) == NULL || strstr(err.msg, path) == NULL)
        fail_msg("message \"%s\" lacks \"%s\" or the path", err.msg, reason);
    char *after = fp_th_read_file(path, &after_len);
    assert_non_null(after);
    assert_int_equal(before_len, after_len);
    assert_memory_equal(before, after, before_len);
    free(before);
    free(after);
}

static void expect_refused(const char *path, const char *reason)
{
    expect_refused_with(path, 0, reason);
}

static void make_db(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* A foreign database in WAL mode whose last writes are still in its -wal
 * file, as its own application left it: whoever closes the last connection
 * to it checkpoints them into the file, which a refusal must not do. */
static void make_wal_db(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA application_id=77; PRAGMA journal_mode=WAL;"
                                      " CREATE TABLE t (x); INSERT INTO t VALUES (1);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void test_foreign_files_are_refused_unchanged(void **state)
{
    fixture_t *f = *state;
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/wal.db", f->dir);
    make_wal_db(path);
    expect_refused(path, "another application (application_id 77");

    snprintf(path, sizeof path, "%s/app.db", f->dir);
    make_db(path, "PRAGMA application_id=1234; CREATE TABLE t (x); INSERT INTO t VALUES (1);");
    expect_refused(path, "another application (application_id 1234");

    snprintf(path, sizeof path, "%s/plain.db", f->dir);
    make_db(path, "CREATE TABLE jobs (x); INSERT INTO jobs VALUES (1);");
    expect_refused(path, "another application (application_id 0");

    snprintf(path, sizeof path, "%s/notes.txt", f->dir);
    const char *text = "these are my notes, not a database\n";
    assert_int_equal(fp_th_write_file(path, text, strlen(text)), 0);
    expect_refused(path, "not an SQLite database");
}

static void test_newer_schema_is_refused(void **state)
{
    fixture_t *f = *state;
    fp_sqlq_close(f->q);
    f->q = NULL;
    make_db(f->path, "PRAGMA user_version=99;");
    expect_refused(f->path, "newer forkpool (schema version 99");
}

/* A queue file of some 100 pages, closed (the last connection: checkpointed,
 * no -wal left); returns its bytes. */
static char *filled_and_closed(fixture_t *f, size_t *len)
{
    char big[2048];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (int i = 0; i < 200; i++)
        put(f->q, "default", big, 0, 0);
    fp_sqlq_close(f->q);
    f->q = NULL;
    char *whole = fp_th_read_file(f->path, len);
    assert_non_null(whole);
    assert_true(*len > 100000);
    return whole;
}

static void test_damaged_files_are_refused_unchanged(void **state)
{
    fixture_t *f = *state;
    size_t len = 0;
    char *whole = filled_and_closed(f, &len);

    assert_int_equal(truncate(f->path, (off_t)(len / 2)), 0);
    expect_refused(f->path, "truncated");

    assert_int_equal(fp_th_write_file(f->path, whole, len), 0);
    memcpy(whole, "SQLite format 2", 15); /* a damaged magic string */
    assert_int_equal(fp_th_write_file(f->path, whole, len), 0);
    expect_refused(f->path, "not an SQLite database");
    free(whole);
}

/* Pages inside the file overwritten, its header intact: the plain open cannot
 * tell, the first pull meets it; FP_SQLQ_CHECK refuses the file at open. */
static void test_damaged_pages_are_found(void **state)
{
    fixture_t *f = *state;
    size_t len = 0;
    char *whole = filled_and_closed(f, &len);
    memset(whole + 4096, 0xA5, len - 8192); /* every page but the first and the last */
    assert_int_equal(fp_th_write_file(f->path, whole, len), 0);
    free(whole);
    expect_refused_with(f->path, FP_SQLQ_CHECK, "damaged");

    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_open(f->path, 0, &f->q, &err), 0);
    fp_sqlq_jobs_t jobs = {0};
    const char *queues[] = {"default"};
    assert_int_equal(fp_sqlq_pull(f->q, queues, 1, "a", 5, LEASE, 0, 0, &jobs, &err),
                     FP_EBADSTORE);
    assert_int_equal(jobs.n, 0);
}

/* ---- the file's settings, growth and the pure checks -------------------- */

static void test_file_settings(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(fp_sqlq_fx_int(f->q, "PRAGMA application_id"), FP_SQLQ_APPLICATION_ID);
    assert_int_equal(fp_sqlq_fx_int(f->q, "PRAGMA user_version"), FP_SQLQ_SCHEMA_VERSION);
    assert_int_equal(fp_sqlq_fx_int(f->q, "PRAGMA auto_vacuum"), 2); /* INCREMENTAL */
    assert_int_equal(fp_sqlq_fx_int(f->q, "PRAGMA synchronous"), 1); /* NORMAL */
    fp_err_t err = {0};
    fp_sqlq_t *full = NULL;
    assert_int_equal(fp_sqlq_open(f->path, FP_SQLQ_SYNC_FULL | FP_SQLQ_CHECK, &full, &err), 0);
    assert_int_equal(fp_sqlq_fx_int(full, "PRAGMA synchronous"), 2); /* FULL */
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(full->db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    fp_sqlq_close(full);
}

static void test_vacuum_frees_pages_after_acks(void **state)
{
    fixture_t *f = *state;
    char big[1024];
    memset(big, 'p', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    enum { N = 2000 };
    for (int i = 0; i < N; i++)
        put(f->q, "default", big, 0, 0);
    fp_sqlq_jobs_t jobs = {0};
    fp_sqlq_outcome_t acks[100];
    for (int done = 0; done < N; done += 100) {
        assert_int_equal(pull1(f->q, "a", 100, 0, &jobs), 100);
        for (int i = 0; i < 100; i++)
            acks[i] = (fp_sqlq_outcome_t){.kind = FP_SQLQ_ACK, .id = jobs.v[i].id};
        assert_int_equal(settle(f->q, "a", acks, 100, 0, NULL), 100);
    }
    fp_err_t err = {0};
    fp_sqlq_size_t size;
    assert_int_equal(fp_sqlq_size(f->q, &size, &err), 0);
    assert_true(size.free_bytes > (int64_t)N * 512); /* acks leave free pages */
    assert_true(size.file_bytes > 0);
    int64_t freed = 0;
    assert_int_equal(fp_sqlq_vacuum_step(f->q, 10, &freed, &err), 0);
    assert_int_equal(freed, 10);
    assert_int_equal(fp_sqlq_vacuum_step(f->q, 1000000, &freed, &err), 0);
    assert_true(freed > 100);
    assert_int_equal(fp_sqlq_size(f->q, &size, &err), 0);
    assert_int_equal(size.free_bytes, 0);
    fp_sqlq_jobs_free(&jobs);
}

static void test_header_check(void **state)
{
    (void)state;
    unsigned char head[FP_SQLQ_HEADER_LEN] = "SQLite format 3";
    head[16] = 0x10; /* 4096 */
    head[27] = head[95] = 7;  /* change counter = version-valid-for */
    head[31] = 10;            /* 10 pages */
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_header_check(head, sizeof head, 40960, false, &err), 0);
    assert_int_equal(fp_sqlq_header_check(head, sizeof head, 40959, false, &err), FP_EBADSTORE);
    assert_non_null(strstr(err.msg, "truncated"));
    /* A -wal file may hold the missing pages; a stale count is not trusted. */
    assert_int_equal(fp_sqlq_header_check(head, sizeof head, 4096, true, &err), 0);
    head[95] = 6;
    assert_int_equal(fp_sqlq_header_check(head, sizeof head, 4096, false, &err), 0);
    head[17] = 1; /* 4097: not a power of two */
    assert_int_equal(fp_sqlq_header_check(head, sizeof head, 40960, false, &err), FP_EBADSTORE);
    assert_int_equal(fp_sqlq_header_check(head, 0, 0, false, &err), 0); /* empty file */
    assert_int_equal(fp_sqlq_header_check(head, 50, 50, false, &err), FP_EBADSTORE);

    bool fresh = false;
    assert_int_equal(fp_sqlq_identity_check(0, 0, 0, 1, &fresh, &err), 0);
    assert_true(fresh);
    assert_int_equal(fp_sqlq_identity_check(FP_SQLQ_APPLICATION_ID, 1, 6, 1, &fresh, &err), 0);
    assert_false(fresh);
    assert_int_equal(fp_sqlq_identity_check(0, 0, 1, 1, &fresh, &err), FP_EBADSTORE);
    assert_int_equal(fp_sqlq_identity_check(0, 3, 0, 1, &fresh, &err), FP_EBADSTORE);
    assert_int_equal(fp_sqlq_identity_check(FP_SQLQ_APPLICATION_ID, 2, 6, 1, &fresh, &err),
                     FP_EBADSTORE);
    assert_int_equal(fp_sqlq_identity_check(FP_SQLQ_APPLICATION_ID, 0, 6, 1, &fresh, &err),
                     FP_EBADSTORE);
}

static void test_bad_arguments(void **state)
{
    fixture_t *f = *state;
    fp_err_t err = {0};
    fp_sqlq_jobs_t jobs = {0};
    const char *queues[] = {"default"};
    assert_int_equal(fp_sqlq_enqueue(f->q, "default", "x", 1, -1, 0, NULL, &err), -EINVAL);
    assert_int_equal(fp_sqlq_pull(f->q, queues, 1, "", 1, LEASE, 0, 0, &jobs, &err), -EINVAL);
    assert_int_equal(fp_sqlq_pull(f->q, queues, 1, "a", 1, 0, 0, 0, &jobs, &err), -EINVAL);
    assert_int_equal(counts(f->q, "default", 0).ready, 0);
}

/* ---- probes (probe.c) and the new ids of fp_sqlq_outcomes_ids ---- */

static int64_t version(fp_sqlq_t *q)
{
    fp_err_t err = {0};
    int64_t v = 0;
    assert_int_equal(fp_sqlq_data_version(q, &v, &err), 0);
    return v;
}

static void test_data_version_moves_on_another_connections_commit(void **state)
{
    fixture_t *f = *state;
    int64_t v0 = version(f->q);
    put(f->q, "a", "mine", 0, 1000);
    assert_true(version(f->q) == v0); /* its own commits do not move it */
    fp_sqlq_t *other = NULL;
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_open(f->path, 0, &other, &err), 0);
    put(other, "a", "theirs", 0, 1000);
    assert_true(version(f->q) != v0);
    fp_sqlq_close(other);
}

/* The write probe writes (another connection sees a commit) and changes
 * nothing a consumer reads: the file's identity and its rows stay. */
static void test_write_probe_writes_and_keeps_everything(void **state)
{
    fixture_t *f = *state;
    put(f->q, "a", "kept", 0, 1000);
    fp_sqlq_t *other = NULL;
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_open(f->path, 0, &other, &err), 0);
    int64_t v0 = version(other);
    assert_int_equal(fp_sqlq_write_probe(f->q, &err), 0);
    assert_true(version(other) != v0);
    fp_sqlq_close(other);
    fp_sqlq_close(f->q);
    f->q = NULL;
    assert_int_equal(fp_sqlq_open(f->path, FP_SQLQ_CHECK, &f->q, &err), 0);
    fp_sqlq_jobs_t got = {0};
    const char *queues[] = {"a"};
    assert_int_equal(fp_sqlq_pull(f->q, queues, 1, "me", 10, LEASE, 2000, 0, &got, &err), 0);
    assert_int_equal(got.n, 1);
    assert_string_equal(got.v[0].payload, "kept");
    fp_sqlq_jobs_free(&got);
}

static void test_exists_and_oldest_ready(void **state)
{
    fixture_t *f = *state;
    fp_err_t err = {0};
    int64_t oldest = 0;
    assert_int_equal(fp_sqlq_oldest_ready(f->q, "a", 1000, &oldest, &err), 0);
    assert_int_equal(oldest, -1);
    int64_t later = put(f->q, "a", "later", 500, 1000);
    put(f->q, "a", "first", 0, 1100);
    assert_int_equal(fp_sqlq_oldest_ready(f->q, "a", 1200, &oldest, &err), 0);
    assert_int_equal(oldest, 1100); /* the delayed one is not due yet */
    assert_int_equal(fp_sqlq_oldest_ready(f->q, "a", 1600, &oldest, &err), 0);
    assert_int_equal(oldest, 1100);
    bool there = false;
    assert_int_equal(fp_sqlq_exists(f->q, later, &there, &err), 0);
    assert_true(there);
    assert_int_equal(fp_sqlq_exists(f->q, later + 100, &there, &err), 0);
    assert_false(there);
}

static void test_outcomes_ids_and_enqueue_time(void **state)
{
    fixture_t *f = *state;
    fp_err_t err = {0};
    int64_t a = put(f->q, "a", "one", 0, 1000), b = put(f->q, "a", "two", 0, 1001);
    int64_t c = put(f->q, "a", "three", 0, 1002);
    const char *qs[] = {"a"};
    fp_sqlq_jobs_t jobs = {0};
    assert_int_equal(fp_sqlq_pull(f->q, qs, 1, "me", 10, 1000, 2000, 0, &jobs, &err), 0);
    assert_int_equal(jobs.n, 3);
    assert_int_equal(jobs.v[0].enqueued_at, 1000);
    assert_int_equal(jobs.v[2].enqueued_at, 1002);
    fp_sqlq_jobs_free(&jobs);
    fp_sqlq_outcome_t items[] = {
        {.kind = FP_SQLQ_RETRY, .id = a, .delay_ms = 100},
        {.kind = FP_SQLQ_ACK, .id = b},
        {.kind = FP_SQLQ_PUT_BACK, .id = c},
    };
    int64_t ids[3] = {-1, -1, -1};
    size_t applied = 0;
    assert_int_equal(
        fp_sqlq_outcomes_ids(f->q, "me", items, 3, 2100, &applied, NULL, ids, &err), 0);
    assert_int_equal(applied, 3);
    assert_true(ids[0] > c);
    assert_int_equal(ids[1], 0);
    assert_true(ids[2] > ids[0]);
    bool there = false;
    assert_int_equal(fp_sqlq_exists(f->q, ids[0], &there, &err), 0);
    assert_true(there);
    assert_int_equal(fp_sqlq_exists(f->q, a, &there, &err), 0);
    assert_false(there);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_strict_order_and_fifo),
        T(test_caps_bound_each_queue),
        T(test_enqueue_batch_all_or_none),
        T(test_delayed_rows_wait_until_due),
        T(test_expired_lease_is_taken_over),
        T(test_batch_applied_twice_acts_once),
        T(test_retry_is_a_new_row_due_later),
        T(test_dead_keeps_reason_and_can_come_back),
        T(test_dead_list_pages_retry_all_and_purge),
        T(test_put_back_goes_to_the_tail_uncounted),
        T(test_renew_only_own_leases),
        T(test_own_rows_come_back_after_a_restart),
        T(test_unknown_kind_changes_nothing),
        T(test_two_connections_never_share_a_row),
        T(test_two_processes_never_share_a_row),
        T(test_foreign_files_are_refused_unchanged),
        T(test_newer_schema_is_refused),
        T(test_damaged_files_are_refused_unchanged),
        T(test_damaged_pages_are_found),
        T(test_file_settings),
        T(test_vacuum_frees_pages_after_acks),
        T(test_header_check),
        T(test_bad_arguments),
        T(test_data_version_moves_on_another_connections_commit),
        T(test_write_probe_writes_and_keeps_everything),
        T(test_exists_and_oldest_ready),
        T(test_outcomes_ids_and_enqueue_time),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
