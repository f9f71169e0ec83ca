/* test_job_lookup.c: the decoder of the lookup script's reply behind
 * `forkpool job ID`, on canned replies of every shape the script returns
 * (and shapes it never does, which must be refused, not half read), the ID
 * operand's check, and the state the command reports from Redis and the
 * ledger. Running the script is test_it_job's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "queue/job_lookup.h"

static redisReply str(const char *s)
{
    return (redisReply){.type = REDIS_REPLY_STRING, .str = (char *)s, .len = strlen(s)};
}

static redisReply nil(void)
{
    return (redisReply){.type = REDIS_REPLY_NIL};
}

static redisReply integer(long long v)
{
    return (redisReply){.type = REDIS_REPLY_INTEGER, .integer = v};
}

static redisReply array(redisReply **elems, size_t n)
{
    return (redisReply){.type = REDIS_REPLY_ARRAY, .element = elems, .elements = n};
}

static void test_not_found(void **state)
{
    (void)state;
    redisReply r = nil();
    fp_job_where_t w;
    assert_int_equal(fp_job_lookup_parse(&r, &w), 0);
    assert_int_equal(w.state, FP_JOB_NOWHERE);
    assert_null(w.payload.s);
    fp_job_where_clear(&w);
}

static void test_ready(void **state)
{
    (void)state;
    redisReply s = str("ready"), id = str("1700000000000-3"), p = str("{\"type\":\"a\"}");
    redisReply *e[] = {&s, &id, &p};
    redisReply r = array(e, 3);
    fp_job_where_t w;
    assert_int_equal(fp_job_lookup_parse(&r, &w), 0);
    assert_int_equal(w.state, FP_JOB_READY);
    assert_string_equal(w.entry_id.s, "1700000000000-3");
    assert_string_equal(w.payload.s, "{\"type\":\"a\"}");
    assert_null(w.consumer.s);
    fp_job_where_clear(&w);
    assert_null(w.entry_id.s);
}

static void test_ready_without_payload(void **state)
{
    (void)state;
    redisReply s = str("ready"), id = str("5-0"), p = nil();
    redisReply *e[] = {&s, &id, &p};
    redisReply r = array(e, 3);
    fp_job_where_t w;
    assert_int_equal(fp_job_lookup_parse(&r, &w), 0);
    assert_null(w.payload.s);
    fp_job_where_clear(&w);
}

static void test_running(void **state)
{
    (void)state;
    redisReply s = str("running"), id = str("9-1"), p = str("{}");
    redisReply c = str("host-a"), idle = integer(1500), n = integer(2);
    redisReply *pe[] = {&c, &idle, &n};
    redisReply pending = array(pe, 3);
    redisReply *e[] = {&s, &id, &p, &pending};
    redisReply r = array(e, 4);
    fp_job_where_t w;
    assert_int_equal(fp_job_lookup_parse(&r, &w), 0);
    assert_int_equal(w.state, FP_JOB_RUNNING);
    assert_string_equal(w.consumer.s, "host-a");
    assert_int_equal(w.idle_ms, 1500);
    assert_int_equal(w.deliveries, 2);
    fp_job_where_clear(&w);
}

static void test_delayed(void **state)
{
    (void)state;
    redisReply s = str("delayed"), id = nil(), p = str("{\"id\":\"x\"}"), due = str("1700000123456");
    redisReply *e[] = {&s, &id, &p, &due};
    redisReply r = array(e, 4);
    fp_job_where_t w;
    assert_int_equal(fp_job_lookup_parse(&r, &w), 0);
    assert_int_equal(w.state, FP_JOB_DELAYED);
    assert_null(w.entry_id.s);
    assert_int_equal(w.due_ms, 1700000123456LL);
    fp_job_where_clear(&w);
}

static void test_dead(void **state)
{
    (void)state;
    redisReply s = str("dead"), id = str("7-0"), p = str("{\"id\":\"x\"}");
    redisReply f[] = {str("job"), str("{\"id\":\"x\"}"), str("error"), str("boom"),
                      str("attempts"), str("3"), str("failed_at"), str("1700000000999"),
                      str("consumer"), str("host-b")};
    redisReply *fe[10];
    for (size_t i = 0; i < 10; i++)
        fe[i] = &f[i];
    redisReply fields = array(fe, 10);
    redisReply *e[] = {&s, &id, &p, &fields};
    redisReply r = array(e, 4);
    fp_job_where_t w;
    assert_int_equal(fp_job_lookup_parse(&r, &w), 0);
    assert_int_equal(w.state, FP_JOB_DEAD);
    assert_string_equal(w.entry_id.s, "7-0");
    assert_string_equal(w.error.s, "boom");
    assert_string_equal(w.attempts.s, "3");
    assert_string_equal(w.failed_at.s, "1700000000999");
    assert_string_equal(w.consumer.s, "host-b");
    fp_job_where_clear(&w);
}

/* Shapes the script never returns are refused and leave nothing allocated
 * (ASan would report a leak). */
