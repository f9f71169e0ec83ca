/* cancel.c: the cancel script and the decoder of its reply. The script is
 * the lookup script (job_lookup.c) run as a local function, followed by the
 * step that acts on what it found, so a job is found by `forkpool cancel`
 * exactly where `forkpool job` would show it, and nothing can move it (the
 * delayed mover, a daemon's read) between the finding and the removal.
 *
 * A running job (pending to a daemon) is marked instead: its entry id goes
 * into the queue's cancel hash (P:{Q}:cancel, entry id -> requested-at ms,
 * the same hash tag), whose lifetime is bounded (FP_CANCEL_MARK_TTL_MS after
 * the last mark) so a mark no daemon ever takes (its job settled meanwhile)
 * does not stay. The daemon holding the entry takes the mark within
 * FP_CANCEL_TAKE_MS (cancel_take.c) and stops the job; an outcome of the
 * entry before that deletes the mark, and a retry of it becomes the cancel
 * (queue_scripts.c, the outcome script).
 *
 * For a ready or delayed job it XADDs the dead entry first, then removes the
 * job and releases its unique key (as the outcome kind x does): a script
 * stopped half-way by an error leaves the job twice, never lost. */
#include "queue/cancel.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "queue/unique.h"

static const char head[] = "local function lookup()\n";

/* Returns false, {'cancelled', 'ready'|'delayed', dead_id, entry_id|false},
 * {'running', entry_id, consumer} or {'dead', dead_id}. */
static const char tail[] =
    "\nend\n"
    FP_UNIQUE_RELEASE_FN
    "local found = lookup()\n"
    "if not found then return false end\n"
    "local state = found[1]\n"
    "if state == 'dead' then return {'dead', found[2]} end\n"
    "local jobs, delayed, dead, marks = KEYS[1], KEYS[2], KEYS[3], KEYS[4]\n"
    "local t = redis.call('TIME')\n"
    "local now = string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))\n"
    "if state == 'running' then\n"
    "  redis.call('HSET', marks, found[2], now)\n"
    "  redis.call('PEXPIRE', marks, " FP_CANCEL_MARK_TTL_MS ")\n"
    "  return {'running', found[2], found[4][1]}\n"
    "end\n"
    "local payload = found[3]\n"
    "local attempts = 0\n"
    "if payload then\n"
    "  local ok, j = pcall(cjson.decode, payload)\n"
    "  if ok and type(j) == 'table' and type(j.attempt) == 'number' then attempts = j.attempt end\n"
    "end\n"
    "local fields = {'error', '" FP_CANCEL_ERROR "', 'attempts', string.format('%.0f', attempts),\n"
    "                'failed_at', now, 'consumer', ARGV[4]}\n"
    "if payload then table.insert(fields, 1, 'job'); table.insert(fields, 2, payload) end\n"
    "local dead_id = redis.call('XADD', dead, '*', unpack(fields))\n"
    "if state == 'ready' then redis.call('XDEL', jobs, found[2])\n"
    "else redis.call('ZREM', delayed, payload) end\n"
    "if payload then unique_release(string.sub(jobs, 1, -5) .. 'unique:', payload) end\n"
    "return {'cancelled', state, dead_id, found[2]}\n";

char *fp_cancel_script_new(void)
{
    size_t lookup = strlen(fp_job_lookup_script);
    char *s = malloc(sizeof head - 1 + lookup + sizeof tail);
    if (s == NULL)
        return NULL;
    memcpy(s, head, sizeof head - 1);
    memcpy(s + sizeof head - 1, fp_job_lookup_script, lookup);
    memcpy(s + sizeof head - 1 + lookup, tail, sizeof tail);
    return s;
}

void fp_cancel_reply_clear(fp_cancel_reply_t *c)
{
    free(c->dead_id.s);
    free(c->entry_id.s);
    free(c->consumer.s);
    memset(c, 0, sizeof *c);
}

/* {'cancelled', was, dead_id, entry_id|false} */
static int parse_cancelled(const redisReply *r, fp_cancel_reply_t *c)
{
    if (r->elements != 4)
        return 1;
    c->result = FP_CANCEL_DONE;
    if (fp_job_reply_is(r->element[1], "ready"))
        c->was = FP_JOB_READY;
    else if (fp_job_reply_is(r->element[1], "delayed"))
        c->was = FP_JOB_DELAYED;
    else
        return 1;
    int rc = fp_job_reply_text(r->element[2], &c->dead_id);
    if (rc == 0)
        rc = fp_job_reply_text(r->element[3], &c->entry_id);
    if (rc == 0 && (c->dead_id.s == NULL || (c->was == FP_JOB_READY) != (c->entry_id.s != NULL)))
        rc = 1; /* a dead entry always; a stream entry exactly when it was ready */
    return rc;
}

static int parse_shape(const redisReply *r, fp_cancel_reply_t *c)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2)
        return 1;
    if (fp_job_reply_is(r->element[0], "cancelled"))
        return parse_cancelled(r, c);
    int rc = 1;
    if (fp_job_reply_is(r->element[0], "running") && r->elements == 3) {
        c->result = FP_CANCEL_RUNNING;
        rc = fp_job_reply_text(r->element[1], &c->entry_id);
        if (rc == 0)
            rc = fp_job_reply_text(r->element[2], &c->consumer);
        if (rc == 0 && (c->entry_id.s == NULL || c->consumer.s == NULL))
            rc = 1;
    } else if (fp_job_reply_is(r->element[0], "dead") && r->elements == 2) {
        c->result = FP_CANCEL_DEAD;
        rc = fp_job_reply_text(r->element[1], &c->dead_id);
        if (rc == 0 && c->dead_id.s == NULL)
            rc = 1;
    }
    return rc;
}

int fp_cancel_parse(const redisReply *r, fp_cancel_reply_t *c)
{
    memset(c, 0, sizeof *c);
    if (r->type == REDIS_REPLY_NIL)
        return 0; /* Lua false: not in this queue */
    int rc = parse_shape(r, c);
    if (rc != 0)
        fp_cancel_reply_clear(c);
    return rc;
}
