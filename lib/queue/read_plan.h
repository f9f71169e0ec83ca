/* read_plan.h: which read the queue sends next, and how many entries it
 * asks for: the read planner. The I/O glue (pump.c) asks it for one step at
 * a time and reports each read's outcome back; it keeps no other state and
 * does no I/O.
 *
 * Strict order (queues.order = "strict"): this consumer's own pending
 * entries first (history), then a due take-over sweep, then a non-blocking
 * sweep queue by queue (the first with COUNT room, the next with what is
 * left), and a blocking read across the queues only after a whole sweep
 * found every queue empty. With room 0 only a due take-over runs.
 *
 * Weighted order (queues.order = "weighted") replaces the sweep: the room is
 * shared among the queues not found empty by smooth weighted round-robin, as
 * nginx's upstream balancer does it: on each pick every eligible queue's
 * current value grows by its weight, the largest current wins and gives back
 * the sum of the eligible weights. Over any run of picks each queue gets its
 * share to within one pick, picks of a heavy queue are spread out rather
 * than bunched, and every eligible queue with a weight of at least 1 is
 * picked within sum(weights) picks: no queue starves. A queue whose read
 * comes back short is left out of plans until some read comes back full (a
 * backlog); when every queue is left out, a blocking read across all of
 * them, after which all are planned again. */
#ifndef FORKPOOL_READ_PLAN_H
#define FORKPOOL_READ_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FP_READ_PLAN_QUEUES_MAX 64 /* queues one daemon consumes at most */

typedef enum fp_read_step_kind_e {
    FP_READ_NONE,    /* nothing to read now */
    FP_READ_HISTORY, /* this consumer's pending entries of `queue` */
    FP_READ_CLAIM,   /* the due take-over sweep's next call */
    FP_READ_SWEEP,   /* non-blocking read of `queue`, COUNT count */
    FP_READ_BLOCK,   /* blocking read of queues 0..nstreams-1, COUNT count each */
} fp_read_step_kind_t;

typedef struct fp_read_step_s {
    fp_read_step_kind_t kind;
    size_t queue;
    size_t count;
    size_t nstreams;
} fp_read_step_t;

/* The planner's state between reads; fp_read_plan_init sets it up. */
typedef struct fp_read_plan_s {
    size_t n;
    bool weighted;
    int64_t weights[FP_READ_PLAN_QUEUES_MAX]; /* the caller may set them after init */
    int64_t current[FP_READ_PLAN_QUEUES_MAX]; /* round-robin state */
    size_t counts[FP_READ_PLAN_QUEUES_MAX];   /* reads of the current plan still to send */
    bool eligible[FP_READ_PLAN_QUEUES_MAX];   /* false once a read came back short */
    size_t sweep_index;                       /* strict: next queue of the sweep; n: over */
    bool sweep_got_any;
} fp_read_plan_t;

/* n queues (1..FP_READ_PLAN_QUEUES_MAX), every weight 1, all eligible. */
void fp_read_plan_init(fp_read_plan_t *p, size_t n, bool weighted);

/* After (re)connecting: the strict sweep starts again from the first queue. */
void fp_read_plan_restart(fp_read_plan_t *p);

/* The next read for `room` entries. history: the first queue whose own
 * pending entries are still to re-read, -1 when none; claim_due: a take-over
 * sweep is due. A weighted step is taken off the plan when returned. */
fp_read_step_t fp_read_plan_next(fp_read_plan_t *p, size_t room, long history, bool claim_due);

/* A read of new entries (FP_READ_SWEEP of `queue` asking `asked`, or
 * FP_READ_BLOCK) came back with `got` entries. */
void fp_read_plan_done(fp_read_plan_t *p, fp_read_step_kind_t kind, size_t queue, size_t asked,
                       size_t got);

/* One pick among the queues with eligible[i] (NULL: all) and weight >= 1.
 * Ties go to the lowest index. Returns the index, or -1 when none is
 * eligible (current is then unchanged). */
long fp_wrr_pick(const int64_t *weights, int64_t *current, const bool *eligible, size_t n);

/* room picks in a row: counts[i] (n of them, overwritten) is how many went
 * to queue i. Returns the number of picks made (room, or 0 when no queue is
 * eligible). */
size_t fp_wrr_plan(const int64_t *weights, int64_t *current, const bool *eligible, size_t n,
                   size_t room, size_t *counts);

#endif
