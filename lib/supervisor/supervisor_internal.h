/* supervisor_internal.h: INTERNAL to the files of lib/supervisor/ — the supervisor's
 * state, shared by the files that split its work, and the functions they
 * call in one another. Nothing outside lib/supervisor includes it; the
 * daemon's interface is supervisor/supervisor.h.
 *
 * Each group of fields belongs to the file that changes it: redis and the
 * lifecycle to supervisor.c, reload to reload.c, children to children.c,
 * signals to signals.c, ledger to outcome.c, the held-job table to
 * dispatch/held.c. */
#ifndef FORKPOOL_SUPERVISOR_INTERNAL_H
#define FORKPOOL_SUPERVISOR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include <cjson/cJSON.h>

#include "dispatch/channel.h"
#include "dispatch/held.h"
#include "dispatch/proto.h"
#include "handlers/handlers.h"
#include "http/health.h"
#include "http/metrics.h"
#include "ledger/ledger.h"
#include "limits/limit.h"
#include "pool/autoscale.h"
#include "pool/output.h"
#include "pool/estimate.h"
#include "pool/flow.h"
#include "pool/pool.h"
#include "queue/admin.h"
#include "queue/name_lease.h"
#include "queue/qmux.h"
#include "redis/redis_url.h"
#include "queue/queue.h"
#include "supervisor/notify.h"
#include "supervisor/supervisor.h"

#define START_ERROR_MAX 256
#define LEDGER_CAPACITY 10000 /* rows waiting for the writer before pulls pause */

typedef enum { SUP_RUNNING, SUP_DRAINING, SUP_TERMINATING } sup_state_t;

typedef struct fp_plugins_s fp_plugins_t;
typedef struct fp_supervisor_s fp_supervisor_t;

/* The queue and the claim on daemon.name, and what they said last. */
typedef struct sup_redis_s {
    const char *const *names; /* the queues consumed: the config's, or run --queue's */
    size_t nnames;
    fp_qmux_t *queue;
    struct fp_cluster_s *cluster; /* redis.cluster: where the queue and lease go */
    fp_redis_url_t cluster_url;   /* its user, password (redis.url) */
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

/* Autoscaling (autoscale.c): the pool's target moves between bounds. */
typedef struct sup_scale_s {
    bool on;                  /* pool.children_max set and no run --children */
    size_t min, max;          /* the bounds now: the configuration's, moved by TTIN/TTOU */
    fp_scale_state_t state;   /* the decision's own (the spawn rate) */
    fp_scale_reason_t held;   /* the memory guard holding growth, logged once; STEADY: none */
    /* Each served queue's oldest ready job at its last sample (ms; < 0: none). */
    int64_t oldest_ms[FP_METRICS_MAX_QUEUES];
    uv_timer_t timer;
} sup_scale_t;

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
    uv_timer_t heartbeat; /* the fleet record's next beat (heartbeat.c) */
    uv_timer_t schedule;  /* the soonest [[schedule]] tick (schedule.c) */
} sup_timers_t;

/* One [[schedule]] this daemon fires (schedule.c). */
typedef struct sup_sched_entry_s {
    const fp_schedule_t *s; /* in sup->cfg */
    uint32_t queue;         /* index into redis.names */
    int64_t last;           /* the newest tick fired, as far as known here */
    bool known;             /* last was read from Redis (or it had none) */
    bool in_flight;
    bool failure_logged;
    int64_t retry_at_ms; /* after a failed call, not before this (Unix ms) */
} sup_sched_entry_t;

typedef struct sup_schedule_s {
    sup_sched_entry_t *items;
    size_t n;
    uint32_t generation; /* bumped when the list is rebuilt: older replies are dropped */
} sup_schedule_t;

/* The fleet record (heartbeat.c). */
typedef struct sup_heartbeat_s {
    char id[600];    /* NAME@HOST:PID */
    char name[256];  /* daemon.name at start: a HUP does not rename it */
    char host[256];
    char token[40];  /* this run's: a clear deletes only its own record */
    int64_t started_unix_ms;
    bool started;    /* beats are sent */
    bool in_flight, written, failure_logged;
    bool reading;    /* a read of the fleet is on its way */
    struct fp_fleet_s *fleet; /* the last read, for /stats; owned */
    bool stopping;   /* no more beats; the clear is sent (or not needed) */
    bool cleared;    /* the stop may close the queue */
} sup_heartbeat_t;

