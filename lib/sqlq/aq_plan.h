/* aq_plan.h: what the embedded queue's worker thread (aq.h) does next, and
 * how many rows each queue may give a pull: pure, no I/O, no clock (the
 * thread passes now_ms), unit-tested (test/unit/test_sqlq_aq_plan.c).
 *
 * Pulling: while the last pull came back full there is a backlog and the
 * next pull goes at once. Once one came back short every queue is empty,
 * and a pull (a write transaction) is not repeated blindly: every
 * FP_AQP_CHECK_MS the thread reads PRAGMA data_version, which changes when
 * another connection (a producer, another daemon) committed, and pulls only
 * then, or every FP_AQP_DUE_MS since the last pull, when a delayed row's
 * due time or another consumer's lease end may have passed without any
 * commit. So an enqueue reaches an idle daemon within FP_AQP_CHECK_MS plus
 * a pull, and a delayed job or an expired lease within FP_AQP_DUE_MS of its
 * time. A store error (a lock held past the busy timeout, a full disk)
 * backs off, doubling from FP_AQP_BACKOFF_MIN_MS to FP_AQP_BACKOFF_MAX_MS,
 * and every step waits for it.
 *
 * Weighted order (queues.order = "weighted") maps the read planner's smooth
 * weighted round-robin (queue/read_plan.h, fp_wrr_plan) onto the store's
 * per-queue caps (fp_sqlq_pull_capped): the room is shared among the queues
 * not found empty; a queue whose pull gave less than its cap is left out
 * until every queue is, or until FP_AQP_DUE_MS passed (it may have filled
 * up meanwhile), so a backlog of one queue is not slowed by empty ones. */
#ifndef FORKPOOL_SQLQ_AQ_PLAN_H
#define FORKPOOL_SQLQ_AQ_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue/read_plan.h"

#define FP_AQP_CHECK_MS 5
#define FP_AQP_DUE_MS 100
#define FP_AQP_BACKOFF_MIN_MS 50
#define FP_AQP_BACKOFF_MAX_MS 5000

typedef struct fp_aqp_s {
    bool idle;               /* the last pull came back short: every queue looked empty */
    bool changed;            /* data_version moved since that pull */
    int64_t last_pull_ms;
    int64_t last_check_ms;
    int64_t backoff_ms;      /* 0: no error since the last success */
    int64_t backoff_until_ms;
} fp_aqp_t;

typedef enum fp_aqp_kind_e {
    FP_AQP_WAIT,  /* nothing now; wait_ms until the next step (-1: until woken) */
    FP_AQP_CHECK, /* read data_version, then fp_aqp_checked */
    FP_AQP_PULL,  /* pull, then fp_aqp_pulled */
} fp_aqp_kind_t;

typedef struct fp_aqp_step_s {
    fp_aqp_kind_t kind;
    int64_t wait_ms;
} fp_aqp_step_t;

/* A fresh plan: not idle, so the first step with room is a pull. */
void fp_aqp_init(fp_aqp_t *p);

/* The next step at now_ms; can_pull: the supervisor has room and has taken
 * the last pull's rows. */
fp_aqp_step_t fp_aqp_next(const fp_aqp_t *p, int64_t now_ms, bool can_pull);

/* data_version read at now_ms: changed says whether it moved. */
void fp_aqp_checked(fp_aqp_t *p, int64_t now_ms, bool changed);

/* A pull at now_ms asked for `asked` rows and got `got`. */
void fp_aqp_pulled(fp_aqp_t *p, int64_t now_ms, size_t asked, size_t got);

/* A store call failed at now_ms (back-off grows), or succeeded (reset). */
void fp_aqp_failed(fp_aqp_t *p, int64_t now_ms);
void fp_aqp_succeeded(fp_aqp_t *p);

/* Weighted caps: the round-robin state of n queues (n <= FP_READ_PLAN_QUEUES_MAX). */
typedef struct fp_aqp_caps_s {
    size_t n;
    int64_t weights[FP_READ_PLAN_QUEUES_MAX];
    int64_t current[FP_READ_PLAN_QUEUES_MAX];
    bool eligible[FP_READ_PLAN_QUEUES_MAX];
    int64_t reset_ms; /* when every queue was last made eligible again */
} fp_aqp_caps_t;

/* Every weight 1 and every queue eligible; the caller may set weights. */
void fp_aqp_caps_init(fp_aqp_caps_t *c, size_t n);

/* caps[0..n) for a pull of room rows at now_ms: how many each queue may
 * give, summing to room (every queue eligible again first when none is, or
 * FP_AQP_DUE_MS after the last time). */
void fp_aqp_caps_plan(fp_aqp_caps_t *c, int64_t now_ms, size_t room, size_t *caps);

/* The pull gave got[i] of caps[i]: a queue that gave less is left out.
 * Returns true when that left some queue out while others are still
 * planned: the pull was short because of the caps, not because every queue
 * is empty, so the next pull should go at once rather than wait as idle. */
bool fp_aqp_caps_done(fp_aqp_caps_t *c, const size_t *caps, const size_t *got);

#endif
