/* qmux_side.h: INTERNAL to lib/queue/qmux*.c — over a Redis Cluster, the
 * connections for keys outside the queues' slots: the fleet's heartbeat
 * ({fleet}) and the limits ({limit:TYPE}). One connection per slot, made
 * on first use (and at start for the fleet and every configured limit
 * type, so the first job of a type does not find it still connecting),
 * each following its slot through the cluster locator like a queue's. */
#ifndef FORKPOOL_QMUX_SIDE_H
#define FORKPOOL_QMUX_SIDE_H

#include <stdint.h>

#include <uv.h>

#include "base/err.h"
#include "config/config.h"
#include "redis/cluster.h"
#include "redis/redis_conn.h"

typedef struct fp_qside_s fp_qside_t;

/* cfg (borrowed) gives the URL's user, password and TLS, and the prefix. */
int fp_qside_new(uv_loop_t *loop, const fp_config_t *cfg, fp_cluster_t *cl, fp_qside_t **out,
                 fp_err_t *err);
/* Opens the fleet's and the configured limit types' connections. */
void fp_qside_start(fp_qside_t *s);
/* The connection serving key's slot when it is up, else NULL (one is then
 * on its way: the caller tries again later). */
fp_redis_conn_t *fp_qside_conn(fp_qside_t *s, const char *key);
/* The fleet's connection when up, else NULL. */
fp_redis_conn_t *fp_qside_fleet(fp_qside_t *s);
void fp_qside_close(fp_qside_t *s, void (*cb)(void *ctx), void *ctx);

#endif
