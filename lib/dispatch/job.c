/* job.c: payload validation. Every payload is checked once, in the
 * supervisor, when it is pulled; what fails here goes to the dead stream with
 * the reason this file writes, and never reaches a child. */
#include "dispatch/job.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/units.h"
#include "base/json.h"
#include "base/utf8.h"

#define MAX_ATTEMPTS_LIMIT 1000
#define TIMEOUT_MAX_MS (INT64_C(7) * 24 * 3600 * 1000)

static int bad(fp_err_t *err, const char *reason)
{
    return fp_err_set(err, FP_EJOB, "%s", reason);
}

static bool whole_number(const cJSON *item, double min, double max)
{
    double v = item->valuedouble;
    return cJSON_IsNumber(item) && isfinite(v) && v == floor(v) && v >= min && v <= max;
}

static int parse_type(const cJSON *obj, fp_job_t *out, fp_err_t *err)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(obj, "type");
    if (type == NULL)
        return bad(err, "payload has no \"type\"");
    if (!cJSON_IsString(type))
        return bad(err, "\"type\" must be a string");
    size_t len = strlen(type->valuestring);
    if (len == 0)
        return bad(err, "\"type\" is empty");
    if (len > FP_JOB_TYPE_MAX)
        return fp_err_set(err, FP_EJOB, "\"type\" is longer than %d bytes", FP_JOB_TYPE_MAX);
    out->type = strdup(type->valuestring);
    return out->type != NULL ? 0 : fp_err_set(err, -ENOMEM, "out of memory");
}

static int parse_id(const cJSON *obj, fp_job_t *out, fp_err_t *err)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(obj, "id");
    if (id == NULL || cJSON_IsNull(id))
        return 0;
    if (cJSON_IsString(id)) {
        out->id = strdup(id->valuestring);
    } else if (whole_number(id, -9007199254740992.0, 9007199254740992.0)) {
        char text[32];
        snprintf(text, sizeof text, "%.0f", id->valuedouble);
        out->id = strdup(text);
    } else {
        return bad(err, "\"id\" must be a string or an integer");
    }
    return out->id != NULL ? 0 : fp_err_set(err, -ENOMEM, "out of memory");
}

/* "30s" as everywhere else, or a number of seconds as Celery and RQ take it. */
static int parse_timeout(const cJSON *obj, fp_job_t *out, fp_err_t *err)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "timeout");
    if (t == NULL || cJSON_IsNull(t))
        return 0;
    int64_t ms = 0;
    if (cJSON_IsString(t)) {
        fp_err_t why;
        if (fp_units_parse_duration_ms(t->valuestring, &ms, &why) < 0)
            return fp_err_set(err, FP_EJOB, "bad \"timeout\": %s", why.msg);
    } else if (cJSON_IsNumber(t) && isfinite(t->valuedouble) && t->valuedouble > 0 &&
               t->valuedouble * 1000.0 <= (double)TIMEOUT_MAX_MS) {
        ms = (int64_t)(t->valuedouble * 1000.0);
    } else {
        return bad(err, "\"timeout\" must be a duration such as \"30s\" or a number of seconds");
    }
    if (ms <= 0 || ms > TIMEOUT_MAX_MS)
        return bad(err, "\"timeout\" must be more than 0 and at most 7 days");
    out->timeout_ms = ms;
    return 0;
}

static int parse_counts(const cJSON *obj, fp_job_t *out, fp_err_t *err)
{
    const cJSON *max = cJSON_GetObjectItemCaseSensitive(obj, "max_attempts");
    if (max != NULL && !cJSON_IsNull(max)) {
        if (!whole_number(max, 1, MAX_ATTEMPTS_LIMIT))
            return bad(err, "\"max_attempts\" must be a whole number from 1 to 1000");
        out->max_attempts = (int64_t)max->valuedouble;
    }
    const cJSON *attempt = cJSON_GetObjectItemCaseSensitive(obj, "attempt");
    if (attempt != NULL && !cJSON_IsNull(attempt)) {
        if (!whole_number(attempt, 0, 1e9))
            return bad(err, "\"attempt\" must be a whole number of at least 0");
        out->attempt = (int64_t)attempt->valuedouble;
    }
    return 0;
}

