/* test_it_schedule.c: [[schedule]] with the real binary and a real
 * redis-server. Three daemons run the same `every = "1s"` schedule for
 * about ten seconds: each tick is enqueued exactly once (job ids distinct,
 * ticks consecutive, none missing between the first and the last). A
 * schedule whose recorded tick is hours old follows its missed policy:
 * "one" enqueues a single catch-up, "all" every missed tick. A HUP applies
 * a changed list.
 *
 * The schedules' type is one no handler serves, so every job ends in the
 * dead stream with its payload, where the test reads the ids back; jobs
 * still in the stream when the daemons stop are read from there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"

#define HOUR_MS (3600LL * 1000)
#define MAX_IDS 4096

typedef struct ids_s {
    char *v[MAX_IDS];
    size_t n;
} ids_t;

/* The `id` of every job in stream key whose id starts with prefix. */
static void collect(fp_td_t *td, const char *key, const char *prefix, ids_t *ids)
{
    redisReply *r = fp_th_redis_cmd(&td->redis, "XRANGE %s - +", key);
    assert_non_null(r);
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *fields = r->element[i]->element[1];
        for (size_t f = 0; f + 1 < fields->elements; f += 2) {
            if (strcmp(fields->element[f]->str, "job") != 0)
                continue;
            cJSON *job = cJSON_Parse(fields->element[f + 1]->str);
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(job, "id");
            if (cJSON_IsString(id) && strncmp(id->valuestring, prefix, strlen(prefix)) == 0 &&
                ids->n < MAX_IDS)
                ids->v[ids->n++] = strdup(id->valuestring);
            cJSON_Delete(job);
        }
    }
    freeReplyObject(r);
}

static void ids_free(ids_t *ids)
{
    for (size_t i = 0; i < ids->n; i++)
        free(ids->v[i]);
    ids->n = 0;
}

/* Seconds of the day from "sched:NAME:YYYY-MM-DDTHH:MM:SSZ" (the test
 * stays far from midnight's wrap by using the whole timestamp's tail). */
static long long tick_seconds(const char *id)
{
    const char *t = strrchr(id, 'T');
    int y, mo, d, h, mi, s;
    assert_non_null(t);
    assert_int_equal(sscanf(t - 10, "%4d-%2d-%2dT%2d:%2d:%2dZ", &y, &mo, &d, &h, &mi, &s), 6);
    return (long long)d * 86400 + h * 3600 + mi * 60 + s;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* The text of a schedule's recorded tick (owned; NULL when absent). */
static char *record_text(fp_td_t *td, const char *name)
{
    redisReply *r = fp_th_redis_cmd(&td->redis, "HGET fp:{default}:schedule %s", name);
    char *v = r != NULL && r->type == REDIS_REPLY_STRING ? strdup(r->str) : NULL;
    freeReplyObject(r);
    return v;
}

/* A schedule's recorded tick; -1 when absent. */
static long long recorded_tick(fp_td_t *td, const char *name)
{
    char *text = record_text(td, name);
    long long v = text != NULL ? atoll(text) : -1;
    free(text);
    return v;
}

static bool dead_at_least(fp_td_t *td, void *arg)
{
    return fp_td_xlen(td, FP_TD_DEAD) >= *(long long *)arg;
}

static void stop(fp_td_t *d)
{
    fp_td_signal(d, SIGTERM);
    assert_int_equal(fp_td_wait(d, 60000), 0);
}

static void test_three_daemons_fire_each_tick_once(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL,
                 "[pool]\nchildren = 1\n"
                 "[[schedule]]\nname = \"tick\"\nevery = \"1s\"\ntype = \"scheduled_probe\"\n"
                 "missed = \"all\"\n");
    fp_td_t b, c;
    fp_td_start_ready(td, true);
    fp_td_twin(td, &b, "sched-b");
    fp_td_start_ready(&b, true);
    /* A twin's files have fixed names: the third gets its own. */
    fp_td_twin(td, &c, "sched-c");
    snprintf(c.config, sizeof c.config, "%s/twin-c.toml", td->dir);
    snprintf(c.log, sizeof c.log, "%s/twin-c.log", td->dir);
    assert_int_equal(rename(b.config, c.config), 0);
    fp_td_start_ready(&c, true);
    long long want = 10;
    fp_td_wait_until(td, dead_at_least, &want, 90000, "ten scheduled jobs in the dead stream");
    stop(&b);
    stop(&c);
    stop(td);
    fp_th_assert_no_sanitizer_report(b.log);
    fp_th_assert_no_sanitizer_report(c.log);

    ids_t ids = {0};
    collect(td, FP_TD_DEAD, "sched:tick:", &ids);
    collect(td, FP_TD_JOBS, "sched:tick:", &ids);
    assert_true(ids.n >= 10);
    long long *secs = calloc(ids.n, sizeof *secs);
    for (size_t i = 0; i < ids.n; i++)
        secs[i] = tick_seconds(ids.v[i]);
    qsort(secs, ids.n, sizeof *secs, cmp_ll);
    for (size_t i = 1; i < ids.n; i++) {
        if (secs[i] == secs[i - 1])
            fail_msg("tick %lld enqueued twice", secs[i]);
        if (secs[i] != secs[i - 1] + 1)
            fail_msg("ticks %lld and %lld: %lld missing", secs[i - 1], secs[i],
                     secs[i] - secs[i - 1] - 1);
    }
    /* The record is the newest tick enqueued. */
    long long recorded = recorded_tick(td, "tick");
    assert_int_equal(recorded / 1000 % 86400, secs[ids.n - 1] % 86400);
    free(secs);
    ids_free(&ids);
}

