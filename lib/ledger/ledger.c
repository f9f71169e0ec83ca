/* ledger.c: the ledger's writer thread and the loop thread's side. The loop
 * thread only copies rows into nodes and links them under a mutex
 * (fp_ledger_push), so SQLite never runs on the loop. The writer thread opens
 * the database itself (it is never opened before a fork, and the connection
 * is used by this thread alone), takes up to FP_LEDGER_BATCH_MAX queued rows,
 * writes them in one transaction with one reused INSERT, and prunes old rows
 * a chunk at a time (the SQLite side of each: ledger_db.c). Each stretch of
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
#include "ledger/ledger_internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/backoff.h"
#include "base/log.h"
#include "base/os.h"
#include "pool/spawn.h"

static const char *const outcomes[] = {FP_LEDGER_OUTCOMES, NULL};

bool fp_ledger_outcome_valid(const char *s)
{
    for (size_t i = 0; s != NULL && outcomes[i] != NULL; i++)
        if (strcmp(s, outcomes[i]) == 0)
            return true;
    return false;
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
    fp__ledger_free_nodes(w->pending);
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
            if (fp__ledger_write_batch(l, w.pending, w.pending_n) == 0)
                batch_written(l, &w);
            else
                batch_failed(l, &w, stop);
            continue; /* queued rows go before pruning */
        }
        if (stop && idle)
            return;
        if (!stop && l->retain_ms > 0 && fp_os_now_ms() >= w.prune_at_ms) {
            /* Closed after a failure: the next batch opens it; prune later. */
            bool more = l->db != NULL && fp__ledger_prune_pass(l);
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
    int rc = fp__ledger_db_open(l, &err);
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
    fp__ledger_db_close(l);
    fp_spawn_fork_unlock_read();
    return NULL;
}

/* ---- the loop thread's side ------------------------------------------------------ */

static void ledger_free(fp_ledger_t *l)
{
    fp__ledger_free_nodes(l->head);
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
