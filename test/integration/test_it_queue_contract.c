/* test_it_queue_contract.c: the queue contract the supervisor relies on,
 * written once over its interface (fp_qmux_*, lib/queue/qmux.h) and run
 * against both backends (issue 19, item 7): Redis (a redis-server started
 * per test) and the embedded queue (a queue file in a temp dir). Each test
 * body below runs twice, named "redis: ..." and "sqlite: ..."; only the
 * producer's side and the reads of what the backend stores differ (the
 * backend_t table). Covered: pull then ack, retry with a delay (a new
 * entry, delayed, then delivered with the new payload), dead with the
 * reason, put-back at a drain keeps the order, the delivery count grows on
 * each redelivery (the own lease taken back at a restart, another
 * consumer's taken over once the visibility timeout passed), and --burst's
 * drained check (ready, held, own retries count; others' delayed jobs do
 * not), a schedule's fire rule (fp_qmux_schedule: a new schedule records
 * its start and fires nothing, then each newer tick fires once), and a
 * unique key released by a success and, with "until": "start", when the
 * job starts (fp_qmux_started). Where the backends differ on purpose it is
 * said at the check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "dispatch/job.h"
#include "queue/qmux.h"
#include "queue/unique.h"
#include "queue_fixture.h"
#include "sqlq/kv.h"
#include "sqlq/store.h"
#include "sqlq/unique.h"

#define Q "default"
#define DEADLINE_MS 30000
#define MAX_GOT 64

typedef struct ct_s ct_t;

/* A backend: how a producer adds a job, and what the backend stores. */
typedef struct backend_s {
    const char *name;
    fp_backend_t kind;
    void (*setup)(ct_t *t);
    void (*teardown)(ct_t *t);
    void (*enqueue)(ct_t *t, const char *payload, int64_t delay_ms);
    long long (*unsettled)(ct_t *t); /* ready + held + delayed jobs */
    long long (*delayed)(ct_t *t);   /* jobs not due yet */
    long long (*dead_with)(ct_t *t, const char *error, int64_t attempts);
    /* A unique job (payload with "id" = id and "unique"."key" = key); the
     * id holding key, NULL when none (owned). */
    void (*enqueue_unique)(ct_t *t, const char *key, const char *id, const char *payload);
    char *(*unique_holder)(ct_t *t, const char *key);
    /* `forkpool cancel`'s mark on a running job (its entry id). */
    void (*mark)(ct_t *t, const char *entry_id);
} backend_t;

typedef struct got_s {
    char *id, *payload;
    uint64_t deliveries;
} got_t;

/* One consumer: a mux with the supervisor's side of it. */
typedef struct node_s {
    ct_t *t;
    fp_config_t cfg;
    char name[32];
    const char *names[1];
    fp_qmux_t *m;
    bool ready, closed;
    got_t got[MAX_GOT];
    size_t ngot;
    int drained; /* -1 while a check is out */
    int turned;  /* on_retry_cancelled calls */
    char turned_kind;
    char turned_id[64], turned_payload[256];
} node_t;

struct ct_s {
    const backend_t *be;
    uv_loop_t loop;
    fp_th_redis_t redis;
    char url[128];
    char *dir;
    char path[4200];
    node_t a;
};

static int64_t unix_ms(void)
{
    return (int64_t)fp_th_unix_ms();
}

/* ---- Redis -------------------------------------------------------------- */

static void redis_setup(ct_t *t)
{
    assert_int_equal(fp_th_redis_start(&t->redis, NULL), 0);
    snprintf(t->url, sizeof t->url, "redis://127.0.0.1:%d/0", t->redis.port);
}

static void redis_teardown(ct_t *t)
{
    fp_th_redis_stop(&t->redis);
}

static void redis_enqueue(ct_t *t, const char *payload, int64_t delay_ms)
{
    if (delay_ms <= 0) {
        free(fp_tq_xadd(&t->redis, Q, payload));
        return;
    }
    redisReply *r = fp_th_redis_cmd(&t->redis, "ZADD %s %lld %s", fp_tq_key(Q, "delayed"),
                                    (long long)(unix_ms() + delay_ms), payload);
    assert_non_null(r);
    freeReplyObject(r);
}