static bool recorded_moved(fp_td_t *td, void *arg)
{
    const long long *before = arg;
    return recorded_tick(td, "catchup-one") > before[0] && recorded_tick(td, "catchup-all") > before[1];
}

/* Five hours of downtime: "one" enqueues the newest missed tick only,
 * "all" every one of the five. */
static void test_missed_after_downtime(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL,
                 "[pool]\nchildren = 1\n"
                 "[[schedule]]\nname = \"catchup-one\"\nevery = \"1h\"\ntype = \"scheduled_probe\"\n"
                 "missed = \"one\"\n"
                 "[[schedule]]\nname = \"catchup-all\"\nevery = \"1h\"\ntype = \"scheduled_probe\"\n"
                 "missed = \"all\"\n");
    long long now = fp_th_unix_ms();
    long long before[2] = {now / HOUR_MS * HOUR_MS - 5 * HOUR_MS, 0};
    before[1] = before[0];
    long long set = fp_th_redis_int(&td->redis, "HSET fp:{default}:schedule catchup-one %lld "
                                                "catchup-all %lld", before[0], before[1]);
    assert_int_equal(set, 2);
    fp_td_start_ready(td, true);
    fp_td_wait_until(td, recorded_moved, before, 60000, "both schedules caught up");
    stop(td);

    long long one = recorded_tick(td, "catchup-one"), all = recorded_tick(td, "catchup-all");
    ids_t ids = {0};
    collect(td, FP_TD_DEAD, "sched:catchup-one:", &ids);
    collect(td, FP_TD_JOBS, "sched:catchup-one:", &ids);
    assert_int_equal(ids.n, 1);
    assert_int_equal(tick_seconds(ids.v[0]) % 86400, one / 1000 % 86400);
    /* `forkpool job` finds a scheduled job by its id. */
    const char *job_argv[] = {fp_th_env("FORKPOOL_BIN"), "job", "--json", "-c", td->config,
                              ids.v[0], NULL};
    fp_th_result_t jr;
    assert_int_equal(fp_th_run(job_argv, NULL, NULL, 0, 30000, &jr), 0);
    assert_int_equal(jr.status, 0);
    assert_non_null(strstr(jr.out, "\"state\":\"dead\""));
    fp_th_result_free(&jr);
    ids_free(&ids);
    collect(td, FP_TD_DEAD, "sched:catchup-all:", &ids);
    collect(td, FP_TD_JOBS, "sched:catchup-all:", &ids);
    assert_int_equal((long long)ids.n, (all - before[1]) / HOUR_MS); /* 5 (6 at an hour's turn) */
    assert_true(ids.n >= 5);
    ids_free(&ids);
    assert_true(fp_td_log_count(td, "missed tick(s) not fired") >= 1);

    /* `forkpool schedule list --json` shows what Redis recorded. */
    const char *argv[] = {fp_th_env("FORKPOOL_BIN"), "schedule", "list", "--json", "-c",
                          td->config, NULL};
    fp_th_result_t r;
    assert_int_equal(fp_th_run(argv, NULL, NULL, 0, 30000, &r), 0);
    assert_int_equal(r.status, 0);
    char want[96];
    snprintf(want, sizeof want, "\"name\":\"catchup-one\",\"every\":\"1h\"");
    assert_non_null(strstr(r.out, want));
    snprintf(want, sizeof want, "\"last_ms\":%lld", one);
    assert_non_null(strstr(r.out, want));
    snprintf(want, sizeof want, "\"next_ms\":%lld", (fp_th_unix_ms() / HOUR_MS + 1) * HOUR_MS);
    assert_non_null(strstr(r.out, want));
    fp_th_result_free(&r);
}

typedef struct prefix_n_s {
    const char *prefix;
    size_t n;
} prefix_n_t;

static size_t dead_with(fp_td_t *td, const char *prefix)
{
    ids_t ids = {0};
    collect(td, FP_TD_DEAD, prefix, &ids);
    size_t n = ids.n;
    ids_free(&ids);
    return n;
}

static bool dead_with_at_least(fp_td_t *td, void *arg)
{
    const prefix_n_t *p = arg;
    return dead_with(td, p->prefix) >= p->n;
}

/* HUP applies a changed list: the removed schedule stops, the new one
 * starts. */
