/* cmd_enqueue.c: `forkpool enqueue`, the shell's producer. It builds
 * {"type":TYPE,"args":ARGS} with ARGS copied verbatim (after checking it is
 * JSON, so numbers are never re-printed), and adds jobs with pipelined XADDs
 * (or ZADDs into the delayed set with --delay) through admin.c; with
 * --wait-replicas, one WAIT after the last write. On the embedded queue the
 * same jobs go to the queue file, one transaction per FP_ADMIN_PIPELINE
 * jobs; --unique takes its key in the file (unique_embedded.c), and
 * --wait-replicas needs Redis and is refused there (78).
 * Usage errors come before the configuration, which comes before Redis: 64,
 * 78, 69 (also for too few replicas). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "queue/admin.h"
#include "queue/unique.h"
#include "cli.h"
#include "embedded.h"
#include "unique_embedded.h"
#include "sqlq/open_flags.h"
#include "dispatch/job.h"
#include "base/units.h"
#include "base/json.h"
#include "base/os.h"

#define MAX_COUNT 100000000LL
#define MAX_REPLICAS 1000LL
#define WAIT_DEFAULT_MS 1000                /* --wait-timeout's default */
#define WAIT_MAX_MS (3600LL * 1000)         /* a producer waits minutes at most */
#define WAIT_SLACK_MS 5000                  /* read timeout beyond WAIT's own */

typedef struct enqueue_args_s {
    const char *queue;   /* NULL: the first of queues.names */
    int64_t delay_ms;    /* -1: no --delay */
    long long count;     /* -1: no --count */
    const char *type;
    const char *args;    /* NULL: no ARGS_JSON; "-": one per line from stdin */
    long long wait_replicas; /* -1: no --wait-replicas */
    int64_t wait_ms;         /* -1: no --wait-timeout */
    bool json;           /* --json: what was added, as one JSON object */
    fp_unique_opts_t unique; /* --unique KEY, --unique-for, --unique-until */
} enqueue_args_t;

/* What every job of one invocation shares. */
typedef struct producer_s {
    const enqueue_args_t *args;
    const fp_config_t *cfg;
    const char *queue;
    fp_admin_t *admin;
    fp_sqlq_t *store;    /* the embedded queue (admin is NULL then) */
    char *type_json;     /* TYPE as a JSON string, quotes included */
    char id_prefix[17];  /* random, for the ids of delayed jobs */
    unsigned long long next_id;
    size_t enqueued;
} producer_t;

enum { OPT_QUEUE = 256, OPT_DELAY, OPT_COUNT, OPT_WAIT_REPLICAS, OPT_WAIT_TIMEOUT, OPT_JSON,
       OPT_UNIQUE, OPT_UNIQUE_FOR, OPT_UNIQUE_UNTIL };
/* --wait-replicas N and --wait-timeout DUR. */
static int on_wait_option(enqueue_args_t *a, int id, const char *value, fp_err_t *err)
{
    if (id == OPT_WAIT_REPLICAS) {
        if (fp_cli_parse_count("--wait-replicas", value, MAX_REPLICAS, &a->wait_replicas, err) < 0)
            return FP_EUSAGE;
        if (a->wait_replicas == 0)
            return fp_err_set(err, FP_EUSAGE, "--wait-replicas must be at least 1");
        return 0;
    }
    if (fp_cli_parse_duration("--wait-timeout", value, &a->wait_ms, err) < 0)
        return FP_EUSAGE;
    /* WAIT 0 would block for ever: never what a producer means. */
    if (a->wait_ms <= 0 || a->wait_ms > WAIT_MAX_MS)
        return fp_err_set(err, FP_EUSAGE, "--wait-timeout must be more than 0 and at most 1h");
    return 0;
}

