/* aq_work.c: the embedded queue thread's pieces of work (aq_internal.h),
 * each a store call or a few on the thread's own connection: commit a batch
 * of outcomes, pull, renew the held leases, sample the queues, answer
 * --burst's drained question. Run on the worker thread only. */
#include "sqlq/aq_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/os.h"

#define LOG "queue"

/* Rows one pull takes at most: bounds a transaction's length (other
 * connections wait on its lock) and the memory of one hand-over. */
#define PULL_MAX 512

/* Whether a batch can be turned by a cancel mark: only retries and
 * put-backs are, and only then are the new ids read back. */
static bool has_requeues(const aq_outv_t *batch)
{
    for (size_t i = 0; i < batch->n; i++)
        if (batch->v[i].kind == FP_SQLQ_RETRY || batch->v[i].kind == FP_SQLQ_PUT_BACK)
            return true;
    return false;
}

int fp_aq_work_commit(fp_aq_t *q, aq_outv_t *batch, int64_t now_ms, fp_queue_stats_t *delta,
                      aq_turnedv_t *turned, fp_err_t *err)
{
    bool want_ids = q->track || has_requeues(batch);
    int64_t *new_ids = want_ids ? calloc(batch->n, sizeof *new_ids) : NULL;
    if (want_ids && new_ids == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory committing outcomes");
    fp_sqlq_stales_t stale = {0};
    int rc = fp_sqlq_outcomes_ids(q->store, q->cfg->daemon.name, batch->v, batch->n, now_ms,
                                  NULL, &stale, new_ids, err);
    if (rc == 0) {
        delta->outcomes_stale += stale.n;
        for (size_t i = 0; i < batch->n; i++) {
            fp_held_set_remove(&q->held, 0, (uint64_t)batch->v[i].id, 0);
            if (new_ids != NULL && batch->v[i].kind == FP_SQLQ_RETRY && new_ids[i] > 0)
                (void)fp_aq_ids_push(&q->retries, new_ids[i]); /* ENOMEM: --burst may end early */
            /* -1: a cancel mark made it the job's dead row (outcomes.c). ENOMEM:
             * the row is right, only the report is lost. */
            if (new_ids != NULL && new_ids[i] == -1 && batch->tags[i].entry_id != NULL)
                (void)fp_aq_turned_take(turned, batch, i);
        }
    }
    fp_sqlq_stales_free(&stale);
    free(new_ids);
    return rc;
}

/* Only the rows handed to the loop are renewed: one that could not be
 * (out of memory in fp_aq_rows_take) keeps the lease the pull gave it, and
 * when that ends any pull takes it again, as after a crash. Renewing it
 * would keep it leased to this daemon, which never runs it, until a
 * restart. ENOMEM here: the row is not renewed and may be taken over while
 * it runs, which at-least-once allows. */
static void held_add(fp_aq_t *q, const aq_rows_t *rows)
{
    int64_t id;
    for (size_t i = 0; i < rows->n; i++)
        if (fp_aq_parse_id(rows->v[i].entry_id, &id))
            (void)fp_held_set_add(&q->held, 0, (uint64_t)id, 0);
}

/* *again: the pull was short only because of the caps (a queue found empty
 * while others may have more): the next pull goes at once. */
static int pull_weighted(fp_aq_t *q, size_t max, int64_t now_ms, int flags,
                         fp_sqlq_jobs_t *jobs, bool *again, fp_err_t *err)
{
    size_t caps[FP_READ_PLAN_QUEUES_MAX], got[FP_READ_PLAN_QUEUES_MAX] = {0};
    fp_aqp_caps_plan(&q->caps, now_ms, max, caps);
    int rc = fp_sqlq_pull_capped(q->store, (const char *const *)q->names, caps, q->caps.n,
                                 q->cfg->daemon.name, max, q->lease_ms, now_ms, flags, jobs, err);
    if (rc == 0) {
        for (size_t i = 0; i < jobs->n; i++)
            if (jobs->v[i].queue < q->caps.n)
                got[jobs->v[i].queue]++;
        *again = fp_aqp_caps_done(&q->caps, caps, got);
    }
    return rc;
}

int fp_aq_work_pull(fp_aq_t *q, size_t room, int64_t now_ms, aq_rows_t *rows,
                    fp_queue_stats_t *delta, fp_err_t *err)
{
    size_t max = room < PULL_MAX ? room : PULL_MAX;
    int flags = q->pulled_once ? 0 : FP_SQLQ_PULL_OWN;
    int64_t t0 = fp_os_now_us();
    bool again = false;
    fp_sqlq_jobs_t jobs = {0};
    int rc = q->weighted ? pull_weighted(q, max, now_ms, flags, &jobs, &again, err)
                         : fp_sqlq_pull(q->store, (const char *const *)q->names, q->n,
                                        q->cfg->daemon.name, max, q->lease_ms, now_ms, flags,
                                        &jobs, err);
    if (rc < 0)
        return rc;
    q->pulled_once = true;
    delta->read_rtt_us = fp_os_now_us() - t0;
    delta->read_rtt_samples++;
    for (size_t i = 0; i < jobs.n; i++)
        delta->claimed += jobs.v[i].deliveries > 1; /* an expired lease or own row taken back */
    fp_aqp_pulled(&q->plan, now_ms, max, again ? max : jobs.n);
    if (jobs.n > 0 && fp_aq_rows_take(rows, &jobs) < 0)
        rc = fp_err_set(err, -ENOMEM,
                        "out of memory taking %zu jobs: they stay leased until their lease ends",
                        jobs.n);
    else if (rows->n < jobs.n)
        fp_log_error(LOG, "out of memory taking %zu of %zu jobs: they stay leased until their "
                     "lease ends", jobs.n - rows->n, jobs.n);
    held_add(q, rows);
    fp_sqlq_jobs_free(&jobs);
    return rc;
}

int fp_aq_work_renew(fp_aq_t *q, int64_t now_ms, fp_queue_stats_t *delta, fp_err_t *err)
{
    size_t n = q->held.count;
    if (n == 0)
        return 0;
    int64_t *ids = malloc(n * sizeof *ids);
    bool *still = malloc(n * sizeof *still);
    int rc = ids != NULL && still != NULL ? 0 : fp_err_set(err, -ENOMEM, "out of memory renewing");
    size_t k = 0;
    for (size_t i = 0; rc == 0 && q->held.slots != NULL && i <= q->held.mask; i++)
        if (q->held.slots[i].used != 0 && k < n)
            ids[k++] = (int64_t)q->held.slots[i].ms;
    size_t renewed = 0;
    if (rc == 0)
        rc = fp_sqlq_renew(q->store, q->cfg->daemon.name, ids, k, q->lease_ms, now_ms, still,
                           &renewed, err);
    if (rc == 0) {
        delta->renew_rounds++;
        delta->renewed += renewed;
        for (size_t i = 0; i < k; i++)
            if (!still[i]) { /* settled by someone else or taken over: not ours to renew */
                fp_held_set_remove(&q->held, 0, (uint64_t)ids[i], 0);
                delta->renewals_lost++;
            }
    }
    free(ids);
    free(still);
    return rc;
}

int fp_aq_work_sample(fp_aq_t *q, int64_t now_ms, fp_admin_queue_stats_t *out, fp_err_t *err)
{
    for (size_t i = 0; i < q->n; i++) {
        fp_sqlq_counts_t c;
        int64_t oldest = -1, added = 0, taken = 0;
        int rc = fp_sqlq_counts(q->store, q->names[i], now_ms, &c, err);
        if (rc == 0)
            rc = fp_sqlq_oldest_ready(q->store, q->names[i], now_ms, &oldest, err);
        if (rc == 0)
            rc = fp_sqlq_traffic(q->store, q->names[i], &added, &taken, err);
        if (rc < 0)
            return rc;
        out[i] = (fp_admin_queue_stats_t){
            .ready = c.ready, .ready_exact = true, .pending = c.leased, .delayed = c.delayed,
            .dead = c.dead, .length = c.ready + c.delayed + c.leased, .group_exists = true,
            .oldest_age_ms = oldest >= 0 ? now_ms - oldest : -1, .now_ms = now_ms,
            .entries_added = added, .entries_read = taken};
    }
    return 0;
}

int fp_aq_work_drained(fp_aq_t *q, int64_t now_ms, bool *drained, fp_err_t *err)
{
    *drained = false;
    for (size_t i = 0; i < q->n; i++) {
        fp_sqlq_counts_t c;
        int rc = fp_sqlq_counts(q->store, q->names[i], now_ms, &c, err);
        if (rc < 0)
            return rc;
        if (c.ready > 0 || c.leased > 0)
            return 0;
    }
    /* Our own retries' rows still waiting keep --burst running; the ones
     * gone (run, or dead) are forgotten. */
    size_t kept = 0;
    for (size_t i = 0; i < q->retries.n; i++) {
        bool there = false;
        int rc = fp_sqlq_exists(q->store, q->retries.v[i], &there, err);
        if (rc < 0)
            return rc;
        if (there)
            q->retries.v[kept++] = q->retries.v[i];
    }
    q->retries.n = kept;
    *drained = kept == 0;
    return 0;
}
