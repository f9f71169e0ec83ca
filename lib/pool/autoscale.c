/* autoscale.c: the scale decision and the children range parser (see
 * autoscale.h). Pure. */
#include "pool/autoscale.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

const char *fp_scale_reason_name(fp_scale_reason_t r)
{
    static const char *const names[FP_SCALE_REASONS] = {
        [FP_SCALE_STEADY] = "steady",          [FP_SCALE_BACKLOG] = "backlog",
        [FP_SCALE_IDLE] = "idle",              [FP_SCALE_MIN] = "min",
        [FP_SCALE_MAX] = "max",                [FP_SCALE_MEMORY_TOTAL] = "max_memory_total",
        [FP_SCALE_HOST_MEMORY] = "min_host_available",
    };
    return (unsigned)r < FP_SCALE_REASONS ? names[r] : NULL;
}

static fp_scale_decision_t decision(size_t target, fp_scale_dir_t dir, fp_scale_reason_t reason)
{
    return (fp_scale_decision_t){target, dir, reason};
}

/* A memory guard that holds growth back, or STEADY. */
static fp_scale_reason_t memory_guard(const fp_scale_input_t *in)
{
    if (in->max_memory_total > 0 && in->rss_total_bytes >= in->max_memory_total)
        return FP_SCALE_MEMORY_TOTAL;
    if (in->min_host_available > 0 && in->host_available_bytes >= 0 &&
        in->host_available_bytes < in->min_host_available)
        return FP_SCALE_HOST_MEMORY;
    return FP_SCALE_STEADY;
}

/* Children that could take a job now and have none. A child starting
 * counts as busy: with a backlog it is busy as soon as it is ready, and
 * counting it idle would reset the spawn rate between two steps. */
static bool backlogged(const fp_scale_input_t *in)
{
    return in->busy + in->starting >= in->live && in->live > 0 && in->oldest_ready_ms >= 0 &&
           in->oldest_ready_ms >= in->scale_up_after_ms;
}

static fp_scale_decision_t grow(const fp_scale_input_t *in, fp_scale_state_t *st)
{
    fp_scale_reason_t guard = memory_guard(in);
    if (guard != FP_SCALE_STEADY)
        return decision(in->target, FP_SCALE_NONE, guard);
    if (st->last_up_ms != 0 && in->now_ms - st->last_up_ms < in->scale_up_after_ms)
        return decision(in->target, FP_SCALE_NONE, FP_SCALE_STEADY);
    size_t rate = st->rate == 0 ? 1 : st->rate;
    size_t room = in->max - in->target;
    size_t step = rate < room ? rate : room;
    st->rate = rate * 2 < in->max ? rate * 2 : in->max;
    st->last_up_ms = in->now_ms;
    return decision(in->target + step, FP_SCALE_UP, FP_SCALE_BACKLOG);
}

fp_scale_decision_t fp_scale_decide(const fp_scale_input_t *in, fp_scale_state_t *st)
{
    if (in->target < in->min)
        return decision(in->min, FP_SCALE_UP, FP_SCALE_MIN);
    if (in->target > in->max)
        return decision(in->max, FP_SCALE_DOWN, FP_SCALE_MAX);
    if (backlogged(in)) {
        if (in->target < in->max)
            return grow(in, st);
        return decision(in->target, FP_SCALE_NONE, FP_SCALE_STEADY);
    }
    st->rate = 1;
    st->last_up_ms = 0;
    if (in->stopping == 0 && in->target > in->min && in->longest_idle_ms >= 0 &&
        in->longest_idle_ms >= in->idle_timeout_ms)
        return decision(in->target - 1, FP_SCALE_DOWN, FP_SCALE_IDLE);
    return decision(in->target, FP_SCALE_NONE, FP_SCALE_STEADY);
}

/* One bound: blanks, digits, blanks; *end after them. */
static int parse_bound(const char *s, const char **end, int64_t limit, int64_t *out)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    int64_t v = 0;
    for (; isdigit((unsigned char)*s); s++) {
        v = v * 10 + (*s - '0');
        if (v > limit)
            return -ERANGE;
    }
    while (*s == ' ' || *s == '\t')
        s++;
    *end = s;
    *out = v;
    return 0;
}

int fp_scale_parse_range(const char *text, int64_t limit, int64_t *min, int64_t *max, char *why,
                         size_t size)
{
    const char *p = text;
    int64_t lo = 0, hi = 0;
    int rc = parse_bound(p, &p, limit, &lo);
    if (rc == 0 && (p[0] != '.' || p[1] != '.'))
        rc = -EINVAL;
    if (rc == 0)
        rc = parse_bound(p + 2, &p, limit, &hi);
    if (rc == 0 && *p != '\0')
        rc = -EINVAL;
    if (rc == -EINVAL) {
        snprintf(why, size, "must be an integer or a range \"MIN..MAX\" such as \"2..16\"");
        return -EINVAL;
    }
    if (rc < 0 || lo < 1) {
        snprintf(why, size, "range bounds must be between 1 and %lld", (long long)limit);
        return -EINVAL;
    }
    if (lo > hi) {
        snprintf(why, size, "range \"%lld..%lld\" has its minimum above its maximum",
                 (long long)lo, (long long)hi);
        return -EINVAL;
    }
    *min = lo;
    *max = hi;
    return 0;
}
