/* qmux_limits.c: the limit calls (qmux_limits.h) routed to the backend:
 * the embedded queue's lib/sqlq/limits_call.c, or Redis' scripts sent
 * through fp_qmux_eval (which picks the connection of the keys' slot over
 * a Cluster) with their replies read into the calls' shapes. */
#include "queue/qmux_limits.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <hiredis/hiredis.h>

#include "limits/limit_script.h"
#include "queue/qmux_internal.h"

typedef struct redis_call_s {
    fp_limit_take_cb take_cb;
    fp_limit_release_cb release_cb;
    fp_limit_renew_cb renew_cb;
    void *ctx;
} redis_call_t;

static const char *why_failed(const redisReply *r)
{
    return r == NULL ? "connection lost" : r->str != NULL ? r->str : "unexpected reply";
}

static void on_reply(void *ctx, redisReply *r)
{
    redis_call_t *c = ctx;
    if (c->take_cb != NULL) {
        fp_limit_reply_t rep = {0};
        int rc = fp_limit_take_reply(r, &rep);
        c->take_cb(c->ctx, rc, &rep, rc < 0 ? why_failed(r) : "");
    } else if (c->release_cb != NULL) {
        c->release_cb(c->ctx, r == NULL || r->type == REDIS_REPLY_ERROR ? -EPROTO : 0);
    } else {
        bool ok = r != NULL && r->type == REDIS_REPLY_INTEGER;
        c->renew_cb(c->ctx, ok ? 0 : -EPROTO, ok ? r->integer : 0);
    }
    free(c);
}

/* Sends script with args (args[0] the running set's key); takes c. */
static int send_script(fp_qmux_t *m, const char *script, size_t nkeys, const char *const *args,
                size_t nargs, redis_call_t *c)
{
    int rc = c != NULL ? fp_qmux_eval(m, script, nkeys, args, nargs, on_reply, c) : -ENOMEM;
    if (rc < 0)
        free(c);
    return rc;
}

static redis_call_t *call_new(redis_call_t c)
{
    redis_call_t *out = malloc(sizeof *out);
    if (out != NULL)
        *out = c;
    return out;
}

int fp_qmux_limit_take(fp_qmux_t *m, const fp_limit_ask_t *ask, fp_limit_take_cb cb, void *ctx)
{
    if (m->aq != NULL)
        return fp_aq_limit_take(m->aq, ask, cb, ctx);
    char limit[24], lease[24], interval[24], tolerance[24];
    snprintf(limit, sizeof limit, "%lld", (long long)ask->concurrency);
    snprintf(lease, sizeof lease, "%lld", (long long)ask->lease_ms);
    snprintf(interval, sizeof interval, "%lld", (long long)ask->interval_us);
    snprintf(tolerance, sizeof tolerance, "%lld", (long long)ask->tolerance_us);
    char *running = fp_limit_running_key(m->cfg->redis.prefix, ask->type);
    char *rate = fp_limit_rate_key(m->cfg->redis.prefix, ask->type);
    int rc = -ENOMEM;
    if (running != NULL && rate != NULL) {
        const char *member = ask->member != NULL ? ask->member : "";
        const char *args[] = {running, rate, member, limit, lease, interval, tolerance};
        rc = send_script(m, fp_limit_take_lua, 2, args, 7,
                  call_new((redis_call_t){.take_cb = cb, .ctx = ctx}));
    }
    free(running);
    free(rate);
    return rc;
}

int fp_qmux_limit_release(fp_qmux_t *m, const char *type, const char *member,
                          fp_limit_release_cb cb, void *ctx)
{
    static const char script[] = "return redis.call('ZREM', KEYS[1], ARGV[1])";
    if (m->aq != NULL)
        return fp_aq_limit_release(m->aq, type, member, cb, ctx);
    char *running = fp_limit_running_key(m->cfg->redis.prefix, type);
    int rc = -ENOMEM;
    if (running != NULL) {
        const char *args[] = {running, member};
        rc = send_script(m, script, 1, args, 2,
                  call_new((redis_call_t){.release_cb = cb, .ctx = ctx}));
    }
    free(running);
    return rc;
}

int fp_qmux_limit_renew(fp_qmux_t *m, const char *type, int64_t lease_ms,
                        const char *const *members, size_t n, fp_limit_renew_cb cb, void *ctx)
{
    if (m->aq != NULL)
        return fp_aq_limit_renew(m->aq, type, lease_ms, members, n, cb, ctx);
    char lease[24];
    snprintf(lease, sizeof lease, "%lld", (long long)lease_ms);
    char *running = fp_limit_running_key(m->cfg->redis.prefix, type);
    const char **args = malloc((n + 2) * sizeof *args);
    int rc = -ENOMEM;
    if (running != NULL && args != NULL) {
        args[0] = running;
        args[1] = lease;
        for (size_t i = 0; i < n; i++)
            args[i + 2] = members[i];
        rc = send_script(m, fp_limit_renew_lua, 1, args, n + 2,
                  call_new((redis_call_t){.renew_cb = cb, .ctx = ctx}));
    }
    free(args);
    free(running);
    return rc;
}
