/* migrate_to_sqlite.c: `forkpool migrate --to sqlite:PATH`: the configured
 * Redis' waiting, delayed and dead jobs, queue by queue, into a queue file
 * (created when missing). Each batch is read from Redis, added to the file
 * in one committed transaction, and only then deleted from Redis: a crash
 * at any point loses nothing, and a run again after it adds at most the
 * batch in flight twice. Entries pending in the group (a daemon runs them)
 * or a live heartbeat refuse the run (every queue checked before anything
 * moves); with --force the pending entries stay in Redis. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "migrate.h"
#include "base/os.h"
#include "queue/admin.h"
#include "queue/heartbeat.h"
#include "queue/migrate_redis.h"
#include "sqlq/migrate.h"

typedef struct move_s {
    fp_migrate_run_t *run;
    fp_admin_t *admin;
    fp_sqlq_t *q;
    const char *queue;
    int64_t now_ms;
    fp_migrate_counts_t *c;
} move_t;

static int64_t live_daemons(fp_admin_t *admin, const char *prefix, fp_err_t *err, int *rc)
{
    fp_fleet_t fleet = {0};
    int64_t live = 0;
    if ((*rc = fp_admin_fleet(admin, prefix, &fleet, err)) == 0)
        for (size_t i = 0; i < fleet.n; i++)
            live += fleet.members[i].status == FP_FLEET_LIVE;
    fp_fleet_clear(&fleet);
    return live;
}

/* Every queue is looked at before any moves: a refusal changes nothing. */
static int check_idle(fp_migrate_run_t *run, fp_admin_t *admin, fp_migrate_counts_t *c,
                      fp_err_t *err)
{
    int rc;
    int64_t live = live_daemons(admin, run->cfg->redis.prefix, err, &rc);
    for (size_t i = 0; rc == 0 && i < run->nqueues; i++) {
        fp_admin_queue_stats_t st;
        if ((rc = fp_admin_queue_stats(admin, run->queues[i], &st, err)) == 0) {
            fp_migrate_busy_t busy = {run->queues[i], 0, st.pending, live};
            c[i] = (fp_migrate_counts_t){st.length - st.pending, st.delayed, st.dead, st.pending};
            rc = fp_migrate_check(&busy, run->force, err);
        }
        fp_admin_queue_stats_clear(&st);
    }
    return rc;
}

/* Entries e[0..n) not pending and with a job, as rows, and their ids. */
static size_t pick_ready(const fp_dead_entry_t *e, size_t n, char **pending, size_t npending,
                         int64_t now_ms, fp_sqlq_row_t *rows, const char **ids)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool held = e[i].job.s == NULL;
        for (size_t p = 0; !held && p < npending; p++)
            held = strcmp(pending[p], e[i].id) == 0;
        if (held)
            continue;
        rows[k] = (fp_sqlq_row_t){.payload = e[i].job.s, .len = e[i].job.len, .due_ms = now_ms};
        ids[k++] = e[i].id;
    }
    return k;
}

/* One page of the jobs stream: add, commit, then XDEL. */
static int ready_page(move_t *m, const fp_dead_entry_t *e, size_t n, fp_err_t *err)
{
    char **pending = NULL;
    size_t npending = 0, k = 0;
    fp_sqlq_row_t *rows = calloc(n, sizeof *rows);
    const char **ids = calloc(n, sizeof *ids);
    int rc = rows != NULL && ids != NULL ? 0 : fp_err_set(err, -ENOMEM, "out of memory");
    if (rc == 0)
        rc = fp_admin_pending_between(m->admin, m->queue, m->run->cfg->redis.group, e[0].id,
                                      e[n - 1].id, n, &pending, &npending, err);
    if (rc == 0)
        k = pick_ready(e, n, pending, npending, m->now_ms, rows, ids);
    if (rc == 0)
        rc = fp_sqlq_import(m->q, m->queue, FP_SQLQ_ROWS_READY, rows, k, m->now_ms, err);
    if (rc == 0 && k > 0)
        fp_migrate_batch_written(m->run);
    if (rc == 0)
        rc = fp_admin_stream_delete(m->admin, m->queue, "jobs", ids, k, NULL, err);
    if (rc == 0)
        m->c->ready += (int64_t)k;
    fp_admin_ids_free(pending, npending);
    free(rows);
    free(ids);
    return rc;
}

/* A page of a stream's entries, oldest first. */
typedef int (*page_fn)(move_t *m, const fp_dead_entry_t *e, size_t n, fp_err_t *err);

/* Hands fn the entries of P:{Q}:KIND a batch at a time, up to the newest
 * there was at the start, each page after the last one read (so entries
 * left behind, pending to a daemon, are not read again). */
