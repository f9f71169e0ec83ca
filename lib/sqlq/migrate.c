/* migrate.c: batches of rows out of and into a queue file for `forkpool
 * migrate` (migrate.h). The order inside an export batch is what makes an
 * interrupted migration safe to run again: the rows are deleted under the
 * write lock first, the destination is written next, and only then is the
 * deletion committed. A crash before the commit rolls the deletion back
 * (the rows stay, and may also be at the destination: at most one batch
 * twice); a crash after it finds them at the destination only. */
#include "sqlq/migrate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sqlq/query.h"

/* Rows of each kind, ?1 queue ?2 now ?3 after id ?4 limit. */
static const char *const select_sql[] = {
    [FP_SQLQ_ROWS_READY] = "SELECT id, payload, avail_at FROM jobs WHERE queue = ?1"
                           " AND avail_at <= ?2 AND id > ?3 ORDER BY id LIMIT ?4",
    [FP_SQLQ_ROWS_DELAYED] = "SELECT id, payload, avail_at FROM jobs WHERE queue = ?1"
                             " AND avail_at > ?2 AND owner IS NULL AND id > ?3"
                             " ORDER BY id LIMIT ?4",
    [FP_SQLQ_ROWS_DEAD] = "SELECT id, payload, failed_at, error, consumer, attempts FROM dead"
                          " WHERE queue = ?1 AND ?2 = ?2 AND id > ?3 ORDER BY id LIMIT ?4",
};

static const char *const count_sql[] = {
    [FP_SQLQ_ROWS_READY] = "SELECT count(*) FROM jobs WHERE queue = ?1 AND avail_at <= ?2",
    /* In parentheses: clang's -Wstring-concatenation takes two literals in
     * a list of one-literal items for a missing comma. */
    [FP_SQLQ_ROWS_DELAYED] = ("SELECT count(*) FROM jobs WHERE queue = ?1 AND avail_at > ?2"
                              " AND owner IS NULL"),
    [FP_SQLQ_ROWS_DEAD] = "SELECT count(*) FROM dead WHERE queue = ?1",
};

void fp_sqlq_rows_free(fp_sqlq_row_t *rows, size_t n)
{
    for (size_t i = 0; rows != NULL && i < n; i++) {
        free(rows[i].payload);
        free(rows[i].error);
        free(rows[i].consumer);
    }
    free(rows);
}

static int read_row(sqlite3_stmt *st, fp_sqlq_rows_kind_t kind, fp_sqlq_row_t *r)
{
    r->id = sqlite3_column_int64(st, 0);
    r->due_ms = sqlite3_column_int64(st, 2);
    if ((r->payload = fp_sqlq_col_dup(st, 1, &r->len)) == NULL)
        return -ENOMEM;
    if (kind != FP_SQLQ_ROWS_DEAD)
        return 0;
    r->failed_at = r->due_ms;
    r->due_ms = 0;
    r->attempts = sqlite3_column_int64(st, 5);
    r->error = fp_sqlq_col_dup(st, 3, NULL);
    r->consumer = fp_sqlq_col_dup(st, 4, NULL);
    return r->error != NULL && r->consumer != NULL ? 0 : -ENOMEM;
}

/* Up to limit rows of kind after id `after` into *rows (*n of them). */
static int read_batch(fp_sqlq_t *q, const char *queue, fp_sqlq_rows_kind_t kind, int64_t now_ms,
                      int64_t after, size_t limit, fp_sqlq_row_t **rows, size_t *n, fp_err_t *err)
{
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    int rc = fp_sqlq_prepare_queue(q, select_sql[kind], queue, now_ms, &st, err);
    if (rc < 0)
        return rc;
    if ((*rows = calloc(limit, sizeof **rows)) == NULL)
        rc = fp_err_set(err, -ENOMEM, "out of memory");
    sqlite3_bind_int64(st, 3, after);
    sqlite3_bind_int64(st, 4, (int64_t)limit);
    int src = SQLITE_DONE;
    while (rc == 0 && *n < limit && (src = sqlite3_step(st)) == SQLITE_ROW)
        if (read_row(st, kind, &(*rows)[(*n)++]) < 0)
            rc = fp_err_set(err, -ENOMEM, "out of memory");
    if (rc == 0 && src != SQLITE_ROW && src != SQLITE_DONE)
        rc = fp_sqlq_fail(q, src, "reading jobs to move", err);
    sqlite3_finalize(st);
    return rc;
}

