/* ledger_db.c: the ledger's SQLite work, on its writer thread alone
 * (ledger.c runs the thread): the schema, opening (WAL, busy timeout, kept
 * statements), a batch of rows in one transaction with one reused INSERT,
 * noticing the file removed or replaced under it, and pruning old rows a
 * chunk at a time. */
#include "ledger/ledger_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/log.h"
#include "base/os.h"
#include "pool/spawn.h"

/* journal_mode is a query (it answers the mode it got), so it is run apart. */
static const char schema_sql[] =
    "PRAGMA synchronous=NORMAL;"
    "PRAGMA journal_size_limit=67108864;"
    "CREATE TABLE IF NOT EXISTS jobs ("
    " id INTEGER PRIMARY KEY, queue TEXT, entry_id TEXT, job_id TEXT, type TEXT,"
    " outcome TEXT, attempt INTEGER, enqueued_at INTEGER, started_at INTEGER,"
    " finished_at INTEGER, duration_us INTEGER, pid INTEGER, error TEXT);"
    /* One index per way `forkpool jobs` filters, each ending in finished_at so
     * that "newest first" is an index walk, not a sort of a million rows. */
    "CREATE INDEX IF NOT EXISTS jobs_finished_at ON jobs (finished_at);"
    "CREATE INDEX IF NOT EXISTS jobs_outcome_finished_at ON jobs (outcome, finished_at);"
    "CREATE INDEX IF NOT EXISTS jobs_type_finished_at ON jobs (type, finished_at);"
    "PRAGMA user_version=1;";

static const char insert_sql[] =
    "INSERT INTO jobs (queue, entry_id, job_id, type, outcome, attempt, enqueued_at,"
    " started_at, finished_at, duration_us, pid, error)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

/* The subquery walks the finished_at index, so each chunk costs its own size
 * whatever the table holds. */
static const char prune_sql[] =
    "DELETE FROM jobs WHERE id IN"
    " (SELECT id FROM jobs WHERE finished_at < ?1 LIMIT ?2)";

/* All of these run on the writer thread inside the fork lock's read side. */

static int db_fail(fp_ledger_t *l, const char *doing, fp_err_t *err)
{
    return fp_err_set(err, FP_ECONFIG, "ledger %s: %s: %s", l->path, doing,
                      l->db != NULL ? sqlite3_errmsg(l->db) : "out of memory");
}

void fp__ledger_db_close(fp_ledger_t *l)
{
    sqlite3_finalize(l->insert);
    sqlite3_finalize(l->prune);
    sqlite3_finalize(l->begin);
    sqlite3_finalize(l->commit);
    sqlite3_finalize(l->rollback);
    l->insert = l->prune = l->begin = l->commit = l->rollback = NULL;
    sqlite3_close_v2(l->db);
    l->db = NULL;
}

static int prepare(fp_ledger_t *l, const char *sql, sqlite3_stmt **stmt, fp_err_t *err)
{
    if (sqlite3_prepare_v3(l->db, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, NULL) != SQLITE_OK)
        return db_fail(l, "preparing statements", err);
    return 0;
}

/* WAL lets `forkpool jobs` read while the writer commits; it is refused on
 * some filesystems, and then the ledger would block its readers. */
static int set_wal(fp_ledger_t *l, fp_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(l, "PRAGMA journal_mode=WAL", &st, err);
    if (rc == 0 && sqlite3_step(st) != SQLITE_ROW)
        rc = db_fail(l, "setting WAL mode", err);
    if (rc == 0) {
        const char *mode = (const char *)sqlite3_column_text(st, 0);
        if (mode == NULL || strcmp(mode, "wal") != 0)
            rc = fp_err_set(err, FP_ECONFIG, "ledger %s: WAL mode refused (journal mode %s)",
                            l->path, mode != NULL ? mode : "unknown");
    }
    sqlite3_finalize(st);
    return rc;
}

