/* sentinel.h: following a Redis master through Sentinel, on the
 * supervisor's loop, for the daemon's connections. A fp_sentinel_t is the
 * locator (redis_conn.h) its connections ask before every attempt: it asks
 * the sentinels in turn (SENTINEL get-master-addr-by-name, never blocking),
 * and, when watching, keeps one connection subscribed to +switch-master so
 * that a failover moves every follower at once instead of at its next
 * failed command. The connection itself then confirms with ROLE that it
 * reached a master. The command line resolves with sentinel_sync.h. */
#ifndef FORKPOOL_SENTINEL_H
#define FORKPOOL_SENTINEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "base/err.h"
#include "config/config.h"
#include "redis/redis_conn.h"

typedef struct fp_sentinel_s fp_sentinel_t;

/* From cfg's redis.sentinels, master_name and sentinel_password (copied).
 * watch: subscribe to +switch-master. quiet: say what it finds at debug
 * level only (a second follower of the same master in one process). */
int fp_sentinel_new(uv_loop_t *loop, const fp_config_t *cfg, bool watch, bool quiet,
                    fp_sentinel_t **out, fp_err_t *err);

const fp_redis_locator_t *fp_sentinel_locator(fp_sentinel_t *s);

/* c (located by s) is moved along when the master switches. Until
 * fp_sentinel_close; c must be closed before s. */
int fp_sentinel_follow(fp_sentinel_t *s, fp_redis_conn_t *c);

/* Starts the +switch-master watch (when asked for). */
void fp_sentinel_start(fp_sentinel_t *s);

/* After its followers were closed: closes its own connections, frees, then
 * cb (may be NULL). */
void fp_sentinel_close(fp_sentinel_t *s, void (*cb)(void *ctx), void *ctx);

#endif
