/* ui_work.c: what the status page needs from the queue (Redis or the
 * embedded queue's file) and the ledger, done on libuv's thread pool so that
 * the loop never waits: the newest dead letters of each queue and the newest
 * failures in the ledger (re-read while the page is watched), and the
 * actions (retry, retry all, purge, cancel). The work uses the same blocking
 * calls as `forkpool dead` and `forkpool cancel` (queue/dead_src.h, one
 * short-lived connection per run) and the
 * ledger's read side (`forkpool jobs`: its own read-only connection, which
 * WAL lets read while the writer thread writes, so a poll never delays the
 * writer's batches). Results go back to the loop in the after-work
 * callback; nothing is shared with the loop while a work item runs. */
#include "supervisor/ui_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/log.h"
#include "base/os.h"
#include "http/ui_json.h"
#include "ledger/ledger_query.h"
#include "pool/spawn.h"
#include "queue/cancel.h"
#include "queue/dead_fresh.h"
#include "queue/dead_src.h"

#define LOG "ui"

/* ---- the configuration copy --------------------------------------------------- */

int fp_sup_ui_conf_init(ui_conf_t *conf, const fp_config_t *cfg, const char *const *queues,
                        size_t n)
{
    memset(conf, 0, sizeof *conf);
    conf->cfg = fp_config_copy_keys(cfg);
    conf->payload_max = (size_t)cfg->health.ui_payload_max;
    conf->admin_token = strdup(cfg->health.admin_token);
    if (cfg->ledger.path[0] != '\0')
        conf->ledger_path = strdup(cfg->ledger.path);
    conf->queues = calloc(n + 1, sizeof *conf->queues);
    bool ok = conf->cfg != NULL && conf->queues != NULL && conf->admin_token != NULL &&
              (cfg->ledger.path[0] == '\0' || conf->ledger_path != NULL);
    for (size_t i = 0; ok && i < n; i++, conf->nqueues++)
        ok = (conf->queues[i] = strdup(queues[i])) != NULL;
    if (!ok) {
        fp_sup_ui_conf_free(conf);
        return -ENOMEM;
    }
    return 0;
}

void fp_sup_ui_conf_free(ui_conf_t *conf)
{
    fp_config_free(conf->cfg);
    free(conf->ledger_path);
    free(conf->admin_token);
    for (size_t i = 0; i < conf->nqueues; i++)
        free(conf->queues[i]);
    free(conf->queues);
    memset(conf, 0, sizeof *conf);
}

void fp_sup_ui_store_lock(const ui_conf_t *conf, bool lock)
{
    if (conf->cfg->queue.backend != FP_BACKEND_SQLITE)
        return; /* a Redis connection may wait seconds: forks must not */
    if (lock)
        fp_spawn_fork_lock_read();
    else
        fp_spawn_fork_unlock_read();
}

/* ---- reading: dead letters and failures ------------------------------------------ */

typedef struct refresh_s {
    uv_work_t req;
    fp_sup_ui_t *ui;
    const ui_conf_t *conf; /* the ui's: lives as long as the ui, never changed */
    cJSON *dead, *failures;
    fp_err_t err;
} refresh_t;

/* The newest dead letters of one queue, newest first. */
static int read_dead(const fp_dead_src_t *src, const ui_conf_t *conf, const char *queue,
                     cJSON *out, fp_err_t *err)
{
    fp_dead_entry_t *entries = NULL;
    size_t n = 0;
    int rc = fp_dead_src_newest(src, queue, FP_UI_DEAD_SHOWN, &entries, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        cJSON *item = fp_ui_dead_json(queue, &entries[i], conf->payload_max);
        if (item == NULL)
            rc = fp_err_set(err, -ENOMEM, "out of memory");
        else
            cJSON_AddItemToArray(out, item);
    }
    fp_admin_dead_free(entries, n);
    return rc;
}

/* The failure outcomes shown, each read apart (the query filters on one). */
static const char *const failure_outcomes[] = {"retried", "dead", "timeout", "crashed", "failed"};

typedef struct failures_s {
    cJSON *rows; /* array being filled */
} failures_t;

static int on_failure_row(void *arg, int64_t id, const fp_ledger_row_t *row, fp_err_t *err)
{
    (void)id;
    failures_t *f = arg;
    cJSON *item = fp_ui_failure_json(row);
    if (item == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    cJSON_AddItemToArray(f->rows, item);
    return 0;
}

static double finished_at(const cJSON *row)
{
    return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(row, "finished_at"));
}

