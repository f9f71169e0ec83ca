/* queue_flow.h: how many jobs have entered a queue's stream and how many its
 * group has taken, ever: Redis 7's own counters (XINFO STREAM
 * "entries-added", XINFO GROUPS "entries-read"), read by one small script
 * that returns the two numbers and never the entries XINFO STREAM shows.
 * Two reads some seconds apart give the queue's in and out rates
 * (`forkpool top`, top/top.h). */
#ifndef FORKPOOL_QUEUE_FLOW_H
#define FORKPOOL_QUEUE_FLOW_H

#include <hiredis/hiredis.h>

#include "base/err.h"
#include "queue/admin.h"

typedef struct fp_queue_flow_s {
    long long added; /* entries ever added to P:{Q}:jobs; -1 when Redis does not say (< 7) */
    long long read;  /* entries ever delivered to the group; -1 when Redis does not know */
} fp_queue_flow_t;

/* KEYS: the jobs stream. ARGV: the group. Returns {added, read}, -1 for an
 * unknown one; a missing stream is {0, 0}, a group not created yet read 0. */
extern const char fp_queue_flow_script[];

/* The script's reply into *out: 0, or -EPROTO for another shape. */
int fp_queue_flow_parse(const redisReply *r, fp_queue_flow_t *out);

/* Runs the script on queue under prefix for group; FP_EREDIS with Redis'
 * words when it fails. */
int fp_admin_queue_flow(fp_admin_t *a, const char *prefix, const char *group, const char *queue,
                        fp_queue_flow_t *out, fp_err_t *err);

#endif
