/* test_metrics.c: lib/http/metrics.c — the exact exposition of a small registry
 * (golden text), label-value escaping, the histogram's cumulative buckets,
 * _sum and _count, the bound on distinct label sets and the "other" fold,
 * that counting an existing label set allocates nothing, and that every
 * output parses as Prometheus text format 0.0.4 under a small strict
 * validator written here (sample syntax, HELP and TYPE before a family's
 * samples, families not interleaved, no duplicate series). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SANITIZE_ADDRESS__
/* ASan's own count (its malloc bypasses mallinfo2); the header that
 * declares it is not always installed. */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

#include "http/metrics.h"

/* ---- a small Prometheus text-format validator ----------------------------- */

#define MAX_FAMILIES 64
#define MAX_SERIES 8192

typedef struct family_s {
    char name[128];
    char type[16];
    bool help, sampled, done; /* done: another family's samples came after this one's */
} family_t;

typedef struct validator_s {
    family_t fam[MAX_FAMILIES];
    size_t nfam;
    char *series[MAX_SERIES];
    size_t nseries;
    int current; /* family whose samples are being read, -1 none */
    size_t samples;
} validator_t;

static bool name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

/* Length of the metric or label name at s, 0 when there is none. */
static size_t name_len(const char *s)
{
    size_t n = 0;
    while (name_char(s[n], n == 0))
        n++;
    return n;
}

static family_t *family_named(validator_t *v, const char *name, size_t len)
{
    for (size_t i = 0; i < v->nfam; i++)
        if (strlen(v->fam[i].name) == len && memcmp(v->fam[i].name, name, len) == 0)
            return &v->fam[i];
    return NULL;
}

static family_t *family_add(validator_t *v, const char *name, size_t len)
{
    family_t *f = family_named(v, name, len);
    if (f != NULL)
        return f;
    if (v->nfam == MAX_FAMILIES || len >= sizeof f->name)
        return NULL;
    f = &v->fam[v->nfam++];
    memcpy(f->name, name, len);
    f->name[len] = '\0';
    return f;
}

static bool parse_value(const char *s, const char **end)
{
    if (strncmp(s, "+Inf", 4) == 0 || strncmp(s, "-Inf", 4) == 0) {
        *end = s + 4;
        return true;
    }
    if (strncmp(s, "NaN", 3) == 0) {
        *end = s + 3;
        return true;
    }
    char *e;
    (void)strtod(s, &e);
    *end = e;
    return e != s;
}

/* The family a sample name belongs to: itself, or for histograms the name
 * without _bucket/_sum/_count. */
static family_t *sample_family(validator_t *v, const char *name, size_t len)
{
    family_t *f = family_named(v, name, len);
    if (f != NULL)
        return f;
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    for (size_t i = 0; i < 3; i++) {
        size_t sl = strlen(suffixes[i]);
        if (len > sl && memcmp(name + len - sl, suffixes[i], sl) == 0 &&
            (f = family_named(v, name, len - sl)) != NULL && strcmp(f->type, "histogram") == 0)
            return f;
    }
    return NULL;
}

/* One line (without "\n"); NULL when fine, else why not. */
static const char *validate_line(validator_t *v, const char *line)
{
    if (line[0] == '#') {
        bool help = strncmp(line, "# HELP ", 7) == 0, type = strncmp(line, "# TYPE ", 7) == 0;
        if (!help && !type)
            return NULL; /* a comment */
        const char *name = line + 7;
        size_t n = name_len(name);
        if (n == 0 || name[n] != ' ')
            return "bad HELP/TYPE name";
        family_t *f = family_add(v, name, n);
        if (f == NULL)
            return "too many families";
        if (f->sampled)
            return "HELP/TYPE after the family's samples";
        if (help) {
            if (f->help)
                return "second HELP";
            f->help = true;
        } else {
            const char *t = name + n + 1;
            static const char *const types[] = {"counter", "gauge", "histogram", "summary",
                                                "untyped"};
            bool ok = false;
            for (size_t i = 0; i < 5; i++)
                ok |= strcmp(t, types[i]) == 0;
            if (!ok || f->type[0] != '\0')
                return "bad or second TYPE";
            snprintf(f->type, sizeof f->type, "%s", t);
        }
        return NULL;
    }
    const char *p = line;
    size_t n = name_len(p);
    if (n == 0)
        return "sample without a metric name";
    family_t *f = sample_family(v, p, n);
    if (f == NULL || !f->help || f->type[0] == '\0')
        return "sample before its family's HELP and TYPE";
    if (f->done)
        return "family's samples are not together";
    int index = (int)(f - v->fam);
    if (v->current >= 0 && v->current != index)
        v->fam[v->current].done = true;
    v->current = index;
    f->sampled = true;
    p += n;
    if (*p == '{') {
        p++;
        while (*p != '}') {
            size_t ln = name_len(p);
            if (ln == 0 || p[ln] != '=' || p[ln + 1] != '"')
                return "bad label";
            p += ln + 2;
            while (*p != '"') {
                if (*p == '\0' || *p == '\n')
                    return "unterminated label value";
                if (*p == '\\') {
                    p++;
                    if (*p != '\\' && *p != '"' && *p != 'n')
                        return "bad escape in label value";
                }
                p++;
            }
            p++;
            if (*p == ',')
                p++;
            else if (*p != '}')
                return "labels not separated by commas";
        }
        p++;
    }
    size_t key_len = (size_t)(p - line);
    if (*p != ' ')
        return "no space before the value";
    const char *end;
    if (!parse_value(p + 1, &end))
        return "bad value";
    if (*end == ' ') { /* optional timestamp */
        char *e;
        (void)strtoll(end + 1, &e, 10);
        if (e == end + 1)
            return "bad timestamp";
        end = e;
    }
    if (*end != '\0')
        return "trailing text after the value";
    for (size_t i = 0; i < v->nseries; i++)
        if (strlen(v->series[i]) == key_len && memcmp(v->series[i], line, key_len) == 0)
            return "duplicate series";
    if (v->nseries == MAX_SERIES)
        return "too many series";
    v->series[v->nseries++] = strndup(line, key_len);
    v->samples++;
    return NULL;
}

