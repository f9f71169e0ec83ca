/* test_config_embedded.c: the embedded queue serves the settings it once
 * refused with "needs Redis", so they load without Redis: [limits.TYPE]
 * concurrency and rate (shared through the queue file, lib/sqlq/limits.c),
 * local_concurrency (this daemon's own count) and [[schedule]] (its record
 * in the queue file, lib/sqlq/schedule.h); and they load with Redis too. */
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

static void expect_ok(const char *text)
{
    fp_config_t *cfg = NULL;
    fp_err_t err = {0};
    if (fp_config_load_text(text, strlen(text), "t.toml", &cfg, &err) != 0)
        fail_msg("unexpected error: %s", err.msg);
    fp_config_free(cfg);
}

static void shared_limits_load(void **state)
{
    (void)state;
    expect_ok("[limits.send_email]\nconcurrency = 2\n");
    expect_ok("[queue]\nbackend = \"sqlite\"\n[limits.send_email]\nrate = \"10/s\"\n"
              "concurrency = 1\n");
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
        cmocka_unit_test_setup(shared_limits_load, clear_env),
        cmocka_unit_test_setup(schedule_is_allowed, clear_env),
        cmocka_unit_test_setup(local_concurrency_is_allowed, clear_env),
        cmocka_unit_test_setup(redis_keeps_them, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