/* Concurrency and rate limits (limits.c): this daemon's count of each
 * limited type's admitted jobs and of the jobs its limits handed back. */
typedef struct sup_limit_type_s {
    char *type;
    size_t admitted;                    /* admitted (waiting or running), not released */
    uint64_t limited[FP_LIMIT_KINDS];   /* by kind: handed back */
} sup_limit_type_t;

/* A lease whose release did not reach the queue's backend (Redis' writer
 * was down): its type and member, both owned. */
typedef struct sup_lease_ref_s {
    char *type;
    char *member;
} sup_lease_ref_t;

typedef struct sup_limits_s {
    sup_limit_type_t *types;
    size_t n;
    size_t asking;        /* takes unanswered: their jobs are in no list */
    uint64_t leases_lost; /* leases found expired at renewal (and put back) */
    uv_timer_t renew;     /* every recovery.visibility_timeout / 3 */
    sup_lease_ref_t *unreleased; /* releases to send again at the next renewal */
    size_t nunreleased;
} sup_limits_t;

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

/* The adaptive pool's estimates (steer.c). */
typedef struct sup_steer_s {
    bool started;
    fp_estimate_t est;     /* run time per job type */
    fp_flow_t flow;        /* completion rate, pull round trip */
    uint64_t rtt_samples;  /* the queue's read_rtt_samples last taken */
    uint64_t sent_ahead;   /* jobs sent to a busy child that runs one at a time */
    double payload_bytes;  /* pulled payloads' size, for pool.max_held_bytes */
} sup_steer_t;

/* What systemd was told (supervisor.c; the messages are notify.c's). */
typedef struct sup_notify_s {
    fp_notify_t sender; /* its socket is -1 without $NOTIFY_SOCKET: nothing is sent */
    bool ready_sent;    /* READY=1 went once the pool was ready and the queue connected */
    bool reloading;     /* RELOADING=1 went; READY=1 follows when the reload ends */
    bool stopping_sent;
} sup_notify_t;

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
    sup_scale_t scale;
    uint64_t random; /* xorshift state for back-off jitter and recycling jitter */
    fp_outputs_t outputs; /* exec children's output readers */
    sup_signals_t signals;
    sup_timers_t timers;
    sup_counters_t counters;
    sup_steer_t steer;
    fp_health_t *health; /* NULL when health.listen is empty */
    sup_ledger_t ledger;
    fp_metrics_t *metrics;
    sup_notify_t notify;
    sup_heartbeat_t heartbeat;
    sup_limits_t limits;
    sup_schedule_t schedule;
    struct fp_sup_ui_s *ui; /* the status page (ui.c); NULL when health.ui is off */
};

static inline fp_supervisor_t *channel_sup(const fp_channel_t *ch)
{
    return ch->ctx;
}

static inline fp_slot_t *channel_slot(fp_channel_t *ch)
{
    return channel_sup(ch)->pool.slots[ch->slot];
}

/* supervisor.c: the lifecycle and the queue's side. */
uint64_t fp_sup_next_random(fp_supervisor_t *sup);
/* Tells the queue how many jobs it may hand over now (0 while pulls hold). */
void fp_sup_update_want(fp_supervisor_t *sup);

/* redis_cluster.c: with redis.cluster, the cluster locator the queue and
 * the lease follow their slots through (sup->redis.cluster; NULL without).
 * Closed once the lease is: every connection it locates is closed then. */
int fp_sup_cluster_open(fp_supervisor_t *sup, fp_err_t *err);
void fp_sup_cluster_close(fp_supervisor_t *sup);
/* Once every child is gone and Redis has every outcome, closes the queue;
 * the loop then runs out of handles and fp_supervisor_run returns. */
void fp_sup_maybe_finish(fp_supervisor_t *sup);
void fp_sup_begin_drain(fp_supervisor_t *sup, const char *why);
/* Stop now: kill the children; their jobs stay pending in Redis. */
void fp_sup_terminate(fp_supervisor_t *sup, const char *why);
/* Telling systemd: READY=1 once the pool is ready and the queue connected
 * (whichever comes second), and again when a reload ends (rolled out,
 * refused or undone); RELOADING=1 when a HUP is taken after that first
 * READY=1. Each is a no-op when there is nothing to say. */
void fp_sup_notify_ready(fp_supervisor_t *sup);
void fp_sup_notify_reloading(fp_supervisor_t *sup);
/* Closes a handle that was initialised and is not closing yet. */
void fp_sup_close_handle(uv_handle_t *handle);

