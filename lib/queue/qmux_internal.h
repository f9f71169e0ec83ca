/* qmux_internal.h: INTERNAL to lib/queue/qmux*.c — the state of one
 * fp_qmux_t (qmux.h), shared by qmux.c (lifecycle, the parts' events) and
 * qmux_calls.c (the supervisor's calls routed to a part). */
#ifndef FORKPOOL_QMUX_INTERNAL_H
#define FORKPOOL_QMUX_INTERNAL_H

#include "queue/qmux.h"
#include "queue/qmux_map.h"

typedef struct part_s part_t;

/* One (cb, ctx) that asked for samples, seen from one part. */
typedef struct sampler_s {
    part_t *part;
    fp_queue_sample_cb cb;
    void *ctx;
} sampler_t;

struct part_s {
    fp_qmux_t *m;
    uint32_t index;
    fp_queue_t *q;
    bool ready;
    const char **names; /* the part's queue names, borrowed from the caller */
    sampler_t samplers[FP_QMUX_SAMPLERS];
};

struct fp_qmux_s {
    const fp_config_t *cfg;
    /* queue.backend sqlite: the embedded queue (lib/sqlq/aq.h) serves every
     * call instead of the parts (there are none). */
    struct fp_aq_s *aq;
    struct fp_qside_s *side; /* over a Cluster: keys outside the queues' slots */
    fp_queue_events_t events;
    void *ctx;
    fp_qmux_map_t map;
    part_t *parts;
    size_t room;  /* what the supervisor gave, less what arrived since (several parts) */
    bool ready;   /* last value reported through on_ready */
    int open;     /* parts still closing */
    void (*close_cb)(void *ctx);
    void *close_ctx;
};

/* The part serving the supervisor's queue index, and its index there; NULL
 * for an index out of range. */
part_t *fp_qmux_part_of(const fp_qmux_t *m, uint32_t queue, uint32_t *local);
/* The supervisor's index of a part's queue. */
uint32_t fp_qmux_global_of(const part_t *p, uint32_t local);

#endif
