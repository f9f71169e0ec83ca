/* stats_embedded.c: `forkpool stats` on the embedded queue: each queue's
 * view of the queue file (sqlq/inspect.h) in the shape the Redis read
 * gives (fp_admin_queue_stats_t), so the table and the JSON are the same
 * code with the same columns. What maps to what (docs/embedded.md, "Command
 * line"): pending is the leased rows, length ready + leased (the stream's
 * XLEN), the oldest ready job's age runs from when it became available (as
 * a delayed job's entry on Redis is added when it falls due), and each
 * holder of leases is a consumer whose idle time is reckoned from its
 * latest lease: its end minus recovery.visibility_timeout. */
#include "stats_embedded.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/os.h"
#include "embedded.h"
#include "sqlq/fleet.h"
#include "sqlq/open_flags.h"
#include "sqlq/inspect.h"

static int copy_holders(const fp_config_t *cfg, const fp_sqlq_view_t *v, int64_t now_ms,
                        fp_admin_queue_stats_t *s)
{
    if (v->nholders == 0)
        return 0;
    if ((s->consumers = calloc(v->nholders, sizeof *s->consumers)) == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < v->nholders; i++, s->nconsumers++) {
        fp_admin_consumer_t *c = &s->consumers[i];
        if ((c->name = strdup(v->holders[i].owner)) == NULL)
            return -ENOMEM;
        c->pending = v->holders[i].rows;
        c->idle_ms = fp_cli_lease_idle_ms(cfg, v->holders[i].lease_end_ms, now_ms);
    }
    return 0;
}

static int fill(const fp_config_t *cfg, const fp_sqlq_view_t *v, int64_t now_ms,
                fp_admin_queue_stats_t *s)
{
    memset(s, 0, sizeof *s);
    s->ready = v->counts.ready;
    s->ready_exact = true;
    s->pending = v->counts.leased;
    s->delayed = v->counts.delayed;
    s->dead = v->counts.dead;
    s->length = v->counts.ready + v->counts.leased;
    s->group_exists = true; /* a file has no group to create */
    s->oldest_age_ms = -1;
    if (v->oldest_id > 0) {
        snprintf(s->oldest_id, sizeof s->oldest_id, "%" PRId64, v->oldest_id);
        s->oldest_age_ms = now_ms > v->oldest_avail_ms ? now_ms - v->oldest_avail_ms : 0;
    }
    s->now_ms = now_ms;
    s->entries_added = v->added;
    s->entries_read = v->taken;
    return copy_holders(cfg, v, now_ms, s);
}

int fp_cli_stats_embedded(const fp_config_t *cfg, fp_admin_queue_stats_t *st, fp_err_t *err)
{
    fp_sqlq_t *q = NULL;
    int rc = fp_sqlq_open_cfg(cfg, false, &q, err);
    int64_t now_ms = fp_os_unix_ms();
    for (size_t i = 0; rc == 0 && i < cfg->queues.names.count; i++) {
        fp_sqlq_view_t v;
        if ((rc = fp_sqlq_view(q, cfg->queues.names.items[i], now_ms, &v, err)) < 0)
            break;
        if (fill(cfg, &v, now_ms, &st[i]) < 0)
            rc = fp_err_set(err, -ENOMEM, "out of memory");
        fp_sqlq_view_clear(&v);
    }
    fp_sqlq_close(q);
    return rc;
}

int fp_cli_fleet_embedded(const fp_config_t *cfg, fp_fleet_t *out, fp_err_t *err)
{
    fp_sqlq_t *q = NULL;
    memset(out, 0, sizeof *out);
    int rc = fp_sqlq_open_cfg(cfg, false, &q, err);
    if (rc == 0)
        rc = fp_sqlq_fleet_read(q, fp_os_unix_ms(), out, err);
    fp_sqlq_close(q);
    return rc;
}
