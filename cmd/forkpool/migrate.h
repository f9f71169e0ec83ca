/* migrate.h: what cmd_migrate.c shares with the two ways a migration runs
 * (migrate_to_redis.c, migrate_to_sqlite.c): the run's settings, the
 * counts printed per queue, and the step after each batch. */
#ifndef FORKPOOL_CLI_MIGRATE_H
#define FORKPOOL_CLI_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "base/err.h"
#include "queue/migrate_plan.h"

typedef struct fp_migrate_run_s {
    const fp_config_t *cfg;
    fp_migrate_target_t to;
    const char *const *queues; /* --queue, else queues.names */
    size_t nqueues;
    size_t batch;              /* jobs per batch (--batch) */
    bool dry_run, force;
    long long crash_after;     /* test only: SIGKILL after this many batches; -1 never */
    long long batches;         /* batches written to the destination so far */
    char from[512], dest[512]; /* for the output: a path, or a URL without its password */
} fp_migrate_run_t;

/* What moved (or, dry, would move) from one queue; held: left at the
 * source because a daemon holds it (--force). */
typedef struct fp_migrate_counts_s {
    int64_t ready, delayed, dead, held;
} fp_migrate_counts_t;

void fp_migrate_print(const fp_migrate_run_t *run, const char *queue,
                      const fp_migrate_counts_t *c);

/* Called once a batch is at the destination and before the source lets it
 * go: counts it, and is where FORKPOOL_MIGRATE_CRASH_AFTER (for tests of an
 * interrupted migration) kills the process. */
void fp_migrate_batch_written(fp_migrate_run_t *run);

int fp_migrate_to_redis(fp_migrate_run_t *run, fp_err_t *err);
int fp_migrate_to_sqlite(fp_migrate_run_t *run, fp_err_t *err);

#endif
