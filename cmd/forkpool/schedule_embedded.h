/* schedule_embedded.h: `forkpool schedule list` on the embedded queue: the
 * recorded tick of a schedule read from the queue file (lib/sqlq/schedule.h)
 * instead of Redis' hash, so the columns are the same on both. */
#ifndef FORKPOOL_CLI_SCHEDULE_EMBEDDED_H
#define FORKPOOL_CLI_SCHEDULE_EMBEDDED_H

#include <stdint.h>

#include "config/config.h"
#include "sqlq/store.h"

/* The recorded tick of s (its last fired, or its start before the first),
 * -1 when the file has none of s's expression. store NULL (no file yet):
 * -1, nothing was ever recorded. */
int fp_cli_schedule_last_embedded(fp_sqlq_t *store, const fp_schedule_t *s, int64_t *out,
                                  fp_err_t *err);

#endif
