/* test_it_sqlite_sched.c: [[schedule]] and unique jobs on the embedded queue
 * (issue 19), with the real binary and no redis-server: two daemons on one
 * file fire each tick of an `every = "1s"` schedule exactly once (ids
 * distinct, ticks consecutive) and `forkpool schedule list` shows the
 * recorded tick; a schedule whose record is hours old catches up by its
 * missed policy; `forkpool enqueue --unique` on the file refuses a
 * duplicate while the first job waits and the daemon's success releases
 * the key; dead releases, a retry keeps; "until": "start" releases while
 * the job still runs. Waits are conditions, never durations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "daemon_sqlite.h"
#include "unique_cli.h"
#include "sqlq/kv.h"
#include "sqlq/store.h"
#include "sqlq/unique.h"

#define HOUR_MS (3600LL * 1000)
#define MAX_TICKS 1024

static void stop(fp_td_t *td)
{
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 60000), 0);
}

static bool sched_dead_at_least(fp_td_t *td, void *arg)
{
    return fp_td_qsql(td, "SELECT count(*) FROM dead WHERE json_extract(payload, '$.id') LIKE "
                          "'sched:%%'") >= *(long long *)arg;
}

/* The tick seconds of every job of schedule `name`, dead or waiting, in
 * order; their count. */
static size_t ticks_of(const fp_td_t *td, const char *name, long long *secs)
{
    char path[4200], sql[512];
    fp_td_queue_path(td, path, sizeof path);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    snprintf(sql, sizeof sql,
             "SELECT CAST(strftime('%%s', substr(id, length('sched:%s:') + 1, 19)) AS INTEGER)"
             " FROM (SELECT json_extract(payload, '$.id') AS id FROM dead UNION ALL"
             " SELECT json_extract(payload, '$.id') FROM jobs) WHERE id LIKE 'sched:%s:%%'"
             " ORDER BY 1", name, name);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    size_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW && n < MAX_TICKS)
        secs[n++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* The recorded tick of schedule name on the default queue; -1 when none. */
static long long recorded(const fp_td_t *td, const char *name)
{
    return fp_td_qsql(td, "SELECT coalesce(max(CAST(value AS INTEGER)), -1) FROM kv WHERE "
                          "space = 'schedule:default' AND key = '%s'", name);
}

/* forkpool ARGS... -c CONFIG (NULL-terminated, at most 8): exit 0
 * asserted; its output into out. */
static void cli(const fp_td_t *td, char *out, size_t cap, ...)
{
    const char *argv[16] = {fp_th_env("FORKPOOL_BIN")};
    size_t n = 1;
    va_list ap;
    va_start(ap, cap);
    for (const char *a; n < 12 && (a = va_arg(ap, const char *)) != NULL;)
        argv[n++] = a;
    va_end(ap);
    argv[n++] = "-c";
    argv[n++] = td->config;
    argv[n] = NULL;
    fp_th_result_t r;
    assert_int_equal(fp_th_run(argv, NULL, NULL, 0, 60000, &r), 0);
    if (r.status != 0)
        fail_msg("%s exited %d: %s", argv[1], r.status, r.err);
    snprintf(out, cap, "%s", r.out);
    fp_th_result_free(&r);
}

static void test_two_daemons_fire_each_tick_once(void **state)
{
    fp_td_t *td = *state;
    fp_td_config_sqlite(td, NULL,
                        "[pool]\nchildren = 1\n"
                        "[[schedule]]\nname = \"tick\"\nevery = \"1s\"\n"
                        "type = \"scheduled_probe\"\nmissed = \"all\"\n");
    fp_td_start_ready(td, true);
    fp_td_t twin;
    fp_td_twin(td, &twin, "sched-b");
    fp_td_start_ready(&twin, true);
    long long want = 6;
    fp_td_wait_until(td, sched_dead_at_least, &want, 90000, "six scheduled jobs dead");
    stop(&twin);
    stop(td);
    fp_th_assert_no_sanitizer_report(twin.log);

    static long long secs[MAX_TICKS];
    size_t n = ticks_of(td, "tick", secs);
    assert_true(n >= 6);
    for (size_t i = 1; i < n; i++) {
        if (secs[i] == secs[i - 1])
            fail_msg("tick %lld enqueued twice", secs[i]);
        if (secs[i] != secs[i - 1] + 1)
            fail_msg("ticks %lld and %lld: %lld missing", secs[i - 1], secs[i],
                     secs[i] - secs[i - 1] - 1);
    }
    long long rec = recorded(td, "tick");
    assert_int_equal(rec / 1000, secs[n - 1]); /* the record is the newest tick fired */

    char out[4096], want_text[64];
    cli(td, out, sizeof out, "schedule", "list", "--json", NULL);
    snprintf(want_text, sizeof want_text, "\"last_ms\":%lld", rec);
    if (strstr(out, want_text) == NULL)
        fail_msg("schedule list: %s (want %s)", out, want_text);
    assert_non_null(strstr(out, "\"name\":\"tick\",\"every\":\"1s\""));
}

static bool record_moved(fp_td_t *td, void *arg)
{
    return recorded(td, "catchup") > *(long long *)arg;
}

/* Five hours of downtime, missed = "all": every one of the five fires. */
static void test_missed_after_downtime(void **state)
{
    fp_td_t *td = *state;
    fp_td_config_sqlite(td, NULL,
                        "[pool]\nchildren = 1\n"
                        "[[schedule]]\nname = \"catchup\"\nevery = \"1h\"\n"
                        "type = \"scheduled_probe\"\nmissed = \"all\"\n");
    long long before = fp_th_unix_ms() / HOUR_MS * HOUR_MS - 5 * HOUR_MS;
    char path[4200], value[64];
    fp_td_queue_path(td, path, sizeof path);
    fp_sqlq_t *q = NULL;
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_open(path, 0, &q, &err), 0);
    snprintf(value, sizeof value, "%lld every 3600000", before);
    assert_int_equal(fp_sqlq_kv_put(q, "schedule:default", "catchup", value, 0, &err), 0);
    fp_sqlq_close(q);
    fp_td_start_ready(td, true);
    fp_td_wait_until(td, record_moved, &before, 60000, "the schedule caught up");
    stop(td);
    static long long secs[MAX_TICKS];
    size_t n = ticks_of(td, "catchup", secs);
    assert_int_equal((long long)n, (recorded(td, "catchup") - before) / HOUR_MS);
    assert_true(n >= 5);
}

