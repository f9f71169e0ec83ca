/* missed.c: the missed policy (missed.h). Counting forward from the last
 * fired tick could take millions of steps after a long downtime (a
 * per-second schedule down for a month), so ticks are counted in a window
 * ending at now, first an hour wide, widened eightfold while it holds fewer
 * ticks than the policy keeps and has not reached the last fired tick. */
#include "schedule/missed.h"

#include <errno.h>
#include <string.h>

#define FIRST_WINDOW_MS (INT64_C(3600) * 1000)
/* Ticks stepped through in one window at most: bounds the work even for
 * a window that a per-second schedule fills. */
#define STEP_MAX 200000

/* Ticks in (from, now], the newest `keep` of them in out (a ring, then
 * ordered); the count of all of them; whether stepping stopped early. */
static uint64_t scan(const fp_sched_when_t *w, int64_t from, int64_t now, size_t keep,
                     fp_sched_due_t *out, bool *cut)
{
    uint64_t count = 0;
    int64_t t = from, ring[FP_SCHED_ALL_MAX];
    *cut = false;
    while (fp_sched_next(w, t, &t) == 0 && t <= now) {
        if (count == STEP_MAX) {
            *cut = true; /* the oldest part of the window is dropped unseen */
            break;
        }
        ring[count % keep] = t;
        count++;
    }
    out->n = count < keep ? (size_t)count : keep;
    size_t first = count < keep ? 0 : (size_t)(count % keep);
    for (size_t i = 0; i < out->n; i++)
        out->ticks[i] = ring[(first + i) % keep];
    return count;
}

void fp_sched_due(const fp_sched_when_t *w, int64_t last_ms, int64_t now_ms, fp_missed_t policy,
                  fp_sched_due_t *out)
{
    size_t keep = policy == FP_MISSED_ALL ? FP_SCHED_ALL_MAX : 1;
    memset(out, 0, sizeof *out);
    if (now_ms <= last_ms)
        return;
    uint64_t count = 0;
    bool cut = false, whole = false;
    for (int64_t width = FIRST_WINDOW_MS;; width *= 8) {
        whole = now_ms - last_ms <= width;
        int64_t from = whole ? last_ms : now_ms - width;
        count = scan(w, from, now_ms, keep, out, &cut);
        if (whole || count >= keep || width > INT64_MAX / 16)
            break;
    }
    /* A window that stepped too far from now keeps ticks that are not the
     * newest; ticks are spaced at least a second apart, so stepping from
     * now - STEP_MAX s would not have been cut. */
    if (cut)
        count = scan(w, now_ms - (int64_t)STEP_MAX * 1000, now_ms, keep, out, &cut);
    out->dropped = count - out->n;
    out->dropped_more = !whole || cut;
    if (policy == FP_MISSED_SKIP && out->n == 1 && now_ms - out->ticks[0] > FP_SCHED_LATE_MS) {
        out->n = 0;
        out->dropped++;
    }
}

static const char *const names[] = {[FP_MISSED_SKIP] = "skip", [FP_MISSED_ONE] = "one",
                                    [FP_MISSED_ALL] = "all"};

int fp_missed_parse(const char *text, fp_missed_t *out)
{
    for (int i = 0; i < 3; i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = (fp_missed_t)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *fp_missed_name(fp_missed_t policy)
{
    return names[policy];
}
