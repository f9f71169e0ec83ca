/* supervisor.c: the daemon's wiring and lifecycle. It owns the libuv loop:
 * children's channels, the queue, signals and timers all report here, and
 * the loop only ever reacts — it never blocks. Jobs are held in fp_held_t
 * records from the moment they are pulled until Redis has their outcome.
 *
 * Lifecycle: RUNNING → DRAINING (TERM/INT or --burst done: no more pulls,
 * never-started jobs put back, running jobs finish, children stopped) →
 * exit. A second TERM/INT or QUIT, or daemon.shutdown_timeout, jumps to
 * TERMINATING: children are killed and their jobs stay pending in Redis for
 * recovery. */
#include "supervisor/supervisor.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <cjson/cJSON.h>

#include "pool/child.h"
#include "dispatch/channel.h"
#include "dispatch/held.h"
#include "dispatch/job.h"
#include "base/log.h"
#include "dispatch/proto.h"
#include "handlers/handlers.h"
#include "http/health.h"
#include "ledger/ledger.h"
#include "http/metrics.h"
#include "queue/name_lease.h"
#include "base/os.h"
#include "pool/output.h"
#include "pool/pool.h"
#include "handlers/plugin_loader.h"
#include "supervisor/privs.h"
#include "queue/queue.h"
#include "queue/queue_stats.h"
#include "queue/retry.h"
#include "pool/spawn.h"

#define LOG "supervisor"
#define BURST_CHECK_MS 50
#define DRAIN_POLL_MS 10
#define START_ERROR_MAX 256
#define LEDGER_CAPACITY 10000 /* rows waiting for the writer before pulls pause */
#define LEDGER_POLL_MS 50
#define SAMPLE_INTERVAL_MS 5000

typedef enum { SUP_RUNNING, SUP_DRAINING, SUP_TERMINATING } sup_state_t;

typedef struct fp_supervisor_s fp_supervisor_t;



/* The queue and the claim on daemon.name, and what they said last. */
typedef struct sup_redis_s {
    fp_queue_t *queue;
    fp_lease_t *lease; /* the claim on daemon.name; the queue starts once held */
    bool lease_held;
    bool ready;        /* connected, the group in place */
    bool closed;       /* closing or closed: no more wants, no more samples */
} sup_redis_t;

/* A stop that must end in an error exit. */
typedef struct sup_fatal_s {
    int rc; /* 0: none */
    fp_err_t err;
} sup_fatal_t;

/* The configuration children are forked with, and a reload being rolled
 * out. A reload is rolled out only once one of its children said ready;
 * until then a failed start of one of them undoes it. */
typedef struct fp_reload_s {
    /* The child a still unproven reload replaces (slot id, -1: none): it
     * serves on until a child of that reload says ready, so a reload whose
     * children cannot start never leaves the pool without it. */
    int held_back;
    uint32_t generation;           /* the configuration children are forked with */
    uint32_t generations;          /* the last generation number handed out */
    bool unproven;
    const fp_config_t *proven_cfg; /* what an undone reload goes back to */
    uint32_t proven_generation;
    uint64_t failures;
    char error[START_ERROR_MAX];   /* "" unless the last reload failed */
    fp_config_t **configs;         /* configurations loaded by HUP still in use */
    size_t nconfigs;
} fp_reload_t;

/* Starting and replacing children. */
typedef struct sup_children_s {
    size_t retiring;                  /* children being replaced right now (at most one) */
    char start_error[START_ERROR_MAX]; /* the last failed start until a child says ready */
    bool pool_was_ready;              /* every initial child has said "ready" */
} sup_children_t;

typedef struct sup_signals_s {
    uv_signal_t term;
    uv_signal_t intr;
    uv_signal_t quit;
    uv_signal_t chld;
    uv_signal_t tstp;
    uv_signal_t hup;
    uv_signal_t ttin;
    uv_signal_t ttou;
    uv_signal_t usr1;
} sup_signals_t;

typedef struct sup_timers_s {
    uv_timer_t burst;
    uv_timer_t drain;
    uv_timer_t shutdown;
    uv_timer_t respawn;
    uv_timer_t sample; /* queue depths for /metrics, off the scrape path */
} sup_timers_t;

/* What the final log line, /stats and /metrics count. */
typedef struct sup_counters_s {
    uint64_t jobs_ok;
    uint64_t jobs_failed;
    uint64_t jobs_retried;
    uint64_t pulls;          /* batches received from the queue */
    int64_t start_ms;        /* when fp_supervisor_run began */
    int64_t first_pull_ms;   /* when the first job arrived; 0 before */
    int64_t last_pull_ms;
    int64_t last_outcome_ms; /* when the last job was settled */
} sup_counters_t;

/* The ledger and its writer's health. */
typedef struct sup_ledger_s {
    fp_ledger_t *writer; /* NULL when ledger.path is empty */
    bool full;           /* pulls pause until its writer catches up */
    bool failing;        /* its writes fail: readiness says so; pulls hold unless "skip" */
    uv_timer_t timer;
} sup_ledger_t;

struct fp_supervisor_s {
    uv_loop_t loop;
    const fp_config_t *cfg;
    fp_run_opts_t opts;
    const char *const *queue_names;
    size_t nqueues;
    fp_registry_t registry;
    fp_plugins_t *plugins; /* loaded after the drop; children inherit them */
    fp_pool_t pool;
    fp_held_table_t held;
    sup_redis_t redis;
    sup_state_t state;
    bool quiet; /* TSTP: no more pulls, keep running */
    sup_fatal_t fatal;
    fp_reload_t reload;
    sup_children_t children;
    uint64_t random; /* xorshift state for back-off jitter and recycling jitter */
    fp_outputs_t outputs; /* exec children's output readers */
    sup_signals_t signals;
    sup_timers_t timers;
    sup_counters_t counters;
    fp_health_t *health; /* NULL when health.listen is empty */
    sup_ledger_t ledger;
    fp_metrics_t *metrics;
};

static void dispatch(fp_supervisor_t *sup);
static void rebalance(fp_supervisor_t *sup);
static void on_queue_sample(void *ctx, uint32_t queue, const fp_admin_queue_stats_t *st);
static void begin_drain(fp_supervisor_t *sup, const char *why);
static void terminate(fp_supervisor_t *sup, const char *why);
static void maybe_finish(fp_supervisor_t *sup);
static int spawn_child(fp_supervisor_t *sup, fp_err_t *err);
static void start_failed(fp_supervisor_t *sup, uint32_t child_gen, const char *why);
static size_t target_children(const fp_supervisor_t *sup, const fp_config_t *cfg);

static uint64_t next_random(fp_supervisor_t *sup)
{
    uint64_t x = sup->random;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return sup->random = x;
}

/* A child and whatever it started (a handler's shell and its sleep) share
 * the child's process group: timeouts and kills reach them all. Only while
 * the child is not reaped: until then its pid, and so its group id, cannot
 * be reused. */
static void signal_child(const fp_slot_t *slot, int signum)
{
    if (slot->reaped || slot->pid <= 0)
        return;
    if (kill(-slot->pid, signum) < 0)
        kill(slot->pid, signum);
}

/* The millisecond part of a stream entry id: when the job was enqueued. */
static int64_t entry_ms(const char *entry_id)
{
    return entry_id != NULL ? strtoll(entry_id, NULL, 10) : 0;
}

static void update_want(fp_supervisor_t *sup);

/* Every outcome is counted in the metrics and written to the ledger. When
 * the ledger's writer falls behind, pulls pause rather than rows dropping. */
static void count_outcome(fp_supervisor_t *sup, const fp_held_t *held, fp_metrics_outcome_t o,
                          const char *error)
{
    int64_t elapsed_ms = held->started_at_ms > 0 ? fp_os_now_ms() - held->started_at_ms : -1;
    const char *type = held->job.type != NULL ? held->job.type : "(invalid)";
    const char *queue = sup->queue_names[held->queue];
    bool known = fp_handler_label_known(&sup->registry, sup->cfg, held->job.type,
                                        o == FP_OUTCOME_OK,
                                        fp_metrics_has(sup->metrics, queue, held->job.type));
    fp_metrics_job_done(sup->metrics, queue, known ? held->job.type : FP_METRICS_OTHER, o,
                        elapsed_ms >= 0 ? (double)elapsed_ms / 1000.0 : -1.0);
    if (sup->ledger.writer == NULL)
        return;
    fp_ledger_row_t row = {
        .queue = sup->queue_names[held->queue],
        .entry_id = held->entry_id,
        .job_id = held->job.id,
        .type = type,
        .outcome = fp_metrics_outcome_name(o),
        .error = error,
        .attempt = held->job.attempt + 1,
        .enqueued_at_ms = entry_ms(held->entry_id),
        .started_at_ms = held->started_unix_ms,
        .finished_at_ms = fp_os_unix_ms(),
        .duration_us = elapsed_ms >= 0 ? elapsed_ms * 1000 : 0,
        .pid = held->pid,
    };
    if (!fp_ledger_push(sup->ledger.writer, &row) && !sup->ledger.full) {
        sup->ledger.full = true;
        fp_log_warn(LOG, "the ledger writer is behind (%zu rows); pulls pause until it catches up",
                    fp_ledger_backlog(sup->ledger.writer));
        update_want(sup);
    }
}

