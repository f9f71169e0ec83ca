/* admin.h: blocking Redis access for the command line (enqueue, stats,
 * dead). Never used on the daemon's loop: every call here waits for Redis.
 * The dead-letter calls read and change P:{Q}:dead a page at a time, so a
 * huge dead stream never has to fit in the command's memory. */
#ifndef FORKPOOL_ADMIN_H
#define FORKPOOL_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "config/config.h"
#include "base/err.h"
#include "queue/queue_stats.h"

typedef struct fp_admin_s fp_admin_t;

/* Jobs per pipelined round trip. */
#define FP_ADMIN_PIPELINE 1000

/* Connects to cfg->redis.url within cfg->redis.connect_timeout_ms, then AUTH
 * and SELECT as the URL says. FP_ECONFIG for a bad URL; FP_EREDIS with Redis'
 * own words otherwise ("cannot connect to Redis at 127.0.0.1:6379: Connection
 * refused"). cfg is borrowed until fp_admin_free. */
int fp_admin_connect(const fp_config_t *cfg, fp_admin_t **out, fp_err_t *err);

/* NULL is a no-op. */
void fp_admin_free(fp_admin_t *a);

/* The underlying blocking context, for commands this module does not wrap. */
redisContext *fp_admin_context(fp_admin_t *a);

/* One command from an argument vector. On success *out is the reply (owned:
 * freeReplyObject), never an error reply: those become FP_EREDIS carrying
 * Redis' text. */
int fp_admin_commandv(fp_admin_t *a, int argc, const char **argv, const size_t *lens,
                      redisReply **out, fp_err_t *err);

/* XADD P:{queue}:jobs * job JOB for each of n jobs, pipelined. ids may be
 * NULL; otherwise ids[i] receives entry i's id (owned: free()). On an error
 * reply the rest of the pipeline is still read; the first error is returned
 * and *done (may be NULL) says how many were added. */
int fp_admin_enqueue(fp_admin_t *a, const char *queue, const char *const *jobs,
                     const size_t *lens, size_t n, char **ids, size_t *done, fp_err_t *err);

/* ZADD P:{queue}:delayed (Redis TIME + delay_ms) JOB for each of n jobs,
 * pipelined: due times follow Redis' clock, never this host's. */
int fp_admin_enqueue_delayed(fp_admin_t *a, const char *queue, const char *const *jobs,
                             const size_t *lens, size_t n, int64_t delay_ms, size_t *done,
                             fp_err_t *err);

/* One field of a dead entry: a NUL-terminated copy, len bytes (Redis values
 * are binary-safe, so len may exceed strlen). s is NULL when the field is
 * absent. */
typedef struct fp_admin_field_s {
    char *s;
    size_t len;
} fp_admin_field_t;

/* An entry of P:{Q}:dead as the outcome script writes it. */
typedef struct fp_dead_entry_s {
    char *id; /* stream entry id */
    fp_admin_field_t job, error, attempts, failed_at, consumer;
} fp_dead_entry_t;

/* Dead entries moved back per script call: small enough that one call never
 * holds Redis for long. */
#define FP_ADMIN_DEAD_BATCH 100

/* XLEN P:{queue}:dead (0 when the key does not exist). */
int fp_admin_dead_count(fp_admin_t *a, const char *queue, long long *out, fp_err_t *err);

/* The id of the newest entry of P:{queue}:dead into out (cap bytes), "" when
 * the stream is empty or absent. */
int fp_admin_dead_last_id(fp_admin_t *a, const char *queue, char *out, size_t cap,
                          fp_err_t *err);

/* Up to count entries of P:{queue}:dead, oldest first, after the entry id
 * `after` (exclusive; NULL: from the start) up to `until` (inclusive; NULL:
 * the end). *out (owned; fp_admin_dead_free) holds *n entries; *out is NULL
 * when *n is 0. */
int fp_admin_dead_read(fp_admin_t *a, const char *queue, const char *after, const char *until,
                       size_t count, fp_dead_entry_t **out, size_t *n, fp_err_t *err);

/* fp_admin_dead_last_id on the stream P:{queue}:KIND ("jobs" or "dead"). */
int fp_admin_stream_last_id(fp_admin_t *a, const char *queue, const char *kind, char *out,
                            size_t cap, fp_err_t *err);

/* The key prefix the connection's configuration names (redis.prefix). */
const char *fp_admin_prefix(const fp_admin_t *a);

/* fp_admin_dead_read on the stream P:{queue}:KIND ("jobs" or "dead"): a
 * jobs entry's payload is its job field too. */
int fp_admin_stream_read(fp_admin_t *a, const char *queue, const char *kind, const char *after,
                         const char *until, size_t count, fp_dead_entry_t **out, size_t *n,
                         fp_err_t *err);

/* The count newest entries of P:{queue}:dead, newest first (the status
 * page's list); *out and *n as fp_admin_dead_read. */
int fp_admin_dead_newest(fp_admin_t *a, const char *queue, size_t count, fp_dead_entry_t **out,
                         size_t *n, fp_err_t *err);

/* The entry id of P:{queue}:dead: *n 1, or 0 when it is not there (an id
 * Redis cannot parse is an FP_EREDIS error). */
int fp_admin_dead_get(fp_admin_t *a, const char *queue, const char *id, fp_dead_entry_t **out,
                      size_t *n, fp_err_t *err);

void fp_admin_dead_free(fp_dead_entry_t *entries, size_t n);

/* For each i: if dead entry ids[i] still exists, deletes it and XADDs jobs[i]
 * to P:{queue}:jobs, atomically (one Lua script per FP_ADMIN_DEAD_BATCH
 * entries). An entry someone else already moved or deleted is left alone, so
 * two operators retrying at once never enqueue a job twice. *moved (may be
 * NULL) counts the jobs added, also when an error stops a later batch. */
int fp_admin_dead_requeue(fp_admin_t *a, const char *queue, const char *const *ids,
                          const char *const *jobs, const size_t *lens, size_t n, size_t *moved,
                          fp_err_t *err);

/* XDEL P:{queue}:dead ids...; *deleted (may be NULL) counts the entries that
 * still existed. */
int fp_admin_dead_delete(fp_admin_t *a, const char *queue, const char *const *ids, size_t n,
                         size_t *deleted, fp_err_t *err);

/* ---- stats ------------------------------------------------------------------ */

/* Reads queue's stats into *out (cleared first; fp_admin_queue_stats_clear
 * frees it, also after an error). FP_EREDIS with Redis' words when Redis
 * fails or a key has the wrong type. */
int fp_admin_queue_stats(fp_admin_t *a, const char *queue, fp_admin_queue_stats_t *out,
                         fp_err_t *err);

#endif
