/* limits.c: concurrency and rate limits per job type ([limits.TYPE]) as the
 * supervisor applies them, between a pulled job being accepted and it
 * waiting for a child. The decisions are lib/limits/limit.c's, the shared
 * state the backend's (fp_qmux_limit_*: Redis' scripts, or the embedded
 * queue's file); here only the glue:
 *
 *   - an unlimited type goes straight to the waiting list (no round trip);
 *   - local_concurrency is a counter of admitted jobs, per type, given
 *     back when the job's record is released (outcome, put back, kill);
 *   - concurrency and rate take one backend call (a lease in the type's
 *     running set, renewed every recovery.visibility_timeout / 3 while the
 *     job is held, removed on release; and a GCRA slot); the job waits for
 *     the answer in no list, counted as held;
 *   - a refused job is handed back to its queue's delayed set (same payload,
 *     attempt unchanged, "id" added when it had none; on the embedded queue
 *     fp_qmux_retry makes it a new row due later), due after
 *     fp_limit_delay_ms, and counted in forkpool_jobs_limited_total.
 * Why handed back rather than kept waiting here: docs/limits.md. */
#include "supervisor/supervisor_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "dispatch/retry.h"
#include "limits/limit.h"
#include "limits/limit_script.h"
#include "queue/qmux_limits.h"

#define LOG "limits"

/* This daemon's state of one type: created the first time a job of a
 * limited type is admitted, kept across reloads (its jobs may outlive a
 * reload that drops the limit). */
static sup_limit_type_t *type_state(fp_supervisor_t *sup, const char *type)
{
    sup_limits_t *l = &sup->limits;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->types[i].type, type) == 0)
            return &l->types[i];
    sup_limit_type_t *grown = realloc(l->types, (l->n + 1) * sizeof *l->types);
    if (grown == NULL)
        return NULL;
    l->types = grown;
    sup_limit_type_t *t = &l->types[l->n];
    *t = (sup_limit_type_t){.type = strdup(type)};
    if (t->type == NULL)
        return NULL;
    l->n++;
    return t;
}

static void count_limited(fp_supervisor_t *sup, const char *type, fp_limit_kind_t why)
{
    sup_limit_type_t *t = type_state(sup, type);
    if (t != NULL)
        t->limited[why]++;
}

/* Back to the delayed set, unstarted: not an attempt, not a delivery (the
 * mover adds it to the stream as a new entry). */
static void hand_back(fp_supervisor_t *sup, fp_held_t *held, int64_t delay_ms)
{
    if (sup->redis.queue == NULL || sup->redis.closed) {
        /* Closing: it stays leased in the queue, for recovery. */
        fp_held_release(&sup->held, held);
        return;
    }
    size_t len = held->payload_len;
    char *with_id = held->job.id == NULL ? fp_retry_payload_id(held->payload, held->payload_len,
                                                               held->entry_id, &len)
                                         : NULL;
    if (held->job.id == NULL && with_id == NULL) {
        /* Without an id two such payloads would be one delayed member:
         * rather than risk that (out of memory), it goes to the stream's tail. */
        fp_qmux_put_back(sup->redis.queue, held->queue, held->entry_id, held->payload,
                          held->payload_len);
    } else {
        fp_qmux_retry(sup->redis.queue, held->queue, held->entry_id,
                       with_id != NULL ? with_id : held->payload, len, delay_ms);
    }
    free(with_id);
    fp_held_release(&sup->held, held);
}

static void refuse(fp_supervisor_t *sup, fp_held_t *held, fp_limit_kind_t why, int64_t retry_ms)
{
    int64_t delay = fp_limit_delay_ms(why, retry_ms, fp_sup_next_random(sup));
    count_limited(sup, held->job.type, why);
    if (fp_log_enabled(FP_LOG_DEBUG))
        fp_log_debug(LOG, "job %s (%s) over its %s limit: back in %lld ms", fp_held_name(held),
                     held->job.type, fp_limit_kind_name(why), (long long)delay);
    hand_back(sup, held, delay);
}

