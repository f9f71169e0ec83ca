/* test_it_plugin.c: C plugins as a user meets them — the real forkpool
 * binary with the example plugin (examples/plugin/word_stats.c) in
 * pool.plugins runs 1,000 word_stats jobs through 2 reused children, one row
 * each in the plugin's database; a plugin that cannot be loaded, or whose
 * init fails, stops start-up with exit 78 and the reason; one whose
 * child_init always fails (test/plugins/state_plugin.c) leaves the daemon
 * running, its children restarted with growing delay and its jobs untouched
 * in Redis; two plugins keep their own state in real children. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

static void plugin_config(fp_td_t *td, const char *plugin, const char *handler_lines)
{
    char extra[16384];
    snprintf(extra, sizeof extra,
             "[pool]\nchildren = 2\nplugins = [\"%s\"]\n\n[handlers.word_stats]\n"
             "database = \"%s\"\n%s",
             plugin, td->events_db, handler_lines != NULL ? handler_lines : "");
    fp_td_config(td, "log_level = \"debug\"\n", extra);
}

static void test_example_plugin_runs_jobs_in_reused_children(void **state)
{
    fp_td_t *td = *state;
    plugin_config(td, fp_th_env("FP_EXAMPLE_PLUGIN"), NULL);
    /* Both children ready before the jobs arrive: in a --burst run one child
     * can finish all 1,000 while the other still waits in child_init for the
     * database its sibling is writing, and is stopped before it says ready. */
    fp_td_start_ready(td, true);
    fp_td_enqueue(td, 1000,
                  "{\"type\":\"word_stats\",\"args\":{\"text\":"
                  "\"Item %d of %d: the cat saw a cat and another cat.\"}}");
    fp_td_wait_until(td, fp_td_drained, NULL, 120000, "the 1,000 jobs");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 60000), 0);
    assert_int_equal(fp_td_jobs_done(td), 1000);
    assert_int_equal(fp_td_log_count(td, "loaded word_stats ("), 1);
    assert_int_equal(fp_td_log_count(td, "spawned (pid"), 2);
    assert_int_equal(fp_td_log_count(td, " ready (pid"), 2);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
    assert_int_equal(fp_td_pending(td), 0);
    assert_int_equal(fp_td_sql(td, "SELECT count(*) FROM word_stats"), 1000);
    assert_int_equal(fp_td_sql(td, "SELECT count(*) FROM word_stats WHERE words = 8 AND "
                                   "top = 'cat'"),
                     1000);
    assert_int_equal(fp_td_sql(td, "SELECT count(DISTINCT text_hash) FROM word_stats"), 1000);
}

static void expect_start_refused(fp_td_t *td, const char *want)
{
    fp_td_start(td, false);
    assert_int_equal(fp_td_wait(td, 30000), 78);
    if (fp_td_log_count(td, want) != 1)
        fail_msg("want \"%s\" once in the log", want);
    assert_int_equal(fp_td_log_count(td, "spawned (pid"), 0);
}

static void test_missing_plugin_exits_78(void **state)
{
    fp_td_t *td = *state;
    plugin_config(td, "/nonexistent/word_stats.so", NULL);
    expect_start_refused(td, "plugin /nonexistent/word_stats.so: No such file or directory");
}

static void test_wrong_abi_exits_78(void **state)
{
    fp_td_t *td = *state;
    plugin_config(td, fp_th_env("FP_TEST_PLUGIN_ABI1"), NULL);
    expect_start_refused(td, "built for ABI 1, this forkpool speaks 2");
}

static void test_init_failure_exits_78(void **state)
{
    fp_td_t *td = *state;
    plugin_config(td, fp_th_env("FP_EXAMPLE_PLUGIN"), "stop_words = \"cat\"\n");
    expect_start_refused(td, "init failed: handlers.word_stats.stop_words must be an array of "
                             "strings");
}

/* child_init failing in every child: each child exits 78 with the plugin's
 * message before it is ready; the supervisor keeps running and restarts it
 * with the crash-loop back-off; no job runs, none is lost (all still in the
 * stream, none done, dead or delayed); SIGTERM still stops it cleanly. */
