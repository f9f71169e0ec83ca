/* qmux_calls.c: the supervisor's calls to its job source (qmux.h), each
 * routed to the part serving the queue it names, or made on every part and
 * summed. With one part every call is the fp_queue_* call of the same name
 * with the same arguments. */
#include "queue/qmux_internal.h"
#include "queue/qmux_side.h"
#include "queue/queue_internal.h"
#include "sqlq/aq.h"
#include "sqlq/aq_fleet.h"
#include "sqlq/aq_schedule.h"
#include "sqlq/aq_unique.h"

#include <errno.h>
#include <stdlib.h>

void fp_qmux_want(fp_qmux_t *m, size_t room)
{
    if (m->aq != NULL) {
        fp_aq_want(m->aq, room);
        return;
    }
    m->room = room;
    for (size_t i = 0; i < m->map.nparts; i++)
        fp_queue_want(m->parts[i].q, room);
}

void fp_qmux_started(fp_qmux_t *m, uint32_t queue, const fp_job_t *job)
{
    if (m->aq != NULL) {
        fp_aq_started(m->aq, queue, job);
        return;
    }
    uint32_t l;
    part_t *p = fp_qmux_part_of(m, queue, &l);
    if (p != NULL)
        fp_queue_started(p->q, l, job);
}

void fp_qmux_ack(fp_qmux_t *m, uint32_t queue, const char *entry_id)
{
    if (m->aq != NULL) {
        fp_aq_ack(m->aq, queue, entry_id);
        return;
    }
    uint32_t l;
    part_t *p = fp_qmux_part_of(m, queue, &l);
    if (p != NULL)
        fp_queue_ack(p->q, l, entry_id);
}

void fp_qmux_dead(fp_qmux_t *m, uint32_t queue, const char *entry_id, const char *payload,
                  size_t payload_len, const char *error, int64_t attempts)
{
    if (m->aq != NULL) {
        fp_aq_dead(m->aq, queue, entry_id, payload, payload_len, error, attempts);
        return;
    }
    uint32_t l;
    part_t *p = fp_qmux_part_of(m, queue, &l);
    if (p != NULL)
        fp_queue_dead(p->q, l, entry_id, payload, payload_len, error, attempts);
}

void fp_qmux_drain(fp_qmux_t *m)
{
    if (m->aq != NULL) {
        fp_aq_drain(m->aq);
        return;
    }
    for (size_t i = 0; i < m->map.nparts; i++)
        fp_queue_drain(m->parts[i].q);
}

void fp_qmux_put_back(fp_qmux_t *m, uint32_t queue, const char *entry_id, const char *payload,
                      size_t payload_len)
{
    if (m->aq != NULL) {
        fp_aq_put_back(m->aq, queue, entry_id, payload, payload_len);
        return;
    }
    uint32_t l;
    part_t *p = fp_qmux_part_of(m, queue, &l);
    if (p != NULL)
        fp_queue_put_back(p->q, l, entry_id, payload, payload_len);
}

void fp_qmux_retry(fp_qmux_t *m, uint32_t queue, const char *entry_id, const char *payload,
                   size_t payload_len, int64_t delay_ms)
{
    if (m->aq != NULL) {
        fp_aq_retry(m->aq, queue, entry_id, payload, payload_len, delay_ms);
        return;
    }
    uint32_t l;
    part_t *p = fp_qmux_part_of(m, queue, &l);
    if (p != NULL)
        fp_queue_retry(p->q, l, entry_id, payload, payload_len, delay_ms);
}

void fp_qmux_hold(fp_qmux_t *m, uint32_t queue, const char *entry_id)
{
    if (m->aq != NULL) {
        fp_aq_hold(m->aq, queue, entry_id);
        return;
    }
    uint32_t l;
    part_t *p = fp_qmux_part_of(m, queue, &l);
    if (p != NULL)
        fp_queue_hold(p->q, l, entry_id);
}

