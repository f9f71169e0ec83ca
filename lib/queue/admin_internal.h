/* admin_internal.h: INTERNAL to lib/queue/admin*.c — the command line's
 * blocking connection (admin.h), shared by admin.c (one Redis, or the
 * master Sentinel names) and admin_cluster.c (a Redis Cluster: one
 * connection per master, each command sent to its key's). */
#ifndef FORKPOOL_ADMIN_INTERNAL_H
#define FORKPOOL_ADMIN_INTERNAL_H

#include <hiredis/hiredis.h>

#include "queue/admin.h"
#include "redis/redis_url.h"

typedef struct fp_admin_cluster_s fp_admin_cluster_t;

struct fp_admin_s {
    const fp_config_t *cfg;
    fp_redis_url_t url;
    char where[300];
    redisContext *c;         /* the connection in use (over a Cluster: the last routed) */
    fp_admin_cluster_t *cl;  /* redis.cluster: the map and every node's connection */
};

/* redis.cluster: reads the slot map from the seeds and connects to the
 * first master (a->c). 0, or FP_EREDIS naming what each seed said. */
int fp__admin_cluster_open(fp_admin_t *a, fp_err_t *err);
void fp__admin_cluster_free(fp_admin_t *a);
/* a->c (and a->where) become the connection of the master serving key. */
int fp__admin_cluster_route(fp_admin_t *a, const char *key, size_t len, fp_err_t *err);
/* fp_admin_commandv over a Cluster: routed by the command's key
 * (fp_cluster_command_key), following MOVED (the map is read again), ASK
 * (ASKING, then the command once on the named node), TRYAGAIN and
 * CLUSTERDOWN (a short pause, then again), a few times at most. */
int fp__admin_cluster_commandv(fp_admin_t *a, int argc, const char **argv, const size_t *lens,
                               redisReply **out, fp_err_t *err);

#endif
