/* test_config_backend.c: which queue a configuration picks (queue.backend,
 * lib/config/config_backend.c) and where the embedded queue's file is.
 * "auto" must pick Redis whenever anything says where a Redis is, since
 * picking the file instead would strand the jobs already in that Redis. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

static int clear_env(void **state)
{
    (void)state;
    unsetenv("FORKPOOL_REDIS_URL");
    unsetenv("FORKPOOL_SQLITE_PATH");
    return 0;
}

static fp_config_t *load(const char *text, const char *name)
{
    fp_config_t *cfg = NULL;
    fp_err_t err = {0};
    if (fp_config_load_text(text, strlen(text), name, &cfg, &err) != 0)
        fail_msg("unexpected error: %s\n--- text:\n%s", err.msg, text);
    return cfg;
}

static void expect_error(const char *text, const char *msg)
{
    fp_config_t *cfg = NULL;
    fp_err_t err = {0};
    int rc = fp_config_load_text(text, strlen(text), "t.toml", &cfg, &err);
    if (rc != FP_ECONFIG || strcmp(err.msg, msg) != 0)
        fail_msg("got %d \"%s\"\nwant \"%s\"", rc, err.msg, msg);
    assert_null(cfg);
}

static void cwd_path(char *buf, size_t size, const char *file)
{
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(buf, size, "%s/%s", cwd, file);
}

static void nothing_says_redis_picks_the_file(void **state)
{
    (void)state;
    char want[PATH_MAX + 32];
    fp_config_t *cfg = load("[queues]\nnames = [\"a\"]\n", "t.toml");
    assert_int_equal(cfg->queue.backend, FP_BACKEND_SQLITE);
    assert_string_equal(cfg->queue.backend_why, "no Redis configured");
    cwd_path(want, sizeof want, "forkpool-queue.db");
    assert_string_equal(cfg->sqlite.path, want);
    fp_config_free(cfg);
}

static void any_redis_key_picks_redis(void **state)
{
    (void)state;
    const char *texts[] = {
        "[redis]\nurl = \"redis://127.0.0.1:6390/0\"\n",
        "[redis]\nprefix = \"x\"\n", /* written for the default local Redis */
        "[redis]\nsentinels = [\"127.0.0.1:26379\"]\nmaster_name = \"m\"\n",
        "[redis]\ncluster = [\"127.0.0.1:7000\"]\n",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        fp_config_t *cfg = load(texts[i], "t.toml");
        assert_int_equal(cfg->queue.backend, FP_BACKEND_REDIS);
        assert_string_equal(cfg->sqlite.path, "");
        fp_config_free(cfg);
    }
}

static void the_environment_url_picks_redis(void **state)
{
    (void)state;
    setenv("FORKPOOL_REDIS_URL", "redis://127.0.0.1:6391/0", 1);
    fp_config_t *cfg = load("", "t.toml");
    assert_int_equal(cfg->queue.backend, FP_BACKEND_REDIS);
    assert_string_equal(cfg->queue.backend_why, "FORKPOOL_REDIS_URL is set");
    fp_config_free(cfg);
    /* An explicit choice of the file wins over a host-wide variable. */
    cfg = load("[queue]\nbackend = \"sqlite\"\n", "t.toml");
    assert_int_equal(cfg->queue.backend, FP_BACKEND_SQLITE);
    fp_config_free(cfg);
    unsetenv("FORKPOOL_REDIS_URL");
}

static void explicit_redis_keeps_the_default_url(void **state)
{
    (void)state;
    fp_config_t *cfg = load("[queue]\nbackend = \"redis\"\n", "t.toml");
    assert_int_equal(cfg->queue.backend, FP_BACKEND_REDIS);
    assert_string_equal(cfg->redis.url, "redis://127.0.0.1:6379/0");
    fp_config_free(cfg);
}

static void the_path_is_taken_from_the_config_directory(void **state)
{
    (void)state;
    char want[PATH_MAX + 32];
    fp_config_t *cfg = load("", "/etc/fp/forkpool.toml");
    assert_string_equal(cfg->sqlite.path, "/etc/fp/forkpool-queue.db");
    fp_config_free(cfg);
    cfg = load("[sqlite]\npath = \"q/jobs.db\"\n", "/etc/fp/forkpool.toml");
    assert_string_equal(cfg->sqlite.path, "/etc/fp/q/jobs.db");
    fp_config_free(cfg);
    cfg = load("[sqlite]\npath = \"/var/lib/fp.db\"\n", "conf/forkpool.toml");
    assert_string_equal(cfg->sqlite.path, "/var/lib/fp.db");
    fp_config_free(cfg);
    cfg = load("", "conf/forkpool.toml");
    cwd_path(want, sizeof want, "conf/forkpool-queue.db");
    assert_string_equal(cfg->sqlite.path, want);
    fp_config_free(cfg);
    setenv("FORKPOOL_SQLITE_PATH", "env.db", 1);
    cfg = load("[sqlite]\npath = \"file.db\"\n", "/etc/fp/forkpool.toml");
    cwd_path(want, sizeof want, "env.db");
    assert_string_equal(cfg->sqlite.path, want);
    fp_config_free(cfg);
    unsetenv("FORKPOOL_SQLITE_PATH");
}

static void synchronous_defaults_to_normal(void **state)
{
    (void)state;
    fp_config_t *cfg = load("", "t.toml");
    assert_int_equal(cfg->sqlite.synchronous, FP_SQLITE_SYNC_NORMAL);
    fp_config_free(cfg);
    cfg = load("[sqlite]\nsynchronous = \"full\"\n", "t.toml");
    assert_int_equal(cfg->sqlite.synchronous, FP_SQLITE_SYNC_FULL);
    fp_config_free(cfg);
}

static void keys_that_would_do_nothing_are_errors(void **state)
{
    (void)state;
    expect_error("[queue]\nbackend = \"sqlite\"\n[redis]\nurl = \"redis://h:1/0\"\n",
                 "t.toml:4:1: [redis] url is not used with [queue] backend = \"sqlite\" (the "
                 "embedded queue): remove it, or set backend = \"redis\"");
    expect_error("[redis]\nurl = \"redis://h:1/0\"\n[sqlite]\npath = \"x.db\"\n",
                 "t.toml:4:1: [sqlite] path is only used by the embedded queue, but the jobs "
                 "are in Redis (the configuration has a [redis] section)");
    expect_error("[redis]\nurl = \"redis://h:1/0\"\n[sqlite]\nsynchronous = \"full\"\n",
                 "t.toml:4:1: [sqlite] synchronous is only used by the embedded queue, but the "
                 "jobs are in Redis (the configuration has a [redis] section)");
    expect_error("[queue]\nbackend = \"postgres\"\n",
                 "t.toml:2:1: [queue] backend must be one of \"auto\", \"redis\", \"sqlite\", "
                 "got \"postgres\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(nothing_says_redis_picks_the_file, clear_env),
        cmocka_unit_test_setup(any_redis_key_picks_redis, clear_env),
        cmocka_unit_test_setup(the_environment_url_picks_redis, clear_env),
        cmocka_unit_test_setup(explicit_redis_keeps_the_default_url, clear_env),
        cmocka_unit_test_setup(the_path_is_taken_from_the_config_directory, clear_env),
        cmocka_unit_test_setup(synchronous_defaults_to_normal, clear_env),
        cmocka_unit_test_setup(keys_that_would_do_nothing_are_errors, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
