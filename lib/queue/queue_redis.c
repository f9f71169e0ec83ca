/* queue_redis.c: queue.h on Redis Streams consumer groups, over two
 * connections on the supervisor's loop: the reader only runs XREADGROUP ">"
 * (which may block), the writer runs everything else (group creation,
 * scripts, history re-reads, take-over sweeps, claim renewals, the delayed
 * mover, CLIENT UNBLOCK, drained checks), so a blocking read never delays an
 * acknowledgement. Outcomes are only buffered by the fp_queue_* calls and
 * leave from a uv_prepare_t once per loop turn, one script call per queue,
 * kept until Redis confirms them. While jobs flow, a turn's outcomes and the
 * next non-blocking pull of their queue are one script call on the writer
 * (fp_script_outcomes_pull): one round trip, one Redis and one supervisor
 * wake-up instead of two; outcomes arriving while it is in flight wait for
 * its reply and ride with the next pull. It never hands over more than the
 * room it was given, and never blocks the loop.
 *
 * Recovery, on three timers:
 * - renewal (every visibility_timeout / 3): one renewal script per queue
 *   and 500 ids over every held entry (handed over, stashed, or with an
 *   outcome not yet confirmed), which XCLAIMs ... JUSTID (resetting idle
 *   time without counting a delivery) the ids still pending to this consumer
 *   and still in the stream. Ids deleted from the stream are marked so their
 *   outcome lands anyway; ids another consumer holds (or none) are marked
 *   lost, never taken back. Either is logged and counted once and not asked
 *   about again; the outcome releases them.
 * - take-over sweep (every claim_interval and once after (re)connecting): a
 *   "read" like the others, in the single read slot, after this consumer's
 *   own history and before new entries, sized to the room; what it claims is
 *   handed over through on_jobs, and what exceeds a room that shrank
 *   meanwhile waits in the stash (it is ours now, renewed, and keeps its
 *   delivery count; a put back would reset it). With room 0 it still runs,
 *   claiming nothing, to drop pending entries whose stream entry is gone.
 *   The same tick removes idle consumers with nothing pending.
 * - delayed mover (every 250 ms, sooner when the next due job is nearer,
 *   at once after a full batch): one script per queue.
 * Delivery counts: 1 for XREADGROUP ">", the history script's count for
 * history pages (XPENDING's counter, + 1 for entries this process had not
 * seen yet), XPENDING's counter + 1 inside the take-over script for claims. */
#include "queue/queue.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/os.h"
#include "queue/queue_scripts.h"
#include "queue/queue_stats.h"
#include "queue/read_plan.h"
#include "redis/redis_conn.h"
#include "redis/redis_url.h"

#define LOG "redis"
#define BLOCK_MS 2000           /* one blocking read, re-issued while idle */
#define COMMAND_GRACE_MS 10000  /* a reply later than connect_timeout + this: connection dead */
#define RETRY_MIN_MS 100        /* after LOADING, BUSY and other errors: try again later */
#define RETRY_MAX_MS 5000
#define HISTORY_PAGE_MAX 1000
#define SPARE_BATCHES 8
#define CLAIM_PAGE_MAX 500      /* most entries one take-over call claims */
#define CLAIM_SCAN_MAX 1000     /* most idle pending entries one take-over call looks at */
#define RENEW_CHUNK 500         /* ids per XCLAIM ... JUSTID */
#define CONSUMER_IDLE_FACTOR 10 /* consumers idle this many visibility timeouts go */
#define MOVER_MS 250            /* delayed mover period */
#define MOVER_BATCH 256         /* members moved per script call */
#define QUEUES_MAX 64           /* queues one daemon consumes at most */

/* ---- entries held: handed over (or being acked) and not yet confirmed ---- */

typedef struct held_slot_s {
    uint64_t ms, seq;
    uint32_t queue;
    uint32_t used; /* HELD_* bits; 0: free slot */
} held_slot_t;

#define HELD_USED 1u
#define HELD_VANISHED 2u /* its stream entry was deleted while held: the outcome must land */
#define HELD_LOST 4u     /* renewal found it pending to another consumer, or to none */
#define HELD_SETTLING 8u /* its outcome is recorded, not yet confirmed */

/* Open addressing with linear probing and backward-shift deletion: no
 * allocation per job, no tombstones. */
typedef struct held_set_s {
    held_slot_t *slots;
    size_t mask; /* capacity - 1; capacity is a power of two */
    size_t count;
} held_set_t;

static size_t held_hash(uint32_t queue, uint64_t ms, uint64_t seq)
{
    uint64_t h = ms * UINT64_C(0x9E3779B97F4A7C15) ^ (seq + ((uint64_t)queue << 40));
    h ^= h >> 29;
    h *= UINT64_C(0xBF58476D1CE4E5B9);
    h ^= h >> 32;
    return (size_t)h;
}

static size_t held_find(const held_set_t *s, uint32_t queue, uint64_t ms, uint64_t seq)
{
    size_t i = held_hash(queue, ms, seq) & s->mask;
    while (s->slots[i].used &&
           !(s->slots[i].ms == ms && s->slots[i].seq == seq && s->slots[i].queue == queue))
        i = (i + 1) & s->mask;
    return i;
}

static bool held_has(const held_set_t *s, uint32_t queue, uint64_t ms, uint64_t seq)
{
    return s->slots != NULL && s->slots[held_find(s, queue, ms, seq)].used;
}

/* The slot of a held entry, NULL when not held. */
static held_slot_t *held_get(held_set_t *s, uint32_t queue, uint64_t ms, uint64_t seq)
{
    if (s->slots == NULL)
        return NULL;
    held_slot_t *slot = &s->slots[held_find(s, queue, ms, seq)];
    return slot->used ? slot : NULL;
}

static int held_grow(held_set_t *s)
{
    size_t cap = s->slots != NULL ? (s->mask + 1) * 2 : 64;
    held_slot_t *slots = calloc(cap, sizeof *slots);
    if (slots == NULL)
        return -ENOMEM;
    held_set_t grown = {slots, cap - 1, s->count};
    for (size_t i = 0; s->slots != NULL && i <= s->mask; i++)
        if (s->slots[i].used)
            grown.slots[held_find(&grown, s->slots[i].queue, s->slots[i].ms, s->slots[i].seq)] =
                s->slots[i];
    free(s->slots);
    *s = grown;
    return 0;
}

static int held_add(held_set_t *s, uint32_t queue, uint64_t ms, uint64_t seq)
{
    if ((s->slots == NULL || (s->count + 1) * 2 > s->mask + 1) && held_grow(s) < 0)
        return -ENOMEM;
    size_t i = held_find(s, queue, ms, seq);
    if (!s->slots[i].used) {
        s->slots[i] = (held_slot_t){ms, seq, queue, HELD_USED};
        s->count++;
    }
    return 0;
}

static void held_remove(held_set_t *s, uint32_t queue, uint64_t ms, uint64_t seq)
{
    if (s->slots == NULL)
        return;
    size_t i = held_find(s, queue, ms, seq);
    if (!s->slots[i].used)
        return;
    /* Shift later members of the probe run back so lookups never stop early. */
    for (size_t j = (i + 1) & s->mask; s->slots[j].used; j = (j + 1) & s->mask) {
        size_t k = held_hash(s->slots[j].queue, s->slots[j].ms, s->slots[j].seq) & s->mask;
        bool movable = i <= j ? (k <= i || k > j) : (k <= i && k > j);
        if (movable) {
            s->slots[i] = s->slots[j];
            i = j;
        }
    }
    s->slots[i].used = 0;
    s->count--;
}

/* ---- outcome batches ----------------------------------------------------- */

typedef struct sid_s {
    uint64_t ms, seq;
} sid_t;

/* Up to FP_OUTCOMES_PER_CALL outcomes of one queue, encoded once as script
 * arguments; re-sent as they are after a lost connection. */
typedef struct batch_s {
    struct batch_s *next;
    struct fp_queue_s *q;
    uint32_t queue;
    bool sent;     /* waiting for Redis' answer */
    bool use_eval; /* Redis answered NOSCRIPT: send the script text next time */
    bool resent;   /* a send's reply was lost: it may have been applied already */
    size_t count;
    fp_resp_t args;
    sid_t *ids;
    size_t ids_cap;
} batch_t;

/* A retry this daemon scheduled, as its delayed-set member (what
 * fp_queue_retry got), kept for --burst until it has left the delayed set. */
typedef struct retry_mark_s {
    char *member;
    size_t len;
} retry_mark_t;

typedef struct qstate_s {
    const char *name;
    char *jobs_key, *dead_key, *delayed_key;
    batch_t *head, *tail; /* outcomes in order; only the tail takes more */
    bool history;         /* this consumer's pending entries still to re-read */
    char cursor[48];      /* last id seen by the history read */
    char counted[48];     /* own pending entries up to this id were counted as
                           * delivered to this process; "+": all of them */
    retry_mark_t *marks;  /* only with fp_queue_track_retries */
    size_t marks_n, marks_cap;
    unsigned marks_gen;   /* bumped when marks are pruned (positions change) */
} qstate_t;

/* READ_CLAIM is the take-over script, which shares the read slot. */
typedef enum read_kind_e { READ_HISTORY, READ_SWEEP, READ_BLOCK, READ_CLAIM } read_kind_t;

/* A script besides the outcome and drained ones: its SHA and whether the next
 * call goes as EVAL (Redis answered NOSCRIPT). */
typedef struct script_s {
    const char *text;
    const char *what; /* for messages */
    char sha[41];
    bool eval;
} script_t;

typedef struct drained_req_s {
    struct fp_queue_s *q;
    void (*cb)(void *ctx, bool drained);
    void *ctx;
    size_t left;
    bool drained;
} drained_req_t;

typedef struct drained_item_s {
    drained_req_t *req;
    uint32_t queue;
    bool tried_eval;
    size_t marks_sent;    /* the first marks_sent marks went with the call */
    unsigned marks_gen;   /* their positions then */
} drained_item_t;

struct fp_queue_s {
    uv_loop_t *loop;
    const fp_config_t *cfg;
    fp_queue_events_t events;
    void *ctx;
    qstate_t *qs;
    size_t n;
    fp_redis_url_t url;
    fp_redis_conn_t *reader, *writer;

    bool started, closing;
    bool reader_up, writer_up;
    bool setup_done, setup_running, setup_failed;
    size_t setup_left;
    bool ready;            /* last value reported through on_ready */
    bool ever_ready;
    bool failure_logged;   /* "cannot connect" said once until the next success */
    char down_reason[256];
    long long reader_id;   /* CLIENT ID of the reader, for CLIENT UNBLOCK; -1 unknown */
    char outcome_sha[41], drained_sha[41];
    bool track_retries;    /* --burst: remember the retries scheduled (qstate_t.marks) */
    bool marks_lost;       /* one could not be remembered: never report drained */
    fp_resp_t marks_args;  /* the marks of one drained call */
    script_t claim_script, consumers_script, mover_script, history_script;
    script_t pull_script;  /* outcomes + pull in one call (fp_script_outcomes_pull) */
    script_t renew_script; /* claim renewal (fp_script_renew) */

