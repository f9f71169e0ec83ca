/* cancel_take.c: how a daemon learns that `forkpool cancel` marked a job it
 * holds. Every FP_CANCEL_TAKE_MS, while it holds any entry, one small script
 * per served queue (fp_script_cancel_take) looks at the queue's cancel hash:
 * an HLEN alone while nothing is marked, which is nearly always; the marks of
 * the entries this consumer holds are handed to the supervisor (on_cancel),
 * every round until the entry's outcome deletes the mark, so the supervisor
 * sees them again if the first report came before the job did. A poll rather than a pub/sub nudge: it needs no third
 * connection, loses nothing while the daemon is disconnected (the mark waits
 * in Redis), and costs one call per queue per second whatever the job rate,
 * nothing per job. (docs/redis.md, "Cancelling a job".) */
#include "queue/queue_internal.h"

#include <errno.h>
#include <stdlib.h>

#include "queue/cancel.h"

/* One take call: its queue, for the ids it reports. */
typedef struct take_s {
    fp_queue_t *q;
    uint32_t queue;
} take_t;

static void on_take_reply(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    take_t *t = privdata;
    fp_queue_t *q = t->q;
    uint32_t queue = t->queue;
    (void)c;
    free(t);
    q->cancels.in_flight--;
    if (q->life.closing || r == NULL)
        return; /* the marks wait in Redis for the next round */
    if (fp_q_reply_is_error(r, "NOSCRIPT")) {
        q->scripts.cancel_take.eval = true;
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY) {
        fp_q_log_error_once(q, "taking cancel marks failed", r);
        return;
    }
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING && q->events.on_cancel != NULL)
            q->events.on_cancel(q->ctx, queue, r->element[i]->str);
}

static int send_take(fp_queue_t *q, uint32_t queue)
{
    take_t *t = malloc(sizeof *t);
    if (t == NULL)
        return -ENOMEM;
    *t = (take_t){q, queue};
    const char *keys[FP_SCRIPT_CANCEL_TAKE_KEYS] = {q->qs[queue].jobs_key, q->qs[queue].cancel_key};
    const char *args[] = {q->cfg->redis.group, q->cfg->daemon.name};
    int rc = fp_q_send_script(q, &q->scripts.cancel_take, keys, FP_SCRIPT_CANCEL_TAKE_KEYS, args,
                              2, NULL, on_take_reply, t);
    if (rc < 0) {
        free(t);
        return rc;
    }
    q->cancels.in_flight++;
    return 0;
}

/* A daemon that holds nothing has no mark to take: it asks nothing. A round
 * still unanswered (Redis slow) is not doubled. */
static void on_take_timer(uv_timer_t *timer)
{
    fp_queue_t *q = timer->data;
    if (!q->conn.ready || q->cancels.in_flight > 0 || q->held.count == 0)
        return;
    for (uint32_t i = 0; i < q->n; i++)
        if (send_take(q, i) < 0)
            return;
}

void fp_q_cancel_take_start(fp_queue_t *q)
{
    uv_timer_start(&q->cancels.timer, on_take_timer, FP_CANCEL_TAKE_MS, FP_CANCEL_TAKE_MS);
}
