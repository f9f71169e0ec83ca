/* dispatch.c: jobs to children and their answers. Which child takes the
 * next held job, the job's deadline, what each line a child sends means
 * ("ready", "done", or a protocol error), and what happens when a child's
 * channel ends while it lives. The bytes themselves go through
 * dispatch/channel.c; the outcome of an answered job is outcome.c's. */
#include "supervisor/supervisor_internal.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "base/log.h"
#include "base/os.h"

#define LOG "supervisor"

void fp_sup_send_stop(fp_supervisor_t *sup, fp_slot_t *slot)
{
    fp_channel_t *ch = slot->channel;
    if (slot->id == sup->reload.held_back)
        sup->reload.held_back = -1;
    if (ch != NULL)
        fp_channel_flush(ch); /* jobs queued for it go first */
    fp_buf_t line = {0};
    if (ch == NULL || slot->channel_eof || fp_proto_encode_stop(&line) < 0 ||
        fp_channel_send(ch, line.data, line.len) < 0) {
        fp_sup_signal_child(slot, SIGTERM);
    }
    fp_buf_free(&line);
    (void)fp_slot_apply(slot, FP_SLOT_STOP_SENT);
}

/* The child's one timer follows the first deadline among the jobs it runs
 * (one for a child answering in order, each it holds for a concurrent
 * one). Not once a job timed out: the timer then counts the kill grace. */
static void arm_deadline(fp_slot_t *slot);

/* The jobs whose deadline passed: TERM now, KILL after kill_grace. Their
 * outcome is settled when the child is reaped, as a failed attempt
 * ("timeout"). Answers already in the socket are read first: the loop had
 * not read them yet, and those jobs finished in time. */
static void on_job_timer(uv_timer_t *timer)
{
    fp_channel_t *ch = timer->data;
    fp_supervisor_t *sup = ch->ctx;
    fp_slot_t *slot = channel_slot(ch);
    if (slot->reaped || slot->pid <= 0)
        return;
    if (slot->timed_out) {
        fp_log_warn(LOG, "child %d (pid %d) ignored SIGTERM for %lld ms; sending SIGKILL", slot->id,
                    (int)slot->pid, (long long)sup->cfg->pool.kill_grace_ms);
        fp_sup_signal_child(slot, SIGKILL);
        return;
    }
    fp_channel_drain(ch);
    if (slot->reaped || slot->timed_out)
        return;
    size_t expired = fp_held_slot_expire(slot, fp_os_now_ms());
    if (expired == 0) { /* answered meanwhile, or the loop's clock ran early */
        arm_deadline(slot);
        fp_sup_dispatch(sup);
        return;
    }
    const fp_held_t *held = slot->job;
    while (held != NULL && !held->timed_out)
        held = held->next;
    fp_log_warn(LOG, "job %s (%s) on child %d (pid %d) %s%s; sending SIGTERM",
                held != NULL ? fp_held_name(held) : "?", held != NULL ? held->job.type : "?", slot->id,
                (int)slot->pid,
                held != NULL && held->cancelled ? "was cancelled and still runs" : "timed out",
                expired > 1 ? " with others beside it" : "");
    slot->timed_out = true;
    fp_sup_signal_child(slot, SIGTERM);
    uv_timer_start(timer, on_job_timer, (uint64_t)sup->cfg->pool.kill_grace_ms, 0);
}

static void arm_deadline(fp_slot_t *slot)
{
    fp_channel_t *ch = slot->channel;
    if (ch == NULL || slot->timed_out || slot->channel_lost || slot->reaped)
        return;
    const fp_held_t *next = fp_held_slot_next_deadline(slot);
    if (next == NULL) {
        uv_timer_stop(&ch->timer);
        return;
    }
    int64_t wait = next->deadline_ms - fp_os_now_ms();
    uv_timer_start(&ch->timer, on_job_timer, (uint64_t)(wait > 0 ? wait : 0), 0);
}

/* The child will not take any more of it: it is going away (its exit will
 * be reaped); the jobs stay with the slot and are settled with that
 * child's exit. */
static void handoff_failed(fp_slot_t *slot, const char *what, int rc)
{
    fp_log_warn(LOG, "could not hand %s to child %d: %s", what, slot->id, uv_strerror(rc));
    fp_sup_signal_child(slot, SIGKILL);
}

/* A job runs from now on: a concurrent child took it up as its line
 * arrived, one answering in order as soon as it answered the one before.
 * Its deadline starts here, so a queued job's wait never counts against
 * its timeout. */
