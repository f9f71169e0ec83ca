/* test_privs.c: the privilege decision (fp_privs_decide), without root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>
#include <sys/stat.h>

#include "supervisor/privs.h"

static const fp_privs_id_t NOBODY = {true, 65534, 65534};
static const fp_privs_id_t NOGROUP = {true, 0, 65534};
static const fp_privs_id_t STAFF = {true, 0, 50};
static const fp_privs_id_t MISSING = {false, 0, 0};

static void test_nothing_configured_keeps_everything(void **state)
{
    (void)state;
    fp_privs_plan_t plan;
    assert_int_equal(fp_privs_decide("", "", &MISSING, &MISSING, 0, &plan, NULL), 0);
    assert_false(plan.drop);
    assert_false(plan.set_uid);
    assert_false(plan.not_root);
}

static void test_user_takes_its_primary_group(void **state)
{
    (void)state;
    fp_privs_plan_t plan;
    assert_int_equal(fp_privs_decide("nobody", "", &NOBODY, &MISSING, 0, &plan, NULL), 0);
    assert_true(plan.drop);
    assert_true(plan.set_uid);
    assert_int_equal(plan.uid, 65534);
    assert_int_equal(plan.gid, 65534);
    assert_string_equal(plan.user, "nobody");
}

static void test_group_overrides_the_users_group(void **state)
{
    (void)state;
    fp_privs_plan_t plan;
    assert_int_equal(fp_privs_decide("nobody", "staff", &NOBODY, &STAFF, 0, &plan, NULL), 0);
    assert_true(plan.set_uid);
    assert_int_equal(plan.uid, 65534);
    assert_int_equal(plan.gid, 50);
}

/* A group alone is applied, and the uid stays. */
static void test_group_only_drop_is_applied(void **state)
{
    (void)state;
    fp_privs_plan_t plan;
    assert_int_equal(fp_privs_decide("", "nogroup", &MISSING, &NOGROUP, 0, &plan, NULL), 0);
    assert_true(plan.drop);
    assert_false(plan.set_uid);
    assert_int_equal(plan.gid, 65534);
}

static void test_unknown_names_are_config_errors(void **state)
{
    (void)state;
    fp_privs_plan_t plan;
    fp_err_t err;
    assert_int_equal(fp_privs_decide("ghost", "", &MISSING, &MISSING, 0, &plan, &err),
                     FP_ECONFIG);
    assert_string_equal(err.msg, "daemon.user \"ghost\" does not exist");
    assert_int_equal(fp_privs_decide("", "ghosts", &MISSING, &MISSING, 0, &plan, &err),
                     FP_ECONFIG);
    assert_string_equal(err.msg, "daemon.group \"ghosts\" does not exist");
    /* Checked even when not root: a typo shows on any start. */
    assert_int_equal(fp_privs_decide("ghost", "", &MISSING, &MISSING, 1000, &plan, &err),
                     FP_ECONFIG);
}

static void test_not_root_keeps_ids_and_says_so(void **state)
{
    (void)state;
    fp_privs_plan_t plan;
    assert_int_equal(fp_privs_decide("nobody", "", &NOBODY, &MISSING, 1000, &plan, NULL), 0);
    assert_false(plan.drop);
    assert_true(plan.not_root);
}

/* user = "root": the gid still changes, but there is no uid to give up
 * (and setuid(0) succeeding afterwards is no failure). */
static void test_user_root_sets_no_uid(void **state)
{
    (void)state;
    static const fp_privs_id_t root = {true, 0, 0};
    fp_privs_plan_t plan;
    assert_int_equal(fp_privs_decide("root", "nogroup", &root, &NOGROUP, 0, &plan, NULL), 0);
    assert_true(plan.drop);
    assert_false(plan.set_uid);
    assert_int_equal(plan.gid, 65534);
}

static void test_only_a_plain_file_is_handed_over(void **state)
{
    (void)state;
    struct stat file = {.st_mode = S_IFREG | 0640, .st_nlink = 1, .st_dev = 8, .st_ino = 42};
    struct stat same = file, link = file, other = file, two = file, dir = file;
    assert_true(fp_privs_may_chown(&file, &same));
    link.st_mode = S_IFLNK | 0777;
    assert_false(fp_privs_may_chown(&file, &link)); /* the path is a symlink */
    other.st_ino = 43;
    assert_false(fp_privs_may_chown(&file, &other)); /* replaced since the open */
    two.st_nlink = 2;
    assert_false(fp_privs_may_chown(&two, &two)); /* a hard link to another file */
    dir.st_mode = S_IFDIR | 0755;
    assert_false(fp_privs_may_chown(&dir, &dir));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_configured_keeps_everything),
        cmocka_unit_test(test_user_takes_its_primary_group),
        cmocka_unit_test(test_group_overrides_the_users_group),
        cmocka_unit_test(test_group_only_drop_is_applied),
        cmocka_unit_test(test_unknown_names_are_config_errors),
        cmocka_unit_test(test_not_root_keeps_ids_and_says_so),
        cmocka_unit_test(test_user_root_sets_no_uid),
        cmocka_unit_test(test_only_a_plain_file_is_handed_over),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
