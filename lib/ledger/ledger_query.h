/* ledger_query.h: the ledger's read side, for `forkpool jobs`. It opens the
 * database read-only in the calling process (never the daemon's connection;
 * WAL lets it read while the daemon writes) and hands matching rows to a
 * callback, newest first. */
#ifndef FORKPOOL_LEDGER_QUERY_H
#define FORKPOOL_LEDGER_QUERY_H

#include <stdint.h>

#include "base/err.h"
#include "ledger/ledger.h"

typedef struct fp_ledger_filter_s {
    const char *outcome;   /* NULL: any */
    const char *type;      /* NULL: any */
    const char *job;       /* NULL: any; else rows whose job_id or entry_id is this
                              (no index: a scan of the table, for one job's look-up) */
    int64_t since_unix_ms; /* only rows finished at or after this; 0: any */
    int64_t limit;         /* at most this many rows; negative: no limit */
} fp_ledger_filter_t;

/* One row: the strings are borrowed for the call and NULL when the column
 * is; unknown times and pids are 0. Return 0 to go on, or a negative code
 * (with err filled) to stop the query with that code. */
typedef int (*fp_ledger_row_cb)(void *arg, int64_t id, const fp_ledger_row_t *row,
                                fp_err_t *err);

/* Runs the query against the ledger at path (borrowed). Returns 0, the
 * callback's code, -ENOENT with "no ledger at PATH yet" when the file does not
 * exist, or -EIO with SQLite's reason (not a ledger, unreadable). */
int fp_ledger_query(const char *path, const fp_ledger_filter_t *filter, fp_ledger_row_cb cb,
                    void *arg, fp_err_t *err);

#endif
