/* admin.c: what operators and metrics ask of a queue file: counts per queue,
 * the dead rows (paged list, retry, purge), giving free pages back to the
 * file system and the file's size. Writes are one transaction per call. */
#include "sqlq/store_internal.h"
#include "sqlq/unique.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int fp_sqlq_counts(fp_sqlq_t *q, const char *queue, int64_t now_ms, fp_sqlq_counts_t *out,
                   fp_err_t *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = fp_sqlq_stmt(q, SQ_COUNTS);
    sqlite3_bind_text(st, 1, queue, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_ms);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->ready = sqlite3_column_int64(st, 0);
        out->delayed = sqlite3_column_int64(st, 1);
        out->leased = sqlite3_column_int64(st, 2);
        sqlite3_reset(st);
        st = fp_sqlq_stmt(q, SQ_DEAD_COUNT);
        sqlite3_bind_text(st, 1, queue, -1, SQLITE_STATIC);
        if ((rc = sqlite3_step(st)) == SQLITE_ROW)
            out->dead = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : fp_sqlq_fail(q, rc, "counting jobs", err);
}

static const char traffic_sql[] = "SELECT added, taken FROM traffic WHERE queue = ?1";

int fp_sqlq_traffic(fp_sqlq_t *q, const char *queue, int64_t *added, int64_t *taken,
                    fp_err_t *err)
{
    *added = *taken = 0;
    sqlite3_stmt *st = NULL;
    int rc = fp_sqlq_prep(q, traffic_sql, &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(st, 1, queue, -1, SQLITE_STATIC);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *added = sqlite3_column_int64(st, 0);
        *taken = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    return src == SQLITE_ROW || src == SQLITE_DONE ? 0
                                                   : fp_sqlq_fail(q, src, "reading the counters", err);
}

void fp_sqlq_deads_free(fp_sqlq_deads_t *deads)
{
    if (deads == NULL)
        return;
    for (size_t i = 0; i < deads->n; i++) {
        free(deads->v[i].payload);
        free(deads->v[i].error);
        free(deads->v[i].consumer);
    }
    free(deads->v);
    deads->v = NULL;
    deads->n = 0;
}

static int dead_row(sqlite3_stmt *st, fp_sqlq_dead_t *d)
{
    d->id = sqlite3_column_int64(st, 0);
    d->attempts = sqlite3_column_int64(st, 4);
    d->failed_at = sqlite3_column_int64(st, 5);
    d->payload = fp_sqlq_col_dup(st, 1, &d->len);
    d->error = fp_sqlq_col_dup(st, 2, NULL);
    d->consumer = fp_sqlq_col_dup(st, 3, NULL);
    return d->payload != NULL && d->error != NULL && d->consumer != NULL ? 0 : -ENOMEM;
}

/* The rows st yields (bound by the caller), up to limit, into out. */
static int dead_rows(fp_sqlq_t *q, sqlite3_stmt *st, size_t limit, fp_sqlq_deads_t *out,
                     fp_err_t *err)
{
    int rc = SQLITE_DONE, code = 0;
    while (out->n < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        code = dead_row(st, &out->v[out->n++]);
        if (code < 0)
            break;
    }
    sqlite3_reset(st);
    if (code < 0)
        code = fp_err_set(err, code, "dead list: out of memory");
    else if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        code = fp_sqlq_fail(q, rc, "listing dead jobs", err);
    if (code < 0)
        fp_sqlq_deads_free(out);
    return code;
}

static int dead_alloc(size_t limit, fp_sqlq_deads_t *out, fp_err_t *err)
{
    fp_sqlq_deads_free(out);
    if (limit > INT32_MAX || (out->v = calloc(limit, sizeof *out->v)) == NULL)
        return fp_err_set(err, -ENOMEM, "dead list: out of memory");
    return 0;
}

int fp_sqlq_dead_list(fp_sqlq_t *q, const char *queue, int64_t after_id, size_t limit,
                      fp_sqlq_deads_t *out, fp_err_t *err)
{
    fp_sqlq_deads_free(out);
    if (limit == 0)
        return 0;
    int rc = dead_alloc(limit, out, err);
    if (rc < 0)
        return rc;
    sqlite3_stmt *st = fp_sqlq_stmt(q, SQ_DEAD_PAGE);
    sqlite3_bind_text(st, 1, queue, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, after_id);
    sqlite3_bind_int64(st, 3, (int64_t)limit);
    return dead_rows(q, st, limit, out, err);
}

static const char newest_sql[] =
    "SELECT id, payload, error, consumer, attempts, failed_at FROM dead"
    " WHERE queue = ?1 ORDER BY id DESC LIMIT ?2";

int fp_sqlq_dead_newest(fp_sqlq_t *q, const char *queue, size_t limit, fp_sqlq_deads_t *out,
                        fp_err_t *err)
{
    fp_sqlq_deads_free(out);
    if (limit == 0)
        return 0;
    sqlite3_stmt *st = NULL;
    int rc = dead_alloc(limit, out, err);
    if (rc < 0 || (rc = fp_sqlq_prep(q, newest_sql, &st, err)) < 0)
        return rc;
    sqlite3_bind_text(st, 1, queue, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)limit);
    return dead_rows(q, st, limit, out, err);
}

