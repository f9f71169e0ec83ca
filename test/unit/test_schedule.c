/* test_schedule.c: the pure parts of periodic jobs — the cron parser
 * (lib/schedule/cron.c), the next-fire function with its DST rule
 * (lib/schedule/next.c) on the real Europe/Berlin and America/New_York
 * files, and the missed policy (lib/schedule/missed.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "schedule/civil.h"
#include "schedule/cron.h"
#include "schedule/missed.h"
#include "schedule/next.h"
#include "schedule/tz.h"

static int64_t utc(int y, int mo, int d, int h, int mi)
{
    return (fp_civil_days(y, mo, d) * 86400 + h * 3600 + mi * 60) * 1000;
}

static fp_sched_when_t cron_in(const char *expr, const fp_tz_t *tz)
{
    fp_sched_when_t w = {.is_cron = true, .tz = tz};
    fp_err_t err = {0};
    if (fp_cron_parse(expr, &w.cron, &err) != 0)
        fail_msg("%s: %s", expr, err.msg);
    return w;
}

static int64_t next_of(const fp_sched_when_t *w, int64_t after)
{
    int64_t out = 0;
    assert_int_equal(fp_sched_next(w, after, &out), 0);
    return out;
}

static fp_tz_t *zone(const char *name)
{
    fp_tz_t *tz = NULL;
    fp_err_t err = {0};
    if (fp_tz_load(name, &tz, &err) != 0)
        fail_msg("%s: %s", name, err.msg);
    return tz;
}

static void test_cron_fields(void **state)
{
    (void)state;
    fp_cron_t c;
    fp_err_t err = {0};
    assert_int_equal(fp_cron_parse("*/15 9-17 1,15 jan-MAR mon-fri", &c, &err), 0);
    assert_true(c.minute == ((1ull << 0) | (1ull << 15) | (1ull << 30) | (1ull << 45)));
    assert_int_equal(c.hour, 0x3fe00);
    assert_int_equal(c.dom, (1u << 1) | (1u << 15));
    assert_int_equal(c.month, 0xe);
    assert_int_equal(c.dow, 0x3e);
    assert_false(c.dom_star);
    assert_int_equal(fp_cron_parse("1-10/2 0 * * 7", &c, &err), 0);
    assert_true(c.minute == 0x2aa); /* 1 3 5 7 9 */
    assert_int_equal(c.dow, 1);     /* 7 is Sunday */
    assert_true(c.dom_star);
    assert_int_equal(fp_cron_parse("5/20 * * * *", &c, &err), 0); /* N/STEP: N to the end */
    assert_true(c.minute == ((1ull << 5) | (1ull << 25) | (1ull << 45)));
}

