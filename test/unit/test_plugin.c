/* test_plugin.c: lib/plugin.c — loading the example plugin
 * (examples/plugin/word_stats.c) and running its handler in-process the way
 * a child does (child_init, run, child_fini), and each bad plugin: a path
 * that does not exist, a file that is not a shared object, one without
 * fp_plugin_entry, one built for ABI 2, an init that fails, a handler named
 * like a built-in, the same plugin twice; after every failure the registry
 * is as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "harness.h"
#include "plugin.h"

typedef struct fixture_s {
    char *dir;
    char db[4096];
    fp_config_t *cfg;
    fp_registry_t reg;
    fp_plugins_t *plugins;
    fp_err_t err;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->dir = fp_th_tmpdir();
    assert_non_null(f->dir);
    snprintf(f->db, sizeof f->db, "%s/words.db", f->dir);
    fp_registry_init_builtin(&f->reg);
    fp_err_clear(&f->err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    fp_plugins_free(f->plugins);
    fp_config_free(f->cfg);
    fp_th_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* Loads a config whose pool.plugins is the given paths, with extra TOML
 * appended; returns fp_plugins_load's code. */
static int load(fixture_t *f, const char *const *paths, const char *extra)
{
    char text[16384];
    size_t n = (size_t)snprintf(text, sizeof text, "[pool]\nplugins = [");
    for (size_t i = 0; paths[i] != NULL; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s\"%s\"", i > 0 ? ", " : "", paths[i]);
    snprintf(text + n, sizeof text - n, "]\n%s", extra != NULL ? extra : "");
    fp_err_t err;
    int rc = fp_config_load_text(text, strlen(text), "t.toml", &f->cfg, &err);
    if (rc != 0)
        fail_msg("config: %s", err.msg);
    return fp_plugins_load(f->cfg, &f->reg, &f->plugins, &f->err);
}

static const char *env(const char *name)
{
    const char *v = fp_th_env(name);
    assert_non_null(v);
    return v;
}

/* Loading fails with FP_ECONFIG, a message containing want, and leaves the
 * built-ins alone. */
static void expect_failure(fixture_t *f, const char *const *paths, const char *extra,
                           const char *want)
{
    size_t builtins = f->reg.count;
    assert_int_equal(load(f, paths, extra), FP_ECONFIG);
    assert_null(f->plugins);
    if (strstr(f->err.msg, want) == NULL)
        fail_msg("want \"%s\" in \"%s\"", want, f->err.msg);
    assert_int_equal(f->reg.count, builtins);
    assert_null(fp_registry_find(&f->reg, "word_stats"));
}

