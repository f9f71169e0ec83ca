/* queue_internal.h: INTERNAL to lib/queue/ — the state of one fp_queue_t
 * (queue.h) as the files that implement it share it. Not a public header:
 * nothing outside lib/queue/ includes it.
 *
 * The queue talks to Redis over two connections on the supervisor's loop:
 * the reader only runs XREADGROUP ">" (which may block), the writer runs
 * everything else, so a blocking read never delays an acknowledgement. Each
 * part of the state below is owned by the one file that changes it:
 *   queue_redis.c  lifecycle, the per-turn prepare callback, the retry timer
 *   setup.c        connection reports, groups and scripts, readiness (conn)
 *   handover.c     taking a reply's entries and handing them over (rd.out,
 *                  rd.stash)
 *   pump.c         which read runs next and its replies (rd), through the
 *                  read planner (read_plan.c, plan)
 *   takeover.c     take-over sweep and idle consumer clean-up (takeover)
 *   renew.c        claim renewal of held entries (renew)
 *   cancel_take.c  taking the cancel marks of held entries (cancels)
 *   mover.c        delayed jobs back to their stream (mover)
 *   outbox.c       outcome batches, and outcomes riding with a pull (outbox)
 *   drained.c      --burst's drained check and retry marks (drained)
 *   sample.c       queue depth sampling for metrics
 *   unique_take.c  unique jobs: marks handed-over ones, releases "until start" keys at start
 * The held set (held_set.c) is shared: pulls add to it, confirmed outcomes
 * remove from it, renewal marks it. */
#ifndef FORKPOOL_QUEUE_INTERNAL_H
#define FORKPOOL_QUEUE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "queue/held_set.h"
#include "queue/queue.h"
#include "queue/queue_scripts.h"
#include "queue/read_plan.h"
#include "queue/takeover_token.h"
#include "redis/redis_conn.h"
#include "redis/redis_url.h"
#include "redis/sentinel.h"

#define LOG "redis"

/* ---- shared types -------------------------------------------------------- */

/* Up to FP_OUTCOMES_PER_CALL outcomes of one queue, encoded once as script
 * arguments; re-sent as they are after a lost connection. */
typedef struct fp_batch_s {
    struct fp_batch_s *next;
    struct fp_queue_s *q;
    uint32_t queue;
    bool sent;     /* waiting for Redis' answer */
    bool use_eval; /* Redis answered NOSCRIPT: send the script text next time */
    /* Redis may have applied it already: a send's reply was lost or its
     * script failed part-way, or its outcomes repeat ones recorded before
     * (their entries were settling or settled). Its failures then never
     * land on an entry pending to nobody (queue_scripts.c). */
    bool again;
    /* The smallest take-over epoch its entries were read at (0: one was not
     * a fresh read; UINT32_MAX: no entry yet), for fp_takeover_arg. */
    uint32_t epoch;
    size_t count;
    fp_resp_t args;
    fp_sid_t *ids;
    size_t ids_cap;
} fp_batch_t;

/* A retry this daemon scheduled, as its delayed-set member (what
 * fp_queue_retry got), kept for --burst until it has left the delayed set. */
typedef struct fp_retry_mark_s {
    char *member;
    size_t len;
} fp_retry_mark_t;

/* One consumed queue. */
typedef struct fp_qstate_s {
    const char *name;
    char *jobs_key, *dead_key, *delayed_key, *cancel_key, *takeover_key;
    fp_takeover_view_t takeover; /* the token the last outcome reply carried */
    uint32_t read_epoch;         /* takeover.epoch when the read in flight was sent */
    fp_batch_t *head, *tail; /* outcomes in order; only the tail takes more */
    bool history;            /* this consumer's pending entries still to re-read */
    char cursor[48];         /* last id seen by the history read */
    char counted[48];        /* own pending entries up to this id were counted as
                              * delivered to this process; "+": all of them */
    fp_retry_mark_t *marks;  /* only with fp_queue_track_retries */
    size_t marks_n, marks_cap;
    unsigned marks_gen;      /* bumped when marks are pruned (positions change) */
} fp_qstate_t;

