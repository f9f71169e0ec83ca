/* unique_take.c: the daemon's side of unique jobs (queue/unique.h). When an
 * entry whose payload mentions "unique" is handed over, its held-set slot is
 * marked, so that its success or dead outcome goes out as the releasing kind
 * (k, x) and frees the key in the outcome's own atomic step. The mark does
 * not wait for a successful parse: a payload the daemon refuses goes dead,
 * and its dead outcome must still release the key its producer set (the
 * script compares ids, so a payload without a usable one releases nothing).
 * A job with "until": "start" has its key released when a child starts it
 * (fp_queue_started), by a compare-and-delete of its own; not at hand-over,
 * since a handed-over job can go back to the stream unstarted (a put-back at
 * drain) and must keep its key while it waits. If that call is lost with the
 * connection, the outcome's release (or the TTL) still frees the key. */
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

void fp_queue_started(fp_queue_t *q, uint32_t queue, const fp_job_t *job)
{
    if (q == NULL || job->unique_key == NULL || job->unique_until != FP_UNIQUE_START ||
        queue >= q->n || q->life.closing)
        return;
    if (!q->conn.writer_up) {
        fp_log_warn(LOG, "could not release unique key %s of job %s at start (Redis is down): "
                    "its outcome or its TTL will", job->unique_key, job->id);
        return;
    }
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
    /* Most payloads have no "unique": a byte search spares them the mark. A
     * false match (the word in an argument) only costs the outcome a
     * decode that releases nothing. */
    static const char needle[] = "\"unique\"";
    uint64_t ms, seq;
    if (p->payload == NULL ||
        memmem(p->payload, p->payload_len, needle, sizeof needle - 1) == NULL ||
        !fp_stream_id_parse(p->entry_id, strlen(p->entry_id), &ms, &seq))
        return;
    fp_held_entry_t *slot = fp_held_set_get(&q->held, p->queue, ms, seq);
    if (slot != NULL)
        slot->used |= FP_ENTRY_UNIQUE;
}
