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