static int by_newest(const void *x, const void *y)
{
    double a = finished_at(*(cJSON *const *)x), b = finished_at(*(cJSON *const *)y);
    return a < b ? 1 : a > b ? -1 : 0;
}

/* rows sorted newest first, cut to FP_UI_FAILURES_SHOWN, into a new array. */
static cJSON *newest_rows(cJSON *rows)
{
    size_t n = (size_t)cJSON_GetArraySize(rows), k = 0;
    cJSON **items = calloc(n + 1, sizeof *items);
    cJSON *out = cJSON_CreateArray();
    if (items == NULL || out == NULL) {
        free(items);
        cJSON_Delete(out);
        return NULL;
    }
    while (rows->child != NULL)
        items[k++] = cJSON_DetachItemViaPointer(rows, rows->child);
    qsort(items, k, sizeof *items, by_newest);
    for (size_t i = 0; i < k; i++) {
        if (i < FP_UI_FAILURES_SHOWN)
            cJSON_AddItemToArray(out, items[i]);
        else
            cJSON_Delete(items[i]);
    }
    free(items);
    return out;
}

/* The newest failures of every kind. SQLite runs inside the fork lock's
 * read side, as the ledger's writer does, so a fork never copies a lock it
 * holds. */
static int read_failures(const ui_conf_t *conf, cJSON **out, fp_err_t *err)
{
    failures_t f = {cJSON_CreateArray()};
    if (f.rows == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof failure_outcomes / sizeof failure_outcomes[0]; i++) {
        fp_ledger_filter_t filter = {failure_outcomes[i], NULL, NULL, 0, FP_UI_FAILURES_SHOWN};
        fp_spawn_fork_lock_read();
        rc = fp_ledger_query(conf->ledger_path, &filter, on_failure_row, &f, err);
        fp_spawn_fork_unlock_read();
    }
    if (rc == -ENOENT) { /* no row written yet */
        fp_err_clear(err);
        rc = 0;
    }
    *out = rc == 0 ? newest_rows(f.rows) : NULL;
    cJSON_Delete(f.rows);
    if (rc == 0 && *out == NULL)
        rc = fp_err_set(err, -ENOMEM, "out of memory");
    return rc;
}

static void refresh_work(uv_work_t *req)
{
    refresh_t *w = req->data;
    const ui_conf_t *conf = w->conf;
    fp_dead_src_t src = {0};
    w->dead = cJSON_CreateArray();
    fp_sup_ui_store_lock(conf, true);
    int rc = w->dead != NULL ? fp_dead_src_open(conf->cfg, &src, &w->err)
                             : fp_err_set(&w->err, -ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < conf->nqueues; i++)
        rc = read_dead(&src, conf, conf->queues[i], w->dead, &w->err);
    fp_dead_src_close(&src);
    fp_sup_ui_store_lock(conf, false);
    if (rc < 0) {
        cJSON_Delete(w->dead);
        w->dead = NULL;
    }
    if (conf->ledger_path != NULL) {
        fp_err_t lerr;
        fp_err_clear(&lerr);
        if (read_failures(conf, &w->failures, &lerr) < 0 && rc == 0)
            w->err = lerr;
    }
}

static void refresh_done(uv_work_t *req, int status)
{
    refresh_t *w = req->data;
    fp_sup_ui_t *ui = w->ui;
    ui->refreshing = false;
    if (status == 0 && w->dead != NULL) {
        cJSON_Delete(ui->dead);
        ui->dead = w->dead;
        w->dead = NULL;
    }
    if (status == 0 && w->failures != NULL) {
        cJSON_Delete(ui->failures);
        ui->failures = w->failures;
        w->failures = NULL;
    }
    snprintf(ui->data_error, sizeof ui->data_error, "%s", w->err.msg);
    ui->data_at_ms = fp_os_unix_ms();
    cJSON_Delete(w->dead);
    cJSON_Delete(w->failures);
    free(w);
}

void fp_sup_ui_refresh(fp_sup_ui_t *ui)
{
    if (ui->refreshing || ui->sup->redis.closed)
        return;
    refresh_t *w = calloc(1, sizeof *w);
    if (w == NULL)
        return; /* the next tick tries again */
    w->ui = ui;
    w->conf = &ui->conf;
    w->req.data = w;
    fp_err_clear(&w->err);
    if (uv_queue_work(&ui->sup->loop, &w->req, refresh_work, refresh_done) != 0) {
        free(w);
        return;
    }
    ui->refreshing = true;
    ui->refreshed_ms = fp_os_now_ms();
}
