/* cluster_set.h: a Redis Cluster for tests (fp_th_cluster_*): N masters
 * and optionally one replica each, every one a real redis-server with
 * cluster-enabled yes on 127.0.0.1 (client and bus ports both picked free:
 * the default bus port, client port + 10000, may not exist), in its own temp
 * dir, joined by `redis-cli --cluster create ... --cluster-yes`. Which server
 * is a master changes with a failover and which master serves a slot with a
 * resharding: ask fp_th_cluster_owner.
 *
 * With TLS (fp_th_cluster_start_tls) every node also has a TLS port and
 * speaks TLS on its cluster bus and for replication; its plain port stays
 * open for the fixture's own checks. A node answers CLUSTER SLOTS and
 * redirections with the port of the client's kind: TLS ports to a TLS
 * client, plain ports to the fixture. */
#ifndef FP_TEST_CLUSTER_SET_H
#define FP_TEST_CLUSTER_SET_H

#include <stdbool.h>
#include <stddef.h>

#include "redis_server.h"

#define FP_TH_CLUSTER_MAX 8

typedef struct fp_th_cluster_s {
    fp_th_redis_t nodes[FP_TH_CLUSTER_MAX]; /* the first n_masters started as masters */
    int n_nodes;
    int n_masters;
    int tls_ports[FP_TH_CLUSTER_MAX]; /* with TLS: nodes[i]'s TLS port; else 0 */
    char tls_dir[512];                /* with TLS: where the certificates are */
} fp_th_cluster_t;

/* Starts masters (3 or more) and replicas_each (0 or 1) replicas per master,
 * creates the cluster and waits (with a deadline) until every node says
 * cluster_state:ok, every node's CLUSTER SLOTS serves all 16384 slots with
 * the same masters, and every replica is in sync. 0 or -errno; on failure
 * nothing is left running. */
int fp_th_cluster_start(fp_th_cluster_t *c, int masters, int replicas_each);
void fp_th_cluster_stop(fp_th_cluster_t *c);

/* The same with TLS: cert_dir holds what fp_th_tls_certs makes (tls_certs.h);
 * every node serves server.crt, trusts ca.crt and takes clients with or
 * without a certificate. */
int fp_th_cluster_start_tls(fp_th_cluster_t *c, int masters, int replicas_each,
                            const char *cert_dir);

/* The node serving slot now, as the first reachable node answers CLUSTER
 * SLOTS; NULL when none does or the slot is unserved. */
fp_th_redis_t *fp_th_cluster_owner(fp_th_cluster_t *c, int slot);
/* The node on port, or NULL. */
fp_th_redis_t *fp_th_cluster_by_port(fp_th_cluster_t *c, int port);
/* A master other than not, or NULL. */
fp_th_redis_t *fp_th_cluster_other_master(fp_th_cluster_t *c, const fp_th_redis_t *not);

/* The first half of moving slot by hand: IMPORTING on to, MIGRATING on its
 * owner. Until fp_th_cluster_move_finish the owner answers ASK for keys of
 * the slot it no longer holds. 0 or -EIO. */
int fp_th_cluster_move_begin(fp_th_cluster_t *c, int slot, fp_th_redis_t *to);
/* The rest: MIGRATE every key of the slot, then CLUSTER SETSLOT NODE on
 * every master, and waits until every node names to as the owner. */
int fp_th_cluster_move_finish(fp_th_cluster_t *c, int slot, fp_th_redis_t *to);

/* CLUSTER FAILOVER on a replica of master, then waits until that replica
 * says ROLE master and every node's map agrees and is whole. The new
 * master, or NULL. */
fp_th_redis_t *fp_th_cluster_failover(fp_th_cluster_t *c, fp_th_redis_t *master);

/* "host:port" of every node, comma separated in quotes ("127.0.0.1:7000",
 * ...): a seed list. */
void fp_th_cluster_seeds(const fp_th_cluster_t *c, char *buf, size_t size);
/* The same with every node's TLS port. */
void fp_th_cluster_tls_seeds(const fp_th_cluster_t *c, char *buf, size_t size);

#endif
