/* aq_plan.c: the embedded queue thread's next step and weighted caps
 * (aq_plan.h); pure. */
#include "sqlq/aq_plan.h"

#include <string.h>

void fp_aqp_init(fp_aqp_t *p)
{
    memset(p, 0, sizeof *p);
}

static int64_t min_wait(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

fp_aqp_step_t fp_aqp_next(const fp_aqp_t *p, int64_t now_ms, bool can_pull)
{
    if (now_ms < p->backoff_until_ms)
        return (fp_aqp_step_t){FP_AQP_WAIT, p->backoff_until_ms - now_ms};
    if (!can_pull)
        return (fp_aqp_step_t){FP_AQP_WAIT, -1};
    if (!p->idle || p->changed)
        return (fp_aqp_step_t){FP_AQP_PULL, 0};
    int64_t to_pull = p->last_pull_ms + FP_AQP_DUE_MS - now_ms;
    if (to_pull <= 0)
        return (fp_aqp_step_t){FP_AQP_PULL, 0};
    int64_t to_check = p->last_check_ms + FP_AQP_CHECK_MS - now_ms;
    if (to_check <= 0)
        return (fp_aqp_step_t){FP_AQP_CHECK, 0};
    return (fp_aqp_step_t){FP_AQP_WAIT, min_wait(to_pull, to_check)};
}

void fp_aqp_checked(fp_aqp_t *p, int64_t now_ms, bool changed)
{
    p->last_check_ms = now_ms;
    p->changed = p->changed || changed;
}

void fp_aqp_pulled(fp_aqp_t *p, int64_t now_ms, size_t asked, size_t got)
{
    p->last_pull_ms = now_ms;
    p->last_check_ms = now_ms;
    p->idle = got < asked;
    p->changed = false;
}

void fp_aqp_failed(fp_aqp_t *p, int64_t now_ms)
{
    p->backoff_ms = p->backoff_ms == 0 ? FP_AQP_BACKOFF_MIN_MS
                                       : min_wait(p->backoff_ms * 2, FP_AQP_BACKOFF_MAX_MS);
    p->backoff_until_ms = now_ms + p->backoff_ms;
}

void fp_aqp_succeeded(fp_aqp_t *p)
{
    p->backoff_ms = 0;
    p->backoff_until_ms = 0;
}

void fp_aqp_caps_init(fp_aqp_caps_t *c, size_t n)
{
    memset(c, 0, sizeof *c);
    c->n = n < FP_READ_PLAN_QUEUES_MAX ? n : FP_READ_PLAN_QUEUES_MAX;
    for (size_t i = 0; i < c->n; i++) {
        c->weights[i] = 1;
        c->eligible[i] = true;
    }
}

static bool any_eligible(const fp_aqp_caps_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->eligible[i] && c->weights[i] >= 1)
            return true;
    return false;
}

void fp_aqp_caps_plan(fp_aqp_caps_t *c, int64_t now_ms, size_t room, size_t *caps)
{
    if (!any_eligible(c) || now_ms - c->reset_ms >= FP_AQP_DUE_MS) {
        for (size_t i = 0; i < c->n; i++)
            c->eligible[i] = true;
        c->reset_ms = now_ms;
    }
    if (fp_wrr_plan(c->weights, c->current, c->eligible, c->n, room, caps) == 0)
        memset(caps, 0, c->n * sizeof *caps);
}

bool fp_aqp_caps_done(fp_aqp_caps_t *c, const size_t *caps, const size_t *got)
{
    bool left_out = false;
    for (size_t i = 0; i < c->n; i++)
        if (caps[i] > 0 && got[i] < caps[i]) {
            c->eligible[i] = false;
            left_out = true;
        }
    return left_out && any_eligible(c);
}
