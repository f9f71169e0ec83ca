/* held.h: the one table of the jobs the supervisor holds, from the moment
 * they are pulled until Redis has their outcome. A held job is in exactly
 * one place: the waiting list (pulled, no child yet) or one child's list
 * (sent to it, the head running). The table's count is the only count of
 * held jobs: the pull bound (fp_pool_room), /metrics and /stats read it. */
#ifndef FORKPOOL_HELD_H
#define FORKPOOL_HELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dispatch/job.h"
#include "pool/pool.h"

typedef struct fp_held_s {
    struct fp_held_s *next; /* the waiting list, or the jobs sent to one child */
    uint64_t seq;            /* its number on the dispatch channel, once sent */
    uint32_t queue;
    char *entry_id;
    char *payload;
    size_t payload_len;
    fp_job_t job;
    int64_t started_at_ms;   /* monotonic, for durations */
    int64_t started_unix_ms; /* wall clock, for the ledger */
    int64_t deadline_ms;     /* monotonic; 0 while it waits (not started) */
    bool timed_out;          /* its deadline passed while it ran: its child is being killed */
    bool cancelled;          /* `forkpool cancel` asked: its deadline is now + kill_grace */
    pid_t pid;               /* the child running it */
    int64_t started_us;      /* monotonic µs, for its type's run-time estimate */
    int64_t expect_us;       /* its type's mean run time when sent (0 when unsure) */
    bool unsure;             /* its type was unknown or long when sent: nothing goes behind it */
    int est_type;            /* its entry in the run-time estimator (estimate.h) */
    bool limit_admitted;     /* counted against its type's local_concurrency */
    char *limit_lease;       /* its lease's member in the type's running set, or NULL */
} fp_held_t;

typedef struct fp_held_table_s {
    fp_held_t *wait_head, *wait_tail; /* pulled, waiting for a child */
    size_t count;                     /* every job held: waiting or sent */
    /* Called by fp_held_release before a record goes (its limits are
     * given back: lib/supervisor/limits.c); NULL: nothing to do. */
    void (*on_release)(void *ctx, fp_held_t *held);
    void *ctx;
} fp_held_table_t;

/* A new, zeroed record counted as held; NULL on ENOMEM. */
fp_held_t *fp_held_new(fp_held_table_t *table);

/* Frees a record without counting (the table is being thrown away). */
void fp_held_free(fp_held_t *held);

/* The job's outcome is settled (or it was put back): no longer held. */
void fp_held_release(fp_held_table_t *table, fp_held_t *held);

/* The job's id for logs, or its stream entry id when it has none. */
const char *fp_held_name(const fp_held_t *held);

void fp_held_wait_push(fp_held_table_t *table, fp_held_t *held);

/* A job a dead child never started goes back first: it was pulled before
 * anything now waiting. */
void fp_held_wait_push_front(fp_held_table_t *table, fp_held_t *held);

fp_held_t *fp_held_wait_pop(fp_held_table_t *table);

/* Takes a job out of the waiting list, wherever it is (a cancelled one). */
void fp_held_wait_remove(fp_held_table_t *table, fp_held_t *held);

/* The job of that queue and stream entry in the list from head (the
 * waiting list, or a child's), NULL if none. */
fp_held_t *fp_held_list_find(fp_held_t *head, uint32_t queue, const char *entry_id);

/* The jobs sent to one child, oldest first. Those started (deadline_ms set)
 * come first: a child of concurrency 1 runs its head, one that runs jobs
 * side by side runs all it holds. Push and the removals keep the child's
 * ahead_us and unsure (pool.h) the sums of its jobs' expect_us and unsure. */
void fp_held_slot_push(fp_slot_t *slot, fp_held_t *held);
fp_held_t *fp_held_slot_pop(fp_slot_t *slot);

/* The head of the child's list if it runs (deadline_ms set), popped; NULL
 * once what is left only waits. */
fp_held_t *fp_held_slot_pop_running(fp_slot_t *slot);

/* The job numbered seq that an answer may be for: the head only (a child
 * answers in order), or any job it holds when `anywhere` (a concurrent
 * child answers as each ends). NULL if it holds none such. */
fp_held_t *fp_held_slot_find(const fp_slot_t *slot, uint64_t seq, bool anywhere);

/* Takes a job found in the child's list out of it, wherever it is. */
void fp_held_slot_remove(fp_slot_t *slot, fp_held_t *held);

/* The started job whose deadline comes first, leaving out those already
 * timed out (their child is being killed); NULL if none runs. */
fp_held_t *fp_held_slot_next_deadline(const fp_slot_t *slot);

/* Marks timed out every started job whose deadline is at or before now_ms;
 * returns how many it marked. */
size_t fp_held_slot_expire(fp_slot_t *slot, int64_t now_ms);

#endif