    size_t room;
    bool read_in_flight;
    read_kind_t read_kind;
    size_t read_queue;     /* the queue of a history or sweep read in flight */
    size_t read_count;     /* COUNT of the read in flight */
    bool read_combined;    /* the read in flight rides on an outcome batch (writer) */
    unsigned history_gen;  /* bumped when history restarts from 0 */
    unsigned read_gen;     /* history_gen when the history read in flight was sent */
    char last_id[48];      /* last entry id of the reply being taken */
    size_t block_total;    /* most entries the blocking read in flight may bring */
    bool unblock_sent;
    size_t sweep_index;    /* next queue of the non-blocking sweep; n: sweep over */
    bool sweep_got_any;

    /* queues.order = "weighted" (read_plan.h): each queue's weight and
     * round-robin state, the reads of the current plan still to send, and
     * which queues may be planned (false once a read came back short). */
    bool weighted;
    int64_t weights[QUEUES_MAX], wrr_current[QUEUES_MAX];
    size_t plan[QUEUES_MAX];
    bool wrr_eligible[QUEUES_MAX];
    size_t read_want;      /* want of the take-over call in flight */

    /* recovery */
    int64_t vt_ms;         /* visibility timeout; 0: no renewal, no take-over */
    bool claim_due;        /* a take-over sweep is to run */
    size_t claim_queue;    /* next queue of that sweep */
    size_t renew_in_flight;
    held_slot_t *renew_ids;
    size_t renew_cap;
    fp_resp_t renew_args;
    size_t consumers_in_flight;
    size_t mover_left;     /* mover calls of the round still unanswered (+1 while sending) */
    bool mover_again;      /* a full batch moved (or NOSCRIPT): next round at once */
    int64_t mover_wait;    /* ms until the next round */
    fp_queue_stats_t stats;

    fp_pulled_t *out;      /* entries of one reply, before they are handed over */
    size_t out_n, out_cap;
    fp_pulled_t *stash;    /* own pending entries beyond the room, handed over later */
    size_t stash_n, stash_cap;

    held_set_t held;
    size_t unconfirmed;
    batch_t *spare;        /* emptied batches kept for their buffers */
    size_t spare_n;
    fp_resp_t scratch;     /* one script call being assembled */
    char last_error[160];  /* to log a repeated error once */

    uv_prepare_t prepare;
    uv_timer_t retry_timer;
    uv_timer_t renew_timer, claim_timer, mover_timer;
    int64_t retry_ms;
    bool retry_armed;

    int open_parts;        /* handles and connections still closing */
    void (*close_cb)(void *ctx);
    void *close_ctx;
};

static void pump(fp_queue_t *q);
static void setup_start(fp_queue_t *q);
static void mover_kick(fp_queue_t *q);

/* ---- small helpers ------------------------------------------------------- */

static bool reply_is_error(const redisReply *r, const char *code)
{
    size_t n = strlen(code);
    return r != NULL && r->type == REDIS_REPLY_ERROR && r->len >= n &&
           memcmp(r->str, code, n) == 0 && (r->len == n || r->str[n] == ' ');
}

/* Logs an error reply once per distinct text, then at debug level. */
static void log_error_once(fp_queue_t *q, const char *what, const redisReply *r)
{
    char msg[sizeof q->last_error];
    snprintf(msg, sizeof msg, "%s: %.*s", what, r != NULL ? (int)r->len : 0,
             r != NULL && r->str != NULL ? r->str : "no reply");
    /* LOADING, BUSY and the like are Redis saying "later", not a fault. */
    bool transient = r != NULL && r->str != NULL && fp_redis_error_transient(r->str, r->len);
    fp_log_level_t level = strcmp(msg, q->last_error) == 0 ? FP_LOG_DEBUG
                           : transient                     ? FP_LOG_INFO
                                                           : FP_LOG_WARN;
    fp_log(level, LOG, "%s (will retry)", msg);
    memcpy(q->last_error, msg, sizeof msg);
}

static void on_retry_timer(uv_timer_t *t)
{
    fp_queue_t *q = t->data;
    q->retry_armed = false;
    if (!q->setup_done)
        setup_start(q);
    pump(q);
}

/* "Try again later" (LOADING, BUSY, a failed setup): everything waiting on
 * Redis waits for this timer, with growing delay while errors repeat. */
static void arm_retry(fp_queue_t *q)
{
    if (q->closing || q->retry_armed)
        return;
    q->retry_armed = true;
    uv_timer_start(&q->retry_timer, on_retry_timer, (uint64_t)q->retry_ms, 0);
    q->retry_ms = q->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : q->retry_ms * 2;
}

static void retry_reset(fp_queue_t *q)
{
    q->retry_ms = RETRY_MIN_MS;
    q->last_error[0] = '\0';
}

static void all_history(fp_queue_t *q)
{
    q->history_gen++;
    for (size_t i = 0; i < q->n; i++) {
        q->qs[i].history = true;
        snprintf(q->qs[i].cursor, sizeof q->qs[i].cursor, "0");
    }
}

static void pulled_free(fp_pulled_t *p)
{
    free(p->entry_id);
    free(p->payload);
    p->entry_id = p->payload = NULL;
}

/* ---- readiness ----------------------------------------------------------- */

static void update_ready(fp_queue_t *q)
{
    bool ready = q->reader_up && q->writer_up && q->setup_done && !q->closing;
    if (ready == q->ready)
        return;
    q->ready = ready;
    const char *where = fp_redis_conn_where(q->writer);
    if (ready) {
        fp_log_info(LOG, "%s Redis at %s", q->ever_ready ? "reconnected to" : "connected to",
                    where);
        q->ever_ready = true;
        q->failure_logged = false;
        /* A reply lost with a connection may have claimed entries for us:
         * re-read this consumer's pending entries first. */
        all_history(q);
        q->sweep_index = 0;
        q->sweep_got_any = false;
        /* Whoever held entries may have died while we were away: look once
         * now (after our own history), not only at the next interval. */
        q->claim_due = q->vt_ms > 0;
        q->claim_queue = 0;
        mover_kick(q);
    } else if (!q->closing) {
        if (q->reader_up && q->writer_up)
            fp_log_warn(LOG, "Redis at %s not ready: %s", where, q->down_reason);
        else
            fp_log_warn(LOG, "lost connection to Redis at %s: %s", where, q->down_reason);
        q->failure_logged = true;
    }
    if (q->events.on_ready != NULL)
        q->events.on_ready(q->ctx, ready);
}

/* ---- setup: groups and scripts (writer) ------------------------------------ */

static void setup_step_done(fp_queue_t *q)
{
    if (--q->setup_left > 0)
        return;
    q->setup_running = false;
    if (q->closing)
        return;
    if (q->setup_failed || !q->writer_up) {
        if (q->writer_up)
            arm_retry(q);
        return;
    }
    q->setup_done = true;
    retry_reset(q);
    update_ready(q);
    pump(q);
}

static void on_group_created(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    fp_queue_t *q = privdata;
    (void)c;
    /* BUSYGROUP: the group exists, which is what we want. */
    if (r == NULL || (r->type == REDIS_REPLY_ERROR && !reply_is_error(r, "BUSYGROUP"))) {
        if (r != NULL && !q->closing)
            log_error_once(q, "cannot create the consumer group", r);
        q->setup_failed = true;
    }
    setup_step_done(q);
}

static void store_sha(fp_queue_t *q, redisReply *r, char *sha, const char *what)
{
    if (r != NULL && r->type == REDIS_REPLY_STRING && fp_script_sha_valid(r->str, r->len)) {
        memcpy(sha, r->str, 40);
        sha[40] = '\0';
        return;
    }
    if (r != NULL && !q->closing)
        log_error_once(q, what, r);
    q->setup_failed = true;
}

static void on_outcome_sha(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    fp_queue_t *q = privdata;
    (void)c;
    store_sha(q, r, q->outcome_sha, "SCRIPT LOAD (outcomes) failed");
    setup_step_done(q);
}

static void on_drained_sha(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    fp_queue_t *q = privdata;
    (void)c;
    store_sha(q, r, q->drained_sha, "SCRIPT LOAD (drained) failed");
    setup_step_done(q);
}

static void on_script_sha(fp_redis_conn_t *c, redisReply *r, void *privdata);

/* The SCRIPT LOAD replies of the recovery scripts find their script_t
 * through this. */
typedef struct script_load_s {
    fp_queue_t *q;
    script_t *script;
} script_load_t;

static void setup_send(fp_queue_t *q, int argc, const char **argv, fp_redis_reply_cb cb)
{
    size_t lens[8];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    q->setup_left++;
    if (fp_redis_conn_sendv(q->writer, argc, argv, lens, 0, cb, q) < 0) {
        q->setup_failed = true;
        q->setup_left--;
    }
}

/* Groups are created from id 0, so jobs added before any daemon ever ran are
 * delivered too; with MKSTREAM so a queue nobody has used yet works. */
static void setup_start(fp_queue_t *q)
{
    if (q->closing || q->setup_running || q->setup_done || !q->writer_up)
        return;
    q->setup_running = true;
    q->setup_failed = false;
    q->setup_left = 1; /* held until every command is sent */
    for (size_t i = 0; i < q->n; i++) {
        const char *argv[] = {"XGROUP", "CREATE", q->qs[i].jobs_key, q->cfg->redis.group, "0",
                              "MKSTREAM"};
        setup_send(q, 6, argv, on_group_created);
    }
    setup_send(q, 3, (const char *[]){"SCRIPT", "LOAD", fp_script_outcomes}, on_outcome_sha);
    setup_send(q, 3, (const char *[]){"SCRIPT", "LOAD", fp_script_drained}, on_drained_sha);
    script_t *scripts[] = {&q->claim_script, &q->consumers_script, &q->mover_script,
                           &q->pull_script, &q->history_script, &q->renew_script};
    for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++) {
        script_load_t *load = malloc(sizeof *load);
        const char *argv[] = {"SCRIPT", "LOAD", scripts[i]->text};
        size_t lens[] = {6, 4, strlen(scripts[i]->text)};
        if (load == NULL) {
            q->setup_failed = true;
            continue;
        }
        *load = (script_load_t){q, scripts[i]};
        q->setup_left++;
        if (fp_redis_conn_sendv(q->writer, 3, argv, lens, 0, on_script_sha, load) < 0) {
            free(load);
            q->setup_failed = true;
            q->setup_left--;
        }
    }
    setup_step_done(q);
}

static void on_script_sha(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    script_load_t *load = privdata;
    fp_queue_t *q = load->q;
    (void)c;
    store_sha(q, r, load->script->sha, load->script->what);
    load->script->eval = false;
    free(load);
    setup_step_done(q);
}

/* ---- connection reports -------------------------------------------------- */

static void on_client_id(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    fp_queue_t *q = privdata;
    (void)c;
    if (r != NULL && r->type == REDIS_REPLY_INTEGER)
        q->reader_id = r->integer;
}

static void on_conn_state(fp_redis_conn_t *c, bool up, const char *reason, void *ctx)
{
    fp_queue_t *q = ctx;
    if (q->closing)
        return;
    /* A read in flight on a lost connection ends in its own NULL reply,
     * which hiredis delivers before any new connection exists. */
    if (c == q->reader) {
        q->reader_up = up;
        q->reader_id = -1;
        if (up)
            fp_redis_conn_sendv(c, 2, (const char *[]){"CLIENT", "ID"}, (size_t[]){6, 2}, 0,
                                on_client_id, q);
    } else {
        q->writer_up = up;
        if (up)
            setup_start(q);
        else
            q->setup_done = false;
    }
    if (!up) {
        snprintf(q->down_reason, sizeof q->down_reason, "%s", reason != NULL ? reason : "");
        if (!q->ready && !q->failure_logged) {
            fp_log_warn(LOG, "cannot connect to Redis at %s: %s (will keep trying)",
                        fp_redis_conn_where(c), q->down_reason);
            q->failure_logged = true;
        } else if (!q->ready) {
            fp_log_debug(LOG, "%s connection to Redis at %s failed: %s",
                         c == q->reader ? "reader" : "writer", fp_redis_conn_where(c),
                         q->down_reason);
        }
    }
    update_ready(q);
    if (up)
        pump(q);
}

