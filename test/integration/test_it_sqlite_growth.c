/* test_it_sqlite_growth.c: the embedded queue does not grow without bound
 * (issue 19, item 4). The queue file: the pages of rows run and deleted go
 * to SQLite's free list and are reused by the next rows, so running as
 * many jobs again leaves the file about the size it was. The supervisor: a
 * large backlog in the file stays in the file (a pull takes at most the
 * room, the rest is never read), so its RSS stays flat while it works
 * through thousands of jobs, as test_it_run's backlog test checks on Redis
 * (FP_BACKLOG_JOBS sets the backlog: at least 10,000).
 * No timing is asserted; the figures are printed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "daemon_sqlite.h"

#define NOOP_JOB "{\"type\":\"noop\",\"args\":{\"n\":%d,\"pad\":\"%d-growth\"}}"

static long long file_bytes(const fp_td_t *td, const char *suffix)
{
    char path[4300], db[4200];
    fp_td_queue_path(td, db, sizeof db);
    snprintf(path, sizeof path, "%s%s", db, suffix);
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

/* The queue file with its -wal, after a --burst run of count jobs. */
static long long run_through(fp_td_t *td, int count)
{
    fp_td_sqlite_enqueue(td, "default", count, NOOP_JOB, 0);
    fp_td_start(td, true);
    assert_int_equal(fp_td_wait(td, 180000), 0);
    assert_int_equal(fp_td_qsql(td, "SELECT count(*) FROM jobs"), 0);
    return file_bytes(td, "") + file_bytes(td, "-wal");
}

/* 10,000 jobs through the file, then 10,000 more: the second batch's rows
 * take the pages the first one's freed, so the file stays within a quarter
 * of its size (twice the size if freed pages were never reused). */
static void test_file_stays_the_size_of_its_peak(void **state)
{
    fp_td_t *td = *state;
    fp_td_config_sqlite(td, NULL, "[pool]\nchildren = 2\n");
    long long first = run_through(td, 10000);
    long long free_pages = fp_td_qsql(td, "SELECT freelist_count FROM pragma_freelist_count");
    long long second = run_through(td, 10000);
    long long third = run_through(td, 10000);
    print_message("queue file after 10,000 jobs: %lld bytes (%lld free pages), after 20,000: "
                  "%lld, after 30,000: %lld\n",
                  first, free_pages, second, third);
    assert_true(free_pages > 0);
    if (second > first + first / 4 || third > first + first / 4)
        fail_msg("the file grew from %lld to %lld then %lld bytes", first, second, third);
}

static bool rows_below(fp_td_t *td, void *arg)
{
    long long n = fp_td_qsql(td, "SELECT count(*) FROM jobs");
    return n >= 0 && n < *(long long *)arg;
}

static long long rss_kb(int pid)
{
    long kb = fp_th_proc_status(pid, "VmRSS:");
    assert_true(kb > 0);
    return kb;
}

/* FP_BACKLOG_JOBS overrides the backlog's size. */
static long long backlog_jobs(void)
{
    const char *v = getenv("FP_BACKLOG_JOBS");
    return v != NULL && atoll(v) >= 10000 ? atoll(v) : 1000000;
}

/* 1,000,000 jobs waiting in the file (issue 19's figure; ~25 s in a Debug
 * ASan build, most of it adding them): the supervisor's RSS after 1,000 of
 * them run and after 5,000 differ by far less than the backlog could take
 * (~60 bytes of payload a row: 60 MB as text alone); the 4 MB bound leaves
 * room for SQLite's page cache (2 MB by default) filling meanwhile. */
static void test_large_backlog_keeps_supervisor_flat(void **state)
{
    fp_td_t *td = *state;
    const long long total = backlog_jobs();
    fp_td_config_sqlite(td, NULL, "[pool]\nchildren = 4\nprefetch = 2\n");
    fp_td_sqlite_enqueue(td, "default", (int)total, NOOP_JOB, 0);
    fp_td_start(td, false);
    long long below = total - 1000;
    fp_td_wait_until(td, rows_below, &below, 120000, "1,000 jobs done");
    long long rss_early = rss_kb(td->pid);
    below = total - 5000;
    fp_td_wait_until(td, rows_below, &below, 120000, "5,000 jobs done");
    long long rss_late = rss_kb(td->pid);
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 60000), 0);
    print_message("backlog %lld jobs: supervisor VmRSS %lld kB after 1,000 done, %lld kB after "
                  "5,000\n",
                  total, rss_early, rss_late);
    if (rss_late > rss_early + 4096)
        fail_msg("supervisor RSS grew from %lld kB to %lld kB", rss_early, rss_late);
    /* Nothing lost: what ran plus what is left is the backlog. */
    assert_int_equal(fp_td_jobs_done(td) + fp_td_qsql(td, "SELECT count(*) FROM jobs"), total);
    assert_int_equal(fp_td_qsql(td, "SELECT count(*) FROM jobs WHERE owner IS NOT NULL"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_stays_the_size_of_its_peak, fp_td_setup_sqlite,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_large_backlog_keeps_supervisor_flat,
                                        fp_td_setup_sqlite, fp_td_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