/* Fails the test, naming the line, unless text is valid exposition text. */
static size_t assert_valid_exposition(const char *text)
{
    validator_t *v = calloc(1, sizeof *v);
    assert_non_null(v);
    v->current = -1;
    size_t len = strlen(text);
    if (len > 0 && text[len - 1] != '\n')
        fail_msg("exposition does not end in a newline");
    const char *p = text;
    int lineno = 1;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        char *line = strndup(p, (size_t)(nl - p));
        const char *why = validate_line(v, line);
        if (why != NULL)
            fail_msg("line %d: %s: %s", lineno, why, line);
        free(line);
        p = nl + 1;
        lineno++;
    }
    for (size_t i = 0; i < v->nfam; i++)
        if (!v->fam[i].help || v->fam[i].type[0] == '\0')
            fail_msg("family %s lacks HELP or TYPE", v->fam[i].name);
    size_t samples = v->samples;
    for (size_t i = 0; i < v->nseries; i++)
        free(v->series[i]);
    free(v);
    return samples;
}

static void test_validator_rejects_bad_text(void **state)
{
    (void)state;
    validator_t v = {.current = -1};
    assert_non_null(validate_line(&v, "x 1")); /* no HELP/TYPE */
    assert_null(validate_line(&v, "# HELP x help"));
    assert_null(validate_line(&v, "# TYPE x counter"));
    assert_null(validate_line(&v, "x{a=\"1\",b=\"q\\\"\"} 1"));
    assert_non_null(validate_line(&v, "x{a=\"1\"} one"));
    assert_non_null(validate_line(&v, "x{a=1} 1"));
    assert_non_null(validate_line(&v, "x{a=\"\\t\"} 1"));
    assert_non_null(validate_line(&v, "x{a=\"1\",b=\"q\\\"\"} 2")); /* duplicate series */
    assert_non_null(validate_line(&v, "# HELP x again"));
    assert_null(validate_line(&v, "# HELP y help"));
    assert_null(validate_line(&v, "# TYPE y gauge"));
    assert_null(validate_line(&v, "y 1.5e3"));
    assert_non_null(validate_line(&v, "x{a=\"2\"} 1")); /* families interleaved */
    for (size_t i = 0; i < v.nseries; i++)
        free(v.series[i]);
}

/* ---- the registry ---------------------------------------------------------- */

static char *render(const fp_metrics_t *m)
{
    fp_buf_t buf = {0};
    assert_int_equal(fp_metrics_render(m, &buf), 0);
    assert_non_null(buf.data);
    assert_valid_exposition(buf.data);
    return buf.data; /* fp_buf_t's data is plain malloc memory */
}

