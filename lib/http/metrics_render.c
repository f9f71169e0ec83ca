/* metrics_render.c: the registry (metrics.c) as Prometheus' text format:
 * one family per metric with HELP and TYPE, label values escaped, histogram
 * buckets made cumulative here (they are counted per bucket), queue gauges
 * only for queues sampled. Writes into one growing buffer; a failed append
 * leaves the answer incomplete, which the caller turns into a 500. */
#include "http/metrics_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "base/utf8.h"

/* Appends stop at the first failure; rc keeps it. */
typedef struct writer_s {
    fp_buf_t *out;
    int rc;
} writer_t;

static void put(writer_t *w, const char *s, size_t n)
{
    if (w->rc == 0)
        w->rc = fp_buf_append(w->out, s, n);
}

static void puts_w(writer_t *w, const char *s)
{
    put(w, s, strlen(s));
}

static void put_escaped(writer_t *w, const char *s, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        const char *esc = s[i] == '\\' ? "\\\\" : s[i] == '"' ? "\\\"" : s[i] == '\n' ? "\\n" : NULL;
        if (esc == NULL)
            continue;
        put(w, s + run, i - run);
        put(w, esc, 2);
        run = i + 1;
    }
    put(w, s + run, n - run);
}

/* The shortest decimal text that reads back as v; Prometheus spellings for
 * the special values. */
static void put_double(writer_t *w, double v)
{
    char text[40];
    if (isnan(v)) {
        puts_w(w, "NaN");
        return;
    }
    if (isinf(v)) {
        puts_w(w, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(text, sizeof text, "%.*g", prec, v);
        if (strtod(text, NULL) == v)
            break;
    }
    puts_w(w, text);
}

static void put_u64(writer_t *w, uint64_t v)
{
    char text[24];
    snprintf(text, sizeof text, "%" PRIu64, v);
    puts_w(w, text);
}

static void put_i64(writer_t *w, int64_t v)
{
    char text[24];
    snprintf(text, sizeof text, "%" PRId64, v);
    puts_w(w, text);
}

static void family(writer_t *w, const char *name, const char *type, const char *help)
{
    puts_w(w, "# HELP ");
    puts_w(w, name);
    puts_w(w, " ");
    puts_w(w, help);
    puts_w(w, "\n# TYPE ");
    puts_w(w, name);
    puts_w(w, " ");
    puts_w(w, type);
    puts_w(w, "\n");
}

static void add_label(writer_t *w, const char *label, const char *value, size_t len)
{
    puts_w(w, ",");
    puts_w(w, label);
    puts_w(w, "=\"");
    put_escaped(w, value, len);
    puts_w(w, "\"");
}

static void close_u64(writer_t *w, uint64_t v)
{
    puts_w(w, "} ");
    put_u64(w, v);
    puts_w(w, "\n");
}

typedef struct label_s {
    const char *key, *value;
    size_t len;
} label_t;

/* `name<suffix>{k="v",...` — the caller adds further labels and closes. */
static void open_labels(writer_t *w, const char *name, const char *suffix, const label_t *l,
                        size_t n)
{
    puts_w(w, name);
    puts_w(w, suffix);
    puts_w(w, "{");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            puts_w(w, ",");
        puts_w(w, l[i].key);
        puts_w(w, "=\"");
        put_escaped(w, l[i].value, l[i].len);
        puts_w(w, "\"");
    }
}

/* `name{label="value"` — the caller adds further labels and closes. */
static void open_sample(writer_t *w, const char *name, const char *label, const char *value,
                        size_t len)
{
    const label_t l = {label, value, len};
    open_labels(w, name, "", &l, 1);
}

/* One histogram series: cumulative _bucket samples, _sum and _count. */
static void hist_series(writer_t *w, const char *name, const label_t *l, size_t n,
                        const fp_hist_t *h, const fp_hist_bounds_t *b)
{
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= b->n; i++) {
        char le[40];
        if (i < b->n)
            snprintf(le, sizeof le, "%g", b->le[i]);
        else
            snprintf(le, sizeof le, "+Inf");
        cumulative += h->buckets[i];
        open_labels(w, name, "_bucket", l, n);
        add_label(w, "le", le, strlen(le));
        close_u64(w, cumulative);
    }
    open_labels(w, name, "_sum", l, n);
    puts_w(w, "} ");
    put_double(w, h->sum);
    puts_w(w, "\n");
    open_labels(w, name, "_count", l, n);
    close_u64(w, h->count);
}

