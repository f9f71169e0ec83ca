/* ui.c: the status page on the health listener (docs/ui.md): its files
 * (embedded at build time), the JSON it polls (/api/ui), and the tick that
 * feeds the charts' ring once a second. Everything here runs on the loop
 * and reads only what the supervisor already holds; what needs Redis or the
 * ledger is read off the loop thread (ui_work.c) while someone watches, and
 * served from the last read. */
#include "supervisor/ui_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/log.h"
#include "base/os.h"
#include "http/ui_assets.h"
#include "http/ui_json.h"
#include "supervisor/restart.h"

#define LOG "ui"
/* The charts draw 360 buckets: a second each while the ring holds at most
 * that many (a young daemon's last six minutes), then ten seconds (the hour). */
#define SERIES_POINTS 360

/* ---- files -------------------------------------------------------------- */

static int serve_asset(const char *path, fp_buf_t *body, const char **content_type)
{
    const fp_ui_asset_t *a = fp_ui_asset_find(path);
    if (a == NULL)
        return 404;
    *content_type = fp_ui_asset_type(a);
    return fp_buf_append(body, (const char *)a->data, a->len) < 0 ? 500 : 200;
}

static int route_index(void *ctx, fp_buf_t *body, const char **content_type)
{
    (void)ctx;
    return serve_asset("/index.html", body, content_type);
}

static int route_css(void *ctx, fp_buf_t *body, const char **content_type)
{
    (void)ctx;
    return serve_asset("/app.css", body, content_type);
}

static int route_js(void *ctx, fp_buf_t *body, const char **content_type)
{
    (void)ctx;
    return serve_asset("/app.js", body, content_type);
}

/* ---- the page's JSON ------------------------------------------------------ */

static cJSON *restart_json(const fp_sup_ui_t *ui, int slot_id)
{
    if (slot_id < 0 || (size_t)slot_id >= ui->nrestarts || ui->restarts[slot_id].count == 0)
        return NULL;
    const ui_restart_t *r = &ui->restarts[slot_id];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "count", (double)r->count);
    cJSON_AddStringToObject(o, "reason", fp_metrics_restart_name(r->reason));
    cJSON_AddNumberToObject(o, "at", (double)r->at_ms);
    return o;
}

/* /stats' view of the child, with its age and its slot's restarts. */
static cJSON *child_json(const fp_sup_ui_t *ui, const fp_slot_t *slot, int64_t now_ms)
{
    cJSON *c = fp_sup_child_json(slot);
    cJSON_AddNumberToObject(c, "up_ms", (double)(now_ms - slot->started_at_ms));
    cJSON *restarts = restart_json(ui, slot->id);
    if (restarts != NULL)
        cJSON_AddItemToObject(c, "restarts", restarts);
    return c;
}

static void add_rate(cJSON *o, const char *key, double rate)
{
    if (rate < 0)
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddNumberToObject(o, key, rate);
}

static cJSON *queue_json(const char *name, const ui_queue_t *q)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "name", fp_json_text(name));
    cJSON_AddBoolToObject(o, "known", q->known);
    if (!q->known)
        return o;
    cJSON_AddNumberToObject(o, "ready", (double)q->ready);
    cJSON_AddNumberToObject(o, "pending", (double)q->pending);
    cJSON_AddNumberToObject(o, "delayed", (double)q->delayed);
    cJSON_AddNumberToObject(o, "dead", (double)q->dead);
    cJSON_AddNumberToObject(o, "oldest_ready_ms", (double)q->oldest_age_ms);
    add_rate(o, "in_per_s", q->in_rate);
    add_rate(o, "out_per_s", q->out_rate);
    return o;
}

static const char *sup_state_name(const fp_supervisor_t *sup)
{
    if (sup->state != SUP_RUNNING)
        return "draining";
    return sup->quiet ? "quiet" : "running";
}

static void add_daemon(cJSON *doc, const fp_supervisor_t *sup)
{
    cJSON *d = cJSON_AddObjectToObject(doc, "daemon");
    cJSON_AddItemToObject(d, "name", fp_json_text(sup->cfg->daemon.name));
    cJSON_AddItemToObject(d, "id", fp_json_text(sup->heartbeat.id));
    cJSON_AddStringToObject(d, "version", FP_VERSION);
    cJSON_AddStringToObject(d, "state", sup_state_name(sup));
    cJSON_AddNumberToObject(d, "uptime_ms", (double)(fp_os_now_ms() - sup->counters.start_ms));
    cJSON_AddBoolToObject(d, "redis_connected", sup->redis.ready);
    cJSON_AddStringToObject(d, "queue",
                            sup->cfg->queue.backend == FP_BACKEND_SQLITE ? "sqlite" : "redis");
    cJSON_AddNumberToObject(d, "children_target", (double)sup->pool.target);
    cJSON *c = cJSON_AddObjectToObject(doc, "counters");
    cJSON_AddNumberToObject(c, "jobs_ok", (double)sup->counters.jobs_ok);
    cJSON_AddNumberToObject(c, "jobs_failed", (double)sup->counters.jobs_failed);
    cJSON_AddNumberToObject(c, "jobs_retried", (double)sup->counters.jobs_retried);
    cJSON_AddNumberToObject(c, "jobs_held", (double)sup->held.count);
}

