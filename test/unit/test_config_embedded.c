/* test_config_embedded.c: what the embedded queue cannot serve is refused
 * at load (lib/config/config_embedded.c), never parsed and then ignored:
 * [limits.TYPE] concurrency and rate (shared across daemons through Redis).
 * local_concurrency, which is this daemon's own count, stays allowed, and
 * so does [[schedule]] (its record kept in the queue file). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "config/config.h"

static int clear_env(void **state)
{
    (void)state;
    unsetenv("FORKPOOL_REDIS_URL");
    unsetenv("FORKPOOL_SQLITE_PATH");
    return 0;
}

static void expect_error(const char *text, const char *msg)
{
    fp_config_t *cfg = NULL;
    fp_err_t err = {0};
    int rc = fp_config_load_text(text, strlen(text), "t.toml", &cfg, &err);
    if (rc != FP_ECONFIG || strstr(err.msg, msg) == NULL)
        fail_msg("got %d \"%s\"\nwant one containing \"%s\"", rc, err.msg, msg);
    assert_null(cfg);
}

static void expect_ok(const char *text)
{
    fp_config_t *cfg = NULL;
    fp_err_t err = {0};
    if (fp_config_load_text(text, strlen(text), "t.toml", &cfg, &err) != 0)
        fail_msg("unexpected error: %s", err.msg);
    fp_config_free(cfg);
}

static void concurrency_needs_redis(void **state)
{
    (void)state;
    expect_error("[limits.send_email]\nconcurrency = 2\n",
                 "t.toml:2:1: [limits.send_email] concurrency needs Redis");
}

static void rate_needs_redis(void **state)
{
    (void)state;
    expect_error("[queue]\nbackend = \"sqlite\"\n[limits.send_email]\nrate = \"10/s\"\n",
                 "[limits.send_email] rate needs Redis");
}

static void schedule_is_allowed(void **state)
{
    (void)state;
    expect_ok("[[schedule]]\nname = \"n\"\nevery = \"1m\"\ntype = \"noop\"\n");
}

static void local_concurrency_is_allowed(void **state)
{
    (void)state;
    expect_ok("[limits.send_email]\nlocal_concurrency = 2\n");
}

static void redis_keeps_them(void **state)
{
    (void)state;
    expect_ok("[redis]\nurl = \"redis://127.0.0.1:6379\"\n[limits.send_email]\nconcurrency = 2\n"
              "[[schedule]]\nname = \"n\"\nevery = \"1m\"\ntype = \"noop\"\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(concurrency_needs_redis, clear_env),
        cmocka_unit_test_setup(rate_needs_redis, clear_env),
        cmocka_unit_test_setup(schedule_is_allowed, clear_env),
        cmocka_unit_test_setup(local_concurrency_is_allowed, clear_env),
        cmocka_unit_test_setup(redis_keeps_them, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
