/* qmux.h: the job source as the supervisor sees it, over one or several
 * fp_queue_t ("parts", queue.h). With one Redis (redis.url, or Sentinel)
 * there is one part holding every configured queue and each call below is
 * exactly the fp_queue_* call of the same name: nothing changes on the wire.
 * Over a Redis Cluster every slot holding a queue gets its own part, whose
 * two connections follow that slot's master (fp_queue_new_cluster), and
 * this is the one place that maps the supervisor's queue index (its order
 * in the configuration) to a part and the part's own index, shares the
 * room between the parts and sums what they report.
 *
 * Room: each part is offered the whole room the supervisor gives; a
 * delivery from one part lowers the room every other part is offered at
 * once, so the supervisor never gets more than it asked for (a part's read
 * already in flight keeps what it brings beyond that in its stash).
 * Queues in different parts are read side by side: the strict priority
 * order (queues.order) holds among the queues of one part only.
 *
 * Calls about keys outside the queues' slots (fp_qmux_eval for limits,
 * heartbeats, the fleet) go to the single part's writer; over a Cluster to
 * a side connection following the slot of their first key (the fleet's
 * for a script without keys), which answers -ENOTCONN (cb not called)
 * until it is up. */
#ifndef FORKPOOL_QMUX_H
#define FORKPOOL_QMUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "queue/heartbeat.h"
#include "queue/queue.h"
#include "queue/schedule.h"

typedef struct fp_qmux_s fp_qmux_t;
struct fp_cluster_s;

/* As fp_queue_new; cl (borrowed, closed after the mux) NULL for one part,
 * else one part per slot of the names' keys, each following its slot
 * through cl. Events report the supervisor's queue indexes; on_ready says
 * whether any part is usable (with one part: whether it is), so that a
 * Cluster master that fails stops only the queues it serves. */
int fp_qmux_new(uv_loop_t *loop, const fp_config_t *cfg, const char *const *names, size_t n,
                struct fp_cluster_s *cl, const fp_queue_events_t *events, void *ctx,
                fp_qmux_t **out, fp_err_t *err);
size_t fp_qmux_parts(const fp_qmux_t *m);

/* With queue.backend sqlite every call goes to the embedded queue
 * (lib/sqlq/aq.h) instead, which has no scripts: fp_qmux_eval answers
 * -ENOTSUP (nothing sends scripts there); heartbeats and the fleet
 * (sqlq/aq_fleet.h), schedules and unique keys' release at start
 * (sqlq/aq_schedule.h, sqlq/aq_unique.h) run as SQL on the queue file. */
/* Whether the backend guards daemon.name itself (the embedded queue's lock
 * on its file, taken by fp_qmux_new), so no Redis name lease is needed. */
bool fp_qmux_guards_name(const fp_qmux_t *m);

int fp_qmux_start(fp_qmux_t *m);
void fp_qmux_want(fp_qmux_t *m, size_t room);
void fp_qmux_started(fp_qmux_t *m, uint32_t queue, const fp_job_t *job);
void fp_qmux_ack(fp_qmux_t *m, uint32_t queue, const char *entry_id);
void fp_qmux_dead(fp_qmux_t *m, uint32_t queue, const char *entry_id, const char *payload,
                  size_t payload_len, const char *error, int64_t attempts);
void fp_qmux_drain(fp_qmux_t *m);
void fp_qmux_put_back(fp_qmux_t *m, uint32_t queue, const char *entry_id, const char *payload,
                      size_t payload_len);
void fp_qmux_retry(fp_qmux_t *m, uint32_t queue, const char *entry_id, const char *payload,
                   size_t payload_len, int64_t delay_ms);
void fp_qmux_hold(fp_qmux_t *m, uint32_t queue, const char *entry_id);
/* Summed over the parts. */
size_t fp_qmux_unconfirmed(const fp_qmux_t *m);
void fp_qmux_track_retries(fp_qmux_t *m);
/* cb(ctx, true) once every part is drained, cb(ctx, false) otherwise; once. */
void fp_qmux_check_drained(fp_qmux_t *m, void (*cb)(void *ctx, bool drained), void *ctx);
/* Every part is ready (/readyz: all queues served). */
bool fp_qmux_is_ready(const fp_qmux_t *m);
/* The first part not ready's reason; "" when all are. */
const char *fp_qmux_down_reason(const fp_qmux_t *m);
/* cb gets the supervisor's queue index. At most FP_QMUX_SAMPLERS distinct
 * (cb, ctx) pairs over a mux's life (the supervisor has two). */
#define FP_QMUX_SAMPLERS 4
void fp_qmux_sample(fp_qmux_t *m, fp_queue_sample_cb cb, void *ctx);
void fp_qmux_stats(const fp_qmux_t *m, fp_queue_stats_t *out);
int fp_qmux_schedule(fp_qmux_t *m, uint32_t queue, const fp_schedule_t *s, const int64_t *ticks,
                     size_t n, fp_schedule_cb cb, void *ctx);

/* Outside the queues' slots (see above). */
int fp_qmux_eval(fp_qmux_t *m, const char *script, size_t nkeys, const char *const *args,
                 size_t nargs, fp_queue_reply_cb cb, void *ctx);
int fp_qmux_heartbeat(fp_qmux_t *m, const char *id, const char *record, int64_t ttl_ms,
                      void (*cb)(void *ctx, bool ok), void *ctx);
int fp_qmux_heartbeat_clear(fp_qmux_t *m, const char *id, const char *token,
                            void (*cb)(void *ctx, bool ok), void *ctx);
int fp_qmux_fleet_read(fp_qmux_t *m, void (*cb)(void *ctx, fp_fleet_t *fleet), void *ctx);

/* Closes every part; cb once all are closed, after which the mux is freed. */
void fp_qmux_close(fp_qmux_t *m, void (*cb)(void *ctx), void *ctx);

#endif
