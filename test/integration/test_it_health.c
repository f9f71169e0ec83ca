/* test_it_health.c: the health endpoint of a real daemon — status codes,
 * readiness following Redis and TSTP, metrics that match the jobs run, the
 * /stats document. (The HTTP server's limits and abuse cases are pinned in
 * test/unit/test_health.c.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"

/* extra: more whole sections for the config, or "". */
static void start_with_health_and(fp_td_t *td, const char *extra)
{
    char sections[8192];
    snprintf(sections, sizeof sections, "[pool]\nchildren = 2\n%s", extra);
    fp_td_config(td, NULL, sections);
    fp_td_start_ready(td, true);
}

static void start_with_health(fp_td_t *td)
{
    start_with_health_and(td, "");
}

static void test_endpoints_and_readiness(void **state)
{
    fp_td_t *td = *state;
    start_with_health(td);
    int port = fp_td_health_port(td);
    assert_true(port > 0);
    char *body = NULL;
    assert_int_equal(fp_td_http_get(port, "/healthz", NULL), 200);
    assert_int_equal(fp_td_http_get(port, "/readyz", &body), 200);
    free(body);
    assert_int_equal(fp_td_http_get(port, "/nope", NULL), 404);

    /* Redis goes away: not ready, with the reason; back when it returns. */
    assert_int_equal(fp_th_redis_shutdown(&td->redis), 0);
    fp_td_ready_t r = {port, 503};
    fp_td_wait_until(td, fp_td_readyz_is, &r, 30000, "readyz 503");
    assert_int_equal(fp_td_http_get(port, "/readyz", &body), 503);
    assert_non_null(strstr(body, "redis disconnected"));
    free(body);
    assert_int_equal(fp_td_http_get(port, "/healthz", NULL), 200);
    assert_int_equal(fp_th_redis_resume(&td->redis), 0);
    r.status = 200;
    fp_td_wait_until(td, fp_td_readyz_is, &r, 30000, "readyz 200 again");

    /* Quiet: 503 with the reason, while still alive. */
    fp_td_signal(td, SIGTSTP);
    r.status = 503;
    fp_td_wait_until(td, fp_td_readyz_is, &r, 30000, "readyz 503 when quiet");
    assert_int_equal(fp_td_http_get(port, "/readyz", &body), 503);
    assert_non_null(strstr(body, "quiet"));
    free(body);
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
}

/* TCP sockets pid holds that listen (state 0A in /proc/net/tcp{,6}, matched
 * to its fds by inode). */
static int listening_sockets(int pid)
{
    char path[64];
    int n = 0;
    for (int v6 = 0; v6 < 2; v6++) {
        char *table = fp_th_read_file(v6 ? "/proc/net/tcp6" : "/proc/net/tcp", NULL);
        for (char *line = table != NULL ? strchr(table, '\n') : NULL; line != NULL;
             line = strchr(line + 1, '\n')) {
            unsigned long inode = 0;
            char state[8];
            if (sscanf(line, " %*s %*s %*s %7s %*s %*s %*s %*s %*s %lu", state, &inode) != 2 ||
                strcmp(state, "0A") != 0)
                continue;
            char want[64], got[64];
            snprintf(want, sizeof want, "socket:[%lu]", inode);
            for (int fd = 0; fd < 1024; fd++) {
                snprintf(path, sizeof path, "/proc/%d/fd/%d", pid, fd);
                ssize_t len = readlink(path, got, sizeof got - 1);
                if (len > 0 && (got[len] = '\0', strcmp(got, want) == 0))
                    n++;
            }
        }
        free(table);
    }
    return n;
}

/* health.listen = "" turns the endpoint off (the fixture has it on): the
 * daemon serves jobs and listens on no port at all. */
static void test_empty_listen_opens_no_endpoint(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, "[pool]\nchildren = 2\n");
    fp_td_health_off(td);
    fp_td_start_ready(td, true);
    fp_td_enqueue(td, 10, "{\"type\":\"noop\",\"id\":\"n%d-%d\"}");
    fp_td_wait_until(td, fp_td_drained, NULL, 30000, "the jobs");
    assert_int_equal(listening_sockets(td->pid), 0);
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_int_equal(fp_td_jobs_done(td), 10);
}

