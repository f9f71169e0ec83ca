/* routes.c: the health endpoint's routes: /healthz, /readyz (every
 * reason the daemon is not ready), /metrics (gauges read at scrape time,
 * queue depths sampled on a timer) and /stats (the JSON view). */
#include "supervisor/supervisor_internal.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/log.h"
#include "base/os.h"
#include "http/health.h"
#include "queue/queue_stats.h"

#define LOG "supervisor"

void fp_sup_set_health_limits(fp_supervisor_t *sup)
{
    if (sup->health == NULL)
        return;
    const fp_config_t *cfg = sup->cfg;
    fp_health_limits_t lim = {(uint64_t)cfg->health.header_timeout_ms,
                              (uint64_t)cfg->health.idle_timeout_ms,
                              (uint32_t)cfg->health.max_connections};
    fp_health_set_limits(sup->health, &lim);
}

void fp_sup_on_queue_sample(void *ctx, uint32_t queue, const fp_admin_queue_stats_t *st)
{
    fp_supervisor_t *sup = ctx;
    fp_metrics_queue_t q = {-1, -1, -1, -1, -1.0};
    if (st != NULL) {
        q = (fp_metrics_queue_t){st->ready, st->pending, st->delayed, st->dead,
                                 st->oldest_age_ms >= 0 ? (double)st->oldest_age_ms / 1000.0 : 0.0};
    }
    fp_metrics_set_queue(sup->metrics, sup->redis.names[queue], &q);
    fp_sup_ui_queue_sample(sup, queue, st);
    if (st != NULL && st->now_ms > 0)
        fp_metrics_set_redis_clock(sup->metrics, st->now_ms, fp_os_unix_ms());
}

/* Queue depths are read on a timer, never per scrape: a scrape storm cannot
 * turn into a Redis storm. */
void fp_sup_on_sample_timer(uv_timer_t *timer)
{
    fp_supervisor_t *sup = timer->data;
    if (sup->redis.queue != NULL && !sup->redis.closed)
        fp_qmux_sample(sup->redis.queue, fp_sup_on_queue_sample, sup);
}

static int route_healthz(void *ctx, fp_buf_t *body, const char **content_type)
{
    (void)ctx;
    *content_type = "text/plain; charset=utf-8";
    fp_buf_append(body, "ok\n", 3);
    return 200;
}

int fp_sup_respond_json(cJSON *doc, fp_buf_t *body, const char **content_type)
{
    *content_type = "application/json";
    char *text = doc != NULL ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    if (text == NULL)
        return 500;
    int rc = fp_buf_append(body, text, strlen(text));
    cJSON_free(text);
    return rc < 0 ? 500 : 0;
}

/* "what: detail", or what alone when there is no detail. */
static void add_reason(cJSON *reasons, const char *what, const char *detail)
{
    char text[320];
    snprintf(text, sizeof text, "%s%s%s", what, detail[0] != '\0' ? ": " : "", detail);
    cJSON_AddItemToArray(reasons, cJSON_CreateString(text));
}

/* Why the daemon is not ready, as an array (empty: ready): Redis
 * connected with the group in place, a live child, not draining or quiet,
 * not in a crash loop, a ledger (if any) that writes. NULL on ENOMEM. */
static cJSON *not_ready_reasons(const fp_supervisor_t *sup)
{
    cJSON *reasons = cJSON_CreateArray();
    if (reasons == NULL)
        return NULL;
    size_t alive = fp_pool_count(&sup->pool, FP_CHILD_IDLE) + fp_pool_count(&sup->pool, FP_CHILD_BUSY);
    /* Over a Cluster the queue is usable while one master is lost, but
     * not every queue is served: not ready either. */
    if (!sup->redis.ready || (sup->redis.queue != NULL && !fp_qmux_is_ready(sup->redis.queue)))
        add_reason(reasons, "redis disconnected",
                   !sup->redis.lease_held  ? "daemon.name lease not held yet"
                   : sup->redis.queue != NULL ? fp_qmux_down_reason(sup->redis.queue)
                                        : "");
    if (alive == 0)
        cJSON_AddItemToArray(reasons, cJSON_CreateString("no live child"));
    if (sup->state != SUP_RUNNING)
        cJSON_AddItemToArray(reasons, cJSON_CreateString("draining"));
    if (sup->quiet)
        cJSON_AddItemToArray(reasons, cJSON_CreateString("quiet (SIGTSTP)"));
    if (sup->children.start_error[0] != '\0') {
        char why[START_ERROR_MAX + 32];
        snprintf(why, sizeof why, "children crash-looping: %s", sup->children.start_error);
        cJSON_AddItemToArray(reasons, cJSON_CreateString(why));
    }
    if (sup->ledger.failing)
        cJSON_AddItemToArray(reasons, cJSON_CreateString("ledger"));
    return reasons;
}

