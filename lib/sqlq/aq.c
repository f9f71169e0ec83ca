/* aq.c: the embedded queue's loop side (aq.h): opening, the supervisor's
 * calls, buffering outcomes until the end of the loop turn (a uv_prepare_t
 * hands the turn's batch to the thread: one transaction per turn), and the
 * way out. What the thread sends back is taken in aq_results.c. */
#include "sqlq/aq_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "sqlq/open_flags.h"

#define LOG "queue"

/* Wakes the thread; the caller holds mu. */
static void kick(fp_aq_t *q)
{
    q->sh.kick = true;
    pthread_cond_signal(&q->cv);
}

static void set_weights(fp_aq_t *q, const fp_config_t *cfg)
{
    q->weighted = cfg->queues.order == FP_ORDER_WEIGHTED && q->n <= FP_READ_PLAN_QUEUES_MAX;
    fp_aqp_caps_init(&q->caps, q->n);
    for (size_t i = 0; i < q->caps.n; i++)
        for (size_t j = 0; cfg->queues.weights != NULL && j < cfg->queues.names.count; j++)
            if (strcmp(cfg->queues.names.items[j], q->names[i]) == 0)
                q->caps.weights[i] = cfg->queues.weights[j];
}

static void aq_free(fp_aq_t *q)
{
    fp_sqlq_close(q->store);
    if (q->lock_fd >= 0)
        close(q->lock_fd);
    fp_aq_outv_free(&q->buffered);
    fp_aq_outv_free(&q->sh.outcomes);
    fp_aq_turned_free(&q->sh.turned);
    free(q->sh.holds.v);
    fp_aq_rows_free(&q->sh.rows);
    free(q->sh.samples);
    for (size_t i = q->stash_at; i < q->stash_n; i++) {
        free(q->stash[i].entry_id);
        free(q->stash[i].payload);
    }
    free(q->stash);
    free(q->waiters);
    fp_held_set_clear(&q->held);
    free(q->retries.v);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    free(q);
}

