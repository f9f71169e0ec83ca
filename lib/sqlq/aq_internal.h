/* aq_internal.h: INTERNAL to lib/sqlq/aq*.c — the state of one embedded
 * queue (aq.h), in three parts: the loop side's (aq.c, aq_results.c), the
 * part both sides touch under the mutex (`sh`), and the worker thread's
 * own (aq_thread.c, aq_work.c). */
#ifndef FORKPOOL_SQLQ_AQ_INTERNAL_H
#define FORKPOOL_SQLQ_AQ_INTERNAL_H

#include <pthread.h>

#include "queue/held_set.h"
#include "queue/queue_stats.h"
#include "sqlq/aq.h"
#include "sqlq/aq_plan.h"
#include "sqlq/store.h"

/* An outcome's job in the supervisor's terms, kept beside a retry or a
 * put-back (entry_id NULL for the others): when a cancel mark turns one
 * into a dead row, the supervisor is told which job (on_retry_cancelled). */
typedef struct aq_tag_s {
    uint32_t queue;
    char *entry_id;
} aq_tag_t;

/* A list of outcomes whose payload and error are owned copies; tags[i] is
 * v[i]'s. */
typedef struct aq_outv_s {
    fp_sqlq_outcome_t *v;
    aq_tag_t *tags;
    size_t n, cap;
} aq_outv_t;

/* A retry or put-back a cancel mark turned into a dead row "cancelled"
 * (fp_sqlq_outcomes), for the loop to report; owned texts. */
typedef struct aq_turned_s {
    uint32_t queue;
    char *entry_id;
    char kind; /* 'r' retry, 'p' put back */
    char *payload; /* the one the outcome carried; NULL: the row's own */
    size_t len;
} aq_turned_t;

typedef struct aq_turnedv_s {
    aq_turned_t *v;
    size_t n, cap;
} aq_turnedv_t;

/* A pull's rows as the supervisor takes them (entry ids formatted, payloads
 * moved from the store's rows): built on the thread, so that the loop only
 * hands the array over. */
typedef struct aq_rows_s {
    fp_pulled_t *v;
    size_t n;
} aq_rows_t;

typedef struct aq_ids_s {
    int64_t *v;
    size_t n, cap;
} aq_ids_t;

typedef struct aq_sampler_s {
    fp_queue_sample_cb cb;
    void *ctx;
} aq_sampler_t;

typedef struct aq_waiter_s {
    void (*cb)(void *ctx, bool drained);
    void *ctx;
} aq_waiter_t;

/* One fp_aq_call, posted to the thread and back (aq_call.c). */
typedef struct aq_call_s {
    fp_aq_work_fn work;
    void *arg;
    fp_aq_done_fn done;
    void *ctx;
    int rc;
    char msg[FP_ERR_MSG_MAX];
    struct aq_call_s *next;
} aq_call_t;

/* A list in posting order. */
typedef struct aq_calls_s {
    aq_call_t *head, *tail;
} aq_calls_t;

/* Outcomes lost to an allocation failure that one round of the thread
 * can be told about; more in one round stay leased until a restart. */
#define FP_AQ_FORGET_MAX 64

/* What the loop and the thread exchange, under mu. */
typedef struct aq_shared_s {
    /* to the thread */
    size_t room;       /* 0 while the loop has rows of a pull left; written
                        * by the loop alone (under mu), which reads it freely */
    aq_outv_t outcomes;
    aq_ids_t holds;
    /* Rows whose outcome the loop could not record (out of memory): no
     * longer renewed, so their leases end and they are pulled again. A
     * fixed array, because recording this must not need memory. */
    int64_t forget[FP_AQ_FORGET_MAX];
    size_t nforget;
    bool track_retries;
    unsigned sample_asked, drained_asked; /* requests; the thread answers each count */
    bool stop;
    bool kick;         /* something was posted since the thread last looked */
    aq_calls_t calls;  /* fp_aq_call's, not yet taken by the thread */
    /* from the thread */
    aq_rows_t rows;    /* a pull's rows; the next pull waits until the loop took them */
    size_t committed;  /* outcomes the thread is done with (acted or stale) */
    fp_queue_stats_t delta;
    bool ready;
    char reason[FP_ERR_MSG_MAX];
    fp_admin_queue_stats_t *samples; /* n entries, NULL when the sample failed */
    unsigned sample_done, drained_done;
    bool drained;
    int64_t file_bytes;
    aq_calls_t answered; /* calls the thread ran, for the loop to answer */
    aq_turnedv_t turned; /* outcomes a cancel mark turned, for the loop to report */
} aq_shared_t;

struct fp_aq_s {
    /* ---- loop side ---- */
    uv_loop_t *loop;
    const fp_config_t *cfg;
    const char *const *names;
    size_t n;
    fp_queue_events_t events;
    void *ctx;
    uv_async_t async;
    uv_prepare_t prepare;
    aq_outv_t buffered;    /* this loop turn's outcomes */
    size_t sent;           /* handed to the thread, not yet committed */
    fp_pulled_t *stash;    /* a pull's rows beyond the room */
    size_t stash_n, stash_at;
    size_t room;
    bool started, draining, closing, ready;
    unsigned sample_seen, drained_seen;
    aq_sampler_t samplers[FP_AQ_SAMPLERS];
    aq_waiter_t *waiters;
    size_t nwaiters;
    fp_queue_stats_t stats;
    char reason[FP_ERR_MSG_MAX];
    int handles;
    void (*close_cb)(void *ctx);
    void *close_ctx;
    int lock_fd;           /* daemon.name's guard (aq_name.c) */
    uv_timer_t cancel_timer; /* the look for cancel marks (aq_cancel.c) */
    bool cancel_in_flight;
    pthread_t thread;      /* running while started */
    /* ---- shared ---- */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    aq_shared_t sh;
    /* ---- the thread's own ---- */
    fp_sqlq_t *store;
    int64_t lease_ms;
    bool weighted;
    fp_aqp_t plan;
    fp_aqp_caps_t caps;
    fp_held_set_t held;    /* ids pulled and not yet settled: renewed */
    aq_ids_t retries;      /* --burst: rows our retries made */
    bool track;
    bool pulled_once;      /* the first pull takes own rows back (FP_SQLQ_PULL_OWN) */
    bool ready_known;      /* a store call succeeded once */
    int64_t version;
    int64_t next_renew_ms, next_vacuum_ms, next_size_ms;
};

