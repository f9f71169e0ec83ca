/* metrics_hist.c: fixed-bucket histograms and the wait of a job computed
 * from its stream entry id. The bounds live here so the registry, its
 * tests and docs/metrics.md agree on one list. */
#include "http/metrics_hist.h"

#include <math.h>
#include <string.h>

#include "base/stream_id.h"

static const double run_le[] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
};
/* Waits start at a few ms (a pull's round trip) and reach hours when a
 * backlog builds, which is what alerts look for. */
static const double wait_le[] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600,
};

const fp_hist_bounds_t fp_hist_run_bounds = {run_le, sizeof run_le / sizeof run_le[0]};
const fp_hist_bounds_t fp_hist_wait_bounds = {wait_le, sizeof wait_le / sizeof wait_le[0]};

size_t fp_hist_bucket(const fp_hist_bounds_t *b, double v)
{
    size_t i = 0;
    while (i < b->n && v > b->le[i])
        i++;
    return i;
}

bool fp_hist_observe(fp_hist_t *h, const fp_hist_bounds_t *b, double v)
{
    if (isnan(v) || v < 0)
        return false;
    h->buckets[fp_hist_bucket(b, v)]++;
    h->count++;
    h->sum += v;
    return true;
}

int64_t fp_hist_entry_ms(const char *id)
{
    uint64_t ms, seq;
    if (id == NULL || !fp_stream_id_parse(id, strlen(id), &ms, &seq) || ms > INT64_MAX)
        return -1;
    return (int64_t)ms;
}

double fp_hist_wait_seconds(const char *id, int64_t redis_now_ms)
{
    int64_t ms = fp_hist_entry_ms(id);
    if (ms < 0)
        return -1.0;
    return redis_now_ms > ms ? (double)(redis_now_ms - ms) / 1000.0 : 0.0;
}