/* A script besides the outcome and drained ones: its SHA and whether the next
 * call goes as EVAL (Redis answered NOSCRIPT). */
typedef struct fp_script_s {
    const char *text;
    const char *what; /* for messages */
    char sha[41];
    bool eval;
} fp_script_t;

/* ---- each file's part of the state ---------------------------------------- */

/* setup.c: the connections' state and readiness. */
typedef struct fp_q_conn_s {
    fp_redis_url_t url;
    bool reader_up, writer_up;
    bool setup_done, setup_running, setup_failed;
    size_t setup_left;
    bool ready;          /* last value reported through on_ready */
    bool ever_ready;
    bool failure_logged; /* "cannot connect" said once until the next success */
    char down_reason[256];
    long long reader_id; /* CLIENT ID of the reader, for CLIENT UNBLOCK; -1 unknown */
    bool cluster;        /* follows a Redis Cluster slot (fp_queue_new_cluster) */
    char warned[256];    /* Cluster: the last loss said at warning level, and when */
    uint64_t warned_ms;
    bool quiet_up;       /* the last loss was said at debug level: its end too */
} fp_q_conn_t;

/* setup.c loads them; each is used by the file its name says. */
typedef struct fp_q_scripts_s {
    char outcome_sha[41], drained_sha[41];
    fp_script_t claim, consumers, mover, history;
    fp_script_t renew; /* claim renewal (fp_script_renew) */
    fp_script_t cancel_take; /* cancel marks (fp_script_cancel_take) */
} fp_q_scripts_t;

/* queue_redis.c: "try again later" (LOADING, BUSY, a failed setup). */
typedef struct fp_q_retry_s {
    uv_timer_t timer;
    int64_t failures; /* in a row: the back-off step */
    bool armed;
    char last_error[160]; /* to log a repeated error once */
} fp_q_retry_t;

/* pump.c (the read slot) and handover.c (out, stash). */
typedef struct fp_q_read_s {
    size_t room;
    bool in_flight;
    fp_read_step_kind_t kind; /* FP_READ_HISTORY, _SWEEP, _BLOCK or _CLAIM */
    size_t queue;             /* the queue of a history, sweep or claim read in flight */
    size_t count;             /* COUNT of the read in flight */
    int64_t sent_us;          /* when the read in flight was sent (monotonic) */
    bool combined;            /* the read in flight follows an outcome batch (writer) */
    unsigned history_gen;     /* bumped when history restarts from 0 */
    unsigned read_gen;        /* history_gen when the history read in flight was sent */
    char last_id[48];         /* last entry id of the reply being taken */
    size_t block_total;       /* most entries the blocking read in flight may bring */
    bool unblock_sent;
    fp_pulled_t *out;         /* entries of one reply, before they are handed over */
    size_t out_n, out_cap;
    fp_pulled_t *stash;       /* own pending entries beyond the room, handed over later */
    size_t stash_n, stash_cap;
} fp_q_read_t;

/* takeover.c */
typedef struct fp_q_takeover_s {
    uv_timer_t timer;
    bool due;                   /* a take-over sweep is to run */
    size_t queue;               /* next queue of that sweep */
    size_t want;                /* want of the take-over call in flight */
    size_t consumers_in_flight; /* consumer clean-up calls unanswered */
} fp_q_takeover_t;

/* renew.c */
typedef struct fp_q_renew_s {
    uv_timer_t timer;
    size_t in_flight;
    /* Every held entry's idle time was reset at or after this (monotonic
     * µs): the send of the last complete round, or a moment nothing was
     * held, or the send of the read in flight then if earlier. For
     * fp_takeover_leases_fresh. */
    int64_t fresh_since_us;
    int64_t round_sent_us; /* that time for the round in flight */
    bool round_failed;     /* one of its calls was not answered as a renewal */
    fp_held_entry_t *ids;
    size_t cap;
    fp_resp_t args;
} fp_q_renew_t;

