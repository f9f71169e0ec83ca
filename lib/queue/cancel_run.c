/* cancel_run.c: `forkpool cancel` against Redis, blocking: the cancel
 * script run on each queue's keys until one holds the job. Shared by the
 * command and the status page's cancel (which runs it off the loop thread). */
#include "queue/cancel.h"

#include <errno.h>
#include <stdlib.h>

/* Runs the cancel script on one queue's keys; c says what it did there. */
static int cancel_in_queue(fp_admin_t *admin, const fp_config_t *cfg, const char *script,
                           const char *queue, const char *id, fp_cancel_reply_t *c,
                           fp_err_t *err)
{
    redisReply *r = NULL;
    int rc = fp_job_eval_queue(admin, cfg, script, queue, id, FP_CANCEL_CONSUMER, &r, err);
    if (rc == 0) {
        int parsed = fp_cancel_parse(r, c);
        if (parsed < 0)
            rc = fp_err_set(err, -ENOMEM, "out of memory");
        else if (parsed > 0)
            rc = fp_err_set(err, FP_EREDIS, "queue %s: unexpected reply to the cancel script",
                            queue);
    }
    if (r != NULL)
        freeReplyObject(r);
    return rc;
}

int fp_cancel_in_queues(fp_admin_t *admin, const fp_config_t *cfg, const char *const *names,
                        size_t n, const char *id, const char **queue, fp_cancel_reply_t *c,
                        fp_err_t *err)
{
    char *script = fp_cancel_script_new();
    if (script == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    int rc = 0;
    *queue = NULL;
    for (size_t i = 0; rc == 0 && *queue == NULL && i < n; i++) {
        rc = cancel_in_queue(admin, cfg, script, names[i], id, c, err);
        if (rc == 0 && c->result != FP_CANCEL_NOT_FOUND)
            *queue = names[i];
    }
    free(script);
    return rc;
}
