/* cluster.h: following the slots of a Redis Cluster, on the supervisor's
 * loop, for the daemon's connections. A fp_cluster_t hands out one locator
 * (redis_conn.h) per slot: a connection made with it (and opts.cluster set)
 * asks before every attempt where its slot lives. The cluster answers from
 * a fresh CLUSTER SLOTS round (cluster_round.h: the node that answered
 * last, the seeds, the masters of the last map), never blocking; every
 * connection waiting meanwhile gets the same round's answer.
 *
 * Following a slot is then the connection's ordinary recovery: a reply
 * MOVED, ASK, TRYAGAIN or CLUSTERDOWN (fp_cluster_fault_reply), a replica
 * found by ROLE after a failover, or a lost node drops the connection; the
 * next attempt, after the capped back-off, asks the map again. A command
 * answered ASK or TRYAGAIN during a slot migration is not applied: it comes
 * back as a lost reply and its owner re-sends it once the connection is up
 * again, on the slot's new owner when the migration ended by then. The
 * owner of the connection sees down and up, as after a Sentinel switch. */
#ifndef FORKPOOL_CLUSTER_H
#define FORKPOOL_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "base/err.h"
#include "redis/redis_conn.h"
#include "redis/redis_url.h"

typedef struct fp_cluster_s fp_cluster_t;

/* seeds: "host:port" each (copied); auth: the user, password and TLS every
 * node is reached with (borrowed until fp_cluster_close; its host, port and
 * db are not used). timeout_ms bounds one node's connect and answer (<= 0:
 * 5 s). quiet: say what it finds at debug level only. */
int fp_cluster_new(uv_loop_t *loop, const char *const *seeds, size_t n,
                   const fp_redis_url_t *auth, int64_t timeout_ms, bool quiet,
                   fp_cluster_t **out, fp_err_t *err);

/* The locator of connections that follow slot (label names what the slot
 * is for in messages, e.g. "queue emails"; copied). Owned by cl, the same
 * one for the same slot; NULL when out of memory. */
const fp_redis_locator_t *fp_cluster_locator(fp_cluster_t *cl, uint16_t slot,
                                             const char *label);

/* Rounds that ended with a map: for tests and metrics. */
uint64_t fp_cluster_maps_read(const fp_cluster_t *cl);

/* After every connection it locates was closed: closes its own connection,
 * frees, then cb (may be NULL). */
void fp_cluster_close(fp_cluster_t *cl, void (*cb)(void *ctx), void *ctx);

#endif
