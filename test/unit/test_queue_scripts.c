/* test_queue_scripts.c: the exact bytes the queue sends to Redis (RESP
 * arguments of outcome batches, EVALSHA and EVAL calls, plain commands such
 * as the claim renewal), SHA replies, key names, stream ids, which errors
 * mean "try again later", and the shape of the Lua texts (each outcome kind
 * consumes the arguments its encoder writes; the recovery scripts use the
 * server's clock and never touch this consumer). Running the scripts is the
 * integration tests' job (test_it_queue, test_it_recovery). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "queue/queue_scripts.h"

static void assert_bytes(const fp_resp_t *b, const char *want)
{
    size_t n = strlen(want);
    if (b->len != n || memcmp(b->data, want, n) != 0)
        fail_msg("got \"%.*s\", want \"%s\"", (int)b->len, b->data, want);
}

static void test_resp_args(void **state)
{
    (void)state;
    fp_resp_t b;
    fp_resp_init(&b);
    assert_int_equal(fp_resp_arg_str(&b, "XACK"), 0);
    assert_int_equal(fp_resp_arg(&b, "", 0), 0);
    assert_int_equal(fp_resp_arg(&b, "a\0b", 3), 0); /* binary safe */
    assert_int_equal(fp_resp_arg_int(&b, -42), 0);
    assert_int_equal(b.argc, 4);
    assert_int_equal(b.len, strlen("$4\r\nXACK\r\n$0\r\n\r\n$3\r\n") + 3 + 2 +
                                strlen("$3\r\n-42\r\n"));
    assert_memory_equal(b.data, "$4\r\nXACK\r\n$0\r\n\r\n$3\r\na\0b\r\n$3\r\n-42\r\n", b.len);
    fp_resp_reset(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.argc, 0);
    fp_resp_free(&b);
}

static void test_outcome_encoding(void **state)
{
    (void)state;
    fp_resp_t b;
    fp_resp_init(&b);
    assert_int_equal(fp_outcome_encode_ack(&b, false, "1-0"), 0);
    assert_bytes(&b, "$1\r\na\r\n$3\r\n1-0\r\n");
    assert_int_equal(b.argc, 2);

    fp_resp_reset(&b);
    assert_int_equal(fp_outcome_encode_put_back(&b, false, "2-1", "{}", 2), 0);
    assert_bytes(&b, "$1\r\np\r\n$3\r\n2-1\r\n$2\r\n{}\r\n");
    assert_int_equal(b.argc, 3);

    fp_resp_reset(&b);
    /* A retry carries its delay; Redis adds it to its own clock. */
    assert_int_equal(fp_outcome_encode_retry(&b, false, "3-0", "{\"a\":1}", 7, 1500), 0);
    assert_bytes(&b, "$1\r\nr\r\n$3\r\n3-0\r\n$7\r\n{\"a\":1}\r\n$4\r\n1500\r\n");
    assert_int_equal(b.argc, 4);
    fp_resp_reset(&b);
    assert_int_equal(fp_outcome_encode_retry(&b, true, "3-0", "{}", 2, -5), 0);
    assert_bytes(&b, "$1\r\nR\r\n$3\r\n3-0\r\n$2\r\n{}\r\n$1\r\n0\r\n");
    fp_resp_reset(&b);
    assert_int_equal(fp_outcome_encode_ack(&b, true, "1-0"), 0);
    assert_bytes(&b, "$1\r\nA\r\n$3\r\n1-0\r\n");
    fp_resp_reset(&b);
    assert_int_equal(fp_outcome_encode_put_back(&b, true, "2-1", "{}", 2), 0);
    assert_bytes(&b, "$1\r\nP\r\n$3\r\n2-1\r\n$2\r\n{}\r\n");

    fp_resp_reset(&b);
    assert_int_equal(fp_outcome_encode_dead(&b, false, "4-0", "x", 1, "boom", 5, 1700000000000), 0);
    assert_bytes(&b, "$1\r\nd\r\n$3\r\n4-0\r\n$1\r\nx\r\n$4\r\nboom\r\n$1\r\n5\r\n"
                     "$13\r\n1700000000000\r\n");
    assert_int_equal(b.argc, 6);

    fp_resp_reset(&b);
    assert_int_equal(fp_outcome_encode_dead(&b, true, "4-0", "", 0, NULL, 1, 0), 0);
    assert_bytes(&b, "$1\r\nD\r\n$3\r\n4-0\r\n$0\r\n\r\n$0\r\n\r\n$1\r\n1\r\n$1\r\n0\r\n");
    fp_resp_free(&b);
}

