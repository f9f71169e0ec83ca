/* test_unique.c: lib/queue/unique.c and the unique kinds of
 * lib/queue/queue_scripts.c — the unique key's name and TTL, the bytes of
 * the releasing outcome kinds, and where the release sits in the outcome
 * script. Running the scripts against Redis is test_it_unique's job. */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "queue/queue_scripts.h"
#include "queue/unique.h"

static void assert_bytes(const fp_resp_t *b, const char *want)
{
    assert_int_equal(b->len, strlen(want));
    assert_memory_equal(b->data, want, b->len);
}

/* Per queue, under the queue's hash tag, like every other key. */
static void test_key_name(void **state)
{
    (void)state;
    char *k = fp_unique_key("fp", "mail", "order-17");
    assert_string_equal(k, "fp:{mail}:unique:order-17");
    free(k);
    k = fp_unique_key("x", "q", "a:{b}");
    assert_string_equal(k, "x:{q}:unique:a:{b}"); /* the first {..} is the queue's */
    free(k);
}

/* Given: as given. Not given: a day after the job is due. */
static void test_ttl(void **state)
{
    (void)state;
    assert_int_equal(fp_unique_ttl_ms(5000, -1), 5000);
    assert_int_equal(fp_unique_ttl_ms(5000, 60000), 5000);
    assert_int_equal(fp_unique_ttl_ms(-1, -1), FP_UNIQUE_TTL_DEFAULT_MS);
    assert_int_equal(fp_unique_ttl_ms(0, -1), FP_UNIQUE_TTL_DEFAULT_MS);
    assert_int_equal(fp_unique_ttl_ms(-1, 60000), FP_UNIQUE_TTL_DEFAULT_MS + 60000);
    char text[24];
    snprintf(text, sizeof text, "%lld", (long long)FP_UNIQUE_TTL_DEFAULT_MS);
    assert_string_equal(text, FP_UNIQUE_TTL_DEFAULT_TEXT);
}

static void test_releasing_kinds(void **state)
{
    (void)state;
    fp_resp_t b;
    fp_resp_init(&b);
    assert_int_equal(fp_outcome_encode_ack_unique(&b, false, "1-0"), 0);
    assert_bytes(&b, "$1\r\nk\r\n$3\r\n1-0\r\n");
    fp_resp_reset(&b);
    assert_int_equal(fp_outcome_encode_ack_unique(&b, true, "1-0"), 0);
    assert_bytes(&b, "$1\r\nK\r\n$3\r\n1-0\r\n");
    fp_resp_reset(&b);
    assert_int_equal(fp_outcome_encode_dead_unique(&b, false, "4-0", "x", 1, "boom", 5, 17), 0);
    assert_bytes(&b, "$1\r\nx\r\n$3\r\n4-0\r\n$1\r\nx\r\n$4\r\nboom\r\n$1\r\n5\r\n$2\r\n17\r\n");
    assert_int_equal(b.argc, 6);
    fp_resp_free(&b);
}

/* The release happens in the outcome's own script, after the outcome's
 * writes and before XDEL (the payload of an ack is read from the entry), and
 * compares the key's value with the job's id. */
static void test_release_in_outcome_script(void **state)
{
    (void)state;
    const char *scripts[] = {fp_script_outcomes};
    for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++) {
        const char *s = scripts[i];
        const char *release = strstr(s, "unique_release(unique_base, text)");
        assert_non_null(release);
        assert_true(strstr(s, "'XADD', dead") < release);
        assert_true(release < strstr(s, "'XDEL', jobs, unpack(dels"));
        assert_non_null(strstr(s, "string.sub(jobs, 1, -5) .. 'unique:'"));
        /* Nothing in the release may stop the script before XACK + XDEL. */
        assert_non_null(strstr(s, "redis.pcall('GET', key)"));
        assert_non_null(strstr(s, "redis.pcall('DEL', key)"));
        assert_non_null(strstr(s, "{id, b == 'd' and ARGV[i + 2]}"));
    }
    /* Enqueue: the key check, its SET with a TTL and the add are one script. */
    const char *e = fp_script_unique_enqueue;
    assert_true(strstr(e, "'GET', KEYS[1]") < strstr(e, "'SET', KEYS[1], ARGV[1], 'PX'"));
    assert_non_null(strstr(e, "'XADD', KEYS[2]"));
    assert_non_null(strstr(e, "'ZADD', KEYS[3], now + delay"));
    assert_non_null(strstr(fp_script_unique_release, "~= ARGV[1] then return 0"));
}

