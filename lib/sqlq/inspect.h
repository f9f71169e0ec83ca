/* inspect.h: what the command line asks of a queue file beyond the daemon's
 * contract (store.h): one queue's state for `forkpool stats` (the oldest
 * ready row, who holds leases), one job by its id (`forkpool job`), the
 * newest dead row, and dead rows moved
 * back with payloads the caller rewrote (`forkpool dead retry`). Same rules
 * as store.h: synchronous, 0 or a negative code with a message. */
#ifndef FORKPOOL_SQLQ_INSPECT_H
#define FORKPOOL_SQLQ_INSPECT_H

#include "sqlq/store.h"

/* A consumer holding leases on a queue's rows. */
typedef struct fp_sqlq_holder_s {
    char *owner;          /* owned */
    int64_t rows;         /* rows leased to it (expired leases included) */
    int64_t lease_end_ms; /* the latest end among its leases */
} fp_sqlq_holder_t;

/* One queue's state at now_ms, read in one read transaction so its numbers
 * agree with each other. */
typedef struct fp_sqlq_view_s {
    fp_sqlq_counts_t counts;
    int64_t oldest_id;       /* the ready row a pull takes first; 0 when none is ready */
    int64_t oldest_avail_ms; /* since when it is available */
    int64_t live_leases;     /* leased rows whose lease has not run out */
    int64_t added, taken;    /* fp_sqlq_traffic's */
    fp_sqlq_holder_t *holders; /* owned; by name */
    size_t nholders;
} fp_sqlq_view_t;

int fp_sqlq_view(fp_sqlq_t *q, const char *queue, int64_t now_ms, fp_sqlq_view_t *out,
                 fp_err_t *err);
void fp_sqlq_view_clear(fp_sqlq_view_t *v);

/* One job found by fp_sqlq_find. Strings are owned (fp_sqlq_found_clear). */
typedef struct fp_sqlq_found_s {
    bool dead;           /* a dead row (error, attempts, failed_at set), else a job row */
    int64_t id;          /* the row's id */
    char *payload;
    size_t len;
    char *owner;         /* a job row: the consumer holding its lease, NULL when none;
                          * a dead row: the consumer that wrote it */
    int64_t avail_at;    /* a job row: when it is due, or its lease ends */
    int64_t deliveries;  /* a job row */
    char *error;         /* a dead row */
    int64_t attempts, failed_at;
} fp_sqlq_found_t;

/* The job of queue called id: the job row whose row id is id (id all
 * digits), else the oldest job row whose payload's "id" is id, else the
 * newest dead row whose payload's "id" is id (a dead row's own id is not a
 * job's). *found false when there is none. */
int fp_sqlq_find(fp_sqlq_t *q, const char *queue, const char *id, fp_sqlq_found_t *out,
                 bool *found, fp_err_t *err);
void fp_sqlq_found_clear(fp_sqlq_found_t *f);

/* Every queue that has a job or dead row, by name: *names (owned, free each
 * and the array), *n of them. */
int fp_sqlq_queue_names(fp_sqlq_t *q, char ***names, size_t *n, fp_err_t *err);

/* The id of queue's newest dead row, 0 when it has none. */
int fp_sqlq_dead_last_id(fp_sqlq_t *q, const char *queue, int64_t *out, fp_err_t *err);

/* In one transaction, for each i: when dead row ids[i] of queue still
 * exists, a new row with payloads[i] (lens[i] bytes) due now and the dead
 * row deleted; an id that is gone (another operator moved it) is left
 * alone, so two retries at once never add a job twice. *moved (may be NULL)
 * counts the rows added. */
int fp_sqlq_dead_requeue(fp_sqlq_t *q, const char *queue, const int64_t *ids,
                         const char *const *payloads, const size_t *lens, size_t n,
                         int64_t now_ms, size_t *moved, fp_err_t *err);

#endif