/* cancel_take.c */
typedef struct fp_q_cancels_s {
    uv_timer_t timer;
    size_t in_flight; /* take calls unanswered */
} fp_q_cancels_t;

/* mover.c */
typedef struct fp_q_mover_s {
    uv_timer_t timer;
    size_t left;  /* mover calls of the round still unanswered (+1 while sending) */
    bool again;   /* a full batch moved (or NOSCRIPT): next round at once */
    int64_t wait; /* ms until the next round */
} fp_q_mover_t;

/* outbox.c */
typedef struct fp_q_outbox_s {
    size_t unconfirmed;
    fp_batch_t *spare; /* emptied batches kept for their buffers */
    size_t spare_n;
} fp_q_outbox_t;

/* drained.c */
typedef struct fp_q_drained_s {
    bool track_retries;   /* --burst: remember the retries scheduled (fp_qstate_t.marks) */
    bool marks_lost;      /* one could not be remembered: never report drained */
    fp_resp_t marks_args; /* the marks of one drained call */
} fp_q_drained_t;

/* queue_redis.c */
typedef struct fp_q_life_s {
    bool started, closing;
    bool draining; /* fp_queue_drain: nothing new waits in the stash */
    uv_prepare_t prepare;
    int open_parts; /* handles and connections still closing */
    void (*close_cb)(void *ctx);
    void *close_ctx;
} fp_q_life_t;

struct fp_queue_s {
    uv_loop_t *loop;
    const fp_config_t *cfg;
    fp_queue_events_t events;
    void *ctx;
    fp_qstate_t *qs;
    size_t n;
    fp_redis_conn_t *reader, *writer;
    fp_sentinel_t *sentinel; /* with redis.sentinels: where reader and writer go */
    int64_t vt_ms; /* visibility timeout; 0: no renewal, no take-over */
    fp_held_set_t held;
    fp_queue_stats_t stats;
    fp_resp_t scratch; /* one script call being assembled */
    fp_q_life_t life;
    fp_q_conn_t conn;
    fp_q_scripts_t scripts;
    fp_q_retry_t retry;
    fp_q_read_t rd;
    fp_read_plan_t plan;
    fp_q_takeover_t takeover;
    fp_q_renew_t renew;
    fp_q_cancels_t cancels;
    fp_q_mover_t mover;
    fp_q_outbox_t outbox;
    fp_q_drained_t drained;
};

/* ---- queue_redis.c: helpers every file uses ------------------------------- */

/* r is an error reply with this code ("NOSCRIPT", "NOGROUP"...). */
bool fp_q_reply_is_error(const redisReply *r, const char *code);
/* Logs an error reply once per distinct text, then at debug level. */
void fp_q_log_error_once(fp_queue_t *q, const char *what, const redisReply *r);
void fp_q_arm_retry(fp_queue_t *q);
void fp_q_retry_reset(fp_queue_t *q);
/* Every queue's own pending entries are to be re-read from the start. */
void fp_q_all_history(fp_queue_t *q);
void fp_q_pulled_free(fp_pulled_t *p);
int fp_q_send_script(fp_queue_t *q, fp_script_t *script, const char *const *keys, size_t nkeys,
                     const char *const *args, size_t nargs, const fp_resp_t *tail,
                     fp_redis_reply_cb cb, void *privdata);

/* ---- setup.c --------------------------------------------------------------- */

void fp_q_on_conn_state(fp_redis_conn_t *c, bool up, const char *reason, void *ctx);
void fp_q_setup_start(fp_queue_t *q);
/* The consumer group is gone (NOGROUP): not ready, set up again. */
void fp_q_setup_again(fp_queue_t *q);

