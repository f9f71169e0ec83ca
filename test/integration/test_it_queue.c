/* test_it_queue.c: the Redis queue (lib/queue/, queue.h) against a real
 * redis-server, driven by a real libuv loop in this process the way the
 * supervisor drives it: say the room, take jobs, report outcomes. Each test
 * starts its own server and checks Redis' own view (XLEN, XPENDING, the dead
 * stream) rather than trusting the queue. Deadlines only stop hangs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/stream_id.h"
#include "queue/queue.h"
#include "harness.h"
#include "queue_fixture.h"
#include "redis_server.h"

#define DEADLINE_MS FP_TQ_DEADLINE_MS

typedef struct tq_s {
    fp_th_redis_t redis;
    bool redis_running;
    uv_loop_t loop;
    fp_tq_node_t n; /* the queue and a small supervisor */
    int drained;    /* -1 unknown, 0, 1 */
} tq_t;

static bool run_until(tq_t *t, fp_tq_cond_fn cond, size_t arg, int deadline_ms)
{
    return fp_tq_run_until(&t->loop, cond, t, arg, deadline_ms);
}

/* The queue's config (consumer "test-consumer"), before opening it. */
static void config_init(tq_t *t, const char *url)
{
    fp_tq_node_got_clear(&t->n);
    fp_tq_node_init(&t->n, &t->loop, "test-consumer", url);
}

static int setup(void **state)
{
    tq_t *t = calloc(1, sizeof *t);
    assert_non_null(t);
    assert_int_equal(uv_loop_init(&t->loop), 0);
    t->drained = -1;
    *state = t;
    return 0;
}

static int setup_redis(void **state)
{
    setup(state);
    tq_t *t = *state;
    assert_int_equal(fp_th_redis_start(&t->redis, NULL), 0);
    t->redis_running = true;
    config_init(t, fp_th_redis_url(&t->redis));
    return 0;
}

static int teardown(void **state)
{
    tq_t *t = *state;
    fp_tq_node_teardown(&t->n);
    if (t->redis_running)
        fp_th_redis_stop(&t->redis);
    free(t);
    return 0;
}

/* ---- tests ----------------------------------------------------------------- */

/* The group is created with MKSTREAM, from id 0: jobs added before it existed
 * are delivered. */
static void test_group_created_from_zero(void **state)
{
    tq_t *t = *state;
    char *early = fp_tq_xadd(&t->redis, "beta", "{\"type\":\"noop\"}");
    const char *names[] = {"alpha", "beta"};
    fp_tq_node_open(&t->n, names, 2);
    assert_true(fp_tq_wait_ready(&t->n, true, DEADLINE_MS));
    assert_int_equal(fp_th_redis_int(&t->redis, "EXISTS %s", fp_tq_key("alpha", "jobs")), 1);
    redisReply *r = fp_th_redis_cmd(&t->redis, "XINFO GROUPS %s", fp_tq_key("alpha", "jobs"));
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 1);
    freeReplyObject(r);
    fp_tq_node_want(&t->n, 10);
    assert_true(fp_tq_wait_got(&t->n, 1, DEADLINE_MS));
    assert_string_equal(t->n.got[0].id, early);
    assert_int_equal(t->n.got[0].queue, 1);
    assert_string_equal(t->n.got[0].payload, "{\"type\":\"noop\"}");
    free(early);
}

static bool pending_is(void *ctx, size_t n)
{
    tq_t *t = ctx;
    return fp_tq_pending(&t->redis, "bound") == (long long)n;
}

/* want(3) with 100 ready: exactly 3 arrive, and Redis delivered no more. */
static void test_pull_bound(void **state)
{
    tq_t *t = *state;
    fp_tq_xadd_n(&t->redis, "bound", 100);
    fp_tq_node_open_ready(&t->n, "bound");
    fp_tq_node_want(&t->n, 3);
    assert_true(fp_tq_wait_got(&t->n, 3, DEADLINE_MS));
    fp_tq_run_for(&t->loop, 50); /* give a wrong extra read the chance to happen */
    assert_int_equal(t->n.ngot, 3);
    assert_true(pending_is(t, 3));
    assert_false(t->n.over_room);
}

static bool all_acked(void *ctx, size_t n)
{
    tq_t *t = ctx;
    /* The supervisor's turn: finish up to two held jobs, then say the room. */
    for (int k = 0; k < 2 && t->n.acked < t->n.ngot; k++) {
        fp_queue_ack(t->n.q, t->n.got[t->n.acked].queue, t->n.got[t->n.acked].id);
        t->n.acked++;
        t->n.held--;
    }
    t->n.room = t->n.bound - t->n.held;
    fp_queue_want(t->n.q, t->n.room);
    return t->n.acked >= n && fp_queue_unconfirmed(t->n.q) == 0;
}

