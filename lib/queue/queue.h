/* queue.h: the job source as the supervisor sees it. One implementation,
 * queue_redis.c and its neighbours (queue_internal.h lists them), on Redis
 * Streams through hiredis' async API on the supervisor's libuv loop. The supervisor says how many jobs it can take
 * (fp_queue_want); the queue pulls at most that many and hands them over;
 * outcomes are buffered and leave once per loop turn, one script call per
 * queue. Nothing here blocks the loop.
 *
 * The recovery half of the delivery contract lives here too, out of the
 * supervisor's way: the queue renews its claim on every entry it handed over
 * and has not seen settled (every recovery.visibility_timeout / 3), takes over
 * entries other consumers left pending longer than the visibility timeout
 * (handed over through on_jobs like pulled ones, within the same room, with
 * their delivery count), drops pending entries whose stream entry was
 * deleted, removes idle consumers with nothing pending, and moves due jobs
 * from the delayed set back to their stream. A visibility timeout of 0
 * (tests only; the config requires at least 3 s) turns renewal and take-over
 * off; a claim interval of 0 turns the periodic sweep off. */
#ifndef FORKPOOL_QUEUE_H
#define FORKPOOL_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "config/config.h"
#include "base/err.h"
#include "dispatch/job.h"

typedef struct fp_queue_s fp_queue_t;

/* One pulled entry. The receiver may steal entry_id and payload (set them to
 * NULL); whatever is left is freed by the queue after the callback. */
typedef struct fp_pulled_s {
    uint32_t queue;     /* index into the queue names given to fp_queue_new */
    char *entry_id;     /* stream entry id, e.g. "1700000000000-0" */
    char *payload;      /* the "job" field, NUL-terminated; NULL if the entry has none */
    size_t payload_len;
    /* Addition (queue engineer): times Redis delivered this entry, this
     * delivery included: 1 for a fresh pull; for this consumer's own pending
     * entries re-read after a (re)start and for entries taken over from other
     * consumers, the group's delivery counter (XPENDING). At least 1; 1 when
     * Redis could not tell. The supervisor sends an entry delivered more than
     * max_attempts times to dead ("delivered N times without an outcome"). */
    uint64_t deliveries;
    /* `forkpool cancel` marked it before this delivery: its previous holder
     * (this name's previous process, or a daemon whose entry was taken
     * over) died before taking the mark. The receiver settles it as
     * cancelled without starting it. */
    bool cancelled;
    /* Read as new (">"), not this consumer's own pending history nor taken
     * over: one the queue put in its stash goes back to the stream at a
     * drain (fp_queue_drain). Internal to the queue. */
    bool fresh;
} fp_pulled_t;

typedef struct fp_queue_events_s {
    /* Jobs arrived; n <= the room last given to fp_queue_want. */
    void (*on_jobs)(void *ctx, fp_pulled_t *jobs, size_t n);
    /* The queue became usable (connected, groups exist) or stopped being so. */
    void (*on_ready)(void *ctx, bool ready);
    /* `forkpool cancel` marked this held entry (queue index, entry id): seen
     * within FP_CANCEL_TAKE_MS of the mark (cancel_take.c), once per mark. */
    void (*on_cancel)(void *ctx, uint32_t queue, const char *entry_id);
    /* Redis turned this entry's retry (kind 'r') or put back ('p') into a
     * cancel: it was marked before its outcome arrived, so it went to the
     * dead stream as "cancelled" (the outcome script). payload[0..len): the
     * one that outcome carried (NULL, kind 0 when unknown). Called from a
     * reply: must not record outcomes. May be NULL. */
    void (*on_retry_cancelled)(void *ctx, uint32_t queue, const char *entry_id, char kind,
                               const char *payload, size_t len);
} fp_queue_events_t;

/* names: the queues to consume, in strict priority order (borrowed until
 * fp_queue_free). Connection details, prefix, group and consumer name come
 * from cfg (borrowed too). */
int fp_queue_new(uv_loop_t *loop, const fp_config_t *cfg, const char *const *names, size_t n,
                 const fp_queue_events_t *events, void *ctx, fp_queue_t **out, fp_err_t *err);

