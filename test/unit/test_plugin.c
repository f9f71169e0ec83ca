/* test_plugin.c: lib/handlers/plugin_loader.c — loading the example plugin
 * (examples/plugin/word_stats.c) and running its handler in-process the way
 * a child does (child_init, run, child_fini); the plugin context: two
 * plugins (test/plugins/state_plugin.c) keep separate ctx->state, a real
 * forked child gets its child_id and a copy of init's state, fini runs in
 * the supervisor only and only for plugins whose init succeeded; and each
 * bad plugin: a path that does not exist, a file that is not a shared
 * object, one without fp_plugin_entry, one built for ABI 1, an init that
 * fails, a handler named like a built-in, the same plugin twice; after every
 * failure the registry is as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "channel.h"
#include "daemon.h"
#include "handlers/handlers.h"
#include "harness.h"
#include "handlers/plugin_loader.h"
#include "pool/spawn.h"

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
    assert_int_equal(fp_td_sql_at(f->db, "SELECT count(*) FROM word_stats"), 2);
    assert_int_equal(fp_td_sql_at(f->db, "SELECT count(*) FROM word_stats WHERE words = 7 AND "
                                         "top = 'cat' AND length(text_hash) = 16"),
                     1);
}

/* The job's "attempt" handed to a plugin is read without casting a double
 * that int64_t cannot hold (UBSan aborts on 1e300, -1e300 or NaN); such a
 * value counts as no attempt. */
static void test_attempt_out_of_range_is_read_safely(void **state)
{
    fixture_t *f = *state;
    char extra[8192];
    snprintf(extra, sizeof extra, "[handlers.word_stats]\ndatabase = \"%s\"\n", f->db);
    const char *paths[] = {env("FP_EXAMPLE_PLUGIN"), NULL};
    assert_int_equal(load(f, paths, extra), 0);
    const fp_handler_t *h = fp_registry_find(&f->reg, "word_stats");
    assert_non_null(h);
    void *hstate = NULL;
    fp_err_t err;
    fp_err_clear(&err);
    assert_int_equal(h->child_init(NULL, &hstate, &err), 0);
    const double attempts[] = {1e300, -1e300, NAN, INFINITY};
    for (size_t i = 0; i < sizeof attempts / sizeof attempts[0]; i++) {
        cJSON *job = cJSON_Parse("{\"type\":\"word_stats\",\"args\":{\"text\":\"cat\"}}");
        assert_non_null(job);
        cJSON_AddNumberToObject(job, "attempt", attempts[i]);
        fp_handler_result_t res;
        memset(&res, 0, sizeof res);
        res.ok = res.retry = true;
        h->run(hstate, job, cJSON_GetObjectItemCaseSensitive(job, "args"), &res);
        assert_true(res.ok);
        free(res.result_json);
        cJSON_Delete(job);
    }
    h->child_fini(hstate);
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
    const char *paths[] = {env("FP_TEST_PLUGIN_ABI1"), NULL};
    expect_failure(f, paths, NULL,
                   "built for ABI 1, this forkpool speaks 2; rebuild it against this "
                   "forkpool's forkpool/plugin.h");
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

/* ---- the plugin context (test/plugins/state_plugin.c) -------------------- */

/* Config for state_a and state_b: each its own tag, fini into fini.txt. */
static const char *state_config(fixture_t *f, char *buf, size_t size, const char *extra_a)
{
    snprintf(buf, size,
             "[handlers.state_a]\ntag = \"A\"\nfini_file = \"%s/fini.txt\"\n%s"
             "[handlers.state_b]\ntag = \"B\"\nfini_file = \"%s/fini.txt\"\n",
             f->dir, extra_a != NULL ? extra_a : "", f->dir);
    return buf;
}

static char *read_fini(fixture_t *f)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/fini.txt", f->dir);
    return fp_th_read_file(path, NULL);
}

