/* test_it_sentinel.c: the daemon and the command line on a Redis Sentinel
 * deployment (test/support/sentinel_set.h: a master, a replica, three
 * sentinels on loopback). Jobs are enqueued through the sentinels with
 * `forkpool enqueue --wait-replicas 1`, so every one is on the replica
 * before the failover; the handler (record_event) records each job's id.
 * During the run the master goes away, by SENTINEL FAILOVER or by SIGKILL,
 * and the test asserts: every id recorded (none lost), nothing left in the
 * new master's stream or pending list, /readyz went 503 then 200, the
 * daemon logged the switch. Duplicates (jobs in flight at the switch, or
 * whose acknowledgement reached the old master only) are counted and
 * printed, with the time from the switch to the first job done on the new
 * master: figures for bench/, not assertions. The test_chaos_* cases run
 * the same with more jobs (ctest integration.test_it_sentinel.chaos). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "sentinel_set.h"

#define CONFIG_EXTRA                                                                      \
    "[pool]\nchildren = 2\nprefetch = 8\n"                                                \
    "[retry]\nbackoff_base = \"10ms\"\nbackoff_max = \"50ms\"\nmax_attempts = 25\n"       \
    "[recovery]\nvisibility_timeout = \"5s\"\nclaim_interval = \"1s\"\n"

typedef struct fixture_s {
    fp_td_t *td;
    fp_th_sset_t sset;
} fixture_t;

static int setup_with(void **state, const char *sentinel_password)
{
    fixture_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->td = fp_td_new(false);
    if (fp_th_sset_start_auth(&f->sset, sentinel_password) < 0)
        fail_msg("cannot start the Sentinel set");
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, NULL);
}

static int setup_auth(void **state)
{
    return setup_with(state, "s3ntinel");
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    fp_td_free(f->td);
    fp_th_sset_stop(&f->sset);
    free(f);
    return 0;
}

/* The daemon's config in the Sentinel form: the URL gives the database only
 * (its host is a port nobody listens on, so using it would fail). The first
 * sentinel listed is one that does not run: every round of questions that
 * starts with it has to move on to the next. */
static void write_config(fixture_t *f)
{
    char from[256], to[1024], lines[512], dead[64];
    fp_td_config(f->td, NULL, CONFIG_EXTRA);
    snprintf(from, sizeof from, "url = \"%s\"\n", fp_th_redis_url(&f->td->redis));
    fp_th_sset_config_lines(&f->sset, lines, sizeof lines);
    snprintf(to, sizeof to, "url = \"redis://127.0.0.1:1/0\"\n%s", lines);
    fp_td_config_replace(f->td, from, to);
    snprintf(dead, sizeof dead, "sentinels = [\"127.0.0.1:%d\", ", fp_th_free_port());
    fp_td_config_replace(f->td, "sentinels = [", dead);
}

/* `forkpool enqueue --wait-replicas 1 record_event -` with one job per id
 * from first to first + n - 1, through the sentinels. */
static void enqueue(fixture_t *f, int first, int n)
{
    size_t cap = (size_t)n * 96 + 1, len = 0;
    char *in = malloc(cap);
    assert_non_null(in);
    for (int i = first; i < first + n; i++)
        len += (size_t)snprintf(in + len, cap - len,
                                "{\"action\":\"s\",\"object_id\":\"id-%d\",\"user_id\":\"u%d\"}\n",
                                i, i);
    const char *args[] = {fp_th_env("FORKPOOL_BIN"), "enqueue", "-c", f->td->config,
                          "--wait-replicas", "1", "--wait-timeout", "30s", "record_event", "-",
                          NULL};
    fp_th_result_t r;
    assert_int_equal(fp_th_run(args, NULL, in, len, 120000, &r), 0);
    if (r.status != 0)
        fail_msg("enqueue exited %d: %s", r.status, r.err);
    fp_th_result_free(&r);
    free(in);
}

static long long distinct_ids(const fp_td_t *td)
{
    return fp_td_sql(td, "SELECT count(DISTINCT object_id) FROM events");
}

static long long rows(const fp_td_t *td)
{
    return fp_td_sql(td, "SELECT count(*) FROM events");
}

