/* open_flags.h: the fp_sqlq_open flags a configuration asks for, in one
 * place for the daemon (aq.c), the command line and the status page, so that
 * all write the file with the same durability; and opening the file a
 * configuration names (open_cfg.c). */
#ifndef FORKPOOL_SQLQ_OPEN_FLAGS_H
#define FORKPOOL_SQLQ_OPEN_FLAGS_H

#include "config/config.h"
#include "sqlq/store.h"

#include <stdbool.h>

static inline int fp_sqlq_sync_flag(const fp_config_t *cfg)
{
    return cfg->sqlite.synchronous == FP_SQLITE_SYNC_FULL ? FP_SQLQ_SYNC_FULL : 0;
}

/* Opens cfg->sqlite.path. create false (a command that only reads or
 * changes what is there): a missing file is -ENOENT, "no embedded queue at
 * PATH", and is not created. A file the store refuses (foreign, damaged,
 * newer) is FP_EBADSTORE with the store's words (exit 78). */
int fp_sqlq_open_cfg(const fp_config_t *cfg, bool create, fp_sqlq_t **q, fp_err_t *err);

#endif
