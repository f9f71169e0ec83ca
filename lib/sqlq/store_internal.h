/* store_internal.h: what the files of lib/sqlq/ share: the connection with
 * its prepared statements (open.c prepares them, the others use them), and
 * the helpers for errors and transactions (tx.c). */
#ifndef FORKPOOL_SQLQ_STORE_INTERNAL_H
#define FORKPOOL_SQLQ_STORE_INTERNAL_H

#include <sqlite3.h>

#include "sqlq/store.h"

/* Every statement, prepared once at open and reused (reset after each use). */
typedef enum {
    SQ_BEGIN,
    SQ_COMMIT,
    SQ_ROLLBACK,
    SQ_INSERT,       /* ?1 queue ?2 payload ?3 avail_at ?4 deliveries ?5 enqueued_at */
    SQ_AVAILABLE,    /* ?1 queue ?2 now ?3 limit -> id payload deliveries enqueued_at fresh */
    SQ_OWN,          /* ?1 queue ?2 consumer ?3 limit -> the same, fresh 0 */
    SQ_LEASE,        /* ?1 id ?2 consumer ?3 lease_until */
    SQ_RENEW,        /* ?1 id ?2 consumer ?3 lease_until */
    SQ_ROW,          /* ?1 id -> queue payload owner deliveries */
    SQ_DELETE,       /* ?1 id */
    SQ_ACK_MINE,     /* ?1 id ?2 consumer: deletes the row only if still leased to consumer */
    SQ_DEAD_INSERT,  /* ?1 queue ?2 payload ?3 error ?4 attempts ?5 failed_at ?6 consumer */
    SQ_COUNTS,       /* ?1 queue ?2 now -> ready delayed leased */
    SQ_DEAD_COUNT,   /* ?1 queue */
    SQ_DEAD_PAGE,    /* ?1 queue ?2 after ?3 limit */
    SQ_DEAD_GET,     /* ?1 queue ?2 id -> payload */
    SQ_DEAD_REQUEUE_ALL, /* ?1 queue ?2 now: every dead row back as a new row */
    SQ_DEAD_DELETE,  /* ?1 queue ?2 id */
    SQ_DEAD_CLEAR,   /* ?1 queue */
    SQ_FREELIST,
    SQ_PAGE_SIZE,
    SQ_DATA_VERSION, /* changes when another connection committed */
    SQ_EXISTS,       /* ?1 id -> 1 when the row is there */
    SQ_OLDEST_READY, /* ?1 queue ?2 now -> min(avail_at) of the ready rows, NULL when none */
    SQ_TAKEN,        /* ?1 queue ?2 n: the traffic counter of rows taken from nobody */
    SQ_COUNT_
} fp_sqlq_stmt_t;

/* How many statements fp_sqlq_prep keeps per connection. */
#define FP_SQLQ_EXTRA_MAX 64

struct fp_sqlq_s {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *st[SQ_COUNT_];
    struct {
        const char *sql; /* a static text: kept by its address */
        sqlite3_stmt *st;
    } extra[FP_SQLQ_EXTRA_MAX];
    size_t nextra;
};

/* A failed SQLite call on q as a return code and message: -EBUSY for a lock
 * held past the busy timeout, -ENOSPC for a full disk, FP_EBADSTORE for a
 * damaged file, -EIO otherwise. */
int fp_sqlq_fail(fp_sqlq_t *q, int sqlite_rc, const char *doing, fp_err_t *err);

/* The code fp_sqlq_fail would return for an SQLite result code. */
int fp_sqlq_code(int sqlite_rc);

/* A kept statement, reset and with its bindings cleared, ready to bind. */
sqlite3_stmt *fp_sqlq_stmt(fp_sqlq_t *q, fp_sqlq_stmt_t which);

/* A statement of a feature's own file, prepared the first time its text
 * (a string literal: the address is the key) is asked for and kept until
 * the connection closes; *out handed out reset, bindings cleared. Fails
 * when it cannot be prepared (or FP_SQLQ_EXTRA_MAX are kept already). */
int fp_sqlq_prep(fp_sqlq_t *q, const char *sql, sqlite3_stmt **out, fp_err_t *err);

/* Steps a statement that returns no row (or whose rows are not wanted) to
 * the end and resets it. */
int fp_sqlq_run(fp_sqlq_t *q, sqlite3_stmt *st, const char *doing, fp_err_t *err);

/* One new row of the jobs table (SQ_INSERT): free, available from avail_ms,
 * with the deliveries already counted, enqueued now. *id (may be NULL) gets
 * its row id. doing names the step in an error. */
typedef struct fp_sqlq_row_new_s {
    const char *queue;
    const char *payload;
    size_t len;
    int64_t avail_ms;
    int64_t deliveries;
} fp_sqlq_row_new_t;
int fp_sqlq_insert(fp_sqlq_t *q, const fp_sqlq_row_new_t *row, int64_t now_ms, int64_t *id,
                   const char *doing, fp_err_t *err);

/* One new row of the dead table (SQ_DEAD_INSERT); NULL texts are "". */
typedef struct fp_sqlq_dead_new_s {
    const char *queue;
    const char *payload;
    size_t len;
    const char *error;
    int64_t attempts;
    int64_t failed_at;
    const char *consumer;
} fp_sqlq_dead_new_t;
int fp_sqlq_insert_dead(fp_sqlq_t *q, const fp_sqlq_dead_new_t *row, fp_err_t *err);

/* BEGIN IMMEDIATE (the write lock first, so no deadlock upgrading a read);
 * fp_sqlq_end commits when rc is 0, else (or when the commit fails) rolls
 * back, and returns the outcome; ROLLBACK alone never fails its caller. */
int fp_sqlq_begin(fp_sqlq_t *q, fp_err_t *err);
int fp_sqlq_end(fp_sqlq_t *q, int rc, fp_err_t *err);
void fp_sqlq_rollback(fp_sqlq_t *q);

/* Copies column col of a row into a fresh NUL-terminated buffer (NULL
 * column: ""); NULL when out of memory. */
char *fp_sqlq_col_dup(sqlite3_stmt *st, int col, size_t *len);

#endif
