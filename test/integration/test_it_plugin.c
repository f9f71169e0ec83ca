/* test_it_plugin.c: C plugins as a user meets them — the real forkpool
 * binary with the example plugin (examples/plugin/word_stats.c) in
 * pool.plugins runs 1,000 word_stats jobs through 2 reused children, one row
 * each in the plugin's database; a plugin that cannot be loaded, or whose
 * init fails, stops start-up with exit 78 and the reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "harness.h"

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
    fp_td_enqueue(td, 1000,
                  "{\"type\":\"word_stats\",\"args\":{\"text\":"
                  "\"Item %d of %d: the cat saw a cat and another cat.\"}}");
    fp_td_start(td, true);
    assert_int_equal(fp_td_wait(td, 120000), 0);
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
    plugin_config(td, fp_th_env("FP_TEST_PLUGIN_ABI2"), NULL);
    expect_start_refused(td, "built for ABI 2, this forkpool speaks 1");
}

static void test_init_failure_exits_78(void **state)
{
    fp_td_t *td = *state;
    plugin_config(td, fp_th_env("FP_EXAMPLE_PLUGIN"), "stop_words = \"cat\"\n");
    expect_start_refused(td, "init failed: handlers.word_stats.stop_words must be an array of "
                             "strings");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fp_td_setup, fp_td_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_example_plugin_runs_jobs_in_reused_children),
        T(test_missing_plugin_exits_78),
        T(test_wrong_abi_exits_78),
        T(test_init_failure_exits_78),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
