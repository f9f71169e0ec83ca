/* test_sentinel.c: the pure parts of Sentinel discovery: sentinel addresses
 * as users write them, the answers sentinels give (get-master-addr-by-name,
 * +switch-master), and the round that asks them in turn. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "redis/sentinel_parse.h"

static void test_addr_good(void **state)
{
    (void)state;
    static const struct {
        const char *text, *host;
        int port;
        const char *shown;
    } cases[] = {
        {"127.0.0.1:26379", "127.0.0.1", 26379, "127.0.0.1:26379"},
        {"sentinel-a", "sentinel-a", FP_SENTINEL_DEFAULT_PORT, "sentinel-a:26379"},
        {"h:1", "h", 1, "h:1"},
        {"[::1]:5000", "::1", 5000, "[::1]:5000"},
        {"[fe80::2]", "fe80::2", FP_SENTINEL_DEFAULT_PORT, "[fe80::2]:26379"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fp_sentinel_addr_t a;
        char why[128] = "", shown[300];
        assert_int_equal(fp_sentinel_addr_parse(cases[i].text, &a, why, sizeof why), 0);
        assert_string_equal(a.host, cases[i].host);
        assert_int_equal(a.port, cases[i].port);
        fp_sentinel_addr_format(&a, shown, sizeof shown);
        assert_string_equal(shown, cases[i].shown);
    }
}

static void test_addr_bad(void **state)
{
    (void)state;
    static const struct {
        const char *text, *why;
    } cases[] = {
        {"", "no host"},
        {":26379", "no host"},
        {"h:0", "port from 1 to 65535"},
        {"h:65536", "port from 1 to 65535"},
        {"h:", "port from 1 to 65535"},
        {"h:12a", "port from 1 to 65535"},
        {"::1", "brackets"},
        {"[::1", "closing ']'"},
        {"[::1]x", "after the IPv6 host"},
        {"redis://h:1", "no scheme"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fp_sentinel_addr_t a;
        char why[128] = "";
        assert_int_equal(fp_sentinel_addr_parse(cases[i].text, &a, why, sizeof why), -1);
        if (strstr(why, cases[i].why) == NULL)
            fail_msg("\"%s\": got \"%s\", wanted \"%s\"", cases[i].text, why, cases[i].why);
    }
}

static redisReply str_reply(const char *s)
{
    redisReply r = {.type = REDIS_REPLY_STRING, .str = (char *)s, .len = strlen(s)};
    return r;
}

static void test_master_reply(void **state)
{
    (void)state;
    redisReply ip = str_reply("10.0.0.7"), port = str_reply("6380");
    redisReply *two[] = {&ip, &port};
    redisReply arr = {.type = REDIS_REPLY_ARRAY, .elements = 2, .element = two};
    fp_sentinel_addr_t a;
    char why[128] = "";
    assert_int_equal(fp_sentinel_master_reply(&arr, &a, why, sizeof why), 0);
    assert_string_equal(a.host, "10.0.0.7");
    assert_int_equal(a.port, 6380);

    redisReply nil = {.type = REDIS_REPLY_NIL};
    assert_int_equal(fp_sentinel_master_reply(&nil, &a, why, sizeof why), -1);
    assert_non_null(strstr(why, "does not monitor"));

    redisReply err = str_reply("NOAUTH Authentication required.");
    err.type = REDIS_REPLY_ERROR;
    assert_int_equal(fp_sentinel_master_reply(&err, &a, why, sizeof why), -1);
    assert_non_null(strstr(why, "NOAUTH"));

    redisReply badport = str_reply("x"), *bad[] = {&ip, &badport};
    arr.element = bad;
    assert_int_equal(fp_sentinel_master_reply(&arr, &a, why, sizeof why), -1);
    arr.elements = 1;
    assert_int_equal(fp_sentinel_master_reply(&arr, &a, why, sizeof why), -1);
    assert_non_null(strstr(why, "malformed"));
    assert_int_equal(fp_sentinel_master_reply(NULL, &a, why, sizeof why), -1);
}

static void test_switch_message(void **state)
{
    (void)state;
    fp_sentinel_addr_t to = {.host = "unchanged", .port = 1};
    const char *msg = "mymaster 127.0.0.1 6379 127.0.0.1 6380";
    assert_true(fp_sentinel_switch_parse(msg, strlen(msg), "mymaster", &to));
    assert_string_equal(to.host, "127.0.0.1");
    assert_int_equal(to.port, 6380);

    static const char *const ignored[] = {
        "other 127.0.0.1 6379 127.0.0.1 6380",    /* another master */
        "mymaster2 127.0.0.1 6379 127.0.0.1 6380", /* a longer name */
        "mymaster 127.0.0.1 6379 127.0.0.1",       /* four words */
        "mymaster 127.0.0.1 6379 127.0.0.1 6380 x", /* six */
        "mymaster 127.0.0.1 6379 127.0.0.1 0",     /* bad port */
        "mymaster  127.0.0.1 6379 127.0.0.1 6380", /* double space */
        "",
    };
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) {
        fp_sentinel_addr_t before = to;
        assert_false(fp_sentinel_switch_parse(ignored[i], strlen(ignored[i]), "mymaster", &to));
        assert_true(fp_sentinel_addr_equal(&to, &before));
    }
}

/* Each sentinel is asked at most once per round; the one that answers is
 * asked first next time, the others keep their order. */
static void test_round(void **state)
{
    (void)state;
    fp_sentinel_round_t r;
    size_t next = 99;
    fp_sentinel_round_init(&r, 3);
    assert_int_equal(fp_sentinel_round_begin(&r), 0);
    assert_true(fp_sentinel_round_failed(&r, &next));
    assert_int_equal(next, 1);
    assert_true(fp_sentinel_round_failed(&r, &next));
    assert_int_equal(next, 2);
    fp_sentinel_round_answered(&r);
    assert_false(r.active);
    /* 2 answered: 2, 0, 1 */
    assert_int_equal(fp_sentinel_round_begin(&r), 2);
    assert_true(fp_sentinel_round_failed(&r, &next));
    assert_int_equal(next, 0);
    assert_true(fp_sentinel_round_failed(&r, &next));
    assert_int_equal(next, 1);
    assert_false(fp_sentinel_round_failed(&r, &next));
    assert_false(r.active);
    /* a round where all failed changes nothing */
    assert_int_equal(fp_sentinel_round_begin(&r), 2);
    fp_sentinel_round_answered(&r);
    assert_int_equal(fp_sentinel_round_begin(&r), 2);

    fp_sentinel_round_init(&r, 1);
    assert_int_equal(fp_sentinel_round_begin(&r), 0);
    assert_false(fp_sentinel_round_failed(&r, &next));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_good),     cmocka_unit_test(test_addr_bad),
        cmocka_unit_test(test_master_reply),  cmocka_unit_test(test_switch_message),
        cmocka_unit_test(test_round),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
