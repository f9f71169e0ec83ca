/* reload.c: HUP. A new configuration is loaded and applied, its children
 * replace the old ones one at a time, and a reload whose children cannot
 * start is undone back to the last proven configuration. Also what /stats
 * says of the reload. */
#include "supervisor/supervisor_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/log.h"
#include "supervisor/privs.h"

#define LOG "supervisor"

/* What a configuration sets in the running supervisor (HUP, or its undo). */
static void apply_config(fp_supervisor_t *sup, const fp_config_t *cfg)
{
    int rc = fp_log_setup(cfg->daemon.log_level, cfg->daemon.log_format, cfg->daemon.log_file);
    if (rc < 0)
        fp_log_warn(LOG, "reload: cannot open daemon.log_file: %s", strerror(-rc));
    sup->cfg = cfg;
    fp_sup_set_health_limits(sup);
    size_t before = sup->pool.target;
    sup->pool.target = fp_sup_target_children(sup, cfg);
    fp_sup_scale_configure(sup, before); /* a scaling pool keeps its target within the new bounds */
    fp_sup_steer_configure(sup, cfg); /* the estimates carry over: the jobs did not change */
    fp_sup_schedule_apply(sup);
    fp_sup_limits_reload(sup);
}

/* A configuration loaded by HUP is needed while it is current or is what an
 * undone reload goes back to; children took their copy at fork or spawn, and
 * nothing else borrows from it. Kept until exit, every HUP grew the daemon by
 * one configuration (its whole document, plugin tables included). */
static void release_unused_configs(fp_supervisor_t *sup)
{
    size_t kept = 0;
    for (size_t i = 0; i < sup->reload.nconfigs; i++) {
        fp_config_t *c = sup->reload.configs[i];
        if (c == sup->cfg || c == sup->reload.proven_cfg)
            sup->reload.configs[kept++] = c;
        else
            fp_config_free(c);
    }
    sup->reload.nconfigs = kept;
}

/* A reload whose first new child cannot start is undone, as a broken file
 * is: the children of the previous configuration never stopped serving (a
 * replacement stops its old child only once it is forked, and the next
 * waits for proof), the previous configuration is current again, and what
 * the failed child left missing is made from it at once. One error names
 * the cause; /stats and /metrics keep it. */
void fp_sup_undo_reload(fp_supervisor_t *sup, const char *why)
{
    snprintf(sup->reload.error, sizeof sup->reload.error, "%s", why);
    sup->reload.failures++;
    if (sup->reload.held_back >= 0) {
        fp_slot_t *old = sup->pool.slots[sup->reload.held_back];
        sup->reload.held_back = -1;
        if (old->retiring) {
            old->retiring = false;
            sup->children.retiring--;
        }
    }
    sup->reload.unproven = false;
    apply_config(sup, sup->reload.proven_cfg);
    release_unused_configs(sup);
    sup->reload.generation = sup->reload.proven_generation;
    fp_log_error(LOG, "reload failed: its children cannot start (%s); keeping %s and its "
                      "children, send HUP again once fixed",
                 why, sup->cfg->source);
    fp_sup_notify_ready(sup); /* back to serving the previous configuration */
    fp_sup_top_up(sup);
}

