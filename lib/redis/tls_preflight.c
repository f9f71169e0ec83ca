/* tls_preflight.c: one blocking TLS connection before the daemon starts
 * (tls_preflight.h): to the URL's host, to the first sentinel, or to the
 * Cluster seeds in order until one answers. */
#include "redis/tls_preflight.h"

#include <stdio.h>
#include <strings.h>

#include "redis/cluster_parse.h"
#include "redis/redis_sync.h"
#include "redis/redis_tls.h"
#include "redis/redis_url.h"
#include "redis/sentinel_parse.h"

/* 0 when host:port took the handshake, 1 when it could not be reached,
 * FP_EREDIS naming a certificate problem. */
static int probe(const fp_config_t *cfg, const char *host, int port, fp_err_t *err)
{
    char why[400];
    redisContext *c = NULL;
    if (fp_redis_sync_connect(host, port, true, cfg->redis.connect_timeout_ms, &c, why,
                              sizeof why) == 0) {
        fp_redis_sync_free(c);
        return 0;
    }
    if (!fp_redis_tls_is_cert_problem(why))
        return 1;
    return fp_err_set(err, FP_EREDIS, "Redis at %s:%d: %s", host, port, why);
}

/* A seed that does not run is skipped (the daemon's locator skips it too):
 * the first one reached decides. */
static int probe_seeds(const fp_config_t *cfg, fp_err_t *err)
{
    for (size_t i = 0; i < cfg->redis.cluster.count; i++) {
        fp_cluster_addr_t s;
        char why[256];
        if (fp_cluster_seed_parse(cfg->redis.cluster.items[i], &s, why, sizeof why) < 0)
            return fp_err_set(err, FP_ECONFIG, "[redis] cluster[%zu] %s", i, why);
        int rc = probe(cfg, s.host, s.port, err);
        if (rc <= 0)
            return rc;
    }
    return 0;
}

int fp_redis_tls_preflight(const fp_config_t *cfg, fp_err_t *err)
{
    if (strncasecmp(cfg->redis.url, "rediss://", 9) != 0)
        return 0;
    if (cfg->redis.cluster.count > 0)
        return probe_seeds(cfg, err);
    fp_redis_url_t u;
    if (fp_redis_url_parse(cfg->redis.url, &u, err) < 0)
        return FP_ECONFIG;
    char host[256];
    int port = u.port;
    snprintf(host, sizeof host, "%s", u.host);
    fp_redis_url_free(&u);
    fp_sentinel_addr_t s;
    char why[400];
    if (cfg->redis.sentinels.count > 0) {
        if (fp_sentinel_addr_parse(cfg->redis.sentinels.items[0], &s, why, sizeof why) < 0)
            return fp_err_set(err, FP_ECONFIG, "[redis] sentinels[0] %s", why);
        snprintf(host, sizeof host, "%s", s.host);
        port = s.port;
    }
    int rc = probe(cfg, host, port, err);
    return rc > 0 ? 0 : rc;
}
