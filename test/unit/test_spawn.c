/* test_spawn.c: lib/pool/spawn.c — pins the fork procedure of fp_spawn with real
 * children. A native child runs a test-only "inspect" handler that reports
 * its own fds, signal mask, dispositions, process group and parent-death
 * signal; an exec child (this very program, re-executed with --exec-child)
 * reports the same after exec; /bin/sh children check fd 3 and the
 * environment; and the php-fpm bug 76601 regression checks that SIGTERM sent
 * to a child never runs the supervisor's libuv SIGTERM callback. Every test
 * reaps what it started; deadlines only keep a broken build from hanging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "channel.h"
#include "pool/child.h"
#include "base/log.h"
#include "handlers/handlers.h"
#include "harness.h"
#include "pool/spawn.h"

/* ---- helpers ------------------------------------------------------------ */

static int count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own fd */
}

/* ---- what a child reports about itself ----------------------------------- */

static const int watched_signals[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGPIPE, SIGQUIT, SIGUSR1};

/* {"pid","pgrp","fds":[...],"fd2":"...","mask":[...],"non_default":[...],"pdeathsig"}.
 * Runs in the child: everything it needs is opened and closed here. */
static cJSON *inspect_self(void)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "pid", getpid());
    cJSON_AddNumberToObject(o, "pgrp", getpgrp());
    cJSON *fds = cJSON_AddArrayToObject(o, "fds");
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
            continue;
        /* The child's own RSS probe (child.c keeps /proc/self/statm open
         * once it measured) is not inherited: leave it out. */
        char link[320], target[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(link, target, sizeof target - 1);
        target[len > 0 ? len : 0] = '\0';
        char own_statm[64];
        snprintf(own_statm, sizeof own_statm, "/proc/%d/statm", (int)getpid());
        if (strcmp(target, own_statm) != 0)
            cJSON_AddItemToArray(fds, cJSON_CreateNumber(atoi(e->d_name)));
    }
    if (d != NULL)
        closedir(d);
    char target[PATH_MAX] = "";
    ssize_t n = readlink("/proc/self/fd/2", target, sizeof target - 1);
    target[n > 0 ? n : 0] = '\0';
    cJSON_AddStringToObject(o, "fd2", target);
    n = readlink("/proc/self/fd/0", target, sizeof target - 1);
    target[n > 0 ? n : 0] = '\0';
    cJSON_AddStringToObject(o, "fd0", target);
    cJSON *mask = cJSON_AddArrayToObject(o, "mask");
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    for (int sig = 1; sig <= SIGRTMAX; sig++)
        if (sigismember(&cur, sig) == 1)
            cJSON_AddItemToArray(mask, cJSON_CreateNumber(sig));
    cJSON *nondef = cJSON_AddArrayToObject(o, "non_default");
    for (size_t i = 0; i < sizeof watched_signals / sizeof watched_signals[0]; i++) {
        struct sigaction sa;
        sigaction(watched_signals[i], NULL, &sa);
        if (sa.sa_handler != SIG_DFL)
            cJSON_AddItemToArray(nondef, cJSON_CreateNumber(watched_signals[i]));
    }
    int pdeath = 0;
    prctl(PR_GET_PDEATHSIG, &pdeath);
    cJSON_AddNumberToObject(o, "pdeathsig", pdeath);
    const char *env_fd = getenv("FORKPOOL_FD");
    cJSON_AddStringToObject(o, "env_fd", env_fd != NULL ? env_fd : "");
    static const char *const probed[] = {"FORKPOOL_REDIS_URL", "FORKPOOL_PROBE", "APP_MODE",
                                         "HOME_T"};
    cJSON *env = cJSON_AddObjectToObject(o, "env");
    for (size_t i = 0; i < sizeof probed / sizeof probed[0]; i++)
        if (getenv(probed[i]) != NULL)
            cJSON_AddStringToObject(env, probed[i], getenv(probed[i]));
    return o;
}

static void run_inspect(void *state, const cJSON *job, const cJSON *args, fp_handler_result_t *res)
{
    cJSON *o = inspect_self();
    char *text = cJSON_PrintUnformatted(o);
    res->result_json = strdup(text);
    cJSON_free(text);
    cJSON_Delete(o);
}