static long long redis_delayed(ct_t *t)
{
    return fp_th_redis_int(&t->redis, "ZCARD %s", fp_tq_key(Q, "delayed"));
}

/* An acked entry is deleted from the stream (XACK + XDEL), so the stream's
 * length counts the ready and the pending ones. */
static long long redis_unsettled(ct_t *t)
{
    return fp_tq_xlen(&t->redis, Q) + redis_delayed(t);
}

static long long redis_dead_with(ct_t *t, const char *error, int64_t attempts)
{
    redisReply *r = fp_th_redis_cmd(&t->redis, "XRANGE %s - +", fp_tq_key(Q, "dead"));
    assert_non_null(r);
    char want_attempts[32];
    snprintf(want_attempts, sizeof want_attempts, "%lld", (long long)attempts);
    long long n = 0;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        redisReply *f = r->element[i]->element[1];
        bool err_ok = false, att_ok = false;
        for (size_t k = 0; k + 1 < f->elements; k += 2) {
            const char *key = f->element[k]->str, *val = f->element[k + 1]->str;
            err_ok = err_ok || (strcmp(key, "error") == 0 && strcmp(val, error) == 0);
            att_ok = att_ok || (strcmp(key, "attempts") == 0 && strcmp(val, want_attempts) == 0);
        }
        n += err_ok && att_ok;
    }
    freeReplyObject(r);
    return n;
}

static void redis_enqueue_unique(ct_t *t, const char *key, const char *id, const char *payload)
{
    char *ukey = fp_unique_key("fp", Q, key);
    redisReply *r = fp_th_redis_cmd(&t->redis, "EVAL %s 3 %s %s %s %s 3600000 %s -1",
                                    fp_script_unique_enqueue, ukey, fp_tq_key(Q, "jobs"),
                                    fp_tq_key(Q, "delayed"), id, payload);
    free(ukey);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->element[0]->integer, 1);
    freeReplyObject(r);
}

static char *redis_unique_holder(ct_t *t, const char *key)
{
    char *ukey = fp_unique_key("fp", Q, key);
    redisReply *r = fp_th_redis_cmd(&t->redis, "GET %s", ukey);
    free(ukey);
    assert_non_null(r);
    char *v = r->type == REDIS_REPLY_STRING ? strdup(r->str) : NULL;
    freeReplyObject(r);
    return v;
}

static void redis_mark(ct_t *t, const char *entry_id)
{
    freeReplyObject(fp_th_redis_cmd(&t->redis, "HSET %s %s 1", fp_tq_key(Q, "cancel"), entry_id));
}

/* ---- the embedded queue ------------------------------------------------- */

static void sqlite_setup(ct_t *t)
{
    t->dir = fp_th_tmpdir();
    assert_non_null(t->dir);
    snprintf(t->path, sizeof t->path, "%s/queue.db", t->dir);
}

static void sqlite_teardown(ct_t *t)
{
    fp_th_tmpdir_free(t->dir);
}

static void sqlite_enqueue(ct_t *t, const char *payload, int64_t delay_ms)
{
    fp_sqlq_t *q = NULL;
    fp_err_t err = {0};
    if (fp_sqlq_open(t->path, 0, &q, &err) < 0)
        fail_msg("cannot open %s: %s", t->path, err.msg);
    if (fp_sqlq_enqueue(q, Q, payload, strlen(payload), delay_ms, unix_ms(), NULL, &err) < 0)
        fail_msg("enqueue: %s", err.msg);
    fp_sqlq_close(q);
}

static long long sqlite_unsettled(ct_t *t)
{
    return fp_td_sql_at(t->path, "SELECT count(*) FROM jobs");
}

static long long sqlite_delayed(ct_t *t)
{
    return fp_td_sql_at(t->path, "SELECT count(*) FROM jobs WHERE owner IS NULL AND avail_at > %lld",
                        (long long)unix_ms());
}

static long long sqlite_dead_with(ct_t *t, const char *error, int64_t attempts)
{
    return fp_td_sql_at(t->path, "SELECT count(*) FROM dead WHERE error = '%s' AND attempts = %lld",
                        error, (long long)attempts);
}

