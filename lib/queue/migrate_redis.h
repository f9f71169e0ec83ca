/* migrate_redis.h: the Redis side of `forkpool migrate` (docs/embedded.md,
 * "Moving to Redis"), on the command line's blocking connection (admin.h)
 * and with the daemon's keys and formats (docs/redis.md, "Keys"): a ready
 * job is a P:{Q}:jobs entry with the field job, a delayed one a member of
 * P:{Q}:delayed scored by its due time, a dead one a P:{Q}:dead entry with
 * job, error, attempts, failed_at and consumer. */
#ifndef FORKPOOL_MIGRATE_REDIS_H
#define FORKPOOL_MIGRATE_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "queue/admin.h"
#include "sqlq/migrate.h"

/* Writes rows of kind to queue in one script call, so Redis holds all of
 * them or (the call failed before it ran) none. A delayed job gets "id" =
 * its row id when its payload has none, as a retry does
 * (fp_retry_payload_id): members of the delayed set are unique, and two
 * equal payloads must stay two jobs; written again (a migration run twice
 * over one batch) it is the same member, not a second job. */
int fp_admin_migrate_write(fp_admin_t *a, const char *queue, fp_sqlq_rows_kind_t kind,
                           const fp_sqlq_row_t *rows, size_t n, fp_err_t *err);

/* Of the entries of P:{queue}:jobs between lo and hi (ids, inclusive), the
 * ones pending in group (delivered to a daemon, not done): *ids (owned,
 * fp_admin_ids_free), *n of them. No group yet: none. */
int fp_admin_pending_between(fp_admin_t *a, const char *queue, const char *group, const char *lo,
                             const char *hi, size_t count, char ***ids, size_t *n,
                             fp_err_t *err);
void fp_admin_ids_free(char **ids, size_t n);

/* XDEL P:{queue}:KIND ids...; *deleted (may be NULL) counts those there. */
int fp_admin_stream_delete(fp_admin_t *a, const char *queue, const char *kind,
                           const char *const *ids, size_t n, size_t *deleted, fp_err_t *err);

/* The first count members of P:{queue}:delayed (soonest due first) as rows
 * (payload, due_ms = the score); fp_sqlq_rows_free. */
int fp_admin_delayed_head(fp_admin_t *a, const char *queue, size_t count, fp_sqlq_row_t **rows,
                          size_t *n, fp_err_t *err);

/* ZREM P:{queue}:delayed of the rows' payloads. */
int fp_admin_delayed_remove(fp_admin_t *a, const char *queue, const fp_sqlq_row_t *rows, size_t n,
                            fp_err_t *err);

#endif
