/* sample.c: each queue's depth (ready, pending, delayed, dead, oldest ready
 * age) for the metrics timer, one read-only script call per queue. */
#include "queue/queue_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "queue/admin.h"
#include "queue/queue_stats.h"

typedef struct sample_s {
    fp_queue_t *q;
    uint32_t queue;
    fp_queue_sample_cb cb;
    void *ctx;
} sample_t;

static void on_sample_reply(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    (void)c;
    sample_t *smp = privdata;
    fp_admin_queue_stats_t stats;
    memset(&stats, 0, sizeof stats);
    bool ok = r != NULL && r->type == REDIS_REPLY_ARRAY && fp_queue_stats_parse(r, &stats) == 0;
    if (!smp->q->life.closing)
        smp->cb(smp->ctx, smp->queue, ok ? &stats : NULL);
    fp_admin_queue_stats_clear(&stats);
    free(smp);
}

void fp_queue_sample(fp_queue_t *q, fp_queue_sample_cb cb, void *ctx)
{
    if (q->life.closing || !q->conn.ready || !q->conn.writer_up)
        return;
    char cap[24], page[24];
    snprintf(cap, sizeof cap, "%d", FP_ADMIN_READY_COUNT_MAX);
    snprintf(page, sizeof page, "%d", FP_QUEUE_STATS_PAGE);
    for (size_t i = 0; i < q->n; i++) {
        sample_t *smp = malloc(sizeof *smp);
        if (smp == NULL)
            return;
        *smp = (sample_t){q, (uint32_t)i, cb, ctx};
        const char *keys[3] = {q->qs[i].jobs_key, q->qs[i].delayed_key, q->qs[i].dead_key};
        const char *args[3] = {q->cfg->redis.group, cap, page};
        /* Every few seconds only: plain EVAL, no script cache to manage. */
        int rc = fp_script_command(&q->scratch, NULL, fp_queue_stats_script, keys, 3, args, 3, NULL);
        if (rc == 0)
            rc = fp_redis_conn_send(q->writer, q->scratch.data, q->scratch.len, 0, on_sample_reply,
                                    smp);
        if (rc < 0)
            free(smp);
    }
}
