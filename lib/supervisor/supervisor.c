/* supervisor.c: the daemon's wiring and lifecycle. It owns the libuv loop:
 * children's channels, the queue, signals and timers all report here, and
 * the loop only ever reacts — it never blocks. Here: start-up, what the
 * queue hands over (pulled jobs become held jobs), and the way out.
 *
 * Lifecycle: RUNNING → DRAINING (TERM/INT or --burst done: no more pulls,
 * never-started jobs put back, running jobs finish, children stopped) →
 * exit. A second TERM/INT or QUIT, or daemon.shutdown_timeout, jumps to
 * TERMINATING: children are killed and their jobs stay pending in Redis for
 * recovery.
 *
 * Where the rest lives: dispatch.c (handing jobs to children, their
 * answers), children.c (starting, replacing, reaping), outcome.c (where a
 * finished job goes), reload.c (HUP), signals.c, routes.c (/healthz,
 * /readyz, /metrics, /stats). */
#include "supervisor/supervisor_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "base/os.h"
#include "handlers/plugin_loader.h"
#include "http/health.h"
#include "queue/name_lease.h"
#include "supervisor/privs.h"

#define LOG "supervisor"
#define BURST_CHECK_MS 50
#define DRAIN_POLL_MS 10
#define SAMPLE_INTERVAL_MS 5000

uint64_t fp_sup_next_random(fp_supervisor_t *sup)
{
    uint64_t x = sup->random;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return sup->random = x;
}

void fp_sup_update_want(fp_supervisor_t *sup)
{
    if (sup->redis.queue == NULL || sup->redis.closed)
        return;
    size_t room = 0;
    bool ledger_holds = sup->ledger.full || (sup->ledger.failing &&
                                             sup->cfg->ledger.on_error == FP_LEDGER_PAUSE);
    if (sup->state == SUP_RUNNING && sup->redis.ready && !sup->quiet && !ledger_holds) {
        fp_sup_steer_hold(sup);
        room = fp_pool_room(&sup->pool, sup->held.count);
    }
    fp_qmux_want(sup->redis.queue, room);
}

static bool known_type(const fp_supervisor_t *sup, const char *type)
{
    /* An exec worker's handlers are not known to the supervisor. */
    if (sup->cfg->pool.runtime == FP_RUNTIME_EXEC)
        return true;
    return fp_registry_find(&sup->registry, type) != NULL;
}

/* Whether a pulled job can never run (it goes dead at once), and why. */
static bool refused(const fp_supervisor_t *sup, fp_held_t *held, uint64_t deliveries, char *why,
                    size_t size)
{
    fp_err_t err;
    fp_err_clear(&err);
    if (fp_job_parse(held->payload, held->payload_len, (size_t)sup->cfg->limits.max_job_bytes,
                     &held->job, &err) < 0) {
        snprintf(why, size, "%s", err.msg);
        return true;
    }
    int64_t max = held->job.max_attempts > 0 ? held->job.max_attempts
                                              : sup->cfg->retry.max_attempts;
    if (deliveries > (uint64_t)max) {
        /* A job that keeps killing its holder (the supervisor, not just a
         * child) is caught by deliveries, not by failures. */
        snprintf(why, size, "delivered %llu times without an outcome",
                 (unsigned long long)deliveries);
        return true;
    }
    if (!known_type(sup, held->job.type)) {
        snprintf(why, size, "unknown job type \"%s\"", held->job.type);
        return true;
    }
    return false;
}

