/* schedule.c: a schedule's ticks fired on the embedded queue (schedule.h),
 * the Redis fire script's rule (queue/schedule.c) inside one transaction.
 * The jobs and the record commit together, so unlike the script (which can
 * stop between its XADD and its HSET) a tick here is never fired twice. */
#include "sqlq/schedule.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlq/kv.h"
#include "sqlq/space.h"
#include "sqlq/store_internal.h"

bool fp_sqlq_schedule_parse(const char *value, int64_t *tick, const char **fingerprint)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno != 0 || end == value || *end != ' ')
        return false;
    *tick = v;
    *fingerprint = end + 1;
    return true;
}

char *fp_sqlq_schedule_value(int64_t tick, const char *fingerprint)
{
    size_t n = strlen(fingerprint) + 24;
    char *v = malloc(n);
    if (v != NULL)
        snprintf(v, n, "%" PRId64 " %s", tick, fingerprint);
    return v;
}

/* The record of this fingerprint: *tick, or -1 when there is none (or one
 * of another expression, or a value that is not a record). */
static int read_record(fp_sqlq_t *q, const char *space, const char *name,
                       const char *fingerprint, int64_t *tick, fp_err_t *err)
{
    char *value = NULL;
    *tick = -1;
    int rc = fp_sqlq_kv_get(q, space, name, 0, &value, NULL, err);
    if (rc == -ENOENT)
        return 0;
    const char *fp;
    int64_t t;
    if (rc == 0 && fp_sqlq_schedule_parse(value, &t, &fp) && strcmp(fp, fingerprint) == 0)
        *tick = t;
    free(value);
    return rc;
}

static int write_record(fp_sqlq_t *q, const char *space, const char *name, int64_t tick,
                        const char *fingerprint, fp_err_t *err)
{
    char *value = fp_sqlq_schedule_value(tick, fingerprint);
    if (value == NULL)
        return fp_err_set(err, -ENOMEM, "schedule %s: out of memory", name);
    int rc = fp_sqlq_kv_put(q, space, name, value, 0, err);
    free(value);
    return rc;
}

/* Inside the transaction: the rule itself. */
static int fire(fp_sqlq_t *q, const char *space, const char *queue, const char *name,
                const char *fingerprint, const fp_sqlq_tick_t *ticks, size_t n, int64_t now_ms,
                int64_t *fired, int64_t *recorded, fp_err_t *err)
{
    int64_t rec;
    int rc = read_record(q, space, name, fingerprint, &rec, err);
    if (rc < 0)
        return rc;
    if (rec < 0) {
        *recorded = now_ms;
        return write_record(q, space, name, now_ms, fingerprint, err);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (ticks[i].tick_ms <= rec)
            continue;
        fp_sqlq_row_new_t row = {queue, ticks[i].payload, strlen(ticks[i].payload), now_ms, 0};
        rc = fp_sqlq_insert(q, &row, now_ms, NULL, "adding a scheduled job", err);
        rec = ticks[i].tick_ms;
        *fired += rc == 0;
    }
    if (rc == 0 && *fired > 0)
        rc = write_record(q, space, name, rec, fingerprint, err);
    *recorded = rec;
    return rc;
}

int fp_sqlq_schedule_fire(fp_sqlq_t *q, const char *queue, const char *name,
                          const char *fingerprint, const fp_sqlq_tick_t *ticks, size_t n,
                          int64_t now_ms, int64_t *fired, int64_t *recorded, fp_err_t *err)
{
    *fired = 0;
    *recorded = -1;
    char *space = fp_sqlq_space_of(FP_SQLQ_SCHEDULE_SPACE, queue);
    if (space == NULL)
        return fp_err_set(err, -ENOMEM, "schedule %s: out of memory", name);
    int rc = fp_sqlq_begin(q, err);
    if (rc == 0)
        rc = fire(q, space, queue, name, fingerprint, ticks, n, now_ms, fired, recorded, err);
    rc = fp_sqlq_end(q, rc, err);
    free(space);
    if (rc < 0) {
        *fired = 0; /* rolled back: nothing was enqueued */
        *recorded = -1;
    }
    return rc;
}

int fp_sqlq_schedule_recorded(fp_sqlq_t *q, const char *queue, const char *name,
                              const char *fingerprint, int64_t *tick, fp_err_t *err)
{
    char *space = fp_sqlq_space_of(FP_SQLQ_SCHEDULE_SPACE, queue);
    if (space == NULL)
        return fp_err_set(err, -ENOMEM, "schedule %s: out of memory", name);
    int rc = read_record(q, space, name, fingerprint, tick, err);
    free(space);
    return rc;
}
