/* pool.h: the children as data — slots, their states, and the decisions
 * about them (how many jobs may be held, which child takes the next job,
 * when a slot may be reused). Pure: no fork, no libuv, no clock reads; the
 * supervisor does the I/O and tells the pool what happened.
 *
 * A slot's life is the state machine of slot_fsm.h. A slot is reused only
 * when its process was reaped AND its channel reached EOF, so a late "done"
 * can never be matched to the next child in that slot. Slots never move: a
 * pointer to one stays valid for the pool's life, however much it grows. */
#ifndef FORKPOOL_POOL_H
#define FORKPOOL_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pool/slot_fsm.h"

/* What the supervisor hangs on a slot; only it looks inside. */
struct fp_held_s;
struct fp_channel_s;

typedef struct fp_slot_s {
    int id;                 /* index in the pool; FORKPOOL_CHILD_ID */
    pid_t pid;
    fp_child_state_t state;
    struct fp_held_s *job;      /* the running job: the head of those sent to it; borrowed */
    struct fp_held_s *job_tail; /* the last job sent to it (== job when it holds one) */
    size_t depth;           /* jobs sent and not answered: running + queued in its socket */
    /* What its jobs are expected to take (lib/pool/steer.h), kept by the
     * supervisor's held lists: the adaptive send-ahead reads them. */
    int64_t ahead_us;       /* expected run times (means) of the jobs it holds */
    size_t unsure;          /* jobs it holds whose type is unknown or long */
    int64_t run_expect_us;  /* the running job's expected run time; 0 when unsure */
    int64_t run_started_us; /* when its running job started (monotonic µs) */
    size_t concurrency;     /* jobs it runs at once, as its "ready" said; 1 until then */
    int64_t jobs_done;
    int64_t rss_kb;         /* as last reported */
    int64_t started_at_ms;
    int64_t active_ms;      /* when the autoscale timer last saw it with a job; 0: not yet */
    int64_t seen_jobs;      /* jobs_done at that look: a job run between two looks counts */
    int64_t max_jobs;       /* this child's jittered recycling limit; 0 = none */
    uint32_t generation;    /* the configuration it was forked with (HUP bumps it) */
    bool timed_out;         /* its job overran: TERM (then KILL) was sent */
    bool said_ready;        /* it sent "ready" once */
    bool start_timed_out;   /* no "ready" within pool.start_timeout: killed */
    bool channel_lost;      /* its channel ended while it was alive: being finished off */
    bool retiring;          /* being replaced (max jobs, memory): its stop is planned */
    int exit_status;        /* wait status, once reaped */
    bool reaped;
    bool channel_eof;       /* the child's end closed: it takes no more jobs */
    bool channel_closed;
    struct fp_channel_s *channel; /* the supervisor's end of its socket; borrowed */
} fp_slot_t;

typedef struct fp_pool_s {
    fp_slot_t **slots; /* each allocated apart, so none moves when the pool grows */
    size_t capacity;   /* allocated slots */
    size_t target;     /* children wanted */
    size_t prefetch;   /* jobs held beyond one per child (the hold target when hold_auto) */
    size_t pipeline;   /* held jobs that may wait in one busy child's socket */
    bool hold_auto;    /* pool.prefetch unset: the supervisor sets prefetch (fp_steer_hold) */
    bool ahead_auto;   /* pool.pipeline unset: send-ahead by fp_steer_send_ahead */
    int64_t max_send_ahead_wait_us; /* with ahead_auto */
    uint64_t next_seq;
    unsigned start_failures; /* failed starts in a row: the crash-loop back-off step */
} fp_pool_t;

int fp_pool_init(fp_pool_t *pool, size_t target, size_t prefetch);
void fp_pool_free(fp_pool_t *pool);

/* A free slot, grown on demand, put into STARTING; NULL on ENOMEM. The
 * pointer stays valid until fp_pool_free. */
fp_slot_t *fp_pool_claim_slot(fp_pool_t *pool, pid_t pid, int64_t now_ms);

fp_slot_t *fp_pool_by_pid(fp_pool_t *pool, pid_t pid);

/* The lowest idle slot that can take a job. */
fp_slot_t *fp_pool_pick_idle(fp_pool_t *pool);

/* How many jobs one child may hold at once: the one it runs, plus up to
 * `pipeline` sent ahead, queued in its socket so that it never waits for the
 * supervisor between jobs, but no more than its share of the prefetch,
 * ceil(prefetch / children): the bound on jobs held stays children +
 * prefetch. With pipeline 0 (or prefetch 0) 1, so a job waits in the
 * supervisor for whichever child frees first and never behind one long
 * job. With ahead_auto, no pipeline cap: the share bounds it, and
 * fp_steer_send_ahead decides each job. */
size_t fp_pool_child_depth(const fp_pool_t *pool);

/* The job about to be handed out, as the adaptive send-ahead sees it. */
typedef struct fp_pool_job_s {
    int64_t pct_us; /* its type's high percentile (estimate.h); -1: unknown */
    int64_t now_us; /* monotonic, for how long the running jobs have run */
} fp_pool_job_t;

