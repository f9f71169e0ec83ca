/* autoscale.c: the autoscale timer, the thin glue around fp_scale_decide
 * (pool/autoscale.h). Each tick it looks at the children (busy, starting,
 * idle since when, their RSS), the host's MemAvailable when that guard is
 * set, and the oldest ready job of each served queue as last sampled; asks
 * the decision; and carries it out through the normal paths: a higher
 * target is filled by fp_sup_top_up, an idle child leaves by fp_sup_send_stop
 * (it holds no job, so none is interrupted). The queue ages are read by the
 * same read-only script as /metrics' depths, sent at the end of a tick and
 * answered before a later one: the loop never waits on Redis. The timer runs
 * only while the pool scales. */
#include "supervisor/supervisor_internal.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/os.h"

#define LOG "supervisor"
#define MB (INT64_C(1) << 20)

/* What one tick saw, with the child an idle step would stop. */
typedef struct observed_s {
    fp_scale_input_t in;
    fp_slot_t *idlest;
} observed_t;

/* The host's MemAvailable in bytes, or -1. /proc reads do not block. */
static int64_t host_available_bytes(void)
{
    int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    const char *p = strstr(buf, "MemAvailable:");
    return p != NULL ? strtoll(p + strlen("MemAvailable:"), NULL, 10) * 1024 : -1;
}

static void on_scale_sample(void *ctx, uint32_t queue, const fp_admin_queue_stats_t *st)
{
    fp_supervisor_t *sup = ctx;
    if (queue < FP_METRICS_MAX_QUEUES)
        sup->scale.oldest_ms[queue] = st != NULL ? st->oldest_age_ms : -1;
    fp_sup_on_queue_sample(sup, queue, st); /* /metrics' depths are as fresh, for free */
}

/* A child's last activity: now when it holds a job or ran one since the last look. */
static int64_t idle_for(fp_slot_t *slot, int64_t now)
{
    if (slot->state == FP_CHILD_BUSY || slot->jobs_done != slot->seen_jobs || slot->active_ms == 0) {
        slot->active_ms = now;
        slot->seen_jobs = slot->jobs_done;
    }
    return now - slot->active_ms;
}

static void observe_child(observed_t *o, fp_slot_t *slot, int64_t now)
{
    fp_scale_input_t *in = &o->in;
    switch (slot->state) {
    case FP_CHILD_STARTING: in->starting++; break;
    case FP_CHILD_BUSY: in->busy++; break;
    case FP_CHILD_IDLE: break;
    case FP_CHILD_STOPPING: in->stopping++; return;
    default: return;
    }
    in->live++;
    in->rss_total_bytes += slot->rss_kb * 1024;
    if (slot->state == FP_CHILD_STARTING)
        return;
    int64_t idle = idle_for(slot, now);
    if (slot->state == FP_CHILD_IDLE && !slot->channel_eof && idle > in->longest_idle_ms) {
        in->longest_idle_ms = idle;
        o->idlest = slot;
    }
}

static observed_t observe(fp_supervisor_t *sup, int64_t now)
{
    const fp_config_t *cfg = sup->cfg;
    observed_t o = {.in = {.target = sup->pool.target, .min = sup->scale.min, .max = sup->scale.max,
                           .oldest_ready_ms = -1, .longest_idle_ms = -1,
                           .host_available_bytes = -1,
                           .max_memory_total = cfg->pool.max_memory_total_bytes,
                           .min_host_available = cfg->pool.min_host_available_bytes,
                           .scale_up_after_ms = cfg->pool.scale_up_after_ms,
                           .idle_timeout_ms = cfg->pool.idle_timeout_ms, .now_ms = now}};
    for (size_t i = 0; i < sup->pool.capacity; i++)
        observe_child(&o, sup->pool.slots[i], now);
    for (size_t q = 0; q < sup->redis.nnames && q < FP_METRICS_MAX_QUEUES; q++)
        if (sup->scale.oldest_ms[q] > o.in.oldest_ready_ms)
            o.in.oldest_ready_ms = sup->scale.oldest_ms[q];
    if (o.in.min_host_available > 0)
        o.in.host_available_bytes = host_available_bytes();
    return o;
}

/* A guard holding growth is said once, when it starts to hold. */
static void note_guard(fp_supervisor_t *sup, const fp_scale_input_t *in, fp_scale_reason_t reason)
{
    if (reason != FP_SCALE_MEMORY_TOTAL && reason != FP_SCALE_HOST_MEMORY)
        reason = FP_SCALE_STEADY; /* no guard holds now: the next one is said again */
    if (reason == sup->scale.held)
        return;
    sup->scale.held = reason;
    if (reason == FP_SCALE_MEMORY_TOTAL)
        fp_log_warn(LOG, "autoscale: growth held at %zu children: their memory (%lld MB) reached "
                         "pool.max_memory_total (%lld MB)",
                    in->target, (long long)(in->rss_total_bytes / MB),
                    (long long)(in->max_memory_total / MB));
    else if (reason == FP_SCALE_HOST_MEMORY)
        fp_log_warn(LOG, "autoscale: growth held at %zu children: the host's MemAvailable "
                         "(%lld MB) is under pool.min_host_available (%lld MB)",
                    in->target, (long long)(in->host_available_bytes / MB),
                    (long long)(in->min_host_available / MB));
}

