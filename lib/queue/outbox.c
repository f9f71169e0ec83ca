/* outbox.c: outcomes on their way to Redis. The fp_queue_* outcome calls
 * only encode into a per-queue batch (one script call of up to
 * FP_OUTCOMES_PER_CALL outcomes); the batches leave from the prepare
 * callback once per loop turn and are kept until Redis confirms them (re-sent
 * as they are after a lost connection). While jobs flow, a turn's outcomes
 * (fp_script_outcomes) and the next non-blocking pull of their queue (a plain
 * XREADGROUP) leave in one write on the writer: one round trip, one Redis and
 * one supervisor wake-up instead of two; outcomes arriving while they are in
 * flight wait for the read's reply and go out with the next pull. */
#include "queue/queue_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/os.h"
#include "queue/outcome_find.h"

#define SPARE_BATCHES 8

/* ---- outcomes ------------------------------------------------------------ */

static fp_batch_t *batch_new(fp_queue_t *q, uint32_t queue, bool again)
{
    fp_batch_t *b = q->outbox.spare;
    if (b != NULL) {
        q->outbox.spare = b->next;
        q->outbox.spare_n--;
    } else if ((b = calloc(1, sizeof *b)) == NULL) {
        return NULL;
    }
    b->next = NULL;
    b->q = q;
    b->queue = queue;
    b->sent = b->use_eval = false;
    b->again = again;
    b->epoch = UINT32_MAX;
    b->count = 0;
    fp_resp_reset(&b->args);
    return b;
}

void fp_q_batch_free(fp_batch_t *b)
{
    fp_resp_free(&b->args);
    free(b->ids);
    free(b);
}

static void batch_recycle(fp_queue_t *q, fp_batch_t *b)
{
    if (q->outbox.spare_n >= SPARE_BATCHES || b->args.cap > (size_t)1 << 20) {
        fp_q_batch_free(b);
        return;
    }
    b->next = q->outbox.spare;
    q->outbox.spare = b;
    q->outbox.spare_n++;
}

