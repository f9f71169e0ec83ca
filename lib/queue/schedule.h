/* schedule.h: periodic jobs in Redis. A schedule's last fired tick lives in
 * the hash P:{Q}:schedule (field: the schedule's name, value: the tick in
 * Unix ms), and one script per call records a tick and enqueues its job in
 * the same atomic step, only when the tick is newer than the recorded one.
 * That is the whole "exactly once across daemons" guarantee: every daemon
 * computes the same ticks, and whichever asks first fires each of them.
 * Pure parts (schedule.c): the script, the job id, the payload. Sending
 * (schedule_send.c): on the queue's writer connection, never blocking. */
#ifndef FORKPOOL_QUEUE_SCHEDULE_H
#define FORKPOOL_QUEUE_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "queue/queue.h"

/* KEYS: P:{Q}:schedule, P:{Q}:jobs (one hash tag, one slot). ARGV: the
 * schedule's name, its fingerprint (fp_schedule_fingerprint), then pairs of
 * tick (Unix ms, ascending) and payload. The record is the fields NAME (the
 * tick) and NAME:expr (the fingerprint; absent in an older version's).
 * No record, or one of another fingerprint (the expression changed): the
 * record becomes Redis TIME with this fingerprint and nothing fires, so a
 * schedule never fires ticks from before it (or its expression) existed,
 * and its start survives restarts. Otherwise, for each pair whose tick is
 * greater than the recorded one: XADD the payload as field `job`, then
 * HSET the tick. Returns {fired, recorded}: how many pairs were enqueued,
 * and the tick recorded afterwards. With no pairs it only reads (or
 * starts) the record. */
extern const char fp_schedule_script[];

/* "P:{Q}:schedule" (owned; NULL on allocation failure). */
char *fp_schedule_key(const char *prefix, const char *queue);

/* What the record's ticks are ticks of: "cron EXPR tz ZONE" or
 * "every MS". False when it does not fit. */
#define FP_SCHEDULE_FINGERPRINT_MAX 512 /* a cron text, a zone name and words */
bool fp_schedule_fingerprint(const fp_schedule_t *s, char *buf, size_t size);

/* The job id of a tick: "sched:NAME:2026-12-07T03:00:00Z" (with ".250"
 * before the Z when the tick is not a whole second), so `forkpool job`
 * finds it and two ticks never share one. False when it does not fit. */
bool fp_schedule_job_id(const char *name, int64_t tick_ms, char *buf, size_t size);

/* The tick as ISO 8601 UTC text, as in the job id. */
void fp_schedule_iso(int64_t tick_ms, char *buf, size_t size);

/* The job a tick enqueues: {"type": ..., "args": ..., "id": <job id>}
 * (owned; NULL on allocation failure). */
char *fp_schedule_payload(const fp_schedule_t *s, int64_t tick_ms);

/* What a call did: ok false when Redis did not answer as expected (nothing
 * else is then known); fired, the ticks enqueued by this call; recorded,
 * the schedule's tick in Redis after it (-1: none). */
typedef void (*fp_schedule_cb)(void *ctx, bool ok, int64_t fired, int64_t recorded);

/* Runs fp_schedule_script for schedule s (its queue at index `queue` of the
 * names given to fp_queue_new) with ticks[0..n) (n may be 0: read only).
 * -ENOTCONN while the writer is down or the queue closing (cb not called). */
int fp_queue_schedule(fp_queue_t *q, uint32_t queue, const fp_schedule_t *s,
                      const int64_t *ticks, size_t n, fp_schedule_cb cb, void *ctx);

#endif
