/* test_it_metrics.c: /metrics of a real daemon after real jobs (ok,
 * failed, retried, dead, unknown types) — `promtool check metrics` accepts
 * the scrape (skipped with a message where promtool is missing), and the
 * queue-latency series carry the right values: the wait histogram counts
 * every job started, the run-time histogram every run of each type, the
 * outcome counter what was enqueued; a job held back by a busy child shows
 * a wait of at least that long; a backlog ages and a quiet daemon is not
 * ready; Redis commands and errors are counted; and
 * every metric docs/grafana/forkpool.json queries is in the scrape. */
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

/* promtool's path, or NULL (Debian's `prometheus` package provides it). */
static const char *find_promtool(char *buf, size_t size)
{
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s", path != NULL ? path : "/usr/bin:/bin");
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d != NULL;
         d = strtok_r(NULL, ":", &save)) {
        snprintf(buf, size, "%s/promtool", d);
        if (access(buf, X_OK) == 0)
            return buf;
    }
    return NULL;
}

/* `promtool check metrics` on text: it exits 0 only without a single
 * problem (names, units, HELP/TYPE, histogram shape). */
static void promtool_accepts(const char *text)
{
    char bin[4096];
    if (find_promtool(bin, sizeof bin) == NULL) {
        print_message("promtool not found (Debian package `prometheus`, installed by "
                      "scripts/bootstrap.sh): `promtool check metrics` skipped\n");
        return;
    }
    const char *argv[] = {bin, "check", "metrics", NULL};
    fp_th_result_t res;
    assert_int_equal(fp_th_run(argv, NULL, text, strlen(text), 30000, &res), 0);
    if (res.status != 0)
        print_message("promtool check metrics (exit %d):\n%s%s\n--- scrape:\n%s\n", res.status,
                      res.out, res.err, text);
    assert_int_equal(res.status, 0);
    fp_th_result_free(&res);
}

static void stop(fp_td_t *td)
{
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
}

static void expect_metric(fp_td_t *td, const char *name, double want)
{
    double got = fp_td_metric(td, name);
    if (got != want)
        print_message("%s: %g, want %g\n", name, got, want);
    assert_true(got == want);
}

static void start(fp_td_t *td, int children)
{
    char sections[512];
    snprintf(sections, sizeof sections,
             "[pool]\nchildren = %d\n[retry]\nmax_attempts = 2\nbackoff_base = \"10ms\"\n"
             "backoff_max = \"10ms\"\n",
             children);
    fp_td_config(td, NULL, sections);
    fp_td_start_ready(td, true);
}

/* Every forkpool_* name in query text q is a sample name in body (a
 * histogram's _bucket/_sum/_count as such); counts the names into *names. */
static void names_in(const char *q, const char *body, int *names)
{
    for (const char *p = q; (p = strstr(p, "forkpool_")) != NULL;) {
        size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz_0123456789");
        char name[128], line[160], bare[160];
        snprintf(name, sizeof name, "%.*s", (int)(n < 127 ? n : 127), p);
        p += n;
        snprintf(line, sizeof line, "\n%s{", name);
        snprintf(bare, sizeof bare, "\n%s ", name);
        if (strstr(body, line) == NULL && strstr(body, bare) == NULL)
            fail_msg("docs/grafana/forkpool.json queries %s, which /metrics does not have", name);
        (*names)++;
    }
}

/* Walks the dashboard: every "expr" (a panel's query) and "query" (a
 * variable's) string. */
static void walk_queries(const cJSON *node, const char *body, int *names)
{
    for (const cJSON *c = node != NULL ? node->child : NULL; c != NULL; c = c->next) {
        if (cJSON_IsString(c) && c->string != NULL &&
            (strcmp(c->string, "expr") == 0 || strcmp(c->string, "query") == 0))
            names_in(c->valuestring, body, names);
        walk_queries(c, body, names);
    }
}

static void dashboard_names_in(const char *body)
{
    char *text = fp_th_read_source("docs/grafana/forkpool.json", NULL);
    cJSON *doc = cJSON_Parse(text);
    free(text);
    assert_non_null(doc);
    int names = 0;
    walk_queries(doc, body, &names);
    cJSON_Delete(doc);
    print_message("docs/grafana/forkpool.json: %d metric references, all in the scrape\n", names);
    assert_true(names >= 15);
}

/* 12 ok, 3 failed for good, 2 retried once then dead, 2 of unknown types
 * (dead without running): 19 runs. */