/* dispatch.c: jobs to children, their answers. */
void fp_sup_send_stop(fp_supervisor_t *sup, fp_slot_t *slot);
/* Hands waiting jobs to the children that may take them, one write each. */
void fp_sup_dispatch(fp_supervisor_t *sup);
/* Jobs queued in a child's socket behind the one it ran never started:
 * they go to another child (or back to Redis when draining) without an
 * attempt counted. */
void fp_sup_requeue_queued(fp_supervisor_t *sup, fp_slot_t *slot);
int fp_sup_channel_open(fp_supervisor_t *sup, fp_slot_t *slot, int fd);

/* children.c: starting, replacing and reaping children. */
void fp_sup_signal_child(const fp_slot_t *slot, int signum);
size_t fp_sup_target_children(const fp_supervisor_t *sup, const fp_config_t *cfg);
int fp_sup_spawn_child(fp_supervisor_t *sup, fp_err_t *err);
/* Forks what the pool is missing, unless a crash-loop delay runs. */
void fp_sup_top_up(fp_supervisor_t *sup);
void fp_sup_rebalance(fp_supervisor_t *sup);
void fp_sup_on_sigchld(uv_signal_t *handle, int signum);

/* autoscale.c: moving the target between the bounds. */
int fp_sup_scale_init(fp_supervisor_t *sup);
/* Takes the current configuration's bounds (start-up, a reload): a scaling
 * pool keeps `before` (the target until now) within them; starts or stops
 * the timer. */
void fp_sup_scale_configure(fp_supervisor_t *sup, size_t before);
/* TTIN (more) / TTOU: moves both bounds by one; false when not scaling. */
bool fp_sup_scale_resize(fp_supervisor_t *sup, bool more);
/* children_target, children_min, children_max (and what holds growth) into /stats. */
void fp_sup_scale_stats(const fp_supervisor_t *sup, cJSON *doc);

/* steer.c: the adaptive hold and send-ahead (docs/steering.md). */
/* Takes pool.prefetch / pipeline / max_send_ahead_wait (start-up, reload). */
void fp_sup_steer_configure(fp_supervisor_t *sup, const fp_config_t *cfg);
/* The job at the head of the waiting list, as fp_pool_pick_for judges it. */
void fp_sup_steer_job(fp_supervisor_t *sup, fp_held_t *held, int64_t now_us, fp_pool_job_t *job);
/* Before the job joins slot's list: what it is expected to take there. */
void fp_sup_steer_sending(fp_supervisor_t *sup, const fp_slot_t *slot, fp_held_t *held);
/* The job starts running in slot now. */
void fp_sup_steer_started(fp_slot_t *slot, fp_held_t *held, int64_t now_us);
/* The job's answer came now: its run time and one completion. */
void fp_sup_steer_answered(fp_supervisor_t *sup, const fp_held_t *held, int64_t now_us);
/* A pull arrived: notes each job's payload size (pool.max_held_bytes), and
 * takes the pull's round trip if the queue measured a new one. */
void fp_sup_steer_pulled(fp_supervisor_t *sup, const fp_queue_stats_t *qs,
                         const fp_pulled_t *jobs, size_t n);
/* Recomputes the hold target (pool.prefetch) when it is adaptive. */
void fp_sup_steer_hold(fp_supervisor_t *sup);
/* The "steering" object of /stats. */
cJSON *fp_sup_steer_json(const fp_supervisor_t *sup);

/* reload.c: HUP. */
/* A reload whose first new child cannot start is undone (why: the cause). */
void fp_sup_undo_reload(fp_supervisor_t *sup, const char *why);
void fp_sup_on_reload_signal(uv_signal_t *handle, int signum);
cJSON *fp_sup_reload_json(const fp_supervisor_t *sup);

/* signals.c */
int fp_sup_signals_init(fp_supervisor_t *sup);
void fp_sup_signals_close(fp_supervisor_t *sup);

/* routes.c: the health endpoint. */
void fp_sup_set_health_limits(fp_supervisor_t *sup);
void fp_sup_on_queue_sample(void *ctx, uint32_t queue, const fp_admin_queue_stats_t *st);
void fp_sup_on_sample_timer(uv_timer_t *timer);
int fp_sup_start_health(fp_supervisor_t *sup, fp_err_t *err);
/* One child as /stats (and the status page) show it; owned. */
cJSON *fp_sup_child_json(const fp_slot_t *slot);
/* doc (taken, may be NULL) as a JSON body: 0, or 500 when it cannot be. */
int fp_sup_respond_json(cJSON *doc, fp_buf_t *body, const char **content_type);

