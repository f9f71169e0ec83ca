/* queue_redis.c: queue.h on Redis Streams consumer groups, over two
 * connections on the supervisor's loop: the reader only runs XREADGROUP ">"
 * (which may block), the writer runs everything else (group creation,
 * scripts, history re-reads, take-over sweeps, claim renewals, the delayed
 * mover, CLIENT UNBLOCK, drained checks), so a blocking read never delays an
 * acknowledgement. This file holds the queue's lifecycle (new, start, close),
 * the helpers every part uses (error replies, the retry timer, script
 * calls) and the once-per-loop-turn prepare callback that drives the read
 * pump (pump.c) and the outbox (outbox.c). queue_internal.h says which file
 * owns which part of the state. */
#include "queue/queue_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/backoff.h"
#include "base/log.h"
#include "base/os.h"
#include "redis/cluster.h"
#include "redis/cluster_parse.h"

#define COMMAND_GRACE_MS 10000  /* a reply later than connect_timeout + this: connection dead */
#define RETRY_MIN_MS 100        /* after LOADING, BUSY and other errors: try again later */
#define RETRY_MAX_MS 5000

/* ---- small helpers ------------------------------------------------------- */

bool fp_q_reply_is_error(const redisReply *r, const char *code)
{
    size_t n = strlen(code);
    return r != NULL && r->type == REDIS_REPLY_ERROR && r->len >= n &&
           memcmp(r->str, code, n) == 0 && (r->len == n || r->str[n] == ' ');
}

/* Logs an error reply once per distinct text, then at debug level. */
void fp_q_log_error_once(fp_queue_t *q, const char *what, const redisReply *r)
{
    char msg[sizeof q->retry.last_error];
    snprintf(msg, sizeof msg, "%s: %.*s", what, r != NULL ? (int)r->len : 0,
             r != NULL && r->str != NULL ? r->str : "no reply");
    /* LOADING, BUSY and the like are Redis saying "later", not a fault. */
    bool transient = r != NULL && r->str != NULL && fp_redis_error_transient(r->str, r->len);
    fp_log_level_t level = strcmp(msg, q->retry.last_error) == 0 ? FP_LOG_DEBUG
                           : transient                           ? FP_LOG_INFO
                                                                 : FP_LOG_WARN;
    fp_log(level, LOG, "%s (will retry)", msg);
    memcpy(q->retry.last_error, msg, sizeof msg);
}

static void on_retry_timer(uv_timer_t *t)
{
    fp_queue_t *q = t->data;
    q->retry.armed = false;
    if (!q->conn.setup_done)
        fp_q_setup_start(q);
    fp_q_pump(q);
}

/* "Try again later" (LOADING, BUSY, a failed setup): everything waiting on
 * Redis waits for this timer, with growing delay while errors repeat. */
void fp_q_arm_retry(fp_queue_t *q)
{
    if (q->life.closing || q->retry.armed)
        return;
    q->retry.armed = true;
    q->retry.failures++;
    int64_t delay = fp_backoff_ms(q->retry.failures, RETRY_MIN_MS, RETRY_MAX_MS, false, 0);
    uv_timer_start(&q->retry.timer, on_retry_timer, (uint64_t)delay, 0);
}

void fp_q_retry_reset(fp_queue_t *q)
{
    q->retry.failures = 0;
    q->retry.last_error[0] = '\0';
}

void fp_q_all_history(fp_queue_t *q)
{
    q->rd.history_gen++;
    for (size_t i = 0; i < q->n; i++) {
        q->qs[i].history = true;
        snprintf(q->qs[i].cursor, sizeof q->qs[i].cursor, "0");
    }
}

void fp_q_pulled_free(fp_pulled_t *p)
{
    free(p->entry_id);
    free(p->payload);
    p->entry_id = p->payload = NULL;
}

/* ---- script calls ------------------------------------------------------------ */

/* EVALSHA, or EVAL after NOSCRIPT (which also puts the script back into
 * Redis' cache, so the call after goes as EVALSHA again). */
