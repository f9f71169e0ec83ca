/* queue_flow.c: the in/out counters of a queue (queue_flow.h): the script,
 * its reply's parser, and the command line's blocking call. */
#include "queue/queue_flow.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue_scripts.h"

/* XINFO STREAM also returns the first and last entries; they stay inside
 * Redis, only the two counters travel. entries-read is nil until the group
 * reads (then added - lag is what it has read) and when Redis lost track
 * (after deletions near the group's position, lag nil too): -1 then. */
const char fp_queue_flow_script[] =
    "local jobs, group = KEYS[1], ARGV[1]\n"
    "if redis.call('EXISTS', jobs) == 0 then return {0, 0} end\n"
    "local added, read = -1, 0\n"
    "local s = redis.call('XINFO', 'STREAM', jobs)\n"
    "for k = 1, #s, 2 do\n"
    "  if s[k] == 'entries-added' then added = s[k + 1] end\n"
    "end\n"
    "for _, g in ipairs(redis.call('XINFO', 'GROUPS', jobs)) do\n"
    "  local f = {}\n"
    "  for k = 1, #g, 2 do f[g[k]] = g[k + 1] end\n"
    "  if f['name'] == group then\n"
    "    read = -1\n"
    "    if type(f['entries-read']) == 'number' then read = f['entries-read']\n"
    "    elseif added >= 0 and type(f['lag']) == 'number' then read = added - f['lag'] end\n"
    "  end\n"
    "end\n"
    "return {added, read}\n";

int fp_queue_flow_parse(const redisReply *r, fp_queue_flow_t *out)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_INTEGER)
        return -EPROTO;
    out->added = r->element[0]->integer < 0 ? -1 : r->element[0]->integer;
    out->read = r->element[1]->integer < 0 ? -1 : r->element[1]->integer;
    return 0;
}

int fp_admin_queue_flow(fp_admin_t *a, const char *prefix, const char *group, const char *queue,
                        fp_queue_flow_t *out, fp_err_t *err)
{
    char *key = fp_queue_key(prefix, queue, "jobs");
    if (key == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    const char *argv[] = {"EVAL", fp_queue_flow_script, "1", key, group};
    size_t lens[5];
    for (size_t i = 0; i < 5; i++)
        lens[i] = strlen(argv[i]);
    redisReply *r = NULL;
    int rc = fp_admin_commandv(a, 5, argv, lens, &r, err);
    if (rc == 0 && fp_queue_flow_parse(r, out) < 0)
        rc = fp_err_set(err, FP_EREDIS, "unexpected reply to the flow script");
    if (rc < 0)
        fp_err_prefix(err, "queue %s", queue);
    freeReplyObject(r);
    free(key);
    return rc;
}