static void sqlite_enqueue_unique(ct_t *t, const char *key, const char *id, const char *payload)
{
    fp_sqlq_t *q = NULL;
    fp_err_t err = {0};
    bool dup = true;
    char *holder = NULL;
    if (fp_sqlq_open(t->path, 0, &q, &err) < 0)
        fail_msg("cannot open %s: %s", t->path, err.msg);
    fp_sqlq_unique_new_t job = {Q, key, id, 3600000, 0, payload, strlen(payload)};
    if (fp_sqlq_unique_enqueue(q, &job, unix_ms(), &dup, &holder, NULL, &err) < 0)
        fail_msg("unique enqueue: %s", err.msg);
    assert_false(dup);
    free(holder);
    fp_sqlq_close(q);
}

static char *sqlite_unique_holder(ct_t *t, const char *key)
{
    fp_sqlq_t *q = NULL;
    fp_err_t err = {0};
    char *v = NULL;
    if (fp_sqlq_open(t->path, 0, &q, &err) < 0)
        fail_msg("cannot open %s: %s", t->path, err.msg);
    int rc = fp_sqlq_kv_get(q, FP_SQLQ_UNIQUE_SPACE Q, key, unix_ms(), &v, NULL, &err);
    assert_true(rc == 0 || rc == -ENOENT);
    fp_sqlq_close(q);
    return v;
}

/* As `forkpool cancel` marks a leased row: kv "cancel", key the row id. */
static void sqlite_mark(ct_t *t, const char *entry_id)
{
    const char *dash = strrchr(entry_id, '-');
    assert_non_null(dash);
    fp_sqlq_t *q = NULL;
    fp_err_t err = {0};
    if (fp_sqlq_open(t->path, 0, &q, &err) < 0)
        fail_msg("cannot open %s: %s", t->path, err.msg);
    assert_int_equal(fp_sqlq_kv_put(q, "cancel", dash + 1, "1", unix_ms() + 86400000, &err), 0);
    fp_sqlq_close(q);
}

static const backend_t backends[] = {
    {"redis", FP_BACKEND_REDIS, redis_setup, redis_teardown, redis_enqueue, redis_unsettled,
     redis_delayed, redis_dead_with, redis_enqueue_unique, redis_unique_holder, redis_mark},
    {"sqlite", FP_BACKEND_SQLITE, sqlite_setup, sqlite_teardown, sqlite_enqueue,
     sqlite_unsettled, sqlite_delayed, sqlite_dead_with, sqlite_enqueue_unique,
     sqlite_unique_holder, sqlite_mark},
};

/* ---- the supervisor's side ---------------------------------------------- */

static void on_jobs(void *ctx, fp_pulled_t *jobs, size_t n)
{
    node_t *d = ctx;
    for (size_t i = 0; i < n; i++) {
        assert_true(d->ngot < MAX_GOT);
        d->got[d->ngot++] = (got_t){jobs[i].entry_id, jobs[i].payload, jobs[i].deliveries};
        jobs[i].entry_id = jobs[i].payload = NULL;
    }
}

static void on_ready(void *ctx, bool ready)
{
    ((node_t *)ctx)->ready = ready;
}

static void on_closed(void *ctx)
{
    ((node_t *)ctx)->closed = true;
}

static bool is_ready(void *ctx, size_t arg)
{
    (void)arg;
    return ((node_t *)ctx)->ready;
}

static bool got_at_least(void *ctx, size_t n)
{
    return ((node_t *)ctx)->ngot >= n;
}

static bool confirmed(void *ctx, size_t arg)
{
    (void)arg;
    return fp_qmux_unconfirmed(((node_t *)ctx)->m) == 0;
}

static bool closed(void *ctx, size_t arg)
{
    (void)arg;
    return ((node_t *)ctx)->closed;
}

static void run_until(node_t *d, fp_tq_cond_fn cond, size_t arg, const char *what)
{
    if (!fp_tq_run_until(&d->t->loop, cond, d, arg, DEADLINE_MS))
        fail_msg("%s: %s never happened", d->t->be->name, what);
}

