/* metrics_internal.h: INTERNAL to lib/http/metrics*.c: the registry's
 * layout, shared by its counting side (metrics.c) and its Prometheus text
 * rendering (metrics_render.c). */
#ifndef FORKPOOL_METRICS_INTERNAL_H
#define FORKPOOL_METRICS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/metrics.h"

/* An interned string: allocated once, never moved, freed with the registry. */
typedef struct str_s {
    uint64_t hash;
    size_t len;
    char s[];
} str_t;

typedef struct set_s {
    const str_t *queue, *type;
    uint64_t hash; /* of (queue, type), for probing */
    uint64_t outcomes[FP_OUTCOME_COUNT];
    fp_hist_t run;
} set_t;

typedef struct queue_gauge_s {
    char *name;
    bool known;
    fp_metrics_queue_t v;
    fp_hist_t wait; /* a counter: kept when a reload drops the queue */
} queue_gauge_t;

struct fp_metrics_s {
    size_t max_sets;  /* the bound before folding into "other" */
    size_t cap_sets;  /* max_sets + OVERFLOW_SETS + 1 (the catch-all) */
    set_t *sets;      /* in the order first seen */
    size_t nsets;
    uint32_t *slots;  /* set index + 1, 0 = empty; power-of-two size */
    size_t slot_mask;
    str_t **strs;     /* intern table; power-of-two size */
    size_t str_mask;
    size_t nstrs;
    const str_t *other;
    uint64_t restarts[FP_RESTART_COUNT];
    uint64_t scale[2][FP_SCALE_REASONS]; /* [down, up][reason] */
    fp_metrics_gauges_t gauges;
    queue_gauge_t queues[FP_METRICS_MAX_QUEUES];
    size_t nqueues;
    int64_t redis_offset_ms; /* Redis' clock minus the daemon's */
};

#endif
