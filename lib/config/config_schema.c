/* config_schema.c: the configuration schema, after Redis' static_configs[]:
 * one row per key (section, key, type, default, range, field, validator,
 * doc), and the lookups into it. Every other config file only walks this
 * table, so a key added here is loaded, defaulted, freed, dumped and
 * documented (docs/config.md, checked by test_config) without other code. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config/config_internal.h"

#define MS_S INT64_C(1000)

static const fp__cenum_t log_levels[] = {
    {"debug", FP_LOG_DEBUG}, {"info", FP_LOG_INFO}, {"warn", FP_LOG_WARN},
    {"error", FP_LOG_ERROR}, {NULL, 0},
};
static const fp__cenum_t log_formats[] = {{"text", FP_LOG_TEXT}, {"json", FP_LOG_JSON}, {NULL, 0}};
static const fp__cenum_t orders[] = {
    {"strict", FP_ORDER_STRICT}, {"weighted", FP_ORDER_WEIGHTED}, {NULL, 0}};
static const fp__cenum_t ledger_errors[] = {
    {"pause", FP_LEDGER_PAUSE}, {"skip", FP_LEDGER_SKIP}, {NULL, 0}};
static const fp__cenum_t backends[] = {
    {"auto", FP_BACKEND_AUTO}, {"redis", FP_BACKEND_REDIS}, {"sqlite", FP_BACKEND_SQLITE},
    {NULL, 0}};
static const fp__cenum_t syncs[] = {
    {"normal", FP_SQLITE_SYNC_NORMAL}, {"full", FP_SQLITE_SYNC_FULL}, {NULL, 0}};
static const fp__cenum_t runtimes[] = {
    {"native", FP_RUNTIME_NATIVE}, {"exec", FP_RUNTIME_EXEC}, {NULL, 0}};

/* Enum fields are written through an int. */
_Static_assert(sizeof(fp_log_level_t) == sizeof(int), "enum size");
_Static_assert(sizeof(fp_log_format_t) == sizeof(int), "enum size");
_Static_assert(sizeof(fp_queue_order_t) == sizeof(int), "enum size");
_Static_assert(sizeof(fp_runtime_t) == sizeof(int), "enum size");
_Static_assert(sizeof(fp_backend_t) == sizeof(int), "enum size");
_Static_assert(sizeof(fp_sqlite_sync_t) == sizeof(int), "enum size");
_Static_assert(sizeof(fp_ledger_on_error_t) == sizeof(int), "enum size");

/* One constructor per type, as Redis' createIntConfig() and friends, so each
 * row below reads: section, key, field, default, [range | validator], doc. */
#define ROW(s, k, t, f) .section = s, .key = k, .type = t, .offset = offsetof(fp_config_t, f)
#define STR(s, k, f, def, chk, d) \
    {ROW(s, k, FP__CT_STRING, f), .def_text = def, .check = chk, .doc = d}
#define INT(s, k, f, def, lo, hi, d) \
    {ROW(s, k, FP__CT_INT, f), .def_int = def, .min = lo, .max = hi, .doc = d}
#define BOOL(s, k, f, def, d) {ROW(s, k, FP__CT_BOOL, f), .def_int = def, .doc = d}
#define DUR(s, k, f, def, lo, d) \
    {ROW(s, k, FP__CT_DURATION, f), .def_text = def, .min = lo, .max = FP__DUR_MAX, .doc = d}
#define SIZE(s, k, f, def, lo, hi, d) \
    {ROW(s, k, FP__CT_SIZE, f), .def_text = def, .min = lo, .max = hi, .doc = d}
#define ENUM(s, k, f, def, ch, d) \
    {ROW(s, k, FP__CT_ENUM, f), .def_text = def, .choices = ch, .doc = d}
#define STRV(s, k, f, def, chk, d) \
    {ROW(s, k, FP__CT_STRV, f), .def_strv = def, .check = chk, .doc = d}
