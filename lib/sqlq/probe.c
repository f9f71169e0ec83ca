/* probe.c: cheap reads of the queue file (store.h, "probes") for a consumer
 * that polls it: whether another connection committed (data_version),
 * whether a row is still there, the oldest ready row's time. Each is one
 * kept statement, read-only, outside any transaction. And the one write
 * probe: whether the file takes writes again after an error. */
#include "sqlq/store_internal.h"

#include <errno.h>
#include <stdio.h>

/* Steps st once: *value gets column 0 (fallback when no row or NULL). */
static int read_one(fp_sqlq_t *q, sqlite3_stmt *st, int64_t fallback, int64_t *value,
                    bool *found, const char *doing, fp_err_t *err)
{
    int rc = sqlite3_step(st);
    *value = fallback;
    if (found != NULL)
        *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *value = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fp_sqlq_fail(q, rc, doing, err);
    return 0;
}

int fp_sqlq_data_version(fp_sqlq_t *q, int64_t *version, fp_err_t *err)
{
    return read_one(q, fp_sqlq_stmt(q, SQ_DATA_VERSION), 0, version, NULL,
                    "reading data_version", err);
}

int fp_sqlq_exists(fp_sqlq_t *q, int64_t id, bool *exists, fp_err_t *err)
{
    sqlite3_stmt *st = fp_sqlq_stmt(q, SQ_EXISTS);
    sqlite3_bind_int64(st, 1, id);
    int64_t one;
    return read_one(q, st, 0, &one, exists, "looking a job up", err);
}

int fp_sqlq_oldest_ready(fp_sqlq_t *q, const char *queue, int64_t now_ms, int64_t *avail_at,
                         fp_err_t *err)
{
    sqlite3_stmt *st = fp_sqlq_stmt(q, SQ_OLDEST_READY);
    sqlite3_bind_text(st, 1, queue, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_ms);
    return read_one(q, st, -1, avail_at, NULL, "reading the oldest ready job", err);
}

int fp_sqlq_write_probe(fp_sqlq_t *q, fp_err_t *err)
{
    int rc = fp_sqlq_begin(q, err);
    sqlite3_stmt *st = NULL;
    int64_t version = 0;
    if (rc == 0) {
        int src = sqlite3_prepare_v2(q->db, "PRAGMA user_version", -1, &st, NULL);
        rc = src == SQLITE_OK ? read_one(q, st, 0, &version, NULL, "reading user_version", err)
                              : fp_sqlq_fail(q, src, "reading user_version", err);
        sqlite3_finalize(st);
    }
    if (rc == 0) {
        /* PRAGMA takes no bound parameter; the number is formatted in.
         * Setting it marks the header page dirty even when the value is the
         * same, so the commit needs room for a page. */
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %lld", (long long)version);
        int src = sqlite3_exec(q->db, sql, NULL, NULL, NULL);
        if (src != SQLITE_OK)
            rc = fp_sqlq_fail(q, src, "writing the header", err);
    }
    return fp_sqlq_end(q, rc, err);
}
