/* open.c: opening a queue file (fp_sqlq_open). Nothing is written to a file
 * before it is known to be ours or empty: its first bytes are checked
 * (header.c), then a read-only look at application_id, user_version and the
 * schema decides; only then come WAL mode and, for an empty file, the schema,
 * created inside BEGIN IMMEDIATE so two processes creating one file at once
 * create it once. auto_vacuum = INCREMENTAL must be set before the first
 * table exists: afterwards SQLite would only honour it after a full VACUUM. */
#include "sqlq/store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sqlq/header.h"

/* Schema 2's addition (kv.h): keyed values with an optional expiry, for
 * what the Redis backend keeps in side keys. WITHOUT ROWID: the key is the
 * lookup, and a row is a few short texts. */
#define KV_SQL \
    "CREATE TABLE IF NOT EXISTS kv (" \
    " space TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, expires_at INTEGER," \
    " PRIMARY KEY (space, key)) WITHOUT ROWID;" \
    "CREATE INDEX IF NOT EXISTS kv_expiry ON kv (space, expires_at);"

/* Schema 3's addition: how many rows each queue ever got (every insert: an
 * enqueue, a retry, a put-back, as every XADD counts in a stream's
 * entries-added) and how many were taken from nobody (a pull's lease, as a
 * group's entries-read; a take-over is not counted): the in and out rates of
 * the status page and `forkpool top`. Adds are counted by a trigger, so that
 * every producer (the command line, Python's standard-library client) counts
 * without knowing; takes by the pull itself, once per queue and pull
 * (pull.c), since a trigger there would cost every pulled row an update. */
#define TRAFFIC_SQL \
    "CREATE TABLE IF NOT EXISTS traffic (" \
    " queue TEXT PRIMARY KEY, added INTEGER NOT NULL DEFAULT 0," \
    " taken INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;" \
    "CREATE TRIGGER IF NOT EXISTS jobs_added AFTER INSERT ON jobs BEGIN" \
    " INSERT INTO traffic (queue, added) VALUES (NEW.queue, 1)" \
    " ON CONFLICT (queue) DO UPDATE SET added = added + 1; END;"

/* Ids are AUTOINCREMENT so that an id is never reused: an outcome re-sent for
 * a deleted row must not find another job under its id. avail_at is when the
 * row can next be pulled: its due time while not leased, its lease's end
 * while leased; one index on (queue, avail_at) serves every pull. */
static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS jobs ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, payload TEXT NOT NULL,"
    " avail_at INTEGER NOT NULL, owner TEXT, deliveries INTEGER NOT NULL DEFAULT 0,"
    " enqueued_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS jobs_available ON jobs (queue, avail_at);"
    "CREATE INDEX IF NOT EXISTS jobs_owner ON jobs (owner, queue) WHERE owner IS NOT NULL;"
    "CREATE TABLE IF NOT EXISTS dead ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, payload TEXT NOT NULL,"
    " error TEXT NOT NULL, attempts INTEGER NOT NULL, failed_at INTEGER NOT NULL,"
    " consumer TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS dead_queue ON dead (queue);" KV_SQL TRAFFIC_SQL;

static const char *const stmt_sql[SQ_COUNT_] = {
    [SQ_BEGIN] = "BEGIN IMMEDIATE",
    [SQ_COMMIT] = "COMMIT",
    [SQ_ROLLBACK] = "ROLLBACK",
    [SQ_INSERT] = "INSERT INTO jobs (queue, payload, avail_at, owner, deliveries, enqueued_at)"
                  " VALUES (?1, ?2, ?3, NULL, ?4, ?5)",
    [SQ_AVAILABLE] = "SELECT id, payload, deliveries, enqueued_at, owner IS NULL FROM jobs"
                     " WHERE queue = ?1 AND avail_at <= ?2 ORDER BY avail_at, id LIMIT ?3",
    [SQ_OWN] = "SELECT id, payload, deliveries, enqueued_at, 0 FROM jobs"
               " WHERE owner = ?2 AND queue = ?1 ORDER BY id LIMIT ?3",
    [SQ_TAKEN] = "INSERT INTO traffic (queue, taken) VALUES (?1, ?2)"
                 " ON CONFLICT (queue) DO UPDATE SET taken = taken + excluded.taken",
    [SQ_LEASE] = "UPDATE jobs SET owner = ?2, avail_at = ?3, deliveries = deliveries + 1"
                 " WHERE id = ?1",
    [SQ_RENEW] = "UPDATE jobs SET avail_at = ?3 WHERE id = ?1 AND owner = ?2",
    [SQ_ROW] = "SELECT queue, payload, owner, deliveries FROM jobs WHERE id = ?1",
    [SQ_DELETE] = "DELETE FROM jobs WHERE id = ?1",
    [SQ_ACK_MINE] = "DELETE FROM jobs WHERE id = ?1 AND owner = ?2",
    [SQ_DEAD_INSERT] = "INSERT INTO dead (queue, payload, error, attempts, failed_at, consumer)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [SQ_COUNTS] = "SELECT coalesce(sum(owner IS NULL AND avail_at <= ?2), 0),"
                  " coalesce(sum(owner IS NULL AND avail_at > ?2), 0),"
                  " coalesce(sum(owner IS NOT NULL), 0) FROM jobs WHERE queue = ?1",
    [SQ_DEAD_COUNT] = "SELECT count(*) FROM dead WHERE queue = ?1",
    [SQ_DEAD_PAGE] = "SELECT id, payload, error, consumer, attempts, failed_at FROM dead"
                     " WHERE queue = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
    [SQ_DEAD_GET] = "SELECT payload FROM dead WHERE queue = ?1 AND id = ?2",
    [SQ_DEAD_REQUEUE_ALL] = "INSERT INTO jobs (queue, payload, avail_at, owner, deliveries,"
                            " enqueued_at) SELECT queue, payload, ?2, NULL, 0, ?2 FROM dead"
                            " WHERE queue = ?1 ORDER BY id",
    [SQ_DEAD_DELETE] = "DELETE FROM dead WHERE queue = ?1 AND id = ?2",
    [SQ_DEAD_CLEAR] = "DELETE FROM dead WHERE queue = ?1",
    [SQ_FREELIST] = "PRAGMA freelist_count",
    [SQ_PAGE_SIZE] = "PRAGMA page_size",
    [SQ_DATA_VERSION] = "PRAGMA data_version",
    [SQ_EXISTS] = "SELECT 1 FROM jobs WHERE id = ?1",
    [SQ_OLDEST_READY] = "SELECT min(avail_at) FROM jobs"
                        " WHERE queue = ?1 AND avail_at <= ?2 AND owner IS NULL",
};