/* Over many turns the holder never holds more than its bound. */
static void test_pull_bound_many_turns(void **state)
{
    tq_t *t = *state;
    fp_tq_xadd_n(&t->redis, "bound", 300);
    fp_tq_node_open_ready(&t->n, "bound");
    t->n.bound = 7;
    fp_tq_node_want(&t->n, 7);
    assert_true(run_until(t, all_acked, 300, DEADLINE_MS * 3));
    assert_int_equal(t->n.ngot, 300);
    assert_false(t->n.over_room);
    assert_true(t->n.max_held <= 7);
    assert_int_equal(fp_tq_xlen(&t->redis, "bound"), 0);
    assert_int_equal(fp_tq_pending(&t->redis, "bound"), 0);
}

static void ack_all(tq_t *t)
{
    for (; t->n.acked < t->n.ngot; t->n.acked++)
        fp_queue_ack(t->n.q, t->n.got[t->n.acked].queue, t->n.got[t->n.acked].id);
    assert_true(fp_tq_wait_confirmed(&t->n, DEADLINE_MS));
}

/* Strict order: the first queue is emptied before the second is read. */
static void test_strict_order(void **state)
{
    tq_t *t = *state;
    fp_tq_xadd_n(&t->redis, "lo", 5);
    fp_tq_xadd_n(&t->redis, "hi", 5);
    const char *names[] = {"hi", "lo"};
    fp_tq_node_open(&t->n, names, 2);
    assert_true(fp_tq_wait_ready(&t->n, true, DEADLINE_MS));
    fp_tq_node_want(&t->n, 3);
    assert_true(fp_tq_wait_got(&t->n, 3, DEADLINE_MS));
    ack_all(t);
    fp_tq_node_want(&t->n, 3);
    assert_true(fp_tq_wait_got(&t->n, 6, DEADLINE_MS));
    ack_all(t);
    fp_tq_node_want(&t->n, 10);
    assert_true(fp_tq_wait_got(&t->n, 10, DEADLINE_MS));
    ack_all(t);
    assert_false(t->n.over_room);
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(t->n.got[i].queue, i < 5 ? 0 : 1);
}

static bool reader_blocked(void *ctx, size_t arg)
{
    tq_t *t = ctx;
    (void)arg;
    redisReply *r = fp_th_redis_cmd(&t->redis, "CLIENT LIST");
    bool blocked = r != NULL && r->type == REDIS_REPLY_STRING &&
                   strstr(r->str, "flags=b ") != NULL && strstr(r->str, "cmd=xreadgroup") != NULL;
    if (r != NULL)
        freeReplyObject(r);
    return blocked;
}

/* With every queue empty the read blocks in Redis, and a job added later
 * arrives without waiting for the block to time out. */
static void test_blocking_read_wakes(void **state)
{
    tq_t *t = *state;
    const char *names[] = {"one", "two"};
    fp_tq_node_open(&t->n, names, 2);
    assert_true(fp_tq_wait_ready(&t->n, true, DEADLINE_MS));
    fp_tq_node_want(&t->n, 4);
    assert_true(run_until(t, reader_blocked, 0, DEADLINE_MS));
    char *id = fp_tq_xadd(&t->redis, "two", "{\"type\":\"late\"}");
    assert_true(fp_tq_wait_got(&t->n, 1, DEADLINE_MS));
    assert_string_equal(t->n.got[0].id, id);
    assert_int_equal(t->n.got[0].queue, 1);
    free(id);
}

/* A blocking read over two queues with room 1 never brings two jobs. */
static void test_blocking_read_keeps_room(void **state)
{
    tq_t *t = *state;
    const char *names[] = {"one", "two"};
    fp_tq_node_open(&t->n, names, 2);
    assert_true(fp_tq_wait_ready(&t->n, true, DEADLINE_MS));
    fp_tq_node_want(&t->n, 1);
    assert_true(run_until(t, reader_blocked, 0, DEADLINE_MS));
    /* Both in one round trip, so a read woken by the first sees the second. */
    redisReply *r = fp_th_redis_cmd(&t->redis, "MULTI");
    freeReplyObject(r);
    freeReplyObject(fp_th_redis_cmd(&t->redis, "XADD %s * job a", fp_tq_key("one", "jobs")));
    freeReplyObject(fp_th_redis_cmd(&t->redis, "XADD %s * job b", fp_tq_key("two", "jobs")));
    freeReplyObject(fp_th_redis_cmd(&t->redis, "EXEC"));
    assert_true(fp_tq_wait_got(&t->n, 1, DEADLINE_MS));
    fp_tq_run_for(&t->loop, 50);
    assert_int_equal(t->n.ngot, 1);
    assert_false(t->n.over_room);
    assert_int_equal(fp_tq_pending(&t->redis, "one") + fp_tq_pending(&t->redis, "two"), 1);
}

