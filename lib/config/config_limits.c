/* config_limits.c: the [limits.TYPE] tables (concurrency, local_concurrency,
 * rate per job type). They are not rows of the schema: their section name
 * is a job type the user chooses, like [handlers.NAME]. config.c hands each
 * table found under [limits] that is not a schema key to
 * fp__config_type_limit; every value is checked here, and every mistake is
 * an error at its line:column, as for the schema's keys. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/config_internal.h"
#include "dispatch/job.h"

#define LIMIT_MAX 1000000

const char *const fp__config_type_limit_keys[] = {"concurrency", "local_concurrency", "rate",
                                                  NULL};

static int fail(const char *file, const fp_toml_node_t *node, fp_err_t *err, const char *what,
                const char *reason)
{
    int line = fp_toml_line(node), col = fp_toml_col(node);
    return fp_err_set_at(err, FP_ECONFIG, line, col, "%s:%d:%d: %s %s", file, line, col, what,
                         reason);
}

/* The type becomes part of Redis key names with the hash tag {limit:TYPE},
 * so braces would move the key to another slot; white space and control
 * characters have no place in a type either. */
static bool type_name_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > FP_JOB_TYPE_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (t[i] == '{' || t[i] == '}' || (unsigned char)t[i] <= ' ' || t[i] == 0x7f)
            return false;
    return true;
}

static int set_count(const char *file, const char *what, const fp_toml_node_t *v, int64_t *out,
                     fp_err_t *err)
{
    char why[96];
    if (fp_toml_type(v) != FP_TOML_INTEGER) {
        snprintf(why, sizeof why, "must be an integer, got %s", fp_toml_type_name(fp_toml_type(v)));
        return fail(file, v, err, what, why);
    }
    int64_t n = fp_toml_integer(v);
    if (n < 1 || n > LIMIT_MAX) {
        snprintf(why, sizeof why, "must be between 1 and %d, got %" PRId64, LIMIT_MAX, n);
        return fail(file, v, err, what, why);
    }
    *out = n;
    return 0;
}

static int set_rate(const char *file, const char *what, const fp_toml_node_t *v, fp_rate_t *out,
                    fp_err_t *err)
{
    char why[FP_ERR_MSG_MAX];
    size_t len = 0;
    const char *s = fp_toml_type(v) == FP_TOML_STRING ? fp_toml_string(v, &len) : NULL;
    if (s == NULL || memchr(s, '\0', len) != NULL) {
        snprintf(why, sizeof why, "must be a string such as \"100/s\", got %s",
                 s == NULL ? fp_toml_type_name(fp_toml_type(v)) : "text with NUL");
        return fail(file, v, err, what, why);
    }
    fp_err_t rerr = {0};
    if (fp_rate_parse(s, out, &rerr) < 0) {
        snprintf(why, sizeof why, "%s", rerr.msg);
        return fail(file, v, err, what, why);
    }
    return 0;
}

static int set_key(const char *file, const char *type, const char *key, const fp_toml_node_t *v,
                   fp_type_limit_t *lim, fp_err_t *err)
{
    char what[FP_JOB_TYPE_MAX + 64];
    snprintf(what, sizeof what, "[limits.%s] %s", type, key);
    if (strcmp(key, "concurrency") == 0)
        return set_count(file, what, v, &lim->concurrency, err);
    if (strcmp(key, "local_concurrency") == 0)
        return set_count(file, what, v, &lim->local_concurrency, err);
    if (strcmp(key, "rate") == 0)
        return set_rate(file, what, v, &lim->rate, err);
    fp__suggest_t sg = {.word = key};
    for (size_t i = 0; fp__config_type_limit_keys[i] != NULL; i++)
        fp__suggest_consider(&sg, fp__config_type_limit_keys[i]);
    char q[96], why[96];
    if (sg.best != NULL)
        snprintf(why, sizeof why, "(did you mean \"%s\"?)", sg.best);
    else
        snprintf(why, sizeof why, "(it takes concurrency, local_concurrency and rate)");
    snprintf(what, sizeof what, "unknown key %s in [limits.%s]", fp__config_quote(q, sizeof q, key),
             type);
    return fail(file, v, err, what, why);
}

static int parse_table(const char *file, const char *type, const fp_toml_node_t *table,
                       fp_type_limit_t *lim, fp_err_t *err)
{
    char q[96];
    if (!type_name_ok(type))
        return fail(file, table, err, "[limits] table",
                    "names no job type: a type is 1 to 128 characters without braces, white "
                    "space or control characters");
    if (fp_toml_count(table) == 0) {
        char what[FP_JOB_TYPE_MAX + 32];
        snprintf(what, sizeof what, "[limits.%s]", fp__config_name_text(q, sizeof q, type));
        return fail(file, table, err, what,
                    "sets no limit: give it concurrency, local_concurrency or rate");
    }
    for (size_t i = 0; i < fp_toml_count(table); i++) {
        int rc = set_key(file, type, fp_toml_key_at(table, i), fp_toml_at(table, i), lim, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int fp__config_type_limit(const char *file, fp_config_t *cfg, const char *type,
                          const fp_toml_node_t *table, fp_err_t *err)
{
    fp_type_limit_t lim = {0};
    int rc = parse_table(file, type, table, &lim, err);
    if (rc < 0)
        return rc;
    fp_type_limit_t *grown =
        realloc(cfg->limits.types, (cfg->limits.ntypes + 1) * sizeof *cfg->limits.types);
    if (grown == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    cfg->limits.types = grown;
    if ((lim.type = strdup(type)) == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    cfg->limits.types[cfg->limits.ntypes++] = lim;
    return 0;
}

void fp__config_free_type_limits(fp_config_t *cfg)
{
    for (size_t i = 0; i < cfg->limits.ntypes; i++)
        free(cfg->limits.types[i].type);
    free(cfg->limits.types);
    cfg->limits.types = NULL;
    cfg->limits.ntypes = 0;
}

const fp_type_limit_t *fp_config_type_limit(const fp_config_t *cfg, const char *type)
{
    for (size_t i = 0; cfg != NULL && type != NULL && i < cfg->limits.ntypes; i++)
        if (strcmp(cfg->limits.types[i].type, type) == 0)
            return &cfg->limits.types[i];
    return NULL;
}


/* The tables as the dump shows them, under "limits" beside max_job_bytes,
 * in the shape they are written in TOML (so the dump reads back). */
int fp__config_type_limits_json(const fp_config_t *cfg, cJSON *limits)
{
    char rate[32];
    for (size_t i = 0; i < cfg->limits.ntypes; i++) {
        const fp_type_limit_t *l = &cfg->limits.types[i];
        cJSON *t = cJSON_AddObjectToObject(limits, l->type);
        if (t == NULL)
            return -1;
        if (l->concurrency > 0 && !cJSON_AddNumberToObject(t, "concurrency", (double)l->concurrency))
            return -1;
        if (l->local_concurrency > 0 &&
            !cJSON_AddNumberToObject(t, "local_concurrency", (double)l->local_concurrency))
            return -1;
        if (l->rate.count > 0) {
            fp_rate_format(&l->rate, rate, sizeof rate);
            if (!cJSON_AddStringToObject(t, "rate", rate))
                return -1;
        }
    }
    return 0;
}
