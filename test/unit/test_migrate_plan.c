/* test_migrate_plan.c: lib/queue/migrate_plan.c, `forkpool migrate`'s pure
 * decisions: which way --to points (and the forms refused as usage errors),
 * and when a source in use refuses the run (leases, pending entries, live
 * daemons) unless --force. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "queue/migrate_plan.h"

static void test_target_forms(void **state)
{
    (void)state;
    fp_migrate_target_t t;
    fp_err_t err = {0};
    assert_int_equal(fp_migrate_target_parse("redis://127.0.0.1:6379/2", &t, &err), 0);
    assert_int_equal(t.way, FP_MIGRATE_TO_REDIS);
    assert_string_equal(t.url, "redis://127.0.0.1:6379/2");
    assert_int_equal(fp_migrate_target_parse("rediss://h:6380", &t, &err), 0);
    assert_int_equal(t.way, FP_MIGRATE_TO_REDIS);
    assert_int_equal(fp_migrate_target_parse("unix:///run/redis.sock", &t, &err), 0);
    assert_int_equal(t.way, FP_MIGRATE_TO_REDIS);
    assert_int_equal(fp_migrate_target_parse("sqlite:/var/lib/q.db", &t, &err), 0);
    assert_int_equal(t.way, FP_MIGRATE_TO_SQLITE);
    assert_string_equal(t.path, "/var/lib/q.db");
    assert_int_equal(fp_migrate_target_parse("sqlite:rel.db", &t, &err), 0);
    assert_string_equal(t.path, "rel.db");
}

static void test_target_refused(void **state)
{
    (void)state;
    fp_migrate_target_t t;
    const char *bad[] = {"", "sqlite:", "127.0.0.1:6379", "sentinel://h", "/tmp/q.db", "http://x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fp_err_t err = {0};
        assert_int_equal(fp_migrate_target_parse(bad[i], &t, &err), FP_EUSAGE);
        assert_non_null(strstr(err.msg, "sqlite:PATH"));
    }
}

static void test_check(void **state)
{
    (void)state;
    fp_err_t err = {0};
    fp_migrate_busy_t idle = {"default", 0, 0, 0};
    assert_int_equal(fp_migrate_check(&idle, false, &err), 0);
    fp_migrate_busy_t leased = {"default", 3, 0, 0};
    assert_int_equal(fp_migrate_check(&leased, false, &err), -EBUSY);
    assert_non_null(strstr(err.msg, "queue default: 3 jobs are leased"));
    assert_non_null(strstr(err.msg, "--force"));
    assert_int_equal(fp_migrate_check(&leased, true, &err), 0);
    fp_migrate_busy_t pending = {"mail", 0, 2, 0};
    assert_int_equal(fp_migrate_check(&pending, false, &err), -EBUSY);
    assert_non_null(strstr(err.msg, "queue mail: 2 jobs are pending"));
    fp_migrate_busy_t fleet = {"mail", 0, 0, 1};
    assert_int_equal(fp_migrate_check(&fleet, false, &err), -EBUSY);
    assert_non_null(strstr(err.msg, "1 daemons keep a live heartbeat"));
    assert_int_equal(fp_migrate_check(&fleet, true, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target_forms),
        cmocka_unit_test(test_target_refused),
        cmocka_unit_test(test_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
