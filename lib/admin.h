/* admin.h: blocking Redis access for the command line (enqueue, stats,
 * dead). Never used on the daemon's loop: every call here waits for Redis. */
#ifndef FORKPOOL_ADMIN_H
#define FORKPOOL_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "forkpool/config.h"
#include "forkpool/err.h"

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

/* ZADD P:{queue}:delayed due_unix_ms JOB for each of n jobs, pipelined. */
int fp_admin_enqueue_delayed(fp_admin_t *a, const char *queue, const char *const *jobs,
                             const size_t *lens, size_t n, int64_t due_unix_ms, size_t *done,
                             fp_err_t *err);

#endif
