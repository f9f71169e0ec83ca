/* flow.h: how fast jobs leave (completions per second) and how long a
 * refill takes (the Redis pull round trip, measured at the pump), as moving
 * estimates: the inputs of the hold decision (steer.h). Pure: the caller
 * passes the clock in. */
#ifndef FORKPOOL_FLOW_H
#define FORKPOOL_FLOW_H

#include <stddef.h>
#include <stdint.h>

#define FP_FLOW_WINDOW_US 20000 /* completions are counted over windows this long */
/* After this long without a completion the run times no longer speak for
 * the next jobs (fp_flow_plan_rate). */
#define FP_FLOW_QUIET_US 200000

typedef struct fp_flow_s {
    double rate;            /* completions per second, EWMA over windows */
    int64_t window_start_us;
    uint64_t window_done;   /* completions in the current window */
    double redis_rtt_us;    /* EWMA of the pull round trip; 0 until measured */
    double run_us;          /* EWMA of every job's run time, all types; 0 until measured */
    int64_t last_done_us;   /* the last completion; 0 before the first */
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

/* One job's run time (any type), µs. */
void fp_flow_run(fp_flow_t *f, int64_t run_us);

/* What one job slot can finish per second: 1 / the mean run time, or
 * 1 / how long its running job has run (elapsed_us; 0 for a free slot) once
 * that is longer. So the first long job after a flood of tiny ones cuts its
 * slot's share within a fraction of its run, long before the mean (ten
 * jobs) has moved: a deep hold of long jobs, which other daemons could
 * have run, is not kept. 0 before any run was measured. */
double fp_flow_slot_rate(const fp_flow_t *f, int64_t elapsed_us);

/* The rate the hold plans for: the larger of the measured completion rate
 * and `possible`, the sum of fp_flow_slot_rate over the job slots. The
 * measured rate alone is bounded by the hold it feeds (a daemon that holds
 * nothing waits a round trip per job, so it measures a low rate and keeps
 * holding little): after an idle spell, or on a burst arriving at a quiet
 * daemon, it would climb back only a few windows at a time, and the jobs
 * of that climb wait in Redis. The run times say at once what the children
 * could do. Only while jobs keep finishing: after FP_FLOW_QUIET_US without
 * a completion the next jobs may be of another kind (long ones after a
 * flood of tiny ones), so the plan starts again from the measured rate
 * alone, and the first answers of the new jobs bring `possible` back. */
double fp_flow_plan_rate(fp_flow_t *f, int64_t now_us, double possible);

#endif