static void test_bad_shapes(void **state)
{
    (void)state;
    fp_job_where_t w;
    redisReply n = integer(1);
    assert_int_equal(fp_job_lookup_parse(&n, &w), 1);

    redisReply s = str("sleeping"), id = str("1-0"), p = str("{}");
    redisReply *e[] = {&s, &id, &p};
    redisReply r = array(e, 3);
    assert_int_equal(fp_job_lookup_parse(&r, &w), 1);

    redisReply run = str("running"), bad = str("x");
    redisReply *e2[] = {&run, &id, &p, &bad};
    r = array(e2, 4);
    assert_int_equal(fp_job_lookup_parse(&r, &w), 1);
    assert_null(w.entry_id.s);

    redisReply ready = str("ready"), no_id = nil();
    redisReply *e3[] = {&ready, &no_id, &p};
    r = array(e3, 3);
    assert_int_equal(fp_job_lookup_parse(&r, &w), 1);

    redisReply delayed = str("delayed"), due = str("soon");
    redisReply *e4[] = {&delayed, &no_id, &p, &due};
    r = array(e4, 4);
    assert_int_equal(fp_job_lookup_parse(&r, &w), 1);

    redisReply dead = str("dead"), one = str("error");
    redisReply *fe[] = {&one};
    redisReply odd = array(fe, 1);
    redisReply *e5[] = {&dead, &id, &p, &odd};
    r = array(e5, 4);
    assert_int_equal(fp_job_lookup_parse(&r, &w), 1);

    redisReply *e6[] = {&ready, &id, &p, &p};
    r = array(e6, 4); /* ready has no fourth element */
    assert_int_equal(fp_job_lookup_parse(&r, &w), 1);
}

static void test_id_check(void **state)
{
    (void)state;
    fp_err_t err;
    assert_int_equal(fp_job_id_check("1700000000000-0", &err), 0);
    assert_int_equal(fp_job_id_check("order-42", &err), 0);
    assert_int_equal(fp_job_id_check("", &err), FP_EUSAGE);
    assert_non_null(strstr(err.msg, "empty"));
    char long_id[FP_JOB_ID_MAX + 2];
    memset(long_id, 'a', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    assert_int_equal(fp_job_id_check(long_id, &err), FP_EUSAGE);
    long_id[FP_JOB_ID_MAX] = '\0';
    assert_int_equal(fp_job_id_check(long_id, &err), 0);
}

static void test_state_name(void **state)
{
    (void)state;
    assert_string_equal(fp_job_state_name(FP_JOB_READY, "ok"), "ready");
    assert_string_equal(fp_job_state_name(FP_JOB_RUNNING, NULL), "running");
    assert_string_equal(fp_job_state_name(FP_JOB_DELAYED, "retried"), "delayed");
    assert_string_equal(fp_job_state_name(FP_JOB_DEAD, "dead"), "dead");
    assert_string_equal(fp_job_state_name(FP_JOB_NOWHERE, "ok"), "done");
    assert_string_equal(fp_job_state_name(FP_JOB_NOWHERE, "dead"), "gone");
    assert_null(fp_job_state_name(FP_JOB_NOWHERE, NULL));
}

/* The script is the one the Python client evaluates (its copy is checked
 * equal by python/tests/test_job_lookup.py); here only its contract. */
static void test_script_shape(void **state)
{
    (void)state;
    const char *s = fp_job_lookup_script;
    assert_non_null(strstr(s, "KEYS[1], KEYS[2], KEYS[3]"));
    assert_non_null(strstr(s, "ARGV[1], ARGV[2], tonumber(ARGV[3])"));
    assert_null(strstr(s, "XADD"));
    assert_null(strstr(s, "XDEL"));
    assert_null(strstr(s, "ZREM"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_found),   cmocka_unit_test(test_ready),
        cmocka_unit_test(test_ready_without_payload),
        cmocka_unit_test(test_running),     cmocka_unit_test(test_delayed),
        cmocka_unit_test(test_dead),        cmocka_unit_test(test_bad_shapes),
        cmocka_unit_test(test_id_check),    cmocka_unit_test(test_state_name),
        cmocka_unit_test(test_script_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