static void start_job(fp_supervisor_t *sup, fp_slot_t *slot, fp_held_t *held)
{
    fp_sup_steer_started(slot, held, fp_os_now_us());
    held->started_at_ms = fp_os_now_ms();
    held->started_unix_ms = fp_os_unix_ms();
    fp_metrics_job_started(sup->metrics, sup->redis.names[held->queue], held->entry_id,
                           held->started_unix_ms);
    int64_t timeout = held->job.timeout_ms > 0 ? held->job.timeout_ms : sup->cfg->pool.job_timeout_ms;
    held->deadline_ms = held->started_at_ms + timeout;
    if (held->cancelled) /* cancelled while queued in its child */
        held->deadline_ms = held->started_at_ms + sup->cfg->pool.kill_grace_ms;
    fp_qmux_started(sup->redis.queue, held->queue, &held->job); /* "until": "start" */
}

void fp_sup_cancel_deadline(fp_supervisor_t *sup, fp_slot_t *slot, fp_held_t *held)
{
    int64_t by = fp_os_now_ms() + sup->cfg->pool.kill_grace_ms;
    if (held->deadline_ms > by)
        held->deadline_ms = by;
    arm_deadline(slot);
}

static void assign(fp_supervisor_t *sup, fp_slot_t *slot, fp_held_t *held)
{
    fp_channel_t *ch = slot->channel;
    held->seq = fp_pool_next_seq(&sup->pool);
    held->pid = slot->pid;
    fp_sup_steer_sending(sup, slot, held);
    fp_held_slot_push(slot, held);
    (void)fp_slot_apply(slot, FP_SLOT_JOB_SENT);
    if (slot->job == held || fp_pool_starts_on_send(slot)) {
        start_job(sup, slot, held);
        arm_deadline(slot);
    }
    size_t mark = ch->out.len;
    if (fp_proto_encode_job(&ch->out, held->seq, held->job.attempt + 1, held->payload,
                            held->payload_len) < 0) {
        ch->out.len = mark;
        handoff_failed(slot, "a job", UV_ENOMEM);
    }
}

void fp_sup_dispatch(fp_supervisor_t *sup)
{
    fp_slot_t *slot;
    bool sent = false;
    int64_t now_us = fp_os_now_us();
    fp_pool_job_t next;
    fp_sup_steer_hold(sup); /* the share of the hold bounds a child's depth */
    while (sup->held.wait_head != NULL) {
        fp_sup_steer_job(sup, sup->held.wait_head, now_us, &next);
        if ((slot = fp_pool_pick_for(&sup->pool, &next)) == NULL)
            break;
        assign(sup, slot, fp_held_wait_pop(&sup->held));
        sent = true;
    }
    for (size_t i = 0; sent && i < sup->pool.capacity; i++) {
        slot = sup->pool.slots[i];
        fp_channel_t *ch = slot->channel;
        int rc = ch != NULL ? fp_channel_flush(ch) : 0;
        if (rc < 0)
            handoff_failed(slot, "its jobs", rc);
    }
    fp_sup_update_want(sup);
}

/* An answer after the job's deadline passed is late and dropped (the job is
 * settled with its child's exit), except a cancelled job's: its deadline was
 * the cancel's, and the TERM that followed is what an in-order Python worker
 * answers (with "cancelled", then it leaves). That answer settles it; the
 * child, being stopped, takes no more jobs. */
static bool answer_late(fp_slot_t *slot, const fp_held_t *held)
{
    if (held == NULL || (held->timed_out && !held->cancelled))
        return true;
    if (held->timed_out)
        slot->channel_eof = true;
    return false;
}

static void settle_done(fp_supervisor_t *sup, fp_slot_t *slot, const fp_msg_t *msg)
{
    fp_held_t *held = fp_held_slot_find(slot, msg->seq, fp_pool_starts_on_send(slot));
    if (answer_late(slot, held)) {
        fp_log_warn(LOG, "child %d (pid %d) answered for job seq %llu it does not hold", slot->id,
                    (int)slot->pid, (unsigned long long)msg->seq);
        return;
    }
    fp_held_slot_remove(slot, held);
    fp_sup_steer_answered(sup, held, fp_os_now_us());
    fp_sup_job_answered(sup, held, msg);
    slot->jobs_done++;
    slot->rss_kb = msg->rss_kb;
    if (slot->jobs_done == 1)
        fp_pool_start_ok(&sup->pool); /* a child that works ends any crash loop */
    fp_held_release(&sup->held, held);
    if (slot->job != NULL && slot->job->deadline_ms == 0 && !slot->timed_out)
        start_job(sup, slot, slot->job); /* the next in line, answering in order */
    arm_deadline(slot);
    if (slot->job == NULL)
        (void)fp_slot_apply(slot, FP_SLOT_LAST_ANSWERED);
    if (sup->state != SUP_RUNNING) {
        /* Queued behind what it still holds: those finish first. */
        if (slot->state != FP_CHILD_STOPPING)
            fp_sup_send_stop(sup, slot);
        return;
    }
    fp_sup_rebalance(sup);
}

