/* config.h: forkpool's configuration, loaded from TOML through a schema table.
 * A loaded fp_config_t is immutable; a reload builds a new one. */
#ifndef FORKPOOL_CONFIG_H
#define FORKPOOL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/log.h"
#include "limits/rate.h"
#include "schedule/missed.h"
#include "schedule/next.h"
#include "schedule/tz.h"
#include "toml/toml.h"

/* An integer key written "auto" (or left out, where that is its default):
 * the daemon decides (pool.prefetch, pool.pipeline). */
#define FP_CONFIG_AUTO INT64_C(-1)

/* "auto" for FP_CONFIG_AUTO, else the number, for logs and summaries. */
void fp_config_auto_text(int64_t v, char *buf, size_t size);

typedef enum fp_queue_order_e { FP_ORDER_STRICT, FP_ORDER_WEIGHTED } fp_queue_order_t;
/* What a ledger that cannot write does: hold pulls, or drop history rows. */
typedef enum fp_ledger_on_error_e { FP_LEDGER_PAUSE, FP_LEDGER_SKIP } fp_ledger_on_error_t;
typedef enum fp_runtime_e { FP_RUNTIME_NATIVE, FP_RUNTIME_EXEC } fp_runtime_t;
/* Where the jobs wait. AUTO is only ever written: a loaded config holds
 * REDIS or SQLITE (config_backend.c decides). */
typedef enum fp_backend_e { FP_BACKEND_AUTO, FP_BACKEND_REDIS, FP_BACKEND_SQLITE } fp_backend_t;
/* The embedded queue's PRAGMA synchronous: NORMAL loses nothing to a process
 * crash, FULL nothing to a power cut either (docs/embedded.md). */
typedef enum fp_sqlite_sync_e { FP_SQLITE_SYNC_NORMAL, FP_SQLITE_SYNC_FULL } fp_sqlite_sync_t;

/* One [limits.TYPE] table: what may start jobs of TYPE (0 / a zero rate: no
 * such limit; at least one is set). */
typedef struct fp_type_limit_s {
    char *type;                /* owned */
    int64_t concurrency;       /* running at once across every daemon on the Redis */
    int64_t local_concurrency; /* running at once in this daemon */
    fp_rate_t rate;            /* starts per period, shared across daemons */
} fp_type_limit_t;

/* A list of strings owned by the config. */
typedef struct fp_strv_s {
    char **items;
    size_t count;
} fp_strv_t;

/* One [[schedule]] table: a job enqueued on a cron expression or a period
 * (lib/supervisor/schedule.c fires it). Everything is checked at load. */
typedef struct fp_schedule_s {
    char *name;        /* unique among the schedules; names its Redis record and job ids */
    char *expr;        /* as written: the cron text, or the every duration */
    fp_sched_when_t when; /* when.tz points at tz */
    fp_tz_t *tz;       /* owned; UTC unless timezone is set */
    char *type;        /* the job's type */
    char *args_json;   /* the job's args as JSON text: "{}" when not given */
    char *queue;       /* one of queues.names; the first by default */
    fp_missed_t missed;
} fp_schedule_t;

