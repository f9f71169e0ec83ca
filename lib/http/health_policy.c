/* health_policy.c: what the health endpoint decides about its connections,
 * apart from the sockets: how long one may stay in its phase, and which one
 * makes room at the connection cap (declared in http/health.h). Pure, so
 * test_health checks every phase without a client. */
#include <stdbool.h>
#include <stdint.h>

#include "http/health.h"

uint64_t fp_health_timeout_ms(const fp_health_limits_t *lim, const fp_health_conn_view_t *v,
                              uint64_t now_ms)
{
    uint64_t budget;
    if (v->phase == FP_HEALTH_HEADERS)
        budget = lim->header_ms;
    else if (v->phase == FP_HEALTH_BODY)
        budget = lim->header_ms + lim->idle_ms;
    else
        return lim->idle_ms;
    uint64_t end = v->since_ms + budget;
    uint64_t left = end > now_ms ? end - now_ms : 0;
    return left < lim->idle_ms ? left : lim->idle_ms;
}

/* Lower goes first; -1 never. */
static int evict_rank(fp_health_phase_t phase)
{
    switch (phase) {
    case FP_HEALTH_LINGER:
        return 0;
    case FP_HEALTH_IDLE:
        return 1;
    case FP_HEALTH_HEADERS:
        return 2;
    case FP_HEALTH_BODY:
        return 3;
    case FP_HEALTH_WRITING:
        return 4;
    default:
        return -1;
    }
}

bool fp_health_evicts_before(const fp_health_conn_view_t *cand, const fp_health_conn_view_t *best)
{
    int rc = evict_rank(cand->phase);
    if (rc < 0)
        return false;
    if (best == NULL)
        return true;
    int rb = evict_rank(best->phase);
    if (rc != rb)
        return rb < 0 || rc < rb;
    return cand->since_ms < best->since_ms;
}
