/* stats_embedded.h: `forkpool stats` on the embedded queue
 * (stats_embedded.c). */
#ifndef FORKPOOL_CLI_STATS_EMBEDDED_H
#define FORKPOOL_CLI_STATS_EMBEDDED_H

#include "config/config.h"
#include "base/err.h"
#include "queue/heartbeat.h"
#include "queue/queue_stats.h"

/* Fills st[i] for each of cfg->queues.names from the queue file, which
 * must exist (it is not created: -ENOENT). fp_admin_queue_stats_clear
 * frees each, also after an error. */
int fp_cli_stats_embedded(const fp_config_t *cfg, fp_admin_queue_stats_t *st, fp_err_t *err);

/* The fleet as the daemons on the queue file keep it (sqlq/fleet.h), read
 * as fp_admin_fleet reads it from Redis; fp_fleet_clear frees it. */
int fp_cli_fleet_embedded(const fp_config_t *cfg, fp_fleet_t *out, fp_err_t *err);

#endif
