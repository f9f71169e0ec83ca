/* ledger.c: the ledger's writer thread. The loop thread only copies rows into
 * nodes and links them under a mutex (fp_ledger_push), so SQLite never runs on
 * the loop. The writer thread opens the database itself (it is never opened
 * before a fork, and the connection is used by this thread alone), takes up
 * to FP_LEDGER_BATCH_MAX queued rows, writes them in one transaction with one
 * reused INSERT, and prunes old rows a chunk at a time. Each stretch of
 * sqlite3_* calls, and the frees that follow a commit, run inside the fork
 * lock's read side: a child forked meanwhile would otherwise inherit an
 * SQLite or allocator mutex held by a thread it does not have, and hang the
 * first time it opened its own database (the fork lock: spawn.c,
 * fp_spawn_fork_lock_read).
 *
 * Failures: the connection is closed after a failed batch and opened again
 * for the next try (back-off), and before each batch the path is checked to
 * still name the file that is open: a deleted or replaced file would
 * otherwise swallow rows into an unlinked inode. While writes fail the
 * ledger says so (fp_ledger_failing). By default a failed batch stays queued
 * and is retried, so the backlog grows and the supervisor holds pulls: rows
 * are not dropped while the daemon runs; at close a batch gets a few more
 * tries, then is logged as lost. In skip mode a failed batch, and any row
 * pushed past the capacity, is dropped and counted instead. */
#include "ledger/ledger.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "base/backoff.h"
#include "base/log.h"
#include "base/os.h"
#include "pool/spawn.h"

#define LEDGER_COMPONENT "ledger"
#define LEDGER_BUSY_TIMEOUT_MS 5000
#define LEDGER_RETRY_FIRST_MS 200 /* after one failure; doubled per further one */
#define LEDGER_RETRY_MAX_MS 5000
#define LEDGER_CLOSE_TRIES 3      /* attempts per failing batch once closing */
#define LEDGER_PRUNE_CHUNKS_PER_PASS 20 /* then queued rows go first again */

static const char *const outcomes[] = {FP_LEDGER_OUTCOMES, NULL};

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

/* One queued row; the row's strings point into text. */
typedef struct node_s {
    struct node_s *next;
    fp_ledger_row_t row;
    char text[];
} node_t;

struct fp_ledger_s {
    char *path;
    int64_t retain_ms;
    size_t capacity;
    pthread_t thread;

    /* mu guards the queue and the flags below it; wake uses CLOCK_MONOTONIC. */
    pthread_mutex_t mu;
    pthread_cond_t wake;   /* the writer waits here: rows, stop, release, deadlines */
    pthread_cond_t opened; /* fp_ledger_open waits here for the thread's verdict */
    node_t *head;
    node_t **tailp;
    bool stop, hold, open_done;
    int open_rc;
    fp_err_t open_err;

    /* Read by any thread without mu. */
    _Atomic size_t backlog;
    _Atomic uint64_t pushed, written, transactions, pruned, write_errors, lost, dropped;
    _Atomic bool skip;    /* drop rows rather than hold them (ledger.on_error = "skip") */
    _Atomic bool failing; /* the last write (or reopen) failed */

    /* The writer thread's alone. */
    sqlite3 *db;
    dev_t dev; /* the file open in db, to notice it removed or replaced */
    ino_t ino;
    sqlite3_stmt *insert, *prune, *begin, *commit, *rollback;
};

bool fp_ledger_outcome_valid(const char *s)
{
    for (size_t i = 0; s != NULL && outcomes[i] != NULL; i++)
        if (strcmp(s, outcomes[i]) == 0)
            return true;
    return false;
}

/* ---- the writer thread: SQLite ---------------------------------------------- */

/* All of these run on the writer thread inside the fork lock's read side. */

static int db_fail(fp_ledger_t *l, const char *doing, fp_err_t *err)
{
    return fp_err_set(err, FP_ECONFIG, "ledger %s: %s: %s", l->path, doing,
                      l->db != NULL ? sqlite3_errmsg(l->db) : "out of memory");
}

static void db_close(fp_ledger_t *l)
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

static int db_open(fp_ledger_t *l, fp_err_t *err)
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
        db_close(l);
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

