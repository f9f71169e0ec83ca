/* cmd_dead.c: `forkpool dead list|retry|purge`, the operator's tools for the
 * dead stream P:{Q}:dead. All three walk it oldest first a page at a time
 * (admin.c), so any size works in bounded memory. retry turns each payload
 * back into a new job by cutting "attempt" and "last_error" out of the text
 * (never re-printing it: cJSON would round big integers in args), skips
 * payloads that would only die again (what fp_job_parse rejects) unless
 * --force, and moves each page with one guarded script so that concurrent
 * retries never duplicate a job. purge demands --limit or --all, so a typo
 * cannot empty the stream. Usage errors come before the configuration, which
 * comes before Redis: 64, 78, 69.
 *
 * On the embedded queue the same walk, pages and output run over the queue
 * file's dead rows (queue/dead_src.h; a row's id is its entry id); the file
 * is never created here: a missing one is "no embedded queue at PATH". */
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

#include "queue/admin.h"
#include "queue/dead_fresh.h"
#include "queue/dead_src.h"
#include "cli.h"
#include "base/term.h"
#include "field.h"
#include "dispatch/job.h"
#include "base/json.h"
#include "base/utf8.h"

#define LIST_DEFAULT_LIMIT 100
#define LIMIT_MAX 1000000000LL
#define READ_PAGE 1000 /* entries per XRANGE for list and purge */
#define NO_LIMIT (-1LL)

typedef enum { ACTION_LIST, ACTION_RETRY, ACTION_PURGE } action_t;

typedef struct dead_args_s {
    const char *queue; /* NULL: the first of queues.names */
    action_t action;
    long long limit;   /* NO_LIMIT: every entry */
    bool limit_given, all, json, force;
} dead_args_t;

typedef struct dead_ctx_s {
    const dead_args_t *args;
    const fp_config_t *cfg;
    const char *queue;
    fp_dead_src_t src; /* Redis or the embedded queue's file */
} dead_ctx_t;

/* Called with each page of entries, oldest first. */
typedef int (*page_fn)(dead_ctx_t *c, const fp_dead_entry_t *e, size_t n, void *state,
                       fp_err_t *err);

/* ---- options -------------------------------------------------------------- */

static int parse_action(const char *word, action_t *out, fp_err_t *err)
{
    static const char *const names[] = {"list", "retry", "purge"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(word, names[i]) == 0) {
            *out = (action_t)i;
            return 0;
        }
    }
    return fp_err_set(err, FP_EUSAGE, "unknown action \"%s\" (list, retry or purge)", word);
}

enum { OPT_QUEUE = 256, OPT_LIMIT, OPT_ALL, OPT_JSON, OPT_FORCE };

static int on_option(void *args, int id, const char *name, const char *value, fp_err_t *err)
{
    dead_args_t *a = args;
    (void)name;
    switch (id) {
    case OPT_QUEUE: return fp_cli_parse_queue(value, &a->queue, err);
    case OPT_LIMIT:
        if (fp_cli_parse_count("--limit", value, LIMIT_MAX, &a->limit, err) < 0)
            return FP_EUSAGE;
        a->limit_given = true;
        break;
    case OPT_ALL: a->all = true; break;
    case OPT_JSON: a->json = true; break;
    case OPT_FORCE: a->force = true; break;
    }
    return 0;
}

/* Which options go with which action, and each action's default limit. */
static int check_combination(dead_args_t *a, fp_err_t *err)
{
    if (a->json && a->action != ACTION_LIST)
        return fp_err_set(err, FP_EUSAGE, "--json goes with 'list' only");
    if (a->force && a->action != ACTION_RETRY)
        return fp_err_set(err, FP_EUSAGE, "--force goes with 'retry' only");
    if (a->all && a->limit_given)
        return fp_err_set(err, FP_EUSAGE, "--limit and --all cannot be combined");
    if (a->action == ACTION_PURGE && !a->all && !a->limit_given)
        return fp_err_set(err, FP_EUSAGE,
                          "purge needs --limit N or --all (so that a typo cannot empty the "
                          "dead stream)");
    if (a->all)
        a->limit = NO_LIMIT;
    else if (!a->limit_given)
        a->limit = a->action == ACTION_LIST ? LIST_DEFAULT_LIMIT : NO_LIMIT;
    return 0;
}

