/* cluster_round.h: which cluster nodes the daemon asks for the slot map, in
 * what order, free of I/O so it is unit-tested (lib/redis/cluster.c asks).
 *
 * A round asks one node at a time and stops at the first map that parses:
 * first the node that answered last (its connection is usually still open,
 * and it answered correctly before), then the configured seeds, then every
 * other master the last map named (a seed may be down for good while the
 * cluster lives on), each address once. A node that is down or whose map is
 * stale costs one attempt: the connection that was sent to a stale owner is
 * answered MOVED or finds a replica (ROLE) and asks again after its
 * back-off. */
#ifndef FORKPOOL_CLUSTER_ROUND_H
#define FORKPOOL_CLUSTER_ROUND_H

#include <stdbool.h>
#include <stddef.h>

#include "redis/cluster_parse.h"

/* Nodes asked in one round at most: the seeds and a few masters are enough
 * to find a live node; a round over hundreds would only delay the answer
 * "no node answered". */
#define FP_CLUSTER_ROUND_MAX 32

typedef struct fp_cluster_round_s {
    fp_cluster_addr_t ask[FP_CLUSTER_ROUND_MAX];
    size_t n;   /* candidates of this round */
    size_t pos; /* ask[pos] is being asked */
    bool active;
} fp_cluster_round_t;

/* Starts a round: last (NULL or port 0 when no node answered yet), then
 * seeds[0..nseeds), then map's masters (map may be NULL), without
 * duplicates, at most FP_CLUSTER_ROUND_MAX. Returns the node to ask first,
 * or NULL when there is none (no seeds and no map). */
const fp_cluster_addr_t *fp_cluster_round_begin(fp_cluster_round_t *r,
                                                const fp_cluster_addr_t *last,
                                                const fp_cluster_addr_t *seeds, size_t nseeds,
                                                const fp_cluster_map_t *map);

/* The node being asked did not answer with a map: the next one, or NULL
 * when every candidate failed (the round ends). */
const fp_cluster_addr_t *fp_cluster_round_failed(fp_cluster_round_t *r);

/* The node being asked answered: the round ends. */
void fp_cluster_round_answered(fp_cluster_round_t *r);

/* What a connection following slot is told from map: 0 with *to, or -1 with
 * why ("no cluster master serves slot 1234 (queue emails)"; label names
 * what the slot is for and may be NULL). */
int fp_cluster_slot_target(const fp_cluster_map_t *map, uint16_t slot, const char *label,
                           fp_cluster_addr_t *to, char *why, size_t size);

#endif
