/* queue_stats.c: the depth script and the parser of its reply, shared by the
 * CLI and the daemon so both count "ready" the same way. */
#include "queue/queue_stats.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue_scripts.h"

/* KEYS: jobs stream, delayed zset, dead stream (one hash tag, one slot).
 * ARGV: group, the count bound, the page size. Reads only. Returns {ready,
 * ready_exact, pending, delayed, dead, length, group_exists, oldest_id,
 * now_ms, {{name, pending, idle}...}, entries_added, entries_read} (the last
 * two -1 where Redis before 7 does not count them); see fp_admin_queue_stats for how
 * ready is found. Payloads are paged in small XRANGE pages because a script
 * cannot range over ids alone and jobs may be large. */
const char fp_queue_stats_script[] =
    "local jobs, delayed, dead = KEYS[1], KEYS[2], KEYS[3]\n"
    "local group, cap, page = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local ndelayed = redis.call('ZCARD', delayed)\n"
    "local ndead = redis.call('XLEN', dead)\n"
    "local len = redis.call('XLEN', jobs)\n"
    "local ready, exact, pending, found, after, consumers = len, 1, 0, 0, '-', {}\n"
    "local added, read = -1, -1\n"
    "if redis.call('EXISTS', jobs) == 1 then\n"
    "  local info = redis.call('XINFO', 'STREAM', jobs)\n"
    "  for k = 1, #info, 2 do if info[k] == 'entries-added' then added = info[k + 1] end end\n"
    "  for _, g in ipairs(redis.call('XINFO', 'GROUPS', jobs)) do\n"
    "    local f = {}\n"
    "    for k = 1, #g, 2 do f[g[k]] = g[k + 1] end\n"
    "    if f['name'] == group then\n"
    "      found, pending, after = 1, f['pending'], '(' .. f['last-delivered-id']\n"
    "      if f['entries-read'] then read = f['entries-read'] end\n"
    "      if f['lag'] then\n"
    "        ready = f['lag']\n"
    "      else\n"
    "        ready, exact = 0, 0\n"
    "        local start = after\n"
    "        while ready < cap do\n"
    "          local got = redis.call('XRANGE', jobs, start, '+', 'COUNT', page)\n"
    "          ready = ready + #got\n"
    "          if #got < page then exact = 1 break end\n"
    "          start = '(' .. got[#got][1]\n"
    "        end\n"
    "        if exact == 0 then ready = math.max(ready, len - pending) end\n"
    "      end\n"
    "      for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', jobs, group)) do\n"
    "        local h = {}\n"
    "        for k = 1, #c, 2 do h[c[k]] = c[k + 1] end\n"
    "        consumers[#consumers + 1] = {h['name'], h['pending'], h['idle']}\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local oldest = ''\n"
    "if ready > 0 then\n"
    "  local first = redis.call('XRANGE', jobs, after, '+', 'COUNT', 1)\n"
    "  if #first > 0 then oldest = first[1][1] end\n"
    "end\n"
    "return {ready, exact, pending, ndelayed, ndead, len, found, oldest, now, consumers, added, read}\n";


void fp_admin_queue_stats_clear(fp_admin_queue_stats_t *s)
{
    for (size_t i = 0; s->consumers != NULL && i < s->nconsumers; i++)
        free(s->consumers[i].name);
    free(s->consumers);
    memset(s, 0, sizeof *s);
    s->oldest_age_ms = -1;
}

static bool reply_int(const redisReply *r, long long *out)
{
    if (r->type != REDIS_REPLY_INTEGER)
        return false;
    *out = r->integer;
    return true;
}

static int parse_consumers(const redisReply *r, fp_admin_queue_stats_t *s)
{
    if (r->type != REDIS_REPLY_ARRAY)
        return 1;
    if (r->elements == 0)
        return 0;
    if ((s->consumers = calloc(r->elements, sizeof *s->consumers)) == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *c = r->element[i];
        if (c->type != REDIS_REPLY_ARRAY || c->elements != 3 ||
            c->element[0]->type != REDIS_REPLY_STRING)
            return 1;
        fp_admin_consumer_t *out = &s->consumers[s->nconsumers];
        if (!reply_int(c->element[1], &out->pending) || !reply_int(c->element[2], &out->idle_ms))
            return 1;
        if ((out->name = strdup(c->element[0]->str)) == NULL)
            return -ENOMEM;
        s->nconsumers++;
    }
    return 0;
}

/* The script's reply into s: 0, -ENOMEM, or 1 for an unexpected shape. */
int fp_queue_stats_parse(const redisReply *r, fp_admin_queue_stats_t *s)
{
    fp_admin_queue_stats_clear(s);
    if (r->type != REDIS_REPLY_ARRAY || (r->elements != 10 && r->elements != 12))
        return 1;
    long long exact, found;
    redisReply *const *e = r->element;
    if (!reply_int(e[0], &s->ready) || !reply_int(e[1], &exact) || !reply_int(e[2], &s->pending) ||
        !reply_int(e[3], &s->delayed) || !reply_int(e[4], &s->dead) ||
        !reply_int(e[5], &s->length) || !reply_int(e[6], &found) ||
        e[7]->type != REDIS_REPLY_STRING || e[7]->len >= sizeof s->oldest_id ||
        !reply_int(e[8], &s->now_ms))
        return 1;
    s->ready_exact = exact != 0;
    s->group_exists = found != 0;
    memcpy(s->oldest_id, e[7]->str, e[7]->len + 1);
    s->entries_added = s->entries_read = -1;
    if (r->elements == 12 && (!reply_int(e[10], &s->entries_added) ||
                              !reply_int(e[11], &s->entries_read)))
        return 1;
    uint64_t ms, seq;
    if (s->oldest_id[0] != '\0' && fp_stream_id_parse(s->oldest_id, e[7]->len, &ms, &seq))
        s->oldest_age_ms = s->now_ms > (long long)ms ? s->now_ms - (long long)ms : 0;
    return parse_consumers(e[9], s);
}

