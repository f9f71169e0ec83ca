/* aq_thread.c: the embedded queue's worker thread (aq.h): the only thread
 * that calls SQLite for the daemon's queue. Each round takes what the loop
 * posted (outcomes, held ids, questions, the room) under the mutex, does the
 * store work with the mutex released and the fork lock's read side held (so
 * a fork never copies SQLite mid-call: lib/pool/spawn.h), posts the results
 * back and wakes the loop (uv_async_send), then sleeps until the loop posts
 * more or the plan's next step (aq_plan.h), the next renewal or vacuum is
 * due. A store error makes the queue not ready with the error as its reason
 * and backs off; nothing the loop gave is dropped: outcomes that failed to
 * commit are tried again whole. */
#include "sqlq/aq_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/os.h"
#include "pool/spawn.h"

#define VACUUM_EVERY_MS 30000
#define VACUUM_PAGES 1024
#define SIZE_EVERY_MS 2000

/* One round's results, published under the mutex at its end. */
typedef struct round_s {
    aq_rows_t rows;
    size_t committed;
    fp_queue_stats_t delta;
    int failed;          /* a store call failed: reason holds why */
    char reason[FP_ERR_MSG_MAX];
    bool any_ok;         /* a store call succeeded */
    bool sampled;
    fp_admin_queue_stats_t *samples; /* NULL when the sample failed */
    bool answered, drained;
    int64_t file_bytes;
    aq_calls_t calls;    /* fp_aq_call's taken this round, run by it */
    aq_turnedv_t turned; /* outcomes a cancel mark turned into dead rows */
} round_t;

/* A store call's result. Only a write (which takes the lock) proves the
 * file usable again after an error; a read does so only before the first
 * success ever (the start). */
static void note_rw(fp_aq_t *q, round_t *r, int rc, const fp_err_t *err, int64_t now_ms,
                    bool write)
{
    if (rc == 0) {
        r->any_ok = r->any_ok || write || !q->ready_known;
        return;
    }
    if (!r->failed)
        snprintf(r->reason, sizeof r->reason, "%s", err->msg);
    r->failed = rc;
    fp_aqp_failed(&q->plan, now_ms);
}

static void note(fp_aq_t *q, round_t *r, int rc, const fp_err_t *err, int64_t now_ms)
{
    note_rw(q, r, rc, err, now_ms, true);
}

static bool can_work(const fp_aq_t *q, const round_t *r, int64_t now_ms)
{
    return !r->failed && now_ms >= q->plan.backoff_until_ms;
}

static void check_version(fp_aq_t *q, round_t *r, int64_t now_ms)
{
    fp_err_t err;
    int64_t v = 0;
    int rc = fp_sqlq_data_version(q->store, &v, &err);
    note_rw(q, r, rc, &err, now_ms, false);
    if (rc == 0) {
        fp_aqp_checked(&q->plan, now_ms, v != q->version);
        q->version = v;
    }
}

static void do_pull(fp_aq_t *q, round_t *r, size_t room, int64_t now_ms)
{
    fp_err_t err;
    fp_aqp_step_t s = fp_aqp_next(&q->plan, now_ms, room > 0);
    if (s.kind == FP_AQP_CHECK)
        check_version(q, r, now_ms);
    s = fp_aqp_next(&q->plan, now_ms, room > 0);
    if (s.kind == FP_AQP_PULL && can_work(q, r, now_ms))
        note(q, r, fp_aq_work_pull(q, room, now_ms, &r->rows, &r->delta, &err), &err, now_ms);
}

static void housekeeping(fp_aq_t *q, round_t *r, int64_t now_ms)
{
    fp_err_t err;
    if (now_ms >= q->next_renew_ms && can_work(q, r, now_ms)) {
        q->next_renew_ms = now_ms + q->lease_ms / 3;
        note(q, r, fp_aq_work_renew(q, now_ms, &r->delta, &err), &err, now_ms);
    }
    if (now_ms >= q->next_vacuum_ms && can_work(q, r, now_ms)) {
        q->next_vacuum_ms = now_ms + VACUUM_EVERY_MS;
        int64_t freed;
        note(q, r, fp_sqlq_vacuum_step(q->store, VACUUM_PAGES, &freed, &err), &err, now_ms);
    }
    if (now_ms >= q->next_size_ms) {
        q->next_size_ms = now_ms + SIZE_EVERY_MS;
        fp_sqlq_size_t sz;
        if (fp_sqlq_size(q->store, &sz, &err) == 0)
            r->file_bytes = sz.file_bytes + sz.wal_bytes;
    }
}