static void accept_pulled(fp_supervisor_t *sup, fp_pulled_t *pulled)
{
    fp_held_t *held = fp_held_new(&sup->held);
    if (held == NULL) {
        /* Left pending in Redis: recovery hands it out again. */
        fp_log_error(LOG, "out of memory holding job %s", pulled->entry_id);
        return;
    }
    held->queue = pulled->queue;
    held->entry_id = pulled->entry_id;
    held->payload = pulled->payload;
    held->payload_len = pulled->payload_len;
    pulled->entry_id = pulled->payload = NULL;
    char why[FP_ERR_MSG_MAX + FP_JOB_TYPE_MAX + 64];
    if (refused(sup, held, pulled->deliveries, why, sizeof why)) {
        fp_sup_job_dead(sup, held, why);
        fp_held_release(&sup->held, held);
        return;
    }
    if (pulled->cancelled) { /* marked while its previous holder was gone */
        fp_sup_cancel_unstarted(sup, held);
        return;
    }
    fp_sup_limits_admit(sup, held); /* to the waiting list, unless a limit says not now */
}

/* Jobs no child started go back to Redis, not counted as an attempt. */
static void put_back_waiting(fp_supervisor_t *sup)
{
    fp_held_t *held;
    while ((held = fp_held_wait_pop(&sup->held)) != NULL) {
        fp_qmux_put_back(sup->redis.queue, held->queue, held->entry_id, held->payload,
                          held->payload_len);
        fp_held_release(&sup->held, held);
    }
}

static void on_queue_jobs(void *ctx, fp_pulled_t *jobs, size_t n)
{
    fp_supervisor_t *sup = ctx;
    if (sup->counters.first_pull_ms == 0 && n > 0)
        sup->counters.first_pull_ms = fp_os_now_ms();
    sup->counters.pulls++;
    sup->counters.last_pull_ms = fp_os_now_ms();
    fp_queue_stats_t qs;
    fp_qmux_stats(sup->redis.queue, &qs);
    fp_sup_steer_pulled(sup, &qs, jobs, n);
    for (size_t i = 0; i < n; i++) {
        if (jobs[i].entry_id == NULL || jobs[i].payload == NULL)
            continue;
        accept_pulled(sup, &jobs[i]);
    }
    if (fp_log_enabled(FP_LOG_DEBUG))
        fp_log_debug(LOG, "pulled %zu held=%zu bound=%zu", n, sup->held.count,
                     fp_pool_capacity(&sup->pool) + sup->pool.prefetch);
    if (sup->state != SUP_RUNNING) {
        put_back_waiting(sup); /* a pull in flight when draining began */
        fp_sup_maybe_finish(sup);
        return;
    }
    fp_sup_dispatch(sup);
}

void fp_sup_notify_ready(fp_supervisor_t *sup)
{
    sup_notify_t *n = &sup->notify;
    if (sup->state != SUP_RUNNING)
        return;
    char status[START_ERROR_MAX + 64];
    if (!n->ready_sent) {
        /* systemd starts what is ordered after this unit on READY=1: a pool
         * without its queue, or a queue without children, serves nothing. */
        if (!sup->children.pool_was_ready || !sup->redis.ready)
            return;
        n->ready_sent = true;
        snprintf(status, sizeof status, "serving: %zu children, queue connected, consumer %s",
                 sup->pool.target, sup->cfg->daemon.name);
    } else if (n->reloading) {
        if (sup->reload.error[0] != '\0')
            snprintf(status, sizeof status, "reload failed, serving the previous configuration: %s",
                     sup->reload.error);
        else
            snprintf(status, sizeof status, "reloaded: generation %u, %zu children",
                     (unsigned)sup->reload.generation, sup->pool.target);
    } else {
        return;
    }
    n->reloading = false;
    fp_notify_send(&n->sender, FP_NOTIFY_READY, status);
}

void fp_sup_notify_reloading(fp_supervisor_t *sup)
{
    /* Before the first READY=1 systemd still waits for the start; the
     * reload is part of it. */
    if (!sup->notify.ready_sent || sup->state != SUP_RUNNING)
        return;
    sup->notify.reloading = true;
    fp_notify_send(&sup->notify.sender, FP_NOTIFY_RELOADING, "reloading the configuration");
}

static void notify_stopping(fp_supervisor_t *sup, const char *why)
{
    if (sup->notify.stopping_sent)
        return;
    sup->notify.stopping_sent = true;
    char status[256];
    snprintf(status, sizeof status, "stopping: %s", why);
    fp_notify_send(&sup->notify.sender, FP_NOTIFY_STOPPING, status);
}

