/* test_it_embedded_cli.c: the command line on the embedded queue, the real
 * binary on a temp queue file: enqueue, stats and dead with no Redis at all;
 * a foreign file (a text file, another application's SQLite database)
 * refused with exit 78 and left byte for byte as it was; a missing file
 * never created by stats, dead, cancel or top; and
 * `forkpool migrate` to a real redis-server and back (ready, delayed and
 * dead jobs, counts equal on both sides, a second run moves nothing), run
 * again after it was killed between a batch's write and its source's commit
 * (nothing lost), and refused while rows are leased or entries pending. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_fixture.h"
#include "sqlq/store.h"

#define NOW_LATER (INT64_C(1) << 50) /* far after any wall clock: every lease taken then is live */
#define AFTER_NOW INT64_C(3000000000000) /* after this run's wall clock, before 4e12 */

typedef struct fixture_s {
    fp_tcli_t base;
    char db[PATH_MAX];
    char db_env[PATH_MAX + 32];
} fixture_t;

static void name_db(fixture_t *f)
{
    snprintf(f->db, sizeof f->db, "%s/queue.db", f->base.dir);
    snprintf(f->db_env, sizeof f->db_env, "FORKPOOL_SQLITE_PATH=%s", f->db);
}

static int setup_no_redis(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    *state = &f->base;
    fp_tcli_setup_dir(state);
    memcpy(&f->base, *state, sizeof f->base);
    free(*state);
    *state = f;
    name_db(f);
    return 0;
}

static int setup_redis(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    void *base = NULL;
    fp_tcli_setup(&base);
    memcpy(&f->base, base, sizeof f->base);
    free(base);
    *state = f;
    name_db(f);
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    fp_tcli_t *base = malloc(sizeof *base);
    memcpy(base, &f->base, sizeof *base);
    free(f);
    void *s = base;
    return fp_tcli_teardown(&s);
}

/* forkpool ARGS... (from first, NULL-terminated) with env and stdin `in`
 * (may be NULL). */
static fp_th_result_t run_va(const char *const env[], const char *in, const char *first,
                             va_list ap)
{
    const char *argv[16] = {fp_th_env("FORKPOOL_BIN"), first};
    int argc = 2;
    for (const char *a = va_arg(ap, const char *); a != NULL && argc < 15;
         a = va_arg(ap, const char *))
        argv[argc++] = a;
    fp_th_result_t r;
    assert_int_equal(fp_th_run(argv, env, in, in != NULL ? strlen(in) : 0, 120000, &r), 0);
    return r;
}

/* On the embedded queue (no Redis in the environment), with extra env (may
 * be NULL). */
static fp_th_result_t run_env(fixture_t *f, const char *in, const char *extra, const char *first,
                              ...)
{
    const char *env[] = {"FORKPOOL_CONFIG=", "FORKPOOL_REDIS_URL=", f->db_env, extra, NULL};
    va_list ap;
    va_start(ap, first);
    fp_th_result_t r = run_va(env, in, first, ap);
    va_end(ap);
    return r;
}
#define run(f, ...) run_env(f, NULL, NULL, __VA_ARGS__, NULL)

/* The same with FORKPOOL_REDIS_URL naming the fixture's Redis. */
static fp_th_result_t run_redis_v(fixture_t *f, const char *first, ...)
{
    const char *env[] = {"FORKPOOL_CONFIG=", f->base.url_env, f->db_env, NULL};
    va_list ap;
    va_start(ap, first);
    fp_th_result_t r = run_va(env, NULL, first, ap);
    va_end(ap);
    return r;
}
#define run_redis(f, ...) run_redis_v(f, __VA_ARGS__, NULL)

static void expect(fp_th_result_t r, int status, const char *out_has, const char *err_has)
{
    if (r.status != status)
        fprintf(stderr, "status %d, stdout: %s\nstderr: %s\n", r.status, r.out, r.err);
    assert_int_equal(r.status, status);
    if (out_has != NULL)
        assert_non_null(strstr(r.out, out_has));
    if (err_has != NULL)
        assert_non_null(strstr(r.err, err_has));
    fp_th_result_free(&r);
}

static fp_sqlq_t *open_db(const char *path)
{
    fp_sqlq_t *q = NULL;
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_open(path, 0, &q, &err), 0);
    return q;
}

