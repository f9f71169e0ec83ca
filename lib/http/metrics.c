/* metrics.c: the supervisor's metrics registry and its Prometheus text
 * rendering. Job counters live in one record per (queue, type) label set
 * holding all six outcome counters and the duration histogram, so the hot
 * path (fp_metrics_job_done) is two string hashes, one probe of an
 * open-addressing table and a few increments: no allocation once a label
 * set exists. Everything that can grow is sized at creation (the set array
 * and both hash tables); only a new label set's strings are allocated, once
 * each, through an intern table so that a queue name shared by many types is
 * stored once. When the bound is reached new types fold into "other", and a
 * catch-all ("other", "other") set is always available, so counting never
 * fails even when memory does. Histogram buckets are stored per bucket and
 * made cumulative only while rendering. */
#include "http/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "base/utf8.h"

/* Label sets "(queue, other)" allowed past max_label_sets, so that a few
 * queues each keep their own overflow bucket. */
#define OVERFLOW_SETS 64
/* Caps max_label_sets so the table sizes below cannot overflow. */
#define MAX_LABEL_SETS (1u << 20)

static const char *const outcome_names[FP_OUTCOME_COUNT] = {"ok",      "failed",  "retried",
                                                            "dead",    "timeout", "crashed",
                                                            "cancelled"};
static const char *const restart_names[FP_RESTART_COUNT] = {
    "crash", "timeout", "max_jobs", "max_memory", "init_failed", "reload"};
static const char *const child_names[FP_MCHILD_COUNT] = {"starting", "idle", "busy", "stopping"};

/* An interned string: allocated once, never moved, freed with the registry. */
typedef struct str_s {
    uint64_t hash;
    size_t len;
    char s[];
} str_t;

typedef struct set_s {
    const str_t *queue, *type;
    uint64_t hash; /* of (queue, type), for probing */
    uint64_t outcomes[FP_OUTCOME_COUNT];
    fp_hist_t run;
} set_t;

typedef struct queue_gauge_s {
    char *name;
    bool known;
    fp_metrics_queue_t v;
    fp_hist_t wait; /* a counter: kept when a reload drops the queue */
} queue_gauge_t;

struct fp_metrics_s {
    size_t max_sets;  /* the bound before folding into "other" */
    size_t cap_sets;  /* max_sets + OVERFLOW_SETS + 1 (the catch-all) */
    set_t *sets;      /* in the order first seen */
    size_t nsets;
    uint32_t *slots;  /* set index + 1, 0 = empty; power-of-two size */
    size_t slot_mask;
    str_t **strs;     /* intern table; power-of-two size */
    size_t str_mask;
    size_t nstrs;
    const str_t *other;
    uint64_t restarts[FP_RESTART_COUNT];
    uint64_t scale[2][FP_SCALE_REASONS]; /* [down, up][reason] */
    fp_metrics_gauges_t gauges;
    queue_gauge_t queues[FP_METRICS_MAX_QUEUES];
    size_t nqueues;
    int64_t redis_offset_ms; /* Redis' clock minus the daemon's */
};

const char *fp_metrics_outcome_name(fp_metrics_outcome_t o)
{
    return (unsigned)o < FP_OUTCOME_COUNT ? outcome_names[o] : NULL;
}

const char *fp_metrics_restart_name(fp_metrics_restart_t r)
{
    return (unsigned)r < FP_RESTART_COUNT ? restart_names[r] : NULL;
}

const char *fp_metrics_child_name(fp_metrics_child_t s)
{
    return (unsigned)s < FP_MCHILD_COUNT ? child_names[s] : NULL;
}

int fp_metrics_outcome_parse(const char *name)
{
    for (int i = 0; name != NULL && i < FP_OUTCOME_COUNT; i++)
        if (strcmp(name, outcome_names[i]) == 0)
            return i;
    return -1;
}

static uint64_t hash_pair(uint64_t hq, uint64_t ht)
{
    return (hq * 0x9e3779b97f4a7c15ULL) ^ (ht + 0x7f4a7c159e3779b9ULL + (hq << 6) + (hq >> 2));
}

static size_t pow2_at_least(size_t n)
{
    size_t p = 16;
    while (p < n)
        p <<= 1;
    return p;
}

/* The interned copy of s, creating it (the only allocation of a new label
 * set); NULL on ENOMEM. The table has room for two strings per set at load
 * <= 1/2. */
static const str_t *intern(fp_metrics_t *m, const char *s, size_t len, uint64_t h)
{
    size_t i = (size_t)h & m->str_mask;
    for (; m->strs[i] != NULL; i = (i + 1) & m->str_mask) {
        const str_t *e = m->strs[i];
        if (e->hash == h && e->len == len && memcmp(e->s, s, len) == 0)
            return e;
    }
    /* Strings left by a set whose creation failed half-way (ENOMEM) are the
     * only ones beyond two per set; refusing past half full keeps probing
     * finite even then. */
    if (m->nstrs >= (m->str_mask + 1) / 2)
        return NULL;
    str_t *e = malloc(sizeof *e + len + 1);
    if (e == NULL)
        return NULL;
    m->nstrs++;
    e->hash = h;
    e->len = len;
    memcpy(e->s, s, len);
    e->s[len] = '\0';
    m->strs[i] = e;
    return e;
}

