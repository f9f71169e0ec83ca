/* test_it_sqlite_limits.c: [limits.TYPE] concurrency and rate on the
 * embedded queue (issue 19), with real daemons on one queue file and no
 * Redis. The exec worker's "span" handler writes a start and a stop line
 * per job with CLOCK_MONOTONIC (one clock for every process on the host);
 * the test computes from them how many jobs of a type ran at once. No
 * assertion on timing other than the rate's floor, which cannot flake:
 *
 *   - concurrency = 1 across two daemons of 4 children on one file: never
 *     two jobs of the type at once, each job ran once, none lost, refusals
 *     counted in forkpool_jobs_limited_total, no lease left in the file;
 *   - rate = "5/s", 20 jobs on 4 children: a burst of 5 then 5 a second,
 *     so the last start comes at least 15 intervals (3 s) after the
 *     first take: the wall time from the enqueue to the last stop is at
 *     least that; each ran once. */
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

#include "daemon_sqlite.h"
#include "spans.h"

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

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void limits_config(fp_td_t *td, const char *limits)
{
    char command[4300], text[8192];
    fp_td_exec_worker_command(command, sizeof command, NULL);
    snprintf(text, sizeof text,
             "[pool]\nruntime = \"exec\"\ncommand = %s\nchildren = 4\n%s", command, limits);
    fp_td_config_sqlite(td, NULL, text);
}

/* n jobs of type span, ids PREFIX0.., each running ms. */
static void enqueue_spans(fp_td_t *td, const char *path, const char *prefix, int n, int ms)
{
    char fmt[4608];
    snprintf(fmt, sizeof fmt,
             "{\"type\":\"span\",\"id\":\"%s%%d\",\"args\":{\"id\":\"%s%%d\",\"file\":\"%s\","
             "\"ms\":%d}}",
             prefix, prefix, path, ms);
    fp_td_sqlite_enqueue(td, "default", n, fmt, 0);
}

static void stop(fp_td_t *td)
{
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 60000), 0);
}

/* Every row settled, none dead, every span paired and counted once. */
static void assert_all_ran_once(fp_td_t *td, const char *path, long long n)
{
    long long zero = 0;
    fp_td_wait_until(td, fp_td_qjobs_are, &zero, 60000, "every row settled");
    assert_int_equal(fp_td_qsql(td, "SELECT count(*) FROM dead"), 0);
    fp_ts_spans_t s = fp_ts_spans_read(path, "L");
    assert_int_equal(s.starts, n);
    assert_int_equal(s.stops, n);
    assert_int_equal(s.unmatched, 0);
}

static void test_concurrency_one_across_two_daemons(void **state)
{
    fp_td_t *td = *state;
    char path[4200];
    snprintf(path, sizeof path, "%s/spans", td->dir);
    limits_config(td, "[limits.span]\nconcurrency = 1\n");
    fp_td_start_ready(td, true);
    fp_td_t twin;
    fp_td_twin(td, &twin, "second");
    fp_td_start_ready(&twin, true);
    enqueue_spans(td, path, "L", 6, 400);
    stops_t done = {path, "L", 6};
    fp_td_wait_until(td, stops_reached, &done, 180000, "the limited jobs finish");
    assert_all_ran_once(td, path, 6);
    fp_ts_spans_t s = fp_ts_spans_read(path, "L");
    printf("# concurrency = 1 over two daemons: at most %lld ran at once\n", s.max_overlap);
    assert_int_equal(s.max_overlap, 1);
    const char *metric = "forkpool_jobs_limited_total{type=\"span\",limit=\"concurrency\"}";
    double limited = fp_td_metric(td, metric) + fp_td_metric(&twin, metric);
    printf("# handed back by the concurrency limit: %.0f times\n", limited);
    assert_true(limited > 0);
    /* Every lease went with its job's outcome. */
    assert_int_equal(fp_td_qsql(td, "SELECT count(*) FROM kv WHERE space = 'limit:span'"), 0);
    stop(&twin);
    stop(td);
    fp_th_assert_no_sanitizer_report(twin.log);
}

static void test_rate_spaces_the_starts(void **state)
{
    fp_td_t *td = *state;
    char path[4200];
    snprintf(path, sizeof path, "%s/spans", td->dir);
    limits_config(td, "[limits.span]\nrate = \"5/s\"\n");
    fp_td_start_ready(td, true);
    double began = mono_s();
    enqueue_spans(td, path, "L", 20, 0);
    stops_t done = {path, "L", 20};
    fp_td_wait_until(td, stops_reached, &done, 180000, "20 rate-limited jobs finish");
    double took = mono_s() - began;
    fp_ts_spans_t s = fp_ts_spans_read(path, "L");
    printf("# 20 jobs at 5/s: %.2f s from the enqueue to the last stop, starts spanned %.2f s\n",
           took, (double)(s.last_start - s.first_start) / 1e9);
    assert_true(took >= 3.0);
    assert_all_ran_once(td, path, 20);
    assert_true(fp_td_metric(td, "forkpool_jobs_limited_total{type=\"span\",limit=\"rate\"}") > 0);
    stop(td);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_concurrency_one_across_two_daemons,
                                        fp_td_setup_sqlite, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_rate_spaces_the_starts, fp_td_setup_sqlite,
                                        fp_td_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
