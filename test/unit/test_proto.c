/* test_proto.c: lib/dispatch/proto.c — every message both ways, malformed lines, and
 * the bounded framer (split reads, overlong lines, recovery after them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch/proto.h"

static void decode_ok(const char *line, fp_msg_t *msg)
{
    fp_err_t err;
    fp_err_clear(&err);
    int rc = fp_proto_decode(line, strlen(line), msg, &err);
    if (rc != 0)
        fail_msg("decode %s: %s", line, err.msg);
}

static void test_ready_round_trip(void **state)
{
    (void)state;
    fp_buf_t buf = {0};
    assert_int_equal(fp_proto_encode_ready(&buf, 4321), 0);
    assert_string_equal(buf.data, "{\"op\":\"ready\",\"pid\":4321}\n");
    fp_msg_t msg;
    decode_ok(buf.data, &msg);
    assert_int_equal(msg.op, FP_MSG_READY);
    assert_int_equal(msg.pid, 4321);
    fp_msg_clear(&msg);
    fp_buf_free(&buf);
}

static void test_job_embeds_payload_on_one_line(void **state)
{
    (void)state;
    fp_buf_t buf = {0};
    const char *job = "{\n  \"type\": \"echo\",\r\n  \"args\": {\"s\": \"a\\nb\"}\n}";
    assert_int_equal(fp_proto_encode_job(&buf, 7, 2, job, strlen(job)), 0);
    /* Exactly one newline: the terminator. */
    assert_ptr_equal(strchr(buf.data, '\n'), buf.data + buf.len - 1);
    fp_msg_t msg;
    decode_ok(buf.data, &msg);
    assert_int_equal(msg.op, FP_MSG_JOB);
    assert_int_equal(msg.seq, 7);
    assert_int_equal(msg.attempt, 2);
    cJSON *args = cJSON_GetObjectItem(msg.job, "args");
    assert_string_equal(cJSON_GetObjectItem(args, "s")->valuestring, "a\nb");
    fp_msg_clear(&msg);
    fp_buf_free(&buf);
}

static void test_done_ok_with_result(void **state)
{
    (void)state;
    fp_buf_t buf = {0};
    assert_int_equal(fp_proto_encode_done(&buf, 9, true, "{\"n\":\n1}", NULL, false, 5120), 0);
    assert_ptr_equal(strchr(buf.data, '\n'), buf.data + buf.len - 1);
    fp_msg_t msg;
    decode_ok(buf.data, &msg);
    assert_int_equal(msg.op, FP_MSG_DONE);
    assert_true(msg.ok);
    assert_int_equal(msg.seq, 9);
    assert_int_equal(msg.rss_kb, 5120);
    assert_string_equal(msg.result_json, "{\"n\":1}");
    assert_null(msg.error);
    fp_msg_clear(&msg);
    fp_buf_free(&buf);
}

static void test_done_failure_escapes_error(void **state)
{
    (void)state;
    fp_buf_t buf = {0};
    const char *why = "bad \"thing\"\nhappened";
    assert_int_equal(fp_proto_encode_done(&buf, 1, false, NULL, why, false, 0), 0);
    assert_ptr_equal(strchr(buf.data, '\n'), buf.data + buf.len - 1);
    fp_msg_t msg;
    decode_ok(buf.data, &msg);
    assert_false(msg.ok);
    assert_false(msg.retry);
    assert_string_equal(msg.error, why);
    fp_msg_clear(&msg);
    fp_buf_free(&buf);
}

static void test_done_failure_defaults(void **state)
{
    (void)state;
    fp_msg_t msg;
    decode_ok("{\"op\":\"done\",\"seq\":3,\"ok\":false}", &msg);
    assert_true(msg.retry); /* a worker that says nothing may be retried */
    assert_non_null(msg.error);
    fp_msg_clear(&msg);
}

static void test_stop_and_unknown_members(void **state)
{
    (void)state;
    fp_buf_t buf = {0};
    assert_int_equal(fp_proto_encode_stop(&buf), 0);
    fp_msg_t msg;
    decode_ok(buf.data, &msg);
    assert_int_equal(msg.op, FP_MSG_STOP);
    fp_msg_clear(&msg);
    decode_ok("{\"op\":\"ready\",\"pid\":5,\"future\":[1,2]}", &msg);
    assert_int_equal(msg.pid, 5);
    assert_int_equal(msg.concurrency, 1); /* not said: one job at a time */
    fp_msg_clear(&msg);
    decode_ok("{\"op\":\"ready\",\"pid\":5,\"concurrency\":1024}", &msg);
    assert_int_equal(msg.concurrency, 1024);
    fp_msg_clear(&msg);
    fp_buf_free(&buf);
}

