/* test_it_enqueue_wait.c: `forkpool enqueue --wait-replicas` against a real
 * master and a real replica (redis-server --replicaof) on loopback: exit 0
 * when the replica acknowledged the jobs, exit 69 with the count reached
 * when too few did (the jobs still on the master), 64 for bad flags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_fixture.h"

typedef fp_tcli_t fixture_t;

/* The replica of the fixture's Redis, one per test (tests run one at a time). */
static fp_th_redis_t replica;

#define enqueue(f, ...) fp_tcli_run(f, "enqueue", NULL, NULL, __VA_ARGS__, NULL)

/* True when the replica has loaded what the master sent and follows it: it
 * answers WAIT only from then on. */
static bool replica_up(void)
{
    redisReply *r = fp_th_redis_cmd(&replica, "INFO replication");
    bool up = r != NULL && r->type == REDIS_REPLY_STRING &&
              strstr(r->str, "master_link_status:up") != NULL;
    freeReplyObject(r);
    return up;
}

/* WAIT on the test's own connection, which has written nothing, counts the
 * replicas that are online: poll until the new one is and has loaded its
 * copy (a deadline for a replica that never syncs, not a measurement). */
static void wait_online(fixture_t *f)
{
    for (int i = 0; i < 3000; i++) {
        if (replica_up() && fp_th_redis_int(&f->redis, "WAIT 1 10") == 1)
            return;
        fp_th_nap();
    }
    fail_msg("the replica did not come online");
}

static int setup(void **state)
{
    fp_tcli_setup(state);
    fixture_t *f = *state;
    char port[16];
    snprintf(port, sizeof port, "%d", f->redis.port);
    assert_int_equal(fp_th_redis_start(&replica, "--replicaof", "127.0.0.1", port, NULL), 0);
    wait_online(f);
    return 0;
}

static int teardown(void **state)
{
    fp_th_redis_stop(&replica);
    return fp_tcli_teardown(state);
}

static void test_replicated_exits_0(void **state)
{
    fixture_t *f = *state;
    /* Generous timeouts: WAIT answers once the replica acknowledges; the time
     * is there for a loaded machine, not measured. */
    fp_th_result_t r = enqueue(f, "--wait-replicas", "1", "--wait-timeout", "30s", "noop",
                               "{\"n\":1}");
    assert_int_equal(r.status, 0);
    /* WAIT answered: the replica has applied the XADD already. */
    redisReply *ids = fp_th_redis_cmd(&replica, "XRANGE fp:{default}:jobs - +");
    assert_int_equal(ids->elements, 1);
    char line[64];
    snprintf(line, sizeof line, "%s\n", ids->element[0]->element[0]->str);
    assert_string_equal(r.out, line);
    freeReplyObject(ids);
    fp_th_result_free(&r);

    r = enqueue(f, "--count", "2500", "--delay", "1h", "--wait-replicas", "1", "--wait-timeout",
                "30s", "noop");
    FP_TCLI_EXPECT_OK(r, "enqueued 2500 jobs to default, due in 1h\n");
    assert_int_equal(fp_th_redis_int(&replica, "ZCARD fp:{default}:delayed"), 2500);
    fp_th_result_free(&r);
}

static void test_too_few_replicas_exit_69(void **state)
{
    fixture_t *f = *state;
    /* Long enough for the one replica to acknowledge on a loaded machine. */
    fp_th_result_t r = enqueue(f, "--count", "3", "--wait-replicas", "2", "--wait-timeout", "2s",
                               "noop");
    assert_int_equal(r.status, 69);
    assert_non_null(strstr(r.err, "3 job(s) enqueued to default, but only 1 of 2 replicas "
                                  "acknowledged within 2s"));
    assert_non_null(strstr(r.err, "may be lost if it fails over"));
    assert_int_equal(fp_th_redis_int(&f->redis, "XLEN fp:{default}:jobs"), 3);
    fp_th_result_free(&r);

    fp_th_redis_stop(&replica);
    r = enqueue(f, "--wait-replicas", "1", "noop"); /* the default timeout, 1s */
    assert_int_equal(r.status, 69);
    assert_non_null(strstr(r.err, "only 0 of 1 replicas acknowledged within 1s"));
    /* The id is printed all the same: the job is on the master. */
    redisReply *ids = fp_th_redis_cmd(&f->redis, "XREVRANGE fp:{default}:jobs + - COUNT 1");
    char line[64];
    snprintf(line, sizeof line, "%s\n", ids->element[0]->element[0]->str);
    assert_string_equal(r.out, line);
    freeReplyObject(ids);
    fp_th_result_free(&r);
}

static void test_bad_flags_exit_64(void **state)
{
    fixture_t *f = *state;
    const char *bad[][3] = {
        {"--wait-replicas", "0", "must be at least 1"},
        {"--wait-replicas", "many", "--wait-replicas"},
        {"--wait-timeout", "1s", "--wait-timeout needs --wait-replicas"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fp_th_result_t r = enqueue(f, bad[i][0], bad[i][1], "noop");
        assert_int_equal(r.status, 64);
        assert_non_null(strstr(r.err, bad[i][2]));
        fp_th_result_free(&r);
    }
    const char *timeouts[] = {"0", "2h", "soon"};
    for (size_t i = 0; i < 3; i++) {
        fp_th_result_t r = enqueue(f, "--wait-replicas", "1", "--wait-timeout", timeouts[i],
                                   "noop");
        assert_int_equal(r.status, 64);
        assert_non_null(strstr(r.err, "--wait-timeout"));
        fp_th_result_free(&r);
    }
    assert_int_equal(fp_th_redis_int(&f->redis, "EXISTS fp:{default}:jobs"), 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_replicated_exits_0),
        T(test_too_few_replicas_exit_69),
        T(test_bad_flags_exit_64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
