/* backoff.h: the one exponential back-off of the daemon. Every "wait longer
 * each time it fails again" (a child's crash loop, a Redis reconnect, the
 * ledger writer's retries, a job's retry delay) asks this function, so the
 * curve is written, and tested, once. Pure: the randomness of the jitter is
 * an argument. */
#ifndef FORKPOOL_BACKOFF_H
#define FORKPOOL_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

/* The wait after `failures` failures in a row: 0 for none, first_ms after
 * the first, doubled after each further one, never above max_ms. It
 * saturates, so any count is safe (no overflow, no long loop). A negative
 * first_ms or max_ms counts as 0, and first_ms above max_ms as max_ms.
 * With `jitter`, the wait is instead a uniform pick in [0, that wait] made
 * from `random` ("full jitter": many clients failing together do not all
 * come back together). */
int64_t fp_backoff_ms(int64_t failures, int64_t first_ms, int64_t max_ms, bool jitter,
                      uint64_t random);

#endif