/* ---- unique jobs ---------------------------------------------------------- */

static long long key_count(fp_td_t *td, const char *key)
{
    return fp_td_qsql(td, "SELECT count(*) FROM kv WHERE space = 'unique:default' AND key = '%s'",
                      key);
}

static bool key_gone(fp_td_t *td, void *arg)
{
    return key_count(td, arg) == 0;
}

static bool default_empty(fp_td_t *td, void *arg)
{
    (void)arg;
    return fp_td_qsql(td, "SELECT count(*) FROM jobs WHERE queue = 'default'") == 0;
}

static void test_unique_enqueue_on_the_file(void **state)
{
    fp_td_t *td = *state;
    fp_td_config_sqlite(td, NULL, "[pool]\nchildren = 1\n");
    char line[256], first[64], id[64];
    cli(td, line, sizeof line, "enqueue", "--json", "--unique", "order-17", "noop", NULL);
    assert_false(fp_td_unique_line(line, first, sizeof first));
    cli(td, line, sizeof line, "enqueue", "--json", "--unique", "order-17", "noop", "{\"n\":2}",
        NULL);
    assert_true(fp_td_unique_line(line, id, sizeof id));
    assert_string_equal(id, first);
    assert_int_equal(fp_td_qsql(td, "SELECT count(*) FROM jobs"), 1);
    /* A key is per queue. */
    cli(td, line, sizeof line, "enqueue", "--json", "--queue", "mail", "--unique", "order-17",
        "noop", NULL);
    assert_false(fp_td_unique_line(line, id, sizeof id));
    assert_int_equal(key_count(td, "order-17"), 1);

    fp_td_start_ready(td, true);
    fp_td_wait_until(td, default_empty, NULL, 60000, "the job run");
    fp_td_wait_until(td, key_gone, (void *)"order-17", 60000, "the key released by success");
    stop(td);
    cli(td, line, sizeof line, "enqueue", "--json", "--unique", "order-17", "noop", NULL);
    assert_false(fp_td_unique_line(line, id, sizeof id));
    assert_string_not_equal(id, first);
}

