/* schedule.h: periodic jobs ([[schedule]]) on the embedded queue: the rule
 * of the Redis fire script (queue/schedule.h, fp_schedule_script) in SQL.
 * A schedule's record is the kv value (space "schedule:QUEUE", key: the
 * schedule's name) "TICK FINGERPRINT": the last fired tick in Unix ms (its
 * start before the first) and what the ticks are ticks of
 * (fp_schedule_fingerprint). One BEGIN IMMEDIATE transaction reads the
 * record, inserts the due jobs and writes the record, so any number of
 * daemons on one file fire each tick once: whichever takes the write lock
 * first fires it, the others then find it recorded. */
#ifndef FORKPOOL_SQLQ_SCHEDULE_H
#define FORKPOOL_SQLQ_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sqlq/store.h"

/* The kv space of a queue's schedules: "schedule:QUEUE". */
#define FP_SQLQ_SCHEDULE_SPACE "schedule:"

/* One tick to fire and the job it enqueues (fp_schedule_payload). */
typedef struct fp_sqlq_tick_s {
    int64_t tick_ms;
    const char *payload;
} fp_sqlq_tick_t;

/* The fire script's rule: no record, or one of another fingerprint: the
 * record becomes now_ms with this fingerprint and nothing fires. Else each
 * tick (ascending) newer than the recorded one is inserted into queue as a
 * job due now and recorded. *fired: the jobs inserted; *recorded: the
 * record's tick afterwards. n may be 0 (only reads, or starts, the record).
 * All or nothing: one transaction. */
int fp_sqlq_schedule_fire(fp_sqlq_t *q, const char *queue, const char *name,
                          const char *fingerprint, const fp_sqlq_tick_t *ticks, size_t n,
                          int64_t now_ms, int64_t *fired, int64_t *recorded, fp_err_t *err);

/* The recorded tick of (queue, name) when its fingerprint is `fingerprint`;
 * -1 when there is none of it (`forkpool schedule list`). Reads only. */
int fp_sqlq_schedule_recorded(fp_sqlq_t *q, const char *queue, const char *name,
                              const char *fingerprint, int64_t *tick, fp_err_t *err);

/* A record's value, and back: false when value is not "TICK FINGERPRINT". */
bool fp_sqlq_schedule_parse(const char *value, int64_t *tick, const char **fingerprint);
char *fp_sqlq_schedule_value(int64_t tick, const char *fingerprint);

#endif
