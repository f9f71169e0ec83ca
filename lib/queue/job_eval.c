/* job_eval.c: one queue's run of a job look-up script (the look-up itself,
 * cancel), blocking, for `forkpool job`, `forkpool cancel` and the status
 * page's cancel (which calls it off the loop thread). */
#include "queue/job_lookup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue_scripts.h"

int fp_job_eval_queue(fp_admin_t *admin, const fp_config_t *cfg, const char *script,
                      const char *queue, const char *id, const char *extra, redisReply **out,
                      fp_err_t *err)
{
    *out = NULL;
    const char *prefix = cfg->redis.prefix;
    char *keys[3] = {fp_queue_key(prefix, queue, "jobs"), fp_queue_key(prefix, queue, "delayed"),
                     fp_queue_key(prefix, queue, "dead")};
    char scan[24];
    snprintf(scan, sizeof scan, "%d", FP_JOB_LOOKUP_SCAN);
    const char *argv[] = {"EVAL", script, "3", keys[0], keys[1], keys[2],
                          cfg->redis.group, id, scan, extra};
    int argc = extra != NULL ? 10 : 9;
    size_t lens[10];
    int rc = keys[0] != NULL && keys[1] != NULL && keys[2] != NULL
                 ? 0
                 : fp_err_set(err, -ENOMEM, "out of memory");
    for (int i = 0; rc == 0 && i < argc; i++)
        lens[i] = strlen(argv[i]);
    if (rc == 0 && (rc = fp_admin_commandv(admin, argc, argv, lens, out, err)) < 0)
        fp_err_prefix(err, "queue %s", queue);
    for (size_t i = 0; i < 3; i++)
        free(keys[i]);
    return rc;
}