int fp_qmux_schedule(fp_qmux_t *m, uint32_t queue, const fp_schedule_t *s, const int64_t *ticks,
                     size_t n, fp_schedule_cb cb, void *ctx)
{
    if (m->aq != NULL)
        return fp_aq_schedule(m->aq, queue, s, ticks, n, cb, ctx);
    uint32_t l;
    part_t *p = fp_qmux_part_of(m, queue, &l);
    return p != NULL ? fp_queue_schedule(p->q, l, s, ticks, n, cb, ctx) : -EINVAL;
}

size_t fp_qmux_unconfirmed(const fp_qmux_t *m)
{
    if (m->aq != NULL)
        return fp_aq_unconfirmed(m->aq);
    size_t n = 0;
    for (size_t i = 0; i < m->map.nparts; i++)
        n += fp_queue_unconfirmed(m->parts[i].q);
    return n;
}

void fp_qmux_track_retries(fp_qmux_t *m)
{
    if (m->aq != NULL) {
        fp_aq_track_retries(m->aq);
        return;
    }
    for (size_t i = 0; i < m->map.nparts; i++)
        fp_queue_track_retries(m->parts[i].q);
}

bool fp_qmux_is_ready(const fp_qmux_t *m)
{
    if (m->aq != NULL)
        return fp_aq_is_ready(m->aq);
    for (size_t i = 0; i < m->map.nparts; i++)
        if (!fp_queue_is_ready(m->parts[i].q))
            return false;
    return true;
}

const char *fp_qmux_down_reason(const fp_qmux_t *m)
{
    if (m->aq != NULL)
        return fp_aq_down_reason(m->aq);
    for (size_t i = 0; i < m->map.nparts; i++)
        if (!fp_queue_is_ready(m->parts[i].q) || m->map.nparts == 1)
            return fp_queue_down_reason(m->parts[i].q);
    return "";
}

void fp_qmux_stats(const fp_qmux_t *m, fp_queue_stats_t *out)
{
    if (m->aq != NULL) {
        fp_aq_stats(m->aq, out);
        return;
    }
    if (m->map.nparts == 1) {
        fp_queue_stats(m->parts[0].q, out);
        return;
    }
    *out = (fp_queue_stats_t){0};
    for (size_t i = 0; i < m->map.nparts; i++) {
        fp_queue_stats_t one;
        fp_queue_stats(m->parts[i].q, &one);
        fp_qmux_stats_add(out, &one);
    }
}

/* ---- drained: every part's answer, once ------------------------------------ */

typedef struct drained_s {
    void (*cb)(void *ctx, bool drained);
    void *ctx;
    size_t left;
    bool all;
} drained_t;

static void on_part_drained(void *ctx, bool drained)
{
    drained_t *d = ctx;
    d->all = d->all && drained;
    if (--d->left > 0)
        return;
    d->cb(d->ctx, d->all);
    free(d);
}

void fp_qmux_check_drained(fp_qmux_t *m, void (*cb)(void *ctx, bool drained), void *ctx)
{
    if (m->aq != NULL) {
        fp_aq_check_drained(m->aq, cb, ctx);
        return;
    }
    if (m->map.nparts == 1) {
        fp_queue_check_drained(m->parts[0].q, cb, ctx);
        return;
    }
    drained_t *d = malloc(sizeof *d);
    if (d == NULL) {
        cb(ctx, false); /* unknown is not drained */
        return;
    }
    *d = (drained_t){cb, ctx, m->map.nparts + 1, true}; /* held while asking */
    for (size_t i = 0; i < m->map.nparts; i++)
        fp_queue_check_drained(m->parts[i].q, on_part_drained, d);
    on_part_drained(d, true);
}

/* ---- samples: the part's index turned into the supervisor's ---------------- */