static void put(fp_sqlq_t *q, const char *payload, int64_t delay_ms, int64_t now_ms)
{
    fp_err_t err = {0};
    assert_int_equal(
        fp_sqlq_enqueue(q, "default", payload, strlen(payload), delay_ms, now_ms, NULL, &err), 0);
}

/* n dead rows, made as the daemon makes them (pulled, then DEAD). */
static void add_dead(fp_sqlq_t *q, int n, const char *error)
{
    const char *queues[] = {"default"};
    fp_err_t err = {0};
    for (int i = 0; i < n; i++) {
        char payload[96];
        snprintf(payload, sizeof payload, "{\"type\":\"dies\",\"args\":{\"i\":%d},\"attempt\":3}", i);
        put(q, payload, 0, 1000);
        fp_sqlq_jobs_t jobs = {0};
        assert_int_equal(fp_sqlq_pull(q, queues, 1, "host-a", 1, 1000, 1000, 0, &jobs, &err), 0);
        assert_int_equal(jobs.n, 1);
        fp_sqlq_outcome_t o = {FP_SQLQ_DEAD, jobs.v[0].id, NULL, 0, 0, error, 3};
        assert_int_equal(fp_sqlq_outcomes(q, "host-a", &o, 1, 1700000000123, NULL, NULL, &err), 0);
        fp_sqlq_jobs_free(&jobs);
    }
}

static fp_sqlq_counts_t counts(const char *path, int64_t now_ms)
{
    fp_sqlq_t *q = open_db(path);
    fp_sqlq_counts_t c;
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_counts(q, "default", now_ms, &c, &err), 0);
    fp_sqlq_close(q);
    return c;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- enqueue, stats, dead with no Redis ------------------------------------- */

static void test_read_only_never_creates(void **state)
{
    fixture_t *f = *state;
    expect(run(f, "stats"), 1, NULL, "no embedded queue at");
    expect(run(f, "dead", "list"), 1, NULL, "no embedded queue at");
    expect(run(f, "migrate", "--to", "redis://127.0.0.1:1", "--dry-run"), 1, NULL,
           "no embedded queue at");
    assert_false(exists(f->db));
}

static void test_enqueue_and_stats(void **state)
{
    fixture_t *f = *state;
    expect(run(f, "enqueue", "echo", "{\"a\":1}"), 0, "1\n", NULL);
    assert_true(exists(f->db));
    expect(run(f, "enqueue", "--count", "3", "echo"), 0, "enqueued 3 jobs to default\n", NULL);
    expect(run(f, "enqueue", "--delay", "1h", "--json", "echo"), 0,
           "{\"duplicate\":false,\"id\":\"5\"}", NULL);
    expect(run_env(f, "{\"x\":1}\n\n{\"x\":2}\n", NULL, "enqueue", "echo", "-", NULL), 0,
           "enqueued 2 jobs to default\n", NULL);
    /* The payload checks are the Redis path's own. */
    expect(run(f, "enqueue", "echo", "{not json"), 64, NULL, "not valid JSON");
    /* --unique takes its key in the file: the second is a duplicate. */
    expect(run(f, "enqueue", "--unique", "k", "--json", "echo"), 0, "{\"duplicate\":false,",
           NULL);
    expect(run(f, "enqueue", "--unique", "k", "--json", "echo"), 0, "{\"duplicate\":true,", NULL);
    expect(run(f, "enqueue", "--wait-replicas", "1", "echo"), 78, NULL, "needs Redis");
    fp_sqlq_counts_t c = counts(f->db, INT64_MAX / 2 - 1);
    assert_int_equal(c.ready + c.delayed, 8);
    fp_th_result_t r = run(f, "stats", "--json");
    assert_int_equal(r.status, 0);
    cJSON *doc = cJSON_Parse(r.out);
    assert_non_null(doc);
    assert_string_equal(cJSON_GetObjectItem(doc, "backend")->valuestring, "sqlite");
    cJSON *q0 = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "queues"), 0);
    assert_int_equal(cJSON_GetObjectItem(q0, "ready")->valueint, 7);
    assert_int_equal(cJSON_GetObjectItem(q0, "delayed")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(q0, "pending")->valueint, 0);
    assert_int_equal(cJSON_GetObjectItem(q0, "dead")->valueint, 0);
    assert_string_equal(cJSON_GetObjectItem(q0, "oldest_ready_id")->valuestring, "1");
    cJSON_Delete(doc);
    fp_th_result_free(&r);
    expect(run(f, "stats"), 0, "READY", NULL);
}

