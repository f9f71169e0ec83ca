/* flow.h: how fast jobs leave (completions per second) and how long a
 * refill takes (the Redis pull round trip, measured at the pump), as moving
 * estimates: the inputs of the hold decision (steer.h). Pure: the caller
 * passes the clock in. */
#ifndef FORKPOOL_FLOW_H
#define FORKPOOL_FLOW_H

#include <stdint.h>

#define FP_FLOW_WINDOW_US 20000 /* completions are counted over windows this long */

typedef struct fp_flow_s {
    double rate;            /* completions per second, EWMA over windows */
    int64_t window_start_us;
    uint64_t window_done;   /* completions in the current window */
    double redis_rtt_us;    /* EWMA of the pull round trip; 0 until measured */
} fp_flow_t;

void fp_flow_init(fp_flow_t *f, int64_t now_us);

/* n jobs finished at now_us. */
void fp_flow_done(fp_flow_t *f, uint64_t n, int64_t now_us);

/* The completion rate at now_us: the windows that have ended are folded in
 * first (as many steps as windows passed), so the rate falls when
 * completions stop. */
double fp_flow_rate(fp_flow_t *f, int64_t now_us);

/* One pull round trip (send to reply), µs. */
void fp_flow_redis_rtt(fp_flow_t *f, int64_t rtt_us);

#endif
