/* fleet.h: the fleet heartbeat (queue/heartbeat.h) in the queue file, for
 * daemons that share an embedded queue: each daemon's record in kv space
 * "heartbeat" (key: its fleet id NAME@HOST:PID, value: the record's JSON,
 * expiring as the Redis key's TTL does) and its last-seen time in space
 * "fleet" (value: Unix ms; expiring FP_FLEET_GONE_KEEP_MS after the beat,
 * which is the Redis set's pruning). A member whose record expired is a
 * daemon that died: shown as gone, as on Redis. Clock: the writer's
 * (every daemon on one file shares the host's). */
#ifndef FORKPOOL_SQLQ_FLEET_H
#define FORKPOOL_SQLQ_FLEET_H

#include <stdbool.h>
#include <stdint.h>

#include "queue/heartbeat.h"
#include "sqlq/store.h"

#define FP_SQLQ_FLEET_RECORDS "heartbeat"
#define FP_SQLQ_FLEET_SEEN "fleet"

/* Writes id's record (expiring ttl_ms after now_ms) and its last-seen time,
 * and deletes what expired of both, in one transaction. */
int fp_sqlq_fleet_beat(fp_sqlq_t *q, const char *id, const char *record, int64_t ttl_ms,
                       int64_t now_ms, fp_err_t *err);

/* Deletes id's record and last-seen time, unless a live record of id
 * carries another token (another run under the same id keeps its own), as
 * the Redis clear script does. *cleared (may be NULL) says whether it did. */
int fp_sqlq_fleet_clear(fp_sqlq_t *q, const char *id, const char *token, int64_t now_ms,
                        bool *cleared, fp_err_t *err);

/* The FP_FLEET_READ_MAX most recently seen members and their records as of
 * now_ms, decoded and ordered as fp_admin_fleet's. Changes nothing. *out is
 * cleared first; fp_fleet_clear frees it, also after an error. */
int fp_sqlq_fleet_read(fp_sqlq_t *q, int64_t now_ms, fp_fleet_t *out, fp_err_t *err);

#endif