static void test_dead_tools(void **state)
{
    fixture_t *f = *state;
    fp_sqlq_t *q = open_db(f->db);
    add_dead(q, 3, "SMTP timeout");
    fp_sqlq_close(q);
    expect(run(f, "dead", "list"), 0, "3 dead jobs in default (showing 3)", NULL);
    fp_th_result_t r = run(f, "dead", "list", "--json", "--limit", "1");
    assert_int_equal(r.status, 0);
    cJSON *line = cJSON_Parse(r.out);
    assert_non_null(line);
    assert_string_equal(cJSON_GetObjectItem(line, "error")->valuestring, "SMTP timeout");
    assert_int_equal(cJSON_GetObjectItem(line, "attempts")->valueint, 3);
    assert_true(cJSON_GetObjectItem(line, "failed_at")->valuedouble == 1700000000123.0);
    assert_string_equal(cJSON_GetObjectItem(line, "consumer")->valuestring, "host-a");
    cJSON_Delete(line);
    fp_th_result_free(&r);
    expect(run(f, "dead", "purge"), 64, NULL, "purge needs --limit N or --all");
    expect(run(f, "dead", "retry", "--limit", "2"), 0, "retried 2 jobs to default\n", NULL);
    fp_sqlq_counts_t c = counts(f->db, INT64_MAX / 2 - 1);
    assert_int_equal(c.ready, 2);
    assert_int_equal(c.dead, 1);
    /* Retried as fresh jobs: "attempt" cut out. */
    q = open_db(f->db);
    const char *queues[] = {"default"};
    fp_sqlq_jobs_t jobs = {0};
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_pull(q, queues, 1, "t", 5, 1000, INT64_MAX / 2 - 1, 0, &jobs, &err), 0);
    assert_int_equal(jobs.n, 2);
    assert_string_equal(jobs.v[0].payload, "{\"type\":\"dies\",\"args\":{\"i\":0}}");
    fp_sqlq_jobs_free(&jobs);
    fp_sqlq_close(q);
    expect(run(f, "dead", "purge", "--all"), 0, "purged 1 dead jobs from default\n", NULL);
    assert_int_equal(counts(f->db, 0).dead, 0);
}

static void test_needs_redis(void **state)
{
    fixture_t *f = *state;
    /* cancel and top work on the file (test_it_sqlite_fleet.c): never creating it. */
    expect(run(f, "cancel", "1"), 1, NULL, "no embedded queue at");
    expect(run(f, "top", "--once", "--interval", "100ms"), 1, NULL, "no embedded queue at");
    expect(run(f, "job", "1"), 1, NULL, "no embedded queue at");
    assert_false(exists(f->db));
}

static void test_job_lookup(void **state)
{
    fixture_t *f = *state;
    expect(run(f, "enqueue", "echo", "{\"a\":1}"), 0, "1\n", NULL);
    expect(run(f, "enqueue", "--delay", "1h", "echo", "{\"id\":\"order-7\"}"), 0, "2\n", NULL);
    expect(run(f, "job", "1"), 0, "job 1: ready, waiting in queue default since", NULL);
    fp_th_result_t r = run(f, "job", "--json", "2");
    assert_int_equal(r.status, 0);
    cJSON *doc = cJSON_Parse(r.out);
    assert_non_null(doc);
    assert_string_equal(cJSON_GetObjectItem(doc, "state")->valuestring, "delayed");
    assert_string_equal(cJSON_GetObjectItem(doc, "queue")->valuestring, "default");
    cJSON_Delete(doc);
    fp_th_result_free(&r);
    /* By the payload's id too (a producer's, such as the Python client's). */
    fp_sqlq_t *q = open_db(f->db);
    put(q, "{\"type\":\"x\",\"id\":\"order-7\"}", 0, NOW_LATER); /* due far ahead */
    fp_sqlq_close(q);
    expect(run(f, "job", "order-7"), 0, "job order-7: delayed in queue default, due at", NULL);
    expect(run(f, "job", "99"), 1, NULL, "job 99 not found");
}

/* ---- foreign files: enqueue, stats, dead list, job and migrate ------------ */

