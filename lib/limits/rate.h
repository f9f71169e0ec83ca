/* rate.h: a rate limit as written in the configuration ("100/s", "20/m",
 * "1000/h") and the GCRA (generic cell rate algorithm) arithmetic that
 * enforces it. Pure: no clock, no Redis. The Lua in limit_script.c runs the
 * same arithmetic inside Redis (one script, so daemons share one state);
 * this C copy is the reference its drift test compares it with.
 *
 * GCRA keeps one number per limited type, the theoretical arrival time (TAT,
 * microseconds by Redis' clock): when the next start is due if starts come
 * one interval (period / count) apart. A start at `now` is allowed while
 * TAT - tolerance <= now; it moves TAT one interval on. A configured rate
 * runs with a tolerance of count - 1 intervals (fp_rate_tolerance_us): an
 * idle type may start count jobs at once, then count per period. Without
 * it, a start that comes late (refused jobs come back from the delayed set
 * at random moments) would waste its slot for good: measured, 1,000 jobs at
 * 50/s took 25 to 27 s instead of 20. The price: a window of one period
 * that follows an idle spell may hold up to 2 * count - 1 starts; over any
 * longer run the average stays count per period.
 *
 * A stored TAT further ahead than now + tolerance + interval (the furthest
 * one rate can put it) comes from an older, slower rate (a reload): it is
 * read as that furthest point, and stored so even when the start is
 * refused (a cap that moved with the clock would refuse for ever): a raised
 * rate applies within one new interval instead of after the old period. */
#ifndef FORKPOOL_RATE_H
#define FORKPOOL_RATE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"

#define FP_RATE_COUNT_MAX 1000000 /* keeps every interval at least 1 us */

typedef struct fp_rate_s {
    int64_t count;     /* starts per period; 0 = no rate limit */
    int64_t period_ms; /* 1000 (/s), 60000 (/m) or 3600000 (/h) */
} fp_rate_t;

/* "N/s", "N/m" or "N/h", N a whole number from 1 to FP_RATE_COUNT_MAX
 * (white space around the parts allowed). FP_ECONFIG with the reason in
 * err (a phrase that follows the key's name) on anything else. */
int fp_rate_parse(const char *text, fp_rate_t *out, fp_err_t *err);

/* The text fp_rate_parse reads back ("100/s"); snprintf's count. */
int fp_rate_format(const fp_rate_t *r, char *buf, size_t size);

/* Microseconds between starts: period / count rounded up, so a window of
 * one period never holds more than count starts; 0 for no rate. */
int64_t fp_rate_interval_us(const fp_rate_t *r);

/* The tolerance a configured rate runs with: count - 1 intervals (see
 * above); 0 for no rate. */
int64_t fp_rate_tolerance_us(const fp_rate_t *r);

/* One GCRA step. tat_us: the stored TAT (0 when none); now_us: the clock.
 * Allowed: returns true, *new_tat_us is the TAT to store, *retry_us 0.
 * Refused: returns false, *new_tat_us the TAT to store: tat_us itself
 * (nothing to store) unless it was capped (see above), *retry_us how long
 * until a start would be allowed (> 0). */
bool fp_gcra_take(int64_t tat_us, int64_t now_us, int64_t interval_us, int64_t tolerance_us,
                  int64_t *new_tat_us, int64_t *retry_us);

#endif
