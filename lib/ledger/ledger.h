/* ledger.h: the job ledger's writer side (SPEC "Ledger"). The supervisor
 * pushes one row per job outcome from the loop thread; push copies the row
 * and links it under a mutex, never touching SQLite. A writer thread, the
 * only owner of the database connection, takes what is queued and writes it
 * in one transaction per batch (WAL, synchronous=NORMAL), and prunes rows
 * older than the retention in small chunks. Every sqlite3_* call on that
 * thread runs inside the fork lock's read side (spawn.h), so fork never
 * copies a lock SQLite holds. The read side for `forkpool jobs` is
 * ledger_query.h. */
#ifndef FORKPOOL_LEDGER_H
#define FORKPOOL_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* The outcomes a row may carry (SPEC), as stored in the outcome column. */
#define FP_LEDGER_OUTCOMES "ok", "failed", "retried", "dead", "timeout", "crashed", "cancelled"

/* Rows per transaction at most: bounds how long the writer holds the fork lock
 * (a respawn waits for it) and the SQLite write lock. */
#define FP_LEDGER_BATCH_MAX 4096
/* Rows per pruning DELETE, for the same reason. */
#define FP_LEDGER_PRUNE_CHUNK 1000
/* Pruning runs once when the writer starts, then this often. */
#define FP_LEDGER_PRUNE_INTERVAL_MS 60000

/* One job outcome. Times are unix milliseconds; 0 means unknown and is stored
 * as NULL, as are NULL strings (job_id of a job without an id, error of a
 * success). enqueued_at_ms can be taken from the stream entry id's
 * millisecond part. */
typedef struct fp_ledger_row_s {
    const char *queue, *entry_id, *job_id, *type, *outcome, *error;
    int64_t attempt, enqueued_at_ms, started_at_ms, finished_at_ms, duration_us;
    int64_t pid;
} fp_ledger_row_t;

/* A row kept past the call that handed it over holds its texts in one
 * block: the bytes the texts need (NULs included), and a copy of src into
 * dst whose texts point into block, which must hold that many bytes. */
size_t fp_ledger_row_text_size(const fp_ledger_row_t *r);
void fp_ledger_row_pack(fp_ledger_row_t *dst, const fp_ledger_row_t *src, char *block);

typedef struct fp_ledger_s fp_ledger_t;

/* Counters for metrics and tests; a consistent snapshot of each field. */
typedef struct fp_ledger_stats_s {
    uint64_t pushed;       /* rows accepted by push */
    uint64_t written;      /* rows committed */
    uint64_t transactions; /* committed batches */
    uint64_t pruned;       /* rows deleted for age */
    uint64_t write_errors; /* failed batch attempts (each retried) */
    uint64_t lost;         /* rows given up on: no memory, or still failing at close */
    uint64_t dropped;      /* rows dropped in skip mode (fp_ledger_set_skip) */
} fp_ledger_stats_t;

/* Starts the writer thread, which opens or creates the database at path
 * (borrowed) and its schema. Returns only after the thread reports: 0 with
 * *out set (owned; fp_ledger_close), or a negative code with the reason in
 * err and no thread left running (FP_ECONFIG for a path SQLite cannot open or
 * a file that is not a ledger, -errno for thread or memory failures).
 * retain_ms <= 0 disables pruning. capacity (>= 1) is the backlog at which
 * push starts answering false. Call after the initial children are forked
 * (spawn.c, fp_spawn): the database fds are CLOEXEC, and spawn.c closes them in
 * children anyway. */
int fp_ledger_open(const char *path, int64_t retain_ms, size_t capacity, fp_ledger_t **out,
                   fp_err_t *err);

/* Queues a copy of row (strings borrowed for the call, copied into one
 * allocation). Never blocks on SQLite. The row is always kept, even when this
 * returns false: false means the backlog had already reached capacity, and
 * the caller should stop pulling jobs until fp_ledger_backlog falls again
 * (the overshoot is bounded by the jobs already running). Also false, with
 * the row lost and counted in stats.lost and logged, when memory runs out. */
bool fp_ledger_push(fp_ledger_t *l, const fp_ledger_row_t *row);

/* What to do with rows while writes fail. false (the default): keep them
 * queued and retry, so the backlog grows until push asks for a pause. true:
 * drop a batch that failed, and any row pushed past the capacity (push then
 * never answers false for a full backlog), counting them in stats.dropped. */
void fp_ledger_set_skip(fp_ledger_t *l, bool skip);

/* True while the writer cannot write: its last try failed (the file could
 * not be opened, a write or commit failed); false again after a batch
 * commits. The writer keeps retrying with back-off, reopening the file. */
bool fp_ledger_failing(const fp_ledger_t *l);

/* Rows pushed and not yet committed (queued plus the batch being written). */
size_t fp_ledger_backlog(const fp_ledger_t *l);

void fp_ledger_stats(const fp_ledger_t *l, fp_ledger_stats_t *out);

/* Writes everything queued, stops and joins the thread, closes the database
 * and frees l. A batch that keeps failing is retried a few times, then its
 * rows are logged as lost. NULL is a no-op. */
void fp_ledger_close(fp_ledger_t *l);

/* Test seam: while held, the writer takes no rows (pruning also waits), so a
 * test can fill the queue deterministically. fp_ledger_close releases it. */
void fp__ledger_hold(fp_ledger_t *l, bool hold);

/* True when s is one of FP_LEDGER_OUTCOMES. */
bool fp_ledger_outcome_valid(const char *s);

#endif
