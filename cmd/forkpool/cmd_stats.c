/* cmd_stats.c: `forkpool stats`, a read-only snapshot of every configured
 * queue (queues.names): ready, pending, delayed and dead counts, the age of
 * the oldest ready job, and the group's consumers with what each holds and
 * how long it has been idle. Each queue is read in one script call
 * (fp_admin_queue_stats, which documents how "ready" is counted), so the
 * numbers of a queue are consistent with each other; it takes no lock and
 * changes nothing, so it is safe while daemons run elsewhere. Everything is
 * read before anything is printed, so a Redis failure half-way leaves no
 * half table. Missing keys and a group not created yet read as zeros. Usage
 * errors come before the configuration, which comes before Redis: 64, 78, 69.
 *
 * Then the fleet: every daemon that keeps a heartbeat record on this Redis
 * (queue/heartbeat.h), whichever queues it serves, with its host, pid,
 * version, uptime, children, counters and the jobs it runs now, and those
 * whose record expired (they died) as "gone" with when they were last
 * seen.
 *
 * On the embedded queue the same table, fleet and JSON come from the queue
 * file (stats_embedded.c), where the daemons keep their heartbeat records
 * (sqlq/fleet.h); the JSON adds "backend" and "path". */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "base/json.h"
#include "base/units.h"
#include "queue/admin.h"
#include "queue/heartbeat.h"
#include "cli.h"
#include "embedded.h"
#include "stats_embedded.h"
#include "base/utf8.h"

typedef struct stats_args_s {
    bool json;
} stats_args_t;

enum { OPT_JSON = 256 };

static int on_option(void *args, int id, const char *name, const char *value, fp_err_t *err)
{
    stats_args_t *a = args;
    (void)name, (void)value, (void)err;
    if (id == OPT_JSON)
        a->json = true;
    return 0;
}

static const struct option options[] = {
    {"config", required_argument, NULL, 'c'},
    {"json", no_argument, NULL, OPT_JSON},
    {NULL, 0, NULL, 0},
};
static const fp_cli_spec_t spec = {options, on_option, NULL, NULL};

/* ---- table ----------------------------------------------------------------- */

/* A name for a terminal: control bytes and invalid UTF-8 become '?', so
 * whatever a consumer calls itself cannot drive the terminal. Fits cap. */
