/* cmd_schedule.c: `forkpool schedule list`: each [[schedule]] of the
 * configuration with its expression, zone, queue, the last tick Redis
 * recorded as fired (by any daemon; its start before the first) and the
 * next tick from now. Reads only:
 * one HMGET per schedule; on the embedded queue one read of the queue
 * file's record (schedule_embedded.c), the same columns. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "embedded.h"
#include "schedule_embedded.h"
#include "sqlq/open_flags.h"
#include "base/json.h"
#include "base/os.h"
#include "queue/admin.h"
#include "queue/schedule.h"

enum { OPT_JSON = 256 };

typedef struct args_s {
    bool json;
} args_t;

static int on_option(void *args, int id, const char *name, const char *value, fp_err_t *err)
{
    (void)id, (void)name, (void)value, (void)err;
    ((args_t *)args)->json = true;
    return 0;
}

static int on_operands(void *args, int n, char **words, fp_err_t *err)
{
    (void)args;
    if (n != 1 || strcmp(words[0], "list") != 0)
        return fp_err_set(err, FP_EUSAGE, "usage: forkpool schedule list [-c FILE] [--json]");
    return 0;
}

static const struct option options[] = {
    {"config", required_argument, NULL, 'c'},
    {"json", no_argument, NULL, OPT_JSON},
    {NULL, 0, NULL, 0},
};
static const fp_cli_spec_t spec = {options, on_option, on_operands, NULL};

/* Whether the record's fingerprint (NAME:expr) counts s's ticks. One of
 * another expression is not shown: the daemons start s afresh
 * (fp_schedule_script). None (an older version's record) is taken as s's,
 * as the script does. */
static bool same_expr(const fp_schedule_t *s, const redisReply *fp)
{
    char mine[FP_SCHEDULE_FINGERPRINT_MAX];
    return fp->type != REDIS_REPLY_STRING ||
           (fp_schedule_fingerprint(s, mine, sizeof mine) && strcmp(fp->str, mine) == 0);
}

/* The recorded tick of s (its last fired, or its start before the first),
 * -1 when Redis has none of its expression. */
static int last_fired(fp_admin_t *admin, const fp_config_t *cfg, const fp_schedule_t *s,
                      int64_t *out, fp_err_t *err)
{
    char *key = fp_schedule_key(cfg->redis.prefix, s->queue), expr[FP_SCHEDULE_FINGERPRINT_MAX];
    if (key == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    snprintf(expr, sizeof expr, "%s:expr", s->name);
    const char *argv[] = {"HMGET", key, s->name, expr};
    size_t lens[] = {5, strlen(key), strlen(s->name), strlen(expr)};
    redisReply *r = NULL;
    int rc = fp_admin_commandv(admin, 4, argv, lens, &r, err);
    free(key);
    *out = -1;
    if (rc == 0 && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && same_expr(s, r->element[1]))
        *out = strtoll(r->element[0]->str, NULL, 10);
    if (r != NULL)
        freeReplyObject(r);
    return rc;
}

static cJSON *tick_json(int64_t ms, bool iso)
{
    char text[40];
    if (ms < 0)
        return cJSON_CreateNull();
    if (!iso)
        return fp_json_whole(ms);
    fp_schedule_iso(ms, text, sizeof text);
    return cJSON_CreateString(text);
}

static int print_json(const fp_schedule_t *s, int64_t last, int64_t next, fp_err_t *err)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o != NULL && fp_cli_json_add(o, "name", cJSON_CreateString(s->name)) &&
              fp_cli_json_add(o, s->when.is_cron ? "cron" : "every", cJSON_CreateString(s->expr)) &&
              fp_cli_json_add(o, "timezone",
                              s->when.is_cron ? cJSON_CreateString(s->tz->name) : cJSON_CreateNull()) &&
              fp_cli_json_add(o, "queue", cJSON_CreateString(s->queue)) &&
              fp_cli_json_add(o, "type", cJSON_CreateString(s->type)) &&
              fp_cli_json_add(o, "missed", cJSON_CreateString(fp_missed_name(s->missed))) &&
              fp_cli_json_add(o, "last_ms", tick_json(last, false)) &&
              fp_cli_json_add(o, "last", tick_json(last, true)) &&
              fp_cli_json_add(o, "next_ms", tick_json(next, false)) &&
              fp_cli_json_add(o, "next", tick_json(next, true));
    return fp_cli_print_json_line(o, ok, err);
}

static void print_text(const fp_schedule_t *s, int64_t last, int64_t next)
{
    char expr[FP_CRON_TEXT_MAX + 8], last_text[40] = "never", next_text[40] = "never";
    snprintf(expr, sizeof expr, "%s %s", s->when.is_cron ? "cron" : "every", s->expr);
    if (last >= 0)
        fp_schedule_iso(last, last_text, sizeof last_text);
    if (next >= 0)
        fp_schedule_iso(next, next_text, sizeof next_text);
    printf("%-24s %-24s %-18s %-12s %-24s %s\n", s->name, expr,
           s->when.is_cron ? s->tz->name : "-", s->queue, last_text, next_text);
}

/* The queue file, never created here: none yet means nothing was recorded
 * (*store stays NULL). */
static int open_file(const fp_config_t *cfg, fp_sqlq_t **store, fp_err_t *err)
{
    int rc = fp_sqlq_open_cfg(cfg, false, store, err);
    return rc == -ENOENT ? 0 : rc;
}

int fp_cmd_schedule(int argc, char **argv, fp_err_t *err)
{
    args_t a = {0};
    fp_config_t *cfg = NULL;
    fp_admin_t *admin = NULL;
    int rc = fp_cli_begin(argc, argv, &spec, &a, &cfg, err);
    if (rc < 0)
        return rc;
    if (cfg->schedules.count == 0) {
        if (!a.json)
            printf("no schedules configured ([[schedule]] in %s)\n", cfg->source);
        fp_config_free(cfg);
        return 0;
    }
    fp_sqlq_t *store = NULL;
    rc = fp_cli_embedded(cfg) ? open_file(cfg, &store, err) : fp_admin_connect(cfg, &admin, err);
    if (rc == 0 && !a.json)
        printf("%-24s %-24s %-18s %-12s %-24s %s\n", "NAME", "EXPRESSION", "ZONE", "QUEUE",
               "LAST RUN (UTC)", "NEXT RUN (UTC)");
    int64_t now = fp_os_unix_ms();
    for (size_t i = 0; rc == 0 && i < cfg->schedules.count; i++) {
        const fp_schedule_t *s = &cfg->schedules.items[i];
        int64_t last, next = -1;
        rc = admin != NULL ? last_fired(admin, cfg, s, &last, err)
                           : fp_cli_schedule_last_embedded(store, s, &last, err);
        if (rc < 0)
            break;
        if (fp_sched_next(&s->when, now, &next) < 0)
            next = -1;
        if (a.json)
            rc = print_json(s, last, next, err);
        else
            print_text(s, last, next);
    }
    fp_admin_free(admin);
    fp_sqlq_close(store);
    fp_config_free(cfg);
    return rc;
}