fp_batch_t *fp_q_open_batch(fp_queue_t *q, uint32_t queue, bool again)
{
    fp_qstate_t *qs = &q->qs[queue];
    if (qs->tail != NULL && !qs->tail->sent && qs->tail->count < FP_OUTCOMES_PER_CALL &&
        qs->tail->again == again)
        return qs->tail;
    fp_batch_t *b = batch_new(q, queue, again);
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
void fp_q_add_outcome_id(fp_batch_t *b, uint64_t ms, uint64_t seq, uint32_t epoch)
{
    if (epoch < b->epoch)
        b->epoch = epoch;
    if (b->count >= b->ids_cap) {
        size_t cap = b->ids_cap != 0 ? b->ids_cap * 2 : 64;
        fp_sid_t *grown = realloc(b->ids, cap * sizeof *grown);
        if (grown != NULL) {
            b->ids = grown;
            b->ids_cap = cap;
        }
    }
    if (b->count < b->ids_cap)
        b->ids[b->count] = (fp_sid_t){ms, seq};
    else
        fp_log_error(LOG, "out of memory tracking an outcome");
    b->count++;
    b->q->outbox.unconfirmed++;
}

static void batch_unlink(fp_queue_t *q, fp_batch_t *b)
{
    fp_qstate_t *qs = &q->qs[b->queue];
    fp_batch_t **pp = &qs->head, *prev = NULL;
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

static void batch_confirmed(fp_queue_t *q, fp_batch_t *b)
{
    for (size_t i = 0; i < b->count && i < b->ids_cap; i++)
        fp_held_set_remove(&q->held, b->queue, b->ids[i].ms, b->ids[i].seq);
    q->outbox.unconfirmed -= b->count;
    batch_unlink(q, b);
    batch_recycle(q, b);
    fp_q_retry_reset(q);
}

/* Outcomes the script did not apply, as {id, holder}. One pending to
 * another consumer was taken over: its new holder's copy is left alone. One
 * pending to nobody was settled elsewhere, or, in a batch re-sent after a
 * lost reply, most likely by that batch's first send: not counted then. */
static void note_not_applied(fp_queue_t *q, const fp_batch_t *b, const redisReply *list)
{
    for (size_t i = 0; list->type == REDIS_REPLY_ARRAY && i < list->elements; i++) {
        const redisReply *e = list->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING ||
            e->element[1]->type != REDIS_REPLY_STRING)
            continue;
        const redisReply *id = e->element[0], *holder = e->element[1];
        if (holder->len == 0 && b->again)
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

/* Retries (or puts back) the script sent to dead as cancelled instead: a
 * `forkpool cancel` marked the entry before its outcome, and the daemon had
 * not taken the mark yet. Said here, where it is known, and told to the
 * supervisor (on_retry_cancelled) with the payload the retry carried, for
 * its ledger row and metrics. */
static void note_cancelled(fp_queue_t *q, const fp_batch_t *b, const redisReply *list)
{
    char entry[48];
    for (size_t i = 0; list->type == REDIS_REPLY_ARRAY && i < list->elements; i++) {
        const redisReply *id = list->element[i];
        if (id->type != REDIS_REPLY_STRING || id->len >= sizeof entry)
            continue;
        fp_log_info(LOG, "entry %.*s of queue %s was cancelled: it went to the dead stream "
                    "instead of being retried", (int)id->len, id->str, q->qs[b->queue].name);
        if (q->events.on_retry_cancelled == NULL)
            continue;
        const char *payload = NULL;
        size_t len = 0;
        char kind = 0;
        if (!fp_outcome_find_payload(b->args.data, b->args.len, id->str, id->len, &payload, &len,
                                     &kind))
            payload = NULL;
        memcpy(entry, id->str, id->len);
        entry[id->len] = '\0';
        q->events.on_retry_cancelled(q->ctx, b->queue, entry, kind, payload, len);
    }
}

static void on_batch_reply(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    fp_batch_t *b = privdata;
    fp_queue_t *q = b->q;
    (void)c;
    b->sent = false;
    if (q->life.closing)
        return;
    if (r == NULL) {
        b->again = true; /* re-sent once the writer is back */
        return;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 4 &&
        r->element[0]->type == REDIS_REPLY_INTEGER && r->element[3]->type == REDIS_REPLY_STRING) {
        fp_takeover_learn(&q->qs[b->queue].takeover, r->element[3]->str, r->element[3]->len);
        note_not_applied(q, b, r->element[1]);
        note_cancelled(q, b, r->element[2]);
        batch_confirmed(q, b);
        return;
    }
    if (fp_q_reply_is_error(r, "NOSCRIPT")) {
        b->use_eval = true; /* Redis lost its script cache: EVAL loads it again */
        return;
    }
    if (fp_q_reply_is_error(r, "NOGROUP")) {
        fp_q_setup_again(q);
        return;
    }
    /* A script that failed part-way keeps what it wrote (no rollback). */
    b->again = true;
    fp_q_log_error_once(q, "recording outcomes failed", r);
    fp_q_arm_retry(q);
}

static int send_batch(fp_queue_t *q, fp_batch_t *b)
{
    const fp_qstate_t *qs = &q->qs[b->queue];
    const char *keys[FP_SCRIPT_OUTCOMES_KEYS] = {qs->jobs_key, qs->dead_key, qs->delayed_key,
                                                 qs->cancel_key, qs->takeover_key};
    /* The span of the batch's ids, so the script reads only the pending
     * entries among them; everything when an id could not be recorded. */
    char lo[FP_SID_TEXT], hi[FP_SID_TEXT];
    fp_sid_span(b->ids, b->count <= b->ids_cap ? b->count : 0, lo, hi);
    /* Whether Redis may have applied this batch already (queue_scripts.c). */
    const char *first = b->again ? "0" : "1";
    /* Whether its entries are known to be still ours (takeover_token.h). */
    bool fresh = fp_takeover_leases_fresh(fp_os_now_us(), q->renew.fresh_since_us, q->vt_ms);
    const char *token = fp_takeover_arg(&qs->takeover, b->epoch, b->again, fresh);
    const char *args[FP_SCRIPT_OUTCOMES_ARGS] = {q->cfg->redis.group, q->cfg->daemon.name, lo,
                                                 hi, first, token};
    const char *sha = b->use_eval ? NULL : q->scripts.outcome_sha;
    int rc = fp_script_command(&q->scratch, sha, fp_script_outcomes, keys,
                               FP_SCRIPT_OUTCOMES_KEYS, args, FP_SCRIPT_OUTCOMES_ARGS, &b->args);
    if (rc == 0)
        rc = fp_redis_conn_send(q->writer, q->scratch.data, q->scratch.len, 0, on_batch_reply, b);
    if (rc == 0)
        b->sent = true;
    return rc;
}

/* ---- outcomes, then the next pull right behind them --------------------------- */

/* The first unsent batch of queue i, to go out just before a pull of that queue. */
static fp_batch_t *batch_to_carry(fp_queue_t *q, size_t i)
{
    if (!q->conn.writer_up || !q->conn.setup_done || q->retry.armed)
        return NULL;
    for (fp_batch_t *b = q->qs[i].head; b != NULL; b = b->next)
        if (!b->sent && b->count > 0)
            return b;
    return NULL;
}

/* One non-blocking read of queue i (COUNT count, at most the room). When
 * outcomes of that queue wait, their script call goes first and the read
 * right behind it on the writer: one write, one round trip, one Redis and one
 * supervisor wake-up for both. The read is a plain command rather than part
 * of the script because XREADGROUP run from Lua has its whole answer turned
 * into Lua tables and back, which cost Redis more per job than the outcomes
 * themselves; the two need no atomicity (the read takes only new entries).
 * Otherwise the read goes on the reader. */
void fp_q_send_sweep(fp_queue_t *q, size_t i, size_t count)
{
    fp_batch_t *b = batch_to_carry(q, i);
    bool behind = b != NULL && send_batch(q, b) == 0;
    if (fp_q_send_read(q, behind ? q->writer : q->reader, FP_READ_SWEEP, count, i, 1, ">", 0) ==
        0)
        q->rd.combined = behind;
}

/* While a read behind a batch of the same queue is in flight, a batch that
 * is not full waits for its reply (one round trip, never a blocking read): it
 * goes out with the next pull, saving a write and a wake-up on both sides. If
 * that reply leaves no pull to make, the same turn sends the batch on its
 * own. */
static bool batch_waits(const fp_queue_t *q, const fp_batch_t *b)
{
    return q->rd.in_flight && q->rd.combined && q->rd.queue == b->queue &&
           b->count < FP_OUTCOMES_PER_CALL;
}

void fp_q_flush(fp_queue_t *q)
{
    if (q->outbox.unconfirmed == 0 || !q->conn.writer_up || !q->conn.setup_done || q->retry.armed)
        return;
    for (size_t i = 0; i < q->n; i++)
        for (fp_batch_t *b = q->qs[i].head; b != NULL; b = b->next)
            if (!b->sent && b->count > 0 && !batch_waits(q, b) && send_batch(q, b) < 0)
                return;
}


/* Validates the id and opens room for one outcome; NULL when it cannot be
 * recorded (logged), in which case the entry stays pending for recovery.
 * *vanished: renewal found its stream entry deleted while it was held.
 * *unique (may be NULL): its job holds a unique key (unique_take.c). */
static fp_batch_t *outcome_begin(fp_queue_t *q, uint32_t queue, const char *entry_id, uint64_t *ms,
                                 uint64_t *seq, bool *vanished, bool *unique)
{
    if (q->life.closing || queue >= q->n || entry_id == NULL)
        return NULL;
    if (!fp_stream_id_parse(entry_id, strlen(entry_id), ms, seq)) {
        fp_log_error(LOG, "cannot record an outcome for \"%s\": not a stream entry id", entry_id);
        return NULL;
    }
    const fp_held_entry_t *slot = fp_held_set_get(&q->held, queue, *ms, *seq);
    *vanished = slot != NULL && (slot->used & FP_ENTRY_VANISHED) != 0;
    if (unique != NULL)
        *unique = slot != NULL && (slot->used & FP_ENTRY_UNIQUE) != 0;
    /* Not held, or already settling: an outcome for it was recorded before. */
    bool again = slot == NULL || (slot->used & FP_ENTRY_SETTLING) != 0;
    fp_batch_t *b = fp_q_open_batch(q, queue, again);
    if (b == NULL)
        fp_log_error(LOG, "out of memory recording the outcome of %s", entry_id);
    return b;
}

static void outcome_end(fp_queue_t *q, fp_batch_t *b, int rc, const char *entry_id, uint64_t ms,
                        uint64_t seq)
{
    if (rc < 0) {
        fp_log_error(LOG, "out of memory recording the outcome of %s", entry_id);
        return;
    }
    /* Held until confirmed even if it came from elsewhere: a history read
     * before the confirmation must not hand it over again. */
    fp_held_entry_t *slot = fp_held_set_put(&q->held, b->queue, ms, seq);
    uint32_t epoch = 0;
    if (slot != NULL) {
        slot->used |= FP_ENTRY_SETTLING;
        /* Renewal saw it deleted or moved: the script must look. */
        if ((slot->used & (FP_ENTRY_VANISHED | FP_ENTRY_LOST)) == 0)
            epoch = slot->epoch;
    }
    fp_q_add_outcome_id(b, ms, seq, epoch);
}

void fp_queue_ack(fp_queue_t *q, uint32_t queue, const char *entry_id)
{
    uint64_t ms, seq;
    bool vanished, unique;
    fp_batch_t *b = outcome_begin(q, queue, entry_id, &ms, &seq, &vanished, &unique);
    if (b == NULL)
        return;
    int rc = unique ? fp_outcome_encode_ack_unique(&b->args, vanished, entry_id)
                    : fp_outcome_encode_ack(&b->args, vanished, entry_id);
    outcome_end(q, b, rc, entry_id, ms, seq);
}

void fp_queue_dead(fp_queue_t *q, uint32_t queue, const char *entry_id, const char *payload,
                   size_t payload_len, const char *error, int64_t attempts)
{
    uint64_t ms, seq;
    bool vanished, unique;
    fp_batch_t *b = outcome_begin(q, queue, entry_id, &ms, &seq, &vanished, &unique);
    if (b == NULL)
        return;
    int (*encode)(fp_resp_t *, bool, const char *, const char *, size_t, const char *, int64_t,
                  int64_t) = unique ? fp_outcome_encode_dead_unique : fp_outcome_encode_dead;
    int rc = encode(&b->args, vanished, entry_id, payload != NULL ? payload : "",
                    payload != NULL ? payload_len : 0, error, attempts, fp_os_unix_ms());
    outcome_end(q, b, rc, entry_id, ms, seq);
}

void fp_queue_put_back(fp_queue_t *q, uint32_t queue, const char *entry_id, const char *payload,
                       size_t payload_len)
{
    uint64_t ms, seq;
    bool vanished;
    fp_batch_t *b = outcome_begin(q, queue, entry_id, &ms, &seq, &vanished, NULL);
    if (b == NULL)
        return;
    int rc = fp_outcome_encode_put_back(&b->args, vanished, entry_id,
                                        payload != NULL ? payload : "",
                                        payload != NULL ? payload_len : 0);
    outcome_end(q, b, rc, entry_id, ms, seq);
}


void fp_queue_retry(fp_queue_t *q, uint32_t queue, const char *entry_id, const char *payload,
                    size_t payload_len, int64_t delay_ms)
{
    uint64_t ms, seq;
    bool vanished;
    fp_batch_t *b = outcome_begin(q, queue, entry_id, &ms, &seq, &vanished, NULL);
    if (b == NULL)
        return;
    if (payload == NULL) {
        payload = "";
        payload_len = 0;
    }
    int rc = fp_outcome_encode_retry(&b->args, vanished, entry_id, payload, payload_len, delay_ms);
    outcome_end(q, b, rc, entry_id, ms, seq);
    if (rc == 0 && q->drained.track_retries)
        fp_q_mark_retry(q, queue, payload, payload_len);
}

void fp_queue_hold(fp_queue_t *q, uint32_t queue, const char *entry_id)
{
    uint64_t ms, seq;
    if (q->life.closing || queue >= q->n || entry_id == NULL ||
        !fp_stream_id_parse(entry_id, strlen(entry_id), &ms, &seq))
        return;
    if (fp_held_set_add(&q->held, queue, ms, seq) < 0)
        fp_log_error(LOG, "out of memory holding %s", entry_id);
}

size_t fp_queue_unconfirmed(const fp_queue_t *q)
{
    return q->outbox.unconfirmed;
}
