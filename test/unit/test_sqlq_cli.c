/* test_sqlq_cli.c: lib/sqlq/inspect.c and lib/sqlq/migrate.c, the queue
 * file's calls for the command line, on real SQLite files: one queue's view
 * (ready, oldest, holders, live leases), the guarded dead requeue (an id
 * moved once only), and migrate's export (each kind, leased rows never
 * exported, a failing destination rolls the batch back so nothing is lost)
 * and import (due times and dead fields kept). Times are the test's own
 * numbers, never the clock. */
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

#include "harness.h"
#include "sqlq_fixture.h"
#include "sqlq/inspect.h"
#include "sqlq/migrate.h"
#include "sqlq/store.h"

#define NOW 1000000
#define LEASE 1000

typedef fp_sqlq_fx_t fixture_t;
#define setup fp_sqlq_fx_setup
#define teardown fp_sqlq_fx_teardown

static int64_t put(fp_sqlq_t *q, const char *payload, int64_t delay, int64_t now)
{
    fp_err_t err = {0};
    int64_t id = 0;
    assert_int_equal(fp_sqlq_enqueue(q, "default", payload, strlen(payload), delay, now, &id, &err),
                     0);
    return id;
}

/* Pulls n rows of "default" for consumer at now. */
static void take(fp_sqlq_t *q, const char *consumer, size_t n, int64_t now)
{
    const char *queues[] = {"default"};
    fp_sqlq_jobs_t jobs = {0};
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_pull(q, queues, 1, consumer, n, LEASE, now, 0, &jobs, &err), 0);
    assert_int_equal(jobs.n, n);
    fp_sqlq_jobs_free(&jobs);
}

/* A dead row with payload, made the way the daemon makes one. */
static void kill_one(fp_sqlq_t *q, const char *payload, int64_t now)
{
    put(q, payload, 0, now);
    const char *queues[] = {"default"};
    fp_sqlq_jobs_t jobs = {0};
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_pull(q, queues, 1, "killer", 1, LEASE, now, 0, &jobs, &err), 0);
    assert_int_equal(jobs.n, 1);
    fp_sqlq_outcome_t o = {FP_SQLQ_DEAD, jobs.v[0].id, NULL, 0, 0, "boom", 3};
    assert_int_equal(fp_sqlq_outcomes(q, "killer", &o, 1, now, NULL, NULL, &err), 0);
    fp_sqlq_jobs_free(&jobs);
}

static void test_view(void **state)
{
    fixture_t *f = *state;
    fp_err_t err = {0};
    fp_sqlq_view_t v;
    assert_int_equal(fp_sqlq_view(f->q, "default", NOW, &v, &err), 0);
    assert_int_equal(v.oldest_id, 0);
    assert_int_equal(v.nholders, 0);
    fp_sqlq_view_clear(&v);
    put(f->q, "{\"type\":\"a\"}", 0, NOW - 500);      /* taken below */
    int64_t second = put(f->q, "{\"type\":\"b\"}", 0, NOW - 300);
    put(f->q, "{\"type\":\"c\"}", 0, NOW - 100);
    put(f->q, "{\"type\":\"d\"}", 5000, NOW);          /* delayed */
    take(f->q, "host-a", 1, NOW - 2000 + 1500);       /* lease ends NOW + 500 */
    assert_int_equal(fp_sqlq_view(f->q, "default", NOW, &v, &err), 0);
    assert_int_equal(v.counts.ready, 2);
    assert_int_equal(v.counts.delayed, 1);
    assert_int_equal(v.counts.leased, 1);
    assert_int_equal(v.oldest_id, second);
    assert_int_equal(v.oldest_avail_ms, NOW - 300);
    assert_int_equal(v.live_leases, 1);
    assert_int_equal(v.nholders, 1);
    assert_string_equal(v.holders[0].owner, "host-a");
    assert_int_equal(v.holders[0].rows, 1);
    assert_int_equal(v.holders[0].lease_end_ms, NOW + 500);
    fp_sqlq_view_clear(&v);
    /* Past the lease's end it is no longer live. */
    assert_int_equal(fp_sqlq_view(f->q, "default", NOW + 600, &v, &err), 0);
    assert_int_equal(v.live_leases, 0);
    fp_sqlq_view_clear(&v);
}

