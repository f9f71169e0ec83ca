/* qmux_side.c: a Cluster's connections for keys outside the queues' slots
 * (qmux_side.h). Their losses are said at debug level: the calls that use
 * them (heartbeats, limits) say themselves when they cannot go out. */
#include "queue/qmux_side.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "limits/limit_script.h"
#include "queue/heartbeat.h"
#include "redis/cluster_parse.h"

#define SIDE_MAX 64 /* slots: the fleet's and one per limit type in use */

typedef struct side_conn_s {
    uint16_t slot;
    fp_redis_conn_t *c;
} side_conn_t;

struct fp_qside_s {
    uv_loop_t *loop;
    const fp_config_t *cfg;
    fp_cluster_t *cl;
    fp_redis_url_t url;
    side_conn_t conns[SIDE_MAX];
    size_t n;
    bool started;
    uint16_t fleet_slot;
    int open;
    void (*close_cb)(void *ctx);
    void *close_ctx;
};

static void on_state(fp_redis_conn_t *c, bool up, const char *reason, void *ctx)
{
    (void)ctx;
    if (!up)
        fp_log_debug("redis", "side connection to %s lost: %s", fp_redis_conn_where(c),
                     reason != NULL ? reason : "");
}

static uint16_t slot_of(const char *key)
{
    return fp_cluster_keyslot(key, strlen(key));
}

/* The slot's connection, made and started when new; NULL when out of room
 * or memory. */
static fp_redis_conn_t *conn_for(fp_qside_t *s, uint16_t slot)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->conns[i].slot == slot)
            return s->conns[i].c;
    char label[32];
    snprintf(label, sizeof label, "side slot %u", slot);
    const fp_redis_locator_t *loc = fp_cluster_locator(s->cl, slot, label);
    if (s->n == SIDE_MAX || loc == NULL)
        return NULL;
    fp_redis_conn_opts_t opts = {.name = "side",
                                 .connect_timeout_ms = s->cfg->redis.connect_timeout_ms,
                                 .command_timeout_ms = s->cfg->redis.connect_timeout_ms + 10000,
                                 .locator = loc,
                                 .cluster = true};
    fp_redis_conn_t *c = NULL;
    if (fp_redis_conn_new(s->loop, &s->url, &opts, on_state, s, &c, NULL) < 0)
        return NULL;
    s->conns[s->n++] = (side_conn_t){slot, c};
    fp_redis_conn_start(c);
    return c;
}

int fp_qside_new(uv_loop_t *loop, const fp_config_t *cfg, fp_cluster_t *cl, fp_qside_t **out,
                 fp_err_t *err)
{
    fp_qside_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    int rc = fp_redis_url_parse(cfg->redis.url, &s->url, err);
    char *fleet = rc == 0 ? fp_fleet_set_key(cfg->redis.prefix) : NULL;
    if (rc == 0 && fleet == NULL)
        rc = fp_err_set(err, -ENOMEM, "out of memory");
    if (rc < 0) {
        fp_redis_url_free(&s->url);
        free(s);
        return rc;
    }
    s->fleet_slot = slot_of(fleet);
    free(fleet);
    s->loop = loop;
    s->cfg = cfg;
    s->cl = cl;
    *out = s;
    return 0;
}

void fp_qside_start(fp_qside_t *s)
{
    s->started = true;
    (void)conn_for(s, s->fleet_slot);
    for (size_t i = 0; i < s->cfg->limits.ntypes; i++) {
        char *key = fp_limit_running_key(s->cfg->redis.prefix, s->cfg->limits.types[i].type);
        if (key != NULL)
            (void)conn_for(s, slot_of(key));
        free(key);
    }
}

fp_redis_conn_t *fp_qside_conn(fp_qside_t *s, const char *key)
{
    fp_redis_conn_t *c = s->started ? conn_for(s, slot_of(key)) : NULL;
    return c != NULL && fp_redis_conn_is_up(c) ? c : NULL;
}

fp_redis_conn_t *fp_qside_fleet(fp_qside_t *s)
{
    fp_redis_conn_t *c = s->started ? conn_for(s, s->fleet_slot) : NULL;
    return c != NULL && fp_redis_conn_is_up(c) ? c : NULL;
}

static void conn_closed(void *ctx)
{
    fp_qside_t *s = ctx;
    if (--s->open > 0)
        return;
    void (*cb)(void *) = s->close_cb;
    void *cb_ctx = s->close_ctx;
    fp_redis_url_free(&s->url);
    free(s);
    if (cb != NULL)
        cb(cb_ctx);
}

void fp_qside_close(fp_qside_t *s, void (*cb)(void *ctx), void *ctx)
{
    s->close_cb = cb;
    s->close_ctx = ctx;
    s->started = false;
    s->open = (int)s->n + 1;
    for (size_t i = 0; i < s->n; i++)
        fp_redis_conn_close(s->conns[i].c, conn_closed, s);
    conn_closed(s);
}
