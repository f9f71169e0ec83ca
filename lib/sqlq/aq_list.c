/* aq_list.c: the embedded queue's lists (aq_internal.h): outcomes with
 * owned payload and error copies, row ids, pulled rows; and entry ids as
 * row ids. */
#include "sqlq/aq_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(void **v, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t cap2 = *cap ? *cap * 2 : 16;
    while (cap2 < need)
        cap2 *= 2;
    void *nv = realloc(*v, cap2 * size);
    if (nv == NULL)
        return -ENOMEM;
    *v = nv;
    *cap = cap2;
    return 0;
}

/* Both arrays to room for need items; cap changes only once both did. */
static int outv_grow(aq_outv_t *l, size_t need)
{
    if (need <= l->cap)
        return 0;
    size_t cap = l->cap;
    if (grow((void **)&l->v, &cap, need, sizeof *l->v) < 0)
        return -ENOMEM;
    size_t tcap = l->cap;
    if (grow((void **)&l->tags, &tcap, need, sizeof *l->tags) < 0)
        return -ENOMEM; /* v is larger than cap says: harmless, regrown next time */
    l->cap = cap < tcap ? cap : tcap;
    return 0;
}

int fp_aq_outv_push(aq_outv_t *l, const fp_sqlq_outcome_t *o, const char *payload, size_t len,
                    const char *error, aq_tag_t tag)
{
    if (outv_grow(l, l->n + 1) < 0)
        return -ENOMEM;
    if (tag.entry_id != NULL && (tag.entry_id = strdup(tag.entry_id)) == NULL)
        return -ENOMEM;
    fp_sqlq_outcome_t c = *o;
    c.payload = NULL;
    c.len = 0;
    c.error = NULL;
    if (payload != NULL) {
        char *p = malloc(len + 1);
        if (p == NULL) {
            free(tag.entry_id);
            return -ENOMEM;
        }
        memcpy(p, payload, len);
        p[len] = '\0';
        c.payload = p;
        c.len = len;
    }
    if (error != NULL && (c.error = strdup(error)) == NULL) {
        free((char *)c.payload);
        free(tag.entry_id);
        return -ENOMEM;
    }
    l->tags[l->n] = tag;
    l->v[l->n++] = c;
    return 0;
}

int fp_aq_outv_move(aq_outv_t *to, aq_outv_t *from)
{
    if (from->n == 0)
        return 0;
    if (to->n == 0) { /* the common case: hand the array over */
        fp_aq_outv_free(to);
        *to = *from;
        *from = (aq_outv_t){0};
        return 0;
    }
    if (outv_grow(to, to->n + from->n) < 0)
        return -ENOMEM;
    memcpy(to->v + to->n, from->v, from->n * sizeof *from->v);
    memcpy(to->tags + to->n, from->tags, from->n * sizeof *from->tags);
    to->n += from->n;
    from->n = 0;
    return 0;
}

void fp_aq_outv_free(aq_outv_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free((char *)l->v[i].payload);
        free((char *)l->v[i].error);
        free(l->tags[i].entry_id);
    }
    free(l->v);
    free(l->tags);
    *l = (aq_outv_t){0};
}

int fp_aq_turned_take(aq_turnedv_t *to, aq_outv_t *l, size_t i)
{
    if (grow((void **)&to->v, &to->cap, to->n + 1, sizeof *to->v) < 0)
        return -ENOMEM;
    fp_sqlq_outcome_t *o = &l->v[i];
    to->v[to->n++] = (aq_turned_t){.queue = l->tags[i].queue,
                                   .entry_id = l->tags[i].entry_id,
                                   .kind = o->kind == FP_SQLQ_RETRY ? 'r' : 'p',
                                   .payload = (char *)o->payload,
                                   .len = o->len};
    l->tags[i].entry_id = NULL;
    o->payload = NULL;
    o->len = 0;
    return 0;
}

int fp_aq_turned_move(aq_turnedv_t *to, aq_turnedv_t *from)
{
    if (to->n == 0) { /* the common case: hand the array over */
        fp_aq_turned_free(to);
        *to = *from;
        *from = (aq_turnedv_t){0};
        return 0;
    }
    if (grow((void **)&to->v, &to->cap, to->n + from->n, sizeof *to->v) < 0)
        return -ENOMEM;
    memcpy(to->v + to->n, from->v, from->n * sizeof *from->v);
    to->n += from->n;
    free(from->v);
    *from = (aq_turnedv_t){0};
    return 0;
}

void fp_aq_turned_free(aq_turnedv_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].entry_id);
        free(l->v[i].payload);
    }
    free(l->v);
    *l = (aq_turnedv_t){0};
}

int fp_aq_ids_push(aq_ids_t *l, int64_t id)
{
    if (grow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v) < 0)
        return -ENOMEM;
    l->v[l->n++] = id;
    return 0;
}

int fp_aq_rows_take(aq_rows_t *rows, fp_sqlq_jobs_t *jobs)
{
    fp_pulled_t *v = malloc((jobs->n ? jobs->n : 1) * sizeof *v);
    if (v == NULL)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < jobs->n; i++) {
        fp_sqlq_job_t *j = &jobs->v[i];
        /* "ENQUEUED_MS-ID", the shape of a stream entry id: what reads the
         * enqueue time from an entry id (the ledger) reads it here too. */
        char id[48];
        snprintf(id, sizeof id, "%" PRId64 "-%" PRId64, j->enqueued_at, j->id);
        char *eid = strdup(id);
        if (eid == NULL)
            continue; /* left leased: it comes back when its lease ends */
        v[k++] = (fp_pulled_t){.queue = (uint32_t)j->queue, .entry_id = eid,
                               .payload = j->payload, .payload_len = j->len,
                               .deliveries = j->deliveries > 0 ? (uint64_t)j->deliveries : 1,
                               .fresh = j->deliveries <= 1};
        j->payload = NULL;
    }
    *rows = (aq_rows_t){v, k};
    return 0;
}

void fp_aq_rows_free(aq_rows_t *rows)
{
    for (size_t i = 0; i < rows->n; i++) {
        free(rows->v[i].entry_id);
        free(rows->v[i].payload);
    }
    free(rows->v);
    *rows = (aq_rows_t){0};
}

bool fp_aq_parse_id(const char *entry_id, int64_t *id)
{
    const char *dash = entry_id != NULL ? strchr(entry_id, '-') : NULL;
    if (dash != NULL)
        entry_id = dash + 1;
    if (entry_id == NULL || entry_id[0] < '0' || entry_id[0] > '9')
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(entry_id, &end, 10);
    if (errno != 0 || *end != '\0' || v <= 0)
        return false;
    *id = (int64_t)v;
    return true;
}
