/* test_heartbeat.c: the fleet heartbeat's pure parts: its keys (one hash
 * tag, so one Cluster slot), the record's JSON both ways with its bound on
 * listed jobs, a record that is not one, and which listed daemons are live,
 * gone (shown) or long gone (left out). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <hiredis/hiredis.h>

#include "queue/heartbeat.h"

static fp_fleet_record_t *sample_record(size_t njobs)
{
    fp_fleet_record_t *r = calloc(1, sizeof *r);
    assert_non_null(r);
    strcpy(r->name, "web-1");
    strcpy(r->host, "box");
    strcpy(r->version, "1.2.3");
    strcpy(r->token, "abc123");
    strcpy(r->state, "quiet");
    r->pid = 4242;
    r->started_ms = 1796590000123;
    r->interval_ms = 5000;
    r->generation = 3;
    r->children_busy = 2;
    r->children_total = 4;
    r->jobs_done = 9007199254740993LL; /* not exact as a double */
    r->jobs_failed = 7;
    r->njobs = njobs;
    for (size_t i = 0; i < njobs && i < FP_FLEET_JOBS_MAX; i++) {
        snprintf(r->jobs[i].queue, sizeof r->jobs[i].queue, "default");
        snprintf(r->jobs[i].entry_id, sizeof r->jobs[i].entry_id, "1700000000000-%zu", i);
        snprintf(r->jobs[i].id, sizeof r->jobs[i].id, "job-%zu", i);
        snprintf(r->jobs[i].type, sizeof r->jobs[i].type, "sleep");
        r->jobs[i].child = (int)i;
        r->jobs[i].started_ms = 1796590001000 + (int64_t)i;
    }
    return r;
}

static void test_keys_share_one_slot(void **state)
{
    (void)state;
    char *set = fp_fleet_set_key("fp");
    char *rec = fp_fleet_record_key("fp", "web-1@box:42");
    assert_string_equal(set, "fp:{fleet}:daemons");
    assert_string_equal(rec, "fp:{fleet}:daemon:web-1@box:42");
    free(set);
    free(rec);
    char id[32];
    assert_true(fp_fleet_id("web-1", "box", 42, id, sizeof id));
    assert_string_equal(id, "web-1@box:42");
    assert_false(fp_fleet_id("a-very-long-daemon-name", "a-long-host", 123456, id, sizeof id));
}

static void test_round_trip(void **state)
{
    (void)state;
    fp_fleet_record_t *r = sample_record(2);
    char *text = fp_fleet_encode(r);
    assert_non_null(text);
    fp_fleet_record_t *back = malloc(sizeof *back);
    assert_int_equal(fp_fleet_decode(text, strlen(text), back), 0);
    assert_string_equal(back->name, "web-1");
    assert_string_equal(back->host, "box");
    assert_string_equal(back->version, "1.2.3");
    assert_string_equal(back->token, "abc123");
    assert_string_equal(back->state, "quiet");
    assert_int_equal(back->pid, 4242);
    assert_int_equal(back->started_ms, 1796590000123);
    assert_int_equal(back->interval_ms, 5000);
    assert_int_equal(back->generation, 3);
    assert_int_equal(back->children_busy, 2);
    assert_int_equal(back->children_total, 4);
    assert_int_equal(back->jobs_failed, 7);
    assert_int_equal(back->njobs, 2);
    assert_int_equal(back->jobs_more, 0);
    assert_string_equal(back->jobs[1].entry_id, "1700000000000-1");
    assert_string_equal(back->jobs[1].id, "job-1");
    assert_string_equal(back->jobs[1].type, "sleep");
    assert_string_equal(back->jobs[1].queue, "default");
    assert_int_equal(back->jobs[1].child, 1);
    assert_int_equal(back->jobs[1].started_ms, 1796590001001);
    /* Counters are written as digits, never through a double. */
    assert_non_null(strstr(text, "\"jobs_done\":9007199254740993"));
    free(text);
    free(back);
    free(r);
}

