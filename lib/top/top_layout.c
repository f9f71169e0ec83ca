/* top_layout.c: `forkpool top`'s screen as lines for a width and a height:
 * a title bar, a status line (the fleet's totals, or why Redis could not
 * be read), then the daemons, the queues and the running jobs, or the
 * dead letters instead; the help box over either. When the tables do not
 * fit, each gets a fair share of the height and says how many rows it
 * left out, so a long table never hides the others. */
#include "top/top.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/units.h"
#include "top/top_table.h"

#define SECTIONS 3
#define HELP_LINES 7

static void format_rate(double r, char *out, size_t cap)
{
    if (r < 0)
        snprintf(out, cap, "-");
    else
        snprintf(out, cap, "%.1f", r);
}

/* "05:12:01" (UTC) or, with date, "2026-12-07 05:12:01"; "-" when unknown. */
static void format_clock(int64_t unix_ms, bool date, char *out, size_t cap)
{
    time_t secs = (time_t)(unix_ms / 1000);
    struct tm tm;
    if (unix_ms < 0 || gmtime_r(&secs, &tm) == NULL ||
        strftime(out, cap, date ? "%Y-%m-%d %H:%M:%S" : "%H:%M:%S", &tm) == 0)
        snprintf(out, cap, "-");
}

/* The name, host and pid in a gone member's id, NAME@HOST:PID; each buffer
 * holds ID_PART bytes. */
#define ID_PART 256
static void split_id(const char *id, char *name, char *host, char *pid)
{
    const char *at = strrchr(id, '@'), *colon = at != NULL ? strrchr(at, ':') : NULL;
    if (at == NULL || colon == NULL) {
        snprintf(name, ID_PART, "%s", id);
        host[0] = pid[0] = '\0';
        return;
    }
    snprintf(name, ID_PART, "%.*s", (int)(at - id), id);
    snprintf(host, ID_PART, "%.*s", (int)(colon - at - 1), at + 1);
    snprintf(pid, ID_PART, "%s", colon + 1);
}

/* ---- the tables -------------------------------------------------------------- */

static const fp_top_col_t daemon_cols[] = {
    {"DAEMON", false, 24}, {"HOST", false, 20}, {"PID", true, 10},    {"STATE", false, 8},
    {"BUSY", true, 11},    {"DONE", true, 12},  {"FAILED", true, 12}, {"AGE", false, 0},
};

static int daemon_row(fp_top_table_t *t, const fp_fleet_member_t *m, int64_t now_ms)
{
    char name[ID_PART], host[ID_PART], pid[ID_PART], busy[48], done[24],
        failed[24], age[48];
    const fp_fleet_record_t *r = m->record;
    if (m->status != FP_FLEET_LIVE || r == NULL) {
        split_id(m->id, name, host, pid);
        char ago[32];
        fp_units_format_age(now_ms - m->last_seen_ms, ago, sizeof ago);
        snprintf(age, sizeof age, "seen %s ago", ago);
        const char *state = m->status == FP_FLEET_GONE ? "gone" : "?";
        const char *cells[] = {name, host, pid, state, "-", "-", "-", age};
        return fp_top_table_add(t, cells);
    }
    snprintf(pid, sizeof pid, "%lld", r->pid);
    snprintf(busy, sizeof busy, "%lld/%lld", r->children_busy, r->children_total);
    snprintf(done, sizeof done, "%lld", r->jobs_done);
    snprintf(failed, sizeof failed, "%lld", r->jobs_failed);
    fp_units_format_age(now_ms - r->started_ms, age, sizeof age);
    const char *cells[] = {r->name, r->host, pid, r->state, busy, done, failed, age};
    return fp_top_table_add(t, cells);
}

static int daemons_table(const fp_top_sample_t *s, fp_top_table_t *t)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < s->fleet.n; i++)
        rc = daemon_row(t, &s->fleet.members[i], s->fleet.now_ms);
    return rc;
}

/* The queue columns in fp_top_sort_t's order; the sorted one's heading is
 * marked with '*' (queue_heads). */
static const fp_top_col_t queue_cols_base[] = {
    {"QUEUE", false, 24}, {"READY", true, 12},  {"PENDING", true, 12}, {"DELAYED", true, 12},
    {"DEAD", true, 12},   {"OLDEST", true, 8}, {"IN/s", true, 9},     {"OUT/s", false, 0},
};

