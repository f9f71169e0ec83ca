/* config_backend.c: where the jobs wait. queue.backend = "auto" (the default)
 * picks Redis as soon as anything says where a Redis is (any [redis] key
 * written in the file, FORKPOOL_REDIS_URL), and otherwise the embedded queue
 * on one SQLite file, so a first run needs no server. Anything [redis] in the
 * file counts, not only the URL: a file that sets only redis.prefix was
 * written for the default local Redis, and silently moving its jobs to a file
 * would strand the ones already in Redis. */
#include <errno.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config_internal.h"

#define FP__SQLITE_DEFAULT_FILE "forkpool-queue.db"

/* The first [redis] key written in the file, or NULL. */
static const char *redis_key_written(const fp__cloader_t *ld, const fp_toml_node_t **at)
{
    for (size_t i = 0; i < fp__config_schema_len; i++)
        if (strcmp(fp__config_schema[i].section, "redis") == 0 && ld->where[i] != NULL) {
            *at = ld->where[i];
            return fp__config_schema[i].key;
        }
    return NULL;
}

static bool env_set(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0';
}

/* "auto": the backend and why, as the first log line says it. */
static void pick_auto(fp__cloader_t *ld)
{
    fp_config_t *cfg = ld->cfg;
    const fp_toml_node_t *at = NULL;
    const char *key = redis_key_written(ld, &at);
    cfg->queue.backend = FP_BACKEND_REDIS;
    if (env_set("FORKPOOL_REDIS_URL"))
        cfg->queue.backend_why = "FORKPOOL_REDIS_URL is set";
    else if (cfg->redis.sentinels.count > 0)
        cfg->queue.backend_why = "redis.sentinels is set";
    else if (cfg->redis.cluster.count > 0)
        cfg->queue.backend_why = "redis.cluster is set";
    else if (key != NULL)
        cfg->queue.backend_why = "the configuration has a [redis] section";
    else {
        cfg->queue.backend = FP_BACKEND_SQLITE;
        cfg->queue.backend_why = "no Redis configured";
    }
}

/* An explicit "sqlite" with [redis] keys written: they would do nothing. The
 * environment's FORKPOOL_REDIS_URL is a host-wide setting and yields to the
 * file's explicit choice. */
static int check_sqlite_alone(fp__cloader_t *ld)
{
    const fp_toml_node_t *at = NULL;
    const char *key = redis_key_written(ld, &at);
    if (key == NULL)
        return 0;
    return fp__cfail_at(ld, at, FP_ECONFIG,
                        "[redis] %s is not used with [queue] backend = \"sqlite\" (the embedded "
                        "queue): remove it, or set backend = \"redis\"",
                        key);
}

/* path made absolute against dir (NULL: the working directory; a relative
 * dir is taken from the working directory too). */
static int absolute(fp__cloader_t *ld, const char *dir, const char *path, char **out)
{
    char cwd[PATH_MAX] = "";
    bool need_cwd = path[0] != '/' && (dir == NULL || dir[0] != '/');
    if (need_cwd && getcwd(cwd, sizeof cwd) == NULL)
        return fp_err_set(ld->err, -errno, "cannot resolve [sqlite] path %s: the working "
                          "directory is unknown", path);
    const char *parts[3] = {need_cwd ? cwd : "", path[0] == '/' || dir == NULL ? "" : dir, path};
    size_t n = strlen(parts[0]) + strlen(parts[1]) + strlen(parts[2]) + 3;
    if ((*out = malloc(n)) == NULL)
        return fp_err_set(ld->err, -ENOMEM, "out of memory");
    size_t len = 0;
    for (size_t i = 0; i < 3; i++)
        if (parts[i][0] != '\0')
            len += (size_t)snprintf(*out + len, n - len, "%s%s", len > 0 ? "/" : "", parts[i]);
    return 0;
}

/* The config file's directory (owned), or NULL when no file was read. */
static char *config_dir(const fp__cloader_t *ld)
{
    if (ld->cfg->doc == NULL || ld->name == NULL)
        return NULL;
    const char *slash = strrchr(ld->name, '/');
    if (slash == NULL)
        return NULL;
    size_t n = slash == ld->name ? 1 : (size_t)(slash - ld->name);
    char *dir = malloc(n + 1);
    if (dir != NULL) {
        memcpy(dir, ld->name, n);
        dir[n] = '\0';
    }
    return dir;
}

/* FORKPOOL_SQLITE_PATH, else the key, else the default file; relative
 * paths are taken from the config file's directory (the working directory
 * without one), and kept absolute since a daemon may change directory. */
static int resolve_path(fp__cloader_t *ld)
{
    fp_config_t *cfg = ld->cfg;
    const char *env = getenv("FORKPOOL_SQLITE_PATH");
    const char *path = env != NULL && *env != '\0' ? env
                       : cfg->sqlite.path[0] != '\0' ? cfg->sqlite.path
                                                     : FP__SQLITE_DEFAULT_FILE;
    char *dir = path == env ? NULL : config_dir(ld);
    char *abs = NULL;
    int rc = absolute(ld, dir, path, &abs);
    free(dir);
    if (rc < 0)
        return rc;
    free(cfg->sqlite.path);
    cfg->sqlite.path = abs;
    return 0;
}

int fp__cresolve_backend(fp__cloader_t *ld)
{
    fp_config_t *cfg = ld->cfg;
    int rc = 0;
    switch (cfg->queue.backend) {
    case FP_BACKEND_AUTO: pick_auto(ld); break;
    case FP_BACKEND_REDIS: cfg->queue.backend_why = "queue.backend = \"redis\""; break;
    case FP_BACKEND_SQLITE:
        cfg->queue.backend_why = "queue.backend = \"sqlite\"";
        rc = check_sqlite_alone(ld);
        break;
    }
    if (rc < 0)
        return rc;
    if (cfg->queue.backend == FP_BACKEND_SQLITE)
        return resolve_path(ld);
    const fp_toml_node_t *at = fp__cwhere(ld, "sqlite", "path");
    const char *key = "path";
    if (at == NULL || cfg->sqlite.path[0] == '\0') {
        at = cfg->sqlite.synchronous != FP_SQLITE_SYNC_NORMAL
                 ? fp__cwhere(ld, "sqlite", "synchronous") : NULL;
        key = "synchronous";
    }
    if (at != NULL)
        return fp__cfail_at(ld, at, FP_ECONFIG,
                            "[sqlite] %s is only used by the embedded queue, but the jobs are "
                            "in Redis (%s)",
                            key, cfg->queue.backend_why);
    return 0;
}