typedef struct ask_s {
    fp_supervisor_t *sup;
    fp_held_t *held;
} ask_t;

static void admitted(fp_supervisor_t *sup, fp_held_t *held)
{
    if (sup->state == SUP_RUNNING) {
        fp_held_wait_push(&sup->held, held);
        fp_sup_dispatch(sup);
        return;
    }
    /* Draining began while the backend answered: unstarted, so it goes back. */
    if (sup->redis.queue != NULL && !sup->redis.closed)
        fp_qmux_put_back(sup->redis.queue, held->queue, held->entry_id, held->payload,
                          held->payload_len);
    fp_held_release(&sup->held, held);
    fp_sup_maybe_finish(sup);
}

static void on_take(void *ctx, int rc, const fp_limit_reply_t *rep, const char *msg)
{
    ask_t ask = *(ask_t *)ctx;
    free(ctx);
    fp_supervisor_t *sup = ask.sup;
    fp_held_t *held = ask.held;
    sup->limits.asking--;
    if (rc < 0) {
        /* Not known whether a lease was taken: the release removes it,
         * and the job comes back shortly instead of running unchecked. */
        fp_log_warn(LOG, "limit check for job %s (%s) failed: %s; back in %d ms",
                    fp_held_name(held), held->job.type, msg, FP_LIMIT_WAIT_MS);
        hand_back(sup, held, FP_LIMIT_WAIT_MS);
    } else if (!rep->allowed) {
        free(held->limit_lease); /* the backend took none, or gave it back */
        held->limit_lease = NULL;
        refuse(sup, held, rep->why, rep->retry_after_ms);
    } else {
        admitted(sup, held);
        return;
    }
    if (sup->state == SUP_RUNNING)
        fp_sup_update_want(sup); /* its room is free again: pull the next */
    fp_sup_maybe_finish(sup);
}

static int ask_backend(fp_supervisor_t *sup, fp_held_t *held, const fp_type_limit_t *lim)
{
    const fp_config_t *cfg = sup->cfg;
    char *member =
        fp_limit_member(cfg->daemon.name, sup->redis.names[held->queue], held->entry_id);
    ask_t *ask = malloc(sizeof *ask);
    int rc = -ENOMEM;
    if (member != NULL && ask != NULL) {
        fp_limit_ask_t a = {.type = lim->type,
                            .member = member,
                            .concurrency = lim->concurrency,
                            .lease_ms = cfg->recovery.visibility_timeout_ms,
                            .interval_us = fp_rate_interval_us(&lim->rate),
                            .tolerance_us = fp_rate_tolerance_us(&lim->rate)};
        *ask = (ask_t){sup, held};
        rc = fp_qmux_limit_take(sup->redis.queue, &a, on_take, ask);
    }
    if (rc == 0 && lim->concurrency > 0) {
        held->limit_lease = member;
        member = NULL;
    }
    if (rc < 0)
        free(ask);
    free(member);
    return rc;
}

void fp_sup_limits_admit(fp_supervisor_t *sup, fp_held_t *held)
{
    const fp_type_limit_t *lim = fp_config_type_limit(sup->cfg, held->job.type);
    sup_limit_type_t *t = lim != NULL ? type_state(sup, lim->type) : NULL;
    fp_limit_kind_t why = FP_LIMIT_LOCAL;
    if (lim == NULL) {
        fp_held_wait_push(&sup->held, held);
        return;
    }
    if (t == NULL) {
        fp_log_error(LOG, "out of memory admitting job %s; back in %d ms", fp_held_name(held),
                     FP_LIMIT_WAIT_MS);
        hand_back(sup, held, FP_LIMIT_WAIT_MS);
        return;
    }
    switch (fp_limit_admit(lim, t->admitted, &why)) {
    case FP_LIMIT_DELAY: refuse(sup, held, why, 0); return;
    case FP_LIMIT_DISPATCH:
        held->limit_admitted = true;
        t->admitted++;
        fp_held_wait_push(&sup->held, held);
        return;
    case FP_LIMIT_ASK: break;
    }
    held->limit_admitted = true;
    t->admitted++;
    if (ask_backend(sup, held, lim) < 0) {
        fp_log_warn(LOG, "cannot check the limits of job %s (%s) now; back in %d ms",
                    fp_held_name(held), held->job.type, FP_LIMIT_WAIT_MS);
        hand_back(sup, held, FP_LIMIT_WAIT_MS);
        return;
    }
    sup->limits.asking++; /* until its answer, the job is in no list */
}