/* "cancel" names the job by its seq, which it needs. */
static void test_cancel(void **state)
{
    (void)state;
    fp_buf_t buf = {0};
    assert_int_equal(fp_proto_encode_cancel(&buf, 42), 0);
    assert_string_equal(buf.data, "{\"op\":\"cancel\",\"seq\":42}\n");
    fp_msg_t msg;
    decode_ok(buf.data, &msg);
    assert_int_equal(msg.op, FP_MSG_CANCEL);
    assert_int_equal(msg.seq, 42);
    fp_msg_clear(&msg);
    fp_buf_free(&buf);
    fp_err_t err;
    fp_err_clear(&err);
    assert_int_equal(fp_proto_decode("{\"op\":\"cancel\"}", 15, &msg, &err), FP_EPROTO);
    assert_non_null(strstr(err.msg, "\"seq\""));
}

/* line must be refused (FP_EPROTO) with a reason containing want, and
 * leave nothing owned in the message. */
static void expect_refused(const char *line, const char *want)
{
    fp_msg_t msg;
    fp_err_t err;
    fp_err_clear(&err);
    int rc = fp_proto_decode(line, strlen(line), &msg, &err);
    if (rc != FP_EPROTO)
        fail_msg("%s: decoded with %d", line, rc);
    if (err.msg[0] == '\0' || strstr(err.msg, want) == NULL)
        fail_msg("%s: reason \"%s\", not \"%s\"", line, err.msg, want);
    assert_null(msg.job);
    assert_null(msg.error);
}