int fp_aq_new(uv_loop_t *loop, const fp_config_t *cfg, const char *const *names, size_t n,
              const fp_queue_events_t *events, void *ctx, fp_aq_t **out, fp_err_t *err)
{
    fp_aq_t *q = calloc(1, sizeof *q);
    if (q == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    q->lock_fd = -1;
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the thread's timed waits */
    pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
    q->loop = loop;
    q->cfg = cfg;
    q->names = names;
    q->n = n;
    q->events = *events;
    q->ctx = ctx;
    q->lease_ms = cfg->recovery.visibility_timeout_ms > 0 ? cfg->recovery.visibility_timeout_ms
                                                          : 60000;
    set_weights(q, cfg);
    fp_aqp_init(&q->plan);
    /* The guard first: a second daemon under this name must not even open
     * the file for writing (its first pull would take the first one's
     * running rows back as its own). */
    int rc = fp_aq_name_lock(cfg->sqlite.path, cfg->daemon.name, &q->lock_fd, err);
    if (rc == 0)
        rc = fp_sqlq_open(cfg->sqlite.path, FP_SQLQ_CHECK | fp_sqlq_sync_flag(cfg), &q->store,
                          err);
    if (rc < 0) {
        aq_free(q);
        return rc;
    }
    uv_async_init(loop, &q->async, fp_aq_on_async);
    q->async.data = q;
    uv_prepare_init(loop, &q->prepare);
    q->prepare.data = q;
    uv_timer_init(loop, &q->cancel_timer);
    q->cancel_timer.data = q;
    q->handles = 3;
    *out = q;
    return 0;
}

/* End of a loop turn: the turn's outcomes go to the thread as one batch. */
static void on_prepare(uv_prepare_t *h)
{
    fp_aq_t *q = h->data;
    if (q->buffered.n == 0)
        return;
    pthread_mutex_lock(&q->mu);
    size_t n = q->buffered.n;
    if (fp_aq_outv_move(&q->sh.outcomes, &q->buffered) == 0) {
        q->sent += n;
        kick(q);
    }
    pthread_mutex_unlock(&q->mu);
}

int fp_aq_start(fp_aq_t *q)
{
    if (q->started)
        return 0;
    int rc = pthread_create(&q->thread, NULL, fp_aq_thread_main, q);
    if (rc != 0) {
        fp_log_error(LOG, "cannot start the queue thread: %s", strerror(rc));
        snprintf(q->reason, sizeof q->reason, "cannot start the queue thread: %s", strerror(rc));
        return -rc;
    }
    q->started = true;
    uv_prepare_start(&q->prepare, on_prepare);
    fp_aq_cancel_start(q);
    return 0;
}

void fp_aq_want(fp_aq_t *q, size_t room)
{
    q->room = q->draining ? 0 : room;
    if (q->stash_at < q->stash_n) {
        if (q->room > 0)
            uv_async_send(&q->async); /* delivered from the async callback, not from here */
        return;
    }
    /* Called as jobs are dispatched and finish: only a change takes the mutex
     * (the loop alone writes sh.room, so it may read it without). */
    if (q->sh.room == q->room)
        return;
    pthread_mutex_lock(&q->mu);
    q->sh.room = q->room;
    if (q->room > 0)
        kick(q);
    pthread_mutex_unlock(&q->mu);
}

/* An outcome that could not be recorded: the thread stops renewing the
 * row, so it comes back when its lease ends, as after a crash (it runs
 * again: at-least-once). */
static void forget(fp_aq_t *q, int64_t id, const char *entry_id)
{
    pthread_mutex_lock(&q->mu);
    bool told = q->sh.nforget < FP_AQ_FORGET_MAX;
    if (told) {
        q->sh.forget[q->sh.nforget++] = id;
        kick(q);
    }
    pthread_mutex_unlock(&q->mu);
    fp_log_error(LOG, "out of memory recording the outcome of job %s: %s", entry_id,
                 told ? "it runs again once its lease ends"
                      : "it stays leased until the daemon restarts");
}

static void buffer(fp_aq_t *q, uint32_t queue, fp_sqlq_kind_t kind, const char *entry_id,
                   const char *payload, size_t len, const char *error, int64_t attempts,
                   int64_t delay_ms)
{
    fp_sqlq_outcome_t o = {.kind = kind, .delay_ms = delay_ms, .attempts = attempts};
    if (!fp_aq_parse_id(entry_id, &o.id)) {
        fp_log_error(LOG, "outcome for an entry id that is no row id: \"%s\"", entry_id);
        return;
    }
    /* Only a retry or put-back can be turned by a cancel mark, and only then
     * is the job named back: the acks' hot path copies no id. */
    bool turnable = kind == FP_SQLQ_RETRY || kind == FP_SQLQ_PUT_BACK;
    aq_tag_t tag = {queue, turnable ? (char *)entry_id : NULL};
    if (fp_aq_outv_push(&q->buffered, &o, payload, len, error, tag) < 0)
        forget(q, o.id, entry_id);
}

void fp_aq_ack(fp_aq_t *q, uint32_t queue, const char *entry_id)
{
    buffer(q, queue, FP_SQLQ_ACK, entry_id, NULL, 0, NULL, 0, 0);
}

void fp_aq_dead(fp_aq_t *q, uint32_t queue, const char *entry_id, const char *payload,
                size_t payload_len, const char *error, int64_t attempts)
{
    buffer(q, queue, FP_SQLQ_DEAD, entry_id, payload, payload_len, error != NULL ? error : "",
           attempts, 0);
}

void fp_aq_retry(fp_aq_t *q, uint32_t queue, const char *entry_id, const char *payload,
                 size_t payload_len, int64_t delay_ms)
{
    buffer(q, queue, FP_SQLQ_RETRY, entry_id, payload, payload_len, NULL, 0, delay_ms);
}

void fp_aq_put_back(fp_aq_t *q, uint32_t queue, const char *entry_id, const char *payload,
                    size_t payload_len)
{
    buffer(q, queue, FP_SQLQ_PUT_BACK, entry_id, payload, payload_len, NULL, 0, 0);
}

void fp_aq_put_back_pulled(fp_aq_t *q, fp_pulled_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        buffer(q, p[i].queue, FP_SQLQ_PUT_BACK, p[i].entry_id, NULL, 0, NULL, 0, 0); /* the row's payload */
        free(p[i].entry_id);
        free(p[i].payload);
    }
}

