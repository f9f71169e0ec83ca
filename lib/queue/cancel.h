/* cancel.h: `forkpool cancel ID` on Redis' side: the cancel script (the job
 * lookup of queue/job_lookup.h, then, for a job that waits, its removal and
 * its dead entry in the same atomic call) and the pure decoder of its reply.
 * A job waits while it is ready (in the stream, delivered to nobody) or
 * delayed; once a daemon read it, it is running, and the script leaves it
 * alone (docs/redis.md, "Cancelling a job"). */
#ifndef FORKPOOL_CANCEL_H
#define FORKPOOL_CANCEL_H

#include <hiredis/hiredis.h>

#include "queue/admin.h"
#include "queue/job_lookup.h"

/* The error field of a cancelled job's dead entry, and its consumer field
 * (no daemon wrote it). */
#define FP_CANCEL_ERROR "cancelled"
/* How long the cancel hash lives after its last mark (a day, as text for
 * the script): long past any renewal round, bounded for marks no daemon
 * takes. */
#define FP_CANCEL_MARK_TTL_MS "86400000"
#define FP_CANCEL_CONSUMER "forkpool cancel"
/* How often a daemon holding jobs looks for their cancel marks
 * (queue/cancel_take.c): a running job learns of its cancel within this. */
#define FP_CANCEL_TAKE_MS 1000

/* KEYS: jobs stream, delayed zset, dead stream (as the lookup), then the
 * queue's cancel hash P:{Q}:cancel (a running job's mark). ARGV: group,
 * the id, the scan bound per key, the dead entry's consumer field. Built
 * once from the lookup's text so both find a job the same way; NULL when out
 * of memory. The caller frees it. */
char *fp_cancel_script_new(void);
#define FP_CANCEL_KEYS 4

typedef enum fp_cancel_result_e {
    FP_CANCEL_NOT_FOUND = 0,
    FP_CANCEL_DONE,    /* was ready or delayed: removed, now in the dead stream */
    FP_CANCEL_RUNNING, /* delivered to a daemon: marked in the cancel hash */
    FP_CANCEL_DEAD,    /* already in the dead stream: left untouched */
} fp_cancel_result_t;

/* The script's answer. Texts are owned copies (s NULL when absent). */
typedef struct fp_cancel_reply_s {
    fp_cancel_result_t result;
    fp_job_state_t was;        /* DONE: FP_JOB_READY or FP_JOB_DELAYED */
    fp_admin_field_t dead_id;  /* DONE, DEAD: the dead entry's id */
    fp_admin_field_t entry_id; /* DONE after ready, RUNNING: the stream entry's id */
    fp_admin_field_t consumer; /* RUNNING: the daemon holding it */
} fp_cancel_reply_t;

/* The reply into c (overwritten): 0, -ENOMEM, or 1 for a shape the script
 * never returns. */
int fp_cancel_parse(const redisReply *r, fp_cancel_reply_t *c);
void fp_cancel_reply_clear(fp_cancel_reply_t *c);

/* Runs the cancel script for id on each of names[0..n) in turn until one
 * holds the job (cancel_run.c, blocking): *queue is that queue (one of
 * names) and c what the script did there, or *queue NULL when none holds
 * it. With n > 1 every queue is looked up first: when more than one holds
 * the id (entry ids repeat across queues), -EEXIST naming them, nothing
 * cancelled. c must be clear (zeroed) on entry; fp_cancel_reply_clear it after. */
int fp_cancel_in_queues(fp_admin_t *admin, const fp_config_t *cfg, const char *const *names,
                        size_t n, const char *id, const char **queue, fp_cancel_reply_t *c,
                        fp_err_t *err);

#endif
