/* unique.c: unique jobs on the embedded queue (unique.h): the enqueue that
 * takes the key and adds the row together, the compare-and-delete release,
 * and the outcome's release of a settled row's key. */
#include "sqlq/unique.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "queue/unique.h"
#include "sqlq/kv.h"
#include "sqlq/space.h"
#include "sqlq/store_internal.h"

/* Every space from "unique:" up to (not including) "unique;" (':' + 1):
 * an index range, not a scan; a live key only (kv.c's rule), so keys that
 * expired unreleased stop costing the outcomes their reads. Few expired
 * keys are ever passed over: each unique enqueue purges its queue's. */
static const char any_sql[] =
    "SELECT 1 FROM kv WHERE space >= '" FP_SQLQ_UNIQUE_SPACE "' AND space < 'unique;'"
    " AND (expires_at IS NULL OR expires_at = 0 OR expires_at > ?1) LIMIT 1";
static const char row_sql[] = "SELECT queue, payload FROM jobs WHERE id = ?1 AND owner = ?2";
/* ?1 queue, ?2 a dead row's id or NULL for all, ?3 the new expiry, ?4 now;
 * oldest first, so of two dead jobs with one key the older takes it (the
 * next conflicts with a live key and changes nothing). */
static const char retake_sql[] =
    "INSERT INTO kv (space, key, value, expires_at)"
    " SELECT '" FP_SQLQ_UNIQUE_SPACE "' || queue, json_extract(payload, '$.unique.key'),"
    " json_extract(payload, '$.id'), ?3 FROM dead"
    " WHERE queue = ?1 AND (?2 IS NULL OR id = ?2) AND json_valid(payload)"
    " AND json_type(payload, '$.unique.key') = 'text' AND json_extract(payload, '$.unique.key') <> ''"
    " AND json_type(payload, '$.id') = 'text' ORDER BY id"
    " ON CONFLICT (space, key) DO UPDATE SET value = excluded.value,"
    " expires_at = excluded.expires_at"
    " WHERE NOT (kv.expires_at IS NULL OR kv.expires_at = 0 OR kv.expires_at > ?4)";

static char *id_text(const cJSON *id)
{
    if (cJSON_IsString(id))
        return id->valuestring[0] != '\0' ? strdup(id->valuestring) : NULL;
    if (!cJSON_IsNumber(id))
        return NULL;
    char text[32];
    snprintf(text, sizeof text, "%.14g", id->valuedouble);
    return strdup(text);
}

bool fp_sqlq_unique_of(const char *payload, size_t len, char **key, char **id)
{
    /* Most payloads have no "unique": a byte search spares them the parse. */
    static const char needle[] = "\"unique\"";
    *key = *id = NULL;
    if (payload == NULL || memmem(payload, len, needle, sizeof needle - 1) == NULL)
        return false;
    cJSON *job = fp_json_parse(payload, len);
    const cJSON *u = cJSON_IsObject(job) ? cJSON_GetObjectItemCaseSensitive(job, "unique") : NULL;
    const cJSON *k = cJSON_IsObject(u) ? cJSON_GetObjectItemCaseSensitive(u, "key") : NULL;
    if (cJSON_IsString(k) && k->valuestring[0] != '\0') {
        *id = id_text(cJSON_GetObjectItemCaseSensitive(job, "id"));
        *key = *id != NULL ? strdup(k->valuestring) : NULL;
    }
    cJSON_Delete(job);
    if (*key == NULL) {
        free(*id);
        *id = NULL;
    }
    return *key != NULL;
}

static int take(fp_sqlq_t *q, const char *space, const fp_sqlq_unique_new_t *job, int64_t now_ms,
                bool *duplicate, char **holder, int64_t *row_id, fp_err_t *err)
{
    /* Redis deletes an expired key by itself; here the next enqueue does. */
    int rc = fp_sqlq_kv_purge(q, space, now_ms, NULL, err);
    if (rc == 0)
        rc = fp_sqlq_kv_get(q, space, job->key, now_ms, holder, NULL, err);
    if (rc == 0) {
        *duplicate = true;
        return 0;
    }
    if (rc != -ENOENT)
        return rc;
    if ((*holder = strdup(job->id)) == NULL)
        return fp_err_set(err, -ENOMEM, "unique enqueue: out of memory");
    rc = fp_sqlq_kv_put(q, space, job->key, job->id, now_ms + job->ttl_ms, err);
    fp_sqlq_row_new_t row = {job->queue, job->payload, job->len, now_ms + job->delay_ms, 0};
    return rc < 0 ? rc : fp_sqlq_insert(q, &row, now_ms, row_id, "adding a unique job", err);
}