int fp_metrics_new(size_t max_label_sets, fp_metrics_t **out)
{
    *out = NULL;
    if (max_label_sets == 0)
        max_label_sets = FP_METRICS_DEFAULT_LABEL_SETS;
    if (max_label_sets > MAX_LABEL_SETS)
        return -EINVAL;
    fp_metrics_t *m = calloc(1, sizeof *m);
    if (m == NULL)
        return -ENOMEM;
    m->max_sets = max_label_sets;
    m->cap_sets = max_label_sets + OVERFLOW_SETS + 1;
    size_t nslots = pow2_at_least(m->cap_sets * 2);
    size_t nstrs = pow2_at_least((m->cap_sets * 2 + 1) * 2);
    m->slot_mask = nslots - 1;
    m->str_mask = nstrs - 1;
    m->sets = calloc(m->cap_sets, sizeof *m->sets);
    m->slots = calloc(nslots, sizeof *m->slots);
    m->strs = calloc(nstrs, sizeof *m->strs);
    if (m->sets == NULL || m->slots == NULL || m->strs == NULL ||
        (m->other = intern(m, FP_METRICS_OTHER, strlen(FP_METRICS_OTHER),
                           fp_text_hash(FP_METRICS_OTHER, strlen(FP_METRICS_OTHER)))) == NULL) {
        fp_metrics_free(m);
        return -ENOMEM;
    }
    m->gauges.last_pull_age_seconds = -1;
    m->gauges.ledger_backlog = -1;
    *out = m;
    return 0;
}

void fp_metrics_free(fp_metrics_t *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; m->strs != NULL && i <= m->str_mask; i++)
        free(m->strs[i]);
    for (size_t i = 0; i < m->nqueues; i++)
        free(m->queues[i].name);
    free(m->strs);
    free(m->slots);
    free(m->sets);
    free(m);
}

/* A label value kept as given: non-empty, bounded, valid UTF-8 (Prometheus
 * requires it). Anything else is counted as "other". */
static bool label_ok(const char *s, size_t *len)
{
    if (s == NULL)
        return false;
    size_t n = strnlen(s, FP_METRICS_LABEL_MAX + 1);
    *len = n;
    return n > 0 && n <= FP_METRICS_LABEL_MAX && fp_utf8_valid(s, n);
}

typedef struct label_key_s {
    const char *q, *t;
    size_t ql, tl;
    uint64_t qh, th, h;
} label_key_t;

static void key_make(label_key_t *k, const char *q, size_t ql, const char *t, size_t tl)
{
    k->q = q;
    k->ql = ql;
    k->t = t;
    k->tl = tl;
    k->qh = fp_text_hash(q, ql);
    k->th = fp_text_hash(t, tl);
    k->h = hash_pair(k->qh, k->th);
}

/* The set for k, or NULL; *slot receives where it would go. */
static set_t *find(const fp_metrics_t *m, const label_key_t *k, size_t *slot)
{
    size_t i = (size_t)k->h & m->slot_mask;
    for (; m->slots[i] != 0; i = (i + 1) & m->slot_mask) {
        set_t *s = &m->sets[m->slots[i] - 1];
        if (s->hash == k->h && s->queue->len == k->ql && s->type->len == k->tl &&
            memcmp(s->queue->s, k->q, k->ql) == 0 && memcmp(s->type->s, k->t, k->tl) == 0)
            return s;
    }
    *slot = i;
    return NULL;
}

/* A new set at slot (from find); NULL on ENOMEM. The caller has checked
 * that nsets < cap_sets. */
static set_t *create(fp_metrics_t *m, const label_key_t *k, size_t slot)
{
    const str_t *q = intern(m, k->q, k->ql, k->qh);
    const str_t *t = q != NULL ? intern(m, k->t, k->tl, k->th) : NULL;
    if (t == NULL)
        return NULL; /* an interned queue name without a set is harmless */
    set_t *s = &m->sets[m->nsets];
    memset(s, 0, sizeof *s);
    s->queue = q;
    s->type = t;
    s->hash = k->h;
    m->slots[slot] = (uint32_t)(++m->nsets);
    return s;
}

/* The set an event for (queue, type) counts in, folding into "other" at
 * the bound. Never NULL: the catch-all always has room and needs no
 * allocation. *rc becomes -ENOMEM when memory forced a fold. */
