/* job_lookup.h: where one job is in Redis, for `forkpool job ID` (and, as a
 * copy kept equal by a drift test, the Python Client.job): the lookup
 * script's text and the pure decoder of its reply. The script reads a
 * queue's stream, delayed set and dead stream in one atomic call, so a job
 * moving between them at that moment is seen once, never missed and never
 * twice (docs/redis.md, "Finding one job"). */
#ifndef FORKPOOL_JOB_LOOKUP_H
#define FORKPOOL_JOB_LOOKUP_H

#include <stdbool.h>

#include <hiredis/hiredis.h>

#include "base/err.h"
#include "queue/admin.h"

/* KEYS: jobs stream, delayed zset, dead stream. ARGV: group, the id (a
 * payload `id` or a stream entry id), the scan bound per key. */
extern const char fp_job_lookup_script[];
#define FP_JOB_LOOKUP_KEYS 3

/* Entries read per key when the id is not a stream entry id: the Python
 * client's default (JOB_SCAN), about 3 ms of Redis time (docs/redis.md). */
#define FP_JOB_LOOKUP_SCAN 1000

/* The longest id looked up: ids are short names or UUIDs; a longer one is a
 * pasted payload, not an id. */
#define FP_JOB_ID_MAX 512

typedef enum fp_job_state_e {
    FP_JOB_NOWHERE = 0, /* not in this queue's keys */
    FP_JOB_READY,       /* in the stream, pending to nobody */
    FP_JOB_RUNNING,     /* in the stream, pending to a consumer */
    FP_JOB_DELAYED,     /* in the delayed set: a delay or a retry's back-off */
    FP_JOB_DEAD,        /* in the dead stream */
} fp_job_state_t;

/* The script's answer. Texts are owned NUL-terminated copies (s NULL when
 * absent); Redis values are binary-safe, so len may exceed strlen. */
typedef struct fp_job_where_s {
    fp_job_state_t state;
    fp_admin_field_t entry_id; /* ready, running: the stream entry; dead: the dead entry */
    fp_admin_field_t payload;  /* the job's JSON text as stored */
    fp_admin_field_t consumer; /* running: the daemon holding it; dead: the one that wrote it */
    long long idle_ms;         /* running: since its last delivery or renewal */
    long long deliveries;      /* running: times delivered */
    long long due_ms;          /* delayed: Unix ms by Redis' clock */
    fp_admin_field_t error, attempts, failed_at; /* dead: the dead entry's fields */
} fp_job_where_t;

/* Checks an ID operand: not empty, at most FP_JOB_ID_MAX bytes. FP_EUSAGE
 * with the reason otherwise. */
int fp_job_id_check(const char *id, fp_err_t *err);

/* The script's reply into w (overwritten: clear a used one first): 0,
 * -ENOMEM, or 1 for a shape the script never returns. */
int fp_job_lookup_parse(const redisReply *r, fp_job_where_t *w);
void fp_job_where_clear(fp_job_where_t *w);

/* For decoders of script replies: a string (or status) reply copied into f,
 * nil (Lua false) leaving f empty: 0, -ENOMEM, or 1 for another type; and
 * whether r is the string s. */
int fp_job_reply_text(const redisReply *r, fp_admin_field_t *f);
bool fp_job_reply_is(const redisReply *r, const char *s);

/* The state `forkpool job` reports: Redis' when the job is there ("ready",
 * "running", "delayed", "dead"); else from the ledger's newest attempt
 * (newest_outcome, NULL when the ledger has none): "done" after "ok",
 * "gone" after any other outcome (Redis no longer holds it, e.g. a purged
 * dead job); NULL when neither knows the job. */
const char *fp_job_state_name(fp_job_state_t state, const char *newest_outcome);

/* job_eval.c */
/* EVAL script 3 P:{queue}:jobs P:{queue}:delayed P:{queue}:dead group ID
 * FP_JOB_LOOKUP_SCAN [extra] (extra may be NULL: not sent). With extra (the
 * cancel script), P:{queue}:cancel is a fourth key, the hash it marks. *out
 * is the reply (owned), never an error reply: those fail, prefixed with the
 * queue. */
int fp_job_eval_queue(fp_admin_t *admin, const fp_config_t *cfg, const char *script,
                      const char *queue, const char *id, const char *extra, redisReply **out,
                      fp_err_t *err);

/* Where the job is in one queue's keys (the lookup script; read only,
 * blocking) into w (overwritten: clear a used one first). */
int fp_job_lookup_queue(fp_admin_t *admin, const fp_config_t *cfg, const char *queue,
                        const char *id, fp_job_where_t *w, fp_err_t *err);

#endif
