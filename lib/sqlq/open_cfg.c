/* open_cfg.c: the queue file a configuration names (sqlite.path, with its
 * synchronous setting), for the commands and the status page's work; the
 * daemon's own connection is aq.c's. */
#include "sqlq/open_flags.h"

#include <errno.h>
#include <sys/stat.h>

int fp_sqlq_open_cfg(const fp_config_t *cfg, bool create, fp_sqlq_t **q, fp_err_t *err)
{
    *q = NULL;
    struct stat st;
    if (!create && stat(cfg->sqlite.path, &st) != 0 && errno == ENOENT)
        return fp_err_set(err, -ENOENT,
                          "no embedded queue at %s (nothing was enqueued there yet; sqlite.path "
                          "or FORKPOOL_SQLITE_PATH names another file, redis.url selects Redis)",
                          cfg->sqlite.path);
    return fp_sqlq_open(cfg->sqlite.path, fp_sqlq_sync_flag(cfg), q, err);
}