static void take_one(tq_t *t, const char *queue, const char *payload, char **id)
{
    *id = fp_tq_xadd(&t->redis, queue, payload);
    fp_tq_node_open_ready(&t->n, queue);
    fp_tq_node_want(&t->n, 1);
    assert_true(fp_tq_wait_got(&t->n, 1, DEADLINE_MS));
    assert_string_equal(t->n.got[0].id, *id);
}

static void test_ack_removes_entry(void **state)
{
    tq_t *t = *state;
    char *id;
    take_one(t, "acks", "{\"type\":\"noop\"}", &id);
    assert_int_equal(fp_tq_pending(&t->redis, "acks"), 1);
    fp_queue_ack(t->n.q, 0, id);
    assert_int_equal(fp_queue_unconfirmed(t->n.q), 1);
    assert_true(fp_tq_wait_confirmed(&t->n, DEADLINE_MS));
    assert_int_equal(fp_tq_xlen(&t->redis, "acks"), 0);
    assert_int_equal(fp_tq_pending(&t->redis, "acks"), 0);
    free(id);
}

static const char *field(const redisReply *fields, const char *name)
{
    for (size_t i = 0; i + 1 < fields->elements; i += 2)
        if (strcmp(fields->element[i]->str, name) == 0)
            return fields->element[i + 1]->str;
    return NULL;
}

static void test_dead_moves_with_fields(void **state)
{
    tq_t *t = *state;
    char *id;
    const char *payload = "{\"type\":\"fail\"}";
    take_one(t, "deadq", payload, &id);
    fp_queue_dead(t->n.q, 0, id, payload, strlen(payload), "boom: it broke", 3);
    assert_true(fp_tq_wait_confirmed(&t->n, DEADLINE_MS));
    assert_int_equal(fp_tq_xlen(&t->redis, "deadq"), 0);
    assert_int_equal(fp_tq_pending(&t->redis, "deadq"), 0);
    redisReply *r = fp_th_redis_cmd(&t->redis, "XRANGE %s - +", fp_tq_key("deadq", "dead"));
    assert_non_null(r);
    assert_int_equal(r->elements, 1);
    const redisReply *fields = r->element[0]->element[1];
    assert_string_equal(field(fields, "job"), payload);
    assert_string_equal(field(fields, "error"), "boom: it broke");
    assert_string_equal(field(fields, "attempts"), "3");
    assert_string_equal(field(fields, "consumer"), "test-consumer");
    assert_true(atoll(field(fields, "failed_at")) > 1600000000000LL);
    freeReplyObject(r);
    /* Recording it again (a re-send) adds nothing: the entry is no longer pending. */
    fp_queue_dead(t->n.q, 0, id, payload, strlen(payload), "boom", 3);
    assert_true(fp_tq_wait_confirmed(&t->n, DEADLINE_MS));
    assert_int_equal(fp_th_redis_int(&t->redis, "XLEN %s", fp_tq_key("deadq", "dead")), 1);
    free(id);
}

static void test_put_back_readds_at_tail(void **state)
{
    tq_t *t = *state;
    char *id;
    const char *payload = "{\"type\":\"noop\",\"args\":[1]}";
    take_one(t, "back", payload, &id);
    char *later = fp_tq_xadd(&t->redis, "back", "{\"type\":\"later\"}");
    fp_queue_put_back(t->n.q, 0, id, payload, strlen(payload));
    fp_queue_put_back(t->n.q, 0, id, payload, strlen(payload)); /* a duplicate is harmless */
    assert_true(fp_tq_wait_confirmed(&t->n, DEADLINE_MS));
    assert_int_equal(fp_tq_pending(&t->redis, "back"), 0);
    redisReply *r = fp_th_redis_cmd(&t->redis, "XRANGE %s - +", fp_tq_key("back", "jobs"));
    assert_non_null(r);
    assert_int_equal(r->elements, 2);
    assert_string_equal(r->element[0]->element[0]->str, later);
    assert_string_not_equal(r->element[1]->element[0]->str, id);
    assert_string_equal(field(r->element[1]->element[1], "job"), payload);
    freeReplyObject(r);
    fp_tq_node_want(&t->n, 2);
    assert_true(fp_tq_wait_got(&t->n, 3, DEADLINE_MS));
    assert_string_equal(t->n.got[1].id, later);
    assert_string_equal(t->n.got[2].payload, payload);
    free(id);
    free(later);
}

/* A pending entry whose stream entry was deleted comes back with nil fields:
 * it is acknowledged and dropped, never handed over. */