/* The same over a Redis Cluster: the queue's two connections follow the
 * master serving its slot through cl (lib/redis/cluster.h; borrowed, closed
 * after the queue) instead of going to redis.url's host, which then gives
 * user, password and TLS only. Every name must hash to one slot (in
 * practice: one queue per fp_queue_t), else FP_ECONFIG. A slot that moves
 * (MOVED, ASK, TRYAGAIN, CLUSTERDOWN, a failover) is followed as a lost
 * connection: not ready, re-located, own pending entries re-read, buffered
 * outcomes re-sent. Only this queue's keys may be used: fp_queue_eval,
 * heartbeats, the fleet and schedules touch other slots. cl NULL: as
 * fp_queue_new. */
struct fp_cluster_s;
int fp_queue_new_cluster(uv_loop_t *loop, const fp_config_t *cfg, const char *const *names,
                         size_t n, struct fp_cluster_s *cl, const fp_queue_events_t *events,
                         void *ctx, fp_queue_t **out, fp_err_t *err);

/* Connects (and reconnects with capped back-off when Redis goes away). */
int fp_queue_start(fp_queue_t *q);

/* The supervisor can take `room` more jobs. A pull starts when none is in
 * flight; while every queue is empty the pull blocks in Redis, so a job
 * enqueued later arrives at once. Room 0 stops pulling. */
void fp_queue_want(fp_queue_t *q, size_t room);

/* A job's attempt starts (a child runs it): a job whose "unique" member says
 * "until": "start" has its unique key released now (a compare-and-delete on
 * its id), not when it was handed over, since a handed-over job can still go
 * back to the stream unstarted (a put-back at drain) and must keep its key
 * while it waits. job: the entry's parsed payload. Nothing for other jobs. */
void fp_queue_started(fp_queue_t *q, uint32_t queue, const fp_job_t *job);

/* Outcomes, buffered until the end of the loop turn. */
void fp_queue_ack(fp_queue_t *q, uint32_t queue, const char *entry_id);
void fp_queue_dead(fp_queue_t *q, uint32_t queue, const char *entry_id, const char *payload,
                   size_t payload_len, const char *error, int64_t attempts);
/* The supervisor stops taking jobs for good (a drain): from now on what a
 * read brings beyond the room, and what waits in the stash as new, goes back
 * to the stream tail at once for other daemons, instead of waiting here for
 * room that will not come. This consumer's own pending history stays
 * pending (its delivery count kept). */
void fp_queue_drain(fp_queue_t *q);

/* Never-started jobs go back to the stream tail (re-add + XACK + XDEL). */
void fp_queue_put_back(fp_queue_t *q, uint32_t queue, const char *entry_id, const char *payload,
                       size_t payload_len);

/* Addition (queue engineer): failed with attempts left. The payload (as the
 * caller rewrote it, with attempt and last_error) goes to the delayed set,
 * due delay_ms after Redis' clock (TIME, the clock the delayed mover reads)
 * at the moment it is recorded, in the same atomic step as XACK + XDEL. A
 * delayed member is its payload, so the caller keeps payloads unique
 * (identical members collapse into one in a sorted set). */
void fp_queue_retry(fp_queue_t *q, uint32_t queue, const char *entry_id, const char *payload,
                    size_t payload_len, int64_t delay_ms);

/* Addition (queue engineer): the supervisor holds an entry it got from
 * elsewhere (not through on_jobs). After a reconnect the queue re-reads its
 * consumer's pending entries and skips the ones it knows are held, so a job
 * still running is not handed over twice; its outcome releases it. */
void fp_queue_hold(fp_queue_t *q, uint32_t queue, const char *entry_id);

/* Outcomes buffered or sent but not yet confirmed by Redis. */
size_t fp_queue_unconfirmed(const fp_queue_t *q);

/* For --burst: from now on, remember the retries fp_queue_retry schedules
 * (their delayed-set members), so that fp_queue_check_drained waits for them. */