/* ACTION: list, retry or purge. */
static int on_operands(void *args, int n, char **words, fp_err_t *err)
{
    dead_args_t *a = args;
    if (n != 1)
        return fp_err_set(err, FP_EUSAGE, n == 0 ? "which action: list, retry or purge?"
                                                 : "wrong number of arguments");
    int rc = parse_action(words[0], &a->action, err);
    if (rc < 0)
        return rc;
    return check_combination(a, err);
}

static const struct option options[] = {
    {"config", required_argument, NULL, 'c'}, {"queue", required_argument, NULL, OPT_QUEUE},
    {"limit", required_argument, NULL, OPT_LIMIT}, {"all", no_argument, NULL, OPT_ALL},
    {"json", no_argument, NULL, OPT_JSON},     {"force", no_argument, NULL, OPT_FORCE},
    {NULL, 0, NULL, 0},
};
static const fp_cli_spec_t spec = {options, on_option, on_operands, NULL};

/* ---- the dead entries, on Redis or in the queue file (queue/dead_src.h) ---------- */

static int dead_count(dead_ctx_t *c, long long *out, fp_err_t *err)
{
    return fp_dead_src_count(&c->src, c->queue, out, err);
}

static int dead_last_id(dead_ctx_t *c, char *out, size_t cap, fp_err_t *err)
{
    return fp_dead_src_last_id(&c->src, c->queue, out, cap, err);
}

static int dead_read(dead_ctx_t *c, const char *after, const char *until, size_t count,
                     fp_dead_entry_t **out, size_t *n, fp_err_t *err)
{
    return fp_dead_src_read(&c->src, c->queue, after, until, count, out, n, err);
}

static int dead_delete(dead_ctx_t *c, const char *const *ids, size_t n, size_t *deleted,
                       fp_err_t *err)
{
    return fp_dead_src_delete(&c->src, c->queue, ids, n, deleted, err);
}

/* ---- walking the dead stream ------------------------------------------------ */

/* Hands fn the dead entries oldest first, page entries at a time, up to the
 * limit. Pages follow the last id seen (exclusive), so entries that fn (or
 * another operator) deletes meanwhile neither stop nor repeat the walk. It
 * ends at the newest entry there was when it began: a retried job that a
 * running daemon kills again lands after that, and must not be retried over
 * and over by the same command. */
static int walk(dead_ctx_t *c, size_t page, page_fn fn, void *state, fp_err_t *err)
{
    char cursor[128] = "", until[128];
    long long left = c->args->limit;
    int rc = dead_last_id(c, until, sizeof until, err);
    if (rc < 0 || until[0] == '\0')
        return rc;
    for (;;) {
        size_t want = page;
        if (left != NO_LIMIT && (long long)want > left)
            want = (size_t)left;
        if (want == 0)
            return 0;
        fp_dead_entry_t *e = NULL;
        size_t n = 0;
        rc = dead_read(c, cursor[0] != '\0' ? cursor : NULL, until, want, &e, &n, err);
        if (rc == 0 && n > 0) {
            snprintf(cursor, sizeof cursor, "%s", e[n - 1].id);
            rc = fn(c, e, n, state, err);
        }
        fp_admin_dead_free(e, n);
        if (rc < 0 || n < want)
            return rc;
        if (left != NO_LIMIT)
            left -= (long long)n;
    }
}

/* ---- payloads ---------------------------------------------------------------- */

/* The payload as a fresh job (queue/dead_fresh.h, shared with the status
 * page's retry). */
static int fresh_job(const fp_config_t *cfg, const fp_admin_field_t *payload, char **text,
                     size_t *len, fp_job_t *job, fp_err_t *why)
{
    return fp_dead_fresh_job((size_t)cfg->limits.max_job_bytes, payload, text, len, job, why);
}

/* ---- list ---------------------------------------------------------------------- */

typedef struct table_s {
    bool started;
    size_t w_id, w_consumer, w_job, w_error;
    size_t shown;
} table_t;


