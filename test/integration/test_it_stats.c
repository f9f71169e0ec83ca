/* test_it_stats.c: `forkpool stats` against a real redis-server, with the
 * queue state built here by hand the way producers and daemons leave it
 * (XADD, XREADGROUP to two consumers, an acknowledged and deleted entry,
 * delayed and dead jobs): every number of --json, the same numbers whether
 * Redis reports the group's lag or the command has to count, a queue with no
 * keys and one with entries but no group yet, that the table prints them,
 * and the exit codes (64 usage, 69 Redis unreachable). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_fixture.h"

#define JOBS "fp:{default}:jobs"

typedef fp_tcli_t fixture_t;

/* The fixture's Redis and a config naming three queues. */
static int setup(void **state)
{
    fp_tcli_setup(state);
    fp_tcli_write_config_text(*state, "[queues]\nnames = [\"default\", \"empty\", \"fresh\"]\n");
    return 0;
}

/* forkpool stats -c CONFIG [a1 [a2]] against the fixture's Redis. */
static fp_th_result_t stats(fixture_t *f, const char *a1, const char *a2)
{
    return fp_tcli_run(f, "stats", NULL, NULL, "-c", f->config, a1, a2, NULL);
}

static void ok_reply(fixture_t *f, redisReply *r)
{
    (void)f;
    assert_non_null(r);
    if (r->type == REDIS_REPLY_ERROR)
        fail_msg("redis: %s", r->str);
    freeReplyObject(r);
}

/* The default queue's state:
 *   five jobs with ids T-1..T-5 (T = 90 s ago), group at id 0;
 *   T-1, T-2 delivered to host-a, T-3 to host-b: pending 3, ready 2;
 *   two delayed jobs, one dead job;
 * "fresh" gets three jobs and no group; "empty" gets nothing.
 * Returns T. */
static long long build_state(fixture_t *f)
{
    long long t = fp_th_redis_now_ms(&f->redis) - 90000;
    for (int i = 1; i <= 5; i++)
        ok_reply(f, fp_th_redis_cmd(&f->redis, "XADD %s %lld-%d job {\"type\":\"noop\"}", JOBS, t,
                                    i));
    ok_reply(f, fp_th_redis_cmd(&f->redis, "XGROUP CREATE %s forkpool 0", JOBS));
    ok_reply(f, fp_th_redis_cmd(&f->redis,
                                "XREADGROUP GROUP forkpool host-a COUNT 2 STREAMS %s >", JOBS));
    ok_reply(f, fp_th_redis_cmd(&f->redis,
                                "XREADGROUP GROUP forkpool host-b COUNT 1 STREAMS %s >", JOBS));
    ok_reply(f, fp_th_redis_cmd(&f->redis, "ZADD fp:{default}:delayed %lld a %lld b", t + 1000000,
                                t + 2000000));
    ok_reply(f, fp_th_redis_cmd(&f->redis,
                                "XADD fp:{default}:dead * job x error boom attempts 5 "
                                "failed_at 1 consumer host-a"));
    for (int i = 0; i < 3; i++)
        ok_reply(f, fp_th_redis_cmd(&f->redis, "XADD fp:{fresh}:jobs * job {\"type\":\"noop\"}"));
    return t;
}

static cJSON *parse_json(const fp_th_result_t *r)
{
    if (r->status != 0)
        fail_msg("stats --json: exit %d, stderr: %s", r->status, r->err);
    cJSON *doc = cJSON_Parse(r->out);
    if (doc == NULL)
        fail_msg("not JSON: %s", r->out);
    return doc;
}

static const cJSON *queue_named(const cJSON *doc, const char *name)
{
    const cJSON *q;
    cJSON_ArrayForEach(q, cJSON_GetObjectItem(doc, "queues"))
    {
        if (strcmp(cJSON_GetObjectItem(q, "name")->valuestring, name) == 0)
            return q;
    }
    fail_msg("no queue %s", name);
    return NULL;
}

static double num(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItem(o, name);
    if (!cJSON_IsNumber(v))
        fail_msg("%s is not a number", name);
    return v->valuedouble;
}

static bool flag(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItem(o, name);
    assert_true(cJSON_IsBool(v));
    return cJSON_IsTrue(v);
}