static void test_script_command(void **state)
{
    (void)state;
    fp_resp_t tail, out;
    fp_resp_init(&tail);
    fp_resp_init(&out);
    assert_int_equal(fp_outcome_encode_ack(&tail, false, "1-0"), 0);
    const char *keys[] = {"fp:{q}:jobs", "fp:{q}:dead", "fp:{q}:delayed"};
    const char *args[] = {"forkpool", "host-1"};
    const char *sha = "0123456789abcdef0123456789abcdef01234567";
    assert_int_equal(fp_script_command(&out, sha, "return 1", keys, 3, args, 2, &tail), 0);
    assert_bytes(&out, "*10\r\n$7\r\nEVALSHA\r\n$40\r\n0123456789abcdef0123456789abcdef01234567\r\n"
                       "$1\r\n3\r\n$11\r\nfp:{q}:jobs\r\n$11\r\nfp:{q}:dead\r\n"
                       "$14\r\nfp:{q}:delayed\r\n$8\r\nforkpool\r\n$6\r\nhost-1\r\n"
                       "$1\r\na\r\n$3\r\n1-0\r\n");
    /* Without a SHA (after NOSCRIPT) the script text goes instead. */
    assert_int_equal(fp_script_command(&out, NULL, "return 1", keys, 1, args, 1, NULL), 0);
    assert_bytes(&out, "*5\r\n$4\r\nEVAL\r\n$8\r\nreturn 1\r\n$1\r\n1\r\n"
                       "$11\r\nfp:{q}:jobs\r\n$8\r\nforkpool\r\n");
    fp_resp_free(&tail);
    fp_resp_free(&out);
}

static void test_sha_valid(void **state)
{
    (void)state;
    const char *ok = "e0e1f9fabfc9d4800c877a703b823ac0578ff831";
    assert_true(fp_script_sha_valid(ok, 40));
    assert_false(fp_script_sha_valid(ok, 39));
    assert_false(fp_script_sha_valid("E0E1F9FABFC9D4800C877A703B823AC0578FF831", 40));
    assert_false(fp_script_sha_valid("e0e1f9fabfc9d4800c877a703b823ac0578ff83g", 40));
    assert_false(fp_script_sha_valid(NULL, 40));
}

static void test_keys_and_ids(void **state)
{
    (void)state;
    char *k = fp_queue_key("fp", "default", "jobs");
    assert_string_equal(k, "fp:{default}:jobs");
    free(k);
    k = fp_queue_key("acme:prod", "mail", "delayed");
    assert_string_equal(k, "acme:prod:{mail}:delayed");
    free(k);

    uint64_t ms, seq;
    assert_true(fp_stream_id_parse("1700000000000-12", 16, &ms, &seq));
    assert_true(ms == 1700000000000ULL && seq == 12);
    assert_true(fp_stream_id_parse("18446744073709551615-18446744073709551615", 41, &ms, &seq));
    assert_true(ms == UINT64_MAX && seq == UINT64_MAX);
    assert_false(fp_stream_id_parse("18446744073709551616-0", 22, &ms, &seq));
    assert_false(fp_stream_id_parse("1700000000000", 13, &ms, &seq));
    assert_false(fp_stream_id_parse("1-", 2, &ms, &seq));
    assert_false(fp_stream_id_parse("-1", 2, &ms, &seq));
    assert_false(fp_stream_id_parse("1-2x", 4, &ms, &seq));
    assert_false(fp_stream_id_parse("*", 1, &ms, &seq));
}

/* The span the outcome script reads its own pending entries over: numeric
 * order (seq 10 after seq 9, a later ms before a longer seq), "-" and "+"
 * when there is nothing to span. */
