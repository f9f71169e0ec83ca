/* aq_results.c: the loop's side of the embedded queue's uv_async_t (aq.h).
 * uv_async_send coalesces, so each callback takes everything the thread
 * posted since the last one: a pull's rows (handed to the supervisor up to
 * its room, the rest stashed for its next room, or put back at a drain),
 * how many outcomes were committed, the counters, readiness, samples,
 * --burst's drained answers, fp_aq_call's answers and the retries a cancel
 * mark turned. */
#include "sqlq/aq_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "queue/qmux_map.h"

#define LOG "queue"

void fp_aq_delta_add(fp_queue_stats_t *sum, const fp_queue_stats_t *d)
{
    int64_t rtt = d->read_rtt_samples > 0 ? d->read_rtt_us : sum->read_rtt_us;
    fp_qmux_stats_add(sum, d);
    sum->read_rtt_us = rtt;
}

/* The thread's rows into the stash: its array becomes the stash when the
 * stash is empty (the usual case: no copy on the loop). */
static void stash_rows(fp_aq_t *q, aq_rows_t *rows)
{
    size_t left = q->stash_n - q->stash_at;
    fp_pulled_t *v = left == 0 ? rows->v : malloc((left + rows->n) * sizeof *v);
    if (v == NULL) {
        /* Not dropped: the thread renews every row it handed over, so a
         * dropped one would stay leased to this daemon until a restart. */
        fp_log_error(LOG, "out of memory taking %zu jobs: putting them back", rows->n);
        fp_aq_put_back_pulled(q, rows->v, rows->n);
        free(rows->v);
        *rows = (aq_rows_t){0};
        return;
    }
    if (left > 0) {
        memcpy(v, q->stash + q->stash_at, left * sizeof *v);
        memcpy(v + left, rows->v, rows->n * sizeof *v);
        free(rows->v);
    }
    free(q->stash);
    q->stash = v;
    q->stash_n = left + rows->n;
    q->stash_at = 0;
    *rows = (aq_rows_t){0};
}

void fp_aq_deliver_stash(fp_aq_t *q)
{
    size_t left = q->stash_n - q->stash_at;
    if (left == 0 || q->room == 0 || q->closing)
        return;
    size_t n = left < q->room ? left : q->room;
    fp_pulled_t *p = &q->stash[q->stash_at];
    q->stash_at += n;
    q->room -= n;
    q->events.on_jobs(q->ctx, p, n);
    for (size_t i = 0; i < n; i++) { /* what the supervisor did not steal */
        free(p[i].entry_id);
        free(p[i].payload);
    }
}

static void answer_samples(fp_aq_t *q, fp_admin_queue_stats_t *samples)
{
    aq_sampler_t askers[FP_AQ_SAMPLERS];
    memcpy(askers, q->samplers, sizeof askers);
    memset(q->samplers, 0, sizeof q->samplers);
    for (size_t k = 0; k < FP_AQ_SAMPLERS; k++)
        for (size_t i = 0; askers[k].cb != NULL && i < q->n; i++)
            askers[k].cb(askers[k].ctx, (uint32_t)i, samples != NULL ? &samples[i] : NULL);
}

static void answer_waiters(fp_aq_t *q, unsigned answers, bool drained)
{
    /* One answer per question, oldest first; the thread answered `answers`. */
    for (; answers > 0 && q->nwaiters > 0; answers--) {
        aq_waiter_t w = q->waiters[0];
        memmove(q->waiters, q->waiters + 1, --q->nwaiters * sizeof *q->waiters);
        w.cb(w.ctx, drained);
    }
}

static void set_ready(fp_aq_t *q, bool ready, const char *reason)
{
    if (!ready && strcmp(q->reason, reason) != 0) {
        snprintf(q->reason, sizeof q->reason, "%s", reason);
        fp_log_warn(LOG, "embedded queue not ready: %s", reason);
    }
    if (ready == q->ready)
        return;
    q->ready = ready;
    if (ready && q->reason[0] != '\0')
        fp_log_info(LOG, "embedded queue ready again");
    if (ready)
        q->reason[0] = '\0';
    if (q->events.on_ready != NULL)
        q->events.on_ready(q->ctx, ready);
}

/* Retries and put-backs a cancel mark made dead rows: the supervisor records
 * them as cancelled (its ledger and metrics), as the Redis backend's outcome
 * script reports them. */
static void report_turned(fp_aq_t *q, aq_turnedv_t *t)
{
    for (size_t i = 0; q->events.on_retry_cancelled != NULL && i < t->n; i++)
        q->events.on_retry_cancelled(q->ctx, t->v[i].queue, t->v[i].entry_id, t->v[i].kind,
                                     t->v[i].payload, t->v[i].len);
    fp_aq_turned_free(t);
}

void fp_aq_on_async(uv_async_t *h)
{
    fp_aq_t *q = h->data;
    if (q->closing)
        return;
    pthread_mutex_lock(&q->mu);
    aq_shared_t *sh = &q->sh;
    aq_rows_t rows = sh->rows;
    sh->rows = (aq_rows_t){0};
    size_t committed = sh->committed;
    sh->committed = 0;
    fp_queue_stats_t delta = sh->delta;
    sh->delta = (fp_queue_stats_t){0};
    bool ready = sh->ready;
    char reason[sizeof sh->reason];
    memcpy(reason, sh->reason, sizeof reason);
    bool sampled = sh->sample_done != q->sample_seen;
    q->sample_seen = sh->sample_done;
    fp_admin_queue_stats_t *samples = sh->samples;
    sh->samples = NULL;
    unsigned answers = sh->drained_done - q->drained_seen;
    q->drained_seen = sh->drained_done;
    bool drained = sh->drained;
    q->stats.file_bytes = sh->file_bytes;
    aq_calls_t calls = sh->answered;
    sh->answered = (aq_calls_t){0};
    aq_turnedv_t turned = sh->turned;
    sh->turned = (aq_turnedv_t){0};
    pthread_mutex_unlock(&q->mu);
    bool took = rows.n > 0;

    q->sent = committed <= q->sent ? q->sent - committed : 0;
    fp_aq_delta_add(&q->stats, &delta);
    set_ready(q, ready, reason);
    if (rows.n > 0) {
        stash_rows(q, &rows);
        if (q->draining)
            fp_aq_drain(q); /* nothing more is taken: back to the file at once */
    }
    fp_aq_deliver_stash(q);
    if (sampled)
        answer_samples(q, samples);
    free(samples);
    answer_waiters(q, answers, drained);
    fp_aq_calls_answer(&calls);
    report_turned(q, &turned);
    /* Taking the rows (sh->rows emptied above) lets the next pull go; it
     * fills the supervisor's room once the stash is empty. */
    pthread_mutex_lock(&q->mu);
    sh->room = q->stash_at < q->stash_n ? 0 : q->room;
    if (took || sh->room > 0) {
        sh->kick = true;
        pthread_cond_signal(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
}