static const char golden[] =
    "# HELP forkpool_jobs_total Jobs finished, by queue, type and outcome.\n"
    "# TYPE forkpool_jobs_total counter\n"
    "forkpool_jobs_total{queue=\"default\",type=\"noop\",outcome=\"ok\"} 2\n"
    "forkpool_jobs_total{queue=\"default\",type=\"noop\",outcome=\"failed\"} 1\n"
    "forkpool_jobs_total{queue=\"default\",type=\"noop\",outcome=\"retried\"} 0\n"
    "forkpool_jobs_total{queue=\"default\",type=\"noop\",outcome=\"dead\"} 1\n"
    "forkpool_jobs_total{queue=\"default\",type=\"noop\",outcome=\"timeout\"} 1\n"
    "forkpool_jobs_total{queue=\"default\",type=\"noop\",outcome=\"crashed\"} 0\n"
    "forkpool_jobs_total{queue=\"default\",type=\"noop\",outcome=\"cancelled\"} 0\n"
    "# HELP forkpool_job_duration_seconds Time jobs ran in a child, by queue and type.\n"
    "# TYPE forkpool_job_duration_seconds histogram\n"
    "forkpool_job_duration_seconds_bucket{queue=\"default\",type=\"noop\",le=\"0.001\"} 1\n"
    "forkpool_job_duration_seconds_bucket{queue=\"default\",type=\"noop\",le=\"0.0025\"} 1\n"
    "forkpool_job_duration_seconds_bucket{queue=\"default\",type=\"noop\",le=\"0.005\"} 1\n"
    "forkpool_job_duration_seconds_bucket{queue=\"default\",type=\"noop\",le=\"0.01\"} 1\n"
    "forkpool_job_duration_seconds_bucket{queue=\"default\",type=\"noop\",le=\"0.025\"} 1\n"
    "forkpool_job_duration_seconds_bucket{queue=\"default\",type=\"noop\",le=\"0.05\"} 1\n"
    "forkpool_job_duration_seconds_bucket{queue=\"default\",type=\"noop\",le=\"0.1\"} 1\n"
    "forkpool_job_duration_seconds_bucket{queue=\"default\",type=\"noop\",le=\"0.25\"} 2\n"
    "forkpool_job_duration_seconds_bucket{queue=\"default\",type=\"noop\",le=\"0.5\"} 3\n"
    "forkpool_job_duration_seconds_bucket{queue=\"default\",type=\"noop\",le=\"1\"} 3\n"
    "forkpool_job_duration_seconds_bucket{queue=\"default\",type=\"noop\",le=\"2.5\"} 3\n"
    "forkpool_job_duration_seconds_bucket{queue=\"default\",type=\"noop\",le=\"5\"} 3\n"
    "forkpool_job_duration_seconds_bucket{queue=\"default\",type=\"noop\",le=\"10\"} 3\n"
    "forkpool_job_duration_seconds_bucket{queue=\"default\",type=\"noop\",le=\"30\"} 3\n"
    "forkpool_job_duration_seconds_bucket{queue=\"default\",type=\"noop\",le=\"60\"} 3\n"
    "forkpool_job_duration_seconds_bucket{queue=\"default\",type=\"noop\",le=\"+Inf\"} 4\n"
    "forkpool_job_duration_seconds_sum{queue=\"default\",type=\"noop\"} 61.7509765625\n"
    "forkpool_job_duration_seconds_count{queue=\"default\",type=\"noop\"} 4\n"
    "# HELP forkpool_child_restarts_total Children replaced, by reason.\n"
    "# TYPE forkpool_child_restarts_total counter\n"
    "forkpool_child_restarts_total{reason=\"crash\"} 1\n"
    "forkpool_child_restarts_total{reason=\"timeout\"} 0\n"
    "forkpool_child_restarts_total{reason=\"max_jobs\"} 0\n"
    "forkpool_child_restarts_total{reason=\"max_memory\"} 0\n"
    "forkpool_child_restarts_total{reason=\"init_failed\"} 0\n"
    "forkpool_child_restarts_total{reason=\"reload\"} 2\n"
    "# HELP forkpool_children Children by state.\n"
    "# TYPE forkpool_children gauge\n"
    "forkpool_children{state=\"starting\"} 1\n"
    "forkpool_children{state=\"idle\"} 2\n"
    "forkpool_children{state=\"busy\"} 3\n"
    "forkpool_children{state=\"stopping\"} 0\n"
    "# HELP forkpool_children_target Children the pool keeps running (pool.children now).\n"
    "# TYPE forkpool_children_target gauge\n"
    "forkpool_children_target 6\n"
    "# HELP forkpool_scale_events_total Autoscaling decisions, by direction and reason.\n"
    "# TYPE forkpool_scale_events_total counter\n"
    "forkpool_scale_events_total{direction=\"up\",reason=\"backlog\"} 2\n"
    "forkpool_scale_events_total{direction=\"up\",reason=\"min\"} 0\n"
    "forkpool_scale_events_total{direction=\"down\",reason=\"idle\"} 1\n"
    "forkpool_scale_events_total{direction=\"down\",reason=\"max\"} 0\n"
    "# HELP forkpool_queue_ready Jobs in the stream not yet delivered.\n"
    "# TYPE forkpool_queue_ready gauge\n"
    "forkpool_queue_ready{queue=\"default\"} 5\n"
    "# HELP forkpool_queue_pending Jobs delivered to a consumer and not yet acknowledged.\n"
    "# TYPE forkpool_queue_pending gauge\n"
    "forkpool_queue_pending{queue=\"default\"} 2\n"
    "# HELP forkpool_queue_delayed Jobs scheduled for later.\n"
    "# TYPE forkpool_queue_delayed gauge\n"
    "forkpool_queue_delayed{queue=\"default\"} 1\n"
    "# HELP forkpool_queue_dead Jobs in the dead stream.\n"
    "# TYPE forkpool_queue_dead gauge\n"
    "forkpool_queue_dead{queue=\"default\"} 0\n"
    "# HELP forkpool_queue_oldest_age_seconds Age of the oldest ready job.\n"
    "# TYPE forkpool_queue_oldest_age_seconds gauge\n"
    "forkpool_queue_oldest_age_seconds{queue=\"default\"} 1.5\n"
    "# HELP forkpool_job_wait_seconds Time jobs waited from enqueue (or due time) to their start in "
    "a child, by queue.\n"
    "# TYPE forkpool_job_wait_seconds histogram\n"
    "forkpool_job_wait_seconds_bucket{queue=\"default\",le=\"0.005\"} 0\n"
    "forkpool_job_wait_seconds_bucket{queue=\"default\",le=\"0.01\"} 0\n"
    "forkpool_job_wait_seconds_bucket{queue=\"default\",le=\"0.025\"} 0\n"
    "forkpool_job_wait_seconds_bucket{queue=\"default\",le=\"0.05\"} 0\n"
    "forkpool_job_wait_seconds_bucket{queue=\"default\",le=\"0.1\"} 0\n"
    "forkpool_job_wait_seconds_bucket{queue=\"default\",le=\"0.25\"} 1\n"
    "forkpool_job_wait_seconds_bucket{queue=\"default\",le=\"0.5\"} 1\n"
    "forkpool_job_wait_seconds_bucket{queue=\"default\",le=\"1\"} 1\n"
    "forkpool_job_wait_seconds_bucket{queue=\"default\",le=\"2.5\"} 1\n"
    "forkpool_job_wait_seconds_bucket{queue=\"default\",le=\"5\"} 1\n"
    "forkpool_job_wait_seconds_bucket{queue=\"default\",le=\"10\"} 1\n"
    "forkpool_job_wait_seconds_bucket{queue=\"default\",le=\"30\"} 1\n"
    "forkpool_job_wait_seconds_bucket{queue=\"default\",le=\"60\"} 1\n"
    "forkpool_job_wait_seconds_bucket{queue=\"default\",le=\"300\"} 1\n"
    "forkpool_job_wait_seconds_bucket{queue=\"default\",le=\"900\"} 1\n"
    "forkpool_job_wait_seconds_bucket{queue=\"default\",le=\"3600\"} 1\n"
    "forkpool_job_wait_seconds_bucket{queue=\"default\",le=\"+Inf\"} 1\n"
    "forkpool_job_wait_seconds_sum{queue=\"default\"} 0.25\n"
    "forkpool_job_wait_seconds_count{queue=\"default\"} 1\n"
    "# HELP forkpool_ready 1 while the daemon is ready (/readyz answers 200).\n"
    "# TYPE forkpool_ready gauge\n"
    "forkpool_ready 1\n"
    "# HELP forkpool_redis_connected 1 while the supervisor's Redis link is up.\n"
    "# TYPE forkpool_redis_connected gauge\n"
    "forkpool_redis_connected 1\n"
    "# HELP forkpool_redis_commands_total Redis commands the daemon's queue connections sent and got "
    "an answer to or lost.\n"
    "# TYPE forkpool_redis_commands_total counter\n"
    "forkpool_redis_commands_total 40\n"
    "# HELP forkpool_redis_errors_total Redis commands answered with an error or lost without an "
    "answer.\n"
    "# TYPE forkpool_redis_errors_total counter\n"
    "forkpool_redis_errors_total 1\n"
    "# HELP forkpool_jobs_held Jobs the supervisor holds (running or waiting for a child).\n"
    "# TYPE forkpool_jobs_held gauge\n"
    "forkpool_jobs_held 3\n"
    "# HELP forkpool_jobs_held_limit Most jobs the supervisor may hold (what the children run at "
    "once + prefetch, the adaptive hold target when prefetch is auto).\n"
    "# TYPE forkpool_jobs_held_limit gauge\n"
    "forkpool_jobs_held_limit 4\n"
    "# HELP forkpool_jobs_sent_ahead_total Jobs sent to a busy child to wait in its socket behind "
    "the one it runs.\n"
    "# TYPE forkpool_jobs_sent_ahead_total counter\n"
    "forkpool_jobs_sent_ahead_total 7\n"
    "# HELP forkpool_pulls_total Pulls (XREADGROUP) from Redis.\n"
    "# TYPE forkpool_pulls_total counter\n"
    "forkpool_pulls_total 17\n"
    "# HELP forkpool_outcomes_stale_total Job outcomes not applied: the entry was no longer "
    "pending to this daemon.\n"
    "# TYPE forkpool_outcomes_stale_total counter\n"
    "forkpool_outcomes_stale_total 2\n"
    "# HELP forkpool_renewals_lost_total Held entries that claim renewal found deleted from the "
    "stream or held by another consumer.\n"
    "# TYPE forkpool_renewals_lost_total counter\n"
    "forkpool_renewals_lost_total 3\n"
    "# HELP forkpool_reload_failures_total Reloads undone because their children could not start.\n"
    "# TYPE forkpool_reload_failures_total counter\n"
    "forkpool_reload_failures_total 0\n"
    "# HELP forkpool_last_pull_age_seconds Seconds since the last pull.\n"
    "# TYPE forkpool_last_pull_age_seconds gauge\n"
    "forkpool_last_pull_age_seconds 0.5\n"
    "# HELP forkpool_ledger_backlog Job outcomes waiting to be written to the ledger.\n"
    "# TYPE forkpool_ledger_backlog gauge\n"
    "forkpool_ledger_backlog 0\n"
    "# HELP forkpool_ledger_failing 1 while the ledger's writes fail (it retries).\n"
    "# TYPE forkpool_ledger_failing gauge\n"
    "forkpool_ledger_failing 1\n"
    "# HELP forkpool_ledger_rows_dropped_total Ledger rows dropped because they could not be "
    "written (on_error = skip).\n"
    "# TYPE forkpool_ledger_rows_dropped_total counter\n"
    "forkpool_ledger_rows_dropped_total 7\n";

