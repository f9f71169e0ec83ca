/* store.h: the embedded queue's storage on one SQLite file (issue 19, first
 * piece; not yet reachable by users). The delivery contract of the Redis
 * backend (docs/redis.md, "The delivery contract") transposed to SQL:
 * at-least-once with leases, delivery counts, retries with due times, dead
 * letters, put-back, delayed jobs, several processes on one file. The design,
 * schema and lease rules: docs/embedded.md.
 *
 * Synchronous: every call runs SQLite on the calling thread, so a caller on
 * an event loop must call it from a worker thread. One fp_sqlq_t is one
 * connection, used by one thread at a time and never across a fork. Times
 * are the caller's clock in milliseconds (now_ms), so tests and the caller
 * decide what "now" is; processes sharing one file must share the clock
 * (wall clock on one host).
 *
 * Every function returns 0 or a negative code (-errno, FP_EBADSTORE) with a
 * message in err. */
#ifndef FORKPOOL_SQLQ_STORE_H
#define FORKPOOL_SQLQ_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* PRAGMA application_id of a forkpool queue file ("FPQ1"), and the schema
 * version in PRAGMA user_version. A file with another application_id, or a
 * newer version, is refused with FP_EBADSTORE. Version 2 added the kv table
 * (kv.h), version 3 the traffic counters (fp_sqlq_traffic); an older file
 * is brought up to date when opened. */
#define FP_SQLQ_APPLICATION_ID 0x46505131
#define FP_SQLQ_SCHEMA_VERSION 3

/* fp_sqlq_open flags. */
enum {
    /* synchronous = FULL: a commit survives a power cut (an fsync of the WAL
     * per commit). The default, NORMAL, survives a process crash but a power
     * cut may lose the last commits (docs/embedded.md). */
    FP_SQLQ_SYNC_FULL = 1 << 0,
    /* Read the whole file once (PRAGMA quick_check) before accepting it, so
     * a page damaged inside is refused at open rather than met by a later
     * call; it costs a pass over the file, for a daemon's start rather than
     * a one-off command's. */
    FP_SQLQ_CHECK = 1 << 1,
};

/* How long a call waits for another connection's write lock before -EBUSY. */
#define FP_SQLQ_BUSY_TIMEOUT_MS 5000

typedef struct fp_sqlq_s fp_sqlq_t;

/* Creates the file (with its schema) or opens an existing queue file. A file
 * that is not an SQLite database, is truncated or damaged (inside its pages:
 * with FP_SQLQ_CHECK), carries another application_id, or a newer schema
 * version, is refused with FP_EBADSTORE and left exactly as it was. Damage
 * met later makes the call that met it return FP_EBADSTORE. */
int fp_sqlq_open(const char *path, int flags, fp_sqlq_t **out, fp_err_t *err);
void fp_sqlq_close(fp_sqlq_t *q);

/* Adds a job, due at now_ms + delay_ms (delay_ms >= 0); *id (may be NULL)
 * gets its row id, the job's stream-id equivalent. Ids only grow: an id is
 * never given to two jobs. */
int fp_sqlq_enqueue(fp_sqlq_t *q, const char *queue, const void *payload, size_t len,
                    int64_t delay_ms, int64_t now_ms, int64_t *id, fp_err_t *err);

/* One job of fp_sqlq_enqueue_batch. */
typedef struct fp_sqlq_new_s {
    const void *payload;
    size_t len;
    int64_t delay_ms; /* >= 0 */
} fp_sqlq_new_t;

/* Adds n jobs to queue in one transaction (all or none), in the order given;
 * ids (may be NULL; n entries) gets their row ids. Every item is checked
 * before anything is written. */
int fp_sqlq_enqueue_batch(fp_sqlq_t *q, const char *queue, const fp_sqlq_new_t *items, size_t n,
                          int64_t now_ms, int64_t *ids, fp_err_t *err);

/* A pulled job. payload is NUL-terminated (len excludes the NUL). */
typedef struct fp_sqlq_job_s {
    int64_t id;
    size_t queue;        /* index into the pull's queues[] */
    int64_t deliveries;  /* counting this delivery */
    int64_t enqueued_at; /* when the row was added (a retry or put-back: re-added) */
    char *payload;
    size_t len;
} fp_sqlq_job_t;

/* A pull's result (fp_sqlq_jobs_free). */
typedef struct fp_sqlq_jobs_s {
    fp_sqlq_job_t *v;
    size_t n;
} fp_sqlq_jobs_t;

