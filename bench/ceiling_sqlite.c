/* ceiling_sqlite.c: what SQLite allows for the record_event handler, with no
 * queue and no pool: one process inserting N rows in a loop with the
 * handler's exact set-up (lib/handlers/handler_record_event.c): NOMUTEX connection,
 * journal_mode=WAL, synchronous=NORMAL, the same table, one persistent
 * prepared INSERT that is reset and re-bound per row, and no explicit
 * transaction, so every row is its own autocommit transaction as every job
 * is in the handler. The values are the ones scripts/bench.sh enqueues.
 *
 * Usage: ceiling_sqlite DB_PATH ROWS   (DB_PATH and its -wal/-shm are
 * removed first, as bench.sh does before each run)
 * Prints one line: rows=N seconds=S cpu_s=C */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bench_clock.h"
#include "bench_db.h"
#include "handlers/handlers.h"

static const char *const values[] = {"login", "2026-11-22T10:00:00Z", "o1", "u1", "x", "session"};

int main(int argc, char **argv)
{
    long rows = argc == 3 ? strtol(argv[2], NULL, 10) : 0;
    if (rows <= 0) {
        fprintf(stderr, "usage: ceiling_sqlite DB_PATH ROWS\n");
        return 2;
    }
    remove_db(argv[1]);
    sqlite3 *db = NULL;
    sqlite3_stmt *insert = NULL;
    int rc = 1;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(argv[1], &db, flags, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, fp_record_event_create_sql, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(db, fp_record_event_insert_sql, -1, SQLITE_PREPARE_PERSISTENT, &insert, NULL) !=
            SQLITE_OK) {
        fprintf(stderr, "ceiling_sqlite: %s: %s\n", argv[1],
                db != NULL ? sqlite3_errmsg(db) : "out of memory");
        goto out;
    }
    double cpu0 = cpu_self_s(), t0 = now_s();
    for (long i = 0; i < rows; i++) {
        /* Reset and clear as the handler does around every job. */
        sqlite3_reset(insert);
        sqlite3_clear_bindings(insert);
        for (int col = 0; col < 6; col++)
            sqlite3_bind_text(insert, col + 1, values[col], -1, SQLITE_STATIC);
        if (sqlite3_step(insert) != SQLITE_DONE) {
            fprintf(stderr, "ceiling_sqlite: INSERT failed at row %ld: %s\n", i,
                    sqlite3_errmsg(db));
            goto out;
        }
        /* The handler reads the row id for the job's result. */
        (void)sqlite3_last_insert_rowid(db);
        sqlite3_reset(insert);
    }
    double t1 = now_s(), cpu1 = cpu_self_s();
    printf("rows=%ld seconds=%.4f cpu_s=%.3f\n", rows, t1 - t0, cpu1 - cpu0);
    rc = 0;
out:
    sqlite3_finalize(insert);
    sqlite3_close_v2(db);
    return rc;
}
