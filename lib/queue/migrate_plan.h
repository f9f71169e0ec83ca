/* migrate_plan.h: the pure decisions of `forkpool migrate` (docs/embedded.md,
 * "Moving to Redis"): which way the jobs go (--to), and whether a source
 * that looks in use may be emptied. */
#ifndef FORKPOOL_MIGRATE_PLAN_H
#define FORKPOOL_MIGRATE_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef enum {
    FP_MIGRATE_TO_REDIS,  /* from the embedded queue (sqlite.path) to the Redis at url */
    FP_MIGRATE_TO_SQLITE, /* from the configured Redis to the queue file at path */
} fp_migrate_way_t;

typedef struct fp_migrate_target_s {
    fp_migrate_way_t way;
    const char *url;  /* TO_REDIS: the text given (redis://, rediss:// or unix://) */
    const char *path; /* TO_SQLITE: the file, after "sqlite:" */
} fp_migrate_target_t;

/* --to's value: "redis://...", "rediss://..." or "unix://..." (one Redis),
 * or "sqlite:PATH". Anything else is FP_EUSAGE naming the forms. Borrows
 * text. */
int fp_migrate_target_parse(const char *text, fp_migrate_target_t *out, fp_err_t *err);

/* What says a daemon works on the source: rows leased with a lease not run
 * out (embedded), entries pending in the group or daemons with a live
 * heartbeat (Redis). */
typedef struct fp_migrate_busy_s {
    const char *queue;
    int64_t leased;
    int64_t pending;
    int64_t live_daemons;
} fp_migrate_busy_t;

/* 0 when the source may be emptied: nothing in busy, or force (then what is
 * held stays where it is). Otherwise -EBUSY, the message naming the queue,
 * what holds it and --force. */
int fp_migrate_check(const fp_migrate_busy_t *busy, bool force, fp_err_t *err);

#endif
