/* redis_cluster.c: the supervisor's Redis Cluster locator (redis.cluster):
 * made before the queue and the lease, whose connections follow their
 * slots through it, and closed after both (supervisor_internal.h). */
#include "supervisor/supervisor_internal.h"

#include "redis/cluster.h"

int fp_sup_cluster_open(fp_supervisor_t *sup, fp_err_t *err)
{
    const fp_config_t *cfg = sup->cfg;
    if (cfg->redis.cluster.count == 0)
        return 0;
    /* Every node is reached with the URL's user and password. */
    int rc = fp_redis_url_parse(cfg->redis.url, &sup->redis.cluster_url, err);
    if (rc < 0)
        return rc;
    return fp_cluster_new(&sup->loop, (const char *const *)cfg->redis.cluster.items,
                          cfg->redis.cluster.count, &sup->redis.cluster_url,
                          cfg->redis.connect_timeout_ms, false, &sup->redis.cluster, err);
}

void fp_sup_cluster_close(fp_supervisor_t *sup)
{
    fp_cluster_close(sup->redis.cluster, NULL, NULL);
    sup->redis.cluster = NULL;
}
