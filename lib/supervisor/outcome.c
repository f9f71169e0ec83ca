/* outcome.c: where a finished job goes: acknowledged, retried after the
 * back-off, or dead with its reason; and every outcome counted in the
 * metrics and written to the ledger, whose writer's health pauses pulls. */
#include "supervisor/supervisor_internal.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/log.h"
#include "base/os.h"
#include "dispatch/retry.h"
#include "queue/cancel.h"

#define LOG "supervisor"
#define LEDGER_POLL_MS 50

/* The millisecond part of a stream entry id: when the job was enqueued. */
static int64_t entry_ms(const char *entry_id)
{
    return entry_id != NULL ? strtoll(entry_id, NULL, 10) : 0;
}

/* Every outcome is counted in the metrics and written to the ledger. When
 * the ledger's writer falls behind, pulls pause rather than rows dropping. */
static void count_outcome(fp_supervisor_t *sup, const fp_held_t *held, fp_metrics_outcome_t o,
                          const char *error)
{
    int64_t elapsed_ms = held->started_at_ms > 0 ? fp_os_now_ms() - held->started_at_ms : -1;
    const char *type = held->job.type != NULL ? held->job.type : "(invalid)";
    const char *queue = sup->redis.names[held->queue];
    bool known = fp_handler_label_known(&sup->registry, sup->cfg, held->job.type,
                                        o == FP_OUTCOME_OK,
                                        fp_metrics_has(sup->metrics, queue, held->job.type));
    fp_metrics_job_done(sup->metrics, queue, known ? held->job.type : FP_METRICS_OTHER, o,
                        elapsed_ms >= 0 ? (double)elapsed_ms / 1000.0 : -1.0);
    if (sup->ledger.writer == NULL)
        return;
    fp_ledger_row_t row = {
        .queue = sup->redis.names[held->queue],
        .entry_id = held->entry_id,
        .job_id = held->job.id,
        .type = type,
        .outcome = fp_metrics_outcome_name(o),
        .error = error,
        .attempt = held->job.attempt + 1,
        .enqueued_at_ms = entry_ms(held->entry_id),
        .started_at_ms = held->started_unix_ms,
        .finished_at_ms = fp_os_unix_ms(),
        .duration_us = elapsed_ms >= 0 ? elapsed_ms * 1000 : 0,
        .pid = held->pid,
    };
    if (!fp_ledger_push(sup->ledger.writer, &row) && !sup->ledger.full) {
        sup->ledger.full = true;
        fp_log_warn(LOG, "the ledger writer is behind (%zu rows); pulls pause until it catches up",
                    fp_ledger_backlog(sup->ledger.writer));
        fp_sup_update_want(sup);
    }
}

void fp_sup_job_answered(fp_supervisor_t *sup, fp_held_t *held, const fp_msg_t *msg)
{
    if (!msg->ok && held->cancelled) { /* how a cancel the child acted on ends */
        fp_sup_job_cancelled(sup, held);
    } else if (msg->ok) {
        fp_qmux_ack(sup->redis.queue, held->queue, held->entry_id);
        count_outcome(sup, held, FP_OUTCOME_OK, NULL);
        sup->counters.jobs_ok++;
        sup->counters.last_outcome_ms = fp_os_now_ms();
    } else {
        fp_sup_job_failed(sup, held, msg->error != NULL ? msg->error : "failed", msg->retry,
                          FP_OUTCOME_FAILED);
    }
}

/* A job that will not be run again: to the dead stream with the reason.
 * Its last attempt counts as `outcome` (dead, or failed when permanent). */
static void job_dead_as(fp_supervisor_t *sup, fp_held_t *held, const char *why,
                        fp_metrics_outcome_t outcome)
{
    const char *queue = sup->redis.names[held->queue];
    char attempt[24];
    snprintf(attempt, sizeof attempt, "%lld", (long long)(held->job.attempt + 1));
    const char *kv[] = {"queue", queue, "job", fp_held_name(held), "attempt", attempt, NULL};
    fp_log_kv(FP_LOG_WARN, LOG, kv, "job %s failed for good: %s",
              held->job.type != NULL ? held->job.type : "(invalid)", why);
    fp_qmux_dead(sup->redis.queue, held->queue, held->entry_id, held->payload, held->payload_len, why,
                  held->job.attempt + 1);
    count_outcome(sup, held, outcome, why);
    sup->counters.jobs_failed++;
    sup->counters.last_outcome_ms = fp_os_now_ms();
}

void fp_sup_job_dead(fp_supervisor_t *sup, fp_held_t *held, const char *why)
{
    job_dead_as(sup, held, why, FP_OUTCOME_DEAD);
}