/* "type id=ID" of a valid job, else "(invalid payload)"; owned. */
static char *job_label(const dead_ctx_t *c, const fp_dead_entry_t *e)
{
    char *text = NULL, *label = NULL;
    size_t len;
    fp_job_t job;
    fp_err_t why;
    int rc = fresh_job(c->cfg, &e->job, &text, &len, &job, &why);
    if (rc == 0 && asprintf(&label, "%s%s%s", job.type, job.id != NULL ? " id=" : "",
                            job.id != NULL ? job.id : "") < 0)
        label = NULL;
    else if (rc != 0 && rc != -ENOMEM)
        label = strdup("(invalid payload)");
    fp_job_clear(&job);
    free(text);
    return label;
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* Column widths from the first page: ids are never cut, consumer and job
 * at most 24 and 40 characters, the error gets what the terminal has left. */
static void size_columns(table_t *t, const fp_dead_entry_t *e, size_t n, char **labels)
{
    t->w_id = strlen("ENTRY ID");
    t->w_consumer = strlen("CONSUMER");
    t->w_job = strlen("JOB");
    for (size_t i = 0; i < n; i++) {
        t->w_id = strlen(e[i].id) > t->w_id ? strlen(e[i].id) : t->w_id;
        t->w_consumer = e[i].consumer.s != NULL && e[i].consumer.len > t->w_consumer
                            ? min_size(e[i].consumer.len, 24)
                            : t->w_consumer;
        size_t lj = labels[i] != NULL ? strlen(labels[i]) : 0;
        t->w_job = lj > t->w_job ? min_size(lj, 40) : t->w_job;
    }
    size_t used = t->w_id + 2 + 24 + 2 + 8 + 2 + t->w_consumer + 2 + t->w_job + 2;
    size_t width = fp_term_width();
    t->w_error = width > used + 30 ? width - used : 30;
}

static void put_padded(const char *text, size_t cols, size_t width)
{
    fputs(text, stdout);
    for (; cols < width; cols++)
        putchar(' ');
    fputs("  ", stdout);
}

static void print_row(const table_t *t, const fp_dead_entry_t *e, const char *label)
{
    char buf[1024], when[40];
    int64_t attempts;
    put_padded(e->id, strlen(e->id), t->w_id);
    if (!fp_field_iso(&e->failed_at, when, sizeof when))
        fp_term_cell(e->failed_at.s != NULL ? e->failed_at.s : "-",
             e->failed_at.s != NULL ? e->failed_at.len : 1, 24, when, sizeof when);
    put_padded(when, strlen(when), 24);
    if (fp_field_int(&e->attempts, &attempts))
        snprintf(buf, sizeof buf, "%8" PRId64, attempts);
    else
        snprintf(buf, sizeof buf, "%8s", "-");
    put_padded(buf, 8, 8);
    const fp_admin_field_t *who = &e->consumer;
    size_t cols = fp_term_cell(who->s != NULL ? who->s : "-", who->s != NULL ? who->len : 1, t->w_consumer,
                       buf, sizeof buf);
    put_padded(buf, cols, t->w_consumer);
    cols = fp_term_cell(label, strlen(label), t->w_job, buf, sizeof buf);
    put_padded(buf, cols, t->w_job);
    const fp_admin_field_t *why = &e->error;
    fp_term_cell(why->s != NULL ? why->s : "-", why->s != NULL ? why->len : 1, t->w_error, buf, sizeof buf);
    printf("%s\n", buf);
}

static int list_table_page(dead_ctx_t *c, const fp_dead_entry_t *e, size_t n, void *state,
                           fp_err_t *err)
{
    table_t *t = state;
    char **labels = calloc(n, sizeof *labels);
    int rc = labels != NULL ? 0 : fp_err_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n && rc == 0; i++)
        if ((labels[i] = job_label(c, &e[i])) == NULL)
            rc = fp_err_set(err, -ENOMEM, "out of memory");
    if (rc == 0 && !t->started) {
        size_columns(t, e, n, labels);
        printf("%-*s  %-24s  %8s  %-*s  %-*s  %s\n", (int)t->w_id, "ENTRY ID", "FAILED AT (UTC)",
               "ATTEMPTS", (int)t->w_consumer, "CONSUMER", (int)t->w_job, "JOB", "ERROR");
        t->started = true;
    }
    for (size_t i = 0; i < n && rc == 0; i++)
        print_row(t, &e[i], labels[i]);
    if (rc == 0)
        t->shown += n;
    for (size_t i = 0; labels != NULL && i < n; i++)
        free(labels[i]);
    free(labels);
    return rc;
}