void fp_queue_track_retries(fp_queue_t *q);

/* For --burst: calls cb(ctx, true) when no configured queue has ready or
 * pending entries (any consumer) and no retry remembered since
 * fp_queue_track_retries is still in the delayed set, else cb(ctx, false).
 * Members others put in the delayed set do not count. */
void fp_queue_check_drained(fp_queue_t *q, void (*cb)(void *ctx, bool drained), void *ctx);

bool fp_queue_is_ready(const fp_queue_t *q);

/* One EVAL of script on the writer connection (eval.c): args are the
 * nkeys keys, then the arguments (NUL-terminated texts, copied before the
 * call returns). cb runs once with the reply, or NULL when the connection
 * went before one came. Returns a negative errno, and cb never runs, when
 * nothing could be sent (the writer is down, the queue closing). */
struct redisReply;
typedef void (*fp_queue_reply_cb)(void *ctx, struct redisReply *reply);
int fp_queue_eval(fp_queue_t *q, const char *script, size_t nkeys, const char *const *args,
                  size_t nargs, fp_queue_reply_cb cb, void *ctx);

/* Why the queue is not ready (the last connection fault, "Redis is a replica",
 * a missing consumer group...); "" when it is, or when nothing was said. */
const char *fp_queue_down_reason(const fp_queue_t *q);

/* Reads every queue's depth (ready, pending, delayed, dead, oldest ready age)
 * with one read-only script call per queue on the writer connection, for the
 * metrics timer. cb runs once per queue, with stats NULL when Redis could not
 * answer (stats are borrowed for the call). Nothing is sent while the queue
 * is not ready or is closing: cb is then not called. */
struct fp_admin_queue_stats_s;
typedef void (*fp_queue_sample_cb)(void *ctx, uint32_t queue,
                                   const struct fp_admin_queue_stats_s *stats);
void fp_queue_sample(fp_queue_t *q, fp_queue_sample_cb cb, void *ctx);

/* Addition (queue engineer): what recovery did since fp_queue_new, for
 * metrics. Plain counters, only ever growing. */
typedef struct fp_queue_stats_s {
    uint64_t claimed;           /* entries taken over from other consumers */
    uint64_t renewed;           /* claim renewals Redis applied (per entry, per round) */
    uint64_t moved;             /* delayed jobs this daemon moved back to a stream */
    uint64_t dropped_deleted;   /* pending entries without a stream entry: acked, dropped */
    uint64_t consumers_removed; /* idle consumers with nothing pending removed */
    uint64_t sweeps;            /* take-over sweeps completed (every queue looked at) */
    uint64_t renew_rounds;      /* renewal rounds sent (one per vt/3 while holding) */
    uint64_t mover_rounds;      /* delayed-mover rounds completed (every queue) */
    uint64_t outcomes_stale;    /* outcomes not applied: the entry was no longer pending here */
    uint64_t renewals_lost;     /* held entries renewal found deleted or held elsewhere */
    uint64_t redis_commands;    /* replies (or losses) on the reader and writer connections */
    uint64_t redis_errors;      /* of those: error replies and commands lost */
    /* Addition (steer): the last non-blocking pull's round trip, send to
     * reply, outcomes riding on it included: what a refill of held jobs
     * takes (lib/pool/flow.h). Blocking reads are left out: they wait for
     * jobs, not for Redis. */
    int64_t read_rtt_us;
    uint64_t read_rtt_samples;  /* grows with each: a new sample to take */
    /* The embedded queue (lib/sqlq/aq.h): its file's size with the -wal,
     * read every few seconds; 0 for Redis. */
    int64_t file_bytes;
} fp_queue_stats_t;

void fp_queue_stats(const fp_queue_t *q, fp_queue_stats_t *out);

/* Stops pulling, disconnects, closes handles; cb runs once everything is
 * closed, after which the queue is freed. Outcomes still buffered are lost
 * to Redis but not to the user: their entries stay pending for recovery. */
void fp_queue_close(fp_queue_t *q, void (*cb)(void *ctx), void *ctx);

#endif