static bool same_string(const char *a, const char *b)
{
    return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

/* What a reload cannot change without a restart: the queue and its Redis
 * connection were built from the first configuration. */
static void warn_restart_only(const fp_config_t *old, const fp_config_t *cfg)
{
    bool same_queues = old->queues.names.count == cfg->queues.names.count;
    for (size_t i = 0; same_queues && i < cfg->queues.names.count; i++)
        same_queues = same_string(old->queues.names.items[i], cfg->queues.names.items[i]);
    bool same_sentinels = old->redis.sentinels.count == cfg->redis.sentinels.count;
    for (size_t i = 0; same_sentinels && i < cfg->redis.sentinels.count; i++)
        same_sentinels = same_string(old->redis.sentinels.items[i], cfg->redis.sentinels.items[i]);
    bool same_cluster = old->redis.cluster.count == cfg->redis.cluster.count;
    for (size_t i = 0; same_cluster && i < cfg->redis.cluster.count; i++)
        same_cluster = same_string(old->redis.cluster.items[i], cfg->redis.cluster.items[i]);
    if (!same_string(old->redis.url, cfg->redis.url) || !same_sentinels || !same_cluster ||
        !same_string(old->redis.master_name, cfg->redis.master_name) ||
        !same_string(old->redis.sentinel_password, cfg->redis.sentinel_password) ||
        !same_string(old->redis.tls_ca, cfg->redis.tls_ca) ||
        !same_string(old->redis.tls_cert, cfg->redis.tls_cert) ||
        !same_string(old->redis.tls_key, cfg->redis.tls_key) ||
        !same_string(old->redis.tls_server_name, cfg->redis.tls_server_name) ||
        !same_string(old->redis.prefix, cfg->redis.prefix) ||
        !same_string(old->redis.group, cfg->redis.group) ||
        !same_string(old->daemon.name, cfg->daemon.name) || !same_queues ||
        !same_string(old->health.listen, cfg->health.listen) ||
        old->queue.backend != cfg->queue.backend || !same_string(old->sqlite.path, cfg->sqlite.path))
        fp_log_warn(LOG, "reload: [redis], [queues], queue.backend, sqlite.path, daemon.name and "
                         "health.listen take effect only after a restart");
    if (!same_string(old->daemon.user, cfg->daemon.user) ||
        !same_string(old->daemon.group, cfg->daemon.group) ||
        !same_string(old->daemon.pidfile, cfg->daemon.pidfile))
        fp_log_warn(LOG, "reload: daemon.user, daemon.group and daemon.pidfile take effect only "
                         "after a restart");
    if (old->health.ui != cfg->health.ui || old->health.ui_payload_max != cfg->health.ui_payload_max ||
        !same_string(old->health.admin_token, cfg->health.admin_token))
        fp_log_warn(LOG, "reload: health.ui, health.ui_payload_max and health.admin_token take "
                         "effect only after a restart");
}

/* The file could not be read or is broken: the running generation stays,
 * and /stats says why. After the drop the file is read as daemon.user, so a
 * root-only file fails here though it started the daemon. */
static void reload_load_failed(fp_supervisor_t *sup, const fp_err_t *err)
{
    const fp_privs_plan_t *privs = sup->opts.privs;
    bool dropped = privs != NULL && privs->drop;
    bool denied = err->code == -EACCES && dropped;
    int n = snprintf(sup->reload.error, sizeof sup->reload.error, "%s%s%s%s", err->msg,
                     denied ? " (re-read as daemon.user \"" : "",
                     denied ? (privs->set_uid ? privs->user : "root") : "",
                     denied ? "\", which must be able to read it)" : "");
    if (n >= (int)sizeof sup->reload.error)
        fp_log_debug(LOG, "reload error cut to %zu bytes", sizeof sup->reload.error - 1);
    /* Not counted in reload_failures: that counts reloads undone after
     * their children failed; this one never started. */
    fp_log_error(LOG, "reload failed, keeping the current configuration: %s", sup->reload.error);
}

/* HUP: a new configuration, or the old one kept when the file is broken;
 * children are then replaced one at a time, new first, so capacity never
 * drops and no running job is interrupted. */
void fp_sup_on_reload_signal(uv_signal_t *handle, int signum)
{
    (void)signum;
    fp_supervisor_t *sup = handle->data;
    if (sup->state != SUP_RUNNING)
        return;
    fp_sup_notify_reloading(sup);
    const char *path = strcmp(sup->cfg->source, "(defaults)") == 0 ? NULL : sup->cfg->source;
    fp_config_t *cfg = NULL;
    fp_err_t err;
    fp_err_clear(&err);
    fp_config_t **grown = realloc(sup->reload.configs, (sup->reload.nconfigs + 1) * sizeof *grown);
    if (grown == NULL) {
        fp_log_error(LOG, "reload failed: out of memory; keeping the current configuration");
        fp_sup_notify_ready(sup);
        return;
    }
    sup->reload.configs = grown;
    if (fp_config_load(path, &cfg, &err) < 0) {
        reload_load_failed(sup, &err);
        fp_sup_notify_ready(sup); /* refused: the running configuration serves on */
        return;
    }
    sup->reload.configs[sup->reload.nconfigs++] = cfg;
    warn_restart_only(sup->cfg, cfg);
    if (!sup->reload.unproven) {
        /* A reload over one still unproven would go back to that one. */
        sup->reload.proven_cfg = sup->cfg;
        sup->reload.proven_generation = sup->reload.generation;
    }
    apply_config(sup, cfg);
    release_unused_configs(sup);
    sup->reload.generation = ++sup->reload.generations;
    sup->reload.unproven = true;
    sup->reload.error[0] = '\0';
    char prefetch[24], pipeline[24];
    fp_config_auto_text(cfg->pool.prefetch, prefetch, sizeof prefetch);
    fp_config_auto_text(cfg->pool.pipeline, pipeline, sizeof pipeline);
    fp_log_info(LOG, "reloaded %s: %zu children, prefetch %s, pipeline %s; replacing children one at a time",
                cfg->source, sup->pool.target, prefetch, pipeline);
    fp_sup_rebalance(sup);
    fp_sup_dispatch(sup);
}

/* "none" before any HUP; "starting" until a child of the new
 * configuration said ready; "rolling" while older children remain; "done";
 * "failed" (with the error) when its children could not start and it was
 * undone. */
cJSON *fp_sup_reload_json(const fp_supervisor_t *sup)
{
    const char *state = "done";
    if (sup->reload.error[0] != '\0')
        state = "failed";
    else if (sup->reload.generations == 0)
        state = "none";
    else if (sup->reload.unproven)
        state = "starting";
    for (size_t i = 0; strcmp(state, "done") == 0 && i < sup->pool.capacity; i++) {
        const fp_slot_t *slot = sup->pool.slots[i];
        if (slot->state != FP_CHILD_FREE && slot->state < FP_CHILD_STOPPING &&
            slot->generation != sup->reload.generation)
            state = "rolling";
    }
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "state", state);
    cJSON_AddNumberToObject(r, "generation", sup->reload.generation);
    cJSON_AddNumberToObject(r, "failures", (double)sup->reload.failures);
    if (sup->reload.error[0] != '\0')
        cJSON_AddStringToObject(r, "error", sup->reload.error);
    return r;
}
