/* steer.h: the two adaptive decisions of the pool (docs/steering.md), as
 * functions of numbers: how many jobs to hold beyond what the children run
 * at once, and whether a job may wait in a busy child's socket. No clock
 * reads, no state: the supervisor passes the estimates in (estimate.h,
 * flow.h). Used when pool.prefetch / pool.pipeline are left unset. */
#ifndef FORKPOOL_STEER_H
#define FORKPOOL_STEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Held jobs cover this many refill times: the rate and the round trip are
 * moving averages, and a refill that takes twice its average, or a burst of
 * completions at twice the average rate, must still find a job waiting. */
#define FP_STEER_SAFETY 2.0

/* One job is kept in hand, whatever the rounding says, while the children
 * would otherwise wait for refills at least this share of their time
 * (refill / mean run time): jobs of up to about 100 ms. A child then never
 * waits a Redis round trip between such jobs (1 % of a 50 ms job), and the
 * one job held waits at most one such job's run; longer jobs hold nothing. */
#define FP_STEER_IDLE_SHARE 0.005

/* The supervisor's side of a child's socket: a write, the child's read, its
 * answer and the loop turn that reads it. Not measured apart from the Redis
 * round trip (which already includes a loop turn): a floor for it. */
#define FP_STEER_CHANNEL_RTT_US 100

/* What the hold must cover, in µs of completions. */
typedef struct fp_steer_flow_s {
    double rate;           /* completions per second */
    double redis_rtt_us;   /* one pull round trip; <= 0: not measured yet */
    double channel_rtt_us; /* one channel round trip */
    double ahead_us;       /* work the send-ahead may queue in each child (its max wait); 0 when off */
} fp_steer_flow_t;

/* Jobs to hold beyond `capacity` (what the children run at once): enough for
 * SAFETY × (one Redis pull round trip + one channel round trip) at the
 * completion rate — the jobs that leave while a refill is on its way — plus
 * rate × ahead_us, the jobs the children's sockets may take ahead (each child
 * queues at most ahead_us of work: at the rate, all of them together about
 * rate × ahead_us jobs). Rounded to the nearest job; never more than
 * max_held − capacity, never below 0. */
size_t fp_steer_hold(const fp_steer_flow_t *flow, size_t capacity, size_t max_held);

/* The payload size the hold plans with: the size of a pulled job's payload
 * when it is larger than the estimate (one large job raises it at once),
 * else the estimate moved 1/64 of the way down towards it (hundreds of small
 * jobs bring it back). est 0: nothing seen yet. */
double fp_steer_payload_note(double est, size_t bytes);

/* pool.max_held as the byte bound allows it: at most max_held_bytes of
 * payloads held at the estimated size (payload_est), never below capacity
 * (what the children run at once), never above max_held. max_held_bytes 0
 * or no estimate yet: max_held. */
size_t fp_steer_max_held(size_t max_held, int64_t max_held_bytes, double payload_est,
                         size_t capacity);

/* What is in front of a job that would be sent to a busy child running one
 * job at a time. */
typedef struct fp_steer_front_s {
    int64_t ahead_us;      /* expected run times (means) of every job it holds, running included */
    int64_t run_expect_us; /* of those, the running job's */
    int64_t run_elapsed_us; /* how long the running job has run so far */
    size_t unsure;         /* jobs it holds whose type is unknown or long */
} fp_steer_front_t;

/* The work expected before a job sent now would start: what is left of the
 * running job (never below 0) plus the queued ones. */
int64_t fp_steer_front_us(const fp_steer_front_t *front);

/* Whether a job whose type's percentile is job_pct_us (-1: unknown) may be
 * sent behind `front`: its type is known and short (percentile ≤
 * max_wait_us), nothing in front is of an unknown or long type, the running
 * job has not yet run longer than max_wait_us (a short type's job that
 * overran is not to be trusted), and the work in front is expected to end
 * within max_wait_us. */
bool fp_steer_send_ahead(const fp_steer_front_t *front, int64_t job_pct_us, int64_t max_wait_us);

#endif