/* A job that will not be run again: to the dead stream with the reason.
 * Its last attempt counts as `outcome` (dead, or failed when permanent). */
static void job_dead_as(fp_supervisor_t *sup, fp_held_t *held, const char *why,
                        fp_metrics_outcome_t outcome)
{
    const char *queue = sup->queue_names[held->queue];
    char attempt[24];
    snprintf(attempt, sizeof attempt, "%lld", (long long)(held->job.attempt + 1));
    const char *kv[] = {"queue", queue, "job", fp_held_name(held), "attempt", attempt, NULL};
    fp_log_kv(FP_LOG_WARN, LOG, kv, "job %s failed for good: %s",
              held->job.type != NULL ? held->job.type : "(invalid)", why);
    fp_queue_dead(sup->redis.queue, held->queue, held->entry_id, held->payload, held->payload_len, why,
                  held->job.attempt + 1);
    count_outcome(sup, held, outcome, why);
    sup->counters.jobs_failed++;
    sup->counters.last_outcome_ms = fp_os_now_ms();
}

static void job_dead(fp_supervisor_t *sup, fp_held_t *held, const char *why)
{
    job_dead_as(sup, held, why, FP_OUTCOME_DEAD);
}

/* A failed attempt: back to the delayed set after the back-off while
 * attempts are left and the failure may be retried, else dead. */
static void job_failed(fp_supervisor_t *sup, fp_held_t *held, const char *why, bool retryable,
                       fp_metrics_outcome_t kind)
{
    const fp_config_t *cfg = sup->cfg;
    int64_t attempts = held->job.attempt + 1;
    int64_t max = held->job.max_attempts > 0 ? held->job.max_attempts : cfg->retry.max_attempts;
    if (fp_retry_decide(attempts, max, retryable) == FP_RETRY_DEAD) {
        job_dead_as(sup, held, why,
                    !retryable && kind == FP_OUTCOME_FAILED ? FP_OUTCOME_FAILED : FP_OUTCOME_DEAD);
        return;
    }
    size_t len = 0;
    char *payload = fp_retry_payload(held->payload, held->payload_len, held->entry_id, attempts,
                                     why, &len);
    if (payload == NULL) {
        job_dead(sup, held, why);
        return;
    }
    int64_t delay = fp_retry_backoff_ms(attempts, cfg->retry.backoff_base_ms,
                                        cfg->retry.backoff_max_ms, cfg->retry.jitter,
                                        next_random(sup));
    char attempt[24];
    snprintf(attempt, sizeof attempt, "%lld", (long long)attempts);
    const char *kv[] = {"queue", sup->queue_names[held->queue], "job", fp_held_name(held),
                        "attempt", attempt, NULL};
    fp_log_kv(FP_LOG_WARN, LOG, kv, "job %s failed, retrying in %lld ms: %s", held->job.type,
              (long long)delay, why);
    fp_queue_retry(sup->redis.queue, held->queue, held->entry_id, payload, len, delay);
    free(payload);
    count_outcome(sup, held, kind == FP_OUTCOME_FAILED ? FP_OUTCOME_RETRIED : kind, why);
    sup->counters.jobs_retried++;
    sup->counters.last_outcome_ms = fp_os_now_ms();
}

/* ---- pulling ------------------------------------------------------------ */

static void update_want(fp_supervisor_t *sup)
{
    if (sup->redis.queue == NULL || sup->redis.closed)
        return;
    size_t room = 0;
    bool ledger_holds = sup->ledger.full || (sup->ledger.failing &&
                                             sup->cfg->ledger.on_error == FP_LEDGER_PAUSE);
    if (sup->state == SUP_RUNNING && sup->redis.ready && !sup->quiet && !ledger_holds)
        room = fp_pool_room(&sup->pool, sup->held.count);
    fp_queue_want(sup->redis.queue, room);
}

static bool known_type(const fp_supervisor_t *sup, const char *type)
{
    /* An exec worker's handlers are not known to the supervisor. */
    if (sup->cfg->pool.runtime == FP_RUNTIME_EXEC)
        return true;
    return fp_registry_find(&sup->registry, type) != NULL;
}

static void accept_pulled(fp_supervisor_t *sup, fp_pulled_t *pulled)
{
    fp_held_t *held = calloc(1, sizeof *held);
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
    sup->held.count++;

    fp_err_t why;
    fp_err_clear(&why);
    if (fp_job_parse(held->payload, held->payload_len, (size_t)sup->cfg->limits.max_job_bytes,
                     &held->job, &why) < 0) {
        job_dead(sup, held, why.msg);
        fp_held_release(&sup->held, held);
        return;
    }
    int64_t max = held->job.max_attempts > 0 ? held->job.max_attempts
                                              : sup->cfg->retry.max_attempts;
    if (pulled->deliveries > (uint64_t)max) {
        /* A job that keeps killing its holder (the supervisor, not just a
         * child) is caught by deliveries, not by failures. */
        char msg[96];
        snprintf(msg, sizeof msg, "delivered %llu times without an outcome",
                 (unsigned long long)pulled->deliveries);
        job_dead(sup, held, msg);
        fp_held_release(&sup->held, held);
        return;
    }
    if (!known_type(sup, held->job.type)) {
        char msg[FP_JOB_TYPE_MAX + 64];
        snprintf(msg, sizeof msg, "unknown job type \"%s\"", held->job.type);
        job_dead(sup, held, msg);
        fp_held_release(&sup->held, held);
        return;
    }
    fp_held_wait_push(&sup->held, held);
}

static void on_queue_jobs(void *ctx, fp_pulled_t *jobs, size_t n)
{
    fp_supervisor_t *sup = ctx;
    if (sup->counters.first_pull_ms == 0 && n > 0)
        sup->counters.first_pull_ms = fp_os_now_ms();
    sup->counters.pulls++;
    sup->counters.last_pull_ms = fp_os_now_ms();
    for (size_t i = 0; i < n; i++) {
        if (jobs[i].entry_id == NULL || jobs[i].payload == NULL)
            continue;
        accept_pulled(sup, &jobs[i]);
    }
    if (fp_log_enabled(FP_LOG_DEBUG))
        fp_log_debug(LOG, "pulled %zu held=%zu bound=%zu", n, sup->held.count,
                     sup->pool.target + sup->pool.prefetch);
    if (sup->state != SUP_RUNNING) {
        /* A pull that was in flight when draining began: put it back. */
        fp_held_t *held;
        while ((held = fp_held_wait_pop(&sup->held)) != NULL) {
            fp_queue_put_back(sup->redis.queue, held->queue, held->entry_id, held->payload,
                              held->payload_len);
            fp_held_release(&sup->held, held);
        }
        maybe_finish(sup);
        return;
    }
    dispatch(sup);
}

static void on_queue_ready(void *ctx, bool ready)
{
    fp_supervisor_t *sup = ctx;
    sup->redis.ready = ready;
    update_want(sup);
    if (ready && sup->health != NULL)
        fp_queue_sample(sup->redis.queue, on_queue_sample, sup);
}

/* ---- channels ----------------------------------------------------------- */

static fp_supervisor_t *channel_sup(const fp_channel_t *ch)
{
    return ch->ctx;
}

static fp_slot_t *channel_slot(fp_channel_t *ch)
{
    return &channel_sup(ch)->pool.slots[ch->slot];
}

static void send_stop(fp_supervisor_t *sup, fp_slot_t *slot)
{
    fp_channel_t *ch = slot->channel;
    if (slot->id == sup->reload.held_back)
        sup->reload.held_back = -1;
    if (ch != NULL)
        fp_channel_flush(ch); /* jobs queued for it go first */
    fp_buf_t line = {0};
    if (ch == NULL || slot->channel_eof || fp_proto_encode_stop(&line) < 0 ||
        fp_channel_send(ch, line.data, line.len) < 0) {
        signal_child(slot, SIGTERM);
    }
    fp_buf_free(&line);
    slot->state = FP_CHILD_STOPPING;
}

/* The job overran: TERM now, KILL after kill_grace. Its outcome is settled
 * when the child is reaped, as a failed attempt ("timeout"). */

/* Whether the running job's answer was already in the socket when its
 * deadline fired (the loop had not read it yet): then it finished in time
 * and must not be retried as a timeout. Reading settles it, and the next
 * job queued behind it, if any, is the head with a deadline of its own. */
static bool answered_meanwhile(fp_channel_t *ch)
{
    const fp_held_t *head = channel_slot(ch)->job;
    uint64_t seq = head != NULL ? head->seq : 0;
    fp_channel_drain(ch);
    head = channel_slot(ch)->job; /* settling may have grown the slots */
    if (head != NULL && head->seq == seq)
        return false;
    dispatch(channel_sup(ch));
    return true;
}

