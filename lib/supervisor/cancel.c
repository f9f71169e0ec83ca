/* cancel.c: a job `forkpool cancel` marked, as the queue reports it
 * (queue/cancel_take.c, on_cancel, within a second of the mark). A job
 * still waiting for a child never runs: it is settled as cancelled at once.
 * A job sent to a child gets the "cancel" line, which a worker that can stop
 * it (a Python async job) answers with a failed "done"; its deadline becomes
 * now + pool.kill_grace, after which the timeout path TERMs (then KILLs) the
 * child's group. A job already being killed for its timeout is only marked:
 * its end is the cancel's. Either way it ends dead with the error
 * "cancelled" (outcome.c), unless its "done" arrived first: an answer
 * before the cancel took effect wins. A job queued behind another in a
 * child that dies is settled as cancelled too (dispatch.c), never handed
 * on. A job that failed before the mark was taken ends as cancelled in
 * Redis all the same (the outcome script); the queue says so afterwards
 * (on_retry_cancelled) and the ledger and metrics get that outcome. */
#include "supervisor/supervisor_internal.h"

#include <stdio.h>

#include "queue/cancel.h"

#include "base/log.h"

#define LOG "supervisor"

/* Tells the child; a child that cannot take the line (its channel is gone)
 * is being stopped anyway, and the deadline below still applies. */
static void send_cancel(fp_slot_t *slot, const fp_held_t *held)
{
    fp_channel_t *ch = slot->channel;
    if (ch == NULL || slot->channel_eof)
        return;
    size_t mark = ch->out.len;
    if (fp_proto_encode_cancel(&ch->out, held->seq) < 0)
        ch->out.len = mark; /* out of memory: the TERM after the grace still comes */
    else
        (void)fp_channel_flush(ch); /* a failed write ends the channel, as for a job */
}

static void cancel_sent(fp_supervisor_t *sup, fp_slot_t *slot, fp_held_t *held)
{
    if (held->cancelled || slot->reaped)
        return; /* marked already, or settled with its child's exit */
    held->cancelled = true;
    if (held->timed_out) { /* its child is being killed: the kill ends it, as cancelled */
        fp_log_info(LOG, "job %s on child %d (pid %d) was cancelled while being stopped for its "
                    "timeout: it ends as cancelled", fp_held_name(held), slot->id, (int)slot->pid);
        return;
    }
    fp_log_info(LOG, "job %s on child %d (pid %d) was cancelled: telling it, stopping it after "
                "%lld ms if it runs on", fp_held_name(held), slot->id, (int)slot->pid,
                (long long)sup->cfg->pool.kill_grace_ms);
    send_cancel(slot, held);
    if (held->deadline_ms != 0)
        fp_sup_cancel_deadline(sup, slot, held); /* else it gets it when it starts */
}

void fp_sup_cancel_unstarted(fp_supervisor_t *sup, fp_held_t *held)
{
    fp_log_info(LOG, "job %s was cancelled before it started", fp_held_name(held));
    fp_sup_job_cancelled(sup, held);
    fp_held_release(&sup->held, held);
}

void fp_sup_on_cancel(void *ctx, uint32_t queue, const char *entry_id)
{
    fp_supervisor_t *sup = ctx;
    fp_held_t *held = fp_held_list_find(sup->held.wait_head, queue, entry_id);
    if (held != NULL) {
        fp_held_wait_remove(&sup->held, held);
        fp_sup_cancel_unstarted(sup, held);
        fp_sup_update_want(sup);
        return;
    }
    for (size_t i = 0; i < sup->pool.capacity; i++) {
        fp_slot_t *slot = sup->pool.slots[i];
        held = slot != NULL ? fp_held_list_find(slot->job, queue, entry_id) : NULL;
        if (held != NULL) {
            cancel_sent(sup, slot, held);
            return;
        }
    }
    /* Settled meanwhile (its outcome is on its way): the cancel came late. */
}

/* The supervisor released the job with its retry (or put back); what the
 * row says comes from the payload that outcome carried. A retry's counts
 * the failed attempt already (dispatch/retry.c), a put back's does not. */
void fp_sup_on_retry_cancelled(void *ctx, uint32_t queue, const char *entry_id, char kind,
                               const char *payload, size_t len)
{
    fp_supervisor_t *sup = ctx;
    fp_held_t held = {.queue = queue, .entry_id = (char *)entry_id};
    fp_err_t err;
    fp_err_clear(&err);
    if (payload != NULL && fp_job_parse(payload, len, (size_t)sup->cfg->limits.max_job_bytes,
                                        &held.job, &err) == 0 &&
        kind == 'r' && held.job.attempt > 0)
        held.job.attempt--;
    fp_log_info(LOG, "job %s was cancelled instead of being retried (marked before its outcome)",
                fp_held_name(&held));
    fp_sup_count_retry_cancelled(sup, &held);
    fp_job_clear(&held.job);
}
