/* job_embedded.h: `forkpool job ID` on the embedded queue (job_embedded.c). */
#ifndef FORKPOOL_CLI_JOB_EMBEDDED_H
#define FORKPOOL_CLI_JOB_EMBEDDED_H

#include <stdint.h>

#include "config/config.h"
#include "base/err.h"
#include "queue/job_lookup.h"

/* Where the queue file has the job called id, in the queues of
 * queues.names in order (only_queue alone when not NULL), in the shape the
 * Redis lookup gives: *queue (borrowed) NULL when nowhere. *since_ms: when
 * a ready job became available (-1 otherwise). The file is not created. */
int fp_cli_job_find_embedded(const fp_config_t *cfg, const char *only_queue, const char *id,
                             fp_job_where_t *w, const char **queue, int64_t *since_ms,
                             fp_err_t *err);

#endif