static void on_job_timer(uv_timer_t *timer)
{
    fp_channel_t *ch = timer->data;
    fp_supervisor_t *sup = ch->ctx;
    fp_slot_t *slot = channel_slot(ch);
    if (slot->reaped || slot->pid <= 0)
        return;
    if (!slot->timed_out && answered_meanwhile(ch))
        return;
    slot = channel_slot(ch);
    if (slot->timed_out) {
        fp_log_warn(LOG, "child %d (pid %d) ignored SIGTERM for %lld ms; sending SIGKILL", slot->id,
                    (int)slot->pid, (long long)sup->cfg->pool.kill_grace_ms);
        signal_child(slot, SIGKILL);
        return;
    }
    fp_held_t *held = slot->job;
    fp_log_warn(LOG, "job %s (%s) on child %d (pid %d) timed out; sending SIGTERM",
                held != NULL ? fp_held_name(held) : "?", held != NULL ? held->job.type : "?", slot->id,
                (int)slot->pid);
    slot->timed_out = true;
    signal_child(slot, SIGTERM);
    uv_timer_start(timer, on_job_timer, (uint64_t)sup->cfg->pool.kill_grace_ms, 0);
}

/* The child is going away (its exit will be reaped); the jobs stay with
 * the slot and are settled with that child's exit. */
static void handoff_failed(fp_slot_t *slot, const char *what, int rc)
{
    fp_log_warn(LOG, "could not hand %s to child %d: %s", what, slot->id, uv_strerror(rc));
    signal_child(slot, SIGKILL);
}

/* The job at the head of a child's queue is running from now on: the child
 * took it up as soon as it answered the one before. Its deadline starts
 * here, so a queued job's wait never counts against its timeout. */
static void start_head(fp_supervisor_t *sup, fp_slot_t *slot)
{
    fp_held_t *held = slot->job;
    fp_channel_t *ch = slot->channel;
    held->started_at_ms = fp_os_now_ms();
    held->started_unix_ms = fp_os_unix_ms();
    int64_t timeout = held->job.timeout_ms > 0 ? held->job.timeout_ms : sup->cfg->pool.job_timeout_ms;
    if (ch != NULL)
        uv_timer_start(&ch->timer, on_job_timer, (uint64_t)timeout, 0);
}

static void assign(fp_supervisor_t *sup, fp_slot_t *slot, fp_held_t *held)
{
    fp_channel_t *ch = slot->channel;
    held->seq = fp_pool_next_seq(&sup->pool);
    held->pid = slot->pid;
    fp_held_slot_push(slot, held);
    slot->state = FP_CHILD_BUSY;
    if (slot->job == held)
        start_head(sup, slot);
    size_t mark = ch->out.len;
    if (fp_proto_encode_job(&ch->out, held->seq, held->job.attempt + 1, held->payload,
                            held->payload_len) < 0) {
        ch->out.len = mark;
        handoff_failed(slot, "a job", UV_ENOMEM);
    }
}

static void dispatch(fp_supervisor_t *sup)
{
    fp_slot_t *slot;
    bool sent = false;
    while (sup->held.wait_head != NULL && (slot = fp_pool_pick(&sup->pool)) != NULL) {
        assign(sup, slot, fp_held_wait_pop(&sup->held));
        sent = true;
    }
    for (size_t i = 0; sent && i < sup->pool.capacity; i++) {
        slot = &sup->pool.slots[i];
        fp_channel_t *ch = slot->channel;
        int rc = ch != NULL ? fp_channel_flush(ch) : 0;
        if (rc < 0)
            handoff_failed(slot, "its jobs", rc);
    }
    update_want(sup);
}

/* Why a live child is replaced, if it is: its configuration is outdated,
 * or it reached its job or memory limit. */
static bool over_limits(const fp_supervisor_t *sup, const fp_slot_t *slot,
                        fp_metrics_restart_t *reason)
{
    int64_t max_kb = sup->cfg->pool.max_memory_per_child_bytes / 1024;
    if (slot->generation != sup->reload.generation) {
        *reason = FP_RESTART_RELOAD;
        return true;
    }
    if (slot->max_jobs > 0 && slot->jobs_done >= slot->max_jobs) {
        *reason = FP_RESTART_MAX_JOBS;
        return true;
    }
    if (max_kb > 0 && slot->rss_kb > max_kb) {
        *reason = FP_RESTART_MAX_MEMORY;
        return true;
    }
    return false;
}

/* The cause of a replacement as its log line says it. */
static const char *retire_why(fp_metrics_restart_t reason)
{
    switch (reason) {
    case FP_RESTART_RELOAD:
        return "a reload";
    case FP_RESTART_MAX_MEMORY:
        return "max_memory_per_child";
    default:
        return "max_jobs_per_child";
    }
}

/* Replaces a child that reached its job or memory limit: the replacement is
 * forked first, then the old one is told to stop, so capacity never dips;
 * one replacement at a time, so a whole pool never recycles at once. */
static bool maybe_retire(fp_supervisor_t *sup, fp_slot_t *slot)
{
    fp_metrics_restart_t reason;
    if (sup->state != SUP_RUNNING || sup->children.retiring > 0 || !over_limits(sup, slot, &reason))
        return false;
    if (!fp_pool_may_roll(&sup->pool, sup->reload.generation, sup->reload.unproven,
                          uv_is_active((uv_handle_t *)&sup->timers.respawn)))
        return false;
    fp_err_t err;
    fp_err_clear(&err);
    int id = slot->id;
    pid_t pid = slot->pid;
    int64_t jobs = slot->jobs_done, rss = slot->rss_kb;
    if (spawn_child(sup, &err) < 0) {
        start_failed(sup, sup->reload.generation, err.msg);
        return false;
    }
    slot = &sup->pool.slots[id]; /* spawning may have grown the slot array */
    fp_log_info(LOG, "child %d (pid %d) is replaced after %s (%lld jobs, rss %lld kB)", id,
                (int)pid, retire_why(reason), (long long)jobs, (long long)rss);
    slot->retiring = true;
    sup->children.retiring++;
    fp_metrics_child_restart(sup->metrics, reason);
    if (reason == FP_RESTART_RELOAD && sup->reload.unproven) {
        sup->reload.held_back = id; /* stopped by said_ready, kept by undo_reload */
        return true;
    }
    send_stop(sup, slot);
    return true;
}

static void settle_done(fp_supervisor_t *sup, fp_slot_t *slot, const fp_msg_t *msg)
{
    fp_held_t *held = slot->job;
    if (held == NULL || msg->seq != held->seq || slot->timed_out) {
        fp_log_warn(LOG, "child %d (pid %d) answered for job seq %llu it does not hold", slot->id,
                    (int)slot->pid, (unsigned long long)msg->seq);
        return;
    }
    uv_timer_stop(&((fp_channel_t *)slot->channel)->timer);
    fp_held_slot_pop(slot);
    if (msg->ok) {
        fp_queue_ack(sup->redis.queue, held->queue, held->entry_id);
        count_outcome(sup, held, FP_OUTCOME_OK, NULL);
        sup->counters.jobs_ok++;
        sup->counters.last_outcome_ms = fp_os_now_ms();
    } else {
        job_failed(sup, held, msg->error != NULL ? msg->error : "failed", msg->retry,
                   FP_OUTCOME_FAILED);
    }
    slot->jobs_done++;
    slot->rss_kb = msg->rss_kb;
    if (slot->jobs_done == 1)
        fp_pool_start_ok(&sup->pool); /* a child that works ends any crash loop */
    fp_held_release(&sup->held, held);
    if (slot->job != NULL)
        start_head(sup, slot);
    else if (slot->state == FP_CHILD_BUSY)
        slot->state = FP_CHILD_IDLE;
    if (sup->state != SUP_RUNNING) {
        /* Queued behind what it still holds: those finish first. */
        if (slot->state != FP_CHILD_STOPPING)
            send_stop(sup, slot);
        return;
    }
    rebalance(sup);
}

/* Its start is over: the start deadline goes, and a child of the reload
 * being rolled out proves that reload. */
static void said_ready(fp_supervisor_t *sup, fp_slot_t *slot)
{
    slot->said_ready = true;
    sup->children.start_error[0] = '\0';
    uv_timer_stop(&((fp_channel_t *)slot->channel)->timer);
    if (slot->generation != sup->reload.generation)
        return;
    sup->reload.unproven = false;
    if (sup->reload.held_back >= 0) {
        fp_slot_t *old = &sup->pool.slots[sup->reload.held_back];
        if (old->state == FP_CHILD_IDLE || old->state == FP_CHILD_BUSY)
            send_stop(sup, old);
        sup->reload.held_back = -1;
    }
}

/* Jobs queued in a child's socket behind the one it ran never started:
 * they go to another child (or back to Redis when draining) without an
 * attempt counted. */
static void requeue_queued(fp_supervisor_t *sup, fp_slot_t *slot)
{
    fp_held_t *held, *rest = NULL;
    while ((held = fp_held_slot_pop(slot)) != NULL) {
        held->next = rest; /* reversed, so pushing each to the front keeps the order */
        rest = held;
    }
    while ((held = rest) != NULL) {
        rest = held->next;
        held->started_at_ms = 0;
        if (sup->state == SUP_RUNNING) {
            fp_held_wait_push_front(&sup->held, held);
        } else {
            fp_queue_put_back(sup->redis.queue, held->queue, held->entry_id, held->payload,
                              held->payload_len);
            fp_held_release(&sup->held, held);
        }
    }
}

/* A child holding a job that sends a line the protocol does not allow
 * cannot be trusted with it: the attempt fails at once (instead of running
 * into its timeout) and the child is killed; its exit is reaped as for any
 * crash and its slot refilled. Without a job, the line is only logged. */