/* The file's first bytes, checked before SQLite opens it (header.c). A file
 * that does not exist yet passes: SQLite creates it. */
static int check_head(const char *path, fp_err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : fp_err_set(err, -errno, "queue file %s: %s", path,
                                                strerror(errno));
    unsigned char head[FP_SQLQ_HEADER_LEN];
    struct stat st;
    ssize_t n = fstat(fd, &st) == 0 ? pread(fd, head, sizeof head, 0) : -1;
    int saved = errno;
    close(fd);
    if (n < 0)
        return fp_err_set(err, -saved, "queue file %s: %s", path, strerror(saved));
    char wal[4096];
    struct stat wst;
    snprintf(wal, sizeof wal, "%s-wal", path);
    bool wal_present = stat(wal, &wst) == 0 && wst.st_size > 0;
    int rc = fp_sqlq_header_check(head, (size_t)n, (int64_t)st.st_size, wal_present, err);
    if (rc < 0)
        fp_err_prefix(err, "queue file %s", path);
    return rc;
}

/* One integer from a query run once (pragmas, counts). */
static int query_int(fp_sqlq_t *q, const char *sql, int64_t *out, fp_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(q->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(st, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : fp_sqlq_fail(q, rc, "reading the header", err);
}

/* Reads only; *fresh when the file is an empty database; *version (may be
 * NULL) its schema version. */
static int identify(fp_sqlq_t *q, bool *fresh, int64_t *version_out, fp_err_t *err)
{
    int64_t app = 0, version = 0, objects = 0;
    int rc;
    if ((rc = query_int(q, "PRAGMA application_id", &app, err)) < 0 ||
        (rc = query_int(q, "PRAGMA user_version", &version, err)) < 0 ||
        (rc = query_int(q, "SELECT count(*) FROM sqlite_master", &objects, err)) < 0)
        return rc;
    rc = fp_sqlq_identity_check(app, version, objects, FP_SQLQ_SCHEMA_VERSION, fresh, err);
    if (version_out != NULL)
        *version_out = version;
    if (rc < 0)
        fp_err_prefix(err, "queue file %s", q->path);
    return rc;
}

/* PRAGMA quick_check answers "ok", or rows naming what is damaged. */
static int quick_check(fp_sqlq_t *q, fp_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(q->db, "PRAGMA quick_check(1)", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *verdict = (const char *)sqlite3_column_text(st, 0);
        int code = verdict != NULL && strcmp(verdict, "ok") == 0
                       ? 0
                       : fp_err_set(err, FP_EBADSTORE, "queue file %s: damaged: %s", q->path,
                                    verdict != NULL ? verdict : "unknown");
        sqlite3_finalize(st);
        return code;
    }
    sqlite3_finalize(st);
    return fp_sqlq_fail(q, rc, "checking the file", err);
}

static int exec(fp_sqlq_t *q, const char *sql, const char *doing, fp_err_t *err)
{
    int rc = sqlite3_exec(q->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : fp_sqlq_fail(q, rc, doing, err);
}

/* journal_mode answers the mode it got: WAL is refused on some file systems,
 * and without it readers would block the writer. */
static int set_wal(fp_sqlq_t *q, fp_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(q->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *mode = (const char *)sqlite3_column_text(st, 0);
        rc = mode != NULL && strcmp(mode, "wal") == 0 ? SQLITE_OK : SQLITE_CANTOPEN;
        if (rc != SQLITE_OK) {
            int code = fp_err_set(err, -EIO, "queue file %s: WAL mode refused (journal mode %s)",
                                  q->path, mode != NULL ? mode : "unknown");
            sqlite3_finalize(st);
            return code;
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : fp_sqlq_fail(q, rc, "setting WAL mode", err);
}

/* Under the write lock, so that two processes opening one file at once
 * write its schema once (each checks again there): an empty file gets the
 * schema and the file's identity; a file of an older schema what was added
 * since. Only additions so far: an older forkpool refuses the file
 * afterwards (a newer schema), which is what stops it ignoring the new
 * tables. */
static int write_schema(fp_sqlq_t *q, fp_err_t *err)
{
    char ids[128];
    snprintf(ids, sizeof ids, "PRAGMA application_id=%d; PRAGMA user_version=%d;",
             FP_SQLQ_APPLICATION_ID, FP_SQLQ_SCHEMA_VERSION);
    bool fresh = false;
    int64_t version = 0;
    int rc = exec(q, "BEGIN IMMEDIATE", "locking", err);
    if (rc < 0)
        return rc;
    if ((rc = identify(q, &fresh, &version, err)) == 0 && fresh)
        rc = exec(q, schema_sql, "creating the schema", err);
    if (rc == 0 && !fresh && version < 2)
        rc = exec(q, KV_SQL, "adding schema 2's table", err);
    if (rc == 0 && !fresh && version < 3)
        rc = exec(q, TRAFFIC_SQL, "adding schema 3's counters", err);
    if (rc == 0 && (fresh || version < FP_SQLQ_SCHEMA_VERSION))
        rc = exec(q, ids, "setting the file's identity", err);
    if (rc == 0)
        rc = exec(q, "COMMIT", "committing the schema", err);
    if (rc < 0 && !sqlite3_get_autocommit(q->db))
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int configure(fp_sqlq_t *q, int flags, fp_err_t *err)
{
    bool fresh = false;
    int64_t version = 0;
    int rc;
    if ((rc = identify(q, &fresh, &version, err)) < 0 ||
        (!fresh && (flags & FP_SQLQ_CHECK) && (rc = quick_check(q, err)) < 0))
        return rc;
    /* auto_vacuum must be set before the first table exists. */
    if (fresh && (rc = exec(q, "PRAGMA auto_vacuum=INCREMENTAL", "setting auto_vacuum", err)) < 0)
        return rc;
    if ((rc = set_wal(q, err)) == 0 && (fresh || version < FP_SQLQ_SCHEMA_VERSION))
        rc = write_schema(q, err);
    if (rc < 0)
        return rc;
    /* The WAL is truncated back to this after a checkpoint, so a burst of
     * writes does not leave a large -wal file behind for good. */
    const char *sync = (flags & FP_SQLQ_SYNC_FULL) ? "PRAGMA synchronous=FULL;"
                                                   : "PRAGMA synchronous=NORMAL;";
    if ((rc = exec(q, sync, "setting synchronous", err)) < 0 ||
        (rc = exec(q, "PRAGMA journal_size_limit=67108864", "limiting the WAL", err)) < 0)
        return rc;
    for (int i = 0; i < SQ_COUNT_; i++) {
        int src = sqlite3_prepare_v3(q->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                     &q->st[i], NULL);
        if (src != SQLITE_OK)
            return fp_sqlq_fail(q, src, "preparing statements", err);
    }
    return 0;
}

int fp_sqlq_open(const char *path, int flags, fp_sqlq_t **out, fp_err_t *err)
{
    *out = NULL;
    int rc = check_head(path, err);
    if (rc < 0)
        return rc;
    fp_sqlq_t *q = calloc(1, sizeof *q);
    if (q == NULL || (q->path = strdup(path)) == NULL) {
        free(q);
        return fp_err_set(err, -ENOMEM, "queue file %s: out of memory", path);
    }
    /* NOMUTEX: one thread uses a connection at a time (store.h). */
    int oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int src = sqlite3_open_v2(path, &q->db, oflags, NULL);
    if (src != SQLITE_OK) {
        rc = fp_sqlq_fail(q, src, "cannot open", err);
    } else {
        sqlite3_extended_result_codes(q->db, 1);
        sqlite3_busy_timeout(q->db, FP_SQLQ_BUSY_TIMEOUT_MS);
        /* Closing the last connection to a WAL database checkpoints it into
         * the file: not allowed until the file is known to be ours. */
        sqlite3_db_config(q->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
        rc = configure(q, flags, err);
        if (rc == 0)
            sqlite3_db_config(q->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);
    }
    if (rc < 0) {
        fp_sqlq_close(q);
        return rc;
    }
    *out = q;
    return 0;
}

void fp_sqlq_close(fp_sqlq_t *q)
{
    if (q == NULL)
        return;
    for (int i = 0; i < SQ_COUNT_; i++)
        sqlite3_finalize(q->st[i]);
    for (size_t i = 0; i < q->nextra; i++)
        sqlite3_finalize(q->extra[i].st);
    sqlite3_close_v2(q->db);
    free(q->path);
    free(q);
}
