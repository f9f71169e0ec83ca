/* inspect.c: the command line's reads of a queue file (inspect.h): one
 * queue's view for `forkpool stats`, one job by its id for `forkpool job`,
 * the newest dead row, and the guarded move of dead rows back with
 * rewritten payloads. These run once per
 * command, so their statements are prepared per call rather than kept. */
#include "sqlq/inspect.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "sqlq/query.h"

static int oldest_ready(fp_sqlq_t *q, const char *queue, int64_t now_ms, fp_sqlq_view_t *v,
                        fp_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = fp_sqlq_prepare_queue(q, "SELECT id, avail_at FROM jobs WHERE queue = ?1"
                                      " AND avail_at <= ?2 AND owner IS NULL"
                                      " ORDER BY avail_at, id LIMIT 1",
                                   queue, now_ms, &st, err);
    if (rc < 0)
        return rc;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        v->oldest_id = sqlite3_column_int64(st, 0);
        v->oldest_avail_ms = sqlite3_column_int64(st, 1);
    }
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        rc = fp_sqlq_fail(q, src, "reading the oldest ready job", err);
    sqlite3_finalize(st);
    return rc;
}

static int add_holder(void *ctx, sqlite3_stmt *st)
{
    fp_sqlq_view_t *v = ctx;
    fp_sqlq_holder_t *grown = realloc(v->holders, (v->nholders + 1) * sizeof *grown);
    if (grown == NULL)
        return -ENOMEM;
    v->holders = grown;
    fp_sqlq_holder_t *h = &grown[v->nholders];
    if ((h->owner = fp_sqlq_col_dup(st, 0, NULL)) == NULL)
        return -ENOMEM;
    h->rows = sqlite3_column_int64(st, 1);
    h->lease_end_ms = sqlite3_column_int64(st, 2);
    v->live_leases += sqlite3_column_int64(st, 3);
    v->nholders++;
    return 0;
}

static int holders(fp_sqlq_t *q, const char *queue, int64_t now_ms, fp_sqlq_view_t *v,
                   fp_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = fp_sqlq_prepare_queue(q, "SELECT owner, count(*), max(avail_at), sum(avail_at > ?2)"
                                      " FROM jobs WHERE owner IS NOT NULL AND queue = ?1"
                                      " GROUP BY owner ORDER BY owner",
                                   queue, now_ms, &st, err);
    return rc < 0 ? rc : fp_sqlq_each_row(q, st, add_holder, v, "reading the leases", err);
}