static const fp_handler_t handler_inspect = {"inspect", NULL, run_inspect, NULL};

/* The exec child: this program started again by fp_spawn's exec runtime. It
 * speaks just enough of the protocol: ready, one line of self-inspection,
 * then waits for "stop" (or EOF) and leaves with _exit. */
static int exec_child_main(void)
{
    cJSON *o = inspect_self();
    char *text = cJSON_PrintUnformatted(o);
    char line[8192];
    int n = snprintf(line, sizeof line, "{\"op\":\"ready\",\"pid\":%d}\n%s\n", (int)getpid(), text);
    cJSON_free(text);
    cJSON_Delete(o);
    if (n <= 0 || (size_t)n >= sizeof line || write(FP_CHILD_FD, line, (size_t)n) != n)
        _exit(2);
    char buf[256];
    ssize_t r;
    while ((r = read(FP_CHILD_FD, buf, sizeof buf - 1)) > 0) {
        buf[r] = '\0';
        if (strstr(buf, "stop") != NULL)
            _exit(0);
    }
    _exit(0);
}

/* ---- fixtures ------------------------------------------------------------ */

typedef struct fixture_s {
    fp_tc_spawner_t sp;
    char *command[4];
    pid_t pids[8]; /* every child a test spawned, for teardown after a failure */
    size_t npids;
} fixture_t;

/* fp_spawn, remembering the pid so that teardown can stop it. */
static int spawn(fixture_t *f, pid_t *pid, int *fd, fp_err_t *err)
{
    int rc = fp_spawn(&f->sp.spec, pid, fd, err);
    if (rc == 0 && f->npids < sizeof f->pids / sizeof f->pids[0])
        f->pids[f->npids++] = *pid;
    return rc;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    fp_tc_spawner_init(&f->sp, 3);
    /* The built-ins without record_event, whose child_init opens its own
     * database files: the fds a child opens itself are not under test. */
    fp_registry_t builtin;
    fp_registry_init_builtin(&builtin);
    assert_int_equal(fp_registry_add(&f->sp.reg, fp_registry_find(&builtin, "noop"), NULL), 0);
    assert_int_equal(fp_registry_add(&f->sp.reg, &handler_inspect, NULL), 0);
    *state = f;
    return 0;
}

/* A test that failed half-way leaves children: kill and reap them here (an
 * unreaped pid cannot have been reused), and fail if a passing test forgot. */
static int teardown(void **state)
{
    fixture_t *f = *state;
    int leftover = 0;
    for (size_t i = 0; i < f->npids; i++) {
        if (waitpid(f->pids[i], NULL, WNOHANG) == 0) {
            leftover++;
            kill(f->pids[i], SIGKILL);
            waitpid(f->pids[i], NULL, 0);
        }
    }
    fp_log_close();
    fp_tc_spawner_free(&f->sp);
    free(f);
    return fp_tc_no_children_left() && leftover == 0 ? 0 : -1;
}

static void use_exec(fixture_t *f, const char *a0, const char *a1, const char *a2)
{
    f->command[0] = (char *)a0;
    f->command[1] = (char *)a1;
    f->command[2] = (char *)a2;
    f->command[3] = NULL;
    f->sp.cfg.pool.runtime = FP_RUNTIME_EXEC;
    f->sp.cfg.pool.command.items = f->command;
    f->sp.cfg.pool.command.count = a2 != NULL ? 3 : a1 != NULL ? 2 : 1;
}

static bool array_has(const cJSON *arr, int v)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
        if ((int)it->valuedouble == v)
            return true;
    return false;
}