/* ---- handing entries over ------------------------------------------------ */

static int grow_pulled(fp_pulled_t **arr, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap != 0 ? *cap : 64;
    while (n < need)
        n *= 2;
    fp_pulled_t *grown = realloc(*arr, n * sizeof *grown);
    if (grown == NULL)
        return -ENOMEM;
    *arr = grown;
    *cap = n;
    return 0;
}

/* Entries beyond the room: it shrank while the read was in flight (a drain,
 * a fp_queue_want from elsewhere). New ones go back to the stream tail at
 * once, so the daemon never sits on jobs nobody here can take; this
 * consumer's own pending entries (history, and entries it just took over)
 * wait in the stash instead, keeping their delivery count. */
static void overflow(fp_queue_t *q, size_t from, bool history)
{
    size_t extra = q->out_n - from;
    if (history && grow_pulled(&q->stash, &q->stash_cap, q->stash_n + extra) == 0) {
        memcpy(q->stash + q->stash_n, q->out + from, extra * sizeof *q->out);
        q->stash_n += extra;
        q->out_n = from;
        return;
    }
    for (size_t i = from; i < q->out_n; i++) {
        fp_pulled_t *p = &q->out[i];
        if (!history) {
            fp_queue_put_back(q, p->queue, p->entry_id, p->payload, p->payload_len);
            continue;
        }
        /* No memory for the stash: forget it here so that a history read
         * finds it again (it stays pending to us in Redis; a claimed entry
         * is ours too). */
        uint64_t ms, seq;
        if (fp_stream_id_parse(p->entry_id, strlen(p->entry_id), &ms, &seq))
            held_remove(&q->held, p->queue, ms, seq);
        q->qs[p->queue].history = true;
    }
}

/* Hands q->out over, at most the room. The room is charged before on_jobs so
 * that a fp_queue_want from inside it sets the value that stands. */
static void hand_over(fp_queue_t *q, bool history)
{
    size_t give = q->out_n < q->room ? q->out_n : q->room;
    if (give < q->out_n)
        overflow(q, give, history);
    q->room -= give;
    if (give > 0 && q->events.on_jobs != NULL)
        q->events.on_jobs(q->ctx, q->out, give);
    for (size_t i = 0; i < q->out_n; i++)
        pulled_free(&q->out[i]);
    q->out_n = 0;
}

static void deliver_stash(fp_queue_t *q)
{
    if (q->stash_n == 0 || q->room == 0 || q->closing)
        return;
    size_t give = q->stash_n < q->room ? q->stash_n : q->room;
    if (grow_pulled(&q->out, &q->out_cap, give) < 0)
        return;
    memcpy(q->out, q->stash, give * sizeof *q->out);
    memmove(q->stash, q->stash + give, (q->stash_n - give) * sizeof *q->stash);
    q->stash_n -= give;
    q->out_n = give;
    hand_over(q, true);
}

static batch_t *open_batch(fp_queue_t *q, uint32_t queue);
static void add_outcome_id(batch_t *b, uint64_t ms, uint64_t seq);

/* The string fields of an entry as one JSON object, each name and value
 * taken with its length (they are binary). 0 or -ENOMEM. */
static int fields_json(const redisReply *fields, fp_buf_t *out)
{
    size_t n = fields->elements & ~(size_t)1, used = 0;
    const char **strs = malloc((n + 1) * sizeof *strs);
    size_t *lens = malloc((n + 1) * sizeof *lens);
    int rc = strs != NULL && lens != NULL ? 0 : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i += 2) {
        const redisReply *k = fields->element[i], *v = fields->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        strs[used] = k->str;
        lens[used++] = k->len;
        strs[used] = v->str;
        lens[used++] = v->len;
    }
    if (rc == 0)
        rc = fp_entry_fields_json(out, strs, lens, used);
    free(strs);
    free(lens);
    return rc;
}

/* An entry without a "job" field cannot run: it goes to dead with its
 * fields as a JSON object, so nothing is lost and nothing is handed over. */
static void dead_without_job(fp_queue_t *q, uint32_t queue, const char *id, uint64_t ms,
                             uint64_t seq, const redisReply *fields)
{
    fp_buf_t text = {0};
    batch_t *b = fields_json(fields, &text) == 0 ? open_batch(q, queue) : NULL;
    if (b != NULL && held_add(&q->held, queue, ms, seq) == 0 &&
        fp_outcome_encode_dead(&b->args, false, id, text.data, text.len,
                               "stream entry has no \"job\" field", 1, fp_os_unix_ms()) == 0) {
        add_outcome_id(b, ms, seq);
        fp_log_warn(LOG, "entry %s of queue %s has no \"job\" field: moved to dead", id,
                    q->qs[queue].name);
    } else {
        /* Left pending: the next history read tries again. */
        fp_log_error(LOG, "out of memory moving entry %s to dead", id);
    }
    fp_buf_free(&text);
}

/* A pending entry whose stream entry was deleted (nil fields): acknowledge
 * and drop it; there is no job to run. */
static void ack_deleted(fp_queue_t *q, uint32_t queue, const char *id, uint64_t ms, uint64_t seq)
{
    batch_t *b = open_batch(q, queue);
    if (b != NULL && held_add(&q->held, queue, ms, seq) == 0 &&
        fp_outcome_encode_ack(&b->args, false, id) == 0) {
        add_outcome_id(b, ms, seq);
        q->stats.dropped_deleted++;
        fp_log_info(LOG, "pending entry %s of queue %s was deleted from the stream: dropped", id,
                    q->qs[queue].name);
    }
}

static char *memdup0(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* One entry of a reply, copied into q->out. count: the delivery count the
 * history or take-over script reported (READ_HISTORY, READ_CLAIM). */
static void take_one(fp_queue_t *q, uint32_t queue, const redisReply *idr,
                     const redisReply *fields, read_kind_t kind, uint64_t count)
{
    uint64_t ms, seq;
    if (idr->type != REDIS_REPLY_STRING || !fp_stream_id_parse(idr->str, idr->len, &ms, &seq))
        return;
    if ((kind == READ_HISTORY || kind == READ_CLAIM) && held_has(&q->held, queue, ms, seq))
        return; /* still running here, or its outcome is on its way */
    if (fields->type != REDIS_REPLY_ARRAY) {
        ack_deleted(q, queue, idr->str, ms, seq);
        return;
    }
    const redisReply *job = NULL;
    for (size_t i = 0; i + 1 < fields->elements; i += 2)
        if (fields->element[i]->type == REDIS_REPLY_STRING && fields->element[i]->len == 3 &&
            memcmp(fields->element[i]->str, "job", 3) == 0 &&
            fields->element[i + 1]->type == REDIS_REPLY_STRING)
            job = fields->element[i + 1];
    if (job == NULL) {
        dead_without_job(q, queue, idr->str, ms, seq, fields);
        return;
    }
    if (grow_pulled(&q->out, &q->out_cap, q->out_n + 1) < 0)
        goto oom;
    fp_pulled_t *p = &q->out[q->out_n];
    p->queue = queue;
    p->entry_id = memdup0(idr->str, idr->len);
    p->payload = memdup0(job->str, job->len);
    p->payload_len = job->len;
    p->deliveries = kind == READ_HISTORY || kind == READ_CLAIM ? (count > 0 ? count : 1) : 1;
    if (p->entry_id == NULL || p->payload == NULL || held_add(&q->held, queue, ms, seq) < 0) {
        pulled_free(p);
        goto oom;
    }
    q->out_n++;
    return;
oom:
    /* Left pending to us: the next history read or recovery hands it out. */
    fp_log_error(LOG, "out of memory taking entry %.*s", (int)idr->len, idr->str);
}

/* One [id, fields] element of a read reply. */
static void take_entry(fp_queue_t *q, uint32_t queue, const redisReply *e, read_kind_t kind)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
        return;
    take_one(q, queue, e->element[0], e->element[1], kind, 0);
}

static int queue_of_key(const fp_queue_t *q, const redisReply *key)
{
    if (key->type != REDIS_REPLY_STRING)
        return -1;
    for (size_t i = 0; i < q->n; i++) {
        const char *k = q->qs[i].jobs_key;
        if (strlen(k) == key->len && memcmp(k, key->str, key->len) == 0)
            return (int)i;
    }
    return -1;
}

/* Walks [[key, [[id, fields]...]]...] into q->out; returns the number of
 * entries Redis returned (held ones and deleted ones included), or -1 when
 * the reply has a shape we do not know. */
static long take_reply(fp_queue_t *q, const redisReply *r, read_kind_t kind)
{
    if (r->type == REDIS_REPLY_NIL)
        return 0;
    if (r->type != REDIS_REPLY_ARRAY)
        return -1;
    long total = 0;
    for (size_t s = 0; s < r->elements; s++) {
        const redisReply *st = r->element[s];
        if (st->type != REDIS_REPLY_ARRAY || st->elements != 2 ||
            st->element[1]->type != REDIS_REPLY_ARRAY)
            return -1;
        int queue = queue_of_key(q, st->element[0]);
        if (queue < 0)
            return -1;
        const redisReply *entries = st->element[1];
        for (size_t i = 0; i < entries->elements; i++)
            take_entry(q, (uint32_t)queue, entries->element[i], kind);
        total += (long)entries->elements;
        if (entries->elements > 0) {
            const redisReply *last = entries->element[entries->elements - 1];
            if (last->type == REDIS_REPLY_ARRAY && last->elements >= 1 &&
                last->element[0]->type == REDIS_REPLY_STRING &&
                last->element[0]->len < sizeof q->last_id)
                memcpy(q->last_id, last->element[0]->str, last->element[0]->len + 1);
        }
    }
    return total;
}

/* ---- reads --------------------------------------------------------------- */

/* A read answered with an error: NOGROUP means the group (or the stream) is
 * gone, e.g. Redis restarted empty: set up again. Anything else (LOADING,
 * BUSY...) is retried later; it is never a job failure. */
static void read_failed(fp_queue_t *q, const redisReply *r, const char *what)
{
    if (reply_is_error(r, "NOGROUP")) {
        snprintf(q->down_reason, sizeof q->down_reason, "consumer group missing (%.*s)",
                 (int)(r->len > 120 ? 120 : r->len), r->str);
        q->setup_done = false;
        update_ready(q);
        setup_start(q);
        return;
    }
    log_error_once(q, what, r);
    arm_retry(q);
}

/* Weighted order: a queue whose read came back short is empty for now and
 * left out of plans; a full read means a backlog, so the queues left out
 * are planned again, each in its own turn (no queue starves). */
static void weighted_read_done(fp_queue_t *q, size_t got)
{
    if (got < q->read_count) {
        q->wrr_eligible[q->read_queue] = false;
        return;
    }
    for (size_t i = 0; i < q->n; i++)
        q->wrr_eligible[i] = true;
}

/* A read's entries (XREADGROUP's answer, on its own or from the combined
 * script): moves the history cursor or the sweep, then hands them over. The
 * next read starts from the prepare callback, once this loop turn's outcomes
 * are in, so that it can carry them. */