static void render_jobs(writer_t *w, const fp_metrics_t *m)
{
    if (m->nsets == 0)
        return;
    family(w, "forkpool_jobs_total", "counter", "Jobs finished, by queue, type and outcome.");
    for (size_t i = 0; i < m->nsets; i++) {
        const set_t *s = &m->sets[i];
        for (int o = 0; o < FP_OUTCOME_COUNT; o++) {
            open_sample(w, "forkpool_jobs_total", "queue", s->queue->s, s->queue->len);
            add_label(w, "type", s->type->s, s->type->len);
            const char *name = fp_metrics_outcome_name((fp_metrics_outcome_t)o);
            add_label(w, "outcome", name, strlen(name));
            close_u64(w, s->outcomes[o]);
        }
    }
    family(w, "forkpool_job_duration_seconds", "histogram",
           "Time jobs ran in a child, by queue and type.");
    for (size_t i = 0; i < m->nsets; i++) {
        const set_t *s = &m->sets[i];
        const label_t labels[] = {{"queue", s->queue->s, s->queue->len},
                                  {"type", s->type->s, s->type->len}};
        hist_series(w, "forkpool_job_duration_seconds", labels, 2, &s->run, &fp_hist_run_bounds);
    }
}

/* Every queue seen keeps its wait histogram: a counter must not vanish. */
static void render_waits(writer_t *w, const fp_metrics_t *m)
{
    if (m->nqueues == 0)
        return;
    family(w, "forkpool_job_wait_seconds", "histogram",
           "Time jobs waited from enqueue (or due time) to their start in a child, by queue.");
    for (size_t i = 0; i < m->nqueues; i++) {
        const queue_gauge_t *g = &m->queues[i];
        const label_t label = {"queue", g->name, strlen(g->name)};
        hist_series(w, "forkpool_job_wait_seconds", &label, 1, &g->wait, &fp_hist_wait_bounds);
    }
}

/* A family of one sample without labels, up to its value. */
static void scalar_head(writer_t *w, const char *name, const char *type, const char *help)
{
    family(w, name, type, help);
    puts_w(w, name);
    puts_w(w, " ");
}

static void scalar_i64(writer_t *w, const char *name, const char *type, const char *help,
                       int64_t v)
{
    scalar_head(w, name, type, help);
    put_i64(w, v);
    puts_w(w, "\n");
}

static void scalar_u64(writer_t *w, const char *name, const char *type, const char *help,
                       uint64_t v)
{
    scalar_head(w, name, type, help);
    put_u64(w, v);
    puts_w(w, "\n");
}

static void render_children(writer_t *w, const fp_metrics_t *m)
{
    family(w, "forkpool_child_restarts_total", "counter", "Children replaced, by reason.");
    for (int r = 0; r < FP_RESTART_COUNT; r++) {
        const char *name = fp_metrics_restart_name((fp_metrics_restart_t)r);
        open_sample(w, "forkpool_child_restarts_total", "reason", name, strlen(name));
        close_u64(w, m->restarts[r]);
    }
    family(w, "forkpool_children", "gauge", "Children by state.");
    for (int c = 0; c < FP_MCHILD_COUNT; c++) {
        const char *name = fp_metrics_child_name((fp_metrics_child_t)c);
        open_sample(w, "forkpool_children", "state", name, strlen(name));
        puts_w(w, "} ");
        put_i64(w, m->gauges.children[c]);
        puts_w(w, "\n");
    }
    scalar_i64(w, "forkpool_children_target", "gauge",
               "Children the pool keeps running (pool.children now).", m->gauges.children_target);
    /* The pairs a decision can make: up for a backlog or the minimum, down
     * for an idle child or the maximum. */
    static const struct { bool up; fp_scale_reason_t r; } pairs[] = {
        {true, FP_SCALE_BACKLOG}, {true, FP_SCALE_MIN}, {false, FP_SCALE_IDLE}, {false, FP_SCALE_MAX}};
    family(w, "forkpool_scale_events_total", "counter",
           "Autoscaling decisions, by direction and reason.");
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        const char *reason = fp_scale_reason_name(pairs[i].r), *dir = pairs[i].up ? "up" : "down";
        const label_t l[2] = {{"direction", dir, strlen(dir)}, {"reason", reason, strlen(reason)}};
        open_labels(w, "forkpool_scale_events_total", "", l, 2);
        close_u64(w, m->scale[pairs[i].up][pairs[i].r]);
    }
}

