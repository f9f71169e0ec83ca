/* pool.c: slot bookkeeping for the supervisor (the transitions themselves are
 * slot_fsm.c's). Pure, so every decision can be unit-tested without a
 * process in sight. */
#include "pool/pool.h"

#include <stdlib.h>
#include <string.h>

#include "base/backoff.h"
#include "pool/steer.h"

int fp_pool_init(fp_pool_t *pool, size_t target, size_t prefetch)
{
    memset(pool, 0, sizeof *pool);
    pool->target = target;
    pool->prefetch = prefetch;
    pool->next_seq = 1;
    return 0;
}

void fp_pool_free(fp_pool_t *pool)
{
    for (size_t i = 0; i < pool->capacity; i++)
        free(pool->slots[i]);
    free(pool->slots);
    memset(pool, 0, sizeof *pool);
}

/* Slots are allocated one by one, so growing moves none of them: the
 * supervisor keeps pointers to slots across calls that may fork. On ENOMEM
 * it may add fewer than asked (capacity counts those added). */
static void grow(fp_pool_t *pool)
{
    size_t cap = pool->capacity ? pool->capacity * 2 : 8;
    fp_slot_t **slots = realloc(pool->slots, cap * sizeof *slots);
    if (slots == NULL)
        return;
    pool->slots = slots;
    for (size_t i = pool->capacity; i < cap; i++) {
        if ((slots[i] = calloc(1, sizeof *slots[i])) == NULL)
            return;
        slots[i]->id = (int)i;
        pool->capacity = i + 1;
    }
}

fp_slot_t *fp_pool_claim_slot(fp_pool_t *pool, pid_t pid, int64_t now_ms)
{
    size_t i = 0;
    while (i < pool->capacity && pool->slots[i]->state != FP_CHILD_FREE)
        i++;
    if (i == pool->capacity)
        grow(pool);
    if (i == pool->capacity)
        return NULL;
    fp_slot_t *slot = pool->slots[i];
    int id = slot->id;
    memset(slot, 0, sizeof *slot);
    slot->id = id;
    slot->pid = pid;
    slot->concurrency = 1;
    (void)fp_slot_apply(slot, FP_SLOT_SPAWNED); /* FREE → STARTING, as memset left it FREE */
    slot->started_at_ms = now_ms;
    return slot;
}

fp_slot_t *fp_pool_by_pid(fp_pool_t *pool, pid_t pid)
{
    for (size_t i = 0; i < pool->capacity; i++)
        if (pool->slots[i]->state != FP_CHILD_FREE && pool->slots[i]->pid == pid)
            return pool->slots[i];
    return NULL;
}

fp_slot_t *fp_pool_pick_idle(fp_pool_t *pool)
{
    /* Lowest slot first keeps the working set of children small and warm
     * when load is light; under load every child is busy anyway. */
    for (size_t i = 0; i < pool->capacity; i++)
        if (pool->slots[i]->state == FP_CHILD_IDLE && !pool->slots[i]->channel_eof)
            return pool->slots[i];
    return NULL;
}

size_t fp_pool_child_depth(const fp_pool_t *pool)
{
    size_t children = pool->target > 0 ? pool->target : 1;
    size_t share = (pool->prefetch + children - 1) / children;
    if (pool->ahead_auto)
        return 1 + share;
    return 1 + (pool->pipeline < share ? pool->pipeline : share);
}

bool fp_pool_starts_on_send(const fp_slot_t *slot)
{
    return slot->concurrency > 1;
}

size_t fp_slot_running(const fp_slot_t *slot)
{
    if (fp_pool_starts_on_send(slot))
        return slot->depth;
    return slot->depth > 0 ? 1 : 0;
}

size_t fp_pool_running(const fp_pool_t *pool)
{
    size_t n = 0;
    for (size_t i = 0; i < pool->capacity; i++)
        n += fp_slot_running(pool->slots[i]);
    return n;
}

/* The adaptive rule for a child that runs one job at a time. */
static bool may_send_ahead(const fp_pool_t *pool, const fp_slot_t *slot, const fp_pool_job_t *job)
{
    if (job == NULL)
        return false;
    fp_steer_front_t front = {
        .ahead_us = slot->ahead_us,
        .run_expect_us = slot->run_expect_us,
        .run_elapsed_us = job->now_us - slot->run_started_us,
        .unsure = slot->unsure,
    };
    return fp_steer_send_ahead(&front, job->pct_us, pool->max_send_ahead_wait_us);
}

static bool can_queue(const fp_pool_t *pool, const fp_slot_t *slot, const fp_pool_job_t *job)
{
    /* A concurrent child takes jobs up to what it runs at once; one job more
     * would only wait in its socket, where no other child can take it. A
     * timed-out one is being killed: a job sent now would die with it. */
    bool concurrent = fp_pool_starts_on_send(slot);
    size_t depth_max = concurrent ? slot->concurrency : fp_pool_child_depth(pool);
    if (slot->state != FP_CHILD_BUSY || slot->channel_eof || slot->depth >= depth_max ||
        (concurrent && slot->timed_out))
        return false;
    if (!concurrent && pool->ahead_auto && !may_send_ahead(pool, slot, job))
        return false;
    /* A child due to recycle gets no more than its limit: the replacement
     * takes over instead of the jobs waiting behind the stop. */
    return slot->max_jobs == 0 || slot->jobs_done + (int64_t)slot->depth < slot->max_jobs;
}