/* A cached array, copied into the answer (the cache outlives it). */
static void add_copy(cJSON *doc, const char *key, const cJSON *v)
{
    cJSON *copy = v != NULL ? cJSON_Duplicate(v, true) : NULL;
    if (copy != NULL)
        cJSON_AddItemToObject(doc, key, copy);
    else
        cJSON_AddNullToObject(doc, key);
}

static cJSON *state_json(fp_sup_ui_t *ui)
{
    fp_supervisor_t *sup = ui->sup;
    cJSON *doc = cJSON_CreateObject();
    add_daemon(doc, sup);
    cJSON_AddBoolToObject(doc, "actions", ui->action_routes);
    int64_t now = fp_os_now_ms();
    cJSON *children = cJSON_AddArrayToObject(doc, "children");
    for (size_t i = 0; i < sup->pool.capacity; i++)
        if (sup->pool.slots[i]->state != FP_CHILD_FREE)
            cJSON_AddItemToArray(children, child_json(ui, sup->pool.slots[i], now));
    cJSON *queues = cJSON_AddArrayToObject(doc, "queues");
    for (size_t i = 0; i < sup->redis.nnames; i++)
        cJSON_AddItemToArray(queues, queue_json(sup->redis.names[i], &ui->queues[i]));
    cJSON *fleet = fp_sup_fleet_json(sup);
    if (fleet != NULL)
        cJSON_AddItemToObject(doc, "fleet", fleet);
    size_t step = ui->series.count <= SERIES_POINTS ? 1 : FP_UI_SERIES_SECONDS / SERIES_POINTS;
    cJSON_AddItemToObject(doc, "series", fp_ui_series_json(&ui->series, step));
    add_copy(doc, "dead", ui->dead);
    add_copy(doc, "failures", ui->failures);
    cJSON_AddBoolToObject(doc, "ledger", ui->conf.ledger_path != NULL);
    cJSON_AddStringToObject(doc, "data_error", ui->data_error);
    cJSON_AddNumberToObject(doc, "data_at", (double)ui->data_at_ms);
    add_copy(doc, "last_action", ui->last_action);
    return doc;
}

static int route_state(void *ctx, fp_buf_t *body, const char **content_type)
{
    fp_supervisor_t *sup = ctx;
    fp_sup_ui_t *ui = sup->ui;
    /* A poll after a quiet spell re-reads at once rather than a tick later. */
    bool was_idle = ui->viewed_ms == 0 || fp_os_now_ms() - ui->viewed_ms > FP_UI_WATCH_MS;
    ui->viewed_ms = fp_os_now_ms();
    if (was_idle)
        fp_sup_ui_refresh(ui);
    int rc = fp_sup_respond_json(state_json(ui), body, content_type);
    return rc != 0 ? rc : 200;
}

/* ---- samples ----------------------------------------------------------------- */

void fp_sup_ui_queue_sample(fp_supervisor_t *sup, uint32_t queue, const fp_admin_queue_stats_t *st)
{
    fp_sup_ui_t *ui = sup->ui;
    if (ui == NULL || queue >= sup->redis.nnames || st == NULL)
        return;
    ui_queue_t *q = &ui->queues[queue], was = *q;
    int64_t now = fp_os_now_ms();
    *q = (ui_queue_t){true, st->ready, st->pending, st->delayed, st->dead, st->oldest_age_ms,
                      st->entries_added, st->entries_read, now, -1.0, -1.0};
    if (was.known) {
        q->in_rate = fp_ui_rate(was.added, was.at_ms, q->added, now);
        q->out_rate = fp_ui_rate(was.read, was.at_ms, q->read, now);
        /* Samples closer than a second apart (the metrics timer's and the
         * page's) would give jumpy rates: keep the older base then. */
        if (now - was.at_ms < 1000) {
            q->in_rate = was.in_rate;
            q->out_rate = was.out_rate;
            q->added = was.added;
            q->read = was.read;
            q->at_ms = was.at_ms;
        }
    }
}

void fp_sup_ui_child_restart(fp_supervisor_t *sup, int slot_id, fp_metrics_restart_t reason)
{
    fp_sup_ui_t *ui = sup->ui;
    if (ui == NULL || slot_id < 0)
        return;
    if ((size_t)slot_id >= ui->nrestarts) {
        size_t n = (size_t)slot_id + 1;
        ui_restart_t *grown = realloc(ui->restarts, n * sizeof *grown);
        if (grown == NULL)
            return; /* the page misses one restart; the metric has it */
        memset(grown + ui->nrestarts, 0, (n - ui->nrestarts) * sizeof *grown);
        ui->restarts = grown;
        ui->nrestarts = n;
    }
    ui_restart_t *r = &ui->restarts[slot_id];
    r->count++;
    r->reason = reason;
    r->at_ms = fp_os_unix_ms();
}