static void read_done(fp_queue_t *q, const redisReply *r)
{
    read_kind_t kind = q->read_kind;
    q->last_id[0] = '\0';
    long got = take_reply(q, r, kind);
    if (got < 0) {
        /* Whatever was taken is handed over; the rest is found again by the
         * history read. */
        fp_log_error(LOG, "unexpected XREADGROUP reply (type %d)", r->type);
        all_history(q);
        hand_over(q, kind == READ_HISTORY);
        arm_retry(q);
        return;
    }
    retry_reset(q);
    if (kind == READ_SWEEP && q->weighted) {
        weighted_read_done(q, (size_t)got);
    } else if (kind == READ_SWEEP) {
        if ((size_t)got >= q->read_count) {
            q->sweep_index = 0; /* room filled: next time start again from the first queue */
            q->sweep_got_any = false;
        } else {
            q->sweep_index = q->read_queue + 1;
            q->sweep_got_any |= got > 0;
        }
    } else {
        q->sweep_index = 0;
        q->sweep_got_any = false;
    }
    hand_over(q, kind == READ_HISTORY);
}

static void on_read_reply(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    fp_queue_t *q = privdata;
    (void)c;
    q->read_in_flight = false;
    if (q->closing)
        return;
    if (r == NULL) {
        all_history(q); /* entries may have been claimed for us: find them again */
        return;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        read_failed(q, r, "XREADGROUP failed");
        return;
    }
    read_done(q, r);
}

/* A read of `kind` on queue `first` (COUNT count) now holds the read slot. */
static void take_read_slot(fp_queue_t *q, read_kind_t kind, size_t first, size_t count)
{
    q->read_in_flight = true;
    q->read_kind = kind;
    q->read_queue = first;
    q->read_count = count;
    q->read_combined = false;
    q->unblock_sent = false;
}

static int send_read(fp_queue_t *q, fp_redis_conn_t *conn, read_kind_t kind, size_t count,
                     size_t first, size_t nstreams, const char *id, int64_t block_ms)
{
    const char *argv[8 + 2 * 64];
    size_t lens[8 + 2 * 64];
    char count_text[24], block_text[24];
    int argc = 0;
    snprintf(count_text, sizeof count_text, "%zu", count);
    snprintf(block_text, sizeof block_text, "%lld", (long long)block_ms);
    argv[argc++] = "XREADGROUP";
    argv[argc++] = "GROUP";
    argv[argc++] = q->cfg->redis.group;
    argv[argc++] = q->cfg->daemon.name;
    argv[argc++] = "COUNT";
    argv[argc++] = count_text;
    if (block_ms > 0) {
        argv[argc++] = "BLOCK";
        argv[argc++] = block_text;
    }
    argv[argc++] = "STREAMS";
    for (size_t i = 0; i < nstreams; i++)
        argv[argc++] = q->qs[first + i].jobs_key;
    for (size_t i = 0; i < nstreams; i++)
        argv[argc++] = id;
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    int rc = fp_redis_conn_sendv(conn, argc, argv, lens, block_ms, on_read_reply, q);
    if (rc == 0)
        take_read_slot(q, kind, first, count);
    return rc;
}

static int send_script(fp_queue_t *q, script_t *script, const char *const *keys, size_t nkeys,
                       const char *const *args, size_t nargs, const fp_resp_t *tail,
                       fp_redis_reply_cb cb, void *privdata);

/* The common start of a read script's reply (history, take-over): frees
 * the read slot and deals with a lost connection (what the script did is
 * ours now: the history read finds it), NOSCRIPT (the next pump sends the
 * text) and error replies. True when r is an answer to take. */
static bool script_read_reply(fp_queue_t *q, script_t *script, const redisReply *r,
                              const char *what)
{
    q->read_in_flight = false;
    if (q->closing)
        return false;
    if (r == NULL) {
        all_history(q);
        return false;
    }
    if (reply_is_error(r, "NOSCRIPT")) {
        script->eval = true;
        return false;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        read_failed(q, r, what);
        return false;
    }
    return true;
}

/* Whether stream id a comes after b; ids that do not parse come first. */
static bool id_after(const char *a, const char *b)
{
    uint64_t ams, aseq, bms, bseq;
    if (!fp_stream_id_parse(a, strlen(a), &ams, &aseq))
        return false;
    if (!fp_stream_id_parse(b, strlen(b), &bms, &bseq))
        return true;
    return ams > bms || (ams == bms && aseq > bseq);
}

/* A history page taken: a short page means the end of this consumer's
 * pending list, and then every entry of it has been counted as delivered to
 * this process; otherwise the cursor (and what was counted) moves on. A page
 * sent before history restarted (a reconnect) moves nothing. */
static void history_page_done(fp_queue_t *q, size_t got)
{
    qstate_t *qs = &q->qs[q->read_queue];
    if (q->read_gen != q->history_gen)
        return;
    if (got < q->read_count) {
        qs->history = false;
        snprintf(qs->counted, sizeof qs->counted, "+");
    } else if (q->last_id[0] != '\0') {
        memcpy(qs->cursor, q->last_id, sizeof qs->cursor);
        if (strcmp(qs->counted, "+") != 0 && id_after(q->last_id, qs->counted))
            memcpy(qs->counted, q->last_id, sizeof qs->counted);
    }
}

/* Takes the history script's {{id, fields, deliveries}...}; false when the
 * reply has another shape. */
static bool take_history(fp_queue_t *q, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY)
        return false;
    uint32_t queue = (uint32_t)q->read_queue;
    q->last_id[0] = '\0';
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 3 ||
            e->element[0]->type != REDIS_REPLY_STRING ||
            e->element[2]->type != REDIS_REPLY_INTEGER)
            return false;
        long long n = e->element[2]->integer;
        take_one(q, queue, e->element[0], e->element[1], READ_HISTORY, n > 0 ? (uint64_t)n : 1);
        if (e->element[0]->len < sizeof q->last_id)
            memcpy(q->last_id, e->element[0]->str, e->element[0]->len + 1);
    }
    return true;
}

static void on_history_reply(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    fp_queue_t *q = privdata;
    (void)c;
    if (!script_read_reply(q, &q->history_script, r, "re-reading pending entries failed"))
        return;
    if (!take_history(q, r)) {
        /* Whatever was taken is handed over; the rest is found again. */
        fp_log_error(LOG, "unexpected reply to the history script (type %d)", r->type);
        all_history(q);
        hand_over(q, true);
        arm_retry(q);
        return;
    }
    retry_reset(q);
    history_page_done(q, r->elements);
    hand_over(q, true);
}

/* History pages go on the writer: they never block, and there they are
 * ordered after every outcome sent before them, so an entry whose outcome
 * Redis already applied cannot come back (an outcome not sent yet, or sent
 * after the page, keeps its entry held until confirmed). Held entries are
 * skipped, so the page is widened by their number. */
static void read_history(fp_queue_t *q, size_t i)
{
    size_t count = q->room + q->held.count;
    if (count > HISTORY_PAGE_MAX)
        count = HISTORY_PAGE_MAX;
    if (count < q->room)
        count = q->room;
    char start[sizeof q->qs[i].cursor + 1], count_text[24];
    if (strcmp(q->qs[i].cursor, "0") == 0)
        snprintf(start, sizeof start, "-");
    else
        snprintf(start, sizeof start, "(%s", q->qs[i].cursor);
    snprintf(count_text, sizeof count_text, "%zu", count);
    const char *keys[FP_SCRIPT_HISTORY_KEYS] = {q->qs[i].jobs_key};
    const char *args[] = {q->cfg->redis.group, q->cfg->daemon.name, start, count_text,
                          q->qs[i].counted};
    if (send_script(q, &q->history_script, keys, FP_SCRIPT_HISTORY_KEYS, args, 5, NULL,
                    on_history_reply, q) < 0)
        return;
    take_read_slot(q, READ_HISTORY, i, count);
    q->read_gen = q->history_gen;
}

/* The blocking read across queues keeps its total within the room: COUNT
 * room/n on every queue, or COUNT 1 on the first `room` queues. */
static void read_block(fp_queue_t *q)
{
    size_t nstreams = q->n, count = q->room / q->n;
    if (q->room < q->n) {
        nstreams = q->room;
        count = 1;
    }
    if (nstreams > 64)
        nstreams = 64;
    if (send_read(q, q->reader, READ_BLOCK, count, 0, nstreams, ">", BLOCK_MS) == 0)
        q->block_total = count * nstreams;
}

static void send_claim(fp_queue_t *q);
static void send_sweep(fp_queue_t *q, size_t i, size_t count);

/* Weighted order: the next read of the current plan; when it is spent, a new
 * plan of the room over the queues not found empty; when every queue came
 * back empty, a blocking read across all of them, after which all are
 * planned again. */
static void pump_weighted(fp_queue_t *q)
{
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < q->n; i++) {
            if (q->plan[i] == 0)
                continue;
            size_t count = q->plan[i] < q->room ? q->plan[i] : q->room;
            q->plan[i] = 0;
            send_sweep(q, i, count);
            return;
        }
        if (fp_wrr_plan(q->weights, q->wrr_current, q->wrr_eligible, q->n, q->room, q->plan) == 0)
            break;
    }
    for (size_t i = 0; i < q->n; i++)
        q->wrr_eligible[i] = true;
    read_block(q);
}

/* Starts the next read if one may start. Strict order: this consumer's own
 * pending entries first, then a due take-over sweep queue by queue, then a
 * non-blocking sweep queue by queue (the first with COUNT room, the next with
 * what is left), and a blocking read only after a whole sweep found every
 * queue empty. Weighted order replaces the sweep with pump_weighted. With
 * room 0 only a due take-over runs, claiming nothing. */
static void pump(fp_queue_t *q)
{
    if (q->closing)
        return;
    deliver_stash(q);
    if (q->read_in_flight || !q->ready || q->retry_armed)
        return;
    if (q->room == 0) {
        if (q->claim_due)
            send_claim(q);
        return;
    }
    for (size_t i = 0; i < q->n; i++)
        if (q->qs[i].history) {
            read_history(q, i);
            return;
        }
    if (q->claim_due) {
        send_claim(q);
        return;
    }
    if (q->weighted) {
        pump_weighted(q);
        return;
    }
    if (q->sweep_index >= q->n && q->sweep_got_any) {
        q->sweep_index = 0;
        q->sweep_got_any = false;
    }
    if (q->sweep_index < q->n) {
        send_sweep(q, q->sweep_index, q->room);
        return;
    }
    read_block(q);
}

static void on_unblocked(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    (void)c;
    (void)r;
    (void)privdata;
}

/* The room shrank below what the blocking read in flight may bring (a drain,
 * a smaller fp_queue_want), or a take-over sweep is due: end that read early
 * rather than pull jobs that would have to wait in the stash, or keep
 * abandoned jobs waiting for up to BLOCK_MS. */
static void maybe_unblock(fp_queue_t *q)
{
    if (!q->read_in_flight || q->read_kind != READ_BLOCK || q->unblock_sent ||
        (q->room >= q->block_total && !q->claim_due) || q->reader_id < 0 || !q->writer_up)
        return;
    char id[24];
    int n = snprintf(id, sizeof id, "%lld", q->reader_id);
    const char *argv[] = {"CLIENT", "UNBLOCK", id, "TIMEOUT"};
    size_t lens[] = {6, 7, (size_t)n, 7};
    if (fp_redis_conn_sendv(q->writer, 4, argv, lens, 0, on_unblocked, q) == 0)
        q->unblock_sent = true;
}

