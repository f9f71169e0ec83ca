/* job_embedded.h: `forkpool job ID` on the embedded queue (job_embedded.c). */
#ifndef FORKPOOL_CLI_JOB_EMBEDDED_H
#define FORKPOOL_CLI_JOB_EMBEDDED_H

#include <stdint.h>

#include "config/config.h"
#include "base/err.h"
#include "queue/heartbeat.h"
#include "queue/job_lookup.h"

/* Where the queue file has the job called id, in the queues of
 * queues.names in order (only_queue alone when not NULL), in the shape the
 * Redis lookup gives: *queue (borrowed) NULL when nowhere. *since_ms: when
 * a ready job became available (-1 otherwise). The file is not created. */
int fp_cli_job_find_embedded(const fp_config_t *cfg, const char *only_queue, const char *id,
                             fp_job_where_t *w, const char **queue, int64_t *since_ms,
                             fp_err_t *err);

/* The job of a live record in f whose daemon is consumer and whose entry id
 * "ENQUEUED_MS-ID" names row row_id of queue; *member its daemon. NULL (and
 * *member NULL) when no live record lists it. */
const fp_fleet_job_t *fp_cli_job_run_embedded(const fp_fleet_t *f, const char *consumer,
                                              const char *queue, const char *row_id,
                                              const fp_fleet_member_t **member);

#endif