static void test_series_match_the_jobs_run(void **state)
{
    fp_td_t *td = *state;
    start(td, 2);
    fp_td_enqueue(td, 12, "{\"type\":\"noop\",\"id\":\"ok%d-%d\"}");
    fp_td_enqueue(td, 3, "{\"type\":\"fail\",\"args\":{\"retry\":false},\"id\":\"p%d-%d\"}");
    fp_td_enqueue(td, 2, "{\"type\":\"fail\",\"args\":{\"retry\":true},\"id\":\"r%d-%d\"}");
    fp_td_enqueue(td, 2, "{\"type\":\"mystery-%d\",\"id\":\"u%d\"}");
    long long dead = 7;
    fp_td_wait_until(td, fp_td_dead_is, &dead, 60000, "7 jobs dead");
    fp_td_wait_until(td, fp_td_drained, NULL, 60000, "every job settled");

    expect_metric(td, "forkpool_job_wait_seconds_count{queue=\"default\"}", 19);
    expect_metric(td, "forkpool_job_wait_seconds_bucket{queue=\"default\",le=\"+Inf\"}", 19);
    expect_metric(td, "forkpool_job_duration_seconds_count{queue=\"default\",type=\"noop\"}", 12);
    expect_metric(td, "forkpool_job_duration_seconds_count{queue=\"default\",type=\"fail\"}", 7);
    expect_metric(td, "forkpool_jobs_total{queue=\"default\",type=\"noop\",outcome=\"ok\"}", 12);
    expect_metric(td, "forkpool_jobs_total{queue=\"default\",type=\"fail\",outcome=\"failed\"}", 3);
    expect_metric(td, "forkpool_jobs_total{queue=\"default\",type=\"fail\",outcome=\"retried\"}", 2);
    expect_metric(td, "forkpool_jobs_total{queue=\"default\",type=\"fail\",outcome=\"dead\"}", 2);
    expect_metric(td, "forkpool_jobs_total{queue=\"default\",type=\"other\",outcome=\"dead\"}", 2);
    expect_metric(td, "forkpool_children_target", 2);
    expect_metric(td, "forkpool_jobs_held", 0);
    assert_true(fp_td_metric(td, "forkpool_redis_commands_total") >= 19);
    assert_true(fp_td_metric(td, "forkpool_redis_errors_total") >= 0);

    /* TTIN: the target follows the pool. */
    fp_td_signal(td, SIGTTIN);
    fp_td_num_t target = {"forkpool_children_target", 3};
    fp_td_wait_until(td, fp_td_metric_is, &target, 30000, "children_target 3");

    /* The per-queue gauges come from the sampling timer. */
    fp_td_num_t sampled = {"forkpool_queue_dead{queue=\"default\"}", 7};
    fp_td_wait_until(td, fp_td_metric_is, &sampled, 30000, "the sampled dead count");
    expect_metric(td, "forkpool_queue_oldest_age_seconds{queue=\"default\"}", 0);

    char *body = NULL;
    assert_int_equal(fp_td_http_get(fp_td_health_port(td), "/metrics", &body), 200);
    promtool_accepts(body);
    dashboard_names_in(body);
    free(body);
    stop(td);
}

/* One child busy for 2 s with three jobs enqueued behind it: each of them
 * waited at least those 2 s, so none is in the le="1" bucket. (A lower
 * bound the daemon cannot beat, not a speed claim.) */
static void test_wait_covers_time_behind_a_busy_child(void **state)
{
    fp_td_t *td = *state;
    start(td, 1);
    fp_td_enqueue(td, 1, "{\"type\":\"sleep\",\"args\":{\"ms\":2000},\"id\":\"s%d-%d\"}");
    fp_td_enqueue(td, 3, "{\"type\":\"noop\",\"id\":\"w%d-%d\"}");
    fp_td_num_t ran = {"forkpool_jobs_total{queue=\"default\",type=\"noop\",outcome=\"ok\"}", 3};
    fp_td_wait_until(td, fp_td_metric_is, &ran, 60000, "the three jobs behind the sleep");
    expect_metric(td, "forkpool_job_wait_seconds_count{queue=\"default\"}", 4);
    double quick = fp_td_metric(td, "forkpool_job_wait_seconds_bucket{queue=\"default\",le=\"1\"}");
    assert_true(quick <= 1);
    assert_true(fp_td_metric(td, "forkpool_job_wait_seconds_sum{queue=\"default\"}") >= 5.9);
    stop(td);
}

/* Quiet (TSTP): nothing is pulled, so the jobs stay ready and the oldest
 * one ages on Redis' clock; the daemon says it is not ready. */
static void test_backlog_age_and_not_ready(void **state)
{
    fp_td_t *td = *state;
    start(td, 1);
    expect_metric(td, "forkpool_ready", 1);
    fp_td_signal(td, SIGTSTP);
    fp_td_num_t quiet = {"forkpool_ready", 0};
    fp_td_wait_until(td, fp_td_metric_is, &quiet, 30000, "forkpool_ready 0 once quiet");
    fp_td_enqueue(td, 3, "{\"type\":\"noop\",\"id\":\"b%d-%d\"}");
    fp_td_num_t ready = {"forkpool_queue_ready{queue=\"default\"}", 3};
    fp_td_wait_until(td, fp_td_metric_is, &ready, 30000, "3 jobs ready");
    fp_td_num_t old = {"forkpool_queue_oldest_age_seconds{queue=\"default\"}", 1.0};
    fp_td_wait_until(td, fp_td_metric_at_least, &old, 30000, "the oldest ready job 1 s old");
    expect_metric(td, "forkpool_job_wait_seconds_count{queue=\"default\"}", 0);
    stop(td);
}

/* A Redis restart loses the blocked pull's reply: counted as an error. */
static void test_redis_errors_counted(void **state)
{
    fp_td_t *td = *state;
    start(td, 1);
    double before = fp_td_metric(td, "forkpool_redis_errors_total");
    assert_true(before >= 0);
    fp_td_redis_restart(td);
    fp_td_num_t errors = {"forkpool_redis_errors_total", before + 1};
    fp_td_wait_until(td, fp_td_metric_at_least, &errors, 30000, "a Redis error counted");
    stop(td);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_series_match_the_jobs_run, fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_wait_covers_time_behind_a_busy_child, fp_td_setup,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_backlog_age_and_not_ready, fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_redis_errors_counted, fp_td_setup_aof, fp_td_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
