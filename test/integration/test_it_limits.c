/* test_it_limits.c: [limits.TYPE] with real daemons and a real Redis. The
 * exec worker's "span" handler writes a start and a stop line per job with
 * CLOCK_MONOTONIC (one clock for every process on the host); the test
 * computes from them how many jobs of a type ran at once, and when the
 * starts happened. No assertion on timing other than the rate's floor,
 * which proves the limiter acts (a span far below the rate's).
 *
 *   - concurrency = 2 across three daemons of 4 children: never more than
 *     2 ran at once, and jobs of a type with no limit, enqueued behind the
 *     limited ones, all finished while limited ones still waited;
 *   - local_concurrency = 1 on one daemon: likewise with 1;
 *   - a reload raising local_concurrency applies to the next admissions;
 *   - a reload that limits a type counts its jobs already running;
 *   - rate = "50/s", 1,000 jobs: the starts span at least 14 s (about 19 s
 *     expected: a burst of 50, then 50 per second), nothing failed.
 * The first and the fourth also run on the embedded queue (one queue file,
 * no Redis: "sqlite_..."), the same body over the backend_t table, and two
 * cases of its own:
 *
 *   - concurrency = 1 across two daemons on one file: never two jobs of
 *     the type at once, each job ran once, none lost or dead;
 *   - rate = "5/s", 20 jobs: a burst of 5 then 5 a second, so the last
 *     start comes at least 15 intervals (3 s) after the first take: the
 *     wall time from the enqueue to the last stop is at least that (a
 *     floor that cannot flake); each ran once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "daemon_sqlite.h"
#include "spans.h"

/* Where the jobs wait: what a test body does differently on each. */
typedef struct backend_s {
    void (*config)(fp_td_t *td, const char *daemon_lines, const char *extra);
    void (*enqueue)(fp_td_t *td, int n, const char *fmt);
    long long (*dead)(fp_td_t *td);
    long long (*leases)(fp_td_t *td, const char *type); /* live concurrency leases */
} backend_t;

static long long redis_dead(fp_td_t *td)
{
    return fp_td_xlen(td, FP_TD_DEAD);
}

static long long redis_leases(fp_td_t *td, const char *type)
{
    return fp_th_redis_int(&td->redis, "ZCARD fp:{limit:%s}:running", type);
}

static void sqlite_enqueue(fp_td_t *td, int n, const char *fmt)
{
    fp_td_sqlite_enqueue(td, "default", n, fmt, 0);
}

static long long sqlite_dead(fp_td_t *td)
{
    return fp_td_qsql(td, "SELECT count(*) FROM dead");
}

