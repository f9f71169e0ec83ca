/* cmd_job.c: `forkpool job ID`, where one job is: in Redis (ready, running
 * on which daemon, delayed until when, dead with what error), found by the
 * lookup script (queue/job_lookup.h) in each configured queue in order, and
 * in the ledger (every recorded attempt) when ledger.path is set and on this
 * host. A running job's child and start come from the fleet heartbeat
 * (queue/heartbeat.h): Redis' pending entry has neither. A done job is no longer in Redis (success deletes its entry): the
 * ledger's rows are its record. The ID is the job's `id` or a stream entry
 * id; the ledger matches either column. Reads only. Usage errors come before
 * the configuration, which comes before Redis: 64, 78, 69; a job neither
 * knows is 1. On the embedded queue the queue file stands for Redis
 * (job_embedded.c: the ID is a row id or the payload's `id`), and its
 * daemons' heartbeat records in the file name the child. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "embedded.h"
#include "job_embedded.h"
#include "stats_embedded.h"
#include "field.h"
#include "job_args.h"
#include "base/term.h"
#include "base/json.h"
#include "base/units.h"
#include "ledger/ledger_query.h"
#include "queue/heartbeat.h"
#include "queue/job_lookup.h"
#include "queue/queue_scripts.h"

/* Attempts read from the ledger: far above any max_attempts in use. */
#define JOB_LEDGER_ROWS 1000
#define JOB_TEXT_COLS 200 /* an error or a name on a terminal line */

/* ---- reading --------------------------------------------------------------- */

/* What is known of the job: where Redis has it, and the ledger's rows. */
typedef struct found_s {
    const char *queue; /* where Redis has it (borrowed from the config); NULL: nowhere */
    fp_job_where_t where;
    fp_ledger_row_t *rows; /* newest first, their texts in texts[i] */
    char **texts;
    size_t nrows;
    fp_fleet_t fleet;       /* read only for a running job */
    const fp_fleet_member_t *daemon; /* the live record listing it; NULL: child not known */
    const fp_fleet_job_t *run;       /* its job there */
    char fleet_problem[FP_ERR_MSG_MAX]; /* why the fleet could not be read; "" if it was */
    const char *only_queue; /* --queue: ledger rows of other queues are skipped */
    int ledger_rc;          /* 0 read, -ENOENT no file on this host, other: unreadable */
    int64_t since_ms;       /* the embedded queue: since when a ready job waits; -1: by its entry id */
    char ledger_problem[FP_ERR_MSG_MAX];
} found_t;

/* For a running job, the daemon record that lists its entry, from Redis
 * (admin) or, on the embedded queue (admin NULL), from the queue file,
 * whose records name a row ENQUEUED_MS-ID. A fleet that cannot be read
 * leaves the child not known (noted, what the queue said of the job still
 * stands); only running out of memory fails. */
static int find_child(fp_admin_t *admin, const fp_config_t *cfg, found_t *f, fp_err_t *err)
{
    fp_err_t why;
    fp_err_clear(&why);
    int rc = admin != NULL ? fp_admin_fleet(admin, cfg->redis.prefix, &f->fleet, &why)
                           : fp_cli_fleet_embedded(cfg, &f->fleet, &why);
    if (rc == -ENOMEM)
        return fp_err_set(err, -ENOMEM, "out of memory");
    if (rc < 0) {
        snprintf(f->fleet_problem, sizeof f->fleet_problem, "%s", why.msg);
        return 0;
    }
    const fp_admin_field_t *c = &f->where.consumer, *e = &f->where.entry_id;
    if (c->s != NULL && e->s != NULL && admin != NULL)
        f->run = fp_fleet_find_job(&f->fleet, c->s, c->len, f->queue, e->s, &f->daemon);
    else if (c->s != NULL && e->s != NULL)
        f->run = fp_cli_job_run_embedded(&f->fleet, c->s, f->queue, e->s, &f->daemon);
    return 0;
}