static void test_golden(void **state)
{
    (void)state;
    fp_metrics_t *m = NULL;
    assert_int_equal(fp_metrics_new(0, &m), 0);
    /* 2^-10 s sits in the first bucket; bounds are inclusive (le). */
    assert_int_equal(fp_metrics_job_done(m, "default", "noop", FP_OUTCOME_OK, 0.0009765625), 0);
    assert_int_equal(fp_metrics_job_done(m, "default", "noop", FP_OUTCOME_OK, 0.25), 0);
    assert_int_equal(fp_metrics_job_done(m, "default", "noop", FP_OUTCOME_FAILED, 0.5), 0);
    assert_int_equal(fp_metrics_job_done(m, "default", "noop", FP_OUTCOME_DEAD, -1), 0);
    assert_int_equal(fp_metrics_job_done(m, "default", "noop", FP_OUTCOME_TIMEOUT, 61), 0);
    assert_int_equal(fp_metrics_child_restart(m, FP_RESTART_CRASH), 0);
    assert_int_equal(fp_metrics_child_restart(m, FP_RESTART_RELOAD), 0);
    assert_int_equal(fp_metrics_child_restart(m, FP_RESTART_RELOAD), 0);
    assert_int_equal(fp_metrics_scale_event(m, true, FP_SCALE_BACKLOG), 0);
    assert_int_equal(fp_metrics_scale_event(m, true, FP_SCALE_BACKLOG), 0);
    assert_int_equal(fp_metrics_scale_event(m, false, FP_SCALE_IDLE), 0);
    assert_int_equal(fp_metrics_scale_event(m, false, FP_SCALE_REASONS), -EINVAL);
    fp_metrics_gauges_t g = {.children = {1, 2, 3, 0},
                             .ready = true,
                             .children_target = 6,
                             .redis_commands = 40,
                             .redis_errors = 1,
                             .redis_connected = true,
                             .jobs_held = 3,
                             .jobs_held_limit = 4,
                             .jobs_sent_ahead = 7,
                             .pulls_total = 17,
                             .outcomes_stale = 2,
                             .renewals_lost = 3,
                             .last_pull_age_seconds = 0.5,
                             .ledger_backlog = 0,
                             .ledger_failing = true,
                             .ledger_rows_dropped = 7};
    fp_metrics_set_gauges(m, &g);
    fp_metrics_queue_t q = {5, 2, 1, 0, 1.5};
    assert_int_equal(fp_metrics_set_queue(m, "default", &q), 0);
    assert_int_equal(fp_metrics_job_started(m, "default", "1000-0", 1250), 0);
    char *text = render(m);
    assert_string_equal(text, golden);
    free(text);
    fp_metrics_free(m);
}

