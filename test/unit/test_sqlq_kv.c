/* test_sqlq_kv.c: what schemas 2 and 3 added to a queue file: the kv table
 * (lib/sqlq/kv.h) and the traffic counters (fp_sqlq_traffic), the upgrade
 * of a schema 1 or 2 file (its jobs kept), and the kept statements of
 * fp_sqlq_prep. Times are the test's own numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "harness.h"
#include "sqlq_fixture.h"
#include "sqlq/kv.h"
#include "sqlq/store.h"
#include "sqlq/store_internal.h"

typedef fp_sqlq_fx_t fixture_t;

static char *get(fp_sqlq_t *q, const char *space, const char *key, int64_t now, int *rc)
{
    fp_err_t err = {0};
    char *v = NULL;
    *rc = fp_sqlq_kv_get(q, space, key, now, &v, NULL, &err);
    return v;
}

static void expect_kv(fp_sqlq_t *q, const char *space, const char *key, int64_t now,
                         const char *want)
{
    int rc;
    char *v = get(q, space, key, now, &rc);
    if (want == NULL) {
        assert_int_equal(rc, -ENOENT);
        assert_null(v);
        return;
    }
    assert_int_equal(rc, 0);
    assert_string_equal(v, want);
    free(v);
}

static void test_put_get_and_expiry(void **state)
{
    fixture_t *f = *state;
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_kv_put(f->q, "s", "k", "v1", 0, &err), 0);
    assert_int_equal(fp_sqlq_kv_put(f->q, "s", "t", "short", 100, &err), 0);
    assert_int_equal(fp_sqlq_kv_put(f->q, "other", "k", "elsewhere", 0, &err), 0);
    expect_kv(f->q, "s", "k", 1000000, "v1"); /* no expiry */
    expect_kv(f->q, "s", "t", 99, "short");
    expect_kv(f->q, "s", "t", 100, NULL);     /* expired at its time */
    expect_kv(f->q, "other", "k", 0, "elsewhere");
    expect_kv(f->q, "s", "missing", 0, NULL);
    int64_t exp = -1;
    assert_int_equal(fp_sqlq_kv_get(f->q, "s", "t", 50, NULL, &exp, &err), 0);
    assert_int_equal(exp, 100);

    assert_int_equal(fp_sqlq_kv_put(f->q, "s", "k", "v2", 0, &err), 0); /* replaces */
    expect_kv(f->q, "s", "k", 0, "v2");
}

static void test_put_new_takes_only_a_free_key(void **state)
{
    fixture_t *f = *state;
    fp_err_t err = {0};
    bool taken = false;
    assert_int_equal(fp_sqlq_kv_put_new(f->q, "u", "k", "first", 100, 0, &taken, &err), 0);
    assert_true(taken);
    assert_int_equal(fp_sqlq_kv_put_new(f->q, "u", "k", "second", 200, 50, &taken, &err), 0);
    assert_false(taken);
    expect_kv(f->q, "u", "k", 50, "first");
    /* expired: the next one takes it */
    assert_int_equal(fp_sqlq_kv_put_new(f->q, "u", "k", "third", 0, 100, &taken, &err), 0);
    assert_true(taken);
    expect_kv(f->q, "u", "k", 100000, "third");
}

static void test_del_compares_the_value(void **state)
{
    fixture_t *f = *state;
    fp_err_t err = {0};
    bool gone = true;
    assert_int_equal(fp_sqlq_kv_put(f->q, "u", "k", "job-2", 0, &err), 0);
    assert_int_equal(fp_sqlq_kv_del(f->q, "u", "k", "job-1", &gone, &err), 0);
    assert_false(gone); /* an old holder does not free a newer one's key */
    expect_kv(f->q, "u", "k", 0, "job-2");
    assert_int_equal(fp_sqlq_kv_del(f->q, "u", "k", "job-2", &gone, &err), 0);
    assert_true(gone);
    expect_kv(f->q, "u", "k", 0, NULL);
    assert_int_equal(fp_sqlq_kv_put(f->q, "u", "k", "x", 0, &err), 0);
    assert_int_equal(fp_sqlq_kv_del(f->q, "u", "k", NULL, &gone, &err), 0);
    assert_true(gone);
    assert_int_equal(fp_sqlq_kv_del(f->q, "u", "k", NULL, &gone, &err), 0);
    assert_false(gone);
}