static void test_deleted_pending_entry_dropped(void **state)
{
    tq_t *t = *state;
    const char *k = fp_tq_key("gone", "jobs");
    freeReplyObject(fp_th_redis_cmd(&t->redis, "XGROUP CREATE %s forkpool 0 MKSTREAM", k));
    char *a = fp_tq_xadd(&t->redis, "gone", "{\"type\":\"a\"}");
    char *b = fp_tq_xadd(&t->redis, "gone", "{\"type\":\"b\"}");
    freeReplyObject(fp_th_redis_cmd(&t->redis,
                                    "XREADGROUP GROUP forkpool test-consumer COUNT 2 STREAMS %s >",
                                    k));
    assert_int_equal(fp_th_redis_int(&t->redis, "XDEL %s %s", k, a), 1);
    fp_tq_node_open_ready(&t->n, "gone");
    fp_tq_node_want(&t->n, 10);
    assert_true(fp_tq_wait_got(&t->n, 1, DEADLINE_MS));
    assert_true(fp_tq_wait_confirmed(&t->n, DEADLINE_MS));
    fp_tq_run_for(&t->loop, 50);
    assert_int_equal(t->n.ngot, 1);
    assert_string_equal(t->n.got[0].id, b);
    assert_int_equal(fp_tq_pending(&t->redis, "gone"), 1);
    free(a);
    free(b);
}

/* A restarted daemon (same consumer name) first gets what it held before. */
static void test_restart_rereads_own_pending(void **state)
{
    tq_t *t = *state;
    fp_tq_xadd_n(&t->redis, "resume", 3);
    fp_tq_node_open_ready(&t->n, "resume");
    fp_tq_node_want(&t->n, 3);
    assert_true(fp_tq_wait_got(&t->n, 3, DEADLINE_MS));
    char *held[3];
    for (int i = 0; i < 3; i++)
        held[i] = strdup(t->n.got[i].id);
    fp_tq_node_close(&t->n); /* no outcomes: the three stay pending to test-consumer */
    fp_tq_node_got_clear(&t->n);
    fp_tq_xadd_n(&t->redis, "resume", 2);
    fp_tq_node_open_ready(&t->n, "resume");
    fp_tq_node_want(&t->n, 10);
    assert_true(fp_tq_wait_got(&t->n, 5, DEADLINE_MS));
    for (int i = 0; i < 3; i++) {
        assert_string_equal(t->n.got[i].id, held[i]);
        free(held[i]);
    }
    assert_false(t->n.over_room);
}

static bool drained_known(void *ctx, size_t arg)
{
    tq_t *t = ctx;
    (void)arg;
    return t->drained >= 0;
}

static void on_drained(void *ctx, bool drained)
{
    ((tq_t *)ctx)->drained = drained ? 1 : 0;
}

static bool check_drained(tq_t *t)
{
    t->drained = -1;
    fp_queue_check_drained(t->n.q, on_drained, t);
    assert_true(run_until(t, drained_known, 0, DEADLINE_MS));
    return t->drained == 1;
}

static void test_check_drained(void **state)
{
    tq_t *t = *state;
    const char *names[] = {"d1", "d2"};
    fp_tq_node_open(&t->n, names, 2);
    assert_true(fp_tq_wait_ready(&t->n, true, DEADLINE_MS));
    assert_true(check_drained(t));
    free(fp_tq_xadd(&t->redis, "d2", "{\"type\":\"noop\"}"));
    assert_false(check_drained(t)); /* ready */
    fp_tq_node_want(&t->n, 1);
    assert_true(fp_tq_wait_got(&t->n, 1, DEADLINE_MS));
    assert_false(check_drained(t)); /* pending */
    ack_all(t);
    assert_true(check_drained(t));
}

/* Redis goes away mid-run: outcomes recorded meanwhile are kept, and confirmed
 * once it is back; jobs still held are not handed over a second time. */
static void test_redis_restart_mid_run(void **state)
{
    tq_t *t = *state;
    assert_int_equal(fp_th_redis_start(&t->redis, "--appendonly", "yes", "--appendfsync",
                                       "always", NULL),
                     0);
    t->redis_running = true;
    config_init(t, fp_th_redis_url(&t->redis));
    fp_tq_xadd_n(&t->redis, "crash", 5);
    fp_tq_node_open_ready(&t->n, "crash");
    fp_tq_node_want(&t->n, 5);
    assert_true(fp_tq_wait_got(&t->n, 5, DEADLINE_MS));
    fp_queue_ack(t->n.q, 0, t->n.got[0].id);
    assert_true(fp_tq_wait_confirmed(&t->n, DEADLINE_MS));

    assert_int_equal(fp_th_redis_shutdown(&t->redis), 0);
    assert_true(fp_tq_wait_ready(&t->n, false, DEADLINE_MS));
    for (size_t i = 1; i < 5; i++)
        fp_queue_ack(t->n.q, 0, t->n.got[i].id);
    fp_tq_run_for(&t->loop, 300); /* a few failed reconnects */
    assert_int_equal(fp_queue_unconfirmed(t->n.q), 4);
    assert_false(t->n.ready);

    assert_int_equal(fp_th_redis_resume(&t->redis), 0);
    assert_true(fp_tq_wait_ready(&t->n, true, DEADLINE_MS));
    assert_true(fp_tq_wait_confirmed(&t->n, DEADLINE_MS));
    assert_int_equal(fp_tq_xlen(&t->redis, "crash"), 0);
    assert_int_equal(fp_tq_pending(&t->redis, "crash"), 0);
    assert_int_equal(t->n.ngot, 5); /* nothing handed over twice */
    fp_tq_node_want(&t->n, 1);
    char *id = fp_tq_xadd(&t->redis, "crash", "{\"type\":\"after\"}");
    assert_true(fp_tq_wait_got(&t->n, 6, DEADLINE_MS));
    assert_string_equal(t->n.got[5].id, id);
    free(id);
}

