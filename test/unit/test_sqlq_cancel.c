/* test_sqlq_cancel.c: `forkpool cancel` in the queue file (lib/sqlq/cancel.h):
 * a ready and a delayed job become dead rows "cancelled" by "forkpool
 * cancel" (attempts from the payload) and are never pulled; an entry id
 * "ENQUEUED_MS-ID" names its row; a leased job gets a mark that only its
 * holder's look finds; a dead or unknown one is told so. The outcomes:
 * a retry or put-back of a marked job becomes its dead row "cancelled", an
 * ack deletes the mark, and an unmarked retry is untouched. Times are the
 * test's own numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sqlq_fixture.h"
#include "sqlq/cancel.h"
#include "sqlq/kv.h"
#include "sqlq/store.h"
#include "sqlq/store_internal.h"

typedef fp_sqlq_fx_t fixture_t;

#define T0 1000000LL
#define LEASE 60000

static int64_t add(fixture_t *f, const char *payload, int64_t delay)
{
    fp_err_t err = {0};
    int64_t id = 0;
    assert_int_equal(fp_sqlq_enqueue(f->q, "default", payload, strlen(payload), delay, T0, &id,
                                     &err), 0);
    return id;
}

static size_t pull(fixture_t *f, const char *consumer, int64_t now)
{
    fp_err_t err = {0};
    fp_sqlq_jobs_t jobs = {0};
    static const char *const queues[] = {"default"};
    assert_int_equal(fp_sqlq_pull(f->q, queues, 1, consumer, 10, LEASE, now, 0, &jobs, &err), 0);
    size_t n = jobs.n;
    fp_sqlq_jobs_free(&jobs);
    return n;
}

static void cancel(fixture_t *f, const char *id, fp_sqlq_cancel_t *c)
{
    fp_err_t err = {0};
    if (fp_sqlq_cancel(f->q, "default", id, T0 + 10, c, &err) != 0)
        fail_msg("cancel: %s", err.msg);
}

static void test_waiting_jobs_become_dead_cancelled(void **state)
{
    fixture_t *f = *state;
    int64_t ready = add(f, "{\"type\":\"a\",\"attempt\":2}", 0);
    int64_t delayed = add(f, "{\"type\":\"b\",\"id\":\"mine\"}", 3600000);
    fp_sqlq_cancel_t c;
    char eid[48];
    snprintf(eid, sizeof eid, "%lld-%" PRId64, T0, ready); /* as the daemon names it */
    cancel(f, eid, &c);
    assert_int_equal(c.result, FP_CANCEL_DONE);
    assert_false(c.was_delayed);
    assert_int_equal(c.id, ready);
    assert_true(c.dead_id > 0);
    fp_sqlq_cancel_clear(&c);
    cancel(f, "mine", &c); /* by the payload's id */
    assert_int_equal(c.result, FP_CANCEL_DONE);
    assert_true(c.was_delayed);
    assert_int_equal(c.id, delayed);
    fp_sqlq_cancel_clear(&c);
    assert_int_equal(fp_sqlq_fx_int(f->q, "SELECT count(*) FROM jobs"), 0);
    assert_int_equal(fp_sqlq_fx_int(f->q, "SELECT count(*) FROM dead WHERE error = 'cancelled' AND "
                                          "consumer = 'forkpool cancel'"), 2);
    assert_int_equal(
        fp_sqlq_fx_int(f->q, "SELECT attempts FROM dead WHERE payload LIKE '%\"a\"%'"), 2);
    assert_int_equal(pull(f, "d", T0 + 7200000), 0); /* never runs */
    cancel(f, "mine", &c); /* dead already */
    assert_int_equal(c.result, FP_CANCEL_DEAD);
    fp_sqlq_cancel_clear(&c);
    cancel(f, "12345", &c);
    assert_int_equal(c.result, FP_CANCEL_NOT_FOUND);
    fp_sqlq_cancel_clear(&c);
}

