/* steer.c: the I/O side of the adaptive pool (docs/steering.md). It feeds
 * the estimates (lib/pool/estimate.h, flow.h) with what the supervisor sees
 * — each job's run time, each completion, each pull's round trip — and
 * hands the pure decisions (lib/pool/steer.h) their numbers: the hold target
 * goes into pool.prefetch, so the pull bound and jobs_held_limit stay one
 * number; the send-ahead rule is fp_pool_pick_for's. */
#include "supervisor/supervisor_internal.h"

#include <stdio.h>

#include "base/log.h"
#include "base/os.h"
#include "pool/steer.h"

#define LOG "supervisor"

void fp_sup_steer_configure(fp_supervisor_t *sup, const fp_config_t *cfg)
{
    fp_pool_t *pool = &sup->pool;
    if (!sup->steer.started) {
        fp_estimate_init(&sup->steer.est);
        fp_flow_init(&sup->steer.flow, fp_os_now_us());
        sup->steer.started = true;
    }
    pool->hold_auto = cfg->pool.prefetch == FP_CONFIG_AUTO;
    pool->ahead_auto = cfg->pool.pipeline == FP_CONFIG_AUTO;
    pool->prefetch = pool->hold_auto ? 0 : (size_t)cfg->pool.prefetch;
    pool->pipeline = pool->ahead_auto ? 0 : (size_t)cfg->pool.pipeline;
    pool->max_send_ahead_wait_us = cfg->pool.max_send_ahead_wait_ms * 1000;
    fp_sup_steer_hold(sup);
}

void fp_sup_steer_job(fp_supervisor_t *sup, fp_held_t *held, int64_t now_us, fp_pool_job_t *job)
{
    held->est_type = fp_estimate_type(&sup->steer.est, held->job.type);
    job->pct_us = fp_estimate_pct_us(&sup->steer.est, held->est_type);
    job->now_us = now_us;
}

void fp_sup_steer_sending(fp_supervisor_t *sup, const fp_slot_t *slot, fp_held_t *held)
{
    const fp_estimate_t *est = &sup->steer.est;
    int64_t pct = fp_estimate_pct_us(est, held->est_type);
    held->unsure = pct < 0 || pct > sup->pool.max_send_ahead_wait_us;
    held->expect_us = held->unsure ? 0 : fp_estimate_mean_us(est, held->est_type);
    if (slot->depth == 0 || fp_pool_starts_on_send(slot))
        return;
    sup->steer.sent_ahead++;
    /* Which type waits behind which: how a person (or a test) checks that
     * nothing waits behind a long job. Debug only: one line per job. */
    if (fp_log_enabled(FP_LOG_DEBUG) && slot->job_tail != NULL)
        fp_log_debug(LOG, "type %s sent ahead to child %d behind type %s: job %s",
                     held->job.type, slot->id, slot->job_tail->job.type, fp_held_name(held));
}

void fp_sup_steer_started(fp_slot_t *slot, fp_held_t *held, int64_t now_us)
{
    held->started_us = now_us;
    if (fp_pool_starts_on_send(slot))
        return;
    slot->run_started_us = now_us;
    slot->run_expect_us = held->expect_us;
}

void fp_sup_steer_answered(fp_supervisor_t *sup, const fp_held_t *held, int64_t now_us)
{
    /* A job sent ahead started when the one before it was answered (its
     * started_us), so this is its run, not its wait. */
    if (held->started_us > 0) {
        fp_estimate_run(&sup->steer.est, held->est_type, now_us - held->started_us);
        fp_flow_run(&sup->steer.flow, now_us - held->started_us);
    }
    fp_flow_done(&sup->steer.flow, 1, now_us);
}

void fp_sup_steer_pulled(fp_supervisor_t *sup, const fp_queue_stats_t *qs,
                         const fp_pulled_t *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sup->steer.payload_bytes = fp_steer_payload_note(sup->steer.payload_bytes,
                                                         jobs[i].payload_len);
    if (qs->read_rtt_samples == sup->steer.rtt_samples)
        return;
    sup->steer.rtt_samples = qs->read_rtt_samples;
    fp_flow_redis_rtt(&sup->steer.flow, qs->read_rtt_us);
}

