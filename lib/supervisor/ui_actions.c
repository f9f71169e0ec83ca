/* ui_actions.c: the status page's actions (docs/ui.md): POST routes that
 * exist only when health.admin_token is set and answer 403 to a request
 * without it. Quiet and resume act on the loop at once (200); retry, retry
 * all, purge and cancel need the queue (Redis or the embedded queue's file),
 * so they run on libuv's thread pool with the same blocking calls as
 * `forkpool dead` and `forkpool cancel`, and are
 * answered 202 at once: the outcome is logged and shown in the page's next
 * poll (last_action). Every action is logged with the client's address. */
#include "supervisor/ui_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/os.h"
#include "base/json.h"
#include "http/ui_auth.h"
#include "http/ui_query.h"
#include "queue/cancel.h"
#include "queue/dead_fresh.h"
#include "queue/dead_src.h"

#define LOG "ui"

/* ---- off the loop thread ------------------------------------------------------ */

typedef struct action_s {
    uv_work_t req;
    fp_sup_ui_t *ui;
    const ui_conf_t *conf;
    ui_action_kind_t kind;
    char *queue, *id;
    char peer[96];
    bool ok;
    char result[FP_ERR_MSG_MAX + 64];
} action_t;

static const char *action_name(ui_action_kind_t k)
{
    switch (k) {
    case UI_RETRY: return "retry";
    case UI_RETRY_ALL: return "retry-all";
    case UI_PURGE: return "purge";
    default: return "cancel";
    }
}

/* Entries whose payload would only die again are left dead, as `forkpool
 * dead retry` leaves them without --force. */
static int requeue(const fp_dead_src_t *src, const ui_conf_t *conf, const char *queue,
                   const fp_dead_entry_t *e, size_t n, size_t *moved, size_t *skipped,
                   fp_err_t *err)
{
    return fp_dead_src_retry(src, (size_t)conf->cfg->limits.max_job_bytes, queue, e, n, false,
                             NULL, moved, skipped, err);
}

static int do_retry_one(const fp_dead_src_t *a, action_t *w, fp_err_t *err)
{
    fp_dead_entry_t *e = NULL;
    size_t n = 0, moved = 0, skipped = 0;
    int rc = fp_dead_src_get(a, w->queue, w->id, &e, &n, err);
    if (rc == 0 && n == 1)
        rc = requeue(a, w->conf, w->queue, e, n, &moved, &skipped, err);
    fp_admin_dead_free(e, n);
    if (rc == 0)
        snprintf(w->result, sizeof w->result, "%s", moved == 1     ? "retried"
                                                  : skipped == 1 ? "not retried: invalid payload"
                                                                 : "not found (already moved?)");
    w->ok = rc == 0 && moved == 1;
    return rc;
}

/* Every entry up to the newest at the start, a batch at a time: entries
 * that die meanwhile are left for the next run. */
static int do_walk(const fp_dead_src_t *a, action_t *w, fp_err_t *err)
{
    char last[64], cursor[64] = "";
    size_t moved = 0, skipped = 0, deleted = 0;
    int rc = fp_dead_src_last_id(a, w->queue, last, sizeof last, err);
    while (rc == 0 && last[0] != '\0') {
        fp_dead_entry_t *e = NULL;
        size_t n = 0;
        rc = fp_dead_src_read(a, w->queue, cursor[0] != '\0' ? cursor : NULL, last,
                              FP_ADMIN_DEAD_BATCH, &e, &n, err);
        if (rc == 0 && n > 0) {
            snprintf(cursor, sizeof cursor, "%s", e[n - 1].id);
            if (w->kind == UI_RETRY_ALL) {
                rc = requeue(a, w->conf, w->queue, e, n, &moved, &skipped, err);
            } else {
                const char **ids = calloc(n, sizeof *ids);
                size_t gone = 0;
                for (size_t i = 0; ids != NULL && i < n; i++)
                    ids[i] = e[i].id;
                rc = ids != NULL ? fp_dead_src_delete(a, w->queue, ids, n, &gone, err)
                                 : fp_err_set(err, -ENOMEM, "out of memory");
                deleted += gone;
                free(ids);
            }
        }
        fp_admin_dead_free(e, n);
        if (n < FP_ADMIN_DEAD_BATCH)
            break;
    }
    if (w->kind == UI_RETRY_ALL)
        snprintf(w->result, sizeof w->result, "retried %zu, skipped %zu invalid", moved, skipped);
    else
        snprintf(w->result, sizeof w->result, "purged %zu", deleted);
    w->ok = rc == 0;
    return rc;
}

