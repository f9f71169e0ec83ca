/* test_config_schedule.c: [[schedule]] in the configuration
 * (lib/config/config_schedule.c): what a valid table becomes, the defaults
 * (UTC, the first queue, missed = "one", args {}), and every error a user
 * can make, each with its line:col. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"

static fp_config_t *load_ok(const char *text)
{
    fp_config_t *cfg = NULL;
    fp_err_t err = {0};
    /* On Redis, as these checks were written; the embedded queue loads the
     * same settings (test_config_embedded.c). */
    setenv("FORKPOOL_REDIS_URL", "redis://127.0.0.1:6379", 1);
    if (fp_config_load_text(text, strlen(text), "t.toml", &cfg, &err) != 0)
        fail_msg("unexpected error: %s\n--- text:\n%s", err.msg, text);
    return cfg;
}

static void expect_error(const char *text, const char *want)
{
    fp_config_t *cfg = NULL;
    fp_err_t err = {0};
    assert_int_equal(fp_config_load_text(text, strlen(text), "t.toml", &cfg, &err), FP_ECONFIG);
    assert_null(cfg);
    if (strstr(err.msg, want) == NULL)
        fail_msg("got \"%s\", want \"%s\"", err.msg, want);
}

static void test_full_table(void **state)
{
    (void)state;
    fp_config_t *cfg = load_ok("[queues]\nnames = [\"default\", \"reports\"]\n"
                               "[[schedule]]\nname = \"nightly-report\"\ncron = \"0 3 * * *\"\n"
                               "timezone = \"Europe/Berlin\"\ntype = \"report\"\n"
                               "args = { kind = \"daily\", n = 2 }\nqueue = \"reports\"\n"
                               "missed = \"all\"\n"
                               "[[schedule]]\nname = \"tick\"\nevery = \"30s\"\ntype = \"t\"\n");
    assert_int_equal(cfg->schedules.count, 2);
    const fp_schedule_t *s = &cfg->schedules.items[0];
    assert_string_equal(s->name, "nightly-report");
    assert_true(s->when.is_cron);
    assert_string_equal(s->expr, "0 3 * * *");
    assert_string_equal(s->tz->name, "Europe/Berlin");
    assert_ptr_equal(s->when.tz, s->tz);
    assert_string_equal(s->args_json, "{\"kind\":\"daily\",\"n\":2}");
    assert_string_equal(s->queue, "reports");
    assert_int_equal(s->missed, FP_MISSED_ALL);
    s = &cfg->schedules.items[1];
    assert_false(s->when.is_cron);
    assert_int_equal(s->when.every_ms, 30000);
    assert_string_equal(s->queue, "default"); /* the first queue */
    assert_string_equal(s->args_json, "{}");
    assert_int_equal(s->missed, FP_MISSED_ONE);
    char *dump = fp_config_dump_json(cfg);
    assert_non_null(strstr(dump, "\"30s\""));
    assert_non_null(strstr(dump, "\"Europe/Berlin\""));
    free(dump);
    fp_config_free(cfg);
    cfg = load_ok("[pool]\nchildren = 1\n");
    assert_int_equal(cfg->schedules.count, 0);
    fp_config_free(cfg);
}

#define HEAD "[[schedule]]\nname = \"a\"\ntype = \"t\"\n"

static void test_errors(void **state)
{
    (void)state;
    expect_error(HEAD "cron = \"0 24 * * *\"\n",
                 "t.toml:4:1: [[schedule]] \"a\" cron \"0 24 * * *\": column 3: hour: 24 is out "
                 "of range 0-23");
    expect_error(HEAD "cron = \"0 3 * * *\"\ntimezone = \"Mars/Base\"\n",
                 "t.toml:5:1: [[schedule]] \"a\" timezone \"Mars/Base\": unknown time zone");
    expect_error(HEAD "cron = \"0 3 * * *\"\nevery = \"1m\"\n",
                 "t.toml:4:1: [[schedule]] \"a\" needs exactly one of cron and every");
    expect_error(HEAD, "t.toml:1:1: [[schedule]] \"a\" needs exactly one of cron and every");
    expect_error(HEAD "every = \"1m\"\n" HEAD "every = \"2m\"\n",
                 "t.toml:6:1: [[schedule]] \"a\" is defined twice");
    expect_error(HEAD "every = \"1m\"\nqueue = \"nope\"\n",
                 "t.toml:5:1: [[schedule]] \"a\" queue \"nope\" is not in [queues] names");
    expect_error(HEAD "every = \"500ms\"\n", "every must be at least 1s");
    expect_error(HEAD "every = \"soon\"\n", "t.toml:4:1: [[schedule]] \"a\" every:");
    expect_error(HEAD "every = \"1m\"\ntimezone = \"UTC\"\n", "timezone only applies to cron");
    expect_error(HEAD "every = \"1m\"\nmissed = \"some\"\n", "missed must be one of");
    expect_error(HEAD "every = \"1m\"\nargs = [1]\n", "args must be a table, got array");
    expect_error(HEAD "every = \"1m\"\ncorn = 1\n", "unknown key \"corn\" (did you mean \"cron\"?)");
    expect_error(HEAD "cron = \"0 0 30 2 *\"\n", "never fires");
    expect_error("[[schedule]]\nevery = \"1m\"\ntype = \"t\"\n",
                 "t.toml:1:1: [[schedule]] #1 needs a name");
    expect_error("[[schedule]]\nname = \"a b\"\nevery = \"1m\"\ntype = \"t\"\n", "name must be");
    expect_error("[[schedule]]\nname = \"a\"\nevery = \"1m\"\n", "needs a type");
    expect_error("[schedule]\nname = \"a\"\n", "write [[schedule]], not [schedule]");
}

int main(void)
{
    unsetenv("FORKPOOL_REDIS_URL");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_table),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
