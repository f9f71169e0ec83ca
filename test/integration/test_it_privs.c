/* test_it_privs.c: the privilege model, as root (the tests skip otherwise):
 * daemon.user/group drop what they say before any plugin or child runs, the
 * log file and pidfile belong to the target user, supplementary groups go,
 * HUP re-reads the config as that user, check-config warns when it could
 * not, and the pidfile's lock keeps a second daemon out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"

typedef struct ids_s {
    uid_t uid;
    gid_t gid;
} ids_t;

static ids_t target(void)
{
    struct passwd *pw = getpwnam("nobody");
    struct group *gr = getgrnam("nogroup");
    assert_non_null(pw);
    assert_non_null(gr);
    return (ids_t){pw->pw_uid, gr->gr_gid};
}

/* The temp dir belongs to the target user, as a RuntimeDirectory would:
 * its children write the events database there. */
static int setup(void **state)
{
    if (geteuid() != 0) {
        print_message("not root: privilege tests skipped\n");
        return -1;
    }
    int rc = fp_td_setup(state);
    fp_td_t *td = *state;
    ids_t t = target();
    if (rc == 0 && (chown(td->dir, t.uid, t.gid) != 0 || chmod(td->dir, 0755) != 0))
        rc = -1;
    return rc;
}

static void path_in(const fp_td_t *td, const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", td->dir, name);
}

/* A copy of src at td->dir/rel (its folder made), readable by the target
 * user: the checkout may sit under a directory only root can enter (a
 * mktemp -d clone is 0700), and what the dropped daemon loads must be
 * reachable by it, as in a real install. */
static void copy_in(const fp_td_t *td, const char *src, const char *rel, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", td->dir, rel);
    for (char *slash = strchr(out + strlen(td->dir) + 1, '/'); slash != NULL;
         slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        assert_true(mkdir(out, 0755) == 0 || errno == EEXIST);
        *slash = '/';
    }
    size_t len = 0;
    char *data = fp_th_read_file(src, &len);
    assert_non_null(data);
    assert_int_equal(fp_th_write_file(out, data, len), 0);
    assert_int_equal(chmod(out, 0755), 0);
    free(data);
}

/* The helper is a shim over the package in python/, found next to it: every
 * module of it, so that one added to the package is never missing here. */
static void copy_package(const fp_td_t *td, char *out, size_t size)
{
    char dir[4200], src[4500], rel[300];
    snprintf(dir, sizeof dir, "%s/python/forkpool", fp_th_env("FP_SOURCE_DIR"));
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t n = strlen(e->d_name);
        if (n < 4 || strcmp(e->d_name + n - 3, ".py") != 0)
            continue;
        snprintf(rel, sizeof rel, "python/forkpool/%s", e->d_name);
        snprintf(src, sizeof src, "%s/%s", dir, e->d_name);
        copy_in(td, src, rel, out, size);
    }
    closedir(d);
}

/* "Uid:\t0\t0\t0\t0" → every number equals want. */
static void assert_status_line(int pid, const char *field, long want, bool empty_ok)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    char *text = fp_th_read_file(path, NULL);
    assert_non_null(text);
    char *line = strstr(text, field);
    assert_non_null(line);
    char *end = strchr(line, '\n');
    if (end != NULL)
        *end = '\0';
    int count = 0;
    for (char *p = line + strlen(field), *next; *p != '\0'; p = next) {
        long v = strtol(p, &next, 10);
        if (next == p)
            break;
        if (v != want)
            fail_msg("pid %d: %s wants %ld in every place", pid, line, want);
        count++;
    }
    if (count == 0 && !empty_ok)
        fail_msg("pid %d: %s has no value", pid, line);
    free(text);
}

static void assert_runs_as(int pid, long uid, long gid)
{
    assert_status_line(pid, "Uid:", uid, false);
    assert_status_line(pid, "Gid:", gid, false);
    assert_status_line(pid, "Groups:", gid, true);
}


