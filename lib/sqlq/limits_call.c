/* limits_call.c: the limit calls of limits.h carried to the embedded
 * queue's worker thread (fp_aq_call) for the daemon, which never runs SQL on
 * its loop. Each call copies what it was given (the caller's texts may go
 * before the worker runs) and frees it once answered. */
#include "sqlq/limits.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The wall clock in microseconds: the GCRA's unit, and a clock every daemon
 * on the file (one host) shares, as Redis' TIME is shared by its clients. */
static int64_t unix_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- take ------------------------------------------------------------------ */

typedef struct take_s {
    fp_limit_ask_t ask; /* its texts owned */
    fp_limit_reply_t rep;
    fp_limit_take_cb cb;
    void *ctx;
} take_t;

static void take_free(take_t *t)
{
    free((char *)t->ask.type);
    free((char *)t->ask.member);
    free(t);
}

static int take_work(fp_sqlq_t *store, void *arg, int64_t now_ms, fp_err_t *err)
{
    (void)now_ms; /* the GCRA wants microseconds */
    take_t *t = arg;
    return fp_sqlq_limit_take(store, &t->ask, unix_us(), &t->rep, err);
}

static void take_done(void *ctx, void *arg, int rc, const char *msg)
{
    (void)ctx;
    take_t *t = arg;
    t->cb(t->ctx, rc, &t->rep, msg);
    take_free(t);
}

int fp_aq_limit_take(fp_aq_t *aq, const fp_limit_ask_t *ask, fp_limit_take_cb cb, void *ctx)
{
    take_t *t = calloc(1, sizeof *t);
    if (t == NULL)
        return -ENOMEM;
    *t = (take_t){.ask = *ask, .cb = cb, .ctx = ctx};
    t->ask.type = strdup(ask->type);
    t->ask.member = strdup(ask->member != NULL ? ask->member : "");
    int rc = t->ask.type != NULL && t->ask.member != NULL ? fp_aq_call(aq, take_work, t, take_done,
                                                                       NULL)
                                                          : -ENOMEM;
    if (rc < 0)
        take_free(t);
    return rc;
}

/* ---- release and renew ----------------------------------------------------- */

typedef struct leases_s {
    char *type;
    char **members;
    size_t n;
    int64_t lease_ms, lost;
    fp_limit_release_cb release_cb;
    fp_limit_renew_cb renew_cb;
    void *ctx;
} leases_t;

static void leases_free(leases_t *l)
{
    for (size_t i = 0; l->members != NULL && i < l->n; i++)
        free(l->members[i]);
    free(l->members);
    free(l->type);
    free(l);
}

/* The call's own copy of its texts, with its callbacks (one of the two). */
static leases_t *leases_new(const char *type, const char *const *members, size_t n,
                            leases_t with)
{
    leases_t *l = calloc(1, sizeof *l);
    if (l == NULL)
        return NULL;
    *l = with;
    l->type = strdup(type);
    l->members = calloc(n > 0 ? n : 1, sizeof *l->members);
    l->n = n;
    bool ok = l->type != NULL && l->members != NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = (l->members[i] = strdup(members[i])) != NULL;
    if (!ok) {
        leases_free(l);
        return NULL;
    }
    return l;
}

static int release_work(fp_sqlq_t *store, void *arg, int64_t now_ms, fp_err_t *err)
{
    (void)now_ms;
    leases_t *l = arg;
    return fp_sqlq_limit_release(store, l->type, l->members[0], err);
}

static int renew_work(fp_sqlq_t *store, void *arg, int64_t now_ms, fp_err_t *err)
{
    (void)now_ms; /* the take's clock, so leases of both calls compare */
    leases_t *l = arg;
    return fp_sqlq_limit_renew(store, l->type, l->lease_ms, (const char *const *)l->members,
                               l->n, unix_us() / 1000, &l->lost, err);
}

static void leases_done(void *ctx, void *arg, int rc, const char *msg)
{
    (void)ctx, (void)msg;
    leases_t *l = arg;
    if (l->renew_cb != NULL)
        l->renew_cb(l->ctx, rc, l->lost);
    else if (l->release_cb != NULL)
        l->release_cb(l->ctx, rc);
    leases_free(l);
}

/* Posts l (NULL: out of memory) to the worker; l is freed when refused. */
static int leases_post(fp_aq_t *aq, leases_t *l, fp_aq_work_fn work)
{
    int rc = l != NULL ? fp_aq_call(aq, work, l, leases_done, NULL) : -ENOMEM;
    if (rc < 0 && l != NULL)
        leases_free(l);
    return rc;
}

int fp_aq_limit_release(fp_aq_t *aq, const char *type, const char *member,
                        fp_limit_release_cb cb, void *ctx)
{
    return leases_post(aq, leases_new(type, &member, 1, (leases_t){.release_cb = cb, .ctx = ctx}),
                       release_work);
}

int fp_aq_limit_renew(fp_aq_t *aq, const char *type, int64_t lease_ms,
                      const char *const *members, size_t n, fp_limit_renew_cb cb, void *ctx)
{
    leases_t with = {.lease_ms = lease_ms, .renew_cb = cb, .ctx = ctx};
    return leases_post(aq, leases_new(type, members, n, with), renew_work);
}
