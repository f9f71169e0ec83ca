/* qmux_map.c: queues grouped into parts and the parts' sums (qmux_map.h). */
#include "queue/qmux_map.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int alloc_parts(fp_qmux_map_t *m)
{
    m->part_n = calloc(m->nparts, sizeof *m->part_n);
    m->globals = calloc(m->nparts, sizeof *m->globals);
    if (m->part_n == NULL || m->globals == NULL)
        return -ENOMEM;
    for (size_t g = 0; g < m->n; g++)
        m->part_n[m->part_of[g]]++;
    for (size_t p = 0; p < m->nparts; p++)
        if ((m->globals[p] = calloc(m->part_n[p], sizeof **m->globals)) == NULL)
            return -ENOMEM;
    for (size_t g = 0; g < m->n; g++)
        m->globals[m->part_of[g]][m->local_of[g]] = (uint32_t)g;
    return 0;
}

int fp_qmux_map_build(fp_qmux_map_t *m, size_t n, const uint16_t *slot_of)
{
    memset(m, 0, sizeof *m);
    m->n = n;
    m->part_of = calloc(n ? n : 1, sizeof *m->part_of);
    m->local_of = calloc(n ? n : 1, sizeof *m->local_of);
    if (m->part_of == NULL || m->local_of == NULL) {
        fp_qmux_map_free(m);
        return -ENOMEM;
    }
    for (size_t g = 0; g < n; g++) {
        size_t first = g; /* the first queue of g's slot */
        for (size_t h = 0; slot_of != NULL && h < g; h++)
            if (slot_of[h] == slot_of[g]) {
                first = h;
                break;
            }
        if (slot_of == NULL)
            first = 0;
        if (first == g)
            m->part_of[g] = (uint32_t)m->nparts++;
        else
            m->part_of[g] = m->part_of[first];
        uint32_t local = 0;
        for (size_t h = 0; h < g; h++)
            local += m->part_of[h] == m->part_of[g];
        m->local_of[g] = local;
    }
    if (alloc_parts(m) < 0) {
        fp_qmux_map_free(m);
        return -ENOMEM;
    }
    return 0;
}

void fp_qmux_map_free(fp_qmux_map_t *m)
{
    for (size_t p = 0; m->globals != NULL && p < m->nparts; p++)
        free(m->globals[p]);
    free(m->globals);
    free(m->part_n);
    free(m->part_of);
    free(m->local_of);
    memset(m, 0, sizeof *m);
}

void fp_qmux_stats_add(fp_queue_stats_t *sum, const fp_queue_stats_t *part)
{
    sum->claimed += part->claimed;
    sum->renewed += part->renewed;
    sum->moved += part->moved;
    sum->dropped_deleted += part->dropped_deleted;
    sum->consumers_removed += part->consumers_removed;
    sum->sweeps += part->sweeps;
    sum->renew_rounds += part->renew_rounds;
    sum->mover_rounds += part->mover_rounds;
    sum->outcomes_stale += part->outcomes_stale;
    sum->renewals_lost += part->renewals_lost;
    sum->redis_commands += part->redis_commands;
    sum->redis_errors += part->redis_errors;
    if (part->read_rtt_us > sum->read_rtt_us)
        sum->read_rtt_us = part->read_rtt_us;
    sum->read_rtt_samples += part->read_rtt_samples;
    sum->file_bytes += part->file_bytes;
}
