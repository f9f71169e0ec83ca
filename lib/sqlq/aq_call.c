/* aq_call.c: fp_aq_call (aq.h): a feature's own work carried to the
 * worker thread and its answer back to the loop, through the same mutex,
 * condition and uv_async_t as the queue's rounds, so that features beside
 * the jobs (schedules, limits, cancel marks, heartbeats) never run SQLite
 * on the loop either. A call rides the next round: the thread runs it
 * after the round's outcomes are committed. */
#include "sqlq/aq_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int fp_aq_call(fp_aq_t *q, fp_aq_work_fn work, void *arg, fp_aq_done_fn done, void *ctx)
{
    if (q->closing)
        return -ECANCELED;
    aq_call_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return -ENOMEM;
    *c = (aq_call_t){.work = work, .arg = arg, .done = done, .ctx = ctx, .rc = -ECANCELED};
    aq_calls_t one = {c, c};
    pthread_mutex_lock(&q->mu);
    fp_aq_calls_join(&q->sh.calls, &one);
    q->sh.kick = true;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

void fp_aq_calls_join(aq_calls_t *to, aq_calls_t *from)
{
    if (from->head == NULL)
        return;
    if (to->head == NULL)
        to->head = from->head;
    else
        to->tail->next = from->head;
    to->tail = from->tail;
    *from = (aq_calls_t){0};
}

void fp_aq_calls_run(fp_aq_t *q, const aq_calls_t *l, int64_t now_ms)
{
    for (aq_call_t *c = l->head; c != NULL; c = c->next) {
        fp_err_t err = {0};
        c->rc = c->work(q->store, c->arg, now_ms, &err);
        if (c->rc < 0)
            memcpy(c->msg, err.msg, sizeof c->msg);
    }
}

static void answer(aq_calls_t *l, bool cancelled)
{
    aq_call_t *c = l->head;
    *l = (aq_calls_t){0};
    while (c != NULL) {
        aq_call_t *next = c->next;
        if (cancelled) {
            c->rc = -ECANCELED;
            strcpy(c->msg, "the embedded queue closed before the call ran");
        }
        c->done(c->ctx, c->arg, c->rc, c->msg);
        free(c);
        c = next;
    }
}

void fp_aq_calls_answer(aq_calls_t *l)
{
    answer(l, false);
}

void fp_aq_calls_cancel(aq_calls_t *l)
{
    answer(l, true);
}
