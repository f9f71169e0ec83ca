/* pull.c: the producer's and the consumer's side of the jobs table:
 * enqueue, pull (taking rows under a lease) and renew. A pull is one
 * BEGIN IMMEDIATE transaction, so two connections never take one row: the
 * second waits for the first's commit and then sees the row leased. */
#include "sqlq/store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool new_valid(const char *queue, const void *payload, size_t len, int64_t delay_ms)
{
    return queue != NULL && payload != NULL && delay_ms >= 0 && len <= INT32_MAX;
}

int fp_sqlq_insert(fp_sqlq_t *q, const fp_sqlq_row_new_t *row, int64_t now_ms, int64_t *id,
                   const char *doing, fp_err_t *err)
{
    sqlite3_stmt *st = fp_sqlq_stmt(q, SQ_INSERT);
    sqlite3_bind_text(st, 1, row->queue, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, row->payload, (int)row->len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, row->avail_ms);
    sqlite3_bind_int64(st, 4, row->deliveries);
    sqlite3_bind_int64(st, 5, now_ms);
    int rc = fp_sqlq_run(q, st, doing, err);
    if (rc == 0 && id != NULL)
        *id = sqlite3_last_insert_rowid(q->db);
    return rc;
}

static int insert_new(fp_sqlq_t *q, const char *queue, const void *payload, size_t len,
                      int64_t delay_ms, int64_t now_ms, int64_t *id, fp_err_t *err)
{
    fp_sqlq_row_new_t row = {queue, payload, len, now_ms + delay_ms, 0};
    return fp_sqlq_insert(q, &row, now_ms, id, "adding a job", err);
}

int fp_sqlq_enqueue(fp_sqlq_t *q, const char *queue, const void *payload, size_t len,
                    int64_t delay_ms, int64_t now_ms, int64_t *id, fp_err_t *err)
{
    if (!new_valid(queue, payload, len, delay_ms))
        return fp_err_set(err, -EINVAL, "enqueue: a queue, a payload and a delay >= 0 are needed");
    /* One INSERT is its own transaction. */
    return insert_new(q, queue, payload, len, delay_ms, now_ms, id, err);
}