static int print_json_line(const dead_ctx_t *c, const fp_dead_entry_t *e, fp_err_t *err)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o != NULL && fp_cli_json_add(o, "id", cJSON_CreateString(e->id)) &&
              fp_cli_json_add(o, "queue", cJSON_CreateString(c->queue)) &&
              fp_cli_json_add(o, "job", fp_field_json_job(&e->job)) && fp_cli_json_add(o, "error", fp_field_json_text(&e->error)) &&
              fp_cli_json_add(o, "attempts", fp_field_json_int(&e->attempts)) &&
              fp_cli_json_add(o, "failed_at", fp_field_json_int(&e->failed_at)) &&
              fp_cli_json_add(o, "consumer", fp_field_json_text(&e->consumer));
    return fp_cli_print_json_line(o, ok, err);
}

static int list_json_page(dead_ctx_t *c, const fp_dead_entry_t *e, size_t n, void *state,
                          fp_err_t *err)
{
    table_t *t = state;
    for (size_t i = 0; i < n; i++) {
        int rc = print_json_line(c, &e[i], err);
        if (rc < 0)
            return rc;
        t->shown++;
    }
    return 0;
}

static int run_list(dead_ctx_t *c, fp_err_t *err)
{
    long long total = 0;
    table_t t = {0};
    int rc = dead_count(c, &total, err);
    if (rc == 0)
        rc = walk(c, READ_PAGE, c->args->json ? list_json_page : list_table_page, &t, err);
    if (rc == 0 && !c->args->json)
        printf("%lld dead jobs in %s (showing %zu)\n", total, c->queue, t.shown);
    return rc;
}

/* ---- retry ----------------------------------------------------------------------- */

typedef struct retry_state_s {
    size_t moved, skipped;
} retry_state_t;

/* A payload that would only die again, left in the dead stream. */
static void report_skip(void *ctx, const fp_dead_entry_t *e, const fp_err_t *why)
{
    (void)ctx;
    char reason[128];
    fp_term_cell(why->msg, strlen(why->msg), 100, reason, sizeof reason);
    fprintf(stderr, "forkpool dead: skipped %s: %s\n", e->id, reason);
}

static int retry_page(dead_ctx_t *c, const fp_dead_entry_t *e, size_t n, void *state,
                      fp_err_t *err)
{
    retry_state_t *s = state;
    return fp_dead_src_retry(&c->src, (size_t)c->cfg->limits.max_job_bytes, c->queue, e, n,
                             c->args->force, report_skip, &s->moved, &s->skipped, err);
}

static int run_retry(dead_ctx_t *c, fp_err_t *err)
{
    retry_state_t s = {0, 0};
    int rc = walk(c, FP_ADMIN_DEAD_BATCH, retry_page, &s, err);
    /* Also after an error: the jobs moved so far are on the queue. */
    printf("retried %zu jobs to %s\n", s.moved, c->queue);
    if (s.skipped > 0)
        printf("skipped %zu invalid payloads (left in the dead stream; --force retries them as "
               "they are)\n",
               s.skipped);
    return rc;
}

/* ---- purge ------------------------------------------------------------------------- */

static int purge_page(dead_ctx_t *c, const fp_dead_entry_t *e, size_t n, void *state,
                      fp_err_t *err)
{
    size_t *purged = state, deleted = 0;
    const char **ids = calloc(n, sizeof *ids);
    if (ids == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        ids[i] = e[i].id;
    int rc = dead_delete(c, ids, n, &deleted, err);
    *purged += deleted;
    free(ids);
    return rc;
}

static int run_purge(dead_ctx_t *c, fp_err_t *err)
{
    size_t purged = 0;
    int rc = walk(c, READ_PAGE, purge_page, &purged, err);
    printf("purged %zu dead jobs from %s\n", purged, c->queue);
    return rc;
}

int fp_cmd_dead(int argc, char **argv, fp_err_t *err)
{
    dead_args_t a = {0};
    fp_config_t *cfg = NULL;
    int rc = fp_cli_begin(argc, argv, &spec, &a, &cfg, err);
    if (rc < 0)
        return rc;
    dead_ctx_t c = {&a, cfg, a.queue != NULL ? a.queue : cfg->queues.names.items[0], {0}};
    rc = fp_dead_src_open(cfg, &c.src, err);
    if (rc == 0) {
        switch (a.action) {
        case ACTION_LIST: rc = run_list(&c, err); break;
        case ACTION_RETRY: rc = run_retry(&c, err); break;
        case ACTION_PURGE: rc = run_purge(&c, err); break;
        }
    }
    fp_dead_src_close(&c.src);
    fp_config_free(cfg);
    return rc;
}
