/* plugin_loader.h: loading C plugins (include/forkpool/plugin.h) into the handler
 * registry, in the supervisor, before the first fork. */
#ifndef FORKPOOL_PLUGIN_LOADER_H
#define FORKPOOL_PLUGIN_LOADER_H

#include "config/config.h"
#include "base/err.h"
#include "handlers/handlers.h"

typedef struct fp_plugins_s fp_plugins_t;

/* dlopen()s every path of cfg->pool.plugins, checks each plugin's ABI
 * version, runs its init with its [handlers.NAME] table as JSON and adds one
 * handler per entry of its table to reg. *out is NULL when there are none.
 * On error (FP_ECONFIG with the path and the reason, or -ENOMEM) nothing
 * stays loaded and reg is as it was. One set of plugins per process: the
 * registered handlers find their plugin through it, so *out must outlive
 * every use of reg's plugin handlers (children inherit it through fork). */
int fp_plugins_load(const fp_config_t *cfg, fp_registry_t *reg, fp_plugins_t **out,
                    fp_err_t *err);

/* Runs every plugin's fini, newest first (only in the process that loaded
 * them: a forked child that gets here skips it, the supervisor's state is not
 * its to free), then dlclose()s everything; NULL is fine. Call after the last
 * child is gone and before reg goes out of use. */
void fp_plugins_free(fp_plugins_t *plugins);

#endif