static int walk_stream(move_t *m, const char *kind, page_fn fn, fp_err_t *err)
{
    char until[128], cursor[128] = "";
    int rc = fp_admin_stream_last_id(m->admin, m->queue, kind, until, sizeof until, err);
    while (rc == 0 && until[0] != '\0') {
        fp_dead_entry_t *e = NULL;
        size_t n = 0;
        rc = fp_admin_stream_read(m->admin, m->queue, kind, cursor[0] ? cursor : NULL, until,
                                  m->run->batch, &e, &n, err);
        if (rc == 0 && n > 0) {
            snprintf(cursor, sizeof cursor, "%s", e[n - 1].id);
            rc = fn(m, e, n, err);
        }
        fp_admin_dead_free(e, n);
        if (n < m->run->batch)
            break;
    }
    return rc;
}

static int move_delayed(move_t *m, fp_err_t *err)
{
    int64_t total = m->c->delayed; /* counted at the start: retries added since wait their turn */
    int rc = 0;
    m->c->delayed = 0;
    while (rc == 0 && m->c->delayed < total) {
        size_t want = (size_t)(total - m->c->delayed), n = 0;
        fp_sqlq_row_t *rows = NULL;
        rc = fp_admin_delayed_head(m->admin, m->queue, want < m->run->batch ? want : m->run->batch,
                                   &rows, &n, err);
        if (rc == 0 && n == 0) {
            fp_sqlq_rows_free(rows, n);
            break;
        }
        if (rc == 0)
            rc = fp_sqlq_import(m->q, m->queue, FP_SQLQ_ROWS_DELAYED, rows, n, m->now_ms, err);
        if (rc == 0)
            fp_migrate_batch_written(m->run);
        if (rc == 0)
            rc = fp_admin_delayed_remove(m->admin, m->queue, rows, n, err);
        if (rc == 0)
            m->c->delayed += (int64_t)n;
        fp_sqlq_rows_free(rows, n);
    }
    return rc;
}

static int64_t field_int(const fp_admin_field_t *f)
{
    return f->s != NULL ? strtoll(f->s, NULL, 10) : 0;
}

/* One page of the dead stream: add, commit, then XDEL. */
static int dead_page(move_t *m, const fp_dead_entry_t *e, size_t n, fp_err_t *err)
{
    fp_sqlq_row_t *rows = calloc(n, sizeof *rows);
    const char **ids = calloc(n, sizeof *ids);
    int rc = rows != NULL && ids != NULL ? 0 : fp_err_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rows[i] = (fp_sqlq_row_t){.payload = e[i].job.s != NULL ? e[i].job.s : "",
                                  .len = e[i].job.s != NULL ? e[i].job.len : 0,
                                  .error = e[i].error.s, .consumer = e[i].consumer.s,
                                  .attempts = field_int(&e[i].attempts),
                                  .failed_at = field_int(&e[i].failed_at)};
        ids[i] = e[i].id;
    }
    if (rc == 0)
        rc = fp_sqlq_import(m->q, m->queue, FP_SQLQ_ROWS_DEAD, rows, n, m->now_ms, err);
    if (rc == 0)
        fp_migrate_batch_written(m->run);
    if (rc == 0)
        rc = fp_admin_dead_delete(m->admin, m->queue, ids, n, NULL, err);
    if (rc == 0)
        m->c->dead += (int64_t)n;
    free(rows);
    free(ids);
    return rc;
}

int fp_migrate_to_sqlite(fp_migrate_run_t *run, fp_err_t *err)
{
    const fp_config_t *cfg = run->cfg;
    if (cfg->queue.backend != FP_BACKEND_REDIS)
        return fp_err_set(err, FP_ECONFIG,
                          "migrate --to sqlite: moves jobs from the configured Redis, and this "
                          "configuration has none (%s): set redis.url or FORKPOOL_REDIS_URL",
                          cfg->queue.backend_why);
    if (cfg->redis.cluster.count > 0)
        return fp_err_set(err, FP_ECONFIG, "migrate from a Redis Cluster is not supported: "
                                           "run it against each queue's master with redis.url");
    fp_admin_t *admin = NULL;
    fp_sqlq_t *q = NULL;
    fp_migrate_counts_t *c = calloc(run->nqueues + 1, sizeof *c);
    int rc = c != NULL ? fp_admin_connect(cfg, &admin, err)
                       : fp_err_set(err, -ENOMEM, "out of memory");
    if (rc == 0)
        rc = check_idle(run, admin, c, err);
    if (rc == 0 && !run->dry_run)
        rc = fp_sqlq_open(run->to.path, 0, &q, err);
    for (size_t i = 0; rc == 0 && i < run->nqueues; i++) {
        move_t m = {run, admin, q, run->queues[i], fp_os_unix_ms(), &c[i]};
        if (!run->dry_run) {
            c[i].ready = c[i].dead = 0;
            rc = walk_stream(&m, "jobs", ready_page, err);
            rc = rc == 0 ? move_delayed(&m, err) : rc;
            rc = rc == 0 ? walk_stream(&m, "dead", dead_page, err) : rc;
        }
        fp_migrate_print(run, run->queues[i], &c[i]); /* after an error too: what did move */
    }
    free(c);
    fp_sqlq_close(q);
    fp_admin_free(admin);
    return rc;
}
