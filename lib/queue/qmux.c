/* qmux.c: the supervisor's job source over one or several fp_queue_t
 * (qmux.h): one part per Cluster slot, or one part for everything, which
 * then sees every call unchanged. The index maps and the sums are pure
 * (qmux_map.c); this file is the plumbing between the parts and the
 * supervisor's events. */
#include "queue/qmux_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "queue/qmux_side.h"
#include "queue/queue_scripts.h"
#include "redis/cluster_parse.h"
#include "sqlq/aq.h"

part_t *fp_qmux_part_of(const fp_qmux_t *m, uint32_t queue, uint32_t *local)
{
    if (queue >= m->map.n)
        return NULL;
    *local = m->map.local_of[queue];
    return &m->parts[m->map.part_of[queue]];
}

uint32_t fp_qmux_global_of(const part_t *p, uint32_t local)
{
    return p->m->map.globals[p->index][local];
}

/* ---- the parts' events ---------------------------------------------------- */

static void on_jobs(void *ctx, fp_pulled_t *jobs, size_t n)
{
    part_t *p = ctx;
    fp_qmux_t *m = p->m;
    if (m->map.nparts > 1) {
        for (size_t i = 0; i < n; i++)
            jobs[i].queue = fp_qmux_global_of(p, jobs[i].queue);
        /* Before the supervisor hears of them: it may give new room at once,
         * which must win over this. */
        m->room = m->room > n ? m->room - n : 0;
        for (size_t i = 0; i < m->map.nparts; i++)
            if (&m->parts[i] != p)
                fp_queue_want(m->parts[i].q, m->room);
    }
    m->events.on_jobs(m->ctx, jobs, n);
}

static void on_ready(void *ctx, bool ready)
{
    part_t *p = ctx;
    fp_qmux_t *m = p->m;
    p->ready = ready;
    /* Usable while any part is: over a Cluster, a master that fails or a
     * slot being moved stops its own queues only (fp_qmux_is_ready tells
     * whether every part is). */
    bool any = false;
    for (size_t i = 0; i < m->map.nparts; i++)
        any = any || m->parts[i].ready;
    if (any == m->ready)
        return;
    m->ready = any;
    if (m->events.on_ready != NULL)
        m->events.on_ready(m->ctx, any);
}

static void on_cancel(void *ctx, uint32_t queue, const char *entry_id)
{
    part_t *p = ctx;
    p->m->events.on_cancel(p->m->ctx, fp_qmux_global_of(p, queue), entry_id);
}

static void on_retry_cancelled(void *ctx, uint32_t queue, const char *entry_id, char kind,
                               const char *payload, size_t len)
{
    part_t *p = ctx;
    p->m->events.on_retry_cancelled(p->m->ctx, fp_qmux_global_of(p, queue), entry_id, kind, payload, len);
}

/* ---- lifecycle ------------------------------------------------------------ */

static void mux_free(fp_qmux_t *m)
{
    for (size_t i = 0; m->parts != NULL && i < m->map.nparts; i++)
        free(m->parts[i].names);
    free(m->parts);
    fp_qmux_map_free(&m->map);
    free(m);
}

static int slots_of(const fp_config_t *cfg, const char *const *names, size_t n, uint16_t *slots)
{
    for (size_t i = 0; i < n; i++) {
        char *key = fp_queue_key(cfg->redis.prefix, names[i], "jobs");
        if (key == NULL)
            return -ENOMEM;
        slots[i] = fp_cluster_keyslot(key, strlen(key));
        free(key);
    }
    return 0;
}

