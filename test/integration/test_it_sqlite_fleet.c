/* test_it_sqlite_fleet.c: the fleet and `forkpool cancel` on the embedded
 * queue with the real binary and no Redis (issue 19): two daemons on one
 * file both appear in /stats' fleet, `forkpool stats --json` and `forkpool
 * top`, and a SIGKILLed one shows as gone once its record expired while a
 * stopped one leaves no record; a ready and a delayed job cancelled before
 * any daemon reads them are dead rows "cancelled" and never run; a running
 * job is marked, its daemon stops the child and the job ends as a dead row
 * "cancelled", not retried; an unknown id is exit 1 with the message the
 * Redis backend gives; `forkpool job` names a running job's child from the
 * records. Waits are conditions with generous deadlines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_sqlite.h"

#define WAIT_MS 60000
/* A job called NAME-00 (the fixture fills %d twice with 0). */
#define EVENT_JOB(name)                                                                      \
    "{\"type\":\"record_event\",\"id\":\"" name "-%d%d\",\"args\":{\"action\":\"sq\","     \
    "\"object_id\":\"" name "\",\"user_id\":\"u\"}}"

/* forkpool SUB -c CONFIG A1 A2 A3 (NULLs end it). */
static fp_th_result_t cli(const fp_td_t *td, const char *sub, const char *a1, const char *a2,
                          const char *a3)
{
    const char *argv[] = {fp_th_env("FORKPOOL_BIN"), sub, "-c", td->config, a1, a2, a3, NULL};
    static const char *const env[] = {"COLUMNS=200", NULL};
    fp_th_result_t r;
    assert_int_equal(fp_th_run(argv, env, NULL, 0, 30000, &r), 0);
    if (strstr(r.err, "AddressSanitizer") != NULL || strstr(r.err, "runtime error:") != NULL)
        fail_msg("sanitizer report: %s", r.err);
    return r;
}

/* ---- the fleet ----------------------------------------------------------- */

typedef struct fleet_want_s {
    int live, gone;
} fleet_want_t;

/* `forkpool stats --json`'s fleet counts as want. */
static bool stats_fleet_is(fp_td_t *td, void *arg)
{
    const fleet_want_t *w = arg;
    fp_th_result_t r = cli(td, "stats", "--json", NULL, NULL);
    cJSON *doc = r.status == 0 ? cJSON_Parse(r.out) : NULL;
    const cJSON *m;
    int live = 0, gone = 0;
    cJSON_ArrayForEach(m, cJSON_GetObjectItem(doc, "fleet")) {
        const char *status = cJSON_GetStringValue(cJSON_GetObjectItem(m, "status"));
        live += status != NULL && strcmp(status, "live") == 0;
        gone += status != NULL && strcmp(status, "gone") == 0;
    }
    cJSON_Delete(doc);
    fp_th_result_free(&r);
    return live == w->live && gone == w->gone;
}

static void test_two_daemons_in_the_fleet(void **state)
{
    fp_td_t *td = *state;
    fp_td_config_sqlite(td, "heartbeat_interval = \"200ms\"\n", "[pool]\nchildren = 1\n");
    fp_td_start_ready(td, true);
    fp_td_t twin;
    fp_td_twin(td, &twin, "second-consumer");
    fp_td_start_ready(&twin, true);
    fleet_want_t two = {2, 0};
    fp_td_wait_until(td, stats_fleet_is, &two, WAIT_MS, "both daemons live in stats --json");
    /* /stats of the first daemon lists both, read from the file after a beat. */
    fp_td_page_t page = {"/stats", "second-consumer@"};
    fp_td_wait_until(td, fp_td_page_has, &page, WAIT_MS, "the twin in the first one's /stats");
    fp_th_result_t r = cli(td, "top", "--once", "--interval", "200ms");
    if (r.status != 0)
        fail_msg("top: exit %d: %s", r.status, r.err);
    FP_TH_EXPECT_ALL_IN(r.out, "forkpool top - file ", "daemons 2 live, 0 gone",
                        "test-consumer ", "second-consumer ");
    fp_th_result_free(&r);

    /* Killed: its record expires (3 beats) and it shows as gone. */
    fp_td_signal(&twin, SIGKILL);
    assert_true(fp_td_wait(&twin, WAIT_MS) != 0);
    fleet_want_t one_gone = {1, 1};
    fp_td_wait_until(td, stats_fleet_is, &one_gone, WAIT_MS, "the killed daemon gone");
    /* Stopped: its record goes with it. */
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, WAIT_MS), 0);
    fleet_want_t none_live = {0, 1};
    assert_true(stats_fleet_is(td, &none_live));
}

/* ---- cancel ---------------------------------------------------------------- */