static void protocol_error(fp_supervisor_t *sup, fp_slot_t *slot, const char *why)
{
    fp_held_t *held = slot->job;
    if (held == NULL || slot->timed_out || slot->reaped) {
        fp_log_warn(LOG, "child %d (pid %d) sent a bad line: %s", slot->id, (int)slot->pid, why);
        return;
    }
    fp_log_error(LOG, "child %d (pid %d) broke the protocol while running job %s: %s; killing it",
                 slot->id, (int)slot->pid, fp_held_name(held), why);
    char reason[FP_ERR_MSG_MAX + 16];
    snprintf(reason, sizeof reason, "protocol: %s", why);
    uv_timer_stop(&((fp_channel_t *)slot->channel)->timer);
    fp_held_slot_pop(slot);
    job_failed(sup, held, reason, true, FP_OUTCOME_FAILED);
    fp_held_release(&sup->held, held);
    /* Queued jobs leave now: its reap would blame the next one for the
     * kill, and a further bad line in the same read would fail it too. */
    requeue_queued(sup, slot);
    slot->channel_eof = true; /* it takes no more jobs */
    signal_child(slot, SIGKILL);
}

static void on_channel_line(void *ctx, const char *line, size_t len, int status)
{
    fp_channel_t *ch = ctx;
    fp_supervisor_t *sup = ch->ctx;
    fp_slot_t *slot = channel_slot(ch);
    fp_msg_t msg;
    fp_err_t err;
    fp_err_clear(&err);
    if (status < 0)
        fp_err_set(&err, FP_ELIMIT, "a line longer than %zu bytes", ch->framer.max_line);
    if (status < 0 || fp_proto_decode(line, len, &msg, &err) < 0) {
        protocol_error(sup, slot, err.msg);
        return;
    }
    if (msg.op == FP_MSG_READY && !slot->said_ready)
        said_ready(sup, slot);
    if (msg.op == FP_MSG_READY && slot->state == FP_CHILD_STOPPING) {
        /* Told to stop before it was ready (a quick drain): nothing to do. */
    } else if (msg.op == FP_MSG_READY && slot->state == FP_CHILD_STARTING) {
        slot->state = sup->state == SUP_RUNNING ? FP_CHILD_IDLE : FP_CHILD_STARTING;
        fp_log_debug(LOG, "child %d ready (pid %d)", slot->id, (int)slot->pid);
        if (!sup->children.pool_was_ready && fp_pool_count(&sup->pool, FP_CHILD_STARTING) == 0) {
            sup->children.pool_was_ready = true;
            fp_log_info(LOG, "pool ready: %zu children in %lld ms", sup->pool.target,
                        (long long)(fp_os_now_ms() - sup->counters.start_ms));
        }
        if (sup->state != SUP_RUNNING)
            send_stop(sup, slot);
        else if (!slot->reaped)
            rebalance(sup); /* a reload waiting for this child's proof rolls on */
    } else if (msg.op == FP_MSG_DONE && slot->state >= FP_CHILD_BUSY) {
        settle_done(sup, slot, &msg);
    } else {
        fp_log_warn(LOG, "child %d (pid %d) sent an unexpected message", slot->id, (int)slot->pid);
    }
    fp_msg_clear(&msg);
}

static void on_channel_closed(void *ctx, int id)
{
    fp_supervisor_t *sup = ctx;
    fp_slot_t *slot = &sup->pool.slots[id];
    slot->channel = NULL;
    slot->channel_closed = true;
    fp_pool_release_if_done(&sup->pool, slot);
    maybe_finish(sup);
}

static void on_channel_grace(uv_timer_t *timer)
{
    fp_channel_t *ch = timer->data;
    fp_slot_t *slot = channel_slot(ch);
    if (slot->reaped)
        return;
    fp_log_warn(LOG, "child %d (pid %d) outlived its channel by %lld ms; sending SIGKILL", slot->id,
                (int)slot->pid, (long long)channel_sup(ch)->cfg->pool.kill_grace_ms);
    signal_child(slot, SIGKILL);
}

/* Whether pid has exited and waits to be reaped (a crash closes the
 * channel too); it is left for SIGCHLD's reap. */
static bool child_exited(pid_t pid)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}

/* The child's end of the channel closed or failed while the child lives:
 * it can take no job and answer none, and its job's deadline would go with
 * the channel, so it is finished off now (TERM, then KILL after
 * kill_grace); a job it held fails as a crash once it is reaped. A stopping
 * child is on its way out and only gets the KILL if it lingers. The channel
 * stays open until the reap, for the timer. */
static void channel_lost(fp_channel_t *ch, ssize_t why)
{
    fp_slot_t *slot = channel_slot(ch);
    fp_channel_stop_reading(ch);
    if (slot->channel_lost || slot->timed_out || slot->start_timed_out || child_exited(slot->pid))
        return; /* already being stopped, or dead: the reap settles it */
    slot->channel_lost = true;
    if (slot->state != FP_CHILD_STOPPING || slot->job != NULL) {
        fp_log_warn(LOG, "child %d (pid %d) closed its channel (%s)%s; stopping it", slot->id,
                    (int)slot->pid, why == UV_EOF ? "EOF" : uv_strerror((int)why),
                    slot->job != NULL ? " while running a job" : "");
        signal_child(slot, SIGTERM);
    }
    uv_timer_start(&ch->timer, on_channel_grace, (uint64_t)channel_sup(ch)->cfg->pool.kill_grace_ms, 0);
}

static void on_channel_read(fp_channel_t *ch)
{
    dispatch(channel_sup(ch));
}

/* EOF or error: the child is gone or going; its exit is reaped apart, and
 * until then it must not be picked for a job. */
static void on_channel_end(fp_channel_t *ch, ssize_t why)
{
    fp_slot_t *slot = channel_slot(ch);
    slot->channel_eof = true;
    if (slot->reaped)
        fp_channel_close(ch);
    else
        channel_lost(ch, why);
}

static const fp_channel_events_t channel_events = {on_channel_line, on_channel_read,
                                                   on_channel_end, on_channel_closed};

static int channel_open(fp_supervisor_t *sup, fp_slot_t *slot, int fd)
{
    fp_channel_t *ch;
    int rc = fp_channel_open(&sup->loop, fd, (size_t)sup->cfg->limits.max_job_bytes + 4096,
                             &channel_events, sup, slot->id, &ch);
    slot->channel = ch;
    return rc;
}

/* ---- children ----------------------------------------------------------- */

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
    slot = channel_slot(ch);
    if (slot->reaped || slot->said_ready)
        return;
    fp_log_warn(LOG, "child %d (pid %d) did not say ready within %lld ms (pool.start_timeout); "
                     "killing it", slot->id, (int)slot->pid,
                (long long)channel_sup(ch)->cfg->pool.start_timeout_ms);
    slot->start_timed_out = true;
    signal_child(slot, SIGKILL);
}

static int spawn_child(fp_supervisor_t *sup, fp_err_t *err)
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
    rc = channel_open(sup, slot, fd);
    if (rc < 0) {
        if (slot->channel == NULL) {
            close(fd); /* else the pipe owns it and closes it */
            slot->channel_closed = true;
        }
        kill(pid, SIGKILL);
        slot->state = FP_CHILD_STOPPING;
        return fp_err_set(err, rc, "cannot watch child %d: %s", slot->id, uv_strerror(rc));
    }
    const fp_config_t *cfg = sup->cfg;
    slot->max_jobs = fp_pool_max_jobs(cfg->pool.max_jobs_per_child, cfg->pool.max_jobs_jitter,
                                      next_random(sup));
    slot->generation = sup->reload.generation;
    uv_timer_start(&((fp_channel_t *)slot->channel)->timer, on_start_timer,
                   (uint64_t)cfg->pool.start_timeout_ms, 0);
    fp_log_info(LOG, "child %d spawned (pid %d)", slot->id, (int)pid);
    return 0;
}

static void on_respawn_timer(uv_timer_t *timer);

static void top_up(fp_supervisor_t *sup)
{
    /* While a crash-loop delay runs, only its timer may fork. */
    if (uv_is_active((uv_handle_t *)&sup->timers.respawn))
        return;
    while (sup->state == SUP_RUNNING && fp_pool_live(&sup->pool) < sup->pool.target) {
        fp_err_t err;
        fp_err_clear(&err);
        if (spawn_child(sup, &err) < 0) {
            start_failed(sup, sup->reload.generation, err.msg);
            return;
        }
    }
}

static void set_health_limits(fp_supervisor_t *sup)
{
    if (sup->health == NULL)
        return;
    const fp_config_t *cfg = sup->cfg;
    fp_health_limits_t lim = {(uint64_t)cfg->health.header_timeout_ms,
                              (uint64_t)cfg->health.idle_timeout_ms,
                              (uint32_t)cfg->health.max_connections};
    fp_health_set_limits(sup->health, &lim);
}

/* What a configuration sets in the running supervisor (HUP, or its undo). */
static void apply_config(fp_supervisor_t *sup, const fp_config_t *cfg)
{
    int rc = fp_log_setup(cfg->daemon.log_level, cfg->daemon.log_format, cfg->daemon.log_file);
    if (rc < 0)
        fp_log_warn(LOG, "reload: cannot open daemon.log_file: %s", strerror(-rc));
    sup->cfg = cfg;
    set_health_limits(sup);
    sup->pool.target = target_children(sup, cfg);
    sup->pool.prefetch = (size_t)cfg->pool.prefetch;
    sup->pool.pipeline = (size_t)cfg->pool.pipeline;
}

