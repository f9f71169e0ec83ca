/* cmd_jobs.c: `forkpool jobs`, the job ledger newest first, as a table for
 * people or one JSON object per line for programs. The table is printed a
 * page at a time (columns sized from the first page), so any --limit works in
 * bounded memory. Text from the ledger comes from job payloads and handler
 * errors: the table shows it with control bytes blanked and invalid UTF-8 as
 * '?', and --json emits it as valid UTF-8 whatever the file holds. Usage
 * errors come before the configuration: 64, then 78; a disabled or missing
 * ledger is 1. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "base/term.h"
#include "base/units.h"
#include "ledger/ledger_query.h"
#include "base/os.h"
#include "base/utf8.h"

#define JOBS_DEFAULT_LIMIT 50
#define JOBS_LIMIT_MAX 1000000000LL
#define JOBS_PAGE 1000 /* table rows buffered to size the columns */

typedef struct jobs_args_s {
    fp_ledger_filter_t filter;
    bool json;
} jobs_args_t;

enum { OPT_OUTCOME = 256, OPT_TYPE, OPT_SINCE, OPT_LIMIT, OPT_JSON };

static int on_option(void *args, int id, const char *name, const char *value, fp_err_t *err)
{
    jobs_args_t *a = args;
    long long limit;
    int64_t since_ms;
    (void)name;
    switch (id) {
    case OPT_OUTCOME:
        if (!fp_ledger_outcome_valid(value))
            return fp_err_set(err, FP_EUSAGE,
                              "unknown outcome \"%s\" (ok, failed, retried, dead, timeout or "
                              "crashed)",
                              value);
        a->filter.outcome = value;
        break;
    case OPT_TYPE:
        if (value[0] == '\0')
            return fp_err_set(err, FP_EUSAGE, "--type must not be empty");
        a->filter.type = value;
        break;
    case OPT_SINCE:
        if (fp_cli_parse_duration("--since", value, &since_ms, err) < 0)
            return FP_EUSAGE;
        /* "0" would mean "since now": nothing; a start before 1970 is "all". */
        a->filter.since_unix_ms = fp_os_unix_ms() - since_ms;
        if (a->filter.since_unix_ms <= 0)
            a->filter.since_unix_ms = 0;
        break;
    case OPT_LIMIT:
        if (fp_cli_parse_count("--limit", value, JOBS_LIMIT_MAX, &limit, err) < 0)
            return FP_EUSAGE;
        a->filter.limit = limit;
        break;
    case OPT_JSON: a->json = true; break;
    }
    return 0;
}

static const struct option options[] = {
    {"config", required_argument, NULL, 'c'}, {"outcome", required_argument, NULL, OPT_OUTCOME},
    {"type", required_argument, NULL, OPT_TYPE}, {"since", required_argument, NULL, OPT_SINCE},
    {"limit", required_argument, NULL, OPT_LIMIT}, {"json", no_argument, NULL, OPT_JSON},
    {NULL, 0, NULL, 0},
};
static const fp_cli_spec_t spec = {options, on_option, NULL, "wrong number of arguments"};

/* ---- table --------------------------------------------------------------- */


/* A table cell; NULL shows "-". */
static size_t cell(const char *s, size_t cols, char *out, size_t cap)
{
    if (s == NULL)
        s = "-";
    return fp_term_cell(s, strlen(s), cols, out, cap);
}

static size_t text_cols(const char *s, size_t max)
{
    char buf[512];
    return cell(s, max, buf, sizeof buf);
}


/* Unix ms as 2024-05-01T12:34:56.789Z, or "-". */
static void format_iso(int64_t ms, char *out, size_t cap)
{
    struct tm tm;
    time_t sec = (time_t)(ms / 1000);
    if (ms <= 0 || gmtime_r(&sec, &tm) == NULL) {
        snprintf(out, cap, "-");
        return;
    }
    int n = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    if (n < 0 || (size_t)n >= cap)
        snprintf(out, cap, "-"); /* a year past 9999: no cut-off date */
}

