/* test_config.c: the configuration contract. Defaults are checked against
 * values written out here by hand (not read back from the schema table), so
 * a slip in the table shows up as a failure; config.example.toml must load
 * to exactly those defaults; and every class of mistake a user can make is
 * pinned with its exact "file:line:col: reason" message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config_internal.h"
#include "config/config.h"
#include "harness.h"
#include "schema_text.h"

#define KB (INT64_C(1) << 10)
#define MB (INT64_C(1) << 20)

static void clear_env(void)
{
    unsetenv("FORKPOOL_REDIS_URL");
    unsetenv("FORKPOOL_SENTINEL_PASSWORD");
    unsetenv("FORKPOOL_CONFIG");
    unsetenv("FORKPOOL_ADMIN_TOKEN");
    unsetenv("FORKPOOL_REDIS_TLS_CA");
    unsetenv("FORKPOOL_REDIS_TLS_CERT");
    unsetenv("FORKPOOL_REDIS_TLS_KEY");
    unsetenv("FORKPOOL_REDIS_TLS_SERVER_NAME");
}

static fp_config_t *load_ok(const char *text)
{
    fp_config_t *cfg = NULL;
    fp_err_t err = {0};
    int rc = fp_config_load_text(text, strlen(text), "t.toml", &cfg, &err);
    if (rc != 0)
        fail_msg("unexpected error %d: %s\n--- text:\n%s", rc, err.msg, text);
    return cfg;
}

/* Loads text that must fail with code and exactly msg. *out must stay
 * untouched, and ASan checks that the partial config was freed. */
static void expect_error_at(const char *text, int code, const char *msg, const char *file,
                            int line)
{
    fp_config_t *sentinel = (fp_config_t *)&sentinel, *cfg = sentinel;
    fp_err_t err = {0};
    int rc = fp_config_load_text(text, strlen(text), "t.toml", &cfg, &err);
    if (rc != code || strcmp(err.msg, msg) != 0)
        fail_msg("%s:%d: got %d \"%s\"\n        want %d \"%s\"\n--- text:\n%s", file, line, rc,
                 err.msg, code, msg, text);
    assert_int_equal(err.code, code);
    assert_ptr_equal(cfg, sentinel);
}
#define expect_error(text, code, msg) expect_error_at(text, code, msg, __FILE__, __LINE__)
#define expect_config_error(text, msg) expect_error(text, FP_ECONFIG, msg)

static void host_name(char *buf, size_t size)
{
    memset(buf, 0, size);
    assert_int_equal(gethostname(buf, size - 1), 0);
}

static int64_t cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 1024 ? 1024 : n;
}

/* rel, a path in the source tree, made absolute (in a static buffer). */
static const char *source_path(const char *rel)
{
    static char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", fp_th_env("FP_SOURCE_DIR"), rel);
    return path;
}

static void assert_strv_equal(const fp_strv_t *a, const fp_strv_t *b)
{
    assert_int_equal(a->count, b->count);
    for (size_t i = 0; i < a->count; i++)
        assert_string_equal(a->items[i], b->items[i]);
}

/* Every field but source and doc. */
static void assert_same(const fp_config_t *a, const fp_config_t *b)
{
    assert_string_equal(a->daemon.name, b->daemon.name);
    assert_int_equal(a->daemon.log_level, b->daemon.log_level);
    assert_int_equal(a->daemon.log_format, b->daemon.log_format);
    assert_string_equal(a->daemon.log_file, b->daemon.log_file);
    assert_string_equal(a->daemon.pidfile, b->daemon.pidfile);
    assert_string_equal(a->daemon.user, b->daemon.user);
    assert_string_equal(a->daemon.group, b->daemon.group);
    assert_int_equal(a->daemon.shutdown_timeout_ms, b->daemon.shutdown_timeout_ms);
    assert_string_equal(a->redis.url, b->redis.url);
    assert_string_equal(a->redis.prefix, b->redis.prefix);
    assert_string_equal(a->redis.group, b->redis.group);
    assert_int_equal(a->redis.connect_timeout_ms, b->redis.connect_timeout_ms);
    assert_strv_equal(&a->queues.names, &b->queues.names);
    assert_int_equal(a->queues.order, b->queues.order);
    for (size_t i = 0; i < a->queues.names.count; i++)
        assert_int_equal(a->queues.weights[i], b->queues.weights[i]);
    assert_int_equal(a->pool.runtime, b->pool.runtime);
    assert_int_equal(a->pool.children, b->pool.children);
    assert_int_equal(a->pool.prefetch, b->pool.prefetch);
    assert_int_equal(a->pool.pipeline, b->pool.pipeline);
    assert_int_equal(a->pool.max_held, b->pool.max_held);
    assert_int_equal(a->pool.max_held_bytes, b->pool.max_held_bytes);
    assert_int_equal(a->pool.max_send_ahead_wait_ms, b->pool.max_send_ahead_wait_ms);
    assert_int_equal(a->pool.job_timeout_ms, b->pool.job_timeout_ms);
    assert_int_equal(a->pool.kill_grace_ms, b->pool.kill_grace_ms);
    assert_int_equal(a->pool.start_timeout_ms, b->pool.start_timeout_ms);
    assert_int_equal(a->pool.max_jobs_per_child, b->pool.max_jobs_per_child);
    assert_int_equal(a->pool.max_jobs_jitter, b->pool.max_jobs_jitter);
    assert_int_equal(a->pool.max_memory_per_child_bytes, b->pool.max_memory_per_child_bytes);
    assert_int_equal(a->pool.children_min, b->pool.children_min);
    assert_int_equal(a->pool.children_max, b->pool.children_max);
    assert_int_equal(a->pool.scale_up_after_ms, b->pool.scale_up_after_ms);
    assert_int_equal(a->pool.idle_timeout_ms, b->pool.idle_timeout_ms);
    assert_int_equal(a->pool.max_memory_total_bytes, b->pool.max_memory_total_bytes);
    assert_int_equal(a->pool.min_host_available_bytes, b->pool.min_host_available_bytes);
    assert_strv_equal(&a->pool.plugins, &b->pool.plugins);
    assert_strv_equal(&a->pool.command, &b->pool.command);
    assert_int_equal(a->retry.max_attempts, b->retry.max_attempts);
    assert_int_equal(a->retry.backoff_base_ms, b->retry.backoff_base_ms);
    assert_int_equal(a->retry.backoff_max_ms, b->retry.backoff_max_ms);
    assert_int_equal(a->retry.jitter, b->retry.jitter);
    assert_int_equal(a->recovery.visibility_timeout_ms, b->recovery.visibility_timeout_ms);
    assert_int_equal(a->recovery.claim_interval_ms, b->recovery.claim_interval_ms);
    assert_string_equal(a->health.listen, b->health.listen);
    assert_int_equal(a->health.header_timeout_ms, b->health.header_timeout_ms);
    assert_int_equal(a->health.idle_timeout_ms, b->health.idle_timeout_ms);
    assert_int_equal(a->health.max_connections, b->health.max_connections);
    assert_string_equal(a->ledger.path, b->ledger.path);
    assert_int_equal(a->ledger.retain_ms, b->ledger.retain_ms);
    assert_int_equal(a->ledger.on_error, b->ledger.on_error);
    assert_int_equal(a->limits.max_job_bytes, b->limits.max_job_bytes);
}

/* ---- defaults ----------------------------------------------------------- */

static void defaults_are_documented_values(void **state)
{
    (void)state;
    fp_config_t *cfg = NULL;
    fp_err_t err = {0};
    char host[256];
    host_name(host, sizeof host);
    assert_int_equal(fp_config_load(NULL, &cfg, &err), 0);
    assert_string_equal(cfg->source, "(defaults)");
    assert_null(cfg->doc);
    static char *queue_names[] = {"default"};
    static int64_t weights[] = {1};
    const fp_config_t want = {
        .daemon = {host, FP_LOG_INFO, FP_LOG_TEXT, "", "", "", "", 25000},
        .redis = {"redis://127.0.0.1:6379/0", "fp", "forkpool", 5000},
        .queues = {{queue_names, 1}, FP_ORDER_STRICT, weights},
        .pool = {.runtime = FP_RUNTIME_NATIVE, .children = cpus(),
                 .prefetch = FP_CONFIG_AUTO, .pipeline = FP_CONFIG_AUTO, .max_held = 512,
                 .max_held_bytes = 64LL << 20,
                 .max_send_ahead_wait_ms = 5,
                 .job_timeout_ms = 600000, .kill_grace_ms = 5000, .start_timeout_ms = 60000,
                 .max_jobs_per_child = 0, .max_jobs_jitter = 0, .max_memory_per_child_bytes = 0,
                 .scale_up_after_ms = 1000, .idle_timeout_ms = 30000},
        .retry = {5, 1000, 600000, true},
        .recovery = {60000, 15000},
        .health = {"127.0.0.1:9187", 5000, 5000, 64},
        .ledger = {"", INT64_C(7) * 86400000, FP_LEDGER_PAUSE},
        .limits = {MB},
    };
    assert_same(cfg, &want);
    assert_null(fp_config_handler_table(cfg, "record_event"));
    fp_config_free(cfg);
}

static void empty_text_equals_defaults(void **state)
{
    (void)state;
    fp_config_t *defaults = NULL;
    assert_int_equal(fp_config_load(NULL, &defaults, NULL), 0);
    fp_config_t *cfg = load_ok("");
    assert_same(cfg, defaults);
    assert_string_equal(cfg->source, "t.toml");
    fp_config_free(cfg);
    cfg = load_ok("# only a comment\n\n[daemon]\n[pool]\n");
    assert_same(cfg, defaults);
    fp_config_free(cfg);
    fp_config_free(defaults);
    fp_config_free(NULL);
}