int fp_sqlq_enqueue_batch(fp_sqlq_t *q, const char *queue, const fp_sqlq_new_t *items, size_t n,
                          int64_t now_ms, int64_t *ids, fp_err_t *err)
{
    for (size_t i = 0; i < n; i++)
        if (!new_valid(queue, items[i].payload, items[i].len, items[i].delay_ms))
            return fp_err_set(err, -EINVAL,
                              "enqueue: job %zu of %zu: a queue, a payload and a delay >= 0 are "
                              "needed; none was added",
                              i + 1, n);
    if (n == 0)
        return 0;
    int rc = fp_sqlq_begin(q, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = insert_new(q, queue, items[i].payload, items[i].len, items[i].delay_ms, now_ms,
                        ids != NULL ? &ids[i] : NULL, err);
    return fp_sqlq_end(q, rc, err);
}

void fp_sqlq_jobs_free(fp_sqlq_jobs_t *jobs)
{
    if (jobs == NULL)
        return;
    for (size_t i = 0; i < jobs->n; i++)
        free(jobs->v[i].payload);
    free(jobs->v);
    jobs->v = NULL;
    jobs->n = 0;
}

/* Steps sel (bound, of SQ_AVAILABLE's or SQ_OWN's shape) and appends its rows
 * to jobs, whose array has room for max; then leases them. The rows are read
 * to the end before the first UPDATE, so the scan never meets its own
 * writes. */
static int take(fp_sqlq_t *q, sqlite3_stmt *sel, size_t qi, const char *consumer, size_t max,
                int64_t until, fp_sqlq_jobs_t *jobs, int64_t *fresh, fp_err_t *err)
{
    size_t first = jobs->n;
    int rc = SQLITE_DONE;
    while (jobs->n < max && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
        fp_sqlq_job_t *j = &jobs->v[jobs->n];
        j->payload = fp_sqlq_col_dup(sel, 1, &j->len);
        if (j->payload == NULL) {
            sqlite3_reset(sel);
            return fp_err_set(err, -ENOMEM, "pull: out of memory");
        }
        j->id = sqlite3_column_int64(sel, 0);
        j->queue = qi;
        j->deliveries = sqlite3_column_int64(sel, 2) + 1;
        j->enqueued_at = sqlite3_column_int64(sel, 3);
        *fresh += sqlite3_column_int64(sel, 4); /* leased to nobody: a take, not a take-over */
        jobs->n++;
    }
    sqlite3_reset(sel);
    if (jobs->n < max && rc != SQLITE_DONE)
        return fp_sqlq_fail(q, rc, "reading jobs", err);
    for (size_t i = first; i < jobs->n; i++) {
        sqlite3_stmt *up = fp_sqlq_stmt(q, SQ_LEASE);
        sqlite3_bind_int64(up, 1, jobs->v[i].id);
        sqlite3_bind_text(up, 2, consumer, -1, SQLITE_STATIC);
        sqlite3_bind_int64(up, 3, until);
        if ((rc = fp_sqlq_run(q, up, "leasing a job", err)) < 0)
            return rc;
    }
    return 0;
}

/* One queue's part of a pull, up to end rows in jobs: its own rows first when
 * asked (as the Redis backend re-reads its history before new entries), then
 * available ones. */
static int pull_queue(fp_sqlq_t *q, const char *queue, size_t qi, const char *consumer,
                      size_t end, int64_t until, int64_t now_ms, int flags, fp_sqlq_jobs_t *jobs,
                      fp_err_t *err)
{
    int rc = 0;
    int64_t fresh = 0;
    if (flags & FP_SQLQ_PULL_OWN) {
        sqlite3_stmt *own = fp_sqlq_stmt(q, SQ_OWN);
        sqlite3_bind_text(own, 1, queue, -1, SQLITE_STATIC);
        sqlite3_bind_text(own, 2, consumer, -1, SQLITE_STATIC);
        sqlite3_bind_int64(own, 3, (int64_t)(end - jobs->n));
        rc = take(q, own, qi, consumer, end, until, jobs, &fresh, err);
    }
    if (rc == 0 && jobs->n < end) {
        sqlite3_stmt *sel = fp_sqlq_stmt(q, SQ_AVAILABLE);
        sqlite3_bind_text(sel, 1, queue, -1, SQLITE_STATIC);
        sqlite3_bind_int64(sel, 2, now_ms);
        sqlite3_bind_int64(sel, 3, (int64_t)(end - jobs->n));
        rc = take(q, sel, qi, consumer, end, until, jobs, &fresh, err);
    }
    if (rc == 0 && fresh > 0) { /* one counter update per queue and pull */
        sqlite3_stmt *up = fp_sqlq_stmt(q, SQ_TAKEN);
        sqlite3_bind_text(up, 1, queue, -1, SQLITE_STATIC);
        sqlite3_bind_int64(up, 2, fresh);
        rc = fp_sqlq_run(q, up, "counting the jobs taken", err);
    }
    return rc;
}

int fp_sqlq_pull_capped(fp_sqlq_t *q, const char *const *queues, const size_t *caps,
                        size_t nqueues, const char *consumer, size_t max, int64_t lease_ms,
                        int64_t now_ms, int flags, fp_sqlq_jobs_t *jobs, fp_err_t *err)
{
    fp_sqlq_jobs_free(jobs);
    if (consumer == NULL || consumer[0] == '\0' || lease_ms <= 0 || max > INT32_MAX)
        return fp_err_set(err, -EINVAL, "pull: a consumer name and a lease > 0 are needed");
    if (max == 0 || nqueues == 0)
        return 0;
    if ((jobs->v = calloc(max, sizeof *jobs->v)) == NULL)
        return fp_err_set(err, -ENOMEM, "pull: out of memory");
    int rc = fp_sqlq_begin(q, err);
    for (size_t i = 0; rc == 0 && i < nqueues && jobs->n < max; i++) {
        size_t room = max - jobs->n;
        if (caps != NULL && caps[i] < room)
            room = caps[i];
        if (room > 0)
            rc = pull_queue(q, queues[i], i, consumer, jobs->n + room, now_ms + lease_ms, now_ms,
                            flags, jobs, err);
    }
    if ((rc = fp_sqlq_end(q, rc, err)) < 0)
        fp_sqlq_jobs_free(jobs); /* nothing was taken: the rows stay for the next pull */
    return rc;
}

int fp_sqlq_pull(fp_sqlq_t *q, const char *const *queues, size_t nqueues, const char *consumer,
                 size_t max, int64_t lease_ms, int64_t now_ms, int flags, fp_sqlq_jobs_t *jobs,
                 fp_err_t *err)
{
    return fp_sqlq_pull_capped(q, queues, NULL, nqueues, consumer, max, lease_ms, now_ms, flags,
                               jobs, err);
}

int fp_sqlq_renew(fp_sqlq_t *q, const char *consumer, const int64_t *ids, size_t n,
                  int64_t lease_ms, int64_t now_ms, bool *held, size_t *renewed, fp_err_t *err)
{
    size_t count = 0;
    if (renewed != NULL)
        *renewed = 0;
    if (n == 0)
        return 0;
    int rc = fp_sqlq_begin(q, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        sqlite3_stmt *st = fp_sqlq_stmt(q, SQ_RENEW);
        sqlite3_bind_int64(st, 1, ids[i]);
        sqlite3_bind_text(st, 2, consumer, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, now_ms + lease_ms);
        rc = fp_sqlq_run(q, st, "renewing leases", err);
        bool mine = rc == 0 && sqlite3_changes(q->db) > 0;
        count += mine;
        if (held != NULL)
            held[i] = mine;
    }
    if ((rc = fp_sqlq_end(q, rc, err)) < 0)
        return rc;
    if (renewed != NULL)
        *renewed = count;
    return 0;
}
