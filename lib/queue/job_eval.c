/* job_eval.c: one queue's run of a job look-up script (the look-up itself,
 * cancel), blocking, for `forkpool job`, `forkpool cancel` and the status
 * page's cancel (which calls it off the loop thread). */
#include "queue/job_lookup.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/cancel.h"
#include "queue/queue_scripts.h"

int fp_job_eval_queue(fp_admin_t *admin, const fp_config_t *cfg, const char *script,
                      const char *queue, const char *id, const char *extra, redisReply **out,
                      fp_err_t *err)
{
    *out = NULL;
    const char *prefix = cfg->redis.prefix;
    char *keys[FP_CANCEL_KEYS] = {
        fp_queue_key(prefix, queue, "jobs"), fp_queue_key(prefix, queue, "delayed"),
        fp_queue_key(prefix, queue, "dead"), fp_queue_key(prefix, queue, "cancel")};
    char scan[24];
    snprintf(scan, sizeof scan, "%d", FP_JOB_LOOKUP_SCAN);
    /* Every key a script touches is declared: the lookup reads three, the
     * cancel (the one with an extra argument) also marks the fourth. */
    bool cancel = extra != NULL;
    const char *argv[11] = {"EVAL", script, cancel ? "4" : "3", keys[0], keys[1], keys[2]};
    int argc = 6;
    if (cancel)
        argv[argc++] = keys[3];
    argv[argc++] = cfg->redis.group;
    argv[argc++] = id;
    argv[argc++] = scan;
    if (cancel)
        argv[argc++] = extra;
    size_t lens[11];
    int rc = 0;
    for (size_t i = 0; i < FP_CANCEL_KEYS; i++)
        if (keys[i] == NULL)
            rc = fp_err_set(err, -ENOMEM, "out of memory");
    for (int i = 0; rc == 0 && i < argc; i++)
        lens[i] = strlen(argv[i]);
    if (rc == 0 && (rc = fp_admin_commandv(admin, argc, argv, lens, out, err)) < 0)
        fp_err_prefix(err, "queue %s", queue);
    for (size_t i = 0; i < FP_CANCEL_KEYS; i++)
        free(keys[i]);
    return rc;
}

int fp_job_lookup_queue(fp_admin_t *admin, const fp_config_t *cfg, const char *queue,
                        const char *id, fp_job_where_t *w, fp_err_t *err)
{
    redisReply *r = NULL;
    int rc = fp_job_eval_queue(admin, cfg, fp_job_lookup_script, queue, id, NULL, &r, err);
    if (rc == 0) {
        int parsed = fp_job_lookup_parse(r, w);
        if (parsed < 0)
            rc = fp_err_set(err, -ENOMEM, "out of memory");
        else if (parsed > 0)
            rc = fp_err_set(err, FP_EREDIS, "queue %s: unexpected reply to the lookup script",
                            queue);
    }
    if (r != NULL)
        freeReplyObject(r);
    return rc;
}