/* The child's state as B7 requires it. */
static void assert_clean_child(const cJSON *r, pid_t pid)
{
    assert_int_equal((pid_t)cJSON_GetObjectItem(r, "pid")->valuedouble, pid);
    const cJSON *fds = cJSON_GetObjectItem(r, "fds");
    if (cJSON_GetArraySize(fds) != 4) {
        char *t = cJSON_PrintUnformatted(fds);
        fail_msg("child has fds %s, want exactly 0-3", t);
    }
    for (int fd = 0; fd <= 3; fd++)
        assert_true(array_has(fds, fd));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "mask")), 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "non_default")), 0);
    /* Its own process group, so a TERM to the supervisor's group misses it. */
    assert_int_equal((pid_t)cJSON_GetObjectItem(r, "pgrp")->valuedouble, pid);
    assert_int_equal((int)cJSON_GetObjectItem(r, "pdeathsig")->valuedouble, SIGTERM);
}

static void on_test_signal(int sig)
{
    (void)sig;
}

/* Handlers, an ignored SIGPIPE and a blocked SIGUSR2 in the "supervisor", so
 * that the child's reset is what the test observes. */
static void dirty_signal_state(sigset_t *saved_mask, struct sigaction saved[])
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_test_signal;
    for (size_t i = 0; i < sizeof watched_signals / sizeof watched_signals[0]; i++) {
        struct sigaction use = sa;
        if (watched_signals[i] == SIGPIPE)
            use.sa_handler = SIG_IGN;
        sigaction(watched_signals[i], &use, &saved[i]);
    }
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR2);
    sigprocmask(SIG_BLOCK, &block, saved_mask);
}

static void restore_signal_state(const sigset_t *saved_mask, const struct sigaction saved[])
{
    for (size_t i = 0; i < sizeof watched_signals / sizeof watched_signals[0]; i++)
        sigaction(watched_signals[i], &saved[i], NULL);
    sigprocmask(SIG_SETMASK, saved_mask, NULL);
}

/* spawn() from that dirtied signal state, restored afterwards. */
static int spawn_dirty(fixture_t *f, pid_t *pid, int *fd, fp_err_t *err)
{
    sigset_t saved_mask;
    struct sigaction saved[sizeof watched_signals / sizeof watched_signals[0]];
    dirty_signal_state(&saved_mask, saved);
    int rc = spawn(f, pid, fd, err);
    restore_signal_state(&saved_mask, saved);
    return rc;
}

/* ---- native children ----------------------------------------------------- */

static void test_native_child_is_clean(void **state)
{
    fixture_t *f = *state;
    /* The log file's fd is above 2, as in a daemon with daemon.log_file. */
    assert_int_equal(fp_log_setup(FP_LOG_INFO, FP_LOG_TEXT, f->sp.log_path), 0);
    int extra_pipe[2];
    assert_int_equal(pipe(extra_pipe), 0); /* no CLOEXEC: must still not reach the child */
    int extra_fd = open("/dev/null", O_RDONLY);
    assert_true(extra_fd >= 0);

    pid_t pid;
    int fd;
    fp_err_t err;
    int rc = spawn_dirty(f, &pid, &fd, &err);
    assert_int_equal(rc, 0);
    assert_true(fd > 2);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    fp_tc_chan_t ch = {fd, NULL, 0, 0};
    fp_tc_expect_ready(&ch, pid);

    fp_tc_write(&ch, "{\"op\":\"job\",\"seq\":1,\"attempt\":1,\"job\":{\"type\":\"inspect\"}}\n");
    cJSON *done = fp_tc_read_json(&ch);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(done, "ok")));
    const cJSON *r = cJSON_GetObjectItem(done, "result");
    assert_clean_child(r, pid);
    /* fd 2 is the log file, so the child's log lines still reach it. */
    assert_string_equal(cJSON_GetObjectItem(r, "fd2")->valuestring, f->sp.log_path);
    cJSON_Delete(done);

    /* A malformed line is logged by the child, into the log file. */
    fp_tc_write(&ch, "not json at all\n");
    fp_tc_write(&ch, "{\"op\":\"job\",\"seq\":2,\"attempt\":1,\"job\":{\"type\":\"noop\"}}\n");
    done = fp_tc_read_json(&ch);
    assert_int_equal((int)cJSON_GetObjectItem(done, "seq")->valuedouble, 2);
    cJSON_Delete(done);
    char *log = fp_th_read_file(f->sp.log_path, NULL);
    assert_non_null(log);
    assert_non_null(strstr(log, "child 3: discarded a malformed channel line"));
    free(log);

    fp_tc_write(&ch, "{\"op\":\"stop\"}\n");
    int st = fp_tc_reap(pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    fp_tc_close(&ch);
    close(extra_pipe[0]);
    close(extra_pipe[1]);
    close(extra_fd);
}