static int collect(void *ctx, const char *key, const char *value, int64_t expires_at)
{
    char *out = ctx;
    char one[64];
    snprintf(one, sizeof one, "%s=%s@%lld;", key, value, (long long)expires_at);
    strcat(out, one);
    return strcmp(key, "stop") == 0 ? 7 : 0;
}

static void test_count_each_and_purge(void **state)
{
    fixture_t *f = *state;
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_kv_put(f->q, "hb", "b", "2", 0, &err), 0);
    assert_int_equal(fp_sqlq_kv_put(f->q, "hb", "a", "1", 500, &err), 0);
    assert_int_equal(fp_sqlq_kv_put(f->q, "hb", "c", "3", 10, &err), 0);
    assert_int_equal(fp_sqlq_kv_put(f->q, "x", "z", "9", 0, &err), 0);
    int64_t n = 0;
    assert_int_equal(fp_sqlq_kv_count(f->q, "hb", 20, &n, &err), 0);
    assert_int_equal(n, 2);
    char seen[256] = "";
    assert_int_equal(fp_sqlq_kv_each(f->q, "hb", 20, collect, seen, &err), 0);
    assert_string_equal(seen, "a=1@500;b=2@0;"); /* key order, the expired left out */

    int64_t purged = 0;
    assert_int_equal(fp_sqlq_kv_purge(f->q, "hb", 600, &purged, &err), 0);
    assert_int_equal(purged, 2); /* a and c */
    assert_int_equal(fp_sqlq_kv_count(f->q, "hb", 0, &n, &err), 0);
    assert_int_equal(n, 1); /* b, even at time 0: the expired rows are gone */
    assert_int_equal(fp_sqlq_kv_count(f->q, "x", 0, &n, &err), 0);
    assert_int_equal(n, 1);

    assert_int_equal(fp_sqlq_kv_put(f->q, "hb", "stop", "s", 0, &err), 0);
    assert_int_equal(fp_sqlq_kv_put(f->q, "hb", "zz", "after", 0, &err), 0);
    seen[0] = '\0';
    assert_int_equal(fp_sqlq_kv_each(f->q, "hb", 0, collect, seen, &err), 7);
    assert_string_equal(seen, "b=2@0;stop=s@0;");
}

/* A file as schema 1 or 2 wrote it: the upgrade adds what came since and
 * keeps the jobs; the counters start from the upgrade. */
static void upgrade_from(fixture_t *f, const char *undo)
{
    fp_err_t err = {0};
    int64_t id = 0, added = -1, taken = -1;
    assert_int_equal(fp_sqlq_enqueue(f->q, "default", "{}", 2, 0, 0, &id, &err), 0);
    assert_int_equal(sqlite3_exec(f->q->db, undo, NULL, NULL, NULL), SQLITE_OK);
    fp_sqlq_close(f->q);
    f->q = NULL;

    assert_int_equal(fp_sqlq_open(f->path, FP_SQLQ_CHECK, &f->q, &err), 0);
    assert_int_equal(fp_sqlq_fx_int(f->q, "PRAGMA user_version"), FP_SQLQ_SCHEMA_VERSION);
    assert_int_equal(fp_sqlq_kv_put(f->q, "s", "k", "v", 0, &err), 0);
    expect_kv(f->q, "s", "k", 0, "v");
    fp_sqlq_counts_t c;
    assert_int_equal(fp_sqlq_counts(f->q, "default", 0, &c, &err), 0);
    assert_int_equal(c.ready, 1);
    assert_int_equal(fp_sqlq_enqueue(f->q, "default", "{}", 2, 0, 0, &id, &err), 0);
    assert_int_equal(fp_sqlq_traffic(f->q, "default", &added, &taken, &err), 0);
    assert_int_equal(added, 1);
    assert_int_equal(taken, 0);
}

#define SCHEMA_3_UNDONE                                                                      \
    "DROP TRIGGER jobs_added; DROP TABLE traffic; "

static void test_schema_1_file_is_upgraded(void **state)
{
    upgrade_from(*state, SCHEMA_3_UNDONE "DROP TABLE kv; PRAGMA user_version=1;");
}