/* Redis is not there at start: the queue keeps trying and works once it is. */
static void test_redis_down_at_start(void **state)
{
    tq_t *t = *state;
    int port = fp_th_free_port();
    assert_true(port > 0);
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    config_init(t, url);
    const char *names[] = {"late"};
    fp_tq_node_open(&t->n, names, 1);
    fp_tq_node_want(&t->n, 2);
    fp_tq_run_for(&t->loop, 400); /* several attempts fail */
    assert_false(t->n.ready);
    assert_int_equal(fp_th_redis_start_port(&t->redis, port, NULL), 0);
    t->redis_running = true;
    assert_true(fp_tq_wait_ready(&t->n, true, DEADLINE_MS));
    char *id = fp_tq_xadd(&t->redis, "late", "{\"type\":\"noop\"}");
    assert_true(fp_tq_wait_got(&t->n, 1, DEADLINE_MS));
    assert_string_equal(t->n.got[0].id, id);
    free(id);
}

/* AUTH with an ACL user and SELECT of another database. */
static void test_auth_user_and_db(void **state)
{
    tq_t *t = *state;
    assert_int_equal(fp_th_redis_start(&t->redis, "--user", "default", "off", "--user", "alice",
                                       "on", ">s3cr:t@", "~*", "&*", "+@all", NULL),
                     0);
    t->redis_running = true;
    char url[128];
    snprintf(url, sizeof url, "redis://alice:s3cr%%3At%%40@127.0.0.1:%d/3", t->redis.port);
    config_init(t, url);
    fp_tq_node_open_ready(&t->n, "authq");
    freeReplyObject(fp_th_redis_cmd(&t->redis, "AUTH alice s3cr:t@"));
    freeReplyObject(fp_th_redis_cmd(&t->redis, "SELECT 3"));
    char *id = fp_tq_xadd(&t->redis, "authq", "{\"type\":\"noop\"}");
    fp_tq_node_want(&t->n, 1);
    assert_true(fp_tq_wait_got(&t->n, 1, DEADLINE_MS));
    assert_string_equal(t->n.got[0].id, id);
    free(id);
}

/* A wrong password never makes the queue ready, and nothing crashes. */
static void test_wrong_password_keeps_trying(void **state)
{
    tq_t *t = *state;
    assert_int_equal(fp_th_redis_start(&t->redis, "--requirepass", "right", NULL), 0);
    t->redis_running = true;
    char url[128];
    snprintf(url, sizeof url, "redis://:wrong@127.0.0.1:%d", t->redis.port);
    config_init(t, url);
    const char *names[] = {"x"};
    fp_tq_node_open(&t->n, names, 1);
    fp_tq_node_want(&t->n, 1);
    fp_tq_run_for(&t->loop, 400);
    assert_false(t->n.ready);
}

/* An entry without a "job" field goes to dead; it is never handed over. */
static void test_entry_without_job_field(void **state)
{
    tq_t *t = *state;
    freeReplyObject(fp_th_redis_cmd(&t->redis, "XADD %s * other 1", fp_tq_key("odd", "jobs")));
    char *good = fp_tq_xadd(&t->redis, "odd", "{\"type\":\"noop\"}");
    fp_tq_node_open_ready(&t->n, "odd");
    fp_tq_node_want(&t->n, 5);
    assert_true(fp_tq_wait_got(&t->n, 1, DEADLINE_MS));
    assert_true(fp_tq_wait_confirmed(&t->n, DEADLINE_MS));
    assert_int_equal(t->n.ngot, 1);
    assert_string_equal(t->n.got[0].id, good);
    assert_int_equal(fp_th_redis_int(&t->redis, "XLEN %s", fp_tq_key("odd", "dead")), 1);
    free(good);
}

static bool reader_not_blocked(void *ctx, size_t arg)
{
    tq_t *t = ctx;
    return !reader_blocked(t, arg);
}

/* want(0) (a drain, a quiet daemon) ends the blocking read at once, so no job
 * is pulled that nobody can take. */