/* ---- recovery: scripts ----------------------------------------------------- */

/* EVALSHA, or EVAL after NOSCRIPT (which also puts the script back into
 * Redis' cache, so the call after goes as EVALSHA again). */
static int send_script(fp_queue_t *q, script_t *script, const char *const *keys, size_t nkeys,
                       const char *const *args, size_t nargs, const fp_resp_t *tail,
                       fp_redis_reply_cb cb, void *privdata)
{
    const char *sha = script->eval || script->sha[0] == '\0' ? NULL : script->sha;
    int rc = fp_script_command(&q->scratch, sha, script->text, keys, nkeys, args, nargs, tail);
    if (rc == 0)
        rc = fp_redis_conn_send(q->writer, q->scratch.data, q->scratch.len, 0, cb, privdata);
    if (rc == 0 && sha == NULL)
        script->eval = false;
    return rc;
}

/* ---- recovery: take-over ----------------------------------------------------- */

/* The sweep moves to the next queue; after the last one it is over until the
 * next claim tick. */
static void claim_next_queue(fp_queue_t *q)
{
    if (++q->claim_queue < q->n)
        return;
    q->claim_queue = 0;
    q->claim_due = false;
    q->stats.sweeps++;
}

static void on_claim_reply(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    fp_queue_t *q = privdata;
    (void)c;
    if (!script_read_reply(q, &q->claim_script, r, "taking over abandoned entries failed"))
        return;
    uint32_t queue = (uint32_t)q->read_queue;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_ARRAY) {
        /* Whatever it claimed is ours now: the history read finds it. */
        fp_log_error(LOG, "unexpected reply to the take-over script (type %d)", r->type);
        all_history(q);
        claim_next_queue(q);
        arm_retry(q);
        return;
    }
    retry_reset(q);
    long long dropped = r->element[0]->integer;
    const redisReply *list = r->element[1];
    if (dropped > 0) {
        q->stats.dropped_deleted += (uint64_t)dropped;
        fp_log_info(LOG,
                    "dropped %lld pending entries of queue %s whose stream entries were deleted",
                    dropped, q->qs[queue].name);
    }
    for (size_t i = 0; i < list->elements; i++) {
        const redisReply *e = list->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 3 ||
            e->element[2]->type != REDIS_REPLY_INTEGER)
            continue; /* pending to us all the same: the history read finds it */
        long long n = e->element[2]->integer;
        take_one(q, queue, e->element[0], e->element[1], READ_CLAIM, n > 0 ? (uint64_t)n : 1);
    }
    q->stats.claimed += list->elements;
    if (list->elements > 0)
        fp_log_info(LOG, "took over %zu entries of queue %s pending for %lld ms or more",
                    list->elements, q->qs[queue].name, (long long)q->vt_ms);
    /* A full page may leave more behind: the same queue again while there is
     * room. */
    if (q->read_want == 0 || list->elements < q->read_want)
        claim_next_queue(q);
    hand_over(q, true);
    pump(q);
}

/* One take-over call for the sweep's current queue, sized to the room (0:
 * only drop deleted entries). It takes the read slot, so it never runs next
 * to another read that the same room was promised to. */
static void send_claim(fp_queue_t *q)
{
    uint32_t i = (uint32_t)q->claim_queue;
    size_t want = q->room < CLAIM_PAGE_MAX ? q->room : CLAIM_PAGE_MAX;
    char idle[24], want_text[24], scan[24];
    snprintf(idle, sizeof idle, "%lld", (long long)q->vt_ms);
    snprintf(want_text, sizeof want_text, "%zu", want);
    snprintf(scan, sizeof scan, "%d", CLAIM_SCAN_MAX);
    const char *keys[FP_SCRIPT_CLAIM_KEYS] = {q->qs[i].jobs_key};
    const char *args[] = {q->cfg->redis.group, q->cfg->daemon.name, idle, want_text, scan};
    if (send_script(q, &q->claim_script, keys, FP_SCRIPT_CLAIM_KEYS, args, 5, NULL,
                    on_claim_reply, q) < 0)
        return;
    take_read_slot(q, READ_CLAIM, i, want);
    q->read_want = want;
}

/* ---- recovery: consumer clean-up ----------------------------------------- */

static void on_consumers_reply(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    fp_queue_t *q = privdata;
    (void)c;
    q->consumers_in_flight--;
    if (q->closing || r == NULL)
        return;
    if (r->type == REDIS_REPLY_INTEGER) {
        if (r->integer > 0) {
            q->stats.consumers_removed += (uint64_t)r->integer;
            fp_log_info(LOG, "removed %lld idle consumers with nothing pending", r->integer);
        }
        return;
    }
    if (reply_is_error(r, "NOSCRIPT"))
        q->consumers_script.eval = true; /* next tick */
    else
        log_error_once(q, "removing idle consumers failed", r);
}

static void remove_idle_consumers(fp_queue_t *q)
{
    if (q->consumers_in_flight > 0)
        return;
    char idle[24];
    snprintf(idle, sizeof idle, "%lld", (long long)(q->vt_ms * CONSUMER_IDLE_FACTOR));
    for (size_t i = 0; i < q->n; i++) {
        const char *keys[FP_SCRIPT_CONSUMERS_KEYS] = {q->qs[i].jobs_key};
        const char *args[] = {q->cfg->redis.group, q->cfg->daemon.name, idle};
        if (send_script(q, &q->consumers_script, keys, FP_SCRIPT_CONSUMERS_KEYS, args, 3, NULL,
                        on_consumers_reply, q) < 0)
            return;
        q->consumers_in_flight++;
    }
}

/* Every claim_interval: a take-over sweep (run by pump, after anything
 * already in the read slot) and the consumer clean-up. */
static void on_claim_timer(uv_timer_t *t)
{
    fp_queue_t *q = t->data;
    if (!q->ready)
        return; /* becoming ready starts a sweep anyway */
    if (!q->claim_due) {
        q->claim_due = true;
        q->claim_queue = 0;
    }
    remove_idle_consumers(q);
    maybe_unblock(q);
    pump(q);
}

/* ---- recovery: renewal ------------------------------------------------------ */

/* One renewal call: its queue, for the ids it reports. */
typedef struct renewal_s {
    fp_queue_t *q;
    uint32_t queue;
} renewal_t;

/* An entry renewal could not renew, reported once. holder NULL: its stream
 * entry was deleted while its job runs; the job's outcome (upper-case kind)
 * still lands, from the payload the supervisor holds. Otherwise another
 * consumer holds it (holder "" : none does, it was settled elsewhere): the
 * job runs on here, but its outcome will leave the entry alone. An entry
 * whose outcome is already recorded was settled by it: nothing is lost. */
static void renewal_lost(fp_queue_t *q, uint32_t queue, const redisReply *id,
                         const redisReply *holder)
{
    uint64_t ms, seq;
    if (id->type != REDIS_REPLY_STRING || !fp_stream_id_parse(id->str, id->len, &ms, &seq))
        return;
    held_slot_t *slot = held_get(&q->held, queue, ms, seq);
    if (slot == NULL || (slot->used & (HELD_SETTLING | HELD_VANISHED | HELD_LOST)) != 0)
        return;
    q->stats.renewals_lost++;
    const char *name = q->qs[queue].name;
    if (holder == NULL) {
        slot->used |= HELD_VANISHED;
        fp_log_warn(LOG, "stream entry %.*s of queue %s was deleted while its job runs: no longer "
                    "renewed; the job's retry or dead letter will still be recorded",
                    (int)id->len, id->str, name);
        return;
    }
    slot->used |= HELD_LOST;
    if (holder->type == REDIS_REPLY_STRING && holder->len > 0)
        fp_log_warn(LOG, "entry %.*s of queue %s was taken over by consumer %.*s: its job runs on "
                    "here, but its outcome will leave the entry to that consumer",
                    (int)id->len, id->str, name, (int)holder->len, holder->str);
    else
        fp_log_warn(LOG, "entry %.*s of queue %s is no longer pending (settled elsewhere): its "
                    "job runs on here, but its outcome will not be applied",
                    (int)id->len, id->str, name);
}

static void on_renew_reply(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    renewal_t *rn = privdata;
    fp_queue_t *q = rn->q;
    uint32_t queue = rn->queue;
    (void)c;
    free(rn);
    q->renew_in_flight--;
    if (q->closing || r == NULL)
        return; /* after a reconnect the next round renews them */
    if (reply_is_error(r, "NOSCRIPT")) {
        q->renew_script.eval = true; /* the next round sends it as EVAL */
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_ARRAY ||
        r->element[2]->type != REDIS_REPLY_ARRAY) {
        log_error_once(q, "renewing claims failed", r);
        return;
    }
    q->stats.renewed += (uint64_t)r->element[0]->integer;
    const redisReply *deleted = r->element[1], *taken = r->element[2];
    for (size_t i = 0; i < deleted->elements; i++)
        renewal_lost(q, queue, deleted->element[i], NULL);
    for (size_t i = 0; i < taken->elements; i++) {
        const redisReply *e = taken->element[i];
        if (e->type == REDIS_REPLY_ARRAY && e->elements == 2)
            renewal_lost(q, queue, e->element[0], e->element[1]);
    }
}

static int slot_order(const void *a, const void *b)
{
    const held_slot_t *x = a, *y = b;
    if (x->queue != y->queue)
        return x->queue < y->queue ? -1 : 1;
    if (x->ms != y->ms)
        return x->ms < y->ms ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int send_renewal(fp_queue_t *q, const held_slot_t *ids, size_t n)
{
    fp_resp_t *a = &q->renew_args;
    const qstate_t *qs = &q->qs[ids[0].queue];
    fp_resp_reset(a);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char id[48];
        int len = snprintf(id, sizeof id, "%llu-%llu", (unsigned long long)ids[i].ms,
                           (unsigned long long)ids[i].seq);
        rc = fp_resp_arg(a, id, (size_t)len);
    }
    renewal_t *rn = rc == 0 ? malloc(sizeof *rn) : NULL;
    if (rn == NULL)
        return -ENOMEM;
    *rn = (renewal_t){q, ids[0].queue};
    const char *keys[FP_SCRIPT_RENEW_KEYS] = {qs->jobs_key};
    const char *args[] = {q->cfg->redis.group, q->cfg->daemon.name};
    rc = send_script(q, &q->renew_script, keys, FP_SCRIPT_RENEW_KEYS, args, 2, a, on_renew_reply,
                     rn);
    if (rc < 0) {
        free(rn);
        return rc;
    }
    q->renew_in_flight++;
    return 0;
}

/* Every visibility_timeout / 3: XCLAIM ... 0 <ids> JUSTID (in the renewal
 * script) over everything held, which resets each entry's idle time without
 * counting a delivery, so no other daemon takes over a job that runs longer
 * than the visibility timeout. An entry another daemon claimed while this
 * one was unreachable is not taken back: it is that daemon's now, and this
 * one's outcome will leave it alone. Entries already found deleted or lost
 * are not asked about again. */
