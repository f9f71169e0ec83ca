/* config.c: forkpool's configuration, after Redis' static_configs[]: one row
 * per key in a schema table (section, key, type, default, range, field,
 * validator, doc), and code that only walks tables. Loading builds a fresh
 * fp_config_t from the defaults, walks the TOML tree applying each value
 * through its row, applies FORKPOOL_REDIS_URL, resolves the two "automatic"
 * defaults (host name, CPU count), and runs the checks that involve more than
 * one key. Any mistake a user can make is an error naming file:line:column
 * and the key, with the nearest known key when a name is misspelt: a daemon
 * that silently ignores "chidren = 64" runs with the wrong pool for months. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config_internal.h"
#include "base/text.h"
#include "base/units.h"

/* A configuration has no business being larger; the cap also keeps a
 * runaway file (a log written to the wrong path, a "10 MB line") away from
 * the parser. */
#define CONFIG_MAX_BYTES ((size_t)1 << 20)

#define MS_S INT64_C(1000)
#define MS_DAY (INT64_C(86400) * MS_S)
/* Timers add durations to the monotonic clock; ten years keeps every sum far
 * from int64 overflow while refusing nothing anyone means. */
#define DUR_MAX (3650 * MS_DAY)
#define CHILDREN_MAX 1024
#define WEIGHT_MAX 1000000

/* ---- the schema -------------------------------------------------------- */

static const fp__cenum_t log_levels[] = {
    {"debug", FP_LOG_DEBUG}, {"info", FP_LOG_INFO}, {"warn", FP_LOG_WARN},
    {"error", FP_LOG_ERROR}, {NULL, 0},
};
static const fp__cenum_t log_formats[] = {{"text", FP_LOG_TEXT}, {"json", FP_LOG_JSON}, {NULL, 0}};
static const fp__cenum_t orders[] = {
    {"strict", FP_ORDER_STRICT}, {"weighted", FP_ORDER_WEIGHTED}, {NULL, 0}};
static const fp__cenum_t ledger_errors[] = {
    {"pause", FP_LEDGER_PAUSE}, {"skip", FP_LEDGER_SKIP}, {NULL, 0}};
static const fp__cenum_t runtimes[] = {
    {"native", FP_RUNTIME_NATIVE}, {"exec", FP_RUNTIME_EXEC}, {NULL, 0}};

/* Enum fields are written through an int. */
_Static_assert(sizeof(fp_log_level_t) == sizeof(int), "enum size");
_Static_assert(sizeof(fp_log_format_t) == sizeof(int), "enum size");
_Static_assert(sizeof(fp_queue_order_t) == sizeof(int), "enum size");
_Static_assert(sizeof(fp_runtime_t) == sizeof(int), "enum size");
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
    {ROW(s, k, FP__CT_DURATION, f), .def_text = def, .min = lo, .max = DUR_MAX, .doc = d}
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

    {ROW("redis", "url", FP__CT_STRING, redis.url), .def_text = "redis://127.0.0.1:6379/0",
     .check = fp__check_redis_url, .secret_url = true,
     .doc = "redis:// or unix:// URL; FORKPOOL_REDIS_URL overrides it"},
    STR("redis", "prefix", redis.prefix, "fp", fp__check_prefix, "first part of every key"),
    STR("redis", "group", redis.group, "forkpool", fp__check_nonempty, "stream consumer group"),
    DUR("redis", "connect_timeout", redis.connect_timeout_ms, "5s", 1, "connect timeout"),

    STRV("queues", "names", queues.names, STRS("default"), fp__check_queue_names, "queues served"),
    ENUM("queues", "order", queues.order, "strict", orders, "strict priority or weighted"),
    {ROW("queues", "weights", FP__CT_WEIGHTS, queues.weights), .min = 1, .max = WEIGHT_MAX,
     .doc = "queue name = weight for order = \"weighted\"; 1 unless set"},

    ENUM("pool", "runtime", pool.runtime, "native", runtimes, "built-in handlers or a program"),
    INT("pool", "children", pool.children, 0, 0, CHILDREN_MAX, "children; 0 = online CPUs"),
    INT("pool", "prefetch", pool.prefetch, 0, 0, 10000, "jobs held beyond one per child"),
    INT("pool", "pipeline", pool.pipeline, 0, 0, 1000,
        "prefetched jobs that may wait in a busy child instead of the supervisor"),
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

    STR("ledger", "path", ledger.path, "", NULL, "SQLite job ledger; \"\" = off"),
    DUR("ledger", "retain", ledger.retain_ms, "7d", 1, "ledger rows kept this long"),
    ENUM("ledger", "on_error", ledger.on_error, "pause", ledger_errors,
         "while rows cannot be written: hold pulls, or drop the rows"),

    SIZE("limits", "max_job_bytes", limits.max_job_bytes, "1MB", INT64_C(1) << 10,
         INT64_C(512) << 20, "largest job payload accepted"),
};

#define N_KEYS (sizeof fp__config_schema / sizeof fp__config_schema[0])
const size_t fp__config_schema_len = N_KEYS;

#define HANDLERS "handlers"