static void test_cron_macros(void **state)
{
    (void)state;
    static const char *const pairs[][2] = {
        {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
        {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        fp_cron_t a, b;
        fp_err_t err = {0};
        assert_int_equal(fp_cron_parse(pairs[i][0], &a, &err), 0);
        assert_int_equal(fp_cron_parse(pairs[i][1], &b, &err), 0);
        assert_true(a.minute == b.minute);
        assert_int_equal(a.hour, b.hour);
        assert_int_equal(a.dom, b.dom);
        assert_int_equal(a.month, b.month);
        assert_int_equal(a.dow, b.dow);
        assert_int_equal(a.dom_star, b.dom_star);
        assert_int_equal(a.dow_star, b.dow_star);
    }
}

static void expect_error(const char *expr, int col, const char *words)
{
    fp_cron_t c;
    fp_err_t err = {0};
    assert_int_equal(fp_cron_parse(expr, &c, &err), FP_ECONFIG);
    if (err.col != col || strstr(err.msg, words) == NULL)
        fail_msg("%s: got col %d \"%s\", want col %d and \"%s\"", expr, err.col, err.msg, col,
                 words);
}

static void test_cron_errors(void **state)
{
    (void)state;
    expect_error("60 * * * *", 1, "minute: 60 is out of range 0-59");
    expect_error("* 24 * * *", 3, "hour: 24 is out of range");
    expect_error("* * 0 * *", 5, "day-of-month");
    expect_error("* * * foo *", 7, "month: expected a number or a name");
    expect_error("* * * * 8", 9, "day-of-week");
    expect_error("* * * * * *", 11, "more than five fields");
    expect_error("* *", 4, "day-of-month: missing");
    expect_error("5-1 * * * *", 1, "backwards");
    expect_error("*/0 * * * *", 3, "step out of range");
    expect_error("1,,2 * * * *", 3, "minute");
    expect_error("1x * * * *", 2, "unexpected character");
    expect_error("@reboot", 1, "unknown macro");
    expect_error("", 1, "minute: missing");
}

static void test_vixie_or_rule(void **state)
{
    (void)state;
    int64_t from = utc(2026, 2, 1, 0, 0); /* a Sunday */
    fp_sched_when_t either = cron_in("0 0 13 * 5", NULL); /* the 13th OR a Friday */
    assert_int_equal(next_of(&either, from), utc(2026, 2, 6, 0, 0));
    fp_sched_when_t date = cron_in("0 0 13 * *", NULL);
    assert_int_equal(next_of(&date, from), utc(2026, 2, 13, 0, 0));
    /* A day field starting with '*' is not "restricted": both must match. */
    fp_sched_when_t both = cron_in("0 0 */10 * 1", NULL);
    assert_int_equal(next_of(&both, utc(2026, 1, 1, 0, 0)), utc(2026, 5, 11, 0, 0));
}

static void test_month_ends_and_leap_days(void **state)
{
    (void)state;
    fp_sched_when_t last = cron_in("0 0 31 * *", NULL);
    assert_int_equal(next_of(&last, utc(2026, 1, 31, 0, 0)), utc(2026, 3, 31, 0, 0));
    assert_int_equal(next_of(&last, utc(2026, 3, 31, 0, 0)), utc(2026, 5, 31, 0, 0));
    fp_sched_when_t leap = cron_in("0 0 29 2 *", NULL);
    assert_int_equal(next_of(&leap, utc(2026, 1, 1, 0, 0)), utc(2028, 2, 29, 0, 0));
    assert_int_equal(next_of(&leap, utc(2028, 2, 29, 0, 0)), utc(2032, 2, 29, 0, 0));
    assert_int_equal(next_of(&leap, utc(2096, 3, 1, 0, 0)), utc(2104, 2, 29, 0, 0)); /* 2100 */
    fp_sched_when_t never = cron_in("0 0 30 2 *", NULL);
    int64_t out;
    assert_int_equal(fp_sched_next(&never, 0, &out), -ENOENT);
    /* Strictly after: a tick time itself is not returned again. */
    fp_sched_when_t hourly = cron_in("@hourly", NULL);
    assert_int_equal(next_of(&hourly, utc(2026, 1, 1, 5, 0)), utc(2026, 1, 1, 6, 0));
    assert_int_equal(next_of(&hourly, utc(2026, 1, 1, 5, 0) - 1), utc(2026, 1, 1, 5, 0));
}

static void test_every(void **state)
{
    (void)state;
    fp_sched_when_t w = {.every_ms = 30000};
    assert_int_equal(next_of(&w, 12345), 30000);
    assert_int_equal(next_of(&w, 30000), 60000);
    assert_int_equal(next_of(&w, 59999), 60000);
    assert_int_equal(next_of(&w, -1), 0);
}

/* Berlin 2026: 02:00 CET -> 03:00 CEST on Mar 29 (01:00Z); 03:00 CEST ->
 * 02:00 CET on Oct 25 (01:00Z). */
static void test_dst_berlin(void **state)
{
    (void)state;
    fp_tz_t *tz = zone("Europe/Berlin");
    fp_sched_when_t w = cron_in("30 2 * * *", tz);
    /* 02:30 does not exist: fires at the first instant after the gap. */
    int64_t t = next_of(&w, utc(2026, 3, 28, 12, 0));
    assert_int_equal(t, utc(2026, 3, 29, 1, 0));
    assert_int_equal(next_of(&w, t), utc(2026, 3, 30, 0, 30)); /* 02:30 CEST */
    /* 02:30 happens twice: once, at the first (CEST, 00:30Z), not at 01:30Z. */
    t = next_of(&w, utc(2026, 10, 24, 12, 0));
    assert_int_equal(t, utc(2026, 10, 25, 0, 30));
    assert_int_equal(next_of(&w, t), utc(2026, 10, 26, 1, 30)); /* 02:30 CET */
    /* Every half hour across the gap: each instant once, none twice. */
    fp_sched_when_t half = cron_in("*/30 * * * *", tz);
    t = next_of(&half, utc(2026, 3, 29, 0, 15));
    assert_int_equal(t, utc(2026, 3, 29, 0, 30));             /* 01:30 CET */
    assert_int_equal(t = next_of(&half, t), utc(2026, 3, 29, 1, 0)); /* 02:00 -> 03:00 CEST */
    assert_int_equal(next_of(&half, t), utc(2026, 3, 29, 1, 30));    /* 03:30 CEST */
    /* Across the repeat: the second 02:00-02:59 fires nothing. */
    t = next_of(&half, utc(2026, 10, 25, 0, 15));
    assert_int_equal(t, utc(2026, 10, 25, 0, 30));             /* 02:30 CEST */
    assert_int_equal(next_of(&half, t), utc(2026, 10, 25, 2, 0)); /* 03:00 CET */
    assert_int_equal(next_of(&half, utc(2026, 10, 25, 1, 10)), utc(2026, 10, 25, 2, 0));
    fp_tz_free(tz);
}

/* New York 2026: 02:00 EST -> 03:00 EDT on Mar 8 (07:00Z); 02:00 EDT ->
 * 01:00 EST on Nov 1 (06:00Z). */
static void test_dst_new_york(void **state)
{
    (void)state;
    fp_tz_t *tz = zone("America/New_York");
    fp_sched_when_t w = cron_in("0 2 * * *", tz);
    assert_int_equal(next_of(&w, utc(2026, 3, 7, 12, 0)), utc(2026, 3, 8, 7, 0));
    assert_int_equal(next_of(&w, utc(2026, 3, 8, 7, 0)), utc(2026, 3, 9, 6, 0));
    fp_sched_when_t late = cron_in("30 1 * * *", tz);
    int64_t t = next_of(&late, utc(2026, 10, 31, 12, 0));
    assert_int_equal(t, utc(2026, 11, 1, 5, 30)); /* 01:30 EDT, the first */
    assert_int_equal(next_of(&late, t), utc(2026, 11, 2, 6, 30)); /* 01:30 EST, a day later */
    /* A time zone's midnight, not UTC's. */
    fp_sched_when_t daily = cron_in("@daily", tz);
    assert_int_equal(next_of(&daily, utc(2026, 7, 1, 12, 0)), utc(2026, 7, 2, 4, 0));
    fp_tz_free(tz);
}

static void test_missed_policy(void **state)
{
    (void)state;
    fp_sched_when_t w = {.every_ms = 1000};
    fp_sched_due_t due;
    fp_sched_due(&w, 1000000, 1005500, FP_MISSED_ALL, &due);
    assert_int_equal(due.n, 5);
    assert_int_equal(due.ticks[0], 1001000);
    assert_int_equal(due.ticks[4], 1005000);
    assert_int_equal(due.dropped, 0);
    fp_sched_due(&w, 1000000, 1005500, FP_MISSED_ONE, &due);
    assert_int_equal(due.n, 1);
    assert_int_equal(due.ticks[0], 1005000);
    assert_int_equal(due.dropped, 4);
    fp_sched_due(&w, 1000000, 1005500, FP_MISSED_SKIP, &due); /* 0.5 s late: due, not missed */
    assert_int_equal(due.n, 1);
    assert_int_equal(due.ticks[0], 1005000);
    fp_sched_due(&w, 1000000, 1000999, FP_MISSED_ALL, &due); /* nothing due yet */
    assert_int_equal(due.n, 0);
    fp_sched_due(&w, 1000000, 1000000, FP_MISSED_ALL, &due);
    assert_int_equal(due.n, 0);
    /* "all" is bounded: the newest 100, the rest counted. */
    fp_sched_due(&w, 1000000, 1000000 + 1000 * 1000, FP_MISSED_ALL, &due);
    assert_int_equal(due.n, FP_SCHED_ALL_MAX);
    assert_int_equal(due.ticks[99], 2000000);
    assert_int_equal(due.ticks[0], 1901000);
    assert_int_equal(due.dropped, 900);
    assert_false(due.dropped_more);
    /* A late hourly tick under "skip" is missed; under "one" it fires. */
    fp_sched_when_t hourly = cron_in("@hourly", NULL);
    int64_t now = utc(2026, 1, 1, 5, 2);
    fp_sched_due(&hourly, utc(2026, 1, 1, 1, 0), now, FP_MISSED_SKIP, &due);
    assert_int_equal(due.n, 0);
    fp_sched_due(&hourly, utc(2026, 1, 1, 1, 0), now, FP_MISSED_ONE, &due);
    assert_int_equal(due.n, 1);
    assert_int_equal(due.ticks[0], utc(2026, 1, 1, 5, 0));
    assert_true(due.dropped > 0 || due.dropped_more); /* the older ones: not fired */
    fp_sched_due(&hourly, utc(2026, 1, 1, 1, 0), now, FP_MISSED_ALL, &due);
    assert_int_equal(due.n, 4);
}

/* Years behind: the work stays bounded and the newest ticks are kept. */
static void test_missed_long_downtime(void **state)
{
    (void)state;
    fp_sched_when_t w = {.every_ms = 1000};
    fp_sched_due_t due;
    int64_t now = utc(2026, 6, 1, 0, 0);
    fp_sched_due(&w, 0, now, FP_MISSED_ALL, &due);
    assert_int_equal(due.n, FP_SCHED_ALL_MAX);
    assert_int_equal(due.ticks[99], now);
    assert_true(due.dropped_more);
    fp_sched_when_t minutely = cron_in("* * * * *", NULL);
    fp_sched_due(&minutely, 0, now + 30000, FP_MISSED_ONE, &due);
    assert_int_equal(due.n, 1);
    assert_int_equal(due.ticks[0], now);
}

static void test_missed_names(void **state)
{
    (void)state;
    fp_missed_t m;
    assert_int_equal(fp_missed_parse("all", &m), 0);
    assert_int_equal(m, FP_MISSED_ALL);
    assert_string_equal(fp_missed_name(FP_MISSED_ONE), "one");
    assert_int_equal(fp_missed_parse("All", &m), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cron_fields),
        cmocka_unit_test(test_cron_macros),
        cmocka_unit_test(test_cron_errors),
        cmocka_unit_test(test_vixie_or_rule),
        cmocka_unit_test(test_month_ends_and_leap_days),
        cmocka_unit_test(test_every),
        cmocka_unit_test(test_dst_berlin),
        cmocka_unit_test(test_dst_new_york),
        cmocka_unit_test(test_missed_policy),
        cmocka_unit_test(test_missed_long_downtime),
        cmocka_unit_test(test_missed_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