static void example_file_equals_defaults(void **state)
{
    (void)state;
    const char *path = source_path("config.example.toml");
    fp_config_t *defaults = NULL, *cfg = NULL;
    fp_err_t err = {0};
    assert_int_equal(fp_config_load(NULL, &defaults, NULL), 0);
    if (fp_config_load(path, &cfg, &err) != 0)
        fail_msg("%s", err.msg);
    assert_same(cfg, defaults);
    assert_string_equal(cfg->source, path);
    assert_non_null(cfg->doc);
    assert_null(fp_config_handler_table(cfg, "record_event"));
    fp_config_free(cfg);
    fp_config_free(defaults);
}

/* config.example.toml documents every key of the schema, each with a
 * comment right above it. */
static void example_lists_every_key(void **state)
{
    (void)state;
    size_t len;
    char *text = fp_th_read_source("config.example.toml", &len);
    fp_err_t err = {0};
    fp_toml_node_t *doc = fp_toml_parse(text, len, &err);
    assert_non_null(doc);
    for (size_t i = 0; i < fp__config_schema_len; i++) {
        const fp__ckey_t *k = &fp__config_schema[i];
        const fp_toml_node_t *v = fp_toml_get(fp_toml_get(doc, k->section), k->key);
        if (v == NULL)
            fail_msg("config.example.toml lacks [%s] %s", k->section, k->key);
        /* The line above the key is a comment. */
        const char *line = text;
        for (int n = 1; n < fp_toml_line(v) - 1; n++)
            line = strchr(line, '\n') + 1;
        if (line[0] != '#')
            fail_msg("[%s] %s has no comment above it", k->section, k->key);
    }
    fp_toml_free(doc);
    free(text);
}

/* ---- docs/config.md ----------------------------------------------------- */

/* docs/config.md gives each section a part headed "## `[section]`" and each
 * key a table row "| `key` | type | `default` | meaning |". The helpers below
 * read that layout, so the page cannot drift from the schema table. */

/* The part of the page under "## `[section]`", up to the next "## " heading;
 * NULL when there is none. *len receives its length. */
static const char *doc_part(const char *text, const char *section, size_t *len)
{
    *len = 0;
    char head[160];
    snprintf(head, sizeof head, "\n## `[%s]`\n", section);
    const char *start = strstr(text, head);
    if (start == NULL)
        return NULL;
    start += strlen(head);
    const char *end = strstr(start, "\n## ");
    *len = end != NULL ? (size_t)(end - start) : strlen(start);
    return start;
}

/* The row of key inside a part, as a string of its own (caller frees), or
 * NULL. A row starts a line, so "`group`" in a meaning is not taken for one. */
static char *doc_row(const char *part, size_t len, const char *key)
{
    char needle[128];
    snprintf(needle, sizeof needle, "\n| `%s` |", key);
    /* part starts just after a newline: look from that newline on. */
    const char *p = strstr(part - 1, needle);
    if (p == NULL || p >= part + len)
        return NULL;
    const char *eol = strchr(p + 1, '\n');
    size_t rlen = eol != NULL ? (size_t)(eol - p - 1) : strlen(p + 1);
    char *row = malloc(rlen + 1);
    assert_non_null(row);
    memcpy(row, p + 1, rlen);
    row[rlen] = '\0';
    return row;
}

/* docs/config.md and the schema agree both ways: every key of the table has
 * its row, with its default, in its section's part; and every section part
 * and key row of the page is in the table ([handlers.NAME] is free-form, so
 * its part must list no keys). */
static void docs_match_schema(void **state)
{
    (void)state;
    size_t len;
    char *text = fp_th_read_source("docs/config.md", &len);

    for (size_t i = 0; i < fp__config_schema_len; i++) {
        const fp__ckey_t *k = &fp__config_schema[i];
        size_t plen = 0;
        const char *part = doc_part(text, k->section, &plen);
        if (part == NULL)
            fail_msg("docs/config.md has no \"## `[%s]`\" part", k->section);
        char *row = doc_row(part, plen, k->key);
        if (row == NULL)
            fail_msg("docs/config.md lacks a row \"| `%s` |\" under [%s]", k->key, k->section);
        char toml[252], def[256]; /* the row gives it in backquotes */
        fp_ts_default_toml(k, toml, sizeof toml);
        snprintf(def, sizeof def, "`%s`", toml);
        if (strstr(row, def) == NULL)
            fail_msg("docs/config.md: [%s] %s should give the default %s\n  row: %s", k->section,
                     k->key, def, row);
        free(row);
    }

    /* The other way: what the page names must exist. */
    for (const char *h = strstr(text, "\n## `["); h != NULL; h = strstr(h + 1, "\n## `[")) {
        const char *name = h + strlen("\n## `[");
        const char *close = strstr(name, "]`");
        assert_non_null(close);
        char section[128];
        snprintf(section, sizeof section, "%.*s", (int)(close - name), name);
        bool handlers = strcmp(section, "handlers.NAME") == 0;
        bool type_limits = strcmp(section, "limits.TYPE") == 0;
        if (!handlers && !type_limits && !fp__config_is_section(section))
            fail_msg("docs/config.md has a part [%s], a section the schema does not have",
                     section);
        size_t plen = 0;
        const char *part = doc_part(text, section, &plen);
        assert_non_null(part);
        for (const char *r = strstr(part - 1, "\n| `"); r != NULL && r < part + plen;
             r = strstr(r + 1, "\n| `")) {
            const char *key = r + strlen("\n| `");
            const char *kend = strchr(key, '`');
            assert_non_null(kend);
            if (type_limits && fp_ts_type_limit_key(key, (size_t)(kend - key)))
                continue;
            if (handlers || type_limits ||
                !fp_ts_schema_has_key(section, key, (size_t)(kend - key)))
                fail_msg("docs/config.md names [%s] %.*s, a key the schema does not have",
                         section, (int)(kend - key), key);
        }
    }
    free(text);
}

/* The example's commented [handlers.record_event] block, uncommented, is
 * valid and reaches the handler. */
static void example_handler_block_is_valid(void **state)
{
    (void)state;
    size_t len;
    char *text = fp_th_read_source("config.example.toml", &len);
    char *block = strstr(text, "# [handlers.record_event]\n# database = \"events.db\"");
    assert_non_null(block);
    block[0] = ' ';
    block[strlen("# [handlers.record_event]\n")] = ' ';
    fp_config_t *cfg = load_ok(text);
    const fp_toml_node_t *h = fp_config_handler_table(cfg, "record_event");
    assert_non_null(h);
    assert_string_equal(fp_toml_string(fp_toml_get(h, "database"), NULL), "events.db");
    fp_config_free(cfg);
    free(text);
}

/* ---- every key set ------------------------------------------------------ */

static const char full_text[] =
    "[daemon]\n"
    "name = \"worker-1\"\n"
    "log_level = \"debug\"\n"
    "log_format = \"json\"\n"
    "log_file = \"/var/log/forkpool.log\"\n"
    "pidfile = \"/run/forkpool.pid\"\n"
    "user = \"fp\"\n"
    "group = \"fpg\"\n"
    "shutdown_timeout = \"1m30s\"\n"
    "[redis]\n"
    "url = \"unix:///run/redis.sock\"\n"
    "prefix = \"jobs\"\n"
    "group = \"g1\"\n"
    "connect_timeout = \"250ms\"\n"
    "[queues]\n"
    "order = \"weighted\"\n"
    "weights = { high = 5, low = 2 }\n"
    "names = [\"high\", \"default\", \"low\"]\n"
    "[pool]\n"
    "runtime = \"exec\"\n"
    "children = 8\n"
    "prefetch = 4\n"
    "pipeline = 2\n"
    "max_held = 500\n"
    "max_held_bytes = \"8MB\"\n"
    "max_send_ahead_wait = \"5ms\"\n"
    "job_timeout = \"30s\"\n"
    "kill_grace = \"0\"\n"
    "max_jobs_per_child = 1000\n"
    "max_jobs_jitter = 100\n"
    "max_memory_per_child = \"512MB\"\n"
    "scale_up_after = \"250ms\"\n"
    "idle_timeout = \"2m\"\n"
    "max_memory_total = \"2GB\"\n"
    "min_host_available = \"256MB\"\n"
    "command = [\"python3\", \"worker.py\", \"\"]\n"
    "[retry]\n"
    "max_attempts = 1000\n"
    "backoff_base = \"0\"\n"
    "backoff_max = \"0s\"\n"
    "jitter = false\n"
    "[recovery]\n"
    "visibility_timeout = \"3s\"\n"
    "claim_interval = \"100ms\"\n"
    "[health]\n"
    "listen = \"[::1]:8080\"\n"
    "header_timeout = \"2s\"\n"
    "idle_timeout = \"30s\"\n"
    "max_connections = 500\n"
    "[ledger]\n"
    "path = \"ledger.db\"\n"
    "retain = \"3650d\"\n"
    "on_error = \"skip\"\n"
    "[limits]\n"
    "max_job_bytes = \"512MB\"\n"
    "[handlers.record_event]\n"
    "database = \"events.db\"\n"
    "[handlers.other]\n"
    "nested = { a = [1, 2] }\n";

static void every_key_can_be_set(void **state)
{
    (void)state;
    fp_config_t *cfg = load_ok(full_text);
    static char *queue_names[] = {"high", "default", "low"};
    static int64_t weights[] = {5, 1, 2};
    static char *command[] = {"python3", "worker.py", ""};
    const fp_config_t want = {
        .daemon = {"worker-1", FP_LOG_DEBUG, FP_LOG_JSON, "/var/log/forkpool.log",
                   "/run/forkpool.pid", "fp", "fpg", 90000},
        .redis = {"unix:///run/redis.sock", "jobs", "g1", 250},
        .queues = {{queue_names, 3}, FP_ORDER_WEIGHTED, weights},
        .pool = {.runtime = FP_RUNTIME_EXEC, .children = 8, .prefetch = 4, .pipeline = 2,
                 .max_held = 500, .max_held_bytes = 8 * MB, .max_send_ahead_wait_ms = 5,
                 .job_timeout_ms = 30000, .kill_grace_ms = 0, .start_timeout_ms = 60000,
                 .max_jobs_per_child = 1000, .max_jobs_jitter = 100,
                 .max_memory_per_child_bytes = 512 * MB, .command = {command, 3},
                 .scale_up_after_ms = 250, .idle_timeout_ms = 120000,
                 .max_memory_total_bytes = 2048 * MB, .min_host_available_bytes = 256 * MB},
        .retry = {1000, 0, 0, false},
        .recovery = {3000, 100},
        .health = {"[::1]:8080", 2000, 30000, 500},
        .ledger = {"ledger.db", INT64_C(3650) * 86400000, FP_LEDGER_SKIP},
        .limits = {512 * MB},
    };
    assert_same(cfg, &want);

    const fp_toml_node_t *h = fp_config_handler_table(cfg, "record_event");
    assert_non_null(h);
    assert_string_equal(fp_toml_string(fp_toml_get(h, "database"), NULL), "events.db");
    assert_non_null(fp_config_handler_table(cfg, "other"));
    assert_null(fp_config_handler_table(cfg, "missing"));
    fp_config_free(cfg);
}

