/* unique_take.c: the daemon's side of unique jobs (queue/unique.h). When an
 * entry whose payload has a "unique" member is handed over, its held-set slot is
 * marked, so that its success or dead outcome goes out as the releasing kind
 * (k, x) and frees the key in the outcome's own atomic step. A job with
 * "until": "start" has its key released as soon as it is handed over, by a
 * compare-and-delete of its own; if that call is lost with the connection,
 * the outcome's release (or the TTL) still frees the key. */
#include "queue/queue_internal.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "dispatch/job.h"
#include "queue/unique.h"

static void on_released(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    fp_queue_t *q = privdata;
    (void)c;
    if (r != NULL && r->type == REDIS_REPLY_ERROR && !q->life.closing)
        fp_q_log_error_once(q, "releasing a unique key at start failed", r);
}

static void release_at_start(fp_queue_t *q, uint32_t queue, const fp_job_t *job)
{
    char *key = fp_unique_key(q->cfg->redis.prefix, q->qs[queue].name, job->unique_key);
    fp_script_t script = {fp_script_unique_release, "releasing a unique key", "", true};
    const char *keys[1] = {key};
    const char *args[1] = {job->id};
    if (key == NULL || fp_q_send_script(q, &script, keys, 1, args, 1, NULL, on_released, q) < 0)
        fp_log_warn(LOG, "could not release unique key %s of job %s at start: its outcome "
                    "or its TTL will", job->unique_key, job->id);
    free(key);
}

void fp_q_unique_taken(fp_queue_t *q, const fp_pulled_t *p)
{
    /* Most payloads have no "unique": a byte search spares them a JSON parse. */
    static const char needle[] = "\"unique\"";
    uint64_t ms, seq;
    if (p->payload == NULL ||
        memmem(p->payload, p->payload_len, needle, sizeof needle - 1) == NULL ||
        !fp_stream_id_parse(p->entry_id, strlen(p->entry_id), &ms, &seq))
        return;
    fp_job_t job;
    fp_err_t why;
    size_t max = q->cfg->limits.max_job_bytes > 0 ? (size_t)q->cfg->limits.max_job_bytes
                                                  : p->payload_len;
    if (fp_job_parse(p->payload, p->payload_len, max, &job, &why) < 0)
        return; /* goes to dead for its reason; its key runs out with its TTL */
    uint32_t queue = p->queue;
    fp_held_entry_t *slot = fp_held_set_get(&q->held, queue, ms, seq);
    if (job.unique_key != NULL && slot != NULL)
        slot->used |= FP_ENTRY_UNIQUE;
    if (job.unique_until == FP_UNIQUE_START && q->conn.writer_up)
        release_at_start(q, queue, &job);
    fp_job_clear(&job);
}