/* A configuration loaded by HUP is needed while it is current or is what an
 * undone reload goes back to; children took their copy at fork or spawn, and
 * nothing else borrows from it. Kept until exit, every HUP grew the daemon by
 * one configuration (its whole document, plugin tables included). */
static void release_unused_configs(fp_supervisor_t *sup)
{
    size_t kept = 0;
    for (size_t i = 0; i < sup->reload.nconfigs; i++) {
        fp_config_t *c = sup->reload.configs[i];
        if (c == sup->cfg || c == sup->reload.proven_cfg)
            sup->reload.configs[kept++] = c;
        else
            fp_config_free(c);
    }
    sup->reload.nconfigs = kept;
}

/* A reload whose first new child cannot start is undone, as a broken file
 * is: the children of the previous configuration never stopped serving (a
 * replacement stops its old child only once it is forked, and the next
 * waits for proof), the previous configuration is current again, and what
 * the failed child left missing is made from it at once. One error names
 * the cause; /stats and /metrics keep it. */
static void undo_reload(fp_supervisor_t *sup, const char *why)
{
    snprintf(sup->reload.error, sizeof sup->reload.error, "%s", why);
    sup->reload.failures++;
    if (sup->reload.held_back >= 0) {
        fp_slot_t *old = &sup->pool.slots[sup->reload.held_back];
        sup->reload.held_back = -1;
        if (old->retiring) {
            old->retiring = false;
            sup->children.retiring--;
        }
    }
    sup->reload.unproven = false;
    apply_config(sup, sup->reload.proven_cfg);
    release_unused_configs(sup);
    sup->reload.generation = sup->reload.proven_generation;
    fp_log_error(LOG, "reload failed: its children cannot start (%s); keeping %s and its "
                      "children, send HUP again once fixed",
                 why, sup->cfg->source);
    top_up(sup);
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
        undo_reload(sup, why);
        return;
    case FP_START_STALE:
        fp_log_warn(LOG, "a child of an earlier configuration failed to start (%s); refilling "
                         "its slot with the current one",
                    why);
        top_up(sup);
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

/* Brings the pool to its target: forks what is missing, stops children
 * beyond the target (TTOU, a smaller reload), and replaces one
 * child at a time that is outdated (HUP) or over a limit. */
static void rebalance(fp_supervisor_t *sup)
{
    if (sup->state != SUP_RUNNING)
        return;
    top_up(sup);
    fp_slot_t *slot;
    while (live_beyond_held_back(sup) > sup->pool.target &&
           (slot = fp_pool_pick_to_stop(&sup->pool)) != NULL) {
        fp_log_info(LOG, "child %d (pid %d) stops: the pool shrinks to %zu", slot->id,
                    (int)slot->pid, sup->pool.target);
        send_stop(sup, slot);
    }
    for (size_t i = 0; i < sup->pool.capacity && sup->children.retiring == 0; i++) {
        slot = &sup->pool.slots[i];
        if ((slot->state == FP_CHILD_IDLE || slot->state == FP_CHILD_BUSY) && !slot->channel_eof)
            maybe_retire(sup, slot);
    }
}

static void on_respawn_timer(uv_timer_t *timer)
{
    top_up(timer->data);
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
        top_up(sup);
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

/* A crash or a timeout is a failed attempt of the job the child was
 * running, and follows the retry rules at once: no visibility timeout to
 * wait for. Jobs queued behind it never started: they go to another child
 * (or back to Redis when draining) without an attempt counted. */
static void settle_dead_child_jobs(fp_supervisor_t *sup, fp_slot_t *slot, const char *how)
{
    fp_held_t *held = fp_held_slot_pop(slot);
    if (held == NULL)
        return;
    char why[224];
    if (slot->timed_out)
        snprintf(why, sizeof why, "timeout: still running after %lld ms",
                 (long long)(held->job.timeout_ms > 0 ? held->job.timeout_ms
                                                      : sup->cfg->pool.job_timeout_ms));
    else if (slot->channel_lost && stopped_by_us(slot->exit_status))
        snprintf(why, sizeof why, "child crashed: it closed its channel while running the job, "
                                  "then %s", how);
    else
        snprintf(why, sizeof why, "child crashed: %s", how);
    job_failed(sup, held, why, true, slot->timed_out ? FP_OUTCOME_TIMEOUT : FP_OUTCOME_CRASHED);
    fp_held_release(&sup->held, held);
    requeue_queued(sup, slot);
}

/* Why a child died that was not asked to. */
static fp_metrics_restart_t exit_reason(const fp_slot_t *slot, int status)
{
    bool init_failed = WIFEXITED(status) && WEXITSTATUS(status) == FP_CHILD_EXIT_INIT_FAILED;
    if (slot->timed_out)
        return FP_RESTART_TIMEOUT;
    return init_failed || slot->start_timed_out ? FP_RESTART_INIT_FAILED : FP_RESTART_CRASH;
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
        slot = &sup->pool.slots[id]; /* settling may have forked and grown the slots */
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
        fp_metrics_child_restart(sup->metrics, exit_reason(slot, status));
    }
    slot->state = FP_CHILD_EXITED;
    if (slot->channel != NULL)
        fp_channel_close(slot->channel);
    if (!expected && sup->state == SUP_RUNNING) {
        schedule_respawn(sup, slot, died_in_job);
        slot = &sup->pool.slots[id]; /* its fork may have grown the slots */
    }
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
static void on_sigchld(uv_signal_t *handle, int signum)
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
    rebalance(sup);
    dispatch(sup);
    maybe_finish(sup);
}

/* ---- lifecycle ---------------------------------------------------------- */

static void close_handle(uv_handle_t *handle)
{
    if (handle->data != NULL && !uv_is_closing(handle))
        uv_close(handle, NULL);
}

static void on_queue_closed(void *ctx)
{
    fp_supervisor_t *sup = ctx;
    sup->redis.queue = NULL;
    /* Released only now: every outcome of this daemon is in Redis. */
    fp_lease_close(sup->redis.lease, NULL, NULL);
    sup->redis.lease = NULL;
    fp_outputs_close_all(&sup->outputs);
    if (sup->health != NULL) {
        fp_health_close(sup->health, NULL, NULL);
        sup->health = NULL;
    }
    close_handle((uv_handle_t *)&sup->signals.term);
    close_handle((uv_handle_t *)&sup->signals.intr);
    close_handle((uv_handle_t *)&sup->signals.quit);
    close_handle((uv_handle_t *)&sup->signals.chld);
    close_handle((uv_handle_t *)&sup->signals.tstp);
    close_handle((uv_handle_t *)&sup->signals.hup);
    close_handle((uv_handle_t *)&sup->signals.ttin);
    close_handle((uv_handle_t *)&sup->signals.ttou);
    close_handle((uv_handle_t *)&sup->signals.usr1);
    close_handle((uv_handle_t *)&sup->timers.burst);
    close_handle((uv_handle_t *)&sup->timers.drain);
    close_handle((uv_handle_t *)&sup->timers.shutdown);
    close_handle((uv_handle_t *)&sup->timers.respawn);
    close_handle((uv_handle_t *)&sup->ledger.timer);
    close_handle((uv_handle_t *)&sup->timers.sample);
}

static bool slots_empty(const fp_supervisor_t *sup)
{
    return fp_pool_count(&sup->pool, FP_CHILD_FREE) == sup->pool.capacity;
}

/* Once every child is gone and Redis has every outcome, close the queue;
 * the loop then runs out of handles and fp_supervisor_run returns. */
static void maybe_finish(fp_supervisor_t *sup)
{
    if (sup->state == SUP_RUNNING || sup->redis.closed || !slots_empty(sup))
        return;
    if (sup->state == SUP_DRAINING && sup->redis.queue != NULL && fp_queue_unconfirmed(sup->redis.queue) > 0)
        return; /* the drain timer polls again */
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
        fp_queue_close(sup->redis.queue, on_queue_closed, sup);
    else
        on_queue_closed(sup);
}

static void on_drain_timer(uv_timer_t *timer)
{
    maybe_finish(timer->data);
}

static void on_shutdown_timeout(uv_timer_t *timer)
{
    terminate(timer->data, "shutdown_timeout reached");
}

static void begin_drain(fp_supervisor_t *sup, const char *why)
{
    if (sup->state != SUP_RUNNING)
        return;
    sup->state = SUP_DRAINING;
    fp_log_info(LOG, "draining (%s): %zu jobs running, waiting up to %lld ms", why,
                fp_pool_count(&sup->pool, FP_CHILD_BUSY),
                (long long)sup->cfg->daemon.shutdown_timeout_ms);
    update_want(sup);
    uv_timer_stop(&sup->timers.burst);
    uv_timer_stop(&sup->timers.respawn);
    fp_held_t *held;
    while ((held = fp_held_wait_pop(&sup->held)) != NULL) {
        fp_queue_put_back(sup->redis.queue, held->queue, held->entry_id, held->payload,
                          held->payload_len);
        fp_held_release(&sup->held, held);
    }
    for (size_t i = 0; i < sup->pool.capacity; i++) {
        fp_slot_t *slot = &sup->pool.slots[i];
        if (slot->state == FP_CHILD_IDLE || slot->state == FP_CHILD_STARTING)
            send_stop(sup, slot);
    }
    uv_timer_start(&sup->timers.shutdown, on_shutdown_timeout,
                   (uint64_t)sup->cfg->daemon.shutdown_timeout_ms, 0);
    uv_timer_start(&sup->timers.drain, on_drain_timer, DRAIN_POLL_MS, DRAIN_POLL_MS);
    maybe_finish(sup);
}

/* Stop now: kill the children; their jobs stay pending in Redis. */
static void terminate(fp_supervisor_t *sup, const char *why)
{
    if (sup->state == SUP_TERMINATING)
        return;
    sup->state = SUP_TERMINATING;
    fp_log_warn(LOG, "stopping at once (%s); running jobs stay pending for recovery", why);
    for (size_t i = 0; i < sup->pool.capacity; i++) {
        fp_slot_t *slot = &sup->pool.slots[i];
        if (slot->state != FP_CHILD_FREE && !slot->reaped) {
            /* Forget its jobs: not acknowledged, so Redis keeps them pending. */
            fp_held_t *held;
            while ((held = fp_held_slot_pop(slot)) != NULL)
                fp_held_release(&sup->held, held);
            signal_child(slot, SIGKILL);
            slot->state = FP_CHILD_STOPPING;
        }
    }
    uv_timer_stop(&sup->timers.shutdown);
    maybe_finish(sup);
}

static void on_stop_signal(uv_signal_t *handle, int signum)
{
    fp_supervisor_t *sup = handle->data;
    if (signum == SIGQUIT || sup->state != SUP_RUNNING)
        terminate(sup, signum == SIGQUIT ? "SIGQUIT" : "second stop signal");
    else
        begin_drain(sup, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* TSTP: quiet, as Sidekiq does before a deploy: no more pulls, running
 * and held jobs finish, the daemon stays up until TERM. */
static void on_quiet_signal(uv_signal_t *handle, int signum)
{
    (void)signum;
    fp_supervisor_t *sup = handle->data;
    if (sup->quiet || sup->state != SUP_RUNNING)
        return;
    sup->quiet = true;
    fp_log_info(LOG, "quiet (SIGTSTP): no more pulls; %zu jobs held finish", sup->held.count);
    update_want(sup);
}

static size_t target_children(const fp_supervisor_t *sup, const fp_config_t *cfg)
{
    return (size_t)(sup->opts.children > 0 ? sup->opts.children : cfg->pool.children);
}

static bool same_string(const char *a, const char *b)
{
    return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

/* What a reload cannot change without a restart: the queue and its Redis
 * connection were built from the first configuration. */
static void warn_restart_only(const fp_config_t *old, const fp_config_t *cfg)
{
    bool same_queues = old->queues.names.count == cfg->queues.names.count;
    for (size_t i = 0; same_queues && i < cfg->queues.names.count; i++)
        same_queues = same_string(old->queues.names.items[i], cfg->queues.names.items[i]);
    if (!same_string(old->redis.url, cfg->redis.url) ||
        !same_string(old->redis.prefix, cfg->redis.prefix) ||
        !same_string(old->redis.group, cfg->redis.group) ||
        !same_string(old->daemon.name, cfg->daemon.name) || !same_queues ||
        !same_string(old->health.listen, cfg->health.listen))
        fp_log_warn(LOG, "reload: [redis], [queues], daemon.name and health.listen take effect "
                         "only after a restart");
    if (!same_string(old->daemon.user, cfg->daemon.user) ||
        !same_string(old->daemon.group, cfg->daemon.group) ||
        !same_string(old->daemon.pidfile, cfg->daemon.pidfile))
        fp_log_warn(LOG, "reload: daemon.user, daemon.group and daemon.pidfile take effect only "
                         "after a restart");
}

/* The file could not be read or is broken: the running generation stays,
 * and /stats says why. After the drop the file is read as daemon.user, so a
 * root-only file fails here though it started the daemon. */
static void reload_load_failed(fp_supervisor_t *sup, const fp_err_t *err)
{
    const fp_privs_plan_t *privs = sup->opts.privs;
    bool dropped = privs != NULL && privs->drop;
    bool denied = err->code == -EACCES && dropped;
    int n = snprintf(sup->reload.error, sizeof sup->reload.error, "%s%s%s%s", err->msg,
                     denied ? " (re-read as daemon.user \"" : "",
                     denied ? (privs->set_uid ? privs->user : "root") : "",
                     denied ? "\", which must be able to read it)" : "");
    if (n >= (int)sizeof sup->reload.error)
        fp_log_debug(LOG, "reload error cut to %zu bytes", sizeof sup->reload.error - 1);
    /* Not counted in reload_failures: that counts reloads undone after
     * their children failed; this one never started. */
    fp_log_error(LOG, "reload failed, keeping the current configuration: %s", sup->reload.error);
}

/* HUP: a new configuration, or the old one kept when the file is broken;
 * children are then replaced one at a time, new first, so capacity never
 * drops and no running job is interrupted. */
static void on_reload_signal(uv_signal_t *handle, int signum)
{
    (void)signum;
    fp_supervisor_t *sup = handle->data;
    if (sup->state != SUP_RUNNING)
        return;
    const char *path = strcmp(sup->cfg->source, "(defaults)") == 0 ? NULL : sup->cfg->source;
    fp_config_t *cfg = NULL;
    fp_err_t err;
    fp_err_clear(&err);
    fp_config_t **grown = realloc(sup->reload.configs, (sup->reload.nconfigs + 1) * sizeof *grown);
    if (grown == NULL) {
        fp_log_error(LOG, "reload failed: out of memory; keeping the current configuration");
        return;
    }
    sup->reload.configs = grown;
    if (fp_config_load(path, &cfg, &err) < 0) {
        reload_load_failed(sup, &err);
        return;
    }
    sup->reload.configs[sup->reload.nconfigs++] = cfg;
    warn_restart_only(sup->cfg, cfg);
    if (!sup->reload.unproven) {
        /* A reload over one still unproven would go back to that one. */
        sup->reload.proven_cfg = sup->cfg;
        sup->reload.proven_generation = sup->reload.generation;
    }
    apply_config(sup, cfg);
    release_unused_configs(sup);
    sup->reload.generation = ++sup->reload.generations;
    sup->reload.unproven = true;
    sup->reload.error[0] = '\0';
    fp_log_info(LOG, "reloaded %s: %zu children, prefetch %zu, pipeline %zu; replacing children one at a time",
                cfg->source, sup->pool.target, sup->pool.prefetch, sup->pool.pipeline);
    rebalance(sup);
    dispatch(sup);
}

/* TTIN/TTOU: one child more or less, as gunicorn does. */
static void on_resize_signal(uv_signal_t *handle, int signum)
{
    fp_supervisor_t *sup = handle->data;
    if (sup->state != SUP_RUNNING)
        return;
    if (signum == SIGTTIN && sup->pool.target < 1024)
        sup->pool.target++;
    else if (signum == SIGTTOU && sup->pool.target > 1)
        sup->pool.target--;
    fp_log_info(LOG, "%s: the pool now wants %zu children", signum == SIGTTIN ? "SIGTTIN" : "SIGTTOU",
                sup->pool.target);
    rebalance(sup);
    dispatch(sup);
}

/* USR1: logrotate moved the file; write to a new one at the same path. */
static void on_reopen_signal(uv_signal_t *handle, int signum)
{
    (void)handle;
    (void)signum;
    int rc = fp_log_reopen();
    if (rc < 0)
        fp_log_error(LOG, "cannot reopen the log file: %s", strerror(-rc));
    else
        fp_log_info(LOG, "log file reopened (SIGUSR1)");
}

/* --burst: done once nothing is ready or pending and the retries this run
 * scheduled have left the delayed set (run, or gone dead); the queue tells. */
static void on_drained_checked(void *ctx, bool drained)
{
    fp_supervisor_t *sup = ctx;
    if (drained && sup->state == SUP_RUNNING && sup->held.count == 0)
        begin_drain(sup, "burst: queues empty");
}

static void on_burst_timer(uv_timer_t *timer)
{
    fp_supervisor_t *sup = timer->data;
    if (sup->state == SUP_RUNNING && sup->redis.ready && sup->held.count == 0)
        fp_queue_check_drained(sup->redis.queue, on_drained_checked, sup);
}

/* ---- health endpoint ---------------------------------------------------- */

/* Follows the writer's health: while it cannot write, readiness says so and
 * pulls hold (on_error = "pause"; "skip" keeps pulling and the writer drops
 * rows). Also resumes pulls once the writer has caught up to half its queue.
 * The mode is set here, from the current configuration, so a reload changes
 * it too. */
static void on_ledger_timer(uv_timer_t *timer)
{
    fp_supervisor_t *sup = timer->data;
    fp_ledger_set_skip(sup->ledger.writer, sup->cfg->ledger.on_error == FP_LEDGER_SKIP);
    bool failing = fp_ledger_failing(sup->ledger.writer);
    if (failing != sup->ledger.failing) {
        sup->ledger.failing = failing;
        if (failing)
            fp_log_error(LOG, "the ledger cannot write; %s until it can",
                         sup->cfg->ledger.on_error == FP_LEDGER_SKIP ? "its rows are dropped"
                                                                      : "pulls pause");
        else
            fp_log_info(LOG, "the ledger writes again");
        update_want(sup);
    }
    if (sup->ledger.full && fp_ledger_backlog(sup->ledger.writer) < LEDGER_CAPACITY / 2) {
        sup->ledger.full = false;
        fp_log_info(LOG, "the ledger writer caught up; pulls resume");
        update_want(sup);
    }
}

static void on_queue_sample(void *ctx, uint32_t queue, const fp_admin_queue_stats_t *st)
{
    fp_supervisor_t *sup = ctx;
    fp_metrics_queue_t q = {-1, -1, -1, -1, -1.0};
    if (st != NULL) {
        q = (fp_metrics_queue_t){st->ready, st->pending, st->delayed, st->dead,
                                 st->oldest_age_ms >= 0 ? (double)st->oldest_age_ms / 1000.0 : 0.0};
    }
    fp_metrics_set_queue(sup->metrics, sup->queue_names[queue], &q);
}

/* Queue depths are read on a timer, never per scrape: a scrape storm cannot
 * turn into a Redis storm. */
static void on_sample_timer(uv_timer_t *timer)
{
    fp_supervisor_t *sup = timer->data;
    if (sup->redis.queue != NULL && !sup->redis.closed)
        fp_queue_sample(sup->redis.queue, on_queue_sample, sup);
}

static int start_ledger(fp_supervisor_t *sup, fp_err_t *err)
{
    const fp_config_t *cfg = sup->cfg;
    if (cfg->ledger.path[0] == '\0')
        return 0;
    int rc = fp_ledger_open(cfg->ledger.path, cfg->ledger.retain_ms, LEDGER_CAPACITY, &sup->ledger.writer, err);
    if (rc == 0) {
        fp_ledger_set_skip(sup->ledger.writer, cfg->ledger.on_error == FP_LEDGER_SKIP);
        uv_timer_start(&sup->ledger.timer, on_ledger_timer, LEDGER_POLL_MS, LEDGER_POLL_MS);
    }
    return rc;
}

static int route_healthz(void *ctx, fp_buf_t *body, const char **content_type)
{
    (void)ctx;
    *content_type = "text/plain; charset=utf-8";
    fp_buf_append(body, "ok\n", 3);
    return 200;
}

static int respond_json(cJSON *doc, fp_buf_t *body, const char **content_type)
{
    *content_type = "application/json";
    char *text = doc != NULL ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    if (text == NULL)
        return 500;
    int rc = fp_buf_append(body, text, strlen(text));
    cJSON_free(text);
    return rc < 0 ? 500 : 0;
}

/* "what: detail", or what alone when there is no detail. */
static void add_reason(cJSON *reasons, const char *what, const char *detail)
{
    char text[320];
    snprintf(text, sizeof text, "%s%s%s", what, detail[0] != '\0' ? ": " : "", detail);
    cJSON_AddItemToArray(reasons, cJSON_CreateString(text));
}

/* Ready: Redis connected with the group in place, a live child, not
 * draining or quiet, not in a crash loop, a ledger (if any) that writes.
 * 503 lists every reason. */
static int route_readyz(void *ctx, fp_buf_t *body, const char **content_type)
{
    fp_supervisor_t *sup = ctx;
    cJSON *doc = cJSON_CreateObject();
    cJSON *reasons = cJSON_AddArrayToObject(doc, "reasons");
    size_t alive = fp_pool_count(&sup->pool, FP_CHILD_IDLE) + fp_pool_count(&sup->pool, FP_CHILD_BUSY);
    if (!sup->redis.ready)
        add_reason(reasons, "redis disconnected",
                   !sup->redis.lease_held  ? "daemon.name lease not held yet"
                   : sup->redis.queue != NULL ? fp_queue_down_reason(sup->redis.queue)
                                        : "");
    if (alive == 0)
        cJSON_AddItemToArray(reasons, cJSON_CreateString("no live child"));
    if (sup->state != SUP_RUNNING)
        cJSON_AddItemToArray(reasons, cJSON_CreateString("draining"));
    if (sup->quiet)
        cJSON_AddItemToArray(reasons, cJSON_CreateString("quiet (SIGTSTP)"));
    if (sup->children.start_error[0] != '\0') {
        char why[START_ERROR_MAX + 32];
        snprintf(why, sizeof why, "children crash-looping: %s", sup->children.start_error);
        cJSON_AddItemToArray(reasons, cJSON_CreateString(why));
    }
    if (sup->ledger.failing)
        cJSON_AddItemToArray(reasons, cJSON_CreateString("ledger"));
    bool ready = cJSON_GetArraySize(reasons) == 0;
    cJSON_AddBoolToObject(doc, "ready", ready);
    int rc = respond_json(doc, body, content_type);
    return rc != 0 ? rc : ready ? 200 : 503;
}

static int route_metrics(void *ctx, fp_buf_t *body, const char **content_type)
{
    fp_supervisor_t *sup = ctx;
    fp_metrics_gauges_t g = {0};
    g.children[FP_MCHILD_STARTING] = (int64_t)fp_pool_count(&sup->pool, FP_CHILD_STARTING);
    g.children[FP_MCHILD_IDLE] = (int64_t)fp_pool_count(&sup->pool, FP_CHILD_IDLE);
    g.children[FP_MCHILD_BUSY] = (int64_t)fp_pool_count(&sup->pool, FP_CHILD_BUSY);
    g.children[FP_MCHILD_STOPPING] = (int64_t)fp_pool_count(&sup->pool, FP_CHILD_STOPPING);
    g.redis_connected = sup->redis.ready;
    g.jobs_held = (int64_t)sup->held.count;
    g.jobs_held_limit = (int64_t)(sup->pool.target + sup->pool.prefetch);
    g.pulls_total = sup->counters.pulls;
    if (sup->redis.queue != NULL) {
        fp_queue_stats_t qs;
        fp_queue_stats(sup->redis.queue, &qs);
        g.outcomes_stale = qs.outcomes_stale;
        g.renewals_lost = qs.renewals_lost;
    }
    g.reload_failures_total = sup->reload.failures;
    g.last_pull_age_seconds = sup->counters.last_pull_ms > 0
                                  ? (double)(fp_os_now_ms() - sup->counters.last_pull_ms) / 1000.0
                                  : -1.0;
    g.ledger_backlog = sup->ledger.writer != NULL ? (int64_t)fp_ledger_backlog(sup->ledger.writer) : -1;
    if (sup->ledger.writer != NULL) {
        fp_ledger_stats_t ls;
        fp_ledger_stats(sup->ledger.writer, &ls);
        g.ledger_failing = sup->ledger.failing;
        g.ledger_rows_dropped = ls.dropped;
    }
    fp_metrics_set_gauges(sup->metrics, &g);
    *content_type = "text/plain; version=0.0.4; charset=utf-8";
    return fp_metrics_render(sup->metrics, body) < 0 ? 500 : 200;
}

static cJSON *child_json(const fp_slot_t *slot)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "id", slot->id);
    cJSON_AddNumberToObject(c, "pid", slot->pid);
    cJSON_AddStringToObject(c, "state", fp_pool_state_name(slot->state));
    cJSON_AddNumberToObject(c, "jobs_done", (double)slot->jobs_done);
    cJSON_AddNumberToObject(c, "rss_kb", (double)slot->rss_kb);
    const fp_held_t *held = slot->job;
    if (held != NULL) {
        cJSON *job = cJSON_AddObjectToObject(c, "job");
        cJSON_AddStringToObject(job, "entry_id", held->entry_id);
        cJSON_AddStringToObject(job, "type", held->job.type);
        if (held->job.id != NULL)
            cJSON_AddStringToObject(job, "id", held->job.id);
        cJSON_AddNumberToObject(job, "running_ms", (double)(fp_os_now_ms() - held->started_at_ms));
    }
    cJSON_AddNumberToObject(c, "queued", slot->depth > 0 ? (double)(slot->depth - 1) : 0);
    return c;
}

/* "none" before any HUP; "starting" until a child of the new
 * configuration said ready; "rolling" while older children remain; "done";
 * "failed" (with the error) when its children could not start and it was
 * undone. */
static cJSON *reload_json(const fp_supervisor_t *sup)
{
    const char *state = "done";
    if (sup->reload.error[0] != '\0')
        state = "failed";
    else if (sup->reload.generations == 0)
        state = "none";
    else if (sup->reload.unproven)
        state = "starting";
    for (size_t i = 0; strcmp(state, "done") == 0 && i < sup->pool.capacity; i++) {
        const fp_slot_t *slot = &sup->pool.slots[i];
        if (slot->state != FP_CHILD_FREE && slot->state < FP_CHILD_STOPPING &&
            slot->generation != sup->reload.generation)
            state = "rolling";
    }
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "state", state);
    cJSON_AddNumberToObject(r, "generation", sup->reload.generation);
    cJSON_AddNumberToObject(r, "failures", (double)sup->reload.failures);
    if (sup->reload.error[0] != '\0')
        cJSON_AddStringToObject(r, "error", sup->reload.error);
    return r;
}

static int route_stats(void *ctx, fp_buf_t *body, const char **content_type)
{
    fp_supervisor_t *sup = ctx;
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "consumer", sup->cfg->daemon.name);
    cJSON_AddStringToObject(doc, "state", sup->state == SUP_RUNNING ? (sup->quiet ? "quiet" : "running")
                                                                    : "draining");
    cJSON *queues = cJSON_AddArrayToObject(doc, "queues");
    for (size_t i = 0; i < sup->nqueues; i++)
        cJSON_AddItemToArray(queues, cJSON_CreateString(sup->queue_names[i]));
    cJSON *children = cJSON_AddArrayToObject(doc, "children");
    for (size_t i = 0; i < sup->pool.capacity; i++)
        if (sup->pool.slots[i].state != FP_CHILD_FREE)
            cJSON_AddItemToArray(children, child_json(&sup->pool.slots[i]));
    cJSON_AddItemToObject(doc, "reload", reload_json(sup));
    cJSON *counters = cJSON_AddObjectToObject(doc, "counters");
    cJSON_AddNumberToObject(counters, "jobs_ok", (double)sup->counters.jobs_ok);
    cJSON_AddNumberToObject(counters, "jobs_failed", (double)sup->counters.jobs_failed);
    cJSON_AddNumberToObject(counters, "jobs_retried", (double)sup->counters.jobs_retried);
    cJSON_AddNumberToObject(counters, "jobs_held", (double)sup->held.count);
    cJSON_AddNumberToObject(counters, "jobs_held_limit", (double)(sup->pool.target + sup->pool.prefetch));
    cJSON_AddBoolToObject(counters, "redis_connected", sup->redis.ready);
    int rc = respond_json(doc, body, content_type);
    return rc != 0 ? rc : 200;
}

