/* flow.c: completion rate and pull round trip (flow.h). The rate is
 * counted per window rather than per job: one job's gap says little when
 * answers arrive in batches of a loop turn. */
#include "pool/flow.h"

#include <math.h>
#include <string.h>

#define RATE_ALPHA 0.3 /* a new window's weight: the rate follows within ~100 ms */
#define RTT_ALPHA 0.2
#define RUN_ALPHA 0.1 /* about the last ten jobs, as a type's mean (estimate.c) */

void fp_flow_init(fp_flow_t *f, int64_t now_us)
{
    memset(f, 0, sizeof *f);
    f->window_start_us = now_us;
}

static void fold(fp_flow_t *f, int64_t now_us)
{
    int64_t span = now_us - f->window_start_us;
    if (span < FP_FLOW_WINDOW_US)
        return;
    double sample = (double)f->window_done * 1e6 / (double)span;
    /* A span of n windows weighs as n windows at its average rate: after a
     * quiet second the rate is what that second saw, not a stale burst's
     * (which would keep a deep hold of long jobs). */
    double windows = (double)(span / FP_FLOW_WINDOW_US);
    f->rate = sample + (f->rate - sample) * pow(1 - RATE_ALPHA, windows < 1000 ? windows : 1000);
    f->window_start_us = now_us;
    f->window_done = 0;
}

void fp_flow_done(fp_flow_t *f, uint64_t n, int64_t now_us)
{
    fold(f, now_us);
    f->window_done += n;
    if (n > 0)
        f->last_done_us = now_us;
}

double fp_flow_rate(fp_flow_t *f, int64_t now_us)
{
    fold(f, now_us);
    return f->rate;
}

void fp_flow_redis_rtt(fp_flow_t *f, int64_t rtt_us)
{
    if (rtt_us < 0)
        return;
    f->redis_rtt_us = f->redis_rtt_us == 0 ? (double)rtt_us
                                           : f->redis_rtt_us + RTT_ALPHA * ((double)rtt_us - f->redis_rtt_us);
}

void fp_flow_run(fp_flow_t *f, int64_t run_us)
{
    /* A run reads as at least 1 µs: a zero would make the children's
     * possible rate infinite. */
    double us = run_us < 1 ? 1 : (double)run_us;
    f->run_us = f->run_us == 0 ? us : f->run_us + RUN_ALPHA * (us - f->run_us);
}

double fp_flow_slot_rate(const fp_flow_t *f, int64_t elapsed_us)
{
    if (f->run_us <= 0)
        return 0;
    double us = (double)elapsed_us > f->run_us ? (double)elapsed_us : f->run_us;
    return 1e6 / us;
}

double fp_flow_plan_rate(fp_flow_t *f, int64_t now_us, double possible)
{
    double measured = fp_flow_rate(f, now_us);
    if (f->last_done_us == 0 || now_us - f->last_done_us > FP_FLOW_QUIET_US)
        return measured;
    return possible > measured ? possible : measured;
}
