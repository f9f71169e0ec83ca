/* children.c: the children's lives as the supervisor sees them: forking
 * (spawn_child, top_up), the crash-loop back-off, keeping the pool at its
 * target and replacing children over a limit or of an older configuration
 * (rebalance, maybe_retire), and reaping a child that exited, with the jobs
 * it held. */
#include "supervisor/supervisor_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "base/os.h"
#include "pool/child.h"
#include "pool/spawn.h"
#include "supervisor/restart.h"

#define LOG "supervisor"

static void on_respawn_timer(uv_timer_t *timer);
static void start_failed(fp_supervisor_t *sup, uint32_t child_gen, const char *why);

/* A child and whatever it started (a handler's shell and its sleep) share
 * the child's process group: timeouts and kills reach them all. Only while
 * the child is not reaped: until then its pid, and so its group id, cannot
 * be reused. */
void fp_sup_signal_child(const fp_slot_t *slot, int signum)
{
    if (slot->reaped || slot->pid <= 0)
        return;
    if (kill(-slot->pid, signum) < 0)
        kill(slot->pid, signum);
}

size_t fp_sup_target_children(const fp_supervisor_t *sup, const fp_config_t *cfg)
{
    return (size_t)(sup->opts.children > 0 ? sup->opts.children : cfg->pool.children);
}

/* pool.start_timeout: a child that never says ready (an exec program stuck
 * in its imports, a child_init waiting on a dead host) would hold its slot
 * for ever. Its process group is killed; the reap counts a failed start. */
static void on_start_timer(uv_timer_t *timer)
{
    fp_channel_t *ch = timer->data;
    fp_slot_t *slot = channel_slot(ch);
    if (slot->reaped || slot->said_ready)
        return;
    fp_channel_drain(ch); /* a "ready" may be in the socket, not read yet */
    if (slot->reaped || slot->said_ready)
        return;
    fp_log_warn(LOG, "child %d (pid %d) did not say ready within %lld ms (pool.start_timeout); "
                     "killing it", slot->id, (int)slot->pid,
                (long long)channel_sup(ch)->cfg->pool.start_timeout_ms);
    slot->start_timed_out = true;
    fp_sup_signal_child(slot, SIGKILL);
}

