/* dead_entries.h: the queue file's dead rows as the dead stream's entries
 * (fp_dead_entry_t, the row id in decimal as the entry id), so that `forkpool
 * dead` and the status page list, retry and purge them with the same code as
 * on Redis (queue/dead_src.h chooses). */
#ifndef FORKPOOL_SQLQ_DEAD_ENTRIES_H
#define FORKPOOL_SQLQ_DEAD_ENTRIES_H

#include <stdbool.h>
#include <stddef.h>

#include "queue/admin.h"
#include "queue/dead_fresh.h"
#include "sqlq/store.h"

/* fp_admin_dead_count, fp_admin_dead_last_id, fp_admin_dead_read,
 * fp_admin_dead_delete, fp_admin_dead_newest and fp_admin_dead_get on the
 * queue file; ids are row ids in decimal. */
int fp_sqlq_dead_e_count(fp_sqlq_t *q, const char *queue, long long *out, fp_err_t *err);
int fp_sqlq_dead_e_last_id(fp_sqlq_t *q, const char *queue, char *out, size_t cap,
                           fp_err_t *err);
int fp_sqlq_dead_e_read(fp_sqlq_t *q, const char *queue, const char *after, const char *until,
                        size_t count, fp_dead_entry_t **out, size_t *n, fp_err_t *err);
int fp_sqlq_dead_e_delete(fp_sqlq_t *q, const char *queue, const char *const *ids, size_t n,
                          size_t *deleted, fp_err_t *err);
int fp_sqlq_dead_e_newest(fp_sqlq_t *q, const char *queue, size_t count, fp_dead_entry_t **out,
                          size_t *n, fp_err_t *err);
int fp_sqlq_dead_e_get(fp_sqlq_t *q, const char *queue, const char *id, fp_dead_entry_t **out,
                       size_t *n, fp_err_t *err);

/* fp_dead_retry_entries on the queue file: the same fresh jobs, moved with
 * fp_sqlq_dead_requeue (a row someone else moved meanwhile is left alone). */
int fp_sqlq_dead_e_retry(fp_sqlq_t *q, size_t max_job_bytes, const char *queue,
                         const fp_dead_entry_t *e, size_t n, bool force, fp_dead_skip_fn skip,
                         size_t *moved, size_t *skipped, fp_err_t *err);

#endif