const char *fp__config_enum_name(const fp__ckey_t *k, int value)
{
    for (const fp__cenum_t *c = k->choices; c != NULL && c->name != NULL; c++)
        if (c->value == value)
            return c->name;
    return "?";
}

static const fp__ckey_t *find_key(const char *section, const char *key)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(fp__config_schema[i].section, section) == 0 &&
            strcmp(fp__config_schema[i].key, key) == 0)
            return &fp__config_schema[i];
    return NULL;
}

static bool is_section(const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(fp__config_schema[i].section, name) == 0)
            return true;
    return false;
}

static void *field_of(fp_config_t *cfg, const fp__ckey_t *k)
{
    return (char *)cfg + k->offset;
}

/* ---- suggestions ------------------------------------------------------- */

/* Optimal string alignment distance: edits plus adjacent transpositions,
 * so "chidlren" is one step from "children". */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t rows[3][64], *pp = rows[0], *p = rows[1], *c = rows[2];
    if (lb >= 64)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        p[j] = j;
    for (size_t i = 1; i <= la; i++) {
        c[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t best = p[j - 1] + cost;
            if (p[j] + 1 < best)
                best = p[j] + 1;
            if (c[j - 1] + 1 < best)
                best = c[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                pp[j - 2] + 1 < best)
                best = pp[j - 2] + 1;
            c[j] = best;
        }
        size_t *t = pp;
        pp = p;
        p = c;
        c = t;
    }
    return p[lb];
}

typedef struct suggest_s {
    const char *word;
    const char *best;
    size_t best_d;
} suggest_t;

/* Close enough to be a typo: one edit for short names, two for longer
 * ones; anything further is more likely a different idea than a slip. */
static void consider(suggest_t *s, const char *candidate)
{
    if (strlen(s->word) > 60)
        return;
    size_t d = distance(s->word, candidate);
    size_t limit = strlen(candidate) <= 4 ? 1 : 2;
    if (d <= limit && (s->best == NULL || d < s->best_d)) {
        s->best = candidate;
        s->best_d = d;
    }
}

static const char *suggest_key(const char *section, const char *word)
{
    suggest_t s = {.word = word};
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(fp__config_schema[i].section, section) == 0)
            consider(&s, fp__config_schema[i].key);
    return s.best;
}

static const char *suggest_section(const char *word)
{
    suggest_t s = {.word = word};
    for (size_t i = 0; i < N_KEYS; i++)
        if (i == 0 || strcmp(fp__config_schema[i].section, fp__config_schema[i - 1].section) != 0)
            consider(&s, fp__config_schema[i].section);
    consider(&s, HANDLERS);
    return s.best;
}

/* A known key put in the wrong section: where it belongs. */
static const char *home_section(const char *key)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(fp__config_schema[i].key, key) == 0)
            return fp__config_schema[i].section;
    return NULL;
}

/* ---- error reporting --------------------------------------------------- */

/* Keys and values come from the file and may hold anything (quoted TOML keys
 * allow control characters): show a bounded, printable form. */
static const char *quote(char *buf, size_t size, const char *s)
{
    return fp_text_quote(buf, size, s, 64);
}

typedef struct loader_s {
    const char *name; /* file name for messages */
    fp_config_t *cfg;
    fp_err_t *err;
    /* The node that set each row, for the position of later cross-key
     * errors; NULL while a row holds its default. */
    const fp_toml_node_t *where[N_KEYS];
} loader_t;