static void test_empty_registry_and_unknown_gauges(void **state)
{
    (void)state;
    fp_metrics_t *m = NULL;
    assert_int_equal(fp_metrics_new(0, &m), 0);
    fp_metrics_queue_t q = {-1, -1, -1, -1, -1}; /* Redis unreachable: nothing known */
    assert_int_equal(fp_metrics_set_queue(m, "default", &q), 0);
    char *text = render(m);
    assert_null(strstr(text, "forkpool_jobs_total"));
    assert_null(strstr(text, "forkpool_queue_"));
    assert_null(strstr(text, "forkpool_last_pull_age_seconds")); /* no pull yet */
    assert_null(strstr(text, "forkpool_ledger_backlog"));        /* no ledger */
    assert_null(strstr(text, "forkpool_ledger_rows_dropped_total"));
    assert_non_null(strstr(text, "\nforkpool_redis_connected 0\n"));
    assert_non_null(strstr(text, "forkpool_child_restarts_total{reason=\"max_memory\"} 0\n"));
    free(text);
    /* A queue dropped by a reload disappears once the current ones are set. */
    fp_metrics_queue_t known = {1, 0, 0, 0, 0};
    assert_int_equal(fp_metrics_set_queue(m, "old", &known), 0);
    text = render(m);
    assert_non_null(strstr(text, "forkpool_queue_ready{queue=\"old\"} 1\n"));
    free(text);
    fp_metrics_clear_queues(m);
    assert_int_equal(fp_metrics_set_queue(m, "new", &known), 0);
    text = render(m);
    assert_null(strstr(text, "forkpool_queue_ready{queue=\"old\"}"));
    assert_non_null(strstr(text, "forkpool_queue_ready{queue=\"new\"} 1\n"));
    free(text);
    fp_metrics_free(m);
}

