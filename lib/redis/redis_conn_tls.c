/* redis_conn_tls.c: INTERNAL to lib/redis/ — how an fp_redis_conn_t whose URL
 * is rediss:// gets its hiredis context: hiredis connects to a private unix
 * socket (tls_bridge.h) and a relay (tls_relay.h) carries the bytes over TLS
 * to Redis. Everything above (handshake, commands, back-off) is unchanged;
 * the relay's own failures (a refused certificate, a server that went away)
 * drop the connection with their reason, which is more telling than the
 * plain socket's end that hiredis would report. */
#include "redis/redis_conn_internal.h"

#include <stdio.h>
#include <unistd.h>

#include "redis/tls_bridge.h"
#include "redis/tls_relay.h"

static void on_relay(void *ctx, bool up, const char *reason)
{
    fp_redis_conn_t *c = ctx;
    if (up)
        return; /* hiredis' handshake (AUTH, ROLE, PING) now goes through */
    fp_redis_conn_drop(c, reason);
}

redisAsyncContext *fp__conn_tls_connect(fp_redis_conn_t *c, const char *ip, char *why,
                                        size_t size)
{
    fp_tls_bridge_t b;
    if (fp_tls_bridge_listen(&b, why, size) < 0)
        return NULL;
    redisAsyncContext *ac = redisAsyncConnectUnix(b.path);
    int fd = fp_tls_bridge_accept(&b, why, size);
    if (ac == NULL || ac->err != 0 || fd < 0) {
        if (ac != NULL && ac->err != 0)
            snprintf(why, size, "%s", ac->errstr);
        else if (ac == NULL)
            snprintf(why, size, "out of memory");
        if (ac != NULL)
            redisAsyncFree(ac);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    fp_err_t err;
    fp_err_clear(&err);
    if (fp_tls_relay_start(c->loop, fd, ip, c->port, c->host, on_relay, c, &c->relay, &err) < 0) {
        snprintf(why, size, "%s", err.msg);
        redisAsyncFree(ac);
        return NULL;
    }
    return ac;
}

void fp__conn_tls_release(fp_redis_conn_t *c)
{
    fp_tls_relay_t *r = c->relay;
    c->relay = NULL;
    fp_tls_relay_close(r);
}
