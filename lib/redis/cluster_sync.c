/* cluster_sync.c: the command line's blocking question for the slot map
 * (cluster_sync.h): one short-lived connection per seed, in the given
 * order, stopping at the first map; over TLS when auth says rediss://
 * (redis_sync.h), verified against the seed's own host. */
#include "redis/cluster_sync.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "redis/redis_sync.h"

/* AUTH [user] password when auth has a password: 0, or -1 with why. */
static int auth_with(redisContext *c, const fp_redis_url_t *auth, char *why, size_t size)
{
    if (auth == NULL || auth->password == NULL)
        return 0;
    const char *argv[3] = {"AUTH"};
    size_t lens[3] = {4};
    int argc = 1;
    if (auth->user != NULL) {
        argv[argc] = auth->user;
        lens[argc++] = strlen(auth->user);
    }
    argv[argc] = auth->password;
    lens[argc++] = strlen(auth->password);
    redisReply *r = redisCommandArgv(c, argc, argv, lens);
    int rc = r != NULL && r->type != REDIS_REPLY_ERROR ? 0 : -1;
    if (rc < 0)
        snprintf(why, size, "AUTH failed: %s", r != NULL ? r->str : c->errstr);
    freeReplyObject(r);
    return rc;
}

/* One seed: 0 with *map, or -1 with why. */
static int ask_one(const fp_cluster_addr_t *seed, const fp_redis_url_t *auth, int64_t ms,
                   fp_cluster_map_t *map, char *why, size_t size)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    redisContext *c = NULL;
    if (fp_redis_sync_connect(seed->host, seed->port, auth != NULL && auth->tls, ms, &c, why,
                              size) < 0)
        return -1;
    redisSetTimeout(c, tv);
    int rc = auth_with(c, auth, why, size);
    if (rc == 0) {
        redisReply *r = redisCommand(c, "CLUSTER SLOTS");
        if (r == NULL)
            snprintf(why, size, "%s", c->errstr);
        /* A node that does not know its own address is reached as seed->host. */
        rc = r == NULL ? -1 : fp_cluster_slots_parse(r, seed->host, map, why, size);
        freeReplyObject(r);
    }
    fp_redis_sync_free(c);
    return rc;
}

int fp_cluster_map_sync(const char *const *seeds, size_t n, const fp_redis_url_t *auth,
                        int64_t timeout_ms, fp_cluster_map_t *map, fp_err_t *err)
{
    char said[1024] = "";
    size_t used = 0;
    int64_t ms = timeout_ms > 0 ? timeout_ms : 5000;
    for (size_t i = 0; i < n; i++) {
        fp_cluster_addr_t seed;
        char why[256] = "";
        if (fp_cluster_seed_parse(seeds[i], &seed, why, sizeof why) == 0 &&
            ask_one(&seed, auth, ms, map, why, sizeof why) == 0)
            return 0;
        int k = snprintf(said + used, sizeof said - used, "%s%s: %s", used ? "; " : "", seeds[i],
                         why);
        if (k > 0 && (size_t)k < sizeof said - used)
            used += (size_t)k;
    }
    return fp_err_set(err, FP_EREDIS, "no cluster node answered CLUSTER SLOTS (%s)",
                      n > 0 ? said : "no seed nodes");
}