fp_slot_t *fp_pool_pick_for(fp_pool_t *pool, const fp_pool_job_t *job)
{
    fp_slot_t *best = fp_pool_pick_idle(pool);
    if (best != NULL)
        return best;
    for (size_t i = 0; i < pool->capacity; i++) {
        fp_slot_t *slot = pool->slots[i];
        if (can_queue(pool, slot, job) && (best == NULL || slot->depth < best->depth))
            best = slot;
    }
    return best;
}

fp_slot_t *fp_pool_pick(fp_pool_t *pool)
{
    return fp_pool_pick_for(pool, NULL);
}

fp_slot_t *fp_pool_pick_to_stop(fp_pool_t *pool)
{
    fp_slot_t *best = fp_pool_pick_idle(pool);
    if (best != NULL)
        return best;
    /* With a pipeline a busy child is refilled before it runs dry, so under
     * a backlog none ever turns idle: stop the busy child with the fewest
     * jobs queued instead; its stop waits behind them in its socket. */
    for (size_t i = 0; i < pool->capacity; i++) {
        fp_slot_t *slot = pool->slots[i];
        if (slot->state == FP_CHILD_BUSY && !slot->channel_eof && !slot->timed_out &&
            (best == NULL || slot->depth < best->depth))
            best = slot;
    }
    return best;
}

size_t fp_pool_capacity(const fp_pool_t *pool)
{
    size_t extra = 0;
    for (size_t i = 0; i < pool->capacity; i++) {
        const fp_slot_t *slot = pool->slots[i];
        if ((slot->state == FP_CHILD_IDLE || slot->state == FP_CHILD_BUSY) && !slot->retiring &&
            !slot->channel_eof && slot->concurrency > 1)
            extra += slot->concurrency - 1;
    }
    return pool->target + extra;
}

size_t fp_pool_room(const fp_pool_t *pool, size_t held)
{
    size_t bound = fp_pool_capacity(pool) + pool->prefetch;
    return held >= bound ? 0 : bound - held;
}

size_t fp_pool_count(const fp_pool_t *pool, fp_child_state_t state)
{
    size_t n = 0;
    for (size_t i = 0; i < pool->capacity; i++)
        n += pool->slots[i]->state == state;
    return n;
}

size_t fp_pool_live(const fp_pool_t *pool)
{
    return fp_pool_count(pool, FP_CHILD_STARTING) + fp_pool_count(pool, FP_CHILD_IDLE) +
           fp_pool_count(pool, FP_CHILD_BUSY);
}

bool fp_pool_release_if_done(fp_pool_t *pool, fp_slot_t *slot)
{
    (void)pool;
    if (!slot->reaped || !slot->channel_closed || fp_slot_apply(slot, FP_SLOT_RELEASED) < 0)
        return false;
    int id = slot->id;
    memset(slot, 0, sizeof *slot);
    slot->id = id;
    return true;
}

uint64_t fp_pool_next_seq(fp_pool_t *pool)
{
    return pool->next_seq++;
}

int64_t fp_pool_start_delay_ms(unsigned failures)
{
    return fp_backoff_ms(failures, FP_POOL_START_DELAY_FIRST_MS, FP_POOL_START_DELAY_MAX_MS, false,
                         0);
}

bool fp_pool_failed_start(const fp_slot_t *slot, bool died_in_job, int64_t now_ms)
{
    if (!slot->said_ready)
        return true;
    return !died_in_job && slot->jobs_done == 0 &&
           now_ms - slot->started_at_ms < FP_POOL_FAST_EXIT_MS;
}

fp_start_verdict_t fp_pool_start_failed(fp_pool_t *pool, uint32_t child_gen, uint32_t generation,
                                        bool unproven, int64_t *delay_ms)
{
    *delay_ms = 0;
    if (child_gen != generation)
        return FP_START_STALE;
    if (unproven) {
        pool->start_failures = 0;
        return FP_START_REVERT;
    }
    if (pool->start_failures < UINT32_MAX)
        pool->start_failures++;
    *delay_ms = fp_pool_start_delay_ms(pool->start_failures);
    return FP_START_RETRY;
}

void fp_pool_start_ok(fp_pool_t *pool)
{
    pool->start_failures = 0;
}

bool fp_pool_may_roll(const fp_pool_t *pool, uint32_t generation, bool unproven,
                      bool backing_off)
{
    if (backing_off)
        return false;
    for (size_t i = 0; unproven && i < pool->capacity; i++) {
        const fp_slot_t *slot = pool->slots[i];
        if (slot->state == FP_CHILD_STARTING && slot->generation == generation)
            return false;
    }
    return true;
}

int64_t fp_pool_max_jobs(int64_t per_child, int64_t jitter, uint64_t random)
{
    if (per_child <= 0)
        return 0;
    if (jitter <= 0)
        return per_child;
    uint64_t extra = random % ((uint64_t)jitter + 1); /* jitter + 1 <= 2^63: no wrap */
    return extra > (uint64_t)(INT64_MAX - per_child) ? INT64_MAX : per_child + (int64_t)extra;
}