static int start_health(fp_supervisor_t *sup, fp_err_t *err)
{
    static const fp_health_route_t routes[] = {
        {"/healthz", route_healthz},
        {"/readyz", route_readyz},
        {"/metrics", route_metrics},
        {"/stats", route_stats},
    };
    if (sup->cfg->health.listen[0] == '\0')
        return 0;
    int rc = fp_health_start(&sup->loop, sup->cfg->health.listen, routes,
                             sizeof routes / sizeof routes[0], sup, &sup->health, err);
    set_health_limits(sup);
    if (rc == 0)
        fp_log_info(LOG, "health endpoint on %s (port %d)", sup->cfg->health.listen,
                    fp_health_port(sup->health));
    return rc;
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

/* ---- start-up ----------------------------------------------------------- */

static int init_handles(fp_supervisor_t *sup)
{
    struct {
        uv_signal_t *handle;
        int signum;
        uv_signal_cb cb;
    } sigs[] = {
        {&sup->signals.term, SIGTERM, on_stop_signal},
        {&sup->signals.intr, SIGINT, on_stop_signal},
        {&sup->signals.quit, SIGQUIT, on_stop_signal},
        {&sup->signals.chld, SIGCHLD, on_sigchld},
        {&sup->signals.tstp, SIGTSTP, on_quiet_signal},
        {&sup->signals.hup, SIGHUP, on_reload_signal},
        {&sup->signals.ttin, SIGTTIN, on_resize_signal},
        {&sup->signals.ttou, SIGTTOU, on_resize_signal},
        {&sup->signals.usr1, SIGUSR1, on_reopen_signal},
    };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        int rc = uv_signal_init(&sup->loop, sigs[i].handle);
        if (rc == 0)
            rc = uv_signal_start(sigs[i].handle, sigs[i].cb, sigs[i].signum);
        if (rc < 0)
            return rc;
        sigs[i].handle->data = sup;
    }
    uv_timer_t *timers[] = {&sup->timers.burst,   &sup->timers.drain,  &sup->timers.shutdown,
                            &sup->timers.respawn, &sup->ledger.timer, &sup->timers.sample};
    for (size_t i = 0; i < sizeof timers / sizeof timers[0]; i++) {
        uv_timer_init(&sup->loop, timers[i]);
        timers[i]->data = sup;
    }
    return 0;
}

