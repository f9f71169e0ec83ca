/* top.h: the deciding parts of `forkpool top`, pure so that tests check
 * them without Redis or a terminal: a sample of what Redis says (queues,
 * the fleet's heartbeat records, dead letters), the in/out rates from two
 * successive samples (top_rate.c), the sort orders (top_sort.c), and the
 * screen laid out as lines of text for a given width and height
 * (top_layout.c). The command (cmd/forkpool/cmd_top.c) only reads Redis
 * into a sample and copies the lines to ncurses or stdout. */
#ifndef FORKPOOL_TOP_H
#define FORKPOOL_TOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue/heartbeat.h"

/* One queue of queues.names as one sample read it. */
typedef struct fp_top_queue_s {
    char name[128];
    long long ready, pending, delayed, dead;
    bool ready_exact;
    long long oldest_age_ms; /* -1: nothing ready */
    long long added, taken;  /* the stream's counters (queue_stats.h); -1 unknown */
    double in_rate, out_rate; /* jobs per second since the previous sample; < 0 unknown */
} fp_top_queue_t;

/* A dead letter, for the dead-letters view. Text is cut to fit. */
typedef struct fp_top_dead_s {
    char queue[128];
    char id[48];
    char type[129];
    char error[512];
    long long attempts;  /* -1 unknown */
    int64_t failed_ms;   /* Unix ms, -1 unknown */
} fp_top_dead_t;

typedef struct fp_top_sample_s {
    int64_t now_ms;   /* Redis' clock */
    int64_t taken_ms; /* this host's monotonic clock when read: rates divide by it */
    fp_top_queue_t *queues;
    size_t nqueues;
    fp_fleet_t fleet;
    fp_top_dead_t *dead; /* read only while the dead-letters view is open */
    size_t ndead;
    long long dead_total; /* over every queue */
} fp_top_sample_t;

/* Frees what the sample owns and zeroes it (top_sample.c). */
void fp_top_sample_clear(fp_top_sample_t *s);

/* A dead entry of queue as the dead-letters view shows it: the job's type
 * from its payload ("?" when it is not a job), the error, attempts and
 * failure time when they are numbers. */
void fp_top_dead_from_entry(const char *queue, const fp_dead_entry_t *e, fp_top_dead_t *out);

/* ---- rates (top_rate.c) ---------------------------------------------------- */

/* Events per second between two readings of a counter that only grows:
 * false (no rate) when either is unknown (< 0), no time passed, or the
 * counter went down (the stream was deleted and made again). */
bool fp_top_rate(long long before, int64_t before_ms, long long after, int64_t after_ms,
                 double *out);

/* Sets cur's queues' in_rate and out_rate from prev (may be NULL: no rates),
 * matching queues by name. */
void fp_top_apply_rates(const fp_top_sample_t *prev, fp_top_sample_t *cur);

/* ---- sorting (top_sort.c) -------------------------------------------------- */

/* The queue column the queues table is sorted by; `s` cycles through them. */
typedef enum fp_top_sort_e {
    FP_TOP_SORT_NAME,
    FP_TOP_SORT_READY,
    FP_TOP_SORT_PENDING,
    FP_TOP_SORT_DELAYED,
    FP_TOP_SORT_DEAD,
    FP_TOP_SORT_OLDEST,
    FP_TOP_SORT_IN,
    FP_TOP_SORT_OUT,
    FP_TOP_SORT_COUNT
} fp_top_sort_t;

fp_top_sort_t fp_top_sort_next(fp_top_sort_t s);
/* The column's heading: "QUEUE", "READY", ... "OUT/s". */
const char *fp_top_sort_name(fp_top_sort_t s);

/* Sorts the queues: by name ascending, every other column largest first
 * (an unknown rate or age last), ties by name, so the order is stable
 * from one refresh to the next. */
void fp_top_sort_queues(fp_top_queue_t *q, size_t n, fp_top_sort_t by);

/* A running job with the daemon that runs it, for the jobs table. */
typedef struct fp_top_running_s {
    const fp_fleet_member_t *member;
    const fp_fleet_job_t *job;
} fp_top_running_t;

/* Every current job of the live members, longest running first (ties by
 * daemon, then child): owned array (free()) in *out, count in *n; -ENOMEM. */
int fp_top_running(const fp_fleet_t *f, fp_top_running_t **out, size_t *n);

/* ---- the screen (top_layout.c) --------------------------------------------- */

/* How a line is drawn: plain, a table's heading (reverse video), a
 * section title or the title bar (bold), a warning (Redis unreachable). */
typedef enum fp_top_attr_e { FP_TOP_PLAIN, FP_TOP_HEADING, FP_TOP_TITLE, FP_TOP_WARN } fp_top_attr_t;

typedef struct fp_top_view_s {
    const fp_top_sample_t *sample; /* the last good one; NULL before the first */
    const char *error;  /* why the last read failed (shown, retrying), NULL when it did not */
    const char *where;  /* what is watched: "prefix fp, group forkpool" */
    const char *source; /* what is read, in the status line: NULL for Redis, else
                         * e.g. "the queue file" (the embedded queue) */
    fp_top_sort_t sort;
    bool dead_view;     /* the dead-letters list instead of the main view */
    bool help;          /* the help box over the view */
    int64_t interval_ms;
} fp_top_view_t;

/* Laid-out text: at most height lines, each at most width columns (UTF-8;
 * nothing from Redis can drive the terminal), with their attributes. */
typedef struct fp_top_screen_s {
    size_t width, height;
    char **lines;
    fp_top_attr_t *attrs;
    size_t n;
} fp_top_screen_t;

/* The smallest screen the view fits. */
#define FP_TOP_MIN_WIDTH 60
#define FP_TOP_MIN_HEIGHT 10

/* Lays v out on a width x height screen (height SIZE_MAX: as long as the
 * text is, for the one-shot text mode). A screen smaller than
 * FP_TOP_MIN_WIDTH x FP_TOP_MIN_HEIGHT gets one line saying so. Tables cut
 * to the height end in "... N more". *out is cleared first; 0 or -ENOMEM
 * (fp_top_screen_clear frees it either way). */
int fp_top_layout(const fp_top_view_t *v, size_t width, size_t height, fp_top_screen_t *out);

void fp_top_screen_clear(fp_top_screen_t *s);

#endif
