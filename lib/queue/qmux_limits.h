/* qmux_limits.h: a job type's shared limits ([limits.TYPE] concurrency and
 * rate) as the supervisor asks for them, whichever backend serves it: with
 * Redis the scripts of lib/limits/limit_script.h (unchanged on the wire,
 * sent as fp_qmux_eval would), with queue.backend sqlite the same contract
 * on the queue file (lib/sqlq/limits.h, on the queue's worker thread).
 *
 * Each call returns 0 and then calls cb exactly once on the loop, or
 * returns a negative errno and never calls it. cb's rc < 0: the call
 * failed (msg says why; for a take it is not known whether a lease was
 * taken, so the caller releases it). */
#ifndef FORKPOOL_QMUX_LIMITS_H
#define FORKPOOL_QMUX_LIMITS_H

#include "limits/limit.h"
#include "queue/qmux.h"
#include "sqlq/limits.h"

int fp_qmux_limit_take(fp_qmux_t *m, const fp_limit_ask_t *ask, fp_limit_take_cb cb, void *ctx);
int fp_qmux_limit_release(fp_qmux_t *m, const char *type, const char *member,
                          fp_limit_release_cb cb, void *ctx);
/* lost: how many of the members' leases had run out (taken again). */
int fp_qmux_limit_renew(fp_qmux_t *m, const char *type, int64_t lease_ms,
                        const char *const *members, size_t n, fp_limit_renew_cb cb, void *ctx);

#endif
