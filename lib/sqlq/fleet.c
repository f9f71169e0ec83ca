/* fleet.c: the fleet heartbeat in the queue file (fleet.h), on the kv table
 * (kv.h). The record and the last-seen time live in two spaces so that a
 * record can expire (the daemon died) while the member stays listed as
 * gone, as the Redis record key and sorted set do. The decoding, the
 * live/gone classification and the order shown are queue/heartbeat's, so a
 * fleet reads the same from either backend. */
#include "sqlq/fleet.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlq/kv.h"
#include "sqlq/store_internal.h"

int fp_sqlq_fleet_beat(fp_sqlq_t *q, const char *id, const char *record, int64_t ttl_ms,
                       int64_t now_ms, fp_err_t *err)
{
    char seen[24];
    snprintf(seen, sizeof seen, "%" PRId64, now_ms);
    int rc = fp_sqlq_begin(q, err);
    if (rc == 0)
        rc = fp_sqlq_kv_put(q, FP_SQLQ_FLEET_RECORDS, id, record, now_ms + ttl_ms, err);
    if (rc == 0)
        rc = fp_sqlq_kv_put(q, FP_SQLQ_FLEET_SEEN, id, seen, now_ms + FP_FLEET_GONE_KEEP_MS, err);
    /* Every beat prunes, as the Redis script does: the spaces stay small
     * without a reader that writes. */
    if (rc == 0)
        rc = fp_sqlq_kv_purge(q, FP_SQLQ_FLEET_RECORDS, now_ms, NULL, err);
    if (rc == 0)
        rc = fp_sqlq_kv_purge(q, FP_SQLQ_FLEET_SEEN, now_ms, NULL, err);
    return fp_sqlq_end(q, rc, err);
}

int fp_sqlq_fleet_clear(fp_sqlq_t *q, const char *id, const char *token, int64_t now_ms,
                        bool *cleared, fp_err_t *err)
{
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"token\":\"%s\"", token);
    char *record = NULL;
    bool mine = true;
    int rc = fp_sqlq_begin(q, err);
    if (rc == 0) {
        rc = fp_sqlq_kv_get(q, FP_SQLQ_FLEET_RECORDS, id, now_ms, &record, NULL, err);
        mine = rc == -ENOENT || (rc == 0 && strstr(record, quoted) != NULL);
        rc = rc == -ENOENT ? 0 : rc;
    }
    if (rc == 0 && mine)
        rc = fp_sqlq_kv_del(q, FP_SQLQ_FLEET_RECORDS, id, NULL, NULL, err);
    if (rc == 0 && mine)
        rc = fp_sqlq_kv_del(q, FP_SQLQ_FLEET_SEEN, id, NULL, NULL, err);
    free(record);
    rc = fp_sqlq_end(q, rc, err);
    if (cleared != NULL)
        *cleared = rc == 0 && mine;
    return rc;
}

/* ---- reading -------------------------------------------------------------- */

typedef struct members_s {
    fp_fleet_t *f;
    size_t cap;
} members_t;

static int add_member(void *ctx, const char *key, const char *value, int64_t expires_at)
{
    members_t *m = ctx;
    (void)expires_at;
    if (m->f->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        fp_fleet_member_t *v = realloc(m->f->members, cap * sizeof *v);
        if (v == NULL)
            return -ENOMEM;
        m->f->members = v;
        m->cap = cap;
    }
    fp_fleet_member_t *one = &m->f->members[m->f->n];
    memset(one, 0, sizeof *one);
    if ((one->id = strdup(key)) == NULL)
        return -ENOMEM;
    one->last_seen_ms = strtoll(value, NULL, 10);
    m->f->n++;
    return 0;
}

/* Most recently seen first, as the Redis read's ZREVRANGE. */
static int by_last_seen(const void *x, const void *y)
{
    const fp_fleet_member_t *a = x, *b = y;
    return a->last_seen_ms != b->last_seen_ms ? (a->last_seen_ms > b->last_seen_ms ? -1 : 1)
                                              : strcmp(a->id, b->id);
}

static void drop_beyond(fp_fleet_t *f, size_t keep)
{
    for (size_t i = keep; i < f->n; i++)
        free(f->members[i].id);
    if (f->n > keep)
        f->n = keep;
}

static int take_records(fp_sqlq_t *q, fp_fleet_t *f, fp_err_t *err)
{
    for (size_t i = 0; i < f->n; i++) {
        char *record = NULL;
        int rc = fp_sqlq_kv_get(q, FP_SQLQ_FLEET_RECORDS, f->members[i].id, f->now_ms, &record,
                                NULL, err);
        if (rc < 0 && rc != -ENOENT)
            return rc;
        fp_fleet_take_text(&f->members[i], record, record != NULL ? strlen(record) : 0,
                           f->now_ms);
        free(record);
    }
    return 0;
}

int fp_sqlq_fleet_read(fp_sqlq_t *q, int64_t now_ms, fp_fleet_t *out, fp_err_t *err)
{
    memset(out, 0, sizeof *out);
    out->now_ms = now_ms;
    members_t m = {out, 0};
    int rc = fp_sqlq_kv_each(q, FP_SQLQ_FLEET_SEEN, now_ms, add_member, &m, err);
    if (rc == -ENOMEM)
        return fp_err_set(err, -ENOMEM, "reading the fleet: out of memory");
    if (rc < 0)
        return rc;
    if (out->n > 1)
        qsort(out->members, out->n, sizeof *out->members, by_last_seen);
    drop_beyond(out, FP_FLEET_READ_MAX);
    if ((rc = take_records(q, out, err)) < 0)
        return rc;
    fp_fleet_settle(out);
    return 0;
}
