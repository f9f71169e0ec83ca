/* heartbeat_json.c: the fleet (heartbeat.h) as JSON, the one shape both
 * `forkpool stats --json` and the daemon's /stats print: one object per
 * listed daemon with its id, status (live or gone) and last-seen time, and
 * for a live one what its record says, with its uptime and each job's
 * running time as of the read. Text from Redis is made valid UTF-8 first,
 * so the document is valid JSON whatever a record held. */
#include "queue/heartbeat.h"


#include <cjson/cJSON.h>

#include "base/json.h"

/* Attaches item to o under name; frees item when it cannot (or o is NULL). */
static bool add(cJSON *o, const char *name, cJSON *item)
{
    if (o != NULL && item != NULL && cJSON_AddItemToObject(o, name, item))
        return true;
    cJSON_Delete(item);
    return false;
}

static cJSON *job_json(const fp_fleet_job_t *j, int64_t now_ms)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = add(o, "queue", fp_json_text(j->queue)) &&
              add(o, "entry_id", fp_json_text(j->entry_id)) &&
              add(o, "id", j->id[0] != '\0' ? fp_json_text(j->id) : cJSON_CreateNull()) &&
              add(o, "type", fp_json_text(j->type)) && add(o, "child", fp_json_whole(j->child)) &&
              add(o, "started_ms", fp_json_whole(j->started_ms)) &&
              add(o, "running_ms", fp_json_whole(now_ms - j->started_ms));
    return ok ? o : (cJSON_Delete(o), NULL);
}

static bool record_json(cJSON *o, const fp_fleet_record_t *r, int64_t now_ms)
{
    cJSON *children = NULL, *jobs = NULL, *current = NULL;
    bool ok = add(o, "name", fp_json_text(r->name)) && add(o, "host", fp_json_text(r->host)) &&
              add(o, "pid", fp_json_whole(r->pid)) && add(o, "version", fp_json_text(r->version)) &&
              add(o, "state", fp_json_text(r->state)) &&
              add(o, "started_ms", fp_json_whole(r->started_ms)) &&
              add(o, "uptime_ms", fp_json_whole(now_ms - r->started_ms)) &&
              add(o, "generation", fp_json_whole(r->generation)) &&
              add(o, "heartbeat_interval_ms", fp_json_whole(r->interval_ms)) &&
              add(o, "children", children = cJSON_CreateObject()) &&
              add(children, "busy", fp_json_whole(r->children_busy)) &&
              add(children, "total", fp_json_whole(r->children_total)) &&
              add(o, "jobs", jobs = cJSON_CreateObject()) &&
              add(jobs, "done", fp_json_whole(r->jobs_done)) &&
              add(jobs, "failed", fp_json_whole(r->jobs_failed)) &&
              add(o, "current", current = cJSON_CreateArray()) &&
              add(o, "current_more", fp_json_whole(r->jobs_more));
    for (size_t k = 0; ok && k < r->njobs; k++) {
        cJSON *job = job_json(&r->jobs[k], now_ms);
        ok = job != NULL && cJSON_AddItemToArray(current, job);
        if (!ok)
            cJSON_Delete(job);
    }
    return ok;
}

static cJSON *member_json(const fp_fleet_member_t *m, int64_t now_ms)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = add(o, "id", fp_json_text(m->id)) &&
              add(o, "status", cJSON_CreateString(fp_fleet_status_name(m->status))) &&
              add(o, "last_seen_ms", fp_json_whole(m->last_seen_ms));
    if (ok && m->record != NULL)
        ok = record_json(o, m->record, now_ms);
    return ok ? o : (cJSON_Delete(o), NULL);
}

cJSON *fp_fleet_json(const fp_fleet_t *f)
{
    cJSON *array = cJSON_CreateArray();
    for (size_t i = 0; array != NULL && i < f->n; i++) {
        cJSON *m = member_json(&f->members[i], f->now_ms);
        if (m == NULL || !cJSON_AddItemToArray(array, m)) {
            cJSON_Delete(m);
            cJSON_Delete(array);
            return NULL;
        }
    }
    return array;
}
