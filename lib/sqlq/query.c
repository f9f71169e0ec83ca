/* query.c: the command line's one-off queries on a queue file (query.h). */
#include "sqlq/query.h"

#include <errno.h>

int fp_sqlq_prepare(fp_sqlq_t *q, const char *sql, sqlite3_stmt **st, fp_err_t *err)
{
    int rc = sqlite3_prepare_v2(q->db, sql, -1, st, NULL);
    return rc == SQLITE_OK ? 0 : fp_sqlq_fail(q, rc, "preparing a query", err);
}

int fp_sqlq_prepare_queue(fp_sqlq_t *q, const char *sql, const char *queue, int64_t now_ms,
                          sqlite3_stmt **st, fp_err_t *err)
{
    int rc = fp_sqlq_prepare(q, sql, st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(*st, 1, queue, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(*st) >= 2)
        sqlite3_bind_int64(*st, 2, now_ms);
    return 0;
}

int fp_sqlq_query_int(fp_sqlq_t *q, const char *sql, const char *queue, int64_t now_ms,
                      int64_t *out, const char *doing, fp_err_t *err)
{
    *out = 0;
    sqlite3_stmt *st = NULL;
    int rc = fp_sqlq_prepare_queue(q, sql, queue, now_ms, &st, err);
    if (rc < 0)
        return rc;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        rc = fp_sqlq_fail(q, src, doing, err);
    sqlite3_finalize(st);
    return rc;
}

int fp_sqlq_each_row(fp_sqlq_t *q, sqlite3_stmt *st, fp_sqlq_row_fn fn, void *ctx,
                     const char *doing, fp_err_t *err)
{
    int rc = 0, src = SQLITE_DONE;
    while (rc == 0 && (src = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(ctx, st) < 0)
            rc = fp_err_set(err, -ENOMEM, "out of memory");
    if (rc == 0 && src != SQLITE_DONE)
        rc = fp_sqlq_fail(q, src, doing, err);
    sqlite3_finalize(st);
    return rc;
}