/* 503 lists every reason. */
static int route_readyz(void *ctx, fp_buf_t *body, const char **content_type)
{
    fp_supervisor_t *sup = ctx;
    cJSON *doc = cJSON_CreateObject();
    cJSON *reasons = not_ready_reasons(sup);
    cJSON_AddItemToObject(doc, "reasons", reasons);
    bool ready = reasons != NULL && cJSON_GetArraySize(reasons) == 0;
    cJSON_AddBoolToObject(doc, "ready", ready);
    int rc = fp_sup_respond_json(doc, body, content_type);
    return rc != 0 ? rc : ready ? 200 : 503;
}

static int route_metrics(void *ctx, fp_buf_t *body, const char **content_type)
{
    fp_supervisor_t *sup = ctx;
    fp_metrics_gauges_t g = {0};
    g.children[FP_MCHILD_STARTING] = (int64_t)fp_pool_count(&sup->pool, FP_CHILD_STARTING);
    g.children[FP_MCHILD_IDLE] = (int64_t)fp_pool_count(&sup->pool, FP_CHILD_IDLE);
    g.children[FP_MCHILD_BUSY] = (int64_t)fp_pool_count(&sup->pool, FP_CHILD_BUSY);
    g.children[FP_MCHILD_STOPPING] = (int64_t)fp_pool_count(&sup->pool, FP_CHILD_STOPPING);
    g.children_target = (int64_t)sup->pool.target;
    cJSON *reasons = not_ready_reasons(sup);
    g.ready = reasons != NULL && cJSON_GetArraySize(reasons) == 0;
    cJSON_Delete(reasons);
    g.redis_connected = sup->redis.ready;
    g.jobs_held = (int64_t)sup->held.count;
    g.jobs_held_limit = (int64_t)(fp_pool_capacity(&sup->pool) + sup->pool.prefetch);
    g.jobs_sent_ahead = sup->steer.sent_ahead;
    g.pulls_total = sup->counters.pulls;
    if (sup->redis.queue != NULL) {
        fp_queue_stats_t qs;
        fp_qmux_stats(sup->redis.queue, &qs);
        g.outcomes_stale = qs.outcomes_stale;
        g.renewals_lost = qs.renewals_lost;
        g.redis_commands = qs.redis_commands;
        g.redis_errors = qs.redis_errors;
        g.sqlite_file_bytes = qs.file_bytes;
    }
    g.reload_failures_total = sup->reload.failures;
    g.last_pull_age_seconds = sup->counters.last_pull_ms > 0
                                  ? (double)(fp_os_now_ms() - sup->counters.last_pull_ms) / 1000.0
                                  : -1.0;
    g.ledger_backlog = sup->ledger.writer != NULL ? (int64_t)fp_ledger_backlog(sup->ledger.writer) : -1;
    if (sup->ledger.writer != NULL) {
        fp_ledger_stats_t ls;
        fp_ledger_stats(sup->ledger.writer, &ls);
        g.ledger_failing = sup->ledger.failing;
        g.ledger_rows_dropped = ls.dropped;
    }
    fp_metrics_set_gauges(sup->metrics, &g);
    *content_type = "text/plain; version=0.0.4; charset=utf-8";
    return fp_metrics_render(sup->metrics, body) < 0 || fp_sup_limits_metrics(sup, body) < 0 ? 500
                                                                                            : 200;
}

