/* renew.c: claim renewal. Every visibility_timeout / 3, one renewal script
 * per queue and 500 ids over every held entry (handed over, stashed, or
 * with an outcome not yet confirmed), which XCLAIMs ... JUSTID (resetting
 * idle time without counting a delivery) the ids still pending to this
 * consumer and still in the stream. Ids deleted from the stream are marked
 * so their outcome lands anyway, also when their pending record went with
 * them (an XCLAIM of a deleted entry drops it); ids another consumer holds
 * (or none, while still in the stream) are marked lost, never taken back. Either is logged and counted once and not
 * asked about again; the outcome releases them. (Cancel marks are taken
 * apart, every second: cancel_take.c.) */
#include "queue/queue_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/os.h"

#define RENEW_CHUNK 500         /* ids per XCLAIM ... JUSTID */

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
    fp_held_entry_t *slot = fp_held_set_get(&q->held, queue, ms, seq);
    if (slot == NULL || (slot->used & (FP_ENTRY_SETTLING | FP_ENTRY_VANISHED | FP_ENTRY_LOST)) != 0)
        return;
    q->stats.renewals_lost++;
    const char *name = q->qs[queue].name;
    if (holder == NULL) {
        slot->used |= FP_ENTRY_VANISHED;
        fp_log_warn(LOG, "stream entry %.*s of queue %s was deleted while its job runs: no longer "
                    "renewed; the job's retry or dead letter will still be recorded",
                    (int)id->len, id->str, name);
        return;
    }
    slot->used |= FP_ENTRY_LOST;
    if (holder->type == REDIS_REPLY_STRING && holder->len > 0)
        fp_log_warn(LOG, "entry %.*s of queue %s was taken over by consumer %.*s: its job runs on "
                    "here, but its outcome will leave the entry to that consumer",
                    (int)id->len, id->str, name, (int)holder->len, holder->str);
    else
        fp_log_warn(LOG, "entry %.*s of queue %s is no longer pending (settled elsewhere): its "
                    "job runs on here, but its outcome will not be applied",
                    (int)id->len, id->str, name);
}

/* From when every entry this daemon holds, or will take from the read in
 * flight, has been idle at most: now, or the send of that read (a blocking
 * read may have been delivered an entry long before its reply comes). */
static int64_t idle_since(const fp_queue_t *q)
{
    int64_t now = fp_os_now_us();
    return q->rd.in_flight && q->rd.sent_us < now ? q->rd.sent_us : now;
}

/* Nothing held needs renewing: whatever comes next is read from now on
 * (or by the read in flight). */
static void nothing_to_renew(fp_queue_t *q)
{
    q->renew.fresh_since_us = idle_since(q);
}

/* One call of the round answered (renewed: as a renewal). The round's send
 * time becomes the time every held entry was last renewed once all its
 * calls were. */
static void round_call_done(fp_queue_t *q, bool renewed)
{
    if (!renewed)
        q->renew.round_failed = true;
    if (q->renew.in_flight == 0 && !q->renew.round_failed)
        q->renew.fresh_since_us = q->renew.round_sent_us;
}

static void on_renew_reply(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    renewal_t *rn = privdata;
    fp_queue_t *q = rn->q;
    uint32_t queue = rn->queue;
    (void)c;
    free(rn);
    q->renew.in_flight--;
    bool renewed = !q->life.closing && r != NULL && r->type == REDIS_REPLY_ARRAY &&
                   r->elements == 3 && r->element[0]->type == REDIS_REPLY_INTEGER &&
                   r->element[1]->type == REDIS_REPLY_ARRAY &&
                   r->element[2]->type == REDIS_REPLY_ARRAY;
    round_call_done(q, renewed);
    if (q->life.closing || r == NULL)
        return; /* after a reconnect the next round renews them */
    if (fp_q_reply_is_error(r, "NOSCRIPT")) {
        q->scripts.renew.eval = true; /* the next round sends it as EVAL */
        return;
    }
    if (!renewed) {
        fp_q_log_error_once(q, "renewing claims failed", r);
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
    const fp_held_entry_t *x = a, *y = b;
    if (x->queue != y->queue)
        return x->queue < y->queue ? -1 : 1;
    if (x->ms != y->ms)
        return x->ms < y->ms ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int send_renewal(fp_queue_t *q, const fp_held_entry_t *ids, size_t n)
{
    fp_resp_t *a = &q->renew.args;
    const fp_qstate_t *qs = &q->qs[ids[0].queue];
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
    rc = fp_q_send_script(q, &q->scripts.renew, keys, FP_SCRIPT_RENEW_KEYS, args, 2, a,
                          on_renew_reply, rn);
    if (rc < 0) {
        free(rn);
        return rc;
    }
    q->renew.in_flight++;
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
    if (!q->conn.ready || q->renew.in_flight > 0)
        return;
    if (q->held.count == 0) {
        nothing_to_renew(q);
        return;
    }
    if (q->renew.cap < q->held.count) {
        fp_held_entry_t *grown = realloc(q->renew.ids, q->held.count * sizeof *grown);
        if (grown == NULL) {
            fp_log_error(LOG, "out of memory renewing claims");
            return;
        }
        q->renew.ids = grown;
        q->renew.cap = q->held.count;
    }
    size_t n = 0;
    for (size_t i = 0; i <= q->held.mask; i++)
        if (q->held.slots[i].used && !(q->held.slots[i].used & (FP_ENTRY_VANISHED | FP_ENTRY_LOST)))
            q->renew.ids[n++] = q->held.slots[i];
    if (n == 0) {
        nothing_to_renew(q); /* the deleted and lost ones are never trusted */
        return;
    }
    qsort(q->renew.ids, n, sizeof *q->renew.ids, slot_order);
    q->stats.renew_rounds++;
    q->renew.round_sent_us = idle_since(q);
    q->renew.round_failed = false;
    for (size_t from = 0; from < n;) {
        size_t to = from + 1;
        while (to < n && to - from < RENEW_CHUNK &&
               q->renew.ids[to].queue == q->renew.ids[from].queue)
            to++;
        if (send_renewal(q, q->renew.ids + from, to - from) < 0) {
            q->renew.round_failed = true;
            return;
        }
        from = to;
    }
}

void fp_q_renew_start(fp_queue_t *q)
{
    uint64_t every = (uint64_t)(q->vt_ms / 3 > 0 ? q->vt_ms / 3 : 1);
    uv_timer_start(&q->renew.timer, on_renew_timer, every, every);
}