/* A daemon running more jobs than a record lists: the first
 * FP_FLEET_JOBS_MAX, and a count of the rest. */
static void test_jobs_bounded_on_encode(void **state)
{
    (void)state;
    fp_fleet_record_t *r = sample_record(FP_FLEET_JOBS_MAX);
    r->njobs = FP_FLEET_JOBS_MAX + 25; /* the caller counted more than it listed */
    r->jobs_more = 5;
    char *text = fp_fleet_encode(r);
    assert_non_null(text);
    fp_fleet_record_t *back = malloc(sizeof *back);
    assert_int_equal(fp_fleet_decode(text, strlen(text), back), 0);
    assert_int_equal(back->njobs, FP_FLEET_JOBS_MAX);
    assert_int_equal(back->jobs_more, 30);
    free(text);
    free(back);
    free(r);
}

/* A record written by someone else may list more: the rest is counted. */
static void test_jobs_bounded_on_decode(void **state)
{
    (void)state;
    size_t n = FP_FLEET_JOBS_MAX + 3;
    char *text = malloc(64 + n * 40);
    size_t len = (size_t)sprintf(text, "{\"name\":\"x\",\"jobs_more\":1,\"jobs\":[");
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(text + len, "%s{\"type\":\"t%zu\",\"child\":-5}", i ? "," : "", i);
    strcpy(text + len, "]}");
    fp_fleet_record_t *back = malloc(sizeof *back);
    assert_int_equal(fp_fleet_decode(text, strlen(text), back), 0);
    assert_int_equal(back->njobs, FP_FLEET_JOBS_MAX);
    assert_int_equal(back->jobs_more, 4);
    assert_string_equal(back->jobs[0].type, "t0");
    assert_int_equal(back->jobs[0].child, -1);
    free(text);
    free(back);
}

static void test_long_text_is_cut(void **state)
{
    (void)state;
    char text[1200];
    char type[600];
    memset(type, 'a', sizeof type - 1);
    type[sizeof type - 1] = '\0';
    snprintf(text, sizeof text, "{\"name\":\"x\",\"pid\":\"nope\",\"jobs\":[{\"type\":\"%s\"}]}",
             type);
    fp_fleet_record_t *back = malloc(sizeof *back);
    assert_int_equal(fp_fleet_decode(text, strlen(text), back), 0);
    assert_int_equal(strlen(back->jobs[0].type), sizeof back->jobs[0].type - 1);
    assert_int_equal(back->pid, 0);
    free(back);
}

static void test_not_a_record(void **state)
{
    (void)state;
    const char *bad[] = {"", "not json", "[]", "{\"host\":\"h\"}", "{\"name\":3}", "{\"name\":\"x\""};
    fp_fleet_record_t *back = malloc(sizeof *back);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(fp_fleet_decode(bad[i], strlen(bad[i]), back), -22);
    free(back);
}

static void test_classify(void **state)
{
    (void)state;
    int64_t now = 1796590000000;
    assert_int_equal(fp_fleet_classify(true, now - 10 * FP_FLEET_GONE_KEEP_MS, now), FP_FLEET_LIVE);
    assert_int_equal(fp_fleet_classify(false, now - 20000, now), FP_FLEET_GONE);
    assert_int_equal(fp_fleet_classify(false, now - FP_FLEET_GONE_KEEP_MS, now), FP_FLEET_GONE);
    assert_int_equal(fp_fleet_classify(false, now - FP_FLEET_GONE_KEEP_MS - 1, now),
                     FP_FLEET_EXPIRED);
    /* Seen "in the future" (clock read between beat and TIME): still gone, not expired. */
    assert_int_equal(fp_fleet_classify(false, now + 5, now), FP_FLEET_GONE);
    assert_string_equal(fp_fleet_status_name(FP_FLEET_GONE), "gone");
}

/* ---- taking a read's replies ---------------------------------------------- */