static void answer(fp_aq_t *q, round_t *r, bool sample, bool drained, int64_t now_ms)
{
    fp_err_t err;
    if (sample) {
        r->sampled = true;
        r->samples = calloc(q->n ? q->n : 1, sizeof *r->samples);
        if (r->samples != NULL && fp_aq_work_sample(q, now_ms, r->samples, &err) < 0) {
            free(r->samples);
            r->samples = NULL; /* the askers get NULL: no sample */
        }
    }
    if (drained) {
        r->answered = true;
        int rc = can_work(q, r, now_ms) ? fp_aq_work_drained(q, now_ms, &r->drained, &err) : -EAGAIN;
        if (rc < 0)
            r->drained = false; /* unknown is not drained: asked again later */
    }
}

/* Not ready after a store error, and nothing this round wrote: the
 * supervisor gives no room while the queue is not ready, so no pull would
 * ever come to prove the file usable again (only the vacuum, every 30 s).
 * One page written at each back-off step does, and fails while the disk is
 * still full or the lock still held. */
static void probe_if_down(fp_aq_t *q, round_t *r, bool down, int64_t now_ms)
{
    fp_err_t err;
    if (down && !r->any_ok && can_work(q, r, now_ms))
        note(q, r, fp_sqlq_write_probe(q->store, &err), &err, now_ms);
}

/* The store work of one round (mutex released). */
static void work(fp_aq_t *q, round_t *r, aq_outv_t *batch, size_t room, bool sample,
                 bool drained, bool down)
{
    int64_t now_ms = fp_os_unix_ms();
    fp_err_t err;
    fp_spawn_fork_lock_read();
    if (batch->n > 0 && can_work(q, r, now_ms)) {
        int rc = fp_aq_work_commit(q, batch, now_ms, &r->delta, &r->turned, &err);
        note(q, r, rc, &err, now_ms);
        if (rc == 0) {
            r->committed = batch->n;
            fp_aq_outv_free(batch);
        }
    }
    fp_aq_calls_run(q, &r->calls, now_ms);
    housekeeping(q, r, now_ms);
    if (!q->ready_known && can_work(q, r, now_ms))
        check_version(q, r, now_ms); /* the first round: is the file usable at all */
    if (can_work(q, r, now_ms))
        do_pull(q, r, room, now_ms);
    probe_if_down(q, r, down, now_ms);
    answer(q, r, sample, drained, now_ms);
    fp_spawn_fork_unlock_read();
    if (!r->failed && r->any_ok)
        fp_aqp_succeeded(&q->plan);
}

/* Under the mutex: what the round found, for the loop. True when there is
 * something to wake the loop for. */
static bool publish(fp_aq_t *q, round_t *r)
{
    aq_shared_t *sh = &q->sh;
    bool wake = r->committed > 0 || r->sampled || r->answered || r->calls.head != NULL;
    fp_aq_calls_join(&sh->answered, &r->calls);
    if (fp_aq_turned_move(&sh->turned, &r->turned) < 0) /* ENOMEM: only the reports go */
        fp_aq_turned_free(&r->turned);
    if (r->rows.n > 0) {
        sh->rows = r->rows; /* empty: this round pulled only because it was */
        r->rows = (aq_rows_t){0};
        wake = true;
    } else {
        fp_aq_rows_free(&r->rows);
    }
    sh->committed += r->committed;
    fp_aq_delta_add(&sh->delta, &r->delta);
    if (r->failed && (sh->ready || strcmp(sh->reason, r->reason) != 0)) {
        sh->ready = false;
        snprintf(sh->reason, sizeof sh->reason, "%s", r->reason);
        wake = true;
    } else if (!r->failed && r->any_ok && !sh->ready) {
        sh->ready = true;
        sh->reason[0] = '\0';
        wake = true;
    }
    q->ready_known = q->ready_known || r->any_ok;
    if (r->sampled) {
        free(sh->samples);
        sh->samples = r->samples;
        sh->sample_done++;
    }
    if (r->answered) {
        sh->drained = r->drained;
        sh->drained_done++;
    }
    if (r->file_bytes > 0)
        sh->file_bytes = r->file_bytes;
    return wake;
}

