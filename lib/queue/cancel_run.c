/* cancel_run.c: `forkpool cancel` against Redis, blocking: the cancel
 * script run in the only queue whose keys hold the job (more than one:
 * refused, nothing cancelled), or on each queue's keys until one holds it. Shared by the
 * command and the status page's cancel (which runs it off the loop thread). */
#include "queue/cancel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "queue/job_lookup.h"

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

/* With more than one queue to try: the only one whose keys hold the id
 * (read-only lookups first). Stream entry ids are times, so the same id can
 * name jobs of several queues (and so can a payload id); cancelling in the
 * first would cancel another queue's job, so more than one is refused with
 * their names. *only stays NULL when none holds it. */
static int only_queue(fp_admin_t *admin, const fp_config_t *cfg, const char *const *names,
                      size_t n, const char *id, const char **only, fp_err_t *err)
{
    char list[512] = "";
    size_t found = 0, used = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        fp_job_where_t w = {0};
        rc = fp_job_lookup_queue(admin, cfg, names[i], id, &w, err);
        if (rc == 0 && w.state != FP_JOB_NOWHERE) {
            *only = found++ == 0 ? names[i] : *only;
            int k = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", names[i]);
            used = k > 0 && (size_t)k < sizeof list - used ? used + (size_t)k : used;
        }
        fp_job_where_clear(&w);
    }
    if (rc == 0 && found > 1)
        return fp_err_set(err, -EEXIST, "job %.200s is in %zu queues (%s); nothing cancelled: "
                          "name one with --queue", id, found, list);
    return rc;
}

int fp_cancel_in_queues(fp_admin_t *admin, const fp_config_t *cfg, const char *const *names,
                        size_t n, const char *id, const char **queue, fp_cancel_reply_t *c,
                        fp_err_t *err)
{
    char *script = fp_cancel_script_new();
    if (script == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    const char *only = NULL;
    int rc = n > 1 ? only_queue(admin, cfg, names, n, id, &only, err) : 0;
    if (only != NULL) {
        names = &only;
        n = 1;
    }
    *queue = NULL;
    for (size_t i = 0; rc == 0 && *queue == NULL && i < n; i++) {
        rc = cancel_in_queue(admin, cfg, script, names[i], id, c, err);
        if (rc == 0 && c->result != FP_CANCEL_NOT_FOUND)
            *queue = names[i];
    }
    free(script);
    return rc;
}
