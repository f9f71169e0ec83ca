/* mover.c: the delayed mover. Every 250 ms (sooner when the next due job is
 * nearer, at once after a full batch) one script call per queue moves due
 * jobs from the delayed set back to their stream; a round starts when the
 * previous one has fully answered. */
#include "queue/queue_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

#define MOVER_MS 250            /* delayed mover period */
#define MOVER_BATCH 256         /* members moved per script call */

static void on_mover_timer(uv_timer_t *t);

static void mover_step_done(fp_queue_t *q)
{
    if (--q->mover.left > 0 || q->life.closing)
        return;
    q->stats.mover_rounds++;
    int64_t wait = q->mover.again ? 0 : q->mover.wait;
    uv_timer_start(&q->mover.timer, on_mover_timer, (uint64_t)wait, 0);
}

static void on_mover_reply(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    fp_queue_t *q = privdata;
    (void)c;
    if (q->life.closing) {
        q->mover.left--;
        return;
    }
    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_INTEGER && r->element[1]->type == REDIS_REPLY_INTEGER) {
        long long moved = r->element[0]->integer, wait = r->element[1]->integer;
        if (moved > 0)
            q->stats.moved += (uint64_t)moved;
        if (moved >= MOVER_BATCH)
            q->mover.again = true;
        /* At least 1 ms: a member due "now" by Redis' clock has just been
         * moved, so 0 would only spin. */
        if (wait >= 0 && wait < q->mover.wait)
            q->mover.wait = wait < 1 ? 1 : wait;
    } else if (fp_q_reply_is_error(r, "NOSCRIPT")) {
        q->scripts.mover.eval = true;
        q->mover.again = true;
    } else if (r != NULL) {
        fp_q_log_error_once(q, "moving delayed jobs failed", r);
    }
    mover_step_done(q);
}

/* One round: one script call per queue, the next round when all answered. */
static void on_mover_timer(uv_timer_t *t)
{
    fp_queue_t *q = t->data;
    if (q->life.closing || q->mover.left > 0)
        return;
    if (!q->conn.ready) {
        uv_timer_start(&q->mover.timer, on_mover_timer, MOVER_MS, 0);
        return;
    }
    q->mover.left = 1; /* held while sending */
    q->mover.again = false;
    q->mover.wait = MOVER_MS;
    char limit[16];
    snprintf(limit, sizeof limit, "%d", MOVER_BATCH);
    for (size_t i = 0; i < q->n; i++) {
        const char *keys[FP_SCRIPT_MOVER_KEYS] = {q->qs[i].jobs_key, q->qs[i].delayed_key};
        const char *args[] = {limit};
        if (fp_q_send_script(q, &q->scripts.mover, keys, FP_SCRIPT_MOVER_KEYS, args, 1, NULL,
                             on_mover_reply, q) < 0)
            break;
        q->mover.left++;
    }
    mover_step_done(q);
}

/* Runs a round now unless one is in flight (whose end arms the next). */
void fp_q_mover_kick(fp_queue_t *q)
{
    if (q->life.started && !q->life.closing && q->mover.left == 0)
        uv_timer_start(&q->mover.timer, on_mover_timer, 0, 0);
}
