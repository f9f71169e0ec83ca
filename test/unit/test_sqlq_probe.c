/* test_sqlq_probe.c: what the embedded queue's thread reads besides pulls
 * (lib/sqlq/probe.c) and the new ids of fp_sqlq_outcomes_ids: data_version
 * moves on another connection's commit only, a row's presence, the oldest
 * ready row's time, the ids of the rows a retry and a put-back made, and a
 * pulled job's enqueue time. Real files in a temporary directory; times are
 * the test's own numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sqlq/store.h"

typedef struct fixture_s {
    char *dir;
    char path[PATH_MAX];
    fp_sqlq_t *q;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->dir = fp_th_tmpdir();
    assert_non_null(f->dir);
    snprintf(f->path, sizeof f->path, "%s/queue.db", f->dir);
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_open(f->path, 0, &f->q, &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    fp_sqlq_close(f->q);
    fp_th_tmpdir_free(f->dir);
    free(f);
    return 0;
}

static int64_t put(fp_sqlq_t *q, const char *payload, int64_t delay, int64_t now)
{
    fp_err_t err = {0};
    int64_t id = 0;
    assert_int_equal(fp_sqlq_enqueue(q, "a", payload, strlen(payload), delay, now, &id, &err), 0);
    return id;
}

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
    put(f->q, "mine", 0, 1000);
    assert_true(version(f->q) == v0); /* its own commits do not move it */
    fp_sqlq_t *other = NULL;
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_open(f->path, 0, &other, &err), 0);
    put(other, "theirs", 0, 1000);
    assert_true(version(f->q) != v0);
    fp_sqlq_close(other);
}

static void test_exists_and_oldest_ready(void **state)
{
    fixture_t *f = *state;
    fp_err_t err = {0};
    int64_t oldest = 0;
    assert_int_equal(fp_sqlq_oldest_ready(f->q, "a", 1000, &oldest, &err), 0);
    assert_int_equal(oldest, -1);
    int64_t later = put(f->q, "later", 500, 1000);
    put(f->q, "first", 0, 1100);
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
    int64_t a = put(f->q, "one", 0, 1000), b = put(f->q, "two", 0, 1001);
    int64_t c = put(f->q, "three", 0, 1002);
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
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_data_version_moves_on_another_connections_commit,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_exists_and_oldest_ready, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outcomes_ids_and_enqueue_time, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