static void on_queue_ready(void *ctx, bool ready)
{
    fp_supervisor_t *sup = ctx;
    sup->redis.ready = ready;
    fp_sup_update_want(sup);
    if (ready)
        fp_sup_notify_ready(sup);
    if (ready && sup->health != NULL)
        fp_qmux_sample(sup->redis.queue, fp_sup_on_queue_sample, sup);
}

void fp_sup_close_handle(uv_handle_t *handle)
{
    if (handle->data != NULL && !uv_is_closing(handle))
        uv_close(handle, NULL);
}

static void on_lease_closed(void *ctx)
{
    fp_sup_cluster_close(ctx); /* nothing it locates is left open */
}

static void on_queue_closed(void *ctx)
{
    fp_supervisor_t *sup = ctx;
    sup->redis.queue = NULL;
    /* Released only now: every outcome of this daemon is in Redis. */
    fp_lease_close(sup->redis.lease, on_lease_closed, sup);
    sup->redis.lease = NULL;
    fp_outputs_close_all(&sup->outputs);
    if (sup->health != NULL) {
        fp_health_close(sup->health, NULL, NULL);
        sup->health = NULL;
    }
    fp_sup_signals_close(sup);
    fp_sup_close_handle((uv_handle_t *)&sup->timers.burst);
    fp_sup_close_handle((uv_handle_t *)&sup->timers.drain);
    fp_sup_close_handle((uv_handle_t *)&sup->timers.shutdown);
    fp_sup_close_handle((uv_handle_t *)&sup->timers.respawn);
    fp_sup_close_handle((uv_handle_t *)&sup->ledger.timer);
    fp_sup_close_handle((uv_handle_t *)&sup->timers.sample);
    fp_sup_close_handle((uv_handle_t *)&sup->timers.heartbeat);
    fp_sup_close_handle((uv_handle_t *)&sup->limits.renew);
    fp_sup_close_handle((uv_handle_t *)&sup->timers.schedule);
    fp_sup_close_handle((uv_handle_t *)&sup->scale.timer);
    fp_sup_ui_close(sup);
}

static bool slots_empty(const fp_supervisor_t *sup)
{
    return fp_pool_count(&sup->pool, FP_CHILD_FREE) == sup->pool.capacity;
}

/* Once every child is gone and Redis has every outcome, close the queue;
 * the loop then runs out of handles and fp_supervisor_run returns. */
void fp_sup_maybe_finish(fp_supervisor_t *sup)
{
    if (sup->state == SUP_RUNNING || sup->redis.closed || !slots_empty(sup))
        return;
    if (sup->state == SUP_DRAINING && sup->redis.queue != NULL && fp_qmux_unconfirmed(sup->redis.queue) > 0)
        return; /* the drain timer polls again */
    if (sup->limits.asking > 0)
        return; /* their answers come on the writer, which must stay open */
    if (!fp_sup_heartbeat_stopped(sup))
        return; /* the fleet record goes first, while the writer is open */
    sup->redis.closed = true;
    /* The busy span is what benchmarks divide by: start-up and the final
     * drain are reported apart from it. */
    int64_t busy_ms = sup->counters.first_pull_ms && sup->counters.last_outcome_ms > sup->counters.first_pull_ms
                          ? sup->counters.last_outcome_ms - sup->counters.first_pull_ms
                          : 0;
    fp_log_info(LOG, "stopped: %llu jobs done, %llu failed, %llu retried, busy %lld.%03lld s (first pull to last outcome)",
                (unsigned long long)sup->counters.jobs_ok, (unsigned long long)sup->counters.jobs_failed,
                (unsigned long long)sup->counters.jobs_retried,
                (long long)(busy_ms / 1000), (long long)(busy_ms % 1000));
    if (sup->redis.queue != NULL)
        fp_qmux_close(sup->redis.queue, on_queue_closed, sup);
    else
        on_queue_closed(sup);
}