static void on_retry_cancelled(void *ctx, uint32_t queue, const char *entry_id, char kind,
                               const char *payload, size_t len)
{
    node_t *d = ctx;
    assert_int_equal(queue, 0);
    d->turned++;
    d->turned_kind = kind;
    snprintf(d->turned_id, sizeof d->turned_id, "%s", entry_id);
    snprintf(d->turned_payload, sizeof d->turned_payload, "%.*s", (int)len,
             payload != NULL ? payload : "");
}

/* Opens consumer `name` on the default queue and waits until it is ready;
 * vt_ms > 0 sets recovery.visibility_timeout (with a 100 ms claim interval). */
static void node_open(ct_t *t, node_t *d, const char *name, int64_t vt_ms)
{
    memset(d, 0, sizeof *d);
    d->t = t;
    snprintf(d->name, sizeof d->name, "%s", name);
    fp_tq_config_init(&d->cfg, d->name, t->url);
    d->cfg.queue.backend = t->be->kind;
    d->cfg.sqlite.path = t->path;
    d->cfg.recovery.visibility_timeout_ms = vt_ms;
    d->cfg.recovery.claim_interval_ms = vt_ms > 0 ? 100 : 0;
    d->names[0] = Q;
    fp_err_t err = {0};
    static const fp_queue_events_t events = {on_jobs, on_ready, NULL, on_retry_cancelled};
    if (fp_qmux_new(&t->loop, &d->cfg, d->names, 1, NULL, &events, d, &d->m, &err) < 0)
        fail_msg("%s: fp_qmux_new: %s", t->be->name, err.msg);
    assert_int_equal(fp_qmux_start(d->m), 0);
    run_until(d, is_ready, 0, "ready");
}

static void node_forget(node_t *d)
{
    for (size_t i = 0; i < d->ngot; i++) {
        free(d->got[i].id);
        free(d->got[i].payload);
    }
    d->ngot = 0;
}

/* Closes without outcomes for what it holds: as after a crash, those stay
 * held by this consumer. */
static void node_close(node_t *d)
{
    if (d->m == NULL)
        return;
    fp_qmux_close(d->m, on_closed, d);
    run_until(d, closed, 0, "closed");
    d->m = NULL;
    node_forget(d);
}

static void take(node_t *d, size_t n)
{
    fp_qmux_want(d->m, n);
    run_until(d, got_at_least, n, "the jobs delivered");
}

static void settle(node_t *d)
{
    run_until(d, confirmed, 0, "the outcomes confirmed");
}

static void on_drained(void *ctx, bool drained)
{
    ((node_t *)ctx)->drained = drained ? 1 : 0;
}

static bool drained_known(void *ctx, size_t arg)
{
    (void)arg;
    return ((node_t *)ctx)->drained >= 0;
}

static bool drained(node_t *d)
{
    d->drained = -1;
    fp_qmux_check_drained(d->m, on_drained, d);
    run_until(d, drained_known, 0, "the drained answer");
    return d->drained == 1;
}

static int setup(void **state)
{
    ct_t *t = calloc(1, sizeof *t);
    assert_non_null(t);
    t->be = *state;
    assert_int_equal(uv_loop_init(&t->loop), 0);
    t->be->setup(t);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    ct_t *t = *state;
    node_close(&t->a);
    uv_run(&t->loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&t->loop), 0);
    t->be->teardown(t);
    free(t);
    return 0;
}

static char *payload_of(int i)
{
    static char buf[4][96];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, 96, "{\"type\":\"noop\",\"args\":{\"i\":%d}}", i);
    return p;
}

/* ---- the contract ------------------------------------------------------- */

/* Jobs come in the order they were added, each delivered once, and an ack
 * removes each for good. */
static void test_pull_then_ack(void **state)
{
    ct_t *t = *state;
    for (int i = 0; i < 3; i++)
        t->be->enqueue(t, payload_of(i), 0);
    node_open(t, &t->a, "one", 0);
    take(&t->a, 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(t->a.got[i].payload, payload_of(i));
        assert_int_equal(t->a.got[i].deliveries, 1);
        fp_qmux_ack(t->a.m, 0, t->a.got[i].id);
    }
    settle(&t->a);
    assert_int_equal(t->be->unsettled(t), 0);
    assert_true(drained(&t->a));
}

