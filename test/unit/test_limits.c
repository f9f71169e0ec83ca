/* test_limits.c: concurrency and rate limits' pure parts — the rate string
 * parser, the GCRA step (and its Lua twin, run in a real Redis: the drift
 * test), the admit / delay decisions, the [limits.TYPE] tables of the
 * configuration, the take script's reply, and the payload a job is handed
 * back with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "dispatch/retry.h"
#include "limits/limit.h"
#include "limits/limit_script.h"
#include "limits/rate.h"
#include "redis_server.h"

static void rate_parse_ok(void **state)
{
    (void)state;
    fp_rate_t r;
    fp_err_t err = {0};
    assert_int_equal(fp_rate_parse("100/s", &r, &err), 0);
    assert_int_equal(r.count, 100);
    assert_int_equal(r.period_ms, 1000);
    assert_int_equal(fp_rate_parse(" 20 / m ", &r, &err), 0);
    assert_int_equal(r.count, 20);
    assert_int_equal(r.period_ms, 60000);
    assert_int_equal(fp_rate_parse("1/h", &r, &err), 0);
    assert_int_equal(r.period_ms, 3600000);
    assert_int_equal(fp_rate_parse("1000000/s", &r, &err), 0);
    char buf[32];
    fp_rate_format(&r, buf, sizeof buf);
    assert_string_equal(buf, "1000000/s");
}

static void rate_parse_bad(void **state)
{
    (void)state;
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"", "count per unit"},      {"/s", "count per unit"},
        {"-1/s", "count per unit"},  {"1.5/s", "needs a unit"},
        {"100", "needs a unit"},     {"100/", "unit must be"},
        {"100/d", "unit must be"},   {"100/sec", "unit must be"},
        {"100/s x", "unit must be"}, {"0/s", "at least 1"},
        {"1000001/s", "at most"},    {"99999999999999999999/s", "at most"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fp_rate_t r = {7, 7};
        fp_err_t err = {0};
        assert_int_equal(fp_rate_parse(bad[i].text, &r, &err), FP_ECONFIG);
        if (strstr(err.msg, bad[i].why) == NULL)
            fail_msg("\"%s\": %s (wanted %s)", bad[i].text, err.msg, bad[i].why);
        assert_int_equal(r.count, 7);
    }
}

/* Without tolerance: starts one interval apart, never more than count in
 * any window of one period. */
static void gcra_spacing(void **state)
{
    (void)state;
    fp_rate_t r = {5, 1000}; /* 5/s: 200 ms apart */
    int64_t iv = fp_rate_interval_us(&r), tol = 0;
    assert_int_equal(iv, 200000);
    int64_t tat = 0, now = 1000000000, next, retry;
    assert_true(fp_gcra_take(tat, now, iv, tol, &next, &retry));
    assert_int_equal(retry, 0);
    tat = next;
    assert_false(fp_gcra_take(tat, now, iv, tol, &next, &retry));
    assert_int_equal(next, tat); /* nothing to store */
    assert_int_equal(retry, 200000);
    assert_false(fp_gcra_take(tat, now + 199999, iv, tol, &next, &retry));
    assert_int_equal(retry, 1);
    assert_true(fp_gcra_take(tat, now + 200000, iv, tol, &next, &retry));
    /* An idle type forgets: a TAT in the past counts as now. */
    assert_true(fp_gcra_take(tat, now + 60000000, iv, tol, &next, &retry));
    assert_int_equal(next, now + 60000000 + iv);
    /* Tried every ms for 10 s: 50 starts, and no 1 s window holds 6. */
    int64_t starts[64];
    int n = 0;
    tat = 0;
    for (int64_t t = now; t < now + 10000000; t += 1000)
        if (fp_gcra_take(tat, t, iv, tol, &next, &retry)) {
            tat = next;
            starts[n++] = t;
        }
    assert_int_equal(n, 50);
    for (int i = 5; i < n; i++)
        assert_true(starts[i] - starts[i - 5] >= 1000000);
    /* Rounded up: 3/s is 333,334 us apart, so 4 never fit in a second. */
    assert_int_equal(fp_rate_interval_us(&(fp_rate_t){3, 1000}), 333334);
    assert_int_equal(fp_rate_interval_us(&(fp_rate_t){0, 1000}), 0);
}

/* A configured rate's tolerance (count - 1 intervals): an idle type starts
 * count at once, then one per interval; the long-run average stays count
 * per period (over 10 s: the burst's extra 4 and no more). */
