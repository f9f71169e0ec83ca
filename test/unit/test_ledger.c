/* test_ledger.c: lib/ledger/ledger.c, the writer thread, against real SQLite files
 * in a temporary directory. It checks that every pushed row arrives with its
 * fields (NULLs too), that a backlog is written in few transactions, that
 * capacity only signals backpressure and never drops a row, that pruning
 * removes old rows only, that open errors come back from fp_ledger_open
 * itself, that the database fds are CLOEXEC, and that children forked by
 * fp_spawn while the writer is busy can open SQLite (the fork lock). Waits
 * poll with deadlines; the assertions are on counts, never on elapsed time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "base/log.h"
#include "handlers/handlers.h"
#include "harness.h"
#include "ledger/ledger.h"
#include "base/os.h"
#include "pool/spawn.h"

#define DEADLINE_MS 20000
#define HOUR_MS (3600LL * 1000)

typedef struct fixture_s {
    char *dir;
    char path[PATH_MAX];
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->dir = fp_th_tmpdir();
    assert_non_null(f->dir);
    snprintf(f->path, sizeof f->path, "%s/ledger.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    fp_th_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* ---- helpers ----------------------------------------------------------------- */

static fp_ledger_row_t sample_row(int i, int64_t finished_at_ms)
{
    static char entry[64], job[64];
    snprintf(entry, sizeof entry, "%lld-%d", (long long)finished_at_ms - 50, i);
    snprintf(job, sizeof job, "job-%d", i);
    fp_ledger_row_t r = {
        .queue = "default",
        .entry_id = entry,
        .job_id = i % 2 == 0 ? job : NULL,
        .type = i % 3 == 0 ? "mail" : "noop",
        .outcome = i % 5 == 0 ? "failed" : "ok",
        .error = i % 5 == 0 ? "boom" : NULL,
        .attempt = 1 + i % 4,
        .enqueued_at_ms = finished_at_ms - 50,
        .started_at_ms = finished_at_ms - 20,
        .finished_at_ms = finished_at_ms,
        .duration_us = 20000 + i,
        .pid = 1000 + i,
    };
    return r;
}

static sqlite3 *open_db(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    return db;
}

