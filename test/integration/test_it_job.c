/* test_it_job.c: `forkpool job ID` as an operator runs it, with a real
 * redis-server, the real binary and a daemon writing its ledger: a job seen
 * ready (by its id and by its entry id), running (a sleep job held by the
 * daemon: its name, and from the daemon's heartbeat record its host, pid,
 * child and running time; an entry held by a consumer no record lists: the
 * child not known), delayed (a failing job waiting out a long
 * retry back-off, with its attempt and last error), dead, done (only the
 * ledger has it: found by id and by entry id, every attempt listed), not
 * found (exit 1, saying what the ledger is), --json's document, bad
 * arguments (64) and Redis down (69). Waits are conditions, never durations. */
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
#include "daemon.h"

/* The daemon's config with a ledger in the temp dir (its path into ledger)
 * and a retry back-off long enough that a failed job stays delayed;
 * daemon_lines (or NULL) go in [daemon]. */
static void job_config_with(fp_td_t *td, const char *daemon_lines, char *ledger, size_t cap)
{
    char extra[8192];
    snprintf(ledger, cap, "%s/ledger.db", td->dir);
    snprintf(extra, sizeof extra,
             "[pool]\nchildren = 2\n[ledger]\npath = \"%s\"\n"
             "[retry]\nbackoff_base = \"1h\"\nbackoff_max = \"2h\"\njitter = false\n",
             ledger);
    fp_td_config(td, daemon_lines, extra);
}

static void job_config(fp_td_t *td, char *ledger, size_t cap)
{
    job_config_with(td, NULL, ledger, cap);
}

/* forkpool job -c CONFIG ARGS... (NULL-terminated, at most 4). */
static fp_th_result_t job(const fp_td_t *td, const char *a1, const char *a2, const char *a3,
                          const char *a4)
{
    static const char *const env[] = {"COLUMNS=200", NULL};
    fp_th_result_t r = fp_tcli_run_with(env, "job", "-c", td->config, a1, a2, a3, a4, NULL);
    if (strstr(r.err, "AddressSanitizer") != NULL || strstr(r.err, "runtime error:") != NULL)
        fail_msg("sanitizer report: %s", r.err);
    return r;
}

/* `forkpool job` exits 0 and its output has every needle. */
#define EXPECT_JOB(td, id, ...)                                                                \
    do {                                                                                     \
        fp_th_result_t r_ = job((td), (id), NULL, NULL, NULL);                               \
        if (r_.status != 0)                                                                  \
            fail_msg("job %s: exit %d: %s", (id), r_.status, r_.err);                        \
        FP_TH_EXPECT_ALL_IN(r_.out, __VA_ARGS__);                                            \
        fp_th_result_free(&r_);                                                              \
    } while (0)

/* The --json document of id (exit 0 asserted); cJSON_Delete it. */
static cJSON *job_json(const fp_td_t *td, const char *id)
{
    fp_th_result_t r = job(td, "--json", id, NULL, NULL);
    if (r.status != 0)
        fail_msg("job --json %s: exit %d: %s", id, r.status, r.err);
    assert_int_equal(fp_th_count_lines(r.out), 1);
    cJSON *doc = cJSON_Parse(r.out);
    assert_non_null(doc);
    fp_th_result_free(&r);
    return doc;
}

static const char *member_text(const cJSON *o, const char *name)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(m) ? m->valuestring : NULL;
}

/* The stream entry id of the only job in the default stream. */
static void only_entry_id(fp_td_t *td, char *out, size_t cap)
{
    redisReply *r = fp_th_redis_cmd(&td->redis, "XRANGE %s - +", FP_TD_JOBS);
    assert_non_null(r);
    assert_int_equal(r->elements, 1);
    snprintf(out, cap, "%s", r->element[0]->element[0]->str);
    freeReplyObject(r);
}

static void enqueue_payload(fp_td_t *td, const char *payload)
{
    fp_td_enqueue_raw(td, payload, strlen(payload));
}

static void test_ready_by_id_and_entry_id(void **state)
{
    fp_td_t *td = *state;
    char ledger[4200], entry[64];
    job_config(td, ledger, sizeof ledger);
    enqueue_payload(td, "{\"type\":\"noop\",\"id\":\"order-1\"}");
    only_entry_id(td, entry, sizeof entry);
    EXPECT_JOB(td, "order-1", "job order-1: ready, waiting in queue default since 20", entry,
               "type:       noop", "no such file on this host");
    EXPECT_JOB(td, entry, "ready, waiting in queue default", "type:       noop");

    cJSON *doc = job_json(td, "order-1");
    assert_string_equal(member_text(doc, "state"), "ready");
    assert_string_equal(member_text(doc, "queue"), "default");
    assert_string_equal(member_text(doc, "entry_id"), entry);
    assert_string_equal(member_text(cJSON_GetObjectItem(doc, "job"), "id"), "order-1");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(doc, "consumer")));
    const cJSON *l = cJSON_GetObjectItem(doc, "ledger");
    assert_string_equal(member_text(l, "status"), "missing");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(l, "attempts")), 0);
    cJSON_Delete(doc);

    /* Another queue does not have it. */
    fp_th_result_t r = job(td, "--queue", "second", "order-1", NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "job order-1 not found (done jobs are only in the ledger; "
                                  "ledger.path is "));
    fp_th_result_free(&r);
}

