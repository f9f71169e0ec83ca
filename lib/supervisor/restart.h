/* restart.h: why a child is replaced or was restarted, as the one enum
 * fp_metrics_restart_t (the metric's label); the log's wording is derived
 * from it. Pure: a slot and numbers in, a reason out. */
#ifndef FORKPOOL_RESTART_H
#define FORKPOOL_RESTART_H

#include <stdbool.h>
#include <stdint.h>

#include "http/metrics.h"
#include "pool/pool.h"

/* Whether a live child is to be replaced, and why: it was forked with an
 * older configuration than `generation`, or it reached its job limit, or
 * its last reported RSS is over max_memory_bytes (0: no limit). */
bool fp_restart_retire_reason(const fp_slot_t *slot, uint32_t generation,
                              int64_t max_memory_bytes, fp_metrics_restart_t *reason);

/* The cause of a replacement as its log line says it ("a reload",
 * "max_jobs_per_child", "max_memory_per_child"). */
const char *fp_restart_retire_text(fp_metrics_restart_t reason);

/* Why a child died that was not asked to, from its slot and wait status. */
fp_metrics_restart_t fp_restart_exit_reason(const fp_slot_t *slot, int status);

#endif