static set_t *lookup(fp_metrics_t *m, const char *queue, const char *type, int *rc)
{
    size_t ql, tl, slot;
    if (!label_ok(queue, &ql)) {
        queue = FP_METRICS_OTHER;
        ql = strlen(queue);
    }
    if (!label_ok(type, &tl)) {
        type = FP_METRICS_OTHER;
        tl = strlen(type);
    }
    label_key_t k;
    key_make(&k, queue, ql, type, tl);
    set_t *s = find(m, &k, &slot);
    if (s != NULL)
        return s;
    if (m->nsets < m->max_sets) {
        if ((s = create(m, &k, slot)) != NULL)
            return s;
        *rc = -ENOMEM;
    }
    if (*rc == 0) {
        /* Past the bound: this queue's own overflow set while the reserve lasts. */
        key_make(&k, queue, ql, FP_METRICS_OTHER, strlen(FP_METRICS_OTHER));
        if ((s = find(m, &k, &slot)) != NULL)
            return s;
        if (m->nsets < m->cap_sets - 1 && (s = create(m, &k, slot)) != NULL)
            return s;
    }
    key_make(&k, FP_METRICS_OTHER, strlen(FP_METRICS_OTHER), FP_METRICS_OTHER,
             strlen(FP_METRICS_OTHER));
    if ((s = find(m, &k, &slot)) != NULL)
        return s;
    /* Both strings are the pre-interned "other" and the last set slot is
     * reserved for this one, so this cannot fail. */
    return create(m, &k, slot);
}

bool fp_metrics_has(const fp_metrics_t *m, const char *queue, const char *type)
{
    size_t ql, tl, slot;
    if (!label_ok(queue, &ql) || !label_ok(type, &tl))
        return false;
    label_key_t k;
    key_make(&k, queue, ql, type, tl);
    return find(m, &k, &slot) != NULL;
}

int fp_metrics_job_done(fp_metrics_t *m, const char *queue, const char *type,
                        fp_metrics_outcome_t outcome, double seconds)
{
    if ((unsigned)outcome >= FP_OUTCOME_COUNT)
        return -EINVAL;
    int rc = 0;
    set_t *s = lookup(m, queue, type, &rc);
    s->outcomes[outcome]++;
    fp_hist_observe(&s->run, &fp_hist_run_bounds, seconds);
    return rc;
}

int fp_metrics_child_restart(fp_metrics_t *m, fp_metrics_restart_t reason)
{
    if ((unsigned)reason >= FP_RESTART_COUNT)
        return -EINVAL;
    m->restarts[reason]++;
    return 0;
}

int fp_metrics_scale_event(fp_metrics_t *m, bool up, fp_scale_reason_t reason)
{
    if ((unsigned)reason >= FP_SCALE_REASONS)
        return -EINVAL;
    m->scale[up][reason]++;
    return 0;
}

void fp_metrics_set_gauges(fp_metrics_t *m, const fp_metrics_gauges_t *g)
{
    m->gauges = *g;
}

/* queue's entry, created (unknown gauges, empty histogram) the first time;
 * *rc is -ENOSPC or -ENOMEM when that fails. */
static queue_gauge_t *queue_entry(fp_metrics_t *m, const char *queue, int *rc)
{
    for (size_t i = 0; i < m->nqueues; i++)
        if (strcmp(m->queues[i].name, queue) == 0)
            return &m->queues[i];
    if (m->nqueues == FP_METRICS_MAX_QUEUES) {
        *rc = -ENOSPC;
        return NULL;
    }
    queue_gauge_t *g = &m->queues[m->nqueues];
    memset(g, 0, sizeof *g);
    if ((g->name = strdup(queue)) == NULL) {
        *rc = -ENOMEM;
        return NULL;
    }
    m->nqueues++;
    return g;
}

int fp_metrics_set_queue(fp_metrics_t *m, const char *queue, const fp_metrics_queue_t *q)
{
    int rc = 0;
    queue_gauge_t *g = queue_entry(m, queue, &rc);
    if (g == NULL)
        return rc;
    g->v = *q;
    g->known = true;
    return 0;
}

int fp_metrics_job_started(fp_metrics_t *m, const char *queue, const char *entry_id,
                           int64_t local_unix_ms)
{
    double wait = fp_hist_wait_seconds(entry_id, local_unix_ms + m->redis_offset_ms);
    if (wait < 0)
        return -EINVAL;
    int rc = 0;
    queue_gauge_t *g = queue_entry(m, queue, &rc);
    if (g == NULL)
        return rc;
    fp_hist_observe(&g->wait, &fp_hist_wait_bounds, wait);
    return 0;
}

void fp_metrics_set_redis_clock(fp_metrics_t *m, int64_t redis_ms, int64_t local_unix_ms)
{
    m->redis_offset_ms = redis_ms - local_unix_ms;
}

void fp_metrics_clear_queues(fp_metrics_t *m)
{
    for (size_t i = 0; i < m->nqueues; i++)
        m->queues[i].known = false;
}

size_t fp_metrics_label_sets(const fp_metrics_t *m)
{
    return m->nsets;
}

/* ---- rendering ------------------------------------------------------------ */

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
            add_label(w, "outcome", outcome_names[o], strlen(outcome_names[o]));
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
        open_sample(w, "forkpool_child_restarts_total", "reason", restart_names[r],
                    strlen(restart_names[r]));
        close_u64(w, m->restarts[r]);
    }
    family(w, "forkpool_children", "gauge", "Children by state.");
    for (int c = 0; c < FP_MCHILD_COUNT; c++) {
        open_sample(w, "forkpool_children", "state", child_names[c], strlen(child_names[c]));
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