void fp_sup_job_cancelled(fp_supervisor_t *sup, fp_held_t *held)
{
    job_dead_as(sup, held, FP_CANCEL_ERROR, FP_OUTCOME_CANCELLED);
}

void fp_sup_count_retry_cancelled(fp_supervisor_t *sup, const fp_held_t *held)
{
    count_outcome(sup, held, FP_OUTCOME_CANCELLED, FP_CANCEL_ERROR);
}

/* A failed attempt: back to the delayed set after the back-off while
 * attempts are left and the failure may be retried, else dead. */
void fp_sup_job_failed(fp_supervisor_t *sup, fp_held_t *held, const char *why, bool retryable,
                       fp_metrics_outcome_t kind)
{
    const fp_config_t *cfg = sup->cfg;
    int64_t attempts = held->job.attempt + 1;
    int64_t max = held->job.max_attempts > 0 ? held->job.max_attempts : cfg->retry.max_attempts;
    if (fp_retry_decide(attempts, max, retryable) == FP_RETRY_DEAD) {
        job_dead_as(sup, held, why,
                    !retryable && kind == FP_OUTCOME_FAILED ? FP_OUTCOME_FAILED : FP_OUTCOME_DEAD);
        return;
    }
    size_t len = 0;
    char *payload = fp_retry_payload(held->payload, held->payload_len, held->entry_id, attempts,
                                     why, &len);
    if (payload == NULL) {
        fp_sup_job_dead(sup, held, why);
        return;
    }
    int64_t delay = fp_retry_backoff_ms(attempts, cfg->retry.backoff_base_ms,
                                        cfg->retry.backoff_max_ms, cfg->retry.jitter,
                                        fp_sup_next_random(sup));
    char attempt[24];
    snprintf(attempt, sizeof attempt, "%lld", (long long)attempts);
    const char *kv[] = {"queue", sup->redis.names[held->queue], "job", fp_held_name(held),
                        "attempt", attempt, NULL};
    fp_log_kv(FP_LOG_WARN, LOG, kv, "job %s failed, retrying in %lld ms: %s", held->job.type,
              (long long)delay, why);
    fp_qmux_retry(sup->redis.queue, held->queue, held->entry_id, payload, len, delay);
    free(payload);
    count_outcome(sup, held, kind == FP_OUTCOME_FAILED ? FP_OUTCOME_RETRIED : kind, why);
    sup->counters.jobs_retried++;
    sup->counters.last_outcome_ms = fp_os_now_ms();
}

/* Follows the writer's health: while it cannot write, readiness says so and
 * pulls hold (on_error = "pause"; "skip" keeps pulling and the writer drops
 * rows). Also resumes pulls once the writer has caught up to half its queue.
 * The mode is set here, from the current configuration, so a reload changes
 * it too. */
static void on_ledger_timer(uv_timer_t *timer)
{
    fp_supervisor_t *sup = timer->data;
    fp_ledger_set_skip(sup->ledger.writer, sup->cfg->ledger.on_error == FP_LEDGER_SKIP);
    bool failing = fp_ledger_failing(sup->ledger.writer);
    if (failing != sup->ledger.failing) {
        sup->ledger.failing = failing;
        if (failing)
            fp_log_error(LOG, "the ledger cannot write; %s until it can",
                         sup->cfg->ledger.on_error == FP_LEDGER_SKIP ? "its rows are dropped"
                                                                      : "pulls pause");
        else
            fp_log_info(LOG, "the ledger writes again");
        fp_sup_update_want(sup);
    }
    if (sup->ledger.full && fp_ledger_backlog(sup->ledger.writer) < LEDGER_CAPACITY / 2) {
        sup->ledger.full = false;
        fp_log_info(LOG, "the ledger writer caught up; pulls resume");
        fp_sup_update_want(sup);
    }
}

int fp_sup_start_ledger(fp_supervisor_t *sup, fp_err_t *err)
{
    const fp_config_t *cfg = sup->cfg;
    if (cfg->ledger.path[0] == '\0')
        return 0;
    int rc = fp_ledger_open(cfg->ledger.path, cfg->ledger.retain_ms, LEDGER_CAPACITY, &sup->ledger.writer, err);
    if (rc == 0) {
        fp_ledger_set_skip(sup->ledger.writer, cfg->ledger.on_error == FP_LEDGER_SKIP);
        uv_timer_start(&sup->ledger.timer, on_ledger_timer, LEDGER_POLL_MS, LEDGER_POLL_MS);
    }
    return rc;
}
