/* migrate_to_redis.c: `forkpool migrate --to redis://...`: the embedded
 * queue's waiting, delayed and dead jobs, queue by queue, into one Redis
 * under the daemon's keys (queue/migrate_redis.h). Each batch is deleted
 * from the file under its write lock, written to Redis by one script, and
 * the deletion committed only then (sqlq/migrate.h): a crash at any point
 * loses nothing, and a run again after it writes at most the batch in
 * flight twice. Rows leased to a running daemon are refused (every queue is
 * checked before anything moves), or with --force left in the file. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "embedded.h"
#include "sqlq/open_flags.h"
#include "migrate.h"
#include "base/os.h"
#include "queue/admin.h"
#include "queue/migrate_redis.h"
#include "sqlq/inspect.h"
#include "sqlq/migrate.h"

typedef struct sink_s {
    fp_migrate_run_t *run;
    fp_admin_t *admin;
    const char *queue;
    fp_sqlq_rows_kind_t kind;
} sink_t;

static int write_batch(void *ctx, const fp_sqlq_row_t *rows, size_t n, fp_err_t *err)
{
    sink_t *s = ctx;
    int rc = fp_admin_migrate_write(s->admin, s->queue, s->kind, rows, n, err);
    if (rc == 0)
        fp_migrate_batch_written(s->run);
    return rc;
}

/* Every queue is looked at before any moves: a refusal changes nothing. */
static int check_idle(fp_migrate_run_t *run, fp_sqlq_t *q, int64_t now_ms,
                      fp_migrate_counts_t *held, fp_err_t *err)
{
    for (size_t i = 0; i < run->nqueues; i++) {
        fp_sqlq_view_t v;
        int rc = fp_sqlq_view(q, run->queues[i], now_ms, &v, err);
        if (rc < 0)
            return rc;
        fp_migrate_busy_t busy = {run->queues[i], v.live_leases, 0, 0};
        held[i].held = v.live_leases;
        fp_sqlq_view_clear(&v);
        if ((rc = fp_migrate_check(&busy, run->force, err)) < 0)
            return rc;
    }
    return 0;
}

static int count_queue(fp_sqlq_t *q, const char *queue, int64_t now_ms, fp_migrate_counts_t *c,
                       fp_err_t *err)
{
    int rc = fp_sqlq_rows_count(q, queue, FP_SQLQ_ROWS_READY, now_ms, &c->ready, err);
    if (rc == 0)
        rc = fp_sqlq_rows_count(q, queue, FP_SQLQ_ROWS_DELAYED, now_ms, &c->delayed, err);
    if (rc == 0)
        rc = fp_sqlq_rows_count(q, queue, FP_SQLQ_ROWS_DEAD, now_ms, &c->dead, err);
    return rc;
}

static int move_queue(fp_migrate_run_t *run, fp_sqlq_t *q, fp_admin_t *admin, const char *queue,
                      int64_t now_ms, fp_migrate_counts_t *c, fp_err_t *err)
{
    static const fp_sqlq_rows_kind_t kinds[] = {FP_SQLQ_ROWS_READY, FP_SQLQ_ROWS_DELAYED,
                                                FP_SQLQ_ROWS_DEAD};
    int64_t *into[] = {&c->ready, &c->delayed, &c->dead};
    int rc = 0;
    for (size_t k = 0; rc == 0 && k < 3; k++) {
        sink_t s = {run, admin, queue, kinds[k]};
        size_t moved = 0;
        rc = fp_sqlq_export(q, queue, kinds[k], now_ms, run->batch, write_batch, &s, &moved, err);
        *into[k] = (int64_t)moved;
    }
    return rc;
}

static bool listed(const fp_migrate_run_t *run, const char *name)
{
    for (size_t i = 0; i < run->nqueues; i++)
        if (strcmp(run->queues[i], name) == 0)
            return true;
    return false;
}

/* Queues of the file this run does not move: said, so that nobody takes
 * an emptied list of queues for an emptied file. */
static int note_others(const fp_migrate_run_t *run, fp_sqlq_t *q, int64_t now_ms, fp_err_t *err)
{
    char **names = NULL;
    size_t n = 0;
    int rc = fp_sqlq_queue_names(q, &names, &n, err);
    for (size_t i = 0; i < n; i++) {
        fp_sqlq_counts_t c;
        if (rc == 0 && !listed(run, names[i]) &&
            (rc = fp_sqlq_counts(q, names[i], now_ms, &c, err)) == 0)
            printf("%s: not moved (not among the queues moved; --queue %s moves it): %" PRId64
                   " jobs and %" PRId64 " dead stay\n",
                   names[i], names[i], c.ready + c.delayed + c.leased, c.dead);
        free(names[i]);
    }
    free(names);
    return rc;
}

/* The destination: the configuration's, with --to's one Redis instead. */
static int connect_dest(const fp_migrate_run_t *run, fp_config_t *dst, fp_admin_t **admin,
                        fp_err_t *err)
{
    *dst = *run->cfg; /* shallow: nothing of it is freed */
    dst->redis.url = (char *)run->to.url;
    dst->redis.sentinels.count = 0;
    dst->redis.cluster.count = 0;
    int rc = fp_cli_redis_url_setup(run->cfg, run->to.url, err);
    return rc < 0 ? rc : fp_admin_connect(dst, admin, err);
}

int fp_migrate_to_redis(fp_migrate_run_t *run, fp_err_t *err)
{
    fp_sqlq_t *q = NULL;
    fp_admin_t *admin = NULL;
    fp_config_t dst;
    int64_t now_ms = fp_os_unix_ms();
    fp_migrate_counts_t *c = calloc(run->nqueues + 1, sizeof *c);
    int rc = c != NULL ? fp_sqlq_open_cfg(run->cfg, false, &q, err)
                       : fp_err_set(err, -ENOMEM, "out of memory");
    if (rc == 0)
        rc = check_idle(run, q, now_ms, c, err);
    if (rc == 0 && !run->dry_run)
        rc = connect_dest(run, &dst, &admin, err);
    for (size_t i = 0; rc == 0 && i < run->nqueues; i++) {
        if (run->dry_run)
            rc = count_queue(q, run->queues[i], now_ms, &c[i], err);
        else
            rc = move_queue(run, q, admin, run->queues[i], now_ms, &c[i], err);
        fp_migrate_print(run, run->queues[i], &c[i]); /* after an error too: what did move */
    }
    if (rc == 0)
        rc = note_others(run, q, now_ms, err);
    free(c);
    fp_admin_free(admin);
    fp_sqlq_close(q);
    return rc;
}
