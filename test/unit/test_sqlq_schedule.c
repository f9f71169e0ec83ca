/* test_sqlq_schedule.c: the fire rule of [[schedule]] on the embedded queue
 * (lib/sqlq/schedule.h) on a real queue file: a new (or changed) schedule
 * records "now" and fires nothing, then each newer tick fires once and is
 * recorded, older ones never, and two connections to one file asking for
 * the same ticks enqueue them once. Times are the test's own numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "harness.h"
#include "sqlq_fixture.h"
#include "sqlq/kv.h"
#include "sqlq/schedule.h"
#include "sqlq/store.h"
#include "sqlq/store_internal.h"

typedef fp_sqlq_fx_t fixture_t;

#define FP_EVERY "every 60000"

static void fire(fp_sqlq_t *q, const char *fingerprint, const fp_sqlq_tick_t *ticks, size_t n,
                 int64_t now, int64_t want_fired, int64_t want_recorded)
{
    fp_err_t err = {0};
    int64_t fired = -1, recorded = -2;
    if (fp_sqlq_schedule_fire(q, "default", "nightly", fingerprint, ticks, n, now, &fired,
                              &recorded, &err) < 0)
        fail_msg("fire: %s", err.msg);
    assert_int_equal(fired, want_fired);
    assert_int_equal(recorded, want_recorded);
}

static int64_t ready(fp_sqlq_t *q)
{
    fp_sqlq_counts_t c;
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_counts(q, "default", INT64_MAX / 2, &c, &err), 0);
    return c.ready;
}

static const fp_sqlq_tick_t three[] = {
    {60000, "{\"type\":\"t\",\"id\":\"a\"}"},
    {120000, "{\"type\":\"t\",\"id\":\"b\"}"},
    {180000, "{\"type\":\"t\",\"id\":\"c\"}"},
};

static void test_new_schedule_records_now_and_fires_nothing(void **state)
{
    fixture_t *f = *state;
    fire(f->q, FP_EVERY, three, 3, 100000, 0, 100000);
    assert_int_equal(ready(f->q), 0);
    int64_t tick = 0;
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_schedule_recorded(f->q, "default", "nightly", FP_EVERY, &tick, &err),
                     0);
    assert_int_equal(tick, 100000);
    /* the same name on another queue is another schedule */
    assert_int_equal(fp_sqlq_schedule_recorded(f->q, "other", "nightly", FP_EVERY, &tick, &err),
                     0);
    assert_int_equal(tick, -1);
}

static void test_newer_ticks_fire_once(void **state)
{
    fixture_t *f = *state;
    fire(f->q, FP_EVERY, NULL, 0, 100000, 0, 100000); /* the start */
    fire(f->q, FP_EVERY, three, 3, 190000, 2, 180000); /* 60000 is older than the start */
    assert_int_equal(ready(f->q), 2);
    fire(f->q, FP_EVERY, three, 3, 200000, 0, 180000); /* asked again: nothing */
    assert_int_equal(ready(f->q), 2);
    fire(f->q, FP_EVERY, NULL, 0, 200000, 0, 180000);  /* a read */
    assert_int_equal(fp_sqlq_fx_int(f->q, "SELECT count(*) FROM jobs WHERE queue = 'default' AND "
                                          "json_extract(payload, '$.id') = 'c'"), 1);
}

static void test_changed_expression_starts_afresh(void **state)
{
    fixture_t *f = *state;
    fire(f->q, FP_EVERY, NULL, 0, 0, 0, 0);
    fire(f->q, "every 30000", three, 3, 200000, 0, 200000); /* another fingerprint */
    assert_int_equal(ready(f->q), 0);
    fire(f->q, "every 30000", three, 3, 200000, 0, 200000); /* all older than the start */
    const fp_sqlq_tick_t later[] = {{210000, "{\"type\":\"t\"}"}, {240000, "{\"type\":\"t\"}"}};
    fire(f->q, "every 30000", later, 2, 250000, 2, 240000);
    assert_int_equal(ready(f->q), 2);
}

static void test_bad_record_starts_afresh(void **state)
{
    fixture_t *f = *state;
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_kv_put(f->q, "schedule:default", "nightly", "garbage", 0, &err), 0);
    fire(f->q, FP_EVERY, three, 3, 500000, 0, 500000);
    assert_int_equal(ready(f->q), 0);
}

/* Two daemons on one file: each asks for the same ticks; the second finds
 * them recorded. */
static void test_two_connections_fire_each_tick_once(void **state)
{
    fixture_t *f = *state;
    fp_sqlq_t *other = NULL;
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_open(f->path, 0, &other, &err), 0);
    fire(f->q, FP_EVERY, NULL, 0, 0, 0, 0);
    fire(other, FP_EVERY, NULL, 0, 10, 0, 0); /* reads the first one's start */
    fire(other, FP_EVERY, three, 2, 130000, 2, 120000);
    fire(f->q, FP_EVERY, three, 2, 130000, 0, 120000);
    fire(f->q, FP_EVERY, three, 3, 190000, 1, 180000);
    fire(other, FP_EVERY, three, 3, 190000, 0, 180000);
    fp_sqlq_close(other);
    assert_int_equal(ready(f->q), 3);
}

static void test_record_value_round_trip(void **state)
{
    (void)state;
    char *v = fp_sqlq_schedule_value(1234, "cron 0 3 * * * tz Europe/Paris");
    assert_string_equal(v, "1234 cron 0 3 * * * tz Europe/Paris");
    int64_t tick = 0;
    const char *fp = NULL;
    assert_true(fp_sqlq_schedule_parse(v, &tick, &fp));
    assert_int_equal(tick, 1234);
    assert_string_equal(fp, "cron 0 3 * * * tz Europe/Paris");
    free(v);
    assert_false(fp_sqlq_schedule_parse("1234", &tick, &fp));
    assert_false(fp_sqlq_schedule_parse(" every 1", &tick, &fp));
    assert_false(fp_sqlq_schedule_parse("x every 1", &tick, &fp));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fp_sqlq_fx_setup, fp_sqlq_fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_new_schedule_records_now_and_fires_nothing),
        T(test_newer_ticks_fire_once),
        T(test_changed_expression_starts_afresh),
        T(test_bad_record_starts_afresh),
        T(test_two_connections_fire_each_tick_once),
        cmocka_unit_test(test_record_value_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