/* The child that should take the next job: an idle one if any, else the
 * busy child with the fewest jobs held that is below its depth (its
 * concurrency when above one, else fp_pool_child_depth), not timed out
 * when it runs jobs side by side, and whose held jobs would not carry it
 * past its recycling limit; with ahead_auto, a busy child that runs one job
 * at a time also needs fp_steer_send_ahead to say yes for `job` (NULL: no
 * job known, so none is sent ahead). NULL if none. */
fp_slot_t *fp_pool_pick_for(fp_pool_t *pool, const fp_pool_job_t *job);
fp_slot_t *fp_pool_pick(fp_pool_t *pool);

/* The child to stop when the pool is above its target: the lowest idle
 * one, else the busy one with the fewest jobs queued (its "stop" queues
 * behind them). NULL if none can take a stop. */
fp_slot_t *fp_pool_pick_to_stop(fp_pool_t *pool);

/* Whether a job sent to this child starts at once: a child that runs jobs
 * side by side (concurrency > 1) starts each as its line arrives; one that
 * runs one at a time starts the next when it answered the one before. */
bool fp_pool_starts_on_send(const fp_slot_t *slot);

/* Jobs running in this child now (the rest of its depth waits in its
 * socket), and in the whole pool: a busy child may run many. */
size_t fp_slot_running(const fp_slot_t *slot);
size_t fp_pool_running(const fp_pool_t *pool);

/* How many jobs the children can run at once: one per wanted child, plus
 * what each child in service announced beyond one. A child being replaced
 * (retiring), stopping or dying adds nothing: its replacement will, and
 * counting both would let a recycle pull twice the jobs. */
size_t fp_pool_capacity(const fp_pool_t *pool);

/* How many more jobs the supervisor may pull while it holds `held` (running
 * or waiting): capacity + prefetch − held (target + prefetch − held when
 * every child runs one job at a time). */
size_t fp_pool_room(const fp_pool_t *pool, size_t held);

/* Children that count toward capacity: not stopping, not exited, not free. */
size_t fp_pool_live(const fp_pool_t *pool);

size_t fp_pool_count(const fp_pool_t *pool, fp_child_state_t state);

/* Marks a slot free again when both the process is reaped and the channel
 * closed; returns true if it did. */
bool fp_pool_release_if_done(fp_pool_t *pool, fp_slot_t *slot);

uint64_t fp_pool_next_seq(fp_pool_t *pool);

/* The crash-loop back-off, shared by every path that starts a child. */
#define FP_POOL_START_DELAY_FIRST_MS 100
#define FP_POOL_START_DELAY_MAX_MS 10000
#define FP_POOL_FAST_EXIT_MS 1000

/* The wait before the next start after `failures` failed starts in a row:
 * 0 for none, then 100 ms doubling up to 10 s. */
int64_t fp_pool_start_delay_ms(unsigned failures);

/* Whether a child that died (not asked to) failed to start rather than
 * failed at work: it never said ready, or it died within a second of
 * starting without a job done nor one in hand (broken code, a failing
 * init). A child that dies in a job died of the job. */
bool fp_pool_failed_start(const fp_slot_t *slot, bool died_in_job, int64_t now_ms);

typedef enum fp_start_verdict_e {
    FP_START_RETRY,  /* start again after *delay_ms */
    FP_START_REVERT, /* the reload being rolled out cannot start children: undo it */
    FP_START_STALE,  /* the child ran a configuration no longer in force: refill now */
} fp_start_verdict_t;

/* A child of configuration generation `child_gen` failed to start; the
 * pool runs `generation`, a reload whose children have not yet proven they
 * start when `unproven`. A failure of that unproven reload's own child
 * undoes the reload (the old children never stopped serving, so there is
 * nothing to wait for: the back-off starts afresh). A child of another
 * generation (a reload already undone, or one that took over while it was
 * starting) ran a configuration no longer in force: its failure says
 * nothing of the current one, so its slot is refilled at once. Any other
 * failure is one more back-off step. */
fp_start_verdict_t fp_pool_start_failed(fp_pool_t *pool, uint32_t child_gen, uint32_t generation,
                                        bool unproven, int64_t *delay_ms);

/* A child said ready: the crash loop, if any, is over. */
void fp_pool_start_ok(fp_pool_t *pool);

/* Whether one more child of an older generation may be replaced now. Not
 * while a back-off runs, and while the reload is unproven, not before its
 * replacement in flight has said ready: a reload whose children cannot
 * start then costs one child's start, not the pool. */
bool fp_pool_may_roll(const fp_pool_t *pool, uint32_t generation, bool unproven,
                      bool backing_off);

/* A new child's recycling limit: per_child plus a share of jitter picked by
 * random (uniform in [0, jitter]), so children started together do not all
 * retire together; 0 (no limit) stays 0, and the sum saturates at INT64_MAX. */
int64_t fp_pool_max_jobs(int64_t per_child, int64_t jitter, uint64_t random);

#endif