static void expect_refused_unchanged(fixture_t *f, const char *content, size_t len)
{
    /* migrate reads the file before it connects anywhere: no Redis needed. */
    const char *const cmds[][4] = {{"enqueue", "echo", NULL, NULL}, {"stats", NULL, NULL, NULL},
                                   {"dead", "list", NULL, NULL}, {"job", "1", NULL, NULL},
                                   {"migrate", "--to", "redis://127.0.0.1:1", NULL}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        fp_th_result_t r = run(f, cmds[i][0], cmds[i][1], cmds[i][2], cmds[i][3]);
        if (r.status != 78)
            fprintf(stderr, "%s: %d %s\n", cmds[i][0], r.status, r.err);
        assert_int_equal(r.status, 78);
        assert_non_null(strstr(r.err, f->db));
        fp_th_result_free(&r);
        size_t now_len = 0;
        char *now = fp_th_read_file(f->db, &now_len);
        assert_non_null(now);
        assert_int_equal(now_len, len);
        assert_memory_equal(now, content, len);
        free(now);
    }
}

static void test_foreign_text_file(void **state)
{
    fixture_t *f = *state;
    const char text[] = "these are somebody's notes, not a queue\n";
    assert_int_equal(fp_th_write_file(f->db, text, sizeof text - 1), 0);
    expect_refused_unchanged(f, text, sizeof text - 1);
}

static void test_foreign_sqlite_db(void **state)
{
    fixture_t *f = *state;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE invoices (id INTEGER, total REAL);"
                                      "INSERT INTO invoices VALUES (1, 9.5);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    size_t len = 0;
    char *before = fp_th_read_file(f->db, &len);
    assert_non_null(before);
    expect_refused_unchanged(f, before, len);
    free(before);
}

/* ---- migrate ---------------------------------------------------------------- */

static long long redis_int(fixture_t *f, const char *cmd, const char *key)
{
    redisReply *r = fp_th_redis_cmd(&f->base.redis, "%s %s", cmd, key);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

#define JOBS "fp:{default}:jobs"
#define DELAYED "fp:{default}:delayed"
#define DEAD "fp:{default}:dead"

/* 5 ready, 2 delayed (due at 4e12 and 4e12 + 1, far ahead), 2 dead. */
static void fill(fixture_t *f)
{
    fp_sqlq_t *q = open_db(f->db);
    add_dead(q, 2, "boom");
    for (int i = 0; i < 5; i++)
        put(q, "{\"type\":\"same\"}", 0, 1000);
    put(q, "{\"type\":\"later\"}", 4000000000000 - 5000, 5000);
    put(q, "{\"type\":\"later\"}", 4000000000000 + 1 - 5000, 5000);
    fp_sqlq_close(q);
}

static void test_migrate_round_trip(void **state)
{
    fixture_t *f = *state;
    fill(f);
    fp_sqlq_t *q = open_db(f->db);
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_enqueue(q, "other", "{\"type\":\"x\"}", 12, 0, 1000, NULL, &err), 0);
    fp_sqlq_close(q);
    char to[256];
    snprintf(to, sizeof to, "%s", fp_th_redis_url(&f->base.redis));
    expect(run(f, "migrate", "--to", to, "--dry-run"), 0,
           "default: would move 5 ready, 2 delayed, 2 dead\n", NULL);
    assert_int_equal(redis_int(f, "XLEN", JOBS), 0);
    expect(run(f, "migrate", "--to", to, "--batch", "2"), 0,
           "default: moved 5 ready, 2 delayed, 2 dead\n"
           "other: not moved (not among the queues moved; --queue other moves it): 1 jobs and "
           "0 dead stay\n", NULL);
    assert_int_equal(redis_int(f, "XLEN", JOBS), 5);
    assert_int_equal(redis_int(f, "ZCARD", DELAYED), 2); /* equal payloads stay two jobs */
    assert_int_equal(redis_int(f, "XLEN", DEAD), 2);
    redisReply *r = fp_th_redis_cmd(&f->base.redis, "ZRANGE %s 0 -1 WITHSCORES", DELAYED);
    assert_string_equal(r->element[1]->str, "4000000000000");
    assert_string_equal(r->element[3]->str, "4000000000001");
    freeReplyObject(r);
    r = fp_th_redis_cmd(&f->base.redis, "XRANGE %s - + COUNT 1", DEAD);
    redisReply *fields = r->element[0]->element[1];
    assert_int_equal(fields->elements, 10);
    assert_string_equal(fields->element[2]->str, "error");
    assert_string_equal(fields->element[3]->str, "boom");
    assert_string_equal(fields->element[5]->str, "3");
    assert_string_equal(fields->element[7]->str, "1700000000123");
    freeReplyObject(r);
    fp_sqlq_counts_t c = counts(f->db, 5000);
    assert_int_equal(c.ready + c.delayed + c.dead + c.leased, 0);
    expect(run(f, "migrate", "--to", to, "--queue", "other"), 0,
           "other: moved 1 ready, 0 delayed, 0 dead\n", NULL);
    assert_int_equal(redis_int(f, "XLEN", "fp:{other}:jobs"), 1);
    /* Again: nothing is left to move. */
    expect(run(f, "migrate", "--to", to), 0, "default: moved 0 ready, 0 delayed, 0 dead\n", NULL);
    assert_int_equal(redis_int(f, "XLEN", JOBS), 5);
    /* And back, from the configured Redis into a new file. */
    char back[PATH_MAX + 8];
    snprintf(back, sizeof back, "sqlite:%s/back.db", f->base.dir);
    expect(run_redis(f, "migrate", "--to", back, "--batch", "2"), 0,
           "default: moved 5 ready, 2 delayed, 2 dead\n", NULL);
    assert_int_equal(redis_int(f, "XLEN", JOBS) + redis_int(f, "ZCARD", DELAYED) +
                         redis_int(f, "XLEN", DEAD), 0);
    c = counts(back + 7, AFTER_NOW); /* ready ones are due when they arrived */
    assert_int_equal(c.ready, 5);
    assert_int_equal(c.delayed, 2);
    assert_int_equal(c.dead, 2);
    c = counts(back + 7, 4000000000000);
    assert_int_equal(c.ready, 6); /* due times kept: one due at 4e12, one 1 ms later */
    q = open_db(back + 7);
    fp_sqlq_deads_t d = {0};
    assert_int_equal(fp_sqlq_dead_list(q, "default", 0, 5, &d, &err), 0);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.v[0].error, "boom");
    assert_int_equal(d.v[0].attempts, 3);
    assert_int_equal(d.v[0].failed_at, 1700000000123);
    fp_sqlq_deads_free(&d);
    fp_sqlq_close(q);
    expect(run_redis(f, "migrate", "--to", back), 0, "default: moved 0 ready, 0 delayed, 0 dead\n",
           NULL);
    assert_int_equal(counts(back + 7, AFTER_NOW).ready, 5);
}