cJSON *fp_sup_child_json(const fp_slot_t *slot)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "id", slot->id);
    cJSON_AddNumberToObject(c, "pid", slot->pid);
    cJSON_AddStringToObject(c, "state", fp_pool_state_name(slot->state));
    cJSON_AddNumberToObject(c, "jobs_done", (double)slot->jobs_done);
    cJSON_AddNumberToObject(c, "rss_kb", (double)slot->rss_kb);
    const fp_held_t *held = slot->job;
    if (held != NULL) {
        cJSON *job = cJSON_AddObjectToObject(c, "job");
        cJSON_AddStringToObject(job, "entry_id", held->entry_id);
        cJSON_AddStringToObject(job, "type", held->job.type);
        if (held->job.id != NULL)
            cJSON_AddStringToObject(job, "id", held->job.id);
        cJSON_AddNumberToObject(job, "running_ms", (double)(fp_os_now_ms() - held->started_at_ms));
    }
    /* A concurrent child runs every job it holds: none waits in its socket. */
    size_t running = fp_slot_running(slot);
    cJSON_AddNumberToObject(c, "concurrency", (double)slot->concurrency);
    cJSON_AddNumberToObject(c, "running", (double)running);
    cJSON_AddNumberToObject(c, "queued", (double)(slot->depth - running));
    return c;
}

static int route_stats(void *ctx, fp_buf_t *body, const char **content_type)
{
    fp_supervisor_t *sup = ctx;
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "consumer", sup->cfg->daemon.name);
    cJSON_AddStringToObject(doc, "state", sup->state == SUP_RUNNING ? (sup->quiet ? "quiet" : "running")
                                                                    : "draining");
    cJSON *queues = cJSON_AddArrayToObject(doc, "queues");
    for (size_t i = 0; i < sup->redis.nnames; i++)
        cJSON_AddItemToArray(queues, cJSON_CreateString(sup->redis.names[i]));
    fp_sup_scale_stats(sup, doc);
    cJSON *children = cJSON_AddArrayToObject(doc, "children");
    for (size_t i = 0; i < sup->pool.capacity; i++)
        if (sup->pool.slots[i]->state != FP_CHILD_FREE)
            cJSON_AddItemToArray(children, fp_sup_child_json(sup->pool.slots[i]));
    cJSON_AddItemToObject(doc, "reload", fp_sup_reload_json(sup));
    cJSON_AddItemToObject(doc, "limits", fp_sup_limits_json(sup));
    cJSON *counters = cJSON_AddObjectToObject(doc, "counters");
    cJSON_AddNumberToObject(counters, "jobs_ok", (double)sup->counters.jobs_ok);
    cJSON_AddNumberToObject(counters, "jobs_failed", (double)sup->counters.jobs_failed);
    cJSON_AddNumberToObject(counters, "jobs_retried", (double)sup->counters.jobs_retried);
    cJSON_AddNumberToObject(counters, "jobs_held", (double)sup->held.count);
    cJSON_AddNumberToObject(counters, "jobs_held_limit",
                            (double)(fp_pool_capacity(&sup->pool) + sup->pool.prefetch));
    cJSON_AddNumberToObject(counters, "jobs_sent_ahead", (double)sup->steer.sent_ahead);
    cJSON_AddBoolToObject(counters, "redis_connected", sup->redis.ready);
    cJSON_AddItemToObject(doc, "steering", fp_sup_steer_json(sup));
    cJSON *fleet = fp_sup_fleet_json(sup);
    if (fleet != NULL)
        cJSON_AddItemToObject(doc, "fleet", fleet);
    int rc = fp_sup_respond_json(doc, body, content_type);
    return rc != 0 ? rc : 200;
}

int fp_sup_start_health(fp_supervisor_t *sup, fp_err_t *err)
{
    static const fp_health_route_t base[] = {
        {.path = "/healthz", .fn = route_healthz},
        {.path = "/readyz", .fn = route_readyz},
        {.path = "/metrics", .fn = route_metrics},
        {.path = "/stats", .fn = route_stats},
    };
    fp_health_route_t routes[32];
    if (sup->cfg->health.listen[0] == '\0')
        return 0;
    int rc = fp_sup_ui_start(sup, err);
    if (rc < 0)
        return rc;
    size_t n = sizeof base / sizeof base[0];
    memcpy(routes, base, sizeof base);
    n += fp_sup_ui_routes(sup, routes + n, sizeof routes / sizeof routes[0] - n);
    rc = fp_health_start(&sup->loop, sup->cfg->health.listen, routes, n, sup, &sup->health, err);
    fp_sup_set_health_limits(sup);
    if (rc == 0)
        fp_log_info(LOG, "health endpoint on %s (port %d)%s", sup->cfg->health.listen,
                    fp_health_port(sup->health),
                    sup->ui == NULL ? "" : "; status page at /");
    return rc;
}
