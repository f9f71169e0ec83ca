/* ui_series.c: the per-second ring behind the status page's charts
 * (ui_series.h). */
#include "http/ui_series.h"

#include <string.h>

#include <cjson/cJSON.h>

void fp_ui_series_init(fp_ui_series_t *s)
{
    memset(s, 0, sizeof *s);
    s->last_sec = -1;
}

static fp_ui_sample_t *advance(fp_ui_series_t *s)
{
    s->newest = s->count == 0 ? 0 : (s->newest + 1) % FP_UI_SERIES_SECONDS;
    if (s->count < FP_UI_SERIES_SECONDS)
        s->count++;
    fp_ui_sample_t *x = &s->ring[s->newest];
    *x = (fp_ui_sample_t){0, 0, -1};
    return x;
}

static uint32_t grown(uint64_t now, uint64_t before)
{
    uint64_t d = now > before ? now - before : 0; /* a total never shrinks; if it did, 0 */
    return d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

static uint32_t add_sat(uint32_t a, uint32_t b)
{
    return a > UINT32_MAX - b ? UINT32_MAX : a + b;
}

void fp_ui_series_record(fp_ui_series_t *s, int64_t sec, uint64_t done_total,
                         uint64_t failed_total, int64_t depth)
{
    if (s->last_sec < 0) { /* the base: what ran before the first record is not charted */
        s->last_sec = sec;
        s->done_total = done_total;
        s->failed_total = failed_total;
        advance(s)->depth = depth < 0 ? -1 : depth > INT32_MAX ? INT32_MAX : (int32_t)depth;
        return;
    }
    if (sec > s->last_sec) {
        /* A gap longer than the ring only needs the ring's worth of zeros. */
        int64_t steps = sec - s->last_sec;
        if (steps > FP_UI_SERIES_SECONDS)
            steps = FP_UI_SERIES_SECONDS;
        for (int64_t i = 0; i < steps; i++)
            advance(s);
        s->last_sec = sec;
    }
    fp_ui_sample_t *x = &s->ring[s->newest];
    x->done = add_sat(x->done, grown(done_total, s->done_total));
    x->failed = add_sat(x->failed, grown(failed_total, s->failed_total));
    if (depth >= 0)
        x->depth = depth > INT32_MAX ? INT32_MAX : (int32_t)depth;
    s->done_total = done_total;
    s->failed_total = failed_total;
}

const fp_ui_sample_t *fp_ui_series_at(const fp_ui_series_t *s, size_t age)
{
    if (age >= s->count)
        return NULL;
    return &s->ring[(s->newest + FP_UI_SERIES_SECONDS - age) % FP_UI_SERIES_SECONDS];
}

/* One bucket: n samples from age age_first towards the newest. */
static void add_bucket(const fp_ui_series_t *s, size_t age_first, size_t n, cJSON *done,
                       cJSON *failed, cJSON *depth)
{
    double d = 0, f = 0;
    int64_t deepest = -1;
    for (size_t i = 0; i < n; i++) {
        const fp_ui_sample_t *x = fp_ui_series_at(s, age_first - i);
        d += x->done;
        f += x->failed;
        if (x->depth > deepest)
            deepest = x->depth;
    }
    cJSON_AddItemToArray(done, cJSON_CreateNumber(d));
    cJSON_AddItemToArray(failed, cJSON_CreateNumber(f));
    cJSON_AddItemToArray(depth, deepest >= 0 ? cJSON_CreateNumber((double)deepest)
                                             : cJSON_CreateNull());
}

cJSON *fp_ui_series_json(const fp_ui_series_t *s, size_t step)
{
    if (step == 0)
        step = 1;
    cJSON *o = cJSON_CreateObject();
    cJSON *done = cJSON_AddArrayToObject(o, "done");
    cJSON *failed = cJSON_AddArrayToObject(o, "failed");
    cJSON *depth = cJSON_AddArrayToObject(o, "depth");
    if (o == NULL || done == NULL || failed == NULL || depth == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_AddNumberToObject(o, "step", (double)step);
    cJSON_AddNumberToObject(o, "end", (double)s->last_sec);
    /* Buckets end at the newest sample, so only the oldest may be short. */
    size_t buckets = (s->count + step - 1) / step;
    for (size_t b = buckets; b > 0; b--) {
        size_t first = b * step - 1 < s->count - 1 ? b * step - 1 : s->count - 1;
        add_bucket(s, first, first - (b - 1) * step + 1, done, failed, depth);
    }
    return o;
}
