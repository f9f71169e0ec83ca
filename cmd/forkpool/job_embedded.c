/* job_embedded.c: one job looked up in the queue file (sqlq/inspect.h,
 * fp_sqlq_find) and told as the Redis lookup tells it (fp_job_where_t), so
 * `forkpool job` prints both with the same code. A job row is ready (due,
 * no lease), delayed (not yet due) or running (leased: its holder, the
 * delivery count, and an idle time reckoned from the lease's end minus
 * recovery.visibility_timeout, as `stats` does); a dead row is dead. The
 * entry ids are row ids. */
#include "job_embedded.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/os.h"
#include "embedded.h"
#include "sqlq/open_flags.h"
#include "sqlq/inspect.h"

/* Takes s (owned, may be NULL) into f. */
static void take(fp_admin_field_t *f, char *s)
{
    f->s = s;
    f->len = s != NULL ? strlen(s) : 0;
}

static void job_row(const fp_config_t *cfg, fp_sqlq_found_t *r, int64_t now_ms, fp_job_where_t *w,
                    int64_t *since_ms)
{
    if (r->owner != NULL) {
        w->state = FP_JOB_RUNNING;
        w->idle_ms = fp_cli_lease_idle_ms(cfg, r->avail_at, now_ms);
        w->deliveries = r->deliveries;
        take(&w->consumer, r->owner);
        r->owner = NULL;
    } else if (r->avail_at > now_ms) {
        w->state = FP_JOB_DELAYED;
        w->due_ms = r->avail_at;
    } else {
        w->state = FP_JOB_READY;
        *since_ms = r->avail_at;
    }
}

static int to_where(const fp_config_t *cfg, fp_sqlq_found_t *r, int64_t now_ms,
                    fp_job_where_t *w, int64_t *since_ms)
{
    w->payload.s = r->payload;
    w->payload.len = r->len;
    r->payload = NULL;
    take(&w->entry_id, fp_cli_int_text(r->id));
    if (!r->dead) {
        job_row(cfg, r, now_ms, w, since_ms);
        return w->entry_id.s != NULL ? 0 : -ENOMEM;
    }
    w->state = FP_JOB_DEAD;
    take(&w->consumer, r->owner);
    take(&w->error, r->error);
    r->owner = r->error = NULL;
    take(&w->attempts, fp_cli_int_text(r->attempts));
    take(&w->failed_at, fp_cli_int_text(r->failed_at));
    bool ok = w->entry_id.s && w->attempts.s && w->failed_at.s;
    return ok ? 0 : -ENOMEM;
}

int fp_cli_job_find_embedded(const fp_config_t *cfg, const char *only_queue, const char *id,
                             fp_job_where_t *w, const char **queue, int64_t *since_ms,
                             fp_err_t *err)
{
    *queue = NULL;
    *since_ms = -1;
    fp_sqlq_t *q = NULL;
    int rc = fp_sqlq_open_cfg(cfg, false, &q, err);
    size_t nq = only_queue != NULL ? 1 : cfg->queues.names.count;
    int64_t now_ms = fp_os_unix_ms();
    for (size_t i = 0; rc == 0 && *queue == NULL && i < nq; i++) {
        const char *name = only_queue != NULL ? only_queue : cfg->queues.names.items[i];
        fp_sqlq_found_t r;
        bool hit = false;
        rc = fp_sqlq_find(q, name, id, &r, &hit, err);
        if (rc == 0 && hit && to_where(cfg, &r, now_ms, w, since_ms) < 0)
            rc = fp_err_set(err, -ENOMEM, "out of memory");
        if (rc == 0 && hit)
            *queue = name;
        if (rc == 0)
            fp_sqlq_found_clear(&r);
    }
    fp_sqlq_close(q);
    return rc;
}
