/* name_lease.h: the daemon's claim on its consumer name. Two daemons under
 * one daemon.name reading one stream (two on one host, or two pods with a
 * copied config) would be one consumer of that stream's group: both would
 * run the same jobs and re-read each other's pending entries. A consumer
 * belongs to one stream's group, so the same name on different queues is no
 * clash (one daemon per queue on a host, all named after the host). So a
 * daemon holds one lease per queue it serves (key PREFIX:{QUEUE}:lease:NAME,
 * in the queue's Cluster slot, value "token host pid since_ms", expiring
 * after FP_LEASE_TTL_MS, renewed every third of that), starts consuming only
 * once it holds all of them, and deletes them on a clean exit.
 *
 * A live lease of another daemon on any of its queues means "refuse": the
 * daemon exits 78 with a message naming the queue and the holder. One
 * exception, decided per key, for a restart after a crash
 * (SIGKILL, OOM kill): when the holder recorded this host and its pid is no
 * longer running, the lease is taken over at once instead of waiting for it
 * to expire; when it recorded this very pid (a container restarted as pid 1
 * again, or a twin container on the host network), once its holder missed
 * a renewal. A lease that expired is simply taken.
 *
 * The decision is pure (fp_lease_decide); the rest is thin I/O on its own
 * Redis connection, which keeps trying while Redis is down. */
#ifndef FORKPOOL_NAME_LEASE_H
#define FORKPOOL_NAME_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "config/config.h"
#include "base/err.h"

#define FP_LEASE_TTL_MS 15000
#define FP_LEASE_RETRY_MS 1000 /* after an error reply or a lost connection */

/* "P:{QUEUE}:lease:NAME", owned (free()); NULL on ENOMEM. */
char *fp_lease_key(const char *prefix, const char *queue, const char *name);

typedef struct fp_lease_holder_s {
    char token[40];
    char host[256];
    long long pid;
    int64_t since_ms; /* Unix ms */
} fp_lease_holder_t;

/* "token host pid since_ms" into buf; the length, or -1 when it does not fit
 * (or a part contains a space). */
int fp_lease_format(const fp_lease_holder_t *h, char *buf, size_t size);

/* The reverse; false when s[0..n) is not such a value. */
bool fp_lease_parse(const char *s, size_t n, fp_lease_holder_t *out);

typedef enum fp_lease_verdict_e {
    FP_LEASE_REFUSE,    /* another daemon holds the name */
    FP_LEASE_TAKE_OVER, /* a dead predecessor on this host holds it */
    FP_LEASE_WAIT,      /* cannot tell yet: ask again in FP_LEASE_RETRY_MS */
} fp_lease_verdict_t;

/* A holder that renews every third of the TTL never shows less than this
 * left; less means it missed a renewal. */
#define FP_LEASE_LAPSED_MS (FP_LEASE_TTL_MS * 2 / 3 - FP_LEASE_RETRY_MS)

/* What to do about a lease held under another token. holder_alive: whether
 * holder->pid runs on this host (only asked when the hosts match); pttl_ms:
 * the holder's time left; waited_ms: how long this key has been seen held
 * by a holder with our own pid so far. Our own pid on our host is no proof
 * of a predecessor: two containers sharing the host's name (host network)
 * both run as pid 1. Such a lease is taken over once its holder missed a
 * renewal, and refused once a renewal period went by without that. */
fp_lease_verdict_t fp_lease_decide(const fp_lease_holder_t *me, const fp_lease_holder_t *holder,
                                   bool holder_alive, int64_t pttl_ms, int64_t waited_ms);

/* The refusal message: daemon.name, the queue, the holder (host, pid, since
 * when, as UTC) and the time left on its lease. */
void fp_lease_describe(const char *name, const char *queue, const fp_lease_holder_t *holder,
                       int64_t pttl_ms, char *buf, size_t size);

/* Where the claim of one queue's key stands. */
typedef struct fp_lease_key_status_s {
    bool ours;      /* claimed at least once, not lost since */
    bool in_flight; /* a claim is on its way */
    bool retry;     /* the last claim got an error reply */
} fp_lease_key_status_t;

/* Consuming may start: every queue's key is ours. */
bool fp_lease_all_ours(const fp_lease_key_status_t *keys, size_t n);

/* When the next round of claims goes out, once a reply came: -1 while some
 * claim is still on its way (its reply decides), a third of the TTL when
 * every key is ours, else FP_LEASE_RETRY_MS. */
int fp_lease_next_ms(const fp_lease_key_status_t *keys, size_t n);

typedef struct fp_lease_s fp_lease_t;

typedef struct fp_lease_events_s {
    /* The leases of all queues are ours (once; renewals and re-claims after
     * a reconnect do not call it again). */
    void (*on_held)(void *ctx);
    /* Another daemon holds the name on one of the queues, at start or after
     * this one lost it; why names the queue and the holder. Renewal stops. */
    void (*on_refused)(void *ctx, const char *why);
} fp_lease_events_t;

/* Connection from cfg, one key per queue of queues[0..nqueues) (cfg and
 * queues borrowed until closed). */
int fp_lease_new(uv_loop_t *loop, const fp_config_t *cfg, const char *const *queues,
                 size_t nqueues, const fp_lease_events_t *events, void *ctx, fp_lease_t **out,
                 fp_err_t *err);

/* The same over a Redis Cluster: each queue's key is claimed on a
 * connection of its own that follows the key's slot through cl
 * (lib/redis/cluster.h; borrowed, closed after the lease). cl NULL: as
 * fp_lease_new. */
struct fp_cluster_s;
int fp_lease_new_cluster(uv_loop_t *loop, const fp_config_t *cfg, const char *const *queues,
                         size_t nqueues, struct fp_cluster_s *cl,
                         const fp_lease_events_t *events, void *ctx, fp_lease_t **out,
                         fp_err_t *err);

/* Connects (retrying while Redis is down) and claims the name on every queue. */
void fp_lease_start(fp_lease_t *l);

/* Deletes every key this daemon may hold while Redis is reachable (compare
 * and delete: never someone else's), closes the connection, frees, then
 * calls cb (may be NULL). */
void fp_lease_close(fp_lease_t *l, void (*cb)(void *ctx), void *ctx);

#endif