void fp_sqlq_jobs_free(fp_sqlq_jobs_t *jobs);

/* fp_sqlq_pull flags. */
enum {
    /* Also hand back rows still leased to this very consumer: its previous
     * process died holding them (as the Redis backend's history re-read
     * after a start). Only for the first pull of a process: later, rows
     * leased to the consumer are the ones it is running. */
    FP_SQLQ_PULL_OWN = 1 << 0,
};

/* In one BEGIN IMMEDIATE transaction, takes up to max rows from queues[0],
 * then queues[1], ... (strict order): rows available at now_ms, that is
 * ready (due, not leased) or leased with the lease expired (any consumer's:
 * taken over), in the order they became available. Each taken row gets
 * owner = consumer, lease until now_ms + lease_ms, deliveries + 1. jobs is
 * replaced (freed first). */
int fp_sqlq_pull(fp_sqlq_t *q, const char *const *queues, size_t nqueues, const char *consumer,
                 size_t max, int64_t lease_ms, int64_t now_ms, int flags, fp_sqlq_jobs_t *jobs,
                 fp_err_t *err);

/* As fp_sqlq_pull, and at most caps[i] rows from queues[i] (caps may be
 * NULL: no cap), for a caller that plans weighted order itself (how many of
 * each queue this pull may take), as the Redis backend's weighted plan does;
 * max still bounds the whole pull. */
int fp_sqlq_pull_capped(fp_sqlq_t *q, const char *const *queues, const size_t *caps,
                        size_t nqueues, const char *consumer, size_t max, int64_t lease_ms,
                        int64_t now_ms, int flags, fp_sqlq_jobs_t *jobs, fp_err_t *err);

/* Extends to now_ms + lease_ms the leases this consumer still holds among
 * ids, in one transaction. held (may be NULL; n entries) says which ids were
 * still held; *renewed (may be NULL) counts them. */
int fp_sqlq_renew(fp_sqlq_t *q, const char *consumer, const int64_t *ids, size_t n,
                  int64_t lease_ms, int64_t now_ms, bool *held, size_t *renewed, fp_err_t *err);

typedef enum {
    FP_SQLQ_ACK,      /* done: the row is deleted */
    FP_SQLQ_RETRY,    /* a new row with payload, due at now + delay_ms; deliveries start at 0 */
    FP_SQLQ_DEAD,     /* moved to the dead table with error, attempts, failed_at = now */
    FP_SQLQ_PUT_BACK, /* a new row due now; this delivery does not count */
} fp_sqlq_kind_t;

typedef struct fp_sqlq_outcome_s {
    fp_sqlq_kind_t kind;
    int64_t id;
    const char *payload; /* RETRY, DEAD, PUT_BACK: the new payload; NULL keeps the row's */
    size_t len;
    int64_t delay_ms;    /* RETRY */
    const char *error;   /* DEAD (NULL: "") */
    int64_t attempts;    /* DEAD */
} fp_sqlq_outcome_t;

/* An outcome that did not act: its row is leased to holder ("" when to
 * nobody, or the row is gone). */
typedef struct fp_sqlq_stale_s {
    int64_t id;
    char holder[128];
} fp_sqlq_stale_t;

typedef struct fp_sqlq_stales_s {
    fp_sqlq_stale_t *v;
    size_t n;
} fp_sqlq_stales_t;

void fp_sqlq_stales_free(fp_sqlq_stales_t *stales);

/* Applies the outcomes in one transaction, each only when its row is still
 * leased to consumer; the others change nothing and are listed in stale
 * (replaced, may be NULL). So a batch applied twice acts once. *applied (may
 * be NULL) counts the outcomes that acted. An unknown kind fails the whole
 * call (-EINVAL) before anything is written. */
int fp_sqlq_outcomes(fp_sqlq_t *q, const char *consumer, const fp_sqlq_outcome_t *items,
                     size_t n, int64_t now_ms, size_t *applied, fp_sqlq_stales_t *stale,
                     fp_err_t *err);

/* As fp_sqlq_outcomes; new_ids (may be NULL; n entries) gets the id of the
 * row each RETRY or PUT_BACK that acted made, 0 for the others, so that a
 * caller can follow its own retries (--burst waits for them). */
int fp_sqlq_outcomes_ids(fp_sqlq_t *q, const char *consumer, const fp_sqlq_outcome_t *items,
                         size_t n, int64_t now_ms, size_t *applied, fp_sqlq_stales_t *stale,
                         int64_t *new_ids, fp_err_t *err);

