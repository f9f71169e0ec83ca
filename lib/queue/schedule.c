/* schedule.c: the pure parts of periodic jobs in Redis (schedule.h): the
 * fire script, the hash's key, a tick's job id and payload. The script
 * writes the job before the record, so one stopped half-way by an error
 * leaves a tick that may fire twice, never one that is lost: the delivery
 * contract's "at least once" direction. */
#include "queue/schedule.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue_scripts.h"
#include "schedule/civil.h"

/* The record is two fields: NAME = the tick, NAME:expr = the fingerprint of
 * the expression that counts it (':' never occurs in a name). A record of
 * another fingerprint was made by another expression: its ticks say nothing
 * about this one's, so the schedule starts afresh at Redis TIME and fires
 * nothing from the past; the same for no record at all, written at once so
 * the start survives a restart of every daemon and is the same for all. A
 * tick without a fingerprint (written by an older version, which reads and
 * writes NAME only) is taken as this expression's. */
const char fp_schedule_script[] =
    "local expr = ARGV[1] .. ':expr'\n"
    "local rec = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '')\n"
    "local fp = redis.call('HGET', KEYS[1], expr)\n"
    "if rec == nil or (fp and fp ~= ARGV[2]) then\n"
    "  local t = redis.call('TIME')\n"
    "  local start = t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))\n"
    "  redis.call('HSET', KEYS[1], ARGV[1], start, expr, ARGV[2])\n"
    "  return {0, tonumber(start)}\n"
    "end\n"
    "local fired = 0\n"
    "for i = 3, #ARGV - 1, 2 do\n"
    "  local tick = tonumber(ARGV[i])\n"
    "  if tick ~= nil and tick > rec then\n"
    "    redis.call('XADD', KEYS[2], '*', 'job', ARGV[i + 1])\n"
    "    redis.call('HSET', KEYS[1], ARGV[1], ARGV[i], expr, ARGV[2])\n"
    "    rec = tick\n"
    "    fired = fired + 1\n"
    "  end\n"
    "end\n"
    "return {fired, rec}\n";

bool fp_schedule_fingerprint(const fp_schedule_t *s, char *buf, size_t size)
{
    int n = s->when.is_cron
                ? snprintf(buf, size, "cron %s tz %s", s->expr, s->tz != NULL ? s->tz->name : "UTC")
                : snprintf(buf, size, "every %" PRId64, s->when.every_ms);
    return n > 0 && (size_t)n < size;
}

char *fp_schedule_key(const char *prefix, const char *queue)
{
    return fp_queue_key(prefix, queue, "schedule");
}

void fp_schedule_iso(int64_t tick_ms, char *buf, size_t size)
{
    int64_t s = fp_civil_floordiv(tick_ms, 1000), ms = tick_ms - s * 1000;
    int64_t day = fp_civil_floordiv(s, 86400), sec = s - day * 86400, y;
    int m, d;
    fp_civil_from_days(day, &y, &m, &d);
    int n = snprintf(buf, size, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d", y, m, d,
                     (int)(sec / 3600), (int)(sec / 60 % 60), (int)(sec % 60));
    if (n > 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, ms ? ".%03dZ" : "Z", (int)ms);
}

bool fp_schedule_job_id(const char *name, int64_t tick_ms, char *buf, size_t size)
{
    char iso[40];
    fp_schedule_iso(tick_ms, iso, sizeof iso);
    int n = snprintf(buf, size, "sched:%s:%s", name, iso);
    return n > 0 && (size_t)n < size;
}

char *fp_schedule_payload(const fp_schedule_t *s, int64_t tick_ms)
{
    char id[256];
    if (!fp_schedule_job_id(s->name, tick_ms, id, sizeof id))
        return NULL;
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;
    if (o != NULL && cJSON_AddStringToObject(o, "type", s->type) &&
        cJSON_AddItemToObject(o, "args", cJSON_Parse(s->args_json)) &&
        cJSON_AddStringToObject(o, "id", id))
        text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}