static void assert_owner(const char *path, ids_t t)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    if (st.st_uid != t.uid || st.st_gid != t.gid)
        fail_msg("%s belongs to %d:%d, wants %d:%d", path, (int)st.st_uid, (int)st.st_gid,
                 (int)t.uid, (int)t.gid);
}

static void test_user_drop_owns_files_and_clears_groups(void **state)
{
    fp_td_t *td = *state;
    ids_t t = target();
    char pidfile[4200], logfile[4200], lines[9000];
    path_in(td, "fp.pid", pidfile, sizeof pidfile);
    path_in(td, "own.log", logfile, sizeof logfile);
    snprintf(lines, sizeof lines,
             "user = \"nobody\"\ngroup = \"nogroup\"\npidfile = \"%s\"\nlog_file = \"%s\"\n",
             pidfile, logfile);
    fp_td_config(td, lines, "[pool]\nchildren = 2\n");
    /* A supplementary group the daemon inherits and must not keep. */
    gid_t adm = 4;
    assert_int_equal(setgroups(1, &adm), 0);
    fp_td_start(td, false);
    assert_int_equal(setgroups(0, NULL), 0);
    fp_td_wait_ready(td, false);
    assert_owner(logfile, t);
    assert_owner(pidfile, t);
    assert_runs_as(td->pid, (long)t.uid, (long)t.gid);
    int kids[8];
    int n = fp_th_proc_children(td->pid, kids, 8);
    assert_true(n >= 2);
    for (int i = 0; i < n; i++)
        assert_runs_as(kids[i], (long)t.uid, (long)t.gid);
    /* USR1 reopens the file the user now owns. */
    fp_td_signal(td, SIGUSR1);
    fp_td_file_has_t reopened = {logfile, "log file reopened"};
    fp_td_wait_until(td, fp_td_file_has, &reopened, 30000, "the reopen");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_int_equal(access(pidfile, F_OK), -1);
    char *log = fp_th_read_file(logfile, NULL);
    assert_null(strstr(log, "cannot reopen the log file"));
    free(log);
}

/* The log directory may be writable by the user: a symlink planted there
 * must not make root hand another file (here a root-only one) to it. */
static void test_symlinked_log_file_is_not_handed_over(void **state)
{
    fp_td_t *td = *state;
    char secret[4200], logfile[4200], lines[9000];
    path_in(td, "secret", secret, sizeof secret);
    path_in(td, "own.log", logfile, sizeof logfile);
    assert_int_equal(fp_th_write_file(secret, "root only\n", 10), 0);
    assert_int_equal(chmod(secret, 0600), 0);
    assert_int_equal(symlink(secret, logfile), 0);
    snprintf(lines, sizeof lines, "user = \"nobody\"\nlog_file = \"%s\"\n", logfile);
    fp_td_config(td, lines, NULL);
    fp_td_start(td, false);
    assert_int_equal(fp_td_wait(td, 30000), 78);
    struct stat st;
    assert_int_equal(stat(secret, &st), 0);
    if (st.st_uid != 0 || st.st_gid != 0)
        fail_msg("%s was handed to %d:%d", secret, (int)st.st_uid, (int)st.st_gid);
    assert_true(fp_td_log_count(td, "refusing to hand daemon.log_file") == 1);
}

/* The same symlink pointing nowhere: root must not create its target (an
 * /etc/nologin would lock users out) before refusing it. */
static void test_symlinked_log_file_target_is_not_created(void **state)
{
    fp_td_t *td = *state;
    char target_path[4200], logfile[4200], lines[9000];
    path_in(td, "created-by-root", target_path, sizeof target_path);
    path_in(td, "own.log", logfile, sizeof logfile);
    assert_int_equal(symlink(target_path, logfile), 0);
    snprintf(lines, sizeof lines, "user = \"nobody\"\nlog_file = \"%s\"\n", logfile);
    fp_td_config(td, lines, NULL);
    fp_td_start(td, false);
    assert_int_equal(fp_td_wait(td, 30000), 78);
    if (access(target_path, F_OK) == 0)
        fail_msg("%s was created by root through the symlink", target_path);
}

