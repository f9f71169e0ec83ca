/* open_flags.h: the fp_sqlq_open flags a configuration asks for, in one
 * place for the daemon (aq.c) and the command line (cmd/forkpool/embedded.c),
 * so that both write the file with the same durability. */
#ifndef FORKPOOL_SQLQ_OPEN_FLAGS_H
#define FORKPOOL_SQLQ_OPEN_FLAGS_H

#include "config/config.h"
#include "sqlq/store.h"

static inline int fp_sqlq_sync_flag(const fp_config_t *cfg)
{
    return cfg->sqlite.synchronous == FP_SQLITE_SYNC_FULL ? FP_SQLQ_SYNC_FULL : 0;
}

#endif
