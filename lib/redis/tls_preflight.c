/* tls_preflight.c: one blocking TLS connection before the daemon starts
 * (tls_preflight.h): to the URL's host, or to the first sentinel. */
#include "redis/tls_preflight.h"

#include <stdio.h>
#include <strings.h>

#include "redis/redis_sync.h"
#include "redis/redis_tls.h"
#include "redis/redis_url.h"
#include "redis/sentinel_parse.h"

int fp_redis_tls_preflight(const fp_config_t *cfg, fp_err_t *err)
{
    if (strncasecmp(cfg->redis.url, "rediss://", 9) != 0)
        return 0;
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
    redisContext *c = NULL;
    if (fp_redis_sync_connect(host, port, true, cfg->redis.connect_timeout_ms, &c, why,
                              sizeof why) == 0) {
        fp_redis_sync_free(c);
        return 0;
    }
    if (!fp_redis_tls_is_cert_problem(why))
        return 0;
    return fp_err_set(err, FP_EREDIS, "Redis at %s:%d: %s", host, port, why);
}