int fp_q_send_script(fp_queue_t *q, fp_script_t *script, const char *const *keys, size_t nkeys,
                     const char *const *args, size_t nargs, const fp_resp_t *tail,
                     fp_redis_reply_cb cb, void *privdata)
{
    const char *sha = script->eval || script->sha[0] == '\0' ? NULL : script->sha;
    int rc = fp_script_command(&q->scratch, sha, script->text, keys, nkeys, args, nargs, tail);
    if (rc == 0)
        rc = fp_redis_conn_send(q->writer, q->scratch.data, q->scratch.len, 0, cb, privdata);
    if (rc == 0 && sha == NULL)
        script->eval = false;
    return rc;
}

/* Once per loop turn, before libuv waits: stashed entries are handed over,
 * the next read starts (carrying its queue's outcomes when it can), the
 * other outcomes leave, and both connections write what this turn queued,
 * now rather than from a later handle (no extra zero-timeout poll). */
static void on_prepare(uv_prepare_t *h)
{
    fp_queue_t *q = h->data;
    fp_q_maybe_unblock(q);
    fp_q_pump(q);
    fp_q_flush(q);
    fp_redis_conn_flush(q->writer);
    fp_redis_conn_flush(q->reader);
}

void fp_queue_stats(const fp_queue_t *q, fp_queue_stats_t *out)
{
    *out = q->stats;
    fp_redis_conn_counts(q->reader, &out->redis_commands, &out->redis_errors);
    fp_redis_conn_counts(q->writer, &out->redis_commands, &out->redis_errors);
}

bool fp_queue_is_ready(const fp_queue_t *q)
{
    return q->conn.ready;
}

const char *fp_queue_down_reason(const fp_queue_t *q)
{
    return q->conn.ready ? "" : q->conn.down_reason;
}


static void queue_free(fp_queue_t *q)
{
    for (size_t i = 0; q->qs != NULL && i < q->n; i++) {
        fp_qstate_t *qs = &q->qs[i];
        for (fp_batch_t *b = qs->head, *next; b != NULL; b = next) {
            next = b->next;
            fp_q_batch_free(b);
        }
        free(qs->jobs_key);
        free(qs->dead_key);
        free(qs->delayed_key);
        free(qs->cancel_key);
        free(qs->takeover_key);
        for (size_t k = 0; k < qs->marks_n; k++)
            free(qs->marks[k].member);
        free(qs->marks);
    }
    for (fp_batch_t *b = q->outbox.spare, *next; b != NULL; b = next) {
        next = b->next;
        fp_q_batch_free(b);
    }
    for (size_t i = 0; i < q->rd.stash_n; i++)
        fp_q_pulled_free(&q->rd.stash[i]);
    free(q->rd.stash);
    free(q->rd.out);
    free(q->qs);
    fp_held_set_clear(&q->held);
    free(q->renew.ids);
    fp_resp_free(&q->renew.args);
    fp_resp_free(&q->scratch);
    fp_resp_free(&q->drained.marks_args);
    fp_redis_url_free(&q->conn.url);
    free(q);
}

/* A queue's weight is the one configured for its name (names may come from
 * --queue rather than queues.names); 1 when none is. */
static void init_weights(fp_queue_t *q, const fp_config_t *cfg, const char *const *names)
{
    fp_read_plan_init(&q->plan, q->n, cfg->queues.order == FP_ORDER_WEIGHTED);
    for (size_t i = 0; i < q->n; i++)
        for (size_t j = 0; cfg->queues.weights != NULL && j < cfg->queues.names.count; j++)
            if (strcmp(cfg->queues.names.items[j], names[i]) == 0)
                q->plan.weights[i] = cfg->queues.weights[j];
}

/* A Cluster queue's connections follow the master of its slot: every name
 * must hash to that one slot, or its commands would be CROSSSLOT. */
static int cluster_opts(fp_queue_t *q, fp_cluster_t *cl, fp_redis_conn_opts_t *opts,
                        fp_err_t *err)
{
    const char *k0 = q->qs[0].jobs_key;
    uint16_t slot = fp_cluster_keyslot(k0, strlen(k0));
    for (size_t i = 1; i < q->n; i++) {
        const char *k = q->qs[i].jobs_key;
        uint16_t other = fp_cluster_keyslot(k, strlen(k));
        if (other != slot)
            return fp_err_set(err, FP_ECONFIG,
                              "queues %s and %s are in different Redis Cluster slots (%u, %u): "
                              "one queue per connection pair in a Cluster",
                              q->qs[0].name, q->qs[i].name, slot, other);
    }
    char label[300];
    snprintf(label, sizeof label, "queue %s", q->qs[0].name);
    opts->locator = fp_cluster_locator(cl, slot, label);
    opts->cluster = true;
    q->conn.cluster = true;
    return opts->locator != NULL ? 0 : fp_err_set(err, -ENOMEM, "out of memory");
}

