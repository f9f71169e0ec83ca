/* dead_fresh.h: a dead entry's payload as a fresh job (dead_fresh.c). */
#ifndef FORKPOOL_DEAD_FRESH_H
#define FORKPOOL_DEAD_FRESH_H

#include <stddef.h>

#include "base/err.h"
#include "dispatch/job.h"
#include "queue/admin.h"

/* The payload as a fresh job in *text (owned, *len bytes): a JSON object
 * loses "attempt" and "last_error", anything else is copied as it is. Then
 * checks it as the daemon would: 0 when valid (*job filled; fp_job_clear),
 * FP_EJOB/FP_ELIMIT with the reason in why when it would only die again,
 * -ENOMEM. */
int fp_dead_fresh_job(size_t max_job_bytes, const fp_admin_field_t *payload, char **text,
                      size_t *len, fp_job_t *job, fp_err_t *why);

#endif
