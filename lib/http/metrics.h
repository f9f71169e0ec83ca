/* metrics.h: the numbers behind GET /metrics, kept by the supervisor and
 * rendered as Prometheus text exposition format 0.0.4. Pure: no I/O, no
 * clock, no locks; only the supervisor's loop thread touches a registry.
 *
 * Counters (jobs by queue/type/outcome, the job-duration histogram, child
 * restarts by reason) are fed as events happen. Gauges (children by state,
 * per-queue depth, Redis state, saturation, pull age, ledger backlog) are
 * set by the caller just before rendering, from the state it already holds.
 *
 * A producer chooses job types, so the (queue, type) label sets are bounded:
 * after `max_label_sets` distinct ones, new types count under type="other"
 * (and, past a small reserve, queue="other" too), so random types cannot
 * grow memory or the scrape without limit. Types that are empty, longer than
 * FP_METRICS_LABEL_MAX bytes or not valid UTF-8 are "other" from the start.
 * That bound is the backstop: the supervisor passes FP_METRICS_OTHER itself
 * for types no handler is known for (fp_handler_label_known), so junk types
 * never take a label set at all. */
#ifndef FORKPOOL_METRICS_H
#define FORKPOOL_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dispatch/proto.h"
#include "http/metrics_hist.h"
#include "pool/autoscale.h"

typedef struct fp_metrics_s fp_metrics_t;

/* Distinct (queue, type) label sets kept by default. */
#define FP_METRICS_DEFAULT_LABEL_SETS 1000
/* Longest queue or type label value kept as it is, in bytes. */
#define FP_METRICS_LABEL_MAX 128
/* Most queues with depth gauges (queues come from the configuration). */
#define FP_METRICS_MAX_QUEUES 256
/* The catch-all label value. */
#define FP_METRICS_OTHER "other"

typedef enum fp_metrics_outcome_e {
    FP_OUTCOME_OK,
    FP_OUTCOME_FAILED,
    FP_OUTCOME_RETRIED,
    FP_OUTCOME_DEAD,
    FP_OUTCOME_TIMEOUT,
    FP_OUTCOME_CRASHED,
    FP_OUTCOME_CANCELLED, /* `forkpool cancel` stopped it: dead, never retried */
    FP_OUTCOME_COUNT
} fp_metrics_outcome_t;

typedef enum fp_metrics_restart_e {
    FP_RESTART_CRASH,
    FP_RESTART_TIMEOUT,
    FP_RESTART_MAX_JOBS,
    FP_RESTART_MAX_MEMORY,
    FP_RESTART_INIT_FAILED,
    FP_RESTART_RELOAD,
    FP_RESTART_COUNT
} fp_metrics_restart_t;

typedef enum fp_metrics_child_e {
    FP_MCHILD_STARTING,
    FP_MCHILD_IDLE,
    FP_MCHILD_BUSY,
    FP_MCHILD_STOPPING,
    FP_MCHILD_COUNT
} fp_metrics_child_t;


/* The label value of each enum ("ok", "max_memory", "busy"...); NULL when
 * out of range. */
const char *fp_metrics_outcome_name(fp_metrics_outcome_t o);
const char *fp_metrics_restart_name(fp_metrics_restart_t r);
const char *fp_metrics_child_name(fp_metrics_child_t s);

/* The enum for a label value; -1 when it names none. */
int fp_metrics_outcome_parse(const char *name);

/* Daemon-wide gauges, copied in by fp_metrics_set_gauges. */
typedef struct fp_metrics_gauges_s {
    int64_t children[FP_MCHILD_COUNT];
    bool ready;                   /* /readyz would answer 200 */
    int64_t children_target;      /* children the pool keeps (pool.children now) */
    uint64_t redis_commands;      /* commands Redis answered or lost, queue connections */
    uint64_t redis_errors;        /* of those: error replies and commands lost unanswered */
    bool redis_connected;
    int64_t jobs_held;
    int64_t jobs_held_limit;
    uint64_t jobs_sent_ahead;     /* jobs sent to a busy child that runs one at a time */
    uint64_t pulls_total;         /* XREADGROUP calls so far (a counter the caller keeps) */
    uint64_t outcomes_stale;      /* outcomes not applied: entry no longer pending here */
    uint64_t renewals_lost;       /* held entries renewal found deleted or held elsewhere */
    uint64_t reload_failures_total; /* reloads undone: their children could not start */
    double last_pull_age_seconds; /* < 0: no pull yet (family left out) */
    int64_t ledger_backlog;       /* < 0: no ledger (family left out) */
    bool ledger_failing;          /* with a ledger: its writes fail right now */
    uint64_t ledger_rows_dropped; /* with a ledger: rows dropped (ledger.on_error = "skip") */
    int64_t sqlite_file_bytes;    /* the embedded queue's file and -wal; 0: Redis (left out) */
} fp_metrics_gauges_t;

