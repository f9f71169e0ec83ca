/* aq_cancel.c: how a daemon on the embedded queue learns that `forkpool
 * cancel` marked a job it holds (sqlq/cancel.h), as cancel_take.c does on
 * Redis: every FP_CANCEL_TAKE_MS a look on the worker thread (fp_aq_call)
 * for the marks of rows leased to this consumer, skipped without a query
 * while the thread holds no row; each one found goes to the supervisor
 * (events.on_cancel) on the loop, every round until the job's outcome
 * deletes the mark, so a report that came before the job did is seen
 * again. One query a second whatever the job rate: nothing per job. */
#include "sqlq/aq_internal.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "queue/cancel.h"
#include "sqlq/cancel.h"

#define LOG "queue"

typedef struct take_s {
    fp_aq_t *q;
    char **ids, **queues;
    size_t n;
} take_t;

/* On the thread: q->held is the thread's own. */
static int take_work(fp_sqlq_t *store, void *arg, int64_t now_ms, fp_err_t *err)
{
    take_t *t = arg;
    if (t->q->held.count == 0)
        return 0;
    return fp_sqlq_cancel_marked(store, t->q->cfg->daemon.name, now_ms, &t->ids, &t->queues,
                                 &t->n, err);
}

static void report(fp_aq_t *q, const char *queue, const char *entry_id)
{
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->names[i], queue) == 0) {
            q->events.on_cancel(q->ctx, (uint32_t)i, entry_id);
            return;
        }
}

static void take_done(void *ctx, void *arg, int rc, const char *msg)
{
    fp_aq_t *q = ctx;
    take_t *t = arg;
    q->cancel_in_flight = false;
    if (rc < 0 && rc != -ECANCELED)
        fp_log_debug(LOG, "taking cancel marks: %s", msg); /* the marks wait for the next round */
    for (size_t i = 0; rc == 0 && !q->closing && i < t->n; i++)
        report(q, t->queues[i], t->ids[i]);
    fp_sqlq_cancel_marked_free(t->ids, t->queues, t->n);
    free(t);
}

static void on_take_timer(uv_timer_t *timer)
{
    fp_aq_t *q = timer->data;
    if (q->closing || q->cancel_in_flight || q->events.on_cancel == NULL)
        return;
    take_t *t = calloc(1, sizeof *t);
    if (t == NULL)
        return;
    t->q = q;
    q->cancel_in_flight = fp_aq_call(q, take_work, t, take_done, q) == 0;
    if (!q->cancel_in_flight)
        free(t);
}

void fp_aq_cancel_start(fp_aq_t *q)
{
    uv_timer_start(&q->cancel_timer, on_take_timer, FP_CANCEL_TAKE_MS, FP_CANCEL_TAKE_MS);
}