/* Its start is over: the start deadline goes, and a child of the reload
 * being rolled out proves that reload. */
static void said_ready(fp_supervisor_t *sup, fp_slot_t *slot, size_t concurrency)
{
    slot->said_ready = true;
    slot->concurrency = concurrency;
    sup->children.start_error[0] = '\0';
    uv_timer_stop(&slot->channel->timer);
    if (slot->generation != sup->reload.generation)
        return;
    sup->reload.unproven = false;
    fp_sup_notify_ready(sup); /* the reload is rolled out */
    if (sup->reload.held_back >= 0) {
        fp_slot_t *old = sup->pool.slots[sup->reload.held_back];
        if (old->state == FP_CHILD_IDLE || old->state == FP_CHILD_BUSY)
            fp_sup_send_stop(sup, old);
        sup->reload.held_back = -1;
    }
}

/* Jobs queued in a child's socket behind the one it ran never started:
 * they go to another child (or back to Redis when draining) without an
 * attempt counted; one cancelled meanwhile ends as cancelled instead. */
void fp_sup_requeue_queued(fp_supervisor_t *sup, fp_slot_t *slot)
{
    fp_held_t *held, *rest = NULL;
    while ((held = fp_held_slot_pop(slot)) != NULL) {
        held->next = rest; /* reversed, so pushing each to the front keeps the order */
        rest = held;
    }
    while ((held = rest) != NULL) {
        rest = held->next;
        held->started_at_ms = held->deadline_ms = 0;
        held->timed_out = false;
        if (held->cancelled) {
            fp_sup_cancel_unstarted(sup, held);
        } else if (sup->state == SUP_RUNNING) {
            fp_held_wait_push_front(&sup->held, held);
        } else {
            fp_qmux_put_back(sup->redis.queue, held->queue, held->entry_id, held->payload,
                              held->payload_len);
            fp_held_release(&sup->held, held);
        }
    }
}

/* A child that sends a line the protocol does not allow cannot be trusted:
 * - holding jobs, the attempts it runs fail at once (instead of running
 *   into their timeout), the jobs waiting behind them go elsewhere, and it
 *   is killed; its exit is reaped as for any crash and its slot refilled;
 * - before its "ready" (a concurrency out of range, garbage instead of the
 *   greeting), it is killed at once, a failed start under the crash-loop
 *   back-off, rather than left to pool.start_timeout: a worker that cannot
 *   greet properly will not serve properly;
 * - otherwise (idle, or already timed out or reaped) the line is logged. */
static void protocol_error(fp_supervisor_t *sup, fp_slot_t *slot, const char *why)
{
    if (!slot->said_ready && !slot->reaped && !slot->start_timed_out) {
        fp_log_error(LOG, "child %d (pid %d) sent a bad line before it was ready: %s; killing it",
                     slot->id, (int)slot->pid, why);
        slot->channel_eof = true;
        fp_sup_signal_child(slot, SIGKILL);
        return;
    }
    fp_held_t *held = slot->job;
    if (held == NULL || slot->timed_out || slot->reaped) {
        fp_log_warn(LOG, "child %d (pid %d) sent a bad line: %s", slot->id, (int)slot->pid, why);
        return;
    }
    fp_log_error(LOG, "child %d (pid %d) broke the protocol while running job %s: %s; killing it",
                 slot->id, (int)slot->pid, fp_held_name(held), why);
    char reason[FP_ERR_MSG_MAX + 16];
    snprintf(reason, sizeof reason, "protocol: %s", why);
    uv_timer_stop(&slot->channel->timer);
    while ((held = fp_held_slot_pop_running(slot)) != NULL) {
        fp_sup_job_failed(sup, held, reason, true, FP_OUTCOME_FAILED);
        fp_held_release(&sup->held, held);
    }
    /* Queued jobs leave now: its reap would blame the next one for the
     * kill, and a further bad line in the same read would fail it too. */
    fp_sup_requeue_queued(sup, slot);
    slot->channel_eof = true; /* it takes no more jobs */
    fp_sup_signal_child(slot, SIGKILL);
}

