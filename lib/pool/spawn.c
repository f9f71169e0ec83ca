/* spawn.c: the only place that forks. fp_spawn makes every child, native or
 * exec, at start-up or as a replacement, through one procedure (fp_spawn and
 * the numbered steps of child_start below): CLOEXEC socketpair, empty stdio
 * buffers, every signal blocked and the fork lock held across fork(); in the
 * child, default dispositions, an empty mask, its own process group, death
 * with the supervisor, fds 0-3 only. The child side must not touch anything
 * it inherited from the supervisor's loop, Redis or SQLite (not even to close
 * or free it), must not allocate before exec (another thread may have held
 * the allocator's lock at fork), and leaves only through _exit, never
 * exit(). */
#include "pool/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pool/child.h"
#include "base/log.h"
#include "base/os.h"

extern char **environ;

/* Writer preference: a ledger thread that keeps taking the read side must not
 * starve a respawn. With it, the read side is not recursive (a reader that
 * takes it twice while a fork waits would deadlock). */
static pthread_rwlock_t g_fork_lock;
static pthread_once_t g_fork_lock_once = PTHREAD_ONCE_INIT;

static void fork_lock_init(void)
{
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&g_fork_lock, &attr);
    pthread_rwlockattr_destroy(&attr);
}

void fp_spawn_fork_lock_read(void)
{
    pthread_once(&g_fork_lock_once, fork_lock_init);
    pthread_rwlock_rdlock(&g_fork_lock);
}

void fp_spawn_fork_unlock_read(void)
{
    pthread_rwlock_unlock(&g_fork_lock);
}

/* The exec runtime's argv, environment and error pipe, all built before
 * fork() because the child must not allocate. */
typedef struct exec_plan_s {
    char **argv;     /* pool.command's pointers, NULL-terminated; strings borrowed */
    char **envp;     /* environ without our variables, plus fd_var and id_var */
    char fd_var[32];
    char id_var[48];
    int errpipe[2];  /* CLOEXEC: EOF in the parent means exec succeeded */
    int outpipe[2];  /* CLOEXEC: the child's stdout and stderr, or -1 to inherit */
} exec_plan_t;

/* What an exec child writes into errpipe when it cannot run the command. */
typedef struct exec_report_s {
    int32_t stage; /* EXEC_STAGE_* */
    int32_t err;   /* errno */
} exec_report_t;

enum { EXEC_STAGE_EXEC, EXEC_STAGE_FDS, EXEC_STAGE_STDIN, EXEC_STAGE_OUTPUT };

static const char *const exec_stage_names[] = {"exec", "setting up fds 3 and 4", "opening /dev/null",
                                               "setting up stdout and stderr"};

/* Where the exec child keeps the error pipe between close_from and exec. */
#define EXEC_REPORT_FD 4

/* Whether environment entry "NAME=value" is named name. */
static bool entry_named(const char *entry, const char *name, size_t len)
{
    return strncmp(entry, name, len) == 0 && entry[len] == '=';
}

/* Whether entry's name is one of list's entries' names ("NAME" or
 * "NAME=value" alike). */
static bool entry_in(const char *entry, const char *const *list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        if (entry_named(entry, list[i], strcspn(list[i], "=")))
            return true;
    return false;
}

static size_t count_entries(const char *const *v)
{
    size_t n = 0;
    while (v != NULL && v[n] != NULL)
        n++;
    return n;
}

char **fp_spawn_env(const char *const *parent, const fp_strv_t *pass, const fp_strv_t *set,
                    const char *const *extra)
{
    size_t n = count_entries(parent), n_extra = count_entries(extra);
    size_t n_set = set != NULL ? set->count : 0, k = 0;
    char **env = calloc(n + n_set + n_extra + 1, sizeof *env);
    if (env == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const char *e = parent[i];
        bool ours = strncmp(e, "FORKPOOL_", 9) == 0 &&
                    !entry_in(e, (const char *const *)(pass ? pass->items : NULL),
                              pass ? pass->count : 0);
        if (!ours && !entry_in(e, (const char *const *)(set ? set->items : NULL), n_set) &&
            !entry_in(e, extra, n_extra))
            env[k++] = (char *)e;
    }
    for (size_t i = 0; i < n_set; i++)
        env[k++] = set->items[i];
    for (size_t i = 0; i < n_extra; i++)
        env[k++] = (char *)extra[i];
    return env;
}

static void plan_free(exec_plan_t *plan)
{
    free(plan->argv);
    free(plan->envp);
    plan->argv = plan->envp = NULL;
    for (int i = 0; i < 2; i++) {
        if (plan->errpipe[i] >= 0)
            close(plan->errpipe[i]);
        plan->errpipe[i] = -1;
        if (plan->outpipe[i] >= 0)
            close(plan->outpipe[i]);
        plan->outpipe[i] = -1;
    }
}

