/* aq_unique.h: fp_queue_started's counterpart on the embedded queue, for
 * the mux (queue/qmux.h) to route fp_qmux_started to: a job with "unique"
 * {"until": "start"} has its key released when a child starts it (the
 * outcome's release, fp_sqlq_unique_settle, covers "done" and dead). */
#ifndef FORKPOOL_SQLQ_AQ_UNIQUE_H
#define FORKPOOL_SQLQ_AQ_UNIQUE_H

#include "dispatch/job.h"
#include "sqlq/aq.h"

/* Posts the compare-and-delete to the worker thread; never blocks, never
 * fails the caller: a release that cannot be made is logged, and the
 * outcome's release (or the TTL) frees the key instead. */
void fp_aq_started(fp_aq_t *q, uint32_t queue, const fp_job_t *job);

#endif
