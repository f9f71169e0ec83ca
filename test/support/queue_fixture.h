/* queue_fixture.h: plumbing for tests that drive the queue (lib/queue/,
 * queue.h) from a libuv loop in the test process against a real
 * redis-server (fp_tq_*): running the loop until a condition holds, the base
 * config a queue needs, Redis' own view of a queue's stream (XADD, XLEN,
 * XPENDING), and a node: one fp_queue_t with the supervisor's side of it
 * (what arrived through on_jobs, readiness, the room given), several of
 * which may share one loop as several daemons. */
#ifndef FP_TEST_QUEUE_FIXTURE_H
#define FP_TEST_QUEUE_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "config/config.h"
#include "queue/queue.h"
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

/* ---- a node: one queue and the supervisor's side of it --------------------- */

#define FP_TQ_MAX_GOT 2048
#define FP_TQ_DEADLINE_MS 20000 /* only stops a hang */

typedef struct fp_tq_got_s {
    uint32_t queue;
    char *id;      /* stolen from the queue */
    char *payload; /* stolen from the queue */
    uint64_t deliveries;
} fp_tq_got_t;

typedef struct fp_tq_node_s {
    uv_loop_t *loop;
    fp_config_t cfg; /* set by fp_tq_node_init; tests may change it before opening */
    char name[32], url[128];
    const char *names[4];
    fp_queue_t *q;
    bool ready, closed;
    size_t ready_changes; /* on_ready calls */
    size_t room;          /* the room last given, less what arrived since */
    bool over_room;       /* a delivery larger than the room */
    bool first_only;      /* assert that every delivery is a first one */
    fp_tq_got_t got[FP_TQ_MAX_GOT];
    size_t ngot;
    size_t held, max_held; /* jobs arrived and not yet given back by the test */
    size_t acked;          /* the test's own cursor into got */
    /* > 0: a small supervisor that holds at most `bound` jobs: every arrival
     * asks for the room left (fp_queue_want from inside on_jobs). */
    size_t bound;
    /* What on_retry_cancelled said last (a retry Redis turned into a cancel),
     * and how often it was called. */
    size_t retry_cancelled;
    char cancelled_id[48], cancelled_kind;
    char cancelled_payload[256];
} fp_tq_node_t;

/* Zeroes d and sets its config: consumer `name`, Redis at `url` (both
 * copied), as fp_tq_config_init. */
void fp_tq_node_init(fp_tq_node_t *d, uv_loop_t *loop, const char *name, const char *url);

/* fp_queue_new + fp_queue_start over n (1 to 4) queues (names borrowed),
 * asserting both succeed; does not wait for readiness. */
void fp_tq_node_open(fp_tq_node_t *d, const char *const *queues, size_t n);

/* fp_tq_node_open of one queue, then waits (asserted) until it is ready. */
void fp_tq_node_open_ready(fp_tq_node_t *d, const char *queue);

/* Gives the queue `room` (remembered to check deliveries against it). */
void fp_tq_node_want(fp_tq_node_t *d, size_t room);

/* Closes the queue if open (without outcomes: what it held stays pending to
 * its consumer, as after a crash) and runs the loop until it is (asserted). */
void fp_tq_node_close(fp_tq_node_t *d);

/* Frees what arrived; ngot and acked go back to 0. */
void fp_tq_node_got_clear(fp_tq_node_t *d);

/* The end of a test: closes the node, frees what arrived, and checks that
 * every handle on its loop was closed with it (uv_loop_close succeeds). */
void fp_tq_node_teardown(fp_tq_node_t *d);

fp_queue_stats_t fp_tq_node_stats(const fp_tq_node_t *d);

/* Run the node's loop until the condition holds or deadline_ms passes;
 * return whether it holds. */
bool fp_tq_wait_ready(fp_tq_node_t *d, bool ready, int deadline_ms);
bool fp_tq_wait_got(fp_tq_node_t *d, size_t n, int deadline_ms);
bool fp_tq_wait_confirmed(fp_tq_node_t *d, int deadline_ms);

/* Runs loop for ms: only for checks that something does NOT happen, where no
 * event marks the moment it would have. */
void fp_tq_run_for(uv_loop_t *loop, int ms);

#endif
