/* next.c: the next-fire function (next.h). `every` is arithmetic. Cron walks
 * local calendar days from the tick's local time, and within a matching day
 * its hours and minutes; each local candidate is turned into an instant by
 * fp_sched_local_to_utc, which applies the DST rule. A candidate whose first
 * occurrence is not after the tick is passed over, never retried at its
 * second occurrence: that is what makes a repeated hour fire once. */
#include "schedule/next.h"

#include <errno.h>

#include "schedule/civil.h"

/* Zone offsets change at most once in two days in any real zone, so the
 * offsets a day either side of a local time are the two that may apply. */
int64_t fp_sched_local_to_utc(const fp_tz_t *tz, int64_t local)
{
    int32_t before = fp_tz_offset(tz, local - 86400), after = fp_tz_offset(tz, local + 86400);
    int64_t u1 = local - before, u2 = local - after;
    bool ok1 = fp_tz_offset(tz, u1) == before, ok2 = fp_tz_offset(tz, u2) == after;
    if (ok1 && ok2)
        return u1 < u2 ? u1 : u2; /* a repeated time: its first occurrence */
    if (ok1 || ok2)
        return ok1 ? u1 : u2;
    if (after <= before)
        return u1; /* not a gap (two changes within two days): best effort */
    /* A gap: the first instant after it is the change itself, between u2
     * (still the old offset) and u1 (already the new one). */
    int64_t lo = u2, hi = u1;
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (fp_tz_offset(tz, mid) == before)
            lo = mid;
        else
            hi = mid;
    }
    return hi;
}

/* The first fire of day `day` (local days since the epoch) at or after local
 * second `from` whose instant is after t, into *out; false when none. */
static bool fire_in_day(const fp_sched_when_t *w, int64_t day, int64_t from, int64_t t,
                        int64_t *out)
{
    for (int h = 0; h < 24; h++) {
        if (!(w->cron.hour >> h & 1))
            continue;
        for (int m = 0; m < 60; m++) {
            int64_t local = day * 86400 + h * 3600 + m * 60;
            if (!(w->cron.minute >> m & 1) || local < from)
                continue;
            *out = fp_sched_local_to_utc(w->tz, local);
            if (*out > t)
                return true;
        }
    }
    return false;
}

static int next_cron(const fp_sched_when_t *w, int64_t t, int64_t *out)
{
    int64_t local = t + fp_tz_offset(w->tz, t);
    int64_t from = fp_civil_floordiv(local, 60) * 60 + 60;
    int64_t day = fp_civil_floordiv(from, 86400);
    for (int64_t i = 0; i < FP_SCHED_SEARCH_DAYS; i++, day++) {
        int64_t y;
        int m, d;
        fp_civil_from_days(day, &y, &m, &d);
        if (!fp_cron_day_matches(&w->cron, m, d, fp_civil_weekday(day)))
            continue;
        if (fire_in_day(w, day, from, t, out))
            return 0;
    }
    return -ENOENT;
}

int fp_sched_next(const fp_sched_when_t *w, int64_t after_ms, int64_t *out)
{
    if (!w->is_cron) {
        *out = (fp_civil_floordiv(after_ms, w->every_ms) + 1) * w->every_ms;
        return 0;
    }
    int64_t u;
    int rc = next_cron(w, fp_civil_floordiv(after_ms, 1000), &u);
    if (rc == 0)
        *out = u * 1000;
    return rc;
}
