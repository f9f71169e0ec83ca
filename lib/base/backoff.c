/* backoff.c: the exponential back-off curve (see backoff.h). */
#include "base/backoff.h"

int64_t fp_backoff_ms(int64_t failures, int64_t first_ms, int64_t max_ms, bool jitter,
                      uint64_t random)
{
    if (failures <= 0)
        return 0;
    if (max_ms < 0)
        max_ms = 0;
    if (first_ms < 0)
        first_ms = 0;
    if (first_ms > max_ms)
        first_ms = max_ms;
    int64_t delay = first_ms;
    /* Doubling stops at the cap (or at 0, which never grows), so it never
     * overflows and never loops long for a huge count. */
    for (int64_t i = 1; i < failures && delay > 0 && delay < max_ms; i++)
        delay = delay > max_ms / 2 ? max_ms : delay * 2;
    if (jitter && delay > 0)
        delay = (int64_t)(random % ((uint64_t)delay + 1));
    return delay;
}
