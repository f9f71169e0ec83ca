/* steer.c: the hold and send-ahead decisions (steer.h). */
#include "pool/steer.h"

#include <math.h>

static double positive(double v)
{
    return v > 0 ? v : 0;
}

size_t fp_steer_hold(const fp_steer_flow_t *flow, size_t capacity, size_t max_held)
{
    double rate = flow->rate;
    if (capacity >= max_held || !(rate > 0))
        return 0;
    double refill_us = positive(flow->redis_rtt_us) + positive(flow->channel_rtt_us);
    /* Rounded to the nearest job, not up: the margin is already in SAFETY,
     * and a trickle of long jobs (a fraction of a job per refill) must hold
     * nothing that another daemon could run. */
    double want = floor(rate * (FP_STEER_SAFETY * refill_us + positive(flow->ahead_us)) / 1e6 + 0.5);
    if (want < 1 && capacity > 0 && rate * refill_us / 1e6 / (double)capacity >= FP_STEER_IDLE_SHARE)
        want = 1;
    size_t most = max_held - capacity;
    return want >= (double)most ? most : (size_t)want;
}

double fp_steer_payload_note(double est, size_t bytes)
{
    double b = (double)bytes;
    return b >= est ? b : est - (est - b) / 64;
}

size_t fp_steer_max_held(size_t max_held, int64_t max_held_bytes, double payload_est,
                         size_t capacity)
{
    if (max_held_bytes <= 0 || !(payload_est >= 1))
        return max_held;
    double fit = floor((double)max_held_bytes / payload_est);
    size_t most = fit >= (double)max_held ? max_held : (size_t)fit;
    return most > capacity ? most : capacity;
}

int64_t fp_steer_front_us(const fp_steer_front_t *front)
{
    int64_t left = front->run_expect_us - front->run_elapsed_us;
    int64_t queued = front->ahead_us - front->run_expect_us;
    return (left > 0 ? left : 0) + (queued > 0 ? queued : 0);
}

bool fp_steer_send_ahead(const fp_steer_front_t *front, int64_t job_pct_us, int64_t max_wait_us)
{
    if (job_pct_us < 0 || job_pct_us > max_wait_us || front->unsure > 0 ||
        front->run_elapsed_us > max_wait_us)
        return false;
    return fp_steer_front_us(front) <= max_wait_us;
}