static void free_nodes(node_t *n)
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
        db_close(l);
    }
    fp_err_t err;
    fp_err_clear(&err);
    if (db_open(l, &err) == 0)
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
static int write_batch(fp_ledger_t *l, node_t *batch, size_t n)
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
        db_close(l);
    } else {
        free_nodes(batch);
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
static bool prune_pass(fp_ledger_t *l)
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

/* ---- the writer thread: the loop ---------------------------------------------- */

static void deadline_ts(int64_t at_ms, struct timespec *ts)
{
    /* at_ms is on fp_os_now_ms's clock, which is CLOCK_MONOTONIC, as is wake's. */
    ts->tv_sec = (time_t)(at_ms / 1000);
    ts->tv_nsec = (long)(at_ms % 1000) * 1000000L;
}

/* The writer's state between turns. */
typedef struct writer_s {
    node_t *pending; /* a batch taken but not committed yet */
    size_t pending_n;
    int failures;    /* consecutive failed attempts of pending */
    int64_t retry_at_ms, prune_at_ms;
} writer_t;

/* With mu held: is there something to do now, and if not, until when to
 * sleep (INT64_MAX: until signalled)? */
static bool has_work(const fp_ledger_t *l, const writer_t *w, int64_t now, int64_t *until)
{
    *until = INT64_MAX;
    if (l->stop)
        return true;
    if (w->pending != NULL || (l->head != NULL && !l->hold)) {
        /* After a failure, the next try (of this batch or, in skip mode,
         * of the next one) waits for the back-off. */
        if (now >= w->retry_at_ms)
            return true;
        *until = w->retry_at_ms;
        return false;
    }
    if (l->hold)
        return false;
    if (l->retain_ms > 0) {
        if (now >= w->prune_at_ms)
            return true;
        *until = w->prune_at_ms;
    }
    return false;
}

/* With mu held: moves up to FP_LEDGER_BATCH_MAX queued rows into w. */
static void take_batch(fp_ledger_t *l, writer_t *w)
{
    node_t *first = l->head, *last = NULL;
    size_t n = 0;
    for (node_t *p = first; p != NULL && n < FP_LEDGER_BATCH_MAX; p = p->next) {
        last = p;
        n++;
    }
    if (n == 0)
        return;
    l->head = last->next;
    if (l->head == NULL)
        l->tailp = &l->head;
    last->next = NULL;
    w->pending = first;
    w->pending_n = n;
}

/* Frees the pending batch, its rows counted in *counter. */
static void discard_pending(fp_ledger_t *l, writer_t *w, _Atomic uint64_t *counter)
{
    atomic_fetch_add(counter, w->pending_n);
    atomic_fetch_sub(&l->backlog, w->pending_n);
    fp_spawn_fork_lock_read();
    free_nodes(w->pending);
    fp_spawn_fork_unlock_read();
    w->pending = NULL;
    w->pending_n = 0;
}

static void give_up(fp_ledger_t *l, writer_t *w)
{
    fp_log_error(LEDGER_COMPONENT, "giving up on %zu rows for %s after %d failed attempts",
                 w->pending_n, l->path, w->failures);
    discard_pending(l, w, &l->lost);
}

static void batch_written(fp_ledger_t *l, writer_t *w)
{
    w->pending = NULL;
    w->pending_n = 0;
    w->retry_at_ms = 0;
    w->failures = 0;
    if (atomic_exchange(&l->failing, false))
        fp_log_info(LEDGER_COMPONENT, "writing to %s again", l->path);
}

/* A failed try: back-off before the next one; in skip mode the batch goes. */
static void batch_failed(fp_ledger_t *l, writer_t *w, bool stop)
{
    atomic_store(&l->failing, true);
    w->failures++;
    if (atomic_load(&l->skip)) {
        fp_log_warn(LEDGER_COMPONENT, "%zu rows dropped (ledger.on_error = \"skip\")",
                    w->pending_n);
        discard_pending(l, w, &l->dropped);
    } else if (w->failures >= LEDGER_CLOSE_TRIES && stop) {
        give_up(l, w);
    }
    w->retry_at_ms = fp_os_now_ms() + fp_backoff_ms(w->failures, LEDGER_RETRY_FIRST_MS,
                                                    LEDGER_RETRY_MAX_MS, false, 0);
}

static void writer_loop(fp_ledger_t *l)
{
    writer_t w = {NULL, 0, 0, 0, fp_os_now_ms()}; /* prune once at start */
    for (;;) {
        pthread_mutex_lock(&l->mu);
        int64_t now = fp_os_now_ms(), until;
        while (!has_work(l, &w, now, &until)) {
            if (until == INT64_MAX) {
                pthread_cond_wait(&l->wake, &l->mu);
            } else {
                struct timespec ts;
                deadline_ts(until, &ts);
                pthread_cond_timedwait(&l->wake, &l->mu, &ts);
            }
            now = fp_os_now_ms();
        }
        bool stop = l->stop;
        if (w.pending == NULL && !l->hold)
            take_batch(l, &w);
        bool idle = w.pending == NULL && l->head == NULL;
        pthread_mutex_unlock(&l->mu);

        if (w.pending != NULL) {
            if (write_batch(l, w.pending, w.pending_n) == 0)
                batch_written(l, &w);
            else
                batch_failed(l, &w, stop);
            continue; /* queued rows go before pruning */
        }
        if (stop && idle)
            return;
        if (!stop && l->retain_ms > 0 && fp_os_now_ms() >= w.prune_at_ms) {
            /* Closed after a failure: the next batch opens it; prune later. */
            bool more = l->db != NULL && prune_pass(l);
            w.prune_at_ms = fp_os_now_ms() + (more ? 0 : FP_LEDGER_PRUNE_INTERVAL_MS);
        }
    }
}

static void *writer_main(void *arg)
{
    fp_ledger_t *l = arg;
    fp_err_t err;
    fp_err_clear(&err);
    fp_spawn_fork_lock_read();
    int rc = db_open(l, &err);
    fp_spawn_fork_unlock_read();

    pthread_mutex_lock(&l->mu);
    l->open_rc = rc;
    l->open_err = err;
    l->open_done = true;
    pthread_cond_signal(&l->opened);
    pthread_mutex_unlock(&l->mu);
    if (rc < 0)
        return NULL;

    writer_loop(l);
    fp_spawn_fork_lock_read();
    db_close(l);
    fp_spawn_fork_unlock_read();
    return NULL;
}

/* ---- the loop thread's side ------------------------------------------------------ */

static void ledger_free(fp_ledger_t *l)
{
    free_nodes(l->head);
    pthread_cond_destroy(&l->opened);
    pthread_cond_destroy(&l->wake);
    pthread_mutex_destroy(&l->mu);
    free(l->path);
    free(l);
}

static int init_sync(fp_ledger_t *l)
{
    pthread_condattr_t attr;
    int rc = pthread_condattr_init(&attr);
    if (rc == 0)
        rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0 && (rc = pthread_cond_init(&l->wake, &attr)) == 0 &&
        (rc = pthread_cond_init(&l->opened, NULL)) != 0)
        pthread_cond_destroy(&l->wake);
    pthread_condattr_destroy(&attr);
    if (rc == 0 && (rc = pthread_mutex_init(&l->mu, NULL)) != 0) {
        pthread_cond_destroy(&l->opened);
        pthread_cond_destroy(&l->wake);
    }
    return -rc;
}