static void test_sid_span(void **state)
{
    (void)state;
    char lo[FP_SID_TEXT], hi[FP_SID_TEXT];
    const fp_sid_t ids[] = {{1700000000001, 1}, {1700000000000, 10}, {1700000000000, 9},
                            {1700000000001, 0}};
    fp_sid_span(ids, 4, lo, hi);
    assert_string_equal(lo, "1700000000000-9");
    assert_string_equal(hi, "1700000000001-1");
    fp_sid_span(ids + 1, 1, lo, hi);
    assert_string_equal(lo, "1700000000000-10");
    assert_string_equal(hi, "1700000000000-10");
    const fp_sid_t top[] = {{UINT64_MAX, UINT64_MAX}, {0, 0}};
    fp_sid_span(top, 2, lo, hi);
    assert_string_equal(lo, "0-0");
    assert_string_equal(hi, "18446744073709551615-18446744073709551615");
    fp_sid_span(NULL, 0, lo, hi);
    assert_string_equal(lo, "-");
    assert_string_equal(hi, "+");
}

static void test_transient_errors(void **state)
{
    (void)state;
    const char *again[] = {"LOADING Redis is loading the dataset in memory",
                           "BUSY Redis is busy running a script.", "TRYAGAIN", "MASTERDOWN x",
                           "CLUSTERDOWN The cluster is down"};
    const char *fatal[] = {"BUSYGROUP Consumer Group name already exists",
                           "BUSYKEY Target key name already exists.",
                           "NOSCRIPT No matching script", "WRONGTYPE Operation against a key",
                           "ERR unknown command", "LOADINGX"};
    for (size_t i = 0; i < sizeof again / sizeof again[0]; i++)
        assert_true(fp_redis_error_transient(again[i], strlen(again[i])));
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        assert_false(fp_redis_error_transient(fatal[i], strlen(fatal[i])));
}

/* Each kind's arguments in the script match its encoder's count. */
static void test_script_text_matches_encoders(void **state)
{
    (void)state;
    const char *s = fp_script_outcomes;
    FP_TH_EXPECT_ALL_IN(s,
                        "local widths = {a = 2, p = 3, r = 4, d = 6, k = 2, x = 6,\n"
                        "                A = 2, P = 3, R = 4, D = 6, K = 2, X = 6}",
                        "'failed_at', ARGV[i + 5]");
    /* Kinds are checked before anything is written for the outcome. */
    assert_true(strstr(s, "unknown outcome kind") < strstr(s, "XPENDING"));
    /* Acts only on an entry pending to this consumer (or, upper-case, one
     * pending to nobody; or a failure of one pending to nobody on a first
     * send), looked up before XACK (its own pending entries in one call, any
     * other id alone); nothing else is touched, and an id is applied once per
     * batch. */
    FP_TH_EXPECT_ALL_IN(s,
                        "'XPENDING', jobs, group, lo, hi, 10000, consumer",
                        "redis.call('XPENDING', jobs, group, id, id, 1)");
    FP_TH_EXPECT_ALL_IN(s,
                        "local fails = {p = true, r = true, d = true, x = true}",
                        "local orphan = holder == nil and (k ~= kind or (first and fails[k]))",
                        "if not seen[id] and (holder == consumer or orphan) then");
    assert_true(strstr(s, "XPENDING") < strstr(s, "XACK"));
    /* The short branch of a plain success: only an entry read as this
     * consumer's (or, with the take-over token Redis holds, any entry of
     * the batch), first time in the batch, and never while marks exist. */
    assert_non_null(strstr(s, "local own = mine[id] or (trusted and not seen[id])"));
    assert_non_null(strstr(s, "if kind == 'a' and own and not marked then"));
    /* Trusted: no lookup at all; the token compared is the one in Redis. */
    FP_TH_EXPECT_ALL_IN(s,
                        "local token = redis.call('GET', KEYS[5]) or new_token(KEYS[5], t)\n",
                        "local trusted = ARGV[6] ~= '-' and ARGV[6] == token",
                        "if i <= n and not trusted then",
                        "    if own then\n      holder = consumer");
    assert_true(strstr(s, "local trusted") < strstr(s, "XPENDING"));
    /* Even the token is written only after every kind was checked. */
    assert_true(strstr(s, "unknown outcome kind") < strstr(s, "new_token(KEYS[5]"));
    assert_non_null(strstr(s, "seen[id], mine[id], na, nd, done = true, nil, na + 1, nd + 1"));
    /* Writes first, XACK and XDEL last, in chunks Lua's unpack can take. */
    assert_true(strstr(s, "'ZADD', delayed") < strstr(s, "'XACK', jobs, group, unpack(acks"));
    assert_non_null(strstr(s, "'XDEL', jobs, unpack(dels, s, math.min(s + 999, nd))"));
    assert_null(strstr(s, "== 1"));
    /* Due by Redis' clock: TIME + the delay the outcome carries. */
    FP_TH_EXPECT_ALL_IN(s,
                        "redis.call('TIME')",
                        "'ZADD', delayed, now + tonumber(ARGV[i + 3]), ARGV[i + 2]");
    assert_int_equal(FP_SCRIPT_OUTCOMES_KEYS, 5);
    assert_int_equal(FP_SCRIPT_OUTCOMES_ARGS, 6);
    /* A marked entry loses its mark with its outcome; its retry or put back
     * becomes a cancel (the cancel hash is a declared key). */
    FP_TH_EXPECT_ALL_IN(s,
                        "marks = KEYS[1], KEYS[2], KEYS[3], KEYS[4]",
                        "redis.call('HDEL', marks, id) > 0 and (b == 'r' or b == 'p')",
                        "elseif b == 'c' then",
                        "'error', 'cancelled'",
                        "return {done, stale, cancelled, token}");
    assert_true(strstr(s, "elseif b == 'c' then") < strstr(s, "'XACK', jobs, group, unpack(acks"));
    assert_non_null(strstr(fp_script_drained, "XINFO', 'GROUPS'"));
    assert_null(strstr(fp_script_drained, "XREADGROUP"));
    /* The pull is no part of it: the daemon sends XREADGROUP as a plain
     * command right behind the script (outbox.c), so the entries read are
     * never turned into Lua tables and back. */
    assert_null(strstr(s, "XREADGROUP"));
    FP_TH_EXPECT_ALL_IN(fp_script_outcomes,
                        "local group, consumer, lo, hi = ARGV[1], ARGV[2], ARGV[3], ARGV[4]",
                        "local first = ARGV[5] == '1'",
                        "local i, n, done, stale, cancelled = 7, #ARGV, 0, {}, {}",
                        "return {done, stale, cancelled, token}");
}