static int fail_at(loader_t *ld, const fp_toml_node_t *node, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_at(loader_t *ld, const fp_toml_node_t *node, int code, const char *fmt, ...)
{
    char reason[FP_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (node == NULL)
        return fp_err_set(ld->err, code, "%s: %s", ld->name, reason);
    int line = fp_toml_line(node), col = fp_toml_col(node);
    return fp_err_set_at(ld->err, code, line, col, "%s:%d:%d: %s", ld->name, line, col, reason);
}

static void amount_text(const fp__ckey_t *k, int64_t v, char *buf, size_t size)
{
    if (k->type == FP__CT_DURATION)
        fp_units_format_duration(v, buf, size);
    else if (k->type == FP__CT_SIZE)
        fp_units_format_size(v, buf, size);
    else
        snprintf(buf, size, "%" PRId64, v);
}

/* "between 0 and 1024" when both bounds mean something; a row whose maximum
 * is only a sanity cap reads "at least 3s" or "at most 3650d" instead. */
static void range_text(const fp__ckey_t *k, int64_t v, char *buf, size_t size)
{
    char lo[32], hi[32];
    bool capped = k->max == INT64_MAX || (k->type == FP__CT_DURATION && k->max == DUR_MAX);
    amount_text(k, k->min, lo, sizeof lo);
    amount_text(k, k->max, hi, sizeof hi);
    if (!capped)
        snprintf(buf, size, "between %s and %s", lo, hi);
    else if (v > k->max)
        snprintf(buf, size, "at most %s", hi);
    else if (k->min == 1 && k->type != FP__CT_INT)
        snprintf(buf, size, "greater than 0");
    else
        snprintf(buf, size, "at least %s", lo);
}

/* Section names are shown as written when they are bare TOML keys. */
static const char *name_text(char *buf, size_t size, const char *name)
{
    size_t n = strlen(name);
    if (n > 0 && n < size && n < 64 &&
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n) {
        memcpy(buf, name, n + 1);
        return buf;
    }
    return quote(buf, size, name);
}

static void choices_text(const fp__ckey_t *k, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (const fp__cenum_t *c = k->choices; c->name != NULL && n < size; c++)
        n += (size_t)snprintf(buf + n, size - n, "%s\"%s\"", n ? ", " : "", c->name);
}

static int wrong_type(loader_t *ld, const fp__ckey_t *k, const fp_toml_node_t *node)
{
    static const char *const wanted[] = {
        [FP__CT_STRING] = "a string",
        [FP__CT_INT] = "an integer",
        [FP__CT_BOOL] = "true or false",
        [FP__CT_DURATION] = "a duration string such as \"30s\"",
        [FP__CT_SIZE] = "a size string such as \"256MB\"",
        [FP__CT_ENUM] = "a string",
        [FP__CT_STRV] = "an array of strings",
        [FP__CT_WEIGHTS] = "a table of queue name = weight",
        [FP__CT_ENV] = "a table of NAME = \"value\"",
    };
    const char *got = fp_toml_type_name(fp_toml_type(node));
    char list[128];
    if (k->type == FP__CT_ENUM) {
        choices_text(k, list, sizeof list);
        return fail_at(ld, node, FP_ECONFIG, "[%s] %s must be one of %s, got %s", k->section,
                       k->key, list, got);
    }
    return fail_at(ld, node, FP_ECONFIG, "[%s] %s must be %s, got %s", k->section, k->key,
                   wanted[k->type], got);
}

/* ---- setting values ---------------------------------------------------- */

/* A TOML string as a C string; TOML allows U+0000 through escapes, and a C
 * string would silently end there. */
static int get_string(loader_t *ld, const char *label, const fp_toml_node_t *node,
                      const char **out)
{
    size_t len = 0;
    const char *s = fp_toml_string(node, &len);
    if (s == NULL || memchr(s, '\0', len) != NULL)
        return fail_at(ld, node, FP_ECONFIG, "%s must not contain NUL characters", label);
    *out = s;
    return 0;
}

static void strv_free(fp_strv_t *v)
{
    for (size_t i = 0; i < v->count; i++)
        free(v->items[i]);
    free(v->items);
    v->items = NULL;
    v->count = 0;
}

static int strv_from_list(fp_strv_t *v, const char *const *list)
{
    size_t n = 0;
    while (list != NULL && list[n] != NULL)
        n++;
    v->items = calloc(n ? n : 1, sizeof *v->items);
    if (v->items == NULL)
        return -ENOMEM;
    for (; v->count < n; v->count++)
        if ((v->items[v->count] = strdup(list[v->count])) == NULL)
            return -ENOMEM;
    return 0;
}

static int run_check(loader_t *ld, const fp__ckey_t *k, const fp_toml_node_t *node)
{
    char buf[256];
    size_t elem = SIZE_MAX;
    if (k->check == NULL || k->check(field_of(ld->cfg, k), &elem, buf, sizeof buf) == 0)
        return 0;
    if (elem == SIZE_MAX)
        return fail_at(ld, node, FP_ECONFIG, "[%s] %s %s", k->section, k->key, buf);
    const fp_toml_node_t *at = fp_toml_at(node, elem);
    return fail_at(ld, at ? at : node, FP_ECONFIG, "[%s] %s[%zu] %s", k->section, k->key, elem,
                   buf);
}

static int set_string(loader_t *ld, const fp__ckey_t *k, const fp_toml_node_t *node)
{
    char label[128];
    const char *s = NULL;
    snprintf(label, sizeof label, "[%s] %s", k->section, k->key);
    int rc = get_string(ld, label, node, &s);
    if (rc < 0)
        return rc;
    char *copy = strdup(s);
    if (copy == NULL)
        return fp_err_set(ld->err, -ENOMEM, "out of memory");
    char **f = field_of(ld->cfg, k);
    free(*f);
    *f = copy;
    return run_check(ld, k, node);
}

static int out_of_range(loader_t *ld, const fp__ckey_t *k, const fp_toml_node_t *node,
                        int64_t v, const char *got)
{
    char range[96];
    range_text(k, v, range, sizeof range);
    return fail_at(ld, node, FP_ECONFIG, "[%s] %s must be %s, got %s", k->section, k->key,
                   range, got);
}

static int set_int(loader_t *ld, const fp__ckey_t *k, const fp_toml_node_t *node)
{
    int64_t v = fp_toml_integer(node);
    if (v < k->min || v > k->max) {
        char got[32];
        snprintf(got, sizeof got, "%" PRId64, v);
        return out_of_range(ld, k, node, v, got);
    }
    *(int64_t *)field_of(ld->cfg, k) = v;
    return 0;
}

/* Durations and sizes: the units module explains bad text. */
static int set_amount(loader_t *ld, const fp__ckey_t *k, const fp_toml_node_t *node)
{
    char label[128], q[96];
    const char *s = NULL;
    int64_t v;
    fp_err_t uerr = {0};
    snprintf(label, sizeof label, "[%s] %s", k->section, k->key);
    int rc = get_string(ld, label, node, &s);
    if (rc < 0)
        return rc;
    rc = k->type == FP__CT_DURATION ? fp_units_parse_duration_ms(s, &v, &uerr)
                                    : fp_units_parse_size_bytes(s, &v, &uerr);
    if (rc < 0)
        return fail_at(ld, node, FP_ECONFIG, "%s: %s", label, uerr.msg);
    if (v < k->min || v > k->max)
        return out_of_range(ld, k, node, v, quote(q, sizeof q, s));
    *(int64_t *)field_of(ld->cfg, k) = v;
    return 0;
}

static int set_enum(loader_t *ld, const fp__ckey_t *k, const fp_toml_node_t *node)
{
    char label[128], list[128], q[96];
    const char *s = NULL;
    snprintf(label, sizeof label, "[%s] %s", k->section, k->key);
    int rc = get_string(ld, label, node, &s);
    if (rc < 0)
        return rc;
    suggest_t sg = {.word = s};
    for (const fp__cenum_t *c = k->choices; c->name != NULL; c++) {
        if (strcmp(c->name, s) == 0) {
            *(int *)field_of(ld->cfg, k) = c->value;
            return 0;
        }
        consider(&sg, c->name);
    }
    choices_text(k, list, sizeof list);
    if (sg.best != NULL)
        return fail_at(ld, node, FP_ECONFIG, "%s must be one of %s, got %s (did you mean \"%s\"?)",
                       label, list, quote(q, sizeof q, s), sg.best);
    return fail_at(ld, node, FP_ECONFIG, "%s must be one of %s, got %s", label, list,
                   quote(q, sizeof q, s));
}

static int set_strv(loader_t *ld, const fp__ckey_t *k, const fp_toml_node_t *node)
{
    fp_strv_t v = {0};
    size_t n = fp_toml_count(node);
    char label[128];
    int rc = 0;
    if ((v.items = calloc(n ? n : 1, sizeof *v.items)) == NULL)
        return fp_err_set(ld->err, -ENOMEM, "out of memory");
    for (; v.count < n; v.count++) {
        const fp_toml_node_t *e = fp_toml_at(node, v.count);
        const char *s = NULL;
        snprintf(label, sizeof label, "[%s] %s[%zu]", k->section, k->key, v.count);
        if (fp_toml_type(e) != FP_TOML_STRING) {
            rc = fail_at(ld, e, FP_ECONFIG, "%s must be a string, got %s", label,
                         fp_toml_type_name(fp_toml_type(e)));
            goto fail;
        }
        if ((rc = get_string(ld, label, e, &s)) < 0)
            goto fail;
        if ((v.items[v.count] = strdup(s)) == NULL) {
            rc = fp_err_set(ld->err, -ENOMEM, "out of memory");
            goto fail;
        }
    }
    fp_strv_t *f = field_of(ld->cfg, k);
    strv_free(f);
    *f = v;
    return run_check(ld, k, node);
fail:
    strv_free(&v);
    return rc;
}

/* One NAME = "value" of a table, as "NAME=value" in *out (owned). */
static int env_entry(loader_t *ld, const fp__ckey_t *k, const fp_toml_node_t *table, size_t i,
                     char **out)
{
    char label[160], q[96];
    size_t nlen = 0;
    const char *name = fp_toml_key_at_n(table, i, &nlen);
    const fp_toml_node_t *e = fp_toml_at(table, i);
    if (!fp__env_name_ok(name, nlen))
        return fail_at(ld, e, FP_ECONFIG,
                       "[%s] %s: %s is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)",
                       k->section, k->key, quote(q, sizeof q, name));
    snprintf(label, sizeof label, "[%s] %s.%s", k->section, k->key, name);
    const char *value = NULL;
    if (fp_toml_type(e) != FP_TOML_STRING)
        return fail_at(ld, e, FP_ECONFIG, "%s must be a string, got %s", label,
                       fp_toml_type_name(fp_toml_type(e)));
    int rc = get_string(ld, label, e, &value);
    if (rc < 0)
        return rc;
    if ((*out = malloc(nlen + strlen(value) + 2)) == NULL)
        return fp_err_set(ld->err, -ENOMEM, "out of memory");
    sprintf(*out, "%s=%s", name, value);
    return 0;
}

static int set_env(loader_t *ld, const fp__ckey_t *k, const fp_toml_node_t *node)
{
    fp_strv_t v = {0};
    size_t n = fp_toml_count(node);
    int rc = 0;
    if ((v.items = calloc(n ? n : 1, sizeof *v.items)) == NULL)
        return fp_err_set(ld->err, -ENOMEM, "out of memory");
    for (; v.count < n; v.count++) {
        if ((rc = env_entry(ld, k, node, v.count, &v.items[v.count])) < 0) {
            strv_free(&v);
            return rc;
        }
    }
    fp_strv_t *f = field_of(ld->cfg, k);
    strv_free(f);
    *f = v;
    return 0;
}

static const fp_toml_type_t toml_type_of[] = {
    [FP__CT_STRING] = FP_TOML_STRING, [FP__CT_INT] = FP_TOML_INTEGER,
    [FP__CT_BOOL] = FP_TOML_BOOL,     [FP__CT_DURATION] = FP_TOML_STRING,
    [FP__CT_SIZE] = FP_TOML_STRING,   [FP__CT_ENUM] = FP_TOML_STRING,
    [FP__CT_STRV] = FP_TOML_ARRAY,    [FP__CT_WEIGHTS] = FP_TOML_TABLE,
    [FP__CT_ENV] = FP_TOML_TABLE,
};

static int set_value(loader_t *ld, const fp__ckey_t *k, const fp_toml_node_t *node)
{
    if (fp_toml_type(node) != toml_type_of[k->type])
        return wrong_type(ld, k, node);
    ld->where[k - fp__config_schema] = node;
    switch (k->type) {
    case FP__CT_STRING: return set_string(ld, k, node);
    case FP__CT_INT: return set_int(ld, k, node);
    case FP__CT_BOOL: *(bool *)field_of(ld->cfg, k) = fp_toml_bool(node); return 0;
    case FP__CT_DURATION:
    case FP__CT_SIZE: return set_amount(ld, k, node);
    case FP__CT_ENUM: return set_enum(ld, k, node);
    case FP__CT_STRV: return set_strv(ld, k, node);
    case FP__CT_WEIGHTS: return 0; /* needs the final queue names: see resolve_weights */
    case FP__CT_ENV: return set_env(ld, k, node);
    }
    return 0;
}

/* ---- walking the document ---------------------------------------------- */

static int unknown_key(loader_t *ld, const char *section, const char *key,
                       const fp_toml_node_t *node)
{
    char q[96];
    const char *near = suggest_key(section, key);
    const char *home = near ? NULL : home_section(key);
    if (near != NULL)
        return fail_at(ld, node, FP_ECONFIG, "unknown key %s in [%s] (did you mean \"%s\"?)",
                       quote(q, sizeof q, key), section, near);
    if (home != NULL)
        return fail_at(ld, node, FP_ECONFIG, "unknown key %s in [%s] (it belongs in [%s])",
                       quote(q, sizeof q, key), section, home);
    return fail_at(ld, node, FP_ECONFIG, "unknown key %s in [%s]", quote(q, sizeof q, key),
                   section);
}

static int unknown_top(loader_t *ld, const char *name, const fp_toml_node_t *node)
{
    char q[96];
    const char *home = home_section(name);
    const char *near = suggest_section(name);
    if (fp_toml_type(node) != FP_TOML_TABLE && home != NULL)
        return fail_at(ld, node, FP_ECONFIG, "key %s must be inside its section, [%s]",
                       quote(q, sizeof q, name), home);
    if (fp_toml_type(node) != FP_TOML_TABLE)
        return fail_at(ld, node, FP_ECONFIG,
                       "unknown key %s at the top level (settings go inside a section such as "
                       "[pool])",
                       quote(q, sizeof q, name));
    if (near != NULL)
        return fail_at(ld, node, FP_ECONFIG, "unknown section [%s] (did you mean [%s]?)",
                       name_text(q, sizeof q, name), near);
    return fail_at(ld, node, FP_ECONFIG, "unknown section [%s]", name_text(q, sizeof q, name));
}

static int load_section(loader_t *ld, const char *section, const fp_toml_node_t *table)
{
    if (!is_section(section))
        return unknown_top(ld, section, table);
    if (fp_toml_type(table) != FP_TOML_TABLE)
        return fail_at(ld, table, FP_ECONFIG, "[%s] must be a table, got %s", section,
                       fp_toml_type_name(fp_toml_type(table)));
    for (size_t i = 0; i < fp_toml_count(table); i++) {
        const char *key = fp_toml_key_at(table, i);
        const fp_toml_node_t *node = fp_toml_at(table, i);
        const fp__ckey_t *k = find_key(section, key);
        int rc = k ? set_value(ld, k, node) : unknown_key(ld, section, key, node);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Handlers own their tables' contents; we only insist they are tables. */
static int load_handlers(loader_t *ld, const fp_toml_node_t *table)
{
    char q[96];
    if (fp_toml_type(table) != FP_TOML_TABLE)
        return fail_at(ld, table, FP_ECONFIG, "[%s] must be a table, got %s", HANDLERS,
                       fp_toml_type_name(fp_toml_type(table)));
    for (size_t i = 0; i < fp_toml_count(table); i++) {
        const fp_toml_node_t *node = fp_toml_at(table, i);
        if (fp_toml_type(node) != FP_TOML_TABLE)
            return fail_at(ld, node, FP_ECONFIG,
                           "[%s] %s must be a table ([handlers.NAME]), got %s", HANDLERS,
                           quote(q, sizeof q, fp_toml_key_at(table, i)),
                           fp_toml_type_name(fp_toml_type(node)));
    }
    return 0;
}

/* TOML lets a quoted key hold U+0000 ("a\u0000b"); every name the
 * configuration knows (sections, settings, handlers, queues) is plain text,
 * and a key read up to its NUL would pass for another ("children\u0000x" for
 * children). Such a key is refused wherever it is, handler tables included,
 * whose contents reach handlers as C strings. Recursion is bounded by the
 * tree's depth limit. */
static int reject_nul_keys(loader_t *ld, const fp_toml_node_t *node)
{
    bool table = fp_toml_type(node) == FP_TOML_TABLE;
    if (!table && fp_toml_type(node) != FP_TOML_ARRAY)
        return 0;
    for (size_t i = 0; i < fp_toml_count(node); i++) {
        const fp_toml_node_t *child = fp_toml_at(node, i);
        size_t len = 0;
        const char *key = table ? fp_toml_key_at_n(node, i, &len) : NULL;
        if (key != NULL && memchr(key, '\0', len) != NULL) {
            char q[160];
            return fail_at(ld, child, FP_ECONFIG,
                           "key %s holds U+0000 (NUL), which no setting can use",
                           fp_text_quote_n(q, sizeof q, key, len, 64));
        }
        int rc = reject_nul_keys(ld, child);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int load_tree(loader_t *ld, const fp_toml_node_t *root)
{
    int rc = reject_nul_keys(ld, root);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < fp_toml_count(root); i++) {
        const char *name = fp_toml_key_at(root, i);
        const fp_toml_node_t *node = fp_toml_at(root, i);
        rc = strcmp(name, HANDLERS) == 0 ? load_handlers(ld, node) : load_section(ld, name, node);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- defaults, environment, resolution, cross-key checks -------------- */

static int set_defaults(fp_config_t *cfg, fp_err_t *err)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        const fp__ckey_t *k = &fp__config_schema[i];
        void *f = field_of(cfg, k);
        int rc = 0;
        switch (k->type) {
        case FP__CT_STRING: rc = (*(char **)f = strdup(k->def_text)) ? 0 : -ENOMEM; break;
        case FP__CT_INT: *(int64_t *)f = k->def_int; break;
        case FP__CT_BOOL: *(bool *)f = k->def_int != 0; break;
        case FP__CT_DURATION: rc = fp_units_parse_duration_ms(k->def_text, f, err); break;
        case FP__CT_SIZE: rc = fp_units_parse_size_bytes(k->def_text, f, err); break;
        case FP__CT_ENUM:
            for (const fp__cenum_t *c = k->choices; c->name != NULL; c++)
                if (strcmp(c->name, k->def_text) == 0)
                    *(int *)f = c->value;
            break;
        case FP__CT_STRV: rc = strv_from_list(f, k->def_strv); break;
        case FP__CT_WEIGHTS: break; /* resolve_weights */
        case FP__CT_ENV: rc = strv_from_list(f, NULL); break;
        }
        if (rc == -ENOMEM)
            return fp_err_set(err, rc, "out of memory");
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Secrets stay out of files: the URL may come from the environment. An
 * empty variable counts as unset, as shells make it easy to export one. */
static int apply_env(loader_t *ld)
{
    const char *url = getenv("FORKPOOL_REDIS_URL");
    const fp__ckey_t *k = find_key("redis", "url");
    char buf[256];
    size_t elem;
    if (url == NULL || *url == '\0')
        return 0;
    char *copy = strdup(url);
    if (copy == NULL)
        return fp_err_set(ld->err, -ENOMEM, "out of memory");
    free(ld->cfg->redis.url);
    ld->cfg->redis.url = copy;
    if (k->check(&ld->cfg->redis.url, &elem, buf, sizeof buf) < 0)
        return fp_err_set(ld->err, FP_ECONFIG, "FORKPOOL_REDIS_URL (environment) %s", buf);
    ld->where[k - fp__config_schema] = NULL;
    return 0;
}

static int resolve_auto(loader_t *ld)
{
    fp_config_t *cfg = ld->cfg;
    if (cfg->daemon.name[0] == '\0') {
        char host[256] = {0};
        if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
            return fail_at(ld, NULL, FP_ECONFIG,
                           "cannot find the host name for [daemon] name; set it");
        char *copy = strdup(host);
        if (copy == NULL)
            return fp_err_set(ld->err, -ENOMEM, "out of memory");
        free(cfg->daemon.name);
        cfg->daemon.name = copy;
    }
    if (cfg->pool.children == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->pool.children = n < 1 ? 1 : n > CHILDREN_MAX ? CHILDREN_MAX : n;
    }
    return 0;
}

static const fp_toml_node_t *where(const loader_t *ld, const char *section, const char *key)
{
    return ld->where[find_key(section, key) - fp__config_schema];
}

static ptrdiff_t queue_index(const fp_strv_t *names, const char *name)
{
    for (size_t i = 0; i < names->count; i++)
        if (strcmp(names->items[i], name) == 0)
            return (ptrdiff_t)i;
    return -1;
}

static int weight_of(loader_t *ld, const char *queue, const fp_toml_node_t *v, int64_t *out)
{
    char q[96];
    const fp_strv_t *names = &ld->cfg->queues.names;
    if (queue_index(names, queue) < 0) {
        suggest_t sg = {.word = queue};
        for (size_t i = 0; i < names->count; i++)
            consider(&sg, names->items[i]);
        return fail_at(ld, v, FP_ECONFIG, "[queues] weights: %s is not in [queues] names%s%s%s",
                       quote(q, sizeof q, queue), sg.best ? " (did you mean \"" : "",
                       sg.best ? sg.best : "", sg.best ? "\"?)" : "");
    }
    if (fp_toml_type(v) != FP_TOML_INTEGER)
        return fail_at(ld, v, FP_ECONFIG, "[queues] weights: %s must be an integer, got %s",
                       quote(q, sizeof q, queue), fp_toml_type_name(fp_toml_type(v)));
    *out = fp_toml_integer(v);
    if (*out < 1 || *out > WEIGHT_MAX)
        return fail_at(ld, v, FP_ECONFIG,
                       "[queues] weights: %s must be between 1 and %d, got %" PRId64,
                       quote(q, sizeof q, queue), WEIGHT_MAX, *out);
    return 0;
}

/* Weights are keyed by queue name, so they can only be checked once the
 * final list of names is known, wherever in the file either was written. */
static int resolve_weights(loader_t *ld)
{
    fp_config_t *cfg = ld->cfg;
    const fp_toml_node_t *table = where(ld, "queues", "weights");
    cfg->queues.weights = calloc(cfg->queues.names.count, sizeof *cfg->queues.weights);
    if (cfg->queues.weights == NULL)
        return fp_err_set(ld->err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < cfg->queues.names.count; i++)
        cfg->queues.weights[i] = 1;
    if (table == NULL || fp_toml_count(table) == 0)
        return 0;
    if (cfg->queues.order != FP_ORDER_WEIGHTED)
        return fail_at(ld, table, FP_ECONFIG,
                       "[queues] weights only apply with order = \"weighted\"");
    for (size_t i = 0; i < fp_toml_count(table); i++) {
        const char *queue = fp_toml_key_at(table, i);
        int64_t w = 1;
        int rc = weight_of(ld, queue, fp_toml_at(table, i), &w);
        if (rc < 0)
            return rc;
        cfg->queues.weights[queue_index(&cfg->queues.names, queue)] = w;
    }
    return 0;
}

/* Settings that have no effect in the chosen mode are errors, so that a
 * misunderstanding surfaces at start-up rather than in production. */
static int check_cross(loader_t *ld)
{
    const fp_config_t *cfg = ld->cfg;
    char a[32], b[32];
    if (cfg->retry.backoff_max_ms < cfg->retry.backoff_base_ms) {
        const fp_toml_node_t *at = where(ld, "retry", "backoff_max");
        fp_units_format_duration(cfg->retry.backoff_max_ms, a, sizeof a);
        fp_units_format_duration(cfg->retry.backoff_base_ms, b, sizeof b);
        return fail_at(ld, at ? at : where(ld, "retry", "backoff_base"), FP_ECONFIG,
                       "[retry] backoff_max (%s) must not be less than backoff_base (%s)", a, b);
    }
    if (cfg->pool.runtime == FP_RUNTIME_EXEC && cfg->pool.command.count == 0)
        return fail_at(ld, where(ld, "pool", "runtime"), FP_ECONFIG,
                       "[pool] command must be set when runtime = \"exec\" (the program each "
                       "child runs, e.g. [\"python3\", \"worker.py\"])");
    if (cfg->pool.runtime == FP_RUNTIME_NATIVE && cfg->pool.command.count > 0)
        return fail_at(ld, where(ld, "pool", "command"), FP_ECONFIG,
                       "[pool] command is only used with runtime = \"exec\"");
    if (cfg->pool.runtime == FP_RUNTIME_EXEC && cfg->pool.plugins.count > 0)
        return fail_at(ld, where(ld, "pool", "plugins"), FP_ECONFIG,
                       "[pool] plugins are only loaded with runtime = \"native\"");
    return 0;
}

/* ---- entry points ------------------------------------------------------ */

static int build(const char *name, fp_toml_node_t *doc, fp_config_t **out, fp_err_t *err)
{
    loader_t ld = {.name = name, .err = err};
    fp_config_t *cfg = calloc(1, sizeof *cfg);
    int rc;
    if (cfg == NULL) {
        fp_toml_free(doc);
        return fp_err_set(err, -ENOMEM, "out of memory");
    }
    cfg->doc = doc;
    ld.cfg = cfg;
    if ((rc = set_defaults(cfg, err)) < 0)
        goto fail;
    if ((cfg->source = strdup(name)) == NULL) {
        rc = fp_err_set(err, -ENOMEM, "out of memory");
        goto fail;
    }
    if (doc != NULL && (rc = load_tree(&ld, doc)) < 0)
        goto fail;
    if ((rc = apply_env(&ld)) < 0 || (rc = resolve_auto(&ld)) < 0 ||
        (rc = resolve_weights(&ld)) < 0 || (rc = check_cross(&ld)) < 0)
        goto fail;
    *out = cfg;
    return 0;
fail:
    fp_config_free(cfg);
    return rc;
}

/* NUL bytes are checked here, before the parser, so the message can say
 * what such a file usually is. */
static int check_bytes(const char *text, size_t len, const char *name, fp_err_t *err)
{
    char max[16];
    if (len > CONFIG_MAX_BYTES) {
        fp_units_format_size((int64_t)CONFIG_MAX_BYTES, max, sizeof max);
        return fp_err_set(err, FP_ECONFIG, "%s: too large for a configuration file (over %s)",
                          name, max);
    }
    const char *nul = memchr(text, '\0', len);
    if (nul == NULL)
        return 0;
    int line = 1, col = 1;
    for (const char *p = text; p < nul; p++, col++) {
        if (*p == '\n') {
            line++;
            col = 0;
        }
    }
    return fp_err_set_at(err, FP_ETOML, line, col,
                         "%s:%d:%d: NUL byte in the file (is it binary, or UTF-16?)", name, line,
                         col);
}

int fp_config_load_text(const char *text, size_t len, const char *name, fp_config_t **out,
                        fp_err_t *err)
{
    fp_err_t terr = {0};
    int rc;
    if (name == NULL)
        name = "(text)";
    if (text == NULL)
        text = "";
    if ((rc = check_bytes(text, len, name, err)) < 0)
        return rc;
    fp_toml_node_t *doc = fp_toml_parse(text, len, &terr);
    if (doc == NULL) {
        /* A too-deep document is as much a configuration error as bad syntax. */
        int code = terr.code == FP_ELIMIT || terr.code == 0 ? FP_ETOML : terr.code;
        if (terr.line > 0)
            return fp_err_set_at(err, code, terr.line, terr.col, "%s:%d:%d: %s", name,
                                 terr.line, terr.col, terr.msg);
        return fp_err_set(err, code, "%s: %s", name, terr.msg);
    }
    return build(name, doc, out, err);
}

/* Reads at most CONFIG_MAX_BYTES + 1 bytes: enough for check_bytes to
 * refuse a huge file or an endless pipe without holding all of it. */
static int read_all(int fd, char **out, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (buf == NULL)
        return -ENOMEM;
    while (n <= CONFIG_MAX_BYTES) {
        if (n == cap) {
            char *grown = realloc(buf, cap * 2);
            if (grown == NULL) {
                free(buf);
                return -ENOMEM;
            }
            buf = grown;
            cap *= 2;
        }
        size_t want = (cap < CONFIG_MAX_BYTES + 1 ? cap : CONFIG_MAX_BYTES + 1) - n;
        ssize_t r = read(fd, buf + n, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int rc = -errno;
            free(buf);
            return rc;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *out = buf;
    *len = n;
    return 0;
}

int fp_config_load(const char *path, fp_config_t **out, fp_err_t *err)
{
    struct stat st;
    char *text = NULL, max[16];
    size_t len = 0;
    int rc;
    if (path == NULL)
        return build("(defaults)", NULL, out, err);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        return fp_err_set(err, rc, "%s: %s", path, strerror(-rc));
    }
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size > CONFIG_MAX_BYTES) {
        close(fd);
        fp_units_format_size((int64_t)CONFIG_MAX_BYTES, max, sizeof max);
        return fp_err_set(err, FP_ECONFIG, "%s: too large for a configuration file (over %s)",
                          path, max);
    }
    rc = read_all(fd, &text, &len);
    close(fd);
    if (rc < 0)
        return fp_err_set(err, rc, "%s: %s", path, strerror(-rc));
    rc = fp_config_load_text(text, len, path, out, err);
    free(text);
    return rc;
}

const char *fp_config_resolve_path(const char *cli_path)
{
    const char *env = getenv("FORKPOOL_CONFIG");
    if (cli_path != NULL)
        return cli_path;
    if (env != NULL && *env != '\0')
        return env;
    if (access("forkpool.toml", F_OK) == 0)
        return "forkpool.toml";
    return NULL;
}

void fp_config_free(fp_config_t *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < N_KEYS; i++) {
        const fp__ckey_t *k = &fp__config_schema[i];
        if (k->type == FP__CT_STRING)
            free(*(char **)field_of(cfg, k));
        else if (k->type == FP__CT_STRV || k->type == FP__CT_ENV)
            strv_free(field_of(cfg, k));
    }
    free(cfg->queues.weights);
    free(cfg->source);
    fp_toml_free(cfg->doc);
    free(cfg);
}

const fp_toml_node_t *fp_config_handler_table(const fp_config_t *cfg, const char *name)
{
    const fp_toml_node_t *handlers = cfg && cfg->doc ? fp_toml_get(cfg->doc, HANDLERS) : NULL;
    if (handlers == NULL || fp_toml_type(handlers) != FP_TOML_TABLE || name == NULL)
        return NULL;
    return fp_toml_get(handlers, name);
}
