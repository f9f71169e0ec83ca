/* heartbeat_record.c: the pure half of the fleet heartbeat (heartbeat.h):
 * key names, the record's JSON in both directions, and whether a listed
 * daemon is live, gone or long gone. Bounded both ways: a record never lists
 * more than FP_FLEET_JOBS_MAX jobs, and a decoded one never holds more, so
 * a daemon running thousands of jobs (or a hand-written record) cannot make
 * a beat or a reader large. */
#include "queue/heartbeat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/json.h"
#include "queue/queue_scripts.h"

char *fp_fleet_set_key(const char *prefix)
{
    return fp_queue_key(prefix, "fleet", "daemons");
}

char *fp_fleet_record_key(const char *prefix, const char *id)
{
    size_t n = strlen(id) + sizeof "daemon:";
    char *kind = malloc(n);
    if (kind == NULL)
        return NULL;
    snprintf(kind, n, "daemon:%s", id);
    char *key = fp_queue_key(prefix, "fleet", kind);
    free(kind);
    return key;
}

bool fp_fleet_id(const char *name, const char *host, long long pid, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s@%s:%lld", name, host, pid);
    return n > 0 && (size_t)n < size;
}

const char *fp_fleet_status_name(fp_fleet_status_t s)
{
    return s == FP_FLEET_LIVE ? "live" : s == FP_FLEET_GONE ? "gone" : "expired";
}

fp_fleet_status_t fp_fleet_classify(bool has_record, int64_t last_seen_ms, int64_t now_ms)
{
    if (has_record)
        return FP_FLEET_LIVE;
    return now_ms - last_seen_ms > FP_FLEET_GONE_KEEP_MS ? FP_FLEET_EXPIRED : FP_FLEET_GONE;
}

/* ---- encode ---------------------------------------------------------------- */

/* Whole numbers as digits: cJSON would go through a double. */
static bool add_int(cJSON *o, const char *key, long long v)
{
    cJSON *item = fp_json_whole(v);
    if (item != NULL && cJSON_AddItemToObject(o, key, item))
        return true;
    cJSON_Delete(item);
    return false;
}

static bool add_str(cJSON *o, const char *key, const char *v)
{
    return cJSON_AddStringToObject(o, key, v) != NULL;
}

static bool add_job(cJSON *jobs, const fp_fleet_job_t *j)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || !cJSON_AddItemToArray(jobs, o)) {
        cJSON_Delete(o);
        return false;
    }
    return add_str(o, "queue", j->queue) && add_str(o, "entry_id", j->entry_id) &&
           add_str(o, "id", j->id) && add_str(o, "type", j->type) &&
           add_int(o, "child", j->child) && add_int(o, "started_ms", j->started_ms);
}

static bool encode_into(cJSON *o, const fp_fleet_record_t *r)
{
    bool ok = add_str(o, "name", r->name) && add_str(o, "host", r->host) &&
              add_int(o, "pid", r->pid) && add_str(o, "version", r->version) &&
              add_str(o, "token", r->token) && add_str(o, "state", r->state) &&
              add_int(o, "started_ms", r->started_ms) &&
              add_int(o, "interval_ms", r->interval_ms) &&
              add_int(o, "generation", (long long)r->generation) &&
              add_int(o, "children_busy", r->children_busy) &&
              add_int(o, "children_total", r->children_total) &&
              add_int(o, "jobs_done", r->jobs_done) && add_int(o, "jobs_failed", r->jobs_failed);
    cJSON *jobs = ok ? cJSON_AddArrayToObject(o, "jobs") : NULL;
    size_t listed = r->njobs < FP_FLEET_JOBS_MAX ? r->njobs : FP_FLEET_JOBS_MAX;
    for (size_t i = 0; jobs != NULL && ok && i < listed; i++)
        ok = add_job(jobs, &r->jobs[i]);
    return jobs != NULL && ok &&
           add_int(o, "jobs_more", r->jobs_more + (long long)(r->njobs - listed));
}

char *fp_fleet_encode(const fp_fleet_record_t *r)
{
    cJSON *o = cJSON_CreateObject();
    char *text = o != NULL && encode_into(o, r) ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (text == NULL)
        return NULL;
    char *out = strdup(text); /* callers free() it, whatever cJSON's allocator */
    cJSON_free(text);
    return out;
}

/* ---- decode ---------------------------------------------------------------- */

static void get_str(const cJSON *o, const char *key, char *out, size_t size)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    snprintf(out, size, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

static long long get_int(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble != v->valuedouble)
        return 0;
    if (v->valuedouble >= 9.2e18 || v->valuedouble <= -9.2e18)
        return 0; /* outside long long: read as unknown */
    return (long long)v->valuedouble;
}

static void get_job(const cJSON *o, fp_fleet_job_t *j)
{
    get_str(o, "queue", j->queue, sizeof j->queue);
    get_str(o, "entry_id", j->entry_id, sizeof j->entry_id);
    get_str(o, "id", j->id, sizeof j->id);
    get_str(o, "type", j->type, sizeof j->type);
    long long child = get_int(o, "child");
    j->child = child >= 0 && child <= 1000000 ? (int)child : -1;
    j->started_ms = get_int(o, "started_ms");
}

static void get_jobs(const cJSON *o, fp_fleet_record_t *out)
{
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(o, "jobs");
    const cJSON *j;
    if (!cJSON_IsArray(jobs))
        return;
    cJSON_ArrayForEach(j, jobs) {
        if (!cJSON_IsObject(j))
            continue;
        if (out->njobs == FP_FLEET_JOBS_MAX)
            out->jobs_more++;
        else
            get_job(j, &out->jobs[out->njobs++]);
    }
}

int fp_fleet_decode(const char *s, size_t n, fp_fleet_record_t *out)
{
    memset(out, 0, sizeof *out);
    cJSON *o = cJSON_ParseWithLength(s, n);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    if (!cJSON_IsObject(o) || !cJSON_IsString(name)) {
        cJSON_Delete(o);
        return -EINVAL;
    }
    get_str(o, "name", out->name, sizeof out->name);
    get_str(o, "host", out->host, sizeof out->host);
    get_str(o, "version", out->version, sizeof out->version);
    get_str(o, "token", out->token, sizeof out->token);
    get_str(o, "state", out->state, sizeof out->state);
    out->pid = get_int(o, "pid");
    out->started_ms = get_int(o, "started_ms");
    out->interval_ms = get_int(o, "interval_ms");
    long long gen = get_int(o, "generation");
    out->generation = gen >= 0 && gen <= UINT32_MAX ? (uint32_t)gen : 0;
    out->children_busy = get_int(o, "children_busy");
    out->children_total = get_int(o, "children_total");
    out->jobs_done = get_int(o, "jobs_done");
    out->jobs_failed = get_int(o, "jobs_failed");
    out->jobs_more = get_int(o, "jobs_more");
    get_jobs(o, out);
    cJSON_Delete(o);
    return 0;
}
