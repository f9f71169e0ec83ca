/* pump.c: the read pump, the I/O glue around the read planner
 * (read_plan.h): one read at a time holds the read slot (history re-reads
 * and take-over calls on the writer, XREADGROUP on the reader, or on the
 * writer right behind an outcome batch), its reply moves the history cursor
 * or the plan, and CLIENT UNBLOCK ends a blocking
 * read the room no longer covers. Delivery counts: 1 for XREADGROUP ">",
 * the history script's count for history pages (XPENDING's counter, + 1 for
 * entries this process had not seen yet), XPENDING's counter + 1 inside the
 * take-over script for claims. */
#include "queue/queue_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/os.h"

#define BLOCK_MS 2000           /* one blocking read, re-issued while idle */
#define HISTORY_PAGE_MAX 1000

/* A read answered with an error: NOGROUP means the group (or the stream) is
 * gone, e.g. Redis restarted empty: set up again. Anything else (LOADING,
 * BUSY...) is retried later; it is never a job failure. */
void fp_q_read_failed(fp_queue_t *q, const redisReply *r, const char *what)
{
    if (fp_q_reply_is_error(r, "NOGROUP")) {
        snprintf(q->conn.down_reason, sizeof q->conn.down_reason, "consumer group missing (%.*s)",
                 (int)(r->len > 120 ? 120 : r->len), r->str);
        fp_q_setup_again(q);
        return;
    }
    fp_q_log_error_once(q, what, r);
    fp_q_arm_retry(q);
}

/* A read's entries (XREADGROUP's answer): moves the history cursor or the
 * sweep, then hands them over. The next read starts from the prepare
 * callback, once this loop turn's outcomes are in, so that they can go out
 * right before it. */
void fp_q_read_done(fp_queue_t *q, const redisReply *r)
{
    fp_read_step_kind_t kind = q->rd.kind;
    q->rd.last_id[0] = '\0';
    long got = fp_q_take_reply(q, r, kind);
    if (got < 0) {
        /* Whatever was taken is handed over; the rest is found again by the
         * history read. */
        fp_log_error(LOG, "unexpected XREADGROUP reply (type %d)", r->type);
        fp_q_all_history(q);
        fp_q_hand_over(q);
        fp_q_arm_retry(q);
        return;
    }
    fp_q_retry_reset(q);
    if (kind == FP_READ_SWEEP) {
        q->stats.read_rtt_us = fp_os_now_us() - q->rd.sent_us;
        q->stats.read_rtt_samples++;
    }
    fp_read_plan_done(&q->plan, kind, q->rd.queue, q->rd.count, (size_t)got);
    fp_q_hand_over(q);
}

static void on_read_reply(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    fp_queue_t *q = privdata;
    (void)c;
    q->rd.in_flight = false;
    if (q->life.closing)
        return;
    if (r == NULL) {
        fp_q_all_history(q); /* entries may have been claimed for us: find them again */
        return;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        fp_q_read_failed(q, r, "XREADGROUP failed");
        return;
    }
    fp_q_read_done(q, r);
}

/* A read of `kind` on queue `first` (COUNT count) now holds the read slot. */
void fp_q_take_read_slot(fp_queue_t *q, fp_read_step_kind_t kind, size_t first, size_t count)
{
    q->rd.in_flight = true;
    q->rd.sent_us = fp_os_now_us();
    q->rd.kind = kind;
    q->rd.queue = first;
    q->rd.count = count;
    q->rd.combined = false;
    q->rd.unblock_sent = false;
}

