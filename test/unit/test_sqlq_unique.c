/* test_sqlq_unique.c: unique jobs on the embedded queue (lib/sqlq/unique.h)
 * on a real queue file: the key and the row written together, a duplicate
 * told the holder and adding nothing, the key's TTL, the outcome's release
 * (ack and dead release, retry and put-back keep; only the holder's id
 * frees it), the start's compare-and-delete, and the payload's key and id.
 * Times are the test's own numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sqlq_fixture.h"
#include "sqlq/kv.h"
#include "sqlq/store.h"
#include "sqlq/unique.h"

typedef fp_sqlq_fx_t fixture_t;

#define Q "default"
#define HOUR 3600000

static char payload[4][160];

/* A unique job of key K with id ID; *dup says whether it was refused, the
 * result is the id the call reported (static). */
static const char *add(fp_sqlq_t *q, const char *key, const char *id, int64_t ttl, int64_t now,
                       bool *dup)
{
    static char out[64];
    static int next;
    char *p = payload[next++ % 4];
    snprintf(p, sizeof payload[0], "{\"type\":\"t\",\"id\":\"%s\",\"unique\":{\"key\":\"%s\","
             "\"until\":\"done\"}}", id, key);
    fp_sqlq_unique_new_t job = {Q, key, id, ttl, 0, p, strlen(p)};
    char *holder = NULL;
    fp_err_t err = {0};
    if (fp_sqlq_unique_enqueue(q, &job, now, dup, &holder, NULL, &err) < 0)
        fail_msg("unique enqueue: %s", err.msg);
    snprintf(out, sizeof out, "%s", holder);
    free(holder);
    return out;
}

static int64_t rows(fp_sqlq_t *q)
{
    fp_sqlq_counts_t c;
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_counts(q, Q, 0, &c, &err), 0);
    return c.ready + c.delayed + c.leased;
}

static bool held(fp_sqlq_t *q, const char *key, int64_t now)
{
    fp_err_t err = {0};
    return fp_sqlq_kv_get(q, "unique:" Q, key, now, NULL, NULL, &err) == 0;
}

static void test_duplicate_adds_nothing_and_names_the_holder(void **state)
{
    fixture_t *f = *state;
    bool dup = true;
    assert_string_equal(add(f->q, "k", "first", HOUR, 0, &dup), "first");
    assert_false(dup);
    assert_string_equal(add(f->q, "k", "second", HOUR, 10, &dup), "first");
    assert_true(dup);
    assert_int_equal(rows(f->q), 1);
    assert_string_equal(add(f->q, "other", "third", HOUR, 10, &dup), "third");
    assert_false(dup);
    assert_int_equal(rows(f->q), 2);
}

static void test_ttl_frees_the_key(void **state)
{
    fixture_t *f = *state;
    bool dup = true;
    add(f->q, "k", "first", 100, 0, &dup);
    add(f->q, "gone", "g", 50, 0, &dup);
    add(f->q, "k", "second", 100, 99, &dup);
    assert_true(dup);
    assert_string_equal(add(f->q, "k", "third", 100, 100, &dup), "third");
    assert_false(dup);
    assert_int_equal(rows(f->q), 3);
    /* the enqueue purged the expired key nobody took again */
    int64_t n = -1;
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_kv_count(f->q, "unique:" Q, 0, &n, &err), 0);
    assert_int_equal(n, 1); /* at time 0 "gone" would still count */
}

static fp_sqlq_job_t pull_one(fp_sqlq_t *q, fp_sqlq_jobs_t *jobs)
{
    const char *queues[] = {Q};
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_pull(q, queues, 1, "c1", 1, 60000, 1000, 0, jobs, &err), 0);
    assert_int_equal(jobs->n, 1);
    return jobs->v[0];
}

static void settle(fp_sqlq_t *q, fp_sqlq_kind_t kind, int64_t id)
{
    fp_sqlq_outcome_t o = {kind, id, NULL, 0, 0, "boom", 1};
    size_t applied = 0;
    fp_err_t err = {0};
    if (fp_sqlq_outcomes(q, "c1", &o, 1, 1000, &applied, NULL, &err) < 0)
        fail_msg("outcomes: %s", err.msg);
    assert_int_equal(applied, 1);
}

static void outcome_case(fp_sqlq_t *q, fp_sqlq_kind_t kind, bool releases)
{
    bool dup;
    fp_sqlq_jobs_t jobs = {0};
    add(q, "k", "j1", HOUR, 0, &dup);
    settle(q, kind, pull_one(q, &jobs).id);
    assert_true(held(q, "k", 1000) != releases);
    fp_sqlq_jobs_free(&jobs);
}

static void test_ack_releases(void **state)
{
    outcome_case(((fixture_t *)*state)->q, FP_SQLQ_ACK, true);
}

static void test_dead_releases(void **state)
{
    outcome_case(((fixture_t *)*state)->q, FP_SQLQ_DEAD, true);
}

static void test_retry_and_put_back_keep(void **state)
{
    fixture_t *f = *state;
    outcome_case(f->q, FP_SQLQ_RETRY, false);
    fp_sqlq_jobs_t jobs = {0};
    settle(f->q, FP_SQLQ_PUT_BACK, pull_one(f->q, &jobs).id);
    assert_true(held(f->q, "k", 1000));
    fp_sqlq_jobs_free(&jobs);
}

/* A job whose key ran out and was taken by a newer job: the old job's
 * outcome leaves the newer one's key alone. */
