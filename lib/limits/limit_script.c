/* limit_script.c: keys, Lua and replies of the limit scripts
 * (limit_script.h). Plain EVAL: the daemon sends them from one place and
 * Redis keeps compiled scripts by their text's SHA, so a NOSCRIPT path
 * would buy nothing but code. */
#include "limits/limit_script.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *join(const char *a, const char *b, const char *c, const char *d, const char *e)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + strlen(d) + strlen(e) + 1;
    char *s = malloc(n);
    if (s != NULL)
        snprintf(s, n, "%s%s%s%s%s", a, b, c, d, e);
    return s;
}

char *fp_limit_running_key(const char *prefix, const char *type)
{
    return join(prefix, ":{limit:", type, "}:running", "");
}

char *fp_limit_rate_key(const char *prefix, const char *type)
{
    return join(prefix, ":{limit:", type, "}:rate", "");
}

char *fp_limit_member(const char *consumer, const char *queue, const char *entry_id)
{
    char *head = join(consumer, "/", queue, "/", "");
    char *m = head != NULL ? join(head, entry_id, "", "", "") : NULL;
    free(head);
    return m;
}

/* fp_gcra_take in Lua (lib/limits/rate.c): keep the two the same. Numbers
 * are doubles in Lua; microseconds since 1970 stay below 2^53 for
 * centuries, so the arithmetic is exact. */
#define GCRA_LUA                                                                  \
    "local function gcra(tat, now, interval, tolerance)\n"                       \
    "  local t = tat\n"                                                          \
    "  if t < now then t = now end\n"                                            \
    "  if t > now + tolerance + interval then t = now + tolerance + interval end\n" \
    "  if t - tolerance > now then return 0, t, t - tolerance - now end\n"        \
    "  return 1, t + interval, 0\n"                                              \
    "end\n"

const char fp_limit_gcra_lua[] = GCRA_LUA;

#define NOW_LUA                                                                 \
    "local clock = redis.call('TIME')\n"                                      \
    "local now_us = tonumber(clock[1]) * 1000000 + tonumber(clock[2])\n"      \
    "local now_ms = math.floor(now_us / 1000)\n"

/* The running set expires with its last lease, never before: daemons
 * with different visibility timeouts share it, so a plain PEXPIRE of one
 * daemon's (short) lease would drop another's longer ones. PEXPIREAT to
 * the highest score works on every Redis (PEXPIRE GT needs 7.0). */
#define KEEP_TTL_LUA                                                              \
    "local function keep_ttl(key)\n"                                             \
    "  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')\n"           \
    "  if last[2] then redis.call('PEXPIREAT', key, last[2]) end\n"              \
    "end\n"

const char fp_limit_take_lua[] = GCRA_LUA NOW_LUA KEEP_TTL_LUA
    "local limit, lease = tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "if limit > 0 then\n"
    "  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)\n"
    "  if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then\n"
    "    if redis.call('ZCARD', KEYS[1]) >= limit then return {0, 'concurrency', 0} end\n"
    "  end\n"
    "  redis.call('ZADD', KEYS[1], string.format('%.0f', now_ms + lease), ARGV[1])\n"
    "  keep_ttl(KEYS[1])\n"
    "end\n"
    "local interval = tonumber(ARGV[4])\n"
    "if interval > 0 then\n"
    "  local stored = tonumber(redis.call('GET', KEYS[2]) or '0')\n"
    "  local ok, tat, retry = gcra(stored, now_us, interval, tonumber(ARGV[5]))\n"
    "  if tat ~= stored then\n"
    "    redis.call('SET', KEYS[2], string.format('%.0f', tat), 'PX',\n"
    "               math.ceil((tat - now_us) / 1000) + 1)\n"
    "  end\n"
    "  if ok == 0 then\n"
    /* Even a member that was there before: the daemon forgets its lease on
     * a refusal, so nothing would renew or release it. */
    "    redis.call('ZREM', KEYS[1], ARGV[1])\n"
    "    return {0, 'rate', math.ceil(retry / 1000)}\n"
    "  end\n"
    "end\n"
    "return {1, '', 0}\n";

/* A member gone (expired while Redis was out of reach) is put back: its
 * job still runs here and must count against the limit. */
const char fp_limit_renew_lua[] = NOW_LUA KEEP_TTL_LUA
    "local lease, lost = tonumber(ARGV[1]), 0\n"
    "for i = 2, #ARGV do\n"
    "  if not redis.call('ZSCORE', KEYS[1], ARGV[i]) then lost = lost + 1 end\n"
    "  redis.call('ZADD', KEYS[1], string.format('%.0f', now_ms + lease), ARGV[i])\n"
    "end\n"
    "keep_ttl(KEYS[1])\n"
    "return lost\n";

int fp_limit_take_reply(const redisReply *r, fp_limit_reply_t *out)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[2]->type != REDIS_REPLY_INTEGER ||
        (r->element[1]->type != REDIS_REPLY_STRING && r->element[1]->type != REDIS_REPLY_STATUS))
        return -EPROTO;
    *out = (fp_limit_reply_t){.allowed = r->element[0]->integer == 1,
                              .why = FP_LIMIT_CONCURRENCY,
                              .retry_after_ms = r->element[2]->integer};
    if (!out->allowed && strcmp(r->element[1]->str, "rate") == 0)
        out->why = FP_LIMIT_RATE;
    else if (!out->allowed && strcmp(r->element[1]->str, "concurrency") != 0)
        return -EPROTO;
    return 0;
}