static void on_drain_timer(uv_timer_t *timer)
{
    fp_sup_maybe_finish(timer->data);
}

static void on_shutdown_timeout(uv_timer_t *timer)
{
    fp_sup_terminate(timer->data, "shutdown_timeout reached");
}

void fp_sup_begin_drain(fp_supervisor_t *sup, const char *why)
{
    if (sup->state != SUP_RUNNING)
        return;
    sup->state = SUP_DRAINING;
    notify_stopping(sup, why);
    fp_log_info(LOG, "draining (%s): %zu jobs running, waiting up to %lld ms", why,
                fp_pool_running(&sup->pool), (long long)sup->cfg->daemon.shutdown_timeout_ms);
    fp_sup_update_want(sup);
    if (sup->redis.queue != NULL)
        fp_qmux_drain(sup->redis.queue); /* what it stashed goes to other daemons */
    uv_timer_stop(&sup->timers.burst);
    uv_timer_stop(&sup->timers.respawn);
    put_back_waiting(sup);
    for (size_t i = 0; i < sup->pool.capacity; i++) {
        fp_slot_t *slot = sup->pool.slots[i];
        if (slot->state == FP_CHILD_IDLE || slot->state == FP_CHILD_STARTING)
            fp_sup_send_stop(sup, slot);
    }
    uv_timer_start(&sup->timers.shutdown, on_shutdown_timeout,
                   (uint64_t)sup->cfg->daemon.shutdown_timeout_ms, 0);
    uv_timer_start(&sup->timers.drain, on_drain_timer, DRAIN_POLL_MS, DRAIN_POLL_MS);
    fp_sup_maybe_finish(sup);
}

/* Stop now: kill the children; their jobs stay pending in Redis. */
void fp_sup_terminate(fp_supervisor_t *sup, const char *why)
{
    if (sup->state == SUP_TERMINATING)
        return;
    sup->state = SUP_TERMINATING;
    notify_stopping(sup, why);
    fp_log_warn(LOG, "stopping at once (%s); running jobs stay pending for recovery", why);
    for (size_t i = 0; i < sup->pool.capacity; i++) {
        fp_slot_t *slot = sup->pool.slots[i];
        if (slot->state != FP_CHILD_FREE && !slot->reaped) {
            /* Forget its jobs: not acknowledged, so Redis keeps them pending. */
            fp_held_t *held;
            while ((held = fp_held_slot_pop(slot)) != NULL)
                fp_held_release(&sup->held, held);
            fp_sup_signal_child(slot, SIGKILL);
            (void)fp_slot_apply(slot, FP_SLOT_KILLED);
        }
    }
    uv_timer_stop(&sup->timers.shutdown);
    fp_sup_maybe_finish(sup);
}

/* --burst: done once nothing is ready or pending and the retries this run
 * scheduled have left the delayed set (run, or gone dead); the queue tells. */
static void on_drained_checked(void *ctx, bool drained)
{
    fp_supervisor_t *sup = ctx;
    if (drained && sup->state == SUP_RUNNING && sup->held.count == 0)
        fp_sup_begin_drain(sup, "burst: queues empty");
}

static void on_burst_timer(uv_timer_t *timer)
{
    fp_supervisor_t *sup = timer->data;
    if (sup->state == SUP_RUNNING && sup->redis.ready && sup->held.count == 0)
        fp_qmux_check_drained(sup->redis.queue, on_drained_checked, sup);
}

/* daemon.user/group: privileges go after the health port is bound (it may
 * be a low port) and before any plugin is loaded or child forked, so no
 * plugin init, handler or exec command ever runs as root. */
static int drop_privileges(fp_supervisor_t *sup, fp_err_t *err)
{
    const fp_privs_plan_t *privs = sup->opts.privs;
    if (privs == NULL || !privs->drop)
        return 0;
    int rc = fp_privs_apply(privs, err);
    if (rc < 0)
        return rc;
    fp_log_info(LOG, "running as uid %d gid %d with %d supplementary groups", (int)getuid(),
                (int)getgid(), getgroups(0, NULL));
    return 0;
}