/* ui.c: the status page (docs/ui.md). start allocates it when health.ui is
 * on (before the health routes are built), close stops its timer, free
 * releases it once the loop has ended (no work is then in flight). */
typedef struct fp_sup_ui_s fp_sup_ui_t;
int fp_sup_ui_start(fp_supervisor_t *sup, fp_err_t *err);
/* Its routes into out (at most cap); how many. */
size_t fp_sup_ui_routes(fp_supervisor_t *sup, fp_health_route_t *out, size_t cap);
void fp_sup_ui_close(fp_supervisor_t *sup);
void fp_sup_ui_free(fp_supervisor_t *sup);
/* A queue's depth sample (fp_sup_on_queue_sample), and a child replaced or
 * restarted in slot slot_id: what the page shows of each. */
void fp_sup_ui_queue_sample(fp_supervisor_t *sup, uint32_t queue, const fp_admin_queue_stats_t *st);
void fp_sup_ui_child_restart(fp_supervisor_t *sup, int slot_id, fp_metrics_restart_t reason);

/* heartbeat.c: beats from start-up on; at the stop, true once the record
 * is deleted (or need not be): until then the queue stays open, and the
 * clear's reply calls fp_sup_maybe_finish again. */
void fp_sup_heartbeat_start(fp_supervisor_t *sup);
bool fp_sup_heartbeat_stopped(fp_supervisor_t *sup);
/* The fleet as of the last beat, for /stats (owned), or NULL: none read. */
cJSON *fp_sup_fleet_json(const fp_supervisor_t *sup);

/* limits.c: [limits.TYPE]. A job accepted from the queue goes to the
 * waiting list, is handed back delayed, or waits for Redis' answer. */
void fp_sup_limits_admit(fp_supervisor_t *sup, fp_held_t *held);
void fp_sup_limits_start(fp_supervisor_t *sup);
void fp_sup_limits_reload(fp_supervisor_t *sup); /* the renewal's period, after a HUP */
void fp_sup_limits_free(fp_supervisor_t *sup);
cJSON *fp_sup_limits_json(const fp_supervisor_t *sup);
int fp_sup_limits_metrics(const fp_supervisor_t *sup, fp_buf_t *out);
/* schedule.c: the [[schedule]] list of sup->cfg takes effect (start-up,
 * HUP, an undone reload); the free at exit. */
void fp_sup_schedule_apply(fp_supervisor_t *sup);
void fp_sup_schedule_free(fp_supervisor_t *sup);

/* outcome.c: where a finished job goes. */
/* A child answered the job it ran: acknowledged, or a failed attempt. */
void fp_sup_job_answered(fp_supervisor_t *sup, fp_held_t *held, const fp_msg_t *msg);
void fp_sup_job_dead(fp_supervisor_t *sup, fp_held_t *held, const char *why);
/* A job `forkpool cancel` stopped (or a cancelled job's failed answer): to
 * dead with the error "cancelled", never retried, outcome cancelled. */
void fp_sup_job_cancelled(fp_supervisor_t *sup, fp_held_t *held);
/* A job cancelled before any child started it (no longer in any list):
 * logged once, settled as cancelled and released (cancel.c). */
void fp_sup_cancel_unstarted(fp_supervisor_t *sup, fp_held_t *held);
/* A released job's retry that Redis turned into a cancel: its ledger row and
 * metric say cancelled (outcome.c; held rebuilt from the retry's payload). */
void fp_sup_count_retry_cancelled(fp_supervisor_t *sup, const fp_held_t *held);
/* The queue's on_cancel and on_retry_cancelled (cancel.c). */
void fp_sup_on_cancel(void *ctx, uint32_t queue, const char *entry_id);
void fp_sup_on_retry_cancelled(void *ctx, uint32_t queue, const char *entry_id, char kind,
                               const char *payload, size_t len);
/* Sets a started job's deadline to now + kill_grace (or keeps an earlier
 * one) and re-arms its child's timer (dispatch.c). */
void fp_sup_cancel_deadline(fp_supervisor_t *sup, fp_slot_t *slot, fp_held_t *held);
void fp_sup_job_failed(fp_supervisor_t *sup, fp_held_t *held, const char *why, bool retryable,
                       fp_metrics_outcome_t kind);
int fp_sup_start_ledger(fp_supervisor_t *sup, fp_err_t *err);

#endif
