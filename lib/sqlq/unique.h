/* unique.h: unique jobs (queue/unique.h's contract) on the embedded queue.
 * A job whose payload has "unique": {"key": K} holds the kv value (space
 * "unique:QUEUE", key K, value: the job's "id", expiring after its TTL)
 * from its enqueue, the value and the row written in one transaction or
 * neither, until its outcome releases it (success or dead, committed with
 * the outcome: fp_sqlq_unique_settle), or with "until": "start" when a
 * child starts it (fp_sqlq_unique_release), or its TTL runs out. Every
 * release is a compare-and-delete on the id, so an old job never frees a
 * newer one's key. */
#ifndef FORKPOOL_SQLQ_UNIQUE_H
#define FORKPOOL_SQLQ_UNIQUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sqlq/store.h"

/* The kv space of a queue's unique keys: "unique:QUEUE". */
#define FP_SQLQ_UNIQUE_SPACE "unique:"

/* One unique job to add: payload carries "id" = id and "unique"."key" = key. */
typedef struct fp_sqlq_unique_new_s {
    const char *queue;
    const char *key;
    const char *id;
    int64_t ttl_ms;   /* > 0 (fp_unique_ttl_ms) */
    int64_t delay_ms; /* >= 0 */
    const char *payload;
    size_t len;
} fp_sqlq_unique_new_t;

/* The unique enqueue script's rule (fp_script_unique_enqueue), in one
 * transaction: when a live value holds (queue, key), nothing is written,
 * *duplicate is true and *holder (owned, free()) its id; else the key is
 * set to id until now_ms + ttl_ms and the row added (*row_id, may be NULL),
 * *holder a copy of id. The queue's expired keys are purged first. */
int fp_sqlq_unique_enqueue(fp_sqlq_t *q, const fp_sqlq_unique_new_t *job, int64_t now_ms,
                           bool *duplicate, char **holder, int64_t *row_id, fp_err_t *err);

/* Compare-and-delete: frees (queue, key) only while it holds id. */
int fp_sqlq_unique_release(fp_sqlq_t *q, const char *queue, const char *key, const char *id,
                           bool *released, fp_err_t *err);

/* Whether the file holds any unique key live at now_ms (of any queue):
 * the one query an outcome transaction pays for the feature; only when it
 * says yes are the settled rows' payloads read. */
int fp_sqlq_unique_any(fp_sqlq_t *q, int64_t now_ms, bool *any, fp_err_t *err);

/* Inside an outcome's transaction, before the row goes: when row id is
 * leased to consumer and its payload names a unique key, releases that key
 * if it holds the payload's id. A payload without a usable key or id
 * releases nothing and is no error (the daemon sends such a payload dead). */
int fp_sqlq_unique_settle(fp_sqlq_t *q, const char *consumer, int64_t id, fp_err_t *err);

/* `forkpool dead retry`'s retake (the Redis dead requeue script's): before
 * dead row id of queue (id 0: every dead row of queue) moves back, its
 * unique key, released when it went dead, is taken again for the job's id
 * (string "id" and "unique"."key" only, as the script's) with the default
 * TTL (FP_UNIQUE_TTL_DEFAULT_MS), where the key is free; a key another job
 * holds is left to it. Inside the caller's transaction. */
int fp_sqlq_unique_retake(fp_sqlq_t *q, const char *queue, int64_t id, int64_t now_ms,
                          fp_err_t *err);

/* Pure: the "unique"."key" and the "id" of a job's JSON text (owned,
 * free()), the id as the Redis release compares it (a number printed as Lua
 * prints it, %.14g). False (both NULL) when the text has none usable. */
bool fp_sqlq_unique_of(const char *payload, size_t len, char **key, char **id);

#endif