static void test_metrics_and_stats_match_the_jobs_run(void **state)
{
    fp_td_t *td = *state;
    start_with_health(td);
    int port = fp_td_health_port(td);
    fp_td_enqueue(td, 30, "{\"type\":\"noop\",\"id\":\"m%d-%d\"}");
    fp_td_enqueue(td, 2, "{\"type\":\"fail\",\"args\":{\"retry\":false},\"id\":\"f%d-%d\"}");
    fp_td_wait_until(td, fp_td_drained, NULL, 30000, "the jobs");
    char *body = NULL;
    assert_int_equal(fp_td_http_get(port, "/metrics", &body), 200);
    FP_TH_EXPECT_ALL_IN(body,
                        "# TYPE forkpool_jobs_total counter",
                        "forkpool_jobs_total{queue=\"default\",type=\"noop\",outcome=\"ok\"} 30",
                        "forkpool_jobs_total{queue=\"default\",type=\"fail\",outcome=\"failed\"} 2",
                        "forkpool_job_duration_seconds_count{queue=\"default\",type=\"noop\"} 30",
                        "forkpool_children{state=\"idle\"} 2",
                        "forkpool_redis_connected 1");
    free(body);
    /* Queue depths come from a timer (every 5 s), not from the scrape. */
    fp_td_num_t depth = {"forkpool_queue_dead{queue=\"default\"}", 2};
    fp_td_wait_until(td, fp_td_metric_is, &depth, 30000, "the sampled queue depth");
    assert_int_equal(fp_td_http_get(port, "/metrics", &body), 200);
    FP_TH_EXPECT_ALL_IN(body,
                        "forkpool_queue_ready{queue=\"default\"} 0",
                        "forkpool_queue_pending{queue=\"default\"} 0",
                        "forkpool_queue_delayed{queue=\"default\"} 0");
    free(body);
    assert_int_equal(fp_td_http_get(port, "/stats", &body), 200);
    cJSON *doc = cJSON_Parse(body);
    assert_non_null(doc);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "children")), 2);
    cJSON *counters = cJSON_GetObjectItem(doc, "counters");
    assert_int_equal(cJSON_GetObjectItem(counters, "jobs_ok")->valueint, 30);
    assert_int_equal(cJSON_GetObjectItem(counters, "jobs_failed")->valueint, 2);
    cJSON_Delete(doc);
    free(body);
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
}

/* Abuse while jobs run: 200 idle connections, 100 KB of headers, garbage, a
 * byte-at-a-time client and one that never reads. The daemon keeps running
 * jobs and keeps answering. */