static int64_t ready_total(const fp_sup_ui_t *ui, size_t n)
{
    int64_t total = 0;
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        if (ui->queues[i].known) {
            total += ui->queues[i].ready;
            any = true;
        }
    }
    return any ? total : -1;
}

/* Once a second: a sample for the charts; while someone watches, fresh
 * depths, and every FP_UI_REFRESH_MS a re-read of dead letters and failures. */
static void on_tick(uv_timer_t *timer)
{
    fp_sup_ui_t *ui = timer->data;
    fp_supervisor_t *sup = ui->sup;
    int64_t now = fp_os_now_ms();
    fp_ui_series_record(&ui->series, now / 1000, sup->counters.jobs_ok, sup->counters.jobs_failed,
                        ready_total(ui, sup->redis.nnames));
    if (ui->viewed_ms == 0 || now - ui->viewed_ms > FP_UI_WATCH_MS)
        return;
    if (sup->redis.queue != NULL && !sup->redis.closed)
        fp_qmux_sample(sup->redis.queue, fp_sup_on_queue_sample, sup);
    if (now - ui->refreshed_ms >= FP_UI_REFRESH_MS - 100) /* ticks are not exact */
        fp_sup_ui_refresh(ui);
}

/* ---- start and stop ----------------------------------------------------------- */

size_t fp_sup_ui_routes(fp_supervisor_t *sup, fp_health_route_t *out, size_t cap)
{
    static const fp_health_route_t pages[] = {
        {.path = "/", .fn = route_index, .headers = FP_UI_HEADERS},
        {.path = "/app.css", .fn = route_css, .headers = FP_UI_HEADERS},
        {.path = "/app.js", .fn = route_js, .headers = FP_UI_HEADERS},
        {.path = "/api/ui", .fn = route_state, .headers = FP_UI_HEADERS},
    };
    static const fp_health_route_t actions[] = {
        {.path = "/api/ui/retry", .post = fp_sup_ui_post_retry, .headers = FP_UI_HEADERS},
        {.path = "/api/ui/retry-all", .post = fp_sup_ui_post_retry_all, .headers = FP_UI_HEADERS},
        {.path = "/api/ui/purge", .post = fp_sup_ui_post_purge, .headers = FP_UI_HEADERS},
        {.path = "/api/ui/cancel", .post = fp_sup_ui_post_cancel, .headers = FP_UI_HEADERS},
        {.path = "/api/ui/quiet", .post = fp_sup_ui_post_quiet, .headers = FP_UI_HEADERS},
        {.path = "/api/ui/resume", .post = fp_sup_ui_post_resume, .headers = FP_UI_HEADERS},
    };
    size_t n = 0;
    if (sup->ui == NULL)
        return 0;
    for (size_t i = 0; i < sizeof pages / sizeof pages[0] && n < cap; i++)
        out[n++] = pages[i];
    /* Without a token the action routes do not exist: 404, as health.ui = false. */
    if (sup->ui->conf.admin_token[0] == '\0')
        return n;
    sup->ui->action_routes = true;
    for (size_t i = 0; i < sizeof actions / sizeof actions[0] && n < cap; i++)
        out[n++] = actions[i];
    return n;
}

int fp_sup_ui_start(fp_supervisor_t *sup, fp_err_t *err)
{
    if (!sup->cfg->health.ui || sup->cfg->health.listen[0] == '\0')
        return 0;
    fp_sup_ui_t *ui = calloc(1, sizeof *ui);
    if (ui != NULL)
        ui->queues = calloc(sup->redis.nnames + 1, sizeof *ui->queues);
    if (ui == NULL || ui->queues == NULL ||
        fp_sup_ui_conf_init(&ui->conf, sup->cfg, sup->redis.names, sup->redis.nnames) < 0) {
        if (ui != NULL)
            free(ui->queues);
        free(ui);
        return fp_err_set(err, -ENOMEM, "out of memory");
    }
    ui->sup = sup;
    fp_ui_series_init(&ui->series);
    uv_timer_init(&sup->loop, &ui->tick);
    ui->tick.data = ui;
    uv_timer_start(&ui->tick, on_tick, 1000, 1000);
    sup->ui = ui;
    return 0;
}

void fp_sup_ui_close(fp_supervisor_t *sup)
{
    if (sup->ui != NULL)
        fp_sup_close_handle((uv_handle_t *)&sup->ui->tick);
}

void fp_sup_ui_free(fp_supervisor_t *sup)
{
    fp_sup_ui_t *ui = sup->ui;
    if (ui == NULL)
        return;
    cJSON_Delete(ui->dead);
    cJSON_Delete(ui->failures);
    cJSON_Delete(ui->last_action);
    fp_sup_ui_conf_free(&ui->conf);
    free(ui->queues);
    free(ui->restarts);
    free(ui);
    sup->ui = NULL;
}
