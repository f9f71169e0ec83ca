/* unique.c: unique jobs' scripts and the command line's enqueue of one (see
 * unique.h). The key check, the key's SET and the XADD (or ZADD) are one
 * script, so two producers racing with the same key add one job, and no
 * crash can leave a key without its job or a job without its key. */
#include "queue/unique.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "queue/queue_scripts.h"

/* GET then SET rather than SET NX: a refused enqueue must answer the
 * holder's id. A delayed job's due time is Redis' TIME plus the delay, the
 * clock every daemon's mover reads. */
const char fp_script_unique_enqueue[] =
    "local held = redis.call('GET', KEYS[1])\n"
    "if held then return {0, held} end\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
    "local delay = tonumber(ARGV[4])\n"
    "if delay >= 0 then\n"
    "  local t = redis.call('TIME')\n"
    "  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "  redis.call('ZADD', KEYS[3], now + delay, ARGV[3])\n"
    "  return {1, ARGV[1]}\n"
    "end\n"
    "return {1, ARGV[1], redis.call('XADD', KEYS[2], '*', 'job', ARGV[3])}\n";

const char fp_script_unique_release[] =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end\n"
    "return redis.call('DEL', KEYS[1])\n";

char *fp_unique_key(const char *prefix, const char *queue, const char *key)
{
    /* fp_queue_key's layout, P:{Q}:kind, with kind "unique:KEY". */
    size_t n = strlen(prefix) + strlen(queue) + strlen(key) + sizeof ":{}:unique:";
    char *full = malloc(n);
    if (full != NULL)
        snprintf(full, n, "%s:{%s}:unique:%s", prefix, queue, key);
    return full;
}

int64_t fp_unique_ttl_ms(int64_t for_ms, int64_t delay_ms)
{
    if (for_ms > 0)
        return for_ms;
    return FP_UNIQUE_TTL_DEFAULT_MS + (delay_ms > 0 ? delay_ms : 0);
}

int fp_unique_opts_check(const fp_unique_opts_t *o, bool many, fp_err_t *err)
{
    if (o->key == NULL) {
        if (o->for_ms >= 0 || o->until != FP_UNIQUE_NONE)
            return fp_err_set(err, FP_EUSAGE, "--unique-for and --unique-until need --unique KEY");
        return 0;
    }
    size_t n = strlen(o->key);
    if (n == 0 || n > FP_UNIQUE_KEY_MAX)
        return fp_err_set(err, FP_EUSAGE, "--unique KEY must be 1 to %d bytes", FP_UNIQUE_KEY_MAX);
    if (o->for_ms == 0)
        return fp_err_set(err, FP_EUSAGE, "--unique-for must be more than 0");
    if (many)
        return fp_err_set(err, FP_EUSAGE,
                          "--unique adds one job: it cannot be combined with --count or '-'");
    return 0;
}

int fp_unique_members_json(fp_buf_t *out, const char *id, const fp_unique_opts_t *o)
{
    const char *until = fp_unique_until_name(o->until);
    int rc = fp_buf_append(out, ",\"id\":", 6);
    if (rc == 0)
        rc = fp_json_append_string(out, id, strlen(id));
    if (rc == 0)
        rc = fp_buf_append(out, ",\"unique\":{\"key\":", 17);
    if (rc == 0)
        rc = fp_json_append_string(out, o->key, strlen(o->key));
    if (rc == 0)
        rc = fp_buf_append(out, ",\"until\":\"", 10);
    if (rc == 0)
        rc = fp_buf_append(out, until, strlen(until));
    if (rc == 0)
        rc = fp_buf_append(out, "\"}", 2);
    return rc;
}

static int take_reply(const redisReply *r, fp_unique_result_t *out)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_STRING)
        return 1;
    out->duplicate = r->element[0]->integer == 0;
    out->id = strdup(r->element[1]->str);
    return out->id != NULL ? 0 : -ENOMEM;
}

int fp_admin_enqueue_unique(fp_admin_t *a, const char *prefix, const char *queue, const char *key,
                            const char *id, int64_t ttl_ms, int64_t delay_ms, const char *job,
                            size_t len, fp_unique_result_t *out, fp_err_t *err)
{
    memset(out, 0, sizeof *out);
    char *keys[3] = {fp_unique_key(prefix, queue, key), fp_queue_key(prefix, queue, "jobs"),
                     fp_queue_key(prefix, queue, "delayed")};
    int rc = keys[0] != NULL && keys[1] != NULL && keys[2] != NULL
                 ? 0
                 : fp_err_set(err, -ENOMEM, "out of memory");
    redisReply *r = NULL;
    if (rc == 0) {
        char ttl[24], delay[24];
        snprintf(ttl, sizeof ttl, "%" PRId64, ttl_ms);
        snprintf(delay, sizeof delay, "%" PRId64, delay_ms >= 0 ? delay_ms : -1);
        const char *argv[] = {"EVAL", fp_script_unique_enqueue, "3", keys[0], keys[1], keys[2],
                              id, ttl, job, delay};
        size_t lens[10];
        for (size_t i = 0; i < 10; i++)
            lens[i] = strlen(argv[i]);
        lens[8] = len;
        rc = fp_admin_commandv(a, 10, argv, lens, &r, err);
    }
    if (rc == 0) {
        int got = take_reply(r, out);
        if (got != 0)
            rc = got < 0 ? fp_err_set(err, -ENOMEM, "out of memory")
                         : fp_err_set(err, FP_EREDIS, "unexpected reply to the unique enqueue script");
    }
    if (r != NULL)
        freeReplyObject(r);
    for (size_t i = 0; i < 3; i++)
        free(keys[i]);
    return rc;
}