/* Runs after dropping privileges, so the files it creates belong to the
 * user the children run as. A failure (a database directory that does not
 * exist yet) does not stop start-up: each child meets it again in its own
 * set-up and reports it there, under the crash-loop back-off as before. */
static void prepare_handlers(fp_supervisor_t *sup)
{
    fp_err_t err;
    fp_err_clear(&err);
    if (fp_registry_prepare(&sup->registry, sup->cfg, &err) < 0)
        fp_log_warn(LOG, "preparing handlers before forking: %s", err.msg);
}

static int init_handles(fp_supervisor_t *sup)
{
    int rc = fp_sup_signals_init(sup);
    if (rc < 0)
        return rc;
    uv_timer_t *timers[] = {&sup->timers.burst,   &sup->timers.drain,  &sup->timers.shutdown,
                            &sup->timers.respawn, &sup->ledger.timer, &sup->timers.sample,
                            &sup->timers.heartbeat, &sup->timers.schedule};
    for (size_t i = 0; i < sizeof timers / sizeof timers[0]; i++) {
        uv_timer_init(&sup->loop, timers[i]);
        timers[i]->data = sup;
    }
    fp_sup_limits_start(sup);
    return fp_sup_scale_init(sup);
}

/* Consuming starts once the name is ours. */
static void on_lease_held(void *ctx)
{
    fp_supervisor_t *sup = ctx;
    sup->redis.lease_held = true;
    if (sup->state == SUP_RUNNING)
        (void)fp_qmux_start(sup->redis.queue);
}

/* Another daemon runs under this name: stop (running jobs, if the lease was
 * lost mid-run, finish first) and exit as a configuration error. */
static void on_lease_refused(void *ctx, const char *why)
{
    fp_supervisor_t *sup = ctx;
    fp_log_error(LOG, "%s", why);
    if (sup->fatal.rc == 0)
        sup->fatal.rc = fp_err_set(&sup->fatal.err, FP_ECONFIG, "%s", why);
    fp_sup_begin_drain(sup, "daemon.name in use");
}

/* The first line of the log: where the jobs come from, and why there. */
static void log_backend(const fp_config_t *cfg)
{
    const char *why = cfg->queue.backend_why != NULL ? cfg->queue.backend_why : "";
    if (cfg->queue.backend == FP_BACKEND_SQLITE)
        fp_log_info(LOG, "queue: embedded SQLite at %s (%s)", cfg->sqlite.path, why);
    else
        fp_log_info(LOG, "queue: Redis (%s)", why);
}

/* The name is ours before consuming starts: the embedded queue's lock was
 * taken when it opened; with Redis the lease is claimed now. */
static int claim_name(fp_supervisor_t *sup, fp_err_t *err)
{
    static const fp_lease_events_t lease_events = {on_lease_held, on_lease_refused};
    if (fp_qmux_guards_name(sup->redis.queue)) {
        sup->redis.lease_held = true;
        return 0;
    }
    int rc = fp_lease_new_cluster(&sup->loop, sup->cfg, sup->redis.names, sup->redis.nnames,
                                  sup->redis.cluster, &lease_events, sup, &sup->redis.lease, err);
    if (rc == 0)
        fp_lease_start(sup->redis.lease);
    return rc;
}

/* Start-up order: handlers, then the children, and only
 * then Redis, so the first forks copy no connection at all. */
