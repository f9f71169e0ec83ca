/* qmux_map.h: which fp_queue_t (a "part") serves which configured queue, and
 * the sums the supervisor sees over the parts, free of I/O so they are
 * unit-tested (qmux.h does the I/O). With one Redis there is one part
 * holding every queue, indexes unchanged; over a Redis Cluster the queues
 * are grouped by their keys' slot (one part per slot, so in practice per
 * queue), since one part's commands must stay in one slot. */
#ifndef FORKPOOL_QMUX_MAP_H
#define FORKPOOL_QMUX_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "queue/queue.h"

typedef struct fp_qmux_map_s {
    size_t n;            /* configured queues */
    size_t nparts;
    uint32_t *part_of;   /* [n]: the part serving queue g */
    uint32_t *local_of;  /* [n]: its index within that part */
    size_t *part_n;      /* [nparts]: queues in part p */
    uint32_t **globals;  /* [nparts][part_n[p]]: part p's queue l is globals[p][l] */
} fp_qmux_map_t;

/* slot_of: n slots, one per queue (its keys' Cluster slot), or NULL for
 * one part with every queue. Parts come in the order of their first queue,
 * queues within a part in configured order (so priority order holds within
 * a part). 0, or -ENOMEM. */
int fp_qmux_map_build(fp_qmux_map_t *m, size_t n, const uint16_t *slot_of);
void fp_qmux_map_free(fp_qmux_map_t *m);

/* Adds a part's recovery counters to *sum (counters add up; the read
 * round trip is the slowest part's, its samples add up). */
void fp_qmux_stats_add(fp_queue_stats_t *sum, const fp_queue_stats_t *part);

#endif