/* Distinct payloads present in the jobs stream (each is {"type":"n","args":{"i":I}}). */
static int distinct_in_stream(fixture_t *f, int n)
{
    redisReply *r = fp_th_redis_cmd(&f->base.redis, "XRANGE %s - +", JOBS);
    int found = 0;
    for (int i = 0; i < n; i++) {
        char want[64];
        snprintf(want, sizeof want, "{\"type\":\"n\",\"args\":{\"i\":%d}}", i);
        bool seen = false;
        for (size_t k = 0; !seen && k < r->elements; k++)
            seen = strcmp(r->element[k]->element[1]->element[1]->str, want) == 0;
        found += seen;
    }
    freeReplyObject(r);
    return found;
}

static void test_migrate_interrupted(void **state)
{
    fixture_t *f = *state;
    fp_sqlq_t *q = open_db(f->db);
    for (int i = 0; i < 10; i++) {
        char payload[64];
        snprintf(payload, sizeof payload, "{\"type\":\"n\",\"args\":{\"i\":%d}}", i);
        put(q, payload, 0, 1000);
    }
    fp_sqlq_close(q);
    char to[256];
    snprintf(to, sizeof to, "%s", fp_th_redis_url(&f->base.redis));
    /* Killed after its second batch reached Redis, before the file let it go. */
    fp_th_result_t r = run_env(f, NULL, "FORKPOOL_MIGRATE_CRASH_AFTER=2", "migrate", "--to", to,
                               "--batch", "3", NULL);
    assert_int_equal(r.status, 128 + 9);
    fp_th_result_free(&r);
    assert_int_equal(redis_int(f, "XLEN", JOBS), 6);
    assert_int_equal(counts(f->db, 5000).ready, 7); /* the second batch is in both */
    expect(run(f, "migrate", "--to", to, "--batch", "3"), 0, "default: moved 7 ready", NULL);
    assert_int_equal(counts(f->db, 5000).ready, 0);
    long long len = redis_int(f, "XLEN", JOBS);
    assert_true(len >= 10 && len <= 13); /* at most the one batch twice */
    assert_int_equal(distinct_in_stream(f, 10), 10); /* nothing lost */
    /* The other way: killed after its first batch was committed to the file. */
    char back[PATH_MAX + 8];
    snprintf(back, sizeof back, "sqlite:%s/back.db", f->base.dir);
    const char *argv[] = {fp_th_env("FORKPOOL_BIN"), "migrate", "--to", back, "--batch", "4", NULL};
    const char *env[] = {"FORKPOOL_CONFIG=", f->base.url_env, "FORKPOOL_MIGRATE_CRASH_AFTER=1",
                         NULL};
    assert_int_equal(fp_th_run(argv, env, NULL, 0, 120000, &r), 0);
    assert_int_equal(r.status, 128 + 9);
    fp_th_result_free(&r);
    assert_int_equal(counts(back + 7, AFTER_NOW).ready, 4);
    assert_int_equal(redis_int(f, "XLEN", JOBS), len); /* not yet deleted from Redis */
    expect(run_redis(f, "migrate", "--to", back, "--batch", "4"), 0, NULL, NULL);
    assert_int_equal(redis_int(f, "XLEN", JOBS), 0);
    fp_sqlq_counts_t c = counts(back + 7, AFTER_NOW);
    assert_true(c.ready >= len && c.ready <= len + 4);
}