static void listen_forms_accepted(void **state)
{
    (void)state;
    static const char *const ok[] = {"", "localhost:1", "0.0.0.0:9187", "10.1.2.3:65535",
                                     "[::]:80", "[fe80::1]:9187"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "[health]\nlisten = \"%s\"\n", ok[i]);
        fp_config_t *cfg = load_ok(text);
        assert_string_equal(cfg->health.listen, ok[i]);
        fp_config_free(cfg);
    }
}

/* children = 0 and name = "" are resolved, whatever the file says. */
static void automatic_values_resolved(void **state)
{
    (void)state;
    char host[256];
    host_name(host, sizeof host);
    fp_config_t *cfg = load_ok("[daemon]\nname = \"\"\n[pool]\nchildren = 0\n");
    assert_string_equal(cfg->daemon.name, host);
    assert_int_equal(cfg->pool.children, cpus());
    fp_config_free(cfg);
    cfg = load_ok("[pool]\nchildren = 1024\n");
    assert_int_equal(cfg->pool.children, 1024);
    fp_config_free(cfg);
}

/* ---- errors --------------------------------------------------------------- */

static void unknown_keys_and_sections(void **state)
{
    (void)state;
    expect_config_error("[pool]\nchidren = 4\n",
                        "t.toml:2:1: unknown key \"chidren\" in [pool] (did you mean "
                        "\"children\"?)");
    expect_config_error("[pool]\nchildern = 4\n",
                        "t.toml:2:1: unknown key \"childern\" in [pool] (did you mean "
                        "\"children\"?)");
    expect_config_error("[pool]\n  chldrn = 4\n",
                        "t.toml:2:3: unknown key \"chldrn\" in [pool] (did you mean "
                        "\"children\"?)");
    expect_config_error("[pool]\nchidlren = 4\n",
                        "t.toml:2:1: unknown key \"chidlren\" in [pool] (did you mean "
                        "\"children\"?)");
    expect_config_error("[pool]\nChildren = 4\n",
                        "t.toml:2:1: unknown key \"Children\" in [pool] (did you mean "
                        "\"children\"?)");
    expect_config_error("[retry]\nmax_attempt = 3\n",
                        "t.toml:2:1: unknown key \"max_attempt\" in [retry] (did you mean "
                        "\"max_attempts\"?)");
    expect_config_error("[redis]\nuri = \"redis://x\"\n",
                        "t.toml:2:1: unknown key \"uri\" in [redis] (did you mean \"url\"?)");
    /* Too far from anything to be a typo: no suggestion. */
    expect_config_error("[pool]\nkids = 4\n", "t.toml:2:1: unknown key \"kids\" in [pool]");
    expect_config_error("[pool]\nxyzzy = 1\n", "t.toml:2:1: unknown key \"xyzzy\" in [pool]");
    expect_config_error("[redis]\nur = 1\n",
                        "t.toml:2:1: unknown key \"ur\" in [redis] (did you mean \"url\"?)");
    expect_config_error("[redis]\nu = 1\n", "t.toml:2:1: unknown key \"u\" in [redis]");
    /* A real key in the wrong section says where it belongs. */
    expect_config_error("[daemon]\nchildren = 4\n",
                        "t.toml:2:1: unknown key \"children\" in [daemon] (it belongs in "
                        "[pool])");
    expect_config_error("\n[pol]\nchildren = 4\n",
                        "t.toml:2:1: unknown section [pol] (did you mean [pool]?)");
    expect_config_error("[daemom]\n", "t.toml:1:1: unknown section [daemom] (did you mean "
                                      "[daemon]?)");
    /* A table created implicitly by a dotted header sits at its name. */
    expect_config_error("[handler.record_event]\ndatabase = \"x\"\n",
                        "t.toml:1:2: unknown section [handler] (did you mean [handlers]?)");
    expect_config_error("[frobnicate]\n", "t.toml:1:1: unknown section [frobnicate]");
    expect_config_error("[\"odd name\"]\n", "t.toml:1:1: unknown section [\"odd name\"]");
    expect_config_error("[pool.extra]\n",
                        "t.toml:1:1: unknown key \"extra\" in [pool]");
    expect_config_error("children = 4\n",
                        "t.toml:1:1: key \"children\" must be inside its section, [pool]");
    expect_config_error("verbose = true\n",
                        "t.toml:1:1: unknown key \"verbose\" at the top level (settings go "
                        "inside a section such as [pool])");
    expect_config_error("[pool]\n\"a\\nb\" = 1\n",
                        "t.toml:2:1: unknown key \"a\\x0ab\" in [pool]");
}

/* A quoted key may hold U+0000; no setting, section, handler or queue name
 * can, so the loader names the key instead of reading it up to the NUL
 * (which made "children\u0000x" set children). */
static void nul_in_keys_rejected(void **state)
{
    (void)state;
    expect_config_error("[pool]\n\"children\\u0000x\" = 4\n",
                        "t.toml:2:1: key \"children\\x00x\" holds U+0000 (NUL), which no "
                        "setting can use");
    expect_config_error("[\"pool\\u0000\"]\nchildren = 4\n",
                        "t.toml:1:1: key \"pool\\x00\" holds U+0000 (NUL), which no "
                        "setting can use");
    expect_config_error("[handlers.record_event]\n\"database\\u0000\" = \"x.db\"\n",
                        "t.toml:2:1: key \"database\\x00\" holds U+0000 (NUL), which no "
                        "setting can use");
    expect_config_error("[queues]\nnames = [\"a\", \"b\"]\norder = \"weighted\"\n"
                        "[queues.weights]\n\"a\\u0000\" = 2\n",
                        "t.toml:5:1: key \"a\\x00\" holds U+0000 (NUL), which no "
                        "setting can use");
}

/* pool.children = "MIN..MAX" or children_min/children_max scale; the pool
 * starts at the minimum; a fixed count and bounds together are refused. */
static void scaling_bounds(void **state)
{
    (void)state;
    fp_config_t *cfg = load_ok("[pool]\nchildren = \"2..8\"\nscale_up_after = \"100ms\"\n"
                               "idle_timeout = \"100ms\"\nmax_memory_total = \"1MB\"\n"
                               "min_host_available = \"1GB\"\n");
    assert_int_equal(cfg->pool.children_min, 2);
    assert_int_equal(cfg->pool.children_max, 8);
    assert_int_equal(cfg->pool.children, 2);
    assert_int_equal(cfg->pool.scale_up_after_ms, 100);
    assert_int_equal(cfg->pool.idle_timeout_ms, 100);
    assert_int_equal(cfg->pool.max_memory_total_bytes, 1 << 20);
    assert_int_equal(cfg->pool.min_host_available_bytes, INT64_C(1) << 30);
    fp_config_free(cfg);
    cfg = load_ok("[pool]\nchildren_max = 5\n");
    assert_int_equal(cfg->pool.children_min, 1);
    assert_int_equal(cfg->pool.children_max, 5);
    assert_int_equal(cfg->pool.children, 1);
    fp_config_free(cfg);
    cfg = load_ok("[pool]\nchildren = 4\n");
    assert_int_equal(cfg->pool.children_max, 0);
    fp_config_free(cfg);
    expect_config_error("[pool]\nchildren = \"8..2\"\n",
                        "t.toml:2:1: [pool] children range \"8..2\" has its minimum above its "
                        "maximum");
    expect_config_error("[pool]\nchildren = \"0..2000\"\n",
                        "t.toml:2:1: [pool] children range bounds must be between 1 and 1024");
    expect_config_error("[pool]\nchildren = 4\nchildren_max = 8\n",
                        "t.toml:3:1: [pool] children_min and children_max replace children: set "
                        "one or the other (children = \"MIN..MAX\" is the short form)");
    expect_config_error("[pool]\nchildren_min = 3\n",
                        "t.toml:2:1: [pool] children_min needs children_max: the pool scales "
                        "between them");
    expect_config_error("[pool]\nchildren_min = 3\nchildren_max = 2\n",
                        "t.toml:2:1: [pool] children_min (3) must not be more than children_max "
                        "(2)");
    expect_config_error("[pool]\nidle_timeout = \"50ms\"\n",
                        "t.toml:2:1: [pool] idle_timeout must be at least 100ms, got \"50ms\"");
}

/* pool.prefetch and pool.pipeline: "auto" (the default) or a fixed number. */
static void auto_or_number(void **state)
{
    (void)state;
    fp_config_t *cfg = load_ok("[pool]\nprefetch = \"auto\"\npipeline = 0\n");
    assert_int_equal(cfg->pool.prefetch, FP_CONFIG_AUTO);
    assert_int_equal(cfg->pool.pipeline, 0);
    fp_config_free(cfg);
    cfg = load_ok("[pool]\nprefetch = 64\n");
    assert_int_equal(cfg->pool.prefetch, 64);
    assert_int_equal(cfg->pool.pipeline, FP_CONFIG_AUTO);
    fp_config_free(cfg);
    char text[24];
    fp_config_auto_text(FP_CONFIG_AUTO, text, sizeof text);
    assert_string_equal(text, "auto");
    fp_config_auto_text(16, text, sizeof text);
    assert_string_equal(text, "16");
}

