/* queue_fixture.c: the loop driver, base config, Redis-side reads and the
 * node (a queue with the supervisor's side of it) shared by the tests that
 * drive the queue layer in-process. */
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
    static char buf[8][256];
    static int next;
    char *k = buf[next++ % 8];
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

/* ---- a node ------------------------------------------------------------------ */

static void node_on_jobs(void *ctx, fp_pulled_t *jobs, size_t n)
{
    fp_tq_node_t *d = ctx;
    if (n > d->room)
        d->over_room = true;
    d->room = d->room >= n ? d->room - n : 0;
    for (size_t i = 0; i < n && d->ngot < FP_TQ_MAX_GOT; i++) {
        if (d->first_only)
            assert_int_equal(jobs[i].deliveries, 1);
        fp_tq_got_t *g = &d->got[d->ngot++];
        g->queue = jobs[i].queue;
        g->id = jobs[i].entry_id;
        g->payload = jobs[i].payload;
        g->deliveries = jobs[i].deliveries;
        jobs[i].entry_id = jobs[i].payload = NULL;
    }
    d->held += n;
    if (d->held > d->max_held)
        d->max_held = d->held;
    if (d->bound > 0) {
        d->room = d->held <= d->bound ? d->bound - d->held : 0;
        fp_queue_want(d->q, d->room);
    }
}

static void node_on_ready(void *ctx, bool ready)
{
    fp_tq_node_t *d = ctx;
    d->ready = ready;
    d->ready_changes++;
}

static void node_on_retry_cancelled(void *ctx, uint32_t queue, const char *entry_id, char kind,
                                    const char *payload, size_t len)
{
    fp_tq_node_t *d = ctx;
    (void)queue;
    d->retry_cancelled++;
    d->cancelled_kind = kind;
    snprintf(d->cancelled_id, sizeof d->cancelled_id, "%s", entry_id);
    snprintf(d->cancelled_payload, sizeof d->cancelled_payload, "%.*s",
             payload != NULL ? (int)len : 0, payload != NULL ? payload : "");
}

static void node_on_closed(void *ctx)
{
    ((fp_tq_node_t *)ctx)->closed = true;
}

void fp_tq_node_init(fp_tq_node_t *d, uv_loop_t *loop, const char *name, const char *url)
{
    memset(d, 0, sizeof *d);
    d->loop = loop;
    snprintf(d->name, sizeof d->name, "%s", name);
    snprintf(d->url, sizeof d->url, "%s", url);
    fp_tq_config_init(&d->cfg, d->name, d->url);
}

void fp_tq_node_open(fp_tq_node_t *d, const char *const *queues, size_t n)
{
    static const fp_queue_events_t events = {node_on_jobs, node_on_ready, NULL,
                                             node_on_retry_cancelled};
    assert_null(d->q);
    assert_true(n >= 1 && n <= sizeof d->names / sizeof d->names[0]);
    for (size_t i = 0; i < n; i++)
        d->names[i] = queues[i];
    d->closed = false;
    d->ready = false;
    fp_err_t err;
    fp_err_clear(&err);
    assert_int_equal(fp_queue_new(d->loop, &d->cfg, d->names, n, &events, d, &d->q, &err), 0);
    assert_int_equal(fp_queue_start(d->q), 0);
}

void fp_tq_node_open_ready(fp_tq_node_t *d, const char *queue)
{
    fp_tq_node_open(d, &queue, 1);
    assert_true(fp_tq_wait_ready(d, true, FP_TQ_DEADLINE_MS));
}

void fp_tq_node_want(fp_tq_node_t *d, size_t room)
{
    d->room = room;
    fp_queue_want(d->q, room);
}

static bool node_closed(void *ctx, size_t arg)
{
    (void)arg;
    return ((fp_tq_node_t *)ctx)->closed;
}

void fp_tq_node_close(fp_tq_node_t *d)
{
    if (d->q == NULL)
        return;
    fp_queue_close(d->q, node_on_closed, d);
    assert_true(fp_tq_run_until(d->loop, node_closed, d, 0, FP_TQ_DEADLINE_MS));
    d->q = NULL;
}

void fp_tq_node_got_clear(fp_tq_node_t *d)
{
    for (size_t i = 0; i < d->ngot; i++) {
        free(d->got[i].id);
        free(d->got[i].payload);
    }
    d->ngot = 0;
    d->acked = 0;
}

void fp_tq_node_teardown(fp_tq_node_t *d)
{
    fp_tq_node_close(d);
    fp_tq_node_got_clear(d);
    uv_run(d->loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(d->loop), 0);
}

fp_queue_stats_t fp_tq_node_stats(const fp_tq_node_t *d)
{
    fp_queue_stats_t s;
    fp_queue_stats(d->q, &s);
    return s;
}

static bool node_ready_is(void *ctx, size_t ready)
{
    return ((fp_tq_node_t *)ctx)->ready == (ready != 0);
}

static bool node_got(void *ctx, size_t n)
{
    return ((fp_tq_node_t *)ctx)->ngot >= n;
}

static bool node_confirmed(void *ctx, size_t arg)
{
    (void)arg;
    return fp_queue_unconfirmed(((fp_tq_node_t *)ctx)->q) == 0;
}

bool fp_tq_wait_ready(fp_tq_node_t *d, bool ready, int deadline_ms)
{
    return fp_tq_run_until(d->loop, node_ready_is, d, ready, deadline_ms);
}

bool fp_tq_wait_got(fp_tq_node_t *d, size_t n, int deadline_ms)
{
    return fp_tq_run_until(d->loop, node_got, d, n, deadline_ms);
}

bool fp_tq_wait_confirmed(fp_tq_node_t *d, int deadline_ms)
{
    return fp_tq_run_until(d->loop, node_confirmed, d, 0, deadline_ms);
}

static bool never(void *ctx, size_t arg)
{
    (void)ctx;
    (void)arg;
    return false;
}

void fp_tq_run_for(uv_loop_t *loop, int ms)
{
    fp_tq_run_until(loop, never, NULL, 0, ms);
}
