/* test_it_run.c: the core path as a user meets it — a real redis-server, the
 * real forkpool binary: jobs in, children reused, bad payloads to the dead
 * stream, the held-jobs bound under a large backlog, and a TERM mid-run that
 * loses nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "redis_server.h"

#define QUEUE_KEY "fp:{default}:jobs"
#define DEAD_KEY "fp:{default}:dead"

typedef struct fixture_s {
    fp_th_redis_t redis;
    char *dir;
    char config[4096];
    char log[4096];
    char events_db[4096];
    int daemon;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    assert_int_equal(fp_th_redis_start(&f->redis, NULL), 0);
    /* Opens the test's own connection, which enqueue_many pipelines on. */
    redisReply *pong = fp_th_redis_cmd(&f->redis, "PING");
    assert_non_null(pong);
    freeReplyObject(pong);
    f->dir = fp_th_tmpdir();
    snprintf(f->config, sizeof f->config, "%s/forkpool.toml", f->dir);
    snprintf(f->log, sizeof f->log, "%s/forkpool.log", f->dir);
    snprintf(f->events_db, sizeof f->events_db, "%s/events.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    fp_th_kill(f->daemon);
    fp_th_assert_no_sanitizer_report(f->log);
    fp_th_redis_stop(&f->redis);
    fp_th_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void write_config(fixture_t *f, int children, int prefetch, const char *log_level)
{
    char text[8192];
    snprintf(text, sizeof text,
             "[daemon]\nname = \"test-consumer\"\nlog_level = \"%s\"\nshutdown_timeout = \"20s\"\n"
             "[redis]\nurl = \"%s\"\n"
             "[pool]\nchildren = %d\nprefetch = %d\n"
             "[health]\nlisten = \"\"\n"
             "[handlers.record_event]\ndatabase = \"%s\"\n",
             log_level, fp_th_redis_url(&f->redis), children, prefetch, f->events_db);
    assert_int_equal(fp_th_write_file(f->config, text, strlen(text)), 0);
}

/* Enqueues count jobs made by fmt(i) through one pipelined connection. The
 * format is a test's own literal, with two %d for the job's number. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void enqueue_many(fixture_t *f, int count, const char *fmt)
{
    char job[512];
    const int batch = 1000;
    for (int done = 0; done < count;) {
        int n = count - done < batch ? count - done : batch;
        for (int i = 0; i < n; i++) {
            snprintf(job, sizeof job, fmt, done + i, done + i);
            redisAppendCommand(f->redis.ctx, "XADD %s * job %s", QUEUE_KEY, job);
        }
        for (int i = 0; i < n; i++) {
            redisReply *reply = NULL;
            assert_int_equal(redisGetReply(f->redis.ctx, (void **)&reply), REDIS_OK);
            assert_int_equal(reply->type, REDIS_REPLY_STRING);
            freeReplyObject(reply);
        }
        done += n;
    }
}
#pragma GCC diagnostic pop

static void enqueue_raw(fixture_t *f, const char *payload, size_t len)
{
    const char *argv[] = {"XADD", QUEUE_KEY, "*", "job", payload};
    size_t lens[] = {4, strlen(QUEUE_KEY), 1, 3, len};
    redisReply *reply = fp_th_redis_cmdv(&f->redis, 5, argv, lens);
    assert_non_null(reply);
    assert_int_equal(reply->type, REDIS_REPLY_STRING);
    freeReplyObject(reply);
}

static void start_daemon(fixture_t *f, bool burst)
{
    const char *argv[] = {fp_th_env("FORKPOOL_BIN"), "run", "-c", f->config,
                          burst ? "--burst" : NULL, NULL};
    /* No ASan quarantine: its fill-up would look like growth in the RSS check. */
    static const char *const env[] = {
        "ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:quarantine_size_mb=0", NULL};
    f->daemon = fp_th_spawn(argv, env, f->log);
    assert_true(f->daemon > 0);
}

static int wait_daemon(fixture_t *f, int timeout_ms)
{
    int status = fp_th_wait(f->daemon, timeout_ms);
    if (status == -ETIMEDOUT) {
        char *log = fp_th_read_file(f->log, NULL);
        fail_msg("daemon did not exit in time; log:\n%s", log ? log : "");
    }
    f->daemon = 0;
    return status;
}

static long long count_in_log(const fixture_t *f, const char *needle)
{
    char *text = fp_th_read_file(f->log, NULL);
    long long n = 0;
    for (const char *p = text; p != NULL && (p = strstr(p, needle)) != NULL; p++)
        n++;
    free(text);
    return n;
}

/* The number in the "stopped: N jobs done" line the daemon logs at exit. */
static long long jobs_done_from_log(const fixture_t *f)
{
    char *text = fp_th_read_file(f->log, NULL);
    const char *hit = text ? strstr(text, "stopped: ") : NULL;
    long long n = hit ? atoll(hit + strlen("stopped: ")) : -1;
    free(text);
    return n;
}

