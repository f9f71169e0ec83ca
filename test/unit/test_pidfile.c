/* test_pidfile.c: the locked pidfile. flock(2) locks belong to an open file
 * description, so a second take in this same process meets the first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "supervisor/pidfile.h"

static void test_second_take_names_the_holder(void **state)
{
    (void)state;
    char *dir = fp_th_tmpdir();
    char path[4096], want[128];
    snprintf(path, sizeof path, "%s/fp.pid", dir);
    fp_pidfile_t a, b;
    fp_err_t err;
    assert_int_equal(fp_pidfile_take(path, &a, &err), 0);
    assert_int_equal(fp_pidfile_take(path, &b, &err), FP_ECONFIG);
    assert_int_equal(b.fd, -1);
    snprintf(want, sizeof want, "locked by pid %ld", (long)getpid());
    assert_non_null(strstr(err.msg, want));
    fp_pidfile_release(&a);
    assert_int_equal(access(path, F_OK), -1);
    fp_th_rmrf(dir);
    free(dir);
}

static void test_stale_file_is_taken_over(void **state)
{
    (void)state;
    char *dir = fp_th_tmpdir();
    char path[4096], want[32];
    snprintf(path, sizeof path, "%s/fp.pid", dir);
    assert_int_equal(fp_th_write_file(path, "4194303\nleftover text\n", 22), 0);
    fp_pidfile_t pf;
    assert_int_equal(fp_pidfile_take(path, &pf, NULL), 0);
    char *text = fp_th_read_file(path, NULL);
    snprintf(want, sizeof want, "%ld\n", (long)getpid());
    assert_string_equal(text, want);
    free(text);
    fp_pidfile_release(&pf);
    fp_th_rmrf(dir);
    free(dir);
}

/* A pidfile path that is another name of some file (a hard link planted in
 * a directory the daemon's user can write): refused before a byte of that
 * file is changed. */
static void test_hard_linked_file_is_not_written(void **state)
{
    (void)state;
    char *dir = fp_th_tmpdir();
    char path[4096], victim[4096];
    snprintf(path, sizeof path, "%s/fp.pid", dir);
    snprintf(victim, sizeof victim, "%s/precious", dir);
    assert_int_equal(fp_th_write_file(victim, "precious\n", 9), 0);
    assert_int_equal(link(victim, path), 0);
    fp_pidfile_t pf;
    fp_err_t err;
    fp_err_clear(&err);
    assert_int_equal(fp_pidfile_take(path, &pf, &err), FP_ECONFIG);
    assert_int_equal(pf.fd, -1);
    char *text = fp_th_read_file(victim, NULL);
    assert_string_equal(text, "precious\n");
    free(text);
    fp_th_rmrf(dir);
    free(dir);
}

static void test_no_path_takes_nothing(void **state)
{
    (void)state;
    fp_pidfile_t pf;
    assert_int_equal(fp_pidfile_take("", &pf, NULL), 0);
    assert_int_equal(pf.fd, -1);
    fp_pidfile_release(&pf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_take_names_the_holder),
        cmocka_unit_test(test_stale_file_is_taken_over),
        cmocka_unit_test(test_hard_linked_file_is_not_written),
        cmocka_unit_test(test_no_path_takes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
