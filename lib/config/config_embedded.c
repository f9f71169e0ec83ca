/* config_embedded.c: what the embedded queue (queue.backend resolved to
 * "sqlite", docs/embedded.md) cannot serve, refused at load rather than
 * parsed and then ignored: [[schedule]] fires through Redis records.
 * ([limits.TYPE] concurrency and rate are shared through the queue file:
 * lib/sqlq/limits.c.) */
#include "config/config_internal.h"

#include "toml/toml.h"

#define NEEDS "needs Redis: the embedded queue has no shared %s; set [redis] url (or "  \
              "queue.backend = \"redis\")"

static int check_schedules(fp__cloader_t *ld)
{
    const fp_config_t *cfg = ld->cfg;
    if (cfg->schedules.count == 0)
        return 0;
    const fp_toml_node_t *s = cfg->doc != NULL ? fp_toml_get(cfg->doc, "schedule") : NULL;
    const fp_toml_node_t *first = s != NULL && fp_toml_count(s) > 0 ? fp_toml_at(s, 0) : NULL;
    return fp__cfail_at(ld, first, FP_ECONFIG, "[[schedule]] \"%s\" " NEEDS,
                        cfg->schedules.items[0].name, "schedule record");
}

int fp__ccheck_embedded(fp__cloader_t *ld)
{
    if (ld->cfg->queue.backend != FP_BACKEND_SQLITE)
        return 0;
    return check_schedules(ld);
}
