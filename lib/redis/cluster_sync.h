/* cluster_sync.h: the slot map of a Redis Cluster, asked of its seed nodes
 * with blocking connections: for the command line, which may block (the
 * daemon must not). */
#ifndef FORKPOOL_CLUSTER_SYNC_H
#define FORKPOOL_CLUSTER_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "redis/cluster_parse.h"
#include "redis/redis_url.h"

/* Asks the seeds ("host:port") in order, each within timeout_ms (<= 0: 5 s),
 * over TLS when auth is rediss://, after AUTH with auth's user and password
 * when it has one (auth may be NULL), for CLUSTER SLOTS; stops at the first answer that parses. 0 with
 * *map (slots may be unserved: the caller decides), or FP_EREDIS naming
 * what each seed said. */
int fp_cluster_map_sync(const char *const *seeds, size_t n, const fp_redis_url_t *auth,
                        int64_t timeout_ms, fp_cluster_map_t *map, fp_err_t *err);

#endif
