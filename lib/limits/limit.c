/* limit.c: admitting a job of a limited type, and how long a refused one
 * waits (limit.h). Pure. */
#include "limits/limit.h"

const char *fp_limit_kind_name(fp_limit_kind_t kind)
{
    static const char *const names[FP_LIMIT_KINDS] = {"concurrency", "local", "rate"};
    return (unsigned)kind < FP_LIMIT_KINDS ? names[kind] : NULL;
}

bool fp_limit_needs_shared(const fp_type_limit_t *lim)
{
    return lim != NULL && (lim->concurrency > 0 || lim->rate.count > 0);
}

fp_limit_verdict_t fp_limit_admit(const fp_type_limit_t *lim, size_t local_admitted,
                                  fp_limit_kind_t *why)
{
    if (lim == NULL)
        return FP_LIMIT_DISPATCH;
    if (lim->local_concurrency > 0 && local_admitted >= (uint64_t)lim->local_concurrency) {
        *why = FP_LIMIT_LOCAL;
        return FP_LIMIT_DELAY;
    }
    return fp_limit_needs_shared(lim) ? FP_LIMIT_ASK : FP_LIMIT_DISPATCH;
}

int64_t fp_limit_delay_ms(fp_limit_kind_t why, int64_t retry_after_ms, uint64_t random)
{
    if (why == FP_LIMIT_RATE) {
        int64_t base = retry_after_ms > 0 ? retry_after_ms : 1;
        return base + (int64_t)(random % (FP_LIMIT_SPREAD_MS + 1));
    }
    return FP_LIMIT_WAIT_MS / 2 + (int64_t)(random % (FP_LIMIT_WAIT_MS + 1));
}

int64_t fp_limit_retry_ms(int64_t retry_us)
{
    return retry_us > 0 ? (retry_us + 999) / 1000 : 0;
}
