/* dead_src.h: a queue's dead letters wherever the configuration keeps them:
 * the dead stream P:{Q}:dead on Redis (admin.h), or the dead rows of the
 * embedded queue's file (sqlq/dead_entries.h), as fp_dead_entry_t either
 * way, so that `forkpool dead` and the status page list, retry and purge
 * them with one code. Blocking calls, for a command or a worker thread;
 * never the supervisor's loop. Each call is the admin.h call of the same
 * name on the source that is open. */
#ifndef FORKPOOL_QUEUE_DEAD_SRC_H
#define FORKPOOL_QUEUE_DEAD_SRC_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "queue/admin.h"
#include "queue/dead_fresh.h"
#include "sqlq/store.h"

/* Exactly one of the two is set. Borrowed: the caller opens and frees it. */
typedef struct fp_dead_src_s {
    fp_admin_t *admin;
    fp_sqlq_t *store;
} fp_dead_src_t;

/* Opens cfg's queue: a Redis connection, or the queue file, which must
 * exist already (a daemon or a producer made it): a missing file is -ENOENT
 * with what to check, never created here. */
int fp_dead_src_open(const fp_config_t *cfg, fp_dead_src_t *out, fp_err_t *err);
void fp_dead_src_close(fp_dead_src_t *s);

int fp_dead_src_count(const fp_dead_src_t *s, const char *queue, long long *out, fp_err_t *err);
int fp_dead_src_last_id(const fp_dead_src_t *s, const char *queue, char *out, size_t cap,
                        fp_err_t *err);
int fp_dead_src_read(const fp_dead_src_t *s, const char *queue, const char *after,
                     const char *until, size_t count, fp_dead_entry_t **out, size_t *n,
                     fp_err_t *err);
int fp_dead_src_delete(const fp_dead_src_t *s, const char *queue, const char *const *ids,
                       size_t n, size_t *deleted, fp_err_t *err);
int fp_dead_src_newest(const fp_dead_src_t *s, const char *queue, size_t count,
                       fp_dead_entry_t **out, size_t *n, fp_err_t *err);
int fp_dead_src_get(const fp_dead_src_t *s, const char *queue, const char *id,
                    fp_dead_entry_t **out, size_t *n, fp_err_t *err);
/* fp_dead_retry_entries (skip's ctx NULL): e[0..n) back as fresh jobs. */
int fp_dead_src_retry(const fp_dead_src_t *s, size_t max_job_bytes, const char *queue,
                      const fp_dead_entry_t *e, size_t n, bool force, fp_dead_skip_fn skip,
                      size_t *moved, size_t *skipped, fp_err_t *err);

#endif
