/* cancel.h: `forkpool cancel` on the embedded queue, the SQL form of the
 * Redis cancel script (queue/cancel.h, docs/redis.md "Cancelling a job"):
 * the job found as `forkpool job` finds it (fp_sqlq_find), then in the same
 * transaction a waiting job (ready or delayed: leased to nobody) is removed
 * and written as a dead row with error "cancelled" and consumer "forkpool
 * cancel", and a running one (leased) gets a mark in kv space "cancel"
 * (key: its row id, a day's expiry) that the daemon holding it takes
 * (fp_sqlq_cancel_marked) and that turns its retry or put-back into the
 * same dead row (fp_sqlq_outcomes). */
#ifndef FORKPOOL_SQLQ_CANCEL_H
#define FORKPOOL_SQLQ_CANCEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue/cancel.h"
#include "sqlq/store.h"

#define FP_SQLQ_CANCEL_SPACE "cancel"
#define FP_SQLQ_CANCEL_TTL_MS 86400000LL /* FP_CANCEL_MARK_TTL_MS */

typedef struct fp_sqlq_cancel_s {
    fp_cancel_result_t result;
    bool was_delayed;  /* DONE: it was delayed, not ready */
    int64_t id;        /* DONE, RUNNING: the job row's id */
    int64_t dead_id;   /* DONE, DEAD: the dead row's id */
    char *owner;       /* RUNNING: the consumer holding its lease (owned) */
} fp_sqlq_cancel_t;

/* Cancels the job of queue called id: a row id, an entry id
 * "ENQUEUED_MS-ID" as the daemon names its jobs, or a payload's "id"
 * (fp_sqlq_find's rules). *out is overwritten; fp_sqlq_cancel_clear it. */
int fp_sqlq_cancel(fp_sqlq_t *q, const char *queue, const char *id, int64_t now_ms,
                   fp_sqlq_cancel_t *out, fp_err_t *err);
void fp_sqlq_cancel_clear(fp_sqlq_cancel_t *c);

/* fp_cancel_in_queues on the queue file, with the same answers: the job
 * called id in names[0..n) (with n > 1 the only queue that has it, else
 * -EEXIST naming them, nothing cancelled), *queue (one of names) NULL when
 * none has it, c what was done there (ids are the file's row ids, as
 * `forkpool job` shows them). cancel_queues.c. */
int fp_sqlq_cancel_in_queues(fp_sqlq_t *q, const char *const *names, size_t n, const char *id,
                             const char **queue, fp_cancel_reply_t *c, fp_err_t *err);

/* The job a cancel of id would act on in queue, without changing anything:
 * *found says whether queue has it (for the choice among queues). */
int fp_sqlq_cancel_find(fp_sqlq_t *q, const char *queue, const char *id, bool *found,
                        fp_err_t *err);

/* The marked jobs leased to consumer: *ids (owned, free()) their entry ids
 * "ENQUEUED_MS-ID" and *queues (owned, each and the array) their queues,
 * *n of them; nothing allocated when there are none. */
int fp_sqlq_cancel_marked(fp_sqlq_t *q, const char *consumer, int64_t now_ms, char ***ids,
                          char ***queues, size_t *n, fp_err_t *err);
void fp_sqlq_cancel_marked_free(char **ids, char **queues, size_t n);

/* For the outcomes (outcomes.c), inside their transaction: whether the
 * file holds any live mark (one look per batch); then, for each outcome
 * that acts, its row's mark deleted and, when it had one, a retry or
 * put-back turned (*turned) into a dead outcome "cancelled" whose attempts
 * are the payload's (o's, else row_payload). */
int fp_sqlq_cancel_any(fp_sqlq_t *q, int64_t now_ms, bool *any, fp_err_t *err);
int fp_sqlq_cancel_outcome(fp_sqlq_t *q, fp_sqlq_outcome_t *o, const char *row_payload,
                           size_t row_len, int64_t now_ms, bool *turned, fp_err_t *err);

#endif