static void test_want_zero_ends_blocking_read(void **state)
{
    tq_t *t = *state;
    fp_tq_node_open_ready(&t->n, "quiet");
    fp_tq_node_want(&t->n, 3);
    assert_true(run_until(t, reader_blocked, 0, DEADLINE_MS));
    fp_tq_node_want(&t->n, 0);
    assert_true(run_until(t, reader_not_blocked, 0, DEADLINE_MS));
    char *id = fp_tq_xadd(&t->redis, "quiet", "{\"type\":\"noop\"}");
    fp_tq_run_for(&t->loop, 100);
    assert_int_equal(t->n.ngot, 0);
    assert_int_equal(fp_tq_pending(&t->redis, "quiet"), 0);
    fp_tq_node_want(&t->n, 1);
    assert_true(fp_tq_wait_got(&t->n, 1, DEADLINE_MS));
    assert_string_equal(t->n.got[0].id, id);
    free(id);
}

/* Three entries answer a blocked read asked for 3 after the room shrank to 1
 * (Redis answers as soon as EXEC runs, before the loop can tell it that the
 * room is smaller now); draining first when asked. Returns the ids XADD
 * gave, in order. */
static redisReply *shrink_mid_read(tq_t *t, bool drain_first)
{
    fp_tq_node_open_ready(&t->n, "shrink");
    fp_tq_node_want(&t->n, 3);
    assert_true(run_until(t, reader_blocked, 0, DEADLINE_MS));
    fp_tq_node_want(&t->n, 1);
    if (drain_first)
        fp_queue_drain(t->n.q);
    freeReplyObject(fp_th_redis_cmd(&t->redis, "MULTI"));
    for (int i = 0; i < 3; i++)
        freeReplyObject(
            fp_th_redis_cmd(&t->redis, "XADD %s * job {}", fp_tq_key("shrink", "jobs")));
    redisReply *ids = fp_th_redis_cmd(&t->redis, "EXEC");
    assert_true(fp_tq_wait_got(&t->n, 1, DEADLINE_MS));
    assert_true(fp_tq_wait_confirmed(&t->n, DEADLINE_MS));
    assert_int_equal(t->n.ngot, 1);
    assert_false(t->n.over_room);
    assert_string_equal(t->n.got[0].id, ids->element[0]->str);
    return ids;
}

/* Whether stream id a comes after b. */
static bool id_after(const char *a, const char *b)
{
    uint64_t ams, aseq, bms, bseq;
    assert_true(fp_stream_id_parse(a, strlen(a), &ams, &aseq));
    assert_true(fp_stream_id_parse(b, strlen(b), &bms, &bseq));
    return ams > bms || (ams == bms && aseq > bseq);
}

/* The stream's entries after the first: the two beyond the room went back
 * to the tail as new copies (ids past the last XADD's). */
static void assert_put_back(tq_t *t, const redisReply *ids)
{
    assert_int_equal(fp_tq_pending(&t->redis, "shrink"), 1);
    redisReply *r = fp_th_redis_cmd(&t->redis, "XRANGE %s - +", fp_tq_key("shrink", "jobs"));
    assert_int_equal(r->elements, 3);
    assert_string_equal(r->element[0]->element[0]->str, ids->element[0]->str);
    for (size_t i = 1; i < 3; i++)
        assert_true(id_after(r->element[i]->element[0]->str, ids->element[2]->str));
    freeReplyObject(r);
}

/* The room shrinks while a read is in flight (the hold shrank, a pause):
 * what arrives beyond it waits in the queue's stash, ids and order kept, and
 * goes out first once there is room, ahead of anything enqueued later. Put
 * back to the tail instead, an early job waited behind the whole backlog
 * enqueued meanwhile (bench/steer.sh's mixed run saw one overtaken by 2,757
 * later jobs). */
static void test_room_shrinks_mid_read(void **state)
{
    tq_t *t = *state;
    redisReply *ids = shrink_mid_read(t, false);
    assert_int_equal(fp_tq_pending(&t->redis, "shrink"), 3); /* held here, not put back */
    assert_int_equal(fp_tq_xlen(&t->redis, "shrink"), 3);
    char *later = fp_tq_xadd(&t->redis, "shrink", "{}");
    fp_tq_node_want(&t->n, 3);
    assert_true(fp_tq_wait_got(&t->n, 4, DEADLINE_MS));
    assert_string_equal(t->n.got[1].id, ids->element[1]->str);
    assert_string_equal(t->n.got[2].id, ids->element[2]->str);
    assert_string_equal(t->n.got[3].id, later);
    assert_int_equal(t->n.got[1].deliveries, 1);
    assert_false(t->n.over_room);
    free(later);
    freeReplyObject(ids);
}

/* Once draining, nothing new waits for room that will not come: what a read
 * brings beyond the room goes straight back to the stream tail ... */
static void test_room_shrinks_mid_read_draining(void **state)
{
    tq_t *t = *state;
    redisReply *ids = shrink_mid_read(t, true);
    assert_put_back(t, ids);
    freeReplyObject(ids);
}

/* ... and so does what was stashed before the drain began. */
static void test_drain_puts_back_stashed(void **state)
{
    tq_t *t = *state;
    redisReply *ids = shrink_mid_read(t, false);
    fp_queue_drain(t->n.q);
    assert_true(fp_tq_wait_confirmed(&t->n, DEADLINE_MS));
    assert_put_back(t, ids);
    freeReplyObject(ids);
}