/* One dead row back to its queue as a new row due now; *moved grows when the
 * id named a dead row of queue. */
static int retry_one(fp_sqlq_t *q, const char *queue, int64_t id, int64_t now_ms, size_t *moved,
                     fp_err_t *err)
{
    sqlite3_stmt *get = fp_sqlq_stmt(q, SQ_DEAD_GET);
    sqlite3_bind_text(get, 1, queue, -1, SQLITE_STATIC);
    sqlite3_bind_int64(get, 2, id);
    int rc = sqlite3_step(get);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(get);
        return rc == SQLITE_DONE ? 0 : fp_sqlq_fail(q, rc, "reading a dead job", err);
    }
    size_t len = 0;
    char *payload = fp_sqlq_col_dup(get, 0, &len);
    sqlite3_reset(get);
    if (payload == NULL)
        return fp_err_set(err, -ENOMEM, "dead retry: out of memory");
    fp_sqlq_row_new_t add = {queue, payload, len, now_ms, 0};
    int code = fp_sqlq_insert(q, &add, now_ms, NULL, "moving a dead job back", err);
    free(payload);
    if (code == 0) {
        sqlite3_stmt *del = fp_sqlq_stmt(q, SQ_DEAD_DELETE);
        sqlite3_bind_text(del, 1, queue, -1, SQLITE_STATIC);
        sqlite3_bind_int64(del, 2, id);
        code = fp_sqlq_run(q, del, "removing a dead job", err);
    }
    *moved += code == 0;
    return code;
}

static int retry_all(fp_sqlq_t *q, const char *queue, int64_t now_ms, size_t *moved,
                     fp_err_t *err)
{
    sqlite3_stmt *ins = fp_sqlq_stmt(q, SQ_DEAD_REQUEUE_ALL);
    sqlite3_bind_text(ins, 1, queue, -1, SQLITE_STATIC);
    sqlite3_bind_int64(ins, 2, now_ms);
    int rc = fp_sqlq_run(q, ins, "moving dead jobs back", err);
    if (rc < 0)
        return rc;
    *moved = (size_t)sqlite3_changes(q->db);
    sqlite3_stmt *del = fp_sqlq_stmt(q, SQ_DEAD_CLEAR);
    sqlite3_bind_text(del, 1, queue, -1, SQLITE_STATIC);
    return fp_sqlq_run(q, del, "removing dead jobs", err);
}