static void wrong_types(void **state)
{
    (void)state;
    expect_config_error("[pool]\nchildren = \"4\"\n",
                        "t.toml:2:1: [pool] children must be an integer or a range "
                        "\"MIN..MAX\" such as \"2..16\"");
    expect_config_error("[pool]\nchildren = 2.0\n",
                        "t.toml:2:1: [pool] children must be an integer or a range string such "
                        "as \"2..16\", got float");
    expect_config_error("[pool]\nprefetch = \"fast\"\n",
                        "t.toml:2:1: [pool] prefetch must be an integer or \"auto\", got \"fast\"");
    expect_config_error("[pool]\npipeline = 1.5\n",
                        "t.toml:2:1: [pool] pipeline must be an integer or \"auto\", got float");
    expect_config_error("[pool]\nprefetch = -1\n",
                        "t.toml:2:1: [pool] prefetch must be between 0 and 10000, got -1");
    expect_config_error("[pool]\njob_timeout = 30\n",
                        "t.toml:2:1: [pool] job_timeout must be a duration string such as "
                        "\"30s\", got integer");
    expect_config_error("[limits]\nmax_job_bytes = 1024\n",
                        "t.toml:2:1: [limits] max_job_bytes must be a size string such as "
                        "\"256MB\", got integer");
    expect_config_error("[retry]\njitter = \"yes\"\n",
                        "t.toml:2:1: [retry] jitter must be true or false, got string");
    expect_config_error("[daemon]\nlog_level = 1\n",
                        "t.toml:2:1: [daemon] log_level must be one of \"debug\", \"info\", "
                        "\"warn\", \"error\", got integer");
    expect_config_error("[daemon]\nuser = 0\n",
                        "t.toml:2:1: [daemon] user must be a string, got integer");
    expect_config_error("[queues]\nnames = \"default\"\n",
                        "t.toml:2:1: [queues] names must be an array of strings, got string");
    expect_config_error("[queues]\nnames = [\"a\", 1]\n",
                        "t.toml:2:15: [queues] names[1] must be a string, got integer");
    expect_config_error("[queues]\nweights = 3\n",
                        "t.toml:2:1: [queues] weights must be a table of queue name = weight, "
                        "got integer");
    expect_config_error("[daemon]\nshutdown_timeout = 1979-05-27\n",
                        "t.toml:2:1: [daemon] shutdown_timeout must be a duration string such "
                        "as \"30s\", got date-local");
    expect_config_error("pool = 3\n", "t.toml:1:1: [pool] must be a table, got integer");
    expect_config_error("[[pool]]\n", "t.toml:1:1: [pool] must be a table, got array");
    expect_config_error("handlers = 1\n", "t.toml:1:1: [handlers] must be a table, got integer");
    expect_config_error("[handlers]\nrecord_event = 3\n",
                        "t.toml:2:1: [handlers] \"record_event\" must be a table "
                        "([handlers.NAME]), got integer");
    expect_config_error("[daemon]\nuser = \"a\\u0000b\"\n",
                        "t.toml:2:1: [daemon] user must not contain NUL characters");
    expect_config_error("[pool]\njob_timeout = \"5s\\u0000\"\n",
                        "t.toml:2:1: [pool] job_timeout must not contain NUL characters");
    expect_config_error("[queues]\nnames = [\"a\", \"\\u0000\"]\n",
                        "t.toml:2:15: [queues] names[1] must not contain NUL characters");
}

static void out_of_range(void **state)
{
    (void)state;
    expect_config_error("[pool]\nchildren = 5000\n",
                        "t.toml:2:1: [pool] children must be between 0 and 1024, got 5000");
    expect_config_error("[pool]\nchildren = -1\n",
                        "t.toml:2:1: [pool] children must be between 0 and 1024, got -1");
    expect_config_error("[pool]\nprefetch = 10001\n",
                        "t.toml:2:1: [pool] prefetch must be between 0 and 10000, got 10001");
    expect_config_error("[pool]\npipeline = -1\n",
                        "t.toml:2:1: [pool] pipeline must be between 0 and 1000, got -1");
    expect_config_error("[retry]\nmax_attempts = 0\n",
                        "t.toml:2:1: [retry] max_attempts must be between 1 and 1000, got 0");
    expect_config_error("[pool]\nmax_jobs_per_child = -5\n",
                        "t.toml:2:1: [pool] max_jobs_per_child must be at least 0, got -5");
    expect_config_error("[pool]\njob_timeout = \"0\"\n",
                        "t.toml:2:1: [pool] job_timeout must be greater than 0, got \"0\"");
    expect_config_error("[pool]\nstart_timeout = \"0\"\n",
                        "t.toml:2:1: [pool] start_timeout must be greater than 0, got \"0\"");
    expect_config_error("[recovery]\nvisibility_timeout = \"999ms\"\n",
                        "t.toml:2:1: [recovery] visibility_timeout must be at least 1s, got "
                        "\"999ms\"");
    expect_config_error("[recovery]\nclaim_interval = \"99ms\"\n",
                        "t.toml:2:1: [recovery] claim_interval must be at least 100ms, got "
                        "\"99ms\"");
    expect_config_error("[health]\nmax_connections = 0\n",
                        "t.toml:2:1: [health] max_connections must be between 1 and 10000, got 0");
    expect_config_error("[health]\nheader_timeout = \"50ms\"\n",
                        "t.toml:2:1: [health] header_timeout must be at least 100ms, got "
                        "\"50ms\"");
    expect_config_error("[health]\nidle_timeout = \"0\"\n",
                        "t.toml:2:1: [health] idle_timeout must be at least 100ms, got \"0\"");
    expect_config_error("[ledger]\nretain = \"3651d\"\n",
                        "t.toml:2:1: [ledger] retain must be at most 3650d, got \"3651d\"");
    expect_config_error("[limits]\nmax_job_bytes = \"1GB\"\n",
                        "t.toml:2:1: [limits] max_job_bytes must be between 1KB and 512MB, got "
                        "\"1GB\"");
    expect_config_error("[limits]\nmax_job_bytes = \"1023\"\n",
                        "t.toml:2:1: [limits] max_job_bytes must be between 1KB and 512MB, got "
                        "\"1023\"");
    expect_config_error("[queues]\norder = \"weighted\"\nweights = { default = 0 }\n",
                        "t.toml:3:13: [queues] weights: \"default\" must be between 1 and "
                        "1000000, got 0");
}

static void bad_durations_and_sizes(void **state)
{
    (void)state;
    expect_config_error("[pool]\njob_timeout = \"30\"\n",
                        "t.toml:2:1: [pool] job_timeout: invalid duration \"30\": a number needs "
                        "a unit: ms, s, m, h or d (\"30s\")");
    expect_config_error("[pool]\nkill_grace = \"-5s\"\n",
                        "t.toml:2:1: [pool] kill_grace: invalid duration \"-5s\": negative "
                        "durations are not allowed");
    expect_config_error("[pool]\njob_timeout = \"1.5s\"\n",
                        "t.toml:2:1: [pool] job_timeout: invalid duration \"1.5s\": fractions "
                        "are not allowed; use a smaller unit (\"1500ms\", not \"1.5s\")");
    expect_config_error("[pool]\njob_timeout = \"106751991168d\"\n",
                        "t.toml:2:1: [pool] job_timeout: invalid duration \"106751991168d\": "
                        "too large");
    expect_config_error("[daemon]\nshutdown_timeout = \"\"\n",
                        "t.toml:2:1: [daemon] shutdown_timeout: invalid duration \"\": empty");
    expect_config_error("[pool]\nmax_memory_per_child = \"lots\"\n",
                        "t.toml:2:1: [pool] max_memory_per_child: invalid size \"lots\": "
                        "expected a number");
    expect_config_error("[limits]\nmax_job_bytes = \"1.5MB\"\n",
                        "t.toml:2:1: [limits] max_job_bytes: invalid size \"1.5MB\": fractions "
                        "are not allowed; use a smaller unit (\"1536MB\", not \"1.5GB\")");
    expect_config_error("[limits]\nmax_job_bytes = \"2 MB\"\n",
                        "t.toml:2:1: [limits] max_job_bytes: invalid size \"2 MB\": spaces are "
                        "not allowed");
}

static void bad_enums(void **state)
{
    (void)state;
    expect_config_error("[daemon]\nlog_level = \"verbose\"\n",
                        "t.toml:2:1: [daemon] log_level must be one of \"debug\", \"info\", "
                        "\"warn\", \"error\", got \"verbose\"");
    expect_config_error("[daemon]\nlog_level = \"inf\"\n",
                        "t.toml:2:1: [daemon] log_level must be one of \"debug\", \"info\", "
                        "\"warn\", \"error\", got \"inf\" (did you mean \"info\"?)");
    expect_config_error("[daemon]\nlog_level = \"INFO\"\n",
                        "t.toml:2:1: [daemon] log_level must be one of \"debug\", \"info\", "
                        "\"warn\", \"error\", got \"INFO\"");
    expect_config_error("[ledger]\non_error = \"drop\"\n",
                        "t.toml:2:1: [ledger] on_error must be one of \"pause\", \"skip\", got "
                        "\"drop\"");
    expect_config_error("[queues]\norder = \"wieghted\"\n",
                        "t.toml:2:1: [queues] order must be one of \"strict\", \"weighted\", got "
                        "\"wieghted\" (did you mean \"weighted\"?)");
    expect_config_error("[pool]\nruntime = \"python\"\n",
                        "t.toml:2:1: [pool] runtime must be one of \"native\", \"exec\", got "
                        "\"python\"");
    expect_config_error("[daemon]\nlog_format = \"jsonl\"\n",
                        "t.toml:2:1: [daemon] log_format must be one of \"text\", \"json\", got "
                        "\"jsonl\" (did you mean \"json\"?)");
}

