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

/* EVAL script 3 P:{queue}:jobs P:{queue}:delayed P:{queue}:dead group ID
 * FP_JOB_LOOKUP_SCAN [extra] (extra may be NULL: not sent). With extra (the
 * cancel script), P:{queue}:cancel is a fourth key, the hash it marks. *out
 * is the reply (owned), never an error reply: those fail, prefixed with the
 * queue. */
int fp_job_eval_queue(fp_admin_t *admin, const fp_config_t *cfg, const char *script,
                      const char *queue, const char *id, const char *extra, redisReply **out,
                      fp_err_t *err);

/* Where the job is in one queue's keys (the lookup script; read only) into
 * w (overwritten: clear a used one first). */
int fp_job_lookup_queue(fp_admin_t *admin, const fp_config_t *cfg, const char *queue,
                        const char *id, fp_job_where_t *w, fp_err_t *err);

#endif