int fp_queue_new(uv_loop_t *loop, const fp_config_t *cfg, const char *const *names, size_t n,
                 const fp_queue_events_t *events, void *ctx, fp_queue_t **out, fp_err_t *err)
{
    return fp_queue_new_cluster(loop, cfg, names, n, NULL, events, ctx, out, err);
}

int fp_queue_new_cluster(uv_loop_t *loop, const fp_config_t *cfg, const char *const *names,
                         size_t n, fp_cluster_t *cl, const fp_queue_events_t *events, void *ctx,
                         fp_queue_t **out, fp_err_t *err)
{
    if (n == 0 || n > FP_READ_PLAN_QUEUES_MAX)
        return fp_err_set(err, FP_ECONFIG, "between 1 and 64 queues can be consumed, not %zu", n);
    fp_queue_t *q = calloc(1, sizeof *q);
    if (q == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    int rc = fp_redis_url_parse(cfg->redis.url, &q->conn.url, err);
    if (rc < 0) {
        free(q);
        return rc;
    }
    q->loop = loop;
    q->cfg = cfg;
    q->events = *events;
    q->ctx = ctx;
    q->n = n;
    q->conn.reader_id = -1;
    q->retry.failures = 0;
    q->vt_ms = cfg->recovery.visibility_timeout_ms > 0 ? cfg->recovery.visibility_timeout_ms : 0;
    q->scripts.claim = (fp_script_t){fp_script_claim, "loading the take-over script", "", false};
    q->scripts.history = (fp_script_t){fp_script_history, "loading the history script", "", false};
    q->scripts.consumers =
        (fp_script_t){fp_script_consumers, "loading the consumer clean-up script", "", false};
    q->scripts.mover =
        (fp_script_t){fp_script_mover, "loading the delayed-mover script", "", false};
    q->scripts.renew = (fp_script_t){fp_script_renew, "loading the renewal script", "", false};
    q->scripts.cancel_take =
        (fp_script_t){fp_script_cancel_take, "loading the cancel-mark script", "", false};
    q->qs = calloc(n, sizeof *q->qs);
    if (q->qs == NULL)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        fp_qstate_t *qs = &q->qs[i];
        qs->name = names[i];
        qs->jobs_key = fp_queue_key(cfg->redis.prefix, names[i], "jobs");
        qs->dead_key = fp_queue_key(cfg->redis.prefix, names[i], "dead");
        qs->delayed_key = fp_queue_key(cfg->redis.prefix, names[i], "delayed");
        qs->cancel_key = fp_queue_key(cfg->redis.prefix, names[i], "cancel");
        qs->takeover_key = fp_queue_key(cfg->redis.prefix, names[i], "takeover");
        if (qs->jobs_key == NULL || qs->dead_key == NULL || qs->delayed_key == NULL ||
            qs->cancel_key == NULL || qs->takeover_key == NULL)
            goto oom;
        /* Whatever a predecessor under this name left pending is one more
         * delivery: to this process. */
        snprintf(qs->counted, sizeof qs->counted, "0-0");
    }
    init_weights(q, cfg, names);
    fp_q_all_history(q);
    fp_redis_conn_opts_t opts = {
        .name = "reader",
        .connect_timeout_ms = cfg->redis.connect_timeout_ms,
        .command_timeout_ms = cfg->redis.connect_timeout_ms + COMMAND_GRACE_MS};
    if (cl != NULL) {
        if ((rc = cluster_opts(q, cl, &opts, err)) < 0)
            goto fail;
    } else if (cfg->redis.sentinels.count > 0) {
        if ((rc = fp_sentinel_new(loop, cfg, true, false, &q->sentinel, err)) < 0)
            goto fail;
        opts.locator = fp_sentinel_locator(q->sentinel);
    }
    if ((rc = fp_redis_conn_new(loop, &q->conn.url, &opts, fp_q_on_conn_state, q, &q->reader,
                                err)) < 0)
        goto fail;
    opts.name = "writer";
    if ((rc = fp_redis_conn_new(loop, &q->conn.url, &opts, fp_q_on_conn_state, q, &q->writer,
                                err)) < 0)
        goto fail;
    if (q->sentinel != NULL && (fp_sentinel_follow(q->sentinel, q->reader) < 0 ||
                                fp_sentinel_follow(q->sentinel, q->writer) < 0))
        goto oom;
    uv_prepare_init(loop, &q->life.prepare);
    q->life.prepare.data = q;
    uv_timer_init(loop, &q->retry.timer);
    q->retry.timer.data = q;
    uv_timer_t *timers[] = {&q->renew.timer, &q->takeover.timer, &q->mover.timer,
                            &q->cancels.timer};
    for (size_t i = 0; i < sizeof timers / sizeof timers[0]; i++) {
        uv_timer_init(loop, timers[i]);
        timers[i]->data = q;
    }
    *out = q;
    return 0;
oom:
    rc = fp_err_set(err, -ENOMEM, "out of memory");
fail:
    /* Nothing was started: connections close without touching the network. */
    if (q->reader != NULL)
        fp_redis_conn_close(q->reader, NULL, NULL);
    if (q->writer != NULL)
        fp_redis_conn_close(q->writer, NULL, NULL);
    fp_sentinel_close(q->sentinel, NULL, NULL);
    queue_free(q);
    return rc;
}