/* A row kept for the page: one allocation for its strings, like the writer's. */
typedef struct kept_s {
    fp_ledger_row_t row;
    char *text;
} kept_t;

typedef struct table_s {
    kept_t rows[JOBS_PAGE];
    size_t n, shown;
    bool started;
    size_t w_queue, w_type, w_job, w_error;
} table_t;

static int keep(kept_t *k, const fp_ledger_row_t *r)
{
    /* One byte more: never malloc(0) for a row without texts. */
    k->text = malloc(fp_ledger_row_text_size(r) + 1);
    if (k->text == NULL)
        return -ENOMEM;
    fp_ledger_row_pack(&k->row, r, k->text);
    return 0;
}

static const char *job_label(const fp_ledger_row_t *r)
{
    return r->job_id != NULL ? r->job_id : r->entry_id;
}

static size_t max_size(size_t a, size_t b)
{
    return a > b ? a : b;
}

/* Column widths from the first page: queue, type and job at most 20, 24 and
 * 36 characters (a UUID), the error gets what the terminal has left. */
static void size_columns(table_t *t)
{
    t->w_queue = strlen("QUEUE");
    t->w_type = strlen("TYPE");
    t->w_job = strlen("JOB");
    for (size_t i = 0; i < t->n; i++) {
        const fp_ledger_row_t *r = &t->rows[i].row;
        t->w_queue = max_size(t->w_queue, text_cols(r->queue, 20));
        t->w_type = max_size(t->w_type, text_cols(r->type, 24));
        t->w_job = max_size(t->w_job, text_cols(job_label(r), 36));
    }
    size_t used = 24 + 2 + t->w_queue + 2 + t->w_type + 2 + t->w_job + 2 + 7 + 2 + 7 + 2 + 12 +
                  2 + 8 + 2;
    size_t width = fp_term_width();
    t->w_error = width > used + 20 ? width - used : 20;
}

static void put_cell(const char *s, size_t width)
{
    char buf[1024];
    size_t cols = cell(s, width, buf, sizeof buf);
    fputs(buf, stdout);
    for (; cols < width; cols++)
        putchar(' ');
    fputs("  ", stdout);
}

static void print_row(const table_t *t, const fp_ledger_row_t *r)
{
    char when[40], buf[1024];
    format_iso(r->finished_at_ms, when, sizeof when);
    printf("%-24s  ", when);
    put_cell(r->queue, t->w_queue);
    put_cell(r->type, t->w_type);
    put_cell(job_label(r), t->w_job);
    put_cell(r->outcome, 7);
    int64_t us = r->duration_us;
    printf("%7" PRId64 "  %8" PRId64 ".%03d  ", r->attempt, us / 1000, (int)(us % 1000 + 1000) % 1000);
    if (r->pid > 0)
        printf("%8" PRId64 "  ", r->pid);
    else
        printf("%8s  ", "-");
    cell(r->error, t->w_error, buf, sizeof buf);
    printf("%s\n", buf);
}

static void flush_page(table_t *t)
{
    if (!t->started && t->n > 0) {
        size_columns(t);
        printf("%-24s  %-*s  %-*s  %-*s  %-7s  %7s  %12s  %8s  %s\n", "FINISHED (UTC)",
               (int)t->w_queue, "QUEUE", (int)t->w_type, "TYPE", (int)t->w_job, "JOB",
               "OUTCOME", "ATTEMPT", "DURATION MS", "PID", "ERROR");
        t->started = true;
    }
    for (size_t i = 0; i < t->n; i++) {
        print_row(t, &t->rows[i].row);
        free(t->rows[i].text);
    }
    t->shown += t->n;
    t->n = 0;
}

static int on_table_row(void *arg, int64_t id, const fp_ledger_row_t *row, fp_err_t *err)
{
    table_t *t = arg;
    (void)id;
    if (keep(&t->rows[t->n], row) < 0)
        return fp_err_set(err, -ENOMEM, "out of memory");
    if (++t->n == JOBS_PAGE)
        flush_page(t);
    return 0;
}

