/* test_restart.c: lib/supervisor/restart.c — why a live child is replaced
 * (reload first, then the job limit, then memory), the log's wording for
 * it, and why a dead child was restarted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <signal.h>
#include <sys/wait.h>

#include "pool/child.h"
#include "supervisor/restart.h"

/* Wait statuses as waitpid reports them (Linux encoding). */
#define EXITED(code) ((code) << 8)
#define SIGNALED(sig) (sig)

static void test_a_child_within_its_limits_stays(void **state)
{
    (void)state;
    fp_slot_t slot = {.generation = 2, .max_jobs = 10, .jobs_done = 9, .rss_kb = 1024};
    fp_metrics_restart_t reason = FP_RESTART_COUNT;
    assert_false(fp_restart_retire_reason(&slot, 2, 1024 * 1024, &reason));
    assert_int_equal(reason, FP_RESTART_COUNT);
    /* No limits at all: never. */
    slot.max_jobs = 0;
    slot.jobs_done = 1000000;
    slot.rss_kb = 1 << 30;
    assert_false(fp_restart_retire_reason(&slot, 2, 0, &reason));
}

static void test_each_limit_names_its_reason(void **state)
{
    (void)state;
    fp_metrics_restart_t reason;
    fp_slot_t slot = {.generation = 1, .max_jobs = 10, .jobs_done = 10};
    assert_true(fp_restart_retire_reason(&slot, 1, 0, &reason));
    assert_int_equal(reason, FP_RESTART_MAX_JOBS);
    assert_string_equal(fp_restart_retire_text(reason), "max_jobs_per_child");

    slot = (fp_slot_t){.generation = 1, .rss_kb = 2049};
    assert_true(fp_restart_retire_reason(&slot, 1, 2048 * 1024, &reason));
    assert_int_equal(reason, FP_RESTART_MAX_MEMORY);
    assert_string_equal(fp_restart_retire_text(reason), "max_memory_per_child");
    slot.rss_kb = 2048; /* at the limit is not over it */
    assert_false(fp_restart_retire_reason(&slot, 1, 2048 * 1024, &reason));
}

static void test_an_outdated_configuration_comes_first(void **state)
{
    (void)state;
    fp_metrics_restart_t reason;
    fp_slot_t slot = {.generation = 1, .max_jobs = 1, .jobs_done = 5, .rss_kb = 1 << 20};
    assert_true(fp_restart_retire_reason(&slot, 2, 1024, &reason));
    assert_int_equal(reason, FP_RESTART_RELOAD);
    assert_string_equal(fp_restart_retire_text(reason), "a reload");
}

static void test_a_dead_child_is_blamed_by_its_slot_and_status(void **state)
{
    (void)state;
    fp_slot_t slot = {0};
    assert_int_equal(fp_restart_exit_reason(&slot, SIGNALED(SIGSEGV)), FP_RESTART_CRASH);
    assert_int_equal(fp_restart_exit_reason(&slot, EXITED(1)), FP_RESTART_CRASH);
    assert_int_equal(fp_restart_exit_reason(&slot, EXITED(FP_CHILD_EXIT_INIT_FAILED)),
                     FP_RESTART_INIT_FAILED);
    slot.start_timed_out = true;
    assert_int_equal(fp_restart_exit_reason(&slot, SIGNALED(SIGKILL)), FP_RESTART_INIT_FAILED);
    /* A job's timeout outranks the rest: the kill was ours, for the job. */
    slot.timed_out = true;
    assert_int_equal(fp_restart_exit_reason(&slot, EXITED(FP_CHILD_EXIT_INIT_FAILED)),
                     FP_RESTART_TIMEOUT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_child_within_its_limits_stays),
        cmocka_unit_test(test_each_limit_names_its_reason),
        cmocka_unit_test(test_an_outdated_configuration_comes_first),
        cmocka_unit_test(test_a_dead_child_is_blamed_by_its_slot_and_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