static int64_t query_int(const char *path, const char *sql)
{
    sqlite3 *db = open_db(path);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static long long now_ms(void)
{
    return (long long)fp_os_now_ms();
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls until the ledger has committed want rows; fails at the deadline. */
static void wait_written(fp_ledger_t *l, uint64_t want)
{
    long long deadline = now_ms() + DEADLINE_MS;
    fp_ledger_stats_t s;
    for (fp_ledger_stats(l, &s); s.written < want; fp_ledger_stats(l, &s)) {
        if (now_ms() > deadline)
            fail_msg("only %llu of %llu rows written", (unsigned long long)s.written,
                     (unsigned long long)want);
        sleep_ms(2);
    }
}

/* ---- tests ------------------------------------------------------------------- */

static void test_close_writes_every_row(void **state)
{
    fixture_t *f = *state;
    fp_ledger_t *l = NULL;
    fp_err_t err;
    assert_int_equal(fp_ledger_open(f->path, 7 * 24 * HOUR_MS, 100000, &l, &err), 0);
    int64_t base = fp_os_unix_ms();
    for (int i = 0; i < 1000; i++) {
        fp_ledger_row_t r = sample_row(i, base + i);
        assert_true(fp_ledger_push(l, &r));
    }
    fp_ledger_stats_t s;
    fp_ledger_stats(l, &s);
    assert_int_equal(s.pushed, 1000);
    fp_ledger_close(l);

    assert_int_equal(query_int(f->path, "SELECT count(*) FROM jobs"), 1000);
    assert_int_equal(query_int(f->path, "SELECT count(*) FROM jobs WHERE outcome = 'failed'"),
                     200);
    /* Row 7: odd, so no job id; not a multiple of 5, so no error. */
    sqlite3 *db = open_db(f->path);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT queue, entry_id, job_id, type, outcome, attempt,"
                                        " enqueued_at, started_at, finished_at, duration_us, pid,"
                                        " error FROM jobs WHERE pid = 1007",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    char entry[64];
    snprintf(entry, sizeof entry, "%lld-7", (long long)(base + 7 - 50));
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "default");
    assert_string_equal((const char *)sqlite3_column_text(st, 1), entry);
    assert_int_equal(sqlite3_column_type(st, 2), SQLITE_NULL);
    assert_string_equal((const char *)sqlite3_column_text(st, 3), "noop");
    assert_string_equal((const char *)sqlite3_column_text(st, 4), "ok");
    assert_int_equal(sqlite3_column_int64(st, 5), 4);
    assert_int_equal(sqlite3_column_int64(st, 6), base + 7 - 50);
    assert_int_equal(sqlite3_column_int64(st, 7), base + 7 - 20);
    assert_int_equal(sqlite3_column_int64(st, 8), base + 7);
    assert_int_equal(sqlite3_column_int64(st, 9), 20007);
    assert_int_equal(sqlite3_column_type(st, 11), SQLITE_NULL);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_backlog_is_written_in_few_transactions(void **state)
{
    fixture_t *f = *state;
    fp_ledger_t *l = NULL;
    assert_int_equal(fp_ledger_open(f->path, 0, 1000000, &l, NULL), 0);
    fp__ledger_hold(l, true);
    int64_t base = fp_os_unix_ms();
    const int rows = 10000;
    for (int i = 0; i < rows; i++) {
        fp_ledger_row_t r = sample_row(i, base);
        assert_true(fp_ledger_push(l, &r));
    }
    assert_int_equal(fp_ledger_backlog(l), rows);
    fp__ledger_hold(l, false);
    wait_written(l, (uint64_t)rows);
    fp_ledger_stats_t s;
    fp_ledger_stats(l, &s);
    assert_int_equal(fp_ledger_backlog(l), 0);
    assert_int_equal(s.transactions, (rows + FP_LEDGER_BATCH_MAX - 1) / FP_LEDGER_BATCH_MAX);
    assert_int_equal(s.write_errors, 0);
    fp_ledger_close(l);
    assert_int_equal(query_int(f->path, "SELECT count(*) FROM jobs"), rows);
}

static void test_capacity_pauses_but_drops_nothing(void **state)
{
    fixture_t *f = *state;
    fp_ledger_t *l = NULL;
    const size_t capacity = 100;
    assert_int_equal(fp_ledger_open(f->path, 0, capacity, &l, NULL), 0);
    fp__ledger_hold(l, true);
    int64_t base = fp_os_unix_ms();
    for (size_t i = 0; i < capacity; i++) {
        fp_ledger_row_t r = sample_row((int)i, base);
        assert_true(fp_ledger_push(l, &r));
    }
    /* Full: push answers "pause", and still keeps the row. */
    for (int i = 0; i < 3; i++) {
        fp_ledger_row_t r = sample_row(1000 + i, base);
        assert_false(fp_ledger_push(l, &r));
    }
    assert_int_equal(fp_ledger_backlog(l), capacity + 3);
    fp__ledger_hold(l, false);
    wait_written(l, capacity + 3);
    assert_int_equal(fp_ledger_backlog(l), 0);
    fp_ledger_row_t r = sample_row(2000, base);
    assert_true(fp_ledger_push(l, &r));
    fp_ledger_stats_t s;
    fp_ledger_stats(l, &s);
    assert_int_equal(s.lost, 0);
    fp_ledger_close(l);
    assert_int_equal(query_int(f->path, "SELECT count(*) FROM jobs"), capacity + 4);
}

/* The ledger's directory swapped for a plain file: opening anything under it
 * fails with ENOTDIR, which root cannot bypass (chmod would not stop it). */
static void break_dir(const char *dir, const char *aside)
{
    assert_int_equal(rename(dir, aside), 0);
    assert_int_equal(fp_th_write_file(dir, "x", 1), 0);
}

static void mend_dir(const char *dir, const char *aside)
{
    assert_int_equal(unlink(dir), 0);
    assert_int_equal(rename(aside, dir), 0);
}

static void push_rows(fp_ledger_t *l, int from, int n)
{
    int64_t base = fp_os_unix_ms();
    for (int i = from; i < from + n; i++) {
        fp_ledger_row_t r = sample_row(i, base);
        assert_true(fp_ledger_push(l, &r));
    }
}

/* Polls until the writer has seen a failing write; fails at the deadline. */
static void wait_write_error(fp_ledger_t *l)
{
    long long deadline = now_ms() + DEADLINE_MS;
    fp_ledger_stats_t s;
    for (fp_ledger_stats(l, &s); s.write_errors == 0; fp_ledger_stats(l, &s)) {
        if (now_ms() > deadline)
            fail_msg("no write error while the ledger's directory is a file (%llu rows written)",
                     (unsigned long long)s.written);
        sleep_ms(2);
    }
}

/* A ledger in a directory of its own (dir), which the test may set aside. */
static fp_ledger_t *open_in_subdir(const fixture_t *f, size_t capacity, char *dir, char *aside,
                                   char *path)
{
    snprintf(dir, PATH_MAX, "%s/sub", f->dir);
    snprintf(aside, PATH_MAX, "%s/sub.aside", f->dir);
    snprintf(path, PATH_MAX, "%s/sub/ledger.db", f->dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    fp_ledger_t *l = NULL;
    assert_int_equal(fp_ledger_open(path, 0, capacity, &l, NULL), 0);
    return l;
}

/* Once the directory is back: want rows committed, the writer healthy again,
 * dropped rows counted as such and none lost; the file then holds in_file. */
static void check_recovered(fp_ledger_t *l, const char *path, uint64_t want, uint64_t dropped,
                            int64_t in_file)
{
    wait_written(l, want);
    assert_false(fp_ledger_failing(l));
    fp_ledger_stats_t s;
    fp_ledger_stats(l, &s);
    assert_int_equal(s.dropped, dropped);
    assert_int_equal(s.lost, 0);
    fp_ledger_close(l);
    assert_int_equal(query_int(path, "SELECT count(*) FROM jobs"), in_file);
}

/* pause: rows pushed while the file cannot be written wait, none is lost,
 * and the writer reopens the file once it can. */
static void test_unwritable_directory_fails_then_recovers(void **state)
{
    fixture_t *f = *state;
    char dir[PATH_MAX], aside[PATH_MAX], path[PATH_MAX];
    fp_ledger_t *l = open_in_subdir(f, 1000, dir, aside, path);
    push_rows(l, 0, 10);
    wait_written(l, 10);
    assert_false(fp_ledger_failing(l));

    break_dir(dir, aside);
    push_rows(l, 10, 10);
    wait_write_error(l);
    assert_true(fp_ledger_failing(l));
    fp_ledger_stats_t s;
    fp_ledger_stats(l, &s);
    assert_int_equal(s.written, 10);
    assert_int_equal(fp_ledger_backlog(l), 10);

    mend_dir(dir, aside);
    check_recovered(l, path, 20, 0, 20);
}

/* A ledger file deleted under a running writer (rm, or a clean-up job): the
 * writer starts a new file at the path rather than writing into the
 * unlinked inode, where rows would vanish. */
static void test_removed_file_is_recreated(void **state)
{
    fixture_t *f = *state;
    fp_ledger_t *l = NULL;
    assert_int_equal(fp_ledger_open(f->path, 0, 1000, &l, NULL), 0);
    push_rows(l, 0, 10);
    wait_written(l, 10);
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char p[PATH_MAX + 8];
        snprintf(p, sizeof p, "%s%s", f->path, suffixes[i]);
        unlink(p);
    }
    push_rows(l, 10, 10);
    wait_written(l, 20);
    fp_ledger_close(l);
    assert_int_equal(access(f->path, F_OK), 0);
    assert_int_equal(query_int(f->path, "SELECT count(*) FROM jobs"), 10);
}

/* skip: a failing batch is dropped and counted, push never asks for a
 * pause, and rows flow into the file again once it can be written. */
static void test_skip_drops_rows_while_failing(void **state)
{
    fixture_t *f = *state;
    char dir[PATH_MAX], aside[PATH_MAX], path[PATH_MAX];
    fp_ledger_t *l = open_in_subdir(f, 5, dir, aside, path);
    fp_ledger_set_skip(l, true);
    break_dir(dir, aside);
    push_rows(l, 0, 20); /* past the capacity of 5: dropped, never "pause" */
    long long deadline = now_ms() + DEADLINE_MS;
    fp_ledger_stats_t s;
    for (fp_ledger_stats(l, &s); s.dropped < 20; fp_ledger_stats(l, &s)) {
        if (now_ms() > deadline)
            fail_msg("only %llu of 20 rows dropped", (unsigned long long)s.dropped);
        sleep_ms(2);
    }
    assert_true(fp_ledger_failing(l));
    assert_int_equal(fp_ledger_backlog(l), 0);

    mend_dir(dir, aside);
    push_rows(l, 20, 3);
    check_recovered(l, path, 3, 20, 3);
}

static void test_pruning_deletes_old_rows_only(void **state)
{
    fixture_t *f = *state;
    fp_ledger_t *l = NULL;
    int64_t now = fp_os_unix_ms();
    /* No retention: the rows go in as they are. */
    assert_int_equal(fp_ledger_open(f->path, 0, 100000, &l, NULL), 0);
    const int old_rows = 2 * FP_LEDGER_PRUNE_CHUNK + 500; /* several chunks */
    for (int i = 0; i < old_rows; i++) {
        fp_ledger_row_t r = sample_row(i, now - 2 * HOUR_MS - i);
        fp_ledger_push(l, &r);
    }
    for (int i = 0; i < 15; i++) {
        fp_ledger_row_t r = sample_row(100000 + i, now - (i % 3) * 20 * 60 * 1000);
        fp_ledger_push(l, &r);
    }
    fp_ledger_close(l);
    assert_int_equal(query_int(f->path, "SELECT count(*) FROM jobs"), old_rows + 15);

    /* One hour's retention: the writer prunes when it starts. */
    assert_int_equal(fp_ledger_open(f->path, HOUR_MS, 100000, &l, NULL), 0);
    long long deadline = now_ms() + DEADLINE_MS;
    fp_ledger_stats_t s;
    for (fp_ledger_stats(l, &s); s.pruned < (uint64_t)old_rows; fp_ledger_stats(l, &s)) {
        if (now_ms() > deadline)
            fail_msg("pruned %llu of %d", (unsigned long long)s.pruned, old_rows);
        sleep_ms(2);
    }
    fp_ledger_close(l);
    assert_int_equal(s.pruned, old_rows);
    assert_int_equal(query_int(f->path, "SELECT count(*) FROM jobs"), 15);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM jobs WHERE finished_at < %lld",
             (long long)(now - HOUR_MS));
    assert_int_equal(query_int(f->path, sql), 0);
}

static void test_open_errors_are_synchronous(void **state)
{
    fixture_t *f = *state;
    fp_ledger_t *l = (fp_ledger_t *)&l; /* must come back NULL */
    fp_err_t err;
    char path[PATH_MAX + 32];

    /* A directory component that is a file: SQLite cannot open. */
    snprintf(path, sizeof path, "%s/file", f->dir);
    assert_int_equal(fp_th_write_file(path, "x", 1), 0);
    snprintf(path, sizeof path, "%s/file/ledger.db", f->dir);
    fp_err_clear(&err);
    assert_int_equal(fp_ledger_open(path, HOUR_MS, 10, &l, &err), FP_ECONFIG);
    assert_null(l);
    assert_non_null(strstr(err.msg, path));

    /* A file that is not a database: the schema step fails. */
    char junk[4096];
    memset(junk, 'j', sizeof junk);
    assert_int_equal(fp_th_write_file(f->path, junk, sizeof junk), 0);
    fp_err_clear(&err);
    assert_int_equal(fp_ledger_open(f->path, HOUR_MS, 10, &l, &err), FP_ECONFIG);
    assert_null(l);
    assert_non_null(strstr(err.msg, "not a database"));

    /* A jobs table that is someone else's. */
    unlink(f->path);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE jobs (x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    fp_err_clear(&err);
    assert_int_equal(fp_ledger_open(f->path, HOUR_MS, 10, &l, &err), FP_ECONFIG);
    assert_null(l);

    assert_int_equal(fp_ledger_open("", HOUR_MS, 10, &l, &err), FP_ECONFIG);
    fp_ledger_close(NULL);
}

static void test_database_fds_are_cloexec(void **state)
{
    fixture_t *f = *state;
    fp_ledger_t *l = NULL;
    assert_int_equal(fp_ledger_open(f->path, HOUR_MS, 100, &l, NULL), 0);
    fp_ledger_row_t r = sample_row(1, fp_os_unix_ms());
    fp_ledger_push(l, &r);
    wait_written(l, 1); /* the -wal and -shm files exist now */

    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    struct dirent *e;
    int seen = 0;
    while ((e = readdir(d)) != NULL) {
        char link[300], target[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        if (strncmp(target, f->path, strlen(f->path)) != 0)
            continue;
        int fl = fcntl(atoi(e->d_name), F_GETFD);
        if (fl < 0 || (fl & FD_CLOEXEC) == 0)
            fail_msg("%s (fd %s) is not CLOEXEC", target, e->d_name);
        seen++;
    }
    closedir(d);
    fp_ledger_close(l);
    assert_true(seen >= 3); /* database, -wal, -shm */
}

/* ---- the fork lock ------------------------------------------------------------ */

static char g_probe_dir[PATH_MAX];

/* Runs in each forked child before "ready": opens a database of its own and
 * writes to it. A child that inherited a mutex the ledger thread held inside
 * SQLite (or the allocator) would hang here and never say ready. */
static int probe_child_init(const fp_toml_node_t *table, void **state, fp_err_t *err)
{
    (void)table;
    *state = NULL;
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/child-%d.db", g_probe_dir, (int)getpid());
    sqlite3 *db = NULL;
    int rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "CREATE TABLE t (x); INSERT INTO t VALUES (1);", NULL, NULL, NULL);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : fp_err_set(err, FP_ECONFIG, "probe database failed");
}

static void probe_run(void *state, const cJSON *job, const cJSON *args, fp_handler_result_t *res)
{
    (void)state, (void)job, (void)args, (void)res;
}

static const fp_handler_t handler_probe = {"probe", probe_child_init, probe_run, NULL};

/* True when a whole line starting with {"op":"ready" arrives on fd before
 * the deadline. */
static bool read_ready(int fd, long long deadline)
{
    char buf[512];
    size_t len = 0;
    while (now_ms() < deadline && len < sizeof buf - 1) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n == 0)
            return false;
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            return false;
        }
        len += (size_t)n;
        buf[len] = '\0';
        if (strchr(buf, '\n') != NULL)
            return strstr(buf, "\"ready\"") != NULL;
    }
    return false;
}