static int start(fp_supervisor_t *sup, fp_err_t *err)
{
    log_backend(sup->cfg);
    signal(SIGPIPE, SIG_IGN);
    /* A write past RLIMIT_FSIZE (`ulimit -f`) raises SIGXFSZ, whose default
     * action kills the process: the supervisor and its queue thread would
     * die where a full disk only fails the write. Ignored, write() fails
     * with EFBIG, which SQLite reports as an I/O error: the embedded queue
     * goes not ready with the reason and keeps everything (docs/embedded.md,
     * "Faults"). Children get the default back (lib/pool/spawn.c). */
    signal(SIGXFSZ, SIG_IGN);
    /* Before any fork or thread: it takes NOTIFY_SOCKET and WATCHDOG_* out
     * of the environment children are made from. */
    fp_notify_open(&sup->notify.sender);
    int rc = init_handles(sup);
    if (rc < 0)
        return fp_err_set(err, rc, "cannot watch signals: %s", uv_strerror(rc));
    if ((rc = fp_notify_watchdog_start(&sup->notify.sender, &sup->loop)) < 0)
        return fp_err_set(err, rc, "cannot start the watchdog timer: %s", uv_strerror(rc));
    if ((rc = fp_metrics_new(0, &sup->metrics)) < 0)
        return fp_err_set(err, rc, "out of memory for metrics");
    /* The listener is bound before the first fork; children close it with
     * every other fd above 3 as they start. */
    if ((rc = fp_sup_start_health(sup, err)) < 0 || (rc = drop_privileges(sup, err)) < 0)
        return rc;
    if ((rc = fp_plugins_load(sup->cfg, &sup->registry, &sup->plugins, err)) < 0)
        return rc;
    prepare_handlers(sup);
    for (size_t i = 0; i < sup->pool.target; i++)
        if ((rc = fp_sup_spawn_child(sup, err)) < 0)
            return rc;
    /* The ledger's thread starts after the first forks; later forks take
     * the fork lock so no child copies SQLite mid-call. */
    if ((rc = fp_sup_start_ledger(sup, err)) < 0)
        return rc;
    static const fp_queue_events_t events = {on_queue_jobs, on_queue_ready, fp_sup_on_cancel,
                                             fp_sup_on_retry_cancelled};
    rc = fp_sup_cluster_open(sup, err);
    if (rc == 0)
        rc = fp_qmux_new(&sup->loop, sup->cfg, sup->redis.names, sup->redis.nnames,
                         sup->redis.cluster, &events, sup, &sup->redis.queue, err);
    if (rc == 0)
        rc = claim_name(sup, err);
    if (rc < 0)
        return rc;
    if (sup->redis.lease_held)
        (void)fp_qmux_start(sup->redis.queue);
    fp_sup_heartbeat_start(sup);
    fp_sup_schedule_apply(sup);
    if (sup->opts.burst) {
        fp_qmux_track_retries(sup->redis.queue);
        uv_timer_start(&sup->timers.burst, on_burst_timer, BURST_CHECK_MS, BURST_CHECK_MS);
    }
    if (sup->health != NULL)
        uv_timer_start(&sup->timers.sample, fp_sup_on_sample_timer, 200, SAMPLE_INTERVAL_MS);
    fp_sup_scale_configure(sup, sup->pool.target);
    char names[256] = "";
    for (size_t i = 0, used = 0; i < sup->redis.nnames && used < sizeof names; i++)
        used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? "," : "",
                                 sup->redis.names[i]);
    char prefetch[24], pipeline[24];
    fp_config_auto_text(sup->cfg->pool.prefetch, prefetch, sizeof prefetch);
    fp_config_auto_text(sup->cfg->pool.pipeline, pipeline, sizeof pipeline);
    fp_log_info(LOG, "started: %zu %s children, prefetch %s, pipeline %s, queues %s, consumer %s",
                sup->pool.target, sup->cfg->pool.runtime == FP_RUNTIME_EXEC ? "exec" : "native",
                prefetch, pipeline, names, sup->cfg->daemon.name);
    return 0;
}

static void kill_all_and_reap(fp_supervisor_t *sup)
{
    for (size_t i = 0; i < sup->pool.capacity; i++) {
        fp_slot_t *slot = sup->pool.slots[i];
        if (slot->state != FP_CHILD_FREE && !slot->reaped && slot->pid > 0) {
            fp_sup_signal_child(slot, SIGKILL);
            waitpid(slot->pid, NULL, 0);
            slot->reaped = true;
        }
    }
}

