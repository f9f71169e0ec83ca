/* estimate.c: per-type run-time estimates (estimate.h). The EWMA answers
 * "how much work is in front of a job", the percentile "is this type
 * short": a mean hides the one run in a hundred that takes a second. */
#include "pool/estimate.h"

#include <string.h>

/* Weight of a new sample: about the last ten runs count. */
#define EWMA_ALPHA 0.1

void fp_estimate_init(fp_estimate_t *e)
{
    memset(e, 0, sizeof *e);
    memcpy(e->types[FP_EST_OTHER].name, "(other)", sizeof "(other)");
    for (size_t i = 0; i < sizeof e->index / sizeof e->index[0]; i++)
        e->index[i] = -1;
}

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s != '\0'; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

int fp_estimate_type(fp_estimate_t *e, const char *type)
{
    size_t len = strlen(type);
    if (len > FP_EST_NAME_MAX)
        return FP_EST_OTHER;
    const size_t n = sizeof e->index / sizeof e->index[0];
    /* Half full at most, so a probe ends within a few steps. */
    for (size_t i = name_hash(type) % n, step = 0; step < n; i = (i + 1) % n, step++) {
        int t = e->index[i];
        if (t >= 0 && strcmp(e->types[t].name, type) == 0)
            return t;
        if (t >= 0)
            continue;
        if (e->used == FP_EST_TYPES)
            return FP_EST_OTHER;
        t = (int)e->used++;
        memcpy(e->types[t].name, type, len + 1);
        e->index[i] = (int16_t)t;
        return t;
    }
    return FP_EST_OTHER;
}

size_t fp_estimate_bucket(int64_t us)
{
    if (us < 1)
        return 0;
    int msb = 63 - __builtin_clzll((unsigned long long)us);
    /* The two bits under the top one pick the quarter of the doubling. */
    size_t sub = msb >= 2 ? (size_t)((us >> (msb - 2)) & 3) : (size_t)((us << (2 - msb)) & 3);
    size_t b = (size_t)msb * FP_EST_SUB + sub;
    return b < FP_EST_BUCKETS ? b : FP_EST_BUCKETS - 1;
}

int64_t fp_estimate_bucket_top(size_t bucket)
{
    int msb = (int)(bucket / FP_EST_SUB);
    int64_t sub = (int64_t)(bucket % FP_EST_SUB);
    if (msb >= 2)
        return (4 + sub + 1) << (msb - 2);
    return ((4 + sub + 1) << msb) / 4; /* below 4 µs: whole microseconds, rounded down */
}

void fp_estimate_run(fp_estimate_t *e, int t, int64_t run_us)
{
    if (t < 0 || t > FP_EST_OTHER)
        return;
    fp_est_type_t *ty = &e->types[t];
    if (run_us < 0)
        run_us = 0;
    ty->ewma_us = ty->samples == 0 ? (double)run_us
                                   : ty->ewma_us + EWMA_ALPHA * ((double)run_us - ty->ewma_us);
    ty->samples++;
    ty->buckets[fp_estimate_bucket(run_us)]++;
    if (++ty->total < FP_EST_HALVE_AT)
        return;
    /* Forget: old runs weigh half, so the percentile follows a type whose
     * jobs change (a deploy, a slow database) within a few hundred runs. */
    ty->total = 0;
    for (size_t i = 0; i < FP_EST_BUCKETS; i++)
        ty->total += ty->buckets[i] /= 2;
}

bool fp_estimate_known(const fp_estimate_t *e, int t)
{
    return t >= 0 && t <= FP_EST_OTHER && e->types[t].samples >= FP_EST_MIN_SAMPLES;
}

int64_t fp_estimate_mean_us(const fp_estimate_t *e, int t)
{
    return fp_estimate_known(e, t) ? (int64_t)(e->types[t].ewma_us + 0.5) : -1;
}

int64_t fp_estimate_pct_us(const fp_estimate_t *e, int t)
{
    if (!fp_estimate_known(e, t))
        return -1;
    const fp_est_type_t *ty = &e->types[t];
    /* The smallest bucket with at least PCT % of the samples at or under it. */
    uint64_t want = ((uint64_t)ty->total * FP_EST_PCT + 99) / 100, seen = 0;
    for (size_t i = 0; i < FP_EST_BUCKETS; i++) {
        seen += ty->buckets[i];
        if (seen >= want && seen > 0)
            return fp_estimate_bucket_top(i);
    }
    return fp_estimate_bucket_top(FP_EST_BUCKETS - 1);
}