/* A release that cannot be sent, or got no answer, is kept (up to a
 * bound) and sent again at the next renewal round: its job is gone, so
 * nothing would renew the lease, but until it expires (one visibility
 * timeout) it would hold a concurrency slot no job uses. */
#define UNRELEASED_MAX 1024

static void keep_unreleased(fp_supervisor_t *sup, char *type, char *member)
{
    sup_limits_t *l = &sup->limits;
    sup_lease_ref_t *grown = l->nunreleased < UNRELEASED_MAX
                                 ? realloc(l->unreleased, (l->nunreleased + 1) * sizeof *grown)
                                 : NULL;
    if (grown == NULL) {
        free(type); /* expires with its lease */
        free(member);
        return;
    }
    l->unreleased = grown;
    l->unreleased[l->nunreleased++] = (sup_lease_ref_t){type, member};
}

typedef struct release_s {
    fp_supervisor_t *sup;
    sup_lease_ref_t ref;
} release_t;

static void on_release_reply(void *ctx, int rc)
{
    release_t *rel = ctx;
    if (rc < 0) {
        keep_unreleased(rel->sup, rel->ref.type, rel->ref.member);
    } else {
        free(rel->ref.type);
        free(rel->ref.member);
    }
    free(rel);
}

/* Takes type and member (owned). */
static void release_lease(fp_supervisor_t *sup, char *type, char *member)
{
    release_t *rel = malloc(sizeof *rel);
    if (rel == NULL || type == NULL || member == NULL) {
        free(rel);
        free(type);
        free(member);
        return; /* out of memory: it expires with its lease */
    }
    *rel = (release_t){sup, {type, member}};
    if (sup->redis.queue == NULL || sup->redis.closed ||
        fp_qmux_limit_release(sup->redis.queue, type, member, on_release_reply, rel) < 0) {
        free(rel);
        keep_unreleased(sup, type, member);
    }
}

static void retry_releases(fp_supervisor_t *sup)
{
    sup_limits_t *l = &sup->limits;
    sup_lease_ref_t *refs = l->unreleased;
    size_t n = l->nunreleased;
    l->unreleased = NULL;
    l->nunreleased = 0;
    for (size_t i = 0; i < n; i++)
        release_lease(sup, refs[i].type, refs[i].member);
    free(refs);
}

/* fp_held_release's hook: the job's local slot and its lease go back. */
static void on_released(void *ctx, fp_held_t *held)
{
    fp_supervisor_t *sup = ctx;
    if (!held->limit_admitted || held->job.type == NULL)
        return;
    sup_limit_type_t *t = type_state(sup, held->job.type);
    if (t != NULL && t->admitted > 0)
        t->admitted--;
    if (held->limit_lease == NULL)
        return;
    release_lease(sup, strdup(held->job.type), strdup(held->limit_lease));
}

/* ---- lease renewal --------------------------------------------------------- */

static void on_renew_reply(void *ctx, int rc, int64_t lost)
{
    fp_supervisor_t *sup = ctx;
    if (rc == 0 && lost > 0) {
        sup->limits.leases_lost += (uint64_t)lost;
        fp_log_warn(LOG, "%lld concurrency lease(s) had run out before their renewal (the queue "
                    "was out of reach longer than recovery.visibility_timeout?); taken again",
                    (long long)lost);
    }
}

static void add_member(const char ***args, size_t *n, size_t *cap, const char *member)
{
    if (*n == *cap) {
        size_t want = *cap ? *cap * 2 : 16;
        const char **grown = realloc(*args, want * sizeof **args);
        if (grown == NULL)
            return; /* not renewed this round: the next one tries again */
        *args = grown;
        *cap = want;
    }
    (*args)[(*n)++] = member;
}