/* --unique, --unique-for, --unique-until. */
static int on_unique_option(enqueue_args_t *a, int id, const char *value, fp_err_t *err)
{
    switch (id) {
    case OPT_UNIQUE: a->unique.key = value; break;
    case OPT_UNIQUE_FOR:
        if (fp_cli_parse_duration("--unique-for", value, &a->unique.for_ms, err) < 0)
            return FP_EUSAGE;
        break;
    case OPT_UNIQUE_UNTIL:
        if (fp_unique_until_parse(value, &a->unique.until) < 0)
            return fp_err_set(err, FP_EUSAGE, "--unique-until must be done or start, not \"%s\"",
                              value);
        break;
    }
    return 0;
}

static int on_option(void *args, int id, const char *name, const char *value, fp_err_t *err)
{
    enqueue_args_t *a = args;
    (void)name;
    switch (id) {
    case OPT_QUEUE: return fp_cli_parse_queue(value, &a->queue, err);
    case OPT_DELAY:
        if (fp_cli_parse_duration("--delay", value, &a->delay_ms, err) < 0)
            return FP_EUSAGE;
        break;
    case OPT_COUNT:
        if (fp_cli_parse_count("--count", value, MAX_COUNT, &a->count, err) < 0)
            return FP_EUSAGE;
        break;
    case OPT_WAIT_REPLICAS:
    case OPT_WAIT_TIMEOUT: return on_wait_option(a, id, value, err);
    case OPT_JSON: a->json = true; break;
    default: return on_unique_option(a, id, value, err);
    }
    return 0;
}

static bool is_json(const char *s, size_t n);

/* TYPE [ARGS_JSON | -]. */
static int on_operands(void *args, int n, char **words, fp_err_t *err)
{
    enqueue_args_t *a = args;
    if (n < 1 || n > 2)
        return fp_err_set(err, FP_EUSAGE, "wrong number of arguments");
    a->type = words[0];
    a->args = n == 2 ? words[1] : NULL;
    if (a->type[0] == '\0' || strlen(a->type) > FP_JOB_TYPE_MAX)
        return fp_err_set(err, FP_EUSAGE, "TYPE must be 1 to %d bytes", FP_JOB_TYPE_MAX);
    if (a->args != NULL && strcmp(a->args, "-") == 0 && a->count >= 0)
        return fp_err_set(err, FP_EUSAGE, "--count and '-' cannot be combined");
    if (a->args != NULL && strcmp(a->args, "-") != 0 && !is_json(a->args, strlen(a->args)))
        return fp_err_set(err, FP_EUSAGE, "ARGS_JSON is not valid JSON: %.64s", a->args);
    if (a->wait_ms >= 0 && a->wait_replicas < 0)
        return fp_err_set(err, FP_EUSAGE, "--wait-timeout needs --wait-replicas");
    bool many = a->count >= 0 || (a->args != NULL && strcmp(a->args, "-") == 0);
    return fp_unique_opts_check(&a->unique, many, err);
}