/* ---- JSON ---------------------------------------------------------------- */

/* s as valid UTF-8 for JSON (invalid bytes become U+FFFD), null for NULL. */
static cJSON *json_text(const char *s)
{
    static const char replacement[] = "\xef\xbf\xbd";
    if (s == NULL)
        return cJSON_CreateNull();
    size_t len = strlen(s), n = 0;
    if (fp_utf8_valid(s, len))
        return cJSON_CreateString(s);
    char *out = malloc(len * 3 + 1);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len;) {
        size_t ok = fp_utf8_valid_prefix(s + i, len - i);
        memcpy(out + n, s + i, ok);
        n += ok;
        i += ok;
        if (i < len) {
            memcpy(out + n, replacement, 3);
            n += 3;
            i++;
        }
    }
    out[n] = '\0';
    cJSON *item = cJSON_CreateString(out);
    free(out);
    return item;
}

/* Whole numbers printed with every digit (cJSON holds numbers as doubles);
 * 0 for an unknown time or pid is null. */
static cJSON *json_int(int64_t v, bool zero_is_null)
{
    if (v == 0 && zero_is_null)
        return cJSON_CreateNull();
    char digits[24];
    snprintf(digits, sizeof digits, "%" PRId64, v);
    return cJSON_CreateRaw(digits);
}

static int on_json_row(void *arg, int64_t id, const fp_ledger_row_t *r, fp_err_t *err)
{
    (void)arg;
    cJSON *o = cJSON_CreateObject();
    bool ok = o != NULL && fp_cli_json_add(o, "id", json_int(id, false)) &&
              fp_cli_json_add(o, "queue", json_text(r->queue)) &&
              fp_cli_json_add(o, "entry_id", json_text(r->entry_id)) &&
              fp_cli_json_add(o, "job_id", json_text(r->job_id)) &&
              fp_cli_json_add(o, "type", json_text(r->type)) &&
              fp_cli_json_add(o, "outcome", json_text(r->outcome)) &&
              fp_cli_json_add(o, "attempt", json_int(r->attempt, false)) &&
              fp_cli_json_add(o, "enqueued_at", json_int(r->enqueued_at_ms, true)) &&
              fp_cli_json_add(o, "started_at", json_int(r->started_at_ms, true)) &&
              fp_cli_json_add(o, "finished_at", json_int(r->finished_at_ms, true)) &&
              fp_cli_json_add(o, "duration_us", json_int(r->duration_us, false)) &&
              fp_cli_json_add(o, "pid", json_int(r->pid, true)) &&
              fp_cli_json_add(o, "error", json_text(r->error));
    return fp_cli_print_json_line(o, ok, err);
}

int fp_cmd_jobs(int argc, char **argv, fp_err_t *err)
{
    jobs_args_t a = {.filter = {.limit = JOBS_DEFAULT_LIMIT}};
    fp_config_t *cfg = NULL;
    int rc = fp_cli_begin(argc, argv, &spec, &a, &cfg, err);
    if (rc < 0)
        return rc;
    if (cfg->ledger.path == NULL || cfg->ledger.path[0] == '\0') {
        fp_config_free(cfg);
        return fp_err_set(err, -ENOENT,
                          "the ledger is disabled (ledger.path is empty); set it and run the "
                          "daemon to record jobs");
    }
    if (a.json) {
        rc = fp_ledger_query(cfg->ledger.path, &a.filter, on_json_row, NULL, err);
    } else {
        table_t *t = calloc(1, sizeof *t);
        if (t == NULL) {
            fp_config_free(cfg);
            return fp_err_set(err, -ENOMEM, "out of memory");
        }
        rc = fp_ledger_query(cfg->ledger.path, &a.filter, on_table_row, t, err);
        if (rc == 0) {
            flush_page(t);
            if (t->shown == 0)
                printf("no jobs in %s match\n", cfg->ledger.path);
        }
        for (size_t i = 0; i < t->n; i++)
            free(t->rows[i].text);
        free(t);
    }
    fp_config_free(cfg);
    return rc;
}
