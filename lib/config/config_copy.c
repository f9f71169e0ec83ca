/* config_copy.c: fp_config_copy_keys, a copy of a configuration's settings
 * for work that outlives a reload (a reload frees the configuration a
 * worker thread could still be reading: the status page's work). Driven by
 * the schema table, so a key added there is copied without a change here. */
#include "config/config_internal.h"

#include <stdlib.h>
#include <string.h>

static int copy_strv(fp_strv_t *to, const fp_strv_t *from)
{
    if (from->count == 0)
        return 0;
    to->items = calloc(from->count, sizeof *to->items);
    if (to->items == NULL)
        return -1;
    for (; to->count < from->count; to->count++)
        if ((to->items[to->count] = strdup(from->items[to->count])) == NULL)
            return -1;
    return 0;
}

static int copy_key(fp_config_t *to, const fp_config_t *from, const fp__ckey_t *k)
{
    void *t = (char *)to + k->offset;
    const void *f = (const char *)from + k->offset;
    switch (k->type) {
    case FP__CT_STRING: {
        const char *s = *(char *const *)f;
        return s == NULL || (*(char **)t = strdup(s)) != NULL ? 0 : -1;
    }
    case FP__CT_INT:
    case FP__CT_DURATION:
    case FP__CT_SIZE: memcpy(t, f, sizeof(int64_t)); return 0;
    case FP__CT_BOOL: memcpy(t, f, sizeof(bool)); return 0;
    case FP__CT_ENUM: memcpy(t, f, sizeof(int)); return 0;
    case FP__CT_STRV:
    case FP__CT_ENV: return copy_strv(t, f);
    case FP__CT_WEIGHTS: return 0; /* after the names: copy_weights */
    }
    return 0;
}

/* queues.weights, parallel to queues.names (NULL when not set). */
static int copy_weights(fp_config_t *to, const fp_config_t *from)
{
    size_t n = from->queues.names.count;
    if (from->queues.weights == NULL || n == 0)
        return 0;
    to->queues.weights = malloc(n * sizeof *to->queues.weights);
    if (to->queues.weights == NULL)
        return -1;
    memcpy(to->queues.weights, from->queues.weights, n * sizeof *to->queues.weights);
    return 0;
}

fp_config_t *fp_config_copy_keys(const fp_config_t *cfg)
{
    fp_config_t *c = calloc(1, sizeof *c);
    int rc = c != NULL ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < fp__config_schema_len; i++)
        rc = copy_key(c, cfg, &fp__config_schema[i]);
    if (rc == 0)
        rc = copy_weights(c, cfg);
    if (rc == 0) {
        c->queue.backend_why = cfg->queue.backend_why; /* static text */
        c->pool.children_min = cfg->pool.children_min;
        c->pool.children_max = cfg->pool.children_max;
    }
    if (rc == 0 && cfg->source != NULL && (c->source = strdup(cfg->source)) == NULL)
        rc = -1;
    if (rc < 0) {
        fp_config_free(c);
        return NULL;
    }
    return c;
}