/* The kept delete statements (open.c): the rows are queue's, read just now. */
static int delete_batch(fp_sqlq_t *q, const char *queue, fp_sqlq_rows_kind_t kind,
                        const fp_sqlq_row_t *rows, size_t n, fp_err_t *err)
{
    bool dead = kind == FP_SQLQ_ROWS_DEAD;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        sqlite3_stmt *st = fp_sqlq_stmt(q, dead ? SQ_DEAD_DELETE : SQ_DELETE);
        if (dead)
            sqlite3_bind_text(st, 1, queue, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, dead ? 2 : 1, rows[i].id);
        rc = fp_sqlq_run(q, st, "removing moved jobs", err);
    }
    return rc;
}

/* One batch: 1 when there was nothing left, 0 when n rows moved, or an error. */
static int export_batch(fp_sqlq_t *q, const char *queue, fp_sqlq_rows_kind_t kind,
                        int64_t now_ms, size_t batch, fp_sqlq_export_fn fn, void *ctx,
                        int64_t *after, size_t *n, fp_err_t *err)
{
    fp_sqlq_row_t *rows = NULL;
    *n = 0;
    int rc = fp_sqlq_begin(q, err);
    if (rc == 0)
        rc = read_batch(q, queue, kind, now_ms, *after, batch, &rows, n, err);
    if (rc == 0 && *n > 0)
        rc = delete_batch(q, queue, kind, rows, *n, err);
    if (rc == 0 && *n > 0)
        rc = fn(ctx, rows, *n, err);
    rc = fp_sqlq_end(q, rc, err);
    if (rc == 0 && *n > 0)
        *after = rows[*n - 1].id;
    fp_sqlq_rows_free(rows, *n);
    return rc < 0 ? rc : *n == 0;
}

int fp_sqlq_export(fp_sqlq_t *q, const char *queue, fp_sqlq_rows_kind_t kind, int64_t now_ms,
                   size_t batch, fp_sqlq_export_fn fn, void *ctx, size_t *moved, fp_err_t *err)
{
    *moved = 0;
    if (batch == 0 || batch > INT32_MAX)
        return fp_err_set(err, -EINVAL, "export: a batch of 1 to %d rows", INT32_MAX);
    int64_t after = 0;
    for (;;) {
        size_t n = 0;
        int rc = export_batch(q, queue, kind, now_ms, batch, fn, ctx, &after, &n, err);
        if (rc != 0)
            return rc < 0 ? rc : 0;
        *moved += n;
    }
}

static int import_row(fp_sqlq_t *q, const char *queue, fp_sqlq_rows_kind_t kind,
                      const fp_sqlq_row_t *r, int64_t now_ms, fp_err_t *err)
{
    if (r->len > INT32_MAX)
        return fp_err_set(err, FP_ELIMIT, "a job of %zu bytes", r->len);
    if (kind == FP_SQLQ_ROWS_DEAD) {
        fp_sqlq_dead_new_t dead = {queue,        r->payload,   r->len,     r->error,
                                   r->attempts, r->failed_at, r->consumer};
        return fp_sqlq_insert_dead(q, &dead, err);
    }
    fp_sqlq_row_new_t add = {queue, r->payload, r->len, r->due_ms, 0};
    return fp_sqlq_insert(q, &add, now_ms, NULL, "adding a job", err);
}

int fp_sqlq_import(fp_sqlq_t *q, const char *queue, fp_sqlq_rows_kind_t kind,
                   const fp_sqlq_row_t *rows, size_t n, int64_t now_ms, fp_err_t *err)
{
    if (n == 0)
        return 0;
    int rc = fp_sqlq_begin(q, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = import_row(q, queue, kind, &rows[i], now_ms, err);
    return fp_sqlq_end(q, rc, err);
}

int fp_sqlq_rows_count(fp_sqlq_t *q, const char *queue, fp_sqlq_rows_kind_t kind, int64_t now_ms,
                       int64_t *out, fp_err_t *err)
{
    return fp_sqlq_query_int(q, count_sql[kind], queue, now_ms, out, "counting jobs to move", err);
}