static void bad_strings(void **state)
{
    (void)state;
    expect_config_error("[redis]\nurl = \"http://user:hunter2@host\"\n",
                        "t.toml:2:1: [redis] url must start with redis://, rediss:// or unix://, "
                        "not http://");
    expect_config_error("[redis]\nurl = \"hunter2@host:6379\"\n",
                        "t.toml:2:1: [redis] url must be a URL such as redis://127.0.0.1:6379/0 "
                        "or unix:///run/redis.sock");
    expect_config_error("[redis]\nurl = \"a:hunter2@x://\"\n",
                        "t.toml:2:1: [redis] url must start with redis://, rediss:// or unix://");
    expect_config_error("[redis]\nurl = \"redis://\"\n",
                        "t.toml:2:1: [redis] url must name a host or a socket after redis://");
    expect_config_error("[redis]\nprefix = \"\"\n", "t.toml:2:1: [redis] prefix must not be empty");
    expect_config_error("[redis]\nprefix = \"f p\"\n",
                        "t.toml:2:1: [redis] prefix must not contain '{', '}' or white space");
    expect_config_error("[redis]\nprefix = \"{fp}\"\n",
                        "t.toml:2:1: [redis] prefix must not contain '{', '}' or white space");
    expect_config_error("[redis]\ngroup = \"\"\n", "t.toml:2:1: [redis] group must not be empty");
    expect_config_error("[queues]\nnames = []\n",
                        "t.toml:2:1: [queues] names must list at least one queue");
    expect_config_error("[queues]\nnames = [\"a\", \"\"]\n",
                        "t.toml:2:15: [queues] names[1] must not be empty");
    expect_config_error("[queues]\nnames = [\"a\", \"b{c}\"]\n",
                        "t.toml:2:15: [queues] names[1] must not contain '{' or '}' (they "
                        "delimit the hash tag)");
    expect_config_error("[queues]\nnames = [\"a\", \"b\", \"a\"]\n",
                        "t.toml:2:20: [queues] names[2] repeats a queue already listed");
    expect_config_error("[pool]\nplugins = [\"a.so\", \"\"]\n",
                        "t.toml:2:20: [pool] plugins[1] must not be empty");
    expect_config_error("[pool]\nruntime = \"exec\"\ncommand = [\"\", \"x\"]\n",
                        "t.toml:3:12: [pool] command[0] must name a program");
}

static void bad_listen(void **state)
{
    (void)state;
    static const struct {
        const char *value, *reason;
    } cases[] = {
        {"127.0.0.1", "must be \"host:port\", such as \"127.0.0.1:9187\" (\"\" disables)"},
        {":9187", "must name a host before the port (\"127.0.0.1:9187\")"},
        {"127.0.0.1:65536", "must end in a port from 0 to 65535 (\"127.0.0.1:9187\")"},
        {"127.0.0.1:", "must end in a port from 0 to 65535 (\"127.0.0.1:9187\")"},
        {"127.0.0.1:80x", "must end in a port from 0 to 65535 (\"127.0.0.1:9187\")"},
        {"127.0.0.1:+80", "must end in a port from 0 to 65535 (\"127.0.0.1:9187\")"},
        {"example.com:80", "must use an IPv4 address, \"localhost\" or [IPv6] as host"},
        {"256.1.1.1:80", "must use an IPv4 address, \"localhost\" or [IPv6] as host"},
        {"::1:80", "must put an IPv6 address in brackets (\"[::1]:9187\")"},
        {"[::1]80", "must be \"[IPv6]:port\" when it starts with '['"},
        {"[::1", "must be \"[IPv6]:port\" when it starts with '['"},
        {"[]:80", "must be \"[IPv6]:port\" when it starts with '['"},
        {"[zz]:80", "has an invalid IPv6 address between '[' and ']'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[128], msg[256];
        snprintf(text, sizeof text, "[health]\nlisten = \"%s\"\n", cases[i].value);
        snprintf(msg, sizeof msg, "t.toml:2:1: [health] listen %s", cases[i].reason);
        expect_config_error(text, msg);
    }
}

static void cross_key_checks(void **state)
{
    (void)state;
    expect_config_error("[retry]\nbackoff_base = \"5s\"\nbackoff_max = \"1s\"\n",
                        "t.toml:3:1: [retry] backoff_max (1s) must not be less than backoff_base "
                        "(5s)");
    /* Only the base is set: the message points at it. */
    expect_config_error("[retry]\nbackoff_base = \"1h\"\n",
                        "t.toml:2:1: [retry] backoff_max (10m) must not be less than "
                        "backoff_base (1h)");
    expect_config_error("[pool]\nruntime = \"exec\"\n",
                        "t.toml:2:1: [pool] command must be set when runtime = \"exec\" (the "
                        "program each child runs, e.g. [\"python3\", \"worker.py\"])");
    expect_config_error("[pool]\nruntime = \"exec\"\ncommand = []\n",
                        "t.toml:2:1: [pool] command must be set when runtime = \"exec\" (the "
                        "program each child runs, e.g. [\"python3\", \"worker.py\"])");
    expect_config_error("[pool]\ncommand = [\"python3\"]\n",
                        "t.toml:2:1: [pool] command is only used with runtime = \"exec\"");
    expect_config_error("[pool]\nruntime = \"exec\"\ncommand = [\"w\"]\nplugins = [\"a.so\"]\n",
                        "t.toml:4:1: [pool] plugins are only loaded with runtime = \"native\"");
    expect_config_error("[queues]\nweights = { default = 2 }\n",
                        "t.toml:2:1: [queues] weights only apply with order = \"weighted\"");
    /* Weights are checked against the final names, wherever they appear. */
    expect_config_error("[queues]\norder = \"weighted\"\nweights = { hgh = 2 }\n"
                        "names = [\"high\", \"low\"]\n",
                        "t.toml:3:13: [queues] weights: \"hgh\" is not in [queues] names (did "
                        "you mean \"high\"?)");
    expect_config_error("[queues]\norder = \"weighted\"\nweights = { zzz = 2 }\n",
                        "t.toml:3:13: [queues] weights: \"zzz\" is not in [queues] names");
    /* Queue names are the user's: long ones must not upset the suggester. */
    char text[600];
    char q[300];
    memset(q, 'q', sizeof q - 1);
    q[sizeof q - 1] = '\0';
    snprintf(text, sizeof text, "[queues]\nnames = [\"%s\"]\norder = \"weighted\"\n"
             "weights = { qq = 2 }\n", q);
    expect_config_error(text, "t.toml:4:13: [queues] weights: \"qq\" is not in [queues] names");
    expect_config_error("[queues]\norder = \"weighted\"\nweights = { default = \"2\" }\n",
                        "t.toml:3:13: [queues] weights: \"default\" must be an integer, got "
                        "string");
    /* The [queues.weights] table form works as well as the inline one. */
    fp_config_t *w = load_ok("[queues]\nnames = [\"a\", \"b\"]\norder = \"weighted\"\n"
                             "[queues.weights]\nb = 3\n");
    assert_int_equal(w->queues.weights[0], 1);
    assert_int_equal(w->queues.weights[1], 3);
    fp_config_free(w);
    /* Empty weights and command = [] are the defaults written out: fine. */
    fp_config_t *cfg = load_ok("[queues]\nweights = {}\n[pool]\ncommand = []\n");
    fp_config_free(cfg);
}

/* Syntax errors carry the reader's own position and reason. */
static void toml_syntax_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {"[pool\n", "[pool]\nchildren = \n", "a = 1\na = 2\n",
                                      "[pool]\nchildren = 4 4\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fp_config_t *cfg = NULL;
        fp_err_t err = {0};
        int rc = fp_config_load_text(bad[i], strlen(bad[i]), "t.toml", &cfg, &err);
        assert_int_equal(rc, FP_ETOML);
        assert_int_equal(err.code, FP_ETOML);
        assert_null(cfg);
        assert_true(err.line > 0 && err.col > 0);
        char prefix[64];
        snprintf(prefix, sizeof prefix, "t.toml:%d:%d: ", err.line, err.col);
        if (strncmp(err.msg, prefix, strlen(prefix)) != 0 || strlen(err.msg) <= strlen(prefix))
            fail_msg("\"%s\" does not start with \"%s\"", err.msg, prefix);
    }
    /* Deep nesting hits the reader's limit; for a config it is bad syntax. */
    char deep[1024] = "a = ";
    for (int i = 0; i < 300; i++)
        strcat(deep, "[");
    fp_config_t *cfg = NULL;
    fp_err_t err = {0};
    assert_int_equal(fp_config_load_text(deep, strlen(deep), "t.toml", &cfg, &err), FP_ETOML);
    assert_int_equal(strncmp(err.msg, "t.toml:1:", 9), 0);
}

/* ---- files ----------------------------------------------------------- */

typedef struct files_s {
    char *dir;
    char path[PATH_MAX];
} files_t;

static int files_setup(void **state)
{
    files_t *f = calloc(1, sizeof *f);
    f->dir = fp_th_tmpdir();
    if (f->dir == NULL)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/forkpool.toml", f->dir);
    *state = f;
    return 0;
}

static int files_teardown(void **state)
{
    files_t *f = *state;
    fp_th_rmrf(f->dir);
    free(f->dir);
    free(f);
    clear_env();
    return 0;
}

static void loads_from_file(void **state)
{
    files_t *f = *state;
    const char text[] = "[pool]\nchildren = 3\n\n[pool.oops]\n";
    fp_config_t *cfg = NULL;
    fp_err_t err = {0};
    char want[PATH_MAX + 64];
    assert_int_equal(fp_th_write_file(f->path, "[pool]\nchildren = 3\n", 20), 0);
    assert_int_equal(fp_config_load(f->path, &cfg, &err), 0);
    assert_int_equal(cfg->pool.children, 3);
    assert_string_equal(cfg->source, f->path);
    fp_config_free(cfg);
    /* Messages name the path as given. */
    cfg = NULL;
    assert_int_equal(fp_th_write_file(f->path, text, strlen(text)), 0);
    assert_int_equal(fp_config_load(f->path, &cfg, &err), FP_ECONFIG);
    assert_null(cfg);
    snprintf(want, sizeof want, "%s:4:1: unknown key \"oops\" in [pool]", f->path);
    assert_string_equal(err.msg, want);
}

