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
 * made cumulative only while rendering (metrics_render.c). */
#include "http/metrics_internal.h"

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
