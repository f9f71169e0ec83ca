/* limit.h: whether a held job of a limited type may go to a child now — the
 * pure decisions of concurrency and rate limits ([limits.TYPE]), apart from
 * the backend that keeps the shared state (Redis' scripts, limit_script.h;
 * the embedded queue's file, lib/sqlq/limits.h) and the supervisor's glue
 * (lib/supervisor/limits.c).
 *
 * A job is admitted in up to three steps, cheapest first: this daemon's
 * count of admitted jobs of its type against local_concurrency (no I/O);
 * then, when the type has a concurrency or a rate limit, one call to the
 * backend that takes a lease in the type's running set and a GCRA slot at
 * once (a script, or a transaction).
 * A job refused by any step does not wait in the daemon: it is handed back
 * to the queue's delayed set (same payload, not counted as an attempt) and
 * comes back when fp_limit_delay_ms says. docs/limits.md says why. */
#ifndef FORKPOOL_LIMIT_H
#define FORKPOOL_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

typedef enum fp_limit_kind_e {
    FP_LIMIT_CONCURRENCY, /* concurrency: across every daemon on the Redis or file */
    FP_LIMIT_LOCAL,       /* local_concurrency: this daemon */
    FP_LIMIT_RATE,        /* rate */
    FP_LIMIT_KINDS
} fp_limit_kind_t;

typedef enum fp_limit_verdict_e {
    FP_LIMIT_DISPATCH, /* no limit stands in the way: to a child */
    FP_LIMIT_ASK,      /* local room; the backend decides (fp_qmux_limit_take) */
    FP_LIMIT_DELAY,    /* refused: back to the delayed set */
} fp_limit_verdict_t;

/* The label value of a kind ("concurrency", "local", "rate"); NULL out of range. */
const char *fp_limit_kind_name(fp_limit_kind_t kind);

/* lim: the type's limits (NULL: unlimited, which costs nothing more);
 * local_admitted: this daemon's jobs of the type admitted and not settled.
 * On FP_LIMIT_DELAY, *why says which limit refused. */
fp_limit_verdict_t fp_limit_admit(const fp_type_limit_t *lim, size_t local_admitted,
                                  fp_limit_kind_t *why);

/* Whether admitting needs the shared state (a concurrency or a rate limit). */
bool fp_limit_needs_shared(const fp_type_limit_t *lim);

/* How long a refused job stays in the delayed set. A concurrency refusal
 * (global or local) cannot know when a running job ends: FP_LIMIT_WAIT_MS
 * spread by random over [half, one and a half], so refused jobs do not all
 * come back at once. A rate refusal knows when the next slot opens
 * (retry_after_ms, from the GCRA); a random spread of up to
 * FP_LIMIT_SPREAD_MS is added so that many refused together come back over
 * a second instead of all racing for that one slot. */
#define FP_LIMIT_WAIT_MS 500
#define FP_LIMIT_SPREAD_MS 1000
int64_t fp_limit_delay_ms(fp_limit_kind_t why, int64_t retry_after_ms, uint64_t random);

/* One take of a type's shared limits, as every backend receives it: a lease
 * for member in the type's running set when concurrency > 0 (the lease runs
 * out lease_ms from now unless renewed), and a GCRA slot when interval_us
 * > 0 (fp_rate_interval_us / fp_rate_tolerance_us of the type's rate). */
typedef struct fp_limit_ask_s {
    const char *type;
    const char *member; /* fp_limit_member's "consumer/queue/entry_id" */
    int64_t concurrency;
    int64_t lease_ms;
    int64_t interval_us;
    int64_t tolerance_us;
} fp_limit_ask_t;

/* A take's answer, from either backend. */
typedef struct fp_limit_reply_s {
    bool allowed;
    fp_limit_kind_t why;    /* when refused: FP_LIMIT_CONCURRENCY or FP_LIMIT_RATE */
    int64_t retry_after_ms; /* rate refusals: until the next slot */
} fp_limit_reply_t;

/* A rate refusal's retry in whole milliseconds from the GCRA's
 * microseconds, rounded up (the slot is not open a moment earlier). */
int64_t fp_limit_retry_ms(int64_t retry_us);

#endif