static void on_renew_timer(uv_timer_t *t)
{
    fp_queue_t *q = t->data;
    if (!q->ready || q->renew_in_flight > 0 || q->held.count == 0)
        return;
    if (q->renew_cap < q->held.count) {
        held_slot_t *grown = realloc(q->renew_ids, q->held.count * sizeof *grown);
        if (grown == NULL) {
            fp_log_error(LOG, "out of memory renewing claims");
            return;
        }
        q->renew_ids = grown;
        q->renew_cap = q->held.count;
    }
    size_t n = 0;
    for (size_t i = 0; i <= q->held.mask; i++)
        if (q->held.slots[i].used && !(q->held.slots[i].used & (HELD_VANISHED | HELD_LOST)))
            q->renew_ids[n++] = q->held.slots[i];
    qsort(q->renew_ids, n, sizeof *q->renew_ids, slot_order);
    q->stats.renew_rounds++;
    for (size_t from = 0; from < n;) {
        size_t to = from + 1;
        while (to < n && to - from < RENEW_CHUNK &&
               q->renew_ids[to].queue == q->renew_ids[from].queue)
            to++;
        if (send_renewal(q, q->renew_ids + from, to - from) < 0)
            return;
        from = to;
    }
}

/* ---- delayed mover ------------------------------------------------------------ */

static void on_mover_timer(uv_timer_t *t);

static void mover_step_done(fp_queue_t *q)
{
    if (--q->mover_left > 0 || q->closing)
        return;
    q->stats.mover_rounds++;
    int64_t wait = q->mover_again ? 0 : q->mover_wait;
    uv_timer_start(&q->mover_timer, on_mover_timer, (uint64_t)wait, 0);
}

static void on_mover_reply(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    fp_queue_t *q = privdata;
    (void)c;
    if (q->closing) {
        q->mover_left--;
        return;
    }
    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_INTEGER && r->element[1]->type == REDIS_REPLY_INTEGER) {
        long long moved = r->element[0]->integer, wait = r->element[1]->integer;
        if (moved > 0)
            q->stats.moved += (uint64_t)moved;
        if (moved >= MOVER_BATCH)
            q->mover_again = true;
        /* At least 1 ms: a member due "now" by Redis' clock has just been
         * moved, so 0 would only spin. */
        if (wait >= 0 && wait < q->mover_wait)
            q->mover_wait = wait < 1 ? 1 : wait;
    } else if (reply_is_error(r, "NOSCRIPT")) {
        q->mover_script.eval = true;
        q->mover_again = true;
    } else if (r != NULL) {
        log_error_once(q, "moving delayed jobs failed", r);
    }
    mover_step_done(q);
}

/* One round: one script call per queue, the next round when all answered. */
static void on_mover_timer(uv_timer_t *t)
{
    fp_queue_t *q = t->data;
    if (q->closing || q->mover_left > 0)
        return;
    if (!q->ready) {
        uv_timer_start(&q->mover_timer, on_mover_timer, MOVER_MS, 0);
        return;
    }
    q->mover_left = 1; /* held while sending */
    q->mover_again = false;
    q->mover_wait = MOVER_MS;
    char limit[16];
    snprintf(limit, sizeof limit, "%d", MOVER_BATCH);
    for (size_t i = 0; i < q->n; i++) {
        const char *keys[FP_SCRIPT_MOVER_KEYS] = {q->qs[i].jobs_key, q->qs[i].delayed_key};
        const char *args[] = {limit};
        if (send_script(q, &q->mover_script, keys, FP_SCRIPT_MOVER_KEYS, args, 1, NULL,
                        on_mover_reply, q) < 0)
            break;
        q->mover_left++;
    }
    mover_step_done(q);
}

/* Runs a round now unless one is in flight (whose end arms the next). */
static void mover_kick(fp_queue_t *q)
{
    if (q->started && !q->closing && q->mover_left == 0)
        uv_timer_start(&q->mover_timer, on_mover_timer, 0, 0);
}

void fp_queue_stats(const fp_queue_t *q, fp_queue_stats_t *out)
{
    *out = q->stats;
}

/* ---- outcomes ------------------------------------------------------------ */

static batch_t *batch_new(fp_queue_t *q, uint32_t queue)
{
    batch_t *b = q->spare;
    if (b != NULL) {
        q->spare = b->next;
        q->spare_n--;
    } else if ((b = calloc(1, sizeof *b)) == NULL) {
        return NULL;
    }
    b->next = NULL;
    b->q = q;
    b->queue = queue;
    b->sent = b->use_eval = b->resent = false;
    b->count = 0;
    fp_resp_reset(&b->args);
    return b;
}

static void batch_free(batch_t *b)
{
    fp_resp_free(&b->args);
    free(b->ids);
    free(b);
}

static void batch_recycle(fp_queue_t *q, batch_t *b)
{
    if (q->spare_n >= SPARE_BATCHES || b->args.cap > (size_t)1 << 20) {
        batch_free(b);
        return;
    }
    b->next = q->spare;
    q->spare = b;
    q->spare_n++;
}

static batch_t *open_batch(fp_queue_t *q, uint32_t queue)
{
    qstate_t *qs = &q->qs[queue];
    if (qs->tail != NULL && !qs->tail->sent && qs->tail->count < FP_OUTCOMES_PER_CALL)
        return qs->tail;
    batch_t *b = batch_new(q, queue);
    if (b == NULL)
        return NULL;
    if (qs->tail != NULL)
        qs->tail->next = b;
    else
        qs->head = b;
    qs->tail = b;
    return b;
}

/* Counts one encoded outcome. An id that cannot be recorded only costs the
 * held-set cleanup: the outcome itself is already encoded. */
static void add_outcome_id(batch_t *b, uint64_t ms, uint64_t seq)
{
    if (b->count >= b->ids_cap) {
        size_t cap = b->ids_cap != 0 ? b->ids_cap * 2 : 64;
        sid_t *grown = realloc(b->ids, cap * sizeof *grown);
        if (grown != NULL) {
            b->ids = grown;
            b->ids_cap = cap;
        }
    }
    if (b->count < b->ids_cap)
        b->ids[b->count] = (sid_t){ms, seq};
    else
        fp_log_error(LOG, "out of memory tracking an outcome");
    b->count++;
    b->q->unconfirmed++;
}

static void batch_unlink(fp_queue_t *q, batch_t *b)
{
    qstate_t *qs = &q->qs[b->queue];
    batch_t **pp = &qs->head, *prev = NULL;
    while (*pp != NULL && *pp != b) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp == NULL)
        return;
    *pp = b->next;
    if (qs->tail == b)
        qs->tail = prev;
}

static void batch_confirmed(fp_queue_t *q, batch_t *b)
{
    for (size_t i = 0; i < b->count && i < b->ids_cap; i++)
        held_remove(&q->held, b->queue, b->ids[i].ms, b->ids[i].seq);
    q->unconfirmed -= b->count;
    batch_unlink(q, b);
    batch_recycle(q, b);
    retry_reset(q);
}

/* Outcomes the script did not apply, as {id, holder}. One pending to
 * another consumer was taken over: its new holder's copy is left alone. One
 * pending to nobody was settled elsewhere, or, in a batch re-sent after a
 * lost reply, most likely by that batch's first send: not counted then. */
static void note_not_applied(fp_queue_t *q, const batch_t *b, const redisReply *list)
{
    for (size_t i = 0; list->type == REDIS_REPLY_ARRAY && i < list->elements; i++) {
        const redisReply *e = list->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING ||
            e->element[1]->type != REDIS_REPLY_STRING)
            continue;
        const redisReply *id = e->element[0], *holder = e->element[1];
        if (holder->len == 0 && b->resent)
            continue;
        q->stats.outcomes_stale++;
        if (holder->len > 0)
            fp_log_warn(LOG, "outcome of entry %.*s of queue %s not applied: consumer %.*s "
                        "holds it now", (int)id->len, id->str, q->qs[b->queue].name,
                        (int)holder->len, holder->str);
        else
            fp_log_warn(LOG, "outcome of entry %.*s of queue %s not applied: it is no longer "
                        "pending", (int)id->len, id->str, q->qs[b->queue].name);
    }
}

static void on_batch_reply(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    batch_t *b = privdata;
    fp_queue_t *q = b->q;
    (void)c;
    b->sent = false;
    if (q->closing)
        return;
    if (r == NULL) {
        b->resent = true; /* re-sent once the writer is back */
        return;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_INTEGER) {
        note_not_applied(q, b, r->element[1]);
        batch_confirmed(q, b);
        return;
    }
    if (reply_is_error(r, "NOSCRIPT")) {
        b->use_eval = true; /* Redis lost its script cache: EVAL loads it again */
        return;
    }
    if (reply_is_error(r, "NOGROUP")) {
        q->setup_done = false;
        update_ready(q);
        setup_start(q);
        return;
    }
    log_error_once(q, "recording outcomes failed", r);
    arm_retry(q);
}

static int send_batch(fp_queue_t *q, batch_t *b)
{
    const qstate_t *qs = &q->qs[b->queue];
    const char *keys[FP_SCRIPT_OUTCOMES_KEYS] = {qs->jobs_key, qs->dead_key, qs->delayed_key};
    const char *args[2] = {q->cfg->redis.group, q->cfg->daemon.name};
    const char *sha = b->use_eval ? NULL : q->outcome_sha;
    int rc = fp_script_command(&q->scratch, sha, fp_script_outcomes, keys,
                               FP_SCRIPT_OUTCOMES_KEYS, args, 2, &b->args);
    if (rc == 0)
        rc = fp_redis_conn_send(q->writer, q->scratch.data, q->scratch.len, 0, on_batch_reply, b);
    if (rc == 0)
        b->sent = true;
    return rc;
}

/* ---- outcomes and the next pull in one call --------------------------------- */

static void on_combined_reply(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    batch_t *b = privdata;
    fp_queue_t *q = b->q;
    (void)c;
    b->sent = false;
    q->read_in_flight = false;
    q->read_combined = false;
    if (q->closing)
        return;
    if (r == NULL) {
        /* The batch is re-sent (it is idempotent); the read may have
         * happened: the history read finds its entries. */
        b->resent = true;
        all_history(q);
        return;
    }
    if (reply_is_error(r, "NOSCRIPT")) {
        q->pull_script.eval = true; /* nothing ran; the next turn sends EVAL */
        return;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        /* The whole call failed before the read (NOGROUP, BUSY, LOADING...):
         * handled as a failed read; the batch waits for the retry. */
        read_failed(q, r, "recording outcomes and pulling failed");
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_INTEGER) {
        fp_log_error(LOG, "unexpected reply to the outcome-and-pull script (type %d)", r->type);
        all_history(q); /* the batch is re-sent; entries pulled, if any, are found there */
        arm_retry(q);
        return;
    }
    note_not_applied(q, b, r->element[2]);
    batch_confirmed(q, b);
    const redisReply *got = r->element[1];
    if (got->type == REDIS_REPLY_ERROR) {
        read_failed(q, got, "XREADGROUP failed");
        return;
    }
    read_done(q, got);
}

/* The first unsent batch of queue i, to ride with a pull of that queue. */
static batch_t *batch_to_carry(fp_queue_t *q, size_t i)
{
    if (!q->writer_up || !q->setup_done || q->retry_armed)
        return NULL;
    for (batch_t *b = q->qs[i].head; b != NULL; b = b->next)
        if (!b->sent && b->count > 0)
            return b;
    return NULL;
}

/* One non-blocking read of queue i (COUNT count, at most the room). When
 * outcomes of that queue wait, they travel with it in one script call on the
 * writer, applied before the read; otherwise it is a plain XREADGROUP on the
 * reader. */
