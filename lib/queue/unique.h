/* unique.h: unique jobs. A job whose payload has "unique": {"key": K} holds
 * the Redis key P:{Q}:unique:K, whose value is the job's "id", from the
 * moment it is enqueued (one script: the key is set and the job added
 * together, or neither when the key is held) until its outcome releases it
 * (success or dead; with "until": "start", as soon as a child starts it) or
 * the key's TTL runs out. While the key is held, another enqueue with the
 * same K on the same queue adds nothing and is told the holder's id. The
 * release is a compare-and-delete on the id, so an old job's outcome never
 * unlocks a later job with the same key. */
#ifndef FORKPOOL_UNIQUE_H
#define FORKPOOL_UNIQUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "dispatch/job.h"
#include "queue/admin.h"

/* How long a unique key lives when the producer does not say: long enough
 * for any sane job, short enough that a key whose release was lost (a
 * payload deleted by hand, a daemon gone with its Redis data) frees itself. */
#define FP_UNIQUE_TTL_DEFAULT_MS (INT64_C(24) * 3600 * 1000)
#define FP_UNIQUE_TTL_DEFAULT_TEXT "86400000" /* the same, for script texts */

/* A Lua function, unique_release(base, text): when the job JSON text has a
 * "unique" object with a string "key", deletes the key base .. key if it
 * holds the job's "id" (a string, or a number compared as Lua prints it: a
 * payload the daemon refused can carry one). Used inside the outcome
 * scripts, after their writes and before XACK + XDEL: nothing in it may stop
 * the script (a stop there would leave the entry to be settled again, its
 * dead copy added twice), so GET and DEL go through redis.pcall and a key of
 * another type, or one the ACL user may not touch, is left as it is. */
#define FP_UNIQUE_RELEASE_FN \
    "local function unique_release(base, text)\n" \
    "  local ok, j = pcall(cjson.decode, text)\n" \
    "  if not ok or type(j) ~= 'table' or type(j.unique) ~= 'table' then return 0 end\n" \
    "  local id = j.id\n" \
    "  if type(id) == 'number' then id = tostring(id) end\n" \
    "  if type(j.unique.key) ~= 'string' or type(id) ~= 'string' then return 0 end\n" \
    "  local key = base .. j.unique.key\n" \
    "  local held = redis.pcall('GET', key)\n" \
    "  if type(held) ~= 'string' or held ~= id then return 0 end\n" \
    "  local gone = redis.pcall('DEL', key)\n" \
    "  return type(gone) == 'number' and gone or 0\n" \
    "end\n"

/* Enqueue unless held. KEYS: the unique key, P:{Q}:jobs, P:{Q}:delayed.
 * ARGV: the job's id, ttl_ms, payload, delay_ms (-1: none). Returns
 * {1, id, entry_id} (entry_id only without a delay) when the job was added,
 * {0, holder_id} when the key is held. */
extern const char fp_script_unique_enqueue[];
#define FP_SCRIPT_UNIQUE_ENQUEUE_KEYS 3

/* Compare-and-delete. KEYS: the unique key. ARGV: the id it must hold.
 * Returns 1 when it was deleted, else 0. */
extern const char fp_script_unique_release[];

/* P:{queue}:unique:key (free()); NULL when out of memory. */
char *fp_unique_key(const char *prefix, const char *queue, const char *key);

/* The TTL of a unique key: for_ms when given (> 0), else the default
 * counted from when the job is due (delay_ms, -1 for none), so a delayed
 * job's key does not run out before the job could run. */
int64_t fp_unique_ttl_ms(int64_t for_ms, int64_t delay_ms);

/* A producer's unique options (forkpool enqueue --unique KEY --unique-for
 * DUR --unique-until done|start). */
typedef struct fp_unique_opts_s {
    const char *key;         /* NULL: not a unique job */
    int64_t for_ms;          /* the key's TTL; -1: not given (fp_unique_ttl_ms) */
    fp_unique_until_t until; /* FP_UNIQUE_NONE: not given (done) */
} fp_unique_opts_t;

/* FP_EUSAGE when the options do not go together: --unique-for or
 * --unique-until without --unique, a key empty or longer than
 * FP_UNIQUE_KEY_MAX, or a key on many jobs at once (`many`: --count, stdin),
 * where all but the first would only be refused. */
int fp_unique_opts_check(const fp_unique_opts_t *o, bool many, fp_err_t *err);

/* Appends ,"id":ID,"unique":{"key":KEY,"until":UNTIL} (JSON-escaped) to out,
 * the members that make a job object unique. 0 or -ENOMEM. */
int fp_unique_members_json(fp_buf_t *out, const char *id, const fp_unique_opts_t *o);

/* What fp_admin_enqueue_unique did. */
typedef struct fp_unique_result_s {
    bool duplicate; /* the key was held: nothing was added */
    char *id;       /* the added job's id, or the holder's (owned: free()) */
} fp_unique_result_t;

/* Runs fp_script_unique_enqueue for one job (blocking; the command line
 * only). prefix: redis.prefix. job (len bytes) must carry "id" = id and the
 * "unique" member naming key. */
int fp_admin_enqueue_unique(fp_admin_t *a, const char *prefix, const char *queue, const char *key,
                            const char *id, int64_t ttl_ms, int64_t delay_ms, const char *job,
                            size_t len, fp_unique_result_t *out, fp_err_t *err);

#endif