/* fp_td_wait_until: `forkpool job ARG` names the job's child (the daemon's
 * heartbeat record lists it). */
static bool job_child_known(fp_td_t *td, void *arg)
{
    fp_th_result_t r = job(td, arg, NULL, NULL, NULL);
    bool known = r.status == 0 && strstr(r.out, ", child ") != NULL;
    fp_th_result_free(&r);
    return known;
}

static void test_running_shows_the_daemon(void **state)
{
    fp_td_t *td = *state;
    char ledger[4200];
    /* Beats every 100ms, so the record lists the job soon after it starts. */
    job_config_with(td, "heartbeat_interval = \"100ms\"\n", ledger, sizeof ledger);
    enqueue_payload(td, "{\"type\":\"sleep\",\"args\":{\"ms\":60000},\"id\":\"slow-1\"}");
    fp_td_start_ready(td, true);
    fp_td_wait_held(td, 1);
    fp_td_wait_until(td, job_child_known, "slow-1", 10000, "the heartbeat lists slow-1");
    cJSON *doc = job_json(td, "slow-1");
    assert_string_equal(member_text(doc, "state"), "running");
    assert_string_equal(member_text(doc, "consumer"), "test-consumer");
    assert_int_equal(cJSON_GetObjectItem(doc, "deliveries")->valueint, 1);
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(doc, "idle_ms")));
    const cJSON *child = cJSON_GetObjectItem(doc, "child");
    assert_true(cJSON_IsNumber(child));
    assert_in_range(child->valueint, 0, 1); /* two children */
    assert_int_equal(cJSON_GetObjectItem(doc, "daemon_pid")->valueint, (int)td->pid);
    assert_true(cJSON_IsString(cJSON_GetObjectItem(doc, "daemon_host")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(doc, "started_at")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(doc, "running_ms")));
    char head[160], running[64];
    snprintf(head, sizeof head, "(host %s, pid %d), child %d, running for ",
             member_text(doc, "daemon_host"), (int)td->pid, child->valueint);
    EXPECT_JOB(td, "slow-1", "job slow-1: running in queue default on daemon test-consumer",
               head, "delivered 1 time;", "type:       sleep");
    fp_th_result_t r = job(td, "slow-1", NULL, NULL, NULL);
    const char *at = strstr(r.out, "running for ");
    assert_non_null(at);
    /* A figure follows, whatever its value: a digit, then a unit. */
    assert_int_equal(sscanf(at, "running for %63[0-9a-z]", running), 1);
    assert_true(running[0] >= '0' && running[0] <= '9');
    assert_null(strstr(r.out, "child:      not known"));
    fp_th_result_free(&r);
    cJSON_Delete(doc);
}

/* An entry pending to a consumer that no heartbeat record lists (no daemon
 * of that name is running): what Redis knows, and the child not known. */
static void test_running_child_not_known(void **state)
{
    fp_td_t *td = *state;
    char ledger[4200];
    job_config(td, ledger, sizeof ledger);
    enqueue_payload(td, "{\"type\":\"sleep\",\"id\":\"held-1\"}");
    freeReplyObject(fp_th_redis_cmd(&td->redis, "XGROUP CREATE %s forkpool 0 MKSTREAM",
                                    FP_TD_JOBS));
    freeReplyObject(fp_th_redis_cmd(&td->redis, "XREADGROUP GROUP forkpool ghost COUNT 1 "
                                                "STREAMS %s >", FP_TD_JOBS));
    EXPECT_JOB(td, "held-1", "job held-1: running in queue default on daemon ghost (delivered 1",
               "child:      not known (no live heartbeat record of the daemon lists this entry");
    cJSON *doc = job_json(td, "held-1");
    assert_string_equal(member_text(doc, "state"), "running");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(doc, "child")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(doc, "daemon_pid")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(doc, "running_ms")));
    cJSON_Delete(doc);
}

static long long ledger_rows(const char *ledger)
{
    return fp_td_sql_at(ledger, "SELECT count(*) FROM jobs");
}

/* Every job of test_delayed_dead_done has its row: 4. */
static bool ledger_has_all(fp_td_t *td, void *arg)
{
    (void)td;
    return ledger_rows(arg) >= 4;
}

/* One daemon run leaves a job of each end: done (by id and without one),
 * delayed for a retry, dead. */
