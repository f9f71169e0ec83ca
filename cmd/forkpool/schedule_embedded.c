/* schedule_embedded.c: a schedule's record in the queue file, for
 * `forkpool schedule list` (schedule_embedded.h). Only a record of s's own
 * fingerprint counts: one of another expression is not shown, as the
 * daemons start s afresh (the same rule as on Redis). */
#include "schedule_embedded.h"

#include <errno.h>

#include "queue/schedule.h"
#include "sqlq/schedule.h"

int fp_cli_schedule_last_embedded(fp_sqlq_t *store, const fp_schedule_t *s, int64_t *out,
                                  fp_err_t *err)
{
    char fingerprint[FP_SCHEDULE_FINGERPRINT_MAX];
    *out = -1;
    if (store == NULL)
        return 0;
    if (!fp_schedule_fingerprint(s, fingerprint, sizeof fingerprint))
        return fp_err_set(err, -EINVAL, "schedule %s: expression too long", s->name);
    return fp_sqlq_schedule_recorded(store, s->queue, s->name, fingerprint, out, err);
}