/* A retry is a new entry with the caller's payload, due after the delay:
 * one retried an hour ahead stays delayed (not delivered), one retried
 * 300 ms ahead comes back with its new payload as a first delivery. */
static void test_retry_with_delay(void **state)
{
    ct_t *t = *state;
    t->be->enqueue(t, payload_of(0), 0);
    t->be->enqueue(t, payload_of(1), 0);
    node_open(t, &t->a, "one", 0);
    take(&t->a, 2);
    const char *far = "{\"type\":\"noop\",\"attempt\":1,\"args\":{\"i\":0}}";
    const char *soon = "{\"type\":\"noop\",\"attempt\":1,\"args\":{\"i\":1}}";
    fp_qmux_retry(t->a.m, 0, t->a.got[0].id, far, strlen(far), 3600000);
    fp_qmux_retry(t->a.m, 0, t->a.got[1].id, soon, strlen(soon), 300);
    settle(&t->a);
    fp_qmux_want(t->a.m, 10);
    run_until(&t->a, got_at_least, 3, "the retried job back");
    assert_string_equal(t->a.got[2].payload, soon);
    assert_int_equal(t->a.got[2].deliveries, 1);
    assert_string_not_equal(t->a.got[2].id, t->a.got[1].id);
    assert_int_equal(t->be->delayed(t), 1); /* the far one */
    fp_qmux_ack(t->a.m, 0, t->a.got[2].id);
    settle(&t->a);
    assert_int_equal(t->be->unsettled(t), 1);
    assert_int_equal(t->a.ngot, 3);
}

/* Dead: the job leaves the queue and the dead list has it with its reason
 * and attempts. */
static void test_dead_with_reason(void **state)
{
    ct_t *t = *state;
    t->be->enqueue(t, payload_of(0), 0);
    node_open(t, &t->a, "one", 0);
    take(&t->a, 1);
    const char *p = t->a.got[0].payload;
    fp_qmux_dead(t->a.m, 0, t->a.got[0].id, p, strlen(p), "boom: the reason", 3);
    settle(&t->a);
    assert_int_equal(t->be->unsettled(t), 0);
    assert_int_equal(t->be->dead_with(t, "boom: the reason", 3), 1);
}

/* A drain puts never-started jobs back: another consumer then gets them in
 * the order they had, each as a first delivery again (a put-back is not an
 * attempt). */
static void test_put_back_at_drain_keeps_order(void **state)
{
    ct_t *t = *state;
    for (int i = 0; i < 4; i++)
        t->be->enqueue(t, payload_of(i), 0);
    node_open(t, &t->a, "one", 0);
    take(&t->a, 4);
    fp_qmux_drain(t->a.m);
    for (size_t i = 0; i < 4; i++) {
        const char *p = t->a.got[i].payload;
        fp_qmux_put_back(t->a.m, 0, t->a.got[i].id, p, strlen(p));
    }
    settle(&t->a);
    node_close(&t->a);
    node_open(t, &t->a, "two", 0);
    take(&t->a, 4);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(t->a.got[i].payload, payload_of(i));
        assert_int_equal(t->a.got[i].deliveries, 1);
    }
}

/* A job held without an outcome by a consumer that went away comes back
 * with its delivery count grown: at once to the same consumer name (its
 * restart), then to another consumer once the visibility timeout passed
 * (the lease taken over). This count is what poison detection reads. */
static void test_redelivery_counts_and_lease_takeover(void **state)
{
    ct_t *t = *state;
    t->be->enqueue(t, payload_of(7), 0);
    node_open(t, &t->a, "one", 500);
    take(&t->a, 1);
    assert_int_equal(t->a.got[0].deliveries, 1);
    node_close(&t->a);
    node_open(t, &t->a, "one", 500);
    take(&t->a, 1);
    assert_int_equal(t->a.got[0].deliveries, 2);
    node_close(&t->a);
    node_open(t, &t->a, "two", 500);
    take(&t->a, 1);
    assert_string_equal(t->a.got[0].payload, payload_of(7));
    assert_int_equal(t->a.got[0].deliveries, 3);
    fp_qmux_ack(t->a.m, 0, t->a.got[0].id);
    settle(&t->a);
    assert_int_equal(t->be->unsettled(t), 0);
}

