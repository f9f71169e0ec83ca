/* config_embedded.c: what the embedded queue (queue.backend resolved to
 * "sqlite", docs/embedded.md) cannot serve, refused at load rather than
 * parsed and then ignored: [limits.TYPE] concurrency and rate are counted
 * across daemons in Redis. A daemon's own local_concurrency needs nothing
 * shared and stays allowed; [[schedule]] records its ticks in the queue
 * file (lib/sqlq/schedule.h). */
#include "config/config_internal.h"

#include "toml/toml.h"

#define NEEDS "needs Redis: the embedded queue has no shared %s; set [redis] url (or "  \
              "queue.backend = \"redis\")"

/* The node of [limits.TYPE] KEY in the document, or NULL. */
static const fp_toml_node_t *limit_node(const fp_config_t *cfg, const char *type,
                                        const char *key)
{
    const fp_toml_node_t *t = cfg->doc != NULL ? fp_toml_get(cfg->doc, "limits") : NULL;
    t = t != NULL ? fp_toml_get(t, type) : NULL;
    return t != NULL ? fp_toml_get(t, key) : NULL;
}

static int check_limits(fp__cloader_t *ld)
{
    const fp_config_t *cfg = ld->cfg;
    for (size_t i = 0; i < cfg->limits.ntypes; i++) {
        const fp_type_limit_t *l = &cfg->limits.types[i];
        const char *key = l->concurrency > 0 ? "concurrency" : l->rate.count > 0 ? "rate" : NULL;
        if (key == NULL)
            continue;
        return fp__cfail_at(ld, limit_node(cfg, l->type, key), FP_ECONFIG,
                            "[limits.%s] %s " NEEDS, l->type, key,
                            key[0] == 'c' ? "count of running jobs" : "rate counter");
    }
    return 0;
}

int fp__ccheck_embedded(fp__cloader_t *ld)
{
    if (ld->cfg->queue.backend != FP_BACKEND_SQLITE)
        return 0;
    return check_limits(ld);
}
