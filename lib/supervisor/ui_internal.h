/* ui_internal.h: the status page's state in the supervisor (docs/ui.md),
 * shared by ui.c (routes, the per-second tick, the page's JSON), ui_work.c
 * (what runs off the loop thread: dead letters, ledger failures, actions)
 * and ui_actions.c (the POST routes). Internal to lib/supervisor. */
#ifndef FORKPOOL_SUP_UI_INTERNAL_H
#define FORKPOOL_SUP_UI_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include <cjson/cJSON.h>

#include "http/ui_series.h"
#include "supervisor/supervisor_internal.h"

/* The page counts as watched this long after its last poll: queue depths
 * are then sampled every second and dead letters and failures re-read. */
#define FP_UI_WATCH_MS 10000
/* While watched, dead letters and failures are re-read this often (the page
 * polls every 2 s). */
#define FP_UI_REFRESH_MS 2000
/* Dead letters shown per queue and ledger failures shown: the newest. */
#define FP_UI_DEAD_SHOWN 20
#define FP_UI_FAILURES_SHOWN 20
/* Actions running at once; more are answered 503. */
#define FP_UI_ACTIONS_MAX 4

/* What the work off the loop thread needs of the configuration, copied at
 * start: a reload frees configurations the thread could still be reading. */
typedef struct ui_conf_s {
    fp_config_t *cfg;   /* fp_config_copy_keys: where the queue is (Redis with
                         * its Sentinel or Cluster settings, or the queue file),
                         * limits.max_job_bytes */
    char *ledger_path;  /* NULL: no ledger */
    char *admin_token;  /* "" : no actions */
    size_t payload_max;
    char **queues;      /* the queues this daemon serves */
    size_t nqueues;
} ui_conf_t;

/* Around work on the embedded queue's file: SQLite runs inside the fork
 * lock's read side, as the ledger's writer does, so that a fork never
 * copies a lock it holds (pool/spawn.h). Nothing with Redis. */
void fp_sup_ui_store_lock(const ui_conf_t *conf, bool lock);

/* A queue as last sampled, and its rates from the sample before. */
typedef struct ui_queue_s {
    bool known;
    long long ready, pending, delayed, dead, oldest_age_ms, added, read;
    int64_t at_ms;            /* this host's clock when sampled */
    double in_rate, out_rate; /* per second; -1 unknown */
} ui_queue_t;

/* The last reason a child in a slot was replaced, and how often. */
typedef struct ui_restart_s {
    uint64_t count;
    fp_metrics_restart_t reason;
    int64_t at_ms; /* Unix ms */
} ui_restart_t;

struct fp_sup_ui_s {
    fp_supervisor_t *sup;
    uv_timer_t tick;
    fp_ui_series_t series;
    ui_conf_t conf;
    ui_queue_t *queues; /* one per sup->redis.names */
    int64_t viewed_ms;  /* the last poll (monotonic ms); 0: never */
    /* Read off the loop thread (ui_work.c), kept for the polls. */
    bool refreshing;
    int64_t refreshed_ms; /* monotonic ms the last read started */
    cJSON *dead;        /* array, newest first per queue; NULL before the first read */
    cJSON *failures;    /* array, newest first; NULL: no ledger or not read yet */
    char data_error[FP_ERR_MSG_MAX]; /* the last read's failure, "" when it worked */
    int64_t data_at_ms; /* Unix ms of the last read */
    unsigned actions_running;
    cJSON *last_action; /* {"action","ok","result","at"} of the last one finished */
    bool action_routes; /* the POST routes were registered (a token at start) */
    ui_restart_t *restarts; /* by slot id */
    size_t nrestarts;
};

/* ui_work.c */
/* Copies what the work needs; -ENOMEM. */
int fp_sup_ui_conf_init(ui_conf_t *conf, const fp_config_t *cfg, const char *const *queues,
                        size_t n);
void fp_sup_ui_conf_free(ui_conf_t *conf);
/* Starts a read of dead letters and failures unless one runs. */
void fp_sup_ui_refresh(fp_sup_ui_t *ui);

typedef enum ui_action_kind_e {
    UI_RETRY,     /* one dead letter: queue, id */
    UI_RETRY_ALL, /* every dead letter of queue */
    UI_PURGE,     /* delete every dead letter of queue */
    UI_CANCEL,    /* a waiting job: id */
} ui_action_kind_t;

/* Runs an action off the loop thread; its result lands in last_action and
 * the log. queue and id are copied. -ENOMEM, or the uv error. */
int fp_sup_ui_run_action(fp_sup_ui_t *ui, ui_action_kind_t kind, const char *queue,
                         const char *id, const char *peer);

/* ui_actions.c: the POST routes, in the table fp_sup_ui_routes builds. */
int fp_sup_ui_post_retry(void *ctx, const fp_health_req_t *req, fp_buf_t *body, const char **ct);
int fp_sup_ui_post_retry_all(void *ctx, const fp_health_req_t *req, fp_buf_t *body,
                             const char **ct);
int fp_sup_ui_post_purge(void *ctx, const fp_health_req_t *req, fp_buf_t *body, const char **ct);
int fp_sup_ui_post_cancel(void *ctx, const fp_health_req_t *req, fp_buf_t *body, const char **ct);
int fp_sup_ui_post_quiet(void *ctx, const fp_health_req_t *req, fp_buf_t *body, const char **ct);
int fp_sup_ui_post_resume(void *ctx, const fp_health_req_t *req, fp_buf_t *body, const char **ct);

#endif