/* The first queue (in the order configured) whose keys hold the job. */
static int lookup_redis(const fp_config_t *cfg, const fp_job_args_t *a, found_t *f, fp_err_t *err)
{
    fp_admin_t *admin = NULL;
    int rc = fp_admin_connect(cfg, &admin, err);
    size_t nq = a->queue != NULL ? 1 : cfg->queues.names.count;
    for (size_t i = 0; rc == 0 && f->queue == NULL && i < nq; i++) {
        const char *q = a->queue != NULL ? a->queue : cfg->queues.names.items[i];
        rc = fp_job_lookup_queue(admin, cfg, q, a->id, &f->where, err);
        if (rc == 0 && f->where.state != FP_JOB_NOWHERE)
            f->queue = q;
    }
    if (rc == 0 && f->where.state == FP_JOB_RUNNING)
        rc = find_child(admin, cfg, f, err);
    fp_admin_free(admin);
    return rc;
}

/* The embedded queue: the queue file instead of Redis, its fleet records
 * for a running job's child (as find_child). */
static int lookup_embedded(const fp_config_t *cfg, const fp_job_args_t *a, found_t *f,
                           fp_err_t *err)
{
    int rc = fp_cli_job_find_embedded(cfg, a->queue, a->id, &f->where, &f->queue, &f->since_ms,
                                      err);
    if (rc == 0 && f->where.state == FP_JOB_RUNNING)
        rc = find_child(NULL, cfg, f, err);
    return rc;
}