static void missing_file_is_enoent(void **state)
{
    files_t *f = *state;
    fp_config_t *cfg = NULL;
    fp_err_t err = {0};
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "%s/nope.toml", f->dir);
    assert_int_equal(fp_config_load(want, &cfg, &err), -ENOENT);
    assert_int_equal(err.code, -ENOENT);
    assert_null(cfg);
    strcat(want, ": No such file or directory");
    assert_string_equal(err.msg, want);
    /* A directory cannot be read as a file either. */
    assert_int_equal(fp_config_load(f->dir, &cfg, &err), -EISDIR);
    snprintf(want, sizeof want, "%s: Is a directory", f->dir);
    assert_string_equal(err.msg, want);
    assert_null(cfg);
}

/* A 10 MB file (one enormous line) is refused before parsing, from a file
 * and from memory alike; exactly 1 MiB is still accepted. */
static void huge_file_rejected(void **state)
{
    files_t *f = *state;
    size_t big = (size_t)10 << 20;
    char *text = malloc(big);
    char want[PATH_MAX + 128];
    fp_config_t *cfg = NULL;
    fp_err_t err = {0};
    memset(text, 'x', big);
    text[0] = '#';
    text[big - 1] = '\n';
    assert_int_equal(fp_th_write_file(f->path, text, big), 0);
    assert_int_equal(fp_config_load(f->path, &cfg, &err), FP_ECONFIG);
    assert_null(cfg);
    snprintf(want, sizeof want, "%s: too large for a configuration file (over 1MB)", f->path);
    assert_string_equal(err.msg, want);

    assert_int_equal(fp_config_load_text(text, big, "big.toml", &cfg, &err), FP_ECONFIG);
    assert_string_equal(err.msg, "big.toml: too large for a configuration file (over 1MB)");
    assert_null(cfg);

    /* A stream that never ends is read only up to the limit. */
    assert_int_equal(fp_config_load("/dev/zero", &cfg, &err), FP_ECONFIG);
    assert_string_equal(err.msg, "/dev/zero: too large for a configuration file (over 1MB)");
    assert_null(cfg);

    assert_int_equal(fp_config_load_text(text, (1 << 20) + 1, "big.toml", &cfg, &err),
                     FP_ECONFIG);
    text[(1 << 20) - 1] = '\n';
    assert_int_equal(fp_th_write_file(f->path, text, 1 << 20), 0);
    assert_int_equal(fp_config_load(f->path, &cfg, &err), 0);
    fp_config_free(cfg);
    free(text);
}

static void nul_bytes_rejected(void **state)
{
    files_t *f = *state;
    const char text[] = "[pool]\nchil\0dren = 1\n";
    fp_config_t *cfg = NULL;
    fp_err_t err = {0};
    char want[PATH_MAX + 128];
    assert_int_equal(fp_th_write_file(f->path, text, sizeof text - 1), 0);
    assert_int_equal(fp_config_load(f->path, &cfg, &err), FP_ETOML);
    assert_null(cfg);
    snprintf(want, sizeof want, "%s:2:5: NUL byte in the file (is it binary, or UTF-16?)",
             f->path);
    assert_string_equal(err.msg, want);
    assert_int_equal(err.line, 2);
    assert_int_equal(err.col, 5);
    /* UTF-16 text is mostly NUL bytes. */
    const char utf16[] = "[\0p\0o\0o\0l\0]\0";
    assert_int_equal(fp_config_load_text(utf16, sizeof utf16 - 1, "w.toml", &cfg, &err),
                     FP_ETOML);
    assert_string_equal(err.msg, "w.toml:1:2: NUL byte in the file (is it binary, or UTF-16?)");
}

static void resolve_path_order(void **state)
{
    files_t *f = *state;
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(f->dir), 0);
    clear_env();

    assert_null(fp_config_resolve_path(NULL));
    assert_string_equal(fp_config_resolve_path("cli.toml"), "cli.toml");
    assert_int_equal(fp_th_write_file("forkpool.toml", "", 0), 0);
    assert_string_equal(fp_config_resolve_path(NULL), "forkpool.toml");
    setenv("FORKPOOL_CONFIG", "/etc/env.toml", 1);
    assert_string_equal(fp_config_resolve_path(NULL), "/etc/env.toml");
    assert_string_equal(fp_config_resolve_path("cli.toml"), "cli.toml");
    setenv("FORKPOOL_CONFIG", "", 1); /* empty = unset */
    assert_string_equal(fp_config_resolve_path(NULL), "forkpool.toml");
    unlink("forkpool.toml");
    assert_null(fp_config_resolve_path(NULL));

    assert_int_equal(chdir(cwd), 0);
}

/* ---- environment ------------------------------------------------------ */

static void redis_url_from_environment(void **state)
{
    (void)state;
    clear_env();
    setenv("FORKPOOL_REDIS_URL", "redis://:s3cret@cache:6380/2", 1);
    fp_config_t *cfg = NULL;
    fp_err_t err = {0};
    assert_int_equal(fp_config_load(NULL, &cfg, &err), 0);
    assert_string_equal(cfg->redis.url, "redis://:s3cret@cache:6380/2");
    fp_config_free(cfg);
    /* It wins over the file too. */
    cfg = load_ok("[redis]\nurl = \"redis://file:1/0\"\n");
    assert_string_equal(cfg->redis.url, "redis://:s3cret@cache:6380/2");
    fp_config_free(cfg);
    /* Invalid: an error that names the variable and not the secret. */
    setenv("FORKPOOL_REDIS_URL", "http://:s3cret@cache", 1);
    cfg = NULL;
    assert_int_equal(fp_config_load(NULL, &cfg, &err), FP_ECONFIG);
    assert_null(cfg);
    assert_string_equal(err.msg, "FORKPOOL_REDIS_URL (environment) must start with redis://, "
                                 "rediss:// or unix://, not http://");
    /* Empty counts as unset. */
    setenv("FORKPOOL_REDIS_URL", "", 1);
    cfg = load_ok("[redis]\nurl = \"redis://file:1/0\"\n");
    assert_string_equal(cfg->redis.url, "redis://file:1/0");
    fp_config_free(cfg);
    clear_env();
}

/* The status page's token: the environment wins over the file, an empty
 * variable counts as unset, and a dump masks it. */
static void admin_token_from_environment(void **state)
{
    (void)state;
    clear_env();
    fp_config_t *cfg = load_ok("[health]\nadmin_token = \"from-file\"\n");
    assert_string_equal(cfg->health.admin_token, "from-file");
    char *dump = fp_config_dump_json(cfg);
    assert_null(strstr(dump, "from-file"));
    assert_non_null(strstr(dump, "***"));
    free(dump);
    fp_config_free(cfg);
    setenv("FORKPOOL_ADMIN_TOKEN", "from-env", 1);
    cfg = load_ok("[health]\nadmin_token = \"from-file\"\n");
    assert_string_equal(cfg->health.admin_token, "from-env");
    fp_config_free(cfg);
    setenv("FORKPOOL_ADMIN_TOKEN", "", 1);
    cfg = load_ok("");
    assert_string_equal(cfg->health.admin_token, "");
    assert_true(cfg->health.ui);
    assert_int_equal(cfg->health.ui_payload_max, 2048);
    dump = fp_config_dump_json(cfg);
    assert_null(strstr(dump, "***")); /* an unset token is shown as "" */
    free(dump);
    fp_config_free(cfg);
    clear_env();
}

/* ---- masking and dumping ------------------------------------------------ */

static void mask_url_cases(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"redis://user:secret@host:6379/0", "redis://user:***@host:6379/0"},
        {"redis://:secret@host", "redis://:***@host"},
        {"redis://:secret@host:6379", "redis://:***@host:6379"},
        {"redis://secret@host", "redis://***@host"},
        {"redis://host:6379/0", "redis://host:6379/0"},
        {"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
        {"redis://:p@ss/w:rd@host:1/0", "redis://:***@host:1/0"},
        {"redis://u:@host", "redis://u:***@host"},
        {"redis://@host", "redis://@host"},
        {"unix:///run/redis.sock", "unix:///run/redis.sock"},
        {"unix:///run/redis@1/redis.sock", "unix:///run/redis@1/redis.sock"},
        {"unix://:secret@/run/redis.sock", "unix://:***@/run/redis.sock"},
        {"redis://host/0?password=secret&db=1", "redis://host/0?password=***&db=1"},
        {"unix:///s.sock?db=1&PASS=secret", "unix:///s.sock?db=1&PASS=***"},
        {"redis://host/0?password=", "redis://host/0?password="},
        {"redis://host#frag", "redis://host#frag"},
        /* Any character in the password, '?' and '#' included. */
        {"redis://u:pa?ss@host:1/0", "redis://u:***@host:1/0"},
        {"redis://:a#b@host", "redis://:***@host"},
        {"redis://:x?password=y#z@h:2", "redis://:***@h:2"},
        {"redis://q?r#s@host", "redis://***@host"},
        {"unix:///s.sock?password=a#b?c&db=2", "unix:///s.sock?password=***&db=2"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *m = fp_config_mask_url(cases[i].in);
        assert_non_null(m);
        if (strcmp(m, cases[i].out) != 0)
            fail_msg("mask(\"%s\") = \"%s\", want \"%s\"", cases[i].in, m, cases[i].out);
        free(m);
    }
    assert_null(fp_config_mask_url(NULL));
}