/* Renewal: only entries pending to this consumer and still in the stream;
 * never one another consumer holds, never one deleted (XCLAIM would drop its
 * pending record). One gone from the stream is reported deleted even when its
 * pending record is gone too, before "pending to nobody" is considered.
 * Cancel marks are not its business (fp_script_cancel_take). */
static void test_renew_script(void **state)
{
    (void)state;
    const char *s = fp_script_renew;
    assert_int_equal(FP_SCRIPT_RENEW_KEYS, 1);
    FP_TH_EXPECT_ALL_IN(s,
                        "'XPENDING', jobs, group, id, id, 1",
                        "if p[1] ~= nil and p[1][2] ~= me then",
                        "#redis.call('XRANGE', jobs, id, id) == 0",
                        "elseif p[1] == nil then");
    assert_true(strstr(s, "XRANGE") < strstr(s, "XCLAIM"));
    assert_true(strstr(s, "XRANGE") < strstr(s, "elseif p[1] == nil then"));
    FP_TH_EXPECT_ALL_IN(s,
                        "keep[n + 1] = 'JUSTID'",
                        "'XCLAIM', jobs, group, me, 0, unpack(keep)",
                        "return {n, deleted, taken}");
    assert_null(strstr(s, "marks"));
}

/* Taking cancel marks: an HLEN alone while nothing is marked; then only the
 * marks of entries pending to this consumer come back, and stay until the
 * entry's outcome (test_it_queue_pull runs it against Redis). */
static void test_cancel_take_script(void **state)
{
    (void)state;
    const char *s = fp_script_cancel_take;
    assert_int_equal(FP_SCRIPT_CANCEL_TAKE_KEYS, 2);
    FP_TH_EXPECT_ALL_IN(s,
                        "local jobs, marks, group, me = KEYS[1], KEYS[2], ARGV[1], ARGV[2]",
                        "if redis.call('HLEN', marks) == 0 then return {} end",
                        "redis.pcall('XPENDING', jobs, group, id, id, 1)",
                        "p[1][2] == me",
                        "redis.call('HDEL', marks, id)");
    assert_true(strstr(s, "HLEN") < strstr(s, "HKEYS"));
}