/* Reaps pid before the deadline, else kills it; returns the wait status or -1. */
static int reap(pid_t pid, long long deadline)
{
    int st;
    while (now_ms() < deadline) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return st;
        if (r < 0 && errno != EINTR)
            return -1;
        sleep_ms(2);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

static void test_fork_while_writing_children_open_sqlite(void **state)
{
    fixture_t *f = *state;
    snprintf(g_probe_dir, sizeof g_probe_dir, "%s", f->dir);
    fp_log_setup(FP_LOG_WARN, FP_LOG_TEXT, NULL);

    fp_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.pool.runtime = FP_RUNTIME_NATIVE;
    cfg.limits.max_job_bytes = 1 << 20;
    cfg.daemon.log_format = FP_LOG_TEXT;
    fp_registry_t reg;
    memset(&reg, 0, sizeof reg);
    assert_int_equal(fp_registry_add(&reg, &handler_probe, NULL), 0);
    fp_child_spec_t spec = {.child_id = 1, .cfg = &cfg, .handlers = &reg};

    fp_ledger_t *l = NULL;
    assert_int_equal(fp_ledger_open(f->path, HOUR_MS, 1000000, &l, NULL), 0);
    int64_t base = fp_os_unix_ms();
    const int forks = 30, rows_per_fork = 3000;
    int ready = 0;
    for (int k = 0; k < forks; k++) {
        /* Keep the writer inside SQLite while the fork happens. */
        for (int i = 0; i < rows_per_fork; i++) {
            fp_ledger_row_t r = sample_row(k * rows_per_fork + i, base);
            fp_ledger_push(l, &r);
        }
        pid_t pid;
        int fd;
        fp_err_t err;
        assert_int_equal(fp_spawn(&spec, &pid, &fd, &err), 0);
        long long deadline = now_ms() + DEADLINE_MS;
        if (read_ready(fd, deadline))
            ready++;
        close(fd); /* EOF: the child exits */
        int st = reap(pid, deadline);
        if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail_msg("child %d of %d: hung or failed (status %d)", k + 1, forks, st);
    }
    fp_ledger_close(l);
    assert_int_equal(ready, forks);
    assert_int_equal(query_int(f->path, "SELECT count(*) FROM jobs"), forks * rows_per_fork);
    fp_log_close();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_close_writes_every_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backlog_is_written_in_few_transactions, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_capacity_pauses_but_drops_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwritable_directory_fails_then_recovers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_removed_file_is_recreated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_skip_drops_rows_while_failing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pruning_deletes_old_rows_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors_are_synchronous, setup, teardown),
        cmocka_unit_test_setup_teardown(test_database_fds_are_cloexec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fork_while_writing_children_open_sqlite, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
