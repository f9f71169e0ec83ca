/* config_env.c: the environment's overrides, applied after the file: the
 * Redis URL, the TLS paths and name, and the two passwords, so that secrets
 * and per-host settings need not be written in a file that is shared or
 * checked in. A value taken from the environment has no file position
 * (its row's node is cleared), so later errors name the variable. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

static int take_env(fp__cloader_t *ld, const char *var, const char *section, const char *key,
                    char **field, bool *taken)
{
    const char *value = getenv(var);
    *taken = value != NULL && *value != '\0';
    if (!*taken)
        return 0;
    char *copy = strdup(value);
    if (copy == NULL)
        return fp_err_set(ld->err, -ENOMEM, "out of memory");
    free(*field);
    *field = copy;
    ld->where[fp__config_find_key(section, key) - fp__config_schema] = NULL;
    return 0;
}

int fp__capply_env(fp__cloader_t *ld)
{
    const fp__ckey_t *k = fp__config_find_key("redis", "url");
    char buf[256];
    size_t elem;
    bool taken;
    int rc = take_env(ld, "FORKPOOL_SENTINEL_PASSWORD", "redis", "sentinel_password",
                      &ld->cfg->redis.sentinel_password, &taken);
    if (rc == 0)
        rc = take_env(ld, "FORKPOOL_ADMIN_TOKEN", "health", "admin_token",
                      &ld->cfg->health.admin_token, &taken);
    /* rediss:// settings: paths and a name, in the same FORKPOOL_ style */
    fp_config_t *c = ld->cfg;
    const struct {
        const char *var, *key;
        char **field;
    } tls[] = {{"FORKPOOL_REDIS_TLS_CA", "tls_ca", &c->redis.tls_ca},
               {"FORKPOOL_REDIS_TLS_CERT", "tls_cert", &c->redis.tls_cert},
               {"FORKPOOL_REDIS_TLS_KEY", "tls_key", &c->redis.tls_key},
               {"FORKPOOL_REDIS_TLS_SERVER_NAME", "tls_server_name", &c->redis.tls_server_name}};
    for (size_t i = 0; rc == 0 && i < sizeof tls / sizeof tls[0]; i++)
        rc = take_env(ld, tls[i].var, "redis", tls[i].key, tls[i].field, &taken);
    if (rc == 0)
        rc = take_env(ld, "FORKPOOL_REDIS_URL", "redis", "url", &ld->cfg->redis.url, &taken);
    if (rc < 0 || !taken)
        return rc;
    if (k->check(&ld->cfg->redis.url, &elem, buf, sizeof buf) < 0)
        return fp_err_set(ld->err, FP_ECONFIG, "FORKPOOL_REDIS_URL (environment) %s", buf);
    return 0;
}
