/* read_plan.c: smooth weighted round-robin (see read_plan.h). */
#include "queue/read_plan.h"

#include <string.h>

long fp_wrr_pick(const int64_t *weights, int64_t *current, const bool *eligible, size_t n)
{
    long best = -1;
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if ((eligible != NULL && !eligible[i]) || weights[i] < 1)
            continue;
        current[i] += weights[i];
        total += weights[i];
        if (best < 0 || current[i] > current[best])
            best = (long)i;
    }
    if (best >= 0)
        current[best] -= total;
    return best;
}

size_t fp_wrr_plan(const int64_t *weights, int64_t *current, const bool *eligible, size_t n,
                   size_t room, size_t *counts)
{
    memset(counts, 0, n * sizeof *counts);
    size_t made = 0;
    for (; made < room; made++) {
        long i = fp_wrr_pick(weights, current, eligible, n);
        if (i < 0)
            break;
        counts[i]++;
    }
    return made;
}
