/* embedded.h: what the commands share on the embedded queue (the queue file
 * cfg->sqlite.path, docs/embedded.md "Command line"): whether the
 * configuration selects it, opening the file with the command line's rules,
 * and the refusal of what only Redis can do. */
#ifndef FORKPOOL_CLI_EMBEDDED_H
#define FORKPOOL_CLI_EMBEDDED_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "base/err.h"
#include "sqlq/store.h"

/* True when cfg's queue is the embedded one (queue.backend, resolved). */
bool fp_cli_embedded(const fp_config_t *cfg);


/* 0 on Redis; on the embedded queue, the refusal of a command or option
 * that needs Redis: FP_ECONFIG (exit 78, the configuration chose a queue that cannot do
 * it), "forkpool WHAT needs Redis (the embedded queue has no LACKS)". */
int fp_cli_needs_redis(const fp_config_t *cfg, const char *what, const char *lacks,
                       fp_err_t *err);

/* How long a holder has been idle, reckoned as `stats` and `job` both tell
 * it: from when its latest lease was taken (its end minus
 * recovery.visibility_timeout) to now_ms; 0 for a lease taken later. */
int64_t fp_cli_lease_idle_ms(const fp_config_t *cfg, int64_t lease_end_ms, int64_t now_ms);

/* v as decimal text (free()), NULL when out of memory: a row's numbers as
 * the fields of the Redis entries they stand for. */
char *fp_cli_int_text(int64_t v);

#endif
