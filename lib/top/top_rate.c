/* top_rate.c: a queue's in and out rates from two successive samples of
 * its stream's counters. A rate is only shown when both readings are
 * trustworthy: a counter that went down means the stream was made again,
 * and a difference over it would be nonsense. */
#include "top/top.h"

#include <string.h>

bool fp_top_rate(long long before, int64_t before_ms, long long after, int64_t after_ms,
                 double *out)
{
    if (before < 0 || after < 0 || after < before || after_ms <= before_ms)
        return false;
    *out = (double)(after - before) * 1000.0 / (double)(after_ms - before_ms);
    return true;
}

static const fp_top_queue_t *find_queue(const fp_top_sample_t *s, const char *name)
{
    for (size_t i = 0; i < s->nqueues; i++)
        if (strcmp(s->queues[i].name, name) == 0)
            return &s->queues[i];
    return NULL;
}

void fp_top_apply_rates(const fp_top_sample_t *prev, fp_top_sample_t *cur)
{
    for (size_t i = 0; i < cur->nqueues; i++) {
        fp_top_queue_t *q = &cur->queues[i];
        const fp_top_queue_t *p = prev != NULL ? find_queue(prev, q->name) : NULL;
        q->in_rate = q->out_rate = -1;
        if (p == NULL)
            continue;
        if (!fp_top_rate(p->added, prev->taken_ms, q->added, cur->taken_ms, &q->in_rate))
            q->in_rate = -1;
        if (!fp_top_rate(p->taken, prev->taken_ms, q->taken, cur->taken_ms, &q->out_rate))
            q->out_rate = -1;
    }
}