/* A retry leaves the stream for the delayed set, due the caller's delay
 * after Redis' clock. */
static void test_retry_goes_to_delayed(void **state)
{
    tq_t *t = *state;
    char *id;
    take_one(t, "again", "{\"type\":\"flaky\"}", &id);
    const char *retried = "{\"type\":\"flaky\",\"attempt\":1,\"last_error\":\"x\"}";
    redisReply *time = fp_th_redis_cmd(&t->redis, "TIME");
    long long before = atoll(time->element[0]->str) * 1000 + atoll(time->element[1]->str) / 1000;
    freeReplyObject(time);
    fp_queue_retry(t->n.q, 0, id, retried, strlen(retried), 3600000);
    assert_true(fp_tq_wait_confirmed(&t->n, DEADLINE_MS));
    assert_int_equal(fp_tq_xlen(&t->redis, "again"), 0);
    assert_int_equal(fp_tq_pending(&t->redis, "again"), 0);
    redisReply *z =
        fp_th_redis_cmd(&t->redis, "ZRANGE %s 0 -1 WITHSCORES", fp_tq_key("again", "delayed"));
    assert_int_equal(z->elements, 2);
    assert_string_equal(z->element[0]->str, retried);
    long long due = atoll(z->element[1]->str);
    assert_true(due >= before + 3600000 && due < before + 3600000 + 60000);
    freeReplyObject(z);
    free(id);
}

/* --burst's view: a retry this queue scheduled keeps it from being drained
 * while it waits in the delayed set; once it has left (moved back and run,
 * or dead), drained again. A member someone else added never counts. */
static void test_drained_waits_for_own_retries(void **state)
{
    tq_t *t = *state;
    char *id;
    take_one(t, "own", "{\"type\":\"flaky\"}", &id);
    fp_queue_track_retries(t->n.q);
    const char *retried = "{\"type\":\"flaky\",\"attempt\":1,\"last_error\":\"x\"}";
    fp_queue_retry(t->n.q, 0, id, retried, strlen(retried), 1900000000000LL);
    assert_false(check_drained(t)); /* pending, or delayed once applied */
    assert_true(fp_tq_wait_confirmed(&t->n, DEADLINE_MS));
    assert_false(check_drained(t)); /* delayed, by this run */
    assert_false(check_drained(t)); /* still: nothing forgotten by the first check */
    freeReplyObject(fp_th_redis_cmd(&t->redis, "ZREM %s %s", fp_tq_key("own", "delayed"),
                                    retried));
    freeReplyObject(fp_th_redis_cmd(&t->redis, "ZADD %s 1900000000000 %s",
                                    fp_tq_key("own", "delayed"), "{\"type\":\"theirs\"}"));
    assert_true(check_drained(t));
    free(id);
}

/* Scripts flushed from Redis (SCRIPT FLUSH, a failover): NOSCRIPT, then the
 * same batch again as EVAL; nothing is lost. */
static void test_noscript_falls_back_to_eval(void **state)
{
    tq_t *t = *state;
    char *id;
    take_one(t, "flushed", "{\"type\":\"noop\"}", &id);
    freeReplyObject(fp_th_redis_cmd(&t->redis, "SCRIPT FLUSH"));
    fp_queue_ack(t->n.q, 0, id);
    assert_true(fp_tq_wait_confirmed(&t->n, DEADLINE_MS));
    assert_int_equal(fp_tq_xlen(&t->redis, "flushed"), 0);
    freeReplyObject(fp_th_redis_cmd(&t->redis, "SCRIPT FLUSH"));
    assert_true(check_drained(t));
    free(id);
}

/* An entry the supervisor holds from elsewhere (recovery) is not handed over
 * again by the history read. */
static void test_hold_skips_history(void **state)
{
    tq_t *t = *state;
    const char *k = fp_tq_key("held", "jobs");
    freeReplyObject(fp_th_redis_cmd(&t->redis, "XGROUP CREATE %s forkpool 0 MKSTREAM", k));
    char *claimed = fp_tq_xadd(&t->redis, "held", "{\"type\":\"running\"}");
    freeReplyObject(fp_th_redis_cmd(&t->redis,
                                    "XREADGROUP GROUP forkpool test-consumer COUNT 1 STREAMS %s >",
                                    k));
    char *fresh = fp_tq_xadd(&t->redis, "held", "{\"type\":\"fresh\"}");
    const char *names[] = {"held"};
    fp_tq_node_open(&t->n, names, 1);
    fp_queue_hold(t->n.q, 0, claimed);
    fp_tq_node_want(&t->n, 5);
    assert_true(fp_tq_wait_got(&t->n, 1, DEADLINE_MS));
    fp_tq_run_for(&t->loop, 50);
    assert_int_equal(t->n.ngot, 1);
    assert_string_equal(t->n.got[0].id, fresh);
    fp_queue_ack(t->n.q, 0, claimed);
    assert_true(fp_tq_wait_confirmed(&t->n, DEADLINE_MS));
    assert_int_equal(fp_tq_pending(&t->redis, "held"), 1);
    free(claimed);
    free(fresh);
}