/* What the children could finish per second now (fp_flow_slot_rate per job
 * slot): a child running one job at a time counts its running job's time so
 * far; a concurrent child's slots and free capacity count the mean. */
static double possible_rate(fp_supervisor_t *sup, size_t capacity, int64_t now_us)
{
    const fp_flow_t *flow = &sup->steer.flow;
    const fp_pool_t *pool = &sup->pool;
    size_t counted = 0;
    double rate = 0;
    for (size_t i = 0; i < pool->capacity && counted < capacity; i++) {
        const fp_slot_t *slot = pool->slots[i];
        if (slot->state != FP_CHILD_BUSY || fp_pool_starts_on_send(slot) || slot->depth == 0)
            continue;
        rate += fp_flow_slot_rate(flow, now_us - slot->run_started_us);
        counted++;
    }
    return rate + (double)(capacity - counted) * fp_flow_slot_rate(flow, 0);
}

void fp_sup_steer_hold(fp_supervisor_t *sup)
{
    fp_pool_t *pool = &sup->pool;
    if (!pool->hold_auto)
        return;
    int64_t now_us = fp_os_now_us();
    size_t capacity = fp_pool_capacity(pool);
    fp_steer_flow_t flow = {
        .rate = fp_flow_plan_rate(&sup->steer.flow, now_us, possible_rate(sup, capacity, now_us)),
        .redis_rtt_us = sup->steer.flow.redis_rtt_us,
        .channel_rtt_us = FP_STEER_CHANNEL_RTT_US,
        .ahead_us = pool->ahead_auto ? (double)pool->max_send_ahead_wait_us : 0,
    };
    size_t most = fp_steer_max_held((size_t)sup->cfg->pool.max_held,
                                    sup->cfg->pool.max_held_bytes, sup->steer.payload_bytes,
                                    capacity);
    pool->prefetch = fp_steer_hold(&flow, capacity, most);
}

static void add_mode(cJSON *obj, const char *name, int64_t value)
{
    if (value == FP_CONFIG_AUTO)
        cJSON_AddStringToObject(obj, name, "auto");
    else
        cJSON_AddNumberToObject(obj, name, (double)value);
}

cJSON *fp_sup_steer_json(const fp_supervisor_t *sup)
{
    const sup_steer_t *st = &sup->steer;
    cJSON *obj = cJSON_CreateObject();
    if (obj == NULL)
        return NULL;
    add_mode(obj, "prefetch", sup->cfg->pool.prefetch);
    add_mode(obj, "pipeline", sup->cfg->pool.pipeline);
    cJSON_AddNumberToObject(obj, "hold", (double)sup->pool.prefetch);
    cJSON_AddNumberToObject(obj, "max_held", (double)sup->cfg->pool.max_held);
    cJSON_AddNumberToObject(obj, "max_held_bytes", (double)sup->cfg->pool.max_held_bytes);
    cJSON_AddNumberToObject(obj, "payload_bytes", sup->steer.payload_bytes);
    cJSON_AddNumberToObject(obj, "max_send_ahead_wait_ms",
                            (double)sup->cfg->pool.max_send_ahead_wait_ms);
    cJSON_AddNumberToObject(obj, "jobs_sent_ahead", (double)st->sent_ahead);
    cJSON_AddNumberToObject(obj, "completion_rate", st->flow.rate);
    cJSON_AddNumberToObject(obj, "redis_rtt_us", st->flow.redis_rtt_us);
    cJSON_AddNumberToObject(obj, "mean_run_us", st->flow.run_us);
    cJSON *types = cJSON_AddArrayToObject(obj, "types");
    for (size_t i = 0; i <= FP_EST_TYPES; i++) {
        const fp_est_type_t *t = &st->est.types[i];
        if (t->samples == 0 || (i < FP_EST_TYPES && i >= st->est.used))
            continue;
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "type", t->name);
        cJSON_AddNumberToObject(row, "samples", (double)t->samples);
        cJSON_AddNumberToObject(row, "mean_us", (double)fp_estimate_mean_us(&st->est, (int)i));
        cJSON_AddNumberToObject(row, "p99_us", (double)fp_estimate_pct_us(&st->est, (int)i));
        cJSON_AddItemToArray(types, row);
    }
    return obj;
}