static int queue_row(fp_top_table_t *t, const fp_top_queue_t *q)
{
    char ready[32], pending[24], delayed[24], dead[24], oldest[32], in[32], out[32];
    snprintf(ready, sizeof ready, "%s%lld", q->ready_exact ? "" : "~", q->ready);
    snprintf(pending, sizeof pending, "%lld", q->pending);
    snprintf(delayed, sizeof delayed, "%lld", q->delayed);
    snprintf(dead, sizeof dead, "%lld", q->dead);
    fp_units_format_age(q->oldest_age_ms, oldest, sizeof oldest);
    format_rate(q->in_rate, in, sizeof in);
    format_rate(q->out_rate, out, sizeof out);
    const char *cells[] = {q->name, ready, pending, delayed, dead, oldest, in, out};
    return fp_top_table_add(t, cells);
}

static int queues_table(const fp_top_sample_t *s, fp_top_sort_t by, fp_top_table_t *t)
{
    fp_top_queue_t *q = s->nqueues > 0 ? malloc(s->nqueues * sizeof *q) : NULL;
    if (s->nqueues > 0 && q == NULL)
        return -ENOMEM;
    if (q != NULL)
        memcpy(q, s->queues, s->nqueues * sizeof *q);
    fp_top_sort_queues(q, s->nqueues, by);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < s->nqueues; i++)
        rc = queue_row(t, &q[i]);
    free(q);
    return rc;
}

static const fp_top_col_t job_cols[] = {
    {"JOB TYPE", false, 24}, {"ID", false, 24},   {"QUEUE", false, 16},  {"ENTRY", false, 24},
    {"DAEMON", false, 24},   {"CHILD", true, 5},  {"RUNNING", false, 0},
};

/* The running jobs; *extra: those the records count but do not list. */
static int jobs_table(const fp_top_sample_t *s, fp_top_table_t *t, long long *extra)
{
    fp_top_running_t *run = NULL;
    size_t n = 0;
    int rc = fp_top_running(&s->fleet, &run, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char child[16], running[32];
        snprintf(child, sizeof child, "%d", run[i].job->child);
        fp_units_format_age(s->fleet.now_ms - run[i].job->started_ms, running, sizeof running);
        const fp_fleet_job_t *j = run[i].job;
        const char *cells[] = {j->type, j->id[0] != '\0' ? j->id : "-", j->queue, j->entry_id,
                               run[i].member->record->name, child, running};
        rc = fp_top_table_add(t, cells);
    }
    free(run);
    *extra = 0;
    for (size_t i = 0; i < s->fleet.n; i++)
        if (s->fleet.members[i].status == FP_FLEET_LIVE && s->fleet.members[i].record != NULL)
            *extra += s->fleet.members[i].record->jobs_more;
    return rc;
}

static const fp_top_col_t dead_cols[] = {
    {"QUEUE", false, 16},    {"ENTRY ID", false, 24}, {"FAILED AT (UTC)", false, 19},
    {"ATTEMPTS", true, 8},   {"JOB TYPE", false, 24}, {"ERROR", false, 0},
};

static int dead_table(const fp_top_sample_t *s, fp_top_table_t *t)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < s->ndead; i++) {
        const fp_top_dead_t *d = &s->dead[i];
        char when[32], attempts[24];
        format_clock(d->failed_ms, true, when, sizeof when);
        snprintf(attempts, sizeof attempts, d->attempts >= 0 ? "%lld" : "-", d->attempts);
        const char *cells[] = {d->queue, d->id, when, attempts, d->type, d->error};
        rc = fp_top_table_add(t, cells);
    }
    return rc;
}

/* ---- the bars ------------------------------------------------------------------ */

static int title_bar(const fp_top_view_t *v, fp_top_screen_t *scr)
{
    char clock[32] = "--:--:--", every[32];
    if (v->sample != NULL)
        format_clock(v->sample->now_ms, false, clock, sizeof clock);
    fp_units_format_duration(v->interval_ms, every, sizeof every);
    return fp_top_screen_addf(scr, FP_TOP_TITLE,
                              "forkpool top - %s - %s UTC - every %s - sort %s - %s", v->where,
                              clock, every, fp_top_sort_name(v->sort),
                              v->dead_view ? "d back, ? help" : "? help");
}

