/* migrate.h: rows moved out of and into a queue file by `forkpool migrate`
 * (docs/embedded.md, "Moving to Redis"). Export reads and deletes one batch
 * inside one write transaction that commits only after the caller has
 * written the batch to its destination, so a crash at any point loses no
 * row and leaves at most the batch in flight in both places. Import adds
 * rows keeping what the source knew: a delayed job's due time, a dead job's
 * error, attempts, failure time and consumer. */
#ifndef FORKPOOL_SQLQ_MIGRATE_H
#define FORKPOOL_SQLQ_MIGRATE_H

#include "sqlq/store.h"

typedef enum {
    FP_SQLQ_ROWS_READY,   /* available at now: not leased, or the lease ran out */
    FP_SQLQ_ROWS_DELAYED, /* not leased, due after now */
    FP_SQLQ_ROWS_DEAD,
} fp_sqlq_rows_kind_t;

/* A row moved by migrate. Strings are NUL-terminated. */
typedef struct fp_sqlq_row_s {
    int64_t id;
    char *payload;
    size_t len;
    int64_t due_ms;    /* READY, DELAYED: avail_at */
    char *error;       /* DEAD */
    char *consumer;    /* DEAD */
    int64_t attempts;  /* DEAD */
    int64_t failed_at; /* DEAD, Unix ms */
} fp_sqlq_row_t;

/* Writes rows to the destination; 0 only once they are stored there. */
typedef int (*fp_sqlq_export_fn)(void *ctx, const fp_sqlq_row_t *rows, size_t n, fp_err_t *err);

/* Moves every row of kind out of queue, oldest id first, batch rows at a
 * time: BEGIN IMMEDIATE, read the batch, delete it, call fn, COMMIT when fn
 * returned 0 (else roll back and return its code). Rows leased with a lease
 * that has not run out at now_ms are never exported. *moved counts the rows
 * committed as moved, also when a later batch fails. */
int fp_sqlq_export(fp_sqlq_t *q, const char *queue, fp_sqlq_rows_kind_t kind, int64_t now_ms,
                   size_t batch, fp_sqlq_export_fn fn, void *ctx, size_t *moved, fp_err_t *err);

/* Adds n rows to queue in one transaction: READY and DELAYED as jobs due at
 * their due_ms (deliveries 0, enqueued now_ms), DEAD as dead rows. */
int fp_sqlq_import(fp_sqlq_t *q, const char *queue, fp_sqlq_rows_kind_t kind,
                   const fp_sqlq_row_t *rows, size_t n, int64_t now_ms, fp_err_t *err);

/* How many rows of kind queue has at now_ms (for --dry-run). */
int fp_sqlq_rows_count(fp_sqlq_t *q, const char *queue, fp_sqlq_rows_kind_t kind, int64_t now_ms,
                       int64_t *out, fp_err_t *err);

void fp_sqlq_rows_free(fp_sqlq_row_t *rows, size_t n);

#endif
