/* test_redis_conn.c: which replies the connection treats as a failover in
 * progress (drop and reconnect) rather than a failed command, and which ROLE
 * answers mean "this server takes no writes". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "redis/redis_conn.h"

static bool fault(const char *msg)
{
    return fp_redis_fault_reply(msg, strlen(msg)) != NULL;
}

static void test_fault_replies(void **state)
{
    (void)state;
    assert_true(fault("READONLY You can't write against a read only replica."));
    assert_true(fault("LOADING Redis is loading the dataset in memory"));
    assert_true(fault("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."));
    assert_true(fault("READONLY"));
    assert_true(fault("NOREPLICAS Not enough good replicas to write."));
    assert_non_null(strstr(fp_redis_fault_reply("READONLY x", 10), "replica"));
    /* Failed commands, or "later" that a reconnect would not help. */
    assert_false(fault("ERR unknown command"));
    assert_false(fault("BUSY Redis is busy running a script."));
    assert_false(fault("NOGROUP No such key"));
    assert_false(fault("UNBLOCKED force unblock from blocking operation"));
    assert_false(fault("READONLYX"));
    assert_false(fault("LOADIN"));
    assert_false(fault(""));
    /* Only the first n bytes count. */
    assert_false(fp_redis_fault_reply("READONLY", 4) != NULL);
}

static redisReply *str(const char *s)
{
    static redisReply r[4];
    static int next;
    redisReply *e = &r[next++ % 4];
    memset(e, 0, sizeof *e);
    e->type = REDIS_REPLY_STRING;
    e->str = (char *)s;
    e->len = strlen(s);
    return e;
}

static bool role_writable(const char *role)
{
    redisReply *elems[1] = {str(role)};
    redisReply r = {.type = REDIS_REPLY_ARRAY, .elements = 1, .element = elems};
    return fp_redis_role_writable(&r);
}

static void test_role(void **state)
{
    (void)state;
    assert_true(role_writable("master"));
    assert_false(role_writable("slave"));
    assert_false(role_writable("replica"));
    assert_false(role_writable("sentinel"));
    /* ROLE renamed or refused: the server is taken as writable. */
    redisReply err = {.type = REDIS_REPLY_ERROR, .str = "NOPERM", .len = 6};
    assert_true(fp_redis_role_writable(&err));
    redisReply empty = {.type = REDIS_REPLY_ARRAY};
    assert_true(fp_redis_role_writable(&empty));
    assert_true(fp_redis_role_writable(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault_replies),
        cmocka_unit_test(test_role),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
