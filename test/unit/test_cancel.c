/* test_cancel.c: the decoder of the cancel script's reply behind `forkpool
 * cancel ID`, on canned replies of every shape the script returns (and
 * shapes it never does, which must be refused, not half read), and the
 * script's text: the lookup's text inside a function, then the action.
 * Running the script is test_it_cancel's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "queue/cancel.h"

static redisReply str(const char *s)
{
    return (redisReply){.type = REDIS_REPLY_STRING, .str = (char *)s, .len = strlen(s)};
}

static redisReply nil(void)
{
    return (redisReply){.type = REDIS_REPLY_NIL};
}

static redisReply array(redisReply **elems, size_t n)
{
    return (redisReply){.type = REDIS_REPLY_ARRAY, .element = elems, .elements = n};
}

static void test_not_found(void **state)
{
    (void)state;
    redisReply r = nil();
    fp_cancel_reply_t c;
    assert_int_equal(fp_cancel_parse(&r, &c), 0);
    assert_int_equal(c.result, FP_CANCEL_NOT_FOUND);
    fp_cancel_reply_clear(&c);
}

static void test_cancelled_ready(void **state)
{
    (void)state;
    redisReply k = str("cancelled"), was = str("ready"), dead = str("5-0"), id = str("4-1");
    redisReply *e[] = {&k, &was, &dead, &id};
    redisReply r = array(e, 4);
    fp_cancel_reply_t c;
    assert_int_equal(fp_cancel_parse(&r, &c), 0);
    assert_int_equal(c.result, FP_CANCEL_DONE);
    assert_int_equal(c.was, FP_JOB_READY);
    assert_string_equal(c.dead_id.s, "5-0");
    assert_string_equal(c.entry_id.s, "4-1");
    fp_cancel_reply_clear(&c);
}

static void test_cancelled_delayed(void **state)
{
    (void)state;
    redisReply k = str("cancelled"), was = str("delayed"), dead = str("5-0"), none = nil();
    redisReply *e[] = {&k, &was, &dead, &none};
    redisReply r = array(e, 4);
    fp_cancel_reply_t c;
    assert_int_equal(fp_cancel_parse(&r, &c), 0);
    assert_int_equal(c.was, FP_JOB_DELAYED);
    assert_null(c.entry_id.s);
    fp_cancel_reply_clear(&c);
}

static void test_running_and_dead_are_left(void **state)
{
    (void)state;
    redisReply k = str("running"), id = str("4-1"), who = str("host-a");
    redisReply *e[] = {&k, &id, &who};
    redisReply r = array(e, 3);
    fp_cancel_reply_t c;
    assert_int_equal(fp_cancel_parse(&r, &c), 0);
    assert_int_equal(c.result, FP_CANCEL_RUNNING);
    assert_string_equal(c.consumer.s, "host-a");
    assert_string_equal(c.entry_id.s, "4-1");
    fp_cancel_reply_clear(&c);

    redisReply d = str("dead"), did = str("9-0");
    redisReply *e2[] = {&d, &did};
    r = array(e2, 2);
    assert_int_equal(fp_cancel_parse(&r, &c), 0);
    assert_int_equal(c.result, FP_CANCEL_DEAD);
    assert_string_equal(c.dead_id.s, "9-0");
    fp_cancel_reply_clear(&c);
}

/* Shapes the script never returns are refused, with nothing left to free. */
static void test_bad_shapes(void **state)
{
    (void)state;
    redisReply k = str("cancelled"), was = str("ready"), bogus = str("running?"),
               dead = str("5-0"), none = nil(), id = str("4-1");
    fp_cancel_reply_t c;
    redisReply *no_entry[] = {&k, &was, &dead, &none}; /* ready without its entry */
    redisReply r = array(no_entry, 4);
    assert_int_equal(fp_cancel_parse(&r, &c), 1);
    assert_null(c.dead_id.s);
    redisReply *odd_was[] = {&k, &bogus, &dead, &id};
    r = array(odd_was, 4);
    assert_int_equal(fp_cancel_parse(&r, &c), 1);
    redisReply *short_running[] = {&bogus, &id};
    r = array(short_running, 2);
    assert_int_equal(fp_cancel_parse(&r, &c), 1);
    redisReply *no_dead[] = {&k, &was, &none, &id};
    r = array(no_dead, 4);
    assert_int_equal(fp_cancel_parse(&r, &c), 1);
    r = str("cancelled");
    assert_int_equal(fp_cancel_parse(&r, &c), 1);
}

static void test_script_wraps_the_lookup(void **state)
{
    (void)state;
    char *s = fp_cancel_script_new();
    assert_non_null(s);
    assert_non_null(strstr(s, fp_job_lookup_script));
    assert_int_equal(strncmp(s, "local function lookup()\n", 24), 0);
    assert_non_null(strstr(s, "'error', '" FP_CANCEL_ERROR "'"));
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_cancelled_ready),
        cmocka_unit_test(test_cancelled_delayed),
        cmocka_unit_test(test_running_and_dead_are_left),
        cmocka_unit_test(test_bad_shapes),
        cmocka_unit_test(test_script_wraps_the_lookup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