/* Both runtimes: a native handler may run programs too, so its child gets
 * the same scrubbed environment an exec worker does. */
static int plan_env(exec_plan_t *plan, const fp_child_spec_t *spec, bool exec_runtime,
                    fp_err_t *err)
{
    snprintf(plan->fd_var, sizeof plan->fd_var, "FORKPOOL_FD=%d", FP_CHILD_FD);
    snprintf(plan->id_var, sizeof plan->id_var, "FORKPOOL_CHILD_ID=%d", spec->child_id);
    const char *const extra[] = {plan->fd_var, plan->id_var, NULL};
    plan->envp = fp_spawn_env((const char *const *)environ, &spec->cfg->pool.env_pass,
                              &spec->cfg->pool.env, exec_runtime ? extra : NULL);
    if (plan->envp == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory while spawning child %d", spec->child_id);
    return 0;
}

static int plan_init(exec_plan_t *plan, const fp_child_spec_t *spec, bool capture, fp_err_t *err)
{
    const fp_strv_t *cmd = &spec->cfg->pool.command;
    if (cmd->count == 0 || cmd->items == NULL || cmd->items[0] == NULL || cmd->items[0][0] == '\0')
        return fp_err_set(err, FP_ECONFIG,
                          "pool.runtime is \"exec\" but pool.command is empty (child %d)",
                          spec->child_id);
    plan->argv = calloc(cmd->count + 1, sizeof *plan->argv);
    if (plan->argv == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory while spawning child %d", spec->child_id);
    memcpy(plan->argv, cmd->items, cmd->count * sizeof *plan->argv);
    if (pipe2(plan->errpipe, O_CLOEXEC) < 0) {
        int rc = -errno;
        return fp_err_set(err, rc, "pipe2() failed while spawning child %d: %s", spec->child_id,
                          fp_strerror(rc));
    }
    if (capture && pipe2(plan->outpipe, O_CLOEXEC) < 0) {
        int rc = -errno;
        return fp_err_set(err, rc, "pipe2() failed while spawning child %d: %s", spec->child_id,
                          fp_strerror(rc));
    }
    return 0;
}

/* Step 1 of the child. Dispositions first, while every signal is still
 * blocked: the supervisor's handlers (libuv's, which write into the loop's
 * signal pipe that this child shares with the supervisor) are still
 * installed here, and a SIGTERM delivered through them would run the
 * supervisor's own SIGTERM callback (php-fpm #76601). Ignored dispositions
 * and the mask also survive exec, which is why an exec child needs this too.
 * Only then unblock: a signal that arrived since fork now takes its default
 * action. glibc reserves 32 and 33 (sigaction says EINVAL; harmless). */
static void child_reset_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    int last = SIGRTMAX;
    for (int sig = 1; sig <= last; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        (void)sigaction(sig, &sa, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
}

/* The child logs through the supervisor's log fd. A log file's fd is above 2
 * and close_from would close it, so it moves to fd 2 and the logger follows;
 * the level is kept, the format comes from the config the supervisor used. */
static void child_keep_log(const fp_config_t *cfg)
{
    int lfd = fp_log_fd();
    if (lfd <= 2)
        return;
    if (dup2(lfd, 2) < 0)
        return;
    fp_log_level_t level = FP_LOG_DEBUG;
    while (level < FP_LOG_ERROR && !fp_log_enabled(level))
        level++;
    fp_log_setup(level, cfg->daemon.log_format, NULL);
}

/* Step 5 of the child: the socket on fd 3 (and, for exec, the error pipe on
 * fd 4), everything else above closed: the inherited epoll fd, libuv's
 * signal and async pipes, hiredis sockets (no CLOEXEC in 0.14), the ledger's
 * SQLite fd, the health listener (which would keep its port bound after a
 * supervisor crash). Copies go above 4 first so that no dup2 overwrites a
 * source still needed. dup2 leaves the new fd without CLOEXEC, as fd 3 must
 * be across exec. Returns 0 or -errno. */
static int child_setup_fds(int sock, int report_fd)
{
    int s = fcntl(sock, F_DUPFD_CLOEXEC, EXEC_REPORT_FD + 1);
    if (s < 0)
        return -errno;
    int r = -1;
    if (report_fd >= 0 && (r = fcntl(report_fd, F_DUPFD_CLOEXEC, EXEC_REPORT_FD + 1)) < 0)
        return -errno;
    if (dup2(s, FP_CHILD_FD) < 0)
        return -errno;
    if (r >= 0 && dup3(r, EXEC_REPORT_FD, O_CLOEXEC) < 0)
        return -errno;
    fp_os_close_from(r >= 0 ? EXEC_REPORT_FD + 1 : FP_CHILD_FD + 1);
    return 0;
}

/* Reports through the error pipe, wherever it is at the time, and leaves. */
static _Noreturn void exec_fail(int report_fd, int stage, int error)
{
    exec_report_t rep = {stage, error};
    ssize_t w;
    do {
        w = write(report_fd, &rep, sizeof rep);
    } while (w < 0 && errno == EINTR);
    _exit(127);
}

/* Step 6, exec runtime: stdin from /dev/null (a worker must not read the
 * supervisor's terminal), FORKPOOL_FD and FORKPOOL_CHILD_ID in the
 * environment, then exec. On failure the errno goes to the parent through
 * the CLOEXEC pipe on fd 4, so "command not found" is a config error. */
static _Noreturn void child_exec(exec_plan_t *plan)
{
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd < 0)
        exec_fail(EXEC_REPORT_FD, EXEC_STAGE_STDIN, errno);
    if (null_fd != 0) {
        if (dup2(null_fd, 0) < 0)
            exec_fail(EXEC_REPORT_FD, EXEC_STAGE_STDIN, errno);
        close(null_fd);
    }
    execvpe(plan->argv[0], plan->argv, plan->envp);
    exec_fail(EXEC_REPORT_FD, EXEC_STAGE_EXEC, errno);
}

/* The child, from the instant fork() returned 0. Steps in order; each one
 * says why. */
static _Noreturn void child_start(const fp_child_spec_t *spec, int sock, pid_t parent,
                                  exec_plan_t *plan, char **envp)
{
    /* 1. Default dispositions, then an empty mask (see the function). */
    child_reset_signals();

    /* This thread is a copy of the one that took the write side; releasing
     * it lets code in the child use the read side without deadlocking. */
    pthread_rwlock_unlock(&g_fork_lock);

    /* 2. An own process group: a TERM/INT sent to the supervisor's group
     * (Ctrl-C, dumb-init, supervisord) reaches only the supervisor, which
     * drains; it never kills a running job behind its back. The parent makes
     * the same call, so the group exists whichever side runs first. */
    (void)setpgid(0, 0);

    /* 3. Die with the supervisor. PDEATHSIG fires when the forking thread
     * exits; if the supervisor already died before prctl, nothing would
     * send it, so check the parent is still the one that forked us. */
    (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(0);

    /* 4. Logs keep reaching the log file after close_from. */
    child_keep_log(spec->cfg);

    /* 4b. Exec: stdout and stderr into the supervisor's output pipe, which
     * logs each line with the child id. dup2 onto the same fd would keep
     * CLOEXEC, so that case clears it instead. */
    if (plan != NULL && plan->outpipe[1] >= 0) {
        for (int fd = 1; fd <= 2; fd++) {
            int r = plan->outpipe[1] == fd ? fcntl(fd, F_SETFD, 0) : dup2(plan->outpipe[1], fd);
            if (r < 0)
                exec_fail(plan->errpipe[1], EXEC_STAGE_OUTPUT, errno);
        }
    }

    /* 5. fds 0-3 only (and the exec error pipe on 4 until exec). */
    int rc = child_setup_fds(sock, plan != NULL ? plan->errpipe[1] : -1);
    if (plan != NULL) {
        /* close_from had not run yet, so the original write end is open. */
        if (rc < 0)
            exec_fail(plan->errpipe[1], EXEC_STAGE_FDS, -rc);
        child_exec(plan);
    }
    if (rc < 0) {
        char component[32];
        snprintf(component, sizeof component, "child %d", spec->child_id);
        fp_log_error(component, "cannot set up the channel on fd %d: %s", FP_CHILD_FD,
                     fp_strerror(rc));
        _exit(1);
    }

    /* 6. Native: the scrubbed environment (built before fork; setenv in a
     * handler copies it away from this array), then handler child_init,
     * ready, the job loop; never returns. */
    environ = envp;
    fp_child_main(spec);
}

/* Waits for an exec child to exec or report why it could not. EOF means the
 * CLOEXEC pipe closed at exec: success. A report means the child is about to
 * _exit(127): reap it here so it leaves no zombie and the supervisor's
 * SIGCHLD reaper never sees a child it does not know. */
static int exec_wait(exec_plan_t *plan, const fp_child_spec_t *spec, pid_t pid, fp_err_t *err)
{
    exec_report_t rep;
    ssize_t n;
    do {
        n = read(plan->errpipe[0], &rep, sizeof rep);
    } while (n < 0 && errno == EINTR);
    if (n == 0)
        return 0;
    int rc;
    const char *cmd = plan->argv[0];
    if (n == (ssize_t)sizeof rep && rep.stage == EXEC_STAGE_EXEC)
        rc = fp_err_set(err, FP_ECONFIG, "cannot run \"%s\": %s (pool.command, child %d)", cmd,
                        strerror(rep.err), spec->child_id);
    else if (n == (ssize_t)sizeof rep && rep.stage > 0 && rep.stage <= EXEC_STAGE_OUTPUT)
        rc = fp_err_set(err, -rep.err, "%s failed in child %d before running \"%s\": %s",
                        exec_stage_names[rep.stage], spec->child_id, cmd, strerror(rep.err));
    else
        rc = fp_err_set(err, n < 0 ? -errno : -EPROTO,
                        "reading the exec status of child %d (\"%s\") failed", spec->child_id, cmd);
    if (n != (ssize_t)sizeof rep)
        kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    return rc;
}

int fp_spawn(const fp_child_spec_t *spec, pid_t *pid_out, int *fd_out, fp_err_t *err)
{
    return fp_spawn_output(spec, pid_out, fd_out, NULL, err);
}

int fp_spawn_output(const fp_child_spec_t *spec, pid_t *pid_out, int *fd_out, int *out_fd,
                    fp_err_t *err)
{
    int sv[2] = {-1, -1};
    exec_plan_t plan = {.errpipe = {-1, -1}, .outpipe = {-1, -1}};
    bool exec_runtime = spec->cfg->pool.runtime == FP_RUNTIME_EXEC;
    int rc;

    if (out_fd != NULL)
        *out_fd = -1;
    if ((rc = plan_env(&plan, spec, exec_runtime, err)) < 0 ||
        (exec_runtime && (rc = plan_init(&plan, spec, out_fd != NULL, err)) < 0))
        goto fail;

    /* CLOEXEC on both ends: only fd 3, made by dup2 in the child, crosses exec,
     * and no other child ever inherits this one's channel. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        rc = -errno;
        fp_err_set(err, rc, "socketpair() failed while spawning child %d: %s", spec->child_id,
                   fp_strerror(rc));
        goto fail;
    }

    /* Anything buffered in stdio would be written twice if a child flushed it. */
    fflush(NULL);

    /* Block every signal but the synchronous ones, so that nothing runs a
     * supervisor handler in the child before it resets them (libuv). */
    sigset_t all, saved_mask;
    sigfillset(&all);
    int sync_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGSYS, SIGABRT, SIGTRAP};
    for (size_t i = 0; i < sizeof sync_signals / sizeof sync_signals[0]; i++)
        sigdelset(&all, sync_signals[i]);
    pthread_sigmask(SIG_SETMASK, &all, &saved_mask);

    /* The write side keeps the ledger thread out of SQLite while fork copies
     * memory, so no child starts with a lock held by a thread it lacks. */
    pthread_once(&g_fork_lock_once, fork_lock_init);
    pthread_rwlock_wrlock(&g_fork_lock);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0)
        child_start(spec, sv[1], parent, exec_runtime ? &plan : NULL, plan.envp);
    int fork_errno = errno;
    pthread_rwlock_unlock(&g_fork_lock);
    pthread_sigmask(SIG_SETMASK, &saved_mask, NULL);
    if (pid < 0) {
        rc = -fork_errno;
        fp_err_set(err, rc, "fork() failed while spawning child %d: %s", spec->child_id,
                   fp_strerror(rc));
        goto fail;
    }

    /* The child's own setpgid may not have run yet; after an exec this fails
     * with EACCES and after an early exit with ESRCH, both harmless. */
    (void)setpgid(pid, pid);
    close(sv[1]);
    sv[1] = -1;

    if (exec_runtime) {
        close(plan.errpipe[1]);
        plan.errpipe[1] = -1;
        if (plan.outpipe[1] >= 0)
            close(plan.outpipe[1]);
        plan.outpipe[1] = -1;
        if ((rc = exec_wait(&plan, spec, pid, err)) < 0)
            goto fail;
    }

    if ((rc = fp_os_nonblock(sv[0], 1)) < 0) {
        fp_err_set(err, rc, "fcntl(O_NONBLOCK) failed on the channel of child %d: %s",
                   spec->child_id, fp_strerror(rc));
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        goto fail;
    }
    if (out_fd != NULL && plan.outpipe[0] >= 0) {
        *out_fd = plan.outpipe[0];
        plan.outpipe[0] = -1;
    }
    plan_free(&plan);
    *pid_out = pid;
    *fd_out = sv[0];
    return 0;

fail:
    for (int i = 0; i < 2; i++)
        if (sv[i] >= 0)
            close(sv[i]);
    plan_free(&plan);
    return rc;
}