typedef struct fp_sqlq_counts_s {
    int64_t ready;   /* due and not leased */
    int64_t delayed; /* not yet due */
    int64_t leased;  /* held by a consumer (expired leases included) */
    int64_t dead;
} fp_sqlq_counts_t;

int fp_sqlq_counts(fp_sqlq_t *q, const char *queue, int64_t now_ms, fp_sqlq_counts_t *out,
                   fp_err_t *err);

/* Rows queue ever got (*added: enqueues, retries, put-backs) and rows taken
 * from nobody by a pull (*taken), counted by triggers since the file (or its
 * schema 3) exists: the in and out rates. 0 and 0 for a queue never used. */
int fp_sqlq_traffic(fp_sqlq_t *q, const char *queue, int64_t *added, int64_t *taken,
                    fp_err_t *err);

typedef struct fp_sqlq_dead_s {
    int64_t id; /* the dead row's id, not the job's */
    char *payload;
    size_t len;
    char *error;
    char *consumer;
    int64_t attempts;
    int64_t failed_at;
} fp_sqlq_dead_t;

typedef struct fp_sqlq_deads_s {
    fp_sqlq_dead_t *v;
    size_t n;
} fp_sqlq_deads_t;

void fp_sqlq_deads_free(fp_sqlq_deads_t *deads);

/* One page of a queue's dead rows, oldest first, with ids > after_id. */
int fp_sqlq_dead_list(fp_sqlq_t *q, const char *queue, int64_t after_id, size_t limit,
                      fp_sqlq_deads_t *out, fp_err_t *err);
/* The limit newest dead rows of queue, newest first (the status page's
 * list). */
int fp_sqlq_dead_newest(fp_sqlq_t *q, const char *queue, size_t limit, fp_sqlq_deads_t *out,
                        fp_err_t *err);

/* Moves dead rows back to their queue as new rows due now (deliveries 0):
 * the ids given (n > 0), or every dead row of queue (ids NULL, n 0). */
int fp_sqlq_dead_retry(fp_sqlq_t *q, const char *queue, const int64_t *ids, size_t n,
                       int64_t now_ms, size_t *moved, fp_err_t *err);

/* Deletes dead rows: the ids given, or every dead row of queue (ids NULL). */
int fp_sqlq_dead_purge(fp_sqlq_t *q, const char *queue, const int64_t *ids, size_t n,
                       size_t *removed, fp_err_t *err);

/* Returns up to max_pages free pages to the file system (PRAGMA
 * incremental_vacuum); *freed gets how many. For the caller to run now and
 * then: acks free pages but only this shrinks the file. */
int fp_sqlq_vacuum_step(fp_sqlq_t *q, int64_t max_pages, int64_t *freed, fp_err_t *err);

typedef struct fp_sqlq_size_s {
    int64_t file_bytes; /* the database file */
    int64_t wal_bytes;  /* its -wal file (0 when absent) */
    int64_t free_bytes; /* free pages inside the database */
} fp_sqlq_size_t;

int fp_sqlq_size(fp_sqlq_t *q, fp_sqlq_size_t *out, fp_err_t *err);

/* ---- probes (probe.c): cheap reads for a consumer's polling and metrics,
 * and the write probe of a consumer whose file failed it -------------------- */

/* PRAGMA data_version of this connection: it changes when another
 * connection committed, so an idle consumer learns of an enqueue without a
 * pull (a write transaction). */
int fp_sqlq_data_version(fp_sqlq_t *q, int64_t *version, fp_err_t *err);

/* Whether the row id is still in the jobs table (ready, delayed or leased). */
int fp_sqlq_exists(fp_sqlq_t *q, int64_t id, bool *exists, fp_err_t *err);

/* The time the oldest ready row of queue became available (its due time or
 * its put-back), or -1 when none is ready at now_ms: the queue's "oldest
 * ready age" is now_ms minus it. */
int fp_sqlq_oldest_ready(fp_sqlq_t *q, const char *queue, int64_t now_ms, int64_t *avail_at,
                         fp_err_t *err);

/* One write transaction that writes a page (the header's user_version set
 * to what it is), changing nothing a reader sees: whether the file takes
 * writes again after a store error (a full disk, a lock held past the busy
 * timeout). An empty transaction would not do: it commits without writing. */
int fp_sqlq_write_probe(fp_sqlq_t *q, fp_err_t *err);

#endif
