/* estimate.h: how long each job type runs, as the supervisor saw it: a
 * moving average (EWMA) and a high percentile from a small log-scale
 * histogram that forgets old samples. Pure: the caller measures and passes
 * the numbers in; nothing here reads a clock.
 *
 * Type names are user input, so the table is bounded: the first
 * FP_EST_TYPES names get an entry each, every later name shares one
 * "other" entry (whose estimate is then the mix of them: any long job among
 * them makes it long, which is the safe side for send-ahead). */
#ifndef FORKPOOL_ESTIMATE_H
#define FORKPOOL_ESTIMATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FP_EST_TYPES 64         /* named types tracked; the rest share "other" */
#define FP_EST_OTHER FP_EST_TYPES
#define FP_EST_NAME_MAX 128     /* as FP_JOB_TYPE_MAX: a longer name is "other" */
#define FP_EST_SUB 4            /* histogram buckets per doubling: ±19 % */
#define FP_EST_BUCKETS (40 * FP_EST_SUB) /* 1 µs .. 2^40 µs (12 days) */
#define FP_EST_MIN_SAMPLES 8    /* fewer and a type is unknown */
#define FP_EST_HALVE_AT 512     /* samples kept before the histogram halves */
#define FP_EST_PCT 99           /* the percentile that says "short" */

typedef struct fp_est_type_s {
    char name[FP_EST_NAME_MAX + 1];
    uint64_t samples;           /* all ever seen (not halved) */
    double ewma_us;
    uint32_t total;             /* sum of buckets */
    uint32_t buckets[FP_EST_BUCKETS];
} fp_est_type_t;

typedef struct fp_estimate_s {
    fp_est_type_t types[FP_EST_TYPES + 1]; /* [FP_EST_OTHER] shared by the rest */
    size_t used;                           /* named entries taken */
    int16_t index[2 * FP_EST_TYPES];       /* open addressing on the name's hash; -1 empty */
} fp_estimate_t;

void fp_estimate_init(fp_estimate_t *e);

/* The entry of a type name, added when new and there is room, else
 * FP_EST_OTHER. Never fails. */
int fp_estimate_type(fp_estimate_t *e, const char *type);

/* One run of `run_us` (clamped at 0) of entry t. */
void fp_estimate_run(fp_estimate_t *e, int t, int64_t run_us);

/* Whether entry t has enough samples to be judged. */
bool fp_estimate_known(const fp_estimate_t *e, int t);

/* The moving average of entry t, µs; -1 while unknown. */
int64_t fp_estimate_mean_us(const fp_estimate_t *e, int t);

/* The FP_EST_PCT percentile of entry t (the upper edge of its bucket, so
 * never below the truth by more than a bucket), µs; -1 while unknown. */
int64_t fp_estimate_pct_us(const fp_estimate_t *e, int t);

/* The histogram bucket of a run time, and that bucket's upper edge (for
 * tests and the percentile). */
size_t fp_estimate_bucket(int64_t us);
int64_t fp_estimate_bucket_top(size_t bucket);

#endif