static void collect(const fp_held_t *h, const char *type, const char ***args, size_t *n,
                    size_t *cap)
{
    for (; h != NULL; h = h->next)
        if (h->limit_lease != NULL && strcmp(h->job.type, type) == 0)
            add_member(args, n, cap, h->limit_lease);
}

/* One call per type with leases: every member this daemon holds (waiting
 * for a child, or sent to one) gets a new expiry. */
static void renew_type(fp_supervisor_t *sup, const char *type)
{
    const char **members = NULL;
    size_t n = 0, cap = 0;
    collect(sup->held.wait_head, type, &members, &n, &cap);
    for (size_t i = 0; i < sup->pool.capacity; i++)
        collect(sup->pool.slots[i]->job, type, &members, &n, &cap);
    if (n > 0)
        (void)fp_qmux_limit_renew(sup->redis.queue, type, sup->cfg->recovery.visibility_timeout_ms,
                                  members, n, on_renew_reply, sup);
    free(members);
}

static void on_renew_timer(uv_timer_t *timer)
{
    fp_supervisor_t *sup = timer->data;
    if (sup->redis.queue == NULL || sup->redis.closed)
        return;
    retry_releases(sup);
    for (size_t i = 0; i < sup->limits.n; i++)
        if (sup->limits.types[i].admitted > 0)
            renew_type(sup, sup->limits.types[i].type);
}

void fp_sup_limits_start(fp_supervisor_t *sup)
{
    sup->held.on_release = on_released;
    sup->held.ctx = sup;
    uv_timer_init(&sup->loop, &sup->limits.renew);
    sup->limits.renew.data = sup;
    uint64_t every = (uint64_t)sup->cfg->recovery.visibility_timeout_ms / 3;
    uv_timer_start(&sup->limits.renew, on_renew_timer, every, every);
}

/* Jobs held when a HUP limits their type (or adds concurrency to its
 * limits) were admitted with no check: they count from now on, in the
 * local count and with a lease, which the renewal sent right after takes
 * unconditionally (fp_limit_renew_lua adds a member that is not there).
 * The type may stay over its new limit until enough of them end, but no
 * new job of it starts before then. */
static void adopt(fp_supervisor_t *sup, fp_held_t *h)
{
    for (; h != NULL; h = h->next) {
        const fp_type_limit_t *lim =
            h->job.type != NULL ? fp_config_type_limit(sup->cfg, h->job.type) : NULL;
        sup_limit_type_t *t = lim != NULL ? type_state(sup, lim->type) : NULL;
        if (t == NULL)
            continue;
        if (!h->limit_admitted) {
            h->limit_admitted = true;
            t->admitted++;
        }
        if (lim->concurrency > 0 && h->limit_lease == NULL)
            h->limit_lease = fp_limit_member(sup->cfg->daemon.name, sup->redis.names[h->queue],
                                             h->entry_id);
    }
}

/* After a HUP. recovery.visibility_timeout may have changed: leases are
 * taken with the new one at once, so the renewal must come every third of
 * it, not of the old one (a shorter timeout would let leases run out
 * between renewals). */
void fp_sup_limits_reload(fp_supervisor_t *sup)
{
    adopt(sup, sup->held.wait_head);
    for (size_t i = 0; i < sup->pool.capacity; i++)
        adopt(sup, sup->pool.slots[i]->job);
    if (!uv_is_active((uv_handle_t *)&sup->limits.renew))
        return;
    uint64_t every = (uint64_t)sup->cfg->recovery.visibility_timeout_ms / 3;
    if (uv_timer_get_repeat(&sup->limits.renew) != every)
        uv_timer_start(&sup->limits.renew, on_renew_timer, every, every);
    on_renew_timer(&sup->limits.renew); /* the adopted jobs' leases, now */
}