/* A unique job added by the store's API with its own payload. */
static void add_unique(const fp_td_t *td, const char *key, const char *id, const char *job)
{
    char path[4200];
    fp_td_queue_path(td, path, sizeof path);
    fp_sqlq_t *q = NULL;
    fp_err_t err = {0};
    bool dup = true;
    char *holder = NULL;
    assert_int_equal(fp_sqlq_open(path, 0, &q, &err), 0);
    fp_sqlq_unique_new_t add = {"default", key, id, HOUR_MS, 0, job, strlen(job)};
    if (fp_sqlq_unique_enqueue(q, &add, fp_th_unix_ms(), &dup, &holder, NULL, &err) < 0)
        fail_msg("unique enqueue: %s", err.msg);
    assert_false(dup);
    free(holder);
    fp_sqlq_close(q);
}

static bool retry_waits(fp_td_t *td, void *arg)
{
    (void)arg;
    return fp_td_qsql(td, "SELECT count(*) FROM jobs WHERE avail_at > %lld",
                      fp_th_unix_ms() + HOUR_MS / 2) == 1;
}

static void test_dead_releases_retry_keeps(void **state)
{
    fp_td_t *td = *state;
    fp_td_config_sqlite(td, NULL, "[pool]\nchildren = 1\n"
                                  "[retry]\nbackoff_base = \"1h\"\nbackoff_max = \"2h\"\njitter = false\n");
    add_unique(td, "dies", "d1", "{\"type\":\"fail\",\"max_attempts\":1,\"id\":\"d1\","
                                 "\"unique\":{\"key\":\"dies\"}}");
    add_unique(td, "flaky", "r1", "{\"type\":\"fail\",\"max_attempts\":3,\"id\":\"r1\","
                                  "\"unique\":{\"key\":\"flaky\"}}");
    fp_td_start_ready(td, true);
    long long one = 1;
    fp_td_wait_until(td, fp_td_qdead_are, &one, 60000, "the first job dead");
    fp_td_wait_until(td, key_gone, (void *)"dies", 60000, "its key released");
    fp_td_wait_until(td, retry_waits, NULL, 60000, "the second job retried an hour ahead");
    stop(td);
    /* The retry waits an hour, still holding its key. */
    assert_int_equal(key_count(td, "flaky"), 1);
}

/* until start: the key goes while the job still runs (its row is held). */
static void test_until_start_releases_when_started(void **state)
{
    fp_td_t *td = *state;
    char command[4300], text[8192], args[4300], line[256], id[64];
    fp_td_exec_worker_command(command, sizeof command, NULL);
    snprintf(text, sizeof text, "[pool]\nruntime = \"exec\"\ncommand = %s\nchildren = 1\n",
             command);
    fp_td_config_sqlite(td, NULL, text);
    snprintf(args, sizeof args, "{\"path\":\"%s/gate\"}", td->dir);
    cli(td, line, sizeof line, "enqueue", "--json", "--unique", "order-17", "--unique-until",
        "start", "gate", args, NULL);
    assert_false(fp_td_unique_line(line, id, sizeof id));
    fp_td_start_ready(td, true);
    fp_td_wait_until(td, key_gone, (void *)"order-17", 60000, "the key released at start");
    assert_int_equal(fp_td_qsql(td, "SELECT count(*) FROM jobs WHERE owner IS NOT NULL"), 1);
    fp_td_open_gate(td);
    long long zero = 0;
    fp_td_wait_until(td, fp_td_qjobs_are, &zero, 60000, "the job done");
    stop(td);
    assert_int_equal(fp_td_qsql(td, "SELECT count(*) FROM dead"), 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fp_td_setup_sqlite, fp_td_teardown)
    const struct CMUnitTest tests[] = {
        T(test_two_daemons_fire_each_tick_once),
        T(test_missed_after_downtime),
        T(test_unique_enqueue_on_the_file),
        T(test_dead_releases_retry_keeps),
        T(test_until_start_releases_when_started),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