static void test_dead_requeue_once(void **state)
{
    fixture_t *f = *state;
    fp_err_t err = {0};
    kill_one(f->q, "{\"type\":\"x\",\"attempt\":3}", NOW);
    int64_t last = 0;
    assert_int_equal(fp_sqlq_dead_last_id(f->q, "default", &last, &err), 0);
    assert_true(last > 0);
    const char *fresh[] = {"{\"type\":\"x\"}"};
    size_t lens[] = {strlen(fresh[0])}, moved = 9;
    assert_int_equal(fp_sqlq_dead_requeue(f->q, "default", &last, fresh, lens, 1, NOW, &moved,
                                          &err), 0);
    assert_int_equal(moved, 1);
    /* The same id again: it is gone, nothing is added. */
    assert_int_equal(fp_sqlq_dead_requeue(f->q, "default", &last, fresh, lens, 1, NOW, &moved,
                                          &err), 0);
    assert_int_equal(moved, 0);
    fp_sqlq_counts_t c;
    assert_int_equal(fp_sqlq_counts(f->q, "default", NOW, &c, &err), 0);
    assert_int_equal(c.ready, 1);
    assert_int_equal(c.dead, 0);
    const char *queues[] = {"default"};
    fp_sqlq_jobs_t jobs = {0};
    assert_int_equal(fp_sqlq_pull(f->q, queues, 1, "c", 5, LEASE, NOW, 0, &jobs, &err), 0);
    assert_int_equal(jobs.n, 1);
    assert_string_equal(jobs.v[0].payload, "{\"type\":\"x\"}");
    fp_sqlq_jobs_free(&jobs);
}

/* The export destination: copies what it is given; fails when told to. */
typedef struct sink_s {
    fp_sqlq_row_t rows[64];
    size_t n, calls, fail_at_call; /* fail_at_call 0: never */
} sink_t;

static int sink(void *ctx, const fp_sqlq_row_t *rows, size_t n, fp_err_t *err)
{
    sink_t *s = ctx;
    if (++s->calls == s->fail_at_call)
        return fp_err_set(err, -EIO, "destination down");
    for (size_t i = 0; i < n && s->n < 64; i++) {
        s->rows[s->n] = rows[i];
        s->rows[s->n].payload = strdup(rows[i].payload);
        s->rows[s->n].error = rows[i].error != NULL ? strdup(rows[i].error) : NULL;
        s->rows[s->n].consumer = rows[i].consumer != NULL ? strdup(rows[i].consumer) : NULL;
        s->n++;
    }
    return 0;
}

static void sink_clear(sink_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->rows[i].payload);
        free(s->rows[i].error);
        free(s->rows[i].consumer);
    }
    memset(s, 0, sizeof *s);
}

static void test_export_kinds(void **state)
{
    fixture_t *f = *state;
    fp_err_t err = {0};
    put(f->q, "{\"type\":\"leased\"}", 0, NOW - 10);
    take(f->q, "host-a", 1, NOW);                     /* lease live until NOW + LEASE */
    for (int i = 0; i < 5; i++)
        put(f->q, "{\"type\":\"ready\"}", 0, NOW);
    put(f->q, "{\"type\":\"later\"}", 7000, NOW);
    kill_one(f->q, "{\"type\":\"dead\"}", NOW);
    sink_t s = {0};
    size_t moved = 0;
    assert_int_equal(fp_sqlq_export(f->q, "default", FP_SQLQ_ROWS_READY, NOW, 2, sink, &s, &moved,
                                    &err), 0);
    assert_int_equal(moved, 5);
    assert_int_equal(s.n, 5);
    assert_int_equal(s.calls, 3); /* 2 + 2 + 1 */
    assert_string_equal(s.rows[0].payload, "{\"type\":\"ready\"}");
    sink_clear(&s);
    assert_int_equal(fp_sqlq_export(f->q, "default", FP_SQLQ_ROWS_DELAYED, NOW, 2, sink, &s,
                                    &moved, &err), 0);
    assert_int_equal(moved, 1);
    assert_int_equal(s.rows[0].due_ms, NOW + 7000);
    sink_clear(&s);
    assert_int_equal(fp_sqlq_export(f->q, "default", FP_SQLQ_ROWS_DEAD, NOW, 2, sink, &s, &moved,
                                    &err), 0);
    assert_int_equal(moved, 1);
    assert_string_equal(s.rows[0].error, "boom");
    assert_string_equal(s.rows[0].consumer, "killer");
    assert_int_equal(s.rows[0].attempts, 3);
    assert_int_equal(s.rows[0].failed_at, NOW);
    sink_clear(&s);
    /* Only the live lease is left. */
    fp_sqlq_counts_t c;
    assert_int_equal(fp_sqlq_counts(f->q, "default", NOW, &c, &err), 0);
    assert_int_equal(c.ready + c.delayed + c.dead, 0);
    assert_int_equal(c.leased, 1);
    /* Once its lease ran out (its holder is gone) it is ready, and moves. */
    assert_int_equal(fp_sqlq_export(f->q, "default", FP_SQLQ_ROWS_READY, NOW + LEASE, 2, sink, &s,
                                    &moved, &err), 0);
    assert_int_equal(moved, 1);
    sink_clear(&s);
}

