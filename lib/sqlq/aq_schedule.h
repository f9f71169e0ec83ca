/* aq_schedule.h: fp_queue_schedule's counterpart on the embedded queue, for
 * the mux (queue/qmux.h) to route fp_qmux_schedule to: the same arguments
 * and callback contract (queue/schedule.h), the rule run by
 * fp_sqlq_schedule_fire (sqlq/schedule.h) on the queue's worker thread. */
#ifndef FORKPOOL_SQLQ_AQ_SCHEDULE_H
#define FORKPOOL_SQLQ_AQ_SCHEDULE_H

#include "queue/schedule.h"
#include "sqlq/aq.h"

/* cb(ctx, ok, fired, recorded) once the transaction ran (ok false when it
 * failed, or when the queue closed first). -ENOTCONN (cb not called) when
 * the queue is closing or `queue` is out of range, -ENOMEM, -EINVAL for a
 * schedule whose fingerprint or payload cannot be made. */
int fp_aq_schedule(fp_aq_t *q, uint32_t queue, const fp_schedule_t *s, const int64_t *ticks,
                   size_t n, fp_schedule_cb cb, void *ctx);

#endif