static void gcra_tolerance_allows_a_burst(void **state)
{
    (void)state;
    fp_rate_t r = {5, 1000};
    int64_t iv = fp_rate_interval_us(&r), tol = fp_rate_tolerance_us(&r);
    assert_int_equal(tol, 800000);
    assert_int_equal(fp_rate_tolerance_us(&(fp_rate_t){0, 1000}), 0);
    int64_t tat = 0, now = 1000000000, next, retry;
    for (int i = 0; i < 5; i++) {
        assert_true(fp_gcra_take(tat, now, iv, tol, &next, &retry));
        tat = next;
    }
    assert_false(fp_gcra_take(tat, now, iv, tol, &next, &retry));
    assert_int_equal(retry, 200000);
    int allowed = 0;
    tat = 0;
    for (int64_t t = now; t < now + 10000000; t += 1000)
        if (fp_gcra_take(tat, t, iv, tol, &next, &retry)) {
            tat = next;
            allowed++;
        }
    assert_int_equal(allowed, 5 * 10 + 4);
}

/* A reload that raises the rate (10/h to 100/s) after a burst left the TAT
 * an hour ahead: the next start is at most one new interval away. */
static void gcra_raise_forgets_the_old_period(void **state)
{
    (void)state;
    fp_rate_t slow = {10, 3600000}, fast = {100, 1000};
    int64_t siv = fp_rate_interval_us(&slow), stol = fp_rate_tolerance_us(&slow);
    int64_t fiv = fp_rate_interval_us(&fast), ftol = fp_rate_tolerance_us(&fast);
    int64_t tat = 0, now = 1000000000, next, retry;
    for (int i = 0; i < 10; i++) {
        assert_true(fp_gcra_take(tat, now, siv, stol, &next, &retry));
        tat = next;
    }
    assert_false(fp_gcra_take(tat, now, siv, stol, &next, &retry));
    assert_true(retry > 300000000); /* the old rate: minutes */
    assert_false(fp_gcra_take(tat, now, fiv, ftol, &next, &retry));
    assert_int_equal(retry, fiv);
    assert_int_equal(next, now + ftol + fiv); /* the cap, to be stored */
    tat = next;
    assert_false(fp_gcra_take(tat, now + fiv - 1, fiv, ftol, &next, &retry));
    assert_int_equal(next, tat); /* capped once: it stays put */
    assert_true(fp_gcra_take(tat, now + fiv, fiv, ftol, &next, &retry));
}

/* A rate refusal's retry: whole ms, rounded up, as the Lua's math.ceil
 * (the embedded queue's take answers with it). */
static void retry_in_whole_ms(void **state)
{
    (void)state;
    assert_int_equal(fp_limit_retry_ms(0), 0);
    assert_int_equal(fp_limit_retry_ms(1), 1);
    assert_int_equal(fp_limit_retry_ms(1000), 1);
    assert_int_equal(fp_limit_retry_ms(1001), 2);
    assert_int_equal(fp_limit_retry_ms(3600000000), 3600000);
}

