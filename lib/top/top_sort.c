/* top_sort.c: the orders of `forkpool top`'s tables. The queues table
 * follows the column the user picked with `s`; the running jobs are always
 * longest running first, because a stuck job is what an operator looks for.
 * Every order breaks ties by name, so rows do not jump between refreshes. */
#include "top/top.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const sort_names[FP_TOP_SORT_COUNT] = {
    "QUEUE", "READY", "PENDING", "DELAYED", "DEAD", "OLDEST", "IN/s", "OUT/s",
};

fp_top_sort_t fp_top_sort_next(fp_top_sort_t s)
{
    return (fp_top_sort_t)(((int)s + 1) % FP_TOP_SORT_COUNT);
}

const char *fp_top_sort_name(fp_top_sort_t s)
{
    return (int)s >= 0 && s < FP_TOP_SORT_COUNT ? sort_names[s] : "?";
}

static double sort_value(const fp_top_queue_t *q, fp_top_sort_t by)
{
    switch (by) {
    case FP_TOP_SORT_READY: return (double)q->ready;
    case FP_TOP_SORT_PENDING: return (double)q->pending;
    case FP_TOP_SORT_DELAYED: return (double)q->delayed;
    case FP_TOP_SORT_DEAD: return (double)q->dead;
    case FP_TOP_SORT_OLDEST: return (double)q->oldest_age_ms;
    case FP_TOP_SORT_IN: return q->in_rate;
    case FP_TOP_SORT_OUT: return q->out_rate;
    default: return 0;
    }
}

/* qsort has no context argument: the column travels in a static, which is
 * fine for a single-threaded command. */
static fp_top_sort_t sort_by;

static int compare_queues(const void *a, const void *b)
{
    const fp_top_queue_t *x = a, *y = b;
    if (sort_by != FP_TOP_SORT_NAME) {
        double vx = sort_value(x, sort_by), vy = sort_value(y, sort_by);
        if (vx != vy) /* unknown values are negative: last */
            return vx > vy ? -1 : 1;
    }
    return strcmp(x->name, y->name);
}

void fp_top_sort_queues(fp_top_queue_t *q, size_t n, fp_top_sort_t by)
{
    sort_by = by;
    if (n > 1)
        qsort(q, n, sizeof *q, compare_queues);
}

static int compare_running(const void *a, const void *b)
{
    const fp_top_running_t *x = a, *y = b;
    if (x->job->started_ms != y->job->started_ms)
        return x->job->started_ms < y->job->started_ms ? -1 : 1;
    int by_daemon = strcmp(x->member->id, y->member->id);
    if (by_daemon != 0)
        return by_daemon;
    return (x->job->child > y->job->child) - (x->job->child < y->job->child);
}

int fp_top_running(const fp_fleet_t *f, fp_top_running_t **out, size_t *n)
{
    size_t total = 0;
    *out = NULL;
    *n = 0;
    for (size_t i = 0; i < f->n; i++)
        if (f->members[i].status == FP_FLEET_LIVE && f->members[i].record != NULL)
            total += f->members[i].record->njobs;
    if (total == 0)
        return 0;
    if ((*out = calloc(total, sizeof **out)) == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < f->n; i++) {
        const fp_fleet_member_t *m = &f->members[i];
        if (m->status != FP_FLEET_LIVE || m->record == NULL)
            continue;
        for (size_t k = 0; k < m->record->njobs; k++)
            (*out)[(*n)++] = (fp_top_running_t){m, &m->record->jobs[k]};
    }
    qsort(*out, *n, sizeof **out, compare_running);
    return 0;
}
