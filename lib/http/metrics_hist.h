/* metrics_hist.h: the pure parts of the /metrics histograms: a histogram
 * with fixed bucket bounds (counts kept per bucket, made cumulative only
 * when rendered), the bounds of the run-time and the wait histograms, and
 * the enqueue->start wait of a job computed from its stream entry id. No
 * I/O and no clock: callers pass the time. */
#ifndef FORKPOOL_METRICS_HIST_H
#define FORKPOOL_METRICS_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most finite buckets a histogram may have; +Inf follows. */
#define FP_HIST_MAX_BUCKETS 20

typedef struct fp_hist_bounds_s {
    const double *le; /* ascending upper bounds, in seconds */
    size_t n;         /* <= FP_HIST_MAX_BUCKETS */
} fp_hist_bounds_t;

typedef struct fp_hist_s {
    uint64_t buckets[FP_HIST_MAX_BUCKETS + 1]; /* per bucket, not cumulative; [n] is +Inf */
    uint64_t count;
    double sum;
} fp_hist_t;

/* Run time of a job in a child: 1 ms .. 60 s. */
extern const fp_hist_bounds_t fp_hist_run_bounds;
/* Enqueue->start wait: 5 ms .. 1 h, since a backlog can last that long. */
extern const fp_hist_bounds_t fp_hist_wait_bounds;

/* Index of the bucket v falls in: the first bound >= v (bounds are "le",
 * inclusive), b->n for +Inf. */
size_t fp_hist_bucket(const fp_hist_bounds_t *b, double v);

/* Counts v in h. Negative and NaN values are not observed (false). */
bool fp_hist_observe(fp_hist_t *h, const fp_hist_bounds_t *b, double v);

/* The milliseconds part of a stream entry id "<ms>-<seq>": when Redis
 * added the entry, by Redis' clock. -1 when id is not of that form. */
int64_t fp_hist_entry_ms(const char *id);

/* How long the entry waited before it started at redis_now_ms (the start
 * time on Redis' clock), in seconds: redis_now_ms minus the id's ms part,
 * 0 when that is negative (clocks that disagree must not make a negative
 * observation, which a histogram cannot hold). -1 for an id that is not an
 * entry id. */
double fp_hist_wait_seconds(const char *id, int64_t redis_now_ms);

#endif