typedef struct settled_s {
    fixture_t *f;
    long long ids;
} settled_t;

/* Every id recorded, and the master of now has nothing ready or pending. */
static bool settled(fp_td_t *td, void *arg)
{
    settled_t *s = arg;
    if (distinct_ids(td) < s->ids)
        return false;
    fp_th_redis_t *m = fp_th_sset_master(&s->f->sset);
    return m != NULL && fp_th_redis_int(m, "XLEN %s", FP_TD_JOBS) == 0 &&
           fp_th_redis_int(m, "ZCARD %s", FP_TD_DELAYED) == 0;
}

typedef struct progress_s {
    long long rows;
} progress_t;

static bool rows_at_least(fp_td_t *td, void *arg)
{
    return rows(td) >= ((progress_t *)arg)->rows;
}

/* Until the daemon has let go of the old master: /readyz seen at 503, or,
 * on a loaded machine where that window can fall between two polls, the
 * queue's "lost connection" line in its log. Which one is printed. */
static bool let_go(fp_td_t *td, bool *saw_503, int timeout_ms)
{
    for (long long end = fp_th_now_ms() + timeout_ms; fp_th_now_ms() < end; fp_th_nap()) {
        if (fp_td_http_get(fp_td_health_port(td), "/readyz", NULL) == 503) {
            *saw_503 = true;
            return true;
        }
        if (fp_td_log_count(td, "lost connection to Redis at") > 0)
            return true;
    }
    return false;
}

/* Polls /readyz until it answers status; false after timeout_ms. */
static bool readyz_becomes(fp_td_t *td, int status, int timeout_ms)
{
    for (long long end = fp_th_now_ms() + timeout_ms; fp_th_now_ms() < end; fp_th_nap())
        if (fp_td_http_get(fp_td_health_port(td), "/readyz", NULL) == status)
            return true;
    return false;
}

/* BY_FAILOVER_GUARDED: the master runs with min-replicas-to-write 1, as
 * docs/redis.md advises, so once it sees its replica's link close it
 * refuses writes (NOREPLICAS). The promoted replica closes that link as it
 * takes over, but the old master notices on its next loop turn: one write
 * of the daemon's (a batch of outcomes and the pull behind it) can land in
 * between and is lost with the old master's history. */
typedef enum how_e { BY_FAILOVER, BY_FAILOVER_GUARDED, BY_SIGKILL } how_t;

/* The jobs one daemon of CONFIG_EXTRA can hold at once: its 2 children's
 * and its 8 prefetched. Each of the daemon's write cycles that lands in the
 * race above runs at most twice that many again: the outcomes of the jobs it
 * held (acknowledged on the old master only) and the jobs pulled in their
 * place (delivered there only). The window is one loop turn of the old
 * master, usually shorter than a cycle (0 to 2 jobs run twice); one CI run
 * on a loaded machine saw exactly one cycle (20). The bound allows two more
 * cycles for a slower turn; an unguarded failover runs thousands twice. */
#define HELD_AT_MOST 10
#define GUARDED_DUPS_AT_MOST (3 * 2 * HELD_AT_MOST)