static void test_child_init_failure_backs_off_and_loses_nothing(void **state)
{
    fp_td_t *td = *state;
    char extra[4096];
    snprintf(extra, sizeof extra,
             "[pool]\nchildren = 2\nplugins = [\"%s\"]\n\n[handlers.state_a]\n"
             "fail_child_init = \"cannot reach db.example:5432\"\n",
             fp_th_env("FP_TEST_PLUGIN_STATE_A"));
    fp_td_config(td, "log_level = \"debug\"\n", extra);
    fp_td_enqueue(td, 5, "{\"type\":\"state_a_run\",\"id\":\"j%d-%d\"}");
    fp_td_start(td, false);
    /* The delays are the behaviour, and only the log tells them. */
    fp_td_wait_until(td, fp_td_log_has, "next start in 800 ms", 30000, "four quick exits");
    assert_int_equal(kill(td->pid, 0), 0);
    assert_true(fp_td_log_count(td, "child_init of handler \"state_a_run\" failed: plugin "
                                    "state_a: cannot reach db.example:5432") >= 4);
    assert_true(fp_td_log_count(td, "exited with status 78") >= 4);
    assert_true(fp_td_log_count(td, "within a second of starting; next start in 100 ms") >= 1);
    assert_true(fp_td_log_count(td, "within a second of starting; next start in 200 ms") >= 1);
    assert_true(fp_td_log_count(td, "within a second of starting; next start in 400 ms") >= 1);
    assert_int_equal(fp_td_log_count(td, "pool ready"), 0);
    assert_int_equal(fp_td_log_count(td, " ready (pid"), 0);

    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_int_equal(fp_td_jobs_done(td), 0);
    assert_int_equal(fp_td_xlen(td, FP_TD_JOBS), 5);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
    assert_int_equal(fp_td_zcard(td, FP_TD_DELAYED), 0);
}

/* Two plugins in real children: each run sees its own plugin's state and
 * config, the child's id, and state that init built before the fork. */
static void test_two_plugins_keep_their_own_state_in_children(void **state)
{
    fp_td_t *td = *state;
    char extra[8192];
    snprintf(extra, sizeof extra,
             "[pool]\nchildren = 1\nplugins = [\"%s\", \"%s\"]\n\n"
             "[handlers.state_a]\ntag = \"A\"\nrun_file = \"%s/runs.txt\"\n"
             "[handlers.state_b]\ntag = \"B\"\nrun_file = \"%s/runs.txt\"\n",
             fp_th_env("FP_TEST_PLUGIN_STATE_A"), fp_th_env("FP_TEST_PLUGIN_STATE_B"), td->dir,
             td->dir);
    fp_td_config(td, "log_level = \"debug\"\n", extra);
    fp_td_enqueue(td, 3, "{\"type\":\"state_a_run\",\"id\":\"a%d-%d\"}");
    fp_td_enqueue(td, 2, "{\"type\":\"state_b_run\",\"id\":\"b%d-%d\"}");
    fp_td_start(td, true);
    assert_int_equal(fp_td_wait(td, 60000), 0);
    assert_int_equal(fp_td_jobs_done(td), 5);
    assert_int_equal(fp_td_log_count(td, "spawned (pid"), 1);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
    assert_int_equal(fp_td_pending(td), 0);
    /* One queue, one child: the jobs ran in order; ctx->child_id is the slot, 0. */
    char path[4200];
    snprintf(path, sizeof path, "%s/runs.txt", td->dir);
    char *runs = fp_th_read_file(path, NULL);
    assert_non_null(runs);
    assert_string_equal(runs, "state_a runs=1 child=0 tag=A forked=1\n"
                              "state_a runs=2 child=0 tag=A forked=1\n"
                              "state_a runs=3 child=0 tag=A forked=1\n"
                              "state_b runs=1 child=0 tag=B forked=1\n"
                              "state_b runs=2 child=0 tag=B forked=1\n");
    free(runs);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fp_td_setup, fp_td_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_example_plugin_runs_jobs_in_reused_children),
        T(test_missing_plugin_exits_78),
        T(test_wrong_abi_exits_78),
        T(test_init_failure_exits_78),
        T(test_child_init_failure_backs_off_and_loses_nothing),
        T(test_two_plugins_keep_their_own_state_in_children),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
