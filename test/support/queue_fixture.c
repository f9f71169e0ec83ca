/* queue_fixture.c: the loop driver, base config and Redis-side reads shared by
 * the tests that drive the queue layer in-process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "queue_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_deadline(uv_timer_t *timer)
{
    *(bool *)timer->data = true;
}

static void on_tick(uv_timer_t *timer)
{
    (void)timer; /* only wakes the loop so conditions on Redis get checked */
}

bool fp_tq_run_until(uv_loop_t *loop, fp_tq_cond_fn cond, void *ctx, size_t arg,
                     int deadline_ms)
{
    uv_timer_t deadline, tick;
    bool expired = false;
    uv_timer_init(loop, &deadline);
    uv_timer_init(loop, &tick);
    deadline.data = &expired;
    uv_timer_start(&deadline, on_deadline, (uint64_t)deadline_ms, 0);
    uv_timer_start(&tick, on_tick, 10, 10);
    while (!cond(ctx, arg) && !expired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&deadline, NULL);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_NOWAIT); /* the closes complete before the stack goes */
    return cond(ctx, arg);
}

void fp_tq_config_init(fp_config_t *cfg, const char *name, const char *url)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->source = (char *)"(test)";
    cfg->daemon.name = (char *)name;
    cfg->redis.url = (char *)url;
    cfg->redis.prefix = (char *)"fp";
    cfg->redis.group = (char *)"forkpool";
    cfg->redis.connect_timeout_ms = 2000;
    cfg->limits.max_job_bytes = 1 << 20;
}

char *fp_tq_key(const char *queue, const char *kind)
{
    static char buf[4][256];
    static int next;
    char *k = buf[next++ % 4];
    snprintf(k, 256, "fp:{%s}:%s", queue, kind);
    return k;
}

char *fp_tq_xadd(fp_th_redis_t *r, const char *queue, const char *payload)
{
    redisReply *reply = fp_th_redis_cmd(r, "XADD %s * job %s", fp_tq_key(queue, "jobs"), payload);
    assert_non_null(reply);
    assert_int_equal(reply->type, REDIS_REPLY_STRING);
    char *id = strdup(reply->str);
    freeReplyObject(reply);
    return id;
}

void fp_tq_xadd_n(fp_th_redis_t *r, const char *queue, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char payload[64];
        snprintf(payload, sizeof payload, "{\"type\":\"noop\",\"args\":{\"i\":%zu}}", i);
        free(fp_tq_xadd(r, queue, payload));
    }
}

long long fp_tq_xlen(fp_th_redis_t *r, const char *queue)
{
    return fp_th_redis_int(r, "XLEN %s", fp_tq_key(queue, "jobs"));
}

long long fp_tq_pending(fp_th_redis_t *r, const char *queue)
{
    redisReply *reply = fp_th_redis_cmd(r, "XPENDING %s forkpool", fp_tq_key(queue, "jobs"));
    assert_non_null(reply);
    long long n = reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
                          reply->element[0]->type == REDIS_REPLY_INTEGER
                      ? reply->element[0]->integer
                      : -1;
    freeReplyObject(reply);
    return n;
}
