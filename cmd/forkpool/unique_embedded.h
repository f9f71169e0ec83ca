/* unique_embedded.h: `forkpool enqueue --unique` on the embedded queue: the
 * key and the job written to the queue file in one transaction
 * (lib/sqlq/unique.h), answered as fp_admin_enqueue_unique answers on
 * Redis, so the command prints the same. */
#ifndef FORKPOOL_CLI_UNIQUE_EMBEDDED_H
#define FORKPOOL_CLI_UNIQUE_EMBEDDED_H

#include "queue/unique.h"
#include "sqlq/store.h"

/* fp_admin_enqueue_unique's arguments and result (delay_ms -1: none), on
 * the file; the clock is this host's (the daemons' on one host). */
int fp_cli_enqueue_unique_embedded(fp_sqlq_t *store, const char *queue, const char *key,
                                   const char *id, int64_t ttl_ms, int64_t delay_ms,
                                   const char *job, size_t len, fp_unique_result_t *out,
                                   fp_err_t *err);

#endif