/* The Ctrl-C / dumb-init case: a TERM sent to the supervisor's whole process
 * group must not reach a child. A helper process plays the supervisor in a
 * group of its own (so the signal cannot hit ctest), handles TERM, spawns a
 * child, signals its group, and checks the child still answers. The helper
 * reports through its exit status; it never returns into cmocka. */
static int group_signal_helper(fixture_t *f)
{
    if (setpgid(0, 0) != 0)
        return 10;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_test_signal;
    sigaction(SIGTERM, &sa, NULL);
    pid_t pid;
    int fd;
    fp_err_t err;
    if (spawn(f, &pid, &fd, &err) != 0)
        return 11;
    fp_tc_chan_t ch = {fd, NULL, 0, 0};
    int code = 0;
    char *line = fp_tc_read_line(&ch);
    if (line == NULL || strstr(line, "\"ready\"") == NULL)
        code = 12;
    free(line);
    if (code == 0 && (getpgid(pid) != pid || getpgid(pid) == getpgrp()))
        code = 13;
    if (code == 0 && killpg(getpgrp(), SIGTERM) != 0)
        code = 14;
    if (code == 0 &&
        fp_tc_send(&ch, "{\"op\":\"job\",\"seq\":9,\"attempt\":1,\"job\":{\"type\":\"noop\"}}\n") != 0)
        code = 15;
    line = code == 0 ? fp_tc_read_line(&ch) : NULL;
    if (code == 0 && (line == NULL || strstr(line, "\"seq\":9") == NULL))
        code = 16;
    free(line);
    fp_tc_send(&ch, "{\"op\":\"stop\"}\n");
    int st = fp_tc_reap_quiet(pid);
    if (code == 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
        code = 17;
    fp_tc_close(&ch);
    return code;
}

static void test_child_survives_signal_to_supervisor_group(void **state)
{
    fixture_t *f = *state;
    fflush(NULL);
    pid_t helper = fork();
    assert_true(helper >= 0);
    if (helper == 0)
        _exit(group_signal_helper(f));
    int st = fp_tc_reap(helper);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* ---- php-fpm bug 76601: a child's SIGTERM must not reach the supervisor --- */

typedef struct sigterm_probe_s {
    int fired;
} sigterm_probe_t;

static void on_sigterm(uv_signal_t *h, int signum)
{
    ((sigterm_probe_t *)h->data)->fired++;
}

static void on_probe_timer(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Lets the loop turn until the timer stops it: anything written into libuv's
 * signal pipe by then is dispatched. The bound only prevents hanging. */
static void run_loop_briefly(uv_loop_t *loop, uv_timer_t *timer)
{
    uv_timer_start(timer, on_probe_timer, 200, 0);
    uv_run(loop, UV_RUN_DEFAULT);
}

static void close_cb_noop(uv_handle_t *h)
{
    (void)h;
}

static void test_bug76601_child_sigterm_does_not_reach_supervisor(void **state)
{
    fixture_t *f = *state;
    uv_loop_t loop;
    uv_signal_t sig;
    uv_timer_t timer;
    sigterm_probe_t probe = {0};
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(uv_signal_init(&loop, &sig), 0);
    assert_int_equal(uv_timer_init(&loop, &timer), 0);
    sig.data = &probe;
    assert_int_equal(uv_signal_start(&sig, on_sigterm, SIGTERM), 0);
    int extra_pipe[2];
    assert_int_equal(pipe(extra_pipe), 0);
    int extra_fd = open("/dev/null", O_RDONLY);

    /* Killed at once, possibly before it reset anything (signals blocked
     * across fork keep the TERM pending until the reset). */
    pid_t early;
    int early_fd;
    fp_err_t err;
    assert_int_equal(spawn(f, &early, &early_fd, &err), 0);
    assert_int_equal(kill(early, SIGTERM), 0);

    /* Killed while it waits for a job, like a timed-out child. */
    pid_t late;
    int late_fd;
    assert_int_equal(spawn(f, &late, &late_fd, &err), 0);
    fp_tc_chan_t ch = {late_fd, NULL, 0, 0};
    fp_tc_expect_ready(&ch, late);
    assert_int_equal(kill(late, SIGTERM), 0);

    /* With the bug, the children's inherited libuv handler writes into the
     * shared signal pipe and this loop runs on_sigterm. */
    run_loop_briefly(&loop, &timer);
    assert_int_equal(probe.fired, 0);
    int st = fp_tc_reap(early);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGTERM);
    st = fp_tc_reap(late);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGTERM);
    /* Both are dead now, so anything they could have written is in the pipe. */
    run_loop_briefly(&loop, &timer);
    assert_int_equal(probe.fired, 0);

    /* Control: the watcher works, so the zero above means something. */
    assert_int_equal(kill(getpid(), SIGTERM), 0);
    run_loop_briefly(&loop, &timer);
    assert_int_equal(probe.fired, 1);

    uv_close((uv_handle_t *)&sig, close_cb_noop);
    uv_close((uv_handle_t *)&timer, close_cb_noop);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    fp_tc_close(&ch);
    close(early_fd);
    close(extra_pipe[0]);
    close(extra_pipe[1]);
    close(extra_fd);
}

/* ---- exec runtime -------------------------------------------------------- */

static const char sh_worker[] =
    "echo \"{\\\"op\\\":\\\"ready\\\",\\\"pid\\\":$$}\" >&3\n"
    "echo \"{\\\"fd\\\":\\\"$FORKPOOL_FD\\\",\\\"id\\\":\\\"$FORKPOOL_CHILD_ID\\\","
    "\\\"stdin\\\":\\\"$(readlink /proc/$$/fd/0)\\\"}\" >&3\n"
    "while read -r line <&3; do\n"
    "  case \"$line\" in *'\"stop\"'*) exit 0;; esac\n"
    "done\n"
    "exit 5\n";

static void test_exec_sh_child_speaks_on_fd3(void **state)
{
    fixture_t *f = *state;
    use_exec(f, "/bin/sh", "-c", sh_worker);
    setenv("FORKPOOL_CHILD_ID", "stale", 1); /* ours must win */
    pid_t pid;
    int fd;
    fp_err_t err;
    int rc = spawn(f, &pid, &fd, &err);
    unsetenv("FORKPOOL_CHILD_ID");
    assert_int_equal(rc, 0);
    fp_tc_chan_t ch = {fd, NULL, 0, 0};
    fp_tc_expect_ready(&ch, pid);
    cJSON *o = fp_tc_read_json(&ch);
    assert_string_equal(cJSON_GetObjectItem(o, "fd")->valuestring, "3");
    assert_string_equal(cJSON_GetObjectItem(o, "id")->valuestring, "3");
    assert_string_equal(cJSON_GetObjectItem(o, "stdin")->valuestring, "/dev/null");
    cJSON_Delete(o);
    assert_int_equal(getpgid(pid), pid);
    fp_tc_write(&ch, "{\"op\":\"stop\"}\n");
    int st = fp_tc_reap(pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    fp_tc_close(&ch);
}

/* The exec runtime running this test program again as the child. */
static void use_self_exec(fixture_t *f)
{
    static char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(n > 0);
    self[n] = '\0';
    use_exec(f, self, "--exec-child", NULL);
}

/* ---- the children's environment ------------------------------------------ */

static const char *env_of(const cJSON *r, const char *name)
{
    const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(r, "env"), name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void test_env_scrub_rules(void **state)
{
    (void)state;
    const char *const parent[] = {"PATH=/bin", "FORKPOOL_REDIS_URL=redis://:pw@h", "FORKPOOL_PROBE=1",
                                  "FORKPOOL_CONFIG=/etc/f.toml", "FORKPOOL_FD=9", "APP_MODE=old",
                                  "FORKPOOLX=kept", NULL};
    char *pass_items[] = {"FORKPOOL_PROBE"};
    char *set_items[] = {"APP_MODE=new", "FORKPOOL_CONFIG=/explicit"};
    fp_strv_t pass = {pass_items, 1}, set = {set_items, 2};
    const char *const extra[] = {"FORKPOOL_FD=3", "FORKPOOL_CHILD_ID=2", NULL};
    char **env = fp_spawn_env(parent, &pass, &set, extra);
    assert_non_null(env);
    static const char *const want[] = {"PATH=/bin",           "FORKPOOL_PROBE=1",
                                       "FORKPOOLX=kept",      "APP_MODE=new",
                                       "FORKPOOL_CONFIG=/explicit", "FORKPOOL_FD=3",
                                       "FORKPOOL_CHILD_ID=2", NULL};
    for (size_t i = 0; want[i] != NULL || env[i] != NULL; i++)
        if (want[i] == NULL || env[i] == NULL || strcmp(want[i], env[i]) != 0)
            fail_msg("entry %zu: \"%s\", want \"%s\"", i, env[i] ? env[i] : "(end)",
                     want[i] ? want[i] : "(end)");
    free(env);
    /* Nothing configured: only forkpool's own variables go. */
    fp_strv_t none = {0};
    env = fp_spawn_env(parent, &none, &none, NULL);
    assert_non_null(env);
    for (size_t i = 0; env[i] != NULL; i++)
        if (strncmp(env[i], "FORKPOOL_", 9) == 0)
            fail_msg("kept \"%s\"", env[i]);
    assert_string_equal(env[0], "PATH=/bin");
    assert_string_equal(env[1], "APP_MODE=old");
    free(env);
}

/* What each runtime's child sees, from the real fork (and exec). */
static void expect_scrubbed_env(fixture_t *f, bool exec)
{
    char *pass_items[] = {"FORKPOOL_PROBE"};
    char *set_items[] = {"APP_MODE=from-config"};
    f->sp.cfg.pool.env_pass = (fp_strv_t){pass_items, 1};
    f->sp.cfg.pool.env = (fp_strv_t){set_items, 1};
    setenv("FORKPOOL_REDIS_URL", "redis://:hunter2@127.0.0.1:1/0", 1);
    setenv("FORKPOOL_PROBE", "passed", 1);
    setenv("HOME_T", "inherited", 1);
    pid_t pid;
    int fd;
    fp_err_t err;
    int rc = spawn(f, &pid, &fd, &err);
    unsetenv("FORKPOOL_REDIS_URL");
    unsetenv("FORKPOOL_PROBE");
    unsetenv("HOME_T");
    assert_int_equal(rc, 0);
    fp_tc_chan_t ch = {fd, NULL, 0, 0};
    fp_tc_expect_ready(&ch, pid);
    cJSON *done = NULL, *r;
    if (exec) {
        r = fp_tc_read_json(&ch);
    } else {
        fp_tc_write(&ch, "{\"op\":\"job\",\"seq\":1,\"attempt\":1,\"job\":{\"type\":\"inspect\"}}\n");
        done = fp_tc_read_json(&ch);
        r = cJSON_GetObjectItem(done, "result");
    }
    if (env_of(r, "FORKPOOL_REDIS_URL") != NULL)
        fail_msg("%s child inherited FORKPOOL_REDIS_URL=%s", exec ? "exec" : "native",
                 env_of(r, "FORKPOOL_REDIS_URL"));
    assert_non_null(env_of(r, "FORKPOOL_PROBE"));
    assert_string_equal(env_of(r, "FORKPOOL_PROBE"), "passed");
    assert_non_null(env_of(r, "APP_MODE"));
    assert_string_equal(env_of(r, "APP_MODE"), "from-config");
    assert_non_null(env_of(r, "HOME_T"));
    cJSON_Delete(done != NULL ? done : r);
    fp_tc_write(&ch, "{\"op\":\"stop\"}\n");
    int st = fp_tc_reap(pid);
    assert_true(WIFEXITED(st));
    fp_tc_close(&ch);
}

static void test_native_child_env_is_scrubbed(void **state)
{
    expect_scrubbed_env(*state, false);
}

static void test_exec_child_env_is_scrubbed(void **state)
{
    fixture_t *f = *state;
    use_self_exec(f);
    expect_scrubbed_env(f, true);
}

/* Dispositions and the mask survive exec; B7 resets them first. */
static void test_exec_child_is_clean(void **state)
{
    fixture_t *f = *state;
    use_self_exec(f);
    int extra_fd = open("/dev/null", O_RDONLY);
    pid_t pid;
    int fd;
    fp_err_t err;
    int rc = spawn_dirty(f, &pid, &fd, &err);
    assert_int_equal(rc, 0);
    fp_tc_chan_t ch = {fd, NULL, 0, 0};
    fp_tc_expect_ready(&ch, pid);
    cJSON *r = fp_tc_read_json(&ch);
    assert_clean_child(r, pid);
    assert_string_equal(cJSON_GetObjectItem(r, "fd0")->valuestring, "/dev/null");
    assert_string_equal(cJSON_GetObjectItem(r, "env_fd")->valuestring, "3");
    cJSON_Delete(r);
    fp_tc_write(&ch, "{\"op\":\"stop\"}\n");
    int st = fp_tc_reap(pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    fp_tc_close(&ch);
    close(extra_fd);
}

static void expect_missing_command(fixture_t *f, const char *cmd)
{
    use_exec(f, cmd, NULL, NULL);
    int fds_before = count_open_fds();
    pid_t pid = -1;
    int fd = -1;
    fp_err_t err;
    fp_err_clear(&err);
    int rc = spawn(f, &pid, &fd, &err);
    assert_int_equal(rc, FP_ECONFIG);
    assert_int_equal(err.code, FP_ECONFIG);
    if (strstr(err.msg, "No such file") == NULL || strstr(err.msg, cmd) == NULL)
        fail_msg("unexpected message: %s", err.msg);
    assert_int_equal(fd, -1);
    /* Reaped inside fp_spawn: no zombie, and no fd leaked. */
    assert_true(fp_tc_no_children_left());
    assert_int_equal(count_open_fds(), fds_before);
}

static void test_exec_missing_command_is_config_error(void **state)
{
    expect_missing_command(*state, "/nonexistent/forkpool-worker");
    expect_missing_command(*state, "forkpool-no-such-command-on-path");
}

static void test_exec_empty_command_is_config_error(void **state)
{
    fixture_t *f = *state;
    f->sp.cfg.pool.runtime = FP_RUNTIME_EXEC;
    f->sp.cfg.pool.command.items = NULL;
    f->sp.cfg.pool.command.count = 0;
    pid_t pid;
    int fd;
    fp_err_t err;
    assert_int_equal(spawn(f, &pid, &fd, &err), FP_ECONFIG);
    assert_non_null(strstr(err.msg, "pool.command"));
}

/* ---- the fork lock ------------------------------------------------------- */

static void test_fork_lock_read_side_is_shared(void **state)
{
    fixture_t *f = *state;
    fp_spawn_fork_lock_read();
    fp_spawn_fork_unlock_read();
    /* Spawning works after the read side was released. */
    pid_t pid;
    int fd;
    fp_err_t err;
    assert_int_equal(spawn(f, &pid, &fd, &err), 0);
    fp_tc_chan_t ch = {fd, NULL, 0, 0};
    fp_tc_expect_ready(&ch, pid);
    fp_tc_close(&ch); /* EOF: the child leaves on its own */
    int st = fp_tc_reap(pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--exec-child") == 0)
        return exec_child_main();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_native_child_is_clean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_child_survives_signal_to_supervisor_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bug76601_child_sigterm_does_not_reach_supervisor,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_sh_child_speaks_on_fd3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_child_is_clean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_missing_command_is_config_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_empty_command_is_config_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fork_lock_read_side_is_shared, setup, teardown),
        cmocka_unit_test(test_env_scrub_rules),
        cmocka_unit_test_setup_teardown(test_native_child_env_is_scrubbed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_child_env_is_scrubbed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