int fp_sqlq_dead_retry(fp_sqlq_t *q, const char *queue, const int64_t *ids, size_t n,
                       int64_t now_ms, size_t *moved, fp_err_t *err)
{
    size_t count = 0;
    if (moved != NULL)
        *moved = 0;
    int rc = fp_sqlq_begin(q, err);
    /* Each row's unique key first, while the dead row is there to read. */
    if (rc == 0 && ids == NULL && (rc = fp_sqlq_unique_retake(q, queue, 0, now_ms, err)) == 0)
        rc = retry_all(q, queue, now_ms, &count, err);
    for (size_t i = 0; rc == 0 && ids != NULL && i < n; i++)
        if ((rc = fp_sqlq_unique_retake(q, queue, ids[i], now_ms, err)) == 0)
            rc = retry_one(q, queue, ids[i], now_ms, &count, err);
    if ((rc = fp_sqlq_end(q, rc, err)) < 0)
        return rc;
    if (moved != NULL)
        *moved = count;
    return 0;
}

int fp_sqlq_dead_purge(fp_sqlq_t *q, const char *queue, const int64_t *ids, size_t n,
                       size_t *removed, fp_err_t *err)
{
    size_t count = 0;
    if (removed != NULL)
        *removed = 0;
    int rc = fp_sqlq_begin(q, err);
    if (rc == 0 && ids == NULL) {
        sqlite3_stmt *st = fp_sqlq_stmt(q, SQ_DEAD_CLEAR);
        sqlite3_bind_text(st, 1, queue, -1, SQLITE_STATIC);
        if ((rc = fp_sqlq_run(q, st, "removing dead jobs", err)) == 0)
            count = (size_t)sqlite3_changes(q->db);
    }
    for (size_t i = 0; rc == 0 && ids != NULL && i < n; i++) {
        sqlite3_stmt *st = fp_sqlq_stmt(q, SQ_DEAD_DELETE);
        sqlite3_bind_text(st, 1, queue, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, ids[i]);
        if ((rc = fp_sqlq_run(q, st, "removing a dead job", err)) == 0)
            count += (size_t)sqlite3_changes(q->db);
    }
    if ((rc = fp_sqlq_end(q, rc, err)) < 0)
        return rc;
    if (removed != NULL)
        *removed = count;
    return 0;
}

static int pragma_int(fp_sqlq_t *q, fp_sqlq_stmt_t which, int64_t *out, fp_err_t *err)
{
    sqlite3_stmt *st = fp_sqlq_stmt(q, which);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : fp_sqlq_fail(q, rc, "reading the file's size", err);
}

int fp_sqlq_vacuum_step(fp_sqlq_t *q, int64_t max_pages, int64_t *freed, fp_err_t *err)
{
    *freed = 0;
    if (max_pages <= 0)
        return 0;
    /* PRAGMA takes no bound parameter; the number is formatted in. */
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA incremental_vacuum(%lld)", (long long)max_pages);
    int64_t before = 0, after = 0;
    int rc = fp_sqlq_begin(q, err);
    if (rc == 0)
        rc = pragma_int(q, SQ_FREELIST, &before, err);
    if (rc == 0) {
        int src = sqlite3_exec(q->db, sql, NULL, NULL, NULL);
        if (src != SQLITE_OK)
            rc = fp_sqlq_fail(q, src, "giving free pages back", err);
    }
    if (rc == 0)
        rc = pragma_int(q, SQ_FREELIST, &after, err);
    if ((rc = fp_sqlq_end(q, rc, err)) < 0)
        return rc;
    *freed = before - after;
    return 0;
}

static int64_t file_bytes(const char *path, const char *suffix)
{
    char name[4096];
    struct stat st;
    snprintf(name, sizeof name, "%s%s", path, suffix);
    return stat(name, &st) == 0 ? (int64_t)st.st_size : 0;
}

int fp_sqlq_size(fp_sqlq_t *q, fp_sqlq_size_t *out, fp_err_t *err)
{
    memset(out, 0, sizeof *out);
    int64_t free_pages = 0, page_size = 0;
    int rc;
    if ((rc = pragma_int(q, SQ_FREELIST, &free_pages, err)) < 0 ||
        (rc = pragma_int(q, SQ_PAGE_SIZE, &page_size, err)) < 0)
        return rc;
    out->file_bytes = file_bytes(q->path, "");
    out->wal_bytes = file_bytes(q->path, "-wal");
    out->free_bytes = free_pages * page_size;
    return 0;
}
