/* read_plan.h: how a pull is shared among queues with queues.order =
 * "weighted". Smooth weighted round-robin, as nginx's upstream balancer does
 * it: on each pick every eligible queue's current value grows by its weight,
 * the largest current wins and gives back the sum of the eligible weights.
 * Over any run of picks each queue gets its share to within one pick, picks
 * of a heavy queue are spread out rather than bunched, and every eligible
 * queue with a weight of at least 1 is picked within sum(weights) picks: no
 * queue starves. Pure: the caller keeps the state (current) between pulls. */
#ifndef FORKPOOL_READ_PLAN_H
#define FORKPOOL_READ_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