/* aq_list.c: the lists. -ENOMEM leaves them unchanged. tag.entry_id is
 * copied (may be NULL). */
int fp_aq_outv_push(aq_outv_t *l, const fp_sqlq_outcome_t *o, const char *payload, size_t len,
                    const char *error, aq_tag_t tag);
/* Moves every item of from to the end of to (from is emptied). */
int fp_aq_outv_move(aq_outv_t *to, aq_outv_t *from);
void fp_aq_outv_free(aq_outv_t *l);
/* Takes outcome i of l as turned (its entry id and payload move). */
int fp_aq_turned_take(aq_turnedv_t *to, aq_outv_t *l, size_t i);
/* Moves every item of from to the end of to. */
int fp_aq_turned_move(aq_turnedv_t *to, aq_turnedv_t *from);
void fp_aq_turned_free(aq_turnedv_t *l);
int fp_aq_ids_push(aq_ids_t *l, int64_t id);
/* The store's rows as the supervisor's (entry id "ENQUEUED_MS-ID"); the
 * payloads move, jobs keeps what is left to free. A row whose entry id
 * cannot be allocated is left out. -ENOMEM: rows unchanged. */
int fp_aq_rows_take(aq_rows_t *rows, fp_sqlq_jobs_t *jobs);
void fp_aq_rows_free(aq_rows_t *rows);
/* Entry ids are "ENQUEUED_MS-ID" (the row's id after the dash; a bare id
 * is taken too); false when entry_id holds no row id. */
bool fp_aq_parse_id(const char *entry_id, int64_t *id);

/* aq_call.c: fp_aq_call's lists. Appends from to the end of to. */
void fp_aq_calls_join(aq_calls_t *to, aq_calls_t *from);
/* On the thread: runs each call's work, keeping its result in the call. */
void fp_aq_calls_run(fp_aq_t *q, const aq_calls_t *l, int64_t now_ms);
/* On the loop: calls each done (with rc, or with `cancelled` for work that
 * never ran) and frees the list. */
void fp_aq_calls_answer(aq_calls_t *l);
void fp_aq_calls_cancel(aq_calls_t *l);

/* aq_thread.c: the worker thread's body. */
void *fp_aq_thread_main(void *arg);

/* aq_work.c: the thread's pieces of work, each one store call or a few;
 * they record failures in the plan and the shared reason themselves. */
int fp_aq_work_commit(fp_aq_t *q, aq_outv_t *batch, int64_t now_ms, fp_queue_stats_t *delta,
                      aq_turnedv_t *turned, fp_err_t *err);
int fp_aq_work_pull(fp_aq_t *q, size_t room, int64_t now_ms, aq_rows_t *rows,
                    fp_queue_stats_t *delta, fp_err_t *err);
int fp_aq_work_renew(fp_aq_t *q, int64_t now_ms, fp_queue_stats_t *delta, fp_err_t *err);
int fp_aq_work_sample(fp_aq_t *q, int64_t now_ms, fp_admin_queue_stats_t *out, fp_err_t *err);
int fp_aq_work_drained(fp_aq_t *q, int64_t now_ms, bool *drained, fp_err_t *err);

/* aq_results.c: the loop's side of the async: takes what the thread posted. */
void fp_aq_on_async(uv_async_t *h);
/* Adds a round's counters to sum; the read round trip is the newest
 * measured one, not the largest (fp_qmux_stats_add's rule across parts). */
void fp_aq_delta_add(fp_queue_stats_t *sum, const fp_queue_stats_t *d);
/* Hands stashed rows to the supervisor, up to the room. */
void fp_aq_deliver_stash(fp_aq_t *q);
/* Gives n pulled rows back to the file (put back with their own payload,
 * the lease released) and frees them: a drain's stash, or rows the loop
 * could not take. */
void fp_aq_put_back_pulled(fp_aq_t *q, fp_pulled_t *p, size_t n);

/* aq_busy.c: the thread's busy handler, which lets go of the fork lock
 * while it waits for another connection's lock; installed and removed by
 * the thread itself (the handler must only run with that lock held). */
void fp_aq_busy_install(fp_aq_t *q);
void fp_aq_busy_remove(fp_aq_t *q);

/* aq_cancel.c: the look for cancel marks every FP_CANCEL_TAKE_MS, from
 * fp_aq_start (the timer is aq.c's handle). */
void fp_aq_cancel_start(fp_aq_t *q);

/* aq_name.c: daemon.name's guard on the file: a lock only one process can
 * hold per (file, name); the kernel drops it when the process dies. */
int fp_aq_name_lock(const char *path, const char *name, int *fd, fp_err_t *err);

#endif