/* Consuming starts once the name is ours. */
static void on_lease_held(void *ctx)
{
    fp_supervisor_t *sup = ctx;
    sup->redis.lease_held = true;
    if (sup->state == SUP_RUNNING)
        (void)fp_queue_start(sup->redis.queue);
}

/* Another daemon runs under this name: stop (running jobs, if the lease was
 * lost mid-run, finish first) and exit as a configuration error. */
static void on_lease_refused(void *ctx, const char *why)
{
    fp_supervisor_t *sup = ctx;
    fp_log_error(LOG, "%s", why);
    if (sup->fatal.rc == 0)
        sup->fatal.rc = fp_err_set(&sup->fatal.err, FP_ECONFIG, "%s", why);
    begin_drain(sup, "daemon.name in use");
}

/* Start-up order: handlers, then the children, and only
 * then Redis, so the first forks copy no connection at all. */
static int start(fp_supervisor_t *sup, fp_err_t *err)
{
    signal(SIGPIPE, SIG_IGN);
    int rc = init_handles(sup);
    if (rc < 0)
        return fp_err_set(err, rc, "cannot watch signals: %s", uv_strerror(rc));
    if ((rc = fp_metrics_new(0, &sup->metrics)) < 0)
        return fp_err_set(err, rc, "out of memory for metrics");
    /* The listener is bound before the first fork; children close it with
     * every other fd above 3 as they start. */
    if ((rc = start_health(sup, err)) < 0 || (rc = drop_privileges(sup, err)) < 0)
        return rc;
    if ((rc = fp_plugins_load(sup->cfg, &sup->registry, &sup->plugins, err)) < 0)
        return rc;
    prepare_handlers(sup);
    for (size_t i = 0; i < sup->pool.target; i++)
        if ((rc = spawn_child(sup, err)) < 0)
            return rc;
    /* The ledger's thread starts after the first forks; later forks take
     * the fork lock so no child copies SQLite mid-call. */
    if ((rc = start_ledger(sup, err)) < 0)
        return rc;
    static const fp_queue_events_t events = {on_queue_jobs, on_queue_ready};
    static const fp_lease_events_t lease_events = {on_lease_held, on_lease_refused};
    rc = fp_queue_new(&sup->loop, sup->cfg, sup->queue_names, sup->nqueues, &events, sup,
                      &sup->redis.queue, err);
    if (rc == 0)
        rc = fp_lease_new(&sup->loop, sup->cfg, sup->queue_names, sup->nqueues, &lease_events, sup,
                          &sup->redis.lease, err);
    if (rc < 0)
        return rc;
    fp_lease_start(sup->redis.lease);
    if (sup->opts.burst) {
        fp_queue_track_retries(sup->redis.queue);
        uv_timer_start(&sup->timers.burst, on_burst_timer, BURST_CHECK_MS, BURST_CHECK_MS);
    }
    if (sup->health != NULL)
        uv_timer_start(&sup->timers.sample, on_sample_timer, 200, SAMPLE_INTERVAL_MS);
    char names[256] = "";
    for (size_t i = 0, used = 0; i < sup->nqueues && used < sizeof names; i++)
        used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? "," : "",
                                 sup->queue_names[i]);
    fp_log_info(LOG, "started: %zu %s children, prefetch %zu, pipeline %zu, queues %s, consumer %s",
                sup->pool.target, sup->cfg->pool.runtime == FP_RUNTIME_EXEC ? "exec" : "native",
                sup->pool.prefetch, sup->pool.pipeline, names, sup->cfg->daemon.name);
    return 0;
}