/* The result's object, parsed; fails the test unless the run succeeded. */
static cJSON *run_json(const fp_handler_t *h, void *hstate, const char *type)
{
    char job[128];
    snprintf(job, sizeof job, "{\"type\":\"%s\"}", type);
    fp_handler_result_t res = run(h, hstate, job);
    if (!res.ok)
        fail_msg("%s failed: %s", type, res.error);
    cJSON *out = cJSON_Parse(res.result_json);
    free(res.result_json);
    assert_non_null(out);
    return out;
}

static double num(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static const char *str(const cJSON *obj, const char *key)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));
    assert_non_null(v);
    return v;
}

static void test_two_plugins_keep_separate_state(void **state)
{
    fixture_t *f = *state;
    char extra[8192];
    const char *paths[] = {env("FP_TEST_PLUGIN_STATE_A"), env("FP_TEST_PLUGIN_STATE_B"), NULL};
    assert_int_equal(load(f, paths, state_config(f, extra, sizeof extra, NULL)), 0);
    const fp_handler_t *ha = fp_registry_find(&f->reg, "state_a_run");
    const fp_handler_t *hb = fp_registry_find(&f->reg, "state_b_run");
    assert_non_null(ha);
    assert_non_null(hb);
    void *hstate = NULL;
    fp_err_t err;
    fp_err_clear(&err);
    assert_int_equal(ha->child_init(NULL, &hstate, &err), 0); /* every plugin's child_init */

    cJSON *r = NULL;
    for (int i = 0; i < 3; i++) {
        cJSON_Delete(r);
        r = run_json(ha, hstate, "state_a_run");
    }
    cJSON *rb = run_json(hb, hstate, "state_b_run");
    assert_string_equal(str(r, "plugin"), "state_a");
    assert_string_equal(str(r, "tag"), "A");
    assert_int_equal((int)num(r, "runs"), 3);
    assert_int_equal((int)num(r, "child_inits"), 1);
    assert_string_equal(str(rb, "plugin"), "state_b");
    assert_string_equal(str(rb, "tag"), "B");
    assert_int_equal((int)num(rb, "runs"), 1);
    assert_int_equal((int)num(rb, "child_inits"), 1);
    assert_int_equal((int)num(rb, "child_id"), -1); /* not in a child */
    cJSON_Delete(r);
    cJSON_Delete(rb);
    ha->child_fini(hstate);

    /* fini, newest first, each with its own state. */
    fp_plugins_free(f->plugins);
    f->plugins = NULL;
    char want[256];
    snprintf(want, sizeof want, "fini state_b pid=%ld runs=1\nfini state_a pid=%ld runs=3\n",
             (long)getpid(), (long)getpid());
    char *got = read_fini(f);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

/* A forked process that frees the set (a child never should, but if it
 * did) must not run the supervisor's fini; the supervisor then does. */
static void test_fini_runs_in_the_supervisor_only(void **state)
{
    fixture_t *f = *state;
    char extra[8192];
    const char *paths[] = {env("FP_TEST_PLUGIN_STATE_A"), env("FP_TEST_PLUGIN_STATE_B"), NULL};
    assert_int_equal(load(f, paths, state_config(f, extra, sizeof extra, NULL)), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        fp_plugins_free(f->plugins);
        _exit(0);
    }
    fp_tc_expect_exit(pid, 0);
    char *got = read_fini(f);
    assert_null(got);

    fp_plugins_free(f->plugins);
    f->plugins = NULL;
    got = read_fini(f);
    assert_non_null(got);
    assert_non_null(strstr(got, "fini state_b pid="));
    assert_non_null(strstr(got, "fini state_a pid="));
    free(got);
}

/* A load that fails after a good plugin finis the good one (its init ran)
 * and not the one whose init failed. */
static void test_failed_load_finis_only_what_inited(void **state)
{
    fixture_t *f = *state;
    char extra[8192];
    const char *paths[] = {env("FP_TEST_PLUGIN_STATE_A"), env("FP_EXAMPLE_PLUGIN"), NULL};
    snprintf(extra, sizeof extra,
             "[handlers.state_a]\nfini_file = \"%s/fini.txt\"\n"
             "[handlers.word_stats]\nstop_words = 5\n",
             f->dir);
    expect_failure(f, paths, extra, "init failed: handlers.word_stats.stop_words");
    char want[128];
    snprintf(want, sizeof want, "fini state_a pid=%ld runs=0\n", (long)getpid());
    char *got = read_fini(f);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

/* Through a real native child (fp_spawn, child.c): child_init and run see
 * the child's id (slot 4 -> 5) and a copy of init's state; what the child
 * changes stays in the child (the supervisor's fini still sees runs=0). */
static void test_a_real_child_gets_its_id_and_a_copy_of_the_state(void **state)
{
    fixture_t *f = *state;
    char extra[8192];
    const char *paths[] = {env("FP_TEST_PLUGIN_STATE_A"), env("FP_TEST_PLUGIN_STATE_B"), NULL};
    memset(&f->reg, 0, sizeof f->reg); /* the plugins only: no record_event in the child */
    assert_int_equal(load(f, paths, state_config(f, extra, sizeof extra, NULL)), 0);
    fp_child_spec_t spec = {.child_id = 4, .cfg = f->cfg, .handlers = &f->reg};
    pid_t pid;
    int fd;
    fp_err_t err;
    fp_err_clear(&err);
    assert_int_equal(fp_spawn(&spec, &pid, &fd, &err), 0);
    fp_tc_chan_t ch = {fd, NULL, 0, 0};
    fp_tc_expect_ready(&ch, pid);
    for (int i = 1; i <= 2; i++) {
        char line[160];
        snprintf(line, sizeof line,
                 "{\"op\":\"job\",\"seq\":%d,\"attempt\":0,\"job\":{\"type\":\"state_b_run\"}}\n",
                 i);
        fp_tc_write(&ch, line);
        cJSON *done = fp_tc_read_json(&ch);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(done, "ok")));
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(done, "result");
        assert_int_equal((int)num(r, "child_id"), 4);
        assert_int_equal((int)num(r, "runs"), i);
        assert_int_equal((int)num(r, "child_inits"), 1);
        assert_string_equal(str(r, "tag"), "B");
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "forked")));
        cJSON_Delete(done);
    }
    fp_tc_write(&ch, "{\"op\":\"stop\"}\n");
    fp_tc_expect_exit(pid, 0);
    fp_tc_close(&ch);
    assert_null(read_fini(f)); /* a child never runs fini */

    fp_plugins_free(f->plugins);
    f->plugins = NULL;
    char *got = read_fini(f);
    assert_non_null(got);
    assert_non_null(strstr(got, "fini state_b pid="));
    assert_non_null(strstr(got, " runs=0\nfini state_a"));
    free(got);
}

/* child_init failing: its message, and the plugins before it are
 * child_fini'd (the child then exits 78 in child.c). */
static void test_child_init_failure_carries_the_message(void **state)
{
    fixture_t *f = *state;
    char extra[8192];
    const char *paths[] = {env("FP_TEST_PLUGIN_STATE_B"), env("FP_TEST_PLUGIN_STATE_A"), NULL};
    assert_int_equal(load(f, paths, state_config(f, extra, sizeof extra,
                                                 "fail_child_init = \"no database today\"\n")),
                     0);
    const fp_handler_t *h = fp_registry_find(&f->reg, "state_b_run");
    void *hstate = NULL;
    fp_err_t err;
    fp_err_clear(&err);
    assert_int_equal(h->child_init(NULL, &hstate, &err), FP_ECONFIG);
    assert_string_equal(err.msg, "plugin state_a: no database today");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_example_runs_like_in_a_child),
        T(test_attempt_out_of_range_is_read_safely),
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
        T(test_two_plugins_keep_separate_state),
        T(test_fini_runs_in_the_supervisor_only),
        T(test_failed_load_finis_only_what_inited),
        T(test_a_real_child_gets_its_id_and_a_copy_of_the_state),
        T(test_child_init_failure_carries_the_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