static const struct option options[] = {
    {"config", required_argument, NULL, 'c'},
    {"queue", required_argument, NULL, OPT_QUEUE},
    {"delay", required_argument, NULL, OPT_DELAY},
    {"count", required_argument, NULL, OPT_COUNT},
    {"wait-replicas", required_argument, NULL, OPT_WAIT_REPLICAS},
    {"wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT},
    {"json", no_argument, NULL, OPT_JSON},
    {"unique", required_argument, NULL, OPT_UNIQUE},
    {"unique-for", required_argument, NULL, OPT_UNIQUE_FOR},
    {"unique-until", required_argument, NULL, OPT_UNIQUE_UNTIL},
    {NULL, 0, NULL, 0},
};
static const fp_cli_spec_t spec = {options, on_option, on_operands, NULL};

/* s[0..*n) without surrounding JSON whitespace. */
static const char *trim(const char *s, size_t *n)
{
    while (*n > 0 && strchr(" \t\r\n", s[0]) != NULL) {
        s++;
        (*n)--;
    }
    while (*n > 0 && strchr(" \t\r\n", s[*n - 1]) != NULL)
        (*n)--;
    return s;
}

static bool is_json(const char *s, size_t n)
{
    cJSON *v = fp_json_parse(s, n);
    cJSON_Delete(v);
    return v != NULL;
}

/* {"type":T,"args":ARGS[,"id":ID]} into a new string (free()). */
static char *build_job(producer_t *p, const char *args, size_t args_len, size_t *len,
                       fp_err_t *err)
{
    char id[48] = "";
    if (p->args->delay_ms >= 0 && p->store == NULL) {
        /* Members of a sorted set are unique: without an id, identical delayed
         * jobs would collapse into one. (Rows of the queue file never do.) */
        snprintf(id, sizeof id, ",\"id\":\"%s-%llu\"", p->id_prefix, p->next_id++);
    }
    size_t cap = strlen(p->type_json) + args_len + strlen(id) + 32;
    char *job = malloc(cap);
    if (job == NULL) {
        fp_err_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    int n = args != NULL ? snprintf(job, cap, "{\"type\":%s,\"args\":%.*s%s}", p->type_json,
                                    (int)args_len, args, id)
                         : snprintf(job, cap, "{\"type\":%s%s}", p->type_json, id);
    *len = (size_t)n;
    if (p->cfg->limits.max_job_bytes > 0 && (int64_t)*len > p->cfg->limits.max_job_bytes) {
        fp_err_set(err, FP_EUSAGE, "the job is %zu bytes, more than limits.max_job_bytes (%lld)",
                   *len, (long long)p->cfg->limits.max_job_bytes);
        free(job);
        return NULL;
    }
    return job;
}

/* A single job's id, or with --json {"duplicate": bool, "id": ID}. */
static void print_id_line(const producer_t *p, const char *id, bool duplicate)
{
    if (!p->args->json) {
        printf("%s\n", id);
        return;
    }
    fp_buf_t line = {0};
    const char *head = duplicate ? "{\"duplicate\":true,\"id\":" : "{\"duplicate\":false,\"id\":";
    int rc = fp_buf_append(&line, head, strlen(head));
    if (rc == 0)
        rc = fp_json_append_string(&line, id, strlen(id));
    if (rc == 0)
        rc = fp_buf_append(&line, "}", 1);
    if (rc == 0)
        printf("%.*s\n", (int)line.len, line.data);
    fp_buf_free(&line);
}

/* The embedded queue's send_jobs: n jobs in one transaction; the row id is
 * a job's id there. */
static int store_jobs(producer_t *p, char **jobs, const size_t *lens, size_t n, bool print_id,
                      fp_err_t *err)
{
    fp_sqlq_new_t *items = calloc(n, sizeof *items);
    if (items == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    int64_t delay = p->args->delay_ms >= 0 ? p->args->delay_ms : 0, id = 0;
    for (size_t i = 0; i < n; i++)
        items[i] = (fp_sqlq_new_t){jobs[i], lens[i], delay};
    int rc = fp_sqlq_enqueue_batch(p->store, p->queue, items, n, fp_os_unix_ms(),
                                   print_id && n == 1 ? &id : NULL, err);
    free(items);
    if (rc < 0)
        return rc;
    p->enqueued += n;
    if (print_id && n == 1) {
        char text[24];
        snprintf(text, sizeof text, "%" PRId64, id);
        print_id_line(p, text, false);
    }
    return 0;
}

/* Adds n built jobs; prints the id when asked (a single plain job). */
static int send_jobs(producer_t *p, char **jobs, const size_t *lens, size_t n, bool print_id,
                     fp_err_t *err)
{
    size_t done = 0;
    char *id = NULL;
    int rc;
    if (p->store != NULL)
        return store_jobs(p, jobs, lens, n, print_id, err);
    if (p->args->delay_ms >= 0)
        rc = fp_admin_enqueue_delayed(p->admin, p->queue, (const char *const *)jobs, lens, n,
                                      p->args->delay_ms, &done, err);
    else
        rc = fp_admin_enqueue(p->admin, p->queue, (const char *const *)jobs, lens, n,
                              print_id ? &id : NULL, &done, err);
    p->enqueued += done;
    if (rc == 0 && print_id && id != NULL)
        print_id_line(p, id, false);
    free(id);
    return rc;
}

static void free_jobs(char **jobs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(jobs[i]);
}

/* One job, or --count N copies, in pipelines. Plain copies share one text;
 * delayed ones each need their own id on Redis. */
static int enqueue_copies(producer_t *p, const char *args, size_t args_len, fp_err_t *err)
{
    long long total = p->args->count >= 0 ? p->args->count : 1;
    bool single = p->args->count < 0;
    char *jobs[FP_ADMIN_PIPELINE];
    size_t lens[FP_ADMIN_PIPELINE];
    bool own_ids = p->args->delay_ms >= 0 && p->store == NULL, shared = !own_ids;
    char *text = NULL;
    size_t text_len = 0;
    if (shared && (text = build_job(p, args, args_len, &text_len, err)) == NULL)
        return err != NULL ? err->code : FP_EUSAGE;
    int rc = 0;
    for (long long sent = 0; sent < total && rc == 0;) {
        size_t n = total - sent < FP_ADMIN_PIPELINE ? (size_t)(total - sent) : FP_ADMIN_PIPELINE;
        size_t built = 0;
        for (; built < n; built++) {
            jobs[built] = shared ? text : build_job(p, args, args_len, &lens[built], err);
            if (jobs[built] == NULL)
                break;
            if (shared)
                lens[built] = text_len;
        }
        rc = built < n ? (err != NULL ? err->code : FP_EUSAGE) : 0;
        if (rc == 0)
            rc = send_jobs(p, jobs, lens, n, single && !own_ids, err);
        if (!shared)
            free_jobs(jobs, built);
        sent += (long long)n;
    }
    free(text);
    if (rc == 0 && single && own_ids) {
        char id[48];
        snprintf(id, sizeof id, "%s-%llu", p->id_prefix, p->next_id - 1);
        print_id_line(p, id, false);
    }
    return rc;
}

/* '-': one ARGS_JSON per line; blank lines are skipped. The first bad line
 * stops the run; the jobs before it are enqueued. */
static int enqueue_stdin(producer_t *p, fp_err_t *err)
{
    char *jobs[FP_ADMIN_PIPELINE];
    size_t lens[FP_ADMIN_PIPELINE], n = 0, line_no = 0, cap = 0;
    char *line = NULL;
    ssize_t got;
    int rc = 0;
    while (rc == 0 && (got = getline(&line, &cap, stdin)) >= 0) {
        line_no++;
        size_t len = (size_t)got;
        const char *args = trim(line, &len);
        if (len == 0)
            continue;
        if (!is_json(args, len)) {
            rc = fp_err_set(err, FP_EUSAGE, "stdin line %zu: ARGS_JSON is not valid JSON", line_no);
            break;
        }
        if ((jobs[n] = build_job(p, args, len, &lens[n], err)) == NULL) {
            fp_err_prefix(err, "stdin line %zu", line_no);
            rc = err != NULL ? err->code : FP_EUSAGE;
            break;
        }
        if (++n == FP_ADMIN_PIPELINE) {
            rc = send_jobs(p, jobs, lens, n, false, err);
            free_jobs(jobs, n);
            n = 0;
        }
    }
    free(line);
    if (n > 0) {
        int sent = send_jobs(p, jobs, lens, n, false, err);
        if (rc == 0)
            rc = sent;
        free_jobs(jobs, n);
    }
    if (rc == FP_EUSAGE && p->enqueued > 0 && err != NULL) {
        char note[64];
        snprintf(note, sizeof note, " (%zu earlier jobs were enqueued)", p->enqueued);
        strncat(err->msg, note, sizeof err->msg - strlen(err->msg) - 1);
    }
    return rc;
}

static void random_prefix(char out[17])
{
    unsigned char bytes[8];
    if (getrandom(bytes, sizeof bytes, 0) != (ssize_t)sizeof bytes) {
        uint64_t v = (uint64_t)fp_os_now_us() ^ ((uint64_t)getpid() << 32);
        memcpy(bytes, &v, sizeof bytes);
    }
    for (int i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", bytes[i]);
}

/* --unique: one job with an id and the "unique" member, added by the unique
 * script (key check, key SET and XADD or ZADD in one step). A duplicate is
 * no error: the caller asked for "at most one", and has it. */
static int enqueue_unique(producer_t *p, const char *args, size_t args_len, fp_err_t *err)
{
    const enqueue_args_t *a = p->args;
    char id[48];
    snprintf(id, sizeof id, "%s-%llu", p->id_prefix, p->next_id++);
    fp_buf_t job = {0};
    int rc = fp_buf_append(&job, "{\"type\":", 8);
    if (rc == 0)
        rc = fp_buf_append(&job, p->type_json, strlen(p->type_json));
    if (rc == 0 && args != NULL && (rc = fp_buf_append(&job, ",\"args\":", 8)) == 0)
        rc = fp_buf_append(&job, args, args_len);
    if (rc == 0)
        rc = fp_unique_members_json(&job, id, &a->unique);
    if (rc == 0)
        rc = fp_buf_append(&job, "}", 1);
    if (rc < 0) {
        fp_buf_free(&job);
        return fp_err_set(err, -ENOMEM, "out of memory");
    }
    if (p->cfg->limits.max_job_bytes > 0 && (int64_t)job.len > p->cfg->limits.max_job_bytes) {
        rc = fp_err_set(err, FP_EUSAGE, "the job is %zu bytes, more than limits.max_job_bytes "
                        "(%lld)", job.len, (long long)p->cfg->limits.max_job_bytes);
        fp_buf_free(&job);
        return rc;
    }
    fp_unique_result_t res;
    int64_t ttl = fp_unique_ttl_ms(a->unique.for_ms, a->delay_ms);
    rc = p->store != NULL
             ? fp_cli_enqueue_unique_embedded(p->store, p->queue, a->unique.key, id, ttl,
                                              a->delay_ms, job.data, job.len, &res, err)
             : fp_admin_enqueue_unique(p->admin, p->cfg->redis.prefix, p->queue, a->unique.key,
                                       id, ttl, a->delay_ms, job.data, job.len, &res, err);
    if (rc == 0 && !res.duplicate)
        p->enqueued++; /* written: --wait-replicas waits for it */
    if (rc == 0)
        print_id_line(p, res.id, res.duplicate);
    free(res.id);
    fp_buf_free(&job);
    return rc;
}

static int produce(producer_t *p, fp_err_t *err)
{
    const enqueue_args_t *a = p->args;
    if (a->args != NULL && strcmp(a->args, "-") == 0)
        return enqueue_stdin(p, err);
    size_t len = a->args != NULL ? strlen(a->args) : 0;
    const char *args = a->args != NULL ? trim(a->args, &len) : NULL;
    if (a->unique.key != NULL)
        return enqueue_unique(p, args, len, err);
    return enqueue_copies(p, args, len, err);
}

/* --wait-replicas: WAIT on the connection that wrote, once after the last
 * write (WAIT covers every earlier write of this client). Fewer replicas
 * than asked is FP_EREDIS (exit 69): the jobs are on the master, and a
 * failover before a replica has them would lose them. */
static int wait_replicas(producer_t *p, fp_err_t *err)
{
    const enqueue_args_t *a = p->args;
    if (a->wait_replicas < 0 || p->enqueued == 0)
        return 0;
    int64_t ms = a->wait_ms >= 0 ? a->wait_ms : WAIT_DEFAULT_MS;
    char n[24], t[24];
    snprintf(n, sizeof n, "%lld", a->wait_replicas);
    snprintf(t, sizeof t, "%lld", (long long)ms);
    /* Redis answers WAIT only when its timeout ends: the read must wait longer. */
    int64_t read_ms = ms + WAIT_SLACK_MS;
    struct timeval tv = {(time_t)(read_ms / 1000), (suseconds_t)(read_ms % 1000 * 1000)};
    redisSetTimeout(fp_admin_context(p->admin), tv);
    const char *argv[] = {"WAIT", n, t};
    size_t lens[] = {4, strlen(n), strlen(t)};
    redisReply *r = NULL;
    int rc = fp_admin_commandv(p->admin, 3, argv, lens, &r, err);
    if (rc < 0)
        return rc;
    long long acked = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    if (acked < 0)
        return fp_err_set(err, FP_EREDIS, "WAIT: unexpected reply type");
    if (acked >= a->wait_replicas)
        return 0;
    char within[32];
    fp_units_format_duration(ms, within, sizeof within);
    return fp_err_set(err, FP_EREDIS,
                      "%zu job(s) enqueued to %s, but only %lld of %lld replicas acknowledged "
                      "within %s: they are on the master and may be lost if it fails over",
                      p->enqueued, p->queue, acked, a->wait_replicas, within);
}

static void print_summary(const producer_t *p)
{
    if (p->args->json) {
        fp_buf_t line = {0};
        char head[48];
        int n = snprintf(head, sizeof head, "{\"enqueued\":%zu,\"queue\":", p->enqueued);
        if (fp_buf_append(&line, head, (size_t)n) == 0 &&
            fp_json_append_string(&line, p->queue, strlen(p->queue)) == 0 &&
            fp_buf_append(&line, "}", 1) == 0)
            printf("%.*s\n", (int)line.len, line.data);
        fp_buf_free(&line);
        return;
    }
    if (p->args->delay_ms >= 0) {
        char due[32];
        fp_units_format_duration(p->args->delay_ms, due, sizeof due);
        printf("enqueued %zu jobs to %s, due in %s\n", p->enqueued, p->queue, due);
    } else {
        printf("enqueued %zu jobs to %s\n", p->enqueued, p->queue);
    }
}

/* The embedded queue: what needs Redis is refused before the file is made. */
static int open_embedded(producer_t *p, fp_err_t *err)
{
    if (p->args->wait_replicas >= 0)
        return fp_cli_needs_redis(p->cfg, "enqueue --wait-replicas", "replicas", err);
    return fp_sqlq_open_cfg(p->cfg, true, &p->store, err);
}

int fp_cmd_enqueue(int argc, char **argv, fp_err_t *err)
{
    enqueue_args_t a = {NULL, -1, -1, NULL, NULL, -1, -1, false, {NULL, -1, FP_UNIQUE_NONE}};
    fp_config_t *cfg = NULL;
    int rc = fp_cli_begin(argc, argv, &spec, &a, &cfg, err);
    if (rc < 0)
        return rc;
    producer_t p = {&a, cfg, a.queue, NULL, NULL, NULL, "", 0, 0};
    if (p.queue == NULL)
        p.queue = cfg->queues.names.items[0];
    cJSON *type = cJSON_CreateString(a.type);
    p.type_json = type != NULL ? cJSON_PrintUnformatted(type) : NULL;
    cJSON_Delete(type);
    if (p.type_json == NULL) {
        rc = fp_err_set(err, -ENOMEM, "out of memory");
        goto done;
    }
    if (a.delay_ms >= 0 || a.unique.key != NULL)
        random_prefix(p.id_prefix);
    if (fp_cli_embedded(cfg))
        rc = open_embedded(&p, err);
    else
        rc = fp_admin_connect(cfg, &p.admin, err);
    if (rc < 0)
        goto done;
    rc = produce(&p, err);
    if (rc == 0)
        rc = wait_replicas(&p, err);
    bool summary = a.count >= 0 || (a.args != NULL && strcmp(a.args, "-") == 0);
    if (rc == 0 && summary)
        print_summary(&p);
done:
    fp_admin_free(p.admin);
    fp_sqlq_close(p.store);
    cJSON_free(p.type_json);
    fp_config_free(cfg);
    return rc;
}