static void send_sweep(fp_queue_t *q, size_t i, size_t count)
{
    batch_t *b = batch_to_carry(q, i);
    if (b == NULL) {
        send_read(q, q->reader, READ_SWEEP, count, i, 1, ">", 0);
        return;
    }
    const qstate_t *qs = &q->qs[i];
    const char *keys[FP_SCRIPT_OUTCOMES_KEYS] = {qs->jobs_key, qs->dead_key, qs->delayed_key};
    char count_text[24];
    snprintf(count_text, sizeof count_text, "%zu", count);
    const char *args[3] = {q->cfg->redis.group, q->cfg->daemon.name, count_text};
    script_t *script = &q->pull_script;
    const char *sha = script->eval || script->sha[0] == '\0' ? NULL : script->sha;
    int rc = fp_script_command(&q->scratch, sha, script->text, keys, FP_SCRIPT_OUTCOMES_KEYS,
                               args, 3, &b->args);
    if (rc == 0)
        rc = fp_redis_conn_send(q->writer, q->scratch.data, q->scratch.len, 0, on_combined_reply,
                                b);
    if (rc < 0) {
        send_read(q, q->reader, READ_SWEEP, count, i, 1, ">", 0);
        return;
    }
    if (sha == NULL)
        script->eval = false;
    b->sent = true;
    q->read_in_flight = true;
    q->read_kind = READ_SWEEP;
    q->read_queue = i;
    q->read_count = count;
    q->read_combined = true;
    q->unblock_sent = false;
}

/* While a combined call of the same queue is in flight, a batch that is not
 * full waits for its reply (one round trip, never a blocking read): the next
 * pull carries it, saving a call and a wake-up on both sides. If that reply
 * leaves no pull to make, the same turn sends the batch on its own. */
static bool batch_waits(const fp_queue_t *q, const batch_t *b)
{
    return q->read_in_flight && q->read_combined && q->read_queue == b->queue &&
           b->count < FP_OUTCOMES_PER_CALL;
}

static void flush(fp_queue_t *q)
{
    if (q->unconfirmed == 0 || !q->writer_up || !q->setup_done || q->retry_armed)
        return;
    for (size_t i = 0; i < q->n; i++)
        for (batch_t *b = q->qs[i].head; b != NULL; b = b->next)
            if (!b->sent && b->count > 0 && !batch_waits(q, b) && send_batch(q, b) < 0)
                return;
}

/* Once per loop turn, before libuv waits: stashed entries are handed over,
 * the next read starts (carrying its queue's outcomes when it can), the
 * other outcomes leave, and both connections write what this turn queued,
 * now rather than from a later handle (no extra zero-timeout poll). */
static void on_prepare(uv_prepare_t *h)
{
    fp_queue_t *q = h->data;
    maybe_unblock(q);
    pump(q);
    flush(q);
    fp_redis_conn_flush(q->writer);
    fp_redis_conn_flush(q->reader);
}

/* Validates the id and opens room for one outcome; NULL when it cannot be
 * recorded (logged), in which case the entry stays pending for recovery.
 * *vanished: renewal found its stream entry deleted while it was held. */
static batch_t *outcome_begin(fp_queue_t *q, uint32_t queue, const char *entry_id, uint64_t *ms,
                              uint64_t *seq, bool *vanished)
{
    if (q->closing || queue >= q->n || entry_id == NULL)
        return NULL;
    if (!fp_stream_id_parse(entry_id, strlen(entry_id), ms, seq)) {
        fp_log_error(LOG, "cannot record an outcome for \"%s\": not a stream entry id", entry_id);
        return NULL;
    }
    const held_slot_t *slot = held_get(&q->held, queue, *ms, *seq);
    *vanished = slot != NULL && (slot->used & HELD_VANISHED) != 0;
    batch_t *b = open_batch(q, queue);
    if (b == NULL)
        fp_log_error(LOG, "out of memory recording the outcome of %s", entry_id);
    return b;
}

static void outcome_end(fp_queue_t *q, batch_t *b, int rc, const char *entry_id, uint64_t ms,
                        uint64_t seq)
{
    if (rc < 0) {
        fp_log_error(LOG, "out of memory recording the outcome of %s", entry_id);
        return;
    }
    /* Held until confirmed even if it came from elsewhere: a history read
     * before the confirmation must not hand it over again. */
    held_add(&q->held, b->queue, ms, seq);
    held_slot_t *slot = held_get(&q->held, b->queue, ms, seq);
    if (slot != NULL)
        slot->used |= HELD_SETTLING;
    add_outcome_id(b, ms, seq);
}

void fp_queue_ack(fp_queue_t *q, uint32_t queue, const char *entry_id)
{
    uint64_t ms, seq;
    bool vanished;
    batch_t *b = outcome_begin(q, queue, entry_id, &ms, &seq, &vanished);
    if (b != NULL)
        outcome_end(q, b, fp_outcome_encode_ack(&b->args, vanished, entry_id), entry_id, ms, seq);
}

void fp_queue_dead(fp_queue_t *q, uint32_t queue, const char *entry_id, const char *payload,
                   size_t payload_len, const char *error, int64_t attempts)
{
    uint64_t ms, seq;
    bool vanished;
    batch_t *b = outcome_begin(q, queue, entry_id, &ms, &seq, &vanished);
    if (b == NULL)
        return;
    int rc = fp_outcome_encode_dead(&b->args, vanished, entry_id, payload != NULL ? payload : "",
                                    payload != NULL ? payload_len : 0, error, attempts,
                                    fp_os_unix_ms());
    outcome_end(q, b, rc, entry_id, ms, seq);
}

void fp_queue_put_back(fp_queue_t *q, uint32_t queue, const char *entry_id, const char *payload,
                       size_t payload_len)
{
    uint64_t ms, seq;
    bool vanished;
    batch_t *b = outcome_begin(q, queue, entry_id, &ms, &seq, &vanished);
    if (b == NULL)
        return;
    int rc = fp_outcome_encode_put_back(&b->args, vanished, entry_id,
                                        payload != NULL ? payload : "",
                                        payload != NULL ? payload_len : 0);
    outcome_end(q, b, rc, entry_id, ms, seq);
}

/* Remembers a retry's delayed member for --burst. */
static void mark_retry(fp_queue_t *q, uint32_t queue, const char *payload, size_t len)
{
    qstate_t *qs = &q->qs[queue];
    if (qs->marks_n == qs->marks_cap) {
        size_t cap = qs->marks_cap > 0 ? qs->marks_cap * 2 : 16;
        retry_mark_t *grown = realloc(qs->marks, cap * sizeof *grown);
        if (grown == NULL)
            goto oom;
        qs->marks = grown;
        qs->marks_cap = cap;
    }
    char *copy = malloc(len > 0 ? len : 1);
    if (copy == NULL)
        goto oom;
    memcpy(copy, payload, len);
    qs->marks[qs->marks_n++] = (retry_mark_t){copy, len};
    return;
oom:
    fp_log_error(LOG, "out of memory remembering a retry; --burst will not exit on its own");
    q->marks_lost = true;
}

void fp_queue_retry(fp_queue_t *q, uint32_t queue, const char *entry_id, const char *payload,
                    size_t payload_len, int64_t delay_ms)
{
    uint64_t ms, seq;
    bool vanished;
    batch_t *b = outcome_begin(q, queue, entry_id, &ms, &seq, &vanished);
    if (b == NULL)
        return;
    if (payload == NULL) {
        payload = "";
        payload_len = 0;
    }
    int rc = fp_outcome_encode_retry(&b->args, vanished, entry_id, payload, payload_len, delay_ms);
    outcome_end(q, b, rc, entry_id, ms, seq);
    if (rc == 0 && q->track_retries)
        mark_retry(q, queue, payload, payload_len);
}

void fp_queue_track_retries(fp_queue_t *q)
{
    q->track_retries = true;
}

void fp_queue_hold(fp_queue_t *q, uint32_t queue, const char *entry_id)
{
    uint64_t ms, seq;
    if (q->closing || queue >= q->n || entry_id == NULL ||
        !fp_stream_id_parse(entry_id, strlen(entry_id), &ms, &seq))
        return;
    if (held_add(&q->held, queue, ms, seq) < 0)
        fp_log_error(LOG, "out of memory holding %s", entry_id);
}

size_t fp_queue_unconfirmed(const fp_queue_t *q)
{
    return q->unconfirmed;
}

/* ---- drained ------------------------------------------------------------- */

static void drained_item_done(drained_item_t *item, bool drained)
{
    drained_req_t *req = item->req;
    free(item);
    req->drained &= drained;
    if (--req->left > 0)
        return;
    req->cb(req->ctx, req->drained);
    free(req);
}

static int send_drained(fp_queue_t *q, drained_item_t *item);

/* With nothing pending in the queue, a retry no longer in the delayed set
 * has been moved back to the stream (where ready and pending now cover it)
 * or is gone: only the marks still waiting are kept. While entries are
 * pending, an absent mark may be an outcome not applied yet: all stay. */
static void prune_marks(fp_queue_t *q, const drained_item_t *item, const redisReply *waiting)
{
    qstate_t *qs = &q->qs[item->queue];
    if (item->marks_gen != qs->marks_gen || item->marks_sent > qs->marks_n)
        return;
    size_t kept = 0, w = 0;
    for (size_t i = 0; i < qs->marks_n; i++) {
        bool still = i >= item->marks_sent;
        while (!still && w < waiting->elements &&
               waiting->element[w]->type == REDIS_REPLY_INTEGER &&
               waiting->element[w]->integer <= (long long)i + 1) {
            still = waiting->element[w]->integer == (long long)i + 1;
            w++;
        }
        if (still)
            qs->marks[kept++] = qs->marks[i];
        else
            free(qs->marks[i].member);
    }
    qs->marks_n = kept;
    qs->marks_gen++;
}

/* {pending, ready, waiting}: drained when all three are nothing. */
static bool drained_reply(fp_queue_t *q, const drained_item_t *item, const redisReply *r)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_INTEGER ||
        r->element[1]->type != REDIS_REPLY_INTEGER || r->element[2]->type != REDIS_REPLY_ARRAY)
        return false;
    if (r->element[0]->integer == 0)
        prune_marks(q, item, r->element[2]);
    return r->element[0]->integer == 0 && r->element[1]->integer == 0 &&
           r->element[2]->elements == 0 && !q->marks_lost;
}

static void on_drained_reply(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    drained_item_t *item = privdata;
    fp_queue_t *q = item->req->q;
    (void)c;
    if (!q->closing && reply_is_error(r, "NOSCRIPT") && !item->tried_eval) {
        item->tried_eval = true;
        if (send_drained(q, item) == 0)
            return;
    }
    bool drained = !q->closing && drained_reply(q, item, r);
    if (r != NULL && r->type == REDIS_REPLY_ERROR && !q->closing)
        log_error_once(q, "drained check failed", r);
    drained_item_done(item, drained);
}

static int send_drained(fp_queue_t *q, drained_item_t *item)
{
    const qstate_t *qs = &q->qs[item->queue];
    const char *keys[FP_SCRIPT_DRAINED_KEYS] = {qs->jobs_key, qs->delayed_key};
    const char *args[1] = {q->cfg->redis.group};
    fp_resp_reset(&q->marks_args);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < qs->marks_n; i++)
        rc = fp_resp_arg(&q->marks_args, qs->marks[i].member, qs->marks[i].len);
    item->marks_sent = qs->marks_n;
    item->marks_gen = qs->marks_gen;
    if (rc == 0)
        rc = fp_script_command(&q->scratch, item->tried_eval ? NULL : q->drained_sha,
                               fp_script_drained, keys, FP_SCRIPT_DRAINED_KEYS, args, 1,
                               &q->marks_args);
    if (rc == 0)
        rc = fp_redis_conn_send(q->writer, q->scratch.data, q->scratch.len, 0, on_drained_reply,
                                item);
    return rc;
}