int fp_sqlq_unique_enqueue(fp_sqlq_t *q, const fp_sqlq_unique_new_t *job, int64_t now_ms,
                           bool *duplicate, char **holder, int64_t *row_id, fp_err_t *err)
{
    *duplicate = false;
    *holder = NULL;
    if (job->queue == NULL || job->key == NULL || job->id == NULL || job->payload == NULL ||
        job->ttl_ms <= 0 || job->delay_ms < 0 || job->len > INT32_MAX)
        return fp_err_set(err, -EINVAL, "unique enqueue: a queue, a key, an id, a payload, a "
                          "TTL > 0 and a delay >= 0 are needed");
    char *space = fp_sqlq_space_of(FP_SQLQ_UNIQUE_SPACE, job->queue);
    if (space == NULL)
        return fp_err_set(err, -ENOMEM, "unique enqueue: out of memory");
    int rc = fp_sqlq_begin(q, err);
    if (rc == 0)
        rc = take(q, space, job, now_ms, duplicate, holder, row_id, err);
    rc = fp_sqlq_end(q, rc, err);
    free(space);
    if (rc < 0) {
        free(*holder);
        *holder = NULL;
        *duplicate = false;
    }
    return rc;
}

int fp_sqlq_unique_release(fp_sqlq_t *q, const char *queue, const char *key, const char *id,
                           bool *released, fp_err_t *err)
{
    char *space = fp_sqlq_space_of(FP_SQLQ_UNIQUE_SPACE, queue);
    if (space == NULL)
        return fp_err_set(err, -ENOMEM, "releasing a unique key: out of memory");
    int rc = fp_sqlq_kv_del(q, space, key, id, released, err);
    free(space);
    return rc;
}

int fp_sqlq_unique_any(fp_sqlq_t *q, int64_t now_ms, bool *any, fp_err_t *err)
{
    sqlite3_stmt *st;
    *any = false;
    int rc = fp_sqlq_prep(q, any_sql, &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, now_ms);
    rc = sqlite3_step(st);
    *any = rc == SQLITE_ROW;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0
                                                 : fp_sqlq_fail(q, rc, "looking for unique keys", err);
}

int fp_sqlq_unique_retake(fp_sqlq_t *q, const char *queue, int64_t id, int64_t now_ms,
                          fp_err_t *err)
{
    sqlite3_stmt *st;
    int rc = fp_sqlq_prep(q, retake_sql, &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(st, 1, queue, -1, SQLITE_STATIC);
    if (id > 0)
        sqlite3_bind_int64(st, 2, id);
    sqlite3_bind_int64(st, 3, now_ms + FP_UNIQUE_TTL_DEFAULT_MS);
    sqlite3_bind_int64(st, 4, now_ms);
    return fp_sqlq_run(q, st, "taking a retried job's unique key again", err);
}

int fp_sqlq_unique_settle(fp_sqlq_t *q, const char *consumer, int64_t id, fp_err_t *err)
{
    sqlite3_stmt *st;
    int rc = fp_sqlq_prep(q, row_sql, &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, consumer, -1, SQLITE_STATIC);
    char *queue = NULL, *key = NULL, *job_id = NULL;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *payload = (const char *)sqlite3_column_text(st, 1);
        size_t len = (size_t)sqlite3_column_bytes(st, 1);
        if (fp_sqlq_unique_of(payload, len, &key, &job_id) &&
            (queue = fp_sqlq_col_dup(st, 0, NULL)) == NULL)
            rc = fp_err_set(err, -ENOMEM, "releasing a unique key: out of memory");
        else
            rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? 0 : fp_sqlq_fail(q, rc, "reading a settled job", err);
    }
    sqlite3_reset(st);
    if (rc == 0 && queue != NULL)
        rc = fp_sqlq_unique_release(q, queue, key, job_id, NULL, err);
    free(queue);
    free(key);
    free(job_id);
    return rc;
}