static bool redis_busy(void *ctx, size_t arg)
{
    tq_t *t = ctx;
    (void)arg;
    redisReply *r = fp_th_redis_cmd(&t->redis, "PING");
    bool busy = r != NULL && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSY", 4) == 0;
    if (r != NULL)
        freeReplyObject(r);
    return busy;
}

/* BUSY (a long script elsewhere) means "later": the outcome is kept and
 * confirmed once Redis is free again; it is not a failure. */
static void test_busy_is_try_again(void **state)
{
    tq_t *t = *state;
    char *id;
    take_one(t, "busy", "{\"type\":\"noop\"}", &id);
    freeReplyObject(fp_th_redis_cmd(&t->redis, "CONFIG SET busy-reply-threshold 50"));
    redisContext *other = redisConnect("127.0.0.1", t->redis.port);
    assert_non_null(other);
    assert_int_equal(redisAppendCommand(other, "EVAL %s 0", "while true do end"), REDIS_OK);
    int done = 0;
    while (!done)
        assert_int_equal(redisBufferWrite(other, &done), REDIS_OK);
    assert_true(run_until(t, redis_busy, 0, DEADLINE_MS));
    fp_queue_ack(t->n.q, 0, id);
    fp_tq_run_for(&t->loop, 300); /* a few BUSY answers */
    assert_int_equal(fp_queue_unconfirmed(t->n.q), 1);
    freeReplyObject(fp_th_redis_cmd(&t->redis, "SCRIPT KILL"));
    assert_true(fp_tq_wait_confirmed(&t->n, DEADLINE_MS));
    assert_int_equal(fp_tq_xlen(&t->redis, "busy"), 0);
    assert_int_equal(fp_tq_pending(&t->redis, "busy"), 0);
    redisReply *r = NULL;
    assert_int_equal(redisGetReply(other, (void **)&r), REDIS_OK);
    freeReplyObject(r);
    redisFree(other);
    free(id);
}

/* A host name is resolved off the loop (uv_getaddrinfo), and the queue's
 * sockets are close-on-exec so forked children never inherit them. */
static void test_host_name_and_cloexec(void **state)
{
    tq_t *t = *state;
    char url[64];
    snprintf(url, sizeof url, "redis://localhost:%d", t->redis.port);
    config_init(t, url);
    fp_tq_node_open_ready(&t->n, "named");
    char *id = fp_tq_xadd(&t->redis, "named", "{\"type\":\"noop\"}");
    fp_tq_node_want(&t->n, 1);
    assert_true(fp_tq_wait_got(&t->n, 1, DEADLINE_MS));
    assert_string_equal(t->n.got[0].id, id);
    free(id);
    int own = t->redis.ctx != NULL ? t->redis.ctx->fd : -1;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int sockets = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        int fd = atoi(e->d_name);
        struct stat st;
        if (e->d_name[0] == '.' || fd == own || fd == dirfd(d) || fstat(fd, &st) != 0 ||
            !S_ISSOCK(st.st_mode))
            continue;
        sockets++;
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    }
    closedir(d);
    assert_true(sockets >= 2); /* reader and writer */
}

/* Outcomes for many jobs in one turn go in chunks and all land. */
static void test_large_batch(void **state)
{
    tq_t *t = *state;
    fp_tq_xadd_n(&t->redis, "big", 1200);
    fp_tq_node_open_ready(&t->n, "big");
    fp_tq_node_want(&t->n, 1200);
    assert_true(fp_tq_wait_got(&t->n, 1200, DEADLINE_MS));
    ack_all(t);
    assert_int_equal(fp_tq_xlen(&t->redis, "big"), 0);
    assert_int_equal(fp_tq_pending(&t->redis, "big"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_group_created_from_zero, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_pull_bound, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_pull_bound_many_turns, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_strict_order, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_blocking_read_wakes, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_blocking_read_keeps_room, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_ack_removes_entry, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_dead_moves_with_fields, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_put_back_readds_at_tail, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_pending_entry_dropped, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_restart_rereads_own_pending, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_check_drained, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_drained_waits_for_own_retries, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_redis_restart_mid_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_down_at_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_user_and_db, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_password_keeps_trying, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entry_without_job_field, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_large_batch, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_want_zero_ends_blocking_read, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_busy_is_try_again, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_host_name_and_cloexec, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_room_shrinks_mid_read, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_room_shrinks_mid_read_draining, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_drain_puts_back_stashed, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_retry_goes_to_delayed, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_noscript_falls_back_to_eval, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_hold_skips_history, setup_redis, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
