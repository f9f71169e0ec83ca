/* drained.c: --burst's question "is there anything left?": per queue, one
 * script call saying whether ready, pending (any consumer) and the retries
 * this daemon scheduled since fp_queue_track_retries (its marks) are all
 * gone from Redis. */
#include "queue/queue_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

typedef struct drained_req_s {
    struct fp_queue_s *q;
    void (*cb)(void *ctx, bool drained);
    void *ctx;
    size_t left;
    bool drained;
} drained_req_t;

typedef struct drained_item_s {
    drained_req_t *req;
    uint32_t queue;
    bool tried_eval;
    size_t marks_sent;    /* the first marks_sent marks went with the call */
    unsigned marks_gen;   /* their positions then */
} drained_item_t;

/* Remembers a retry's delayed member for --burst. */
void fp_q_mark_retry(fp_queue_t *q, uint32_t queue, const char *payload, size_t len)
{
    fp_qstate_t *qs = &q->qs[queue];
    if (qs->marks_n == qs->marks_cap) {
        size_t cap = qs->marks_cap > 0 ? qs->marks_cap * 2 : 16;
        fp_retry_mark_t *grown = realloc(qs->marks, cap * sizeof *grown);
        if (grown == NULL)
            goto oom;
        qs->marks = grown;
        qs->marks_cap = cap;
    }
    char *copy = malloc(len > 0 ? len : 1);
    if (copy == NULL)
        goto oom;
    memcpy(copy, payload, len);
    qs->marks[qs->marks_n++] = (fp_retry_mark_t){copy, len};
    return;
oom:
    fp_log_error(LOG, "out of memory remembering a retry; --burst will not exit on its own");
    q->drained.marks_lost = true;
}
void fp_queue_track_retries(fp_queue_t *q)
{
    q->drained.track_retries = true;
}


/* ---- drained ------------------------------------------------------------- */

static void drained_item_done(drained_item_t *item, bool drained)
{
    drained_req_t *req = item->req;
    free(item);
    req->drained &= drained;
    if (--req->left > 0)
        return;
    req->cb(req->ctx, req->drained);
    free(req);
}

static int send_drained(fp_queue_t *q, drained_item_t *item);

/* With nothing pending in the queue, a retry no longer in the delayed set
 * has been moved back to the stream (where ready and pending now cover it)
 * or is gone: only the marks still waiting are kept. While entries are
 * pending, an absent mark may be an outcome not applied yet: all stay. */
static void prune_marks(fp_queue_t *q, const drained_item_t *item, const redisReply *waiting)
{
    fp_qstate_t *qs = &q->qs[item->queue];
    if (item->marks_gen != qs->marks_gen || item->marks_sent > qs->marks_n)
        return;
    size_t kept = 0, w = 0;
    for (size_t i = 0; i < qs->marks_n; i++) {
        bool still = i >= item->marks_sent;
        while (!still && w < waiting->elements &&
               waiting->element[w]->type == REDIS_REPLY_INTEGER &&
               waiting->element[w]->integer <= (long long)i + 1) {
            still = waiting->element[w]->integer == (long long)i + 1;
            w++;
        }
        if (still)
            qs->marks[kept++] = qs->marks[i];
        else
            free(qs->marks[i].member);
    }
    qs->marks_n = kept;
    qs->marks_gen++;
}

/* {pending, ready, waiting}: drained when all three are nothing. */
static bool drained_reply(fp_queue_t *q, const drained_item_t *item, const redisReply *r)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_INTEGER ||
        r->element[1]->type != REDIS_REPLY_INTEGER || r->element[2]->type != REDIS_REPLY_ARRAY)
        return false;
    if (r->element[0]->integer == 0)
        prune_marks(q, item, r->element[2]);
    return r->element[0]->integer == 0 && r->element[1]->integer == 0 &&
           r->element[2]->elements == 0 && !q->drained.marks_lost;
}

static void on_drained_reply(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    drained_item_t *item = privdata;
    fp_queue_t *q = item->req->q;
    (void)c;
    if (!q->life.closing && fp_q_reply_is_error(r, "NOSCRIPT") && !item->tried_eval) {
        item->tried_eval = true;
        if (send_drained(q, item) == 0)
            return;
    }
    bool drained = !q->life.closing && drained_reply(q, item, r);
    if (r != NULL && r->type == REDIS_REPLY_ERROR && !q->life.closing)
        fp_q_log_error_once(q, "drained check failed", r);
    drained_item_done(item, drained);
}

static int send_drained(fp_queue_t *q, drained_item_t *item)
{
    const fp_qstate_t *qs = &q->qs[item->queue];
    const char *keys[FP_SCRIPT_DRAINED_KEYS] = {qs->jobs_key, qs->delayed_key};
    const char *args[1] = {q->cfg->redis.group};
    fp_resp_reset(&q->drained.marks_args);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < qs->marks_n; i++)
        rc = fp_resp_arg(&q->drained.marks_args, qs->marks[i].member, qs->marks[i].len);
    item->marks_sent = qs->marks_n;
    item->marks_gen = qs->marks_gen;
    if (rc == 0)
        rc = fp_script_command(&q->scratch, item->tried_eval ? NULL : q->scripts.drained_sha,
                               fp_script_drained, keys, FP_SCRIPT_DRAINED_KEYS, args, 1,
                               &q->drained.marks_args);
    if (rc == 0)
        rc = fp_redis_conn_send(q->writer, q->scratch.data, q->scratch.len, 0, on_drained_reply,
                                item);
    return rc;
}

void fp_queue_check_drained(fp_queue_t *q, void (*cb)(void *ctx, bool drained), void *ctx)
{
    drained_req_t *req = calloc(1, sizeof *req);
    if (req == NULL || q->life.closing || !q->conn.writer_up || !q->conn.setup_done) {
        free(req);
        cb(ctx, false); /* unknown is not drained */
        return;
    }
    *req = (drained_req_t){q, cb, ctx, 1, true};
    for (size_t i = 0; i < q->n; i++) {
        drained_item_t *item = calloc(1, sizeof *item);
        if (item == NULL) {
            req->drained = false;
            break;
        }
        *item = (drained_item_t){req, (uint32_t)i, false, 0, 0};
        req->left++;
        if (send_drained(q, item) < 0) {
            req->drained = false;
            req->left--;
            free(item);
            break;
        }
    }
    /* The extra count held the request while sending: release it now. */
    if (--req->left == 0) {
        req->cb(req->ctx, req->drained);
        free(req);
    }
}
