/* kv.h: keyed values beside the jobs in the queue file (schema 2's kv
 * table): what the Redis backend keeps in side keys (a schedule's last
 * tick, a unique key's holder, a cancel mark, a heartbeat, a limit's
 * running slots), each feature in a space of its own. A value may carry an
 * expiry (Unix ms; 0: none); an expired value reads as absent and is
 * replaced by a put_new, and fp_sqlq_kv_purge deletes them, so that one
 * nobody released frees itself as a Redis key's TTL does.
 *
 * None of these calls opens a transaction: a feature that must read and
 * write atomically wraps them (with its jobs-table work) in fp_sqlq_begin /
 * fp_sqlq_end (store_internal.h). Return codes as store.h. */
#ifndef FORKPOOL_SQLQ_KV_H
#define FORKPOOL_SQLQ_KV_H

#include <stdbool.h>
#include <stdint.h>

#include "sqlq/store.h"

/* The live value of (space, key) at now_ms: *value (may be NULL) a fresh
 * copy to free, *expires_at (may be NULL) its expiry (0: none). -ENOENT
 * when absent or expired (err untouched). */
int fp_sqlq_kv_get(fp_sqlq_t *q, const char *space, const char *key, int64_t now_ms,
                   char **value, int64_t *expires_at, fp_err_t *err);

/* Sets (space, key) to value with expires_at (0: none), replacing it. */
int fp_sqlq_kv_put(fp_sqlq_t *q, const char *space, const char *key, const char *value,
                   int64_t expires_at, fp_err_t *err);

/* Sets (space, key) only when it is absent or expired at now_ms; *taken
 * says whether it was set (false: a live value holds the key). */
int fp_sqlq_kv_put_new(fp_sqlq_t *q, const char *space, const char *key, const char *value,
                       int64_t expires_at, int64_t now_ms, bool *taken, fp_err_t *err);

/* Deletes (space, key); with if_value, only while it holds that value (a
 * compare-and-delete: an old holder never frees a newer one's key).
 * *deleted (may be NULL) says whether a row went. */
int fp_sqlq_kv_del(fp_sqlq_t *q, const char *space, const char *key, const char *if_value,
                   bool *deleted, fp_err_t *err);

/* Deletes the values of space expired at now_ms; *purged (may be NULL)
 * counts them. */
int fp_sqlq_kv_purge(fp_sqlq_t *q, const char *space, int64_t now_ms, int64_t *purged,
                     fp_err_t *err);

/* How many live values space holds at now_ms. */
int fp_sqlq_kv_count(fp_sqlq_t *q, const char *space, int64_t now_ms, int64_t *n, fp_err_t *err);

/* Calls cb for each live value of space at now_ms, in key order; a
 * non-zero return from cb stops the walk and is returned. The texts are
 * valid during the call only. */
typedef int (*fp_sqlq_kv_each_cb)(void *ctx, const char *key, const char *value,
                                  int64_t expires_at);
int fp_sqlq_kv_each(fp_sqlq_t *q, const char *space, int64_t now_ms, fp_sqlq_kv_each_cb cb,
                    void *ctx, fp_err_t *err);

#endif
