/* sentinel_sync.c: the command line's blocking Sentinel question
 * (sentinel_sync.h): one short-lived connection per sentinel, in the
 * configured order, stopping at the first answer. */
#include "redis/sentinel_sync.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "redis/redis_sync.h"

/* One sentinel: 0 with *out, or -1 with why. */
static int ask_one(const fp_config_t *cfg, const fp_sentinel_addr_t *s, fp_sentinel_addr_t *out,
                   char *why, size_t size)
{
    int64_t ms = cfg->redis.connect_timeout_ms > 0 ? cfg->redis.connect_timeout_ms : 5000;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    redisContext *c = NULL;
    bool tls = strncasecmp(cfg->redis.url, "rediss://", 9) == 0; /* sentinels like the master */
    if (fp_redis_sync_connect(s->host, s->port, tls, ms, &c, why, size) < 0)
        return -1;
    redisSetTimeout(c, tv);
    int rc = 0;
    const char *pw = cfg->redis.sentinel_password;
    if (pw[0] != '\0') {
        redisReply *r = redisCommandArgv(c, 2, (const char *[]){"AUTH", pw},
                                         (size_t[]){4, strlen(pw)});
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            snprintf(why, size, "AUTH failed: %s", r != NULL ? r->str : c->errstr);
            rc = -1;
        }
        freeReplyObject(r);
    }
    if (rc == 0) {
        const char *m = cfg->redis.master_name;
        redisReply *r = redisCommandArgv(
            c, 3, (const char *[]){"SENTINEL", "get-master-addr-by-name", m},
            (size_t[]){8, 23, strlen(m)});
        if (r == NULL)
            snprintf(why, size, "%s", c->errstr);
        rc = r == NULL ? -1 : fp_sentinel_master_reply(r, out, why, size);
        freeReplyObject(r);
    }
    fp_redis_sync_free(c);
    return rc;
}

int fp_sentinel_locate_sync(const fp_config_t *cfg, fp_sentinel_addr_t *out, fp_err_t *err)
{
    char said[1024] = "";
    size_t used = 0;
    for (size_t i = 0; i < cfg->redis.sentinels.count; i++) {
        fp_sentinel_addr_t s;
        char why[256] = "";
        if (fp_sentinel_addr_parse(cfg->redis.sentinels.items[i], &s, why, sizeof why) == 0 &&
            ask_one(cfg, &s, out, why, sizeof why) == 0)
            return 0;
        int n = snprintf(said + used, sizeof said - used, "%s%s: %s", used ? "; " : "",
                         cfg->redis.sentinels.items[i], why);
        if (n > 0 && (size_t)n < sizeof said - used)
            used += (size_t)n;
    }
    return fp_err_set(err, FP_EREDIS, "no sentinel knows where master \"%s\" is (%s)",
                      cfg->redis.master_name, said);
}