/* One per-queue gauge family; left out when no queue has a known value. */
static void render_queue_family(writer_t *w, const fp_metrics_t *m, const char *name,
                                const char *help, size_t field)
{
    bool started = false;
    for (size_t i = 0; i < m->nqueues; i++) {
        const queue_gauge_t *g = &m->queues[i];
        const int64_t *ints[] = {&g->v.ready, &g->v.pending, &g->v.delayed, &g->v.dead};
        bool known = g->known && (field < 4 ? *ints[field] >= 0 : g->v.oldest_age_seconds >= 0);
        if (!known)
            continue;
        if (!started)
            family(w, name, "gauge", help);
        started = true;
        open_sample(w, name, "queue", g->name, strlen(g->name));
        puts_w(w, "} ");
        if (field < 4)
            put_i64(w, *ints[field]);
        else
            put_double(w, g->v.oldest_age_seconds);
        puts_w(w, "\n");
    }
}

static void render_daemon(writer_t *w, const fp_metrics_t *m)
{
    const fp_metrics_gauges_t *g = &m->gauges;
    scalar_i64(w, "forkpool_ready", "gauge", "1 while the daemon is ready (/readyz answers 200).",
               g->ready ? 1 : 0);
    scalar_i64(w, "forkpool_redis_connected", "gauge", "1 while the supervisor's Redis link is up.",
               g->redis_connected ? 1 : 0);
    scalar_u64(w, "forkpool_redis_commands_total", "counter",
               "Redis commands the daemon's queue connections sent and got an answer to or lost.",
               g->redis_commands);
    scalar_u64(w, "forkpool_redis_errors_total", "counter",
               "Redis commands answered with an error or lost without an answer.", g->redis_errors);
    scalar_i64(w, "forkpool_jobs_held", "gauge",
               "Jobs the supervisor holds (running or waiting for a child).", g->jobs_held);
    scalar_i64(w, "forkpool_jobs_held_limit", "gauge",
               "Most jobs the supervisor may hold (what the children run at once + prefetch, "
               "the adaptive hold target when prefetch is auto).", g->jobs_held_limit);
    scalar_u64(w, "forkpool_jobs_sent_ahead_total", "counter",
               "Jobs sent to a busy child to wait in its socket behind the one it runs.",
               g->jobs_sent_ahead);
    scalar_u64(w, "forkpool_pulls_total", "counter", "Pulls (XREADGROUP) from Redis.",
               g->pulls_total);
    scalar_u64(w, "forkpool_outcomes_stale_total", "counter",
               "Job outcomes not applied: the entry was no longer pending to this daemon.",
               g->outcomes_stale);
    scalar_u64(w, "forkpool_renewals_lost_total", "counter",
               "Held entries that claim renewal found deleted from the stream or held by "
               "another consumer.",
               g->renewals_lost);
    scalar_u64(w, "forkpool_reload_failures_total", "counter",
               "Reloads undone because their children could not start.",
               g->reload_failures_total);
    if (g->last_pull_age_seconds >= 0) {
        family(w, "forkpool_last_pull_age_seconds", "gauge", "Seconds since the last pull.");
        puts_w(w, "forkpool_last_pull_age_seconds ");
        put_double(w, g->last_pull_age_seconds);
        puts_w(w, "\n");
    }
    if (g->sqlite_file_bytes > 0)
        scalar_i64(w, "forkpool_sqlite_file_bytes", "gauge",
                   "Bytes of the embedded queue's file with its -wal.", g->sqlite_file_bytes);
    if (g->ledger_backlog < 0)
        return;
    scalar_i64(w, "forkpool_ledger_backlog", "gauge",
               "Job outcomes waiting to be written to the ledger.", g->ledger_backlog);
    scalar_i64(w, "forkpool_ledger_failing", "gauge",
               "1 while the ledger's writes fail (it retries).", g->ledger_failing ? 1 : 0);
    family(w, "forkpool_ledger_rows_dropped_total", "counter",
           "Ledger rows dropped because they could not be written (on_error = skip).");
    puts_w(w, "forkpool_ledger_rows_dropped_total ");
    put_u64(w, g->ledger_rows_dropped);
    puts_w(w, "\n");
}

int fp_metrics_render(const fp_metrics_t *m, fp_buf_t *out)
{
    writer_t w = {out, 0};
    render_jobs(&w, m);
    render_children(&w, m);
    render_queue_family(&w, m, "forkpool_queue_ready", "Jobs in the stream not yet delivered.", 0);
    render_queue_family(&w, m, "forkpool_queue_pending",
                        "Jobs delivered to a consumer and not yet acknowledged.", 1);
    render_queue_family(&w, m, "forkpool_queue_delayed", "Jobs scheduled for later.", 2);
    render_queue_family(&w, m, "forkpool_queue_dead", "Jobs in the dead stream.", 3);
    render_queue_family(&w, m, "forkpool_queue_oldest_age_seconds",
                        "Age of the oldest ready job.", 4);
    render_waits(&w, m);
    render_daemon(&w, m);
    return w.rc;
}