static long long sqlite_leases(fp_td_t *td, const char *type)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return fp_td_qsql(td, "SELECT count(*) FROM kv WHERE space = 'limit:%s' AND expires_at > %lld",
                      type, (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static const backend_t on_redis = {fp_td_config, fp_td_enqueue, redis_dead, redis_leases};
static const backend_t on_sqlite = {fp_td_config_sqlite, sqlite_enqueue, sqlite_dead,
                                    sqlite_leases};
static const backend_t *be = &on_redis; /* the running test's */

typedef struct stops_s {
    const char *path, *prefix;
    long long n;
} stops_t;

static bool stops_reached(fp_td_t *td, void *arg)
{
    (void)td;
    stops_t *w = arg;
    return fp_ts_spans_read(w->path, w->prefix).stops >= w->n;
}

static bool starts_reached(fp_td_t *td, void *arg)
{
    (void)td;
    stops_t *w = arg;
    return fp_ts_spans_read(w->path, w->prefix).starts >= w->n;
}

static void limits_config(fp_td_t *td, const char *limits)
{
    char command[4300], text[8192];
    fp_td_exec_worker_command(command, sizeof command, NULL);
    snprintf(text, sizeof text,
             "[pool]\nruntime = \"exec\"\ncommand = %s\nchildren = 4\n%s", command, limits);
    be->config(td, NULL, text);
}

/* n jobs of type, ids PREFIX0.., each running ms. */
static void enqueue_spans(fp_td_t *td, const char *path, const char *type, const char *prefix,
                          int n, int ms)
{
    char fmt[4608];
    snprintf(fmt, sizeof fmt,
             "{\"type\":\"%s\",\"id\":\"%s%%d\",\"args\":{\"id\":\"%s%%d\",\"file\":\"%s\","
             "\"ms\":%d}}",
             type, prefix, prefix, path, ms);
    be->enqueue(td, n, fmt);
}

static void stop_twin(fp_td_t *twin)
{
    fp_td_signal(twin, SIGTERM);
    assert_int_equal(fp_td_wait(twin, 60000), 0);
}

/* Limited jobs first, unlimited ones behind them; the unlimited ones all
 * finish while limited ones are still to run, then the limited ones end
 * with at most `most` at once (and, with 3 daemons free to run more, at
 * least that many at some point: the limit was what held them). */
static void check_flow(fp_td_t *td, const char *path, int limited, int free_jobs, long long most)
{
    stops_t free_done = {path, "F", free_jobs};
    fp_td_wait_until(td, stops_reached, &free_done, 120000, "the unlimited jobs finish");
    fp_ts_spans_t l = fp_ts_spans_read(path, "L");
    printf("# unlimited jobs done while %lld of %d limited ones had finished\n", l.stops, limited);
    assert_true(l.stops < limited);
    stops_t lim_done = {path, "L", limited};
    fp_td_wait_until(td, stops_reached, &lim_done, 180000, "the limited jobs finish");
    l = fp_ts_spans_read(path, "L");
    printf("# limited jobs: at most %lld ran at once (limit %lld)\n", l.max_overlap, most);
    assert_int_equal(l.starts, limited);
    assert_int_equal(l.unmatched, 0);
    assert_true(l.max_overlap <= most);
    assert_int_equal(l.max_overlap, most);
    assert_int_equal(be->dead(td), 0);
}

static void concurrency_across_daemons(void **state)
{
    fp_td_t *td = *state;
    char path[4200];
    snprintf(path, sizeof path, "%s/spans", td->dir);
    limits_config(td, "[limits.span]\nconcurrency = 2\n");
    fp_td_t twin1, twin2;
    fp_td_start_ready(td, true);
    fp_td_twin(td, &twin1, "second"); /* each picks a free health port: one at a time */
    fp_td_start(&twin1, false);
    fp_td_wait_ready(&twin1, true);
    fp_td_twin(td, &twin2, "third");
    fp_td_start(&twin2, false);
    fp_td_wait_ready(&twin2, true);
    enqueue_spans(td, path, "span", "L", 8, 1000);
    enqueue_spans(td, path, "span_free", "F", 24, 0);
    check_flow(td, path, 8, 24, 2);
    double limited = fp_td_metric(td, "forkpool_jobs_limited_total{type=\"span\",limit=\"concurrency\"}") +
                     fp_td_metric(&twin1, "forkpool_jobs_limited_total{type=\"span\",limit=\"concurrency\"}") +
                     fp_td_metric(&twin2, "forkpool_jobs_limited_total{type=\"span\",limit=\"concurrency\"}");
    printf("# handed back by the concurrency limit: %.0f times\n", limited);
    assert_true(limited > 0);
    /* Every lease went with its job's outcome. */
    assert_int_equal(be->leases(td, "span"), 0);
    stop_twin(&twin1);
    stop_twin(&twin2);
}

/* One daemon with local_concurrency = 1 for span, started; its span file. */
static void start_local_one(fp_td_t *td, char *path, size_t size)
{
    snprintf(path, size, "%s/spans", td->dir);
    limits_config(td, "[limits.span]\nlocal_concurrency = 1\n");
    fp_td_start_ready(td, true);
}

static void local_concurrency_one(void **state)
{
    fp_td_t *td = *state;
    char path[4200];
    start_local_one(td, path, sizeof path);
    enqueue_spans(td, path, "span", "L", 4, 1000);
    enqueue_spans(td, path, "span_free", "F", 12, 0);
    check_flow(td, path, 4, 12, 1);
    assert_true(fp_td_metric(td, "forkpool_jobs_limited_total{type=\"span\",limit=\"local\"}") > 0);
    /* No concurrency or rate limit: no Redis state at all. */
    assert_int_equal(fp_th_redis_int(&td->redis, "EXISTS fp:{limit:span}:running"), 0);
}

/* A reload applies a changed limit to the jobs admitted next: with
 * local_concurrency = 1 one job of four runs; raised to 4, the three others
 * (back from the delayed set within a second, each running 3 s) run side by
 * side, which the old limit never allows. */
static void reload_raises_limit(void **state)
{
    fp_td_t *td = *state;
    char path[4200];
    start_local_one(td, path, sizeof path);
    enqueue_spans(td, path, "span", "L", 4, 3000);
    fp_td_num_t refused = {"forkpool_jobs_limited_total{type=\"span\",limit=\"local\"}", 3};
    fp_td_wait_until(td, fp_td_metric_at_least, &refused, 60000, "the local limit refusing");
    stops_t one = {path, "L", 1};
    fp_td_wait_until(td, starts_reached, &one, 60000, "the first job's start");
    fp_ts_spans_t before = fp_ts_spans_read(path, "L");
    assert_true(before.starts - before.stops <= 1); /* the old limit holds */
    fp_td_config_replace(td, "local_concurrency = 1", "local_concurrency = 4");
    fp_td_signal(td, SIGHUP);
    fp_td_page_t raised = {"/stats", "\"local_concurrency\":4"};
    fp_td_wait_until(td, fp_td_page_has, &raised, 60000, "the reload's limit in /stats");
    stops_t done = {path, "L", 4};
    fp_td_wait_until(td, stops_reached, &done, 120000, "the four jobs finish");
    fp_ts_spans_t s = fp_ts_spans_read(path, "L");
    printf("# after the reload at most %lld ran at once\n", s.max_overlap);
    assert_true(s.max_overlap >= 3);
}

typedef struct leases_s {
    const char *type;
    long long n;
} leases_t;

static bool leases_are(fp_td_t *td, void *arg)
{
    leases_t *z = arg;
    return be->leases(td, z->type) == z->n;
}

/* Two jobs of a type with no limit run; a reload gives the type
 * concurrency = 1: both get a lease (they run), and a third job enqueued
 * then is handed back rather than started beside them. */
static void reload_counts_running_jobs(void **state)
{
    fp_td_t *td = *state;
    char path[4200];
    snprintf(path, sizeof path, "%s/spans", td->dir);
    limits_config(td, "[limits.other]\nconcurrency = 1\n");
    fp_td_start_ready(td, true);
    enqueue_spans(td, path, "span", "R", 2, 30000);
    stops_t two = {path, "R", 2};
    fp_td_wait_until(td, starts_reached, &two, 60000, "two unlimited jobs start");
    fp_td_config_replace(td, "[limits.other]", "[limits.span]");
    fp_td_signal(td, SIGHUP);
    leases_t leases = {"span", 2};
    fp_td_wait_until(td, leases_are, &leases, 60000, "the running jobs' leases");
    enqueue_spans(td, path, "span", "N", 1, 0);
    fp_td_num_t refused = {"forkpool_jobs_limited_total{type=\"span\",limit=\"concurrency\"}", 1};
    fp_td_wait_until(td, fp_td_metric_at_least, &refused, 60000, "the new job refused");
    fp_ts_spans_t r = fp_ts_spans_read(path, "R");
    assert_int_equal(r.stops, 0); /* 30 s jobs: still running when it was refused */
    stops_t done = {path, "N", 1};
    fp_td_wait_until(td, stops_reached, &done, 120000, "the new job runs once one ended");
}

static void rate_fifty_per_second(void **state)
{
    fp_td_t *td = *state;
    char path[4200];
    snprintf(path, sizeof path, "%s/spans", td->dir);
    limits_config(td, "[limits.span]\nrate = \"50/s\"\n");
    fp_td_start_ready(td, true);
    enqueue_spans(td, path, "span", "L", 1000, 0);
    stops_t done = {path, "L", 1000};
    fp_td_wait_until(td, stops_reached, &done, 240000, "1,000 rate-limited jobs finish");
    fp_ts_spans_t s = fp_ts_spans_read(path, "L");
    double span_s = (double)(s.last_start - s.first_start) / 1e9;
    printf("# 1,000 jobs at 50/s: starts spanned %.2f s (a burst of 50, then 50/s: ~19 s)\n",
           span_s);
    assert_int_equal(s.starts, 1000);
    assert_true(span_s >= 14.0);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
    assert_true(fp_td_metric(td, "forkpool_jobs_limited_total{type=\"span\",limit=\"rate\"}") > 0);
}

/* Every row settled, none dead, every L span paired and counted once. */
static void assert_all_ran_once(fp_td_t *td, const char *path, long long n)
{
    long long zero = 0;
    fp_td_wait_until(td, fp_td_qjobs_are, &zero, 60000, "every row settled");
    assert_int_equal(sqlite_dead(td), 0);
    fp_ts_spans_t s = fp_ts_spans_read(path, "L");
    assert_int_equal(s.starts, n);
    assert_int_equal(s.stops, n);
    assert_int_equal(s.unmatched, 0);
}

/* A daemon on the embedded queue with limits, started; its span file. */
static void start_on_file(fp_td_t *td, char *path, size_t size, const char *limits)
{
    snprintf(path, size, "%s/spans", td->dir);
    be = &on_sqlite;
    limits_config(td, limits);
    fp_td_start_ready(td, true);
}

static void sqlite_concurrency_one_across_two_daemons(void **state)
{
    fp_td_t *td = *state;
    char path[4200];
    start_on_file(td, path, sizeof path, "[limits.span]\nconcurrency = 1\n");
    fp_td_t twin;
    fp_td_twin(td, &twin, "second");
    fp_td_start_ready(&twin, true);
    enqueue_spans(td, path, "span", "L", 6, 400);
    stops_t done = {path, "L", 6};
    fp_td_wait_until(td, stops_reached, &done, 180000, "the limited jobs finish");
    assert_all_ran_once(td, path, 6);
    fp_ts_spans_t s = fp_ts_spans_read(path, "L");
    printf("# concurrency = 1 over two daemons on a file: at most %lld ran at once\n",
           s.max_overlap);
    assert_int_equal(s.max_overlap, 1);
    const char *metric = "forkpool_jobs_limited_total{type=\"span\",limit=\"concurrency\"}";
    assert_true(fp_td_metric(td, metric) + fp_td_metric(&twin, metric) > 0);
    assert_int_equal(sqlite_leases(td, "span"), 0); /* every lease went with its job */
    stop_twin(&twin);
    stop_twin(td);
    fp_th_assert_no_sanitizer_report(twin.log);
    be = &on_redis;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sqlite_rate_spaces_the_starts(void **state)
{
    fp_td_t *td = *state;
    char path[4200];
    start_on_file(td, path, sizeof path, "[limits.span]\nrate = \"5/s\"\n");
    double began = mono_s();
    enqueue_spans(td, path, "span", "L", 20, 0);
    stops_t done = {path, "L", 20};
    fp_td_wait_until(td, stops_reached, &done, 180000, "20 rate-limited jobs finish");
    double took = mono_s() - began;
    fp_ts_spans_t s = fp_ts_spans_read(path, "L");
    printf("# 20 jobs at 5/s on a file: %.2f s from the enqueue to the last stop, starts "
           "spanned %.2f s\n",
           took, (double)(s.last_start - s.first_start) / 1e9);
    assert_true(took >= 3.0);
    assert_all_ran_once(td, path, 20);
    assert_true(fp_td_metric(td, "forkpool_jobs_limited_total{type=\"span\",limit=\"rate\"}") > 0);
    be = &on_redis;
}

static void sqlite_concurrency_across_daemons(void **state)
{
    be = &on_sqlite;
    concurrency_across_daemons(state);
    be = &on_redis;
}

static void sqlite_reload_counts_running_jobs(void **state)
{
    be = &on_sqlite;
    reload_counts_running_jobs(state);
    be = &on_redis;
}

int main(int argc, char **argv)
{
    /* test_it_limits NAME runs one test (or a pattern: "sqlite_*", ctest's
     * integration.test_it_limits.sqlite); --skip PATTERN all but those. */
    if (argc > 2 && strcmp(argv[1], "--skip") == 0)
        cmocka_set_skip_filter(argv[2]);
    else if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(concurrency_across_daemons, fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(local_concurrency_one, fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(reload_raises_limit, fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(reload_counts_running_jobs, fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(rate_fifty_per_second, fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(sqlite_concurrency_across_daemons, fp_td_setup_sqlite,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(sqlite_reload_counts_running_jobs, fp_td_setup_sqlite,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(sqlite_concurrency_one_across_two_daemons,
                                        fp_td_setup_sqlite, fp_td_teardown),
        cmocka_unit_test_setup_teardown(sqlite_rate_spaces_the_starts, fp_td_setup_sqlite,
                                        fp_td_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