/* The command line's options: what goes together and what is refused. */
static void test_opts_check(void **state)
{
    (void)state;
    fp_err_t err;
    fp_unique_opts_t none = {NULL, -1, FP_UNIQUE_NONE};
    assert_int_equal(fp_unique_opts_check(&none, true, &err), 0);
    fp_unique_opts_t ok = {"order-17", 60000, FP_UNIQUE_START};
    assert_int_equal(fp_unique_opts_check(&ok, false, &err), 0);
    const struct {
        fp_unique_opts_t o;
        bool many;
        const char *why;
    } bad[] = {
        {{NULL, 5000, FP_UNIQUE_NONE}, false, "need --unique KEY"},
        {{NULL, -1, FP_UNIQUE_DONE}, false, "need --unique KEY"},
        {{"", -1, FP_UNIQUE_NONE}, false, "1 to 512 bytes"},
        {{"k", 0, FP_UNIQUE_NONE}, false, "more than 0"},
        {{"k", -1, FP_UNIQUE_NONE}, true, "cannot be combined with --count"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fp_err_clear(&err);
        assert_int_equal(fp_unique_opts_check(&bad[i].o, bad[i].many, &err), FP_EUSAGE);
        if (strstr(err.msg, bad[i].why) == NULL)
            fail_msg("case %zu: \"%s\", wanted \"%s\"", i, err.msg, bad[i].why);
    }
    char long_key[FP_UNIQUE_KEY_MAX + 2];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    fp_unique_opts_t too_long = {long_key, -1, FP_UNIQUE_NONE};
    assert_int_equal(fp_unique_opts_check(&too_long, false, &err), FP_EUSAGE);
}

/* The members the command line adds make a job fp_job_parse accepts as
 * unique, with the key escaped and "until" defaulting to done. */
static void test_members_json(void **state)
{
    (void)state;
    fp_buf_t b = {0};
    fp_buf_append(&b, "{\"type\":\"t\"", 11);
    fp_unique_opts_t o = {"a\"b", -1, FP_UNIQUE_NONE};
    assert_int_equal(fp_unique_members_json(&b, "id-1", &o), 0);
    fp_buf_append(&b, "}", 1);
    const char *want = "{\"type\":\"t\",\"id\":\"id-1\",\"unique\":{\"key\":\"a\\\"b\",\"until\":\"done\"}}";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    fp_job_t job;
    fp_err_t err;
    assert_int_equal(fp_job_parse(b.data, b.len, 4096, &job, &err), 0);
    assert_string_equal(job.unique_key, "a\"b");
    assert_int_equal(job.unique_until, FP_UNIQUE_DONE);
    fp_job_clear(&job);
    fp_buf_free(&b);
    fp_unique_until_t u;
    assert_int_equal(fp_unique_until_parse("start", &u), 0);
    assert_int_equal(u, FP_UNIQUE_START);
    assert_string_equal(fp_unique_until_name(u), "start");
    assert_int_equal(fp_unique_until_parse("done", &u), 0);
    assert_int_equal(u, FP_UNIQUE_DONE);
    assert_int_equal(fp_unique_until_parse("finish", &u), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_name),
        cmocka_unit_test(test_ttl),
        cmocka_unit_test(test_releasing_kinds),
        cmocka_unit_test(test_release_in_outcome_script),
        cmocka_unit_test(test_opts_check),
        cmocka_unit_test(test_members_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