static void test_label_values_escaped(void **state)
{
    (void)state;
    fp_metrics_t *m = NULL;
    assert_int_equal(fp_metrics_new(0, &m), 0);
    assert_int_equal(fp_metrics_job_done(m, "q\"1", "a\\b\"c\nd", FP_OUTCOME_OK, 0.002), 0);
    assert_int_equal(fp_metrics_job_done(m, "q", "caf\xc3\xa9 {x=\"y\"}", FP_OUTCOME_OK, 0), 0);
    fp_metrics_queue_t q = {1, 2, 3, 4, 5};
    assert_int_equal(fp_metrics_set_queue(m, "back\\slash", &q), 0);
    char *text = render(m);
    assert_non_null(strstr(
        text, "forkpool_jobs_total{queue=\"q\\\"1\",type=\"a\\\\b\\\"c\\nd\",outcome=\"ok\"} 1\n"));
    assert_non_null(
        strstr(text, "forkpool_jobs_total{queue=\"q\",type=\"caf\xc3\xa9 {x=\\\"y\\\"}\","
                     "outcome=\"ok\"} 1\n"));
    assert_non_null(strstr(text, "forkpool_queue_dead{queue=\"back\\\\slash\"} 4\n"));
    /* No raw newline inside any sample: every line is one sample or comment. */
    assert_int_equal(fp_metrics_label_sets(m), 2);
    free(text);
    fp_metrics_free(m);
}

/* The value of the sample line that starts with prefix; fails when absent. */
static double sample_value(const char *text, const char *prefix)
{
    const char *p = text;
    size_t n = strlen(prefix);
    while (p != NULL && *p != '\0') {
        if (strncmp(p, prefix, n) == 0)
            return strtod(p + n, NULL);
        p = strchr(p, '\n');
        p = p != NULL ? p + 1 : NULL;
    }
    fail_msg("no sample %s", prefix);
    return 0;
}