static void test_delayed_dead_done(void **state)
{
    fp_td_t *td = *state;
    char ledger[4200], entry[64];
    job_config(td, ledger, sizeof ledger);
    enqueue_payload(td, "{\"type\":\"noop\"}");
    only_entry_id(td, entry, sizeof entry);
    enqueue_payload(td, "{\"type\":\"noop\",\"id\":\"ok-1\"}");
    enqueue_payload(td, "{\"type\":\"fail\",\"args\":{\"message\":\"boom\"},\"id\":\"f-1\"}");
    enqueue_payload(td, "{\"type\":\"fail\",\"args\":{\"message\":\"fatal\",\"retry\":false},"
                        "\"id\":\"d-1\"}");
    fp_td_start_ready(td, true);
    long long one = 1;
    fp_td_wait_until(td, fp_td_delayed_is, &one, 60000, "the failed job delayed");
    fp_td_wait_until(td, fp_td_dead_is, &one, 60000, "the fatal job dead");
    fp_td_wait_until(td, fp_td_drained, NULL, 60000, "the noop jobs done");
    fp_td_wait_until(td, ledger_has_all, ledger, 60000, "the ledger rows");

    EXPECT_JOB(td, "f-1", "job f-1: delayed in queue default, due at 20", "type:       fail",
               "attempts:   1 so far", "last error: ", "boom", "1 attempt recorded", "1        retried");
    EXPECT_JOB(td, "d-1", "job d-1: dead in queue default, failed at 20", "after 1 attempts",
               "error:      ", "fatal", "written by daemon test-consumer");
    EXPECT_JOB(td, "ok-1", "job ok-1: done in queue default, succeeded at 20",
               "1 attempt recorded", "ATTEMPT  OUTCOME", "1        ok");
    EXPECT_JOB(td, entry, "done in queue default", "1        ok");

    cJSON *doc = job_json(td, "d-1");
    assert_string_equal(member_text(doc, "state"), "dead");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(doc, "entry_id")));
    assert_non_null(member_text(doc, "dead_id"));
    assert_non_null(strstr(member_text(doc, "error"), "fatal"));
    assert_int_equal(cJSON_GetObjectItem(doc, "attempts")->valueint, 1);
    cJSON_Delete(doc);
    doc = job_json(td, "f-1");
    assert_string_equal(member_text(doc, "state"), "delayed");
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(doc, "due_ms")));
    cJSON_Delete(doc);
    doc = job_json(td, "ok-1");
    assert_string_equal(member_text(doc, "state"), "done");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(doc, "job")));
    const cJSON *l = cJSON_GetObjectItem(doc, "ledger");
    assert_string_equal(member_text(l, "status"), "read");
    const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItem(l, "attempts"), 0);
    assert_string_equal(member_text(row, "outcome"), "ok");
    assert_string_equal(member_text(row, "job_id"), "ok-1");
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(row, "pid")));
    cJSON_Delete(doc);

    fp_th_result_t r = job(td, "nope", NULL, NULL, NULL);
    assert_int_equal(r.status, 1);
    char want[4400];
    snprintf(want, sizeof want, "ledger.path is %s, which has no attempt of it)", ledger);
    assert_non_null(strstr(r.err, want));
    assert_string_equal(r.out, "");
    fp_th_result_free(&r);
}

static void test_not_found_without_ledger(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, NULL);
    fp_th_result_t r = job(td, "--json", "nope", NULL, NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "forkpool job: job nope not found (done jobs are only in the "
                                  "ledger; ledger.path is empty"));
    assert_string_equal(r.out, "");
    fp_th_result_free(&r);
}

static void test_bad_arguments_exit_64(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, NULL);
    const char *cases[][3] = {
        {NULL, NULL, "takes exactly one job ID, got 0"},
        {"a", "b", "takes exactly one job ID, got 2"},
        {"", NULL, "must not be empty"},
        {"--queue", "", "--queue must not be empty"},
        {"--limit", "x", "unknown option --limit"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fp_th_result_t r = job(td, cases[i][0], cases[i][1], NULL, NULL);
        if (r.status != 64 || strstr(r.err, cases[i][2]) == NULL)
            fail_msg("case %zu: exit %d, stderr %s", i, r.status, r.err);
        assert_non_null(strstr(r.err, "usage: forkpool job"));
        fp_th_result_free(&r);
    }
}

static void test_redis_down_exits_69(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, NULL);
    int port = td->redis.port;
    fp_th_redis_stop(&td->redis);
    fp_th_result_t r = job(td, "order-1", NULL, NULL, NULL);
    fp_tcli_assert_refused(&r, port);
    fp_th_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ready_by_id_and_entry_id, fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_running_shows_the_daemon, fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_running_child_not_known, fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_delayed_dead_done, fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_not_found_without_ledger, fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments_exit_64, fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_redis_down_exits_69, fp_td_setup, fp_td_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
