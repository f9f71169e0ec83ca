/* cluster_round.c: the order in which the daemon asks cluster nodes for the
 * slot map, and what a slot's connection is told (cluster_round.h). */
#include "redis/cluster_round.h"

#include <string.h>

#include "base/text.h"

static void add(fp_cluster_round_t *r, const fp_cluster_addr_t *a)
{
    if (a == NULL || a->port <= 0 || a->host[0] == '\0' || r->n == FP_CLUSTER_ROUND_MAX)
        return;
    for (size_t i = 0; i < r->n; i++)
        if (fp_sentinel_addr_equal(&r->ask[i], a))
            return;
    r->ask[r->n++] = *a;
}

const fp_cluster_addr_t *fp_cluster_round_begin(fp_cluster_round_t *r,
                                                const fp_cluster_addr_t *last,
                                                const fp_cluster_addr_t *seeds, size_t nseeds,
                                                const fp_cluster_map_t *map)
{
    r->n = 0;
    r->pos = 0;
    add(r, last);
    for (size_t i = 0; i < nseeds; i++)
        add(r, &seeds[i]);
    for (size_t i = 0; map != NULL && i < map->n_nodes; i++)
        add(r, &map->nodes[i]);
    r->active = r->n > 0;
    return r->active ? &r->ask[0] : NULL;
}

const fp_cluster_addr_t *fp_cluster_round_failed(fp_cluster_round_t *r)
{
    if (!r->active)
        return NULL;
    if (++r->pos < r->n)
        return &r->ask[r->pos];
    r->active = false;
    return NULL;
}

void fp_cluster_round_answered(fp_cluster_round_t *r)
{
    r->active = false;
}

int fp_cluster_slot_target(const fp_cluster_map_t *map, uint16_t slot, const char *label,
                           fp_cluster_addr_t *to, char *why, size_t size)
{
    int owner = fp_cluster_map_owner(map, slot);
    if (owner < 0)
        return fp_text_why(why, size, "no cluster master serves slot %u%s%s%s", slot,
                           label != NULL ? " (" : "", label != NULL ? label : "",
                           label != NULL ? ")" : "");
    *to = map->nodes[owner];
    return 0;
}