static void test_running_job_is_marked_for_its_holder(void **state)
{
    fixture_t *f = *state;
    int64_t id = add(f, "{\"type\":\"a\"}", 0);
    assert_int_equal(pull(f, "d1", T0), 1);
    fp_sqlq_cancel_t c;
    char key[24];
    snprintf(key, sizeof key, "%" PRId64, id);
    cancel(f, key, &c);
    assert_int_equal(c.result, FP_CANCEL_RUNNING);
    assert_string_equal(c.owner, "d1");
    fp_sqlq_cancel_clear(&c);
    assert_int_equal(fp_sqlq_fx_int(f->q, "SELECT count(*) FROM jobs"), 1); /* still its holder's */
    fp_err_t err = {0};
    char **ids = NULL, **queues = NULL;
    size_t n = 0;
    assert_int_equal(fp_sqlq_cancel_marked(f->q, "d2", T0 + 20, &ids, &queues, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(fp_sqlq_cancel_marked(f->q, "d1", T0 + 20, &ids, &queues, &n, &err), 0);
    assert_int_equal(n, 1);
    char want[48];
    snprintf(want, sizeof want, "%lld-%" PRId64, T0, id);
    assert_string_equal(ids[0], want);
    assert_string_equal(queues[0], "default");
    fp_sqlq_cancel_marked_free(ids, queues, n);
}

static fp_sqlq_outcome_t outcome(fp_sqlq_kind_t kind, int64_t id)
{
    return (fp_sqlq_outcome_t){.kind = kind, .id = id, .delay_ms = 10};
}

static void test_outcomes_of_marked_jobs(void **state)
{
    fixture_t *f = *state;
    int64_t r = add(f, "{\"type\":\"r\",\"attempt\":3}", 0);
    int64_t p = add(f, "{\"type\":\"p\"}", 0);
    int64_t a = add(f, "{\"type\":\"a\"}", 0);
    int64_t plain = add(f, "{\"type\":\"plain\"}", 0);
    assert_int_equal(pull(f, "d1", T0), 4);
    fp_sqlq_cancel_t c;
    const int64_t marked[] = {r, p, a};
    for (size_t i = 0; i < 3; i++) {
        char key[24];
        snprintf(key, sizeof key, "%" PRId64, marked[i]);
        cancel(f, key, &c);
        assert_int_equal(c.result, FP_CANCEL_RUNNING);
        fp_sqlq_cancel_clear(&c);
    }
    fp_sqlq_outcome_t items[] = {outcome(FP_SQLQ_RETRY, r), outcome(FP_SQLQ_PUT_BACK, p),
                                 outcome(FP_SQLQ_ACK, a), outcome(FP_SQLQ_RETRY, plain)};
    int64_t new_ids[4] = {0};
    size_t applied = 0;
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_outcomes_ids(f->q, "d1", items, 4, T0 + 30, &applied, NULL, new_ids,
                                          &err), 0);
    assert_int_equal(applied, 4);
    assert_int_equal(new_ids[0], -1); /* turned into the cancel */
    assert_int_equal(new_ids[1], -1);
    assert_true(new_ids[3] > 0);      /* the unmarked retry is a new row */
    assert_int_equal(fp_sqlq_fx_int(f->q, "SELECT count(*) FROM dead WHERE error = 'cancelled' AND "
                                          "consumer = 'd1'"), 2);
    assert_int_equal(
        fp_sqlq_fx_int(f->q, "SELECT attempts FROM dead WHERE payload LIKE '%\"r\"%'"), 3);
    assert_int_equal(fp_sqlq_fx_int(f->q, "SELECT count(*) FROM jobs"), 1);
    assert_int_equal(
        fp_sqlq_fx_int(f->q, "SELECT count(*) FROM jobs WHERE payload LIKE '%plain%'"), 1);
    int64_t left = -1;
    assert_int_equal(fp_sqlq_kv_count(f->q, FP_SQLQ_CANCEL_SPACE, T0, &left, &err), 0);
    assert_int_equal(left, 0); /* every outcome took its mark */
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fp_sqlq_fx_setup, fp_sqlq_fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_waiting_jobs_become_dead_cancelled),
        T(test_running_job_is_marked_for_its_holder),
        T(test_outcomes_of_marked_jobs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
