/* ledger_internal.h: INTERNAL to lib/ledger/ledger*.c: the ledger's state,
 * shared by the writer thread's loop and the loop thread's side (ledger.c)
 * and its SQLite work (ledger_db.c). */
#ifndef FORKPOOL_LEDGER_INTERNAL_H
#define FORKPOOL_LEDGER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include <sqlite3.h>

#include "ledger/ledger.h"

#define LEDGER_COMPONENT "ledger"
#define LEDGER_BUSY_TIMEOUT_MS 5000
#define LEDGER_RETRY_FIRST_MS 200 /* after one failure; doubled per further one */
#define LEDGER_RETRY_MAX_MS 5000
#define LEDGER_CLOSE_TRIES 3      /* attempts per failing batch once closing */
#define LEDGER_PRUNE_CHUNKS_PER_PASS 20 /* then queued rows go first again */

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

/* ledger_db.c, on the writer thread inside the fork lock's read side. */
/* Opens the database (WAL, the schema, the kept statements) into l->db. */
int fp__ledger_db_open(fp_ledger_t *l, fp_err_t *err);
void fp__ledger_db_close(fp_ledger_t *l);
/* Writes n queued rows in one transaction; 0 or a negative code. */
int fp__ledger_write_batch(fp_ledger_t *l, node_t *batch, size_t n);
/* One pass of pruning (up to LEDGER_PRUNE_CHUNKS_PER_PASS chunks); true
 * when more rows are old enough to go. */
bool fp__ledger_prune_pass(fp_ledger_t *l);
void fp__ledger_free_nodes(node_t *n);

#endif