static void test_schema_2_file_is_upgraded(void **state)
{
    upgrade_from(*state, SCHEMA_3_UNDONE "PRAGMA user_version=2;");
}

/* Every insert counts as added (an enqueue, a retry's new row), a pull's
 * lease as taken; a take-over of an expired lease is not taken again, and
 * each queue counts apart. */
static void test_traffic_counts_adds_and_takes(void **state)
{
    fixture_t *f = *state;
    fp_err_t err = {0};
    fp_sqlq_new_t jobs[3] = {{"{}", 2, 0}, {"{}", 2, 0}, {"{}", 2, 0}};
    assert_int_equal(fp_sqlq_enqueue_batch(f->q, "a", jobs, 3, 0, NULL, &err), 0);
    assert_int_equal(fp_sqlq_enqueue(f->q, "b", "{}", 2, 0, 0, NULL, &err), 0);
    const char *queues[] = {"a"};
    fp_sqlq_jobs_t got = {0};
    assert_int_equal(fp_sqlq_pull(f->q, queues, 1, "c1", 2, 1000, 10, 0, &got, &err), 0);
    assert_int_equal(got.n, 2);
    fp_sqlq_outcome_t retry = {.kind = FP_SQLQ_RETRY, .id = got.v[0].id, .delay_ms = 0};
    size_t applied = 0;
    assert_int_equal(fp_sqlq_outcomes(f->q, "c1", &retry, 1, 20, &applied, NULL, &err), 0);
    assert_int_equal(applied, 1);
    /* c2 takes the row nobody pulled and the retry's row (new: taken) and
     * c1's other row, whose lease ran out at 1010 (taken over: not taken
     * again). */
    fp_sqlq_jobs_t over = {0};
    assert_int_equal(fp_sqlq_pull(f->q, queues, 1, "c2", 5, 1000, 5000, 0, &over, &err), 0);
    assert_int_equal(over.n, 3);
    assert_int_equal(over.v[0].deliveries + over.v[1].deliveries + over.v[2].deliveries,
                     1 + 1 + 2);
    int64_t added = 0, taken = 0;
    assert_int_equal(fp_sqlq_traffic(f->q, "a", &added, &taken, &err), 0);
    assert_int_equal(added, 4); /* three enqueued, one retry */
    assert_int_equal(taken, 2 + 2);
    assert_int_equal(fp_sqlq_traffic(f->q, "b", &added, &taken, &err), 0);
    assert_int_equal(added, 1);
    assert_int_equal(taken, 0);
    assert_int_equal(fp_sqlq_traffic(f->q, "never", &added, &taken, &err), 0);
    assert_int_equal(added + taken, 0);
    fp_sqlq_jobs_free(&got);
    fp_sqlq_jobs_free(&over);
}

static const char twice_sql[] = "SELECT ?1 + 1";

static void test_prep_keeps_one_statement_per_text(void **state)
{
    fixture_t *f = *state;
    fp_err_t err = {0};
    sqlite3_stmt *a = NULL, *b = NULL;
    assert_int_equal(fp_sqlq_prep(f->q, twice_sql, &a, &err), 0);
    sqlite3_bind_int64(a, 1, 41);
    assert_int_equal(sqlite3_step(a), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(a, 0), 42);
    assert_int_equal(fp_sqlq_prep(f->q, twice_sql, &b, &err), 0);
    assert_ptr_equal(a, b);
    assert_int_equal(sqlite3_step(b), SQLITE_ROW); /* reset, bindings cleared: NULL + 1 */
    assert_int_equal(sqlite3_column_type(b, 0), SQLITE_NULL);
    sqlite3_reset(b);
    static const char bad_sql[] = "SELEC nonsense";
    sqlite3_stmt *c = NULL;
    assert_true(fp_sqlq_prep(f->q, bad_sql, &c, &err) < 0);
    assert_null(c);
    assert_non_null(strstr(err.msg, "preparing a statement"));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fp_sqlq_fx_setup, fp_sqlq_fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_put_get_and_expiry),
        T(test_put_new_takes_only_a_free_key),
        T(test_del_compares_the_value),
        T(test_count_each_and_purge),
        T(test_schema_1_file_is_upgraded),
        T(test_schema_2_file_is_upgraded),
        T(test_traffic_counts_adds_and_takes),
        T(test_prep_keeps_one_statement_per_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