#define STRS(...) ((const char *const[]){__VA_ARGS__, NULL})

const fp__ckey_t fp__config_schema[] = {
    STR("daemon", "name", daemon.name, "", NULL, "consumer name; \"\" = the host name"),
    ENUM("daemon", "log_level", daemon.log_level, "info", log_levels, "least severe level logged"),
    ENUM("daemon", "log_format", daemon.log_format, "text", log_formats, "text or json lines"),
    STR("daemon", "log_file", daemon.log_file, "", NULL, "log file; \"\" = stderr"),
    STR("daemon", "pidfile", daemon.pidfile, "", NULL, "pid file; \"\" = none"),
    STR("daemon", "user", daemon.user, "", NULL, "user to switch to; \"\" = stay"),
    STR("daemon", "group", daemon.group, "", NULL, "group to switch to; \"\" = stay"),
    DUR("daemon", "shutdown_timeout", daemon.shutdown_timeout_ms, "25s", 0,
        "how long TERM waits for running jobs"),
    DUR("daemon", "heartbeat_interval", daemon.heartbeat_interval_ms, "5s", 100,
        "how often the daemon renews its fleet record (in Redis, or the queue file)"),

    {ROW("redis", "url", FP__CT_STRING, redis.url), .def_text = "redis://127.0.0.1:6379/0",
     .check = fp__check_redis_url, .secret_url = true,
     .doc = "redis://, rediss:// (TLS) or unix:// URL; FORKPOOL_REDIS_URL overrides it"},
    STR("redis", "prefix", redis.prefix, "fp", fp__check_prefix, "first part of every key"),
    STR("redis", "group", redis.group, "forkpool", fp__check_nonempty, "stream consumer group"),
    DUR("redis", "connect_timeout", redis.connect_timeout_ms, "5s", 1, "connect timeout"),
    STRV("redis", "sentinels", redis.sentinels, NULL, fp__check_sentinels,
         "Sentinel host:port list; when set, the master is found through them"),
    STRV("redis", "cluster", redis.cluster, NULL, fp__check_cluster,
         "Redis Cluster seed host:port list; when set, each queue is served by the master of "
         "its slot"),
    STR("redis", "master_name", redis.master_name, "", NULL,
        "the master's name in Sentinel (sentinel monitor NAME ...)"),
    {ROW("redis", "sentinel_password", FP__CT_STRING, redis.sentinel_password), .def_text = "",
     .secret = true,
     .doc = "AUTH password of the sentinels; FORKPOOL_SENTINEL_PASSWORD overrides it"},
    STR("redis", "tls_ca", redis.tls_ca, "", NULL,
        "rediss://: CA file (PEM) the server's certificate must chain to; \"\" = the system "
        "store; FORKPOOL_REDIS_TLS_CA overrides it"),
    STR("redis", "tls_cert", redis.tls_cert, "", NULL,
        "rediss://: client certificate (PEM), with tls_key; FORKPOOL_REDIS_TLS_CERT overrides it"),
    STR("redis", "tls_key", redis.tls_key, "", NULL,
        "rediss://: the client certificate's private key (PEM); FORKPOOL_REDIS_TLS_KEY "
        "overrides it"),
    STR("redis", "tls_server_name", redis.tls_server_name, "", NULL,
        "rediss://: name verified in the server's certificate and sent as SNI; \"\" = the host "
        "connected to; FORKPOOL_REDIS_TLS_SERVER_NAME overrides it"),

    ENUM("queue", "backend", queue.backend, "auto", backends,
         "where jobs wait: Redis, or the embedded SQLite file; auto = Redis when configured"),
    STR("sqlite", "path", sqlite.path, "", NULL,
        "the embedded queue's file; \"\" = forkpool-queue.db beside the config file"),
    ENUM("sqlite", "synchronous", sqlite.synchronous, "normal", syncs,
         "normal: a process crash loses nothing; full: a power cut neither, slower"),

    STRV("queues", "names", queues.names, STRS("default"), fp__check_queue_names, "queues served"),
    ENUM("queues", "order", queues.order, "strict", orders, "strict priority or weighted"),
    {ROW("queues", "weights", FP__CT_WEIGHTS, queues.weights), .min = 1, .max = FP__WEIGHT_MAX,
     .doc = "queue name = weight for order = \"weighted\"; 1 unless set"},

    ENUM("pool", "runtime", pool.runtime, "native", runtimes, "built-in handlers or a program"),
    {ROW("pool", "children", FP__CT_INT, pool.children), .def_int = 0, .min = 0,
     .max = FP__CHILDREN_MAX, .range = true,
     .doc = "children; 0 = online CPUs; \"MIN..MAX\" scales between MIN and MAX"},
    INT("pool", "children_min", pool.children_min, 0, 0, FP__CHILDREN_MAX,
        "scaling: fewest children (with children_max); 0 = 1"),
    INT("pool", "children_max", pool.children_max, 0, 0, FP__CHILDREN_MAX,
        "scaling: most children; 0 = a fixed pool"),
    DUR("pool", "scale_up_after", pool.scale_up_after_ms, "1s", 100,
        "scaling: backlog age that adds children, and the step between additions"),
    DUR("pool", "idle_timeout", pool.idle_timeout_ms, "30s", 100,
        "scaling: a child idle this long is stopped"),
    SIZE("pool", "max_memory_total", pool.max_memory_total_bytes, "0", 0, INT64_MAX,
         "scaling: no growth past this total children's RSS; 0 = no limit"),
    SIZE("pool", "min_host_available", pool.min_host_available_bytes, "0", 0, INT64_MAX,
         "scaling: no growth while the host's MemAvailable is under this; 0 = no limit"),
    {ROW("pool", "prefetch", FP__CT_INT, pool.prefetch), .def_int = FP_CONFIG_AUTO, .min = 0,
     .max = 10000, .autoable = true,
     .doc = "jobs held beyond one per child; \"auto\" = adaptive (docs/steering.md)"},
    {ROW("pool", "pipeline", FP__CT_INT, pool.pipeline), .def_int = FP_CONFIG_AUTO, .min = 0,
     .max = 1000, .autoable = true,
     .doc = "held jobs that may wait in a busy child; \"auto\" = adaptive send-ahead"},
    INT("pool", "max_held", pool.max_held, 512, 1, 100000,
        "adaptive hold: most jobs held, those running included"),
    SIZE("pool", "max_held_bytes", pool.max_held_bytes, "64MB", 0, INT64_MAX,
         "adaptive hold: most payload bytes held (at the payload size seen); 0 = no limit"),
    DUR("pool", "max_send_ahead_wait", pool.max_send_ahead_wait_ms, "5ms", 0,
        "adaptive send-ahead: most expected wait of a job sent to a busy child; 0 = never"),
    DUR("pool", "job_timeout", pool.job_timeout_ms, "10m", 1, "default per-job timeout"),
    DUR("pool", "kill_grace", pool.kill_grace_ms, "5s", 0, "SIGTERM to SIGKILL delay"),
    DUR("pool", "start_timeout", pool.start_timeout_ms, "60s", 1,
        "how long a new child may take to say ready"),
    INT("pool", "max_jobs_per_child", pool.max_jobs_per_child, 0, 0, INT64_MAX,
        "recycle a child after this many jobs; 0 = never"),
    INT("pool", "max_jobs_jitter", pool.max_jobs_jitter, 0, 0, INT64_MAX,
        "random extra jobs per child so they do not recycle together"),
    SIZE("pool", "max_memory_per_child", pool.max_memory_per_child_bytes, "0", 0, INT64_MAX,
         "recycle a child whose RSS passes this; 0 = never"),
    STRV("pool", "plugins", pool.plugins, NULL, fp__check_items_nonempty, "handler shared objects"),
    STRV("pool", "command", pool.command, NULL, fp__check_command, "exec runtime: argv"),
    STRV("pool", "env_pass", pool.env_pass, NULL, fp__check_env_names,
         "forkpool's own FORKPOOL_* variables children keep"),
    {ROW("pool", "env", FP__CT_ENV, pool.env), .doc = "NAME = \"value\" set in every child"},

    INT("retry", "max_attempts", retry.max_attempts, 5, 1, 1000, "executions before dead"),
    DUR("retry", "backoff_base", retry.backoff_base_ms, "1s", 0, "first retry delay"),
    DUR("retry", "backoff_max", retry.backoff_max_ms, "10m", 0, "longest retry delay"),
    BOOL("retry", "jitter", retry.jitter, 1, "randomise retry delays"),

    DUR("recovery", "visibility_timeout", recovery.visibility_timeout_ms, "60s", MS_S,
        "pending this long with no renewal = holder died"),
    DUR("recovery", "claim_interval", recovery.claim_interval_ms, "15s", 100,
        "how often to look for abandoned jobs"),

    STR("health", "listen", health.listen, "127.0.0.1:9187", fp__check_listen,
        "health endpoint host:port; \"\" = off"),
    DUR("health", "header_timeout", health.header_timeout_ms, "5s", 100,
        "a request's headers must be complete this long after its first byte"),
    DUR("health", "idle_timeout", health.idle_timeout_ms, "5s", 100,
        "close a connection with nothing read or sent this long"),
    INT("health", "max_connections", health.max_connections, 64, 1, 10000,
        "open connections; at the cap the oldest idle one makes room"),
    BOOL("health", "ui", health.ui, 1, "serve the status page at / (docs/ui.md)"),
    INT("health", "ui_payload_max", health.ui_payload_max, 2048, 0, INT64_C(1) << 20,
        "bytes of a dead letter's payload the status page shows"),
    {ROW("health", "admin_token", FP__CT_STRING, health.admin_token), .def_text = "",
     .secret = true,
     .doc = "token the page's actions need; \"\" = no actions; FORKPOOL_ADMIN_TOKEN overrides it"},

    STR("ledger", "path", ledger.path, "", NULL, "SQLite job ledger; \"\" = off"),
    DUR("ledger", "retain", ledger.retain_ms, "7d", 1, "ledger rows kept this long"),
    ENUM("ledger", "on_error", ledger.on_error, "pause", ledger_errors,
         "while rows cannot be written: hold pulls, or drop the rows"),

    SIZE("limits", "max_job_bytes", limits.max_job_bytes, "1MB", INT64_C(1) << 10,
         INT64_C(512) << 20, "largest job payload accepted"),
};

#define N_KEYS (sizeof fp__config_schema / sizeof fp__config_schema[0])
const size_t fp__config_schema_len = N_KEYS;
/* The loader keeps one slot per row in a fixed array. */
_Static_assert(N_KEYS <= FP__CONFIG_MAX_KEYS, "raise FP__CONFIG_MAX_KEYS");

const char *fp__config_enum_name(const fp__ckey_t *k, int value)
{
    for (const fp__cenum_t *c = k->choices; c != NULL && c->name != NULL; c++)
        if (c->value == value)
            return c->name;
    return "?";
}

const fp__ckey_t *fp__config_find_key(const char *section, const char *key)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(fp__config_schema[i].section, section) == 0 &&
            strcmp(fp__config_schema[i].key, key) == 0)
            return &fp__config_schema[i];
    return NULL;
}

bool fp__config_is_section(const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(fp__config_schema[i].section, name) == 0)
            return true;
    return false;
}

/* A known key put in the wrong section: where it belongs. */
const char *fp__config_home_section(const char *key)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(fp__config_schema[i].key, key) == 0)
            return fp__config_schema[i].section;
    return NULL;
}
