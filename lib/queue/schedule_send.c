/* schedule_send.c: sending the fire script (schedule.h) on the queue's
 * writer connection, so the scheduler costs no connection of its own and
 * never blocks the loop. Plain EVAL, as the heartbeat does: a call per tick
 * does not need the script cache, and a Redis restart then needs no
 * NOSCRIPT handling. */
#include "queue/queue_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/schedule.h"

typedef struct call_s {
    fp_schedule_cb cb;
    void *ctx;
} call_t;

static void on_reply(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    (void)c;
    call_t call = *(call_t *)privdata;
    free(privdata);
    bool ok = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
              r->element[0]->type == REDIS_REPLY_INTEGER &&
              r->element[1]->type == REDIS_REPLY_INTEGER;
    if (r != NULL && !ok)
        fp_log_debug(LOG, "schedule: %.*s", r->str != NULL ? (int)r->len : 0,
                     r->str != NULL ? r->str : "unexpected reply");
    call.cb(call.ctx, ok, ok ? r->element[0]->integer : 0, ok ? r->element[1]->integer : -1);
}

/* argv: EVAL script 2 hash jobs name fingerprint (tick payload)... */
typedef struct args_s {
    const char **argv;
    size_t *lens;
    char **owned; /* hash key, fingerprint, then per tick its text and payload */
    size_t nowned;
} args_t;

static void args_free(args_t *a)
{
    for (size_t i = 0; a->owned != NULL && i < a->nowned; i++)
        free(a->owned[i]);
    free(a->owned);
    free(a->argv);
    free(a->lens);
}

static int args_build(args_t *a, const fp_qstate_t *qs, const char *prefix,
                      const fp_schedule_t *s, const int64_t *ticks, size_t n)
{
    size_t argc = 7 + 2 * n;
    a->argv = calloc(argc, sizeof *a->argv);
    a->lens = calloc(argc, sizeof *a->lens);
    a->owned = calloc(2 + 2 * n, sizeof *a->owned);
    if (a->argv == NULL || a->lens == NULL || a->owned == NULL)
        return -ENOMEM;
    if ((a->owned[a->nowned++] = fp_schedule_key(prefix, qs->name)) == NULL)
        return -ENOMEM;
    char *fingerprint = a->owned[a->nowned++] = malloc(FP_SCHEDULE_FINGERPRINT_MAX);
    if (fingerprint == NULL)
        return -ENOMEM;
    if (!fp_schedule_fingerprint(s, fingerprint, FP_SCHEDULE_FINGERPRINT_MAX))
        return -EINVAL;
    const char *head[] = {"EVAL",   fp_schedule_script, "2",        a->owned[0],
                          qs->jobs_key, s->name,        fingerprint};
    memcpy(a->argv, head, sizeof head);
    for (size_t i = 0; i < n; i++) {
        char *tick = malloc(24);
        if ((a->owned[a->nowned++] = tick) == NULL ||
            (a->owned[a->nowned++] = fp_schedule_payload(s, ticks[i])) == NULL)
            return -ENOMEM;
        snprintf(tick, 24, "%" PRId64, ticks[i]);
        a->argv[7 + 2 * i] = tick;
        a->argv[8 + 2 * i] = a->owned[a->nowned - 1];
    }
    for (size_t i = 0; i < argc; i++)
        a->lens[i] = strlen(a->argv[i]);
    return (int)argc;
}

int fp_queue_schedule(fp_queue_t *q, uint32_t queue, const fp_schedule_t *s,
                      const int64_t *ticks, size_t n, fp_schedule_cb cb, void *ctx)
{
    if (q->life.closing || !q->conn.writer_up || queue >= q->n)
        return -ENOTCONN;
    args_t a = {0};
    call_t *call = malloc(sizeof *call);
    int argc = call != NULL ? args_build(&a, &q->qs[queue], q->cfg->redis.prefix, s, ticks, n)
                            : -ENOMEM;
    int rc = argc;
    if (argc > 0) {
        *call = (call_t){cb, ctx};
        rc = fp_redis_conn_sendv(q->writer, argc, a.argv, a.lens, 0, on_reply, call);
    }
    if (rc < 0)
        free(call);
    args_free(&a);
    return rc < 0 ? rc : 0;
}
