/* aq_fleet.h: the daemon's fleet heartbeat on the embedded queue: the calls
 * of queue/heartbeat.h (fp_queue_heartbeat, _clear, fp_queue_fleet_read)
 * with the same contract, their SQL (sqlq/fleet.h) run on the queue's
 * worker thread through fp_aq_call and answered on the loop. */
#ifndef FORKPOOL_SQLQ_AQ_FLEET_H
#define FORKPOOL_SQLQ_AQ_FLEET_H

#include <stdbool.h>
#include <stdint.h>

#include "queue/heartbeat.h"
#include "sqlq/aq.h"

/* cb(ctx, ok) runs once on the loop (ok false when the file failed or the
 * queue closed first); a negative errno, and cb never runs, when the call
 * could not be posted. */
int fp_aq_heartbeat(fp_aq_t *q, const char *id, const char *record, int64_t ttl_ms,
                    void (*cb)(void *ctx, bool ok), void *ctx);
int fp_aq_heartbeat_clear(fp_aq_t *q, const char *id, const char *token,
                          void (*cb)(void *ctx, bool ok), void *ctx);
/* cb gets the fleet (owned by cb: fp_fleet_clear and free()), or NULL. */
int fp_aq_fleet_read(fp_aq_t *q, void (*cb)(void *ctx, fp_fleet_t *fleet), void *ctx);

#endif
