/* cron.h: five-field cron expressions (minute hour day-of-month month
 * day-of-week) and the @hourly-style macros, parsed into bit sets. Pure: no
 * clock, no time zone; lib/schedule/next.c walks local calendar days with
 * these sets to find the next fire. */
#ifndef FORKPOOL_SCHEDULE_CRON_H
#define FORKPOOL_SCHEDULE_CRON_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"

/* Longest expression accepted: a cron line is short, and the bound keeps
 * error messages and copies small. */
#define FP_CRON_TEXT_MAX 256

typedef struct fp_cron_s {
    uint64_t minute; /* bit m: minute m (0..59) */
    uint32_t hour;   /* bit h: hour h (0..23) */
    uint32_t dom;    /* bit d: day of month d (1..31) */
    uint32_t month;  /* bit m: month m (1..12) */
    uint32_t dow;    /* bit d: weekday d (0 = Sunday .. 6; 7 is read as Sunday) */
    /* Vixie cron's rule: when both day fields are restricted (neither starts
     * with '*'), a day matches if EITHER matches; otherwise both must. */
    bool dom_star, dow_star;
} fp_cron_t;

/* Parses text into *out. On error returns FP_ECONFIG with err->col set to
 * the 1-based column (in text) of the offending field or character and
 * err->msg naming the field, e.g. "hour: 24 is out of range 0-23". */
int fp_cron_parse(const char *text, fp_cron_t *out, fp_err_t *err);

/* Whether a calendar day matches the day-of-month, month and day-of-week
 * fields (with the OR rule above). wday: 0 = Sunday. */
bool fp_cron_day_matches(const fp_cron_t *c, int month, int mday, int wday);

#endif