static int do_cancel(const fp_dead_src_t *src, action_t *w, fp_err_t *err)
{
    if (src->admin == NULL)
        return fp_err_set(err, -ENOTSUP,
                          "cancel needs Redis (the embedded queue has no cancel marks)");
    fp_cancel_reply_t c;
    memset(&c, 0, sizeof c);
    const char *queue = NULL;
    int rc = fp_cancel_in_queues(src->admin, w->conf->cfg, (const char *const *)w->conf->queues,
                                 w->conf->nqueues, w->id, &queue, &c, err);
    w->ok = rc == 0 && queue != NULL && c.result == FP_CANCEL_DONE;
    if (rc == 0)
        snprintf(w->result, sizeof w->result, "%s",
                 queue == NULL                   ? "not found"
                 : c.result == FP_CANCEL_DONE    ? "cancelled (now a dead letter)"
                 : c.result == FP_CANCEL_RUNNING ? "running: marked, its daemon stops it"
                                                 : "already dead");
    fp_cancel_reply_clear(&c);
    return rc;
}

static void action_work(uv_work_t *req)
{
    action_t *w = req->data;
    fp_dead_src_t src = {0};
    fp_err_t err;
    fp_err_clear(&err);
    fp_sup_ui_store_lock(w->conf, true);
    int rc = fp_dead_src_open(w->conf->cfg, &src, &err);
    if (rc == 0) {
        switch (w->kind) {
        case UI_RETRY: rc = do_retry_one(&src, w, &err); break;
        case UI_CANCEL: rc = do_cancel(&src, w, &err); break;
        default: rc = do_walk(&src, w, &err); break;
        }
    }
    fp_dead_src_close(&src);
    fp_sup_ui_store_lock(w->conf, false);
    if (rc < 0) {
        w->ok = false;
        snprintf(w->result, sizeof w->result, "failed: %s", err.msg);
    }
}

static void action_done(uv_work_t *req, int status)
{
    action_t *w = req->data;
    fp_sup_ui_t *ui = w->ui;
    ui->actions_running--;
    if (status != 0)
        snprintf(w->result, sizeof w->result, "not run");
    fp_log_info(LOG, "%s %s%s%s from %s: %s", action_name(w->kind), w->queue ? w->queue : "",
                w->id ? " " : "", w->id ? w->id : "", w->peer, w->result);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "action", action_name(w->kind));
    cJSON_AddBoolToObject(o, "ok", w->ok && status == 0);
    cJSON_AddItemToObject(o, "result", fp_json_text(w->result));
    cJSON_AddNumberToObject(o, "at", (double)fp_os_unix_ms());
    cJSON_Delete(ui->last_action);
    ui->last_action = o;
    fp_sup_ui_refresh(ui); /* the lists show what changed at the next poll */
    free(w->queue);
    free(w->id);
    free(w);
}

int fp_sup_ui_run_action(fp_sup_ui_t *ui, ui_action_kind_t kind, const char *queue,
                         const char *id, const char *peer)
{
    action_t *w = calloc(1, sizeof *w);
    if (w == NULL)
        return -ENOMEM;
    *w = (action_t){.ui = ui, .conf = &ui->conf, .kind = kind};
    w->req.data = w;
    snprintf(w->peer, sizeof w->peer, "%s", peer);
    w->queue = queue != NULL ? strdup(queue) : NULL;
    w->id = id != NULL ? strdup(id) : NULL;
    int rc = (queue != NULL && w->queue == NULL) || (id != NULL && w->id == NULL) ? -ENOMEM : 0;
    if (rc == 0)
        rc = uv_queue_work(&ui->sup->loop, &w->req, action_work, action_done);
    if (rc < 0) {
        free(w->queue);
        free(w->id);
        free(w);
        return rc;
    }
    ui->actions_running++;
    return 0;
}

/* ---- the routes ------------------------------------------------------------------ */

static int answer(fp_buf_t *body, const char **ct, int status, const char *key, const char *text)
{
    *ct = "application/json";
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, key, fp_json_text(text));
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (s == NULL)
        return 500;
    fp_buf_append(body, s, strlen(s));
    fp_buf_append(body, "\n", 1);
    cJSON_free(s);
    return status;
}

/* The token check every action passes first: 0, or the answer's status
 * (403 logged with the client). The token is the one the daemon started
 * with (a reload does not change it). */
static int gate(fp_supervisor_t *sup, const char *what, const fp_health_req_t *req,
                fp_buf_t *body, const char **ct)
{
    int verdict = fp_ui_token_verdict(sup->ui->conf.admin_token, req->token);
    if (verdict == 404)
        return answer(body, ct, 404, "error", "actions are off (no health.admin_token)");
    if (verdict == 403) {
        fp_log_warn(LOG, "%s refused from %s: %s", what, req->peer,
                    req->token == NULL ? "no token" : "wrong token");
        return answer(body, ct, 403, "error",
                      req->token == NULL ? "this action needs the admin token (" FP_HEALTH_TOKEN_HEADER
                                           " header)"
                                         : "wrong admin token");
    }
    return 0;
}