/* ---- handover.c ------------------------------------------------------------ */

/* cancelled: the read script found the entry marked by `forkpool cancel`
 * (a take-over or history read of an entry whose holder died first). */
void fp_q_take_one(fp_queue_t *q, uint32_t queue, const redisReply *idr,
                   const redisReply *fields, fp_read_step_kind_t kind, uint64_t count,
                   bool cancelled);
long fp_q_take_reply(fp_queue_t *q, const redisReply *r, fp_read_step_kind_t kind);
void fp_q_hand_over(fp_queue_t *q);
void fp_q_deliver_stash(fp_queue_t *q);

/* ---- unique_take.c: an entry is handed over (it is in the held set); a
 * payload mentioning "unique" marks it, so its outcome releases the key. */

void fp_q_unique_taken(fp_queue_t *q, const fp_pulled_t *p);

/* ---- pump.c ---------------------------------------------------------------- */

void fp_q_pump(fp_queue_t *q);
void fp_q_maybe_unblock(fp_queue_t *q);
void fp_q_read_failed(fp_queue_t *q, const redisReply *r, const char *what);
void fp_q_read_done(fp_queue_t *q, const redisReply *r);
int fp_q_send_read(fp_queue_t *q, fp_redis_conn_t *conn, fp_read_step_kind_t kind, size_t count,
                   size_t first, size_t nstreams, const char *id, int64_t block_ms);
void fp_q_take_read_slot(fp_queue_t *q, fp_read_step_kind_t kind, size_t first, size_t count);
bool fp_q_script_read_reply(fp_queue_t *q, fp_script_t *script, const redisReply *r,
                            const char *what);

/* ---- recovery: takeover.c, renew.c, mover.c --------------------------------- */

void fp_q_send_claim(fp_queue_t *q);
void fp_q_takeover_start(fp_queue_t *q);
void fp_q_renew_start(fp_queue_t *q);
void fp_q_cancel_take_start(fp_queue_t *q);
void fp_q_mover_kick(fp_queue_t *q);

/* ---- outbox.c -------------------------------------------------------------- */

fp_batch_t *fp_q_open_batch(fp_queue_t *q, uint32_t queue, bool again);
void fp_q_add_outcome_id(fp_batch_t *b, uint64_t ms, uint64_t seq, uint32_t epoch);
void fp_q_batch_free(fp_batch_t *b);
void fp_q_send_sweep(fp_queue_t *q, size_t i, size_t count);
void fp_q_flush(fp_queue_t *q);

/* ---- eval.c, heartbeat.c: the same calls on any connection ------------------- */

/* fp_queue_eval, fp_queue_heartbeat(_clear) and fp_queue_fleet_read on conn
 * (the writer, or a Cluster's side connection for the keys' slot:
 * qmux_side.c); prefix: redis.prefix (borrowed until the reply). */
int fp_q_eval_on(fp_redis_conn_t *conn, const char *script, size_t nkeys,
                 const char *const *args, size_t nargs, fp_queue_reply_cb cb, void *ctx);
int fp_q_heartbeat_on(fp_redis_conn_t *conn, const char *prefix, const char *id,
                      const char *record, int64_t ttl_ms, void (*cb)(void *ctx, bool ok),
                      void *ctx);
int fp_q_heartbeat_clear_on(fp_redis_conn_t *conn, const char *prefix, const char *id,
                            const char *token, void (*cb)(void *ctx, bool ok), void *ctx);
struct fp_fleet_s;
int fp_q_fleet_read_on(fp_redis_conn_t *conn, const char *prefix,
                       void (*cb)(void *ctx, struct fp_fleet_s *fleet), void *ctx);

/* ---- drained.c ------------------------------------------------------------- */

void fp_q_mark_retry(fp_queue_t *q, uint32_t queue, const char *payload, size_t len);

#endif