static void test_abuse_does_not_stop_the_daemon(void **state)
{
    fp_td_t *td = *state;
    start_with_health(td);
    int port = fp_td_health_port(td);
    fp_td_enqueue(td, 300, "{\"type\":\"sleep\",\"args\":{\"ms\":5},\"id\":\"a%d-%d\"}");
    int fds[200];
    for (int i = 0; i < 200; i++)
        fds[i] = fp_td_connect(port);
    int big = fp_td_connect(port);
    assert_true(big >= 0);
    char *headers = malloc(100 * 1024 + 64);
    int n = snprintf(headers, 64, "GET /metrics HTTP/1.1\r\nX: ");
    memset(headers + n, 'a', 100 * 1024);
    (void)!write(big, headers, (size_t)n + 100 * 1024);
    free(headers);
    int junk = fp_td_connect(port);
    (void)!write(junk, "\x01\x02garbage\r\n\r\n", 13);
    int slow = fp_td_connect(port);
    const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    for (const char *p = req; *p && slow >= 0; p++)
        (void)!write(slow, p, 1);
    int deaf = fp_td_connect(port);
    static const char metrics_req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    for (int i = 0; deaf >= 0 && i < 50; i++)
        (void)!write(deaf, metrics_req, sizeof metrics_req - 1);
    for (int i = 0; i < 200; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    int fds_left[] = {big, junk, slow, deaf};
    for (size_t i = 0; i < 4; i++)
        if (fds_left[i] >= 0)
            close(fds_left[i]);
    fp_td_wait_until(td, fp_td_drained, NULL, 60000, "the jobs");
    assert_int_equal(fp_td_http_get(port, "/healthz", NULL), 200);
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_int_equal(fp_td_jobs_done(td), 300);
}

/* Slowloris: 500 connections that each send part of a request (or bytes that
 * are not HTTP) and then wait. /healthz still answers: the oldest of them
 * make room for the probe. The latency is printed, not asserted. */
static void test_slow_clients_do_not_starve_healthz(void **state)
{
    fp_td_t *td = *state;
    start_with_health(td);
    int port = fp_td_health_port(td);
    enum { SLOW = 500 };
    static int fds[SLOW];
    static const char *const starts[] = {"GET /healthz HTTP/1.1\r\nX-Slow: ", "G", "GET /metr",
                                         "\x16\x03\x01\x02"};
    for (int i = 0; i < SLOW; i++) {
        fds[i] = fp_td_connect(port);
        assert_true(fds[i] >= 0);
        const char *s = starts[i % 4];
        (void)!write(fds[i], s, strlen(s));
    }
    /* One more byte each, as a slowloris client keeps its connections warm. */
    for (int i = 0; i < SLOW; i++)
        (void)!write(fds[i], "a", 1);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int status = fp_td_http_get(port, "/healthz", NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    print_message("/healthz with %d slow connections open: status %d in %.1f ms\n", SLOW, status,
                  ms);
    assert_int_equal(status, 200);
    for (int i = 0; i < SLOW; i++)
        close(fds[i]);
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
}

/* ---- label cardinality --------------------------------------------------- */

static size_t metrics_size(int port)
{
    char *body = NULL;
    assert_int_equal(fp_td_http_get(port, "/metrics", &body), 200);
    size_t n = strlen(body);
    free(body);
    return n;
}

/* Job types nobody handles (they go to dead) all count under type="other":
 * 5,000 of them leave /metrics the size 10 left it. */
static void test_unknown_types_do_not_grow_metrics(void **state)
{
    fp_td_t *td = *state;
    start_with_health(td);
    int port = fp_td_health_port(td);
    fp_td_enqueue(td, 10, "{\"type\":\"junk-%d\",\"id\":\"j%d\"}");
    long long dead = 10;
    fp_td_wait_until(td, fp_td_dead_is, &dead, 30000, "the first junk jobs in dead");
    size_t before = metrics_size(port);
    fp_td_enqueue(td, 5000, "{\"type\":\"junk-more-%d\",\"id\":\"k%d\"}");
    dead = 5010;
    fp_td_wait_until(td, fp_td_dead_is, &dead, 120000, "the junk jobs in dead");
    char *body = NULL;
    assert_int_equal(fp_td_http_get(port, "/metrics", &body), 200);
    print_message("/metrics: %zu bytes after 10 junk types, %zu after 5010\n", before,
                  strlen(body));
    assert_non_null(strstr(body, "forkpool_jobs_total{queue=\"default\",type=\"other\",outcome=\"dead\"} 5010"));
    assert_null(strstr(body, "junk-"));
    assert_true(strlen(body) < before + 1024);
    free(body);
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
}

/* ---- a ledger that cannot write ----------------------------------------- */

typedef struct ledger_fx_s {
    char dir[4096], aside[4096], path[4096 + 16];
} ledger_fx_t;

/* The ledger lives in its own directory, which the test swaps for a plain
 * file: opening anything under it then fails with ENOTDIR even for root. */
static void ledger_paths(const fp_td_t *td, ledger_fx_t *l, char *section, size_t size,
                         const char *on_error)
{
    snprintf(l->dir, sizeof l->dir, "%s/ledger", td->dir);
    snprintf(l->aside, sizeof l->aside, "%s/ledger.aside", td->dir);
    snprintf(l->path, sizeof l->path, "%s/jobs.db", l->dir);
    assert_int_equal(mkdir(l->dir, 0700), 0);
    snprintf(section, size, "[ledger]\npath = \"%s\"\non_error = \"%s\"\n", l->path, on_error);
}

/* Starts a daemon whose ledger lives in its own directory, with on_error;
 * returns the health port. */
static int start_with_ledger(fp_td_t *td, ledger_fx_t *l, const char *on_error)
{
    char section[4096 + 64];
    ledger_paths(td, l, section, sizeof section, on_error);
    start_with_health_and(td, section);
    return fp_td_health_port(td);
}

static void ledger_break(const ledger_fx_t *l)
{
    assert_int_equal(rename(l->dir, l->aside), 0);
    assert_int_equal(fp_th_write_file(l->dir, "x", 1), 0);
}

static void ledger_mend(const ledger_fx_t *l)
{
    assert_int_equal(unlink(l->dir), 0);
    assert_int_equal(rename(l->aside, l->dir), 0);
}

typedef struct ledger_rows_s {
    const char *path;
    long long want;
} ledger_rows_t;

static bool ledger_rows_are(fp_td_t *td, void *arg)
{
    (void)td;
    ledger_rows_t *r = arg;
    return fp_td_sql_at(r->path, "SELECT count(*) FROM jobs") == r->want;
}

/* pause (the default): readiness turns 503 with "ledger" and pulls hold;
 * once the directory is back, 200 again, every row is written and the
 * jobs left waiting run. */
static void test_ledger_failure_pauses_and_recovers(void **state)
{
    fp_td_t *td = *state;
    ledger_fx_t l;
    int port = start_with_ledger(td, &l, "pause");
    fp_td_enqueue(td, 20, "{\"type\":\"noop\",\"id\":\"a%d-%d\"}");
    ledger_rows_t rows = {l.path, 20};
    fp_td_wait_until(td, ledger_rows_are, &rows, 30000, "20 ledger rows");

    ledger_break(&l);
    fp_td_enqueue(td, 200, "{\"type\":\"sleep\",\"args\":{\"ms\":5},\"id\":\"b%d-%d\"}");
    fp_td_ready_t r = {port, 503};
    fp_td_wait_until(td, fp_td_readyz_is, &r, 30000, "readyz 503 while the ledger cannot write");
    char *body = NULL;
    assert_int_equal(fp_td_http_get(port, "/readyz", &body), 503);
    assert_non_null(strstr(body, "\"ledger\""));
    free(body);
    assert_int_equal(fp_td_http_get(port, "/metrics", &body), 200);
    assert_non_null(strstr(body, "forkpool_ledger_failing 1"));
    free(body);
    /* Pulls hold: jobs are left in the stream (200 jobs of 5 ms cannot all
     * have run in the writer's first failing try). */
    assert_true(fp_td_xlen(td, FP_TD_JOBS) > 0);

    ledger_mend(&l);
    r.status = 200;
    fp_td_wait_until(td, fp_td_readyz_is, &r, 30000, "readyz 200 once the ledger writes again");
    fp_td_wait_until(td, fp_td_drained, NULL, 60000, "the jobs");
    rows.want = 220;
    fp_td_wait_until(td, ledger_rows_are, &rows, 30000, "220 ledger rows");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_int_equal(fp_td_jobs_done(td), 220);
}

/* skip: jobs keep completing while the ledger cannot write, their rows are
 * dropped and counted; rows are written again once it can. */
static void test_ledger_failure_skip_keeps_jobs_running(void **state)
{
    fp_td_t *td = *state;
    ledger_fx_t l;
    int port = start_with_ledger(td, &l, "skip");
    ledger_break(&l);
    fp_td_enqueue(td, 30, "{\"type\":\"noop\",\"id\":\"a%d-%d\"}");
    fp_td_wait_until(td, fp_td_drained, NULL, 30000, "the jobs");
    fp_td_num_t dropped = {"forkpool_ledger_rows_dropped_total", 30};
    fp_td_wait_until(td, fp_td_metric_is, &dropped, 30000, "30 rows counted as dropped");

    ledger_mend(&l);
    fp_td_enqueue(td, 5, "{\"type\":\"noop\",\"id\":\"b%d-%d\"}");
    ledger_rows_t rows = {l.path, 5};
    fp_td_wait_until(td, ledger_rows_are, &rows, 30000, "5 ledger rows once it can write");
    fp_td_ready_t r = {port, 200};
    fp_td_wait_until(td, fp_td_readyz_is, &r, 30000, "readyz 200");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_int_equal(fp_td_jobs_done(td), 35);
}

int main(void)
{
    /* The server may close an abusive connection while the test still writes. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_endpoints_and_readiness, fp_td_setup_aof, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_empty_listen_opens_no_endpoint, fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_metrics_and_stats_match_the_jobs_run, fp_td_setup_aof, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_abuse_does_not_stop_the_daemon, fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_slow_clients_do_not_starve_healthz, fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_types_do_not_grow_metrics, fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_ledger_failure_pauses_and_recovers, fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_ledger_failure_skip_keeps_jobs_running, fp_td_setup, fp_td_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