/* The queue argument, when it names a queue this daemon serves. */
static bool served_queue(const fp_supervisor_t *sup, const fp_health_req_t *req, char *out,
                         size_t cap)
{
    if (!fp_ui_query_get(req->query, "queue", out, cap))
        return false;
    for (size_t i = 0; i < sup->redis.nnames; i++)
        if (strcmp(sup->redis.names[i], out) == 0)
            return true;
    return false;
}

/* Gate, arguments, then the work: 202 once queued. */
static int start_action(void *ctx, ui_action_kind_t kind, bool needs_queue, bool needs_id,
                        const fp_health_req_t *req, fp_buf_t *body, const char **ct)
{
    fp_supervisor_t *sup = ctx;
    int rc = gate(sup, action_name(kind), req, body, ct);
    if (rc != 0)
        return rc;
    char queue[256], id[256];
    if (needs_queue && !served_queue(sup, req, queue, sizeof queue))
        return answer(body, ct, 400, "error", "queue= must name a queue this daemon serves");
    if (needs_id && (!fp_ui_query_get(req->query, "id", id, sizeof id) || id[0] == '\0'))
        return answer(body, ct, 400, "error", "id= is missing or invalid");
    if (sup->ui->actions_running >= FP_UI_ACTIONS_MAX)
        return answer(body, ct, 503, "error", "too many actions running; try again");
    fp_log_info(LOG, "%s %s%s%s requested from %s", action_name(kind), needs_queue ? queue : "",
                needs_id ? " " : "", needs_id ? id : "", req->peer);
    if (fp_sup_ui_run_action(sup->ui, kind, needs_queue ? queue : NULL, needs_id ? id : NULL,
                             req->peer) < 0)
        return answer(body, ct, 500, "error", "could not start the action");
    return answer(body, ct, 202, "accepted", action_name(kind));
}

int fp_sup_ui_post_retry(void *ctx, const fp_health_req_t *req, fp_buf_t *body, const char **ct)
{
    return start_action(ctx, UI_RETRY, true, true, req, body, ct);
}

int fp_sup_ui_post_retry_all(void *ctx, const fp_health_req_t *req, fp_buf_t *body,
                             const char **ct)
{
    return start_action(ctx, UI_RETRY_ALL, true, false, req, body, ct);
}

int fp_sup_ui_post_purge(void *ctx, const fp_health_req_t *req, fp_buf_t *body, const char **ct)
{
    return start_action(ctx, UI_PURGE, true, false, req, body, ct);
}

int fp_sup_ui_post_cancel(void *ctx, const fp_health_req_t *req, fp_buf_t *body, const char **ct)
{
    return start_action(ctx, UI_CANCEL, false, true, req, body, ct);
}

/* Quiet is SIGTSTP's: no more pulls, running and held jobs finish; resume
 * undoes it (the signal has no way back). */
static int set_quiet(void *ctx, bool quiet, const fp_health_req_t *req, fp_buf_t *body,
                     const char **ct)
{
    fp_supervisor_t *sup = ctx;
    const char *what = quiet ? "quiet" : "resume";
    int rc = gate(sup, what, req, body, ct);
    if (rc != 0)
        return rc;
    if (sup->state != SUP_RUNNING)
        return answer(body, ct, 409, "error", "the daemon is stopping");
    sup->quiet = quiet;
    fp_sup_update_want(sup);
    fp_log_info(LOG, "%s from %s: %s", what, req->peer,
                quiet ? "no more pulls; held jobs finish" : "pulling again");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "action", what);
    cJSON_AddBoolToObject(o, "ok", true);
    cJSON_AddStringToObject(o, "result", quiet ? "quiet" : "running");
    cJSON_AddNumberToObject(o, "at", (double)fp_os_unix_ms());
    cJSON_Delete(sup->ui->last_action);
    sup->ui->last_action = o;
    return answer(body, ct, 200, "state", quiet ? "quiet" : "running");
}

int fp_sup_ui_post_quiet(void *ctx, const fp_health_req_t *req, fp_buf_t *body, const char **ct)
{
    return set_quiet(ctx, true, req, body, ct);
}

int fp_sup_ui_post_resume(void *ctx, const fp_health_req_t *req, fp_buf_t *body, const char **ct)
{
    return set_quiet(ctx, false, req, body, ct);
}
