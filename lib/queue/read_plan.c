/* read_plan.c: the read planner (see read_plan.h): strict order and smooth
 * weighted round-robin. */
#include "queue/read_plan.h"

#include <string.h>

long fp_wrr_pick(const int64_t *weights, int64_t *current, const bool *eligible, size_t n)
{
    long best = -1;
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if ((eligible != NULL && !eligible[i]) || weights[i] < 1)
            continue;
        current[i] += weights[i];
        total += weights[i];
        if (best < 0 || current[i] > current[best])
            best = (long)i;
    }
    if (best >= 0)
        current[best] -= total;
    return best;
}

size_t fp_wrr_plan(const int64_t *weights, int64_t *current, const bool *eligible, size_t n,
                   size_t room, size_t *counts)
{
    memset(counts, 0, n * sizeof *counts);
    size_t made = 0;
    for (; made < room; made++) {
        long i = fp_wrr_pick(weights, current, eligible, n);
        if (i < 0)
            break;
        counts[i]++;
    }
    return made;
}

void fp_read_plan_init(fp_read_plan_t *p, size_t n, bool weighted)
{
    memset(p, 0, sizeof *p);
    p->n = n;
    p->weighted = weighted;
    for (size_t i = 0; i < n; i++) {
        p->weights[i] = 1;
        p->eligible[i] = true;
    }
}

void fp_read_plan_restart(fp_read_plan_t *p)
{
    p->sweep_index = 0;
    p->sweep_got_any = false;
}

static void all_eligible(fp_read_plan_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        p->eligible[i] = true;
}

/* The blocking read across queues keeps its total within the room: COUNT
 * room/n on every queue, or COUNT 1 on the first `room` queues. */
static fp_read_step_t block_step(const fp_read_plan_t *p, size_t room)
{
    size_t nstreams = p->n, count = room / p->n;
    if (room < p->n) {
        nstreams = room;
        count = 1;
    }
    if (nstreams > FP_READ_PLAN_QUEUES_MAX)
        nstreams = FP_READ_PLAN_QUEUES_MAX;
    return (fp_read_step_t){FP_READ_BLOCK, 0, count, nstreams};
}

/* The next read of the current plan; when it is spent, a new plan of the
 * room over the queues not found empty; when every queue came back empty, a
 * blocking read across all of them, after which all are planned again. */
static fp_read_step_t next_weighted(fp_read_plan_t *p, size_t room)
{
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < p->n; i++) {
            if (p->counts[i] == 0)
                continue;
            size_t count = p->counts[i] < room ? p->counts[i] : room;
            p->counts[i] = 0;
            return (fp_read_step_t){FP_READ_SWEEP, i, count, 1};
        }
        if (fp_wrr_plan(p->weights, p->current, p->eligible, p->n, room, p->counts) == 0)
            break;
    }
    all_eligible(p);
    return block_step(p, room);
}

fp_read_step_t fp_read_plan_next(fp_read_plan_t *p, size_t room, long history, bool claim_due)
{
    if (room == 0)
        return (fp_read_step_t){claim_due ? FP_READ_CLAIM : FP_READ_NONE, 0, 0, 0};
    if (history >= 0)
        return (fp_read_step_t){FP_READ_HISTORY, (size_t)history, room, 1};
    if (claim_due)
        return (fp_read_step_t){FP_READ_CLAIM, 0, room, 0};
    if (p->weighted)
        return next_weighted(p, room);
    if (p->sweep_index >= p->n && p->sweep_got_any)
        fp_read_plan_restart(p);
    if (p->sweep_index < p->n)
        return (fp_read_step_t){FP_READ_SWEEP, p->sweep_index, room, 1};
    return block_step(p, room);
}

void fp_read_plan_done(fp_read_plan_t *p, fp_read_step_kind_t kind, size_t queue, size_t asked,
                       size_t got)
{
    if (kind == FP_READ_SWEEP && p->weighted) {
        /* Short: that queue is empty for now. Full: a backlog, so the queues
         * left out are planned again, each in its own turn. */
        if (got < asked)
            p->eligible[queue] = false;
        else
            all_eligible(p);
    } else if (kind == FP_READ_SWEEP) {
        if (got >= asked) {
            fp_read_plan_restart(p); /* room filled: next time from the first queue */
        } else {
            p->sweep_index = queue + 1;
            p->sweep_got_any |= got > 0;
        }
    } else {
        fp_read_plan_restart(p);
    }
}