static void test_histogram_cumulative(void **state)
{
    (void)state;
    fp_metrics_t *m = NULL;
    assert_int_equal(fp_metrics_new(0, &m), 0);
    /* One observation exactly on each bound, one just above, plus extremes. */
    double sum = 0;
    size_t count = 0;
    for (int b = 0; b < (int)fp_hist_run_bounds.n; b++) {
        double on = fp_hist_run_bounds.le[b], above = on * 1.01;
        assert_int_equal(fp_metrics_job_done(m, "q", "t", FP_OUTCOME_OK, on), 0);
        assert_int_equal(fp_metrics_job_done(m, "q", "t", FP_OUTCOME_RETRIED, above), 0);
        sum += on + above;
        count += 2;
    }
    assert_int_equal(fp_metrics_job_done(m, "q", "t", FP_OUTCOME_OK, 0), 0);
    assert_int_equal(fp_metrics_job_done(m, "q", "t", FP_OUTCOME_CRASHED, 3600), 0);
    assert_int_equal(fp_metrics_job_done(m, "q", "t", FP_OUTCOME_DEAD, NAN), 0); /* not observed */
    assert_int_equal(fp_metrics_job_done(m, "q", "t", FP_OUTCOME_OK + 99, 1), -EINVAL);
    sum += 3600;
    count += 2;
    char *text = render(m);
    double previous = 0;
    for (int b = 0; b <= (int)fp_hist_run_bounds.n; b++) {
        char prefix[160];
        if (b < (int)fp_hist_run_bounds.n)
            snprintf(prefix, sizeof prefix,
                     "forkpool_job_duration_seconds_bucket{queue=\"q\",type=\"t\",le=\"%g\"} ",
                     fp_hist_run_bounds.le[b]);
        else
            snprintf(prefix, sizeof prefix,
                     "forkpool_job_duration_seconds_bucket{queue=\"q\",type=\"t\",le=\"+Inf\"} ");
        double v = sample_value(text, prefix);
        /* Bucket b holds 0, every bound up to b and every "above" below b. */
        double want = b < (int)fp_hist_run_bounds.n ? 1 + (b + 1) + b : (double)count;
        assert_true(v >= previous);
        if (v != want)
            fail_msg("bucket %d: %g, want %g", b, v, want);
        previous = v;
    }
    assert_true(sample_value(text, "forkpool_job_duration_seconds_count{queue=\"q\",type=\"t\"} ") ==
                (double)count);
    double got_sum = sample_value(text, "forkpool_job_duration_seconds_sum{queue=\"q\",type=\"t\"} ");
    assert_true(fabs(got_sum - sum) < 1e-9);
    assert_true(sample_value(text, "forkpool_jobs_total{queue=\"q\",type=\"t\",outcome=\"dead\"} ") ==
                1);
    assert_true(
        sample_value(text, "forkpool_jobs_total{queue=\"q\",type=\"t\",outcome=\"retried\"} ") ==
        (int)fp_hist_run_bounds.n);
    free(text);
    fp_metrics_free(m);
}

/* Sum of every jobs_total sample. */
static double jobs_total(const char *text)
{
    double total = 0;
    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, "forkpool_jobs_total{", 20) == 0)
            total += strtod(strchr(p, '}') + 2, NULL);
        p = strchr(p, '\n');
        p = p != NULL ? p + 1 : NULL;
    }
    return total;
}

static void test_label_sets_bounded(void **state)
{
    (void)state;
    fp_metrics_t *m = NULL;
    assert_int_equal(fp_metrics_new(10, &m), 0);
    char type[32];
    for (int i = 0; i < 50; i++) {
        snprintf(type, sizeof type, "random-%d", i);
        assert_int_equal(fp_metrics_job_done(m, "q", type, FP_OUTCOME_OK, 0.01), 0);
    }
    /* Ten of their own, then one ("q", "other") for the other forty. */
    assert_int_equal(fp_metrics_label_sets(m), 11);
    char *text = render(m);
    assert_true(sample_value(text, "forkpool_jobs_total{queue=\"q\",type=\"random-9\",outcome="
                                   "\"ok\"} ") == 1);
    assert_null(strstr(text, "random-10\""));
    assert_true(sample_value(text, "forkpool_jobs_total{queue=\"q\",type=\"other\",outcome="
                                   "\"ok\"} ") == 40);
    free(text);
    /* A set seen before the bound keeps counting as itself. */
    assert_int_equal(fp_metrics_job_done(m, "q", "random-3", FP_OUTCOME_OK, 0.01), 0);
    /* Random queues too: each gets its overflow set while the reserve lasts,
     * then everything lands in ("other", "other"); the count never grows past
     * the bound plus the reserve plus one. */
    for (int i = 0; i < 5000; i++) {
        char queue[32];
        snprintf(queue, sizeof queue, "queue-%d", i);
        snprintf(type, sizeof type, "type-%d", i);
        assert_int_equal(fp_metrics_job_done(m, queue, type, FP_OUTCOME_FAILED, 1), 0);
    }
    size_t sets = fp_metrics_label_sets(m);
    assert_true(sets > 11 && sets <= 10 + 64 + 1);
    text = render(m);
    assert_true(jobs_total(text) == 50 + 1 + 5000);
    assert_non_null(strstr(text, "{queue=\"other\",type=\"other\",outcome=\"failed\"}"));
    free(text);
    fp_metrics_free(m);
}