static void run_through_switch(fixture_t *f, int jobs, how_t how)
{
    fp_td_t *td = f->td;
    write_config(f);
    enqueue(f, 0, jobs);
    fp_th_redis_t *old = fp_th_sset_master(&f->sset);
    assert_non_null(old);
    int old_port = old->port;
    if (how == BY_FAILOVER_GUARDED)
        freeReplyObject(fp_th_redis_cmd(old, "CONFIG SET min-replicas-to-write 1"));
    fp_td_start_ready(td, true);
    progress_t some = {jobs / 20};
    fp_td_wait_until(td, rows_at_least, &some, 120000, "the first jobs done");

    long long t0 = fp_th_now_ms();
    long long rows_at_switch = rows(td);
    assert_true(rows_at_switch < jobs); /* the switch comes during the run */
    if (how != BY_SIGKILL) {
        assert_int_equal(fp_th_sset_failover(&f->sset), 0);
    } else {
        assert_int_equal(kill(-old->pid, SIGKILL), 0);
    }
    /* The daemon stops pulling and says why: /readyz answers 503 ... */
    bool saw_503 = false;
    if (!let_go(td, &saw_503, 60000))
        fail_msg("the daemon never let go of the old master");
    int new_port = fp_th_sset_wait_switched(&f->sset, old_port, 60000);
    assert_true(new_port > 0);
    long long t_switched = fp_th_now_ms();
    /* ... and 200 once it follows the new master. */
    if (!readyz_becomes(td, 200, 60000))
        fail_msg("/readyz never answered 200 again after the switch");
    long long t_ready = fp_th_now_ms();
    progress_t more = {rows(td) + 1};
    fp_td_wait_until(td, rows_at_least, &more, 60000, "a job done on the new master");
    long long t_first = fp_th_now_ms();

    settled_t want = {f, jobs};
    fp_td_wait_until(td, settled, &want, 240000, "every job done after the switch");
    fp_th_redis_t *m = fp_th_sset_master(&f->sset);
    assert_non_null(m);
    assert_int_equal(m->port, new_port);
    long long dead = fp_th_redis_int(m, "XLEN %s", FP_TD_DEAD);
    long long dups = rows(td) - distinct_ids(td);
    printf("sentinel %s: %d jobs, %lld distinct done, %lld dead, %lld duplicates; "
           "%lld done before the switch; /readyz 503 %s; master away -> sentinels agree %lld ms, "
           "-> /readyz 200 %lld ms, -> first job done on the new master %lld ms\n",
           how == BY_SIGKILL            ? "SIGKILL of the master"
           : how == BY_FAILOVER_GUARDED ? "SENTINEL FAILOVER (min-replicas-to-write 1)"
                                        : "SENTINEL FAILOVER",
           jobs,
           distinct_ids(td), dead, dups, rows_at_switch, saw_503 ? "seen" : "between two polls",
           t_switched - t0, t_ready - t0,
           t_first - t0);
    assert_int_equal(distinct_ids(td), jobs);
    assert_int_equal(dead, 0);
    if (how == BY_FAILOVER_GUARDED)
        assert_true(dups <= GUARDED_DUPS_AT_MOST);
    /* Followed through +switch-master (or the lost connection), said once. */
    assert_true(fp_td_log_count(td, "Redis at") >= 1);
    fp_td_log_n_t reconnected = {"reconnected to Redis at 127.0.0.1:", 1};
    assert_true(fp_td_log_at_least(td, &reconnected));
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 60000), 0);
}

static void test_sentinel_failover(void **state)
{
    run_through_switch(*state, 20000, BY_FAILOVER);
}

static void test_sentinel_failover_guarded(void **state)
{
    run_through_switch(*state, 20000, BY_FAILOVER_GUARDED);
}

static void test_sentinel_sigkill_master(void **state)
{
    run_through_switch(*state, 20000, BY_SIGKILL);
}

static void test_chaos_sentinel_failover(void **state)
{
    run_through_switch(*state, 60000, BY_FAILOVER);
}

static void test_chaos_sentinel_sigkill_master(void **state)
{
    run_through_switch(*state, 60000, BY_SIGKILL);
}

/* The command line resolves through the sentinels too: stats reaches the
 * master, and names the master the sentinels gave when none answers. */
