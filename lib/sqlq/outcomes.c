/* outcomes.c: settling pulled jobs (fp_sqlq_outcomes), the SQL form of the
 * Redis backend's outcome script (docs/redis.md, "Outcomes"). One transaction
 * per batch; each outcome acts only when its row is still leased to the
 * caller, checked and written under the same write lock, so no other
 * connection's take-over can come between. A retry or put-back becomes a new
 * row (a new id, as the Redis backend's XADD gives a new entry id), so an
 * outcome re-sent for the old id finds nothing, even after the job was pulled
 * again by the same consumer. An outcome of a job `forkpool cancel` marked
 * deletes the mark, and a retry or put-back of one becomes its dead row
 * "cancelled" (cancel.h), as the outcome script does; a success or dead
 * releases its unique key (unique.h). */
#include "sqlq/cancel.h"
#include "sqlq/store_internal.h"
#include "sqlq/unique.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fp_sqlq_stales_free(fp_sqlq_stales_t *stales)
{
    if (stales == NULL)
        return;
    free(stales->v);
    stales->v = NULL;
    stales->n = 0;
}

/* The row an outcome names, as the outcome needs it. */
typedef struct row_s {
    bool mine;  /* leased to the caller */
    char *queue;
    char owner[sizeof ((fp_sqlq_stale_t *)0)->holder]; /* for the stale list only */
    char *payload; /* only when the outcome brings none */
    size_t len;
    int64_t deliveries;
} row_t;

static int read_row(fp_sqlq_t *q, const char *consumer, const fp_sqlq_outcome_t *o, row_t *row,
                    fp_err_t *err)
{
    sqlite3_stmt *st = fp_sqlq_stmt(q, SQ_ROW);
    sqlite3_bind_int64(st, 1, o->id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *owner = (const char *)sqlite3_column_text(st, 2);
        row->mine = owner != NULL && strcmp(owner, consumer) == 0;
        snprintf(row->owner, sizeof row->owner, "%s", owner != NULL ? owner : "");
        row->deliveries = sqlite3_column_int64(st, 3);
        bool needs_payload = o->kind != FP_SQLQ_ACK && o->payload == NULL;
        if ((row->queue = fp_sqlq_col_dup(st, 0, NULL)) == NULL ||
            (needs_payload && (row->payload = fp_sqlq_col_dup(st, 1, &row->len)) == NULL)) {
            sqlite3_reset(st);
            return fp_err_set(err, -ENOMEM, "outcomes: out of memory");
        }
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : fp_sqlq_fail(q, rc, "reading a job", err);
}

/* The row again as a new one: a retry (deliveries start again, as a new
 * Redis entry's do) or a put-back (this delivery did not count). */
static int requeue(fp_sqlq_t *q, const fp_sqlq_outcome_t *o, const row_t *row, int64_t now_ms,
                   int64_t *new_id, fp_err_t *err)
{
    bool retry = o->kind == FP_SQLQ_RETRY;
    int64_t deliveries = retry ? 0 : (row->deliveries > 0 ? row->deliveries - 1 : 0);
    const char *payload = o->payload != NULL ? o->payload : row->payload;
    size_t len = o->payload != NULL ? o->len : row->len;
    fp_sqlq_row_new_t add = {row->queue, payload, len,
                             now_ms + (retry && o->delay_ms > 0 ? o->delay_ms : 0), deliveries};
    return fp_sqlq_insert(q, &add, now_ms, new_id,
                          retry ? "scheduling a retry" : "putting a job back", err);
}

int fp_sqlq_insert_dead(fp_sqlq_t *q, const fp_sqlq_dead_new_t *row, fp_err_t *err)
{
    sqlite3_stmt *st = fp_sqlq_stmt(q, SQ_DEAD_INSERT);
    sqlite3_bind_text(st, 1, row->queue, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, row->payload, (int)row->len, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, row->error != NULL ? row->error : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, row->attempts);
    sqlite3_bind_int64(st, 5, row->failed_at);
    sqlite3_bind_text(st, 6, row->consumer != NULL ? row->consumer : "", -1, SQLITE_STATIC);
    return fp_sqlq_run(q, st, "adding a dead job", err);
}

static int bury(fp_sqlq_t *q, const char *consumer, const fp_sqlq_outcome_t *o,
                const row_t *row, int64_t now_ms, fp_err_t *err)
{
    fp_sqlq_dead_new_t dead = {row->queue, o->payload != NULL ? o->payload : row->payload,
                               o->payload != NULL ? o->len : row->len, o->error, o->attempts,
                               now_ms, consumer};
    return fp_sqlq_insert_dead(q, &dead, err);
}

/* An ack, the common outcome, in one statement that checks and deletes; the
 * row is read only when that deleted nothing, for the holder to report. */
static int ack_mine(fp_sqlq_t *q, const char *consumer, int64_t id, bool *acted, fp_err_t *err)
{
    sqlite3_stmt *st = fp_sqlq_stmt(q, SQ_ACK_MINE);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, consumer, -1, SQLITE_STATIC);
    int rc = fp_sqlq_run(q, st, "removing a settled job", err);
    *acted = rc == 0 && sqlite3_changes(q->db) > 0;
    return rc;
}

/* What the batch's transaction found once, for each of its outcomes. */
typedef struct batch_s {
    bool marks;  /* the file holds cancel marks: an outcome may be turned */
    bool unique; /* the file holds unique keys: a success or dead releases
                  * its row's key (a retry or put-back keeps it, as on Redis) */
} batch_t;

static bool ends(fp_sqlq_kind_t kind)
{
    return kind == FP_SQLQ_ACK || kind == FP_SQLQ_DEAD;
}