int fp_q_send_read(fp_queue_t *q, fp_redis_conn_t *conn, fp_read_step_kind_t kind, size_t count,
                   size_t first, size_t nstreams, const char *id, int64_t block_ms)
{
    const char *argv[8 + 2 * 64];
    size_t lens[8 + 2 * 64];
    char count_text[24], block_text[24];
    int argc = 0;
    snprintf(count_text, sizeof count_text, "%zu", count);
    snprintf(block_text, sizeof block_text, "%lld", (long long)block_ms);
    argv[argc++] = "XREADGROUP";
    argv[argc++] = "GROUP";
    argv[argc++] = q->cfg->redis.group;
    argv[argc++] = q->cfg->daemon.name;
    argv[argc++] = "COUNT";
    argv[argc++] = count_text;
    if (block_ms > 0) {
        argv[argc++] = "BLOCK";
        argv[argc++] = block_text;
    }
    argv[argc++] = "STREAMS";
    for (size_t i = 0; i < nstreams; i++)
        argv[argc++] = q->qs[first + i].jobs_key;
    for (size_t i = 0; i < nstreams; i++)
        argv[argc++] = id;
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    /* What its entries will be read under: the token known now, learned
     * from replies Redis sent before it runs this read (takeover_token.h). */
    for (size_t i = 0; i < nstreams; i++)
        q->qs[first + i].read_epoch = q->qs[first + i].takeover.epoch;
    int rc = fp_redis_conn_sendv(conn, argc, argv, lens, block_ms, on_read_reply, q);
    if (rc == 0)
        fp_q_take_read_slot(q, kind, first, count);
    return rc;
}

/* The common start of a read script's reply (history, take-over): frees
 * the read slot and deals with a lost connection (what the script did is
 * ours now: the history read finds it), NOSCRIPT (the next pump sends the
 * text) and error replies. True when r is an answer to take. */
bool fp_q_script_read_reply(fp_queue_t *q, fp_script_t *script, const redisReply *r,
                            const char *what)
{
    q->rd.in_flight = false;
    if (q->life.closing)
        return false;
    if (r == NULL) {
        fp_q_all_history(q);
        return false;
    }
    if (fp_q_reply_is_error(r, "NOSCRIPT")) {
        script->eval = true;
        return false;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        fp_q_read_failed(q, r, what);
        return false;
    }
    return true;
}

/* Whether stream id a comes after b; ids that do not parse come first. */
static bool id_after(const char *a, const char *b)
{
    uint64_t ams, aseq, bms, bseq;
    if (!fp_stream_id_parse(a, strlen(a), &ams, &aseq))
        return false;
    if (!fp_stream_id_parse(b, strlen(b), &bms, &bseq))
        return true;
    return ams > bms || (ams == bms && aseq > bseq);
}

/* A history page taken: a short page means the end of this consumer's
 * pending list, and then every entry of it has been counted as delivered to
 * this process; otherwise the cursor (and what was counted) moves on. A page
 * sent before history restarted (a reconnect) moves nothing. */
static void history_page_done(fp_queue_t *q, size_t got)
{
    fp_qstate_t *qs = &q->qs[q->rd.queue];
    if (q->rd.read_gen != q->rd.history_gen)
        return;
    if (got < q->rd.count) {
        qs->history = false;
        snprintf(qs->counted, sizeof qs->counted, "+");
    } else if (q->rd.last_id[0] != '\0') {
        memcpy(qs->cursor, q->rd.last_id, sizeof qs->cursor);
        if (strcmp(qs->counted, "+") != 0 && id_after(q->rd.last_id, qs->counted))
            memcpy(qs->counted, q->rd.last_id, sizeof qs->counted);
    }
}

/* Takes the history script's {{id, fields, deliveries, marked}...}; false when the
 * reply has another shape. */
static bool take_history(fp_queue_t *q, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY)
        return false;
    uint32_t queue = (uint32_t)q->rd.queue;
    q->rd.last_id[0] = '\0';
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 4 ||
            e->element[0]->type != REDIS_REPLY_STRING ||
            e->element[2]->type != REDIS_REPLY_INTEGER ||
            e->element[3]->type != REDIS_REPLY_INTEGER)
            return false;
        long long n = e->element[2]->integer;
        fp_q_take_one(q, queue, e->element[0], e->element[1], FP_READ_HISTORY,
                      n > 0 ? (uint64_t)n : 1, e->element[3]->integer != 0);
        if (e->element[0]->len < sizeof q->rd.last_id)
            memcpy(q->rd.last_id, e->element[0]->str, e->element[0]->len + 1);
    }
    return true;
}

static void on_history_reply(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    fp_queue_t *q = privdata;
    (void)c;
    if (!fp_q_script_read_reply(q, &q->scripts.history, r, "re-reading pending entries failed"))
        return;
    if (!take_history(q, r)) {
        /* Whatever was taken is handed over; the rest is found again. */
        fp_log_error(LOG, "unexpected reply to the history script (type %d)", r->type);
        fp_q_all_history(q);
        fp_q_hand_over(q);
        fp_q_arm_retry(q);
        return;
    }
    fp_q_retry_reset(q);
    history_page_done(q, r->elements);
    fp_q_hand_over(q);
}

