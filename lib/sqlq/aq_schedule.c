/* aq_schedule.c: fp_aq_schedule (aq_schedule.h). The payloads and the
 * fingerprint are made on the loop (pure, small), the transaction runs on
 * the worker thread through fp_aq_call, and the answer comes back on the
 * loop as the Redis reply would: the supervisor's scheduler
 * (lib/supervisor/schedule.c) cannot tell the two apart. */
#include "sqlq/aq_internal.h"
#include "sqlq/aq_schedule.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "sqlq/schedule.h"

#define LOG "schedule"

/* One call's owned copies, filled on the loop and read on the thread. */
typedef struct sched_call_s {
    fp_schedule_cb cb;
    void *ctx;
    char *queue, *name;
    char fingerprint[FP_SCHEDULE_FINGERPRINT_MAX];
    fp_sqlq_tick_t *ticks;
    size_t n;
    int64_t fired, recorded;
} sched_call_t;

static void call_free(sched_call_t *c)
{
    for (size_t i = 0; c->ticks != NULL && i < c->n; i++)
        free((char *)c->ticks[i].payload);
    free(c->ticks);
    free(c->queue);
    free(c->name);
    free(c);
}

static int work(fp_sqlq_t *store, void *arg, int64_t now_ms, fp_err_t *err)
{
    sched_call_t *c = arg;
    return fp_sqlq_schedule_fire(store, c->queue, c->name, c->fingerprint, c->ticks, c->n, now_ms,
                                 &c->fired, &c->recorded, err);
}

static void done(void *ctx, void *arg, int rc, const char *msg)
{
    (void)ctx;
    sched_call_t *c = arg;
    if (rc < 0 && rc != -ECANCELED)
        fp_log_debug(LOG, "schedule %s: %s", c->name, msg);
    c->cb(c->ctx, rc == 0, rc == 0 ? c->fired : 0, rc == 0 ? c->recorded : -1);
    call_free(c);
}

static int fill(sched_call_t *c, const char *queue, const fp_schedule_t *s, const int64_t *ticks,
                size_t n)
{
    if (!fp_schedule_fingerprint(s, c->fingerprint, sizeof c->fingerprint))
        return -EINVAL;
    c->queue = strdup(queue);
    c->name = strdup(s->name);
    c->ticks = calloc(n > 0 ? n : 1, sizeof *c->ticks);
    if (c->queue == NULL || c->name == NULL || c->ticks == NULL)
        return -ENOMEM;
    for (; c->n < n; c->n++) {
        c->ticks[c->n].tick_ms = ticks[c->n];
        if ((c->ticks[c->n].payload = fp_schedule_payload(s, ticks[c->n])) == NULL)
            return -ENOMEM;
    }
    return 0;
}

int fp_aq_schedule(fp_aq_t *q, uint32_t queue, const fp_schedule_t *s, const int64_t *ticks,
                   size_t n, fp_schedule_cb cb, void *ctx)
{
    if (q->closing || queue >= q->n)
        return -ENOTCONN;
    sched_call_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return -ENOMEM;
    c->cb = cb;
    c->ctx = ctx;
    int rc = fill(c, q->names[queue], s, ticks, n);
    if (rc == 0)
        rc = fp_aq_call(q, work, c, done, NULL);
    if (rc < 0) {
        call_free(c);
        return rc == -ECANCELED ? -ENOTCONN : rc;
    }
    return 0;
}