static void gcra_lua_matches_c(void **state)
{
    (void)state;
    fp_th_redis_t redis = {0};
    if (fp_th_redis_start(&redis, NULL) != 0)
        fail_msg("redis-server did not start");
    size_t n = strlen(fp_limit_gcra_lua);
    char *script = malloc(n + 256);
    snprintf(script, n + 256,
             "%slocal ok, tat, retry = gcra(tonumber(ARGV[1]), tonumber(ARGV[2]), "
             "tonumber(ARGV[3]), tonumber(ARGV[4]))\nreturn {ok, string.format('%%.0f', tat), "
             "string.format('%%.0f', retry)}",
             fp_limit_gcra_lua);
    static const int64_t cases[][4] = {
        /* tat, now, interval, tolerance */
        {0, 1733550000000000, 20000, 980000},
        {1733550000980000, 1733550000000000, 20000, 980000},
        {1733550000980001, 1733550000000000, 20000, 980000},
        {1733550002000000, 1733550000000000, 20000, 980000},
        {1733550000000000, 1733550000000000, 1, 0},
        {1733550000000001, 1733550000000000, 1, 0},
        {1733549000000000, 1733550000000000, 3600000000, 0},
        {1733553600000000, 1733550000000000, 3600, 3596400},
        /* stored under 1/h, read under 100/s: capped to one new burst */
        {1733553600000000, 1733550000000000, 10000, 990000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t next, retry;
        bool ok = fp_gcra_take(cases[i][0], cases[i][1], cases[i][2], cases[i][3], &next, &retry);
        char a[4][24];
        for (int k = 0; k < 4; k++)
            snprintf(a[k], sizeof a[k], "%lld", (long long)cases[i][k]);
        redisReply *r = fp_th_redis_cmd(&redis, "EVAL %s 0 %s %s %s %s", script, a[0], a[1], a[2],
                                        a[3]);
        assert_non_null(r);
        if (r->type != REDIS_REPLY_ARRAY)
            fail_msg("case %zu: %s", i, r->str != NULL ? r->str : "not an array");
        assert_int_equal(r->element[0]->integer, ok ? 1 : 0);
        assert_int_equal(strtoll(r->element[1]->str, NULL, 10), next);
        assert_int_equal(strtoll(r->element[2]->str, NULL, 10), retry);
        freeReplyObject(r);
    }
    free(script);
    fp_th_redis_stop(&redis);
}

/* One take script call on the test's Redis; fails the test on an error. */
static fp_limit_reply_t take_lease(fp_th_redis_t *redis, const char *member, const char *limit,
                                   const char *lease_ms, const char *interval_us)
{
    fp_limit_reply_t rep;
    redisReply *r = fp_th_redis_cmd(redis, "EVAL %s 2 fp:{limit:t}:running fp:{limit:t}:rate "
                                           "%s %s %s %s 0",
                                    fp_limit_take_lua, member, limit, lease_ms, interval_us);
    assert_int_equal(fp_limit_take_reply(r, &rep), 0);
    freeReplyObject(r);
    return rep;
}

static fp_limit_reply_t take(fp_th_redis_t *redis, const char *member, const char *limit,
                             const char *interval_us)
{
    return take_lease(redis, member, limit, "60000", interval_us);
}

/* The take script in Redis: leases up to the limit, a member counted once,
 * the lease given back when the rate refuses, expired leases dropped. */
static void take_script_in_redis(void **state)
{
    (void)state;
    fp_th_redis_t redis = {0};
    if (fp_th_redis_start(&redis, NULL) != 0)
        fail_msg("redis-server did not start");
    const char *k1 = "fp:{limit:t}:running", *k2 = "fp:{limit:t}:rate";
    assert_true(take(&redis, "a", "2", "0").allowed);
    assert_true(take(&redis, "a", "2", "0").allowed); /* the same member: renewed, not twice */
    assert_true(take(&redis, "b", "2", "0").allowed);
    fp_limit_reply_t rep = take(&redis, "c", "2", "0");
    assert_false(rep.allowed);
    assert_int_equal(rep.why, FP_LIMIT_CONCURRENCY);
    assert_int_equal(fp_th_redis_int(&redis, "ZCARD %s", k1), 2);
    /* An expired lease is dropped: a crashed holder frees its slot. */
    assert_int_equal(fp_th_redis_int(&redis, "ZADD %s 1 b", k1), 0);
    assert_true(take(&redis, "c", "2", "0").allowed);
    /* The rate refuses the second of 1/h; its lease is given back. */
    assert_true(take(&redis, "d", "5", "3600000000").allowed);
    rep = take(&redis, "e", "5", "3600000000");
    assert_false(rep.allowed);
    assert_int_equal(rep.why, FP_LIMIT_RATE);
    assert_true(rep.retry_after_ms > 3500000 && rep.retry_after_ms <= 3600000);
    assert_int_equal(fp_th_redis_int(&redis, "ZRANK %s e", k1), -1);
    assert_true(fp_th_redis_int(&redis, "PTTL %s", k2) > 3500000);
    /* A member already there (the same entry taken again) that the rate
     * refuses loses its lease too: the daemon forgets it on a refusal. */
    assert_true(fp_th_redis_int(&redis, "ZRANK %s d", k1) >= 0);
    assert_false(take(&redis, "d", "5", "3600000000").allowed);
    assert_int_equal(fp_th_redis_int(&redis, "ZRANK %s d", k1), -1);
    /* The rate raised by a reload (1/h to 100/s): the TAT stored an hour
     * ahead is capped, so the next slot is one new interval away. */
    rep = take(&redis, "f", "0", "10000");
    assert_false(rep.allowed);
    assert_true(rep.retry_after_ms <= 10);
    assert_true(fp_th_redis_int(&redis, "PTTL %s", k2) < 1000); /* the cap was stored */
    /* A short lease (another daemon's visibility_timeout) never shortens
     * the set's TTL while a longer lease lives in it. */
    assert_true(take_lease(&redis, "g", "5", "1000", "0").allowed);
    assert_true(fp_th_redis_int(&redis, "PTTL %s", k1) > 50000);
    /* Renewal: members still there renewed, one gone counted and put back
     * (its job still runs here); a short renewal keeps the longer TTL. */
    redisReply *r = fp_th_redis_cmd(&redis, "EVAL %s 1 %s 1000 a zz", fp_limit_renew_lua, k1);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    assert_true(fp_th_redis_int(&redis, "ZRANK %s zz", k1) >= 0);
    assert_true(fp_th_redis_int(&redis, "PTTL %s", k1) > 50000);
    fp_th_redis_stop(&redis);
}

static void take_reply_shapes(void **state)
{
    (void)state;
    redisReply e0 = {.type = REDIS_REPLY_INTEGER, .integer = 0};
    redisReply e1 = {.type = REDIS_REPLY_STRING, .str = "bogus", .len = 5};
    redisReply e2 = {.type = REDIS_REPLY_INTEGER, .integer = 0};
    redisReply *els[] = {&e0, &e1, &e2};
    redisReply arr = {.type = REDIS_REPLY_ARRAY, .elements = 3, .element = els};
    fp_limit_reply_t rep;
    assert_int_equal(fp_limit_take_reply(&arr, &rep), -EPROTO);
    assert_int_equal(fp_limit_take_reply(NULL, &rep), -EPROTO);
    redisReply err = {.type = REDIS_REPLY_ERROR, .str = "ERR x", .len = 5};
    assert_int_equal(fp_limit_take_reply(&err, &rep), -EPROTO);
}

static void admit_decisions(void **state)
{
    (void)state;
    fp_limit_kind_t why = FP_LIMIT_KINDS;
    assert_int_equal(fp_limit_admit(NULL, 99, &why), FP_LIMIT_DISPATCH);
    fp_type_limit_t local = {.type = "t", .local_concurrency = 2};
    assert_int_equal(fp_limit_admit(&local, 0, &why), FP_LIMIT_DISPATCH);
    assert_int_equal(fp_limit_admit(&local, 1, &why), FP_LIMIT_DISPATCH);
    assert_int_equal(fp_limit_admit(&local, 2, &why), FP_LIMIT_DELAY);
    assert_int_equal(why, FP_LIMIT_LOCAL);
    fp_type_limit_t global = {.type = "t", .concurrency = 1};
    assert_int_equal(fp_limit_admit(&global, 5, &why), FP_LIMIT_ASK);
    fp_type_limit_t rate = {.type = "t", .rate = {50, 1000}};
    assert_int_equal(fp_limit_admit(&rate, 0, &why), FP_LIMIT_ASK);
    fp_type_limit_t both = {.type = "t", .concurrency = 9, .local_concurrency = 1};
    why = FP_LIMIT_KINDS;
    assert_int_equal(fp_limit_admit(&both, 1, &why), FP_LIMIT_DELAY); /* local first: no I/O */
    assert_int_equal(why, FP_LIMIT_LOCAL);
    assert_string_equal(fp_limit_kind_name(FP_LIMIT_CONCURRENCY), "concurrency");
    assert_string_equal(fp_limit_kind_name(FP_LIMIT_LOCAL), "local");
    assert_string_equal(fp_limit_kind_name(FP_LIMIT_RATE), "rate");
    assert_null(fp_limit_kind_name(FP_LIMIT_KINDS));
}

static void delays(void **state)
{
    (void)state;
    for (uint64_t rnd = 0; rnd < 3000; rnd += 7) {
        int64_t c = fp_limit_delay_ms(FP_LIMIT_CONCURRENCY, 0, rnd);
        assert_true(c >= FP_LIMIT_WAIT_MS / 2 && c <= FP_LIMIT_WAIT_MS * 3 / 2);
        int64_t r = fp_limit_delay_ms(FP_LIMIT_RATE, 40, rnd);
        assert_true(r >= 40 && r <= 40 + FP_LIMIT_SPREAD_MS);
    }
    assert_int_equal(fp_limit_delay_ms(FP_LIMIT_RATE, 0, 0), 1); /* never "now": that spins */
}

static fp_config_t *load(const char *text, fp_err_t *err)
{
    fp_config_t *cfg = NULL;
    /* On Redis, as these checks were written; the embedded queue loads the
     * same settings (test_config_embedded.c). */
    setenv("FORKPOOL_REDIS_URL", "redis://127.0.0.1:6379", 1);
    int rc = fp_config_load_text(text, strlen(text), "t.toml", &cfg, err);
    return rc == 0 ? cfg : NULL;
}

static void config_tables(void **state)
{
    (void)state;
    fp_err_t err = {0};
    fp_config_t *cfg = load("[limits]\nmax_job_bytes = \"2MB\"\n"
                            "[limits.report]\nconcurrency = 2\nrate = \"50/s\"\n"
                            "[limits.mail]\nlocal_concurrency = 1\n",
                            &err);
    if (cfg == NULL)
        fail_msg("%s", err.msg);
    assert_int_equal(cfg->limits.ntypes, 2);
    const fp_type_limit_t *r = fp_config_type_limit(cfg, "report");
    assert_non_null(r);
    assert_int_equal(r->concurrency, 2);
    assert_int_equal(r->local_concurrency, 0);
    assert_int_equal(r->rate.count, 50);
    const fp_type_limit_t *m = fp_config_type_limit(cfg, "mail");
    assert_int_equal(m->local_concurrency, 1);
    assert_int_equal(m->rate.count, 0);
    assert_null(fp_config_type_limit(cfg, "other"));
    char *dump = fp_config_dump_json(cfg);
    assert_non_null(strstr(dump, "\"rate\":\t\"50/s\""));
    free(dump);
    fp_config_free(cfg);
}

static void config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"[limits.a]\nconcurrency = 0\n",
         "t.toml:2:1: [limits.a] concurrency must be between 1 and 1000000, got 0"},
        {"[limits.a]\nlocal_concurrency = \"2\"\n",
         "t.toml:2:1: [limits.a] local_concurrency must be an integer, got string"},
        {"[limits.a]\nrate = \"5/d\"\n",
         "t.toml:2:1: [limits.a] rate unit must be s, m or h (per second, minute, hour)"},
        {"[limits.a]\nrate = 5\n",
         "t.toml:2:1: [limits.a] rate must be a string such as \"100/s\", got integer"},
        {"[limits.a]\nconcurency = 2\n",
         "t.toml:2:1: unknown key \"concurency\" in [limits.a] (did you mean \"concurrency\"?)"},
        {"[limits.a]\n", "t.toml:1:1: [limits.a] sets no limit: give it concurrency, "
                         "local_concurrency or rate"},
        {"[limits.\"a{b}\"]\nconcurrency = 1\n",
         "t.toml:1:1: [limits] table names no job type: a type is 1 to 128 characters without "
         "braces, white space or control characters"},
        {"[limits]\nmax_job_byte = 1\n", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fp_err_t err = {0};
        fp_config_t *cfg = load(bad[i].text, &err);
        assert_null(cfg);
        assert_int_equal(err.code, FP_ECONFIG);
        if (bad[i].msg != NULL && strcmp(err.msg, bad[i].msg) != 0)
            fail_msg("got  %s\nwant %s", err.msg, bad[i].msg);
    }
}