/* host-a and host-b with the given pending counts. */
static void check_consumers(const cJSON *q, double a_pending, double b_pending)
{
    const cJSON *consumers = cJSON_GetObjectItem(q, "consumers");
    assert_int_equal(cJSON_GetArraySize(consumers), 2);
    const cJSON *c;
    int seen = 0;
    cJSON_ArrayForEach(c, consumers)
    {
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        double want = strcmp(name, "host-a") == 0 ? a_pending : b_pending;
        assert_true(strcmp(name, "host-a") == 0 || strcmp(name, "host-b") == 0);
        assert_true(num(c, "pending") == want);
        assert_true(num(c, "idle_ms") >= 0 && num(c, "idle_ms") < 60000);
        seen++;
    }
    assert_int_equal(seen, 2);
}

static void check_default(const cJSON *doc, long long t, double pending, double length,
                          double a_pending)
{
    const cJSON *q = queue_named(doc, "default");
    assert_true(num(q, "ready") == 2);
    assert_true(flag(q, "ready_exact"));
    assert_true(num(q, "pending") == pending);
    assert_true(num(q, "delayed") == 2);
    assert_true(num(q, "dead") == 1);
    assert_true(num(q, "length") == length);
    assert_true(flag(q, "group_exists"));
    char want_id[48];
    snprintf(want_id, sizeof want_id, "%lld-4", t);
    assert_string_equal(cJSON_GetObjectItem(q, "oldest_ready_id")->valuestring, want_id);
    /* The age is Redis' clock at the read minus the id's ms part. */
    assert_true(num(q, "oldest_ready_age_ms") == num(doc, "now_ms") - (double)t);
    assert_true(num(q, "oldest_ready_age_ms") >= 90000);
    check_consumers(q, a_pending, 1);
}

static void test_json_numbers(void **state)
{
    fixture_t *f = *state;
    long long t = build_state(f);
    fp_th_result_t r = stats(f, "--json", NULL);
    cJSON *doc = parse_json(&r);
    assert_string_equal(cJSON_GetObjectItem(doc, "group")->valuestring, "forkpool");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "queues")), 3);
    check_default(doc, t, 3, 5, 2);

    /* No keys at all: zeros, not an error. */
    const cJSON *empty = queue_named(doc, "empty");
    assert_true(num(empty, "ready") == 0 && num(empty, "pending") == 0 &&
                num(empty, "delayed") == 0 && num(empty, "dead") == 0);
    assert_false(flag(empty, "group_exists"));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(empty, "oldest_ready_id")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(empty, "oldest_ready_age_ms")));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(empty, "consumers")), 0);

    /* Entries but no group yet: the daemon will create it at 0, so all ready. */
    const cJSON *fresh = queue_named(doc, "fresh");
    assert_true(num(fresh, "ready") == 3 && num(fresh, "pending") == 0);
    assert_false(flag(fresh, "group_exists"));
    assert_true(num(fresh, "oldest_ready_age_ms") >= 0);
    cJSON_Delete(doc);
    fp_th_result_free(&r);

    /* A success the daemon's way (XACK + XDEL of the newest delivered entry)
     * leaves a tombstone at the group's position, so Redis no longer reports
     * lag and the command counts: the numbers must not change but for it. */
    char id[48];
    snprintf(id, sizeof id, "%lld-3", t);
    ok_reply(f, fp_th_redis_cmd(&f->redis, "XACK %s forkpool %s", JOBS, id));
    ok_reply(f, fp_th_redis_cmd(&f->redis, "XDEL %s %s", JOBS, id));
    r = stats(f, "--json", NULL);
    doc = parse_json(&r);
    const cJSON *q = queue_named(doc, "default");
    assert_true(num(q, "ready") == 2);
    assert_true(num(q, "pending") == 2);
    assert_true(num(q, "length") == 4);
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(q, "consumers"))
    {
        assert_true(num(c, "pending") ==
                    (strcmp(cJSON_GetObjectItem(c, "name")->valuestring, "host-a") == 0 ? 2 : 0));
    }
    cJSON_Delete(doc);
    fp_th_result_free(&r);
}

/* With many ready entries and the group's position on a tombstone, ready is
 * counted in pages (or estimated past the bound) and still right here. */