static void child_env_keys(void **state)
{
    (void)state;
    clear_env();
    fp_config_t *cfg = load_ok("[pool]\nenv_pass = [\"FORKPOOL_REDIS_URL\"]\n"
                               "env = { APP_MODE = \"prod\", _X1 = \"a=b\", DB_PASSWORD = \"pw9\" }\n");
    assert_int_equal(cfg->pool.env_pass.count, 1);
    assert_string_equal(cfg->pool.env_pass.items[0], "FORKPOOL_REDIS_URL");
    assert_int_equal(cfg->pool.env.count, 3);
    assert_string_equal(cfg->pool.env.items[0], "APP_MODE=prod");
    assert_string_equal(cfg->pool.env.items[1], "_X1=a=b");
    char *text = fp_config_dump_json(cfg);
    assert_non_null(strstr(text, "\"APP_MODE\":\t\"prod\""));
    assert_null(strstr(text, "pw9"));
    free(text);
    fp_config_free(cfg);
    expect_config_error("[pool]\nenv_pass = [\"FOO\", \"BAD NAME\"]\n",
                        "t.toml:2:20: [pool] env_pass[1] must be an environment variable name "
                        "([A-Za-z_][A-Za-z0-9_]*)");
    expect_config_error("[pool]\nenv = { \"1X\" = \"v\" }\n",
                        "t.toml:2:9: [pool] env: \"1X\" is not an environment variable name "
                        "([A-Za-z_][A-Za-z0-9_]*)");
    expect_config_error("[pool]\nenv = { \"A=B\" = \"v\" }\n",
                        "t.toml:2:9: [pool] env: \"A=B\" is not an environment variable name "
                        "([A-Za-z_][A-Za-z0-9_]*)");
    expect_config_error("[pool]\nenv = { N = 3 }\n",
                        "t.toml:2:9: [pool] env.N must be a string, got integer");
    expect_config_error("[pool]\nenv = [\"A=1\"]\n",
                        "t.toml:2:1: [pool] env must be a table of NAME = \"value\", got array");
}

static void secret_key_names(void **state)
{
    (void)state;
    static const char *const secret[] = {"password", "PASSWORD", "token", "secret", "key",
                                         "dsn",      "api_key",  "db_password", "sentryDsn",
                                         "authToken", "client_secret", "passwd"};
    static const char *const plain[] = {"database", "url", "timeout", "keys", "tokens_max",
                                        "secretary", "", "host"};
    for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++)
        if (!fp_config_secret_key(secret[i]))
            fail_msg("\"%s\" not taken for a secret", secret[i]);
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (fp_config_secret_key(plain[i]))
            fail_msg("\"%s\" taken for a secret", plain[i]);
    assert_false(fp_config_secret_key(NULL));
}

static cJSON *dump(const fp_config_t *cfg, char **text)
{
    *text = fp_config_dump_json(cfg);
    assert_non_null(*text);
    cJSON *root = cJSON_Parse(*text);
    assert_non_null(root);
    return root;
}

static const char *str_at(const cJSON *root, const char *section, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, section), key);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

static double num_at(const cJSON *root, const char *section, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, section), key);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static void dump_json_defaults(void **state)
{
    (void)state;
    fp_config_t *cfg = NULL;
    char *text, host[256];
    host_name(host, sizeof host);
    assert_int_equal(fp_config_load(NULL, &cfg, NULL), 0);
    cJSON *root = dump(cfg, &text);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(root, "source")->valuestring,
                        "(defaults)");
    assert_string_equal(str_at(root, "daemon", "name"), host);
    assert_string_equal(str_at(root, "daemon", "log_level"), "info");
    assert_string_equal(str_at(root, "daemon", "log_format"), "text");
    assert_string_equal(str_at(root, "daemon", "shutdown_timeout"), "25s");
    assert_string_equal(str_at(root, "redis", "url"), "redis://127.0.0.1:6379/0");
    assert_string_equal(str_at(root, "queues", "order"), "strict");
    assert_string_equal(str_at(root, "pool", "runtime"), "native");
    assert_true(num_at(root, "pool", "children") == (double)cpus());
    assert_string_equal(str_at(root, "pool", "job_timeout"), "10m");
    assert_string_equal(str_at(root, "pool", "prefetch"), "auto");
    assert_string_equal(str_at(root, "pool", "pipeline"), "auto");
    assert_true(num_at(root, "pool", "max_held") == 512);
    assert_string_equal(str_at(root, "pool", "max_send_ahead_wait"), "5ms");
    assert_string_equal(str_at(root, "pool", "max_memory_per_child"), "0B");
    assert_string_equal(str_at(root, "retry", "backoff_max"), "10m");
    assert_string_equal(str_at(root, "ledger", "retain"), "7d");
    assert_string_equal(str_at(root, "limits", "max_job_bytes"), "1MB");
    assert_true(num_at(root, "retry", "max_attempts") == 5);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "retry"), "jitter")));
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "queues"), "names");
    assert_int_equal(cJSON_GetArraySize(names), 1);
    assert_true(num_at(cJSON_GetObjectItemCaseSensitive(root, "queues"), "weights", "default") ==
                1);
    assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "handlers")));
    /* Every section is present. */
    static const char *const sections[] = {"daemon", "redis",  "queues", "pool",    "retry",
                                           "recovery", "health", "ledger", "limits"};
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, sections[i])));
    cJSON_Delete(root);
    free(text);
    fp_config_free(cfg);
}

/* ---- Sentinel ------------------------------------------------------------ */

static void sentinel_form_loads(void **state)
{
    (void)state;
    clear_env();
    fp_config_t *cfg = load_ok("[redis]\nsentinels = [\"127.0.0.1:26379\", \"s2\", \"[::1]:5\"]\n"
                               "master_name = \"mymaster\"\nsentinel_password = \"sp\"\n"
                               "url = \"redis://:pw@ignored/3\"\n");
    assert_int_equal(cfg->redis.sentinels.count, 3);
    assert_string_equal(cfg->redis.sentinels.items[1], "s2");
    assert_string_equal(cfg->redis.master_name, "mymaster");
    assert_string_equal(cfg->redis.sentinel_password, "sp");
    char *text;
    cJSON *root = dump(cfg, &text);
    assert_null(strstr(text, "\"sp\""));
    assert_string_equal(str_at(root, "redis", "sentinel_password"), "***");
    cJSON_Delete(root);
    free(text);
    fp_config_free(cfg);
    /* The environment wins over the file, and is never shown either. */
    setenv("FORKPOOL_SENTINEL_PASSWORD", "from-env", 1);
    cfg = load_ok("[redis]\nsentinels = [\"h:1\"]\nmaster_name = \"m\"\n"
                  "sentinel_password = \"file\"\n");
    assert_string_equal(cfg->redis.sentinel_password, "from-env");
    fp_config_free(cfg);
    clear_env();
    /* The single-URL form has none of it. */
    cfg = load_ok("");
    assert_int_equal(cfg->redis.sentinels.count, 0);
    assert_string_equal(cfg->redis.master_name, "");
    assert_string_equal(cfg->redis.sentinel_password, "");
    fp_config_free(cfg);
}

static void sentinel_bad_combinations(void **state)
{
    (void)state;
    clear_env();
    expect_config_error("[redis]\nsentinels = [\"h:1\"]\n",
                        "t.toml:2:1: [redis] sentinels needs master_name (the name the sentinels "
                        "monitor, e.g. \"mymaster\")");
    expect_config_error("[redis]\nmaster_name = \"m\"\n",
                        "t.toml:2:1: [redis] master_name is only used with sentinels (list them: "
                        "sentinels = [\"127.0.0.1:26379\"])");
    expect_config_error("[redis]\nsentinel_password = \"x\"\n",
                        "t.toml:2:1: [redis] sentinel_password is only used with sentinels");
    expect_config_error("[redis]\nsentinels = [\"h:1\"]\nmaster_name = \"m\"\n"
                        "url = \"unix:///run/r.sock\"\n",
                        "t.toml:4:1: [redis] url must be redis:// with sentinels: the sentinels "
                        "say where the master is, the URL gives only the database and the "
                        "password");
    expect_config_error("[redis]\nmaster_name = \"m\"\nsentinels = [\"h:1\", \"h:0\"]\n",
                        "t.toml:3:21: [redis] sentinels[1] needs a port from 1 to 65535 after ':'");
    expect_config_error("[redis]\nmaster_name = \"m\"\nsentinels = [\"::1\"]\n",
                        "t.toml:3:14: [redis] sentinels[0] has an IPv6 host: write it in brackets "
                        "([::1]:26379)");
    setenv("FORKPOOL_SENTINEL_PASSWORD", "x", 1);
    expect_config_error("", "FORKPOOL_SENTINEL_PASSWORD (environment) is set but [redis] "
                            "sentinels is not");
    clear_env();
}

/* The Cluster form: seeds with ports; the URL gives the password only,
 * database 0, redis://; never with sentinels. */
static void cluster_form(void **state)
{
    (void)state;
    clear_env();
    fp_config_t *cfg = load_ok("[redis]\ncluster = [\"127.0.0.1:7000\", \"[::1]:7001\"]\n"
                               "url = \"redis://:pw@ignored/0\"\n");
    assert_int_equal(cfg->redis.cluster.count, 2);
    assert_string_equal(cfg->redis.cluster.items[1], "[::1]:7001");
    fp_config_free(cfg);
    cfg = load_ok("");
    assert_int_equal(cfg->redis.cluster.count, 0);
    fp_config_free(cfg);
    expect_config_error("[redis]\ncluster = [\"h:7000\", \"h\"]\n",
                        "t.toml:2:22: [redis] cluster[1] needs a port (write \"127.0.0.1:7000\")");
    expect_config_error("[redis]\ncluster = [\"h:7000\"]\nsentinels = [\"h:1\"]\n"
                        "master_name = \"m\"\n",
                        "t.toml:2:1: [redis] cluster and sentinels exclude each other: a Redis "
                        "Cluster fails over by itself");
    expect_config_error("[redis]\ncluster = [\"h:7000\"]\nurl = \"redis://h/2\"\n",
                        "t.toml:3:1: [redis] url must name database 0 with cluster: a Redis "
                        "Cluster has no other");
    expect_config_error("[redis]\ncluster = [\"h:7000\"]\nurl = \"unix:///run/r.sock\"\n",
                        "t.toml:3:1: [redis] url must be redis:// with cluster: the seed nodes "
                        "say where the masters are, the URL gives only the user and the "
                        "password");
    /* rediss://: every node over TLS */
    cfg = load_ok("[redis]\ncluster = [\"h:7000\"]\nurl = \"rediss://u:p@h\"\n");
    assert_int_equal(cfg->redis.cluster.count, 1);
    assert_string_equal(cfg->redis.url, "rediss://u:p@h");
    fp_config_free(cfg);
    setenv("FORKPOOL_REDIS_URL", "redis://h/5", 1);
    expect_config_error("[redis]\ncluster = [\"h:7000\"]\n",
                        "FORKPOOL_REDIS_URL (environment) must name database 0 with cluster: a "
                        "Redis Cluster has no other");
    clear_env();
}