void fp_aq_drain(fp_aq_t *q)
{
    q->draining = true;
    q->room = 0;
    fp_aq_put_back_pulled(q, q->stash + q->stash_at, q->stash_n - q->stash_at);
    q->stash_at = q->stash_n;
    pthread_mutex_lock(&q->mu);
    q->sh.room = 0;
    pthread_mutex_unlock(&q->mu);
}

void fp_aq_hold(fp_aq_t *q, uint32_t queue, const char *entry_id)
{
    (void)queue;
    int64_t id;
    if (!fp_aq_parse_id(entry_id, &id))
        return;
    pthread_mutex_lock(&q->mu);
    if (fp_aq_ids_push(&q->sh.holds, id) == 0)
        kick(q);
    pthread_mutex_unlock(&q->mu);
}

size_t fp_aq_unconfirmed(const fp_aq_t *q)
{
    return q->buffered.n + q->sent;
}

void fp_aq_track_retries(fp_aq_t *q)
{
    pthread_mutex_lock(&q->mu);
    q->sh.track_retries = true;
    pthread_mutex_unlock(&q->mu);
}

void fp_aq_check_drained(fp_aq_t *q, void (*cb)(void *ctx, bool drained), void *ctx)
{
    aq_waiter_t *w = realloc(q->waiters, (q->nwaiters + 1) * sizeof *w);
    if (w == NULL || !q->started) {
        if (w != NULL)
            q->waiters = w;
        cb(ctx, false);
        return;
    }
    q->waiters = w;
    w[q->nwaiters++] = (aq_waiter_t){cb, ctx};
    pthread_mutex_lock(&q->mu);
    q->sh.drained_asked++;
    kick(q);
    pthread_mutex_unlock(&q->mu);
}

bool fp_aq_is_ready(const fp_aq_t *q)
{
    return q->ready;
}

const char *fp_aq_down_reason(const fp_aq_t *q)
{
    return q->ready ? "" : q->reason;
}

void fp_aq_sample(fp_aq_t *q, fp_queue_sample_cb cb, void *ctx)
{
    if (!q->ready || q->closing)
        return; /* as the Redis backend: nothing while not ready */
    aq_sampler_t *s = NULL;
    for (size_t k = 0; s == NULL && k < FP_AQ_SAMPLERS; k++)
        if (q->samplers[k].cb == NULL || (q->samplers[k].cb == cb && q->samplers[k].ctx == ctx))
            s = &q->samplers[k];
    if (s == NULL)
        return;
    *s = (aq_sampler_t){cb, ctx};
    pthread_mutex_lock(&q->mu);
    q->sh.sample_asked++;
    kick(q);
    pthread_mutex_unlock(&q->mu);
}

void fp_aq_stats(const fp_aq_t *q, fp_queue_stats_t *out)
{
    *out = q->stats;
}

static void on_handle_closed(uv_handle_t *h)
{
    fp_aq_t *q = h->data;
    if (--q->handles > 0)
        return;
    void (*cb)(void *) = q->close_cb;
    void *ctx = q->close_ctx;
    aq_free(q);
    if (cb != NULL)
        cb(ctx);
}

void fp_aq_close(fp_aq_t *q, void (*cb)(void *ctx), void *ctx)
{
    if (q->closing)
        return;
    q->closing = true;
    q->close_cb = cb;
    q->close_ctx = ctx;
    if (q->started) {
        pthread_mutex_lock(&q->mu);
        (void)fp_aq_outv_move(&q->sh.outcomes, &q->buffered); /* the last turn's, if any */
        q->sh.stop = true;
        kick(q);
        pthread_mutex_unlock(&q->mu);
        /* Blocks the loop for the thread's last transaction: this is the
         * way out, and the outcomes are worth more than a few ms. */
        pthread_join(q->thread, NULL);
    }
    q->nwaiters = 0; /* the supervisor is leaving: no answer comes any more */
    /* The thread is gone (or never ran): what it ran is answered with its
     * result, the rest cancelled, before the handles close. */
    fp_aq_calls_answer(&q->sh.answered);
    fp_aq_calls_cancel(&q->sh.calls);
    uv_close((uv_handle_t *)&q->async, on_handle_closed);
    uv_close((uv_handle_t *)&q->prepare, on_handle_closed);
    uv_close((uv_handle_t *)&q->cancel_timer, on_handle_closed);
}