static void on_part_sample(void *ctx, uint32_t queue, const struct fp_admin_queue_stats_s *stats)
{
    sampler_t *s = ctx;
    s->cb(s->ctx, fp_qmux_global_of(s->part, queue), stats);
}

void fp_qmux_sample(fp_qmux_t *m, fp_queue_sample_cb cb, void *ctx)
{
    if (m->aq != NULL) {
        fp_aq_sample(m->aq, cb, ctx);
        return;
    }
    if (m->map.nparts == 1) {
        fp_queue_sample(m->parts[0].q, cb, ctx);
        return;
    }
    for (size_t i = 0; i < m->map.nparts; i++) {
        part_t *p = &m->parts[i];
        sampler_t *s = NULL;
        for (size_t k = 0; s == NULL && k < FP_QMUX_SAMPLERS; k++)
            if (p->samplers[k].cb == NULL || (p->samplers[k].cb == cb && p->samplers[k].ctx == ctx))
                s = &p->samplers[k];
        if (s == NULL)
            return; /* more askers than the supervisor has: a bug, not worth a crash */
        *s = (sampler_t){p, cb, ctx};
        fp_queue_sample(p->q, on_part_sample, s);
    }
}

/* ---- outside the queues' slots: the single part's writer, or over a
 * Cluster the side connection serving the keys' slot (qmux_side.c) ---- */

int fp_qmux_eval(fp_qmux_t *m, const char *script, size_t nkeys, const char *const *args,
                 size_t nargs, fp_queue_reply_cb cb, void *ctx)
{
    if (m->aq != NULL)
        return -ENOTSUP;
    if (m->side == NULL)
        return fp_queue_eval(m->parts[0].q, script, nkeys, args, nargs, cb, ctx);
    fp_redis_conn_t *c = nkeys > 0 ? fp_qside_conn(m->side, args[0]) : fp_qside_fleet(m->side);
    return c != NULL ? fp_q_eval_on(c, script, nkeys, args, nargs, cb, ctx) : -ENOTCONN;
}

int fp_qmux_heartbeat(fp_qmux_t *m, const char *id, const char *record, int64_t ttl_ms,
                      void (*cb)(void *ctx, bool ok), void *ctx)
{
    if (m->aq != NULL)
        return fp_aq_heartbeat(m->aq, id, record, ttl_ms, cb, ctx);
    if (m->side == NULL)
        return fp_queue_heartbeat(m->parts[0].q, id, record, ttl_ms, cb, ctx);
    fp_redis_conn_t *c = fp_qside_fleet(m->side);
    return c != NULL ? fp_q_heartbeat_on(c, m->cfg->redis.prefix, id, record, ttl_ms, cb, ctx)
                     : -ENOTCONN;
}

int fp_qmux_heartbeat_clear(fp_qmux_t *m, const char *id, const char *token,
                            void (*cb)(void *ctx, bool ok), void *ctx)
{
    if (m->aq != NULL)
        return fp_aq_heartbeat_clear(m->aq, id, token, cb, ctx);
    if (m->side == NULL)
        return fp_queue_heartbeat_clear(m->parts[0].q, id, token, cb, ctx);
    fp_redis_conn_t *c = fp_qside_fleet(m->side);
    return c != NULL ? fp_q_heartbeat_clear_on(c, m->cfg->redis.prefix, id, token, cb, ctx)
                     : -ENOTCONN;
}

int fp_qmux_fleet_read(fp_qmux_t *m, void (*cb)(void *ctx, fp_fleet_t *fleet), void *ctx)
{
    if (m->aq != NULL)
        return fp_aq_fleet_read(m->aq, cb, ctx);
    if (m->side == NULL)
        return fp_queue_fleet_read(m->parts[0].q, cb, ctx);
    fp_redis_conn_t *c = fp_qside_fleet(m->side);
    return c != NULL ? fp_q_fleet_read_on(c, m->cfg->redis.prefix, cb, ctx) : -ENOTCONN;
}