/* rediss:// settings: only with a rediss:// URL, a certificate with its key. */
static void tls_bad_combinations(void **state)
{
    (void)state;
    clear_env();
    expect_config_error("[redis]\ntls_ca = \"ca.crt\"\n",
                        "t.toml:2:1: [redis] tls_ca is only used with TLS: write the URL as "
                        "rediss://");
    expect_config_error("[redis]\nurl = \"rediss://h\"\ntls_key = \"k.pem\"\n",
                        "t.toml:3:1: [redis] tls_key needs the other of tls_cert and tls_key (a "
                        "client certificate and its private key go together)");
    setenv("FORKPOOL_REDIS_TLS_SERVER_NAME", "cache.internal", 1);
    expect_config_error("", "t.toml: [redis] tls_server_name is only used with TLS: write the URL "
                            "as rediss://");
    unsetenv("FORKPOOL_REDIS_TLS_SERVER_NAME");
    fp_config_t *cfg = load_ok("[redis]\nurl = \"rediss://h:6380/1\"\ntls_ca = \"ca.crt\"\n"
                               "tls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n");
    assert_string_equal(cfg->redis.tls_ca, "ca.crt");
    assert_string_equal(cfg->redis.tls_key, "k.pem");
    fp_config_free(cfg);
    setenv("FORKPOOL_REDIS_TLS_CA", "/etc/ca.pem", 1);
    cfg = load_ok("[redis]\nurl = \"rediss://h\"\ntls_ca = \"ca.crt\"\n");
    assert_string_equal(cfg->redis.tls_ca, "/etc/ca.pem");
    fp_config_free(cfg);
    clear_env();
}

static void dump_json_masks_and_round_trips(void **state)
{
    (void)state;
    clear_env();
    char *text;
    fp_config_t *cfg = load_ok("[redis]\nurl = \"redis://user:hunter2@host:6379/0\"\n"
                               "[pool]\nmax_jobs_per_child = 9223372036854775807\n"
                               "job_timeout = \"90m\"\n"
                               "[queues]\nnames = [\"a\", \"b\"]\norder = \"weighted\"\n"
                               "weights = { b = 7 }\n"
                               "[handlers.record_event]\ndatabase = \"events.db\"\n");
    cJSON *root = dump(cfg, &text);
    assert_null(strstr(text, "hunter2"));
    assert_string_equal(str_at(root, "redis", "url"), "redis://user:***@host:6379/0");
    assert_string_equal(str_at(root, "pool", "job_timeout"), "1h30m");
    /* Exact even beyond 2^53. */
    assert_non_null(strstr(text, "9223372036854775807"));
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "queues"), "weights");
    assert_true(cJSON_GetObjectItemCaseSensitive(w, "a")->valuedouble == 1);
    assert_true(cJSON_GetObjectItemCaseSensitive(w, "b")->valuedouble == 7);
    assert_string_equal(str_at(cJSON_GetObjectItemCaseSensitive(root, "handlers"),
                               "record_event", "database"),
                        "events.db");
    cJSON_Delete(root);
    free(text);
    fp_config_free(cfg);

    /* A password from the environment is masked the same way. */
    setenv("FORKPOOL_REDIS_URL", "redis://:t0psecret@cache:6379", 1);
    cfg = NULL;
    assert_int_equal(fp_config_load(NULL, &cfg, NULL), 0);
    text = fp_config_dump_json(cfg);
    assert_non_null(text);
    assert_null(strstr(text, "t0psecret"));
    assert_non_null(strstr(text, "redis://:***@cache:6379"));
    free(text);
    fp_config_free(cfg);
    clear_env();
}

static void dump_json_redacts_plugin_secrets(void **state)
{
    (void)state;
    clear_env();
    fp_config_t *cfg = load_ok("[redis]\nurl = \"redis://:pa?ss#w@host:6379/0\"\n"
                               "[handlers.mail]\nPassword = \"pw-1\"\napi_key = \"k-2\"\n"
                               "host = \"smtp\"\nsentry_dsn = \"https://x@y/1\"\n"
                               "upstream = \"postgres://app:pw-3@db/app\"\n"
                               "[handlers.mail.nested]\ntoken = 42\nsecret = [\"pw-4\"]\n");
    char *text;
    cJSON *root = dump(cfg, &text);
    static const char *const leaked[] = {"pa?ss", "pw-1", "k-2", "x@y", "pw-3", "pw-4", "42"};
    for (size_t i = 0; i < sizeof leaked / sizeof leaked[0]; i++)
        if (strstr(text, leaked[i]) != NULL)
            fail_msg("\"%s\" in the dump:\n%s", leaked[i], text);
    const cJSON *mail = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "handlers"), "mail");
    assert_string_equal(str_at(cJSON_GetObjectItemCaseSensitive(root, "handlers"), "mail",
                               "Password"), "***");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(mail, "host")->valuestring, "smtp");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(mail, "upstream")->valuestring,
                        "postgres://app:***@db/app");
    assert_string_equal(str_at(mail, "nested", "token"), "***");
    assert_string_equal(str_at(root, "redis", "url"), "redis://:***@host:6379/0");
    cJSON_Delete(root);
    free(text);
    /* The owner asks for them. */
    text = fp_config_dump_json_opt(cfg, true);
    assert_non_null(text);
    assert_non_null(strstr(text, "pw-1"));
    assert_non_null(strstr(text, "redis://:pa?ss#w@host:6379/0"));
    free(text);
    fp_config_free(cfg);
}

/* The copy for work that outlives a reload: every setting, owned (the
 * original freed first, ASan would see a shared pointer), the same dump as
 * the original's once the parts it leaves out are left out of both. */
static void copy_keys_keeps_every_setting(void **state)
{
    (void)state;
    clear_env();
    static const char *const texts[] = {
        "[redis]\nurl = \"redis://u:pw@127.0.0.1:1/0\"\n"
        "sentinels = [\"127.0.0.1:26379\", \"127.0.0.1:26380\"]\nmaster_name = \"m\"\n"
        "[pool]\nchildren = \"2..6\"\njob_timeout = \"90m\"\n"
        "[queues]\nnames = [\"a\", \"b\"]\n[daemon]\nname = \"copy\"\n",
        "[sqlite]\npath = \"/tmp/q.db\"\nsynchronous = \"full\"\n",
    };
    for (size_t i = 0; i < 2; i++) {
        fp_config_t *cfg = load_ok(texts[i]);
        fp_config_t *copy = fp_config_copy_keys(cfg);
        assert_non_null(copy);
        char *want = fp_config_dump_json_opt(cfg, true);
        fp_config_free(cfg);
        char *got = fp_config_dump_json_opt(copy, true);
        assert_non_null(want);
        assert_non_null(got);
        assert_string_equal(got, want);
        if (i == 0) {
            assert_int_equal(copy->redis.sentinels.count, 2);
            assert_string_equal(copy->redis.sentinels.items[1], "127.0.0.1:26380");
            assert_int_equal(copy->queue.backend, FP_BACKEND_REDIS);
            assert_int_equal(copy->pool.children_max, 6);
        } else {
            assert_int_equal(copy->queue.backend, FP_BACKEND_SQLITE);
            assert_int_equal(copy->sqlite.synchronous, FP_SQLITE_SYNC_FULL);
            assert_string_equal(copy->sqlite.path, "/tmp/q.db");
        }
        free(want);
        free(got);
        fp_config_free(copy);
    }
}

int main(void)
{
    clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_are_documented_values),
        cmocka_unit_test(empty_text_equals_defaults),
        cmocka_unit_test(example_file_equals_defaults),
        cmocka_unit_test(example_lists_every_key),
        cmocka_unit_test(example_handler_block_is_valid),
        cmocka_unit_test(docs_match_schema),
        cmocka_unit_test(every_key_can_be_set),
        cmocka_unit_test(listen_forms_accepted),
        cmocka_unit_test(automatic_values_resolved),
        cmocka_unit_test(unknown_keys_and_sections),
        cmocka_unit_test(nul_in_keys_rejected),
        cmocka_unit_test(scaling_bounds),
        cmocka_unit_test(auto_or_number),
        cmocka_unit_test(wrong_types),
        cmocka_unit_test(out_of_range),
        cmocka_unit_test(bad_durations_and_sizes),
        cmocka_unit_test(bad_enums),
        cmocka_unit_test(bad_strings),
        cmocka_unit_test(bad_listen),
        cmocka_unit_test(cross_key_checks),
        cmocka_unit_test(toml_syntax_errors),
        cmocka_unit_test_setup_teardown(loads_from_file, files_setup, files_teardown),
        cmocka_unit_test_setup_teardown(missing_file_is_enoent, files_setup, files_teardown),
        cmocka_unit_test_setup_teardown(huge_file_rejected, files_setup, files_teardown),
        cmocka_unit_test_setup_teardown(nul_bytes_rejected, files_setup, files_teardown),
        cmocka_unit_test_setup_teardown(resolve_path_order, files_setup, files_teardown),
        cmocka_unit_test(redis_url_from_environment),
        cmocka_unit_test(admin_token_from_environment),
        cmocka_unit_test(mask_url_cases),
        cmocka_unit_test(secret_key_names),
        cmocka_unit_test(child_env_keys),
        cmocka_unit_test(dump_json_redacts_plugin_secrets),
        cmocka_unit_test(dump_json_defaults),
        cmocka_unit_test(sentinel_form_loads),
        cmocka_unit_test(sentinel_bad_combinations),
        cmocka_unit_test(cluster_form),
        cmocka_unit_test(tls_bad_combinations),
        cmocka_unit_test(dump_json_masks_and_round_trips),
        cmocka_unit_test(copy_keys_keeps_every_setting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