static void test_export_failure_keeps_batch(void **state)
{
    fixture_t *f = *state;
    fp_err_t err = {0};
    for (int i = 0; i < 5; i++)
        put(f->q, "{\"type\":\"ready\"}", 0, NOW);
    sink_t s = {.fail_at_call = 2};
    size_t moved = 0;
    assert_int_equal(fp_sqlq_export(f->q, "default", FP_SQLQ_ROWS_READY, NOW, 2, sink, &s, &moved,
                                    &err), -EIO);
    assert_int_equal(moved, 2);
    int64_t left = 0;
    assert_int_equal(fp_sqlq_rows_count(f->q, "default", FP_SQLQ_ROWS_READY, NOW, &left, &err), 0);
    assert_int_equal(left, 3); /* the failed batch was rolled back */
    sink_clear(&s);
    assert_int_equal(fp_sqlq_export(f->q, "default", FP_SQLQ_ROWS_READY, NOW, 2, sink, &s, &moved,
                                    &err), 0);
    assert_int_equal(moved, 3);
    sink_clear(&s);
}

static void test_import_keeps_fields(void **state)
{
    fixture_t *f = *state;
    fp_err_t err = {0};
    fp_sqlq_row_t jobs[] = {{.payload = "{\"type\":\"soon\"}", .len = 15, .due_ms = NOW + 4000},
                            {.payload = "{\"type\":\"now\"}", .len = 14, .due_ms = NOW - 5}};
    assert_int_equal(fp_sqlq_import(f->q, "default", FP_SQLQ_ROWS_DELAYED, jobs, 2, NOW, &err), 0);
    fp_sqlq_row_t dead = {.payload = "{\"type\":\"d\"}", .len = 12, .error = "SMTP timeout",
                          .consumer = "host-b", .attempts = 4, .failed_at = 1700000000123};
    assert_int_equal(fp_sqlq_import(f->q, "default", FP_SQLQ_ROWS_DEAD, &dead, 1, NOW, &err), 0);
    int64_t n = 0;
    assert_int_equal(fp_sqlq_rows_count(f->q, "default", FP_SQLQ_ROWS_DELAYED, NOW, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(fp_sqlq_rows_count(f->q, "default", FP_SQLQ_ROWS_READY, NOW, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(fp_sqlq_rows_count(f->q, "default", FP_SQLQ_ROWS_READY, NOW + 4000, &n, &err),
                     0);
    assert_int_equal(n, 2);
    fp_sqlq_deads_t d = {0};
    assert_int_equal(fp_sqlq_dead_list(f->q, "default", 0, 10, &d, &err), 0);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.v[0].error, "SMTP timeout");
    assert_string_equal(d.v[0].consumer, "host-b");
    assert_int_equal(d.v[0].attempts, 4);
    assert_int_equal(d.v[0].failed_at, 1700000000123);
    fp_sqlq_deads_free(&d);
}

static void test_find(void **state)
{
    fixture_t *f = *state;
    fp_err_t err = {0};
    fp_sqlq_found_t found;
    bool hit = true;
    assert_int_equal(fp_sqlq_find(f->q, "default", "1", &found, &hit, &err), 0);
    assert_false(hit);
    kill_one(f->q, "{\"type\":\"c\",\"id\":42}", NOW); /* row 1, dead row 1 */
    int64_t plain = put(f->q, "{\"type\":\"a\"}", 0, NOW);
    put(f->q, "{\"type\":\"b\",\"id\":\"order-7\"}", 5000, NOW);
    put(f->q, "not json at all", 0, NOW); /* never breaks the lookup */
    /* "1" is the row id of the job that died: a dead row's id is no job's. */
    assert_int_equal(fp_sqlq_find(f->q, "default", "1", &found, &hit, &err), 0);
    assert_false(hit);
    char text[24];
    snprintf(text, sizeof text, "%lld", (long long)plain);
    assert_int_equal(fp_sqlq_find(f->q, "default", text, &found, &hit, &err), 0);
    assert_true(hit);
    assert_false(found.dead);
    assert_int_equal(found.id, plain);
    assert_string_equal(found.payload, "{\"type\":\"a\"}");
    assert_null(found.owner);
    fp_sqlq_found_clear(&found);
    assert_int_equal(fp_sqlq_find(f->q, "default", "order-7", &found, &hit, &err), 0);
    assert_true(hit);
    assert_int_equal(found.avail_at, NOW + 5000);
    fp_sqlq_found_clear(&found);
    /* A dead job by its payload's id (a number), with the dead row's fields. */
    assert_int_equal(fp_sqlq_find(f->q, "default", "42", &found, &hit, &err), 0);
    assert_true(hit);
    assert_true(found.dead);
    assert_string_equal(found.error, "boom");
    assert_string_equal(found.owner, "killer");
    assert_int_equal(found.attempts, 3);
    fp_sqlq_found_clear(&found);
    /* Another queue holds nothing of it. */
    assert_int_equal(fp_sqlq_find(f->q, "other", "order-7", &found, &hit, &err), 0);
    assert_false(hit);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_view),
        T(test_dead_requeue_once),
        T(test_export_kinds),
        T(test_export_failure_keeps_batch),
        T(test_import_keeps_fields),
        T(test_find),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
