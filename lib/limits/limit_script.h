/* limit_script.h: the Redis side of concurrency and rate limits — key
 * names, the Lua scripts and their replies. Pure (text in, text out); the
 * daemon sends them on the queue's writer connection (lib/queue/qmux_limits.c).
 *
 *   P:{limit:TYPE}:running  sorted set: member = one admitted job
 *                           (fp_limit_member), score = when its lease runs
 *                           out, Unix ms by Redis' clock; the key
 *                           expires with its latest lease
 *   P:{limit:TYPE}:rate     string: the type's GCRA TAT, Unix us by Redis'
 *                           clock; expires once it is in the past
 *
 * Both carry the hash tag {limit:TYPE}: one Redis Cluster slot, so the
 * take script touches both in one atomic step. */
#ifndef FORKPOOL_LIMIT_SCRIPT_H
#define FORKPOOL_LIMIT_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "limits/limit.h"

/* "P:{limit:TYPE}:running" and "P:{limit:TYPE}:rate", owned; NULL on ENOMEM. */
char *fp_limit_running_key(const char *prefix, const char *type);
char *fp_limit_rate_key(const char *prefix, const char *type);

/* The lease's member for entry entry_id of queue held by consumer: owned
 * "consumer/queue/entry_id"; NULL on ENOMEM. The consumer keeps two daemons'
 * leases apart when one took the entry over from the other. */
char *fp_limit_member(const char *consumer, const char *queue, const char *entry_id);

/* The GCRA step as a Lua function gcra(tat, now, interval, tolerance)
 * returning ok (1/0), the TAT to store, the retry in us: fp_gcra_take's
 * twin (the cap of a TAT stored under a slower rate included), checked
 * against it by the drift test. */
extern const char fp_limit_gcra_lua[];

/* Take. KEYS: running, rate. ARGV: member, concurrency (0: none), lease_ms,
 * interval_us (0: no rate), tolerance_us. Drops expired leases; refuses
 * when concurrency leases are out (a member already there is renewed, not
 * counted twice); else takes a GCRA slot, and removes the member's lease
 * when the rate refuses (one it held before too). The set's TTL is never
 * shortened (another daemon's lease may be longer). Reply {1, "", 0} or
 * {0, "concurrency"|"rate", retry_ms}. */
extern const char fp_limit_take_lua[];

/* Renew. KEYS: running. ARGV: lease_ms, members... Each member gets a new
 * expiry, and one no longer there is added back (its job still runs);
 * reply: how many were no longer there (expired while this daemon held
 * them, e.g. Redis was unreachable longer than a lease). */
extern const char fp_limit_renew_lua[];

/* The take script's reply; -EPROTO when it is not one (an error reply). */
int fp_limit_take_reply(const redisReply *r, fp_limit_reply_t *out);

#endif
