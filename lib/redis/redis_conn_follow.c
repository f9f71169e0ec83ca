/* redis_conn_follow.c: a connection being told where to go (redis_conn.h):
 * the locator's answer before an attempt, a master that moved (drop now, or
 * stop waiting out the back-off), and the one subscription a watch
 * connection holds, whose replies bypass the command FIFO. */
#include "redis/redis_conn_internal.h"

#include <stdio.h>
#include <string.h>

void fp__conn_set_target(fp_redis_conn_t *c, const char *host, int port)
{
    snprintf(c->host, sizeof c->host, "%s", host);
    c->port = port;
    if (strchr(c->host, ':') != NULL)
        snprintf(c->where, sizeof c->where, "[%s]:%d", c->host, c->port);
    else
        snprintf(c->where, sizeof c->where, "%s:%d", c->host, c->port);
}

void fp_redis_conn_located(fp_redis_conn_t *c, const char *host, int port, const char *why)
{
    if (c->state != ST_LOCATING)
        return;
    if (host == NULL) {
        fp__conn_lost(c, why != NULL ? why : "the master's address is not known");
        return;
    }
    fp__conn_set_target(c, host, port);
    fp__conn_connect_host(c);
}

void fp_redis_conn_follow(fp_redis_conn_t *c, const char *host, int port, const char *reason)
{
    if (c->state == ST_WAITING) {
        /* The new master is known: no reason to wait out a back-off that
         * grew while the old one was gone. */
        c->losses = 0;
        c->faulted = false;
        uv_timer_start(&c->backoff_timer, fp__conn_on_backoff, 0, 0);
        return;
    }
    bool connected = c->state == ST_CONNECTING || c->state == ST_HANDSHAKE || c->state == ST_UP;
    if (!connected || (c->port == port && strcmp(c->host, host) == 0))
        return;
    c->losses = 0;
    c->faulted = false;
    fp_redis_conn_drop(c, reason);
}

/* Subscription replies bypass the command FIFO: hiredis calls this for the
 * SUBSCRIBE's own answer and for every message, and once with NULL when the
 * context goes. */
static void on_sub_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    fp_redis_conn_t *c = privdata;
    const redisReply *m = r;
    (void)ac;
    if (m == NULL || c->sub_cb == NULL || c->state == ST_CLOSING)
        return;
    if (m->type == REDIS_REPLY_ARRAY && m->elements == 3 &&
        m->element[0]->type == REDIS_REPLY_STRING && strcmp(m->element[0]->str, "message") == 0 &&
        m->element[2]->type == REDIS_REPLY_STRING)
        c->sub_cb(c, m->element[2]->str, m->element[2]->len, c->sub_ctx);
}

int fp_redis_conn_subscribe(fp_redis_conn_t *c, const char *channel, fp_redis_message_cb cb,
                            void *ctx)
{
    if (!fp_redis_conn_is_up(c))
        return FP_EREDIS;
    c->sub_cb = cb;
    c->sub_ctx = ctx;
    const char *argv[] = {"SUBSCRIBE", channel};
    size_t lens[] = {9, strlen(channel)};
    if (redisAsyncCommandArgv(c->ac, on_sub_reply, c, 2, argv, lens) != REDIS_OK)
        return FP_EREDIS;
    return 0;
}
