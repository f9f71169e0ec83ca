/* aq.h: the embedded queue as the supervisor's job source: the calls of
 * queue/queue.h (fp_queue_*) over one SQLite file (store.h), for the mux
 * (queue/qmux.h) to route to when queue.backend is sqlite. Same contract
 * as the Redis backend (docs/embedded.md, "The daemon"): at-least-once with
 * leases of recovery.visibility_timeout renewed every third of it, delivery
 * counts, take-over of expired leases, own rows handed back after a
 * restart, outcomes buffered and committed once per loop turn in one
 * transaction, put-back at a drain.
 *
 * SQLite never runs on the loop thread after fp_aq_new: a worker thread
 * owns the connection; the loop posts requests into a list under a mutex
 * and the thread's results come back through a uv_async_t (coalescing: the
 * loop drains what accumulated). fp_aq_new itself opens the file (and checks
 * it whole, FP_SQLQ_CHECK) and takes daemon.name's guard synchronously,
 * before the loop runs, so that a foreign or damaged file or a name in use
 * stops the start with a clear error (exit 78) instead of a daemon that
 * never gets ready. */
#ifndef FORKPOOL_SQLQ_AQ_H
#define FORKPOOL_SQLQ_AQ_H

#include "queue/queue.h"
#include "sqlq/store.h"

typedef struct fp_aq_s fp_aq_t;

/* cfg->sqlite.path, daemon.name (the consumer), the visibility timeout and
 * the queue order come from cfg (borrowed, as names, until closed). */
int fp_aq_new(uv_loop_t *loop, const fp_config_t *cfg, const char *const *names, size_t n,
              const fp_queue_events_t *events, void *ctx, fp_aq_t **out, fp_err_t *err);
/* Starts the worker thread. */
int fp_aq_start(fp_aq_t *q);
void fp_aq_want(fp_aq_t *q, size_t room);
void fp_aq_ack(fp_aq_t *q, uint32_t queue, const char *entry_id);
void fp_aq_dead(fp_aq_t *q, uint32_t queue, const char *entry_id, const char *payload,
                size_t payload_len, const char *error, int64_t attempts);
void fp_aq_retry(fp_aq_t *q, uint32_t queue, const char *entry_id, const char *payload,
                 size_t payload_len, int64_t delay_ms);
void fp_aq_put_back(fp_aq_t *q, uint32_t queue, const char *entry_id, const char *payload,
                    size_t payload_len);
void fp_aq_drain(fp_aq_t *q);
void fp_aq_hold(fp_aq_t *q, uint32_t queue, const char *entry_id);
size_t fp_aq_unconfirmed(const fp_aq_t *q);
void fp_aq_track_retries(fp_aq_t *q);
void fp_aq_check_drained(fp_aq_t *q, void (*cb)(void *ctx, bool drained), void *ctx);
bool fp_aq_is_ready(const fp_aq_t *q);
const char *fp_aq_down_reason(const fp_aq_t *q);
/* At most FP_AQ_SAMPLERS distinct (cb, ctx) waiting at once. */
#define FP_AQ_SAMPLERS 4
void fp_aq_sample(fp_aq_t *q, fp_queue_sample_cb cb, void *ctx);
void fp_aq_stats(const fp_aq_t *q, fp_queue_stats_t *out);
/* A feature's work on the queue file (a schedule's tick, a limit's slot, a
 * cancel mark, a heartbeat): work runs on the worker thread with the store
 * and the time, inside no transaction (it opens its own: kv.h), with err
 * for its message; done then runs on the loop with work's return code and
 * that message ("" on success). arg is the caller's throughout: work fills
 * it, done reads and frees it. done is called exactly once per accepted
 * call (0 returned), in the order posted; a call still unanswered when
 * fp_aq_close runs is answered there (-ECANCELED when work never ran).
 * Once the queue is closing: -ECANCELED and done is not called. */
typedef int (*fp_aq_work_fn)(fp_sqlq_t *store, void *arg, int64_t now_ms, fp_err_t *err);
typedef void (*fp_aq_done_fn)(void *ctx, void *arg, int rc, const char *msg);
int fp_aq_call(fp_aq_t *q, fp_aq_work_fn work, void *arg, fp_aq_done_fn done, void *ctx);

/* Stops the thread (it commits the outcomes it was given first), joins it,
 * closes the file and the handles; cb once all is freed. */
void fp_aq_close(fp_aq_t *q, void (*cb)(void *ctx), void *ctx);

#endif
