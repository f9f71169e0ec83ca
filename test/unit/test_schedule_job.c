/* test_schedule_job.c: the pure Redis-side parts of periodic jobs
 * (lib/queue/schedule.c): the record's key, a tick's job id and payload,
 * and the fire script's order of writes. Running the script against Redis
 * with three daemons is test_it_schedule's job. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "queue/schedule.h"

static void test_key_and_id(void **state)
{
    (void)state;
    char *key = fp_schedule_key("fp", "reports");
    assert_string_equal(key, "fp:{reports}:schedule"); /* the queue's slot */
    free(key);
    char id[64];
    assert_true(fp_schedule_job_id("nightly", INT64_C(1796612400000), id, sizeof id));
    assert_string_equal(id, "sched:nightly:2026-12-07T03:00:00Z");
    assert_true(fp_schedule_job_id("t", INT64_C(1796612400250), id, sizeof id));
    assert_string_equal(id, "sched:t:2026-12-07T03:00:00.250Z"); /* never two ticks, one id */
    assert_false(fp_schedule_job_id("a-name-too-long-for-this-buffer", 0, id, 20));
}

static void test_payload(void **state)
{
    (void)state;
    fp_schedule_t s = {.name = "nightly", .type = "report", .args_json = "{\"kind\":\"daily\"}"};
    char *p = fp_schedule_payload(&s, INT64_C(1796612400000));
    assert_string_equal(p, "{\"type\":\"report\",\"args\":{\"kind\":\"daily\"},"
                           "\"id\":\"sched:nightly:2026-12-07T03:00:00Z\"}");
    free(p);
}

/* The job is written before the record: a script stopped between the two
 * leaves a tick that can fire again, never one recorded and not enqueued. */
static void test_script_order(void **state)
{
    (void)state;
    /* (The first HSET records a new schedule's start, which enqueues nothing.) */
    const char *xadd = strstr(fp_schedule_script, "'XADD'");
    assert_non_null(xadd);
    assert_non_null(strstr(xadd, "'HSET'"));
    assert_non_null(strstr(fp_schedule_script, "tick > rec"));
}

/* The fingerprint names what the ticks are ticks of: a changed cron text,
 * zone or period changes it; an every that says the same period does not. */
static void test_fingerprint(void **state)
{
    (void)state;
    fp_tz_t zone = {.name = "Europe/Berlin"};
    fp_schedule_t cron = {.expr = "0 3 * * *", .tz = &zone};
    cron.when.is_cron = true;
    fp_schedule_t every = {.expr = "60m"};
    every.when.every_ms = 3600000;
    char buf[FP_SCHEDULE_FINGERPRINT_MAX], tiny[8];
    assert_true(fp_schedule_fingerprint(&cron, buf, sizeof buf));
    assert_string_equal(buf, "cron 0 3 * * * tz Europe/Berlin");
    assert_true(fp_schedule_fingerprint(&every, buf, sizeof buf));
    assert_string_equal(buf, "every 3600000"); /* "1h" says the same */
    assert_false(fp_schedule_fingerprint(&cron, tiny, sizeof tiny));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_and_id),
        cmocka_unit_test(test_payload),
        cmocka_unit_test(test_script_order),
        cmocka_unit_test(test_fingerprint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