/* How long to sleep (ms, -1: until woken) once a round is done. */
static int64_t sleep_ms(fp_aq_t *q, bool pending, size_t room, bool down)
{
    int64_t now_ms = fp_os_unix_ms();
    if (pending) /* outcomes that failed to commit: the back-off decides */
        return q->plan.backoff_until_ms > now_ms ? q->plan.backoff_until_ms - now_ms : 0;
    fp_aqp_step_t s = fp_aqp_next(&q->plan, now_ms, room > 0);
    int64_t w = s.kind == FP_AQP_WAIT ? s.wait_ms : 0;
    if ((!q->ready_known || down) && (w < 0 || w > FP_AQP_BACKOFF_MIN_MS))
        w = q->plan.backoff_until_ms > now_ms ? q->plan.backoff_until_ms - now_ms : 0;
    int64_t renew = q->held.count > 0 ? q->next_renew_ms - now_ms : -1;
    int64_t vacuum = q->next_vacuum_ms - now_ms;
    int64_t times[] = {renew, vacuum};
    for (size_t i = 0; i < 2; i++)
        if (times[i] >= 0 && (w < 0 || times[i] < w))
            w = times[i];
    return w;
}

static void wait_for(fp_aq_t *q, int64_t ms)
{
    if (q->sh.kick || ms == 0)
        return;
    if (ms < 0) {
        pthread_cond_wait(&q->cv, &q->mu);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&q->cv, &q->mu, &ts);
}

void *fp_aq_thread_main(void *arg)
{
    fp_aq_t *q = arg;
    aq_outv_t batch = {0};
    int tries_after_stop = 0;
    fp_aq_busy_install(q);
    pthread_mutex_lock(&q->mu);
    for (;;) {
        aq_shared_t *sh = &q->sh;
        sh->kick = false;
        (void)fp_aq_outv_move(&batch, &sh->outcomes); /* ENOMEM: taken next round */
        for (size_t i = 0; i < sh->holds.n; i++)
            (void)fp_held_set_add(&q->held, 0, (uint64_t)sh->holds.v[i], 0);
        sh->holds.n = 0;
        for (size_t i = 0; i < sh->nforget; i++)
            fp_held_set_remove(&q->held, 0, (uint64_t)sh->forget[i], 0);
        sh->nforget = 0;
        q->track = q->track || sh->track_retries;
        bool stop = sh->stop;
        size_t room = sh->rows.n == 0 && !stop ? sh->room : 0;
        bool sample = sh->sample_asked != sh->sample_done;
        bool drained = sh->drained_asked != sh->drained_done;
        bool down = q->ready_known && !sh->ready && !stop;
        pthread_mutex_unlock(&q->mu);

        round_t r = {.calls = sh->calls};
        sh->calls = (aq_calls_t){0};
        work(q, &r, &batch, room, sample, drained, down);

        pthread_mutex_lock(&q->mu);
        if (publish(q, &r))
            uv_async_send(&q->async);
        /* At the stop, outcomes still failing are given a few tries: their
         * rows stay leased and come back when the leases end. */
        if (stop && (batch.n == 0 || ++tries_after_stop > 3))
            break;
        down = q->ready_known && !sh->ready;
        wait_for(q, stop ? FP_AQP_BACKOFF_MIN_MS : sleep_ms(q, batch.n > 0, room, down));
    }
    pthread_mutex_unlock(&q->mu);
    fp_aq_busy_remove(q);
    fp_aq_outv_free(&batch);
    return NULL;
}