/* A malformed entry's fields on their way to dead: every byte kept. */
static void test_entry_fields_json(void **state)
{
    (void)state;
    const char *strs[] = {"name", "a\0b\"", "x\0y", "1\n", "odd"};
    const size_t lens[] = {4, 4, 3, 2, 3};
    fp_buf_t out = {0};
    assert_int_equal(fp_entry_fields_json(&out, strs, lens, 5), 0);
    const char *want = "{\"name\":\"a\\u0000b\\\"\",\"x\\u0000y\":\"1\\n\"}";
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.data, want, out.len);
    fp_buf_free(&out);
    fp_buf_t empty = {0};
    assert_int_equal(fp_entry_fields_json(&empty, NULL, NULL, 0), 0);
    assert_string_equal(empty.data, "{}");
    fp_buf_free(&empty);
}

static void test_resp_command(void **state)
{
    (void)state;
    fp_resp_t args, out;
    fp_resp_init(&args);
    fp_resp_init(&out);
    assert_int_equal(fp_resp_command(&out, &args), 0);
    assert_bytes(&out, "*0\r\n");
    assert_int_equal(fp_resp_arg_str(&args, "XCLAIM"), 0);
    assert_int_equal(fp_resp_arg_str(&args, "1-0"), 0);
    assert_int_equal(fp_resp_arg_str(&args, "JUSTID"), 0);
    assert_int_equal(fp_resp_command(&out, &args), 0);
    assert_bytes(&out, "*3\r\n$6\r\nXCLAIM\r\n$3\r\n1-0\r\n$6\r\nJUSTID\r\n");
    assert_int_equal(out.argc, 3);
    fp_resp_free(&args);
    fp_resp_free(&out);
}

static void test_recovery_scripts(void **state)
{
    (void)state;
    assert_int_equal(FP_SCRIPT_CLAIM_KEYS, 3);
    assert_int_equal(FP_SCRIPT_HISTORY_KEYS, 2);
    assert_int_equal(FP_SCRIPT_CONSUMERS_KEYS, 1);
    assert_int_equal(FP_SCRIPT_MOVER_KEYS, 2);
    /* Take-over: idle entries of others only, counter + 1, min-idle kept. */
    FP_TH_EXPECT_ALL_IN(fp_script_claim,
                        "'XPENDING', jobs, group, 'IDLE', idle",
                        "p[2] ~= me",
                        "'XCLAIM', jobs, group, me, idle, id)",
                        "p[4] + 1");
    assert_null(strstr(fp_script_claim, "JUSTID"));
    /* Anything moved or dropped renews the take-over token, after the moves
     * (one atomic step with them), never to a value it had. */
    FP_TH_EXPECT_ALL_IN(fp_script_claim,
                        "if dropped > 0 or #claimed > 0 then new_token(KEYS[3], redis.call('TIME'))",
                        "local count = tonumber(string.match(old, ':(%d+)$') or '0') + 1",
                        "local token = t[1] .. '.' .. t[2] .. ':' .. string.format('%d', count)\n"
                        "  redis.call('SET', key, token)");
    assert_true(strstr(fp_script_claim, "'XCLAIM'") < strstr(fp_script_claim, "new_token(KEYS[3]"));
    /* One writer of tokens: the outcome script's is the same function. */
    assert_non_null(strstr(fp_script_outcomes, "local function new_token(key, t)"));
    /* Both reads say whether `forkpool cancel` marked the entry meanwhile,
     * so its next holder never starts it. */
    assert_non_null(strstr(fp_script_claim, "redis.call('HEXISTS', marks, id)"));
    assert_non_null(strstr(fp_script_history, "redis.call('HEXISTS', marks, id)"));
    /* Clean-up: never this consumer, never one with pending entries. */
    assert_non_null(strstr(fp_script_consumers, "f['name'] ~= me and f['pending'] == 0"));
    /* Mover: Redis' clock, one atomic move. */
    FP_TH_EXPECT_ALL_IN(fp_script_mover,
                        "redis.call('TIME')",
                        "'ZRANGEBYSCORE', delayed, '-inf', bound",
                        "'ZREM', delayed, unpack(due)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resp_args),
        cmocka_unit_test(test_outcome_encoding),
        cmocka_unit_test(test_script_command),
        cmocka_unit_test(test_sha_valid),
        cmocka_unit_test(test_keys_and_ids),
        cmocka_unit_test(test_sid_span),
        cmocka_unit_test(test_transient_errors),
        cmocka_unit_test(test_script_text_matches_encoders),
        cmocka_unit_test(test_renew_script),
        cmocka_unit_test(test_cancel_take_script),
        cmocka_unit_test(test_entry_fields_json),
        cmocka_unit_test(test_resp_command),
        cmocka_unit_test(test_recovery_scripts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