static long long count_rows(const char *db_path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* Runs h on a job made of job_json, as child.c does; returns the result. */
static fp_handler_result_t run(const fp_handler_t *h, void *hstate, const char *job_json)
{
    cJSON *job = cJSON_Parse(job_json);
    assert_non_null(job);
    fp_handler_result_t res;
    memset(&res, 0, sizeof res);
    res.ok = true;
    res.retry = true;
    h->run(hstate, job, cJSON_GetObjectItemCaseSensitive(job, "args"), &res);
    cJSON_Delete(job);
    return res;
}

static void test_example_runs_like_in_a_child(void **state)
{
    fixture_t *f = *state;
    char extra[8192];
    snprintf(extra, sizeof extra,
             "[handlers.word_stats]\ndatabase = \"%s\"\nstop_words = [\"Dog\"]\n", f->db);
    const char *paths[] = {env("FP_EXAMPLE_PLUGIN"), NULL};
    assert_int_equal(load(f, paths, extra), 0);
    assert_non_null(f->plugins);
    const fp_handler_t *h = fp_registry_find(&f->reg, "word_stats");
    assert_non_null(h);
    assert_non_null(h->child_init);

    void *hstate = NULL;
    fp_err_t err;
    fp_err_clear(&err);
    assert_int_equal(h->child_init(NULL, &hstate, &err), 0);

    fp_handler_result_t res = run(h, hstate,
                                  "{\"type\":\"word_stats\",\"id\":7,\"args\":{\"text\":"
                                  "\"The cat saw the dog; the CAT ran, and a dog's cat sat.\"}}");
    assert_true(res.ok);
    assert_string_equal(res.result_json, "{\"words\":7,\"top\":\"cat\"}");
    free(res.result_json);

    res = run(h, hstate, "{\"type\":\"word_stats\",\"args\":{\"text\":\"the and of\"}}");
    assert_true(res.ok);
    assert_string_equal(res.result_json, "{\"words\":0,\"top\":null}");
    free(res.result_json);

    /* Bad args: a permanent failure with the plugin's message. */
    res = run(h, hstate, "{\"type\":\"word_stats\",\"args\":{\"text\":5}}");
    assert_false(res.ok);
    assert_false(res.retry);
    assert_null(res.result_json);
    assert_string_equal(res.error, "word_stats needs args.text, a string");

    h->child_fini(hstate);
    assert_int_equal(count_rows(f->db, "SELECT count(*) FROM word_stats"), 2);
    assert_int_equal(count_rows(f->db, "SELECT count(*) FROM word_stats WHERE words = 7 AND "
                                       "top = 'cat' AND length(text_hash) = 16"),
                     1);
}

/* child_init's failure reaches child.c's log line with the plugin's name. */
static void test_child_init_failure_names_the_plugin(void **state)
{
    fixture_t *f = *state;
    const char *paths[] = {env("FP_EXAMPLE_PLUGIN"), NULL};
    assert_int_equal(load(f, paths, NULL), 0);
    const fp_handler_t *h = fp_registry_find(&f->reg, "word_stats");
    void *hstate = NULL;
    fp_err_t err;
    fp_err_clear(&err);
    assert_int_equal(h->child_init(NULL, &hstate, &err), FP_ECONFIG);
    assert_string_equal(err.msg, "plugin word_stats: handlers.word_stats.database (a file "
                                 "name) is required");
}

static void test_missing_path(void **state)
{
    fixture_t *f = *state;
    const char *paths[] = {"/nonexistent/word_stats.so", NULL};
    expect_failure(f, paths, NULL, "plugin /nonexistent/word_stats.so: No such file or directory");
}

static void test_not_a_shared_object(void **state)
{
    fixture_t *f = *state;
    char path[4096];
    snprintf(path, sizeof path, "%s/notes.so", f->dir);
    assert_int_equal(fp_th_write_file(path, "not a plugin\n", 13), 0);
    const char *paths[] = {path, NULL};
    expect_failure(f, paths, NULL, "cannot load it: ");
    /* dlerror's own words follow. */
    assert_non_null(strstr(f->err.msg, "notes.so: "));
}

static void test_a_directory(void **state)
{
    fixture_t *f = *state;
    const char *paths[] = {f->dir, NULL};
    expect_failure(f, paths, NULL, "not a regular file");
}

static void test_no_entry_symbol(void **state)
{
    fixture_t *f = *state;
    const char *paths[] = {env("FP_TEST_PLUGIN_NO_ENTRY"), NULL};
    expect_failure(f, paths, NULL, "no \"fp_plugin_entry\" symbol");
}

static void test_wrong_abi_version(void **state)
{
    fixture_t *f = *state;
    const char *paths[] = {env("FP_TEST_PLUGIN_ABI2"), NULL};
    expect_failure(f, paths, NULL, "built for ABI 2, this forkpool speaks 1");
}

static void test_init_failure_carries_the_plugin_message(void **state)
{
    fixture_t *f = *state;
    const char *paths[] = {env("FP_EXAMPLE_PLUGIN"), NULL};
    expect_failure(f, paths, "[handlers.word_stats]\nstop_words = 5\n",
                   "init failed: handlers.word_stats.stop_words must be an array of strings");
    assert_non_null(strstr(f->err.msg, "plugin word_stats ("));
}

static void test_clash_with_a_builtin(void **state)
{
    fixture_t *f = *state;
    const char *paths[] = {env("FP_TEST_PLUGIN_CLASH"), NULL};
    expect_failure(f, paths, NULL, "handler \"echo\" clashes with the built-in handler \"echo\"");
}

/* The second copy is refused and the first, already loaded, unloaded. */
static void test_the_same_plugin_twice(void **state)
{
    fixture_t *f = *state;
    const char *paths[] = {env("FP_EXAMPLE_PLUGIN"), env("FP_EXAMPLE_PLUGIN"), NULL};
    expect_failure(f, paths, NULL, "are both named \"word_stats\"");
}

/* A good plugin followed by a bad one: nothing stays registered. */
static void test_failure_after_a_good_plugin_rolls_back(void **state)
{
    fixture_t *f = *state;
    const char *paths[] = {env("FP_EXAMPLE_PLUGIN"), "/nonexistent/b.so", NULL};
    expect_failure(f, paths, NULL, "/nonexistent/b.so: No such file or directory");
}

static void test_no_plugins_loads_nothing(void **state)
{
    fixture_t *f = *state;
    const char *paths[] = {NULL};
    size_t builtins = f->reg.count;
    assert_int_equal(load(f, paths, NULL), 0);
    assert_null(f->plugins);
    assert_int_equal(f->reg.count, builtins);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_example_runs_like_in_a_child),
        T(test_child_init_failure_names_the_plugin),
        T(test_missing_path),
        T(test_not_a_shared_object),
        T(test_a_directory),
        T(test_no_entry_symbol),
        T(test_wrong_abi_version),
        T(test_init_failure_carries_the_plugin_message),
        T(test_clash_with_a_builtin),
        T(test_the_same_plugin_twice),
        T(test_failure_after_a_good_plugin_rolls_back),
        T(test_no_plugins_loads_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
