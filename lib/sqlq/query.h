/* query.h: INTERNAL to lib/sqlq/inspect.c and migrate.c — the one-off
 * queries of the command line's calls, prepared per call (they run once per
 * command, so they are not kept with the daemon's statements). */
#ifndef FORKPOOL_SQLQ_QUERY_H
#define FORKPOOL_SQLQ_QUERY_H

#include "sqlq/store_internal.h"

/* Prepares sql on q, or fails with SQLite's words. */
int fp_sqlq_prepare(fp_sqlq_t *q, const char *sql, sqlite3_stmt **st, fp_err_t *err);

/* fp_sqlq_prepare, then ?1 bound to queue (borrowed until the statement is
 * finalized) and ?2 to now_ms when sql has a ?2. */
int fp_sqlq_prepare_queue(fp_sqlq_t *q, const char *sql, const char *queue, int64_t now_ms,
                          sqlite3_stmt **st, fp_err_t *err);

/* Runs sql (?1 the queue, ?2 now_ms when it has a ?2), which returns one
 * row of one integer, into *out. */
int fp_sqlq_query_int(fp_sqlq_t *q, const char *sql, const char *queue, int64_t now_ms,
                      int64_t *out, const char *doing, fp_err_t *err);

/* Steps st to its end, handing fn each row (fn: 0, or -ENOMEM to stop),
 * then finalizes st; a failed step is SQLite's words with doing. */
typedef int (*fp_sqlq_row_fn)(void *ctx, sqlite3_stmt *st);
int fp_sqlq_each_row(fp_sqlq_t *q, sqlite3_stmt *st, fp_sqlq_row_fn fn, void *ctx,
                     const char *doing, fp_err_t *err);

#endif
