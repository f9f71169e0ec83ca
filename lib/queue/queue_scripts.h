/* queue_scripts.h: the Lua scripts that record outcomes, answer "drained?",
 * take over abandoned entries, remove idle consumers and move due delayed
 * jobs, and the pure pieces around them: Redis key names, stream ids, and the
 * RESP encoding of a batch of outcomes (built once, sent as-is, re-sent as-is
 * after a reconnect) or of a plain command. No I/O here; the queue's files
 * (queue_internal.h) send what this builds. The scripts need Redis 6.2+
 * (XPENDING IDLE, exclusive ranges); forkpool targets 7.0. */
#ifndef FORKPOOL_QUEUE_SCRIPTS_H
#define FORKPOOL_QUEUE_SCRIPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/stream_id.h" /* entry ids, which the scripts take and return */
#include "dispatch/proto.h"

/* KEYS: jobs stream, dead stream, delayed zset, cancel hash, take-over
 * token (one hash tag, one slot).
 * ARGV: group, consumer, lo, hi, first ("1" on a batch's first send), token,
 * then outcomes, each a kind letter and the entry id. lo and hi: the
 * smallest and largest entry id among the outcomes (fp_sid_span; "-" and "+"
 * do too), the span over which the script reads this consumer's pending
 * entries in one call; an id outside it is looked up alone, so a wrong span
 * costs time, never correctness. token: the take-over token the batch's
 * entries were read under (takeover_token.h), or FP_TAKEOVER_UNTRUSTED;
 * when it is still Redis' token, the entries are known to be pending to
 * `consumer` and neither lookup is made. Kinds:
 *   a id                                   success: XACK + XDEL
 *   p id payload                           put back: XADD at the tail + XACK + XDEL
 *   r id payload delay_ms                  retry: ZADD delayed at TIME + delay_ms + XACK + XDEL
 *   d id payload error attempts failed_at  dead: XADD dead + XACK + XDEL
 *   k id                                   a, and the job's unique key released
 *   x id payload error attempts failed_at  d, and the job's unique key released
 * An outcome acts only when the entry is pending to `consumer` (XPENDING),
 * so re-sending a batch after a lost reply adds nothing twice and an entry
 * another consumer took over is left to it. The upper-case kinds (A, P, R,
 * D) are for entries the daemon saw deleted from the stream while it held
 * them: they act also when the entry is pending to nobody (its pending
 * record was dropped with it), so the job's retry or dead letter still lands.
 * An outcome that acts deletes the entry's mark in the cancel hash (set by
 * `forkpool cancel`, queue/cancel.h); a marked entry's retry (r) or put back
 * (p) goes to the dead stream with the error "cancelled" instead (attempts:
 * the payload's "attempt", failed_at: Redis' clock; its unique key
 * released): a cancelled job never runs again.
 * Returns {applied, {{id, holder}...}, {cancelled ids...}, token}: how many
 * acted, the others, with the consumer holding each ('' when none), the ids
 * whose retry or put back became a cancel, and the take-over token ('' when
 * none was ever written). */
extern const char fp_script_outcomes[];
#define FP_SCRIPT_OUTCOMES_KEYS 5
#define FP_SCRIPT_OUTCOMES_ARGS 6 /* before the outcomes */

/* Claim renewal. KEYS: jobs stream. ARGV: group, consumer, ids... Renews
 * (XCLAIM 0 ... JUSTID) the ids pending to `consumer` whose stream entry
 * still exists, and only those. Returns {renewed, {deleted ids...},
 * {{id, holder}...}}: deleted ids are still pending to `consumer` but gone
 * from the stream (left pending, not renewed); the last list holds the ids
 * pending to another consumer, or to none (holder ''). */
extern const char fp_script_renew[];
#define FP_SCRIPT_RENEW_KEYS 1

/* Taking cancel marks. KEYS: jobs stream, cancel hash. ARGV: group,
 * consumer. Only HLEN when the hash is empty. Otherwise deletes the marks of
 * entries pending to `consumer` and returns their ids ({id...}); also
 * deletes, without returning them, marks of entries pending to nobody
 * (settled) and fields that are no entry id. Marks of entries another
 * consumer holds are left to it. */
extern const char fp_script_cancel_take[];
#define FP_SCRIPT_CANCEL_TAKE_KEYS 2

/* KEYS: jobs stream, delayed set. ARGV: group, then delayed members to look
 * for (the retries a --burst run scheduled). Returns {pending, ready,
 * waiting}: the group's pending count (every consumer), 1 when an entry lies
 * beyond the group's last-delivered id (0 otherwise), and the 1-based
 * positions, among the members given, of those still in the delayed set.
 * Reads only; claims nothing. */
extern const char fp_script_drained[];
#define FP_SCRIPT_DRAINED_KEYS 2

/* Take-over sweep of one queue. KEYS: jobs stream. ARGV: group, consumer,
 * min_idle_ms, want, scan_max. Walks the group's entries pending longer than
 * min_idle_ms (XPENDING IDLE) that belong to other consumers, at most scan_max
 * of them: one whose stream entry is gone is acknowledged (dropped); others
 * are claimed (XCLAIM min_idle_ms, so an entry renewed or claimed meanwhile is
 * left alone) until want were claimed. want 0 only drops. KEYS[2]: the
 * queue's cancel hash. Returns {dropped, {{id, fields, deliveries,
 * marked}...}}, deliveries counting this claim, marked 1 when `forkpool
 * cancel` marked the entry (its previous holder died before taking the
 * mark): the claimer settles it as cancelled instead of starting it.
 * KEYS[3]: the queue's take-over token, renewed when anything was claimed or
 * dropped (takeover_token.h). */
