/* missed.h: which ticks to fire when a schedule is behind: the daemon was
 * down, Redis was unreachable, or the loop was late. Given the last tick
 * fired (as Redis recorded it), now and the schedule's `missed` policy, the
 * answer is a short ascending list. Pure. */
#ifndef FORKPOOL_SCHEDULE_MISSED_H
#define FORKPOOL_SCHEDULE_MISSED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schedule/next.h"

typedef enum fp_missed_e {
    FP_MISSED_SKIP, /* the newest due tick, only if at most FP_SCHED_LATE_MS late */
    FP_MISSED_ONE,  /* the newest due tick, however late: one catch-up */
    FP_MISSED_ALL,  /* every due tick, the newest FP_SCHED_ALL_MAX of them */
} fp_missed_t;

/* "all" fires at most this many ticks at once: a schedule every second
 * after a day's downtime must not flood its queue with 86,400 jobs. */
#define FP_SCHED_ALL_MAX 100
/* "skip": a tick later than this counts as missed, not as due. */
#define FP_SCHED_LATE_MS 60000

typedef struct fp_sched_due_s {
    int64_t ticks[FP_SCHED_ALL_MAX]; /* ascending */
    size_t n;
    uint64_t dropped;  /* due ticks not fired (older than those kept) */
    bool dropped_more; /* more were dropped than counted: older than the search went */
} fp_sched_due_t;

/* The ticks after last_ms and at or before now_ms to fire under policy.
 * Whatever the gap, at most a bounded amount of work: ticks are looked for
 * in a window before now that grows until it holds enough or reaches
 * last_ms. A cron expression without ticks gives none. */
void fp_sched_due(const fp_sched_when_t *w, int64_t last_ms, int64_t now_ms, fp_missed_t policy,
                  fp_sched_due_t *out);

/* "skip", "one", "all" <-> the enum; -EINVAL for other text. */
int fp_missed_parse(const char *text, fp_missed_t *out);
const char *fp_missed_name(fp_missed_t policy);

#endif