static redisReply *str_reply(const char *s)
{
    redisReply *r = calloc(1, sizeof *r);
    r->type = s != NULL ? REDIS_REPLY_STRING : REDIS_REPLY_NIL;
    if (s != NULL) {
        r->str = strdup(s);
        r->len = strlen(s);
    }
    return r;
}

static redisReply *array_reply(size_t n, redisReply **items)
{
    redisReply *r = calloc(1, sizeof *r);
    r->type = REDIS_REPLY_ARRAY;
    r->elements = n;
    r->element = calloc(n + 1, sizeof *r->element);
    if (n > 0)
        memcpy(r->element, items, n * sizeof *items);
    return r;
}

/* Three members, most recent first: one live, one just gone, one gone for
 * longer than an hour; shown live first, then gone, the expired one left out. */
static void test_take_replies(void **state)
{
    (void)state;
    fp_fleet_t f = {0};
    redisReply *t = array_reply(2, (redisReply *[]){str_reply("1796590000"), str_reply("250000")});
    assert_true(fp_fleet_take_time(&f, t));
    assert_int_equal(f.now_ms, 1796590000250);
    freeReplyObject(t);
    redisReply *m = array_reply(6, (redisReply *[]){str_reply("z@h:1"), str_reply("1796590000000"),
                                                    str_reply("a@h:2"), str_reply("1796589990000"),
                                                    str_reply("old@h:3"), str_reply("1796586000000")});
    assert_int_equal(fp_fleet_take_members(&f, m), 0);
    freeReplyObject(m);
    assert_int_equal(f.n, 3);
    char **argv = NULL;
    size_t *lens = NULL;
    assert_int_equal(fp_fleet_mget(&f, "fp", &argv, &lens), 0);
    assert_string_equal(argv[0], "MGET");
    assert_string_equal(argv[2], "fp:{fleet}:daemon:a@h:2");
    assert_int_equal(lens[2], strlen(argv[2]));
    fp_fleet_mget_free(&f, argv, lens);
    redisReply *rec = array_reply(3, (redisReply *[]){str_reply("{\"name\":\"z\",\"pid\":1}"),
                                                      str_reply(NULL), str_reply(NULL)});
    assert_int_equal(fp_fleet_take_records(&f, rec), 0);
    freeReplyObject(rec);
    assert_int_equal(f.n, 2);
    assert_string_equal(f.members[0].id, "z@h:1");
    assert_int_equal(f.members[0].status, FP_FLEET_LIVE);
    assert_int_equal(f.members[0].record->pid, 1);
    assert_string_equal(f.members[1].id, "a@h:2");
    assert_int_equal(f.members[1].status, FP_FLEET_GONE);
    assert_null(f.members[1].record);
    fp_fleet_clear(&f);
}

static void test_take_bad_replies(void **state)
{
    (void)state;
    fp_fleet_t f = {0};
    redisReply *odd = array_reply(1, (redisReply *[]){str_reply("x@h:1")});
    assert_false(fp_fleet_take_time(&f, odd));
    assert_int_equal(fp_fleet_take_members(&f, odd), -EPROTO);
    freeReplyObject(odd);
    redisReply *m = array_reply(2, (redisReply *[]){str_reply("x@h:1"), str_reply("5")});
    assert_int_equal(fp_fleet_take_members(&f, m), 0);
    freeReplyObject(m);
    redisReply *none = array_reply(0, NULL);
    assert_int_equal(fp_fleet_take_records(&f, none), -EPROTO); /* one key asked, none answered */
    freeReplyObject(none);
    fp_fleet_clear(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_share_one_slot),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_jobs_bounded_on_encode),
        cmocka_unit_test(test_jobs_bounded_on_decode),
        cmocka_unit_test(test_long_text_is_cut),
        cmocka_unit_test(test_not_a_record),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_take_replies),
        cmocka_unit_test(test_take_bad_replies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
