/* limits.c: a type's shared concurrency and rate limits in the queue file's
 * kv table (limits.h): the SQL twin of fp_limit_take_lua and
 * fp_limit_renew_lua, step for step, with the GCRA arithmetic taken from
 * lib/limits/rate.c rather than written a third time. */
#include "sqlq/limits.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "limits/rate.h"
#include "sqlq/kv.h"
#include "sqlq/store_internal.h"

#define RATE_SPACE "limit-rate"

/* "limit:TYPE", owned; NULL when out of memory. */
static char *running_space(const char *type)
{
    size_t n = strlen("limit:") + strlen(type) + 1;
    char *s = malloc(n);
    if (s != NULL)
        snprintf(s, n, "limit:%s", type);
    return s;
}

static int no_memory(fp_sqlq_t *q, fp_err_t *err)
{
    return fp_err_set(err, -ENOMEM, "queue file %s: out of memory", q->path);
}

/* A lease in space for member: true when it holds one live at now_ms. */
static int holds(fp_sqlq_t *q, const char *space, const char *member, int64_t now_ms,
                 bool *held, fp_err_t *err)
{
    int rc = fp_sqlq_kv_get(q, space, member, now_ms, NULL, NULL, err);
    *held = rc == 0;
    return rc == -ENOENT ? 0 : rc;
}

/* The concurrency half: *refused when the type's live leases are all out. */
static int take_lease(fp_sqlq_t *q, const char *space, const fp_limit_ask_t *ask,
                      int64_t now_ms, bool *refused, fp_err_t *err)
{
    bool held = false;
    int64_t live = 0;
    /* Expired leases go, as ZREMRANGEBYSCORE drops them: the table does not
     * grow with the leases of daemons that died. */
    int rc = fp_sqlq_kv_purge(q, space, now_ms, NULL, err);
    if (rc == 0)
        rc = holds(q, space, ask->member, now_ms, &held, err);
    if (rc == 0 && !held)
        rc = fp_sqlq_kv_count(q, space, now_ms, &live, err);
    *refused = rc == 0 && !held && live >= ask->concurrency;
    if (rc < 0 || *refused)
        return rc;
    return fp_sqlq_kv_put(q, space, ask->member, "", now_ms + ask->lease_ms, err);
}

/* The rate half: one GCRA step on the stored TAT; *retry_us > 0 refused. */
static int take_slot(fp_sqlq_t *q, const fp_limit_ask_t *ask, int64_t now_us,
                     int64_t *retry_us, fp_err_t *err)
{
    int64_t now_ms = now_us / 1000, stored = 0, tat;
    char *text = NULL;
    int rc = fp_sqlq_kv_get(q, RATE_SPACE, ask->type, now_ms, &text, NULL, err);
    if (rc == 0)
        stored = strtoll(text, NULL, 10);
    free(text);
    if (rc < 0 && rc != -ENOENT)
        return rc;
    rc = 0;
    bool ok = fp_gcra_take(stored, now_us, ask->interval_us, ask->tolerance_us, &tat, retry_us);
    if (tat != stored) {
        /* Kept until the TAT is past, as the script's PX: a later start
         * finds no state, which reads as an idle type (TAT 0). */
        char value[24];
        snprintf(value, sizeof value, "%" PRId64, tat);
        rc = fp_sqlq_kv_put(q, RATE_SPACE, ask->type, value,
                            now_ms + fp_limit_retry_ms(tat - now_us) + 1, err);
    }
    if (rc == 0 && ok)
        *retry_us = 0;
    return rc < 0 ? rc : 0;
}

static int take_in_tx(fp_sqlq_t *q, const char *space, const fp_limit_ask_t *ask,
                      int64_t now_us, fp_limit_reply_t *out, fp_err_t *err)
{
    bool refused = false;
    int64_t retry_us = 0;
    int rc = 0;
    *out = (fp_limit_reply_t){.allowed = true, .why = FP_LIMIT_CONCURRENCY};
    if (ask->concurrency > 0 &&
        ((rc = take_lease(q, space, ask, now_us / 1000, &refused, err)) < 0 || refused)) {
        out->allowed = false;
        return rc;
    }
    if (ask->interval_us <= 0 || (rc = take_slot(q, ask, now_us, &retry_us, err)) < 0 ||
        retry_us == 0)
        return rc;
    /* Even a lease held before goes: the daemon forgets its lease on a
     * refusal, so nothing would renew or release it. */
    *out = (fp_limit_reply_t){false, FP_LIMIT_RATE, fp_limit_retry_ms(retry_us)};
    return fp_sqlq_kv_del(q, space, ask->member, NULL, NULL, err);
}

int fp_sqlq_limit_take(fp_sqlq_t *q, const fp_limit_ask_t *ask, int64_t now_us,
                       fp_limit_reply_t *out, fp_err_t *err)
{
    char *space = running_space(ask->type);
    if (space == NULL)
        return no_memory(q, err);
    int rc = fp_sqlq_begin(q, err);
    if (rc == 0)
        rc = fp_sqlq_end(q, take_in_tx(q, space, ask, now_us, out, err), err);
    free(space);
    return rc;
}

int fp_sqlq_limit_release(fp_sqlq_t *q, const char *type, const char *member, fp_err_t *err)
{
    char *space = running_space(type);
    if (space == NULL)
        return no_memory(q, err);
    /* One statement: atomic without a transaction of its own. */
    int rc = fp_sqlq_kv_del(q, space, member, NULL, NULL, err);
    free(space);
    return rc;
}

static int renew_in_tx(fp_sqlq_t *q, const char *space, int64_t lease_ms,
                       const char *const *members, size_t n, int64_t now_ms, int64_t *lost,
                       fp_err_t *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        bool held = false;
        rc = holds(q, space, members[i], now_ms, &held, err);
        *lost += rc == 0 && !held;
        if (rc == 0)
            rc = fp_sqlq_kv_put(q, space, members[i], "", now_ms + lease_ms, err);
    }
    return rc;
}

int fp_sqlq_limit_renew(fp_sqlq_t *q, const char *type, int64_t lease_ms,
                        const char *const *members, size_t n, int64_t now_ms, int64_t *lost,
                        fp_err_t *err)
{
    char *space = running_space(type);
    *lost = 0;
    if (space == NULL)
        return no_memory(q, err);
    int rc = fp_sqlq_begin(q, err);
    if (rc == 0)
        rc = fp_sqlq_end(q, renew_in_tx(q, space, lease_ms, members, n, now_ms, lost, err), err);
    free(space);
    return rc;
}