static int status_line(const fp_top_view_t *v, fp_top_screen_t *scr)
{
    if (v->error != NULL) {
        char clock[32] = "";
        if (v->sample != NULL)
            format_clock(v->sample->now_ms, false, clock, sizeof clock);
        return fp_top_screen_addf(scr, FP_TOP_WARN, "%s %s: %s; retrying%s%s%s",
                                  v->source != NULL ? v->source : "Redis",
                                  v->source != NULL ? "unreadable" : "unreachable", v->error,
                                  clock[0] != '\0' ? " (figures below from " : "", clock,
                                  clock[0] != '\0' ? " UTC)" : "");
    }
    if (v->sample == NULL)
        return fp_top_screen_addf(scr, FP_TOP_PLAIN, "reading %s...",
                                  v->source != NULL ? v->source : "Redis");
    long long live = 0, gone = 0, busy = 0, total = 0, done = 0, failed = 0;
    for (size_t i = 0; i < v->sample->fleet.n; i++) {
        const fp_fleet_member_t *m = &v->sample->fleet.members[i];
        if (m->status != FP_FLEET_LIVE || m->record == NULL) {
            gone++;
            continue;
        }
        live++;
        busy += m->record->children_busy;
        total += m->record->children_total;
        done += m->record->jobs_done;
        failed += m->record->jobs_failed;
    }
    return fp_top_screen_addf(scr, FP_TOP_PLAIN,
                              "daemons %lld live, %lld gone - children %lld/%lld busy - jobs "
                              "%lld done, %lld failed - %lld dead letters",
                              live, gone, busy, total, done, failed, v->sample->dead_total);
}

/* ---- fitting -------------------------------------------------------------------- */

/* Shares avail lines among n sections wanting need[i] each: those wanting
 * less than an even share get what they want, the rest split what is left;
 * each gets at least 2 (a heading and a "... more" line). */
static void share(size_t avail, const size_t *need, size_t n, size_t *got)
{
    bool done[SECTIONS] = {false};
    size_t left = n;
    for (bool changed = true; changed && left > 0;) {
        changed = false;
        for (size_t i = 0; i < n; i++) {
            if (!done[i] && need[i] <= avail / left) {
                got[i] = need[i];
                avail -= need[i];
                done[i] = true;
                left--;
                changed = true;
            }
        }
    }
    for (size_t i = 0; i < n && left > 0; i++) {
        if (done[i])
            continue;
        got[i] = left == 1 ? avail : avail / left;
        got[i] = got[i] < 2 ? 2 : got[i];
        avail = avail > got[i] ? avail - got[i] : 0;
        left--;
    }
}

static const char *const empty_text[SECTIONS] = {
    "  no daemon keeps a heartbeat on this Redis",
    "  no queues configured",
    "  no job running",
};

/* A table as a section of lines lines (0: unbounded). */
static int write_section(const fp_top_table_t *t, long long extra, size_t i, size_t lines,
                         fp_top_screen_t *scr)
{
    if (t->nrows == 0 && extra == 0) {
        fp_top_table_t heading = {.cols = t->cols, .ncols = t->ncols};
        int rc = fp_top_table_write(&heading, scr, 0, 0);
        return rc == 0 ? fp_top_screen_add(scr, FP_TOP_PLAIN, empty_text[i]) : rc;
    }
    return fp_top_table_write(t, scr, lines > 1 ? lines - 1 : 0, extra);
}

static int main_view(const fp_top_view_t *v, fp_top_screen_t *scr)
{
    fp_top_table_t t[SECTIONS] = {
        {.cols = daemon_cols, .ncols = sizeof daemon_cols / sizeof daemon_cols[0]},
        {.cols = queue_cols_base, .ncols = sizeof queue_cols_base / sizeof queue_cols_base[0]},
        {.cols = job_cols, .ncols = sizeof job_cols / sizeof job_cols[0]},
    };
    fp_top_col_t qcols[sizeof queue_cols_base / sizeof queue_cols_base[0]];
    char marked[16];
    memcpy(qcols, queue_cols_base, sizeof qcols);
    snprintf(marked, sizeof marked, "%s*", qcols[v->sort].head);
    qcols[v->sort].head = marked;
    t[1].cols = qcols;
    long long extra[SECTIONS] = {0};
    int rc = daemons_table(v->sample, &t[0]);
    rc = rc == 0 ? queues_table(v->sample, v->sort, &t[1]) : rc;
    rc = rc == 0 ? jobs_table(v->sample, &t[2], &extra[2]) : rc;
    size_t need[SECTIONS], got[SECTIONS], sum = 0;
    for (size_t i = 0; i < SECTIONS; i++) {
        need[i] = 1 + (t[i].nrows > 0 ? t[i].nrows : 1) + (extra[i] > 0);
        sum += need[i];
    }
    size_t avail = scr->height - scr->n;
    bool spaced = sum + SECTIONS <= avail; /* a blank line before each table */
    if (spaced || scr->height == SIZE_MAX)
        memcpy(got, need, sizeof got);
    else
        share(avail, need, SECTIONS, got);
    for (size_t i = 0; rc == 0 && i < SECTIONS; i++) {
        if (spaced)
            rc = fp_top_screen_add(scr, FP_TOP_PLAIN, "");
        rc = rc == 0 ? write_section(&t[i], extra[i], i, got[i], scr) : rc;
    }
    for (size_t i = 0; i < SECTIONS; i++)
        fp_top_table_clear(&t[i]);
    return rc;
}

