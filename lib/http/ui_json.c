/* ui_json.c: the status page's JSON pieces that decide something
 * (ui_json.h). */
#include "http/ui_json.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"

size_t fp_ui_cut_len(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    /* Back off continuation bytes (10xxxxxx) to the start of the character
     * that straddles the cut, and leave that character out. */
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

bool fp_ui_add_cut(cJSON *o, const char *key, const char *s, size_t len, size_t max)
{
    if (s == NULL)
        return cJSON_AddNullToObject(o, key) != NULL;
    size_t n = fp_ui_cut_len(s, len, max);
    char *copy = malloc(n + 1);
    if (copy == NULL)
        return false;
    memcpy(copy, s, n);
    copy[n] = '\0';
    cJSON *text = fp_json_text(copy);
    free(copy);
    if (text == NULL || !cJSON_AddItemToObject(o, key, text)) {
        cJSON_Delete(text);
        return false;
    }
    if (n == len)
        return true;
    char name[64];
    snprintf(name, sizeof name, "%s_bytes", key);
    bool ok = cJSON_AddNumberToObject(o, name, (double)len) != NULL;
    snprintf(name, sizeof name, "%s_cut", key);
    return ok && cJSON_AddTrueToObject(o, name) != NULL;
}

static long long field_int(const fp_admin_field_t *f)
{
    return f->s != NULL ? strtoll(f->s, NULL, 10) : 0;
}

/* type and id from the payload, when it is a JSON object that has them:
 * the page labels the letter without the user reading the payload. */
static bool add_job_labels(cJSON *o, const fp_admin_field_t *job)
{
    cJSON *v = job->s != NULL ? fp_json_parse(job->s, job->len) : NULL;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(v, "type");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(v, "id");
    bool ok = true;
    if (cJSON_IsString(type))
        ok = fp_ui_add_cut(o, "type", type->valuestring, strlen(type->valuestring), 128);
    if (ok && cJSON_IsString(id))
        ok = fp_ui_add_cut(o, "job_id", id->valuestring, strlen(id->valuestring), 128);
    cJSON_Delete(v);
    return ok;
}

cJSON *fp_ui_dead_json(const char *queue, const fp_dead_entry_t *e, size_t payload_max)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o != NULL && cJSON_AddStringToObject(o, "queue", queue) != NULL &&
              fp_ui_add_cut(o, "id", e->id, strlen(e->id), 64) &&
              fp_ui_add_cut(o, "error", e->error.s, e->error.len, FP_UI_ERROR_MAX) &&
              cJSON_AddNumberToObject(o, "attempts", (double)field_int(&e->attempts)) != NULL &&
              cJSON_AddNumberToObject(o, "failed_at", (double)field_int(&e->failed_at)) != NULL &&
              fp_ui_add_cut(o, "consumer", e->consumer.s, e->consumer.len, 256) &&
              add_job_labels(o, &e->job) &&
              fp_ui_add_cut(o, "payload", e->job.s, e->job.len, payload_max);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static bool add_text(cJSON *o, const char *key, const char *s, size_t max)
{
    return fp_ui_add_cut(o, key, s, s != NULL ? strlen(s) : 0, max);
}

cJSON *fp_ui_failure_json(const fp_ledger_row_t *r)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o != NULL && add_text(o, "queue", r->queue, 128) &&
              add_text(o, "entry_id", r->entry_id, 64) && add_text(o, "job_id", r->job_id, 128) &&
              add_text(o, "type", r->type, 128) && add_text(o, "outcome", r->outcome, 16) &&
              add_text(o, "error", r->error, FP_UI_ERROR_MAX) &&
              cJSON_AddNumberToObject(o, "attempt", (double)r->attempt) != NULL &&
              cJSON_AddNumberToObject(o, "finished_at", (double)r->finished_at_ms) != NULL &&
              cJSON_AddNumberToObject(o, "duration_ms", (double)r->duration_us / 1000.0) != NULL;
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

double fp_ui_rate(long long before, int64_t before_ms, long long now, int64_t now_ms)
{
    if (before < 0 || now < 0 || now < before || now_ms <= before_ms)
        return -1.0;
    return (double)(now - before) * 1000.0 / (double)(now_ms - before_ms);
}