static long long pending(fixture_t *f)
{
    redisReply *r = fp_th_redis_cmd(&f->redis, "XPENDING %s forkpool", QUEUE_KEY);
    assert_non_null(r);
    long long n = r->type == REDIS_REPLY_ARRAY && r->elements > 0 ? r->element[0]->integer : -1;
    freeReplyObject(r);
    return n;
}

static long long sql_count(const fixture_t *f, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(f->events_db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* 10,000 jobs through 4 children: the 4 children forked at start run all of
 * them — no fork per job, no replacement. */
static void test_children_are_reused_for_every_job(void **state)
{
    fixture_t *f = *state;
    write_config(f, 4, 0, "debug");
    enqueue_many(f, 10000, "{\"type\":\"echo\",\"args\":{\"n\":%d},\"id\":\"job-%d\"}");
    start_daemon(f, true);
    assert_int_equal(wait_daemon(f, 120000), 0);
    assert_int_equal(jobs_done_from_log(f), 10000);
    assert_int_equal(count_in_log(f, "spawned (pid"), 4);
    assert_int_equal(count_in_log(f, " ready (pid"), 4);
    assert_int_equal(fp_th_redis_int(&f->redis, "XLEN %s", QUEUE_KEY), 0);
    assert_int_equal(pending(f), 0);
    assert_int_equal(fp_th_redis_int(&f->redis, "XLEN %s", DEAD_KEY), 0);
}

/* record_event writes one row per job through each child's own connection. */
static void test_record_event_rows(void **state)
{
    fixture_t *f = *state;
    write_config(f, 4, 0, "info");
    enqueue_many(f, 1000,
                 "{\"type\":\"record_event\",\"args\":{\"action\":\"login\",\"timestamp\":"
                 "\"2026-11-22T10:00:00Z\",\"org_id\":\"o1\",\"user_id\":\"u%d\","
                 "\"object_id\":\"obj-%d\",\"object_type\":\"session\"}}");
    start_daemon(f, true);
    assert_int_equal(wait_daemon(f, 120000), 0);
    assert_int_equal(sql_count(f, "SELECT count(*) FROM events"), 1000);
    assert_int_equal(sql_count(f, "SELECT count(DISTINCT object_id) FROM events"), 1000);
    assert_int_equal(sql_count(f, "SELECT count(*) FROM events WHERE action = 'login'"), 1000);
}

static bool dead_has_reason(fixture_t *f, const char *reason)
{
    redisReply *r = fp_th_redis_cmd(&f->redis, "XRANGE %s - +", DEAD_KEY);
    bool found = false;
    for (size_t i = 0; r != NULL && i < r->elements && !found; i++) {
        redisReply *fields = r->element[i]->element[1];
        for (size_t k = 0; k + 1 < fields->elements; k += 2)
            if (strcmp(fields->element[k]->str, "error") == 0 &&
                strstr(fields->element[k + 1]->str, reason) != NULL)
                found = true;
    }
    freeReplyObject(r);
    return found;
}

/* Each kind of bad payload goes to the dead stream with its reason, is
 * acknowledged, and the good jobs around it still run. */
static void test_bad_payloads_go_to_dead(void **state)
{
    fixture_t *f = *state;
    write_config(f, 2, 0, "info");
    char *big = malloc(2 * 1024 * 1024);
    memset(big, ' ', 2 * 1024 * 1024);
    memcpy(big, "{\"type\":\"noop\",\"args\":\"", 23);
    memcpy(big + 2 * 1024 * 1024 - 2, "\"}", 2);
    const struct {
        const char *payload;
        size_t len;
        const char *reason;
    } cases[] = {
        {"this is not json", 16, "not JSON"},
        {"[1,2,3]", 7, "not a JSON object"},
        {"{\"args\":{}}", 11, "no \"type\""},
        {"{\"type\":\"\"}", 11, "\"type\" is empty"},
        {"{\"type\":\"no_such_handler\"}", 26, "unknown job type"},
        {big, 2 * 1024 * 1024, "max_job_bytes"},
    };
    enqueue_many(f, 10, "{\"type\":\"noop\",\"id\":\"a%d-%d\"}");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        enqueue_raw(f, cases[i].payload, cases[i].len);
    enqueue_many(f, 10, "{\"type\":\"noop\",\"id\":\"b%d-%d\"}");
    free(big);
    start_daemon(f, true);
    assert_int_equal(wait_daemon(f, 60000), 0);
    assert_int_equal(jobs_done_from_log(f), 20);
    assert_int_equal(fp_th_redis_int(&f->redis, "XLEN %s", DEAD_KEY), 6);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (!dead_has_reason(f, cases[i].reason))
            fail_msg("no dead entry with reason \"%s\"", cases[i].reason);
    assert_int_equal(fp_th_redis_int(&f->redis, "XLEN %s", QUEUE_KEY), 0);
    assert_int_equal(pending(f), 0);
}

typedef struct progress_s {
    fixture_t *f;
    long long below;
} progress_t;

static int queue_shorter_than(void *ctx)
{
    progress_t *p = ctx;
    long long n = fp_th_redis_int(&p->f->redis, "XLEN %s", QUEUE_KEY);
    return n >= 0 && n < p->below;
}

static long long rss_kb(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/statm", pid);
    char *text = fp_th_read_file(path, NULL);
    assert_non_null(text);
    long long pages = 0, resident = 0;
    sscanf(text, "%lld %lld", &pages, &resident);
    free(text);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* The largest "held=N" the daemon logged. */
static long long max_held(const fixture_t *f)
{
    char *text = fp_th_read_file(f->log, NULL);
    long long most = -1;
    for (const char *p = text; p != NULL && (p = strstr(p, "held=")) != NULL; p++) {
        long long n = atoll(p + 5);
        if (n > most)
            most = n;
    }
    free(text);
    return most;
}

/* With 100,000 jobs waiting, the supervisor holds at most children +
 * prefetch of them and its memory does not grow while it works through
 * the backlog; a TERM then stops it with nothing lost. */
static void test_backpressure_with_large_backlog(void **state)
{
    fixture_t *f = *state;
    const long long total = 100000;
    write_config(f, 4, 2, "debug");
    enqueue_many(f, (int)total, "{\"type\":\"sleep\",\"args\":{\"ms\":1},\"id\":\"%d-%d\"}");
    start_daemon(f, false);
    progress_t p = {f, total - 1000};
    assert_true(fp_th_wait_for(queue_shorter_than, &p, 120000));
    long long rss_early = rss_kb(f->daemon);
    p.below = total - 5000;
    assert_true(fp_th_wait_for(queue_shorter_than, &p, 120000));
    long long rss_late = rss_kb(f->daemon);
    kill(f->daemon, SIGTERM);
    assert_int_equal(wait_daemon(f, 60000), 0);

    long long held = max_held(f);
    assert_true(held > 0);
    assert_true(held <= 6);
    /* Flat: 4,000 more jobs went through without the supervisor growing. */
    if (rss_late > rss_early + 2048)
        fail_msg("supervisor RSS grew from %lld kB to %lld kB", rss_early, rss_late);
    /* Nothing lost: what ran plus what is left is what was enqueued. */
    long long left = fp_th_redis_int(&f->redis, "XLEN %s", QUEUE_KEY);
    assert_int_equal(jobs_done_from_log(f) + left, total);
    assert_int_equal(pending(f), 0);
}

/* TERM while jobs run: running jobs finish and are acknowledged, held ones
 * go back, the daemon exits 0; a second run finishes the rest, and every
 * job ran at least once. */
static void test_term_mid_run_loses_nothing(void **state)
{
    fixture_t *f = *state;
    const int total = 2000;
    write_config(f, 4, 4, "info");
    enqueue_many(f, total,
                 "{\"type\":\"record_event\",\"args\":{\"action\":\"a\",\"object_id\":\"id-%d\","
                 "\"user_id\":\"u%d\"}}");
    /* A few slow jobs keep children busy at the moment TERM arrives. */
    enqueue_many(f, 8, "{\"type\":\"sleep\",\"args\":{\"ms\":300},\"id\":\"slow-%d-%d\"}");
    enqueue_many(f, total,
                 "{\"type\":\"record_event\",\"args\":{\"action\":\"b\",\"object_id\":\"id2-%d\","
                 "\"user_id\":\"u%d\"}}");
    start_daemon(f, false);
    progress_t p = {f, 2 * total + 8 - 1000};
    assert_true(fp_th_wait_for(queue_shorter_than, &p, 120000));
    kill(f->daemon, SIGTERM);
    assert_int_equal(wait_daemon(f, 60000), 0);
    assert_int_equal(pending(f), 0);
    long long first = jobs_done_from_log(f);
    long long left = fp_th_redis_int(&f->redis, "XLEN %s", QUEUE_KEY);
    assert_true(first > 0);
    assert_int_equal(first + left, 2 * total + 8);

    start_daemon(f, true);
    assert_int_equal(wait_daemon(f, 120000), 0);
    assert_int_equal(fp_th_redis_int(&f->redis, "XLEN %s", QUEUE_KEY), 0);
    assert_int_equal(sql_count(f, "SELECT count(DISTINCT object_id) FROM events"), 2 * total);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_children_are_reused_for_every_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_event_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_payloads_go_to_dead, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backpressure_with_large_backlog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_term_mid_run_loses_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
