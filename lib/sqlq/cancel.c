/* cancel.c: cancelling a job in the queue file (cancel.h). The lookup and
 * the act are one transaction (BEGIN IMMEDIATE), as the Redis script is one
 * call: no pull can lease a waiting job between its finding and its
 * removal. The dead row is written before the job row goes, in that same
 * transaction, so the job is never lost whatever fails. */
#include "sqlq/cancel.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sqlq/inspect.h"
#include "sqlq/kv.h"
#include "sqlq/store_internal.h"

static const char delete_sql[] = "DELETE FROM jobs WHERE id = ?1 AND owner IS NULL";
static const char marked_sql[] =
    "SELECT j.id, j.enqueued_at, j.queue FROM kv k JOIN jobs j ON j.id = CAST(k.key AS INTEGER)"
    " WHERE k.space = '" FP_SQLQ_CANCEL_SPACE "' AND (k.expires_at IS NULL OR k.expires_at = 0"
    " OR k.expires_at > ?2) AND j.owner = ?1";

void fp_sqlq_cancel_clear(fp_sqlq_cancel_t *c)
{
    free(c->owner);
    memset(c, 0, sizeof *c);
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return n > 0;
}

/* An entry id "ENQUEUED_MS-ID" (both parts digits) names row ID; anything
 * else is looked up as given (a row id or a payload's "id"). */
static const char *row_key(const char *id, char *buf, size_t size)
{
    const char *dash = strchr(id, '-');
    if (dash == NULL || !all_digits(id, (size_t)(dash - id)) ||
        !all_digits(dash + 1, strlen(dash + 1)) || strlen(dash + 1) >= size)
        return id;
    snprintf(buf, size, "%s", dash + 1);
    return buf;
}

int fp_sqlq_cancel_find(fp_sqlq_t *q, const char *queue, const char *id, bool *found,
                        fp_err_t *err)
{
    char buf[32];
    fp_sqlq_found_t f;
    int rc = fp_sqlq_find(q, queue, row_key(id, buf, sizeof buf), &f, found, err);
    if (rc == 0)
        fp_sqlq_found_clear(&f);
    return rc;
}

/* The payload's "attempt", as the Redis script takes it; 0 without one. */
static int64_t attempts_of(const char *payload, size_t len)
{
    cJSON *j = cJSON_ParseWithLength(payload, len);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "attempt");
    int64_t n = cJSON_IsNumber(a) && a->valuedouble >= 0 && a->valuedouble < 1e15
                    ? (int64_t)a->valuedouble
                    : 0;
    cJSON_Delete(j);
    return n;
}

static int bury(fp_sqlq_t *q, const char *queue, const fp_sqlq_found_t *f, int64_t now_ms,
                fp_sqlq_cancel_t *out, fp_err_t *err)
{
    fp_sqlq_dead_new_t dead = {queue, f->payload, f->len, FP_CANCEL_ERROR,
                               attempts_of(f->payload, f->len), now_ms, FP_CANCEL_CONSUMER};
    int rc = fp_sqlq_insert_dead(q, &dead, err);
    out->dead_id = sqlite3_last_insert_rowid(q->db);
    sqlite3_stmt *st = NULL;
    if (rc == 0)
        rc = fp_sqlq_prep(q, delete_sql, &st, err);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, f->id);
        rc = fp_sqlq_run(q, st, "removing a cancelled job", err);
    }
    out->result = FP_CANCEL_DONE;
    out->was_delayed = f->avail_at > now_ms;
    return rc;
}

static int mark(fp_sqlq_t *q, fp_sqlq_found_t *f, int64_t now_ms, fp_sqlq_cancel_t *out,
                fp_err_t *err)
{
    char key[24], value[24];
    snprintf(key, sizeof key, "%" PRId64, f->id);
    snprintf(value, sizeof value, "%" PRId64, now_ms);
    out->result = FP_CANCEL_RUNNING;
    out->owner = f->owner;
    f->owner = NULL;
    return fp_sqlq_kv_put(q, FP_SQLQ_CANCEL_SPACE, key, value, now_ms + FP_SQLQ_CANCEL_TTL_MS,
                          err);
}

