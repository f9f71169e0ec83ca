/* job_args.h: what the commands that act on one job by its ID share (job,
 * cancel): their command line ([-c FILE] [--queue Q] [--json] ID) and the
 * call of a script over one queue's keys (stream, delayed set, dead stream)
 * with the ID, the way the lookup script takes them. */
#ifndef FORKPOOL_JOB_ARGS_H
#define FORKPOOL_JOB_ARGS_H

#include <stdbool.h>

#include <hiredis/hiredis.h>

#include "cli.h"
#include "queue/admin.h"
#include "queue/job_lookup.h"

typedef struct fp_job_args_s {
    const char *queue; /* NULL: every queue of queues.names */
    const char *id;
    bool json;
} fp_job_args_t;

/* The spec for fp_cli_begin, args an fp_job_args_t: exactly one ID (checked
 * by fp_job_id_check), --queue and --json. */
extern const fp_cli_spec_t fp_job_args_spec;


#endif