static void test_malformed_lines_are_errors(void **state)
{
    (void)state;
    const char *lines[] = {
        "",
        "not json",
        "[1,2]",
        "{\"op\":\"ready\",\"pid\":1} trailing",
        "{\"pid\":1}",
        "{\"op\":7}",
        "{\"op\":\"explode\"}",
        "{\"op\":\"ready\"}",
        "{\"op\":\"ready\",\"pid\":\"12\"}",
        "{\"op\":\"ready\",\"pid\":1.5}",
        "{\"op\":\"ready\",\"pid\":-3}",
        "{\"op\":\"ready\",\"pid\":1,\"concurrency\":0}",
        "{\"op\":\"ready\",\"pid\":1,\"concurrency\":1025}",
        "{\"op\":\"ready\",\"pid\":1,\"concurrency\":2.5}",
        "{\"op\":\"ready\",\"pid\":1,\"concurrency\":\"50\"}",
        "{\"op\":\"done\",\"seq\":1}",
        "{\"op\":\"done\",\"seq\":1,\"ok\":\"yes\"}",
        "{\"op\":\"done\",\"seq\":-1,\"ok\":true}",
        "{\"op\":\"done\",\"seq\":1,\"ok\":false,\"error\":5}",
        "{\"op\":\"done\",\"seq\":1,\"ok\":false,\"retry\":\"no\"}",
        "{\"op\":\"job\",\"seq\":1,\"attempt\":1}",
        "{\"op\":\"job\",\"seq\":1,\"attempt\":1,\"job\":\"text\"}",
        "{\"op\":\"job\",\"attempt\":1,\"job\":{}}",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        expect_refused(lines[i], "");
    /* A NUL byte inside the line must not let the rest be ignored. */
    const char nul[] = "{\"op\":\"stop\"}\0garbage";
    fp_msg_t msg;
    assert_int_equal(fp_proto_decode(nul, sizeof nul - 1, &msg, NULL), FP_EPROTO);
}

/* NaN and Infinity are not JSON: the reason says where the line went wrong,
 * so a child's author can see which value broke it. */
static void test_non_json_numbers_name_the_spot(void **state)
{
    (void)state;
    const char *lines[] = {
        "{\"op\":\"done\",\"seq\":3,\"ok\":true,\"result\":NaN}",
        "{\"op\":\"done\",\"seq\":3,\"ok\":true,\"result\":Infinity}",
        "{\"op\":\"done\",\"seq\":3,\"ok\":true,\"result\":[-Infinity]}",
    };
    const char *where[] = {"not JSON (at byte 40", "not JSON (at byte 40", "not JSON (at byte 41"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        expect_refused(lines[i], where[i]);
}

/* Numbers far outside int64_t are refused before any conversion (under
 * UBSan a cast of 1e300 to an integer aborts the test). */
static void test_huge_numbers_are_errors(void **state)
{
    (void)state;
    const char *lines[] = {
        "{\"op\":\"ready\",\"pid\":1e300}",
        "{\"op\":\"ready\",\"pid\":-1e300}",
        "{\"op\":\"done\",\"seq\":1e300,\"ok\":true}",
        "{\"op\":\"done\",\"seq\":-1e300,\"ok\":true}",
        "{\"op\":\"done\",\"seq\":9223372036854775808,\"ok\":true}",
        "{\"op\":\"done\",\"seq\":1,\"ok\":true,\"rss_kb\":1e300}",
        "{\"op\":\"done\",\"seq\":1,\"ok\":true,\"rss_kb\":-1e300}",
        "{\"op\":\"job\",\"seq\":1,\"attempt\":1e300,\"job\":{}}",
        "{\"op\":\"job\",\"seq\":1,\"attempt\":-1e300,\"job\":{}}",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        expect_refused(lines[i], "whole number");
}

typedef struct collected_s {
    char lines[16][128];
    int status[16];
    int count;
} collected_t;

static void collect(void *ctx, const char *line, size_t len, int status)
{
    collected_t *c = ctx;
    assert_true(c->count < 16);
    c->status[c->count] = status;
    if (line != NULL) {
        assert_true(len < sizeof c->lines[0]);
        memcpy(c->lines[c->count], line, len);
        c->lines[c->count][len] = '\0';
    } else {
        strcpy(c->lines[c->count], "<overlong>");
    }
    c->count++;
}

static void test_framer_joins_split_reads(void **state)
{
    (void)state;
    fp_framer_t f;
    fp_framer_init(&f, 64);
    collected_t c = {0};
    const char *stream = "alpha\nbe" "ta\n\ngam" "ma\ndelta";
    /* Feed one byte at a time: the worst case for a reader. */
    for (const char *p = stream; *p; p++)
        assert_int_equal(fp_framer_feed(&f, p, 1, collect, &c), 0);
    assert_int_equal(c.count, 4);
    assert_string_equal(c.lines[0], "alpha");
    assert_string_equal(c.lines[1], "beta");
    assert_string_equal(c.lines[2], "");
    assert_string_equal(c.lines[3], "gamma");
    assert_int_equal(fp_framer_feed(&f, "\n", 1, collect, &c), 0);
    assert_string_equal(c.lines[4], "delta");
    fp_framer_free(&f);
}

static void test_framer_discards_overlong_line_then_recovers(void **state)
{
    (void)state;
    fp_framer_t f;
    fp_framer_init(&f, 8);
    collected_t c = {0};
    assert_int_equal(fp_framer_feed(&f, "ok\n0123456789", 13, collect, &c), 0);
    assert_int_equal(fp_framer_feed(&f, "more of the same", 16, collect, &c), 0);
    assert_int_equal(fp_framer_feed(&f, "tail\nnext\n", 10, collect, &c), 0);
    assert_int_equal(c.count, 3);
    assert_string_equal(c.lines[0], "ok");
    assert_int_equal(c.status[1], FP_ELIMIT);
    assert_string_equal(c.lines[2], "next");
    /* Memory stayed bounded by the limit, not by the overlong line. */
    assert_true(f.partial.cap <= 64);
    /* An overlong line that arrives whole is reported too. */
    assert_int_equal(fp_framer_feed(&f, "0123456789abc\nx\n", 16, collect, &c), 0);
    assert_int_equal(c.status[3], FP_ELIMIT);
    assert_string_equal(c.lines[4], "x");
    fp_framer_free(&f);
}

static void test_buf_consume(void **state)
{
    (void)state;
    fp_buf_t b = {0};
    assert_int_equal(fp_buf_append(&b, "hello world", 11), 0);
    fp_buf_consume(&b, 6);
    assert_string_equal(b.data, "world");
    fp_buf_consume(&b, 100);
    assert_int_equal(b.len, 0);
    fp_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ready_round_trip),
        cmocka_unit_test(test_job_embeds_payload_on_one_line),
        cmocka_unit_test(test_done_ok_with_result),
        cmocka_unit_test(test_done_failure_escapes_error),
        cmocka_unit_test(test_done_failure_defaults),
        cmocka_unit_test(test_stop_and_unknown_members),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_malformed_lines_are_errors),
        cmocka_unit_test(test_non_json_numbers_name_the_spot),
        cmocka_unit_test(test_huge_numbers_are_errors),
        cmocka_unit_test(test_framer_joins_split_reads),
        cmocka_unit_test(test_framer_discards_overlong_line_then_recovers),
        cmocka_unit_test(test_buf_consume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