typedef struct fp_config_s {
    char *source; /* the file it was read from, or "(defaults)" */

    struct {
        char *name; /* consumer name; the host name when not set */
        fp_log_level_t log_level;
        fp_log_format_t log_format;
        char *log_file; /* "" = stderr */
        char *pidfile;  /* "" = none */
        char *user;     /* "" = do not change */
        char *group;
        int64_t shutdown_timeout_ms;
        int64_t heartbeat_interval_ms; /* fleet record renewal; its TTL is 3 of these */
    } daemon;

    struct {
        char *url; /* after FORKPOOL_REDIS_URL */
        char *prefix;
        char *group;
        int64_t connect_timeout_ms;
        fp_strv_t sentinels;     /* "host:port"; empty: redis.url says where Redis is */
        fp_strv_t cluster;       /* Redis Cluster seed nodes "host:port"; empty: no Cluster */
        char *master_name;       /* Sentinel's name of the master; "" without sentinels */
        char *sentinel_password; /* after FORKPOOL_SENTINEL_PASSWORD; "" = no AUTH */
        /* rediss:// only (lib/redis/redis_tls.h); each after FORKPOOL_REDIS_TLS_<KEY> */
        char *tls_ca;          /* PEM CA file; "" = the system store */
        char *tls_cert;        /* client certificate; "" = none */
        char *tls_key;         /* its private key */
        char *tls_server_name; /* verified name and SNI; "" = the host connected to */
    } redis;

    struct {
        fp_backend_t backend; /* resolved: REDIS or SQLITE */
        /* Why that backend, for the first log line ("no Redis configured");
         * static text. */
        const char *backend_why;
    } queue;

    struct {
        char *path; /* the embedded queue's file, absolute once loaded */
        fp_sqlite_sync_t synchronous;
    } sqlite;

    struct {
        fp_strv_t names;       /* at least one, no duplicates */
        fp_queue_order_t order;
        int64_t *weights;      /* one per name, parallel to names.items; 1 unless set */
    } queues;

    struct {
        fp_runtime_t runtime;
        int64_t children;                 /* fixed, or children_min when scaling */
        int64_t children_min;             /* scaling: both set (children = "MIN..MAX"); */
        int64_t children_max;             /* 0 = a fixed pool */
        int64_t scale_up_after_ms;        /* backlog age that grows the pool; also its step */
        int64_t idle_timeout_ms;          /* idle this long: one child less */
        int64_t max_memory_total_bytes;   /* children's RSS that stops growth; 0 = off */
        int64_t min_host_available_bytes; /* MemAvailable that stops growth; 0 = off */
        int64_t prefetch;                 /* FP_CONFIG_AUTO: adaptive (docs/steering.md) */
        int64_t pipeline;                 /* FP_CONFIG_AUTO: adaptive send-ahead */
        int64_t max_held;                 /* adaptive hold: jobs held at most, children included */
        int64_t max_held_bytes;           /* adaptive hold: payload bytes held at most; 0 = off */
        int64_t max_send_ahead_wait_ms;   /* adaptive send-ahead: most expected wait in a child */
        int64_t job_timeout_ms;
        int64_t kill_grace_ms;
        int64_t start_timeout_ms;         /* a child not ready by then is killed */
        int64_t max_jobs_per_child;       /* 0 = unlimited */
        int64_t max_jobs_jitter;
        int64_t max_memory_per_child_bytes; /* 0 = unlimited */
        fp_strv_t plugins;
        fp_strv_t command;                /* exec runtime: argv */
        fp_strv_t env_pass;               /* FORKPOOL_* names children keep */
        fp_strv_t env;                    /* "NAME=value" set in every child */
    } pool;

    struct {
        int64_t max_attempts;
        int64_t backoff_base_ms;
        int64_t backoff_max_ms;
        bool jitter;
    } retry;

    struct {
        int64_t visibility_timeout_ms;
        int64_t claim_interval_ms;
    } recovery;

    struct {
        char *listen; /* "host:port", "" = disabled */
        int64_t header_timeout_ms; /* a request's first byte to the end of its headers */
        int64_t idle_timeout_ms;   /* a connection with nothing happening */
        int64_t max_connections;   /* at the cap the oldest idle one is evicted */
        bool ui;                      /* the status page at / */
        int64_t ui_payload_max; /* of a dead letter's payload, shown */
        char *admin_token;            /* "" = the page's actions are off */
    } health;

    struct {
        char *path; /* "" = disabled */
        int64_t retain_ms;
        fp_ledger_on_error_t on_error;
    } ledger;

    struct {
        int64_t max_job_bytes;
        fp_type_limit_t *types; /* the [limits.TYPE] tables, in file order */
        size_t ntypes;
    } limits;

    struct {
        fp_schedule_t *items; /* in file order */
        size_t count;
    } schedules;

    /* The whole parsed document, kept so [handlers.NAME] tables can be handed
     * to handlers and plugins; NULL when built from defaults. */
    fp_toml_node_t *doc;
} fp_config_t;

/* Which file to read: cli_path if given, else $FORKPOOL_CONFIG, else
 * ./forkpool.toml if it exists, else NULL (defaults). Borrowed or static. */
const char *fp_config_resolve_path(const char *cli_path);

/* Loads path (NULL = defaults only), applies FORKPOOL_REDIS_URL, validates.
 * On error returns FP_ECONFIG/FP_ETOML/-errno with err->msg in the form
 * "file:line:col: reason" and *out untouched. */
int fp_config_load(const char *path, fp_config_t **out, fp_err_t *err);

/* The same from text in memory; name is used in messages. */
int fp_config_load_text(const char *text, size_t len, const char *name, fp_config_t **out,
                        fp_err_t *err);

void fp_config_free(fp_config_t *cfg);

/* A copy of cfg's settings, every key of the schema (owned copies), the
 * resolved queue backend and pool.children's range, for work that outlives a
 * reload; not the document, [limits.TYPE] or [[schedule]].
 * NULL when out of memory; fp_config_free frees it. */
fp_config_t *fp_config_copy_keys(const fp_config_t *cfg);

/* The [limits.TYPE] table for type, or NULL: the type is not limited. */
const fp_type_limit_t *fp_config_type_limit(const fp_config_t *cfg, const char *type);

/* The [handlers.NAME] table, or NULL when the file has none. */
const fp_toml_node_t *fp_config_handler_table(const fp_config_t *cfg, const char *name);

/* The effective configuration as JSON text (owned; free()), Redis password
 * and plugin secrets masked as "***". NULL on allocation failure. */
char *fp_config_dump_json(const fp_config_t *cfg);

/* The same; with show_secrets, passwords and plugin secrets as written,
 * for the owner (`check-config --show-secrets`). */
char *fp_config_dump_json_opt(const fp_config_t *cfg, bool show_secrets);

/* The Redis URL with any password replaced by "***" (owned; free()). */
char *fp_config_mask_url(const char *url);

/* Whether a key of a [handlers.*] table holds a credential by its name
 * (password, token, secret, key, dsn, also as a suffix: api_key), so that
 * dumps print "***" for its value. */
bool fp_config_secret_key(const char *name);

#endif
