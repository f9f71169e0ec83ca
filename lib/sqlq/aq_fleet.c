/* aq_fleet.c: the fleet heartbeat's calls on the embedded queue
 * (aq_fleet.h): each one's arguments copied into a call, its SQL
 * (fleet.c) run on the worker thread, its callback on the loop. */
#include "sqlq/aq_fleet.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "sqlq/fleet.h"

#define LOG "queue"

typedef struct beat_s {
    char *id, *text; /* text: the record for a beat, the token for a clear */
    int64_t ttl_ms;
    void (*cb)(void *ctx, bool ok);
    void (*read_cb)(void *ctx, fp_fleet_t *fleet);
    fp_fleet_t *fleet;
} beat_t;

static void beat_free(beat_t *b)
{
    free(b->id);
    free(b->text);
    if (b->fleet != NULL) {
        fp_fleet_clear(b->fleet);
        free(b->fleet);
    }
    free(b);
}

static int beat_work(fp_sqlq_t *store, void *arg, int64_t now_ms, fp_err_t *err)
{
    beat_t *b = arg;
    return fp_sqlq_fleet_beat(store, b->id, b->text, b->ttl_ms, now_ms, err);
}

static int clear_work(fp_sqlq_t *store, void *arg, int64_t now_ms, fp_err_t *err)
{
    beat_t *b = arg;
    return fp_sqlq_fleet_clear(store, b->id, b->text, now_ms, NULL, err);
}

static int read_work(fp_sqlq_t *store, void *arg, int64_t now_ms, fp_err_t *err)
{
    beat_t *b = arg;
    return fp_sqlq_fleet_read(store, now_ms, b->fleet, err);
}

static void beat_done(void *ctx, void *arg, int rc, const char *msg)
{
    beat_t *b = arg;
    if (rc < 0 && rc != -ECANCELED)
        fp_log_debug(LOG, "fleet heartbeat: %s", msg);
    b->cb(ctx, rc == 0);
    beat_free(b);
}

static void read_done(void *ctx, void *arg, int rc, const char *msg)
{
    beat_t *b = arg;
    fp_fleet_t *fleet = rc == 0 ? b->fleet : NULL;
    if (rc < 0 && rc != -ECANCELED)
        fp_log_debug(LOG, "reading the fleet: %s", msg);
    if (rc == 0)
        b->fleet = NULL; /* the callback's now */
    b->read_cb(ctx, fleet);
    beat_free(b);
}

static int post(fp_aq_t *q, beat_t *b, bool copied, fp_aq_work_fn work, fp_aq_done_fn done,
                void *ctx)
{
    int rc = copied ? fp_aq_call(q, work, b, done, ctx) : -ENOMEM;
    if (rc < 0)
        beat_free(b);
    return rc;
}

int fp_aq_heartbeat(fp_aq_t *q, const char *id, const char *record, int64_t ttl_ms,
                    void (*cb)(void *ctx, bool ok), void *ctx)
{
    beat_t *b = calloc(1, sizeof *b);
    if (b == NULL)
        return -ENOMEM;
    *b = (beat_t){.id = strdup(id), .text = strdup(record), .ttl_ms = ttl_ms, .cb = cb};
    return post(q, b, b->id != NULL && b->text != NULL, beat_work, beat_done, ctx);
}

int fp_aq_heartbeat_clear(fp_aq_t *q, const char *id, const char *token,
                          void (*cb)(void *ctx, bool ok), void *ctx)
{
    beat_t *b = calloc(1, sizeof *b);
    if (b == NULL)
        return -ENOMEM;
    *b = (beat_t){.id = strdup(id), .text = strdup(token), .cb = cb};
    return post(q, b, b->id != NULL && b->text != NULL, clear_work, beat_done, ctx);
}

int fp_aq_fleet_read(fp_aq_t *q, void (*cb)(void *ctx, fp_fleet_t *fleet), void *ctx)
{
    beat_t *b = calloc(1, sizeof *b);
    if (b == NULL)
        return -ENOMEM;
    *b = (beat_t){.read_cb = cb, .fleet = calloc(1, sizeof(fp_fleet_t))};
    return post(q, b, b->fleet != NULL, read_work, read_done, ctx);
}