void fp_sup_limits_free(fp_supervisor_t *sup)
{
    for (size_t i = 0; i < sup->limits.nunreleased; i++) {
        free(sup->limits.unreleased[i].type);
        free(sup->limits.unreleased[i].member);
    }
    free(sup->limits.unreleased);
    sup->limits.unreleased = NULL;
    sup->limits.nunreleased = 0;
    for (size_t i = 0; i < sup->limits.n; i++)
        free(sup->limits.types[i].type);
    free(sup->limits.types);
    sup->limits.types = NULL;
    sup->limits.n = 0;
}

/* ---- what /stats and /metrics show ----------------------------------------- */

static const sup_limit_type_t *find_state(const fp_supervisor_t *sup, const char *type)
{
    for (size_t i = 0; i < sup->limits.n; i++)
        if (strcmp(sup->limits.types[i].type, type) == 0)
            return &sup->limits.types[i];
    return NULL;
}

static cJSON *type_json(const fp_type_limit_t *lim, const sup_limit_type_t *t)
{
    cJSON *j = cJSON_CreateObject();
    char rate[32] = "";
    if (lim->rate.count > 0)
        fp_rate_format(&lim->rate, rate, sizeof rate);
    cJSON_AddStringToObject(j, "type", lim->type);
    cJSON_AddNumberToObject(j, "concurrency", (double)lim->concurrency);
    cJSON_AddNumberToObject(j, "local_concurrency", (double)lim->local_concurrency);
    if (rate[0] != '\0')
        cJSON_AddStringToObject(j, "rate", rate);
    else
        cJSON_AddNullToObject(j, "rate");
    cJSON_AddNumberToObject(j, "admitted", t != NULL ? (double)t->admitted : 0);
    cJSON *limited = cJSON_AddObjectToObject(j, "limited");
    for (int k = 0; k < FP_LIMIT_KINDS; k++)
        cJSON_AddNumberToObject(limited, fp_limit_kind_name((fp_limit_kind_t)k),
                                t != NULL ? (double)t->limited[k] : 0);
    return j;
}

cJSON *fp_sup_limits_json(const fp_supervisor_t *sup)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr != NULL && i < sup->cfg->limits.ntypes; i++) {
        const fp_type_limit_t *lim = &sup->cfg->limits.types[i];
        cJSON_AddItemToArray(arr, type_json(lim, find_state(sup, lim->type)));
    }
    return arr;
}

/* A configured type as a label value: config_limits.c refuses control
 * characters, so only \\ and " need escaping. */
static void label_text(const char *type, char *buf, size_t size)
{
    size_t o = 0;
    for (const char *p = type; *p != '\0' && o + 3 < size; p++) {
        if (*p == '\\' || *p == '"')
            buf[o++] = '\\';
        buf[o++] = *p;
    }
    buf[o] = '\0';
}

/* forkpool_jobs_limited_total{type,limit}: types are configured ones only,
 * so the label set is bounded by the configuration. */
int fp_sup_limits_metrics(const fp_supervisor_t *sup, fp_buf_t *out)
{
    static const char head[] =
        "# HELP forkpool_jobs_limited_total Jobs handed back to the delayed set unstarted "
        "because a limit of their type stood in the way\n"
        "# TYPE forkpool_jobs_limited_total counter\n";
    if (sup->limits.n == 0)
        return 0;
    int rc = fp_buf_append(out, head, sizeof head - 1);
    char label[2 * FP_JOB_TYPE_MAX + 8], line[2 * FP_JOB_TYPE_MAX + 128];
    for (size_t i = 0; rc == 0 && i < sup->limits.n; i++) {
        const sup_limit_type_t *t = &sup->limits.types[i];
        label_text(t->type, label, sizeof label);
        for (int k = 0; rc == 0 && k < FP_LIMIT_KINDS; k++) {
            int n = snprintf(line, sizeof line,
                             "forkpool_jobs_limited_total{type=\"%s\",limit=\"%s\"} %llu\n", label,
                             fp_limit_kind_name((fp_limit_kind_t)k),
                             (unsigned long long)t->limited[k]);
            rc = fp_buf_append(out, line, (size_t)n);
        }
    }
    return rc;
}
