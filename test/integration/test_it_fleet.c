/* test_it_fleet.c: the fleet heartbeat with the real binary and a real
 * redis-server: two daemons under different names on one Redis are both
 * listed by `forkpool stats --json`, each with its own children and the
 * running job on the daemon that runs it; one killed with SIGKILL is shown
 * as gone once its record's TTL passes; one stopped with TERM deletes its
 * record and its entry before it exits. A daemon's /stats shows the fleet
 * as of its last beat. A stop with Redis frozen gives up on the delete
 * after a short wait. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"

#define SLEEP_JOB "{\"type\":\"sleep\",\"args\":{\"ms\":30000},\"id\":\"fleet-sleep\"}"

/* `forkpool stats -c CONFIG [--json]`: its stdout (owned), exit 0 asserted. */
static char *stats_out(const fp_td_t *td, bool json)
{
    const char *argv[] = {fp_th_env("FORKPOOL_BIN"), "stats", "-c", td->config,
                          json ? "--json" : NULL, NULL};
    fp_th_result_t r;
    assert_int_equal(fp_th_run(argv, NULL, NULL, 0, 30000, &r), 0);
    if (r.status != 0)
        fail_msg("stats: exit %d, stderr: %s", r.status, r.err);
    char *out = r.out;
    r.out = NULL;
    fp_th_result_free(&r);
    return out;
}

/* The fleet member whose id starts with "NAME@" in a parsed stats
 * document, or NULL. */
static const cJSON *member(const cJSON *doc, const char *name)
{
    const cJSON *m;
    size_t n = strlen(name);
    cJSON_ArrayForEach(m, cJSON_GetObjectItem(doc, "fleet")) {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(m, "id"));
        if (id != NULL && strncmp(id, name, n) == 0 && id[n] == '@')
            return m;
    }
    return NULL;
}

static const char *str_at(const cJSON *o, const char *k)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, k));
    return s != NULL ? s : "";
}

static long long int_at(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsNumber(v) ? (long long)v->valuedouble : -1;
}

/* What the current condition looks for: a member named name whose status
 * is status, and when job_id is set, runs that job. */
typedef struct want_s {
    const char *name;
    const char *status;
    const char *job_id;
} want_t;

static bool member_matches(const cJSON *doc, const want_t *w)
{
    const cJSON *m = member(doc, w->name);
    if (m == NULL || strcmp(str_at(m, "status"), w->status) != 0)
        return false;
    if (w->job_id == NULL)
        return true;
    const cJSON *job = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "current"), 0);
    return job != NULL && strcmp(str_at(job, "id"), w->job_id) == 0;
}

/* Every want of a NULL-name-terminated array holds in one stats read. */
static bool fleet_is(fp_td_t *td, void *arg)
{
    const want_t *wants = arg;
    char *out = stats_out(td, true);
    cJSON *doc = cJSON_Parse(out);
    bool ok = doc != NULL;
    for (size_t i = 0; ok && wants[i].name != NULL; i++)
        ok = member_matches(doc, &wants[i]);
    cJSON_Delete(doc);
    free(out);
    return ok;
}

/* The same wants, in td's /stats. */
static bool stats_page_is(fp_td_t *td, void *arg)
{
    const want_t *wants = arg;
    char *body = NULL;
    int status = fp_td_http_get(fp_td_health_port(td), "/stats", &body);
    cJSON *doc = status == 200 && body != NULL ? cJSON_Parse(body) : NULL;
    bool ok = doc != NULL;
    for (size_t i = 0; ok && wants[i].name != NULL; i++)
        ok = member_matches(doc, &wants[i]);
    cJSON_Delete(doc);
    free(body);
    return ok;
}