int fp_sqlq_view(fp_sqlq_t *q, const char *queue, int64_t now_ms, fp_sqlq_view_t *out,
                 fp_err_t *err)
{
    memset(out, 0, sizeof *out);
    /* A read transaction: the reads see one state of the file. */
    int rc = sqlite3_exec(q->db, "BEGIN", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return fp_sqlq_fail(q, rc, "starting a read", err);
    rc = fp_sqlq_counts(q, queue, now_ms, &out->counts, err);
    if (rc == 0)
        rc = oldest_ready(q, queue, now_ms, out, err);
    if (rc == 0)
        rc = holders(q, queue, now_ms, out, err);
    if (rc == 0)
        rc = fp_sqlq_traffic(q, queue, &out->added, &out->taken, err);
    fp_sqlq_rollback(q); /* nothing was written */
    if (rc < 0)
        fp_sqlq_view_clear(out);
    return rc;
}

void fp_sqlq_view_clear(fp_sqlq_view_t *v)
{
    for (size_t i = 0; v->holders != NULL && i < v->nholders; i++)
        free(v->holders[i].owner);
    free(v->holders);
    memset(v, 0, sizeof *v);
}

typedef struct names_s {
    char **v;
    size_t n;
} names_t;

static int add_name(void *ctx, sqlite3_stmt *st)
{
    names_t *names = ctx;
    char **grown = realloc(names->v, (names->n + 1) * sizeof *grown);
    if (grown == NULL)
        return -ENOMEM;
    names->v = grown;
    if ((grown[names->n] = fp_sqlq_col_dup(st, 0, NULL)) == NULL)
        return -ENOMEM;
    names->n++;
    return 0;
}

int fp_sqlq_queue_names(fp_sqlq_t *q, char ***names, size_t *n, fp_err_t *err)
{
    names_t got = {NULL, 0};
    sqlite3_stmt *st = NULL;
    int rc = fp_sqlq_prepare(q, "SELECT queue FROM jobs UNION SELECT queue FROM dead ORDER BY 1",
                             &st, err);
    if (rc == 0)
        rc = fp_sqlq_each_row(q, st, add_name, &got, "listing the queues", err);
    if (rc < 0) {
        for (size_t i = 0; i < got.n; i++)
            free(got.v[i]);
        free(got.v);
        got = (names_t){NULL, 0};
    }
    *names = got.v;
    *n = got.n;
    return rc;
}

int fp_sqlq_dead_last_id(fp_sqlq_t *q, const char *queue, int64_t *out, fp_err_t *err)
{
    return fp_sqlq_query_int(q, "SELECT coalesce(max(id), 0) FROM dead WHERE queue = ?1", queue,
                             0, out, "reading the newest dead job", err);
}

/* Dead row id of queue, when it still exists, deleted and replaced by a
 * new row with payload; *moved grows by one then. */
static int requeue_one(fp_sqlq_t *q, const char *queue, int64_t id, const char *payload,
                       size_t len, int64_t now_ms, size_t *moved, fp_err_t *err)
{
    sqlite3_stmt *del = fp_sqlq_stmt(q, SQ_DEAD_DELETE);
    sqlite3_bind_text(del, 1, queue, -1, SQLITE_STATIC);
    sqlite3_bind_int64(del, 2, id);
    int rc = fp_sqlq_run(q, del, "removing a dead job", err);
    if (rc < 0 || sqlite3_changes(q->db) == 0)
        return rc;
    fp_sqlq_row_new_t add = {queue, payload, len, now_ms, 0};
    if ((rc = fp_sqlq_insert(q, &add, now_ms, NULL, "moving a dead job back", err)) == 0)
        (*moved)++;
    return rc;
}

int fp_sqlq_dead_requeue(fp_sqlq_t *q, const char *queue, const int64_t *ids,
                         const char *const *payloads, const size_t *lens, size_t n,
                         int64_t now_ms, size_t *moved, fp_err_t *err)
{
    size_t count = 0;
    if (moved != NULL)
        *moved = 0;
    for (size_t i = 0; i < n; i++)
        if (lens[i] > INT32_MAX)
            return fp_err_set(err, FP_ELIMIT, "dead retry: a payload of %zu bytes", lens[i]);
    int rc = fp_sqlq_begin(q, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = requeue_one(q, queue, ids[i], payloads[i], lens[i], now_ms, &count, err);
    if ((rc = fp_sqlq_end(q, rc, err)) < 0)
        return rc;
    if (moved != NULL)
        *moved = count;
    return 0;
}

/* A payload's "id" as text (a number id as its digits), NULL for a payload
 * that is not JSON: json_extract would fail the query on it. */
#define PAYLOAD_ID "CAST(CASE WHEN json_valid(payload) THEN json_extract(payload, '$.id') END AS TEXT)"

static const char find_job_sql[] =
    "SELECT id, payload, owner, avail_at, deliveries FROM jobs WHERE queue = ?1"
    " AND (id = ?2 OR " PAYLOAD_ID " = ?3) ORDER BY id = ?2 DESC, id LIMIT 1";
static const char find_dead_sql[] =
    "SELECT id, payload, consumer, error, attempts, failed_at FROM dead WHERE queue = ?1"
    " AND " PAYLOAD_ID " = ?3 AND ?2 = ?2 ORDER BY id DESC LIMIT 1";

void fp_sqlq_found_clear(fp_sqlq_found_t *f)
{
    free(f->payload);
    free(f->owner);
    free(f->error);
    memset(f, 0, sizeof *f);
}

static int found_row(sqlite3_stmt *st, bool dead, fp_sqlq_found_t *f)
{
    f->dead = dead;
    f->id = sqlite3_column_int64(st, 0);
    f->payload = fp_sqlq_col_dup(st, 1, &f->len);
    f->owner = sqlite3_column_type(st, 2) != SQLITE_NULL ? fp_sqlq_col_dup(st, 2, NULL) : NULL;
    bool owner_ok = f->owner != NULL || sqlite3_column_type(st, 2) == SQLITE_NULL;
    if (!dead) {
        f->avail_at = sqlite3_column_int64(st, 3);
        f->deliveries = sqlite3_column_int64(st, 4);
        return f->payload != NULL && owner_ok ? 0 : -ENOMEM;
    }
    f->error = fp_sqlq_col_dup(st, 3, NULL);
    f->attempts = sqlite3_column_int64(st, 4);
    f->failed_at = sqlite3_column_int64(st, 5);
    return f->payload != NULL && owner_ok && f->error != NULL ? 0 : -ENOMEM;
}

/* One of the two lookups: 1 found, 0 not, or an error. */
static int find_in(fp_sqlq_t *q, const char *sql, bool dead, const char *queue, const char *id,
                   fp_sqlq_found_t *out, fp_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = fp_sqlq_prepare(q, sql, &st, err);
    if (rc < 0)
        return rc;
    char *end = NULL;
    long long row = strtoll(id, &end, 10);
    sqlite3_bind_text(st, 1, queue, -1, SQLITE_STATIC);
    if (id[0] >= '0' && id[0] <= '9' && end != NULL && *end == '\0')
        sqlite3_bind_int64(st, 2, row);
    else
        sqlite3_bind_int64(st, 2, -1); /* no row has it */
    sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        rc = found_row(st, dead, out) < 0 ? fp_err_set(err, -ENOMEM, "out of memory") : 1;
    else if (src != SQLITE_DONE)
        rc = fp_sqlq_fail(q, src, "looking a job up", err);
    sqlite3_finalize(st);
    return rc;
}

int fp_sqlq_find(fp_sqlq_t *q, const char *queue, const char *id, fp_sqlq_found_t *out,
                 bool *found, fp_err_t *err)
{
    memset(out, 0, sizeof *out);
    *found = false;
    int rc = find_in(q, find_job_sql, false, queue, id, out, err);
    if (rc == 0)
        rc = find_in(q, find_dead_sql, true, queue, id, out, err);
    if (rc < 0)
        fp_sqlq_found_clear(out);
    *found = rc == 1;
    return rc < 0 ? rc : 0;
}