static void test_group_only_drop_is_applied(void **state)
{
    fp_td_t *td = *state;
    ids_t t = target();
    fp_td_config(td, "group = \"nogroup\"\n", "[pool]\nchildren = 1\n");
    gid_t adm = 4;
    assert_int_equal(setgroups(1, &adm), 0);
    fp_td_start_ready(td, false);
    assert_int_equal(setgroups(0, NULL), 0);
    assert_status_line(td->pid, "Uid:", 0, false);
    assert_status_line(td->pid, "Gid:", (long)t.gid, false);
    assert_status_line(td->pid, "Groups:", (long)t.gid, true);
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
}

static void test_plugin_init_runs_as_user(void **state)
{
    fp_td_t *td = *state;
    ids_t t = target();
    char initfile[4200], plugin[4200], extra[9000];
    path_in(td, "init.txt", initfile, sizeof initfile);
    copy_in(td, fp_th_env("FP_TEST_PLUGIN_STATE_A"), "state_a.so", plugin, sizeof plugin);
    snprintf(extra, sizeof extra,
             "[pool]\nchildren = 1\nplugins = [\"%s\"]\n\n[handlers.state_a]\ninit_file = \"%s\"\n",
             plugin, initfile);
    fp_td_config(td, "user = \"nobody\"\n", extra);
    fp_td_start_ready(td, false);
    char want[64];
    snprintf(want, sizeof want, "euid=%d\n", (int)t.uid);
    char *got = fp_th_read_file(initfile, NULL);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
}

/* Exec workers are forked after the drop too: the command never runs as
 * root, nor does anything it starts. */
static void test_exec_workers_run_as_user(void **state)
{
    fp_td_t *td = *state;
    ids_t t = target();
    char src[4200], worker[4200], helper[4200], extra[4400];
    snprintf(src, sizeof src, "%s/test/data/exec_worker.py", fp_th_env("FP_SOURCE_DIR"));
    copy_in(td, src, "test/data/exec_worker.py", worker, sizeof worker);
    snprintf(src, sizeof src, "%s/scripts/forkpool_worker.py", fp_th_env("FP_SOURCE_DIR"));
    copy_in(td, src, "scripts/forkpool_worker.py", helper, sizeof helper);
    copy_package(td, helper, sizeof helper);
    snprintf(extra, sizeof extra,
             "[pool]\nruntime = \"exec\"\nchildren = 2\ncommand = [\"python3\", \"%s\"]\n",
             worker);
    fp_td_config(td, "user = \"nobody\"\n", extra);
    fp_td_start_ready(td, false);
    int kids[8];
    int n = fp_th_proc_children(td->pid, kids, 8);
    assert_int_equal(n, 2);
    for (int i = 0; i < n; i++)
        assert_runs_as(kids[i], (long)t.uid, (long)t.gid);
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
}

static void test_hup_unreadable_config_keeps_serving(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, "user = \"nobody\"\n", "[pool]\nchildren = 1\n");
    fp_td_start_ready(td, true);
    assert_int_equal(chmod(td->config, 0600), 0);
    fp_td_signal(td, SIGHUP);
    fp_td_page_t failed = {"/stats", "Permission denied"};
    fp_td_wait_until(td, fp_td_page_has, &failed, 30000, "the failed reload in /stats");
    /* The operator is told why, and what to check. */
    assert_true(fp_td_log_count(td, "reload failed") >= 1);
    assert_true(fp_td_log_count(td, "Permission denied") >= 1);
    assert_true(fp_td_log_count(td, "daemon.user") >= 1);
    fp_td_enqueue(td, 3, "{\"type\":\"record_event\",\"args\":{\"object_id\":\"o%d\",\"user_id\":\"u%d\"}}");
    long long three = 3;
    fp_td_wait_until(td, fp_td_events_at_least, &three, 30000, "jobs after the failed reload");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
}