static void test_sentinel_cli(void **state)
{
    fixture_t *f = *state;
    write_config(f);
    enqueue(f, 0, 3);
    const char *stats[] = {fp_th_env("FORKPOOL_BIN"), "stats", "-c", f->td->config, "--json",
                           NULL};
    fp_th_result_t r;
    assert_int_equal(fp_th_run(stats, NULL, NULL, 0, 60000, &r), 0);
    if (r.status != 0)
        fail_msg("stats exited %d: %s", r.status, r.err);
    fp_th_result_free(&r);
    fp_th_redis_t *m = fp_th_sset_master(&f->sset);
    assert_int_equal(fp_th_redis_int(m, "XLEN %s", FP_TD_JOBS), 3);
    /* check-config says which form is in use, and never the password. */
    const char *check[] = {fp_th_env("FORKPOOL_BIN"), "check-config", "-c", f->td->config, NULL};
    const char *env[] = {"FORKPOOL_SENTINEL_PASSWORD=hunter2", NULL};
    assert_int_equal(fp_th_run(check, env, NULL, 0, 60000, &r), 0);
    assert_int_equal(r.status, 0);
    FP_TH_EXPECT_ALL_IN(r.out, "redis    sentinel master=" FP_TH_SSET_MASTER_NAME " sentinels=",
                        "sentinel_password=***", "(db and password only)");
    assert_null(strstr(r.out, "hunter2"));
    fp_th_result_free(&r);
    /* A master name no sentinel monitors: exit 69 naming what each said. */
    fp_td_config_replace(f->td, "master_name = \"" FP_TH_SSET_MASTER_NAME "\"",
                         "master_name = \"nosuch\"");
    assert_int_equal(fp_th_run(stats, NULL, NULL, 0, 60000, &r), 0);
    assert_int_equal(r.status, 69);
    FP_TH_EXPECT_ALL_IN(r.err, "no sentinel knows where master \"nosuch\" is",
                        "does not monitor that master name");
    fp_th_result_free(&r);
}

/* The status page's dead letters come from the master the sentinels name:
 * its work off the loop connects with the daemon's Sentinel settings, not
 * to redis.url's host (a port nobody listens on here). */
static void test_sentinel_status_page(void **state)
{
    fixture_t *f = *state;
    fp_td_t *td = f->td;
    write_config(f);
    fp_td_start_ready(td, true);
    fp_th_redis_t *m = fp_th_sset_master(&f->sset);
    assert_non_null(m);
    redisReply *r = fp_th_redis_cmd(m, "XADD %s * job %s", FP_TD_JOBS,
                                    "{\"type\":\"fail\",\"id\":\"sentinel-dead\"}");
    assert_non_null(r);
    freeReplyObject(r);
    fp_td_page_t listed = {"/api/ui", "\"job_id\":\"sentinel-dead\""};
    fp_td_wait_until(td, fp_td_page_has, &listed, 60000, "the dead letter on the status page");
    fp_td_page_t clean = {"/api/ui", "\"data_error\":\"\""};
    assert_true(fp_td_page_has(td, &clean));
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 60000), 0);
}

/* Sentinels with requirepass: the daemon and the command line AUTH with
 * redis.sentinel_password; a wrong one is named in the error. */
static void test_sentinel_password(void **state)
{
    fixture_t *f = *state;
    write_config(f);
    fp_td_config_replace(f->td, "master_name = ", "sentinel_password = \"s3ntinel\"\nmaster_name = ");
    enqueue(f, 0, 50);
    fp_td_start_ready(f->td, true);
    settled_t want = {f, 50};
    fp_td_wait_until(f->td, settled, &want, 60000, "the jobs done through password sentinels");
    fp_td_signal(f->td, SIGTERM);
    assert_int_equal(fp_td_wait(f->td, 60000), 0);
    /* The environment overrides the file: a wrong password is refused. */
    const char *stats[] = {fp_th_env("FORKPOOL_BIN"), "stats", "-c", f->td->config, NULL};
    const char *env[] = {"FORKPOOL_SENTINEL_PASSWORD=wrong-one", NULL};
    fp_th_result_t r;
    assert_int_equal(fp_th_run(stats, env, NULL, 0, 60000, &r), 0);
    assert_int_equal(r.status, 69);
    FP_TH_EXPECT_ALL_IN(r.err, "no sentinel knows where master", "AUTH failed");
    assert_null(strstr(r.err, "wrong-one"));
    fp_th_result_free(&r);
}

int main(int argc, char **argv)
{
    /* test_it_sentinel NAME runs one test; --skip PATTERN all but those. */
    if (argc > 2 && strcmp(argv[1], "--skip") == 0)
        cmocka_set_skip_filter(argv[2]);
    else if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sentinel_cli, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sentinel_status_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sentinel_password, setup_auth, teardown),
        cmocka_unit_test_setup_teardown(test_sentinel_failover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sentinel_failover_guarded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sentinel_sigkill_master, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chaos_sentinel_failover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chaos_sentinel_sigkill_master, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
