/* kv.c: the kv table's calls (kv.h). "Live" is expires_at NULL or 0, or
 * later than now: the one condition every read below shares (LIVE). */
#include "sqlq/kv.h"

#include <errno.h>
#include <stdlib.h>

#include "sqlq/store_internal.h"

#define LIVE "(expires_at IS NULL OR expires_at = 0 OR expires_at > ?3)"

static const char get_sql[] =
    "SELECT value, coalesce(expires_at, 0) FROM kv WHERE space = ?1 AND key = ?2 AND " LIVE;
static const char put_sql[] =
    "INSERT OR REPLACE INTO kv (space, key, value, expires_at) VALUES (?1, ?2, ?4, ?5)";
/* ?3 (now) is bound for LIVE's sake in every statement; here it decides
 * whether the row in the way is dead and may be replaced. */
static const char put_new_sql[] =
    "INSERT INTO kv (space, key, value, expires_at) VALUES (?1, ?2, ?4, ?5)"
    " ON CONFLICT (space, key) DO UPDATE SET value = excluded.value,"
    " expires_at = excluded.expires_at WHERE NOT " LIVE;
static const char del_sql[] = "DELETE FROM kv WHERE space = ?1 AND key = ?2";
static const char del_if_sql[] = "DELETE FROM kv WHERE space = ?1 AND key = ?2 AND value = ?4";
static const char purge_sql[] =
    "DELETE FROM kv WHERE space = ?1 AND NOT " LIVE;
static const char count_sql[] = "SELECT count(*) FROM kv WHERE space = ?1 AND " LIVE;
static const char each_sql[] =
    "SELECT key, value, coalesce(expires_at, 0) FROM kv WHERE space = ?1 AND " LIVE
    " ORDER BY key";

/* The statement with the bindings every kv call shares (?1 space, ?2 key,
 * ?3 now, ?4 value, ?5 expiry; an unused one stays NULL). */
static int bound(fp_sqlq_t *q, const char *sql, const char *space, const char *key,
                 int64_t now_ms, sqlite3_stmt **st, fp_err_t *err)
{
    int rc = fp_sqlq_prep(q, sql, st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(*st, 1, space, -1, SQLITE_STATIC);
    if (key != NULL)
        sqlite3_bind_text(*st, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(*st, 3, now_ms);
    return 0;
}

int fp_sqlq_kv_get(fp_sqlq_t *q, const char *space, const char *key, int64_t now_ms,
                   char **value, int64_t *expires_at, fp_err_t *err)
{
    sqlite3_stmt *st;
    int rc = bound(q, get_sql, space, key, now_ms, &st, err);
    if (rc < 0)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return -ENOENT;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return fp_sqlq_fail(q, rc, "reading a kept value", err);
    }
    int out = 0;
    if (value != NULL && (*value = fp_sqlq_col_dup(st, 0, NULL)) == NULL)
        out = fp_err_set(err, -ENOMEM, "queue file %s: out of memory", q->path);
    if (expires_at != NULL)
        *expires_at = sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    return out;
}

static int kv_write(fp_sqlq_t *q, const char *sql, const char *space, const char *key,
                 const char *value, int64_t expires_at, int64_t now_ms, int64_t *changed,
                 fp_err_t *err)
{
    sqlite3_stmt *st;
    int rc = bound(q, sql, space, key, now_ms, &st, err);
    if (rc < 0)
        return rc;
    if (value != NULL)
        sqlite3_bind_text(st, 4, value, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, expires_at);
    rc = fp_sqlq_run(q, st, "writing a kept value", err);
    if (rc == 0 && changed != NULL)
        *changed = sqlite3_changes64(q->db);
    return rc;
}

int fp_sqlq_kv_put(fp_sqlq_t *q, const char *space, const char *key, const char *value,
                   int64_t expires_at, fp_err_t *err)
{
    return kv_write(q, put_sql, space, key, value, expires_at, 0, NULL, err);
}

int fp_sqlq_kv_put_new(fp_sqlq_t *q, const char *space, const char *key, const char *value,
                       int64_t expires_at, int64_t now_ms, bool *taken, fp_err_t *err)
{
    int64_t n = 0;
    int rc = kv_write(q, put_new_sql, space, key, value, expires_at, now_ms, &n, err);
    *taken = rc == 0 && n > 0;
    return rc;
}

int fp_sqlq_kv_del(fp_sqlq_t *q, const char *space, const char *key, const char *if_value,
                   bool *deleted, fp_err_t *err)
{
    int64_t n = 0;
    int rc = kv_write(q, if_value != NULL ? del_if_sql : del_sql, space, key, if_value, 0, 0, &n,
                   err);
    if (deleted != NULL)
        *deleted = rc == 0 && n > 0;
    return rc;
}

int fp_sqlq_kv_purge(fp_sqlq_t *q, const char *space, int64_t now_ms, int64_t *purged,
                     fp_err_t *err)
{
    int64_t n = 0;
    int rc = kv_write(q, purge_sql, space, NULL, NULL, 0, now_ms, &n, err);
    if (purged != NULL)
        *purged = rc == 0 ? n : 0;
    return rc;
}

int fp_sqlq_kv_count(fp_sqlq_t *q, const char *space, int64_t now_ms, int64_t *n, fp_err_t *err)
{
    sqlite3_stmt *st;
    int rc = bound(q, count_sql, space, NULL, now_ms, &st, err);
    if (rc < 0)
        return rc;
    rc = sqlite3_step(st);
    *n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : fp_sqlq_fail(q, rc, "counting kept values", err);
}

int fp_sqlq_kv_each(fp_sqlq_t *q, const char *space, int64_t now_ms, fp_sqlq_kv_each_cb cb,
                    void *ctx, fp_err_t *err)
{
    sqlite3_stmt *st;
    int rc = bound(q, each_sql, space, NULL, now_ms, &st, err), stop = 0;
    if (rc < 0)
        return rc;
    while (stop == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
        stop = cb(ctx, (const char *)sqlite3_column_text(st, 0),
                  (const char *)sqlite3_column_text(st, 1), sqlite3_column_int64(st, 2));
    sqlite3_reset(st);
    if (stop != 0)
        return stop;
    return rc == SQLITE_DONE ? 0 : fp_sqlq_fail(q, rc, "reading kept values", err);
}
