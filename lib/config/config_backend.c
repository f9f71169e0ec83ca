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

/* path made absolute: a relative one is taken from the directory of the
 * config file when from_file (itself taken from the working directory when
 * relative), else from the working directory. *out is owned. */
static int absolute(fp__cloader_t *ld, const char *path, bool from_file, char **out)
{
    const char *name = ld->name;
    const char *slash = from_file && ld->cfg->doc != NULL && name != NULL ? strrchr(name, '/')
                                                                           : NULL;
    char *joined = NULL, cwd[PATH_MAX];
    int n = path[0] == '/' || slash == NULL
                ? asprintf(&joined, "%s", path)
                : asprintf(&joined, "%.*s/%s", (int)(slash - name), name, path);
    if (n < 0)
        return fp_err_set(ld->err, -ENOMEM, "out of memory");
    if (joined[0] == '/') {
        *out = joined;
        return 0;
    }
    int rc = 0;
    if (getcwd(cwd, sizeof cwd) == NULL)
        rc = fp_err_set(ld->err, -errno, "cannot resolve [sqlite] path %s: the working "
                        "directory is unknown", path);
    else if (asprintf(out, "%s/%s", cwd, joined) < 0)
        rc = fp_err_set(ld->err, -ENOMEM, "out of memory");
    free(joined);
    return rc;
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
    char *abs = NULL;
    int rc = absolute(ld, path, path != env, &abs);
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
