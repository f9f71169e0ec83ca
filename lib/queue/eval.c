/* eval.c: one Lua script call on the queue's writer connection for a part
 * of the daemon that keeps state in Redis beside the queues (concurrency
 * and rate limits: lib/supervisor/limits.c), so it needs no connection of
 * its own and never blocks the loop; over a Cluster, on the side
 * connection serving the keys' slot (qmux_side.c). */
#include "queue/queue_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct eval_call_s {
    fp_queue_reply_cb cb;
    void *ctx;
} eval_call_t;

static void on_reply(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    (void)c;
    eval_call_t call = *(eval_call_t *)privdata;
    free(privdata);
    call.cb(call.ctx, r);
}

int fp_queue_eval(fp_queue_t *q, const char *script, size_t nkeys, const char *const *args,
                  size_t nargs, fp_queue_reply_cb cb, void *ctx)
{
    if (q->life.closing || !q->conn.writer_up)
        return -ENOTCONN;
    return fp_q_eval_on(q->writer, script, nkeys, args, nargs, cb, ctx);
}

int fp_q_eval_on(fp_redis_conn_t *conn, const char *script, size_t nkeys,
                 const char *const *args, size_t nargs, fp_queue_reply_cb cb, void *ctx)
{
    char nk[24];
    snprintf(nk, sizeof nk, "%zu", nkeys);
    size_t argc = nargs + 3;
    const char **argv = malloc(argc * sizeof *argv);
    size_t *lens = malloc(argc * sizeof *lens);
    eval_call_t *call = malloc(sizeof *call);
    int rc = -ENOMEM;
    if (argv != NULL && lens != NULL && call != NULL) {
        argv[0] = "EVAL";
        argv[1] = script;
        argv[2] = nk;
        for (size_t i = 0; i < nargs; i++)
            argv[3 + i] = args[i];
        for (size_t i = 0; i < argc; i++)
            lens[i] = strlen(argv[i]);
        *call = (eval_call_t){cb, ctx};
        rc = fp_redis_conn_sendv(conn, (int)argc, argv, lens, 0, on_reply, call);
    }
    if (rc < 0)
        free(call);
    free(argv);
    free(lens);
    return rc;
}