static void on_channel_line(void *ctx, const char *line, size_t len, int status)
{
    fp_channel_t *ch = ctx;
    fp_supervisor_t *sup = ch->ctx;
    fp_slot_t *slot = channel_slot(ch);
    fp_msg_t msg;
    fp_err_t err;
    fp_err_clear(&err);
    if (status < 0)
        fp_err_set(&err, FP_ELIMIT, "a line longer than %zu bytes", ch->framer.max_line);
    if (status < 0 || fp_proto_decode(line, len, &msg, &err) < 0) {
        protocol_error(sup, slot, err.msg);
        return;
    }
    if (msg.op == FP_MSG_READY && !slot->said_ready)
        said_ready(sup, slot, (size_t)msg.concurrency);
    if (msg.op == FP_MSG_READY && slot->state == FP_CHILD_STOPPING) {
        /* Told to stop before it was ready (a quick drain): nothing to do. */
    } else if (msg.op == FP_MSG_READY && slot->state == FP_CHILD_STARTING) {
        if (sup->state == SUP_RUNNING) /* else it stays starting until its stop below */
            (void)fp_slot_apply(slot, FP_SLOT_READY);
        fp_log_debug(LOG, "child %d ready (pid %d)", slot->id, (int)slot->pid);
        if (!sup->children.pool_was_ready && fp_pool_count(&sup->pool, FP_CHILD_STARTING) == 0) {
            sup->children.pool_was_ready = true;
            fp_log_info(LOG, "pool ready: %zu children in %lld ms", sup->pool.target,
                        (long long)(fp_os_now_ms() - sup->counters.start_ms));
            fp_sup_notify_ready(sup);
        }
        if (sup->state != SUP_RUNNING)
            fp_sup_send_stop(sup, slot);
        else if (!slot->reaped)
            fp_sup_rebalance(sup); /* a reload waiting for this child's proof rolls on */
    } else if (msg.op == FP_MSG_DONE && slot->state >= FP_CHILD_BUSY) {
        settle_done(sup, slot, &msg);
    } else {
        fp_log_warn(LOG, "child %d (pid %d) sent an unexpected message", slot->id, (int)slot->pid);
    }
    fp_msg_clear(&msg);
}

static void on_channel_closed(void *ctx, int id)
{
    fp_supervisor_t *sup = ctx;
    fp_slot_t *slot = sup->pool.slots[id];
    slot->channel = NULL;
    slot->channel_closed = true;
    fp_pool_release_if_done(&sup->pool, slot);
    fp_sup_maybe_finish(sup);
}

static void on_channel_grace(uv_timer_t *timer)
{
    fp_channel_t *ch = timer->data;
    fp_slot_t *slot = channel_slot(ch);
    if (slot->reaped)
        return;
    fp_log_warn(LOG, "child %d (pid %d) outlived its channel by %lld ms; sending SIGKILL", slot->id,
                (int)slot->pid, (long long)channel_sup(ch)->cfg->pool.kill_grace_ms);
    fp_sup_signal_child(slot, SIGKILL);
}

/* Whether pid has exited and waits to be reaped (a crash closes the
 * channel too); it is left for SIGCHLD's reap. */
static bool child_exited(pid_t pid)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}

/* The child's end of the channel closed or failed while the child lives:
 * it can take no job and answer none, and its job's deadline would go with
 * the channel, so it is finished off now (TERM, then KILL after
 * kill_grace); a job it held fails as a crash once it is reaped. A stopping
 * child is on its way out and only gets the KILL if it lingers. The channel
 * stays open until the reap, for the timer. */
static void channel_lost(fp_channel_t *ch, ssize_t why)
{
    fp_slot_t *slot = channel_slot(ch);
    fp_channel_stop_reading(ch);
    if (slot->channel_lost || slot->timed_out || slot->start_timed_out || child_exited(slot->pid))
        return; /* already being stopped, or dead: the reap settles it */
    slot->channel_lost = true;
    if (slot->state != FP_CHILD_STOPPING || slot->job != NULL) {
        fp_log_warn(LOG, "child %d (pid %d) closed its channel (%s)%s; stopping it", slot->id,
                    (int)slot->pid, why == UV_EOF ? "EOF" : uv_strerror((int)why),
                    slot->job != NULL ? " while running a job" : "");
        fp_sup_signal_child(slot, SIGTERM);
    }
    uv_timer_start(&ch->timer, on_channel_grace, (uint64_t)channel_sup(ch)->cfg->pool.kill_grace_ms, 0);
}

static void on_channel_read(fp_channel_t *ch)
{
    fp_sup_dispatch(channel_sup(ch));
}

/* EOF or error: the child is gone or going; its exit is reaped apart, and
 * until then it must not be picked for a job. */
static void on_channel_end(fp_channel_t *ch, ssize_t why)
{
    fp_slot_t *slot = channel_slot(ch);
    slot->channel_eof = true;
    if (slot->reaped)
        fp_channel_close(ch);
    else
        channel_lost(ch, why);
}

static const fp_channel_events_t channel_events = {on_channel_line, on_channel_read,
                                                   on_channel_end, on_channel_closed};

int fp_sup_channel_open(fp_supervisor_t *sup, fp_slot_t *slot, int fd)
{
    fp_channel_t *ch;
    int rc = fp_channel_open(&sup->loop, fd, (size_t)sup->cfg->limits.max_job_bytes + 4096,
                             &channel_events, sup, slot->id, &ch);
    slot->channel = ch;
    return rc;
}
