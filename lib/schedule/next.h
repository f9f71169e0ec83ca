/* next.h: when a schedule fires next. A schedule is a cron expression read
 * in a time zone, or a fixed period ("every") counted from the Unix epoch,
 * so every daemon computes the same ticks without talking to the others.
 * Pure: the caller passes the time.
 *
 * Daylight-saving time, for cron: a local time that does not exist (the
 * spring-forward gap) fires at the first instant after the gap; a local
 * time that occurs twice (fall-back) fires once, at its first occurrence. */
#ifndef FORKPOOL_SCHEDULE_NEXT_H
#define FORKPOOL_SCHEDULE_NEXT_H

#include <stdbool.h>
#include <stdint.h>

#include "schedule/cron.h"
#include "schedule/tz.h"

/* How far ahead a cron expression is searched: 28 years covers every
 * combination of weekday and date (Feb 29 on a Monday included). */
#define FP_SCHED_SEARCH_DAYS (28 * 366)

typedef struct fp_sched_when_s {
    bool is_cron;
    fp_cron_t cron;     /* is_cron */
    int64_t every_ms;   /* !is_cron: > 0; ticks are its multiples since the epoch */
    const fp_tz_t *tz;  /* cron's zone; NULL = UTC; borrowed */
} fp_sched_when_t;

/* The first tick strictly after after_ms (Unix ms) into *out. -ENOENT when
 * a cron expression has none within FP_SCHED_SEARCH_DAYS (e.g. Feb 30). */
int fp_sched_next(const fp_sched_when_t *w, int64_t after_ms, int64_t *out);

/* The instant (Unix s) a local wall-clock time (seconds since the epoch as
 * if local were UTC) fires, by the DST rule above. Exposed for its tests. */
int64_t fp_sched_local_to_utc(const fp_tz_t *tz, int64_t local);

#endif
