/* ui_series.h: the status page's charts: an in-memory ring of per-second
 * samples (jobs done, jobs failed, ready depth) covering the last hour.
 * Fixed size: FP_UI_SERIES_SECONDS samples of 12 bytes, about 42 KiB per
 * daemon, whether or not anyone looks. Pure: the caller passes the time and
 * the running totals; the ring turns them into per-second counts. */
#ifndef FORKPOOL_UI_SERIES_H
#define FORKPOOL_UI_SERIES_H

#include <stddef.h>
#include <stdint.h>

struct cJSON;

#define FP_UI_SERIES_SECONDS 3600

typedef struct fp_ui_sample_s {
    uint32_t done;   /* jobs finished ok in that second */
    uint32_t failed; /* jobs that failed in that second (retried or dead) */
    int32_t depth;   /* ready jobs over every queue; -1: not known */
} fp_ui_sample_t;

typedef struct fp_ui_series_s {
    fp_ui_sample_t ring[FP_UI_SERIES_SECONDS];
    size_t count;     /* samples held, at most FP_UI_SERIES_SECONDS */
    size_t newest;    /* index of the newest sample when count > 0 */
    int64_t last_sec; /* its second */
    uint64_t done_total, failed_total; /* the totals last recorded */
} fp_ui_series_t;

/* Empty; the first record only sets the totals' base. */
void fp_ui_series_init(fp_ui_series_t *s);

/* Records the totals at second sec (the daemon's uptime or Unix seconds: any
 * clock that does not go back). What they grew by since the last record
 * counts in sec's sample; seconds skipped since are zero counts with an
 * unknown depth; a sec not past the newest adds to the newest. depth < 0:
 * not known. */
void fp_ui_series_record(fp_ui_series_t *s, int64_t sec, uint64_t done_total,
                         uint64_t failed_total, int64_t depth);

/* The sample age seconds before the newest (0: the newest); NULL when not
 * held. */
const fp_ui_sample_t *fp_ui_series_at(const fp_ui_series_t *s, size_t age);

/* The ring as JSON for the page, oldest first, in buckets of step seconds
 * (done and failed summed, depth the bucket's largest known or null):
 * {"step":10,"end":SEC,"done":[...],"failed":[...],"depth":[...]}. Owned;
 * NULL on ENOMEM. step 0 counts as 1. */
struct cJSON *fp_ui_series_json(const fp_ui_series_t *s, size_t step);

#endif