void fp_queue_check_drained(fp_queue_t *q, void (*cb)(void *ctx, bool drained), void *ctx)
{
    drained_req_t *req = calloc(1, sizeof *req);
    if (req == NULL || q->closing || !q->writer_up || !q->setup_done) {
        free(req);
        cb(ctx, false); /* unknown is not drained */
        return;
    }
    *req = (drained_req_t){q, cb, ctx, 1, true};
    for (size_t i = 0; i < q->n; i++) {
        drained_item_t *item = calloc(1, sizeof *item);
        if (item == NULL) {
            req->drained = false;
            break;
        }
        *item = (drained_item_t){req, (uint32_t)i, false, 0, 0};
        req->left++;
        if (send_drained(q, item) < 0) {
            req->drained = false;
            req->left--;
            free(item);
            break;
        }
    }
    /* The extra count held the request while sending: release it now. */
    if (--req->left == 0) {
        req->cb(req->ctx, req->drained);
        free(req);
    }
}

bool fp_queue_is_ready(const fp_queue_t *q)
{
    return q->ready;
}

/* ---- depth sampling ------------------------------------------------------ */

typedef struct sample_s {
    fp_queue_t *q;
    uint32_t queue;
    fp_queue_sample_cb cb;
    void *ctx;
} sample_t;

const char *fp_queue_down_reason(const fp_queue_t *q)
{
    return q->ready ? "" : q->down_reason;
}

static void on_sample_reply(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    (void)c;
    sample_t *smp = privdata;
    fp_admin_queue_stats_t stats;
    memset(&stats, 0, sizeof stats);
    bool ok = r != NULL && r->type == REDIS_REPLY_ARRAY && fp_queue_stats_parse(r, &stats) == 0;
    if (!smp->q->closing)
        smp->cb(smp->ctx, smp->queue, ok ? &stats : NULL);
    fp_admin_queue_stats_clear(&stats);
    free(smp);
}

void fp_queue_sample(fp_queue_t *q, fp_queue_sample_cb cb, void *ctx)
{
    if (q->closing || !q->ready || !q->writer_up)
        return;
    char cap[24], page[24];
    snprintf(cap, sizeof cap, "%d", FP_ADMIN_READY_COUNT_MAX);
    snprintf(page, sizeof page, "%d", FP_QUEUE_STATS_PAGE);
    for (size_t i = 0; i < q->n; i++) {
        sample_t *smp = malloc(sizeof *smp);
        if (smp == NULL)
            return;
        *smp = (sample_t){q, (uint32_t)i, cb, ctx};
        const char *keys[3] = {q->qs[i].jobs_key, q->qs[i].delayed_key, q->qs[i].dead_key};
        const char *args[3] = {q->cfg->redis.group, cap, page};
        /* Every few seconds only: plain EVAL, no script cache to manage. */
        int rc = fp_script_command(&q->scratch, NULL, fp_queue_stats_script, keys, 3, args, 3, NULL);
        if (rc == 0)
            rc = fp_redis_conn_send(q->writer, q->scratch.data, q->scratch.len, 0, on_sample_reply,
                                    smp);
        if (rc < 0)
            free(smp);
    }
}

/* ---- lifecycle ----------------------------------------------------------- */

static void queue_free(fp_queue_t *q)
{
    for (size_t i = 0; q->qs != NULL && i < q->n; i++) {
        qstate_t *qs = &q->qs[i];
        for (batch_t *b = qs->head, *next; b != NULL; b = next) {
            next = b->next;
            batch_free(b);
        }
        free(qs->jobs_key);
        free(qs->dead_key);
        free(qs->delayed_key);
        for (size_t k = 0; k < qs->marks_n; k++)
            free(qs->marks[k].member);
        free(qs->marks);
    }
    for (batch_t *b = q->spare, *next; b != NULL; b = next) {
        next = b->next;
        batch_free(b);
    }
    for (size_t i = 0; i < q->stash_n; i++)
        pulled_free(&q->stash[i]);
    free(q->stash);
    free(q->out);
    free(q->qs);
    free(q->held.slots);
    free(q->renew_ids);
    fp_resp_free(&q->renew_args);
    fp_resp_free(&q->scratch);
    fp_resp_free(&q->marks_args);
    fp_redis_url_free(&q->url);
    free(q);
}

/* A queue's weight is the one configured for its name (names may come from
 * --queue rather than queues.names); 1 when none is. */
static void init_weights(fp_queue_t *q, const fp_config_t *cfg, const char *const *names)
{
    q->weighted = cfg->queues.order == FP_ORDER_WEIGHTED;
    for (size_t i = 0; i < q->n; i++) {
        q->weights[i] = 1;
        q->wrr_eligible[i] = true;
        for (size_t j = 0; cfg->queues.weights != NULL && j < cfg->queues.names.count; j++)
            if (strcmp(cfg->queues.names.items[j], names[i]) == 0)
                q->weights[i] = cfg->queues.weights[j];
    }
}

int fp_queue_new(uv_loop_t *loop, const fp_config_t *cfg, const char *const *names, size_t n,
                 const fp_queue_events_t *events, void *ctx, fp_queue_t **out, fp_err_t *err)
{
    if (n == 0 || n > QUEUES_MAX)
        return fp_err_set(err, FP_ECONFIG, "between 1 and 64 queues can be consumed, not %zu", n);
    fp_queue_t *q = calloc(1, sizeof *q);
    if (q == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    int rc = fp_redis_url_parse(cfg->redis.url, &q->url, err);
    if (rc < 0) {
        free(q);
        return rc;
    }
    q->loop = loop;
    q->cfg = cfg;
    q->events = *events;
    q->ctx = ctx;
    q->n = n;
    q->reader_id = -1;
    q->retry_ms = RETRY_MIN_MS;
    q->sweep_index = 0;
    q->vt_ms = cfg->recovery.visibility_timeout_ms > 0 ? cfg->recovery.visibility_timeout_ms : 0;
    q->claim_script = (script_t){fp_script_claim, "loading the take-over script", "", false};
    q->history_script = (script_t){fp_script_history, "loading the history script", "", false};
    q->consumers_script =
        (script_t){fp_script_consumers, "loading the consumer clean-up script", "", false};
    q->mover_script = (script_t){fp_script_mover, "loading the delayed-mover script", "", false};
    q->renew_script = (script_t){fp_script_renew, "loading the renewal script", "", false};
    q->pull_script =
        (script_t){fp_script_outcomes_pull, "loading the outcome-and-pull script", "", false};
    q->qs = calloc(n, sizeof *q->qs);
    if (q->qs == NULL)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        qstate_t *qs = &q->qs[i];
        qs->name = names[i];
        qs->jobs_key = fp_queue_key(cfg->redis.prefix, names[i], "jobs");
        qs->dead_key = fp_queue_key(cfg->redis.prefix, names[i], "dead");
        qs->delayed_key = fp_queue_key(cfg->redis.prefix, names[i], "delayed");
        if (qs->jobs_key == NULL || qs->dead_key == NULL || qs->delayed_key == NULL)
            goto oom;
        /* Whatever a predecessor under this name left pending is one more
         * delivery: to this process. */
        snprintf(qs->counted, sizeof qs->counted, "0-0");
    }
    init_weights(q, cfg, names);
    all_history(q);
    fp_redis_conn_opts_t opts = {"reader", cfg->redis.connect_timeout_ms,
                                 cfg->redis.connect_timeout_ms + COMMAND_GRACE_MS};
    if ((rc = fp_redis_conn_new(loop, &q->url, &opts, on_conn_state, q, &q->reader, err)) < 0)
        goto fail;
    opts.name = "writer";
    if ((rc = fp_redis_conn_new(loop, &q->url, &opts, on_conn_state, q, &q->writer, err)) < 0)
        goto fail;
    uv_prepare_init(loop, &q->prepare);
    q->prepare.data = q;
    uv_timer_init(loop, &q->retry_timer);
    q->retry_timer.data = q;
    uv_timer_t *timers[] = {&q->renew_timer, &q->claim_timer, &q->mover_timer};
    for (size_t i = 0; i < sizeof timers / sizeof timers[0]; i++) {
        uv_timer_init(loop, timers[i]);
        timers[i]->data = q;
    }
    *out = q;
    return 0;
oom:
    rc = fp_err_set(err, -ENOMEM, "out of memory");
fail:
    /* Nothing was started: connections close without touching the network. */
    if (q->reader != NULL)
        fp_redis_conn_close(q->reader, NULL, NULL);
    if (q->writer != NULL)
        fp_redis_conn_close(q->writer, NULL, NULL);
    queue_free(q);
    return rc;
}

int fp_queue_start(fp_queue_t *q)
{
    if (q->started || q->closing)
        return 0;
    q->started = true;
    uv_prepare_start(&q->prepare, on_prepare);
    if (q->vt_ms > 0) {
        uint64_t every = (uint64_t)(q->vt_ms / 3 > 0 ? q->vt_ms / 3 : 1);
        uv_timer_start(&q->renew_timer, on_renew_timer, every, every);
        if (q->cfg->recovery.claim_interval_ms > 0) {
            uint64_t claim = (uint64_t)q->cfg->recovery.claim_interval_ms;
            uv_timer_start(&q->claim_timer, on_claim_timer, claim, claim);
        }
    }
    /* The mover's first round runs once Redis is ready (update_ready). */
    fp_redis_conn_start(q->writer);
    fp_redis_conn_start(q->reader);
    return 0;
}

void fp_queue_want(fp_queue_t *q, size_t room)
{
    /* Only recorded: the prepare callback acts on it, so a call from inside
     * on_jobs never re-enters the read path. */
    q->room = room;
}

static void part_closed(fp_queue_t *q)
{
    if (--q->open_parts > 0)
        return;
    void (*cb)(void *) = q->close_cb;
    void *ctx = q->close_ctx;
    queue_free(q);
    if (cb != NULL)
        cb(ctx);
}

static void on_part_closed(void *ctx)
{
    part_closed(ctx);
}

static void on_handle_closed(uv_handle_t *h)
{
    part_closed(h->data);
}

void fp_queue_close(fp_queue_t *q, void (*cb)(void *ctx), void *ctx)
{
    if (q == NULL || q->closing)
        return;
    q->closing = true;
    q->ready = false;
    q->close_cb = cb;
    q->close_ctx = ctx;
    q->open_parts = 7;
    uv_close((uv_handle_t *)&q->prepare, on_handle_closed);
    uv_close((uv_handle_t *)&q->retry_timer, on_handle_closed);
    uv_close((uv_handle_t *)&q->renew_timer, on_handle_closed);
    uv_close((uv_handle_t *)&q->claim_timer, on_handle_closed);
    uv_close((uv_handle_t *)&q->mover_timer, on_handle_closed);
    /* Pending replies come back as NULL from inside these calls (or right
     * after the hiredis callback we may be in returns); q is freed only in the
     * last close callback, on a later loop phase. */
    fp_redis_conn_close(q->reader, on_part_closed, q);
    fp_redis_conn_close(q->writer, on_part_closed, q);
}