static void log_step(const fp_supervisor_t *sup, const observed_t *o, const fp_scale_decision_t *d)
{
    const fp_scale_input_t *in = &o->in;
    const char *dir = d->dir == FP_SCALE_UP ? "up" : "down";
    if (d->reason == FP_SCALE_BACKLOG)
        fp_log_info(LOG, "autoscale: up to %zu children (was %zu): every child busy and the "
                         "oldest ready job waited %lld ms (pool.scale_up_after %lld ms)",
                    d->target, in->target, (long long)in->oldest_ready_ms,
                    (long long)in->scale_up_after_ms);
    else if (d->reason == FP_SCALE_IDLE)
        fp_log_info(LOG, "autoscale: down to %zu children (was %zu): child %d (pid %d) idle for "
                         "%lld ms (pool.idle_timeout %lld ms)",
                    d->target, in->target, o->idlest->id, (int)o->idlest->pid,
                    (long long)in->longest_idle_ms, (long long)in->idle_timeout_ms);
    else
        fp_log_info(LOG, "autoscale: %s to %zu children (was %zu): the bounds are %zu..%zu", dir,
                    d->target, in->target, sup->scale.min, sup->scale.max);
}

static void tick(fp_supervisor_t *sup)
{
    if (sup->state != SUP_RUNNING || !sup->scale.on)
        return;
    observed_t o = observe(sup, fp_os_now_ms());
    fp_scale_decision_t d = fp_scale_decide(&o.in, &sup->scale.state);
    note_guard(sup, &o.in, d.reason);
    if (d.dir != FP_SCALE_NONE) {
        log_step(sup, &o, &d);
        fp_metrics_scale_event(sup->metrics, d.dir == FP_SCALE_UP, d.reason);
        sup->pool.target = d.target;
        if (d.reason == FP_SCALE_IDLE)
            fp_sup_send_stop(sup, o.idlest); /* idle: it holds no job */
        fp_sup_rebalance(sup);
        fp_sup_update_want(sup);
        fp_sup_dispatch(sup);
    }
}

static void on_scale_timer(uv_timer_t *timer)
{
    fp_supervisor_t *sup = timer->data;
    tick(sup);
    if (sup->state == SUP_RUNNING && sup->scale.on && sup->redis.queue != NULL &&
        !sup->redis.closed)
        fp_qmux_sample(sup->redis.queue, on_scale_sample, sup);
}

int fp_sup_scale_init(fp_supervisor_t *sup)
{
    for (size_t q = 0; q < FP_METRICS_MAX_QUEUES; q++)
        sup->scale.oldest_ms[q] = -1;
    int rc = uv_timer_init(&sup->loop, &sup->scale.timer);
    sup->scale.timer.data = sup;
    return rc;
}

/* A tick a quarter of the shorter of the two delays, so each is seen
 * within a quarter of itself, and at least 4 a second. */
static uint64_t tick_ms(const fp_config_t *cfg)
{
    int64_t t = cfg->pool.scale_up_after_ms < cfg->pool.idle_timeout_ms ? cfg->pool.scale_up_after_ms
                                                                        : cfg->pool.idle_timeout_ms;
    t /= 4;
    return (uint64_t)(t < 25 ? 25 : t > 250 ? 250 : t);
}

void fp_sup_scale_configure(fp_supervisor_t *sup, size_t before)
{
    const fp_config_t *cfg = sup->cfg;
    sup->scale.on = cfg->pool.children_max > 0 && sup->opts.children <= 0;
    if (!sup->scale.on) {
        uv_timer_stop(&sup->scale.timer);
        return;
    }
    sup->scale.min = (size_t)cfg->pool.children_min;
    sup->scale.max = (size_t)cfg->pool.children_max;
    sup->pool.target = before < sup->scale.min   ? sup->scale.min
                       : before > sup->scale.max ? sup->scale.max
                                                 : before;
    sup->scale.state = (fp_scale_state_t){0};
    uint64_t every = tick_ms(cfg);
    fp_log_info(LOG, "autoscale: %zu..%zu children (now %zu), up after %lld ms of backlog, down "
                     "after %lld ms idle",
                sup->scale.min, sup->scale.max, sup->pool.target,
                (long long)cfg->pool.scale_up_after_ms, (long long)cfg->pool.idle_timeout_ms);
    uv_timer_start(&sup->scale.timer, on_scale_timer, every, every);
}

bool fp_sup_scale_resize(fp_supervisor_t *sup, bool more)
{
    if (!sup->scale.on)
        return false;
    if (more && sup->scale.max < FP_SCALE_CHILDREN_MAX) {
        sup->scale.max++;
        sup->scale.min++;
    } else if (!more && sup->scale.min > 1) {
        sup->scale.min--;
        sup->scale.max--;
    } else if (!more && sup->scale.max > sup->scale.min) {
        sup->scale.max--;
    }
    fp_log_info(LOG, "%s: the pool now scales between %zu and %zu children",
                more ? "SIGTTIN" : "SIGTTOU", sup->scale.min, sup->scale.max);
    tick(sup);
    return true;
}

void fp_sup_scale_stats(const fp_supervisor_t *sup, cJSON *doc)
{
    cJSON_AddNumberToObject(doc, "children_target", (double)sup->pool.target);
    cJSON_AddNumberToObject(doc, "children_min", (double)(sup->scale.on ? sup->scale.min : sup->pool.target));
    cJSON_AddNumberToObject(doc, "children_max", (double)(sup->scale.on ? sup->scale.max : sup->pool.target));
    cJSON_AddBoolToObject(doc, "autoscale", sup->scale.on);
    if (sup->scale.on && sup->scale.held != FP_SCALE_STEADY)
        cJSON_AddStringToObject(doc, "scale_held", fp_scale_reason_name(sup->scale.held));
}
