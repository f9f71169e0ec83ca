/* pool.h: the children as data — slots, their states, and the decisions
 * about them (how many jobs may be held, which child takes the next job,
 * when a slot may be reused). Pure: no fork, no libuv, no clock reads; the
 * supervisor does the I/O and tells the pool what happened.
 *
 * A slot's life: STARTING (forked, no "ready" yet) → IDLE ⇄ BUSY →
 * STOPPING ("stop" sent or signalled) → EXITED (reaped). A slot is reused
 * only when its process was reaped AND its channel reached EOF, so a late
 * "done" can never be matched to the next child in that slot. */
#ifndef FORKPOOL_POOL_H
#define FORKPOOL_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum fp_child_state_e {
    FP_CHILD_FREE,     /* slot unused */
    FP_CHILD_STARTING,
    FP_CHILD_IDLE,
    FP_CHILD_BUSY,
    FP_CHILD_STOPPING,
    FP_CHILD_EXITED,   /* reaped; waiting for the channel's EOF */
    FP_CHILD_STATES
} fp_child_state_t;

typedef struct fp_slot_s {
    int id;                 /* index in the pool; FORKPOOL_CHILD_ID */
    pid_t pid;
    fp_child_state_t state;
    uint64_t seq;           /* the job in flight when BUSY */
    void *job;              /* the supervisor's record of that job; borrowed */
    int64_t jobs_done;
    int64_t rss_kb;         /* as last reported */
    int64_t started_at_ms;
    int64_t max_jobs;       /* this child's jittered recycling limit; 0 = none */
    uint32_t generation;    /* the configuration it was forked with (HUP bumps it) */
    bool timed_out;         /* its job overran: TERM (then KILL) was sent */
    bool retiring;          /* being replaced (max jobs, memory): its stop is planned */
    int exit_status;        /* wait status, once reaped */
    bool reaped;
    bool channel_eof;       /* the child's end closed: it takes no more jobs */
    bool channel_closed;
    void *channel;          /* the supervisor's channel object; borrowed */
} fp_slot_t;

typedef struct fp_pool_s {
    fp_slot_t *slots;
    size_t capacity;   /* allocated slots */
    size_t target;     /* children wanted */
    size_t prefetch;   /* jobs held beyond one per child */
    size_t held;       /* jobs held by the supervisor: running or waiting */
    uint64_t next_seq;
} fp_pool_t;

int fp_pool_init(fp_pool_t *pool, size_t target, size_t prefetch);
void fp_pool_free(fp_pool_t *pool);

/* A free slot, grown on demand, put into STARTING; NULL on ENOMEM. */
fp_slot_t *fp_pool_claim_slot(fp_pool_t *pool, pid_t pid, int64_t now_ms);

fp_slot_t *fp_pool_by_pid(fp_pool_t *pool, pid_t pid);

/* The idle child that has been idle the longest (round-robin over slots). */
fp_slot_t *fp_pool_pick_idle(fp_pool_t *pool);

/* How many more jobs the supervisor may pull: target + prefetch − held. */
size_t fp_pool_room(const fp_pool_t *pool);

/* Children that count toward capacity: not stopping, not exited, not free. */
size_t fp_pool_live(const fp_pool_t *pool);

size_t fp_pool_count(const fp_pool_t *pool, fp_child_state_t state);

/* Marks a slot free again when both the process is reaped and the channel
 * closed; returns true if it did. */
bool fp_pool_release_if_done(fp_pool_t *pool, fp_slot_t *slot);

uint64_t fp_pool_next_seq(fp_pool_t *pool);

const char *fp_pool_state_name(fp_child_state_t state);

#endif