int fp_queue_start(fp_queue_t *q)
{
    if (q->life.started || q->life.closing)
        return 0;
    q->life.started = true;
    q->renew.fresh_since_us = fp_os_now_us(); /* nothing held yet */
    uv_prepare_start(&q->life.prepare, on_prepare);
    fp_q_cancel_take_start(q); /* with or without renewal: a cancel is not a claim */
    if (q->vt_ms > 0) {
        fp_q_renew_start(q);
        if (q->cfg->recovery.claim_interval_ms > 0)
            fp_q_takeover_start(q);
    }
    /* The mover's first round runs once Redis is ready (update_ready). */
    if (q->sentinel != NULL)
        fp_sentinel_start(q->sentinel);
    fp_redis_conn_start(q->writer);
    fp_redis_conn_start(q->reader);
    return 0;
}

void fp_queue_want(fp_queue_t *q, size_t room)
{
    /* Only recorded: the prepare callback acts on it, so a call from inside
     * on_jobs never re-enters the read path. */
    q->rd.room = room;
}

static void part_closed(fp_queue_t *q)
{
    if (--q->life.open_parts > 0)
        return;
    void (*cb)(void *) = q->life.close_cb;
    void *ctx = q->life.close_ctx;
    queue_free(q);
    if (cb != NULL)
        cb(ctx);
}

static void on_part_closed(void *ctx)
{
    part_closed(ctx);
}

static void on_handle_closed(uv_handle_t *h)
{
    part_closed(h->data);
}

void fp_queue_close(fp_queue_t *q, void (*cb)(void *ctx), void *ctx)
{
    if (q == NULL || q->life.closing)
        return;
    q->life.closing = true;
    q->conn.ready = false;
    q->life.close_cb = cb;
    q->life.close_ctx = ctx;
    q->life.open_parts = q->sentinel != NULL ? 9 : 8;
    uv_close((uv_handle_t *)&q->life.prepare, on_handle_closed);
    uv_close((uv_handle_t *)&q->retry.timer, on_handle_closed);
    uv_close((uv_handle_t *)&q->renew.timer, on_handle_closed);
    uv_close((uv_handle_t *)&q->takeover.timer, on_handle_closed);
    uv_close((uv_handle_t *)&q->mover.timer, on_handle_closed);
    uv_close((uv_handle_t *)&q->cancels.timer, on_handle_closed);
    /* Pending replies come back as NULL from inside these calls (or right
     * after the hiredis callback we may be in returns); q is freed only in the
     * last close callback, on a later loop phase. */
    fp_redis_conn_close(q->reader, on_part_closed, q);
    fp_redis_conn_close(q->writer, on_part_closed, q);
    /* After its followers: closing them while located told it to forget them. */
    if (q->sentinel != NULL)
        fp_sentinel_close(q->sentinel, on_part_closed, q);
}