int fp_unique_until_parse(const char *text, fp_unique_until_t *out)
{
    if (strcmp(text, "done") == 0)
        *out = FP_UNIQUE_DONE;
    else if (strcmp(text, "start") == 0)
        *out = FP_UNIQUE_START;
    else
        return -EINVAL;
    return 0;
}

const char *fp_unique_until_name(fp_unique_until_t until)
{
    return until == FP_UNIQUE_START ? "start" : "done";
}

static int parse_until(const cJSON *until, fp_job_t *out, fp_err_t *err)
{
    if (until == NULL || cJSON_IsNull(until))
        out->unique_until = FP_UNIQUE_DONE;
    else if (!cJSON_IsString(until) || fp_unique_until_parse(until->valuestring,
                                                             &out->unique_until) < 0)
        return bad(err, "\"unique\".\"until\" must be \"done\" or \"start\"");
    return 0;
}

/* "unique": {"key": K, "until": "done"|"start"}. Its key in Redis holds the
 * job's "id", and an outcome releases the key only while it still holds that
 * id, so a unique job needs a string id: a number could be printed
 * differently by another producer. Unknown members are refused so that a
 * misspelt "until" does not silently mean "done". */
static int parse_unique(const cJSON *obj, fp_job_t *out, fp_err_t *err)
{
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(obj, "unique");
    if (u == NULL || cJSON_IsNull(u))
        return 0;
    if (!cJSON_IsObject(u))
        return bad(err, "\"unique\" must be an object such as {\"key\": \"order-17\"}");
    for (const cJSON *m = u->child; m != NULL; m = m->next)
        if (strcmp(m->string, "key") != 0 && strcmp(m->string, "until") != 0)
            return fp_err_set(err, FP_EJOB, "\"unique\" has an unknown member \"%.64s\"",
                              m->string);
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(u, "key");
    if (!cJSON_IsString(key) || key->valuestring[0] == '\0')
        return bad(err, "\"unique\".\"key\" must be a non-empty string");
    if (strlen(key->valuestring) > FP_UNIQUE_KEY_MAX)
        return fp_err_set(err, FP_EJOB, "\"unique\".\"key\" is longer than %d bytes",
                          FP_UNIQUE_KEY_MAX);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(obj, "id");
    if (!cJSON_IsString(id) || id->valuestring[0] == '\0')
        return bad(err, "a job with \"unique\" needs a non-empty string \"id\"");
    int rc = parse_until(cJSON_GetObjectItemCaseSensitive(u, "until"), out, err);
    if (rc == 0 && (out->unique_key = strdup(key->valuestring)) == NULL)
        rc = fp_err_set(err, -ENOMEM, "out of memory");
    return rc;
}

int fp_job_parse(const char *payload, size_t len, size_t max_bytes, fp_job_t *out, fp_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (len > max_bytes)
        return fp_err_set(err, FP_ELIMIT, "payload is %zu bytes, more than limits.max_job_bytes (%zu)",
                          len, max_bytes);
    if (!fp_utf8_valid(payload, len))
        return bad(err, "payload is not valid UTF-8");
    cJSON *obj = fp_json_parse(payload, len);
    if (obj == NULL)
        return bad(err, "payload is not JSON");
    int rc = cJSON_IsObject(obj) ? 0 : bad(err, "payload is not a JSON object");
    if (rc == 0)
        rc = parse_type(obj, out, err);
    if (rc == 0)
        rc = parse_id(obj, out, err);
    if (rc == 0)
        rc = parse_timeout(obj, out, err);
    if (rc == 0)
        rc = parse_counts(obj, out, err);
    if (rc == 0)
        rc = parse_unique(obj, out, err);
    cJSON_Delete(obj);
    if (rc < 0)
        fp_job_clear(out);
    return rc;
}

void fp_job_clear(fp_job_t *job)
{
    free(job->type);
    free(job->id);
    free(job->unique_key);
    memset(job, 0, sizeof *job);
}