static void test_old_job_never_frees_a_newer_key(void **state)
{
    fixture_t *f = *state;
    bool dup;
    fp_sqlq_jobs_t jobs = {0};
    add(f->q, "k", "old", 10, 0, &dup);
    int64_t old = pull_one(f->q, &jobs).id;
    add(f->q, "k", "new", HOUR, 500, &dup);
    assert_false(dup);
    settle(f->q, FP_SQLQ_ACK, old);
    assert_true(held(f->q, "k", 1000));
    bool released = true;
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_unique_release(f->q, Q, "k", "old", &released, &err), 0);
    assert_false(released);
    assert_int_equal(fp_sqlq_unique_release(f->q, Q, "k", "new", &released, &err), 0);
    assert_true(released);
    assert_false(held(f->q, "k", 1000));
    fp_sqlq_jobs_free(&jobs);
}

static int64_t dead_id(fp_sqlq_t *q)
{
    fp_sqlq_deads_t deads = {0};
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_dead_list(q, Q, 0, 10, &deads, &err), 0);
    assert_int_equal(deads.n, 1);
    int64_t id = deads.v[0].id;
    fp_sqlq_deads_free(&deads);
    return id;
}

static char *holder_of(fp_sqlq_t *q, const char *key, int64_t now)
{
    char *v = NULL;
    fp_err_t err = {0};
    int rc = fp_sqlq_kv_get(q, "unique:" Q, key, now, &v, NULL, &err);
    assert_true(rc == 0 || rc == -ENOENT);
    return v;
}

/* `dead retry`: the moved job takes its key again while it is free (one
 * row, then all); a key another job took meanwhile stays that job's. */
static void test_dead_retry_takes_the_key_back(void **state)
{
    fixture_t *f = *state;
    bool dup;
    fp_sqlq_jobs_t jobs = {0};
    fp_err_t err = {0};
    size_t moved = 0;
    add(f->q, "k", "j1", HOUR, 0, &dup);
    settle(f->q, FP_SQLQ_DEAD, pull_one(f->q, &jobs).id);
    assert_false(held(f->q, "k", 1000));
    assert_int_equal(fp_sqlq_dead_retry(f->q, Q, (int64_t[]){dead_id(f->q)}, 1, 500, &moved,
                                        &err), 0);
    assert_int_equal(moved, 1);
    char *v = holder_of(f->q, "k", 500 + HOUR * 23);
    assert_string_equal(v, "j1"); /* the default TTL: a day */
    free(v);

    fp_sqlq_jobs_free(&jobs);
    settle(f->q, FP_SQLQ_DEAD, pull_one(f->q, &jobs).id); /* dead again, key free */
    add(f->q, "k", "other", HOUR, 1000, &dup);
    assert_false(dup);
    assert_int_equal(fp_sqlq_dead_retry(f->q, Q, NULL, 0, 3000, &moved, &err), 0);
    assert_int_equal(moved, 1);
    v = holder_of(f->q, "k", 3000);
    assert_string_equal(v, "other");
    free(v);
    assert_int_equal(rows(f->q), 2);
    fp_sqlq_jobs_free(&jobs);
}

static void test_any_sees_only_unique_spaces(void **state)
{
    fixture_t *f = *state;
    fp_err_t err = {0};
    bool any = true, dup;
    assert_int_equal(fp_sqlq_unique_any(f->q, 0, &any, &err), 0);
    assert_false(any);
    assert_int_equal(fp_sqlq_kv_put(f->q, "schedule:" Q, "n", "1 every 1", 0, &err), 0);
    assert_int_equal(fp_sqlq_kv_put(f->q, "uniquex", "n", "v", 0, &err), 0);
    assert_int_equal(fp_sqlq_unique_any(f->q, 0, &any, &err), 0);
    assert_false(any);
    add(f->q, "k", "j", HOUR, 0, &dup);
    assert_int_equal(fp_sqlq_unique_any(f->q, 0, &any, &err), 0);
    assert_true(any);
    assert_int_equal(fp_sqlq_unique_any(f->q, HOUR, &any, &err), 0); /* expired */
    assert_false(any);
}

static void expect_of(const char *text, const char *key, const char *id)
{
    char *k = NULL, *i = NULL;
    bool ok = fp_sqlq_unique_of(text, strlen(text), &k, &i);
    if (key == NULL) {
        assert_false(ok);
        assert_null(k);
        assert_null(i);
        return;
    }
    assert_true(ok);
    assert_string_equal(k, key);
    assert_string_equal(i, id);
    free(k);
    free(i);
}

static void test_key_and_id_of_a_payload(void **state)
{
    (void)state;
    expect_of("{\"type\":\"t\",\"id\":\"a\",\"unique\":{\"key\":\"k\"}}", "k", "a");
    expect_of("{\"type\":\"t\",\"id\":42,\"unique\":{\"key\":\"k\"}}", "k", "42");
    expect_of("{\"type\":\"t\",\"unique\":{\"key\":\"k\"}}", NULL, NULL);     /* no id */
    expect_of("{\"type\":\"t\",\"id\":\"a\",\"unique\":{\"key\":\"\"}}", NULL, NULL);
    expect_of("{\"type\":\"t\",\"id\":\"a\",\"unique\":\"k\"}", NULL, NULL);
    expect_of("[\"unique\"]", NULL, NULL);
    expect_of("not json \"unique\"", NULL, NULL);
    expect_of("{\"type\":\"t\",\"id\":\"a\"}", NULL, NULL);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fp_sqlq_fx_setup, fp_sqlq_fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_duplicate_adds_nothing_and_names_the_holder),
        T(test_ttl_frees_the_key),
        T(test_ack_releases),
        T(test_dead_releases),
        T(test_retry_and_put_back_keep),
        T(test_old_job_never_frees_a_newer_key),
        T(test_dead_retry_takes_the_key_back),
        T(test_any_sees_only_unique_spaces),
        cmocka_unit_test(test_key_and_id_of_a_payload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