/* History pages go on the writer: they never block, and there they are
 * ordered after every outcome sent before them, so an entry whose outcome
 * Redis already applied cannot come back (an outcome not sent yet, or sent
 * after the page, keeps its entry held until confirmed). Held entries are
 * skipped, so the page is widened by their number. */
static void read_history(fp_queue_t *q, size_t i)
{
    size_t count = q->rd.room + q->held.count;
    if (count > HISTORY_PAGE_MAX)
        count = HISTORY_PAGE_MAX;
    if (count < q->rd.room)
        count = q->rd.room;
    char start[sizeof q->qs[i].cursor + 1], count_text[24];
    if (strcmp(q->qs[i].cursor, "0") == 0)
        snprintf(start, sizeof start, "-");
    else
        snprintf(start, sizeof start, "(%s", q->qs[i].cursor);
    snprintf(count_text, sizeof count_text, "%zu", count);
    const char *keys[FP_SCRIPT_HISTORY_KEYS] = {q->qs[i].jobs_key, q->qs[i].cancel_key};
    const char *args[] = {q->cfg->redis.group, q->cfg->daemon.name, start, count_text,
                          q->qs[i].counted};
    if (fp_q_send_script(q, &q->scripts.history, keys, FP_SCRIPT_HISTORY_KEYS, args, 5, NULL,
                         on_history_reply, q) < 0)
        return;
    fp_q_take_read_slot(q, FP_READ_HISTORY, i, count);
    q->rd.read_gen = q->rd.history_gen;
}

/* The blocking read across the first nstreams queues, COUNT count each. */
static void read_block(fp_queue_t *q, size_t nstreams, size_t count)
{
    if (fp_q_send_read(q, q->reader, FP_READ_BLOCK, count, 0, nstreams, ">", BLOCK_MS) == 0)
        q->rd.block_total = count * nstreams;
}

static long first_history(const fp_queue_t *q)
{
    for (size_t i = 0; i < q->n; i++)
        if (q->qs[i].history)
            return (long)i;
    return -1;
}

/* Starts the next read if one may start; the read planner (read_plan.h)
 * says which. */
void fp_q_pump(fp_queue_t *q)
{
    if (q->life.closing)
        return;
    fp_q_deliver_stash(q);
    if (q->rd.in_flight || !q->conn.ready || q->retry.armed)
        return;
    fp_read_step_t step =
        fp_read_plan_next(&q->plan, q->rd.room, first_history(q), q->takeover.due);
    switch (step.kind) {
    case FP_READ_HISTORY:
        read_history(q, step.queue);
        break;
    case FP_READ_CLAIM:
        fp_q_send_claim(q);
        break;
    case FP_READ_SWEEP:
        fp_q_send_sweep(q, step.queue, step.count);
        break;
    case FP_READ_BLOCK:
        read_block(q, step.nstreams, step.count);
        break;
    case FP_READ_NONE:
        break;
    }
}

static void on_unblocked(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    (void)c;
    (void)r;
    (void)privdata;
}

/* The room shrank below what the blocking read in flight may bring (a drain,
 * a smaller fp_queue_want), or a take-over sweep is due: end that read early
 * rather than pull jobs that would have to wait in the stash, or keep
 * abandoned jobs waiting for up to BLOCK_MS. */
void fp_q_maybe_unblock(fp_queue_t *q)
{
    if (!q->rd.in_flight || q->rd.kind != FP_READ_BLOCK || q->rd.unblock_sent ||
        (q->rd.room >= q->rd.block_total && !q->takeover.due) || q->conn.reader_id < 0 ||
        !q->conn.writer_up)
        return;
    char id[24];
    int n = snprintf(id, sizeof id, "%lld", q->conn.reader_id);
    const char *argv[] = {"CLIENT", "UNBLOCK", id, "TIMEOUT"};
    size_t lens[] = {6, 7, (size_t)n, 7};
    if (fp_redis_conn_sendv(q->writer, 4, argv, lens, 0, on_unblocked, q) == 0)
        q->rd.unblock_sent = true;
}
