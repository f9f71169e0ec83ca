/* job_lookup.c: the lookup script behind `forkpool job ID` and the pure
 * decoder of its reply. The Lua text is the one source: the Python client
 * (python/forkpool/lookup.py) keeps a copy that python/tests checks equal to
 * this one, as it does for the stats and unique scripts, because a pip
 * install of the client has no C sources to read it from.
 *
 * Cost: a full stream entry id is one XRANGE and one XPENDING, O(log n). A
 * payload `id` has no index in Redis: the script reads up to the scan bound
 * of each key (the oldest of the stream, the soonest of the delayed set, the
 * newest of the dead stream), decoding only payloads whose text contains the
 * id; jobs beyond them are not seen. */
#include "queue/job_lookup.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Returns false when id is not there, {'ready', entry_id, payload|false},
 * {'running', entry_id, payload|false, {consumer, idle_ms, deliveries}},
 * {'delayed', false, payload, due_ms as text} or {'dead', dead_entry_id,
 * payload|false, {field, value, ...}}. */
const char fp_job_lookup_script[] =
    "\n"
    "local jobs, delayed, dead = KEYS[1], KEYS[2], KEYS[3]\n"
    "local group, id, cap = ARGV[1], ARGV[2], tonumber(ARGV[3])\n"
    "\n"
    "-- The payload's \"id\" as text; cheap text search first, so that only\n"
    "-- payloads that may match are decoded. An id JSON may write escaped\n"
    "-- ('\"', '\\', '/', non-ASCII as \\uXXXX) is not searched for: decode all.\n"
    "local plain = not string.find(id, '[^%w%-_.:]')\n"
    "local function payload_id(text)\n"
    "  if plain and not string.find(text, id, 1, true) then return nil end\n"
    "  local ok, job = pcall(cjson.decode, text)\n"
    "  if not ok or type(job) ~= 'table' then return nil end\n"
    "  local v = job['id']\n"
    "  if type(v) == 'number' and v == math.floor(v) then return string.format('%.0f', v) end\n"
    "  if type(v) == 'number' or type(v) == 'string' then return tostring(v) end\n"
    "  return nil\n"
    "end\n"
    "\n"
    "local function field(fields, name)\n"
    "  for k = 1, #fields, 2 do\n"
    "    if fields[k] == name then return fields[k + 1] end\n"
    "  end\n"
    "  return nil\n"
    "end\n"
    "\n"
    "local has_group = false\n"
    "if redis.call('EXISTS', jobs) == 1 then\n"
    "  for _, g in ipairs(redis.call('XINFO', 'GROUPS', jobs)) do\n"
    "    if field(g, 'name') == group then has_group = true end\n"
    "  end\n"
    "end\n"
    "\n"
    "-- An entry of the stream: running when pending to a consumer, else ready.\n"
    "local function in_stream(entry)\n"
    "  local payload = field(entry[2], 'job') or false\n"
    "  if has_group then\n"
    "    local p = redis.call('XPENDING', jobs, group, entry[1], entry[1], 1)\n"
    "    if #p > 0 then return {'running', entry[1], payload, {p[1][2], p[1][3], p[1][4]}} end\n"
    "  end\n"
    "  return {'ready', entry[1], payload}\n"
    "end\n"
    "\n"
    "if string.match(id, '^%d+%-%d+$') then\n"
    "  local e = redis.pcall('XRANGE', jobs, id, id)  -- an id out of range is an error: not found\n"
    "  if type(e) == 'table' and not e.err and #e > 0 then return in_stream(e[1]) end\n"
    "end\n"
    "for _, e in ipairs(redis.call('XRANGE', jobs, '-', '+', 'COUNT', cap)) do\n"
    "  local payload = field(e[2], 'job')\n"
    "  if payload and payload_id(payload) == id then return in_stream(e) end\n"
    "end\n"
    "local d = redis.call('ZRANGE', delayed, 0, cap - 1, 'WITHSCORES')\n"
    "for k = 1, #d, 2 do\n"
    "  if payload_id(d[k]) == id then return {'delayed', false, d[k], d[k + 1]} end\n"
    "end\n"
    "for _, e in ipairs(redis.call('XREVRANGE', dead, '+', '-', 'COUNT', cap)) do\n"
    "  local payload = field(e[2], 'job')\n"
    "  if payload and payload_id(payload) == id then return {'dead', e[1], payload, e[2]} end\n"
    "end\n"
    "return false\n"
    ;

int fp_job_id_check(const char *id, fp_err_t *err)
{
    size_t len = strlen(id);
    if (len == 0)
        return fp_err_set(err, FP_EUSAGE, "the job ID must not be empty");
    if (len > FP_JOB_ID_MAX)
        return fp_err_set(err, FP_EUSAGE, "the job ID is %zu bytes; at most %d", len,
                          FP_JOB_ID_MAX);
    return 0;
}

void fp_job_where_clear(fp_job_where_t *w)
{
    free(w->entry_id.s);
    free(w->payload.s);
    free(w->consumer.s);
    free(w->error.s);
    free(w->attempts.s);
    free(w->failed_at.s);
    memset(w, 0, sizeof *w);
}