int fp_sup_spawn_child(fp_supervisor_t *sup, fp_err_t *err)
{
    fp_slot_t *slot = fp_pool_claim_slot(&sup->pool, 0, fp_os_now_ms());
    if (slot == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory adding a child");
    fp_child_spec_t spec = {.child_id = slot->id, .cfg = sup->cfg, .handlers = &sup->registry};
    pid_t pid;
    int fd, out_fd = -1;
    bool exec_runtime = sup->cfg->pool.runtime == FP_RUNTIME_EXEC;
    int rc = fp_spawn_output(&spec, &pid, &fd, exec_runtime ? &out_fd : NULL, err);
    if (rc == 0 && out_fd >= 0)
        fp_output_open(&sup->outputs, &sup->loop, slot->id, out_fd);
    if (rc < 0) {
        slot->reaped = slot->channel_closed = true;
        fp_pool_release_if_done(&sup->pool, slot);
        return rc;
    }
    slot->pid = pid;
    rc = fp_sup_channel_open(sup, slot, fd);
    if (rc < 0) {
        if (slot->channel == NULL) {
            close(fd); /* else the pipe owns it and closes it */
            slot->channel_closed = true;
        }
        kill(pid, SIGKILL);
        (void)fp_slot_apply(slot, FP_SLOT_KILLED);
        return fp_err_set(err, rc, "cannot watch child %d: %s", slot->id, uv_strerror(rc));
    }
    const fp_config_t *cfg = sup->cfg;
    slot->max_jobs = fp_pool_max_jobs(cfg->pool.max_jobs_per_child, cfg->pool.max_jobs_jitter,
                                      fp_sup_next_random(sup));
    slot->generation = sup->reload.generation;
    uv_timer_start(&slot->channel->timer, on_start_timer,
                   (uint64_t)cfg->pool.start_timeout_ms, 0);
    fp_log_info(LOG, "child %d spawned (pid %d)", slot->id, (int)pid);
    return 0;
}

void fp_sup_top_up(fp_supervisor_t *sup)
{
    /* While a crash-loop delay runs, only its timer may fork. */
    if (uv_is_active((uv_handle_t *)&sup->timers.respawn))
        return;
    while (sup->state == SUP_RUNNING && fp_pool_live(&sup->pool) < sup->pool.target) {
        fp_err_t err;
        fp_err_clear(&err);
        if (fp_sup_spawn_child(sup, &err) < 0) {
            start_failed(sup, sup->reload.generation, err.msg);
            return;
        }
    }
}

/* The one crash-loop back-off of every path that starts a child (start-up
 * aside, where a failure stops the daemon): a fork or exec that fails, a
 * child that dies before it is ready or soon after, or one that never says
 * ready. The next start waits out a growing delay, which readiness reports,
 * and the pool recovers by itself once the cause is gone. */
static void start_failed(fp_supervisor_t *sup, uint32_t child_gen, const char *why)
{
    int64_t delay = 0;
    switch (fp_pool_start_failed(&sup->pool, child_gen, sup->reload.generation, sup->reload.unproven,
                                 &delay)) {
    case FP_START_REVERT:
        fp_sup_undo_reload(sup, why);
        return;
    case FP_START_STALE:
        fp_log_warn(LOG, "a child of an earlier configuration failed to start (%s); refilling "
                         "its slot with the current one",
                    why);
        fp_sup_top_up(sup);
        return;
    case FP_START_RETRY:
        break;
    }
    snprintf(sup->children.start_error, sizeof sup->children.start_error, "%s", why);
    fp_log_error(LOG, "cannot start a child: %s; next start in %lld ms", why, (long long)delay);
    uv_timer_start(&sup->timers.respawn, on_respawn_timer, (uint64_t)delay, 0);
}

/* The live children, the one a reload holds back aside. */
static size_t live_beyond_held_back(const fp_supervisor_t *sup)
{
    size_t live = fp_pool_live(&sup->pool);
    return sup->reload.held_back >= 0 && live > 0 ? live - 1 : live;
}

/* Replaces a child that reached its job or memory limit: the replacement is
 * forked first, then the old one is told to stop, so capacity never dips;
 * one replacement at a time, so a whole pool never recycles at once. */
static bool maybe_retire(fp_supervisor_t *sup, fp_slot_t *slot)
{
    fp_metrics_restart_t reason;
    if (sup->state != SUP_RUNNING || sup->children.retiring > 0 ||
        !fp_restart_retire_reason(slot, sup->reload.generation,
                                  sup->cfg->pool.max_memory_per_child_bytes, &reason))
        return false;
    if (!fp_pool_may_roll(&sup->pool, sup->reload.generation, sup->reload.unproven,
                          uv_is_active((uv_handle_t *)&sup->timers.respawn)))
        return false;
    fp_err_t err;
    fp_err_clear(&err);
    int id = slot->id;
    pid_t pid = slot->pid;
    int64_t jobs = slot->jobs_done, rss = slot->rss_kb;
    if (fp_sup_spawn_child(sup, &err) < 0) {
        start_failed(sup, sup->reload.generation, err.msg);
        return false;
    }
    fp_log_info(LOG, "child %d (pid %d) is replaced after %s (%lld jobs, rss %lld kB)", id,
                (int)pid, fp_restart_retire_text(reason), (long long)jobs, (long long)rss);
    slot->retiring = true;
    sup->children.retiring++;
    fp_metrics_child_restart(sup->metrics, reason);
    fp_sup_ui_child_restart(sup, id, reason);
    if (reason == FP_RESTART_RELOAD && sup->reload.unproven) {
        sup->reload.held_back = id; /* stopped by said_ready, kept by undo_reload */
        return true;
    }
    fp_sup_send_stop(sup, slot);
    return true;
}

/* Brings the pool to its target: forks what is missing, stops children
 * beyond the target (TTOU, a smaller reload), and replaces one
 * child at a time that is outdated (HUP) or over a limit. */
void fp_sup_rebalance(fp_supervisor_t *sup)
{
    if (sup->state != SUP_RUNNING)
        return;
    fp_sup_top_up(sup);
    fp_slot_t *slot;
    while (live_beyond_held_back(sup) > sup->pool.target &&
           (slot = fp_pool_pick_to_stop(&sup->pool)) != NULL) {
        fp_log_info(LOG, "child %d (pid %d) stops: the pool shrinks to %zu", slot->id,
                    (int)slot->pid, sup->pool.target);
        fp_sup_send_stop(sup, slot);
    }
    for (size_t i = 0; i < sup->pool.capacity && sup->children.retiring == 0; i++) {
        slot = sup->pool.slots[i];
        if ((slot->state == FP_CHILD_IDLE || slot->state == FP_CHILD_BUSY) && !slot->channel_eof)
            maybe_retire(sup, slot);
    }
}

static void on_respawn_timer(uv_timer_t *timer)
{
    fp_sup_top_up(timer->data);
}

static void describe_exit(int status, char *buf, size_t size)
{
    if (WIFSIGNALED(status))
        snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
}

/* A child that died unasked is replaced at once, unless it failed to
 * start: then through the crash-loop back-off, so a broken deployment does
 * not turn into a fork storm. */
static void schedule_respawn(fp_supervisor_t *sup, const fp_slot_t *slot, bool died_in_job)
{
    if (!fp_pool_failed_start(slot, died_in_job, fp_os_now_ms())) {
        fp_pool_start_ok(&sup->pool);
        fp_sup_top_up(sup);
        return;
    }
    char why[START_ERROR_MAX], how[128];
    int status = slot->exit_status;
    if (WIFEXITED(status) && WEXITSTATUS(status) == FP_CHILD_EXIT_INIT_FAILED)
        snprintf(how, sizeof how, "failed in a handler's child_init (exit status %d, its log "
                                  "line says why)", FP_CHILD_EXIT_INIT_FAILED);
    else
        describe_exit(status, how, sizeof how);
    if (slot->start_timed_out)
        snprintf(why, sizeof why, "child %d did not say ready within %lld ms (pool.start_timeout)",
                 slot->id, (long long)sup->cfg->pool.start_timeout_ms);
    else
        snprintf(why, sizeof why, "child %d %s %s", slot->id, how,
                 fp_os_now_ms() - slot->started_at_ms < FP_POOL_FAST_EXIT_MS
                     ? "within a second of starting"
                     : "before it was ready");
    start_failed(sup, slot->generation, why);
}

/* A child finished off after its channel ended dies of our TERM or KILL;
 * any other death (a segfault racing the EOF) is its own. */
static bool stopped_by_us(int status)
{
    return WIFSIGNALED(status) && (WTERMSIG(status) == SIGTERM || WTERMSIG(status) == SIGKILL);
}

/* Why one job the dead child was running failed. A concurrent child
 * killed because another of its jobs timed out takes the jobs beside it
 * down too: those died of the kill, not of their own time. */
static void dead_job_reason(const fp_supervisor_t *sup, const fp_slot_t *slot, const fp_held_t *held,
                            const char *how, char *why, size_t size)
{
    if (held->timed_out)
        snprintf(why, size, "timeout: still running after %lld ms",
                 (long long)(held->job.timeout_ms > 0 ? held->job.timeout_ms
                                                      : sup->cfg->pool.job_timeout_ms));
    else if (slot->timed_out)
        snprintf(why, size, "child crashed: stopped because a job running beside it timed out, "
                            "then %s", how);
    else if (slot->channel_lost && stopped_by_us(slot->exit_status))
        snprintf(why, size, "child crashed: it closed its channel while running the job, then %s",
                 how);
    else
        snprintf(why, size, "child crashed: %s", how);
}

/* A crash or a timeout is a failed attempt of each job the child was
 * running (its head, or all it held when it ran them side by side), and
 * follows the retry rules at once: no visibility timeout to wait for. Jobs
 * queued behind them never started: they go to another child (or back to
 * Redis when draining) without an attempt counted. */
static void settle_dead_child_jobs(fp_supervisor_t *sup, fp_slot_t *slot, const char *how)
{
    fp_held_t *held;
    while ((held = fp_held_slot_pop_running(slot)) != NULL) {
        char why[224];
        dead_job_reason(sup, slot, held, how, why, sizeof why);
        if (held->cancelled)
            fp_sup_job_cancelled(sup, held); /* stopped by the cancel's TERM */
        else
            fp_sup_job_failed(sup, held, why, true,
                              held->timed_out ? FP_OUTCOME_TIMEOUT : FP_OUTCOME_CRASHED);
        fp_held_release(&sup->held, held);
    }
    fp_sup_requeue_queued(sup, slot);
}

static void on_child_exit(fp_supervisor_t *sup, fp_slot_t *slot, int status)
{
    char how[96];
    describe_exit(status, how, sizeof how);
    int id = slot->id;
    slot->reaped = true; /* its pid may be reused from now on: never signal it */
    slot->exit_status = status;
    if (slot->channel != NULL) {
        slot->channel_eof = true; /* dead: it takes no more jobs */
        /* What it wrote before it died is read first, so that every job it
         * answered is settled as answered and only the job it was running
         * is blamed: a "done" still in the socket would otherwise make its
         * job a crash, and a job queued behind it could dodge the blame for
         * ever. */
        fp_channel_drain(slot->channel);
    }
    bool expected = slot->state == FP_CHILD_STOPPING && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    bool died_in_job = slot->job != NULL;
    settle_dead_child_jobs(sup, slot, how);
    if (id == sup->reload.held_back)
        sup->reload.held_back = -1;
    if (slot->retiring)
        sup->children.retiring--;
    if (!expected) {
        fp_log_warn(LOG, "child %d (pid %d) %s", slot->id, (int)slot->pid, how);
        fp_metrics_child_restart(sup->metrics, fp_restart_exit_reason(slot, status));
        fp_sup_ui_child_restart(sup, slot->id, fp_restart_exit_reason(slot, status));
    }
    (void)fp_slot_apply(slot, FP_SLOT_REAPED);
    if (slot->channel != NULL)
        fp_channel_close(slot->channel);
    if (!expected && sup->state == SUP_RUNNING)
        schedule_respawn(sup, slot, died_in_job);
    fp_pool_release_if_done(&sup->pool, slot);
}

/* The next child that exited, reaped, or 0. What it left in its process
 * group (a handler's shell, its sleep) is killed first, while the child is
 * still a zombie: until the reap its pid, and so the group id, cannot have
 * been reused, so the signal reaches only what that child started. */
static pid_t reap_next(fp_supervisor_t *sup, int *status)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int rc;
    while ((rc = waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT)) < 0 && errno == EINTR)
        ;
    if (rc < 0 || info.si_pid <= 0)
        return 0;
    pid_t pid = info.si_pid;
    if (fp_pool_by_pid(&sup->pool, pid) != NULL)
        kill(-pid, SIGKILL);
    while ((rc = (int)waitpid(pid, status, 0)) < 0 && errno == EINTR)
        ;
    return rc < 0 ? 0 : pid;
}

/* SIGCHLD coalesces: reap everything there is. */
void fp_sup_on_sigchld(uv_signal_t *handle, int signum)
{
    (void)signum;
    fp_supervisor_t *sup = handle->data;
    for (;;) {
        int status = 0;
        pid_t pid = reap_next(sup, &status);
        if (pid <= 0)
            break;
        fp_slot_t *slot = fp_pool_by_pid(&sup->pool, pid);
        if (slot == NULL) {
            fp_log_debug(LOG, "reaped unknown pid %d", (int)pid);
            continue;
        }
        on_child_exit(sup, slot, status);
    }
    fp_sup_rebalance(sup);
    fp_sup_dispatch(sup);
    fp_sup_maybe_finish(sup);
}