extern const char fp_script_claim[];
#define FP_SCRIPT_CLAIM_KEYS 3

/* One page of this consumer's own pending entries, re-read after a (re)start
 * or a reconnect. KEYS: jobs stream. ARGV: group, consumer, start ("-" or
 * "(id"), count, counted. XREADGROUP with an id would count every re-read as
 * a delivery, also of entries still running here, and a daemon taking them
 * over later would find them "delivered N times". So the page is XPENDING
 * (this consumer only) with each entry's fields read by XRANGE, which counts
 * nothing. Entries with an id above `counted` (an id, or "+" for none) are
 * a delivery to this process all the same (a predecessor under the same name
 * left them): their counter goes up by one (XCLAIM RETRYCOUNT ... JUSTID; the
 * entry is ours already). Returns {{id, fields or nil when the stream entry
 * is gone, deliveries, marked}...}, one per pending entry of the page;
 * KEYS[2] is the queue's cancel hash and marked is 1 for an entry cancelled
 * while its holder (this name's previous process) was gone. */
extern const char fp_script_history[];
#define FP_SCRIPT_HISTORY_KEYS 2

/* KEYS: jobs stream. ARGV: group, consumer, min_idle_ms. Removes the group's
 * consumers other than `consumer` that have nothing pending and have been idle
 * at least min_idle_ms, atomically with the check. Returns how many. */
extern const char fp_script_consumers[];
#define FP_SCRIPT_CONSUMERS_KEYS 1

/* KEYS: jobs stream, delayed zset. ARGV: limit. Moves up to `limit` members
 * due by Redis' clock back to the stream (XADD * job member, then ZREM).
 * Returns {moved, wait_ms}: wait_ms until the next member is due by the same
 * clock, -1 when none is left. */
extern const char fp_script_mover[];
#define FP_SCRIPT_MOVER_KEYS 2

/* Outcomes per script call: bigger batches are split so that one call never
 * holds Redis for long. */
#define FP_OUTCOMES_PER_CALL 512

/* A growing buffer of RESP bulk strings ("$3\r\nfoo\r\n") and their count. */
typedef struct fp_resp_s {
    char *data;
    size_t len;
    size_t cap;
    size_t argc;
} fp_resp_t;

void fp_resp_init(fp_resp_t *b);
void fp_resp_free(fp_resp_t *b);
/* Empties the buffer, keeping its memory. */
void fp_resp_reset(fp_resp_t *b);
/* Appends one bulk string; 0 or -ENOMEM (then b is unchanged). */
int fp_resp_arg(fp_resp_t *b, const char *s, size_t n);
int fp_resp_arg_str(fp_resp_t *b, const char *s);
int fp_resp_arg_int(fp_resp_t *b, int64_t v);

/* Each appends one outcome's arguments; 0 or -ENOMEM (then b is unchanged).
 * vanished: the entry was seen deleted from the stream while held (the
 * upper-case kind). A retry carries its delay, not a due time: the script
 * adds it to Redis' clock. */
int fp_outcome_encode_ack(fp_resp_t *b, bool vanished, const char *id);
int fp_outcome_encode_put_back(fp_resp_t *b, bool vanished, const char *id, const char *payload,
                               size_t len);
int fp_outcome_encode_retry(fp_resp_t *b, bool vanished, const char *id, const char *payload,
                            size_t len, int64_t delay_ms);
int fp_outcome_encode_dead(fp_resp_t *b, bool vanished, const char *id, const char *payload,
                           size_t len, const char *error, int64_t attempts,
                           int64_t failed_at_unix_ms);
/* The same as ack and dead, for an entry whose job has a "unique" member:
 * the outcome also releases the job's unique key if it still holds the
 * job's id (kinds k and x). */
int fp_outcome_encode_ack_unique(fp_resp_t *b, bool vanished, const char *id);
int fp_outcome_encode_dead_unique(fp_resp_t *b, bool vanished, const char *id,
                                  const char *payload, size_t len, const char *error,
                                  int64_t attempts, int64_t failed_at_unix_ms);

/* The fields of a stream entry (n strings: name, value, name, value...; an
 * odd last one is ignored) as one JSON object appended to out, binary-safe:
 * NUL bytes and all are kept (escaped). 0 or -ENOMEM. */
int fp_entry_fields_json(fp_buf_t *out, const char *const *strs, const size_t *lens, size_t n);

/* Writes a whole script call into out (reset first):
 *   EVALSHA sha nkeys keys... args... <tail's arguments>      when sha != NULL
 *   EVAL script nkeys keys... args... <tail's arguments>      otherwise
 * tail may be NULL. 0 or -ENOMEM. */
int fp_script_command(fp_resp_t *out, const char *sha, const char *script,
                      const char *const *keys, size_t nkeys, const char *const *args,
                      size_t nargs, const fp_resp_t *tail);

/* Writes args as one command ("*argc" header, then the arguments) into out
 * (reset first). 0 or -ENOMEM. */
int fp_resp_command(fp_resp_t *out, const fp_resp_t *args);

/* True when s[0..n) is what SCRIPT LOAD returns: 40 lowercase hex digits. */
bool fp_script_sha_valid(const char *s, size_t n);

/* "P:{Q}:kind", owned (free()); NULL on ENOMEM. kind: "jobs", "dead", "delayed". */
char *fp_queue_key(const char *prefix, const char *queue, const char *kind);


/* True for error replies that mean "try again later", not "this failed":
 * LOADING (dataset loading), BUSY (a script runs), TRYAGAIN, MASTERDOWN,
 * CLUSTERDOWN. */
bool fp_redis_error_transient(const char *msg, size_t n);

#endif