static int keep_row(void *arg, int64_t id, const fp_ledger_row_t *row, fp_err_t *err)
{
    found_t *f = arg;
    (void)id;
    if (f->only_queue != NULL && (row->queue == NULL || strcmp(row->queue, f->only_queue) != 0))
        return 0;
    fp_ledger_row_t *rows = realloc(f->rows, (f->nrows + 1) * sizeof *rows);
    if (rows != NULL)
        f->rows = rows;
    char **texts = rows != NULL ? realloc(f->texts, (f->nrows + 1) * sizeof *texts) : NULL;
    if (texts != NULL)
        f->texts = texts;
    /* One byte more: never malloc(0) for a row without texts. */
    char *text = texts != NULL ? malloc(fp_ledger_row_text_size(row) + 1) : NULL;
    if (text == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    fp_ledger_row_pack(&f->rows[f->nrows], row, text);
    f->texts[f->nrows++] = text;
    return 0;
}

/* The ledger's rows of the job; a missing or unreadable ledger is noted in
 * f (Redis' answer still stands), only running out of memory fails. */
static int read_ledger(const fp_config_t *cfg, const fp_job_args_t *a, found_t *f, fp_err_t *err)
{
    if (cfg->ledger.path == NULL || cfg->ledger.path[0] == '\0')
        return 0;
    fp_ledger_filter_t filter = {.job = a->id, .limit = JOB_LEDGER_ROWS};
    fp_err_t why;
    fp_err_clear(&why);
    f->only_queue = a->queue;
    f->ledger_rc = fp_ledger_query(cfg->ledger.path, &filter, keep_row, f, &why);
    snprintf(f->ledger_problem, sizeof f->ledger_problem, "%s", why.msg);
    if (f->ledger_rc == -ENOMEM)
        return fp_err_set(err, -ENOMEM, "out of memory");
    return 0;
}

static void found_clear(found_t *f)
{
    for (size_t i = 0; i < f->nrows; i++)
        free(f->texts[i]);
    free(f->texts);
    free(f->rows);
    fp_fleet_clear(&f->fleet);
    fp_job_where_clear(&f->where);
}

/* Why the job was not found, for the error line: what the ledger said. */
static int not_found(const fp_config_t *cfg, const fp_job_args_t *a, const found_t *f,
                     fp_err_t *err)
{
    const char *path = cfg->ledger.path;
    const char *head = "not found (done jobs are only in the ledger; ledger.path is";
    if (path == NULL || path[0] == '\0')
        return fp_err_set(err, -ENOENT, "job %s %s empty, so no ledger is read)", a->id, head);
    if (f->ledger_rc == -ENOENT)
        return fp_err_set(err, -ENOENT, "job %s %s %s, no such file on this host)", a->id, head,
                          path);
    if (f->ledger_rc < 0)
        return fp_err_set(err, -ENOENT, "job %s %s %s, unreadable: %s)", a->id, head, path,
                          f->ledger_problem);
    return fp_err_set(err, -ENOENT, "job %s %s %s, which has no attempt of it)", a->id, head,
                      path);
}

/* ---- text ------------------------------------------------------------------ */

/* The payload's members the text shows: type, attempt, last_error. */
typedef struct payload_view_s {
    char type[256], last_error[1024];
    long long attempt; /* executions so far (a retry's payload); 0: none yet */
} payload_view_t;

static void view_payload(const fp_admin_field_t *p, payload_view_t *v)
{
    memset(v, 0, sizeof *v);
    cJSON *job = p->s != NULL ? fp_json_parse(p->s, p->len) : NULL;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(job, "type");
    const cJSON *attempt = cJSON_GetObjectItemCaseSensitive(job, "attempt");
    const cJSON *last = cJSON_GetObjectItemCaseSensitive(job, "last_error");
    if (cJSON_IsString(type))
        fp_term_cell(type->valuestring, strlen(type->valuestring), 64, v->type, sizeof v->type);
    if (cJSON_IsNumber(attempt))
        v->attempt = (long long)attempt->valuedouble;
    if (cJSON_IsString(last))
        fp_term_cell(last->valuestring, strlen(last->valuestring), JOB_TEXT_COLS, v->last_error,
                     sizeof v->last_error);
    cJSON_Delete(job);
}

/* A Redis field for a terminal line, "-" when absent. */
static const char *shown(const fp_admin_field_t *f, char *out, size_t cap)
{
    fp_term_cell(f->s != NULL ? f->s : "-", f->s != NULL ? f->len : 1, JOB_TEXT_COLS, out, cap);
    return out;
}

/* The ms part of a stream entry id as a UTC time. */
static const char *entry_time(const fp_admin_field_t *id, char *out, size_t cap)
{
    uint64_t ms, seq;
    if (id->s == NULL || !fp_stream_id_parse(id->s, id->len, &ms, &seq) ||
        !fp_field_iso_ms((int64_t)ms, out, cap))
        snprintf(out, cap, "-");
    return out;
}

/* How long the job has run, by Redis' clock against the daemon's start
 * time; a clock skew that makes it negative reads as 0. */
static int64_t running_ms(const found_t *f)
{
    int64_t ms = f->fleet.now_ms - f->run->started_ms;
    return ms > 0 ? ms : 0;
}

/* "running in queue Q on daemon N", with its host, pid, child and running
 * time when a heartbeat record lists the entry, then the claim's figures. */
static void print_running(const char *id, const char *q, const found_t *f)
{
    const fp_job_where_t *w = &f->where;
    char name[1024], host[1024], took[64];
    printf("job %s: running in queue %s on daemon %s", id, q, shown(&w->consumer, name, sizeof name));
    if (f->run != NULL) {
        const fp_fleet_record_t *r = f->daemon->record;
        int64_t ms = running_ms(f);
        fp_term_cell(r->host, strlen(r->host), 64, host, sizeof host);
        /* Whole seconds past the first: "2m5s", not "2m5s317ms". */
        fp_units_format_duration(ms >= 1000 ? ms / 1000 * 1000 : ms, took, sizeof took);
        printf(" (host %s, pid %lld), child %d, running for %s", host, r->pid, f->run->child,
               took);
    }
    printf(" (delivered %lld time%s; its claim was delivered or renewed %.1fs ago)\n",
           w->deliveries, w->deliveries == 1 ? "" : "s", (double)w->idle_ms / 1000.0);
    if (f->run == NULL && f->fleet_problem[0] != '\0')
        printf("  child:      not known (the fleet records could not be read: %s)\n",
               f->fleet_problem);
    else if (f->run == NULL)
        printf("  child:      not known (no live heartbeat record of the daemon lists this "
               "entry yet: written every daemon.heartbeat_interval, at most %d jobs each)\n",
               FP_FLEET_JOBS_MAX);
}

static void print_redis(const char *id, const found_t *f)
{
    const fp_job_where_t *w = &f->where;
    char q[256], a[1024], b[256];
    payload_view_t v;
    view_payload(&w->payload, &v);
    fp_term_cell(f->queue, strlen(f->queue), 64, q, sizeof q);
    switch (w->state) {
    case FP_JOB_READY:
        if (f->since_ms < 0 || !fp_field_iso_ms(f->since_ms, b, sizeof b))
            entry_time(&w->entry_id, b, sizeof b);
        printf("job %s: ready, waiting in queue %s since %s\n", id, q, b);
        break;
    case FP_JOB_RUNNING: print_running(id, q, f); break;
    case FP_JOB_DELAYED:
        if (!fp_field_iso_ms(w->due_ms, b, sizeof b))
            snprintf(b, sizeof b, "%lld", w->due_ms);
        printf("job %s: delayed in queue %s, due at %s\n", id, q, b);
        break;
    case FP_JOB_DEAD:
        if (!fp_field_iso(&w->failed_at, b, sizeof b))
            shown(&w->failed_at, b, sizeof b);
        printf("job %s: dead in queue %s, failed at %s after %s attempts\n", id, q, b,
               shown(&w->attempts, a, sizeof a));
        printf("  error:      %s\n", shown(&w->error, a, sizeof a));
        printf("  dead entry: %s (written by daemon %s)\n", shown(&w->entry_id, b, sizeof b),
               shown(&w->consumer, a, sizeof a));
        break;
    case FP_JOB_NOWHERE: return;
    }
    if (w->state == FP_JOB_READY || w->state == FP_JOB_RUNNING)
        printf("  entry:      %s\n", shown(&w->entry_id, a, sizeof a));
    printf("  type:       %s\n", v.type[0] != '\0' ? v.type : "-");
    if (v.attempt > 0)
        printf("  attempts:   %lld so far\n", v.attempt);
    if (v.last_error[0] != '\0')
        printf("  last error: %s\n", v.last_error);
}

static void print_ledger_rows(const found_t *f)
{
    printf("  %-7s  %-8s  %-24s  %-24s  %12s  %8s  %s\n", "ATTEMPT", "OUTCOME", "STARTED (UTC)",
           "FINISHED (UTC)", "DURATION MS", "PID", "ERROR");
    for (size_t i = f->nrows; i-- > 0;) { /* oldest first */
        const fp_ledger_row_t *r = &f->rows[i];
        char started[40], finished[40], outcome[64], error[1024];
        if (r->started_at_ms <= 0 || !fp_field_iso_ms(r->started_at_ms, started, sizeof started))
            snprintf(started, sizeof started, "-");
        if (r->finished_at_ms <= 0 ||
            !fp_field_iso_ms(r->finished_at_ms, finished, sizeof finished))
            snprintf(finished, sizeof finished, "-");
        const char *o = r->outcome != NULL ? r->outcome : "-";
        const char *e = r->error != NULL ? r->error : "-";
        fp_term_cell(o, strlen(o), 8, outcome, sizeof outcome);
        fp_term_cell(e, strlen(e), JOB_TEXT_COLS, error, sizeof error);
        int64_t us = r->duration_us;
        printf("  %-7" PRId64 "  %-8s  %-24s  %-24s  %8" PRId64 ".%03d  ", r->attempt, outcome,
               started, finished, us / 1000, (int)(us % 1000 + 1000) % 1000);
        if (r->pid > 0)
            printf("%8" PRId64 "  %s\n", r->pid, error);
        else
            printf("%8s  %s\n", "-", error);
    }
}

static void print_ledger(const fp_config_t *cfg, const found_t *f)
{
    const char *path = cfg->ledger.path;
    if (path == NULL || path[0] == '\0')
        printf("ledger: none (ledger.path is empty)\n");
    else if (f->ledger_rc == -ENOENT)
        printf("ledger %s: no such file on this host\n", path);
    else if (f->ledger_rc < 0)
        printf("ledger %s: unreadable: %s\n", path, f->ledger_problem);
    else if (f->nrows == 0)
        printf("ledger %s: no attempt recorded\n", path);
    else {
        printf("ledger %s: %zu attempt%s recorded\n", path, f->nrows, f->nrows == 1 ? "" : "s");
        print_ledger_rows(f);
    }
}

static void print_text(const fp_config_t *cfg, const fp_job_args_t *a, const found_t *f)
{
    char id[1024];
    fp_term_cell(a->id, strlen(a->id), JOB_TEXT_COLS, id, sizeof id);
    if (f->queue != NULL) {
        print_redis(id, f);
    } else {
        const fp_ledger_row_t *newest = &f->rows[0];
        char when[40], q[256];
        if (!fp_field_iso_ms(newest->finished_at_ms, when, sizeof when))
            snprintf(when, sizeof when, "-");
        fp_term_cell(newest->queue != NULL ? newest->queue : "-",
                     newest->queue != NULL ? strlen(newest->queue) : 1, 64, q, sizeof q);
        if (strcmp(fp_job_state_name(FP_JOB_NOWHERE, newest->outcome), "done") == 0)
            printf("job %s: done in queue %s, succeeded at %s\n", id, q, when);
        else
            printf("job %s: gone from Redis (queue %s); its newest attempt ended %s at %s\n", id,
                   q, newest->outcome != NULL ? newest->outcome : "-", when);
    }
    print_ledger(cfg, f);
}

/* ---- JSON ------------------------------------------------------------------ */

static cJSON *json_text(const char *s)
{
    fp_admin_field_t f = {(char *)s, s != NULL ? strlen(s) : 0};
    return fp_field_json_text(&f);
}

/* A whole number with every digit; null when known is false. */
static cJSON *json_int(long long v, bool known)
{
    return known ? fp_json_whole(v) : cJSON_CreateNull();
}

static cJSON *json_row(const fp_ledger_row_t *r)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o != NULL && fp_cli_json_add(o, "queue", json_text(r->queue)) &&
              fp_cli_json_add(o, "entry_id", json_text(r->entry_id)) &&
              fp_cli_json_add(o, "job_id", json_text(r->job_id)) &&
              fp_cli_json_add(o, "type", json_text(r->type)) &&
              fp_cli_json_add(o, "outcome", json_text(r->outcome)) &&
              fp_cli_json_add(o, "attempt", json_int(r->attempt, true)) &&
              fp_cli_json_add(o, "started_at", json_int(r->started_at_ms, r->started_at_ms != 0)) &&
              fp_cli_json_add(o, "finished_at", json_int(r->finished_at_ms, r->finished_at_ms != 0)) &&
              fp_cli_json_add(o, "duration_us", json_int(r->duration_us, true)) &&
              fp_cli_json_add(o, "pid", json_int(r->pid, r->pid != 0)) &&
              fp_cli_json_add(o, "error", json_text(r->error));
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *json_ledger(const fp_config_t *cfg, const found_t *f)
{
    const char *path = cfg->ledger.path;
    bool on = path != NULL && path[0] != '\0';
    const char *status = !on ? "disabled"
                         : f->ledger_rc == -ENOENT ? "missing"
                         : f->ledger_rc < 0        ? "unreadable"
                                                   : "read";
    cJSON *o = cJSON_CreateObject(), *rows = NULL;
    bool ok = o != NULL && fp_cli_json_add(o, "path", json_text(on ? path : NULL)) &&
              fp_cli_json_add(o, "status", json_text(status)) &&
              fp_cli_json_add(o, "problem", json_text(on && f->ledger_rc < 0 ? f->ledger_problem
                                                                           : NULL)) &&
              fp_cli_json_add(o, "attempts", rows = cJSON_CreateArray());
    for (size_t i = f->nrows; ok && i-- > 0;) {
        cJSON *row = json_row(&f->rows[i]);
        ok = row != NULL && cJSON_AddItemToArray(rows, row);
        if (!ok)
            cJSON_Delete(row);
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* A running job's daemon_host, daemon_pid, child, started_at (Unix ms, the
 * daemon's clock) and running_ms: null unless a heartbeat record lists it. */
static bool json_child(cJSON *doc, const found_t *f)
{
    const fp_fleet_record_t *r = f->run != NULL ? f->daemon->record : NULL;
    bool on = r != NULL;
    return fp_cli_json_add(doc, "daemon_host", json_text(on ? r->host : NULL)) &&
           fp_cli_json_add(doc, "daemon_pid", json_int(on ? r->pid : 0, on)) &&
           fp_cli_json_add(doc, "child", json_int(on ? f->run->child : 0, on)) &&
           fp_cli_json_add(doc, "started_at", json_int(on ? f->run->started_ms : 0, on)) &&
           fp_cli_json_add(doc, "running_ms", json_int(on ? running_ms(f) : 0, on));
}

static int print_json(const fp_config_t *cfg, const fp_job_args_t *a, const found_t *f,
                      const char *state, fp_err_t *err)
{
    const fp_job_where_t *w = &f->where;
    bool running = w->state == FP_JOB_RUNNING, dead = w->state == FP_JOB_DEAD;
    const char *queue = f->queue != NULL ? f->queue : f->rows[0].queue;
    fp_admin_field_t none = {NULL, 0};
    cJSON *doc = cJSON_CreateObject();
    bool ok = doc != NULL && fp_cli_json_add(doc, "id", json_text(a->id)) &&
              fp_cli_json_add(doc, "state", json_text(state)) &&
              fp_cli_json_add(doc, "queue", json_text(queue)) &&
              fp_cli_json_add(doc, "entry_id", fp_field_json_text(dead ? &none : &w->entry_id)) &&
              fp_cli_json_add(doc, "job", fp_field_json_job(&w->payload)) &&
              fp_cli_json_add(doc, "consumer", fp_field_json_text(&w->consumer)) &&
              fp_cli_json_add(doc, "deliveries", json_int(w->deliveries, running)) &&
              fp_cli_json_add(doc, "idle_ms", json_int(w->idle_ms, running)) &&
              json_child(doc, f) &&
              fp_cli_json_add(doc, "due_ms", json_int(w->due_ms, w->state == FP_JOB_DELAYED)) &&
              fp_cli_json_add(doc, "dead_id", fp_field_json_text(dead ? &w->entry_id : &none)) &&
              fp_cli_json_add(doc, "error", fp_field_json_text(&w->error)) &&
              fp_cli_json_add(doc, "attempts", fp_field_json_int(&w->attempts)) &&
              fp_cli_json_add(doc, "failed_at", fp_field_json_int(&w->failed_at)) &&
              fp_cli_json_add(doc, "ledger", json_ledger(cfg, f));
    return fp_cli_print_json_line(doc, ok, err);
}

int fp_cmd_job(int argc, char **argv, fp_err_t *err)
{
    fp_job_args_t a = {0};
    fp_config_t *cfg = NULL;
    found_t f = {.since_ms = -1};
    int rc = fp_cli_begin(argc, argv, &fp_job_args_spec, &a, &cfg, err);
    if (rc < 0)
        return rc;
    if (fp_cli_embedded(cfg))
        rc = lookup_embedded(cfg, &a, &f, err);
    else
        rc = lookup_redis(cfg, &a, &f, err);
    if (rc == 0)
        rc = read_ledger(cfg, &a, &f, err);
    const char *newest = f.nrows == 0 ? NULL : f.rows[0].outcome != NULL ? f.rows[0].outcome : "";
    const char *state = fp_job_state_name(f.where.state, newest);
    if (rc == 0 && state == NULL)
        rc = not_found(cfg, &a, &f, err);
    else if (rc == 0 && a.json)
        rc = print_json(cfg, &a, &f, state, err);
    else if (rc == 0)
        print_text(cfg, &a, &f);
    found_clear(&f);
    fp_config_free(cfg);
    return rc;
}