static void test_two_daemons_then_kill_and_term(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, "heartbeat_interval = \"200ms\"\n", "[pool]\nchildren = 2\n");
    fp_td_start_ready(td, true);
    fp_td_enqueue_raw(td, SLEEP_JOB, strlen(SLEEP_JOB));
    want_t running[] = {{"test-consumer", "live", "fleet-sleep"}, {NULL, NULL, NULL}};
    fp_td_wait_until(td, fleet_is, running, 30000, "the sleep job listed on test-consumer");

    fp_td_t twin;
    fp_td_twin(td, &twin, "fleet-b");
    fp_td_start_ready(&twin, true);
    want_t both[] = {{"test-consumer", "live", "fleet-sleep"}, {"fleet-b", "live", NULL},
                     {NULL, NULL, NULL}};
    fp_td_wait_until(td, fleet_is, both, 30000, "both daemons listed");
    fp_td_wait_until(td, stats_page_is, both, 30000, "both daemons in the first one's /stats");

    char *out = stats_out(td, true);
    cJSON *doc = cJSON_Parse(out);
    assert_non_null(doc);
    const cJSON *a = member(doc, "test-consumer"), *b = member(doc, "fleet-b");
    assert_int_equal(int_at(a, "pid"), td->pid);
    assert_int_equal(int_at(b, "pid"), twin.pid);
    assert_string_equal(str_at(a, "state"), "running");
    assert_string_equal(str_at(a, "version"), str_at(b, "version"));
    assert_true(strlen(str_at(a, "host")) > 0);
    assert_int_equal(int_at(cJSON_GetObjectItem(a, "children"), "total"), 2);
    assert_int_equal(int_at(cJSON_GetObjectItem(a, "children"), "busy"), 1);
    assert_int_equal(int_at(cJSON_GetObjectItem(b, "children"), "total"), 2);
    assert_int_equal(int_at(cJSON_GetObjectItem(b, "children"), "busy"), 0);
    const cJSON *job = cJSON_GetArrayItem(cJSON_GetObjectItem(a, "current"), 0);
    assert_string_equal(str_at(job, "type"), "sleep");
    assert_string_equal(str_at(job, "queue"), "default");
    assert_true(strchr(str_at(job, "entry_id"), '-') != NULL);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(b, "current")), 0);
    assert_true(int_at(a, "uptime_ms") >= 0);
    cJSON_Delete(doc);
    free(out);

    /* Killed (with its children, as a container dies): its record expires
     * after three intervals, its entry stays. */
    assert_int_equal(kill(-td->pid, SIGKILL), 0);
    (void)fp_td_wait(td, 30000);
    want_t gone[] = {{"test-consumer", "gone", NULL}, {"fleet-b", "live", NULL},
                     {NULL, NULL, NULL}};
    fp_td_wait_until(td, fleet_is, gone, 30000, "the killed daemon shown as gone");
    out = stats_out(td, false);
    char *line = fp_th_line_with(out, "test-consumer@");
    assert_non_null(line);
    assert_non_null(strstr(line, "gone (last seen "));
    free(line);
    assert_non_null(strstr(out, "fleet-b@"));
    free(out);

    /* Stopped: its record and its entry are gone before it exits. */
    char host[256] = "";
    gethostname(host, sizeof host);
    char twin_key[512];
    snprintf(twin_key, sizeof twin_key, "EXISTS fp:{fleet}:daemon:fleet-b@%s:%d", host, twin.pid);
    assert_int_equal(fp_th_redis_int(&td->redis, twin_key), 1);
    fp_td_signal(&twin, SIGTERM);
    assert_int_equal(fp_td_wait(&twin, 30000), 0);
    fp_th_assert_no_sanitizer_report(twin.log); /* td's is checked by the teardown */
    out = stats_out(td, true);
    doc = cJSON_Parse(out);
    assert_non_null(doc);
    assert_null(member(doc, "fleet-b"));
    assert_non_null(member(doc, "test-consumer"));
    cJSON_Delete(doc);
    free(out);
    assert_int_equal(fp_th_redis_int(&td->redis, "ZCARD fp:{fleet}:daemons"), 1);
    assert_int_equal(fp_th_redis_int(&td->redis, twin_key), 0);
}

/* A stop does not wait on a Redis that stopped answering to delete the
 * record: it gives up after a short wait (the record expires on its own)
 * instead of holding the exit for the writer's whole command timeout. */
static void test_stop_with_redis_frozen_does_not_wait_for_the_delete(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, "heartbeat_interval = \"200ms\"\n", "[pool]\nchildren = 1\n");
    fp_td_start_ready(td, true);
    want_t live[] = {{"test-consumer", "live", NULL}, {NULL, NULL, NULL}};
    fp_td_wait_until(td, fleet_is, live, 30000, "the daemon listed");
    assert_int_equal(kill(td->redis.pid, SIGSTOP), 0);
    fp_td_signal(td, SIGTERM);
    int status = fp_td_wait(td, 60000);
    assert_int_equal(kill(td->redis.pid, SIGCONT), 0);
    assert_int_equal(status, 0);
    assert_int_equal(fp_td_log_count(td, "no answer to the fleet record's delete within"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_daemons_then_kill_and_term, fp_td_setup,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_stop_with_redis_frozen_does_not_wait_for_the_delete,
                                        fp_td_setup, fp_td_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