static void test_migrate_refuses_when_held(void **state)
{
    fixture_t *f = *state;
    fp_sqlq_t *q = open_db(f->db);
    put(q, "{\"type\":\"running\"}", 0, 1000);
    put(q, "{\"type\":\"waiting\"}", 0, 1000);
    const char *queues[] = {"default"};
    fp_sqlq_jobs_t jobs = {0};
    fp_err_t err = {0};
    /* Leased until far ahead: a daemon runs it. */
    assert_int_equal(fp_sqlq_pull(q, queues, 1, "host-a", 1, NOW_LATER, 1000, 0, &jobs, &err), 0);
    fp_sqlq_jobs_free(&jobs);
    fp_sqlq_close(q);
    char to[256];
    snprintf(to, sizeof to, "%s", fp_th_redis_url(&f->base.redis));
    expect(run(f, "migrate", "--to", to), 1, NULL, "1 jobs are leased");
    assert_int_equal(redis_int(f, "XLEN", JOBS), 0);
    assert_int_equal(counts(f->db, 5000).ready, 1);
    expect(run(f, "migrate", "--to", to, "--force"), 0,
           "default: moved 1 ready, 0 delayed, 0 dead (1 held by a daemon stay)", NULL);
    assert_int_equal(redis_int(f, "XLEN", JOBS), 1);
    assert_int_equal(counts(f->db, 5000).leased, 1);
    /* Redis with an entry pending in the group: refused the other way too. */
    redisReply *r = fp_th_redis_cmd(&f->base.redis, "XGROUP CREATE %s forkpool 0", JOBS);
    freeReplyObject(r);
    r = fp_th_redis_cmd(&f->base.redis, "XADD %s * job {\"type\":\"second\"}", JOBS);
    freeReplyObject(r);
    r = fp_th_redis_cmd(&f->base.redis, "XREADGROUP GROUP forkpool host-b COUNT 1 STREAMS %s >",
                        JOBS);
    freeReplyObject(r);
    char back[PATH_MAX + 8];
    snprintf(back, sizeof back, "sqlite:%s/back.db", f->base.dir);
    expect(run_redis(f, "migrate", "--to", back), 1, NULL, "1 jobs are pending");
    assert_false(exists(back + 7));
    expect(run_redis(f, "migrate", "--to", back, "--force"), 0,
           "default: moved 1 ready, 0 delayed, 0 dead (1 held by a daemon stay)", NULL);
    assert_int_equal(redis_int(f, "XLEN", JOBS), 1); /* the pending one stays */
}

int main(void)
{
#define N(name) cmocka_unit_test_setup_teardown(name, setup_no_redis, teardown)
#define R(name) cmocka_unit_test_setup_teardown(name, setup_redis, teardown)
    const struct CMUnitTest tests[] = {
        N(test_read_only_never_creates),
        N(test_enqueue_and_stats),
        N(test_dead_tools),
        N(test_needs_redis),
        N(test_job_lookup),
        N(test_foreign_text_file),
        N(test_foreign_sqlite_db),
        R(test_migrate_round_trip),
        R(test_migrate_interrupted),
        R(test_migrate_refuses_when_held),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