/* One outcome inside the batch's transaction; *acted says whether it did. */
static int apply_one(fp_sqlq_t *q, const char *consumer, const fp_sqlq_outcome_t *given,
                     const batch_t *b, int64_t now_ms, bool *acted, char *holder, size_t holder_size,
                     int64_t *new_id, fp_err_t *err)
{
    fp_sqlq_outcome_t as = *given; /* a cancel mark may turn it into a dead one */
    const fp_sqlq_outcome_t *o = &as;
    holder[0] = '\0';
    /* Without marks the kind is final: the key goes before the row does
     * (the ack's fast path deletes it at once). */
    if (b->unique && !b->marks && ends(o->kind)) {
        int rc = fp_sqlq_unique_settle(q, consumer, o->id, err);
        if (rc < 0)
            return rc;
    }
    if (o->kind == FP_SQLQ_ACK && !b->marks) {
        int rc = ack_mine(q, consumer, o->id, acted, err);
        if (rc < 0 || *acted)
            return rc;
    }
    row_t row = {0};
    int rc = read_row(q, consumer, o, &row, err);
    *acted = rc == 0 && row.mine;
    snprintf(holder, holder_size, "%s", row.owner);
    bool turned = false;
    if (rc == 0 && *acted && b->marks)
        rc = fp_sqlq_cancel_outcome(q, &as, row.payload, row.len, now_ms, &turned, err);
    if (rc == 0 && *acted && b->unique && b->marks && ends(o->kind))
        rc = fp_sqlq_unique_settle(q, consumer, o->id, err); /* a turned retry ends too */
    if (turned && new_id != NULL)
        *new_id = -1;
    if (rc == 0 && *acted) {
        if (o->kind == FP_SQLQ_RETRY || o->kind == FP_SQLQ_PUT_BACK)
            rc = requeue(q, o, &row, now_ms, new_id, err);
        else if (o->kind == FP_SQLQ_DEAD)
            rc = bury(q, consumer, o, &row, now_ms, err);
        if (rc == 0) {
            sqlite3_stmt *del = fp_sqlq_stmt(q, SQ_DELETE);
            sqlite3_bind_int64(del, 1, o->id);
            rc = fp_sqlq_run(q, del, "removing a settled job", err);
        }
    }
    free(row.queue);
    free(row.payload);
    return rc;
}

static bool kind_valid(fp_sqlq_kind_t kind)
{
    return kind == FP_SQLQ_ACK || kind == FP_SQLQ_RETRY || kind == FP_SQLQ_DEAD ||
           kind == FP_SQLQ_PUT_BACK;
}

/* Checked before anything is written, as the outcome script checks its kind
 * letters: a batch is applied whole or not at all. */
static int check_items(const fp_sqlq_outcome_t *items, size_t n, fp_err_t *err)
{
    for (size_t i = 0; i < n; i++) {
        if (!kind_valid(items[i].kind))
            return fp_err_set(err, -EINVAL, "outcomes: unknown outcome kind %d for job %lld",
                              (int)items[i].kind, (long long)items[i].id);
        if (items[i].payload != NULL && items[i].len > INT32_MAX)
            return fp_err_set(err, FP_ELIMIT, "outcomes: payload of job %lld too large",
                              (long long)items[i].id);
    }
    return 0;
}

int fp_sqlq_outcomes(fp_sqlq_t *q, const char *consumer, const fp_sqlq_outcome_t *items,
                     size_t n, int64_t now_ms, size_t *applied, fp_sqlq_stales_t *stale,
                     fp_err_t *err)
{
    return fp_sqlq_outcomes_ids(q, consumer, items, n, now_ms, applied, stale, NULL, err);
}

int fp_sqlq_outcomes_ids(fp_sqlq_t *q, const char *consumer, const fp_sqlq_outcome_t *items,
                         size_t n, int64_t now_ms, size_t *applied, fp_sqlq_stales_t *stale,
                         int64_t *new_ids, fp_err_t *err)
{
    size_t count = 0;
    if (applied != NULL)
        *applied = 0;
    fp_sqlq_stales_free(stale);
    if (consumer == NULL || consumer[0] == '\0')
        return fp_err_set(err, -EINVAL, "outcomes: a consumer name is needed");
    int rc = check_items(items, n, err);
    if (rc < 0 || n == 0)
        return rc;
    if (stale != NULL && (stale->v = calloc(n, sizeof *stale->v)) == NULL)
        return fp_err_set(err, -ENOMEM, "outcomes: out of memory");
    rc = fp_sqlq_begin(q, err);
    batch_t b = {false, false}; /* one look each per batch: no per-outcome query when none */
    if (rc == 0)
        rc = fp_sqlq_cancel_any(q, now_ms, &b.marks, err);
    if (rc == 0)
        rc = fp_sqlq_unique_any(q, now_ms, &b.unique, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        bool acted = false;
        char holder[sizeof stale->v[0].holder];
        if (new_ids != NULL)
            new_ids[i] = 0;
        rc = apply_one(q, consumer, &items[i], &b, now_ms, &acted, holder, sizeof holder,
                       new_ids != NULL ? &new_ids[i] : NULL, err);
        count += rc == 0 && acted;
        if (rc == 0 && !acted && stale != NULL) {
            stale->v[stale->n].id = items[i].id;
            memcpy(stale->v[stale->n].holder, holder, sizeof holder);
            stale->n++;
        }
    }
    if ((rc = fp_sqlq_end(q, rc, err)) < 0) {
        fp_sqlq_stales_free(stale); /* none of the batch acted: it can be sent again whole */
        return rc;
    }
    if (applied != NULL)
        *applied = count;
    return 0;
}