static void payload_gets_an_id(void **state)
{
    (void)state;
    size_t len = 0;
    const char *p = "{\"type\":\"t\",\"args\":{\"x\":1},\"attempt\":2}";
    char *out = fp_retry_payload_id(p, strlen(p), "1-0", &len);
    assert_string_equal(out, "{\"type\":\"t\",\"args\":{\"x\":1},\"attempt\":2,\"id\":\"1-0\"}");
    assert_int_equal(len, strlen(out));
    free(out);
    p = "{\"type\":\"t\",\"id\":null}";
    out = fp_retry_payload_id(p, strlen(p), "1-0", &len);
    assert_string_equal(out, "{\"type\":\"t\",\"id\":\"1-0\"}");
    free(out);
    assert_null(fp_retry_payload_id("[1]", 3, "1-0", &len));
}

static void keys_and_members(void **state)
{
    (void)state;
    char *k = fp_limit_running_key("fp", "report");
    assert_string_equal(k, "fp:{limit:report}:running");
    free(k);
    k = fp_limit_rate_key("fp", "report");
    assert_string_equal(k, "fp:{limit:report}:rate");
    free(k);
    k = fp_limit_member("host-a", "default", "1-2");
    assert_string_equal(k, "host-a/default/1-2");
    free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rate_parse_ok),       cmocka_unit_test(rate_parse_bad),
        cmocka_unit_test(gcra_spacing),          cmocka_unit_test(gcra_tolerance_allows_a_burst),
        cmocka_unit_test(gcra_raise_forgets_the_old_period),
        cmocka_unit_test(gcra_lua_matches_c),    cmocka_unit_test(retry_in_whole_ms),
        cmocka_unit_test(take_script_in_redis), cmocka_unit_test(take_reply_shapes),
        cmocka_unit_test(admit_decisions),     cmocka_unit_test(delays),
        cmocka_unit_test(config_tables),       cmocka_unit_test(config_errors),
        cmocka_unit_test(payload_gets_an_id),  cmocka_unit_test(keys_and_members),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