int fp__ledger_db_open(fp_ledger_t *l, fp_err_t *err)
{
    /* NOMUTEX: this thread is the connection's only user. SQLite opens every
     * file (database, -wal, -shm) with O_CLOEXEC on Linux. */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = 0;
    if (sqlite3_open_v2(l->path, &l->db, flags, NULL) != SQLITE_OK) {
        rc = db_fail(l, "cannot open", err);
        goto done;
    }
    sqlite3_extended_result_codes(l->db, 1);
    sqlite3_busy_timeout(l->db, LEDGER_BUSY_TIMEOUT_MS);
    if ((rc = set_wal(l, err)) < 0)
        goto done;
    if (sqlite3_exec(l->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_fail(l, "creating the schema", err);
        goto done;
    }
    if ((rc = prepare(l, insert_sql, &l->insert, err)) < 0 ||
        (rc = prepare(l, prune_sql, &l->prune, err)) < 0 ||
        (rc = prepare(l, "BEGIN", &l->begin, err)) < 0 ||
        (rc = prepare(l, "COMMIT", &l->commit, err)) < 0 ||
        (rc = prepare(l, "ROLLBACK", &l->rollback, err)) < 0)
        goto done;
    struct stat st;
    if (stat(l->path, &st) != 0) {
        rc = fp_err_set(err, FP_ECONFIG, "ledger %s: the file vanished while opening it: %s",
                        l->path, strerror(errno));
        goto done;
    }
    l->dev = st.st_dev;
    l->ino = st.st_ino;
done:
    if (rc < 0)
        fp__ledger_db_close(l);
    return rc;
}

static int run_once(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s != NULL)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* 0 is "not known" for times and pids. */
static void bind_known(sqlite3_stmt *st, int i, int64_t v)
{
    if (v != 0)
        sqlite3_bind_int64(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

static int insert_row(fp_ledger_t *l, const fp_ledger_row_t *r)
{
    sqlite3_stmt *st = l->insert;
    bind_text(st, 1, r->queue);
    bind_text(st, 2, r->entry_id);
    bind_text(st, 3, r->job_id);
    bind_text(st, 4, r->type);
    bind_text(st, 5, r->outcome);
    sqlite3_bind_int64(st, 6, r->attempt);
    bind_known(st, 7, r->enqueued_at_ms);
    bind_known(st, 8, r->started_at_ms);
    sqlite3_bind_int64(st, 9, r->finished_at_ms);
    sqlite3_bind_int64(st, 10, r->duration_us);
    bind_known(st, 11, r->pid);
    bind_text(st, 12, r->error);
    int rc = run_once(st);
    /* The nodes are freed after the commit: no dangling SQLITE_STATIC text. */
    sqlite3_clear_bindings(st);
    return rc;
}

void fp__ledger_free_nodes(node_t *n)
{
    while (n != NULL) {
        node_t *next = n->next;
        free(n);
        n = next;
    }
}

/* With the fork lock held: true when the path still names the open file. */
static bool same_file(const fp_ledger_t *l)
{
    struct stat st;
    return stat(l->path, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino;
}

/* With the fork lock held: opens the database again when a failure closed
 * it, or when its file was removed or replaced under us. 0, or -1 with the
 * reason in why. */
static int ensure_open(fp_ledger_t *l, char *why, size_t why_size)
{
    if (l->db != NULL && same_file(l))
        return 0;
    if (l->db != NULL) {
        fp_log_warn(LEDGER_COMPONENT, "%s was removed or replaced; opening it again", l->path);
        fp__ledger_db_close(l);
    }
    fp_err_t err;
    fp_err_clear(&err);
    if (fp__ledger_db_open(l, &err) == 0)
        return 0;
    snprintf(why, why_size, "%s", err.msg);
    return -1;
}

/* A failed write is "failing" before it is counted, so whoever sees the
 * error counted (metrics, a test) also sees readiness say so. */
static void count_write_error(fp_ledger_t *l)
{
    atomic_store(&l->failing, true);
    atomic_fetch_add(&l->write_errors, 1);
}

/* Writes n rows from batch in one transaction. On success frees the nodes
 * (inside the fork lock: see the top of the file) and returns 0; on failure
 * rolls back, keeps them, closes the connection (the next try opens it
 * afresh), logs and returns -1. */
int fp__ledger_write_batch(fp_ledger_t *l, node_t *batch, size_t n)
{
    char why[FP_ERR_MSG_MAX] = "";
    fp_spawn_fork_lock_read();
    if (ensure_open(l, why, sizeof why) < 0) {
        fp_spawn_fork_unlock_read();
        count_write_error(l);
        fp_log_error(LEDGER_COMPONENT, "cannot write %zu rows: %s", n, why);
        return -1;
    }
    int rc = run_once(l->begin);
    for (node_t *p = batch; rc == SQLITE_OK && p != NULL; p = p->next)
        rc = insert_row(l, &p->row);
    if (rc == SQLITE_OK)
        rc = run_once(l->commit);
    if (rc != SQLITE_OK) {
        snprintf(why, sizeof why, "%s", sqlite3_errmsg(l->db));
        if (!sqlite3_get_autocommit(l->db))
            run_once(l->rollback);
        fp__ledger_db_close(l);
    } else {
        fp__ledger_free_nodes(batch);
    }
    fp_spawn_fork_unlock_read();
    if (rc != SQLITE_OK) {
        count_write_error(l);
        fp_log_error(LEDGER_COMPONENT, "writing %zu rows to %s failed: %s", n, l->path, why);
        return -1;
    }
    atomic_fetch_add(&l->written, n);
    atomic_fetch_add(&l->transactions, 1);
    atomic_fetch_sub(&l->backlog, n);
    return 0;
}

/* Deletes rows that finished before now - retain, at most
 * LEDGER_PRUNE_CHUNKS_PER_PASS chunks, each its own short transaction.
 * Returns true when more may remain. */
bool fp__ledger_prune_pass(fp_ledger_t *l)
{
    int64_t cutoff = fp_os_unix_ms() - l->retain_ms;
    for (int chunk = 0; chunk < LEDGER_PRUNE_CHUNKS_PER_PASS; chunk++) {
        char why[256] = "";
        fp_spawn_fork_lock_read();
        sqlite3_bind_int64(l->prune, 1, cutoff);
        sqlite3_bind_int(l->prune, 2, FP_LEDGER_PRUNE_CHUNK);
        int rc = run_once(l->prune);
        int deleted = rc == SQLITE_OK ? sqlite3_changes(l->db) : 0;
        if (rc != SQLITE_OK)
            snprintf(why, sizeof why, "%s", sqlite3_errmsg(l->db));
        fp_spawn_fork_unlock_read();
        if (rc != SQLITE_OK) {
            fp_log_warn(LEDGER_COMPONENT, "pruning %s failed (will retry): %s", l->path, why);
            return false;
        }
        atomic_fetch_add(&l->pruned, (uint64_t)deleted);
        if (deleted < FP_LEDGER_PRUNE_CHUNK)
            return false;
    }
    return true;
}