static void kill_all_and_reap(fp_supervisor_t *sup)
{
    for (size_t i = 0; i < sup->pool.capacity; i++) {
        fp_slot_t *slot = &sup->pool.slots[i];
        if (slot->state != FP_CHILD_FREE && !slot->reaped && slot->pid > 0) {
            signal_child(slot, SIGKILL);
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
        if (sup->pool.slots[i].channel != NULL)
            fp_channel_close((fp_channel_t *)sup->pool.slots[i].channel);
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
    sup->counters.start_ms = fp_os_now_ms();
    sup->queue_names = (const char *const *)cfg->queues.names.items;
    sup->nqueues = cfg->queues.names.count;
    if (opts->queues != NULL && opts->nqueues > 0) {
        sup->queue_names = opts->queues;
        sup->nqueues = opts->nqueues;
    }
    fp_registry_init_builtin(&sup->registry);
    sup->random = ((uint64_t)getpid() << 32) ^ (uint64_t)fp_os_unix_ms() ^ 0x9E3779B97F4A7C15ULL;
    fp_pool_init(&sup->pool, target_children(sup, cfg), (size_t)cfg->pool.prefetch);
    sup->pool.pipeline = (size_t)cfg->pool.pipeline;
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
            fp_queue_close(sup->redis.queue, NULL, NULL);
        fp_lease_close(sup->redis.lease, NULL, NULL);
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
    fp_ledger_close(sup->ledger.writer); /* writes every row still queued */
    fp_metrics_free(sup->metrics);
    fp_pool_free(&sup->pool);
    fp_plugins_free(sup->plugins);
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