static void printable(const char *s, char *out, size_t cap)
{
    size_t n = 0, len = strlen(s);
    for (size_t i = 0; i < len && n + 1 < cap;) {
        size_t ok = fp_utf8_valid_prefix(s + i, len - i);
        for (size_t k = 0; k < ok && n + 1 < cap; k++) {
            unsigned char c = (unsigned char)s[i + k];
            out[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
        }
        i += ok;
        if (i < len && n + 1 < cap) {
            out[n++] = '?';
            i++;
        }
    }
    out[n] = '\0';
}

/* Display columns of UTF-8 text (one per code point: good enough for names). */
static size_t columns(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static void put_left(const char *s, size_t width)
{
    fputs(s, stdout);
    for (size_t c = columns(s); c < width; c++)
        putchar(' ');
}

static void print_table(const fp_config_t *cfg, const fp_admin_queue_stats_t *st)
{
    size_t nq = cfg->queues.names.count, wq = strlen("QUEUE"), wc = strlen("CONSUMER");
    size_t consumers = 0;
    char name[256];
    for (size_t i = 0; i < nq; i++) {
        printable(cfg->queues.names.items[i], name, sizeof name);
        wq = columns(name) > wq ? columns(name) : wq;
        for (size_t k = 0; k < st[i].nconsumers; k++, consumers++) {
            printable(st[i].consumers[k].name, name, sizeof name);
            wc = columns(name) > wc ? columns(name) : wc;
        }
    }
    put_left("QUEUE", wq);
    printf("  %10s  %10s  %10s  %10s  %s\n", "READY", "PENDING", "DELAYED", "DEAD", "OLDEST READY");
    for (size_t i = 0; i < nq; i++) {
        char ready[32], age[32];
        snprintf(ready, sizeof ready, "%s%lld", st[i].ready_exact ? "" : "~", st[i].ready);
        fp_units_format_age(st[i].oldest_age_ms, age, sizeof age);
        printable(cfg->queues.names.items[i], name, sizeof name);
        put_left(name, wq);
        printf("  %10s  %10lld  %10lld  %10lld  %s\n", ready, st[i].pending, st[i].delayed,
               st[i].dead, age);
    }
    putchar('\n');
    if (consumers == 0) {
        if (fp_cli_embedded(cfg))
            printf("no consumers hold leases\n");
        else
            printf("no consumers in group %s\n", cfg->redis.group);
    } else {
        put_left("QUEUE", wq);
        fputs("  ", stdout);
        put_left("CONSUMER", wc);
        printf("  %10s  %s\n", "PENDING", "IDLE");
        for (size_t i = 0; i < nq; i++) {
            for (size_t k = 0; k < st[i].nconsumers; k++) {
                char idle[32];
                printable(cfg->queues.names.items[i], name, sizeof name);
                put_left(name, wq);
                fputs("  ", stdout);
                printable(st[i].consumers[k].name, name, sizeof name);
                put_left(name, wc);
                fp_units_format_age(st[i].consumers[k].idle_ms, idle, sizeof idle);
                printf("  %10lld  %s\n", st[i].consumers[k].pending, idle);
            }
        }
    }
    for (size_t i = 0; i < nq; i++) {
        printable(cfg->queues.names.items[i], name, sizeof name);
        if (!st[i].group_exists)
            printf("%s: group %s not created yet (no daemon has consumed it)\n", name,
                   cfg->redis.group);
        else if (!st[i].ready_exact)
            printf("%s: ready is an estimate (more than %d entries after the group's position)\n",
                   name, FP_ADMIN_READY_COUNT_MAX);
    }
}

/* "2026-12-07T02:59:01Z" */
static void format_utc(int64_t unix_ms, char *out, size_t cap)
{
    time_t secs = (time_t)(unix_ms / 1000);
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL || strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, cap, "?");
}

static void print_current_jobs(const fp_fleet_record_t *r, int64_t now_ms)
{
    char text[256], running[32];
    for (size_t k = 0; k < r->njobs; k++) {
        const fp_fleet_job_t *j = &r->jobs[k];
        fp_units_format_age(now_ms - j->started_ms, running, sizeof running);
        printable(j->type, text, sizeof text);
        printf("    %s", text);
        printable(j->id[0] != '\0' ? j->id : "-", text, sizeof text);
        printf("  id %s", text);
        printable(j->queue, text, sizeof text);
        printf("  %s %s  child %d  running %s\n", text, j->entry_id, j->child, running);
    }
    if (r->jobs_more > 0)
        printf("    ... and %lld more\n", r->jobs_more);
}

static void print_member(const fp_fleet_member_t *m, int64_t now_ms)
{
    char id[640], when[32], ago[32], text[256];
    printable(m->id, id, sizeof id);
    if (m->status == FP_FLEET_GONE || m->record == NULL) {
        format_utc(m->last_seen_ms, when, sizeof when);
        fp_units_format_age(now_ms - m->last_seen_ms, ago, sizeof ago);
        printf("%s  %s (last seen %s, %s ago)\n", id,
               m->status == FP_FLEET_GONE ? "gone" : "live, record unreadable", when, ago);
        return;
    }
    const fp_fleet_record_t *r = m->record;
    char uptime[32];
    fp_units_format_age(now_ms - r->started_ms, uptime, sizeof uptime);
    printable(r->host, text, sizeof text);
    printf("%s  host %s  pid %lld", id, text, r->pid);
    printable(r->version, text, sizeof text);
    printf("  version %s", text);
    printable(r->state, text, sizeof text);
    printf("  %s  up %s  children %lld/%lld busy  jobs %lld done, %lld failed\n", text, uptime,
           r->children_busy, r->children_total, r->jobs_done, r->jobs_failed);
    print_current_jobs(r, now_ms);
}

static void print_fleet(const fp_config_t *cfg, const fp_fleet_t *fleet)
{
    putchar('\n');
    if (fleet->n == 0 && fp_cli_embedded(cfg)) {
        printf("no daemons on the embedded queue %s keep a heartbeat\n", cfg->sqlite.path);
        return;
    }
    if (fleet->n == 0) {
        printf("no daemons on this Redis (prefix %s) keep a heartbeat\n", cfg->redis.prefix);
        return;
    }
    printf("DAEMONS\n");
    for (size_t i = 0; i < fleet->n; i++)
        print_member(&fleet->members[i], fleet->now_ms);
}

/* ---- JSON ------------------------------------------------------------------ */

static bool append(cJSON *array, cJSON *item)
{
    if (item != NULL && cJSON_AddItemToArray(array, item))
        return true;
    cJSON_Delete(item);
    return false;
}

static cJSON *json_consumers(const fp_admin_queue_stats_t *s)
{
    cJSON *array = cJSON_CreateArray();
    bool ok = array != NULL;
    for (size_t k = 0; ok && k < s->nconsumers; k++) {
        cJSON *c = cJSON_CreateObject();
        ok = c != NULL && fp_cli_json_add(c, "name", fp_json_text(s->consumers[k].name)) &&
             fp_cli_json_add(c, "pending", fp_json_whole(s->consumers[k].pending)) &&
             fp_cli_json_add(c, "idle_ms", fp_json_whole(s->consumers[k].idle_ms));
        ok = ok ? append(array, c) : (cJSON_Delete(c), false);
    }
    if (!ok) {
        cJSON_Delete(array);
        return NULL;
    }
    return array;
}

static cJSON *json_queue(const char *queue, const fp_admin_queue_stats_t *s)
{
    cJSON *o = cJSON_CreateObject();
    bool ready = s->oldest_id[0] != '\0';
    bool ok = o != NULL && fp_cli_json_add(o, "name", fp_json_text(queue)) &&
              fp_cli_json_add(o, "ready", fp_json_whole(s->ready)) &&
              fp_cli_json_add(o, "ready_exact", cJSON_CreateBool(s->ready_exact)) &&
              fp_cli_json_add(o, "pending", fp_json_whole(s->pending)) && fp_cli_json_add(o, "delayed", fp_json_whole(s->delayed)) &&
              fp_cli_json_add(o, "dead", fp_json_whole(s->dead)) && fp_cli_json_add(o, "length", fp_json_whole(s->length)) &&
              fp_cli_json_add(o, "group_exists", cJSON_CreateBool(s->group_exists)) &&
              fp_cli_json_add(o, "oldest_ready_id",
                  ready ? cJSON_CreateString(s->oldest_id) : cJSON_CreateNull()) &&
              fp_cli_json_add(o, "oldest_ready_age_ms",
                  ready ? fp_json_whole(s->oldest_age_ms) : cJSON_CreateNull()) &&
              fp_cli_json_add(o, "consumers", json_consumers(s));
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int print_json(const fp_config_t *cfg, const fp_admin_queue_stats_t *st,
                      const fp_fleet_t *fleet, fp_err_t *err)
{
    cJSON *doc = cJSON_CreateObject(), *queues = NULL;
    /* fp_cli_json_add() frees what it could not attach, so doc owns everything after. */
    bool embedded = fp_cli_embedded(cfg);
    bool ok = doc != NULL &&
              fp_cli_json_add(doc, "backend", fp_json_text(embedded ? "sqlite" : "redis")) &&
              (!embedded || fp_cli_json_add(doc, "path", fp_json_text(cfg->sqlite.path))) &&
              fp_cli_json_add(doc, "group", fp_json_text(cfg->redis.group)) &&
              fp_cli_json_add(doc, "prefix", fp_json_text(cfg->redis.prefix)) &&
              fp_cli_json_add(doc, "now_ms", fp_json_whole(cfg->queues.names.count > 0 ? st[0].now_ms : 0)) &&
              fp_cli_json_add(doc, "queues", queues = cJSON_CreateArray());
    for (size_t i = 0; ok && i < cfg->queues.names.count; i++)
        ok = append(queues, json_queue(cfg->queues.names.items[i], &st[i]));
    ok = ok && fp_cli_json_add(doc, "fleet", fp_fleet_json(fleet));
    return fp_cli_print_json_line(doc, ok, err);
}

int fp_cmd_stats(int argc, char **argv, fp_err_t *err)
{
    stats_args_t a = {0};
    fp_config_t *cfg = NULL;
    int rc = fp_cli_begin(argc, argv, &spec, &a, &cfg, err);
    if (rc < 0)
        return rc;
    size_t nq = cfg->queues.names.count;
    fp_admin_queue_stats_t *st = calloc(nq > 0 ? nq : 1, sizeof *st);
    fp_admin_t *admin = NULL;
    fp_fleet_t fleet = {0};
    if (st == NULL)
        rc = fp_err_set(err, -ENOMEM, "out of memory");
    else if (fp_cli_embedded(cfg) && (rc = fp_cli_stats_embedded(cfg, st, err)) == 0)
        rc = fp_cli_fleet_embedded(cfg, &fleet, err);
    else if (!fp_cli_embedded(cfg))
        rc = fp_admin_connect(cfg, &admin, err);
    for (size_t i = 0; rc == 0 && admin != NULL && i < nq; i++)
        rc = fp_admin_queue_stats(admin, cfg->queues.names.items[i], &st[i], err);
    if (rc == 0 && admin != NULL)
        rc = fp_admin_fleet(admin, cfg->redis.prefix, &fleet, err);
    if (rc == 0 && a.json)
        rc = print_json(cfg, st, &fleet, err);
    if (rc == 0 && !a.json) {
        print_table(cfg, st);
        print_fleet(cfg, &fleet);
    }
    fp_fleet_clear(&fleet);
    for (size_t i = 0; st != NULL && i < nq; i++)
        fp_admin_queue_stats_clear(&st[i]);
    free(st);
    fp_admin_free(admin);
    fp_config_free(cfg);
    return rc;
}