static void test_bad_labels_fold_intoother(void **state)
{
    (void)state;
    fp_metrics_t *m = NULL;
    assert_int_equal(fp_metrics_new(0, &m), 0);
    char longtype[FP_METRICS_LABEL_MAX + 2];
    memset(longtype, 'x', sizeof longtype - 1);
    longtype[sizeof longtype - 1] = '\0';
    assert_int_equal(fp_metrics_job_done(m, "q", longtype, FP_OUTCOME_OK, 0), 0);
    assert_int_equal(fp_metrics_job_done(m, "q", "bad\xff", FP_OUTCOME_OK, 0), 0);
    assert_int_equal(fp_metrics_job_done(m, "q", "", FP_OUTCOME_OK, 0), 0);
    assert_int_equal(fp_metrics_job_done(m, "q", NULL, FP_OUTCOME_OK, 0), 0);
    assert_int_equal(fp_metrics_job_done(m, NULL, "t", FP_OUTCOME_OK, 0), 0);
    longtype[FP_METRICS_LABEL_MAX] = '\0'; /* exactly the limit: kept */
    assert_int_equal(fp_metrics_job_done(m, "q", longtype, FP_OUTCOME_OK, 0), 0);
    assert_int_equal(fp_metrics_label_sets(m), 3);
    char *text = render(m);
    assert_true(sample_value(text, "forkpool_jobs_total{queue=\"q\",type=\"other\",outcome="
                                   "\"ok\"} ") == 4);
    assert_true(sample_value(text, "forkpool_jobs_total{queue=\"other\",type=\"t\",outcome="
                                   "\"ok\"} ") == 1);
    free(text);
    fp_metrics_free(m);
}

static size_t allocated_bytes(void)
{
#ifdef __SANITIZE_ADDRESS__
    return __sanitizer_get_current_allocated_bytes();
#else
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
#endif
}

static void test_hot_path_does_not_allocate(void **state)
{
    (void)state;
    fp_metrics_t *m = NULL;
    assert_int_equal(fp_metrics_new(0, &m), 0);
    static const char *const types[] = {"noop", "sleep", "echo", "record_event"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(fp_metrics_job_done(m, "default", types[i], FP_OUTCOME_OK, 0.1), 0);
    size_t before = allocated_bytes();
    for (int i = 0; i < 100000; i++)
        assert_int_equal(fp_metrics_job_done(m, "default", types[i % 4],
                                             (fp_metrics_outcome_t)(i % FP_OUTCOME_COUNT),
                                             (double)(i % 70)),
                         0);
    assert_int_equal(allocated_bytes(), before);
    fp_metrics_free(m);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(fp_metrics_outcome_name(FP_OUTCOME_CRASHED), "crashed");
    assert_null(fp_metrics_outcome_name(FP_OUTCOME_COUNT));
    assert_string_equal(fp_metrics_restart_name(FP_RESTART_INIT_FAILED), "init_failed");
    assert_string_equal(fp_metrics_child_name(FP_MCHILD_STOPPING), "stopping");
    assert_int_equal(fp_metrics_outcome_parse("timeout"), FP_OUTCOME_TIMEOUT);
    assert_int_equal(fp_metrics_outcome_parse("bogus"), -1);
    fp_metrics_t *m = NULL;
    assert_int_equal(fp_metrics_new(0, &m), 0);
    assert_int_equal(fp_metrics_child_restart(m, FP_RESTART_COUNT), -EINVAL);
    fp_metrics_free(m);
}

static void test_special_values(void **state)
{
    (void)state;
    fp_metrics_t *m = NULL;
    assert_int_equal(fp_metrics_new(0, &m), 0);
    fp_metrics_gauges_t g = {.last_pull_age_seconds = 0.1, .ledger_backlog = -1};
    fp_metrics_set_gauges(m, &g);
    fp_metrics_queue_t q = {0, 0, 0, 0, INFINITY};
    assert_int_equal(fp_metrics_set_queue(m, "q", &q), 0);
    char *text = render(m);
    assert_non_null(strstr(text, "\nforkpool_last_pull_age_seconds 0.1\n")); /* shortest form */
    assert_non_null(strstr(text, "forkpool_queue_oldest_age_seconds{queue=\"q\"} +Inf\n"));
    free(text);
    fp_metrics_free(m);
    assert_int_equal(fp_metrics_new((size_t)1 << 30, &m), -EINVAL);
    assert_null(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validator_rejects_bad_text),
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_empty_registry_and_unknown_gauges),
        cmocka_unit_test(test_label_values_escaped),
        cmocka_unit_test(test_histogram_cumulative),
        cmocka_unit_test(test_label_sets_bounded),
        cmocka_unit_test(test_bad_labels_fold_intoother),
        cmocka_unit_test(test_hot_path_does_not_allocate),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_special_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
