/* config_resolve.c: what the configuration decides once every key is read
 * (config.c calls these after the file and the environment): the two
 * automatic defaults (host name, CPU count), a scaling pool's bounds, and the
 * queues' weights, which name queues and so wait for the final list. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config_internal.h"

int fp__cresolve_auto(fp__cloader_t *ld)
{
    fp_config_t *cfg = ld->cfg;
    if (cfg->daemon.name[0] == '\0') {
        char host[256] = {0};
        if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
            return fp__cfail_at(ld, NULL, FP_ECONFIG,
                           "cannot find the host name for [daemon] name; set it");
        char *copy = strdup(host);
        if (copy == NULL)
            return fp_err_set(ld->err, -ENOMEM, "out of memory");
        free(cfg->daemon.name);
        cfg->daemon.name = copy;
    }
    if (cfg->pool.children == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->pool.children = n < 1 ? 1 : n > FP__CHILDREN_MAX ? FP__CHILDREN_MAX : n;
    }
    return 0;
}

/* Whether a row was written in the file with a value other than 0. */
static bool set_nonzero(const fp_toml_node_t *node)
{
    return node != NULL && (fp_toml_type(node) != FP_TOML_INTEGER || fp_toml_integer(node) != 0);
}

/* A scaling pool: pool.children = "MIN..MAX", or children_min and
 * children_max, never both ways at once; it starts with MIN children. */
int fp__cresolve_scaling(fp__cloader_t *ld)
{
    fp_config_t *cfg = ld->cfg;
    const fp_toml_node_t *ch = fp__cwhere(ld, "pool", "children");
    const fp_toml_node_t *lo = fp__cwhere(ld, "pool", "children_min");
    const fp_toml_node_t *hi = fp__cwhere(ld, "pool", "children_max");
    if (set_nonzero(ch) && (set_nonzero(lo) || set_nonzero(hi)))
        return fp__cfail_at(ld, set_nonzero(lo) ? lo : hi, FP_ECONFIG,
                       "[pool] children_min and children_max replace children: set one or the "
                       "other (children = \"MIN..MAX\" is the short form)");
    if (cfg->pool.children_max == 0) {
        if (cfg->pool.children_min > 0)
            return fp__cfail_at(ld, lo, FP_ECONFIG,
                           "[pool] children_min needs children_max: the pool scales between them");
        return 0;
    }
    if (cfg->pool.children_min == 0)
        cfg->pool.children_min = 1;
    if (cfg->pool.children_min > cfg->pool.children_max)
        return fp__cfail_at(ld, lo, FP_ECONFIG,
                       "[pool] children_min (%" PRId64 ") must not be more than children_max (%" PRId64 ")",
                       cfg->pool.children_min, cfg->pool.children_max);
    cfg->pool.children = cfg->pool.children_min;
    return 0;
}

static ptrdiff_t queue_index(const fp_strv_t *names, const char *name)
{
    for (size_t i = 0; i < names->count; i++)
        if (strcmp(names->items[i], name) == 0)
            return (ptrdiff_t)i;
    return -1;
}

static int weight_of(fp__cloader_t *ld, const char *queue, const fp_toml_node_t *v, int64_t *out)
{
    char q[96];
    const fp_strv_t *names = &ld->cfg->queues.names;
    if (queue_index(names, queue) < 0) {
        fp__suggest_t sg = {.word = queue};
        for (size_t i = 0; i < names->count; i++)
            fp__suggest_consider(&sg, names->items[i]);
        return fp__cfail_at(ld, v, FP_ECONFIG, "[queues] weights: %s is not in [queues] names%s%s%s",
                       fp__config_quote(q, sizeof q, queue), sg.best ? " (did you mean \"" : "",
                       sg.best ? sg.best : "", sg.best ? "\"?)" : "");
    }
    if (fp_toml_type(v) != FP_TOML_INTEGER)
        return fp__cfail_at(ld, v, FP_ECONFIG, "[queues] weights: %s must be an integer, got %s",
                       fp__config_quote(q, sizeof q, queue), fp_toml_type_name(fp_toml_type(v)));
    *out = fp_toml_integer(v);
    if (*out < 1 || *out > FP__WEIGHT_MAX)
        return fp__cfail_at(ld, v, FP_ECONFIG,
                       "[queues] weights: %s must be between 1 and %d, got %" PRId64,
                       fp__config_quote(q, sizeof q, queue), FP__WEIGHT_MAX, *out);
    return 0;
}

/* Weights are keyed by queue name, so they can only be checked once the
 * final list of names is known, wherever in the file either was written. */
int fp__cresolve_weights(fp__cloader_t *ld)
{
    fp_config_t *cfg = ld->cfg;
    const fp_toml_node_t *table = fp__cwhere(ld, "queues", "weights");
    cfg->queues.weights = calloc(cfg->queues.names.count, sizeof *cfg->queues.weights);
    if (cfg->queues.weights == NULL)
        return fp_err_set(ld->err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < cfg->queues.names.count; i++)
        cfg->queues.weights[i] = 1;
    if (table == NULL || fp_toml_count(table) == 0)
        return 0;
    if (cfg->queues.order != FP_ORDER_WEIGHTED)
        return fp__cfail_at(ld, table, FP_ECONFIG,
                       "[queues] weights only apply with order = \"weighted\"");
    for (size_t i = 0; i < fp_toml_count(table); i++) {
        const char *queue = fp_toml_key_at(table, i);
        int64_t w = 1;
        int rc = weight_of(ld, queue, fp_toml_at(table, i), &w);
        if (rc < 0)
            return rc;
        cfg->queues.weights[queue_index(&cfg->queues.names, queue)] = w;
    }
    return 0;
}