static void expect_cli(const fp_td_t *td, const char *id, int status, const char *out,
                       const char *err)
{
    fp_th_result_t r = cli(td, "cancel", id, NULL, NULL);
    if (r.status != status || strstr(r.out, out) == NULL || strstr(r.err, err) == NULL)
        fail_msg("cancel %s: exit %d (want %d): out %s err %s", id, r.status, status, r.out,
                 r.err);
    fp_th_result_free(&r);
}

static void test_cancel_waiting_jobs_never_run(void **state)
{
    fp_td_t *td = *state;
    fp_td_config_sqlite(td, NULL, "[pool]\nchildren = 1\n");
    fp_td_sqlite_enqueue(td, "default", 1, EVENT_JOB("cancel-ready"), 0);
    fp_td_sqlite_enqueue(td, "default", 1, EVENT_JOB("cancel-delayed"), 3600000);
    fp_td_sqlite_enqueue(td, "default", 1, EVENT_JOB("runs"), 0);
    expect_cli(td, "cancel-ready-00", 0, "cancelled (was ready)\n", "");
    expect_cli(td, "cancel-delayed-00", 0, "cancelled (was delayed)\n", "");
    assert_int_equal(fp_td_qsql(td, "SELECT count(*) FROM dead WHERE error = 'cancelled' AND "
                                    "consumer = 'forkpool cancel'"), 2);
    fp_td_start_ready(td, true);
    long long zero = 0, one = 1;
    fp_td_wait_until(td, fp_td_qjobs_are, &zero, WAIT_MS, "the other job run");
    fp_td_wait_until(td, fp_td_events_at_least, &one, WAIT_MS, "its event");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, WAIT_MS), 0);
    assert_int_equal(fp_td_sql(td, "SELECT count(*) FROM events"), 1);
    assert_int_equal(fp_td_sql(td, "SELECT count(*) FROM events WHERE object_id = 'runs'"), 1);
    /* Dead: not found as a job to cancel; unknown: as on Redis. */
    expect_cli(td, "no-such-job", 1, "",
               "job no-such-job not found in any queue of queues.names (nothing cancelled");
}

static bool running(fp_td_t *td, void *arg)
{
    (void)arg;
    return fp_td_qsql(td, "SELECT count(*) FROM jobs WHERE owner IS NOT NULL") == 1;
}

/* `forkpool job` names the child from the daemon's record in the file. */
static bool job_names_child(fp_td_t *td, void *arg)
{
    fp_th_result_t r = cli(td, "job", arg, NULL, NULL);
    bool named = r.status == 0 && strstr(r.out, "on daemon test-consumer (host ") != NULL &&
                 strstr(r.out, "child 0") != NULL;
    fp_th_result_free(&r);
    return named;
}

static void test_cancel_running_job_stops_it(void **state)
{
    fp_td_t *td = *state;
    fp_td_config_sqlite(td, "heartbeat_interval = \"200ms\"\n",
                        "[pool]\nchildren = 1\nkill_grace = \"1s\"\n");
    fp_td_start_ready(td, true);
    fp_td_sqlite_enqueue(td, "default", 1,
                         "{\"type\":\"sleep\",\"id\":\"long-%d%d\",\"args\":{\"ms\":600000}}", 0);
    fp_td_wait_until(td, running, NULL, WAIT_MS, "the sleep running");
    fp_td_wait_until(td, job_names_child, "long-00", WAIT_MS, "job naming its child");
    fp_th_result_t r = cli(td, "cancel", "long-00", "--json", NULL);
    if (r.status != 0)
        fail_msg("cancel: exit %d: %s", r.status, r.err);
    FP_TH_EXPECT_ALL_IN(r.out, "\"requested\":true", "\"was\":\"running\"",
                        "\"consumer\":\"test-consumer\"");
    fp_th_result_free(&r);
    long long one = 1, zero = 0;
    fp_td_wait_until(td, fp_td_qdead_are, &one, WAIT_MS, "the job dead");
    fp_td_wait_until(td, fp_td_qjobs_are, &zero, WAIT_MS, "no row left");
    assert_int_equal(fp_td_qsql(td, "SELECT count(*) FROM dead WHERE error = 'cancelled' AND "
                                    "payload LIKE '%%long-00%%'"), 1);
    assert_true(fp_td_log_count(td, "was cancelled") >= 1);
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, WAIT_MS), 0);
    assert_int_equal(fp_td_qsql(td, "SELECT count(*) FROM jobs"), 0); /* not retried */
    assert_int_equal(fp_td_qsql(td, "SELECT count(*) FROM kv WHERE space = 'cancel'"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_daemons_in_the_fleet, fp_td_setup_sqlite,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_waiting_jobs_never_run, fp_td_setup_sqlite,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_running_job_stops_it, fp_td_setup_sqlite,
                                        fp_td_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
