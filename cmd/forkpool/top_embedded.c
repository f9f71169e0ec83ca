/* top_embedded.c: `forkpool top` on the embedded queue: one sample read
 * from the queue file, the same shape as the Redis read (cmd_top.c) so the
 * view, the rates and the text mode are one code: the queues as `stats`
 * reads them (stats_embedded.c), the fleet from the heartbeat records the
 * daemons keep in the file (sqlq/fleet.h), the dead letters as `dead`
 * reads them (queue/dead_src.h). The file is not created. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "embedded.h"
#include "stats_embedded.h"
#include "top_cmd.h"

static int read_queues(const fp_config_t *cfg, fp_top_sample_t *out, fp_err_t *err)
{
    size_t nq = cfg->queues.names.count;
    fp_admin_queue_stats_t *st = calloc(nq > 0 ? nq : 1, sizeof *st);
    out->queues = calloc(nq > 0 ? nq : 1, sizeof *out->queues);
    int rc = st != NULL && out->queues != NULL ? 0 : fp_err_set(err, -ENOMEM, "out of memory");
    if (rc == 0)
        rc = fp_cli_stats_embedded(cfg, st, err);
    for (size_t i = 0; rc == 0 && i < nq; i++, out->nqueues++) {
        fp_top_queue_from_stats(cfg->queues.names.items[i], &st[i], &out->queues[i]);
        out->dead_total += st[i].dead;
    }
    for (size_t i = 0; st != NULL && i < nq; i++)
        fp_admin_queue_stats_clear(&st[i]);
    free(st);
    return rc;
}

int fp_top_read_embedded(const fp_config_t *cfg, bool dead, fp_top_sample_t *out,
                         fp_err_t *err)
{
    memset(out, 0, sizeof *out);
    int rc = read_queues(cfg, out, err);
    if (rc == 0)
        rc = fp_cli_fleet_embedded(cfg, &out->fleet, err);
    out->now_ms = out->fleet.now_ms;
    out->taken_ms = fp_top_clock_ms();
    fp_dead_src_t src = {0};
    if (rc == 0 && dead && (rc = fp_dead_src_open(cfg, &src, err)) == 0)
        rc = fp_top_read_dead(&src, out, err);
    fp_dead_src_close(&src);
    return rc;
}
