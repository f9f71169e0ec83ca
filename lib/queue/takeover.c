/* takeover.c: recovery of entries other consumers abandoned. Every
 * claim_interval (and once after (re)connecting) a take-over sweep runs in
 * the single read slot, after this consumer's own history and before new
 * entries, sized to the room; what it claims is handed over through
 * on_jobs, and what exceeds a room that shrank meanwhile waits in the stash
 * (it is ours now, renewed, and keeps its delivery count; a put back would
 * reset it). With room 0 it still runs, claiming nothing, to drop pending
 * entries whose stream entry is gone. The same tick removes idle consumers
 * with nothing pending. */
#include "queue/queue_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

#define CLAIM_PAGE_MAX 500      /* most entries one take-over call claims */
#define CLAIM_SCAN_MAX 1000     /* most idle pending entries one take-over call looks at */
#define CONSUMER_IDLE_FACTOR 10 /* consumers idle this many visibility timeouts go */

/* ---- recovery: take-over ----------------------------------------------------- */

/* The sweep moves to the next queue; after the last one it is over until the
 * next claim tick. */
static void claim_next_queue(fp_queue_t *q)
{
    if (++q->takeover.queue < q->n)
        return;
    q->takeover.queue = 0;
    q->takeover.due = false;
    q->stats.sweeps++;
}

static void on_claim_reply(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    fp_queue_t *q = privdata;
    (void)c;
    if (!fp_q_script_read_reply(q, &q->scripts.claim, r, "taking over abandoned entries failed"))
        return;
    uint32_t queue = (uint32_t)q->rd.queue;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_ARRAY) {
        /* Whatever it claimed is ours now: the history read finds it. */
        fp_log_error(LOG, "unexpected reply to the take-over script (type %d)", r->type);
        fp_q_all_history(q);
        claim_next_queue(q);
        fp_q_arm_retry(q);
        return;
    }
    fp_q_retry_reset(q);
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
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 4 ||
            e->element[2]->type != REDIS_REPLY_INTEGER ||
            e->element[3]->type != REDIS_REPLY_INTEGER)
            continue; /* pending to us all the same: the history read finds it */
        long long n = e->element[2]->integer;
        fp_q_take_one(q, queue, e->element[0], e->element[1], FP_READ_CLAIM,
                      n > 0 ? (uint64_t)n : 1, e->element[3]->integer != 0);
    }
    q->stats.claimed += list->elements;
    if (list->elements > 0)
        fp_log_info(LOG, "took over %zu entries of queue %s pending for %lld ms or more",
                    list->elements, q->qs[queue].name, (long long)q->vt_ms);
    /* A full page may leave more behind: the same queue again while there is
     * room. */
    if (q->takeover.want == 0 || list->elements < q->takeover.want)
        claim_next_queue(q);
    fp_q_hand_over(q);
    fp_q_pump(q);
}

/* One take-over call for the sweep's current queue, sized to the room (0:
 * only drop deleted entries). It takes the read slot, so it never runs next
 * to another read that the same room was promised to. */
void fp_q_send_claim(fp_queue_t *q)
{
    uint32_t i = (uint32_t)q->takeover.queue;
    size_t want = q->rd.room < CLAIM_PAGE_MAX ? q->rd.room : CLAIM_PAGE_MAX;
    char idle[24], want_text[24], scan[24];
    snprintf(idle, sizeof idle, "%lld", (long long)q->vt_ms);
    snprintf(want_text, sizeof want_text, "%zu", want);
    snprintf(scan, sizeof scan, "%d", CLAIM_SCAN_MAX);
    const char *keys[FP_SCRIPT_CLAIM_KEYS] = {q->qs[i].jobs_key, q->qs[i].cancel_key,
                                              q->qs[i].takeover_key};
    const char *args[] = {q->cfg->redis.group, q->cfg->daemon.name, idle, want_text, scan};
    if (fp_q_send_script(q, &q->scripts.claim, keys, FP_SCRIPT_CLAIM_KEYS, args, 5, NULL,
                         on_claim_reply, q) < 0)
        return;
    fp_q_take_read_slot(q, FP_READ_CLAIM, i, want);
    q->takeover.want = want;
}

/* ---- recovery: consumer clean-up ----------------------------------------- */

static void on_consumers_reply(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    fp_queue_t *q = privdata;
    (void)c;
    q->takeover.consumers_in_flight--;
    if (q->life.closing || r == NULL)
        return;
    if (r->type == REDIS_REPLY_INTEGER) {
        if (r->integer > 0) {
            q->stats.consumers_removed += (uint64_t)r->integer;
            fp_log_info(LOG, "removed %lld idle consumers with nothing pending", r->integer);
        }
        return;
    }
    if (fp_q_reply_is_error(r, "NOSCRIPT"))
        q->scripts.consumers.eval = true; /* next tick */
    else
        fp_q_log_error_once(q, "removing idle consumers failed", r);
}

static void remove_idle_consumers(fp_queue_t *q)
{
    if (q->takeover.consumers_in_flight > 0)
        return;
    char idle[24];
    snprintf(idle, sizeof idle, "%lld", (long long)(q->vt_ms * CONSUMER_IDLE_FACTOR));
    for (size_t i = 0; i < q->n; i++) {
        const char *keys[FP_SCRIPT_CONSUMERS_KEYS] = {q->qs[i].jobs_key};
        const char *args[] = {q->cfg->redis.group, q->cfg->daemon.name, idle};
        if (fp_q_send_script(q, &q->scripts.consumers, keys, FP_SCRIPT_CONSUMERS_KEYS, args, 3,
                             NULL, on_consumers_reply, q) < 0)
            return;
        q->takeover.consumers_in_flight++;
    }
}

/* Every claim_interval: a take-over sweep (run by the pump, after anything
 * already in the read slot) and the consumer clean-up. */
static void on_claim_timer(uv_timer_t *t)
{
    fp_queue_t *q = t->data;
    if (!q->conn.ready)
        return; /* becoming ready starts a sweep anyway */
    if (!q->takeover.due) {
        q->takeover.due = true;
        q->takeover.queue = 0;
    }
    remove_idle_consumers(q);
    fp_q_maybe_unblock(q);
    fp_q_pump(q);
}

void fp_q_takeover_start(fp_queue_t *q)
{
    uint64_t claim = (uint64_t)q->cfg->recovery.claim_interval_ms;
    uv_timer_start(&q->takeover.timer, on_claim_timer, claim, claim);
}