static int dead_view(const fp_top_view_t *v, fp_top_screen_t *scr)
{
    fp_top_table_t t = {.cols = dead_cols, .ncols = sizeof dead_cols / sizeof dead_cols[0]};
    int rc = fp_top_screen_add(scr, FP_TOP_PLAIN, "");
    rc = rc == 0 ? fp_top_screen_addf(scr, FP_TOP_TITLE,
                                      "DEAD LETTERS - %lld in all, the oldest %zu shown - d: back",
                                      v->sample->dead_total, v->sample->ndead)
                 : rc;
    rc = rc == 0 ? dead_table(v->sample, &t) : rc;
    long long extra = v->sample->dead_total - (long long)v->sample->ndead;
    if (rc == 0 && t.nrows == 0) {
        rc = fp_top_table_write(&t, scr, 0, 0);
        rc = rc == 0 ? fp_top_screen_add(scr, FP_TOP_PLAIN, "  no dead letters") : rc;
    } else if (rc == 0) {
        size_t rows = scr->height == SIZE_MAX ? 0 : scr->height - scr->n - 1;
        rc = fp_top_table_write(&t, scr, rows, extra > 0 ? extra : 0);
    }
    fp_top_table_clear(&t);
    return rc;
}

/* The keys, in a box over the view (any key closes it). */
static int help_box(const fp_top_view_t *v, fp_top_screen_t *scr)
{
    char every[32], sort[64], refresh[64], lines[HELP_LINES][64];
    fp_units_format_duration(v->interval_ms, every, sizeof every);
    snprintf(sort, sizeof sort, "s  sort queues by the next column (%s)",
             fp_top_sort_name(fp_top_sort_next(v->sort)));
    snprintf(refresh, sizeof refresh, "figures refresh every %s", every);
    const char *text[HELP_LINES] = {
        "q  quit",
        sort,
        "d  dead letters (with their error) / back",
        "?  this help; any key closes it",
        refresh,
        "IN/s, OUT/s: jobs added to / taken from",
        "the queue per second since the last sample",
    };
    const char *box[HELP_LINES + 2];
    box[0] = "+- forkpool top: keys -----------------------+";
    for (size_t i = 0; i < HELP_LINES; i++) {
        snprintf(lines[i], sizeof lines[i], "| %-42s |", text[i]);
        box[i + 1] = lines[i];
    }
    box[HELP_LINES + 1] = "+--------------------------------------------+";
    return fp_top_screen_overlay(scr, box, HELP_LINES + 2, strlen(box[0]));
}

int fp_top_layout(const fp_top_view_t *v, size_t width, size_t height, fp_top_screen_t *out)
{
    memset(out, 0, sizeof *out);
    out->width = width;
    out->height = height;
    if (width < FP_TOP_MIN_WIDTH || height < FP_TOP_MIN_HEIGHT)
        return fp_top_screen_addf(out, FP_TOP_WARN,
                                  "terminal too small: %zux%zu, top needs at least %dx%d", width,
                                  height, FP_TOP_MIN_WIDTH, FP_TOP_MIN_HEIGHT);
    int rc = title_bar(v, out);
    rc = rc == 0 ? status_line(v, out) : rc;
    if (rc == 0 && v->sample != NULL)
        rc = v->dead_view ? dead_view(v, out) : main_view(v, out);
    if (rc == 0 && v->help)
        rc = help_box(v, out);
    return rc;
}
