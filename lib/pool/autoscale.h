/* autoscale.h: when the pool grows or shrinks between pool.children_min and
 * pool.children_max, as a pure function of what the supervisor observed
 * (children busy, the oldest ready job's age, how long children sat idle,
 * memory figures) and a little state it keeps between ticks (the spawn
 * rate). php-fpm's dynamic mode is the model: growth doubles each interval
 * while the backlog lasts; shrinking is one idle child at a time. No clock
 * reads, no I/O: the supervisor's timer (supervisor/autoscale.c) samples,
 * asks, and carries the answer out through the normal start and stop paths.
 * Also the parser of pool.children = "MIN..MAX". */
#ifndef FORKPOOL_AUTOSCALE_H
#define FORKPOOL_AUTOSCALE_H

#include <stddef.h>
#include <stdint.h>

/* The most children a pool may have, as pool.children's bound. */
#define FP_SCALE_CHILDREN_MAX 1024

typedef enum fp_scale_dir_e { FP_SCALE_NONE, FP_SCALE_UP, FP_SCALE_DOWN } fp_scale_dir_t;

typedef enum fp_scale_reason_e {
    FP_SCALE_STEADY,       /* nothing to do */
    FP_SCALE_BACKLOG,      /* up: every child busy, the oldest ready job waited scale_up_after */
    FP_SCALE_IDLE,         /* down: a child sat idle for idle_timeout */
    FP_SCALE_MIN,          /* up: the target fell below children_min (TTIN, a reload) */
    FP_SCALE_MAX,          /* down: the target is above children_max (TTOU, a reload) */
    FP_SCALE_MEMORY_TOTAL, /* growth held: children's RSS passed max_memory_total */
    FP_SCALE_HOST_MEMORY,  /* growth held: MemAvailable fell under min_host_available */
    FP_SCALE_REASONS
} fp_scale_reason_t;

/* One tick's observations. Sizes are children; ages and times in ms. */
typedef struct fp_scale_input_s {
    size_t target;          /* children wanted now */
    size_t busy;            /* in service with a job */
    size_t starting;        /* forked, not ready yet: they count as busy (a backlog keeps them so) */
    size_t live;            /* starting + idle + busy */
    size_t stopping;        /* stops sent, not yet exited */
    size_t min, max;        /* the bounds, 1 <= min <= max */
    int64_t oldest_ready_ms; /* the oldest ready job's age over the served queues; < 0: unknown */
    int64_t longest_idle_ms; /* the longest a child in service has had no job; < 0: none idle */
    int64_t rss_total_bytes; /* the children's RSS as they last reported it */
    int64_t host_available_bytes; /* MemAvailable; < 0: unknown */
    int64_t max_memory_total;     /* 0: no guard */
    int64_t min_host_available;   /* 0: no guard */
    int64_t scale_up_after_ms;
    int64_t idle_timeout_ms;
    int64_t now_ms;
} fp_scale_input_t;

/* What the decision keeps between ticks; zero it to start. */
typedef struct fp_scale_state_s {
    size_t rate;         /* children the next growth step adds; 0 = 1 */
    int64_t last_up_ms;  /* when growth last stepped; 0 = never */
} fp_scale_state_t;

typedef struct fp_scale_decision_s {
    size_t target;
    fp_scale_dir_t dir;        /* NONE when target is unchanged */
    fp_scale_reason_t reason;  /* why; STEADY, or a guard that held growth back */
} fp_scale_decision_t;

/* The target for this tick, and why. Bounds first (a target outside
 * [min, max] goes to the nearest bound). Up: when no child is idle and
 * the oldest ready job is older than scale_up_after, unless a memory guard
 * holds (then dir NONE and the guard's reason); at most one step per
 * scale_up_after, each step adding `rate` (1, 2, 4, ...; capped by max) while
 * the backlog lasts; the rate falls back to 1 when it ends. Down: with no
 * backlog and no stop in flight, one child less when one has been idle for
 * idle_timeout, never below min. */
fp_scale_decision_t fp_scale_decide(const fp_scale_input_t *in, fp_scale_state_t *st);

/* The label value of a reason ("backlog", "idle", ...); NULL out of range. */
const char *fp_scale_reason_name(fp_scale_reason_t r);

/* pool.children as "MIN..MAX" (digits, optional blanks around them), each
 * in 1..limit and MIN <= MAX: 0, or -EINVAL with a phrase in why that
 * follows the key's name. */
int fp_scale_parse_range(const char *text, int64_t limit, int64_t *min, int64_t *max, char *why,
                         size_t size);

#endif
