/* job_args.c: the command line and the per-queue script call shared by the
 * commands that act on one job by its ID (job_args.h). */
#include "job_args.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/cancel.h"
#include "queue/job_lookup.h"
#include "queue/queue_scripts.h"

enum { OPT_QUEUE = 256, OPT_JSON };

static int on_option(void *args, int id, const char *name, const char *value, fp_err_t *err)
{
    fp_job_args_t *a = args;
    (void)name;
    if (id == OPT_QUEUE)
        return fp_cli_parse_queue(value, &a->queue, err);
    a->json = true;
    return 0;
}

static int on_operands(void *args, int n, char **words, fp_err_t *err)
{
    fp_job_args_t *a = args;
    if (n != 1)
        return fp_err_set(err, FP_EUSAGE, "takes exactly one job ID, got %d arguments", n);
    a->id = words[0];
    return fp_job_id_check(a->id, err);
}

static const struct option options[] = {
    {"config", required_argument, NULL, 'c'},
    {"queue", required_argument, NULL, OPT_QUEUE},
    {"json", no_argument, NULL, OPT_JSON},
    {NULL, 0, NULL, 0},
};
const fp_cli_spec_t fp_job_args_spec = {options, on_option, on_operands, NULL};

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
