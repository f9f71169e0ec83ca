/* cluster_parse.h: the decisions of Redis Cluster routing, free of I/O so
 * they are unit-tested: the slot of a key (CRC16 with hash tags, as Redis
 * computes it), the slot map read from CLUSTER SLOTS, and the MOVED / ASK
 * redirections a node answers for a slot it does not serve.
 *
 * CLUSTER SLOTS rather than CLUSTER SHARDS: SLOTS answers on every Redis
 * Cluster since 3.0 (managed services still run 6.x), SHARDS only on 7.0+;
 * SLOTS gives exactly what routing needs (slot ranges -> master address) in
 * one flat array, while SHARDS adds per-node health and replication offsets
 * that forkpool does not use. SLOTS is marked deprecated in 7.0 but kept. */
#ifndef FORKPOOL_CLUSTER_PARSE_H
#define FORKPOOL_CLUSTER_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "redis/sentinel_parse.h"

#define FP_CLUSTER_SLOTS 16384
/* Masters of one map; Redis advises at most ~1000 nodes, but forkpool
 * connects only to the few owning its queues' slots. A map with more
 * masters is refused with a clear error rather than cut. */
#define FP_CLUSTER_NODES_MAX 256

/* A node's address: the same host:port form as a sentinel's. */
typedef fp_sentinel_addr_t fp_cluster_addr_t;

/* A seed node as users write it: "host:port" or "[v6]:port"; the port is
 * required (Cluster nodes have no usual port). 0, or -1 with why. */
int fp_cluster_seed_parse(const char *text, fp_cluster_addr_t *out, char *why, size_t size);

/* The slot of a key: CRC16-CCITT (XMODEM) of the key, or of the text
 * between the first '{' and the next '}' when that is not empty, mod 16384.
 * forkpool's keys P:{Q}:... all fall in the slot of Q. */
uint16_t fp_cluster_keyslot(const char *key, size_t len);

/* Which master serves each slot. */
typedef struct fp_cluster_map_s {
    size_t n_nodes;
    fp_cluster_addr_t nodes[FP_CLUSTER_NODES_MAX];
    int16_t owner[FP_CLUSTER_SLOTS]; /* index into nodes, -1 when unserved */
} fp_cluster_map_t;

/* Parses a CLUSTER SLOTS reply asked of asked_host into *map (every slot
 * not named is unserved). A master endpoint given as nil, "" or "?" (a node
 * that does not know its own address) is asked_host, as Redis documents.
 * Replicas are ignored: forkpool only writes. 0, or -1 with why for an error
 * reply, a slot out of range, overlapping ranges, or a malformed entry; *map
 * is then all unserved. */
int fp_cluster_slots_parse(const redisReply *r, const char *asked_host, fp_cluster_map_t *map,
                           char *why, size_t size);

/* The index of the master serving slot, or -1. */
int fp_cluster_map_owner(const fp_cluster_map_t *map, uint16_t slot);
/* The number of slots no master serves (0 when the cluster covers all). */
size_t fp_cluster_map_unserved(const fp_cluster_map_t *map);
/* The index of addr among the map's masters, or -1. */
int fp_cluster_map_find(const fp_cluster_map_t *map, const fp_cluster_addr_t *addr);

/* Routing of n queues, each named by one of its keys (all of a queue's keys
 * share its hash tag, so one slot): node_of[i] is the index in map of the
 * master serving queue i, or -1. Returns how many queues have no master;
 * why then names the first (the daemon is not ready while one has none). */
size_t fp_cluster_route(const fp_cluster_map_t *map, const char *const *keys, size_t n,
                        int *node_of, char *why, size_t size);

typedef enum {
    FP_CLUSTER_REDIRECT_NONE = 0, /* another error, or not an error */
    FP_CLUSTER_REDIRECT_MOVED,    /* the slot lives there now: refresh the map */
    FP_CLUSTER_REDIRECT_ASK,      /* migrating: ASKING then this command once there */
} fp_cluster_redirect_kind_t;

typedef struct fp_cluster_redirect_s {
    fp_cluster_redirect_kind_t kind;
    uint16_t slot;
    fp_cluster_addr_t to;
} fp_cluster_redirect_t;

/* An error reply's text ("MOVED 3999 127.0.0.1:6381", "ASK 3999 ..."): the
 * kind, slot and address; an empty host (":6381", a node without a known
 * endpoint) is asked_host. NONE for any other or a malformed text. */
fp_cluster_redirect_kind_t fp_cluster_redirect_parse(const char *text, size_t len,
                                                     const char *asked_host,
                                                     fp_cluster_redirect_t *out);

/* Which argument of a command is the key that routes it: 3 for EVAL and
 * EVALSHA with keys (their first key), the first stream after STREAMS for
 * XREAD and XREADGROUP, -1 for commands without a key (TIME, ROLE, PING,
 * WAIT, SCRIPT, CLUSTER, AUTH...: they go to the node last used, which is
 * what WAIT after an XADD needs), else 1. lens may be NULL (NUL-terminated
 * arguments). For the command line's blocking routing (lib/queue/admin*.c). */
int fp_cluster_command_key(int argc, const char *const *argv, const size_t *lens);

/* Error replies that mean "this node does not serve the command's slot
 * now", for a connection that follows one slot (lib/redis/cluster.h):
 * MOVED (the slot lives elsewhere), ASK and TRYAGAIN (the slot is being
 * migrated; the command was not applied), CLUSTERDOWN (the cluster lost a
 * master and serves nothing until a failover). Like the faults of
 * fp_redis_fault_reply they are treated as a lost connection: the
 * connection asks the map again and starts over after its back-off.
 * Returns what to say about msg[0..n), or NULL for any other reply. */
const char *fp_cluster_fault_reply(const char *msg, size_t n);

#endif
