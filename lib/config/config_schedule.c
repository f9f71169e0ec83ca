/* config_schedule.c: the [[schedule]] tables (config.h, fp_schedule_t).
 * They are an array of tables with their own keys, so they are read here
 * rather than through the schema table: each key is checked, the cron
 * expression parsed, the time zone's file read (at load time, never on the
 * daemon's loop), and the queue looked up among the final queues.names.
 * Every mistake names file:line:col and the schedule, because a schedule
 * that silently never fires is found weeks later. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/units.h"
#include "config/config_internal.h"
#include "dispatch/job.h"

/* The name is part of job ids and of a Redis hash field: short and plain. */
#define NAME_MAX_LEN 128

static const char *const known_keys[] = {"name",  "cron", "every", "timezone", "type",
                                         "args",  "queue", "missed", NULL};

typedef struct sload_s {
    const char *file;
    fp_err_t *err;
    const char *label; /* "[[schedule]] \"NAME\"" or "[[schedule]] #N" */
} sload_t;

static int fail(sload_t *sl, const fp_toml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(sload_t *sl, const fp_toml_node_t *node, const char *fmt, ...)
{
    char reason[FP_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    int line = fp_toml_line(node), col = fp_toml_col(node);
    return fp_err_set_at(sl->err, FP_ECONFIG, line, col, "%s:%d:%d: %s %s", sl->file, line, col,
                         sl->label, reason);
}

/* A string value of key, or NULL (*node NULL) when absent. */
static int get_str(sload_t *sl, const fp_toml_node_t *t, const char *key, const char **out,
                   const fp_toml_node_t **node)
{
    size_t len = 0;
    *out = NULL;
    *node = fp_toml_get(t, key);
    if (*node == NULL)
        return 0;
    if (fp_toml_type(*node) != FP_TOML_STRING)
        return fail(sl, *node, "%s must be a string, got %s", key,
                    fp_toml_type_name(fp_toml_type(*node)));
    *out = fp_toml_string(*node, &len);
    if (memchr(*out, '\0', len) != NULL)
        return fail(sl, *node, "%s must not contain NUL characters", key);
    return 0;
}

static int check_keys(sload_t *sl, const fp_toml_node_t *t)
{
    char q[96];
    for (size_t i = 0; i < fp_toml_count(t); i++) {
        const char *key = fp_toml_key_at(t, i);
        fp__suggest_t sg = {.word = key};
        bool known = false;
        for (const char *const *k = known_keys; *k != NULL && !known; k++) {
            known = strcmp(*k, key) == 0;
            fp__suggest_consider(&sg, *k);
        }
        if (!known)
            return fail(sl, fp_toml_at(t, i), "has an unknown key %s%s%s%s",
                        fp__config_quote(q, sizeof q, key), sg.best ? " (did you mean \"" : "",
                        sg.best ? sg.best : "", sg.best ? "\"?)" : "");
    }
    return 0;
}

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' || s[i] == '.'))
            return false;
    return true;
}

static int load_name(sload_t *sl, const fp_toml_node_t *t, const fp_config_t *cfg, size_t n,
                     fp_schedule_t *s, char *label, size_t lsize)
{
    const char *v;
    const fp_toml_node_t *node;
    int rc = get_str(sl, t, "name", &v, &node);
    if (rc < 0)
        return rc;
    if (node == NULL)
        return fail(sl, t, "needs a name");
    if (!name_ok(v))
        return fail(sl, node, "name must be 1 to %d letters, digits, '_', '-' or '.'",
                    NAME_MAX_LEN);
    snprintf(label, lsize, "[[schedule]] \"%s\"", v);
    sl->label = label;
    for (size_t i = 0; i < n; i++)
        if (strcmp(cfg->schedules.items[i].name, v) == 0)
            return fail(sl, node, "is defined twice (schedule names must be unique)");
    return (s->name = strdup(v)) ? 0 : -ENOMEM;
}

static int load_zone(sload_t *sl, const fp_toml_node_t *t, fp_schedule_t *s)
{
    const char *zone;
    const fp_toml_node_t *node;
    int rc = get_str(sl, t, "timezone", &zone, &node);
    if (rc < 0)
        return rc;
    if (node != NULL && !s->when.is_cron)
        return fail(sl, node, "timezone only applies to cron (every counts from the epoch)");
    fp_err_t zerr = {0};
    if ((rc = fp_tz_load(zone != NULL ? zone : "UTC", &s->tz, &zerr)) < 0)
        return rc == -ENOMEM ? rc : fail(sl, node, "timezone \"%s\": %s", zone, zerr.msg);
    s->when.tz = s->tz;
    return 0;
}

/* cron or every, exactly one. */
static int load_when(sload_t *sl, const fp_toml_node_t *t, fp_schedule_t *s)
{
    const char *cron, *every;
    const fp_toml_node_t *cn, *en;
    int rc;
    fp_err_t perr = {0};
    if ((rc = get_str(sl, t, "cron", &cron, &cn)) < 0 ||
        (rc = get_str(sl, t, "every", &every, &en)) < 0)
        return rc;
    if ((cn == NULL) == (en == NULL))
        return fail(sl, cn != NULL ? cn : t, "needs exactly one of cron and every");
    s->when.is_cron = cn != NULL;
    if ((s->expr = strdup(cron != NULL ? cron : every)) == NULL)
        return -ENOMEM;
    if (cn != NULL && fp_cron_parse(cron, &s->when.cron, &perr) < 0)
        return fail(sl, cn, "cron \"%s\": %s", cron, perr.msg);
    if (en != NULL && fp_units_parse_duration_ms(every, &s->when.every_ms, &perr) < 0)
        return fail(sl, en, "every: %s", perr.msg);
    if (en != NULL && s->when.every_ms < FP__EVERY_MIN_MS)
        return fail(sl, en, "every must be at least 1s, got \"%s\"", every);
    if ((rc = load_zone(sl, t, s)) < 0)
        return rc;
    int64_t next;
    if (cn != NULL && fp_sched_next(&s->when, 0, &next) == -ENOENT)
        return fail(sl, cn, "cron \"%s\" never fires (no such date)", cron);
    return 0;
}

static int load_job(sload_t *sl, const fp_toml_node_t *t, const fp_config_t *cfg,
                    fp_schedule_t *s)
{
    const char *type, *queue, *missed;
    const fp_toml_node_t *tn, *qn, *mn, *an = fp_toml_get(t, "args");
    int rc;
    if ((rc = get_str(sl, t, "type", &type, &tn)) < 0 ||
        (rc = get_str(sl, t, "queue", &queue, &qn)) < 0 ||
        (rc = get_str(sl, t, "missed", &missed, &mn)) < 0)
        return rc;
    if (tn == NULL || *type == '\0' || strlen(type) > FP_JOB_TYPE_MAX)
        return fail(sl, tn != NULL ? tn : t, "needs a type (the job's, 1 to %d bytes)",
                    FP_JOB_TYPE_MAX);
    s->missed = FP_MISSED_ONE;
    if (mn != NULL && fp_missed_parse(missed, &s->missed) < 0)
        return fail(sl, mn, "missed must be one of \"skip\", \"one\", \"all\"");
    if (queue == NULL)
        queue = cfg->queues.names.items[0];
    bool found = false;
    for (size_t i = 0; i < cfg->queues.names.count && !found; i++)
        found = strcmp(cfg->queues.names.items[i], queue) == 0;
    if (!found)
        return fail(sl, qn, "queue \"%s\" is not in [queues] names", queue);
    if (an != NULL && fp_toml_type(an) != FP_TOML_TABLE)
        return fail(sl, an, "args must be a table, got %s", fp_toml_type_name(fp_toml_type(an)));
    cJSON *args = an != NULL ? fp_toml_to_json(an, false) : cJSON_CreateObject();
    s->args_json = args != NULL ? cJSON_PrintUnformatted(args) : NULL;
    cJSON_Delete(args);
    s->type = strdup(type);
    s->queue = strdup(queue);
    return s->args_json && s->type && s->queue ? 0 : -ENOMEM;
}

static int load_one(sload_t *sl, const fp_toml_node_t *t, fp_config_t *cfg, size_t n)
{
    char label[NAME_MAX_LEN + 32];
    snprintf(label, sizeof label, "[[schedule]] #%zu", n + 1);
    sl->label = label;
    fp_schedule_t *s = &cfg->schedules.items[n];
    if (fp_toml_type(t) != FP_TOML_TABLE)
        return fail(sl, t, "must be a table, got %s", fp_toml_type_name(fp_toml_type(t)));
    int rc = check_keys(sl, t);
    if (rc == 0)
        rc = load_name(sl, t, cfg, n, s, label, sizeof label);
    if (rc == 0)
        rc = load_when(sl, t, s);
    if (rc == 0)
        rc = load_job(sl, t, cfg, s);
    return rc == -ENOMEM ? fp_err_set(sl->err, rc, "out of memory") : rc;
}

int fp__config_schedules(fp_config_t *cfg, const char *name, fp_err_t *err)
{
    sload_t sl = {name, err, "[[schedule]]"};
    const fp_toml_node_t *arr = cfg->doc ? fp_toml_get(cfg->doc, FP__CONFIG_SCHEDULE) : NULL;
    if (arr == NULL)
        return 0;
    if (fp_toml_type(arr) != FP_TOML_ARRAY)
        return fail(&sl, arr, "must be an array of tables: write [[schedule]], not [schedule]");
    size_t n = fp_toml_count(arr);
    if ((cfg->schedules.items = calloc(n ? n : 1, sizeof *cfg->schedules.items)) == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        cfg->schedules.count = i + 1; /* so a failure frees what this one holds */
        int rc = load_one(&sl, fp_toml_at(arr, i), cfg, i);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void fp__config_schedules_free(fp_config_t *cfg)
{
    for (size_t i = 0; i < cfg->schedules.count; i++) {
        fp_schedule_t *s = &cfg->schedules.items[i];
        free(s->name);
        free(s->expr);
        fp_tz_free(s->tz);
        free(s->type);
        free(s->args_json);
        free(s->queue);
    }
    free(cfg->schedules.items);
    cfg->schedules.items = NULL;
    cfg->schedules.count = 0;
}