static int act(fp_sqlq_t *q, const char *queue, const char *id, int64_t now_ms,
               fp_sqlq_cancel_t *out, fp_err_t *err)
{
    char buf[32];
    fp_sqlq_found_t f;
    bool found = false;
    int rc = fp_sqlq_find(q, queue, row_key(id, buf, sizeof buf), &f, &found, err);
    if (rc < 0 || !found)
        return rc;
    if (f.dead) {
        out->result = FP_CANCEL_DEAD;
        out->dead_id = f.id;
    } else {
        out->id = f.id;
        rc = f.owner != NULL ? mark(q, &f, now_ms, out, err) : bury(q, queue, &f, now_ms, out, err);
    }
    fp_sqlq_found_clear(&f);
    return rc;
}

int fp_sqlq_cancel(fp_sqlq_t *q, const char *queue, const char *id, int64_t now_ms,
                   fp_sqlq_cancel_t *out, fp_err_t *err)
{
    memset(out, 0, sizeof *out);
    int rc = fp_sqlq_begin(q, err);
    if (rc == 0)
        rc = act(q, queue, id, now_ms, out, err);
    rc = fp_sqlq_end(q, rc, err);
    if (rc < 0)
        fp_sqlq_cancel_clear(out);
    return rc;
}

int fp_sqlq_cancel_any(fp_sqlq_t *q, int64_t now_ms, bool *any, fp_err_t *err)
{
    int64_t n = 0;
    int rc = fp_sqlq_kv_count(q, FP_SQLQ_CANCEL_SPACE, now_ms, &n, err);
    *any = rc == 0 && n > 0;
    return rc;
}

int fp_sqlq_cancel_outcome(fp_sqlq_t *q, fp_sqlq_outcome_t *o, const char *row_payload,
                           size_t row_len, int64_t now_ms, bool *turned, fp_err_t *err)
{
    char key[24];
    bool had = false;
    snprintf(key, sizeof key, "%" PRId64, o->id);
    (void)now_ms; /* a mark lives a day, far past any lease: its expiry is not looked at */
    int rc = fp_sqlq_kv_del(q, FP_SQLQ_CANCEL_SPACE, key, NULL, &had, err);
    *turned = rc == 0 && had && (o->kind == FP_SQLQ_RETRY || o->kind == FP_SQLQ_PUT_BACK);
    if (*turned) {
        const char *payload = o->payload != NULL ? o->payload : row_payload;
        size_t len = o->payload != NULL ? o->len : row_len;
        o->kind = FP_SQLQ_DEAD;
        o->error = FP_CANCEL_ERROR;
        o->attempts = payload != NULL ? attempts_of(payload, len) : 0;
    }
    return rc;
}

/* ---- the daemon's take ------------------------------------------------------ */

void fp_sqlq_cancel_marked_free(char **ids, char **queues, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(ids != NULL ? ids[i] : NULL);
        free(queues != NULL ? queues[i] : NULL);
    }
    free(ids);
    free(queues);
}

static int push(char ***ids, char ***queues, size_t *n, sqlite3_stmt *st)
{
    char **v = realloc(*ids, (*n + 1) * sizeof *v);
    if (v != NULL)
        *ids = v;
    char **w = realloc(*queues, (*n + 1) * sizeof *w);
    if (w != NULL)
        *queues = w;
    if (v == NULL || w == NULL)
        return -ENOMEM;
    char eid[48];
    snprintf(eid, sizeof eid, "%" PRId64 "-%" PRId64, (int64_t)sqlite3_column_int64(st, 1),
             (int64_t)sqlite3_column_int64(st, 0));
    v[*n] = strdup(eid);
    w[*n] = fp_sqlq_col_dup(st, 2, NULL);
    (*n)++;
    return v[*n - 1] != NULL && w[*n - 1] != NULL ? 0 : -ENOMEM;
}

int fp_sqlq_cancel_marked(fp_sqlq_t *q, const char *consumer, int64_t now_ms, char ***ids,
                          char ***queues, size_t *n, fp_err_t *err)
{
    *ids = *queues = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    int rc = fp_sqlq_prep(q, marked_sql, &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(st, 1, consumer, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_ms);
    int src = SQLITE_DONE;
    while (rc == 0 && (src = sqlite3_step(st)) == SQLITE_ROW)
        rc = push(ids, queues, n, st);
    if (rc == 0 && src != SQLITE_DONE)
        rc = fp_sqlq_fail(q, src, "reading cancel marks", err);
    else if (rc < 0)
        fp_err_set(err, rc, "reading cancel marks: out of memory");
    sqlite3_reset(st);
    if (rc < 0) {
        fp_sqlq_cancel_marked_free(*ids, *queues, *n);
        *ids = *queues = NULL;
        *n = 0;
    }
    return rc;
}