static void test_reload_applies_new_list(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL,
                 "[pool]\nchildren = 1\n"
                 "[[schedule]]\nname = \"before\"\nevery = \"1s\"\ntype = \"scheduled_probe\"\n");
    fp_td_start_ready(td, true);
    prefix_n_t before = {"sched:before:", 1};
    fp_td_wait_until(td, dead_with_at_least, &before, 60000, "a job of the first schedule");
    fp_td_config_replace(td, "name = \"before\"", "name = \"after\"");
    fp_td_signal(td, SIGHUP);
    prefix_n_t after = {"sched:after:", 2};
    fp_td_wait_until(td, dead_with_at_least, &after, 60000, "jobs of the new schedule");
    size_t stopped_at = dead_with(td, "sched:before:");
    after.n = 4;
    fp_td_wait_until(td, dead_with_at_least, &after, 60000, "more jobs of the new schedule");
    assert_int_equal(dead_with(td, "sched:before:"), stopped_at);
    stop(td);
}

static size_t jobs_with(fp_td_t *td, const char *prefix)
{
    ids_t ids = {0};
    collect(td, FP_TD_DEAD, prefix, &ids);
    collect(td, FP_TD_JOBS, prefix, &ids);
    size_t n = ids.n;
    ids_free(&ids);
    return n;
}

static bool record_is_not(fp_td_t *td, void *arg)
{
    char *v = record_text(td, "chg");
    bool moved = v == NULL || strcmp(v, arg) != 0;
    free(v);
    return moved;
}

/* A schedule whose expression changed starts afresh: the new expression's
 * ticks since the old one's last fired tick are not caught up, whatever
 * `missed` says. The record is made to look five hours old, as after a
 * long-unchanged schedule. */
static void test_changed_expression_fires_no_past(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL,
                 "[pool]\nchildren = 1\n"
                 "[[schedule]]\nname = \"chg\"\nevery = \"1s\"\ntype = \"scheduled_probe\"\n"
                 "missed = \"all\"\n");
    fp_td_start_ready(td, true);
    prefix_n_t first = {"sched:chg:", 1};
    fp_td_wait_until(td, dead_with_at_least, &first, 60000, "a tick of the first expression");
    stop(td);
    size_t before = jobs_with(td, "sched:chg:");
    char aged[32];
    snprintf(aged, sizeof aged, "%lld", fp_th_unix_ms() / HOUR_MS * HOUR_MS - 5 * HOUR_MS);
    redisReply *r = fp_th_redis_cmd(&td->redis, "HSET fp:{default}:schedule chg %s", aged);
    freeReplyObject(r);

    fp_td_config_replace(td, "every = \"1s\"", "every = \"1h\"");
    long long restarted = fp_th_unix_ms();
    fp_td_start_ready(td, true);
    fp_td_wait_until(td, record_is_not, aged, 60000, "the changed schedule's record written");
    stop(td);
    assert_int_equal(jobs_with(td, "sched:chg:"), before); /* nothing from the past */
    assert_true(recorded_tick(td, "chg") >= restarted - 1000); /* starts now */
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, ms % 1000 * 1000000L};
    nanosleep(&ts, NULL);
}

static bool has_record(fp_td_t *td, void *arg)
{
    return recorded_tick(td, arg) >= 0;
}

/* A new schedule's start is in Redis from the first look, so a restart of
 * every daemon across its first tick loses nothing: missed = "one" fires
 * that tick when a daemon is back. */
static void test_start_survives_restart(void **state)
{
    fp_td_t *td = *state;
    const long long period = 20000;
    fp_td_config(td, NULL,
                 "[pool]\nchildren = 1\n"
                 "[[schedule]]\nname = \"first\"\nevery = \"20s\"\ntype = \"scheduled_probe\"\n"
                 "missed = \"one\"\n");
    /* Start early in a period, so the daemon is up and stopped well before
     * the first tick (a condition on the clock, nothing asserted on it). */
    while (fp_th_unix_ms() % period > 3000)
        nap_ms(50);
    fp_td_start_ready(td, true);
    fp_td_wait_until(td, has_record, "first", 60000, "the new schedule's start in Redis");
    stop(td);
    long long start = recorded_tick(td, "first"), tick = (start / period + 1) * period;
    assert_int_equal(jobs_with(td, "sched:first:"), 0);
    while (fp_th_unix_ms() < tick + 500)
        nap_ms(100);

    fp_td_start_ready(td, true);
    prefix_n_t one = {"sched:first:", 1};
    fp_td_wait_until(td, dead_with_at_least, &one, 60000, "the missed first tick");
    stop(td);
    ids_t ids = {0};
    collect(td, FP_TD_DEAD, "sched:first:", &ids);
    collect(td, FP_TD_JOBS, "sched:first:", &ids);
    bool found = false;
    for (size_t i = 0; i < ids.n; i++)
        found = found || tick_seconds(ids.v[i]) % 86400 == tick / 1000 % 86400;
    ids_free(&ids);
    assert_true(found);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_three_daemons_fire_each_tick_once, fp_td_setup,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_missed_after_downtime, fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_reload_applies_new_list, fp_td_setup,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_changed_expression_fires_no_past, fp_td_setup,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_start_survives_restart, fp_td_setup,
                                        fp_td_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
