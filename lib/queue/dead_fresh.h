/* dead_fresh.h: a dead entry's payload as a fresh job (dead_fresh.c). */
#ifndef FORKPOOL_DEAD_FRESH_H
#define FORKPOOL_DEAD_FRESH_H

#include <stdbool.h>
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

/* Called for each entry left dead because its payload would only die
 * again (why says why). */
typedef void (*fp_dead_skip_fn)(void *ctx, const fp_dead_entry_t *e, const fp_err_t *why);

/* The entries of a page to move back, as fresh jobs: ids[i] (borrowed from
 * the entries) and jobs[i] (owned, lens[i] bytes), n of them. */
typedef struct fp_dead_batch_s {
    const char **ids;
    char **jobs;
    size_t *lens;
    size_t n;
} fp_dead_batch_t;

/* The fresh jobs of e[0..n) (fp_dead_fresh_job), whichever queue holds
 * them: an entry it rejects is skipped (skip called, may be NULL; *skipped
 * counted) unless force, which keeps it as it is. fp_dead_batch_free. */
int fp_dead_fresh_batch(size_t max_job_bytes, const fp_dead_entry_t *e, size_t n, bool force,
                        fp_dead_skip_fn skip, void *ctx, fp_dead_batch_t *out, size_t *skipped,
                        fp_err_t *err);
void fp_dead_batch_free(fp_dead_batch_t *b);

/* Moves e[0..n) of queue back as fresh jobs with one guarded call
 * (fp_admin_dead_requeue: an entry someone else moved meanwhile is left
 * alone). An entry fp_dead_fresh_job rejects is skipped (skip called, may be
 * NULL; *skipped counted) unless force, which moves it as it is. *moved
 * counts the jobs added, also when an error stops the call. */
int fp_dead_retry_entries(fp_admin_t *a, size_t max_job_bytes, const char *queue,
                          const fp_dead_entry_t *e, size_t n, bool force, fp_dead_skip_fn skip,
                          void *ctx, size_t *moved, size_t *skipped, fp_err_t *err);

#endif
