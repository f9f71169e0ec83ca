/* sentinel_sync.h: where the master is, asked of the sentinels with
 * blocking connections, for the command line (enqueue, stats, dead, job,
 * cancel...), which may block. The daemon uses sentinel.h instead. */
#ifndef FORKPOOL_SENTINEL_SYNC_H
#define FORKPOOL_SENTINEL_SYNC_H

#include "base/err.h"
#include "config/config.h"
#include "redis/sentinel_parse.h"

/* Asks redis.sentinels in order, each with redis.connect_timeout, until one
 * knows redis.master_name. 0 with *out, or FP_EREDIS naming what each
 * sentinel said. */
int fp_sentinel_locate_sync(const fp_config_t *cfg, fp_sentinel_addr_t *out, fp_err_t *err);

#endif
