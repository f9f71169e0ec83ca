/* aq_unique.c: fp_aq_started (aq_unique.h): a started job's unique key
 * released on the worker thread, as fp_queue_started does with its own
 * compare-and-delete script on Redis. */
#include "sqlq/aq_internal.h"
#include "sqlq/aq_unique.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "sqlq/unique.h"

#define LOG "queue"

typedef struct release_s {
    char *queue, *key, *id;
} release_t;

static void release_free(release_t *r)
{
    free(r->queue);
    free(r->key);
    free(r->id);
    free(r);
}

static int work(fp_sqlq_t *store, void *arg, int64_t now_ms, fp_err_t *err)
{
    release_t *r = arg;
    (void)now_ms;
    return fp_sqlq_unique_release(store, r->queue, r->key, r->id, NULL, err);
}

static void done(void *ctx, void *arg, int rc, const char *msg)
{
    release_t *r = arg;
    (void)ctx;
    if (rc < 0 && rc != -ECANCELED)
        fp_log_warn(LOG, "could not release unique key %s of job %s at start (%s): its outcome "
                    "or its TTL will", r->key, r->id, msg);
    release_free(r);
}

void fp_aq_started(fp_aq_t *q, uint32_t queue, const fp_job_t *job)
{
    if (job->unique_key == NULL || job->id == NULL || job->unique_until != FP_UNIQUE_START ||
        queue >= q->n || q->closing)
        return;
    release_t *r = calloc(1, sizeof *r);
    if (r != NULL && (r->queue = strdup(q->names[queue])) != NULL &&
        (r->key = strdup(job->unique_key)) != NULL && (r->id = strdup(job->id)) != NULL &&
        fp_aq_call(q, work, r, done, NULL) == 0)
        return;
    fp_log_warn(LOG, "could not release unique key %s of job %s at start: its outcome or its "
                "TTL will", job->unique_key, job->id != NULL ? job->id : "");
    if (r != NULL)
        release_free(r);
}
