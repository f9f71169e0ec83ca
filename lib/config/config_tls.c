/* config_tls.c: the [redis] tls_* keys (rediss://, lib/redis/redis_tls.h)
 * make sense only together with a rediss:// URL, and a client certificate
 * only with its key. Loading the files themselves (readable, PEM, the key
 * matching the certificate) is fp_redis_tls_setup's, at start-up and in
 * check-config, because only OpenSSL can say whether they are usable. */
#include "config/config_internal.h"

#include <strings.h>

static const char *first_set(const fp_config_t *cfg)
{
    if (cfg->redis.tls_ca[0] != '\0')
        return "tls_ca";
    if (cfg->redis.tls_cert[0] != '\0')
        return "tls_cert";
    if (cfg->redis.tls_key[0] != '\0')
        return "tls_key";
    if (cfg->redis.tls_server_name[0] != '\0')
        return "tls_server_name";
    return NULL;
}

const char *fp__config_tls_problem(const fp_config_t *cfg, const char **key)
{
    bool tls = strncasecmp(cfg->redis.url, "rediss://", 9) == 0;
    *key = first_set(cfg);
    if (!tls && *key != NULL)
        return "is only used with TLS: write the URL as rediss://";
    if ((cfg->redis.tls_cert[0] != '\0') != (cfg->redis.tls_key[0] != '\0')) {
        *key = cfg->redis.tls_cert[0] != '\0' ? "tls_cert" : "tls_key";
        return "needs the other of tls_cert and tls_key (a client certificate and its "
               "private key go together)";
    }
    return NULL;
}