static int open_part(fp_qmux_t *m, part_t *p, uv_loop_t *loop, const fp_config_t *cfg,
                     const char *const *names, struct fp_cluster_s *cl, fp_err_t *err)
{
    size_t k = m->map.part_n[p->index];
    p->names = calloc(k, sizeof *p->names);
    if (p->names == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    for (size_t l = 0; l < k; l++)
        p->names[l] = names[m->map.globals[p->index][l]];
    fp_queue_events_t ev = {on_jobs, on_ready, m->events.on_cancel != NULL ? on_cancel : NULL,
                            m->events.on_retry_cancelled != NULL ? on_retry_cancelled : NULL};
    return fp_queue_new_cluster(loop, cfg, p->names, k, cl, &ev, p, &p->q, err);
}

/* queue.backend sqlite: one embedded queue, no parts. */
static int new_embedded(uv_loop_t *loop, const fp_config_t *cfg, const char *const *names,
                        size_t n, const fp_queue_events_t *events, void *ctx, fp_qmux_t **out,
                        fp_err_t *err)
{
    fp_qmux_t *m = calloc(1, sizeof *m);
    if (m == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    m->cfg = cfg;
    int rc = fp_aq_new(loop, cfg, names, n, events, ctx, &m->aq, err);
    if (rc < 0) {
        free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int fp_qmux_new(uv_loop_t *loop, const fp_config_t *cfg, const char *const *names, size_t n,
                struct fp_cluster_s *cl, const fp_queue_events_t *events, void *ctx,
                fp_qmux_t **out, fp_err_t *err)
{
    if (cfg->queue.backend == FP_BACKEND_SQLITE)
        return new_embedded(loop, cfg, names, n, events, ctx, out, err);
    fp_qmux_t *m = calloc(1, sizeof *m);
    uint16_t *slots = cl != NULL ? calloc(n ? n : 1, sizeof *slots) : NULL;
    if (m == NULL || (cl != NULL && (slots == NULL || slots_of(cfg, names, n, slots) < 0)) ||
        fp_qmux_map_build(&m->map, n, slots) < 0 ||
        (m->parts = calloc(m->map.nparts ? m->map.nparts : 1, sizeof *m->parts)) == NULL) {
        free(slots);
        if (m != NULL)
            mux_free(m);
        return fp_err_set(err, -ENOMEM, "out of memory");
    }
    free(slots);
    m->cfg = cfg;
    m->events = *events;
    m->ctx = ctx;
    int rc = cl != NULL ? fp_qside_new(loop, cfg, cl, &m->side, err) : 0;
    size_t made = 0;
    for (; rc == 0 && made < m->map.nparts; made++) {
        m->parts[made] = (part_t){.m = m, .index = (uint32_t)made};
        rc = open_part(m, &m->parts[made], loop, cfg, names, cl, err);
    }
    if (rc < 0) {
        /* Nothing was started: the parts made close without a word. */
        for (size_t i = 0; i < made; i++)
            if (m->parts[i].q != NULL)
                fp_queue_close(m->parts[i].q, NULL, NULL);
        if (m->side != NULL)
            fp_qside_close(m->side, NULL, NULL);
        mux_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

size_t fp_qmux_parts(const fp_qmux_t *m)
{
    return m->aq != NULL ? 1 : m->map.nparts;
}

bool fp_qmux_guards_name(const fp_qmux_t *m)
{
    return m->aq != NULL;
}

int fp_qmux_start(fp_qmux_t *m)
{
    if (m->aq != NULL)
        return fp_aq_start(m->aq);
    for (size_t i = 0; i < m->map.nparts; i++)
        (void)fp_queue_start(m->parts[i].q);
    if (m->side != NULL)
        fp_qside_start(m->side);
    return 0;
}

static void part_closed(void *ctx)
{
    fp_qmux_t *m = ctx;
    if (--m->open > 0)
        return;
    void (*cb)(void *) = m->close_cb;
    void *cb_ctx = m->close_ctx;
    mux_free(m);
    if (cb != NULL)
        cb(cb_ctx);
}

void fp_qmux_close(fp_qmux_t *m, void (*cb)(void *ctx), void *ctx)
{
    m->close_cb = cb;
    m->close_ctx = ctx;
    if (m->aq != NULL) {
        m->open = 1;
        fp_aq_close(m->aq, part_closed, m);
        return;
    }
    m->open = (int)m->map.nparts + 1 + (m->side != NULL); /* held until all are closing */
    for (size_t i = 0; i < m->map.nparts; i++)
        fp_queue_close(m->parts[i].q, part_closed, m);
    if (m->side != NULL)
        fp_qside_close(m->side, part_closed, m);
    part_closed(m);
}