static void test_json_counts_many_ready(void **state)
{
    fixture_t *f = *state;
    ok_reply(f, fp_th_redis_cmd(&f->redis, "XADD %s * job first", JOBS));
    ok_reply(f, fp_th_redis_cmd(&f->redis, "XGROUP CREATE %s forkpool 0", JOBS));
    redisReply *r0 = fp_th_redis_cmd(&f->redis,
                                     "XREADGROUP GROUP forkpool host-a COUNT 1 STREAMS %s >", JOBS);
    assert_non_null(r0);
    char *first = strdup(r0->element[0]->element[1]->element[0]->element[0]->str);
    freeReplyObject(r0);
    ok_reply(f, fp_th_redis_cmd(&f->redis,
                                "EVAL %s 1 %s", "for i = 1, 12345 do\n"
                                                "  redis.call('XADD', KEYS[1], '*', 'job', 'x')\n"
                                                "end\n"
                                                "return 0\n",
                                JOBS));
    ok_reply(f, fp_th_redis_cmd(&f->redis, "XACK %s forkpool %s", JOBS, first));
    ok_reply(f, fp_th_redis_cmd(&f->redis, "XDEL %s %s", JOBS, first));
    free(first);
    fp_th_result_t r = stats(f, "--json", NULL);
    cJSON *doc = parse_json(&r);
    const cJSON *q = queue_named(doc, "default");
    /* Exact via lag, or estimated as XLEN - pending: both 12345 here. */
    assert_true(num(q, "ready") == 12345);
    assert_true(num(q, "pending") == 0);
    cJSON_Delete(doc);
    fp_th_result_free(&r);
}

static void test_table_prints(void **state)
{
    fixture_t *f = *state;
    build_state(f);
    fp_th_result_t r = stats(f, NULL, NULL);
    if (r.status != 0)
        fail_msg("stats: exit %d, stderr: %s", r.status, r.err);
    assert_non_null(strstr(r.out, "QUEUE"));
    assert_non_null(strstr(r.out, "READY"));
    assert_non_null(strstr(r.out, "OLDEST READY"));
    /* default: ready 2, pending 3, delayed 2, dead 1, oldest ~1m30s. */
    const char *row = strstr(r.out, "\ndefault ");
    assert_non_null(row);
    int ready = -1, pending = -1, delayed = -1, dead = -1;
    char age[32] = "";
    assert_int_equal(sscanf(row + 1, "default %d %d %d %d %31s", &ready, &pending, &delayed, &dead,
                            age),
                     5);
    assert_int_equal(ready, 2);
    assert_int_equal(pending, 3);
    assert_int_equal(delayed, 2);
    assert_int_equal(dead, 1);
    assert_memory_equal(age, "1m3", 3);
    assert_non_null(strstr(r.out, "\nempty "));
    assert_non_null(strstr(r.out, "\nfresh "));
    assert_non_null(strstr(r.out, "CONSUMER"));
    assert_non_null(strstr(r.out, "host-a"));
    assert_non_null(strstr(r.out, "host-b"));
    assert_non_null(strstr(r.out, "fresh: group forkpool not created yet"));
    fp_th_result_free(&r);
}

static void test_redis_down_is_69(void **state)
{
    fixture_t *f = *state;
    int port = f->redis.port;
    fp_th_redis_stop(&f->redis);
    for (int json = 0; json < 2; json++) {
        fp_th_result_t r = stats(f, json ? "--json" : NULL, NULL);
        fp_tcli_assert_refused(&r, port);
        assert_non_null(strstr(r.err, "forkpool stats: "));
        assert_string_equal(r.out, "");
        fp_th_result_free(&r);
    }
}

static void test_usage_errors_are_64(void **state)
{
    fixture_t *f = *state;
    const char *cases[][2] = {{"extra", NULL}, {"--bogus", NULL}, {"--json", "more"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fp_th_result_t r = stats(f, cases[i][0], cases[i][1]);
        if (r.status != 64)
            fail_msg("stats %s: exit %d, stderr %s", cases[i][0], r.status, r.err);
        assert_non_null(strstr(r.err, "usage: forkpool stats"));
        fp_th_result_free(&r);
    }
    fp_th_result_t r = fp_tcli_run_bare("stats", "-c", NULL);
    assert_int_equal(r.status, 64);
    fp_th_result_free(&r);
}

static void test_bad_config_is_78(void **state)
{
    fixture_t *f = *state;
    fp_tcli_write_config_text(f, "[queues]\nnames = []\n");
    fp_th_result_t r = stats(f, NULL, NULL);
    assert_int_equal(r.status, 78);
    fp_th_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_json_numbers, setup, fp_tcli_teardown),
        cmocka_unit_test_setup_teardown(test_json_counts_many_ready, setup, fp_tcli_teardown),
        cmocka_unit_test_setup_teardown(test_table_prints, setup, fp_tcli_teardown),
        cmocka_unit_test_setup_teardown(test_redis_down_is_69, setup, fp_tcli_teardown),
        cmocka_unit_test_setup_teardown(test_usage_errors_are_64, setup, fp_tcli_teardown),
        cmocka_unit_test_setup_teardown(test_bad_config_is_78, setup, fp_tcli_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
