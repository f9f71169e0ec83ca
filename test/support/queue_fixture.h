/* queue_fixture.h: plumbing for tests that drive lib/queue/queue_redis.c from a
 * libuv loop in the test process against a real redis-server (fp_tq_*):
 * running the loop until a condition holds, the base config a queue needs,
 * and Redis' own view of a queue's stream (XADD, XLEN, XPENDING). */
#ifndef FP_TEST_QUEUE_FIXTURE_H
#define FP_TEST_QUEUE_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "config/config.h"
#include "redis_server.h"

/* A condition on the test's state (ctx), with one argument. */
typedef bool (*fp_tq_cond_fn)(void *ctx, size_t arg);

/* Runs loop until cond(ctx, arg) holds or deadline_ms passes, waking every
 * 10 ms so conditions on Redis get checked; returns cond's last answer. The
 * timers it adds are closed before it returns. */
bool fp_tq_run_until(uv_loop_t *loop, fp_tq_cond_fn cond, void *ctx, size_t arg,
                     int deadline_ms);

/* Zeroes cfg and sets what fp_queue_new needs: consumer name, Redis URL
 * (both kept by pointer), prefix "fp", group "forkpool", a 2 s connect
 * timeout and 1 MiB jobs. */
void fp_tq_config_init(fp_config_t *cfg, const char *name, const char *url);

/* "fp:{queue}:kind", in one of four rotating static buffers. */
char *fp_tq_key(const char *queue, const char *kind);

/* XADDs a job to queue's stream; returns its id (owned). */
char *fp_tq_xadd(fp_th_redis_t *r, const char *queue, const char *payload);
/* n noop jobs {"type":"noop","args":{"i":I}}, I from 0. */
void fp_tq_xadd_n(fp_th_redis_t *r, const char *queue, size_t n);
long long fp_tq_xlen(fp_th_redis_t *r, const char *queue);
/* The group's pending count (every consumer), from XPENDING's summary. */
long long fp_tq_pending(fp_th_redis_t *r, const char *queue);

#endif