/* --burst's question: not drained while a job is ready or held, or while a
 * retry this consumer made (after fp_qmux_track_retries) waits; a delayed
 * job someone else added does not count. */
static void test_burst_drained_check(void **state)
{
    ct_t *t = *state;
    node_open(t, &t->a, "one", 0);
    fp_qmux_track_retries(t->a.m);
    assert_true(drained(&t->a));
    t->be->enqueue(t, payload_of(0), 0);
    assert_false(drained(&t->a)); /* ready */
    take(&t->a, 1);
    assert_false(drained(&t->a)); /* held */
    fp_qmux_ack(t->a.m, 0, t->a.got[0].id);
    settle(&t->a);
    assert_true(drained(&t->a));
    t->be->enqueue(t, payload_of(1), 3600000);
    assert_true(drained(&t->a)); /* someone else's delayed job */
    t->be->enqueue(t, payload_of(2), 0);
    take(&t->a, 2);
    const char *again = "{\"type\":\"noop\",\"attempt\":1,\"args\":{\"i\":2}}";
    fp_qmux_retry(t->a.m, 0, t->a.got[1].id, again, strlen(again), 3600000);
    settle(&t->a);
    assert_false(drained(&t->a)); /* its own retry, an hour ahead */
}

/* ---- schedules ---------------------------------------------------------- */

typedef struct sched_reply_s {
    bool done, ok;
    int64_t fired, recorded;
} sched_reply_t;

static void on_sched(void *ctx, bool ok, int64_t fired, int64_t recorded)
{
    *(sched_reply_t *)ctx = (sched_reply_t){true, ok, fired, recorded};
}

static bool sched_done(void *ctx, size_t arg)
{
    (void)arg;
    return ((sched_reply_t *)ctx)->done;
}

static sched_reply_t schedule(node_t *d, const fp_schedule_t *s, const int64_t *ticks, size_t n)
{
    sched_reply_t r = {0};
    assert_int_equal(fp_qmux_schedule(d->m, 0, s, ticks, n, on_sched, &r), 0);
    if (!fp_tq_run_until(&d->t->loop, sched_done, &r, 0, DEADLINE_MS))
        fail_msg("%s: the schedule's answer never came", d->t->be->name);
    assert_true(r.ok);
    return r;
}

/* The fire script's rule through the mux: a new schedule records its start
 * (the backend's clock) and fires nothing; then the ticks newer than the
 * record fire once each, as jobs with the tick's id, and the record moves. */
static void test_schedule_fires_each_newer_tick_once(void **state)
{
    ct_t *t = *state;
    node_open(t, &t->a, "one", 0);
    fp_schedule_t s = {.name = "tick", .expr = "1s", .type = "noop", .args_json = "{}",
                       .queue = Q, .when = {.every_ms = 1000}};
    int64_t before = unix_ms();
    sched_reply_t r = schedule(&t->a, &s, NULL, 0);
    assert_int_equal(r.fired, 0);
    assert_true(r.recorded >= before - 1000 && r.recorded <= unix_ms() + 1000);
    int64_t start = r.recorded;
    int64_t ticks[] = {start - 1000, start + 1000, start + 2000};
    r = schedule(&t->a, &s, ticks, 3);
    assert_int_equal(r.fired, 2);
    assert_int_equal(r.recorded, start + 2000);
    r = schedule(&t->a, &s, ticks, 3);
    assert_int_equal(r.fired, 0);
    assert_int_equal(t->be->unsettled(t), 2);
    take(&t->a, 2);
    char id[64];
    assert_true(fp_schedule_job_id("tick", start + 1000, id, sizeof id));
    assert_non_null(strstr(t->a.got[0].payload, id));
}

/* ---- unique jobs -------------------------------------------------------- */