int fp_ledger_open(const char *path, int64_t retain_ms, size_t capacity, fp_ledger_t **out,
                   fp_err_t *err)
{
    *out = NULL;
    if (path == NULL || path[0] == '\0' || capacity == 0)
        return fp_err_set(err, FP_ECONFIG, "ledger: a path and a capacity of at least 1 are "
                                           "needed");
    fp_ledger_t *l = calloc(1, sizeof *l);
    if (l == NULL || (l->path = strdup(path)) == NULL) {
        free(l);
        return fp_err_set(err, -ENOMEM, "ledger: out of memory");
    }
    l->retain_ms = retain_ms;
    l->capacity = capacity;
    l->tailp = &l->head;
    int rc = init_sync(l);
    if (rc < 0) {
        free(l->path);
        free(l);
        return fp_err_set(err, rc, "ledger: cannot create its locks: %s", fp_strerror(rc));
    }

    /* The writer blocks every signal, so they keep going to the loop thread
     * and never interrupt a SQLite call. */
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    rc = -pthread_create(&l->thread, NULL, writer_main, l);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (rc < 0) {
        ledger_free(l);
        return fp_err_set(err, rc, "ledger: cannot start its thread: %s", fp_strerror(rc));
    }

    pthread_mutex_lock(&l->mu);
    while (!l->open_done)
        pthread_cond_wait(&l->opened, &l->mu);
    rc = l->open_rc;
    pthread_mutex_unlock(&l->mu);
    if (rc < 0) {
        pthread_join(l->thread, NULL);
        if (err != NULL)
            *err = l->open_err;
        ledger_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

static size_t text_size(const char *s)
{
    return s != NULL ? strlen(s) + 1 : 0;
}

/* Copies s into *cursor and advances it; NULL stays NULL. */
static const char *copy_text(const char *s, char **cursor)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *dst = *cursor;
    memcpy(dst, s, n);
    *cursor += n;
    return dst;
}

size_t fp_ledger_row_text_size(const fp_ledger_row_t *r)
{
    return text_size(r->queue) + text_size(r->entry_id) + text_size(r->job_id) +
           text_size(r->type) + text_size(r->outcome) + text_size(r->error);
}

void fp_ledger_row_pack(fp_ledger_row_t *dst, const fp_ledger_row_t *src, char *block)
{
    *dst = *src;
    dst->queue = copy_text(src->queue, &block);
    dst->entry_id = copy_text(src->entry_id, &block);
    dst->job_id = copy_text(src->job_id, &block);
    dst->type = copy_text(src->type, &block);
    dst->outcome = copy_text(src->outcome, &block);
    dst->error = copy_text(src->error, &block);
}

bool fp_ledger_push(fp_ledger_t *l, const fp_ledger_row_t *row)
{
    if (atomic_load(&l->skip) && atomic_load(&l->backlog) >= l->capacity) {
        atomic_fetch_add(&l->dropped, 1);
        return true;
    }
    node_t *n = malloc(sizeof *n + fp_ledger_row_text_size(row));
    if (n == NULL) {
        atomic_fetch_add(&l->lost, 1);
        fp_log_error(LEDGER_COMPONENT, "out of memory: one %s row for %s lost",
                     row->outcome != NULL ? row->outcome : "?",
                     row->entry_id != NULL ? row->entry_id : "?");
        return false;
    }
    n->next = NULL;
    fp_ledger_row_pack(&n->row, row, n->text);
    if (n->row.finished_at_ms == 0)
        n->row.finished_at_ms = fp_os_unix_ms();

    /* Counted before it is linked, so the writer's decrement never passes it. */
    size_t before = atomic_fetch_add(&l->backlog, 1);
    atomic_fetch_add(&l->pushed, 1);
    pthread_mutex_lock(&l->mu);
    bool was_empty = l->head == NULL;
    *l->tailp = n;
    l->tailp = &n->next;
    if (was_empty)
        pthread_cond_signal(&l->wake);
    pthread_mutex_unlock(&l->mu);
    return before < l->capacity;
}

size_t fp_ledger_backlog(const fp_ledger_t *l)
{
    return atomic_load(&l->backlog);
}

void fp_ledger_stats(const fp_ledger_t *l, fp_ledger_stats_t *out)
{
    out->pushed = atomic_load(&l->pushed);
    out->written = atomic_load(&l->written);
    out->transactions = atomic_load(&l->transactions);
    out->pruned = atomic_load(&l->pruned);
    out->write_errors = atomic_load(&l->write_errors);
    out->lost = atomic_load(&l->lost);
    out->dropped = atomic_load(&l->dropped);
}

bool fp_ledger_failing(const fp_ledger_t *l)
{
    return atomic_load(&l->failing);
}

void fp_ledger_set_skip(fp_ledger_t *l, bool skip)
{
    atomic_store(&l->skip, skip);
}

void fp__ledger_hold(fp_ledger_t *l, bool hold)
{
    pthread_mutex_lock(&l->mu);
    l->hold = hold;
    pthread_cond_signal(&l->wake);
    pthread_mutex_unlock(&l->mu);
}

void fp_ledger_close(fp_ledger_t *l)
{
    if (l == NULL)
        return;
    pthread_mutex_lock(&l->mu);
    l->stop = true;
    l->hold = false;
    pthread_cond_signal(&l->wake);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    ledger_free(l);
}
