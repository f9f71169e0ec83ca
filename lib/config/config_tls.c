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

int fp__config_check_tls(const fp_config_t *cfg, fp_err_t *err)
{
    bool tls = strncasecmp(cfg->redis.url, "rediss://", 9) == 0;
    const char *key = first_set(cfg);
    if (!tls && key != NULL)
        return fp_err_set(err, FP_ECONFIG,
                          "[redis] %s is only used with TLS: write the URL as rediss://", key);
    if ((cfg->redis.tls_cert[0] != '\0') != (cfg->redis.tls_key[0] != '\0'))
        return fp_err_set(err, FP_ECONFIG,
                          "[redis] tls_cert and tls_key go together (a client certificate and its "
                          "private key)");
    return 0;
}