static bool key_free(void *ctx, size_t arg)
{
    ct_t *t = ctx;
    char *v = t->be->unique_holder(t, (const char *)arg);
    free(v);
    return v == NULL;
}

/* A success frees the key; with "until": "start", the job's start does,
 * while its outcome is still to come. */
static void test_unique_released_by_success_and_at_start(void **state)
{
    ct_t *t = *state;
    t->be->enqueue_unique(t, "k1", "j1", "{\"type\":\"noop\",\"id\":\"j1\","
                                          "\"unique\":{\"key\":\"k1\"}}");
    t->be->enqueue_unique(t, "k2", "j2", "{\"type\":\"noop\",\"id\":\"j2\","
                                          "\"unique\":{\"key\":\"k2\",\"until\":\"start\"}}");
    node_open(t, &t->a, "one", 0);
    take(&t->a, 2);
    char *held = t->be->unique_holder(t, "k1");
    assert_string_equal(held, "j1");
    free(held);
    fp_qmux_ack(t->a.m, 0, t->a.got[0].id);
    settle(&t->a);
    assert_true(key_free(t, (size_t)"k1"));

    fp_job_t job = {0};
    fp_err_t err = {0};
    const char *p = t->a.got[1].payload;
    assert_int_equal(fp_job_parse(p, strlen(p), 1 << 20, &job, &err), 0);
    fp_qmux_started(t->a.m, 0, &job);
    fp_job_clear(&job);
    if (!fp_tq_run_until(&t->loop, key_free, t, (size_t)"k2", DEADLINE_MS))
        fail_msg("%s: the key never released at start", t->be->name);
    assert_int_equal(fp_qmux_unconfirmed(t->a.m), 0);
    assert_int_equal(t->be->unsettled(t), 1); /* the started job itself is still held */
}

/* A job marked by `forkpool cancel` while it runs, whose retry comes before
 * the daemon took the mark: the retry becomes its dead letter "cancelled",
 * and the queue tells the supervisor (on_retry_cancelled) which job and
 * with the payload the retry carried, so that its ledger and metrics say
 * cancelled, not retried. An unmarked retry is retried and reported as
 * nothing else. */
static void test_retry_of_a_marked_job_is_reported_cancelled(void **state)
{
    ct_t *t = *state;
    t->be->enqueue(t, "{\"type\":\"noop\",\"id\":\"j-1\"}", 0);
    t->be->enqueue(t, "{\"type\":\"noop\",\"id\":\"j-2\"}", 0);
    node_open(t, &t->a, "one", 0);
    take(&t->a, 2);
    const char *retry = "{\"type\":\"noop\",\"id\":\"j-1\",\"attempt\":1}";
    t->be->mark(t, t->a.got[0].id);
    fp_qmux_retry(t->a.m, 0, t->a.got[0].id, retry, strlen(retry), 5);
    const char *other = "{\"type\":\"noop\",\"id\":\"j-2\",\"attempt\":1}";
    fp_qmux_retry(t->a.m, 0, t->a.got[1].id, other, strlen(other), 3600000);
    settle(&t->a);
    assert_int_equal(t->a.turned, 1);
    assert_string_equal(t->a.turned_id, t->a.got[0].id);
    assert_int_equal(t->a.turned_kind, 'r');
    assert_string_equal(t->a.turned_payload, retry);
    assert_int_equal(t->be->dead_with(t, "cancelled", 1), 1);
    assert_int_equal(t->be->delayed(t), 1); /* j-2's retry, and only it */
}

#define BOTH(f)                                                                             \
    {"redis: " #f, f, setup, teardown, (void *)&backends[0]},                               \
        {"sqlite: " #f, f, setup, teardown, (void *)&backends[1]}

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_pull_then_ack),
        BOTH(test_retry_with_delay),
        BOTH(test_dead_with_reason),
        BOTH(test_put_back_at_drain_keeps_order),
        BOTH(test_redelivery_counts_and_lease_takeover),
        BOTH(test_burst_drained_check),
        BOTH(test_schedule_fires_each_newer_tick_once),
        BOTH(test_unique_released_by_success_and_at_start),
        BOTH(test_retry_of_a_marked_job_is_reported_cancelled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