int fp_job_reply_text(const redisReply *r, fp_admin_field_t *f)
{
    if (r->type == REDIS_REPLY_NIL)
        return 0;
    if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS)
        return 1;
    f->s = malloc(r->len + 1);
    if (f->s == NULL)
        return -ENOMEM;
    memcpy(f->s, r->str, r->len);
    f->s[r->len] = '\0';
    f->len = r->len;
    return 0;
}

bool fp_job_reply_is(const redisReply *r, const char *s)
{
    return r->type == REDIS_REPLY_STRING && r->len == strlen(s) && memcmp(r->str, s, r->len) == 0;
}

/* A whole number sent as an integer (XPENDING) or as text (a zset score). */
static bool reply_number(const redisReply *r, long long *out)
{
    if (r->type == REDIS_REPLY_INTEGER) {
        *out = r->integer;
        return true;
    }
    if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > 30)
        return false;
    char buf[32], *end = NULL;
    memcpy(buf, r->str, r->len);
    buf[r->len] = '\0';
    errno = 0;
    double v = strtod(buf, &end); /* a score may read "1.7e+12" */
    if (errno != 0 || *end != '\0' || !(v > -9.2e18 && v < 9.2e18))
        return false;
    *out = (long long)v;
    return true;
}

/* {consumer, idle_ms, deliveries}: XPENDING's row for the entry. */
static int parse_running(const redisReply *p, fp_job_where_t *w)
{
    if (p->type != REDIS_REPLY_ARRAY || p->elements != 3 ||
        p->element[0]->type != REDIS_REPLY_STRING || !reply_number(p->element[1], &w->idle_ms) ||
        !reply_number(p->element[2], &w->deliveries))
        return 1;
    return fp_job_reply_text(p->element[0], &w->consumer);
}

/* The dead entry's fields, flat: copies the ones the outcome script writes. */
static int parse_dead(const redisReply *p, fp_job_where_t *w)
{
    if (p->type != REDIS_REPLY_ARRAY || p->elements % 2 != 0)
        return 1;
    static const char *const names[] = {"error", "attempts", "failed_at", "consumer"};
    fp_admin_field_t *dst[] = {&w->error, &w->attempts, &w->failed_at, &w->consumer};
    for (size_t k = 0; k < p->elements; k += 2) {
        for (size_t n = 0; n < sizeof names / sizeof names[0]; n++) {
            if (fp_job_reply_is(p->element[k], names[n]) && dst[n]->s == NULL) {
                int rc = fp_job_reply_text(p->element[k + 1], dst[n]);
                if (rc != 0)
                    return rc;
            }
        }
    }
    return 0;
}

static int parse_state(const redisReply *r, fp_job_where_t *w)
{
    static const struct {
        const char *name;
        fp_job_state_t state;
        size_t elements;
    } shapes[] = {{"ready", FP_JOB_READY, 3}, {"running", FP_JOB_RUNNING, 4},
                  {"delayed", FP_JOB_DELAYED, 4}, {"dead", FP_JOB_DEAD, 4}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        if (fp_job_reply_is(r->element[0], shapes[i].name)) {
            w->state = shapes[i].state;
            return r->elements == shapes[i].elements ? 0 : 1;
        }
    }
    return 1;
}

int fp_job_lookup_parse(const redisReply *r, fp_job_where_t *w)
{
    memset(w, 0, sizeof *w);
    if (r->type == REDIS_REPLY_NIL)
        return 0; /* Lua false: not in this queue */
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3)
        return 1;
    int rc = parse_state(r, w);
    if (rc == 0)
        rc = fp_job_reply_text(r->element[1], &w->entry_id);
    if (rc == 0)
        rc = fp_job_reply_text(r->element[2], &w->payload);
    if (rc == 0 && w->state == FP_JOB_RUNNING)
        rc = parse_running(r->element[3], w);
    else if (rc == 0 && w->state == FP_JOB_DELAYED)
        rc = w->payload.s != NULL && reply_number(r->element[3], &w->due_ms) ? 0 : 1;
    else if (rc == 0 && w->state == FP_JOB_DEAD)
        rc = parse_dead(r->element[3], w);
    if (rc == 0 && w->state != FP_JOB_DELAYED && w->entry_id.s == NULL)
        rc = 1; /* every entry of a stream has an id */
    if (rc != 0)
        fp_job_where_clear(w);
    return rc;
}

const char *fp_job_state_name(fp_job_state_t state, const char *newest_outcome)
{
    switch (state) {
    case FP_JOB_READY: return "ready";
    case FP_JOB_RUNNING: return "running";
    case FP_JOB_DELAYED: return "delayed";
    case FP_JOB_DEAD: return "dead";
    case FP_JOB_NOWHERE: break;
    }
    if (newest_outcome == NULL)
        return NULL;
    return strcmp(newest_outcome, "ok") == 0 ? "done" : "gone";
}