/* One queue's depth, copied in by fp_metrics_set_queue. A negative value
 * means "not known" (Redis unreachable, never measured): that sample is left
 * out rather than reported as 0. */
typedef struct fp_metrics_queue_s {
    int64_t ready, pending, delayed, dead;
    double oldest_age_seconds;
} fp_metrics_queue_t;

/* max_label_sets 0 means FP_METRICS_DEFAULT_LABEL_SETS. All memory for the
 * label-set table is taken here. 0 or -ENOMEM. */
int fp_metrics_new(size_t max_label_sets, fp_metrics_t **out);
void fp_metrics_free(fp_metrics_t *m); /* NULL is a no-op */

/* One job outcome. seconds is how long it ran; it is observed in the
 * histogram when >= 0 (pass a negative value for jobs that never ran, such
 * as bad payloads sent straight to dead). queue and type NULL count as
 * "other". Allocates only the first time a label set is seen (its interned
 * strings), never afterwards. 0, -EINVAL (outcome out of range) or -ENOMEM
 * (then the event is counted under "other"/"other", which never fails). */
int fp_metrics_job_done(fp_metrics_t *m, const char *queue, const char *type,
                        fp_metrics_outcome_t outcome, double seconds);

/* A job started in a child: observes its enqueue->start wait in queue's
 * histogram (forkpool_job_wait_seconds). entry_id's ms part is when Redis
 * added it (the enqueue, or the due time of a delayed or retried job, which
 * the mover adds then); local_unix_ms is the daemon's clock at the start,
 * moved onto Redis' clock with the offset fp_metrics_set_redis_clock last
 * measured. queue must be one of the configured queues (the label set is
 * theirs, bounded by FP_METRICS_MAX_QUEUES). 0, -EINVAL (entry_id is not a
 * stream entry id: nothing observed), -ENOMEM or -ENOSPC. */
int fp_metrics_job_started(fp_metrics_t *m, const char *queue, const char *entry_id,
                           int64_t local_unix_ms);

/* Redis' clock (TIME, in ms) read at local_unix_ms by the daemon's: the
 * offset later waits are corrected by, so a daemon host whose clock is off
 * does not skew them. */
void fp_metrics_set_redis_clock(fp_metrics_t *m, int64_t redis_ms, int64_t local_unix_ms);

/* Whether (queue, type) has a label set of its own already. */
bool fp_metrics_has(const fp_metrics_t *m, const char *queue, const char *type);

/* One child replaced; 0 or -EINVAL. */
int fp_metrics_child_restart(fp_metrics_t *m, fp_metrics_restart_t reason);

/* One autoscaling step (forkpool_scale_events_total{direction, reason});
 * 0 or -EINVAL. */
int fp_metrics_scale_event(fp_metrics_t *m, bool up, fp_scale_reason_t reason);

void fp_metrics_set_gauges(fp_metrics_t *m, const fp_metrics_gauges_t *g);

/* Sets queue's depth gauges (the first call for a queue allocates its entry).
 * 0, -ENOMEM, or -ENOSPC past FP_METRICS_MAX_QUEUES queues. */
int fp_metrics_set_queue(fp_metrics_t *m, const char *queue, const fp_metrics_queue_t *q);

/* Marks every queue's gauges unknown, so that queues dropped by a reload
 * disappear from the output once the caller sets the current ones again. */
void fp_metrics_clear_queues(fp_metrics_t *m);

/* Distinct (queue, type) label sets held, "other" ones included. */
size_t fp_metrics_label_sets(const fp_metrics_t *m);

/* Appends the whole exposition to out (text/plain; version=0.0.4): every
 * family with # HELP and # TYPE lines, label values escaped (\\, \", \n).
 * Families in a fixed order, label sets in the order first seen. 0 or
 * -ENOMEM (out then holds a partial text the caller discards). */
int fp_metrics_render(const fp_metrics_t *m, fp_buf_t *out);

#endif