/* A start that failed after forking: the channels go through their own
 * close, which frees them (a bare uv_close of the walk would not). */
static void channels_close_all(fp_supervisor_t *sup)
{
    for (size_t i = 0; i < sup->pool.capacity; i++)
        if (sup->pool.slots[i]->channel != NULL)
            fp_channel_close(sup->pool.slots[i]->channel);
}

static void on_walk_close(uv_handle_t *handle, void *arg)
{
    (void)arg;
    if (!uv_is_closing(handle))
        uv_close(handle, NULL);
}

int fp_supervisor_run(const fp_config_t *cfg, const fp_run_opts_t *opts, fp_err_t *err)
{
    fp_supervisor_t *sup = calloc(1, sizeof *sup);
    if (sup == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    sup->cfg = cfg;
    sup->opts = *opts;
    sup->reload.held_back = -1;
    sup->notify.sender.fd = -1;
    sup->counters.start_ms = fp_os_now_ms();
    sup->redis.names = (const char *const *)cfg->queues.names.items;
    sup->redis.nnames = cfg->queues.names.count;
    if (opts->queues != NULL && opts->nqueues > 0) {
        sup->redis.names = opts->queues;
        sup->redis.nnames = opts->nqueues;
    }
    fp_registry_init_builtin(&sup->registry);
    sup->random = ((uint64_t)getpid() << 32) ^ (uint64_t)fp_os_unix_ms() ^ 0x9E3779B97F4A7C15ULL;
    fp_pool_init(&sup->pool, fp_sup_target_children(sup, cfg), 0);
    fp_sup_steer_configure(sup, cfg);
    int rc = uv_loop_init(&sup->loop);
    if (rc < 0) {
        fp_pool_free(&sup->pool);
        free(sup);
        return fp_err_set(err, rc, "cannot create the event loop: %s", uv_strerror(rc));
    }
    rc = start(sup, err);
    if (rc < 0) {
        /* Nothing was pulled yet: stop what started and report. */
        kill_all_and_reap(sup);
        channels_close_all(sup);
        fp_outputs_close_all(&sup->outputs);
        if (sup->redis.queue != NULL)
            fp_qmux_close(sup->redis.queue, NULL, NULL);
        fp_lease_close(sup->redis.lease, NULL, NULL); /* never started: closes at once */
        fp_sup_cluster_close(sup);
        if (sup->health != NULL)
            fp_health_close(sup->health, NULL, NULL);
        uv_walk(&sup->loop, on_walk_close, NULL);
    }
    uv_run(&sup->loop, UV_RUN_DEFAULT);
    uv_walk(&sup->loop, on_walk_close, NULL);
    uv_run(&sup->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&sup->loop) != 0)
        fp_log_warn(LOG, "event loop closed with handles still open");
    fp_held_t *held;
    while ((held = fp_held_wait_pop(&sup->held)) != NULL)
        fp_held_free(held);
    fp_sup_ui_free(sup); /* the loop ran out: none of its work is in flight */
    fp_ledger_close(sup->ledger.writer); /* writes every row still queued */
    fp_notify_close(&sup->notify.sender);
    fp_metrics_free(sup->metrics);
    fp_sup_limits_free(sup);
    fp_pool_free(&sup->pool);
    fp_sup_schedule_free(sup);
    fp_plugins_free(sup->plugins);
    fp_redis_url_free(&sup->redis.cluster_url);
    for (size_t i = 0; i < sup->reload.nconfigs; i++)
        fp_config_free(sup->reload.configs[i]);
    free(sup->reload.configs);
    if (rc == 0 && sup->fatal.rc < 0) {
        rc = sup->fatal.rc;
        if (err != NULL)
            *err = sup->fatal.err;
    }
    free(sup);
    return rc;
}
