/* handover.c: taking a read's reply apart and handing its entries over
 * through on_jobs, never beyond the room: what exceeds it waits in the stash
 * (or, once draining, goes back to the stream if it was new). Entries without a "job" field go to
 * dead; pending entries whose stream entry was deleted are acked and
 * dropped. Every entry handed over is in the held set until its outcome is
 * confirmed. */
#include "queue/queue_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/os.h"

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

/* Entries beyond the room: it shrank while the read was in flight (the hold
 * shrank, a pause, a lost connection). They wait in the stash, in order and
 * ahead of anything read later, keeping their ids and delivery counts: a
 * job put back to the tail instead would wait behind everything enqueued
 * since. Only once draining (fp_queue_drain) do new entries go back to the
 * stream at once, so the daemon never sits on jobs nobody here will take. */
static void overflow(fp_queue_t *q, size_t from)
{
    for (size_t i = from; i < q->rd.out_n; i++) {
        fp_pulled_t *p = &q->rd.out[i];
        if (!(p->fresh && q->life.draining) &&
            grow_pulled(&q->rd.stash, &q->rd.stash_cap, q->rd.stash_n + 1) == 0) {
            q->rd.stash[q->rd.stash_n++] = *p;
            p->entry_id = p->payload = NULL;
            continue;
        }
        if (p->fresh) {
            fp_queue_put_back(q, p->queue, p->entry_id, p->payload, p->payload_len);
            continue;
        }
        /* No memory for the stash: forget it here so that a history read
         * finds it again (it stays pending to us in Redis; a claimed entry
         * is ours too). */
        uint64_t ms, seq;
        if (fp_stream_id_parse(p->entry_id, strlen(p->entry_id), &ms, &seq))
            fp_held_set_remove(&q->held, p->queue, ms, seq);
        q->qs[p->queue].history = true;
    }
}

/* Hands q->rd.out over, at most the room. The room is charged before on_jobs so
 * that a fp_queue_want from inside it sets the value that stands. */
void fp_q_hand_over(fp_queue_t *q)
{
    size_t give = q->rd.out_n < q->rd.room ? q->rd.out_n : q->rd.room;
    if (give < q->rd.out_n)
        overflow(q, give);
    q->rd.room -= give;
    /* Marks what is handed over, so its outcome releases a unique key (an
     * entry put back for lack of room goes out as a plain put-back). An
     * "until start" key stays: it goes when a child starts the job
     * (fp_queue_started). */
    for (size_t i = 0; i < give; i++)
        fp_q_unique_taken(q, &q->rd.out[i]);
    if (give > 0 && q->events.on_jobs != NULL)
        q->events.on_jobs(q->ctx, q->rd.out, give);
    for (size_t i = 0; i < q->rd.out_n; i++)
        fp_q_pulled_free(&q->rd.out[i]);
    q->rd.out_n = 0;
}

void fp_q_deliver_stash(fp_queue_t *q)
{
    if (q->rd.stash_n == 0 || q->rd.room == 0 || q->life.closing)
        return;
    size_t give = q->rd.stash_n < q->rd.room ? q->rd.stash_n : q->rd.room;
    if (grow_pulled(&q->rd.out, &q->rd.out_cap, give) < 0)
        return;
    memcpy(q->rd.out, q->rd.stash, give * sizeof *q->rd.out);
    memmove(q->rd.stash, q->rd.stash + give, (q->rd.stash_n - give) * sizeof *q->rd.stash);
    q->rd.stash_n -= give;
    q->rd.out_n = give;
    fp_q_hand_over(q);
}

void fp_queue_drain(fp_queue_t *q)
{
    if (q == NULL || q->life.draining)
        return;
    q->life.draining = true;
    size_t kept = 0;
    for (size_t i = 0; i < q->rd.stash_n; i++) {
        fp_pulled_t *p = &q->rd.stash[i];
        if (p->fresh) {
            fp_queue_put_back(q, p->queue, p->entry_id, p->payload, p->payload_len);
            fp_q_pulled_free(p);
        } else {
            q->rd.stash[kept++] = *p;
        }
    }
    q->rd.stash_n = kept;
}

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
    fp_batch_t *b = fields_json(fields, &text) == 0 ? fp_q_open_batch(q, queue, false) : NULL;
    if (b != NULL && fp_held_set_add(&q->held, queue, ms, seq) == 0 &&
        fp_outcome_encode_dead(&b->args, false, id, text.data, text.len,
                               "stream entry has no \"job\" field", 1, fp_os_unix_ms()) == 0) {
        fp_q_add_outcome_id(b, ms, seq, 0);
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
    fp_batch_t *b = fp_q_open_batch(q, queue, false);
    if (b != NULL && fp_held_set_add(&q->held, queue, ms, seq) == 0 &&
        fp_outcome_encode_ack(&b->args, false, id) == 0) {
        fp_q_add_outcome_id(b, ms, seq, 0);
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

/* One entry of a reply, copied into q->rd.out. count: the delivery count the
 * history or take-over script reported (FP_READ_HISTORY, FP_READ_CLAIM). */
void fp_q_take_one(fp_queue_t *q, uint32_t queue, const redisReply *idr, const redisReply *fields,
                   fp_read_step_kind_t kind, uint64_t count, bool cancelled)
{
    uint64_t ms, seq;
    if (idr->type != REDIS_REPLY_STRING || !fp_stream_id_parse(idr->str, idr->len, &ms, &seq))
        return;
    if ((kind == FP_READ_HISTORY || kind == FP_READ_CLAIM) && fp_held_set_has(&q->held, queue, ms, seq))
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
    if (grow_pulled(&q->rd.out, &q->rd.out_cap, q->rd.out_n + 1) < 0)
        goto oom;
    fp_pulled_t *p = &q->rd.out[q->rd.out_n];
    p->queue = queue;
    p->entry_id = memdup0(idr->str, idr->len);
    p->payload = memdup0(job->str, job->len);
    p->payload_len = job->len;
    p->cancelled = cancelled;
    p->fresh = kind != FP_READ_HISTORY && kind != FP_READ_CLAIM;
    p->deliveries = kind == FP_READ_HISTORY || kind == FP_READ_CLAIM ? (count > 0 ? count : 1) : 1;
    fp_held_entry_t *slot = p->entry_id != NULL && p->payload != NULL
                                ? fp_held_set_put(&q->held, queue, ms, seq)
                                : NULL;
    if (slot == NULL) {
        fp_q_pulled_free(p);
        goto oom;
    }
    if (p->fresh)
        slot->epoch = q->qs[queue].read_epoch;
    q->rd.out_n++;
    return;
oom:
    /* Left pending to us: the next history read or recovery hands it out. */
    fp_log_error(LOG, "out of memory taking entry %.*s", (int)idr->len, idr->str);
}

/* One [id, fields] element of a read reply. */
static void take_entry(fp_queue_t *q, uint32_t queue, const redisReply *e, fp_read_step_kind_t kind)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
        return;
    fp_q_take_one(q, queue, e->element[0], e->element[1], kind, 0, false);
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

/* Walks [[key, [[id, fields]...]]...] into q->rd.out; returns the number of
 * entries Redis returned (held ones and deleted ones included), or -1 when
 * the reply has a shape we do not know. */
long fp_q_take_reply(fp_queue_t *q, const redisReply *r, fp_read_step_kind_t kind)
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
                last->element[0]->len < sizeof q->rd.last_id)
                memcpy(q->rd.last_id, last->element[0]->str, last->element[0]->len + 1);
        }
    }
    return total;
}