static void test_check_config_warns_unreadable_after_drop(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, "user = \"nobody\"\n", NULL);
    const char *argv[] = {fp_th_env("FORKPOOL_BIN"), "check-config", "-c", td->config, NULL};
    fp_th_result_t r;
    assert_int_equal(fp_th_run(argv, NULL, NULL, 0, 30000, &r), 0);
    assert_int_equal(r.status, 0);
    assert_null(strstr(r.err, "warning"));
    fp_th_result_free(&r);
    assert_int_equal(chmod(td->config, 0600), 0);
    assert_int_equal(fp_th_run(argv, NULL, NULL, 0, 30000, &r), 0);
    assert_int_equal(r.status, 0);
    if (strstr(r.err, "warning") == NULL || strstr(r.err, "nobody") == NULL)
        fail_msg("no warning on stderr: %s", r.err);
    fp_th_result_free(&r);
}

static bool pidfile_is(fp_td_t *td, void *arg)
{
    char *text = fp_th_read_file(arg, NULL);
    bool yes = text != NULL && atoi(text) == td->pid;
    free(text);
    return yes;
}

static void test_second_daemon_refused_by_pidfile_lock(void **state)
{
    fp_td_t *td = *state;
    char pidfile[4200], lines[4400];
    path_in(td, "fp.pid", pidfile, sizeof pidfile);
    snprintf(lines, sizeof lines, "pidfile = \"%s\"\n", pidfile);
    fp_td_config(td, lines, "[pool]\nchildren = 1\n");
    fp_td_start_ready(td, false);
    /* The same pidfile under another daemon.name: only the pidfile can keep
     * it out. */
    fp_td_t second;
    fp_td_twin(td, &second, "second");
    const char *argv[] = {fp_th_env("FORKPOOL_BIN"), "run", "-c", second.config, NULL};
    fp_th_result_t r;
    int rc = fp_th_run(argv, NULL, NULL, 0, 15000, &r);
    if (rc == -ETIMEDOUT) {
        fp_th_result_free(&r);
        fail_msg("the second daemon ran on a held pidfile");
    }
    assert_int_equal(rc, 0);
    char holder[64];
    snprintf(holder, sizeof holder, "pid %d", td->pid);
    if (r.status != 78 || strstr(r.err, holder) == NULL)
        fail_msg("second daemon: exit %d, stderr %s", r.status, r.err);
    fp_th_result_free(&r);
    assert_true(pidfile_is(td, pidfile));
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
}

static void test_stale_pidfile_taken_over(void **state)
{
    fp_td_t *td = *state;
    char pidfile[4200], lines[4400];
    path_in(td, "fp.pid", pidfile, sizeof pidfile);
    assert_int_equal(fp_th_write_file(pidfile, "999999\n", 7), 0);
    snprintf(lines, sizeof lines, "pidfile = \"%s\"\n", pidfile);
    fp_td_config(td, lines, "[pool]\nchildren = 1\n");
    fp_td_start_ready(td, false);
    fp_td_wait_until(td, pidfile_is, pidfile, 30000, "the pidfile taken over");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_int_equal(access(pidfile, F_OK), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_user_drop_owns_files_and_clears_groups, setup,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_symlinked_log_file_is_not_handed_over, setup,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_symlinked_log_file_target_is_not_created, setup,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_group_only_drop_is_applied, setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_plugin_init_runs_as_user, setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_exec_workers_run_as_user, setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_hup_unreadable_config_keeps_serving, setup,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_check_config_warns_unreadable_after_drop, setup,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_second_daemon_refused_by_pidfile_lock, setup,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_stale_pidfile_taken_over, setup, fp_td_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
